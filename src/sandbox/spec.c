/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI spec as the guest must see it (after Kata's constrainGRPCSpec):
 * paths point into the share, and what only means something on the host
 * is removed.
 */
#include <errno.h>
#include <sched.h>
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

	json_array_foreach(arr, i, v) if (json_is_string(v) &&
					  strcmp(json_string_value(v), s) == 0) return true;
	return false;
}

/* The namespaces a container may share with its pod's sandbox container,
 * by the names the OCI spec and /proc/<pid>/ns give them. */
static const struct {
	const char *type;
	uint64_t flag;
} pod_ns[] = {
	{ "pid", CLONE_NEWPID },
	{ "ipc", CLONE_NEWIPC },
	{ "uts", CLONE_NEWUTS },
};

bool kc_spec_has_namespace(json_t *spec, const char *type)
{
	json_t *ns = json_object_get(json_object_get(spec, "linux"), "namespaces");
	size_t i;
	json_t *n;

	json_array_foreach(ns, i, n)
	{
		const char *t = json_string_value(json_object_get(n, "type"));

		if (t && strcmp(t, type) == 0)
			return true;
	}
	return false;
}

/*
 * A CRI spec without a pid or ipc entry is a pod that asked for the host's
 * (hostPID, hostIPC: NamespaceMode NODE): a VM has no way to give a
 * container the host's processes or SysV IPC.
 */
int kc_spec_check_host_namespaces(json_t *spec, kc_error_t *err)
{
	json_t *ns = json_object_get(json_object_get(spec, "linux"), "namespaces");

	if (!json_is_array(ns) || !kc_spec_annotation(spec, "io.kubernetes.cri.container-type"))
		return 0;
	if (!kc_spec_has_namespace(spec, "pid"))
		return kc_error_set(err, EINVAL,
				    "linux.namespaces: the pod asks for the host's pid namespace "
				    "(hostPID), which a container in a VM cannot have");
	if (!kc_spec_has_namespace(spec, "ipc"))
		return kc_error_set(err, EINVAL,
				    "linux.namespaces: the pod asks for the host's ipc namespace "
				    "(hostIPC), which a container in a VM cannot have");
	return 0;
}

/*
 * Namespaces.  The VM is the pod's network, so the network entry goes: every
 * container shares the agent's, the one with the NIC.  A path names a host
 * namespace, which nothing in the guest can join; CRI (and any caller that
 * builds a pod the same way) names the sandbox container's namespaces as
 * /proc/<pid>/ns/<type> with the pid this shim gave for the sandbox's task
 * (env->task_pid).  Those become *sandbox_ns (CreateContainer's
 * sandbox_pidns, sandbox_ipcns, sandbox_utsns): the guest shares the sandbox
 * container's, as runc shares the pause container's.  Any other path is
 * refused: it would otherwise silently become a namespace of its own, as
 * are hostPID and hostIPC (above).  Without a network entry (hostNetwork)
 * the VM gets no NIC, as Kata does: the pod runs with a loopback of its own
 * (docs/kubernetes.md).
 */
static int constrain_namespaces(const struct kc_container_env *env, json_t *spec, json_t *linux_,
				uint64_t *sandbox_ns, kc_error_t *err)
{
	json_t *ns = json_object_get(linux_, "namespaces"), *out;
	size_t i;
	json_t *n;
	int ret;

	ret = kc_spec_check_host_namespaces(spec, err);
	if (ret < 0 || !json_is_array(ns))
		return ret;
	out = json_array();
	json_array_foreach(ns, i, n)
	{
		const char *t = json_string_value(json_object_get(n, "type"));
		const char *path = json_string_value(json_object_get(n, "path"));
		uint64_t flag = 0;

		if (!json_is_object(n) || !t || strcmp(t, "network") == 0)
			continue;
		if (!path || !path[0]) {
			json_t *c = json_deep_copy(n);

			json_object_del(c, "path");
			json_array_append_new(out, c);
			continue;
		}
		for (size_t k = 0; k < KC_ARRAY_SIZE(pod_ns); k++) {
			cleanup_free char *own = kc_xasprintf("/proc/%d/ns/%s", (int)env->task_pid,
							      pod_ns[k].type);

			if (env->task_pid > 0 && strcmp(t, pod_ns[k].type) == 0 &&
			    strcmp(path, own) == 0)
				flag = pod_ns[k].flag;
		}
		if (!flag) {
			json_decref(out);
			return kc_error_set(
				err, EINVAL,
				"linux.namespaces: %s namespace `%s`: a container in a VM "
				"cannot join a host namespace (it may share its pod's pid, "
				"ipc and uts namespaces, /proc/%d/ns/<type>)",
				t, path, (int)env->task_pid);
		}
		*sandbox_ns |= flag;
	}
	json_object_set_new(linux_, "namespaces", out);
	return 0;
}

/*
 * A shared or rshared mount (Kubernetes' Bidirectional propagation) would
 * carry the container's mounts back to the host.  The guest reaches the
 * host's files through virtio-fs, which carries no mounts back: refused,
 * naming the mount, rather than run with a silently different meaning.
 */
static int check_propagation(json_t *m, size_t i, kc_error_t *err)
{
	json_t *dst = json_object_get(m, "destination");

	if (!has_string(json_object_get(m, "options"), "rshared") &&
	    !has_string(json_object_get(m, "options"), "shared"))
		return 0;
	return kc_error_set(err, EINVAL,
			    "mount %zu (`%s`): propagation `rshared` (Bidirectional) cannot carry "
			    "mounts from the VM back to the host",
			    i, json_is_string(dst) ? json_string_value(dst) : "");
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
	json_array_foreach(json_object_get(spec, "mounts"), i, m)
	{
		const char *t = json_string_value(json_object_get(m, "type"));

		if (t && (strcmp(t, "cgroup") == 0 || strcmp(t, "cgroup2") == 0) &&
		    has_string(json_object_get(m, "options"), "ro"))
			ro_cgroup = true;
	}
	if (!ro_cgroup)
		return;
	json_array_foreach(ns, i, n)
	{
		const char *t = json_string_value(json_object_get(n, "type"));

		if (t && strcmp(t, "cgroup") == 0)
			return;
	}
	n = json_object();
	json_object_set_new(n, "type", json_string("cgroup"));
	json_array_append_new(ns, n);
}

int kc_spec_for_guest(const struct kc_container_env *env, const char *cid, json_t *spec,
		      struct kc_guest_storages *storages, uint64_t *sandbox_ns, kc_error_t *err)
{
	json_t *root, *mounts, *linux_, *process, *kept;
	size_t i;
	json_t *m;
	int ret;

	*sandbox_ns = 0;
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
	json_array_foreach(mounts, i, m)
	{
		bool drop;

		if (!json_is_object(m)) {
			json_decref(kept);
			return kc_error_set(err, EINVAL, "oci spec: mount %zu is not an object", i);
		}
		ret = check_propagation(m, i, err);
		if (ret >= 0)
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

		ret = constrain_namespaces(env, spec, linux_, sandbox_ns, err);
		if (ret < 0)
			return ret;
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

void kc_spec_sizing(json_t *spec, unsigned default_vcpus, unsigned max_vcpus, unsigned default_mib,
		    unsigned max_mib, unsigned *vcpus, unsigned *mib)
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
