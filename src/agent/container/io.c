/* SPDX-License-Identifier: Apache-2.0 */
/* Held calls and the processes' stdio streams (see io.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "container.h"
#include "io.h"
#include "lib/log.h"
#include "lib/util.h"

/* ---- waiters ---- */

/* Cancellation needs the list a waiter is on: the call's cancel data is the
 * list head; the waiter is found by its call. */
static void waiter_cancel(struct kc_ttrpc_call *call, void *data)
{
	struct kc_agent_waiter **list = data;

	for (struct kc_agent_waiter **pp = list; *pp; pp = &(*pp)->next) {
		if ((*pp)->call == call) {
			struct kc_agent_waiter *w = *pp;

			*pp = w->next;
			free(w);
			break;
		}
	}
	kc_ttrpc_call_fail(call, KC_TTRPC_CANCELLED, "cancelled");
}

struct kc_agent_waiter *kc_agent_waiter_add(struct kc_agent_waiter **list,
					    struct kc_ttrpc_call *call)
{
	struct kc_agent_waiter *w = kc_xzalloc(sizeof(*w));

	w->call = call;
	w->next = *list;
	*list = w;
	kc_ttrpc_call_set_cancel(call, waiter_cancel, list);
	return w;
}

void kc_agent_waiters_fail_all(struct kc_agent_waiter **list, int code, const char *msg)
{
	while (*list) {
		struct kc_agent_waiter *w = *list;

		*list = w->next;
		kc_ttrpc_call_set_cancel(w->call, NULL, NULL);
		kc_ttrpc_call_fail(w->call, code, "%s", msg);
		free(w);
	}
}

/* ---- streams ---- */

static void stream_close(struct kc_agent_stream *s)
{
	if (s->watch)
		kc_loop_watch_remove(s->watch);
	s->watch = NULL;
	if (s->fd >= 0 && !s->is_socket)
		close(s->fd);
	s->fd = -1;
}

static void stream_on_ready(struct kc_loop_watch *w, int fd, uint32_t events, void *data);

static void stream_update_watch(struct kc_agent_stream *s)
{
	bool want = s->readers && s->fd >= 0;

	if (want && !s->watch) {
		cleanup_error kc_error_t err = NULL;

		if (kc_loop_watch_fd(s->agent->loop, s->fd, EPOLLIN, stream_on_ready, s, &s->watch,
				     &err) < 0)
			kc_log_error_free(KC_LOG_ERROR, &err, "watching output pipe");
	} else if (!want && s->watch) {
		kc_loop_watch_remove(s->watch);
		s->watch = NULL;
	}
}

