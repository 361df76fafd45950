/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_PATH_H
#define KC_PATH_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/*
 * Lexically cleans `path`: collapses repeated '/', drops "." components,
 * resolves ".." against earlier components.  An absolute path stays
 * absolute ("/.." is "/"); a relative path that climbs above its start
 * keeps its leading ".." components.  The empty path is ".".
 */
char *kc_path_clean(const char *path);

/*
 * Joins `path` under `root` (an absolute directory) and refuses a result
 * that would leave `root`: "a/../../etc" is an error naming both paths.
 * `path` may be absolute: it is still taken relative to `root`, as a
 * container's paths are relative to its rootfs.  This is lexical only;
 * code that opens the result inside a tree the other side controls must
 * use kc_open_in_root(), which also refuses symlinks that escape.
 */
int kc_path_join_in_root(const char *root, const char *path, char **out, kc_error_t *err);

/*
 * Opens `path` relative to the directory `root_fd` as if root_fd were "/":
 * "..", absolute symlinks and magic links cannot leave it (openat2 with
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).  Returns the fd.
 */
int kc_open_in_root(int root_fd, const char *path, int flags, mode_t mode, kc_error_t *err);

/* Whether name is a version directory of kubelet's atomic writer
 * (ConfigMap, Secret, projected and downward-API volumes):
 * `..YYYY_MM_DD_HH_MM_SS.N`, N 1 to 20 digits.  The host and the agent
 * check the same form. */
bool kc_kubelet_version_name_valid(const char *name);

#endif
