// SPDX-License-Identifier: Apache-2.0
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
#include "health.pb-c.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/transport.h"

#define BUSYBOX "/bin/busybox"
#define SEC 1000000000ull

struct h_state h;
static struct kc_loop *loop;
static struct kc_ttrpc_client *cli;

void h_answer_free(struct h_answer *a)
{
	free(a->message);
	free(a->payload);
	memset(a, 0, sizeof(*a));
}

static void on_reply(const struct kc_ttrpc_reply *r, void *data)
{
	struct h_answer *a = data;

	a->done = true;
	a->code = r->code;
	a->message = kc_xstrndup(r->message ? r->message : "", r->message_len);
	a->payload = kc_xmalloc(r->len + 1);
	if (r->len)
		memcpy(a->payload, r->payload, r->len);
	a->len = r->len;
}

static void start_svc_call(const char *svc, const char *method, const ProtobufCMessage *req,
			   struct h_answer *a)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(
		kc_ttrpc_client_call_msg(cli, svc, method, req, NULL, on_reply, a, NULL, NULL), 0);
}

void h_start_call(const char *method, const ProtobufCMessage *req, struct h_answer *a)
{
	start_svc_call(H_AGENT, method, req, a);
}

void h_wait(struct h_answer *a)
{
	/* Not a timing assertion: a hang guard far above any real wait. */
	uint64_t deadline = kc_monotonic_ns() + 120 * SEC;

	while (!a->done) {
		assert_true(kc_loop_run_once(loop, 50 * 1000000, NULL) >= 0);
		assert_true(kc_monotonic_ns() < deadline);
	}
}

int h_call(const char *method, const ProtobufCMessage *req, struct h_answer *a)
{
	h_start_call(method, req, a);
	h_wait(a);
	return a->code;
}

int h_call0(const char *method, const ProtobufCMessage *req)
{
	struct h_answer a;
	int code = h_call(method, req, &a);

	if (code != 0)
		print_message("# %s: %s\n", method, a.message);
	h_answer_free(&a);
	return code;
}

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
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	struct h_answer a;
	int code;

	req.container_id = (char *)id;
	req.exec_id = (char *)id;
	req.oci_spec_json.data = (uint8_t *)spec;
	req.oci_spec_json.len = strlen(spec);
	code = h_call("CreateContainer", &req.base, &a);
	if (msg)
		*msg = code ? kc_steal_ptr(&a.message) : NULL;
	else if (code)
		print_message("# CreateContainer %s: %s\n", id, a.message);
	h_answer_free(&a);
	return code;
}

int h_start(const char *id, char **msg)
{
	Grpc__StartContainerRequest req = GRPC__START_CONTAINER_REQUEST__INIT;
	struct h_answer a;
	int code;

	req.container_id = (char *)id;
	code = h_call("StartContainer", &req.base, &a);
	if (msg)
		*msg = code ? kc_steal_ptr(&a.message) : NULL;
	else if (code)
		print_message("# StartContainer %s: %s\n", id, a.message);
	h_answer_free(&a);
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
	struct h_answer a;
	int code;

	req.container_id = (char *)id;
	req.exec_id = (char *)exec_id;
	req.process_json.data = (uint8_t *)process_json;
	req.process_json.len = strlen(process_json);
	code = h_call("ExecProcess", &req.base, &a);
	if (msg)
		*msg = code ? kc_steal_ptr(&a.message) : NULL;
	else if (code)
		print_message("# ExecProcess %s/%s: %s\n", id, exec_id, a.message);
	h_answer_free(&a);
	return code;
}

int h_wait_status(const char *id, const char *exec_id)
{
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;
	Grpc__WaitProcessResponse *r;
	struct h_answer a;
	int status;

	req.container_id = (char *)id;
	req.exec_id = (char *)exec_id;
	assert_int_equal(h_call("WaitProcess", &req.base, &a), 0);
	r = grpc__wait_process_response__unpack(NULL, a.len, a.payload);
	assert_non_null(r);
	status = r->status;
	grpc__wait_process_response__free_unpacked(r, NULL);
	h_answer_free(&a);
	return status;
}

