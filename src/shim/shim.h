/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SHIM_SHIM_H
#define KC_SHIM_SHIM_H

/*
 * containerd-shim-kata-v2: one process per pod, one event loop.  The Task
 * service (task_service.c) answers containerd; every call that needs the
 * guest goes to the agent as an asynchronous call (sandbox/agent.h) and the
 * containerd call is answered from its callback.  Process IO (io.c) is a
 * set of long polls against the agent, events (events.c) a queue forwarded
 * in order.
 */

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib/config.h"
#include "lib/error.h"
#include "sandbox/agent.h"
#include "sandbox/sandbox.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"

/* containerd.v1.types.Status */
enum shim_status {
	ST_UNKNOWN = 0,
	ST_CREATED = 1,
	ST_RUNNING = 2,
	ST_STOPPED = 3,
	ST_PAUSED = 4,
};

struct shim;
struct shim_proc;

/* One byte stream between containerd's side (fifo, file) and the agent. */
struct shim_pump {
	struct shim_proc *proc;
	bool is_stdin, is_stderr;
	int fd;         /* containerd's end, -1 when none */
	struct kc_loop_watch *watch;
	uint8_t *buf;   /* data not yet passed on */
	size_t len, off;
	bool busy;      /* an agent call is in flight */
	uint32_t call_id; /* its stream id, to cancel it */
	struct kc_loop_timer retry;
	bool done;      /* reached its end (or failed) */
	bool close_req; /* stdin: CloseIO asked, close once drained */
};

struct shim_waiter {
	struct shim_waiter *next;
	struct kc_ttrpc_call *call;
};

struct shim_container;

struct shim_proc {
	struct shim_proc *next;
	struct shim_container *c;
	char *exec_id;   /* "" for the init process */
	char *agent_eid; /* the exec id the agent knows it by */
	enum shim_status status;
	bool terminal;
	char *stdin_path, *stdout_path, *stderr_path;
	char *process_json; /* exec: the OCI process */
	bool waiting;       /* a WaitProcess is in flight */
	uint32_t wait_call;
	bool wait_answered; /* the agent's WaitProcess came back */
	int agent_status;
	bool exited; /* final: status, time set, TaskExit sent */
	uint32_t exit_status;
	struct timespec exited_at;
	struct shim_pump in, out, err;
	pid_t log_pid; /* a binary:// logger (io_binary.c) */
	struct shim_waiter *waiters;
};

struct shim_container {
	struct shim_container *next;
	struct shim *shim;
	char *id, *bundle;
	bool is_sandbox;
	struct shim_proc init;
	struct shim_proc *execs;
	bool deleting;
};

struct shim_event;

struct shim {
	struct kc_loop *loop;
	struct kc_ttrpc_server *srv;
	char *ns, *address, *publish_binary, *id;
	char *socket_path;
	char *config_path; /* from the runtime options */
	const char *agent_binary; /* $KATA_C_TEST_AGENT: the host agent (tests) */
	struct kc_config cfg;
	bool cfg_loaded;
	struct kc_sandbox *sb;
	struct kc_agent *agent; /* NULL: the sandbox's agent is gone */
	bool sandbox_dead;
	struct kc_loop_watch *vm_watch;
	uint32_t oom_call; /* the GetOOMEvent long poll in flight */
	struct shim_container *containers;
	unsigned creating; /* Creates in flight */
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
	/* After a failed Create: whether the shim still holds anything (create.c) */
	struct kc_loop_timer orphan_timer;
	/* Whether the bundle is still there (serve.c) */
	char *bundle_dir;
	struct kc_loop_timer bundle_timer;
};

/* ---- net.c: the guest's network ---- */

/* Configures the guest's NICs, routes and neighbours from the sandbox's
 * pod network, then calls done (with the first error, if any); at once
 * when the VM has no NIC. */
void shim_net_configure(struct shim *s, kc_agent_fn done, void *ctx);

/* ---- events.c ---- */

/* Queues an event (topic "/tasks/exit", msg a containerd.events message)
 * to be forwarded in order. */
void shim_publish(struct shim *s, const char *topic, const ProtobufCMessage *msg);
/* Frees what is still queued (at exit). */
void shim_events_free(struct shim *s);

/* ---- io.c ---- */

/* Sets the pumps up with no fds (before anything else touches p). */
void shim_io_init(struct shim_proc *p);
/* Opens containerd's ends of p's IO (fifos, file://, binary:// not yet)
 * and starts passing data once the process runs. */
int shim_io_open(struct shim_proc *p, kc_error_t *err);
void shim_io_start(struct shim_proc *p);
/* CloseIO: closes stdin once what was read is written. */
void shim_io_close_stdin(struct shim_proc *p);
/* Both outputs reached their end (or there are none). */
bool shim_io_drained(const struct shim_proc *p);
/* Stops every pump and closes the fds. */
void shim_io_close(struct shim_proc *p);
/* io_binary.c: starts the binary:// logger of p's outputs (out.fd and
 * err.fd become its pipes); reaps it once they are closed. */
int shim_io_binary_open(struct shim_proc *p, const char *uri, kc_error_t *err);
void shim_io_binary_reap(struct shim_proc *p);

/* ---- task_service.c ---- */

int shim_task_register(struct shim *s, kc_error_t *err);
/* Frees every container and stops the sandbox (at exit). */
void shim_task_free(struct shim *s);
/* A pump ended or WaitProcess answered: finish the process if both. */
void shim_proc_maybe_exited(struct shim_proc *p);
/* A process the sandbox depends on (QEMU, virtiofsd, the host agent) is
 * gone: the VM is stopped and every process exits with 255.  The one path
 * for any such death. */
void shim_sandbox_died(struct shim *s);

/* ---- monitor.c ---- */

/* grpc.AgentService/GetMetrics on the shim's socket, relayed to the agent. */
int shim_monitor_register(struct shim *s, kc_error_t *err);

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
