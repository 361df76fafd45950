/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_HOST_CGROUP_H
#define KC_RUNTIME_HOST_CGROUP_H

/*
 * The pod's cgroup on the host, from the spec's cgroupsPath, on every
 * mounted hierarchy (cgroup v1 controllers, cgroup2; both on a hybrid
 * host).  As Kata's sandbox_cgroup_only:
 *   true   the shim moves itself in before it starts the VMM and
 *          virtiofsd, which inherit it (kc_host_cgroup_enter);
 *   false  (the default) only the VMM's vCPU threads go in
 *          (kc_host_cgroup_create, then kc_host_cgroup_add_threads); the
 *          shim, QEMU's other threads and virtiofsd stay outside, unlimited.
 * No limit is written on the host: the guest enforces the containers'.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/error.h"

struct kc_host_cgroup;

/* path: absolute ("/default/c1"); others (systemd's slice:prefix:name)
 * are refused, naming them.  Creates the missing levels on every
 * hierarchy (a cpuset level without cpus takes its parent's cpus and
 * mems); nobody is moved in. */
int kc_host_cgroup_create(const char *path, struct kc_host_cgroup **out, kc_error_t *err);
/* kc_host_cgroup_create, then the caller moves in.  A hierarchy that
 * refuses the move is skipped with a warning. */
int kc_host_cgroup_enter(const char *path, struct kc_host_cgroup **out, kc_error_t *err);
/* Moves the threads tids of process pid in: one by one on each cgroup v1
 * hierarchy; cgroup2 takes only whole processes into a domain cgroup, so
 * there the process goes in.  A hierarchy that refuses is skipped with a
 * warning. */
void kc_host_cgroup_add_threads(struct kc_host_cgroup *cg, pid_t pid, const pid_t *tids, size_t n);
/* Moves the caller back to each hierarchy's root if it entered, kills what
 * is left in the cgroup if it made it, and removes the dirs it made (once
 * nothing else is in them).  NULL is ignored. */
void kc_host_cgroup_leave(struct kc_host_cgroup *cg);
/* After a dead shim: SIGKILLs every process still in path's cgroup and
 * removes its dir on every hierarchy. */
void kc_host_cgroup_remove(const char *path);

#endif
