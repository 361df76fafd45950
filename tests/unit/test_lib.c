/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/netlink.h"
#include "lib/path.h"
#include "lib/util.h"

static void test_error_set_names_errno(void **state)
{
	(void)state;
	kc_error_t err = NULL;
	int ret = kc_error_set(&err, ENOENT, "open `%s`", "/run/x");

	assert_int_equal(ret, -ENOENT);
	assert_non_null(err);
	assert_string_equal(err->msg, "open `/run/x`: No such file or directory");
	assert_int_equal(kc_error_ret(&err), -ENOENT);
	kc_error_wrap(&err, "loading %s", "config");
	assert_string_equal(err->msg, "loading config: open `/run/x`: No such file or directory");
	kc_error_free(&err);
	assert_null(err);
}

static void test_error_keeps_first_cause(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;

	assert_int_equal(kc_error_set(&err, 0, "first"), -1);
	assert_int_equal(kc_error_set(&err, EIO, "second"), -1);
	assert_string_equal(err->msg, "first");
	/* A NULL error pointer is allowed: only the return value is left. */
	assert_int_equal(kc_error_set(NULL, EPERM, "x"), -EPERM);
}

static char *capture_log(void (*fn)(void))
{
	char path[] = "/tmp/kc-test-log-XXXXXX";
	int fd = mkstemp(path);
	char *buf = NULL;
	cleanup_error kc_error_t err = NULL;

	assert_true(fd >= 0);
	kc_log_set_fd(fd);
	fn();
	kc_log_set_fd(-1);
	close(fd);
	assert_int_equal(kc_read_file(path, 1 << 20, &buf, NULL, &err), 0);
	unlink(path);
	return buf;
}

static void log_some(void)
{
	kc_log_init("containerd-shim-v2", "runtime");
	kc_log_set_level(KC_LOG_INFO);
	kc_info("VM started in %d ms", 42);
	kc_debug("not shown at info level");
	kc_log_set_field("sandbox", "abc");
	kc_log_kv(KC_LOG_WARNING, "quote \" and\nnewline", "path", "/a b", "empty", "", NULL);
	kc_log_set_field(NULL, NULL);
}

static void test_log_logfmt(void **state)
{
	(void)state;
	cleanup_free char *out = capture_log(log_some);
	char pid[32];

	snprintf(pid, sizeof(pid), "pid=%d", (int)getpid());
	assert_non_null(strstr(out, "level=info msg=\"VM started in 42 ms\" source=runtime "
				    "name=containerd-shim-v2 "));
	assert_non_null(strstr(out, pid));
	assert_null(strstr(out, "not shown"));
	assert_non_null(strstr(out, "level=warning msg=\"quote \\\" and\\nnewline\""));
	assert_non_null(strstr(out, " sandbox=abc path=\"/a b\" empty=\"\"\n"));
	assert_int_equal(strncmp(out, "time=20", 7), 0);
	/* Two records, one line each. */
	size_t lines = 0;
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2);
}

static void test_log_levels(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	enum kc_log_level l;

	assert_int_equal(kc_log_parse_level("debug", &l, &err), 0);
	assert_int_equal(l, KC_LOG_DEBUG);
	assert_int_equal(kc_log_parse_level("warn", &l, &err), 0);
	assert_int_equal(l, KC_LOG_WARNING);
	assert_true(kc_log_parse_level("loud", &l, &err) < 0);
	assert_non_null(strstr(err->msg, "unknown log level `loud`"));
}

static void check_clean(const char *in, const char *want)
{
	cleanup_free char *got = kc_path_clean(in);
	assert_string_equal(got, want);
}

static void test_path_clean(void **state)
{
	(void)state;
	check_clean("", ".");
	check_clean("/", "/");
	check_clean("//a//b/", "/a/b");
	check_clean("/a/./b/../c", "/a/c");
	check_clean("/../../x", "/x");
	check_clean("a/../..", "..");
	check_clean("../a/../../b", "../../b");
	check_clean("./", ".");
	check_clean("a/b/../../c/.", "c");
}

static void check_join(const char *root, const char *path, const char *want)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *got = NULL;
	int ret = kc_path_join_in_root(root, path, &got, &err);

	if (want == NULL) {
		assert_true(ret < 0);
		assert_non_null(strstr(err->msg, "escapes its root"));
		assert_non_null(strstr(err->msg, path));
		return;
	}
	assert_int_equal(ret, 0);
	assert_string_equal(got, want);
}

