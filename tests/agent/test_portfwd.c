/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port forwarding through the real kata-agent (src/agent/network/portfwd.c),
 * started with --no-init: its "guest" network namespace is this host's, so
 * the servers it connects to are threads of this test on 127.0.0.1 and
 * [::1].  The tests run in order and share the agent; the last one leaves
 * a session open for the agent's shutdown to free (ah_agent_stop asserts a
 * clean exit, which under ASan means no leak).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent_harness.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/ttrpc.h"

static struct {
	struct ah_agent agent;
	int base_fds; /* the agent's, with the sandbox */
} g;

#define C (&g.agent.conn)

/* portfwd.h's KC_AGENT_PFWD_HOLD_MAX, the most a held write takes. */
#define KC_AGENT_PFWD_HOLD_MAX_TEST (64u << 10)

/* ---- servers: a thread of this process ---- */

enum srv_mode {
	SRV_ECHO, /* echoes; at EOF shuts its side down and closes */
	SRV_HELLO, /* sends "hello" and closes */
	SRV_STALL, /* does not read */
	SRV_SINK, /* reads and drops */
};

#define SRV_CONNS 2048

struct srv {
	int mode; /* enum srv_mode, __atomic: srv_set_mode() changes it */
	int lfd;
	unsigned port;
	int stop[2];
	pthread_t th;
	int accepted, eofs; /* __atomic */
	int fds[SRV_CONNS];
	size_t n;
};

static void srv_drop(struct srv *s, size_t i)
{
	close(s->fds[i]);
	s->fds[i] = s->fds[--s->n];
}

