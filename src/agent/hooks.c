// SPDX-License-Identifier: Apache-2.0
/*
 * OCI hooks that the spec places in the guest.  Each runs with the OCI
 * state on stdin and the hook's own args and env, and is killed after its
 * timeout; a hook that fails (exit status not 0, killed, timed out) fails
 * the step, with what it wrote on stderr in the message.  The agent waits
 * for a hook synchronously: hooks are short, and a timeout bounds them.
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

/* Without a timeout a hook still cannot hold the agent forever. */
#define DEFAULT_TIMEOUT_S 60

char *kc_hook_state(const struct kc_agent_container *c, const char *status, pid_t pid)
{
	cleanup_json json_t *j = json_object();
	json_t *ann = json_object();
	const struct kc_oci_spec *s = c->spec;

	json_object_set_new(j, "ociVersion",
			    json_string(s->oci_version ? s->oci_version : "1.0.2"));
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
	for (ssize_t n; mlen < sizeof(msg) - 1 &&
			(n = read(rd, msg + mlen, sizeof(msg) - 1 - mlen)) > 0;)
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
		s->hooks[kinds[k]] = kc_xrealloc(s->hooks[kinds[k]], (s->n_hooks[kinds[k]] + n + 1) *
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
