/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd.task.v2.Task: every method, on the shim's one loop.
 *
 * A method that needs the guest sends its agent call and answers
 * containerd from the callback; containerd's other calls (Wait, State,
 * Connect...) are served meanwhile.  The first Create of a shim boots the
 * sandbox; that one step blocks the loop (nothing else is in flight for
 * the pod then).
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
#include "metrics.h"
#include "shim.h"
#include "task.h"
#include "shim_task.pb-c.h"
#include "ttrpc/transport.h"

/* ---- Start ---- */

struct call_ctx {
	struct kc_ttrpc_call *call;
	struct shim_proc *p;
};

static struct call_ctx *cctx(struct kc_ttrpc_call *call, struct shim_proc *p)
{
	struct call_ctx *x = kc_xzalloc(sizeof(*x));

	x->call = call;
	x->p = p;
	return x;
}

static void on_started(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct call_ctx *x = ctx;
	struct shim_proc *p = x->p;
	Containerd__Task__V2__StartResponse r = CONTAINERD__TASK__V2__START_RESPONSE__INIT;

	(void)m;
	if (err) {
		if (p->exec_id[0])
			shim_io_close(p);
		shim_fail(x->call, err);
		free(x);
		return;
	}
	if (p->exec_id[0]) {
		Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;

		ev.container_id = p->c->id;
		ev.exec_id = p->exec_id;
		ev.pid = shim_task_pid(s);
		shim_publish(s, "/tasks/exec-started", &ev.base);
	} else {
		Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;

		ev.container_id = p->c->id;
		ev.pid = shim_task_pid(s);
		shim_publish(s, "/tasks/start", &ev.base);
	}
	r.pid = shim_task_pid(s);
	kc_ttrpc_call_reply_msg(x->call, &r.base);
	free(x);
	shim_proc_running(p);
}

static void h_start(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__StartRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = shim_find_proc(s, call, req->id, req->exec_id);

	if (!p)
		return;
	if (p->status != ST_CREATED) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "process `%s` of `%s` was already started", p->exec_id, req->id);
		return;
	}
	if (p->exec_id[0]) {
		Grpc__ExecProcessRequest er = GRPC__EXEC_PROCESS_REQUEST__INIT;
		cleanup_error kc_error_t err = NULL;

		/* ctr opens an exec's fifos after Exec: they are opened here. */
		if (shim_io_open(p, &err) < 0) {
			shim_fail(call, &err);
			return;
		}

		er.container_id = p->c->id;
		er.exec_id = p->agent_eid;
		er.process_json.data = (uint8_t *)p->process_json;
		er.process_json.len = strlen(p->process_json);
		shim_agent_call(s, "ExecProcess", &er.base, NULL, 60 * NS_SEC, on_started,
				cctx(call, p));
	} else {
		Grpc__StartContainerRequest sr = GRPC__START_CONTAINER_REQUEST__INIT;

		sr.container_id = p->c->id;
		shim_agent_call(s, "StartContainer", &sr.base, NULL, 60 * NS_SEC, on_started,
				cctx(call, p));
	}
}

/* ---- Exec ---- */

static void h_exec(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__ExecProcessRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_container *c = shim_find_container(s, req->id);
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *proc = NULL;
	Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	struct shim_proc *p;

	if (!c || c->deleting) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found", req->id);
		return;
	}
	if (kc_check_id("exec id", req->exec_id, &err) < 0) {
		shim_fail(call, &err);
		return;
	}
	for (p = c->execs; p; p = p->next)
		if (strcmp(p->exec_id, req->exec_id) == 0) {
			kc_ttrpc_call_fail(call, KC_TTRPC_ALREADY_EXISTS, "exec `%s` already exists",
					   req->exec_id);
			return;
		}
	if (c->init.status != ST_RUNNING) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION, "container `%s` is not running",
				   req->id);
		return;
	}
	if (!req->spec || kc_json_parse((const char *)req->spec->value.data, req->spec->value.len,
					"exec process spec", &proc, &err) < 0 ||
	    !json_is_object(proc)) {
		if (!err)
			kc_error_set(&err, EINVAL, "exec `%s`: the process spec is missing",
				     req->exec_id);
		err->status = EINVAL;
		shim_fail(call, &err);
		return;
	}
	json_object_del(proc, "apparmorProfile");
	json_object_del(proc, "selinuxLabel");
	p = kc_xzalloc(sizeof(*p));
	shim_proc_init(c, p, req->exec_id, req->terminal, req->stdin, req->stdout, req->stderr);
	p->process_json = kc_json_dump(proc, 1);
	p->next = c->execs;
	c->execs = p;
	ev.container_id = c->id;
	ev.exec_id = p->exec_id;
	shim_publish(s, "/tasks/exec-added", &ev.base);
	kc_ttrpc_call_reply_msg(call, NULL);
}

