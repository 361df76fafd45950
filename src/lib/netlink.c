/* SPDX-License-Identifier: Apache-2.0 */
/* The rtnetlink client of the agent and the host (see netlink.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink.h"

/* A dump answer carries many messages; the kernel fills at most one page
 * or so per datagram unless told otherwise, 32 KiB is ample. */
#define RECV_BUF (32 * 1024)

int kc_nl_open(struct kc_nl *nl, kc_error_t *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof(sa);
	int one = 1;

	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return kc_error_set(err, errno, "netlink socket");
	/* Extended acks give the kernel's reason ("prefix too long"). */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(nl->fd, (struct sockaddr *)&sa, &salen) < 0) {
		int e = errno;

		close(nl->fd);
		nl->fd = -1;
		return kc_error_set(err, e, "netlink bind");
	}
	nl->portid = sa.nl_pid;
	nl->seq = 1;
	return 0;
}

void kc_nl_close(struct kc_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

void *kc_nl_msg_init(struct kc_nl_msg *m, uint16_t type, uint16_t flags, size_t hdr_len)
{
	memset(m->buf, 0, NLMSG_SPACE(hdr_len));
	m->overflow = false;
	m->nlh.nlmsg_len = NLMSG_LENGTH(hdr_len);
	m->nlh.nlmsg_type = type;
	m->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
	return NLMSG_DATA(&m->nlh);
}

void kc_nl_put(struct kc_nl_msg *m, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(m->nlh.nlmsg_len);
	struct rtattr *rta;

	if (m->overflow || off + RTA_SPACE(len) > sizeof(m->buf)) {
		m->overflow = true;
		return;
	}
	rta = (struct rtattr *)(m->buf + off);
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	memset((uint8_t *)RTA_DATA(rta) + len, 0, RTA_SPACE(len) - RTA_LENGTH(len));
	m->nlh.nlmsg_len = off + RTA_SPACE(len);
}

void kc_nl_put_u32(struct kc_nl_msg *m, uint16_t type, uint32_t v)
{
	kc_nl_put(m, type, &v, sizeof(v));
}

void kc_nl_put_str(struct kc_nl_msg *m, uint16_t type, const char *s)
{
	kc_nl_put(m, type, s, strlen(s) + 1);
}

struct rtattr *kc_nl_nest_start(struct kc_nl_msg *m, uint16_t type)
{
	size_t off = NLMSG_ALIGN(m->nlh.nlmsg_len);

	kc_nl_put(m, type, NULL, 0);
	return m->overflow ? NULL : (struct rtattr *)(m->buf + off);
}

void kc_nl_nest_end(struct kc_nl_msg *m, struct rtattr *nest)
{
	if (nest && !m->overflow)
		nest->rta_len = (unsigned short)(m->buf + m->nlh.nlmsg_len - (uint8_t *)nest);
}

static int send_msg(struct kc_nl *nl, struct kc_nl_msg *m, const char *what, kc_error_t *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (m->overflow)
		return kc_error_set(err, EMSGSIZE, "%s: netlink request too large", what);
	m->nlh.nlmsg_seq = ++nl->seq;
	m->nlh.nlmsg_pid = nl->portid;
	if (sendto(nl->fd, m->buf, m->nlh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kc_error_set(err, errno, "%s: netlink send", what);
	return 0;
}

/* The extended ack's message, if the kernel gave one. */
static const char *ext_ack_msg(const struct nlmsghdr *h)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off = sizeof(*e);
	const struct rtattr *tb[NLMSGERR_ATTR_MAX + 1] = { 0 };
	const uint8_t *p;
	size_t len;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	/* Without NLM_F_CAPPED the whole request is echoed before the TLVs. */
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < sizeof(e->msg))
			return NULL;
		off += e->msg.nlmsg_len - sizeof(e->msg);
	}
	if (NLMSG_LENGTH(off) > h->nlmsg_len)
		return NULL;
	p = (const uint8_t *)NLMSG_DATA(h) + NLMSG_ALIGN(off);
	len = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(off));
	for (const struct rtattr *a = (const void *)p; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type <= NLMSGERR_ATTR_MAX)
			tb[a->rta_type] = a;
	return kc_nl_get_str(tb[NLMSGERR_ATTR_MSG]);
}

