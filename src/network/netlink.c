/* SPDX-License-Identifier: Apache-2.0 */
#include "netlink.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/util.h"

/* Dumps of a busy namespace arrive in several datagrams of up to a page
 * each; 32 KiB holds what the kernel sends at once. */
#define DUMP_BUF_SIZE 32768

int kc_mnl_open(struct kc_mnl *m, kc_error_t *err)
{
	int one = 1;

	m->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!m->nl)
		return kc_error_set(err, errno, "open rtnetlink socket");
	if (mnl_socket_bind(m->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		mnl_socket_close(m->nl);
		m->nl = NULL;
		return kc_error_set(err, e, "bind rtnetlink socket");
	}
	/* The kernel's reason ("Exclusivity flag on, cannot modify") is
	 * worth more than the bare errno; older kernels ignore the option. */
	(void)mnl_socket_setsockopt(m->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	m->portid = mnl_socket_get_portid(m->nl);
	m->seq = (uint32_t)time(NULL);
	return 0;
}

void kc_mnl_close(struct kc_mnl *m)
{
	if (m->nl)
		mnl_socket_close(m->nl);
	m->nl = NULL;
}

void *kc_mnl_msg(char *buf, struct nlmsghdr **nlh, uint16_t type, uint16_t flags,
		 size_t hdr_len)
{
	memset(buf, 0, KC_MNL_MSG_SIZE);
	*nlh = mnl_nlmsg_put_header(buf);
	(*nlh)->nlmsg_type = type;
	(*nlh)->nlmsg_flags = NLM_F_REQUEST | flags;
	return mnl_nlmsg_put_extra_header(*nlh, hdr_len);
}

/* The text of NLMSGERR_ATTR_MSG in an error message with ack TLVs. */
static const char *extack_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*e);
	const struct nlattr *attr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	/* Without NLM_F_CAPPED the whole request is echoed after the header. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if (mnl_nlmsg_get_payload_len(nlh) < off)
		return NULL;
	mnl_attr_for_each_payload((const void *)((const char *)e + off),
				  mnl_nlmsg_get_payload_len(nlh) - off) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(attr);
	}
	return NULL;
}

static int error_of(const struct nlmsghdr *nlh, const char *what, kc_error_t *err)
{
	const struct nlmsgerr *e;
	const char *why;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return kc_error_set(err, EBADMSG, "%s: short netlink error message", what);
	e = mnl_nlmsg_get_payload(nlh);
	if (e->error == 0)
		return 0;
	why = extack_msg(nlh);
	if (why && why[0])
		return kc_error_set(err, -e->error, "%s (%s)", what, why);
	return kc_error_set(err, -e->error, "%s", what);
}

static int send_msg(struct kc_mnl *m, struct nlmsghdr *nlh, const char *what, kc_error_t *err)
{
	nlh->nlmsg_seq = ++m->seq;
	if (mnl_socket_sendto(m->nl, nlh, nlh->nlmsg_len) < 0)
		return kc_error_set(err, errno, "%s: send netlink request", what);
	return 0;
}

/* Receives answers to the last request; each is checked for our port and
 * sequence number, then handed to cb (NULL: an ack is expected). */
static int recv_answers(struct kc_mnl *m, kc_mnl_dump_cb cb, void *data, const char *what,
			kc_error_t *err)
{
	cleanup_free char *buf = kc_xmalloc(DUMP_BUF_SIZE);

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(m->nl, buf, DUMP_BUF_SIZE);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kc_error_set(err, errno, "%s: receive netlink answer", what);
		}
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != m->seq || nlh->nlmsg_pid != m->portid)
				continue; /* a stale answer to an earlier request */
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				int ret = error_of(nlh, what, err);

				/* A zero error is the ack of a request; a dump
				 * ends with NLMSG_DONE instead. */
				if (ret < 0 || !cb)
					return ret;
				continue;
			}
			if (nlh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_OVERRUN)
				continue;
			if (cb) {
				int ret = cb(nlh, data, err);

				if (ret < 0)
					return ret;
			}
		}
	}
}

int kc_mnl_request(struct kc_mnl *m, struct nlmsghdr *nlh, const char *what, kc_error_t *err)
{
	int ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	ret = send_msg(m, nlh, what, err);
	if (ret < 0)
		return ret;
	return recv_answers(m, NULL, NULL, what, err);
}

int kc_mnl_dump(struct kc_mnl *m, struct nlmsghdr *nlh, kc_mnl_dump_cb cb, void *data,
		const char *what, kc_error_t *err)
{
	int ret;

	nlh->nlmsg_flags |= NLM_F_DUMP;
	ret = send_msg(m, nlh, what, err);
	if (ret < 0)
		return ret;
	return recv_answers(m, cb, data, what, err);
}

void kc_mnl_parse(const struct nlmsghdr *nlh, size_t hdr_len, const struct nlattr **tb,
		  unsigned max)
{
	const struct nlattr *a;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (mnl_nlmsg_get_payload_len(nlh) < hdr_len)
		return;
	mnl_attr_for_each(a, nlh, hdr_len) {
		unsigned t = mnl_attr_get_type(a);

		if (t <= max)
			tb[t] = a;
	}
}

void kc_mnl_parse_nested(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
	const struct nlattr *a;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	mnl_attr_for_each_nested(a, nest) {
		unsigned t = mnl_attr_get_type(a);

		if (t <= max)
			tb[t] = a;
	}
}
