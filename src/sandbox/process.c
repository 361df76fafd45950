/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod's processes: lifecycle and exit.  A process is finished once
 * the agent's WaitProcess has answered and its outputs reached their end,
 * so that waits and the exited event come after the last byte of output;
 * the exited event comes exactly once, and always after the callback of
 * the kc_proc_start() of the same process.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "internal.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"

/* ---- lifecycle ---- */

void kc_proc_init(struct kc_ctr *c, struct kc_proc *p, const char *eid, bool terminal,
		  const char *in, const char *out, const char *errp)
{
	p->c = c;
	p->i.container_id = c->id;
	p->i.bundle = c->bundle;
	p->i.exec_id = kc_xstrdup(eid);
	p->agent_eid = kc_xstrdup(eid[0] ? eid : c->id);
	p->i.status = KC_PROC_CREATED;
	p->i.terminal = terminal;
	p->i.stdin_path = kc_xstrdup(in ? in : "");
	p->i.stdout_path = kc_xstrdup(out ? out : "");
	p->i.stderr_path = kc_xstrdup(errp ? errp : "");
	kc_io_init(p);
}

const struct kc_proc_info *kc_proc_info(const struct kc_proc *p)
{
	return &p->i;
}

static void waits_answer(struct kc_proc *p, kc_error_t *err)
{
	while (p->waits) {
		struct kc_wait *w = p->waits;

		p->waits = w->next;
		w->done(w->ctx, err);
		free(w);
	}
}

void kc_proc_release(struct kc_proc *p)
{
	cleanup_error kc_error_t err = NULL;

	if (p->waiting)
		kc_agent_cancel(p->c->pod->agent, p->wait_call);
	kc_io_close(p);
	if (p->waits) {
		kc_error_set_status(&err, ENOENT, "process deleted");
		waits_answer(p, &err);
	}
	free((char *)p->i.exec_id);
	free(p->agent_eid);
	free((char *)p->i.stdin_path);
	free((char *)p->i.stdout_path);
	free((char *)p->i.stderr_path);
	free(p->process_json);
}

void kc_ctr_free(struct kc_ctr *c)
{
	while (c->execs) {
		struct kc_proc *p = c->execs;

		c->execs = p->next;
		kc_proc_release(p);
		free(p);
	}
	kc_proc_release(&c->init);
	free(c->id);
	free(c->bundle);
	free(c);
}

/* Sets p's status, and the sandbox's state with it. */
static void set_status(struct kc_proc *p, enum kc_proc_status status)
{
	p->i.status = status;
	kc_sandbox_state_process(p->c->pod->sb, p->c->id, p->i.exec_id, (int)status,
				 p->i.exit_status);
}

void kc_proc_maybe_exited(struct kc_proc *p)
{
	struct kc_pod *pod = p->c->pod;

	if (p->i.exited || !p->wait_answered || !kc_io_drained(p))
		return;
	p->i.exited = true;
	p->i.exit_status = (uint32_t)p->agent_status;
	set_status(p, KC_PROC_STOPPED);
	clock_gettime(CLOCK_REALTIME, &p->i.exited_at);
	kc_io_close(p);
	kc_info("process %s/%s exited with %u", p->c->id, p->i.exec_id, p->i.exit_status);
	if (pod->ev.exited)
		pod->ev.exited(pod->ev.data, p);
	waits_answer(p, NULL);
}

void kc_proc_lost(struct kc_proc *p)
{
	if (p->i.status != KC_PROC_RUNNING && p->i.status != KC_PROC_PAUSED)
		return;
	if (!p->wait_answered) {
		p->wait_answered = true;
		p->agent_status = 255;
	}
	kc_io_close(p);
	kc_proc_maybe_exited(p);
}

void kc_proc_wait(struct kc_proc *p, kc_done_fn done, void *ctx)
{
	struct kc_wait *w = kc_xzalloc(sizeof(*w));

	w->done = done;
	w->ctx = ctx;
	w->next = p->waits;
	p->waits = w;
	if (p->i.exited)
		waits_answer(p, NULL);
}

static void on_wait(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_proc *p = ctx;
	const Grpc__WaitProcessResponse *r = (const void *)m;

	p->waiting = false;
	if (p->wait_answered)
		return;
	p->wait_answered = true;
	p->agent_status = r ? r->status : 255;
	if (err)
		kc_warn("WaitProcess %s/%s: %s", p->c->id, p->i.exec_id, (*err)->msg);
	kc_proc_maybe_exited(p);
}

/* Started: IO pumps and the WaitProcess long poll. */
static void proc_running(struct kc_proc *p)
{
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;

	set_status(p, KC_PROC_RUNNING);
	kc_io_start(p);
	req.container_id = p->c->id;
	req.exec_id = p->agent_eid;
	p->waiting = true;
	p->wait_call = kc_agent_wait_process(p->c->pod->agent, &req, on_wait, p);
}

