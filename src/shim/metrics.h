/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SHIM_METRICS_H
#define KC_SHIM_METRICS_H

/*
 * Task.Stats: the agent's StatsContainerResponse as containerd's cgroups
 * v1 Metrics (cgroups_metrics.proto), the message `ctr task metrics` and
 * the CRI plugin decode.  metrics.c says what maps to what.
 */

#include "agent.pb-c.h"
#include "cgroups_metrics.pb-c.h"
#include "google_protobuf.pb-c.h"

/* A new message, freed with protobuf_c_message_free_unpacked(&m->base,
 * NULL).  Sections the agent did not send stay unset. */
Io__Containerd__Cgroups__V1__Metrics *shim_metrics_from_stats(const Grpc__StatsContainerResponse *r);

/* *any = { type_url "io.containerd.cgroups.v1.Metrics", the packed
 * Metrics }; any->value.data is malloc'd (the caller frees it). */
void shim_metrics_pack(const Grpc__StatsContainerResponse *r, Google__Protobuf__Any *any);

#endif
