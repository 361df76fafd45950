/* SPDX-License-Identifier: Apache-2.0 */
/* config.json's linux section: namespaces, id maps, devices, resources,
 * paths, sysctls, seccomp. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/util.h"
#include "parse.h"
#include "spec.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define MAX_LIST 65536

/* Runs fn on every element of the array field `key` (absent: nothing),
 * with the element's path pushed. */
#define FOREACH_ELEM(c, obj, key, n_out, elem_fn, ...) \
	({ \
		json_t *arr_ = NULL; \
		int ret_ = kc_oci_get_array(c, obj, key, &arr_); \
		if (ret_ >= 0 && arr_ && json_array_size(arr_) > MAX_LIST) \
			ret_ = kc_oci_fail_key(c, key, "more than %d entries", MAX_LIST); \
		if (ret_ > 0) { \
			size_t old_ = kc_oci_push_key(c, key); \
			for (size_t i_ = 0; i_ < json_array_size(arr_) && ret_ >= 0; i_++) { \
				size_t o2_ = kc_oci_push_index(c, i_); \
				ret_ = elem_fn(c, json_array_get(arr_, i_), i_, __VA_ARGS__); \
				kc_oci_pop(c, o2_); \
			} \
			kc_oci_pop(c, old_); \
		} \
		(void)(n_out); \
		ret_ < 0 ? ret_ : 0; \
	})

static void *grow(void *arr, size_t n, size_t size)
{
	return kc_xrealloc(arr, (n + 1) * size);
}

/* ---- namespaces ---- */

