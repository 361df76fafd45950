/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 through the real kata-agent on this host.  The host is cgroup
 * v1, but has an empty cgroup2 hierarchy at /sys/fs/cgroup/unified: no
 * controllers, yet cgroup.procs, cgroup.freeze, cgroup.events and
 * cgroup.kill work.  The agent runs with --no-init and --cgroup-root set to
 * a directory of our own there (kc-cgroup-test-<pid>), so that its
 * containers' cgroups, process placement, freeze/thaw and removal are real,
 * and every call that needs a controller must answer FAILED_PRECONDITION
 * naming it.  Limits, OOM events and stats with controllers are checked in
 * a VM (tests/vm/test_cgroup.c).  The tests run in order and share the
 * agent.
 */
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
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent_harness.h"
#include "agent/cgroup/cgroup.h"
#include "lib/util.h"
#include "ttrpc/client.h"

#define BUSYBOX "/bin/busybox"
#define UNIFIED "/sys/fs/cgroup/unified"

static struct {
	struct ah_agent agent; /* agent.dir is the test's directory */
	char *rootfs, *cgroot;
	pid_t sleeper; /* c1's process */
} g;

/* The connection to the agent. */
#define C (&g.agent.conn)

static char *cg_path(const char *rel)
{
	return kc_xasprintf("%s/%s", g.cgroot, rel);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static char *read_text(const char *path)
{
	cleanup_free char *buf = NULL;
	size_t len;

	if (kc_read_file(path, 1 << 20, &buf, &len, NULL) < 0)
		fail_msg("cannot read %s", path);
	return kc_steal_ptr(&buf);
}

static bool cg_frozen(const char *rel)
{
	cleanup_free char *p = kc_xasprintf("%s/%s/cgroup.events", g.cgroot, rel);
	cleanup_free char *ev = read_text(p);

	return strstr(ev, "frozen 1") != NULL;
}

static struct ah_answer create_answer(const char *id, const char *linux_json)
{
	cleanup_free char *json = kc_xasprintf(
		"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sleep\",\"1000\"],"
		"\"env\":[\"PATH=/bin\"]},\"root\":{\"path\":\"%s\"},\"linux\":%s}",
		g.rootfs, linux_json);
	struct ah_answer a;

	ah_create_container(C, id, json, &a);
	return a;
}

static int create(const char *id, const char *linux_json)
{
	struct ah_answer a = create_answer(id, linux_json);
	int code = a.code;

	if (code)
		print_message("# CreateContainer %s: %s\n", id, a.message);
	ah_answer_free(&a);
	return code;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of 20 create+start+remove cycles (with `linux_json`), printed for
 * the record only: timings are never asserted. */
static void report_cycles(const char *what, const char *linux_json)
{
	uint64_t t[20];

	for (int i = 0; i < 20; i++) {
		Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
		Grpc__RemoveContainerRequest rm = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
		uint64_t t0 = kc_monotonic_ns();

		assert_int_equal(create("cycle", linux_json), 0);
		start.container_id = rm.container_id = (char *)"cycle";
		ah_call_ok(C, "StartContainer", &start.base, NULL);
		ah_call_ok(C, "RemoveContainer", &rm.base, NULL);
		t[i] = kc_monotonic_ns() - t0;
	}
	qsort(t, 20, sizeof(t[0]), cmp_u64);
	print_message("# %s: create+start+remove median %.2f ms (20 runs)\n", what,
		      (double)t[10] / 1e6);
}

/* ---- setup ---- */

/* Starts the agent with `root` as its cgroup root and connects C. */
static void start_agent(const char *root)
{
	const char *extra[] = { "--cgroup-root", root, NULL };

	ah_agent_start(&g.agent, &(struct ah_agent_opts){ .extra = extra });
}

/* SIGTERM, and the agent must exit 0 (ASan finds no leak). */
static void stop_agent(void)
{
	int wstatus = ah_agent_kill(&g.agent);

	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
}

static int setup(void **state)
{
	cleanup_free char *bin = NULL, *bb = NULL, *link = NULL;

	(void)state;
	if (access(BUSYBOX, X_OK) < 0) {
		fprintf(stderr, "%s missing: apt-get install busybox-static\n", BUSYBOX);
		return -1;
	}
	if (!kc_cgroup_is_cgroup2(UNIFIED)) {
		fprintf(stderr, "no cgroup2 at %s on this host\n", UNIFIED);
		return -1;
	}
	strcpy(g.agent.dir, "/tmp/kc-cgroup-test-XXXXXX");
	assert_non_null(mkdtemp(g.agent.dir));
	g.rootfs = kc_xasprintf("%s/rootfs", g.agent.dir);
	g.cgroot = kc_xasprintf("%s/kc-cgroup-test-%d", UNIFIED, (int)getpid());
	bin = kc_xasprintf("%s/bin", g.rootfs);
	assert_int_equal(mkdir(g.rootfs, 0755), 0);
	assert_int_equal(mkdir(bin, 0755), 0);
	bb = kc_xasprintf("%s/busybox", bin);
	ah_copy_file(BUSYBOX, bb);
	link = kc_xasprintf("%s/sleep", bin);
	assert_int_equal(symlink("busybox", link), 0);
	assert_int_equal(mkdir(g.cgroot, 0755), 0);
	start_agent(g.cgroot);
	return 0;
}

/* Removes whatever cgroups a failed run left, deepest first. */
static void rm_cgroups(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		cleanup_free char *sub = NULL;

		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		sub = kc_xasprintf("%s/%s", dir, e->d_name);
		rm_cgroups(sub);
	}
	closedir(d);
	{
		cleanup_free char *kill_file = kc_xasprintf("%s/cgroup.kill", dir);
		int fd = open(kill_file, O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "1", 1) < 0)
				fprintf(stderr, "cannot kill %s\n", dir);
			close(fd);
		}
	}
	for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
}

