/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_HOST_NETDEV_H
#define KC_HOST_NETDEV_H

/*
 * A NIC of the VM: a TAP device whose queue fds the VMM inherits.  The pod
 * network (network/network.h; kc_podnet_vm_netdevs() fills these from its
 * endpoints) makes them, the VM (hypervisor/hypervisor.h) takes them; this
 * header lets each use the type without needing the other.  QEMU gets
 * `-netdev tap,id=ID,fd=N,vhost=off` (`fds=N:M,...` with several queues)
 * and `-device virtio-net-device,netdev=ID,mac=MAC` (`,mq=on`).
 */

#include <stdint.h>

#define KC_VM_MAX_NETDEVS 16
#define KC_VM_MAX_NETDEV_FDS 8

struct kc_vm_netdev {
	const char *id; /* the VMM's netdev id: [A-Za-z0-9_-], at most 15 bytes */
	uint8_t mac[6]; /* the guest NIC's MAC (the pod veth's) */
	const int *fds; /* the TAP's queue fds: still the caller's, the VMM gets copies */
	unsigned n_fds; /* 1 to KC_VM_MAX_NETDEV_FDS */
};

#endif
