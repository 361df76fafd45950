/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded HTTP/1.1 GET over a unix socket (http.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "util.h"

#define HEADERS_MAX (16 * 1024)

struct conn {
	int fd;
	uint64_t deadline; /* CLOCK_MONOTONIC, ms */
	const char *sock;
	char *buf; /* what was read and not consumed: buf[off, len) */
	size_t off, len, cap, max;
	bool eof;
	kc_error_t *err;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passed. */
static int wait_for(struct conn *c, short events, const char *doing)
{
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = events };
		uint64_t now = now_ms();
		int n;

		if (now >= c->deadline)
			return kc_error_set(c->err, ETIMEDOUT, "`%s`: no answer in time while %s",
					    c->sock, doing);
		n = poll(&p, 1, (int)(c->deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kc_error_set(c->err, errno, "`%s`: poll", c->sock);
		if (n > 0)
			return 0;
	}
}

/* Reads more into buf (at most c->max bytes held in all). */
static int fill(struct conn *c, const char *doing)
{
	ssize_t n;
	int ret;

	if (c->eof)
		return kc_error_set(c->err, EPROTO, "`%s`: the answer ended while %s", c->sock,
				    doing);
	if (c->len - c->off >= c->max)
		return kc_error_set(c->err, EFBIG, "`%s`: the answer is larger than %zu bytes",
				    c->sock, c->max);
	if (c->off) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->cap - c->len < 4096) {
		c->cap = c->cap ? c->cap * 2 : 8192;
		if (c->cap > c->max + 1)
			c->cap = c->max + 1;
		c->buf = kc_xrealloc(c->buf, c->cap);
	}
	for (;;) {
		n = read(c->fd, c->buf + c->len, c->cap - 1 - c->len);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return kc_error_set(c->err, errno, "`%s`: read", c->sock);
		ret = wait_for(c, POLLIN, doing);
		if (ret < 0)
			return ret;
	}
	if (n == 0)
		c->eof = true;
	c->len += (size_t)n;
	return 0;
}

/* The next CRLF-terminated line (CR optional), NUL-terminated in place. */
static int line(struct conn *c, size_t max, const char *doing, char **out)
{
	size_t scanned = 0;
	int ret;

	for (;;) {
		char *nl = c->buf ? memchr(c->buf + c->off + scanned, '\n',
					   c->len - c->off - scanned)
				  : NULL;

		if (nl) {
			*out = c->buf + c->off;
			*nl = '\0';
			if (nl > *out && nl[-1] == '\r')
				nl[-1] = '\0';
			c->off = (size_t)(nl - c->buf) + 1;
			return 0;
		}
		scanned = c->len - c->off;
		if (scanned > max)
			return kc_error_set(c->err, EPROTO,
					    "`%s`: a line longer than %zu bytes "
					    "while %s",
					    c->sock, max, doing);
		if (c->eof)
			return kc_error_set(c->err, EPROTO, "`%s`: the answer ended while %s",
					    c->sock, doing);
		ret = fill(c, doing);
		if (ret < 0)
			return ret;
	}
}

static int append(struct conn *c, struct kc_http_response *r, size_t max_body, size_t n,
		  const char *doing)
{
	while (n) {
		size_t have = c->len - c->off, take = have < n ? have : n;
		int ret;

		if (!have) {
			ret = fill(c, doing);
			if (ret < 0)
				return ret;
			if (c->len == c->off && c->eof)
				return kc_error_set(c->err, EPROTO,
						    "`%s`: the answer ended while %s", c->sock,
						    doing);
			continue;
		}
		if (r->len + take > max_body)
			return kc_error_set(c->err, EFBIG, "`%s`: the body is larger than %zu bytes",
					    c->sock, max_body);
		r->body = kc_xrealloc(r->body, r->len + take + 1);
		memcpy(r->body + r->len, c->buf + c->off, take);
		r->len += take;
		r->body[r->len] = '\0';
		c->off += take;
		n -= take;
	}
	return 0;
}

static int parse_size(const char *s, int base, size_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	while (*end == ' ' || *end == '\t')
		end++;
	/* A chunk size may carry extensions after ';'. */
	if (errno || (*end && !(base == 16 && *end == ';')) || v > SIZE_MAX / 2)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int read_answer(struct conn *c, size_t max_body, struct kc_http_response *r)
{
	bool chunked = false, have_len = false;
	size_t clen = 0;
	char *l;
	int ret, minor, status, n = 0;

	ret = line(c, HEADERS_MAX, "reading the status line", &l);
	if (ret < 0)
		return ret;
	if (sscanf(l, "HTTP/1.%1d %3d%n", &minor, &status, &n) != 2 || n != 12 ||
	    (l[n] != ' ' && l[n] != '\0') || status < 100 || status > 599)
		return kc_error_set(c->err, EPROTO, "`%s`: not an HTTP/1.x status line: `%.64s`",
				    c->sock, l);
	r->status = status;
	for (size_t total = 0;;) {
		char *colon, *v;

		ret = line(c, HEADERS_MAX, "reading the headers", &l);
		if (ret < 0)
			return ret;
		total += strlen(l) + 2;
		if (total > HEADERS_MAX)
			return kc_error_set(c->err, EPROTO, "`%s`: headers over %d bytes", c->sock,
					    HEADERS_MAX);
		if (!*l)
			break;
		colon = strchr(l, ':');
		if (!colon || colon == l)
			return kc_error_set(c->err, EPROTO, "`%s`: a malformed header `%.64s`",
					    c->sock, l);
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = '\0';
		if (strcasecmp(l, "Content-Length") == 0) {
			if (parse_size(v, 10, &clen) < 0)
				return kc_error_set(c->err, EPROTO,
						    "`%s`: a bad Content-Length `%.32s`", c->sock,
						    v);
			have_len = true;
		} else if (strcasecmp(l, "Transfer-Encoding") == 0) {
			if (strcasecmp(v, "chunked") != 0)
				return kc_error_set(c->err, EPROTO,
						    "`%s`: an unknown Transfer-Encoding `%.32s`",
						    c->sock, v);
			chunked = true;
		} else if (strcasecmp(l, "Content-Type") == 0 && !r->content_type) {
			r->content_type = kc_xstrdup(v);
		}
	}
	r->body = kc_xstrdup("");
	if (chunked) {
		for (;;) {
			size_t sz;

			ret = line(c, 256, "reading a chunk size", &l);
			if (ret < 0)
				return ret;
			if (parse_size(l, 16, &sz) < 0)
				return kc_error_set(c->err, EPROTO,
						    "`%s`: a bad chunk size `%.32s`", c->sock, l);
			if (sz == 0)
				break;
			if (sz > max_body)
				return kc_error_set(c->err, EFBIG,
						    "`%s`: the body is larger than %zu bytes",
						    c->sock, max_body);
			ret = append(c, r, max_body, sz, "reading a chunk");
			if (ret >= 0)
				ret = line(c, 2, "reading a chunk's end", &l);
			if (ret < 0)
				return ret;
			if (*l)
				return kc_error_set(c->err, EPROTO,
						    "`%s`: a chunk longer than said", c->sock);
		}
		/* Trailers, up to the empty line. */
		do {
			ret = line(c, HEADERS_MAX, "reading the trailers", &l);
			if (ret < 0)
				return ret;
		} while (*l);
		return 0;
	}
	if (have_len) {
		if (clen > max_body)
			return kc_error_set(c->err, EFBIG, "`%s`: the body is larger than %zu bytes",
					    c->sock, max_body);
		return append(c, r, max_body, clen, "reading the body");
	}
	/* To the end of the stream. */
	for (;;) {
		size_t have = c->len - c->off;

		if (have) {
			ret = append(c, r, max_body, have, "reading the body");
			if (ret < 0)
				return ret;
		}
		if (c->eof)
			return 0;
		ret = fill(c, "reading the body");
		if (ret < 0)
			return ret;
	}
}

int kc_http_get_unix(const char *socket_path, const char *path, unsigned timeout_ms,
		     size_t max_body, struct kc_http_response *resp, kc_error_t *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_free char *req = NULL;
	struct conn c = { .fd = -1, .sock = socket_path, .err = err };
	size_t off = 0, req_len;
	int ret;

	memset(resp, 0, sizeof(*resp));
	if (!path || path[0] != '/' || strpbrk(path, " \r\n"))
		return kc_error_set(err, EINVAL, "`%s` is not an HTTP path", path ? path : "");
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return kc_error_set(err, ENAMETOOLONG, "`%s`: a socket path too long", socket_path);
	strcpy(sa.sun_path, socket_path);
	c.deadline = now_ms() + timeout_ms;
	c.max = HEADERS_MAX + max_body + 64;
	c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c.fd < 0)
		return kc_error_set(err, errno, "socket");
	/* A unix connect does not block on a listening socket: EAGAIN means
	 * its backlog is full. */
	if (connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = kc_error_set(err, errno, "connect to `%s`%s", socket_path,
				   errno == EAGAIN ? " (its backlog is full)" : "");
		goto out;
	}
	req = kc_xasprintf("GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: kata-c\r\n"
			   "Accept: */*\r\nConnection: close\r\n\r\n",
			   path);
	req_len = strlen(req);
	while (off < req_len) {
		ssize_t n = send(c.fd, req + off, req_len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ret = wait_for(&c, POLLOUT, "sending the request");
			if (ret < 0)
				goto out;
			continue;
		}
		if (n < 0) {
			ret = kc_error_set(err, errno, "`%s`: send", socket_path);
			goto out;
		}
		off += (size_t)n;
	}
	ret = read_answer(&c, max_body, resp);
out:
	if (ret < 0)
		kc_http_response_clear(resp);
	free(c.buf);
	close(c.fd);
	return ret < 0 ? ret : 0;
}

void kc_http_response_clear(struct kc_http_response *resp)
{
	free(resp->content_type);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}
