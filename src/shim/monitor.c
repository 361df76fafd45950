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
 *
 * grpc.Health/Check is relayed the same way, answer and failure as the
 * agent gave them: the health check of a live sandbox for another process,
 * which finds this socket in the sandbox's state (sandbox/state.h,
 * kc_state_open_live()).
 */
#include <errno.h>
#include <string.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "lib/util.h"
#include "shim.h"

/* Returns the agent's answer to call as is. */
static void on_answer(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_ttrpc_call *call = ctx;

	if (err) {
		kc_error_wrap(err, "relayed to the agent");
		shim_fail(call, err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, m);
}

static void h_get_metrics(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	struct shim *s = data;

	kc_pod_agent_metrics(s->pod, (const Grpc__GetMetricsRequest *)m, on_answer, call);
}

static void h_check(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	struct shim *s = data;

	kc_pod_agent_check(s->pod, (const Grpc__CheckRequest *)m, on_answer, call);
}

static int register_one(struct shim *s, const ProtobufCServiceDescriptor *desc,
			const char *method, kc_ttrpc_msg_handler_fn fn, kc_error_t *err)
{
	cleanup_free kc_ttrpc_msg_handler_fn *fns = kc_xzalloc(desc->n_methods * sizeof(*fns));

	for (unsigned i = 0; i < desc->n_methods; i++)
		if (strcmp(desc->methods[i].name, method) == 0)
			fns[i] = fn;
	return kc_ttrpc_server_register_service(s->srv, desc, fns, s, err);
}

int shim_monitor_register(struct shim *s, kc_error_t *err)
{
	int ret = register_one(s, &grpc__agent_service__descriptor,
			       kc_agent_method(KC_AGENT_GET_METRICS), h_get_metrics, err);

	if (ret >= 0)
		ret = register_one(s, &grpc__health__descriptor,
				   kc_agent_method(KC_AGENT_HEALTH_CHECK), h_check, err);
	return ret;
}
