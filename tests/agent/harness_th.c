// SPDX-License-Identifier: Apache-2.0
/* The agent test harness (see harness.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness_th.h"
#include "health.pb-c.h"
#include "lib/json.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/transport.h"

#define SEC 1000000000ull

static struct kc_loop *loop;
static struct kc_ttrpc_client *cli;

void th_start(struct th_agent *a, const char *netns, const char *const *extra)
{
	const char *argv[32];
	size_t n = 0;
	uint64_t deadline;
	int fd;

	strcpy(a->dir, "/tmp/kc-agent-th-XXXXXX");
	assert_non_null(mkdtemp(a->dir));
	a->sock = kc_xasprintf("%s/agent.sock", a->dir);
	a->uri = kc_xasprintf("unix://%s", a->sock);
	if (netns) {
		argv[n++] = "ip";
		argv[n++] = "netns";
		argv[n++] = "exec";
		argv[n++] = netns;
	}
	argv[n++] = KC_AGENT_BIN;
	argv[n++] = "--listen";
	argv[n++] = a->uri;
	argv[n++] = "--no-init";
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	for (size_t i = 0; extra && extra[i]; i++) {
		assert_true(n < KC_ARRAY_SIZE(argv) - 1);
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	a->pid = fork();
	assert_true(a->pid >= 0);
	if (a->pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(kc_loop_new(&loop, NULL), 0);
	deadline = kc_monotonic_ns() + 20 * SEC;
	while ((fd = kc_ttrpc_dial(a->uri, SEC, NULL)) < 0) {
		assert_true(kc_monotonic_ns() < deadline);
		assert_int_equal(waitpid(a->pid, NULL, WNOHANG), 0);
		usleep(20000);
	}
	assert_int_equal(kc_ttrpc_client_new(loop, fd, &cli, NULL), 0);
	/* One answer: the agent has accepted the connection, so counting
	 * its fds now counts it. */
	{
		Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
		struct th_answer ans;

		assert_int_equal(th_call(a, "Health.Check", &req.base, &ans), 0);
		th_answer_free(&ans);
	}
}

void th_stop(struct th_agent *a)
{
	int wstatus;

	if (cli)
		kc_ttrpc_client_free(cli);
	cli = NULL;
	if (loop)
		kc_loop_free(loop);
	loop = NULL;
	if (a->pid > 0) {
		kill(a->pid, SIGTERM);
		assert_int_equal(waitpid(a->pid, &wstatus, 0), a->pid);
		a->pid = 0;
		assert_true(WIFEXITED(wstatus));
		assert_int_equal(WEXITSTATUS(wstatus), 0);
	}
	if (a->dir[0]) {
		free(th_sh("rm -rf '%s'", a->dir));
		a->dir[0] = '\0';
	}
	free(a->sock);
	free(a->uri);
	a->sock = a->uri = NULL;
}

struct pending {
	bool done;
	struct th_answer *ans;
};

static void on_reply(const struct kc_ttrpc_reply *r, void *data)
{
	struct pending *p = data;

	p->done = true;
	p->ans->code = r->code;
	p->ans->message = kc_xstrndup(r->message ? r->message : "", r->message_len);
	p->ans->payload = kc_xmalloc(r->len + 1);
	if (r->len)
		memcpy(p->ans->payload, r->payload, r->len);
	p->ans->len = r->len;
}

int th_call(struct th_agent *a, const char *method, const ProtobufCMessage *req,
	    struct th_answer *ans)
{
	struct pending p = { .ans = ans };
	uint64_t deadline = kc_monotonic_ns() + 30 * SEC;
	const char *svc = "grpc.AgentService";

	(void)a;
	memset(ans, 0, sizeof(*ans));
	if (strncmp(method, "Health.", 7) == 0) {
		svc = "grpc.Health";
		method += 7;
	}
	assert_int_equal(kc_ttrpc_client_call_msg(cli, svc, method, req, NULL, on_reply, &p, NULL,
						  NULL),
			 0);
	while (!p.done) {
		assert_true(kc_loop_run_once(loop, 50 * 1000000, NULL) >= 0);
		assert_true(kc_monotonic_ns() < deadline);
	}
	return ans->code;
}

ProtobufCMessage *th_call_ok(struct th_agent *a, const char *method, const ProtobufCMessage *req,
			     const ProtobufCMessageDescriptor *desc)
{
	struct th_answer ans;
	ProtobufCMessage *m;

	if (th_call(a, method, req, &ans) != 0)
		fail_msg("%s: code %d: %s", method, ans.code, ans.message);
	m = protobuf_c_message_unpack(desc, NULL, ans.len, ans.payload);
	assert_non_null(m);
	th_answer_free(&ans);
	return m;
}

void th_call_fails(struct th_agent *a, const char *method, const ProtobufCMessage *req, int code,
		   const char *what)
{
	struct th_answer ans;
	int got = th_call(a, method, req, &ans);

	if (got != code || (what && !strstr(ans.message, what)))
		fail_msg("%s: expected code %d with `%s`, got %d: %s", method, code,
			 what ? what : "", got, ans.message);
	print_message("# %s: %s\n", method, ans.message);
	th_answer_free(&ans);
}

void th_answer_free(struct th_answer *ans)
{
	free(ans->message);
	free(ans->payload);
	memset(ans, 0, sizeof(*ans));
}

int th_count_fds(pid_t pid)
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

static char *vsh(const char *fmt, va_list ap)
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
	if (st != 0)
		fail_msg("`%s` failed (%d): %s", cmd, st, out);
	return out;
}

char *th_sh(const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	out = vsh(fmt, ap);
	va_end(ap);
	return out;
}

json_t *th_sh_json(const char *fmt, ...)
{
	cleanup_free char *out = NULL;
	json_t *j = NULL;
	va_list ap;

	va_start(ap, fmt);
	out = vsh(fmt, ap);
	va_end(ap);
	assert_int_equal(kc_json_parse(out, strlen(out), "command output", &j, NULL), 0);
	return j;
}

char *th_read(const char *path)
{
	char *buf = NULL;
	size_t len;

	if (kc_read_file(path, 1 << 20, &buf, &len, NULL) < 0)
		return NULL;
	return buf;
}

void th_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}
