/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a pod's network namespace: its links, addresses, routes and
 * permanent neighbours, through rtnetlink dumps.  The namespace's content
 * comes from CNI plugins, not from us: every attribute is length-checked
 * before it is copied.
 */
/* Before the kernel's headers, which then leave struct ifreq to glibc. */
#include <net/if.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "lib/log.h"
#include "lib/util.h"

struct link {
	int index;
	unsigned flags;
	unsigned short type; /* ARPHRD_* */
	unsigned mtu;
	char name[IFNAMSIZ];
	char kind[16];
	uint8_t mac[6];
	size_t mac_len;
};

struct links {
	struct link *v;
	size_t n;
};

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* Copies a string attribute that must fit in n bytes with its NUL. */
static bool get_str(const struct rtattr *a, char *out, size_t n)
{
	const char *s = kc_nl_get_str(a);
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	if (len >= n)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

static bool get_u32(const struct rtattr *a, unsigned *out)
{
	if (!a || kc_nl_len(a) < sizeof(uint32_t))
		return false;
	*out = kc_nl_get_u32(a);
	return true;
}

static bool get_addr(const struct rtattr *a, int family, uint8_t *out)
{
	size_t n = addr_len(family);

	if (!a || n == 0 || kc_nl_len(a) != n)
		return false;
	memcpy(out, kc_nl_data(a), n);
	return true;
}

static int on_link(const struct nlmsghdr *nlh, void *data, kc_error_t *err)
{
	struct links *ls = data;
	const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
	const struct rtattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1];
	struct link l = { 0 };

	(void)err;
	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return 0;
	kc_nl_parse(nlh, sizeof(*ifi), tb, IFLA_MAX);
	l.index = ifi->ifi_index;
	l.flags = ifi->ifi_flags;
	l.type = ifi->ifi_type;
	if (!get_str(tb[IFLA_IFNAME], l.name, sizeof(l.name)))
		snprintf(l.name, sizeof(l.name), "if%d", ifi->ifi_index);
	(void)get_u32(tb[IFLA_MTU], &l.mtu);
	if (tb[IFLA_ADDRESS] && kc_nl_len(tb[IFLA_ADDRESS]) <= sizeof(l.mac)) {
		l.mac_len = kc_nl_len(tb[IFLA_ADDRESS]);
		memcpy(l.mac, kc_nl_data(tb[IFLA_ADDRESS]), l.mac_len);
	}
	if (tb[IFLA_LINKINFO]) {
		kc_nl_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
		(void)get_str(info[IFLA_INFO_KIND], l.kind, sizeof(l.kind));
	}
	ls->v = kc_xrealloc(ls->v, (ls->n + 1) * sizeof(*ls->v));
	ls->v[ls->n++] = l;
	return 0;
}

static struct kc_podnet_endpoint *endpoint_by_index(struct kc_podnet *net, int index)
{
	for (size_t i = 0; i < net->n_endpoints; i++)
		if (net->endpoints[i].ifindex == index)
			return &net->endpoints[i];
	return NULL;
}

