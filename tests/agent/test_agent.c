// SPDX-License-Identifier: Apache-2.0
/*
 * The real kata-agent, started as a child with --no-init on a unix socket
 * and driven over ttrpc: health, sandbox, containers whose rootfs holds
 * busybox, long polls, errors, and a clean exit on SIGTERM.  The tests run
 * in order and share the agent.
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
#include "health.pb-c.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/transport.h"

#define AGENT "grpc.AgentService"
#define BUSYBOX "/bin/busybox"
#define SEC 1000000000ull

static struct {
	char dir[64];
	char *sock, *uri, *rootfs;
	pid_t agent;
	struct kc_loop *loop;
	struct kc_ttrpc_client *cli;
	int base_fds;
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

static void start_call(const char *svc, const char *method, const ProtobufCMessage *req,
		       struct answer *a)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(kc_ttrpc_client_call_msg(g.cli, svc, method, req, NULL, on_reply, a, NULL,
						  NULL),
			 0);
}

static void wait_answer(struct answer *a)
{
	uint64_t deadline = kc_monotonic_ns() + 20 * SEC;

	while (!a->done) {
		assert_true(kc_loop_run_once(g.loop, 50 * 1000000, NULL) >= 0);
		assert_true(kc_monotonic_ns() < deadline);
	}
}

/* One call to the end: returns the status code; *a keeps the answer. */
static int call(const char *svc, const char *method, const ProtobufCMessage *req,
		struct answer *a)
{
	start_call(svc, method, req, a);
	wait_answer(a);
	return a->code;
}

static int call_agent(const char *method, const ProtobufCMessage *req)
{
	struct answer a;
	int code = call(AGENT, method, req, &a);

	if (code != 0)
		print_message("# %s: %s\n", method, a.message);
	answer_free(&a);
	return code;
}

static int count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2;
}

/* Whether a process whose command line is exactly argv runs. */
static bool process_running(const char *a0, const char *a1)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while (!found && (e = readdir(d))) {
		char path[300], buf[256];
		ssize_t n;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strcmp(buf, a0) == 0 && (size_t)n > strlen(a0) + 1 &&
		    strcmp(buf + strlen(a0) + 1, a1) == 0)
			found = true;
	}
	closedir(d);
	return found;
}

/* ---- the container helpers ---- */

static char *spec_json(const char *args_json, const char *extra)
{
	return kc_xasprintf("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":%s,"
			    "\"env\":[\"PATH=/bin\",\"FOO=bar\"]%s},\"root\":{\"path\":\"%s\"},"
			    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
			    "{\"type\":\"ipc\"},{\"type\":\"uts\"}]}}",
			    args_json, extra ? extra : "", g.rootfs);
}

static int create_container_raw(const char *id, const char *json, struct answer *a)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	req.exec_id = (char *)id;
	req.oci_spec_json.data = (uint8_t *)json;
	req.oci_spec_json.len = strlen(json);
	return call(AGENT, "CreateContainer", &req.base, a);
}

static void run_container(const char *id, const char *args_json, const char *extra)
{
	cleanup_free char *json = spec_json(args_json, extra);
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	struct answer a;

	assert_int_equal(create_container_raw(id, json, &a), 0);
	answer_free(&a);
	start.container_id = (char *)id;
	assert_int_equal(call_agent("StartContainer", &start.base), 0);
}

static int wait_process(const char *id, const char *exec_id, int *status, char **msg)
{
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;
	struct answer a;
	int code;

	req.container_id = (char *)id;
	req.exec_id = (char *)exec_id;
	code = call(AGENT, "WaitProcess", &req.base, &a);
	if (code == 0) {
		Grpc__WaitProcessResponse *r =
			grpc__wait_process_response__unpack(NULL, a.len, a.payload);

		assert_non_null(r);
		*status = r->status;
		grpc__wait_process_response__free_unpacked(r, NULL);
	} else if (msg) {
		*msg = kc_steal_ptr(&a.message);
	}
	answer_free(&a);
	return code;
}

