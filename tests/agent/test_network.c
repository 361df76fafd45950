/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's network RPCs, for real: kata-agent --no-init runs inside a
 * network namespace of its own (kc-netctl-<pid>) holding a veth pair, and
 * what it does is checked with `ip -j` in that namespace.  The namespace
 * is deleted at the end, and its absence checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent_harness.h"
#include "lib/json.h"
#include "lib/util.h"
#include "ttrpc/ttrpc.h"

static struct {
	char ns[64];
	struct ah_agent agent;
} g;

#define A (&g.agent.conn)

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "the network tests need root (network namespaces)\n");
		return -1;
	}
	snprintf(g.ns, sizeof(g.ns), "kc-netctl-%d", (int)getpid());
	free(ah_sh("ip netns add %s", g.ns));
	free(ah_sh("ip -n %s link add v0 type veth peer name v1", g.ns));
	ah_agent_start(&g.agent, &(struct ah_agent_opts){ .netns = g.ns });
	return 0;
}

static int teardown(void **state)
{
	cleanup_free char *list = NULL;

	(void)state;
	ah_agent_stop(&g.agent);
	free(ah_sh("ip netns del %s", g.ns));
	list = ah_sh("ip netns list");
	assert_null(strstr(list, g.ns));
	return 0;
}

/* `ip -j OBJ show ARGS` in the namespace. */
static json_t *ip_json(const char *what)
{
	return ah_sh_json("ip -n %s -j %s", g.ns, what);
}

static json_t *link_json(const char *dev)
{
	cleanup_free char *cmd = kc_xasprintf("addr show dev %s", dev);
	json_t *arr = ip_json(cmd);
	json_t *l;

	assert_int_equal(json_array_size(arr), 1);
	l = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	return l;
}

static bool has_flag(json_t *link, const char *flag)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(link, "flags"), i,
			   v) if (strcmp(json_string_value(v), flag) == 0) return true;
	return false;
}

static bool has_addr(json_t *link, const char *addr, int prefix)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(link, "addr_info"), i, v) if (
		strcmp(json_string_value(json_object_get(v, "local")), addr) == 0 &&
		json_integer_value(json_object_get(v, "prefixlen")) == prefix) return true;
	return false;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static void test_loopback_at_sandbox(void **state)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	cleanup_json json_t *lo = NULL;
	ProtobufCMessage *r;

	(void)state;
	lo = link_json("lo");
	assert_false(has_flag(lo, "UP"));
	req.sandbox_id = (char *)"net-sb";
	r = ah_call_ok(A, "CreateSandbox", &req.base, &google__protobuf__empty__descriptor);
	protobuf_c_message_free_unpacked(r, NULL);
	json_decref(lo);
	lo = link_json("lo");
	assert_true(has_flag(lo, "UP"));
	assert_true(has_addr(lo, "127.0.0.1", 8));
}

static Grpc__IPAddress ip_v4 = GRPC__IPADDRESS__INIT, ip_v6 = GRPC__IPADDRESS__INIT;

static void test_update_interface(void **state)
{
	Grpc__UpdateInterfaceRequest req = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	Grpc__Interface want = GRPC__INTERFACE__INIT;
	Grpc__IPAddress *ips[] = { &ip_v4, &ip_v6 };
	cleanup_json json_t *l = NULL;
	Grpc__Interface *got;

	(void)state;
	ip_v4.address = (char *)"10.40.0.2";
	ip_v4.mask = (char *)"24";
	ip_v6.family = GRPC__IPFAMILY__V6;
	ip_v6.address = (char *)"fd00:40::2";
	ip_v6.mask = (char *)"64";
	want.name = (char *)"v0";
	want.hw_addr = (char *)"02:00:00:40:00:02";
	want.mtu = 1400;
	want.ip_addresses = ips;
	want.n_ip_addresses = 2;
	req.interface = &want;
	got = (void *)ah_call_ok(A, "UpdateInterface", &req.base, &grpc__interface__descriptor);
	assert_string_equal(got->name, "v0");
	assert_string_equal(got->hw_addr, "02:00:00:40:00:02");
	assert_int_equal(got->mtu, 1400);
	assert_string_equal(got->type, "veth");
	assert_int_equal(got->n_ip_addresses, 2);
	protobuf_c_message_free_unpacked(&got->base, NULL);

	l = link_json("v0");
	assert_string_equal(jstr(l, "address"), "02:00:00:40:00:02");
	assert_int_equal(json_integer_value(json_object_get(l, "mtu")), 1400);
	assert_true(has_flag(l, "UP"));
	assert_true(has_addr(l, "10.40.0.2", 24));
	assert_true(has_addr(l, "fd00:40::2", 64));
}

