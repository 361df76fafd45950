/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container runtime's processes: the init process of a container from
 * its OCI spec, processes exec'd into it, signals to all of them, the
 * sandbox's shared pid namespace.
 *
 * (signals.c has the signals to all processes and the pod's pid namespace.)
 *
 * The agent and a child it clones talk over a SOCK_SEQPACKET pair, one
 * message a packet, the first byte its kind:
 *
 *   child -> parent   'N'  namespaces made: write the id maps, run the
 *                          prestart and createRuntime hooks
 *   parent -> child   'G'  go on
 *   child -> parent   'T'  + the pty master (SCM_RIGHTS), with a terminal:
 *                          opened in the container (terminal.c), sent
 *                          before 'R' (init) or before exec (exec)
 *   child -> parent   'R'  ready: rootfs entered, waiting for start
 *   parent -> child   'S'  start: exec the process
 *   child -> parent   'E'  + message: a failure; the child exits 127
 *
 * A child is born in its container's cgroup (clone3 CLONE_INTO_CGROUP): no
 * instruction of it runs outside the limits, and nothing is migrated (a
 * move into a cgroup waits for an RCU grace period: 12 ms of a TCG guest).
 * The child's end is close-on-exec: end of file after 'S' (or at once for
 * an exec'd process) means the exec succeeded.  The agent is one thread:
 * a container's creation and start follow the sync socket on the loop,
 * and the agent's hooks run as children on it (hooks.c), so that a hook
 * that takes minutes holds only its own call.  An exec waits in place:
 * it runs no hook, and its child's setup takes milliseconds.
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "agent/network/network.h"
#include "agent/cgroup/cgroup_agent.h"
#include "runtime.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int kc_agent_exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}

/* Whether pid leaves sig at its default action: neither caught nor
 * ignored, as /proc/PID/status shows (SigCgt, SigIgn: hex masks where bit
 * N-1 is signal N).  Unreadable counts as "not default": the signal is then
 * sent as asked. */
static bool signal_at_default(pid_t pid, int sig)
{
	unsigned long long handled = 0, mask;
	char path[64], line[256];
	unsigned seen = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (seen < 2 && fgets(line, sizeof(line), f))
		if (sscanf(line, "SigCgt: %llx", &mask) == 1 ||
		    sscanf(line, "SigIgn: %llx", &mask) == 1) {
			handled |= mask;
			seen++;
		}
	fclose(f);
	return seen == 2 && !(handled & (1ull << (sig - 1)));
}

int kc_agent_proc_signal(struct kc_agent_proc *p, int sig, kc_error_t *err)
{
	int ret;

	/* The init of a pid namespace of its own is that namespace's PID 1,
	 * which the kernel protects from every signal it has no handler for,
	 * SIGKILL aside, even from the agent in the parent namespace.
	 * containerd and kubelet stop a container with SIGTERM and wait their
	 * whole grace period before SIGKILL: a SIGTERM that a default action
	 * would have obeyed (a process that has not installed its handler
	 * yet, or never does) is sent as SIGKILL instead, as Kata's agent
	 * does.  A process that ignores SIGTERM on purpose keeps ignoring it. */
	if (sig == SIGTERM && p->container && p == &p->container->init && p->container->own_pidns &&
	    signal_at_default(p->pid, SIGTERM)) {
		kc_info("container %s: SIGTERM to its init, which has no handler for it, "
			"sent as SIGKILL",
			p->container->id);
		sig = SIGKILL;
	}
	if (p->pidfd >= 0)
		ret = (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
	else
		ret = kill(p->pid, sig);
	if (ret < 0)
		return kc_error_set(err, errno, "signal %d to process %d", sig, (int)p->pid);
	return 0;
}

/* ---- the sync socket ---- */

static int send_msg(int fd, char kind, const char *payload)
{
	char buf[1024];
	size_t n = 1;

	buf[0] = kind;
	if (payload) {
		n += strlen(payload) < sizeof(buf) - 1 ? strlen(payload) : sizeof(buf) - 1;
		memcpy(buf + 1, payload, n - 1);
	}
	while (send(fd, buf, n, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* A message of one byte with one fd. */
static int send_fd(int fd, char kind, int passed)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &kind, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(u.buf, 0, sizeof(u.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &passed, sizeof(int));
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Returns the kind, 0 at end of file, negative on error; msg (1024 bytes)
 * gets the payload, NUL-terminated.  An fd that came with it is *passed
 * (close-on-exec; -1 when none), or closed when passed is NULL. */
static int recv_msg_fd(int fd, char *msg, int *passed)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char buf[1024];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	int got = -1;

	if (passed)
		*passed = -1;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&got, CMSG_DATA(cm), sizeof(int));
	if (got >= 0 && passed)
		*passed = got;
	else if (got >= 0)
		close(got);
	if (n == 0)
		return 0;
	memcpy(msg, buf + 1, (size_t)n - 1);
	msg[n - 1] = '\0';
	return (unsigned char)buf[0];
}

static int recv_msg(int fd, char *msg)
{
	return recv_msg_fd(fd, msg, NULL);
}

/* In the child, in the container's mount namespace and root: its terminal
 * made, the master sent to the agent. */
static int child_tty(const struct kc_oci_process *p, int sync, kc_error_t *err)
{
	int m, ret;

	if (!p->terminal)
		return 0;
	m = kc_tty_child_open(p, err);
	if (m < 0)
		return m;
	ret = send_fd(sync, 'T', m);
	close(m);
	if (ret < 0)
		return kc_error_set(err, -ret, "send the terminal to the agent");
	return 0;
}

/* In the agent: a 'T' message's fd becomes p's terminal. */
static int take_tty(struct kc_agent_proc *p, int passed, kc_error_t *err)
{
	if (passed < 0)
		return kc_error_set(err, EPROTO, "sync: a terminal message without its fd");
	return kc_agent_proc_set_tty(p, passed, err);
}

/* The parent's error from the child's message, which names its cause. */
static int child_error(kc_error_t *err, int status, const char *msg)
{
	kc_error_set(err, 0, "%s", msg);
	if (err && *err)
		(*err)->status = status;
	return -status;
}

/* In the child: a failure ends it, after telling the parent why. */
static __attribute__((noreturn)) void child_die(int sync, kc_error_t *err)
{
	send_msg(sync, 'E', *err && (*err)->msg ? (*err)->msg : "unknown failure");
	_exit(127);
}

static int child_wait(int sync, char want, kc_error_t *err)
{
	char msg[1024];
	int k = recv_msg(sync, msg);

	if (k == want)
		return 0;
	if (k <= 0)
		/* The agent went away or gave up on us. */
		_exit(127);
	return kc_error_set(err, EPROTO, "sync: got `%c`, expected `%c`", k, want);
}

void kc_agent_close_all_but(const int *keep, size_t n)
{
	unsigned from = 3;

	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 3)
			continue;
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0u, 0);
}

static void sort_fds(int *fds, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];

			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
}

/* Signals back to default, stdio (or the terminal) in place, every other
 * fd of the agent closed but `keep`. */
static int child_stdio(const struct kc_agent_proc *p, int *keep, size_t nkeep, kc_error_t *err)
{
	sigset_t all;

	sigfillset(&all);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	if (setsid() < 0)
		return kc_error_set(err, errno, "setsid");
	if (p->spec->terminal) {
		/* The terminal comes once in the container (child_tty); until
		 * then, nothing of the agent's. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0)
			return kc_error_set(err, errno, "open /dev/null");
		if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) {
			close(null);
			return kc_error_set(err, errno, "dup2 /dev/null onto stdio");
		}
		close(null);
	} else if (dup2(p->child_stdin, 0) < 0 || dup2(p->child_stdout, 1) < 0 ||
		   dup2(p->child_stderr, 2) < 0) {
		return kc_error_set(err, errno, "dup2 stdio");
	}
	sort_fds(keep, nkeep);
	kc_agent_close_all_but(keep, nkeep);
	return 0;
}

int kc_proc_exec(const struct kc_oci_process *p, kc_error_t *err)
{
	const char *name = p->args[0];
	const char *path = DEFAULT_PATH;
	cleanup_free char *dirs = NULL;
	char *save = NULL;
	int saved = ENOENT;

	if (strchr(name, '/')) {
		execve(name, p->args, p->env);
		return kc_error_set(err, errno, "exec `%s`", name);
	}
	for (char **e = p->env; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	dirs = kc_xstrdup(path);
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		cleanup_free char *full = kc_xasprintf("%s/%s", d, name);

		execve(full, p->args, p->env);
		if (errno == EACCES)
			saved = EACCES;
		else if (errno != ENOENT && errno != ENOTDIR)
			return kc_error_set(err, errno, "exec `%s`", full);
	}
	return kc_error_set(err, saved, "executable `%s` not found in PATH `%s`", name, path);
}

/* Identity, seccomp and cwd, then exec: the common end of init and exec. */
static int finalize(const struct kc_oci_process *p, const struct kc_oci_seccomp *sc, kc_error_t *err)
{
	int ret;

	/* Without no_new_privileges, loading a filter needs CAP_SYS_ADMIN,
	 * which the identity change may drop: load it first then. */
	if (sc && !p->no_new_privileges && (ret = kc_seccomp_load(sc, err)) < 0)
		return ret;
	if ((ret = kc_proc_set_identity(p, err)) < 0)
		return ret;
	if (chdir(p->cwd) < 0)
		return kc_error_set(err, errno, "chdir to cwd `%s`", p->cwd);
	if (sc && p->no_new_privileges && (ret = kc_seccomp_load(sc, err)) < 0)
		return ret;
	return kc_proc_exec(p, err);
}

static const struct kc_oci_seccomp *seccomp_of(const struct kc_agent_container *c)
{
	return c->agent->disable_guest_seccomp ? NULL : c->spec->lnx.seccomp;
}

static pid_t clone3_pidfd(uint64_t flags, int cgroup_fd, int *pidfd)
{
	struct clone_args args;

	memset(&args, 0, sizeof(args));
	args.flags = flags | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = SIGCHLD;
	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

pid_t kc_agent_clone_in(int pidns_fd, uint64_t flags, int cgroup_fd, int *pidfd, kc_error_t *err)
{
	cleanup_close int own = -1;
	pid_t pid;
	int e;

	if (pidns_fd >= 0) {
		own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (own < 0)
			return kc_error_set(err, errno, "open /proc/self/ns/pid");
		/* Only the children's pid namespace changes: the agent stays
		 * where it is, and is put back right after the clone. */
		if (setns(pidns_fd, CLONE_NEWPID) < 0)
			return kc_error_set(err, errno, "join the pid namespace");
	}
	pid = clone3_pidfd(flags, cgroup_fd, pidfd);
	if (pid == 0)
		return 0;
	e = errno;
	if (pidns_fd >= 0 && setns(own, CLONE_NEWPID) < 0)
		kc_log_error("cannot return to the agent's pid namespace: %s", strerror(errno));
	if (pid < 0 && cgroup_fd >= 0)
		return kc_error_set(err, e, "clone a process into its cgroup");
	if (pid < 0)
		return kc_error_set(err, e, "clone");
	return pid;
}

/* ---- the init process ---- */

static int set_sysctls(const struct kc_oci_linux *l, kc_error_t *err)
{
	for (size_t i = 0; l->sysctl_keys[i]; i++) {
		cleanup_free char *path = kc_xasprintf("/proc/sys/%s", l->sysctl_keys[i]);
		const char *v = l->sysctl_values[i];
		int fd;

		for (char *c = path + 10; *c; c++)
			if (*c == '.')
				*c = '/';
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return kc_error_set(err, errno, "sysctl `%s`", l->sysctl_keys[i]);
		if (write(fd, v, strlen(v)) < 0) {
			int e = errno;

			close(fd);
			return kc_error_set(err, e, "sysctl `%s` = `%s`", l->sysctl_keys[i], v);
		}
		close(fd);
	}
	return 0;
}

static int write_oom_score_adj(const struct kc_oci_process *p, kc_error_t *err)
{
	char buf[16];
	int fd, n;

	if (!p->has_oom_score_adj)
		return 0;
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	n = snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
	if (fd < 0 || write(fd, buf, (size_t)n) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return kc_error_set(err, e, "oom_score_adj %d", p->oom_score_adj);
	}
	close(fd);
	return 0;
}

/* skip: the types the sandbox's namespaces stand in for. */
static int join_ns_paths(const struct kc_oci_linux *l, uint64_t skip, kc_error_t *err)
{
	/* The user namespace first: the others may belong to it. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < l->n_namespaces; i++) {
			const struct kc_oci_namespace *ns = &l->namespaces[i];
			int fd;

			if (!ns->path || ns->type == CLONE_NEWPID || (skip & (uint64_t)ns->type) ||
			    (pass == 0) != (ns->type == CLONE_NEWUSER))
				continue;
			fd = open(ns->path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return kc_error_set(err, errno, "open namespace `%s`", ns->path);
			if (setns(fd, ns->type) < 0) {
				int e = errno;

				close(fd);
				return kc_error_set(err, e, "join namespace `%s`", ns->path);
			}
			close(fd);
		}
	return 0;
}

static bool ns_new(const struct kc_oci_linux *l, int type)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		if (l->namespaces[i].type == type)
			return !l->namespaces[i].path;
	return false;
}

/*
 * Whether the container has a namespace of `type` of its own: a new one,
 * or one joined by a path that is not the agent's (`self`, its
 * /proc/self/ns file), as runc's isHostNetNS compares.  A path that cannot
 * be read counts as its own: joining it fails later, naming it.
 */
static bool ns_own(const struct kc_oci_linux *l, int type, const char *self)
{
	for (size_t i = 0; i < l->n_namespaces; i++) {
		const struct kc_oci_namespace *ns = &l->namespaces[i];
		struct stat a, b;

		if (ns->type != type)
			continue;
		if (!ns->path || stat(ns->path, &a) < 0 || stat(self, &b) < 0)
			return true;
		return a.st_dev != b.st_dev || a.st_ino != b.st_ino;
	}
	return false;
}

static bool is_ipc_sysctl(const char *k)
{
	return strncmp(k, "kernel.msg", 10) == 0 || strncmp(k, "kernel.shm", 10) == 0 ||
	       strncmp(k, "kernel.sem", 10) == 0 || strncmp(k, "fs.mqueue.", 10) == 0;
}

/*
 * runc's rule (libcontainer/configs/validate): a sysctl is written only
 * where it changes the container's own namespace, never the guest's
 * kernel that every container of the pod shares.  kernel.msg*, kernel.sem*,
 * kernel.shm* and fs.mqueue.* need an ipc namespace of the container's,
 * kernel.hostname and kernel.domainname a uts one, net.* a network one;
 * anything else (vm.*, kernel.panic...) is refused.
 *
 * The network namespace is the exception that Kata makes: the shim drops
 * the spec's network namespace (the pod's network is the VM's), so the
 * guest's containers run in the agent's own, which is the pod's and
 * nobody else's.  net.* is allowed there, as Kubernetes' pod sysctls
 * (net.ipv4.ip_unprivileged_port_start, ping_group_range...) need.  Only
 * an agent that runs on the host in the host's namespace (--no-init, for
 * tests) holds the container to runc's rule.
 */
static int check_sysctls(const struct kc_agent_container *c, kc_error_t *err)
{
	const struct kc_oci_linux *l = &c->spec->lnx;

	for (size_t i = 0; l->sysctl_keys[i]; i++) {
		const char *k = l->sysctl_keys[i];

		if (is_ipc_sysctl(k)) {
			if (!ns_own(l, CLONE_NEWIPC, "/proc/self/ns/ipc"))
				return kc_error_set(err, EINVAL,
						    "linux.sysctl: `%s` needs an ipc namespace of "
						    "the container's own",
						    k);
		} else if (strncmp(k, "net.", 4) == 0) {
			if (kc_agent_net_is_host(c->agent) &&
			    !ns_own(l, CLONE_NEWNET, "/proc/self/ns/net"))
				return kc_error_set(err, EINVAL,
						    "linux.sysctl: `%s` needs a network namespace "
						    "of the container's own",
						    k);
		} else if (strcmp(k, "kernel.hostname") == 0 || strcmp(k, "kernel.domainname") == 0) {
			if (!ns_own(l, CLONE_NEWUTS, "/proc/self/ns/uts"))
				return kc_error_set(err, EINVAL,
						    "linux.sysctl: `%s` needs a uts namespace of "
						    "the container's own",
						    k);
		} else {
			return kc_error_set(err, EINVAL,
					    "linux.sysctl: `%s` is not in a namespace of the container "
					    "(it would change the whole guest)",
					    k);
		}
	}
	return 0;
}

/* podns: a pidfd of the sandbox container, whose namespaces of
 * pod_flags (ipc, uts) the container shares. */
static __attribute__((noreturn)) void init_child(struct kc_agent_container *c, int sync, int podns,
						 uint64_t pod_flags)
{
	const struct kc_oci_spec *s = c->spec;
	const struct kc_oci_process *p = s->process;
	kc_error_t err = NULL;
	cleanup_free char *state = NULL;
	int keep[] = { sync, podns };

	if (child_stdio(&c->init, keep, podns >= 0 ? 2 : 1, &err) < 0)
		child_die(sync, &err);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (join_ns_paths(&s->lnx, pod_flags, &err) < 0)
		child_die(sync, &err);
	if (podns >= 0) {
		if (setns(podns, (int)pod_flags) < 0) {
			kc_error_set(&err, errno, "join the sandbox container's %s%s%s namespace",
				     pod_flags & CLONE_NEWIPC ? "ipc" : "",
				     pod_flags == (CLONE_NEWIPC | CLONE_NEWUTS) ? " and " : "",
				     pod_flags & CLONE_NEWUTS ? "uts" : "");
			child_die(sync, &err);
		}
		close(podns);
	}
	/* Born in the container's cgroup: it is the namespace's root. */
	if (ns_new(&s->lnx, CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) {
		kc_error_set(&err, errno, "unshare the cgroup namespace");
		child_die(sync, &err);
	}
	send_msg(sync, 'N', NULL);
	if (child_wait(sync, 'G', &err) < 0)
		child_die(sync, &err);
	if (c->userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		kc_error_set(&err, errno, "become root of the user namespace");
		child_die(sync, &err);
	}
	if (kc_rootfs_prepare(s, c->root, c->userns, &err) < 0)
		child_die(sync, &err);
	state = kc_hook_state(c, "creating", getpid());
	if (kc_hooks_run(s, KC_OCI_HOOK_CREATE_CONTAINER, state, &err) < 0)
		child_die(sync, &err);
	/* Before the rootfs is entered, whose readonlyPaths make /proc/sys
	 * read-only (as runc orders it).  /proc/sys acts on the writer's
	 * namespaces, whichever proc mount it goes through. */
	if (set_sysctls(&s->lnx, &err) < 0 || kc_rootfs_enter(s, c->root, &err) < 0)
		child_die(sync, &err);
	if (s->hostname || s->domainname) {
		if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
			kc_error_set(&err, errno, "sethostname `%s`", s->hostname);
			child_die(sync, &err);
		}
		if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0) {
			kc_error_set(&err, errno, "setdomainname `%s`", s->domainname);
			child_die(sync, &err);
		}
	}
	if (write_oom_score_adj(p, &err) < 0 || kc_proc_apply_rlimits(p, &err) < 0 ||
	    child_tty(p, sync, &err) < 0)
		child_die(sync, &err);
	send_msg(sync, 'R', NULL);
	if (child_wait(sync, 'S', &err) < 0)
		child_die(sync, &err);
	free(state);
	state = kc_hook_state(c, "created", getpid());
	if (kc_hooks_run(s, KC_OCI_HOOK_START_CONTAINER, state, &err) < 0)
		child_die(sync, &err);
	finalize(p, seccomp_of(c), &err);
	child_die(sync, &err);
}

static int write_map(pid_t pid, const char *file, const struct kc_oci_idmap *m, size_t n,
		     kc_error_t *err)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/%s", (int)pid, file);
	cleanup_free char *buf = kc_xstrdup("");
	int fd;

	for (size_t i = 0; i < n; i++) {
		char *b = kc_xasprintf("%s%u %u %u\n", buf, m[i].container_id, m[i].host_id,
				       m[i].size);

		free(buf);
		buf = b;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, strlen(buf)) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return kc_error_set(err, e, "write %s", path);
	}
	close(fd);
	return 0;
}

/* Kills and reaps a child whose setup failed, through its pidfd so that
 * a pid the reaper already collected (and the kernel reused) is never
 * waited for; the process records it as exited with 127.  A killed child
 * is reaped at once: SIGKILL ends it wherever it is in its setup. */
static void abort_child(struct kc_agent_proc *p)
{
	siginfo_t si;

	if (p->exited)
		return;
	kc_agent_proc_signal(p, SIGKILL, NULL);
	if (p->pidfd >= 0)
		while (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
	else
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	p->exited = true;
	p->status = 127;
}

static uint64_t clone_flags(const struct kc_oci_linux *l)
{
	uint64_t f = CLONE_NEWNS; /* always: the rootfs is set up in it */

	for (size_t i = 0; i < l->n_namespaces; i++)
		if (!l->namespaces[i].path && l->namespaces[i].type != CLONE_NEWCGROUP)
			f |= (uint64_t)l->namespaces[i].type;
	return f;
}

/*
 * A pidfd of the sandbox (infra) container's init, while it runs: the
 * process whose namespaces CreateContainer's sandbox_*ns (what) name.  A
 * pidfd stands for all the namespaces of its process (setns(2)) and,
 * unlike /proc/<pid>/ns, cannot name a recycled pid.
 */
static int infra_pidfd(struct kc_agent *a, const char *what, kc_error_t *err)
{
	struct kc_agent_container *c = a->containers;
	int fd;

	if (!a->infra_id)
		return kc_error_set(err, EINVAL, "%s: the sandbox has no container yet", what);
	while (c && strcmp(c->id, a->infra_id) != 0)
		c = c->next;
	if (!c || c->init.pid <= 0 || c->init.exited || c->init.pidfd < 0)
		return kc_error_set(err, ESRCH, "%s: the sandbox container `%s` is not running",
				    what, a->infra_id);
	fd = fcntl(c->init.pidfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return kc_error_set(err, errno, "dup the pidfd of container `%s`", c->id);
	return fd;
}

/* ---- the steps that wait on the loop ---- */

/* The step's end: its state cleared first, as done may free c. */
static void step_finish(struct kc_agent_container *c, kc_error_t *err)
{
	kc_agent_step_fn done = c->step_done;

	c->step_done = NULL;
	if (done)
		done(c, err);
}

static void sync_close(struct kc_agent_container *c)
{
	if (c->sync_watch)
		kc_loop_watch_remove(c->sync_watch);
	c->sync_watch = NULL;
	if (c->sync_fd >= 0)
		close(c->sync_fd);
	c->sync_fd = -1;
}

void kc_agent_container_abort(struct kc_agent_container *c)
{
	kc_hooks_cancel(c->hooks);
	c->hooks = NULL;
	if (c->sync_watch)
		sync_close(c);
	/* A child still in its setup will never be started: it goes now,
	 * reaped, rather than left to exit on its own. */
	if (c->state == KC_AGENT_CREATING && c->init.pid > 0)
		abort_child(&c->init);
	c->step_done = NULL;
}

static int watch_sync(struct kc_agent_container *c, kc_loop_fd_fn fn, kc_error_t *err)
{
	return kc_loop_watch_fd(c->agent->loop, c->sync_fd, EPOLLIN, fn, c, &c->sync_watch, err);
}

/* Create failed: the child killed and reaped, nothing of the step left. */
static void create_fail(struct kc_agent_container *c, kc_error_t *err)
{
	kc_hooks_cancel(c->hooks);
	c->hooks = NULL;
	abort_child(&c->init);
	sync_close(c);
	step_finish(c, err);
}

static void create_hooks_done(void *data, kc_error_t *err)
{
	struct kc_agent_container *c = data;

	c->hooks = NULL;
	if (err) {
		create_fail(c, err);
		return;
	}
	send_msg(c->sync_fd, 'G', NULL);
}

/* The child's namespaces exist: its id maps, then the prestart and
 * createRuntime hooks (in the runtime's namespaces), then 'G'. */
static int create_namespaces_made(struct kc_agent_container *c, kc_error_t *err)
{
	static const enum kc_oci_hook_kind kinds[] = { KC_OCI_HOOK_PRESTART,
						       KC_OCI_HOOK_CREATE_RUNTIME };
	const struct kc_oci_linux *l = &c->spec->lnx;
	cleanup_free char *state = NULL;
	pid_t pid = c->init.pid;
	int ret;

	if (c->userns &&
	    ((ret = write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings, err)) < 0 ||
	     (ret = write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings, err)) < 0))
		return ret;
	state = kc_hook_state(c, "creating", pid);
	ret = kc_hooks_start(c->agent, c->spec, kinds, KC_ARRAY_SIZE(kinds), state,
			     create_hooks_done, c, &c->hooks, err);
	if (ret < 0)
		return ret;
	if (!c->hooks)
		send_msg(c->sync_fd, 'G', NULL);
	return 0;
}

/* One message of the child in setup (the socket is readable). */
static void create_on_sync(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_agent_container *c = data;
	cleanup_error kc_error_t err = NULL;
	char msg[1024];
	int k, passed;

	(void)w;
	(void)events;
	k = recv_msg_fd(fd, msg, &passed);
	if (k == 'T') {
		if (take_tty(&c->init, passed, &err) < 0)
			create_fail(c, &err);
		return;
	}
	if (passed >= 0)
		close(passed);
	if (k == 'N') {
		if (create_namespaces_made(c, &err) < 0)
			create_fail(c, &err);
		return;
	}
	if (k == 'R') {
		if (c->init.spec->terminal && c->init.tty_fd < 0) {
			kc_error_set(&err, EPROTO, "sync: ready without the terminal");
			create_fail(c, &err);
			return;
		}
		/* The socket stays for the start; nothing comes on it until. */
		kc_loop_watch_remove(c->sync_watch);
		c->sync_watch = NULL;
		step_finish(c, NULL);
		return;
	}
	if (k == 'E')
		child_error(&err, EINVAL, msg);
	else if (k > 0)
		kc_error_set(&err, EPROTO, "sync: unexpected message `%c` in setup", k);
	else
		kc_error_set(&err, k < 0 ? -k : ECHILD,
			     "the container's init process died in setup");
	create_fail(c, &err);
}

int kc_agent_container_create(struct kc_agent_container *c, uint64_t sandbox_ns,
			      kc_agent_step_fn done, kc_error_t *err)
{
	const struct kc_oci_linux *l = &c->spec->lnx;
	struct kc_agent_proc *p = &c->init;
	uint64_t flags = clone_flags(l);
	cleanup_close int pidns = -1, podns = -1;
	int sv[2], pidfd = -1, ret;
	pid_t pid;

	if ((c->spec->hostname || c->spec->domainname) &&
	    (!ns_new(l, CLONE_NEWUTS) || (sandbox_ns & CLONE_NEWUTS)))
		return kc_error_set(err, EINVAL, "hostname: needs a uts namespace of its own");
	/* What would only fail in the child, or later at start, fails here. */
	if ((ret = check_sysctls(c, err)) < 0)
		return ret;
	if (seccomp_of(c) && (ret = kc_seccomp_check(seccomp_of(c), err)) < 0)
		return ret;
	c->userns = (flags & CLONE_NEWUSER) != 0;
	if (c->userns && (!l->n_uid_mappings || !l->n_gid_mappings))
		return kc_error_set(
			err, EINVAL,
			"linux.uidMappings and gidMappings: needed with a user namespace");
	/* The sandbox's namespaces stand in for the spec's of their type. */
	flags &= ~sandbox_ns;
	if (sandbox_ns & (CLONE_NEWIPC | CLONE_NEWUTS)) {
		podns = infra_pidfd(c->agent,
				    sandbox_ns & CLONE_NEWIPC ? "sandbox_ipcns" : "sandbox_utsns",
				    err);
		if (podns < 0)
			return podns;
	}
	if ((sandbox_ns & CLONE_NEWPID) && c->agent->pidns_pid > 0) {
		cleanup_free char *path = kc_xasprintf("/proc/%d/ns/pid", (int)c->agent->pidns_pid);

		pidns = open(path, O_RDONLY | O_CLOEXEC);
		if (pidns < 0)
			return kc_error_set(err, errno, "open the sandbox's pid namespace");
	} else if (sandbox_ns & CLONE_NEWPID) {
		pidns = infra_pidfd(c->agent, "sandbox_pidns", err);
		if (pidns < 0)
			return pidns;
	} else {
		for (size_t i = 0; i < l->n_namespaces; i++)
			if (l->namespaces[i].type == CLONE_NEWPID && l->namespaces[i].path) {
				pidns = open(l->namespaces[i].path, O_RDONLY | O_CLOEXEC);
				if (pidns < 0)
					return kc_error_set(err, errno, "open pid namespace `%s`",
							    l->namespaces[i].path);
			}
	}
	c->own_pidns = (flags & CLONE_NEWPID) != 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return kc_error_set(err, errno, "socketpair");
	pid = kc_agent_clone_in(pidns, flags, kc_agent_cgroup_fd(c), &pidfd, err);
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return pid;
	}
	if (pid == 0) {
		close(sv[0]);
		init_child(c, sv[1], podns, sandbox_ns & (CLONE_NEWIPC | CLONE_NEWUTS));
	}
	close(sv[1]);
	c->sync_fd = sv[0];
	p->pid = pid;
	p->pidfd = pidfd;
	/* The child's setup (and the hooks around it) goes on while the
	 * agent serves other calls: its messages come through the loop. */
	ret = watch_sync(c, create_on_sync, err);
	if (ret < 0) {
		abort_child(p);
		sync_close(c);
		return ret;
	}
	c->step_done = done;
	return 0;
}

/* The end of hooks whose failure is only logged, as the OCI spec wants of
 * poststart and poststop: the step goes on. */
static void logged_hooks_done(void *data, kc_error_t *err)
{
	struct kc_agent_container *c = data;

	c->hooks = NULL;
	if (err)
		kc_log_error_free(KC_LOG_WARNING, err, "container %s", c->id);
	step_finish(c, NULL);
}

/* The init process's answer to 'S': end of file once it execs. */
static void start_on_sync(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	static const enum kc_oci_hook_kind poststart = KC_OCI_HOOK_POSTSTART;
	struct kc_agent_container *c = data;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *state = NULL;
	char msg[1024];
	int k;

	(void)w;
	(void)events;
	k = recv_msg(fd, msg);
	sync_close(c);
	if (k == 'E') {
		/* The child exits 127; the reaper collects it. */
		child_error(&err, EINVAL, msg);
		step_finish(c, &err);
		return;
	}
	if (k != 0) {
		kc_error_set(&err, EPROTO, "the container's init process failed to start");
		step_finish(c, &err);
		return;
	}
	if (c->state == KC_AGENT_CREATED)
		c->state = KC_AGENT_RUNNING;
	state = kc_hook_state(c, "running", c->init.pid);
	if (kc_hooks_start(c->agent, c->spec, &poststart, 1, state, logged_hooks_done, c, &c->hooks,
			   &err) < 0)
		kc_log_error_free(KC_LOG_WARNING, &err, "container %s", c->id);
	if (!c->hooks)
		step_finish(c, NULL);
}

int kc_agent_container_start(struct kc_agent_container *c, kc_agent_step_fn done, kc_error_t *err)
{
	int ret;

	if (c->sync_fd < 0)
		return kc_error_set(err, EINVAL, "container `%s` has no process to start", c->id);
	/* The startContainer hooks run in the child before it execs: the
	 * answer comes through the loop. */
	ret = watch_sync(c, start_on_sync, err);
	if (ret < 0)
		return ret;
	/* A child that died since it was ready cannot take 'S': its end of
	 * file would otherwise read as a successful exec. */
	ret = send_msg(c->sync_fd, 'S', NULL);
	if (ret < 0) {
		kc_loop_watch_remove(c->sync_watch);
		c->sync_watch = NULL;
		return kc_error_set(err, -ret, "the init process of container `%s` is gone", c->id);
	}
	c->step_done = done;
	return 0;
}

bool kc_agent_container_poststop_start(struct kc_agent_container *c, kc_agent_step_fn done)
{
	static const enum kc_oci_hook_kind poststop = KC_OCI_HOOK_POSTSTOP;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *state = NULL;

	if (c->poststop_done || !c->spec || c->init.pid <= 0)
		return false;
	c->poststop_done = true;
	state = kc_hook_state(c, "stopped", 0);
	if (kc_hooks_start(c->agent, c->spec, &poststop, 1, state, logged_hooks_done, c, &c->hooks,
			   &err) < 0)
		kc_log_error_free(KC_LOG_WARNING, &err, "container %s", c->id);
	if (!c->hooks)
		return false;
	c->step_done = done;
	return true;
}

void kc_agent_container_poststop(struct kc_agent_container *c)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *state = NULL;

	if (c->poststop_done || !c->spec || c->init.pid <= 0)
		return;
	c->poststop_done = true;
	state = kc_hook_state(c, "stopped", 0);
	if (kc_hooks_run(c->spec, KC_OCI_HOOK_POSTSTOP, state, &err) < 0)
		kc_log_error_free(KC_LOG_WARNING, &err, "container %s", c->id);
}