/* Reads stdout until end of stream. */
static char *read_all(const char *id, const char *method)
{
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	char *out = kc_xzalloc(1);
	size_t len = 0;

	req.container_id = (char *)id;
	req.len = 4096;
	for (;;) {
		struct answer a;
		Grpc__ReadStreamResponse *r;

		assert_int_equal(call(AGENT, method, &req.base, &a), 0);
		r = grpc__read_stream_response__unpack(NULL, a.len, a.payload);
		assert_non_null(r);
		answer_free(&a);
		if (r->data.len == 0) {
			grpc__read_stream_response__free_unpacked(r, NULL);
			return out;
		}
		out = kc_xrealloc(out, len + r->data.len + 1);
		memcpy(out + len, r->data.data, r->data.len);
		len += r->data.len;
		out[len] = '\0';
		grpc__read_stream_response__free_unpacked(r, NULL);
	}
}

static void remove_container(const char *id)
{
	Grpc__RemoveContainerRequest req = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	assert_int_equal(call_agent("RemoveContainer", &req.base), 0);
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

static int setup(void **state)
{
	const char *applets[] = { "echo", "sh", "sleep", "cat", "pwd" };
	cleanup_free char *bin = NULL, *tmp = NULL;
	uint64_t deadline;
	int fd;

	(void)state;
	if (access(BUSYBOX, X_OK) < 0) {
		fprintf(stderr, "%s missing: apt-get install busybox-static\n", BUSYBOX);
		return -1;
	}
	strcpy(g.dir, "/tmp/kc-agent-test-XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	g.sock = kc_xasprintf("%s/agent.sock", g.dir);
	g.uri = kc_xasprintf("unix://%s", g.sock);
	g.rootfs = kc_xasprintf("%s/rootfs", g.dir);
	bin = kc_xasprintf("%s/bin", g.rootfs);
	tmp = kc_xasprintf("%s/tmp", g.rootfs);
	assert_int_equal(mkdir(g.rootfs, 0755), 0);
	assert_int_equal(mkdir(bin, 0755), 0);
	assert_int_equal(mkdir(tmp, 0755), 0);
	{
		cleanup_free char *bb = kc_xasprintf("%s/busybox", bin);

		copy_file(BUSYBOX, bb);
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(applets); i++) {
		cleanup_free char *link = kc_xasprintf("%s/%s", bin, applets[i]);

		assert_int_equal(symlink("busybox", link), 0);
	}

	g.agent = fork();
	assert_true(g.agent >= 0);
	if (g.agent == 0) {
		execl(KC_AGENT_BIN, "kata-agent", "--listen", g.uri, "--no-init", "--log-level",
		      "debug", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(kc_loop_new(&g.loop, NULL), 0);
	deadline = kc_monotonic_ns() + 20 * SEC;
	while ((fd = kc_ttrpc_dial(g.uri, SEC, NULL)) < 0) {
		assert_true(kc_monotonic_ns() < deadline);
		usleep(20000);
	}
	assert_int_equal(kc_ttrpc_client_new(g.loop, fd, &g.cli, NULL), 0);
	return 0;
}

static void rm_tree(const char *dir)
{
	cleanup_free char *cmd = kc_xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int teardown(void **state)
{
	(void)state;
	if (g.cli)
		kc_ttrpc_client_free(g.cli);
	if (g.loop)
		kc_loop_free(g.loop);
	if (g.agent > 0) {
		kill(g.agent, SIGKILL);
		waitpid(g.agent, NULL, 0);
	}
	if (g.dir[0])
		rm_tree(g.dir);
	free(g.sock);
	free(g.uri);
	free(g.rootfs);
	return 0;
}

/* ---- tests ---- */

static void test_health(void **state)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	Grpc__HealthCheckResponse *h;
	Grpc__VersionCheckResponse *v;
	struct answer a;

	(void)state;
	assert_int_equal(call("grpc.Health", "Check", &req.base, &a), 0);
	h = grpc__health_check_response__unpack(NULL, a.len, a.payload);
	assert_non_null(h);
	assert_int_equal(h->status, GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	grpc__health_check_response__free_unpacked(h, NULL);
	answer_free(&a);

	assert_int_equal(call("grpc.Health", "Version", &req.base, &a), 0);
	v = grpc__version_check_response__unpack(NULL, a.len, a.payload);
	assert_non_null(v);
	assert_string_equal(v->grpc_version, "0.0.1");
	assert_true(strlen(v->agent_version) > 0);
	grpc__version_check_response__free_unpacked(v, NULL);
	answer_free(&a);
	g.base_fds = count_fds(g.agent);
}

static int run_agent(const char *a1, const char *a2, const char *a3)
{
	int wstatus;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execl(KC_AGENT_BIN, "kata-agent", a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFEXITED(wstatus));
	return WEXITSTATUS(wstatus);
}

/* Bad flags are usage errors; a second agent does not steal the socket
 * of a live one. */
static void test_flags(void **state)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	struct answer a;

	(void)state;
	assert_int_equal(run_agent("--log-level", "loud", "--no-init"), 2);
	assert_int_equal(run_agent("--no-init", "extra", NULL), 2);
	assert_int_equal(run_agent("--bogus", NULL, NULL), 2);
	assert_int_equal(run_agent("--listen", "tcp://x", "--no-init"), 1);
	assert_int_equal(run_agent("--listen", g.uri, "--no-init"), 1);
	assert_int_equal(access(g.sock, F_OK), 0);
	assert_int_equal(call("grpc.Health", "Check", &req.base, &a), 0);
	answer_free(&a);
}

static void test_unimplemented(void **state)
{
	Grpc__MemAgentMemcgConfig req = GRPC__MEM_AGENT_MEMCG_CONFIG__INIT;
	Grpc__SetPolicyRequest gd = GRPC__SET_POLICY_REQUEST__INIT;
	struct answer a;

	(void)state;
	assert_int_equal(call(AGENT, "MemAgentMemcgSet", &req.base, &a), KC_TTRPC_UNIMPLEMENTED);
	assert_non_null(strstr(a.message, "MemAgentMemcgSet"));
	answer_free(&a);
	assert_int_equal(call(AGENT, "SetPolicy", &gd.base, &a), KC_TTRPC_UNIMPLEMENTED);
	answer_free(&a);
	assert_int_equal(call(AGENT, "NoSuchMethod", &gd.base, &a), KC_TTRPC_UNIMPLEMENTED);
	answer_free(&a);
}

static void test_sandbox(void **state)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	cleanup_free char *json = spec_json("[\"echo\"]", NULL);
	struct answer a;

	(void)state;
	assert_int_equal(create_container_raw("early", json, &a), KC_TTRPC_FAILED_PRECONDITION);
	answer_free(&a);
	req.sandbox_id = (char *)"sb1";
	req.hostname = (char *)"not-set-without-init";
	assert_int_equal(call_agent("CreateSandbox", &req.base), 0);
	assert_int_equal(call_agent("CreateSandbox", &req.base), KC_TTRPC_ALREADY_EXISTS);
}

static void test_bad_spec(void **state)
{
	struct answer a;
	cleanup_free char *no_args = kc_xasprintf("{\"process\":{\"cwd\":\"/\"},"
						  "\"root\":{\"path\":\"%s\"}}",
						  g.rootfs);
	cleanup_free char *bad_arg = spec_json("[\"echo\", 3]", NULL);
	cleanup_free char *rel_cwd = spec_json("[\"echo\"]", ",\"cwd\":\"tmp\"");

	(void)state;
	assert_int_equal(create_container_raw("bad", "{\"process\": [", &a),
			 KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "oci spec"));
	answer_free(&a);
	assert_int_equal(create_container_raw("bad", no_args, &a), KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "process.args"));
	answer_free(&a);
	assert_int_equal(create_container_raw("bad", bad_arg, &a), KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "process.args[1]"));
	answer_free(&a);
	assert_int_equal(create_container_raw("bad", rel_cwd, &a), KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "process.cwd"));
	answer_free(&a);
	assert_int_equal(create_container_raw("bad", "{\"process\":{\"args\":[\"x\"]},"
						     "\"root\":{\"path\":\"/nonexistent-kc\"}}",
					      &a),
			 KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "root.path"));
	answer_free(&a);
}

