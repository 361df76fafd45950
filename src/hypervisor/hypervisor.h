/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_HYPERVISOR_H
#define KC_RUNTIME_HYPERVISOR_H

/*
 * The VM of one sandbox, as the rest of the runtime sees it: start it (the
 * VMM, virtiofsd for the shared directory, and a wait until the agent
 * answers its health check), learn where its agent listens, watch it, stop
 * it.  QEMU's microvm (qemu.c) is the first back end; the ops table lets a
 * built-in VMM or another VMM follow without changing the callers.
 *
 * Ownership: kc_vm_start() returns a VM that owns every process, socket and
 * directory it made under spec->run_dir; kc_vm_free() stops whatever still
 * runs and removes them all.  A VM is used by one thread at a time.
 *
 * Not every back end can do everything: an operation its back end lacks
 * fails with -ENOTSUP and a message naming the operation and the back end
 * ("VM x: save: not supported by the qemu back end").  docs/vm.md has the
 * table of what QEMU does.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/config.h"
#include "lib/error.h"
#include "host/host_cgroup.h"
#include "host/netdev.h" /* struct kc_vm_netdev: the NICs of kc_vm_spec and kc_vm_device */

struct kc_vm_spec {
	const struct kc_config *cfg; /* [hypervisor.qemu] and [agent.kata] settings */
	const char *id; /* the sandbox id, for names and logs */
	const char *run_dir; /* private dir (created if missing) for sockets and logs */
	const char *shared_dir; /* exported over virtio-fs with tag "kataShared"; NULL: none */
	unsigned vcpus; /* 0: the configuration's default_vcpus */
	unsigned memory_mib; /* 0: the configuration's default_memory */
	const char *kernel_params; /* appended to the configuration's; may be NULL */
	const char *console_log; /* guest console to this file; NULL: only when debugging */
	uint64_t agent_timeout_ns; /* 0: the configuration's dial_timeout */
	bool keep_agent_conn; /* keep the connection that answered Check for
	                              * kc_vm_take_agent_fd() */
	const struct kc_vm_netdev *netdevs; /* NICs; NULL (n_netdevs 0): none */
	size_t n_netdevs;
	struct kc_host_cgroup *vcpu_cgroup; /* the vCPU threads go in once the VMM
	                                     * runs (sandbox_cgroup_only = false);
	                                     * NULL: none */
};

struct kc_vm;

/* Boots the VM and returns once the agent has answered grpc.Health/Check, or
 * fails (having stopped and removed everything) when the deadline passes,
 * the VMM exits, or the spec cannot be honoured (checked before launching
 * anything: missing kernel/initrd/QEMU/virtiofsd, socket paths too long). */
int kc_vm_start(const struct kc_vm_spec *spec, struct kc_vm **out, kc_error_t *err);

/* The ttrpc URI of the guest agent (unix://, hvsock:// or vsock://). */
const char *kc_vm_agent_uri(const struct kc_vm *vm);

/* With spec->keep_agent_conn: the connected stream on which the agent
 * answered Check (nonblocking, close-on-exec), now the caller's; -1 when
 * not kept or already taken.  Reusing it avoids a reconnection, which over
 * virtio-serial races with the agent reopening its port (see
 * kc_agent_check_retry()).  A connection not taken is closed by
 * kc_vm_stop(); while it is open nobody else can reach the agent (QEMU's
 * chardev serves one client at a time). */
int kc_vm_take_agent_fd(struct kc_vm *vm);

/* The VMM's pid, and a pidfd that becomes readable when it exits (owned by
 * the VM: watch it, do not close it). */
pid_t kc_vm_pid(const struct kc_vm *vm);
int kc_vm_pidfd(const struct kc_vm *vm);

/* A descriptor that turns readable once any process the VM depends on has
 * exited: the VMM, or virtiofsd, without which the guest's shared file
 * system hangs.  Owned by the VM: watch it, do not close it. */
int kc_vm_watch_fd(const struct kc_vm *vm);

/* The VM is lost (kc_vm_watch_fd() turned readable): kills at once
 * whatever of it still runs (a guest that lost a part of itself has
 * nothing worth a clean shutdown) and returns which process ended it
 * ("virtiofsd killed by signal 9 (Killed)"), to be freed.  kc_vm_stop()
 * removes the rest. */
char *kc_vm_lost(struct kc_vm *vm);

/* Waits until the VMM exits or deadline (CLOCK_MONOTONIC ns; 0: forever)
 * passes, and reaps it.  1: it has exited (kc_vm_lost() says how; at once
 * after kc_vm_stop()), 0: still running at the deadline, negative on
 * failure.  Nothing is stopped: the caller decides what follows. */
