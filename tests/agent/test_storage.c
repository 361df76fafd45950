/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storages (src/agent/storage.c) through the real kata-agent: started with
 * --no-init on a unix socket, in a mount namespace of its own (so that a
 * failing test leaves no mount on the host) with --storage-root in a
 * temporary directory.  What it mounted is read from its
 * /proc/PID/mountinfo, the files inside through /proc/PID/root.  The
 * tests run in order and share the agent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent_harness.h"
#include "health.pb-c.h"
#include "lib/util.h"
#include "ttrpc/client.h"

static struct {
	struct ah_agent agent; /* agent.dir is the test's directory */
	char *root, *rootfs;
} g;

/* One call; returns the code, *msg (if not NULL) the message. */
static int call(const char *method, const ProtobufCMessage *req, char **msg)
{
	struct ah_answer a;
	int code = ah_call(&g.agent.conn, method, req, &a);

	if (code != 0)
		print_message("# %s: %s\n", method, a.message);
	if (msg)
		*msg = kc_steal_ptr(&a.message);
	ah_answer_free(&a);
	return code;
}

/* ---- storages ---- */

struct st {
	Grpc__Storage s;
	char *opts[4];
};

/* A storage; mount_point and source are relative to the root unless they
 * start with '/' (or '.', for a relative path as such). */
static void st_init(struct st *st, const char *driver, const char *source, const char *mp,
		    const char *opt1, const char *opt2)
{
	grpc__storage__init(&st->s);
	memset(st->opts, 0, sizeof(st->opts));
	st->s.driver = (char *)driver;
	st->s.source = source[0] == '/' || !source[0] ? kc_xstrdup(source)
						      : kc_xasprintf("%s/%s", g.root, source);
	st->s.mount_point = mp[0] == '/' || mp[0] == '.' ? kc_xstrdup(mp)
							 : kc_xasprintf("%s/%s", g.root, mp);
	st->s.fstype = (char *)"";
	if (opt1)
		st->opts[st->s.n_options++] = (char *)opt1;
	if (opt2)
		st->opts[st->s.n_options++] = (char *)opt2;
	st->s.options = st->opts;
}

static void st_fini(struct st *st)
{
	free(st->s.source);
	free(st->s.mount_point);
}

static int create_container(const char *id, struct st *sts, size_t n, char **msg)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	cleanup_free char *json = kc_xasprintf("{\"process\":{\"args\":[\"true\"]},"
					       "\"root\":{\"path\":\"%s\"}}",
					       g.rootfs);
	Grpc__Storage *ptrs[8];

	assert_true(n <= KC_ARRAY_SIZE(ptrs));
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &sts[i].s;
	req.container_id = (char *)id;
	req.exec_id = (char *)id;
	req.oci_spec_json.data = (uint8_t *)json;
	req.oci_spec_json.len = strlen(json);
	req.storages = ptrs;
	req.n_storages = n;
	return call("CreateContainer", &req.base, msg);
}

static int remove_container(const char *id)
{
	Grpc__RemoveContainerRequest req = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	return call("RemoveContainer", &req.base, NULL);
}

/* ---- what the agent's mount namespace holds ---- */

/* The mountinfo line of the mount at root/rel (the last one), NULL if none. */
static char *mount_line(const char *rel)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/mountinfo", (int)g.agent.pid);
	cleanup_free char *target = kc_xasprintf("%s/%s", g.root, rel);
	cleanup_free char *buf = NULL;
	char *found = NULL, *line, *save = NULL;
	size_t len;

	assert_int_equal(kc_read_file(path, 1 << 20, &buf, &len, NULL), 0);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mp[4096];

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strcmp(mp, target) == 0) {
			free(found);
			found = kc_xstrdup(line);
		}
	}
	return found;
}

static bool has_mount(const char *rel)
{
	char *line = mount_line(rel);

	free(line);
	return line != NULL;
}

/* Mounts under the storage root. */
static int mounts_under_root(void)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/mountinfo", (int)g.agent.pid);
	cleanup_free char *buf = NULL;
	size_t len, rlen = strlen(g.root);
	int n = 0;

	assert_int_equal(kc_read_file(path, 1 << 20, &buf, &len, NULL), 0);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char mp[4096];

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
		    strncmp(mp, g.root, rlen) == 0 && (mp[rlen] == '/' || !mp[rlen]))
			n++;
	}
	return n;
}

