/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_io.c -- the shim's opening of containerd's IO fifos (src/shim/io.c).
 * containerd's fifo package opens its reading end of an output fifo in a
 * goroutine, so the shim may get there first: a reader that comes a little
 * later is waited for, one that never comes is a clear error.
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
#include "shim.h"
#include "task.h"

static char dir[] = "/tmp/kc-test-shim-io.XXXXXX";
static struct shim shim; /* its loop: the pumps' timers and watches */

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
	struct shim_container c = { .id = (char *)"io1", .shim = &shim };
	struct shim_proc p;
	cleanup_free char *out = fifo("out"), *err = fifo("err");
	cleanup_error kc_error_t e = NULL;
	pid_t r1, r2;
	int st;

	(void)state;
	memset(&p, 0, sizeof(p));
	shim_proc_init(&c, &p, "", false, "", out, err);
	r1 = late_reader(out, 100);
	r2 = late_reader(err, 200);
	assert_int_equal(shim_io_open(&p, &e), 0);
	assert_true(p.out.fd >= 0);
	assert_true(p.err.fd >= 0);
	/* The fds reach the readers. */
	assert_int_equal(write(p.out.fd, "hello", 5), 5);
	assert_int_equal(write(p.err.fd, "ab", 2), 2);
	shim_io_close(&p);
	assert_int_equal(waitpid(r1, &st, 0), r1);
	assert_int_equal(WEXITSTATUS(st), 5);
	assert_int_equal(waitpid(r2, &st, 0), r2);
	assert_int_equal(WEXITSTATUS(st), 2);
	shim_proc_release(&p);
	unlink(out);
	unlink(err);
}

static void test_reader_never_comes(void **state)
{
	struct shim_container c = { .id = (char *)"io2", .shim = &shim };
	struct shim_proc p;
	cleanup_free char *out = fifo("lonely");
	cleanup_error kc_error_t e = NULL;
	uint64_t t0 = kc_monotonic_ns();

	(void)state;
	memset(&p, 0, sizeof(p));
	shim_proc_init(&c, &p, "", false, "", out, "");
	assert_int_equal(shim_io_open(&p, &e), -ENXIO);
	assert_non_null(strstr(e->msg, "lonely`: nobody opened it for reading in 5 s"));
	assert_true(kc_monotonic_ns() - t0 >= 4500000000ull);
	assert_true(p.out.fd < 0);
	shim_proc_release(&p);
	unlink(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_comes_later),
		cmocka_unit_test(test_reader_never_comes),
	};
	int ret;

	if (!mkdtemp(dir) || kc_loop_new(&shim.loop, NULL) < 0)
		return 1;
	ret = cmocka_run_group_tests_name("shim-io", tests, NULL, NULL);
	kc_loop_free(shim.loop);
	/* A failed test leaves its fifos. */
	for (const char *const *n = (const char *const[]){ "out", "err", "lonely", NULL }; *n; n++) {
		cleanup_free char *p = kc_xasprintf("%s/%s", dir, *n);

		unlink(p);
	}
	rmdir(dir);
	return ret;
}