static void test_echo(void **state)
{
	cleanup_free char *out = NULL;
	int status = -1;

	(void)state;
	run_container("c-echo", "[\"echo\",\"hello\"]", NULL);
	out = read_all("c-echo", "ReadStdout");
	assert_string_equal(out, "hello\n");
	assert_int_equal(wait_process("c-echo", "", &status, NULL), 0);
	assert_int_equal(status, 0);
	/* Asked again, the same status. */
	assert_int_equal(wait_process("c-echo", "c-echo", &status, NULL), 0);
	assert_int_equal(status, 0);
	remove_container("c-echo");
}

static void test_env_cwd_stderr_exit(void **state)
{
	cleanup_free char *out = NULL, *errout = NULL;
	int status = -1;

	(void)state;
	run_container("c-env", "[\"sh\",\"-c\",\"echo $FOO; pwd; echo oops >&2; exit 3\"]",
		      ",\"cwd\":\"/tmp\"");
	out = read_all("c-env", "ReadStdout");
	errout = read_all("c-env", "ReadStderr");
	/* The container's /tmp (the agent runs containers as root only). */
	if (geteuid() == 0)
		assert_string_equal(out, "bar\n/tmp\n");
	else
		assert_non_null(strstr(out, "/rootfs/tmp\n"));
	assert_int_equal(strncmp(out, "bar\n", 4), 0);
	assert_string_equal(errout, "oops\n");
	assert_int_equal(wait_process("c-env", "", &status, NULL), 0);
	assert_int_equal(status, 3);
	remove_container("c-env");
}

