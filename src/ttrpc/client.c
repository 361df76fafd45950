/* SPDX-License-Identifier: Apache-2.0 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn_io.h"
#include "frame.h"
#include "idmap.h"
#include "lib/util.h"
#include "wire.h"

#define READS_PER_EVENT 16

struct pending {
	struct kc_ttrpc_client *c;
	uint32_t id;
	kc_ttrpc_reply_fn fn;
	void *data;
	struct kc_loop_timer timer;
	struct pending *next_free;
};

struct kc_ttrpc_client {
	struct kc_loop *loop;
	struct kc_ttrpc_io io;
	struct kc_ttrpc_reader in;
	struct kc_idmap pending;
	uint32_t next_id;
	unsigned refs;
	bool closed;
	kc_ttrpc_client_closed_fn closed_fn;
	void *closed_data;
	struct pending *free_list;
};

static void client_unref(struct kc_ttrpc_client *c)
{
	if (--c->refs > 0)
		return;
	while (c->free_list != NULL) {
		struct pending *p = c->free_list;

		c->free_list = p->next_free;
		free(p);
	}
	kc_idmap_release(&c->pending);
	free(c);
}

/* Runs the callback of p, which has left the table, and recycles p. */
static void complete(struct pending *p, int code, const char *msg, size_t msg_len,
		     const uint8_t *payload, size_t len)
{
	struct kc_ttrpc_client *c = p->c;
	struct kc_ttrpc_reply reply = {
		.code = code,
		.message = msg,
		.message_len = msg_len,
		.payload = payload,
		.len = len,
	};
	kc_ttrpc_reply_fn fn = p->fn;
	void *data = p->data;

	kc_loop_timer_stop(c->loop, &p->timer);
	p->next_free = c->free_list;
	c->free_list = p;
	c->refs++;
	fn(&reply, data);
	client_unref(c);
}

static void complete_status(struct pending *p, int code, const char *msg)
{
	complete(p, code, msg, strlen(msg), NULL, 0);
}

static void client_close(struct kc_ttrpc_client *c, int code, const char *why, bool lost)
{
	struct pending *p;

	if (c->closed)
		return;
	c->closed = true;
	c->refs++;
	kc_ttrpc_io_close(&c->io);
	kc_ttrpc_reader_release(&c->in);
	while ((p = kc_idmap_pop(&c->pending)) != NULL)
		complete_status(p, code, why);
	if (lost && c->closed_fn != NULL)
		c->closed_fn(c, c->closed_data);
	client_unref(c);
}

static void client_lost(struct kc_ttrpc_client *c)
{
	client_close(c, KC_TTRPC_UNAVAILABLE, "ttrpc: connection closed", true);
}

static void process(struct kc_ttrpc_client *c)
{
	struct kc_ttrpc_frame f;
	int r;

	while (!c->closed && (r = kc_ttrpc_reader_next(&c->in, &f)) != KC_TTRPC_READ_MORE) {
		struct kc_ttrpc_response_view resp;
		struct pending *p;

		if (r == KC_TTRPC_READ_OVERSIZED) {
			p = kc_idmap_del(&c->pending, f.hdr.stream_id);
			if (p != NULL)
				complete_status(p, KC_TTRPC_RESOURCE_EXHAUSTED,
						"response exceeds the maximum message size");
			continue;
		}
		if (f.hdr.type != KC_TTRPC_TYPE_RESPONSE)
			continue;
		/* An answer nobody waits for any more (timed out, cancelled). */
		p = kc_idmap_del(&c->pending, f.hdr.stream_id);
		if (p == NULL)
			continue;
		if (kc_ttrpc_response_decode(f.body, f.hdr.length, &resp) < 0) {
			complete_status(p, KC_TTRPC_INTERNAL, "ttrpc: malformed response");
			continue;
		}
		if (resp.code != KC_TTRPC_OK)
			complete(p, resp.code, (const char *)resp.message.data, resp.message.len,
				 NULL, 0);
		else
			complete(p, KC_TTRPC_OK, NULL, 0, resp.payload.data, resp.payload.len);
	}
}

