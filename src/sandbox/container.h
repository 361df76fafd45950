/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_CONTAINER_H
#define KC_RUNTIME_CONTAINER_H

/*
 * The host half of one container: its rootfs and volumes mounted into the
 * sandbox's share, and its OCI spec rewritten for the guest.
 *
 *   host  /run/kata-containers/shared/sandboxes/<sid>/mounts/<cid>/rootfs
 *         .../mounts/<cid>-<n>-<name>                 (a volume)
 *         .../shared/  read-only bind of mounts/, exported over virtio-fs
 *   guest <guest_share>/<cid>/rootfs, <guest_share>/<cid>-<n>-<name>
 *
 * where <guest_share> is /run/kata-containers/shared/containers in a VM.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "lib/path.h"

/* One mount of CreateTaskRequest.rootfs (containerd.types.Mount). */
struct kc_rootfs_mount {
	const char *type, *source, *target;
	char *const *options;
	size_t n_options;
};

/* What a container's preparation needs to know of its sandbox. */
struct kc_container_env {
	const char *mounts_dir; /* host: .../sandboxes/<sid>/mounts */
	const char *guest_share; /* guest path of the share */
	bool disable_guest_seccomp;
	/* The pid the shim gives containerd for every task of the sandbox
	 * (QEMU's, or the host agent's): CRI names the sandbox container's
	 * namespaces /proc/<it>/ns/<type>. */
	pid_t task_pid;
	/* The agent is a host process (tests, KATA_C_TEST_AGENT), not a guest:
	 * linux.resources would be the host's cgroups, so they stay out, and
	 * volumes are all shared (no guest tmpfs). */
	bool host_agent;
	/* Kata's disable_guest_empty_dir = false: a disk emptyDir is a
	 * directory of the guest instead of a host directory shared. */
	bool guest_empty_dir;
	/* Kata's emptydir_mode ("shared-fs"; "block-encrypted" is refused);
	 * NULL is "shared-fs". */
	const char *emptydir_mode;
};

/* Where the guest keeps what the pod's containers share by name. */
#define KC_GUEST_SANDBOX_DIR "/run/kata-containers/sandbox"

/*
 * A storage the agent mounts for a container (CreateContainer.storages)
 * besides the share: a pod's memory emptyDir or /dev/shm as a tmpfs of
 * the guest ("ephemeral"), a disk emptyDir as a guest directory ("local").
 * Each is marked shared: the pod's containers that name it get the same
 * one, which lives as long as the pod.
 */
struct kc_guest_storage {
	char *driver, *source, *fstype, *mount_point;
	char **options; /* NULL-terminated */
	bool fs_group_set;
	unsigned fs_group;
	/* watchable-bind: the host directory (kubelet's volume) whose
	 * `..data` the host watches (watch.c); NULL for the others. */
	char *watch_dir;
};

struct kc_guest_storages {
	struct kc_guest_storage *v;
	size_t n;
};

void kc_guest_storages_free(struct kc_guest_storages *s);

/* Where a container's watchable volume n lives in the guest. */
#define KC_GUEST_WATCHABLE_DIR KC_GUEST_SANDBOX_DIR "/watchable"

/* Bounds of a watchable volume's version (as Kata bounds its watcher, and
 * as the agent's watchable-bind does): beyond, a plain shared bind. */
#define KC_WATCHABLE_MAX_FILES 1024
#define KC_WATCHABLE_MAX_BYTES (8u << 20)

/*
 * The version the `..data` of kubelet's volume dir_fd names, checked: a
 * name of kubelet's form (kc_kubelet_version_name_valid), a directory (not
 * a symlink) in that volume.  *out is malloc'ed.  what names the volume in
 * errors; EINVAL for a `..data` that is no such name, ENOTDIR for one that
 * is no directory of the volume.
 */
int kc_kubelet_data_dir(int dir_fd, const char *what, char **out, kc_error_t *err);

/* Container and sandbox ids as containerd allows them: [A-Za-z0-9] then
 * [A-Za-z0-9_.-], at most 76 bytes (they become path components). */
int kc_check_id(const char *what, const char *id, kc_error_t *err);

/*
 * Mounts the rootfs onto bundle/rootfs (as containerd expects of a shim)
 * and binds it into the share at mounts/<cid>/rootfs.  No mount: the
 * spec's root.path (spec_root: absolute, or relative to the bundle) must be
 * a populated directory (containerd or the user prepared it).  Supported
 * types: overlay, bind (options ro/rbind...).
 * On failure nothing stays mounted.
 */
int kc_rootfs_setup(const struct kc_container_env *env, const char *cid, const char *bundle,
		    const char *spec_root, const struct kc_rootfs_mount *m, size_t n,
		    kc_error_t *err);

