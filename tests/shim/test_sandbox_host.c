/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's host side without a VM: guest spec rewriting, mount options,
 * rootfs and volumes really mounted under a temporary dir (root), ids,
 * sizing.  Every test checks that its mounts are gone afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/container.h"
#include "lib/json.h"
#include "lib/util.h"
#include "sandbox/mount.h"
#include "sandbox/watch.h"
#include "ttrpc/loop.h"
#include "../unit/tmpdir.h"

/* What kc_spec_for_guest() asks of the sandbox (unused but in one test). */
static uint64_t sandbox_ns;

static int mounts_below(const char *dir)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int n = 0;

	while (getline(&line, &cap, f) > 0)
		if (strstr(line, dir))
			n++;
	return n;
}

static json_t *parse(const char *text)
{
	json_t *j = NULL;
	cleanup_error kc_error_t err = NULL;

	assert_int_equal(kc_json_parse(text, strlen(text), "test", &j, &err), 0);
	return j;
}

static void test_check_id(void **state)
{
	cleanup_error kc_error_t e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL;

	(void)state;
	assert_int_equal(kc_check_id("id", "abc-1.2_x", NULL), 0);
	assert_true(kc_check_id("container id", "../x", &e1) < 0);
	assert_non_null(strstr(e1->msg, "container id `../x`"));
	assert_true(kc_check_id("id", "", &e2) < 0);
	assert_true(kc_check_id("id", "a/b", &e3) < 0);
	assert_true(kc_check_id("id", "-a", &e4) < 0);
}

static void test_mount_options(void **state)
{
	char *opts[] = { "rbind", "ro", "lowerdir=/a:/b", "nosuid", "index=off" };
	char *bad[] = { "a,b" };
	cleanup_free char *data = NULL, *d2 = NULL;
	cleanup_error kc_error_t err = NULL;
	unsigned long flags;

	(void)state;
	assert_int_equal(kc_mount_options(opts, 5, &flags, &data, NULL), 0);
	assert_int_equal(flags, MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID);
	assert_string_equal(data, "lowerdir=/a:/b,index=off");
	assert_true(kc_mount_options(bad, 1, &flags, &d2, &err) < 0);
	assert_non_null(strstr(err->msg, "`a,b`"));
}

static void test_spec_rewrite(void **state)
{
	cleanup_free char *mounts = kc_xasprintf("%s/sb/mounts", tmpdir);
	struct kc_container_env env = { mounts, "/run/kata-containers/shared/containers", true };
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *spec = parse(
		"{\"process\":{\"args\":[\"sh\"],\"apparmorProfile\":\"x\"},"
		"\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
		"\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\"}]},"
		"\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		"{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"/dev/shm\","
		"\"options\":[\"rbind\"]}],"
		"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":"
		"\"/proc/1/ns/net\"},{\"type\":\"ipc\",\"path\":\"/proc/1/ns/ipc\"}],"
		"\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"},\"devices\":[{\"path\":\"/dev/x\"}],"
		"\"resources\":{\"devices\":[{\"allow\":false}],\"memory\":{\"limit\":1}},"
		"\"cgroupsPath\":\"system.slice:ctr:c1\"}}");
	json_t *ns;

	(void)state;
	/* The pid the sandbox's tasks were given: /proc/1/ns/ipc names the
	 * sandbox container's ipc namespace. */
	env.task_pid = 1;
	assert_int_equal(kc_spec_for_guest(&env, "c1", spec, NULL, &sandbox_ns, &err), 0);
	assert_int_equal(sandbox_ns, CLONE_NEWIPC);
	assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "root"), "path")),
			    "/run/kata-containers/shared/containers/c1/rootfs");
	assert_true(json_is_true(json_object_get(json_object_get(spec, "root"), "readonly")));
	assert_null(json_object_get(spec, "hooks"));
	assert_null(json_object_get(json_object_get(spec, "process"), "apparmorProfile"));
	/* /proc stays (the guest mounts it), the host's /dev/shm bind goes. */
	assert_int_equal(json_array_size(json_object_get(spec, "mounts")), 1);
	/* The network entry goes (the VM is the pod's network) and the ipc
	 * entry is asked of the sandbox instead. */
	ns = json_object_get(json_object_get(spec, "linux"), "namespaces");
	assert_int_equal(json_array_size(ns), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ns, 0), "type")),
			    "pid");
	assert_null(json_object_get(json_object_get(spec, "linux"), "seccomp"));
	assert_null(json_object_get(json_object_get(spec, "linux"), "devices"));
	assert_null(json_object_get(json_object_get(json_object_get(spec, "linux"), "resources"),
				    "devices"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "linux"),
							      "cgroupsPath")),
			    "/kata_c/c1");
	/* The guest keeps the resources; a cgroupfs path is replaced too. */
	assert_non_null(json_object_get(json_object_get(json_object_get(spec, "linux"), "resources"),
					"memory"));
	{
		cleanup_json json_t *s2 = parse("{\"process\":{},\"linux\":{\"cgroupsPath\":"
						"\"/default/c2\",\"resources\":{\"pids\":{}}}}");
		struct kc_container_env host = env;

		host.host_agent = true;
		assert_int_equal(kc_spec_for_guest(&host, "c2", s2, NULL, &sandbox_ns, &err), 0);
		assert_string_equal(json_string_value(json_object_get(json_object_get(s2, "linux"),
								      "cgroupsPath")),
				    "/kata_c/c2");
		/* A host agent would apply them to the host's cgroups. */
		assert_null(json_object_get(json_object_get(s2, "linux"), "resources"));
	}
}

