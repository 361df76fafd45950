/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of pod networking against real namespaces.
 *
 * The pod: netns kc-hostnet-<pid> with two veths, eth0 (10.77.0.2/24,
 * fd77::2/64, MTU 1400) and eth1 (10.79.0.2/24), routes and neighbours.
 * Their peers, peth0 and peth1, live in kc-hostnet-<pid>-p, which plays
 * the bridge.  Every namespace is deleted at the end, also on failure.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_harness.h"
#include "lib/json.h"
#include "lib/util.h"
#include "host/child.h"
#include "hypervisor/qemu/qemu.h"
#include "network/network.h"

static char ns_pod[64], ns_peer[64], ns_bad[64], ns_bad_peer[64], ns_empty[64], ns_noaddr[64];
static char ns_gone[64];
static char path_pod[128];

static const char mac0[] = "02:4b:43:00:00:02";
static const char mac1[] = "02:4b:43:00:01:02";
static const char peer_mac0[] = "02:4b:43:00:00:01";

/* ---- helpers ---- */

static void del_all_netns(void)
{
	const char *all[] = { ns_pod, ns_peer, ns_bad, ns_bad_peer, ns_empty, ns_noaddr, ns_gone };

	for (size_t i = 0; i < KC_ARRAY_SIZE(all); i++)
		ah_netns_del(all[i]);
}

static int ns_enter(const char *name)
{
	cleanup_free char *p = kc_xasprintf("/var/run/netns/%s", name);
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	assert_true(self >= 0 && fd >= 0);
	assert_int_equal(setns(fd, CLONE_NEWNET), 0);
	close(fd);
	return self;
}

static void ns_leave(int self)
{
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(self);
}

static bool link_exists(const char *ns, const char *dev)
{
	cleanup_free char *cmd = kc_xasprintf("ip -n %s link show %s >/dev/null 2>&1", ns, dev);

	return system(cmd) == 0;
}

static bool has_ingress(const char *ns, const char *dev)
{
	cleanup_free char *q = ah_sh_out("tc -n %s -j qdisc show dev %s", ns, dev);

	return strstr(q, "\"kind\":\"ingress\"") != NULL;
}

static const struct kc_podnet_endpoint *ep_named(const struct kc_podnet *net, const char *name)
{
	for (size_t i = 0; i < net->n_endpoints; i++)
		if (strcmp(net->endpoints[i].name, name) == 0)
			return &net->endpoints[i];
	return NULL;
}

static bool has_addr(const struct kc_podnet_endpoint *ep, const char *ip, unsigned prefix)
{
	char buf[46];

	for (size_t i = 0; i < ep->n_addrs; i++)
		if (strcmp(kc_podnet_format_ip(ep->addrs[i].family, ep->addrs[i].addr, buf), ip) ==
			    0 &&
		    ep->addrs[i].prefix == prefix)
			return true;
	return false;
}

/* A route as "dst|gw|dev|src|scope|family", dst "default" for none. */
static char *route_str(const struct kc_podnet_route *r)
{
	char d[46], g[46], s[46];

	cleanup_free char *dst = r->has_dst ? kc_xasprintf("%s/%u",
							   kc_podnet_format_ip(r->family, r->dst, d),
							   r->dst_len)
					    : kc_xstrdup("default");

	return kc_xasprintf("%s|%s|%s|%s|%u|%d", dst,
			    r->has_gw ? kc_podnet_format_ip(r->family, r->gw, g) : "", r->device,
			    r->has_src ? kc_podnet_format_ip(r->family, r->src, s) : "", r->scope,
			    r->family);
}

static bool has_route(const struct kc_podnet *net, const char *want)
{
	for (size_t i = 0; i < net->n_routes; i++) {
		cleanup_free char *s = route_str(&net->routes[i]);

		if (strcmp(s, want) == 0)
			return true;
	}
	return false;
}

static void print_routes(const struct kc_podnet *net)
{
	for (size_t i = 0; i < net->n_routes; i++) {
		cleanup_free char *s = route_str(&net->routes[i]);

		fprintf(stderr, "# route %s\n", s);
	}
}

static struct kc_podnet *scan_ok(const char *path)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_podnet_options o = { .model = "tcfilter" };
	struct kc_podnet *net = NULL;

	if (kc_podnet_scan(path, &o, &net, &err) < 0)
		fail_msg("scan `%s`: %s", path, err->msg);
	return net;
}

/* ---- setup ---- */

static int group_setup(void **state)
{
	(void)state;
	snprintf(ns_pod, sizeof(ns_pod), "kc-hostnet-%d", getpid());
	snprintf(ns_peer, sizeof(ns_peer), "kc-hostnet-%d-p", getpid());
	snprintf(ns_bad, sizeof(ns_bad), "kc-hostnet-%d-b", getpid());
	snprintf(ns_bad_peer, sizeof(ns_bad_peer), "kc-hostnet-%d-bp", getpid());
	snprintf(ns_empty, sizeof(ns_empty), "kc-hostnet-%d-e", getpid());
	snprintf(ns_noaddr, sizeof(ns_noaddr), "kc-hostnet-%d-n", getpid());
	snprintf(ns_gone, sizeof(ns_gone), "kc-hostnet-%d-g", getpid());
	snprintf(path_pod, sizeof(path_pod), "/var/run/netns/%s", ns_pod);
	atexit(del_all_netns);
	del_all_netns();

	const char *P = ns_pod, *Q = ns_peer;

	if (ah_system("ip netns add %s && ip netns add %s", P, Q) ||
	    ah_system("ip -n %s link add eth0 type veth peer name peth0 netns %s", P, Q) ||
	    ah_system("ip -n %s link add eth1 type veth peer name peth1 netns %s", P, Q) ||
	    ah_system("ip -n %s link set eth0 address %s mtu 1400", P, mac0) ||
	    ah_system("ip -n %s link set eth1 address %s", P, mac1) ||
	    ah_system("ip -n %s link set peth0 address %s mtu 1400", Q, peer_mac0) ||
	    ah_system("ip -n %s addr add 10.77.0.2/24 dev eth0", P) ||
	    ah_system("ip -n %s addr add fd77::2/64 dev eth0 nodad", P) ||
	    ah_system("ip -n %s addr add 10.79.0.2/24 dev eth1", P) ||
	    ah_system("ip -n %s link set eth0 up && ip -n %s link set eth1 up && "
		      "ip -n %s link set lo up",
		      P, P, P) ||
	    ah_system("ip -n %s route add 10.78.0.0/16 via 10.77.0.1", P) ||
	    ah_system("ip -n %s route add default via 10.77.0.1", P) ||
	    ah_system("ip -n %s -6 route add fd78::/64 via fd77::1", P) ||
	    ah_system("ip -n %s neigh add 10.77.0.9 lladdr 02:00:00:00:00:09 dev eth0 nud permanent",
		      P) ||
	    ah_system("ip -n %s neigh add 10.77.0.8 lladdr 02:00:00:00:00:08 dev eth0 nud reachable",
		      P) ||
	    ah_system("ip -n %s addr add 10.77.0.1/24 dev peth0", Q) ||
	    ah_system("ip -n %s addr add fd77::1/64 dev peth0 nodad", Q) ||
	    ah_system("ip -n %s addr add 10.79.0.1/24 dev peth1", Q) ||
	    ah_system("ip -n %s link set peth0 up && ip -n %s link set peth1 up", Q, Q) ||
	    /* The peer answers the TAP's frames without asking who 10.77.0.2 is. */
	    ah_system("ip -n %s neigh add 10.77.0.2 lladdr %s dev peth0 nud permanent", Q, mac0) ||
	    ah_system("ip -n %s neigh add 10.79.0.2 lladdr %s dev peth1 nud permanent", Q, mac1))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	del_all_netns();
	return 0;
}

