/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's cgroup v2 directory: naming it safely under the root,
 * creating it with its ancestors' controllers enabled (processes are cloned
 * into it: container.c), freezing, reading and writing interface files, and removing it.
 *
 * Every file is opened relative to the cgroup's directory fd with
 * O_NOFOLLOW, and every name that comes from the host (the spec's
 * cgroupsPath, unified keys) is checked before it gets here, so nothing
 * the host sends can reach outside the root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroup.h"
#include "lib/log.h"
#include "lib/util.h"

#define FILE_MAX (1u << 20)
#define PATH_MAX_LEN 4096
#define NAME_MAX_LEN 255

/* Missing interface files mean a missing controller (or no cgroup2 at
 * all): FAILED_PRECONDITION, without a misleading strerror. */
static int missing_file(kc_error_t *err, const struct kc_cgroup *cg, const char *file)
{
	size_t n = strcspn(file, ".");

	if (n == strlen("cgroup") && strncmp(file, "cgroup", n) == 0)
		kc_error_set(err, 0, "cgroup `%s` has no `%s`: not a cgroup2 directory", cg->path,
			     file);
	else
		kc_error_set(err, 0, "cgroup `%s`: controller `%.*s` is not available (no `%s`)",
			     cg->path, (int)n, file, file);
	if (err)
		(*err)->status = EBUSY;
	return -EBUSY;
}

bool kc_cgroup_is_cgroup2(const char *dir)
{
	struct statfs st;

	return statfs(dir, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

static int path_error(kc_error_t *err, const char *spec_path, const char *why)
{
	return kc_error_set(err, EINVAL, "linux.cgroupsPath `%s`: %s", spec_path, why);
}

/* Appends the components of p to out (a growing "a/b" string), refusing
 * "..", names the kernel would refuse and over-long paths. */
static int append_components(const char *spec_path, const char *p, char **out, kc_error_t *err)
{
	cleanup_free char *copy = kc_xstrdup(p);
	char *save = NULL;

	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		char *joined;

		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0)
			return path_error(err, spec_path, "`..` is not allowed");
		if (strlen(c) > NAME_MAX_LEN)
			return path_error(err, spec_path, "a component is longer than 255 bytes");
		for (const char *s = c; *s; s++)
			if ((unsigned char)*s < 0x20 || *s == 0x7f)
				return path_error(err, spec_path,
						  "control characters are not allowed");
		joined = *out && **out ? kc_xasprintf("%s/%s", *out, c) : kc_xstrdup(c);
		free(*out);
		*out = joined;
	}
	return 0;
}

int kc_cgroup_path_from_spec(const char *spec_path, const char *id, char **out, kc_error_t *err)
{
	cleanup_free char *rel = NULL;
	int ret;

	if (!spec_path || !spec_path[0]) {
		cleanup_error kc_error_t why = NULL;

		if (!id[0] || strchr(id, '/') || strcmp(id, ".") == 0 ||
		    append_components(id, id, &rel, &why) < 0 || strcmp(rel, id) != 0)
			return kc_error_set(err, EINVAL, "container id `%s` cannot name a cgroup",
					    id);
		free(rel);
		spec_path = "";
		rel = kc_xasprintf("kata/%s", id);
	} else if (strlen(spec_path) > PATH_MAX_LEN) {
		return path_error(err, "...", "longer than 4096 bytes");
	} else if (spec_path[0] != '/' && strchr(spec_path, ':')) {
		/* systemd's "slice:prefix:name", laid out as cgroupfs paths. */
		const char *c1 = strchr(spec_path, ':'), *c2 = strchr(c1 + 1, ':');
		cleanup_free char *slice = NULL, *scope = NULL;

		if (!c2 || strchr(c2 + 1, ':') || !c2[1])
			return path_error(err, spec_path, "systemd form must be slice:prefix:name");
		slice = c1 == spec_path ? kc_xstrdup("system.slice")
					: kc_xstrndup(spec_path, (size_t)(c1 - spec_path));
		scope = c2 == c1 + 1
				? kc_xasprintf("%s.scope", c2 + 1)
				: kc_xasprintf("%.*s-%s.scope", (int)(c2 - c1 - 1), c1 + 1, c2 + 1);
		if (strchr(slice, '/') || strchr(scope, '/'))
			return path_error(err, spec_path, "systemd form must not contain '/'");
		ret = append_components(spec_path, slice, &rel, err);
		if (ret == 0)
			ret = append_components(spec_path, scope, &rel, err);
		if (ret < 0)
			return ret;
	} else {
		ret = append_components(spec_path, spec_path, &rel, err);
		if (ret < 0)
			return ret;
	}
	if (!rel || !rel[0])
		return path_error(err, spec_path, "names the root cgroup itself");
	*out = kc_steal_ptr(&rel);
	return 0;
}

