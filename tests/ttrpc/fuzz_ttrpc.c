/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for ttrpc: random bytes must never crash, leak or hang
 * the frame decoder, the server's request dispatch or the client's answer
 * handling.  The first byte picks the part, the rest is the input:
 *
 *   0  the frame reader (fed in chunks whose sizes come from the input) and
 *      the Request/Response decoders on every frame
 *   1  a server on one end of a socketpair, the input written to the other
 *      end as a client's stream: raw, long-poll and typed (protobuf-c)
 *      handlers, deadlines, oversized frames; whatever the server writes
 *      back must be well-formed Response frames
 *   2  a client with calls in flight, the input arriving as the server's
 *      answers; every call must be answered exactly once
 *
 * Build (from the source root; the protobuf code is generated first, as
 * the meson build does):
 *
 *   mkdir -p /tmp/fz/proto
 *   protoc-c --proto_path=src/proto --c_out=/tmp/fz/proto src/proto/[a-z]*.proto
 *   clang -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
 *     -I src -I /tmp/fz/proto tests/ttrpc/fuzz_ttrpc.c src/ttrpc/[a-z]*.c \
 *     src/lib/error.c src/lib/util.c src/lib/log.c /tmp/fz/proto/[a-z]*.pb-c.c \
 *     -lprotobuf-c -lpthread -o /tmp/fz/fuzz_ttrpc
 *   /tmp/fz/fuzz_ttrpc -max_total_time=60 -rss_limit_mb=512
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/fuzz_rpc.h"
#include "lib/log.h"
#include "shim_task.pb-c.h"
#include "ttrpc/client.h"
#include "ttrpc/frame.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"
#include "ttrpc/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- 0: pure decoding ---- */

static void check_frame(const struct kc_ttrpc_frame *f)
{
	struct kc_ttrpc_request_view req;
	struct kc_ttrpc_response_view resp;

	if (kc_ttrpc_request_decode(f->body, f->hdr.length, &req) == 0) {
		struct kc_ttrpc_bytes k, v;
		size_t cursor = 0, n = 0;

		while (kc_ttrpc_request_metadata_next(&req, &cursor, &k, &v))
			n++;
		if (n != req.n_metadata)
			abort();
	}
	kc_ttrpc_response_decode(f->body, f->hdr.length, &resp);
}

static void fuzz_reader(const uint8_t *data, size_t size)
{
	struct kc_ttrpc_reader r;
	struct kc_ttrpc_frame f;
	size_t off = 0;

	/* A small limit, so that oversized frames are common. */
	kc_ttrpc_reader_init(&r, 1024);
	while (off < size) {
		size_t chunk = 1 + data[off] % 64;

		if (chunk > size - off)
			chunk = size - off;
		while (chunk > 0) {
			size_t n = kc_ttrpc_reader_feed(&r, data + off, chunk);
			int res;

			off += n;
			chunk -= n;
			while ((res = kc_ttrpc_reader_next(&r, &f)) != KC_TTRPC_READ_MORE) {
				if (res == KC_TTRPC_READ_FRAME)
					check_frame(&f);
				else if (f.hdr.length <= 1024)
					abort();
			}
		}
	}
	kc_ttrpc_reader_release(&r);
}

/* ---- 1: the server ---- */

struct server_fx {
	struct kc_loop *loop;
	struct kc_ttrpc_call *held[8];
	int n_held;
	struct kc_loop_defer answer;
};

static void h_echo(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	(void)data;
	if (len > 0 && p[0] == 'F')
		kc_ttrpc_call_fail(call, p[len - 1] % 20, "%.*s", (int)len, (const char *)p);
	else
		kc_ttrpc_call_reply(call, p, len);
}

static void held_cancel(struct kc_ttrpc_call *call, void *data)
{
	struct server_fx *fx = data;

	for (int i = 0; i < fx->n_held; i++) {
		if (fx->held[i] == call) {
			fx->held[i] = fx->held[--fx->n_held];
			break;
		}
	}
	kc_ttrpc_call_fail(call, KC_TTRPC_CANCELLED, "cancelled");
}

/* Long polls answered from a later loop iteration. */
static void answer_held(void *data)
{
	struct server_fx *fx = data;

	while (fx->n_held > 0)
		kc_ttrpc_call_reply(fx->held[--fx->n_held], "late", 4);
}

