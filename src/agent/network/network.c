/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interfaces, routes and neighbours over rtnetlink (see network.h).
 *
 * Each operation opens its own netlink socket: the calls are rare (at
 * sandbox creation and on hotplug) and a socket per call keeps no state
 * between requests that a failed one could leave behind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "network.h"
#include "lib/log.h"
#include "lib/netlink.h"
#include "lib/util.h"

/* ---- parsing ---- */

int kc_net_parse_mac(const char *s, uint8_t mac[6], kc_error_t *err)
{
	const char *p = s;

	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int j = 0; j < 2; j++, p++) {
			char c = *p;
			unsigned d;

			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				goto bad;
			v = v * 16 + d;
		}
		mac[i] = (uint8_t)v;
		if (i < 5) {
			if (*p != ':' && *p != '-')
				goto bad;
			p++;
		}
	}
	if (*p == '\0')
		return 0;
bad:
	return kc_error_set(err, EINVAL, "bad MAC address `%s`", s);
}

int kc_net_parse_ip(const char *s, int *family, uint8_t addr[16], kc_error_t *err)
{
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return kc_error_set(err, EINVAL, "bad IP address `%s`", s);
}

int kc_net_parse_prefix(const char *s, int family, unsigned *prefix, kc_error_t *err)
{
	unsigned max = family == AF_INET ? 32 : 128;
	unsigned long long v;

	if (s[0] == '\0') {
		*prefix = max;
		return 0;
	}
	if (!kc_parse_u64(s, &v))
		return kc_error_set(err, EINVAL, "bad prefix length `%s`", s);
	if (v > max)
		return kc_error_set(err, EINVAL, "prefix length %s is over %u for %s", s, max,
				    family == AF_INET ? "IPv4" : "IPv6");
	*prefix = (unsigned)v;
	return 0;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static char *format_ip(int family, const void *addr)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, buf, sizeof(buf)))
		return kc_xstrdup("");
	return kc_xstrdup(buf);
}

static char *format_mac(const uint8_t *mac, size_t len)
{
	char *s = kc_xzalloc(len * 3 + 1);

	for (size_t i = 0; i < len; i++)
		sprintf(s + 3 * i, i + 1 < len ? "%02x:" : "%02x", mac[i]);
	return s;
}

/* IPFamily of the API, checked against what the address says. */
static int check_family(Grpc__IPFamily f, int family, const char *what, const char *s,
			kc_error_t *err)
{
	int want = f == GRPC__IPFAMILY__V6 ? AF_INET6 : AF_INET;

	if (want != family)
		return kc_error_set(err, EINVAL, "%s `%s` is not an %s address", what, s,
				    want == AF_INET ? "IPv4" : "IPv6");
	return 0;
}

/* ---- links ---- */

struct link {
	int index;
	char name[IFNAMSIZ];
	uint8_t mac[32];
	size_t mac_len;
	uint32_t mtu, flags;
	unsigned short type; /* ARPHRD_* */
	char kind[32];
};

struct links {
	struct link *v;
	size_t n;
};

static int on_link(const struct nlmsghdr *h, void *data, kc_error_t *err)
{
	struct links *ls = data;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const struct rtattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1];
	const char *name, *kind;
	struct link *l;

	(void)err;
	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return 0;
	kc_nl_parse(h, sizeof(*ifi), tb, IFLA_MAX);
	name = kc_nl_get_str(tb[IFLA_IFNAME]);
	if (!name || strlen(name) >= IFNAMSIZ)
		return 0;
	ls->v = kc_xrealloc(ls->v, (ls->n + 1) * sizeof(*ls->v));
	l = &ls->v[ls->n++];
	memset(l, 0, sizeof(*l));
	l->index = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	l->type = ifi->ifi_type;
	strcpy(l->name, name);
	l->mtu = kc_nl_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_ADDRESS] && kc_nl_len(tb[IFLA_ADDRESS]) <= sizeof(l->mac)) {
		l->mac_len = kc_nl_len(tb[IFLA_ADDRESS]);
		memcpy(l->mac, kc_nl_data(tb[IFLA_ADDRESS]), l->mac_len);
	}
	if (tb[IFLA_LINKINFO]) {
		kc_nl_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
		kind = kc_nl_get_str(info[IFLA_INFO_KIND]);
		if (kind)
			snprintf(l->kind, sizeof(l->kind), "%s", kind);
	}
	return 0;
}

