/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ConfigMap/Secret volumes updated in place, the guest's half
 * (src/agent/storage/watchable.c): the storage driver watchable-bind and
 * UpdateWatchableVolume through the real kata-agent, started with --no-init
 * in a mount namespace of its own with --storage-root in a temporary
 * directory (as test_storage.c).  The "share" is a directory under the
 * root that this test lays out as kubelet's atomic writer does; what the
 * agent made is read through /proc/PID/root.  The tests run in order and
 * share the agent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent_harness.h"
#include "lib/util.h"
#include "ttrpc/ttrpc.h"

static struct {
	struct ah_agent agent;
	char *root, *rootfs;
	int sandbox_fds; /* the agent's, with the sandbox */
	int c1_fds; /* ... and container c1 (created, not started) */
} g;

#define MP "watchable/c1-0"

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

/* ---- kubelet's atomic writer, on the "host" ---- */

/* Version v's directory name, as kubelet names it. */
static char *ts(int v)
{
	return kc_xasprintf("..2026_12_07_18_%02d_%02d.%d", (v / 60) % 60, v % 60, 4000 + v);
}

static char *share_path(const char *vol, const char *rel)
{
	return kc_xasprintf("%s/shared/%s%s%s", g.root, vol, rel ? "/" : "", rel ? rel : "");
}

/* Writes version v of vol with keys (NULL-terminated), each holding
 * "<key>=v<v>\n", swaps ..data to it, makes the top-level symlinks of
 * keys new and removes those of keys gone, and the previous version: what
 * kubelet does. */
static void kubelet_write(const char *vol, int v, const char *const *keys)
{
	cleanup_free char *dir = share_path(vol, NULL), *name = ts(v);
	cleanup_free char *vdir = kc_xasprintf("%s/%s", dir, name);
	cleanup_free char *data = kc_xasprintf("%s/..data", dir);
	cleanup_free char *tmp = kc_xasprintf("%s/..data_tmp", dir);
	char prev[PATH_MAX];
	ssize_t n;

	mkdir(dir, 0755);
	n = readlink(data, prev, sizeof(prev) - 1);
	prev[n > 0 ? n : 0] = '\0';
	assert_int_equal(mkdir(vdir, 0755), 0);
	for (size_t i = 0; keys[i]; i++) {
		cleanup_free char *f = kc_xasprintf("%s/%s", vdir, keys[i]);
		cleanup_free char *text = kc_xasprintf("%s=v%d\n", keys[i], v);
		cleanup_free char *link = kc_xasprintf("%s/%s", dir, keys[i]);
		cleanup_free char *target = kc_xasprintf("..data/%s", keys[i]);

		ah_write_mode(f, text, 0644);
		if (symlink(target, link) < 0)
			assert_int_equal(errno, EEXIST);
	}
	unlink(tmp);
	assert_int_equal(symlink(name, tmp), 0);
	assert_int_equal(rename(tmp, data), 0);
	if (prev[0]) {
		cleanup_free char *old = kc_xasprintf("%s/%s", dir, prev);

		ah_rm_tree(old);
	}
}

/* ---- what the agent holds ---- */

/* A path as the agent sees it. */
static char *agent_path(const char *rel)
{
	return kc_xasprintf("/proc/%d/root%s/%s", (int)g.agent.pid, g.root, rel);
}

static char *agent_read(const char *rel)
{
	cleanup_free char *path = agent_path(rel);
	char *buf = NULL;
	size_t len;

	if (kc_read_file(path, 1 << 20, &buf, &len, NULL) < 0)
		return NULL;
	return buf;
}

static char *agent_link(const char *rel)
{
	cleanup_free char *path = agent_path(rel);
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return kc_xstrdup(buf);
}

