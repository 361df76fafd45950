/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What others may read of the pod through its shim.  The shim holds the
 * only connection to its agent (over virtio-serial the guest sees one
 * stream, and QEMU's chardev takes one client at a time), so a host tool
 * that wants the agent's own figures asks the shim: grpc.AgentService's
 * GetMetrics on the shim's socket is relayed to the agent and its answer
 * (the agent's Prometheus text: open descriptors, memory, threads...)
 * returned as is; the shim's other agent methods answer UNIMPLEMENTED.
 * This is the part of Kata's shim-monitor /metrics that reads the agent,
 * reachable with `kata-agent-ctl --server-address unix://SHIM_SOCKET call
 * GetMetrics` (the socket answers root or the shim's own user only).
 */
#include <string.h>

#include "agent.pb-c.h"
#include "lib/util.h"
#include "task.h"

static void on_metrics(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_ttrpc_call *call = ctx;

	(void)s;
	if (err) {
		kc_error_wrap(err, "the agent's metrics");
		shim_fail(call, err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, m);
}

static void h_get_metrics(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	shim_agent_call(data, "GetMetrics", m, &grpc__metrics__descriptor, 10 * NS_SEC, on_metrics,
			call);
}

int shim_monitor_register(struct shim *s, kc_error_t *err)
{
	const ProtobufCServiceDescriptor *desc = &grpc__agent_service__descriptor;
	cleanup_free kc_ttrpc_msg_handler_fn *fns = kc_xzalloc(desc->n_methods * sizeof(*fns));

	for (unsigned i = 0; i < desc->n_methods; i++)
		if (strcmp(desc->methods[i].name, "GetMetrics") == 0)
			fns[i] = h_get_metrics;
	return kc_ttrpc_server_register_service(s->srv, desc, fns, s, err);
}