static int list_links(struct kc_nl *nl, struct links *ls, kc_error_t *err)
{
	struct kc_nl_msg m;
	struct ifinfomsg *ifi = kc_nl_msg_init(&m, RTM_GETLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ls->v = NULL;
	ls->n = 0;
	return kc_nl_dump(nl, &m, on_link, ls, "list links", err);
}

static struct link *link_by_name(struct links *ls, const char *name)
{
	for (size_t i = 0; i < ls->n; i++)
		if (strcmp(ls->v[i].name, name) == 0)
			return &ls->v[i];
	return NULL;
}

static struct link *link_by_index(struct links *ls, int index)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].index == index)
			return &ls->v[i];
	return NULL;
}

static struct link *link_by_mac(struct links *ls, const uint8_t mac[6])
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].mac_len == 6 && memcmp(ls->v[i].mac, mac, 6) == 0)
			return &ls->v[i];
	return NULL;
}

/* ---- addresses ---- */

struct addr {
	int index, family;
	unsigned prefix;
	uint8_t local[16];
};

struct addrs {
	struct addr *v;
	size_t n;
};

static int on_addr(const struct nlmsghdr *h, void *data, kc_error_t *err)
{
	struct addrs *as = data;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	const struct rtattr *tb[IFA_MAX + 1], *a;
	struct addr *x;

	(void)err;
	if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return 0;
	kc_nl_parse(h, sizeof(*ifa), tb, IFA_MAX);
	/* IFA_LOCAL is the address itself; IFA_ADDRESS the peer's on
	 * point-to-point links, and the only one IPv6 gives. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || kc_nl_len(a) != addr_len(ifa->ifa_family))
		return 0;
	as->v = kc_xrealloc(as->v, (as->n + 1) * sizeof(*as->v));
	x = &as->v[as->n++];
	memset(x, 0, sizeof(*x));
	x->index = (int)ifa->ifa_index;
	x->family = ifa->ifa_family;
	x->prefix = ifa->ifa_prefixlen;
	memcpy(x->local, kc_nl_data(a), kc_nl_len(a));
	return 0;
}

static int list_addrs(struct kc_nl *nl, struct addrs *as, kc_error_t *err)
{
	struct kc_nl_msg m;
	struct ifaddrmsg *ifa = kc_nl_msg_init(&m, RTM_GETADDR, 0, sizeof(*ifa));

	ifa->ifa_family = AF_UNSPEC;
	as->v = NULL;
	as->n = 0;
	return kc_nl_dump(nl, &m, on_addr, as, "list addresses", err);
}

static int addr_change(struct kc_nl *nl, uint16_t type, int index, int family, const uint8_t *local,
		       unsigned prefix, kc_error_t *err)
{
	struct kc_nl_msg m;
	struct ifaddrmsg *ifa = kc_nl_msg_init(
		&m, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_REPLACE : 0, sizeof(*ifa));
	cleanup_free char *s = format_ip(family, local);

	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)prefix;
	ifa->ifa_index = (uint32_t)index;
	kc_nl_put(&m, IFA_LOCAL, local, addr_len(family));
	kc_nl_put(&m, IFA_ADDRESS, local, addr_len(family));
	return kc_nl_request(nl, &m, type == RTM_NEWADDR ? "add address" : "delete address", err) < 0
		       ? kc_error_wrap(err, "`%s/%u`", s, prefix)
		       : 0;
}

/* ---- building answers ---- */

static Grpc__Interface *interface_msg(const struct link *l, const struct addrs *as)
{
	Grpc__Interface *i = kc_xmalloc(sizeof(*i));

	grpc__interface__init(i);
	i->device = kc_xstrdup(l->name);
	i->name = kc_xstrdup(l->name);
	i->mtu = l->mtu;
	i->raw_flags = l->flags;
	if (l->mac_len && l->type != ARPHRD_LOOPBACK)
		i->hw_addr = format_mac(l->mac, l->mac_len);
	i->type = kc_xstrdup(l->kind[0] ? l->kind : l->type == ARPHRD_LOOPBACK ? "loopback" : "");
	for (size_t k = 0; k < as->n; k++) {
		const struct addr *a = &as->v[k];
		Grpc__IPAddress *ip;

		if (a->index != l->index)
			continue;
		ip = kc_xmalloc(sizeof(*ip));
		grpc__ipaddress__init(ip);
		ip->family = a->family == AF_INET6 ? GRPC__IPFAMILY__V6 : GRPC__IPFAMILY__V4;
		ip->address = format_ip(a->family, a->local);
		ip->mask = kc_xasprintf("%u", a->prefix);
		i->ip_addresses = kc_xrealloc(i->ip_addresses,
					      (i->n_ip_addresses + 1) * sizeof(*i->ip_addresses));
		i->ip_addresses[i->n_ip_addresses++] = ip;
	}
	return i;
}

int kc_net_list_interfaces(Grpc__Interfaces **out, kc_error_t *err)
{
	struct kc_nl nl;
	struct links ls = { 0 };
	struct addrs as = { 0 };
	Grpc__Interfaces *r;
	int ret;

	ret = kc_nl_open(&nl, err);
	if (ret < 0)
		return ret;
	ret = list_links(&nl, &ls, err);
	if (ret >= 0)
		ret = list_addrs(&nl, &as, err);
	kc_nl_close(&nl);
	if (ret >= 0) {
		r = kc_xmalloc(sizeof(*r));
		grpc__interfaces__init(r);
		r->interfaces = kc_xzalloc((ls.n ? ls.n : 1) * sizeof(*r->interfaces));
		for (size_t i = 0; i < ls.n; i++)
			r->interfaces[r->n_interfaces++] = interface_msg(&ls.v[i], &as);
		*out = r;
	}
	free(ls.v);
	free(as.v);
	return ret;
}

/* ---- UpdateInterface ---- */

struct want_addr {
	int family;
	unsigned prefix;
	uint8_t addr[16];
};

static int check_ifname(const char *name, kc_error_t *err)
{
	if (strlen(name) >= IFNAMSIZ || strchr(name, '/') || strpbrk(name, " \t\n:") ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return kc_error_set(err, EINVAL, "bad interface name `%s`", name);
	return 0;
}

static int link_set(struct kc_nl *nl, int index, uint32_t flags, uint32_t change, const char *name,
		    uint32_t mtu, const uint8_t *mac, kc_error_t *err)
{
	struct kc_nl_msg m;
	struct ifinfomsg *ifi = kc_nl_msg_init(&m, RTM_NEWLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	if (name)
		kc_nl_put_str(&m, IFLA_IFNAME, name);
	if (mtu)
		kc_nl_put_u32(&m, IFLA_MTU, mtu);
	if (mac)
		kc_nl_put(&m, IFLA_ADDRESS, mac, 6);
	return kc_nl_request(nl, &m, "set link", err);
}

int kc_net_update_interface(const Grpc__Interface *want, Grpc__Interface **out, kc_error_t *err)
{
	cleanup_free struct want_addr *wa = NULL;
	struct links ls = { 0 };
	struct addrs as = { 0 };
	struct kc_nl nl = { .fd = -1 };
	uint8_t mac[6];
	bool have_mac = want->hw_addr[0] != '\0';
	const char *newname = NULL;
	struct link *l = NULL;
	int index, ret;

	/* Everything is checked before anything changes. */
	if (have_mac && kc_net_parse_mac(want->hw_addr, mac, err) < 0)
		return -EINVAL;
	if (want->name[0] && check_ifname(want->name, err) < 0)
		return -EINVAL;
	if (want->device[0] && check_ifname(want->device, err) < 0)
		return -EINVAL;
	/* 68 is IPv4's minimum (RFC 791): below it the kernel refuses, and
	 * by then the link would already be down. */
	if (want->mtu && (want->mtu < 68 || want->mtu > 65535))
		return kc_error_set(err, EINVAL, "MTU %llu is not within 68 to 65535",
				    (unsigned long long)want->mtu);
	if (!have_mac && !want->device[0] && !want->name[0])
		return kc_error_set(err, EINVAL, "interface has no hw_addr, device or name");
	wa = kc_xzalloc((want->n_ip_addresses + 1) * sizeof(*wa));
	for (size_t i = 0; i < want->n_ip_addresses; i++) {
		const Grpc__IPAddress *ip = want->ip_addresses[i];

		if (!ip)
			return kc_error_set(err, EINVAL, "ip_addresses[%zu] is empty", i);
		if (kc_net_parse_ip(ip->address, &wa[i].family, wa[i].addr, err) < 0 ||
		    check_family(ip->family, wa[i].family, "address", ip->address, err) < 0 ||
		    kc_net_parse_prefix(ip->mask, wa[i].family, &wa[i].prefix, err) < 0)
			return kc_error_wrap(err, "ip_addresses[%zu]", i);
	}

	ret = kc_nl_open(&nl, err);
	if (ret < 0)
		return ret;
	ret = list_links(&nl, &ls, err);
	if (ret < 0)
		goto out;
	/* Kata finds the NIC by its MAC, the one thing the host knows for
	 * sure; a name serves for links whose MAC is to be set. */
	if (have_mac)
		l = link_by_mac(&ls, mac);
	if (!l && want->device[0])
		l = link_by_name(&ls, want->device);
	if (!l && want->name[0])
		l = link_by_name(&ls, want->name);
	if (!l) {
		const char *by = want->device[0] ? want->device : want->name;

		if (have_mac && by[0])
			ret = kc_error_set(err, ENOENT, "no interface with MAC `%s` or name `%s`",
					   want->hw_addr, by);
		else if (have_mac)
			ret = kc_error_set(err, ENOENT, "no interface with MAC `%s`", want->hw_addr);
		else
			ret = kc_error_set(err, ENOENT, "no interface named `%s`", by);
		goto out;
	}
	index = l->index;
	if (want->name[0] && strcmp(want->name, l->name) != 0) {
		struct link *other = link_by_name(&ls, want->name);

		if (other) {
			ret = kc_error_set(err, EEXIST, "rename `%s` to `%s`: name in use", l->name,
					   want->name);
			goto out;
		}
		newname = want->name;
	}
	if (have_mac && l->mac_len == 6 && memcmp(l->mac, mac, 6) == 0)
		have_mac = false;

	/* As Kata: down, addresses replaced, then name, MTU, MAC and up. */
	ret = link_set(&nl, index, 0, IFF_UP, NULL, 0, NULL, err);
	if (ret < 0)
		goto wrap;
	ret = list_addrs(&nl, &as, err);
	if (ret < 0)
		goto wrap;
	for (size_t i = 0; i < as.n; i++) {
		if (as.v[i].index != index)
			continue;
		ret = addr_change(&nl, RTM_DELADDR, index, as.v[i].family, as.v[i].local,
				  as.v[i].prefix, err);
		/* The kernel drops an IPv6 address by itself once its link
		 * goes down: gone already is fine. */
		if (ret == -EADDRNOTAVAIL || ret == -ENOENT) {
			kc_error_free(err);
			ret = 0;
		}
		if (ret < 0)
			goto wrap;
	}
	for (size_t i = 0; i < want->n_ip_addresses; i++) {
		ret = addr_change(&nl, RTM_NEWADDR, index, wa[i].family, wa[i].addr, wa[i].prefix,
				  err);
		if (ret < 0)
			goto wrap;
	}
	ret = link_set(&nl, index, IFF_UP | (want->raw_flags & IFF_NOARP), IFF_UP | IFF_NOARP,
		       newname, (uint32_t)want->mtu, have_mac ? mac : NULL, err);
	if (ret < 0)
		goto wrap;

	free(ls.v);
	free(as.v);
	ls.v = NULL;
	as.v = NULL;
	ret = list_links(&nl, &ls, err);
	if (ret >= 0)
		ret = list_addrs(&nl, &as, err);
	if (ret >= 0) {
		l = link_by_index(&ls, index);
		if (!l)
			ret = kc_error_set(err, ENOENT, "interface %d vanished", index);
		else
			*out = interface_msg(l, &as);
	}
	goto out;
wrap:
	kc_error_wrap(err, "interface `%s`", l->name);
out:
	free(ls.v);
	free(as.v);
	kc_nl_close(&nl);
	return ret;
}

/* ---- routes ---- */

struct route {
	int family;
	unsigned dst_len;
	uint8_t dst[16], gw[16], src[16];
	bool has_gw, has_src, has_dst;
	int oif;
	uint32_t priority, mtu;
	uint8_t scope, protocol, type, table, tos;
	uint32_t flags;
};

struct routes {
	struct route *v;
	size_t n;
};

static int on_route(const struct nlmsghdr *h, void *data, kc_error_t *err)
{
	struct routes *rs = data;
	const struct rtmsg *rt = NLMSG_DATA(h);
	const struct rtattr *tb[RTA_MAX + 1];
	struct route *r;
	uint32_t table;
	size_t alen;

	(void)err;
	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)) ||
	    (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6))
		return 0;
	kc_nl_parse(h, sizeof(*rt), tb, RTA_MAX);
	table = tb[RTA_TABLE] ? kc_nl_get_u32(tb[RTA_TABLE]) : rt->rtm_table;
	if (table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST)
		return 0;
	alen = addr_len(rt->rtm_family);
	rs->v = kc_xrealloc(rs->v, (rs->n + 1) * sizeof(*rs->v));
	r = &rs->v[rs->n++];
	memset(r, 0, sizeof(*r));
	r->family = rt->rtm_family;
	r->dst_len = rt->rtm_dst_len;
	r->scope = rt->rtm_scope;
	r->protocol = rt->rtm_protocol;
	r->type = rt->rtm_type;
	r->table = rt->rtm_table;
	r->tos = rt->rtm_tos;
	r->flags = rt->rtm_flags;
	if (tb[RTA_DST] && kc_nl_len(tb[RTA_DST]) == alen) {
		memcpy(r->dst, kc_nl_data(tb[RTA_DST]), alen);
		r->has_dst = true;
	}
	if (tb[RTA_GATEWAY] && kc_nl_len(tb[RTA_GATEWAY]) == alen) {
		memcpy(r->gw, kc_nl_data(tb[RTA_GATEWAY]), alen);
		r->has_gw = true;
	}
	if (tb[RTA_PREFSRC] && kc_nl_len(tb[RTA_PREFSRC]) == alen) {
		memcpy(r->src, kc_nl_data(tb[RTA_PREFSRC]), alen);
		r->has_src = true;
	}
	r->oif = (int)kc_nl_get_u32(tb[RTA_OIF]);
	r->priority = kc_nl_get_u32(tb[RTA_PRIORITY]);
	if (tb[RTA_METRICS]) {
		const struct rtattr *mx[RTAX_MAX + 1];

		kc_nl_parse_nested(tb[RTA_METRICS], mx, RTAX_MAX);
		r->mtu = kc_nl_get_u32(mx[RTAX_MTU]);
	}
	return 0;
}

