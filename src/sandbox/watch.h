/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SANDBOX_WATCH_H
#define KC_SANDBOX_WATCH_H

/*
 * The host's watch of kubelet's ConfigMap, Secret, projected and
 * downward-API volumes that the guest keeps a copy of (a watchable-bind
 * storage, volumes.c; docs/volumes-update.md): one inotify fd on the
 * pod's loop, one inotify watch per host directory, however many mounts
 * (container, mount point) share it.  When kubelet renames a new `..data`
 * in, every mount of that directory is sent the version it names
 * (UpdateWatchableVolume), once checked (kc_kubelet_data_dir: a `..data`
 * that points out of the volume or to a name not of kubelet's form is
 * refused and logged, and the guest keeps its version).  A failed update
 * is retried after 1 s (or at the next event), unless the agent is gone
 * (ENOTCONN, ECANCELED): the next event tries again.
 */

#include <stddef.h>

#include "lib/error.h"
#include "pod.h"
#include "ttrpc/loop.h"

struct kc_vwatch;

/* Sends UpdateWatchableVolume{mount_point, data_dir}; runs done exactly
 * once (possibly before it returns). */
typedef void (*kc_vwatch_send_fn)(void *data, const char *mount_point, const char *data_dir,
				  kc_done_fn done, void *done_ctx);

int kc_vwatch_new(struct kc_loop *loop, kc_vwatch_send_fn send, void *data, struct kc_vwatch **out,
		  kc_error_t *err);
/* Removes every watch and closes the fd; an update still in flight is
 * forgotten when its done runs (it must run, later, with the loop alive). */
void kc_vwatch_free(struct kc_vwatch *w);

/* Watches dir for the mount at mount_point of owner (a container id).
 * The version `..data` names now is taken for the one the guest copied. */
int kc_vwatch_add(struct kc_vwatch *w, const char *owner, const char *dir, const char *mount_point,
		  kc_error_t *err);
/* Forgets owner's mounts, and the inotify watches no other mount uses. */
void kc_vwatch_remove(struct kc_vwatch *w, const char *owner);

/* For tests: the inotify watches held, the mounts watched, the updates
 * sent and answered without error. */
void kc_vwatch_counts(const struct kc_vwatch *w, size_t *watches, size_t *mounts, size_t *updated);

#endif
