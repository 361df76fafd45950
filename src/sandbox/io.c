/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process IO: the front end's stdin/stdout/stderr (fifos its client made,
 * file:// paths, binary:// loggers) against the agent's WriteStdin,
 * ReadStdout and ReadStderr.
 *
 * Backpressure both ways: an output pump asks the agent for more only once
 * what it got was written to the front end's side (waiting for EPOLLOUT in
 * between); the stdin pump reads the fifo only when the previous chunk was
 * taken by the agent (which answers how much its pipe took, 0 when full:
 * then it retries after a short pause instead of spinning).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "lib/log.h"
#include "lib/util.h"
#include "internal.h"

#define CHUNK (64u * 1024)

static void out_request(struct kc_pump *pp);
static void in_retry(void *data);
static void in_send(struct kc_pump *pp);
static void in_watch(struct kc_pump *pp, bool on);

static struct kc_pod *pod_of(struct kc_pump *pp)
{
	return pp->proc->c->pod;
}

/* How long an output fifo's reader may take to appear. */
#define FIFO_READER_WAIT_NS (5 * 1000000000ull)

static int open_uri(const char *uri, bool in, int *fd, kc_error_t *err)
{
	*fd = -1;
	if (!uri || !uri[0])
		return 0;
	if (strncmp(uri, "file://", 7) == 0) {
		if (in)
			return kc_error_set(err, EINVAL, "io `%s`: file:// is for output only", uri);
		*fd = open(uri + 7, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0640);
		if (*fd < 0)
			return kc_error_set(err, errno, "open `%s`", uri + 7);
		return 0;
	}
	if (strncmp(uri, "binary://", 9) == 0)
		return kc_error_set(err, EINVAL, "io `%s`: binary:// is for outputs only", uri);
	if (strstr(uri, "://"))
		return kc_error_set(err, EINVAL, "io `%s`: unknown scheme", uri);
	/* The client made the fifo; a stdin fifo opened this way needs no
	 * writer yet.  An output's reading end may still be on its way:
	 * containerd's fifo package opens it in a goroutine, and until then
	 * a non-blocking open for writing fails with ENXIO (seen with CRI's
	 * ExecSync).  The reader is waited for, briefly. */
	for (uint64_t until = kc_monotonic_ns() + FIFO_READER_WAIT_NS;;) {
		const struct timespec pause = { 0, 1000 * 1000 };

		*fd = open(uri, (in ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_CLOEXEC);
		if (*fd >= 0)
			return 0;
		if (in || errno != ENXIO || kc_monotonic_ns() >= until)
			break;
		nanosleep(&pause, NULL);
	}
	if (errno == ENXIO)
		return kc_error_set(err, ENXIO, "open `%s`: nobody opened it for reading in %d s",
				    uri, (int)(FIFO_READER_WAIT_NS / 1000000000ull));
	return kc_error_set(err, errno, "open `%s`", uri);
}

static void pump_init(struct kc_proc *p, struct kc_pump *pp, bool is_stdin, bool is_stderr)
{
	pp->proc = p;
	pp->is_stdin = is_stdin;
	pp->is_stderr = is_stderr;
	pp->fd = -1;
	kc_loop_timer_init(&pp->retry, in_retry, pp);
}

void kc_io_init(struct kc_proc *p)
{
	pump_init(p, &p->in, true, false);
	pump_init(p, &p->out, false, false);
	pump_init(p, &p->err, false, true);
	p->logger = (struct kc_child)KC_CHILD_INIT;
}

int kc_io_open(struct kc_proc *p, kc_error_t *err)
{
	int ret;

	ret = open_uri(p->i.stdin_path, true, &p->in.fd, err);
	if (ret >= 0 && strncmp(p->i.stdout_path, "binary://", 9) == 0)
		/* One logger takes both outputs. */
		ret = kc_io_binary_open(p, p->i.stdout_path, err);
	else if (ret >= 0)
		ret = open_uri(p->i.stdout_path, false, &p->out.fd, err);
	if (ret >= 0 && !p->i.terminal && p->err.fd < 0)
		ret = open_uri(p->i.stderr_path, false, &p->err.fd, err);
	if (ret < 0) {
		kc_io_close(p);
		return ret;
	}
	if (p->in.fd < 0)
		p->in.done = true;
	if (p->i.terminal)
		p->err.done = true;
	return 0;
}

static void pump_stop(struct kc_pump *pp)
{
	struct kc_pod *pod = pod_of(pp);

	kc_loop_timer_stop(pod->loop, &pp->retry);
	if (pp->busy)
		kc_agent_cancel(pod->agent, pp->call_id);
	if (pp->watch)
		kc_loop_watch_remove(pp->watch);
	pp->watch = NULL;
	if (pp->fd >= 0)
		close(pp->fd);
	pp->fd = -1;
	free(pp->buf);
	pp->buf = NULL;
	pp->len = pp->off = 0;
}

/* ---- output ---- */

static void out_finish(struct kc_pump *pp)
{
	pp->done = true;
	pump_stop(pp);
	kc_proc_maybe_exited(pp->proc);
}

/* Writes what is buffered; true when all of it went. */
static bool out_flush(struct kc_pump *pp)
{
	while (pp->off < pp->len && pp->fd >= 0) {
		ssize_t n = write(pp->fd, pp->buf + pp->off, pp->len - pp->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n < 0) {
			/* The reader went away: the rest is dropped, the
			 * process's pipe still drained. */
			kc_debug("output of %s: %s", pp->proc->c->id, strerror(errno));
			if (pp->watch)
				kc_loop_watch_remove(pp->watch);
			pp->watch = NULL;
			close(pp->fd);
			pp->fd = -1;
			break;
		}
		pp->off += (size_t)n;
	}
	pp->off = pp->len = 0;
	return true;
}

static void out_writable(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_pump *pp = data;

	(void)fd;
	(void)events;
	if (out_flush(pp)) {
		kc_loop_watch_remove(w);
		pp->watch = NULL;
		out_request(pp);
	}
}

static void out_reply(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_pump *pp = ctx;
	const Grpc__ReadStreamResponse *r = (const void *)m;
	cleanup_error kc_error_t werr = NULL;

	pp->busy = false;
	if (pp->done)
		return;
	if (err || !r || r->data.len == 0) {
		if (err)
			kc_debug("%s of %s ends: %s", pp->is_stderr ? "stderr" : "stdout",
				 pp->proc->c->id, (*err)->msg);
		out_finish(pp);
		return;
	}
	if (pp->fd < 0) {
		out_request(pp);
		return;
	}
	pp->buf = kc_xrealloc(pp->buf, r->data.len);
	memcpy(pp->buf, r->data.data, r->data.len);
	pp->len = r->data.len;
	pp->off = 0;
	if (out_flush(pp)) {
		out_request(pp);
		return;
	}
	if (kc_loop_watch_fd(pod_of(pp)->loop, pp->fd, EPOLLOUT, out_writable, pp, &pp->watch,
			     &werr) < 0) {
		kc_warn("output of %s: %s", pp->proc->c->id, werr->msg);
		pp->len = pp->off = 0;
		out_request(pp);
	}
}

static void out_request(struct kc_pump *pp)
{
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;

	if (pp->done || pp->busy)
		return;
	req.container_id = pp->proc->c->id;
	req.exec_id = pp->proc->agent_eid;
	req.len = CHUNK;
	pp->busy = true;
	pp->call_id = (pp->is_stderr ? kc_agent_read_stderr
				     : kc_agent_read_stdout)(pod_of(pp)->agent, &req, out_reply, pp);
}

/* ---- stdin ---- */

static void in_closed(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_pump *pp = ctx;

	(void)m;
	pp->busy = false;
	if (err)
		kc_debug("CloseStdin of %s: %s", pp->proc->c->id, (*err)->msg);
}

static void in_finish(struct kc_pump *pp)
{
	Grpc__CloseStdinRequest req = GRPC__CLOSE_STDIN_REQUEST__INIT;

	pp->done = true;
	pump_stop(pp);
	if (pp->proc->i.status != KC_PROC_RUNNING && pp->proc->i.status != KC_PROC_PAUSED)
		return;
	req.container_id = pp->proc->c->id;
	req.exec_id = pp->proc->agent_eid;
	pp->busy = true;
	pp->call_id = kc_agent_close_stdin(pod_of(pp)->agent, &req, in_closed, pp);
}

/* Reads one chunk: sends it, or at the end (every writer gone, or CloseIO
 * asked and nothing is left) closes the guest's stdin.  Returns false
 * when there is nothing to read now. */
static bool in_read(struct kc_pump *pp)
{
	ssize_t n;

	if (!pp->buf)
		pp->buf = kc_xmalloc(CHUNK);
	n = pp->fd >= 0 ? read(pp->fd, pp->buf, CHUNK) : 0;
	if (n < 0 && (errno == EAGAIN || errno == EINTR) && !pp->close_req)
		return false;
	if (n <= 0) {
		kc_debug("stdin of %s/%s: end", pp->proc->c->id, pp->proc->i.exec_id);
		in_finish(pp);
		return true;
	}
	kc_debug("stdin of %s/%s: %zd bytes", pp->proc->c->id, pp->proc->i.exec_id, n);
	pp->len = (size_t)n;
	pp->off = 0;
	in_watch(pp, false);
	in_send(pp);
	return true;
}

static void in_readable(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	in_read(data);
}

static void in_watch(struct kc_pump *pp, bool on)
{
	cleanup_error kc_error_t err = NULL;

	if (on && !pp->watch && pp->fd >= 0) {
		if (kc_loop_watch_fd(pod_of(pp)->loop, pp->fd, EPOLLIN, in_readable, pp, &pp->watch,
				     &err) < 0)
			kc_warn("stdin of %s: %s", pp->proc->c->id, err->msg);
	} else if (!on && pp->watch) {
		kc_loop_watch_remove(pp->watch);
		pp->watch = NULL;
	}
}

static void in_retry(void *data)
{
	in_send(data);
}

static void in_written(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_pump *pp = ctx;
	struct kc_pod *pod = pod_of(pp);
	const Grpc__WriteStreamResponse *r = (const void *)m;

	pp->busy = false;
	if (pp->done)
		return;
	if (err || !r) {
		kc_debug("stdin of %s ends: %s", pp->proc->c->id, err ? (*err)->msg : "?");
		pp->done = true;
		pump_stop(pp);
		return;
	}
	pp->off += r->len < pp->len - pp->off ? r->len : pp->len - pp->off;
	if (pp->off < pp->len) {
		if (r->len == 0) {
			kc_loop_timer_start(pod->loop, &pp->retry,
					    kc_loop_now(pod->loop) + 5000000ull);
			return;
		}
		in_send(pp);
		return;
	}
	pp->off = pp->len = 0;
	if (pp->close_req) {
		/* What the client wrote before CloseIO goes first. */
		in_read(pp);
		return;
	}
	in_watch(pp, true);
}

static void in_send(struct kc_pump *pp)
{
	Grpc__WriteStreamRequest req = GRPC__WRITE_STREAM_REQUEST__INIT;

	req.container_id = pp->proc->c->id;
	req.exec_id = pp->proc->agent_eid;
	req.data.data = pp->buf + pp->off;
	req.data.len = pp->len - pp->off;
	pp->busy = true;
	pp->call_id = kc_agent_write_stdin(pod_of(pp)->agent, &req, in_written, pp);
}

void kc_io_close_stdin(struct kc_proc *p)
{
	struct kc_pump *pp = &p->in;

	if (pp->done)
		return;
	pp->close_req = true;
	/* Before the process runs, the pump starts with a drain. */
	if (pp->proc->i.status == KC_PROC_RUNNING && !pp->busy && pp->off >= pp->len)
		in_read(pp);
}

/* ---- whole process ---- */

void kc_io_start(struct kc_proc *p)
{
	out_request(&p->out);
	if (!p->i.terminal)
		out_request(&p->err);
	if (!p->in.done) {
		if (p->in.close_req)
			in_read(&p->in);
		else
			in_watch(&p->in, true);
	}
}

bool kc_io_drained(const struct kc_proc *p)
{
	return p->out.done && p->err.done;
}

void kc_io_close(struct kc_proc *p)
{
	p->in.done = p->out.done = p->err.done = true;
	pump_stop(&p->in);
	pump_stop(&p->out);
	pump_stop(&p->err);
	kc_io_binary_reap(p);
}
