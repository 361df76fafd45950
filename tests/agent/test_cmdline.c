/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's init duties that run outside a VM: the kernel command line
 * parser, module loading failures, cgroup controllers on a fake root, and
 * reaping of orphans that are no container's (the rest needs a VM:
 * tests/guest). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/init/init.h"
#include "agent/init/modules.h"
#include "lib/util.h"

static void test_defaults(void **state)
{
	struct kc_agent_cmdline c;

	(void)state;
	assert_int_equal(kc_agent_cmdline_parse("console=hvc0 quiet root=/dev/vda1", &c, NULL), 0);
	assert_false(c.log_level_set);
	assert_false(c.debug_console);
	assert_null(c.listen);
	assert_int_equal(kc_agent_cmdline_parse("", &c, NULL), 0);
	assert_null(c.listen);
}

static void test_agent_keys(void **state)
{
	struct kc_agent_cmdline c;

	(void)state;
	assert_int_equal(kc_agent_cmdline_parse("  console=hvc0 agent.log=debug\tagent.debug_console "
						"agent.listen=unix:///run/a.sock systemd.x=1\n",
						&c, NULL),
			 0);
	assert_true(c.log_level_set);
	assert_int_equal(c.log_level, KC_LOG_DEBUG);
	assert_true(c.debug_console);
	assert_string_equal(c.listen, "unix:///run/a.sock");
	kc_agent_cmdline_free(&c);
}

static void test_quotes_and_last_wins(void **state)
{
	struct kc_agent_cmdline c;

	(void)state;
	assert_int_equal(kc_agent_cmdline_parse("agent.listen=vsock://-1:1024 "
						"agent.listen=\"unix:///a b\" agent.log=warn",
						&c, NULL),
			 0);
	assert_string_equal(c.listen, "unix:///a b");
	assert_int_equal(c.log_level, KC_LOG_WARNING);
	kc_agent_cmdline_free(&c);
	/* Not an agent key, though it starts alike. */
	assert_int_equal(kc_agent_cmdline_parse("agent.logfile=x agent.debug_console=0", &c, NULL),
			 0);
	assert_false(c.log_level_set);
	assert_false(c.debug_console);
}

static void test_errors(void **state)
{
	struct kc_agent_cmdline c;
	kc_error_t err = NULL;

	(void)state;
	assert_true(kc_agent_cmdline_parse("agent.log=loud", &c, &err) < 0);
	assert_non_null(strstr(err->msg, "agent.log"));
	assert_non_null(strstr(err->msg, "loud"));
	kc_error_free(&err);
	assert_true(kc_agent_cmdline_parse("agent.listen=", &c, &err) < 0);
	assert_non_null(strstr(err->msg, "agent.listen"));
	kc_error_free(&err);
	assert_true(kc_agent_cmdline_parse("agent.listen=\"unix:///x", &c, &err) < 0);
	assert_non_null(strstr(err->msg, "quote"));
	kc_error_free(&err);
	assert_true(kc_agent_cmdline_parse("agent.log", &c, &err) < 0);
	kc_error_free(&err);
}

static void test_modules_load(void **state)
{
	struct kc_agent_cmdline c;
	kc_error_t err = NULL;

	(void)state;
	assert_int_equal(kc_agent_cmdline_parse("quiet modules_load=vsock,virtio-net", &c, NULL), 0);
	assert_non_null(c.modules);
	assert_string_equal(c.modules[0], "vsock");
	assert_string_equal(c.modules[1], "virtio-net");
	assert_null(c.modules[2]);
	kc_agent_cmdline_free(&c);
	assert_true(kc_agent_cmdline_parse("modules_load=ok,../../etc/x", &c, &err) < 0);
	assert_non_null(strstr(err->msg, "../../etc/x"));
	kc_error_free(&err);
	assert_false(kc_agent_module_name_valid(""));
	assert_false(kc_agent_module_name_valid("a/b"));
	assert_false(kc_agent_module_name_valid(".."));
	assert_true(kc_agent_module_name_valid("vmw_vsock_virtio_transport"));
}

static void test_module_params(void **state)
{
	char *p;

	(void)state;
	p = kc_agent_cmdline_module_params("quiet virtio_net.napi_tx=1 virtio-net.x=\"a b\" "
					   "virtio_netx.y=2 fuse.max=3 virtio_net.flag "
					   "a=virtio_net.z",
					   "virtio-net");
	assert_string_equal(p, "napi_tx=1 x=a b flag");
	free(p);
	p = kc_agent_cmdline_module_params("quiet", "fuse");
	assert_string_equal(p, "");
	free(p);
}

