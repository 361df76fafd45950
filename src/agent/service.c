/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grpc.AgentService: the sandbox, its containers and their processes.
 *
 * Containers run from their whole OCI spec (src/oci, container.c).
 * WaitProcess, ReadStdout, ReadStderr, RemoveContainer and PortForwardRead
 * (network/portfwd.c) are long polls:
 * the call is held (a waiter, io.c) and answered from the reaper or the
 * pipe's readiness, while the server goes on serving.
 * Every method this file does not handle answers UNIMPLEMENTED.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "agent/init/console.h"
#include "agent.pb-c.h"
#include "agent/init/guest.h"
#include "agent/network/network.h"
#include "agent/network/portfwd.h"
#include "agent/container/container.h"
#include "agent/container/io.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/util.h"
#include "agent/init/modules.h"
#include "oci/spec.h"
#include "agent/cgroup/cgroup_agent.h"
#include "agent/container/runtime.h"

/* The most bytes one ReadStdout answers, whatever the caller asks. */
#define READ_MAX (1u << 20)

/* ---- ids ---- */

/*
 * The longest id: an id becomes a path component in the guest (the
 * container's cgroup, its log field), so a file name's limit bounds it;
 * containerd's ids are at most 76 bytes and CRI's 64.
 */
#define ID_MAX 255
/* How much of a refused id its error shows. */
#define ID_SHOWN 64

/*
 * Kata's verify_id: a letter or digit, then letters, digits, '_', '.' and
 * '-'.  One character is enough here (Kata wants two): containerd accepts
 * one-character ids, and ctr's exec ids are whatever the user typed.
 */
static bool id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || (ch != '_' && ch != '.' && ch != '-')))
			return false;
	}
	return true;
}

/* The id as an error may show it: printable ASCII, the rest (and '`',
 * '\\') as \xNN, at most ID_SHOWN bytes of it. */
static char *id_shown(const char *id)
{
	size_t n = strlen(id), shown = n > ID_SHOWN ? ID_SHOWN : n;
	char *out = kc_xzalloc(shown * 4 + 48), *o = out;

	for (size_t i = 0; i < shown; i++) {
		unsigned char ch = (unsigned char)id[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '`' || ch == '\\')
			o += sprintf(o, "\\x%02x", ch);
		else
			*o++ = (char)ch;
	}
	if (shown < n)
		sprintf(o, "... (%zu bytes)", n);
	return out;
}

/*
 * The ids of every request, checked once before its handler runs: a
 * container id, an exec id or a sandbox id ends up in paths, logs and
 * error messages, so `../..`, a newline or 100 KB never get that far.
 * The fields are found by name in the request's descriptor, so a method
 * added later is covered without a line here.  An empty exec_id names the
 * init process; the other two must be given.
 */
static bool ids_valid(struct kc_ttrpc_call *call, const ProtobufCMessage *m)
{
	static const struct {
		const char *field;
		bool may_be_empty;
	} fields[] = {
		{ "container_id", false },
		{ "exec_id", true },
		{ "sandbox_id", false },
	};

	for (size_t i = 0; i < KC_ARRAY_SIZE(fields); i++) {
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
			m->descriptor, fields[i].field);
		const char *id;

		if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		id = *(char *const *)(const void *)((const char *)m + f->offset);
		if (!id)
			id = "";
		if ((!id[0] && fields[i].may_be_empty) || id_valid(id))
			continue;
		if (!id[0]) {
			kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "%s: %s is empty",
					   kc_ttrpc_call_method(call), fields[i].field);
		} else {
			cleanup_free char *shown = id_shown(id);

			kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
					   "%s: %s `%s` is not a valid id (1 to %d letters, digits, "
					   "'_', '.' or '-', the first a letter or digit)",
					   kc_ttrpc_call_method(call), fields[i].field, shown,
					   ID_MAX);
		}
		return false;
	}
	return true;
}

/* ---- lookup ---- */

static struct kc_agent_container *find_container(struct kc_agent *a, const char *id)
{
	for (struct kc_agent_container *c = a->containers; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

/* The init process is named by "", the container id or the exec id given
 * at creation; the others by their ExecProcess exec id. */
static struct kc_agent_proc *find_proc(struct kc_agent *a, struct kc_ttrpc_call *call,
				       const char *cid, const char *eid,
				       struct kc_agent_container **cout)
{
	struct kc_agent_container *c = find_container(a, cid);

	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found", cid);
		return NULL;
	}
	if (cout)
		*cout = c;
	if (!eid[0] || strcmp(eid, c->id) == 0 || strcmp(eid, c->init.exec_id) == 0)
		return &c->init;
	for (struct kc_agent_proc *p = c->execs; p; p = p->next)
		if (strcmp(p->exec_id, eid) == 0)
			return p;
	kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND,
			   "container `%s` has no process with exec id `%s`", cid, eid);
	return NULL;
}

/* ---- processes and containers ---- */

static void exec_free(struct kc_agent_proc *p);

/* The call a step of c answers (NULL when its caller gave up), no longer
 * held. */
static struct kc_ttrpc_call *take_pending(struct kc_agent_container *c)
{
	struct kc_ttrpc_call *call = c->pending;

