/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SANDBOX_POD_H
#define KC_SANDBOX_POD_H

/*
 * A pod's whole lifecycle on the host, as a library: its sandbox (the VM,
 * or the host agent of tests, its agent and the guest's network), its
 * containers, their processes and the IO between the front end's files
 * and the agent's streams.  The front end (containerd's shim, a CLI, a
 * test) owns the event loop; everything here runs on it and answers
 * through callbacks.  docs/sandbox.md has the picture.
 *
 * Operations that need the guest take a kc_done_fn, called exactly once
 * (possibly before the function returns, e.g. when the sandbox is gone);
 * `err` is NULL on success, else the failure (its status an errno: EINVAL
 * bad input, ENOENT not there, EEXIST already there, EBUSY not in the
 * state it must be in, ENOTCONN the sandbox is gone).  An error returned
 * directly (negative, `err` set) means the callback will not run.
 * What happens on its own (a process exits, the guest's OOM killer, the
 * sandbox dies) comes through struct kc_pod_events.
 *
 * For one-shot tools: kc_sync_wait() runs the loop until an operation's
 * callback has fired (pass kc_sync_done with a struct kc_sync as its ctx).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "agent.h"
#include "container.h"
#include "host/host_cgroup.h"
#include "lib/error.h"
#include "ttrpc/loop.h"

struct kc_pod;
struct kc_ctr;
struct kc_proc;

typedef void (*kc_done_fn)(void *ctx, kc_error_t *err);

enum kc_proc_status {
	KC_PROC_CREATED = 1,
	KC_PROC_RUNNING,
	KC_PROC_STOPPED,
	KC_PROC_PAUSED,
};

/* What the front end may read of a process (valid while it lives). */
struct kc_proc_info {
	const char *container_id, *bundle;
	const char *exec_id; /* "" for the container's init process */
	const char *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	enum kc_proc_status status;
	bool exited; /* exit_status and exited_at are set */
	uint32_t exit_status;
	struct timespec exited_at;
};

struct kc_pod_events {
	void *data;
	/* A process finished: its status was reported by the agent and its
	 * outputs reached their end.  Once per process, and after the
	 * callback of its kc_proc_start(). */
	void (*exited)(void *data, struct kc_proc *p);
	/* The guest's OOM killer hit a process of container id. */
	void (*oom)(void *data, const char *container_id);
	/* The sandbox is lost (its VM, virtiofsd or host agent died): every
	 * process still running exited with 255 just before.  May be NULL. */
	void (*died)(void *data, const char *why);
};

struct kc_pod_opts {
	struct kc_loop *loop;
	/* The configuration file (NULL: the default search), loaded with
	 * the first container's annotations applied. */
	const char *config_path;
	/* Non-NULL: kata-agent as a host process in place of a VM (tests). */
	const char *agent_binary;
	/* CONTAINER_NAMESPACE of binary:// loggers. */
	const char *ns;
	/* The front end's socket, where other processes reach the sandbox
	 * (recorded in its state); NULL: none. */
	const char *owner_socket;
	struct kc_pod_events events;
};

int kc_pod_new(const struct kc_pod_opts *o, struct kc_pod **out, kc_error_t *err);
/* Frees every container and stops the sandbox. */
void kc_pod_free(struct kc_pod *pod);
/* The sandbox's id, NULL before its first container (which starts it). */
const char *kc_pod_sandbox_id(const struct kc_pod *pod);
/* The pid that stands for every process of the pod (QEMU's, or the host
 * agent's); 0 without a sandbox. */
pid_t kc_pod_pid(const struct kc_pod *pod);
/* Whether it holds a container; idle: none, and none being created. */
bool kc_pod_has_containers(const struct kc_pod *pod);
bool kc_pod_idle(const struct kc_pod *pod);
/* The sandbox's host cgroup, now the caller's (sandbox.h says why). */
struct kc_host_cgroup *kc_pod_take_cgroup(struct kc_pod *pod);
/* The agent's own metrics (kc_agent_fn answered with Grpc__Metrics). */
void kc_pod_agent_metrics(struct kc_pod *pod, const Grpc__GetMetricsRequest *req, kc_agent_fn fn,
			  void *ctx);
/* For the metrics of the pod: its VM's QEMU and virtiofsd pids (0: none,
 * as with the host agent or once the sandbox is lost or gone). */
void kc_pod_vm_pids(const struct kc_pod *pod, pid_t *hypervisor, pid_t *virtiofsd);
/* The agent's URL as the sandbox dials it (Kata's /agent-url); NULL
 * without a sandbox. */
