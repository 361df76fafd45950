/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI hooks that the spec places in the guest.  Each runs with the OCI
 * state on stdin and the hook's own args and env, in a process group of
 * its own, and is killed (with its group) after its timeout; a hook that
 * fails (exit status not 0, killed, timed out) fails the step, with what
 * it wrote on stderr in the message.
 *
 * The agent's own hooks (prestart, createRuntime, poststart, poststop) run
 * on its loop (kc_hooks_start): the hook is a child watched through its
 * pidfd, a timer for its timeout, its stdin written and its stderr read as
 * the pipes allow.  A hook may take up to an hour; the agent serves every
 * other call meanwhile.  The hooks run inside a container's process before
 * it execs (createContainer, startContainer) are waited for there, in
 * place (kc_hooks_run): that blocks only that process.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime.h"

/* Without a timeout a hook still cannot hold the agent forever. */
#define DEFAULT_TIMEOUT_S 60

char *kc_hook_state(const struct kc_agent_container *c, const char *status, pid_t pid)
{
	cleanup_json json_t *j = json_object();
	json_t *ann = json_object();
	const struct kc_oci_spec *s = c->spec;

	json_object_set_new(j, "ociVersion", json_string(s->oci_version ? s->oci_version : "1.0.2"));
	json_object_set_new(j, "id", json_string(c->id));
	json_object_set_new(j, "status", json_string(status));
	if (pid > 0)
		json_object_set_new(j, "pid", json_integer(pid));
	json_object_set_new(j, "bundle", json_string(c->bundle ? c->bundle : "/"));
	for (size_t i = 0; s->annotation_keys[i]; i++)
		json_object_set_new(ann, s->annotation_keys[i],
				    json_string(s->annotation_values[i]));
	json_object_set_new(j, "annotations", ann);
	return kc_json_dump(j, 1);
}

static int run_one(const struct kc_oci_hook *h, const char *kind, size_t idx, const char *state,
		   kc_error_t *err)
{
	int in[2], errp[2];
	cleanup_close int pidfd = -1, rd = -1;
	int timeout_ms = (h->timeout ? h->timeout : DEFAULT_TIMEOUT_S) * 1000;
	char msg[512];
	size_t mlen = 0;
	int wstatus;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe");
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return kc_error_set(err, errno, "pipe");
	}
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		close(errp[0]);
		close(errp[1]);
		return kc_error_set(err, errno, "fork for hook `%s`", h->path);
	}
	if (pid == 0) {
		sigset_t all;
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		char *argv0[] = { h->path, NULL };

		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		/* Its own process group: a timeout kills what it started too. */
		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(null >= 0 ? null : errp[1], 1);
		dup2(errp[1], 2);
		execve(h->path, h->args[0] ? h->args : argv0, h->env);
		dprintf(2, "exec: %s", strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(errp[1]);
	rd = errp[0];
	/* The state is small: it fits the pipe, or the hook reads it. */
	if (write(in[1], state, strlen(state)) < 0) {
		/* A hook that does not read its state is its business (and
		 * no log here: in a container's child stderr is the
		 * container's). */
	}
	close(in[1]);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		int n;

		do
			n = poll(&pfd, 1, timeout_ms);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return kc_error_set(err, ETIMEDOUT, "hook %s[%zu] `%s` timed out after %d s",
					    kind, idx, h->path, timeout_ms / 1000);
		}
	}
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	fcntl(rd, F_SETFL, O_NONBLOCK);
	for (ssize_t n;
	     mlen < sizeof(msg) - 1 && (n = read(rd, msg + mlen, sizeof(msg) - 1 - mlen)) > 0;)
		mlen += (size_t)n;
	while (mlen && (msg[mlen - 1] == '\n' || msg[mlen - 1] == ' '))
		mlen--;
	msg[mlen] = '\0';
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
		return kc_error_set(err, EIO, "hook %s[%zu] `%s` failed with status %d%s%s", kind,
				    idx, h->path, kc_agent_exit_status(wstatus), mlen ? ": " : "",
				    msg);
	return 0;
}

