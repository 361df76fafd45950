/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asynchronous calls to the agent, each answered through one callback.
 * The one table of the RPCs the host sends: method, answer type, timeout.
 */
#include "agent.h"

#include <errno.h>
#include <stdlib.h>

#include "health.pb-c.h"
#include "lib/util.h"
#include "ttrpc/client.h"

#define S 1000000000ull

struct kc_agent {
	struct kc_ttrpc_client *client;
	uint64_t create_timeout_ns;
};

static const struct {
	const char *service; /* NULL: grpc.AgentService */
	const char *method;
	const ProtobufCMessageDescriptor *resp; /* NULL: google.protobuf.Empty */
	uint64_t timeout_ns; /* 0: none (long polls) */
} rpcs[KC_AGENT_N_RPCS] = {
	[KC_AGENT_CREATE_SANDBOX] = { NULL, "CreateSandbox", NULL, 30 * S },
	[KC_AGENT_CREATE_CONTAINER] = { NULL, "CreateContainer", NULL, 0 /* create_timeout_ns */ },
	[KC_AGENT_START_CONTAINER] = { NULL, "StartContainer", NULL, 60 * S },
	[KC_AGENT_REMOVE_CONTAINER] = { NULL, "RemoveContainer", NULL, 30 * S },
	[KC_AGENT_PAUSE_CONTAINER] = { NULL, "PauseContainer", NULL, 30 * S },
	[KC_AGENT_RESUME_CONTAINER] = { NULL, "ResumeContainer", NULL, 30 * S },
	[KC_AGENT_UPDATE_CONTAINER] = { NULL, "UpdateContainer", NULL, 30 * S },
	[KC_AGENT_STATS_CONTAINER] = { NULL, "StatsContainer",
				       &grpc__stats_container_response__descriptor, 30 * S },
	[KC_AGENT_EXEC_PROCESS] = { NULL, "ExecProcess", NULL, 60 * S },
	[KC_AGENT_SIGNAL_PROCESS] = { NULL, "SignalProcess", NULL, 10 * S },
	[KC_AGENT_WAIT_PROCESS] = { NULL, "WaitProcess", &grpc__wait_process_response__descriptor,
				    0 },
	[KC_AGENT_READ_STDOUT] = { NULL, "ReadStdout", &grpc__read_stream_response__descriptor, 0 },
	[KC_AGENT_READ_STDERR] = { NULL, "ReadStderr", &grpc__read_stream_response__descriptor, 0 },
	[KC_AGENT_WRITE_STDIN] = { NULL, "WriteStdin", &grpc__write_stream_response__descriptor, 0 },
	[KC_AGENT_CLOSE_STDIN] = { NULL, "CloseStdin", NULL, 0 },
	[KC_AGENT_TTY_WIN_RESIZE] = { NULL, "TtyWinResize", NULL, 10 * S },
	[KC_AGENT_UPDATE_INTERFACE] = { NULL, "UpdateInterface", NULL, 30 * S },
	[KC_AGENT_UPDATE_ROUTES] = { NULL, "UpdateRoutes", NULL, 30 * S },
	[KC_AGENT_ADD_ARP_NEIGHBORS] = { NULL, "AddARPNeighbors", NULL, 30 * S },
	[KC_AGENT_GET_METRICS] = { NULL, "GetMetrics", &grpc__metrics__descriptor, 10 * S },
	[KC_AGENT_GET_OOM_EVENT] = { NULL, "GetOOMEvent", &grpc__oomevent__descriptor, 0 },
	[KC_AGENT_UPDATE_WATCHABLE_VOLUME] = { NULL, "UpdateWatchableVolume", NULL, 30 * S },
	[KC_AGENT_PORT_FORWARD_OPEN] = { NULL, "PortForwardOpen",
					 &grpc__port_forward_open_response__descriptor, 30 * S },
	[KC_AGENT_PORT_FORWARD_READ] = { NULL, "PortForwardRead",
					 &grpc__read_stream_response__descriptor, 0 },
	[KC_AGENT_PORT_FORWARD_WRITE] = { NULL, "PortForwardWrite",
					  &grpc__write_stream_response__descriptor, 0 },
	[KC_AGENT_PORT_FORWARD_CLOSE_WRITE] = { NULL, "PortForwardCloseWrite", NULL, 30 * S },
	[KC_AGENT_PORT_FORWARD_CLOSE] = { NULL, "PortForwardClose", NULL, 30 * S },
	[KC_AGENT_HEALTH_CHECK] = { "grpc.Health", "Check",
				    &grpc__health_check_response__descriptor, 10 * S },
};

static const char *service(enum kc_agent_rpc rpc)
{
	return rpcs[rpc].service ? rpcs[rpc].service : KC_AGENT_SERVICE;
}

const char *kc_agent_method(enum kc_agent_rpc rpc)
{
	return rpcs[rpc].method;
}

int kc_agent_new(struct kc_loop *loop, int fd, uint64_t create_timeout_ns, struct kc_agent **out,
		 kc_error_t *err)
{
	struct kc_agent *a = kc_xzalloc(sizeof(*a));
	int ret;

	ret = kc_ttrpc_client_new(loop, fd, &a->client, err);
	if (ret < 0) {
		free(a);
		return ret;
	}
	a->create_timeout_ns = create_timeout_ns;
	*out = a;
	return 0;
}

