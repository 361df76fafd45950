/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole path of a pod's network: a veth in a pod namespace, connected
 * to a real VM (tcfilter + TAP fds), the guest configured by the agent
 * from kc_podnet_agent_msgs() (UpdateInterface, UpdateRoutes,
 * AddARPNeighbors), and the peer pinging the guest.
 *
 * The guest gets one address more than the veth has (10.91.0.3): only the
 * guest can answer for it, so a reply proves the frames went through the
 * VM and not through the pod namespace's own stack.
 */
#include <errno.h>
#include <linux/neighbour.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../vm/vm_helpers.h"
#include "agent.pb-c.h"
#include "lib/util.h"
#include "hypervisor/hypervisor.h"
#include "network/network.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"

static char ns_pod[64], ns_peer[64];
static char base[] = "/tmp/kc-hostnet-guest-XXXXXX";
static struct kc_config cfg;

static void del_netns(void)
{
	const char *all[] = { ns_pod, ns_peer };

	for (size_t i = 0; i < KC_ARRAY_SIZE(all); i++)
		ah_netns_del(all[i]);
}

static int group_setup(void **state)
{
	const char *P = ns_pod, *Q = ns_peer;

	(void)state;
	snprintf(ns_pod, sizeof(ns_pod), "kc-hostnet-%d-gp", getpid());
	snprintf(ns_peer, sizeof(ns_peer), "kc-hostnet-%d-gq", getpid());
	atexit(del_netns);
	del_netns();
	if (!mkdtemp(base) || load_test_config(&cfg) < 0)
		return -1;
	if (ah_system("ip netns add %s && ip netns add %s", P, Q) ||
	    ah_system("ip -n %s link add eth0 type veth peer name peth0 netns %s", P, Q) ||
	    ah_system("ip -n %s link set eth0 address 02:4b:43:00:0b:02 mtu 1400 up", P) ||
	    ah_system("ip -n %s addr add 10.91.0.2/24 dev eth0", P) ||
	    ah_system("ip -n %s route add 10.92.0.0/16 via 10.91.0.1", P) ||
	    ah_system("ip -n %s neigh add 10.91.0.1 lladdr 02:4b:43:00:0b:01 dev eth0 nud permanent",
		      P) ||
	    ah_system("ip -n %s link set peth0 address 02:4b:43:00:0b:01 mtu 1400 up", Q) ||
	    ah_system("ip -n %s addr add 10.91.0.1/24 dev peth0", Q))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	del_netns();
	kc_config_free(&cfg);
	(void)ah_system("rm -rf %s", base);
	return 0;
}

static ProtobufCMessage *call(struct kc_ttrpc_client *cli, const char *method,
			      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd)
{
	ProtobufCMessage *resp = NULL;

	if (ah_call_sync(cli, method, req, rd, &resp) < 0)
		fail_msg("%s failed", method);
	return resp;
}