int kc_hooks_run(const struct kc_oci_spec *s, enum kc_oci_hook_kind k, const char *state,
		 kc_error_t *err)
{
	for (size_t i = 0; i < s->n_hooks[k]; i++) {
		int ret = run_one(&s->hooks[k][i], kc_oci_hook_kind_name(k), i, state, err);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- on the agent's loop ---- */

/* What a hook may say on stderr that goes into the error. */
#define MSG_MAX 512

struct kc_hook_run {
	struct kc_hook_run *next; /* the agent's runs, for the reaper */
	struct kc_agent *agent;
	const struct kc_oci_spec *spec;
	enum kc_oci_hook_kind kinds[KC_OCI_HOOK_NKINDS];
	size_t nkinds, ki, i; /* the hook running: kinds[ki], its index i */
	char *state;
	size_t state_len, state_off;
	pid_t pid;
	int pidfd, in_fd, err_fd;
	struct kc_loop_watch *pid_watch, *in_watch, *err_watch;
	struct kc_loop_timer timer;
	struct kc_loop_defer step; /* after a hook's exit: judge it, go on */
	bool exited, timed_out;
	int status; /* kc_agent_exit_status() of the hook */
	char msg[MSG_MAX];
	size_t mlen;
	kc_hooks_done_fn done;
	void *data;
};

static const struct kc_oci_hook *cur_hook(const struct kc_hook_run *r)
{
	return &r->spec->hooks[r->kinds[r->ki]][r->i];
}

static int hook_timeout_s(const struct kc_oci_hook *h)
{
	return h->timeout ? h->timeout : DEFAULT_TIMEOUT_S;
}

static void unwatch(struct kc_loop_watch **w)
{
	if (*w)
		kc_loop_watch_remove(*w);
	*w = NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_in(struct kc_hook_run *r)
{
	unwatch(&r->in_watch);
	close_fd(&r->in_fd);
}

/* Reads what stderr holds now: the first MSG_MAX - 1 bytes are kept, the
 * rest is read and dropped so that a chatty hook never blocks on it. */
static void drain_err(struct kc_hook_run *r)
{
	char scratch[4096];

	while (r->err_fd >= 0) {
		size_t room = sizeof(r->msg) - 1 - r->mlen;
		ssize_t n = room ? read(r->err_fd, r->msg + r->mlen, room)
				 : read(r->err_fd, scratch, sizeof(scratch));

		if (n > 0) {
			if (room)
				r->mlen += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* End of file, or an error: nothing more to hear. */
		unwatch(&r->err_watch);
		close_fd(&r->err_fd);
	}
}

/* The hook is gone (reaped by us or by the agent's reaper): what it left
 * on stderr is read, its descriptors closed, and the run goes on from the
 * loop. */
static void hook_exited(struct kc_hook_run *r, int status)
{
	r->exited = true;
	r->status = status;
	unwatch(&r->pid_watch);
	close_fd(&r->pidfd);
	kc_loop_timer_stop(r->agent->loop, &r->timer);
	close_in(r);
	drain_err(r);
	unwatch(&r->err_watch);
	close_fd(&r->err_fd);
	kc_loop_defer_queue(r->agent->loop, &r->step);
}

static void on_pidfd(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_hook_run *r = data;
	siginfo_t si;

	(void)w;
	(void)events;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0) {
		/* ECHILD: the agent's reaper took it first and has told us
		 * (kc_hooks_reaped); the watch is gone then. */
		if (errno != ECHILD)
			kc_warn("hook `%s`: waitid: %s", cur_hook(r)->path, strerror(errno));
		return;
	}
	if (si.si_pid == 0)
		return;
	hook_exited(r, si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status);
}

static void on_in(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_hook_run *r = data;

	(void)w;
	(void)events;
	while (r->state_off < r->state_len) {
		ssize_t n = write(fd, r->state + r->state_off, r->state_len - r->state_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			/* A hook that does not read its state (EPIPE) is its
			 * business. */
			break;
		r->state_off += (size_t)n;
	}
	close_in(r);
}

static void on_err(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	drain_err(data);
}

static void kill_hook(struct kc_hook_run *r)
{
	/* Its group first: what it started goes too. */
	kill(-r->pid, SIGKILL);
	if (r->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
}

static void on_timeout(void *data)
{
	struct kc_hook_run *r = data;

	r->timed_out = true;
	kc_warn("hook %s[%zu] `%s`: timed out after %d s, killed",
		kc_oci_hook_kind_name(r->kinds[r->ki]), r->i, cur_hook(r)->path,
		hook_timeout_s(cur_hook(r)));
	kill_hook(r);
}

/* In the child: no allocation, nothing of the agent's but stdio. */
static __attribute__((noreturn)) void hook_child(const struct kc_oci_hook *h, int in, int errw)
{
	char *argv0[] = { h->path, NULL };
	sigset_t all;
	int null;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	/* Its own process group: a timeout kills what it started too. */
	setpgid(0, 0);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dup2(in, 0);
	dup2(null >= 0 ? null : errw, 1);
	dup2(errw, 2);
	kc_agent_close_all_but(NULL, 0);
	execve(h->path, h->args[0] ? h->args : argv0, h->env);
	dprintf(2, "exec: %s", strerror(errno));
	_exit(127);
}

static int spawn(struct kc_hook_run *r, kc_error_t *err)
{
	const struct kc_oci_hook *h = cur_hook(r);
	int in[2], errp[2], ret;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe for hook `%s`", h->path);
	if (pipe2(errp, O_CLOEXEC) < 0) {
		ret = kc_error_set(err, errno, "pipe for hook `%s`", h->path);
		close(in[0]);
		close(in[1]);
		return ret;
	}
	r->pidfd = -1;
	pid = kc_agent_clone_in(-1, 0, -1, &r->pidfd, err);
	if (pid == 0)
		hook_child(h, in[0], errp[1]);
	close(in[0]);
	close(errp[1]);
	if (pid < 0) {
		close(in[1]);
		close(errp[0]);
		return kc_error_wrap(err, "hook %s[%zu] `%s`",
				     kc_oci_hook_kind_name(r->kinds[r->ki]), r->i, h->path);
	}
	r->pid = pid;
	r->exited = r->timed_out = false;
	r->status = 0;
	r->mlen = 0;
	r->state_off = 0;
	r->in_fd = in[1];
	r->err_fd = errp[0];
	fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
	kc_loop_timer_start(r->agent->loop, &r->timer,
			    kc_monotonic_ns() + (uint64_t)hook_timeout_s(h) * 1000000000ull);
	/* Without a watch the loop cannot follow it: killed, and it fails. */
	if (kc_loop_watch_fd(r->agent->loop, r->pidfd, EPOLLIN, on_pidfd, r, &r->pid_watch, err) < 0 ||
	    kc_loop_watch_fd(r->agent->loop, r->in_fd, EPOLLOUT, on_in, r, &r->in_watch, err) < 0 ||
	    kc_loop_watch_fd(r->agent->loop, r->err_fd, EPOLLIN, on_err, r, &r->err_watch, err) < 0) {
		siginfo_t si;

		kill_hook(r);
		while (waitid(P_PIDFD, (id_t)r->pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		r->exited = true;
		unwatch(&r->pid_watch);
		close_fd(&r->pidfd);
		close_in(r);
		unwatch(&r->err_watch);
		close_fd(&r->err_fd);
		kc_loop_timer_stop(r->agent->loop, &r->timer);
		return kc_error_wrap(err, "hook `%s`", h->path);
	}
	kc_debug("hook %s[%zu] `%s` started as process %d", kc_oci_hook_kind_name(r->kinds[r->ki]),
		 r->i, h->path, (int)pid);
	return 0;
}

/* Moves to the next hook to run (kinds[ki], i); false when none is left. */
static bool advance(struct kc_hook_run *r, bool first)
{
	if (!first)
		r->i++;
	while (r->ki < r->nkinds && r->i >= r->spec->n_hooks[r->kinds[r->ki]]) {
		r->ki++;
		r->i = 0;
	}
	return r->ki < r->nkinds;
}

static void unlink_run(struct kc_hook_run *r)
{
	for (struct kc_hook_run **pp = &r->agent->hook_runs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			return;
		}
	}
}

static void run_free(struct kc_hook_run *r)
{
	kc_loop_defer_cancel(r->agent->loop, &r->step);
	kc_loop_timer_stop(r->agent->loop, &r->timer);
	unlink_run(r);
	free(r->state);
	free(r);
}

/* The end of the run: r is freed before done runs, so that done may free
 * whatever owned the run. */
static void finish(struct kc_hook_run *r, kc_error_t *err)
{
	kc_hooks_done_fn done = r->done;
	void *data = r->data;

	run_free(r);
	done(data, err);
}

/* Deferred after a hook's exit: its verdict, then the next hook or the
 * end of the run. */
static void step(void *data)
{
	struct kc_hook_run *r = data;
	const struct kc_oci_hook *h = cur_hook(r);
	const char *kind = kc_oci_hook_kind_name(r->kinds[r->ki]);
	cleanup_error kc_error_t err = NULL;

	while (r->mlen && (r->msg[r->mlen - 1] == '\n' || r->msg[r->mlen - 1] == ' '))
		r->mlen--;
	r->msg[r->mlen] = '\0';
	if (r->timed_out) {
		kc_error_set(&err, ETIMEDOUT, "hook %s[%zu] `%s` timed out after %d s", kind, r->i,
			     h->path, hook_timeout_s(h));
	} else if (r->status != 0) {
		kc_error_set(&err, EIO, "hook %s[%zu] `%s` failed with status %d%s%s", kind, r->i,
			     h->path, r->status, r->mlen ? ": " : "", r->msg);
	} else if (advance(r, false)) {
		if (spawn(r, &err) == 0)
			return;
	}
	finish(r, err ? &err : NULL);
}

int kc_hooks_start(struct kc_agent *a, const struct kc_oci_spec *s,
		   const enum kc_oci_hook_kind *kinds, size_t nkinds, const char *state,
		   kc_hooks_done_fn done, void *data, struct kc_hook_run **out, kc_error_t *err)
{
	struct kc_hook_run *r;
	int ret;

	*out = NULL;
	r = kc_xzalloc(sizeof(*r));
	r->agent = a;
	r->spec = s;
	for (size_t k = 0; k < nkinds && k < KC_OCI_HOOK_NKINDS; k++)
		r->kinds[r->nkinds++] = kinds[k];
	r->pidfd = r->in_fd = r->err_fd = -1;
	r->done = done;
	r->data = data;
	kc_loop_timer_init(&r->timer, on_timeout, r);
	kc_loop_defer_init(&r->step, step, r);
	if (!advance(r, true)) {
		free(r);
		return 0;
	}
	r->state = kc_xstrdup(state);
	r->state_len = strlen(state);
	r->next = a->hook_runs;
	a->hook_runs = r;
	ret = spawn(r, err);
	if (ret < 0) {
		run_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void kc_hooks_cancel(struct kc_hook_run *r)
{
	if (!r)
		return;
	if (r->pid > 0 && !r->exited) {
		siginfo_t si;

		/* Killed, so reaped at once: no hook outlives its run. */
		kill_hook(r);
		while (waitid(P_PIDFD, (id_t)r->pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		kc_info("hook %s[%zu] `%s` (process %d) killed: its step was cancelled",
			kc_oci_hook_kind_name(r->kinds[r->ki]), r->i, cur_hook(r)->path,
			(int)r->pid);
	}
	unwatch(&r->pid_watch);
	close_fd(&r->pidfd);
	close_in(r);
	unwatch(&r->err_watch);
	close_fd(&r->err_fd);
	run_free(r);
}

bool kc_hooks_reaped(struct kc_agent *a, pid_t pid, int wstatus)
{
	for (struct kc_hook_run *r = a->hook_runs; r; r = r->next) {
		if (r->pid == pid && !r->exited) {
			hook_exited(r, kc_agent_exit_status(wstatus));
			return true;
		}
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kc_hooks_add_guest(struct kc_oci_spec *s, const char *dir, kc_error_t *err)
{
	static const enum kc_oci_hook_kind kinds[] = {
		KC_OCI_HOOK_PRESTART,
		KC_OCI_HOOK_POSTSTART,
		KC_OCI_HOOK_POSTSTOP,
	};

	for (size_t k = 0; k < KC_ARRAY_SIZE(kinds); k++) {
		const char *kind = kc_oci_hook_kind_name(kinds[k]);
		cleanup_free char *sub = kc_xasprintf("%s/%s", dir, kind);
		char **names = NULL;
		size_t n = 0;
		struct dirent *e;
		DIR *d = opendir(sub);

		if (!d) {
			if (errno == ENOENT)
				continue;
			return kc_error_set(err, errno, "guest hooks `%s`", sub);
		}
		while ((e = readdir(d))) {
			cleanup_free char *path = kc_xasprintf("%s/%s", sub, e->d_name);
			struct stat st;

			if (e->d_name[0] == '.' || stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
			    !(st.st_mode & 0111))
				continue;
			names = kc_xrealloc(names, (n + 1) * sizeof(char *));
			names[n++] = kc_steal_ptr(&path);
		}
		closedir(d);
		if (n)
			qsort(names, n, sizeof(char *), cmp_str);
		/* After the spec's own hooks of the kind, as Kata adds them;
		 * run as `path kind`. */
		s->hooks[kinds[k]] = kc_xrealloc(s->hooks[kinds[k]],
						 (s->n_hooks[kinds[k]] + n + 1) *
							 sizeof(struct kc_oci_hook));
		for (size_t i = 0; i < n; i++) {
			struct kc_oci_hook *h = &s->hooks[kinds[k]][s->n_hooks[kinds[k]]++];

			memset(h, 0, sizeof(*h));
			h->path = names[i];
			h->args = kc_xzalloc(3 * sizeof(char *));
			h->args[0] = kc_xstrdup(names[i]);
			h->args[1] = kc_xstrdup(kind);
			h->env = kc_xzalloc(sizeof(char *));
		}
		free(names);
	}
	return 0;
}
