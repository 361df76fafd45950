/* SPDX-License-Identifier: Apache-2.0 */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/util.h"
#include "tmpdir.h"
#include "host/child.h"
#include "host/host.h"
#include "host/kvm_probe.h"

/* Writes an executable shell script; returns its path. */
static char *script(const char *name, const char *body)
{
	cleanup_free char *text = kc_xasprintf("#!/bin/sh\n%s\n", body);

	return tmpdir_write(name, text, 0755);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Whether a process is gone: absent, or a zombie nobody reaped yet (an
 * orphan waiting for PID 1). */
static bool process_gone(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return true;
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = 0;
	fclose(f);
	return state == 'Z' || state == 'X';
}

static double elapsed_s(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static void test_parse_cpuinfo(void **state)
{
	(void)state;
	struct kc_cpu_info cpu;
	const char *intel = "processor\t: 0\nvendor_id\t: GenuineIntel\n"
			    "model name\t: Intel(R) Xeon(R) Gold\n"
			    "flags\t\t: fpu vme lm vmx sse4_1 sse4_2\n\n"
			    "processor\t: 1\nvendor_id\t: Other\nflags\t\t: svm\n";
	kc_host_parse_cpuinfo(intel, &cpu);
	assert_string_equal(cpu.vendor, "GenuineIntel");
	assert_string_equal(cpu.model, "Intel(R) Xeon(R) Gold");
	assert_true(cpu.vmx);
	assert_false(cpu.svm); /* only the first processor counts */
	assert_true(cpu.lm);
	assert_true(cpu.sse4_1);
	assert_false(cpu.hypervisor);

	/* Flags are whole words: "svm_lock" is not "svm". */
	kc_host_parse_cpuinfo("vendor_id : AuthenticAMD\nflags : svm_lock hypervisor lmx\n", &cpu);
	assert_false(cpu.svm);
	assert_false(cpu.lm);
	assert_true(cpu.hypervisor);

	kc_host_parse_cpuinfo("", &cpu);
	assert_string_equal(cpu.vendor, "");
	assert_false(cpu.lm);

	/* "vmx flags" (newer kernels) is not the flags line; flags at the end
	 * of the line count. */
	kc_host_parse_cpuinfo("vmx flags\t: vnmi lm\nflags\t: fpu sse4_1\n", &cpu);
	assert_false(cpu.lm);
	assert_true(cpu.sse4_1);
}

static void test_parse_meminfo(void **state)
{
	(void)state;
	assert_int_equal(
		kc_host_parse_meminfo_total_kib("MemTotal:       24683564 kB\nMemFree: 1 kB\n"),
		24683564);
	assert_int_equal(kc_host_parse_meminfo_total_kib("MemFree: 1 kB\n"), 0);
	assert_int_equal(kc_host_parse_meminfo_total_kib("XMemTotal: 5 kB\n"), 0);
}

static void test_host_info(void **state)
{
	(void)state;
	struct kc_host_info h;

	kc_host_info_read(&h);
	assert_true(h.cpus >= 1);
	assert_true(h.mem_total_kib > 0);
	assert_true(h.kernel[0] != '\0');
	assert_string_equal(h.arch, "x86_64");
	assert_true(h.cgroup != KC_CGROUP_UNKNOWN);
	assert_int_equal(kc_host_device_usable("/dev/null"), 0);
	assert_int_equal(kc_host_device_usable("/dev/kc-no-such-device"), -ENOENT);
	assert_int_equal(h.tun, kc_host_device_usable("/dev/net/tun"));
	assert_int_equal(h.vhost_vsock, kc_host_device_usable("/dev/vhost-vsock"));

	cleanup_json json_t *j = kc_host_info_to_json(&h);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "CgroupMode")),
			    kc_cgroup_mode_name(h.cgroup));
	assert_non_null(json_object_get(json_object_get(j, "Devices"), "/dev/vhost-net"));
}