	c->pending = NULL;
	if (call)
		kc_ttrpc_call_set_cancel(call, NULL, NULL);
	return call;
}

/* Stops c's step in progress and fails the call it was to answer. */
static void container_abort(struct kc_agent_container *c, int code, const char *why)
{
	struct kc_ttrpc_call *call = take_pending(c);

	kc_agent_container_abort(c);
	if (call)
		kc_ttrpc_call_fail(call, code, "container `%s`: %s", c->id, why);
}

static void container_free(struct kc_agent_container *c)
{
	container_abort(c, KC_TTRPC_ABORTED, "removed before the call finished");
	kc_agent_waiters_fail_all(&c->removers, KC_TTRPC_NOT_FOUND, "container removed");
	if (kc_loop_timer_armed(&c->remove_timer))
		kc_loop_timer_stop(c->agent->loop, &c->remove_timer);
	if (c->sync_fd >= 0)
		close(c->sync_fd);
	kc_agent_proc_release(&c->init);
	while (c->execs) {
		struct kc_agent_proc *p = c->execs;

		c->execs = p->next;
		exec_free(p);
	}
	kc_agent_cgroup_remove(c);
	kc_oci_spec_free(c->spec);
	free(c->root);
	free(c->bundle);
	free(c->id);
	free(c);
}

/* The sub directories of the pod's emptyDirs that the spec binds (a
 * subPath): kubelet made them on the host's side only. */
static int make_subdirs(struct kc_agent *a, struct kc_agent_container *c, kc_error_t *err)
{
	for (size_t i = 0; i < c->spec->n_mounts; i++) {
		const struct kc_oci_mount *m = &c->spec->mounts[i];

		if (m->bind && m->source &&
		    kc_agent_storages_make_subdir(&a->storages, c->id, m->source, err) < 0)
			return kc_error_wrap(err, "mount `%s`", m->destination);
	}
	return 0;
}

/* Also drops the container's storages: it is leaving for good. */
static void container_unlink(struct kc_agent *a, struct kc_agent_container *c)
{
	kc_agent_storages_release(&a->storages, c->id);
	for (struct kc_agent_container **pp = &a->containers; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return;
		}
	}
}

/* Whether any process of c still runs. */
static bool container_alive(const struct kc_agent_container *c)
{
	if (c->init.pid > 0 && !c->init.exited)
		return true;
	for (const struct kc_agent_proc *p = c->execs; p; p = p->next)
		if (p->pid > 0 && !p->exited)
			return true;
	return false;
}

/* The end of RemoveContainer, once the poststop hooks ran: the answers,
 * the memory. */
static void container_removed(struct kc_agent_container *c, kc_error_t *err)
{
	struct kc_agent *a = c->agent;

	(void)err;
	while (c->removers) {
		struct kc_agent_waiter *w = c->removers;

		c->removers = w->next;
		kc_ttrpc_call_set_cancel(w->call, NULL, NULL);
		kc_ttrpc_call_reply_msg(w->call, NULL);
		free(w);
	}
	container_unlink(a, c);
	kc_info("container %s removed", c->id);
	container_free(c);
}

/* Every process of c is gone: its poststop hooks run on the loop (the
 * agent serves other calls meanwhile), then it goes. */
static void container_remove_now(struct kc_agent *a, struct kc_agent_container *c)
{
	(void)a;
	if (c->removing)
		return;
	c->removing = true;
	if (!kc_agent_container_poststop_start(c, container_removed))
		container_removed(c, NULL);
}

static void proc_exited(struct kc_agent *a, struct kc_agent_container *c, struct kc_agent_proc *p,
			int wstatus)
{
	p->exited = true;
	p->status = kc_agent_exit_status(wstatus);
	if (p == &c->init)
		c->state = KC_AGENT_STOPPED;
	/* In a pid namespace of its own, the kernel ends the rest of the
	 * container with its init.  In the pod's shared one nothing would:
	 * what the container left goes, as runc's shim kills the whole
	 * cgroup of such a container (runc kill --all). */
	if (p == &c->init && !c->own_pidns) {
		kc_agent_cgroup_kill(c);
		for (struct kc_agent_proc *e = c->execs; e; e = e->next)
			if (e->pid > 0 && !e->exited)
				kc_agent_proc_signal(e, SIGKILL, NULL);
	}
	kc_info("container %s process %d (%s) exited with status %d", c->id, (int)p->pid,
		p == &c->init ? "init" : p->exec_id, p->status);
	while (p->waiters) {
		struct kc_agent_waiter *w = p->waiters;
		Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;

		p->waiters = w->next;
		resp.status = p->status;
		kc_ttrpc_call_set_cancel(w->call, NULL, NULL);
		kc_ttrpc_call_reply_msg(w->call, &resp.base);
		free(w);
		p->waited = true;
	}
	if (p->waited && p != &c->init)
		kc_loop_defer_queue(a->loop, &p->forget);
	if (c->removers && !container_alive(c))
		container_remove_now(a, c);
}

