/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal HTTP/1.1 server on the event loop (httpd.h). */
#include "httpd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define DEFAULT_CONNS 16
#define DEFAULT_DEADLINE_NS (10ull * 1000000000ull)
#define DEFAULT_HEAD (8 * 1024)
#define ACCEPT_RETRY_NS (100ull * 1000000ull) /* after EMFILE and the like */
#define DRAIN_MAX (64 * 1024)

enum conn_state { READING, HANDLING, WRITING };

struct kc_httpd {
	struct kc_loop *loop;
	int listen_fd;
	struct kc_loop_watch *listen_watch;
	bool accepting;
	struct kc_loop_timer retry; /* accepting again after a failed accept */
	const struct kc_httpd_route *routes;
	size_t n_routes;
	struct kc_httpd_limits lim;
	unsigned n_conns;
	struct kc_httpd_req *conns;
};

/* One connection, and its one request. */
struct kc_httpd_req {
	struct kc_httpd *h;
	struct kc_httpd_req *prev, *next;
	int fd;
	enum conn_state state;
	bool forbidden; /* the peer is neither root nor our euid */
	struct kc_loop_watch *watch;
	struct kc_loop_timer deadline;
	struct kc_loop_defer flush;
	/* READING: the head so far, buf[0, len), checked up to scanned. */
	char *buf;
	size_t len, scanned;
	bool have_line; /* the request line is in and well formed */
	bool get;
	char *path;
	char *query; /* after the '?', NULL for none */
	/* HANDLING */
	kc_loop_fn cancel;
	void *cancel_data;
	/* WRITING: the answer, out[sent, out_len) still to go. */
	char *out;
	size_t out_len, sent;
};

static void set_accepting(struct kc_httpd *h, bool on)
{
	cleanup_error kc_error_t err = NULL;

	on = on && h->n_conns < h->lim.max_conns && !kc_loop_timer_armed(&h->retry);
	if (on == h->accepting)
		return;
	if (kc_loop_watch_set_events(h->listen_watch, on ? EPOLLIN : 0, &err) < 0) {
		kc_log_error_free(KC_LOG_WARNING, &err, "http server: accepting %s",
				  on ? "again" : "no more");
		return;
	}
	h->accepting = on;
}

static void set_events(struct kc_httpd_req *c, uint32_t events)
{
	cleanup_error kc_error_t err = NULL;

	if (kc_loop_watch_set_events(c->watch, events, &err) < 0)
		kc_log_error_free(KC_LOG_WARNING, &err, "http server: a connection's events");
}

static void arm_deadline(struct kc_httpd_req *c)
{
	struct kc_loop *loop = c->h->loop;

	kc_loop_timer_start(loop, &c->deadline, kc_loop_now(loop) + c->h->lim.deadline_ns);
}

/* Ends the connection, answered or not. */
static void conn_close(struct kc_httpd_req *c)
{
	struct kc_httpd *h = c->h;

	if (c->cancel) {
		kc_loop_fn fn = c->cancel;

		c->cancel = NULL;
		fn(c->cancel_data);
	}
	kc_loop_watch_remove(c->watch);
	kc_loop_timer_stop(h->loop, &c->deadline);
	kc_loop_defer_cancel(h->loop, &c->flush);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->buf);
	free(c->path);
	free(c->query);
	free(c->out);
	free(c);
	h->n_conns--;
	set_accepting(h, true);
}

static void on_deadline(void *data)
{
	struct kc_httpd_req *c = data;

	kc_debug("http server: a connection closed at its deadline");
	conn_close(c);
}

/* The answer is out: what the peer sent beyond the head is read (up to a
 * bound) before closing, so that it reads our answer and an end, not a
 * reset. */
static void conn_finish(struct kc_httpd_req *c)
{
	char junk[4096];
	size_t drained = 0;

	shutdown(c->fd, SHUT_WR);
	while (drained < DRAIN_MAX) {
		ssize_t n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (n <= 0)
			break;
		drained += (size_t)n;
	}
	conn_close(c);
}

