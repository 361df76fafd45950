/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_MOUNT_H
#define KC_RUNTIME_MOUNT_H

/*
 * Host-side mount helpers of the runtime: option strings as containerd and
 * OCI specs write them, directories, and the teardown that must leave no
 * mount, file or process behind under a sandbox's directories.
 */

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

/* mount(2) flags and the data string of an option list ("ro", "rbind",
 * "lowerdir=..."): flag words become flags, the rest is joined with ','.
 * *data is NULL when no option is data.  An option longer than a page or
 * holding a ',' is refused, naming it. */
int kc_mount_options(char *const *opts, size_t n, unsigned long *flags, char **data,
		     kc_error_t *err);

/* mkdir -p with mode 0711 for created components. */
int kc_mkdir_p(const char *path, kc_error_t *err);

/* Lazily unmounts every mount at or below `dir` (read from
 * /proc/self/mountinfo), deepest first.  Returns how many were unmounted. */
int kc_umount_below(const char *dir, kc_error_t *err);

/* Removes dir and what is in it without crossing mount points (a mount
 * left below is an error naming it, never a deletion inside it).
 * A missing dir is success. */
int kc_rm_tree(const char *dir, kc_error_t *err);

/* SIGKILLs every process whose command line contains `marker` or whose
 * root directory lies below it, and waits (a bounded time) until they are
 * gone.  For cleanup after a dead shim.  Returns how many were killed. */
int kc_kill_procs_matching(const char *marker, kc_error_t *err);

#endif