void kc_agent_reap(struct kc_agent *a)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		struct kc_agent_container *c;
		struct kc_agent_proc *p = NULL;

		if (!WIFEXITED(wstatus) && !WIFSIGNALED(wstatus))
			continue;
		for (c = a->containers; c; c = c->next) {
			if (c->init.pid == pid && !c->init.exited)
				p = &c->init;
			for (struct kc_agent_proc *e = c->execs; e && !p; e = e->next)
				if (e->pid == pid && !e->exited)
					p = e;
			if (p)
				break;
		}
		if (p)
			proc_exited(a, c, p, wstatus);
		else if (!kc_hooks_reaped(a, pid, wstatus) &&
			 !kc_agent_console_reaped(a->console, pid, wstatus))
			kc_debug("reaped process %d (status %d)", (int)pid,
				 kc_agent_exit_status(wstatus));
	}
}

static void kill_and_wait(struct kc_agent_proc *p)
{
	int wstatus;

	if (p->pid > 0 && !p->exited) {
		kc_agent_proc_signal(p, SIGKILL, NULL);
		if (waitpid(p->pid, &wstatus, 0) == p->pid)
			p->exited = true;
	}
}

/* Every container's processes killed and reaped, each step in progress
 * stopped. */
static void kill_all(struct kc_agent *a)
{
	for (struct kc_agent_container *c = a->containers; c; c = c->next) {
		container_abort(c, KC_TTRPC_ABORTED, "the sandbox is destroyed");
		kc_agent_container_signal_all(c, SIGKILL, NULL);
		kill_and_wait(&c->init);
		for (struct kc_agent_proc *p = c->execs; p; p = p->next)
			kill_and_wait(p);
	}
}

void kc_agent_destroy_containers(struct kc_agent *a)
{
	if (a->destroyer) {
		struct kc_ttrpc_call *call = a->destroyer;

		a->destroyer = NULL;
		kc_ttrpc_call_fail(call, KC_TTRPC_ABORTED, "the agent is stopping");
	}
	kill_all(a);
	for (struct kc_agent_container *c = a->containers; c; c = c->next)
		kc_agent_container_poststop(c);
	while (a->containers) {
		struct kc_agent_container *c = a->containers;

		a->containers = c->next;
		container_free(c);
	}
	kc_agent_sandbox_pidns_stop(a);
}

/* ---- the OCI spec ---- */

static int parse_spec(struct kc_agent_container *c, const uint8_t *buf, size_t len, kc_error_t *err)
{
	struct kc_oci_spec *s = NULL;
	struct stat st;
	char *slash;
	int ret;

	ret = kc_oci_spec_parse((const char *)buf, len, &s, err);
	if (ret < 0) {
		if (strncmp((*err)->msg, "oci spec", 8) != 0)
			kc_error_wrap(err, "oci spec");
		return ret;
	}
	c->spec = s;
	if (!s->process)
		return kc_error_set(err, EINVAL, "oci spec: process is missing");
	if (!s->root_path || s->root_path[0] != '/')
		return kc_error_set(err, EINVAL, "oci spec: root.path must be an absolute path");
	if (stat(s->root_path, &st) < 0 || !S_ISDIR(st.st_mode))
		return kc_error_set(err, EINVAL, "oci spec: root.path `%s` is not a directory",
				    s->root_path);
	c->root = kc_path_clean(s->root_path);
	c->bundle = kc_xstrdup(c->root);
	slash = strrchr(c->bundle, '/');
	if (slash == c->bundle)
		slash[1] = '\0';
	else
		*slash = '\0';
	c->init.spec = s->process;
	return 0;
}

/* ---- handlers ---- */

/* The sandbox's loopback comes up with it; not the host's (see
 * network.h), and outside a guest a failure only warns. */
static int bring_up_loopback(struct kc_agent *a, struct kc_ttrpc_call *call)
{
	cleanup_error kc_error_t err = NULL;

	if (kc_agent_net_is_host(a))
		return 0;
	if (kc_net_loopback_up(&err) < 0) {
		if (!a->init_mode) {
			kc_log_error_free(KC_LOG_WARNING, &err, NULL);
			return 0;
		}
		kc_ttrpc_call_fail_error(call, &err);
		return -1;
	}
	return 0;
}

/* The most a DNS line (nameserver, search, options) may be. */
#define DNS_LINE_MAX 1024

/*
 * CreateSandbox.dns: the pod's resolv.conf lines (from the host's
 * /etc/resolv.conf of the pod), written as the guest's /etc/resolv.conf as
 * Kata's agent does.  Only as the VM's init: an agent on the host must not
 * change the host's resolver.  Lines are checked first: one line each, no
 * control characters.
 */
static int set_guest_dns(struct kc_agent *a, const Grpc__CreateSandboxRequest *req,
			 struct kc_ttrpc_call *call)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *text = kc_xstrdup("");

	for (size_t i = 0; i < req->n_dns; i++) {
		const char *l = req->dns[i];
		size_t n = strlen(l);
		char *t;

		if (n == 0 || n > DNS_LINE_MAX) {
			kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
					   "dns[%zu]: %zu bytes (1 to %d allowed)", i, n,
					   DNS_LINE_MAX);
			return -1;
		}
		for (size_t j = 0; j < n; j++) {
			if ((unsigned char)l[j] < 0x20 && l[j] != '\t') {
				kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
						   "dns[%zu]: control character 0x%02x at byte %zu",
						   i, (unsigned char)l[j], j);
				return -1;
			}
		}
		t = kc_xasprintf("%s%s\n", text, l);
		free(text);
		text = t;
	}
	if (!req->n_dns)
		return 0;
	if (!a->init_mode) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "dns: only the VM's init writes the guest's /etc/resolv.conf");
		return -1;
	}
	if (kc_write_file_atomic("/etc/resolv.conf", text, strlen(text), 0644, &err) < 0) {
		kc_error_wrap(&err, "dns");
		kc_ttrpc_call_fail_error(call, &err);
		return -1;
	}
	return 0;
}