void kc_agent_free(struct kc_agent *a)
{
	if (!a)
		return;
	kc_ttrpc_client_free(a->client);
	free(a);
}

void kc_agent_close(struct kc_agent **a)
{
	struct kc_agent *old = *a;

	*a = NULL;
	kc_agent_free(old);
}

void kc_agent_cancel(struct kc_agent *a, uint32_t id)
{
	if (a && id)
		kc_ttrpc_client_cancel(a->client, id);
}

struct agent_call {
	enum kc_agent_rpc rpc;
	kc_agent_fn fn;
	void *ctx;
};

static void on_reply(const struct kc_ttrpc_reply *reply, void *data)
{
	struct agent_call *ac = data;
	cleanup_error kc_error_t err = NULL;
	ProtobufCMessage *resp = NULL;
	const char *method = rpcs[ac->rpc].method;

	if (kc_ttrpc_reply_check(reply, service(ac->rpc), method, &err) >= 0 && rpcs[ac->rpc].resp)
		kc_ttrpc_reply_unpack(reply, rpcs[ac->rpc].resp, &resp, &err);
	ac->fn(ac->ctx, err ? &err : NULL, resp);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(ac);
}

static uint32_t call(struct kc_agent *a, enum kc_agent_rpc rpc, const ProtobufCMessage *req,
		     kc_agent_fn fn, void *ctx)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_ttrpc_call_opts opts = { .timeout_ns = rpcs[rpc].timeout_ns };
	struct agent_call *ac;
	uint32_t id = 0;

	if (!a) {
		kc_error_set(&err, ENOTCONN, "%s/%s: the sandbox's agent is gone", service(rpc),
			     rpcs[rpc].method);
		fn(ctx, &err, NULL);
		return 0;
	}
	if (rpc == KC_AGENT_CREATE_CONTAINER)
		opts.timeout_ns = a->create_timeout_ns;
	ac = kc_xzalloc(sizeof(*ac));
	*ac = (struct agent_call){ rpc, fn, ctx };
	if (kc_ttrpc_client_call_msg(a->client, service(rpc), rpcs[rpc].method, req, &opts,
				     on_reply, ac, &id, &err) < 0) {
		free(ac);
		fn(ctx, &err, NULL);
		return 0;
	}
	return id;
}

#define RPC(name, RPC, Req) \
	uint32_t kc_agent_##name(struct kc_agent *a, const Req *req, kc_agent_fn fn, void *ctx) \
	{ \
		return call(a, KC_AGENT_##RPC, &req->base, fn, ctx); \
	}

RPC(create_sandbox, CREATE_SANDBOX, Grpc__CreateSandboxRequest)
RPC(update_interface, UPDATE_INTERFACE, Grpc__UpdateInterfaceRequest)
RPC(update_routes, UPDATE_ROUTES, Grpc__UpdateRoutesRequest)
RPC(add_arp_neighbors, ADD_ARP_NEIGHBORS, Grpc__AddARPNeighborsRequest)
RPC(get_metrics, GET_METRICS, Grpc__GetMetricsRequest)
RPC(get_oom_event, GET_OOM_EVENT, Grpc__GetOOMEventRequest)
RPC(update_watchable_volume, UPDATE_WATCHABLE_VOLUME, Grpc__UpdateWatchableVolumeRequest)
RPC(health_check, HEALTH_CHECK, Grpc__CheckRequest)
RPC(create_container, CREATE_CONTAINER, Grpc__CreateContainerRequest)
RPC(start_container, START_CONTAINER, Grpc__StartContainerRequest)
RPC(remove_container, REMOVE_CONTAINER, Grpc__RemoveContainerRequest)
RPC(pause_container, PAUSE_CONTAINER, Grpc__PauseContainerRequest)
RPC(resume_container, RESUME_CONTAINER, Grpc__ResumeContainerRequest)
RPC(update_container, UPDATE_CONTAINER, Grpc__UpdateContainerRequest)
RPC(stats_container, STATS_CONTAINER, Grpc__StatsContainerRequest)
RPC(exec_process, EXEC_PROCESS, Grpc__ExecProcessRequest)
RPC(signal_process, SIGNAL_PROCESS, Grpc__SignalProcessRequest)
RPC(wait_process, WAIT_PROCESS, Grpc__WaitProcessRequest)
RPC(read_stdout, READ_STDOUT, Grpc__ReadStreamRequest)
RPC(read_stderr, READ_STDERR, Grpc__ReadStreamRequest)
RPC(write_stdin, WRITE_STDIN, Grpc__WriteStreamRequest)
RPC(close_stdin, CLOSE_STDIN, Grpc__CloseStdinRequest)
RPC(tty_win_resize, TTY_WIN_RESIZE, Grpc__TtyWinResizeRequest)
RPC(port_forward_open, PORT_FORWARD_OPEN, Grpc__PortForwardOpenRequest)
RPC(port_forward_read, PORT_FORWARD_READ, Grpc__PortForwardReadRequest)
RPC(port_forward_write, PORT_FORWARD_WRITE, Grpc__PortForwardWriteRequest)
RPC(port_forward_close_write, PORT_FORWARD_CLOSE_WRITE, Grpc__PortForwardSessionRequest)
RPC(port_forward_close, PORT_FORWARD_CLOSE, Grpc__PortForwardSessionRequest)
#undef RPC
