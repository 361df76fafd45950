/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI spec's linux.resources as cgroup v2 files, following runc's
 * libcontainer/cgroups/fs2 (crun does the same):
 *
 *   memory.limit        -> memory.max        (-1: "max", 0: unchanged)
 *   memory.reservation  -> memory.low
 *   memory.swap         -> memory.swap.max = swap - limit (OCI's swap is
 *                          memory+swap; runc's ConvertMemorySwapToCgroupV2Value)
 *   cpu.shares          -> cpu.weight = 1 + (shares - 2) * 9999 / 262142
 *   cpu.quota/period    -> cpu.max "quota period" ("max" for no quota)
 *   cpu.burst, cpu.idle -> cpu.max.burst, cpu.idle
 *   cpu.cpus/mems       -> cpuset.cpus, cpuset.mems
 *   pids.limit          -> pids.max (0 or negative: "max", as runc)
 *   blockIO.weight      -> io.bfq.weight, or io.weight = 1 + (w - 10) * 9999 / 990
 *   blockIO.weightDevice-> io.bfq.weight "maj:min w" (io.weight converted)
 *   blockIO.throttle*   -> io.max "maj:min rbps|wbps|riops|wiops=rate"
 *   hugepageLimits      -> hugetlb.<size>.max (and .rsvd.max where present)
 *   unified             -> written as given, key by key
 *
 * Parsing produces the list of writes and checks every value, so a bad
 * field fails the whole request before anything is written.  The JSON is
 * read here with jansson and nowhere else, so that it can move onto the
 * shared OCI parser later.  linux.resources.devices is not translated:
 * the guest holds only the devices the agent creates (runc would attach
 * an eBPF program).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "lib/log.h"
#include "lib/util.h"

struct write {
	char *file, *value;
	/* Used when `file` does not exist (io.weight beside io.bfq.weight). */
	char *alt_file, *alt_value;
	/* A missing file is fine (runc: setting swap to max or 0 without
	 * swap accounting). */
	bool optional;
};

struct kc_cgroup_resources {
	struct write *w;
	size_t n, cap;
};

static struct write *add(struct kc_cgroup_resources *r, const char *file, char *value)
{
	struct write *w;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 8;
		r->w = kc_xrealloc(r->w, r->cap * sizeof(*r->w));
	}
	w = &r->w[r->n++];
	memset(w, 0, sizeof(*w));
	w->file = kc_xstrdup(file);
	w->value = value;
	return w;
}

void kc_cgroup_resources_free(struct kc_cgroup_resources *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->w[i].file);
		free(r->w[i].value);
		free(r->w[i].alt_file);
		free(r->w[i].alt_value);
	}
	free(r->w);
	free(r);
}

bool kc_cgroup_resources_empty(const struct kc_cgroup_resources *r)
{
	return !r || r->n == 0;
}

/* ---- typed field access: every error names the field ---- */

static int bad(kc_error_t *err, const char *what, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(kc_error_t *err, const char *what, const char *field, const char *fmt, ...)
{
	cleanup_free char *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	why = kc_xvasprintf(fmt, ap);
	va_end(ap);
	return kc_error_set(err, EINVAL, "%s.%s: %s", what, field, why);
}

/* An object member that may be absent or null (*out NULL then). */
static int get_object(const json_t *o, const char *key, const char *what, const char *field,
		      const json_t **out, kc_error_t *err)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return bad(err, what, field, "must be an object");
	*out = v;
	return 0;
}

static int get_int(const json_t *o, const char *key, const char *what, const char *field, bool *set,
		   int64_t *out, kc_error_t *err)
{
	const json_t *v = json_object_get(o, key);

	*set = false;
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return bad(err, what, field, "must be an integer");
	*set = true;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int get_uint(const json_t *o, const char *key, const char *what, const char *field,
		    int64_t *out, kc_error_t *err)
{
	bool set;
	int ret = get_int(o, key, what, field, &set, out, err);

	if (ret < 0)
		return ret;
	if (*out < 0)
		return bad(err, what, field, "%lld is negative", (long long)*out);
	return 0;
}

static int get_string(const json_t *o, const char *key, const char *what, const char *field,
		      const char **out, kc_error_t *err)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad(err, what, field, "must be a string");
	*out = json_string_value(v);
	return 0;
}

