/* SPDX-License-Identifier: Apache-2.0 */
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

#define BUSYBOX "/bin/busybox"

static struct {
	struct ah_agent agent;
	char *rootfs;
	int base_fds;
} g;

/* The connection to the agent. */
#define C (&g.agent.conn)

/* ---- the container helpers ---- */

static char *spec_json(const char *args_json, const char *extra)
{
	return kc_xasprintf("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":%s,"
			    "\"env\":[\"PATH=/bin\",\"FOO=bar\"]%s},\"root\":{\"path\":\"%s\"},"
			    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
			    "{\"type\":\"ipc\"},{\"type\":\"uts\"}]}}",
			    args_json, extra ? extra : "", g.rootfs);
}

static void run_container(const char *id, const char *args_json, const char *extra)
{
	cleanup_free char *json = spec_json(args_json, extra);
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	struct ah_answer a;

	assert_int_equal(ah_create_container(C, id, json, &a), 0);
	ah_answer_free(&a);
	start.container_id = (char *)id;
	assert_int_equal(ah_call0(C, "StartContainer", &start.base), 0);
}

static void remove_container(const char *id)
{
	Grpc__RemoveContainerRequest req = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	assert_int_equal(ah_call0(C, "RemoveContainer", &req.base), 0);
}

/* ---- setup ---- */

static int setup(void **state)
{
	const char *applets[] = { "echo", "sh", "sleep", "cat", "pwd" };
	cleanup_free char *bin = NULL, *tmp = NULL;

	(void)state;
	if (access(BUSYBOX, X_OK) < 0) {
		fprintf(stderr, "%s missing: apt-get install busybox-static\n", BUSYBOX);
		return -1;
	}
	strcpy(g.agent.dir, "/tmp/kc-agent-test-XXXXXX");
	assert_non_null(mkdtemp(g.agent.dir));
	g.rootfs = kc_xasprintf("%s/rootfs", g.agent.dir);
	bin = kc_xasprintf("%s/bin", g.rootfs);
	tmp = kc_xasprintf("%s/tmp", g.rootfs);
	assert_int_equal(mkdir(g.rootfs, 0755), 0);
	assert_int_equal(mkdir(bin, 0755), 0);
	assert_int_equal(mkdir(tmp, 0755), 0);
	{
		cleanup_free char *bb = kc_xasprintf("%s/busybox", bin);

		ah_copy_file(BUSYBOX, bb);
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(applets); i++) {
		cleanup_free char *link = kc_xasprintf("%s/%s", bin, applets[i]);

		assert_int_equal(symlink("busybox", link), 0);
	}

	ah_agent_start(&g.agent, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	/* test_sigterm stopped it, unless a test failed first. */
	if (g.agent.pid > 0)
		kill(g.agent.pid, SIGKILL);
	ah_agent_kill(&g.agent);
	ah_agent_free(&g.agent);
	free(g.rootfs);
	return 0;
}

/* ---- tests ---- */

static void test_health(void **state)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	Grpc__HealthCheckResponse *h;
	Grpc__VersionCheckResponse *v;
	struct ah_answer a;

	(void)state;
	assert_int_equal(ah_call(C, "Health.Check", &req.base, &a), 0);
	h = grpc__health_check_response__unpack(NULL, a.len, a.payload);
	assert_non_null(h);
	assert_int_equal(h->status, GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	grpc__health_check_response__free_unpacked(h, NULL);
	ah_answer_free(&a);

	assert_int_equal(ah_call(C, "Health.Version", &req.base, &a), 0);
	v = grpc__version_check_response__unpack(NULL, a.len, a.payload);
	assert_non_null(v);
	assert_string_equal(v->grpc_version, "0.0.1");
	assert_true(strlen(v->agent_version) > 0);
	grpc__version_check_response__free_unpacked(v, NULL);
	ah_answer_free(&a);
	g.base_fds = ah_count_fds(g.agent.pid);
}

static int run_agent(const char *a1, const char *a2, const char *a3)
{
	const char *argv[] = { KC_AGENT_BIN, a1, a2, a3, NULL };
	int wstatus;
	pid_t pid = ah_spawn(argv, "/dev/null", 0);

	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFEXITED(wstatus));
	return WEXITSTATUS(wstatus);
}

/* Bad flags are usage errors; a second agent does not steal the socket
 * of a live one. */
