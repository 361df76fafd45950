/* SPDX-License-Identifier: Apache-2.0 */
/* Server and client together: calls, concurrency, timeouts, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "health.pb-c.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/frame.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"
#include "ttrpc/transport.h"
#include "ttrpc/wire.h"

#define SVC "test.Echo"
#define MAX_HELD 256

struct fx {
	struct kc_loop *loop;
	struct kc_ttrpc_server *srv;
	struct kc_ttrpc_client *cli;
	struct kc_ttrpc_call *held[MAX_HELD];
	uint8_t *held_payload[MAX_HELD];
	size_t held_len[MAX_HELD];
	size_t n_held;
	int cancels;
	int client_closed;
};

/* ---- handlers ---- */

static void h_echo(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	(void)data;
	kc_ttrpc_call_reply(call, p, len);
}

static void h_fail(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	(void)data;
	kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "no task %.*s", (int)len, (const char *)p);
}

static void h_meta(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	const char *v;
	size_t vlen;

	(void)p;
	(void)len;
	(void)data;
	if (kc_ttrpc_call_metadata(call, "containerd-namespace-ttrpc", &v, &vlen))
		kc_ttrpc_call_reply(call, v, vlen);
	else
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "no metadata");
}

static void h_big(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	uint8_t *big = calloc(1, KC_TTRPC_MESSAGE_MAX + 1);

	(void)p;
	(void)len;
	(void)data;
	kc_ttrpc_call_reply(call, big, KC_TTRPC_MESSAGE_MAX);
	free(big);
}

/* 256 KiB for a few bytes: answers outgrow requests quickly. */
static void h_blow(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	static uint8_t blob[256 * 1024];

	(void)p;
	(void)len;
	(void)data;
	kc_ttrpc_call_reply(call, blob, sizeof(blob));
}

static void held_remove(struct fx *fx, size_t i)
{
	free(fx->held_payload[i]);
	fx->n_held--;
	fx->held[i] = fx->held[fx->n_held];
	fx->held_payload[i] = fx->held_payload[fx->n_held];
	fx->held_len[i] = fx->held_len[fx->n_held];
}

static void held_cancel(struct kc_ttrpc_call *call, void *data)
{
	struct fx *fx = data;

	fx->cancels++;
	assert_false(kc_ttrpc_call_active(call));
	for (size_t i = 0; i < fx->n_held; i++) {
		if (fx->held[i] == call) {
			held_remove(fx, i);
			break;
		}
	}
	/* Finishing a cancelled call only frees it. */
	kc_ttrpc_call_fail(call, KC_TTRPC_CANCELLED, "cancelled");
}

/* A long poll: answered later by the test (echoing the request). */
static void h_hold(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	struct fx *fx = data;

	assert_true(fx->n_held < MAX_HELD);
	fx->held[fx->n_held] = call;
	fx->held_payload[fx->n_held] = len ? kc_xmalloc(len) : NULL;
	if (len)
		memcpy(fx->held_payload[fx->n_held], p, len);
	fx->held_len[fx->n_held] = len;
	fx->n_held++;
	kc_ttrpc_call_set_cancel(call, held_cancel, fx);
}

static void answer_held(struct fx *fx, size_t i)
{
	struct kc_ttrpc_call *call = fx->held[i];

	kc_ttrpc_call_reply(call, fx->held_payload[i], fx->held_len[i]);
	held_remove(fx, i);
}

static void on_client_closed(struct kc_ttrpc_client *c, void *data)
{
	struct fx *fx = data;

	(void)c;
	fx->client_closed++;
}

