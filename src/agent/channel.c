// SPDX-License-Identifier: Apache-2.0
/* The agent's channel to the host, when it is the guest's init. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "lib/log.h"
#include "lib/util.h"
#include "ttrpc/transport.h"

bool kc_agent_vsock_present(uint32_t *cid)
{
	cleanup_close int dev = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	cleanup_close int s = -1;
	unsigned int local = VMADDR_CID_ANY;

	if (dev < 0)
		return false;
	if (ioctl(dev, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &local) < 0 || local == VMADDR_CID_ANY)
		return false;
	s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return false;
	if (cid)
		*cid = local;
	return true;
}

int kc_agent_channel_choose(const char *ports_dir, uint64_t wait_ns, char **uri,
			    kc_error_t *err)
{
	uint64_t t0 = kc_monotonic_ns();
	uint32_t cid;

	if (kc_agent_vsock_present(&cid)) {
		kc_info("channel: vsock (guest CID %u), listening on port 1024", cid);
		*uri = kc_xstrdup(KC_AGENT_VSOCK_URI);
		return 0;
	}
	for (;;) {
		cleanup_free char *dev = NULL;
		const struct timespec pause = { 0, 2 * 1000 * 1000 };

		if (kc_ttrpc_serial_find(ports_dir, KC_AGENT_SERIAL_NAME, &dev, NULL) == 0) {
			kc_info("channel: no vsock device, virtio-serial port %s (%s) after %llu ms",
				KC_AGENT_SERIAL_NAME, dev,
				(unsigned long long)((kc_monotonic_ns() - t0) / 1000000));
			*uri = kc_xasprintf("serial://%s", dev);
			return 0;
		}
		if (kc_monotonic_ns() - t0 >= wait_ns)
			break;
		nanosleep(&pause, NULL);
	}
	return kc_error_set(err, ENODEV,
			    "no channel to the host: no vsock device and no virtio-serial port "
			    "named `%s` under `%s` after %llu ms",
			    KC_AGENT_SERIAL_NAME, ports_dir,
			    (unsigned long long)(wait_ns / 1000000));
}
