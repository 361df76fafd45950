// SPDX-License-Identifier: Apache-2.0
/*
 * Starting a container's process.
 *
 * With privilege the process gets new mount, pid, uts and ipc namespaces
 * (clone3) and pivot_root()s into the container's rootfs, so that the
 * spec's paths mean what they say.  Without it (the agent run as an
 * ordinary user for tests) the process runs plainly: args[0] is looked up
 * inside the rootfs and cwd is taken relative to it, but nothing isolates
 * it.  The child reports a failure before exec through a close-on-exec
 * pipe, so StartContainer fails with the real reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "lib/util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int kc_agent_exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}

/* The program's path inside the rootfs: args[0] itself when it has a '/',
 * else the first executable match in the spec's PATH. */
static char *resolve_in_root(const struct kc_agent_container *c, kc_error_t *err)
{
	const char *name = c->args[0];
	const char *path = DEFAULT_PATH;
	cleanup_free char *dirs = NULL;
	char *save = NULL;

	if (strchr(name, '/'))
		return kc_xstrdup(name);
	for (char **e = c->env; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	dirs = kc_xstrdup(path);
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		cleanup_free char *in_root = kc_xasprintf("%s/%s", d, name);
		cleanup_free char *host = kc_xasprintf("%s/%s", c->root, in_root);

		if (access(host, X_OK) == 0)
			return kc_steal_ptr(&in_root);
	}
	kc_error_set(err, ENOENT, "executable `%s` not found in PATH `%s` of rootfs `%s`", name,
		     path, c->root);
	return NULL;
}

static void child_fail(int errfd, const char *what, const char *obj)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s `%s`: %s", what, obj, strerror(errno));

	if (n > 0 && write(errfd, buf, (size_t)n) < 0) {
		/* The parent sees the exit status anyway. */
	}
	_exit(127);
}

static pid_t clone3_pidfd(uint64_t flags, int *pidfd)
{
	struct clone_args args;

	memset(&args, 0, sizeof(args));
	args.flags = flags | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = SIGCHLD;
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static void child(const struct kc_agent_container *c, const char *exe, bool isolated, int errfd,
		  int syncfd)
{
	const struct kc_agent_proc *p = &c->init;
	sigset_t all;
	cleanup_free char *plain_exe = NULL;
	char go;
	ssize_t n;

	/* Held until the parent has put us in the container's cgroup: EOF
	 * instead of the byte means it could not. */
	do
		n = read(syncfd, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(127);
	close(syncfd);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (dup2(p->child_stdin, 0) < 0 || dup2(p->child_stdout, 1) < 0 ||
	    dup2(p->child_stderr, 2) < 0)
		child_fail(errfd, "dup2", "stdio");
	/* Whatever the agent inherited without close-on-exec stays out of
	 * the container (errfd is close-on-exec already). */
	syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
	if (isolated) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			child_fail(errfd, "make private", "/");
		if (mount(c->root, c->root, NULL, MS_BIND | MS_REC, NULL) < 0)
			child_fail(errfd, "bind mount", c->root);
		if (chdir(c->root) < 0)
			child_fail(errfd, "chdir", c->root);
		if (syscall(SYS_pivot_root, ".", ".") == 0) {
			if (umount2(".", MNT_DETACH) < 0)
				child_fail(errfd, "umount old root of", c->root);
		} else if (errno == EINVAL) {
			/* The agent's own root is an initramfs, which cannot be
			 * pivoted away: move the rootfs over "/" and chroot, as
			 * runc's no_pivot_root does. */
			if (mount(c->root, "/", NULL, MS_MOVE, NULL) < 0)
				child_fail(errfd, "move mount", c->root);
			if (chroot(".") < 0)
				child_fail(errfd, "chroot", c->root);
		} else {
			child_fail(errfd, "pivot_root", c->root);
		}
		if (chdir(c->cwd) < 0)
			child_fail(errfd, "chdir", c->cwd);
	} else {
		cleanup_free char *cwd = kc_xasprintf("%s/%s", c->root, c->cwd);

		if (chdir(cwd) < 0)
			child_fail(errfd, "chdir", cwd);
		plain_exe = kc_xasprintf("%s/%s", c->root, exe);
		exe = plain_exe;
	}
	execve(exe, c->args, c->env);
	child_fail(errfd, "exec", c->args[0]);
}

int kc_agent_proc_spawn(struct kc_agent_container *c, kc_error_t *err)
{
	struct kc_agent_proc *p = &c->init;
	uint64_t ns = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
	cleanup_free char *exe = NULL;
	int errpipe[2], syncpipe[2];
	int pidfd = -1;
	bool isolated = true;
	char msg[512];
	ssize_t n;
	pid_t pid;

	exe = resolve_in_root(c, err);
	if (!exe)
		return -1;
	if (pipe2(errpipe, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe");
	if (pipe2(syncpipe, O_CLOEXEC) < 0) {
		close(errpipe[0]);
		close(errpipe[1]);
		return kc_error_set(err, errno, "pipe");
	}
	pid = clone3_pidfd(ns, &pidfd);
	if (pid < 0 && (errno == EPERM || errno == EINVAL || errno == EUSERS)) {
		isolated = false;
		pid = clone3_pidfd(0, &pidfd);
	}
	if (pid < 0 && errno == ENOSYS) {
		isolated = false;
		pidfd = -1;
		pid = fork();
	}
	if (pid < 0) {
		int e = errno;

		close(errpipe[0]);
		close(errpipe[1]);
		close(syncpipe[0]);
		close(syncpipe[1]);
		return kc_error_set(err, e, "starting container `%s`", c->id);
	}
	if (pid == 0) {
		close(errpipe[0]);
		close(syncpipe[1]);
		child(c, exe, isolated, errpipe[1], syncpipe[0]);
	}
	close(errpipe[1]);
	close(syncpipe[0]);
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	p->pid = pid;
	p->pidfd = pidfd;
	if (kc_agent_cgroup_attach(c, pid, err) < 0 || write(syncpipe[1], "1", 1) != 1) {
		if (!*err)
			kc_error_set(err, errno, "releasing the process of container `%s`", c->id);
		/* Our end closing makes the child exit; the reaper collects it. */
		close(syncpipe[1]);
		close(errpipe[0]);
		return kc_error_ret(err);
	}
	close(syncpipe[1]);
	do
		n = read(errpipe[0], msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	close(errpipe[0]);
	if (n > 0) {
		msg[n] = '\0';
		/* The child exits 127; the reaper collects it. */
		return kc_error_set(err, ENOEXEC, "container `%s`: %s", c->id, msg);
	}
	return 0;
}

int kc_agent_proc_signal(struct kc_agent_proc *p, int sig, kc_error_t *err)
{
	int ret;

	if (p->pidfd >= 0)
		ret = (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
	else
		ret = kill(p->pid, sig);
	if (ret < 0)
		return kc_error_set(err, errno, "signal %d to process %d", sig, (int)p->pid);
	return 0;
}
