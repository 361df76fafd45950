/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_BENEATH_H
#define KC_AGENT_BENEATH_H

/*
 * Paths the host names in the guest, resolved beneath one root (the
 * storage root): the lexical check first, then openat2() with
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so that neither ".." nor a
 * symlink can leave the root, and the caller acts on the fd it got.
 * `what` names the field in errors ("mount_point", "source").
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/error.h"

/* The part of `path` below root: path must be absolute, lie under root
 * lexically and hold no ".." component.  *rel points into path ("" for
 * the root itself). */
int kc_agent_rel_path(const char *root, const char *path, const char *what, const char **rel,
		      kc_error_t *err);

/* openat2(dirfd, rel, flags | O_CLOEXEC) beneath dirfd; -1 with errno
 * (EXDEV: it would leave dirfd). */
int kc_agent_open_beneath(int dirfd, const char *rel, int flags);

/* The error for a failed kc_agent_open_beneath(): a symlink escape is
 * EPERM naming the path and the root. */
int kc_agent_beneath_error(const char *what, const char *path, const char *root, kc_error_t *err);

/* An O_PATH fd of root, created (with its parents) if missing. */
int kc_agent_open_root(const char *root, kc_error_t *err);

/*
 * Opens (O_PATH) rel beneath root_fd, creating missing directories (0755;
 * the last one `mode`, or an empty file when as_file) one component at a
 * time, each in the directory that the previous component resolved to.
 * *made is how many of rel's last components were made here (0: none, 1:
 * the last one, ...), for kc_agent_unmake_beneath().  On failure nothing
 * made here is left.
 */
int kc_agent_make_beneath(int root_fd, const char *rel, bool as_file, mode_t mode, const char *what,
			  const char *path, const char *root, size_t *made, kc_error_t *err);

/* Removes the last `made` components of rel beneath root_fd, deepest
 * first: the last one whether file or empty directory, the others only
 * while empty; stops at the first that stays.  Never more than made. */
void kc_agent_unmake_beneath(int root_fd, const char *rel, size_t made);

/* "/proc/self/fd/N": how mount(2) and chmod(2) reach an O_PATH fd. */
char *kc_agent_fd_path(int fd);

#endif
