/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-c's side of bench/ttrpc (the Go reference is tests/interop/go, mode
 * bench).  Both echo a small message that each side decodes and re-encodes
 * (here protobuf-c's grpc.CheckRequest, one string field 1: the same bytes
 * as the Go side's google.protobuf.BytesValue).
 *
 *   bench_ttrpc run CALLERS SECONDS WARMUP_SECONDS [SIZE]
 *       client and server in this process (a server thread and a client
 *       thread, each with its event loop) over a unix socket, one
 *       connection, CALLERS calls in flight; prints
 *       `calls=N seconds=S calls_per_s=R p50_us=A p99_us=B`
 *   bench_ttrpc serve SOCKET
 *       the echo server alone, until SIGTERM (for its memory use)
 *   bench_ttrpc load SOCKET CONNS DEPTH SECONDS PID
 *       CONNS connections with DEPTH calls in flight each for SECONDS, then,
 *       still connected, prints server PID's memory from /proc/PID/status
 *       and smaps_rollup: `calls=N vm_rss_kib=A vm_hwm_kib=B rss_anon_kib=C
 *       pss_kib=D private_kib=E`
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "health.pb-c.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"
#include "../../tests/interop/serve.h"
#include "ttrpc/transport.h"

#define NS_PER_S 1000000000ull
#define MAX_SLOTS 1024

/* kc.interop.Echo with the one method the benchmark calls, served through
 * kc_ttrpc_server_register_service() as the agent's services are. */
static const ProtobufCMethodDescriptor echo_methods[] = {
	{ "Echo", &grpc__check_request__descriptor, &grpc__check_request__descriptor },
};
static const unsigned echo_method_index[] = { 0 };
static const ProtobufCServiceDescriptor echo_service = {
	PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC,
	"kc.interop.Echo",
	"Echo",
	"kc_interop_Echo",
	"kc.interop",
	1,
	echo_methods,
	echo_method_index,
};

static void h_echo(struct kc_ttrpc_call *call, const ProtobufCMessage *req, void *data)
{
	(void)data;
	kc_ttrpc_call_reply_msg(call, req);
}

static int register_echo(struct kc_ttrpc_server *srv, kc_error_t *err)
{
	static const kc_ttrpc_msg_handler_fn handlers[] = { h_echo };

	return kc_ttrpc_server_register_service(srv, &echo_service, handlers, NULL, err);
}

/* ---- the client side ---- */

struct bench;

struct slot {
	struct bench *b;
	uint64_t t0;
	bool busy;
};

struct bench {
	struct kc_loop *loop;
	struct kc_ttrpc_client **cli;
	size_t n_cli;
	Grpc__CheckRequest req;
	size_t size;
	struct slot *slots;
	size_t n_slots, busy;
	bool measuring, stopping;
	uint64_t t_start, t_end;
	uint32_t *lat; /* ns, calls answered while measuring */
	size_t n_lat, cap_lat;
	int failed;
	struct kc_loop_timer start_timer, stop_timer;
	/* load: the server whose /proc/PID/status is read at the end of the
	 * measured period, with every connection still open and busy */
	const char *rss_pid;
	char *rss_status, *rss_rollup;
};

/* /proc/PID/NAME, NULL (and a message) if unreadable. */
static char *proc_read(const char *pid, const char *name)
{
	cleanup_error kc_error_t err = NULL;
	char *path = kc_xasprintf("/proc/%s/%s", pid, name);
	char *text = NULL;
	size_t len;

	if (kc_read_file(path, 1 << 20, &text, &len, &err) < 0)
		kc_error_report("bench_ttrpc", &err);
	free(path);
	return text;
}

static void slot_issue(struct slot *s);

static void on_reply(const struct kc_ttrpc_reply *reply, void *data)
{
	struct slot *s = data;
	struct bench *b = s->b;
	uint64_t t = kc_monotonic_ns();
	Grpc__CheckRequest *resp;

	s->busy = false;
	b->busy--;
	resp = reply->code == 0 ? grpc__check_request__unpack(NULL, reply->len, reply->payload)
				: NULL;
	if (resp == NULL || strlen(resp->service) != b->size) {
		if (b->failed++ == 0)
			fprintf(stderr, "bench_ttrpc: bad answer: code %d %.*s\n", reply->code,
				(int)reply->message_len, reply->message);
	}
	if (resp != NULL)
		grpc__check_request__free_unpacked(resp, NULL);
	if (b->measuring) {
		if (b->n_lat == b->cap_lat) {
			b->cap_lat = b->cap_lat ? 2 * b->cap_lat : 1u << 20;
			b->lat = kc_xrealloc(b->lat, b->cap_lat * sizeof(*b->lat));
		}
		b->lat[b->n_lat++] = (uint32_t)(t - s->t0 > UINT32_MAX ? UINT32_MAX : t - s->t0);
	}
	if (!b->stopping && reply->code != KC_TTRPC_UNAVAILABLE)
		slot_issue(s);
	else if (b->busy == 0)
		kc_loop_quit(b->loop);
}

static void slot_issue(struct slot *s)
{
	struct bench *b = s->b;
	struct kc_ttrpc_client *cli = b->cli[(size_t)(s - b->slots) % b->n_cli];
	cleanup_error kc_error_t err = NULL;

	s->t0 = kc_monotonic_ns();
	if (kc_ttrpc_client_call_msg(cli, "kc.interop.Echo", "Echo", &b->req.base, NULL, on_reply,
				     s, NULL, &err) < 0) {
		kc_error_report("bench_ttrpc", &err);
		exit(1);
	}
	s->busy = true;
	b->busy++;
}

static void start_measuring(void *data)
{
	struct bench *b = data;

	b->measuring = true;
	b->t_start = kc_monotonic_ns();
}

static void stop_measuring(void *data)
{
	struct bench *b = data;

	if (b->rss_pid != NULL) {
		b->rss_status = proc_read(b->rss_pid, "status");
		b->rss_rollup = proc_read(b->rss_pid, "smaps_rollup");
	}
	b->measuring = false;
	b->t_end = kc_monotonic_ns();
	b->stopping = true;
	if (b->busy == 0)
		kc_loop_quit(b->loop);
}

/* Warm-up, then the measured period, then waits for the calls in flight. */
static int bench_run(struct bench *b, double secs, double warmup)
{
	uint64_t now = kc_monotonic_ns();
	char *value = kc_xmalloc(b->size + 1);

	for (size_t i = 0; i < b->size; i++)
		value[i] = (char)('a' + i % 26);
	value[b->size] = '\0';
	grpc__check_request__init(&b->req);
	b->req.service = value;
	b->slots = kc_xzalloc(b->n_slots * sizeof(*b->slots));
	kc_loop_timer_init(&b->start_timer, start_measuring, b);
	kc_loop_timer_init(&b->stop_timer, stop_measuring, b);
	kc_loop_timer_start(b->loop, &b->start_timer, now + (uint64_t)(warmup * 1e9));
	kc_loop_timer_start(b->loop, &b->stop_timer, now + (uint64_t)((warmup + secs) * 1e9));
	for (size_t i = 0; i < b->n_slots; i++) {
		b->slots[i].b = b;
		slot_issue(&b->slots[i]);
	}
	kc_loop_run(b->loop, NULL);
	free(b->slots);
	free(value);
	return b->failed ? -1 : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void *serve_thread(void *arg)
{
	kc_loop_run(arg, NULL);
	return NULL;
}

static void stop_loop(void *data)
{
	kc_loop_quit(data);
}

static int cmd_run(size_t callers, double secs, double warmup, size_t size)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_loop *sloop = NULL;
	struct kc_ttrpc_server *srv = NULL;
	struct kc_ttrpc_client *cli = NULL;
	struct bench b = { .n_slots = callers, .size = size, .n_cli = 1, .cli = &cli };
	char dir[] = "/tmp/kc-bench-XXXXXX";
	char uri[64];
	pthread_t th;
	double elapsed;
	int fd, ret;

	if (mkdtemp(dir) == NULL) {
		perror("bench_ttrpc: mkdtemp");
		return 1;
	}
	snprintf(uri, sizeof(uri), "unix://%s/s.sock", dir);
	ret = kc_loop_new(&sloop, &err);
	if (ret >= 0)
		ret = kc_ttrpc_server_new(sloop, &srv, &err);
	if (ret >= 0)
		ret = register_echo(srv, &err);
	if (ret >= 0)
		ret = kc_ttrpc_server_listen(srv, uri, 0, &err);
	if (ret >= 0)
		ret = kc_loop_new(&b.loop, &err);
	if (ret >= 0) {
		pthread_create(&th, NULL, serve_thread, sloop);
		fd = kc_ttrpc_dial(uri, NS_PER_S, &err);
		ret = fd < 0 ? fd : kc_ttrpc_client_new(b.loop, fd, &cli, &err);
		if (ret >= 0)
			ret = bench_run(&b, secs, warmup);
		kc_loop_post(sloop, stop_loop, sloop);
		pthread_join(th, NULL);
	}
	if (cli != NULL)
		kc_ttrpc_client_free(cli);
	if (srv != NULL)
		kc_ttrpc_server_free(srv);
	if (b.loop != NULL)
		kc_loop_free(b.loop);
	if (sloop != NULL)
		kc_loop_free(sloop);
	snprintf(uri, sizeof(uri), "%s/s.sock", dir);
	unlink(uri);
	rmdir(dir);
	if (ret < 0 || b.n_lat == 0) {
		if (err != NULL)
			kc_error_report("bench_ttrpc", &err);
		else
			fprintf(stderr, "bench_ttrpc: %s\n",
				b.failed ? "wrong answers" : "no calls completed");
		free(b.lat);
		return 1;
	}
	qsort(b.lat, b.n_lat, sizeof(*b.lat), cmp_u32);
	elapsed = (double)(b.t_end - b.t_start) / 1e9;
	printf("calls=%zu seconds=%.3f calls_per_s=%.0f p50_us=%.1f p99_us=%.1f\n", b.n_lat,
	       elapsed, (double)b.n_lat / elapsed,
	       (double)b.lat[(size_t)(0.50 * (double)(b.n_lat - 1))] / 1e3,
	       (double)b.lat[(size_t)(0.99 * (double)(b.n_lat - 1))] / 1e3);
	free(b.lat);
	return 0;
}

/* ---- server alone, and a load for it ---- */

/* Reads "Key:  123 kB" from /proc/PID/status or smaps_rollup; -1 if absent. */
static long status_kib(const char *status, const char *key)
{
	const char *p = strstr(status, key);

	return p == NULL ? -1 : strtol(p + strlen(key), NULL, 10);
}

static int cmd_load(const char *path, size_t conns, size_t depth, double secs, const char *pid)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_ttrpc_client *cli[64] = { 0 };
	struct bench b = { .n_slots = conns * depth,
			   .size = 32,
			   .n_cli = conns,
			   .cli = cli,
			   .rss_pid = pid };
	char *uri = kc_xasprintf("unix://%s", path);
	int ret = kc_loop_new(&b.loop, &err);

	for (size_t i = 0; ret >= 0 && i < conns; i++) {
		int fd = kc_ttrpc_dial(uri, 5 * NS_PER_S, &err);

		ret = fd < 0 ? fd : kc_ttrpc_client_new(b.loop, fd, &cli[i], &err);
	}
	if (ret >= 0)
		ret = bench_run(&b, secs, 0);
	if (ret >= 0 && (b.rss_status == NULL || b.rss_rollup == NULL))
		ret = kc_error_set(&err, ESRCH, "reading the memory of process %s", pid);
	if (ret >= 0)
		printf("calls=%zu vm_rss_kib=%ld vm_hwm_kib=%ld rss_anon_kib=%ld pss_kib=%ld "
		       "private_kib=%ld\n",
		       b.n_lat, status_kib(b.rss_status, "VmRSS:"),
		       status_kib(b.rss_status, "VmHWM:"), status_kib(b.rss_status, "RssAnon:"),
		       status_kib(b.rss_rollup, "\nPss:"),
		       status_kib(b.rss_rollup, "Private_Clean:") +
			       status_kib(b.rss_rollup, "Private_Dirty:"));
	for (size_t i = 0; i < conns; i++) {
		if (cli[i] != NULL)
			kc_ttrpc_client_free(cli[i]);
	}
	if (b.loop != NULL)
		kc_loop_free(b.loop);
	free(b.lat);
	free(b.rss_status);
	free(b.rss_rollup);
	free(uri);
	if (ret < 0) {
		if (err != NULL)
			kc_error_report("bench_ttrpc", &err);
		return 1;
	}
	return 0;
}