/* ---- scan ---- */

static void test_scan(void **state)
{
	cleanup_podnet struct kc_podnet *net = NULL;
	const struct kc_podnet_endpoint *e0, *e1;
	char buf[46], mac[18];
	char want[128];

	(void)state;
	net = scan_ok(path_pod);
	assert_string_equal(net->netns_path, path_pod);
	assert_int_equal(net->n_endpoints, 2);
	e0 = ep_named(net, "eth0");
	e1 = ep_named(net, "eth1");
	if (!e0 || !e1)
		fail_msg("eth0 or eth1 was not scanned");
	assert_string_equal(e0->kind, "veth");
	assert_string_equal(kc_podnet_format_mac(e0->mac, mac), mac0);
	assert_string_equal(kc_podnet_format_mac(e1->mac, mac), mac1);
	assert_int_equal(e0->mtu, 1400);
	assert_int_equal(e1->mtu, 1500);
	assert_true(e0->flags & IFF_UP);
	{
		cleanup_free char *idx = ah_sh_out(
			"ip -n %s -j link show eth0 | python3 -c 'import "
			"json,sys; print(json.load(sys.stdin)[0][\"ifindex\"])'",
			ns_pod);

		assert_int_equal(e0->ifindex, atoi(idx));
	}
	/* IPv4 and IPv6 with prefixes; no fe80:: (the guest makes its own). */
	assert_int_equal(e0->n_addrs, 2);
	assert_true(has_addr(e0, "10.77.0.2", 24));
	assert_true(has_addr(e0, "fd77::2", 64));
	assert_int_equal(e1->n_addrs, 1);
	assert_true(has_addr(e1, "10.79.0.2", 24));

	/* Routes: the kernel's subnet routes, the gateway routes, the
	 * default; not IPv6 link-local, not the local table. */
	print_routes(net);
	snprintf(want, sizeof(want), "10.77.0.0/24||eth0|10.77.0.2|%d|%d", RT_SCOPE_LINK, AF_INET);
	assert_true(has_route(net, want));
	snprintf(want, sizeof(want), "10.78.0.0/16|10.77.0.1|eth0||%d|%d", RT_SCOPE_UNIVERSE,
		 AF_INET);
	assert_true(has_route(net, want));
	snprintf(want, sizeof(want), "default|10.77.0.1|eth0||%d|%d", RT_SCOPE_UNIVERSE, AF_INET);
	assert_true(has_route(net, want));
	snprintf(want, sizeof(want), "10.79.0.0/24||eth1|10.79.0.2|%d|%d", RT_SCOPE_LINK, AF_INET);
	assert_true(has_route(net, want));
	snprintf(want, sizeof(want), "fd77::/64||eth0||%d|%d", RT_SCOPE_UNIVERSE, AF_INET6);
	assert_true(has_route(net, want));
	snprintf(want, sizeof(want), "fd78::/64|fd77::1|eth0||%d|%d", RT_SCOPE_UNIVERSE, AF_INET6);
	assert_true(has_route(net, want));
	assert_int_equal(net->n_routes, 6);

	/* Only the permanent neighbour. */
	assert_int_equal(net->n_neighbors, 1);
	assert_int_equal(net->neighbors[0].family, AF_INET);
	assert_string_equal(kc_podnet_format_ip(AF_INET, net->neighbors[0].ip, buf), "10.77.0.9");
	assert_true(net->neighbors[0].has_lladdr);
	assert_string_equal(kc_podnet_format_mac(net->neighbors[0].lladdr, mac),
			    "02:00:00:00:00:09");
	assert_string_equal(net->neighbors[0].device, "eth0");
	assert_int_equal(net->neighbors[0].state, NUD_PERMANENT);
	/* Nothing is connected by a scan. */
	assert_false(link_exists(ns_pod, "tap0_kata"));
	assert_false(has_ingress(ns_pod, "eth0"));
}

/* ---- the agent's messages ---- */