/* How many cgroup namespaces the guest's spec asks for. */
static size_t cgroup_ns_after(const char *mount_opts, const char *extra_ns)
{
	cleanup_free char *mounts = kc_xasprintf("%s/sb/mounts", tmpdir);
	struct kc_container_env env = { mounts, "/run/kata-containers/shared/containers", true };
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *text = kc_xasprintf(
		"{\"process\":{},\"mounts\":[{\"destination\":\"/sys/fs/cgroup\",\"type\":"
		"\"cgroup\",\"source\":\"cgroup\",\"options\":[%s]}],"
		"\"linux\":{\"namespaces\":[{\"type\":\"mount\"}%s]}}",
		mount_opts, extra_ns);
	cleanup_json json_t *spec = parse(text);
	json_t *n;
	size_t i, count = 0;

	assert_int_equal(kc_spec_for_guest(&env, "c1", spec, NULL, &sandbox_ns, &err), 0);
	json_array_foreach(json_object_get(json_object_get(spec, "linux"), "namespaces"), i, n) if (
		strcmp(json_string_value(json_object_get(n, "type")), "cgroup") == 0) count++;
	return count;
}

static void test_spec_cgroup_namespace(void **state)
{
	(void)state;
	/* CRI on a cgroup v1 host: read-only cgroups, no namespace; the
	 * guest (v2) gives one so that /sys/fs/cgroup is the container's. */
	assert_int_equal(cgroup_ns_after("\"nosuid\",\"ro\"", ""), 1);
	/* A privileged container's read-write cgroups: none, as on v2. */
	assert_int_equal(cgroup_ns_after("\"nosuid\",\"rw\"", ""), 0);
	/* One already asked for is not doubled. */
	assert_int_equal(cgroup_ns_after("\"ro\"", ",{\"type\":\"cgroup\"}"), 1);
}

static void test_spec_refuses(void **state)
{
	cleanup_free char *mounts = kc_xasprintf("%s/sb/mounts", tmpdir);
	struct kc_container_env env = { mounts, "/g", false, 42, false };
	const char *bad[][2] = {
		{ "{\"process\":{},\"mounts\":[{\"destination\":\"/x\",\"type\":\"nfs\"}]}",
		  "mount `/x`: type `nfs` is not supported" },
		{ "{\"process\":{},\"mounts\":[{\"destination\":\"/a/../../etc\",\"type\":\"bind\","
		  "\"source\":\"/tmp\"}]}",
		  "mount `/a/../../etc`: destination escapes the rootfs" },
		{ "{\"process\":{},\"mounts\":[{\"destination\":\"rel\",\"type\":\"tmpfs\"}]}",
		  "destination must be an absolute path" },
		{ "{\"process\":{},\"mounts\":[{\"destination\":\"/v\",\"type\":\"bind\","
		  "\"source\":\"/nonexistent-kc\"}]}",
		  "source `/nonexistent-kc`: No such file or directory" },
		{ "{\"mounts\":[]}", "process is missing" },
		/* A host namespace, or another pod's. */
		{ "{\"process\":{},\"linux\":{\"namespaces\":[{\"type\":\"ipc\",\"path\":"
		  "\"/proc/1/ns/ipc\"}]}}",
		  "ipc namespace `/proc/1/ns/ipc`: a container in a VM cannot join a host namespace" },
		{ "{\"process\":{},\"linux\":{\"namespaces\":[{\"type\":\"mount\",\"path\":"
		  "\"/proc/42/ns/mnt\"}]}}",
		  "mount namespace `/proc/42/ns/mnt`: a container in a VM cannot join" },
		{ "{\"process\":{},\"linux\":{\"namespaces\":[{\"type\":\"pid\",\"path\":"
		  "\"/proc/42/ns/ipc\"}]}}",
		  "pid namespace `/proc/42/ns/ipc`: a container in a VM cannot join" },
		/* CRI's hostPID and hostIPC: no entry of the type. */
		{ "{\"process\":{},\"annotations\":{\"io.kubernetes.cri.container-type\":"
		  "\"sandbox\"},\"linux\":{\"namespaces\":[{\"type\":\"ipc\"}]}}",
		  "the pod asks for the host's pid namespace (hostPID)" },
		{ "{\"process\":{},\"annotations\":{\"io.kubernetes.cri.container-type\":"
		  "\"container\"},\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}",
		  "the pod asks for the host's ipc namespace (hostIPC)" },
		/* Bidirectional propagation. */
		{ "{\"process\":{},\"mounts\":[{\"destination\":\"/t\",\"type\":\"tmpfs\"},"
		  "{\"destination\":\"/m\",\"type\":\"bind\",\"source\":\"/tmp\","
		  "\"options\":[\"rbind\",\"rshared\"]}]}",
		  "mount 1 (`/m`): propagation `rshared` (Bidirectional) cannot carry mounts" },
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		cleanup_json json_t *spec = parse(bad[i][0]);
		cleanup_error kc_error_t err = NULL;

		assert_true(kc_spec_for_guest(&env, "c1", spec, NULL, &sandbox_ns, &err) < 0);
		if (!strstr(err->msg, bad[i][1]))
			fail_msg("case %zu: `%s` lacks `%s`", i, err->msg, bad[i][1]);
	}
}

