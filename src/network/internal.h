/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_NET_INTERNAL_H
#define KC_NET_INTERNAL_H

/* Shared between the files of src/runtime/network; not an API. */

#include "lib/netlink.h"
#include "network.h"

/* Opens a network namespace file (/var/run/netns/X, /proc/PID/ns/net):
 * ENOENT when missing, EINVAL when it is no network namespace or the
 * caller's own. */
int kc_netns_open(const char *path, int *fd, kc_error_t *err);

/* Moves the calling thread into nsfd's namespace; *saved gets an fd of the
 * one it was in, for kc_netns_leave(), which moves it back (aborting if it
 * cannot: a thread stranded in a pod's namespace would configure the wrong
 * network from then on). */
int kc_netns_enter(int nsfd, const char *path, int *saved, kc_error_t *err);
void kc_netns_leave(int *saved);

/* tap.c: a TAP with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (and
 * IFF_MULTI_QUEUE when queues > 1) in the current namespace, named name,
 * which must not exist; fds gets `queues` close-on-exec fds. */
int kc_tap_create(const char *name, unsigned queues, int *fds, kc_error_t *err);
/* MTU and IFF_UP on a link. */
int kc_link_set_mtu_up(struct kc_nl *m, int ifindex, const char *name, unsigned mtu,
		       kc_error_t *err);

/* tcfilter.c. */
int kc_tc_ingress_add(struct kc_nl *m, int ifindex, const char *dev, kc_error_t *err);
/* Deleting the ingress qdisc deletes its filters too. */
int kc_tc_ingress_del(struct kc_nl *m, int ifindex, const char *dev, kc_error_t *err);
int kc_tc_redirect_add(struct kc_nl *m, int from, const char *from_name, int to,
		       const char *to_name, kc_error_t *err);

/* scan.c: fills net's endpoints, routes and neighbours from the current
 * namespace. */
int kc_podnet_scan_current(struct kc_podnet *net, kc_error_t *err);

#endif
