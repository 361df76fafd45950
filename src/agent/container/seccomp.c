/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linux.seccomp through libseccomp, loaded last before exec.  Syscall
 * names this libseccomp does not know are skipped (profiles list syscalls
 * of newer kernels), as runc does; rules whose action is the default one
 * are redundant and skipped too (libseccomp refuses them).
 */
#include <errno.h>
#include <seccomp.h>
#include <string.h>

#include "container.h"
#include "lib/log.h"
#include "lib/util.h"

static uint32_t action(enum kc_oci_seccomp_action a, bool has_errno, uint32_t errno_ret)
{
	switch (a) {
	case KC_OCI_SCMP_KILL:
		return SCMP_ACT_KILL_THREAD;
	case KC_OCI_SCMP_KILL_PROCESS:
		return SCMP_ACT_KILL_PROCESS;
	case KC_OCI_SCMP_TRAP:
		return SCMP_ACT_TRAP;
	case KC_OCI_SCMP_ERRNO:
		return SCMP_ACT_ERRNO(has_errno ? errno_ret : EPERM);
	case KC_OCI_SCMP_TRACE:
		return SCMP_ACT_TRACE(has_errno ? errno_ret : EPERM);
	case KC_OCI_SCMP_LOG:
		return SCMP_ACT_LOG;
	case KC_OCI_SCMP_ALLOW:
	case KC_OCI_SCMP_NOTIFY: /* refused by the parser */
		break;
	}
	return SCMP_ACT_ALLOW;
}

static enum scmp_compare op(enum kc_oci_seccomp_op o)
{
	static const enum scmp_compare ops[] = {
		[KC_OCI_SCMP_CMP_NE] = SCMP_CMP_NE,
		[KC_OCI_SCMP_CMP_LT] = SCMP_CMP_LT,
		[KC_OCI_SCMP_CMP_LE] = SCMP_CMP_LE,
		[KC_OCI_SCMP_CMP_EQ] = SCMP_CMP_EQ,
		[KC_OCI_SCMP_CMP_GE] = SCMP_CMP_GE,
		[KC_OCI_SCMP_CMP_GT] = SCMP_CMP_GT,
		[KC_OCI_SCMP_CMP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
	};

	return ops[o];
}

static int add_rule(scmp_filter_ctx ctx, const struct kc_oci_seccomp_rule *r, uint32_t act, int nr,
		    size_t ri, size_t k, kc_error_t *err)
{
	struct scmp_arg_cmp cmp[6];
	bool repeated = false;
	int ret;

	for (size_t i = 0; i < r->n_args; i++) {
		cmp[i] = (struct scmp_arg_cmp){ .arg = r->args[i].index,
						.op = op(r->args[i].op),
						.datum_a = r->args[i].value,
						.datum_b = r->args[i].value_two };
		for (size_t j = 0; j < i; j++)
			repeated |= r->args[j].index == r->args[i].index;
	}
	if (!repeated) {
		ret = seccomp_rule_add_array(ctx, act, nr, (unsigned)r->n_args, cmp);
	} else {
		/* Conditions on one argument twice: libseccomp wants them as
		 * separate rules (an OR), as runc adds them. */
		ret = 0;
		for (size_t i = 0; i < r->n_args && ret == 0; i++)
			ret = seccomp_rule_add_array(ctx, act, nr, 1, &cmp[i]);
	}
	if (ret < 0)
		return kc_error_set(err, -ret,
				    "linux.seccomp.syscalls[%zu].names[%zu]: the rule for `%s` is "
				    "refused by libseccomp",
				    ri, k, r->names[k]);
	return 0;
}

/*
 * The whole filter, built but not loaded; errors name the spec's field.
 * CreateContainer builds it once in the agent (kc_seccomp_check), so that
 * a filter libseccomp refuses fails there, not in the child at start.
 */
static int build(const struct kc_oci_seccomp *s, scmp_filter_ctx *out, kc_error_t *err)
{
	uint32_t def = action(s->default_action, s->has_default_errno, s->default_errno);
	scmp_filter_ctx ctx = seccomp_init(def);
	int ret = 0;

	if (!ctx)
		return kc_error_set(err, EINVAL,
				    "linux.seccomp.defaultAction: refused by "
				    "libseccomp");
	for (size_t i = 0; s->architectures[i]; i++) {
		cleanup_free char *lower = kc_xstrdup(s->architectures[i] + strlen("SCMP_ARCH_"));
		uint32_t arch;

		for (char *c = lower; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
		arch = seccomp_arch_resolve_name(lower);
		if (arch == 0) {
			ret = kc_error_set(err, EINVAL,
					   "linux.seccomp.architectures[%zu]: architecture `%s` is "
					   "unknown to libseccomp",
					   i, s->architectures[i]);
			goto out;
		}
		ret = seccomp_arch_add(ctx, arch);
		if (ret < 0 && ret != -EEXIST) {
			ret = kc_error_set(err, -ret, "linux.seccomp.architectures[%zu]: `%s`", i,
					   s->architectures[i]);
			goto out;
		}
		ret = 0;
	}
	for (size_t i = 0; s->flags[i]; i++) {
		const char *f = s->flags[i];

		if (strcmp(f, "SECCOMP_FILTER_FLAG_LOG") == 0)
			ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
		else if (strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
			ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
		else if (strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
			ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
		if (ret < 0) {
			ret = kc_error_set(err, -ret, "linux.seccomp.flags[%zu]: `%s`", i, f);
			goto out;
		}
	}
	for (size_t i = 0; i < s->n_rules; i++) {
		const struct kc_oci_seccomp_rule *r = &s->rules[i];
		uint32_t act = action(r->action, r->has_errno, r->errno_ret);

		if (act == def)
			continue;
		for (size_t k = 0; r->names[k]; k++) {
			int nr = seccomp_syscall_resolve_name(r->names[k]);

			if (nr == __NR_SCMP_ERROR) {
				/* No log: the child's stderr is the container's. */
				continue;
			}
			ret = add_rule(ctx, r, act, nr, i, k, err);
			if (ret < 0)
				goto out;
		}
	}
	*out = ctx;
	return 0;
out:
	seccomp_release(ctx);
	return ret;
}

int kc_seccomp_check(const struct kc_oci_seccomp *s, kc_error_t *err)
{
	scmp_filter_ctx ctx;
	int ret = build(s, &ctx, err);

	if (ret < 0)
		return ret;
	seccomp_release(ctx);
	return 0;
}

int kc_seccomp_load(const struct kc_oci_seccomp *s, kc_error_t *err)
{
	scmp_filter_ctx ctx;
	int ret = build(s, &ctx, err);

	if (ret < 0)
		return ret;
	ret = seccomp_load(ctx);
	if (ret < 0)
		ret = kc_error_set(err, -ret, "seccomp_load");
	seccomp_release(ctx);
	return ret;
}
