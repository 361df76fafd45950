/* SPDX-License-Identifier: Apache-2.0 */
/* Small per-boot cache files: see boot_cache.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot_cache.h"
#include "lib/log.h"
#include "lib/util.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define BODY_MAX (64 * 1024)

static bool read_boot_id(char *out, size_t size)
{
	cleanup_free char *buf = NULL;
	size_t len;

	if (kc_read_file(BOOT_ID_PATH, 128, &buf, &len, NULL) < 0)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	if (!*buf || strlen(buf) >= size)
		return false;
	strcpy(out, buf);
	return true;
}

char *kc_boot_cache_read(const char *path)
{
	cleanup_free char *buf = NULL;
	char id[64], *nl;
	size_t len, n;

	if (!read_boot_id(id, sizeof(id)) || kc_read_file(path, BODY_MAX, &buf, &len, NULL) < 0)
		return NULL;
	n = strlen(id);
	if (strlen(buf) != len || strncmp(buf, "boot_id ", 8) != 0 ||
	    strncmp(buf + 8, id, n) != 0 || buf[8 + n] != '\n')
		return NULL;
	nl = buf + 8 + n + 1;
	return kc_xstrdup(nl);
}

void kc_boot_cache_write(const char *path, const char *body)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *text = NULL;
	cleanup_free char *dir = kc_xstrdup(path);
	char *slash = strrchr(dir, '/');
	char id[64];

	if (!read_boot_id(id, sizeof(id))) {
		kc_debug("not caching `%s`: no boot_id", path);
		return;
	}
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			kc_debug("mkdir `%s`: %s", dir, strerror(errno));
	}
	text = kc_xasprintf("boot_id %s\n%s", id, body);
	if (kc_write_file_atomic(path, text, strlen(text), 0644, &err) < 0)
		kc_debug("not caching `%s`: %s", path, err->msg);
}
