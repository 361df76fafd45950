/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port forwarding, the host's half (docs/port-forward.md).  containerd's
 * CRI PortForward dials localhost:PORT inside the pod's network namespace
 * on the host; the pod's servers listen in the VM.  So, in that
 * namespace: a listener of ours on 127.0.0.1:L (and [::1]:L), a NAT
 * REDIRECT of every other loopback TCP connection to it (iptables, which
 * on Debian 12 is iptables-nft), and for each connection caught the
 * original port (SO_ORIGINAL_DST) and a relay through the agent's
 * PortForward* RPCs to the same port on the guest's loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/host.h"
#include "internal.h"
#include "lib/log.h"
#include "lib/util.h"
#include "network/network.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* linux/netfilter_ipv4.h */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* linux/netfilter_ipv6/ip6_tables.h */
#endif

/* Connections relayed at once; more are reset at accept. */
#define PF_MAX_SESSIONS 256
/* The most one PortForwardRead returns, and one PortForwardWrite sends. */
#define PF_READ_LEN (256 * 1024)
#define PF_WRITE_LEN (64 * 1024)

struct kc_portfwd;

struct pf_session {
	struct pf_session *prev, *next;
	struct kc_portfwd *pf;
	int fd; /* the host's connection (containerd's) */
	struct kc_loop_watch *watch;
	uint16_t port;
	uint64_t id; /* the agent's session, 0 before Open answered */
	uint32_t open_call, read_call, write_call, shut_call;
	/* guest -> host: what the last Read gave that the host has not taken */
	uint8_t *out;
	size_t out_len, out_off;
	/* host -> guest: what the Write in flight carries */
	uint8_t in[PF_WRITE_LEN];
	size_t in_len, in_off;
	bool guest_eof; /* the guest's side ended: the host got SHUT_WR */
	bool host_eof; /* the host's side ended: CloseWrite sent */
	bool dead; /* ending: its free is queued */
	struct kc_loop_defer free_defer;
};

struct kc_portfwd {
	struct kc_pod *pod;
	const struct kc_podnet *net;
	int lfd[2]; /* 127.0.0.1:port, [::1]:port; -1: none */
	struct kc_loop_watch *lwatch[2];
	uint16_t port;
	bool rules[2]; /* the REDIRECT of IPv4, IPv6 is in place */
	struct pf_session *sessions;
	unsigned n_sessions;
	bool stopping; /* kc_portfwd_free() runs */
};

/* ---- the namespace: lo, the listener, the redirect ---- */

static const char *const iptables[2] = { "/usr/sbin/iptables", "/usr/sbin/ip6tables" };

/* Runs iptables (family 0) or ip6tables (1) in the pod's namespace (the
 * calling thread is in it: the child is forked there). */
static int run_iptables(int family, const char *op, uint16_t port, kc_error_t *err)
{
	char ports[8];
	const char *dst = family ? "::1" : "127.0.0.0/8";
	char *argv[] = { (char *)iptables[family],
			 "-w",
			 "-t",
			 "nat",
			 (char *)op,
			 "OUTPUT",
			 "-p",
			 "tcp",
			 "-d",
			 (char *)dst,
			 "!",
			 "--dport",
			 ports,
			 "-j",
			 "REDIRECT",
			 "--to-ports",
			 ports,
			 NULL };
	cleanup_free char *out = NULL;
	int ret;

	snprintf(ports, sizeof(ports), "%u", port);
	ret = kc_host_run_capture(argv, 10000, &out, err);
	if (ret <= 0)
		return ret;
	out[strcspn(out, "\n")] = '\0';
	return kc_error_set(
		err, EIO,
		"%s -t nat %s OUTPUT ... REDIRECT --to-ports %u: exited with status %d%s%s",
		iptables[family], op, port, ret, out[0] ? ": " : "", out);
}

/* CNI's loopback plugin brings lo up; a namespace made without it has it
 * down, and then nothing dials localhost at all. */
static int lo_up(kc_error_t *err)
{
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };

	if (s < 0)
		return kc_error_set(err, errno, "socket");
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return kc_error_set(err, errno, "the flags of `lo`");
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	kc_info("port forwarding: `lo` of the pod's namespace was down: set up");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return kc_error_set(err, errno, "set `lo` up");
	return 0;
}

/* A listener on the loopback of family 0 (127.0.0.1) or 1 (::1), on port
 * (0: any, and *port gets it). */
