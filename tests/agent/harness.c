/* SPDX-License-Identifier: Apache-2.0 */
/* The agent tests' common part (harness.h). */
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "lib/util.h"

#define BUSYBOX "/bin/busybox"

struct h_state h;

char *h_spec(const char *args, const char *proc, const char *lnx, const char *top)
{
	const char *ns = "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
			 "{\"type\":\"ipc\"},{\"type\":\"uts\"}]";

	/* lnx with its own namespaces replaces the list (and has no comma). */
	if (lnx && strstr(lnx, "\"namespaces\"")) {
		ns = lnx;
		lnx = NULL;
	}
	return kc_xasprintf("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":%s,"
			    "\"env\":[\"PATH=/bin\",\"FOO=bar\"],\"cwd\":\"/\"%s},"
			    "\"root\":{\"path\":\"%s\"},\"linux\":{%s%s}%s}",
			    args, proc ? proc : "", h.rootfs, ns, lnx ? lnx : "", top ? top : "");
}

int h_create(const char *id, const char *spec, char **msg)
{
	struct ah_answer a;
	int code = ah_create_container(H, id, spec, &a);

	if (msg)
		*msg = code ? kc_steal_ptr(&a.message) : NULL;
	else if (code)
		print_message("# CreateContainer %s: %s\n", id, a.message);
	ah_answer_free(&a);
	return code;
}

int h_start(const char *id, char **msg)
{
	Grpc__StartContainerRequest req = GRPC__START_CONTAINER_REQUEST__INIT;
	struct ah_answer a;
	int code;

	req.container_id = (char *)id;
	code = ah_call(H, "StartContainer", &req.base, &a);
	if (msg)
		*msg = code ? kc_steal_ptr(&a.message) : NULL;
	else if (code)
		print_message("# StartContainer %s: %s\n", id, a.message);
	ah_answer_free(&a);
	return code;
}

void h_run(const char *id, const char *spec)
{
	assert_int_equal(h_create(id, spec, NULL), 0);
	assert_int_equal(h_start(id, NULL), 0);
}

int h_exec(const char *id, const char *exec_id, const char *process_json, char **msg)
{
	Grpc__ExecProcessRequest req = GRPC__EXEC_PROCESS_REQUEST__INIT;
	struct ah_answer a;
	int code;

	req.container_id = (char *)id;
	req.exec_id = (char *)exec_id;
	req.process_json.data = (uint8_t *)process_json;
	req.process_json.len = strlen(process_json);
	code = ah_call(H, "ExecProcess", &req.base, &a);
	if (msg)
		*msg = code ? kc_steal_ptr(&a.message) : NULL;
	else if (code)
		print_message("# ExecProcess %s/%s: %s\n", id, exec_id, a.message);
	ah_answer_free(&a);
	return code;
}

int h_wait_status(const char *id, const char *exec_id)
{
	int status;

	assert_int_equal(ah_wait_process(H, id, exec_id, &status, NULL), 0);
	return status;
}

char *h_read_all(const char *id, const char *exec_id, bool is_err, size_t *lenp)
{
	return ah_read_stream(H, is_err ? "ReadStderr" : "ReadStdout", id, exec_id, 1 << 20, lenp);
}

void h_write_stdin(const char *id, const char *exec_id, const void *data, size_t len)
{
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	size_t off = 0;

	w.container_id = (char *)id;
	w.exec_id = (char *)exec_id;
	while (off < len) {
		struct ah_answer a;
		Grpc__WriteStreamResponse *r;

		w.data.data = (uint8_t *)data + off;
		w.data.len = len - off;
		assert_int_equal(ah_call(H, "WriteStdin", &w.base, &a), 0);
		r = grpc__write_stream_response__unpack(NULL, a.len, a.payload);
		assert_non_null(r);
		off += r->len;
		grpc__write_stream_response__free_unpacked(r, NULL);
		ah_answer_free(&a);
	}
}

void h_close_stdin(const char *id, const char *exec_id)
{
	Grpc__CloseStdinRequest c = GRPC__CLOSE_STDIN_REQUEST__INIT;

	c.container_id = (char *)id;
	c.exec_id = (char *)exec_id;
	assert_int_equal(ah_call0(H, "CloseStdin", &c.base), 0);
}

