/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM launcher without a VM: the QEMU and kernel command lines, and the
 * errors kc_vm_start() gives before (or instead of) a boot: missing files,
 * a QEMU without microvm, socket paths too long, a VMM that exits at once
 * or never lets the agent answer (fake QEMUs written as shell scripts).
 * Every failure must leave no process and no run directory behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/log.h"
#include "host/accel_cache.h"
#include "hypervisor/backend.h"
#include "hypervisor/hypervisor.h"
#include "hypervisor/qemu/qemu.h"
#include "hypervisor/virtiofsd.h"
#include "host/kvm_probe.h"
#include "vm_helpers.h"

static char base[] = "/tmp/kc-vmu-XXXXXX";
static struct kc_config cfg;
static char *kernel, *initrd, *shared;

/* The value that follows opt in argv whose value starts with prefix (or
 * the first one when prefix is NULL); NULL when none. */
static const char *opt_value(char **argv, const char *opt, const char *prefix)
{
	for (char **a = argv; *a && a[1]; a++)
		if (strcmp(*a, opt) == 0 && (!prefix || strncmp(a[1], prefix, strlen(prefix)) == 0))
			return a[1];
	return NULL;
}

static bool has_arg(char **argv, const char *s)
{
	for (char **a = argv; *a; a++)
		if (strcmp(*a, s) == 0)
			return true;
	return false;
}

static void test_argv_tcg_share_no_console(void **state)
{
	struct kc_qemu_cmdline c = {
		.qemu_path = "/usr/bin/qemu-system-x86_64",
		.name = "sb1",
		.kvm = false,
		.vcpus = 2,
		.memory_mib = 256,
		.kernel = "/k/vmlinux",
		.initrd = "/k/initrd.img",
		.append = "quiet panic=-1",
		.qmp_socket = "/r/qmp.sock",
		.agent_socket = "/r/agent.sock",
		.virtiofs_socket = "/r/fs.sock",
	};
	cleanup_strv char **v = kc_qemu_build_argv(&c);

	(void)state;
	assert_string_equal(v[0], "/usr/bin/qemu-system-x86_64");
	assert_string_equal(opt_value(v, "-accel", NULL), "tcg,thread=multi");
	assert_string_equal(opt_value(v, "-cpu", NULL), "max");
	assert_string_equal(opt_value(v, "-M", NULL),
			    "microvm,pit=on,pic=on,rtc=on,isa-serial=off,memory-backend=mem");
	assert_string_equal(opt_value(v, "-global", NULL), "virtio-mmio.force-legacy=false");
	assert_string_equal(opt_value(v, "-object", NULL),
			    "memory-backend-memfd,id=mem,size=256M,share=on");
	assert_string_equal(opt_value(v, "-m", NULL), "256");
	assert_string_equal(opt_value(v, "-smp", NULL), "2");
	assert_string_equal(opt_value(v, "-kernel", NULL), "/k/vmlinux");
	assert_string_equal(opt_value(v, "-initrd", NULL), "/k/initrd.img");
	assert_string_equal(opt_value(v, "-append", NULL), "quiet panic=-1");
	assert_string_equal(opt_value(v, "-qmp", NULL), "unix:/r/qmp.sock,server=on,wait=off");
	assert_string_equal(opt_value(v, "-chardev", "socket,id=fs0"),
			    "socket,id=fs0,path=/r/fs.sock");
	assert_non_null(opt_value(v, "-device", "vhost-user-fs-device,chardev=fs0,tag=kataShared"));
	assert_string_equal(opt_value(v, "-device", "virtio-serial-device"),
			    "virtio-serial-device,max_ports=2");
	assert_string_equal(opt_value(v, "-chardev", "socket,id=agent"),
			    "socket,id=agent,path=/r/agent.sock,server=on,wait=off");
	assert_string_equal(opt_value(v, "-device", "virtserialport"),
			    "virtserialport,chardev=agent,name=agent.channel.0");
	assert_string_equal(opt_value(v, "-name", NULL), "kata-sb1");
	assert_true(has_arg(v, "-nodefaults"));
	assert_true(has_arg(v, "-no-reboot"));
	assert_null(opt_value(v, "-serial", NULL));
	assert_null(opt_value(v, "-chardev", "file"));
	assert_null(opt_value(v, "-chardev", "socket,id=dbgcon"));
}