static int listen_lo(int family, uint16_t *port, kc_error_t *err)
{
	cleanup_close int fd = -1;
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1;

	fd = socket(family ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kc_error_set(err, errno, "socket");
	if (family) {
		struct sockaddr_in6 *a = (void *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(*port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(*port);
		len = sizeof(*a);
	}
	if (bind(fd, (void *)&ss, len) < 0)
		return kc_error_set(err, errno, "bind %s:%u", family ? "[::1]" : "127.0.0.1", *port);
	if (listen(fd, 128) < 0)
		return kc_error_set(err, errno, "listen");
	len = sizeof(ss);
	if (getsockname(fd, (void *)&ss, &len) < 0)
		return kc_error_set(err, errno, "getsockname");
	*port = ntohs(family ? ((struct sockaddr_in6 *)&ss)->sin6_port
			     : ((struct sockaddr_in *)&ss)->sin_port);
	return kc_steal_fd(&fd);
}

/* ---- one relayed connection ---- */

static void session_pump(struct pf_session *s);

static void on_closed(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	(void)ctx;
	(void)m;
	if (err)
		kc_debug("PortForwardClose: %s", (*err)->msg);
}

static void session_free_now(struct pf_session *s)
{
	struct kc_portfwd *pf = s->pf;
	struct kc_agent *a = pf->pod->agent;

	s->dead = true;
	kc_loop_defer_cancel(pf->pod->loop, &s->free_defer);
	/* Their callbacks run now and find the session dead. */
	kc_agent_cancel(a, s->open_call);
	kc_agent_cancel(a, s->read_call);
	kc_agent_cancel(a, s->write_call);
	kc_agent_cancel(a, s->shut_call);
	if (s->id) {
		Grpc__PortForwardSessionRequest req = GRPC__PORT_FORWARD_SESSION_REQUEST__INIT;

		req.session = s->id;
		kc_agent_port_forward_close(a, &req, on_closed, NULL);
	}
	if (s->watch)
		kc_loop_watch_remove(s->watch);
	if (s->fd >= 0)
		close(s->fd);
	free(s->out);
	if (s->prev)
		s->prev->next = s->next;
	else
		pf->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pf->n_sessions--;
	free(s);
}

static void on_free_defer(void *data)
{
	session_free_now(data);
}

/* Ends the session (from anywhere, callbacks included: the memory goes on
 * the next turn of the loop).  reset: the host's connection gets a RST, as
 * a refused port would give it. */
static void session_end(struct pf_session *s, bool reset)
{
	if (s->dead)
		return;
	s->dead = true;
	if (reset && s->fd >= 0) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	if (s->watch)
		kc_loop_watch_remove(s->watch);
	s->watch = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	/* An Open in flight is waited for: cancelling it here would leave
	 * the guest's session, once connected, without its Close. */
	if (!s->open_call)
		kc_loop_defer_queue(s->pf->pod->loop, &s->free_defer);
}

static void session_fail(struct pf_session *s, const char *what, kc_error_t *err)
{
	kc_debug("port forward %u (session %llu): %s: %s", s->port, (unsigned long long)s->id, what,
		 err && *err ? (*err)->msg : strerror(errno));
	session_end(s, true);
}

static void on_read(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct pf_session *s = ctx;
	const Grpc__ReadStreamResponse *r = (const void *)m;
	ssize_t n = 0;

	s->read_call = 0;
	if (s->dead)
		return;
	if (err) {
		session_fail(s, "PortForwardRead", err);
		return;
	}
	if (!r || r->data.len == 0) {
		s->guest_eof = true;
		shutdown(s->fd, SHUT_WR);
		session_pump(s);
		return;
	}
	n = send(s->fd, r->data.data, r->data.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno != EAGAIN) {
		session_fail(s, "send to the host's connection", NULL);
		return;
	}
	if (n < 0)
		n = 0;
	if ((size_t)n < r->data.len) {
		s->out_len = r->data.len - (size_t)n;
		s->out_off = 0;
		s->out = kc_xrealloc(s->out, s->out_len);
		memcpy(s->out, r->data.data + n, s->out_len);
	}
	session_pump(s);
}

static void write_more(struct pf_session *s);

static void on_write(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct pf_session *s = ctx;
	const Grpc__WriteStreamResponse *r = (const void *)m;

	s->write_call = 0;
	if (s->dead)
		return;
	if (err) {
		session_fail(s, "PortForwardWrite", err);
		return;
	}
	s->in_off += r ? r->len : 0;
	if (s->in_off > s->in_len)
		s->in_off = s->in_len;
	if (s->in_off < s->in_len) {
		write_more(s);
		return;
	}
	s->in_len = s->in_off = 0;
	session_pump(s);
}

static void write_more(struct pf_session *s)
{
	Grpc__PortForwardWriteRequest req = GRPC__PORT_FORWARD_WRITE_REQUEST__INIT;

	req.session = s->id;
	req.data.data = s->in + s->in_off;
	req.data.len = s->in_len - s->in_off;
	s->write_call = 1; /* busy until answered, also if answered at once */
	s->write_call = kc_agent_port_forward_write(s->pf->pod->agent, &req, on_write, s);
}

static void on_shut(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct pf_session *s = ctx;

	(void)m;
	s->shut_call = 0;
	if (s->dead)
		return;
	if (err) {
		session_fail(s, "PortForwardCloseWrite", err);
		return;
	}
	session_pump(s);
}

static void on_host(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct pf_session *s = data;
	ssize_t n;

	(void)w;
	if (events & EPOLLERR) {
		int e = 0;
		socklen_t elen = sizeof(e);

		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen);
		errno = e ? e : ECONNRESET;
		session_fail(s, "the host's connection", NULL);
		return;
	}
	if (s->out_len && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		n = send(fd, s->out + s->out_off, s->out_len - s->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			session_fail(s, "send to the host's connection", NULL);
			return;
		}
		if (n > 0)
			s->out_off += (size_t)n;
		if (s->out_off == s->out_len)
			s->out_len = s->out_off = 0;
	}
	if (!s->host_eof && !s->write_call && !s->in_len &&
	    (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
		n = recv(fd, s->in, sizeof(s->in), MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			session_fail(s, "recv from the host's connection", NULL);
			return;
		}
		if (n == 0) {
			Grpc__PortForwardSessionRequest req = GRPC__PORT_FORWARD_SESSION_REQUEST__INIT;

			s->host_eof = true;
			req.session = s->id;
			s->shut_call = 1;
			s->shut_call = kc_agent_port_forward_close_write(s->pf->pod->agent, &req,
									 on_shut, s);
			if (s->dead)
				return;
		} else if (n > 0) {
			s->in_len = (size_t)n;
			s->in_off = 0;
			write_more(s);
			if (s->dead)
				return;
		}
	}
	/* Both ways shut: the watch would fire on and on; what is left are
	 * the agent's answers. */
	if ((events & EPOLLHUP) && s->host_eof) {
		kc_loop_watch_remove(s->watch);
		s->watch = NULL;
	}
	session_pump(s);
}

/* Starts what can go on now; ends the session when both ways ended. */
static void session_pump(struct pf_session *s)
{
	cleanup_error kc_error_t err = NULL;
	uint32_t ev = 0;

	if (s->dead)
		return;
	if (s->guest_eof && s->host_eof && !s->write_call && !s->shut_call && !s->in_len &&
	    !s->out_len) {
		session_end(s, false);
		return;
	}
	/* Back-pressure: no Read while the host has not taken the last. */
	if (!s->guest_eof && !s->read_call && !s->out_len) {
		Grpc__PortForwardReadRequest req = GRPC__PORT_FORWARD_READ_REQUEST__INIT;

		req.session = s->id;
		req.len = PF_READ_LEN;
		s->read_call = 1;
		s->read_call = kc_agent_port_forward_read(s->pf->pod->agent, &req, on_read, s);
		if (s->dead)
			return;
	}
	/* ... and no recv while a Write is in flight. */
	if (!s->host_eof && !s->write_call && !s->in_len)
		ev |= EPOLLIN;
	if (s->out_len)
		ev |= EPOLLOUT;
	if (s->watch && kc_loop_watch_events(s->watch) != ev &&
	    kc_loop_watch_set_events(s->watch, ev, &err) < 0)
		session_fail(s, "watch", &err);
}

static void on_open(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct pf_session *s = ctx;
	const Grpc__PortForwardOpenResponse *r = (const void *)m;

	s->open_call = 0;
	if (s->dead) {
		/* Ended while connecting (session_end): free it, closing the
		 * guest's session if it has one. */
		if (!err && r)
			s->id = r->session;
		if (!s->pf->stopping)
			kc_loop_defer_queue(s->pf->pod->loop, &s->free_defer);
		return;
	}
	if (err || !r || !r->session) {
		/* containerd sees its connection reset and reports it. */
		kc_info("port forward to %u: %s", s->port, err ? (*err)->msg : "no session");
		session_end(s, true);
		return;
	}
	s->id = r->session;
	session_pump(s);
}

static void on_accept(struct kc_loop_watch *w, int lfd, uint32_t events, void *data)
{
	struct kc_portfwd *pf = data;
	cleanup_error kc_error_t err = NULL;
	Grpc__PortForwardOpenRequest req = GRPC__PORT_FORWARD_OPEN_REQUEST__INIT;
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	struct pf_session *s;
	uint16_t port;
	int fd;

	(void)w;
	(void)events;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != ECONNABORTED)
			kc_warn("port forwarding: accept: %m");
		return;
	}
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) < 0) {
		len = sizeof(ss);
		if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len) < 0) {
			kc_warn("port forwarding: the original port of a connection: %m");
			close(fd);
			return;
		}
	}
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
	if (port == pf->port || pf->n_sessions >= PF_MAX_SESSIONS) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		if (port != pf->port)
			kc_warn("port forward to %u refused: %d connections already relayed", port,
				PF_MAX_SESSIONS);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(fd);
		return;
	}
	s = kc_xzalloc(sizeof(*s));
	s->pf = pf;
	s->fd = fd;
	s->port = port;
	kc_loop_defer_init(&s->free_defer, on_free_defer, s);
	s->next = pf->sessions;
	if (pf->sessions)
		pf->sessions->prev = s;
	pf->sessions = s;
	pf->n_sessions++;
	if (kc_loop_watch_fd(pf->pod->loop, fd, 0, on_host, s, &s->watch, &err) < 0) {
		session_fail(s, "watch", &err);
		return;
	}
	kc_debug("port forward to %u: connecting in the guest", port);
	req.port = port;
	req.family = GRPC__PORT_FORWARD_FAMILY__PORT_FORWARD_ANY;
	s->open_call = 1;
	s->open_call = kc_agent_port_forward_open(pf->pod->agent, &req, on_open, s);
}

