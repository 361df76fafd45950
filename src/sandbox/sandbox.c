/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "agent_proc.h"
#include "host/host_cgroup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mount.h"
#include "hypervisor/hypervisor.h"
#include "sandbox_net.h"
#include "state.h"

struct kc_sandbox {
	char *id;
	char *base_dir, *mounts_dir, *shared_dir, *run_dir;
	bool virtiofs;
	bool stopped;
	bool disable_guest_seccomp;
	bool guest_empty_dir;
	char *emptydir_mode;
	struct kc_vm *vm;
	pid_t agent_pid; /* host agent */
	int agent_pidfd;
	char *agent_uri;
	struct kc_host_cgroup *cgroup;
	struct kc_sandbox_net net; /* sandbox_net.c */
	/* The state that outlives us (state.h): KC_STATE_ROOT/<id>, owned
	 * while state_lock is held (-1: not ours). */
	char *state_dir;
	int state_lock;
	struct kc_sandbox_state st;
};

/* mounts/ becomes a shared mount and shared/ a read-only slave bind of it:
 * what is mounted under mounts/ later shows up in shared/, and the guest
 * cannot create anything at the top of the share. */
static int share_setup(struct kc_sandbox *sb, kc_error_t *err)
{
	int ret;

	ret = kc_mkdir_p(sb->mounts_dir, err);
	if (ret < 0)
		return ret;
	ret = kc_mkdir_p(sb->shared_dir, err);
	if (ret < 0)
		return ret;
	if (mount(sb->mounts_dir, sb->mounts_dir, NULL, MS_BIND, NULL) < 0)
		return kc_error_set(err, errno, "bind mount `%s` on itself", sb->mounts_dir);
	if (mount(NULL, sb->mounts_dir, NULL, MS_SHARED, NULL) < 0)
		return kc_error_set(err, errno, "make `%s` shared", sb->mounts_dir);
	if (mount(sb->mounts_dir, sb->shared_dir, NULL, MS_BIND, NULL) < 0)
		return kc_error_set(err, errno, "bind mount `%s` on `%s`", sb->mounts_dir,
				    sb->shared_dir);
	if (mount(NULL, sb->shared_dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return kc_error_set(err, errno, "remount `%s` read-only", sb->shared_dir);
	if (mount(NULL, sb->shared_dir, NULL, MS_SLAVE, NULL) < 0)
		return kc_error_set(err, errno, "make `%s` a slave", sb->shared_dir);
	return 0;
}

static void paths(struct kc_sandbox *sb, const char *id)
{
	sb->id = kc_xstrdup(id);
	sb->base_dir = kc_xasprintf("%s/%s", KC_SANDBOXES_DIR, id);
	sb->mounts_dir = kc_xasprintf("%s/mounts", sb->base_dir);
	sb->shared_dir = kc_xasprintf("%s/shared", sb->base_dir);
	sb->run_dir = kc_xasprintf("%s/%s", KC_VM_RUN_DIR, id);
	sb->state_dir = kc_xasprintf("%s/%s", KC_STATE_ROOT, id);
	sb->state_lock = -1;
}

static void state_save(struct kc_sandbox *sb)
{
	cleanup_error kc_error_t err = NULL;

	if (sb->state_lock >= 0 && kc_state_write(sb->state_dir, &sb->st, &err) < 0)
		kc_warn("sandbox %s: %s", sb->id, err->msg);
}

static const char *spec_annotation(const json_t *spec, const char *key)
{
	json_t *v = json_object_get(json_object_get(spec, "annotations"), key);

	return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

/* The Kubernetes pod, from the sandbox container's CRI annotations: a pod
 * needs at least its name and namespace to be told apart. */
static void state_cri(struct kc_sandbox_state *st, const json_t *spec)
{
	const char *name = spec_annotation(spec, KC_CRI_SANDBOX_NAME);
	const char *ns = spec_annotation(spec, KC_CRI_SANDBOX_NAMESPACE);
	const char *uid = spec_annotation(spec, KC_CRI_SANDBOX_UID);

	if (!name || !ns)
		return;
	st->cri_name = kc_xstrdup(name);
	st->cri_namespace = kc_xstrdup(ns);
	st->cri_uid = uid ? kc_xstrdup(uid) : NULL;
}

/* The owner, its dirs, cgroup and network: written before the VM starts,
 * so that a shim killed while it boots leaves enough to clean up. */
static int state_begin(struct kc_sandbox *sb, const struct kc_sandbox_opts *o, kc_error_t *err)
{
	struct kc_sandbox_state *st = &sb->st;
	const struct kc_podnet *net = sb->net.net;

	st->id = kc_xstrdup(sb->id);
	st->owner_pid = getpid();
	if (kc_proc_start_time(st->owner_pid, &st->owner_start_time, err) < 0)
		return kc_error_ret(err);
	st->run_dir = kc_xstrdup(sb->run_dir);
	st->share_dir = kc_xstrdup(sb->base_dir);
	st->owner_socket = o->owner_socket ? kc_xasprintf("unix://%s", o->owner_socket) : NULL;
	st->cgroup = o->cgroup_path ? kc_xstrdup(o->cgroup_path) : NULL;
	state_cri(st, o->spec);
	if (net && net->netns_path) {
		st->netns = kc_xstrdup(net->netns_path);
		st->taps = kc_xzalloc((net->n_endpoints + 1) * sizeof(*st->taps));
		for (size_t i = 0; i < net->n_endpoints; i++) {
			if (!net->endpoints[i].connected)
				continue;
			st->taps[st->n_taps].link = kc_xstrdup(net->endpoints[i].name);
			st->taps[st->n_taps++].tap = kc_xstrdup(net->endpoints[i].tap_name);
		}
	}
	return kc_state_write(sb->state_dir, st, err);
}

static int state_proc(struct kc_sandbox *sb, const char *what, pid_t pid, kc_error_t *err)
{
	struct kc_state_proc *p;
	int ret;

	sb->st.procs = kc_xrealloc(sb->st.procs, (sb->st.n_procs + 1) * sizeof(*sb->st.procs));
	p = &sb->st.procs[sb->st.n_procs];
	p->pid = pid;
	ret = kc_proc_start_time(pid, &p->start_time, err);
	if (ret < 0)
		return kc_error_wrap(err, "the start time of %s", what);
	p->what = kc_xstrdup(what);
	sb->st.n_procs++;
	return 0;
}

/* The VM is up: its processes and sockets. */
static int state_vm_up(struct kc_sandbox *sb, kc_error_t *err)
{
	int ret = 0;

	if (sb->vm) {
		struct kc_vm_parts parts;

		kc_vm_parts(sb->vm, &parts);
		for (size_t i = 0; i < parts.n_procs && ret >= 0; i++)
			ret = state_proc(sb, parts.procs[i].what, parts.procs[i].pid, err);
		if (parts.qmp_socket)
			sb->st.qmp_socket = kc_xstrdup(parts.qmp_socket);
	} else {
		ret = state_proc(sb, "agent", sb->agent_pid, err);
	}
	if (ret < 0)
		return ret;
	sb->st.agent_uri = kc_xstrdup(kc_sandbox_agent_uri(sb));
	return kc_state_write(sb->state_dir, &sb->st, err);
}

int kc_sandbox_start(const struct kc_sandbox_opts *o, struct kc_sandbox **out, kc_error_t *err)
{
	struct kc_sandbox *sb;
	uint64_t timeout = (uint64_t)(o->cfg->agent.dial_timeout > 0 ? o->cfg->agent.dial_timeout
								     : 30) *
			   1000000000ull;
	int ret;

	ret = kc_check_id("sandbox id", o->id, err);
	if (ret < 0)
		return ret;
	sb = kc_xzalloc(sizeof(*sb));
	sb->agent_pidfd = -1;
	sb->disable_guest_seccomp = o->cfg->runtime.disable_guest_seccomp;
	sb->guest_empty_dir = !o->cfg->runtime.disable_guest_empty_dir;
	sb->emptydir_mode = o->cfg->runtime.emptydir_mode ? kc_xstrdup(o->cfg->runtime.emptydir_mode)
							  : NULL;
	paths(sb, o->id);
	if (access(sb->base_dir, F_OK) == 0) {
		ret = kc_error_set(err, EEXIST, "sandbox `%s`: `%s` already exists", o->id,
				   sb->base_dir);
		sb->stopped = true; /* not ours: leave it alone */
		goto fail;
	}
	ret = kc_state_claim(sb->state_dir, &sb->state_lock, err);
	if (ret < 0) {
		sb->stopped = true;
		goto fail;
	}
	ret = share_setup(sb, err);
	if (ret >= 0)
		ret = kc_mkdir_p(sb->run_dir, err);
	/* Before the VMM and virtiofsd start: they inherit it. */
	if (ret >= 0 && o->cgroup_path && o->cfg->runtime.sandbox_cgroup_only)
		ret = kc_host_cgroup_enter(o->cgroup_path, &sb->cgroup, err);
	else if (ret >= 0 && o->cgroup_path)
		ret = kc_host_cgroup_create(o->cgroup_path, &sb->cgroup, err);
	/* The pod's network before the VM: QEMU gets its TAPs. */
	if (ret >= 0)
		ret = kc_sandbox_net_setup(&sb->net, o->cfg, o->spec, o->agent_binary != NULL, err);
	if (ret >= 0)
		ret = state_begin(sb, o, err);
	if (ret < 0)
		goto fail;
	if (o->agent_binary) {
		ret = kc_agent_proc_start(o->agent_binary, sb->run_dir, timeout, &sb->agent_pid,
					  &sb->agent_pidfd, &sb->agent_uri, err);
		/* The host agent stands for the vCPUs (it has one thread). */
		if (ret >= 0 && sb->cgroup && !o->cfg->runtime.sandbox_cgroup_only)
			kc_host_cgroup_add_threads(sb->cgroup, sb->agent_pid, &sb->agent_pid, 1);
	} else {
		struct kc_vm_spec spec = {
			.cfg = o->cfg,
			.id = o->id,
			.run_dir = sb->run_dir,
			.shared_dir = sb->shared_dir,
			.vcpus = o->vcpus,
			.memory_mib = o->memory_mib,
			.agent_timeout_ns = timeout,
			.keep_agent_conn = true,
			.netdevs = sb->net.netdevs,
			.n_netdevs = sb->net.n_netdevs,
			.vcpu_cgroup = o->cfg->runtime.sandbox_cgroup_only ? NULL : sb->cgroup,
		};

		ret = kc_vm_start(&spec, &sb->vm, err);
		sb->virtiofs = true;
	}
	if (ret >= 0)
		ret = state_vm_up(sb, err);
	if (ret < 0)
		goto fail;
	kc_info("sandbox %s started (%s)", o->id, kc_sandbox_agent_uri(sb));
	*out = sb;
	return 0;
fail:
	kc_error_wrap(err, "starting sandbox `%s`", o->id);
	kc_sandbox_free(sb);
	return ret;
}

const char *kc_sandbox_id(const struct kc_sandbox *sb)
{
	return sb->id;
}

const char *kc_sandbox_agent_uri(const struct kc_sandbox *sb)
{
	if (sb->vm)
		return kc_vm_agent_uri(sb->vm);
	return sb->agent_uri;
}

pid_t kc_sandbox_pid(const struct kc_sandbox *sb)
{
	if (sb->vm)
		return kc_vm_pid(sb->vm);
	return sb->agent_pid;
}

int kc_sandbox_watch_fd(const struct kc_sandbox *sb)
{
	if (sb->vm)
		return kc_vm_watch_fd(sb->vm);
	return sb->agent_pidfd;
}

char *kc_sandbox_lost(struct kc_sandbox *sb)
{
	if (sb->vm)
		return kc_vm_lost(sb->vm);
	/* The host agent is the sandbox's only process: nothing else to stop. */
	return kc_xasprintf("the host agent (pid %d) exited", (int)sb->agent_pid);
}

int kc_sandbox_take_agent_fd(struct kc_sandbox *sb)
{
	return sb->vm ? kc_vm_take_agent_fd(sb->vm) : -1;
}

const struct kc_podnet *kc_sandbox_podnet(const struct kc_sandbox *sb)
{
	return sb->net.n_netdevs ? sb->net.net : NULL;
}

char *const *kc_sandbox_dns(const struct kc_sandbox *sb)
{
	return sb->net.dns;
}

bool kc_sandbox_share_is_virtiofs(const struct kc_sandbox *sb)
{
	return sb->virtiofs;
}

void kc_sandbox_container_env(const struct kc_sandbox *sb, struct kc_container_env *env)
{
	env->mounts_dir = sb->mounts_dir;
	env->guest_share = sb->virtiofs ? KC_GUEST_SHARE : sb->shared_dir;
	env->disable_guest_seccomp = sb->disable_guest_seccomp;
	env->host_agent = !sb->virtiofs;
	env->task_pid = kc_sandbox_pid(sb);
	env->guest_empty_dir = sb->guest_empty_dir;
	env->emptydir_mode = sb->emptydir_mode;
}

static int remove_dirs(const char *base_dir, const char *run_dir, kc_error_t *err)
{
	int ret;

	ret = kc_umount_below(base_dir, err);
	if (ret >= 0)
		ret = kc_rm_tree(base_dir, err);
	if (ret >= 0)
		ret = kc_rm_tree(run_dir, err);
	return ret < 0 ? ret : 0;
}

int kc_sandbox_stop(struct kc_sandbox *sb, kc_error_t *err)
{
	int ret = 0;

	if (sb->stopped)
		return 0;
	if (sb->vm) {
		ret = kc_vm_stop(sb->vm, err);
		kc_vm_free(sb->vm);
		sb->vm = NULL;
		if (ret < 0)
			kc_warn("stopping the VM of %s: %s", sb->id, (*err)->msg);
		kc_error_free(err);
	}
	if (sb->agent_pid > 0)
		kc_agent_proc_stop(sb->agent_pid, sb->agent_pidfd);
	sb->agent_pid = 0;
	sb->agent_pidfd = -1;
	/* Only now that QEMU let go of the TAPs. */
	kc_sandbox_net_teardown(&sb->net);
	kc_host_cgroup_leave(sb->cgroup);
	sb->cgroup = NULL;
	ret = remove_dirs(sb->base_dir, sb->run_dir, err);
	if (ret < 0)
		return ret;
	/* The state goes last, still locked: until then a cleaner after a
	 * crash would find what is left. */
	if (sb->state_lock >= 0) {
		ret = kc_state_remove(sb->state_dir, err);
		if (ret < 0)
			return ret;
		close(kc_steal_fd(&sb->state_lock));
	}
	sb->stopped = true;
	return 0;
}

struct kc_host_cgroup *kc_sandbox_take_cgroup(struct kc_sandbox *sb)
{
	struct kc_host_cgroup *cg = sb->cgroup;

	sb->cgroup = NULL;
	return cg;
}

void kc_sandbox_free(struct kc_sandbox *sb)
{
	cleanup_error kc_error_t err = NULL;

	if (!sb)
		return;
	if (kc_sandbox_stop(sb, &err) < 0)
		kc_warn("sandbox %s: %s", sb->id, err->msg);
	free(sb->id);
	free(sb->base_dir);
	free(sb->mounts_dir);
	free(sb->shared_dir);
	free(sb->run_dir);
	free(sb->state_dir);
	if (sb->state_lock >= 0)
		close(sb->state_lock);
	kc_state_clear(&sb->st);
	free(sb->agent_uri);
	free(sb->emptydir_mode);
	free(sb);
}

void kc_sandbox_state_container(struct kc_sandbox *sb, const char *id, const char *bundle,
				int status)
{
	if (!sb)
		return;
	kc_state_set_container(&sb->st, id, bundle, (enum kc_state_status)status);
	state_save(sb);
}

void kc_sandbox_state_process(struct kc_sandbox *sb, const char *cid, const char *eid, int status,
			      uint32_t exit_status)
{
	if (!sb)
		return;
	kc_state_set_process(&sb->st, cid, eid, (enum kc_state_status)status, exit_status);
	state_save(sb);
}

void kc_sandbox_state_gone(struct kc_sandbox *sb, const char *cid, const char *eid)
{
	if (!sb)
		return;
	kc_state_drop(&sb->st, cid, eid);
	state_save(sb);
}

/* What the state of a dead owner records: its processes (those still the
 * ones recorded) are killed and its pod network undone.  The cgroup it
 * names replaces the caller's guess. */
static int cleanup_recorded(const struct kc_sandbox_state *st, kc_error_t *err)
{
	cleanup_free const char **links = kc_xzalloc((st->n_taps + 1) * sizeof(*links));
	cleanup_free const char **taps = kc_xzalloc((st->n_taps + 1) * sizeof(*taps));
	int ret;

	for (size_t i = 0; i < st->n_procs; i++) {
		ret = kc_state_kill(&st->procs[i], SIGKILL, err);
		if (ret < 0)
			return ret;
		if (ret == 0)
			kc_info("sandbox %s: %s (pid %d) is gone or not ours: left alone", st->id,
				st->procs[i].what, (int)st->procs[i].pid);
	}
	/* Only now that QEMU let go of the TAPs. */
	for (size_t i = 0; i < st->n_taps; i++) {
		links[i] = st->taps[i].link;
		taps[i] = st->taps[i].tap;
	}
	if (st->netns)
		return kc_podnet_cleanup_dead(st->netns, links, taps, st->n_taps, err);
	return 0;
}

int kc_sandbox_cleanup_dead(const char *id, const char *cgroup_path, kc_error_t *err)
{
	struct kc_sandbox sb = { 0 };
	struct kc_sandbox_state st = { 0 };
	cleanup_close int lock = -1;
	bool have_state = false;
	int ret;

	ret = kc_check_id("sandbox id", id, err);
	if (ret < 0)
		return ret;
	paths(&sb, id);
	ret = kc_state_lock(sb.state_dir, &lock, err);
	if (ret == -EBUSY) {
		kc_info("sandbox %s: %s: left to it", id, (*err)->msg);
		kc_error_free(err);
		ret = 1;
		goto out;
	}
	if (ret < 0 && ret != -ENOENT)
		goto out;
	if (ret == -ENOENT) {
		/* No state (an older shim's sandbox, or none at all). */
		kc_error_free(err);
	} else {
		cleanup_error kc_error_t e = NULL;

		/* A state that cannot be trusted kills nothing: what follows
		 * finds the processes by the sandbox's paths as before. */
		have_state = kc_state_read(sb.state_dir, &st, &e) == 0;
		if (!have_state && e->status != ENOENT)
			kc_warn("sandbox %s: %s: cleaning up without it", id, e->msg);
		if (have_state && st.cgroup)
			cgroup_path = st.cgroup;
	}
	ret = have_state ? cleanup_recorded(&st, err) : 0;
	/* What the recorded processes started is found by the paths: the VMM
	 * and virtiofsd (and its sandbox child) name them on their command
	 * lines; the host agent's containers have their root below the share. */
	if (ret >= 0) {
		cleanup_free char *m1 = kc_xasprintf("%s/", sb.run_dir);
		cleanup_free char *m2 = kc_xasprintf("%s/", sb.base_dir);

		ret = kc_kill_procs_matching(m1, err);
		if (ret >= 0)
			ret = kc_kill_procs_matching(m2, err);
	}
	if (ret >= 0)
		ret = remove_dirs(sb.base_dir, sb.run_dir, err);
	if (ret >= 0 && cgroup_path)
		kc_host_cgroup_remove(cgroup_path);
	if (ret >= 0 && lock >= 0)
		ret = kc_state_remove(sb.state_dir, err);
	if (ret >= 0)
		ret = 0;
out:
	kc_state_clear(&st);
	free(sb.id);
	free(sb.base_dir);
	free(sb.mounts_dir);
	free(sb.shared_dir);
	free(sb.run_dir);
	free(sb.state_dir);
	return ret;
}

bool kc_sandbox_owner_alive(const char *id)
{
	cleanup_free char *dir = kc_xasprintf("%s/%s", KC_STATE_ROOT, id);

	return kc_state_owner_alive(dir, NULL);
}

const char *kc_sandbox_state_dir(const struct kc_sandbox *sb)
{
	return sb->state_dir;
}

int kc_sandbox_state_monitor(struct kc_sandbox *sb, const char *path, kc_error_t *err)
{
	free(sb->st.monitor_socket);
	sb->st.monitor_socket = path ? kc_xstrdup(path) : NULL;
	if (sb->state_lock < 0)
		return 0;
	return kc_state_write(sb->state_dir, &sb->st, err);
}

void kc_sandbox_vm_pids(const struct kc_sandbox *sb, pid_t *hypervisor, pid_t *virtiofsd)
{
	struct kc_vm_parts parts;

	*hypervisor = *virtiofsd = 0;
	if (!sb->vm)
		return;
	kc_vm_parts(sb->vm, &parts);
	for (size_t i = 0; i < parts.n_procs; i++) {
		if (strcmp(parts.procs[i].what, "qemu") == 0)
			*hypervisor = parts.procs[i].pid;
		else if (strcmp(parts.procs[i].what, "virtiofsd") == 0)
			*virtiofsd = parts.procs[i].pid;
	}
}
