/* SPDX-License-Identifier: Apache-2.0 */
/* Supervised child processes: spawn with a pidfd, wait, signal, stop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/* What failed in the child, sent back through the error pipe. */
enum stage { STAGE_SETSID, STAGE_SETPGID, STAGE_CHDIR, STAGE_FDS, STAGE_EXEC };

struct child_failure {
	int stage; /* enum stage */
	int err; /* errno */
};

/* Everything the child needs, ready before fork. */
struct plan {
	char *const *argv;
	char *const *envp;
	const char *cwd;
	enum kc_child_group group;
	int src[3 + KC_CHILD_MAX_FDS]; /* the caller's fd that becomes the child's i */
	int n; /* how many: 3 + n_fds */
	int errpipe;
};

/* In the child, between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn)) child_exec(struct plan *p)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	struct child_failure f = { 0 };
	int moved[3 + KC_CHILD_MAX_FDS];
	sigset_t none;
	int errpipe = p->errpipe;

	/* Dispositions first: the parent blocked every signal around fork,
	 * so none of its handlers can run here once the mask is emptied. */
	sigemptyset(&dfl.sa_mask);
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* EINVAL for SIGKILL, SIGSTOP, libc's own */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (p->group == KC_CHILD_NEW_SESSION && setsid() < 0) {
		f.stage = STAGE_SETSID;
		goto fail;
	}
	if (p->group == KC_CHILD_NEW_PGROUP && setpgid(0, 0) < 0) {
		f.stage = STAGE_SETPGID;
		goto fail;
	}
	if (p->cwd && chdir(p->cwd) < 0) {
		f.stage = STAGE_CHDIR;
		goto fail;
	}
	/* Every source (and the error pipe) first goes above the targets
	 * 0 .. n-1, so that no dup2 overwrites a source still to be placed. */
	f.stage = STAGE_FDS;
	errpipe = fcntl(errpipe, F_DUPFD_CLOEXEC, p->n);
	if (errpipe < 0) {
		errpipe = p->errpipe;
		goto fail;
	}
	for (int i = 0; i < p->n; i++) {
		moved[i] = fcntl(p->src[i], F_DUPFD_CLOEXEC, p->n);
		if (moved[i] < 0)
			goto fail;
	}
	for (int i = 0; i < p->n; i++)
		if (dup2(moved[i], i) < 0) /* dup2 clears FD_CLOEXEC */
			goto fail;
	/* Nothing else of the caller's reaches the program, except the
	 * close-on-exec pipe that reports a failed exec. */
	if (errpipe > p->n && close_range((unsigned)p->n, (unsigned)errpipe - 1, 0) < 0)
		goto fail;
	if (close_range((unsigned)errpipe + 1, ~0U, 0) < 0)
		goto fail;
	f.stage = STAGE_EXEC;
	execve(p->argv[0], p->argv, p->envp);
fail:
	f.err = errno;
	(void)!write(errpipe, &f, sizeof(f));
	_exit(127);
}

static bool env_replaced(const char *var, char *const *add)
{
	size_t n = strcspn(var, "=");

	for (; add && *add; add++)
		if (strncmp(*add, var, n) == 0 && (*add)[n] == '=')
			return true;
	return false;
}

/* base (NULL-terminated) less the names add sets, then add.  The strings
 * stay the caller's: only the array is new. */
static char **env_merge(char *const *base, char *const *add)
{
	size_t nb = 0, na = 0, n = 0;
	char **env;

	while (base && base[nb])
		nb++;
	while (add[na])
		na++;
	env = kc_xmalloc((nb + na + 1) * sizeof(char *));
	for (size_t i = 0; i < nb; i++)
		if (!env_replaced(base[i], add))
			env[n++] = base[i];
	for (size_t i = 0; i < na; i++)
		env[n++] = add[i];
	env[n] = NULL;
	return env;
}

static const char *failure_what(int stage)
{
	switch (stage) {
	case STAGE_SETSID:
		return "start a session for";
	case STAGE_SETPGID:
		return "start a process group for";
	case STAGE_CHDIR:
		return "enter the working directory of";
	case STAGE_FDS:
		return "set up the fds of";
	default:
		return "execute";
	}
}