static void test_flags(void **state)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	struct ah_answer a;

	(void)state;
	assert_int_equal(run_agent("--log-level", "loud", "--no-init"), 2);
	assert_int_equal(run_agent("--no-init", "extra", NULL), 2);
	assert_int_equal(run_agent("--bogus", NULL, NULL), 2);
	assert_int_equal(run_agent("--listen", "tcp://x", "--no-init"), 1);
	assert_int_equal(run_agent("--listen", g.agent.uri, "--no-init"), 1);
	assert_int_equal(access(g.agent.sock, F_OK), 0);
	assert_int_equal(ah_call(C, "Health.Check", &req.base, &a), 0);
	ah_answer_free(&a);
}

static void test_unimplemented(void **state)
{
	Grpc__MemAgentMemcgConfig req = GRPC__MEM_AGENT_MEMCG_CONFIG__INIT;
	Grpc__SetPolicyRequest gd = GRPC__SET_POLICY_REQUEST__INIT;
	struct ah_answer a;

	(void)state;
	assert_int_equal(ah_call(C, "MemAgentMemcgSet", &req.base, &a), KC_TTRPC_UNIMPLEMENTED);
	assert_non_null(strstr(a.message, "MemAgentMemcgSet"));
	ah_answer_free(&a);
	assert_int_equal(ah_call(C, "SetPolicy", &gd.base, &a), KC_TTRPC_UNIMPLEMENTED);
	ah_answer_free(&a);
	assert_int_equal(ah_call(C, "NoSuchMethod", &gd.base, &a), KC_TTRPC_UNIMPLEMENTED);
	ah_answer_free(&a);
}

static void test_sandbox(void **state)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	cleanup_free char *json = spec_json("[\"echo\"]", NULL);
	struct ah_answer a;

	(void)state;
	assert_int_equal(ah_create_container(C, "early", json, &a), KC_TTRPC_FAILED_PRECONDITION);
	ah_answer_free(&a);
	req.sandbox_id = (char *)"sb1";
	req.hostname = (char *)"not-set-without-init";
	/* DNS lines: checked, and refused without init (the host's resolver
	 * is not the agent's to change); neither creates the sandbox. */
	{
		char *bad[] = { (char *)"nameserver 10.0.0.1",
				(char *)"search a\nnameserver 6.6.6.6" };
		char *good[] = { (char *)"nameserver 10.0.0.1" };

		req.n_dns = 2;
		req.dns = bad;
		assert_int_equal(ah_call(C, "CreateSandbox", &req.base, &a),
				 KC_TTRPC_INVALID_ARGUMENT);
		assert_non_null(strstr(a.message, "dns[1]: control character 0x0a at byte 8"));
		ah_answer_free(&a);
		req.n_dns = 1;
		req.dns = good;
		assert_int_equal(ah_call(C, "CreateSandbox", &req.base, &a),
				 KC_TTRPC_FAILED_PRECONDITION);
		assert_non_null(strstr(a.message, "/etc/resolv.conf"));
		ah_answer_free(&a);
		req.n_dns = 0;
		req.dns = NULL;
	}
	assert_int_equal(ah_call0(C, "CreateSandbox", &req.base), 0);
	assert_int_equal(ah_call0(C, "CreateSandbox", &req.base), KC_TTRPC_ALREADY_EXISTS);
}

static void test_bad_spec(void **state)
{
	struct ah_answer a;
	cleanup_free char *no_args = kc_xasprintf("{\"process\":{\"cwd\":\"/\"},"
						  "\"root\":{\"path\":\"%s\"}}",
						  g.rootfs);
	cleanup_free char *bad_arg = spec_json("[\"echo\", 3]", NULL);
	cleanup_free char *rel_cwd = spec_json("[\"echo\"]", ",\"cwd\":\"tmp\"");

	(void)state;
	assert_int_equal(ah_create_container(C, "bad", "{\"process\": [", &a),
			 KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "oci spec"));
	ah_answer_free(&a);
	assert_int_equal(ah_create_container(C, "bad", no_args, &a), KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "process.args"));
	ah_answer_free(&a);
	assert_int_equal(ah_create_container(C, "bad", bad_arg, &a), KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "process.args[1]"));
	ah_answer_free(&a);
	assert_int_equal(ah_create_container(C, "bad", rel_cwd, &a), KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "process.cwd"));
	ah_answer_free(&a);
	assert_int_equal(ah_create_container(C, "bad",
					     "{\"process\":{\"args\":[\"x\"]},"
					     "\"root\":{\"path\":\"/nonexistent-kc\"}}",
					     &a),
			 KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(a.message, "root.path"));
	ah_answer_free(&a);
}

