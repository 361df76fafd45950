/* SPDX-License-Identifier: Apache-2.0 */
/* Host-supplied paths resolved beneath the storage root (beneath.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "beneath.h"
#include "lib/util.h"

/*
 * The part of `path` below root: path must be absolute, lie under root
 * lexically and hold no ".." component.  Returns a pointer into path ("" for
 * the root itself).
 */
int kc_agent_rel_path(const char *root, const char *path, const char *what, const char **rel,
		      kc_error_t *err)
{
	size_t rlen = strlen(root);
	const char *p;

	if (path[0] != '/')
		return kc_error_set(err, EINVAL, "%s `%s`: not an absolute path", what, path);
	if (strlen(path) >= PATH_MAX)
		return kc_error_set(err, ENAMETOOLONG, "%s: path too long", what);
	if (strncmp(path, root, rlen) != 0 || (path[rlen] != '/' && path[rlen] != '\0'))
		return kc_error_set(err, EPERM, "%s `%s`: outside `%s`", what, path, root);
	p = path + rlen;
	for (const char *c = p; *c;) {
		size_t n;

		while (*c == '/')
			c++;
		n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return kc_error_set(err, EPERM, "%s `%s`: `..` escapes `%s`", what, path,
					    root);
		c += n;
	}
	while (*p == '/')
		p++;
	*rel = p;
	return 0;
}

int kc_agent_open_beneath(int dirfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, *rel ? rel : ".", &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return (int)fd;
}

int kc_agent_beneath_error(const char *what, const char *path, const char *root, kc_error_t *err)
{
	if (errno == EXDEV || errno == ELOOP)
		return kc_error_set(err, EPERM, "%s `%s`: a symlink escapes `%s`", what, path, root);
	return kc_error_set(err, errno, "%s `%s`", what, path);
}

int kc_agent_open_root(const char *root, kc_error_t *err)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		/* Only the agent's own fixed root is created, parents too. */
		for (char *p = strchr(root + 1, '/');; p = strchr(p + 1, '/')) {
			cleanup_free char *prefix = p ? kc_xstrndup(root, (size_t)(p - root))
						      : kc_xstrdup(root);

			if (mkdir(prefix, 0755) < 0 && errno != EEXIST)
				return kc_error_set(err, errno, "mkdir `%s`", prefix);
			if (!p)
				break;
		}
		fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return kc_error_set(err, errno, "open storage root `%s`", root);
	return fd;
}

/* The offset in rel where its component number `k` (from 0) ends. */
static size_t component_end(const char *rel, size_t k)
{
	size_t i = 0, len = strlen(rel);

	for (;;) {
		while (i < len && rel[i] == '/')
			i++;
		i += strcspn(rel + i, "/");
		if (k-- == 0 || i >= len)
			return i;
	}
}

static size_t count_components(const char *rel)
{
	size_t n = 0;

	for (const char *c = rel; *c;) {
		c += strspn(c, "/");
		if (!*c)
			break;
		n++;
		c += strcspn(c, "/");
	}
	return n;
}

void kc_agent_unmake_beneath(int root_fd, const char *rel, size_t made)
{
	size_t n = count_components(rel);

	for (size_t k = n; k > 0 && n - k < made; k--) {
		cleanup_free char *prefix = kc_xstrndup(rel, component_end(rel, k - 1));
		cleanup_close int parent = -1;
		char *slash = strrchr(prefix, '/'), *name = slash ? slash + 1 : prefix;

		if (slash)
			*slash = '\0';
		/* The parent resolved beneath the root again: the name is
		 * removed in the directory it was made in, never elsewhere. */
		parent = kc_agent_open_beneath(root_fd, slash ? prefix : "", O_PATH | O_DIRECTORY);
		if (parent < 0)
			return;
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0)
			continue;
		if (errno != ENOTDIR || k != n || unlinkat(parent, name, 0) < 0)
			return;
	}
}

/*
 * Opens (O_PATH) the mount point rel beneath root_fd, creating missing
 * directories (mode 0755; the last one `mode`, or an empty file when
 * as_file) one component at a time, each created in the directory that
 * the previous component resolved to.
 */
int kc_agent_make_beneath(int root_fd, const char *rel, bool as_file, mode_t mode, const char *what,
			  const char *path, const char *root, size_t *made, kc_error_t *err)
{
	cleanup_free char *prefix = kc_xstrdup(rel);
	cleanup_close int parent = -1;
	size_t len = strlen(rel), i = 0, upto = 0;
	int fd, ret;

	*made = 0;
	fd = kc_agent_open_beneath(root_fd, rel, O_PATH);
	if (fd >= 0 || errno != ENOENT) {
		if (fd < 0)
			return kc_agent_beneath_error(what, path, root, err);
		return fd;
	}
	parent = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	if (parent < 0)
		return kc_error_set(err, errno, "dup");
	while (i < len) {
		size_t start, n;
		bool last, here = false;

		while (i < len && rel[i] == '/')
			i++;
		start = i;
		n = strcspn(rel + i, "/");
		i += n;
		if (n == 0)
			break;
		last = rel[i + strspn(rel + i, "/")] == '\0';
		prefix[i] = '\0';
		fd = kc_agent_open_beneath(root_fd, prefix, O_PATH);
		if (fd < 0 && errno == ENOENT) {
			cleanup_free char *name = kc_xstrndup(rel + start, n);

			if (last && as_file) {
				int f = openat(parent, name,
					       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					       0644);

				if (f < 0 && errno != EEXIST) {
					ret = kc_error_set(err, errno, "%s `%s`: create", what,
							   path);
					upto = start;
					goto fail;
				}
				if (f >= 0) {
					close(f);
					here = true;
				}
			} else if (mkdirat(parent, name, last ? mode : 0755) < 0) {
				if (errno != EEXIST) {
					ret = kc_error_set(err, errno, "%s `%s`: mkdir", what, path);
					upto = start;
					goto fail;
				}
			} else {
				here = true;
			}
			fd = kc_agent_open_beneath(root_fd, prefix, O_PATH);
		}
		/* Only an unbroken run of made components at the end counts:
		 * what existed (or appeared meanwhile) is someone else's. */
		*made = here ? *made + 1 : 0;
		upto = i;
		if (fd < 0) {
			ret = kc_agent_beneath_error(what, path, root, err);
			goto fail;
		}
		prefix[i] = rel[i];
		if (last)
			return fd;
		close(parent);
		parent = fd;
	}
	ret = kc_error_set(err, EINVAL, "%s `%s`: empty", what, path);
fail:
	/* What was made so far: the last *made components before upto. */
	prefix[upto] = '\0';
	kc_agent_unmake_beneath(root_fd, prefix, *made);
	*made = 0;
	return ret;
}

char *kc_agent_fd_path(int fd)
{
	return kc_xasprintf("/proc/self/fd/%d", fd);
}