int kc_cgroup_read(struct kc_cgroup *cg, const char *file, char **out, kc_error_t *err)
{
	cleanup_close int fd = openat(cg->dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_free char *buf = NULL;
	size_t len = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			return missing_file(err, cg, file);
		return kc_error_set(err, errno, "open `%s/%s`", cg->path, file);
	}
	buf = kc_xmalloc(4096);
	for (size_t cap = 4096;;) {
		ssize_t n = read(fd, buf + len, cap - len - 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kc_error_set(err, errno, "read `%s/%s`", cg->path, file);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len + 1 == cap) {
			if (cap >= FILE_MAX)
				return kc_error_set(err, EFBIG, "read `%s/%s`", cg->path, file);
			cap *= 2;
			buf = kc_xrealloc(buf, cap);
		}
	}
	buf[len] = '\0';
	*out = kc_steal_ptr(&buf);
	return 0;
}

int kc_cgroup_write(struct kc_cgroup *cg, const char *file, const char *value, kc_error_t *err)
{
	/* O_TRUNC changes nothing on cgroupfs and keeps fake trees readable. */
	cleanup_close int fd = openat(cg->dirfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(value);
	ssize_t n;

	if (fd < 0) {
		if (errno == ENOENT)
			return missing_file(err, cg, file);
		return kc_error_set(err, errno, "open `%s/%s`", cg->path, file);
	}
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return kc_error_set(err, errno, "write `%s` to `%s/%s`", value, cg->path, file);
	if ((size_t)n != len)
		return kc_error_set(err, EIO, "short write of `%s` to `%s/%s`", value, cg->path,
				    file);
	return 0;
}

bool kc_cgroup_has(struct kc_cgroup *cg, const char *file)
{
	return faccessat(cg->dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int kc_cgroup_read_key(struct kc_cgroup *cg, const char *file, const char *key, uint64_t *out,
		       kc_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t klen = strlen(key);
	int ret = kc_cgroup_read(cg, file, &buf, err);

	if (ret < 0)
		return ret;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			unsigned long long v;

			if (!kc_parse_u64(line + klen + 1, &v))
				return kc_error_set(err, EIO, "`%s/%s`: bad value for `%s`",
						    cg->path, file, key);
			*out = v;
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return kc_error_set(err, ENOENT, "`%s/%s` has no key `%s`", cg->path, file, key);
}

/* Enables in dirfd's cgroup.subtree_control every controller its
 * cgroup.controllers offers.  One at a time: a controller the kernel
 * refuses (cpuset with an empty cpus, say) must not stop the others; the
 * resources that need it report its absence precisely later. */
static void enable_controllers(int dirfd, const char *path)
{
	struct kc_cgroup tmp = { .path = (char *)path, .dirfd = dirfd };
	cleanup_free char *avail = NULL, *enabled = NULL;
	char *save = NULL;

	if (kc_cgroup_read(&tmp, "cgroup.controllers", &avail, NULL) < 0 ||
	    kc_cgroup_read(&tmp, "cgroup.subtree_control", &enabled, NULL) < 0)
		return;
	for (char *c = strtok_r(avail, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
		cleanup_error kc_error_t err = NULL;
		cleanup_free char *plus = NULL;
		size_t n = strlen(c);
		bool on = false;

		for (const char *e = enabled; (e = strstr(e, c)); e += n)
			if ((e == enabled || e[-1] == ' ') && (e[n] == ' ' || e[n] == '\n' || !e[n]))
				on = true;
		if (on)
			continue;
		plus = kc_xasprintf("+%s", c);
		if (kc_cgroup_write(&tmp, "cgroup.subtree_control", plus, &err) < 0)
			kc_log_error_free(KC_LOG_DEBUG, &err, "enabling controller");
	}
}

int kc_cgroup_create(const char *root, const char *rel, struct kc_cgroup **out, kc_error_t *err)
{
	cleanup_free char *copy = kc_xstrdup(rel);
	cleanup_free char *path = kc_xstrdup(root);
	cleanup_close int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct kc_cgroup *cg;
	char *save = NULL;

	if (fd < 0)
		return kc_error_set(err, errno, "open cgroup root `%s`", root);
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		char *next;
		int sub;

		enable_controllers(fd, path);
		next = kc_xasprintf("%s/%s", path, c);
		free(path);
		path = next;
		if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST)
			return kc_error_set(err, errno, "mkdir `%s`", path);
		sub = openat(fd, c, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0)
			return kc_error_set(err, errno, "open `%s`", path);
		close(fd);
		fd = sub;
	}
	cg = kc_xzalloc(sizeof(*cg));
	cg->rel = kc_xstrdup(rel);
	cg->path = kc_steal_ptr(&path);
	cg->dirfd = kc_steal_fd(&fd);
	*out = cg;
	return 0;
}

void kc_cgroup_free(struct kc_cgroup *cg)
{
	if (!cg)
		return;
	if (cg->dirfd >= 0)
		close(cg->dirfd);
	free(cg->rel);
	free(cg->path);
	free(cg);
}

int kc_cgroup_set_freeze(struct kc_cgroup *cg, bool freeze, kc_error_t *err)
{
	return kc_cgroup_write(cg, "cgroup.freeze", freeze ? "1" : "0", err);
}

int kc_cgroup_frozen(struct kc_cgroup *cg, bool *frozen, kc_error_t *err)
{
	uint64_t v = 0;
	int ret = kc_cgroup_read_key(cg, "cgroup.events", "frozen", &v, err);

	if (ret < 0)
		return ret;
	*frozen = v == 1;
	return 0;
}

/* Without cgroup.kill: SIGKILL to every pid listed.  A frozen cgroup must
 * be thawed for the signal to be acted upon; cgroup.kill does that itself. */
static void kill_listed(struct kc_cgroup *cg)
{
	cleanup_free char *procs = NULL;
	char *save = NULL;

	if (kc_cgroup_has(cg, "cgroup.freeze"))
		kc_cgroup_set_freeze(cg, false, NULL);
	if (kc_cgroup_read(cg, "cgroup.procs", &procs, NULL) < 0)
		return;
	for (char *p = strtok_r(procs, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		unsigned long long pid;

		if (kc_parse_u64(p, &pid) && pid > 1 && pid < (1u << 22))
			kill((pid_t)pid, SIGKILL);
	}
}

void kc_cgroup_kill(struct kc_cgroup *cg)
{
	if (!kc_cgroup_has(cg, "cgroup.kill") || kc_cgroup_write(cg, "cgroup.kill", "1", NULL) < 0)
		kill_listed(cg);
}

int kc_cgroup_destroy(struct kc_cgroup *cg, kc_error_t *err)
{
	cleanup_close int parent = -1;
	const char *slash = strrchr(cg->path, '/');
	cleanup_free char *dir = NULL;

	if (!slash)
		return kc_error_set(err, EINVAL, "cgroup `%s` has no parent", cg->path);
	kc_cgroup_kill(cg);
	dir = kc_xstrndup(cg->path, (size_t)(slash - cg->path));
	parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0)
		return kc_error_set(err, errno, "open `%s`", dir);
	if (unlinkat(parent, slash + 1, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return kc_error_set(err, errno, "rmdir `%s`", cg->path);
	return 0;
}