const char *kc_pod_agent_uri(const struct kc_pod *pod);
/* The sandbox's state directory (KC_STATE_ROOT/<id>, removed with the
 * sandbox), NULL without one; and the front end's management socket in
 * it, recorded in the state (path NULL: none). */
const char *kc_pod_state_dir(const struct kc_pod *pod);
int kc_pod_set_monitor_socket(struct kc_pod *pod, const char *path, kc_error_t *err);
/* The agent's grpc.Health/Check (answered with Grpc__HealthCheckResponse). */
void kc_pod_agent_check(struct kc_pod *pod, const Grpc__CheckRequest *req, kc_agent_fn fn,
			void *ctx);

/* ---- containers ---- */

struct kc_ctr_opts {
	const char *id;
	const char *bundle; /* absolute; its config.json is the OCI spec */
	const struct kc_rootfs_mount *rootfs;
	size_t n_rootfs;
	bool terminal;
	const char *stdin_path, *stdout_path, *stderr_path; /* "" or NULL: none */
};

/*
 * Creates a container.  The first one of a pod starts the sandbox (its id
 * the container's, the one step that blocks the loop: a VM boot), then
 * the guest's network and CreateSandbox; later ones must name it (CRI's
 * sandbox-id annotation).  Fails at once (no callback) on a bad id or
 * bundle or an id already in use; on any later failure what it made is
 * removed.  Once done, kc_pod_container(pod, o->id) finds it.
 */
int kc_ctr_create(struct kc_pod *pod, const struct kc_ctr_opts *o, kc_done_fn done, void *ctx,
		  kc_error_t *err);
/* The container (NULL: none, or being deleted). */
struct kc_ctr *kc_pod_container(struct kc_pod *pod, const char *id);
/* Its init process (eid NULL or ""), or an exec; NULL: no such exec. */
struct kc_proc *kc_ctr_proc(struct kc_ctr *c, const char *eid);
/* RemoveContainer and the host's mounts of it.  On success c and its
 * processes are freed right after done returns (read them in done). */
void kc_ctr_delete(struct kc_ctr *c, kc_done_fn done, void *ctx);
void kc_ctr_pause(struct kc_ctr *c, bool pause, kc_done_fn done, void *ctx);
/* resources: the OCI LinuxResources as JSON. */
void kc_ctr_update(struct kc_ctr *c, const uint8_t *resources, size_t len, kc_done_fn done,
		   void *ctx);
/* kc_agent_fn answered with Grpc__StatsContainerResponse. */
void kc_ctr_stats(struct kc_ctr *c, kc_agent_fn fn, void *ctx);

/* ---- processes ---- */

/* Adds an exec process (the OCI process as JSON) to a running container. */
int kc_ctr_exec(struct kc_ctr *c, const char *eid, const uint8_t *process, size_t len,
		bool terminal, const char *in, const char *out, const char *errp,
		struct kc_proc **p, kc_error_t *err);
const struct kc_proc_info *kc_proc_info(const struct kc_proc *p);
/* Starts a created process; its IO flows and kc_pod_events.exited will
 * follow once it ended. */
void kc_proc_start(struct kc_proc *p, kc_done_fn done, void *ctx);
/* Signals it (all: every process of the container, for its init); one
 * never started ends at once as if the signal had killed it. */
void kc_proc_kill(struct kc_proc *p, uint32_t signal, bool all, kc_done_fn done, void *ctx);
/* done runs once p exited (at once if it has), or fails with ENOENT if p
 * is deleted first. */
void kc_proc_wait(struct kc_proc *p, kc_done_fn done, void *ctx);
/* Closes the process's stdin once what was read of it is written. */
void kc_proc_close_stdin(struct kc_proc *p);
void kc_proc_resize_pty(struct kc_proc *p, uint32_t width, uint32_t height, kc_done_fn done,
			void *ctx);
/* Deletes a finished exec process (init: kc_ctr_delete()). */
int kc_proc_delete(struct kc_proc *p, kc_error_t *err);

/* ---- blocking, for one-shot tools ---- */

struct kc_sync {
	bool done;
	kc_error_t err;
};

/* A kc_done_fn whose ctx is a struct kc_sync. */
void kc_sync_done(void *ctx, kc_error_t *err);
/* Runs loop until sync's operation is done; returns its error. */
int kc_sync_wait(struct kc_loop *loop, struct kc_sync *sync, kc_error_t *err);

#endif
