/* SPDX-License-Identifier: Apache-2.0 */
/* A pod's network: scan, connect (TAP + tc redirects), disconnect, and
 * the QEMU arguments of each endpoint. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "lib/log.h"
#include "lib/util.h"

_Static_assert(KC_PODNET_MAX_ENDPOINTS <= KC_VM_MAX_NETDEVS, "every endpoint fits a VM");
_Static_assert(KC_PODNET_MAX_QUEUES <= KC_VM_MAX_NETDEV_FDS, "every queue fits a NIC");

void kc_podnet_options_from_config(const struct kc_config *cfg, struct kc_podnet_options *o)
{
	memset(o, 0, sizeof(*o));
	o->model = cfg->runtime.internetworking_model;
	o->disable_new_netns = cfg->runtime.disable_new_netns;
	o->queues = 1;
}

int kc_podnet_netns_from_spec(const json_t *spec, char **path, kc_error_t *err)
{
	const json_t *ns = json_object_get(json_object_get(spec, "linux"), "namespaces");
	size_t i;
	const json_t *n;

	*path = NULL;
	if (!ns)
		return 0;
	if (!json_is_array(ns))
		return kc_error_set(err, EINVAL, "oci spec: linux.namespaces is not an array");
	json_array_foreach(ns, i, n)
	{
		const json_t *type = json_object_get(n, "type");
		const json_t *p = json_object_get(n, "path");

		if (!json_is_string(type) || strcmp(json_string_value(type), "network") != 0)
			continue;
		if (!p)
			return 0;
		if (!json_is_string(p) || json_string_value(p)[0] != '/')
			return kc_error_set(err, EINVAL,
					    "oci spec: linux.namespaces[%zu].path is not an "
					    "absolute path",
					    i);
		*path = kc_xstrdup(json_string_value(p));
		return 0;
	}
	return 0;
}

static struct kc_podnet *podnet_new(void)
{
	struct kc_podnet *net = kc_xzalloc(sizeof(*net));

	net->netns_fd = -1;
	net->queues = 1;
	return net;
}

int kc_podnet_scan(const char *netns_path, const struct kc_podnet_options *o,
		   struct kc_podnet **out, kc_error_t *err)
{
	cleanup_podnet struct kc_podnet *net = podnet_new();
	const char *model = o && o->model ? o->model : "tcfilter";
	int saved = -1, ret;

	if (strcmp(model, "macvtap") == 0)
		return kc_error_set(err, EOPNOTSUPP,
				    "internetworking_model `macvtap` is not implemented: use "
				    "`tcfilter` or `none`");
	if (strcmp(model, "tcfilter") != 0 && strcmp(model, "none") != 0)
		return kc_error_set(err, EINVAL, "unknown internetworking_model `%s`", model);
	if (o && o->disable_new_netns && strcmp(model, "none") != 0)
		return kc_error_set(err, EINVAL,
				    "disable_new_netns works only with internetworking_model "
				    "`none`, not `%s`",
				    model);
	if (o && o->queues > KC_PODNET_MAX_QUEUES)
		return kc_error_set(err, EINVAL, "%u network queues: at most %d", o->queues,
				    KC_PODNET_MAX_QUEUES);
	if (o && o->queues)
		net->queues = o->queues;
	if (!netns_path || strcmp(model, "none") == 0) {
		*out = kc_steal_ptr(&net);
		return 0;
	}

	net->netns_path = kc_xstrdup(netns_path);
	ret = kc_netns_open(netns_path, &net->netns_fd, err);
	if (ret < 0)
		return ret;
	ret = kc_netns_enter(net->netns_fd, netns_path, &saved, err);
	if (ret < 0)
		return ret;
	ret = kc_podnet_scan_current(net, err);
	kc_netns_leave(&saved);
	if (ret < 0)
		return kc_error_wrap(err, "scan network namespace `%s`", netns_path);
	*out = kc_steal_ptr(&net);
	return 0;
}

/* Undoes connect_one() for ep, in the current namespace.  Errors on links
 * that vanished are expected (CNI DEL may have run first): the veth is gone
 * with its qdisc, and the TAP goes with our fds. */