static int dump_routes(struct kc_nl *nl, struct routes *rs, kc_error_t *err)
{
	struct kc_nl_msg m;
	struct rtmsg *rt = kc_nl_msg_init(&m, RTM_GETROUTE, 0, sizeof(*rt));

	rt->rtm_family = AF_UNSPEC;
	rs->v = NULL;
	rs->n = 0;
	return kc_nl_dump(nl, &m, on_route, rs, "list routes", err);
}

static int route_change(struct kc_nl *nl, uint16_t type, const struct route *r, kc_error_t *err)
{
	struct kc_nl_msg m;
	struct rtmsg *rt = kc_nl_msg_init(&m, type,
					  type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_REPLACE : 0,
					  sizeof(*rt));
	size_t alen = addr_len(r->family);

	rt->rtm_family = (uint8_t)r->family;
	rt->rtm_dst_len = (uint8_t)r->dst_len;
	rt->rtm_tos = r->tos;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = r->protocol;
	rt->rtm_scope = r->scope;
	rt->rtm_type = RTN_UNICAST;
	rt->rtm_flags = r->flags;
	if (r->has_dst)
		kc_nl_put(&m, RTA_DST, r->dst, alen);
	if (r->has_gw)
		kc_nl_put(&m, RTA_GATEWAY, r->gw, alen);
	if (r->has_src)
		kc_nl_put(&m, RTA_PREFSRC, r->src, alen);
	if (r->oif)
		kc_nl_put_u32(&m, RTA_OIF, (uint32_t)r->oif);
	if (r->priority)
		kc_nl_put_u32(&m, RTA_PRIORITY, r->priority);
	if (r->mtu && type == RTM_NEWROUTE) {
		struct rtattr *nest = kc_nl_nest_start(&m, RTA_METRICS);

		kc_nl_put_u32(&m, RTAX_MTU, r->mtu);
		kc_nl_nest_end(&m, nest);
	}
	return kc_nl_request(nl, &m, type == RTM_NEWROUTE ? "add route" : "delete route", err);
}