static void test_agent_msgs(void **state)
{
	cleanup_podnet struct kc_podnet *net = NULL;
	struct kc_podnet_agent_msgs m = { 0 };
	const Grpc__Interface *i0 = NULL;
	bool saw_default = false, saw_gw = false;

	(void)state;
	net = scan_ok(path_pod);
	kc_podnet_agent_msgs(net, &m);
	assert_int_equal(m.n_interfaces, 2);
	for (size_t i = 0; i < m.n_interfaces; i++)
		if (strcmp(m.interfaces[i]->interface->name, "eth0") == 0)
			i0 = m.interfaces[i]->interface;
	assert_non_null(i0);
	assert_string_equal(i0->device, "eth0");
	assert_string_equal(i0->hw_addr, mac0);
	assert_int_equal(i0->mtu, 1400);
	assert_string_equal(i0->type, "veth");
	assert_int_equal(i0->raw_flags, 0);
	assert_int_equal(i0->n_ip_addresses, 2);
	for (size_t k = 0; k < 2; k++) {
		const Grpc__IPAddress *a = i0->ip_addresses[k];

		if (a->family == GRPC__IPFAMILY__V4) {
			assert_string_equal(a->address, "10.77.0.2");
			assert_string_equal(a->mask, "24");
		} else {
			assert_string_equal(a->address, "fd77::2");
			assert_string_equal(a->mask, "64");
		}
	}
	assert_int_equal(m.routes->routes->n_routes, 6);
	for (size_t k = 0; k < m.routes->routes->n_routes; k++) {
		const Grpc__Route *r = m.routes->routes->routes[k];

		if (!r->dest[0]) {
			saw_default = true;
			assert_string_equal(r->gateway, "10.77.0.1");
			assert_string_equal(r->device, "eth0");
			assert_int_equal(r->family, GRPC__IPFAMILY__V4);
		}
		if (strcmp(r->dest, "fd78::/64") == 0) {
			saw_gw = true;
			assert_string_equal(r->gateway, "fd77::1");
			assert_int_equal(r->family, GRPC__IPFAMILY__V6);
		}
		if (strcmp(r->dest, "10.77.0.0/24") == 0) {
			assert_string_equal(r->source, "10.77.0.2");
			assert_int_equal(r->scope, RT_SCOPE_LINK);
		}
	}
	assert_true(saw_default && saw_gw);
	assert_int_equal(m.neighbors->n_neighbors, 1);
	assert_string_equal(m.neighbors->neighbors[0]->to_ip_address->address, "10.77.0.9");
	assert_string_equal(m.neighbors->neighbors[0]->lladdr, "02:00:00:00:00:09");
	assert_string_equal(m.neighbors->neighbors[0]->device, "eth0");
	assert_int_equal(m.neighbors->neighbors[0]->state, NUD_PERMANENT);

	/* They pack, and unpack to the same thing. */
	{
		size_t n = protobuf_c_message_get_packed_size(&m.routes->base);
		cleanup_free uint8_t *buf = kc_xmalloc(n);
		Grpc__UpdateRoutesRequest *back;

		assert_int_equal(protobuf_c_message_pack(&m.routes->base, buf), n);
		back = grpc__update_routes_request__unpack(NULL, n, buf);
		assert_non_null(back);
		assert_int_equal(back->routes->n_routes, 6);
		grpc__update_routes_request__free_unpacked(back, NULL);
	}
	kc_podnet_agent_msgs_free(&m);
	assert_null(m.routes);
}

/* ---- connect, traffic, disconnect ---- */

/* Reads frames from fd (a TAP with a vnet header when vnet) until match()
 * accepts one or 10 s pass with nothing (a limit, not a measurement). */
static bool read_frame(int fd, bool vnet, bool (*match)(const uint8_t *, size_t, void *), void *arg)
{
	uint8_t buf[2048];
	size_t off = vnet ? sizeof(struct virtio_net_hdr) : 0;

	for (int tries = 0; tries < 200; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10000) != 1)
			return false;
		n = read(fd, buf, sizeof(buf));
		if (n < (ssize_t)off)
			return false;
		if (match(buf + off, (size_t)n - off, arg))
			return true;
	}
	return false;
}

struct arp_frame {
	struct ether_header eth;
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[6], spa[4], tha[6], tpa[4];
} __attribute__((packed));

static void parse_mac(const char *s, uint8_t m[6])
{
	assert_int_equal(sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3],
				&m[4], &m[5]),
			 6);
}

/* An ARP packet with opcode *(int *)arg whose sender MAC is eth0's (a
 * request that left through the TAP) or whose target is (the reply). */
static bool is_arp(const uint8_t *f, size_t n, void *arg)
{
	const struct arp_frame *a = (const void *)f;
	uint8_t m[6];

	parse_mac(mac0, m);
	if (n < sizeof(*a) || ntohs(a->eth.ether_type) != ETHERTYPE_ARP ||
	    ntohs(a->op) != *(int *)arg)
		return false;
	return *(int *)arg == 1 ? memcmp(a->sha, m, 6) == 0 : memcmp(a->tha, m, 6) == 0;
}

static bool is_udp_9999(const uint8_t *f, size_t n, void *arg)
{
	const struct ether_header *eth = (const void *)f;
	const struct iphdr *ip = (const void *)(f + sizeof(*eth));
	const struct udphdr *udp;
	const char *want = arg;

	if (n < sizeof(*eth) + sizeof(*ip) + sizeof(*udp) ||
	    ntohs(eth->ether_type) != ETHERTYPE_IP || ip->protocol != IPPROTO_UDP)
		return false;
	udp = (const void *)((const uint8_t *)ip + ip->ihl * 4);
	if ((const uint8_t *)(udp + 1) + strlen(want) > f + n || ntohs(udp->dest) != 9999)
		return false;
	return memcmp(udp + 1, want, strlen(want)) == 0;
}