/* ---- Wait, State, Kill ---- */

static void h_wait(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__WaitRequest *req = (const void *)m;
	struct shim_proc *p = shim_find_proc(data, call, req->id, req->exec_id);
	struct shim_waiter *w;

	if (!p)
		return;
	w = kc_xzalloc(sizeof(*w));
	w->call = call;
	w->next = p->waiters;
	p->waiters = w;
	if (p->exited)
		shim_waiters_answer(p);
}

static void h_state(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__StateRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = shim_find_proc(s, call, req->id, req->exec_id);
	Containerd__Task__V2__StateResponse r = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	if (!p)
		return;
	r.id = p->c->id;
	r.bundle = p->c->bundle;
	r.pid = shim_task_pid(s);
	r.status = (Containerd__V1__Types__Status)p->status;
	r.stdin = p->stdin_path;
	r.stdout = p->stdout_path;
	r.stderr = p->stderr_path;
	r.terminal = p->terminal;
	r.exec_id = p->exec_id;
	if (p->exited) {
		r.exit_status = p->exit_status;
		ts.seconds = p->exited_at.tv_sec;
		ts.nanos = (int32_t)p->exited_at.tv_nsec;
		r.exited_at = &ts;
	}
	kc_ttrpc_call_reply_msg(call, &r.base);
}

static void on_empty_reply(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_ttrpc_call *call = ctx;

	(void)s;
	(void)m;
	if (err)
		shim_fail(call, err);
	else
		kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_kill(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__KillRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = shim_find_proc(s, call, req->id, req->exec_id);
	Grpc__SignalProcessRequest sr = GRPC__SIGNAL_PROCESS_REQUEST__INIT;

	if (!p)
		return;
	if (req->signal == 0 || req->signal >= NSIG) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "invalid signal %u", req->signal);
		return;
	}
	if (p->exited || p->wait_answered) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "process `%s` already finished",
				   p->exec_id[0] ? p->exec_id : p->c->id);
		return;
	}
	if (p->status == ST_CREATED) {
		/* Never started: it ends as if the signal had killed it. */
		p->wait_answered = true;
		p->agent_status = 128 + (int)req->signal;
		p->out.done = p->err.done = true;
		shim_proc_maybe_exited(p);
		kc_ttrpc_call_reply_msg(call, NULL);
		return;
	}
	sr.container_id = p->c->id;
	/* Kata: an empty exec id signals every process of the container. */
	sr.exec_id = req->all && !p->exec_id[0] ? "" : p->agent_eid;
	sr.signal = req->signal;
	shim_agent_call(s, "SignalProcess", &sr.base, NULL, 10 * NS_SEC, on_empty_reply, call);
}

/* ---- Delete ---- */

static void delete_reply(struct kc_ttrpc_call *call, struct shim *s, struct shim_proc *p)
{
	Containerd__Task__V2__DeleteResponse r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	r.pid = shim_task_pid(s);
	r.exit_status = p->exit_status;
	ts.seconds = p->exited_at.tv_sec;
	ts.nanos = (int32_t)p->exited_at.tv_nsec;
	r.exited_at = &ts;
	kc_ttrpc_call_reply_msg(call, &r.base);
}