int kc_child_start(const struct kc_child_opts *o, struct kc_child *c, kc_error_t *err)
{
	static const int default_stdio[3] = { KC_CHILD_NULL, KC_CHILD_LOG, KC_CHILD_LOG };
	const int *stdio = o->stdio ? o->stdio : default_stdio;
	cleanup_close int rd = -1, wr = -1, nul = -1, log = -1;
	cleanup_free char **envp = NULL;
	struct child_failure f;
	struct plan p;
	sigset_t all, old;
	int pipefd[2], pidfd, saved;
	ssize_t n;
	pid_t pid;

	*c = (struct kc_child)KC_CHILD_INIT;
	if (!o->argv || !o->argv[0] || !o->argv[0][0])
		return kc_error_set(err, EINVAL, "start a child: no program");
	if (o->n_fds > KC_CHILD_MAX_FDS)
		return kc_error_set(err, E2BIG, "`%s`: %zu fds to pass on, at most %d", o->argv[0],
				    o->n_fds, KC_CHILD_MAX_FDS);
	p = (struct plan){ .argv = o->argv,
			   .envp = o->envp ? o->envp : environ,
			   .cwd = o->cwd,
			   .group = o->group,
			   .n = 3 + (int)o->n_fds };
	for (int i = 0; i < 3; i++) {
		int fd = stdio[i];

		if (fd == KC_CHILD_LOG && o->log_path) {
			if (log < 0)
				log = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
					   0640);
			if (log < 0)
				return kc_error_set(err, errno, "`%s`: log `%s`", o->argv[0],
						    o->log_path);
			fd = log;
		} else if (fd == KC_CHILD_LOG || fd == KC_CHILD_NULL) {
			if (nul < 0)
				nul = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (nul < 0)
				return kc_error_set(err, errno, "open /dev/null");
			fd = nul;
		} else if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
			return kc_error_set(err, fd < 0 ? EBADF : errno,
					    "`%s`: fd %d for its fd %d", o->argv[0], fd, i);
		}
		p.src[i] = fd;
	}
	for (size_t i = 0; i < o->n_fds; i++) {
		if (o->fds[i] < 0 || fcntl(o->fds[i], F_GETFD) < 0)
			return kc_error_set(err, o->fds[i] < 0 ? EBADF : errno,
					    "`%s`: fd %d for its fd %zu", o->argv[0], o->fds[i],
					    3 + i);
		p.src[3 + i] = o->fds[i];
	}
	if (o->env_add && o->env_add[0])
		p.envp = envp = env_merge(p.envp, o->env_add);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe");
	rd = pipefd[0];
	wr = pipefd[1];
	p.errpipe = wr;
	/* No handler of ours may run in the child before it resets them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	saved = errno;
	if (pid == 0)
		child_exec(&p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return kc_error_set(err, saved, "fork for `%s`", o->argv[0]);
	close(kc_steal_fd(&wr));
	/* Our own unreaped child: the pid cannot be recycled before waitid. */
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		saved = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return kc_error_set(err, saved, "pidfd_open for `%s`", o->argv[0]);
	}
	do
		n = read(rd, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		/* It failed before or at exec (or the pipe did): it exits. */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(pidfd);
		if (n != (ssize_t)sizeof(f))
			return kc_error_set(err, n < 0 ? errno : EIO, "start `%s`", o->argv[0]);
		if (f.stage == STAGE_CHDIR)
			return kc_error_set(err, f.err, "%s `%s` (`%s`)", failure_what(f.stage),
					    o->argv[0], o->cwd);
		return kc_error_set(err, f.err, "%s `%s`", failure_what(f.stage), o->argv[0]);
	}
	c->pid = pid;
	c->pidfd = pidfd;
	return 0;
}

int kc_child_spawn(char *const argv[], const char *log_path, struct kc_child *c, kc_error_t *err)
{
	return kc_child_spawn_fds(argv, log_path, NULL, 0, c, err);
}

int kc_child_spawn_fds(char *const argv[], const char *log_path, const int *fds, size_t n_fds,
		       struct kc_child *c, kc_error_t *err)
{
	struct kc_child_opts o = { .argv = argv,
				   .log_path = log_path,
				   .fds = fds,
				   .n_fds = n_fds,
				   .group = KC_CHILD_NEW_SESSION };

	return kc_child_start(&o, c, err);
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
