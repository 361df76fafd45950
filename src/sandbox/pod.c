/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod: its sandbox and its containers.  The first container of a pod
 * starts the sandbox (the one step that blocks the loop: a VM boot), the
 * guest's network and CreateSandbox; then every container gets its rootfs,
 * volumes, IO and its CreateContainer in the guest.  A failure removes
 * what that create made.  Also the GetOOMEvent long poll, and the one
 * path for a sandbox that is lost.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "internal.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "ttrpc/transport.h"

/* ---- the pod ---- */

int kc_pod_new(const struct kc_pod_opts *o, struct kc_pod **out, kc_error_t *err)
{
	struct kc_pod *pod;

	if (!o->loop)
		return kc_error_set_status(err, EINVAL, "a pod needs an event loop");
	pod = kc_xzalloc(sizeof(*pod));
	pod->loop = o->loop;
	pod->config_path = o->config_path ? kc_xstrdup(o->config_path) : NULL;
	pod->agent_binary = o->agent_binary ? kc_xstrdup(o->agent_binary) : NULL;
	pod->ns = kc_xstrdup(o->ns ? o->ns : "default");
	pod->owner_socket = o->owner_socket ? kc_xstrdup(o->owner_socket) : NULL;
	pod->ev = o->events;
	*out = pod;
	return 0;
}

const char *kc_pod_sandbox_id(const struct kc_pod *pod)
{
	return pod->sb ? kc_sandbox_id(pod->sb) : NULL;
}

pid_t kc_pod_pid(const struct kc_pod *pod)
{
	return pod->sb ? kc_sandbox_pid(pod->sb) : 0;
}

bool kc_pod_has_containers(const struct kc_pod *pod)
{
	return pod->containers != NULL;
}

bool kc_pod_idle(const struct kc_pod *pod)
{
	return !pod->containers && !pod->creating;
}

struct kc_host_cgroup *kc_pod_take_cgroup(struct kc_pod *pod)
{
	return pod->sb ? kc_sandbox_take_cgroup(pod->sb) : NULL;
}

void kc_pod_agent_metrics(struct kc_pod *pod, const Grpc__GetMetricsRequest *req, kc_agent_fn fn,
			  void *ctx)
{
	kc_agent_get_metrics(pod->agent, req, fn, ctx);
}

void kc_pod_vm_pids(const struct kc_pod *pod, pid_t *hypervisor, pid_t *virtiofsd)
{
	*hypervisor = *virtiofsd = 0;
	if (pod->sb && !pod->dead)
		kc_sandbox_vm_pids(pod->sb, hypervisor, virtiofsd);
}

const char *kc_pod_agent_uri(const struct kc_pod *pod)
{
	return pod->sb ? kc_sandbox_agent_uri(pod->sb) : NULL;
}

const char *kc_pod_state_dir(const struct kc_pod *pod)
{
	return pod->sb ? kc_sandbox_state_dir(pod->sb) : NULL;
}

int kc_pod_set_monitor_socket(struct kc_pod *pod, const char *path, kc_error_t *err)
{
	if (!pod->sb)
		return kc_error_set_status(err, ENOTCONN, "the pod has no sandbox");
	return kc_sandbox_state_monitor(pod->sb, path, err);
}

void kc_pod_agent_check(struct kc_pod *pod, const Grpc__CheckRequest *req, kc_agent_fn fn, void *ctx)
{
	kc_agent_health_check(pod->agent, req, fn, ctx);
}