/* runc's numToStr: 0 is "leave unchanged", -1 is "max". */
static char *num(int64_t v)
{
	return v == -1 ? kc_xstrdup("max") : kc_xasprintf("%lld", (long long)v);
}

/* ---- memory ---- */

static int memory(struct kc_cgroup_resources *r, const json_t *m, const char *what, kc_error_t *err)
{
	int64_t limit, resv, swap, v2swap;
	bool limit_set, resv_set, swap_set;
	int ret;

	if ((ret = get_int(m, "limit", what, "memory.limit", &limit_set, &limit, err)) < 0 ||
	    (ret = get_int(m, "reservation", what, "memory.reservation", &resv_set, &resv, err)) < 0 ||
	    (ret = get_int(m, "swap", what, "memory.swap", &swap_set, &swap, err)) < 0)
		return ret;
	if (limit < -1)
		return bad(err, what, "memory.limit", "%lld is impossible (-1 means unlimited)",
			   (long long)limit);
	if (resv < -1)
		return bad(err, what, "memory.reservation",
			   "%lld is impossible (-1 means unlimited)", (long long)resv);
	if (swap < -1)
		return bad(err, what, "memory.swap", "%lld is impossible (-1 means unlimited)",
			   (long long)swap);

	/* ConvertMemorySwapToCgroupV2Value. */
	if (limit == -1 && swap == 0)
		v2swap = -1;
	else if (swap == -1 || swap == 0)
		v2swap = swap;
	else if (limit == 0 || limit == -1)
		return bad(err, what, "memory.swap", "cannot limit swap without memory.limit");
	else if (swap < limit)
		return bad(err, what, "memory.swap",
			   "%lld is below memory.limit %lld (OCI's swap is memory plus swap)",
			   (long long)swap, (long long)limit);
	else
		v2swap = swap - limit;
	if (v2swap != 0)
		add(r, "memory.swap.max", num(v2swap))->optional = v2swap == -1;
	else if (swap > 0)
		/* memory and swap equal: no swap at all. */
		add(r, "memory.swap.max", kc_xstrdup("0"))->optional = true;
	if (limit != 0)
		add(r, "memory.max", num(limit));
	if (resv != 0)
		add(r, "memory.low", num(resv));
	return 0;
}

/* ---- cpu ---- */

static bool cpuset_list_ok(const char *s)
{
	return strspn(s, "0123456789,- ") == strlen(s);
}

