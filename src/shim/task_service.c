/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd.task.v2.Task: every method, on the shim's one loop, as calls
 * into the pod's lifecycle library (sandbox/pod.h).
 *
 * A method decodes and checks containerd's request, calls the library and
 * answers containerd from the library's callback; containerd's other calls
 * (Wait, State, Connect...) are served meanwhile.  What the library
 * reports on its own (a process exited, OOM) becomes containerd's events.
 * The first Create of a shim boots the sandbox; that one step blocks the
 * loop (nothing else is in flight for the pod then).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "containerd_events.pb-c.h"
#include "kc-build-config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "metrics.h"
#include "shim.h"
#include "shim_task.pb-c.h"

void shim_fail(struct kc_ttrpc_call *call, kc_error_t *err)
{
	kc_warn("%s: %s", kc_ttrpc_call_method(call), (*err)->msg);
	kc_ttrpc_call_fail_error(call, err);
}

/* The pid containerd sees for every process: the VMM's. */
static uint32_t task_pid(struct shim *s)
{
	return (uint32_t)kc_pod_pid(s->pod);
}

static Containerd__V1__Types__Status status_of(enum kc_proc_status st)
{
	switch (st) {
	case KC_PROC_CREATED:
		return CONTAINERD__V1__TYPES__STATUS__CREATED;
	case KC_PROC_RUNNING:
		return CONTAINERD__V1__TYPES__STATUS__RUNNING;
	case KC_PROC_STOPPED:
		return CONTAINERD__V1__TYPES__STATUS__STOPPED;
	case KC_PROC_PAUSED:
		return CONTAINERD__V1__TYPES__STATUS__PAUSED;
	}
	return CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
}

static void set_ts(Google__Protobuf__Timestamp *ts, const struct timespec *t)
{
	ts->seconds = t->tv_sec;
	ts->nanos = (int32_t)t->tv_nsec;
}