static void h_create_sandbox(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__CreateSandboxRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;

	if (a->sandbox_created) {
		kc_ttrpc_call_fail(call, KC_TTRPC_ALREADY_EXISTS, "sandbox `%s` already created",
				   a->sandbox_id);
		return;
	}
	if (a->init_mode && req->hostname[0] &&
	    sethostname(req->hostname, strlen(req->hostname)) < 0) {
		kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(errno), "sethostname `%s`: %s",
				   req->hostname, strerror(errno));
		return;
	}
	if (set_guest_dns(a, req, call) < 0)
		return;
	if (req->n_kernel_modules && !a->init_mode) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "kernel_modules: only the VM's init loads modules");
		return;
	}
	if (kc_agent_modules_load_request(KC_AGENT_MODULES_DIR, req->kernel_modules,
					  req->n_kernel_modules, &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	if (kc_agent_storages_add(&a->storages, "", req->storages, req->n_storages, &err) < 0) {
		kc_error_wrap(&err, "sandbox storages");
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	if (bring_up_loopback(a, call) < 0)
		return;
	if (req->guest_hook_path[0] && req->guest_hook_path[0] != '/') {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
				   "guest_hook_path `%s` is not an absolute path",
				   req->guest_hook_path);
		return;
	}
	if (req->sandbox_pidns && kc_agent_sandbox_pidns_start(a, &err) < 0) {
		kc_error_wrap(&err, "the sandbox's pid namespace");
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	a->disable_guest_seccomp = req->disable_guest_seccomp;
	free(a->guest_hook_path);
	a->guest_hook_path = req->guest_hook_path[0] ? kc_xstrdup(req->guest_hook_path) : NULL;
	a->sandbox_created = true;
	a->sandbox_id = kc_xstrdup(req->sandbox_id);
	kc_log_set_field("sandbox", req->sandbox_id);
	kc_info("sandbox created");
	kc_ttrpc_call_reply_msg(call, NULL);
}

/* Refuses call while DestroySandbox is under way. */
static bool destroying(struct kc_agent *a, struct kc_ttrpc_call *call)
{
	if (!a->destroyer)
		return false;
	kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION, "sandbox `%s` is being destroyed",
			   a->sandbox_id ? a->sandbox_id : "");
	return true;
}

/* The end of DestroySandbox, every poststop hook run. */
static void destroy_finish(struct kc_agent *a)
{
	struct kc_ttrpc_call *call = a->destroyer;

	a->destroyer = NULL;
	kc_agent_destroy_containers(a);
	kc_agent_storages_clear(&a->storages);
	free(a->infra_id);
	a->infra_id = NULL;
	a->sandbox_created = false;
	a->disable_guest_seccomp = false;
	free(a->guest_hook_path);
	a->guest_hook_path = NULL;
	free(a->sandbox_id);
	a->sandbox_id = NULL;
	kc_info("sandbox destroyed");
	kc_log_set_field("sandbox", NULL);
	kc_ttrpc_call_reply_msg(call, NULL);
	/* As the VM's init the sandbox was the reason to live: the loop ends
	 * once the answer is flushed and main() powers off. */
	if (a->init_mode)
		kc_loop_quit(a->loop);
}

static uint64_t sandbox_ns(const Grpc__CreateContainerRequest *req)
{
	return (req->sandbox_pidns ? CLONE_NEWPID : 0) | (req->sandbox_ipcns ? CLONE_NEWIPC : 0) |
	       (req->sandbox_utsns ? CLONE_NEWUTS : 0);
}

static void destroy_next(struct kc_agent *a);

static void destroy_poststop_done(struct kc_agent_container *c, kc_error_t *err)
{
	(void)err;
	destroy_next(c->agent);
}

/* The containers' poststop hooks, one container after the other, on the
 * loop; then the end. */
static void destroy_next(struct kc_agent *a)
{
	for (struct kc_agent_container *c = a->containers; c; c = c->next)
		if (kc_agent_container_poststop_start(c, destroy_poststop_done))
			return;
	destroy_finish(a);
}

/* Every process is killed at once; the answer comes once the poststop
 * hooks ran, and the agent serves the health check meanwhile. */
static void h_destroy_sandbox(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	struct kc_agent *a = data;

	(void)m;
	if (!a->sandbox_created) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION, "no sandbox to destroy");
		return;
	}
	if (destroying(a, call))
		return;
	a->destroyer = call;
	kill_all(a);
	kc_agent_pfwd_close_all(a, KC_TTRPC_ABORTED, "the sandbox is destroyed");
	destroy_next(a);
}

