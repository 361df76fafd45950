/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox state document (src/sandbox/state.c): it round-trips, every
 * kind of bad file is refused with an error naming the file and the field,
 * the owner's lock tells a live owner from a dead one, and a recorded
 * process whose start time does not match is never signalled.  Root (the
 * file owner check chowns).
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

#include "lib/util.h"
#include "sandbox/sandbox.h"
#include "sandbox/state.h"
#include "../unit/tmpdir.h"

static char *mkdir_in(const char *name)
{
	char *dir = kc_xasprintf("%s/%s", tmpdir, name);

	assert_int_equal(mkdir(dir, 0700), 0);
	return dir;
}

/* A state with every field set (strings owned by the caller's literals:
 * only read here, never cleared). */
static void sample(struct kc_sandbox_state *st, const char *id)
{
	static struct kc_state_proc procs[] = {
		{ "qemu", 4242, 123456 },
		{ "virtiofsd", 4243, 123457 },
	};
	static struct kc_state_exec execs[] = {
		{ "e1", KC_STATE_STOPPED, 137 },
		{ "e2", KC_STATE_RUNNING, 0 },
	};
	static struct kc_state_container ctrs[] = {
		{ "sb1", "/run/containerd/b/sb1", KC_STATE_RUNNING, 0, execs, 2 },
		{ "c2", "/run/containerd/b/c2", KC_STATE_PAUSED, 0, NULL, 0 },
	};
	static struct kc_state_tap taps[] = { { "eth0", "tap0_kata" } };

	memset(st, 0, sizeof(*st));
	st->id = (char *)id;
	st->owner_pid = 777;
	st->owner_start_time = 99;
	st->procs = procs;
	st->n_procs = 2;
	st->run_dir = "/run/vc/vm/sb1";
	st->share_dir = "/run/kata-containers/shared/sandboxes/sb1";
	st->qmp_socket = "/run/vc/vm/sb1/qmp.sock";
	st->agent_uri = "unix:///run/vc/vm/sb1/agent.sock";
	st->owner_socket = "unix:///run/kata-containers/s/0123.sock";
	st->cgroup = "/default/sb1";
	st->netns = "/var/run/netns/cni-1";
	st->cri_name = "web-0";
	st->cri_namespace = "shop";
	st->cri_uid = "6f1c3f5e-7b1a-4e2c-9d1e-0a4b5c6d7e8f";
	st->monitor_socket = "/run/vc/sbs/sb1/shim-monitor.sock";
	st->taps = taps;
	st->n_taps = 1;
	st->containers = ctrs;
	st->n_containers = 2;
}

