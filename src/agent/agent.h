/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_AGENT_H
#define KC_AGENT_AGENT_H

/*
 * The guest agent's state: one sandbox, its containers and their
 * processes, all owned by one event loop (the agent is single-threaded).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "agent/storage/storage.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"

/* The agent API version that Health/Version reports. */
#define KC_AGENT_API_VERSION "0.0.1"

/* A call held by a long poll, in a list owned by what it waits for. */
struct kc_agent_waiter {
	struct kc_agent_waiter *next;
	struct kc_ttrpc_call *call;
	size_t len; /* ReadStdout/ReadStderr: the most bytes to answer */
};

/* One output stream of a process (a pipe, or the pty's master), read on
 * demand by ReadStdout/ReadStderr.  The kernel's pipe buffer is the only
 * buffer: a reader that does not read stops the writer there (bounded
 * memory, backpressure), and what was written before exit stays in the
 * pipe until read, then EOF. */
struct kc_agent_stream {
	int fd; /* our read end, -1 once closed */
	bool eof;
	bool is_tty; /* EIO from a pty master is its end of stream */
	/* A connected socket (network/portfwd.c): fd is its owner's, whose
	 * write half lives on after the end of stream, so only the watch goes
	 * then; a reset is an end of stream too. */
	bool is_socket;
	struct kc_loop_watch *watch;
	struct kc_agent_waiter *readers;
	struct kc_agent *agent;
	struct kc_loop_defer *on_eof; /* queued at end of stream, if set */
};

struct kc_oci_process;
struct kc_oci_spec;
struct kc_agent_container;
struct kc_agent_pfwd;

struct kc_agent_proc {
	struct kc_agent_proc *next; /* the container's exec'd processes */
	struct kc_agent_container *container;
	char *exec_id;
	struct kc_oci_process *spec; /* exec: owned; init: the container spec's */
	pid_t pid; /* 0 before start */
	int pidfd; /* -1 when not available */
	bool exited;
	int status; /* exit code, or 128 + signal */
	int stdin_fd; /* our write end (or the pty master), -1 once closed */
	int tty_fd; /* the pty master, -1 without a terminal */
	int child_stdin, child_stdout, child_stderr; /* the child's ends until start */
	struct kc_agent_stream out, err;
	struct kc_agent_waiter *waiters; /* WaitProcess */
	/* An exec'd process is forgotten once it exited, a WaitProcess got
	 * its status and both streams reached their end (Kata does the
	 * same): a container probed by exec every few seconds for weeks
	 * does not grow the agent. */
	bool waited;
	struct kc_loop_defer forget;
};

enum kc_agent_container_state {
	KC_AGENT_CREATING, /* CreateContainer not answered yet */
	KC_AGENT_CREATED,
	KC_AGENT_RUNNING,
	KC_AGENT_STOPPED,
};

struct kc_agent_container;
/* The end of a container's step that waits on the loop (create, start,
 * poststop): err NULL when it succeeded.  Called from the loop, never
 * from inside the call that began the step. */
typedef void (*kc_agent_step_fn)(struct kc_agent_container *c, kc_error_t *err);

struct kc_agent_container {
	struct kc_agent_container *next;
	struct kc_agent *agent;
	char *id;
	enum kc_agent_container_state state;
	struct kc_oci_spec *spec;
	char *root; /* the rootfs, absolute, in the agent's view */
	char *bundle; /* the directory above the rootfs, for hooks' state */
	struct kc_agent_proc init;
	struct kc_agent_proc *execs;
	int sync_fd; /* to the init process until it execs, -1 after */
	/* A step in progress (create, start, poststop): the init process's
	 * sync socket watched, the agent's hooks running, the step's end and
	 * the call it answers (CreateContainer, StartContainer). */
	struct kc_loop_watch *sync_watch;
	struct kc_hook_run *hooks;
	kc_agent_step_fn step_done;
	struct kc_ttrpc_call *pending;
	bool removing; /* RemoveContainer's poststop hooks run */
	bool own_pidns; /* the container has a pid namespace of its own */
	bool userns; /* ... and a user namespace */
	bool poststop_done;
	struct kc_agent_waiter *removers; /* RemoveContainer waiting for exit */
	struct kc_agent_cgroup *cgroup; /* cgroup_agent.c; NULL without cgroup2 */
	struct kc_loop_timer remove_timer; /* RemoveContainer's timeout */
};

struct kc_agent {
	struct kc_loop *loop;
	struct kc_ttrpc_server *srv;
	bool init_mode; /* PID 1 of a VM: may set the hostname, mount, power off */
	bool sandbox_created;
	char *sandbox_id;
	struct kc_agent_container *containers;
	struct kc_agent_storages storages; /* storage.h: the sandbox's and containers' */
	struct kc_agent_cgroups *cgroups; /* cgroup_agent.c */
	/* Where the guest's sysfs and /run/kata-containers are: NULL for
	 * the real ones; tests point them at fake trees (guest.h). */
	const char *sysfs_root;
	const char *run_root;
	uint64_t start_ns; /* CLOCK_MONOTONIC when the agent started */
	/* CreateSandbox.disable_guest_seccomp: specs' seccomp is ignored. */
	bool disable_guest_seccomp;
	/* CreateSandbox.sandbox_pidns: a pause process whose pid namespace
	 * containers created with sandbox_pidns join. */
	pid_t pidns_pid;
	int pidns_pidfd;
	/* The first container created in the sandbox: the sandbox (infra)
	 * container, whose namespaces CreateContainer's sandbox_*ns join. */
	char *infra_id;
	/* CreateSandbox.guest_hook_path, or NULL. */
	char *guest_hook_path;
	struct kc_hook_run *hook_runs; /* hooks.c: every run on the loop */
	/* DestroySandbox, held while the containers' poststop hooks run. */
	struct kc_ttrpc_call *destroyer;
	/* network/portfwd.c: the port-forward sessions. */
	struct kc_agent_pfwd *pfwds;
	size_t n_pfwds;
	uint64_t pfwd_last_id;
	/* agent.debug_console: the console's server (init/console.h), or NULL. */
	struct kc_agent_console *console;
};

/* Registers grpc.Health (health.c). */
int kc_agent_health_register(struct kc_agent *a, kc_error_t *err);
/* Registers grpc.AgentService (service.c); methods without a handler
 * answer UNIMPLEMENTED explicitly. */
int kc_agent_service_register(struct kc_agent *a, kc_error_t *err);

/* Reaps every exited child (SIGCHLD arrived) and answers their waiters. */
void kc_agent_reap(struct kc_agent *a);
/* Kills every container process, reaps them, runs the poststop hooks
 * left to run in place and frees every container (shutdown, and the end
 * of DestroySandbox).  Pending calls are failed. */
void kc_agent_destroy_containers(struct kc_agent *a);

#endif