static void conn_write(struct kc_httpd_req *c)
{
	bool progress = false;

	while (c->sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->sent, c->out_len - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (progress)
				arm_deadline(c);
			set_events(c, EPOLLOUT);
			return;
		}
		if (n < 0) {
			kc_debug("http server: writing an answer: %s", strerror(errno));
			conn_close(c);
			return;
		}
		c->sent += (size_t)n;
		progress = true;
	}
	conn_finish(c);
}

static void on_flush(void *data)
{
	conn_write(data);
}

static const char *reason(unsigned status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

void kc_httpd_reply(struct kc_httpd_req *c, unsigned status, const char *type, char *body,
		    size_t len)
{
	cleanup_free char *head = NULL;
	size_t hl;

	if (c->state == WRITING) { /* answered already: a caller's bug */
		free(body);
		return;
	}
	if (status < 100 || status > 999)
		status = 500;
	if (!type)
		type = "text/plain";
	head = kc_xasprintf("HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			    "Connection: close\r\n\r\n",
			    status, reason(status), type, len,
			    status == 405 ? "Allow: GET\r\n" : "");
	hl = strlen(head);
	c->out = kc_xmalloc(hl + len);
	memcpy(c->out, head, hl);
	if (len)
		memcpy(c->out + hl, body, len);
	free(body);
	c->out_len = hl + len;
	c->sent = 0;
	c->state = WRITING;
	c->cancel = NULL;
	free(c->buf);
	c->buf = NULL;
	/* Written from a deferred callback: the caller may be the handler,
	 * inside this connection's own read callback. */
	set_events(c, 0);
	arm_deadline(c);
	kc_loop_defer_queue(c->h->loop, &c->flush);
}

void kc_httpd_reply_text(struct kc_httpd_req *c, unsigned status, const char *text)
{
	kc_httpd_reply(c, status, "text/plain; charset=utf-8", kc_xstrdup(text), strlen(text));
}

/* An answer of the server's own; a forbidden peer learns nothing else. */
static void answer_error(struct kc_httpd_req *c, unsigned status, const char *why)
{
	cleanup_free char *text = NULL;

	if (c->forbidden) {
		status = 403;
		why = "root or the server's user only";
	}
	kc_debug("http server: %u: %s", status, why);
	text = kc_xasprintf("%u %s: %s\n", status, reason(status), why);
	kc_httpd_reply_text(c, status, text);
}

const char *kc_httpd_req_path(const struct kc_httpd_req *c)
{
	return c->path;
}

const char *kc_httpd_req_query(const struct kc_httpd_req *c)
{
	return c->query;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int kc_httpd_req_arg(const struct kc_httpd_req *c, const char *name, char **value)
{
	size_t nl = strlen(name);
	const char *s = c->query;

	*value = NULL;
	while (s && *s) {
		size_t len = strcspn(s, "&");

		if (len >= nl && strncmp(s, name, nl) == 0 && (len == nl || s[nl] == '=')) {
			const char *v = len == nl ? s + len : s + nl + 1;
			char *out = kc_xmalloc((size_t)(s + len - v) + 1), *o = out;

			for (; v < s + len; v++) {
				int hi, lo;

				if (*v == '+') {
					*o++ = ' ';
					continue;
				}
				if (*v != '%') {
					*o++ = *v;
					continue;
				}
				hi = v + 2 < s + len ? hex_digit(v[1]) : -1;
				lo = hi >= 0 ? hex_digit(v[2]) : -1;
				if (lo < 0 || (hi == 0 && lo == 0)) {
					free(out);
					return -EINVAL;
				}
				*o++ = (char)(hi * 16 + lo);
				v += 2;
			}
			*o = '\0';
			*value = out;
			return 1;
		}
		s += len;
		if (*s == '&')
			s++;
	}
	return 0;
}

void kc_httpd_req_on_cancel(struct kc_httpd_req *c, kc_loop_fn fn, void *data)
{
	c->cancel = fn;
	c->cancel_data = data;
}

static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/*
 * METHOD SP /PATH SP HTTP/D.D, s[0, n) without its CRLF.  Returns 0 (the
 * method and path stored), or the status of the answer and why.
 */
static unsigned parse_request_line(struct kc_httpd_req *c, const char *s, size_t n, const char **why)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, p;
	char *q;

	while (i < n && is_tchar(u[i]))
		i++;
	if (i == 0 || i == n || u[i] != ' ') {
		*why = "the request line does not start with a method and a space";
		return 400;
	}
	if (i > KC_HTTPD_METHOD_MAX) {
		*why = "a method that long";
		return 400;
	}
	c->get = i == 3 && memcmp(s, "GET", 3) == 0;
	p = ++i;
	if (i == n || u[i] != '/') {
		*why = "the path does not start with '/'";
		return 400;
	}
	while (i < n && u[i] > 0x20 && u[i] < 0x7f && u[i] != '#')
		i++;
	if (i == n || u[i] != ' ') {
		*why = "the path is not printable ASCII followed by a space";
		return 400;
	}
	if (i - p > KC_HTTPD_PATH_MAX) {
		*why = "a path over 1024 bytes";
		return 414;
	}
	c->path = kc_xstrndup(s + p, i - p);
	q = strchr(c->path, '?');
	if (q) {
		c->query = kc_xstrdup(q + 1);
		*q = '\0';
	}
	i++;
	if (n - i != 8 || memcmp(s + i, "HTTP/", 5) != 0 || u[i + 5] < '0' || u[i + 5] > '9' ||
	    u[i + 6] != '.' || u[i + 7] < '0' || u[i + 7] > '9') {
		*why = "the request line does not end in HTTP/<digit>.<digit>";
		return 400;
	}
	if (u[i + 5] != '1') {
		*why = "only HTTP/1.x is served";
		return 505;
	}
	return 0;
}

static void dispatch(struct kc_httpd_req *c)
{
	struct kc_httpd *h = c->h;
	const struct kc_httpd_route *r = NULL;

	if (c->forbidden) {
		answer_error(c, 403, "");
		return;
	}
	for (size_t i = 0; i < h->n_routes && !r; i++)
		if (strcmp(h->routes[i].path, c->path) == 0)
			r = &h->routes[i];
	if (!r) {
		answer_error(c, 404, "no such path");
		return;
	}
	if (!c->get) {
		answer_error(c, 405, "GET only");
		return;
	}
	c->state = HANDLING;
	free(c->buf);
	c->buf = NULL;
	/* Only a hang-up is watched for now (EPOLLHUP and EPOLLERR come
	 * unasked); anything pipelined stays unread. */
	set_events(c, 0);
	arm_deadline(c);
	r->fn(c, r->data); /* c may be gone on return */
}

/* Checks the bytes read since the last call; dispatches or answers once
 * the head is in, or something is wrong. */
static void scan(struct kc_httpd_req *c)
{
	const char *b = c->buf;
	size_t i;

	for (i = c->scanned; i < c->len; i++) {
		const char *why = NULL;
		unsigned status;

		if (b[i] == '\0') {
			answer_error(c, 400, "a NUL byte in the request");
			return;
		}
		if (b[i] == '\r') {
			if (i + 1 == c->len)
				break; /* its LF may come next */
			if (b[i + 1] != '\n') {
				answer_error(c, 400, "a CR not followed by LF");
				return;
			}
			continue;
		}
		if (b[i] != '\n')
			continue;
		if (i == 0 || b[i - 1] != '\r') {
			answer_error(c, 400, "a line that does not end in CRLF");
			return;
		}
		if (!c->have_line) {
			status = parse_request_line(c, b, i - 1, &why);
			if (status) {
				answer_error(c, status, why);
				return;
			}
			c->have_line = true;
		} else if (b[i - 2] == '\n') {
			/* An empty line (i >= 3 here: the request line's CRLF
			 * came before): the end of the head. */
			dispatch(c);
			return;
		}
	}
	c->scanned = i;
	if (c->len == c->h->lim.max_head)
		answer_error(c, 431, "no end of the request's head within its bound");
}

static void conn_read(struct kc_httpd_req *c)
{
	size_t max = c->h->lim.max_head;
	ssize_t n;

	if (!c->buf)
		c->buf = kc_xmalloc(max);
	n = recv(c->fd, c->buf + c->len, max - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* The peer is gone before its head was in: nobody to answer. */
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	scan(c);
}

static void on_conn(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_httpd_req *c = data;

	(void)w;
	(void)fd;
	switch (c->state) {
	case READING:
		conn_read(c);
		break;
	case HANDLING:
		if (events & (EPOLLHUP | EPOLLERR))
			conn_close(c);
		break;
	case WRITING:
		conn_write(c);
		break;
	}
}

static void conn_new(struct kc_httpd *h, int fd)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_httpd_req *c = kc_xzalloc(sizeof(*c));
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	c->h = h;
	c->fd = fd;
	c->forbidden = !h->lim.any_peer && (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
					    (cred.uid != 0 && cred.uid != geteuid()));
	kc_loop_timer_init(&c->deadline, on_deadline, c);
	kc_loop_defer_init(&c->flush, on_flush, c);
	if (kc_loop_watch_fd(h->loop, fd, EPOLLIN, on_conn, c, &c->watch, &err) < 0) {
		kc_log_error_free(KC_LOG_WARNING, &err, "http server: a new connection");
		close(fd);
		free(c);
		return;
	}
	c->next = h->conns;
	if (c->next)
		c->next->prev = c;
	h->conns = c;
	h->n_conns++;
	arm_deadline(c);
}

static void on_retry(void *data)
{
	set_accepting(data, true);
}

static void on_listen(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_httpd *h = data;

	(void)w;
	(void)events;
	while (h->n_conns < h->lim.max_conns) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (cfd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (cfd < 0) {
			/* EMFILE, ENOBUFS...: the backlog stays readable, so
			 * a pause rather than a busy loop. */
			kc_debug("http server: accept: %s", strerror(errno));
			kc_loop_timer_start(h->loop, &h->retry,
					    kc_loop_now(h->loop) + ACCEPT_RETRY_NS);
			set_accepting(h, false);
			return;
		}
		conn_new(h, cfd);
	}
	set_accepting(h, false); /* at the limit: until one ends */
}

int kc_httpd_new(struct kc_loop *loop, int listen_fd, const struct kc_httpd_route *routes, size_t n,
		 const struct kc_httpd_limits *limits, struct kc_httpd **out, kc_error_t *err)
{
	struct kc_httpd *h = kc_xzalloc(sizeof(*h));
	int ret;

	h->loop = loop;
	h->listen_fd = listen_fd;
	h->routes = routes;
	h->n_routes = n;
	if (limits)
		h->lim = *limits;
	if (!h->lim.max_conns)
		h->lim.max_conns = DEFAULT_CONNS;
	if (!h->lim.deadline_ns)
		h->lim.deadline_ns = DEFAULT_DEADLINE_NS;
	if (!h->lim.max_head)
		h->lim.max_head = DEFAULT_HEAD;
	kc_loop_timer_init(&h->retry, on_retry, h);
	ret = kc_loop_watch_fd(loop, listen_fd, EPOLLIN, on_listen, h, &h->listen_watch, err);
	if (ret < 0) {
		free(h);
		return kc_error_wrap(err, "http server on fd %d", listen_fd);
	}
	h->accepting = true;
	*out = h;
	return 0;
}

void kc_httpd_free(struct kc_httpd *h)
{
	if (!h)
		return;
	while (h->conns)
		conn_close(h->conns);
	kc_loop_watch_remove(h->listen_watch);
	kc_loop_timer_stop(h->loop, &h->retry);
	free(h);
}