static void *srv_main(void *data)
{
	struct srv *s = data;
	static __thread struct pollfd pfd[SRV_CONNS + 2];
	static __thread char buf[64 << 10];

	for (;;) {
		int mode = __atomic_load_n(&s->mode, __ATOMIC_SEQ_CST);

		pfd[0] = (struct pollfd){ .fd = s->stop[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		for (size_t i = 0; i < s->n; i++)
			pfd[i + 2] = (struct pollfd){ .fd = s->fds[i],
						      .events = mode == SRV_STALL ? 0 : POLLIN };
		if (poll(pfd, s->n + 2, -1) < 0)
			continue;
		if (pfd[0].revents) {
			char cmd = 'x';

			if (read(s->stop[0], &cmd, 1) == 1 && cmd == 'm')
				continue; /* the mode changed */
			break;
		}
		/* Newest first: a dropped one moves the last into its slot. */
		for (size_t i = s->n; i-- > 0;) {
			ssize_t r;

			if (!pfd[i + 2].revents || mode == SRV_STALL)
				continue;
			r = read(s->fds[i], buf, sizeof(buf));
			if (r > 0 && mode == SRV_SINK)
				continue;
			if (r > 0) {
				for (ssize_t off = 0; off < r;) {
					ssize_t w = write(s->fds[i], buf + off, (size_t)(r - off));

					if (w <= 0)
						break;
					off += w;
				}
				continue;
			}
			if (r == 0) {
				__atomic_add_fetch(&s->eofs, 1, __ATOMIC_SEQ_CST);
				shutdown(s->fds[i], SHUT_WR);
			}
			srv_drop(s, i);
		}
		if (pfd[1].revents) {
			int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0)
				continue;
			__atomic_add_fetch(&s->accepted, 1, __ATOMIC_SEQ_CST);
			if (mode == SRV_HELLO) {
				if (write(fd, "hello", 5) != 5)
					fprintf(stderr, "hello server: short write\n");
				close(fd);
			} else if (s->n < SRV_CONNS) {
				s->fds[s->n++] = fd;
			} else {
				close(fd);
			}
		}
	}
	while (s->n)
		srv_drop(s, s->n - 1);
	return NULL;
}

/* A server on 127.0.0.1 or [::1] (only: IPV6_V6ONLY), port chosen by the
 * kernel. */
static struct srv *srv_start(enum srv_mode mode, int family)
{
	struct srv *s = kc_xzalloc(sizeof(*s));
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	int one = 1;

	s->mode = mode;
	s->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (void *)&ss;

		assert_int_equal(setsockopt(s->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)),
				 0);
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(s->lfd, 4096), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&ss, &len), 0);
	s->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					   : ((struct sockaddr_in *)&ss)->sin_port);
	assert_int_equal(pipe2(s->stop, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
	return s;
}

static void srv_set_mode(struct srv *s, enum srv_mode mode)
{
	__atomic_store_n(&s->mode, mode, __ATOMIC_SEQ_CST);
	assert_int_equal(write(s->stop[1], "m", 1), 1);
}

static void srv_stop(struct srv *s)
{
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	assert_int_equal(pthread_join(s->th, NULL), 0);
	close(s->stop[0]);
	close(s->stop[1]);
	close(s->lfd);
	free(s);
}

static int srv_get(int *counter)
{
	return __atomic_load_n(counter, __ATOMIC_SEQ_CST);
}

/* Waits (with the guard) for the server thread's counter to reach n. */
static void srv_wait(int *counter, int n)
{
	for (int i = 0; i < AH_GUARD_S * 100 && srv_get(counter) < n; i++)
		usleep(10000);
	assert_int_equal(srv_get(counter), n);
}

/* ---- the calls ---- */

static int pf_open(unsigned port, int family, uint64_t *id, char **msg)
{
	Grpc__PortForwardOpenRequest req = GRPC__PORT_FORWARD_OPEN_REQUEST__INIT;
	struct ah_answer a;
	int code;

	req.port = port;
	req.family = family;
	code = ah_call(C, "PortForwardOpen", &req.base, &a);
	if (code == 0) {
		Grpc__PortForwardOpenResponse *r = grpc__port_forward_open_response__unpack(
			NULL, a.len, a.payload);

		assert_non_null(r);
		assert_true(r->session != 0);
		*id = r->session;
		grpc__port_forward_open_response__free_unpacked(r, NULL);
	}
	if (msg)
		*msg = kc_steal_ptr(&a.message);
	ah_answer_free(&a);
	return code;
}

static uint64_t pf_open_ok(unsigned port)
{
	cleanup_free char *msg = NULL;
	uint64_t id = 0;

	if (pf_open(port, GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_ANY, &id, &msg) != 0)
		fail_msg("PortForwardOpen %u: %s", port, msg);
	return id;
}

static void start_read(uint64_t id, uint32_t len, Grpc__PortForwardReadRequest *req,
		       struct ah_answer *a)
{
	grpc__port_forward_read_request__init(req);
	req->session = id;
	req->len = len;
	ah_start_call(C, "PortForwardRead", &req->base, a);
}

/* The data of a Read answer (OK asserted); *n its length. */
static uint8_t *read_data(struct ah_answer *a, size_t *n)
{
	Grpc__ReadStreamResponse *r;
	uint8_t *out;

	if (a->code != 0)
		fail_msg("PortForwardRead: code %d: %s", a->code, a->message);
	r = grpc__read_stream_response__unpack(NULL, a->len, a->payload);
	assert_non_null(r);
	*n = r->data.len;
	out = kc_xmalloc(r->data.len + 1);
	if (r->data.len)
		memcpy(out, r->data.data, r->data.len);
	out[r->data.len] = 0;
	grpc__read_stream_response__free_unpacked(r, NULL);
	return out;
}

static uint8_t *pf_read(uint64_t id, uint32_t len, size_t *n)
{
	Grpc__PortForwardReadRequest req;
	struct ah_answer a;
	uint8_t *out;

	start_read(id, len, &req, &a);
	ah_wait(C, &a);
	out = read_data(&a, n);
	ah_answer_free(&a);
	return out;
}

/* Reads until n bytes came (or the end: asserted not to come first). */
static char *pf_read_n(uint64_t id, size_t n)
{
	char *out = kc_xzalloc(n + 1);
	size_t got = 0;

	while (got < n) {
		size_t k;
		cleanup_free uint8_t *d = pf_read(id, (uint32_t)(n - got), &k);

		assert_true(k > 0);
		assert_true(got + k <= n);
		memcpy(out + got, d, k);
		got += k;
	}
	return out;
}

static void assert_read_eof(uint64_t id)
{
	size_t n;
	cleanup_free uint8_t *d = pf_read(id, 0, &n);

	assert_int_equal(n, 0);
}

static void start_write(uint64_t id, const void *data, size_t len,
			Grpc__PortForwardWriteRequest *req, struct ah_answer *a)
{
	grpc__port_forward_write_request__init(req);
	req->session = id;
	req->data.data = (uint8_t *)data;
	req->data.len = len;
	ah_start_call(C, "PortForwardWrite", &req->base, a);
}

static size_t written_of(struct ah_answer *a)
{
	Grpc__WriteStreamResponse *r;
	size_t n;

	if (a->code != 0)
		fail_msg("PortForwardWrite: code %d: %s", a->code, a->message);
	r = grpc__write_stream_response__unpack(NULL, a->len, a->payload);
	assert_non_null(r);
	n = r->len;
	grpc__write_stream_response__free_unpacked(r, NULL);
	return n;
}

static void pf_write_all(uint64_t id, const void *data, size_t len)
{
	for (size_t off = 0; off < len;) {
		Grpc__PortForwardWriteRequest req;
		struct ah_answer a;
		size_t n;

		start_write(id, (const char *)data + off, len - off, &req, &a);
		ah_wait(C, &a);
		n = written_of(&a);
		ah_answer_free(&a);
		assert_true(n > 0 && n <= len - off);
		off += n;
	}
}

static int pf_session_call(const char *method, uint64_t id, char **msg)
{
	Grpc__PortForwardSessionRequest req = GRPC__PORT_FORWARD_SESSION_REQUEST__INIT;
	struct ah_answer a;
	int code;

	req.session = id;
	code = ah_call(C, method, &req.base, &a);
	if (code != 0)
		print_message("# %s: %s\n", method, a.message);
	if (msg)
		*msg = kc_steal_ptr(&a.message);
	ah_answer_free(&a);
	return code;
}

static void pf_close(uint64_t id)
{
	assert_int_equal(pf_session_call("PortForwardClose", id, NULL), 0);
}

static void assert_agent_fds(void)
{
	ah_check_health(C);
	if (ah_count_fds(g.agent.pid) != g.base_fds)
		free(ah_sh_out("ls -l /proc/%d/fd >&2", (int)g.agent.pid));
	assert_int_equal(ah_count_fds(g.agent.pid), g.base_fds);
}

static void create_sandbox(void)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;

	req.sandbox_id = (char *)"pfwd";
	assert_int_equal(ah_call0(C, "CreateSandbox", &req.base), 0);
	g.base_fds = ah_count_fds(g.agent.pid);
}

