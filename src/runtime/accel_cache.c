// SPDX-License-Identifier: Apache-2.0
/* accel = "auto": the KVM probe's verdict, cached for the host's boot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "accel_cache.h"
#include "kvm_probe.h"
#include "lib/log.h"
#include "lib/util.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

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

/* "boot_id X\naccel kvm|tcg\nreason TEXT\n" for this boot, or false. */
static bool read_cache(const char *path, const char *boot_id, const char **accel, char *reason,
		       size_t size)
{
	cleanup_free char *buf = NULL;
	char *line, *save = NULL;
	bool id_ok = false;
	size_t len;

	*accel = NULL;
	reason[0] = '\0';
	if (kc_read_file(path, 4096, &buf, &len, NULL) < 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "boot_id ", 8) == 0)
			id_ok = strcmp(line + 8, boot_id) == 0;
		else if (strcmp(line, "accel kvm") == 0)
			*accel = "kvm";
		else if (strcmp(line, "accel tcg") == 0)
			*accel = "tcg";
		else if (strncmp(line, "reason ", 7) == 0)
			snprintf(reason, size, "%s", line + 7);
	}
	return id_ok && *accel;
}

static void write_cache(const char *path, const char *boot_id, const char *accel,
			const char *reason)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *text = kc_xasprintf("boot_id %s\naccel %s\nreason %s\n", boot_id, accel,
					       reason);
	cleanup_free char *dir = kc_xstrdup(path);
	char *slash = strrchr(dir, '/');

	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	if (kc_write_file_atomic(path, text, strlen(text), 0644, &err) < 0)
		kc_debug("not caching the accelerator verdict: %s", err->msg);
}

const char *kc_accel_auto(const char *cache_path, char *reason, size_t size, bool *from_cache)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_kvm_probe p;
	char boot_id[64];
	const char *accel;
	bool have_id = read_boot_id(boot_id, sizeof(boot_id));

	if (from_cache)
		*from_cache = false;
	if (have_id && cache_path && read_cache(cache_path, boot_id, &accel, reason, size)) {
		if (from_cache)
			*from_cache = true;
		return accel;
	}
	if (kc_kvm_probe("/dev/kvm", &p, &err) < 0) {
		snprintf(reason, size, "%s", err->msg);
		return kc_accel_resolve("auto", NULL);
	}
	accel = kc_accel_resolve("auto", &p);
	snprintf(reason, size, "%s", strcmp(accel, "kvm") == 0 ? "" : p.reason);
	/* Newlines would break the file's format. */
	for (char *c = reason; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (have_id && cache_path)
		write_cache(cache_path, boot_id, accel, reason);
	return accel;
}
