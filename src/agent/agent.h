/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_AGENT_H
#define KC_AGENT_AGENT_H

/*
 * The guest agent's state: one sandbox, its containers and their
 * processes, all owned by one event loop (the agent is single-threaded).
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/error.h"
#include "storage.h"
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

/* One output pipe of a process, read on demand by ReadStdout/ReadStderr. */
struct kc_agent_stream {
	int fd; /* our read end, -1 once closed */
	bool eof;
	struct kc_loop_watch *watch;
	struct kc_agent_waiter *readers;
	struct kc_agent *agent;
};

struct kc_agent_proc {
	char *exec_id;
	pid_t pid; /* 0 before start */
	int pidfd; /* -1 when not available */
	bool exited;
	int status; /* exit code, or 128 + signal */
	int stdin_fd; /* our write end, -1 once closed */
	int child_stdin, child_stdout, child_stderr; /* the child's ends until start */
	struct kc_agent_stream out, err;
	struct kc_agent_waiter *waiters; /* WaitProcess */
};

enum kc_agent_container_state {
	KC_AGENT_CREATED,
	KC_AGENT_RUNNING,
	KC_AGENT_STOPPED,
};

struct kc_agent_container {
	struct kc_agent_container *next;
	char *id;
	enum kc_agent_container_state state;
	char **args, **env;
	char *cwd, *root;
	struct kc_agent_proc init;
	struct kc_agent_waiter *removers; /* RemoveContainer waiting for exit */
};

struct kc_agent {
	struct kc_loop *loop;
	struct kc_ttrpc_server *srv;
	bool init_mode; /* PID 1 of a VM: may set the hostname, mount, power off */
	bool sandbox_created;
	char *sandbox_id;
	struct kc_agent_container *containers;
	struct kc_agent_storages storages; /* storage.h: the sandbox's and containers' */
};

/* Registers grpc.Health (health.c). */
int kc_agent_health_register(struct kc_agent *a, kc_error_t *err);
/* Registers grpc.AgentService (service.c); methods without a handler
 * answer UNIMPLEMENTED explicitly. */
int kc_agent_service_register(struct kc_agent *a, kc_error_t *err);

/* Reaps every exited child (SIGCHLD arrived) and answers their waiters. */
void kc_agent_reap(struct kc_agent *a);
/* Kills every container process, reaps them and frees every container
 * (DestroySandbox, shutdown).  Pending calls are failed. */
void kc_agent_destroy_containers(struct kc_agent *a);

/* ---- process.c ---- */

/*
 * Starts c's init process: in new mount, pid, uts and ipc namespaces with
 * pivot_root into c->root when the agent may create them (root), else
 * plainly with args[0] looked up inside the rootfs.  Fills pid/pidfd.
 */
int kc_agent_proc_spawn(struct kc_agent_container *c, kc_error_t *err);
/* Sends sig through the pidfd (or kill() before one exists). */
int kc_agent_proc_signal(struct kc_agent_proc *p, int sig, kc_error_t *err);
/* The wait status as the API reports it: code, or 128 + signal. */
int kc_agent_exit_status(int wstatus);

#endif