char *h_read_all(const char *id, const char *exec_id, bool is_err, size_t *lenp)
{
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	size_t len = 0, cap = 4096;
	char *out = kc_xmalloc(cap);

	req.container_id = (char *)id;
	req.exec_id = (char *)exec_id;
	req.len = 1 << 20;
	for (;;) {
		struct h_answer a;
		Grpc__ReadStreamResponse *r;

		assert_int_equal(h_call(is_err ? "ReadStderr" : "ReadStdout", &req.base, &a), 0);
		r = grpc__read_stream_response__unpack(NULL, a.len, a.payload);
		assert_non_null(r);
		h_answer_free(&a);
		if (r->data.len == 0) {
			grpc__read_stream_response__free_unpacked(r, NULL);
			out[len] = '\0';
			if (lenp)
				*lenp = len;
			return out;
		}
		while (len + r->data.len + 1 > cap)
			cap *= 2;
		out = kc_xrealloc(out, cap);
		memcpy(out + len, r->data.data, r->data.len);
		len += r->data.len;
		grpc__read_stream_response__free_unpacked(r, NULL);
	}
}

void h_write_stdin(const char *id, const char *exec_id, const void *data, size_t len)
{
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	size_t off = 0;

	w.container_id = (char *)id;
	w.exec_id = (char *)exec_id;
	while (off < len) {
		struct h_answer a;
		Grpc__WriteStreamResponse *r;

		w.data.data = (uint8_t *)data + off;
		w.data.len = len - off;
		assert_int_equal(h_call("WriteStdin", &w.base, &a), 0);
		r = grpc__write_stream_response__unpack(NULL, a.len, a.payload);
		assert_non_null(r);
		off += r->len;
		grpc__write_stream_response__free_unpacked(r, NULL);
		h_answer_free(&a);
	}
}

void h_close_stdin(const char *id, const char *exec_id)
{
	Grpc__CloseStdinRequest c = GRPC__CLOSE_STDIN_REQUEST__INIT;

	c.container_id = (char *)id;
	c.exec_id = (char *)exec_id;
	assert_int_equal(h_call0("CloseStdin", &c.base), 0);
}

int h_signal(const char *id, const char *exec_id, int sig)
{
	Grpc__SignalProcessRequest s = GRPC__SIGNAL_PROCESS_REQUEST__INIT;

	s.container_id = (char *)id;
	s.exec_id = (char *)exec_id;
	s.signal = (uint32_t)sig;
	return h_call0("SignalProcess", &s.base);
}

int h_remove(const char *id, uint32_t timeout)
{
	Grpc__RemoveContainerRequest req = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	req.timeout = timeout;
	return h_call0("RemoveContainer", &req.base);
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

int h_count_fds(pid_t pid)
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

/* Mounts under the test's directory: other mounts of this namespace come
 * and go with whatever else runs on the machine. */
int h_count_mounts(void)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int n = 0;

	assert_int_equal(kc_read_file("/proc/self/mountinfo", 4 << 20, &buf, &len, NULL), 0);
	for (char *p = buf; (p = strstr(p, h.dir)); p += strlen(h.dir))
		n++;
	return n;
}

bool h_process_running(const char *a0, const char *a1)
{
	return h_find_process(a0, a1) > 0;
}

pid_t h_find_process(const char *a0, const char *a1)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

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
			found = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	return found;
}

void h_check_clean(void)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	struct h_answer a;

	start_svc_call("grpc.Health", "Check", &req.base, &a);
	h_wait(&a);
	assert_int_equal(a.code, 0);
	h_answer_free(&a);
	if (h_count_fds(h.agent) != h.base_fds) {
		cleanup_free char *cmd = kc_xasprintf("ls -l /proc/%d/fd >&2", (int)h.agent);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot list the agent's fds\n");
	}
	assert_int_equal(h_count_fds(h.agent), h.base_fds);
	assert_int_equal(h_count_mounts(), h.base_mounts);
}

/* ---- files ---- */

char *h_path(const char *rel)
{
	return kc_xasprintf("%s/%s", h.dir, rel);
}

void h_write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	chmod(path, mode);
}

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