/* ---- exec ---- */

static __attribute__((noreturn)) void exec_child(struct kc_agent_container *c,
						 struct kc_agent_proc *p, int sync, int rootfd)
{
	int nsflags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
	int keep[] = { sync, rootfd, c->init.pidfd };
	kc_error_t err = NULL;

	if (child_stdio(p, keep, 3, &err) < 0)
		child_die(sync, &err);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (c->userns)
		nsflags |= CLONE_NEWUSER;
	if (setns(c->init.pidfd, nsflags) < 0) {
		kc_error_set(&err, errno, "join the namespaces of container `%s`", c->id);
		child_die(sync, &err);
	}
	/* The root of the container's init, whether pivot_root or chroot
	 * made it. */
	if (fchdir(rootfd) < 0 || chroot(".") < 0) {
		kc_error_set(&err, errno, "enter the rootfs of container `%s`", c->id);
		child_die(sync, &err);
	}
	close(rootfd);
	close(c->init.pidfd);
	if (kc_proc_apply_rlimits(p->spec, &err) < 0 || child_tty(p->spec, sync, &err) < 0)
		child_die(sync, &err);
	finalize(p->spec, seccomp_of(c), &err);
	child_die(sync, &err);
}

/*
 * What an exec'd process's spec leaves out comes from the container's own
 * process, as runc's exec does (libcontainer's newInitConfig and
 * finalizeNamespace): the capability sets, no_new_privileges and the
 * rlimits.  Without this an exec with no "capabilities" ran with the
 * agent's full set, outside what the container was given.
 */
