/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's rootfs: containerd's mounts on bundle/rootfs, then a bind
 * of that into the sandbox share, which virtio-fs carries to the guest.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mount.h"

int kc_check_id(const char *what, const char *id, kc_error_t *err)
{
	size_t n = strlen(id);

	if (n == 0)
		return kc_error_set(err, EINVAL, "%s is empty", what);
	if (n > 76)
		return kc_error_set(err, EINVAL, "%s `%.20s...` is longer than 76 bytes", what, id);
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return kc_error_set(err, EINVAL,
					    "%s `%s`: only [A-Za-z0-9_.-] allowed, starting with a "
					    "letter or digit",
					    what, id);
	}
	return 0;
}

static bool dir_populated(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool any = false;

	if (!d)
		return false;
	while (!any && (e = readdir(d)))
		any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return any;
}

static int mount_one(const struct kc_rootfs_mount *m, const char *target, kc_error_t *err)
{
	cleanup_free char *data = NULL;
	unsigned long flags;
	int ret;

	ret = kc_mount_options(m->options, m->n_options, &flags, &data, err);
	if (ret < 0)
		return kc_error_wrap(err, "rootfs mount of type `%s`", m->type);
	if (strcmp(m->type, "bind") == 0 || (flags & MS_BIND)) {
		if (!m->source || m->source[0] != '/')
			return kc_error_set(err, EINVAL,
					    "rootfs bind mount: source `%s` is not absolute",
					    m->source ? m->source : "");
		if (mount(m->source, target, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
			return kc_error_set(err, errno, "bind mount `%s` on `%s`", m->source,
					    target);
		if ((flags & MS_RDONLY) &&
		    mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
			ret = kc_error_set(err, errno, "remount `%s` read-only", target);
			umount2(target, MNT_DETACH);
			return ret;
		}
		return 0;
	}
	if (strcmp(m->type, "overlay") != 0)
		return kc_error_set(err, EINVAL,
				    "rootfs mount type `%s` is not supported (overlay or bind)",
				    m->type);
	if (mount("overlay", target, "overlay", flags & ~(MS_BIND | MS_REC), data) < 0)
		return kc_error_set(err, errno, "mount overlay on `%s`", target);
	return 0;
}

int kc_rootfs_setup(const struct kc_container_env *env, const char *cid, const char *bundle,
		    const char *spec_root, const struct kc_rootfs_mount *m, size_t n,
		    kc_error_t *err)
{
	cleanup_free char *src = kc_xasprintf("%s/rootfs", bundle);
	cleanup_free char *own = NULL;
	cleanup_free char *dst = kc_xasprintf("%s/%s/rootfs", env->mounts_dir, cid);
	bool mounted = false;
	int ret;

	if (n > 1)
		return kc_error_set(err, EINVAL, "rootfs: %zu mounts given, only one is supported",
				    n);
	if (mkdir(src, 0711) < 0 && errno != EEXIST)
		return kc_error_set(err, errno, "mkdir `%s`", src);
	if (n == 1) {
		ret = mount_one(&m[0], src, err);
		if (ret < 0)
			return ret;
		mounted = true;
	} else if (spec_root && spec_root[0] == '/' && strcmp(spec_root, src) != 0) {
		/* A rootfs the user made (ctr run --config ... with root.path). */
		if (!dir_populated(spec_root))
			return kc_error_set(err, ENOENT,
					    "rootfs: root.path `%s` is not a populated "
					    "directory",
					    spec_root);
		own = kc_xstrdup(spec_root);
		free(src);
		src = kc_steal_ptr(&own);
	} else if (!dir_populated(src)) {
		return kc_error_set(err, ENOENT, "rootfs: no rootfs mount given and `%s` is empty",
				    src);
	}
	ret = kc_mkdir_p(dst, err);
	if (ret >= 0 && mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		ret = kc_error_set(err, errno, "bind mount `%s` on `%s`", src, dst);
	if (ret < 0 && mounted)
		umount2(src, MNT_DETACH);
	return ret < 0 ? ret : 0;
}

int kc_container_cleanup(const struct kc_container_env *env, const char *cid, const char *bundle,
			 kc_error_t *err)
{
	cleanup_free char *dir = kc_xasprintf("%s/%s", env->mounts_dir, cid);
	cleanup_free char *prefix = kc_xasprintf("%s-", cid);
	DIR *d;
	struct dirent *e;
	int ret = 0;

	if (kc_umount_below(dir, err) < 0 || kc_rm_tree(dir, err) < 0)
		return kc_error_ret(err);
	/* Volumes: mounts/<cid>-<n>-<name>. */
	d = opendir(env->mounts_dir);
	while (d && (e = readdir(d))) {
		cleanup_free char *p = NULL;

		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		p = kc_xasprintf("%s/%s", env->mounts_dir, e->d_name);
		if (kc_umount_below(p, err) < 0 || kc_rm_tree(p, err) < 0) {
			ret = kc_error_ret(err);
			break;
		}
	}
	if (d)
		closedir(d);
	if (ret < 0)
		return ret;
	if (bundle) {
		cleanup_free char *rootfs = kc_xasprintf("%s/rootfs", bundle);

		if (kc_umount_below(rootfs, err) < 0)
			return kc_error_ret(err);
	}
	return 0;
}