/* A file as the agent sees it. */
static char *agent_file(const char *rel)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/root%s/%s", (int)g.agent.pid, g.root, rel);
	char *buf = NULL;
	size_t len;

	if (kc_read_file(path, 4096, &buf, &len, NULL) < 0)
		return NULL;
	return buf;
}

/* ---- setup ---- */

static int setup(void **state)
{
	const char *extra[] = { "--storage-root", NULL, NULL };
	/* Its mounts die with it, whatever happens to the test. */
	struct ah_agent_opts o = { .extra = extra, .mount_ns = true };
	cleanup_free char *share = NULL, *vol = NULL, *file = NULL, *link = NULL;
	cleanup_free char *evil = NULL, *up = NULL;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "the storage tests mount: run them as root\n");
		return -1;
	}
	strcpy(g.agent.dir, "/tmp/kc-guest-boot-storage-XXXXXX");
	assert_non_null(mkdtemp(g.agent.dir));
	g.root = kc_xasprintf("%s/run", g.agent.dir);
	g.rootfs = kc_xasprintf("%s/rootfs", g.agent.dir);
	share = kc_xasprintf("%s/shared", g.root);
	vol = kc_xasprintf("%s/vol", share);
	file = kc_xasprintf("%s/hello", vol);
	link = kc_xasprintf("%s/up", share);
	evil = kc_xasprintf("%s/evil", g.root);
	up = kc_xasprintf("%s/file-link", share);
	assert_int_equal(mkdir(g.root, 0755), 0);
	assert_int_equal(mkdir(g.rootfs, 0755), 0);
	assert_int_equal(mkdir(share, 0755), 0);
	assert_int_equal(mkdir(vol, 0755), 0);
	ah_write(file, "from the share\n");
	/* Escapes: a relative symlink that climbs out, an absolute one. */
	assert_int_equal(symlink("../../..", link), 0);
	assert_int_equal(symlink("/tmp", evil), 0);
	assert_int_equal(symlink("vol/hello", up), 0);

	extra[1] = g.root;
	ah_agent_start(&g.agent, &o);
	return 0;
}

static int teardown(void **state)
{
	int wstatus = ah_agent_kill(&g.agent);
	int ret = 0;

	(void)state;
	/* SIGTERM: a clean exit, so that LeakSanitizer checks the agent. */
	if (wstatus != -1 && (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)) {
		fprintf(stderr, "agent exited with status %#x\n", wstatus);
		ret = -1;
	}
	/* The agent's mount namespace is gone: nothing is mounted here. */
	ah_agent_free(&g.agent);
	free(g.root);
	free(g.rootfs);
	return ret;
}

/* ---- tests ---- */

