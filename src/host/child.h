/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_CHILD_H
#define KC_RUNTIME_CHILD_H

/*
 * The one way the host side starts a program: kc_child_start().  Everything
 * is allocated before fork (only async-signal-safe calls run between fork
 * and exec); the child gets every signal disposition reset to default and
 * an empty signal mask, exactly the fds it is given (the rest are closed),
 * and is held by a pidfd so that waiting, signalling and reaping can never
 * hit a recycled pid.  An exec failure travels back through a close-on-exec
 * pipe: the call fails, naming the program, with nothing left running.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

struct kc_child {
	pid_t pid; /* 0: none */
	int pidfd; /* readable once the child has exited; -1: none */
	bool reaped;
	int status; /* wait status once reaped */
};

/* The most fds (beyond 0, 1 and 2) a child is given. */
#define KC_CHILD_MAX_FDS 128

#define KC_CHILD_INIT \
	{ \
		.pid = 0, .pidfd = -1, .reaped = false, .status = 0 \
	}

/* What kc_child_opts.stdio may hold besides an fd of the caller's. */
#define KC_CHILD_NULL (-1) /* /dev/null */
#define KC_CHILD_LOG (-2) /* appended to log_path (/dev/null without one) */

enum kc_child_group {
	KC_CHILD_SAME_GROUP, /* the caller's session and process group */
	KC_CHILD_NEW_PGROUP, /* its own process group: kill(-pid) reaches what it starts */
	KC_CHILD_NEW_SESSION, /* its own session (setsid), hence group too */
};

struct kc_child_opts {
	char *const *argv; /* argv[0]: the program's path (not searched in $PATH) */
	char *const *envp; /* NULL: the caller's environment */
	char *const *env_add; /* NULL-terminated "NAME=value"s on top of envp (replacing NAME) */
	/* The child's 0, 1 and 2: fds of the caller's, KC_CHILD_NULL or
	 * KC_CHILD_LOG.  NULL: { KC_CHILD_NULL, KC_CHILD_LOG, KC_CHILD_LOG }. */
	const int *stdio;
	const int *fds; /* become the child's 3, 4, ... (the caller keeps its own) */
	size_t n_fds;
	const char *cwd; /* NULL: the caller's */
	const char *log_path; /* created (0640) when missing, appended to */
	enum kc_child_group group;
};

/* Starts o->argv[0] as described by o; c is set on success and emptied
 * (KC_CHILD_INIT) on failure. */
int kc_child_start(const struct kc_child_opts *o, struct kc_child *c, kc_error_t *err);

/* Shorthands for daemons (QEMU, virtiofsd): a new session, stdin from
 * /dev/null, stdout and stderr appended to log_path (NULL: /dev/null), and
 * fds[0..n_fds-1] as the child's 3, 4, ... */
int kc_child_spawn(char *const argv[], const char *log_path, struct kc_child *c, kc_error_t *err);
int kc_child_spawn_fds(char *const argv[], const char *log_path, const int *fds, size_t n_fds,
		       struct kc_child *c, kc_error_t *err);

/* Waits until the child exits or deadline (CLOCK_MONOTONIC ns; 0: forever)
 * passes, also reaping it.  1: exited (c->status set), 0: still running at
 * the deadline, negative on failure. */
int kc_child_wait(struct kc_child *c, uint64_t deadline, kc_error_t *err);

/* True once the child has exited (reaps it, without blocking). */
bool kc_child_exited(struct kc_child *c);

/* Sends sig through the pidfd (nothing when already reaped). */
int kc_child_signal(struct kc_child *c, int sig, kc_error_t *err);

/* Stops the child: SIGTERM (when term is true) and then SIGKILL after
 * grace_ns, reaping it; closes the pidfd.  Safe on an empty child. */
void kc_child_stop(struct kc_child *c, bool term, uint64_t grace_ns);

/* "exited with status 1", "killed by signal 9": for messages. */
const char *kc_child_describe(const struct kc_child *c, char *buf, size_t size);

#endif
