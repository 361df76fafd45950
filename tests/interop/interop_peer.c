/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kata-c side of the ttrpc interop tests against containerd's Go ttrpc
 * (tests/interop/go, driven by run-interop.sh):
 *
 *   interop_peer serve SOCKET    serves kc.interop.Echo on a unix socket
 *                                until SIGTERM or SIGINT, then frees
 *                                everything and exits 0
 *   interop_peer client SOCKET   calls the Go server and prints one
 *                                unnumbered TAP line per case
 *
 * The service (tests/interop/go/service.go is the Go one) takes and answers
 * google.protobuf.BytesValue / StringValue, whose encoding is one field 1,
 * length-delimited (nothing at all for an empty value):
 *
 *   Echo(BytesValue) BytesValue          the request, unchanged
 *   Fail(StringValue "CODE MSG")         fails with status CODE, message MSG
 *   Meta(StringValue KEY) StringValue    the first metadata value for KEY,
 *                                        NOT_FOUND if there is none
 *   Deadline(StringValue) StringValue    "none", or the ms left before the
 *                                        caller's deadline
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"
#include "serve.h"
#include "ttrpc/transport.h"

#define SVC "kc.interop.Echo"
#define NS_PER_S 1000000000ull

/* ---- the wrapper messages ---- */

/* Encodes a BytesValue/StringValue holding value; malloc'd, NULL if empty. */
static uint8_t *wrap(const void *value, size_t len, size_t *out_len)
{
	uint8_t *out, *p;
	size_t n = len;

	*out_len = 0;
	if (len == 0)
		return NULL;
	out = kc_xmalloc(len + 11);
	p = out;
	*p++ = 0x0a; /* field 1, length-delimited */
	do {
		*p++ = (uint8_t)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
		n >>= 7;
	} while (n);
	memcpy(p, value, len);
	*out_len = (size_t)(p - out) + len;
	return out;
}

/* Finds the value of a BytesValue/StringValue; false if malformed. */
static bool unwrap(const uint8_t *p, size_t len, const uint8_t **value, size_t *value_len)
{
	uint64_t n = 0;
	size_t i = 1;

	*value = p;
	*value_len = 0;
	if (len == 0)
		return true;
	if (p[0] != 0x0a)
		return false;
	for (int shift = 0; i < len && shift < 64; shift += 7) {
		n |= (uint64_t)(p[i] & 0x7f) << shift;
		if (!(p[i++] & 0x80))
			break;
		if (i == len)
			return false;
	}
	if (n != len - i)
		return false;
	*value = p + i;
	*value_len = (size_t)n;
	return true;
}

static void reply_string(struct kc_ttrpc_call *call, const char *s, size_t len)
{
	size_t n;
	uint8_t *out = wrap(s, len, &n);

	kc_ttrpc_call_reply(call, out, n);
	free(out);
}

/* ---- server ---- */

static void h_echo(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	(void)data;
	kc_ttrpc_call_reply(call, p, len);
}

static void h_fail(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	const uint8_t *v;
	size_t vlen;
	char *req, *msg;
	long code;

	(void)data;
	if (!unwrap(p, len, &v, &vlen)) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "Fail: malformed request");
		return;
	}
	req = kc_xstrndup((const char *)v, vlen);
	code = strtol(req, &msg, 10);
	if (*msg != ' ' || code <= 0 || code > 16)
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "bad Fail request \"%s\"", req);
	else
		kc_ttrpc_call_fail(call, (int)code, "%s", msg + 1);
	free(req);
}

static void h_meta(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	const uint8_t *v;
	const char *value;
	size_t vlen, value_len;
	char *key;

	(void)data;
	if (!unwrap(p, len, &v, &vlen)) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "Meta: malformed request");
		return;
	}
	key = kc_xstrndup((const char *)v, vlen);
	if (kc_ttrpc_call_metadata(call, key, &value, &value_len))
		reply_string(call, value, value_len);
	else
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "no metadata \"%s\"", key);
	free(key);
}

