/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_TRANSPORT_H
#define KC_TTRPC_TRANSPORT_H

/*
 * Where ttrpc runs: addresses in Kata's URI forms, dialled and listened on.
 *
 *   unix:///run/x.sock     a unix socket (a bare absolute path too, as in
 *   unix://@name           $TTRPC_ADDRESS); '@' names an abstract socket
 *   vsock://CID:PORT       AF_VSOCK; CID -1 (or "any") to listen on any
 *                          (the agent listens on vsock://-1:1024)
 *   hvsock:///path:PORT    Firecracker/Cloud Hypervisor hybrid vsock: dial
 *                          the unix socket, send "CONNECT PORT\n", expect
 *                          "OK <n>\n"; what follows is the guest's stream
 *   serial://NAME          a virtio-serial port: in the guest the port whose
 *   serial:///dev/vportNpM   /sys/class/virtio-ports/X/name is NAME (or the
 *                          device path); on the host, dialling it connects
 *                          to QEMU's chardev unix socket at the path
 *
 * A serial port is one byte stream: the host must keep a single ttrpc
 * connection on it for everything.
 *
 * Dial and listen return a nonblocking, close-on-exec fd, or negative with
 * *err set.
 */

#include <stdint.h>

#include "lib/error.h"

enum kc_ttrpc_addr_kind {
	KC_TTRPC_ADDR_UNIX,
	KC_TTRPC_ADDR_VSOCK,
	KC_TTRPC_ADDR_HVSOCK,
	KC_TTRPC_ADDR_SERIAL,
};

#define KC_TTRPC_VSOCK_CID_ANY UINT32_MAX

struct kc_ttrpc_addr {
	enum kc_ttrpc_addr_kind kind;
	/* unix: the socket path ('@' first for abstract); hvsock: the unix
	 * socket; serial: the port's name or device path. */
	char path[256];
	uint32_t cid; /* vsock */
	uint32_t port; /* vsock, hvsock */
};

int kc_ttrpc_addr_parse(const char *uri, struct kc_ttrpc_addr *addr, kc_error_t *err);

/* timeout_ns bounds connecting (and the hybrid vsock handshake); 0 for
 * none.  A peer not there yet is ECONNREFUSED or ENOENT: callers waiting
 * for a VM to boot retry. */
int kc_ttrpc_dial(const char *uri, uint64_t timeout_ns, kc_error_t *err);
int kc_ttrpc_dial_addr(const struct kc_ttrpc_addr *addr, uint64_t timeout_ns, kc_error_t *err);

/* A listening socket for unix or vsock addresses.  A unix socket file left
 * by a previous run is not removed: that is the caller's decision. */
int kc_ttrpc_listen(const char *uri, kc_error_t *err);
int kc_ttrpc_listen_addr(const struct kc_ttrpc_addr *addr, kc_error_t *err);

/* Guest side of a serial address: opens the port by device path, or finds
 * it by name under /sys/class/virtio-ports. */
int kc_ttrpc_serial_open(const char *name_or_path, kc_error_t *err);
/* The /dev path of the virtio port called name, looked up under sysfs_dir
 * (normally /sys/class/virtio-ports). */
int kc_ttrpc_serial_find(const char *sysfs_dir, const char *name, char **dev_path, kc_error_t *err);

#endif
