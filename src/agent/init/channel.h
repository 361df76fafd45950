/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_CHANNEL_H
#define KC_AGENT_CHANNEL_H

/*
 * Which channel the agent serves when it is the guest's init and neither
 * --listen nor agent.listen= chose one: AF_VSOCK port 1024 when the VM has
 * a vsock device, else the virtio-serial port named agent.channel.0 (the
 * only choice on hosts without vhost-vsock).
 */

#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"

#define KC_AGENT_VSOCK_URI "vsock://-1:1024"
#define KC_AGENT_SERIAL_NAME "agent.channel.0"

/* Whether a vsock transport to the host is there: /dev/vsock answers a
 * local CID (not VMADDR_CID_ANY, which the vsock core gives without a
 * device) and socket(AF_VSOCK) works.  *cid gets the guest's CID. */
bool kc_agent_vsock_present(uint32_t *cid);

/* Waits up to wait_ns for the virtio-serial port called name to appear
 * under ports_dir; *dev gets its /dev path. */
int kc_agent_channel_wait_serial(const char *ports_dir, const char *name, uint64_t wait_ns,
				 char **dev, kc_error_t *err);

/*
 * Chooses the channel: vsock if present, else waits up to wait_ns for the
 * virtio-serial port named KC_AGENT_SERIAL_NAME under ports_dir (the
 * host's port names arrive through virtio-console control messages after
 * the module has loaded, so the port shows up a little later).  *uri gets
 * the listen URI; the choice is logged.
 */
int kc_agent_channel_choose(const char *ports_dir, uint64_t wait_ns, char **uri, kc_error_t *err);

#endif
