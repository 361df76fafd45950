/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_IO_H
#define KC_AGENT_IO_H

/*
 * Held calls (waiters) and the processes' stdio streams, for service.c.
 *
 * ReadStdout/ReadStderr are long polls answered from the pipe (or pty
 * master) when it is readable; nothing is copied into the agent, so the
 * pipe's capacity (KC_AGENT_PIPE_SIZE) bounds what a process can write
 * ahead of its reader, and what it wrote before exiting stays there until
 * read.  End of stream comes only after every byte.
 */

#include "agent/agent.h"

/* The capacity asked for each output pipe. */
#define KC_AGENT_PIPE_SIZE (256u << 10)

struct kc_agent_waiter *kc_agent_waiter_add(struct kc_agent_waiter **list,
					    struct kc_ttrpc_call *call);
/* Fails every waiter of list with code/msg. */
void kc_agent_waiters_fail_all(struct kc_agent_waiter **list, int code, const char *msg);

/* Sets up p's fields (no fds). */
void kc_agent_proc_init(struct kc_agent *a, struct kc_agent_container *c, struct kc_agent_proc *p);
/* Pipes for stdin/stdout/stderr; with p->spec->terminal, nothing yet:
 * the child sends the pty (kc_agent_proc_set_tty). */
int kc_agent_proc_stdio(struct kc_agent_proc *p, kc_error_t *err);
/* The pty master the child sent (kc_tty_child_open): p's stdin and stdout
 * from now on.  Takes master, also on failure. */
int kc_agent_proc_set_tty(struct kc_agent_proc *p, int master, kc_error_t *err);
/* Closes the child's ends once it runs (or failed to). */
void kc_agent_proc_close_child_ends(struct kc_agent_proc *p);
/* Fails p's pending calls and closes everything p holds (not p itself). */
void kc_agent_proc_release(struct kc_agent_proc *p);

/* A ReadStdout/ReadStderr (or PortForwardRead) call of at most len bytes. */
void kc_agent_stream_read(struct kc_agent_stream *s, struct kc_ttrpc_call *call, size_t len);
/* Fails s's held reads with code/msg and closes s (its watch, and its fd
 * unless is_socket). */
void kc_agent_stream_release(struct kc_agent_stream *s, int code, const char *msg);

#endif
