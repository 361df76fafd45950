/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_LIB_NETLINK_H
#define KC_LIB_NETLINK_H

/*
 * The one rtnetlink client, for the agent (interfaces, routes, neighbours
 * in the guest) and the host (pod network scan, TAP links, tc filters):
 * one socket, a message builder and the two exchanges both need (a
 * request answered by an ack, and a dump).
 *
 * It has libmnl's shape (nlmsghdr builder, attribute table parse, one
 * sequence number per request) without the library: Debian ships libmnl
 * as a shared object only, and the agent must link statically for the
 * initrd.  Everything it does is in these two files.
 *
 * A socket belongs to the network namespace its creator was in when it
 * was opened, so open it after entering a namespace and it keeps talking
 * to that one.  Requests carry NLM_F_ACK and wait for their answer; the
 * kernel's extended ack text, when it gives one, ends the error message.
 */

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

/* Requests are small: an address, route, neighbour, link, qdisc or filter. */
#define KC_NL_MSG_MAX 4096

struct kc_nl {
	int fd;
	uint32_t seq;
	uint32_t portid;
};

struct kc_nl_msg {
	union {
		struct nlmsghdr nlh;
		uint8_t buf[KC_NL_MSG_MAX];
	};
	bool overflow; /* an attribute did not fit; sending fails */
};

/* A NETLINK_ROUTE socket in the caller's network namespace. */
int kc_nl_open(struct kc_nl *nl, kc_error_t *err);
void kc_nl_close(struct kc_nl *nl);

/* Starts a message with NLM_F_REQUEST | flags and a zeroed family header
 * of hdr_len bytes (struct ifinfomsg, ifaddrmsg, rtmsg, ndmsg), which it
 * returns. */
void *kc_nl_msg_init(struct kc_nl_msg *m, uint16_t type, uint16_t flags, size_t hdr_len);
void kc_nl_put(struct kc_nl_msg *m, uint16_t type, const void *data, size_t len);
void kc_nl_put_u32(struct kc_nl_msg *m, uint16_t type, uint32_t v);
void kc_nl_put_str(struct kc_nl_msg *m, uint16_t type, const char *s);
/* Nested attributes: kc_nl_nest_end(m, kc_nl_nest_start(m, type)). */
struct rtattr *kc_nl_nest_start(struct kc_nl_msg *m, uint16_t type);
void kc_nl_nest_end(struct kc_nl_msg *m, struct rtattr *nest);

/* Sends m with NLM_F_ACK and waits for the kernel's answer: 0, or the
 * kernel's -errno (with *err naming `what`). */
int kc_nl_request(struct kc_nl *nl, struct kc_nl_msg *m, const char *what, kc_error_t *err);

/* Sends m with NLM_F_DUMP and calls fn for every answer until the end of
 * the dump; fn returns negative (with *err set) to stop. */
typedef int (*kc_nl_dump_fn)(const struct nlmsghdr *h, void *data, kc_error_t *err);
int kc_nl_dump(struct kc_nl *nl, struct kc_nl_msg *m, kc_nl_dump_fn fn, void *data,
	       const char *what, kc_error_t *err);

/* Fills tb[0..max] with the attributes that follow a family header of
 * hdr_len bytes in h (NULL where absent; later duplicates win). */
void kc_nl_parse(const struct nlmsghdr *h, size_t hdr_len, const struct rtattr **tb, size_t max);
/* The same for the attributes nested in rta. */
void kc_nl_parse_nested(const struct rtattr *rta, const struct rtattr **tb, size_t max);

static inline const void *kc_nl_data(const struct rtattr *a)
{
	return RTA_DATA(a);
}
static inline size_t kc_nl_len(const struct rtattr *a)
{
	return RTA_PAYLOAD(a);
}
/* 0 when the attribute is absent or shorter than 4 bytes. */
uint32_t kc_nl_get_u32(const struct rtattr *a);
/* NULL when absent or not NUL-terminated. */
const char *kc_nl_get_str(const struct rtattr *a);

#endif