static void test_connect_traffic_disconnect(void **state)
{
	cleanup_podnet struct kc_podnet *net = NULL;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *qdisc_before = ah_sh_out("tc -n %s -j qdisc show dev eth0", ns_pod);
	const struct kc_podnet_endpoint *e0;
	int fds_before = ah_count_fds(getpid());
	int pkt, self, op;

	uint64_t t0, t1, t2;

	(void)state;
	t0 = kc_monotonic_ns();
	net = scan_ok(path_pod);
	t1 = kc_monotonic_ns();
	if (kc_podnet_connect(net, &err) < 0)
		fail_msg("connect: %s", err->msg);
	t2 = kc_monotonic_ns();
	/* Printed, never asserted. */
	fprintf(stderr, "# scan %llu us, connect (2 interfaces) %llu us\n",
		(unsigned long long)(t1 - t0) / 1000, (unsigned long long)(t2 - t1) / 1000);
	e0 = ep_named(net, "eth0");
	assert_true(e0->connected);
	assert_int_equal(e0->queues, 1);
	assert_true(e0->tap_fds[0] >= 0);
	assert_int_equal(e0->tap_fds[1], -1);

	/* The TAPs: Kata's names, the veth's MTU, up, TAP with vnet header. */
	for (size_t i = 0; i < 2; i++) {
		const struct kc_podnet_endpoint *ep = &net->endpoints[i];
		cleanup_free char *name = kc_xasprintf("tap%zu_kata", i);
		cleanup_free char *l = ah_sh_out("ip -n %s -j -d link show %s", ns_pod, name);
		cleanup_free char *mtu = kc_xasprintf("\"mtu\":%u,", ep->mtu);
		cleanup_free char *f1 = ah_sh_out("tc -n %s -j filter show dev %s ingress", ns_pod,
						  ep->name);
		cleanup_free char *f2 = ah_sh_out("tc -n %s -j filter show dev %s ingress", ns_pod,
						  name);
		cleanup_free char *to_tap = kc_xasprintf("\"to_dev\":\"%s\"", name);
		cleanup_free char *to_veth = kc_xasprintf("\"to_dev\":\"%s\"", ep->name);

		assert_string_equal(ep->tap_name, name);
		assert_non_null(strstr(l, mtu));
		assert_non_null(strstr(l, "\"UP\""));
		assert_non_null(strstr(l, "\"type\":\"tap\""));
		assert_non_null(strstr(l, "\"vnet_hdr\":true"));
		assert_true(has_ingress(ns_pod, ep->name));
		assert_true(has_ingress(ns_pod, name));
		if (!strstr(f1, "\"kind\":\"u32\"") || !strstr(f1, "\"kind\":\"mirred\"") ||
		    !strstr(f1, "\"mirred_action\":\"redirect\"") ||
		    !strstr(f1, "\"direction\":\"egress\"") || !strstr(f1, to_tap))
			fail_msg("filter on %s: %s", ep->name, f1);
		if (!strstr(f2, "\"kind\":\"mirred\"") || !strstr(f2, to_veth))
			fail_msg("filter on %s: %s", name, f2);
	}

	/* QEMU's arguments for it. */
	{
		cleanup_strv char **argv = kc_podnet_qemu_args(e0, NULL);
		cleanup_free char *nd = kc_xasprintf("tap,id=%s,fd=%d,vhost=off", e0->netdev_id,
						     e0->tap_fds[0]);
		cleanup_free char *dev = kc_xasprintf("virtio-net-device,netdev=%s,mac=%s",
						      e0->netdev_id, mac0);
		const int child[] = { 3 };
		cleanup_strv char **argv2 = kc_podnet_qemu_args(e0, child);

		assert_string_equal(argv[0], "-netdev");
		assert_string_equal(argv[1], nd);
		assert_string_equal(argv[2], "-device");
		assert_string_equal(argv[3], dev);
		assert_null(argv[4]);
		assert_non_null(strstr(argv2[1], ",fd=3,"));
	}

	/* TAP -> veth -> peer: an ARP request written into the TAP as the
	 * guest would reaches peth0 (seen there by a packet socket) ... */
	self = ns_enter(ns_peer);
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	assert_true(pkt >= 0);
	{
		struct sockaddr_ll sll = { .sll_family = AF_PACKET,
					   .sll_protocol = htons(ETH_P_ARP),
					   .sll_ifindex = (int)if_nametoindex("peth0") };

		assert_int_equal(bind(pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);
	}
	ns_leave(self);
	{
		struct {
			struct virtio_net_hdr vh;
			struct arp_frame a;
		} __attribute__((packed)) fr = { 0 };

		memset(fr.a.eth.ether_dhost, 0xff, 6);
		parse_mac(mac0, fr.a.eth.ether_shost);
		fr.a.eth.ether_type = htons(ETHERTYPE_ARP);
		fr.a.htype = htons(1);
		fr.a.ptype = htons(ETHERTYPE_IP);
		fr.a.hlen = 6;
		fr.a.plen = 4;
		fr.a.op = htons(1);
		memcpy(fr.a.sha, fr.a.eth.ether_shost, 6);
		inet_pton(AF_INET, "10.77.0.2", fr.a.spa);
		inet_pton(AF_INET, "10.77.0.1", fr.a.tpa);
		assert_int_equal(write(e0->tap_fds[0], &fr, sizeof(fr)), sizeof(fr));
	}
	op = 1;
	assert_true(read_frame(pkt, false, is_arp, &op));
	close(pkt);
	/* ... and the peer's answer comes back through the veth to the TAP
	 * (the namespace's own stack never sees it: mirred steals it). */
	op = 2;
	assert_true(read_frame(e0->tap_fds[0], true, is_arp, &op));

	/* peer -> veth -> TAP: a datagram the peer sends to 10.77.0.2 is
	 * read from the TAP fd. */
	self = ns_enter(ns_peer);
	{
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9999) };
		const char msg[] = "kata-c hostnet to the guest";

		assert_true(u >= 0);
		inet_pton(AF_INET, "10.77.0.2", &to.sin_addr);
		ns_leave(self);
		assert_int_equal(sendto(u, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)),
				 sizeof(msg));
		close(u);
		assert_true(read_frame(e0->tap_fds[0], true, is_udp_9999, (void *)msg));
	}
	/* The second interface has its own path: peth1 -> eth1 -> tap1_kata. */
	self = ns_enter(ns_peer);
	{
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9999) };
		const char msg[] = "kata-c hostnet to the second NIC";

		assert_true(u >= 0);
		inet_pton(AF_INET, "10.79.0.2", &to.sin_addr);
		ns_leave(self);
		assert_int_equal(sendto(u, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)),
				 sizeof(msg));
		close(u);
		assert_true(read_frame(ep_named(net, "eth1")->tap_fds[0], true, is_udp_9999,
				       (void *)msg));
	}

	/* Teardown: TAPs, qdiscs and filters gone, the veth as it was. */
	t0 = kc_monotonic_ns();
	if (kc_podnet_disconnect(net, &err) < 0)
		fail_msg("disconnect: %s", err->msg);
	fprintf(stderr, "# disconnect %llu us\n",
		(unsigned long long)(kc_monotonic_ns() - t0) / 1000);
	assert_false(net->endpoints[0].connected);
	assert_int_equal(net->endpoints[0].tap_fds[0], -1);
	assert_false(link_exists(ns_pod, "tap0_kata"));
	assert_false(link_exists(ns_pod, "tap1_kata"));
	assert_false(has_ingress(ns_pod, "eth0"));
	assert_false(has_ingress(ns_pod, "eth1"));
	{
		cleanup_free char *link_after = ah_sh_out("ip -n %s -j -d link show eth0", ns_pod);
		cleanup_free char *qdisc_after = ah_sh_out("tc -n %s -j qdisc show dev eth0",
							   ns_pod);
		cleanup_podnet struct kc_podnet *again = scan_ok(path_pod);

		assert_string_equal(qdisc_after, qdisc_before);
		/* Same link apart from counters that traffic moved. */
		assert_non_null(strstr(link_after, "\"mtu\":1400,"));
		assert_non_null(strstr(link_after, mac0));
		assert_int_equal(again->n_endpoints, 2);
		assert_int_equal(again->n_routes, net->n_routes);
		assert_int_equal(again->n_neighbors, net->n_neighbors);
		assert_int_equal(ep_named(again, "eth0")->n_addrs, 2);
	}
	/* Idempotent; no fd left open. */
	assert_int_equal(kc_podnet_disconnect(net, &err), 0);
	kc_podnet_free(kc_steal_ptr(&net));
	assert_int_equal(ah_count_fds(getpid()), fds_before);
}