/* Sandbox storages: a tmpfs with its options, a local dir with its mode. */
static void test_sandbox_storages(void **state)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	struct st sts[2];
	Grpc__Storage *ptrs[2] = { &sts[0].s, &sts[1].s };
	cleanup_free char *eph = NULL, *local = NULL;
	struct stat st;

	(void)state;
	assert_int_equal(mounts_under_root(), 0);
	st_init(&sts[0], "ephemeral", "tmpfs", "sandbox/ephemeral/e1", "size=1m", "nodev");
	st_init(&sts[1], "local", "", "sandbox/local/l1", "mode=0750", NULL);
	req.sandbox_id = (char *)"sb-storage";
	req.storages = ptrs;
	req.n_storages = 2;
	{
		/* Not the VM's init: kernel modules are refused, not ignored. */
		Grpc__KernelModule m = GRPC__KERNEL_MODULE__INIT;
		Grpc__KernelModule *mods[] = { &m };

		m.name = (char *)"vsock";
		req.kernel_modules = mods;
		req.n_kernel_modules = 1;
		assert_int_equal(call("CreateSandbox", &req.base, NULL),
				 KC_TTRPC_FAILED_PRECONDITION);
		req.kernel_modules = NULL;
		req.n_kernel_modules = 0;
		assert_int_equal(mounts_under_root(), 0);
	}
	assert_int_equal(call("CreateSandbox", &req.base, NULL), 0);
	eph = mount_line("sandbox/ephemeral/e1");
	assert_non_null(eph);
	assert_non_null(strstr(eph, " - tmpfs "));
	assert_non_null(strstr(eph, "size=1024k"));
	assert_non_null(strstr(eph, "nodev"));
	local = kc_xasprintf("%s/sandbox/local/l1", g.root);
	assert_int_equal(stat(local, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_false(has_mount("sandbox/local/l1"));
	assert_int_equal(mounts_under_root(), 1);
	st_fini(&sts[0]);
	st_fini(&sts[1]);
}

/* A container's volume bound (read-only) from the share, and a tmpfs; both
 * gone after RemoveContainer. */
static void test_container_bind(void **state)
{
	struct st sts[3];
	cleanup_free char *vol = NULL, *hello = NULL, *fline = NULL, *one = NULL;

	(void)state;
	st_init(&sts[0], "bind", "shared/vol", "c1/vol", "ro", NULL);
	st_init(&sts[1], "ephemeral", "tmpfs", "c1/tmp", NULL, NULL);
	/* A symlink inside the root is fine: it names a file, bound on a file. */
	st_init(&sts[2], "bind", "shared/file-link", "c1/one-file", NULL, NULL);
	assert_int_equal(create_container("c1", sts, 3, NULL), 0);
	vol = mount_line("c1/vol");
	assert_non_null(vol);
	assert_non_null(strstr(vol, " ro"));
	assert_true(has_mount("c1/tmp"));
	fline = mount_line("c1/one-file");
	assert_non_null(fline);
	hello = agent_file("c1/vol/hello");
	assert_non_null(hello);
	assert_string_equal(hello, "from the share\n");
	one = agent_file("c1/one-file");
	assert_non_null(one);
	assert_string_equal(one, "from the share\n");
	assert_int_equal(mounts_under_root(), 4);
	assert_int_equal(remove_container("c1"), 0);
	assert_false(has_mount("c1/vol"));
	assert_false(has_mount("c1/tmp"));
	assert_false(has_mount("c1/one-file"));
	assert_int_equal(mounts_under_root(), 1);
	/* The mount points the agent made are gone with the mounts. */
	{
		const char *made[] = { "c1/vol", "c1/tmp", "c1/one-file" };

		for (size_t i = 0; i < KC_ARRAY_SIZE(made); i++) {
			cleanup_free char *p = kc_xasprintf("%s/%s", g.root, made[i]);
			struct stat st;

			assert_int_equal(lstat(p, &st), -1);
			assert_int_equal(errno, ENOENT);
		}
	}
	for (size_t i = 0; i < 3; i++)
		st_fini(&sts[i]);
}

static void expect_refused(const char *driver, const char *source, const char *mp, int code,
			   const char *named)
{
	struct st sts[2];
	char *msg = NULL;

	/* A good storage first: it must be undone when the second fails. */
	st_init(&sts[0], "ephemeral", "tmpfs", "c-bad/ok", NULL, NULL);
	st_init(&sts[1], driver, source, mp, NULL, NULL);
	assert_int_equal(create_container("c-bad", sts, 2, &msg), code);
	assert_non_null(msg);
	if (!strstr(msg, named))
		print_message("# message `%s` does not name `%s`\n", msg, named);
	assert_non_null(strstr(msg, named));
	free(msg);
	assert_false(has_mount("c-bad/ok"));
	assert_int_equal(mounts_under_root(), 1);
	st_fini(&sts[0]);
	st_fini(&sts[1]);
}

/* Paths leaving the root, by name, by "..", by symlink; bad drivers and
 * sources.  Each is refused naming what was wrong, nothing stays mounted,
 * and the container does not exist. */
static void test_escapes_refused(void **state)
{
	cleanup_free char *dotdot = kc_xasprintf("%s/../../etc/kc-x", g.root);
	cleanup_free char *via_link = kc_xasprintf("%s/shared/up/etc", g.root);
	cleanup_free char *via_abs = kc_xasprintf("%s/evil/kc-x", g.root);
	struct stat st;

	(void)state;
	expect_refused("ephemeral", "tmpfs", "/etc/kc-guest-boot", KC_TTRPC_PERMISSION_DENIED,
		       "/etc/kc-guest-boot");
	expect_refused("ephemeral", "tmpfs", dotdot, KC_TTRPC_PERMISSION_DENIED, dotdot);
	expect_refused("ephemeral", "tmpfs", via_link, KC_TTRPC_PERMISSION_DENIED, via_link);
	expect_refused("ephemeral", "tmpfs", via_abs, KC_TTRPC_PERMISSION_DENIED, via_abs);
	expect_refused("bind", "shared/up/etc", "c-bad/etc", KC_TTRPC_PERMISSION_DENIED,
		       "shared/up/etc");
	expect_refused("bind", "evil", "c-bad/tmp", KC_TTRPC_PERMISSION_DENIED, "evil");
	expect_refused("bind", "/etc", "c-bad/etc", KC_TTRPC_PERMISSION_DENIED, "/etc");
	expect_refused("nfs", "x", "c-bad/n", KC_TTRPC_INVALID_ARGUMENT, "nfs");
	expect_refused("blk", "/dev/../etc/passwd", "c-bad/b", KC_TTRPC_INVALID_ARGUMENT,
		       "/dev/../etc/passwd");
	expect_refused("blk", "/dev/vda", "c-bad/b", KC_TTRPC_INVALID_ARGUMENT, "fstype");
	expect_refused("virtio-fs", "", "c-bad/v", KC_TTRPC_INVALID_ARGUMENT, "tag");
	expect_refused("ephemeral", "tmpfs", "./relative/path", KC_TTRPC_INVALID_ARGUMENT,
		       "./relative/path");
	/* Nothing was created outside the root. */
	assert_int_equal(stat("/etc/kc-guest-boot", &st), -1);
	assert_int_equal(stat("/etc/kc-x", &st), -1);
	assert_int_equal(stat("/tmp/kc-x", &st), -1);
	/* The failed creations left no container behind. */
	assert_int_equal(remove_container("c-bad"), KC_TTRPC_NOT_FOUND);
}

static bool exists(const char *rel)
{
	cleanup_free char *p = kc_xasprintf("%s/%s", g.root, rel);
	struct stat st;

	return lstat(p, &st) == 0;
}

/* A mount that fails takes the directories it made with it (the mount
 * point and its new parents), and only those: what was there before
 * stays, whatever is in it. */
static void test_failed_mount_cleans(void **state)
{
	static const struct {
		const char *mp, *gone, *kept;
	} cases[] = {
		/* All new: nothing of it stays. */
		{ "c-fail/deep/a/b", "c-fail", NULL },
		/* Below a directory that was there: that one stays. */
		{ "pre-fail/x/y", "pre-fail/x", "pre-fail" },
		/* The mount point itself was there. */
		{ "pre-fail/mp", NULL, "pre-fail/mp" },
	};
	cleanup_free char *pre = kc_xasprintf("%s/pre-fail", g.root);
	cleanup_free char *pre_mp = kc_xasprintf("%s/pre-fail/mp", g.root);
	cleanup_free char *pre_file = kc_xasprintf("%s/pre-fail/keep", g.root);

	(void)state;
	assert_int_equal(mkdir(pre, 0700), 0);
	assert_int_equal(mkdir(pre_mp, 0700), 0);
	ah_write(pre_file, "kept\n");
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		struct st sts[2];
		char *msg = NULL;

		/* A good storage first, then one whose tmpfs refuses its
		 * option after its mount point was made. */
		st_init(&sts[0], "ephemeral", "tmpfs", "c-fail-ok/tmp", NULL, NULL);
		st_init(&sts[1], "ephemeral", "tmpfs", cases[i].mp, "size=lots", NULL);
		assert_int_equal(create_container("c-fail", sts, 2, &msg),
				 KC_TTRPC_INVALID_ARGUMENT);
		assert_non_null(strstr(msg, cases[i].mp));
		free(msg);
		if (cases[i].gone && exists(cases[i].gone))
			fail_msg("%s: `%s` was left behind", cases[i].mp, cases[i].gone);
		if (cases[i].kept && !exists(cases[i].kept))
			fail_msg("%s: `%s`, there before, was removed", cases[i].mp, cases[i].kept);
		assert_false(exists("c-fail-ok"));
		assert_int_equal(mounts_under_root(), 1);
		st_fini(&sts[0]);
		st_fini(&sts[1]);
	}
	assert_true(exists("pre-fail/keep"));
	assert_int_equal(remove_container("c-fail"), KC_TTRPC_NOT_FOUND);
	/* A mount point below a file: refused, and the file stays. */
	{
		struct st st;

		st_init(&st, "local", "", "pre-fail/keep/sub", NULL, NULL);
		assert_int_not_equal(create_container("c-fail", &st, 1, NULL), 0);
		assert_true(exists("pre-fail/keep"));
		st_fini(&st);
	}
	assert_int_equal(unlink(pre_file), 0);
	assert_int_equal(rmdir(pre_mp), 0);
	assert_int_equal(rmdir(pre), 0);
}