static char *route_dest(const struct route *r)
{
	cleanup_free char *ip = NULL;

	if (r->dst_len == 0)
		return kc_xstrdup("");
	ip = format_ip(r->family, r->dst);
	return kc_xasprintf("%s/%u", ip, r->dst_len);
}

static Grpc__Routes *routes_msg(const struct routes *rs, struct links *ls)
{
	Grpc__Routes *out = kc_xmalloc(sizeof(*out));

	grpc__routes__init(out);
	out->routes = kc_xzalloc((rs->n ? rs->n : 1) * sizeof(*out->routes));
	for (size_t i = 0; i < rs->n; i++) {
		const struct route *r = &rs->v[i];
		struct link *l = link_by_index(ls, r->oif);
		Grpc__Route *m = kc_xmalloc(sizeof(*m));

		grpc__route__init(m);
		m->dest = route_dest(r);
		if (r->has_gw)
			m->gateway = format_ip(r->family, r->gw);
		if (r->has_src)
			m->source = format_ip(r->family, r->src);
		if (l)
			m->device = kc_xstrdup(l->name);
		m->scope = r->scope;
		m->family = r->family == AF_INET6 ? GRPC__IPFAMILY__V6 : GRPC__IPFAMILY__V4;
		/* Only what a caller may set: the kernel's status flags
		 * (linkdown, dead) would not be accepted back. */
		m->flags = r->flags & RTNH_F_ONLINK;
		m->mtu = r->mtu;
		out->routes[out->n_routes++] = m;
	}
	return out;
}