static void test_argv_kvm_console_commas(void **state)
{
	struct kc_qemu_cmdline c = {
		.qemu_path = "/q",
		.name = "x",
		.kvm = true,
		.vcpus = 1,
		.memory_mib = 2048,
		.kernel = "/k",
		.initrd = NULL,
		.append = "console=ttyS0",
		.qmp_socket = "/r,1/qmp.sock",
		.agent_socket = "/r,1/agent.sock",
		.console_log = "/log,s/console.log",
	};
	cleanup_strv char **v = kc_qemu_build_argv(&c);

	(void)state;
	assert_string_equal(opt_value(v, "-accel", NULL), "kvm");
	assert_string_equal(opt_value(v, "-cpu", NULL), "host");
	assert_non_null(strstr(opt_value(v, "-M", NULL), "isa-serial=on"));
	assert_null(opt_value(v, "-initrd", NULL));
	/* Commas in paths are doubled, as QEMU's option parser wants. */
	assert_string_equal(opt_value(v, "-qmp", NULL), "unix:/r,,1/qmp.sock,server=on,wait=off");
	assert_string_equal(opt_value(v, "-chardev", "file"),
			    "file,id=console,path=/log,,s/console.log,append=on");
	assert_string_equal(opt_value(v, "-serial", NULL), "chardev:console");
	assert_null(opt_value(v, "-device", "vhost-user-fs-device"));
}

/* Kata's words for a fast boot (virtcontainers/qemu_amd64.go), spelled out
 * here so that a change to them is seen. */
#define BOOT \
	"tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 " \
	"i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests"

static void test_kernel_cmdline(void **state)
{
	struct kc_config c = { 0 };
	char *s;

	(void)state;
	c.hypervisor.kernel_params = (char *)"cgroup_no_v1=all";
	s = kc_qemu_kernel_cmdline(&c, "foo=1", false, 0);
	assert_string_equal(s, "quiet panic=-1 " BOOT " agent.listen=serial://agent.channel.0 "
			       "cgroup_no_v1=all foo=1");
	free(s);
	s = kc_qemu_kernel_cmdline(&c, NULL, true, 2400000);
	assert_string_equal(s, "console=ttyS0 quiet panic=-1 " BOOT
			       " agent.listen=serial://agent.channel.0 "
			       "tsc_early_khz=2400000 cgroup_no_v1=all");
	free(s);
	c.agent.enable_debug = true;
	s = kc_qemu_kernel_cmdline(&c, NULL, true, 0);
	assert_string_equal(s,
			    "console=ttyS0 panic=-1 " BOOT " agent.listen=serial://agent.channel.0 "
			    "agent.log=debug cgroup_no_v1=all");
	free(s);
}

/* debug_console_enabled: a third port on its own socket, agent.debug_console,
 * the console's initrd beside the configured one (the configured one, with
 * a warning, when it is missing); nothing of it otherwise. */
static void test_debug_console(void **state)
{
	struct kc_qemu_cmdline c = {
		.qemu_path = "/q",
		.name = "x",
		.vcpus = 1,
		.memory_mib = 256,
		.kernel = "/k",
		.append = "quiet",
		.qmp_socket = "/r/qmp.sock",
		.agent_socket = "/r/agent.sock",
		.debug_console_socket = "/r,1/console.sock",
	};
	cleanup_strv char **v = kc_qemu_build_argv(&c);
	char dir[] = "/tmp/kc-test-dbgcon.XXXXXX", *s;
	struct kc_config dc = { 0 };

	(void)state;
	assert_string_equal(opt_value(v, "-device", "virtio-serial-device"),
			    "virtio-serial-device,max_ports=3");
	assert_string_equal(opt_value(v, "-chardev", "socket,id=dbgcon"),
			    "socket,id=dbgcon,path=/r,,1/console.sock,server=on,wait=off");
	assert_string_equal(opt_value(v, "-device", "virtserialport,chardev=dbgcon"),
			    "virtserialport,chardev=dbgcon,name=console.0");
	assert_string_equal(opt_value(v, "-device", "virtserialport,chardev=agent"),
			    "virtserialport,chardev=agent,name=agent.channel.0");

	s = kc_qemu_kernel_cmdline(&dc, NULL, false, 0);
	assert_null(strstr(s, "debug_console"));
	free(s);
	dc.agent.debug_console_enabled = true;
	s = kc_qemu_kernel_cmdline(&dc, "x=1", false, 0);
	assert_non_null(strstr(s, " agent.listen=serial://agent.channel.0 agent.debug_console x=1"));
	free(s);

	s = kc_qemu_console_initrd_path("/a/kata-containers-initrd.img");
	assert_string_equal(s, "/a/kata-containers-initrd-console.img");
	free(s);
	s = kc_qemu_console_initrd_path("/a/initrd");
	assert_string_equal(s, "/a/initrd-console");
	free(s);

	assert_non_null(mkdtemp(dir));
	dc.hypervisor.initrd = kc_xasprintf("%s/i.img", dir);
	s = kc_qemu_initrd(&dc);
	assert_string_equal(s, dc.hypervisor.initrd); /* no console initrd: the configured one */
	free(s);
	{
		cleanup_free char *con = kc_xasprintf("%s/i-console.img", dir);

		assert_int_equal(kc_write_file_atomic(con, "x", 1, 0644, NULL), 0);
		s = kc_qemu_initrd(&dc);
		assert_string_equal(s, con);
		free(s);
		dc.agent.debug_console_enabled = false;
		s = kc_qemu_initrd(&dc);
		assert_string_equal(s, dc.hypervisor.initrd);
		free(s);
		unlink(con);
	}
	free(dc.hypervisor.initrd);
	rmdir(dir);
}