static bool is_v6_link_local(int family, const uint8_t *a)
{
	return family == AF_INET6 && a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static int on_addr(const struct nlmsghdr *nlh, void *data, kc_error_t *err)
{
	struct kc_podnet *net = data;
	const struct ifaddrmsg *ifa = NLMSG_DATA(nlh);
	const struct rtattr *tb[IFA_MAX + 1];
	struct kc_podnet_endpoint *ep;
	struct kc_podnet_addr a = { 0 };

	(void)err;
	if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return 0;
	ep = endpoint_by_index(net, (int)ifa->ifa_index);
	if (!ep || addr_len(ifa->ifa_family) == 0)
		return 0;
	kc_nl_parse(nlh, sizeof(*ifa), tb, IFA_MAX);
	a.family = ifa->ifa_family;
	a.prefix = ifa->ifa_prefixlen;
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the
	 * peer's on point-to-point IPv4 links and the same otherwise. */
	if (!get_addr(tb[IFA_LOCAL], a.family, a.addr) &&
	    !get_addr(tb[IFA_ADDRESS], a.family, a.addr))
		return 0;
	if (a.prefix > addr_len(a.family) * 8 || is_v6_link_local(a.family, a.addr))
		return 0;
	ep->addrs = kc_xrealloc(ep->addrs, (ep->n_addrs + 1) * sizeof(*ep->addrs));
	ep->addrs[ep->n_addrs++] = a;
	return 0;
}

static int on_route(const struct nlmsghdr *nlh, void *data, kc_error_t *err)
{
	struct kc_podnet *net = data;
	const struct rtmsg *rt = NLMSG_DATA(nlh);
	const struct rtattr *tb[RTA_MAX + 1];
	struct kc_podnet_endpoint *ep;
	struct kc_podnet_route r = { 0 };
	unsigned table, oif = 0;

	(void)err;
	if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
		return 0;
	if (addr_len(rt->rtm_family) == 0 || rt->rtm_type != RTN_UNICAST ||
	    (rt->rtm_flags & RTM_F_CLONED))
		return 0;
	kc_nl_parse(nlh, sizeof(*rt), tb, RTA_MAX);
	table = rt->rtm_table;
	(void)get_u32(tb[RTA_TABLE], &table);
	if (table != RT_TABLE_MAIN)
		return 0;
	/* A multipath route has no RTA_OIF; the agent takes one device per
	 * route, so it is left out, with a word in the log. */
	if (!get_u32(tb[RTA_OIF], &oif)) {
		kc_warn("pod network: route without a single device left out (multipath?)");
		return 0;
	}
	ep = endpoint_by_index(net, (int)oif);
	if (!ep)
		return 0;
	r.family = rt->rtm_family;
	r.dst_len = rt->rtm_dst_len;
	if (r.dst_len > addr_len(r.family) * 8)
		return 0;
	r.has_dst = get_addr(tb[RTA_DST], r.family, r.dst) && r.dst_len > 0;
	/* The guest's kernel makes fe80::/64 itself when the NIC comes up. */
	if (r.has_dst && is_v6_link_local(r.family, r.dst))
		return 0;
	r.has_gw = get_addr(tb[RTA_GATEWAY], r.family, r.gw);
	r.has_src = get_addr(tb[RTA_PREFSRC], r.family, r.src);
	r.scope = rt->rtm_scope;
	r.flags = rt->rtm_flags & RTNH_F_ONLINK;
	if (tb[RTA_METRICS]) {
		const struct rtattr *mx[RTAX_MAX + 1];

		kc_nl_parse_nested(tb[RTA_METRICS], mx, RTAX_MAX);
		(void)get_u32(mx[RTAX_MTU], &r.mtu);
	}
	memcpy(r.device, ep->name, sizeof(r.device));
	net->routes = kc_xrealloc(net->routes, (net->n_routes + 1) * sizeof(*net->routes));
	net->routes[net->n_routes++] = r;
	return 0;
}

static int on_neigh(const struct nlmsghdr *nlh, void *data, kc_error_t *err)
{
	struct kc_podnet *net = data;
	const struct ndmsg *nd = NLMSG_DATA(nlh);
	const struct rtattr *tb[NDA_MAX + 1];
	struct kc_podnet_endpoint *ep;
	struct kc_podnet_neigh n = { 0 };

	(void)err;
	if (nlh->nlmsg_type != RTM_NEWNEIGH || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)))
		return 0;
	/* Kata copies the static entries only; the guest resolves the
	 * others itself. */
	if (!(nd->ndm_state & NUD_PERMANENT) || addr_len(nd->ndm_family) == 0)
		return 0;
	ep = endpoint_by_index(net, nd->ndm_ifindex);
	if (!ep)
		return 0;
	kc_nl_parse(nlh, sizeof(*nd), tb, NDA_MAX);
	n.family = nd->ndm_family;
	if (!get_addr(tb[NDA_DST], n.family, n.ip))
		return 0;
	if (tb[NDA_LLADDR] && kc_nl_len(tb[NDA_LLADDR]) == 6) {
		memcpy(n.lladdr, kc_nl_data(tb[NDA_LLADDR]), 6);
		n.has_lladdr = true;
	}
	n.state = NUD_PERMANENT;
	n.flags = nd->ndm_flags;
	memcpy(n.device, ep->name, sizeof(n.device));
	net->neighbors = kc_xrealloc(net->neighbors,
				     (net->n_neighbors + 1) * sizeof(*net->neighbors));
	net->neighbors[net->n_neighbors++] = n;
	return 0;
}

