/* SPDX-License-Identifier: Apache-2.0 */
/* accel = "auto": the KVM probe's verdict, cached for the host's boot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel_cache.h"
#include "boot_cache.h"
#include "kvm_probe.h"
#include "lib/util.h"

/* The body: "accel kvm|tcg\nreason TEXT\n". */
static bool read_cache(const char *path, const char **accel, char *reason, size_t size)
{
	cleanup_free char *buf = kc_boot_cache_read(path);
	char *line, *save = NULL;

	*accel = NULL;
	reason[0] = '\0';
	if (!buf)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "accel kvm") == 0)
			*accel = "kvm";
		else if (strcmp(line, "accel tcg") == 0)
			*accel = "tcg";
		else if (strncmp(line, "reason ", 7) == 0)
			snprintf(reason, size, "%s", line + 7);
	}
	return *accel;
}

const char *kc_accel_auto(const char *cache_path, char *reason, size_t size, bool *from_cache)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *body = NULL;
	struct kc_kvm_probe p;
	const char *accel;

	if (from_cache)
		*from_cache = false;
	if (cache_path && read_cache(cache_path, &accel, reason, size)) {
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
	if (cache_path) {
		body = kc_xasprintf("accel %s\nreason %s\n", accel, reason);
		kc_boot_cache_write(cache_path, body);
	}
	return accel;
}