static int cpu(struct kc_cgroup_resources *r, const json_t *c, const char *what, kc_error_t *err)
{
	int64_t shares, quota, period, burst, rt_runtime, rt_period, idle;
	bool quota_set, rt_set, idle_set;
	const char *cpus, *mems;
	int ret;

	if ((ret = get_uint(c, "shares", what, "cpu.shares", &shares, err)) < 0 ||
	    (ret = get_int(c, "quota", what, "cpu.quota", &quota_set, &quota, err)) < 0 ||
	    (ret = get_uint(c, "period", what, "cpu.period", &period, err)) < 0 ||
	    (ret = get_uint(c, "burst", what, "cpu.burst", &burst, err)) < 0 ||
	    (ret = get_int(c, "realtimeRuntime", what, "cpu.realtimeRuntime", &rt_set, &rt_runtime,
			   err)) < 0 ||
	    (ret = get_uint(c, "realtimePeriod", what, "cpu.realtimePeriod", &rt_period, err)) < 0 ||
	    (ret = get_int(c, "idle", what, "cpu.idle", &idle_set, &idle, err)) < 0 ||
	    (ret = get_string(c, "cpus", what, "cpu.cpus", &cpus, err)) < 0 ||
	    (ret = get_string(c, "mems", what, "cpu.mems", &mems, err)) < 0)
		return ret;
	if (shares != 0 && (shares < 2 || shares > 262144))
		return bad(err, what, "cpu.shares",
			   "%lld is out of range [2, 262144] (cpu.weight would leave [1, 10000])",
			   (long long)shares);
	if (quota < -1 || (quota > 0 && quota < 1000))
		return bad(err, what, "cpu.quota",
			   "%lld is impossible (at least 1000 us, or -1 for no limit)",
			   (long long)quota);
	if (period != 0 && (period < 1000 || period > 1000000))
		return bad(err, what, "cpu.period", "%lld is out of range [1000, 1000000] us",
			   (long long)period);
	if (rt_runtime != 0 || rt_period != 0)
		return bad(err, what, rt_runtime ? "cpu.realtimeRuntime" : "cpu.realtimePeriod",
			   "real-time scheduling has no cgroup v2 interface");
	if (idle_set && idle != 0 && idle != 1)
		return bad(err, what, "cpu.idle", "%lld is neither 0 nor 1", (long long)idle);
	if (cpus && !cpuset_list_ok(cpus))
		return bad(err, what, "cpu.cpus", "`%s` is not a CPU list", cpus);
	if (mems && !cpuset_list_ok(mems))
		return bad(err, what, "cpu.mems", "`%s` is not a memory node list", mems);

	if (shares != 0)
		add(r, "cpu.weight",
		    kc_xasprintf("%llu", 1 + ((unsigned long long)shares - 2) * 9999 / 262142));
	if (quota != 0 || period != 0) {
		cleanup_free char *q = quota > 0 ? kc_xasprintf("%lld", (long long)quota)
						 : kc_xstrdup("max");

		add(r, "cpu.max",
		    period ? kc_xasprintf("%s %lld", q, (long long)period) : kc_xstrdup(q));
	}
	if (burst != 0)
		add(r, "cpu.max.burst", kc_xasprintf("%lld", (long long)burst));
	if (idle_set)
		add(r, "cpu.idle", kc_xasprintf("%lld", (long long)idle));
	if (cpus && cpus[0])
		add(r, "cpuset.cpus", kc_xstrdup(cpus));
	if (mems && mems[0])
		add(r, "cpuset.mems", kc_xstrdup(mems));
	return 0;
}

/* ---- pids ---- */

static int pids(struct kc_cgroup_resources *r, const json_t *p, const char *what, kc_error_t *err)
{
	int64_t limit;
	bool set;
	int ret = get_int(p, "limit", what, "pids.limit", &set, &limit, err);

	if (ret < 0)
		return ret;
	if (set)
		add(r, "pids.max",
		    limit > 0 ? kc_xasprintf("%lld", (long long)limit) : kc_xstrdup("max"));
	return 0;
}

/* ---- block IO ---- */

static uint64_t io_weight(uint64_t blkio)
{
	return 1 + (blkio - 10) * 9999 / 990;
}

/* One device entry: major and minor are required. */
static int device(const json_t *d, const char *what, const char *field, int64_t *major,
		  int64_t *minor, kc_error_t *err)
{
	if (!json_is_object(d))
		return bad(err, what, field, "entries must be objects");
	if (!json_is_integer(json_object_get(d, "major")) ||
	    !json_is_integer(json_object_get(d, "minor")))
		return bad(err, what, field, "entries need integer major and minor");
	*major = (int64_t)json_integer_value(json_object_get(d, "major"));
	*minor = (int64_t)json_integer_value(json_object_get(d, "minor"));
	if (*major < 0 || *minor < 0 || *major > 0xfff || *minor > 0xfffff)
		return bad(err, what, field, "device %lld:%lld is impossible", (long long)*major,
			   (long long)*minor);
	return 0;
}

static int weight_ok(int64_t w, const char *what, const char *field, kc_error_t *err)
{
	if (w != 0 && (w < 10 || w > 1000))
		return bad(err, what, field, "%lld is out of range [10, 1000]", (long long)w);
	return 0;
}