/* A port nothing listens on, on either loopback: bound (not listening) on
 * both, so that no other process takes it meanwhile.  fds[2] to close. */
static unsigned refused_port(int fds[2])
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	socklen_t len = sizeof(a4);
	int one = 1;

	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fds[1] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fds[0] >= 0 && fds[1] >= 0);
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fds[0], (struct sockaddr *)&a4, sizeof(a4)), 0);
	assert_int_equal(getsockname(fds[0], (struct sockaddr *)&a4, &len), 0);
	assert_int_equal(setsockopt(fds[1], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
	a6.sin6_addr = in6addr_loopback;
	a6.sin6_port = a4.sin_port;
	assert_int_equal(bind(fds[1], (struct sockaddr *)&a6, sizeof(a6)), 0);
	return ntohs(a4.sin_port);
}

/* ---- tests ---- */

static void test_before_sandbox_and_bad_requests(void **state)
{
	Grpc__PortForwardOpenRequest open = GRPC__PORT_FORWARD_OPEN_REQUEST__INIT;
	Grpc__PortForwardReadRequest rd = GRPC__PORT_FORWARD_READ_REQUEST__INIT;
	Grpc__PortForwardWriteRequest wr = GRPC__PORT_FORWARD_WRITE_REQUEST__INIT;
	Grpc__PortForwardSessionRequest sr = GRPC__PORT_FORWARD_SESSION_REQUEST__INIT;

	(void)state;
	open.port = 80;
	ah_call_fails(C, "PortForwardOpen", &open.base, KC_TTRPC_FAILED_PRECONDITION,
		      "CreateSandbox first");
	create_sandbox();

	open.port = 0;
	ah_call_fails(C, "PortForwardOpen", &open.base, KC_TTRPC_INVALID_ARGUMENT,
		      "port 0 is not a TCP port (1 to 65535)");
	open.port = 65536;
	ah_call_fails(C, "PortForwardOpen", &open.base, KC_TTRPC_INVALID_ARGUMENT,
		      "port 65536 is not a TCP port");
	open.port = 80;
	open.family = 7;
	ah_call_fails(C, "PortForwardOpen", &open.base, KC_TTRPC_INVALID_ARGUMENT,
		      "unknown family 7");

	/* Session 0 is never one; an id never given is not found. */
	ah_call_fails(C, "PortForwardRead", &rd.base, KC_TTRPC_INVALID_ARGUMENT,
		      "PortForwardRead: session is 0");
	ah_call_fails(C, "PortForwardWrite", &wr.base, KC_TTRPC_INVALID_ARGUMENT,
		      "PortForwardWrite: session is 0");
	ah_call_fails(C, "PortForwardCloseWrite", &sr.base, KC_TTRPC_INVALID_ARGUMENT,
		      "session is 0");
	ah_call_fails(C, "PortForwardClose", &sr.base, KC_TTRPC_INVALID_ARGUMENT, "session is 0");
	rd.session = wr.session = sr.session = 12345678901ull;
	ah_call_fails(C, "PortForwardRead", &rd.base, KC_TTRPC_NOT_FOUND,
		      "no port-forward session 12345678901");
	ah_call_fails(C, "PortForwardWrite", &wr.base, KC_TTRPC_NOT_FOUND,
		      "no port-forward session 12345678901");
	ah_call_fails(C, "PortForwardCloseWrite", &sr.base, KC_TTRPC_NOT_FOUND,
		      "no port-forward session");
	ah_call_fails(C, "PortForwardClose", &sr.base, KC_TTRPC_NOT_FOUND,
		      "no port-forward session");
	assert_agent_fds();
}

static void test_echo_and_eof_both_ways(void **state)
{
	struct srv *s = srv_start(SRV_ECHO, AF_INET);
	Grpc__PortForwardWriteRequest wr;
	struct ah_answer a;
	cleanup_free char *msg = NULL;
	uint64_t id = pf_open_ok(s->port), id2;

	(void)state;
	srv_wait(&s->accepted, 1);
	pf_write_all(id, "ping", 4);
	{
		cleanup_free char *back = pf_read_n(id, 4);

		assert_string_equal(back, "ping");
	}
	/* The host finished sending: the server reads EOF (and, an echo
	 * server, ends its side too: the end of what Read gives). */
	assert_int_equal(srv_get(&s->eofs), 0);
	assert_int_equal(pf_session_call("PortForwardCloseWrite", id, NULL), 0);
	srv_wait(&s->eofs, 1);
	assert_read_eof(id);
	assert_read_eof(id); /* and again */
	assert_int_equal(pf_session_call("PortForwardCloseWrite", id, NULL), 0);
	start_write(id, "late", 4, &wr, &a);
	ah_wait(C, &a);
	assert_int_equal(a.code, KC_TTRPC_FAILED_PRECONDITION);
	assert_non_null(strstr(a.message, "closed for writing"));
	ah_answer_free(&a);

	/* An empty write is answered at once. */
	id2 = pf_open_ok(s->port);
	start_write(id2, "", 0, &wr, &a);
	ah_wait(C, &a);
	assert_int_equal(written_of(&a), 0);
	ah_answer_free(&a);
	pf_close(id2);

	/* Close frees the session; a second one does not find it. */
	pf_close(id);
	assert_int_equal(pf_session_call("PortForwardClose", id, &msg), KC_TTRPC_NOT_FOUND);
	assert_non_null(strstr(msg, "never opened, or closed"));
	assert_int_equal(pf_session_call("PortForwardCloseWrite", id, NULL), KC_TTRPC_NOT_FOUND);
	srv_stop(s);
	assert_agent_fds();
}

/* The guest's server ends the connection: Read gives what it sent, then
 * empty data, every time. */
static void test_server_closes(void **state)
{
	struct srv *s = srv_start(SRV_HELLO, AF_INET);
	uint64_t id = pf_open_ok(s->port);
	cleanup_free char *hello = pf_read_n(id, 5);

	(void)state;
	assert_string_equal(hello, "hello");
	assert_read_eof(id);
	assert_read_eof(id);
	pf_close(id);
	srv_stop(s);
	assert_agent_fds();
}

/* 8 MiB each way at once through an echo server, checked byte for byte. */
static void test_large_transfer(void **state)
{
	const size_t total = 8u << 20;
	struct srv *s = srv_start(SRV_ECHO, AF_INET);
	cleanup_free uint8_t *pat = kc_xmalloc(total);
	Grpc__PortForwardWriteRequest wr;
	Grpc__PortForwardReadRequest rd;
	struct ah_answer wa, ra;
	bool writing = false, reading = false;
	size_t sent = 0, got = 0, writes = 0, reads = 0;
	uint64_t id = pf_open_ok(s->port);
	uint64_t deadline = kc_monotonic_ns() + AH_GUARD_S * 1000000000ull;

	(void)state;
	for (size_t i = 0; i < total; i++)
		pat[i] = (uint8_t)((i * 7u) ^ (i >> 12));
	while (got < total) {
		if (!writing && sent < total) {
			size_t len = total - sent > (1u << 20) ? (1u << 20) : total - sent;

			start_write(id, pat + sent, len, &wr, &wa);
			writing = true;
		}
		if (!reading) {
			start_read(id, 256u << 10, &rd, &ra);
			reading = true;
		}
		assert_true(kc_loop_run_once(C->loop, 50 * 1000000, NULL) >= 0);
		assert_true(kc_monotonic_ns() < deadline);
		if (writing && wa.done) {
			size_t n = written_of(&wa);

			assert_true(n > 0);
			sent += n;
			writes++;
			ah_answer_free(&wa);
			writing = false;
		}
		if (reading && ra.done) {
			size_t n;
			cleanup_free uint8_t *d = read_data(&ra, &n);

			assert_true(n > 0);
			assert_true(got + n <= sent);
			if (memcmp(d, pat + got, n) != 0)
				fail_msg("echoed bytes differ in [%zu, %zu)", got, got + n);
			got += n;
			reads++;
			ah_answer_free(&ra);
			reading = false;
		}
	}
	print_message("# 8 MiB both ways in %zu writes and %zu reads, %.0f ms (ASan build)\n",
		      writes, reads,
		      (double)(kc_monotonic_ns() - (deadline - AH_GUARD_S * 1000000000ull)) / 1e6);
	assert_false(writing);
	/* The read started last is still held: the end of the stream answers it. */
	if (!reading) {
		start_read(id, 0, &rd, &ra);
		reading = true;
	}
	assert_int_equal(pf_session_call("PortForwardCloseWrite", id, NULL), 0);
	ah_wait(C, &ra);
	{
		size_t n;
		cleanup_free uint8_t *d = read_data(&ra, &n);

		assert_int_equal(n, 0);
	}
	ah_answer_free(&ra);
	pf_close(id);
	srv_stop(s);
	assert_agent_fds();
}

static void test_refused(void **state)
{
	int fds[2];
	unsigned port = refused_port(fds);
	cleanup_free char *msg = NULL, *msg4 = NULL, *want4 = NULL, *want6 = NULL;
	uint64_t id = 0;

	(void)state;
	want4 = kc_xasprintf("connect 127.0.0.1:%u in the guest: Connection refused", port);
	want6 = kc_xasprintf("connect [::1]:%u in the guest: Connection refused", port);
	assert_int_equal(pf_open(port, GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_ANY, &id, &msg),
			 KC_TTRPC_UNAVAILABLE);
	print_message("# %s\n", msg);
	assert_non_null(strstr(msg, want4));
	assert_non_null(strstr(msg, want6));
	assert_true(strstr(msg, want4) < strstr(msg, want6)); /* containerd's order */
	assert_int_equal(pf_open(port, GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_IPV4, &id, &msg4),
			 KC_TTRPC_UNAVAILABLE);
	assert_non_null(strstr(msg4, want4));
	assert_null(strstr(msg4, "::1"));
	close(fds[0]);
	close(fds[1]);
	assert_agent_fds();
}

/* Only [::1] listens: the agent gets there after 127.0.0.1 refused. */
static void test_ipv6_fallback(void **state)
{
	struct srv *s = srv_start(SRV_ECHO, AF_INET6);
	cleanup_free char *msg = NULL, *back = NULL;
	uint64_t id = 0, id6 = 0;

	(void)state;
	id = pf_open_ok(s->port);
	pf_write_all(id, "over v6", 7);
	back = pf_read_n(id, 7);
	assert_string_equal(back, "over v6");
	assert_int_equal(pf_open(s->port, GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_IPV6, &id6, NULL),
			 0);
	assert_int_equal(pf_open(s->port, GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_IPV4, &id6, &msg),
			 KC_TTRPC_UNAVAILABLE);
	assert_non_null(strstr(msg, "127.0.0.1"));
	srv_wait(&s->accepted, 2);
	pf_close(id);
	pf_close(id6);
	srv_stop(s);
	assert_agent_fds();
}

/* A Read held when the session closes is answered, and frees nothing
 * twice. */
static void test_read_pending_across_close(void **state)
{
	struct srv *s = srv_start(SRV_ECHO, AF_INET);
	uint64_t id = pf_open_ok(s->port);
	Grpc__PortForwardReadRequest rd;
	struct ah_answer ra, rb;

	(void)state;
	start_read(id, 0, &rd, &ra);
	start_read(id, 0, &rd, &rb);
	ah_pump(C, 200);
	assert_false(ra.done);
	assert_false(rb.done);
	pf_close(id);
	ah_wait(C, &ra);
	ah_wait(C, &rb);
	assert_int_equal(ra.code, KC_TTRPC_CANCELLED);
	assert_non_null(strstr(ra.message, "was closed"));
	assert_int_equal(rb.code, KC_TTRPC_CANCELLED);
	ah_answer_free(&ra);
	ah_answer_free(&rb);
	srv_stop(s);
	assert_agent_fds();
}

/* Writes to a session until one is held: *a its answer to come.  The bytes
 * the connection took.  The agent serves one connection's calls in order
 * and answers them in order: a write not answered when the health check
 * that followed it is, is held. */
static size_t fill_until_held(uint64_t id, const uint8_t *buf, size_t chunk,
			      Grpc__PortForwardWriteRequest *wr, struct ah_answer *a)
{
	size_t total = 0;

	for (;;) {
		start_write(id, buf, chunk, wr, a);
		ah_check_health(C);
		if (!a->done)
			return total;
		total += written_of(a);
		ah_answer_free(a);
		assert_true(total < (256u << 20));
	}
}

/* A server that does not read: writes fill the buffers, then one is held
 * (the agent goes on serving); the server reading again answers it; held
 * again, Close answers it. */
static void test_write_backpressure(void **state)
{
	const size_t chunk = 1u << 20;
	struct srv *s = srv_start(SRV_STALL, AF_INET);
	cleanup_free uint8_t *buf = kc_xzalloc(chunk);
	uint64_t id = pf_open_ok(s->port);
	Grpc__PortForwardWriteRequest wr, wr2;
	struct ah_answer a, b;
	size_t total, n;
	cleanup_free char *msg = NULL;

	(void)state;
	total = fill_until_held(id, buf, chunk, &wr, &a);
	print_message("# the connection took %zu bytes, then the write was held\n", total);
	ah_check_health(C);
	start_write(id, "x", 1, &wr2, &b);
	ah_wait(C, &b);
	assert_int_equal(b.code, KC_TTRPC_FAILED_PRECONDITION);
	assert_non_null(strstr(b.message, "one at a time"));
	ah_answer_free(&b);
	assert_int_equal(pf_session_call("PortForwardCloseWrite", id, &msg),
			 KC_TTRPC_FAILED_PRECONDITION);
	assert_non_null(strstr(msg, "has a write waiting"));
	assert_false(a.done);
	srv_set_mode(s, SRV_SINK);
	ah_wait(C, &a);
	n = written_of(&a);
	print_message("# the server read again: the held write took %zu bytes\n", n);
	assert_true(n > 0 && n <= KC_AGENT_PFWD_HOLD_MAX_TEST);
	ah_answer_free(&a);
	srv_set_mode(s, SRV_STALL);
	fill_until_held(id, buf, chunk, &wr, &a);
	pf_close(id);
	ah_wait(C, &a);
	assert_int_equal(a.code, KC_TTRPC_CANCELLED);
	ah_answer_free(&a);
	srv_stop(s);
	assert_agent_fds();
}

static void on_answer(const struct kc_ttrpc_reply *r, void *data)
{
	struct ah_answer *a = data;

	a->done = true;
	a->code = r->code;
	a->message = kc_xstrndup(r->message ? r->message : "", r->message_len);
}

/* The caller of PortForwardOpen gives up (its deadline) while the connect
 * hangs (a listener whose accept queue is full drops the SYN): nothing of
 * the session stays. */
static void test_open_given_up(void **state)
{
	Grpc__PortForwardOpenRequest req = GRPC__PORT_FORWARD_OPEN_REQUEST__INIT;
	struct kc_ttrpc_call_opts opts = { .timeout_ns = 300 * 1000000ull };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	socklen_t len = sizeof(a4);
	struct ah_answer a = { 0 };
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c1, c2;
	uint64_t before = 0, after = 0;
	struct srv *s = srv_start(SRV_ECHO, AF_INET);

	(void)state;
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a4, sizeof(a4)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a4, &len), 0);
	/* The queue's one place taken, and a connect waiting. */
	c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c1, (struct sockaddr *)&a4, sizeof(a4)), 0);
	c2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	connect(c2, (struct sockaddr *)&a4, sizeof(a4));

	before = pf_open_ok(s->port);
	pf_close(before);
	req.port = ntohs(a4.sin_port);
	req.family = GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_IPV4;
	assert_int_equal(kc_ttrpc_client_call_msg(C->cli, "grpc.AgentService", "PortForwardOpen",
						  &req.base, &opts, on_answer, &a, NULL, NULL),
			 0);
	ah_wait(C, &a);
	print_message("# PortForwardOpen of a port that does not answer: %d %s\n", a.code,
		      a.message);
	assert_int_equal(a.code, KC_TTRPC_DEADLINE_EXCEEDED);
	free(a.message);
	assert_agent_fds();
	after = pf_open_ok(s->port);
	assert_int_equal(after, before + 2); /* the given-up session had its id */
	pf_close(after);
	close(c2);
	close(c1);
	close(lfd);
	srv_stop(s);
	assert_agent_fds();
}