static bool parse_size(const char *s, size_t min, size_t max, size_t *out)
{
	unsigned long long v;

	if (!kc_parse_u64(s, &v) || v < min || v > max)
		return false;
	*out = (size_t)v;
	return true;
}

int main(int argc, char **argv)
{
	size_t a, b, c = 32;
	double secs, warm;

	if (argc >= 5 && strcmp(argv[1], "run") == 0 && parse_size(argv[2], 1, MAX_SLOTS, &a) &&
	    (secs = atof(argv[3])) > 0 && (warm = atof(argv[4])) >= 0 &&
	    (argc == 5 || parse_size(argv[5], 0, 1u << 20, &c)))
		return cmd_run(a, secs, warm, c);
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve_until_signal("bench_ttrpc", argv[2], register_echo);
	if (argc == 7 && strcmp(argv[1], "load") == 0 && parse_size(argv[3], 1, 64, &a) &&
	    parse_size(argv[4], 1, MAX_SLOTS, &b) && (secs = atof(argv[5])) > 0)
		return cmd_load(argv[2], a, b, secs, argv[6]);
	fprintf(stderr, "usage: bench_ttrpc run CALLERS SECONDS WARMUP_SECONDS [SIZE]\n"
			"       bench_ttrpc serve SOCKET\n"
			"       bench_ttrpc load SOCKET CONNS DEPTH SECONDS PID\n");
	return 2;
}