static int disconnect_one(struct kc_nl *m, struct kc_podnet_endpoint *ep, kc_error_t *err)
{
	int ret = 0, r;

	if (ep->connected) {
		cleanup_error kc_error_t e = NULL;

		r = kc_tc_ingress_del(m, ep->ifindex, ep->name, &e);
		if (r < 0 && r != -ENOENT && r != -ENODEV && r != -EINVAL) {
			ret = r;
			*err = kc_steal_ptr(&e);
		}
		kc_error_free(&e);
		r = kc_tc_ingress_del(m, ep->tap_ifindex, ep->tap_name, &e);
		if (r < 0 && r != -ENOENT && r != -ENODEV && r != -EINVAL && ret == 0) {
			ret = r;
			*err = kc_steal_ptr(&e);
		}
	}
	for (unsigned q = 0; q < KC_PODNET_MAX_QUEUES; q++) {
		if (ep->tap_fds[q] >= 0)
			close(ep->tap_fds[q]);
		ep->tap_fds[q] = -1;
	}
	ep->connected = false;
	ep->tap_ifindex = 0;
	return ret;
}

/* Steps of one endpoint; `done` says how far it got, for the undo. */
enum { DONE_NONE, DONE_TAP, DONE_VETH_QDISC, DONE_ALL };

static int connect_one(struct kc_nl *m, struct kc_podnet *net, size_t i, kc_error_t *err)
{
	struct kc_podnet_endpoint *ep = &net->endpoints[i];
	cleanup_error kc_error_t e = NULL;
	int ret;

	/* i < KC_PODNET_MAX_ENDPOINTS (the scan's limit): the narrow type
	 * shows the compiler of release builds that the names fit. */
	snprintf(ep->tap_name, sizeof(ep->tap_name), "tap%u_kata", (unsigned char)i);
	snprintf(ep->netdev_id, sizeof(ep->netdev_id), "net%u", (unsigned char)i);
	ep->queues = net->queues;
	ret = kc_tap_create(ep->tap_name, ep->queues, ep->tap_fds, err);
	if (ret < 0)
		return ret;
	ep->tap_ifindex = (int)if_nametoindex(ep->tap_name);
	if (ep->tap_ifindex == 0) {
		ret = kc_error_set(err, errno, "find TAP `%s`", ep->tap_name);
		goto fail;
	}
	/* Same MTU as the veth: a bigger frame from the guest would be
	 * dropped on the veth's egress. */
	ret = kc_link_set_mtu_up(m, ep->tap_ifindex, ep->tap_name, ep->mtu, err);
	if (ret < 0)
		goto fail;
	ret = kc_tc_ingress_add(m, ep->ifindex, ep->name, err);
	if (ret == -EEXIST) {
		kc_error_free(err);
		ret = kc_error_set(err, EEXIST,
				   "`%s` already has an ingress qdisc (another tc user's): "
				   "kata-c does not replace it",
				   ep->name);
	}
	if (ret < 0)
		goto fail;
	/* From here on disconnect_one() removes the veth's qdisc. */
	ep->connected = true;
	ret = kc_tc_ingress_add(m, ep->tap_ifindex, ep->tap_name, err);
	if (ret >= 0)
		ret = kc_tc_redirect_add(m, ep->ifindex, ep->name, ep->tap_ifindex, ep->tap_name,
					 err);
	if (ret >= 0)
		ret = kc_tc_redirect_add(m, ep->tap_ifindex, ep->tap_name, ep->ifindex, ep->name,
					 err);
	if (ret >= 0)
		return 0;
fail:
	(void)disconnect_one(m, ep, &e);
	return ret;
}

