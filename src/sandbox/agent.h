/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SANDBOX_AGENT_H
#define KC_SANDBOX_AGENT_H

/*
 * The host's side of grpc.AgentService: one asynchronous function per RPC
 * the host uses, on the caller's event loop.  The method names, response
 * types and timeouts live in agent.c's one table; nothing else names an
 * agent method.
 *
 * Every call runs its callback exactly once: with the answer, with the
 * error the agent or the connection gave, or at once (possibly before the
 * function returns) when it cannot be sent, e.g. with ENOTCONN when `a` is
 * NULL (the sandbox's agent is gone).  Call it last.  The answer is of the
 * type named at each function (NULL for google.protobuf.Empty and on
 * failure) and is freed after the callback.  The functions return the
 * call's id for kc_agent_cancel(), 0 when the callback already ran (so a
 * callback that runs at once must not store another call's id where the
 * caller stores this one's).
 */

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "lib/error.h"
#include "ttrpc/loop.h"

struct kc_agent;

typedef void (*kc_agent_fn)(void *ctx, kc_error_t *err, const ProtobufCMessage *resp);

/* Every RPC of the table (kc_agent_method()). */
enum kc_agent_rpc {
	KC_AGENT_CREATE_SANDBOX,
	KC_AGENT_CREATE_CONTAINER,
	KC_AGENT_START_CONTAINER,
	KC_AGENT_REMOVE_CONTAINER,
	KC_AGENT_PAUSE_CONTAINER,
	KC_AGENT_RESUME_CONTAINER,
	KC_AGENT_UPDATE_CONTAINER,
	KC_AGENT_STATS_CONTAINER,
	KC_AGENT_EXEC_PROCESS,
	KC_AGENT_SIGNAL_PROCESS,
	KC_AGENT_WAIT_PROCESS,
	KC_AGENT_READ_STDOUT,
	KC_AGENT_READ_STDERR,
	KC_AGENT_WRITE_STDIN,
	KC_AGENT_CLOSE_STDIN,
	KC_AGENT_TTY_WIN_RESIZE,
	KC_AGENT_UPDATE_INTERFACE,
	KC_AGENT_UPDATE_ROUTES,
	KC_AGENT_ADD_ARP_NEIGHBORS,
	KC_AGENT_GET_METRICS,
	KC_AGENT_GET_OOM_EVENT,
	KC_AGENT_UPDATE_WATCHABLE_VOLUME,
	KC_AGENT_PORT_FORWARD_OPEN,
	KC_AGENT_PORT_FORWARD_READ,
	KC_AGENT_PORT_FORWARD_WRITE,
	KC_AGENT_PORT_FORWARD_CLOSE_WRITE,
	KC_AGENT_PORT_FORWARD_CLOSE,
	KC_AGENT_HEALTH_CHECK, /* grpc.Health/Check */
	KC_AGENT_N_RPCS,
};

/* The ttrpc service and an RPC's method name (a relay registering it). */
#define KC_AGENT_SERVICE "grpc.AgentService"
const char *kc_agent_method(enum kc_agent_rpc rpc);

/* Takes fd (a connection to the agent).  CreateContainer gets
 * create_timeout_ns (the configuration's create_container_timeout). */
int kc_agent_new(struct kc_loop *loop, int fd, uint64_t create_timeout_ns, struct kc_agent **out,
		 kc_error_t *err);
/* Fails what is in flight with CANCELLED (callbacks run) and closes. */
void kc_agent_free(struct kc_agent *a);
/* The same, with *a set to NULL first: the callbacks that run meanwhile
 * find the agent gone. */
void kc_agent_close(struct kc_agent **a);
/* Runs the call's callback now with CANCELLED (0 and unknown ids are
 * ignored; a may be NULL). */
void kc_agent_cancel(struct kc_agent *a, uint32_t id);

/* ---- the sandbox ---- */
uint32_t kc_agent_create_sandbox(struct kc_agent *a, const Grpc__CreateSandboxRequest *req,
				 kc_agent_fn fn, void *ctx);
/* Grpc__Interface */
uint32_t kc_agent_update_interface(struct kc_agent *a, const Grpc__UpdateInterfaceRequest *req,
				   kc_agent_fn fn, void *ctx);
/* Grpc__Routes */
uint32_t kc_agent_update_routes(struct kc_agent *a, const Grpc__UpdateRoutesRequest *req,
				kc_agent_fn fn, void *ctx);
uint32_t kc_agent_add_arp_neighbors(struct kc_agent *a, const Grpc__AddARPNeighborsRequest *req,
				    kc_agent_fn fn, void *ctx);
/* Grpc__Metrics: the agent's Prometheus text */
uint32_t kc_agent_get_metrics(struct kc_agent *a, const Grpc__GetMetricsRequest *req,
			      kc_agent_fn fn, void *ctx);
