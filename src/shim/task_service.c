// SPDX-License-Identifier: Apache-2.0
/*
 * containerd.task.v2.Task: every method, on the shim's one loop.
 *
 * A method that needs the guest sends its agent call and answers
 * containerd from the callback; containerd's other calls (Wait, State,
 * Connect...) are served meanwhile.  The first Create of a shim boots the
 * sandbox; that one step blocks the loop (nothing else is in flight for
 * the pod then).
 *
 * A process is finished once the agent's WaitProcess has answered and its
 * outputs reached their end, so that Wait, State and TaskExit come after
 * the last byte of output; TaskExit is sent exactly once, and always after
 * the TaskStart/TaskExecStarted of the same process.
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
#include "shim_task.pb-c.h"
#include "ttrpc/transport.h"

#define TYPE_ANNOTATION "io.kubernetes.cri.container-type"
#define SANDBOX_ANNOTATION "io.kubernetes.cri.sandbox-id"
#define NS_SEC 1000000000ull

/* ---- lookup ---- */

static struct shim_container *find_container(struct shim *s, const char *id)
{
	for (struct shim_container *c = s->containers; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static struct shim_proc *find_proc(struct shim *s, struct kc_ttrpc_call *call, const char *id,
				   const char *eid)
{
	struct shim_container *c = find_container(s, id);

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

static uint32_t task_pid(struct shim *s)
{
	return s->sb ? (uint32_t)kc_sandbox_pid(s->sb) : 0;
}

static void fail_err(struct kc_ttrpc_call *call, kc_error_t *err)
{
	kc_warn("%s: %s", kc_ttrpc_call_method(call), (*err)->msg);
	kc_ttrpc_call_fail_error(call, err);
}

/* ---- processes ---- */

static void proc_init(struct shim_container *c, struct shim_proc *p, const char *eid,
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

static void waiters_answer(struct shim_proc *p)
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

static void proc_release(struct shim_proc *p)
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

static void container_free(struct shim_container *c)
{
	while (c->execs) {
		struct shim_proc *p = c->execs;

		c->execs = p->next;
		proc_release(p);
		free(p);
	}
	proc_release(&c->init);
	free(c->id);
	free(c->bundle);
	free(c);
}

static void container_unlink(struct shim *s, struct shim_container *c)
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
	ev.pid = task_pid(s);
	ev.exit_status = p->exit_status;
	ts.seconds = p->exited_at.tv_sec;
	ts.nanos = (int32_t)p->exited_at.tv_nsec;
	ev.exited_at = &ts;
	shim_publish(s, "/tasks/exit", &ev.base);
	waiters_answer(p);
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

static void proc_running(struct shim_proc *p)
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
	if (s->sandbox_dead)
		return;
	kc_warn("the sandbox's VM exited");
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

static void on_vm_exit(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	shim_sandbox_died(data);
}

/* ---- sandbox ---- */

static int load_config(struct shim *s, json_t *spec, kc_error_t *err)
{
	json_t *ann = json_object_get(spec, "annotations");
	cleanup_free const char **keys = NULL, **vals = NULL;
	size_t n = 0;
	const char *k;
	json_t *v;
	int ret;

	if (!s->cfg_loaded) {
		ret = kc_config_load(s->config_path, &s->cfg, NULL, err);
		if (ret < 0)
			return ret;
		s->cfg_loaded = true;
	}
	keys = kc_xzalloc((json_object_size(ann) + 1) * sizeof(*keys));
	vals = kc_xzalloc((json_object_size(ann) + 1) * sizeof(*vals));
	json_object_foreach (ann, k, v) {
		if (!json_is_string(v))
			continue;
		keys[n] = k;
		vals[n++] = json_string_value(v);
	}
	return kc_config_apply_annotations(&s->cfg, keys, vals, n, err);
}

static int sandbox_boot(struct shim *s, const char *sid, json_t *spec, kc_error_t *err)
{
	struct kc_sandbox_opts o = { 0 };
	unsigned vcpus, mib;
	int fd, ret;

	ret = load_config(s, spec, err);
	if (ret < 0)
		return ret;
	kc_spec_sizing(spec, (unsigned)s->cfg.hypervisor.default_vcpus,
		       (unsigned)s->cfg.hypervisor.default_maxvcpus,
		       (unsigned)s->cfg.hypervisor.default_memory,
		       (unsigned)s->cfg.hypervisor.default_maxmemory, &vcpus, &mib);
	o.cfg = &s->cfg;
	o.id = sid;
	o.vcpus = vcpus;
	o.memory_mib = mib;
	o.agent_binary = s->agent_binary;
	o.spec = spec;
	{
		json_t *cg = json_object_get(json_object_get(spec, "linux"), "cgroupsPath");

		/* systemd's slice:prefix:name needs systemd, which places the
		 * processes itself: left alone. */
		if (json_is_string(cg) && json_string_value(cg)[0] == '/')
			o.cgroup_path = json_string_value(cg);
		else if (json_is_string(cg))
			kc_info("cgroupsPath `%s` is not a path: no host cgroup",
				json_string_value(cg));
	}
	kc_info("starting sandbox %s: %u vCPUs, %u MiB", sid, vcpus, mib);
	ret = kc_sandbox_start(&o, &s->sb, err);
	if (ret < 0)
		return ret;
	fd = kc_sandbox_take_agent_fd(s->sb);
	if (fd < 0)
		fd = kc_ttrpc_dial(kc_sandbox_agent_uri(s->sb), 5 * NS_SEC, err);
	if (fd < 0 || kc_ttrpc_client_new(s->loop, fd, &s->agent, err) < 0 ||
	    kc_loop_watch_fd(s->loop, kc_sandbox_pidfd(s->sb), EPOLLIN, on_vm_exit, s,
			     &s->vm_watch, err) < 0) {
		ret = kc_error_wrap(err, "connecting to the agent of `%s`", sid);
		if (s->agent)
			kc_ttrpc_client_free(s->agent);
		s->agent = NULL;
		kc_sandbox_free(s->sb);
		s->sb = NULL;
		return ret;
	}
	s->sandbox_dead = false;
	return 0;
}

static void sandbox_teardown(struct shim *s)
{
	cleanup_error kc_error_t err = NULL;

	if (s->vm_watch)
		kc_loop_watch_remove(s->vm_watch);
	s->vm_watch = NULL;
	if (s->agent)
		kc_ttrpc_client_free(s->agent);
	s->agent = NULL;
	s->sandbox_dead = true;
	if (s->sb && kc_sandbox_stop(s->sb, &err) < 0)
		kc_warn("stopping sandbox: %s", err->msg);
	kc_sandbox_free(s->sb);
	s->sb = NULL;
}

/* ---- Create ---- */

struct create_ctx {
	struct kc_ttrpc_call *call;
	struct shim_container *c;
	json_t *spec;
	Containerd__Task__V2__CreateTaskRequest *req; /* a copy, for TaskCreate */
	bool new_sandbox;
};

static void create_ctx_free(struct create_ctx *x)
{
	json_decref(x->spec);
	if (x->req)
		protobuf_c_message_free_unpacked(&x->req->base, NULL);
	free(x);
}

static void create_fail(struct shim *s, struct create_ctx *x, kc_error_t *err)
{
	struct kc_container_env env;
	cleanup_error kc_error_t cerr = NULL;

	if (s->sb) {
		kc_sandbox_container_env(s->sb, &env);
		if (kc_container_cleanup(&env, x->c->id, x->c->bundle, &cerr) < 0)
			kc_warn("cleanup of %s: %s", x->c->id, cerr->msg);
	}
	if (x->new_sandbox && !s->containers)
		sandbox_teardown(s);
	kc_error_wrap(err, "create `%s`", x->c->id);
	fail_err(x->call, err);
	container_free(x->c);
	create_ctx_free(x);
}

static void on_container_created(struct shim *s, void *ctx, kc_error_t *err,
				 const ProtobufCMessage *m)
{
	struct create_ctx *x = ctx;
	struct shim_container *c = x->c;
	Containerd__Task__V2__CreateTaskResponse r = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	Containerd__Events__TaskIO tio = CONTAINERD__EVENTS__TASK_IO__INIT;

	(void)m;
	if (err) {
		create_fail(s, x, err);
		return;
	}
	c->next = s->containers;
	s->containers = c;
	kc_info("container %s created", c->id);
	ev.container_id = c->id;
	ev.bundle = c->bundle;
	ev.n_rootfs = x->req->n_rootfs;
	ev.rootfs = x->req->rootfs;
	tio.stdin = c->init.stdin_path;
	tio.stdout = c->init.stdout_path;
	tio.stderr = c->init.stderr_path;
	tio.terminal = c->init.terminal;
	ev.io = &tio;
	ev.pid = task_pid(s);
	shim_publish(s, "/tasks/create", &ev.base);
	r.pid = task_pid(s);
	kc_ttrpc_call_reply_msg(x->call, &r.base);
	create_ctx_free(x);
}

static void create_container(struct shim *s, struct create_ctx *x)
{
	cleanup_error kc_error_t err = NULL;
	struct shim_container *c = x->c;
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	struct kc_container_env env;
	cleanup_free struct kc_rootfs_mount *mounts = NULL;
	cleanup_free char *json = NULL;
	json_t *root;

	kc_sandbox_container_env(s->sb, &env);
	mounts = kc_xzalloc((x->req->n_rootfs + 1) * sizeof(*mounts));
	for (size_t i = 0; i < x->req->n_rootfs; i++) {
		mounts[i].type = x->req->rootfs[i]->type;
		mounts[i].source = x->req->rootfs[i]->source;
		mounts[i].target = x->req->rootfs[i]->target;
		mounts[i].options = x->req->rootfs[i]->options;
		mounts[i].n_options = x->req->rootfs[i]->n_options;
	}
	root = json_object_get(json_object_get(x->spec, "root"), "path");
	if (kc_rootfs_setup(&env, c->id, c->bundle, json_is_string(root) ? json_string_value(root) : NULL,
			    mounts, x->req->n_rootfs, &err) < 0 ||
	    kc_spec_for_guest(&env, c->id, x->spec, &err) < 0 || shim_io_open(&c->init, &err) < 0) {
		create_fail(s, x, &err);
		return;
	}
	json = kc_json_dump(x->spec, 1);
	req.container_id = c->id;
	req.exec_id = c->init.agent_eid;
	req.oci_spec_json.data = (uint8_t *)json;
	req.oci_spec_json.len = strlen(json);
	shim_agent_call(s, "CreateContainer", &req.base, NULL,
			(uint64_t)s->cfg.runtime.create_container_timeout * NS_SEC,
			on_container_created, x);
}

static void oom_poll(struct shim *s);

/* GetOOMEvent is a long poll: each answer names a container whose process
 * the guest's OOM killer hit, published as TaskOOM (as Kata's shim does). */
static void on_oom(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	const Grpc__OOMEvent *r = (const void *)m;
	Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;

	(void)ctx;
	s->oom_call = 0;
	if (err) {
		/* An agent without it, or the sandbox going: stop asking. */
		kc_debug("GetOOMEvent: %s", (*err)->msg);
		return;
	}
	if (r && r->container_id[0] && find_container(s, r->container_id)) {
		kc_info("container %s: out of memory", r->container_id);
		ev.container_id = r->container_id;
		shim_publish(s, "/tasks/oom", &ev.base);
	}
	oom_poll(s);
}

static void oom_poll(struct shim *s)
{
	Grpc__GetOOMEventRequest req = GRPC__GET_OOMEVENT_REQUEST__INIT;

	if (s->sandbox_dead || s->oom_call)
		return;
	shim_agent_call_id(s, "GetOOMEvent", &req.base, &grpc__oomevent__descriptor, 0, on_oom,
			   NULL, &s->oom_call);
}

static void on_sandbox_created(struct shim *s, void *ctx, kc_error_t *err,
			       const ProtobufCMessage *m)
{
	(void)m;
	if (err) {
		create_fail(s, ctx, err);
		return;
	}
	oom_poll(s);
	create_container(s, ctx);
}

static void create_sandbox(struct shim *s, struct create_ctx *x)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__Storage st = GRPC__STORAGE__INIT;
	Grpc__Storage *sts[1] = { &st };
	char *opts[] = { "nodev" };
	json_t *hn = json_object_get(x->spec, "hostname");

	req.hostname = json_is_string(hn) ? (char *)json_string_value(hn) : "";
	req.sandbox_id = (char *)kc_sandbox_id(s->sb);
	for (char *const *d = kc_sandbox_dns(s->sb); d && d[req.n_dns]; )
		req.n_dns++;
	req.dns = (char **)kc_sandbox_dns(s->sb);
	if (kc_sandbox_share_is_virtiofs(s->sb)) {
		/* Kata's shared-fs storage: the share, mounted once per VM. */
		st.driver = "virtio-fs";
		st.source = "kataShared";
		st.fstype = "virtiofs";
		st.mount_point = KC_GUEST_SHARE;
		st.n_options = 1;
		st.options = opts;
		req.n_storages = 1;
		req.storages = sts;
	}
	shim_agent_call(s, "CreateSandbox", &req.base, NULL, 30 * NS_SEC, on_sandbox_created, x);
}

static void on_guest_net(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	(void)m;
	if (err) {
		create_fail(s, ctx, err);
		return;
	}
	create_sandbox(s, ctx);
}

static void h_create(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__CreateTaskRequest *req = (const void *)m;
	struct shim *s = data;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *cfgpath = NULL;
	struct create_ctx *x;
	const char *type, *sid;
	size_t len;
	uint8_t *buf;

	if (kc_check_id("container id", req->id, &err) < 0) {
		fail_err(call, &err);
		return;
	}
	if (find_container(s, req->id)) {
		kc_ttrpc_call_fail(call, KC_TTRPC_ALREADY_EXISTS, "container `%s` already exists",
				   req->id);
		return;
	}
	if (req->bundle[0] != '/') {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "bundle `%s` is not absolute",
				   req->bundle);
		return;
	}
	if (req->checkpoint[0]) {
		kc_ttrpc_call_fail(call, KC_TTRPC_UNIMPLEMENTED, "checkpoint restore is not supported");
		return;
	}
	x = kc_xzalloc(sizeof(*x));
	x->call = call;
	len = protobuf_c_message_get_packed_size(m);
	buf = kc_xmalloc(len + 1);
	protobuf_c_message_pack(m, buf);
	x->req = containerd__task__v2__create_task_request__unpack(NULL, len, buf);
	free(buf);
	x->c = kc_xzalloc(sizeof(*x->c));
	x->c->shim = s;
	x->c->id = kc_xstrdup(req->id);
	x->c->bundle = kc_xstrdup(req->bundle);
	proc_init(x->c, &x->c->init, "", req->terminal, req->stdin, req->stdout, req->stderr);
	cfgpath = kc_xasprintf("%s/config.json", req->bundle);
	if (kc_json_load_file(cfgpath, &x->spec, &err) < 0) {
		create_fail(s, x, &err);
		return;
	}
	if (json_object_get(x->spec, "process") == NULL) {
		kc_error_set(&err, EINVAL, "`%s`: process is missing", cfgpath);
		create_fail(s, x, &err);
		return;
	}
	type = kc_spec_annotation(x->spec, TYPE_ANNOTATION);
	sid = kc_spec_annotation(x->spec, SANDBOX_ANNOTATION);
	if (type && strcmp(type, "container") == 0) {
		if (!s->sb || !sid || strcmp(sid, kc_sandbox_id(s->sb)) != 0) {
			kc_error_set(&err, ENOENT, "sandbox `%s` of container `%s` is not in this shim",
				     sid ? sid : "", req->id);
				create_fail(s, x, &err);
			return;
		}
	}
	if (!s->sb) {
		if (s->sandbox_dead && s->cfg_loaded) {
			kc_error_set(&err, ENOTCONN, "the sandbox of this shim is gone");
			create_fail(s, x, &err);
			return;
		}
		x->c->is_sandbox = true;
		x->new_sandbox = true;
		if (sandbox_boot(s, req->id, x->spec, &err) < 0) {
			create_fail(s, x, &err);
			return;
		}
		shim_net_configure(s, on_guest_net, x);
		return;
	}
	create_container(s, x);
}

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
		fail_err(x->call, err);
		free(x);
		return;
	}
	if (p->exec_id[0]) {
		Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;

		ev.container_id = p->c->id;
		ev.exec_id = p->exec_id;
		ev.pid = task_pid(s);
		shim_publish(s, "/tasks/exec-started", &ev.base);
	} else {
		Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;

		ev.container_id = p->c->id;
		ev.pid = task_pid(s);
		shim_publish(s, "/tasks/start", &ev.base);
	}
	r.pid = task_pid(s);
	kc_ttrpc_call_reply_msg(x->call, &r.base);
	free(x);
	proc_running(p);
}

