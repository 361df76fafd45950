/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_SANDBOX_H
#define KC_RUNTIME_SANDBOX_H

/*
 * The host side of one pod: its shared directory and the VM its agent
 * runs in.
 *
 *   /run/kata-containers/shared/sandboxes/<id>/mounts   real mounts (shared)
 *   /run/kata-containers/shared/sandboxes/<id>/shared   read-only bind of
 *       mounts/ (a slave, so later mounts appear), exported as kataShared
 *   /run/vc/vm/<id>/                                     the VM's sockets
 *   /run/vc/sbs/<id>/                                    its state, for after the
 *       shim (state.h): the owner holds its lock while the sandbox lives
 *
 * Starting blocks until the agent answers (a VM boot); everything else done
 * with the agent goes through the caller's event loop (pod.h, the pod's
 * lifecycle, is what uses this).
 *
 * For tests of the shim on hosts where a VM cannot run, `agent_binary`
 * runs kata-agent as an ordinary host process (`--no-init`) in place of
 * the VM, as Kata's mock hypervisor does: the share is then seen by the
 * agent at its host path and no virtio-fs storage is sent.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "container.h"
#include "host/host_cgroup.h"
#include "lib/config.h"
#include "lib/error.h"

#define KC_SANDBOXES_DIR "/run/kata-containers/shared/sandboxes"
#define KC_VM_RUN_DIR "/run/vc/vm"
/* Where the guest mounts the share (Kata's kataGuestSharedDir). */
#define KC_GUEST_SHARE "/run/kata-containers/shared/containers"

struct kc_sandbox_opts {
	const struct kc_config *cfg;
	const char *id;
	unsigned vcpus, memory_mib; /* 0: the configuration's */
	const char *agent_binary; /* non-NULL: the agent as a host process */
	const char *cgroup_path; /* the pod's host cgroup (host_cgroup.h); NULL: none */
	/* The pod sandbox's OCI spec: its network namespace and resolv.conf
	 * (sandbox_net.h); NULL: no network. */
	const json_t *spec;
	/* The unix socket where the owner (the shim) answers ttrpc, recorded
	 * in the state for others (state.h); NULL: none. */
	const char *owner_socket;
};

struct kc_sandbox;

int kc_sandbox_start(const struct kc_sandbox_opts *o, struct kc_sandbox **out, kc_error_t *err);

const char *kc_sandbox_id(const struct kc_sandbox *sb);
const char *kc_sandbox_agent_uri(const struct kc_sandbox *sb);
/* The process that is the VM (QEMU, or the host agent). */
pid_t kc_sandbox_pid(const struct kc_sandbox *sb);
/* A descriptor (owned by the sandbox) that turns readable once any process
 * the sandbox depends on has exited: QEMU, virtiofsd, the host agent.  Any
 * of them gone loses the sandbox: call kc_sandbox_lost(). */
int kc_sandbox_watch_fd(const struct kc_sandbox *sb);
/* Kills at once what still runs of a lost sandbox and says which process
 * ended it (to be freed).  kc_sandbox_stop() removes the rest. */
char *kc_sandbox_lost(struct kc_sandbox *sb);
/* The connection to the agent that answered the VM's health check (over
 * virtio-serial there is only one), now the caller's; -1: dial the URI. */
int kc_sandbox_take_agent_fd(struct kc_sandbox *sb);
/* Whether CreateSandbox must carry the virtio-fs storage of the share. */
bool kc_sandbox_share_is_virtiofs(const struct kc_sandbox *sb);
/* The pod's connected network, for the guest's UpdateInterface,
 * UpdateRoutes and AddARPNeighbors (kc_podnet_agent_msgs()); NULL when the
 * VM has no NIC. */
struct kc_podnet;
const struct kc_podnet *kc_sandbox_podnet(const struct kc_sandbox *sb);
/* CreateSandboxRequest.dns: NULL-terminated, NULL when none. */
char *const *kc_sandbox_dns(const struct kc_sandbox *sb);
/* The paths container preparation needs. */
void kc_sandbox_container_env(const struct kc_sandbox *sb, struct kc_container_env *env);

/* The sandbox's state directory (KC_STATE_ROOT/<id>, state.h): where the
 * owner's management socket lives, removed with the sandbox. */
const char *kc_sandbox_state_dir(const struct kc_sandbox *sb);
/* The VM's QEMU and virtiofsd pids (0: none; both 0 for the host agent). */
void kc_sandbox_vm_pids(const struct kc_sandbox *sb, pid_t *hypervisor, pid_t *virtiofsd);
/* Records (path NULL: forgets) the owner's management socket in the
 * state and rewrites it. */
int kc_sandbox_state_monitor(struct kc_sandbox *sb, const char *path, kc_error_t *err);

/* Stops the VM and removes every mount, file and socket of the sandbox.
 * Idempotent. */
int kc_sandbox_stop(struct kc_sandbox *sb, kc_error_t *err);
/* The sandbox's host cgroup (NULL: none), now the caller's to leave with
 * kc_host_cgroup_leave(): leaving waits for an RCU grace period (~15 ms on
 * a cgroup v1 host), which a shim can spend after its last answer. */
struct kc_host_cgroup *kc_sandbox_take_cgroup(struct kc_sandbox *sb);
void kc_sandbox_free(struct kc_sandbox *sb);

/*
 * The pod's containers and processes as the shim sees them, kept in the
 * sandbox's state (state.h, rewritten at each call) for whoever comes after
 * the shim.  status: a containerd.v1.types.Status value (enum
 * kc_state_status).  A NULL sb is ignored, so a caller needs no check.
 *   _container: a container created (or its status and bundle changed);
 *   _process:   the status of its init (eid "") or of an exec (added when
 *               new), exit_status once STOPPED;
 *   _gone:      an exec (eid) or the whole container (eid NULL) deleted.
 */
void kc_sandbox_state_container(struct kc_sandbox *sb, const char *id, const char *bundle,
				int status);
void kc_sandbox_state_process(struct kc_sandbox *sb, const char *cid, const char *eid, int status,
			      uint32_t exit_status);
void kc_sandbox_state_gone(struct kc_sandbox *sb, const char *cid, const char *eid);

/*
 * After a dead shim: cleans up sandbox id from its state (KC_STATE_ROOT/<id>):
 * kills the recorded processes that are still the ones recorded, undoes
 * the pod network, then kills what they started (found by the sandbox's
 * paths), removes its mounts, dirs, host cgroup (the state's, else
 * cgroup_path) and the state.  Without a state (or with one that does not
 * pass kc_state_read()) only the paths are used, as before.  Returns 0 when
 * cleaned (nothing there is success), 1 when the sandbox has a live owner
 * (its lock is held) and was left alone.
 */
int kc_sandbox_cleanup_dead(const char *id, const char *cgroup_path, kc_error_t *err);

/* Whether sandbox id has a live owner, by its state. */
bool kc_sandbox_owner_alive(const char *id);

#endif
