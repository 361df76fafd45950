/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_HOST_CGROUP_H
#define KC_RUNTIME_HOST_CGROUP_H

/*
 * The pod's cgroup on the host (Kata's sandbox cgroup, as with
 * sandbox_cgroup_only): the shim moves itself into the spec's cgroupsPath
 * on every mounted hierarchy (cgroup v1 controllers, cgroup2; both on a
 * hybrid host) before it starts the VMM and virtiofsd, which inherit it.
 * No limit is written on the host: the guest enforces the containers'.
 */

#include "lib/error.h"

struct kc_host_cgroup;

/* path: absolute ("/default/c1"); others (systemd's slice:prefix:name)
 * are refused, naming them.  A hierarchy that refuses the move (cpuset
 * with no cpus) is skipped with a warning. */
int kc_host_cgroup_enter(const char *path, struct kc_host_cgroup **out, kc_error_t *err);
/* Moves the caller back to each hierarchy's root and removes the dirs it
 * created (once nothing else is in them).  NULL is ignored. */
void kc_host_cgroup_leave(struct kc_host_cgroup *cg);
/* After a dead shim: SIGKILLs every process still in path's cgroup and
 * removes its dir on every hierarchy. */
void kc_host_cgroup_remove(const char *path);

#endif
