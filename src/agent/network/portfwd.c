/* SPDX-License-Identifier: Apache-2.0 */
/* Port forwarding, the guest's half (see portfwd.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent/container/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "portfwd.h"

struct kc_agent_pfwd {
	struct kc_agent_pfwd *next;
	struct kc_agent *agent;
	uint64_t id;
	unsigned port;
	int fd; /* the socket; -1 between two connect attempts */
	bool open; /* connected, and its id given out */
	bool write_shut; /* PortForwardCloseWrite */
	/* The connect: the families to try in order, the one being tried,
	 * the failures so far.  addr is the address tried, then the one
	 * connected to ("127.0.0.1:8080", "[::1]:8080"). */
	int families[2];
	size_t n_families, attempt;
	char *failures;
	int last_errno;
	char addr[INET6_ADDRSTRLEN + 16];
	struct kc_ttrpc_call *opener; /* PortForwardOpen, until connected */
	/* EPOLLOUT on fd while connecting, on wfd (a dup of fd: the stream
	 * watches fd itself) while a write is held. */
	struct kc_loop_watch *watch;
	int wfd;
	struct kc_ttrpc_call *writer; /* the held PortForwardWrite */
	uint8_t *wbuf;
	size_t wlen;
	struct kc_agent_stream in; /* what the guest's side sends; fd borrowed */
};

/* ---- sessions ---- */

static void watch_drop(struct kc_agent_pfwd *s)
{
	if (s->watch)
		kc_loop_watch_remove(s->watch);
	s->watch = NULL;
}

/* The held write's watch, dup and copy go; its call is the caller's. */
static struct kc_ttrpc_call *take_writer(struct kc_agent_pfwd *s)
{
	struct kc_ttrpc_call *call = s->writer;

	s->writer = NULL;
	if (call)
		kc_ttrpc_call_set_cancel(call, NULL, NULL);
	watch_drop(s);
	if (s->wfd >= 0)
		close(s->wfd);
	s->wfd = -1;
	free(s->wbuf);
	s->wbuf = NULL;
	s->wlen = 0;
	return call;
}

static struct kc_ttrpc_call *take_opener(struct kc_agent_pfwd *s)
{
	struct kc_ttrpc_call *call = s->opener;

	s->opener = NULL;
	if (call)
		kc_ttrpc_call_set_cancel(call, NULL, NULL);
	return call;
}

/* Unlinks s, fails its held calls with code/why, closes its fds, frees it. */
static void pfwd_free(struct kc_agent_pfwd *s, int code, const char *why)
{
	struct kc_agent *a = s->agent;
	struct kc_ttrpc_call *call;

	for (struct kc_agent_pfwd **pp = &a->pfwds; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			a->n_pfwds--;
			break;
		}
	}
	call = take_opener(s);
	if (call)
		kc_ttrpc_call_fail(call, code, "%s", why);
	call = take_writer(s);
	if (call)
		kc_ttrpc_call_fail(call, code, "%s", why);
	kc_agent_stream_release(&s->in, code, why);
	watch_drop(s);
	if (s->fd >= 0)
		close(s->fd);
	if (s->open)
		kc_debug("port-forward session %llu (%s) closed", (unsigned long long)s->id,
			 s->addr);
	free(s->failures);
	free(s);
}

void kc_agent_pfwd_close_all(struct kc_agent *a, int code, const char *why)
{
	while (a->pfwds)
		pfwd_free(a->pfwds, code, why);
}

/* The open session named by the request, or NULL with call failed. */
static struct kc_agent_pfwd *find_open(struct kc_agent *a, struct kc_ttrpc_call *call, uint64_t id)
{
	if (id == 0) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
				   "%s: session is 0 (not set; PortForwardOpen's answer names one)",
				   kc_ttrpc_call_method(call));
		return NULL;
	}
	for (struct kc_agent_pfwd *s = a->pfwds; s; s = s->next)
		if (s->id == id && s->open)
			return s;
	kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND,
			   "%s: no port-forward session %llu (never opened, or closed)",
			   kc_ttrpc_call_method(call), (unsigned long long)id);
	return NULL;
}

/* ---- connecting ---- */

static void connect_next(struct kc_agent_pfwd *s);

/* The attempt under way failed with errno e: noted, its socket closed. */
static void attempt_failed(struct kc_agent_pfwd *s, const char *what, int e)
{
	char *f = kc_xasprintf("%s%s%s %s in the guest: %s", s->failures ? s->failures : "",
			       s->failures ? "; " : "", what, s->addr, strerror(e));

	free(s->failures);
	s->failures = f;
	s->last_errno = e;
	watch_drop(s);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->attempt++;
}