/* Found by its MAC, the link is renamed and its addresses replaced. */
static void test_update_interface_by_mac(void **state)
{
	Grpc__UpdateInterfaceRequest req = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	Grpc__Interface want = GRPC__INTERFACE__INIT;
	Grpc__IPAddress ip = GRPC__IPADDRESS__INIT, *ips[] = { &ip };
	cleanup_json json_t *l = NULL, *all = NULL;
	Grpc__Interface *got;

	(void)state;
	ip.address = (char *)"10.41.0.7";
	ip.mask = (char *)"16";
	want.name = (char *)"eth0";
	want.hw_addr = (char *)"02:00:00:40:00:02";
	want.ip_addresses = ips;
	want.n_ip_addresses = 1;
	req.interface = &want;
	got = (void *)ah_call_ok(A, "UpdateInterface", &req.base, &grpc__interface__descriptor);
	assert_string_equal(got->name, "eth0");
	protobuf_c_message_free_unpacked(&got->base, NULL);
	l = link_json("eth0");
	assert_true(has_addr(l, "10.41.0.7", 16));
	assert_false(has_addr(l, "10.40.0.2", 24));
	assert_false(has_addr(l, "fd00:40::2", 64));
	assert_int_equal(json_integer_value(json_object_get(l, "mtu")), 1400);
	all = ip_json("link show");
	for (size_t i = 0; i < json_array_size(all); i++)
		assert_string_not_equal(jstr(json_array_get(all, i), "ifname"), "v0");
}

static void bad_interface(const char *name, const char *mac, const char *addr, const char *mask,
			  Grpc__IPFamily fam, int code, const char *what)
{
	Grpc__UpdateInterfaceRequest req = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	Grpc__Interface want = GRPC__INTERFACE__INIT;
	Grpc__IPAddress ip = GRPC__IPADDRESS__INIT, *ips[] = { &ip };

	want.name = (char *)name;
	want.hw_addr = (char *)mac;
	if (addr) {
		ip.address = (char *)addr;
		ip.mask = (char *)mask;
		ip.family = fam;
		want.ip_addresses = ips;
		want.n_ip_addresses = 1;
	}
	req.interface = &want;
	ah_call_fails(A, "UpdateInterface", &req.base, code, what);
}