/* ---- the whole ---- */

static void portfwd_unhook(struct kc_portfwd *pf)
{
	cleanup_error kc_error_t err = NULL;
	int saved = -1;

	for (int f = 0; f < 2; f++) {
		if (pf->lwatch[f])
			kc_loop_watch_remove(pf->lwatch[f]);
		pf->lwatch[f] = NULL;
		if (pf->lfd[f] >= 0)
			close(pf->lfd[f]);
		pf->lfd[f] = -1;
	}
	if (!pf->rules[0] && !pf->rules[1])
		return;
	if (kc_podnet_enter(pf->net, &saved, &err) < 0) {
		kc_log_error_free(KC_LOG_WARNING, &err, "port forwarding: removing the redirect");
		return;
	}
	for (int f = 0; f < 2; f++)
		if (pf->rules[f] && run_iptables(f, "-D", pf->port, &err) < 0)
			kc_log_error_free(KC_LOG_WARNING, &err, "port forwarding");
	kc_podnet_leave(&saved);
	pf->rules[0] = pf->rules[1] = false;
}

int kc_portfwd_start(struct kc_pod *pod, struct kc_portfwd **out, kc_error_t *err)
{
	const struct kc_podnet *net = pod->sb ? kc_sandbox_podnet(pod->sb) : NULL;
	struct kc_portfwd *pf;
	int saved = -1, ret = 0;

	*out = NULL;
	if (!net || !net->netns_path)
		return 0;
	pf = kc_xzalloc(sizeof(*pf));
	pf->pod = pod;
	pf->net = net;
	pf->lfd[0] = pf->lfd[1] = -1;
	ret = kc_podnet_enter(net, &saved, err);
	if (ret < 0)
		goto out;
	ret = lo_up(err);
	if (ret >= 0)
		ret = pf->lfd[0] = listen_lo(0, &pf->port, err);
	if (ret >= 0)
		ret = run_iptables(0, "-A", pf->port, err);
	if (ret >= 0) {
		cleanup_error kc_error_t e6 = NULL;

		pf->rules[0] = true;
		/* IPv6 is optional: a namespace without ::1 (IPv6 disabled)
		 * gets IPv4 only, as containerd tries tcp4 first. */
		pf->lfd[1] = listen_lo(1, &pf->port, &e6);
		if (pf->lfd[1] >= 0 && run_iptables(1, "-A", pf->port, &e6) >= 0)
			pf->rules[1] = true;
		if (e6)
			kc_info("port forwarding: no IPv6 loopback: %s", e6->msg);
	}
	kc_podnet_leave(&saved);
	for (int f = 0; ret >= 0 && f < 2; f++)
		if (pf->lfd[f] >= 0)
			ret = kc_loop_watch_fd(pod->loop, pf->lfd[f], EPOLLIN, on_accept, pf,
					       &pf->lwatch[f], err);
out:
	if (ret < 0) {
		kc_error_wrap(err, "port forwarding in `%s`", net->netns_path);
		kc_portfwd_free(pf);
		return ret;
	}
	kc_info("port forwarding: loopback TCP of `%s` goes to the guest (through port %u)",
		net->netns_path, pf->port);
	*out = pf;
	return 0;
}

void kc_portfwd_free(struct kc_portfwd *pf)
{
	if (!pf)
		return;
	pf->stopping = true;
	while (pf->sessions)
		session_free_now(pf->sessions);
	portfwd_unhook(pf);
	free(pf);
}