static int block_io(struct kc_cgroup_resources *r, const json_t *b, const char *what,
		    kc_error_t *err)
{
	static const struct {
		const char *key, *op;
	} throttles[] = {
		{ "throttleReadBpsDevice", "rbps" },
		{ "throttleWriteBpsDevice", "wbps" },
		{ "throttleReadIOPSDevice", "riops" },
		{ "throttleWriteIOPSDevice", "wiops" },
	};
	const json_t *list, *d;
	int64_t weight;
	size_t i;
	int ret;

	if ((ret = get_uint(b, "weight", what, "blockIO.weight", &weight, err)) < 0 ||
	    (ret = weight_ok(weight, what, "blockIO.weight", err)) < 0)
		return ret;
	if (weight != 0) {
		struct write *w = add(r, "io.bfq.weight", kc_xasprintf("%lld", (long long)weight));

		w->alt_file = kc_xstrdup("io.weight");
		w->alt_value = kc_xasprintf("%llu", (unsigned long long)io_weight((uint64_t)weight));
	}
	list = json_object_get(b, "weightDevice");
	if (list && !json_is_null(list) && !json_is_array(list))
		return bad(err, what, "blockIO.weightDevice", "must be an array");
	json_array_foreach(list, i, d)
	{
		int64_t major, minor, w;
		struct write *wr;

		if ((ret = device(d, what, "blockIO.weightDevice", &major, &minor, err)) < 0 ||
		    (ret = get_uint(d, "weight", what, "blockIO.weightDevice[].weight", &w, err)) <
			    0 ||
		    (ret = weight_ok(w, what, "blockIO.weightDevice[].weight", err)) < 0)
			return ret;
		if (w == 0)
			continue;
		wr = add(r, "io.bfq.weight",
			 kc_xasprintf("%lld:%lld %lld", (long long)major, (long long)minor,
				      (long long)w));
		wr->alt_file = kc_xstrdup("io.weight");
		wr->alt_value = kc_xasprintf("%lld:%lld %llu", (long long)major, (long long)minor,
					     (unsigned long long)io_weight((uint64_t)w));
	}
	for (size_t t = 0; t < KC_ARRAY_SIZE(throttles); t++) {
		cleanup_free char *field = kc_xasprintf("blockIO.%s", throttles[t].key);

		list = json_object_get(b, throttles[t].key);
		if (list && !json_is_null(list) && !json_is_array(list))
			return bad(err, what, field, "must be an array");
		json_array_foreach(list, i, d)
		{
			int64_t major, minor, rate;

			if ((ret = device(d, what, field, &major, &minor, err)) < 0 ||
			    (ret = get_uint(d, "rate", what, field, &rate, err)) < 0)
				return ret;
			add(r, "io.max",
			    rate ? kc_xasprintf("%lld:%lld %s=%lld", (long long)major,
						(long long)minor, throttles[t].op, (long long)rate)
				 : kc_xasprintf("%lld:%lld %s=max", (long long)major,
						(long long)minor, throttles[t].op));
		}
	}
	return 0;
}

/* ---- hugetlb ---- */

static bool page_size_ok(const char *s)
{
	size_t digits = strspn(s, "0123456789");

	return digits > 0 && digits < 8 && strchr("KMGT", s[digits]) && s[digits] &&
	       strcmp(s + digits + 1, "B") == 0;
}

static int hugetlb(struct kc_cgroup_resources *r, const json_t *list, const char *what,
		   kc_error_t *err)
{
	const json_t *h;
	size_t i;

	if (!json_is_array(list))
		return bad(err, what, "hugepageLimits", "must be an array");
	json_array_foreach(list, i, h)
	{
		const char *size;
		cleanup_free char *file = NULL;
		int64_t limit;
		int ret;

		if (!json_is_object(h))
			return bad(err, what, "hugepageLimits", "entries must be objects");
		if ((ret = get_string(h, "pageSize", what, "hugepageLimits[].pageSize", &size,
				      err)) < 0 ||
		    (ret = get_uint(h, "limit", what, "hugepageLimits[].limit", &limit, err)) < 0)
			return ret;
		if (!size || !page_size_ok(size))
			return bad(err, what, "hugepageLimits[].pageSize",
				   "`%s` is not a page size like 2MB", size ? size : "");
		file = kc_xasprintf("hugetlb.%s.max", size);
		add(r, file, kc_xasprintf("%lld", (long long)limit));
		/* runc: the reservation limit too, where the kernel has one. */
		free(file);
		file = kc_xasprintf("hugetlb.%s.rsvd.max", size);
		add(r, file, kc_xasprintf("%lld", (long long)limit))->optional = true;
	}
	return 0;
}