static int list_routes(struct kc_nl *nl, Grpc__Routes **out, kc_error_t *err)
{
	struct links ls = { 0 };
	struct routes rs = { 0 };
	int ret = list_links(nl, &ls, err);

	if (ret >= 0)
		ret = dump_routes(nl, &rs, err);
	if (ret >= 0)
		*out = routes_msg(&rs, &ls);
	free(ls.v);
	free(rs.v);
	return ret;
}

int kc_net_list_routes(Grpc__Routes **out, kc_error_t *err)
{
	struct kc_nl nl;
	int ret = kc_nl_open(&nl, err);

	if (ret < 0)
		return ret;
	ret = list_routes(&nl, out, err);
	kc_nl_close(&nl);
	return ret;
}

/* Turns one requested route into a netlink route, checking every field. */
static int route_from_msg(const Grpc__Route *m, struct links *ls, struct route *r, kc_error_t *err)
{
	int fam = 0, f;
	bool fam_set = false;

	memset(r, 0, sizeof(*r));
	if (m->dest[0] && strcmp(m->dest, "default") != 0) {
		cleanup_free char *ip = kc_xstrdup(m->dest);
		char *slash = strchr(ip, '/');

		if (slash)
			*slash = '\0';
		if (kc_net_parse_ip(ip, &fam, r->dst, err) < 0 ||
		    kc_net_parse_prefix(slash ? slash + 1 : "", fam, &r->dst_len, err) < 0)
			return kc_error_wrap(err, "dest `%s`", m->dest);
		r->has_dst = r->dst_len > 0;
		fam_set = true;
	}
	if (m->gateway[0]) {
		if (kc_net_parse_ip(m->gateway, &f, r->gw, err) < 0)
			return kc_error_wrap(err, "gateway");
		if (fam_set && f != fam)
			return kc_error_set(err, EINVAL,
					    "gateway `%s` and dest `%s` differ in family",
					    m->gateway, m->dest);
		fam = f;
		fam_set = true;
		r->has_gw = true;
	}
	if (m->source[0]) {
		if (kc_net_parse_ip(m->source, &f, r->src, err) < 0)
			return kc_error_wrap(err, "source");
		if (fam_set && f != fam)
			return kc_error_set(err, EINVAL, "source `%s` is not in the route's family",
					    m->source);
		fam = f;
		fam_set = true;
		r->has_src = true;
	}
	if (!fam_set)
		fam = m->family == GRPC__IPFAMILY__V6 ? AF_INET6 : AF_INET;
	else if (check_family(m->family, fam, "route", m->dest[0] ? m->dest : m->gateway, err) < 0)
		return -EINVAL;
	r->family = fam;
	if (m->device[0]) {
		struct link *l = link_by_name(ls, m->device);

		if (!l)
			return kc_error_set(err, ENOENT, "no interface named `%s`", m->device);
		r->oif = l->index;
	}
	if (!r->oif && !r->has_gw)
		return kc_error_set(err, EINVAL, "route to `%s` has neither device nor gateway",
				    m->dest[0] ? m->dest : "default");
	if (m->scope > 255)
		return kc_error_set(err, EINVAL, "scope %u is over 255", m->scope);
	if (m->flags & ~(uint32_t)RTNH_F_ONLINK)
		return kc_error_set(err, EINVAL, "route flags %#x: only onlink (%#x) is allowed",
				    m->flags, RTNH_F_ONLINK);
	r->scope = (uint8_t)m->scope;
	r->flags = m->flags;
	r->mtu = m->mtu;
	r->protocol = RTPROT_BOOT;
	return 0;
}

