/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volumes: the spec's bind mounts, shared with the guest the way Kata does
 * (a bind into the sandbox share, then a bind inside the guest from the
 * share to the destination), or held by the guest itself (emptyDir,
 * /dev/shm).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "container.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mount.h"

/* Types the guest kernel mounts itself. */
static const char *const guest_types[] = { "proc",   "sysfs",	"tmpfs", "devpts", "mqueue",
					   "cgroup", "cgroup2", "shm",	 NULL };

static bool has_option(json_t *opts, const char *name)
{
	size_t i;
	json_t *o;

	json_array_foreach(opts, i, o) if (json_is_string(o) &&
					   strcmp(json_string_value(o), name) == 0) return true;
	return false;
}

static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool has_dotdot(const char *p)
{
	for (const char *c = p; (c = strstr(c, "..")); c += 2)
		if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return true;
	return false;
}

/* The share name's last part: the destination's base name, made safe. */
static char *safe_base(const char *dest)
{
	const char *b = strrchr(dest, '/');
	char *s = kc_xstrdup(b && b[1] ? b + 1 : "root");

	for (char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			*p = '_';
	if (strlen(s) > 64)
		s[64] = '\0';
	return s;
}

void kc_guest_storages_free(struct kc_guest_storages *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].driver);
		free(s->v[i].source);
		free(s->v[i].fstype);
		free(s->v[i].mount_point);
		free(s->v[i].watch_dir);
		kc_free_strv(s->v[i].options);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* kubelet's volume of a kind: .../volumes/kubernetes.io~KIND/NAME.  NAME
 * (a DNS label for Kubernetes; anything else is not taken for one), or
 * NULL. */
static const char *kubelet_volume_name(const char *src, const char *kind)
{
	cleanup_free char *part = kc_xasprintf("/kubernetes.io~%s", kind);
	const char *name = strrchr(src, '/'), *k;
	size_t n = strlen(part);

	if (!name || name - src < (ptrdiff_t)n + 1)
		return NULL;
	k = name - n;
	if (strncmp(k, part, n) != 0)
		return NULL;
	name++;
	if (!*name || strlen(name) > 63)
		return NULL;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return NULL;
	return name;
}

static const char *empty_dir_name(const char *src)
{
	return kubelet_volume_name(src, "empty-dir");
}

/* The volumes kubelet writes with its atomic writer, which the guest
 * keeps a copy of (docs/volumes-update.md). */
static const char *const watchable_kinds[] = { "configmap", "secret", "projected", "downward-api",
					       NULL };

static const char *watchable_name(const char *src, const char **kind)
{
	for (size_t i = 0; watchable_kinds[i]; i++) {
		const char *name = kubelet_volume_name(src, watchable_kinds[i]);

		if (name) {
			*kind = watchable_kinds[i];
			return name;
		}
	}
	return NULL;
}

int kc_kubelet_data_dir(int dir_fd, const char *what, char **out, kc_error_t *err)
{
	char target[256];
	ssize_t n = readlinkat(dir_fd, "..data", target, sizeof(target) - 1);
	struct stat st;

	if (n < 0)
		return kc_error_set(err, errno, "%s: read `..data`", what);
	target[n] = '\0';
	if (!kc_kubelet_version_name_valid(target))
		return kc_error_set(err, EINVAL,
				    "%s: `..data` points to `%s`, not a version of kubelet's "
				    "atomic writer (..YYYY_MM_DD_HH_MM_SS.N)",
				    what, target);
	if (fstatat(dir_fd, target, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kc_error_set(err, errno, "%s: `..data` points to `%s`", what, target);
	if (!S_ISDIR(st.st_mode))
		return kc_error_set(err, ENOTDIR,
				    "%s: `..data` points to `%s`, which is no directory of the "
				    "volume",
				    what, target);
	*out = kc_xstrdup(target);
	return 0;
}

/* Counts the entries and bytes beneath fd (taken), up to the bounds. */
static void count_version(int fd, unsigned depth, size_t *files, unsigned long long *bytes)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;

	if (!d) {
		close(fd);
		*files = SIZE_MAX; /* unreadable: not watched */
		return;
	}
	while ((e = readdir(d)) && *files <= KC_WATCHABLE_MAX_FILES &&
	       *bytes <= KC_WATCHABLE_MAX_BYTES) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		(*files)++;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode))
			*bytes += (unsigned long long)st.st_size;
		else if (S_ISDIR(st.st_mode) && depth < 16) {
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				count_version(sub, depth + 1, files, bytes);
		}
	}
	closedir(d);
}

/* Whether kubelet's volume src can be a watchable-bind: a valid `..data`
 * naming a version within the bounds.  Says why not when not. */
