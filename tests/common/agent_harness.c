/* SPDX-License-Identifier: Apache-2.0 */
/* The tests' agent harness (agent_harness.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent_harness.h"
#include "health.pb-c.h"
#include "lib/json.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/transport.h"

#define SEC 1000000000ull

/* ---- connections and calls ---- */

void ah_conn_fd(struct ah_conn *c, int fd)
{
	assert_true(fd >= 0);
	assert_int_equal(kc_loop_new(&c->loop, NULL), 0);
	assert_int_equal(kc_ttrpc_client_new(c->loop, fd, &c->cli, NULL), 0);
}

void ah_conn_dial(struct ah_conn *c, const char *uri, pid_t pid)
{
	uint64_t deadline = kc_monotonic_ns() + AH_GUARD_S * SEC;
	int fd;

	while ((fd = kc_ttrpc_dial(uri, SEC, NULL)) < 0) {
		assert_true(kc_monotonic_ns() < deadline);
		if (pid > 0)
			assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
		usleep(20000);
	}
	ah_conn_fd(c, fd);
}

void ah_conn_close(struct ah_conn *c)
{
	if (c->cli)
		kc_ttrpc_client_free(c->cli);
	c->cli = NULL;
	if (c->loop)
		kc_loop_free(c->loop);
	c->loop = NULL;
}

void ah_answer_free(struct ah_answer *a)
{
	free(a->message);
	free(a->payload);
	memset(a, 0, sizeof(*a));
}

static void on_reply(const struct kc_ttrpc_reply *r, void *data)
{
	struct ah_answer *a = data;

	a->done = true;
	a->code = r->code;
	a->message = kc_xstrndup(r->message ? r->message : "", r->message_len);
	a->payload = kc_xmalloc(r->len + 1);
	if (r->len)
		memcpy(a->payload, r->payload, r->len);
	a->len = r->len;
}

/* "Name" -> grpc.AgentService, "Svc.Name" -> grpc.Svc. */
static const char *split_method(const char *method, char *svc, size_t size)
{
	const char *dot = strchr(method, '.');

	if (!dot) {
		snprintf(svc, size, "grpc.AgentService");
		return method;
	}
	snprintf(svc, size, "grpc.%.*s", (int)(dot - method), method);
	return dot + 1;
}

void ah_start_call(struct ah_conn *c, const char *method, const ProtobufCMessage *req,
		   struct ah_answer *a)
{
	char svc[64];
	const char *name = split_method(method, svc, sizeof(svc));

	memset(a, 0, sizeof(*a));
	assert_int_equal(
		kc_ttrpc_client_call_msg(c->cli, svc, name, req, NULL, on_reply, a, NULL, NULL), 0);
}

void ah_wait(struct ah_conn *c, struct ah_answer *a)
{
	uint64_t deadline = kc_monotonic_ns() + AH_GUARD_S * SEC;

	while (!a->done) {
		assert_true(kc_loop_run_once(c->loop, 50 * 1000000, NULL) >= 0);
		assert_true(kc_monotonic_ns() < deadline);
	}
}

void ah_pump(struct ah_conn *c, int ms)
{
	uint64_t end = kc_monotonic_ns() + (uint64_t)ms * 1000000;

	while (kc_monotonic_ns() < end)
		assert_true(kc_loop_run_once(c->loop, 50 * 1000000, NULL) >= 0);
}

int ah_call(struct ah_conn *c, const char *method, const ProtobufCMessage *req, struct ah_answer *a)
{
	ah_start_call(c, method, req, a);
	ah_wait(c, a);
	return a->code;
}

int ah_call0(struct ah_conn *c, const char *method, const ProtobufCMessage *req)
{
	struct ah_answer a;
	int code = ah_call(c, method, req, &a);

	if (code != 0)
		print_message("# %s: %s\n", method, a.message);
	ah_answer_free(&a);
	return code;
}

