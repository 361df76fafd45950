/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-monitor: the host's Kata sandboxes' metrics in one Prometheus
 * endpoint (docs/kata-monitor.md).  One thread, one event loop: the HTTP
 * server (ttrpc/httpd.h, the shim's too) and the scrapes (monitor.c) share
 * it.  A question that waits for shims is answered later, from monitor.c's
 * callback; a connection that ends first cancels its question.
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

#include "lib/log.h"
#include "lib/util.h"
#include "monitor.h"
#include "sandbox/state.h"
#include "ttrpc/httpd.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROM_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define MAX_CONNS 64
#define LISTEN_BACKLOG 64
/* The head's deadline, and the answer's beyond the scrape's bound. */
#define DEADLINE_NS (30ull * 1000000000ull)

struct server {
	struct kc_loop *loop;
	struct kc_mon *mon;
	struct kc_httpd *httpd;
	int listen_fd;
	int sfd;
	struct kc_loop_watch *sig_watch;
};

/* A question to the monitor (/metrics, /agent-url) in flight. */
struct request {
	struct kc_httpd_req *req;
	struct kc_mon_req q;
	const char *type;
};

static void answered(void *data, unsigned status, const char *body, size_t len)
{
	struct request *rq = data;
	char *copy = kc_xmalloc(len ? len : 1);

	memcpy(copy, body, len);
	kc_httpd_reply(rq->req, status, rq->type, copy, len);
	free(rq);
}

/* The connection ended first: its deadline, its peer gone, the server
 * stopping. */
static void on_cancel(void *data)
{
	struct request *rq = data;

	kc_mon_cancel(&rq->q);
	free(rq);
}

static struct request *request_new(struct kc_httpd_req *req, const char *type)
{
	struct request *rq = kc_xzalloc(sizeof(*rq));

	rq->req = req;
	rq->type = type;
	rq->q.fn = answered;
	rq->q.data = rq;
	kc_httpd_req_on_cancel(req, on_cancel, rq);
	return rq;
}

static void h_metrics(struct kc_httpd_req *req, void *data)
{
	struct server *srv = data;

	kc_debug("GET /metrics");
	kc_mon_metrics(srv->mon, &request_new(req, PROM_TEXT)->q);
}

static void h_agent_url(struct kc_httpd_req *req, void *data)
{
	struct server *srv = data;
	cleanup_free char *id = NULL;

	/* A bad escape is no sandbox id: NULL, which kc_mon answers 400. */
	if (kc_httpd_req_arg(req, "sandbox", &id) < 0)
		id = NULL;
	kc_debug("GET /agent-url?%s", kc_httpd_req_query(req) ? kc_httpd_req_query(req) : "");
	kc_mon_agent_url(srv->mon, id, &request_new(req, TEXT_PLAIN)->q);
}

static void h_sandboxes(struct kc_httpd_req *req, void *data)
{
	struct server *srv = data;
	cleanup_error kc_error_t err = NULL;
	char *text = NULL;
	size_t len;

	kc_debug("GET /sandboxes");
	if (kc_mon_sandboxes(srv->mon, &text, &len, &err) < 0) {
		kc_log_error_free(KC_LOG_ERROR, &err, "sandboxes");
		kc_httpd_reply_text(req, 500, "internal error\n");
		return;
	}
	kc_httpd_reply(req, 200, TEXT_PLAIN, text, len);
}

static void h_index(struct kc_httpd_req *req, void *data)
{
	(void)data;
	kc_httpd_reply_text(req, 200,
			    "Available HTTP endpoints:\n/metrics\n/sandboxes\n"
			    "/agent-url?sandbox=ID\n");
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

/* A listening TCP socket on ss, nonblocking.  IPv6 only for an IPv6
 * address, as libmicrohttpd's (which served here before) was. */
static int listen_tcp(const struct sockaddr_storage *ss, socklen_t sl, const char *what, int *out,
		      kc_error_t *err)
{
	int one = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return kc_error_set(err, errno, "listen on %s: socket", what);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)ss, sl) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;

		close(fd);
		return kc_error_set(err, e, "listen on %s", what);
	}
	*out = fd;
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
	struct server srv = { .sfd = -1, .listen_fd = -1 };
	const struct kc_httpd_route routes[] = {
		{ "/metrics", h_metrics, &srv },
		{ "/agent-url", h_agent_url, &srv },
		{ "/sandboxes", h_sandboxes, &srv },
		{ "/", h_index, NULL },
	};
	struct kc_httpd_limits lim = { .max_conns = MAX_CONNS, .any_peer = true };
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = 0;
	sigset_t mask;
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
	/* A question waits for its scrape, up to --scrape-timeout. */
	lim.deadline_ns = mo.timeout_ns + 5000000000ull;
	if (lim.deadline_ns < DEADLINE_NS)
		lim.deadline_ns = DEADLINE_NS;

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
	ret = listen_tcp(&ss, sl, listen, &srv.listen_fd, err);
	if (ret == 0)
		ret = kc_httpd_new(srv.loop, srv.listen_fd, routes, KC_ARRAY_SIZE(routes), &lim,
				   &srv.httpd, err);
	if (ret == 0)
		ret = kc_loop_watch_fd(srv.loop, srv.sfd, EPOLLIN, on_signal, &srv, &srv.sig_watch,
				       err);
	if (ret < 0)
		goto out;
	kc_info("listening on %s, sandboxes under %s", listen, mo.sbs_dir);
	ret = kc_loop_run(srv.loop, err);
out:
	/* The connections first: their questions are cancelled, then the
	 * monitor has none left to answer. */
	kc_httpd_free(srv.httpd);
	if (srv.listen_fd >= 0)
		close(srv.listen_fd);
	kc_mon_free(srv.mon);
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