static bool watchable_fits(const char *src, const char *dest, const char *kind, const char *name)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *what = kc_xasprintf("mount `%s`: %s volume `%s`", dest, kind, name);
	cleanup_free char *version = NULL;
	unsigned long long bytes = 0;
	size_t files = 0;
	int fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC), vfd;

	if (fd < 0 || kc_kubelet_data_dir(fd, what, &version, &err) < 0) {
		if (fd >= 0)
			close(fd);
		kc_info("%s: shared as a plain bind, not updated in place (%s)", what,
			err ? err->msg : strerror(errno));
		return false;
	}
	vfd = openat(fd, version, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(fd);
	if (vfd < 0) {
		kc_info("%s: shared as a plain bind (open `%s`: %s)", what, version,
			strerror(errno));
		return false;
	}
	count_version(vfd, 0, &files, &bytes);
	if (files > KC_WATCHABLE_MAX_FILES || bytes > KC_WATCHABLE_MAX_BYTES) {
		kc_warn("%s: more than %d files or %u MiB: shared as a plain bind, not updated "
			"in place",
			what, KC_WATCHABLE_MAX_FILES, KC_WATCHABLE_MAX_BYTES >> 20);
		return false;
	}
	return true;
}

static void add_storage(struct kc_guest_storages *out, const char *driver, const char *source,
			const char *fstype, const char *mount_point, char **options,
			const struct stat *st)
{
	struct kc_guest_storage *g;

	/* A volume mounted twice (whole and by a subPath): one storage. */
	for (size_t i = 0; i < out->n; i++)
		if (strcmp(out->v[i].mount_point, mount_point) == 0 &&
		    strcmp(out->v[i].driver, driver) == 0) {
			kc_free_strv(options);
			return;
		}
	out->v = kc_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	g = &out->v[out->n++];
	memset(g, 0, sizeof(*g));
	g->driver = kc_xstrdup(driver);
	g->source = kc_xstrdup(source);
	g->fstype = kc_xstrdup(fstype);
	g->mount_point = kc_xstrdup(mount_point);
	g->options = options;
	/* kubelet gives the volume the pod's fsGroup: the guest's copy gets
	 * it too, as Kata's runtime passes it. */
	if (st->st_gid != 0) {
		g->fs_group_set = true;
		g->fs_group = (unsigned)st->st_gid;
	}
}

static char **strv(const char *a, const char *b, const char *c, const char *d, const char *e)
{
	const char *in[] = { a, b, c, d, e };
	char **v = kc_xzalloc(6 * sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; i < 5; i++)
		if (in[i])
			v[n++] = kc_xstrdup(in[i]);
	return v;
}

/* How far the walk for a subPath's directory goes in its emptyDir. */
#define SUBPATH_MAX_DEPTH 8
#define SUBPATH_MAX_ENTRIES 4096

/* The relative path under dir_fd (named rel so far) of the directory
 * whose identity is `want`: directories only, on dev's filesystem, no
 * symlink followed; *budget bounds the entries looked at. */
static char *find_dir(int dir_fd, const char *rel, const struct stat *want, dev_t dev,
		      unsigned depth, size_t *budget)
{
	DIR *d;
	struct dirent *e;
	char *found = NULL;
	int fd;

	if (depth >= SUBPATH_MAX_DEPTH)
		return NULL;
	fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return NULL;
	}
	while (!found && (e = readdir(d))) {
		cleanup_free char *sub = NULL;
		struct stat st;
		int cfd;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (*budget == 0)
			break;
		(*budget)--;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_dev != dev)
			continue;
		sub = rel[0] ? kc_xasprintf("%s/%s", rel, e->d_name) : kc_xstrdup(e->d_name);
		if (st.st_ino == want->st_ino) {
			found = kc_steal_ptr(&sub);
			break;
		}
		cfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue;
		found = find_dir(cfd, sub, want, dev, depth + 1, budget);
		close(cfd);
	}
	closedir(d);
	return found;
}