/* Reads answers to the last request; fn (may be NULL) gets data
 * messages.  Ends at the ack (requests) or NLMSG_DONE (dumps). */
static int receive(struct kc_nl *nl, kc_nl_dump_fn fn, void *data, const char *what, kc_error_t *err)
{
	uint8_t buf[RECV_BUF] __attribute__((aligned(8)));

	for (;;) {
		ssize_t n = recv(nl->fd, buf, sizeof(buf), 0);
		size_t len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kc_error_set(err, errno, "%s: netlink receive", what);
		len = (size_t)n;
		for (const struct nlmsghdr *h = (const void *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != nl->seq || h->nlmsg_pid != nl->portid)
				continue; /* a late answer to an earlier request */
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_NOOP || h->nlmsg_type == NLMSG_OVERRUN)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				const char *why;

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return kc_error_set(err, EBADMSG, "%s: short netlink error",
							    what);
				if (e->error == 0)
					return 0;
				why = ext_ack_msg(h);
				if (why)
					return kc_error_set(err, -e->error, "%s (%s)", what, why);
				return kc_error_set(err, -e->error, "%s", what);
			}
			if (fn) {
				int ret = fn(h, data, err);

				if (ret < 0)
					return ret;
			}
		}
	}
}

int kc_nl_request(struct kc_nl *nl, struct kc_nl_msg *m, const char *what, kc_error_t *err)
{
	int ret;

	m->nlh.nlmsg_flags |= NLM_F_ACK;
	ret = send_msg(nl, m, what, err);
	if (ret < 0)
		return ret;
	return receive(nl, NULL, NULL, what, err);
}

/* A dump stopped early leaves answers queued: read them away so the next
 * request starts clean. */
static void drain(struct kc_nl *nl)
{
	uint8_t buf[4096];

	while (recv(nl->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int kc_nl_dump(struct kc_nl *nl, struct kc_nl_msg *m, kc_nl_dump_fn fn, void *data,
	       const char *what, kc_error_t *err)
{
	int ret;

	m->nlh.nlmsg_flags |= NLM_F_DUMP;
	ret = send_msg(nl, m, what, err);
	if (ret < 0)
		return ret;
	ret = receive(nl, fn, data, what, err);
	if (ret < 0)
		drain(nl);
	return ret;
}

static void parse_attrs(const struct rtattr *a, size_t len, const struct rtattr **tb, size_t max)
{
	memset(tb, 0, (max + 1) * sizeof(*tb));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		unsigned short type = a->rta_type & NLA_TYPE_MASK;

		if (type <= max)
			tb[type] = a;
	}
}

void kc_nl_parse(const struct nlmsghdr *h, size_t hdr_len, const struct rtattr **tb, size_t max)
{
	size_t off = NLMSG_SPACE(hdr_len);

	if (h->nlmsg_len < off) {
		memset(tb, 0, (max + 1) * sizeof(*tb));
		return;
	}
	parse_attrs((const struct rtattr *)((const uint8_t *)h + off), h->nlmsg_len - off, tb, max);
}

void kc_nl_parse_nested(const struct rtattr *rta, const struct rtattr **tb, size_t max)
{
	parse_attrs(RTA_DATA(rta), RTA_PAYLOAD(rta), tb, max);
}

uint32_t kc_nl_get_u32(const struct rtattr *a)
{
	uint32_t v;

	if (!a || RTA_PAYLOAD(a) < sizeof(v))
		return 0;
	memcpy(&v, RTA_DATA(a), sizeof(v));
	return v;
}

const char *kc_nl_get_str(const struct rtattr *a)
{
	const char *s;
	size_t n;

	if (!a)
		return NULL;
	s = RTA_DATA(a);
	n = RTA_PAYLOAD(a);
	if (n == 0 || s[n - 1] != '\0')
		return NULL;
	return s;
}