static void test_virtiofsd_argv(void **state)
{
	struct kc_config c = { 0 };
	char *extra[] = { (char *)"-o", (char *)"xattr", NULL };
	cleanup_strv char **v = NULL;

	(void)state;
	c.hypervisor.virtio_fs_daemon = (char *)"/usr/lib/qemu/virtiofsd";
	c.hypervisor.virtio_fs_cache = (char *)"always";
	c.hypervisor.virtio_fs_extra_args = (struct kc_strv){ .v = extra, .n = 2 };
	v = kc_virtiofsd_argv(&c, "/r/fs.sock", "/share");
	assert_string_equal(v[0], "/usr/lib/qemu/virtiofsd");
	assert_string_equal(v[1], "--socket-path=/r/fs.sock");
	assert_string_equal(v[2], "-o");
	assert_string_equal(v[3], "source=/share");
	assert_string_equal(v[4], "-o");
	assert_string_equal(v[5], "cache=always");
	assert_string_equal(v[6], "-o");
	assert_string_equal(v[7], "xattr");
	assert_null(v[8]);
}

static void test_tsc_khz(void **state)
{
	(void)state;
	/* x86 hosts list "cpu MHz". */
	assert_true(kc_qemu_host_tsc_khz() > 100000);
}

/* ---- kc_vm_start errors ---- */

struct err_case {
	char *run_dir;
	struct kc_vm_spec spec;
	int children, fds;
};

static void ec_init(struct err_case *t, const char *name)
{
	t->run_dir = kc_xasprintf("%s/%s", base, name);
	t->spec = (struct kc_vm_spec){ .cfg = &cfg,
				       .id = name,
				       .run_dir = t->run_dir,
				       .agent_timeout_ns = 20 * SEC };
	t->children = ah_count_children();
	t->fds = ah_count_fds(getpid());
}

/* kc_vm_start fails with ret and a message holding each of the needles;
 * nothing is left. */
static void ec_expect(struct err_case *t, int ret, const char *n1, const char *n2)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_vm *vm = NULL;

	assert_int_equal(kc_vm_start(&t->spec, &vm, &err), ret);
	assert_null(vm);
	assert_non_null(err);
	print_message("# %s\n", err->msg);
	if (n1)
		assert_non_null(strstr(err->msg, n1));
	if (n2)
		assert_non_null(strstr(err->msg, n2));
	assert_false(path_exists(t->run_dir));
	assert_int_equal(ah_count_children(), t->children);
	assert_int_equal(ah_count_fds(getpid()), t->fds);
	assert_int_equal(leftover_procs(t->run_dir), 0);
	free(t->run_dir);
}

static void test_missing_kernel(void **state)
{
	struct err_case t;

	(void)state;
	set_str(&cfg.hypervisor.kernel, "/nonexistent/vmlinux");
	ec_init(&t, "nokernel");
	ec_expect(&t, -ENOENT, "guest kernel `/nonexistent/vmlinux`", "No such file");
	set_str(&cfg.hypervisor.kernel, kernel);
}

static void test_missing_initrd(void **state)
{
	struct err_case t;

	(void)state;
	set_str(&cfg.hypervisor.initrd, "/nonexistent/initrd.img");
	ec_init(&t, "noinitrd");
	ec_expect(&t, -ENOENT, "guest initrd `/nonexistent/initrd.img`", NULL);
	set_str(&cfg.hypervisor.initrd, initrd);
}

static void test_missing_qemu(void **state)
{
	cleanup_free char *saved = kc_xstrdup(cfg.hypervisor.path);
	struct err_case t;

	(void)state;
	set_str(&cfg.hypervisor.path, "/nonexistent/qemu-system-x86_64");
	ec_init(&t, "noqemu");
	ec_expect(&t, -ENOENT, "QEMU `/nonexistent/qemu-system-x86_64`", NULL);
	set_str(&cfg.hypervisor.path, saved);
}

static char *write_script(const char *name, const char *body)
{
	char *p = kc_xasprintf("%s/%s", base, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(p, 0755), 0);
	return p;
}

static void test_qemu_without_microvm(void **state)
{
	cleanup_free char *saved = kc_xstrdup(cfg.hypervisor.path);
	cleanup_free char *fake = write_script(
		"qemu-pc-only", "echo 'Supported machines are:'; echo 'pc  Standard PC (i440FX)'");
	struct err_case t;

	(void)state;
	set_str(&cfg.hypervisor.path, fake);
	ec_init(&t, "nomicrovm");
	ec_expect(&t, -ENOTSUP, "does not support the microvm machine", "qemu-pc-only");
	set_str(&cfg.hypervisor.path, saved);
	unlink(fake);
}