static void test_volumes_mounted(void **state)
{
	cleanup_free char *mounts = kc_xasprintf("%s/sb/mounts", tmpdir);
	cleanup_free char *vdir = kc_xasprintf("%s/vol", tmpdir);
	cleanup_free char *vfile = kc_xasprintf("%s/vol/file", tmpdir);
	cleanup_free char *text = kc_xasprintf(
		"{\"process\":{},\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\","
		"\"source\":\"%s\",\"options\":[\"rbind\",\"ro\"]},{\"destination\":\"/etc/hosts\","
		"\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"rw\"]}]}",
		vdir, vfile);
	cleanup_free char *ro_path = NULL, *rw_path = NULL;
	struct kc_container_env env = { mounts, "/g", false };
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *spec = parse(text);
	json_t *m;
	int fd;

	(void)state;
	assert_int_equal(kc_mkdir_p(vdir, NULL), 0);
	fd = open(vfile, O_WRONLY | O_CREAT, 0644);
	assert_true(write(fd, "hosts\n", 6) == 6);
	close(fd);
	assert_int_equal(kc_mkdir_p(mounts, NULL), 0);
	assert_int_equal(kc_spec_for_guest(&env, "c1", spec, NULL, &sandbox_ns, &err), 0);
	m = json_array_get(json_object_get(spec, "mounts"), 0);
	assert_string_equal(json_string_value(json_object_get(m, "source")), "/g/c1-0-data");
	m = json_array_get(json_object_get(spec, "mounts"), 1);
	assert_string_equal(json_string_value(json_object_get(m, "source")), "/g/c1-1-hosts");
	/* Read-only is honoured on the host side already. */
	ro_path = kc_xasprintf("%s/c1-0-data/new", mounts);
	assert_true(open(ro_path, O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS);
	rw_path = kc_xasprintf("%s/c1-1-hosts", mounts);
	fd = open(rw_path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mounts_below(mounts), 2);
	assert_int_equal(kc_container_cleanup(&env, "c1", NULL, &err), 0);
	assert_int_equal(mounts_below(mounts), 0);
	assert_true(access(rw_path, F_OK) < 0);
}

/* A tmpfs of `size` at dir (created), as kubelet mounts a memory emptyDir. */
static void mount_tmpfs(const char *dir, const char *size)
{
	cleanup_free char *opts = kc_xasprintf("size=%s,mode=0777", size);

	assert_int_equal(kc_mkdir_p(dir, NULL), 0);
	assert_int_equal(mount("tmpfs", dir, "tmpfs", 0, opts), 0);
}

static const struct kc_guest_storage *find_storage(const struct kc_guest_storages *gs,
						   const char *mount_point)
{
	for (size_t i = 0; i < gs->n; i++)
		if (strcmp(gs->v[i].mount_point, mount_point) == 0)
			return &gs->v[i];
	fail_msg("no storage at `%s`", mount_point);
	return NULL;
}

static bool has_opt(const struct kc_guest_storage *g, const char *opt)
{
	for (size_t i = 0; g->options[i]; i++)
		if (strcmp(g->options[i], opt) == 0)
			return true;
	return false;
}

/*
 * Kubernetes' volumes the guest holds itself: kubelet's directories laid
 * out as kubelet does.  A memory emptyDir (a tmpfs with size=) and the
 * pod's /dev/shm become guest tmpfs storages of that size; a disk emptyDir
 * a guest directory when guest_empty_dir, else it is shared as before;
 * nothing is mounted into the share for them.
 */
static void test_volumes_in_guest(void **state)
{
	cleanup_free char *mounts = kc_xasprintf("%s/sb/mounts", tmpdir);
	cleanup_free char *pod = kc_xasprintf("%s/kubelet/pods/uid1/volumes", tmpdir);
	cleanup_free char *mem = kc_xasprintf("%s/kubernetes.io~empty-dir/cache", pod);
	cleanup_free char *disk = kc_xasprintf("%s/kubernetes.io~empty-dir/scratch", pod);
	cleanup_free char *shm = kc_xasprintf("%s/sandboxes/s1/shm", tmpdir);
	cleanup_free char *text = kc_xasprintf(
		"{\"process\":{},\"mounts\":["
		"{\"destination\":\"/cache\",\"type\":\"bind\",\"source\":\"%s\","
		"\"options\":[\"rbind\",\"rw\"]},"
		"{\"destination\":\"/scratch\",\"type\":\"bind\",\"source\":\"%s\","
		"\"options\":[\"rbind\"]},"
		"{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"%s\","
		"\"options\":[\"rbind\",\"ro\"]}]}",
		mem, disk, shm);
	struct kc_container_env env = { mounts, "/g", false };
	struct kc_guest_storages gs = { 0 };
	const struct kc_guest_storage *g;
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *spec = parse(text), *spec2 = NULL;
	json_t *m;

	(void)state;
	mount_tmpfs(mem, "64m");
	mount_tmpfs(shm, "65536k");
	assert_int_equal(kc_mkdir_p(disk, NULL), 0);
	assert_int_equal(chmod(disk, 0777), 0);
	assert_int_equal(kc_mkdir_p(mounts, NULL), 0);
	env.guest_empty_dir = true;
	assert_int_equal(kc_spec_for_guest(&env, "c1", spec, &gs, &sandbox_ns, &err), 0);
	assert_int_equal(gs.n, 3);
	g = find_storage(&gs, KC_GUEST_SANDBOX_DIR "/ephemeral/cache");
	assert_string_equal(g->driver, "ephemeral");
	assert_string_equal(g->fstype, "tmpfs");
	assert_true(has_opt(g, "size=67108864"));
	assert_true(has_opt(g, "mode=0777"));
	g = find_storage(&gs, KC_GUEST_SANDBOX_DIR "/shm");
	assert_true(has_opt(g, "size=67108864") && has_opt(g, "noexec"));
	g = find_storage(&gs, KC_GUEST_SANDBOX_DIR "/local/scratch");
	assert_string_equal(g->driver, "local");
	assert_true(has_opt(g, "mode=0777"));
	m = json_array_get(json_object_get(spec, "mounts"), 0);
	assert_string_equal(json_string_value(json_object_get(m, "source")),
			    KC_GUEST_SANDBOX_DIR "/ephemeral/cache");
	m = json_array_get(json_object_get(spec, "mounts"), 2);
	assert_string_equal(json_string_value(json_object_get(m, "source")),
			    KC_GUEST_SANDBOX_DIR "/shm");
	assert_string_equal(json_string_value(json_array_get(json_object_get(m, "options"), 1)),
			    "ro");
	/* Nothing of theirs went into the share. */
	assert_int_equal(mounts_below(mounts), 0);
	kc_guest_storages_free(&gs);

	/* Kata's default (disable_guest_empty_dir): a disk emptyDir is
	 * shared from the host; the memory one stays in the guest. */
	spec2 = parse(text);
	env.guest_empty_dir = false;
	assert_int_equal(kc_spec_for_guest(&env, "c2", spec2, &gs, &sandbox_ns, &err), 0);
	assert_int_equal(gs.n, 2);
	m = json_array_get(json_object_get(spec2, "mounts"), 1);
	assert_string_equal(json_string_value(json_object_get(m, "source")), "/g/c2-1-scratch");
	kc_guest_storages_free(&gs);
	assert_int_equal(kc_container_cleanup(&env, "c2", NULL, &err), 0);

	/* No block-encrypted emptyDir in kata-c: said so, naming it. */
	{
		cleanup_json json_t *spec3 = parse(text);

		env.emptydir_mode = "block-encrypted";
		assert_true(kc_spec_for_guest(&env, "c3", spec3, &gs, &sandbox_ns, &err) < 0);
		assert_non_null(strstr(err->msg,
				       "emptyDir `scratch`: emptydir_mode `block-encrypted`"));
		kc_error_free(&err);
		kc_guest_storages_free(&gs);
		assert_int_equal(kc_container_cleanup(&env, "c3", NULL, &err), 0);
		env.emptydir_mode = NULL;
	}
	assert_int_equal(umount(mem), 0);
	assert_int_equal(umount(shm), 0);
	assert_int_equal(mounts_below(tmpdir), 0);
}

/* kubelet's bind of a subPath: dir bound on POD/volume-subpaths/VOL/CTR/N. */
static char *bind_subpath(const char *pod, const char *vol, const char *ctr, int n, const char *dir)
{
	char *at = kc_xasprintf("%s/volume-subpaths/%s/%s/%d", pod, vol, ctr, n);

	assert_int_equal(kc_mkdir_p(at, NULL), 0);
	assert_int_equal(mount(dir, at, NULL, MS_BIND, NULL), 0);
	return at;
}

/*
 * A subPath of a memory emptyDir is the guest's tmpfs of the pod at the
 * same sub directory (one storage, as for the whole volume); a subPath
 * not found in its volume, or of a volume the guest does not hold, is
 * shared from the host as before.
 */
static void test_volumes_subpath(void **state)
{
	cleanup_free char *mounts = kc_xasprintf("%s/sb/mounts", tmpdir);
	cleanup_free char *pod = kc_xasprintf("%s/kubelet/pods/uid3", tmpdir);
	cleanup_free char *mem = kc_xasprintf("%s/volumes/kubernetes.io~empty-dir/cache", pod);
	cleanup_free char *disk = kc_xasprintf("%s/volumes/kubernetes.io~empty-dir/scratch", pod);
	cleanup_free char *nested = kc_xasprintf("%s/sub/dir", mem);
	cleanup_free char *dnested = kc_xasprintf("%s/x", disk);
	cleanup_free char *outside = kc_xasprintf("%s/elsewhere", tmpdir);
	cleanup_free char *link = kc_xasprintf("%s/link", mem);
	cleanup_free char *sp1 = NULL, *sp2 = NULL, *sp3 = NULL, *text = NULL;
	struct kc_container_env env = { mounts, "/g", false };
	struct kc_guest_storages gs = { 0 };
	const struct kc_guest_storage *g;
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *spec = NULL;
	json_t *ms;

	(void)state;
	mount_tmpfs(mem, "64m");
	assert_int_equal(kc_mkdir_p(nested, NULL), 0);
	/* A symlink in the volume is not followed by the walk. */
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(kc_mkdir_p(dnested, NULL), 0);
	assert_int_equal(kc_mkdir_p(outside, NULL), 0);
	assert_int_equal(kc_mkdir_p(mounts, NULL), 0);
	sp1 = bind_subpath(pod, "cache", "b", 0, nested);
	sp2 = bind_subpath(pod, "cache", "b", 1, outside);
	sp3 = bind_subpath(pod, "scratch", "b", 2, dnested);
	text = kc_xasprintf("{\"process\":{},\"mounts\":["
			    "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"%s\","
			    "\"options\":[\"rbind\"]},"
			    "{\"destination\":\"/sub\",\"type\":\"bind\",\"source\":\"%s\","
			    "\"options\":[\"rbind\",\"ro\"]},"
			    "{\"destination\":\"/out\",\"type\":\"bind\",\"source\":\"%s\","
			    "\"options\":[\"rbind\"]},"
			    "{\"destination\":\"/disk\",\"type\":\"bind\",\"source\":\"%s\","
			    "\"options\":[\"rbind\"]}]}",
			    mem, sp1, sp2, sp3);
	spec = parse(text);
	assert_int_equal(kc_spec_for_guest(&env, "c1", spec, &gs, &sandbox_ns, &err), 0);
	/* One storage for the volume and its subPath. */
	assert_int_equal(gs.n, 1);
	g = find_storage(&gs, KC_GUEST_SANDBOX_DIR "/ephemeral/cache");
	assert_true(has_opt(g, "size=67108864") && has_opt(g, "mode=0777"));
	ms = json_object_get(spec, "mounts");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 0), "source")),
			    KC_GUEST_SANDBOX_DIR "/ephemeral/cache");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 1), "source")),
			    KC_GUEST_SANDBOX_DIR "/ephemeral/cache/sub/dir");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_array_get(ms, 1), "options"), 1)),
			    "ro");
	/* Not in its volume: shared from the host, as before. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 2), "source")),
			    "/g/c1-2-out");
	/* A disk emptyDir the guest does not hold (guest_empty_dir off). */
	assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 3), "source")),
			    "/g/c1-3-disk");
	kc_guest_storages_free(&gs);
	assert_int_equal(kc_container_cleanup(&env, "c1", NULL, &err), 0);

	/* With guest_empty_dir, the disk emptyDir's subPath is its guest
	 * directory's too. */
	json_decref(spec);
	spec = parse(text);
	env.guest_empty_dir = true;
	assert_int_equal(kc_spec_for_guest(&env, "c2", spec, &gs, &sandbox_ns, &err), 0);
	assert_int_equal(gs.n, 2);
	ms = json_object_get(spec, "mounts");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 3), "source")),
			    KC_GUEST_SANDBOX_DIR "/local/scratch/x");
	kc_guest_storages_free(&gs);
	assert_int_equal(kc_container_cleanup(&env, "c2", NULL, &err), 0);

	/* The walk goes 8 levels down, no further: a sub directory at the
	 * 8th is the guest's, one at the 9th shared from the host. */
	{
		cleanup_free char *d8 = kc_xasprintf("%s/1/2/3/4/5/6/7/8", mem);
		cleanup_free char *d9 = kc_xasprintf("%s/9", d8);
		cleanup_free char *sp8 = NULL, *sp9 = NULL, *t2 = NULL;
		cleanup_json json_t *spec4 = NULL;

		assert_int_equal(kc_mkdir_p(d9, NULL), 0);
		sp8 = bind_subpath(pod, "cache", "d", 0, d8);
		sp9 = bind_subpath(pod, "cache", "d", 1, d9);
		t2 = kc_xasprintf("{\"process\":{},\"mounts\":["
				  "{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"%s\"},"
				  "{\"destination\":\"/b\",\"type\":\"bind\",\"source\":\"%s\"}]}",
				  sp8, sp9);
		spec4 = parse(t2);
		assert_int_equal(kc_spec_for_guest(&env, "c4", spec4, &gs, &sandbox_ns, &err), 0);
		assert_int_equal(gs.n, 1);
		ms = json_object_get(spec4, "mounts");
		assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 0),
								      "source")),
				    KC_GUEST_SANDBOX_DIR "/ephemeral/cache/1/2/3/4/5/6/7/8");
		assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 1),
								      "source")),
				    "/g/c4-1-b");
		kc_guest_storages_free(&gs);
		assert_int_equal(kc_container_cleanup(&env, "c4", NULL, &err), 0);
		assert_int_equal(umount(sp8), 0);
		assert_int_equal(umount(sp9), 0);
	}

	assert_int_equal(umount(sp1), 0);
	assert_int_equal(umount(sp2), 0);
	assert_int_equal(umount(sp3), 0);
	assert_int_equal(umount(mem), 0);
	assert_int_equal(mounts_below(tmpdir), 0);
}