static void test_path_join_in_root(void **state)
{
	(void)state;
	check_join("/run/c", "etc/hosts", "/run/c/etc/hosts");
	check_join("/run/c/", "/etc/hosts", "/run/c/etc/hosts");
	check_join("/run/c", "a/../b", "/run/c/b");
	check_join("/run/c", "", "/run/c");
	check_join("/", "x/y", "/x/y");
	check_join("/run/c", "..", NULL);
	check_join("/run/c", "a/../../etc/shadow", NULL);
	check_join("/run/c", "/../x", NULL);

	cleanup_error kc_error_t err = NULL;
	char *out = NULL;
	assert_true(kc_path_join_in_root("relative", "x", &out, &err) < 0);
	assert_non_null(strstr(err->msg, "not an absolute path"));
}

static void test_open_in_root_refuses_symlink_escape(void **state)
{
	(void)state;
	char dir[] = "/tmp/kc-test-root-XXXXXX";
	cleanup_error kc_error_t err = NULL;
	char path[256];

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/inside", dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "in", 2), 2);
	close(fd);
	/* An absolute symlink inside the root resolves inside it, and so does
	 * a "../.." chain: /etc/hostname must not be reachable. */
	snprintf(path, sizeof(path), "%s/abs", dir);
	assert_int_equal(symlink("/inside", path), 0);
	snprintf(path, sizeof(path), "%s/up", dir);
	assert_int_equal(symlink("../../../../etc/hostname", path), 0);

	int root = open(dir, O_PATH | O_DIRECTORY);
	assert_true(root >= 0);
	fd = kc_open_in_root(root, "abs", O_RDONLY, 0, &err);
	assert_true(fd >= 0);
	char buf[4] = { 0 };
	assert_int_equal(read(fd, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "in");
	close(fd);

	fd = kc_open_in_root(root, "up", O_RDONLY, 0, &err);
	assert_true(fd < 0);
	assert_non_null(strstr(err->msg, "open `up` inside its root"));
	kc_error_free(&err);
	fd = kc_open_in_root(root, "../../etc/hostname", O_RDONLY, 0, &err);
	assert_true(fd < 0);
	close(root);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/kc-test-files-XXXXXX";
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *buf = NULL;
	char path[256];
	size_t len;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(kc_write_file_atomic(path, "{\"a\":1}", 7, 0600, &err), 0);
	assert_int_equal(kc_read_file(path, 100, &buf, &len, &err), 0);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "{\"a\":1}");
	free(kc_steal_ptr(&buf));
	/* A file over the limit is refused, not truncated. */
	assert_true(kc_read_file(path, 3, &buf, &len, &err) < 0);
	assert_non_null(strstr(err->msg, "larger than 3 bytes"));
	kc_error_free(&err);
	assert_int_equal(unlink(path), 0);
	assert_true(kc_read_file(path, 100, &buf, &len, &err) < 0);
	assert_non_null(strstr(err->msg, "No such file or directory"));
	assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
}

static void test_json(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *j = NULL;

	assert_int_equal(kc_json_parse("{\"b\":1,\"a\":[true]}", 18, "spec", &j, &err), 0);
	cleanup_free char *s = kc_json_dump(j, 1);
	assert_string_equal(s, "{\"a\":[true],\"b\":1}");
	json_decref(kc_steal_ptr(&j));
	assert_true(kc_json_parse("{\"a\":1,\n\"a\":2}", 14, "spec", &j, &err) < 0);
	assert_non_null(strstr(err->msg, "spec:2:"));
	assert_non_null(strstr(err->msg, "duplicate"));
}

static void test_parse_u64(void **state)
{
	(void)state;
	unsigned long long v;
	assert_true(kc_parse_u64("42", &v));
	assert_int_equal(v, 42);
	assert_false(kc_parse_u64("-1", &v));
	assert_false(kc_parse_u64("4x", &v));
	assert_false(kc_parse_u64("", &v));
	assert_false(kc_parse_u64("99999999999999999999999", &v));
}

/* The netlink client's builder and parser agree: attributes, a nest, and a
 * message that outgrows its buffer is refused rather than sent cut. */
