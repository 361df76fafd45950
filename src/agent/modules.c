// SPDX-License-Identifier: Apache-2.0
/* Loading the image's kernel modules with finit_module(2). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"
#include "lib/log.h"
#include "lib/util.h"
#include "modules.h"

/* load-order is written by our own builder: a few dozen short lines. */
#define LOAD_ORDER_MAX (64 * 1024)

bool kc_agent_module_name_valid(const char *name)
{
	size_t n = 0;

	for (const char *p = name; *p; p++, n++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	}
	return n > 0 && n < 64;
}

static int open_module(int dirfd, const char *name)
{
	char file[80], alt[80];
	int fd;

	snprintf(file, sizeof(file), "%s.ko", name);
	fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	memcpy(alt, file, sizeof(alt));
	for (char *p = alt; *p; p++) {
		if (*p == '-')
			*p = '_';
		else if (*p == '_')
			*p = '-';
	}
	return openat(dirfd, alt, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

static int load_at(int dirfd, const char *dir, const char *name, const char *params,
		   kc_error_t *err)
{
	cleanup_close int fd = -1;
	uint64_t t0 = kc_monotonic_ns();

	if (!kc_agent_module_name_valid(name))
		return kc_error_set(err, EINVAL, "module `%s`: not a valid module name", name);
	fd = open_module(dirfd, name);
	if (fd < 0)
		return kc_error_set(err, errno, "module `%s`: open `%s/%s.ko`", name, dir, name);
	if (syscall(SYS_finit_module, fd, params ? params : "", 0) < 0) {
		if (errno == EEXIST) {
			kc_debug("module %s was already loaded", name);
			return 0;
		}
		return kc_error_set(err, errno, "module `%s`: finit_module", name);
	}
	kc_debug("module %s loaded in %llu us%s%s", name,
		 (unsigned long long)((kc_monotonic_ns() - t0) / 1000), params && *params ? " with " : "",
		 params ? params : "");
	return 0;
}

int kc_agent_module_load(const char *dir, const char *name, const char *params,
			 kc_error_t *err)
{
	cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0)
		return kc_error_set(err, errno, "module `%s`: open `%s`", name, dir);
	return load_at(dirfd, dir, name, params, err);
}

static int load_logged(int dirfd, const char *dir, const char *name, const char *cmdline)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *params = cmdline ? kc_agent_cmdline_module_params(cmdline, name) : NULL;

	if (load_at(dirfd, dir, name, params, &err) < 0) {
		kc_error("%s", err->msg);
		return 1;
	}
	return 0;
}

int kc_agent_modules_load_all(const char *dir, char *const *extra, const char *cmdline,
			      kc_error_t *err)
{
	cleanup_free char *path = kc_xasprintf("%s/load-order", dir);
	cleanup_free char *buf = NULL;
	cleanup_close int dirfd = -1;
	uint64_t t0 = kc_monotonic_ns();
	unsigned count = 0;
	int failed = 0, ret;
	size_t len;
	char *line, *save = NULL;

	ret = kc_read_file(path, LOAD_ORDER_MAX, &buf, &len, err);
	if (ret < 0)
		return ret;
	if (strlen(buf) != len)
		return kc_error_set(err, EINVAL, "`%s`: holds a NUL byte", path);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return kc_error_set(err, errno, "open `%s`", dir);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);

		if (n == 0)
			continue;
		/* Lines are file names: "virtio_ring.ko". */
		if (n > 3 && strcmp(line + n - 3, ".ko") == 0)
			line[n - 3] = '\0';
		failed += load_logged(dirfd, dir, line, cmdline);
		count++;
	}
	for (size_t i = 0; extra && extra[i]; i++) {
		failed += load_logged(dirfd, dir, extra[i], cmdline);
		count++;
	}
	kc_info("loaded %u kernel modules in %llu ms (%d failed)", count - (unsigned)failed,
		(unsigned long long)((kc_monotonic_ns() - t0) / 1000000), failed);
	return failed;
}
