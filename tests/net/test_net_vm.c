/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A real VM (QEMU microvm, the build tree's guest image) with a NIC on a
 * pod's veth: the TAP fds reach QEMU, QEMU takes them as the netdev, the
 * guest finds a virtio-net device (its agent loads virtio_net only when
 * one is present), and after the stop and the teardown nothing is left.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../vm/vm_helpers.h"
#include "lib/json.h"
#include "lib/util.h"
#include "hypervisor/hypervisor.h"
#include "hypervisor/qemu/qmp.h"
#include "network/network.h"

static char ns_pod[64], ns_peer[64];
static char base[] = "/tmp/kc-hostnet-vm-XXXXXX";
static struct kc_config cfg;

static void del_netns(void)
{
	const char *all[] = { ns_pod, ns_peer };

	for (size_t i = 0; i < KC_ARRAY_SIZE(all); i++)
		ah_netns_del(all[i]);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(ns_pod, sizeof(ns_pod), "kc-hostnet-%d-vm", getpid());
	snprintf(ns_peer, sizeof(ns_peer), "kc-hostnet-%d-vmp", getpid());
	atexit(del_netns);
	del_netns();
	if (!mkdtemp(base) || load_test_config(&cfg) < 0)
		return -1;
	if (ah_system("ip netns add %s && ip netns add %s", ns_pod, ns_peer) ||
	    ah_system("ip -n %s link add eth0 type veth peer name peth0 netns %s", ns_pod, ns_peer) ||
	    ah_system("ip -n %s link set eth0 address 02:4b:43:00:0a:02 mtu 1450 up", ns_pod) ||
	    ah_system("ip -n %s addr add 10.90.0.2/24 dev eth0", ns_pod) ||
	    ah_system("ip -n %s addr add 10.90.0.1/24 dev peth0 && ip -n %s link set peth0 up",
		      ns_peer, ns_peer))
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

static void test_vm_with_pod_nic(void **state)
{
	cleanup_free char *path = kc_xasprintf("/var/run/netns/%s", ns_pod);
	cleanup_free char *run_dir = kc_xasprintf("%s/run", base);
	cleanup_free char *console = kc_xasprintf("%s/console.txt", base);
	cleanup_free char *qmp_path = kc_xasprintf("%s/qmp.sock", run_dir);
	cleanup_free struct kc_vm_netdev *nd = NULL;
	cleanup_podnet struct kc_podnet *net = NULL;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *text = NULL;
	struct kc_podnet_options o = { .model = "tcfilter" };
	struct kc_vm_spec spec = { 0 };
	struct kc_vm *vm = NULL;
	int fds_before = ah_count_fds(getpid());
	char link[PATH_MAX], mac[18];
	ssize_t n;

	(void)state;
	assert_int_equal(kc_podnet_scan(path, &o, &net, &err), 0);
	if (kc_podnet_connect(net, &err) < 0)
		fail_msg("connect: %s", err->msg);
	nd = kc_podnet_vm_netdevs(net);
	kc_podnet_format_mac(net->endpoints[0].mac, mac);

	spec.cfg = &cfg;
	spec.id = "hostnet";
	spec.run_dir = run_dir;
	spec.console_log = console;
	spec.netdevs = nd;
	spec.n_netdevs = net->n_endpoints;
	cfg.agent.enable_debug = true; /* the agent says which modules it loads */
	if (kc_vm_start(&spec, &vm, &err) < 0)
		fail_msg("VM: %s", err->msg);

	/* QEMU holds the TAP as its fd 3 ... */
	{
		cleanup_free char *fd3 = kc_xasprintf("/proc/%d/fd/3", (int)kc_vm_pid(vm));

		n = readlink(fd3, link, sizeof(link) - 1);
		assert_true(n > 0);
		link[n] = '\0';
		assert_string_equal(link, "/dev/net/tun");
	}
	/* ... and uses it as the netdev of a virtio-net device with the
	 * veth's MAC. */
	{
		struct kc_qmp *q = NULL;
		cleanup_json json_t *args = json_pack("{s:s}", "command-line", "info network");
		cleanup_json json_t *ret = NULL;
		const char *info;

		if (kc_qmp_connect(qmp_path, kc_monotonic_ns() + 30 * SEC, &q, &err) < 0)
			fail_msg("QMP: %s", err->msg);
		if (kc_qmp_execute(q, "human-monitor-command", args, &ret,
				   kc_monotonic_ns() + 30 * SEC, &err) < 0)
			fail_msg("QMP: %s", err->msg);
		kc_qmp_close(q);
		info = json_string_value(ret);
		assert_non_null(info);
		fprintf(stderr, "# info network: %s\n", info);
		assert_non_null(strstr(info, "net0: index=0,type=tap,fd=3"));
		assert_non_null(strstr(info, mac));
	}
	kc_vm_free(vm);
	cfg.agent.enable_debug = false;

	/* The guest found the device: its agent loads virtio_net only for a
	 * virtio device of type 1 (network). */
	assert_int_equal(kc_read_file(console, 16 << 20, &text, NULL, &err), 0);
	if (!strstr(text, "module virtio_net loaded"))
		fail_msg("no virtio_net in the guest's console:\n%s", text);

	/* Teardown: nothing of ours left in the namespace, no fd, no QEMU. */
	assert_int_equal(kc_podnet_disconnect(net, &err), 0);
	assert_int_not_equal(ah_system("ip -n %s link show tap0_kata 2>/dev/null", ns_pod), 0);
	kc_podnet_free(kc_steal_ptr(&net));
	assert_int_equal(leftover_procs(run_dir), 0);
	assert_int_equal(ah_count_fds(getpid()), fds_before);
	unlink(console);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_with_pod_nic),
	};

	return cmocka_run_group_tests_name("net-vm", tests, group_setup, group_teardown);
}
