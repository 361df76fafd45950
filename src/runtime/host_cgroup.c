// SPDX-License-Identifier: Apache-2.0
#include "host_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct kc_host_cgroup {
	char **roots;   /* hierarchy mount points we joined */
	char **created; /* dirs made, in creation order */
	size_t n_roots, n_created;
};

/* Every cgroup (v1) and cgroup2 mount point, one per hierarchy. */
static char **hierarchies(size_t *n)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		if (strcmp(fstype, "cgroup") != 0 && strcmp(fstype, "cgroup2") != 0)
			continue;
		v = kc_xrealloc(v, (*n + 2) * sizeof(*v));
		v[(*n)++] = kc_xstrdup(mp);
		v[*n] = NULL;
	}
	return v;
}

static int write_pid(const char *dir, kc_error_t *err)
{
	cleanup_free char *p = kc_xasprintf("%s/cgroup.procs", dir);
	char buf[32];
	int fd = open(p, O_WRONLY | O_CLOEXEC), n, ret = 0;

	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", p);
	n = snprintf(buf, sizeof(buf), "%d", (int)getpid());
	if (write(fd, buf, (size_t)n) != n)
		ret = kc_error_set(err, errno, "write `%s`", p);
	close(fd);
	return ret;
}

/* A new cpuset cgroup (v1) starts with no cpus and mems: each level
 * below the root takes its parent's. */
static void cpuset_inherit(const char *root, const char *dir)
{
	cleanup_free char *p = kc_xstrdup(dir);
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };

	for (char *s = p + strlen(root) + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			for (size_t i = 0; i < 2; i++) {
				cleanup_free char *mine = kc_xasprintf("%s/%s", p, files[i]);
				cleanup_free char *parent = kc_xasprintf("%s/../%s", p, files[i]);
				cleanup_free char *v = NULL;
				size_t len;

				if (kc_read_file(parent, 4096, &v, &len, NULL) == 0 && len > 1) {
					int fd = open(mine, O_WRONLY | O_CLOEXEC);

					if (fd >= 0) {
						if (write(fd, v, len) < 0)
							kc_debug("write `%s`: %s", mine, strerror(errno));
						close(fd);
					}
				}
			}
			*s = c;
			if (!c)
				break;
		}
	}
}

static bool path_ok(const char *path)
{
	if (path[0] != '/' || strlen(path) > 1024)
		return false;
	for (const char *c = path; (c = strstr(c, "..")); c += 2)
		if (c[-1] == '/' && (c[2] == '\0' || c[2] == '/'))
			return false;
	return true;
}

int kc_host_cgroup_enter(const char *path, struct kc_host_cgroup **out, kc_error_t *err)
{
	struct kc_host_cgroup *cg;
	size_t n;
	char **roots;

	*out = NULL;
	if (!path_ok(path))
		return kc_error_set(err, EINVAL,
				    "cgroupsPath `%s`: only absolute paths without `..` are supported "
				    "on the host",
				    path);
	roots = hierarchies(&n);
	cg = kc_xzalloc(sizeof(*cg));
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *dir = kc_xasprintf("%s%s", roots[i], path);
		cleanup_error kc_error_t werr = NULL;

		/* Create each missing component, remembering it for removal. */
		for (char *s = dir + strlen(roots[i]) + 1;; s++) {
			if (*s == '/' || *s == '\0') {
				char c = *s;

				*s = '\0';
				if (mkdir(dir, 0755) == 0) {
					cg->created = kc_xrealloc(cg->created,
								  (cg->n_created + 1) * sizeof(char *));
					cg->created[cg->n_created++] = kc_xstrdup(dir);
				}
				*s = c;
				if (!c)
					break;
			}
		}
		if (write_pid(dir, NULL) == -ENOSPC) {
			cleanup_free char *probe = kc_xasprintf("%s/cpuset.cpus", dir);

			if (access(probe, F_OK) == 0)
				cpuset_inherit(roots[i], dir);
		}
		if (write_pid(dir, &werr) < 0) {
			kc_warn("host cgroup: %s (hierarchy skipped)", werr->msg);
			continue;
		}
		cg->roots = kc_xrealloc(cg->roots, (cg->n_roots + 1) * sizeof(char *));
		cg->roots[cg->n_roots++] = kc_xstrdup(roots[i]);
	}
	kc_free_strv(roots);
	*out = cg;
	return 0;
}

/* SIGKILLs what dir/cgroup.procs lists and waits (bounded) for it. */
static void kill_members(const char *dir)
{
	cleanup_free char *p = kc_xasprintf("%s/cgroup.procs", dir);
	cleanup_fclose FILE *f = fopen(p, "re");
	int pid;

	while (f && fscanf(f, "%d", &pid) == 1) {
		int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		struct pollfd pf = { .fd = fd, .events = POLLIN };

		if (fd < 0 || pid == getpid())
			continue;
		if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0)
			poll(&pf, 1, 5000);
		close(fd);
	}
}

void kc_host_cgroup_leave(struct kc_host_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n_roots; i++) {
		if (write_pid(cg->roots[i], NULL) < 0)
			kc_warn("host cgroup: cannot leave under `%s`", cg->roots[i]);
		free(cg->roots[i]);
	}
	/* The pod is over: what is still in its cgroup (a process orphaned
	 * by a host agent that died) goes too. */
	if (cg->n_created)
		kill_members(cg->created[cg->n_created - 1]);
	for (size_t i = cg->n_created; i-- > 0;) {
		/* A parent shared with another pod (/default) stays. */
		if (rmdir(cg->created[i]) < 0 && errno != ENOENT && errno != EBUSY &&
		    errno != ENOTEMPTY)
			kc_warn("host cgroup: rmdir `%s`: %s", cg->created[i], strerror(errno));
		free(cg->created[i]);
	}
	free(cg->roots);
	free(cg->created);
	free(cg);
}

void kc_host_cgroup_remove(const char *path)
{
	size_t n;
	char **roots;

	if (!path_ok(path))
		return;
	roots = hierarchies(&n);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *dir = kc_xasprintf("%s%s", roots[i], path);

		/* Whatever the dead shim's pod left runs there (orphans of a
		 * host agent included).  Only the leaf is removed: parents
		 * like /default are shared with others. */
		kill_members(dir);
		rmdir(dir);
	}
	kc_free_strv(roots);
}
