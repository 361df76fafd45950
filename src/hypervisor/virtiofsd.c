/* SPDX-License-Identifier: Apache-2.0 */
/* virtiofsd: start it for a shared directory and wait for its socket. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "virtiofsd.h"
#include "lib/util.h"

char **kc_virtiofsd_argv(const struct kc_config *cfg, const char *socket, const char *dir)
{
	const struct kc_strv *extra = &cfg->hypervisor.virtio_fs_extra_args;
	const char *cache = cfg->hypervisor.virtio_fs_cache;
	char **v = kc_xzalloc((8 + extra->n) * sizeof(char *));
	size_t n = 0;

	v[n++] = kc_xstrdup(cfg->hypervisor.virtio_fs_daemon);
	v[n++] = kc_xasprintf("--socket-path=%s", socket);
	v[n++] = kc_xstrdup("-o");
	v[n++] = kc_xasprintf("source=%s", dir);
	v[n++] = kc_xstrdup("-o");
	v[n++] = kc_xasprintf("cache=%s", cache && *cache ? cache : "auto");
	for (size_t i = 0; i < extra->n; i++)
		v[n++] = kc_xstrdup(extra->v[i]);
	v[n] = NULL;
	return v;
}

char *kc_log_tail(const char *path, size_t max)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf, *p;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0)
		return kc_xstrdup("");
	if ((size_t)st.st_size > max && lseek(fd, st.st_size - (off_t)max, SEEK_SET) < 0)
		return kc_xstrdup("");
	buf = kc_xmalloc(max + 1);
	n = read(fd, buf, max);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	/* Start at a line; drop the final newline and NUL bytes. */
	p = buf;
	if ((size_t)st.st_size > max && strchr(buf, '\n'))
		p = strchr(buf, '\n') + 1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	memmove(buf, p, strlen(p) + 1);
	return buf;
}

int kc_virtiofsd_start(const struct kc_config *cfg, const char *socket, const char *dir,
		       const char *log, uint64_t deadline, struct kc_child *c, kc_error_t *err)
{
	cleanup_strv char **argv = kc_virtiofsd_argv(cfg, socket, dir);
	int ret;

	ret = kc_child_spawn(argv, log, c, err);
	if (ret < 0)
		return kc_error_wrap(err, "virtiofsd");
	for (;;) {
		struct timespec ts = { 0, 2000000 };
		struct stat st;

		/* It listens right after bind(), long before QEMU could connect. */
		if (stat(socket, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (kc_child_exited(c)) {
			cleanup_free char *tail = kc_log_tail(log, 1024);
			char how[64];

			ret = kc_error_set_status(err, ECHILD,
						  "virtiofsd for `%s` %s before its socket "
						  "appeared: %s",
						  dir, kc_child_describe(c, how, sizeof(how)),
						  *tail ? tail : "(no output)");
			kc_child_stop(c, false, 0);
			return ret;
		}
		if (kc_monotonic_ns() >= deadline) {
			kc_child_stop(c, true, 1000000000ull);
			return kc_error_set(err, ETIMEDOUT,
					    "virtiofsd for `%s`: socket `%s` did not "
					    "appear in time",
					    dir, socket);
		}
		nanosleep(&ts, NULL);
	}
}