static int teardown(void **state)
{
	(void)state;
	if (g.agent.pid > 0)
		kill(g.agent.pid, SIGKILL);
	ah_agent_kill(&g.agent);
	if (g.cgroot)
		rm_cgroups(g.cgroot);
	ah_agent_free(&g.agent);
	free(g.rootfs);
	free(g.cgroot);
	return 0;
}

/* "PID\n", as cgroup.procs lists one process (a static buffer). */
static const char *pid_line(unsigned long long pid)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "%llu\n", pid);
	return buf;
}

/* ---- tests ---- */

static void test_sandbox(void **state)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;

	(void)state;
	req.sandbox_id = (char *)"cgroup-test";
	ah_call_ok(C, "CreateSandbox", &req.base, NULL);
}

/* The container's process is in its cgroup from its first instruction:
 * CreateContainer clones it (as runc create does) and puts it there before
 * it may exec; cgroup.procs lists exactly it, and /proc says so. */
static void test_create_and_attach(void **state)
{
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	cleanup_free char *dir = cg_path("pod/c1"), *procs_file = cg_path("pod/c1/cgroup.procs");
	cleanup_free char *procs = NULL, *self = NULL, *cmdline = NULL, *pcg = NULL;
	unsigned long long pid;

	(void)state;
	assert_int_equal(create("c1", "{\"cgroupsPath\":\"/pod/c1\"}"), 0);
	assert_true(exists(dir));
	procs = read_text(procs_file);
	procs[strcspn(procs, "\n")] = '\0';
	assert_true(kc_parse_u64(procs, &pid));
	start.container_id = (char *)"c1";
	ah_call_ok(C, "StartContainer", &start.base, NULL);
	free(procs);
	procs = read_text(procs_file);
	assert_string_equal(procs, pid_line(pid));
	g.sleeper = (pid_t)pid;
	cmdline = kc_xasprintf("/proc/%d/cmdline", (int)g.sleeper);
	self = read_text(cmdline);
	assert_string_equal(self, "sleep"); /* argv[0], NUL, "1000" */
	free(cmdline);
	cmdline = kc_xasprintf("/proc/%d/cgroup", (int)g.sleeper);
	pcg = read_text(cmdline);
	{
		cleanup_free char *want = kc_xasprintf("0::%s/pod/c1\n", g.cgroot + strlen(UNIFIED));

		assert_non_null(strstr(pcg, want));
	}
}

/* Pause returns once the kernel reports the cgroup frozen; resume once it
 * is thawed.  Pausing twice is fine. */