/* 200 sessions opened, used and closed (half of them with a Read held):
 * the agent holds the same fds as before. */
static void test_no_fd_leak(void **state)
{
	struct srv *s = srv_start(SRV_ECHO, AF_INET);

	(void)state;
	assert_agent_fds();
	for (int i = 0; i < 200; i++) {
		uint64_t id = pf_open_ok(s->port);
		cleanup_free char *back = NULL;

		pf_write_all(id, "abc", 3);
		back = pf_read_n(id, 3);
		assert_string_equal(back, "abc");
		if (i % 2) {
			Grpc__PortForwardReadRequest rd;
			struct ah_answer ra;

			start_read(id, 0, &rd, &ra);
			pf_close(id);
			ah_wait(C, &ra);
			assert_int_equal(ra.code, KC_TTRPC_CANCELLED);
			ah_answer_free(&ra);
		} else {
			pf_close(id);
		}
	}
	srv_wait(&s->accepted, 200);
	assert_agent_fds();
	srv_stop(s);
}

static void test_session_limit(void **state)
{
	struct srv *s = srv_start(SRV_ECHO, AF_INET);
	uint64_t *ids = kc_xzalloc(1024 * sizeof(*ids));
	cleanup_free char *msg = NULL;
	uint64_t extra = 0;

	(void)state;
	for (int i = 0; i < 1024; i++)
		ids[i] = pf_open_ok(s->port);
	assert_int_equal(pf_open(s->port, 0, &extra, &msg), KC_TTRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(msg, "1024 port-forward sessions are open"));
	/* One closed, one more fits. */
	pf_close(ids[0]);
	ids[0] = pf_open_ok(s->port);
	for (int i = 0; i < 1024; i++)
		pf_close(ids[i]);
	free(ids);
	assert_agent_fds();
	srv_stop(s);
}