static bool dns_label(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/*
 * A container's subPath of an emptyDir: kubelet binds the sub directory
 * at POD/volume-subpaths/VOLUME/CONTAINER/N and gives that as the source.
 * The emptyDir's path POD/volumes/kubernetes.io~empty-dir/VOLUME in *vol
 * (its stat in *vst) and the sub directory's path inside it in *sub (""
 * for the volume itself); false when src is no such subPath, when the
 * guest does not hold the volume (a disk one without guest_disk), or when
 * the sub directory is not found in it (logged).
 */
static bool empty_dir_subpath(const char *src, const struct stat *st, bool guest_disk, char **vol,
			      char **sub, struct stat *vst)
{
	static const char marker[] = "/volume-subpaths/";
	const char *m = NULL, *v, *c, *n, *p;
	cleanup_free char *path = NULL;
	cleanup_close int fd = -1;
	size_t budget = SUBPATH_MAX_ENTRIES;
	struct statfs sfs;
	char *found;

	for (p = src; (p = strstr(p, marker)); p++)
		m = p;
	if (!m || m == src)
		return false;
	v = m + strlen(marker);
	c = strchr(v, '/');
	if (!c || !dns_label(v, (size_t)(c - v)))
		return false;
	n = strchr(++c, '/');
	if (!n || !dns_label(c, (size_t)(n - c)) || !*++n || strspn(n, "0123456789") != strlen(n))
		return false;
	path = kc_xasprintf("%.*s/volumes/kubernetes.io~empty-dir/%.*s", (int)(m - src), src,
			    (int)(c - 1 - v), v);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, vst) < 0 || fstatfs(fd, &sfs) < 0)
		return false;
	/* A volume the guest does not hold: no walk, shared as it is. */
	if (sfs.f_type != TMPFS_MAGIC && !guest_disk)
		return false;
	if (vst->st_dev == st->st_dev && vst->st_ino == st->st_ino) {
		found = kc_xstrdup("");
	} else {
		found = vst->st_dev == st->st_dev ? find_dir(fd, "", st, vst->st_dev, 0, &budget)
						  : NULL;
		if (!found) {
			kc_warn("subPath `%s` of emptyDir `%s`: not found in the volume (within %d "
				"levels, %d entries); shared from the host",
				src, path, SUBPATH_MAX_DEPTH, SUBPATH_MAX_ENTRIES);
			return false;
		}
	}
	*vol = kc_steal_ptr(&path);
	*sub = found;
	return true;
}

/*
 * The volumes the guest holds itself (container.h, kc_volume_share):
 * *done when mnt now names a storage of `out`.
 */
static int guest_volume(const struct kc_container_env *env, const char *dest, const char *src,
			const struct stat *st, json_t *mnt, struct kc_guest_storages *out,
			bool *done, kc_error_t *err)
{
	const char *name = empty_dir_name(src);
	bool shm = strcmp(dest, "/dev/shm") == 0;
	cleanup_free char *guest = NULL, *size = NULL, *mode = NULL, *vol = NULL, *sub = NULL;
	struct statfs sfs;
	struct stat vst;

	*done = false;
	if (!out || env->host_agent || !S_ISDIR(st->st_mode))
		return 0;
	/* A subPath of an emptyDir: the guest's copy of the volume, at the
	 * same sub directory (the agent makes it there). */
	if (!name && !shm && empty_dir_subpath(src, st, env->guest_empty_dir, &vol, &sub, &vst)) {
		src = vol;
		st = &vst;
		name = empty_dir_name(src);
	}
	if (!name && !shm)
		return 0;
	if (statfs(src, &sfs) < 0)
		return kc_error_set(err, errno, "mount `%s`: statfs `%s`", dest, src);
	mode = kc_xasprintf("mode=%04o", (unsigned)(st->st_mode & 07777));
	if (sfs.f_type == TMPFS_MAGIC) {
		unsigned long long bytes = (unsigned long long)sfs.f_blocks * sfs.f_bsize;
		unsigned long long host = 0;
		struct sysinfo si;

		if (sysinfo(&si) == 0)
			host = (unsigned long long)si.totalram * si.mem_unit;
		/* A tmpfs of size 0 has no limit: the guest's default, half
		 * its memory, applies. */
		if (host && bytes > host)
			return kc_error_set(err, EINVAL,
					    "mount `%s`: %s `%s` asks for %llu bytes (its sizeLimit), "
					    "more than this host's memory (%llu bytes)",
					    dest, name ? "emptyDir" : "/dev/shm", name ? name : src,
					    bytes, host);
		if (bytes)
			size = kc_xasprintf("size=%llu", bytes);
		if (name) {
			guest = kc_xasprintf(KC_GUEST_SANDBOX_DIR "/ephemeral/%s", name);
			add_storage(out, "ephemeral", "tmpfs", "tmpfs", guest,
				    strv(mode, size, NULL, NULL, NULL), st);
		} else {
			guest = kc_xstrdup(KC_GUEST_SANDBOX_DIR "/shm");
			add_storage(out, "ephemeral", "shm", "tmpfs", guest,
				    strv("nosuid", "nodev", "noexec", mode, size), st);
		}
	} else if (name) {
		if (env->emptydir_mode && strcmp(env->emptydir_mode, "shared-fs") != 0)
			return kc_error_set(err, ENOTSUP,
					    "mount `%s`: emptyDir `%s`: emptydir_mode `%s` is not "
					    "supported (kata-c has shared-fs only)",
					    dest, name, env->emptydir_mode);
		if (!env->guest_empty_dir)
			return 0;
		guest = kc_xasprintf(KC_GUEST_SANDBOX_DIR "/local/%s", name);
		add_storage(out, "local", "local", "", guest, strv(mode, NULL, NULL, NULL, NULL),
			    st);
	} else {
		return 0; /* a /dev/shm that is no tmpfs: shared as it is */
	}
	if (sub && sub[0]) {
		char *g = kc_xasprintf("%s/%s", guest, sub);

		free(guest);
		guest = g;
	}
	json_object_set_new(mnt, "source", json_string(guest));
	json_object_set_new(mnt, "type", json_string("bind"));
	*done = true;
	return 0;
}