int kc_net_update_routes(const Grpc__Routes *want, Grpc__Routes **out, kc_error_t *err)
{
	size_t n = want ? want->n_routes : 0;
	cleanup_free struct route *add = kc_xzalloc((n + 1) * sizeof(*add));
	struct links ls = { 0 };
	struct routes old = { 0 };
	struct kc_nl nl;
	size_t k = 0;
	int ret;

	ret = kc_nl_open(&nl, err);
	if (ret < 0)
		return ret;
	ret = list_links(&nl, &ls, err);
	if (ret < 0)
		goto out;
	/* Routes without a gateway first: a gateway must be reachable
	 * through one of them before its route can be added. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const Grpc__Route *m = want->routes[i];
			bool gw = m && m->gateway[0];

			if ((pass == 0) == gw)
				continue;
			if (!m) {
				ret = kc_error_set(err, EINVAL, "routes[%zu] is empty", i);
				goto out;
			}
			ret = route_from_msg(m, &ls, &add[k], err);
			if (ret < 0) {
				kc_error_wrap(err, "routes[%zu]", i);
				goto out;
			}
			k++;
		}
	}
	ret = dump_routes(&nl, &old, err);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < old.n; i++) {
		/* The kernel's own routes come and go with addresses. */
		if (old.v[i].protocol == RTPROT_KERNEL)
			continue;
		ret = route_change(&nl, RTM_DELROUTE, &old.v[i], err);
		if (ret == -ESRCH) {
			kc_error_free(err);
			ret = 0;
		}
		if (ret < 0)
			goto out;
	}
	for (size_t i = 0; i < k; i++) {
		ret = route_change(&nl, RTM_NEWROUTE, &add[i], err);
		if (ret < 0) {
			cleanup_free char *d = route_dest(&add[i]);

			kc_error_wrap(err, "route to `%s`", d[0] ? d : "default");
			goto out;
		}
	}
	ret = list_routes(&nl, out, err);
