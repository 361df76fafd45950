/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's side of the pod network as the agent's requests, the fields
 * as Kata's runtime fills them (generateVCNetworkStructures): the NIC is
 * named like the veth and found by its MAC, routes name that device, a
 * default route has an empty dest.
 *
 * Every string is allocated, even an empty one, so that
 * protobuf_c_message_free_unpacked(msg, NULL) can free the whole tree.
 */
#include <net/if.h>
#include <stdlib.h>

#include "internal.h"
#include "lib/util.h"

static Grpc__IPFamily family_of(int family)
{
	return family == AF_INET6 ? GRPC__IPFAMILY__V6 : GRPC__IPFAMILY__V4;
}

static Grpc__IPAddress *ip_msg(int family, const uint8_t *addr, const char *mask)
{
	Grpc__IPAddress *ip = kc_xmalloc(sizeof(*ip));
	char buf[46];

	grpc__ipaddress__init(ip);
	ip->family = family_of(family);
	ip->address = kc_xstrdup(kc_podnet_format_ip(family, addr, buf));
	ip->mask = kc_xstrdup(mask);
	return ip;
}

static Grpc__Interface *interface_msg(const struct kc_podnet_endpoint *ep)
{
	Grpc__Interface *i = kc_xmalloc(sizeof(*i));
	char mac[18];

	grpc__interface__init(i);
	i->device = kc_xstrdup(ep->name);
	i->name = kc_xstrdup(ep->name);
	i->n_ip_addresses = ep->n_addrs;
	i->ip_addresses = kc_xzalloc((ep->n_addrs + 1) * sizeof(*i->ip_addresses));
	for (size_t k = 0; k < ep->n_addrs; k++) {
		cleanup_free char *mask = kc_xasprintf("%u", ep->addrs[k].prefix);

		i->ip_addresses[k] = ip_msg(ep->addrs[k].family, ep->addrs[k].addr, mask);
	}
	i->mtu = ep->mtu;
	i->hw_addr = kc_xstrdup(kc_podnet_format_mac(ep->mac, mac));
	/* microvm has no PCI: the agent finds the NIC by its MAC. */
	i->device_path = kc_xstrdup("");
	i->type = kc_xstrdup(ep->kind);
	/* Kata passes on NOARP only; the agent brings the link up. */
	i->raw_flags = ep->flags & IFF_NOARP;
	return i;
}

static Grpc__Route *route_msg(const struct kc_podnet_route *r)
{
	Grpc__Route *m = kc_xmalloc(sizeof(*m));
	char buf[46];

	grpc__route__init(m);
	m->dest = r->has_dst ? kc_xasprintf("%s/%u", kc_podnet_format_ip(r->family, r->dst, buf),
					    r->dst_len)
			     : kc_xstrdup("");
	m->gateway = kc_xstrdup(r->has_gw ? kc_podnet_format_ip(r->family, r->gw, buf) : "");
	m->device = kc_xstrdup(r->device);
	m->source = kc_xstrdup(r->has_src ? kc_podnet_format_ip(r->family, r->src, buf) : "");
	m->scope = r->scope;
	m->family = family_of(r->family);
	m->flags = r->flags;
	m->mtu = r->mtu;
	return m;
}

static Grpc__ARPNeighbor *neigh_msg(const struct kc_podnet_neigh *n)
{
	Grpc__ARPNeighbor *m = kc_xmalloc(sizeof(*m));
	char mac[18];

	grpc__arpneighbor__init(m);
	m->to_ip_address = ip_msg(n->family, n->ip, "");
	m->device = kc_xstrdup(n->device);
	m->lladdr = kc_xstrdup(n->has_lladdr ? kc_podnet_format_mac(n->lladdr, mac) : "");
	m->state = n->state;
	m->flags = n->flags;
	return m;
}

void kc_podnet_agent_msgs(const struct kc_podnet *net, struct kc_podnet_agent_msgs *out)
{
	Grpc__Routes *routes = kc_xmalloc(sizeof(*routes));

	out->n_interfaces = net->n_endpoints;
	out->interfaces = kc_xzalloc((net->n_endpoints + 1) * sizeof(*out->interfaces));
	for (size_t i = 0; i < net->n_endpoints; i++) {
		Grpc__UpdateInterfaceRequest *r = kc_xmalloc(sizeof(*r));

		grpc__update_interface_request__init(r);
		r->interface = interface_msg(&net->endpoints[i]);
		out->interfaces[i] = r;
	}

	grpc__routes__init(routes);
	routes->n_routes = net->n_routes;
	routes->routes = kc_xzalloc((net->n_routes + 1) * sizeof(*routes->routes));
	for (size_t i = 0; i < net->n_routes; i++)
		routes->routes[i] = route_msg(&net->routes[i]);
	out->routes = kc_xmalloc(sizeof(*out->routes));
	grpc__update_routes_request__init(out->routes);
	out->routes->routes = routes;

	out->neighbors = kc_xmalloc(sizeof(*out->neighbors));
	grpc__add_arpneighbors_request__init(out->neighbors);
	out->neighbors->n_neighbors = net->n_neighbors;
	out->neighbors->neighbors = kc_xzalloc((net->n_neighbors + 1) *
					       sizeof(*out->neighbors->neighbors));
	for (size_t i = 0; i < net->n_neighbors; i++)
		out->neighbors->neighbors[i] = neigh_msg(&net->neighbors[i]);
}

void kc_podnet_agent_msgs_free(struct kc_podnet_agent_msgs *m)
{
	for (size_t i = 0; i < m->n_interfaces; i++)
		protobuf_c_message_free_unpacked(&m->interfaces[i]->base, NULL);
	free(m->interfaces);
	if (m->routes)
		protobuf_c_message_free_unpacked(&m->routes->base, NULL);
	if (m->neighbors)
		protobuf_c_message_free_unpacked(&m->neighbors->base, NULL);
	m->interfaces = NULL;
	m->n_interfaces = 0;
	m->routes = NULL;
	m->neighbors = NULL;
}
