/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every process of a container (signals, ListProcesses) and the sandbox's
 * shared pid namespace.  With a pid namespace of its own, a container's
 * processes are found by that namespace's inode in /proc, so that those
 * its processes started are reached too; in a shared one, the agent knows
 * only the processes it started.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "lib/util.h"
#include "runtime.h"

/* ---- all processes of a container ---- */

/* Whether pid lives in the pid namespace whose inode is ino. */
static bool in_pidns(pid_t pid, dev_t dev, ino_t ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	return stat(path, &st) == 0 && st.st_ino == ino && st.st_dev == dev;
}

/* Calls fn on each process of c; returns how many. */
static size_t foreach_pid(struct kc_agent_container *c, void (*fn)(pid_t, void *), void *data)
{
	size_t n = 0;

	if (c->own_pidns && c->init.pid > 0 && !c->init.exited) {
		char path[64];
		struct stat st;
		struct dirent *e;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)c->init.pid);
		if (stat(path, &st) == 0 && (d = opendir("/proc"))) {
			while ((e = readdir(d))) {
				if (e->d_name[0] < '0' || e->d_name[0] > '9')
					continue;
				if (in_pidns((pid_t)atoi(e->d_name), st.st_dev, st.st_ino)) {
					fn((pid_t)atoi(e->d_name), data);
					n++;
				}
			}
			closedir(d);
			return n;
		}
	}
	/* A shared pid namespace: the processes the agent started. */
	if (c->init.pid > 0 && !c->init.exited) {
		fn(c->init.pid, data);
		n++;
	}
	for (struct kc_agent_proc *p = c->execs; p; p = p->next)
		if (p->pid > 0 && !p->exited) {
			fn(p->pid, data);
			n++;
		}
	return n;
}

struct sig_args {
	int sig;
	pid_t init;
};

static void send_sig(pid_t pid, void *data)
{
	struct sig_args *a = data;

	if (pid != a->init)
		kill(pid, a->sig);
}

int kc_agent_container_signal_all(struct kc_agent_container *c, int sig, kc_error_t *err)
{
	struct sig_args a = { sig, c->init.exited ? 0 : c->init.pid };
	size_t n;

	(void)err;
	/* The init last: once it dies, the kernel kills the rest of its pid
	 * namespace with SIGKILL, before they would see sig. */
	n = foreach_pid(c, send_sig, &a);
	if (a.init > 0)
		kc_agent_proc_signal(&c->init, sig, NULL);
	return (int)n;
}

struct pid_list {
	pid_t *v;
	size_t n;
};

static void add_pid(pid_t pid, void *data)
{
	struct pid_list *l = data;

	l->v = kc_xrealloc(l->v, (l->n + 1) * sizeof(pid_t));
	l->v[l->n++] = pid;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

pid_t *kc_agent_container_pids(struct kc_agent_container *c, size_t *n)
{
	struct pid_list l = { NULL, 0 };

	foreach_pid(c, add_pid, &l);
	if (l.n)
		qsort(l.v, l.n, sizeof(pid_t), cmp_pid);
	*n = l.n;
	return l.v;
}

/* ---- the sandbox's pid namespace ---- */

int kc_agent_sandbox_pidns_start(struct kc_agent *a, kc_error_t *err)
{
	int pidfd = -1;
	pid_t pid;

	if (a->pidns_pid > 0)
		return 0;
	pid = kc_agent_clone_in(-1, CLONE_NEWPID, -1, &pidfd, err);
	if (pid < 0)
		return pid;
	if (pid == 0) {
		sigset_t all;

		/* PID 1 of the pod: reaps what is orphaned there (SIGCHLD
		 * ignored reaps automatically) and waits to be killed. */
		sigfillset(&all);
		kc_agent_close_all_but(NULL, 0);
		signal(SIGCHLD, SIG_IGN);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		prctl(PR_SET_NAME, "pause", 0, 0, 0);
		for (;;)
			pause();
	}
	a->pidns_pid = pid;
	a->pidns_pidfd = pidfd;
	return 0;
}

void kc_agent_sandbox_pidns_stop(struct kc_agent *a)
{
	if (a->pidns_pid <= 0)
		return;
	syscall(SYS_pidfd_send_signal, a->pidns_pidfd, SIGKILL, NULL, 0);
	while (waitpid(a->pidns_pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(a->pidns_pidfd);
	a->pidns_pid = 0;
	a->pidns_pidfd = -1;
}
