/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SHIM_SHIM_H
#define KC_SHIM_SHIM_H

/*
 * containerd-shim-kata-v2: one process per pod, one event loop.  The Task
 * service (task_service.c) translates containerd's calls into the pod's
 * lifecycle library (sandbox/pod.h) and answers them from its callbacks;
 * what the library reports on its own (exits, OOM) becomes containerd
 * events (events.c), a queue forwarded in order.
 */

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib/error.h"
#include "host/host_cgroup.h"
#include "sandbox/pod.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"

struct shim_event;

struct shim {
	struct kc_loop *loop;
	struct kc_ttrpc_server *srv;
	char *ns, *address, *publish_binary, *id;
	char *socket_path;
	char *config_path; /* from the runtime options */
	const char *agent_binary; /* $KATA_C_TEST_AGENT: the host agent (tests) */
	struct kc_pod *pod; /* the lifecycle (sandbox/pod.h) */
	/* events */
	struct shim_event *ev_head, *ev_tail;
	bool ev_busy;
	struct kc_ttrpc_client *ev_client;
	bool ev_use_binary;
	/* signals */
	int sigfd;
	struct kc_loop_watch *sig_watch;
	bool exiting;
	struct kc_loop_timer exit_timer;
	uint64_t exit_deadline;
	struct kc_host_cgroup *leave_cgroup; /* left once the loop is over */
	/* After a failed Create: whether the shim still holds anything */
	struct kc_loop_timer orphan_timer;
	/* The management socket (monitor.c), once the sandbox is up */
	struct shim_mgmt *mgmt;
	/* Whether the bundle is still there (serve.c) */
	char *bundle_dir;
	struct kc_loop_timer bundle_timer;
};

#define NS_SEC 1000000000ull

/* ---- events.c ---- */

/* Queues an event (topic "/tasks/exit", msg a containerd.events message)
 * to be forwarded in order. */
void shim_publish(struct shim *s, const char *topic, const ProtobufCMessage *msg);
/* Frees what is still queued (at exit). */
void shim_events_free(struct shim *s);

/* ---- task_service.c ---- */

/* Makes the pod (with the shim's event callbacks) and registers the Task
 * service. */
int shim_task_register(struct shim *s, kc_error_t *err);
/* Frees every container and stops the sandbox (at exit). */
void shim_task_free(struct shim *s);
/* The shim ends as Shutdown ends it, once the events still queued are out
 * (bounded); the VM and its files go after the loop. */
void shim_exit(struct shim *s);
/* Logs and fails call with *err (freed). */
void shim_fail(struct kc_ttrpc_call *call, kc_error_t *err);

/* ---- monitor.c ---- */

/* grpc.AgentService/GetMetrics and grpc.Health/Check on the shim's socket,
 * relayed to the agent. */
int shim_monitor_register(struct shim *s, kc_error_t *err);
/* The management socket (HTTP /metrics, /agent-url, docs/shim.md) in the
 * sandbox's state directory, recorded in its state; started once the
 * sandbox is up (again: a no-op), stopped before the pod goes. */
int shim_mgmt_start(struct shim *s, kc_error_t *err);
void shim_mgmt_stop(struct shim *s);

/* ---- start.c / delete.c / serve ---- */

struct shim_args {
	const char *ns, *address, *publish_binary, *id, *bundle;
	bool debug;
	const char *action;
};

/* The socket path of the shim of (address, ns, id). */
char *shim_socket_path(const char *address, const char *ns, const char *id);
/* The pod that start/delete of ID is about: a CRI container's
 * io.kubernetes.cri.sandbox-id annotation, else ID.  *spec gets BUNDLE's
 * config.json (NULL where it is missing or does not parse); the result may
 * point into it. */
const char *shim_sandbox_of(const char *bundle, const char *id, json_t **spec);
int shim_start(const struct shim_args *a, kc_error_t *err);
int shim_delete(const struct shim_args *a, kc_error_t *err);
/* The daemon: serves listen_fd until Shutdown.  Once it serves (pid file
 * written, signals handled) it writes "ok" to ready_fd, or the error that
 * stopped it, and closes it. */
int shim_serve(const struct shim_args *a, int listen_fd, const char *socket_path,
	       const char *config_path, int ready_fd, kc_error_t *err);

#endif