static void on_removed(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct call_ctx *x = ctx;
	struct shim_container *c = x->p->c;
	cleanup_error kc_error_t cerr = NULL;
	Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct kc_container_env env;

	(void)m;
	if (err)
		kc_warn("RemoveContainer %s: %s", c->id, (*err)->msg);
	shim_io_close(&c->init);
	if (s->sb) {
		kc_sandbox_container_env(s->sb, &env);
		if (kc_container_cleanup(&env, c->id, c->bundle, &cerr) < 0) {
			shim_fail(x->call, &cerr);
			c->deleting = false;
			free(x);
			return;
		}
	}
	ev.container_id = c->id;
	ev.id = c->id;
	ev.pid = shim_task_pid(s);
	ev.exit_status = c->init.exit_status;
	ts.seconds = c->init.exited_at.tv_sec;
	ts.nanos = (int32_t)c->init.exited_at.tv_nsec;
	ev.exited_at = &ts;
	shim_publish(s, "/tasks/delete", &ev.base);
	delete_reply(x->call, s, &c->init);
	shim_container_unlink(s, c);
	shim_container_free(c);
	free(x);
}

static void h_delete(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__DeleteRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = shim_find_proc(s, call, req->id, req->exec_id);
	Grpc__RemoveContainerRequest rr = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	if (!p)
		return;
	if (p->status == ST_RUNNING || p->status == ST_PAUSED) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "process `%s` is still running", p->exec_id[0] ? p->exec_id : req->id);
		return;
	}
	if (p->exec_id[0]) {
		struct shim_container *c = p->c;

		delete_reply(call, s, p);
		for (struct shim_proc **pp = &c->execs; *pp; pp = &(*pp)->next) {
			if (*pp == p) {
				*pp = p->next;
				break;
			}
		}
		shim_proc_release(p);
		free(p);
		return;
	}
	p->c->deleting = true;
	rr.container_id = p->c->id;
	shim_agent_call(s, "RemoveContainer", &rr.base, NULL, 30 * NS_SEC, on_removed,
			cctx(call, p));
}

/* ---- Pids, Pause, Resume, ResizePty, CloseIO, Update, Stats ---- */

static void h_pids(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__PidsRequest *req = (const void *)m;
	struct shim *s = data;
	Containerd__Task__V2__PidsResponse r = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	Containerd__V1__Types__ProcessInfo pi = CONTAINERD__V1__TYPES__PROCESS_INFO__INIT;
	Containerd__V1__Types__ProcessInfo *pis[1] = { &pi };

	if (!shim_find_proc(s, call, req->id, ""))
		return;
	/* As Kata: the processes of a container are behind one host pid. */
	pi.pid = shim_task_pid(s);
	r.n_processes = 1;
	r.processes = pis;
	kc_ttrpc_call_reply_msg(call, &r.base);
}

struct pause_ctx {
	struct kc_ttrpc_call *call;
	struct shim_container *c;
	bool pause;
};

static void on_paused(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct pause_ctx *x = ctx;

	(void)m;
	if (err) {
		shim_fail(x->call, err);
	} else if (x->pause) {
		Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;

		x->c->init.status = ST_PAUSED;
		ev.container_id = x->c->id;
		shim_publish(s, "/tasks/paused", &ev.base);
		kc_ttrpc_call_reply_msg(x->call, NULL);
	} else {
		Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;

		x->c->init.status = ST_RUNNING;
		ev.container_id = x->c->id;
		shim_publish(s, "/tasks/resumed", &ev.base);
		kc_ttrpc_call_reply_msg(x->call, NULL);
	}
	free(x);
}

