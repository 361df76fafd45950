/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_STORAGE_H
#define KC_AGENT_STORAGE_H

/*
 * Storages: what the host asks the agent to mount for the sandbox
 * (CreateSandbox.storages) or for one container (CreateContainer.storages),
 * with Kata's drivers:
 *
 *   virtio-fs   source = the device's tag ("kataShared"), fstype virtiofs
 *   9p          source = the mount tag, options as given (trans=virtio...)
 *   blk, virtio-blk, mmioblk
 *               source = /dev/vdX, or the name of a device in the block
 *               device's sysfs path ("virtio3", "LNRO0005:02",
 *               "0000:00:03.0"): the /dev/vdX whose
 *               /sys/block/vdX/device path holds it
 *   ephemeral   a tmpfs (options: size=, mode=, ...)
 *   local       a directory, mode from the option mode=OCTAL (default 0777)
 *   bind        source = a path under the storage root, bind-mounted
 *   watchable-bind
 *               source = a kubelet atomic-writer volume under the storage
 *               root, copied into a tmpfs of the agent's and kept up to
 *               date by UpdateWatchableVolume (watchable.h)
 *
 * Every host-supplied path (mount_point, a bind's source) must lie under
 * the storage root (/run/kata-containers in the guest) and is resolved
 * beneath it: ".." and symlinks that leave it are refused with an error
 * naming the path, and the mount is made on the resolved fd, so nothing
 * can swap a component in between.  A storage marked shared is mounted
 * once and counted per owner; the rest are mounted per owner.  Everything
 * an owner mounted is unmounted (newest first) when it goes.  A shared
 * ephemeral or local storage (a pod's emptyDir or /dev/shm) is held by the
 * sandbox as well: it goes with DestroySandbox, not with its containers.
 */

#include <stdbool.h>
#include <stddef.h>

#include "agent.pb-c.h"
#include "lib/error.h"

/* Where the guest keeps what the host shares or asks for. */
#define KC_AGENT_STORAGE_ROOT "/run/kata-containers"

struct kc_agent_storage;

struct kc_agent_storages {
	char *root; /* the storage root, no trailing '/' */
	struct kc_agent_storage *list; /* newest first */
};

/* root: an absolute directory, created if missing at first use. */
void kc_agent_storages_init(struct kc_agent_storages *s, const char *root);
/* Unmounts everything (DestroySandbox). */
void kc_agent_storages_clear(struct kc_agent_storages *s);
/* Unmounts everything and frees. */
void kc_agent_storages_fini(struct kc_agent_storages *s);

/*
 * Mounts the storages for owner ("" for the sandbox, else a container id),
 * in order.  All or nothing: on failure what this owner holds is released
 * and *err names the storage (index, driver, mount point) and the cause.
 */
int kc_agent_storages_add(struct kc_agent_storages *s, const char *owner,
			  Grpc__Storage *const *storages, size_t n, kc_error_t *err);

/*
 * Binds source (a path under the root, e.g. a container's rootfs in the
 * share: /run/kata-containers/shared/containers/<id>/rootfs) on
 * mount_point (under the root too, e.g. /run/kata-containers/<id>/rootfs)
 * for owner, read-only if asked, with the same path rules and lifetime as
 * a "bind" storage.  For the container code that puts the rootfs and
 * volumes of a spec into place.
 */
int kc_agent_storages_bind(struct kc_agent_storages *s, const char *owner, const char *source,
			   const char *mount_point, bool readonly, kc_error_t *err);

/*
 * A bind's source under an ephemeral or local storage that owner holds (a
 * container's subPath of its pod's emptyDir): the directories of path
 * below the storage are made if missing, beneath it (no ".." nor symlink
 * leaves it), with the storage's mode, as kubelet makes a subPath.  They
 * stay, as in the volume on the host.  0 for any other path.
 */
int kc_agent_storages_make_subdir(struct kc_agent_storages *s, const char *owner, const char *path,
				  kc_error_t *err);

/* Drops owner's storages: unmounts those nobody else holds. */
void kc_agent_storages_release(struct kc_agent_storages *s, const char *owner);

/* UpdateEphemeralMounts: remounts each ephemeral storage (a tmpfs the
 * agent mounted before, found by mount_point) with its new options. */
int kc_agent_storages_update_ephemeral(struct kc_agent_storages *s, Grpc__Storage *const *storages,
				       size_t n, kc_error_t *err);

/* UpdateWatchableVolume: the watchable-bind storage at mount_point takes
 * the share's version data_dir (watchable.h). */
int kc_agent_storages_update_watchable(struct kc_agent_storages *s, const char *mount_point,
				       const char *data_dir, kc_error_t *err);

/* How many storages are held (for tests and logs). */
size_t kc_agent_storages_count(const struct kc_agent_storages *s);

#endif