/* A sizeLimit no host could hold is refused, naming the volume. */
static void test_volumes_absurd_size(void **state)
{
	cleanup_free char *mounts = kc_xasprintf("%s/sb/mounts", tmpdir);
	cleanup_free char *mem = kc_xasprintf("%s/kubelet/pods/uid2/volumes/"
					      "kubernetes.io~empty-dir/huge",
					      tmpdir);
	cleanup_free char *text = kc_xasprintf(
		"{\"process\":{},\"mounts\":[{\"destination\":\"/huge\",\"type\":\"bind\","
		"\"source\":\"%s\",\"options\":[\"rbind\"]}]}",
		mem);
	struct kc_container_env env = { mounts, "/g", false };
	struct kc_guest_storages gs = { 0 };
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *spec = parse(text);

	(void)state;
	mount_tmpfs(mem, "1P");
	assert_true(kc_spec_for_guest(&env, "c1", spec, &gs, &sandbox_ns, &err) < 0);
	assert_non_null(strstr(err->msg, "emptyDir `huge` asks for 1125899906842624 bytes"));
	assert_non_null(strstr(err->msg, "more than this host's memory"));
	assert_int_equal(gs.n, 0);
	assert_int_equal(umount(mem), 0);
}

static void test_rootfs_bind_and_overlay(void **state)
{
	cleanup_free char *mounts = kc_xasprintf("%s/sb2/mounts", tmpdir);
	cleanup_free char *bundle = kc_xasprintf("%s/bundle", tmpdir);
	cleanup_free char *lower = kc_xasprintf("%s/lower", tmpdir);
	cleanup_free char *upper = kc_xasprintf("%s/upper", tmpdir);
	cleanup_free char *work = kc_xasprintf("%s/work", tmpdir);
	cleanup_free char *lo = kc_xasprintf("lowerdir=%s", lower);
	cleanup_free char *up = kc_xasprintf("upperdir=%s", upper);
	cleanup_free char *wo = kc_xasprintf("workdir=%s", work);
	cleanup_free char *marker = kc_xasprintf("%s/marker", lower);
	cleanup_free char *seen = kc_xasprintf("%s/c2/rootfs/marker", mounts);
	char *bopts[] = { "rbind", "rw" };
	char *oopts[] = { lo, up, wo };
	struct kc_rootfs_mount bind = { "bind", lower, "", bopts, 2 };
	struct kc_rootfs_mount ov = { "overlay", "overlay", "", oopts, 3 };
	struct kc_rootfs_mount weird = { "zfs", "x", "", NULL, 0 };
	struct kc_container_env env = { mounts, "/g", false };
	cleanup_error kc_error_t err = NULL, e2 = NULL, e3 = NULL;
	int fd;

	(void)state;
	assert_int_equal(kc_mkdir_p(bundle, NULL), 0);
	assert_int_equal(kc_mkdir_p(lower, NULL), 0);
	assert_int_equal(kc_mkdir_p(upper, NULL), 0);
	assert_int_equal(kc_mkdir_p(work, NULL), 0);
	assert_int_equal(kc_mkdir_p(mounts, NULL), 0);
	fd = open(marker, O_WRONLY | O_CREAT, 0644);
	close(fd);
	assert_int_equal(kc_rootfs_setup(&env, "c2", bundle, NULL, &bind, 1, &err), 0);
	assert_int_equal(access(seen, F_OK), 0);
	assert_int_equal(kc_container_cleanup(&env, "c2", bundle, &err), 0);
	assert_int_equal(mounts_below(tmpdir), 0);
	assert_int_equal(kc_rootfs_setup(&env, "c2", bundle, NULL, &ov, 1, &err), 0);
	assert_int_equal(access(seen, F_OK), 0);
	assert_int_equal(kc_container_cleanup(&env, "c2", bundle, &err), 0);
	assert_int_equal(mounts_below(tmpdir), 0);
	assert_true(kc_rootfs_setup(&env, "c2", bundle, NULL, &weird, 1, &e2) < 0);
	assert_non_null(strstr(e2->msg, "rootfs mount type `zfs` is not supported"));
	/* No mount and an empty bundle rootfs: nothing to run. */
	assert_true(kc_rootfs_setup(&env, "c2", bundle, NULL, NULL, 0, &e3) < 0);
	assert_non_null(strstr(e3->msg, "no rootfs mount given"));
	assert_int_equal(mounts_below(tmpdir), 0);
}