/*
 * Rewrites spec (in place) for the guest: root.path to the share; bind
 * mounts shared through the share (files and dirs, read-only honoured),
 * except Kubernetes' emptyDir volumes and the pod's /dev/shm, which become
 * storages of the guest appended to `storages`, and kubelet's ConfigMap,
 * Secret, projected and downward-API volumes, which are shared and get a
 * watchable-bind storage too (kc_volume_share);
 * namespace paths that name the pod's sandbox container's pid, ipc or uts
 * namespace become *sandbox_ns (CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS:
 * CreateContainer's sandbox_*ns), other host namespaces and rshared mounts
 * are refused (spec.c says why); host-only parts removed (hooks, network
 * namespace, device cgroup rules and host devices, AppArmor/SELinux labels,
 * seccomp when disabled, resources for a host agent); every container gets
 * the guest cgroup /kata_c/<cid>, since the host's path means nothing there
 * and two containers of a pod must not share one.  Refuses mount types it
 * cannot honour and destinations that are not clean absolute paths, naming
 * the mount.  Mounts it made
 * stay on failure: kc_container_cleanup() removes them.
 */
int kc_spec_for_guest(const struct kc_container_env *env, const char *cid, json_t *spec,
		      struct kc_guest_storages *storages, uint64_t *sandbox_ns, kc_error_t *err);

/* Whether linux.namespaces has an entry of type (path or not). */
bool kc_spec_has_namespace(json_t *spec, const char *type);

/* Refuses a CRI spec that asks for the host's pid or ipc namespace
 * (hostPID, hostIPC), which no container in a VM can have; the shim asks
 * before it starts a sandbox for it, kc_spec_for_guest() again. */
int kc_spec_check_host_namespaces(json_t *spec, kc_error_t *err);

/* Unmounts and removes everything of cid in the share, and bundle/rootfs
 * (bundle may be NULL).  Idempotent. */
int kc_container_cleanup(const struct kc_container_env *env, const char *cid, const char *bundle,
			 kc_error_t *err);

/*
 * The sandbox size the spec asks for, as Kata computes it: the CRI sandbox
 * annotations (io.kubernetes.cri.sandbox-cpu-quota/-period,
 * sandbox-memory) or else the container's linux.resources (cpu quota and
 * period, memory limit), added to the defaults; capped by the maximums
 * (0: none).
 */
void kc_spec_sizing(json_t *spec, unsigned default_vcpus, unsigned max_vcpus, unsigned default_mib,
		    unsigned max_mib, unsigned *vcpus, unsigned *mib);

/*
 * One entry of spec.mounts (volumes.c): a bind mount of a host file or
 * directory is mounted into the share and its source rewritten to the
 * guest path; a bind of the host's /proc, /sys or /dev is dropped (*drop:
 * the guest has its own); mount types the guest provides pass unchanged.
 * index makes the share name unique within the container.
 *
 * Volumes the guest holds itself, as Kata's runtime does: a bind of
 * kubelet's emptyDir directory (.../kubernetes.io~empty-dir/NAME) on a
 * tmpfs (medium: Memory) becomes a guest tmpfs of the host tmpfs's size
 * (its sizeLimit) at KC_GUEST_SANDBOX_DIR/ephemeral/NAME; a bind on
 * /dev/shm from a tmpfs (containerd's pod shm) a guest tmpfs of that size
 * at KC_GUEST_SANDBOX_DIR/shm; with guest_empty_dir, a disk emptyDir a
 * guest directory at KC_GUEST_SANDBOX_DIR/local/NAME.  The mount becomes
 * a bind of that path and its storage is appended to `storages`.  A size
 * larger than the host's memory is refused, naming the volume.
 *
 * kubelet's ConfigMap, Secret, projected and downward-API volumes
 * (.../kubernetes.io~configmap/NAME, ~secret, ~projected, ~downward-api,
 * laid out by its atomic writer) are shared as any directory, and the
 * guest keeps a copy it updates in place (docs/volumes-update.md): a
 * `watchable-bind` storage whose source is the share's directory and
 * mount point KC_GUEST_WATCHABLE_DIR/<cid>-<index>, which the mount
 * becomes a bind of; its watch_dir is the host directory to watch.  A
 * version beyond KC_WATCHABLE_MAX_FILES or _BYTES, or a directory without
 * a valid `..data`, stays a plain shared bind (logged).  With a host agent
 * none is made: the agent reads the host's directory itself, so kubelet's
 * updates reach it as under runc.
 */
int kc_volume_share(const struct kc_container_env *env, const char *cid, size_t index, json_t *mnt,
		    bool *drop, struct kc_guest_storages *storages, kc_error_t *err);

/* The annotation `key` of a spec, or NULL. */
const char *kc_spec_annotation(json_t *spec, const char *key);

#endif
