/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/host.h"
#include "runtime/kvm_probe.h"

static char tmpdir[] = "/tmp/kc-test-host-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

/* Writes an executable shell script; returns its path. */
static char *script(const char *name, const char *body)
{
	char *path = kc_xasprintf("%s/%s", tmpdir, name);
	cleanup_free char *text = kc_xasprintf("#!/bin/sh\n%s\n", body);
	cleanup_error kc_error_t err = NULL;

	assert_int_equal(kc_write_file_atomic(path, text, strlen(text), 0755, &err), 0);
	return path;
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
}

static void test_parse_meminfo(void **state)
{
	(void)state;
	assert_int_equal(kc_host_parse_meminfo_total_kib("MemTotal:       24683564 kB\nMemFree: 1 kB\n"),
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
	assert_true(kc_host_device_usable("/dev/kc-no-such-device") < 0);
}

static void test_qemu_parsers(void **state)
{
	(void)state;
	char v[64];

	assert_true(kc_qemu_parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg)\n"
					  "Copyright (c) 2003-2022\n", v, sizeof(v)));
	assert_string_equal(v, "7.2.22");
	assert_false(kc_qemu_parse_version("virtiofsd version 7.2\n", v, sizeof(v)));
	assert_true(kc_qemu_parse_has_microvm("Supported machines are:\nmicrovm              microvm (i386)\n"));
	assert_false(kc_qemu_parse_has_microvm("Supported machines are:\nq35   Standard PC\n# microvm\n"));
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
	assert_non_null(strstr(err->msg, "run `/nonexistent/qemu`: No such file or directory"));
	assert_int_equal(count_fds(), fds);
}

static void test_qemu_probe(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *good = script("qemu-good", "case $1 in\n"
		" --version) echo 'QEMU emulator version 8.0.1';;\n"
		" -machine) printf 'Supported machines are:\\nmicrovm   microvm (i386)\\n';;\n"
		"esac");
	cleanup_free char *nomicro = script("qemu-nomicro", "case $1 in\n"
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
	struct timespec a, b;
	int fds = count_fds();
	struct stat st;

	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(kc_kvm_probe("/dev/kvm", &p, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	/* Bounded: the probe has a 5 s deadline of its own. */
	assert_true(b.tv_sec - a.tv_sec <= 7);
	assert_int_equal(count_fds(), fds);
	assert_true(p.host_ns > 0);
	assert_int_equal(p.iterations, 100000);
	print_message("# kvm probe: opened=%d ran=%d native=%d guest=%llu ns host=%llu ns ratio=%.1f %s\n",
		      p.opened, p.ran, p.native, (unsigned long long)p.guest_ns,
		      (unsigned long long)p.host_ns, p.ratio, p.reason);
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
		assert_non_null(strstr(p.reason, "slower than on the host"));
	}
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
		cmocka_unit_test(test_run_capture),
		cmocka_unit_test(test_qemu_probe),
		cmocka_unit_test(test_virtiofsd_probe),
		cmocka_unit_test(test_kvm_probe_real),
		cmocka_unit_test(test_kvm_probe_missing_device),
	};
	return cmocka_run_group_tests_name("host", tests, setup, teardown);
}
