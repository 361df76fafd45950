/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_WATCHABLE_H
#define KC_AGENT_WATCHABLE_H

/*
 * ConfigMap, Secret, projected and downward-API volumes, updated in place
 * (docs/volumes-update.md): the storage driver `watchable-bind` and
 * UpdateWatchableVolume.  The agent keeps a copy of the volume in a small
 * tmpfs of its own, laid out as kubelet's atomic writer lays it out:
 *
 *   ..2026_12_07_18_00_00.123456789/key1   one version's files (modes, owners)
 *   ..data -> ..2026_12_07_18_00_00.123456789
 *   key1 -> ..data/key1                     one per top-level entry
 *
 * and replays kubelet's update: the new version's directory copied in
 * whole, `..data_tmp` made and renamed over `..data` (the one atomic step),
 * top-level symlinks added for new keys and removed for keys gone, then the
 * previous version's directory removed.  A reader that resolves `..data`
 * once reads one complete version, never a mix.
 *
 * The share is the host's: every name is checked, every directory opened
 * one component at a time with O_NOFOLLOW beneath the source (already
 * resolved beneath the storage root), only regular files and directories
 * are copied, and a version is bounded (KC_AGENT_WATCHABLE_MAX_FILES
 * entries, KC_AGENT_WATCHABLE_MAX_BYTES bytes; the error says which).
 */

#include <stdbool.h>

#include "lib/error.h"

#define KC_AGENT_WATCHABLE_DRIVER "watchable-bind"
/* Kata's bounds on a watched volume: entries (files and directories) and
 * bytes of one version. */
#define KC_AGENT_WATCHABLE_MAX_FILES 1024
#define KC_AGENT_WATCHABLE_MAX_BYTES (8u << 20)
/* The tmpfs: two versions at their bounds (each file at least a page),
 * their top-level symlinks and some slack. */
#define KC_AGENT_WATCHABLE_TMPFS_DATA "size=32m,nr_inodes=4096,mode=0755"

/* A version's name is checked with kc_kubelet_version_name_valid()
 * (lib/path.h), as the host checks it. */

/*
 * Fills the empty directory dst_fd (the new tmpfs) with the version that
 * the share's src_fd/..data names, with src_fd's mode and owner on the
 * root.  src names the source in errors.  On failure dst may hold a
 * partial copy (the caller unmounts it).
 */
int kc_agent_watchable_populate(int src_fd, int dst_fd, const char *src, kc_error_t *err);

/*
 * Replays kubelet's update in dst_fd with the version data_dir of the
 * share src_fd (see above).  data_dir already current: nothing to do.  On
 * failure dst_fd keeps its previous complete version.
 */
int kc_agent_watchable_update(int src_fd, int dst_fd, const char *data_dir, const char *src,
			      kc_error_t *err);

#endif