ProtobufCMessage *ah_call_ok(struct ah_conn *c, const char *method, const ProtobufCMessage *req,
			     const ProtobufCMessageDescriptor *desc)
{
	struct ah_answer a;
	ProtobufCMessage *m = NULL;

	if (ah_call(c, method, req, &a) != 0)
		fail_msg("%s: code %d: %s", method, a.code, a.message);
	if (desc) {
		m = protobuf_c_message_unpack(desc, NULL, a.len, a.payload);
		assert_non_null(m);
	}
	ah_answer_free(&a);
	return m;
}

void ah_call_fails(struct ah_conn *c, const char *method, const ProtobufCMessage *req, int code,
		   const char *what)
{
	struct ah_answer a;
	int got = ah_call(c, method, req, &a);

	if (got != code || (what && !strstr(a.message, what)))
		fail_msg("%s: expected code %d with `%s`, got %d: %s", method, code,
			 what ? what : "", got, a.message);
	print_message("# %s: %s\n", method, a.message);
	ah_answer_free(&a);
}

void ah_check_health(struct ah_conn *c)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;

	ah_call_ok(c, "Health.Check", &req.base, NULL);
}

int ah_create_container(struct ah_conn *c, const char *id, const char *spec_json,
			struct ah_answer *a)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	req.exec_id = (char *)id;
	req.oci_spec_json.data = (uint8_t *)spec_json;
	req.oci_spec_json.len = strlen(spec_json);
	return ah_call(c, "CreateContainer", &req.base, a);
}

int ah_wait_process(struct ah_conn *c, const char *id, const char *exec_id, int *status, char **msg)
{
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;
	struct ah_answer a;
	int code;

	req.container_id = (char *)id;
	if (exec_id)
		req.exec_id = (char *)exec_id;
	code = ah_call(c, "WaitProcess", &req.base, &a);
	if (code == 0) {
		Grpc__WaitProcessResponse *r = grpc__wait_process_response__unpack(NULL, a.len,
										   a.payload);

		assert_non_null(r);
		*status = r->status;
		grpc__wait_process_response__free_unpacked(r, NULL);
	} else if (msg) {
		*msg = kc_steal_ptr(&a.message);
	}
	ah_answer_free(&a);
	return code;
}

char *ah_read_stream(struct ah_conn *c, const char *method, const char *id, const char *exec_id,
		     uint32_t chunk, size_t *lenp)
{
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	char *out = kc_xzalloc(1);
	size_t len = 0;

	req.container_id = (char *)id;
	if (exec_id)
		req.exec_id = (char *)exec_id;
	req.len = chunk;
	for (;;) {
		struct ah_answer a;
		Grpc__ReadStreamResponse *r;

		assert_int_equal(ah_call(c, method, &req.base, &a), 0);
		r = grpc__read_stream_response__unpack(NULL, a.len, a.payload);
		assert_non_null(r);
		ah_answer_free(&a);
		if (r->data.len == 0) {
			grpc__read_stream_response__free_unpacked(r, NULL);
			if (lenp)
				*lenp = len;
			return out;
		}
		out = kc_xrealloc(out, len + r->data.len + 1);
		memcpy(out + len, r->data.data, r->data.len);
		len += r->data.len;
		out[len] = '\0';
		grpc__read_stream_response__free_unpacked(r, NULL);
	}
}

int ah_call_sync(struct kc_ttrpc_client *cli, const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_ttrpc_call_opts o = { .timeout_ns = 60 * SEC };
	char svc[64];
	const char *name = split_method(method, svc, sizeof(svc));
	int ret = kc_ttrpc_client_call_msg_sync(cli, svc, name, req, rd, resp, &o, &err);

	if (ret < 0)
		print_message("# %s/%s: %s\n", svc, name, err->msg);
	return ret;
}

/* ---- processes ---- */