/* Each bad value is refused by name, and nothing changes. */
static void test_update_interface_bad(void **state)
{
	Grpc__UpdateInterfaceRequest empty = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	cleanup_json json_t *l = NULL;
	const int inval = KC_TTRPC_INVALID_ARGUMENT;

	(void)state;
	bad_interface("eth0", "02:00:00:40:00:0g", NULL, NULL, 0, inval, "02:00:00:40:00:0g");
	bad_interface("eth0", "02:00:00:40:00", NULL, NULL, 0, inval, "02:00:00:40:00");
	bad_interface("eth0", "", "10.41.0.300", "16", 0, inval, "10.41.0.300");
	bad_interface("eth0", "", "10.41.0.8", "33", 0, inval, "33");
	bad_interface("eth0", "", "fd00::8", "129", GRPC__IPFAMILY__V6, inval, "129");
	bad_interface("eth0", "", "10.41.0.8", "x", 0, inval, "`x`");
	bad_interface("eth0", "", "fd00::8", "64", GRPC__IPFAMILY__V4, inval, "fd00::8");
	bad_interface("eth0/x", "", NULL, NULL, 0, inval, "eth0/x");
	bad_interface("nosuchdev", "", NULL, NULL, 0, KC_TTRPC_NOT_FOUND, "nosuchdev");
	bad_interface("", "02:00:00:99:99:99", NULL, NULL, 0, KC_TTRPC_NOT_FOUND,
		      "02:00:00:99:99:99");
	ah_call_fails(A, "UpdateInterface", &empty.base, inval, "no interface");
	{
		Grpc__UpdateInterfaceRequest req = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
		Grpc__Interface want = GRPC__INTERFACE__INIT;

		want.name = (char *)"eth0";
		want.mtu = 10;
		req.interface = &want;
		ah_call_fails(A, "UpdateInterface", &req.base, inval, "MTU 10");
		want.mtu = 70000;
		ah_call_fails(A, "UpdateInterface", &req.base, inval, "MTU 70000");
	}
	l = link_json("eth0");
	assert_true(has_addr(l, "10.41.0.7", 16));
	assert_true(has_flag(l, "UP"));
}

static json_t *find_route(json_t *routes, const char *dst)
{
	size_t i;
	json_t *r;

	json_array_foreach(routes, i, r) if (strcmp(jstr(r, "dst"), dst) == 0) return r;
	return NULL;
}

static void test_update_routes(void **state)
{
	Grpc__UpdateRoutesRequest req = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	Grpc__Routes rs = GRPC__ROUTES__INIT;
	Grpc__Route def = GRPC__ROUTE__INIT, net = GRPC__ROUTE__INIT, v6 = GRPC__ROUTE__INIT;
	Grpc__Route *list[] = { &def, &net, &v6 };
	cleanup_json json_t *r4 = NULL, *r6 = NULL;
	Grpc__Routes *got;
	json_t *r;

	(void)state;
	/* The gateway route first: the agent orders them. */
	def.gateway = (char *)"10.41.0.1";
	def.device = (char *)"eth0";
	net.dest = (char *)"192.168.77.0/24";
	net.device = (char *)"eth0";
	net.source = (char *)"10.41.0.7";
	net.scope = 253;
	v6.dest = (char *)"fd00:77::/48";
	v6.device = (char *)"eth0";
	v6.family = GRPC__IPFAMILY__V6;
	rs.routes = list;
	rs.n_routes = 3;
	req.routes = &rs;
	got = (void *)ah_call_ok(A, "UpdateRoutes", &req.base, &grpc__routes__descriptor);
	/* The three, plus the kernel's 10.41.0.0/16 and fd00:... of addresses. */
	assert_true(got->n_routes >= 4);
	protobuf_c_message_free_unpacked(&got->base, NULL);

	r4 = ip_json("-4 route show");
	r = find_route(r4, "default");
	assert_non_null(r);
	assert_string_equal(jstr(r, "gateway"), "10.41.0.1");
	assert_string_equal(jstr(r, "dev"), "eth0");
	r = find_route(r4, "192.168.77.0/24");
	assert_non_null(r);
	assert_string_equal(jstr(r, "prefsrc"), "10.41.0.7");
	assert_string_equal(jstr(r, "scope"), "link");
	assert_non_null(find_route(r4, "10.41.0.0/16"));
	r6 = ip_json("-6 route show");
	assert_non_null(find_route(r6, "fd00:77::/48"));

	/* A second update replaces the table: only the new route is left
	 * beside the kernel's. */
	net.dest = (char *)"172.30.0.0/16";
	net.source = (char *)"";
	net.scope = 0;
	rs.routes = &list[1];
	rs.n_routes = 1;
	got = (void *)ah_call_ok(A, "UpdateRoutes", &req.base, &grpc__routes__descriptor);
	protobuf_c_message_free_unpacked(&got->base, NULL);
	json_decref(r4);
	json_decref(r6);
	r4 = ip_json("-4 route show");
	assert_null(find_route(r4, "default"));
	assert_null(find_route(r4, "192.168.77.0/24"));
	assert_non_null(find_route(r4, "172.30.0.0/16"));
	assert_non_null(find_route(r4, "10.41.0.0/16"));
	r6 = ip_json("-6 route show");
	assert_null(find_route(r6, "fd00:77::/48"));
}

