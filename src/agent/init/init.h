/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_INIT_H
#define KC_AGENT_INIT_H

/*
 * What the agent does only as PID 1 of the guest (not with --no-init):
 * mount the basic filesystems, enable the cgroup v2 controllers, give
 * itself a console, seed the entropy pool, read its settings from the
 * kernel command line, power the VM off at the end.  Module loading is in
 * modules.h, the choice of the channel to the host in channel.h.
 */

#include <stdbool.h>

#include "lib/error.h"
#include "lib/log.h"

struct kc_agent_cmdline {
	bool log_level_set;
	enum kc_log_level log_level; /* agent.log=debug */
	bool debug_console; /* agent.debug_console: serve console.h's port */
	char *listen; /* agent.listen=URI, NULL if absent */
	char **modules; /* modules_load=a,b (NULL if absent) */
};

/*
 * Parses a kernel command line ("console=hvc0 agent.log=debug ..."):
 * words are separated by blanks, double quotes group blanks into a word
 * ("agent.listen=\"unix:///a b\"").  Keys that are not the agent's are
 * ignored; a bad value of an agent key is an error naming it.
 * modules_load=NAME[,NAME...] (systemd's spelling) names modules to load
 * after the image's load-order; names are checked by
 * kc_agent_module_name_valid().
 */
int kc_agent_cmdline_parse(const char *cmdline, struct kc_agent_cmdline *out, kc_error_t *err);
void kc_agent_cmdline_free(struct kc_agent_cmdline *c);

/*
 * The parameters the command line gives module `name` as modprobe(8)
 * reads them: every word "name.key=value" (with '-' and '_' alike in the
 * name) becomes "key=value", joined by spaces.  Returns "" when there are
 * none; the caller frees the result.
 */
char *kc_agent_cmdline_module_params(const char *cmdline, const char *name);

/* Mounts /proc, /sys, /dev, /dev/pts, /dev/shm, /run and the cgroup2
 * hierarchy; a filesystem already mounted there is left alone.  All are
 * tried: the first failure is *err, later ones are logged. */
int kc_agent_init_mounts(kc_error_t *err);

/* Enables every controller listed in cgroup.controllers of the cgroup2
 * root in its cgroup.subtree_control, one by one so that one refusal does
 * not cost the others (each refusal is logged).  Returns how many are
 * enabled. */
int kc_agent_init_cgroups(const char *root, kc_error_t *err);

/* Makes sure fds 0, 1 and 2 are open: on /dev/console when the kernel did
 * not already give us one, else /dev/null.  Logs go to stderr. */
void kc_agent_init_console(void);

/* Mixes what is at hand into the kernel's pool with RNDADDENTROPY: bytes
 * from the CPU's RDRAND (credited) and clock readings (not credited). */
int kc_agent_init_entropy(kc_error_t *err);

/* Syncs and powers the VM off; returns only if that failed. */
void kc_agent_init_poweroff(void);

#endif
