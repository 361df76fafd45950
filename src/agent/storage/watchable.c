/* SPDX-License-Identifier: Apache-2.0 */
/* Volumes updated in place: kubelet's atomic writer, replayed (watchable.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "watchable.h"
#include "lib/path.h"

/* How deep a version's directories may nest. */
#define MAX_DEPTH 16

struct copy {
	const char *data_dir; /* for errors */
	size_t files;
	size_t bytes;
};

/* ---- trees in the tmpfs ---- */

/* Removes name (a file, a symlink or a whole directory) in dfd. */
static int remove_tree(int dfd, const char *name, int depth)
{
	int fd;
	DIR *d;
	struct dirent *de;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR || depth > MAX_DEPTH + 1)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_tree(dirfd(d), de->d_name, depth + 1) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return unlinkat(dfd, name, AT_REMOVEDIR);
}

/* ---- copying a version ---- */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int set_owner_mode(int fd, const struct stat *st, const char *what, const char *rel,
			  kc_error_t *err)
{
	/* The owner first: chown clears set-id bits. */
	if (fchown(fd, st->st_uid, st->st_gid) < 0)
		return kc_error_set(err, errno, "%s `%s`: chown to %u:%u", what, rel,
				    (unsigned)st->st_uid, (unsigned)st->st_gid);
	if (fchmod(fd, st->st_mode & 07777) < 0)
		return kc_error_set(err, errno, "%s `%s`: chmod %o", what, rel,
				    (unsigned)(st->st_mode & 07777));
	return 0;
}

static int copy_file(int sdir, int ddir, const char *name, const char *rel, struct copy *c,
		     kc_error_t *err)
{
	/* O_NONBLOCK: what was a file at readdir may be a fifo by now. */
	cleanup_close int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	cleanup_close int out = -1;
	cleanup_free char *buf = NULL;
	struct stat st;

	if (in < 0)
		return kc_error_set(err, errno, "open `%s` in the share", rel);
	if (fstat(in, &st) < 0)
		return kc_error_set(err, errno, "stat `%s` in the share", rel);
	if (!S_ISREG(st.st_mode))
		return kc_error_set(err, EINVAL, "`%s` in the share is not a regular file", rel);
	out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return kc_error_set(err, errno, "create `%s`", rel);
	buf = kc_xmalloc(64 << 10);
	for (;;) {
		ssize_t n = read(in, buf, 64 << 10);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kc_error_set(err, errno, "read `%s` in the share", rel);
		if (n == 0)
			break;
		c->bytes += (size_t)n;
		if (c->bytes > KC_AGENT_WATCHABLE_MAX_BYTES)
			return kc_error_set(err, E2BIG,
					    "data_dir `%s`: more than %u MiB (the bound of a "
					    "watchable volume's version)",
					    c->data_dir, KC_AGENT_WATCHABLE_MAX_BYTES >> 20);
		if (write_all(out, buf, (size_t)n) < 0)
			return kc_error_set(err, errno, "write `%s`", rel);
	}
	return set_owner_mode(out, &st, "file", rel, err);
}

/* Copies the directory sfd (opened) as name in dparent, whole. */
static int copy_dir(int sfd, int dparent, const char *name, const char *rel, int depth,
		    struct copy *c, kc_error_t *err)
{
	cleanup_close int dfd = -1;
	struct stat st;
	struct dirent *de;
	DIR *d;
	int ret = 0, dup_fd;