static void pause_resume(struct kc_ttrpc_call *call, struct shim *s, const char *id, bool pause)
{
	struct shim_proc *p = shim_find_proc(s, call, id, "");
	Grpc__PauseContainerRequest pr = GRPC__PAUSE_CONTAINER_REQUEST__INIT;
	Grpc__ResumeContainerRequest rr = GRPC__RESUME_CONTAINER_REQUEST__INIT;
	struct pause_ctx *x;

	if (!p)
		return;
	if (p->status != (pause ? ST_RUNNING : ST_PAUSED)) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION, "container `%s` is not %s", id,
				   pause ? "running" : "paused");
		return;
	}
	x = kc_xzalloc(sizeof(*x));
	*x = (struct pause_ctx){ call, p->c, pause };
	if (pause) {
		pr.container_id = p->c->id;
		shim_agent_call(s, "PauseContainer", &pr.base, NULL, 30 * NS_SEC, on_paused, x);
	} else {
		rr.container_id = p->c->id;
		shim_agent_call(s, "ResumeContainer", &rr.base, NULL, 30 * NS_SEC, on_paused, x);
	}
}

static void h_pause(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	pause_resume(call, data, ((const Containerd__Task__V2__PauseRequest *)m)->id, true);
}

static void h_resume(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	pause_resume(call, data, ((const Containerd__Task__V2__ResumeRequest *)m)->id, false);
}

static void h_resize_pty(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__ResizePtyRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = shim_find_proc(s, call, req->id, req->exec_id);
	Grpc__TtyWinResizeRequest tr = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;

	if (!p)
		return;
	/* ctr under script(1) sends 0x0: nothing to tell the guest. */
	if ((req->width == 0 && req->height == 0) || p->status != ST_RUNNING) {
		kc_ttrpc_call_reply_msg(call, NULL);
		return;
	}
	tr.container_id = p->c->id;
	tr.exec_id = p->agent_eid;
	tr.row = req->height;
	tr.column = req->width;
	shim_agent_call(s, "TtyWinResize", &tr.base, NULL, 10 * NS_SEC, on_empty_reply, call);
}

