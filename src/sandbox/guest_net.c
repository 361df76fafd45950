/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest side of the pod's network, after the VM is up and before
 * CreateSandbox (Kata's kataAgent.startSandbox order): one UpdateInterface
 * per NIC, then UpdateRoutes, then AddARPNeighbors, each sent once the one
 * before answered.  The messages come from runtime/network
 * (kc_podnet_agent_msgs()); any failure ends the chain with its error.
 */
#include <stdlib.h>

#include "lib/util.h"
#include "network/network.h"
#include "internal.h"

struct net_ctx {
	struct kc_podnet_agent_msgs msgs;
	size_t step; /* interfaces, then routes, then neighbours */
	struct kc_pod *pod;
	kc_agent_fn done;
	void *ctx;
};

static void net_next(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct net_ctx *n = ctx;
	struct kc_pod *pod = n->pod;
	size_t i = n->step++;
	kc_agent_fn done = n->done;
	void *dctx = n->ctx;

	(void)m;
	if (!err) {
		if (i < n->msgs.n_interfaces) {
			kc_agent_update_interface(pod->agent, n->msgs.interfaces[i], net_next, n);
			return;
		}
		if (i == n->msgs.n_interfaces && n->msgs.routes) {
			kc_agent_update_routes(pod->agent, n->msgs.routes, net_next, n);
			return;
		}
		if (i <= n->msgs.n_interfaces + 1 && n->msgs.neighbors &&
		    n->msgs.neighbors->n_neighbors) {
			n->step = n->msgs.n_interfaces + 2;
			kc_agent_add_arp_neighbors(pod->agent, n->msgs.neighbors, net_next, n);
			return;
		}
	}
	if (err)
		kc_error_wrap(err, "configuring the guest's network");
	kc_podnet_agent_msgs_free(&n->msgs);
	free(n);
	done(dctx, err, NULL);
}

void kc_guest_net_configure(struct kc_pod *pod, kc_agent_fn done, void *ctx)
{
	const struct kc_podnet *net = pod->sb ? kc_sandbox_podnet(pod->sb) : NULL;
	struct net_ctx *n;

	if (!net) {
		done(ctx, NULL, NULL);
		return;
	}
	n = kc_xzalloc(sizeof(*n));
	kc_podnet_agent_msgs(net, &n->msgs);
	n->pod = pod;
	n->done = done;
	n->ctx = ctx;
	net_next(n, NULL, NULL);
}