static bool connectable(const struct link *l)
{
	return l->type == ARPHRD_ETHER && l->mac_len == 6 &&
	       (strcmp(l->kind, "veth") == 0 || strcmp(l->kind, "macvlan") == 0);
}

/* Decides what to do with each link: an endpoint, ignored, or refused. */
static int classify(struct kc_podnet *net, const struct links *ls, kc_error_t *err)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct link *l = &ls->v[i];
		struct kc_podnet_endpoint *ep;

		if (l->flags & IFF_LOOPBACK)
			continue;
		/* Ours (a previous connect, or another sandbox's): its name
		 * will clash at connect, which says so. */
		if (strcmp(l->kind, "tun") == 0 && fnmatch("tap*_kata", l->name, 0) == 0)
			continue;
		if (!connectable(l)) {
			/* Down links carry nothing: the kernel's fallback
			 * tunnels (tunl0, sit0, ...) appear in every new
			 * namespace once their module is loaded. */
			if (!(l->flags & IFF_UP)) {
				kc_debug("pod network: `%s` (%s) is down: ignored", l->name,
					 l->kind[0] ? l->kind : "no kind");
				continue;
			}
			return kc_error_set(err, EOPNOTSUPP,
					    "interface `%s` (%s) cannot be connected to the VM: "
					    "kata-c connects veth and macvlan interfaces",
					    l->name,
					    l->type != ARPHRD_ETHER ? "not Ethernet"
					    : l->kind[0]	    ? l->kind
								    : "a physical device");
		}
		if (net->n_endpoints == KC_PODNET_MAX_ENDPOINTS)
			return kc_error_set(err, E2BIG, "more than %d interfaces to connect",
					    KC_PODNET_MAX_ENDPOINTS);
		net->endpoints = kc_xrealloc(net->endpoints,
					     (net->n_endpoints + 1) * sizeof(*net->endpoints));
		ep = &net->endpoints[net->n_endpoints++];
		memset(ep, 0, sizeof(*ep));
		memcpy(ep->name, l->name, sizeof(ep->name));
		memcpy(ep->kind, l->kind, sizeof(ep->kind));
		ep->ifindex = l->index;
		memcpy(ep->mac, l->mac, 6);
		ep->mtu = l->mtu;
		ep->flags = l->flags;
		for (size_t q = 0; q < KC_PODNET_MAX_QUEUES; q++)
			ep->tap_fds[q] = -1;
	}
	return 0;
}

int kc_podnet_scan_current(struct kc_podnet *net, kc_error_t *err)
{
	struct kc_nl_msg msg;
	struct links ls = { 0 };
	struct kc_nl m = { .fd = -1 };
	size_t n_addrs = 0;
	int ret;

	ret = kc_nl_open(&m, err);
	if (ret < 0)
		return ret;
	/* Zeroed headers: every family (AF_UNSPEC), no filter. */
	kc_nl_msg_init(&msg, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	ret = kc_nl_dump(&m, &msg, on_link, &ls, "list links", err);
	if (ret >= 0)
		ret = classify(net, &ls, err);
	free(ls.v);
	if (ret < 0 || net->n_endpoints == 0)
		goto out;

	kc_nl_msg_init(&msg, RTM_GETADDR, 0, sizeof(struct ifaddrmsg));
	ret = kc_nl_dump(&m, &msg, on_addr, net, "list addresses", err);
	if (ret < 0)
		goto out;
	kc_nl_msg_init(&msg, RTM_GETROUTE, 0, sizeof(struct rtmsg));
	ret = kc_nl_dump(&m, &msg, on_route, net, "list routes", err);
	if (ret < 0)
		goto out;
	kc_nl_msg_init(&msg, RTM_GETNEIGH, 0, sizeof(struct ndmsg));
	ret = kc_nl_dump(&m, &msg, on_neigh, net, "list neighbours", err);
	if (ret < 0)
		goto out;

	for (size_t i = 0; i < net->n_endpoints; i++)
		n_addrs += net->endpoints[i].n_addrs;
	if (n_addrs == 0)
		ret = kc_error_set(err, EADDRNOTAVAIL,
				   "no IP address on %s`%s` (did the CNI plugin give none?)",
				   net->n_endpoints > 1 ? "any of its interfaces, e.g. " : "",
				   net->endpoints[0].name);
out:
	kc_nl_close(&m);
	return ret;
}