/* A shim killed with SIGKILL: its TAP fds close with it (the TAPs go when
 * QEMU's do too), but the veth's ingress qdisc and redirect stay.
 * kc_podnet_cleanup_dead() undoes them from the names the sandbox's state
 * recorded, and deletes a TAP that something still holds. */
static void test_cleanup_dead(void **state)
{
	cleanup_podnet struct kc_podnet *net = scan_ok(path_pod);
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *qdisc_before = ah_sh_out("tc -n %s -j qdisc show dev eth0", ns_pod);
	const char *links[2], *taps[2];
	char tap_names[2][IFNAMSIZ];
	int held;

	(void)state;
	if (kc_podnet_connect(net, &err) < 0)
		fail_msg("connect: %s", err->msg);
	for (size_t i = 0; i < 2; i++) {
		struct kc_podnet_endpoint *ep = &net->endpoints[i];

		memcpy(tap_names[i], ep->tap_name, IFNAMSIZ);
		links[i] = ep->name;
		taps[i] = tap_names[i];
		/* The owner dies: no disconnect, only its fds close. */
		ep->connected = false;
		for (unsigned q = 0; q < KC_PODNET_MAX_QUEUES; q++) {
			if (q == 0 && i == 1)
				continue;
			if (ep->tap_fds[q] >= 0)
				close(ep->tap_fds[q]);
			ep->tap_fds[q] = -1;
		}
	}
	/* tap1_kata: still held (a VMM that was not ours to kill). */
	held = net->endpoints[1].tap_fds[0];
	net->endpoints[1].tap_fds[0] = -1;
	assert_false(link_exists(ns_pod, "tap0_kata"));
	assert_true(link_exists(ns_pod, "tap1_kata"));
	assert_true(has_ingress(ns_pod, "eth0"));
	assert_true(has_ingress(ns_pod, "eth1"));
	if (kc_podnet_cleanup_dead(path_pod, links, taps, 2, &err) < 0)
		fail_msg("cleanup: %s", err->msg);
	assert_false(has_ingress(ns_pod, "eth0"));
	assert_false(has_ingress(ns_pod, "eth1"));
	assert_false(link_exists(ns_pod, "tap1_kata"));
	close(held);
	{
		cleanup_free char *qdisc_after = ah_sh_out("tc -n %s -j qdisc show dev eth0",
							   ns_pod);

		assert_string_equal(qdisc_after, qdisc_before);
	}
	/* Again (nothing left), and a namespace that is gone: success. */
	assert_int_equal(kc_podnet_cleanup_dead(path_pod, links, taps, 2, &err), 0);
	assert_int_equal(
		kc_podnet_cleanup_dead("/var/run/netns/kc-no-such-ns", links, taps, 2, &err), 0);
}

/* Two queues: two fds, `fds=` and mq=on for QEMU. */
static void test_multiqueue(void **state)
{
	cleanup_podnet struct kc_podnet *net = NULL;
	cleanup_error kc_error_t err = NULL;
	struct kc_podnet_options o = { .model = "tcfilter", .queues = 2 };
	const struct kc_podnet_endpoint *e0;

	(void)state;
	assert_int_equal(kc_podnet_scan(path_pod, &o, &net, &err), 0);
	if (kc_podnet_connect(net, &err) < 0)
		fail_msg("connect: %s", err->msg);
	e0 = ep_named(net, "eth0");
	assert_int_equal(e0->queues, 2);
	assert_true(e0->tap_fds[0] >= 0 && e0->tap_fds[1] >= 0);
	{
		cleanup_strv char **argv = kc_podnet_qemu_args(e0, (const int[]){ 5, 6 });
		cleanup_free char *l = ah_sh_out("ip -n %s -j -d link show %s", ns_pod,
						 e0->tap_name);

		assert_non_null(strstr(argv[1], ",fds=5:6,vhost=off"));
		assert_non_null(strstr(argv[3], ",mq=on"));
		assert_non_null(strstr(l, "\"multi_queue\":true"));
	}
	kc_podnet_free(kc_steal_ptr(&net));
	assert_false(link_exists(ns_pod, "tap0_kata"));
	assert_false(has_ingress(ns_pod, "eth0"));
}

/* ---- bad input ---- */

static void expect_scan_error(const char *path, const struct kc_podnet_options *o, int want,
			      const char *text)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_podnet *net = NULL;
	int ret = kc_podnet_scan(path, o, &net, &err);

	assert_int_equal(ret, -want);
	assert_null(net);
	assert_non_null(err);
	fprintf(stderr, "# %s\n", err->msg);
	if (!strstr(err->msg, text))
		fail_msg("error `%s` does not name `%s`", err->msg, text);
}

static void test_bad_netns(void **state)
{
	cleanup_free char *missing = kc_xasprintf("/var/run/netns/kc-hostnet-%d-missing", getpid());
	cleanup_free char *stale = kc_xasprintf("/tmp/kc-hostnet-%d-stale", getpid());
	struct kc_podnet_options o = { 0 };

	(void)state;
	expect_scan_error(missing, &o, ENOENT, missing);
	expect_scan_error("/proc/self/ns/uts", &o, EINVAL, "not a network namespace");
	expect_scan_error("/proc/self/ns/net", &o, EINVAL, "own network namespace");
	/* An entry of /var/run/netns left without its mount. */
	assert_int_equal(ah_system("touch %s", stale), 0);
	expect_scan_error(stale, &o, EINVAL, "is not a namespace");
	unlink(stale);
}

static void test_bad_options(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_podnet_options o = { .model = "macvtap" };
	struct kc_podnet *net = NULL;

	(void)state;
	expect_scan_error(path_pod, &o, EOPNOTSUPP, "macvtap");
	o.model = "bridged";
	expect_scan_error(path_pod, &o, EINVAL, "bridged");
	o = (struct kc_podnet_options){ .model = "tcfilter", .disable_new_netns = true };
	expect_scan_error(path_pod, &o, EINVAL, "disable_new_netns");
	o.queues = 9;
	o.disable_new_netns = false;
	expect_scan_error(path_pod, &o, EINVAL, "queues");

	/* "none": no network, the namespace is not even opened. */
	o = (struct kc_podnet_options){ .model = "none", .disable_new_netns = true };
	assert_int_equal(kc_podnet_scan("/nonexistent", &o, &net, &err), 0);
	assert_null(net->netns_path);
	assert_int_equal(net->n_endpoints, 0);
	assert_int_equal(kc_podnet_connect(net, &err), 0);
	kc_podnet_free(net);
	net = NULL;
	/* No namespace in the spec: no network either. */
	o.model = NULL;
	o.disable_new_netns = false;
	assert_int_equal(kc_podnet_scan(NULL, &o, &net, &err), 0);
	assert_int_equal(net->n_endpoints, 0);
	kc_podnet_free(net);
}

