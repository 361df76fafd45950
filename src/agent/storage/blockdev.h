/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_BLOCKDEV_H
#define KC_AGENT_BLOCKDEV_H

#include "lib/error.h"

/*
 * The /dev node of a block storage's source: "/dev/NAME" (a block device),
 * or a component of the device's sysfs path ("virtio2", "LNRO0005:02",
 * "0000:00:03.0"): the /dev/vdX whose /sys/block/vdX/device resolves
 * through it.  Waits up to 5 s for the device to show up.  Anything but
 * [A-Za-z0-9:._-] in the name is refused before it becomes a path.
 */
int kc_agent_find_block(const char *source, char **dev, kc_error_t *err);

#endif
