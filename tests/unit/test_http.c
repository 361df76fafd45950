/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP client of the management socket (src/lib/http.h) against a
 * server that answers a canned byte stream: the framings it must read
 * (Content-Length, chunked, to the end), and the servers it must not
 * trust (garbage, lies about lengths, too much, no answer at all).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/http.h"
#include "tmpdir.h"

struct server {
	char *path;
	pid_t pid;
};

/* A child that accepts one connection, reads the request's head, writes
 * `answer` (NULL: nothing, and holds the connection) and closes. */
static void serve(struct server *sv, const char *answer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	sv->path = kc_xasprintf("%s/s.sock", tmpdir);
	unlink(sv->path);
	strcpy(sa.sun_path, sv->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	sv->pid = fork();
	assert_true(sv->pid >= 0);
	if (sv->pid == 0) {
		char req[4096];
		size_t n = 0;
		int c = accept(fd, NULL, NULL);

		while (c >= 0 && n < sizeof(req) - 1) {
			ssize_t r = read(c, req + n, sizeof(req) - 1 - n);

			if (r <= 0)
				break;
			n += (size_t)r;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		if (!answer || strncmp(req, "GET /metrics HTTP/1.1\r\n", 23) != 0) {
			pause();
			_exit(0);
		}
		if (write(c, answer, strlen(answer)) < 0)
			_exit(1);
		_exit(0);
	}
	close(fd);
}

static void server_end(struct server *sv)
{
	kill(sv->pid, SIGKILL);
	waitpid(sv->pid, NULL, 0);
	unlink(sv->path);
	free(sv->path);
}

static int get(const char *answer, unsigned timeout_ms, size_t max, struct kc_http_response *r,
	       kc_error_t *err)
{
	struct server sv;
	int ret;

	serve(&sv, answer);
	ret = kc_http_get_unix(sv.path, "/metrics", timeout_ms, max, r, err);
	server_end(&sv);
	return ret;
}

static void test_framings(void **state)
{
	struct kc_http_response r;
	cleanup_error kc_error_t err = NULL;

	(void)state;
	assert_int_equal(get("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			     "Content-Length: 6\r\n\r\na 1\nb 2\n",
			     5000, 1024, &r, &err),
			 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4");
	assert_int_equal(r.len, 6);
	assert_string_equal(r.body, "a 1\nb ");
	kc_http_response_clear(&r);

	assert_int_equal(get("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			     "4\r\nabcd\r\na;x=1\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
			     5000, 1024, &r, &err),
			 0);
	assert_string_equal(r.body, "abcd0123456789");
	assert_int_equal(r.len, 14);
	assert_null(r.content_type);
	kc_http_response_clear(&r);

	assert_int_equal(get("HTTP/1.0 404 Not Found\r\n\r\nno such page", 5000, 1024, &r, &err), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "no such page");
	kc_http_response_clear(&r);
}

static void expect_error(const char *answer, unsigned timeout_ms, size_t max, int status,
			 const char *msg)
{
	struct kc_http_response r;
	cleanup_error kc_error_t err = NULL;

	assert_int_equal(get(answer, timeout_ms, max, &r, &err), -status);
	assert_non_null(strstr(err->msg, msg));
	assert_null(r.body);
}

static void test_bad_answers(void **state)
{
	(void)state;
	expect_error("SSH-2.0-OpenSSH\r\n", 5000, 1024, EPROTO, "not an HTTP/1.x status line");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", 5000, 1024, EPROTO,
		     "ended while reading the body");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 5000, 1024, EPROTO,
		     "a bad Content-Length");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 5000, 1024,
		     EPROTO, "a bad Content-Length");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n", 5000, 1024, EFBIG,
		     "larger than 1024 bytes");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 5000, 1024,
		     EPROTO, "a bad chunk size");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
		     5000, 1024, EPROTO, "a chunk longer than said");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 5000, 1024, EPROTO,
		     "Transfer-Encoding");
	expect_error("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", 5000, 1024, EPROTO,
		     "a malformed header");
	expect_error("HTTP/1.1 200 OK\r\n", 5000, 1024, EPROTO, "ended while reading the headers");
}

static void test_silent_server(void **state)
{
	struct kc_http_response r;
	cleanup_error kc_error_t err = NULL;
	struct timespec a, b;
	long ms;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(get(NULL, 300, 1024, &r, &err), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 290 && ms < 3000);
	assert_non_null(strstr(err->msg, "no answer in time"));
}

static void test_no_server(void **state)
{
	struct kc_http_response r;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *path = kc_xasprintf("%s/none.sock", tmpdir);

	(void)state;
	assert_int_equal(kc_http_get_unix(path, "/metrics", 1000, 1024, &r, &err), -ENOENT);
	assert_non_null(strstr(err->msg, path));
	kc_error_free(&err);
	assert_int_equal(kc_http_get_unix(path, "metrics", 1000, 1024, &r, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framings),
		cmocka_unit_test(test_bad_answers),
		cmocka_unit_test(test_silent_server),
		cmocka_unit_test(test_no_server),
	};

	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