int kc_podnet_connect(struct kc_podnet *net, kc_error_t *err)
{
	struct kc_nl m = { .fd = -1 };
	int saved = -1, ret;
	size_t i;

	if (net->n_endpoints == 0)
		return 0;
	for (i = 0; i < net->n_endpoints; i++)
		if (net->endpoints[i].connected)
			return kc_error_set(err, EALREADY, "`%s` is connected already",
					    net->endpoints[i].name);
	ret = kc_netns_enter(net->netns_fd, net->netns_path, &saved, err);
	if (ret < 0)
		return ret;
	ret = kc_nl_open(&m, err);
	if (ret < 0) {
		kc_netns_leave(&saved);
		return kc_error_wrap(err, "connect the interfaces of `%s`", net->netns_path);
	}
	for (i = 0; i < net->n_endpoints; i++) {
		ret = connect_one(&m, net, i, err);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		const struct kc_podnet_endpoint *ep = &net->endpoints[i];

		kc_error_wrap(err, "connect `%s` to `%s` in `%s`", ep->name, ep->tap_name,
			      net->netns_path);
		/* All or nothing: the ones before the failure go too. */
		while (i > 0) {
			cleanup_error kc_error_t e = NULL;

			(void)disconnect_one(&m, &net->endpoints[--i], &e);
		}
	}
	kc_nl_close(&m);
	kc_netns_leave(&saved);
	if (ret < 0)
		return ret;
	kc_info("pod network: %zu interface(s) of `%s` connected", net->n_endpoints,
		net->netns_path);
	return 0;
}

int kc_podnet_disconnect(struct kc_podnet *net, kc_error_t *err)
{
	struct kc_nl m = { .fd = -1 };
	bool any = false;
	int saved = -1, ret = 0;

	if (!net)
		return 0;
	for (size_t i = 0; i < net->n_endpoints; i++)
		any |= net->endpoints[i].connected || net->endpoints[i].tap_fds[0] >= 0;
	if (!any)
		return 0;
	ret = kc_netns_enter(net->netns_fd, net->netns_path, &saved, err);
	if (ret >= 0)
		ret = kc_nl_open(&m, err);
	if (ret < 0) {
		/* Without the namespace the fds still go: the TAPs vanish
		 * with them, and their qdiscs and filters with the TAPs. */
		kc_netns_leave(&saved);
		for (size_t i = 0; i < net->n_endpoints; i++) {
			net->endpoints[i].connected = false;
			for (unsigned q = 0; q < KC_PODNET_MAX_QUEUES; q++) {
				if (net->endpoints[i].tap_fds[q] >= 0)
					close(net->endpoints[i].tap_fds[q]);
				net->endpoints[i].tap_fds[q] = -1;
			}
		}
		return ret;
	}
	for (size_t i = net->n_endpoints; i > 0; i--) {
		cleanup_error kc_error_t e = NULL;
		int r = disconnect_one(&m, &net->endpoints[i - 1], &e);

		if (r < 0 && ret == 0) {
			ret = r;
			*err = kc_steal_ptr(&e);
		}
	}
	kc_nl_close(&m);
	kc_netns_leave(&saved);
	if (ret < 0)
		return kc_error_wrap(err, "disconnect the pod network of `%s`", net->netns_path);
	return 0;
}

void kc_podnet_free(struct kc_podnet *net)
{
	cleanup_error kc_error_t e = NULL;

	if (!net)
		return;
	if (kc_podnet_disconnect(net, &e) < 0)
		kc_log_error_free(KC_LOG_WARNING, &e, "pod network");
	for (size_t i = 0; i < net->n_endpoints; i++)
		free(net->endpoints[i].addrs);
	free(net->endpoints);
	free(net->routes);
	free(net->neighbors);
	if (net->netns_fd >= 0)
		close(net->netns_fd);
	free(net->netns_path);
	free(net);
}

char *kc_podnet_format_mac(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	return buf;
}

