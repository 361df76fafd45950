// SPDX-License-Identifier: Apache-2.0
/*
 * grpc.AgentService: the sandbox, its containers and their processes.
 *
 * This first slice honours a container's OCI spec for process.args,
 * process.env, process.cwd and root.path only.  WaitProcess, ReadStdout and
 * ReadStderr are long polls: the call is held (a waiter) and answered from
 * the reaper or the pipe's readiness, while the server goes on serving.
 * Every method this file does not handle answers UNIMPLEMENTED.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "agent.pb-c.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "modules.h"

/* The most bytes one ReadStdout answers, whatever the caller asks. */
#define READ_MAX (1u << 20)

/* ---- waiters ---- */

static struct kc_agent_waiter *waiter_add(struct kc_agent_waiter **list, struct kc_ttrpc_call *call)
{
	struct kc_agent_waiter *w = kc_xzalloc(sizeof(*w));

	w->call = call;
	w->next = *list;
	*list = w;
	return w;
}

/* Unlinks w from whichever list holds it. */
static void waiter_unlink(struct kc_agent_waiter **list, struct kc_agent_waiter *w)
{
	for (struct kc_agent_waiter **pp = list; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

/* Cancellation needs the list a waiter is on: the call's cancel data is the
 * list head; the waiter is found by its call. */
static void waiter_cancel(struct kc_ttrpc_call *call, void *data)
{
	struct kc_agent_waiter **list = data;

	for (struct kc_agent_waiter *w = *list; w; w = w->next) {
		if (w->call == call) {
			waiter_unlink(list, w);
			free(w);
			break;
		}
	}
	kc_ttrpc_call_fail(call, KC_TTRPC_CANCELLED, "cancelled");
}

static void waiters_fail_all(struct kc_agent_waiter **list, int code, const char *msg)
{
	while (*list) {
		struct kc_agent_waiter *w = *list;

		*list = w->next;
		kc_ttrpc_call_set_cancel(w->call, NULL, NULL);
		kc_ttrpc_call_fail(w->call, code, "%s", msg);
		free(w);
	}
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
 * at creation; exec'd processes do not exist yet. */
static struct kc_agent_proc *find_proc(struct kc_agent *a, struct kc_ttrpc_call *call,
				       const char *cid, const char *eid,
				       struct kc_agent_container **cout)
{
	struct kc_agent_container *c = find_container(a, cid);

	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found", cid);
		return NULL;
	}
	if (eid[0] && strcmp(eid, c->id) != 0 && strcmp(eid, c->init.exec_id) != 0) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND,
				   "container `%s` has no process with exec id `%s`", cid, eid);
		return NULL;
	}
	if (cout)
		*cout = c;
	return &c->init;
}

/* ---- streams ---- */