/* As root the process gets its own namespaces and pivot_root()s into the
 * rootfs: it is PID 1 and sees only the rootfs.  Otherwise it runs plainly
 * (see src/agent/process.c). */
static void test_isolation(void **state)
{
	cleanup_free char *out = NULL;
	int status = -1;

	(void)state;
	if (geteuid() != 0)
		skip();
	run_container("c-ns", "[\"sh\",\"-c\",\"echo $$; echo /*\"]", NULL);
	out = read_all("c-ns", "ReadStdout");
	assert_string_equal(out, "1\n/bin /dev /tmp\n");
	assert_int_equal(wait_process("c-ns", "", &status, NULL), 0);
	assert_int_equal(status, 0);
	remove_container("c-ns");
}

static void test_stdin(void **state)
{
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	Grpc__CloseStdinRequest c = GRPC__CLOSE_STDIN_REQUEST__INIT;
	Grpc__WriteStreamResponse *wr;
	cleanup_free char *out = NULL;
	struct answer a;
	int status = -1;

	(void)state;
	run_container("c-cat", "[\"cat\"]", NULL);
	w.container_id = (char *)"c-cat";
	w.data.data = (uint8_t *)"abc";
	w.data.len = 3;
	assert_int_equal(call(AGENT, "WriteStdin", &w.base, &a), 0);
	wr = grpc__write_stream_response__unpack(NULL, a.len, a.payload);
	assert_non_null(wr);
	assert_int_equal(wr->len, 3);
	grpc__write_stream_response__free_unpacked(wr, NULL);
	answer_free(&a);
	c.container_id = (char *)"c-cat";
	assert_int_equal(call_agent("CloseStdin", &c.base), 0);
	out = read_all("c-cat", "ReadStdout");
	assert_string_equal(out, "abc");
	assert_int_equal(wait_process("c-cat", "", &status, NULL), 0);
	assert_int_equal(status, 0);
	remove_container("c-cat");
}

/* A held WaitProcess does not stop other calls; SIGKILL gives 137. */
static void test_kill(void **state)
{
	Grpc__WaitProcessRequest wreq = GRPC__WAIT_PROCESS_REQUEST__INIT;
	Grpc__SignalProcessRequest sreq = GRPC__SIGNAL_PROCESS_REQUEST__INIT;
	Grpc__CheckRequest creq = GRPC__CHECK_REQUEST__INIT;
	Grpc__WaitProcessResponse *r;
	struct answer wait, check, rd;
	Grpc__ReadStreamRequest rreq = GRPC__READ_STREAM_REQUEST__INIT;

	(void)state;
	run_container("c-sleep", "[\"sleep\",\"1000\"]", NULL);
	wreq.container_id = (char *)"c-sleep";
	start_call(AGENT, "WaitProcess", &wreq.base, &wait);
	rreq.container_id = (char *)"c-sleep";
	rreq.len = 10;
	start_call(AGENT, "ReadStdout", &rreq.base, &rd);
	assert_int_equal(call("grpc.Health", "Check", &creq.base, &check), 0);
	answer_free(&check);
	assert_false(wait.done);
	assert_false(rd.done);
	sreq.container_id = (char *)"c-sleep";
	sreq.signal = SIGKILL;
	assert_int_equal(call_agent("SignalProcess", &sreq.base), 0);
	wait_answer(&wait);
	assert_int_equal(wait.code, 0);
	r = grpc__wait_process_response__unpack(NULL, wait.len, wait.payload);
	assert_non_null(r);
	assert_int_equal(r->status, 137);
	grpc__wait_process_response__free_unpacked(r, NULL);
	answer_free(&wait);
	wait_answer(&rd);
	assert_int_equal(rd.code, 0);
	answer_free(&rd);
	/* Signalling a dead process is an error, not a silent success. */
	assert_int_equal(call_agent("SignalProcess", &sreq.base), KC_TTRPC_NOT_FOUND);
	remove_container("c-sleep");
}