static void test_unsupported_kinds(void **state)
{
	cleanup_free char *path = kc_xasprintf("/var/run/netns/%s", ns_bad);
	struct kc_podnet_options o = { 0 };

	(void)state;
	/* A veth with a macvlan on it: both are connected. */
	assert_int_equal(ah_system("ip netns add %s && ip netns add %s", ns_bad, ns_bad_peer), 0);
	assert_int_equal(ah_system("ip -n %s link add va type veth peer name vb netns %s", ns_bad,
				   ns_bad_peer),
			 0);
	assert_int_equal(
		ah_system("ip -n %s link add mv0 link va type macvlan mode bridge && "
			  "ip -n %s addr add 10.81.0.2/24 dev mv0 && ip -n %s link set mv0 up",
			  ns_bad, ns_bad, ns_bad),
		0);
	/* A vxlan that is down is ignored (like the kernel's fallback
	 * tunnels) ... */
	assert_int_equal(ah_system("ip -n %s link add vx0 type vxlan id 42 dstport 4789", ns_bad),
			 0);
	{
		cleanup_podnet struct kc_podnet *net = scan_ok(path);

		assert_int_equal(net->n_endpoints, 2);
		assert_string_equal(ep_named(net, "mv0")->kind, "macvlan");
		assert_string_equal(ep_named(net, "va")->kind, "veth");
		assert_true(has_addr(ep_named(net, "mv0"), "10.81.0.2", 24));
	}
	/* ... one that is up is refused, by name and kind. */
	assert_int_equal(ah_system("ip -n %s link set vx0 up", ns_bad), 0);
	expect_scan_error(path, &o, EOPNOTSUPP, "`vx0` (vxlan)");
	assert_int_equal(ah_system("ip -n %s link del vx0", ns_bad), 0);
	/* A bridge, too. */
	assert_int_equal(ah_system("ip -n %s link add br0 type bridge && ip -n %s link set br0 up",
				   ns_bad, ns_bad),
			 0);
	expect_scan_error(path, &o, EOPNOTSUPP, "`br0` (bridge)");
	/* Nothing was created in the namespace. */
	assert_false(link_exists(ns_bad, "tap0_kata"));
	assert_false(has_ingress(ns_bad, "va"));
}

static void test_no_addresses(void **state)
{
	cleanup_free char *empty = kc_xasprintf("/var/run/netns/%s", ns_empty);
	cleanup_free char *noaddr = kc_xasprintf("/var/run/netns/%s", ns_noaddr);
	struct kc_podnet_options o = { 0 };

	(void)state;
	/* Only the loopback: nothing to connect, which is no error. */
	assert_int_equal(ah_system("ip netns add %s", ns_empty), 0);
	{
		cleanup_podnet struct kc_podnet *net = scan_ok(empty);
		cleanup_error kc_error_t err = NULL;

		assert_int_equal(net->n_endpoints, 0);
		assert_int_equal(kc_podnet_connect(net, &err), 0);
	}
	/* More interfaces than a VM takes. */
	assert_int_equal(
		ah_system("for i in $(seq 0 8); do ip -n %s link add v$i type veth peer name w$i "
			  "|| exit 1; done; ip -n %s addr add 10.84.0.2/24 dev v0",
			  ns_empty, ns_empty),
		0);
	expect_scan_error(empty, &o, E2BIG, "more than 16 interfaces");
	/* A veth without an address is a CNI result without addresses. */
	assert_int_equal(
		ah_system("ip netns add %s && ip -n %s link add eth0 type veth peer name eth1 && "
			  "ip -n %s link set eth0 up",
			  ns_noaddr, ns_noaddr, ns_noaddr),
		0);
	expect_scan_error(noaddr, &o, EADDRNOTAVAIL, "no IP address");
	assert_false(link_exists(ns_noaddr, "tap0_kata"));
}

/* A clash on the second interface undoes the first. */
static void test_tap_clash(void **state)
{
	cleanup_podnet struct kc_podnet *net = NULL;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *before = NULL;
	int fds_before;

	(void)state;
	net = scan_ok(path_pod);
	fds_before = ah_count_fds(getpid());
	assert_int_equal(ah_system("ip -n %s tuntap add tap1_kata mode tap", ns_pod), 0);
	before = ah_sh_out("ip -n %s -j -d link show tap1_kata", ns_pod);
	assert_int_equal(kc_podnet_connect(net, &err), -EEXIST);
	fprintf(stderr, "# %s\n", err->msg);
	assert_non_null(strstr(err->msg, "tap1_kata"));
	assert_non_null(strstr(err->msg, "exists"));
	assert_non_null(strstr(err->msg, path_pod));
	/* Nothing of ours is left; theirs is untouched. */
	assert_false(link_exists(ns_pod, "tap0_kata"));
	assert_false(has_ingress(ns_pod, "eth0"));
	assert_false(has_ingress(ns_pod, "eth1"));
	assert_false(has_ingress(ns_pod, "tap1_kata"));
	{
		cleanup_free char *after = ah_sh_out("ip -n %s -j -d link show tap1_kata", ns_pod);

		assert_string_equal(after, before);
	}
	for (size_t i = 0; i < net->n_endpoints; i++) {
		assert_false(net->endpoints[i].connected);
		for (size_t q = 0; q < KC_PODNET_MAX_QUEUES; q++)
			assert_int_equal(net->endpoints[i].tap_fds[q], -1);
	}
	assert_int_equal(ah_count_fds(getpid()), fds_before);
	assert_int_equal(ah_system("ip -n %s link del tap1_kata", ns_pod), 0);

	/* The same object connects once the name is free. */
	kc_error_free(&err);
	if (kc_podnet_connect(net, &err) < 0)
		fail_msg("connect: %s", err->msg);
	assert_true(link_exists(ns_pod, "tap1_kata"));
}

/* Another tc user's ingress qdisc on a veth is neither shared nor
 * replaced, and is still there afterwards. */