/* ---- start, exec ---- */

struct start_ctx {
	struct kc_proc *p;
	kc_done_fn done;
	void *ctx;
};

static void on_started(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct start_ctx x = *(struct start_ctx *)ctx;

	(void)m;
	free(ctx);
	if (err) {
		if (x.p->i.exec_id[0])
			kc_io_close(x.p);
		x.done(x.ctx, err);
		return;
	}
	x.done(x.ctx, NULL);
	proc_running(x.p);
}

void kc_proc_start(struct kc_proc *p, kc_done_fn done, void *ctx)
{
	struct kc_agent *agent = p->c->pod->agent;
	cleanup_error kc_error_t err = NULL;
	struct start_ctx *x;

	if (p->i.status != KC_PROC_CREATED) {
		kc_error_set_status(&err, EBUSY, "process `%s` of `%s` was already started",
				    p->i.exec_id, p->c->id);
		done(ctx, &err);
		return;
	}
	x = kc_xzalloc(sizeof(*x));
	*x = (struct start_ctx){ p, done, ctx };
	if (p->i.exec_id[0]) {
		Grpc__ExecProcessRequest er = GRPC__EXEC_PROCESS_REQUEST__INIT;

		/* ctr opens an exec's fifos after Exec: they are opened here. */
		if (kc_io_open(p, &err) < 0) {
			free(x);
			done(ctx, &err);
			return;
		}
		er.container_id = p->c->id;
		er.exec_id = p->agent_eid;
		er.process_json.data = (uint8_t *)p->process_json;
		er.process_json.len = strlen(p->process_json);
		kc_agent_exec_process(agent, &er, on_started, x);
	} else {
		Grpc__StartContainerRequest sr = GRPC__START_CONTAINER_REQUEST__INIT;

		sr.container_id = p->c->id;
		kc_agent_start_container(agent, &sr, on_started, x);
	}
}

int kc_ctr_exec(struct kc_ctr *c, const char *eid, const uint8_t *process, size_t len,
		bool terminal, const char *in, const char *out, const char *errp,
		struct kc_proc **pp, kc_error_t *err)
{
	cleanup_json json_t *proc = NULL;
	struct kc_proc *p;
	int ret;

	ret = kc_check_id("exec id", eid, err);
	if (ret < 0)
		return ret;
	for (p = c->execs; p; p = p->next)
		if (strcmp(p->i.exec_id, eid) == 0)
			return kc_error_set_status(err, EEXIST, "exec `%s` already exists", eid);
	if (c->init.i.status != KC_PROC_RUNNING)
		return kc_error_set_status(err, EBUSY, "container `%s` is not running", c->id);
	if (!process ||
	    kc_json_parse((const char *)process, len, "exec process spec", &proc, err) < 0 ||
	    !json_is_object(proc)) {
		if (!*err)
			kc_error_set(err, EINVAL, "exec `%s`: the process spec is missing", eid);
		(*err)->status = EINVAL;
		return -EINVAL;
	}
	json_object_del(proc, "apparmorProfile");
	json_object_del(proc, "selinuxLabel");
	p = kc_xzalloc(sizeof(*p));
	kc_proc_init(c, p, eid, terminal, in, out, errp);
	p->process_json = kc_json_dump(proc, 1);
	p->next = c->execs;
	c->execs = p;
	kc_sandbox_state_process(c->pod->sb, c->id, eid, KC_PROC_CREATED, 0);
	*pp = p;
	return 0;
}

/* ---- kill, resize, close stdin, delete ---- */

static void on_done(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct start_ctx x = *(struct start_ctx *)ctx;

	(void)m;
	free(ctx);
	x.done(x.ctx, err);
}

/* An Empty agent call answered through done. */
static struct start_ctx *done_ctx(kc_done_fn done, void *ctx)
{
	struct start_ctx *x = kc_xzalloc(sizeof(*x));

	x->done = done;
	x->ctx = ctx;
	return x;
}

void kc_proc_kill(struct kc_proc *p, uint32_t signal, bool all, kc_done_fn done, void *ctx)
{
	Grpc__SignalProcessRequest sr = GRPC__SIGNAL_PROCESS_REQUEST__INIT;
	cleanup_error kc_error_t err = NULL;

	if (signal == 0 || signal >= NSIG) {
		kc_error_set_status(&err, EINVAL, "invalid signal %u", signal);
		done(ctx, &err);
		return;
	}
	if (p->i.exited || p->wait_answered) {
		kc_error_set_status(&err, ENOENT, "process `%s` already finished",
				    p->i.exec_id[0] ? p->i.exec_id : p->c->id);
		done(ctx, &err);
		return;
	}
	if (p->i.status == KC_PROC_CREATED) {
		/* Never started: it ends as if the signal had killed it. */
		p->wait_answered = true;
		p->agent_status = 128 + (int)signal;
		p->out.done = p->err.done = true;
		kc_proc_maybe_exited(p);
		done(ctx, NULL);
		return;
	}
	sr.container_id = p->c->id;
	/* Kata: an empty exec id signals every process of the container. */
	sr.exec_id = all && !p->i.exec_id[0] ? "" : p->agent_eid;
	sr.signal = signal;
	kc_agent_signal_process(p->c->pod->agent, &sr, on_done, done_ctx(done, ctx));
}