struct kc_ctr *kc_pod_find(struct kc_pod *pod, const char *id)
{
	for (struct kc_ctr *c = pod->containers; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

struct kc_ctr *kc_pod_container(struct kc_pod *pod, const char *id)
{
	struct kc_ctr *c = kc_pod_find(pod, id);

	return c && !c->deleting ? c : NULL;
}

/* ---- the sandbox ---- */

/* What ends the sandbox's connection, whichever way it goes: the calls
 * still in flight fail, and later ones with ENOTCONN. */
static void sandbox_disconnect(struct kc_pod *pod)
{
	if (pod->vm_watch)
		kc_loop_watch_remove(pod->vm_watch);
	pod->vm_watch = NULL;
	pod->dead = true;
	kc_portfwd_free(pod->portfwd);
	pod->portfwd = NULL;
	kc_agent_close(&pod->agent);
}

void kc_pod_died(struct kc_pod *pod)
{
	cleanup_free char *why = NULL;

	if (pod->dead)
		return;
	/* QEMU goes too when virtiofsd did: a guest without its file system
	 * would hang every process of it. */
	why = pod->sb ? kc_sandbox_lost(pod->sb) : kc_xstrdup("no sandbox");
	kc_warn("the sandbox is lost (%s): its VM is stopped and every process exits with 255", why);
	sandbox_disconnect(pod);
	/* As Kata: every process still running exits with 255. */
	for (struct kc_ctr *c = pod->containers; c; c = c->next) {
		kc_proc_lost(&c->init);
		for (struct kc_proc *p = c->execs; p; p = p->next)
			kc_proc_lost(p);
	}
	if (pod->ev.died)
		pod->ev.died(pod->ev.data, why);
}

/* Stops the VM and removes the sandbox. */
static void sandbox_teardown(struct kc_pod *pod)
{
	cleanup_error kc_error_t err = NULL;

	sandbox_disconnect(pod);
	if (pod->sb && kc_sandbox_stop(pod->sb, &err) < 0)
		kc_warn("stopping sandbox: %s", err->msg);
	kc_sandbox_free(pod->sb);
	pod->sb = NULL;
}

void kc_pod_free(struct kc_pod *pod)
{
	if (!pod)
		return;
	while (pod->containers) {
		struct kc_ctr *c = pod->containers;

		pod->containers = c->next;
		kc_ctr_free(c);
	}
	sandbox_teardown(pod);
	kc_vwatch_free(pod->vwatch);
	if (pod->cfg_loaded)
		kc_config_free(&pod->cfg);
	free(pod->config_path);
	free(pod->agent_binary);
	free(pod->owner_socket);
	free(pod->ns);
	free(pod);
}

static void on_vm_exit(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	kc_pod_died(data);
}

static int load_config(struct kc_pod *pod, json_t *spec, kc_error_t *err)
{
	json_t *ann = json_object_get(spec, "annotations");
	cleanup_free const char **keys = NULL, **vals = NULL;
	size_t n = 0;
	const char *k;
	json_t *v;
	int ret;

	if (!pod->cfg_loaded) {
		ret = kc_config_load(pod->config_path, &pod->cfg, NULL, err);
		if (ret < 0)
			return ret;
		pod->cfg_loaded = true;
		/* Kata's [runtime] enable_debug: the runtime's (this process's)
		 * log at debug level, as containerd's -debug asks too. */
		if (pod->cfg.runtime.enable_debug)
			kc_log_set_level(KC_LOG_DEBUG);
	}
	keys = kc_xzalloc((json_object_size(ann) + 1) * sizeof(*keys));
	vals = kc_xzalloc((json_object_size(ann) + 1) * sizeof(*vals));
	json_object_foreach(ann, k, v)
	{
		if (!json_is_string(v))
			continue;
		keys[n] = k;
		vals[n++] = json_string_value(v);
	}
	return kc_config_apply_annotations(&pod->cfg, keys, vals, n, err);
}

static int sandbox_boot(struct kc_pod *pod, const char *sid, json_t *spec, kc_error_t *err)
{
	cleanup_error kc_error_t pferr = NULL;
	struct kc_sandbox_opts o = { 0 };
	unsigned vcpus, mib;
	int fd, ret;

	ret = load_config(pod, spec, err);
	if (ret < 0)
		return ret;
	kc_spec_sizing(spec, (unsigned)pod->cfg.hypervisor.default_vcpus,
		       (unsigned)pod->cfg.hypervisor.default_maxvcpus,
		       (unsigned)pod->cfg.hypervisor.default_memory,
		       (unsigned)pod->cfg.hypervisor.default_maxmemory, &vcpus, &mib);
	o.cfg = &pod->cfg;
	o.id = sid;
	o.vcpus = vcpus;
	o.memory_mib = mib;
	o.agent_binary = pod->agent_binary;
	o.spec = spec;
	o.owner_socket = pod->owner_socket;
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
	ret = kc_sandbox_start(&o, &pod->sb, err);
	if (ret < 0)
		return ret;
	fd = kc_sandbox_take_agent_fd(pod->sb);
	if (fd < 0)
		fd = kc_ttrpc_dial(kc_sandbox_agent_uri(pod->sb), 5 * NS_SEC, err);
	if (fd < 0 ||
	    kc_agent_new(pod->loop, fd, (uint64_t)pod->cfg.runtime.create_container_timeout * NS_SEC,
			 &pod->agent, err) < 0 ||
	    kc_loop_watch_fd(pod->loop, kc_sandbox_watch_fd(pod->sb), EPOLLIN, on_vm_exit, pod,
			     &pod->vm_watch, err) < 0) {
		ret = kc_error_wrap(err, "connecting to the agent of `%s`", sid);
		kc_agent_close(&pod->agent);
		kc_sandbox_free(pod->sb);
		pod->sb = NULL;
		return ret;
	}
	pod->dead = false;
	/* Port forwarding is not worth failing the pod for: without it,
	 * containerd's PortForward is refused as before. */
	if (kc_portfwd_start(pod, &pod->portfwd, &pferr) < 0)
		kc_log_error_free(KC_LOG_WARNING, &pferr, "sandbox `%s`", sid);
	return 0;
}

/* ---- create ---- */

struct create_ctx {
	struct kc_pod *pod;
	struct kc_ctr *c;
	json_t *spec;
	struct kc_rootfs_mount *rootfs; /* copies */
	size_t n_rootfs;
	bool new_sandbox;
	kc_done_fn done;
	void *ctx;
};

static void create_ctx_free(struct create_ctx *x)
{
	x->pod->creating--;
	json_decref(x->spec);
	for (size_t i = 0; i < x->n_rootfs; i++) {
		free((char *)x->rootfs[i].type);
		free((char *)x->rootfs[i].source);
		free((char *)x->rootfs[i].target);
		kc_free_strv((char **)x->rootfs[i].options);
	}
	free(x->rootfs);
	free(x);
}

static void create_fail(struct kc_pod *pod, struct create_ctx *x, kc_error_t *err)
{
	struct kc_container_env env;
	cleanup_error kc_error_t cerr = NULL;
	kc_done_fn done = x->done;
	void *ctx = x->ctx;

	kc_vwatch_remove(pod->vwatch, x->c->id);
	if (pod->sb) {
		kc_sandbox_container_env(pod->sb, &env);
		if (kc_container_cleanup(&env, x->c->id, x->c->bundle, &cerr) < 0)
			kc_warn("cleanup of %s: %s", x->c->id, cerr->msg);
	}
	if (x->new_sandbox && !pod->containers)
		sandbox_teardown(pod);
	kc_error_wrap(err, "create `%s`", x->c->id);
	kc_ctr_free(x->c);
	create_ctx_free(x);
	done(ctx, err);
}

static void on_container_created(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct create_ctx *x = ctx;
	struct kc_pod *pod = x->pod;
	kc_done_fn done = x->done;
	void *dctx = x->ctx;

	(void)m;
	if (err) {
		create_fail(pod, x, err);
		return;
	}
	x->c->next = pod->containers;
	pod->containers = x->c;
	kc_info("container %s created", x->c->id);
	kc_sandbox_state_container(pod->sb, x->c->id, x->c->bundle, KC_PROC_CREATED);
	create_ctx_free(x);
	done(dctx, NULL);
}

static void create_container(struct kc_pod *pod, struct create_ctx *x)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_ctr *c = x->c;
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	struct kc_container_env env;
	struct kc_guest_storages gs = { 0 };
	cleanup_free Grpc__Storage *st = NULL;
	cleanup_free Grpc__Storage **sts = NULL;
	cleanup_free char *json = NULL;
	uint64_t sandbox_ns = 0;
	json_t *root;

	kc_sandbox_container_env(pod->sb, &env);
	root = json_object_get(json_object_get(x->spec, "root"), "path");
	if (kc_rootfs_setup(&env, c->id, c->bundle,
			    json_is_string(root) ? json_string_value(root) : NULL, x->rootfs,
			    x->n_rootfs, &err) < 0 ||
	    kc_spec_for_guest(&env, c->id, x->spec, &gs, &sandbox_ns, &err) < 0 ||
	    kc_pod_watch_volumes(pod, c->id, &gs, &err) < 0 || kc_io_open(&c->init, &err) < 0) {
		kc_guest_storages_free(&gs);
		create_fail(pod, x, &err);
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
	kc_agent_create_container(pod->agent, &req, on_container_created, x);
	kc_guest_storages_free(&gs);
}

static void oom_poll(struct kc_pod *pod);

/* GetOOMEvent is a long poll: each answer names a container whose process
 * the guest's OOM killer hit (Kata's shim publishes it as TaskOOM). */
static void on_oom(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_pod *pod = ctx;
	const Grpc__OOMEvent *r = (const void *)m;

	pod->oom_call = 0;
	if (err) {
		/* An agent without it, or the sandbox going: stop asking. */
		kc_debug("GetOOMEvent: %s", (*err)->msg);
		return;
	}
	if (r && r->container_id[0] && kc_pod_find(pod, r->container_id)) {
		kc_info("container %s: out of memory", r->container_id);
		if (pod->ev.oom)
			pod->ev.oom(pod->ev.data, r->container_id);
	}
	oom_poll(pod);
}

static void oom_poll(struct kc_pod *pod)
{
	Grpc__GetOOMEventRequest req = GRPC__GET_OOMEVENT_REQUEST__INIT;

	if (pod->dead || pod->oom_call)
		return;
	pod->oom_call = kc_agent_get_oom_event(pod->agent, &req, on_oom, pod);
}

static void on_sandbox_created(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_pod *pod = ((struct create_ctx *)ctx)->pod;

	(void)m;
	if (err) {
		create_fail(pod, ctx, err);
		return;
	}
	oom_poll(pod);
	create_container(pod, ctx);
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

static void create_sandbox(struct kc_pod *pod, struct create_ctx *x)
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
	req.sandbox_id = (char *)kc_sandbox_id(pod->sb);
	for (char *const *d = kc_sandbox_dns(pod->sb); d && d[req.n_dns];)
		req.n_dns++;
	req.dns = (char **)kc_sandbox_dns(pod->sb);
	if (kc_sandbox_share_is_virtiofs(pod->sb)) {
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
	kernel_modules_build(&pod->cfg.agent.kernel_modules, &km);
	req.kernel_modules = km.ptrs;
	req.n_kernel_modules = km.n;
	kc_agent_create_sandbox(pod->agent, &req, on_sandbox_created, x);
	kernel_modules_free(&km);
}

static void on_guest_net(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct kc_pod *pod = ((struct create_ctx *)ctx)->pod;

	(void)m;
	if (err) {
		create_fail(pod, ctx, err);
		return;
	}
	create_sandbox(pod, ctx);
}

static void create_start(struct create_ctx *x)
{
	struct kc_pod *pod = x->pod;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *cfgpath = kc_xasprintf("%s/config.json", x->c->bundle);
	const char *type, *sid;

	if (kc_json_load_file(cfgpath, &x->spec, &err) < 0) {
		create_fail(pod, x, &err);
		return;
	}
	if (json_object_get(x->spec, "process") == NULL) {
		kc_error_set(&err, EINVAL, "`%s`: process is missing", cfgpath);
		create_fail(pod, x, &err);
		return;
	}
	type = kc_spec_annotation(x->spec, TYPE_ANNOTATION);
	sid = kc_spec_annotation(x->spec, SANDBOX_ANNOTATION);
	if (type && strcmp(type, "container") == 0) {
		if (!pod->sb || !sid || strcmp(sid, kc_sandbox_id(pod->sb)) != 0) {
			kc_error_set(&err, ENOENT,
				     "sandbox `%s` of container `%s` is not in this pod",
				     sid ? sid : "", x->c->id);
			create_fail(pod, x, &err);
			return;
		}
	}
	if (!pod->sb) {
		if (pod->dead && pod->cfg_loaded) {
			kc_error_set(&err, ENOTCONN, "the sandbox of this pod is gone");
			create_fail(pod, x, &err);
			return;
		}
		x->new_sandbox = true;
		if (kc_spec_check_host_namespaces(x->spec, &err) < 0 ||
		    sandbox_boot(pod, x->c->id, x->spec, &err) < 0) {
			create_fail(pod, x, &err);
			return;
		}
		kc_guest_net_configure(pod, on_guest_net, x);
		return;
	}
	create_container(pod, x);
}

int kc_ctr_create(struct kc_pod *pod, const struct kc_ctr_opts *o, kc_done_fn done, void *ctx,
		  kc_error_t *err)
{
	struct create_ctx *x;
	int ret;

	ret = kc_check_id("container id", o->id, err);
	if (ret < 0)
		return ret;
	if (kc_pod_find(pod, o->id))
		return kc_error_set_status(err, EEXIST, "container `%s` already exists", o->id);
	if (!o->bundle || o->bundle[0] != '/')
		return kc_error_set_status(err, EINVAL, "bundle `%s` is not absolute",
					   o->bundle ? o->bundle : "");
	x = kc_xzalloc(sizeof(*x));
	pod->creating++;
	x->pod = pod;
	x->done = done;
	x->ctx = ctx;
	x->rootfs = kc_xzalloc((o->n_rootfs + 1) * sizeof(*x->rootfs));
	x->n_rootfs = o->n_rootfs;
	for (size_t i = 0; i < o->n_rootfs; i++) {
		const struct kc_rootfs_mount *m = &o->rootfs[i];
		char **opts = kc_xzalloc((m->n_options + 1) * sizeof(char *));

		for (size_t j = 0; j < m->n_options; j++)
			opts[j] = kc_xstrdup(m->options[j]);
		x->rootfs[i].type = kc_xstrdup(m->type ? m->type : "");
		x->rootfs[i].source = kc_xstrdup(m->source ? m->source : "");
		x->rootfs[i].target = kc_xstrdup(m->target ? m->target : "");
		x->rootfs[i].options = opts;
		x->rootfs[i].n_options = m->n_options;
	}
	x->c = kc_xzalloc(sizeof(*x->c));
	x->c->pod = pod;
	x->c->id = kc_xstrdup(o->id);
	x->c->bundle = kc_xstrdup(o->bundle);
	kc_proc_init(x->c, &x->c->init, "", o->terminal, o->stdin_path, o->stdout_path,
		     o->stderr_path);
	create_start(x);
	return 0;
}

/* ---- delete ---- */

struct delete_ctx {
	struct kc_ctr *c;
	kc_done_fn done;
	void *ctx;
};

static void on_removed(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct delete_ctx x = *(struct delete_ctx *)ctx;
	struct kc_ctr *c = x.c;
	struct kc_pod *pod = c->pod;
	cleanup_error kc_error_t cerr = NULL;
	struct kc_container_env env;

	(void)m;
	free(ctx);
	if (err)
		kc_warn("RemoveContainer %s: %s", c->id, (*err)->msg);
	kc_io_close(&c->init);
	kc_vwatch_remove(pod->vwatch, c->id);
	if (pod->sb) {
		kc_sandbox_container_env(pod->sb, &env);
		if (kc_container_cleanup(&env, c->id, c->bundle, &cerr) < 0) {
			c->deleting = false;
			x.done(x.ctx, &cerr);
			return;
		}
	}
	kc_sandbox_state_gone(pod->sb, c->id, NULL);
	x.done(x.ctx, NULL);
	for (struct kc_ctr **pp = &pod->containers; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	kc_ctr_free(c);
}

void kc_ctr_delete(struct kc_ctr *c, kc_done_fn done, void *ctx)
{
	Grpc__RemoveContainerRequest rr = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	cleanup_error kc_error_t err = NULL;
	struct delete_ctx *x;

	if (c->init.i.status == KC_PROC_RUNNING || c->init.i.status == KC_PROC_PAUSED) {
		kc_error_set_status(&err, EBUSY, "process `%s` is still running", c->id);
		done(ctx, &err);
		return;
	}
	c->deleting = true;
	x = kc_xzalloc(sizeof(*x));
	*x = (struct delete_ctx){ c, done, ctx };
	rr.container_id = c->id;
	kc_agent_remove_container(c->pod->agent, &rr, on_removed, x);
}

/* ---- blocking ---- */

void kc_sync_done(void *ctx, kc_error_t *err)
{
	struct kc_sync *sync = ctx;

	sync->done = true;
	if (err)
		kc_error_set_status(&sync->err, (*err)->status, "%s", (*err)->msg);
}

int kc_sync_wait(struct kc_loop *loop, struct kc_sync *sync, kc_error_t *err)
{
	int ret;

	while (!sync->done) {
		ret = kc_loop_run_once(loop, -1, err);
		if (ret < 0)
			return ret;
	}
	if (!sync->err)
		return 0;
	ret = kc_error_ret(&sync->err);
	if (err)
		*err = sync->err;
	else
		kc_error_free(&sync->err);
	sync->err = NULL;
	return ret;
}