static void test_sizing(void **state)
{
	cleanup_json json_t *a = parse("{\"annotations\":{\"io.kubernetes.cri.sandbox-cpu-quota\":"
				       "\"150000\",\"io.kubernetes.cri.sandbox-cpu-period\":\"100000\","
				       "\"io.kubernetes.cri.sandbox-memory\":\"268435456\"}}");
	cleanup_json json_t *b = parse("{\"linux\":{\"resources\":{\"cpu\":{\"quota\":50000,"
				       "\"period\":100000},\"memory\":{\"limit\":134217728}}}}");
	cleanup_json json_t *c = parse("{}");
	unsigned v, m;

	(void)state;
	kc_spec_sizing(a, 1, 8, 256, 0, &v, &m);
	assert_int_equal(v, 3);
	assert_int_equal(m, 512);
	kc_spec_sizing(b, 1, 8, 256, 300, &v, &m);
	assert_int_equal(v, 2);
	assert_int_equal(m, 300);
	kc_spec_sizing(c, 1, 8, 256, 0, &v, &m);
	assert_int_equal(v, 1);
	assert_int_equal(m, 256);
}

/* Writes version `version` of kubelet's atomic writer into vol: the
 * `..<timestamp>` directory with the files, `..data_tmp` renamed over
 * `..data`, the top-level symlinks, the previous version removed. */