pid_t ah_spawn(const char *const *argv, const char *log, unsigned flags)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* A test that crashes or aborts takes the child with it (and
		 * so its containers, cgroups and sockets); the parent checked
		 * again in case it died before the prctl. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(126);
		if ((flags & AH_SPAWN_MOUNT_NS) &&
		    (unshare(CLONE_NEWNS) < 0 ||
		     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0))
			_exit(126);
		if (log) {
			int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd >= 0)
				dup2(fd, 2);
			if (fd >= 0 && (flags & AH_SPAWN_LOG_STDOUT))
				dup2(fd, 1);
		}
		if (flags & AH_SPAWN_LOG_STDOUT) {
			int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

			if (null >= 0)
				dup2(null, 0);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static const char *agent_bin(void)
{
	if (getenv("KC_AGENT"))
		return getenv("KC_AGENT");
#ifdef KC_AGENT_BIN
	return KC_AGENT_BIN;
#else
	fail_msg("no agent binary: set KC_AGENT");
	return NULL;
#endif
}

void ah_agent_start(struct ah_agent *a, const struct ah_agent_opts *o)
{
	static const struct ah_agent_opts none;
	cleanup_free char *log = NULL;
	const char *argv[40];
	size_t n = 0;

	if (!o)
		o = &none;
	if (!a->dir[0]) {
		snprintf(a->dir, sizeof(a->dir), "%s",
			 o->dir_template ? o->dir_template : "/tmp/kc-agent-test-XXXXXX");
		assert_non_null(mkdtemp(a->dir));
	}
	if (!a->sock) {
		a->sock = kc_xasprintf("%s/agent.sock", a->dir);
		a->uri = kc_xasprintf("unix://%s", a->sock);
	}
	if (o->netns) {
		argv[n++] = "ip";
		argv[n++] = "netns";
		argv[n++] = "exec";
		argv[n++] = o->netns;
	}
	argv[n++] = agent_bin();
	argv[n++] = "--listen";
	argv[n++] = a->uri;
	argv[n++] = "--no-init";
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	for (size_t i = 0; o->extra && o->extra[i]; i++) {
		assert_true(n < KC_ARRAY_SIZE(argv) - 1);
		argv[n++] = o->extra[i];
	}
	argv[n] = NULL;
	if (o->log_file)
		log = kc_xasprintf("%s/agent.log", a->dir);
	a->pid = ah_spawn(argv, log, o->mount_ns ? AH_SPAWN_MOUNT_NS : 0);
	ah_conn_dial(&a->conn, a->uri, a->pid);
	/* One answer: the agent has accepted the connection, so counting
	 * its fds now counts it. */
	ah_check_health(&a->conn);
	a->base_fds = ah_count_fds(a->pid);
}

int ah_agent_kill(struct ah_agent *a)
{
	int wstatus = -1;

	ah_conn_close(&a->conn);
	if (a->pid > 0) {
		/* SIGTERM: the agent kills what is left and exits 0, without
		 * leaks under ASan. */
		kill(a->pid, SIGTERM);
		if (waitpid(a->pid, &wstatus, 0) != a->pid)
			wstatus = -1;
		a->pid = 0;
	}
	return wstatus;
}

void ah_agent_free(struct ah_agent *a)
{
	if (a->dir[0] && !getenv("KC_TEST_KEEP"))
		ah_rm_tree(a->dir);
	a->dir[0] = '\0';
	free(a->sock);
	free(a->uri);
	a->sock = a->uri = NULL;
}

void ah_agent_stop(struct ah_agent *a)
{
	int wstatus = ah_agent_kill(a);

	if (wstatus != -1) {
		assert_true(WIFEXITED(wstatus));
		assert_int_equal(WEXITSTATUS(wstatus), 0);
	}
	ah_agent_free(a);
}

/* ---- leftovers ---- */

int ah_count_fds(pid_t pid)
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

int ah_count_mounts(const char *under)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int n = 0;

	assert_int_equal(kc_read_file("/proc/self/mountinfo", 4 << 20, &buf, &len, NULL), 0);
	for (char *p = buf; (p = strstr(p, under)); p += strlen(under))
		n++;
	return n;
}