static void create_done(struct kc_agent_container *c, kc_error_t *err)
{
	struct kc_agent *a = c->agent;
	struct kc_ttrpc_call *call = take_pending(c);

	if (err) {
		kc_error_wrap(err, "container `%s`", c->id);
		container_unlink(a, c);
		container_free(c);
		kc_ttrpc_call_fail_error(call, err);
		return;
	}
	c->state = KC_AGENT_CREATED;
	/* Kata's rule: the first container is the sandbox's, whose
	 * namespaces the others may share. */
	if (!a->infra_id)
		a->infra_id = kc_xstrdup(c->id);
	kc_info("container %s created, init process %d", c->id, (int)c->init.pid);
	kc_ttrpc_call_reply_msg(call, NULL);
}

/*
 * The caller of CreateContainer gave up (its deadline passed, or its
 * connection went away) while the setup or its hooks ran: nobody will
 * learn of the container, so what was begun is undone rather than left
 * as a container no one knows to remove.
 */
static void create_cancelled(struct kc_ttrpc_call *call, void *data)
{
	struct kc_agent_container *c = data;

	c->pending = NULL;
	kc_warn("container %s: CreateContainer cancelled by its caller, the container is dropped",
		c->id);
	kc_agent_container_abort(c);
	container_unlink(c->agent, c);
	container_free(c);
	kc_ttrpc_call_fail(call, KC_TTRPC_CANCELLED, "cancelled");
}

static void h_create_container(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__CreateContainerRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;
	struct kc_agent_container *c;

	if (!a->sandbox_created) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "CreateContainer before CreateSandbox");
		return;
	}
	if (destroying(a, call))
		return;
	if (find_container(a, req->container_id)) {
		kc_ttrpc_call_fail(call, KC_TTRPC_ALREADY_EXISTS, "container `%s` already exists",
				   req->container_id);
		return;
	}
	if (req->n_devices) {
		kc_ttrpc_call_fail(call, KC_TTRPC_UNIMPLEMENTED,
				   "container `%s`: devices are not supported yet",
				   req->container_id);
		return;
	}
	if (kc_agent_storages_add(&a->storages, req->container_id, req->storages, req->n_storages,
				  &err) < 0) {
		kc_error_wrap(&err, "container `%s`", req->container_id);
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	c = kc_xzalloc(sizeof(*c));
	c->agent = a;
	c->sync_fd = -1;
	kc_loop_timer_init(&c->remove_timer, NULL, NULL);
	kc_agent_proc_init(a, c, &c->init);
	c->id = kc_xstrdup(req->container_id);
	c->init.exec_id = kc_xstrdup(req->exec_id);
	if (parse_spec(c, req->oci_spec_json.data, req->oci_spec_json.len, &err) < 0 ||
	    make_subdirs(a, c, &err) < 0 ||
	    (a->guest_hook_path && kc_hooks_add_guest(c->spec, a->guest_hook_path, &err) < 0) ||
	    kc_agent_proc_stdio(&c->init, &err) < 0 ||
	    kc_agent_cgroup_create(a, c, req->oci_spec_json.data, req->oci_spec_json.len, &err) < 0 ||
	    kc_agent_container_create(c, sandbox_ns(req), create_done, &err) < 0) {
		kc_error_wrap(&err, "container `%s`", c->id);
		kc_agent_storages_release(&a->storages, c->id);
		container_free(c);
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	/* Listed already (its id is taken), answered by create_done once
	 * the setup and its hooks are through. */
	kc_agent_proc_close_child_ends(&c->init);
	c->state = KC_AGENT_CREATING;
	c->pending = call;
	kc_ttrpc_call_set_cancel(call, create_cancelled, c);
	c->next = a->containers;
	a->containers = c;
}

static void start_done(struct kc_agent_container *c, kc_error_t *err)
{
	struct kc_ttrpc_call *call = take_pending(c);

	if (err) {
		kc_error_wrap(err, "container `%s`", c->id);
		if (call)
			kc_ttrpc_call_fail_error(call, err);
		return;
	}
	kc_info("container %s started as process %d", c->id, (int)c->init.pid);
	if (call)
		kc_ttrpc_call_reply_msg(call, NULL);
}

/* The caller of StartContainer gave up: the start goes on (the process
 * may already run), only its answer has nobody to go to. */
static void start_cancelled(struct kc_ttrpc_call *call, void *data)
{
	struct kc_agent_container *c = data;

	c->pending = NULL;
	kc_ttrpc_call_fail(call, KC_TTRPC_CANCELLED, "cancelled");
}

static void h_start_container(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__StartContainerRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;
	struct kc_agent_container *c = find_container(a, req->container_id);

	if (destroying(a, call))
		return;
	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found",
				   req->container_id);
		return;
	}
	if (c->state == KC_AGENT_CREATING) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "container `%s` is still being created", c->id);
		return;
	}
	/* A start under way (its sync socket watched) is one too, also once
	 * its caller gave up on it. */
	if (c->state != KC_AGENT_CREATED || c->sync_fd < 0 || c->sync_watch) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "container `%s` was already started", c->id);
		return;
	}
	if (kc_agent_container_start(c, start_done, &err) < 0) {
		kc_error_wrap(&err, "container `%s`", c->id);
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	/* Answered by start_done once it runs and its poststart hooks ran. */
	c->pending = call;
	kc_ttrpc_call_set_cancel(call, start_cancelled, c);
}

