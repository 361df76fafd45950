// SPDX-License-Identifier: Apache-2.0
/*
 * Volumes: the spec's bind mounts, shared with the guest the way Kata does
 * (a bind into the sandbox share, then a bind inside the guest from the
 * share to the destination).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "lib/util.h"
#include "mount.h"

/* Types the guest kernel mounts itself. */
static const char *const guest_types[] = { "proc", "sysfs", "tmpfs", "devpts", "mqueue",
					   "cgroup", "cgroup2", "shm", NULL };

static bool has_option(json_t *opts, const char *name)
{
	size_t i;
	json_t *o;

	json_array_foreach (opts, i, o)
		if (json_is_string(o) && strcmp(json_string_value(o), name) == 0)
			return true;
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

int kc_volume_share(const struct kc_container_env *env, const char *cid, size_t index,
		    json_t *mnt, bool *drop, kc_error_t *err)
{
	json_t *jdest = json_object_get(mnt, "destination");
	json_t *jtype = json_object_get(mnt, "type");
	json_t *jsrc = json_object_get(mnt, "source");
	json_t *opts = json_object_get(mnt, "options");
	const char *dest, *type, *src;
	cleanup_free char *base = NULL, *host = NULL, *guest = NULL;
	bool bind, ro;
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
				    "mount `%s`: source `%s` is neither a file nor a directory", dest,
				    src);
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
	json_object_set_new(mnt, "source", json_string(guest));
	json_object_set_new(mnt, "type", json_string("bind"));
	return 0;
}