static void test_qemu_parsers(void **state)
{
	(void)state;
	char v[64];

	assert_true(kc_qemu_parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg)\n"
					  "Copyright (c) 2003-2022\n",
					  v, sizeof(v)));
	assert_string_equal(v, "7.2.22");
	assert_false(kc_qemu_parse_version("virtiofsd version 7.2\n", v, sizeof(v)));
	assert_true(kc_qemu_parse_has_microvm(
		"Supported machines are:\nmicrovm              microvm (i386)\n"));
	assert_false(kc_qemu_parse_has_microvm(
		"Supported machines are:\nq35   Standard PC\n# microvm\n"));
}

/* Everything fd holds until EOF. */
static char *read_all(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = kc_xmalloc(cap);
	ssize_t n;

	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			buf = kc_xrealloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	return buf;
}

/* Which of the shell's fds 0-255 are open, from the shell itself (stat
 * only: a glob or a $(...) would open fds of its own). */
#define CHILD_FDS \
	"printf fds; i=0; while [ $i -lt 256 ]; do " \
	"[ -e /proc/$$/fd/$i ] && printf ' %s' $i; i=$((i + 1)); done; echo; "

/* The shell reports on itself: its own blocked and ignored signals, its
 * fds, fd 3's target, its working directory, session and group, and one
 * variable. */
#define CHILD_REPORT \
	"while read -r k v; do case $k in SigBlk:|SigIgn:) echo $k $v;; esac; " \
	"done </proc/$$/status; " CHILD_FDS "echo three >&3; " \
	"printf 'cwd '; pwd; " \
	"echo var $KC_CHILD_VAR $(env | grep -c ^KC_CHILD_VAR=); " \
	"read -r _ _ _ _ pgrp sid _ </proc/$$/stat; echo group $pgrp $sid $$; " \
	"echo err >&2"

static void test_child_start(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	char *argv[] = { "/bin/sh", "-c", CHILD_REPORT, NULL };
	char *env_add[] = { "KC_CHILD_VAR=new", NULL };
	int out[2], three[2], stray, fds = count_fds();
	int stdio[3] = { KC_CHILD_NULL, -1, -1 };
	struct kc_child_opts o = { .argv = argv,
				   .env_add = env_add,
				   .stdio = stdio,
				   .fds = &three[1],
				   .n_fds = 1,
				   .cwd = tmpdir,
				   .group = KC_CHILD_NEW_SESSION };
	struct kc_child c;
	sigset_t term, old;
	struct sigaction ign = { .sa_handler = SIG_IGN }, oldpipe;

	/* What the shim runs with: SIGTERM blocked, SIGPIPE ignored. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &term, &old), 0);
	assert_int_equal(sigaction(SIGPIPE, &ign, &oldpipe), 0);
	assert_int_equal(setenv("KC_CHILD_VAR", "old", 1), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(three, O_CLOEXEC), 0);
	stray = open("/dev/null", O_RDONLY); /* not close-on-exec: must not leak either */
	assert_true(stray >= 0);
	stdio[1] = stdio[2] = out[1];

	assert_int_equal(kc_child_start(&o, &c, &err), 0);
	assert_true(c.pid > 0);
	assert_true(c.pidfd >= 0);
	close(out[1]);
	close(three[1]);
	close(stray);
	cleanup_free char *report = read_all(out[0]);
	cleanup_free char *fd3 = read_all(three[0]);
	close(out[0]);
	close(three[0]);
	assert_int_equal(kc_child_wait(&c, 0, &err), 1);
	kc_child_stop(&c, false, 0);
	assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);

	cleanup_free char *want = kc_xasprintf("SigBlk: 0000000000000000\n"
					       "SigIgn: 0000000000000000\n"
					       "fds 0 1 2 3\n"
					       "cwd %s\n"
					       "var new 1\n"
					       "group %d %d %d\n"
					       "err\n",
					       tmpdir, (int)c.pid, (int)c.pid, (int)c.pid);
	assert_string_equal(report, want);
	assert_string_equal(fd3, "three\n");
	/* The parent's own state is untouched. */
	sigset_t now;
	assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &now), 0);
	assert_true(sigismember(&now, SIGTERM));
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	assert_int_equal(sigaction(SIGPIPE, &oldpipe, NULL), 0);
	unsetenv("KC_CHILD_VAR");
	assert_int_equal(count_fds(), fds);
}

