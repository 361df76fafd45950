/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_GUEST_H
#define KC_AGENT_GUEST_H

/*
 * The guest-facing RPCs that are about the VM rather than a container:
 * guest details, clock, entropy, CPU and memory hotplug, metrics (guest.c),
 * and the files the host places in the guest (files.c): CopyFile,
 * GetVolumeStats, AddSwapPath.
 *
 * Paths: sysfs is read and written under agent->sysfs_root ("/sys"), and
 * host-supplied paths must lie under /run/kata-containers, which stands
 * for agent->run_root, opened with RESOLVE_IN_ROOT so that neither ".."
 * nor a symlink leads out of it.  Tests point both at fake trees.
 *
 * An RPC that this agent cannot do answers a status that says why; none
 * succeeds without doing its work.
 */

#include "agent/agent.h"

/* The guest path that agent->run_root stands for. */
#define KC_AGENT_RUN_DIR "/run/kata-containers"
/* The largest file CopyFile accepts: the guest's /run is RAM. */
#define KC_AGENT_COPY_FILE_MAX (256ull << 20)
/* The most bytes ReseedRandomDev takes at once. */
#define KC_AGENT_RESEED_MAX 4096

void kc_agent_h_get_guest_details(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_set_guest_date_time(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
				    void *data);
void kc_agent_h_reseed_random_dev(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_online_cpu_mem(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_mem_hotplug_by_probe(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
				     void *data);
void kc_agent_h_get_metrics(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_add_swap(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
/* SetPolicy, GetDiagnosticData, MemAgent*, ResizeVolume,
 * RemoveStaleVirtiofsShareMounts: refused, each with its reason. */
void kc_agent_h_refused(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);

/* ---- files.c ---- */
void kc_agent_h_copy_file(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_get_volume_stats(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_add_swap_path(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);

/*
 * Opens a host-supplied guest path below KC_AGENT_RUN_DIR inside
 * agent->run_root: it must be absolute and canonical.  *rel gets the part
 * after the run dir ("" for the run dir itself) when rel is not NULL.
 */
int kc_agent_open_run_path(const struct kc_agent *a, const char *path, int flags, const char **rel,
			   kc_error_t *err);

#endif
