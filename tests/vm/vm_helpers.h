/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TEST_VM_HELPERS_H
#define KC_TEST_VM_HELPERS_H

/*
 * Shared by the VM tests: a configuration pointing at the build tree's
 * guest image and the leftover checks (processes whose command line names
 * a run directory, the directory itself); calls and counts come from
 * tests/common/agent_harness.h.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent_harness.h"
#include "lib/config.h"
#include "lib/util.h"

#define SEC 1000000000ull

/* Replaces a configuration string. */
static inline void set_str(char **field, const char *value)
{
	free(*field);
	*field = value ? kc_xstrdup(value) : NULL;
}

static inline const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

/* The shipped configuration with the build tree's image (or $KC_VM_KERNEL
 * / $KC_VM_INITRD), TCG (the probe is exercised elsewhere) and 256 MiB. */
static inline int load_test_config(struct kc_config *cfg)
{
	const char *src = env_or("KC_SOURCE_ROOT", ".");
	const char *bld = env_or("KC_BUILD_ROOT", "build");
	cleanup_free char *path = kc_xasprintf("%s/config/configuration-qemu.toml", src);
	cleanup_free char *kernel = kc_xasprintf("%s/guest/vmlinux.container", bld);
	cleanup_free char *initrd = kc_xasprintf("%s/guest/kata-containers-initrd.img", bld);
	cleanup_error kc_error_t err = NULL;
	struct kc_config_warnings w = { 0 };

	memset(cfg, 0, sizeof(*cfg));
	if (kc_config_load_file(path, cfg, &w, &err) < 0) {
		fprintf(stderr, "# %s\n", err->msg);
		return -1;
	}
	kc_config_warnings_free(&w);
	set_str(&cfg->hypervisor.kernel, env_or("KC_VM_KERNEL", kernel));
	set_str(&cfg->hypervisor.initrd, env_or("KC_VM_INITRD", initrd));
	set_str(&cfg->hypervisor.accel, env_or("KC_VM_ACCEL", "tcg"));
	cfg->hypervisor.default_memory = 256;
	return 0;
}

/* Waits (bounded) for processes that exit on their own after their parent
 * (virtiofsd's sandbox child) and returns how many remain. */
static inline int leftover_procs(const char *needle)
{
	for (int i = 0; i < 100; i++) {
		struct timespec ts = { 0, 50000000 };

		if (ah_count_procs_mentioning(needle) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return ah_count_procs_mentioning(needle);
}

static inline bool path_exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

#endif
