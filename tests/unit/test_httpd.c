/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 server of the management socket (src/ttrpc/httpd.h), on a
 * loop driven here, against clients on an abstract unix socket: answers
 * now and later, the refusals (a table of malformed request lines), the
 * bounds (head size, connections, deadlines), another user (a child as
 * nobody: refused by default, served with any_peer), the query's
 * arguments, and a seeded fuzz of mutated requests, each of which must get a
 * well-formed answer or a close.  Root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"
#include "ttrpc/httpd.h"
#include "ttrpc/loop.h"

#define MS 1000000ull

struct srv {
	struct kc_loop *loop;
	struct kc_httpd *h;
	int lfd;
	struct sockaddr_un sa;
	socklen_t salen;
	/* /async: the request waiting for the test's answer */
	struct kc_httpd_req *pending;
	int cancelled;
	bool auto_reply; /* /async answers from a deferred callback */
	struct kc_loop_defer later;
};

static struct srv S;

static void h_sync(struct kc_httpd_req *req, void *data)
{
	(void)data;
	kc_httpd_reply(req, 200, "text/plain", kc_xstrdup("hello"), 5);
}

static void on_cancel(void *data)
{
	struct srv *s = data;

	s->pending = NULL;
	s->cancelled++;
}

static void reply_later(void *data)
{
	struct srv *s = data;
	struct kc_httpd_req *r = s->pending;

	if (!r)
		return;
	s->pending = NULL;
	kc_httpd_reply_text(r, 200, "later");
}

static void h_async(struct kc_httpd_req *req, void *data)
{
	struct srv *s = data;

	assert_null(s->pending);
	assert_string_equal(kc_httpd_req_path(req), "/async");
	s->pending = req;
	kc_httpd_req_on_cancel(req, on_cancel, s);
	if (s->auto_reply)
		kc_loop_defer_queue(s->loop, &s->later);
}

/* /arg: the query's `sandbox` argument, "[value]", "absent" or 400. */
static void h_arg(struct kc_httpd_req *req, void *data)
{
	char *v = NULL;
	int r = kc_httpd_req_arg(req, "sandbox", &v);

	(void)data;
	if (r < 0) {
		assert_null(v);
		kc_httpd_reply_text(req, 400, "bad");
	} else if (r == 0) {
		assert_null(v);
		kc_httpd_reply_text(req, 200, "absent");
	} else {
		cleanup_free char *text = kc_xasprintf("[%s]", v);

		free(v);
		kc_httpd_reply_text(req, 200, text);
	}
}

static const struct kc_httpd_route routes[] = {
	{ "/sync", h_sync, NULL },
	{ "/async", h_async, &S },
	{ "/arg", h_arg, NULL },
};

/* The next start()'s limits.any_peer. */
static bool start_any_peer;

static void start(unsigned max_conns, uint64_t deadline_ns)
{
	static unsigned seq;
	struct kc_httpd_limits lim = { .max_conns = max_conns,
				       .deadline_ns = deadline_ns,
				       .any_peer = start_any_peer };
	kc_error_t err = NULL;
	int n;

	memset(&S, 0, sizeof(S));
	assert_int_equal(kc_loop_new(&S.loop, &err), 0);
	kc_loop_defer_init(&S.later, reply_later, &S);
	S.sa.sun_family = AF_UNIX;
	n = snprintf(S.sa.sun_path + 1, sizeof(S.sa.sun_path) - 1, "kc-httpd-test-%d-%u",
		     (int)getpid(), seq++);
	S.salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	S.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(S.lfd >= 0);
	assert_int_equal(bind(S.lfd, (struct sockaddr *)&S.sa, S.salen), 0);
	assert_int_equal(listen(S.lfd, 16), 0);
	assert_int_equal(
		kc_httpd_new(S.loop, S.lfd, routes, KC_ARRAY_SIZE(routes), &lim, &S.h, &err), 0);
}

static void stop(void)
{
	kc_httpd_free(S.h);
	kc_loop_defer_cancel(S.loop, &S.later);
	close(S.lfd);
	kc_loop_free(S.loop);
}

static void spin(uint64_t ns)
{
	uint64_t end = kc_monotonic_ns() + ns;
	kc_error_t err = NULL;

	while (kc_monotonic_ns() < end)
		assert_true(kc_loop_run_once(S.loop, 1 * MS, &err) >= 0);
}