	if (depth > MAX_DEPTH)
		return kc_error_set(err, ELOOP, "`%s`: directories nest deeper than %d", rel,
				    MAX_DEPTH);
	if (fstat(sfd, &st) < 0)
		return kc_error_set(err, errno, "stat `%s` in the share", rel);
	if (mkdirat(dparent, name, 0700) < 0)
		return kc_error_set(err, errno, "mkdir `%s`", rel);
	dfd = openat(dparent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return kc_error_set(err, errno, "open `%s`", rel);
	dup_fd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return kc_error_set(err, errno, "dup");
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return kc_error_set(err, errno, "read `%s` in the share", rel);
	}
	while (ret == 0 && (errno = 0, de = readdir(d))) {
		const char *n = de->d_name;
		cleanup_free char *crel = NULL;
		struct stat cst;

		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		crel = kc_xasprintf("%s/%s", rel, n);
		/* kubelet's own rule (validatePath): no name of a payload
		 * starts with "..", which are the writer's. */
		if (strncmp(n, "..", 2) == 0) {
			ret = kc_error_set(err, EINVAL,
					   "`%s` in the share: a name starting with `..`", crel);
			break;
		}
		if (++c->files > KC_AGENT_WATCHABLE_MAX_FILES) {
			ret = kc_error_set(err, E2BIG,
					   "data_dir `%s`: more than %d files (the bound of a "
					   "watchable volume's version)",
					   c->data_dir, KC_AGENT_WATCHABLE_MAX_FILES);
			break;
		}
		if (fstatat(sfd, n, &cst, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = kc_error_set(err, errno, "stat `%s` in the share", crel);
		} else if (S_ISDIR(cst.st_mode)) {
			cleanup_close int child = openat(
				sfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (child < 0)
				ret = kc_error_set(err, errno, "open `%s` in the share", crel);
			else
				ret = copy_dir(child, dfd, n, crel, depth + 1, c, err);
		} else if (S_ISREG(cst.st_mode)) {
			ret = copy_file(sfd, dfd, n, crel, c, err);
		} else {
			ret = kc_error_set(err, EINVAL,
					   "`%s` in the share is a %s: only files and directories "
					   "are copied",
					   crel, S_ISLNK(cst.st_mode) ? "symlink" : "special file");
		}
	}
	if (ret == 0 && errno != 0)
		ret = kc_error_set(err, errno, "read `%s` in the share", rel);
	closedir(d);
	if (ret < 0)
		return ret;
	return set_owner_mode(dfd, &st, "directory", rel, err);
}

/* ---- the update ---- */

/* The version ..data names in dfd: 0 and *out, 1 when there is no ..data,
 * negative when it names something else. */
static int read_data_link(int dfd, char out[NAME_MAX + 1], const char *where, kc_error_t *err)
{
	ssize_t n = readlinkat(dfd, "..data", out, NAME_MAX + 1);

	if (n < 0 && errno == ENOENT)
		return 1;
	if (n < 0)
		return kc_error_set(err, errno, "%s: readlink ..data", where);
	if (n > NAME_MAX)
		return kc_error_set(err, ENAMETOOLONG, "%s: ..data's target is too long", where);
	out[n] = '\0';
	if (!kc_kubelet_version_name_valid(out))
		return kc_error_set(err, EINVAL,
				    "%s: ..data -> `%.64s` is not a version of kubelet's atomic "
				    "writer (..YYYY_MM_DD_HH_MM_SS.N)",
				    where, out);
	return 0;
}

/* The top-level symlinks: one per entry of the current version, none for
 * keys gone. */
static int sync_links(int dst, const char *data_dir, kc_error_t *err)
{
	cleanup_close int vfd = openat(dst, data_dir,
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int fd;

	if (vfd < 0)
		return kc_error_set(err, errno, "open `%s`", data_dir);
	/* Keys that appeared. */
	fd = fcntl(vfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return kc_error_set(err, errno, "read `%s`", data_dir);
	}
	while ((de = readdir(d))) {
		struct stat st;
		cleanup_free char *target = NULL;

		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (fstatat(dst, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		target = kc_xasprintf("..data/%s", de->d_name);
		if (symlinkat(target, dst, de->d_name) < 0) {
			int e = errno;

			closedir(d);
			return kc_error_set(err, e, "symlink `%s`", de->d_name);
		}
	}
	closedir(d);
	/* Keys gone: a top-level symlink whose entry the version lacks. */
	fd = openat(dst, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return kc_error_set(err, errno, "read the volume's root");
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (strncmp(de->d_name, "..", 2) == 0 || strcmp(de->d_name, ".") == 0)
			continue;
		if (fstatat(vfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
			continue;
		if (unlinkat(dst, de->d_name, 0) < 0)
			kc_warn("watchable volume: remove the symlink of key `%s`: %s", de->d_name,
				strerror(errno));
	}
	closedir(d);
	return 0;
}

int kc_agent_watchable_update(int src_fd, int dst_fd, const char *data_dir, const char *src,
			      kc_error_t *err)
{
	char prev[NAME_MAX + 1];
	cleanup_close int sdir = -1;
	struct copy c = { .data_dir = data_dir };
	int has_prev, ret;

	if (!kc_kubelet_version_name_valid(data_dir))
		return kc_error_set(err, EINVAL,
				    "data_dir `%.64s`: not the name of a version of kubelet's "
				    "atomic writer (..YYYY_MM_DD_HH_MM_SS.N)",
				    data_dir);
	has_prev = read_data_link(dst_fd, prev, "the volume", err);
	if (has_prev < 0)
		return has_prev;
	if (has_prev == 0 && strcmp(prev, data_dir) == 0)
		return 0;
	sdir = openat(src_fd, data_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sdir < 0) {
		int e = errno;
		struct stat lst;

		if (e == ENOENT)
			return kc_error_set(err, ENOENT, "data_dir `%s`: not in the share `%s`",
					    data_dir, src);
		if (fstatat(src_fd, data_dir, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode))
			return kc_error_set(err, EPERM,
					    "data_dir `%s` in the share `%s` is a symlink (not "
					    "followed)",
					    data_dir, src);
		return kc_error_set(err, e, "data_dir `%s` in the share `%s`", data_dir, src);
	}
	/* A copy an earlier, failed update left. */
	if (remove_tree(dst_fd, data_dir, 0) < 0)
		return kc_error_set(err, errno, "remove the earlier copy of `%s`", data_dir);
	ret = copy_dir(sdir, dst_fd, data_dir, data_dir, 0, &c, err);
	if (ret < 0) {
		remove_tree(dst_fd, data_dir, 0);
		return ret;
	}
	/* The atomic writer's one atomic step. */
	if ((unlinkat(dst_fd, "..data_tmp", 0) < 0 && errno != ENOENT) ||
	    symlinkat(data_dir, dst_fd, "..data_tmp") < 0 ||
	    renameat(dst_fd, "..data_tmp", dst_fd, "..data") < 0) {
		ret = kc_error_set(err, errno, "swap ..data to `%s`", data_dir);
		unlinkat(dst_fd, "..data_tmp", 0);
		remove_tree(dst_fd, data_dir, 0);
		return ret;
	}
	ret = sync_links(dst_fd, data_dir, err);
	if (has_prev == 0 && remove_tree(dst_fd, prev, 0) < 0)
		kc_warn("watchable volume: remove the previous version `%s`: %s", prev,
			strerror(errno));
	if (ret < 0)
		return ret;
	kc_debug("watchable volume %s: version %s, %zu files, %zu bytes", src, data_dir, c.files,
		 c.bytes);
	return 0;
}

int kc_agent_watchable_populate(int src_fd, int dst_fd, const char *src, kc_error_t *err)
{
	char cur[NAME_MAX + 1];
	cleanup_free char *where = kc_xasprintf("source `%s`", src);
	struct stat st;
	int ret;

	ret = read_data_link(src_fd, cur, where, err);
	if (ret < 0)
		return ret;
	if (ret > 0)
		return kc_error_set(err, ENOENT,
				    "source `%s`: no ..data (not a volume of kubelet's atomic "
				    "writer)",
				    src);
	if (fstat(src_fd, &st) < 0)
		return kc_error_set(err, errno, "stat `%s`", src);
	ret = kc_agent_watchable_update(src_fd, dst_fd, cur, src, err);
	if (ret < 0)
		return ret;
	return set_owner_mode(dst_fd, &st, "the volume's root", src, err);
}