static void h_start(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__StartRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = find_proc(s, call, req->id, req->exec_id);

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
			fail_err(call, &err);
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
	struct shim_container *c = find_container(s, req->id);
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *proc = NULL;
	Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	struct shim_proc *p;

	if (!c || c->deleting) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found", req->id);
		return;
	}
	if (kc_check_id("exec id", req->exec_id, &err) < 0) {
		fail_err(call, &err);
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
		fail_err(call, &err);
		return;
	}
	json_object_del(proc, "apparmorProfile");
	json_object_del(proc, "selinuxLabel");
	p = kc_xzalloc(sizeof(*p));
	proc_init(c, p, req->exec_id, req->terminal, req->stdin, req->stdout, req->stderr);
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
	struct shim_proc *p = find_proc(data, call, req->id, req->exec_id);
	struct shim_waiter *w;

	if (!p)
		return;
	w = kc_xzalloc(sizeof(*w));
	w->call = call;
	w->next = p->waiters;
	p->waiters = w;
	if (p->exited)
		waiters_answer(p);
}

static void h_state(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__StateRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = find_proc(s, call, req->id, req->exec_id);
	Containerd__Task__V2__StateResponse r = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	if (!p)
		return;
	r.id = p->c->id;
	r.bundle = p->c->bundle;
	r.pid = task_pid(s);
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
		fail_err(call, err);
	else
		kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_kill(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__KillRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = find_proc(s, call, req->id, req->exec_id);
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

	r.pid = task_pid(s);
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
			fail_err(x->call, &cerr);
			c->deleting = false;
			free(x);
			return;
		}
	}
	ev.container_id = c->id;
	ev.id = c->id;
	ev.pid = task_pid(s);
	ev.exit_status = c->init.exit_status;
	ts.seconds = c->init.exited_at.tv_sec;
	ts.nanos = (int32_t)c->init.exited_at.tv_nsec;
	ev.exited_at = &ts;
	shim_publish(s, "/tasks/delete", &ev.base);
	delete_reply(x->call, s, &c->init);
	container_unlink(s, c);
	container_free(c);
	free(x);
}

