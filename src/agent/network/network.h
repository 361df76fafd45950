/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_NETWORK_H
#define KC_AGENT_NETWORK_H

/*
 * The guest's network, as Kata's agent sets it up: interfaces (found by
 * MAC, else by name; MAC, name, MTU, addresses, up), the main routing
 * table, ARP neighbours and the loopback, through rtnetlink in the agent's
 * network namespace.
 *
 * Every request is checked whole before anything changes: a bad MAC,
 * address or prefix is EINVAL naming the value, an unknown device ENOENT
 * naming it (INVALID_ARGUMENT and NOT_FOUND for the caller).  Results are
 * protobuf-c messages built with malloc: free them with
 * protobuf_c_message_free_unpacked(msg, NULL).
 */

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent.pb-c.h"
#include "lib/error.h"
#include "ttrpc/server.h"

/* "aa:bb:cc:dd:ee:ff" (six hex pairs, ':' or '-'). */
int kc_net_parse_mac(const char *s, uint8_t mac[6], kc_error_t *err);
/* An IPv4 or IPv6 address; *family is AF_INET or AF_INET6, addr holds 4
 * or 16 bytes. */
int kc_net_parse_ip(const char *s, int *family, uint8_t addr[16], kc_error_t *err);
/* A prefix length in decimal, at most 32 or 128; "" is the full length. */
int kc_net_parse_prefix(const char *s, int family, unsigned *prefix, kc_error_t *err);

int kc_net_update_interface(const Grpc__Interface *want, Grpc__Interface **out, kc_error_t *err);
/* Replaces the main table's routes (except the kernel's own, which follow
 * addresses) with those in `want`, routes without a gateway first. */
int kc_net_update_routes(const Grpc__Routes *want, Grpc__Routes **out, kc_error_t *err);
int kc_net_list_interfaces(Grpc__Interfaces **out, kc_error_t *err);
/* The main table's unicast routes, both families; a default route has an
 * empty dest, as in Kata. */
int kc_net_list_routes(Grpc__Routes **out, kc_error_t *err);
int kc_net_add_arp_neighbors(Grpc__ARPNeighbor *const *neigh, size_t n, kc_error_t *err);
int kc_net_loopback_up(kc_error_t *err);

/* Whether the agent runs outside a guest (--no-init) in the host's own
 * network namespace: then UpdateInterface, UpdateRoutes and
 * AddARPNeighbors are refused (FAILED_PRECONDITION) and CreateSandbox
 * leaves the loopback alone. */
bool kc_agent_net_is_host(const struct kc_agent *a);

/* The grpc.AgentService handlers (service.c's table). */
void kc_agent_h_update_interface(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_update_routes(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_list_interfaces(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_list_routes(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_add_arp_neighbors(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_get_iptables(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_set_iptables(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);

#endif
