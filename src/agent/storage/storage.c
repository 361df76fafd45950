/* SPDX-License-Identifier: Apache-2.0 */
/* Storages: the host's mounts in the guest, resolved beneath one root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "blockdev.h"
#include "lib/log.h"
#include "lib/util.h"
#include "storage.h"
#include "watchable.h"

/* Bounds on what one storage may carry: far above real use. */
#define MAX_OPTIONS 64
#define MAX_OPTION_LEN 4096
/* virtio-fs tags are at most 36 bytes (the device's config field). */
#define MAX_TAG_LEN 36

struct kc_agent_storage {
	struct kc_agent_storage *next;
	char *driver;
	char *target; /* the mount point as the host named it */
	char *source; /* watchable-bind: the share's directory (for updates) */
	bool mounted; /* false for local directories */
	size_t made; /* how many of the mount point's last components the
		      * agent made: it removes them (kc_agent_make_beneath) */
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
	DRV_WATCHABLE,
};

static const struct {
	const char *name;
	enum driver drv;
} drivers[] = {
	{ "virtio-fs", DRV_VIRTIOFS },
	{ "virtiofs", DRV_VIRTIOFS },
	{ "9p", DRV_9P },
	{ "blk", DRV_BLK },
	{ "virtio-blk", DRV_BLK },
	{ "mmioblk", DRV_BLK },
	{ "ephemeral", DRV_EPHEMERAL },
	{ "local", DRV_LOCAL },
	{ "bind", DRV_BIND },
	{ KC_AGENT_WATCHABLE_DRIVER, DRV_WATCHABLE },
};

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
	{ "defaults", false, 0 },	    { "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },	    { "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },	    { "nodev", false, MS_NODEV },
	{ "dev", true, MS_NODEV },	    { "noexec", false, MS_NOEXEC },
	{ "exec", true, MS_NOEXEC },	    { "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },  { "noatime", false, MS_NOATIME },
	{ "atime", true, MS_NOATIME },	    { "nodiratime", false, MS_NODIRATIME },
	{ "relatime", false, MS_RELATIME }, { "strictatime", false, MS_STRICTATIME },
	{ "bind", false, MS_BIND },	    { "rbind", false, MS_BIND | MS_REC },
};