static void test_pause_resume(void **state)
{
	Grpc__PauseContainerRequest p = GRPC__PAUSE_CONTAINER_REQUEST__INIT;
	Grpc__ResumeContainerRequest r = GRPC__RESUME_CONTAINER_REQUEST__INIT;

	(void)state;
	assert_false(cg_frozen("pod/c1"));
	p.container_id = (char *)"c1";
	ah_call_ok(C, "PauseContainer", &p.base, NULL);
	assert_true(cg_frozen("pod/c1"));
	ah_call_ok(C, "PauseContainer", &p.base, NULL);
	assert_true(cg_frozen("pod/c1"));
	r.container_id = (char *)"c1";
	ah_call_ok(C, "ResumeContainer", &r.base, NULL);
	assert_false(cg_frozen("pod/c1"));
	/* The process lives on. */
	assert_int_equal(kill(g.sleeper, 0), 0);

	p.container_id = r.container_id = (char *)"nope";
	ah_call_fails(C, "PauseContainer", &p.base, KC_TTRPC_NOT_FOUND,
		      "container `nope` not found");
	ah_call_fails(C, "ResumeContainer", &r.base, KC_TTRPC_NOT_FOUND,
		      "container `nope` not found");
}

/* A container that is created but not started cannot be paused. */
static void test_pause_not_running(void **state)
{
	Grpc__PauseContainerRequest p = GRPC__PAUSE_CONTAINER_REQUEST__INIT;
	Grpc__RemoveContainerRequest rm = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	cleanup_free char *dir = cg_path("kata/c2");

	(void)state;
	/* No cgroupsPath: kata/<id>. */
	assert_int_equal(create("c2", "{}"), 0);
	assert_true(exists(dir));
	p.container_id = (char *)"c2";
	ah_call_fails(C, "PauseContainer", &p.base, KC_TTRPC_FAILED_PRECONDITION,
		      "container `c2` is not running");
	rm.container_id = (char *)"c2";
	ah_call_ok(C, "RemoveContainer", &rm.base, NULL);
	assert_false(exists(dir));
}

/* This cgroup2 has no controllers: what needs one says which. */
static void test_missing_controllers(void **state)
{
	Grpc__StatsContainerRequest st = GRPC__STATS_CONTAINER_REQUEST__INIT;
	Grpc__UpdateContainerRequest up = GRPC__UPDATE_CONTAINER_REQUEST__INIT;
	cleanup_free char *c3 = cg_path("pod/c3");
	struct ah_answer a;

	(void)state;
	st.container_id = (char *)"c1";
	ah_call_fails(C, "StatsContainer", &st.base, KC_TTRPC_FAILED_PRECONDITION,
		      "controller `memory` is not available (no `memory.current`)");
	up.container_id = (char *)"c1";
	up.resources_json.data = (uint8_t *)"{\"pids\":{\"limit\":10}}";
	up.resources_json.len = strlen((char *)up.resources_json.data);
	ah_call_fails(C, "UpdateContainer", &up.base, KC_TTRPC_FAILED_PRECONDITION,
		      "controller `pids` is not available (no `pids.max`)");
	/* Creating with limits fails whole and leaves no cgroup. */
	a = create_answer("c3", "{\"cgroupsPath\":\"/pod/c3\","
				"\"resources\":{\"memory\":{\"limit\":10000000}}}");
	assert_int_equal(a.code, KC_TTRPC_FAILED_PRECONDITION);
	assert_non_null(strstr(a.message, "controller `memory`"));
	ah_answer_free(&a);
	assert_false(exists(c3));
}

/* Bad values and bad paths: INVALID_ARGUMENT naming the field; the agent
 * keeps serving. */
