/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's processes: lookup, lifecycle and exit.  A process is finished
 * once the agent's WaitProcess has answered and its outputs reached their
 * end, so that Wait, State and TaskExit come after the last byte of
 * output; TaskExit is sent exactly once, and always after the
 * TaskStart/TaskExecStarted of the same process.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "containerd_events.pb-c.h"
#include "kc-build-config.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "shim.h"
#include "task.h"
#include "shim_task.pb-c.h"
#include "ttrpc/transport.h"

/* ---- lookup ---- */

struct shim_container *shim_find_container(struct shim *s, const char *id)
{
	for (struct shim_container *c = s->containers; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

struct shim_proc *shim_find_proc(struct shim *s, struct kc_ttrpc_call *call, const char *id,
				   const char *eid)
{
	struct shim_container *c = shim_find_container(s, id);

	if (!c || c->deleting) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found", id);
		return NULL;
	}
	if (!eid || !eid[0])
		return &c->init;
	for (struct shim_proc *p = c->execs; p; p = p->next)
		if (strcmp(p->exec_id, eid) == 0)
			return p;
	kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` has no exec `%s`", id, eid);
	return NULL;
}

uint32_t shim_task_pid(struct shim *s)
{
	return s->sb ? (uint32_t)kc_sandbox_pid(s->sb) : 0;
}

void shim_fail(struct kc_ttrpc_call *call, kc_error_t *err)
{
	kc_warn("%s: %s", kc_ttrpc_call_method(call), (*err)->msg);
	kc_ttrpc_call_fail_error(call, err);
}

/* ---- processes ---- */

void shim_proc_init(struct shim_container *c, struct shim_proc *p, const char *eid,
		      bool terminal, const char *in, const char *out, const char *errp)
{
	p->c = c;
	p->exec_id = kc_xstrdup(eid);
	p->agent_eid = kc_xstrdup(eid[0] ? eid : c->id);
	p->status = ST_CREATED;
	p->terminal = terminal;
	p->stdin_path = kc_xstrdup(in);
	p->stdout_path = kc_xstrdup(out);
	p->stderr_path = kc_xstrdup(errp);
	shim_io_init(p);
}

void shim_waiters_answer(struct shim_proc *p)
{
	Containerd__Task__V2__WaitResponse r = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	ts.seconds = p->exited_at.tv_sec;
	ts.nanos = (int32_t)p->exited_at.tv_nsec;
	r.exit_status = p->exit_status;
	r.exited_at = &ts;
	while (p->waiters) {
		struct shim_waiter *w = p->waiters;

		p->waiters = w->next;
		kc_ttrpc_call_reply_msg(w->call, &r.base);
		free(w);
	}
}

void shim_proc_release(struct shim_proc *p)
{
	struct shim *s = p->c->shim;

	if (p->waiting)
		shim_agent_cancel(s, p->wait_call);
	shim_io_close(p);
	while (p->waiters) {
		struct shim_waiter *w = p->waiters;

		p->waiters = w->next;
		kc_ttrpc_call_fail(w->call, KC_TTRPC_NOT_FOUND, "process deleted");
		free(w);
	}
	free(p->exec_id);
	free(p->agent_eid);
	free(p->stdin_path);
	free(p->stdout_path);
	free(p->stderr_path);
	free(p->process_json);
}

void shim_container_free(struct shim_container *c)
{
	while (c->execs) {
		struct shim_proc *p = c->execs;

		c->execs = p->next;
		shim_proc_release(p);
		free(p);
	}
	shim_proc_release(&c->init);
	free(c->id);
	free(c->bundle);
	free(c);
}

void shim_container_unlink(struct shim *s, struct shim_container *c)
{
	for (struct shim_container **pp = &s->containers; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return;
		}
	}
}

void shim_proc_maybe_exited(struct shim_proc *p)
{
	struct shim *s = p->c->shim;
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	if (p->exited || !p->wait_answered || !shim_io_drained(p))
		return;
	p->exited = true;
	p->status = ST_STOPPED;
	p->exit_status = (uint32_t)p->agent_status;
	clock_gettime(CLOCK_REALTIME, &p->exited_at);
	shim_io_close(p);
	kc_info("process %s/%s exited with %u", p->c->id, p->exec_id, p->exit_status);
	ev.container_id = p->c->id;
	ev.id = p->exec_id[0] ? p->exec_id : p->c->id;
	ev.pid = shim_task_pid(s);
	ev.exit_status = p->exit_status;
	ts.seconds = p->exited_at.tv_sec;
	ts.nanos = (int32_t)p->exited_at.tv_nsec;
	ev.exited_at = &ts;
	shim_publish(s, "/tasks/exit", &ev.base);
	shim_waiters_answer(p);
}

static void on_wait(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct shim_proc *p = ctx;
	const Grpc__WaitProcessResponse *r = (const void *)m;

	(void)s;
	p->waiting = false;
	if (p->wait_answered)
		return;
	p->wait_answered = true;
	p->agent_status = r ? r->status : 255;
	if (err)
		kc_warn("WaitProcess %s/%s: %s", p->c->id, p->exec_id, (*err)->msg);
	shim_proc_maybe_exited(p);
}

void shim_proc_running(struct shim_proc *p)
{
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;

	p->status = ST_RUNNING;
	shim_io_start(p);
	req.container_id = p->c->id;
	req.exec_id = p->agent_eid;
	p->waiting = true;
	shim_agent_call_id(p->c->shim, "WaitProcess", &req.base,
			   &grpc__wait_process_response__descriptor, 0, on_wait, p, &p->wait_call);
}

void shim_sandbox_died(struct shim *s)
{
	cleanup_free char *why = NULL;

	if (s->sandbox_dead)
		return;
	/* QEMU goes too when virtiofsd did: a guest without its file system
	 * would hang every process of it. */
	why = s->sb ? kc_sandbox_lost(s->sb) : kc_xstrdup("no sandbox");
	kc_warn("the sandbox is lost (%s): its VM is stopped and every process exits with 255",
		why);
	s->sandbox_dead = true;
	if (s->vm_watch)
		kc_loop_watch_remove(s->vm_watch);
	s->vm_watch = NULL;
	if (s->agent)
		kc_ttrpc_client_free(s->agent);
	s->agent = NULL;
	/* As Kata: every process still running exits with 255. */
	for (struct shim_container *c = s->containers; c; c = c->next) {
		struct shim_proc *p = &c->init;

		for (;;) {
			if (p->status == ST_RUNNING || p->status == ST_PAUSED) {
				if (!p->wait_answered) {
					p->wait_answered = true;
					p->agent_status = 255;
				}
				shim_io_close(p);
				shim_proc_maybe_exited(p);
			}
			p = p == &c->init ? c->execs : p->next;
			if (!p)
				break;
		}
	}
}