static void h_delete(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__DeleteRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = find_proc(s, call, req->id, req->exec_id);
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
		proc_release(p);
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

	if (!find_proc(s, call, req->id, ""))
		return;
	/* As Kata: the processes of a container are behind one host pid. */
	pi.pid = task_pid(s);
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
		fail_err(x->call, err);
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
	struct shim_proc *p = find_proc(s, call, id, "");
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
	struct shim_proc *p = find_proc(s, call, req->id, req->exec_id);
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
	struct shim_proc *p = find_proc(data, call, req->id, req->exec_id);

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
	struct shim_proc *p = find_proc(s, call, req->id, "");
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
		fail_err(call, &err);
		return;
	}
	ur.container_id = p->c->id;
	ur.resources_json = req->resources->value;
	shim_agent_call(s, "UpdateContainer", &ur.base, NULL, 30 * NS_SEC, on_empty_reply, call);
}

static void on_stats(struct shim *s, void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_ttrpc_call *call = ctx;
	Containerd__Task__V2__StatsResponse r = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;

	(void)s;
	(void)m;
	if (err) {
		fail_err(call, err);
		return;
	}
	/* The agent's cgroup figures are not converted to containerd's
	 * cgroups Metrics message yet: an empty one. */
	any.type_url = "io.containerd.cgroups.v1.Metrics";
	r.stats = &any;
	kc_ttrpc_call_reply_msg(call, &r.base);
}

