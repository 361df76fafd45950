/* SPDX-License-Identifier: Apache-2.0 */
/* Finding the guest's block device for a storage (blockdev.h). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "blockdev.h"
#include "lib/util.h"

/* How long a block device may take to show up after it was plugged. */
#define BLOCK_WAIT_NS (5 * 1000000000ull)

static bool device_name_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == ':' || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0 && n < 64 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* The /dev node of the block device whose sysfs path has a component
 * equal to name, or NULL. */
static char *block_by_sysfs(const char *name)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	char *found = NULL;

	if (!d)
		return NULL;
	while (!found && (e = readdir(d))) {
		cleanup_free char *link = NULL, *real = NULL;
		size_t nlen = strlen(name);

		if (e->d_name[0] == '.')
			continue;
		link = kc_xasprintf("/sys/block/%s/device", e->d_name);
		real = realpath(link, NULL);
		if (!real)
			continue;
		for (char *p = strstr(real, name); p; p = strstr(p + 1, name)) {
			if (p[-1] == '/' && (p[nlen] == '/' || p[nlen] == '\0')) {
				found = kc_xasprintf("/dev/%s", e->d_name);
				break;
			}
		}
	}
	closedir(d);
	return found;
}

int kc_agent_find_block(const char *source, char **dev, kc_error_t *err)
{
	uint64_t t0 = kc_monotonic_ns();
	bool by_path = strncmp(source, "/dev/", 5) == 0;

	if (by_path ? !device_name_valid(source + 5) : !device_name_valid(source))
		return kc_error_set(err, EINVAL,
				    "block device `%s`: neither /dev/NAME nor a sysfs "
				    "device name",
				    source);
	for (;;) {
		const struct timespec pause = { 0, 5 * 1000 * 1000 };
		struct stat st;

		if (by_path) {
			if (stat(source, &st) == 0) {
				if (!S_ISBLK(st.st_mode))
					return kc_error_set(err, ENOTBLK, "`%s`", source);
				*dev = kc_xstrdup(source);
				return 0;
			}
		} else if ((*dev = block_by_sysfs(source))) {
			return 0;
		}
		if (kc_monotonic_ns() - t0 >= BLOCK_WAIT_NS)
			break;
		nanosleep(&pause, NULL);
	}
	return kc_error_set(err, ENODEV, "block device `%s`: not found after %llu s", source,
			    BLOCK_WAIT_NS / 1000000000ull);
}
