/* SPDX-License-Identifier: Apache-2.0 */
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

int kc_agent_channel_wait_serial(const char *ports_dir, const char *name, uint64_t wait_ns,
				 char **dev, kc_error_t *err)
{
	uint64_t t0 = kc_monotonic_ns();

	for (;;) {
		const struct timespec pause = { 0, 2 * 1000 * 1000 };

		if (kc_ttrpc_serial_find(ports_dir, name, dev, NULL) == 0) {
			kc_debug("virtio-serial port %s is %s after %llu ms", name, *dev,
				 (unsigned long long)((kc_monotonic_ns() - t0) / 1000000));
			return 0;
		}
		if (kc_monotonic_ns() - t0 >= wait_ns)
			break;
		nanosleep(&pause, NULL);
	}
	return kc_error_set(err, ENODEV, "no virtio-serial port named `%s` under `%s` after %llu ms",
			    name, ports_dir, (unsigned long long)(wait_ns / 1000000));
}

int kc_agent_channel_choose(const char *ports_dir, uint64_t wait_ns, char **uri, kc_error_t *err)
{
	cleanup_free char *dev = NULL;
	uint32_t cid;
	int ret;

	if (kc_agent_vsock_present(&cid)) {
		kc_info("channel: vsock (guest CID %u), listening on port 1024", cid);
		*uri = kc_xstrdup(KC_AGENT_VSOCK_URI);
		return 0;
	}
	ret = kc_agent_channel_wait_serial(ports_dir, KC_AGENT_SERIAL_NAME, wait_ns, &dev, NULL);
	if (ret < 0)
		return kc_error_set(err, ENODEV,
				    "no channel to the host: no vsock device, and no virtio-serial "
				    "port named `%s` under `%s` after %llu ms",
				    KC_AGENT_SERIAL_NAME, ports_dir,
				    (unsigned long long)(wait_ns / 1000000));
	kc_info("channel: no vsock device, virtio-serial port %s (%s)", KC_AGENT_SERIAL_NAME, dev);
	*uri = kc_xasprintf("serial://%s", dev);
	return 0;
}