/* A shared storage is mounted once and stays while a container holds it. */
static void test_shared(void **state)
{
	struct st a, b;

	(void)state;
	st_init(&a, "ephemeral", "tmpfs", "shared-eph", NULL, NULL);
	a.s.shared = true;
	st_init(&b, "ephemeral", "tmpfs", "shared-eph", NULL, NULL);
	b.s.shared = true;
	assert_int_equal(create_container("c-a", &a, 1, NULL), 0);
	assert_int_equal(create_container("c-b", &b, 1, NULL), 0);
	assert_int_equal(mounts_under_root(), 2);
	assert_int_equal(remove_container("c-a"), 0);
	assert_true(has_mount("shared-eph"));
	/* A shared tmpfs is the pod's (an emptyDir): it outlives the
	 * containers that named it, until DestroySandbox
	 * (test_destroy_unmounts). */
	assert_int_equal(remove_container("c-b"), 0);
	assert_true(has_mount("shared-eph"));
	/* Not shared: the same mount point twice is refused. */
	st_fini(&a);
	st_init(&a, "ephemeral", "tmpfs", "plain-eph", NULL, NULL);
	assert_int_equal(create_container("c-a", &a, 1, NULL), 0);
	{
		char *msg = NULL;

		assert_int_equal(create_container("c-b", &a, 1, &msg), KC_TTRPC_ALREADY_EXISTS);
		assert_non_null(strstr(msg, "already used"));
		free(msg);
	}
	assert_int_equal(remove_container("c-a"), 0);
	assert_int_equal(mounts_under_root(), 2);
	st_fini(&a);
	st_fini(&b);
}