static void h_close_io(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__CloseIORequest *req = (const void *)m;
	struct shim_proc *p = shim_find_proc(data, call, req->id, req->exec_id);

	if (!p)
		return;
	if (req->stdin)
		shim_io_close_stdin(p);
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_update(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__UpdateTaskRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = shim_find_proc(s, call, req->id, "");
	Grpc__UpdateContainerRequest ur = GRPC__UPDATE_CONTAINER_REQUEST__INIT;
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *res = NULL;

	if (!p)
		return;
	/* containerd sends the OCI LinuxResources as JSON in the Any. */
	if (!req->resources ||
	    kc_json_parse((const char *)req->resources->value.data, req->resources->value.len,
			  "resources", &res, &err) < 0) {
		if (!err)
			kc_error_set(&err, EINVAL, "update `%s`: no resources", req->id);
		err->status = EINVAL;
		shim_fail(call, &err);
		return;
	}
	ur.container_id = p->c->id;
	ur.resources_json = req->resources->value;
	shim_agent_call(s, "UpdateContainer", &ur.base, NULL, 30 * NS_SEC, on_empty_reply, call);
}

struct stats_ctx {
	struct kc_ttrpc_call *call;
	char *id;
};

static void on_stats(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct stats_ctx *x = ctx;
	Containerd__Task__V2__StatsResponse r = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;

	(void)s;
	if (err) {
		kc_error_wrap(err, "stats of container `%s`", x->id);
		shim_fail(x->call, err);
	} else {
		shim_metrics_pack((const Grpc__StatsContainerResponse *)m, &any);
		r.stats = &any;
		kc_ttrpc_call_reply_msg(x->call, &r.base);
		free(any.value.data);
	}
	free(x->id);
	free(x);
}

static void h_stats(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__StatsRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = shim_find_proc(s, call, req->id, "");
	Grpc__StatsContainerRequest sr = GRPC__STATS_CONTAINER_REQUEST__INIT;
	struct stats_ctx *x;

	if (!p)
		return;
	x = kc_xzalloc(sizeof(*x));
	x->call = call;
	x->id = kc_xstrdup(p->c->id);
	sr.container_id = p->c->id;
	shim_agent_call(s, "StatsContainer", &sr.base, &grpc__stats_container_response__descriptor,
			30 * NS_SEC, on_stats, x);
}

/* ---- Connect, Shutdown, Checkpoint ---- */

static void h_connect(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	struct shim *s = data;
	Containerd__Task__V2__ConnectResponse r = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

	(void)m;
	r.shim_pid = (uint32_t)getpid();
	r.task_pid = shim_task_pid(s);
	r.version = KC_VERSION;
	kc_ttrpc_call_reply_msg(call, &r.base);
}

static void exit_now(void *data)
{
	kc_loop_quit(((struct shim *)data)->loop);
}

static void exit_check(void *data)
{
	struct shim *s = data;

	/* Leave once the last events went out (bounded by the timer). */
	if (s->ev_head && kc_monotonic_ns() < s->exit_deadline) {
		kc_loop_timer_start(s->loop, &s->exit_timer, kc_loop_now(s->loop) + 10000000ull);
		return;
	}
	exit_now(s);
}

static void h_shutdown(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	struct shim *s = data;

	(void)m;
	if (s->containers) {
		/* As the runc shim: other tasks still live here. */
		kc_ttrpc_call_reply_msg(call, NULL);
		return;
	}
	/* The answer goes first: containerd waits for it (Kata's shim does
	 * not even answer, it exits), not for the VM's end.  The VM, its
	 * files and then the host cgroup go once the loop is over (serve.c);
	 * the `delete` that containerd runs when the connection closes leaves
	 * a live shim to clean up after itself. */
	kc_ttrpc_call_reply_msg(call, NULL);
	shim_exit(s);
}

void shim_exit(struct shim *s)
{
	if (s->exiting)
		return;
	if (s->sb && !s->leave_cgroup)
		s->leave_cgroup = kc_sandbox_take_cgroup(s->sb);
	s->exiting = true;
	s->exit_deadline = kc_monotonic_ns() + 2 * NS_SEC;
	kc_loop_timer_init(&s->exit_timer, exit_check, s);
	kc_loop_timer_start(s->loop, &s->exit_timer, kc_loop_now(s->loop) + 10000000ull);
}

static void h_checkpoint(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	(void)m;
	(void)data;
	kc_ttrpc_call_fail(call, KC_TTRPC_UNIMPLEMENTED, "checkpoint is not supported by kata-c");
}

static const struct {
	const char *name;
	kc_ttrpc_msg_handler_fn fn;
} handlers[] = {
	{ "State", h_state },	    { "Create", shim_h_create },	{ "Start", h_start },
	{ "Delete", h_delete },	    { "Pids", h_pids },		{ "Pause", h_pause },
	{ "Resume", h_resume },	    { "Checkpoint", h_checkpoint }, { "Kill", h_kill },
	{ "Exec", h_exec },	    { "ResizePty", h_resize_pty }, { "CloseIO", h_close_io },
	{ "Update", h_update },	    { "Wait", h_wait },		{ "Stats", h_stats },
	{ "Connect", h_connect },   { "Shutdown", h_shutdown },
};

int shim_task_register(struct shim *s, kc_error_t *err)
{
	const ProtobufCServiceDescriptor *desc = &containerd__task__v2__task__descriptor;
	cleanup_free kc_ttrpc_msg_handler_fn *fns = kc_xzalloc(desc->n_methods * sizeof(*fns));

	for (unsigned i = 0; i < desc->n_methods; i++)
		for (size_t j = 0; j < KC_ARRAY_SIZE(handlers); j++)
			if (strcmp(desc->methods[i].name, handlers[j].name) == 0)
				fns[i] = handlers[j].fn;
	return kc_ttrpc_server_register_service(s->srv, desc, fns, s, err);
}

void shim_task_free(struct shim *s)
{
	while (s->containers) {
		struct shim_container *c = s->containers;

		s->containers = c->next;
		shim_container_free(c);
	}
	shim_sandbox_teardown(s);
}
