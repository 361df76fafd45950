/* SPDX-License-Identifier: Apache-2.0 */
/* Supervised child processes: spawn with a pidfd, wait, signal, stop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "lib/util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* In the child, between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn)) child_exec(char *const argv[], const char *log_path,
						  const int *fds, size_t n_fds, int errpipe)
{
	int moved[KC_CHILD_MAX_FDS];
	sigset_t all;
	int e, fd;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
		goto fail;
	fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)
		      : open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		goto fail;
	/* Inherited fds go to 3, 4, ...: first every one of them (and the
	 * error pipe) above that range, so that no dup2 overwrites another. */
	if (n_fds) {
		int top = 3 + (int)n_fds;
		int ep = fcntl(errpipe, F_DUPFD_CLOEXEC, top);

		if (ep < 0)
			goto fail;
		errpipe = ep;
		for (size_t i = 0; i < n_fds; i++) {
			moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, top);
			if (moved[i] < 0)
				goto fail;
		}
		for (size_t i = 0; i < n_fds; i++)
			if (dup2(moved[i], 3 + (int)i) < 0) /* dup2 clears FD_CLOEXEC */
				goto fail;
	}
	/* Nothing of the caller's leaks into the child, except the
	 * close-on-exec pipe that reports a failed exec. */
	if (errpipe > 3 + (int)n_fds) {
		if (close_range(3 + (unsigned)n_fds, (unsigned)errpipe - 1, 0) < 0)
			goto fail;
	}
	if (close_range((unsigned)errpipe + 1, ~0U, 0) < 0)
		goto fail;
	execve(argv[0], argv, environ);
fail:
	e = errno;
	(void)!write(errpipe, &e, sizeof(e));
	_exit(127);
}

int kc_child_spawn(char *const argv[], const char *log_path, struct kc_child *c,
		   kc_error_t *err)
{
	return kc_child_spawn_fds(argv, log_path, NULL, 0, c, err);
}

int kc_child_spawn_fds(char *const argv[], const char *log_path, const int *fds, size_t n_fds,
		       struct kc_child *c, kc_error_t *err)
{
	cleanup_close int rd = -1, wr = -1;
	int p[2], e = 0, pidfd;
	ssize_t n;
	pid_t pid;

	*c = (struct kc_child)KC_CHILD_INIT;
	if (n_fds > KC_CHILD_MAX_FDS)
		return kc_error_set(err, E2BIG, "`%s`: %zu fds to inherit, at most %d", argv[0],
				    n_fds, KC_CHILD_MAX_FDS);
	for (size_t i = 0; i < n_fds; i++)
		if (fcntl(fds[i], F_GETFD) < 0)
			return kc_error_set(err, errno, "`%s`: fd %d to inherit", argv[0], fds[i]);
	if (pipe2(p, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe");
	rd = p[0];
	wr = p[1];
	/* A caller running with stdio closed gets pipe fds below 3, which
	 * the child's dup2 onto 0-2 would clobber. */
	if (wr < 3) {
		int moved = fcntl(wr, F_DUPFD_CLOEXEC, 3);

		if (moved < 0)
			return kc_error_set(err, errno, "fcntl F_DUPFD_CLOEXEC");
		close(wr);
		wr = moved;
	}
	pid = fork();
	if (pid < 0)
		return kc_error_set(err, errno, "fork for `%s`", argv[0]);
	if (pid == 0)
		child_exec(argv, log_path, fds, n_fds, wr);
	close(kc_steal_fd(&wr));
	/* Our own unreaped child: the pid cannot be recycled before waitid. */
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		int saved = errno;

		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return kc_error_set(err, saved, "pidfd_open for `%s`", argv[0]);
	}
	do
		n = read(rd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(pid, NULL, 0);
		close(pidfd);
		return kc_error_set(err, e, "execute `%s`", argv[0]);
	}
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	c->pid = pid;
	c->pidfd = pidfd;
	return 0;
}

static int reap(struct kc_child *c, bool block, kc_error_t *err)
{
	siginfo_t si;

	if (c->reaped)
		return 1;
	if (c->pidfd < 0)
		return kc_error_set(err, ECHILD, "wait: no child");
	memset(&si, 0, sizeof(si));
	for (;;) {
		if (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | (block ? 0 : WNOHANG)) == 0)
			break;
		if (errno != EINTR)
			return kc_error_set(err, errno, "wait for pid %d", (int)c->pid);
	}
	if (si.si_pid == 0)
		return 0;
	c->reaped = true;
	if (si.si_code == CLD_EXITED)
		c->status = W_EXITCODE(si.si_status, 0);
	else
		c->status = si.si_status & 0x7f; /* killed or dumped: the signal */
	return 1;
}

int kc_child_wait(struct kc_child *c, uint64_t deadline, kc_error_t *err)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->pidfd, .events = POLLIN };
		int timeout = -1, r;

		if (c->reaped)
			return 1;
		if (deadline) {
			uint64_t now = kc_monotonic_ns();

			if (now >= deadline)
				return reap(c, false, err);
			timeout = (int)((deadline - now + 999999) / 1000000);
		}
		r = poll(&pfd, 1, timeout);
		if (r < 0 && errno != EINTR)
			return kc_error_set(err, errno, "poll pidfd of pid %d", (int)c->pid);
		if (r > 0)
			return reap(c, true, err);
	}
}

bool kc_child_exited(struct kc_child *c)
{
	return c->pidfd < 0 || reap(c, false, NULL) == 1;
}

int kc_child_signal(struct kc_child *c, int sig, kc_error_t *err)
{
	if (c->pidfd < 0 || c->reaped)
		return 0;
	if (pidfd_send_signal(c->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
		return kc_error_set(err, errno, "signal %d to pid %d", sig, (int)c->pid);
	return 0;
}

void kc_child_stop(struct kc_child *c, bool term, uint64_t grace_ns)
{
	if (c->pidfd < 0)
		return;
	if (!c->reaped && term) {
		kc_child_signal(c, SIGTERM, NULL);
		kc_child_wait(c, kc_monotonic_ns() + grace_ns, NULL);
	}
	if (!c->reaped) {
		kc_child_signal(c, SIGKILL, NULL);
		kc_child_wait(c, 0, NULL);
	}
	close(c->pidfd);
	c->pidfd = -1;
}

const char *kc_child_describe(const struct kc_child *c, char *buf, size_t size)
{
	if (!c->reaped)
		snprintf(buf, size, "running");
	else if (WIFEXITED(c->status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(c->status));
	else
		snprintf(buf, size, "killed by signal %d (%s)", c->status & 0x7f,
			 strsignal(c->status & 0x7f));
	return buf;
}
