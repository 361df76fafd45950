/* SPDX-License-Identifier: Apache-2.0 */
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
	char **roots; /* the hierarchies' mount points where the cgroup is */
	bool *v2; /* roots[i] is a cgroup2 hierarchy */
	char **dirs; /* roots[i] + the cgroup's path */
	size_t n_roots;
	char **created; /* dirs made, in creation order */
	size_t n_created;
	bool joined; /* the caller moved in (kc_host_cgroup_enter) */
};

/* Every cgroup (v1) and cgroup2 mount point, one per hierarchy; *v2 gets
 * which are cgroup2. */
static char **hierarchies(size_t *n, bool **v2)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	*v2 = NULL;
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
		*v2 = kc_xrealloc(*v2, (*n + 1) * sizeof(**v2));
		(*v2)[*n] = strcmp(fstype, "cgroup2") == 0;
		v[(*n)++] = kc_xstrdup(mp);
		v[*n] = NULL;
	}
	return v;
}

/* Writes id into dir/file (cgroup.procs: a process; tasks: one thread). */
static int write_id(const char *dir, const char *file, pid_t id, kc_error_t *err)
{
	cleanup_free char *p = kc_xasprintf("%s/%s", dir, file);
	char buf[32];
	int fd = open(p, O_WRONLY | O_CLOEXEC), n, ret = 0;

	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", p);
	n = snprintf(buf, sizeof(buf), "%d", (int)id);
	if (write(fd, buf, (size_t)n) != n)
		ret = kc_error_set(err, errno, "write %d to `%s`", (int)id, p);
	close(fd);
	return ret;
}

static int write_pid(const char *dir, kc_error_t *err)
{
	return write_id(dir, "cgroup.procs", getpid(), err);
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
							kc_debug("write `%s`: %s", mine,
								 strerror(errno));
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

int kc_host_cgroup_create(const char *path, struct kc_host_cgroup **out, kc_error_t *err)
{
	struct kc_host_cgroup *cg;
	size_t n;
	bool *v2;
	char **roots;

	*out = NULL;
	if (!path_ok(path))
		return kc_error_set(err, EINVAL,
				    "cgroupsPath `%s`: only absolute paths without `..` are supported "
				    "on the host",
				    path);
	roots = hierarchies(&n, &v2);
	cg = kc_xzalloc(sizeof(*cg));
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *dir = kc_xasprintf("%s%s", roots[i], path);
		cleanup_free char *cpus = kc_xasprintf("%s/cpuset.cpus", dir);
		cleanup_free char *text = NULL;
		size_t len;

		/* Create each missing component, remembering it for removal. */
		for (char *s = dir + strlen(roots[i]) + 1;; s++) {
			if (*s == '/' || *s == '\0') {
				char c = *s;

				*s = '\0';
				if (mkdir(dir, 0755) == 0) {
					cg->created = kc_xrealloc(
						cg->created, (cg->n_created + 1) * sizeof(char *));
					cg->created[cg->n_created++] = kc_xstrdup(dir);
				}
				*s = c;
				if (!c)
					break;
			}
		}
		if (access(dir, F_OK) < 0) {
			kc_warn("host cgroup: `%s`: %s (hierarchy skipped)", dir, strerror(errno));
			continue;
		}
		/* A new cpuset level (v1) has no cpus, and takes no process. */
		if (!v2[i] && kc_read_file(cpus, 4096, &text, &len, NULL) == 0 && len <= 1)
			cpuset_inherit(roots[i], dir);
		cg->roots = kc_xrealloc(cg->roots, (cg->n_roots + 1) * sizeof(char *));
		cg->dirs = kc_xrealloc(cg->dirs, (cg->n_roots + 1) * sizeof(char *));
		cg->v2 = kc_xrealloc(cg->v2, (cg->n_roots + 1) * sizeof(bool));
		cg->roots[cg->n_roots] = kc_xstrdup(roots[i]);
		cg->dirs[cg->n_roots] = kc_steal_ptr(&dir);
		cg->v2[cg->n_roots++] = v2[i];
	}
	kc_free_strv(roots);
	free(v2);
	*out = cg;
	return 0;
}

int kc_host_cgroup_enter(const char *path, struct kc_host_cgroup **out, kc_error_t *err)
{
	int ret = kc_host_cgroup_create(path, out, err);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < (*out)->n_roots; i++) {
		cleanup_error kc_error_t werr = NULL;

		if (write_pid((*out)->dirs[i], &werr) < 0)
			kc_warn("host cgroup: %s (hierarchy skipped)", werr->msg);
	}
	(*out)->joined = true;
	return 0;
}

void kc_host_cgroup_add_threads(struct kc_host_cgroup *cg, pid_t pid, const pid_t *tids, size_t n)
{
	for (size_t i = 0; i < cg->n_roots; i++) {
		cleanup_error kc_error_t werr = NULL;

		/* cgroup2 puts whole processes in a domain cgroup. */
		if (cg->v2[i]) {
			if (write_id(cg->dirs[i], "cgroup.procs", pid, &werr) < 0)
				kc_warn("host cgroup: %s (hierarchy skipped)", werr->msg);
			continue;
		}
		for (size_t t = 0; t < n; t++) {
			if (write_id(cg->dirs[i], "tasks", tids[t], &werr) < 0) {
				kc_warn("host cgroup: %s (hierarchy skipped)", werr->msg);
				break;
			}
		}
	}
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

static bool made(const struct kc_host_cgroup *cg, const char *dir)
{
	for (size_t i = 0; i < cg->n_created; i++)
		if (strcmp(cg->created[i], dir) == 0)
			return true;
	return false;
}

void kc_host_cgroup_leave(struct kc_host_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n_roots; i++) {
		if (cg->joined && write_pid(cg->roots[i], NULL) < 0)
			kc_warn("host cgroup: cannot leave under `%s`", cg->roots[i]);
		/* The pod is over: what is still in the cgroup it made (a
		 * process orphaned by a host agent that died) goes too.  One
		 * it did not make may hold others. */
		if (made(cg, cg->dirs[i]))
			kill_members(cg->dirs[i]);
		free(cg->roots[i]);
		free(cg->dirs[i]);
	}
	for (size_t i = cg->n_created; i-- > 0;) {
		/* A parent shared with another pod (/default) stays. */
		if (rmdir(cg->created[i]) < 0 && errno != ENOENT && errno != EBUSY &&
		    errno != ENOTEMPTY)
			kc_warn("host cgroup: rmdir `%s`: %s", cg->created[i], strerror(errno));
		free(cg->created[i]);
	}
	free(cg->roots);
	free(cg->dirs);
	free(cg->v2);
	free(cg->created);
	free(cg);
}

void kc_host_cgroup_remove(const char *path)
{
	size_t n;
	bool *v2;
	char **roots;

	if (!path_ok(path))
		return;
	roots = hierarchies(&n, &v2);
	free(v2);
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
