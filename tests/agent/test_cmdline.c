// SPDX-License-Identifier: Apache-2.0
/* The agent's kernel command line parser (the rest of init needs a VM). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/init.h"
#include "agent/modules.h"
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
	assert_int_equal(kc_agent_cmdline_parse("quiet modules_load=vsock,virtio-net", &c, NULL),
			 0);
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
	assert_int_equal(kc_agent_modules_load_all(dir, extra, "garbage_kc.x=1", &err), 4);
	assert_null(err);
	assert_true(kc_agent_module_load(dir, "missing_kc", NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "missing_kc"));
	kc_error_free(&err);
	assert_true(kc_agent_module_load(dir, "garbage-kc", "", &err) < 0);
	assert_non_null(strstr(err->msg, "garbage-kc"));
	assert_non_null(strstr(err->msg, "finit_module"));
	kc_error_free(&err);
	cmd = kc_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_true(kc_agent_modules_load_all(dir, NULL, NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "load-order"));
	kc_error_free(&err);
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
		cmocka_unit_test(test_cgroups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
