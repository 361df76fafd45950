/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_AGENT_CLIENT_H
#define KC_RUNTIME_AGENT_CLIENT_H

/*
 * Reaching the guest agent from the host while its VM boots: dialling with
 * retry, and the health check the runtime makes before anything else.
 * Used by the VM launcher (waiting for a fresh VM) and by the shim (which
 * dials the agent again once the VM is up).
 */

#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "ttrpc/client.h"

/*
 * Dials uri (any address of ttrpc/transport.h: the agent's, QMP's socket)
 * until it connects or deadline (CLOCK_MONOTONIC ns) passes.  "Not there yet" failures
 * (ENOENT, ECONNREFUSED, ECONNRESET, EAGAIN, ETIMEDOUT of one attempt) are
 * retried with a short, growing pause; others end it at once.  While it
 * waits it watches abort_fds (e.g. the VMM's pidfd): one becoming readable
 * ends the wait with -ECHILD.  Returns the connected fd.
 */
int kc_dial_retry(const char *uri, uint64_t deadline, const int *abort_fds, size_t n_abort,
		  kc_error_t *err);

/* grpc.Health/Check on a connected client; OK needs status SERVING. */
int kc_agent_check(struct kc_ttrpc_client *c, uint64_t timeout_ns, kc_error_t *err);

/*
 * Check, retried on the same connection until deadline when an attempt
 * times out.  Use it on a connection to a VM that already answered once:
 * over virtio-serial the guest sees every host connection on one port, and
 * a request that arrives while the agent is still dropping the previous
 * connection is lost; it is sent again after a short per-attempt timeout.
 * Late answers to earlier attempts are dropped by the client (their stream
 * ids are done), so the connection stays clean for later calls.
 */
int kc_agent_check_retry(struct kc_ttrpc_client *c, uint64_t deadline, kc_error_t *err);

/*
 * Waits until the agent at uri answers Check, before deadline: dials with
 * retry, checks, and dials again if the connection drops while the guest
 * boots.  abort_fds as for kc_dial_retry().  With conn_fd, the
 * connection that answered is kept and returned there (the caller owns
 * it); otherwise it is closed.
 */
int kc_agent_wait_ready(const char *uri, uint64_t deadline, const int *abort_fds, size_t n_abort,
			int *conn_fd, kc_error_t *err);

#endif