static void test_update_ephemeral(void **state)
{
	Grpc__UpdateEphemeralMountsRequest req = GRPC__UPDATE_EPHEMERAL_MOUNTS_REQUEST__INIT;
	struct st st;
	Grpc__Storage *ptr = &st.s;
	cleanup_free char *line = NULL;
	char *msg = NULL;

	(void)state;
	st_init(&st, "ephemeral", "tmpfs", "sandbox/ephemeral/e1", "size=2m", NULL);
	req.storages = &ptr;
	req.n_storages = 1;
	assert_int_equal(call("UpdateEphemeralMounts", &req.base, NULL), 0);
	line = mount_line("sandbox/ephemeral/e1");
	assert_non_null(line);
	assert_non_null(strstr(line, "size=2048k"));
	st_fini(&st);
	st_init(&st, "ephemeral", "tmpfs", "sandbox/ephemeral/none", "size=2m", NULL);
	assert_int_equal(call("UpdateEphemeralMounts", &req.base, &msg), KC_TTRPC_NOT_FOUND);
	assert_non_null(strstr(msg, "sandbox/ephemeral/none"));
	free(msg);
	st_fini(&st);
	st_init(&st, "local", "", "sandbox/local/l1", NULL, NULL);
	assert_int_equal(call("UpdateEphemeralMounts", &req.base, NULL), KC_TTRPC_INVALID_ARGUMENT);
	st_fini(&st);
}

/* DestroySandbox unmounts what is left, containers' storages too. */
static void test_destroy_unmounts(void **state)
{
	Grpc__DestroySandboxRequest req = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	Grpc__CheckRequest check = GRPC__CHECK_REQUEST__INIT;
	struct st st;
	struct st pre;
	cleanup_free char *pre_dir = kc_xasprintf("%s/pre-existing", g.root);
	struct stat sb;

	(void)state;
	st_init(&st, "ephemeral", "tmpfs", "c-left/tmp", NULL, NULL);
	assert_int_equal(create_container("c-left", &st, 1, NULL), 0);
	/* A mount point that was there before stays after. */
	assert_int_equal(mkdir(pre_dir, 0700), 0);
	st_init(&pre, "ephemeral", "tmpfs", "pre-existing", NULL, NULL);
	assert_int_equal(create_container("c-pre", &pre, 1, NULL), 0);
	/* With test_shared's pod-lived tmpfs. */
	assert_int_equal(mounts_under_root(), 4);
	assert_int_equal(call("DestroySandbox", &req.base, NULL), 0);
	assert_int_equal(mounts_under_root(), 0);
	assert_int_equal(stat(pre_dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(call("Health.Check", &check.base, NULL), 0);
	st_fini(&st);
	st_fini(&pre);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox_storages), cmocka_unit_test(test_container_bind),
		cmocka_unit_test(test_escapes_refused),	 cmocka_unit_test(test_failed_mount_cleans),
		cmocka_unit_test(test_shared),		 cmocka_unit_test(test_update_ephemeral),
		cmocka_unit_test(test_destroy_unmounts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
