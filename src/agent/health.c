/* SPDX-License-Identifier: Apache-2.0 */
/* grpc.Health: the runtime's first call, to learn that the agent is up. */
#include "agent.h"
#include "health.pb-c.h"
#include "kc-build-config.h"

static void h_check(struct kc_ttrpc_call *call, const ProtobufCMessage *req, void *data)
{
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;

	(void)req;
	(void)data;
	resp.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

static void h_version(struct kc_ttrpc_call *call, const ProtobufCMessage *req, void *data)
{
	Grpc__VersionCheckResponse resp = GRPC__VERSION_CHECK_RESPONSE__INIT;

	(void)req;
	(void)data;
	resp.grpc_version = (char *)KC_AGENT_API_VERSION;
	resp.agent_version = (char *)KC_VERSION;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

int kc_agent_health_register(struct kc_agent *a, kc_error_t *err)
{
	const ProtobufCServiceDescriptor *desc = &grpc__health__descriptor;
	kc_ttrpc_msg_handler_fn handlers[2] = { NULL, NULL };

	for (unsigned i = 0; i < desc->n_methods; i++) {
		if (desc->methods[i].name[0] == 'C')
			handlers[i] = h_check;
		else
			handlers[i] = h_version;
	}
	return kc_ttrpc_server_register_service(a->srv, desc, handlers, a, err);
}
