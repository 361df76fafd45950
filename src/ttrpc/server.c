/* SPDX-License-Identifier: Apache-2.0 */
#include "server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_io.h"
#include "frame.h"
#include "idmap.h"
#include "lib/log.h"
#include "lib/util.h"
#include "transport.h"
#include "wire.h"

#define DEFAULT_MAX_CALLS 4096
/* A status message longer than this is cut: it must fit a frame. */
#define STATUS_MESSAGE_MAX 16384
/* Reads per readiness event: bounded so that one busy peer cannot starve
 * the others. */
#define READS_PER_EVENT 16
/* A peer that leaves this much output unread stops being read until it has
 * taken most of it. */
#define OUTPUT_HIGH (8u << 20)
#define OUTPUT_LOW (1u << 20)
/* A reopenable stream that hangs up this soon after opening is reopened
 * after a pause, not at once. */
#define REOPEN_MIN_NS (100 * 1000000ull)
#define REOPEN_RETRY_NS (1000 * 1000000ull)

struct method {
	char *service, *method;
	size_t service_len, method_len;
	uint32_t hash;
	kc_ttrpc_handler_fn raw;
	kc_ttrpc_msg_handler_fn msg;
	const ProtobufCMethodDescriptor *desc;
	void *data;
};

struct listener {
	struct kc_ttrpc_server *srv;
	int fd;
	unsigned flags;
	struct kc_loop_watch *watch;
	struct kc_loop_timer pause;
	struct listener *next;
};

struct reopen {
	struct kc_ttrpc_server *srv;
	kc_ttrpc_open_fn open_fn;
	kc_loop_fn close_fn;
	void *data;
	int fd; /* opened, waiting for the peer */
	struct kc_loop_watch *watch;
	struct conn *conn;
	struct kc_loop_timer timer;
	uint64_t opened_at;
	struct reopen *next;
};

struct conn {
	struct kc_ttrpc_server *srv; /* NULL once closed */
	struct kc_loop *loop;
	struct kc_ttrpc_io io;
	struct kc_ttrpc_reader in;
	struct kc_idmap calls;
	unsigned refs;
	bool closed;
	bool draining; /* shutting down: no new requests */
	bool paused; /* output backlog: not reading */
	struct reopen *reopen;
	/* The call whose handler runs now, and its request. */
	struct kc_ttrpc_call *cur_call;
	const struct kc_ttrpc_request_view *cur_req;
	struct kc_ttrpc_call *free_calls;
	struct conn *prev, *next;
};

enum call_state {
	CALL_ACTIVE,
	CALL_CANCELLED,
};

struct kc_ttrpc_call {
	struct conn *conn;
	const struct method *method;
	uint32_t stream_id;
	enum call_state state;
	uint64_t deadline;
	struct kc_loop_timer timer;
	kc_ttrpc_cancel_fn cancel_fn;
	void *cancel_data;
	struct kc_ttrpc_call *next_free;
};

struct kc_ttrpc_server {
	struct kc_loop *loop;
	struct method *methods; /* open addressing by hash; service NULL = free */
	size_t methods_mask, n_methods;
	size_t max_calls;
	struct listener *listeners;
	struct reopen *reopens;
	struct conn *conns;
	size_t n_conns;
	bool shutting_down;
	kc_loop_fn shutdown_done;
	void *shutdown_data;
	struct kc_loop_defer shutdown_defer;
};

static void conn_close(struct conn *conn);
static void conn_update_events(struct conn *conn);
static void reopen_conn_closed(struct reopen *r);

/* ---- method table ---- */

