/* SPDX-License-Identifier: Apache-2.0 */
/* Asynchronous calls to the agent, each answered through one callback. */
#include <errno.h>
#include <stdlib.h>

#include "lib/util.h"
#include "shim.h"

struct agent_call {
	struct shim *s;
	const char *method;
	const ProtobufCMessageDescriptor *desc;
	shim_agent_fn fn;
	void *ctx;
};

static void on_reply(const struct kc_ttrpc_reply *reply, void *data)
{
	struct agent_call *ac = data;
	cleanup_error kc_error_t err = NULL;
	ProtobufCMessage *resp = NULL;

	if (kc_ttrpc_reply_check(reply, SHIM_AGENT_SERVICE, ac->method, &err) >= 0 && ac->desc)
		kc_ttrpc_reply_unpack(reply, ac->desc, &resp, &err);
	ac->fn(ac->s, ac->ctx, err ? &err : NULL, resp);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(ac);
}

void shim_agent_call(struct shim *s, const char *method, const ProtobufCMessage *req,
		     const ProtobufCMessageDescriptor *resp_desc, uint64_t timeout_ns,
		     shim_agent_fn fn, void *ctx)
{
	shim_agent_call_id(s, method, req, resp_desc, timeout_ns, fn, ctx, NULL);
}

void shim_agent_cancel(struct shim *s, uint32_t id)
{
	if (s->agent && id)
		kc_ttrpc_client_cancel(s->agent, id);
}

void shim_agent_call_id(struct shim *s, const char *method, const ProtobufCMessage *req,
			const ProtobufCMessageDescriptor *resp_desc, uint64_t timeout_ns,
			shim_agent_fn fn, void *ctx, uint32_t *id)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_ttrpc_call_opts opts = { .timeout_ns = timeout_ns };
	struct agent_call *ac;

	if (id)
		*id = 0;
	if (!s->agent || s->sandbox_dead) {
		kc_error_set(&err, ENOTCONN, "%s/%s: the sandbox's agent is gone",
			     SHIM_AGENT_SERVICE, method);
		fn(s, ctx, &err, NULL);
		return;
	}
	ac = kc_xzalloc(sizeof(*ac));
	*ac = (struct agent_call){ s, method, resp_desc, fn, ctx };
	if (kc_ttrpc_client_call_msg(s->agent, SHIM_AGENT_SERVICE, method, req, &opts, on_reply,
				     ac, id, &err) < 0) {
		free(ac);
		fn(s, ctx, &err, NULL);
	}
}