static void client_read(struct kc_ttrpc_client *c)
{
	for (int i = 0; i < READS_PER_EVENT && !c->closed; i++) {
		size_t room;
		uint8_t *p = kc_ttrpc_reader_space(&c->in, &room);
		ssize_t n = kc_ttrpc_io_read(&c->io, p, room);

		if (n == 0)
			break;
		if (n < 0) {
			client_lost(c);
			break;
		}
		kc_ttrpc_reader_commit(&c->in, (size_t)n);
		process(c);
		if ((size_t)n < room)
			break;
	}
}

static void on_flush(void *data)
{
	struct kc_ttrpc_client *c = data;

	c->refs++;
	if (kc_ttrpc_io_flush(&c->io) < 0)
		client_lost(c);
	client_unref(c);
}

static void on_event(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_ttrpc_client *c = data;

	(void)w;
	(void)fd;
	c->refs++;
	if ((events & EPOLLOUT) && kc_ttrpc_io_flush(&c->io) < 0)
		client_lost(c);
	if (!c->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		client_read(c);
	client_unref(c);
}

int kc_ttrpc_client_new(struct kc_loop *loop, int fd, struct kc_ttrpc_client **out, kc_error_t *err)
{
	struct kc_ttrpc_client *c = kc_xzalloc(sizeof(*c));
	int ret;

	c->loop = loop;
	c->refs = 1;
	c->next_id = 1;
	kc_ttrpc_reader_init(&c->in, KC_TTRPC_MESSAGE_MAX);
	ret = kc_ttrpc_io_init(&c->io, loop, fd, on_event, on_flush, c, err);
	if (ret < 0) {
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void kc_ttrpc_client_free(struct kc_ttrpc_client *c)
{
	if (c == NULL)
		return;
	client_close(c, KC_TTRPC_CANCELLED, "ttrpc: client closed", false);
	client_unref(c);
}

void kc_ttrpc_client_on_closed(struct kc_ttrpc_client *c, kc_ttrpc_client_closed_fn fn, void *data)
{
	c->closed_fn = fn;
	c->closed_data = data;
}

bool kc_ttrpc_client_connected(const struct kc_ttrpc_client *c)
{
	return !c->closed;
}

size_t kc_ttrpc_client_pending(const struct kc_ttrpc_client *c)
{
	return c->pending.len;
}

static void call_timeout(void *data)
{
	struct pending *p = data;

	kc_idmap_del(&p->c->pending, p->id);
	complete_status(p, KC_TTRPC_DEADLINE_EXCEEDED, "ttrpc: deadline exceeded");
}

static uint32_t next_stream_id(struct kc_ttrpc_client *c)
{
	uint32_t id;

	do {
		id = c->next_id;
		/* Odd ids only; after 2^31 calls, start again from 1. */
		c->next_id = id >= UINT32_MAX - 1 ? 1 : id + 2;
	} while (kc_idmap_get(&c->pending, id) != NULL);
	return id;
}

static int send_request(struct kc_ttrpc_client *c, const char *service, const char *method,
			const void *req, size_t len, const ProtobufCMessage *msg,
			const struct kc_ttrpc_call_opts *opts, kc_ttrpc_reply_fn fn, void *data,
			uint32_t *stream_id, kc_error_t *err)
{
	static const struct kc_ttrpc_call_opts no_opts;
	size_t slen = strlen(service), mlen = strlen(method);
	size_t plen, head, tail, body;
	int64_t timeout_nano;
	struct kc_ttrpc_header hdr;
	struct pending *p;
	uint8_t *w, *q;

	if (opts == NULL)
		opts = &no_opts;
	if (c->closed)
		return kc_error_set(err, ENOTCONN, "ttrpc %s/%s: connection closed", service,
				    method);
	timeout_nano = opts->timeout_ns > INT64_MAX ? INT64_MAX : (int64_t)opts->timeout_ns;
	plen = msg != NULL ? protobuf_c_message_get_packed_size(msg) : len;
	head = kc_ttrpc_request_head_size(slen, mlen, plen);
	tail = kc_ttrpc_request_tail_size(timeout_nano, opts->metadata, opts->n_metadata);
	body = head + plen + tail;
	if (body > KC_TTRPC_MESSAGE_MAX)
		return kc_error_set(err, EMSGSIZE,
				    "ttrpc %s/%s: request of %zu bytes exceeds the maximum "
				    "message size of %u",
				    service, method, body, KC_TTRPC_MESSAGE_MAX);

	hdr.length = (uint32_t)body;
	hdr.stream_id = next_stream_id(c);
	hdr.type = KC_TTRPC_TYPE_REQUEST;
	hdr.flags = 0;
	w = kc_ttrpc_writer_reserve(&c->io.out, KC_TTRPC_HEADER_SIZE + body);
	kc_ttrpc_header_put(w, &hdr);
	q = kc_ttrpc_request_head_put(w + KC_TTRPC_HEADER_SIZE, service, slen, method, mlen, plen);
	if (plen > 0) {
		if (msg != NULL)
			protobuf_c_message_pack(msg, q);
		else
			memcpy(q, req, plen);
	}
	kc_ttrpc_request_tail_put(q + plen, timeout_nano, opts->metadata, opts->n_metadata);
	kc_ttrpc_writer_commit(&c->io.out, KC_TTRPC_HEADER_SIZE + body);
	kc_ttrpc_io_queue_flush(&c->io);

	p = c->free_list;
	if (p != NULL)
		c->free_list = p->next_free;
	else
		p = kc_xmalloc(sizeof(*p));
	p->c = c;
	p->id = hdr.stream_id;
	p->fn = fn;
	p->data = data;
	kc_loop_timer_init(&p->timer, call_timeout, p);
	if (timeout_nano > 0)
		kc_loop_timer_start(c->loop, &p->timer, kc_monotonic_ns() + (uint64_t)timeout_nano);
	kc_idmap_put(&c->pending, p->id, p);
	if (stream_id != NULL)
		*stream_id = p->id;
	return 0;
}

int kc_ttrpc_client_call(struct kc_ttrpc_client *c, const char *service, const char *method,
			 const void *req, size_t len, const struct kc_ttrpc_call_opts *opts,
			 kc_ttrpc_reply_fn fn, void *data, uint32_t *stream_id, kc_error_t *err)
{
	return send_request(c, service, method, req, len, NULL, opts, fn, data, stream_id, err);
}

int kc_ttrpc_client_call_msg(struct kc_ttrpc_client *c, const char *service, const char *method,
			     const ProtobufCMessage *req, const struct kc_ttrpc_call_opts *opts,
			     kc_ttrpc_reply_fn fn, void *data, uint32_t *stream_id, kc_error_t *err)
{
	return send_request(c, service, method, NULL, 0, req, opts, fn, data, stream_id, err);
}

void kc_ttrpc_client_cancel(struct kc_ttrpc_client *c, uint32_t stream_id)
{
	struct pending *p = kc_idmap_del(&c->pending, stream_id);

	if (p != NULL)
		complete_status(p, KC_TTRPC_CANCELLED, "ttrpc: call cancelled");
}

int kc_ttrpc_reply_check(const struct kc_ttrpc_reply *reply, const char *service,
			 const char *method, kc_error_t *err)
{
	int errnum;

	if (reply->code == KC_TTRPC_OK)
		return 0;
	errnum = kc_ttrpc_code_to_errno(reply->code);
	kc_error_set(err, 0, "%s/%s: %s: %.*s", service, method, kc_ttrpc_code_name(reply->code),
		     (int)(reply->message_len > 4096 ? 4096 : reply->message_len),
		     reply->message ? reply->message : "");
	if (err != NULL && *err != NULL)
		(*err)->status = errnum;
	return -errnum;
}

int kc_ttrpc_reply_unpack(const struct kc_ttrpc_reply *reply, const ProtobufCMessageDescriptor *desc,
			  ProtobufCMessage **out, kc_error_t *err)
{
	*out = protobuf_c_message_unpack(desc, NULL, reply->len, reply->payload);
	if (*out == NULL)
		return kc_error_set(err, EBADMSG, "ttrpc: malformed %s in reply", desc->name);
	return 0;
}

/* ---- blocking calls ---- */

struct sync_call {
	bool done;
	int code;
	char *message;
	uint8_t *payload;
	size_t len;
};

static void sync_reply(const struct kc_ttrpc_reply *reply, void *data)
{
	struct sync_call *s = data;

	s->done = true;
	s->code = reply->code;
	if (reply->code != KC_TTRPC_OK) {
		s->message = kc_xstrndup(reply->message ? reply->message : "", reply->message_len);
	} else if (reply->len > 0) {
		s->payload = kc_xmalloc(reply->len);
		memcpy(s->payload, reply->payload, reply->len);
		s->len = reply->len;
	}
}

static int sync_wait(struct kc_ttrpc_client *c, const char *service, const char *method,
		     struct sync_call *s, kc_error_t *err)
{
	struct kc_ttrpc_reply reply;

	while (!s->done) {
		int ret = kc_loop_run_once(c->loop, -1, err);

		if (ret < 0) {
			/* The callback still points at s: take it back. */
			client_close(c, KC_TTRPC_CANCELLED, "ttrpc: loop failed", true);
			free(s->message);
			free(s->payload);
			return ret;
		}
	}
	memset(&reply, 0, sizeof(reply));
	reply.code = s->code;
	reply.message = s->message;
	reply.message_len = s->message ? strlen(s->message) : 0;
	if (s->code != KC_TTRPC_OK) {
		int ret = kc_ttrpc_reply_check(&reply, service, method, err);

		free(s->message);
		return ret;
	}
	return 0;
}

int kc_ttrpc_client_call_sync(struct kc_ttrpc_client *c, const char *service, const char *method,
			      const void *req, size_t len, const struct kc_ttrpc_call_opts *opts,
			      uint8_t **resp, size_t *resp_len, kc_error_t *err)
{
	struct sync_call s = { 0 };
	int ret;

	ret = kc_ttrpc_client_call(c, service, method, req, len, opts, sync_reply, &s, NULL, err);
	if (ret < 0)
		return ret;
	ret = sync_wait(c, service, method, &s, err);
	if (ret < 0)
		return ret;
	*resp = s.payload;
	*resp_len = s.len;
	return 0;
}

int kc_ttrpc_client_call_msg_sync(struct kc_ttrpc_client *c, const char *service,
				  const char *method, const ProtobufCMessage *req,
				  const ProtobufCMessageDescriptor *resp_desc,
				  ProtobufCMessage **resp, const struct kc_ttrpc_call_opts *opts,
				  kc_error_t *err)
{
	struct sync_call s = { 0 };
	struct kc_ttrpc_reply reply = { 0 };
	int ret;

	ret = kc_ttrpc_client_call_msg(c, service, method, req, opts, sync_reply, &s, NULL, err);
	if (ret < 0)
		return ret;
	ret = sync_wait(c, service, method, &s, err);
	if (ret < 0)
		return ret;
	if (resp_desc == NULL) {
		free(s.payload);
		return 0;
	}
	reply.payload = s.payload;
	reply.len = s.len;
	ret = kc_ttrpc_reply_unpack(&reply, resp_desc, resp, err);
	free(s.payload);
	return ret;
}