static void test_missing_virtiofsd(void **state)
{
	cleanup_free char *saved = kc_xstrdup(cfg.hypervisor.virtio_fs_daemon);
	struct err_case t;

	(void)state;
	set_str(&cfg.hypervisor.virtio_fs_daemon, "/nonexistent/virtiofsd");
	ec_init(&t, "novfsd");
	t.spec.shared_dir = shared;
	ec_expect(&t, -ENOENT, "virtiofsd (virtio_fs_daemon) `/nonexistent/virtiofsd`", NULL);
	set_str(&cfg.hypervisor.virtio_fs_daemon, saved);
}

static void test_unknown_hypervisor(void **state)
{
	struct err_case t;

	(void)state;
	set_str(&cfg.hypervisor.name, "clh");
	ec_init(&t, "clh");
	ec_expect(&t, -ENOTSUP, "[hypervisor.clh]: not supported", NULL);
	set_str(&cfg.hypervisor.name, "qemu");
}

static void test_socket_path_too_long(void **state)
{
	char name[120];
	struct err_case t;

	(void)state;
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ec_init(&t, name);
	ec_expect(&t, -ENAMETOOLONG, "longer than a unix socket address allows", "qmp.sock");
}

/* A "QEMU" that knows microvm but dies at once: the error carries its
 * status and the tail of its stderr. */
static void test_qemu_exits_early(void **state)
{
	cleanup_free char *saved = kc_xstrdup(cfg.hypervisor.path);
	cleanup_free char *fake = write_script(
		"qemu-dies",
		"if [ \"$1\" = -M ]; then echo 'microvm              microvm (i386)'; exit 0; fi\n"
		"echo 'qemu-dies: -device virtserialport: boom' >&2; exit 3");
	struct err_case t;

	(void)state;
	set_str(&cfg.hypervisor.path, fake);
	ec_init(&t, "dies");
	ec_expect(&t, -ECHILD, "exited with status 3", "virtserialport: boom");
	set_str(&cfg.hypervisor.path, saved);
	unlink(fake);
}

/* A "QEMU" that runs but whose guest never answers: killed at the
 * deadline, nothing left. */
static void test_never_answers(void **state)
{
	cleanup_free char *saved = kc_xstrdup(cfg.hypervisor.path);
	cleanup_free char *fake = write_script(
		"qemu-hangs",
		"if [ \"$1\" = -M ]; then echo 'microvm              microvm (i386)'; exit 0; fi\n"
		"exec sleep 1000");
	struct err_case t;

	(void)state;
	set_str(&cfg.hypervisor.path, fake);
	ec_init(&t, "hangs");
	t.spec.agent_timeout_ns = SEC / 2;
	ec_expect(&t, -ETIMEDOUT, "did not answer grpc.Health/Check within 0.5 s", "VM killed");
	set_str(&cfg.hypervisor.path, saved);
	unlink(fake);
}

/* virtiofsd that fails at once (a source that is a file is refused). */
static void test_virtiofsd_fails(void **state)
{
	cleanup_free char *saved = kc_xstrdup(cfg.hypervisor.virtio_fs_daemon);
	cleanup_free char *fake = write_script("vfsd-fails",
					       "echo 'vfsd-fails: bad source' >&2; exit 1");
	struct err_case t;

	(void)state;
	set_str(&cfg.hypervisor.virtio_fs_daemon, fake);
	ec_init(&t, "vfsdfails");
	t.spec.shared_dir = shared;
	ec_expect(&t, -ECHILD, "virtiofsd for", "bad source");
	set_str(&cfg.hypervisor.virtio_fs_daemon, saved);
	unlink(fake);
}

/* A command line the guest kernel would not take whole is refused before
 * anything runs, at once, not by a guest that never answers (the fake
 * QEMU hangs, as a guest without its agent would): a quote in a word of
 * kernel_params, and a line over COMMAND_LINE_SIZE, with its length. */