static bool agent_exists(const char *rel)
{
	cleanup_free char *path = agent_path(rel);
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Whether the storage root has a mount at rel. */
static bool has_mount(const char *rel)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/mountinfo", (int)g.agent.pid);
	cleanup_free char *target = kc_xasprintf("%s/%s", g.root, rel);
	cleanup_free char *buf = NULL;
	bool found = false;
	size_t len;

	assert_int_equal(kc_read_file(path, 1 << 20, &buf, &len, NULL), 0);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char mp[4096];

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strcmp(mp, target) == 0)
			found = true;
	}
	return found;
}

/* The volume is at version v with exactly keys. */
static void assert_version(const char *mp, int v, const char *const *keys)
{
	cleanup_free char *name = ts(v);
	cleanup_free char *data_rel = kc_xasprintf("%s/..data", mp);
	cleanup_free char *data = agent_link(data_rel);
	cleanup_free char *dir = agent_path(mp);
	cleanup_free char *ls = NULL;
	size_t n = 0;

	assert_non_null(data);
	assert_string_equal(data, name);
	for (size_t i = 0; keys[i]; i++, n++) {
		cleanup_free char *rel = kc_xasprintf("%s/%s", mp, keys[i]);
		cleanup_free char *link = agent_link(rel);
		cleanup_free char *want_link = kc_xasprintf("..data/%s", keys[i]);
		cleanup_free char *text = agent_read(rel);
		cleanup_free char *want = kc_xasprintf("%s=v%d\n", keys[i], v);

		assert_non_null(link);
		assert_string_equal(link, want_link);
		assert_non_null(text);
		assert_string_equal(text, want);
	}
	/* Nothing else: the version, ..data and one symlink per key. */
	ls = ah_sh("ls -A '%s' | wc -l", dir);
	assert_int_equal(atoi(ls), (int)n + 2);
}

/* The agent holds the fds it held at a point before (updates keep none). */
static void assert_agent_fds(int want)
{
	ah_check_health(&g.agent.conn);
	assert_int_equal(ah_count_fds(g.agent.pid), want);
}

/* ---- calls ---- */

static int update(const char *mp, const char *data_dir, char **msg)
{
	Grpc__UpdateWatchableVolumeRequest req = GRPC__UPDATE_WATCHABLE_VOLUME_REQUEST__INIT;
	cleanup_free char *abs = mp[0] == '/' ? kc_xstrdup(mp) : kc_xasprintf("%s/%s", g.root, mp);

	req.mount_point = abs;
	req.data_dir = (char *)data_dir;
	return call("UpdateWatchableVolume", &req.base, msg);
}

static void update_ok(const char *mp, int v)
{
	cleanup_free char *name = ts(v);

	assert_int_equal(update(mp, name, NULL), 0);
}

static int create_container(const char *id, const char *driver, const char *vol, const char *mp,
			    const char *opt, bool shared, char **msg)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__Storage s = GRPC__STORAGE__INIT;
	Grpc__Storage *ptrs[] = { &s };
	char *opts[] = { (char *)opt };
	cleanup_free char *json = kc_xasprintf("{\"process\":{\"args\":[\"true\"]},"
					       "\"root\":{\"path\":\"%s\"}}",
					       g.rootfs);
	cleanup_free char *src = vol[0] == '/' ? kc_xstrdup(vol) : share_path(vol, NULL);
	cleanup_free char *abs = kc_xasprintf("%s/%s", g.root, mp);

	s.driver = (char *)driver;
	s.source = src;
	s.mount_point = abs;
	s.fstype = (char *)"";
	s.shared = shared;
	if (opt) {
		s.options = opts;
		s.n_options = 1;
	}
	req.container_id = (char *)id;
	req.exec_id = (char *)id;
	req.oci_spec_json.data = (uint8_t *)json;
	req.oci_spec_json.len = strlen(json);
	req.storages = ptrs;
	req.n_storages = 1;
	return call("CreateContainer", &req.base, msg);
}

static void remove_container(const char *id)
{
	Grpc__RemoveContainerRequest req = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	assert_int_equal(call("RemoveContainer", &req.base, NULL), 0);
}

/* ---- setup ---- */

