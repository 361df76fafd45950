/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_NETWORK_H
#define KC_RUNTIME_NETWORK_H

/*
 * The host side of a pod's network, Kata's tcfilter model.
 *
 * CNI gives the pod a network namespace with a veth inside (eth0, with the
 * pod's addresses and routes).  kc_podnet_scan() reads it; kc_podnet_connect()
 * creates one TAP device per interface in that namespace (tap0_kata,
 * tap1_kata, ...: Kata's names), puts an ingress qdisc on both the veth and
 * the TAP and a u32 match-all filter with `mirred egress redirect` each way,
 * so every frame the veth receives leaves through the TAP and the reverse.
 * The addresses stay on the veth; the guest's NIC takes the veth's MAC, MTU
 * and addresses (kc_podnet_agent_msgs()), so the pod's peers see no
 * difference.  kc_podnet_disconnect() removes the filters, qdiscs and TAPs
 * and leaves the veth as it found it.
 *
 * QEMU runs in the host's network namespace, so it cannot open the TAP by
 * name: the TAP's queue fds are opened here (inside the pod's namespace,
 * where the device lives) and QEMU gets them by inheritance,
 * `-netdev tap,fd=N` (kc_podnet_qemu_args()).  The fds are close-on-exec:
 * the launcher clears FD_CLOEXEC in the child (or dup2()s them to the numbers
 * it passes).  The TAPs are not persistent: a TAP disappears when its last
 * fd closes, i.e. when both this object and QEMU have let go of it, so a
 * crashed shim leaves nothing behind once QEMU is gone.
 *
 * Interface kinds: veth and macvlan are connected (both are Ethernet links
 * with their own MAC, which the guest copies).  Every other link that is up
 * (bridge, ipvlan, vxlan, dummy, tun/tap, a physical NIC, ...) is refused
 * with EOPNOTSUPP naming it and its kind; links that are down (the kernel's
 * fallback tunnels tunl0/sit0/...) are ignored, as are the loopback and TAPs
 * named tap<N>_kata (ours: their name then clashes, which connect reports).
 * ipvlan is refused on purpose: its links share the parent's MAC, so a
 * guest NIC copying it would clash with its siblings in L2 mode, and its L3
 * modes have no ARP for the guest to answer.
 *
 * Threads: the scan, connect and disconnect switch the calling thread into
 * the pod's namespace (setns) and back before they return.
 *
 * Ownership: a struct kc_podnet owns its netns fd and its TAP fds;
 * kc_podnet_free() disconnects what is still connected.
 */

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "lib/config.h"
#include "lib/error.h"
#include "host/netdev.h"

/* More interfaces than this in one pod is refused (E2BIG): microvm has 24
 * virtio-mmio slots for every device of the VM. */
#define KC_PODNET_MAX_ENDPOINTS 16
#define KC_PODNET_MAX_QUEUES 8

struct kc_podnet_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* 4 or 16 bytes */
	unsigned prefix;
};

/* A route of the main table through one of the pod's interfaces. */
struct kc_podnet_route {
	int family;
	bool has_dst; /* false: the default route */
	uint8_t dst[16];
	unsigned dst_len;
	bool has_gw;
	uint8_t gw[16];
	bool has_src;
	uint8_t src[16];
	unsigned scope; /* RT_SCOPE_* */
	unsigned flags; /* RTNH_F_ONLINK or 0 */
	unsigned mtu; /* the route's MTU metric, 0: none */
	char device[IFNAMSIZ];
};

/* A permanent (static) neighbour: Kata copies only those, the guest learns
 * the others itself. */
struct kc_podnet_neigh {
	int family;
	uint8_t ip[16];
	bool has_lladdr;
	uint8_t lladdr[6];
	uint16_t state; /* NUD_PERMANENT */
	uint8_t flags; /* NTF_* */
	char device[IFNAMSIZ];
};

struct kc_podnet_endpoint {
	/* From the scan: the CNI link; the guest's NIC copies name, MAC, MTU
	 * and addresses.  IPv6 link-local addresses are left out: the guest
	 * derives its own from the same MAC. */
	char name[IFNAMSIZ];
	char kind[16]; /* "veth", "macvlan" */
	int ifindex;
	uint8_t mac[6];
	unsigned mtu;
	unsigned flags; /* IFF_* of the link */
	struct kc_podnet_addr *addrs;
	size_t n_addrs;

	/* After kc_podnet_connect(). */
	char tap_name[IFNAMSIZ]; /* "tap<i>_kata" */
	int tap_ifindex;
	unsigned queues;
	int tap_fds[KC_PODNET_MAX_QUEUES]; /* -1 when closed */
	char netdev_id[16]; /* QEMU's id: "net<i>" */
	bool connected;
};

struct kc_podnet {
	char *netns_path; /* NULL: no network (model "none" or no netns) */
	int netns_fd;
	unsigned queues;
	struct kc_podnet_endpoint *endpoints;
	size_t n_endpoints;
	struct kc_podnet_route *routes;
	size_t n_routes;
	struct kc_podnet_neigh *neighbors;
	size_t n_neighbors;
};

struct kc_podnet_options {
	/* Kata's [runtime] internetworking_model: "tcfilter" (also when NULL)
	 * or "none" (no network: the VM gets no NIC and the namespace is not
	 * even opened); "macvtap" is EOPNOTSUPP. */
	const char *model;
	/* Kata's [runtime] disable_new_netns: only valid with model "none"
	 * (EINVAL otherwise, as Kata's configuration check).  kata-c never
	 * creates a namespace for QEMU anyway (it runs in the host's and gets
	 * TAP fds), so it has no other effect. */
	bool disable_new_netns;
	unsigned queues; /* TAP queues per interface; 0 means 1 */
};

