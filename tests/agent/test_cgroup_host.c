// SPDX-License-Identifier: Apache-2.0
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
#include "agent/cgroup.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/transport.h"

#define AGENT "grpc.AgentService"
#define BUSYBOX "/bin/busybox"
#define UNIFIED "/sys/fs/cgroup/unified"
#define SEC 1000000000ull

static struct {
	char dir[64];
	char *sock, *uri, *rootfs, *cgroot;
	pid_t agent;
	struct kc_loop *loop;
	struct kc_ttrpc_client *cli;
	pid_t sleeper; /* c1's process */
} g;

struct answer {
	bool done;
	int code;
	char *message;
	uint8_t *payload;
	size_t len;
};

static void answer_free(struct answer *a)
{
	free(a->message);
	free(a->payload);
	memset(a, 0, sizeof(*a));
}

static void on_reply(const struct kc_ttrpc_reply *r, void *data)
{
	struct answer *a = data;

	a->done = true;
	a->code = r->code;
	a->message = kc_xstrndup(r->message ? r->message : "", r->message_len);
	a->payload = kc_xmalloc(r->len + 1);
	if (r->len)
		memcpy(a->payload, r->payload, r->len);
	a->len = r->len;
}

static void start_call(const char *method, const ProtobufCMessage *req, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(kc_ttrpc_client_call_msg(g.cli, AGENT, method, req, NULL, on_reply, a,
						  NULL, NULL),
			 0);
}

static void wait_answer(struct answer *a)
{
	uint64_t deadline = kc_monotonic_ns() + 30 * SEC;

	while (!a->done) {
		assert_true(kc_loop_run_once(g.loop, 50 * 1000000, NULL) >= 0);
		assert_true(kc_monotonic_ns() < deadline);
	}
}

static int call(const char *method, const ProtobufCMessage *req, struct answer *a)
{
	start_call(method, req, a);
	wait_answer(a);
	return a->code;
}

/* A call that must fail with `code` and a message holding `want`. */
static void call_fails(const char *method, const ProtobufCMessage *req, int code,
		       const char *want)
{
	struct answer a;

	if (call(method, req, &a) != code)
		fail_msg("%s: code %d (%s), want %d", method, a.code, a.message, code);
	if (!strstr(a.message, want))
		fail_msg("%s: `%s` lacks `%s`", method, a.message, want);
	answer_free(&a);
}

static void call_ok(const char *method, const ProtobufCMessage *req)
{
	struct answer a;

	if (call(method, req, &a) != 0)
		fail_msg("%s: %s", method, a.message);
	answer_free(&a);
}

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

static struct answer create_answer(const char *id, const char *linux_json)
{
	cleanup_free char *json = kc_xasprintf(
		"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sleep\",\"1000\"],"
		"\"env\":[\"PATH=/bin\"]},\"root\":{\"path\":\"%s\"},\"linux\":%s}",
		g.rootfs, linux_json);
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	struct answer a;

	req.container_id = (char *)id;
	req.exec_id = (char *)id;
	req.oci_spec_json.data = (uint8_t *)json;
	req.oci_spec_json.len = strlen(json);
	call("CreateContainer", &req.base, &a);
	return a;
}

static int create(const char *id, const char *linux_json)
{
	struct answer a = create_answer(id, linux_json);
	int code = a.code;

	if (code)
		print_message("# CreateContainer %s: %s\n", id, a.message);
	answer_free(&a);
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
		call_ok("StartContainer", &start.base);
		call_ok("RemoveContainer", &rm.base);
		t[i] = kc_monotonic_ns() - t0;
	}
	qsort(t, 20, sizeof(t[0]), cmp_u64);
	print_message("# %s: create+start+remove median %.2f ms (20 runs)\n", what,
		      (double)t[10] / 1e6);
}

/* ---- setup ---- */