static void test_foreign_qdisc(void **state)
{
	cleanup_podnet struct kc_podnet *net = NULL;
	cleanup_error kc_error_t err = NULL;

	(void)state;
	net = scan_ok(path_pod);
	assert_int_equal(ah_system("tc -n %s qdisc add dev eth1 ingress", ns_pod), 0);
	assert_int_equal(kc_podnet_connect(net, &err), -EEXIST);
	fprintf(stderr, "# %s\n", err->msg);
	assert_non_null(strstr(err->msg, "`eth1` already has an ingress qdisc"));
	assert_true(has_ingress(ns_pod, "eth1"));
	assert_false(has_ingress(ns_pod, "eth0"));
	assert_false(link_exists(ns_pod, "tap0_kata"));
	assert_false(link_exists(ns_pod, "tap1_kata"));
	assert_int_equal(ah_system("tc -n %s qdisc del dev eth1 ingress", ns_pod), 0);
}

/* The veth deleted under a connected pod (CNI DEL ran first): the
 * teardown still closes everything. */
static void test_veth_gone(void **state)
{
	cleanup_free char *path = kc_xasprintf("/var/run/netns/%s", ns_noaddr);
	cleanup_podnet struct kc_podnet *net = NULL;
	cleanup_error kc_error_t err = NULL;
	int fds_before = ah_count_fds(getpid());

	(void)state;
	assert_int_equal(ah_system("ip -n %s addr add 10.82.0.2/24 dev eth0", ns_noaddr), 0);
	net = scan_ok(path);
	if (kc_podnet_connect(net, &err) < 0)
		fail_msg("connect: %s", err->msg);
	assert_true(link_exists(ns_noaddr, "tap0_kata"));
	/* The veth pair is deleted, as CNI DEL does. */
	assert_int_equal(ah_system("ip -n %s link del eth0", ns_noaddr), 0);
	if (kc_podnet_disconnect(net, &err) < 0)
		fail_msg("disconnect: %s", err->msg);
	assert_false(link_exists(ns_noaddr, "tap0_kata"));
	kc_podnet_free(kc_steal_ptr(&net));
	assert_int_equal(ah_count_fds(getpid()), fds_before);
}

/* `ip netns del` under a connected pod: the namespace lives on through our
 * fd, and the teardown still reaches it. */
static void test_netns_deleted(void **state)
{
	cleanup_free char *path = kc_xasprintf("/var/run/netns/%s", ns_gone);
	cleanup_podnet struct kc_podnet *net = NULL;
	cleanup_error kc_error_t err = NULL;
	int self;

	(void)state;
	assert_int_equal(ah_system("ip netns add %s && ip -n %s link add eth0 type veth peer name e1 && "
				   "ip -n %s addr add 10.83.0.2/24 dev eth0",
				   ns_gone, ns_gone, ns_gone),
			 0);
	net = scan_ok(path);
	if (kc_podnet_connect(net, &err) < 0)
		fail_msg("connect: %s", err->msg);
	assert_int_equal(ah_system("ip netns del %s", ns_gone), 0);
	if (kc_podnet_disconnect(net, &err) < 0)
		fail_msg("disconnect: %s", err->msg);
	/* Look inside through the fd the object still holds. */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(self >= 0);
	assert_int_equal(setns(net->netns_fd, CLONE_NEWNET), 0);
	{
		unsigned tap = if_nametoindex("tap0_kata"), veth = if_nametoindex("eth0");

		ns_leave(self);
		assert_int_equal(tap, 0);
		assert_true(veth != 0);
	}
}

static void test_netns_from_spec(void **state)
{
	static const struct {
		const char *json;
		int ret;
		const char *path;
	} cases[] = {
		{ "{}", 0, NULL },
		{ "{\"linux\":{}}", 0, NULL },
		{ "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}", 0, NULL },
		{ "{\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}", 0, NULL },
		{ "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\","
		  "\"path\":\"/var/run/netns/cni-1\"}]}}",
		  0, "/var/run/netns/cni-1" },
		{ "{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/proc/42/ns/net\"}]}}",
		  0, "/proc/42/ns/net" },
		{ "{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"netns/x\"}]}}",
		  -EINVAL, NULL },
		{ "{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":7}]}}", -EINVAL, NULL },
		{ "{\"linux\":{\"namespaces\":{}}}", -EINVAL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		cleanup_error kc_error_t err = NULL;
		cleanup_json json_t *spec = json_loads(cases[i].json, 0, NULL);
		cleanup_free char *path = NULL;

		assert_non_null(spec);
		assert_int_equal(kc_podnet_netns_from_spec(spec, &path, &err), cases[i].ret);
		if (cases[i].path)
			assert_string_equal(path, cases[i].path);
		else
			assert_null(path);
		if (cases[i].ret < 0)
			assert_non_null(strstr(err->msg, "linux.namespaces"));
	}
}

static void test_dns_from_spec(void **state)
{
	cleanup_free char *file = kc_xasprintf("/tmp/kc-hostnet-%d-resolv.conf", getpid());
	cleanup_free char *fifo = kc_xasprintf("/tmp/kc-hostnet-%d-fifo", getpid());
	cleanup_free char *json = NULL;
	cleanup_error kc_error_t err = NULL;
	char **lines = NULL;
	FILE *f;

	(void)state;
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("# written by CNI\nnameserver 10.77.0.53\n\n  search pod.local svc.local \r\n"
	      "; old comment\noptions ndots:5",
	      f);
	fclose(f);
	json = kc_xasprintf("{\"mounts\":[{\"destination\":\"/proc\",\"source\":\"proc\"},"
			    "{\"destination\":\"/etc/resolv.conf\",\"source\":\"%s\"}]}",
			    file);
	{
		cleanup_json json_t *spec = json_loads(json, 0, NULL);

		assert_int_equal(kc_podnet_dns_from_spec(spec, &lines, &err), 0);
		assert_non_null(lines);
		assert_string_equal(lines[0], "nameserver 10.77.0.53");
		assert_string_equal(lines[1], "search pod.local svc.local");
		assert_string_equal(lines[2], "options ndots:5");
		assert_null(lines[3]);
		kc_free_strv(lines);
	}
	{
		cleanup_json json_t *spec = json_loads("{\"mounts\":[]}", 0, NULL);

		assert_int_equal(kc_podnet_dns_from_spec(spec, &lines, &err), 0);
		assert_null(lines);
	}
	unlink(file);
	{
		cleanup_json json_t *spec = json_loads(json, 0, NULL);

		assert_int_equal(kc_podnet_dns_from_spec(spec, &lines, &err), -ENOENT);
		assert_non_null(strstr(err->msg, file));
		kc_error_free(&err);
	}
	assert_int_equal(mkfifo(fifo, 0600), 0);
	{
		cleanup_free char *j = kc_xasprintf("{\"mounts\":[{\"destination\":"
						    "\"/etc/resolv.conf\",\"source\":\"%s\"}]}",
						    fifo);
		cleanup_json json_t *spec = json_loads(j, 0, NULL);

		assert_int_equal(kc_podnet_dns_from_spec(spec, &lines, &err), -EINVAL);
		assert_non_null(strstr(err->msg, "is not a file"));
		kc_error_free(&err);
	}
	unlink(fifo);
	{
		cleanup_json json_t *spec = json_loads(
			"{\"mounts\":[{\"destination\":\"/etc/resolv.conf\",\"source\":\"x\"}]}", 0,
			NULL);

		assert_int_equal(kc_podnet_dns_from_spec(spec, &lines, &err), -EINVAL);
		assert_null(lines);
	}
}

