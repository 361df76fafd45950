/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A quick ttrpc throughput check (not a test): a server thread and a client
 * thread, each with its own event loop, over a unix socket; the client
 * keeps DEPTH calls in flight on one connection.
 *
 *   bench_echo [calls] [depth...]      e.g. bench_echo 200000 1 8 64
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health.pb-c.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"
#include "ttrpc/transport.h"

struct bench {
	struct kc_loop *loop;
	struct kc_ttrpc_client *cli;
	long issued, done, total;
	int failed;
};

static void check(struct kc_ttrpc_call *call, const ProtobufCMessage *req, void *data)
{
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;

	(void)req;
	(void)data;
	resp.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

static void *serve(void *arg)
{
	kc_loop_run(arg, NULL);
	return NULL;
}

static void issue(struct bench *b);

static void on_reply(const struct kc_ttrpc_reply *reply, void *data)
{
	struct bench *b = data;

	if (reply->code != 0)
		b->failed++;
	b->done++;
	if (b->issued < b->total)
		issue(b);
	else if (b->done == b->total)
		kc_loop_quit(b->loop);
}

static void issue(struct bench *b)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;

	req.service = "bench";
	b->issued++;
	if (kc_ttrpc_client_call_msg(b->cli, "grpc.Health", "Check", &req.base, NULL, on_reply, b,
				     NULL, NULL) < 0)
		abort();
}

static void stop_loop(void *data)
{
	kc_loop_quit(data);
}

int main(int argc, char **argv)
{
	const kc_ttrpc_msg_handler_fn handlers[] = { check, NULL };
	long total = argc > 1 ? atol(argv[1]) : 200000;
	struct kc_loop *sloop, *cloop;
	struct kc_ttrpc_server *srv;
	char uri[64];
	pthread_t th;
	int fd;

	snprintf(uri, sizeof(uri), "unix:///tmp/kc-bench-%d.sock", getpid());
	unlink(uri + 7);
	if (kc_loop_new(&sloop, NULL) < 0 || kc_ttrpc_server_new(sloop, &srv, NULL) < 0 ||
	    kc_ttrpc_server_register_service(srv, &grpc__health__descriptor, handlers, NULL, NULL) <
		    0 ||
	    kc_ttrpc_server_listen(srv, uri, 0, NULL) < 0)
		return 1;
	pthread_create(&th, NULL, serve, sloop);
	kc_loop_new(&cloop, NULL);
	for (int a = 2; a < argc || a == 2; a++) {
		long depth = argc > a ? atol(argv[a]) : 1;
		struct bench b = { .loop = cloop, .total = total };
		uint64_t t0, t1;

		fd = kc_ttrpc_dial(uri, 1000000000, NULL);
		if (fd < 0 || kc_ttrpc_client_new(cloop, fd, &b.cli, NULL) < 0)
			return 1;
		t0 = kc_monotonic_ns();
		for (long i = 0; i < depth && b.issued < total; i++)
			issue(&b);
		kc_loop_run(cloop, NULL);
		t1 = kc_monotonic_ns();
		printf("depth %3ld: %ld calls in %.3f s: %.0f calls/s (%.2f us/call)%s\n", depth,
		       b.done, (double)(t1 - t0) / 1e9, (double)b.done * 1e9 / (double)(t1 - t0),
		       (double)(t1 - t0) / 1e3 / (double)b.done, b.failed ? " FAILURES" : "");
		kc_ttrpc_client_free(b.cli);
	}
	kc_loop_post(sloop, stop_loop, sloop);
	pthread_join(th, NULL);
	kc_ttrpc_server_free(srv);
	kc_loop_free(sloop);
	kc_loop_free(cloop);
	unlink(uri + 7);
	return 0;
}