/* The call test_destroy_sandbox leaves held: its answer may come while
 * the connection closes, after the test returned. */
static Grpc__PortForwardReadRequest held_rd;
static struct ah_answer held;

/* DestroySandbox drops every session, answering their held calls. */
static void test_destroy_sandbox(void **state)
{
	Grpc__DestroySandboxRequest d = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	struct srv *s = srv_start(SRV_ECHO, AF_INET);
	uint64_t id = pf_open_ok(s->port), id2 = pf_open_ok(s->port);
	Grpc__PortForwardReadRequest rd;
	struct ah_answer ra;

	(void)state;
	start_read(id, 0, &rd, &ra);
	ah_pump(C, 100);
	assert_false(ra.done);
	assert_int_equal(ah_call0(C, "DestroySandbox", &d.base), 0);
	ah_wait(C, &ra);
	assert_int_equal(ra.code, KC_TTRPC_ABORTED);
	assert_non_null(strstr(ra.message, "sandbox is destroyed"));
	ah_answer_free(&ra);
	assert_int_equal(pf_session_call("PortForwardClose", id2, NULL), KC_TTRPC_NOT_FOUND);
	create_sandbox();
	/* Ids are never reused: the old one stays unknown. */
	{
		uint64_t id3 = pf_open_ok(s->port);

		assert_true(id3 > id2);
		pf_write_all(id3, "again", 5);
		free(pf_read_n(id3, 5));
		pf_close(id3);
	}
	assert_int_equal(pf_session_call("PortForwardClose", id, NULL), KC_TTRPC_NOT_FOUND);
	assert_agent_fds();
	/* Left open, with a Read held, for the agent's shutdown to free. */
	id = pf_open_ok(s->port);
	start_read(id, 0, &held_rd, &held);
	ah_pump(C, 100);
	assert_false(held.done);
	srv_stop(s);
}

static int setup(void **state)
{
	(void)state;
	ah_agent_start(&g.agent, &(struct ah_agent_opts){ 0 });
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ah_agent_stop(&g.agent);
	ah_answer_free(&held);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_before_sandbox_and_bad_requests),
		cmocka_unit_test(test_echo_and_eof_both_ways),
		cmocka_unit_test(test_server_closes),
		cmocka_unit_test(test_large_transfer),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ipv6_fallback),
		cmocka_unit_test(test_read_pending_across_close),
		cmocka_unit_test(test_write_backpressure),
		cmocka_unit_test(test_open_given_up),
		cmocka_unit_test(test_no_fd_leak),
		cmocka_unit_test(test_session_limit),
		cmocka_unit_test(test_destroy_sandbox),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