void kc_proc_resize_pty(struct kc_proc *p, uint32_t width, uint32_t height, kc_done_fn done,
			void *ctx)
{
	Grpc__TtyWinResizeRequest tr = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;

	/* ctr under script(1) sends 0x0: nothing to tell the guest. */
	if ((width == 0 && height == 0) || p->i.status != KC_PROC_RUNNING) {
		done(ctx, NULL);
		return;
	}
	tr.container_id = p->c->id;
	tr.exec_id = p->agent_eid;
	tr.row = height;
	tr.column = width;
	kc_agent_tty_win_resize(p->c->pod->agent, &tr, on_done, done_ctx(done, ctx));
}

void kc_proc_close_stdin(struct kc_proc *p)
{
	kc_io_close_stdin(p);
}

int kc_proc_delete(struct kc_proc *p, kc_error_t *err)
{
	struct kc_ctr *c = p->c;

	if (!p->i.exec_id[0])
		return kc_error_set_status(err, EINVAL,
					   "process `%s` is a container's: delete the container",
					   c->id);
	if (p->i.status == KC_PROC_RUNNING || p->i.status == KC_PROC_PAUSED)
		return kc_error_set_status(err, EBUSY, "process `%s` is still running",
					   p->i.exec_id);
	for (struct kc_proc **pp = &c->execs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	kc_sandbox_state_gone(c->pod->sb, c->id, p->i.exec_id);
	kc_proc_release(p);
	free(p);
	return 0;
}

/* ---- containers: pause, update, stats ---- */

struct pause_ctx {
	struct kc_ctr *c;
	bool pause;
	kc_done_fn done;
	void *ctx;
};

static void on_paused(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct pause_ctx x = *(struct pause_ctx *)ctx;

	(void)m;
	free(ctx);
	if (!err)
		set_status(&x.c->init, x.pause ? KC_PROC_PAUSED : KC_PROC_RUNNING);
	x.done(x.ctx, err);
}

void kc_ctr_pause(struct kc_ctr *c, bool pause, kc_done_fn done, void *ctx)
{
	Grpc__PauseContainerRequest pr = GRPC__PAUSE_CONTAINER_REQUEST__INIT;
	Grpc__ResumeContainerRequest rr = GRPC__RESUME_CONTAINER_REQUEST__INIT;
	cleanup_error kc_error_t err = NULL;
	struct pause_ctx *x;

	if (c->init.i.status != (pause ? KC_PROC_RUNNING : KC_PROC_PAUSED)) {
		kc_error_set_status(&err, EBUSY, "container `%s` is not %s", c->id,
				    pause ? "running" : "paused");
		done(ctx, &err);
		return;
	}
	x = kc_xzalloc(sizeof(*x));
	*x = (struct pause_ctx){ c, pause, done, ctx };
	if (pause) {
		pr.container_id = c->id;
		kc_agent_pause_container(c->pod->agent, &pr, on_paused, x);
	} else {
		rr.container_id = c->id;
		kc_agent_resume_container(c->pod->agent, &rr, on_paused, x);
	}
}

void kc_ctr_update(struct kc_ctr *c, const uint8_t *resources, size_t len, kc_done_fn done,
		   void *ctx)
{
	Grpc__UpdateContainerRequest ur = GRPC__UPDATE_CONTAINER_REQUEST__INIT;
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *res = NULL;

	if (kc_json_parse((const char *)resources, len, "resources", &res, &err) < 0) {
		err->status = EINVAL;
		done(ctx, &err);
		return;
	}
	ur.container_id = c->id;
	ur.resources_json.data = (uint8_t *)resources;
	ur.resources_json.len = len;
	kc_agent_update_container(c->pod->agent, &ur, on_done, done_ctx(done, ctx));
}

void kc_ctr_stats(struct kc_ctr *c, kc_agent_fn fn, void *ctx)
{
	Grpc__StatsContainerRequest sr = GRPC__STATS_CONTAINER_REQUEST__INIT;

	sr.container_id = c->id;
	kc_agent_stats_container(c->pod->agent, &sr, fn, ctx);
}

struct kc_proc *kc_ctr_proc(struct kc_ctr *c, const char *eid)
{
	if (!eid || !eid[0])
		return &c->init;
	for (struct kc_proc *p = c->execs; p; p = p->next)
		if (strcmp(p->i.exec_id, eid) == 0)
			return p;
	return NULL;
}
