/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What others may read of the pod through its shim.  The shim holds the
 * only connection to its agent (over virtio-serial the guest sees one
 * stream, and QEMU's chardev takes one client at a time), so a host tool
 * that wants the agent's own figures asks the shim: grpc.AgentService's
 * GetMetrics on the shim's socket is relayed to the agent and its answer
 * (the agent's Prometheus text: open descriptors, memory, threads...)
 * returned as is; the shim's other agent methods answer UNIMPLEMENTED.
 * This is the part of Kata's shim-monitor /metrics that reads the agent,
 * reachable with `kata-agent-ctl --server-address unix://SHIM_SOCKET call
 * GetMetrics` (the socket answers root or the shim's own user only).
 *
 * grpc.Health/Check is relayed the same way, answer and failure as the
 * agent gave them: the health check of a live sandbox for another process,
 * which finds this socket in the sandbox's state (sandbox/state.h,
 * kc_state_open_live()).
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/prom.h"
#include "sandbox/state.h"
#include "shim.h"
#include "ttrpc/httpd.h"

/* Returns the agent's answer to call as is. */
static void on_answer(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_ttrpc_call *call = ctx;

	if (err) {
		kc_error_wrap(err, "relayed to the agent");
		shim_fail(call, err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, m);
}

static void h_get_metrics(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	struct shim *s = data;

	kc_pod_agent_metrics(s->pod, (const Grpc__GetMetricsRequest *)m, on_answer, call);
}

static void h_check(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	struct shim *s = data;

	kc_pod_agent_check(s->pod, (const Grpc__CheckRequest *)m, on_answer, call);
}

static int register_one(struct shim *s, const ProtobufCServiceDescriptor *desc, const char *method,
			kc_ttrpc_msg_handler_fn fn, kc_error_t *err)
{
	cleanup_free kc_ttrpc_msg_handler_fn *fns = kc_xzalloc(desc->n_methods * sizeof(*fns));

	for (unsigned i = 0; i < desc->n_methods; i++)
		if (strcmp(desc->methods[i].name, method) == 0)
			fns[i] = fn;
	return kc_ttrpc_server_register_service(s->srv, desc, fns, s, err);
}

int shim_monitor_register(struct shim *s, kc_error_t *err)
{
	int ret = register_one(s, &grpc__agent_service__descriptor,
			       kc_agent_method(KC_AGENT_GET_METRICS), h_get_metrics, err);

	if (ret >= 0)
		ret = register_one(s, &grpc__health__descriptor,
				   kc_agent_method(KC_AGENT_HEALTH_CHECK), h_check, err);
	return ret;
}

/*
 * The management socket, as Kata's shim serves it:
 * /run/vc/sbs/<sandbox-id>/shim-monitor.sock, HTTP over a unix socket:
 *
 *   GET /metrics     the sandbox's metrics (Prometheus text 0.0.4,
 *                    sandbox/prom.h's kc_prom_render_sandbox())
 *   GET /agent-url   the agent's URL, as text
 *
 * Served by our own small HTTP server on the shim's loop (ttrpc/httpd.h;
 * docs/shim.md says why not libmicrohttpd).  A /metrics request is
 * answered once the agent's GetMetrics is, or after SCRAPE_AGENT_NS
 * without it (the host's figures only, then).
 */
#define SCRAPE_AGENT_NS (3 * NS_SEC)
#define MGMT_CONNECTIONS 16 /* at once; more wait in the backlog */
#define MGMT_CONN_TIMEOUT_S 10 /* idle connections are closed */
#define MGMT_HEAD_MAX (8 * 1024) /* a request's head */

struct shim_mgmt {
	struct shim *s;
	struct kc_httpd *httpd;
	int listen_fd;
	bool bound; /* path is ours to unlink */
	char *path;
	struct kc_httpd_route routes[2];
};

/* A /metrics request.  Owned by its HTTP request (until answered or
 * cancelled) and by the agent call in flight: freed when both are done. */
struct scrape {
	struct shim_mgmt *m;
	struct kc_httpd_req *req; /* NULL: answered, or the connection is gone */
	bool agent_pending;
	struct kc_loop_timer timer;
	char *agent_text; /* the agent's answer; NULL: none (why says why) */
	size_t agent_len;
	char *why;
};

static void scrape_free(struct scrape *x)
{
	free(x->agent_text);
	free(x->why);
	free(x);
}

static char *render_metrics(struct shim *s, struct scrape *x, size_t *len);

/* The scrape has what it waits for (or gave up): its answer. */
static void scrape_answer(struct scrape *x, const char *why)
{
	struct kc_httpd_req *req = x->req;
	size_t len;
	char *text;

	if (!req)
		return;
	x->req = NULL;
	kc_loop_timer_stop(x->m->s->loop, &x->timer);
	if (why && !x->why)
		x->why = kc_xstrdup(why);
	text = render_metrics(x->m->s, x, &len);
	if (!text)
		kc_httpd_reply_text(req, 500, "rendering the metrics failed\n");
	else
		kc_httpd_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	/* What rendering took goes back to the system: without this, five
	 * scrapes left the shim ~330 KiB larger for good (glibc keeps freed
	 * heap below its trim threshold, and raises that threshold after
	 * freeing a large block). */
	malloc_trim(0);
}

static void on_scrape_timeout(void *data)
{
	struct scrape *x = data;

	scrape_answer(x, "the agent did not answer within 3 s");
	if (!x->agent_pending)
		scrape_free(x);
}

/* The connection ended before its answer (its deadline, the peer gone,
 * the server stopping). */
static void on_scrape_cancel(void *data)
{
	struct scrape *x = data;

	x->req = NULL;
	kc_loop_timer_stop(x->m->s->loop, &x->timer);
	if (!x->agent_pending)
		scrape_free(x);
}

static void on_agent_metrics(void *ctx, kc_error_t *err, const ProtobufCMessage *msg)
{
	struct scrape *x = ctx;
	const Grpc__Metrics *r = (const Grpc__Metrics *)msg;

	x->agent_pending = false;
	if (!x->req) {
		scrape_free(x);
		return;
	}
	if (err && *err) {
		cleanup_free char *why = kc_xasprintf("the agent failed: %s", (*err)->msg);

		scrape_answer(x, why);
	} else {
		x->agent_text = kc_xstrdup(r && r->metrics ? r->metrics : "");
		x->agent_len = strlen(x->agent_text);
		scrape_answer(x, NULL);
	}
	scrape_free(x);
}

static void h_metrics(struct kc_httpd_req *req, void *data)
{
	struct shim_mgmt *m = data;
	struct scrape *x = kc_xzalloc(sizeof(*x));
	Grpc__GetMetricsRequest mr = GRPC__GET_METRICS_REQUEST__INIT;

	x->m = m;
	x->req = req;
	kc_httpd_req_on_cancel(req, on_scrape_cancel, x);
	kc_loop_timer_init(&x->timer, on_scrape_timeout, x);
	kc_loop_timer_start(m->s->loop, &x->timer, kc_loop_now(m->s->loop) + SCRAPE_AGENT_NS);
	x->agent_pending = true;
	/* Its callback may run before this returns: x may be gone then. */
	kc_pod_agent_metrics(m->s->pod, &mr, on_agent_metrics, x);
}

static void h_agent_url(struct kc_httpd_req *req, void *data)
{
	struct shim_mgmt *m = data;
	const char *uri = kc_pod_agent_uri(m->s->pod);

	if (!uri)
		kc_httpd_reply_text(req, 500, "the sandbox has no agent\n");
	else
		kc_httpd_reply_text(req, 200, uri);
}

static char *comment(const char *what, const char *why);

/* The exposition: the host's figures, the agent's when it answered, and
 * whether it did.  A process that is gone (a hypervisor that exited) is
 * left out rather than failing the scrape. */
static char *render_metrics(struct shim *s, struct scrape *x, size_t *len)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_prom_sandbox sb = { 0 };
	struct kc_prom *p = kc_prom_new();
	cleanup_free char *missing = NULL;
	const char *text;
	char *out;
	size_t n;
	int ret;

	kc_pod_vm_pids(s->pod, &sb.hypervisor_pid, &sb.virtiofsd_pid);
	sb.agent_text = x->agent_text;
	sb.agent_len = x->agent_len;
	ret = kc_prom_render_sandbox(p, &sb, NULL, &err);
	if (ret < 0 && (sb.hypervisor_pid || sb.virtiofsd_pid)) {
		missing = kc_xasprintf("the VM's processes are left out: %s", err->msg);
		kc_error_free(&err);
		kc_prom_free(p);
		p = kc_prom_new();
		sb.hypervisor_pid = sb.virtiofsd_pid = 0;
		ret = kc_prom_render_sandbox(p, &sb, NULL, &err);
	}
	if (ret >= 0)
		ret = kc_prom_family(p, "kata_shim_agent_metrics_up",
				     "Whether the agent's kata_agent_* and kata_guest_* are in this "
				     "scrape (1), or it did not answer in time or failed (0).",
				     KC_PROM_GAUGE, &err);
	if (ret >= 0)
		ret = kc_prom_sample(p, NULL, x->agent_text ? 1 : 0, &err);
	if (ret < 0) {
		kc_log_error_free(KC_LOG_WARNING, &err, "rendering /metrics");
		kc_prom_free(p);
		*len = 0;
		return NULL;
	}
	text = kc_prom_text(p, &n);
	{
		cleanup_free char *c1 = comment("agent metrics missing", x->why);
		cleanup_free char *c2 = comment("hypervisor metrics missing", missing);

		out = kc_xasprintf("%s%s%s", text, c1, c2);
	}
	kc_prom_free(p);
	*len = strlen(out);
	return out;
}

/* "# what: why\n" on one line, "" for no why. */
static char *comment(const char *what, const char *why)
{
	char *c;

	if (!why)
		return kc_xstrdup("");
	c = kc_xasprintf("# %s: %s\n", what, why);
	for (char *q = c; q[1]; q++)
		if (*q == '\n' || *q == '\r')
			*q = ' ';
	return c;
}

static int listen_unix(const char *path, int *out, kc_error_t *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;
	mode_t old;
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return kc_error_set(err, ENAMETOOLONG, "`%s`: a socket path too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kc_error_set(err, errno, "socket");
	/* Born 0600: no window where another user could connect.  The loop
	 * is the only thread, so the process-wide umask is ours a moment. */
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0)
		return kc_error_set(err, errno, "bind `%s`", path);
	if (chmod(path, 0600) < 0 || listen(fd, MGMT_CONNECTIONS) < 0) {
		ret = kc_error_set(err, errno, "listen on `%s`", path);
		unlink(path);
		return ret;
	}
	*out = fd;
	fd = -1;
	return 0;
}

int shim_mgmt_start(struct shim *s, kc_error_t *err)
{
	const char *dir = kc_pod_state_dir(s->pod);
	const struct kc_httpd_limits lim = {
		.max_conns = MGMT_CONNECTIONS,
		.deadline_ns = MGMT_CONN_TIMEOUT_S * NS_SEC,
		.max_head = MGMT_HEAD_MAX,
	};
	struct shim_mgmt *m;
	int ret;

	if (s->mgmt)
		return 0;
	if (!dir)
		return kc_error_set(err, ENOTCONN, "the pod has no sandbox");
	m = kc_xzalloc(sizeof(*m));
	m->s = s;
	m->listen_fd = -1;
	m->path = kc_xasprintf("%s/%s", dir, KC_STATE_MONITOR_SOCKET);
	m->routes[0] = (struct kc_httpd_route){ "/metrics", h_metrics, m };
	m->routes[1] = (struct kc_httpd_route){ "/agent-url", h_agent_url, m };
	s->mgmt = m;
	ret = listen_unix(m->path, &m->listen_fd, err);
	if (ret < 0)
		goto fail;
	m->bound = true;
	ret = kc_httpd_new(s->loop, m->listen_fd, m->routes, KC_ARRAY_SIZE(m->routes), &lim,
			   &m->httpd, err);
	if (ret < 0)
		goto fail;
	ret = kc_pod_set_monitor_socket(s->pod, m->path, err);
	if (ret < 0)
		goto fail;
	kc_info("management socket on %s", m->path);
	return 0;
fail:
	kc_error_wrap(err, "the management socket");
	shim_mgmt_stop(s);
	return ret;
}

void shim_mgmt_stop(struct shim *s)
{
	struct shim_mgmt *m = s->mgmt;

	if (!m)
		return;
	s->mgmt = NULL;
	/* Unanswered scrapes are cancelled: they wait for the agent alone. */
	kc_httpd_free(m->httpd);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->bound)
		unlink(m->path);
	if (s->pod && kc_pod_state_dir(s->pod)) {
		cleanup_error kc_error_t err = NULL;

		if (kc_pod_set_monitor_socket(s->pod, NULL, &err) < 0)
			kc_log_error_free(KC_LOG_WARNING, &err, "forgetting the management socket");
	}
	free(m->path);
	free(m);
}