static void h_hold(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	struct server_fx *fx = data;

	if (fx->n_held == 8) {
		kc_ttrpc_call_fail(call, KC_TTRPC_RESOURCE_EXHAUSTED, "full");
		return;
	}
	fx->held[fx->n_held++] = call;
	kc_ttrpc_call_set_cancel(call, held_cancel, fx);
	/* Some stay until their deadline or the end of the connection. */
	if (len == 0 || p[0] != 'W')
		kc_loop_defer_queue(fx->loop, &fx->answer);
}

static void h_connect(struct kc_ttrpc_call *call, const ProtobufCMessage *req, void *data)
{
	const Containerd__Task__V2__ConnectRequest *r = (const void *)req;
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

	(void)data;
	resp.shim_pid = 1;
	resp.version = r->id;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

static void h_create(struct kc_ttrpc_call *call, const ProtobufCMessage *req, void *data)
{
	const Containerd__Task__V2__CreateTaskRequest *r = (const void *)req;

	(void)data;
	if (r->n_rootfs > 0 && r->rootfs[0]->n_options > 0)
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "%s", r->rootfs[0]->options[0]);
	else
		kc_ttrpc_call_reply_msg(call, NULL);
}

static void fuzz_server(const uint8_t *data, size_t size)
{
	struct server_fx fx = { 0 };
	struct kc_ttrpc_server *srv;
	kc_ttrpc_msg_handler_fn task[17] = { 0 };

	task[1] = h_create;
	task[15] = h_connect;
	if (kc_loop_new(&fx.loop, NULL) < 0)
		abort();
	kc_loop_defer_init(&fx.answer, answer_held, &fx);
	kc_ttrpc_server_new(fx.loop, &srv, NULL);
	kc_ttrpc_server_set_max_calls(srv, 16);
	kc_ttrpc_server_register(srv, "f", "Echo", h_echo, &fx, NULL);
	kc_ttrpc_server_register(srv, "f", "Hold", h_hold, &fx, NULL);
	kc_ttrpc_server_register_service(srv, &containerd__task__v2__task__descriptor, task, &fx,
					 NULL);
	kc_fuzz_serve(fx.loop, srv, data, size);
	kc_ttrpc_server_free(srv);
	kc_loop_defer_cancel(fx.loop, &fx.answer);
	if (fx.n_held != 0)
		abort();
	kc_loop_free(fx.loop);
}

/* ---- 2: the client ---- */

static void on_reply(const struct kc_ttrpc_reply *reply, void *data)
{
	int *answered = data;

	(void)reply;
	(*answered)++;
}

static void fuzz_client(const uint8_t *data, size_t size)
{
	struct kc_loop *loop;
	struct kc_ttrpc_client *cli;
	struct kc_ttrpc_call_opts opts = { .timeout_ns = 1000000 };
	size_t off = 0;
	int answered = 0, sv[2];

	if (kc_loop_new(&loop, NULL) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (kc_ttrpc_client_new(loop, sv[0], &cli, NULL) < 0)
		abort();
	/* Streams 1, 3, 5 and 7; the last one with a short deadline. */
	for (int i = 0; i < 4; i++)
		if (kc_ttrpc_client_call(cli, "s", "m", "x", 1, i == 3 ? &opts : NULL, on_reply,
					 &answered, NULL, NULL) < 0)
			abort();
	for (int iter = 0; kc_ttrpc_client_connected(cli); iter++) {
		char sink[4096];

		if (off < size) {
			ssize_t n = write(sv[1], data + off, size - off);

			if (n > 0)
				off += (size_t)n;
		} else {
			close(sv[1]);
			sv[1] = -1;
		}
		while (sv[1] >= 0 && read(sv[1], sink, sizeof(sink)) > 0)
			;
		kc_loop_run_once(loop, 0, NULL);
		if (iter > 100000)
			abort();
	}
	if (answered != 4)
		abort();
	kc_ttrpc_client_free(cli);
	if (sv[1] >= 0)
		close(sv[1]);
	kc_loop_free(loop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;

	if (!init) {
		kc_log_set_level(KC_LOG_ERROR);
		init = 1;
	}
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_reader(data + 1, size - 1);
		break;
	case 1:
		fuzz_server(data + 1, size - 1);
		break;
	default:
		fuzz_client(data + 1, size - 1);
		break;
	}
	return 0;
}
