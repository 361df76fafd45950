// SPDX-License-Identifier: Apache-2.0
/* Storages: the host's mounts in the guest, resolved beneath one root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "storage.h"

/* Bounds on what one storage may carry: far above real use. */
#define MAX_OPTIONS 64
#define MAX_OPTION_LEN 4096
/* virtio-fs tags are at most 36 bytes (the device's config field). */
#define MAX_TAG_LEN 36
/* How long a block device may take to show up after it was plugged. */
#define BLOCK_WAIT_NS (5 * 1000000000ull)

struct kc_agent_storage {
	struct kc_agent_storage *next;
	char *driver;
	char *target; /* the mount point as the host named it */
	bool mounted; /* false for local directories */
	bool shared;
	char **owners; /* NULL-terminated */
};

enum driver {
	DRV_VIRTIOFS,
	DRV_9P,
	DRV_BLK,
	DRV_EPHEMERAL,
	DRV_LOCAL,
	DRV_BIND,
};

static const struct {
	const char *name;
	enum driver drv;
} drivers[] = {
	{ "virtio-fs", DRV_VIRTIOFS }, { "virtiofs", DRV_VIRTIOFS }, { "9p", DRV_9P },
	{ "blk", DRV_BLK },	       { "virtio-blk", DRV_BLK },    { "mmioblk", DRV_BLK },
	{ "ephemeral", DRV_EPHEMERAL }, { "local", DRV_LOCAL },	     { "bind", DRV_BIND },
};

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
	{ "defaults", false, 0 },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },
	{ "nodev", false, MS_NODEV },
	{ "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },
	{ "exec", true, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },
	{ "noatime", false, MS_NOATIME },
	{ "atime", true, MS_NOATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "relatime", false, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "bind", false, MS_BIND },
	{ "rbind", false, MS_BIND | MS_REC },
};

struct opts {
	unsigned long flags;
	char *data;   /* filesystem options, comma-separated; NULL if none */
	mode_t mode;  /* local: mode= */
	bool mode_set;
};

static void opts_free(struct opts *o)
{
	free(o->data);
	o->data = NULL;
}

static int parse_options(char *const *options, size_t n, bool want_mode, struct opts *o,
			 kc_error_t *err)
{
	memset(o, 0, sizeof(*o));
	if (n > MAX_OPTIONS)
		return kc_error_set(err, EINVAL, "%zu options (at most %d)", n, MAX_OPTIONS);
	for (size_t i = 0; i < n; i++) {
		const char *opt = options[i];
		bool known = false;

		if (strlen(opt) > MAX_OPTION_LEN || strchr(opt, ','))
			return kc_error_set(err, EINVAL, "option %zu is too long or holds a ','", i);
		if (!opt[0])
			continue;
		for (size_t j = 0; j < KC_ARRAY_SIZE(mount_flags) && !known; j++) {
			if (strcmp(opt, mount_flags[j].name) == 0) {
				known = true;
				if (mount_flags[j].clear)
					o->flags &= ~mount_flags[j].flag;
				else
					o->flags |= mount_flags[j].flag;
			}
		}
		if (known)
			continue;
		if (want_mode && strncmp(opt, "mode=", 5) == 0) {
			char *end;
			unsigned long m = strtoul(opt + 5, &end, 8);

			if (!opt[5] || *end || m > 07777) {
				opts_free(o);
				return kc_error_set(err, EINVAL, "option `%s`: not an octal mode", opt);
			}
			o->mode = (mode_t)m;
			o->mode_set = true;
			continue;
		}
		{
			char *joined = kc_xasprintf("%s%s%s", o->data ? o->data : "",
						    o->data ? "," : "", opt);

			free(o->data);
			o->data = joined;
		}
	}
	return 0;
}

/* ---- paths beneath the root ---- */

/*
 * The part of `path` below root: path must be absolute, lie under root
 * lexically and hold no ".." component.  Returns a pointer into path ("" for
 * the root itself).
 */
