/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container's filesystem, built in its new mount namespace before
 * pivot_root: the rootfs bound on itself, the spec's mounts, the default
 * and the spec's devices; after pivot_root: masked and readonly paths, a
 * readonly root, the root's propagation.
 *
 * Every destination is resolved inside the rootfs with openat2() and
 * RESOLVE_BENEATH, component by component as missing ones are created:
 * a ".." in a destination, or a symlink that leads out of the rootfs, is
 * an error naming the destination (runc would follow such a symlink
 * inside the rootfs; refusing is stricter and keeps the image honest).
 * Mounts go on the resolved fd through /proc/self/fd, so a path swapped
 * after the check cannot redirect them.  Masked and readonly paths, after
 * pivot_root, are resolved and mounted on fds too (see below).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "container.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/util.h"

static int openat2_beneath(int dirfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

static bool has_dotdot(const char *p)
{
	for (const char *s = p; (s = strstr(s, "..")); s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return true;
	return false;
}

/*
 * Resolves dest (absolute, inside the rootfs) below rootfd, creating what
 * is missing: directories, and the last component as an empty file when
 * !dir.  Returns an O_PATH fd.
 */
static int open_dest(int rootfd, const char *dest, bool dir, kc_error_t *err)
{
	cleanup_free char *clean = NULL;
	cleanup_close int parent = -1;
	char *p, *rel;

	if (has_dotdot(dest))
		return kc_error_set(err, EINVAL, "destination `%s`: \"..\" is not allowed", dest);
	clean = kc_path_clean(dest);
	rel = clean[0] == '/' ? clean + 1 : clean;
	if (!rel[0]) {
		int fd = openat2_beneath(rootfd, ".");

		return fd < 0 ? kc_error_set(err, errno, "open rootfs") : fd;
	}
	parent = openat2_beneath(rootfd, ".");
	if (parent < 0)
		return kc_error_set(err, errno, "open rootfs");
	p = rel;
	for (;;) {
		char *slash = strchr(p, '/');
		bool last = !slash;
		int fd;

		if (slash)
			*slash = '\0';
		fd = openat2_beneath(rootfd, rel);
		if (fd < 0 && errno == ENOENT) {
			int r;

			if (last && !dir) {
				r = openat(parent, p,
					   O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
					   0644);
				if (r >= 0)
					close(r);
			} else {
				r = mkdirat(parent, p, 0755);
			}
			if (r < 0 && errno != EEXIST)
				return kc_error_set(err, errno,
						    "create `%s` in the rootfs for `%s`", rel, dest);
			fd = openat2_beneath(rootfd, rel);
		}
		if (fd < 0) {
			if (errno == EXDEV || errno == ELOOP)
				return kc_error_set(err, EXDEV,
						    "destination `%s`: `%s` leads out of the rootfs",
						    dest, rel);
			return kc_error_set(err, errno, "resolve `%s` in the rootfs", dest);
		}
		if (last)
			return fd;
		close(parent);
		parent = fd;
		*slash = '/';
		p = slash + 1;
	}
}

static void fd_path(char buf[64], int fd)
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

static int do_mount(const struct kc_oci_mount *m, int rootfd, bool userns, kc_error_t *err)
{
	bool dir = true;
	cleanup_close int fd = -1, fd2 = -1;
	const char *type = m->type;
	char path[64];
	unsigned long flags = m->flags & ~MS_REMOUNT;

	if (m->bind) {
		struct stat st;

		if (stat(m->source, &st) < 0)
			return kc_error_set(err, errno, "bind source `%s` of `%s`", m->source,
					    m->destination);
		dir = S_ISDIR(st.st_mode);
	}
	fd = open_dest(rootfd, m->destination, dir, err);
	if (fd < 0)
		return fd;
	fd_path(path, fd);
	/* The guest runs cgroup v2 only: a v1 "cgroup" mount is its v2 view. */
	if (strcmp(type, "cgroup") == 0)
		type = "cgroup2";
	if (m->bind) {
		if (mount(m->source, path, NULL, MS_BIND | (m->recursive ? MS_REC : 0), NULL) < 0)
			return kc_error_set(err, errno, "bind mount `%s` on `%s`", m->source,
					    m->destination);
	} else {
		const char *src = m->source ? m->source : type;

		if (mount(src, path, type, flags, m->data) < 0) {
			/* sysfs in a user namespace without its own network
			 * namespace: a read-only bind of the agent's. */
			if (errno == EPERM && userns && strcmp(type, "sysfs") == 0) {
				if (mount("/sys", path, NULL, MS_BIND | MS_REC, NULL) < 0)
					return kc_error_set(err, errno, "bind /sys on `%s`",
							    m->destination);
				flags |= MS_RDONLY;
			} else {
				return kc_error_set(err, errno, "mount %s on `%s`", type,
						    m->destination);
			}
		}
	}
	/* Reopened: the fd above names the mountpoint under the new mount. */
	fd2 = open_dest(rootfd, m->destination, dir, err);
	if (fd2 < 0)
		return fd2;
	fd_path(path, fd2);
	if (m->bind && (flags & ~(MS_REC | MS_BIND))) {
		struct statvfs sv;
		unsigned long keep = 0;

		/* Flags the kernel locks (from the source mount) must be kept. */
		if (statvfs(path, &sv) == 0) {
			keep |= sv.f_flag & ST_NOSUID ? MS_NOSUID : 0;
			keep |= sv.f_flag & ST_NODEV ? MS_NODEV : 0;
			keep |= sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0;
		}
		if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | flags | (userns ? keep : 0),
			  NULL) < 0)
			return kc_error_set(err, errno, "remount `%s` with its options",
					    m->destination);
	}
	if (m->propagation && mount(NULL, path, NULL, m->propagation, NULL) < 0)
		return kc_error_set(err, errno, "set propagation of `%s`", m->destination);
	return 0;
}

