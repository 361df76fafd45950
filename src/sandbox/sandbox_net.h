/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_SANDBOX_NET_H
#define KC_RUNTIME_SANDBOX_NET_H

/*
 * The glue between a sandbox and its pod's network (network/network.h),
 * in the order docs/network.md gives: before the VM starts, the pod
 * spec's network namespace is scanned and connected (TAPs, tc redirects)
 * and its DNS lines read; the VM gets the TAPs as NICs; the shim then
 * configures the guest from kc_podnet_agent_msgs(); after QEMU exited the
 * redirects are removed.
 *
 * No network for the VM: model "none", a spec without a network
 * namespace path, or the host agent of tests (it runs in the host and
 * cannot take a NIC; logged).
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"
#include "lib/error.h"
#include "network/network.h"

struct kc_sandbox_net {
	struct kc_podnet *net; /* NULL: no network */
	struct kc_vm_netdev *netdevs; /* points into net */
	size_t n_netdevs;
	char **dns; /* resolv.conf lines for CreateSandbox; NULL: none */
};

/* Scans and connects the network of the pod spec (NULL: none).  On failure
 * nothing is left in the namespace and n is empty. */
int kc_sandbox_net_setup(struct kc_sandbox_net *n, const struct kc_config *cfg, const json_t *spec,
			 bool host_agent, kc_error_t *err);

/* Removes the redirects and frees everything.  Call it after the VM is
 * gone.  Idempotent. */
void kc_sandbox_net_teardown(struct kc_sandbox_net *n);

#endif