/* The defaults: stdin from /dev/null, stdout and stderr appended to the
 * log, the caller's session and group, and nothing else open. */
static void test_child_start_log(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *log = kc_xasprintf("%s/child.log", tmpdir);
	char *argv[] = { "/bin/sh", "-c",
			 CHILD_FDS
			 "read -r x; echo read $?; "
			 "read -r _ _ _ _ pgrp sid _ </proc/$$/stat; echo group $pgrp $sid; "
			 "echo err >&2",
			 NULL };
	struct kc_child_opts o = { .argv = argv, .log_path = log };
	struct kc_child c;
	cleanup_free char *text = NULL, *want = NULL;

	assert_int_equal(kc_write_file_atomic(log, "before\n", 7, 0644, &err), 0);
	assert_int_equal(kc_child_start(&o, &c, &err), 0);
	assert_int_equal(kc_child_wait(&c, 0, &err), 1);
	kc_child_stop(&c, false, 0);
	assert_int_equal(kc_read_file(log, 4096, &text, NULL, &err), 0);
	want = kc_xasprintf("before\nfds 0 1 2\nread 1\ngroup %d %d\nerr\n", (int)getpgrp(),
			    (int)getsid(0));
	assert_string_equal(text, want);
}

static void test_child_start_errors(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	char *missing[] = { "/nonexistent/prog", NULL };
	char *sh[] = { "/bin/sh", "-c", "exit 0", NULL };
	int bad_fd[] = { 987 };
	struct kc_child_opts o = { .argv = missing };
	struct kc_child c;
	int fds = count_fds();

	/* A missing program: an error naming it, and no process left. */
	assert_true(kc_child_start(&o, &c, &err) < 0);
	assert_string_equal(err->msg, "execute `/nonexistent/prog`: No such file or directory");
	kc_error_free(&err);
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.pidfd, -1);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	/* A working directory that is not there. */
	o = (struct kc_child_opts){ .argv = sh, .cwd = "/nonexistent/dir" };
	assert_true(kc_child_start(&o, &c, &err) < 0);
	assert_string_equal(err->msg, "enter the working directory of `/bin/sh` "
				      "(`/nonexistent/dir`): No such file or directory");
	kc_error_free(&err);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);

	/* An fd to pass that is not open, and a log that cannot be opened:
	 * refused before anything starts. */
	o = (struct kc_child_opts){ .argv = sh, .fds = bad_fd, .n_fds = 1 };
	assert_true(kc_child_start(&o, &c, &err) < 0);
	assert_string_equal(err->msg, "`/bin/sh`: fd 987 for its fd 3: Bad file descriptor");
	kc_error_free(&err);
	o = (struct kc_child_opts){ .argv = sh, .log_path = "/nonexistent/dir/log" };
	assert_true(kc_child_start(&o, &c, &err) < 0);
	assert_string_equal(err->msg,
			    "`/bin/sh`: log `/nonexistent/dir/log`: No such file or directory");
	kc_error_free(&err);
	o = (struct kc_child_opts){ .argv = NULL };
	assert_true(kc_child_start(&o, &c, &err) < 0);
	assert_string_equal(err->msg, "start a child: no program: Invalid argument");
	kc_error_free(&err);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(count_fds(), fds);
}

