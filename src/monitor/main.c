/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-monitor: the host's Kata sandboxes' metrics in one Prometheus
 * endpoint (docs/kata-monitor.md).  One thread, one event loop: the HTTP
 * server (libmicrohttpd, driven through its epoll descriptor) and the
 * scrapes (monitor.c) share it.  A question that waits for shims suspends
 * its HTTP connection and resumes it once answered.
 */

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "monitor.h"
#include "sandbox/state.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROM_TEXT "text/plain; version=0.0.4; charset=utf-8"

struct server {
	struct kc_loop *loop;
	struct kc_mon *mon;
	struct MHD_Daemon *httpd;
	struct kc_loop_watch *watch;
	struct kc_loop_timer timer;
	struct kc_loop_defer run;
	int sfd;
	struct kc_loop_watch *sig_watch;
};

/* One HTTP request's context (MHD's con_cls). */
struct request {
	struct server *srv;
	struct MHD_Connection *conn;
	struct kc_mon_req q;
	bool asked, answered;
	unsigned status;
	char *body;
	size_t len;
	const char *type;
};

static void httpd_run(void *data)
{
	struct server *srv = data;
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(srv->httpd);
	if (MHD_get_timeout(srv->httpd, &ms) == MHD_YES)
		kc_loop_timer_start(srv->loop, &srv->timer, kc_monotonic_ns() + ms * 1000000ull);
	else
		kc_loop_timer_stop(srv->loop, &srv->timer);
}

static void httpd_ready(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	httpd_run(data);
}

static void answered(void *data, unsigned status, const char *body, size_t len)
{
	struct request *rq = data;

	rq->answered = true;
	rq->status = status;
	rq->body = kc_xmalloc(len ? len : 1);
	memcpy(rq->body, body, len);
	rq->len = len;
	MHD_resume_connection(rq->conn);
	kc_loop_defer_queue(rq->srv->loop, &rq->srv->run);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
			       const char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body,
								    MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct server *srv = cls;
	struct request *rq = *con_cls;

	(void)version;
	(void)upload;
	if (!rq) {
		rq = kc_xzalloc(sizeof(*rq));
		rq->srv = srv;
		rq->conn = conn;
		rq->q.fn = answered;
		rq->q.data = rq;
		*con_cls = rq;
		return MHD_YES; /* the headers; the body (none) comes next */
	}
	if (*upload_size) {
		*upload_size = 0; /* a GET has no body: ignored */
		return MHD_YES;
	}
	if (rq->answered) {
		/* The body handed to MHD, not copied once more (a scrape of
		 * ten pods is over 1 MiB). */
		struct MHD_Response *resp = MHD_create_response_from_buffer(rq->len, rq->body,
									    MHD_RESPMEM_MUST_FREE);
		enum MHD_Result ret;

		if (!resp)
			return MHD_NO;
		rq->body = NULL;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rq->type);
		ret = MHD_queue_response(conn, rq->status, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT_PLAIN, "GET only\n", 9);
	kc_debug("%s %s", method, url);
	if (strcmp(url, "/metrics") == 0) {
		rq->type = PROM_TEXT;
		rq->asked = true;
		MHD_suspend_connection(conn);
		kc_mon_metrics(srv->mon, &rq->q);
		return MHD_YES;
	}
	if (strcmp(url, "/agent-url") == 0) {
		rq->type = TEXT_PLAIN;
		rq->asked = true;
		MHD_suspend_connection(conn);
		kc_mon_agent_url(srv->mon,
				 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sandbox"),
				 &rq->q);
		return MHD_YES;
	}
	if (strcmp(url, "/sandboxes") == 0) {
		cleanup_error kc_error_t err = NULL;
		cleanup_free char *text = NULL;
		size_t len;

		if (kc_mon_sandboxes(srv->mon, &text, &len, &err) < 0) {
			kc_log_error_free(KC_LOG_ERROR, &err, "sandboxes");
			return respond(conn, 500, TEXT_PLAIN, "internal error\n", 15);
		}
		return respond(conn, 200, TEXT_PLAIN, text, len);
	}
	if (strcmp(url, "/") == 0) {
		static const char index[] = "Available HTTP endpoints:\n/metrics\n/sandboxes\n"
					    "/agent-url?sandbox=ID\n";

		return respond(conn, 200, TEXT_PLAIN, index, sizeof(index) - 1);
	}
	return respond(conn, MHD_HTTP_NOT_FOUND, TEXT_PLAIN, "not found\n", 10);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!rq)
		return;
	kc_mon_cancel(&rq->q);
	free(rq->body);
	free(rq);
	*con_cls = NULL;
}

static void httpd_log(void *cls, const char *fmt, va_list ap)
{
	cleanup_free char *msg = kc_xvasprintf(fmt, ap);
	size_t n = strlen(msg);

	(void)cls;
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	kc_warn("http: %s", msg);
}

