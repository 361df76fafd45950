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
 * runs and removes them all.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/config.h"
#include "lib/error.h"
#include "host/host_cgroup.h"

/* A NIC of the VM: a TAP device whose queue fds QEMU inherits (the pod
 * network's endpoints, runtime/network/network.h; kc_podnet_vm_netdevs()
 * fills these from them).  QEMU gets `-netdev tap,id=ID,fd=N,vhost=off`
 * (`fds=N:M,...` with several queues) and `-device
 * virtio-net-device,netdev=ID,mac=MAC` (`,mq=on`). */
#define KC_VM_MAX_NETDEVS 16
#define KC_VM_MAX_NETDEV_FDS 8
struct kc_vm_netdev {
	const char *id;   /* QEMU's netdev id: [A-Za-z0-9_-], at most 15 bytes */
	uint8_t mac[6];   /* the guest NIC's MAC (the pod veth's) */
	const int *fds;   /* the TAP's queue fds: still the caller's, QEMU gets copies */
	unsigned n_fds;   /* 1 to KC_VM_MAX_NETDEV_FDS */
};

struct kc_vm_spec {
	const struct kc_config *cfg; /* [hypervisor.qemu] and [agent.kata] settings */
	const char *id;              /* the sandbox id, for names and logs */
	const char *run_dir;         /* private dir (created if missing) for sockets and logs */
	const char *shared_dir;      /* exported over virtio-fs with tag "kataShared"; NULL: none */
	unsigned vcpus;              /* 0: the configuration's default_vcpus */
	unsigned memory_mib;         /* 0: the configuration's default_memory */
	const char *kernel_params;   /* appended to the configuration's; may be NULL */
	const char *console_log;     /* guest console to this file; NULL: only when debugging */
	uint64_t agent_timeout_ns;   /* 0: the configuration's dial_timeout */
	bool keep_agent_conn;        /* keep the connection that answered Check for
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