static int rel_path(const char *root, const char *path, const char *what, const char **rel,
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

static int open_beneath(int dirfd, const char *rel, int flags)
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

static int beneath_error(const char *what, const char *path, const char *root, kc_error_t *err)
{
	if (errno == EXDEV || errno == ELOOP)
		return kc_error_set(err, EPERM, "%s `%s`: a symlink escapes `%s`", what, path,
				    root);
	return kc_error_set(err, errno, "%s `%s`", what, path);
}

static int open_root(const char *root, kc_error_t *err)
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

/*
 * Opens (O_PATH) the mount point rel beneath root_fd, creating missing
 * directories (mode 0755; the last one `mode`, or an empty file when
 * as_file) one component at a time, each created in the directory that
 * the previous component resolved to.
 */
static int make_beneath(int root_fd, const char *rel, bool as_file, mode_t mode,
			const char *what, const char *path, const char *root, kc_error_t *err)
{
	cleanup_free char *prefix = kc_xstrdup(rel);
	cleanup_close int parent = -1;
	size_t len = strlen(rel), i = 0;
	int fd;

	fd = open_beneath(root_fd, rel, O_PATH);
	if (fd >= 0 || errno != ENOENT) {
		if (fd < 0)
			return beneath_error(what, path, root, err);
		return fd;
	}
	parent = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	if (parent < 0)
		return kc_error_set(err, errno, "dup");
	while (i < len) {
		size_t start, n;
		bool last;

		while (i < len && rel[i] == '/')
			i++;
		start = i;
		n = strcspn(rel + i, "/");
		i += n;
		if (n == 0)
			break;
		last = rel[i + strspn(rel + i, "/")] == '\0';
		prefix[i] = '\0';
		fd = open_beneath(root_fd, prefix, O_PATH);
		if (fd < 0 && errno == ENOENT) {
			cleanup_free char *name = kc_xstrndup(rel + start, n);

			if (last && as_file) {
				int f = openat(parent, name,
					       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					       0644);

				if (f < 0 && errno != EEXIST)
					return kc_error_set(err, errno, "%s `%s`: create", what,
							    path);
				if (f >= 0)
					close(f);
			} else if (mkdirat(parent, name, last ? mode : 0755) < 0 &&
				   errno != EEXIST) {
				return kc_error_set(err, errno, "%s `%s`: mkdir", what, path);
			}
			fd = open_beneath(root_fd, prefix, O_PATH);
		}
		if (fd < 0)
			return beneath_error(what, path, root, err);
		prefix[i] = rel[i];
		if (last)
			return fd;
		close(parent);
		parent = fd;
	}
	return kc_error_set(err, EINVAL, "%s `%s`: empty", what, path);
}

static char *fd_path(int fd)
{
	return kc_xasprintf("/proc/self/fd/%d", fd);
}

/* ---- block devices ---- */

static bool device_name_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == ':' || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0 && n < 64 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* The /dev node of the block device whose sysfs path has a component
 * equal to name, or NULL. */
static char *block_by_sysfs(const char *name)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	char *found = NULL;

	if (!d)
		return NULL;
	while (!found && (e = readdir(d))) {
		cleanup_free char *link = NULL, *real = NULL;
		size_t nlen = strlen(name);

		if (e->d_name[0] == '.')
			continue;
		link = kc_xasprintf("/sys/block/%s/device", e->d_name);
		real = realpath(link, NULL);
		if (!real)
			continue;
		for (char *p = strstr(real, name); p; p = strstr(p + 1, name)) {
			if (p[-1] == '/' && (p[nlen] == '/' || p[nlen] == '\0')) {
				found = kc_xasprintf("/dev/%s", e->d_name);
				break;
			}
		}
	}
	closedir(d);
	return found;
}

static int find_block(const char *source, char **dev, kc_error_t *err)
{
	uint64_t t0 = kc_monotonic_ns();
	bool by_path = strncmp(source, "/dev/", 5) == 0;

	if (by_path ? !device_name_valid(source + 5) : !device_name_valid(source))
		return kc_error_set(err, EINVAL, "block device `%s`: neither /dev/NAME nor a sysfs "
						 "device name",
				    source);
	for (;;) {
		const struct timespec pause = { 0, 5 * 1000 * 1000 };
		struct stat st;

		if (by_path) {
			if (stat(source, &st) == 0) {
				if (!S_ISBLK(st.st_mode))
					return kc_error_set(err, ENOTBLK, "`%s`", source);
				*dev = kc_xstrdup(source);
				return 0;
			}
		} else if ((*dev = block_by_sysfs(source))) {
			return 0;
		}
		if (kc_monotonic_ns() - t0 >= BLOCK_WAIT_NS)
			break;
		nanosleep(&pause, NULL);
	}
	return kc_error_set(err, ENODEV, "block device `%s`: not found after %llu s", source,
			    BLOCK_WAIT_NS / 1000000000ull);
}