/* The process (init for an empty eid), or fails call with NOT_FOUND. */
static struct kc_proc *find_proc(struct shim *s, struct kc_ttrpc_call *call, const char *id,
				 const char *eid)
{
	struct kc_ctr *c = kc_pod_container(s->pod, id);
	struct kc_proc *p;

	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found", id);
		return NULL;
	}
	p = kc_ctr_proc(c, eid);
	if (!p)
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` has no exec `%s`", id,
				   eid);
	return p;
}

struct call_ctx {
	struct kc_ttrpc_call *call;
	struct shim *s;
	struct kc_proc *p;
};

static struct call_ctx *cctx(struct kc_ttrpc_call *call, struct shim *s, struct kc_proc *p)
{
	struct call_ctx *x = kc_xzalloc(sizeof(*x));

	*x = (struct call_ctx){ call, s, p };
	return x;
}

static void on_empty_reply(void *ctx, kc_error_t *err)
{
	struct kc_ttrpc_call *call = ctx;

	if (err)
		shim_fail(call, err);
	else
		kc_ttrpc_call_reply_msg(call, NULL);
}

/* ---- the library's own events ---- */

static void on_exited(void *data, struct kc_proc *p)
{
	struct shim *s = data;
	const struct kc_proc_info *i = kc_proc_info(p);
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	ev.container_id = (char *)i->container_id;
	ev.id = (char *)(i->exec_id[0] ? i->exec_id : i->container_id);
	ev.pid = task_pid(s);
	ev.exit_status = i->exit_status;
	set_ts(&ts, &i->exited_at);
	ev.exited_at = &ts;
	shim_publish(s, "/tasks/exit", &ev.base);
}

static void on_oom(void *data, const char *id)
{
	Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;

	ev.container_id = (char *)id;
	shim_publish(data, "/tasks/oom", &ev.base);
}

/* ---- Create ---- */

struct create_ctx {
	struct kc_ttrpc_call *call;
	struct shim *s;
	Containerd__Task__V2__CreateTaskRequest *req; /* a copy, for TaskCreate */
};

static void create_ctx_free(struct create_ctx *x)
{
	protobuf_c_message_free_unpacked(&x->req->base, NULL);
	free(x);
}

/*
 * A shim that holds nothing 2 s after a failed Create ends itself, as the
 * Shutdown that containerd sends at once after a failed Create would end
 * it.  That Shutdown never comes when containerd went away while the
 * Create ran (stopped, or restarted: the new one reconnects to the bundle
 * but never shows or deletes a task that is not there), and the shim
 * would stay, with nothing in it, for good.
 */
static void orphan_check(void *data)
{
	struct shim *s = data;

	if (!kc_pod_idle(s->pod) || s->exiting)
		return;
	kc_warn("the shim holds nothing since a Create failed: it exits");
	shim_exit(s);
}

static void on_created(void *ctx, kc_error_t *err)
{
	struct create_ctx *x = ctx;
	struct shim *s = x->s;
	Containerd__Task__V2__CreateTaskResponse r = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	Containerd__Events__TaskIO tio = CONTAINERD__EVENTS__TASK_IO__INIT;
	const struct kc_proc_info *i;

	if (err) {
		shim_fail(x->call, err);
		create_ctx_free(x);
		if (kc_pod_idle(s->pod) && !s->exiting) {
			if (!s->orphan_timer.fn) /* the first time; later, re-armed */
				kc_loop_timer_init(&s->orphan_timer, orphan_check, s);
			kc_loop_timer_start(s->loop, &s->orphan_timer,
					    kc_loop_now(s->loop) + 2 * NS_SEC);
		}
		return;
	}
	if (!s->mgmt) {
		cleanup_error kc_error_t e = NULL;

		/* The sandbox is up: what is not there is not worth failing
		 * the pod for. */
		if (shim_mgmt_start(s, &e) < 0)
			kc_log_error_free(KC_LOG_WARNING, &e, "sandbox %s",
					  kc_pod_sandbox_id(s->pod));
	}
	i = kc_proc_info(kc_ctr_proc(kc_pod_container(s->pod, x->req->id), ""));
	ev.container_id = x->req->id;
	ev.bundle = x->req->bundle;
	ev.n_rootfs = x->req->n_rootfs;
	ev.rootfs = x->req->rootfs;
	tio.stdin = (char *)i->stdin_path;
	tio.stdout = (char *)i->stdout_path;
	tio.stderr = (char *)i->stderr_path;
	tio.terminal = i->terminal;
	ev.io = &tio;
	ev.pid = task_pid(s);
	shim_publish(s, "/tasks/create", &ev.base);
	r.pid = task_pid(s);
	kc_ttrpc_call_reply_msg(x->call, &r.base);
	create_ctx_free(x);
}

static void h_create(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__CreateTaskRequest *req = (const void *)m;
	struct shim *s = data;
	cleanup_error kc_error_t err = NULL;
	cleanup_free struct kc_rootfs_mount *mounts = NULL;
	struct kc_ctr_opts o = { 0 };
	struct create_ctx *x;
	size_t len;
	uint8_t *buf;

	if (req->checkpoint[0]) {
		kc_ttrpc_call_fail(call, KC_TTRPC_UNIMPLEMENTED,
				   "checkpoint restore is not supported");
		return;
	}
	mounts = kc_xzalloc((req->n_rootfs + 1) * sizeof(*mounts));
	for (size_t i = 0; i < req->n_rootfs; i++) {
		mounts[i].type = req->rootfs[i]->type;
		mounts[i].source = req->rootfs[i]->source;
		mounts[i].target = req->rootfs[i]->target;
		mounts[i].options = req->rootfs[i]->options;
		mounts[i].n_options = req->rootfs[i]->n_options;
	}
	o.id = req->id;
	o.bundle = req->bundle;
	o.rootfs = mounts;
	o.n_rootfs = req->n_rootfs;
	o.terminal = req->terminal;
	o.stdin_path = req->stdin;
	o.stdout_path = req->stdout;
	o.stderr_path = req->stderr;
	x = kc_xzalloc(sizeof(*x));
	x->call = call;
	x->s = s;
	len = protobuf_c_message_get_packed_size(m);
	buf = kc_xmalloc(len + 1);
	protobuf_c_message_pack(m, buf);
	x->req = containerd__task__v2__create_task_request__unpack(NULL, len, buf);
	free(buf);
	if (kc_ctr_create(s->pod, &o, on_created, x, &err) < 0) {
		create_ctx_free(x);
		shim_fail(call, &err);
	}
}

/* ---- Start, Exec ---- */

static void on_started(void *ctx, kc_error_t *err)
{
	struct call_ctx *x = ctx;
	const struct kc_proc_info *i = kc_proc_info(x->p);
	Containerd__Task__V2__StartResponse r = CONTAINERD__TASK__V2__START_RESPONSE__INIT;

	if (err) {
		shim_fail(x->call, err);
		free(x);
		return;
	}
	if (i->exec_id[0]) {
		Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;

		ev.container_id = (char *)i->container_id;
		ev.exec_id = (char *)i->exec_id;
		ev.pid = task_pid(x->s);
		shim_publish(x->s, "/tasks/exec-started", &ev.base);
	} else {
		Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;

		ev.container_id = (char *)i->container_id;
		ev.pid = task_pid(x->s);
		shim_publish(x->s, "/tasks/start", &ev.base);
	}
	r.pid = task_pid(x->s);
	kc_ttrpc_call_reply_msg(x->call, &r.base);
	free(x);
}

static void h_start(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__StartRequest *req = (const void *)m;
	struct shim *s = data;
	struct kc_proc *p = find_proc(s, call, req->id, req->exec_id);

	if (p)
		kc_proc_start(p, on_started, cctx(call, s, p));
}

static void h_exec(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__ExecProcessRequest *req = (const void *)m;
	struct shim *s = data;
	struct kc_ctr *c = kc_pod_container(s->pod, req->id);
	cleanup_error kc_error_t err = NULL;
	Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	struct kc_proc *p;

	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found", req->id);
		return;
	}
	if (kc_ctr_exec(c, req->exec_id, req->spec ? req->spec->value.data : NULL,
			req->spec ? req->spec->value.len : 0, req->terminal, req->stdin,
			req->stdout, req->stderr, &p, &err) < 0) {
		shim_fail(call, &err);
		return;
	}
	ev.container_id = req->id;
	ev.exec_id = req->exec_id;
	shim_publish(s, "/tasks/exec-added", &ev.base);
	kc_ttrpc_call_reply_msg(call, NULL);
}

/* ---- Wait, State, Kill ---- */

static void on_waited(void *ctx, kc_error_t *err)
{
	struct call_ctx *x = ctx;
	Containerd__Task__V2__WaitResponse r = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	if (err) {
		/* The process was deleted first: it is gone. */
		kc_ttrpc_call_fail_error(x->call, err);
	} else {
		r.exit_status = kc_proc_info(x->p)->exit_status;
		set_ts(&ts, &kc_proc_info(x->p)->exited_at);
		r.exited_at = &ts;
		kc_ttrpc_call_reply_msg(x->call, &r.base);
	}
	free(x);
}

static void h_wait(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__WaitRequest *req = (const void *)m;
	struct kc_proc *p = find_proc(data, call, req->id, req->exec_id);

	if (p)
		kc_proc_wait(p, on_waited, cctx(call, data, p));
}

static void h_state(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__StateRequest *req = (const void *)m;
	struct shim *s = data;
	struct kc_proc *p = find_proc(s, call, req->id, req->exec_id);
	Containerd__Task__V2__StateResponse r = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	const struct kc_proc_info *i;

	if (!p)
		return;
	i = kc_proc_info(p);
	r.id = (char *)i->container_id;
	r.bundle = (char *)i->bundle;
	r.pid = task_pid(s);
	r.status = status_of(i->status);
	r.stdin = (char *)i->stdin_path;
	r.stdout = (char *)i->stdout_path;
	r.stderr = (char *)i->stderr_path;
	r.terminal = i->terminal;
	r.exec_id = (char *)i->exec_id;
	if (i->exited) {
		r.exit_status = i->exit_status;
		set_ts(&ts, &i->exited_at);
		r.exited_at = &ts;
	}
	kc_ttrpc_call_reply_msg(call, &r.base);
}

static void h_kill(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__KillRequest *req = (const void *)m;
	struct kc_proc *p = find_proc(data, call, req->id, req->exec_id);

	if (p)
		kc_proc_kill(p, req->signal, req->all, on_empty_reply, call);
}

/* ---- Delete ---- */

static void delete_reply(struct kc_ttrpc_call *call, struct shim *s, uint32_t status,
			 const struct timespec *at)
{
	Containerd__Task__V2__DeleteResponse r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	r.pid = task_pid(s);
	r.exit_status = status;
	set_ts(&ts, at);
	r.exited_at = &ts;
	kc_ttrpc_call_reply_msg(call, &r.base);
}

static void on_deleted(void *ctx, kc_error_t *err)
{
	struct call_ctx *x = ctx;
	const struct kc_proc_info *i = kc_proc_info(x->p);
	Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	if (err) {
		shim_fail(x->call, err);
		free(x);
		return;
	}
	ev.container_id = (char *)i->container_id;
	ev.id = (char *)i->container_id;
	ev.pid = task_pid(x->s);
	ev.exit_status = i->exit_status;
	set_ts(&ts, &i->exited_at);
	ev.exited_at = &ts;
	shim_publish(x->s, "/tasks/delete", &ev.base);
	delete_reply(x->call, x->s, i->exit_status, &i->exited_at);
	free(x);
}

static void h_delete(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__DeleteRequest *req = (const void *)m;
	struct shim *s = data;
	struct kc_proc *p = find_proc(s, call, req->id, req->exec_id);
	cleanup_error kc_error_t err = NULL;
	struct timespec at;
	uint32_t status;

	if (!p)
		return;
	if (!kc_proc_info(p)->exec_id[0]) {
		kc_ctr_delete(kc_pod_container(s->pod, req->id), on_deleted, cctx(call, s, p));
		return;
	}
	status = kc_proc_info(p)->exit_status;
	at = kc_proc_info(p)->exited_at;
	if (kc_proc_delete(p, &err) < 0) {
		shim_fail(call, &err);
		return;
	}
	delete_reply(call, s, status, &at);
}

/* ---- Pids, Pause, Resume, ResizePty, CloseIO, Update, Stats ---- */

static void h_pids(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__PidsRequest *req = (const void *)m;
	struct shim *s = data;
	Containerd__Task__V2__PidsResponse r = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	Containerd__V1__Types__ProcessInfo pi = CONTAINERD__V1__TYPES__PROCESS_INFO__INIT;
	Containerd__V1__Types__ProcessInfo *pis[1] = { &pi };

	if (!find_proc(s, call, req->id, ""))
		return;
	/* As Kata: the processes of a container are behind one host pid. */
	pi.pid = task_pid(s);
	r.n_processes = 1;
	r.processes = pis;
	kc_ttrpc_call_reply_msg(call, &r.base);
}

static void on_paused(void *ctx, kc_error_t *err)
{
	struct call_ctx *x = ctx;
	const struct kc_proc_info *i = kc_proc_info(x->p);

	if (err) {
		shim_fail(x->call, err);
	} else if (i->status == KC_PROC_PAUSED) {
		Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;

		ev.container_id = (char *)i->container_id;
		shim_publish(x->s, "/tasks/paused", &ev.base);
		kc_ttrpc_call_reply_msg(x->call, NULL);
	} else {
		Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;

		ev.container_id = (char *)i->container_id;
		shim_publish(x->s, "/tasks/resumed", &ev.base);
		kc_ttrpc_call_reply_msg(x->call, NULL);
	}
	free(x);
}

static void pause_resume(struct kc_ttrpc_call *call, struct shim *s, const char *id, bool pause)
{
	struct kc_proc *p = find_proc(s, call, id, "");

	if (p)
		kc_ctr_pause(kc_pod_container(s->pod, id), pause, on_paused, cctx(call, s, p));
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
	struct kc_proc *p = find_proc(data, call, req->id, req->exec_id);

	if (p)
		kc_proc_resize_pty(p, req->width, req->height, on_empty_reply, call);
}

static void h_close_io(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__CloseIORequest *req = (const void *)m;
	struct kc_proc *p = find_proc(data, call, req->id, req->exec_id);

	if (!p)
		return;
	if (req->stdin)
		kc_proc_close_stdin(p);
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_update(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__UpdateTaskRequest *req = (const void *)m;
	struct shim *s = data;

	if (!find_proc(s, call, req->id, ""))
		return;
	/* containerd sends the OCI LinuxResources as JSON in the Any. */
	if (!req->resources) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "update `%s`: no resources",
				   req->id);
		return;
	}
	kc_ctr_update(kc_pod_container(s->pod, req->id), req->resources->value.data,
		      req->resources->value.len, on_empty_reply, call);
}

struct stats_ctx {
	struct kc_ttrpc_call *call;
	char *id;
};

static void on_stats(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct stats_ctx *x = ctx;
	Containerd__Task__V2__StatsResponse r = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;

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
	struct stats_ctx *x;

	if (!find_proc(s, call, req->id, ""))
		return;
	x = kc_xzalloc(sizeof(*x));
	x->call = call;
	x->id = kc_xstrdup(req->id);
	kc_ctr_stats(kc_pod_container(s->pod, req->id), on_stats, x);
}

/* ---- Connect, Shutdown, Checkpoint ---- */

static void h_connect(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	struct shim *s = data;
	Containerd__Task__V2__ConnectResponse r = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

	(void)m;
	r.shim_pid = (uint32_t)getpid();
	r.task_pid = task_pid(s);
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
	if (kc_pod_has_containers(s->pod)) {
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
	if (!s->leave_cgroup)
		s->leave_cgroup = kc_pod_take_cgroup(s->pod);
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
	{ "State", h_state },
	{ "Create", h_create },
	{ "Start", h_start },
	{ "Delete", h_delete },
	{ "Pids", h_pids },
	{ "Pause", h_pause },
	{ "Resume", h_resume },
	{ "Checkpoint", h_checkpoint },
	{ "Kill", h_kill },
	{ "Exec", h_exec },
	{ "ResizePty", h_resize_pty },
	{ "CloseIO", h_close_io },
	{ "Update", h_update },
	{ "Wait", h_wait },
	{ "Stats", h_stats },
	{ "Connect", h_connect },
	{ "Shutdown", h_shutdown },
};

int shim_task_register(struct shim *s, kc_error_t *err)
{
	const ProtobufCServiceDescriptor *desc = &containerd__task__v2__task__descriptor;
	cleanup_free kc_ttrpc_msg_handler_fn *fns = kc_xzalloc(desc->n_methods * sizeof(*fns));
	struct kc_pod_opts o = {
		.loop = s->loop,
		.config_path = s->config_path,
		.agent_binary = s->agent_binary,
		.ns = s->ns,
		.owner_socket = s->socket_path,
		.events = { .data = s, .exited = on_exited, .oom = on_oom },
	};
	int ret;

	ret = kc_pod_new(&o, &s->pod, err);
	if (ret < 0)
		return ret;

	for (unsigned i = 0; i < desc->n_methods; i++)
		for (size_t j = 0; j < KC_ARRAY_SIZE(handlers); j++)
			if (strcmp(desc->methods[i].name, handlers[j].name) == 0)
				fns[i] = handlers[j].fn;
	return kc_ttrpc_server_register_service(s->srv, desc, fns, s, err);
}

void shim_task_free(struct shim *s)
{
	shim_mgmt_stop(s);
	kc_pod_free(s->pod);
	s->pod = NULL;
}