/* Calls fn with each other process's raw command line (NULs between the
 * arguments) until it returns true: that pid, or 0. */
static pid_t each_cmdline(bool (*fn)(char *cmd, size_t len, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	assert_non_null(d);
	while (!found && (e = readdir(d))) {
		char path[300], buf[8192];
		ssize_t n;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
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
		if (fn(buf, (size_t)n, arg))
			found = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	return found;
}

static bool is_a0_a1(char *cmd, size_t len, void *arg)
{
	const char *const *want = arg;
	size_t l0 = strlen(want[0]);

	return strcmp(cmd, want[0]) == 0 && len > l0 + 1 && strcmp(cmd + l0 + 1, want[1]) == 0;
}

pid_t ah_find_process(const char *a0, const char *a1)
{
	const char *want[] = { a0, a1 };

	return each_cmdline(is_a0_a1, want);
}

bool ah_process_running(const char *a0, const char *a1)
{
	return ah_find_process(a0, a1) > 0;
}

struct mention {
	const char *needle;
	int n;
};

static bool count_mention(char *cmd, size_t len, void *arg)
{
	struct mention *m = arg;

	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	if (strstr(cmd, m->needle))
		m->n++;
	return false;
}

int ah_count_procs_mentioning(const char *needle)
{
	struct mention m = { needle, 0 };

	each_cmdline(count_mention, &m);
	return m.n;
}

int ah_count_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[1024], *p;
		int ppid = 0, fd;
		ssize_t len;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid())
			n++;
	}
	closedir(d);
	return n;
}

/* ---- shell and files ---- */

int ah_system(const char *fmt, ...)
{
	cleanup_free char *cmd = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	cmd = kc_xvasprintf(fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "# `%s` exited %d\n", cmd, rc);
	return rc;
}

static char *vsh(bool check, const char *fmt, va_list ap)
{
	cleanup_free char *cmd = kc_xvasprintf(fmt, ap);
	char *out = kc_xzalloc(1);
	size_t len = 0;
	char buf[4096];
	size_t n;
	FILE *f = popen(cmd, "r");
	int st;

	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		out = kc_xrealloc(out, len + n + 1);
		memcpy(out + len, buf, n);
		len += n;
		out[len] = '\0';
	}
	st = pclose(f);
	if (check && st != 0)
		fail_msg("`%s` failed (%d): %s", cmd, st, out);
	return out;
}

char *ah_sh(const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	out = vsh(true, fmt, ap);
	va_end(ap);
	return out;
}

char *ah_sh_out(const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	out = vsh(false, fmt, ap);
	va_end(ap);
	return out;
}

json_t *ah_sh_json(const char *fmt, ...)
{
	cleanup_free char *out = NULL;
	json_t *j = NULL;
	va_list ap;

	va_start(ap, fmt);
	out = vsh(true, fmt, ap);
	va_end(ap);
	assert_int_equal(kc_json_parse(out, strlen(out), "command output", &j, NULL), 0);
	return j;
}

void ah_rm_tree(const char *dir)
{
	cleanup_free char *cmd = kc_xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

void ah_netns_del(const char *name)
{
	cleanup_free char *p = kc_xasprintf("/var/run/netns/%s", name);

	if (name[0] && access(p, F_OK) == 0)
		(void)ah_system("ip netns del %s", name);
}

char *ah_read(const char *path)
{
	char *buf = NULL;
	size_t len;

	if (kc_read_file(path, 1 << 20, &buf, &len, NULL) < 0)
		return NULL;
	return buf;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

void ah_write(const char *path, const char *text)
{
	write_text(path, text, 0644);
}

void ah_write_mode(const char *path, const char *text, mode_t mode)
{
	write_text(path, text, mode);
	assert_int_equal(chmod(path, mode), 0);
}

void ah_copy_file(const char *from, const char *to)
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