static void h_deadline(struct kc_ttrpc_call *call, const uint8_t *p, size_t len, void *data)
{
	uint64_t deadline = kc_ttrpc_call_deadline(call);
	char buf[32];
	int n;

	(void)p;
	(void)len;
	(void)data;
	if (deadline == 0)
		n = snprintf(buf, sizeof(buf), "none");
	else
		n = snprintf(buf, sizeof(buf), "%lld",
			     ((long long)deadline - (long long)kc_monotonic_ns()) / 1000000);
	reply_string(call, buf, (size_t)n);
}

static int register_methods(struct kc_ttrpc_server *srv, kc_error_t *err)
{
	static const struct {
		const char *name;
		kc_ttrpc_handler_fn fn;
	} methods[] = {
		{ "Echo", h_echo },
		{ "Fail", h_fail },
		{ "Meta", h_meta },
		{ "Deadline", h_deadline },
	};
	int ret = 0;

	for (size_t i = 0; ret >= 0 && i < sizeof(methods) / sizeof(methods[0]); i++)
		ret = kc_ttrpc_server_register(srv, SVC, methods[i].name, methods[i].fn, NULL, err);
	return ret;
}

/* ---- client ---- */

struct peer {
	struct kc_loop *loop;
	struct kc_ttrpc_client *cli;
	const char *uri;
	int failed;
};

struct result {
	bool done;
	int code;
	char *message;
	uint8_t *payload;
	size_t len;
};

static void result_clear(struct result *r)
{
	free(r->message);
	free(r->payload);
	memset(r, 0, sizeof(*r));
}

static void on_result(const struct kc_ttrpc_reply *reply, void *data)
{
	struct result *r = data;

	r->done = true;
	r->code = reply->code;
	r->message = kc_xstrndup(reply->message ? reply->message : "", reply->message_len);
	r->len = reply->len;
	r->payload = kc_xmalloc(reply->len + 1);
	if (reply->len)
		memcpy(r->payload, reply->payload, reply->len);
}