/* The VM's side without a VM: QEMU's arguments for two NICs (one with two
 * queues), and the TAP fds a child inherits as 3, 4, ... */
static void test_vm_netdevs(void **state)
{
	cleanup_podnet struct kc_podnet *net = NULL;
	cleanup_error kc_error_t err = NULL;
	struct kc_podnet_options o = { .model = "tcfilter", .queues = 2 };
	cleanup_free struct kc_vm_netdev *nd = NULL;
	cleanup_free char *log = kc_xasprintf("/tmp/kc-hostnet-%d-child.log", getpid());
	cleanup_free char *out = NULL;
	struct kc_qemu_cmdline qc = { .qemu_path = "/usr/bin/qemu-system-x86_64",
				      .name = "t",
				      .vcpus = 1,
				      .memory_mib = 64,
				      .kernel = "/k",
				      .append = "",
				      .qmp_socket = "/q",
				      .agent_socket = "/a" };
	cleanup_strv char **argv = NULL;
	struct kc_child c = KC_CHILD_INIT;
	int fds[4], n = 0;
	char *sh_argv[] = { (char *)"/bin/sh", (char *)"-c",
			    (char *)"for f in 3 4 5 6; do readlink /proc/$$/fd/$f; done; "
				    "ls /proc/$$/fd | tr '\\n' ' '",
			    NULL };

	(void)state;
	assert_int_equal(kc_podnet_scan(path_pod, &o, &net, &err), 0);
	/* Not connected: no fds to give. */
	nd = kc_podnet_vm_netdevs(net);
	assert_int_equal(nd[0].n_fds, 0);
	free(kc_steal_ptr(&nd));
	if (kc_podnet_connect(net, &err) < 0)
		fail_msg("connect: %s", err->msg);
	nd = kc_podnet_vm_netdevs(net);
	assert_non_null(nd);
	assert_string_equal(nd[0].id, "net0");
	assert_string_equal(nd[1].id, "net1");
	assert_int_equal(nd[0].n_fds, 2);
	assert_ptr_equal(nd[0].fds, net->endpoints[0].tap_fds);
	assert_memory_equal(nd[0].mac, net->endpoints[0].mac, 6);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(kc_qemu_check_netdev(&nd[i], i, &err), 0);

	qc.netdevs = nd;
	qc.n_netdevs = 2;
	qc.first_netdev_fd = 3;
	argv = kc_qemu_build_argv(&qc);
	for (size_t i = 0; argv[i]; i++) {
		if (strcmp(argv[i], "-netdev") == 0 || strcmp(argv[i], "-device") == 0) {
			char mac[18];
			cleanup_free char *d0 = kc_xasprintf(
				"virtio-net-device,netdev=net0,mac=%s,mq=on",
				kc_podnet_format_mac(net->endpoints[0].mac, mac));
			cleanup_free char *d1 = kc_xasprintf(
				"virtio-net-device,netdev=net1,mac=%s,mq=on",
				kc_podnet_format_mac(net->endpoints[1].mac, mac));

			if (strcmp(argv[i + 1], "tap,id=net0,fds=3:4,vhost=off") == 0 ||
			    strcmp(argv[i + 1], "tap,id=net1,fds=5:6,vhost=off") == 0 ||
			    strcmp(argv[i + 1], d0) == 0 || strcmp(argv[i + 1], d1) == 0)
				n++;
		}
	}
	assert_int_equal(n, 4);

	/* The same order as the launcher: every queue of every NIC. */
	fds[0] = nd[0].fds[0];
	fds[1] = nd[0].fds[1];
	fds[2] = nd[1].fds[0];
	fds[3] = nd[1].fds[1];
	if (kc_child_spawn_fds(sh_argv, log, fds, 4, &c, &err) < 0)
		fail_msg("spawn: %s", err->msg);
	assert_int_equal(kc_child_wait(&c, 0, &err), 1);
	kc_child_stop(&c, false, 0);
	assert_int_equal(kc_read_file(log, 65536, &out, NULL, &err), 0);
	unlink(log);
	fprintf(stderr, "# child: %s\n", out);
	assert_string_equal(out, "/dev/net/tun\n/dev/net/tun\n/dev/net/tun\n/dev/net/tun\n"
				 "0 1 2 3 4 5 6 ");

	/* Bad NICs are refused before anything runs. */
	{
		struct kc_vm_netdev bad = nd[0];
		int closed = -1;

		bad.id = "net0,script=/x";
		assert_int_equal(kc_qemu_check_netdev(&bad, 0, &err), -EINVAL);
		kc_error_free(&err);
		bad.id = "net0";
		bad.n_fds = 0;
		assert_int_equal(kc_qemu_check_netdev(&bad, 0, &err), -EINVAL);
		kc_error_free(&err);
		bad.n_fds = 1;
		bad.fds = &closed;
		assert_int_equal(kc_qemu_check_netdev(&bad, 0, &err), -EBADF);
		kc_error_free(&err);
		bad.fds = nd[0].fds;
		bad.mac[0] = 0x01;
		assert_int_equal(kc_qemu_check_netdev(&bad, 0, &err), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netns_from_spec),
		cmocka_unit_test(test_dns_from_spec),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_agent_msgs),
		cmocka_unit_test(test_connect_traffic_disconnect),
		cmocka_unit_test(test_cleanup_dead),
		cmocka_unit_test(test_multiqueue),
		cmocka_unit_test(test_vm_netdevs),
		cmocka_unit_test(test_bad_netns),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_unsupported_kinds),
		cmocka_unit_test(test_no_addresses),
		cmocka_unit_test(test_tap_clash),
		cmocka_unit_test(test_foreign_qdisc),
		cmocka_unit_test(test_veth_gone),
		cmocka_unit_test(test_netns_deleted),
	};

	return cmocka_run_group_tests_name("net", tests, group_setup, group_teardown);
}
