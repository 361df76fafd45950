/* SPDX-License-Identifier: Apache-2.0 */
/* host/procstat: /proc/PID's figures, checked against /proc read here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/procstat.h"
#include "lib/util.h"

/* A "Key:" line's number in /proc/self/status, read independently. */
static unsigned long long status_value(const char *key)
{
	cleanup_free char *buf = NULL;
	size_t len;
	char *p;

	assert_int_equal(kc_read_file("/proc/self/status", 65536, &buf, &len, NULL), 0);
	p = strstr(buf, key);
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 10);
}

static unsigned count_fd_dir(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* not opendir's own */
}

static void burn_cpu_ms(unsigned ms)
{
	struct timespec a, b;
	volatile unsigned long x = 0;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do {
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static void test_self(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_procstat st, st2;
	struct rlimit rl;
	int fds[5];

	(void)state;
	assert_int_equal(kc_procstat_read(0, &st, &err), 0);
	assert_int_equal(st.pid, getpid());
	assert_string_equal(st.comm, "test_procstat");
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.threads, status_value("Threads:"));
	assert_int_equal(st.fds, count_fd_dir());
	assert_true(st.status.vmrss > 0 && st.status.vmrss % 1024 == 0);
	assert_true(st.status.vmpeak >= st.status.vmsize);
	assert_int_equal(st.status.vmsize, status_value("VmSize:") * 1024);
	assert_true(st.vsize > 0 && st.rss_pages > 0);
	assert_true(st.has_io);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(st.max_fds,
			 rl.rlim_cur == RLIM_INFINITY ? KC_PROCSTAT_UNLIMITED : rl.rlim_cur);
	/* The process started a moment ago. */
	assert_true(st.start_time_s <= (double)time(NULL) + 1);
	assert_true(st.start_time_s >= (double)time(NULL) - 120);

	/* Five more descriptors show, and CPU time only grows. */
	for (int i = 0; i < 5; i++)
		assert_true((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
	burn_cpu_ms(100);
	assert_int_equal(kc_procstat_read(0, &st2, &err), 0);
	assert_int_equal(st2.fds, st.fds + 5);
	assert_int_equal(st2.fds, count_fd_dir());
	assert_true(st2.utime >= st.utime && st2.stime >= st.stime);
	assert_true(st2.utime + st2.stime > st.utime + st.stime);
	assert_true(st2.io.rchar > st.io.rchar); /* the /proc files read since */
	assert_int_equal(st2.starttime, st.starttime);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
}

/* This process's figures read by pid, as the shim reads QEMU's. */
static void test_by_pid(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_procstat a, b;

	(void)state;
	assert_int_equal(kc_procstat_read(getpid(), &a, &err), 0);
	assert_int_equal(kc_procstat_read(0, &b, &err), 0);
	assert_int_equal(a.pid, b.pid);
	assert_int_equal(a.starttime, b.starttime);
	assert_int_equal(a.threads, b.threads);
	/* Only the self read leaves out the two fds the reading holds. */
	assert_int_equal(a.fds, b.fds + 2);
}

static pid_t sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* Gone with the test, should a failed assertion skip reap(). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void test_child_exited(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_procstat st;
	pid_t pid = fork();
	cleanup_free char *want = NULL;

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(kc_procstat_read(pid, &st, &err), -ESRCH);
	want = kc_xasprintf("process %d: no such process", pid);
	assert_non_null(strstr(err->msg, want));
}

/* The process goes between opening its directory and reading it: the
 * same error, naming the file, and nothing of another process. */
static void test_exits_while_read(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_procstat st;
	cleanup_close int fd = -1;
	pid_t pid = sleeper();
	cleanup_free char *want = NULL;

	(void)state;
	fd = kc_proc_open(pid, &err);
	assert_true(fd >= 0);
	assert_int_equal(kc_procstat_read_at(fd, pid, &st, &err), 0);
	assert_int_equal(st.pid, pid);
	assert_true(st.state == 'S' || st.state == 'R'); /* pause() or on its way */
	reap(pid);
	assert_int_equal(kc_procstat_read_at(fd, pid, &st, &err), -ESRCH);
	want = kc_xasprintf("process %d has exited: open `/proc/%d/stat`", pid, pid);
	assert_non_null(strstr(err->msg, want));
}

static void test_no_such_pid(void **state)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *buf = NULL;
	struct kc_procstat st;
	size_t len;
	long max;

	(void)state;
	assert_int_equal(kc_read_file("/proc/sys/kernel/pid_max", 64, &buf, &len, NULL), 0);
	max = strtol(buf, NULL, 10);
	assert_true(max > 0);
	assert_int_equal(kc_procstat_read((pid_t)max + 1, &st, &err), -ESRCH);
	assert_non_null(strstr(err->msg, "no such process"));
	kc_error_free(&err);
	assert_int_equal(kc_procstat_read(-5, &st, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "process -5: not a process id"));
}

static void test_netdev(void **state)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free struct kc_netdev_stat *devs = NULL;
	cleanup_free char *buf = NULL;
	size_t n, len, lines = 0;
	bool lo = false;

	(void)state;
	assert_int_equal(kc_procstat_netdev(0, &devs, &n, &err), 0);
	assert_int_equal(kc_read_file("/proc/self/net/dev", 1 << 20, &buf, &len, NULL), 0);
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(n, lines - 2);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *key = kc_xasprintf(" %s:", devs[i].name);

		assert_non_null(strstr(buf, key));
		if (strcmp(devs[i].name, "lo") == 0)
			lo = true;
	}
	assert_true(lo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),	     cmocka_unit_test(test_by_pid),
		cmocka_unit_test(test_child_exited), cmocka_unit_test(test_exits_while_read),
		cmocka_unit_test(test_no_such_pid),  cmocka_unit_test(test_netdev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