static void stream_close(struct kc_agent_stream *s)
{
	if (s->watch)
		kc_loop_watch_remove(s->watch);
	s->watch = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static void stream_on_ready(struct kc_loop_watch *w, int fd, uint32_t events, void *data);

static void stream_update_watch(struct kc_agent_stream *s)
{
	bool want = s->readers && s->fd >= 0;

	if (want && !s->watch) {
		cleanup_error kc_error_t err = NULL;

		if (kc_loop_watch_fd(s->agent->loop, s->fd, EPOLLIN, stream_on_ready, s, &s->watch,
				     &err) < 0)
			kc_error("watching output pipe: %s", err->msg);
	} else if (!want && s->watch) {
		kc_loop_watch_remove(s->watch);
		s->watch = NULL;
	}
}

static void reply_data(struct kc_ttrpc_call *call, const uint8_t *buf, size_t len)
{
	Grpc__ReadStreamResponse resp = GRPC__READ_STREAM_RESPONSE__INIT;

	resp.data.data = (uint8_t *)buf;
	resp.data.len = len;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

/* Answers the oldest reader with what the pipe holds now; at end of
 * stream every reader gets empty data. */
static void stream_serve(struct kc_agent_stream *s)
{
	while (s->readers) {
		struct kc_agent_waiter *w = s->readers, **pp = &s->readers;
		cleanup_free uint8_t *buf = NULL;
		ssize_t n = 0;

		/* The list is newest first: answer the oldest. */
		while (w->next) {
			pp = &w->next;
			w = w->next;
		}
		if (!s->eof) {
			buf = kc_xmalloc(w->len);
			n = read(s->fd, buf, w->len);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				s->eof = true;
				stream_close(s);
				n = 0;
			}
		}
		*pp = NULL;
		kc_ttrpc_call_set_cancel(w->call, NULL, NULL);
		reply_data(w->call, buf, (size_t)n);
		free(w);
	}
	stream_update_watch(s);
}

static void stream_on_ready(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	stream_serve(data);
}

/* ---- processes and containers ---- */

static void proc_init(struct kc_agent *a, struct kc_agent_proc *p)
{
	p->pidfd = -1;
	p->stdin_fd = p->child_stdin = p->child_stdout = p->child_stderr = -1;
	p->out.fd = p->err.fd = -1;
	p->out.agent = p->err.agent = a;
}

static void close_child_ends(struct kc_agent_proc *p)
{
	int *fds[] = { &p->child_stdin, &p->child_stdout, &p->child_stderr };

	for (size_t i = 0; i < KC_ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static int proc_pipes(struct kc_agent_proc *p, kc_error_t *err)
{
	int in[2], out[2], errp[2];

	if (pipe2(in, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe");
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return kc_error_set(err, errno, "pipe");
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return kc_error_set(err, errno, "pipe");
	}
	p->child_stdin = in[0];
	p->stdin_fd = in[1];
	p->child_stdout = out[1];
	p->out.fd = out[0];
	p->child_stderr = errp[1];
	p->err.fd = errp[0];
	fcntl(p->stdin_fd, F_SETFL, O_NONBLOCK);
	fcntl(p->out.fd, F_SETFL, O_NONBLOCK);
	fcntl(p->err.fd, F_SETFL, O_NONBLOCK);
	return 0;
}

static void proc_release(struct kc_agent_proc *p)
{
	waiters_fail_all(&p->waiters, KC_TTRPC_NOT_FOUND, "container removed");
	waiters_fail_all(&p->out.readers, KC_TTRPC_NOT_FOUND, "container removed");
	waiters_fail_all(&p->err.readers, KC_TTRPC_NOT_FOUND, "container removed");
	stream_close(&p->out);
	stream_close(&p->err);
	close_child_ends(p);
	if (p->stdin_fd >= 0)
		close(p->stdin_fd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p->exec_id);
}

static void container_free(struct kc_agent_container *c)
{
	waiters_fail_all(&c->removers, KC_TTRPC_NOT_FOUND, "container removed");
	proc_release(&c->init);
	kc_free_strv(c->args);
	kc_free_strv(c->env);
	free(c->cwd);
	free(c->root);
	free(c->id);
	free(c);
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

static void proc_exited(struct kc_agent *a, struct kc_agent_container *c, int wstatus)
{
	struct kc_agent_proc *p = &c->init;

	p->exited = true;
	p->status = kc_agent_exit_status(wstatus);
	c->state = KC_AGENT_STOPPED;
	kc_info("container %s process %d exited with status %d", c->id, (int)p->pid, p->status);
	while (p->waiters) {
		struct kc_agent_waiter *w = p->waiters;
		Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;

		p->waiters = w->next;
		resp.status = p->status;
		kc_ttrpc_call_set_cancel(w->call, NULL, NULL);
		kc_ttrpc_call_reply_msg(w->call, &resp.base);
		free(w);
	}
	if (c->removers) {
		while (c->removers) {
			struct kc_agent_waiter *w = c->removers;

			c->removers = w->next;
			kc_ttrpc_call_set_cancel(w->call, NULL, NULL);
			kc_ttrpc_call_reply_msg(w->call, NULL);
			free(w);
		}
		container_unlink(a, c);
		container_free(c);
	}
}

void kc_agent_reap(struct kc_agent *a)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		struct kc_agent_container *c;

		if (!WIFEXITED(wstatus) && !WIFSIGNALED(wstatus))
			continue;
		for (c = a->containers; c; c = c->next)
			if (c->init.pid == pid && !c->init.exited)
				break;
		if (c)
			proc_exited(a, c, wstatus);
		else
			kc_debug("reaped process %d (status %d)", (int)pid,
				 kc_agent_exit_status(wstatus));
	}
}

void kc_agent_destroy_containers(struct kc_agent *a)
{
	for (struct kc_agent_container *c = a->containers; c; c = c->next) {
		struct kc_agent_proc *p = &c->init;

		if (p->pid > 0 && !p->exited) {
			int wstatus;

			kc_agent_proc_signal(p, SIGKILL, NULL);
			if (waitpid(p->pid, &wstatus, 0) == p->pid)
				p->exited = true;
		}
	}
	while (a->containers) {
		struct kc_agent_container *c = a->containers;

		a->containers = c->next;
		container_free(c);
	}
}

/* ---- the OCI spec subset ---- */

static int strv_from_json(json_t *arr, const char *what, bool need_one, char ***out,
			  kc_error_t *err)
{
	size_t i, n;
	char **v;

	if (!arr) {
		if (need_one)
			return kc_error_set(err, EINVAL, "oci spec: %s is missing", what);
		*out = kc_xzalloc(sizeof(char *));
		return 0;
	}
	if (!json_is_array(arr))
		return kc_error_set(err, EINVAL, "oci spec: %s must be an array of strings", what);
	n = json_array_size(arr);
	if (need_one && n == 0)
		return kc_error_set(err, EINVAL, "oci spec: %s is empty", what);
	v = kc_xzalloc((n + 1) * sizeof(char *));
	for (i = 0; i < n; i++) {
		json_t *s = json_array_get(arr, i);

		if (!json_is_string(s)) {
			kc_free_strv(v);
			return kc_error_set(err, EINVAL, "oci spec: %s[%zu] is not a string", what, i);
		}
		v[i] = kc_xstrdup(json_string_value(s));
	}
	*out = v;
	return 0;
}

static int parse_spec(struct kc_agent_container *c, const uint8_t *buf, size_t len,
		      kc_error_t *err)
{
	cleanup_json json_t *spec = NULL;
	json_t *process, *root, *cwd, *rpath;
	struct stat st;
	int ret;

	if (len == 0)
		return kc_error_set(err, EINVAL, "oci spec: empty");
	ret = kc_json_parse((const char *)buf, len, "oci spec", &spec, err);
	if (ret < 0) {
		(*err)->status = EINVAL;
		return -EINVAL;
	}
	if (!json_is_object(spec))
		return kc_error_set(err, EINVAL, "oci spec: not a JSON object");
	process = json_object_get(spec, "process");
	if (!json_is_object(process))
		return kc_error_set(err, EINVAL, "oci spec: process is missing or not an object");
	ret = strv_from_json(json_object_get(process, "args"), "process.args", true, &c->args,
			     err);
	if (ret < 0)
		return ret;
	ret = strv_from_json(json_object_get(process, "env"), "process.env", false, &c->env, err);
	if (ret < 0)
		return ret;
	cwd = json_object_get(process, "cwd");
	if (cwd && (!json_is_string(cwd) || json_string_value(cwd)[0] != '/'))
		return kc_error_set(err, EINVAL, "oci spec: process.cwd must be an absolute path");
	c->cwd = kc_xstrdup(cwd ? json_string_value(cwd) : "/");
	root = json_object_get(spec, "root");
	rpath = root ? json_object_get(root, "path") : NULL;
	if (!json_is_string(rpath) || json_string_value(rpath)[0] != '/')
		return kc_error_set(err, EINVAL, "oci spec: root.path must be an absolute path");
	if (stat(json_string_value(rpath), &st) < 0 || !S_ISDIR(st.st_mode))
		return kc_error_set(err, EINVAL, "oci spec: root.path `%s` is not a directory",
				    json_string_value(rpath));
	c->root = kc_xstrdup(json_string_value(rpath));
	return 0;
}

/* ---- handlers ---- */

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
		kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(errno),
				   "sethostname `%s`: %s", req->hostname, strerror(errno));
		return;
	}
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
	a->sandbox_created = true;
	a->sandbox_id = kc_xstrdup(req->sandbox_id);
	kc_log_set_field("sandbox", req->sandbox_id);
	kc_info("sandbox created");
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_destroy_sandbox(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	struct kc_agent *a = data;

	(void)m;
	if (!a->sandbox_created) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION, "no sandbox to destroy");
		return;
	}
	kc_agent_destroy_containers(a);
	kc_agent_storages_clear(&a->storages);
	a->sandbox_created = false;
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
	if (!req->container_id[0]) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT, "empty container_id");
		return;
	}
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
	proc_init(a, &c->init);
	c->id = kc_xstrdup(req->container_id);
	c->init.exec_id = kc_xstrdup(req->exec_id);
	if (parse_spec(c, req->oci_spec_json.data, req->oci_spec_json.len, &err) < 0 ||
	    proc_pipes(&c->init, &err) < 0) {
		kc_error_wrap(&err, "container `%s`", c->id);
		kc_agent_storages_release(&a->storages, c->id);
		container_free(c);
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	c->state = KC_AGENT_CREATED;
	c->next = a->containers;
	a->containers = c;
	kc_info("container %s created", c->id);
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_start_container(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__StartContainerRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;
	struct kc_agent_container *c = find_container(a, req->container_id);
	int ret;

	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found",
				   req->container_id);
		return;
	}
	if (c->state != KC_AGENT_CREATED) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "container `%s` was already started", c->id);
		return;
	}
	ret = kc_agent_proc_spawn(c, &err);
	close_child_ends(&c->init);
	c->state = c->init.pid > 0 ? KC_AGENT_RUNNING : KC_AGENT_STOPPED;
	if (c->init.pid <= 0) {
		/* Nothing ran: WaitProcess answers as a shell would. */
		c->init.exited = true;
		c->init.status = 127;
	}
	if (ret < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_info("container %s started as process %d", c->id, (int)c->init.pid);
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_remove_container(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__RemoveContainerRequest *req = (const void *)m;
	struct kc_agent *a = data;
	struct kc_agent_container *c = find_container(a, req->container_id);

	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found",
				   req->container_id);
		return;
	}
	if (c->init.pid > 0 && !c->init.exited) {
		/* Answered by the reaper once the process is gone. */
		kc_agent_proc_signal(&c->init, SIGKILL, NULL);
		waiter_add(&c->removers, call);
		kc_ttrpc_call_set_cancel(call, waiter_cancel, &c->removers);
		return;
	}
	container_unlink(a, c);
	container_free(c);
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_signal_process(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__SignalProcessRequest *req = (const void *)m;
	cleanup_error kc_error_t err = NULL;
	struct kc_agent_proc *p = find_proc(data, call, req->container_id, req->exec_id, NULL);

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
	if (p->exited) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "process of container `%s` has exited",
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
	if (p->exited) {
		Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;

		resp.status = p->status;
		kc_ttrpc_call_reply_msg(call, &resp.base);
		return;
	}
	waiter_add(&p->waiters, call);
	kc_ttrpc_call_set_cancel(call, waiter_cancel, &p->waiters);
}