struct opts {
	unsigned long flags;
	char *data; /* filesystem options, comma-separated; NULL if none */
	mode_t mode; /* local: mode= */
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
				return kc_error_set(err, EINVAL, "option `%s`: not an octal mode",
						    opt);
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

static void storage_free(const struct kc_agent_storages *s, struct kc_agent_storage *st)
{
	if (st->mounted) {
		if (umount2(st->target, UMOUNT_NOFOLLOW) < 0) {
			int e = errno;

			/* Still busy (a process holds it open): detach it so
			 * that it goes once unused. */
			if (e != EBUSY || umount2(st->target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
				kc_log_error("storage %s: unmount `%s`: %s", st->driver, st->target,
					     strerror(e));
		}
	}
	/* A mount point (or local directory) the agent created goes too,
	 * with the parents it made for it: a directory once empty (rmdir
	 * refuses anything else), a file bound on always. */
	if (st->made) {
		cleanup_close int root_fd = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		const char *rel;

		if (root_fd >= 0 &&
		    kc_agent_rel_path(s->root, st->target, "mount_point", &rel, NULL) == 0)
			kc_agent_unmake_beneath(root_fd, rel, st->made);
	}
	kc_debug("storage %s at %s released", st->driver, st->target);
	kc_free_strv(st->owners);
	free(st->driver);
	free(st->target);
	free(st->source);
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
	cleanup_free char *tpath = kc_agent_fd_path(target_fd);

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

static int chown_group(const char *root, const char *rel, const Grpc__Storage *req, kc_error_t *err)
{
	cleanup_close int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fd = -1;
	struct stat st;

	if (rfd < 0)
		return kc_error_set(err, errno, "open `%s`", root);
	fd = kc_agent_open_beneath(rfd, rel, O_PATH);
	if (fd < 0 || fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "fs_group: open `%s`", req->mount_point);
	if (req->fs_group_on_root_mismatch && st.st_gid == req->fs_group)
		return 0;
	if (fchownat(fd, "", (uid_t)-1, (gid_t)req->fs_group, AT_EMPTY_PATH) < 0)
		return kc_error_set(err, errno, "fs_group: chown `%s` to group %u",
				    req->mount_point, req->fs_group);
	return 0;
}

static int make_mount_point(struct kc_agent_storages *s, int root_fd, const char *rel,
			    const Grpc__Storage *req, bool as_file, mode_t mode, size_t *made,
			    kc_error_t *err)
{
	return kc_agent_make_beneath(root_fd, rel, as_file, mode, "mount_point", req->mount_point,
				     s->root, made, err);
}

/* The share's directory src (a path under the root), opened to read. */
static int open_source(struct kc_agent_storages *s, int root_fd, const char *src, kc_error_t *err)
{
	const char *src_rel;
	int fd;

	if (kc_agent_rel_path(s->root, src, "source", &src_rel, err) < 0)
		return -1;
	fd = kc_agent_open_beneath(root_fd, src_rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return kc_agent_beneath_error("source", src, s->root, err);
	return fd;
}

/*
 * watchable-bind (watchable.h): a tmpfs of the agent's at the mount point,
 * filled with the share's current version.  The container binds it as it
 * would bind the share; read-only is its bind's business, the tmpfs stays
 * writable for UpdateWatchableVolume.
 */
static int mount_watchable(struct kc_agent_storages *s, int root_fd, const char *rel,
			   const Grpc__Storage *req, const struct opts *o, size_t *made,
			   kc_error_t *err)
{
	cleanup_close int src = -1, target = -1, dst = -1;
	int ret;

	if (o->data)
		return kc_error_set(err, EINVAL,
				    "options `%s`: a watchable-bind's tmpfs takes no filesystem "
				    "options",
				    o->data);
	src = open_source(s, root_fd, req->source, err);
	if (src < 0)
		return src;
	target = make_mount_point(s, root_fd, rel, req, false, 0755, made, err);
	if (target < 0)
		return target;
	ret = do_mount("tmpfs", target, "tmpfs",
		       (o->flags & ~(unsigned long)(MS_RDONLY | MS_BIND | MS_REC)) | MS_NOSUID |
			       MS_NODEV,
		       KC_AGENT_WATCHABLE_TMPFS_DATA, req->mount_point, err);
	if (ret < 0)
		return ret;
	/* The mount point's path again: the tmpfs's root now. */
	dst = kc_agent_open_beneath(root_fd, rel, O_RDONLY | O_DIRECTORY);
	if (dst < 0)
		ret = kc_agent_beneath_error("mount_point", req->mount_point, s->root, err);
	else
		ret = kc_agent_watchable_populate(src, dst, req->source, err);
	if (ret < 0) {
		if (dst >= 0)
			close(kc_steal_fd(&dst));
		if (umount2(req->mount_point, UMOUNT_NOFOLLOW) < 0)
			umount2(req->mount_point, MNT_DETACH | UMOUNT_NOFOLLOW);
	}
	return ret;
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
	size_t made = 0, d;
	int ret;

	for (d = 0; d < KC_ARRAY_SIZE(drivers); d++)
		if (strcmp(req->driver, drivers[d].name) == 0)
			break;
	if (d == KC_ARRAY_SIZE(drivers))
		return kc_error_set(err, EINVAL, "unknown driver `%s`", req->driver);
	drv = drivers[d].drv;
	ret = kc_agent_rel_path(s->root, req->mount_point, "mount_point", &rel, err);
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
		if (!req->source[0] ||
		    strlen(req->source) > (drv == DRV_VIRTIOFS ? MAX_TAG_LEN : 255)) {
			ret = kc_error_set(err, EINVAL, "source (the tag) `%s`: empty or too long",
					   req->source);
			break;
		}
		ret = target = make_mount_point(s, root_fd, rel, req, false, 0755, &made, err);
		if (ret < 0)
			break;
		ret = do_mount(req->source, target, drv == DRV_VIRTIOFS ? "virtiofs" : "9p",
			       o.flags, o.data, req->mount_point, err);
		break;
	case DRV_BLK:
		ret = kc_agent_find_block(req->source, &dev, err);
		if (ret < 0)
			break;
		if (!req->fstype[0]) {
			ret = kc_error_set(err, EINVAL, "block storage `%s` needs an fstype",
					   req->source);
			break;
		}
		ret = target = make_mount_point(s, root_fd, rel, req, false, 0755, &made, err);
		if (ret < 0)
			break;
		ret = do_mount(dev, target, req->fstype, o.flags, o.data, req->mount_point, err);
		break;
	case DRV_EPHEMERAL:
		ret = target = make_mount_point(s, root_fd, rel, req, false, 0755, &made, err);
		if (ret < 0)
			break;
		ret = do_mount("tmpfs", target, "tmpfs", o.flags, o.data, req->mount_point, err);
		break;
	case DRV_LOCAL: {
		mode_t mode = o.mode_set ? o.mode : 0777;

		ret = target = make_mount_point(s, root_fd, rel, req, false, mode, &made, err);
		if (ret < 0)
			break;
		/* The mode exactly, whatever the umask or an earlier mkdir;
		 * through the resolved fd, not the path again. */
		{
			cleanup_free char *tpath = kc_agent_fd_path(target);
			struct stat tst;

			if (fstat(target, &tst) < 0 || !S_ISDIR(tst.st_mode))
				ret = kc_error_set(err, ENOTDIR, "mount_point `%s`",
						   req->mount_point);
			else if (chmod(tpath, mode) < 0)
				ret = kc_error_set(err, errno, "chmod `%s`", req->mount_point);
			else
				ret = 0;
		}
		break;
	}
	case DRV_BIND: {
		struct stat sst;

		ret = kc_agent_rel_path(s->root, req->source, "source", &src_rel, err);
		if (ret < 0)
			break;
		src = kc_agent_open_beneath(root_fd, src_rel, O_PATH);
		if (src < 0) {
			ret = kc_agent_beneath_error("source", req->source, s->root, err);
			break;
		}
		if (fstat(src, &sst) < 0) {
			ret = kc_error_set(err, errno, "stat `%s`", req->source);
			break;
		}
		ret = target = make_mount_point(s, root_fd, rel, req, !S_ISDIR(sst.st_mode), 0755,
						&made, err);
		if (ret < 0)
			break;
		src_path = kc_agent_fd_path(src);
		ret = do_mount(src_path, target, NULL, o.flags | MS_BIND | MS_REC, NULL,
			       req->mount_point, err);
		break;
	}
	case DRV_WATCHABLE:
		ret = mount_watchable(s, root_fd, rel, req, &o, &made, err);
		break;
	}
	opts_free(&o);
	if (ret < 0) {
		/* What this storage made for its mount point goes with it;
		 * what was there before stays. */
		if (target >= 0)
			close(kc_steal_fd(&target));
		kc_agent_unmake_beneath(root_fd, rel, made);
		return ret;
	}

	st = kc_xzalloc(sizeof(*st));
	st->driver = kc_xstrdup(req->driver);
	st->target = kc_xstrdup(req->mount_point);
	if (drv == DRV_WATCHABLE)
		st->source = kc_xstrdup(req->source);
	st->mounted = drv != DRV_LOCAL;
	st->made = made;
	st->shared = req->shared;
	st->owners = kc_xzalloc(sizeof(char *));
	add_owner(st, owner);
	/* A tmpfs or directory the pod's containers share by name (an
	 * emptyDir, the pod's /dev/shm) lives as long as the pod, as in
	 * Kubernetes: an init container's files are there for the containers
	 * that start after it is gone.  The sandbox holds it too. */
	if (req->shared && owner[0] && (drv == DRV_EPHEMERAL || drv == DRV_LOCAL))
		add_owner(st, "");
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
	root_fd = kc_agent_open_root(s->root, err);
	if (root_fd < 0)
		return root_fd;
	for (size_t i = 0; i < n; i++) {
		ret = mount_one(s, root_fd, owner, storages[i], err);
		if (ret < 0) {
			kc_agent_storages_release(s, owner);
			return kc_error_wrap(err, "storage %zu (%s at `%s`)", i,
					     storages[i]->driver, storages[i]->mount_point);
		}
	}
	return 0;
}

int kc_agent_storages_bind(struct kc_agent_storages *s, const char *owner, const char *source,
			   const char *mount_point, bool readonly, kc_error_t *err)
{
	Grpc__Storage st = GRPC__STORAGE__INIT;
	Grpc__Storage *ptr = &st;
	char *ro[] = { (char *)"ro" };
	cleanup_close int root_fd = -1;
	int ret;

	st.driver = (char *)"bind";
	st.source = (char *)source;
	st.mount_point = (char *)mount_point;
	if (readonly) {
		st.options = ro;
		st.n_options = 1;
	}
	root_fd = kc_agent_open_root(s->root, err);
	if (root_fd < 0)
		return root_fd;
	ret = mount_one(s, root_fd, owner, ptr, err);
	if (ret < 0)
		return kc_error_wrap(err, "bind `%s` on `%s`", source, mount_point);
	return 0;
}

int kc_agent_storages_make_subdir(struct kc_agent_storages *s, const char *owner, const char *path,
				  kc_error_t *err)
{
	struct kc_agent_storage *st;
	cleanup_close int root_fd = -1, vol_fd = -1;
	const char *trel, *rel;
	struct stat vst;
	size_t len;
	int ret;

	for (st = s->list; st; st = st->next) {
		size_t n = strlen(st->target);

		if ((strcmp(st->driver, "ephemeral") == 0 || strcmp(st->driver, "local") == 0) &&
		    has_owner(st, owner) && strncmp(path, st->target, n) == 0 && path[n] == '/')
			break;
	}
	if (!st)
		return 0;
	ret = kc_agent_rel_path(st->target, path, "source", &rel, err);
	if (ret < 0 || !*rel)
		return ret < 0 ? ret : 0;
	ret = kc_agent_rel_path(s->root, st->target, "mount_point", &trel, err);
	if (ret < 0)
		return ret;
	root_fd = kc_agent_open_root(s->root, err);
	if (root_fd < 0)
		return root_fd;
	vol_fd = kc_agent_open_beneath(root_fd, trel, O_PATH | O_DIRECTORY);
	if (vol_fd < 0)
		return kc_agent_beneath_error("mount_point", st->target, s->root, err);
	if (fstat(vol_fd, &vst) < 0)
		return kc_error_set(err, errno, "stat `%s`", st->target);
	/* Each component as kubelet makes a subPath's: the volume's mode,
	 * whatever the umask.  One component at a time, each beneath the
	 * volume. */
	len = strlen(rel);
	for (size_t i = 0; i <= len; i++) {
		cleanup_free char *prefix = NULL, *fdp = NULL;
		cleanup_close int fd = -1;
		size_t made;

		if (rel[i] != '/' && rel[i] != '\0')
			continue;
		if (i == 0 || rel[i - 1] == '/')
			continue;
		prefix = kc_xstrndup(rel, i);
		fd = kc_agent_make_beneath(vol_fd, prefix, false, vst.st_mode & 07777, "source",
					   path, st->target, &made, err);
		if (fd < 0)
			return fd;
		if (!made)
			continue;
		fdp = kc_agent_fd_path(fd);
		if (chmod(fdp, vst.st_mode & 07777) < 0)
			return kc_error_set(err, errno, "source `%s`: chmod", path);
	}
	return 0;
}

int kc_agent_storages_update_ephemeral(struct kc_agent_storages *s, Grpc__Storage *const *storages,
				       size_t n, kc_error_t *err)
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

int kc_agent_storages_update_watchable(struct kc_agent_storages *s, const char *mount_point,
				       const char *data_dir, kc_error_t *err)
{
	struct kc_agent_storage *st = find_target(s, mount_point);
	cleanup_close int root_fd = -1, src = -1, dst = -1;
	const char *rel;

	if (!st || strcmp(st->driver, KC_AGENT_WATCHABLE_DRIVER) != 0)
		return kc_error_set(err, ENOENT, "mount_point `%s`: no %s storage there",
				    mount_point, KC_AGENT_WATCHABLE_DRIVER);
	root_fd = kc_agent_open_root(s->root, err);
	if (root_fd < 0)
		return root_fd;
	src = open_source(s, root_fd, st->source, err);
	if (src < 0)
		return src;
	if (kc_agent_rel_path(s->root, st->target, "mount_point", &rel, err) < 0)
		return -1;
	dst = kc_agent_open_beneath(root_fd, rel, O_RDONLY | O_DIRECTORY);
	if (dst < 0)
		return kc_agent_beneath_error("mount_point", st->target, s->root, err);
	if (kc_agent_watchable_update(src, dst, data_dir, st->source, err) < 0)
		return kc_error_wrap(err, "mount_point `%s`", mount_point);
	kc_info("watchable volume at %s: now %s", mount_point, data_dir);
	return 0;
}
