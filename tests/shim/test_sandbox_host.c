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
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/container.h"
#include "lib/json.h"
#include "lib/util.h"
#include "sandbox/mount.h"
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
	assert_string_equal(json_string_value(json_object_get(json_array_get(ns, 0), "type")), "pid");
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
		assert_string_equal(
			json_string_value(json_object_get(json_object_get(s2, "linux"), "cgroupsPath")),
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
	json_array_foreach (json_object_get(json_object_get(spec, "linux"), "namespaces"), i, n)
		if (strcmp(json_string_value(json_object_get(n, "type")), "cgroup") == 0)
			count++;
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
		assert_non_null(strstr(err->msg, "emptyDir `scratch`: emptydir_mode `block-encrypted`"));
		kc_error_free(&err);
		kc_guest_storages_free(&gs);
		assert_int_equal(kc_container_cleanup(&env, "c3", NULL, &err), 0);
		env.emptydir_mode = NULL;
	}
	assert_int_equal(umount(mem), 0);
	assert_int_equal(umount(shm), 0);
	assert_int_equal(mounts_below(tmpdir), 0);
}

/* A sizeLimit no host could hold is refused, naming the volume. */
static void test_volumes_absurd_size(void **state)
{
	cleanup_free char *mounts = kc_xasprintf("%s/sb/mounts", tmpdir);
	cleanup_free char *mem = kc_xasprintf("%s/kubelet/pods/uid2/volumes/"
					      "kubernetes.io~empty-dir/huge", tmpdir);
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
		cmocka_unit_test(test_rootfs_bind_and_overlay),
		cmocka_unit_test(test_sizing),
	};
	return cmocka_run_group_tests_name("shim-host", tests, tmpdir_setup, tmpdir_teardown);
}
