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
#include <string.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "lib/util.h"
#include "shim.h"

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

static int register_one(struct shim *s, const ProtobufCServiceDescriptor *desc,
			const char *method, kc_ttrpc_msg_handler_fn fn, kc_error_t *err)
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
 * libmicrohttpd serves it from the shim's loop (no thread): MHD's own
 * epoll descriptor is watched here, MHD_run() runs on its readiness and at
 * MHD_get_timeout()'s deadline.  A /metrics request is suspended while
 * the agent's GetMetrics is in flight, and resumed with its answer, or
 * after SCRAPE_AGENT_NS without it (the host's figures only, then).
 */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "sandbox/prom.h"
#include "sandbox/state.h"

#define SCRAPE_AGENT_NS (3 * NS_SEC)
#define MGMT_CONNECTIONS 16      /* at once; more wait in the backlog */
#define MGMT_CONN_TIMEOUT_S 10   /* idle connections are closed */
#define MGMT_CONN_MEMORY (16 * 1024)

struct scrape;

struct shim_mgmt {
	struct shim *s;
	struct MHD_Daemon *d;
	int listen_fd; /* MHD's once it serves: it closes it */
	bool bound;    /* path is ours to unlink */
	char *path;
	struct kc_loop_watch *watch;
	struct kc_loop_timer timer;  /* MHD_get_timeout()'s */
	struct kc_loop_defer run;    /* MHD_run() after a resume */
	struct scrape *scrapes;      /* suspended, waiting for the agent */
};

/* A /metrics request.  Owned by its connection (until MHD says it is
 * completed) and by the agent call in flight: freed when both are done. */
struct scrape {
	struct shim_mgmt *m; /* NULL: the connection is gone */
	struct MHD_Connection *conn;
	struct scrape *prev, *next; /* in m->scrapes while suspended */
	bool suspended, ready, agent_pending;
	struct kc_loop_timer timer;
	char *agent_text; /* the agent's answer; NULL: none (why says why) */
	size_t agent_len;
	char *why;
};

/* A marker for the requests other than /metrics (their con_cls). */
static char plain_request;

static void mgmt_schedule(struct shim_mgmt *m)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(m->d, &ms) == MHD_YES)
		kc_loop_timer_start(m->s->loop, &m->timer,
				    kc_loop_now(m->s->loop) + (uint64_t)ms * 1000000ull);
	else
		kc_loop_timer_stop(m->s->loop, &m->timer);
}

static void mgmt_run(void *data)
{
	struct shim_mgmt *m = data;

	MHD_run(m->d);
	mgmt_schedule(m);
}

static void on_mgmt_ready(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	mgmt_run(data);
}