static void remove_timeout(void *data)
{
	struct kc_agent_container *c = data;

	kc_agent_waiters_fail_all(&c->removers, KC_TTRPC_DEADLINE_EXCEEDED,
				  "RemoveContainer: the processes did not exit in time");
}

static void h_remove_container(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__RemoveContainerRequest *req = (const void *)m;
	struct kc_agent *a = data;
	struct kc_agent_container *c = find_container(a, req->container_id);

	/* The containers' poststop hooks are DestroySandbox's now. */
	if (destroying(a, call))
		return;
	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found",
				   req->container_id);
		return;
	}
	kc_agent_waiter_add(&c->removers, call);
	if (c->removing)
		return; /* answered with the first RemoveContainer */
	/* A create or start still under way (also one whose caller gave up)
	 * ends here: its call fails, and what it started is killed below like
	 * the rest. */
	if (c->pending || c->step_done)
		container_abort(c, KC_TTRPC_ABORTED, "removed before the call finished");
	if (!container_alive(c)) {
		container_remove_now(a, c);
		return;
	}
	/* Answered by the reaper once every process is gone, or by the
	 * timer with DEADLINE_EXCEEDED. */
	kc_agent_container_signal_all(c, SIGKILL, NULL);
	if (req->timeout) {
		if (kc_loop_timer_armed(&c->remove_timer))
			kc_loop_timer_stop(a->loop, &c->remove_timer);
		kc_loop_timer_init(&c->remove_timer, remove_timeout, c);
		kc_loop_timer_start(a->loop, &c->remove_timer,
				    kc_monotonic_ns() + req->timeout * 1000000000ull);
	}
}

static void exec_free(struct kc_agent_proc *p)
{
	kc_loop_defer_cancel(p->out.agent->loop, &p->forget);
	kc_agent_proc_release(p);
	kc_oci_process_free(p->spec);
	free(p);
}

/* Deferred (never from inside a stream's callback): drops an exec'd
 * process nobody can ask about any more. */
static void exec_forget(void *data)
{
	struct kc_agent_proc *p = data;
	struct kc_agent_container *c = p->container;

	if (!p->exited || !p->waited || !p->out.eof || !p->err.eof || p->waiters ||
	    p->out.readers || p->err.readers)
		return;
	for (struct kc_agent_proc **pp = &c->execs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			kc_debug("container %s: exec %s forgotten", c->id, p->exec_id);
			exec_free(p);
			return;
		}
	}
}

static void h_exec_process(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__ExecProcessRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;
	struct kc_agent_container *c = find_container(a, req->container_id);
	struct kc_agent_proc *p;

	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found",
				   req->container_id);
		return;
	}
	if (!req->exec_id[0] || strcmp(req->exec_id, c->id) == 0 ||
	    strcmp(req->exec_id, c->init.exec_id) == 0) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
				   "exec id `%s` is empty or names the init process", req->exec_id);
		return;
	}
	for (p = c->execs; p; p = p->next)
		if (strcmp(p->exec_id, req->exec_id) == 0) {
			kc_ttrpc_call_fail(call, KC_TTRPC_ALREADY_EXISTS,
					   "container `%s` already has exec id `%s`", c->id,
					   req->exec_id);
			return;
		}
	if (c->state != KC_AGENT_RUNNING || c->init.exited) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "container `%s` is not running", c->id);
		return;
	}
	p = kc_xzalloc(sizeof(*p));
	kc_agent_proc_init(a, c, p);
	kc_loop_defer_init(&p->forget, exec_forget, p);
	p->out.on_eof = p->err.on_eof = &p->forget;
	p->exec_id = kc_xstrdup(req->exec_id);
	if (kc_oci_process_parse((const char *)req->process_json.data, req->process_json.len,
				 &p->spec, &err) < 0 ||
	    kc_agent_proc_stdio(p, &err) < 0 || kc_agent_exec_spawn(c, p, &err) < 0) {
		/* Nothing of a failed exec stays: its child is already reaped
		 * (kc_agent_exec_spawn), and its pidfd and pipes go with it.
		 * The error is the whole answer; the exec id is free again. */
		exec_free(p);
		kc_error_wrap(&err, "exec `%s` in container `%s`", req->exec_id, c->id);
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_agent_proc_close_child_ends(p);
	p->next = c->execs;
	c->execs = p;
	kc_info("container %s: exec %s started as process %d", c->id, p->exec_id, (int)p->pid);
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_signal_process(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__SignalProcessRequest *req = (const void *)m;
	cleanup_error kc_error_t err = NULL;
	struct kc_agent_container *c = NULL;
	struct kc_agent_proc *p = find_proc(data, call, req->container_id, req->exec_id, &c);

	if (!p)
		return;
	if (req->signal == 0 || req->signal >= NSIG) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "invalid signal %u",
				   req->signal);
		return;
	}
	if (p->pid <= 0) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "container `%s` is not started", req->container_id);
		return;
	}
	if (!req->exec_id[0]) {
		/* Every process of the container. */
		if (kc_agent_container_signal_all(c, (int)req->signal, &err) <= 0) {
			kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND,
					   "container `%s` has no running process",
					   req->container_id);
			return;
		}
		kc_ttrpc_call_reply_msg(call, NULL);
		return;
	}
	if (p->exited) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND,
				   "process `%s` of container `%s` has exited", req->exec_id,
				   req->container_id);
		return;
	}
	if (kc_agent_proc_signal(p, (int)req->signal, &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_wait_process(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__WaitProcessRequest *req = (const void *)m;
	struct kc_agent_proc *p = find_proc(data, call, req->container_id, req->exec_id, NULL);

	if (!p)
		return;
	if (p->exited || p->pid <= 0) {
		Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;

		/* Nothing ran: answered as a shell would. */
		resp.status = p->exited ? p->status : 127;
		kc_ttrpc_call_reply_msg(call, &resp.base);
		p->waited = true;
		if (p != &p->container->init)
			kc_loop_defer_queue(p->out.agent->loop, &p->forget);
		return;
	}
	kc_agent_waiter_add(&p->waiters, call);
}

static void read_stream(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data,
			bool is_err)
{
	const Grpc__ReadStreamRequest *req = (const void *)m;
	struct kc_agent_proc *p = find_proc(data, call, req->container_id, req->exec_id, NULL);

	if (!p)
		return;
	kc_agent_stream_read(is_err ? &p->err : &p->out, call,
			     req->len == 0 || req->len > READ_MAX ? READ_MAX : req->len);
}

static void h_read_stdout(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	read_stream(call, m, data, false);
}

static void h_read_stderr(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	read_stream(call, m, data, true);
}

/* Writes what the pipe takes now (at most its capacity): the caller sends
 * the rest again, as WriteStreamResponse.len tells it. */
static void h_write_stdin(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__WriteStreamRequest *req = (const void *)m;
	Grpc__WriteStreamResponse resp = GRPC__WRITE_STREAM_RESPONSE__INIT;
	struct kc_agent_proc *p = find_proc(data, call, req->container_id, req->exec_id, NULL);
	ssize_t n = 0;

	if (!p)
		return;
	if (p->stdin_fd < 0) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION, "stdin of `%s` is closed",
				   req->container_id);
		return;
	}
	if (req->data.len) {
		n = write(p->stdin_fd, req->data.data, req->data.len);
		if (n < 0 && errno == EAGAIN)
			n = 0;
		if (n < 0) {
			kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(errno),
					   "write stdin of `%s`: %s", req->container_id,
					   strerror(errno));
			return;
		}
	}
	resp.len = (uint32_t)n;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

