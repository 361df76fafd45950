/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_io.c -- the opening of containerd's IO fifos (src/sandbox/io.c).
 * containerd's fifo package opens its reading end of an output fifo in a
 * goroutine, so the shim may get there first: a reader that comes a little
 * later is waited for, one that never comes is a clear error.  The
 * programs the shim starts (a binary:// logger, containerd's publish
 * binary) get what they are meant to and nothing of the shim's signal
 * state: it blocks SIGTERM and ignores SIGPIPE, and so do these tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "google_protobuf.pb-c.h"
#include "sandbox/internal.h"
#include "shim.h"

static char dir[] = "/tmp/kc-test-shim-io.XXXXXX";
static struct kc_pod pod; /* its loop: the pumps' timers and watches */
static struct shim shim; /* the event publisher's (same loop) */

static char *fifo(const char *name)
{
	char *p = kc_xasprintf("%s/%s", dir, name);

	assert_int_equal(mkfifo(p, 0600), 0);
	return p;
}

/* A child that opens path for reading after delay_ms and reads it to
 * the end; it exits with the number of bytes read (at most 255). */
static pid_t late_reader(const char *path, int delay_ms)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
		char buf[256];
		ssize_t n, total = 0;
		int fd;

		/* Never outlives the test, even one that failed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		alarm(20);
		nanosleep(&ts, NULL);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			_exit(255);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			total += n;
		_exit(total > 254 ? 254 : (int)total);
	}
	return pid;
}

static void test_reader_comes_later(void **state)
{
	struct kc_ctr c = { .id = (char *)"io1", .pod = &pod };
	struct kc_proc p;
	cleanup_free char *out = fifo("out"), *err = fifo("err");
	cleanup_error kc_error_t e = NULL;
	pid_t r1, r2;
	int st;

	(void)state;
	memset(&p, 0, sizeof(p));
	kc_proc_init(&c, &p, "", false, "", out, err);
	r1 = late_reader(out, 100);
	r2 = late_reader(err, 200);
	assert_int_equal(kc_io_open(&p, &e), 0);
	assert_true(p.out.fd >= 0);
	assert_true(p.err.fd >= 0);
	/* The fds reach the readers. */
	assert_int_equal(write(p.out.fd, "hello", 5), 5);
	assert_int_equal(write(p.err.fd, "ab", 2), 2);
	kc_io_close(&p);
	assert_int_equal(waitpid(r1, &st, 0), r1);
	assert_int_equal(WEXITSTATUS(st), 5);
	assert_int_equal(waitpid(r2, &st, 0), r2);
	assert_int_equal(WEXITSTATUS(st), 2);
	kc_proc_release(&p);
	unlink(out);
	unlink(err);
}

static void test_reader_never_comes(void **state)
{
	struct kc_ctr c = { .id = (char *)"io2", .pod = &pod };
	struct kc_proc p;
	cleanup_free char *out = fifo("lonely");
	cleanup_error kc_error_t e = NULL;
	uint64_t t0 = kc_monotonic_ns();

	(void)state;
	memset(&p, 0, sizeof(p));
	kc_proc_init(&c, &p, "", false, "", out, "");
	assert_int_equal(kc_io_open(&p, &e), -ENXIO);
	assert_non_null(strstr(e->msg, "lonely`: nobody opened it for reading in 5 s"));
	assert_true(kc_monotonic_ns() - t0 >= 4500000000ull);
	assert_true(p.out.fd < 0);
	kc_proc_release(&p);
	unlink(out);
}

/* A script in dir that records, in dir/<name>.sig and dir/<name>.fds,
 * its own blocked and ignored signals and which of fds 0-9 it has (dash
 * keeps its own at 10 and up), and then runs body. */
static char *recorder(const char *name, const char *body)
{
	cleanup_free char *text = kc_xasprintf(
		"#!/bin/sh\n"
		"grep -E '^Sig(Blk|Ign)' /proc/$$/status | tr -d ' \\t' | tr '\\n' ' ' >%s/%s.sig\n"
		"i=0; while [ $i -lt 10 ]; do [ -e /proc/$$/fd/$i ] && printf '%%s ' $i; "
		"i=$((i + 1)); done >%s/%s.fds\n%s\n",
		dir, name, dir, name, body);
	char *path = kc_xasprintf("%s/%s", dir, name);
	cleanup_error kc_error_t e = NULL;

	assert_int_equal(kc_write_file_atomic(path, text, strlen(text), 0755, &e), 0);
	return path;
}

static char *slurp(const char *name)
{
	cleanup_free char *path = kc_xasprintf("%s/%s", dir, name);
	cleanup_error kc_error_t e = NULL;
	char *text = NULL;

	assert_int_equal(kc_read_file(path, 65536, &text, NULL, &e), 0);
	return text;
}

