/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process's identity and limits, in the child before exec: rlimits,
 * then (in this order, as runc) the bounding set, supplementary groups,
 * gid and uid with the permitted set kept across the uid change, the
 * effective/permitted/inheritable sets, the ambient set, umask and
 * no_new_privileges.  Raw capset/prctl: no library for 40 bits.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container.h"
#include "lib/util.h"

int kc_proc_apply_rlimits(const struct kc_oci_process *p, kc_error_t *err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct kc_oci_rlimit *r = &p->rlimits[i];
		struct rlimit rl = { .rlim_cur = r->soft, .rlim_max = r->hard };

		if (setrlimit(r->resource, &rl) < 0)
			return kc_error_set(err, errno, "setrlimit %d to %llu/%llu", r->resource,
					    (unsigned long long)r->soft,
					    (unsigned long long)r->hard);
	}
	return 0;
}

/* The highest capability this kernel knows. */
static int last_cap(void)
{
	static int last = -1;
	FILE *f;

	if (last >= 0)
		return last;
	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (!f || fscanf(f, "%d", &last) != 1)
		last = CAP_LAST_CAP;
	if (f)
		fclose(f);
	return last;
}

static int set_caps(const uint64_t *caps, kc_error_t *err)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint64_t mask = last_cap() >= 63 ? ~0ull : (1ull << (last_cap() + 1)) - 1;
	uint64_t eff = caps[KC_OCI_CAP_EFFECTIVE] & mask, prm = caps[KC_OCI_CAP_PERMITTED] & mask;
	uint64_t inh = caps[KC_OCI_CAP_INHERITABLE] & mask;

	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)prm;
	data[1].permitted = (uint32_t)(prm >> 32);
	data[0].inheritable = (uint32_t)inh;
	data[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return kc_error_set(err, errno, "capset (effective %#llx, permitted %#llx)",
				    (unsigned long long)eff, (unsigned long long)prm);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return kc_error_set(err, errno, "clear the ambient set");
	/* As runc does, an ambient capability the process may not hold (it
	 * must be in both the permitted and the inheritable set: EPERM) is
	 * left out rather than failing the container: the process only ends
	 * up with fewer privileges.  Any other failure is an error. */
	for (int c = 0; c <= last_cap(); c++)
		if ((caps[KC_OCI_CAP_AMBIENT] >> c & 1) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
			return kc_error_set(err, errno, "raise ambient capability %s",
					    kc_oci_cap_name(c));
	return 0;
}

int kc_proc_set_identity(const struct kc_oci_process *p, kc_error_t *err)
{
	const struct kc_oci_user *u = &p->user;

	if (p->has_caps) {
		for (int c = 0; c <= last_cap(); c++)
			if (!(p->caps[KC_OCI_CAP_BOUNDING] >> c & 1) &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				return kc_error_set(err, errno, "drop %s from the bounding set",
						    kc_oci_cap_name(c) ? kc_oci_cap_name(c) : "?");
		/* Keep the permitted set across the uid change; the sets are
		 * set right after it. */
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return kc_error_set(err, errno, "prctl PR_SET_KEEPCAPS");
	}
	if (setgroups(u->n_additional_gids, u->additional_gids) < 0)
		return kc_error_set(err, errno, "setgroups (%zu groups)", u->n_additional_gids);
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return kc_error_set(err, errno, "setgid %u", u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return kc_error_set(err, errno, "setuid %u", u->uid);
	if (p->has_caps) {
		int ret = set_caps(p->caps, err);

		if (ret < 0)
			return ret;
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	umask(u->has_umask ? u->umask : 022);
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kc_error_set(err, errno, "prctl PR_SET_NO_NEW_PRIVS");
	return 0;
}
