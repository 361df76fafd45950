/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_CHILD_H
#define KC_RUNTIME_CHILD_H

/*
 * Child processes the runtime supervises (QEMU, virtiofsd): started with
 * no inherited file descriptors, default signal handling and an empty
 * signal mask, in their own session, and held by a pidfd so that waiting,
 * signalling and reaping can never hit a recycled pid.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

struct kc_child {
	pid_t pid;     /* 0: none */
	int pidfd;     /* readable once the child has exited; -1: none */
	bool reaped;
	int status;    /* wait status once reaped */
};

/* The most fds kc_child_spawn_fds() passes on. */
#define KC_CHILD_MAX_FDS 128

#define KC_CHILD_INIT { .pid = 0, .pidfd = -1, .reaped = false, .status = 0 }

/*
 * Starts argv[0] (an absolute path) with stdin from /dev/null and stdout
 * and stderr appended to log_path (NULL: /dev/null).  Fails, with nothing
 * left running, when the program cannot be executed: the exec error travels
 * back through a close-on-exec pipe.
 */
int kc_child_spawn(char *const argv[], const char *log_path, struct kc_child *c,
		   kc_error_t *err);

/* The same, and the child also inherits fds[0..n_fds-1] as its fds 3,
 * 4, ... (in that order; the caller keeps its own). */
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