static void test_binary_logger(void **state)
{
	struct kc_ctr c = { .id = (char *)"io3", .pod = &pod };
	struct kc_proc p;
	cleanup_free char *logger = recorder(
		"logger", "exec 5>&-\n"
			  "echo \"$CONTAINER_ID $CONTAINER_NAMESPACE $*\" >$0.info\n"
			  "cat <&3 >$0.out\ncat <&4 >$0.err");
	cleanup_free char *uri = kc_xasprintf("binary://%s?level=x%%20y", logger);
	cleanup_free char *sig = NULL, *fds = NULL, *info = NULL, *out = NULL, *err = NULL;
	cleanup_error kc_error_t e = NULL;

	(void)state;
	memset(&p, 0, sizeof(p));
	kc_proc_init(&c, &p, "", false, "", uri, uri);
	assert_int_equal(kc_io_open(&p, &e), 0);
	assert_true(p.logger.pid > 0);
	assert_int_equal(write(p.out.fd, "hello", 5), 5);
	assert_int_equal(write(p.err.fd, "ab", 2), 2);
	kc_io_close(&p); /* EOF: it finishes, and is reaped */
	assert_int_equal(p.logger.pid, 0);
	sig = slurp("logger.sig");
	fds = slurp("logger.fds");
	info = slurp("logger.info");
	out = slurp("logger.out");
	err = slurp("logger.err");
	assert_string_equal(sig, "SigBlk:0000000000000000 SigIgn:0000000000000000 ");
	assert_string_equal(fds, "0 1 2 3 4 5 ");
	assert_string_equal(info, "io3 kc-test level x y\n");
	assert_string_equal(out, "hello");
	assert_string_equal(err, "ab");
	kc_proc_release(&p);
}

static void test_publish_binary(void **state)
{
	cleanup_free char *pub = recorder("publish", "echo \"$*\" >$0.args\nwc -c >$0.len");
	cleanup_free char *sig = NULL, *fds = NULL, *args = NULL, *len = NULL, *want = NULL;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	uint64_t deadline = kc_monotonic_ns() + 10000000000ull;

	(void)state;
	shim.publish_binary = pub;
	shim.ev_use_binary = true;
	ts.seconds = 7;
	shim_publish(&shim, "/tasks/kc-test", &ts.base);
	while (shim.ev_head && kc_monotonic_ns() < deadline)
		kc_loop_run_once(shim.loop, 100000000, NULL);
	assert_null(shim.ev_head);
	sig = slurp("publish.sig");
	fds = slurp("publish.fds");
	args = slurp("publish.args");
	len = slurp("publish.len");
	assert_string_equal(sig, "SigBlk:0000000000000000 SigIgn:0000000000000000 ");
	assert_string_equal(fds, "0 1 2 ");
	assert_string_equal(args, "--address /run/kc-test.sock publish --topic /tasks/kc-test "
				  "--namespace kc-test\n");
	/* The Any: its type name and the 2-byte Timestamp, framed. */
	want = kc_xasprintf("%zu\n", 2 + strlen("google.protobuf.Timestamp") + 2 + 2);
	assert_string_equal(len, want);

	/* A publish binary that is not there: the event is dropped, not stuck. */
	shim.publish_binary = (char *)"/nonexistent/containerd";
	shim_publish(&shim, "/tasks/kc-test", &ts.base);
	assert_null(shim.ev_head);
	shim.publish_binary = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_comes_later),
		cmocka_unit_test(test_reader_never_comes),
		cmocka_unit_test(test_binary_logger),
		cmocka_unit_test(test_publish_binary),
	};
	sigset_t term;
	int ret;

	if (!mkdtemp(dir) || kc_loop_new(&pod.loop, NULL) < 0)
		return 1;
	pod.ns = (char *)"kc-test";
	shim.loop = pod.loop;
	shim.ns = (char *)"kc-test";
	shim.address = (char *)"/run/kc-test.sock";
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = cmocka_run_group_tests_name("shim-io", tests, NULL, NULL);
	kc_loop_free(pod.loop);
	/* A failed test leaves its fifos; the scripts and what they wrote. */
	for (const char *const *n =
		     (const char *const[]){ "out", "err", "lonely", "logger", "logger.sig",
					    "logger.fds", "logger.info", "logger.out", "logger.err",
					    "publish", "publish.sig", "publish.fds", "publish.args",
					    "publish.len", NULL };
	     *n; n++) {
		cleanup_free char *p = kc_xasprintf("%s/%s", dir, *n);

		unlink(p);
	}
	rmdir(dir);
	return ret;
}
