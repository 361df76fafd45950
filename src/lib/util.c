/* SPDX-License-Identifier: Apache-2.0 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void __attribute__((noreturn)) oom(void)
{
	static const char msg[] = "kata-c: out of memory\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *kc_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

void *kc_xzalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

void *kc_xrealloc(void *old, size_t size)
{
	void *p = realloc(old, size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

char *kc_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		oom();
	return p;
}

char *kc_xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (p == NULL)
		oom();
	return p;
}

char *kc_xvasprintf(const char *fmt, va_list ap)
{
	char *p;
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	return p;
}

char *kc_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = kc_xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void kc_freep(void *p)
{
	void **pp = (void **)p;
	free(*pp);
	*pp = NULL;
}

void kc_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -1;
}

void kc_fclosep(FILE **f)
{
	if (*f != NULL)
		fclose(*f);
	*f = NULL;
}

void kc_free_strv(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void kc_free_strvp(char ***v)
{
	kc_free_strv(*v);
	*v = NULL;
}

int kc_read_file(const char *path, size_t max_size, char **out, size_t *len, kc_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t used = 0, cap = 4096;

	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", path);
	buf = kc_xmalloc(cap);
	for (;;) {
		ssize_t n;

		if (used + 1 >= cap) {
			if (cap > max_size)
				return kc_error_set(err, 0, "read `%s`: larger than %zu bytes",
						    path, max_size);
			cap *= 2;
			buf = kc_xrealloc(buf, cap);
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kc_error_set(err, errno, "read `%s`", path);
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max_size)
		return kc_error_set(err, 0, "read `%s`: larger than %zu bytes", path, max_size);
	buf[used] = '\0';
	if (len)
		*len = used;
	*out = kc_steal_ptr(&buf);
	return 0;
}

int kc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 kc_error_t *err)
{
	cleanup_free char *tmp = kc_xasprintf("%s.tmp.%d", path, (int)getpid());
	cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *p = data;

	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", tmp);
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			unlink(tmp);
			return kc_error_set(err, saved, "write `%s`", tmp);
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		int saved = errno;
		unlink(tmp);
		return kc_error_set(err, saved, "fsync `%s`", tmp);
	}
	if (rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		return kc_error_set(err, saved, "rename `%s` to `%s`", tmp, path);
	}
	return 0;
}

uint64_t kc_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool kc_parse_u64(const char *s, unsigned long long *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}