static void connected(struct kc_agent_pfwd *s)
{
	Grpc__PortForwardOpenResponse resp = GRPC__PORT_FORWARD_OPEN_RESPONSE__INIT;
	struct kc_ttrpc_call *call = take_opener(s);

	watch_drop(s);
	s->open = true;
	s->in.fd = s->fd;
	resp.session = s->id;
	kc_debug("port-forward session %llu: connected to %s", (unsigned long long)s->id, s->addr);
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

static void on_connect_done(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_agent_pfwd *s = data;
	socklen_t len = sizeof(int);
	int e = 0;

	(void)w;
	(void)events;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e == 0) {
		connected(s);
		return;
	}
	attempt_failed(s, "connect", e);
	connect_next(s);
}

/* Tries the families left in order; the last failure fails the open and
 * frees s. */
static void connect_next(struct kc_agent_pfwd *s)
{
	struct kc_ttrpc_call *call;

	while (s->attempt < s->n_families) {
		int family = s->families[s->attempt];
		struct sockaddr_in in4 = { .sin_family = AF_INET };
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
		const struct sockaddr *sa;
		socklen_t salen;
		cleanup_error kc_error_t err = NULL;

		if (family == AF_INET) {
			in4.sin_port = htons((uint16_t)s->port);
			in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			sa = (const struct sockaddr *)&in4;
			salen = sizeof(in4);
			snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%u", s->port);
		} else {
			in6.sin6_port = htons((uint16_t)s->port);
			in6.sin6_addr = in6addr_loopback;
			sa = (const struct sockaddr *)&in6;
			salen = sizeof(in6);
			snprintf(s->addr, sizeof(s->addr), "[::1]:%u", s->port);
		}
		s->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
		if (s->fd < 0) {
			attempt_failed(s, "socket for", errno);
			continue;
		}
		if (connect(s->fd, sa, salen) == 0) {
			connected(s);
			return;
		}
		if (errno != EINPROGRESS) {
			attempt_failed(s, "connect", errno);
			continue;
		}
		if (kc_loop_watch_fd(s->agent->loop, s->fd, EPOLLOUT, on_connect_done, s, &s->watch,
				     &err) < 0) {
			attempt_failed(s, "watch the connect to", err->status);
			continue;
		}
		return; /* on_connect_done goes on */
	}
	call = take_opener(s);
	kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(s->last_errno), "PortForwardOpen: %s",
			   s->failures);
	pfwd_free(s, KC_TTRPC_UNAVAILABLE, "connect failed");
}

/* The caller of PortForwardOpen gave up: nobody will learn the session's
 * id, so it goes. */
static void open_cancelled(struct kc_ttrpc_call *call, void *data)
{
	struct kc_agent_pfwd *s = data;

	s->opener = NULL;
	pfwd_free(s, KC_TTRPC_CANCELLED, "cancelled");
	kc_ttrpc_call_fail(call, KC_TTRPC_CANCELLED, "cancelled");
}

void kc_agent_h_port_forward_open(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__PortForwardOpenRequest *req = (const void *)m;
	struct kc_agent *a = data;
	struct kc_agent_pfwd *s;

	if (!a->sandbox_created || a->destroyer) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION, "PortForwardOpen: %s",
				   a->destroyer ? "the sandbox is being destroyed"
						: "no sandbox yet (CreateSandbox first)");
		return;
	}
	if (req->port == 0 || req->port > 65535) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
				   "PortForwardOpen: port %u is not a TCP port (1 to 65535)",
				   req->port);
		return;
	}
	if ((int)req->family < GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_ANY ||
	    (int)req->family > GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_IPV6) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
				   "PortForwardOpen: unknown family %d (0 any, 1 IPv4, 2 IPv6)",
				   (int)req->family);
		return;
	}
	if (a->n_pfwds >= KC_AGENT_PFWD_MAX) {
		kc_ttrpc_call_fail(call, KC_TTRPC_RESOURCE_EXHAUSTED,
				   "PortForwardOpen: %d port-forward sessions are open, the most "
				   "the agent keeps; close one first",
				   KC_AGENT_PFWD_MAX);
		return;
	}
	s = kc_xzalloc(sizeof(*s));
	s->agent = a;
	s->id = ++a->pfwd_last_id;
	s->port = req->port;
	s->fd = s->wfd = -1;
	s->in.fd = -1;
	s->in.agent = a;
	s->in.is_socket = true;
	switch (req->family) {
	case GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_IPV4:
		s->families[s->n_families++] = AF_INET;
		break;
	case GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_IPV6:
		s->families[s->n_families++] = AF_INET6;
		break;
	default:
		/* containerd's order: tcp4 localhost, then tcp6. */
		s->families[s->n_families++] = AF_INET;
		s->families[s->n_families++] = AF_INET6;
		break;
	}
	s->next = a->pfwds;
	a->pfwds = s;
	a->n_pfwds++;
	s->opener = call;
	kc_ttrpc_call_set_cancel(call, open_cancelled, s);
	connect_next(s);
}