static void copy_file(const char *from, const char *to)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int fd;

	assert_int_equal(kc_read_file(from, 64 << 20, &buf, &len, NULL), 0);
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Starts the agent with `root` as its cgroup root and connects g.cli. */
static void start_agent(const char *root)
{
	uint64_t deadline;
	int fd;

	g.agent = fork();
	assert_true(g.agent >= 0);
	if (g.agent == 0) {
		execl(KC_AGENT_BIN, "kata-agent", "--listen", g.uri, "--no-init", "--log-level",
		      "debug", "--cgroup-root", root, (char *)NULL);
		_exit(127);
	}
	deadline = kc_monotonic_ns() + 20 * SEC;
	while ((fd = kc_ttrpc_dial(g.uri, SEC, NULL)) < 0) {
		assert_true(kc_monotonic_ns() < deadline);
		usleep(20000);
	}
	assert_int_equal(kc_ttrpc_client_new(g.loop, fd, &g.cli, NULL), 0);
}

/* SIGTERM, and the agent must exit 0 (ASan finds no leak). */
static void stop_agent(void)
{
	int wstatus;

	assert_int_equal(kill(g.agent, SIGTERM), 0);
	assert_int_equal(waitpid(g.agent, &wstatus, 0), g.agent);
	g.agent = 0;
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
	kc_ttrpc_client_free(g.cli);
	g.cli = NULL;
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
	strcpy(g.dir, "/tmp/kc-cgroup-test-XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	g.sock = kc_xasprintf("%s/agent.sock", g.dir);
	g.uri = kc_xasprintf("unix://%s", g.sock);
	g.rootfs = kc_xasprintf("%s/rootfs", g.dir);
	g.cgroot = kc_xasprintf("%s/kc-cgroup-test-%d", UNIFIED, (int)getpid());
	bin = kc_xasprintf("%s/bin", g.rootfs);
	assert_int_equal(mkdir(g.rootfs, 0755), 0);
	assert_int_equal(mkdir(bin, 0755), 0);
	bb = kc_xasprintf("%s/busybox", bin);
	copy_file(BUSYBOX, bb);
	link = kc_xasprintf("%s/sleep", bin);
	assert_int_equal(symlink("busybox", link), 0);
	assert_int_equal(mkdir(g.cgroot, 0755), 0);
	assert_int_equal(kc_loop_new(&g.loop, NULL), 0);
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
	cleanup_free char *cmd = NULL;

	(void)state;
	if (g.cli)
		kc_ttrpc_client_free(g.cli);
	if (g.loop)
		kc_loop_free(g.loop);
	if (g.agent > 0) {
		kill(g.agent, SIGKILL);
		waitpid(g.agent, NULL, 0);
	}
	if (g.cgroot)
		rm_cgroups(g.cgroot);
	if (g.dir[0]) {
		cmd = kc_xasprintf("rm -rf '%s'", g.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", g.dir);
	}
	free(g.sock);
	free(g.uri);
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
	call_ok("CreateSandbox", &req.base);
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
	call_ok("StartContainer", &start.base);
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
	call_ok("PauseContainer", &p.base);
	assert_true(cg_frozen("pod/c1"));
	call_ok("PauseContainer", &p.base);
	assert_true(cg_frozen("pod/c1"));
	r.container_id = (char *)"c1";
	call_ok("ResumeContainer", &r.base);
	assert_false(cg_frozen("pod/c1"));
	/* The process lives on. */
	assert_int_equal(kill(g.sleeper, 0), 0);

	p.container_id = r.container_id = (char *)"nope";
	call_fails("PauseContainer", &p.base, KC_TTRPC_NOT_FOUND, "container `nope` not found");
	call_fails("ResumeContainer", &r.base, KC_TTRPC_NOT_FOUND, "container `nope` not found");
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
	call_fails("PauseContainer", &p.base, KC_TTRPC_FAILED_PRECONDITION,
		   "container `c2` is not running");
	rm.container_id = (char *)"c2";
	call_ok("RemoveContainer", &rm.base);
	assert_false(exists(dir));
}

/* This cgroup2 has no controllers: what needs one says which. */
static void test_missing_controllers(void **state)
{
	Grpc__StatsContainerRequest st = GRPC__STATS_CONTAINER_REQUEST__INIT;
	Grpc__UpdateContainerRequest up = GRPC__UPDATE_CONTAINER_REQUEST__INIT;
	cleanup_free char *c3 = cg_path("pod/c3");
	struct answer a;

	(void)state;
	st.container_id = (char *)"c1";
	call_fails("StatsContainer", &st.base, KC_TTRPC_FAILED_PRECONDITION,
		   "controller `memory` is not available (no `memory.current`)");
	up.container_id = (char *)"c1";
	up.resources_json.data = (uint8_t *)"{\"pids\":{\"limit\":10}}";
	up.resources_json.len = strlen((char *)up.resources_json.data);
	call_fails("UpdateContainer", &up.base, KC_TTRPC_FAILED_PRECONDITION,
		   "controller `pids` is not available (no `pids.max`)");
	/* Creating with limits fails whole and leaves no cgroup. */
	a = create_answer("c3", "{\"cgroupsPath\":\"/pod/c3\","
				"\"resources\":{\"memory\":{\"limit\":10000000}}}");
	assert_int_equal(a.code, KC_TTRPC_FAILED_PRECONDITION);
	assert_non_null(strstr(a.message, "controller `memory`"));
	answer_free(&a);
	assert_false(exists(c3));
}

/* Bad values and bad paths: INVALID_ARGUMENT naming the field; the agent
 * keeps serving. */
static void test_bad_input(void **state)
{
	Grpc__UpdateContainerRequest up = GRPC__UPDATE_CONTAINER_REQUEST__INIT;
	Grpc__StatsContainerRequest st = GRPC__STATS_CONTAINER_REQUEST__INIT;
	cleanup_free char *escaped = kc_xasprintf("%s/x", UNIFIED);
	struct answer a;

	(void)state;
	up.container_id = (char *)"c1";
	up.resources_json.data = (uint8_t *)"{\"memory\":{\"limit\":-5}}";
	up.resources_json.len = strlen((char *)up.resources_json.data);
	call_fails("UpdateContainer", &up.base, KC_TTRPC_INVALID_ARGUMENT,
		   "resources.memory.limit: -5 is impossible");
	up.resources_json.data = (uint8_t *)"{\"cpu\":{\"shares\":1}";
	up.resources_json.len = strlen((char *)up.resources_json.data);
	call_fails("UpdateContainer", &up.base, KC_TTRPC_INVALID_ARGUMENT, "resources");
	up.resources_json.data = (uint8_t *)"{\"unified\":{\"../../cgroup.procs\":\"1\"}}";
	up.resources_json.len = strlen((char *)up.resources_json.data);
	call_fails("UpdateContainer", &up.base, KC_TTRPC_INVALID_ARGUMENT,
		   "key `../../cgroup.procs` is not a cgroup interface file");
	up.container_id = (char *)"nope";
	call_fails("UpdateContainer", &up.base, KC_TTRPC_NOT_FOUND, "`nope`");
	st.container_id = (char *)"nope";
	call_fails("StatsContainer", &st.base, KC_TTRPC_NOT_FOUND, "`nope`");

	a = create_answer("c4", "{\"cgroupsPath\":\"/../x\"}");
	assert_int_equal(a.code, KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "linux.cgroupsPath `/../x`: `..` is not allowed"));
	answer_free(&a);
	assert_false(exists(escaped));
	a = create_answer("c4", "{\"resources\":{\"cpu\":{\"shares\":999999}}}");
	assert_int_equal(a.code, KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "linux.resources.cpu.shares: 999999 is out of range"));
	answer_free(&a);
	a = create_answer("c4", "{\"cgroupsPath\":\"pod/c1\"}");
	assert_int_equal(a.code, KC_TTRPC_ALREADY_EXISTS);
	assert_non_null(strstr(a.message, "cgroup `pod/c1` is used by container `c1`"));
	answer_free(&a);
	/* Still serving, c1 untouched. */
	assert_int_equal(kill(g.sleeper, 0), 0);
}