static void test_echo(void **state)
{
	cleanup_free char *out = NULL;
	int status = -1;

	(void)state;
	run_container("c-echo", "[\"echo\",\"hello\"]", NULL);
	out = ah_read_stream(C, "ReadStdout", "c-echo", NULL, 4096, NULL);
	assert_string_equal(out, "hello\n");
	assert_int_equal(ah_wait_process(C, "c-echo", "", &status, NULL), 0);
	assert_int_equal(status, 0);
	/* Asked again, the same status. */
	assert_int_equal(ah_wait_process(C, "c-echo", "c-echo", &status, NULL), 0);
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
	out = ah_read_stream(C, "ReadStdout", "c-env", NULL, 4096, NULL);
	errout = ah_read_stream(C, "ReadStderr", "c-env", NULL, 4096, NULL);
	/* The container's /tmp (the agent runs containers as root only). */
	if (geteuid() == 0)
		assert_string_equal(out, "bar\n/tmp\n");
	else
		assert_non_null(strstr(out, "/rootfs/tmp\n"));
	assert_int_equal(strncmp(out, "bar\n", 4), 0);
	assert_string_equal(errout, "oops\n");
	assert_int_equal(ah_wait_process(C, "c-env", "", &status, NULL), 0);
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
	out = ah_read_stream(C, "ReadStdout", "c-ns", NULL, 4096, NULL);
	assert_string_equal(out, "1\n/bin /dev /tmp\n");
	assert_int_equal(ah_wait_process(C, "c-ns", "", &status, NULL), 0);
	assert_int_equal(status, 0);
	remove_container("c-ns");
}

static void test_stdin(void **state)
{
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	Grpc__CloseStdinRequest c = GRPC__CLOSE_STDIN_REQUEST__INIT;
	Grpc__WriteStreamResponse *wr;
	cleanup_free char *out = NULL;
	struct ah_answer a;
	int status = -1;

	(void)state;
	run_container("c-cat", "[\"cat\"]", NULL);
	w.container_id = (char *)"c-cat";
	w.data.data = (uint8_t *)"abc";
	w.data.len = 3;
	assert_int_equal(ah_call(C, "WriteStdin", &w.base, &a), 0);
	wr = grpc__write_stream_response__unpack(NULL, a.len, a.payload);
	assert_non_null(wr);
	assert_int_equal(wr->len, 3);
	grpc__write_stream_response__free_unpacked(wr, NULL);
	ah_answer_free(&a);
	c.container_id = (char *)"c-cat";
	assert_int_equal(ah_call0(C, "CloseStdin", &c.base), 0);
	out = ah_read_stream(C, "ReadStdout", "c-cat", NULL, 4096, NULL);
	assert_string_equal(out, "abc");
	assert_int_equal(ah_wait_process(C, "c-cat", "", &status, NULL), 0);
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
	struct ah_answer wait, check, rd;
	Grpc__ReadStreamRequest rreq = GRPC__READ_STREAM_REQUEST__INIT;

	(void)state;
	run_container("c-sleep", "[\"sleep\",\"1000\"]", NULL);
	wreq.container_id = (char *)"c-sleep";
	ah_start_call(C, "WaitProcess", &wreq.base, &wait);
	rreq.container_id = (char *)"c-sleep";
	rreq.len = 10;
	ah_start_call(C, "ReadStdout", &rreq.base, &rd);
	assert_int_equal(ah_call(C, "Health.Check", &creq.base, &check), 0);
	ah_answer_free(&check);
	assert_false(wait.done);
	assert_false(rd.done);
	sreq.container_id = (char *)"c-sleep";
	sreq.signal = SIGKILL;
	assert_int_equal(ah_call0(C, "SignalProcess", &sreq.base), 0);
	ah_wait(C, &wait);
	assert_int_equal(wait.code, 0);
	r = grpc__wait_process_response__unpack(NULL, wait.len, wait.payload);
	assert_non_null(r);
	assert_int_equal(r->status, 137);
	grpc__wait_process_response__free_unpacked(r, NULL);
	ah_answer_free(&wait);
	ah_wait(C, &rd);
	assert_int_equal(rd.code, 0);
	ah_answer_free(&rd);
	/* Signalling a dead process is an error, not a silent success. */
	assert_int_equal(ah_call0(C, "SignalProcess", &sreq.base), KC_TTRPC_NOT_FOUND);
	remove_container("c-sleep");
}

