/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox_net.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

int kc_sandbox_net_setup(struct kc_sandbox_net *n, const struct kc_config *cfg, const json_t *spec,
			 bool host_agent, kc_error_t *err)
{
	struct kc_podnet_options o;
	cleanup_free char *path = NULL;
	int ret;

	memset(n, 0, sizeof(*n));
	if (!spec)
		return 0;
	kc_podnet_options_from_config(cfg, &o);
	ret = kc_podnet_netns_from_spec(spec, &path, err);
	if (ret < 0)
		return ret;
	/* The host agent is a process of the host: neither a NIC nor the
	 * pod's resolv.conf (which it would write over the host's). */
	if (host_agent) {
		if (path)
			kc_info("network namespace `%s`: the host agent takes no NIC, not connected",
				path);
		return 0;
	}
	ret = kc_podnet_dns_from_spec(spec, &n->dns, err);
	if (ret < 0)
		return ret;
	if (!path) {
		kc_info("the pod spec names no network namespace: no network for the VM");
		return 0;
	}
	/* Model "none" (and an invalid model) is decided by the scan. */
	ret = kc_podnet_scan(path, &o, &n->net, err);
	if (ret >= 0 && n->net)
		ret = kc_podnet_connect(n->net, err);
	if (ret < 0) {
		kc_sandbox_net_teardown(n);
		return ret;
	}
	if (n->net && n->net->n_endpoints) {
		n->netdevs = kc_podnet_vm_netdevs(n->net);
		n->n_netdevs = n->net->n_endpoints;
	}
	kc_info("network namespace `%s`: %zu interface(s) connected", path, n->n_netdevs);
	return 0;
}

void kc_sandbox_net_teardown(struct kc_sandbox_net *n)
{
	cleanup_error kc_error_t err = NULL;

	free(n->netdevs);
	n->netdevs = NULL;
	n->n_netdevs = 0;
	if (n->net && kc_podnet_disconnect(n->net, &err) < 0)
		kc_warn("pod network: %s", err->msg);
	kc_podnet_free(n->net);
	n->net = NULL;
	kc_free_strv(n->dns);
	n->dns = NULL;
}