void kc_podnet_options_from_config(const struct kc_config *cfg, struct kc_podnet_options *o);

/* The path of the spec's linux.namespaces entry of type "network".  *path
 * is NULL (and 0 is returned) when there is no such entry or it has no
 * path: then the pod has no network for the VM to join.  A path that is not
 * an absolute string is EINVAL. */
int kc_podnet_netns_from_spec(const json_t *spec, char **path, kc_error_t *err);

/* Opens the namespace at netns_path (NULL: no network) and reads its
 * interfaces, addresses, routes and permanent neighbours.  Errors: ENOENT
 * for a path that does not exist, EINVAL for one that is not a network
 * namespace or is the caller's own, EOPNOTSUPP for an interface that
 * cannot be connected, EADDRNOTAVAIL when there are interfaces but none has
 * an IP address, E2BIG over KC_PODNET_MAX_ENDPOINTS.  Nothing in the
 * namespace changes. */
int kc_podnet_scan(const char *netns_path, const struct kc_podnet_options *o,
		   struct kc_podnet **out, kc_error_t *err);

/* Creates the TAPs and the tc redirects for every endpoint.  On failure
 * everything this call made is removed again (EEXIST when tap<i>_kata
 * exists already, or when a veth already has an ingress qdisc: kata-c
 * refuses to share or replace another tc user's). */
int kc_podnet_connect(struct kc_podnet *net, kc_error_t *err);

/* Switches the calling thread into the pod's namespace (net->netns_fd)
 * until kc_podnet_leave(saved): what it creates there (sockets, children
 * it forks) stays in the pod's namespace. */
int kc_podnet_enter(const struct kc_podnet *net, int *saved, kc_error_t *err);
void kc_podnet_leave(int *saved);

/* Removes the filters and qdiscs and closes the TAP fds.  Call it once the
 * VM is gone: while QEMU holds a TAP fd the device lives on.  A veth or a
 * namespace that vanished meanwhile (CNI DEL ran first) is not an error.
 * Idempotent. */
int kc_podnet_disconnect(struct kc_podnet *net, kc_error_t *err);

/* After a dead shim (from the sandbox's state): in netns_path, removes the
 * ingress qdisc (and so the redirect) of each links[i] and deletes TAP
 * taps[i] if it is still there.  A namespace already gone is success. */
int kc_podnet_cleanup_dead(const char *netns_path, const char *const *links,
			   const char *const *taps, size_t n, kc_error_t *err);

void kc_podnet_free(struct kc_podnet *net);
static inline void kc_podnet_freep(struct kc_podnet **p)
{
	kc_podnet_free(*p);
	*p = NULL;
}
#define cleanup_podnet __attribute__((cleanup(kc_podnet_freep)))

/* QEMU's arguments for a connected endpoint (a NULL-terminated vector to
 * free with kc_free_strv()):
 *   -netdev tap,id=net<i>,fd=N,vhost=off        (fds=N:M:... with queues)
 *   -device virtio-net-device,netdev=net<i>,mac=<veth's MAC>[,mq=on]
 * child_fds: the fd numbers the TAP fds will have in QEMU, ep->queues of
 * them; NULL: the same numbers as here.  vhost=off: no /dev/vhost-net here;
 * where it exists the launcher may open it and pass vhostfd= instead. */
char **kc_podnet_qemu_args(const struct kc_podnet_endpoint *ep, const int *child_fds);

/* The connected endpoints as the VM's NICs for struct kc_vm_spec: an
 * array of net->n_endpoints (free() it; NULL when there are none) that
 * points into net, so it is valid while net stays connected. */
struct kc_vm_netdev *kc_podnet_vm_netdevs(const struct kc_podnet *net);

/* The agent's requests for the guest side, in the order Kata sends them:
 * one UpdateInterface per endpoint (matched by MAC; name, MTU, addresses,
 * NOARP), one UpdateRoutes with every route, one AddARPNeighbors.  Built
 * with malloc: kc_podnet_agent_msgs_free() (or
 * protobuf_c_message_free_unpacked(msg, NULL) on each) frees them. */
struct kc_podnet_agent_msgs {
	Grpc__UpdateInterfaceRequest **interfaces;
	size_t n_interfaces;
	Grpc__UpdateRoutesRequest *routes;
	Grpc__AddARPNeighborsRequest *neighbors;
};
void kc_podnet_agent_msgs(const struct kc_podnet *net, struct kc_podnet_agent_msgs *out);
void kc_podnet_agent_msgs_free(struct kc_podnet_agent_msgs *m);

/* The guest's resolv.conf lines for CreateSandboxRequest.dns, from the
 * file the spec mounts on /etc/resolv.conf (Kata's getDNS): a
 * NULL-terminated vector (kc_free_strv()) without blank and comment lines;
 * *lines is NULL when the spec mounts no such file.  The source must be an
 * absolute path to a regular file of at most 64 KiB and 256 lines. */
int kc_podnet_dns_from_spec(const json_t *spec, char ***lines, kc_error_t *err);

/* "aa:bb:cc:dd:ee:ff"; the address as inet_ntop() writes it.  Both return
 * buf. */
char *kc_podnet_format_mac(const uint8_t mac[6], char buf[18]);
char *kc_podnet_format_ip(int family, const uint8_t *addr, char buf[46]);

#endif