static void test_run_capture(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *ok = script("ok.sh", "echo out; echo err >&2; exit 3");
	cleanup_free char *slow = script("slow.sh", "sleep 30");
	char *out = NULL;
	int fds = count_fds();

	char *argv_ok[] = { ok, NULL };
	assert_int_equal(kc_host_run_capture(argv_ok, 5000, &out, &err), 3);
	assert_string_equal(out, "out\nerr\n");
	free(out);

	/* A child that hangs is killed at the deadline and reaped. */
	struct timespec a, b;
	char *argv_slow[] = { slow, NULL };
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_true(kc_host_run_capture(argv_slow, 200, &out, &err) < 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_non_null(strstr(err->msg, "did not finish within 200 ms"));
	assert_true(b.tv_sec - a.tv_sec < 5);
	kc_error_free(&err);

	char *argv_missing[] = { "/nonexistent/qemu", NULL };
	assert_true(kc_host_run_capture(argv_missing, 1000, &out, &err) < 0);
	assert_string_equal(err->msg, "execute `/nonexistent/qemu`: No such file or directory");
	kc_error_free(&err);

	/* Not executable: the exec error comes back as such, not as output. */
	cleanup_free char *noexec = kc_xasprintf("%s/noexec", tmpdir);
	assert_int_equal(kc_write_file_atomic(noexec, "x", 1, 0644, &err), 0);
	char *argv_noexec[] = { noexec, NULL };
	assert_true(kc_host_run_capture(argv_noexec, 1000, &out, &err) < 0);
	assert_non_null(strstr(err->msg, "Permission denied"));
	kc_error_free(&err);

	/* A program that prints "exec: ..." and exits 127 is just that. */
	cleanup_free char *liar = script("liar.sh", "echo 'exec: lies'; exit 127");
	char *argv_liar[] = { liar, NULL };
	assert_int_equal(kc_host_run_capture(argv_liar, 5000, &out, &err), 127);
	assert_string_equal(out, "exec: lies\n");
	free(out);

	/* What a timed-out child started dies with it (its process group). */
	cleanup_free char *pidfile = kc_xasprintf("%s/grandchild.pid", tmpdir);
	cleanup_free char *body = kc_xasprintf("sleep 30 & echo $! >%s; wait", pidfile);
	cleanup_free char *spawner = script("spawner.sh", body);
	char *argv_spawner[] = { spawner, NULL };
	assert_true(kc_host_run_capture(argv_spawner, 300, &out, &err) < 0);
	kc_error_free(&err);
	cleanup_free char *pidtext = NULL;
	assert_int_equal(kc_read_file(pidfile, 64, &pidtext, NULL, &err), 0);
	pid_t grandchild = (pid_t)atoi(pidtext);
	assert_true(grandchild > 1);
	for (int i = 0; i < 100 && !process_gone(grandchild); i++)
		usleep(10000);
	assert_true(process_gone(grandchild));

	/* More output than the cap is drained, not a deadlock. */
	cleanup_free char *chatty = script("chatty.sh", "head -c 300000 /dev/zero | tr '\\0' x");
	char *argv_chatty[] = { chatty, NULL };
	assert_int_equal(kc_host_run_capture(argv_chatty, 5000, &out, &err), 0);
	assert_int_equal(strlen(out), 64 * 1024);
	free(out);
	assert_int_equal(count_fds(), fds);
}

static void test_qemu_probe(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *good = script(
		"qemu-good",
		"case $1 in\n"
		" --version) echo 'QEMU emulator version 8.0.1';;\n"
		" -machine) printf 'Supported machines are:\\nmicrovm   microvm (i386)\\n';;\n"
		"esac");
	cleanup_free char *nomicro = script("qemu-nomicro",
					    "case $1 in\n"
					    " --version) echo 'QEMU emulator version 6.0.0';;\n"
					    " -machine) echo 'q35  Standard PC';;\nesac");
	cleanup_free char *bogus = script("not-qemu", "echo hello");
	cleanup_free char *broken = script("qemu-broken", "echo 'cannot start' >&2; exit 1");
	struct kc_qemu_info q;

	assert_int_equal(kc_qemu_probe(good, &q, &err), 0);
	assert_string_equal(q.version, "8.0.1");
	assert_true(q.microvm);
	assert_int_equal(kc_qemu_probe(nomicro, &q, &err), 0);
	assert_false(q.microvm);
	assert_true(kc_qemu_probe(bogus, &q, &err) < 0);
	assert_non_null(strstr(err->msg, "does not look like QEMU: hello"));
	kc_error_free(&err);
	assert_true(kc_qemu_probe(broken, &q, &err) < 0);
	assert_non_null(strstr(err->msg, "exited with status 1: cannot start"));
	kc_error_free(&err);

	/* The real one, when installed (the test suite installs it). */
	assert_int_equal(kc_qemu_probe("/usr/bin/qemu-system-x86_64", &q, &err), 0);
	assert_true(q.microvm);
}

static void test_virtiofsd_probe(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *fake = script("virtiofsd", "echo 'virtiofsd version 1.2'");
	char v[128];

	assert_int_equal(kc_virtiofsd_probe(fake, v, sizeof(v), &err), 0);
	assert_string_equal(v, "virtiofsd version 1.2");
	assert_true(kc_virtiofsd_probe("/bin/true", v, sizeof(v), &err) < 0);
	assert_non_null(strstr(err->msg, "does not look like virtiofsd"));
}

static void test_kvm_probe_real(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	struct kc_kvm_probe p;
	struct timespec a;
	int fds = count_fds();
	struct stat st;

	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(kc_kvm_probe("/dev/kvm", &p, &err), 0);
	/* Bounded: the deadline, plus at most the grace to reap a killed child. */
	assert_true(elapsed_s(&a) < KC_KVM_PROBE_DEADLINE_MS / 1000.0 + 1.5);
	assert_int_equal(count_fds(), fds);
	assert_true(p.host_ns > 0);
	assert_int_equal(p.iterations, KC_KVM_PROBE_ITERATIONS);
	print_message("# kvm probe: opened=%d api=%d ran=%d native=%d timed_out=%d guest=%.1f ns/iter "
		      "host=%.2f ns/iter ratio=%.1f in %.3f s: %s\n",
		      p.opened, p.api_version, p.ran, p.native, p.timed_out,
		      kc_kvm_probe_guest_ns_per_iter(&p), kc_kvm_probe_host_ns_per_iter(&p),
		      p.ratio, elapsed_s(&a), p.reason);
	for (size_t i = 0; i < KC_KVM_PROBE_NEXT; i++)
		assert_non_null(p.exts[i].name);
	if (p.ran) {
		assert_true(p.guest_ns > 0);
		assert_false(p.timed_out);
	} else {
		assert_int_equal(p.guest_ns, 0);
	}
	if (stat("/dev/kvm", &st) != 0) {
		assert_false(p.opened);
		assert_false(p.native);
		return;
	}
	assert_true(p.opened);
	assert_int_equal(p.api_version, 12);
	if (p.ran)
		assert_true(p.ratio > 0);
	assert_int_equal(p.native, p.ran && p.ratio <= KC_KVM_NATIVE_MAX_RATIO);
	assert_int_equal(p.native, p.reason[0] == '\0');
	/* On a PVM host guest kernel code is emulated: never "native". */
	if (stat("/sys/module/kvm_pvm", &st) == 0) {
		assert_false(p.native);
		assert_string_equal(kc_accel_resolve("auto", &p), "tcg");
		if (p.ran) {
			assert_true(p.ratio > 100);
			assert_non_null(strstr(p.reason, "slower than on the host"));
		} else {
			/* A loaded machine may hit the deadline: still not native. */
			assert_true(p.timed_out);
		}
	}

	cleanup_json json_t *j = kc_kvm_probe_to_json(&p);
	assert_true(json_is_boolean(json_object_get(j, "Native")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "Extensions"),
							    "KVM_CAP_USER_MEMORY")),
			 p.exts[0].value);
}