/* ---- unified ---- */

/* Files the agent itself manages: the host must not move processes,
 * kill, freeze or change the controllers behind its back. */
static const char *const reserved[] = {
	"cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze", "cgroup.subtree_control",
};

static int unified(struct kc_cgroup_resources *r, const json_t *u, const char *what, kc_error_t *err)
{
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)u, key, v)
	{
		const char *dot = strchr(key, '.');

		if (!key[0] || strchr(key, '/') || strstr(key, "..") || !dot || dot == key ||
		    !dot[1] || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_.") != strlen(key))
			return kc_error_set(err, EINVAL,
					    "%s.unified: key `%s` is not a cgroup interface file",
					    what, key);
		for (size_t i = 0; i < KC_ARRAY_SIZE(reserved); i++)
			if (strcmp(key, reserved[i]) == 0)
				return kc_error_set(err, EINVAL,
						    "%s.unified: `%s` is managed by the agent",
						    what, key);
		if (!json_is_string(v))
			return kc_error_set(err, EINVAL, "%s.unified.%s: must be a string", what,
					    key);
		add(r, key, kc_xstrdup(json_string_value(v)));
	}
	return 0;
}

int kc_cgroup_resources_parse(const json_t *res, const char *what, struct kc_cgroup_resources **out,
			      kc_error_t *err)
{
	struct kc_cgroup_resources *r = kc_xzalloc(sizeof(*r));
	const json_t *o, *h;
	int ret = 0;

	if (res && !json_is_null(res) && !json_is_object(res)) {
		ret = kc_error_set(err, EINVAL, "%s: must be an object", what);
		goto out;
	}
	if (!res || json_is_null(res))
		goto out;
	if ((ret = get_object(res, "memory", what, "memory", &o, err)) < 0 ||
	    (o && (ret = memory(r, o, what, err)) < 0))
		goto out;
	if ((ret = get_object(res, "cpu", what, "cpu", &o, err)) < 0 ||
	    (o && (ret = cpu(r, o, what, err)) < 0))
		goto out;
	if ((ret = get_object(res, "pids", what, "pids", &o, err)) < 0 ||
	    (o && (ret = pids(r, o, what, err)) < 0))
		goto out;
	if ((ret = get_object(res, "blockIO", what, "blockIO", &o, err)) < 0 ||
	    (o && (ret = block_io(r, o, what, err)) < 0))
		goto out;
	h = json_object_get(res, "hugepageLimits");
	if (h && !json_is_null(h) && (ret = hugetlb(r, h, what, err)) < 0)
		goto out;
	if ((ret = get_object(res, "unified", what, "unified", &o, err)) < 0 ||
	    (o && (ret = unified(r, o, what, err)) < 0))
		goto out;
out:
	if (ret < 0) {
		kc_cgroup_resources_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

int kc_cgroup_resources_apply(struct kc_cgroup *cg, const struct kc_cgroup_resources *r,
			      kc_error_t *err)
{
	for (size_t i = 0; r && i < r->n; i++) {
		const struct write *w = &r->w[i];
		int ret;

		if (w->alt_file && !kc_cgroup_has(cg, w->file)) {
			ret = kc_cgroup_write(cg, w->alt_file, w->alt_value, err);
		} else if (w->optional && !kc_cgroup_has(cg, w->file)) {
			kc_debug("cgroup %s: no %s, `%s` not needed", cg->path, w->file, w->value);
			ret = 0;
		} else {
			ret = kc_cgroup_write(cg, w->file, w->value, err);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}