static void bad_route(const char *dest, const char *gw, const char *dev, const char *src,
		      uint32_t scope, int code, const char *what)
{
	Grpc__UpdateRoutesRequest req = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	Grpc__Routes rs = GRPC__ROUTES__INIT;
	Grpc__Route r = GRPC__ROUTE__INIT, *list[] = { &r };

	r.dest = (char *)dest;
	r.gateway = (char *)gw;
	r.device = (char *)dev;
	r.source = (char *)src;
	r.scope = scope;
	rs.routes = list;
	rs.n_routes = 1;
	req.routes = &rs;
	ah_call_fails(A, "UpdateRoutes", &req.base, code, what);
}

static void test_update_routes_bad(void **state)
{
	cleanup_json json_t *r4 = NULL;
	const int inval = KC_TTRPC_INVALID_ARGUMENT;

	(void)state;
	bad_route("10.9.0.0/33", "", "eth0", "", 0, inval, "33");
	bad_route("10.9.0.0/x", "", "eth0", "", 0, inval, "10.9.0.0/x");
	bad_route("bogus", "", "eth0", "", 0, inval, "bogus");
	bad_route("10.9.0.0/16", "fd00::1", "eth0", "", 0, inval, "fd00::1");
	bad_route("10.9.0.0/16", "", "nosuchdev", "", 0, KC_TTRPC_NOT_FOUND, "nosuchdev");
	bad_route("10.9.0.0/16", "", "", "", 0, inval, "neither device nor gateway");
	bad_route("10.9.0.0/16", "", "eth0", "", 256, inval, "256");
	bad_route("10.9.0.0/16", "", "eth0", "10.9.0.999", 0, inval, "10.9.0.999");
	/* Refused before anything was deleted. */
	r4 = ip_json("-4 route show");
	assert_non_null(find_route(r4, "172.30.0.0/16"));
}

static void test_list(void **state)
{
	Grpc__ListInterfacesRequest li = GRPC__LIST_INTERFACES_REQUEST__INIT;
	Grpc__ListRoutesRequest lr = GRPC__LIST_ROUTES_REQUEST__INIT;
	Grpc__Interfaces *ifs;
	Grpc__Routes *rs;
	bool eth0 = false, lo = false, v1 = false, route = false;

	(void)state;
	ifs = (void *)ah_call_ok(A, "ListInterfaces", &li.base, &grpc__interfaces__descriptor);
	for (size_t i = 0; i < ifs->n_interfaces; i++) {
		Grpc__Interface *it = ifs->interfaces[i];

		if (strcmp(it->name, "eth0") == 0) {
			eth0 = true;
			assert_string_equal(it->hw_addr, "02:00:00:40:00:02");
			assert_int_equal(it->mtu, 1400);
			assert_int_equal(it->n_ip_addresses >= 1, 1);
			assert_string_equal(it->ip_addresses[0]->address, "10.41.0.7");
			assert_string_equal(it->ip_addresses[0]->mask, "16");
		}
		lo |= strcmp(it->name, "lo") == 0;
		v1 |= strcmp(it->name, "v1") == 0;
	}
	assert_true(eth0 && lo && v1);
	assert_int_equal(ifs->n_interfaces, 3);
	protobuf_c_message_free_unpacked(&ifs->base, NULL);

	rs = (void *)ah_call_ok(A, "ListRoutes", &lr.base, &grpc__routes__descriptor);
	for (size_t i = 0; i < rs->n_routes; i++)
		if (strcmp(rs->routes[i]->dest, "172.30.0.0/16") == 0) {
			route = true;
			assert_string_equal(rs->routes[i]->device, "eth0");
			assert_int_equal(rs->routes[i]->family, GRPC__IPFAMILY__V4);
		}
	assert_true(route);
	protobuf_c_message_free_unpacked(&rs->base, NULL);
}