void h_filter_from_env(void)
{
	if (getenv("KC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("KC_TEST_FILTER"));
}

int h_setup(void **state)
{
	const char *applets[] = { "echo", "sh", "sleep", "cat", "pwd", "true", "ls", "id", "stty" };
	const char *dirs[] = { "bin", "tmp", "etc", "proc", "sys", "dev" };
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	cleanup_free char *log = NULL, *sbid = NULL;
	uint64_t deadline;
	int fd;

	(void)state;
	if (access(BUSYBOX, X_OK) < 0) {
		fprintf(stderr, "%s missing: apt-get install busybox-static\n", BUSYBOX);
		return -1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "the container tests need root\n");
		return -1;
	}
	strcpy(h.dir, "/tmp/kc-container-test-XXXXXX");
	assert_non_null(mkdtemp(h.dir));
	/* Reachable from a user namespace's root (another host uid). */
	assert_int_equal(chmod(h.dir, 0755), 0);
	h.sock = kc_xasprintf("%s/agent.sock", h.dir);
	h.uri = kc_xasprintf("unix://%s", h.sock);
	h.rootfs = kc_xasprintf("%s/rootfs", h.dir);
	assert_int_equal(mkdir(h.rootfs, 0755), 0);
	for (size_t i = 0; i < KC_ARRAY_SIZE(dirs); i++) {
		cleanup_free char *d = kc_xasprintf("%s/%s", h.rootfs, dirs[i]);

		assert_int_equal(mkdir(d, 0755), 0);
	}
	{
		cleanup_free char *bb = kc_xasprintf("%s/bin/busybox", h.rootfs);
		cleanup_free char *ti = kc_xasprintf("%s/bin/kc-test-init", h.rootfs);

		copy_file(BUSYBOX, bb);
		copy_file(KC_TEST_INIT, ti);
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(applets); i++) {
		cleanup_free char *link = kc_xasprintf("%s/bin/%s", h.rootfs, applets[i]);

		assert_int_equal(symlink("busybox", link), 0);
	}
	log = kc_xasprintf("%s/agent.log", h.dir);
	h.agent = fork();
	assert_true(h.agent >= 0);
	if (h.agent == 0) {
		int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		/* A test that crashes takes its agent (and so the containers)
		 * with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);

		if (lfd >= 0)
			dup2(lfd, 2);
		/* KC_AGENT: another build of the agent (the static one). */
		execl(getenv("KC_AGENT") ? getenv("KC_AGENT") : KC_AGENT_BIN, "kata-agent",
		      "--listen", h.uri, "--no-init", "--log-level", "debug", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(kc_loop_new(&loop, NULL), 0);
	deadline = kc_monotonic_ns() + 60 * SEC;
	while ((fd = kc_ttrpc_dial(h.uri, SEC, NULL)) < 0) {
		assert_true(kc_monotonic_ns() < deadline);
		usleep(20000);
	}
	assert_int_equal(kc_ttrpc_client_new(loop, fd, &cli, NULL), 0);
	sbid = kc_xasprintf("sb-container-%d", (int)getpid());
	sb.sandbox_id = sbid;
	assert_int_equal(h_call0("CreateSandbox", &sb.base), 0);
	h.base_fds = h_count_fds(h.agent);
	h.base_mounts = h_count_mounts();
	return 0;
}

int h_teardown(void **state)
{
	int wstatus;

	(void)state;
	if (cli)
		kc_ttrpc_client_free(cli);
	cli = NULL;
	if (loop)
		kc_loop_free(loop);
	loop = NULL;
	if (h.agent > 0) {
		/* SIGTERM: the agent kills what is left and exits 0, without
		 * leaks under ASan. */
		kill(h.agent, SIGTERM);
		waitpid(h.agent, &wstatus, 0);
		if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
			fprintf(stderr, "# the agent ended with status %d; its log is in %s\n",
				wstatus, h.dir);
			return -1;
		}
	}
	if (h.dir[0] && !getenv("KC_TEST_KEEP")) {
		cleanup_free char *cmd = kc_xasprintf("rm -rf '%s'", h.dir);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", h.dir);
	}
	free(h.sock);
	free(h.uri);
	free(h.rootfs);
	return 0;
}