static int ns_type(const char *s)
{
	static const struct {
		const char *name;
		int flag;
	} types[] = {
		{ "pid", CLONE_NEWPID },       { "network", CLONE_NEWNET },
		{ "mount", CLONE_NEWNS },      { "ipc", CLONE_NEWIPC },
		{ "uts", CLONE_NEWUTS },       { "user", CLONE_NEWUSER },
		{ "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
	};

	for (size_t i = 0; i < KC_ARRAY_SIZE(types); i++)
		if (strcmp(types[i].name, s) == 0)
			return types[i].flag;
	return -1;
}

static int parse_ns(struct kc_oci_ctx *c, json_t *o, size_t i, struct kc_oci_linux *l)
{
	cleanup_free char *type = NULL;
	struct kc_oci_namespace *ns;
	int ret, t;

	(void)i;
	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	ret = kc_oci_get_string(c, o, "type", &type);
	if (ret == 0)
		ret = kc_oci_fail_key(c, "type", "missing");
	if (ret < 0)
		return ret;
	t = ns_type(type);
	if (t < 0)
		return kc_oci_fail_key(c, "type", "unknown namespace \"%s\"", type);
	for (size_t k = 0; k < l->n_namespaces; k++)
		if (l->namespaces[k].type == t)
			return kc_oci_fail_key(c, "type", "namespace \"%s\" given twice", type);
	l->namespaces = grow(l->namespaces, l->n_namespaces, sizeof(*ns));
	ns = &l->namespaces[l->n_namespaces++];
	memset(ns, 0, sizeof(*ns));
	ns->type = t;
	return kc_oci_get_abs_path(c, o, "path", &ns->path);
}

/* ---- id mappings ---- */

static int parse_idmap(struct kc_oci_ctx *c, json_t *o, size_t i, struct kc_oci_idmap **maps,
		       size_t *n)
{
	struct kc_oci_idmap m = { 0 };
	int ret;

	(void)i;
	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	if ((ret = kc_oci_get_u32(c, o, "containerID", &m.container_id)) == 0)
		ret = kc_oci_fail_key(c, "containerID", "missing");
	if (ret < 0)
		return ret;
	if ((ret = kc_oci_get_u32(c, o, "hostID", &m.host_id)) == 0)
		ret = kc_oci_fail_key(c, "hostID", "missing");
	if (ret < 0)
		return ret;
	if ((ret = kc_oci_get_u32(c, o, "size", &m.size)) == 0)
		ret = kc_oci_fail_key(c, "size", "missing");
	if (ret < 0)
		return ret;
	if (m.size == 0)
		return kc_oci_fail_key(c, "size", "must not be 0");
	/* (uid_t)-1 is no id: the kernel refuses a map that reaches it. */
	if ((uint64_t)m.container_id + m.size > UINT32_MAX ||
	    (uint64_t)m.host_id + m.size > UINT32_MAX)
		return kc_oci_fail_key(c, "size", "the range reaches past id %u", UINT32_MAX - 1);
	*maps = grow(*maps, *n, sizeof(m));
	(*maps)[(*n)++] = m;
	return 0;
}

/* ---- devices ---- */

static int parse_device(struct kc_oci_ctx *c, json_t *o, size_t i, struct kc_oci_linux *l)
{
	struct kc_oci_device *d;
	cleanup_free char *type = NULL;
	int ret;

	(void)i;
	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	l->devices = grow(l->devices, l->n_devices, sizeof(*d));
	d = &l->devices[l->n_devices++];
	memset(d, 0, sizeof(*d));
	ret = kc_oci_get_abs_path(c, o, "path", &d->path);
	if (ret == 0)
		ret = kc_oci_fail_key(c, "path", "missing");
	if (ret < 0)
		return ret;
	ret = kc_oci_get_string(c, o, "type", &type);
	if (ret == 0)
		ret = kc_oci_fail_key(c, "type", "missing");
	if (ret < 0)
		return ret;
	if (strlen(type) != 1 || !strchr("cbup", type[0]))
		return kc_oci_fail_key(c, "type", "\"%s\" is not a device type (c, b, u or p)",
				       type);
	d->type = type[0];
	if (d->type != 'p') {
		if ((ret = kc_oci_get_i64(c, o, "major", 0, &d->major)) == 0)
			ret = kc_oci_fail_key(c, "major", "missing");
		if (ret < 0)
			return ret;
		if ((ret = kc_oci_get_i64(c, o, "minor", 0, &d->minor)) == 0)
			ret = kc_oci_fail_key(c, "minor", "missing");
		if (ret < 0)
			return ret;
		if (d->major > 0xfff || d->minor > 0xfffff)
			return kc_oci_fail(c, "device number %lld:%lld out of range",
					   (long long)d->major, (long long)d->minor);
	}
	ret = kc_oci_get_u32(c, o, "fileMode", &d->mode);
	if (ret < 0)
		return ret;
	d->has_mode = ret > 0;
	if (d->has_mode && d->mode > 07777)
		return kc_oci_fail_key(c, "fileMode", "%#o is not a permission mode", d->mode);
	if ((ret = kc_oci_get_u32(c, o, "uid", &d->uid)) < 0)
		return ret;
	d->has_uid = ret > 0;
	if ((ret = kc_oci_get_u32(c, o, "gid", &d->gid)) < 0)
		return ret;
	d->has_gid = ret > 0;
	return 0;
}

/* ---- resources ---- */

static int check_device_rule(struct kc_oci_ctx *c, json_t *o, size_t i, void *unused)
{
	cleanup_free char *type = NULL, *access = NULL;
	bool allow;
	int64_t n;
	int ret;

	(void)i;
	(void)unused;
	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	if ((ret = kc_oci_get_bool(c, o, "allow", &allow)) == 0)
		ret = kc_oci_fail_key(c, "allow", "missing");
	if (ret < 0)
		return ret;
	if ((ret = kc_oci_get_string(c, o, "type", &type)) < 0)
		return ret;
	if (type && (strlen(type) != 1 || !strchr("acb", type[0])))
		return kc_oci_fail_key(c, "type", "\"%s\" is not a, c or b", type);
	if ((ret = kc_oci_get_i64(c, o, "major", -1, &n)) < 0 ||
	    (ret = kc_oci_get_i64(c, o, "minor", -1, &n)) < 0 ||
	    (ret = kc_oci_get_string(c, o, "access", &access)) < 0)
		return ret;
	if (access && (!access[0] || strspn(access, "rwm") != strlen(access)))
		return kc_oci_fail_key(c, "access", "\"%s\" is not made of r, w and m", access);
	return 0;
}

static int check_hugepage(struct kc_oci_ctx *c, json_t *o, size_t i, void *unused)
{
	cleanup_free char *size = NULL;
	uint64_t limit;
	int ret;

	(void)i;
	(void)unused;
	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	if ((ret = kc_oci_get_string(c, o, "pageSize", &size)) == 0)
		ret = kc_oci_fail_key(c, "pageSize", "missing");
	if (ret < 0)
		return ret;
	if ((ret = kc_oci_get_u64(c, o, "limit", &limit)) == 0)
		ret = kc_oci_fail_key(c, "limit", "missing");
	return ret < 0 ? ret : 0;
}

static int check_weight_device(struct kc_oci_ctx *c, json_t *o, size_t i, void *unused)
{
	int64_t n;
	uint64_t u;
	uint32_t w;
	int ret;

	(void)i;
	(void)unused;
	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	if ((ret = kc_oci_get_i64(c, o, "major", 0, &n)) == 0)
		ret = kc_oci_fail_key(c, "major", "missing");
	if (ret < 0)
		return ret;
	if ((ret = kc_oci_get_i64(c, o, "minor", 0, &n)) == 0)
		ret = kc_oci_fail_key(c, "minor", "missing");
	if (ret < 0)
		return ret;
	if ((ret = kc_oci_get_u32(c, o, "weight", &w)) < 0 ||
	    (ret = kc_oci_get_u32(c, o, "leafWeight", &w)) < 0 ||
	    (ret = kc_oci_get_u64(c, o, "rate", &u)) < 0)
		return ret;
	return 0;
}

int kc_oci_parse_resources(struct kc_oci_ctx *c, json_t *j, struct kc_oci_resources *r)
{
	json_t *o = NULL;
	size_t old;
	int ret;

	r->json = json_incref(j);
	if ((ret = kc_oci_get_object(c, j, "memory", &o)) < 0)
		return ret;
	if (o) {
		int64_t kernel;

		old = kc_oci_push_key(c, "memory");
		/* -1 is "unlimited"; any other negative limit is nonsense. */
		if ((ret = kc_oci_get_i64(c, o, "limit", -1, &r->memory_limit)) >= 0) {
			r->has_memory_limit = ret > 0;
			ret = kc_oci_get_i64(c, o, "reservation", -1, &r->memory_reservation);
		}
		if (ret >= 0) {
			r->has_memory_reservation = ret > 0;
			ret = kc_oci_get_i64(c, o, "swap", -1, &r->memory_swap);
		}
		if (ret >= 0) {
			r->has_memory_swap = ret > 0;
			ret = kc_oci_get_u64(c, o, "swappiness", &r->swappiness);
		}
		if (ret >= 0) {
			r->has_swappiness = ret > 0;
			if (r->has_swappiness && r->swappiness > 100)
				ret = kc_oci_fail_key(c, "swappiness", "%llu is above 100",
						      (unsigned long long)r->swappiness);
		}
		if (ret >= 0)
			ret = kc_oci_get_i64(c, o, "kernel", -1, &kernel);
		if (ret >= 0)
			ret = kc_oci_get_i64(c, o, "kernelTCP", -1, &kernel);
		if (ret >= 0) {
			bool b;

			ret = kc_oci_get_bool(c, o, "disableOOMKiller", &b);
			if (ret >= 0)
				ret = kc_oci_get_bool(c, o, "useHierarchy", &b);
		}
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
		if (r->has_memory_limit && r->has_memory_reservation && r->memory_limit >= 0 &&
		    r->memory_reservation > r->memory_limit)
			return kc_oci_fail_key(c, "memory", "reservation above limit");
	}
	o = NULL;
	if ((ret = kc_oci_get_object(c, j, "cpu", &o)) < 0)
		return ret;
	if (o) {
		int64_t rt, idle;
		uint64_t rtp;

		old = kc_oci_push_key(c, "cpu");
		if ((ret = kc_oci_get_u64(c, o, "shares", &r->cpu_shares)) >= 0) {
			r->has_cpu_shares = ret > 0;
			ret = kc_oci_get_i64(c, o, "quota", -1, &r->cpu_quota);
		}
		if (ret >= 0) {
			r->has_cpu_quota = ret > 0;
			ret = kc_oci_get_u64(c, o, "period", &r->cpu_period);
		}
		if (ret >= 0) {
			r->has_cpu_period = ret > 0;
			ret = kc_oci_get_i64(c, o, "realtimeRuntime", -1, &rt);
		}
		if (ret >= 0)
			ret = kc_oci_get_u64(c, o, "realtimePeriod", &rtp);
		if (ret >= 0)
			ret = kc_oci_get_i64(c, o, "idle", 0, &idle);
		if (ret >= 0)
			ret = kc_oci_get_string(c, o, "cpus", &r->cpus);
		if (ret >= 0)
			ret = kc_oci_get_string(c, o, "mems", &r->mems);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	o = NULL;
	if ((ret = kc_oci_get_object(c, j, "pids", &o)) < 0)
		return ret;
	if (o) {
		old = kc_oci_push_key(c, "pids");
		ret = kc_oci_get_i64(c, o, "limit", -1, &r->pids_limit);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
		r->has_pids_limit = ret > 0;
	}
	o = NULL;
	if ((ret = kc_oci_get_object(c, j, "blockIO", &o)) < 0)
		return ret;
	if (o) {
		uint32_t w;

		old = kc_oci_push_key(c, "blockIO");
		ret = kc_oci_get_u32(c, o, "weight", &w);
		if (ret >= 0)
			ret = kc_oci_get_u32(c, o, "leafWeight", &w);
		if (ret >= 0 && w > 10000)
			ret = kc_oci_fail(c, "weight above 10000");
		for (size_t k = 0; ret >= 0 && k < 5; k++) {
			static const char *const lists[] = {
				"weightDevice",
				"throttleReadBpsDevice",
				"throttleWriteBpsDevice",
				"throttleReadIOPSDevice",
				"throttleWriteIOPSDevice",
			};
			ret = FOREACH_ELEM(c, o, lists[k], 0, check_weight_device, NULL);
		}
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	if ((ret = FOREACH_ELEM(c, j, "devices", 0, check_device_rule, NULL)) < 0 ||
	    (ret = FOREACH_ELEM(c, j, "hugepageLimits", 0, check_hugepage, NULL)) < 0)
		return ret;
	{
		cleanup_strv char **k = NULL, **v = NULL;

		if ((ret = kc_oci_get_string_map(c, j, "unified", &k, &v)) < 0)
			return ret;
		for (size_t i = 0; k[i]; i++)
			if (strchr(k[i], '/') || k[i][0] == '.' || !k[i][0])
				return kc_oci_fail_key(c, "unified", "\"%s\" is not a cgroup file",
						       k[i]);
	}
	return 0;
}

void kc_oci_resources_clear(struct kc_oci_resources *r)
{
	free(r->cpus);
	free(r->mems);
	if (r->json)
		json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

int kc_oci_resources_parse(const char *buf, size_t len, struct kc_oci_resources *out,
			   kc_error_t *err)
{
	struct kc_oci_ctx c = { .err = err };
	cleanup_json json_t *j = NULL;
	int ret = kc_oci_load(buf, len, "oci resources", &j, err);

	memset(out, 0, sizeof(*out));
	if (ret < 0)
		return ret;
	kc_oci_push_key(&c, "resources");
	ret = kc_oci_parse_resources(&c, j, out);
	if (ret < 0)
		kc_oci_resources_clear(out);
	return ret;
}

/* ---- seccomp ---- */

static int seccomp_action(const char *s, enum kc_oci_seccomp_action *out)
{
	static const struct {
		const char *name;
		enum kc_oci_seccomp_action a;
	} acts[] = {
		{ "SCMP_ACT_KILL", KC_OCI_SCMP_KILL },
		{ "SCMP_ACT_KILL_THREAD", KC_OCI_SCMP_KILL },
		{ "SCMP_ACT_KILL_PROCESS", KC_OCI_SCMP_KILL_PROCESS },
		{ "SCMP_ACT_TRAP", KC_OCI_SCMP_TRAP },
		{ "SCMP_ACT_ERRNO", KC_OCI_SCMP_ERRNO },
		{ "SCMP_ACT_TRACE", KC_OCI_SCMP_TRACE },
		{ "SCMP_ACT_ALLOW", KC_OCI_SCMP_ALLOW },
		{ "SCMP_ACT_LOG", KC_OCI_SCMP_LOG },
		{ "SCMP_ACT_NOTIFY", KC_OCI_SCMP_NOTIFY },
	};

	for (size_t i = 0; i < KC_ARRAY_SIZE(acts); i++)
		if (strcmp(acts[i].name, s) == 0) {
			*out = acts[i].a;
			return 0;
		}
	return -1;
}

static int get_action(struct kc_oci_ctx *c, json_t *o, const char *key, bool required,
		      enum kc_oci_seccomp_action *out)
{
	cleanup_free char *s = NULL;
	int ret = kc_oci_get_string(c, o, key, &s);

	if (ret == 0 && required)
		return kc_oci_fail_key(c, key, "missing");
	if (ret <= 0)
		return ret;
	if (seccomp_action(s, out) < 0)
		return kc_oci_fail_key(c, key, "unknown seccomp action \"%s\"", s);
	if (*out == KC_OCI_SCMP_NOTIFY)
		return kc_oci_fail_key(c, key,
				       "SCMP_ACT_NOTIFY needs a listener, which the "
				       "guest has not");
	return 1;
}

/* An errno a filter can return: the kernel's MAX_ERRNO bounds it (and
 * libseccomp keeps only 16 bits of it). */
static int get_errno(struct kc_oci_ctx *c, json_t *o, const char *key, uint32_t *out)
{
	int ret = kc_oci_get_u32(c, o, key, out);

	if (ret > 0 && *out > 4095)
		return kc_oci_fail_key(c, key, "%u is not an errno (0 to 4095)", *out);
	return ret;
}

static int parse_seccomp_arg(struct kc_oci_ctx *c, json_t *o, size_t i,
			     struct kc_oci_seccomp_rule *r)
{
	static const char *const ops[] = {
		[KC_OCI_SCMP_CMP_NE] = "SCMP_CMP_NE",
		[KC_OCI_SCMP_CMP_LT] = "SCMP_CMP_LT",
		[KC_OCI_SCMP_CMP_LE] = "SCMP_CMP_LE",
		[KC_OCI_SCMP_CMP_EQ] = "SCMP_CMP_EQ",
		[KC_OCI_SCMP_CMP_GE] = "SCMP_CMP_GE",
		[KC_OCI_SCMP_CMP_GT] = "SCMP_CMP_GT",
		[KC_OCI_SCMP_CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
	};
	struct kc_oci_seccomp_arg *a = &r->args[i];
	cleanup_free char *op = NULL;
	size_t k;
	int ret;

	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	r->n_args++;
	if ((ret = kc_oci_get_u32(c, o, "index", &a->index)) == 0)
		ret = kc_oci_fail_key(c, "index", "missing");
	if (ret < 0)
		return ret;
	if (a->index > 5)
		return kc_oci_fail_key(c, "index", "%u is not a syscall argument (0-5)", a->index);
	if ((ret = kc_oci_get_u64(c, o, "value", &a->value)) == 0)
		ret = kc_oci_fail_key(c, "value", "missing");
	if (ret < 0)
		return ret;
	if ((ret = kc_oci_get_u64(c, o, "valueTwo", &a->value_two)) < 0)
		return ret;
	if ((ret = kc_oci_get_string(c, o, "op", &op)) == 0)
		ret = kc_oci_fail_key(c, "op", "missing");
	if (ret < 0)
		return ret;
	for (k = 0; k < KC_ARRAY_SIZE(ops); k++)
		if (strcmp(ops[k], op) == 0)
			break;
	if (k == KC_ARRAY_SIZE(ops))
		return kc_oci_fail_key(c, "op", "unknown seccomp operator \"%s\"", op);
	a->op = (enum kc_oci_seccomp_op)k;
	return 0;
}

static int parse_syscall(struct kc_oci_ctx *c, json_t *o, size_t i, struct kc_oci_seccomp *s)
{
	struct kc_oci_seccomp_rule *r = &s->rules[i];
	json_t *args = NULL;
	int ret;

	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	s->n_rules++;
	if ((ret = kc_oci_get_strv(c, o, "names", &r->names)) < 0)
		return ret;
	if (!r->names || !r->names[0])
		return kc_oci_fail_key(c, "names", "missing or empty");
	for (size_t k = 0; r->names[k]; k++)
		if (!r->names[k][0])
			return kc_oci_fail_key(c, "names", "an empty syscall name");
	if ((ret = get_action(c, o, "action", true, &r->action)) < 0)
		return ret;
	ret = get_errno(c, o, "errnoRet", &r->errno_ret);
	if (ret < 0)
		return ret;
	r->has_errno = ret > 0;
	if ((ret = kc_oci_get_array(c, o, "args", &args)) < 0)
		return ret;
	if (args) {
		size_t n = json_array_size(args), old;

		if (n > 6)
			return kc_oci_fail_key(c, "args", "more than 6 argument conditions");
		r->args = kc_xzalloc((n ? n : 1) * sizeof(*r->args));
		old = kc_oci_push_key(c, "args");
		for (size_t k = 0; k < n && ret >= 0; k++) {
			size_t o2 = kc_oci_push_index(c, k);

			ret = parse_seccomp_arg(c, json_array_get(args, k), k, r);
			kc_oci_pop(c, o2);
		}
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_seccomp(struct kc_oci_ctx *c, json_t *o, struct kc_oci_seccomp *s)
{
	json_t *arr = NULL;
	int ret;

	if ((ret = get_action(c, o, "defaultAction", true, &s->default_action)) < 0)
		return ret;
	ret = get_errno(c, o, "defaultErrnoRet", &s->default_errno);
	if (ret < 0)
		return ret;
	s->has_default_errno = ret > 0;
	if ((ret = kc_oci_get_strv(c, o, "architectures", &s->architectures)) < 0 ||
	    (ret = kc_oci_get_strv(c, o, "flags", &s->flags)) < 0)
		return ret;
	for (size_t i = 0; s->architectures[i]; i++)
		if (strncmp(s->architectures[i], "SCMP_ARCH_", 10) != 0) {
			size_t old = kc_oci_push_key(c, "architectures");

			kc_oci_push_index(c, i);
			ret = kc_oci_fail(c, "unknown architecture \"%s\"", s->architectures[i]);
			kc_oci_pop(c, old);
			return ret;
		}
	for (size_t i = 0; s->flags[i]; i++) {
		static const char *const known[] = {
			"SECCOMP_FILTER_FLAG_TSYNC",
			"SECCOMP_FILTER_FLAG_LOG",
			"SECCOMP_FILTER_FLAG_SPEC_ALLOW",
			"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
		};
		bool ok = false;

		for (size_t k = 0; k < KC_ARRAY_SIZE(known); k++)
			ok |= strcmp(known[k], s->flags[i]) == 0;
		if (!ok) {
			size_t old = kc_oci_push_key(c, "flags");

			kc_oci_push_index(c, i);
			ret = kc_oci_fail(c, "unknown seccomp flag \"%s\"", s->flags[i]);
			kc_oci_pop(c, old);
			return ret;
		}
	}
	if (kc_oci_field(o, "listenerPath"))
		return kc_oci_fail_key(c, "listenerPath", "seccomp listeners are not supported");
	if ((ret = kc_oci_get_array(c, o, "syscalls", &arr)) < 0)
		return ret;
	if (arr) {
		size_t n = json_array_size(arr), old;

		if (n > MAX_LIST)
			return kc_oci_fail_key(c, "syscalls", "more than %d entries", MAX_LIST);
		s->rules = kc_xzalloc((n ? n : 1) * sizeof(*s->rules));
		old = kc_oci_push_key(c, "syscalls");
		for (size_t i = 0; i < n && ret >= 0; i++) {
			size_t o2 = kc_oci_push_index(c, i);

			ret = parse_syscall(c, json_array_get(arr, i), i, s);
			kc_oci_pop(c, o2);
		}
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void seccomp_free(struct kc_oci_seccomp *s)
{
	if (!s)
		return;
	kc_free_strv(s->architectures);
	kc_free_strv(s->flags);
	for (size_t i = 0; i < s->n_rules; i++) {
		kc_free_strv(s->rules[i].names);
		free(s->rules[i].args);
	}
	free(s->rules);
	free(s);
}

/* ---- the section ---- */

static int check_path_list(struct kc_oci_ctx *c, const char *key, char **v)
{
	for (size_t i = 0; v[i]; i++)
		if (v[i][0] != '/') {
			size_t old = kc_oci_push_key(c, key);
			int ret;

			kc_oci_push_index(c, i);
			ret = kc_oci_fail(c, "\"%s\" is not an absolute path", v[i]);
			kc_oci_pop(c, old);
			return ret;
		}
	return 0;
}

int kc_oci_parse_linux(struct kc_oci_ctx *c, json_t *j, struct kc_oci_linux *l)
{
	cleanup_free char *prop = NULL;
	json_t *o = NULL;
	int ret;

	/* Lists are never NULL, even without a linux section. */
	l->masked_paths = kc_xzalloc(sizeof(char *));
	l->readonly_paths = kc_xzalloc(sizeof(char *));
	l->sysctl_keys = kc_xzalloc(sizeof(char *));
	l->sysctl_values = kc_xzalloc(sizeof(char *));
	if (!j)
		return 0;
	if ((ret = FOREACH_ELEM(c, j, "namespaces", 0, parse_ns, l)) < 0 ||
	    (ret = FOREACH_ELEM(c, j, "uidMappings", 0, parse_idmap, &l->uid_mappings,
				&l->n_uid_mappings)) < 0 ||
	    (ret = FOREACH_ELEM(c, j, "gidMappings", 0, parse_idmap, &l->gid_mappings,
				&l->n_gid_mappings)) < 0 ||
	    (ret = FOREACH_ELEM(c, j, "devices", 0, parse_device, l)) < 0)
		return ret;
	if ((ret = kc_oci_get_object(c, j, "resources", &o)) < 0)
		return ret;
	if (o) {
		size_t old = kc_oci_push_key(c, "resources");

		l->has_resources = true;
		ret = kc_oci_parse_resources(c, o, &l->resources);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	if ((ret = kc_oci_get_string(c, j, "cgroupsPath", &l->cgroups_path)) < 0)
		return ret;
	if ((ret = kc_oci_get_string(c, j, "rootfsPropagation", &prop)) < 0)
		return ret;
	if (prop && prop[0] && kc_oci_parse_propagation(prop, &l->rootfs_propagation) < 0)
		return kc_oci_fail_key(c, "rootfsPropagation", "unknown propagation \"%s\"", prop);
	if ((ret = kc_oci_get_strv(c, j, "maskedPaths", &l->masked_paths)) < 0 ||
	    (ret = check_path_list(c, "maskedPaths", l->masked_paths)) < 0 ||
	    (ret = kc_oci_get_strv(c, j, "readonlyPaths", &l->readonly_paths)) < 0 ||
	    (ret = check_path_list(c, "readonlyPaths", l->readonly_paths)) < 0)
		return ret;
	if ((ret = kc_oci_get_string_map(c, j, "sysctl", &l->sysctl_keys, &l->sysctl_values)) < 0)
		return ret;
	for (size_t i = 0; l->sysctl_keys[i]; i++)
		if (!l->sysctl_keys[i][0] || strstr(l->sysctl_keys[i], "..") ||
		    l->sysctl_keys[i][0] == '/' || l->sysctl_keys[i][0] == '.')
			return kc_oci_fail_key(c, "sysctl", "\"%s\" is not a sysctl name",
					       l->sysctl_keys[i]);
	o = NULL;
	if ((ret = kc_oci_get_object(c, j, "seccomp", &o)) < 0)
		return ret;
	if (o) {
		size_t old = kc_oci_push_key(c, "seccomp");

		l->seccomp = kc_xzalloc(sizeof(*l->seccomp));
		ret = parse_seccomp(c, o, l->seccomp);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void kc_oci_linux_clear(struct kc_oci_linux *l)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i].path);
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	for (size_t i = 0; i < l->n_devices; i++)
		free(l->devices[i].path);
	free(l->devices);
	kc_oci_resources_clear(&l->resources);
	free(l->cgroups_path);
	kc_free_strv(l->masked_paths);
	kc_free_strv(l->readonly_paths);
	kc_free_strv(l->sysctl_keys);
	kc_free_strv(l->sysctl_values);
	seccomp_free(l->seccomp);
	memset(l, 0, sizeof(*l));
}