static void test_kernel_cmdline_refused(void **state)
{
	cleanup_free char *saved = kc_xstrdup(cfg.hypervisor.path);
	cleanup_free char *params = kc_xstrdup(cfg.hypervisor.kernel_params);
	cleanup_free char *fake = write_script(
		"qemu-hangs2",
		"if [ \"$1\" = -M ]; then echo 'microvm              microvm (i386)'; exit 0; fi\n"
		"exec sleep 1000");
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *big = kc_xmalloc(70 * 1024 + 1);
	struct err_case t;
	uint64_t t0;

	(void)state;
	set_str(&cfg.hypervisor.path, fake);
	set_str(&cfg.hypervisor.kernel_params, "nokaslr a\"b foo");
	ec_init(&t, "quote");
	t0 = kc_monotonic_ns();
	ec_expect(&t, -1, "VM quote: kernel parameter `a\"b`", "a quote is not allowed");
	assert_true(kc_monotonic_ns() - t0 < 2 * SEC);

	/* 70 KB of words (as a 70 KB kernel_params annotation would be). */
	for (size_t i = 0; i < 70 * 1024; i += 2)
		memcpy(big + i, "x ", 2);
	big[70 * 1024] = '\0';
	set_str(&cfg.hypervisor.kernel_params, big);
	ec_init(&t, "long");
	t0 = kc_monotonic_ns();
	ec_expect(&t, -1, "VM long: the guest kernel command line is 7",
		  " bytes, over the "
		  "kernel's limit of 2047 (COMMAND_LINE_SIZE 2048");
	assert_true(kc_monotonic_ns() - t0 < 2 * SEC);
	set_str(&cfg.hypervisor.kernel_params, params);
	set_str(&cfg.hypervisor.path, saved);
	unlink(fake);

	/* The limit itself: 2047 bytes pass, 2048 do not. */
	memset(big, 'x', 2047);
	big[2047] = '\0';
	assert_int_equal(kc_qemu_check_kernel_cmdline(big, &err), 0);
	big[2047] = 'x';
	big[2048] = '\0';
	assert_int_equal(kc_qemu_check_kernel_cmdline(big, &err), -1);
	assert_non_null(strstr(err->msg, "is 2048 bytes, over the kernel's limit of 2047"));
}

/* accel = "auto": the probe decides, TCG is announced in the log, and the
 * argv QEMU really gets (recorded by a fake QEMU) matches; it inherits
 * none of our fds (stdin is /dev/null). */
static void test_accel_auto_argv(void **state)
{
	cleanup_free char *saved = kc_xstrdup(cfg.hypervisor.path);
	cleanup_free char *saved_accel = kc_xstrdup(cfg.hypervisor.accel);
	cleanup_free char *rec = kc_xasprintf("%s/argv.txt", base);
	cleanup_free char *logp = kc_xasprintf("%s/launcher.log", base);
	cleanup_free char *body = kc_xasprintf(
		"if [ \"$1\" = -M ]; then echo 'microvm              microvm (i386)'; exit 0; fi\n"
		"printf '%%s\\n' \"$@\" > '%s'; ls -l /proc/$$/fd > '%s.fds'; exit 1",
		rec, rec);
	cleanup_free char *fake = write_script("qemu-records", body);
	cleanup_free char *args = NULL, *log = NULL;
	cleanup_free char *agent_chardev = NULL;
	cleanup_free char *fdsp = kc_xasprintf("%s.fds", rec);
	cleanup_free char *marker = kc_xasprintf("%s/inherit-me-not", base);
	cleanup_free char *fds = NULL;
	struct kc_kvm_probe p;
	int leak;
	struct err_case t;
	size_t len;
	bool native;
	int fd;

	(void)state;
	assert_int_equal(kc_kvm_probe("/dev/kvm", &p, NULL), 0);
	native = strcmp(kc_accel_resolve("auto", &p), "kvm") == 0;
	set_str(&cfg.hypervisor.path, fake);
	set_str(&cfg.hypervisor.accel, "auto");
	fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	kc_log_set_fd(fd);
	kc_log_set_level(KC_LOG_WARNING);
	/* Not close-on-exec: the launcher must close it in its children. */
	leak = open(marker, O_WRONLY | O_CREAT, 0644);
	assert_true(leak >= 0);
	ec_init(&t, "auto");
	ec_expect(&t, -ECHILD, "exited with status 1", NULL);
	close(leak);
	unlink(marker);
	kc_log_set_fd(-1);
	kc_log_set_level(KC_LOG_ERROR);
	close(fd);
	set_str(&cfg.hypervisor.path, saved);
	set_str(&cfg.hypervisor.accel, saved_accel);

	assert_int_equal(kc_read_file(rec, 1 << 20, &args, &len, NULL), 0);
	assert_int_equal(kc_read_file(logp, 1 << 20, &log, &len, NULL), 0);
	agent_chardev = kc_xasprintf("socket,id=agent,path=%s/auto/agent.sock,server=on,wait=off",
				     base);
	assert_non_null(strstr(args, agent_chardev));
	assert_int_equal(kc_read_file(fdsp, 1 << 20, &fds, &len, NULL), 0);
	assert_null(strstr(fds, "inherit-me-not"));
	assert_null(strstr(fds, "launcher.log"));
	assert_non_null(strstr(fds, " 0 -> /dev/null"));
	unlink(fdsp);
	assert_non_null(strstr(args, "\n-m\n256\n"));
	if (native) {
		assert_non_null(strstr(args, "\n-accel\nkvm\n"));
		assert_null(strstr(args, "tsc_early_khz="));
	} else {
		assert_non_null(strstr(args, "\n-accel\ntcg,thread=multi\n"));
		assert_non_null(strstr(args, "tsc_early_khz="));
		assert_non_null(strstr(log, "level=warning"));
		assert_non_null(strstr(log, "KVM cannot run this guest at native speed"));
	}
	unlink(rec);
	unlink(logp);
	unlink(fake);
}