int kc_volume_share(const struct kc_container_env *env, const char *cid, size_t index, json_t *mnt,
		    bool *drop, struct kc_guest_storages *storages, kc_error_t *err)
{
	json_t *jdest = json_object_get(mnt, "destination");
	json_t *jtype = json_object_get(mnt, "type");
	json_t *jsrc = json_object_get(mnt, "source");
	json_t *opts = json_object_get(mnt, "options");
	const char *dest, *type, *src, *wname, *kind = NULL;
	cleanup_free char *base = NULL, *host = NULL, *guest = NULL;
	bool bind, ro, done;
	struct stat st;
	int ret;

	*drop = false;
	if (!json_is_string(jdest) || json_string_value(jdest)[0] != '/')
		return kc_error_set(err, EINVAL, "mount %zu: destination must be an absolute path",
				    index);
	dest = json_string_value(jdest);
	if (has_dotdot(dest))
		return kc_error_set(err, EINVAL, "mount `%s`: destination escapes the rootfs", dest);
	if (opts && !json_is_array(opts))
		return kc_error_set(err, EINVAL, "mount `%s`: options is not an array", dest);
	type = json_is_string(jtype) ? json_string_value(jtype) : "";
	bind = strcmp(type, "bind") == 0 || has_option(opts, "bind") || has_option(opts, "rbind");
	if (!bind) {
		for (size_t i = 0; guest_types[i]; i++)
			if (strcmp(type, guest_types[i]) == 0)
				return 0;
		return kc_error_set(err, EINVAL, "mount `%s`: type `%s` is not supported", dest,
				    type[0] ? type : "(none)");
	}
	if (!json_is_string(jsrc) || json_string_value(jsrc)[0] != '/')
		return kc_error_set(err, EINVAL, "mount `%s`: bind source must be an absolute path",
				    dest);
	src = json_string_value(jsrc);
	if (is_under(src, "/proc") || is_under(src, "/sys") || is_under(src, "/dev")) {
		*drop = true;
		return 0;
	}
	if (stat(src, &st) < 0)
		return kc_error_set(err, errno, "mount `%s`: source `%s`", dest, src);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return kc_error_set(err, EINVAL,
				    "mount `%s`: source `%s` is neither a file nor a directory",
				    dest, src);
	ret = guest_volume(env, dest, src, &st, mnt, storages, &done, err);
	if (ret < 0 || done)
		return ret;
	ro = has_option(opts, "ro");
	base = safe_base(dest);
	host = kc_xasprintf("%s/%s-%zu-%s", env->mounts_dir, cid, index, base);
	guest = kc_xasprintf("%s/%s-%zu-%s", env->guest_share, cid, index, base);
	if (S_ISDIR(st.st_mode)) {
		ret = kc_mkdir_p(host, err);
		if (ret < 0)
			return ret;
	} else {
		int fd = open(host, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			return kc_error_set(err, errno, "create `%s`", host);
		close(fd);
	}
	if (mount(src, host, NULL, MS_BIND | MS_REC, NULL) < 0)
		return kc_error_set(err, errno, "mount `%s`: bind `%s` into the share", dest, src);
	if (ro && mount(NULL, host, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return kc_error_set(err, errno, "mount `%s`: remount `%s` read-only", dest, host);
	if (storages && !env->host_agent && S_ISDIR(st.st_mode) &&
	    (wname = watchable_name(src, &kind)) && watchable_fits(src, dest, kind, wname)) {
		/* The guest's copy, bound where the container wants it
		 * (read-only as the spec says: the options stay). */
		cleanup_free char *mp = kc_xasprintf(KC_GUEST_WATCHABLE_DIR "/%s-%zu", cid, index);

		add_storage(storages, "watchable-bind", guest, "", mp,
			    strv(NULL, NULL, NULL, NULL, NULL), &st);
		/* The agent gives its tmpfs the share root's owner. */
		storages->v[storages->n - 1].fs_group_set = false;
		storages->v[storages->n - 1].fs_group = 0;
		storages->v[storages->n - 1].watch_dir = kc_xstrdup(src);
		json_object_set_new(mnt, "source", json_string(mp));
		json_object_set_new(mnt, "type", json_string("bind"));
		return 0;
	}
	json_object_set_new(mnt, "source", json_string(guest));
	json_object_set_new(mnt, "type", json_string("bind"));
	return 0;
}