static void test_bad_input(void **state)
{
	Grpc__UpdateContainerRequest up = GRPC__UPDATE_CONTAINER_REQUEST__INIT;
	Grpc__StatsContainerRequest st = GRPC__STATS_CONTAINER_REQUEST__INIT;
	cleanup_free char *escaped = kc_xasprintf("%s/x", UNIFIED);
	struct ah_answer a;

	(void)state;
	up.container_id = (char *)"c1";
	up.resources_json.data = (uint8_t *)"{\"memory\":{\"limit\":-5}}";
	up.resources_json.len = strlen((char *)up.resources_json.data);
	ah_call_fails(C, "UpdateContainer", &up.base, KC_TTRPC_INVALID_ARGUMENT,
		      "resources.memory.limit: -5 is impossible");
	up.resources_json.data = (uint8_t *)"{\"cpu\":{\"shares\":1}";
	up.resources_json.len = strlen((char *)up.resources_json.data);
	ah_call_fails(C, "UpdateContainer", &up.base, KC_TTRPC_INVALID_ARGUMENT, "resources");
	up.resources_json.data = (uint8_t *)"{\"unified\":{\"../../cgroup.procs\":\"1\"}}";
	up.resources_json.len = strlen((char *)up.resources_json.data);
	ah_call_fails(C, "UpdateContainer", &up.base, KC_TTRPC_INVALID_ARGUMENT,
		      "key `../../cgroup.procs` is not a cgroup interface file");
	up.container_id = (char *)"nope";
	ah_call_fails(C, "UpdateContainer", &up.base, KC_TTRPC_NOT_FOUND, "`nope`");
	st.container_id = (char *)"nope";
	ah_call_fails(C, "StatsContainer", &st.base, KC_TTRPC_NOT_FOUND, "`nope`");

	a = create_answer("c4", "{\"cgroupsPath\":\"/../x\"}");
	assert_int_equal(a.code, KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "linux.cgroupsPath `/../x`: `..` is not allowed"));
	ah_answer_free(&a);
	assert_false(exists(escaped));
	a = create_answer("c4", "{\"resources\":{\"cpu\":{\"shares\":999999}}}");
	assert_int_equal(a.code, KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "linux.resources.cpu.shares: 999999 is out of range"));
	ah_answer_free(&a);
	a = create_answer("c4", "{\"cgroupsPath\":\"pod/c1\"}");
	assert_int_equal(a.code, KC_TTRPC_ALREADY_EXISTS);
	assert_non_null(strstr(a.message, "cgroup `pod/c1` is used by container `c1`"));
	ah_answer_free(&a);
	/* Still serving, c1 untouched. */
	assert_int_equal(kill(g.sleeper, 0), 0);
}

/* The spawn path clones the child into its cgroup: when that fails,
 * CreateContainer says why, the program never runs and nothing of the
 * container stays.  A domain cgroup below a threaded one is "domain
 * invalid" and refuses processes (EOPNOTSUPP): the clone fails for real. */