static void test_not_found(void **state)
{
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	cleanup_free char *msg = NULL, *msg2 = NULL;
	int status;

	(void)state;
	run_container("c-nf", "[\"echo\"]", NULL);
	assert_int_equal(ah_wait_process(C, "c-nf", "no-such-exec", &status, &msg),
			 KC_TTRPC_NOT_FOUND);
	assert_non_null(strstr(msg, "no-such-exec"));
	assert_int_equal(ah_wait_process(C, "no-such-container", "", &status, &msg2),
			 KC_TTRPC_NOT_FOUND);
	assert_non_null(strstr(msg2, "no-such-container"));
	start.container_id = (char *)"c-nf";
	assert_int_equal(ah_call0(C, "StartContainer", &start.base), KC_TTRPC_FAILED_PRECONDITION);
	assert_int_equal(ah_wait_process(C, "c-nf", "", &status, NULL), 0);
	remove_container("c-nf");
	assert_int_equal(ah_wait_process(C, "c-nf", "", &status, NULL), KC_TTRPC_NOT_FOUND);
}

static void test_missing_program(void **state)
{
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	cleanup_free char *json = spec_json("[\"no-such-program\"]", NULL);
	struct ah_answer a;
	int status = -1;

	(void)state;
	assert_int_equal(ah_create_container(C, "c-missing", json, &a), 0);
	ah_answer_free(&a);
	start.container_id = (char *)"c-missing";
	assert_int_not_equal(ah_call(C, "StartContainer", &start.base, &a), 0);
	assert_non_null(strstr(a.message, "no-such-program"));
	ah_answer_free(&a);
	assert_int_equal(ah_wait_process(C, "c-missing", "", &status, NULL), 0);
	assert_int_equal(status, 127);
	remove_container("c-missing");

	/* Found but not executable: exec itself fails in the child, which
	 * says why before it exits 127. */
	{
		cleanup_free char *dir = spec_json("[\"/tmp\"]", NULL);

		assert_int_equal(ah_create_container(C, "c-noexec", dir, &a), 0);
		ah_answer_free(&a);
	}
	start.container_id = (char *)"c-noexec";
	assert_int_not_equal(ah_call(C, "StartContainer", &start.base, &a), 0);
	assert_non_null(strstr(a.message, "exec `/tmp`"));
	ah_answer_free(&a);
	assert_int_equal(ah_wait_process(C, "c-noexec", "", &status, NULL), 0);
	assert_int_equal(status, 127);
	remove_container("c-noexec");
}

/* RemoveContainer kills a running process and answers once it is gone. */
static void test_remove_running(void **state)
{
	(void)state;
	run_container("c-rm", "[\"sleep\",\"986\"]", NULL);
	assert_true(ah_process_running("sleep", "986"));
	remove_container("c-rm");
	assert_false(ah_process_running("sleep", "986"));
	assert_int_equal(ah_count_fds(g.agent.pid), g.base_fds);
}

static void test_destroy_sandbox(void **state)
{
	Grpc__DestroySandboxRequest d = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	Grpc__CreateSandboxRequest c = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	int status;

	(void)state;
	run_container("c-ds", "[\"sleep\",\"985\"]", NULL);
	assert_int_equal(ah_call0(C, "DestroySandbox", &d.base), 0);
	assert_int_equal(ah_wait_process(C, "c-ds", "", &status, NULL), KC_TTRPC_NOT_FOUND);
	assert_false(ah_process_running("sleep", "985"));
	assert_int_equal(ah_count_fds(g.agent.pid), g.base_fds);
	c.sandbox_id = (char *)"sb2";
	assert_int_equal(ah_call0(C, "CreateSandbox", &c.base), 0);
}

/* SIGTERM with a container running: the agent kills it, removes its
 * socket and exits 0 (under ASan: without leaks). */
static void test_sigterm(void **state)
{
	int wstatus;

	(void)state;
	run_container("c-last", "[\"sleep\",\"987\"]", NULL);
	assert_true(ah_process_running("sleep", "987"));
	assert_int_equal(kill(g.agent.pid, SIGTERM), 0);
	assert_int_equal(waitpid(g.agent.pid, &wstatus, 0), g.agent.pid);
	g.agent.pid = 0;
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
	assert_int_equal(access(g.agent.sock, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_false(ah_process_running("sleep", "987"));
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
