/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Create: the first container of a shim boots the pod's sandbox (the one
 * step that blocks the loop: a VM boot), then every container gets its
 * rootfs, volumes, IO and its CreateContainer in the guest.  A failure
 * removes what this Create made.  Also the GetOOMEvent long poll.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
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

/* ---- sandbox ---- */

static void on_vm_exit(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	shim_sandbox_died(data);
}


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
	    kc_loop_watch_fd(s->loop, kc_sandbox_watch_fd(s->sb), EPOLLIN, on_vm_exit, s,
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

void shim_sandbox_teardown(struct shim *s)
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

static void create_ctx_free(struct shim *s, struct create_ctx *x)
{
	s->creating--;
	json_decref(x->spec);
	if (x->req)
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

	if (s->containers || s->creating || s->exiting)
		return;
	kc_warn("the shim holds nothing since a Create failed: it exits");
	shim_exit(s);
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
		shim_sandbox_teardown(s);
	kc_error_wrap(err, "create `%s`", x->c->id);
	shim_fail(x->call, err);
	shim_container_free(x->c);
	create_ctx_free(s, x);
	if (!s->containers && !s->creating && !s->exiting) {
		if (!s->orphan_timer.fn) /* the first time; later, re-armed */
			kc_loop_timer_init(&s->orphan_timer, orphan_check, s);
		kc_loop_timer_start(s->loop, &s->orphan_timer, kc_loop_now(s->loop) + 2 * NS_SEC);
	}
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
	ev.pid = shim_task_pid(s);
	shim_publish(s, "/tasks/create", &ev.base);
	r.pid = shim_task_pid(s);
	kc_ttrpc_call_reply_msg(x->call, &r.base);
	create_ctx_free(s, x);
}

static void create_container(struct shim *s, struct create_ctx *x)
{
	cleanup_error kc_error_t err = NULL;
	struct shim_container *c = x->c;
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	struct kc_container_env env;
	struct kc_guest_storages gs = { 0 };
	cleanup_free struct kc_rootfs_mount *mounts = NULL;
	cleanup_free Grpc__Storage *st = NULL;
	cleanup_free Grpc__Storage **sts = NULL;
	cleanup_free char *json = NULL;
	uint64_t sandbox_ns = 0;
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
	    kc_spec_for_guest(&env, c->id, x->spec, &gs, &sandbox_ns, &err) < 0 ||
	    shim_io_open(&c->init, &err) < 0) {
		kc_guest_storages_free(&gs);
		create_fail(s, x, &err);
		return;
	}
	json = kc_json_dump(x->spec, 1);
	req.container_id = c->id;
	req.exec_id = c->init.agent_eid;
	req.oci_spec_json.data = (uint8_t *)json;
	req.oci_spec_json.len = strlen(json);
	req.sandbox_pidns = (sandbox_ns & CLONE_NEWPID) != 0;
	req.sandbox_ipcns = (sandbox_ns & CLONE_NEWIPC) != 0;
	req.sandbox_utsns = (sandbox_ns & CLONE_NEWUTS) != 0;
	/* The volumes the guest holds itself (emptyDir, /dev/shm): shared
	 * by the pod's containers, which name the same mount point. */
	st = kc_xzalloc((gs.n + 1) * sizeof(*st));
	sts = kc_xzalloc((gs.n + 1) * sizeof(*sts));
	for (size_t i = 0; i < gs.n; i++) {
		grpc__storage__init(&st[i]);
		st[i].driver = gs.v[i].driver;
		st[i].source = gs.v[i].source;
		st[i].fstype = gs.v[i].fstype;
		st[i].mount_point = gs.v[i].mount_point;
		st[i].options = gs.v[i].options;
		while (st[i].options[st[i].n_options])
			st[i].n_options++;
		st[i].fs_group = gs.v[i].fs_group;
		st[i].fs_group_set = gs.v[i].fs_group_set;
		st[i].shared = true;
		sts[i] = &st[i];
	}
	req.storages = sts;
	req.n_storages = gs.n;
	shim_agent_call(s, "CreateContainer", &req.base, NULL,
			(uint64_t)s->cfg.runtime.create_container_timeout * NS_SEC,
			on_container_created, x);
	kc_guest_storages_free(&gs);
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
	if (r && r->container_id[0] && shim_find_container(s, r->container_id)) {
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

/* CreateSandboxRequest.kernel_modules from [agent.kata] kernel_modules (or
 * its annotation): each entry is "NAME [PARAM=VALUE]...", split at blanks
 * as Kata's runtime does, blank entries skipped.  The agent loads them
 * before any container runs and fails CreateSandbox naming the module it
 * could not load.  The messages point into `words`, copies of the
 * entries; the request is packed when sent, so all of it goes right after
 * (kernel_modules_free). */
struct kernel_modules {
	Grpc__KernelModule *mods;
	Grpc__KernelModule **ptrs;
	char **words;
	size_t n, n_cfg;
};

static void kernel_modules_build(const struct kc_strv *cfg, struct kernel_modules *km)
{
	km->mods = kc_xzalloc((cfg->n + 1) * sizeof(*km->mods));
	km->ptrs = kc_xzalloc((cfg->n + 1) * sizeof(*km->ptrs));
	km->words = kc_xzalloc((cfg->n + 1) * sizeof(*km->words));
	km->n = 0;
	km->n_cfg = cfg->n;
	for (size_t i = 0; i < cfg->n; i++) {
		Grpc__KernelModule *m = &km->mods[km->n];
		char *copy = kc_xstrdup(cfg->v[i]), *save = NULL, *w;
		size_t n_words = 0;

		km->words[i] = copy;
		grpc__kernel_module__init(m);
		for (w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
			if (n_words++ == 0) {
				m->name = w;
				continue;
			}
			m->parameters = kc_xrealloc(m->parameters,
						    (m->n_parameters + 1) * sizeof(char *));
			m->parameters[m->n_parameters++] = w;
		}
		if (n_words)
			km->ptrs[km->n++] = m;
	}
}

static void kernel_modules_free(struct kernel_modules *km)
{
	for (size_t i = 0; i < km->n_cfg; i++) {
		free(km->mods[i].parameters);
		free(km->words[i]);
	}
	free(km->mods);
	free(km->ptrs);
	free(km->words);
}

static void create_sandbox(struct shim *s, struct create_ctx *x)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__Storage st = GRPC__STORAGE__INIT;
	Grpc__Storage *sts[1] = { &st };
	char *opts[] = { "nodev" };
	json_t *hn = json_object_get(x->spec, "hostname");
	struct kernel_modules km;
	char node[HOST_NAME_MAX + 1] = "";

	req.hostname = json_is_string(hn) ? (char *)json_string_value(hn) : "";
	/* A sandbox without a uts namespace (CRI's hostNetwork) shares the
	 * host's under runc, so its containers see the node's name; the
	 * guest's is the nearest thing a VM has. */
	if (!req.hostname[0] && !kc_spec_has_namespace(x->spec, "uts") &&
	    gethostname(node, sizeof(node) - 1) == 0)
		req.hostname = node;
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
	kernel_modules_build(&s->cfg.agent.kernel_modules, &km);
	req.kernel_modules = km.ptrs;
	req.n_kernel_modules = km.n;
	shim_agent_call(s, "CreateSandbox", &req.base, NULL, 30 * NS_SEC, on_sandbox_created, x);
	kernel_modules_free(&km);
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

void shim_h_create(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
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
		shim_fail(call, &err);
		return;
	}
	if (shim_find_container(s, req->id)) {
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
	s->creating++;
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
	shim_proc_init(x->c, &x->c->init, "", req->terminal, req->stdin, req->stdout, req->stderr);
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
		if (kc_spec_check_host_namespaces(x->spec, &err) < 0 ||
		    sandbox_boot(s, req->id, x->spec, &err) < 0) {
			create_fail(s, x, &err);
			return;
		}
		shim_net_configure(s, on_guest_net, x);
		return;
	}
	create_container(s, x);
}