static void h_stats(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Containerd__Task__V2__StatsRequest *req = (const void *)m;
	struct shim *s = data;
	struct shim_proc *p = find_proc(s, call, req->id, "");
	Grpc__StatsContainerRequest sr = GRPC__STATS_CONTAINER_REQUEST__INIT;

	if (!p)
		return;
	sr.container_id = p->c->id;
	shim_agent_call(s, "StatsContainer", &sr.base, &grpc__stats_container_response__descriptor,
			30 * NS_SEC, on_stats, call);
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
	if (s->containers) {
		/* As the runc shim: other tasks still live here. */
		kc_ttrpc_call_reply_msg(call, NULL);
		return;
	}
	/* The VM goes before the answer: the `delete` that containerd runs
	 * once the connection closes then finds nothing left. */
	sandbox_teardown(s);
	kc_ttrpc_call_reply_msg(call, NULL);
	if (!s->exiting) {
		s->exiting = true;
		s->exit_deadline = kc_monotonic_ns() + 2 * NS_SEC;
		kc_loop_timer_init(&s->exit_timer, exit_check, s);
		kc_loop_timer_start(s->loop, &s->exit_timer, kc_loop_now(s->loop) + 10000000ull);
	}
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
	{ "State", h_state },	    { "Create", h_create },	{ "Start", h_start },
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
		container_free(c);
	}
	sandbox_teardown(s);
}