static void write_file(const char *dir, const char *name, const char *content)
{
	cleanup_free char *path = kc_xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

/* Nothing here is a real module: every load fails, each is counted and
 * named, and nothing is loaded into the host's kernel. */
static void test_modules_failures(void **state)
{
	char dir[] = "/tmp/kc-guest-boot-mod-XXXXXX";
	char *extra[] = { (char *)"also_missing_kc", NULL };
	kc_error_t err = NULL;
	cleanup_free char *cmd = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "garbage_kc.ko", "not an ELF file");
	write_file(dir, "load-order", "garbage_kc.ko\n\nmissing_kc.ko\n../escape.ko\n");
	assert_int_equal(kc_agent_modules_load_all(dir, NULL, extra, "garbage_kc.x=1", &err), 4);
	assert_null(err);
	assert_true(kc_agent_module_load(dir, "missing_kc", NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "missing_kc"));
	kc_error_free(&err);
	assert_true(kc_agent_module_load(dir, "garbage-kc", "", &err) < 0);
	assert_non_null(strstr(err->msg, "garbage-kc"));
	assert_non_null(strstr(err->msg, "finit_module"));
	kc_error_free(&err);
	{
		/* CreateSandbox.kernel_modules: parameters checked, errors named. */
		char *params[] = { (char *)"a=1", (char *)"b=2 c=3" };
		Grpc__KernelModule m = GRPC__KERNEL_MODULE__INIT;
		Grpc__KernelModule *mods[] = { &m };

		m.name = (char *)"garbage_kc";
		m.parameters = params;
		m.n_parameters = 2;
		assert_true(kc_agent_modules_load_request(dir, mods, 1, &err) < 0);
		assert_non_null(strstr(err->msg, "b=2 c=3"));
		kc_error_free(&err);
		m.n_parameters = 1;
		assert_true(kc_agent_modules_load_request(dir, mods, 1, &err) < 0);
		assert_non_null(strstr(err->msg, "garbage_kc"));
		kc_error_free(&err);
		assert_int_equal(kc_agent_modules_load_request(dir, mods, 0, &err), 0);
	}
	cmd = kc_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_true(kc_agent_modules_load_all(dir, NULL, NULL, NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "load-order"));
	kc_error_free(&err);
}

/* dir/name.gz holds content gzip'd, cut short unless `whole`. */
/* dir/name.gz holds content gzip'd, cut short unless `whole`. */
static void write_gz(const char *dir, const char *name, const char *content, bool whole)
{
	cleanup_free char *cmd = kc_xasprintf("cd '%s' && gzip -n '%s'%s%s%s", dir, name,
					      whole ? "" : " && truncate -s -9 '",
					      whole ? "" : name, whole ? "" : ".gz'");

	write_file(dir, name, content);
	assert_int_equal(system(cmd), 0);
}

/*
 * On-demand modules (what the kernel's request_module asks /sbin/modprobe
 * for): an alias resolves to its module, whose dependencies load first
 * from their gzip'd files.  Nothing here is a real module, so the first
 * load fails, and the error names it and what needed it.
 */
static void test_modules_on_demand(void **state)
{
	char dir[] = "/tmp/kc-guest-boot-demand-XXXXXX";
	cleanup_free char *cmd = NULL;
	kc_error_t err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "load-order", "");
	write_file(dir, "on-demand", "top_kc dep_kc top_kc\nbad_gz_kc bad_gz_kc\n");
	write_file(dir, "aliases", "fs-top-kc top_kc\nrtnl-link-top-kc top_kc\n");
	write_gz(dir, "dep_kc.ko", "not an ELF file", true);
	write_gz(dir, "top_kc.ko", "not an ELF file either", true);
	write_gz(dir, "bad_gz_kc.ko", "a gzip stream cut short, a gzip stream cut short", false);
	/* By alias: the dependency is inflated and tried first. */
	assert_true(kc_agent_module_load(dir, "rtnl-link-top-kc", NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "`rtnl-link-top-kc` needs `dep_kc`"));
	assert_non_null(strstr(err->msg, "module `dep_kc`: init_module"));
	kc_error_free(&err);
	/* By name, as kernel_modules asks. */
	assert_true(kc_agent_module_load(dir, "top-kc", "", &err) < 0);
	assert_non_null(strstr(err->msg, "needs `dep_kc`"));
	kc_error_free(&err);
	assert_true(kc_agent_module_load(dir, "bad_gz_kc", NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "`bad_gz_kc.ko.gz` is not a whole gzip stream"));
	kc_error_free(&err);
	/* Neither a module nor an alias of one. */
	assert_true(kc_agent_module_load(dir, "rtnl-link-nothing-kc", NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "rtnl-link-nothing-kc"));
	kc_error_free(&err);
	assert_true(kc_agent_module_load(dir, "devname:net/tun", NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "not a valid module name"));
	kc_error_free(&err);
	cmd = kc_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* Device drivers are skipped without their device on the virtio bus; the
 * rest, and modules_load=, are loaded (here: attempted and failed). */