/* ---- devices ---- */

static int make_device(int rootfd, const char *dpath, char type, unsigned major, unsigned minor,
		       mode_t mode, bool has_owner, uid_t uid, gid_t gid, bool userns,
		       kc_error_t *err)
{
	cleanup_free char *dir = kc_xstrdup(dpath);
	char *slash = strrchr(dir, '/');
	const char *base = strrchr(dpath, '/') + 1;
	cleanup_close int dfd = -1;
	mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
	struct stat st;

	*slash = '\0';
	dfd = open_dest(rootfd, dir[0] ? dir : "/", true, err);
	if (dfd < 0)
		return kc_error_wrap(err, "device `%s`", dpath);
	if (!base[0])
		return kc_error_set(err, EINVAL, "device `%s`: no file name", dpath);
	/* What the image already has there is used as it is. */
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (!userns && mknodat(dfd, base, kind | mode, makedev(major, minor)) == 0) {
		if (has_owner && fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return kc_error_set(err, errno, "chown device `%s`", dpath);
		return 0;
	}
	if (userns || errno == EPERM) {
		/* Without mknod (user namespace): the agent's own node, bound
		 * on an empty file, as runc does. */
		cleanup_free char *host = kc_xasprintf("/dev/%s", base);
		cleanup_close int f = -1;
		char path[64];
		int r = openat(dfd, base, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (r < 0)
			return kc_error_set(err, errno, "create `%s`", dpath);
		close(r);
		f = open_dest(rootfd, dpath, false, err);
		if (f < 0)
			return f;
		fd_path(path, f);
		if (mount(host, path, NULL, MS_BIND, NULL) < 0)
			return kc_error_set(err, errno, "bind `%s` on `%s`", host, dpath);
		return 0;
	}
	return kc_error_set(err, errno, "mknod `%s`", dpath);
}

static int make_devices(const struct kc_oci_spec *s, int rootfd, bool userns, kc_error_t *err)
{
	static const struct {
		const char *path;
		unsigned major, minor;
	} defaults[] = {
		{ "/dev/null", 1, 3 },	 { "/dev/zero", 1, 5 },	   { "/dev/full", 1, 7 },
		{ "/dev/random", 1, 8 }, { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
	};
	static const struct {
		const char *path, *target;
	} links[] = {
		{ "/dev/fd", "/proc/self/fd" },	      { "/dev/stdin", "/proc/self/fd/0" },
		{ "/dev/stdout", "/proc/self/fd/1" }, { "/dev/stderr", "/proc/self/fd/2" },
		{ "/dev/ptmx", "pts/ptmx" },
	};
	cleanup_close int dev = -1;
	int ret;

	/* A /dev bound from elsewhere is used as it is. */
	for (size_t i = 0; i < s->n_mounts; i++) {
		cleanup_free char *d = kc_path_clean(s->mounts[i].destination);

		if (strcmp(d, "/dev") == 0 && s->mounts[i].bind)
			goto spec_devices;
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(defaults); i++) {
		ret = make_device(rootfd, defaults[i].path, 'c', defaults[i].major,
				  defaults[i].minor, 0666, false, 0, 0, userns, err);
		if (ret < 0)
			return ret;
	}
	dev = open_dest(rootfd, "/dev", true, err);
	if (dev < 0)
		return dev;
	for (size_t i = 0; i < KC_ARRAY_SIZE(links); i++)
		if (symlinkat(links[i].target, dev, links[i].path + 5) < 0 && errno != EEXIST)
			return kc_error_set(err, errno, "symlink `%s`", links[i].path);
spec_devices:
	for (size_t i = 0; i < s->lnx.n_devices; i++) {
		const struct kc_oci_device *d = &s->lnx.devices[i];

		ret = make_device(rootfd, d->path, d->type, (unsigned)d->major, (unsigned)d->minor,
				  d->has_mode ? d->mode : 0666, d->has_uid || d->has_gid,
				  d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0, userns, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int kc_rootfs_prepare(const struct kc_oci_spec *s, const char *root, bool userns, kc_error_t *err)
{
	unsigned long prop = MS_SLAVE | MS_REC;
	cleanup_close int rootfd = -1;
	int ret;

	/* Nothing mounted from here on reaches the agent's namespace. */
	if (s->lnx.rootfs_propagation & (MS_PRIVATE | MS_UNBINDABLE))
		prop = s->lnx.rootfs_propagation | MS_REC;
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return kc_error_set(err, errno, "set propagation of /");
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return kc_error_set(err, errno, "bind mount rootfs `%s`", root);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return kc_error_set(err, errno, "open rootfs `%s`", root);
	for (size_t i = 0; i < s->n_mounts; i++) {
		ret = do_mount(&s->mounts[i], rootfd, userns, err);
		if (ret < 0)
			return kc_error_wrap(err, "mounts[%zu]", i);
	}
	ret = make_devices(s, rootfd, userns, err);
	if (ret < 0)
		return ret;
	return 0;
}

/* ---- after pivot_root ---- */

/*
 * Masked and read-only paths are resolved inside the container's root
 * (RESOLVE_IN_ROOT: a symlink in the image is followed as the container
 * would, never out of it; a magic link of /proc is refused) and mounted on
 * the fd that resolution gave, with open_tree()/move_mount(): neither a
 * path swapped after the check nor a /proc the container lacks matters.
 */
static int open_in_root(int rootfd, const char *p, uint64_t resolve)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = resolve,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, rootfd, p, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return (int)fd;
}

/* Clones the mount (tree) at `from` onto `to`, both fds. */
static int bind_fd(int from, int to, bool recursive, bool readonly)
{
	cleanup_close int tree = open_tree(from, "",
					   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
						   (recursive ? AT_RECURSIVE : 0));
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	if (tree < 0)
		return -1;
	/* Only the top mount, as a bind remount would (runc's too). */
	if (readonly && mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -1;
	return move_mount(tree, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

/*
 * The container's /dev/null, which masks files: it must be the null
 * device itself.  An image whose /dev/null is a symlink or a file of its
 * choosing would otherwise "mask" a path with content it controls (the
 * class of runc's CVE-2025-31133).
 */
static int open_dev_null(int rootfd, kc_error_t *err)
{
	cleanup_close int fd = open_in_root(rootfd, "/dev/null",
					    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
	struct stat st;

	if (fd < 0 && errno == ELOOP)
		return kc_error_set(err, EPERM, "/dev/null is a symlink, not the null device");
	if (fd < 0)
		return kc_error_set(err, errno, "open /dev/null");
	if (fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "stat /dev/null");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		return kc_error_set(err, EPERM,
				    "/dev/null is not the null device (a character device 1:3)");
	return kc_steal_fd(&fd);
}

/* The fd of a masked or read-only path, -ENOENT when it does not exist. */
static int open_target(int rootfd, const char *what, const char *p, kc_error_t *err)
{
	int fd = open_in_root(rootfd, p, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return -ENOENT;
	if (errno == ELOOP || errno == EXDEV)
		return kc_error_set(err, EPERM, "%s `%s`: a symlink leads out of the rootfs", what,
				    p);
	return kc_error_set(err, errno, "%s `%s`", what, p);
}

static int mask_path(int rootfd, int *null_fd, const char *p, kc_error_t *err)
{
	cleanup_close int fd = open_target(rootfd, "masked path", p, err);
	struct stat st;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "masked path `%s`", p);
	if (S_ISDIR(st.st_mode)) {
		/* On the directory the fd names: mount(2) takes the cwd. */
		if (fchdir(fd) < 0)
			return kc_error_set(err, errno, "masked path `%s`", p);
		if (mount("tmpfs", ".", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=0") < 0) {
			int e = errno;

			if (chdir("/") < 0)
				kc_debug("chdir /: %s", strerror(errno));
			return kc_error_set(err, e, "mask `%s`", p);
		}
		if (chdir("/") < 0)
			return kc_error_set(err, errno, "chdir /");
		return 0;
	}
	if (*null_fd < 0 && (*null_fd = open_dev_null(rootfd, err)) < 0)
		return kc_error_wrap(err, "mask `%s`", p);
	if (bind_fd(*null_fd, fd, false, false) < 0)
		return kc_error_set(err, errno, "mask `%s` with /dev/null", p);
	return 0;
}

static int readonly_path(int rootfd, const char *p, kc_error_t *err)
{
	cleanup_close int fd = open_target(rootfd, "readonly path", p, err);

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (bind_fd(fd, fd, true, true) < 0)
		return kc_error_set(err, errno, "bind readonly path `%s` read-only", p);
	return 0;
}

int kc_rootfs_enter(const struct kc_oci_spec *s, const char *root, kc_error_t *err)
{
	cleanup_close int rootfd = -1, null_fd = -1;
	int ret;

	if (chdir(root) < 0)
		return kc_error_set(err, errno, "chdir `%s`", root);
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		/* The old root is stacked under the new one: detach it. */
		if (umount2(".", MNT_DETACH) < 0)
			return kc_error_set(err, errno, "unmount the old root");
	} else if (errno == EINVAL) {
		/* The agent's own root is an initramfs, which cannot be
		 * pivoted away: move the rootfs over "/" and chroot, as runc's
		 * no_pivot_root does. */
		if (mount(root, "/", NULL, MS_MOVE, NULL) < 0)
			return kc_error_set(err, errno, "move mount `%s`", root);
		if (chroot(".") < 0)
			return kc_error_set(err, errno, "chroot `%s`", root);
	} else {
		return kc_error_set(err, errno, "pivot_root `%s`", root);
	}
	if (chdir("/") < 0)
		return kc_error_set(err, errno, "chdir /");
	rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return kc_error_set(err, errno, "open the new root");
	for (size_t i = 0; s->lnx.readonly_paths[i]; i++)
		if ((ret = readonly_path(rootfd, s->lnx.readonly_paths[i], err)) < 0)
			return ret;
	for (size_t i = 0; s->lnx.masked_paths[i]; i++)
		if ((ret = mask_path(rootfd, &null_fd, s->lnx.masked_paths[i], err)) < 0)
			return ret;
	if (s->root_readonly) {
		struct statvfs sv;
		unsigned long keep = 0;

		if (statvfs("/", &sv) == 0) {
			keep |= sv.f_flag & ST_NOSUID ? MS_NOSUID : 0;
			keep |= sv.f_flag & ST_NODEV ? MS_NODEV : 0;
			keep |= sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0;
		}
		if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0)
			return kc_error_set(err, errno, "remount the rootfs read-only");
	}
	if (s->lnx.rootfs_propagation && mount(NULL, "/", NULL, s->lnx.rootfs_propagation, NULL) < 0)
		return kc_error_set(err, errno, "set rootfsPropagation");
	return 0;
}