static void test_arp_neighbors(void **state)
{
	Grpc__AddARPNeighborsRequest req = GRPC__ADD_ARPNEIGHBORS_REQUEST__INIT;
	Grpc__ARPNeighbor n = GRPC__ARPNEIGHBOR__INIT, *list[] = { &n };
	Grpc__IPAddress ip = GRPC__IPADDRESS__INIT;
	cleanup_json json_t *neigh = NULL;
	ProtobufCMessage *r;
	bool found = false;
	size_t i;
	json_t *v;

	(void)state;
	ip.address = (char *)"10.41.0.99";
	n.to_ip_address = &ip;
	n.device = (char *)"eth0";
	n.lladdr = (char *)"02:00:00:00:00:99";
	req.neighbors = list;
	req.n_neighbors = 1;
	r = ah_call_ok(A, "AddARPNeighbors", &req.base, &google__protobuf__empty__descriptor);
	protobuf_c_message_free_unpacked(r, NULL);
	neigh = ip_json("neigh show dev eth0");
	json_array_foreach(neigh, i, v)
	{
		if (strcmp(jstr(v, "dst"), "10.41.0.99") == 0) {
			found = true;
			assert_string_equal(jstr(v, "lladdr"), "02:00:00:00:00:99");
			assert_string_equal(
				json_string_value(json_array_get(json_object_get(v, "state"), 0)),
				"PERMANENT");
		}
	}
	assert_true(found);

	n.lladdr = (char *)"zz:00:00:00:00:99";
	ah_call_fails(A, "AddARPNeighbors", &req.base, KC_TTRPC_INVALID_ARGUMENT,
		      "zz:00:00:00:00:99");
	n.lladdr = (char *)"02:00:00:00:00:98";
	n.device = (char *)"nosuchdev";
	ah_call_fails(A, "AddARPNeighbors", &req.base, KC_TTRPC_NOT_FOUND, "nosuchdev");
	n.device = (char *)"eth0";
	ip.address = (char *)"10.41.0";
	ah_call_fails(A, "AddARPNeighbors", &req.base, KC_TTRPC_INVALID_ARGUMENT, "10.41.0");
	n.to_ip_address = NULL;
	ah_call_fails(A, "AddARPNeighbors", &req.base, KC_TTRPC_INVALID_ARGUMENT, "to_ip_address");
}

static void test_iptables(void **state)
{
	Grpc__GetIPTablesRequest g4 = GRPC__GET_IPTABLES_REQUEST__INIT;
	Grpc__SetIPTablesRequest s4 = GRPC__SET_IPTABLES_REQUEST__INIT;

	(void)state;
	ah_call_fails(A, "GetIPTables", &g4.base, KC_TTRPC_UNIMPLEMENTED, "iptables");
	ah_call_fails(A, "SetIPTables", &s4.base, KC_TTRPC_UNIMPLEMENTED, "iptables");
}

/* The agent kept no netlink socket or other fd. */
static void test_no_fd_leak(void **state)
{
	(void)state;
	assert_int_equal(ah_count_fds(g.agent.pid), g.agent.base_fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_at_sandbox),
		cmocka_unit_test(test_update_interface),
		cmocka_unit_test(test_update_interface_by_mac),
		cmocka_unit_test(test_update_interface_bad),
		cmocka_unit_test(test_update_routes),
		cmocka_unit_test(test_update_routes_bad),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_arp_neighbors),
		cmocka_unit_test(test_iptables),
		cmocka_unit_test(test_no_fd_leak),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