int kc_vm_wait(struct kc_vm *vm, uint64_t deadline, kc_error_t *err);

/* Pauses the guest's vCPUs (the VMM keeps running: its sockets still
 * accept, but the agent answers nothing until kc_vm_resume()), and resumes
 * them.  Both return once the VMM reports the new state; either on a VM
 * already in that state does nothing.  A VM that is stopped or whose VMM
 * exited is -ESRCH, saying so. */
int kc_vm_pause(struct kc_vm *vm, kc_error_t *err);
int kc_vm_resume(struct kc_vm *vm, kc_error_t *err);

/* Saves the VM's state (devices and memory) into dir, to be started again
 * by kc_vm_restore() (VM templates).  Not supported by QEMU yet. */
int kc_vm_save(struct kc_vm *vm, const char *dir, kc_error_t *err);

/* Starts a VM from a state kc_vm_save() left in dir, as kc_vm_start()
 * would (spec names the back end, the run dir, the NICs...).  Not
 * supported by QEMU yet. */
int kc_vm_restore(const struct kc_vm_spec *spec, const char *dir, struct kc_vm **out,
		  kc_error_t *err);

/* A device added to (or removed from) a running VM. */
enum kc_vm_device_type {
	KC_VM_DEV_DISK = 1,
	KC_VM_DEV_NET,
	KC_VM_DEV_MEMORY,
	KC_VM_DEV_VCPUS,
	KC_VM_DEV_VFIO,
};

struct kc_vm_device {
	enum kc_vm_device_type type;
	union {
		struct {
			const char *id; /* the VMM's device id */
			const char *path; /* host file or block device */
			bool read_only;
			const char *serial; /* the guest's /dev/disk/by-id name; NULL: none */
			const char *driver; /* NULL: the back end's (virtio-blk) */
		} disk;
		struct kc_vm_netdev net; /* netdev.h; the fds stay the caller's */
		struct {
			unsigned size_mib; /* added (or removed) memory */
		} memory;
		struct {
			unsigned count; /* vCPUs added (or removed) */
		} vcpus;
		struct {
			const char *id;
			const char *sysfs_path; /* /sys/bus/pci/devices/0000:01:00.0 */
		} vfio;
	};
};

/* "disk", "net", ...; "unknown" for a type that is none of them. */
const char *kc_vm_device_type_name(enum kc_vm_device_type type);

/* Hot-plugs dev into the running VM, or unplugs it (disk, net and vfio by
 * id; memory and vcpus by amount).  The description is checked first
 * (-EINVAL naming the field); QEMU's microvm cannot hotplug, so QEMU
 * answers -ENOTSUP naming the device type. */
int kc_vm_add_device(struct kc_vm *vm, const struct kc_vm_device *dev, kc_error_t *err);
int kc_vm_remove_device(struct kc_vm *vm, const struct kc_vm_device *dev, kc_error_t *err);

enum kc_vm_state {
	KC_VM_STOPPED, /* the VMM has exited (or kc_vm_stop() ran) */
	KC_VM_RUNNING, /* the vCPUs run */
	KC_VM_PAUSED, /* the VMM runs, the vCPUs do not (kc_vm_pause(), or the VMM's
	                 * own reasons: QEMU's "suspended", "debug", ...) */
};

/* "stopped", "running", "paused". */
const char *kc_vm_state_name(enum kc_vm_state state);

struct kc_vm_info {
	pid_t pid; /* the VMM's; 0 once stopped */
	enum kc_vm_state state; /* asked of the VMM (QMP query-status) while it runs */
	unsigned vcpus; /* asked of the VMM while it runs; as started after */
	unsigned memory_mib;
	const char *agent_uri; /* kc_vm_agent_uri(): valid while vm is */
};

/* What the VM is now. */
int kc_vm_query(struct kc_vm *vm, struct kc_vm_info *info, kc_error_t *err);
/* What the VM is made of on the host, for the sandbox's state: its
 * processes ("qemu", "virtiofsd") and its QMP socket.  The strings are the
 * VM's. */
#define KC_VM_MAX_PROCS 4
struct kc_vm_parts {
	struct {
		const char *what;
		pid_t pid;
	} procs[KC_VM_MAX_PROCS];
	size_t n_procs;
	const char *qmp_socket; /* NULL: none */
};
void kc_vm_parts(const struct kc_vm *vm, struct kc_vm_parts *out);

/* Stops the VM: a clean quit (QMP), SIGKILL after a timeout, then virtiofsd;
 * removes the sockets.  Idempotent. */
int kc_vm_stop(struct kc_vm *vm, kc_error_t *err);

/* Stops (if needed) and frees.  NULL is ignored. */
void kc_vm_free(struct kc_vm *vm);

#endif