static void test_guest_answers_through_the_pod_veth(void **state)
{
	cleanup_free char *path = kc_xasprintf("/var/run/netns/%s", ns_pod);
	cleanup_free char *run_dir = kc_xasprintf("%s/run", base);
	cleanup_free struct kc_vm_netdev *nd = NULL;
	cleanup_podnet struct kc_podnet *net = NULL;
	cleanup_error kc_error_t err = NULL;
	struct kc_podnet_options o = { .model = "tcfilter" };
	struct kc_podnet_agent_msgs m = { 0 };
	struct kc_vm_spec spec = { 0 };
	struct kc_ttrpc_client *cli = NULL;
	struct kc_loop *loop = NULL;
	struct kc_vm *vm = NULL;
	Grpc__IPAddress extra = GRPC__IPADDRESS__INIT;
	Grpc__IPAddress **addrs;
	Grpc__Interface *ifc;
	Grpc__Routes *routes;
	bool saw_gw = false;
	int fd;

	(void)state;
	assert_int_equal(kc_podnet_scan(path, &o, &net, &err), 0);
	if (kc_podnet_connect(net, &err) < 0)
		fail_msg("connect: %s", err->msg);
	nd = kc_podnet_vm_netdevs(net);
	spec.cfg = &cfg;
	spec.id = "hostnet-guest";
	spec.run_dir = run_dir;
	spec.netdevs = nd;
	spec.n_netdevs = net->n_endpoints;
	spec.keep_agent_conn = true;
	if (kc_vm_start(&spec, &vm, &err) < 0)
		fail_msg("VM: %s", err->msg);
	fd = kc_vm_take_agent_fd(vm);
	assert_true(fd >= 0);
	assert_int_equal(kc_loop_new(&loop, &err), 0);
	assert_int_equal(kc_ttrpc_client_new(loop, fd, &cli, &err), 0);

	/* The guest side, as the shim will send it. */
	kc_podnet_agent_msgs(net, &m);
	assert_int_equal(m.n_interfaces, 1);
	/* One address only the guest has (see the top of the file). */
	ifc = m.interfaces[0]->interface;
	extra.address = (char *)"10.91.0.3";
	extra.mask = (char *)"24";
	addrs = kc_xzalloc((ifc->n_ip_addresses + 1) * sizeof(*addrs));
	memcpy(addrs, ifc->ip_addresses, ifc->n_ip_addresses * sizeof(*addrs));
	addrs[ifc->n_ip_addresses] = &extra;
	{
		Grpc__IPAddress **saved = ifc->ip_addresses;
		Grpc__Interface *got;

		ifc->ip_addresses = addrs;
		ifc->n_ip_addresses++;
		got = (Grpc__Interface *)call(cli, "UpdateInterface", &m.interfaces[0]->base,
					      &grpc__interface__descriptor);
		ifc->n_ip_addresses--;
		ifc->ip_addresses = saved;
		free(addrs);
		assert_string_equal(got->name, "eth0");
		assert_string_equal(got->hw_addr, "02:4b:43:00:0b:02");
		assert_int_equal(got->mtu, 1400);
		assert_int_equal(got->n_ip_addresses >= 2, true);
		protobuf_c_message_free_unpacked(&got->base, NULL);
	}
	routes = (Grpc__Routes *)call(cli, "UpdateRoutes", &m.routes->base,
				      &grpc__routes__descriptor);
	for (size_t i = 0; i < routes->n_routes; i++) {
		fprintf(stderr, "# guest route %s via %s dev %s\n", routes->routes[i]->dest,
			routes->routes[i]->gateway, routes->routes[i]->device);
		if (strcmp(routes->routes[i]->dest, "10.92.0.0/16") == 0 &&
		    strcmp(routes->routes[i]->gateway, "10.91.0.1") == 0)
			saw_gw = true;
	}
	assert_true(saw_gw);
	protobuf_c_message_free_unpacked(&routes->base, NULL);
	assert_int_equal(m.neighbors->n_neighbors, 1);
	{
		ProtobufCMessage *empty = call(cli, "AddARPNeighbors", &m.neighbors->base, NULL);

		if (empty)
			protobuf_c_message_free_unpacked(empty, NULL);
	}
	kc_podnet_agent_msgs_free(&m);

	/* The peer reaches the guest: the address only the guest has, and
	 * the pod's own (whose frames the pod namespace never sees). */
	assert_int_equal(
		ah_system("ip netns exec %s busybox ping -c 1 -W 60 10.91.0.3 >&2", ns_peer), 0);
	assert_int_equal(
		ah_system("ip netns exec %s busybox ping -c 1 -W 60 10.91.0.2 >&2", ns_peer), 0);

	kc_ttrpc_client_free(cli);
	kc_loop_free(loop);
	kc_vm_free(vm);
	assert_int_equal(kc_podnet_disconnect(net, &err), 0);
	assert_int_not_equal(ah_system("ip -n %s link show tap0_kata 2>/dev/null", ns_pod), 0);
	assert_int_equal(leftover_procs(run_dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_answers_through_the_pod_veth),
	};

	return cmocka_run_group_tests_name("net-guest", tests, group_setup, group_teardown);
}
