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
#include "shim.h"

#define NET_TIMEOUT_NS (30 * 1000000000ull)

struct net_ctx {
	struct kc_podnet_agent_msgs msgs;
	size_t step; /* interfaces, then routes, then neighbours */
	shim_agent_fn done;
	void *ctx;
};

static void net_next(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct net_ctx *n = ctx;
	size_t i = n->step++;
	shim_agent_fn done = n->done;
	void *dctx = n->ctx;

	(void)m;
	if (!err) {
		if (i < n->msgs.n_interfaces) {
			shim_agent_call(s, "UpdateInterface", &n->msgs.interfaces[i]->base, NULL,
					NET_TIMEOUT_NS, net_next, n);
			return;
		}
		if (i == n->msgs.n_interfaces && n->msgs.routes) {
			shim_agent_call(s, "UpdateRoutes", &n->msgs.routes->base, NULL,
					NET_TIMEOUT_NS, net_next, n);
			return;
		}
		if (i <= n->msgs.n_interfaces + 1 && n->msgs.neighbors &&
		    n->msgs.neighbors->n_neighbors) {
			n->step = n->msgs.n_interfaces + 2;
			shim_agent_call(s, "AddARPNeighbors", &n->msgs.neighbors->base, NULL,
					NET_TIMEOUT_NS, net_next, n);
			return;
		}
	}
	if (err)
		kc_error_wrap(err, "configuring the guest's network");
	kc_podnet_agent_msgs_free(&n->msgs);
	free(n);
	done(s, dctx, err, NULL);
}

void shim_net_configure(struct shim *s, shim_agent_fn done, void *ctx)
{
	const struct kc_podnet *net = s->sb ? kc_sandbox_podnet(s->sb) : NULL;
	struct net_ctx *n;

	if (!net) {
		done(s, ctx, NULL, NULL);
		return;
	}
	n = kc_xzalloc(sizeof(*n));
	kc_podnet_agent_msgs(net, &n->msgs);
	n->done = done;
	n->ctx = ctx;
	net_next(s, n, NULL, NULL);
}