out:
	free(ls.v);
	free(old.v);
	kc_nl_close(&nl);
	return ret;
}

/* ---- neighbours and loopback ---- */

int kc_net_add_arp_neighbors(Grpc__ARPNeighbor *const *neigh, size_t n, kc_error_t *err)
{
	struct links ls = { 0 };
	struct kc_nl nl;
	int ret;

	ret = kc_nl_open(&nl, err);
	if (ret < 0)
		return ret;
	ret = list_links(&nl, &ls, err);
	for (size_t i = 0; ret >= 0 && i < n; i++) {
		const Grpc__ARPNeighbor *a = neigh[i];
		struct kc_nl_msg m;
		struct ndmsg *nd;
		struct link *l;
		uint8_t ip[16], mac[6];
		int fam;

		if (!a || !a->to_ip_address || !a->to_ip_address->address[0]) {
			ret = kc_error_set(err, EINVAL, "neighbors[%zu] has no to_ip_address", i);
			break;
		}
		if (kc_net_parse_ip(a->to_ip_address->address, &fam, ip, err) < 0 ||
		    (a->lladdr[0] && kc_net_parse_mac(a->lladdr, mac, err) < 0)) {
			ret = kc_error_wrap(err, "neighbors[%zu]", i);
			break;
		}
		l = link_by_name(&ls, a->device);
		if (!l) {
			ret = kc_error_set(err, ENOENT, "neighbors[%zu]: no interface named `%s`",
					   i, a->device);
			break;
		}
		if (a->state < 0 || a->state > 0xffff || a->flags < 0 || a->flags > 0xff) {
			ret = kc_error_set(err, EINVAL, "neighbors[%zu]: bad state %d or flags %d",
					   i, a->state, a->flags);
			break;
		}
		nd = kc_nl_msg_init(&m, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*nd));
		nd->ndm_family = (uint8_t)fam;
		nd->ndm_ifindex = l->index;
		/* Kata's runtime sends NUD_PERMANENT; 0 means the same. */
		nd->ndm_state = a->state ? (uint16_t)a->state : NUD_PERMANENT;
		nd->ndm_flags = (uint8_t)a->flags;
		kc_nl_put(&m, NDA_DST, ip, addr_len(fam));
		if (a->lladdr[0])
			kc_nl_put(&m, NDA_LLADDR, mac, 6);
		ret = kc_nl_request(&nl, &m, "add neighbour", err);
		if (ret < 0)
			kc_error_wrap(err, "neighbors[%zu] `%s` on `%s`", i,
				      a->to_ip_address->address, a->device);
	}
	free(ls.v);
	kc_nl_close(&nl);
	return ret;
}

