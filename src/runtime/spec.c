// SPDX-License-Identifier: Apache-2.0
/*
 * The OCI spec as the guest must see it (after Kata's constrainGRPCSpec):
 * paths point into the share, and what only means something on the host
 * is removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"
#include "lib/util.h"

const char *kc_spec_annotation(json_t *spec, const char *key)
{
	json_t *v = json_object_get(json_object_get(spec, "annotations"), key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach (arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* Namespaces: the VM is the pod's network; host namespace paths mean
 * nothing in the guest. */
static void constrain_namespaces(json_t *linux_)
{
	json_t *ns = json_object_get(linux_, "namespaces"), *out;
	size_t i;
	json_t *n;

	if (!json_is_array(ns))
		return;
	out = json_array();
	json_array_foreach (ns, i, n) {
		json_t *t = json_object_get(n, "type");

		if (!json_is_object(n) || !json_is_string(t) ||
		    strcmp(json_string_value(t), "network") == 0)
			continue;
		json_t *c = json_deep_copy(n);

		json_object_del(c, "path");
		json_array_append_new(out, c);
	}
	json_object_set_new(linux_, "namespaces", out);
}

/*
 * The guest runs cgroup v2, where containerd (CRI, ctr) gives a container a
 * cgroup namespace so that its read-only /sys/fs/cgroup is its own cgroup.
 * On a cgroup v1 host it asks for none, and the container would see the
 * guest's whole hierarchy: one is added when the spec mounts cgroups
 * read-only (CRI's privileged containers mount them read-write, and get
 * none on a v2 host either).
 */
static void add_cgroup_namespace(json_t *spec, json_t *linux_)
{
	json_t *ns = json_object_get(linux_, "namespaces"), *m, *n;
	bool ro_cgroup = false;
	size_t i;

	if (!json_is_array(ns))
		return;
	json_array_foreach (json_object_get(spec, "mounts"), i, m) {
		const char *t = json_string_value(json_object_get(m, "type"));

		if (t && (strcmp(t, "cgroup") == 0 || strcmp(t, "cgroup2") == 0) &&
		    has_string(json_object_get(m, "options"), "ro"))
			ro_cgroup = true;
	}
	if (!ro_cgroup)
		return;
	json_array_foreach (ns, i, n) {
		const char *t = json_string_value(json_object_get(n, "type"));

		if (t && strcmp(t, "cgroup") == 0)
			return;
	}
	n = json_object();
	json_object_set_new(n, "type", json_string("cgroup"));
	json_array_append_new(ns, n);
}

int kc_spec_for_guest(const struct kc_container_env *env, const char *cid, json_t *spec,
		      struct kc_guest_storages *storages, kc_error_t *err)
{
	json_t *root, *mounts, *linux_, *process, *kept;
	size_t i;
	json_t *m;
	int ret;

	if (!json_is_object(spec))
		return kc_error_set(err, EINVAL, "oci spec is not a JSON object");
	process = json_object_get(spec, "process");
	if (!json_is_object(process))
		return kc_error_set(err, EINVAL, "oci spec: process is missing");
	root = json_object_get(spec, "root");
	if (!root) {
		root = json_object();
		json_object_set_new(spec, "root", root);
	}
	if (!json_is_object(root))
		return kc_error_set(err, EINVAL, "oci spec: root is not an object");
	{
		cleanup_free char *p = kc_xasprintf("%s/%s/rootfs", env->guest_share, cid);

		json_object_set_new(root, "path", json_string(p));
	}

	mounts = json_object_get(spec, "mounts");
	if (mounts && !json_is_array(mounts))
		return kc_error_set(err, EINVAL, "oci spec: mounts is not an array");
	kept = json_array();
	json_array_foreach (mounts, i, m) {
		bool drop;

		if (!json_is_object(m)) {
			json_decref(kept);
			return kc_error_set(err, EINVAL, "oci spec: mount %zu is not an object", i);
		}
		ret = kc_volume_share(env, cid, i, m, &drop, storages, err);
		if (ret < 0) {
			json_decref(kept);
			return ret;
		}
		if (!drop)
			json_array_append(kept, m);
	}
	json_object_set_new(spec, "mounts", kept);

	/* Hooks would run in the guest, where their host binaries are not. */
	json_object_del(spec, "hooks");
	json_object_del(process, "apparmorProfile");
	json_object_del(process, "selinuxLabel");
	linux_ = json_object_get(spec, "linux");
	if (json_is_object(linux_)) {
		json_t *res = json_object_get(linux_, "resources");

		constrain_namespaces(linux_);
		add_cgroup_namespace(spec, linux_);
		json_object_del(linux_, "devices");
		json_object_del(linux_, "mountLabel");
		if (json_is_object(res))
			json_object_del(res, "devices");
		if (env->disable_guest_seccomp)
			json_object_del(linux_, "seccomp");
		if (env->host_agent)
			json_object_del(linux_, "resources");
		/* The host's path (cgroupfs or systemd's slice:prefix:name) means
		 * nothing in the guest, and CRI gives the containers of a pod
		 * paths the agent would refuse to share. */
		{
			cleanup_free char *p = kc_xasprintf("/kata_c/%s", cid);

			json_object_set_new(linux_, "cgroupsPath", json_string(p));
		}
	}
	return 0;
}

static long long get_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static long long annotation_int(json_t *spec, const char *key)
{
	const char *s = kc_spec_annotation(spec, key);
	unsigned long long v;

	return s && kc_parse_u64(s, &v) && v < (1ull << 62) ? (long long)v : 0;
}

void kc_spec_sizing(json_t *spec, unsigned default_vcpus, unsigned max_vcpus,
		    unsigned default_mib, unsigned max_mib, unsigned *vcpus, unsigned *mib)
{
	json_t *res = json_object_get(json_object_get(spec, "linux"), "resources");
	json_t *cpu = json_object_get(res, "cpu"), *mem = json_object_get(res, "memory");
	long long quota = annotation_int(spec, "io.kubernetes.cri.sandbox-cpu-quota");
	long long period = annotation_int(spec, "io.kubernetes.cri.sandbox-cpu-period");
	long long bytes = annotation_int(spec, "io.kubernetes.cri.sandbox-memory");
	unsigned long long v, m;

	if (quota <= 0 || period <= 0) {
		quota = get_int(cpu, "quota");
		period = get_int(cpu, "period");
	}
	if (bytes <= 0)
		bytes = get_int(mem, "limit");
	v = default_vcpus;
	if (quota > 0 && period > 0)
		v += (unsigned long long)((quota + period - 1) / period);
	m = default_mib;
	if (bytes > 0)
		m += (unsigned long long)bytes >> 20;
	if (max_vcpus && v > max_vcpus)
		v = max_vcpus;
	if (max_mib && m > max_mib)
		m = max_mib;
	*vcpus = (unsigned)v;
	*mib = (unsigned)m;
}
