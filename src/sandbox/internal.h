/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SANDBOX_INTERNAL_H
#define KC_SANDBOX_INTERNAL_H

/* What pod.c, process.c, io.c, io_binary.c and guest_net.c share: the
 * structs behind pod.h. */

#include <stdbool.h>
#include <stdint.h>

#include "host/child.h"
#include "agent.h"
#include "lib/config.h"
#include "pod.h"
#include "sandbox.h"
#include "watch.h"

#define NS_SEC 1000000000ull
#define TYPE_ANNOTATION "io.kubernetes.cri.container-type"
#define SANDBOX_ANNOTATION "io.kubernetes.cri.sandbox-id"

/* One byte stream between the front end's side (fifo, file) and the agent. */
struct kc_pump {
	struct kc_proc *proc;
	bool is_stdin, is_stderr;
	int fd; /* the front end's end, -1 when none */
	struct kc_loop_watch *watch;
	uint8_t *buf; /* data not yet passed on */
	size_t len, off;
	bool busy; /* an agent call is in flight */
	uint32_t call_id; /* its stream id, to cancel it */
	struct kc_loop_timer retry;
	bool done; /* reached its end (or failed) */
	bool close_req; /* stdin: CloseIO asked, close once drained */
};

struct kc_wait {
	struct kc_wait *next;
	kc_done_fn done;
	void *ctx;
};

struct kc_proc {
	struct kc_proc_info i; /* its strings are the process's own */
	struct kc_proc *next;
	struct kc_ctr *c;
	char *agent_eid; /* the exec id the agent knows it by */
	char *process_json; /* exec: the OCI process */
	bool waiting; /* a WaitProcess is in flight */
	uint32_t wait_call;
	bool wait_answered; /* the agent's WaitProcess came back */
	int agent_status;
	struct kc_pump in, out, err;
	struct kc_child logger; /* a binary:// logger (io_binary.c) */
	struct kc_wait *waits;
};

struct kc_ctr {
	struct kc_ctr *next;
	struct kc_pod *pod;
	char *id, *bundle;
	struct kc_proc init;
	struct kc_proc *execs;
	bool deleting;
};

struct kc_pod {
	struct kc_loop *loop;
	char *config_path, *agent_binary, *ns, *owner_socket;
	struct kc_pod_events ev;
	struct kc_config cfg;
	bool cfg_loaded;
	struct kc_sandbox *sb;
	struct kc_agent *agent; /* NULL: none, or the sandbox is gone */
	bool dead; /* the sandbox was lost */
	struct kc_loop_watch *vm_watch;
	uint32_t oom_call; /* the GetOOMEvent long poll in flight */
	struct kc_ctr *containers;
	unsigned creating; /* creates in flight */
	struct kc_vwatch *vwatch; /* watchable volumes (watch.h), NULL: none yet */
	struct kc_portfwd *portfwd; /* NULL: the pod has no network namespace */
};

/* pod.c: the container of that id, being deleted or not. */
struct kc_ctr *kc_pod_find(struct kc_pod *pod, const char *id);
/* pod.c: the one path for a lost sandbox (see pod.h's died). */
void kc_pod_died(struct kc_pod *pod);

/* pod.c: watches the watchable-bind storages of gs for container cid. */
int kc_pod_watch_volumes(struct kc_pod *pod, const char *cid, const struct kc_guest_storages *gs,
			 kc_error_t *err);

/* process.c */
void kc_proc_init(struct kc_ctr *c, struct kc_proc *p, const char *eid, bool terminal,
		  const char *in, const char *out, const char *errp);
void kc_proc_release(struct kc_proc *p);
void kc_ctr_free(struct kc_ctr *c);
/* A pump ended or WaitProcess answered: finish the process if both. */
void kc_proc_maybe_exited(struct kc_proc *p);
/* Ends every process still running with 255 (the sandbox is gone). */
void kc_proc_lost(struct kc_proc *p);

/* io.c */
void kc_io_init(struct kc_proc *p);
/* Opens the front end's ends of p's IO (fifos, file://, binary://). */
int kc_io_open(struct kc_proc *p, kc_error_t *err);
/* Starts passing data (the process runs). */
void kc_io_start(struct kc_proc *p);
void kc_io_close_stdin(struct kc_proc *p);
/* Both outputs reached their end (or there are none). */
bool kc_io_drained(const struct kc_proc *p);
/* Stops every pump and closes the fds. */
void kc_io_close(struct kc_proc *p);
/* io_binary.c: starts the binary:// logger of p's outputs (out.fd and
 * err.fd become its pipes); reaps it once they are closed. */
int kc_io_binary_open(struct kc_proc *p, const char *uri, kc_error_t *err);
void kc_io_binary_reap(struct kc_proc *p);

/* guest_net.c: configures the guest's NICs, routes and neighbours from
 * the sandbox's pod network, then calls done (with the first error); at
 * once when the VM has no NIC. */
void kc_guest_net_configure(struct kc_pod *pod, kc_agent_fn done, void *ctx);

/* portfwd.c: containerd's PortForward (docs/port-forward.md).  In the pod's
 * network namespace (none: *out is NULL and nothing is done), a listener
 * and the REDIRECT of loopback TCP to it; each connection relayed to the
 * same port on the guest's loopback through pod->agent.  Free it before
 * the agent goes: every relayed connection is reset and the redirect
 * removed. */
struct kc_portfwd;
int kc_portfwd_start(struct kc_pod *pod, struct kc_portfwd **out, kc_error_t *err);
void kc_portfwd_free(struct kc_portfwd *pf);

#endif