static void test_roundtrip(void **state)
{
	cleanup_free char *dir = mkdir_in("sb1");
	cleanup_free char *path = kc_xasprintf("%s/state.json", dir);
	cleanup_error kc_error_t err = NULL;
	struct kc_sandbox_state in, out;
	struct stat sb;

	(void)state;
	sample(&in, "sb1");
	assert_int_equal(kc_state_write(dir, &in, &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(kc_state_read(dir, &out, &err), 0);
	assert_string_equal(out.id, "sb1");
	assert_int_equal(out.owner_pid, 777);
	assert_int_equal(out.owner_start_time, 99);
	assert_int_equal(out.n_procs, 2);
	assert_string_equal(out.procs[1].what, "virtiofsd");
	assert_int_equal(out.procs[1].pid, 4243);
	assert_int_equal(out.procs[1].start_time, 123457);
	assert_string_equal(out.run_dir, in.run_dir);
	assert_string_equal(out.share_dir, in.share_dir);
	assert_string_equal(out.qmp_socket, in.qmp_socket);
	assert_string_equal(out.agent_uri, in.agent_uri);
	assert_string_equal(out.owner_socket, in.owner_socket);
	assert_string_equal(out.cgroup, "/default/sb1");
	assert_string_equal(out.netns, in.netns);
	assert_string_equal(out.cri_name, "web-0");
	assert_string_equal(out.cri_namespace, "shop");
	assert_string_equal(out.cri_uid, in.cri_uid);
	assert_string_equal(out.monitor_socket, in.monitor_socket);
	assert_int_equal(out.n_taps, 1);
	assert_string_equal(out.taps[0].link, "eth0");
	assert_string_equal(out.taps[0].tap, "tap0_kata");
	assert_int_equal(out.n_containers, 2);
	assert_string_equal(out.containers[0].bundle, "/run/containerd/b/sb1");
	assert_int_equal(out.containers[0].status, KC_STATE_RUNNING);
	assert_int_equal(out.containers[0].n_execs, 2);
	assert_string_equal(out.containers[0].execs[0].id, "e1");
	assert_int_equal(out.containers[0].execs[0].status, KC_STATE_STOPPED);
	assert_int_equal(out.containers[0].execs[0].exit_status, 137);
	assert_int_equal(out.containers[1].status, KC_STATE_PAUSED);
	assert_int_equal(out.containers[1].n_execs, 0);
	kc_state_clear(&out);

	/* A CRI that passes no uid. */
	in.cri_uid = NULL;
	assert_int_equal(kc_state_write(dir, &in, &err), 0);
	assert_int_equal(kc_state_read(dir, &out, &err), 0);
	assert_string_equal(out.cri_name, "web-0");
	assert_null(out.cri_uid);
	kc_state_clear(&out);

	/* The NULLs: no QMP, no network, no cgroup, not a CRI pod, no
	 * management socket. */
	in.qmp_socket = in.cgroup = in.netns = in.owner_socket = NULL;
	in.cri_name = in.cri_namespace = in.monitor_socket = NULL;
	in.n_taps = 0;
	assert_int_equal(kc_state_write(dir, &in, &err), 0);
	assert_int_equal(kc_state_read(dir, &out, &err), 0);
	assert_null(out.cri_name);
	assert_null(out.cri_namespace);
	assert_null(out.cri_uid);
	assert_null(out.monitor_socket);
	assert_null(out.qmp_socket);
	assert_null(out.cgroup);
	assert_null(out.netns);
	assert_null(out.owner_socket);
	assert_int_equal(out.n_taps, 0);
	kc_state_clear(&out);

	/* A state naming another sandbox is not written in this dir. */
	in.id = "other";
	assert_true(kc_state_write(dir, &in, &err) < 0);
	assert_non_null(strstr(err->msg, "state.json"));
}

/* Writes text as dir/state.json (mode 0600, root's) and expects the read
 * to fail with a message holding the path and `needle`. */
static void expect_refused(const char *dir, const char *text, const char *needle)
{
	cleanup_free char *path = kc_xasprintf("%s/state.json", dir);
	cleanup_error kc_error_t err = NULL;
	struct kc_sandbox_state st;

	if (text) {
		unlink(path);
		assert_int_equal(kc_write_file_atomic(path, text, strlen(text), 0600, &err), 0);
	}
	assert_true(kc_state_read(dir, &st, &err) < 0);
	if (!strstr(err->msg, path) || !strstr(err->msg, needle))
		fail_msg("`%s`: wanted the path and `%s` in: %s", text ? text : "", needle,
			 err->msg);
	assert_null(st.id); /* nothing half-read is left */
}

static char *valid_text(const char *id)
{
	cleanup_free char *dir = kc_xasprintf("%s/valid-%s", tmpdir, id);
	cleanup_free char *path = kc_xasprintf("%s/state.json", dir);
	cleanup_error kc_error_t err = NULL;
	struct kc_sandbox_state in;
	char *text = NULL;
	size_t len;

	mkdir(dir, 0700);
	sample(&in, id);
	in.id = strrchr(dir, '/') + 1;
	assert_int_equal(kc_state_write(dir, &in, &err), 0);
	assert_int_equal(kc_read_file(path, 1 << 20, &text, &len, &err), 0);
	return text;
}

/* text with the first `from` replaced by `to`; `from` is written compact
 * ("key":value) and matched as the file has it ("key": value). */
static char *edit(const char *text, const char *from, const char *to)
{
	char spaced[256];
	const char *at;
	size_t n = 0;

	for (const char *c = from; *c && n < sizeof(spaced) - 2; c++) {
		spaced[n++] = *c;
		if (c[0] == '"' && c[1] == ':')
			spaced[n++] = ':', spaced[n++] = ' ', c++;
	}
	spaced[n] = '\0';
	at = strstr(text, spaced);
	if (!at)
		fail_msg("`%s` is not in the document", spaced);
	return kc_xasprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(spaced));
}

#define LONG_20 "aaaaaaaaaaaaaaaaaaaa"
#define LONG_260 \
	LONG_20 LONG_20 LONG_20 LONG_20 LONG_20 LONG_20 LONG_20 LONG_20 LONG_20 LONG_20 LONG_20 \
		LONG_20 LONG_20

static void test_refused(void **state)
{
	cleanup_free char *dir = mkdir_in("sb2");
	cleanup_free char *good = NULL, *path = NULL;
	char *t;

	(void)state;
	/* A valid document of sandbox "sb2", written elsewhere. */
	{
		cleanup_free char *v = valid_text("x");

		good = edit(v, "\"valid-x\"", "\"sb2\"");
	}
	path = kc_xasprintf("%s/state.json", dir);
	expect_refused(dir, "{\"version\": 1, \"id\": \"sb2\", \"owner\": {\"pi", "state.json");
	{
		cleanup_free char *half = kc_xstrndup(good, strlen(good) / 2);

		expect_refused(dir, half, "state.json");
	}
	expect_refused(dir, "[1, 2]", "not a JSON object");
	expect_refused(dir, "", "state.json");
	t = edit(good, "\"version\":1", "\"version\":2");
	expect_refused(dir, t, "field `version` is 2");
	free(t);
	t = edit(good, "\"version\":1", "\"version\":\"1\"");
	expect_refused(dir, t, "field `version`");
	free(t);
	t = edit(good, "\"id\":\"sb2\"", "\"id\":\"sb3\"");
	expect_refused(dir, t, "field `id` is `sb3`");
	free(t);
	t = edit(good, "\"id\":\"sb2\"", "\"id\":\"../x\"");
	expect_refused(dir, t, "field `id`");
	free(t);
	t = edit(good, "\"owner\":", "\"owners\":");
	expect_refused(dir, t, "field `owner` is missing");
	free(t);
	t = edit(good, "\"pid\":777", "\"pid\":\"777\"");
	expect_refused(dir, t, "field `owner.pid`");
	free(t);
	t = edit(good, "\"pid\":4242", "\"pid\":1");
	expect_refused(dir, t, "field `processes[0].pid`");
	free(t);
	t = edit(good, "\"pid\":4243", "\"pid\":-5");
	expect_refused(dir, t, "field `processes[1].pid`");
	free(t);
	t = edit(good, "\"start_time\":123456", "\"start_time\":1.5");
	expect_refused(dir, t, "field `processes[0].start_time`");
	free(t);
	t = edit(good, "\"status\":\"PAUSED\"", "\"status\":\"PAUSE\"");
	expect_refused(dir, t, "field `containers[1].status`");
	free(t);
	t = edit(good, "\"exit_status\":137", "\"exit_status\":4294967296");
	expect_refused(dir, t, "field `containers[0].execs[0].exit_status`");
	free(t);
	t = edit(good, "\"run_dir\":\"/run", "\"run_dir\":\"run");
	expect_refused(dir, t, "field `run_dir`");
	free(t);
	t = edit(good, "\"cgroup\":\"/default/sb1\"", "\"cgroup\":7");
	expect_refused(dir, t, "field `cgroup`");
	free(t);
	t = edit(good, "\"tap\":\"tap0_kata\"", "\"tap\":\"tap0_kata_far_too_long\"");
	expect_refused(dir, t, "field `network.taps[0].tap`");
	free(t);
	t = edit(good, "\"monitor_socket\":\"/run", "\"monitor_socket\":\"run");
	expect_refused(dir, t, "field `monitor_socket`");
	free(t);
	t = edit(good, "\"cri\":", "\"cri_pod\":");
	expect_refused(dir, t, "field `cri` is missing");
	free(t);
	t = edit(good, "\"cri\":", "\"cri\":7,\"x\":");
	expect_refused(dir, t, "field `cri` is not an object");
	free(t);
	t = edit(good, "\"name\":\"web-0\"", "\"name\":\"web\\n0\"");
	expect_refused(dir, t, "field `cri.name` holds a control character");
	free(t);
	t = edit(good, "\"namespace\":\"shop\"", "\"namespace\":null");
	expect_refused(dir, t, "field `cri.namespace`");
	free(t);
	t = edit(good, "\"uid\":\"6f1c", "\"uid\":\"" LONG_260 "6f1c");
	expect_refused(dir, t, "field `cri.uid` is longer than 253 bytes");
	free(t);
	t = edit(good, "\"containers\":[", "\"containers\":[7,");
	expect_refused(dir, t, "field `containers[0]` is not an object");
	free(t);

	/* Not a regular file, not root's, writable by others, a link. */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_refused(dir, NULL, "not a regular file");
	unlink(path);
}

static void test_refused_files(void **state)
{
	cleanup_free char *dir = mkdir_in("sb4");
	cleanup_free char *path = kc_xasprintf("%s/state.json", dir);
	cleanup_free char *v = valid_text("y");
	cleanup_free char *good = edit(v, "\"valid-y\"", "\"sb4\"");
	cleanup_free char *elsewhere = kc_xasprintf("%s/elsewhere.json", tmpdir);
	cleanup_free char *linkdir = kc_xasprintf("%s/sb5", tmpdir);
	cleanup_free char *linkpath = kc_xasprintf("%s/state.json", linkdir);
	cleanup_error kc_error_t err = NULL;
	struct kc_sandbox_state st;

	(void)state;
	assert_int_equal(kc_write_file_atomic(path, good, strlen(good), 0600, &err), 0);
	assert_int_equal(kc_state_read(dir, &st, &err), 0);
	kc_state_clear(&st);

	assert_int_equal(chown(path, 65534, 0), 0);
	expect_refused(dir, NULL, "owned by uid 65534, not root");
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(chmod(path, 0620), 0);
	expect_refused(dir, NULL, "writable by others");
	unlink(path);

	/* The file a link, the dir a link. */
	assert_int_equal(kc_write_file_atomic(elsewhere, good, strlen(good), 0600, &err), 0);
	assert_int_equal(symlink(elsewhere, path), 0);
	expect_refused(dir, NULL, "symbolic link");
	unlink(path);
	assert_int_equal(kc_write_file_atomic(path, good, strlen(good), 0600, &err), 0);
	assert_int_equal(symlink(dir, linkdir), 0);
	assert_true(kc_state_read(linkdir, &st, &err) < 0);
	assert_non_null(strstr(err->msg, linkdir));
	assert_non_null(strstr(err->msg, "symbolic link"));
	assert_null(st.id);
	(void)linkpath;
	/* No file at all: ENOENT, naming it. */
	kc_error_free(&err);
	unlink(path);
	assert_int_equal(kc_state_read(dir, &st, &err), -ENOENT);
	assert_non_null(strstr(err->msg, path));
}

static void test_ownership(void **state)
{
	cleanup_free char *dir = kc_xasprintf("%s/own/sb6", tmpdir);
	cleanup_error kc_error_t err = NULL;
	struct kc_sandbox_state st;
	int lock = -1, lock2 = -1;

	(void)state;
	assert_int_equal(kc_state_claim(dir, &lock, &err), 0);
	sample(&st, "sb6");
	st.owner_pid = getpid();
	assert_int_equal(kc_proc_start_time(getpid(), &st.owner_start_time, &err), 0);
	assert_int_equal(kc_state_write(dir, &st, &err), 0);
	/* Held: a second owner and a cleaner are refused. */
	assert_int_equal(kc_state_claim(dir, &lock2, &err), -EEXIST);
	assert_non_null(strstr(err->msg, "its owner is alive"));
	kc_error_free(&err);
	assert_int_equal(kc_state_lock(dir, &lock2, &err), -EBUSY);
	kc_error_free(&err);
	assert_true(kc_state_owner_alive(dir, &st));
	assert_true(kc_state_owner_alive(dir, NULL));
	/* The pid alive, but not started when recorded: not the owner. */
	st.owner_start_time++;
	assert_false(kc_state_owner_alive(dir, &st));
	st.owner_start_time--;
	/* The owner gone (its descriptor closed, as at its death). */
	close(lock);
	assert_false(kc_state_owner_alive(dir, &st));
	assert_int_equal(kc_state_claim(dir, &lock2, &err), -EEXIST);
	assert_non_null(strstr(err->msg, "dead owner"));
	kc_error_free(&err);
	assert_int_equal(kc_state_lock(dir, &lock2, &err), 0);
	assert_int_equal(kc_state_remove(dir, &err), 0);
	close(lock2);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(kc_state_lock(dir, &lock2, &err), -ENOENT);
}

static pid_t spawn_sleep(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void test_kill_only_ours(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_state_proc p = { "qemu", 0, 0 };
	uint64_t start;
	int status;

	(void)state;
	p.pid = spawn_sleep();
	/* The exec may still be under way: its start time is the fork's. */
	assert_int_equal(kc_proc_start_time(p.pid, &start, &err), 0);
	/* A start time that is not the process's: it is left alone. */
	p.start_time = start + 1;
	assert_int_equal(kc_state_kill(&p, SIGKILL, &err), 0);
	usleep(100 * 1000);
	assert_int_equal(waitpid(p.pid, &status, WNOHANG), 0);
	assert_int_equal(kill(p.pid, 0), 0);
	p.start_time = start - 1;
	assert_int_equal(kc_state_kill(&p, SIGTERM, &err), 0);
	assert_int_equal(waitpid(p.pid, &status, WNOHANG), 0);
	/* The recorded one: killed, and gone when kc_state_kill returns. */
	p.start_time = start;
	assert_int_equal(kc_state_kill(&p, SIGKILL, &err), 1);
	assert_int_equal(waitpid(p.pid, &status, WNOHANG), p.pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Gone: nothing to do. */
	assert_int_equal(kc_state_kill(&p, SIGKILL, &err), 0);
}

/* kc_sandbox_cleanup_dead() from a state in the real KC_STATE_ROOT: a live
 * owner's sandbox is left alone; a dead owner's recorded process is killed,
 * one recorded with another start time survives, the state goes. */
static void test_cleanup_dead(void **state)
{
	cleanup_free char *id = kc_xasprintf("kc-test-%d", (int)getpid());
	cleanup_free char *dir = kc_xasprintf("%s/%s", KC_STATE_ROOT, id);
	cleanup_error kc_error_t err = NULL;
	struct kc_state_proc procs[2] = { { "qemu", 0, 0 }, { "virtiofsd", 0, 0 } };
	struct kc_sandbox_state st;
	int lock = -1, status;

	(void)state;
	procs[0].pid = spawn_sleep();
	procs[1].pid = spawn_sleep();
	assert_int_equal(kc_proc_start_time(procs[0].pid, &procs[0].start_time, &err), 0);
	assert_int_equal(kc_proc_start_time(procs[1].pid, &procs[1].start_time, &err), 0);
	procs[1].start_time += 7;
	assert_int_equal(kc_state_claim(dir, &lock, &err), 0);
	sample(&st, id);
	st.owner_pid = getpid();
	assert_int_equal(kc_proc_start_time(getpid(), &st.owner_start_time, &err), 0);
	st.procs = procs;
	st.run_dir = kc_xasprintf("%s/%s", "/run/vc/vm", id);
	st.share_dir = kc_xasprintf("%s/%s", "/run/kata-containers/shared/sandboxes", id);
	st.cgroup = NULL;
	st.netns = NULL;
	st.n_taps = 0;
	assert_int_equal(kc_state_write(dir, &st, &err), 0);
	/* The owner holds the lock: nothing is touched. */
	assert_int_equal(kc_sandbox_cleanup_dead(id, NULL, &err), 1);
	assert_int_equal(waitpid(procs[0].pid, &status, WNOHANG), 0);
	assert_int_equal(access(dir, F_OK), 0);
	/* The owner dies. */
	close(lock);
	assert_int_equal(kc_sandbox_cleanup_dead(id, NULL, &err), 0);
	assert_int_equal(waitpid(procs[0].pid, &status, WNOHANG), procs[0].pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(waitpid(procs[1].pid, &status, WNOHANG), 0);
	assert_int_equal(access(dir, F_OK), -1);
	/* Nothing left: success again. */
	assert_int_equal(kc_sandbox_cleanup_dead(id, NULL, &err), 0);
	kill(procs[1].pid, SIGKILL);
	waitpid(procs[1].pid, &status, 0);
	free(st.run_dir);
	free(st.share_dir);
}

static void test_start_time(void **state)
{
	cleanup_error kc_error_t err = NULL;
	uint64_t a = 0, b = 0;

	(void)state;
	assert_int_equal(kc_proc_start_time(getpid(), &a, &err), 0);
	assert_int_equal(kc_proc_start_time(getpid(), &b, &err), 0);
	assert_true(a > 0);
	assert_int_equal(a, b);
	assert_int_equal(kc_proc_start_time(1, &b, &err), 0);
	assert_true(b <= a);
	assert_true(kc_proc_start_time(INT32_MAX, &b, &err) < 0);
	assert_non_null(strstr(err->msg, "/proc/2147483647/stat"));
}

static void test_edits(void **state)
{
	struct kc_sandbox_state st = { 0 };

	(void)state;
	kc_state_set_container(&st, "a", "/b/a", KC_STATE_CREATED);
	kc_state_set_container(&st, "b", "/b/b", KC_STATE_CREATED);
	kc_state_set_process(&st, "a", "", KC_STATE_RUNNING, 0);
	kc_state_set_process(&st, "a", "x1", KC_STATE_CREATED, 0);
	kc_state_set_process(&st, "a", "x1", KC_STATE_STOPPED, 3);
	kc_state_set_process(&st, "a", "x2", KC_STATE_RUNNING, 0);
	kc_state_set_process(&st, "nope", "", KC_STATE_RUNNING, 0);
	assert_int_equal(st.n_containers, 2);
	assert_int_equal(st.containers[0].status, KC_STATE_RUNNING);
	assert_int_equal(st.containers[0].n_execs, 2);
	assert_int_equal(st.containers[0].execs[0].status, KC_STATE_STOPPED);
	assert_int_equal(st.containers[0].execs[0].exit_status, 3);
	kc_state_drop(&st, "a", "x1");
	assert_int_equal(st.containers[0].n_execs, 1);
	assert_string_equal(st.containers[0].execs[0].id, "x2");
	kc_state_drop(&st, "a", NULL);
	assert_int_equal(st.n_containers, 1);
	assert_string_equal(st.containers[0].id, "b");
	kc_state_drop(&st, "nope", NULL);
	assert_int_equal(st.n_containers, 1);
	kc_state_clear(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_refused),
		cmocka_unit_test(test_refused_files),  cmocka_unit_test(test_ownership),
		cmocka_unit_test(test_kill_only_ours), cmocka_unit_test(test_cleanup_dead),
		cmocka_unit_test(test_start_time),     cmocka_unit_test(test_edits),
	};
	return cmocka_run_group_tests_name("sandbox-state", tests, tmpdir_setup, tmpdir_teardown);
}