static int setup(void **state)
{
	const char *extra[] = { "--storage-root", NULL, NULL };
	struct ah_agent_opts o = { .extra = extra, .mount_ns = true };
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	cleanup_free char *share = NULL;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "the watchable volume tests mount: run them as root\n");
		return -1;
	}
	strcpy(g.agent.dir, "/tmp/kc-watchable-XXXXXX");
	assert_non_null(mkdtemp(g.agent.dir));
	g.root = kc_xasprintf("%s/run", g.agent.dir);
	g.rootfs = kc_xasprintf("%s/rootfs", g.agent.dir);
	share = kc_xasprintf("%s/shared", g.root);
	assert_int_equal(mkdir(g.root, 0755), 0);
	assert_int_equal(mkdir(g.rootfs, 0755), 0);
	assert_int_equal(mkdir(share, 0755), 0);
	extra[1] = g.root;
	ah_agent_start(&g.agent, &o);
	sb.sandbox_id = (char *)"sb-watchable";
	assert_int_equal(call("CreateSandbox", &sb.base, NULL), 0);
	g.sandbox_fds = ah_count_fds(g.agent.pid);
	return 0;
}

static int teardown(void **state)
{
	int wstatus = ah_agent_kill(&g.agent);
	int ret = 0;

	(void)state;
	if (wstatus != -1 && (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)) {
		fprintf(stderr, "agent exited with status %#x\n", wstatus);
		ret = -1;
	}
	ah_agent_free(&g.agent);
	free(g.root);
	free(g.rootfs);
	return ret;
}

/* ---- tests ---- */

static const char *const keys12[] = { "key1", "key2", NULL };

/* Version 1 copied into a tmpfs as kubelet lays it out: the version's
 * files with their modes and owners, ..data, the top-level symlinks. */