static void kubelet_write(const char *vol, int version, const char *const *keys, const char *value)
{
	cleanup_free char *dir = kc_xasprintf("..2026_12_07_18_00_%02d.%d", version, 100 + version);
	cleanup_free char *path = kc_xasprintf("%s/%s", vol, dir);
	cleanup_free char *tmp = kc_xasprintf("%s/..data_tmp", vol);
	cleanup_free char *data = kc_xasprintf("%s/..data", vol);
	char old[256] = "";
	ssize_t n;

	assert_int_equal(kc_mkdir_p(path, NULL), 0);
	for (size_t i = 0; keys[i]; i++) {
		cleanup_free char *f = kc_xasprintf("%s/%s", path, keys[i]);
		cleanup_free char *link = kc_xasprintf("%s/%s", vol, keys[i]);
		cleanup_free char *to = kc_xasprintf("..data/%s", keys[i]);
		int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		assert_true(fd >= 0);
		assert_true(write(fd, value, strlen(value)) == (ssize_t)strlen(value));
		close(fd);
		if (symlink(to, link) < 0)
			assert_int_equal(errno, EEXIST);
	}
	n = readlink(data, old, sizeof(old) - 1);
	old[n > 0 ? n : 0] = '\0';
	assert_int_equal(symlink(dir, tmp), 0);
	assert_int_equal(rename(tmp, data), 0);
	if (old[0]) {
		cleanup_free char *cmd = kc_xasprintf("rm -rf '%s/%s'", vol, old);

		assert_int_equal(system(cmd), 0);
	}
}

/* Points vol's `..data` at target, as kubelet would swap it. */
static void swap_data(const char *vol, const char *target)
{
	cleanup_free char *tmp = kc_xasprintf("%s/..data_tmp", vol);
	cleanup_free char *data = kc_xasprintf("%s/..data", vol);

	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(rename(tmp, data), 0);
}

static const char *const keys12[] = { "key1", "key2", NULL };

/*
 * kubelet's ConfigMap, Secret, projected and downward-API volumes become
 * watchable-bind storages (the guest's copy) of the share's directory,
 * mounted where the container wants them; other directories, one without
 * a kubelet `..data` and one beyond the bounds stay plain shared binds;
 * with a host agent none is made.
 */
