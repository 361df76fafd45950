/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_PORTFWD_H
#define KC_AGENT_PORTFWD_H

/*
 * Port forwarding, the guest's half (CRI PortForward, `kubectl
 * port-forward`; docs/port-forward.md).  containerd dials localhost:PORT
 * in the pod's network namespace on the host; under kata-c the listener
 * is in the VM, so the shim catches that connection and relays it through
 * these RPCs.  A session is one TCP connection the agent made to
 * 127.0.0.1:PORT (then [::1]:PORT) in its own network namespace, which is
 * the one the pod's containers share (the shim drops the spec's network
 * namespace, container.c's check_sysctls says why).
 *
 * Everything is non-blocking on the agent's loop: the connect is followed
 * by a watch, reads are long polls served by io.c's stream machinery
 * straight from the socket (the kernel's buffer is the only one), and a
 * write the socket cannot take is held, with at most KC_AGENT_PFWD_HOLD_MAX
 * bytes of it, until the socket is writable.  A session holds one fd (two
 * while a write is held); there are at most KC_AGENT_PFWD_MAX of them.
 */

#include "agent/agent.h"
#include "ttrpc/server.h"

#define KC_AGENT_PFWD_MAX 1024
/* The most bytes one PortForwardRead answers. */
#define KC_AGENT_PFWD_READ_MAX (1u << 20)
/* The most bytes of a write the agent keeps while it waits to write them. */
#define KC_AGENT_PFWD_HOLD_MAX (64u << 10)

/* Closes every session: their held calls fail with code/why (DestroySandbox,
 * shutdown). */
void kc_agent_pfwd_close_all(struct kc_agent *a, int code, const char *why);

/* The grpc.AgentService handlers (service.c's table). */
void kc_agent_h_port_forward_open(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_port_forward_read(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
void kc_agent_h_port_forward_write(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
				   void *data);
void kc_agent_h_port_forward_close_write(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
					 void *data);
void kc_agent_h_port_forward_close(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
				   void *data);

#endif