/* ---- reading, writing, closing ---- */

void kc_agent_h_port_forward_read(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__PortForwardReadRequest *req = (const void *)m;
	struct kc_agent_pfwd *s = find_open(data, call, req->session);
	size_t len = req->len;

	if (!s)
		return;
	if (len == 0 || len > KC_AGENT_PFWD_READ_MAX)
		len = KC_AGENT_PFWD_READ_MAX;
	kc_agent_stream_read(&s->in, call, len);
}

static void reply_written(struct kc_ttrpc_call *call, size_t n)
{
	Grpc__WriteStreamResponse resp = GRPC__WRITE_STREAM_RESPONSE__INIT;

	resp.len = (uint32_t)n;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

static void fail_write(struct kc_agent_pfwd *s, struct kc_ttrpc_call *call, int e)
{
	kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(e),
			   "PortForwardWrite: session %llu: write to %s in the guest: %s",
			   (unsigned long long)s->id, s->addr, strerror(e));
}

static void on_writable(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_agent_pfwd *s = data;
	struct kc_ttrpc_call *call;
	ssize_t n;

	(void)w;
	(void)fd;
	(void)events;
	n = send(s->fd, s->wbuf, s->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	{
		int e = errno;

		call = take_writer(s);
		if (n < 0)
			fail_write(s, call, e);
		else
			reply_written(call, (size_t)n);
	}
}

static void write_cancelled(struct kc_ttrpc_call *call, void *data)
{
	struct kc_agent_pfwd *s = data;

	s->writer = NULL;
	take_writer(s);
	kc_ttrpc_call_fail(call, KC_TTRPC_CANCELLED, "cancelled");
}

void kc_agent_h_port_forward_write(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__PortForwardWriteRequest *req = (const void *)m;
	struct kc_agent *a = data;
	struct kc_agent_pfwd *s = find_open(a, call, req->session);
	cleanup_error kc_error_t err = NULL;
	ssize_t n;

	if (!s)
		return;
	if (s->write_shut) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "PortForwardWrite: session %llu was closed for writing "
				   "(PortForwardCloseWrite)",
				   (unsigned long long)s->id);
		return;
	}
	if (s->writer) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "PortForwardWrite: session %llu already has a write waiting for "
				   "the connection (one at a time)",
				   (unsigned long long)s->id);
		return;
	}
	if (req->data.len == 0) {
		reply_written(call, 0);
		return;
	}
	n = send(s->fd, req->data.data, req->data.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n >= 0) {
		reply_written(call, (size_t)n);
		return;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		fail_write(s, call, errno);
		return;
	}
	/* The connection takes nothing now: the call waits for it, with a
	 * bounded copy of the data's start. */
	s->wfd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
	if (s->wfd < 0) {
		fail_write(s, call, errno);
		return;
	}
	if (kc_loop_watch_fd(a->loop, s->wfd, EPOLLOUT, on_writable, s, &s->watch, &err) < 0) {
		close(s->wfd);
		s->wfd = -1;
		fail_write(s, call, err->status);
		return;
	}
	s->wlen = req->data.len < KC_AGENT_PFWD_HOLD_MAX ? req->data.len : KC_AGENT_PFWD_HOLD_MAX;
	s->wbuf = kc_xmalloc(s->wlen);
	memcpy(s->wbuf, req->data.data, s->wlen);
	s->writer = call;
	kc_ttrpc_call_set_cancel(call, write_cancelled, s);
}

void kc_agent_h_port_forward_close_write(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
					 void *data)
{
	const Grpc__PortForwardSessionRequest *req = (const void *)m;
	struct kc_agent_pfwd *s = find_open(data, call, req->session);

	if (!s)
		return;
	if (s->writer) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "PortForwardCloseWrite: session %llu has a write waiting; close "
				   "once it is answered",
				   (unsigned long long)s->id);
		return;
	}
	/* A connection the peer reset is not connected any more: closed for
	 * writing all the same. */
	if (!s->write_shut && shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
		kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(errno),
				   "PortForwardCloseWrite: session %llu: shutdown %s: %s",
				   (unsigned long long)s->id, s->addr, strerror(errno));
		return;
	}
	s->write_shut = true;
	kc_ttrpc_call_reply_msg(call, NULL);
}

void kc_agent_h_port_forward_close(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__PortForwardSessionRequest *req = (const void *)m;
	struct kc_agent_pfwd *s = find_open(data, call, req->session);
	char why[96];

	if (!s)
		return;
	snprintf(why, sizeof(why), "port-forward session %llu was closed",
		 (unsigned long long)s->id);
	pfwd_free(s, KC_TTRPC_CANCELLED, why);
	kc_ttrpc_call_reply_msg(call, NULL);
}