/* The verdict of accel = "auto" is probed once per host boot. */
static void test_accel_cache(void **state)
{
	cleanup_free char *path = kc_xasprintf("%s/cache/accel", base);
	cleanup_free char *dir = kc_xasprintf("%s/cache", base);
	cleanup_free char *text = NULL;
	char r1[256], r2[256];
	const char *a1, *a2;
	size_t len;
	bool cached;
	FILE *f;

	(void)state;
	a1 = kc_accel_auto(path, r1, sizeof(r1), &cached);
	assert_false(cached);
	assert_true(strcmp(a1, "kvm") == 0 || strcmp(a1, "tcg") == 0);
	assert_int_equal(kc_read_file(path, 4096, &text, &len, NULL), 0);
	assert_non_null(strstr(text, "boot_id "));
	a2 = kc_accel_auto(path, r2, sizeof(r2), &cached);
	assert_true(cached);
	assert_string_equal(a1, a2);
	assert_string_equal(r1, r2);
	/* Written in another boot, or malformed: probed again. */
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "boot_id 00000000-0000-0000-0000-000000000000\naccel kvm\nreason \n");
	fclose(f);
	a2 = kc_accel_auto(path, r2, sizeof(r2), &cached);
	assert_false(cached);
	assert_string_equal(a1, a2);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "accel maybe\n");
	fclose(f);
	a2 = kc_accel_auto(path, r2, sizeof(r2), &cached);
	assert_false(cached);
	assert_string_equal(a1, a2);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* Lines of a file; 0 when it is missing. */
