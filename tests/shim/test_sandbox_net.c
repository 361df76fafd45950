/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RunPodSandbox's bad network input, at the sandbox layer (root, real
 * namespaces): a netns path that does not exist, an interface kind that
 * cannot be connected (a bridge), a TAP name that clashes, a CNI result without
 * addresses.  Each start fails before any VM runs, with an error that
 * names the problem, and leaves nothing in the namespace (no TAP, no
 * qdisc) nor any sandbox directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_net.h"

static char ns[64], id[64];
static struct kc_config cfg;

static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static int out_lines(const char *fmt, ...)
{
	char cmd[512], line[512];
	va_list ap;
	FILE *f;
	int n = 0;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n++;
	pclose(f);
	return n;
}

static int setup(void **state)
{
	(void)state;
	snprintf(ns, sizeof(ns), "kc-sbnet-%d", (int)getpid());
	snprintf(id, sizeof(id), "kcsbnet%d", (int)getpid());
	sh("ip netns add %s && ip -n %s link set lo up", ns, ns);
	sh("ip netns add %s-p", ns);
	sh("ip -n %s link add eth0 type veth peer name peer0 netns %s-p", ns, ns);
	sh("ip -n %s link set eth0 up && ip -n %s-p link set peer0 up", ns, ns);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sh("ip netns del %s && ip netns del %s-p", ns, ns);
	return 0;
}

/* Starts a sandbox on a pod spec naming path as its netns: must fail with
 * want (negative errno), the message containing what. */
static void start_fails(const char *path, int want, const char *what)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_sandbox_opts o = { 0 };
	struct kc_sandbox *sb = NULL;
	cleanup_free char *text = kc_xasprintf(
		"{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"%s\"}]}}",
		path);
	json_t *spec = NULL;
	cleanup_free char *d1 = kc_xasprintf("%s/%s", KC_SANDBOXES_DIR, id);
	cleanup_free char *d2 = kc_xasprintf("%s/%s", KC_VM_RUN_DIR, id);

	assert_int_equal(kc_json_parse(text, strlen(text), "spec", &spec, NULL), 0);
	o.cfg = &cfg;
	o.id = id;
	o.spec = spec;
	assert_int_equal(kc_sandbox_start(&o, &sb, &err), want);
	assert_null(sb);
	assert_non_null(err);
	printf("# %s\n", err->msg);
	assert_non_null(strstr(err->msg, what));
	assert_non_null(strstr(err->msg, id));
	json_decref(spec);
	/* No VM ran, nothing of the sandbox is left. */
	assert_int_equal(access(d1, F_OK), -1);
	assert_int_equal(access(d2, F_OK), -1);
	assert_int_equal(out_lines("ps -eo args | grep 'qemu-system.*%s' | grep -v grep", id), 0);
	/* Nothing in the namespace: no TAP of ours, no qdisc. */
	assert_int_equal(out_lines("ip -n %s -o link show type tun | grep -v tap0_kata", ns), 0);
	assert_int_equal(out_lines("tc -n %s qdisc show ingress", ns), 0);
}

static void test_missing_netns(void **state)
{
	(void)state;
	start_fails("/run/netns/kc-sbnet-does-not-exist", -ENOENT,
		    "`/run/netns/kc-sbnet-does-not-exist`: No such file or directory");
}

static void test_no_address(void **state)
{
	cleanup_free char *p = kc_xasprintf("/run/netns/%s", ns);

	(void)state;
	start_fails(p, -EADDRNOTAVAIL, "no IP address on `eth0`");
}

static void test_tap_clash(void **state)
{
	cleanup_free char *p = kc_xasprintf("/run/netns/%s", ns);

	(void)state;
	sh("ip -n %s addr add 10.98.0.2/24 dev eth0", ns);
	sh("ip -n %s tuntap add tap0_kata mode tap", ns);
	start_fails(p, -EEXIST, "`tap0_kata`");
	/* The clashing TAP is not ours: still there. */
	assert_int_equal(out_lines("ip -n %s -o link show tap0_kata", ns), 1);
	sh("ip -n %s link del tap0_kata", ns);
}