/* host:port, [v6]:port or :port (every address), as Go's net.Listen. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl, kc_error_t *err)
{
	cleanup_free char *host = NULL;
	const char *colon = strrchr(s, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res = NULL;
	int rc;

	if (!colon || !colon[1])
		return kc_error_set(err, EINVAL, "--listen-address `%s`: want HOST:PORT", s);
	host = kc_xstrndup(s, (size_t)(colon - s));
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 2 || host[n - 1] != ']')
			return kc_error_set(err, EINVAL, "--listen-address `%s`: bad IPv6 host", s);
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0)
		return kc_error_set(err, EINVAL, "--listen-address `%s`: %s", s, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void on_signal(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct server *srv = data;
	struct signalfd_siginfo si;

	(void)w;
	(void)events;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		kc_info("signal %u: stopping", si.ssi_signo);
		kc_loop_quit(srv->loop);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kata-monitor [OPTIONS]\n"
		"  --listen-address HOST:PORT   serve here (default 127.0.0.1:8090)\n"
		"  --runtime-endpoint PATH      containerd's socket (checked, not used: the\n"
		"                               CRI metadata comes from the sandboxes' state)\n"
		"  --log-level LEVEL            trace|debug|info|warn|error|fatal|panic\n"
		"  --scrape-timeout MS          a shim's bound in one scrape (default 2000)\n"
		"  --sandboxes-dir DIR          the sandboxes' states (default %s)\n",
		KC_STATE_ROOT);
}

/* Kata's (logrus's) level names onto ours. */
static int parse_level(const char *s, enum kc_log_level *out, kc_error_t *err)
{
	if (strcmp(s, "trace") == 0)
		s = "debug";
	else if (strcmp(s, "warn") == 0)
		s = "warning";
	else if (strcmp(s, "fatal") == 0 || strcmp(s, "panic") == 0)
		s = "error";
	return kc_log_parse_level(s, out, err);
}

static int check_endpoint(const char *ep, kc_error_t *err)
{
	const char *path = ep;
	struct stat st;

	if (strncmp(path, "unix://", 7) == 0)
		path += 7;
	if (path[0] != '/')
		return kc_error_set(err, EINVAL,
				    "--runtime-endpoint `%s`: not an absolute path "
				    "or unix:// address",
				    ep);
	if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		kc_warn("--runtime-endpoint %s: not a socket now (it is not used: the sandboxes' "
			"CRI metadata comes from their state)",
			ep);
	return 0;
}

static int run(int argc, char **argv, kc_error_t *err)
{
	static const struct option opts[] = {
		{ "listen-address", required_argument, NULL, 'l' },
		{ "runtime-endpoint", required_argument, NULL, 'r' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "scrape-timeout", required_argument, NULL, 't' },
		{ "sandboxes-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *listen = "127.0.0.1:8090", *endpoint = "/run/containerd/containerd.sock";
	struct kc_mon_opts mo = { .sbs_dir = KC_STATE_ROOT, .timeout_ns = 2000000000ull };
	struct server srv = { .sfd = -1 };
	struct sockaddr_storage ss;
	socklen_t sl;
	sigset_t mask;
	unsigned flags;
	int c, ret;

	while ((c = getopt_long_only(argc, argv, "", opts, NULL)) != -1) {
		unsigned long long v;
		enum kc_log_level level;

		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'r':
			endpoint = optarg;
			break;
		case 'v':
			if (parse_level(optarg, &level, err) < 0)
				return -EINVAL;
			kc_log_set_level(level);
			break;
		case 't':
			if (!kc_parse_u64(optarg, &v) || v == 0 || v > 60000)
				return kc_error_set(err, EINVAL,
						    "--scrape-timeout `%s`: want 1 to "
						    "60000 ms",
						    optarg);
			mo.timeout_ns = v * 1000000ull;
			break;
		case 'd':
			if (optarg[0] != '/')
				return kc_error_set(err, EINVAL,
						    "--sandboxes-dir `%s`: not an "
						    "absolute path",
						    optarg);
			mo.sbs_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		return kc_error_set(err, EINVAL, "unexpected argument `%s`", argv[optind]);
	if (check_endpoint(endpoint, err) < 0 || parse_listen(listen, &ss, &sl, err) < 0)
		return -EINVAL;
	(void)sl;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	srv.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (srv.sfd < 0)
		return kc_error_set(err, errno, "signalfd");
	ret = kc_loop_new(&srv.loop, err);
	if (ret == 0)
		ret = kc_mon_new(srv.loop, &mo, &srv.mon, err);
	if (ret < 0)
		goto out;
	flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv.httpd = MHD_start_daemon(flags, 0, NULL, NULL, handle, &srv, MHD_OPTION_EXTERNAL_LOGGER,
				     httpd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				     MHD_OPTION_CONNECTION_LIMIT, 64u,
				     MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (!srv.httpd) {
		ret = kc_error_set(err, EADDRNOTAVAIL, "listen on %s", listen);
		goto out;
	}
	kc_loop_timer_init(&srv.timer, httpd_run, &srv);
	kc_loop_defer_init(&srv.run, httpd_run, &srv);
	ret = kc_loop_watch_fd(srv.loop,
			       MHD_get_daemon_info(srv.httpd, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd,
			       EPOLLIN, httpd_ready, &srv, &srv.watch, err);
	if (ret == 0)
		ret = kc_loop_watch_fd(srv.loop, srv.sfd, EPOLLIN, on_signal, &srv, &srv.sig_watch,
				       err);
	if (ret < 0)
		goto out;
	kc_info("listening on %s, sandboxes under %s", listen, mo.sbs_dir);
	ret = kc_loop_run(srv.loop, err);
out:
	/* Questions in flight are answered (503) and their connections
	 * resumed, which MHD wants before it stops. */
	kc_mon_free(srv.mon);
	if (srv.httpd) {
		MHD_run(srv.httpd);
		MHD_stop_daemon(srv.httpd);
	}
	if (srv.loop)
		kc_loop_free(srv.loop);
	if (srv.sfd >= 0)
		close(srv.sfd);
	return ret;
}

int main(int argc, char **argv)
{
	cleanup_error kc_error_t err = NULL;

	kc_log_init("kata-monitor", "monitor");
	if (run(argc, argv, &err) < 0) {
		kc_log_error_free(KC_LOG_ERROR, &err, NULL);
		return 1;
	}
	return 0;
}