static void test_volumes_watchable(void **state)
{
	static const char *const kinds[] = { "configmap", "secret", "projected", "downward-api" };
	cleanup_free char *mounts = kc_xasprintf("%s/sbw/mounts", tmpdir);
	cleanup_free char *vols = kc_xasprintf("%s/kubelet/pods/uidw/volumes", tmpdir);
	cleanup_free char *big = kc_xasprintf("%s/kubernetes.io~configmap/big", vols);
	cleanup_free char *many = kc_xasprintf("%s/kubernetes.io~secret/many", vols);
	cleanup_free char *plain = kc_xasprintf("%s/kubernetes.io~configmap/plain", vols);
	cleanup_free char *upper = kc_xasprintf("%s/kubernetes.io~configmap/Upper", vols);
	cleanup_free char *other = kc_xasprintf("%s/kubernetes.io~configmapx/cfg", vols);
	cleanup_free char *text = NULL, *msrc = NULL;
	struct kc_container_env env = { mounts, "/g", false };
	struct kc_guest_storages gs = { 0 };
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *spec = NULL, *spec2 = NULL;
	char *vol[4];
	json_t *m;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		vol[i] = kc_xasprintf("%s/kubernetes.io~%s/v%zu", vols, kinds[i], i);
		kubelet_write(vol[i], 1, keys12, "v1");
	}
	kubelet_write(upper, 1, keys12, "v1");
	kubelet_write(other, 1, keys12, "v1");
	assert_int_equal(kc_mkdir_p(plain, NULL), 0); /* no ..data */
	kubelet_write(big, 1, keys12, "v1");
	{
		/* 8 MiB and one byte in the version. */
		cleanup_free char *data = kc_xasprintf("%s/..data/key1", big);
		int fd = open(data, O_WRONLY);

		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, KC_WATCHABLE_MAX_BYTES + 1), 0);
		close(fd);
	}
	kubelet_write(many, 1, keys12, "v1");
	for (int i = 0; i < KC_WATCHABLE_MAX_FILES; i++) {
		cleanup_free char *f = kc_xasprintf("%s/..data/f%d", many, i);
		int fd = open(f, O_WRONLY | O_CREAT, 0644);

		assert_true(fd >= 0);
		close(fd);
	}
	text = kc_xasprintf(
		"{\"process\":{},\"mounts\":["
		"{\"destination\":\"/cm\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"ro\"]},"
		"{\"destination\":\"/sec\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"ro\"]},"
		"{\"destination\":\"/proj\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\"]},"
		"{\"destination\":\"/down\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"ro\"]},"
		"{\"destination\":\"/upper\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\"]},"
		"{\"destination\":\"/other\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\"]},"
		"{\"destination\":\"/plain\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\"]},"
		"{\"destination\":\"/big\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\"]},"
		"{\"destination\":\"/many\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\"]}]}",
		vol[0], vol[1], vol[2], vol[3], upper, other, plain, big, many);
	spec = parse(text);
	assert_int_equal(kc_mkdir_p(mounts, NULL), 0);
	assert_int_equal(kc_spec_for_guest(&env, "c1", spec, &gs, &sandbox_ns, &err), 0);
	assert_int_equal(gs.n, 4);
	for (size_t i = 0; i < 4; i++) {
		static const char *const dests[] = { "cm", "sec", "proj", "down" };
		cleanup_free char *mp = kc_xasprintf(KC_GUEST_WATCHABLE_DIR "/c1-%zu", i);
		cleanup_free char *src = kc_xasprintf("/g/c1-%zu-%s", i, dests[i]);
		const struct kc_guest_storage *g = find_storage(&gs, mp);

		assert_string_equal(g->driver, "watchable-bind");
		assert_string_equal(g->source, src);
		assert_string_equal(g->watch_dir, vol[i]);
		assert_null(g->options[0]);
		assert_false(g->fs_group_set);
		m = json_array_get(json_object_get(spec, "mounts"), i);
		assert_string_equal(json_string_value(json_object_get(m, "source")), mp);
		assert_string_equal(json_string_value(json_object_get(m, "type")), "bind");
	}
	/* Read-only stays the container bind's. */
	m = json_array_get(json_object_get(spec, "mounts"), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(m, "options"), 1)),
			    "ro");
	/* The others: plain shared binds. */
	for (size_t i = 4; i < 9; i++) {
		static const char *const dests[] = { "upper", "other", "plain", "big", "many" };
		cleanup_free char *src = kc_xasprintf("/g/c1-%zu-%s", i, dests[i - 4]);

		m = json_array_get(json_object_get(spec, "mounts"), i);
		assert_string_equal(json_string_value(json_object_get(m, "source")), src);
	}
	/* Every volume is in the share all the same (the agent copies from it). */
	assert_int_equal(mounts_below(mounts), 9);
	msrc = kc_xasprintf("%s/c1-0-cm/key1", mounts);
	assert_int_equal(access(msrc, R_OK), 0);
	kc_guest_storages_free(&gs);
	assert_int_equal(kc_container_cleanup(&env, "c1", NULL, &err), 0);

	/* A host agent reads the host's directories: no copy. */
	spec2 = parse(text);
	env.host_agent = true;
	assert_int_equal(kc_spec_for_guest(&env, "c2", spec2, &gs, &sandbox_ns, &err), 0);
	assert_int_equal(gs.n, 0);
	m = json_array_get(json_object_get(spec2, "mounts"), 0);
	assert_string_equal(json_string_value(json_object_get(m, "source")), "/g/c2-0-cm");
	assert_int_equal(kc_container_cleanup(&env, "c2", NULL, &err), 0);
	assert_int_equal(mounts_below(mounts), 0);
	for (size_t i = 0; i < 4; i++)
		free(vol[i]);
}

/* kubelet's own names only. */
static void test_kubelet_version_names(void **state)
{
	(void)state;
	assert_true(kc_kubelet_version_name_valid("..2026_12_07_18_00_00.1"));
	assert_true(kc_kubelet_version_name_valid("..2026_12_07_18_00_00.12345678901234567890"));
	assert_false(kc_kubelet_version_name_valid("..2026_12_07_18_00_00.123456789012345678901"));
	assert_false(kc_kubelet_version_name_valid("..2026_12_07_18_00_00."));
	assert_false(kc_kubelet_version_name_valid("..data"));
	assert_false(kc_kubelet_version_name_valid("..data_tmp"));
	assert_false(kc_kubelet_version_name_valid("../2026_12_07_18_00_00.1"));
	assert_false(kc_kubelet_version_name_valid("..2026_12_07_18_00_00.1/x"));
	assert_false(kc_kubelet_version_name_valid("/etc"));
	assert_false(kc_kubelet_version_name_valid(""));
}

/* What the watch sent: a fake agent that fails the next `fail` calls. */
struct sent {
	char mp[8][128], dir[8][64];
	size_t n, calls;
	int fail;
};

static void fake_send(void *data, const char *mount_point, const char *data_dir, kc_done_fn done,
		      void *done_ctx)
{
	struct sent *s = data;
	cleanup_error kc_error_t err = NULL;

	s->calls++;
	if (s->fail > 0) {
		s->fail--;
		kc_error_set(&err, EIO, "the agent's copy failed");
		done(done_ctx, &err);
		return;
	}
	assert_true(s->n < 8);
	snprintf(s->mp[s->n], sizeof(s->mp[0]), "%s", mount_point);
	snprintf(s->dir[s->n++], sizeof(s->dir[0]), "%s", data_dir);
	done(done_ctx, NULL);
}

/* Runs loop until s has n updates or ms pass; the time it took (ms). */
static long run_until(struct kc_loop *loop, struct sent *s, size_t n, long ms)
{
	struct timespec a, b;
	long spent = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	while (s->n < n && spent < ms) {
		assert_true(kc_loop_run_once(loop, 50000000, NULL) >= 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		spent = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	}
	return spent;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int inotify_watches(void)
{
	DIR *d = opendir("/proc/self/fdinfo");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d))) {
		cleanup_free char *p = kc_xasprintf("/proc/self/fdinfo/%s", e->d_name);
		cleanup_fclose FILE *f = e->d_name[0] != '.' ? fopen(p, "re") : NULL;
		char line[512];

		while (f && fgets(line, sizeof(line), f))
			n += strncmp(line, "inotify wd:", 11) == 0;
	}
	closedir(d);
	return n;
}