static void read_stream(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data,
			bool is_err)
{
	const Grpc__ReadStreamRequest *req = (const void *)m;
	struct kc_agent_proc *p = find_proc(data, call, req->container_id, req->exec_id, NULL);
	struct kc_agent_stream *s;
	struct kc_agent_waiter *w;

	if (!p)
		return;
	s = is_err ? &p->err : &p->out;
	w = waiter_add(&s->readers, call);
	w->len = req->len == 0 || req->len > READ_MAX ? READ_MAX : req->len;
	kc_ttrpc_call_set_cancel(call, waiter_cancel, &s->readers);
	stream_serve(s);
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
	if (p->stdin_fd >= 0)
		close(p->stdin_fd);
	p->stdin_fd = -1;
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void h_update_ephemeral_mounts(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
				      void *data)
{
	const Grpc__UpdateEphemeralMountsRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;

	if (kc_agent_storages_update_ephemeral(&a->storages, req->storages, req->n_storages,
					       &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, NULL);
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
	{ "UpdateEphemeralMounts", h_update_ephemeral_mounts },
};

int kc_agent_service_register(struct kc_agent *a, kc_error_t *err)
{
	const ProtobufCServiceDescriptor *desc = &grpc__agent_service__descriptor;
	cleanup_free kc_ttrpc_msg_handler_fn *fns = kc_xzalloc(desc->n_methods * sizeof(*fns));

	for (unsigned i = 0; i < desc->n_methods; i++) {
		fns[i] = h_unimplemented;
		for (size_t j = 0; j < KC_ARRAY_SIZE(handlers); j++)
			if (strcmp(desc->methods[i].name, handlers[j].name) == 0)
				fns[i] = handlers[j].fn;
	}
	return kc_ttrpc_server_register_service(a->srv, desc, fns, a, err);
}