static void test_bad_kind(void **state)
{
	cleanup_free char *p = kc_xasprintf("/run/netns/%s", ns);

	(void)state;
	sh("ip -n %s link add br7 type bridge && ip -n %s link set br7 up", ns, ns);
	start_fails(p, -EOPNOTSUPP, "`br7` (bridge)");
	sh("ip -n %s link del br7", ns);
}

static json_t *spec_for(const char *path)
{
	cleanup_free char *text = kc_xasprintf(
		"{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"%s\"}]}}", path);
	json_t *spec = NULL;

	assert_int_equal(kc_json_parse(text, strlen(text), "spec", &spec, NULL), 0);
	return spec;
}

/* The glue without a VM: the veth gets its TAP and redirects, the VM's
 * NIC list names them, teardown leaves the namespace as it was. */
static void test_setup_teardown(void **state)
{
	cleanup_free char *p = kc_xasprintf("/run/netns/%s", ns);
	cleanup_error kc_error_t err = NULL;
	struct kc_sandbox_net n;
	json_t *spec = spec_for(p);

	(void)state;
	sh("ip -n %s addr add 10.98.1.2/24 dev eth0", ns);
	assert_int_equal(kc_sandbox_net_setup(&n, &cfg, spec, false, &err), 0);
	assert_int_equal(n.n_netdevs, 1);
	assert_string_equal(n.netdevs[0].id, "net0");
	assert_int_equal(out_lines("ip -n %s -o link show tap0_kata", ns), 1);
	assert_int_equal(out_lines("tc -n %s qdisc show dev eth0 ingress", ns), 1);
	/* The host agent takes no NIC: nothing is connected. */
	{
		struct kc_sandbox_net h;

		assert_int_equal(kc_sandbox_net_setup(&h, &cfg, spec, true, &err), 0);
		assert_null(h.net);
		assert_int_equal(h.n_netdevs, 0);
		kc_sandbox_net_teardown(&h);
	}
	kc_sandbox_net_teardown(&n);
	kc_sandbox_net_teardown(&n); /* idempotent */
	assert_int_equal(out_lines("ip -n %s -o link show type tun", ns), 0);
	assert_int_equal(out_lines("tc -n %s qdisc show ingress", ns), 0);
	sh("ip -n %s addr del 10.98.1.2/24 dev eth0", ns);
	json_decref(spec);
}

/* internetworking_model "none": the namespace is not even opened. */
static void test_model_none(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_sandbox_net n;
	json_t *spec = spec_for("/run/netns/kc-sbnet-does-not-exist");
	char *saved = cfg.runtime.internetworking_model;

	(void)state;
	cfg.runtime.internetworking_model = "none";
	assert_int_equal(kc_sandbox_net_setup(&n, &cfg, spec, false, &err), 0);
	assert_int_equal(n.n_netdevs, 0);
	assert_null(n.netdevs);
	kc_sandbox_net_teardown(&n);
	cfg.runtime.internetworking_model = saved;
	json_decref(spec);
}

int main(void)
{
	const char *root = getenv("KC_SOURCE_ROOT");
	cleanup_free char *path = kc_xasprintf("%s/config/configuration-qemu.toml",
					       root ? root : ".");
	cleanup_error kc_error_t err = NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_netns),  cmocka_unit_test(test_no_address),
		cmocka_unit_test(test_tap_clash),      cmocka_unit_test(test_bad_kind),
		cmocka_unit_test(test_setup_teardown), cmocka_unit_test(test_model_none),
	};
	int ret;

	if (kc_config_load_file(path, &cfg, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		return 1;
	}
	ret = cmocka_run_group_tests(tests, setup, teardown);
	kc_config_free(&cfg);
	return ret;
}