static void exec_inherit(const struct kc_agent_container *c, struct kc_oci_process *p)
{
	const struct kc_oci_process *init = c->spec->process;

	if (!p->has_caps && init->has_caps) {
		p->has_caps = true;
		memcpy(p->caps, init->caps, sizeof(p->caps));
	}
	if (!p->has_no_new_privileges)
		p->no_new_privileges = init->no_new_privileges;
	if (!p->n_rlimits && init->n_rlimits) {
		free(p->rlimits);
		p->rlimits = kc_xmalloc(init->n_rlimits * sizeof(*p->rlimits));
		memcpy(p->rlimits, init->rlimits, init->n_rlimits * sizeof(*p->rlimits));
		p->n_rlimits = init->n_rlimits;
	}
}

int kc_agent_exec_spawn(struct kc_agent_container *c, struct kc_agent_proc *p, kc_error_t *err)
{
	cleanup_free char *root = kc_xasprintf("/proc/%d/root", (int)c->init.pid);
	cleanup_free char *nspath = kc_xasprintf("/proc/%d/ns/pid", (int)c->init.pid);
	cleanup_close int rootfd = -1, pidns = -1;
	char msg[1024];
	int sv[2], pidfd = -1, ret, k, passed;
	pid_t pid;

	if (c->init.pid <= 0 || c->init.exited || c->init.pidfd < 0)
		return kc_error_set(err, EINVAL, "container `%s` is not running", c->id);
	exec_inherit(c, p->spec);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	pidns = open(nspath, O_RDONLY | O_CLOEXEC);
	if (rootfd < 0 || pidns < 0)
		return kc_error_set(err, errno, "open %s of container `%s`",
				    rootfd < 0 ? root : nspath, c->id);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return kc_error_set(err, errno, "socketpair");
	pid = kc_agent_clone_in(pidns, 0, kc_agent_cgroup_fd(c), &pidfd, err);
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return pid;
	}
	if (pid == 0) {
		close(sv[0]);
		exec_child(c, p, sv[1], rootfd);
	}
	close(sv[1]);
	p->pid = pid;
	p->pidfd = pidfd;
	while ((k = recv_msg_fd(sv[0], msg, &passed)) == 'T')
		if ((ret = take_tty(p, passed, err)) < 0)
			goto fail;
	if (passed >= 0)
		close(passed);
	if (k == 'E')
		ret = child_error(err, EINVAL, msg);
	else if (k != 0)
		ret = kc_error_set(err, EPROTO, "exec into container `%s` failed", c->id);
	else if (p->spec->terminal && p->tty_fd < 0)
		ret = kc_error_set(err, EPROTO, "exec into container `%s`: no terminal", c->id);
	else
		ret = 0;
	if (ret == 0) {
		close(sv[0]);
		return 0;
	}
fail:
	/* A failed exec ends here, whatever the caller does next: the child
	 * (exiting 127 after 'E', or still running after a protocol error)
	 * is killed and reaped now, so that nothing of it waits for a
	 * WaitProcess or a stream read that may never come. */
	abort_child(p);
	close(sv[0]);
	return ret;
}