static void test_attach_failure(void **state)
{
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	cleanup_free char *thr = cg_path("thr"), *t = cg_path("thr/t"), *dir = cg_path("thr/t/c5");
	cleanup_free char *type = cg_path("thr/t/cgroup.type");
	struct ah_answer a;
	FILE *f;

	(void)state;
	assert_int_equal(mkdir(thr, 0755), 0);
	assert_int_equal(mkdir(t, 0755), 0);
	f = fopen(type, "w");
	assert_non_null(f);
	assert_true(fputs("threaded", f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	a = create_answer("c5", "{\"cgroupsPath\":\"/thr/t/c5\"}");
	print_message("# CreateContainer: %s\n", a.message ? a.message : "");
	assert_int_not_equal(a.code, 0);
	assert_non_null(strstr(a.message, "clone a process into its cgroup"));
	ah_answer_free(&a);
	start.container_id = (char *)"c5";
	ah_call_fails(C, "StartContainer", &start.base, KC_TTRPC_NOT_FOUND, "`c5`");
	rmdir(dir);
	assert_int_equal(rmdir(t), 0);
	assert_int_equal(rmdir(thr), 0);
}

static void test_cycle_cost(void **state)
{
	cleanup_free char *dir = cg_path("pod/cycle");

	(void)state;
	report_cycles("with a cgroup", "{\"cgroupsPath\":\"/pod/cycle\"}");
	assert_false(exists(dir));
}

/* Removing a paused container kills it (fatal signals reach frozen tasks)
 * and removes its cgroup; the parent stays. */
static void test_remove_paused(void **state)
{
	Grpc__PauseContainerRequest p = GRPC__PAUSE_CONTAINER_REQUEST__INIT;
	Grpc__RemoveContainerRequest rm = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	cleanup_free char *dir = cg_path("pod/c1"), *pod = cg_path("pod");

	(void)state;
	p.container_id = (char *)"c1";
	ah_call_ok(C, "PauseContainer", &p.base, NULL);
	rm.container_id = (char *)"c1";
	ah_call_ok(C, "RemoveContainer", &rm.base, NULL);
	assert_false(exists(dir));
	assert_true(exists(pod));
	assert_int_equal(kill(g.sleeper, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(rmdir(pod), 0);
}

/* GetOOMEvent is held (no OOM can happen without the memory controller):
 * other calls are answered meanwhile, and shutting the agent down ends it
 * with an error rather than a made-up event. */
static void test_oom_long_poll_and_exit(void **state)
{
	Grpc__GetOOMEventRequest req = GRPC__GET_OOMEVENT_REQUEST__INIT;
	Grpc__StatsContainerRequest st = GRPC__STATS_CONTAINER_REQUEST__INIT;
	/* Static: a failed assertion leaves the call pending, and the client
	 * answers it later, when this frame is gone. */
	static struct ah_answer oom;
	struct ah_answer other;
	int wstatus;

	(void)state;
	ah_start_call(C, "GetOOMEvent", &req.base, &oom);
	st.container_id = (char *)"nope";
	assert_int_equal(ah_call(C, "StatsContainer", &st.base, &other), KC_TTRPC_NOT_FOUND);
	ah_answer_free(&other);
	assert_false(oom.done);
	assert_int_equal(kill(g.agent.pid, SIGTERM), 0);
	ah_wait(C, &oom);
	assert_int_not_equal(oom.code, 0);
	ah_answer_free(&oom);
	assert_int_equal(waitpid(g.agent.pid, &wstatus, 0), g.agent.pid);
	g.agent.pid = 0;
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
	ah_conn_close(C);
	/* Nothing left: kata/ (made for c2) is all, and empty. */
	{
		cleanup_free char *kata = cg_path("kata");

		assert_int_equal(rmdir(kata), 0);
		assert_int_equal(rmdir(g.cgroot), 0);
	}
}

/* A cgroup root that is not cgroup2 (this test's temporary directory):
 * containers without limits still run, and everything that needs a cgroup
 * says why it cannot. */
static void test_no_cgroup2(void **state)
{
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__StatsContainerRequest st = GRPC__STATS_CONTAINER_REQUEST__INIT;
	Grpc__PauseContainerRequest p = GRPC__PAUSE_CONTAINER_REQUEST__INIT;
	Grpc__UpdateContainerRequest up = GRPC__UPDATE_CONTAINER_REQUEST__INIT;
	Grpc__GetOOMEventRequest oom = GRPC__GET_OOMEVENT_REQUEST__INIT;
	Grpc__RemoveContainerRequest rm = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	cleanup_free char *want = kc_xasprintf("cgroup2 is not mounted at `%s`", g.agent.dir);
	struct ah_answer a;

	(void)state;
	start_agent(g.agent.dir);
	sb.sandbox_id = (char *)"no-cgroup2";
	ah_call_ok(C, "CreateSandbox", &sb.base, NULL);
	assert_int_equal(create("n1", "{\"cgroupsPath\":\"/pod/n1\"}"), 0);
	a = create_answer("n2", "{\"resources\":{\"pids\":{\"limit\":5}}}");
	assert_int_equal(a.code, KC_TTRPC_FAILED_PRECONDITION);
	assert_non_null(strstr(a.message, want));
	assert_non_null(strstr(a.message, "linux.resources cannot be applied"));
	ah_answer_free(&a);
	/* Bad values are still bad values. */
	a = create_answer("n2", "{\"resources\":{\"pids\":{\"limit\":\"x\"}}}");
	assert_int_equal(a.code, KC_TTRPC_INVALID_ARGUMENT);
	ah_answer_free(&a);
	st.container_id = p.container_id = up.container_id = (char *)"n1";
	ah_call_fails(C, "StatsContainer", &st.base, KC_TTRPC_FAILED_PRECONDITION,
		      "container `n1` has no cgroup");
	ah_call_fails(C, "PauseContainer", &p.base, KC_TTRPC_FAILED_PRECONDITION, want);
	up.resources_json.data = (uint8_t *)"{}";
	up.resources_json.len = 2;
	ah_call_fails(C, "UpdateContainer", &up.base, KC_TTRPC_FAILED_PRECONDITION, want);
	ah_call_fails(C, "GetOOMEvent", &oom.base, KC_TTRPC_FAILED_PRECONDITION, "no OOM events");
	rm.container_id = (char *)"n1";
	ah_call_ok(C, "RemoveContainer", &rm.base, NULL);
	report_cycles("without cgroups", "{}");
	/* Nothing was made under the fake root. */
	{
		cleanup_free char *pod = kc_xasprintf("%s/pod", g.agent.dir);

		assert_false(exists(pod));
	}
	stop_agent();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_create_and_attach),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_pause_not_running),
		cmocka_unit_test(test_missing_controllers),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_attach_failure),
		cmocka_unit_test(test_cycle_cost),
		cmocka_unit_test(test_remove_paused),
		cmocka_unit_test(test_oom_long_poll_and_exit),
		cmocka_unit_test(test_no_cgroup2),
	};

	return cmocka_run_group_tests_name("cgroup-host", tests, setup, teardown);
}