static void test_not_found(void **state)
{
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	cleanup_free char *msg = NULL, *msg2 = NULL;
	int status;

	(void)state;
	run_container("c-nf", "[\"echo\"]", NULL);
	assert_int_equal(wait_process("c-nf", "no-such-exec", &status, &msg), KC_TTRPC_NOT_FOUND);
	assert_non_null(strstr(msg, "no-such-exec"));
	assert_int_equal(wait_process("no-such-container", "", &status, &msg2),
			 KC_TTRPC_NOT_FOUND);
	assert_non_null(strstr(msg2, "no-such-container"));
	start.container_id = (char *)"c-nf";
	assert_int_equal(call_agent("StartContainer", &start.base), KC_TTRPC_FAILED_PRECONDITION);
	assert_int_equal(wait_process("c-nf", "", &status, NULL), 0);
	remove_container("c-nf");
	assert_int_equal(wait_process("c-nf", "", &status, NULL), KC_TTRPC_NOT_FOUND);
}

static void test_missing_program(void **state)
{
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	cleanup_free char *json = spec_json("[\"no-such-program\"]", NULL);
	struct answer a;
	int status = -1;

	(void)state;
	assert_int_equal(create_container_raw("c-missing", json, &a), 0);
	answer_free(&a);
	start.container_id = (char *)"c-missing";
	assert_int_not_equal(call(AGENT, "StartContainer", &start.base, &a), 0);
	assert_non_null(strstr(a.message, "no-such-program"));
	answer_free(&a);
	assert_int_equal(wait_process("c-missing", "", &status, NULL), 0);
	assert_int_equal(status, 127);
	remove_container("c-missing");

	/* Found but not executable: exec itself fails in the child, which
	 * says why before it exits 127. */
	{
		cleanup_free char *dir = spec_json("[\"/tmp\"]", NULL);

		assert_int_equal(create_container_raw("c-noexec", dir, &a), 0);
		answer_free(&a);
	}
	start.container_id = (char *)"c-noexec";
	assert_int_not_equal(call(AGENT, "StartContainer", &start.base, &a), 0);
	assert_non_null(strstr(a.message, "exec `/tmp`"));
	answer_free(&a);
	assert_int_equal(wait_process("c-noexec", "", &status, NULL), 0);
	assert_int_equal(status, 127);
	remove_container("c-noexec");
}

/* RemoveContainer kills a running process and answers once it is gone. */
static void test_remove_running(void **state)
{
	(void)state;
	run_container("c-rm", "[\"sleep\",\"986\"]", NULL);
	assert_true(process_running("sleep", "986"));
	remove_container("c-rm");
	assert_false(process_running("sleep", "986"));
	assert_int_equal(count_fds(g.agent), g.base_fds);
}

static void test_destroy_sandbox(void **state)
{
	Grpc__DestroySandboxRequest d = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	Grpc__CreateSandboxRequest c = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	int status;

	(void)state;
	run_container("c-ds", "[\"sleep\",\"985\"]", NULL);
	assert_int_equal(call_agent("DestroySandbox", &d.base), 0);
	assert_int_equal(wait_process("c-ds", "", &status, NULL), KC_TTRPC_NOT_FOUND);
	assert_false(process_running("sleep", "985"));
	assert_int_equal(count_fds(g.agent), g.base_fds);
	c.sandbox_id = (char *)"sb2";
	assert_int_equal(call_agent("CreateSandbox", &c.base), 0);
}

/* SIGTERM with a container running: the agent kills it, removes its
 * socket and exits 0 (under ASan: without leaks). */
static void test_sigterm(void **state)
{
	int wstatus;

	(void)state;
	run_container("c-last", "[\"sleep\",\"987\"]", NULL);
	assert_true(process_running("sleep", "987"));
	assert_int_equal(kill(g.agent, SIGTERM), 0);
	assert_int_equal(waitpid(g.agent, &wstatus, 0), g.agent);
	g.agent = 0;
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
	assert_int_equal(access(g.sock, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_false(process_running("sleep", "987"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_unimplemented),
		cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_bad_spec),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_env_cwd_stderr_exit),
		cmocka_unit_test(test_isolation),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_kill),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_remove_running),
		cmocka_unit_test(test_destroy_sandbox),
		cmocka_unit_test(test_sigterm),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