static uint32_t method_hash(const void *svc, size_t svc_len, const void *m, size_t m_len)
{
	uint32_t h = 2166136261u;
	const uint8_t *p;

	p = svc;
	for (size_t i = 0; i < svc_len; i++)
		h = (h ^ p[i]) * 16777619u;
	h = (h ^ '/') * 16777619u;
	p = m;
	for (size_t i = 0; i < m_len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static const struct method *method_find(const struct kc_ttrpc_server *srv,
					const struct kc_ttrpc_bytes *svc,
					const struct kc_ttrpc_bytes *m)
{
	uint32_t h;

	if (srv->methods == NULL)
		return NULL;
	h = method_hash(svc->data, svc->len, m->data, m->len);
	for (size_t i = h & srv->methods_mask;; i = (i + 1) & srv->methods_mask) {
		const struct method *e = &srv->methods[i];

		if (e->service == NULL)
			return NULL;
		if (e->hash == h && e->service_len == svc->len && e->method_len == m->len &&
		    memcmp(e->service, svc->data, svc->len) == 0 &&
		    memcmp(e->method, m->data, m->len) == 0)
			return e;
	}
}

static void methods_insert(struct method *table, size_t mask, const struct method *m)
{
	size_t i;

	for (i = m->hash & mask; table[i].service != NULL; i = (i + 1) & mask)
		;
	table[i] = *m;
}

static int method_add(struct kc_ttrpc_server *srv, const char *service, const char *method,
		      kc_ttrpc_handler_fn raw, kc_ttrpc_msg_handler_fn msg,
		      const ProtobufCMethodDescriptor *desc, void *data, kc_error_t *err)
{
	struct method m = { 0 };
	struct kc_ttrpc_bytes sb = { (const uint8_t *)service, strlen(service) };
	struct kc_ttrpc_bytes mb = { (const uint8_t *)method, strlen(method) };

	if (method_find(srv, &sb, &mb) != NULL)
		return kc_error_set(err, EEXIST, "register ttrpc method `%s/%s`", service, method);
	if ((srv->n_methods + 1) * 2 > srv->methods_mask + 1 || srv->methods == NULL) {
		size_t cap = srv->methods ? (srv->methods_mask + 1) * 2 : 64;
		struct method *table = kc_xzalloc(cap * sizeof(*table));

		for (size_t i = 0; srv->methods != NULL && i <= srv->methods_mask; i++)
			if (srv->methods[i].service != NULL)
				methods_insert(table, cap - 1, &srv->methods[i]);
		free(srv->methods);
		srv->methods = table;
		srv->methods_mask = cap - 1;
	}
	m.service = kc_xstrdup(service);
	m.method = kc_xstrdup(method);
	m.service_len = sb.len;
	m.method_len = mb.len;
	m.hash = method_hash(service, sb.len, method, mb.len);
	m.raw = raw;
	m.msg = msg;
	m.desc = desc;
	m.data = data;
	methods_insert(srv->methods, srv->methods_mask, &m);
	srv->n_methods++;
	return 0;
}

int kc_ttrpc_server_register(struct kc_ttrpc_server *srv, const char *service, const char *method,
			     kc_ttrpc_handler_fn fn, void *data, kc_error_t *err)
{
	return method_add(srv, service, method, fn, NULL, NULL, data, err);
}

int kc_ttrpc_server_register_service(struct kc_ttrpc_server *srv,
				     const ProtobufCServiceDescriptor *desc,
				     const kc_ttrpc_msg_handler_fn *handlers, void *data,
				     kc_error_t *err)
{
	for (unsigned i = 0; i < desc->n_methods; i++) {
		int ret;

		if (handlers[i] == NULL)
			continue;
		ret = method_add(srv, desc->name, desc->methods[i].name, NULL, handlers[i],
				 &desc->methods[i], data, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- server ---- */

int kc_ttrpc_server_new(struct kc_loop *loop, struct kc_ttrpc_server **out, kc_error_t *err)
{
	struct kc_ttrpc_server *srv = kc_xzalloc(sizeof(*srv));

	(void)err;
	srv->loop = loop;
	srv->max_calls = DEFAULT_MAX_CALLS;
	kc_loop_defer_init(&srv->shutdown_defer, NULL, NULL);
	*out = srv;
	return 0;
}

void kc_ttrpc_server_set_max_calls(struct kc_ttrpc_server *srv, size_t max)
{
	srv->max_calls = max ? max : 1;
}

size_t kc_ttrpc_server_conn_count(const struct kc_ttrpc_server *srv)
{
	return srv->n_conns;
}

static void listener_free(struct listener *l)
{
	kc_loop_watch_remove(l->watch);
	kc_loop_timer_stop(l->srv->loop, &l->pause);
	close(l->fd);
	free(l);
}

static void reopen_free(struct reopen *r)
{
	kc_loop_timer_stop(r->srv->loop, &r->timer);
	kc_loop_watch_remove(r->watch);
	if (r->fd >= 0)
		close(r->fd);
	if (r->conn != NULL) {
		r->conn->reopen = NULL;
		conn_close(r->conn);
	}
	if (r->close_fn != NULL)
		r->close_fn(r->data);
	free(r);
}

void kc_ttrpc_server_free(struct kc_ttrpc_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->listeners != NULL) {
		struct listener *l = srv->listeners;

		srv->listeners = l->next;
		listener_free(l);
	}
	while (srv->reopens != NULL) {
		struct reopen *r = srv->reopens;

		srv->reopens = r->next;
		reopen_free(r);
	}
	while (srv->conns != NULL)
		conn_close(srv->conns);
	kc_loop_defer_cancel(srv->loop, &srv->shutdown_defer);
	for (size_t i = 0; srv->methods != NULL && i <= srv->methods_mask; i++) {
		free(srv->methods[i].service);
		free(srv->methods[i].method);
	}
	free(srv->methods);
	free(srv);
}

static void shutdown_done(void *data)
{
	struct kc_ttrpc_server *srv = data;

	if (srv->shutdown_done != NULL) {
		kc_loop_fn fn = srv->shutdown_done;

		srv->shutdown_done = NULL;
		fn(srv->shutdown_data);
	}
}

static void shutdown_check(struct kc_ttrpc_server *srv)
{
	if (srv->shutting_down && srv->n_conns == 0)
		kc_loop_defer_queue(srv->loop, &srv->shutdown_defer);
}

/* ---- calls ---- */

static struct kc_ttrpc_call *call_alloc(struct conn *conn)
{
	struct kc_ttrpc_call *call = conn->free_calls;

	if (call != NULL)
		conn->free_calls = call->next_free;
	else
		call = kc_xmalloc(sizeof(*call));
	memset(call, 0, sizeof(*call));
	call->conn = conn;
	call->timer.index = SIZE_MAX;
	conn->refs++;
	return call;
}

static void conn_unref(struct conn *conn)
{
	if (--conn->refs > 0)
		return;
	while (conn->free_calls != NULL) {
		struct kc_ttrpc_call *c = conn->free_calls;

		conn->free_calls = c->next_free;
		free(c);
	}
	kc_idmap_release(&conn->calls);
	free(conn);
}

static void call_release(struct kc_ttrpc_call *call)
{
	struct conn *conn = call->conn;

	call->next_free = conn->free_calls;
	conn->free_calls = call;
	conn_unref(conn);
}

/* Queues a response frame; on a closed connection, nothing. */
static void send_response(struct conn *conn, uint32_t id, int code, const char *message,
			  const void *payload, size_t len, const ProtobufCMessage *msg)
{
	size_t mlen = message ? strlen(message) : 0;
	size_t plen, head, total;
	uint8_t *p, *q;
	struct kc_ttrpc_header hdr;

	if (conn->closed)
		return;
	if (mlen > STATUS_MESSAGE_MAX)
		mlen = STATUS_MESSAGE_MAX;
	plen = code != KC_TTRPC_OK ? 0
	       : msg != NULL	   ? protobuf_c_message_get_packed_size(msg)
				   : len;
	head = kc_ttrpc_response_head_size(code, mlen, plen);
	if (head + plen > KC_TTRPC_MESSAGE_MAX) {
		send_response(conn, id, KC_TTRPC_RESOURCE_EXHAUSTED,
			      "response exceeds the maximum message size", NULL, 0, NULL);
		return;
	}
	total = KC_TTRPC_HEADER_SIZE + head + plen;
	p = kc_ttrpc_writer_reserve(&conn->io.out, total);
	hdr.length = (uint32_t)(head + plen);
	hdr.stream_id = id;
	hdr.type = KC_TTRPC_TYPE_RESPONSE;
	hdr.flags = 0;
	kc_ttrpc_header_put(p, &hdr);
	q = kc_ttrpc_response_head_put(p + KC_TTRPC_HEADER_SIZE, code, message, mlen, plen);
	if (plen > 0) {
		if (msg != NULL)
			protobuf_c_message_pack(msg, q);
		else
			memcpy(q, payload, plen);
	}
	kc_ttrpc_writer_commit(&conn->io.out, total);
	kc_ttrpc_io_queue_flush(&conn->io);
}

static void send_status(struct conn *conn, uint32_t id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void send_status(struct conn *conn, uint32_t id, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_response(conn, id, code, msg, NULL, 0, NULL);
}

static void conn_maybe_finish_drain(struct conn *conn)
{
	if (conn->draining && !conn->closed && conn->calls.len == 0 &&
	    kc_ttrpc_writer_pending(&conn->io.out) == 0)
		conn_close(conn);
}

static void call_finish(struct kc_ttrpc_call *call, int code, const char *message,
			const void *payload, size_t len, const ProtobufCMessage *msg)
{
	struct conn *conn = call->conn;

	if (call->state == CALL_ACTIVE) {
		kc_loop_timer_stop(conn->loop, &call->timer);
		kc_idmap_del(&conn->calls, call->stream_id);
		send_response(conn, call->stream_id, code, message, payload, len, msg);
	}
	if (conn->cur_call == call)
		conn->cur_call = NULL;
	call_release(call);
}

void kc_ttrpc_call_reply(struct kc_ttrpc_call *call, const void *payload, size_t len)
{
	call_finish(call, KC_TTRPC_OK, NULL, payload, len, NULL);
}

void kc_ttrpc_call_reply_msg(struct kc_ttrpc_call *call, const ProtobufCMessage *msg)
{
	call_finish(call, KC_TTRPC_OK, NULL, NULL, 0, msg);
}

void kc_ttrpc_call_fail(struct kc_ttrpc_call *call, int code, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;

	if (code == KC_TTRPC_OK)
		code = KC_TTRPC_UNKNOWN;
	va_start(ap, fmt);
	msg = kc_xvasprintf(fmt, ap);
	va_end(ap);
	call_finish(call, code, msg, NULL, 0, NULL);
}

void kc_ttrpc_call_fail_error(struct kc_ttrpc_call *call, kc_error_t *err)
{
	int code = KC_TTRPC_INTERNAL;
	const char *msg = "internal error";

	if (err != NULL && *err != NULL) {
		code = kc_ttrpc_code_from_errno((*err)->status);
		msg = (*err)->msg;
	}
	call_finish(call, code, msg, NULL, 0, NULL);
	kc_error_free(err);
}

void kc_ttrpc_call_set_cancel(struct kc_ttrpc_call *call, kc_ttrpc_cancel_fn fn, void *data)
{
	call->cancel_fn = fn;
	call->cancel_data = data;
}

bool kc_ttrpc_call_active(const struct kc_ttrpc_call *call)
{
	return call->state == CALL_ACTIVE;
}

uint64_t kc_ttrpc_call_deadline(const struct kc_ttrpc_call *call)
{
	return call->deadline;
}

uint32_t kc_ttrpc_call_stream_id(const struct kc_ttrpc_call *call)
{
	return call->stream_id;
}

const char *kc_ttrpc_call_service(const struct kc_ttrpc_call *call)
{
	return call->method->service;
}

const char *kc_ttrpc_call_method(const struct kc_ttrpc_call *call)
{
	return call->method->method;
}

bool kc_ttrpc_call_metadata(const struct kc_ttrpc_call *call, const char *key, const char **value,
			    size_t *len)
{
	const struct conn *conn = call->conn;
	struct kc_ttrpc_bytes k, v;
	size_t klen = strlen(key);
	size_t cursor = 0;

	if (conn->cur_call != call || conn->cur_req == NULL)
		return false;
	while (kc_ttrpc_request_metadata_next(conn->cur_req, &cursor, &k, &v)) {
		if (k.len == klen && memcmp(k.data, key, klen) == 0) {
			*value = (const char *)v.data;
			*len = v.len;
			return true;
		}
	}
	return false;
}

/* The call stops being answerable: tell the handler. */
static void call_cancel(struct kc_ttrpc_call *call)
{
	call->state = CALL_CANCELLED;
	kc_loop_timer_stop(call->conn->loop, &call->timer);
	if (call->cancel_fn != NULL)
		call->cancel_fn(call, call->cancel_data);
}

static void call_deadline(void *data)
{
	struct kc_ttrpc_call *call = data;
	struct conn *conn = call->conn;

	kc_idmap_del(&conn->calls, call->stream_id);
	send_status(conn, call->stream_id, KC_TTRPC_DEADLINE_EXCEEDED, "%s/%s: deadline exceeded",
		    call->method->service, call->method->method);
	call_cancel(call);
	conn_maybe_finish_drain(conn);
}

/* ---- requests ---- */

static void dispatch(struct conn *conn, uint32_t id, const uint8_t *body, size_t len)
{
	struct kc_ttrpc_request_view req;
	const struct method *m;
	struct kc_ttrpc_call *call, *old;

	if (kc_ttrpc_request_decode(body, len, &req) < 0) {
		send_status(conn, id, KC_TTRPC_INVALID_ARGUMENT, "unmarshal request error");
		return;
	}
	if (id % 2 != 1) {
		send_status(conn, id, KC_TTRPC_INVALID_ARGUMENT,
			    "StreamID must be odd for client initiated streams");
		return;
	}
	m = method_find(conn->srv, &req.service, &req.method);
	if (m == NULL) {
		send_status(conn, id, KC_TTRPC_UNIMPLEMENTED, "method %.*s/%.*s not implemented",
			    (int)(req.service.len > 200 ? 200 : req.service.len),
			    (const char *)req.service.data,
			    (int)(req.method.len > 200 ? 200 : req.method.len),
			    (const char *)req.method.data);
		return;
	}
	if (req.timeout_nano < 0) {
		send_status(conn, id, KC_TTRPC_DEADLINE_EXCEEDED, "%s/%s: deadline exceeded",
			    m->service, m->method);
		return;
	}
	/* A reused id means the caller gave up on the old call (or a byte
	 * stream was reconnected under us): the new request takes its place. */
	old = kc_idmap_del(&conn->calls, id);
	if (old != NULL)
		call_cancel(old);
	if (conn->closed)
		return;
	if (conn->calls.len >= conn->srv->max_calls) {
		send_status(conn, id, KC_TTRPC_RESOURCE_EXHAUSTED,
			    "too many calls in flight on this connection");
		return;
	}

	call = call_alloc(conn);
	call->method = m;
	call->stream_id = id;
	call->state = CALL_ACTIVE;
	kc_loop_timer_init(&call->timer, call_deadline, call);
	if (req.timeout_nano > 0) {
		call->deadline = kc_loop_now(conn->loop) + (uint64_t)req.timeout_nano;
		kc_loop_timer_start(conn->loop, &call->timer, call->deadline);
	}
	kc_idmap_put(&conn->calls, id, call);

	conn->cur_call = call;
	conn->cur_req = &req;
	if (m->raw != NULL) {
		m->raw(call, req.payload.data, req.payload.len, m->data);
	} else {
		ProtobufCMessage *msg = protobuf_c_message_unpack(m->desc->input, NULL,
								  req.payload.len, req.payload.data);

		if (msg == NULL) {
			kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "%s/%s: malformed %s",
					   m->service, m->method, m->desc->input->name);
		} else {
			m->msg(call, msg, m->data);
			protobuf_c_message_free_unpacked(msg, NULL);
		}
	}
	conn->cur_call = NULL;
	conn->cur_req = NULL;
}

/*
 * Serves the complete frames buffered so far.  A peer that leaves its
 * answers unread is paused as soon as the backlog passes OUTPUT_HIGH, even
 * in the middle of a batch (each request may ask for megabytes); the rest of
 * the batch waits in the reader until the backlog has drained.
 */
static void conn_process(struct conn *conn)
{
	struct kc_ttrpc_frame f;
	int r;

	while (!conn->closed && !conn->draining && !conn->paused &&
	       (r = kc_ttrpc_reader_next(&conn->in, &f)) != KC_TTRPC_READ_MORE) {
		if (r == KC_TTRPC_READ_OVERSIZED) {
			send_status(conn, f.hdr.stream_id, KC_TTRPC_RESOURCE_EXHAUSTED,
				    "message length %u exceed maximum message size of %u",
				    f.hdr.length, KC_TTRPC_MESSAGE_MAX);
		} else if (f.hdr.type == KC_TTRPC_TYPE_REQUEST) {
			dispatch(conn, f.hdr.stream_id, f.body, f.hdr.length);
		}
		/* Other types (streams of newer ttrpc) are ignored, as ttrpc
		 * does for compatibility. */
		if (!conn->closed && kc_ttrpc_writer_pending(&conn->io.out) > OUTPUT_HIGH) {
			conn->paused = true;
			conn_update_events(conn);
		}
	}
}

static bool conn_reading(const struct conn *conn)
{
	return !conn->draining && !conn->paused;
}

static void conn_update_events(struct conn *conn)
{
	if (!conn->closed)
		kc_ttrpc_io_set_reading(&conn->io, conn_reading(conn));
}

static void conn_read(struct conn *conn)
{
	for (int i = 0; i < READS_PER_EVENT && !conn->closed && conn_reading(conn); i++) {
		size_t room;
		uint8_t *p = kc_ttrpc_reader_space(&conn->in, &room);
		ssize_t n = kc_ttrpc_io_read(&conn->io, p, room);

		if (n == 0)
			break;
		if (n < 0) {
			/* End of stream or error: answers already made still go. */
			kc_ttrpc_io_flush(&conn->io);
			conn_close(conn);
			break;
		}
		kc_ttrpc_reader_commit(&conn->in, (size_t)n);
		conn_process(conn);
		if ((size_t)n < room)
			break;
	}
}

static void conn_after_flush(struct conn *conn, int r)
{
	if (r < 0) {
		conn_close(conn);
		return;
	}
	if (conn->paused && kc_ttrpc_writer_pending(&conn->io.out) < OUTPUT_LOW) {
		conn->paused = false;
		/* Frames read before the pause first; they may pause again. */
		conn_process(conn);
		conn_update_events(conn);
	}
	conn_maybe_finish_drain(conn);
}

static void conn_on_flush(void *data)
{
	struct conn *conn = data;

	conn->refs++;
	conn_after_flush(conn, kc_ttrpc_io_flush(&conn->io));
	conn_unref(conn);
}

static void conn_on_event(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct conn *conn = data;

	(void)w;
	(void)fd;
	conn->refs++;
	if (events & EPOLLOUT)
		conn_after_flush(conn, kc_ttrpc_io_flush(&conn->io));
	if (!conn->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		if (conn_reading(conn))
			conn_read(conn);
		else if (events & (EPOLLHUP | EPOLLERR))
			conn_close(conn);
	}
	conn_unref(conn);
}

static struct conn *conn_new(struct kc_ttrpc_server *srv, int fd, kc_error_t *err)
{
	struct conn *conn = kc_xzalloc(sizeof(*conn));
	int ret;

	conn->srv = srv;
	conn->loop = srv->loop;
	conn->refs = 1;
	kc_ttrpc_reader_init(&conn->in, KC_TTRPC_MESSAGE_MAX);
	ret = kc_ttrpc_io_init(&conn->io, srv->loop, fd, conn_on_event, conn_on_flush, conn, err);
	if (ret < 0) {
		free(conn);
		return NULL;
	}
	conn->next = srv->conns;
	if (conn->next != NULL)
		conn->next->prev = conn;
	srv->conns = conn;
	srv->n_conns++;
	return conn;
}

static void conn_close(struct conn *conn)
{
	struct kc_ttrpc_server *srv = conn->srv;
	struct kc_ttrpc_call *call;

	if (conn->closed)
		return;
	conn->closed = true;
	conn->refs++;
	kc_ttrpc_io_close(&conn->io);
	kc_ttrpc_reader_release(&conn->in);
	while ((call = kc_idmap_pop(&conn->calls)) != NULL)
		call_cancel(call);
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		srv->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	srv->n_conns--;
	conn->srv = NULL;
	if (conn->reopen != NULL)
		reopen_conn_closed(conn->reopen);
	shutdown_check(srv);
	/* The server's reference (ours keeps it above 0), then ours. */
	conn->refs--;
	conn_unref(conn);
}

int kc_ttrpc_server_add_conn(struct kc_ttrpc_server *srv, int fd, kc_error_t *err)
{
	if (conn_new(srv, fd, err) == NULL)
		return kc_error_ret(err);
	return 0;
}

/* ---- listeners ---- */

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || (cred.uid == geteuid() && cred.gid == getegid());
}

static void listener_resume(void *data)
{
	struct listener *l = data;

	kc_loop_watch_set_events(l->watch, EPOLLIN, NULL);
}

static void on_accept(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct listener *l = data;

	(void)events;
	for (int i = 0; i < 64; i++) {
		cleanup_error kc_error_t err = NULL;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/* Out of fds (or worse): stop accepting for a moment
			 * instead of spinning on a readable listener. */
			kc_warn("ttrpc: accept: %s", strerror(errno));
			kc_loop_watch_set_events(w, 0, NULL);
			kc_loop_timer_start(l->srv->loop, &l->pause,
					    kc_loop_now(l->srv->loop) + REOPEN_MIN_NS);
			return;
		}
		if ((l->flags & KC_TTRPC_SAME_USER) && !peer_allowed(cfd)) {
			kc_warn("ttrpc: connection refused: peer credentials do not match");
			close(cfd);
			continue;
		}
		if (conn_new(l->srv, cfd, &err) == NULL)
			kc_log_error_free(KC_LOG_WARNING, &err, "ttrpc");
	}
}

int kc_ttrpc_server_add_listener(struct kc_ttrpc_server *srv, int fd, unsigned flags,
				 kc_error_t *err)
{
	struct listener *l = kc_xzalloc(sizeof(*l));
	int ret;

	l->srv = srv;
	l->fd = fd;
	l->flags = flags;
	kc_loop_timer_init(&l->pause, listener_resume, l);
	ret = kc_ttrpc_set_nonblock(fd, err);
	if (ret == 0)
		ret = kc_loop_watch_fd(srv->loop, fd, EPOLLIN, on_accept, l, &l->watch, err);
	if (ret < 0) {
		close(fd);
		free(l);
		return ret;
	}
	l->next = srv->listeners;
	srv->listeners = l;
	return 0;
}

/* ---- reopenable streams ---- */

static void reopen_start(void *data);

static void reopen_ready(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	cleanup_error kc_error_t err = NULL;
	struct reopen *r = data;

	(void)fd;
	/* A virtio port without a host reports HUP until the host connects;
	 * writability is the sign that someone listens. */
	if (!(events & EPOLLOUT))
		return;
	kc_loop_watch_remove(w);
	r->watch = NULL;
	r->conn = conn_new(r->srv, kc_steal_fd(&r->fd), &err);
	if (r->conn == NULL) {
		kc_log_error_free(KC_LOG_WARNING, &err, "ttrpc");
		kc_loop_timer_start(r->srv->loop, &r->timer,
				    kc_loop_now(r->srv->loop) + REOPEN_RETRY_NS);
		return;
	}
	r->conn->reopen = r;
}

static void reopen_start(void *data)
{
	cleanup_error kc_error_t err = NULL;
	struct reopen *r = data;
	int fd;

	fd = r->open_fn(r->data, &err);
	if (fd >= 0 && kc_loop_watch_fd(r->srv->loop, fd, EPOLLOUT | EPOLLET, reopen_ready, r,
					&r->watch, &err) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		kc_warn("ttrpc: reopening stream: %s", err ? err->msg : "failed");
		kc_loop_timer_start(r->srv->loop, &r->timer,
				    kc_loop_now(r->srv->loop) + REOPEN_RETRY_NS);
		return;
	}
	r->fd = fd;
	r->opened_at = kc_monotonic_ns();
}

static void reopen_conn_closed(struct reopen *r)
{
	uint64_t now = kc_monotonic_ns();
	uint64_t at = now;

	r->conn = NULL;
	if (r->srv->shutting_down)
		return;
	/* Reopen from the loop, not from inside the connection's teardown;
	 * after a pause if the peer keeps hanging up at once. */
	if (now - r->opened_at < REOPEN_MIN_NS)
		at = r->opened_at + REOPEN_MIN_NS;
	kc_loop_timer_start(r->srv->loop, &r->timer, at);
}

int kc_ttrpc_server_add_reopenable(struct kc_ttrpc_server *srv, kc_ttrpc_open_fn open_fn,
				   kc_loop_fn close_fn, void *data, kc_error_t *err)
{
	struct reopen *r = kc_xzalloc(sizeof(*r));
	int fd;

	r->srv = srv;
	r->open_fn = open_fn;
	r->close_fn = close_fn;
	r->data = data;
	r->fd = -1;
	kc_loop_timer_init(&r->timer, reopen_start, r);
	/* The first open must work: a wrong path is a configuration error. */
	fd = open_fn(data, err);
	if (fd < 0) {
		free(r);
		return fd;
	}
	if (kc_loop_watch_fd(srv->loop, fd, EPOLLOUT | EPOLLET, reopen_ready, r, &r->watch, err) <
	    0) {
		close(fd);
		free(r);
		return kc_error_ret(err);
	}
	r->fd = fd;
	r->opened_at = kc_monotonic_ns();
	r->next = srv->reopens;
	srv->reopens = r;
	return 0;
}

static int serial_open(void *data, kc_error_t *err)
{
	return kc_ttrpc_serial_open(data, err);
}

int kc_ttrpc_server_listen(struct kc_ttrpc_server *srv, const char *uri, unsigned flags,
			   kc_error_t *err)
{
	struct kc_ttrpc_addr addr;
	int ret, fd;

	ret = kc_ttrpc_addr_parse(uri, &addr, err);
	if (ret < 0)
		return ret;
	if (addr.kind == KC_TTRPC_ADDR_SERIAL) {
		char *path = kc_xstrdup(addr.path);

		ret = kc_ttrpc_server_add_reopenable(srv, serial_open, free, path, err);
		if (ret < 0)
			free(path);
		return ret;
	}
	fd = kc_ttrpc_listen_addr(&addr, err);
	if (fd < 0)
		return fd;
	return kc_ttrpc_server_add_listener(srv, fd, flags, err);
}

/* ---- shutdown ---- */

void kc_ttrpc_server_shutdown(struct kc_ttrpc_server *srv, kc_loop_fn done, void *data)
{
	struct conn *conn, *next;

	srv->shutting_down = true;
	srv->shutdown_done = done;
	srv->shutdown_data = data;
	kc_loop_defer_init(&srv->shutdown_defer, shutdown_done, srv);
	while (srv->listeners != NULL) {
		struct listener *l = srv->listeners;

		srv->listeners = l->next;
		listener_free(l);
	}
	/* Reopenable streams stop waiting for a peer; a connected one drains
	 * like any other connection. */
	for (struct reopen *r = srv->reopens; r != NULL; r = r->next) {
		kc_loop_timer_stop(srv->loop, &r->timer);
		kc_loop_watch_remove(r->watch);
		r->watch = NULL;
		if (r->fd >= 0)
			close(kc_steal_fd(&r->fd));
	}
	for (conn = srv->conns; conn != NULL; conn = next) {
		next = conn->next;
		conn->draining = true;
		conn_update_events(conn);
		conn_maybe_finish_drain(conn);
	}
	shutdown_check(srv);
}