static void h_close_stdin(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__CloseStdinRequest *req = (const void *)m;
	struct kc_agent_proc *p = find_proc(data, call, req->container_id, req->exec_id, NULL);

	if (!p)
		return;
	if (p->stdin_fd >= 0 && p->stdin_fd == p->tty_fd) {
		/* A terminal stays open for output: its end of input is the
		 * EOF character, as a user's ^D. */
		if (write(p->tty_fd, "\x04", 1) < 0)
			kc_debug("EOF to the terminal of `%s`: %s", req->container_id,
				 strerror(errno));
	} else if (p->stdin_fd >= 0) {
		close(p->stdin_fd);
	}
	p->stdin_fd = -1;
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_update_ephemeral_mounts(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
				      void *data)
{
	const Grpc__UpdateEphemeralMountsRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;

	if (kc_agent_storages_update_ephemeral(&a->storages, req->storages, req->n_storages, &err) <
	    0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_update_watchable_volume(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
				      void *data)
{
	const Grpc__UpdateWatchableVolumeRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;

	if (kc_agent_storages_update_watchable(&a->storages, req->mount_point, req->data_dir,
					       &err) < 0) {
		kc_error_wrap(&err, "UpdateWatchableVolume");
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_tty_win_resize(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__TtyWinResizeRequest *req = (const void *)m;
	cleanup_error kc_error_t err = NULL;
	struct kc_agent_proc *p = find_proc(data, call, req->container_id, req->exec_id, NULL);

	if (!p)
		return;
	if (p->tty_fd < 0) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "process `%s` of container `%s` has no terminal", req->exec_id,
				   req->container_id);
		return;
	}
	if (kc_tty_resize(p->tty_fd, req->row, req->column, &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, NULL);
}

/* The command line of pid, arguments joined by spaces. */
static char *cmdline_of(pid_t pid)
{
	char path[64];
	cleanup_free char *buf = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (kc_read_file(path, 4096, &buf, &len, NULL) < 0 || len == 0)
		return kc_xstrdup("?");
	for (size_t i = 0; i + 1 < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return kc_steal_ptr(&buf);
}

static void h_list_processes(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__ListProcessesRequest *req = (const void *)m;
	Grpc__ListProcessesResponse resp = GRPC__LIST_PROCESSES_RESPONSE__INIT;
	struct kc_agent_container *c = find_container(data, req->container_id);
	cleanup_free pid_t *pids = NULL;
	cleanup_free char *out = NULL;
	size_t n = 0;

	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found",
				   req->container_id);
		return;
	}
	if (strcmp(req->format, "json") != 0 && strcmp(req->format, "table") != 0 && req->format[0]) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
				   "ListProcesses: unknown format `%s` (table or json)",
				   req->format);
		return;
	}
	pids = kc_agent_container_pids(c, &n);
	if (strcmp(req->format, "json") == 0) {
		cleanup_json json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_integer(pids[i]));
		out = kc_json_dump(arr, 1);
	} else {
		out = kc_xstrdup("PID CMD\n");
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *cmd = cmdline_of(pids[i]);
			char *o = kc_xasprintf("%s%d %s\n", out, (int)pids[i], cmd);

			free(out);
			out = o;
		}
	}
	resp.process_list.data = (uint8_t *)out;
	resp.process_list.len = strlen(out);
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