/* Grpc__OOMEvent: a long poll, no timeout */
uint32_t kc_agent_get_oom_event(struct kc_agent *a, const Grpc__GetOOMEventRequest *req,
				kc_agent_fn fn, void *ctx);
/* A watchable-bind storage's new version (docs/volumes-update.md) */
uint32_t kc_agent_update_watchable_volume(struct kc_agent *a,
					  const Grpc__UpdateWatchableVolumeRequest *req,
					  kc_agent_fn fn, void *ctx);
uint32_t kc_agent_health_check(struct kc_agent *a, const Grpc__CheckRequest *req, kc_agent_fn fn,
			       void *ctx);

/* ---- containers ---- */
uint32_t kc_agent_create_container(struct kc_agent *a, const Grpc__CreateContainerRequest *req,
				   kc_agent_fn fn, void *ctx);
uint32_t kc_agent_start_container(struct kc_agent *a, const Grpc__StartContainerRequest *req,
				  kc_agent_fn fn, void *ctx);
uint32_t kc_agent_remove_container(struct kc_agent *a, const Grpc__RemoveContainerRequest *req,
				   kc_agent_fn fn, void *ctx);
uint32_t kc_agent_pause_container(struct kc_agent *a, const Grpc__PauseContainerRequest *req,
				  kc_agent_fn fn, void *ctx);
uint32_t kc_agent_resume_container(struct kc_agent *a, const Grpc__ResumeContainerRequest *req,
				   kc_agent_fn fn, void *ctx);
uint32_t kc_agent_update_container(struct kc_agent *a, const Grpc__UpdateContainerRequest *req,
				   kc_agent_fn fn, void *ctx);
/* Grpc__StatsContainerResponse */
uint32_t kc_agent_stats_container(struct kc_agent *a, const Grpc__StatsContainerRequest *req,
				  kc_agent_fn fn, void *ctx);

/* ---- processes ---- */
uint32_t kc_agent_exec_process(struct kc_agent *a, const Grpc__ExecProcessRequest *req,
			       kc_agent_fn fn, void *ctx);
uint32_t kc_agent_signal_process(struct kc_agent *a, const Grpc__SignalProcessRequest *req,
				 kc_agent_fn fn, void *ctx);
/* Grpc__WaitProcessResponse: a long poll, no timeout */
uint32_t kc_agent_wait_process(struct kc_agent *a, const Grpc__WaitProcessRequest *req,
			       kc_agent_fn fn, void *ctx);
/* Grpc__ReadStreamResponse (empty data: the end); long polls */
uint32_t kc_agent_read_stdout(struct kc_agent *a, const Grpc__ReadStreamRequest *req,
			      kc_agent_fn fn, void *ctx);
uint32_t kc_agent_read_stderr(struct kc_agent *a, const Grpc__ReadStreamRequest *req,
			      kc_agent_fn fn, void *ctx);
/* Grpc__WriteStreamResponse (how much the process's pipe took) */
uint32_t kc_agent_write_stdin(struct kc_agent *a, const Grpc__WriteStreamRequest *req,
			      kc_agent_fn fn, void *ctx);
uint32_t kc_agent_close_stdin(struct kc_agent *a, const Grpc__CloseStdinRequest *req,
			      kc_agent_fn fn, void *ctx);
uint32_t kc_agent_tty_win_resize(struct kc_agent *a, const Grpc__TtyWinResizeRequest *req,
				 kc_agent_fn fn, void *ctx);

/* ---- port forwarding (docs/port-forward.md) ---- */
/* Grpc__PortForwardOpenResponse, once the guest's connect finished */
uint32_t kc_agent_port_forward_open(struct kc_agent *a, const Grpc__PortForwardOpenRequest *req,
				    kc_agent_fn fn, void *ctx);
/* Grpc__ReadStreamResponse (empty data: the guest's end); a long poll */
uint32_t kc_agent_port_forward_read(struct kc_agent *a, const Grpc__PortForwardReadRequest *req,
				    kc_agent_fn fn, void *ctx);
/* Grpc__WriteStreamResponse (how much the connection took); held while
 * the guest's socket takes nothing */
uint32_t kc_agent_port_forward_write(struct kc_agent *a, const Grpc__PortForwardWriteRequest *req,
				     kc_agent_fn fn, void *ctx);
uint32_t kc_agent_port_forward_close_write(struct kc_agent *a,
					   const Grpc__PortForwardSessionRequest *req,
					   kc_agent_fn fn, void *ctx);
uint32_t kc_agent_port_forward_close(struct kc_agent *a, const Grpc__PortForwardSessionRequest *req,
				     kc_agent_fn fn, void *ctx);

#endif