static void test_netlink_msg(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	static struct kc_nl_msg m;
	const struct rtattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1];
	struct ifinfomsg *ifi = kc_nl_msg_init(&m, RTM_NEWLINK, NLM_F_CREATE, sizeof(*ifi));
	struct rtattr *nest;
	struct kc_nl nl = { .fd = -1 };
	char big[1024] = { 0 };

	ifi->ifi_index = 7;
	kc_nl_put_str(&m, IFLA_IFNAME, "kc0");
	kc_nl_put_u32(&m, IFLA_MTU, 1400);
	nest = kc_nl_nest_start(&m, IFLA_LINKINFO);
	kc_nl_put_str(&m, IFLA_INFO_KIND, "veth");
	kc_nl_nest_end(&m, nest);
	assert_false(m.overflow);
	assert_int_equal(m.nlh.nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE);
	kc_nl_parse(&m.nlh, sizeof(*ifi), tb, IFLA_MAX);
	assert_int_equal(((struct ifinfomsg *)NLMSG_DATA(&m.nlh))->ifi_index, 7);
	assert_string_equal(kc_nl_get_str(tb[IFLA_IFNAME]), "kc0");
	assert_int_equal(kc_nl_get_u32(tb[IFLA_MTU]), 1400);
	assert_null(tb[IFLA_ADDRESS]);
	assert_non_null(tb[IFLA_LINKINFO]);
	kc_nl_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
	assert_string_equal(kc_nl_get_str(info[IFLA_INFO_KIND]), "veth");
	/* Not NUL-terminated, too short: refused by the getters. */
	kc_nl_put(&m, IFLA_QDISC, "abc", 3);
	kc_nl_put(&m, IFLA_WEIGHT, "ab", 2);
	kc_nl_parse(&m.nlh, sizeof(*ifi), tb, IFLA_MAX);
	assert_int_equal(kc_nl_len(tb[IFLA_QDISC]), 3);
	assert_null(kc_nl_get_str(tb[IFLA_QDISC]));
	assert_int_equal(kc_nl_get_u32(tb[IFLA_WEIGHT]), 0);
	assert_string_equal(kc_nl_get_str(tb[IFLA_IFNAME]), "kc0");

	for (int i = 0; i < 4; i++)
		kc_nl_put(&m, IFLA_IFALIAS, big, sizeof(big));
	assert_true(m.overflow);
	assert_int_equal(kc_nl_open(&nl, &err), 0);
	assert_int_equal(kc_nl_request(&nl, &m, "add link `kc0`", &err), -EMSGSIZE);
	assert_string_equal(err->msg, "add link `kc0`: netlink request too large: "
				      "Message too long");
	kc_nl_close(&nl);
	assert_int_equal(nl.fd, -1);
}

static int count_link(const struct nlmsghdr *h, void *data, kc_error_t *err)
{
	const struct rtattr *tb[IFLA_MAX + 1];
	const char *name;

	(void)err;
	kc_nl_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX);
	name = kc_nl_get_str(tb[IFLA_IFNAME]);
	if (h->nlmsg_type == RTM_NEWLINK && name && strcmp(name, "lo") == 0)
		(*(int *)data)++;
	return 0;
}

static int stop_dump(const struct nlmsghdr *h, void *data, kc_error_t *err)
{
	(void)h;
	(void)data;
	return kc_error_set(err, ECANCELED, "stopped");
}

/* Against the kernel: a dump, a dump stopped early (the next exchange
 * still works), and a request the kernel refuses, with its errno. */
static void test_netlink_kernel(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	struct kc_nl nl = { .fd = -1 };
	struct kc_nl_msg m;
	int lo = 0, fds = 0;
	DIR *d = opendir("/proc/self/fd");

	while (readdir(d))
		fds++;
	closedir(d);
	assert_int_equal(kc_nl_open(&nl, &err), 0);
	kc_nl_msg_init(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	assert_int_equal(kc_nl_dump(&nl, &m, count_link, &lo, "list links", &err), 0);
	assert_int_equal(lo, 1);

	kc_nl_msg_init(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	assert_true(kc_nl_dump(&nl, &m, stop_dump, NULL, "list links", &err) < 0);
	assert_string_equal(err->msg, "stopped: Operation canceled");
	kc_error_free(&err);
	lo = 0;
	kc_nl_msg_init(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	assert_int_equal(kc_nl_dump(&nl, &m, count_link, &lo, "list links", &err), 0);
	assert_int_equal(lo, 1);

	/* No such link: the kernel's errno, naming what was asked. */
	((struct ifinfomsg *)kc_nl_msg_init(&m, RTM_DELLINK, 0, sizeof(struct ifinfomsg)))
		->ifi_index = 0x7ffffff0;
	assert_int_equal(kc_nl_request(&nl, &m, "delete link 2147483632", &err), -ENODEV);
	assert_non_null(strstr(err->msg, "delete link 2147483632"));
	assert_non_null(strstr(err->msg, "No such device"));
	kc_nl_close(&nl);
	d = opendir("/proc/self/fd");
	while (readdir(d))
		fds--;
	closedir(d);
	assert_int_equal(fds, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_set_names_errno),
		cmocka_unit_test(test_error_keeps_first_cause),
		cmocka_unit_test(test_log_logfmt),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_path_clean),
		cmocka_unit_test(test_path_join_in_root),
		cmocka_unit_test(test_open_in_root_refuses_symlink_escape),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_netlink_msg),
		cmocka_unit_test(test_netlink_kernel),
	};
	return cmocka_run_group_tests_name("lib", tests, NULL, NULL);
}