static void scrape_unlink(struct scrape *x)
{
	if (!x->m || (!x->prev && x->m->scrapes != x))
		return;
	if (x->prev)
		x->prev->next = x->next;
	else
		x->m->scrapes = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

static void scrape_free(struct scrape *x)
{
	free(x->agent_text);
	free(x->why);
	free(x);
}

/* The scrape has what it waits for (or gave up): its connection goes on. */
static void scrape_ready(struct scrape *x, const char *why)
{
	struct shim_mgmt *m = x->m;

	if (x->ready)
		return;
	x->ready = true;
	if (why && !x->why)
		x->why = kc_xstrdup(why);
	if (!m)
		return;
	kc_loop_timer_stop(m->s->loop, &x->timer);
	if (x->suspended) {
		x->suspended = false;
		scrape_unlink(x);
		MHD_resume_connection(x->conn);
		kc_loop_defer_queue(m->s->loop, &m->run);
	}
}

static void on_scrape_timeout(void *data)
{
	scrape_ready(data, "the agent did not answer within 3 s");
}

static void on_agent_metrics(void *ctx, kc_error_t *err, const ProtobufCMessage *msg)
{
	struct scrape *x = ctx;
	const Grpc__Metrics *r = (const Grpc__Metrics *)msg;

	x->agent_pending = false;
	if (!x->m) {
		scrape_free(x);
		return;
	}
	if (x->ready)
		return;
	if (err && *err) {
		cleanup_free char *why = kc_xasprintf("the agent failed: %s", (*err)->msg);

		scrape_ready(x, why);
		return;
	}
	x->agent_text = kc_xstrdup(r && r->metrics ? r->metrics : "");
	x->agent_len = strlen(x->agent_text);
	scrape_ready(x, NULL);
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

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
			      char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return answer(conn, status, "text/plain; charset=utf-8", kc_xstrdup(msg), strlen(msg));
}

/* Root, or the shim's own user (the socket's mode says the same). */
static bool peer_allowed(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct shim_mgmt *m = cls;
	struct scrape *x = *con_cls;
	Grpc__GetMetricsRequest req = GRPC__GET_METRICS_REQUEST__INIT;

	(void)version;
	(void)upload_data;
	if (x == (void *)&plain_request) {
		*upload_data_size = 0; /* a body we did not ask for */
		return MHD_YES;
	}
	if (x) {
		/* Resumed: the agent answered, or the wait is over. */
		size_t len;
		char *text;

		*upload_data_size = 0;
		if (!x->ready)
			return MHD_YES;
		text = render_metrics(m->s, x, &len);
		if (!text)
			return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					   "rendering the metrics failed\n");
		return answer(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text,
			      len);
	}
	if (!peer_allowed(conn)) {
		*con_cls = &plain_request;
		return answer_text(conn, MHD_HTTP_FORBIDDEN, "root only\n");
	}
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/agent-url") != 0) {
		*con_cls = &plain_request;
		return answer_text(conn, MHD_HTTP_NOT_FOUND, "404 page not found\n");
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
		*con_cls = &plain_request;
		return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	}
	if (strcmp(url, "/agent-url") == 0) {
		const char *uri = kc_pod_agent_uri(m->s->pod);

		*con_cls = &plain_request;
		if (!uri)
			return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					   "the sandbox has no agent\n");
		return answer_text(conn, MHD_HTTP_OK, uri);
	}
	x = kc_xzalloc(sizeof(*x));
	x->m = m;
	x->conn = conn;
	*con_cls = x;
	kc_loop_timer_init(&x->timer, on_scrape_timeout, x);
	kc_loop_timer_start(m->s->loop, &x->timer, kc_loop_now(m->s->loop) + SCRAPE_AGENT_NS);
	x->agent_pending = true;
	kc_pod_agent_metrics(m->s->pod, &req, on_agent_metrics, x);
	if (!x->ready) {
		/* Until the agent answered or the wait is over. */
		x->suspended = true;
		x->next = m->scrapes;
		if (m->scrapes)
			m->scrapes->prev = x;
		m->scrapes = x;
		MHD_suspend_connection(conn);
	}
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct shim_mgmt *m = cls;
	struct scrape *x = *con_cls;

	(void)conn;
	(void)toe;
	*con_cls = NULL;
	if (!x || x == (void *)&plain_request)
		return;
	kc_loop_timer_stop(m->s->loop, &x->timer);
	scrape_unlink(x);
	x->m = NULL;
	if (!x->agent_pending)
		scrape_free(x);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	cleanup_free char *msg = NULL;

	(void)cls;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	msg[strcspn(msg, "\n")] = '\0';
	kc_debug("management socket: %s", msg);
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
	struct shim_mgmt *m;
	const union MHD_DaemonInfo *di;
	int ret;

	if (s->mgmt)
		return 0;
	if (!dir)
		return kc_error_set(err, ENOTCONN, "the pod has no sandbox");
	m = kc_xzalloc(sizeof(*m));
	m->s = s;
	m->listen_fd = -1;
	m->path = kc_xasprintf("%s/%s", dir, KC_STATE_MONITOR_SOCKET);
	kc_loop_timer_init(&m->timer, mgmt_run, m);
	kc_loop_defer_init(&m->run, mgmt_run, m);
	s->mgmt = m;
	ret = listen_unix(m->path, &m->listen_fd, err);
	if (ret < 0)
		goto fail;
	m->bound = true;
	m->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
				NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)MGMT_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MGMT_CONN_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MGMT_CONN_MEMORY,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!m->d) {
		ret = kc_error_set(err, EIO, "libmicrohttpd refused to serve `%s`", m->path);
		goto fail;
	}
	m->listen_fd = -1;
	di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di) {
		ret = kc_error_set(err, EIO, "libmicrohttpd has no epoll descriptor");
		goto fail;
	}
	ret = kc_loop_watch_fd(s->loop, di->epoll_fd, EPOLLIN, on_mgmt_ready, m, &m->watch, err);
	if (ret < 0)
		goto fail;
	ret = kc_pod_set_monitor_socket(s->pod, m->path, err);
	if (ret < 0)
		goto fail;
	mgmt_schedule(m);
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
	/* MHD refuses to stop with suspended connections: they end now,
	 * without the agent. */
	while (m->scrapes)
		scrape_ready(m->scrapes, "the shim is stopping");
	if (m->watch)
		kc_loop_watch_remove(m->watch);
	kc_loop_timer_stop(s->loop, &m->timer);
	kc_loop_defer_cancel(s->loop, &m->run);
	if (m->d)
		MHD_stop_daemon(m->d); /* on_completed() for every request */
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
