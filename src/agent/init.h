/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_INIT_H
#define KC_AGENT_INIT_H

/*
 * What the agent does only as PID 1 of the guest (not with --no-init):
 * mount the basic filesystems, read its settings from the kernel command
 * line, power the VM off at the end.
 */

#include <stdbool.h>

#include "lib/error.h"
#include "lib/log.h"

struct kc_agent_cmdline {
	bool log_level_set;
	enum kc_log_level log_level; /* agent.log=debug */
	bool debug_console;          /* agent.debug_console */
	char *listen;                /* agent.listen=URI, NULL if absent */
};

/*
 * Parses a kernel command line ("console=hvc0 agent.log=debug ..."):
 * words are separated by blanks, double quotes group blanks into a word
 * ("agent.listen=\"unix:///a b\"").  Keys that are not the agent's are
 * ignored; a bad value of an agent key is an error naming it.
 */
int kc_agent_cmdline_parse(const char *cmdline, struct kc_agent_cmdline *out, kc_error_t *err);
void kc_agent_cmdline_free(struct kc_agent_cmdline *c);

/* Mounts /proc, /sys, /dev, /dev/pts, /dev/shm, /run and the cgroup2
 * hierarchy; a filesystem already mounted there is left alone. */
int kc_agent_init_mounts(kc_error_t *err);

/* Syncs and powers the VM off; returns only if that failed. */
void kc_agent_init_poweroff(void);

#endif