/* The spawn path holds the child until it is in its cgroup: when that
 * fails, CreateContainer says why, the program never runs and nothing of
 * the container stays.  A domain cgroup below a threaded one is "domain
 * invalid" and refuses processes (EOPNOTSUPP): the move fails for real. */
static void test_attach_failure(void **state)
{
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	cleanup_free char *thr = cg_path("thr"), *t = cg_path("thr/t"), *dir = cg_path("thr/t/c5");
	cleanup_free char *type = cg_path("thr/t/cgroup.type");
	struct answer a;
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
	assert_non_null(strstr(a.message, "moving process"));
	answer_free(&a);
	start.container_id = (char *)"c5";
	call_fails("StartContainer", &start.base, KC_TTRPC_NOT_FOUND, "`c5`");
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
	call_ok("PauseContainer", &p.base);
	rm.container_id = (char *)"c1";
	call_ok("RemoveContainer", &rm.base);
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
	static struct answer oom;
	struct answer other;
	int wstatus;

	(void)state;
	start_call("GetOOMEvent", &req.base, &oom);
	st.container_id = (char *)"nope";
	assert_int_equal(call("StatsContainer", &st.base, &other), KC_TTRPC_NOT_FOUND);
	answer_free(&other);
	assert_false(oom.done);
	assert_int_equal(kill(g.agent, SIGTERM), 0);
	wait_answer(&oom);
	assert_int_not_equal(oom.code, 0);
	answer_free(&oom);
	assert_int_equal(waitpid(g.agent, &wstatus, 0), g.agent);
	g.agent = 0;
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
	kc_ttrpc_client_free(g.cli);
	g.cli = NULL;
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
	cleanup_free char *want = kc_xasprintf("cgroup2 is not mounted at `%s`", g.dir);
	struct answer a;

	(void)state;
	start_agent(g.dir);
	sb.sandbox_id = (char *)"no-cgroup2";
	call_ok("CreateSandbox", &sb.base);
	assert_int_equal(create("n1", "{\"cgroupsPath\":\"/pod/n1\"}"), 0);
	a = create_answer("n2", "{\"resources\":{\"pids\":{\"limit\":5}}}");
	assert_int_equal(a.code, KC_TTRPC_FAILED_PRECONDITION);
	assert_non_null(strstr(a.message, want));
	assert_non_null(strstr(a.message, "linux.resources cannot be applied"));
	answer_free(&a);
	/* Bad values are still bad values. */
	a = create_answer("n2", "{\"resources\":{\"pids\":{\"limit\":\"x\"}}}");
	assert_int_equal(a.code, KC_TTRPC_INVALID_ARGUMENT);
	answer_free(&a);
	st.container_id = p.container_id = up.container_id = (char *)"n1";
	call_fails("StatsContainer", &st.base, KC_TTRPC_FAILED_PRECONDITION,
		   "container `n1` has no cgroup");
	call_fails("PauseContainer", &p.base, KC_TTRPC_FAILED_PRECONDITION, want);
	up.resources_json.data = (uint8_t *)"{}";
	up.resources_json.len = 2;
	call_fails("UpdateContainer", &up.base, KC_TTRPC_FAILED_PRECONDITION, want);
	call_fails("GetOOMEvent", &oom.base, KC_TTRPC_FAILED_PRECONDITION, "no OOM events");
	rm.container_id = (char *)"n1";
	call_ok("RemoveContainer", &rm.base);
	report_cycles("without cgroups", "{}");
	/* Nothing was made under the fake root. */
	{
		cleanup_free char *pod = kc_xasprintf("%s/pod", g.dir);

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