int kc_net_loopback_up(kc_error_t *err)
{
	struct links ls = { 0 };
	struct link *l;
	struct kc_nl nl;
	int ret;

	ret = kc_nl_open(&nl, err);
	if (ret < 0)
		return ret;
	ret = list_links(&nl, &ls, err);
	if (ret >= 0) {
		l = link_by_name(&ls, "lo");
		if (!l)
			ret = kc_error_set(err, ENOENT, "no loopback interface `lo`");
		else if (!(l->flags & IFF_UP))
			ret = link_set(&nl, l->index, IFF_UP, IFF_UP, NULL, 0, NULL, err);
	}
	if (ret < 0)
		kc_error_wrap(err, "bring up `lo`");
	free(ls.v);
	kc_nl_close(&nl);
	return ret;
}

/* ---- handlers ---- */

bool kc_agent_net_is_host(const struct kc_agent *a)
{
	/* The host's namespace is PID 1's, and kthreadd's (PID 2) where PID
	 * 1 hides its own; neither readable counts as the host's. */
	static const char *const refs[] = { "/proc/1/ns/net", "/proc/2/ns/net" };
	struct stat self, ref;
	bool known = false;

	if (a->init_mode)
		return false;
	if (stat("/proc/self/ns/net", &self) < 0)
		return true;
	for (size_t i = 0; i < KC_ARRAY_SIZE(refs); i++) {
		if (stat(refs[i], &ref) < 0)
			continue;
		known = true;
		if (self.st_ino == ref.st_ino && self.st_dev == ref.st_dev)
			return true;
	}
	return !known;
}

/* Changing the network is for a guest, or a namespace of the agent's own:
 * never the host's, where an agent run with --no-init would rewrite the
 * host's routes. */
static bool may_change(struct kc_ttrpc_call *call, const struct kc_agent *a)
{
	if (!kc_agent_net_is_host(a))
		return true;
	kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
			   "%s: the agent is not the guest's init (--no-init) and shares the "
			   "host's network namespace: it does not change the host's network",
			   kc_ttrpc_call_method(call));
	return false;
}

static void reply_and_free(struct kc_ttrpc_call *call, ProtobufCMessage *msg)
{
	kc_ttrpc_call_reply_msg(call, msg);
	protobuf_c_message_free_unpacked(msg, NULL);
}

void kc_agent_h_update_interface(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__UpdateInterfaceRequest *req = (const void *)m;
	cleanup_error kc_error_t err = NULL;
	Grpc__Interface *out = NULL;

	if (!may_change(call, data))
		return;
	if (!req->interface) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "UpdateInterface: no interface");
		return;
	}
	if (kc_net_update_interface(req->interface, &out, &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_info("interface %s updated (%zu addresses)", out->name, out->n_ip_addresses);
	reply_and_free(call, &out->base);
}

void kc_agent_h_update_routes(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__UpdateRoutesRequest *req = (const void *)m;
	cleanup_error kc_error_t err = NULL;
	Grpc__Routes *out = NULL;

	if (!may_change(call, data))
		return;
	if (kc_net_update_routes(req->routes, &out, &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_info("routes updated (%zu in the main table)", out->n_routes);
	reply_and_free(call, &out->base);
}

void kc_agent_h_list_interfaces(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	cleanup_error kc_error_t err = NULL;
	Grpc__Interfaces *out = NULL;

	(void)m;
	(void)data;
	if (kc_net_list_interfaces(&out, &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	reply_and_free(call, &out->base);
}

void kc_agent_h_list_routes(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	cleanup_error kc_error_t err = NULL;
	Grpc__Routes *out = NULL;

	(void)m;
	(void)data;
	if (kc_net_list_routes(&out, &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	reply_and_free(call, &out->base);
}

void kc_agent_h_add_arp_neighbors(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__AddARPNeighborsRequest *req = (const void *)m;
	cleanup_error kc_error_t err = NULL;

	if (!may_change(call, data))
		return;
	if (kc_net_add_arp_neighbors(req->neighbors, req->n_neighbors, &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, NULL);
}

/* The guest image carries no iptables binaries and the agent no netfilter
 * code: say so rather than pretend. */
void kc_agent_h_get_iptables(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	(void)m;
	(void)data;
	kc_ttrpc_call_fail(call, KC_TTRPC_UNIMPLEMENTED,
			   "GetIPTables: the guest has no iptables-save (netfilter rules are not "
			   "managed by this agent)");
}

void kc_agent_h_set_iptables(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	(void)m;
	(void)data;
	kc_ttrpc_call_fail(call, KC_TTRPC_UNIMPLEMENTED,
			   "SetIPTables: the guest has no iptables-restore (netfilter rules are "
			   "not managed by this agent)");
}
