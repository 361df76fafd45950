/* SPDX-License-Identifier: Apache-2.0 */
/* TAP devices for the guest's NICs, and the link settings they need. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"
#include "lib/util.h"

int kc_tap_create(const char *name, unsigned queues, int *fds, kc_error_t *err)
{
	unsigned i;
	int ret;

	if (strlen(name) >= IFNAMSIZ)
		return kc_error_set(err, EINVAL, "TAP name `%s` is longer than %d bytes", name,
				    IFNAMSIZ - 1);
	if (queues == 0 || queues > KC_PODNET_MAX_QUEUES)
		return kc_error_set(err, EINVAL, "TAP `%s`: %u queues (1 to %d)", name, queues,
				    KC_PODNET_MAX_QUEUES);
	/* TUNSETIFF on an existing persistent TAP would attach to it: a
	 * link of that name is someone else's, and said so by name. */
	if (if_nametoindex(name) != 0)
		return kc_error_set(err, EEXIST, "create TAP `%s`: a link of that name exists",
				    name);
	for (i = 0; i < queues; i++) {
		struct ifreq ifr = { 0 };

		fds[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fds[i] < 0) {
			fds[i] = -1;
			ret = kc_error_set(err, errno, "open `/dev/net/tun`");
			goto fail;
		}
		/* The vnet header lets QEMU pass checksum and segmentation
		 * offloads through; IFF_TUN_EXCL makes the first open fail
		 * rather than join a device created meanwhile. */
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (queues > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		if (i == 0)
			ifr.ifr_flags |= IFF_TUN_EXCL;
		memcpy(ifr.ifr_name, name, strlen(name) + 1);
		if (ioctl(fds[i], TUNSETIFF, &ifr) < 0) {
			int e = errno;

			close(fds[i]);
			fds[i] = -1;
			ret = e == EBUSY
				      ? kc_error_set(err, EEXIST,
						     "create TAP `%s`: a link of that name exists",
						     name)
				      : kc_error_set(err, e, "TUNSETIFF `%s` (queue %u)", name, i);
			goto fail;
		}
	}
	return 0;
fail:
	/* The caller's array holds no fd numbers that are not its own. */
	while (i > 0) {
		close(fds[--i]);
		fds[i] = -1;
	}
	return ret;
}

int kc_link_set_mtu_up(struct kc_nl *m, int ifindex, const char *name, unsigned mtu, kc_error_t *err)
{
	struct kc_nl_msg msg;
	struct ifinfomsg *ifi = kc_nl_msg_init(&msg, RTM_NEWLINK, 0, sizeof(*ifi));
	cleanup_free char *what = kc_xasprintf("set MTU %u and up on `%s`", mtu, name);

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (mtu)
		kc_nl_put_u32(&msg, IFLA_MTU, mtu);
	return kc_nl_request(m, &msg, what, err);
}