static void check(struct peer *p, bool pass, const char *desc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prints the case's line and, on failure, the formatted reason. */
static void check(struct peer *p, bool pass, const char *desc, const char *fmt, ...)
{
	va_list ap;

	printf("%s - C client -> Go server: %s\n", pass ? "ok" : "not ok", desc);
	if (!pass) {
		p->failed++;
		printf("#   ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

/* Runs the loop until *done or 30 s have passed; false on time-out. */
static bool run_until(struct peer *p, const bool *done)
{
	uint64_t end = kc_monotonic_ns() + 30 * NS_PER_S;

	while (!*done) {
		if (kc_loop_run_once(p->loop, 100 * 1000000, NULL) < 0 || kc_monotonic_ns() > end)
			return false;
	}
	return true;
}

/* One call, waited for; r->code is -1 when it could not be made. */
static void call(struct peer *p, const char *service, const char *method, const void *req,
		 size_t len, const struct kc_ttrpc_call_opts *opts, struct result *r)
{
	cleanup_error kc_error_t err = NULL;

	result_clear(r);
	if (kc_ttrpc_client_call(p->cli, service, method, req, len, opts, on_result, r, NULL,
				 &err) < 0) {
		r->code = -1;
		r->message = kc_xstrdup(err->msg);
		return;
	}
	if (!run_until(p, &r->done)) {
		r->code = -1;
		r->message = kc_xstrdup("no answer within 30 s");
	}
}

static void call_string(struct peer *p, const char *method, const char *s,
			const struct kc_ttrpc_call_opts *opts, struct result *r)
{
	size_t n;
	uint8_t *req = wrap(s, strlen(s), &n);

	call(p, SVC, method, req, n, opts, r);
	free(req);
}

/* The value of a StringValue answer, as a C string (static buffer). */
static const char *answer_string(const struct result *r)
{
	static char buf[256];
	const uint8_t *v;
	size_t n;

	if (r->code != KC_TTRPC_OK || !unwrap(r->payload, r->len, &v, &n))
		return "(malformed)";
	snprintf(buf, sizeof(buf), "%.*s", (int)n, (const char *)v);
	return buf;
}

static void fill_pattern(uint8_t *b, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
}

static void test_echo(struct peer *p, const char *desc, const uint8_t *value, size_t len)
{
	struct result r = { 0 };
	const uint8_t *v = NULL;
	size_t n, vlen = 0;
	uint8_t *req = wrap(value, len, &n);
	bool ok;

	call(p, SVC, "Echo", req, n, NULL, &r);
	ok = r.code == 0 && unwrap(r.payload, r.len, &v, &vlen) && vlen == len &&
	     (len == 0 || memcmp(v, value, len) == 0);
	check(p, ok, desc, "code %d (%s), %zu bytes back for %zu sent%s", r.code, r.message, vlen,
	      len, vlen == len ? ", different" : "");
	result_clear(&r);
	free(req);
}

/* Calls Fail; true if code and message came back intact. */
static bool fail_intact(struct peer *p, int code, const char *msg, char *why, size_t why_len)
{
	struct result r = { 0 };
	char *req = kc_xasprintf("%d %s", code, msg);
	bool ok;

	call_string(p, "Fail", req, NULL, &r);
	ok = r.code == code && strcmp(r.message, msg) == 0;
	if (!ok)
		snprintf(why, why_len,
			 "sent code %d message \"%.40s\", got code %d message \"%.40s\"", code, msg,
			 r.code, r.message);
	result_clear(&r);
	free(req);
	return ok;
}

/* ---- many calls in flight ---- */

struct load {
	struct peer *p;
	struct kc_ttrpc_client *cli;
	int conn;
	long issued, done, total;
	int failures;
	char why[256];
};

struct pending {
	struct load *ld;
	long seq;
	int code; /* the expected status */
	char *msg;
	uint8_t *value;
	size_t len;
};

static void load_issue(struct load *ld);

static void load_fail(struct load *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void load_fail(struct load *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->failures++ == 0) {
		va_start(ap, fmt);
		vsnprintf(ld->why, sizeof(ld->why), fmt, ap);
		va_end(ap);
	}
}

static void load_reply(const struct kc_ttrpc_reply *reply, void *data)
{
	struct pending *pc = data;
	struct load *ld = pc->ld;
	const uint8_t *v;
	size_t vlen;

	if (reply->code != pc->code)
		load_fail(ld, "conn %d call %ld: code %d, want %d", ld->conn, pc->seq, reply->code,
			  pc->code);
	else if (pc->code != 0 && (reply->message_len != strlen(pc->msg) ||
				   memcmp(reply->message, pc->msg, reply->message_len) != 0))
		load_fail(ld, "conn %d call %ld: message \"%.*s\", want \"%s\"", ld->conn, pc->seq,
			  (int)reply->message_len, reply->message, pc->msg);
	else if (pc->code == 0 && (!unwrap(reply->payload, reply->len, &v, &vlen) ||
				   vlen != pc->len || (vlen && memcmp(v, pc->value, vlen) != 0)))
		load_fail(ld, "conn %d call %ld: echo of %zu bytes came back different", ld->conn,
			  pc->seq, pc->len);
	free(pc->msg);
	free(pc->value);
	free(pc);
	ld->done++;
	if (ld->issued < ld->total)
		load_issue(ld);
}

/* Every fifth call fails with its own message, the others echo their own
 * payload: a reply matched to the wrong call shows. */
static void load_issue(struct load *ld)
{
	cleanup_error kc_error_t err = NULL;
	struct pending *pc = kc_xzalloc(sizeof(*pc));
	uint8_t *req;
	char *s;
	size_t n;

	pc->ld = ld;
	pc->seq = ld->issued++;
	if (pc->seq % 5 == 4) {
		pc->code = 1 + (int)((pc->seq + ld->conn) % 16);
		pc->msg = kc_xasprintf("conn %d call %ld", ld->conn, pc->seq);
		s = kc_xasprintf("%d %s", pc->code, pc->msg);
		req = wrap(s, strlen(s), &n);
		free(s);
	} else {
		pc->len = (size_t)(pc->seq * 37 + ld->conn) % 3000;
		pc->value = kc_xmalloc(pc->len + 1);
		fill_pattern(pc->value, pc->len, (uint64_t)ld->conn << 32 | (uint64_t)pc->seq);
		req = wrap(pc->value, pc->len, &n);
	}
	if (kc_ttrpc_client_call(ld->cli, SVC, pc->code ? "Fail" : "Echo", req, n, NULL, load_reply,
				 pc, NULL, &err) < 0) {
		load_fail(ld, "conn %d call %ld: %s", ld->conn, pc->seq, err->msg);
		ld->done++;
		free(pc->msg);
		free(pc->value);
		free(pc);
	}
	free(req);
}

/* n_conns connections (conn 0 is p->cli), each keeping depth calls in
 * flight until total calls were answered. */
static void test_load(struct peer *p, const char *desc, int n_conns, int depth, long total)
{
	struct load ld[8];
	uint64_t end = kc_monotonic_ns() + 60 * NS_PER_S;
	bool done = false, dial_ok = true;
	int failures = 0;
	const char *why = "";

	memset(ld, 0, sizeof(ld));
	for (int c = 0; c < n_conns; c++) {
		cleanup_error kc_error_t err = NULL;

		ld[c] = (struct load){ .p = p, .conn = c, .total = total, .cli = p->cli };
		if (c > 0) {
			int fd = kc_ttrpc_dial(p->uri, 5 * NS_PER_S, &err);

			ld[c].cli = NULL;
			if (fd < 0 || kc_ttrpc_client_new(p->loop, fd, &ld[c].cli, &err) < 0) {
				load_fail(&ld[c], "dial: %s", err->msg);
				dial_ok = false;
				ld[c].total = 0;
				continue;
			}
		}
		for (int i = 0; i < depth && ld[c].issued < total; i++)
			load_issue(&ld[c]);
	}
	while (!done && kc_monotonic_ns() < end) {
		kc_loop_run_once(p->loop, 100 * 1000000, NULL);
		done = true;
		for (int c = 0; c < n_conns; c++)
			done = done && ld[c].done == ld[c].total;
	}
	for (int c = 0; c < n_conns; c++) {
		if (ld[c].failures && !failures)
			why = ld[c].why;
		failures += ld[c].failures;
	}
	check(p, done && dial_ok && failures == 0, desc, "%s%d wrong answers; first: %s",
	      done ? "" : "timed out; ", failures, why);
	for (int c = 1; c < n_conns; c++) {
		if (ld[c].cli != NULL)
			kc_ttrpc_client_free(ld[c].cli);
	}
}

static void run_tests(struct peer *p)
{
	static const struct kc_ttrpc_kv md[] = {
		{ "containerd-namespace-ttrpc", "k8s.io" },
		{ "x-kc-trace", "trace-0123456789" },
	};
	const struct kc_ttrpc_call_opts md_opts = { .metadata = md, .n_metadata = 2 };
	const struct kc_ttrpc_call_opts dl_opts = { .timeout_ns = 5 * NS_PER_S };
	struct result r = { 0 };
	uint8_t all[256];
	size_t big_len = 4u * 1024 * 1024 - 1024;
	uint8_t *big = kc_xmalloc(big_len);
	char why[512] = "", *long_msg;
	bool ok;
	long ms;

	test_echo(p, "echo of an empty message (0 bytes)", NULL, 0);
	test_echo(p, "echo of a small message", (const uint8_t *)"hello, Go", 9);
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	test_echo(p, "echo of all 256 byte values (NULs included)", all, sizeof(all));
	fill_pattern(big, big_len, 1);
	test_echo(p, "echo of 1 MiB", big, 1u << 20);
	test_echo(p, "echo of 4 MiB - 1 KiB (near the message limit)", big, big_len);
	free(big);

	ok = fail_intact(p, KC_TTRPC_NOT_FOUND, "no task abc", why, sizeof(why));
	check(p, ok, "error status NOT_FOUND with its message", "%s", why);
	ok = true;
	for (int code = 1; code <= 16; code++) {
		char msg[32];

		snprintf(msg, sizeof(msg), "code %d", code);
		ok = fail_intact(p, code, msg, why, sizeof(why));
		if (!ok)
			break;
	}
	check(p, ok, "error codes 1..16 each cross intact", "%s", why);
	long_msg = kc_xzalloc(16 * 1000 + 1);
	for (int i = 0; i < 1000; i++)
		strcat(long_msg, "ünïcødé ✓ ");
	ok = fail_intact(p, KC_TTRPC_FAILED_PRECONDITION, long_msg, why, sizeof(why));
	check(p, ok, "error message of 14 KB of UTF-8 crosses intact", "%s", why);
	free(long_msg);

	call(p, SVC, "Nope", NULL, 0, NULL, &r);
	check(p, r.code == KC_TTRPC_UNIMPLEMENTED, "unknown method is UNIMPLEMENTED",
	      "code %d (%s)", r.code, r.message);
	call(p, "kc.interop.Nope", "Echo", NULL, 0, NULL, &r);
	check(p, r.code == KC_TTRPC_UNIMPLEMENTED, "unknown service is UNIMPLEMENTED",
	      "code %d (%s)", r.code, r.message);
	test_echo(p, "connection still usable after failures", (const uint8_t *)"still here", 10);

	call_string(p, "Meta", "x-kc-trace", &md_opts, &r);
	check(p, strcmp(answer_string(&r), "trace-0123456789") == 0, "metadata reaches the server",
	      "code %d (%s), server saw \"%s\"", r.code, r.message, answer_string(&r));
	call_string(p, "Meta", "containerd-namespace-ttrpc", &md_opts, &r);
	check(p, strcmp(answer_string(&r), "k8s.io") == 0, "second metadata key reaches the server",
	      "code %d (%s), server saw \"%s\"", r.code, r.message, answer_string(&r));
	call_string(p, "Meta", "x-kc-trace", NULL, &r);
	check(p, r.code == KC_TTRPC_NOT_FOUND, "absent metadata key is NOT_FOUND", "code %d (%s)",
	      r.code, r.message);

	call_string(p, "Deadline", "", NULL, &r);
	check(p, strcmp(answer_string(&r), "none") == 0, "no deadline: server sees none",
	      "code %d (%s), server saw \"%s\"", r.code, r.message, answer_string(&r));
	call_string(p, "Deadline", "", &dl_opts, &r);
	ms = strtol(answer_string(&r), NULL, 10);
	check(p, r.code == 0 && ms > 0 && ms <= 5000,
	      "5 s deadline (timeout_nano) reaches the server",
	      "code %d (%s), server saw \"%s\", want 0 < ms <= 5000", r.code, r.message,
	      answer_string(&r));
	result_clear(&r);

	test_load(p,
		  "50 calls in flight on one connection, 5000 calls (echo and errors interleaved)",
		  1, 50, 5000);
	test_load(p, "8 connections x 8 calls in flight x 400 calls at once", 8, 8, 400);
}

static int client(const char *path)
{
	cleanup_error kc_error_t err = NULL;
	struct peer p = { 0 };
	char *uri = kc_xasprintf("unix://%s", path);
	uint64_t end = kc_monotonic_ns() + 10 * NS_PER_S;
	int fd, ret;

	p.uri = uri;
	/* The Go server may still be starting: retry for a while. */
	for (;;) {
		fd = kc_ttrpc_dial(uri, NS_PER_S, &err);
		if (fd >= 0 || kc_monotonic_ns() > end)
			break;
		kc_error_free(&err);
		usleep(20000);
	}
	ret = fd < 0 ? fd : kc_loop_new(&p.loop, &err);
	if (ret >= 0)
		ret = kc_ttrpc_client_new(p.loop, fd, &p.cli, &err);
	if (ret < 0) {
		printf("not ok - C client -> Go server: connect\n#   %s\n", err->msg);
		if (fd >= 0 && p.loop == NULL)
			close(fd);
		if (p.loop != NULL)
			kc_loop_free(p.loop);
		free(uri);
		return 1;
	}
	run_tests(&p);
	kc_ttrpc_client_free(p.cli);
	kc_loop_free(p.loop);
	free(uri);
	return p.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve_until_signal("interop_peer", argv[2], register_methods);
	if (argc == 3 && strcmp(argv[1], "client") == 0)
		return client(argv[2]);
	fprintf(stderr, "usage: interop_peer serve SOCKET | client SOCKET\n");
	return 2;
}
