/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata's tcfilter model in netlink: an ingress qdisc (ffff:) on a link and
 * a u32 filter that matches every frame (one key, mask 0) and redirects it
 * to the egress of another link (`tc filter add dev A ingress prio 1
 * protocol all u32 match u32 0 0 action mirred egress redirect dev B`).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <string.h>

#include "internal.h"
#include "lib/util.h"

/* Our filter's priority: one fixed value, so `tc filter show` is stable. */
#define KC_TC_PRIO 1

static struct tcmsg *tc_msg(struct kc_nl_msg *msg, uint16_t type, uint16_t flags, int ifindex)
{
	struct tcmsg *tc = kc_nl_msg_init(msg, type, flags, sizeof(*tc));

	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = ifindex;
	return tc;
}

int kc_tc_ingress_add(struct kc_nl *m, int ifindex, const char *dev, kc_error_t *err)
{
	struct kc_nl_msg msg;
	/* EXCL: an ingress qdisc that exists belongs to another tc user
	 * (a CNI plugin such as bandwidth); replacing it would break it and
	 * deleting it at teardown would not leave the link as we found it. */
	struct tcmsg *tc = tc_msg(&msg, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex);
	cleanup_free char *what = kc_xasprintf("add ingress qdisc on `%s`", dev);

	tc->tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0);
	tc->tcm_parent = TC_H_INGRESS;
	kc_nl_put_str(&msg, TCA_KIND, "ingress");
	return kc_nl_request(m, &msg, what, err);
}

int kc_tc_ingress_del(struct kc_nl *m, int ifindex, const char *dev, kc_error_t *err)
{
	struct kc_nl_msg msg;
	struct tcmsg *tc = tc_msg(&msg, RTM_DELQDISC, 0, ifindex);
	cleanup_free char *what = kc_xasprintf("delete ingress qdisc on `%s`", dev);

	tc->tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0);
	tc->tcm_parent = TC_H_INGRESS;
	return kc_nl_request(m, &msg, what, err);
}

int kc_tc_redirect_add(struct kc_nl *m, int from, const char *from_name, int to,
		       const char *to_name, kc_error_t *err)
{
	struct kc_nl_msg msg;
	struct tcmsg *tc = tc_msg(&msg, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, from);
	cleanup_free char *what = kc_xasprintf("add redirect filter `%s` -> `%s`", from_name,
					       to_name);
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key;
	} sel;
	struct tc_mirred mirred;
	struct rtattr *opts, *acts, *act, *aopts;

	tc->tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0);
	tc->tcm_info = TC_H_MAKE(KC_TC_PRIO << 16, htons(ETH_P_ALL));
	kc_nl_put_str(&msg, TCA_KIND, "u32");
	opts = kc_nl_nest_start(&msg, TCA_OPTIONS);

	/* One key with mask 0 matches everything; TERMINAL ends the walk. */
	memset(&sel, 0, sizeof(sel));
	sel.sel.flags = TC_U32_TERMINAL;
	sel.sel.nkeys = 1;
	kc_nl_put(&msg, TCA_U32_SEL, &sel, sizeof(sel));

	acts = kc_nl_nest_start(&msg, TCA_U32_ACT);
	act = kc_nl_nest_start(&msg, 1); /* the first action of the list */
	kc_nl_put_str(&msg, TCA_ACT_KIND, "mirred");
	aopts = kc_nl_nest_start(&msg, TCA_ACT_OPTIONS);
	memset(&mirred, 0, sizeof(mirred));
	/* STOLEN: the frame is consumed, the source link's stack never
	 * sees it (it is the guest's, not the namespace's). */
	mirred.action = TC_ACT_STOLEN;
	mirred.eaction = TCA_EGRESS_REDIR;
	mirred.ifindex = (uint32_t)to;
	kc_nl_put(&msg, TCA_MIRRED_PARMS, &mirred, sizeof(mirred));
	kc_nl_nest_end(&msg, aopts);
	kc_nl_nest_end(&msg, act);
	kc_nl_nest_end(&msg, acts);
	kc_nl_nest_end(&msg, opts);
	return kc_nl_request(m, &msg, what, err);
}
