/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SANDBOX_STATE_H
#define KC_SANDBOX_STATE_H

/*
 * A sandbox's state on disk, for whoever comes after the process that
 * wrote it: `containerd-shim-kata-v2 delete` after a shim killed with
 * SIGKILL, or a tool that wants to reach a live pod.  Kata's layout:
 *
 *   /run/vc/sbs/<id>/state.json   the document (docs/state.md)
 *   /run/vc/sbs/<id>/lock         flock()ed (exclusive) by the owner
 *
 * Ownership: one process owns a sandbox, the one that made the directory
 * (kc_state_claim()); it holds the lock for its lifetime and rewrites the
 * document atomically on every change.  The kernel drops the lock with the
 * owner's last descriptor, so a lock that can be taken means a dead owner;
 * the document's owner pid and start time tell a live owner from a
 * process that merely reuses its pid.
 *
 * Trust: a document is only read from a regular file owned by root and
 * writable by nobody else, below a directory that is not a symbolic link,
 * and every field is checked; a recorded process is signalled only if the
 * process now holding its pid started at the recorded time (read through
 * a pidfd, so the check and the signal hit the same process).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "ttrpc/client.h"

#define KC_STATE_ROOT "/run/vc/sbs"
#define KC_STATE_VERSION 1
#define KC_STATE_FILE "state.json"
#define KC_STATE_LOCK "lock"
/* The shim's management socket (HTTP: /metrics, /agent-url), Kata's name. */
#define KC_STATE_MONITOR_SOCKET "shim-monitor.sock"

/* containerd's CRI annotations of a pod's sandbox container (containerd
 * 1.6, pkg/cri/annotations): the Kubernetes pod it stands for. */
#define KC_CRI_SANDBOX_NAME "io.kubernetes.cri.sandbox-name"
#define KC_CRI_SANDBOX_NAMESPACE "io.kubernetes.cri.sandbox-namespace"
#define KC_CRI_SANDBOX_UID "io.kubernetes.cri.sandbox-uid"

/* containerd.v1.types.Status's values, so the shim's statuses map as is. */
enum kc_state_status {
	KC_STATE_UNKNOWN = 0,
	KC_STATE_CREATED = 1,
	KC_STATE_RUNNING = 2,
	KC_STATE_STOPPED = 3,
	KC_STATE_PAUSED = 4,
};

/* A host process of the sandbox: "qemu", "virtiofsd", "agent" (the host
 * agent of tests). */
struct kc_state_proc {
	char *what;
	pid_t pid;
	uint64_t start_time; /* /proc/PID/stat field 22, clock ticks after boot */
};

/* A container's process: its init (exec id "") or an exec. */
struct kc_state_exec {
	char *id;
	enum kc_state_status status;
	uint32_t exit_status; /* meaningful once STOPPED */
};

struct kc_state_container {
	char *id, *bundle;
	enum kc_state_status status;
	uint32_t exit_status;
	struct kc_state_exec *execs;
	size_t n_execs;
};

/* A TAP the sandbox made in the pod's namespace and the link it mirrors. */
struct kc_state_tap {
	char *link, *tap;
};

struct kc_sandbox_state {
	char *id;
	pid_t owner_pid;
	uint64_t owner_start_time;
	struct kc_state_proc *procs;
	size_t n_procs;
	char *run_dir; /* /run/vc/vm/<id> */
	char *share_dir; /* /run/kata-containers/shared/sandboxes/<id> */
	char *qmp_socket; /* NULL: none (host agent) */
	char *agent_uri; /* NULL until the VM answered */
	char *owner_socket; /* the owner's ttrpc address (unix://...); NULL: none */
	char *cgroup; /* the host cgroup path; NULL: none */
	char *netns; /* the pod's network namespace; NULL: no network */
	/* The Kubernetes pod (CRI annotations of the sandbox container):
	 * cri_name NULL: not a CRI pod (then all three are NULL); cri_uid
	 * may be NULL on its own (a CRI that does not pass it). */
	char *cri_name, *cri_namespace, *cri_uid;
	/* The owner's management socket (HTTP, docs/shim.md); NULL: none
	 * (yet: it is recorded once the sandbox is up). */
	char *monitor_socket;
	struct kc_state_tap *taps;
	size_t n_taps;
	struct kc_state_container *containers;
	size_t n_containers;
};

/* "RUNNING" etc.; NULL for a value out of range. */
const char *kc_state_status_name(enum kc_state_status s);

/* The start time of pid (field 22 of /proc/PID/stat). */
int kc_proc_start_time(pid_t pid, uint64_t *out, kc_error_t *err);

/* Makes dir (its parent must exist or be KC_STATE_ROOT's parents), which
 * must not exist yet (EEXIST, naming it and whether its owner lives), and
 * takes its lock: *lock_fd is the caller's to hold (close-on-exec) while it
 * owns the sandbox. */
int kc_state_claim(const char *dir, int *lock_fd, kc_error_t *err);

/* Takes the lock of an existing dir for a cleanup: -EBUSY when its owner
 * (or another cleaner) holds it; -ENOENT when there is no dir. */
int kc_state_lock(const char *dir, int *lock_fd, kc_error_t *err);

/* Writes st as dir/state.json: a temporary file in dir, fsync, rename,
 * fsync of dir.  st->id must be dir's last component. */
int kc_state_write(const char *dir, const struct kc_sandbox_state *st, kc_error_t *err);

/* Reads and checks dir/state.json (see Trust above).  Every error names the
 * file and, for a bad document, the field. */
int kc_state_read(const char *dir, struct kc_sandbox_state *st, kc_error_t *err);

void kc_state_clear(struct kc_sandbox_state *st);

/* Whether the owner lives: the lock is held and (st not NULL) the recorded
 * owner pid runs with the recorded start time.  A NULL st asks the lock
 * only: an owner holds it before its first document is written. */
bool kc_state_owner_alive(const char *dir, const struct kc_sandbox_state *st);

/* Sends sig to the recorded process if it is still the one recorded (same
 * start time), and with SIGKILL waits (up to 5 s) until it is gone.
 * 1: signalled, 0: gone or not ours (left alone), negative on failure. */
int kc_state_kill(const struct kc_state_proc *p, int sig, kc_error_t *err);

/* Removes dir and what is in it.  A missing dir is success. */
int kc_state_remove(const char *dir, kc_error_t *err);

/* Edits of the owner's document in memory (kc_state_write() it after):
 * a container added or its status changed; a process's status (eid "":
 * the container's init, else an exec, added when new); a container (eid
 * NULL) or an exec gone.  Unknown containers are ignored. */
void kc_state_set_container(struct kc_sandbox_state *st, const char *id, const char *bundle,
			    enum kc_state_status status);
void kc_state_set_process(struct kc_sandbox_state *st, const char *cid, const char *eid,
			  enum kc_state_status status, uint32_t exit_status);
void kc_state_drop(struct kc_sandbox_state *st, const char *cid, const char *eid);

/* A connection to the live owner of the sandbox at dir
 * (KC_STATE_ROOT/<id>): its state read, the owner checked alive, its socket
 * dialled.  *st is filled (kc_state_clear() it) and *client runs on loop.
 * The owner relays grpc.Health/Check to the agent (over virtio-serial it
 * holds the only connection): kc_agent_check(*client, ...) asks it. */
int kc_state_open_live(const char *dir, struct kc_loop *loop, struct kc_sandbox_state *st,
		       struct kc_ttrpc_client **client, kc_error_t *err);

#endif