/* Methods of the API this agent knows but does not do yet. */
static void h_unimplemented(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	(void)m;
	(void)data;
	kc_ttrpc_call_fail(call, KC_TTRPC_UNIMPLEMENTED, "%s/%s is not implemented yet",
			   kc_ttrpc_call_service(call), kc_ttrpc_call_method(call));
}

static const struct {
	const char *name;
	kc_ttrpc_msg_handler_fn fn;
} handlers[] = {
	{ "CreateSandbox", h_create_sandbox },
	{ "DestroySandbox", h_destroy_sandbox },
	{ "CreateContainer", h_create_container },
	{ "StartContainer", h_start_container },
	{ "RemoveContainer", h_remove_container },
	{ "SignalProcess", h_signal_process },
	{ "WaitProcess", h_wait_process },
	{ "ReadStdout", h_read_stdout },
	{ "ReadStderr", h_read_stderr },
	{ "WriteStdin", h_write_stdin },
	{ "CloseStdin", h_close_stdin },
	{ "UpdateContainer", kc_agent_h_update_container },
	{ "StatsContainer", kc_agent_h_stats_container },
	{ "PauseContainer", kc_agent_h_pause_container },
	{ "ResumeContainer", kc_agent_h_resume_container },
	{ "GetOOMEvent", kc_agent_h_get_oom_event },
	{ "UpdateEphemeralMounts", h_update_ephemeral_mounts },
	{ "UpdateWatchableVolume", h_update_watchable_volume },
	/* network.c */
	{ "UpdateInterface", kc_agent_h_update_interface },
	{ "UpdateRoutes", kc_agent_h_update_routes },
	{ "ListInterfaces", kc_agent_h_list_interfaces },
	{ "ListRoutes", kc_agent_h_list_routes },
	{ "AddARPNeighbors", kc_agent_h_add_arp_neighbors },
	{ "GetIPTables", kc_agent_h_get_iptables },
	{ "SetIPTables", kc_agent_h_set_iptables },
	/* guest.c, files.c */
	{ "GetGuestDetails", kc_agent_h_get_guest_details },
	{ "SetGuestDateTime", kc_agent_h_set_guest_date_time },
	{ "ReseedRandomDev", kc_agent_h_reseed_random_dev },
	{ "OnlineCPUMem", kc_agent_h_online_cpu_mem },
	{ "MemHotplugByProbe", kc_agent_h_mem_hotplug_by_probe },
	{ "GetMetrics", kc_agent_h_get_metrics },
	{ "AddSwap", kc_agent_h_add_swap },
	{ "CopyFile", kc_agent_h_copy_file },
	{ "GetVolumeStats", kc_agent_h_get_volume_stats },
	{ "AddSwapPath", kc_agent_h_add_swap_path },
	{ "SetPolicy", kc_agent_h_refused },
	{ "GetDiagnosticData", kc_agent_h_refused },
	{ "MemAgentMemcgSet", kc_agent_h_refused },
	{ "MemAgentCompactSet", kc_agent_h_refused },
	{ "ResizeVolume", kc_agent_h_refused },
	{ "RemoveStaleVirtiofsShareMounts", kc_agent_h_refused },
	/* container.c, io.c */
	{ "ExecProcess", h_exec_process },
	{ "TtyWinResize", h_tty_win_resize },
	{ "ListProcesses", h_list_processes },
	/* network/portfwd.c */
	{ "PortForwardOpen", kc_agent_h_port_forward_open },
	{ "PortForwardRead", kc_agent_h_port_forward_read },
	{ "PortForwardWrite", kc_agent_h_port_forward_write },
	{ "PortForwardCloseWrite", kc_agent_h_port_forward_close_write },
	{ "PortForwardClose", kc_agent_h_port_forward_close },
};

/* Every method comes here first: the ids, then the method's handler.
 * A method the agent refuses anyway says why, whatever its ids. */
static void h_dispatch(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const char *method = kc_ttrpc_call_method(call);
	kc_ttrpc_msg_handler_fn fn = h_unimplemented;

	for (size_t j = 0; j < KC_ARRAY_SIZE(handlers); j++)
		if (strcmp(method, handlers[j].name) == 0)
			fn = handlers[j].fn;
	if (fn != h_unimplemented && fn != kc_agent_h_refused && !ids_valid(call, m))
		return;
	fn(call, m, data);
}

int kc_agent_service_register(struct kc_agent *a, kc_error_t *err)
{
	const ProtobufCServiceDescriptor *desc = &grpc__agent_service__descriptor;
	cleanup_free kc_ttrpc_msg_handler_fn *fns = kc_xzalloc(desc->n_methods * sizeof(*fns));

	for (unsigned i = 0; i < desc->n_methods; i++)
		fns[i] = h_dispatch;
	return kc_ttrpc_server_register_service(a->srv, desc, fns, a, err);
}