static void test_mount_layout(void **state)
{
	cleanup_free char *v1 = ts(1), *key2 = NULL, *sub = NULL, *subf = NULL;
	cleanup_free char *key2_agent = NULL, *subf_agent = NULL, *root_agent = NULL;
	cleanup_free char *line = NULL, *text = NULL, *link = NULL;
	struct stat st;

	(void)state;
	kubelet_write("cm", 1, keys12);
	/* A Secret's key (0400, another owner) and a nested directory (a
	 * projected volume's items may have paths). */
	key2 = kc_xasprintf("%s/shared/cm/%s/key2", g.root, v1);
	assert_int_equal(chmod(key2, 0400), 0);
	assert_int_equal(chown(key2, 1000, 2000), 0);
	sub = kc_xasprintf("%s/shared/cm/%s/sub", g.root, v1);
	assert_int_equal(mkdir(sub, 0750), 0);
	subf = kc_xasprintf("%s/inner", sub);
	ah_write(subf, "nested\n");
	{
		cleanup_free char *l = kc_xasprintf("%s/shared/cm/sub", g.root);

		assert_int_equal(symlink("..data/sub", l), 0);
	}

	assert_int_equal(create_container("c1", "watchable-bind", "cm", MP, "nodev", false, NULL),
			 0);
	assert_true(has_mount(MP));
	line = ah_sh("grep ' %s/%s ' /proc/%d/mountinfo", g.root, MP, (int)g.agent.pid);
	assert_non_null(strstr(line, " tmpfs "));
	assert_non_null(strstr(line, "nosuid"));
	assert_non_null(strstr(line, "nodev"));
	link = agent_link(MP "/..data");
	assert_non_null(link);
	assert_string_equal(link, v1);
	text = agent_read(MP "/key1");
	assert_non_null(text);
	assert_string_equal(text, "key1=v1\n");
	free(text);
	text = agent_read(MP "/sub/inner");
	assert_non_null(text);
	assert_string_equal(text, "nested\n");
	key2_agent = agent_path(MP "/..data/key2");
	assert_int_equal(stat(key2_agent, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 2000);
	subf_agent = agent_path(MP "/..data/sub");
	assert_int_equal(stat(subf_agent, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	root_agent = agent_path(MP);
	assert_int_equal(stat(root_agent, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* The share's writes after this do not reach the copy by themselves. */
	{
		cleanup_free char *k1 = kc_xasprintf("%s/shared/cm/%s/key1", g.root, v1);
		cleanup_free char *again = NULL;

		ah_write(k1, "changed behind\n");
		again = agent_read(MP "/key1");
		assert_string_equal(again, "key1=v1\n");
		ah_write(k1, "key1=v1\n");
	}
	g.c1_fds = ah_count_fds(g.agent.pid);
	/* Drop the nested item for the next tests' exact listings. */
	{
		cleanup_free char *l = kc_xasprintf("%s/shared/cm/sub", g.root);

		unlink(l);
	}
}

/* Version 2 drops key2 and adds key3; the same version again changes
 * nothing. */
static void test_update_keys(void **state)
{
	const char *const keys13[] = { "key1", "key3", NULL };
	cleanup_free char *v1 = ts(1), *old = NULL;

	(void)state;
	kubelet_write("cm", 2, keys13);
	update_ok(MP, 2);
	assert_version(MP, 2, keys13);
	assert_false(agent_exists(MP "/key2"));
	assert_false(agent_exists(MP "/sub"));
	old = kc_xasprintf("%s/%s", MP, v1);
	assert_false(agent_exists(old));
	update_ok(MP, 2);
	assert_version(MP, 2, keys13);
	/* And back: key2 comes again, key3 goes. */
	kubelet_write("cm", 3, keys12);
	update_ok(MP, 3);
	assert_version(MP, 3, keys12);
	assert_false(agent_exists(MP "/key3"));
}

struct reader {
	char *dir; /* the volume, as the agent sees it */
	int stop; /* __atomic */
	long reads, mixes, missing, rereads, backwards, last;
};

/* Reads key1 and key2 through one resolution of ..data, as a reader that
 * wants one version does, until stopped: counts versions that differ
 * (mixes), a file missing from the version ..data still names, and a
 * version older than one seen before. */
static void *reader_main(void *data)
{
	struct reader *r = data;
	cleanup_free char *data_link = kc_xasprintf("%s/..data", r->dir);

	while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
		char d1[PATH_MAX], d2[PATH_MAX];
		ssize_t n = readlink(data_link, d1, sizeof(d1) - 1);
		char *a = NULL, *b = NULL;
		size_t len;
		int va = -1, vb = -1;

		if (n < 0) {
			r->missing++;
			continue;
		}
		d1[n] = '\0';
		{
			cleanup_free char *p1 = kc_xasprintf("%s/%s/key1", r->dir, d1);
			cleanup_free char *p2 = kc_xasprintf("%s/%s/key2", r->dir, d1);

			if (kc_read_file(p1, 4096, &a, &len, NULL) < 0 ||
			    kc_read_file(p2, 4096, &b, &len, NULL) < 0) {
				/* Removed after the update that replaced it
				 * (kubelet does the same), or a file missing
				 * from the current version. */
				n = readlink(data_link, d2, sizeof(d2) - 1);
				d2[n > 0 ? n : 0] = '\0';
				if (strcmp(d1, d2) == 0)
					r->missing++;
				else
					r->rereads++;
				free(a);
				free(b);
				continue;
			}
		}
		r->reads++;
		if (sscanf(a, "key1=v%d", &va) != 1 || sscanf(b, "key2=v%d", &vb) != 1 || va != vb)
			r->mixes++;
		else if (va < r->last)
			r->backwards++;
		else
			r->last = va;
		free(a);
		free(b);
	}
	return NULL;
}

static void test_reader_never_mixes(void **state)
{
	struct reader r = { .dir = agent_path(MP) };
	pthread_t th;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
	for (int v = 4; v < 54; v++) {
		kubelet_write("cm", v, keys12);
		update_ok(MP, v);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(pthread_join(th, NULL), 0);
	print_message("# 50 updates: %ld reads, %ld re-read after their version went, "
		      "%ld mixes, %ld missing, last version read v%ld\n",
		      r.reads, r.rereads, r.mixes, r.missing, r.last);
	assert_true(r.reads > 0);
	assert_int_equal(r.mixes, 0);
	assert_int_equal(r.missing, 0);
	assert_int_equal(r.backwards, 0);
	assert_version(MP, 53, keys12);
	free(r.dir);
	assert_agent_fds(g.c1_fds);
}

/* Hostile data_dir values and mount points: refused naming the cause, the
 * volume keeps its version. */
static void test_hostile(void **state)
{
	static const struct {
		const char *data_dir;
		int code;
		const char *what;
	} bad[] = {
		{ "../x", KC_TTRPC_INVALID_ARGUMENT, "data_dir `../x`: not the name of a version" },
		{ "..data", KC_TTRPC_INVALID_ARGUMENT, "data_dir `..data`: not the name" },
		{ "..data_tmp", KC_TTRPC_INVALID_ARGUMENT, "not the name of a version" },
		{ "/etc", KC_TTRPC_INVALID_ARGUMENT, "data_dir `/etc`: not the name" },
		{ "", KC_TTRPC_INVALID_ARGUMENT, "not the name of a version" },
		{ "..2026_12_07_18_00_00.1/../..", KC_TTRPC_INVALID_ARGUMENT, "not the name" },
		{ "..2026_12_07_18_00_00.", KC_TTRPC_INVALID_ARGUMENT, "not the name" },
		{ "..2026_12_07_18_00_00.123456789012345678901", KC_TTRPC_INVALID_ARGUMENT,
		  "not the name" },
		{ "..2026_12_07_18_59_59.999", KC_TTRPC_NOT_FOUND, "not in the share" },
		{ "..2026_12_07_18_59_59.7", KC_TTRPC_PERMISSION_DENIED,
		  "is a symlink (not followed)" },
	};
	cleanup_free char *evil = kc_xasprintf("%s/shared/cm/..2026_12_07_18_59_59.7", g.root);
	cleanup_free char *v = ts(60), *vdir = kc_xasprintf("%s/shared/cm/%s", g.root, v);
	cleanup_free char *vlink = kc_xasprintf("%s/passwd", vdir);
	cleanup_free char *vfifo = kc_xasprintf("%s/fifo", vdir);
	char *msg = NULL;

	(void)state;
	/* A version that is a symlink out of the share. */
	assert_int_equal(symlink("/etc", evil), 0);
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		assert_int_equal(update(MP, bad[i].data_dir, &msg), bad[i].code);
		if (!strstr(msg, bad[i].what))
			fail_msg("data_dir `%s`: `%s` does not say `%s`", bad[i].data_dir, msg,
				 bad[i].what);
		free(msg);
		assert_version(MP, 53, keys12);
	}
	unlink(evil);
	/* A version holding a symlink out, or a fifo: refused, nothing of
	 * it stays. */
	assert_int_equal(mkdir(vdir, 0755), 0);
	assert_int_equal(symlink("/etc/passwd", vlink), 0);
	assert_int_equal(update(MP, v, &msg), KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "passwd` in the share is a symlink"));
	free(msg);
	assert_version(MP, 53, keys12);
	unlink(vlink);
	assert_int_equal(mkfifo(vfifo, 0644), 0);
	assert_int_equal(update(MP, v, &msg), KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "fifo` in the share is a special file"));
	free(msg);
	assert_version(MP, 53, keys12);
	ah_rm_tree(vdir);
	/* Mount points that are no watchable volume. */
	assert_int_equal(update("watchable/none", v, &msg), KC_TTRPC_NOT_FOUND);
	assert_non_null(strstr(msg, "watchable/none`: no watchable-bind storage there"));
	free(msg);
	assert_int_equal(update("/etc", v, &msg), KC_TTRPC_NOT_FOUND);
	free(msg);
	assert_agent_fds(g.c1_fds);
}

/* A version over the bounds: refused naming the bound; the volume keeps
 * its version and nothing of the refused one stays. */
static void test_bounds(void **state)
{
	cleanup_free char *v = ts(61), *vdir = kc_xasprintf("%s/shared/cm/%s", g.root, v);
	cleanup_free char *big = kc_xasprintf("%s/big", vdir), *left = NULL;
	char *msg = NULL;

	(void)state;
	assert_int_equal(mkdir(vdir, 0755), 0);
	free(ah_sh("cd '%s' && for i in $(seq 1 1025); do : > f$i; done", vdir));
	assert_int_equal(update(MP, v, &msg), KC_TTRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(msg, "more than 1024 files"));
	free(msg);
	assert_version(MP, 53, keys12);
	left = kc_xasprintf("%s/%s", MP, v);
	assert_false(agent_exists(left));
	ah_rm_tree(vdir);
	assert_int_equal(mkdir(vdir, 0755), 0);
	free(ah_sh("head -c 9437184 /dev/zero > '%s'", big));
	assert_int_equal(update(MP, v, &msg), KC_TTRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(msg, "more than 8 MiB"));
	free(msg);
	assert_version(MP, 53, keys12);
	assert_false(agent_exists(left));
	ah_rm_tree(vdir);
	assert_agent_fds(g.c1_fds);
}

/* Storages refused at creation, naming why; nothing stays mounted. */
static void test_create_refused(void **state)
{
	cleanup_free char *plain = kc_xasprintf("%s/shared/plain", g.root);
	char *msg = NULL;

	(void)state;
	assert_int_equal(mkdir(plain, 0755), 0);
	assert_int_equal(create_container("c2", "watchable-bind", "plain", "watchable/c2-0", NULL,
					  false, &msg),
			 KC_TTRPC_NOT_FOUND);
	assert_non_null(strstr(msg, "no ..data (not a volume of kubelet's atomic writer)"));
	free(msg);
	assert_false(has_mount("watchable/c2-0"));
	assert_false(agent_exists("watchable/c2-0"));
	assert_int_equal(create_container("c2", "watchable-bind", "/etc", "watchable/c2-0", NULL,
					  false, &msg),
			 KC_TTRPC_PERMISSION_DENIED);
	assert_non_null(strstr(msg, "source"));
	free(msg);
	assert_int_equal(create_container("c2", "watchable-bind", "cm", "watchable/c2-0", "size=1m",
					  false, &msg),
			 KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "takes no filesystem options"));
	free(msg);
	assert_false(has_mount("watchable/c2-0"));
}

/* A shared watchable volume: one tmpfs for both containers, unmounted
 * with the last of them. */
static void test_unmount_with_last_user(void **state)
{
	(void)state;
	remove_container("c1");
	assert_false(has_mount(MP));
	assert_false(agent_exists(MP));
	assert_int_equal(create_container("c3", "watchable-bind", "cm", "watchable/pod-cm", NULL,
					  true, NULL),
			 0);
	assert_int_equal(create_container("c4", "watchable-bind", "cm", "watchable/pod-cm", NULL,
					  true, NULL),
			 0);
	assert_version("watchable/pod-cm", 53, keys12);
	kubelet_write("cm", 62, keys12);
	update_ok("watchable/pod-cm", 62);
	remove_container("c3");
	assert_true(has_mount("watchable/pod-cm"));
	assert_version("watchable/pod-cm", 62, keys12);
	remove_container("c4");
	assert_false(has_mount("watchable/pod-cm"));
	assert_false(agent_exists("watchable/pod-cm"));
	{
		char *msg = NULL;
		cleanup_free char *v = ts(62);

		assert_int_equal(update("watchable/pod-cm", v, &msg), KC_TTRPC_NOT_FOUND);
		free(msg);
	}
	assert_agent_fds(g.sandbox_fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mount_layout),
		cmocka_unit_test(test_update_keys),
		cmocka_unit_test(test_reader_never_mixes),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_create_refused),
		cmocka_unit_test(test_unmount_with_last_user),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
