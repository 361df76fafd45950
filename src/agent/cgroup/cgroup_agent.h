/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_CGROUP_AGENT_H
#define KC_AGENT_CGROUP_AGENT_H

/*
 * The agent's side of cgroup v2 (cgroup_agent.c): a cgroup per container
 * and the RPCs that work on it.
 */

#include "agent/agent.h"

/* The cgroup2 root the containers' cgroups go under (the guest's
 * /sys/fs/cgroup; --cgroup-root for tests), the inotify watch of their
 * memory.events and cgroup.events on a->loop, and the OOM event queue.
 * A root that is not a cgroup2 mount is accepted: containers then run
 * without a cgroup, and what needs one fails with FAILED_PRECONDITION. */
int kc_agent_cgroups_init(struct kc_agent *a, const char *root, kc_error_t *err);
/* Fails the held GetOOMEvent calls and frees; before the server is freed. */
void kc_agent_cgroups_free(struct kc_agent *a);
/* CreateContainer: the cgroup from the spec's linux.cgroupsPath with its
 * linux.resources applied (the spec JSON is read here, independently of
 * the rest of the spec). */
int kc_agent_cgroup_create(struct kc_agent *a, struct kc_agent_container *c, const void *spec,
			   size_t len, kc_error_t *err);
/* Kills what is left in c's cgroup and removes it (container_free). */
void kc_agent_cgroup_remove(struct kc_agent_container *c);
/* Kills every process of c's cgroup; nothing without one. */
void kc_agent_cgroup_kill(struct kc_agent_container *c);
/*
 * The directory fd of c's cgroup, -1 for a container without one.  The
 * spawn path clones the init process and every exec'd process into it
 * (CLONE_INTO_CGROUP), so that nothing the container runs escapes its
 * limits.
 */
int kc_agent_cgroup_fd(const struct kc_agent_container *c);
/* RPC handlers, in service.c's table. */
void kc_agent_h_update_container(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_stats_container(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_pause_container(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_resume_container(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_get_oom_event(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);

#endif