static void reply_data(struct kc_ttrpc_call *call, const uint8_t *buf, size_t len)
{
	Grpc__ReadStreamResponse resp = GRPC__READ_STREAM_RESPONSE__INIT;

	resp.data.data = (uint8_t *)buf;
	resp.data.len = len;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

/* Answers the oldest reader with what the pipe holds now; at end of
 * stream every reader gets empty data. */
static void stream_serve(struct kc_agent_stream *s)
{
	while (s->readers) {
		struct kc_agent_waiter *w = s->readers, **pp = &s->readers;
		cleanup_free uint8_t *buf = NULL;
		ssize_t n = 0;

		/* The list is newest first: answer the oldest. */
		while (w->next) {
			pp = &w->next;
			w = w->next;
		}
		if (!s->eof) {
			buf = kc_xmalloc(w->len);
			n = read(s->fd, buf, w->len);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			/* A pty master answers EIO once the slave is closed and
			 * drained: its end of stream. */
			if (n <= 0) {
				if (n < 0 && !(s->is_tty && errno == EIO) &&
				    !(s->is_socket && errno == ECONNRESET))
					kc_warn("reading %s: %s",
						s->is_socket ? "a forwarded connection"
							     : "process output",
						strerror(errno));
				s->eof = true;
				stream_close(s);
				if (s->on_eof)
					kc_loop_defer_queue(s->agent->loop, s->on_eof);
				n = 0;
			}
		}
		*pp = NULL;
		kc_ttrpc_call_set_cancel(w->call, NULL, NULL);
		reply_data(w->call, buf, (size_t)n);
		free(w);
	}
	stream_update_watch(s);
}

static void stream_on_ready(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	stream_serve(data);
}

void kc_agent_stream_read(struct kc_agent_stream *s, struct kc_ttrpc_call *call, size_t len)
{
	struct kc_agent_waiter *w = kc_agent_waiter_add(&s->readers, call);

	w->len = len;
	stream_serve(s);
}

void kc_agent_stream_release(struct kc_agent_stream *s, int code, const char *msg)
{
	kc_agent_waiters_fail_all(&s->readers, code, msg);
	stream_close(s);
}

/* ---- processes ---- */

void kc_agent_proc_init(struct kc_agent *a, struct kc_agent_container *c, struct kc_agent_proc *p)
{
	p->container = c;
	p->pidfd = -1;
	p->stdin_fd = p->tty_fd = p->child_stdin = p->child_stdout = p->child_stderr = -1;
	p->out.fd = p->err.fd = -1;
	p->out.agent = p->err.agent = a;
}

void kc_agent_proc_close_child_ends(struct kc_agent_proc *p)
{
	int *fds[] = { &p->child_stdin, &p->child_stdout, &p->child_stderr };

	for (size_t i = 0; i < KC_ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int kc_agent_proc_stdio(struct kc_agent_proc *p, kc_error_t *err)
{
	int in[2], out[2], errp[2];

	if (p->spec->terminal) {
		/* The child opens the pty in the container and sends its
		 * master (kc_agent_proc_set_tty); stderr is the same terminal
		 * and reads as empty. */
		p->out.is_tty = true;
		p->err.eof = true;
		return 0;
	}
	if (pipe2(in, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe");
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return kc_error_set(err, errno, "pipe");
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return kc_error_set(err, errno, "pipe");
	}
	p->child_stdin = in[0];
	p->stdin_fd = in[1];
	p->child_stdout = out[1];
	p->out.fd = out[0];
	p->child_stderr = errp[1];
	p->err.fd = errp[0];
	/* A bigger pipe is fewer round trips for chatty processes; the size
	 * is still the bound.  Refused (pipe-max-size): the default stays. */
	fcntl(p->out.fd, F_SETPIPE_SZ, (int)KC_AGENT_PIPE_SIZE);
	fcntl(p->err.fd, F_SETPIPE_SZ, (int)KC_AGENT_PIPE_SIZE);
	fcntl(p->stdin_fd, F_SETFL, O_NONBLOCK);
	fcntl(p->out.fd, F_SETFL, O_NONBLOCK);
	fcntl(p->err.fd, F_SETFL, O_NONBLOCK);
	return 0;
}

int kc_agent_proc_set_tty(struct kc_agent_proc *p, int master, kc_error_t *err)
{
	int out;

	if (!p->spec->terminal || p->tty_fd >= 0) {
		close(master);
		return kc_error_set(err, EPROTO, "sync: a terminal the process did not ask for");
	}
	/* One fd, two jobs: stdin is written to it, stdout read from it. */
	out = fcntl(master, F_DUPFD_CLOEXEC, 3);
	if (out < 0) {
		int e = errno;

		close(master);
		return kc_error_set(err, e, "dup the terminal");
	}
	fcntl(master, F_SETFL, O_NONBLOCK);
	p->tty_fd = p->stdin_fd = master;
	p->out.fd = out;
	return 0;
}

void kc_agent_proc_release(struct kc_agent_proc *p)
{
	kc_agent_waiters_fail_all(&p->waiters, KC_TTRPC_NOT_FOUND, "container removed");
	kc_agent_stream_release(&p->out, KC_TTRPC_NOT_FOUND, "container removed");
	kc_agent_stream_release(&p->err, KC_TTRPC_NOT_FOUND, "container removed");
	kc_agent_proc_close_child_ends(p);
	if (p->stdin_fd >= 0 && p->stdin_fd != p->tty_fd)
		close(p->stdin_fd);
	if (p->tty_fd >= 0)
		close(p->tty_fd);
	p->stdin_fd = p->tty_fd = -1;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	free(p->exec_id);
	p->exec_id = NULL;
}