static int setup(void **state)
{
	struct fx *fx = kc_xzalloc(sizeof(*fx));
	int sv[2];

	assert_int_equal(kc_loop_new(&fx->loop, NULL), 0);
	assert_int_equal(kc_ttrpc_server_new(fx->loop, &fx->srv, NULL), 0);
	assert_int_equal(kc_ttrpc_server_register(fx->srv, SVC, "Echo", h_echo, fx, NULL), 0);
	assert_int_equal(kc_ttrpc_server_register(fx->srv, SVC, "Fail", h_fail, fx, NULL), 0);
	assert_int_equal(kc_ttrpc_server_register(fx->srv, SVC, "Meta", h_meta, fx, NULL), 0);
	assert_int_equal(kc_ttrpc_server_register(fx->srv, SVC, "Big", h_big, fx, NULL), 0);
	assert_int_equal(kc_ttrpc_server_register(fx->srv, SVC, "Hold", h_hold, fx, NULL), 0);
	assert_int_equal(kc_ttrpc_server_register(fx->srv, SVC, "Blow", h_blow, fx, NULL), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(kc_ttrpc_server_add_conn(fx->srv, sv[0], NULL), 0);
	assert_int_equal(kc_ttrpc_client_new(fx->loop, sv[1], &fx->cli, NULL), 0);
	kc_ttrpc_client_on_closed(fx->cli, on_client_closed, fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	kc_ttrpc_client_free(fx->cli);
	kc_ttrpc_server_free(fx->srv);
	/* Anything a handler still holds was cancelled above. */
	assert_int_equal(fx->n_held, 0);
	kc_loop_free(fx->loop);
	free(fx);
	return 0;
}

static void run_until(struct fx *fx, int *flag, int want)
{
	uint64_t deadline = kc_monotonic_ns() + 10ull * 1000000000;

	while (*flag < want) {
		assert_true(kc_loop_run_once(fx->loop, 10 * 1000000, NULL) >= 0);
		assert_true(kc_monotonic_ns() < deadline);
	}
}

static void run_for(struct fx *fx, uint64_t ns)
{
	uint64_t end = kc_monotonic_ns() + ns;

	while (kc_monotonic_ns() < end)
		kc_loop_run_once(fx->loop, (int64_t)(end - kc_monotonic_ns()), NULL);
}

/* ---- tests ---- */

static void test_echo(void **state)
{
	struct fx *fx = *state;
	cleanup_error kc_error_t err = NULL;
	uint8_t *resp = NULL;
	size_t len = 0;
	size_t big_len = 1u << 20;
	uint8_t *big = malloc(big_len);

	assert_int_equal(kc_ttrpc_client_call_sync(fx->cli, SVC, "Echo", "hi", 2, NULL, &resp, &len,
						   &err),
			 0);
	assert_int_equal(len, 2);
	assert_memory_equal(resp, "hi", 2);
	free(resp);

	/* Empty request, empty answer. */
	assert_int_equal(kc_ttrpc_client_call_sync(fx->cli, SVC, "Echo", NULL, 0, NULL, &resp, &len,
						   &err),
			 0);
	assert_int_equal(len, 0);
	assert_null(resp);

	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(kc_ttrpc_client_call_sync(fx->cli, SVC, "Echo", big, big_len, NULL, &resp,
						   &len, &err),
			 0);
	assert_int_equal(len, big_len);
	assert_memory_equal(resp, big, big_len);
	free(resp);
	free(big);
}

static void test_status_errors(void **state)
{
	struct fx *fx = *state;
	kc_error_t err = NULL;
	uint8_t *resp = NULL;
	size_t len = 0;
	int ret;

	ret = kc_ttrpc_client_call_sync(fx->cli, SVC, "Nope", NULL, 0, NULL, &resp, &len, &err);
	assert_int_equal(ret, -ENOSYS);
	assert_non_null(strstr(err->msg, "UNIMPLEMENTED"));
	assert_non_null(strstr(err->msg, "test.Echo/Nope"));
	assert_int_equal(err->status, ENOSYS);
	kc_error_free(&err);

	ret = kc_ttrpc_client_call_sync(fx->cli, "no.Such", "Echo", NULL, 0, NULL, &resp, &len,
					&err);
	assert_int_equal(ret, -ENOSYS);
	kc_error_free(&err);

	ret = kc_ttrpc_client_call_sync(fx->cli, SVC, "Fail", "c1", 2, NULL, &resp, &len, &err);
	assert_int_equal(ret, -ENOENT);
	assert_string_equal(err->msg, "test.Echo/Fail: NOT_FOUND: no task c1");
	kc_error_free(&err);
}

static void test_metadata(void **state)
{
	struct fx *fx = *state;
	cleanup_error kc_error_t err = NULL;
	const struct kc_ttrpc_kv md[] = { { "other", "x" },
					  { "containerd-namespace-ttrpc", "k8s.io" } };
	struct kc_ttrpc_call_opts opts = { .metadata = md, .n_metadata = 2 };
	uint8_t *resp = NULL;
	size_t len = 0;

	assert_int_equal(kc_ttrpc_client_call_sync(fx->cli, SVC, "Meta", NULL, 0, &opts, &resp,
						   &len, &err),
			 0);
	assert_int_equal(len, 6);
	assert_memory_equal(resp, "k8s.io", 6);
	free(resp);
}

struct async_result {
	int done;
	int code[128];
	char payload[128][16];
	int order[128];
	int next;
};

struct async_ctx {
	struct async_result *res;
	int idx;
};

static void async_reply(const struct kc_ttrpc_reply *reply, void *data)
{
	struct async_ctx *ctx = data;
	struct async_result *res = ctx->res;

	res->code[ctx->idx] = reply->code;
	if (reply->len > 0 && reply->len < 16)
		memcpy(res->payload[ctx->idx], reply->payload, reply->len);
	res->order[res->next++] = ctx->idx;
	res->done++;
}

/* 100 calls in flight on one connection, answered in reverse order. */
static void test_concurrent_out_of_order(void **state)
{
	struct fx *fx = *state;
	struct async_result *res = kc_xzalloc(sizeof(*res));
	struct async_ctx ctx[100];

	for (int i = 0; i < 100; i++) {
		char p[16];
		int n = snprintf(p, sizeof(p), "call-%d", i);

		ctx[i].res = res;
		ctx[i].idx = i;
		assert_int_equal(kc_ttrpc_client_call(fx->cli, SVC, "Hold", p, (size_t)n, NULL,
						      async_reply, &ctx[i], NULL, NULL),
				 0);
	}
	assert_int_equal(kc_ttrpc_client_pending(fx->cli), 100);
	while (fx->n_held < 100)
		kc_loop_run_once(fx->loop, 10 * 1000000, NULL);
	assert_int_equal(res->done, 0);
	/* Meanwhile the connection serves other calls. */
	{
		uint8_t *resp;
		size_t len;

		assert_int_equal(kc_ttrpc_client_call_sync(fx->cli, SVC, "Echo", "x", 1, NULL,
							   &resp, &len, NULL),
				 0);
		free(resp);
	}
	/* Answer from the last received to the first. */
	while (fx->n_held > 0) {
		size_t last = 0;

		for (size_t i = 1; i < fx->n_held; i++)
			if (kc_ttrpc_call_stream_id(fx->held[i]) >
			    kc_ttrpc_call_stream_id(fx->held[last]))
				last = i;
		answer_held(fx, last);
	}
	run_until(fx, &res->done, 100);
	for (int i = 0; i < 100; i++) {
		char p[16];

		snprintf(p, sizeof(p), "call-%d", i);
		assert_int_equal(res->code[i], KC_TTRPC_OK);
		assert_string_equal(res->payload[i], p);
		assert_int_equal(res->order[i], 99 - i);
	}
	assert_int_equal(kc_ttrpc_client_pending(fx->cli), 0);
	free(res);
}

/* The client's deadline fires; the server, told by timeout_nano, cancels
 * the handler's call and answers it itself (the late answer is dropped). */
static void test_timeout(void **state)
{
	struct fx *fx = *state;
	kc_error_t err = NULL;
	struct kc_ttrpc_call_opts opts = { .timeout_ns = 50 * 1000000 };
	uint64_t start = kc_monotonic_ns();
	uint8_t *resp = NULL;
	size_t len = 0;
	int ret;

	ret = kc_ttrpc_client_call_sync(fx->cli, SVC, "Hold", "t", 1, &opts, &resp, &len, &err);
	assert_int_equal(ret, -ETIMEDOUT);
	assert_non_null(strstr(err->msg, "DEADLINE_EXCEEDED"));
	kc_error_free(&err);
	assert_true(kc_monotonic_ns() - start >= 50 * 1000000);
	assert_true(kc_monotonic_ns() - start < 2000ull * 1000000);
	/* The server's own timer fires at about the same time. */
	run_until(fx, &fx->cancels, 1);
	assert_int_equal(fx->n_held, 0);
	/* And the connection is fine. */
	assert_int_equal(kc_ttrpc_client_call_sync(fx->cli, SVC, "Echo", "ok", 2, NULL, &resp, &len,
						   &err),
			 0);
	free(resp);
}

static void test_cancel(void **state)
{
	struct fx *fx = *state;
	struct async_result *res = kc_xzalloc(sizeof(*res));
	struct async_ctx ctx = { res, 0 };
	uint32_t id;

	assert_int_equal(kc_ttrpc_client_call(fx->cli, SVC, "Hold", "c", 1, NULL, async_reply, &ctx,
					      &id, NULL),
			 0);
	while (fx->n_held < 1)
		kc_loop_run_once(fx->loop, 10 * 1000000, NULL);
	kc_ttrpc_client_cancel(fx->cli, id);
	assert_int_equal(res->done, 1);
	assert_int_equal(res->code[0], KC_TTRPC_CANCELLED);
	kc_ttrpc_client_cancel(fx->cli, id); /* unknown now: ignored */
	/* The server's late answer is dropped by the client. */
	answer_held(fx, 0);
	run_for(fx, 20 * 1000000);
	assert_int_equal(res->done, 1);
	free(res);
}

static void test_connection_loss(void **state)
{
	struct fx *fx = *state;
	struct async_result *res = kc_xzalloc(sizeof(*res));
	struct async_ctx ctx[3] = { { res, 0 }, { res, 1 }, { res, 2 } };
	kc_error_t err = NULL;

	for (int i = 0; i < 3; i++)
		assert_int_equal(kc_ttrpc_client_call(fx->cli, SVC, "Hold", "x", 1, NULL,
						      async_reply, &ctx[i], NULL, NULL),
				 0);
	while (fx->n_held < 3)
		kc_loop_run_once(fx->loop, 10 * 1000000, NULL);
	/* The server goes away: its handlers see cancels, the client fails
	 * every pending call. */
	kc_ttrpc_server_free(fx->srv);
	fx->srv = NULL;
	assert_int_equal(fx->cancels, 3);
	run_until(fx, &res->done, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(res->code[i], KC_TTRPC_UNAVAILABLE);
	assert_int_equal(fx->client_closed, 1);
	assert_false(kc_ttrpc_client_connected(fx->cli));
	assert_int_equal(kc_ttrpc_client_call(fx->cli, SVC, "Echo", "x", 1, NULL, async_reply,
					      &ctx[0], NULL, &err),
			 -ENOTCONN);
	kc_error_free(&err);
	free(res);
}

static void test_too_large(void **state)
{
	struct fx *fx = *state;
	kc_error_t err = NULL;
	uint8_t *big = calloc(1, KC_TTRPC_MESSAGE_MAX);
	uint8_t *resp = NULL;
	size_t len = 0;

	/* The client refuses to send it. */
	assert_int_equal(kc_ttrpc_client_call_sync(fx->cli, SVC, "Echo", big, KC_TTRPC_MESSAGE_MAX,
						   NULL, &resp, &len, &err),
			 -EMSGSIZE);
	kc_error_free(&err);
	/* The server refuses to answer with it. */
	assert_int_equal(kc_ttrpc_client_call_sync(fx->cli, SVC, "Big", NULL, 0, NULL, &resp, &len,
						   &err),
			 -ENOSPC);
	assert_non_null(strstr(err->msg, "RESOURCE_EXHAUSTED"));
	kc_error_free(&err);
	free(big);
}

/* ---- raw peers: bytes on the wire ---- */

static void raw_write(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len > 0) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EAGAIN) {
			usleep(1000);
			continue;
		}
		assert_true(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

static void raw_request(int fd, uint32_t id, uint8_t type, const char *svc, const char *method,
			const void *payload, size_t plen, int64_t timeout)
{
	uint8_t buf[2048], *p;
	size_t body = kc_ttrpc_request_head_size(strlen(svc), strlen(method), plen) + plen +
		      kc_ttrpc_request_tail_size(timeout, NULL, 0);
	struct kc_ttrpc_header h = { (uint32_t)body, id, type, 0 };

	assert_true(body + 10 <= sizeof(buf));
	kc_ttrpc_header_put(buf, &h);
	p = kc_ttrpc_request_head_put(buf + 10, svc, strlen(svc), method, strlen(method), plen);
	memcpy(p, payload, plen);
	kc_ttrpc_request_tail_put(p + plen, timeout, NULL, 0);
	raw_write(fd, buf, 10 + body);
}

/* Runs the loop until one whole frame arrived on the raw fd. */
static void raw_read_frame(struct fx *fx, int fd, struct kc_ttrpc_reader *r,
			   struct kc_ttrpc_frame *f)
{
	uint64_t deadline = kc_monotonic_ns() + 10ull * 1000000000;

	while (kc_ttrpc_reader_next(r, f) != KC_TTRPC_READ_FRAME) {
		size_t room;
		uint8_t *p = kc_ttrpc_reader_space(r, &room);
		ssize_t n = read(fd, p, room);

		if (n > 0) {
			kc_ttrpc_reader_commit(r, (size_t)n);
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		kc_loop_run_once(fx->loop, 5 * 1000000, NULL);
		assert_true(kc_monotonic_ns() < deadline);
	}
}

static void expect_status(struct fx *fx, int fd, struct kc_ttrpc_reader *r, uint32_t id, int code)
{
	struct kc_ttrpc_frame f;
	struct kc_ttrpc_response_view v;

	raw_read_frame(fx, fd, r, &f);
	assert_int_equal(f.hdr.type, KC_TTRPC_TYPE_RESPONSE);
	assert_int_equal(f.hdr.stream_id, id);
	assert_int_equal(kc_ttrpc_response_decode(f.body, f.hdr.length, &v), 0);
	assert_int_equal(v.code, code);
}

static int raw_conn(struct fx *fx)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(kc_ttrpc_server_add_conn(fx->srv, sv[0], NULL), 0);
	return sv[1];
}

static void test_bad_input(void **state)
{
	struct fx *fx = *state;
	struct kc_ttrpc_reader r;
	struct kc_ttrpc_header h;
	uint8_t hdr[10], junk[4096];
	int fd = raw_conn(fx);

	kc_ttrpc_reader_init(&r, KC_TTRPC_MESSAGE_MAX);
	/* Even stream id. */
	raw_request(fd, 2, KC_TTRPC_TYPE_REQUEST, SVC, "Echo", "x", 1, 0);
	expect_status(fx, fd, &r, 2, KC_TTRPC_INVALID_ARGUMENT);
	/* A body that is not a Request. */
	h = (struct kc_ttrpc_header){ 3, 3, KC_TTRPC_TYPE_REQUEST, 0 };
	kc_ttrpc_header_put(hdr, &h);
	raw_write(fd, hdr, 10);
	raw_write(fd, "\x0a\x05x", 3);
	expect_status(fx, fd, &r, 3, KC_TTRPC_INVALID_ARGUMENT);
	/* Types other than Request are ignored; a Data frame, then a call. */
	raw_request(fd, 5, KC_TTRPC_TYPE_DATA, SVC, "Echo", "x", 1, 0);
	raw_request(fd, 7, 0x7f, SVC, "Echo", "x", 1, 0);
	/* An oversized frame: RESOURCE_EXHAUSTED, and the stream goes on. */
	h = (struct kc_ttrpc_header){ KC_TTRPC_MESSAGE_MAX + 1, 9, KC_TTRPC_TYPE_REQUEST, 0 };
	kc_ttrpc_header_put(hdr, &h);
	raw_write(fd, hdr, 10);
	expect_status(fx, fd, &r, 9, KC_TTRPC_RESOURCE_EXHAUSTED);
	memset(junk, 0x0a, sizeof(junk));
	for (size_t left = KC_TTRPC_MESSAGE_MAX + 1; left > 0;) {
		size_t n = left < sizeof(junk) ? left : sizeof(junk);
		ssize_t w = write(fd, junk, n);

		if (w < 0) {
			assert_int_equal(errno, EAGAIN);
			kc_loop_run_once(fx->loop, 1000000, NULL);
			continue;
		}
		left -= (size_t)w;
	}
	raw_request(fd, 11, KC_TTRPC_TYPE_REQUEST, SVC, "Echo", "alive", 5, 0);
	{
		struct kc_ttrpc_frame f;
		struct kc_ttrpc_response_view v;

		raw_read_frame(fx, fd, &r, &f);
		assert_int_equal(f.hdr.stream_id, 11);
		assert_int_equal(kc_ttrpc_response_decode(f.body, f.hdr.length, &v), 0);
		assert_int_equal(v.code, 0);
		assert_memory_equal(v.payload.data, "alive", 5);
	}
	/* A negative timeout is already past. */
	raw_request(fd, 13, KC_TTRPC_TYPE_REQUEST, SVC, "Echo", "x", 1, -1);
	expect_status(fx, fd, &r, 13, KC_TTRPC_DEADLINE_EXCEEDED);
	kc_ttrpc_reader_release(&r);
	close(fd);
	run_for(fx, 5 * 1000000);
	assert_int_equal(kc_ttrpc_server_conn_count(fx->srv), 1);
}

/* timeout_nano alone (a client that never gives up by itself). */
static void test_server_deadline(void **state)
{
	struct fx *fx = *state;
	struct kc_ttrpc_reader r;
	int fd = raw_conn(fx);

	kc_ttrpc_reader_init(&r, KC_TTRPC_MESSAGE_MAX);
	raw_request(fd, 1, KC_TTRPC_TYPE_REQUEST, SVC, "Hold", "x", 1, 20 * 1000000);
	expect_status(fx, fd, &r, 1, KC_TTRPC_DEADLINE_EXCEEDED);
	assert_int_equal(fx->cancels, 1);
	assert_int_equal(fx->n_held, 0);
	/* A reused stream id replaces the call in flight. */
	raw_request(fd, 3, KC_TTRPC_TYPE_REQUEST, SVC, "Hold", "a", 1, 0);
	raw_request(fd, 3, KC_TTRPC_TYPE_REQUEST, SVC, "Hold", "b", 1, 0);
	while (fx->cancels < 2)
		kc_loop_run_once(fx->loop, 5 * 1000000, NULL);
	assert_int_equal(fx->n_held, 1);
	assert_memory_equal(fx->held_payload[0], "b", 1);
	answer_held(fx, 0);
	{
		struct kc_ttrpc_frame f;
		struct kc_ttrpc_response_view v;

		raw_read_frame(fx, fd, &r, &f);
		assert_int_equal(f.hdr.stream_id, 3);
		assert_int_equal(kc_ttrpc_response_decode(f.body, f.hdr.length, &v), 0);
		assert_memory_equal(v.payload.data, "b", 1);
	}
	kc_ttrpc_reader_release(&r);
	close(fd);
}

static void test_max_calls(void **state)
{
	struct fx *fx = *state;
	struct kc_ttrpc_reader r;
	int fd = raw_conn(fx);

	kc_ttrpc_server_set_max_calls(fx->srv, 2);
	kc_ttrpc_reader_init(&r, KC_TTRPC_MESSAGE_MAX);
	for (uint32_t id = 1; id <= 5; id += 2)
		raw_request(fd, id, KC_TTRPC_TYPE_REQUEST, SVC, "Hold", "x", 1, 0);
	expect_status(fx, fd, &r, 5, KC_TTRPC_RESOURCE_EXHAUSTED);
	assert_int_equal(fx->n_held, 2);
	kc_ttrpc_reader_release(&r);
	close(fd);
	/* The peer left: its calls are cancelled. */
	while (fx->cancels < 2)
		kc_loop_run_once(fx->loop, 5 * 1000000, NULL);
	assert_int_equal(fx->n_held, 0);
}

/* A peer that sends much and reads nothing is paused, not buffered
 * without bound, and gets every answer once it reads. */
static void test_backpressure(void **state)
{
	struct fx *fx = *state;
	struct kc_ttrpc_reader r;
	const int count = 20000;
	const size_t plen = 1000;
	char payload[1000];
	struct kc_ttrpc_writer out = { 0 };
	int fd = raw_conn(fx);
	size_t off = 0;
	int stuck = 0, got = 0;

	memset(payload, 'p', plen);
	for (int i = 0; i < count; i++) {
		size_t body = kc_ttrpc_request_head_size(strlen(SVC), 4, plen) + plen;
		struct kc_ttrpc_header h = { (uint32_t)body, 2 * (uint32_t)i + 1, 1, 0 };
		uint8_t *p = kc_ttrpc_writer_reserve(&out, 10 + body);

		kc_ttrpc_header_put(p, &h);
		memcpy(kc_ttrpc_request_head_put(p + 10, SVC, strlen(SVC), "Echo", 4, plen),
		       payload, plen);
		kc_ttrpc_writer_commit(&out, 10 + body);
	}
	/* ~20 MB of answers asked for, none read: the server stops reading. */
	while (stuck < 200 && off < kc_ttrpc_writer_pending(&out)) {
		ssize_t n = write(fd, out.buf + off, kc_ttrpc_writer_pending(&out) - off);

		if (n > 0) {
			off += (size_t)n;
			stuck = 0;
		} else {
			stuck++;
		}
		kc_loop_run_once(fx->loop, 1000000, NULL);
	}
	assert_true(off < kc_ttrpc_writer_pending(&out));
	/* Reading unblocks everything. */
	kc_ttrpc_reader_init(&r, KC_TTRPC_MESSAGE_MAX);
	while (got < count) {
		struct kc_ttrpc_frame f;
		size_t room;
		uint8_t *p;
		ssize_t n;

		if (off < kc_ttrpc_writer_pending(&out)) {
			n = write(fd, out.buf + off, kc_ttrpc_writer_pending(&out) - off);
			if (n > 0)
				off += (size_t)n;
		}
		p = kc_ttrpc_reader_space(&r, &room);
		n = read(fd, p, room);
		if (n > 0)
			kc_ttrpc_reader_commit(&r, (size_t)n);
		while (kc_ttrpc_reader_next(&r, &f) == KC_TTRPC_READ_FRAME) {
			assert_int_equal(f.hdr.stream_id, 2 * (uint32_t)got + 1);
			got++;
		}
		kc_loop_run_once(fx->loop, n > 0 ? 0 : 1000000, NULL);
	}
	kc_ttrpc_reader_release(&r);
	kc_ttrpc_writer_release(&out);
	close(fd);
}

/* 200 small requests in one write ask for 50 MiB: the server pauses in
 * the middle of the batch and resumes with the frames it already has. */
static void test_backpressure_mid_batch(void **state)
{
	struct fx *fx = *state;
	struct kc_ttrpc_reader r;
	struct kc_ttrpc_writer out = { 0 };
	int fd = raw_conn(fx);
	int got = 0;

	for (uint32_t i = 0; i < 200; i++) {
		size_t body = kc_ttrpc_request_head_size(strlen(SVC), 4, 0);
		struct kc_ttrpc_header h = { (uint32_t)body, 2 * i + 1, 1, 0 };
		uint8_t *p = kc_ttrpc_writer_reserve(&out, 10 + body);

		kc_ttrpc_header_put(p, &h);
		kc_ttrpc_request_head_put(p + 10, SVC, strlen(SVC), "Blow", 4, 0);
		kc_ttrpc_writer_commit(&out, 10 + body);
	}
	raw_write(fd, out.buf, kc_ttrpc_writer_pending(&out));
	run_for(fx, 50 * 1000000);
	kc_ttrpc_reader_init(&r, KC_TTRPC_MESSAGE_MAX);
	while (got < 200) {
		struct kc_ttrpc_frame f;

		raw_read_frame(fx, fd, &r, &f);
		assert_int_equal(f.hdr.stream_id, 2 * (uint32_t)got + 1);
		assert_true(f.hdr.length > 256 * 1024);
		got++;
	}
	kc_ttrpc_reader_release(&r);
	kc_ttrpc_writer_release(&out);
	close(fd);
}

/* Typed services: protoc-c descriptors, messages in and out. */
static void health_check(struct kc_ttrpc_call *call, const ProtobufCMessage *req, void *data)
{
	const Grpc__CheckRequest *r = (const Grpc__CheckRequest *)req;
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;

	(void)data;
	resp.status = strcmp(r->service, "down") == 0
			      ? GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
			      : GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

static void test_typed_service(void **state)
{
	struct fx *fx = *state;
	kc_error_t err = NULL;
	const kc_ttrpc_msg_handler_fn handlers[] = { health_check, NULL };
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	uint8_t *raw;
	size_t len;

	assert_int_equal(kc_ttrpc_server_register_service(fx->srv, &grpc__health__descriptor,
							  handlers, fx, NULL),
			 0);
	/* Twice is an error. */
	assert_int_equal(kc_ttrpc_server_register_service(fx->srv, &grpc__health__descriptor,
							  handlers, fx, &err),
			 -EEXIST);
	kc_error_free(&err);
	req.service = "down";
	assert_int_equal(kc_ttrpc_client_call_msg_sync(fx->cli, "grpc.Health", "Check", &req.base,
						       &grpc__health_check_response__descriptor,
						       &resp, NULL, &err),
			 0);
	assert_int_equal(((Grpc__HealthCheckResponse *)resp)->status,
			 GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
	protobuf_c_message_free_unpacked(resp, NULL);
	/* Version has no handler. */
	assert_int_equal(kc_ttrpc_client_call_msg_sync(fx->cli, "grpc.Health", "Version", &req.base,
						       NULL, NULL, NULL, &err),
			 -ENOSYS);
	kc_error_free(&err);
	/* Garbage that is not a CheckRequest. */
	assert_int_equal(kc_ttrpc_client_call_sync(fx->cli, "grpc.Health", "Check", "\x0a\x09", 2,
						   NULL, &raw, &len, &err),
			 -EINVAL);
	assert_non_null(strstr(err->msg, "INVALID_ARGUMENT"));
	kc_error_free(&err);
}

/* Many connections through a real listener. */
static void test_many_connections(void **state)
{
	struct fx *fx = *state;
	char path[64];
	char uri[80];
	struct kc_ttrpc_client *clients[20];
	struct async_result *res = kc_xzalloc(sizeof(*res));
	struct async_ctx ctx[120];
	int n = 0;

	snprintf(path, sizeof(path), "/tmp/kc-ttrpc-test-%d.sock", getpid());
	snprintf(uri, sizeof(uri), "unix://%s", path);
	unlink(path);
	int lfd = kc_ttrpc_listen(uri, NULL);

	assert_true(lfd >= 0);
	assert_int_equal(kc_ttrpc_server_add_listener(fx->srv, lfd, KC_TTRPC_SAME_USER, NULL), 0);
	for (int i = 0; i < 20; i++) {
		int fd = kc_ttrpc_dial(uri, 1000000000, NULL);

		assert_true(fd >= 0);
		assert_int_equal(kc_ttrpc_client_new(fx->loop, fd, &clients[i], NULL), 0);
	}
	for (int i = 0; i < 20; i++) {
		for (int j = 0; j < 6; j++, n++) {
			ctx[n].res = res;
			ctx[n].idx = n;
			assert_int_equal(kc_ttrpc_client_call(clients[i], SVC, "Echo", "m", 1, NULL,
							      async_reply, &ctx[n], NULL, NULL),
					 0);
		}
	}
	run_until(fx, &res->done, 120);
	for (int i = 0; i < 120; i++)
		assert_int_equal(res->code[i], 0);
	assert_int_equal(kc_ttrpc_server_conn_count(fx->srv), 21);
	for (int i = 0; i < 20; i++)
		kc_ttrpc_client_free(clients[i]);
	while (kc_ttrpc_server_conn_count(fx->srv) > 1)
		kc_loop_run_once(fx->loop, 5 * 1000000, NULL);
	unlink(path);
	free(res);
}

/* A peer with other credentials is turned away (needs root to try). */
static void test_same_user(void **state)
{
	struct fx *fx = *state;
	char path[64], uri[80];
	pid_t pid;
	int status, lfd;

	if (geteuid() != 0) {
		/* Same-user peers are accepted in test_many_connections. */
		fprintf(stderr, "# not root: cannot connect as another user\n");
		return;
	}
	snprintf(path, sizeof(path), "/tmp/kc-ttrpc-cred-%d.sock", getpid());
	snprintf(uri, sizeof(uri), "unix://%s", path);
	unlink(path);
	lfd = kc_ttrpc_listen(uri, NULL);
	assert_true(lfd >= 0);
	chmod(path, 0777);
	assert_int_equal(kc_ttrpc_server_add_listener(fx->srv, lfd, KC_TTRPC_SAME_USER, NULL), 0);
	pid = fork();
	if (pid == 0) {
		char buf[64];
		int fd;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		fd = kc_ttrpc_dial(uri, 1000000000, NULL);
		if (fd < 0)
			_exit(3);
		/* The server may have closed already: no SIGPIPE, no asserts. */
		fcntl(fd, F_SETFL, 0);
		send(fd, "\0\0\0\0\0\0\0\1\1\0", 10, MSG_NOSIGNAL);
		/* Closed without an answer. */
		_exit(read(fd, buf, sizeof(buf)) <= 0 ? 0 : 4);
	}
	while (waitpid(pid, &status, WNOHANG) == 0)
		kc_loop_run_once(fx->loop, 5 * 1000000, NULL);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(kc_ttrpc_server_conn_count(fx->srv), 1);
	unlink(path);
}

static void shutdown_done(void *data)
{
	(*(int *)data)++;
}

/* Shutdown waits for the calls in flight, then closes. */
static void test_shutdown(void **state)
{
	struct fx *fx = *state;
	struct async_result *res = kc_xzalloc(sizeof(*res));
	struct async_ctx ctx = { res, 0 };
	int done = 0;

	assert_int_equal(kc_ttrpc_client_call(fx->cli, SVC, "Hold", "s", 1, NULL, async_reply, &ctx,
					      NULL, NULL),
			 0);
	while (fx->n_held < 1)
		kc_loop_run_once(fx->loop, 5 * 1000000, NULL);
	kc_ttrpc_server_shutdown(fx->srv, shutdown_done, &done);
	run_for(fx, 20 * 1000000);
	assert_int_equal(done, 0);
	assert_int_equal(kc_ttrpc_server_conn_count(fx->srv), 1);
	answer_held(fx, 0);
	run_until(fx, &done, 1);
	assert_int_equal(res->done, 1);
	assert_int_equal(res->code[0], KC_TTRPC_OK);
	assert_int_equal(kc_ttrpc_server_conn_count(fx->srv), 0);
	/* The client learns that the connection is gone. */
	run_until(fx, &fx->client_closed, 1);
	free(res);
}

/* Freeing the client from its own callback is allowed. */
static void free_in_cb(const struct kc_ttrpc_reply *reply, void *data)
{
	struct fx *fx = data;

	struct kc_ttrpc_client *c = fx->cli;

	(void)reply;
	/* The second callback runs from inside this free, with CANCELLED. */
	fx->cli = NULL;
	kc_ttrpc_client_free(c);
}

static void test_free_from_callback(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(kc_ttrpc_client_call(fx->cli, SVC, "Echo", "a", 1, NULL, free_in_cb, fx,
					      NULL, NULL),
			 0);
	assert_int_equal(kc_ttrpc_client_call(fx->cli, SVC, "Hold", "b", 1, NULL, free_in_cb, fx,
					      NULL, NULL),
			 0);
	while (fx->cli != NULL)
		kc_loop_run_once(fx->loop, 5 * 1000000, NULL);
	/* The server notices and cancels the held call. */
	while (fx->cancels < 1)
		kc_loop_run_once(fx->loop, 5 * 1000000, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_mid_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_from_callback, setup, teardown),
	};

	return cmocka_run_group_tests_name("ttrpc-rpc", tests, NULL, NULL);
}
