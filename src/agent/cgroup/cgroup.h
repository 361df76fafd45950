/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_CGROUP_H
#define KC_AGENT_CGROUP_H

/*
 * cgroup v2 for the guest's containers: one cgroup per container under a
 * root directory (the guest's /sys/fs/cgroup; tests point it at a fake tree
 * of regular files or at a spare cgroup2 mount), the OCI spec's
 * linux.resources translated to v2 files as runc and crun do, freezing,
 * and the files that StatsContainer and the OOM watch read.
 *
 * Errors follow the agent's statuses: a malformed or impossible value is
 * EINVAL (INVALID_ARGUMENT) and names the spec field; a file that a
 * missing controller would provide is EBUSY (FAILED_PRECONDITION) and
 * names the controller and the file.  Nothing is written when parsing
 * fails: resources are checked whole before the first write.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.pb-c.h"
#include "lib/error.h"

struct kc_cgroup {
	char *rel; /* under the root, without a leading '/' */
	char *path; /* root/rel */
	int dirfd; /* the cgroup's directory */
};

/* Whether dir is the root of a mounted cgroup2 file system (or a
 * directory inside one). */
bool kc_cgroup_is_cgroup2(const char *dir);

/*
 * The cgroup of a container, relative to the root, from the spec's
 * linux.cgroupsPath: "/a/b" and "a/b" are both "a/b" under the root; the
 * systemd form "slice:prefix:name" becomes "slice/prefix-name.scope"; an
 * empty or absent path is "kata/<id>".  A ".." component, an empty result
 * or a component the kernel would refuse is an error naming the path.
 */
int kc_cgroup_path_from_spec(const char *spec_path, const char *id, char **out, kc_error_t *err);

/*
 * Creates root/rel (and missing parents), enabling in each ancestor's
 * cgroup.subtree_control, from root down to rel's parent, every
 * controller that ancestor offers in cgroup.controllers.  An existing
 * cgroup is reused, as runc does.
 */
int kc_cgroup_create(const char *root, const char *rel, struct kc_cgroup **out, kc_error_t *err);
/* Closes and frees; the directory stays (kc_cgroup_destroy removes it). */
void kc_cgroup_free(struct kc_cgroup *cg);
/* Kills every process in the cgroup: cgroup.kill, or SIGKILL to each pid
 * of cgroup.procs on kernels before 5.14. */
void kc_cgroup_kill(struct kc_cgroup *cg);
/* Kills every process left in the cgroup (kc_cgroup_kill), then removes
 * the directory.
 * EBUSY while killed processes are still exiting: the caller reaps and
 * calls again. */
int kc_cgroup_destroy(struct kc_cgroup *cg, kc_error_t *err);

/* Writes cgroup.freeze; the freeze completes when cgroup.events says
 * "frozen 1" (kc_cgroup_frozen). */
int kc_cgroup_set_freeze(struct kc_cgroup *cg, bool freeze, kc_error_t *err);
int kc_cgroup_frozen(struct kc_cgroup *cg, bool *frozen, kc_error_t *err);

/* Whether the cgroup has a file (a controller's interface file). */
bool kc_cgroup_has(struct kc_cgroup *cg, const char *file);
/* The value of `key` in a flat-keyed file ("key value" lines:
 * memory.events, cgroup.events, cpu.stat). */
int kc_cgroup_read_key(struct kc_cgroup *cg, const char *file, const char *key, uint64_t *out,
		       kc_error_t *err);
/* Writes value to file ("max", "10 100000"...). */
int kc_cgroup_write(struct kc_cgroup *cg, const char *file, const char *value, kc_error_t *err);
/* Reads a whole interface file (NUL-terminated, at most 1 MiB). */
int kc_cgroup_read(struct kc_cgroup *cg, const char *file, char **out, kc_error_t *err);

/* ---- cgroup_resources.c: OCI linux.resources to v2 files ---- */

struct kc_cgroup_resources;

/* Checks and translates an OCI LinuxResources object (NULL or JSON null:
 * nothing to do).  `what` prefixes field names in errors
 * ("linux.resources" for a spec, "resources" for UpdateContainer). */
int kc_cgroup_resources_parse(const json_t *res, const char *what, struct kc_cgroup_resources **out,
			      kc_error_t *err);
/* Whether applying r would write nothing. */
bool kc_cgroup_resources_empty(const struct kc_cgroup_resources *r);
/* Writes r's files into cg, in runc's order. */
int kc_cgroup_resources_apply(struct kc_cgroup *cg, const struct kc_cgroup_resources *r,
			      kc_error_t *err);
void kc_cgroup_resources_free(struct kc_cgroup_resources *r);

/* ---- cgroup_stats.c ---- */

/* Fills a CgroupStats from memory.*, cpu.stat, pids.*, io.stat and
 * hugetlb.*; memory and pids are required (FAILED_PRECONDITION naming the
 * controller), io and hugetlb are reported where present.  Free the result
 * with protobuf_c_message_free_unpacked(&s->base, NULL). */
int kc_cgroup_stats(struct kc_cgroup *cg, Grpc__CgroupStats **out, kc_error_t *err);

#endif