char *kc_podnet_format_ip(int family, const uint8_t *addr, char buf[46])
{
	if (!inet_ntop(family, addr, buf, 46))
		snprintf(buf, 46, "?");
	return buf;
}

char **kc_podnet_qemu_args(const struct kc_podnet_endpoint *ep, const int *child_fds)
{
	char **argv = kc_xzalloc(5 * sizeof(*argv));
	cleanup_free char *fds = kc_xstrdup("");
	char mac[18];

	for (unsigned q = 0; q < ep->queues; q++) {
		char *s = kc_xasprintf("%s%s%d", fds, q ? ":" : "",
				       child_fds ? child_fds[q] : ep->tap_fds[q]);

		free(fds);
		fds = s;
	}
	argv[0] = kc_xstrdup("-netdev");
	argv[1] = kc_xasprintf("tap,id=%s,%s=%s,vhost=off", ep->netdev_id,
			       ep->queues > 1 ? "fds" : "fd", fds);
	argv[2] = kc_xstrdup("-device");
	argv[3] = kc_xasprintf("virtio-net-device,netdev=%s,mac=%s%s", ep->netdev_id,
			       kc_podnet_format_mac(ep->mac, mac), ep->queues > 1 ? ",mq=on" : "");
	return argv;
}

struct kc_vm_netdev *kc_podnet_vm_netdevs(const struct kc_podnet *net)
{
	struct kc_vm_netdev *v;

	if (!net || net->n_endpoints == 0)
		return NULL;
	v = kc_xzalloc(net->n_endpoints * sizeof(*v));
	for (size_t i = 0; i < net->n_endpoints; i++) {
		const struct kc_podnet_endpoint *ep = &net->endpoints[i];

		v[i].id = ep->netdev_id;
		memcpy(v[i].mac, ep->mac, 6);
		v[i].fds = ep->tap_fds;
		v[i].n_fds = ep->connected ? ep->queues : 0;
	}
	return v;
}

/* Deletes link `name` of the current namespace if it exists. */
static int link_del(struct kc_nl *nl, const char *name, kc_error_t *err)
{
	struct kc_nl_msg msg;
	struct ifinfomsg *ifi;
	cleanup_free char *what = kc_xasprintf("delete link `%s`", name);
	int ifindex = (int)if_nametoindex(name);

	if (ifindex == 0)
		return 0;
	ifi = kc_nl_msg_init(&msg, RTM_DELLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return kc_nl_request(nl, &msg, what, err);
}

int kc_podnet_cleanup_dead(const char *netns_path, const char *const *links,
			   const char *const *taps, size_t n, kc_error_t *err)
{
	struct kc_nl m = { .fd = -1 };
	cleanup_close int nsfd = -1;
	int saved = -1, ret;

	if (n == 0)
		return 0;
	ret = kc_netns_open(netns_path, &nsfd, err);
	if (ret == -ENOENT || ret == -EINVAL) {
		/* CNI DEL ran first: the namespace went with all of it. */
		kc_error_free(err);
		return 0;
	}
	if (ret >= 0)
		ret = kc_netns_enter(nsfd, netns_path, &saved, err);
	if (ret < 0)
		return ret;
	ret = kc_nl_open(&m, err);
	for (size_t i = 0; i < n && ret >= 0; i++) {
		int ifindex = (int)if_nametoindex(links[i]);

		/* Our redirect's qdisc: connect refuses a link that has one. */
		if (ifindex > 0) {
			ret = kc_tc_ingress_del(&m, ifindex, links[i], err);
			if (ret == -ENOENT || ret == -EINVAL) {
				kc_error_free(err);
				ret = 0;
			}
		}
		if (ret >= 0)
			ret = link_del(&m, taps[i], err);
	}
	kc_nl_close(&m);
	kc_netns_leave(&saved);
	if (ret < 0)
		return kc_error_wrap(err, "clean the pod network of `%s`", netns_path);
	return 0;
}