static int dial(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&S.sa, S.salen), 0);
	return fd;
}

static void say(int fd, const void *p, size_t len)
{
	/* What the server will not read may stay unsent. */
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			return;
		p = (const char *)p + n;
		len -= (size_t)n;
	}
}

/*
 * Reads fd until the server closes it, running the loop meanwhile, at most
 * limit_ns.  Returns what came (NUL-terminated, *len its length), or NULL
 * if the connection was still open at the limit.  *reset: it ended in an
 * error rather than EOF.
 */
static char *hear(int fd, uint64_t limit_ns, size_t *len, bool *reset)
{
	uint64_t end = kc_monotonic_ns() + limit_ns;
	size_t n = 0, cap = 256;
	char *buf = kc_xmalloc(cap);
	kc_error_t err = NULL;

	*reset = false;
	for (;;) {
		ssize_t r;

		if (cap - n < 128)
			buf = kc_xrealloc(buf, cap *= 2);
		r = recv(fd, buf + n, cap - n - 1, MSG_DONTWAIT);
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			*reset = r < 0;
			break;
		}
		if (kc_monotonic_ns() >= end) {
			free(buf);
			return NULL;
		}
		assert_true(kc_loop_run_once(S.loop, 1 * MS, &err) >= 0);
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The answer to a request of len bytes (the writing side shut after it). */
static char *ask(const void *req, size_t len, size_t *out_len)
{
	int fd = dial();
	bool reset;
	char *a;

	say(fd, req, len);
	shutdown(fd, SHUT_WR);
	a = hear(fd, 5000 * MS, out_len, &reset);
	close(fd);
	assert_non_null(a);
	return a;
}

/* Checks a whole answer: status line, Content-Length that matches the
 * body, Connection: close.  Returns the status, *body into a. */
static unsigned parse_answer(const char *a, size_t len, const char **body)
{
	const char *end = strstr(a, "\r\n\r\n");
	const char *cl;
	unsigned status;
	size_t clen;

	assert_non_null(end);
	assert_int_equal(sscanf(a, "HTTP/1.1 %3u ", &status), 1);
	cl = strstr(a, "\r\nContent-Length: ");
	assert_true(cl && cl < end);
	clen = strtoul(cl + 18, NULL, 10);
	assert_int_equal(clen, len - (size_t)(end + 4 - a));
	assert_non_null(strstr(a, "\r\nConnection: close\r\n"));
	*body = end + 4;
	return status;
}

static unsigned status_of(const char *req, size_t len)
{
	size_t n;
	const char *body;
	cleanup_free char *a = ask(req, len, &n);

	return parse_answer(a, n, &body);
}

#define STATUS(lit) status_of(lit, sizeof(lit) - 1)

static void test_get(void **state)
{
	static const char req[] = "GET /sync HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
	const char *body;
	size_t n;
	cleanup_free char *a = NULL;

	(void)state;
	start(0, 0);
	a = ask(req, sizeof(req) - 1, &n);
	assert_int_equal(parse_answer(a, n, &body), 200);
	assert_string_equal(body, "hello");
	assert_non_null(strstr(a, "\r\nContent-Type: text/plain\r\n"));
	assert_int_equal(STATUS("GET /sync?x=1&y HTTP/1.1\r\n\r\n"), 200);
	assert_int_equal(STATUS("GET /sync HTTP/1.0\r\n\r\n"), 200);
	stop();
}

static void test_async(void **state)
{
	static const char req[] = "GET /async HTTP/1.1\r\n\r\n";
	const char *body;
	bool reset;
	size_t n;
	int fd;
	cleanup_free char *a = NULL;

	(void)state;
	start(0, 0);
	fd = dial();
	say(fd, req, sizeof(req) - 1);
	/* Not answered while the handler holds it. */
	assert_null(hear(fd, 100 * MS, &n, &reset));
	assert_non_null(S.pending);
	kc_httpd_reply_text(S.pending, 200, "later");
	S.pending = NULL;
	a = hear(fd, 2000 * MS, &n, &reset);
	assert_non_null(a);
	assert_false(reset);
	assert_int_equal(parse_answer(a, n, &body), 200);
	assert_string_equal(body, "later");
	close(fd);
	assert_int_equal(S.cancelled, 0);

	/* The peer gone while the handler holds it: cancelled. */
	fd = dial();
	say(fd, req, sizeof(req) - 1);
	spin(50 * MS);
	assert_non_null(S.pending);
	close(fd);
	spin(50 * MS);
	assert_null(S.pending);
	assert_int_equal(S.cancelled, 1);
	stop();
}

static void test_404_405(void **state)
{
	cleanup_free char *a = NULL;
	size_t n;

	(void)state;
	start(0, 0);
	assert_int_equal(STATUS("GET /nothing HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(STATUS("GET / HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(STATUS("GET /sync/ HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(STATUS("POST /nothing HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(STATUS("HEAD /sync HTTP/1.1\r\n\r\n"), 405);
	assert_int_equal(STATUS("get /sync HTTP/1.1\r\n\r\n"), 405);
	assert_int_equal(STATUS("ABCDEFGHIJKLMNOP /sync HTTP/1.1\r\n\r\n"), 405);
	a = ask("POST /sync HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 43, &n);
	assert_non_null(strstr(a, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(a, "\r\nAllow: GET\r\n"));
	stop();
}

static void test_malformed(void **state)
{
	static const struct {
		const char *req;
		size_t len;
		unsigned status;
	} t[] = {
#define R(lit, st) { lit, sizeof(lit) - 1, st }
		R("GET /sync\r\n\r\n", 400),
		R("GET /sync \r\n\r\n", 400),
		R("GET /sync HTTP/1.1 \r\n\r\n", 400),
		R("GET\r\n\r\n", 400),
		R("\r\n\r\n", 400),
		R("\r\nGET /sync HTTP/1.1\r\n\r\n", 400),
		R(" GET /sync HTTP/1.1\r\n\r\n", 400),
		R("G(T /sync HTTP/1.1\r\n\r\n", 400),
		R("G\x01T /sync HTTP/1.1\r\n\r\n", 400),
		R("GET\t/sync HTTP/1.1\r\n\r\n", 400),
		R("ABCDEFGHIJKLMNOPQ /sync HTTP/1.1\r\n\r\n", 400),
		R("GET  /sync HTTP/1.1\r\n\r\n", 400),
		R("GET sync HTTP/1.1\r\n\r\n", 400),
		R("GET http://localhost/sync HTTP/1.1\r\n\r\n", 400),
		R("GET * HTTP/1.1\r\n\r\n", 400),
		R("GET /sy nc HTTP/1.1\r\n\r\n", 400),
		R("GET /sync#x HTTP/1.1\r\n\r\n", 400),
		R("GET /sy\x80nc HTTP/1.1\r\n\r\n", 400),
		R("GET /sy\x7fnc HTTP/1.1\r\n\r\n", 400),
		R("GET /sy\0nc HTTP/1.1\r\n\r\n", 400),
		R("GET /sync HTTP/1.1\r\nHost: a\0b\r\n\r\n", 400),
		R("GET /sync http/1.1\r\n\r\n", 400),
		R("GET /sync HTTP/1\r\n\r\n", 400),
		R("GET /sync HTTP/1.10\r\n\r\n", 400),
		R("GET /sync HTTP/a.1\r\n\r\n", 400),
		R("GET /sync HTTP/2.0\r\n\r\n", 505),
		R("GET /sync HTTP/0.9\r\n\r\n", 505),
		/* Line ends: CRLF only, refused at once. */
		R("GET /sync HTTP/1.1\n\n", 400),
		R("GET /sync HTTP/1.1\n", 400),
		R("GET /sync HTTP/1.1\r\nHost: x\n\r\n", 400),
		R("GET /sync HTTP/1.1\r\n\n", 400),
		R("GET /sync HTTP/1.1\rX\n\r\n", 400),
		R("GET /sync HTTP/1.1\r\nA: b\r\r\n\r\n", 400),
#undef R
	};
	char big[1200];

	(void)state;
	start(0, 0);
	for (size_t i = 0; i < KC_ARRAY_SIZE(t); i++) {
		unsigned st = status_of(t[i].req, t[i].len);

		if (st != t[i].status)
			fail_msg("case %zu [%.*s]: %u, not %u", i, (int)t[i].len, t[i].req, st,
				 t[i].status);
	}
	/* A malformed line is answered without waiting for the head's end. */
	{
		int fd = dial();
		size_t n;
		bool reset;
		cleanup_free char *a = NULL;

		say(fd, "GET /sync HTTP/9\r\nHost: x\r\n", 27);
		a = hear(fd, 2000 * MS, &n, &reset);
		assert_non_null(a);
		assert_non_null(strstr(a, "HTTP/1.1 400 "));
		close(fd);
	}
	/* Paths: 1024 bytes are served (404 here), 1025 are too long. */
	for (size_t plen = 1024; plen <= 1025; plen++) {
		size_t n = (size_t)snprintf(big, sizeof(big), "GET /%s", "");

		memset(big + n, 'a', plen - 1);
		n += plen - 1;
		n += (size_t)snprintf(big + n, sizeof(big) - n, " HTTP/1.1\r\n\r\n");
		assert_int_equal(status_of(big, n), plen == 1024 ? 404 : 414);
	}
	stop();
}

static void test_head_bound(void **state)
{
	static const char line[] = "GET /sync HTTP/1.1\r\nX-Pad: ";
	char req[20000];
	size_t n;

	(void)state;
	start(0, 0);
	/* A head of exactly 8 KiB is read... */
	n = sizeof(line) - 1;
	memcpy(req, line, n);
	memset(req + n, 'a', 8192 - n - 4);
	memcpy(req + 8192 - 4, "\r\n\r\n", 4);
	assert_int_equal(status_of(req, 8192), 200);
	/* ...one byte more is not. */
	memset(req + n, 'a', 8193 - n - 4);
	memcpy(req + 8193 - 4, "\r\n\r\n", 4);
	assert_int_equal(status_of(req, 8193), 431);
	memset(req + n, 'a', sizeof(req) - n);
	assert_int_equal(status_of(req, sizeof(req)), 431);
	stop();
}

static void test_pipelined(void **state)
{
	static const char req[] = "GET /sync HTTP/1.1\r\n\r\n"
				  "GARBAGE\0\0\r\n\n\nPOST /async HTTP/1.1\r\n\r\n"
				  "GET /sync HTTP/1.1\r\n\r\n";
	const char *body;
	bool reset;
	size_t n;
	int fd;
	cleanup_free char *a = NULL;

	(void)state;
	start(0, 0);
	fd = dial();
	say(fd, req, sizeof(req) - 1);
	a = hear(fd, 2000 * MS, &n, &reset);
	assert_non_null(a);
	/* One answer, the first request's, and an end rather than a reset. */
	assert_int_equal(parse_answer(a, n, &body), 200);
	assert_string_equal(body, "hello");
	assert_false(reset);
	assert_null(S.pending);
	close(fd);
	stop();
}

static void test_deadline(void **state)
{
	uint64_t t0;
	bool reset;
	size_t n;
	int silent, partial, fd;
	char *a;

	(void)state;
	start(0, 300 * MS);
	t0 = kc_monotonic_ns();
	silent = dial();
	partial = dial();
	say(partial, "GET /sy", 7);
	/* Served beside them. */
	assert_int_equal(STATUS("GET /sync HTTP/1.1\r\n\r\n"), 200);
	/* Closed at the deadline, without an answer. */
	a = hear(silent, 2000 * MS, &n, &reset);
	assert_non_null(a);
	assert_int_equal(n, 0);
	free(a);
	assert_true(kc_monotonic_ns() - t0 >= 250 * MS);
	assert_true(kc_monotonic_ns() - t0 < 3000 * MS);
	a = hear(partial, 500 * MS, &n, &reset);
	assert_non_null(a);
	assert_int_equal(n, 0);
	free(a);
	close(silent);
	close(partial);
	/* A trickle does not renew it. */
	t0 = kc_monotonic_ns();
	fd = dial();
	for (int i = 0; i < 20; i++) {
		say(fd, "X", 1);
		spin(25 * MS);
	}
	a = hear(fd, 2000 * MS, &n, &reset);
	assert_non_null(a);
	assert_int_equal(n, 0);
	free(a);
	assert_true(kc_monotonic_ns() - t0 < 3000 * MS);
	close(fd);
	/* A handler that never answers: the request is cancelled at it. */
	fd = dial();
	say(fd, "GET /async HTTP/1.1\r\n\r\n", 23);
	a = hear(fd, 2000 * MS, &n, &reset);
	assert_non_null(a);
	assert_int_equal(n, 0);
	free(a);
	assert_int_equal(S.cancelled, 1);
	assert_null(S.pending);
	close(fd);
	stop();
}

static void test_conn_limit(void **state)
{
	int silent[3], fd;
	const char *body;
	bool reset;
	size_t n;
	cleanup_free char *a = NULL;

	(void)state;
	start(3, 0);
	for (int i = 0; i < 3; i++)
		silent[i] = dial();
	spin(50 * MS);
	/* The fourth waits in the backlog... */
	fd = dial();
	say(fd, "GET /sync HTTP/1.1\r\n\r\n", 22);
	assert_null(hear(fd, 200 * MS, &n, &reset));
	/* ...until one of the three ends. */
	close(silent[1]);
	a = hear(fd, 2000 * MS, &n, &reset);
	assert_non_null(a);
	assert_int_equal(parse_answer(a, n, &body), 200);
	close(fd);
	close(silent[0]);
	close(silent[2]);
	stop();
}

/* A child as nobody asks; what it heard comes back on a pipe. */
static char *ask_as_nobody(const char *req)
{
	int p[2];
	pid_t pid;
	size_t n = 0, cap = 4096;
	char *out = kc_xmalloc(cap);
	kc_error_t err = NULL;
	int status;

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[4096];
		ssize_t r;
		int fd;

		close(p[0]);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&S.sa, S.salen) < 0)
			_exit(3);
		if (write(fd, req, strlen(req)) < 0)
			_exit(4);
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			if (write(p[1], buf, (size_t)r) != r)
				_exit(5);
		_exit(0);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], out + n, cap - n - 1);

		if (r > 0) {
			n += (size_t)r;
			assert_true(n < cap - 1);
			continue;
		}
		if (r == 0)
			break;
		assert_true(errno == EAGAIN);
		assert_true(kc_loop_run_once(S.loop, 1 * MS, &err) >= 0);
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	out[n] = '\0';
	return out;
}

static void test_other_user(void **state)
{
	static const char *const reqs[] = {
		"GET /sync HTTP/1.1\r\n\r\n",
		"GET /nothing HTTP/1.1\r\n\r\n",
		"POST /sync HTTP/1.1\r\n\r\n",
		"GET /sync\r\n\r\n",
	};

	(void)state;
	if (geteuid() != 0)
		skip();
	start(0, 0);
	for (size_t i = 0; i < KC_ARRAY_SIZE(reqs); i++) {
		const char *body;
		cleanup_free char *a = ask_as_nobody(reqs[i]);

		assert_int_equal(parse_answer(a, strlen(a), &body), 403);
		assert_null(strstr(body, "hello"));
	}
	assert_null(S.pending);
	stop();
}

/* any_peer (kata-monitor's TCP listener): the same user is served. */
static void test_any_peer(void **state)
{
	const char *body;
	cleanup_free char *a = NULL, *b = NULL;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_any_peer = true;
	start(0, 0);
	start_any_peer = false;
	a = ask_as_nobody("GET /sync HTTP/1.1\r\n\r\n");
	assert_int_equal(parse_answer(a, strlen(a), &body), 200);
	assert_string_equal(body, "hello");
	/* Its own answers still come: the flag only drops the 403. */
	b = ask_as_nobody("GET /nothing HTTP/1.1\r\n\r\n");
	assert_int_equal(parse_answer(b, strlen(b), &body), 404);
	stop();
}

static void test_query_arg(void **state)
{
	static const struct {
		const char *req, *body;
	} cases[] = {
		{ "GET /arg HTTP/1.1\r\n\r\n", "absent" },
		{ "GET /arg? HTTP/1.1\r\n\r\n", "absent" },
		{ "GET /arg?sandbox=abc HTTP/1.1\r\n\r\n", "[abc]" },
		{ "GET /arg?x=1&sandbox=a%2Fb+c&sandbox=2 HTTP/1.1\r\n\r\n", "[a/b c]" },
		{ "GET /arg?sandboxes=1 HTTP/1.1\r\n\r\n", "absent" },
		{ "GET /arg?sandbox HTTP/1.1\r\n\r\n", "[]" },
		{ "GET /arg?sandbox= HTTP/1.1\r\n\r\n", "[]" },
		{ "GET /arg?sandbox=%2 HTTP/1.1\r\n\r\n", "bad" },
		{ "GET /arg?sandbox=%zz HTTP/1.1\r\n\r\n", "bad" },
		{ "GET /arg?sandbox=%00 HTTP/1.1\r\n\r\n", "bad" },
	};

	(void)state;
	start(0, 0);
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		size_t len;
		const char *body;
		cleanup_free char *a = ask(cases[i].req, strlen(cases[i].req), &len);
		unsigned st = parse_answer(a, len, &body);

		assert_int_equal(st, strcmp(cases[i].body, "bad") == 0 ? 400 : 200);
		assert_string_equal(body, cases[i].body);
	}
	stop();
}

/* ---- a seeded fuzz ---- */

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void test_fuzz(void **state)
{
	static const char *const corpus[] = {
		"GET /sync HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
		"GET /async HTTP/1.1\r\n\r\n",
		"GET /async?x=y HTTP/1.0\r\nUser-Agent: curl/7.88\r\n\r\n",
		"POST /sync HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
		"GET /nothing HTTP/1.1\r\n\r\n",
	};
	static const char specials[] = { '\0', '\r',   '\n',   ' ',    '/', '?', '#',
					 ':',  '\x7f', '\x80', '\xff', 'H', '1', '.' };
	const char *seed_env = getenv("KC_HTTPD_FUZZ_SEED");
	unsigned iterations = 3000, answered = 0, closed = 0;

	(void)state;
	rng = seed_env ? strtoull(seed_env, NULL, 0) : 0x6b632d6874747064ull;
	if (!rng)
		rng = 1;
	start(4, 500 * MS);
	S.auto_reply = true;
	for (unsigned it = 0; it < iterations; it++) {
		char req[10000];
		size_t len, n;
		const char *body;
		char *a;

		if (rnd(10) == 0) {
			len = rnd(sizeof(req));
			for (size_t i = 0; i < len; i++)
				req[i] = (char)rnd(256);
		} else {
			const char *c = corpus[rnd(KC_ARRAY_SIZE(corpus))];

			len = strlen(c);
			memcpy(req, c, len);
			for (unsigned m = 1 + rnd(4); m; m--) {
				size_t at = len ? rnd((uint32_t)len) : 0;
				size_t k;

				switch (rnd(5)) {
				case 0: /* a byte changed */
					if (len)
						req[at] = rnd(2) ? specials[rnd(sizeof(specials))]
								 : (char)rnd(256);
					break;
				case 1: /* bytes inserted */
					k = 1 + rnd(64);
					if (len + k > sizeof(req))
						break;
					memmove(req + at + k, req + at, len - at);
					for (size_t i = 0; i < k; i++)
						req[at + i] = specials[rnd(sizeof(specials))];
					len += k;
					break;
				case 2: /* bytes removed */
					k = rnd((uint32_t)(len - at) + 1);
					memmove(req + at, req + at + k, len - at - k);
					len -= k;
					break;
				case 3: /* a part repeated (long lines, long heads) */
					k = rnd((uint32_t)(len - at) + 1);
					for (unsigned r = rnd(300); r && len + k <= sizeof(req);
					     r--) {
						memmove(req + at + k, req + at, len - at);
						len += k;
					}
					break;
				default: /* cut */
					len = at;
					break;
				}
			}
		}
		a = ask(req, len, &n);
		if (n == 0) {
			closed++;
		} else {
			unsigned st = parse_answer(a, n, &body);

			assert_true(st == 200 || st == 400 || st == 404 || st == 405 || st == 414 ||
				    st == 431 || st == 505);
			answered++;
		}
		free(a);
	}
	print_message("# fuzz: %u requests, %u answered, %u closed without an answer\n", iterations,
		      answered, closed);
	assert_true(answered > iterations / 4);
	assert_null(S.pending);
	stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),	   cmocka_unit_test(test_async),
		cmocka_unit_test(test_404_405),	   cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_head_bound), cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_deadline),   cmocka_unit_test(test_conn_limit),
		cmocka_unit_test(test_other_user), cmocka_unit_test(test_any_peer),
		cmocka_unit_test(test_query_arg),  cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