/* ---- the list ---- */

void kc_agent_storages_init(struct kc_agent_storages *s, const char *root)
{
	cleanup_free char *r = kc_xstrdup(root);
	size_t n = strlen(r);

	while (n > 1 && r[n - 1] == '/')
		r[--n] = '\0';
	s->root = kc_steal_ptr(&r);
	s->list = NULL;
}

static bool has_owner(const struct kc_agent_storage *st, const char *owner)
{
	for (size_t i = 0; st->owners[i]; i++)
		if (strcmp(st->owners[i], owner) == 0)
			return true;
	return false;
}

static void add_owner(struct kc_agent_storage *st, const char *owner)
{
	size_t n = 0;

	while (st->owners[n])
		n++;
	st->owners = kc_xrealloc(st->owners, (n + 2) * sizeof(char *));
	st->owners[n] = kc_xstrdup(owner);
	st->owners[n + 1] = NULL;
}

static void drop_owner(struct kc_agent_storage *st, const char *owner)
{
	size_t i, j;

	for (i = j = 0; st->owners[i]; i++) {
		if (strcmp(st->owners[i], owner) == 0)
			free(st->owners[i]);
		else
			st->owners[j++] = st->owners[i];
	}
	st->owners[j] = NULL;
}

static void storage_free(struct kc_agent_storages *s, struct kc_agent_storage *st)
{
	if (st->mounted) {
		if (umount2(st->target, UMOUNT_NOFOLLOW) < 0) {
			int e = errno;

			/* Still busy (a process holds it open): detach it so
			 * that it goes once unused. */
			if (e != EBUSY || umount2(st->target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
				kc_error("storage %s: unmount `%s`: %s", st->driver, st->target,
					 strerror(e));
		}
	}
	/* A local directory goes too once empty; a mount point the agent
	 * created likewise (rmdir refuses anything else). */
	if (strcmp(st->target, s->root) != 0 && rmdir(st->target) < 0 && errno != ENOENT &&
	    errno != ENOTEMPTY && errno != EEXIST && errno != ENOTDIR && errno != EBUSY)
		kc_debug("storage %s: rmdir `%s`: %s", st->driver, st->target, strerror(errno));
	kc_debug("storage %s at %s released", st->driver, st->target);
	kc_free_strv(st->owners);
	free(st->driver);
	free(st->target);
	free(st);
}

void kc_agent_storages_release(struct kc_agent_storages *s, const char *owner)
{
	struct kc_agent_storage **pp = &s->list;

	while (*pp) {
		struct kc_agent_storage *st = *pp;

		if (has_owner(st, owner)) {
			drop_owner(st, owner);
			if (!st->owners[0]) {
				*pp = st->next;
				storage_free(s, st);
				continue;
			}
		}
		pp = &st->next;
	}
}

void kc_agent_storages_clear(struct kc_agent_storages *s)
{
	while (s->list) {
		struct kc_agent_storage *st = s->list;

		s->list = st->next;
		storage_free(s, st);
	}
}

void kc_agent_storages_fini(struct kc_agent_storages *s)
{
	kc_agent_storages_clear(s);
	free(s->root);
	s->root = NULL;
}

size_t kc_agent_storages_count(const struct kc_agent_storages *s)
{
	size_t n = 0;

	for (const struct kc_agent_storage *st = s->list; st; st = st->next)
		n++;
	return n;
}

static struct kc_agent_storage *find_target(struct kc_agent_storages *s, const char *target)
{
	for (struct kc_agent_storage *st = s->list; st; st = st->next)
		if (strcmp(st->target, target) == 0)
			return st;
	return NULL;
}

/* ---- mounting one storage ---- */

static int do_mount(const char *source, int target_fd, const char *fstype, unsigned long flags,
		    const char *data, const char *what, kc_error_t *err)
{
	cleanup_free char *tpath = fd_path(target_fd);

	if (mount(source, tpath, fstype, flags & ~(unsigned long)MS_RDONLY, data) < 0)
		return kc_error_set(err, errno, "mount %s `%s` on `%s`", fstype ? fstype : "bind",
				    source, what);
	/* A bind ignores MS_RDONLY until remounted; do every kind alike. */
	if (flags & MS_RDONLY) {
		unsigned long rflags = MS_REMOUNT | MS_RDONLY | (flags & MS_BIND);

		/* The new mount hides what target_fd names: reach its root
		 * through the same path again. */
		if (mount(NULL, what, NULL, rflags, (flags & MS_BIND) ? NULL : data) < 0) {
			int e = errno;

			umount2(what, MNT_DETACH | UMOUNT_NOFOLLOW);
			return kc_error_set(err, e, "remount `%s` read-only", what);
		}
	}
	return 0;
}

static int chown_group(const char *root, const char *rel, const Grpc__Storage *req,
		       kc_error_t *err)
{
	cleanup_close int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fd = -1;
	struct stat st;

	if (rfd < 0)
		return kc_error_set(err, errno, "open `%s`", root);
	fd = open_beneath(rfd, rel, O_PATH);
	if (fd < 0 || fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "fs_group: open `%s`", req->mount_point);
	if (req->fs_group_on_root_mismatch && st.st_gid == req->fs_group)
		return 0;
	if (fchownat(fd, "", (uid_t)-1, (gid_t)req->fs_group, AT_EMPTY_PATH) < 0)
		return kc_error_set(err, errno, "fs_group: chown `%s` to group %u",
				    req->mount_point, req->fs_group);
	return 0;
}

static int mount_one(struct kc_agent_storages *s, int root_fd, const char *owner,
		     const Grpc__Storage *req, kc_error_t *err)
{
	const char *rel, *src_rel = NULL;
	cleanup_close int target = -1, src = -1;
	cleanup_free char *dev = NULL, *src_path = NULL;
	struct kc_agent_storage *st;
	struct opts o;
	enum driver drv;
	size_t d;
	int ret;

	for (d = 0; d < KC_ARRAY_SIZE(drivers); d++)
		if (strcmp(req->driver, drivers[d].name) == 0)
			break;
	if (d == KC_ARRAY_SIZE(drivers))
		return kc_error_set(err, EINVAL, "unknown driver `%s`", req->driver);
	drv = drivers[d].drv;
	ret = rel_path(s->root, req->mount_point, "mount_point", &rel, err);
	if (ret < 0)
		return ret;
	if (!*rel)
		return kc_error_set(err, EPERM, "mount_point `%s`: the storage root itself",
				    req->mount_point);
	st = find_target(s, req->mount_point);
	if (st) {
		if (!st->shared || !req->shared || strcmp(st->driver, req->driver) != 0)
			return kc_error_set(err, EEXIST, "mount_point `%s`: already used",
					    req->mount_point);
		if (!has_owner(st, owner))
			add_owner(st, owner);
		return 0;
	}
	ret = parse_options(req->options, req->n_options, drv == DRV_LOCAL, &o, err);
	if (ret < 0)
		return ret;

	switch (drv) {
	case DRV_VIRTIOFS:
	case DRV_9P:
		if (!req->source[0] || strlen(req->source) > (drv == DRV_VIRTIOFS ? MAX_TAG_LEN : 255)) {
			ret = kc_error_set(err, EINVAL, "source (the tag) `%s`: empty or too long",
					   req->source);
			break;
		}
		ret = target = make_beneath(root_fd, rel, false, 0755, "mount_point",
					    req->mount_point, s->root, err);
		if (ret < 0)
			break;
		ret = do_mount(req->source, target, drv == DRV_VIRTIOFS ? "virtiofs" : "9p",
			       o.flags, o.data, req->mount_point, err);
		break;
	case DRV_BLK:
		ret = find_block(req->source, &dev, err);
		if (ret < 0)
			break;
		if (!req->fstype[0]) {
			ret = kc_error_set(err, EINVAL, "block storage `%s` needs an fstype",
					   req->source);
			break;
		}
		ret = target = make_beneath(root_fd, rel, false, 0755, "mount_point",
					    req->mount_point, s->root, err);
		if (ret < 0)
			break;
		ret = do_mount(dev, target, req->fstype, o.flags, o.data, req->mount_point, err);
		break;
	case DRV_EPHEMERAL:
		ret = target = make_beneath(root_fd, rel, false, 0755, "mount_point",
					    req->mount_point, s->root, err);
		if (ret < 0)
			break;
		ret = do_mount("tmpfs", target, "tmpfs", o.flags, o.data, req->mount_point, err);
		break;
	case DRV_LOCAL: {
		mode_t mode = o.mode_set ? o.mode : 0777;

		ret = target = make_beneath(root_fd, rel, false, mode, "mount_point",
					    req->mount_point, s->root, err);
		if (ret < 0)
			break;
		/* The mode exactly, whatever the umask or an earlier mkdir. */
		ret = fchmodat(root_fd, rel, mode, 0) < 0
			      ? kc_error_set(err, errno, "chmod `%s`", req->mount_point)
			      : 0;
		break;
	}
	case DRV_BIND: {
		struct stat sst;

		ret = rel_path(s->root, req->source, "source", &src_rel, err);
		if (ret < 0)
			break;
		src = open_beneath(root_fd, src_rel, O_PATH);
		if (src < 0) {
			ret = beneath_error("source", req->source, s->root, err);
			break;
		}
		if (fstat(src, &sst) < 0) {
			ret = kc_error_set(err, errno, "stat `%s`", req->source);
			break;
		}
		ret = target = make_beneath(root_fd, rel, !S_ISDIR(sst.st_mode), 0755,
					    "mount_point", req->mount_point, s->root, err);
		if (ret < 0)
			break;
		src_path = fd_path(src);
		ret = do_mount(src_path, target, NULL, o.flags | MS_BIND | MS_REC, NULL,
			       req->mount_point, err);
		break;
	}
	}
	opts_free(&o);
	if (ret < 0)
		return ret;

	st = kc_xzalloc(sizeof(*st));
	st->driver = kc_xstrdup(req->driver);
	st->target = kc_xstrdup(req->mount_point);
	st->mounted = drv != DRV_LOCAL;
	st->shared = req->shared;
	st->owners = kc_xzalloc(sizeof(char *));
	add_owner(st, owner);
	st->next = s->list;
	s->list = st;
	if (req->fs_group_set) {
		ret = chown_group(s->root, rel, req, err);
		if (ret < 0)
			return ret;
	}
	kc_info("storage %s mounted at %s%s%s", req->driver, req->mount_point,
		owner[0] ? " for container " : " for the sandbox", owner);
	return 0;
}

int kc_agent_storages_add(struct kc_agent_storages *s, const char *owner,
			  Grpc__Storage *const *storages, size_t n, kc_error_t *err)
{
	cleanup_close int root_fd = -1;
	int ret;

	if (n == 0)
		return 0;
	root_fd = open_root(s->root, err);
	if (root_fd < 0)
		return root_fd;
	for (size_t i = 0; i < n; i++) {
		ret = mount_one(s, root_fd, owner, storages[i], err);
		if (ret < 0) {
			kc_agent_storages_release(s, owner);
			return kc_error_wrap(err, "storage %zu (%s at `%s`)", i, storages[i]->driver,
					     storages[i]->mount_point);
		}
	}
	return 0;
}

int kc_agent_storages_update_ephemeral(struct kc_agent_storages *s,
				       Grpc__Storage *const *storages, size_t n,
				       kc_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		const Grpc__Storage *req = storages[i];
		struct kc_agent_storage *st;
		struct opts o;
		int ret;

		if (strcmp(req->driver, "ephemeral") != 0)
			return kc_error_set(err, EINVAL, "storage %zu: driver `%s` is not ephemeral",
					    i, req->driver);
		st = find_target(s, req->mount_point);
		if (!st || strcmp(st->driver, "ephemeral") != 0)
			return kc_error_set(err, ENOENT, "storage %zu: no ephemeral storage at `%s`",
					    i, req->mount_point);
		ret = parse_options(req->options, req->n_options, false, &o, err);
		if (ret < 0)
			return kc_error_wrap(err, "storage %zu", i);
		ret = mount("tmpfs", st->target, "tmpfs", MS_REMOUNT | o.flags, o.data);
		opts_free(&o);
		if (ret < 0)
			return kc_error_set(err, errno, "storage %zu: remount `%s`", i, st->target);
		kc_info("ephemeral storage at %s remounted", st->target);
	}
	return 0;
}