static int count_lines(const char *path)
{
	cleanup_free char *text = NULL;
	size_t len;
	int n = 0;

	if (kc_read_file(path, 1 << 20, &text, &len, NULL) < 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n;
}

/* A QEMU binary found good is asked `-M help` once per host boot, and
 * again when it changes; one that fails is never remembered. */
static void test_qemu_check_cache(void **state)
{
	cleanup_free char *cache = kc_xasprintf("%s/cache/qemu", base);
	cleanup_free char *dir = kc_xasprintf("%s/cache", base);
	cleanup_free char *calls = kc_xasprintf("%s/qemu-calls", base);
	cleanup_free char *body = kc_xasprintf("echo \"$@\" >> '%s'\n"
					       "[ -e '%s.bad' ] && exit 3\n"
					       "echo 'microvm              microvm (i386)'",
					       calls, calls);
	cleanup_free char *fake = write_script("qemu-counted", body);
	cleanup_free char *bad = kc_xasprintf("%s.bad", calls);
	cleanup_free char *text = NULL;
	cleanup_error kc_error_t err = NULL;
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(kc_qemu_check_binary(fake, cache, NULL), 0);
	assert_int_equal(count_lines(calls), 1);
	assert_int_equal(kc_read_file(cache, 4096, &text, &len, NULL), 0);
	assert_int_equal(strncmp(text, "boot_id ", 8), 0);
	assert_non_null(strstr(text, fake));
	assert_int_equal(kc_qemu_check_binary(fake, cache, NULL), 0);
	assert_int_equal(count_lines(calls), 1);
	/* Another binary at that path (its mtime): asked again, then known. */
	assert_int_equal(utimensat(AT_FDCWD, fake, ts, 0), 0);
	assert_int_equal(kc_qemu_check_binary(fake, cache, NULL), 0);
	assert_int_equal(kc_qemu_check_binary(fake, cache, NULL), 0);
	assert_int_equal(count_lines(calls), 2);
	/* A cache written in another boot is not believed. */
	f = fopen(cache, "w");
	assert_non_null(f);
	fprintf(f, "boot_id 00000000-0000-0000-0000-000000000000\n%s\n",
		strchr(text, '\n') ? strchr(text, '\n') + 1 : "");
	fclose(f);
	assert_int_equal(kc_qemu_check_binary(fake, cache, NULL), 0);
	assert_int_equal(count_lines(calls), 3);
	/* Broken now, after a change: the error, and nothing remembered. */
	f = fopen(bad, "w");
	assert_non_null(f);
	fclose(f);
	ts[1].tv_sec = 23456;
	assert_int_equal(utimensat(AT_FDCWD, fake, ts, 0), 0);
	assert_int_equal(kc_qemu_check_binary(fake, cache, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "-M help`: exited with status 3"));
	assert_int_equal(kc_qemu_check_binary(fake, cache, NULL), -EINVAL);
	assert_int_equal(count_lines(calls), 5);
	assert_int_equal(unlink(bad), 0);
	assert_int_equal(unlink(calls), 0);
	assert_int_equal(unlink(fake), 0);
	assert_int_equal(unlink(cache), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- the ops table: what a back end lacks, hypervisor.c answers ---- */

static int fake_pauses;

static int fake_start(const struct kc_vm_spec *spec, void **impl, kc_error_t *err)
{
	(void)spec;
	(void)err;
	*impl = kc_xstrdup("fake");
	return 0;
}

static const char *fake_agent_uri(const void *impl)
{
	(void)impl;
	return "unix:///nonexistent/agent.sock";
}

static int fake_take_agent_fd(void *impl)
{
	(void)impl;
	return -1;
}

static pid_t fake_pid(const void *impl)
{
	(void)impl;
	return 0;
}

static int fake_fd(const void *impl)
{
	(void)impl;
	return -1;
}

static char *fake_lost(void *impl)
{
	(void)impl;
	return kc_xstrdup("nothing");
}

static int fake_stop(void *impl, kc_error_t *err)
{
	(void)impl;
	(void)err;
	return 0;
}

static int fake_pause(void *impl, kc_error_t *err)
{
	(void)impl;
	(void)err;
	fake_pauses++;
	return 0;
}

/* Only the required ops, and pause. */
static const struct kc_vm_ops fake_ops = {
	.name = "fake",
	.start = fake_start,
	.agent_uri = fake_agent_uri,
	.take_agent_fd = fake_take_agent_fd,
	.pid = fake_pid,
	.pidfd = fake_fd,
	.watch_fd = fake_fd,
	.lost = fake_lost,
	.stop = fake_stop,
	.free = free,
	.pause = fake_pause,
};

/* ret is -errnum and the message is exactly msg. */
static void expect_err(int ret, kc_error_t *err, int errnum, const char *msg)
{
	assert_non_null(*err);
	print_message("# %s\n", (*err)->msg);
	assert_int_equal(ret, -errnum);
	assert_string_equal((*err)->msg, msg);
	kc_error_free(err);
}

static void test_null_ops_not_supported(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_vm_spec spec = { .cfg = &cfg, .id = "f1", .run_dir = "/nonexistent" };
	int fds[2] = { 5, 6 };
	struct kc_vm_device disk = { .type = KC_VM_DEV_DISK,
				     .disk = { .id = "d1", .path = "/img" } };
	struct kc_vm_device net = { .type = KC_VM_DEV_NET,
				    .net = { .id = "n1", .fds = fds, .n_fds = 2 } };
	struct kc_vm_device cpus = { .type = KC_VM_DEV_VCPUS, .vcpus = { .count = 2 } };
	struct kc_vm_device vfio = {
		.type = KC_VM_DEV_VFIO,
		.vfio = { .id = "gpu0", .sysfs_path = "/sys/bus/pci/devices/0000:01:00.0" },
	};
	struct kc_vm_device bad;
	struct kc_vm_ops incomplete = fake_ops;
	struct kc_vm_info info;
	struct kc_vm *vm = NULL;

	(void)state;
	incomplete.lost = NULL;
	expect_err(kc_vm_start_ops(&incomplete, &spec, &vm, &err), &err, EINVAL,
		   "VM back end fake: no `lost` op (required): Invalid argument");
	assert_null(vm);

	assert_int_equal(kc_vm_start_ops(&fake_ops, &spec, &vm, &err), 0);
	/* A table's op is called; a NULL one is answered here. */
	assert_int_equal(kc_vm_pause(vm, &err), 0);
	assert_int_equal(fake_pauses, 1);
	expect_err(kc_vm_resume(vm, &err), &err, ENOTSUP,
		   "VM f1: resume: not supported by the fake back end");
	expect_err(kc_vm_wait(vm, 0, &err), &err, ENOTSUP,
		   "VM f1: wait: not supported by the fake back end");
	expect_err(kc_vm_query(vm, &info, &err), &err, ENOTSUP,
		   "VM f1: query: not supported by the fake back end");
	expect_err(kc_vm_save(vm, "/var/lib/tpl", &err), &err, ENOTSUP,
		   "VM f1: save: not supported by the fake back end");
	expect_err(kc_vm_add_device(vm, &disk, &err), &err, ENOTSUP,
		   "VM f1: add_device (disk `d1`): not supported by the fake back end");
	expect_err(kc_vm_add_device(vm, &net, &err), &err, ENOTSUP,
		   "VM f1: add_device (net `n1`): not supported by the fake back end");
	expect_err(kc_vm_add_device(vm, &vfio, &err), &err, ENOTSUP,
		   "VM f1: add_device (vfio `gpu0`): not supported by the fake back end");
	expect_err(kc_vm_remove_device(vm, &cpus, &err), &err, ENOTSUP,
		   "VM f1: remove_device (vcpus 2): not supported by the fake back end");

	/* Bad input is refused first, naming what is wrong. */
	expect_err(kc_vm_save(vm, "tpl", &err), &err, EINVAL,
		   "VM f1: save: the state directory must be an absolute path, not `tpl`: "
		   "Invalid argument");
	expect_err(kc_vm_add_device(vm, NULL, &err), &err, EINVAL,
		   "VM f1: add_device: no device: Invalid argument");
	bad = (struct kc_vm_device){ .type = (enum kc_vm_device_type)99 };
	expect_err(kc_vm_add_device(vm, &bad, &err), &err, EINVAL,
		   "VM f1: add_device: unknown device type 99: Invalid argument");
	bad = (struct kc_vm_device){ .type = KC_VM_DEV_DISK, .disk = { .id = "d2", .path = "img" } };
	expect_err(kc_vm_add_device(vm, &bad, &err), &err, EINVAL,
		   "VM f1: add_device (disk `d2`): the host path must be an absolute path: "
		   "Invalid argument");
	/* Removal needs only the id. */
	expect_err(kc_vm_remove_device(vm, &bad, &err), &err, ENOTSUP,
		   "VM f1: remove_device (disk `d2`): not supported by the fake back end");
	bad = (struct kc_vm_device){ .type = KC_VM_DEV_NET, .net = { .id = "n2" } };
	expect_err(kc_vm_add_device(vm, &bad, &err), &err, EINVAL,
		   "VM f1: add_device (net `n2`): needs 1 to 8 TAP queue fds, not 0: "
		   "Invalid argument");
	bad = (struct kc_vm_device){ .type = KC_VM_DEV_MEMORY };
	expect_err(kc_vm_add_device(vm, &bad, &err), &err, EINVAL,
		   "VM f1: add_device (memory 0 MiB): size 0: Invalid argument");
	bad = (struct kc_vm_device){ .type = KC_VM_DEV_VFIO,
				     .vfio = { .id = "v", .sysfs_path = "/dev/vfio/1" } };
	expect_err(kc_vm_add_device(vm, &bad, &err), &err, EINVAL,
		   "VM f1: add_device (vfio `v`): the host device must be a path under /sys/: "
		   "Invalid argument");
	bad = (struct kc_vm_device){ .type = KC_VM_DEV_VFIO };
	expect_err(kc_vm_remove_device(vm, &bad, &err), &err, EINVAL,
		   "VM f1: remove_device (vfio): no id: Invalid argument");
	kc_vm_free(vm);
	vm = NULL;

	/* QEMU's table: restore is not there (nothing is started). */
	expect_err(kc_vm_restore(&spec, "/var/lib/tpl", &vm, &err), &err, ENOTSUP,
		   "VM f1: restore: not supported by the qemu back end");
	assert_null(vm);
	assert_string_equal(kc_vm_state_name(KC_VM_PAUSED), "paused");
	assert_string_equal(kc_vm_device_type_name(KC_VM_DEV_VFIO), "vfio");
}

static int group_setup(void **state)
{
	(void)state;
	kc_log_init("test-vm-launcher", "runtime");
	kc_log_set_level(KC_LOG_ERROR);
	if (!mkdtemp(base) || load_test_config(&cfg) < 0)
		return -1;
	/* The checks only look at the files: empty stand-ins do. */
	kernel = kc_xasprintf("%s/vmlinux", base);
	initrd = kc_xasprintf("%s/initrd.img", base);
	shared = kc_xasprintf("%s/shared", base);
	close(open(kernel, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	close(open(initrd, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	mkdir(shared, 0755);
	set_str(&cfg.hypervisor.kernel, kernel);
	set_str(&cfg.hypervisor.initrd, initrd);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(kernel);
	unlink(initrd);
	rmdir(shared);
	free(kernel);
	free(initrd);
	free(shared);
	kc_config_free(&cfg);
	return rmdir(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_tcg_share_no_console),
		cmocka_unit_test(test_argv_kvm_console_commas),
		cmocka_unit_test(test_kernel_cmdline),
		cmocka_unit_test(test_debug_console),
		cmocka_unit_test(test_virtiofsd_argv),
		cmocka_unit_test(test_tsc_khz),
		cmocka_unit_test(test_missing_kernel),
		cmocka_unit_test(test_missing_initrd),
		cmocka_unit_test(test_missing_qemu),
		cmocka_unit_test(test_qemu_without_microvm),
		cmocka_unit_test(test_qemu_check_cache),
		cmocka_unit_test(test_missing_virtiofsd),
		cmocka_unit_test(test_unknown_hypervisor),
		cmocka_unit_test(test_socket_path_too_long),
		cmocka_unit_test(test_qemu_exits_early),
		cmocka_unit_test(test_never_answers),
		cmocka_unit_test(test_virtiofsd_fails),
		cmocka_unit_test(test_kernel_cmdline_refused),
		cmocka_unit_test(test_accel_auto_argv),
		cmocka_unit_test(test_accel_cache),
		cmocka_unit_test(test_null_ops_not_supported),
	};

	return cmocka_run_group_tests_name("vm-launcher", tests, group_setup, group_teardown);
}