int h_signal(const char *id, const char *exec_id, int sig)
{
	Grpc__SignalProcessRequest s = GRPC__SIGNAL_PROCESS_REQUEST__INIT;

	s.container_id = (char *)id;
	s.exec_id = (char *)exec_id;
	s.signal = (uint32_t)sig;
	return ah_call0(H, "SignalProcess", &s.base);
}

int h_remove(const char *id, uint32_t timeout)
{
	Grpc__RemoveContainerRequest req = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	req.timeout = timeout;
	return ah_call0(H, "RemoveContainer", &req.base);
}

char *h_run_output(const char *id, const char *spec, int *status)
{
	char *out;

	h_run(id, spec);
	out = h_read_all(id, "", false, NULL);
	*status = h_wait_status(id, "");
	assert_int_equal(h_remove(id, 0), 0);
	return out;
}

/* ---- leftovers ---- */

void h_check_clean(void)
{
	pid_t pid = h.agent.pid;

	ah_check_health(H);
	if (ah_count_fds(pid) != h.base_fds) {
		cleanup_free char *cmd = kc_xasprintf("ls -l /proc/%d/fd >&2", (int)pid);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot list the agent's fds\n");
	}
	assert_int_equal(ah_count_fds(pid), h.base_fds);
	/* Mounts under the test's directory: other mounts of this namespace
	 * come and go with whatever else runs on the machine. */
	assert_int_equal(ah_count_mounts(h.agent.dir), h.base_mounts);
}

/* ---- files ---- */

char *h_path(const char *rel)
{
	return kc_xasprintf("%s/%s", h.agent.dir, rel);
}

void h_filter_from_env(void)
{
	if (getenv("KC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("KC_TEST_FILTER"));
}

int h_setup(void **state)
{
	const char *applets[] = { "echo", "sh", "sleep", "cat", "pwd", "true",
				  "ls",	  "id", "stty",	 "tty", "test" };
	const char *dirs[] = { "bin", "tmp", "etc", "proc", "sys", "dev" };
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	struct ah_agent_opts o = { .log_file = true };
	cleanup_free char *sbid = NULL;

	(void)state;
	if (access(BUSYBOX, X_OK) < 0) {
		fprintf(stderr, "%s missing: apt-get install busybox-static\n", BUSYBOX);
		return -1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "the container tests need root\n");
		return -1;
	}
	strcpy(h.agent.dir, "/tmp/kc-container-test-XXXXXX");
	assert_non_null(mkdtemp(h.agent.dir));
	/* Reachable from a user namespace's root (another host uid). */
	assert_int_equal(chmod(h.agent.dir, 0755), 0);
	h.rootfs = kc_xasprintf("%s/rootfs", h.agent.dir);
	assert_int_equal(mkdir(h.rootfs, 0755), 0);
	for (size_t i = 0; i < KC_ARRAY_SIZE(dirs); i++) {
		cleanup_free char *d = kc_xasprintf("%s/%s", h.rootfs, dirs[i]);

		assert_int_equal(mkdir(d, 0755), 0);
	}
	{
		cleanup_free char *bb = kc_xasprintf("%s/bin/busybox", h.rootfs);
		cleanup_free char *ti = kc_xasprintf("%s/bin/kc-test-init", h.rootfs);

		ah_copy_file(BUSYBOX, bb);
		ah_copy_file(KC_TEST_INIT, ti);
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(applets); i++) {
		cleanup_free char *link = kc_xasprintf("%s/bin/%s", h.rootfs, applets[i]);

		assert_int_equal(symlink("busybox", link), 0);
	}
	/* A test that crashes takes its agent (and so the containers) with
	 * it: ah_spawn() sets PR_SET_PDEATHSIG. */
	ah_agent_start(&h.agent, &o);
	sbid = kc_xasprintf("sb-container-%d", (int)getpid());
	sb.sandbox_id = sbid;
	assert_int_equal(ah_call0(H, "CreateSandbox", &sb.base), 0);
	h.base_fds = ah_count_fds(h.agent.pid);
	h.base_mounts = ah_count_mounts(h.agent.dir);
	return 0;
}

int h_teardown(void **state)
{
	int wstatus = ah_agent_kill(&h.agent);

	(void)state;
	if (wstatus != -1 && (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)) {
		fprintf(stderr, "# the agent ended with status %d; its log is in %s\n", wstatus,
			h.agent.dir);
		return -1;
	}
	ah_agent_free(&h.agent);
	free(h.rootfs);
	return 0;
}
