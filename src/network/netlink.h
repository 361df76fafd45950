/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_NET_NETLINK_H
#define KC_NET_NETLINK_H

/*
 * A small rtnetlink helper over libmnl for the host-side network layer.
 *
 * A socket belongs to the network namespace its creator was in when it was
 * opened, so open it after kc_netns_enter() and it keeps talking to that
 * namespace.  Requests carry NLM_F_ACK and wait for their answer; the
 * kernel's extended ack text, when it gives one, ends the error message.
 * Everything here runs on the caller's thread; nothing blocks beyond the
 * kernel's answer.
 */

#include <libmnl/libmnl.h>
#include <stdint.h>

#include "lib/error.h"

struct kc_mnl {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
};

/* The buffer a request is built in: one page is plenty for a link, qdisc
 * or filter message. */
#define KC_MNL_MSG_SIZE 4096

int kc_mnl_open(struct kc_mnl *m, kc_error_t *err);
void kc_mnl_close(struct kc_mnl *m);

/* Starts a message of `type` in buf (KC_MNL_MSG_SIZE bytes, zeroed) with
 * NLM_F_REQUEST | flags and a zeroed family header of hdr_len bytes, which
 * is returned. */
void *kc_mnl_msg(char *buf, struct nlmsghdr **nlh, uint16_t type, uint16_t flags,
		 size_t hdr_len);

/* Sends nlh with NLM_F_ACK and waits for the acknowledgement.  Returns 0 or
 * -errno with "<what>: <strerror>[: <kernel's reason>]". */
int kc_mnl_request(struct kc_mnl *m, struct nlmsghdr *nlh, const char *what, kc_error_t *err);

/* Sends a dump request (NLM_F_DUMP is added) and calls cb for every answer
 * until NLMSG_DONE.  cb returns 0, or a negative value after filling *err,
 * which stops the dump (the rest of it is not read: close the socket).
 * Returns 0 or a negative value. */
typedef int (*kc_mnl_dump_cb)(const struct nlmsghdr *nlh, void *data, kc_error_t *err);
int kc_mnl_dump(struct kc_mnl *m, struct nlmsghdr *nlh, kc_mnl_dump_cb cb, void *data,
		const char *what, kc_error_t *err);

/* Parses the attributes after a family header of hdr_len bytes into
 * tb[0..max], keeping only those whose type is in range. */
void kc_mnl_parse(const struct nlmsghdr *nlh, size_t hdr_len, const struct nlattr **tb,
		  unsigned max);
void kc_mnl_parse_nested(const struct nlattr *nest, const struct nlattr **tb, unsigned max);

#endif