/* A deadline shorter than the emulated loop: the child is killed and
 * reaped, and what it found before still comes back. */
static void test_kvm_probe_timeout(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	struct kc_kvm_probe p;
	struct timespec a;
	int fds = count_fds();
	struct stat st;

	if (stat("/sys/module/kvm_pvm", &st) != 0 || stat("/dev/kvm", &st) != 0) {
		print_message("# skipped: needs an emulating KVM (kvm_pvm) to be slow enough\n");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(kc_kvm_probe_deadline("/dev/kvm", 50, &p, &err), 0);
	assert_true(elapsed_s(&a) < 1.0);
	assert_int_equal(count_fds(), fds);
	assert_true(p.timed_out);
	assert_false(p.ran);
	assert_false(p.native);
	assert_true(p.opened);
	assert_int_equal(p.api_version, 12);
	assert_int_equal(p.exts[0].value, 1); /* KVM_CAP_USER_MEMORY */
	assert_non_null(strstr(p.reason, "within 50 ms"));
	print_message("# %s\n", p.reason);
}

static void test_kvm_probe_not_kvm(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	struct kc_kvm_probe p;

	assert_int_equal(kc_kvm_probe("/dev/null", &p, &err), 0);
	assert_true(p.opened);
	assert_false(p.native);
	assert_int_equal(p.api_version, -1);
	assert_non_null(strstr(p.reason, "KVM_GET_API_VERSION on `/dev/null`"));
}

static void test_accel_resolve(void **state)
{
	(void)state;
	struct kc_kvm_probe p = { .native = true };

	assert_string_equal(kc_accel_resolve("auto", &p), "kvm");
	assert_string_equal(kc_accel_resolve("tcg", &p), "tcg");
	p.native = false;
	assert_string_equal(kc_accel_resolve("auto", &p), "tcg");
	assert_string_equal(kc_accel_resolve("kvm", &p), "kvm");
	assert_string_equal(kc_accel_resolve("auto", NULL), "tcg");
}

/* The per-iteration figures leave out the fixed cost of a guest run. */
static void test_probe_figures(void **state)
{
	(void)state;
	struct kc_kvm_probe p = {
		.iterations = 100000,
		.guest_ns = 150000,
		.base_iterations = 1000,
		.base_ns = 51000,
		.host_ns = 25000,
	};

	/* 99 us for 99000 iterations, whatever the 50 us of entry and exit. */
	assert_true(kc_kvm_probe_guest_ns_per_iter(&p) > 0.999 &&
		    kc_kvm_probe_guest_ns_per_iter(&p) < 1.001);
	assert_true(kc_kvm_probe_host_ns_per_iter(&p) > 0.2499 &&
		    kc_kvm_probe_host_ns_per_iter(&p) < 0.2501);
	/* A short run slower than the long one (noise): below measurement. */
	p.base_ns = 200000;
	assert_true(kc_kvm_probe_guest_ns_per_iter(&p) > 0);
	assert_true(kc_kvm_probe_guest_ns_per_iter(&p) < 0.001);
	/* Not measured. */
	p.guest_ns = 0;
	assert_true(kc_kvm_probe_guest_ns_per_iter(&p) == 0);
}

static void test_kvm_probe_missing_device(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	struct kc_kvm_probe p;

	assert_int_equal(kc_kvm_probe("/dev/kc-no-kvm", &p, &err), 0);
	assert_false(p.opened);
	assert_false(p.native);
	assert_string_equal(p.reason, "open `/dev/kc-no-kvm`: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cpuinfo),
		cmocka_unit_test(test_parse_meminfo),
		cmocka_unit_test(test_host_info),
		cmocka_unit_test(test_qemu_parsers),
		cmocka_unit_test(test_child_start),
		cmocka_unit_test(test_child_start_log),
		cmocka_unit_test(test_child_start_errors),
		cmocka_unit_test(test_run_capture),
		cmocka_unit_test(test_qemu_probe),
		cmocka_unit_test(test_virtiofsd_probe),
		cmocka_unit_test(test_kvm_probe_real),
		cmocka_unit_test(test_kvm_probe_missing_device),
		cmocka_unit_test(test_kvm_probe_timeout),
		cmocka_unit_test(test_kvm_probe_not_kvm),
		cmocka_unit_test(test_accel_resolve),
		cmocka_unit_test(test_probe_figures),
	};
	return cmocka_run_group_tests_name("host", tests, tmpdir_setup, tmpdir_teardown);
}