static void test_modules_skip(void **state)
{
	char dir[] = "/tmp/kc-guest-boot-skip-XXXXXX";
	char *extra[] = { (char *)"virtio_net", NULL };
	cleanup_free char *bus = NULL, *dev = NULL, *cmd = NULL;
	kc_error_t err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	bus = kc_xasprintf("%s/bus", dir);
	dev = kc_xasprintf("%s/virtio0", bus);
	assert_int_equal(mkdir(bus, 0755), 0);
	assert_int_equal(mkdir(dev, 0755), 0);
	write_file(dev, "device", "0x0002\n"); /* a block device only */
	write_file(dir, "load-order",
		   "other_kc.ko\nvirtio_blk.ko\nvirtio_net.ko\n"
		   "failover.ko\nvsock.ko\nvirtiofs.ko\n");
	/* other_kc and virtio_blk are attempted (no file: 2 failures); the
	 * net, vsock and virtio-fs drivers are skipped; modules_load= forces
	 * virtio_net (a third failure). */
	assert_int_equal(kc_agent_modules_load_all(dir, bus, extra, NULL, &err), 3);
	/* Without a bus to read, nothing is skipped. */
	assert_int_equal(kc_agent_modules_load_all(dir, "/nonexistent-kc", NULL, NULL, &err), 6);
	assert_null(err);
	cmd = kc_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The controllers of a fake cgroup2 root are written one by one. */
static void test_cgroups(void **state)
{
	char dir[] = "/tmp/kc-guest-boot-cg-XXXXXX";
	cleanup_free char *buf = NULL, *path = NULL, *cmd = NULL;
	kc_error_t err = NULL;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "cgroup.controllers", "cpuset cpu io memory pids\n");
	write_file(dir, "cgroup.subtree_control", "");
	assert_int_equal(kc_agent_init_cgroups(dir, &err), 5);
	path = kc_xasprintf("%s/cgroup.subtree_control", dir);
	assert_int_equal(kc_read_file(path, 4096, &buf, &len, NULL), 0);
	assert_string_equal(buf, "+cpuset+cpu+io+memory+pids");
	cmd = kc_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_true(kc_agent_init_cgroups(dir, &err) < 0);
	assert_non_null(strstr(err->msg, "cgroup.controllers"));
	kc_error_free(&err);
}

static bool is_zombie(pid_t pid)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/stat", (int)pid);
	cleanup_free char *buf = NULL;
	size_t len;
	char *p;

	if (kc_read_file(path, 4096, &buf, &len, NULL) < 0)
		return false;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

static pid_t parent_of(pid_t pid)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/stat", (int)pid);
	cleanup_free char *buf = NULL;
	size_t len;
	char *p;
	int ppid = -1;

	if (kc_read_file(path, 4096, &buf, &len, NULL) < 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

static void wait_zombie(pid_t pid)
{
	uint64_t deadline = kc_monotonic_ns() + 20 * 1000000000ull;

	while (!is_zombie(pid)) {
		assert_true(kc_monotonic_ns() < deadline);
		usleep(1000);
	}
}

/* The reaper (what SIGCHLD runs) collects every exited child, containers'
 * or not: here a plain child and an orphan that the kernel handed to us
 * as the subreaper, as it hands orphans to PID 1 in the guest. */
static void test_reap_orphans(void **state)
{
	struct kc_agent a = { 0 };
	int pfd[2], go[2];
	pid_t child, orphan = -1;

	(void)state;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(pipe(go), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t g = fork();

		if (g == 0) {
			char c;

			/* Outlives its parent; exits when told, as our orphan. */
			close(go[1]);
			(void)!read(go[0], &c, 1);
			_exit(0);
		}
		(void)!write(pfd[1], &g, sizeof(g));
		_exit(3);
	}
	close(pfd[1]);
	close(go[0]);
	assert_int_equal(read(pfd[0], &orphan, sizeof(orphan)), (ssize_t)sizeof(orphan));
	close(pfd[0]);
	wait_zombie(child);
	kc_agent_reap(&a);
	assert_int_equal(waitpid(child, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(parent_of(orphan), getpid());
	close(go[1]);
	wait_zombie(orphan);
	kc_agent_reap(&a);
	assert_int_equal(waitpid(orphan, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_agent_keys),
		cmocka_unit_test(test_quotes_and_last_wins),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_modules_load),
		cmocka_unit_test(test_module_params),
		cmocka_unit_test(test_modules_failures),
		cmocka_unit_test(test_modules_skip),
		cmocka_unit_test(test_modules_on_demand),
		cmocka_unit_test(test_cgroups),
		cmocka_unit_test(test_reap_orphans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