/*
 * The host watch: kubelet's swap of `..data` sends the new version to
 * every mount of that volume (two containers of one volume share one
 * inotify watch), a failed update is retried after 1 s, a `..data`
 * pointing out of the volume or to a name not of kubelet's form is
 * refused (nothing sent), and removing the mounts and the watch leaves no
 * inotify watch nor fd.
 */
static void test_vwatch(void **state)
{
	cleanup_free char *cm = kc_xasprintf("%s/wk/kubernetes.io~configmap/cfg", tmpdir);
	cleanup_free char *sec = kc_xasprintf("%s/wk/kubernetes.io~secret/sec", tmpdir);
	cleanup_free char *outside = kc_xasprintf("%s/wk/..2026_12_07_18_00_59.1", tmpdir);
	cleanup_free char *bogus = kc_xasprintf("%s/notkubelet", cm);
	cleanup_error kc_error_t err = NULL;
	struct kc_loop *loop = NULL;
	struct kc_vwatch *w = NULL;
	struct sent s = { 0 };
	size_t watches, mnts, updated;
	int fds0 = count_fds(), watches0 = inotify_watches();
	long took;

	(void)state;
	kubelet_write(cm, 1, keys12, "v1");
	kubelet_write(sec, 1, keys12, "s1");
	assert_int_equal(kc_loop_new(&loop, &err), 0);
	assert_int_equal(kc_vwatch_new(loop, fake_send, &s, &w, &err), 0);
	assert_int_equal(kc_vwatch_add(w, "c1", cm, "/w/c1-0", &err), 0);
	assert_int_equal(kc_vwatch_add(w, "c2", cm, "/w/c2-0", &err), 0);
	assert_int_equal(kc_vwatch_add(w, "c2", sec, "/w/c2-1", &err), 0);
	kc_vwatch_counts(w, &watches, &mnts, &updated);
	assert_int_equal(watches, 2);
	assert_int_equal(mnts, 3);
	assert_int_equal(inotify_watches(), watches0 + 2);
	/* A directory without kubelet's ..data is refused, naming it. */
	assert_true(kc_vwatch_add(w, "c3", tmpdir, "/w/c3-0", &err) < 0);
	assert_non_null(strstr(err->msg, "read `..data`"));
	kc_error_free(&err);
	assert_int_equal(inotify_watches(), watches0 + 2);

	/* Nothing changed: nothing sent. */
	run_until(loop, &s, 1, 100);
	assert_int_equal(s.calls, 0);
	kubelet_write(cm, 2, keys12, "v2");
	took = run_until(loop, &s, 2, 2000);
	assert_int_equal(s.n, 2);
	assert_true(took < 500);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(s.dir[i], "..2026_12_07_18_00_02.102");
	assert_true((strcmp(s.mp[0], "/w/c1-0") == 0 && strcmp(s.mp[1], "/w/c2-0") == 0) ||
		    (strcmp(s.mp[1], "/w/c1-0") == 0 && strcmp(s.mp[0], "/w/c2-0") == 0));

	/* A failure: the guest keeps v2 meanwhile; retried after 1 s. */
	s.fail = 1;
	kubelet_write(sec, 2, keys12, "s2");
	took = run_until(loop, &s, 3, 3000);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.calls, 4);
	assert_true(took >= 900);
	assert_string_equal(s.mp[2], "/w/c2-1");
	assert_string_equal(s.dir[2], "..2026_12_07_18_00_02.102");

	/* Hostile ..data: out of the volume, not kubelet's name, a
	 * symlink: refused, nothing sent. */
	assert_int_equal(kc_mkdir_p(outside, NULL), 0);
	assert_int_equal(kc_mkdir_p(bogus, NULL), 0);
	swap_data(cm, "../..2026_12_07_18_00_59.1");
	run_until(loop, &s, 4, 300);
	swap_data(cm, "notkubelet");
	run_until(loop, &s, 4, 300);
	{
		cleanup_free char *l = kc_xasprintf("%s/..2026_12_07_18_00_09.1", cm);

		assert_int_equal(symlink("..2026_12_07_18_00_02.102", l), 0);
		swap_data(cm, "..2026_12_07_18_00_09.1");
		run_until(loop, &s, 4, 300);
	}
	swap_data(cm, "..2026_12_07_18_00_08.1"); /* not there */
	run_until(loop, &s, 4, 300);
	assert_int_equal(s.n, 3);
	/* A good version again goes through. */
	swap_data(cm, "..2026_12_07_18_00_02.102");
	kubelet_write(cm, 3, keys12, "v3");
	run_until(loop, &s, 5, 2000);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.dir[3], "..2026_12_07_18_00_03.103");
	assert_string_equal(s.dir[4], "..2026_12_07_18_00_03.103");

	/* Removing: the watch of cm stays while c1 uses it. */
	kc_vwatch_remove(w, "c2");
	kc_vwatch_counts(w, &watches, &mnts, &updated);
	assert_int_equal(watches, 1);
	assert_int_equal(mnts, 1);
	assert_int_equal(updated, 5);
	assert_int_equal(inotify_watches(), watches0 + 1);
	kc_vwatch_remove(w, "c1");
	assert_int_equal(inotify_watches(), watches0);
	kc_vwatch_free(w);
	kc_loop_free(loop);
	assert_int_equal(count_fds(), fds0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_id),
		cmocka_unit_test(test_mount_options),
		cmocka_unit_test(test_spec_rewrite),
		cmocka_unit_test(test_spec_cgroup_namespace),
		cmocka_unit_test(test_spec_refuses),
		cmocka_unit_test(test_volumes_mounted),
		cmocka_unit_test(test_volumes_in_guest),
		cmocka_unit_test(test_volumes_absurd_size),
		cmocka_unit_test(test_volumes_subpath),
		cmocka_unit_test(test_volumes_watchable),
		cmocka_unit_test(test_kubelet_version_names),
		cmocka_unit_test(test_vwatch),
		cmocka_unit_test(test_rootfs_bind_and_overlay),
		cmocka_unit_test(test_sizing),
	};
	return cmocka_run_group_tests_name("shim-host", tests, tmpdir_setup, tmpdir_teardown);
}
