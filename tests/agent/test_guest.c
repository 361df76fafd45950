/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest RPCs of kata-agent --no-init on the host: sysfs is a fake tree
 * (--sysfs-root) and /run/kata-containers a temporary directory
 * (--run-root), so that what the agent writes can be read back and
 * nothing of the host changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent_harness.h"
#include "lib/util.h"
#include "ttrpc/ttrpc.h"

static struct {
	char dir[64];
	char *sysfs, *run, *outside;
	struct ah_agent agent;
} g;

#define A (&g.agent.conn)
#define EMPTY (&google__protobuf__empty__descriptor)

static char *path_of(const char *root, const char *rel)
{
	return kc_xasprintf("%s/%s", root, rel);
}

static void mkdirs(const char *root, const char *rel)
{
	free(ah_sh("mkdir -p '%s/%s'", root, rel));
}

static void put(const char *root, const char *rel, const char *text)
{
	cleanup_free char *p = path_of(root, rel);

	ah_write(p, text);
}

static char *get(const char *root, const char *rel)
{
	cleanup_free char *p = path_of(root, rel);

	return ah_read(p);
}

static int setup(void **state)
{
	const char *extra[5];

	(void)state;
	strcpy(g.dir, "/tmp/kc-netctl-guest-XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	g.sysfs = path_of(g.dir, "sys");
	g.run = path_of(g.dir, "run");
	g.outside = path_of(g.dir, "outside");
	mkdirs(g.sysfs, "devices/system/cpu/cpu0");
	mkdirs(g.sysfs, "devices/system/cpu/cpu1");
	mkdirs(g.sysfs, "devices/system/cpu/cpu2");
	mkdirs(g.sysfs, "devices/system/cpu/cpufreq");
	put(g.sysfs, "devices/system/cpu/cpu1/online", "0\n");
	put(g.sysfs, "devices/system/cpu/cpu2/online", "1\n");
	mkdirs(g.sysfs, "devices/system/memory/memory0");
	mkdirs(g.sysfs, "devices/system/memory/memory1");
	put(g.sysfs, "devices/system/memory/memory0/state", "offline\n");
	put(g.sysfs, "devices/system/memory/memory1/state", "online\n");
	put(g.sysfs, "devices/system/memory/block_size_bytes", "8000000\n");
	put(g.sysfs, "devices/system/memory/probe", "");
	mkdirs(g.run, "");
	mkdirs(g.outside, "");
	extra[0] = "--sysfs-root";
	extra[1] = g.sysfs;
	extra[2] = "--run-root";
	extra[3] = g.run;
	extra[4] = NULL;
	ah_agent_start(&g.agent, &(struct ah_agent_opts){ .extra = extra });
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ah_agent_stop(&g.agent);
	free(ah_sh("rm -rf '%s'", g.dir));
	free(g.sysfs);
	free(g.run);
	free(g.outside);
	return 0;
}

static void test_guest_details(void **state)
{
	Grpc__GuestDetailsRequest req = GRPC__GUEST_DETAILS_REQUEST__INIT;
	Grpc__GuestDetailsResponse *r;

	(void)state;
	req.mem_block_size = true;
	req.mem_hotplug_probe = true;
	r = (void *)ah_call_ok(A, "GetGuestDetails", &req.base,
			       &grpc__guest_details_response__descriptor);
	assert_int_equal(r->mem_block_size_bytes, 0x8000000);
	assert_true(r->support_mem_hotplug_probe);
	assert_non_null(r->agent_details);
	assert_true(strlen(r->agent_details->version) > 0);
	assert_false(r->agent_details->init_daemon);
	assert_true(r->agent_details->n_features >= 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* Not asked, not read. */
	req.mem_block_size = false;
	req.mem_hotplug_probe = false;
	r = (void *)ah_call_ok(A, "GetGuestDetails", &req.base,
			       &grpc__guest_details_response__descriptor);
	assert_int_equal(r->mem_block_size_bytes, 0);
	assert_false(r->support_mem_hotplug_probe);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_set_guest_date_time(void **state)
{
	Grpc__SetGuestDateTimeRequest req = GRPC__SET_GUEST_DATE_TIME_REQUEST__INIT;

	(void)state;
	req.sec = 1700000000;
	ah_call_fails(A, "SetGuestDateTime", &req.base, KC_TTRPC_FAILED_PRECONDITION, "--no-init");
	req.usec = 1000000;
	ah_call_fails(A, "SetGuestDateTime", &req.base, KC_TTRPC_INVALID_ARGUMENT, "1000000");
	req.usec = 0;
	req.sec = -5;
	ah_call_fails(A, "SetGuestDateTime", &req.base, KC_TTRPC_INVALID_ARGUMENT, "-5");
}

static void test_reseed(void **state)
{
	Grpc__ReseedRandomDevRequest req = GRPC__RESEED_RANDOM_DEV_REQUEST__INIT;
	uint8_t buf[5000] = { 1, 2, 3 };
	ProtobufCMessage *r;

	(void)state;
	ah_call_fails(A, "ReseedRandomDev", &req.base, KC_TTRPC_INVALID_ARGUMENT, "0 bytes");
	req.data.data = buf;
	req.data.len = sizeof(buf);
	ah_call_fails(A, "ReseedRandomDev", &req.base, KC_TTRPC_INVALID_ARGUMENT, "5000 bytes");
	req.data.len = 64;
	if (geteuid() != 0) {
		ah_call_fails(A, "ReseedRandomDev", &req.base, KC_TTRPC_PERMISSION_DENIED,
			      "RNDADDENTROPY");
		return;
	}
	r = ah_call_ok(A, "ReseedRandomDev", &req.base, EMPTY);
	protobuf_c_message_free_unpacked(r, NULL);
}

static void test_online_cpu_mem(void **state)
{
	Grpc__OnlineCPUMemRequest req = GRPC__ONLINE_CPUMEM_REQUEST__INIT;
	cleanup_free char *c1 = NULL, *c2 = NULL, *m0 = NULL, *m1 = NULL, *m0b = NULL;
	ProtobufCMessage *r;

	(void)state;
	req.nb_cpus = 4;
	ah_call_fails(A, "OnlineCPUMem", &req.base, KC_TTRPC_FAILED_PRECONDITION,
		      "3 CPUs online, 4 expected");
	/* The CPU it could online stays online. */
	c1 = get(g.sysfs, "devices/system/cpu/cpu1/online");
	assert_string_equal(c1, "1");

	put(g.sysfs, "devices/system/cpu/cpu1/online", "0\n");
	req.nb_cpus = 3;
	req.cpu_only = true;
	r = ah_call_ok(A, "OnlineCPUMem", &req.base, EMPTY);
	protobuf_c_message_free_unpacked(r, NULL);
	free(c1);
	c1 = get(g.sysfs, "devices/system/cpu/cpu1/online");
	c2 = get(g.sysfs, "devices/system/cpu/cpu2/online");
	m0 = get(g.sysfs, "devices/system/memory/memory0/state");
	assert_string_equal(c1, "1");
	assert_string_equal(c2, "1\n"); /* already online: not written */
	assert_string_equal(m0, "offline\n");

	req.cpu_only = false;
	req.nb_cpus = 0;
	r = ah_call_ok(A, "OnlineCPUMem", &req.base, EMPTY);
	protobuf_c_message_free_unpacked(r, NULL);
	m0b = get(g.sysfs, "devices/system/memory/memory0/state");
	m1 = get(g.sysfs, "devices/system/memory/memory1/state");
	assert_string_equal(m0b, "online");
	assert_string_equal(m1, "online\n");
}

static void test_mem_hotplug_probe(void **state)
{
	Grpc__MemHotplugByProbeRequest req = GRPC__MEM_HOTPLUG_BY_PROBE_REQUEST__INIT;
	uint64_t addrs[] = { 0x140000000ull, 0x148000001ull };
	cleanup_free char *probe = NULL, *path = path_of(g.sysfs, "devices/system/memory/probe");
	ProtobufCMessage *r;

	(void)state;
	ah_call_fails(A, "MemHotplugByProbe", &req.base, KC_TTRPC_INVALID_ARGUMENT, "0 addresses");
	req.mem_hotplug_probe_addr = addrs;
	req.n_mem_hotplug_probe_addr = 1;
	r = ah_call_ok(A, "MemHotplugByProbe", &req.base, EMPTY);
	protobuf_c_message_free_unpacked(r, NULL);
	probe = ah_read(path);
	assert_string_equal(probe, "0x140000000");
	req.mem_hotplug_probe_addr = &addrs[1];
	ah_call_fails(A, "MemHotplugByProbe", &req.base, KC_TTRPC_INVALID_ARGUMENT, "0x148000001");
	assert_int_equal(unlink(path), 0);
	req.mem_hotplug_probe_addr = addrs;
	ah_call_fails(A, "MemHotplugByProbe", &req.base, KC_TTRPC_FAILED_PRECONDITION,
		      "CONFIG_ARCH_MEMORY_PROBE");
	put(g.sysfs, "devices/system/memory/probe", "");
}

static int copy(const char *path, int64_t size, uint32_t mode, int64_t offset, const char *data,
		size_t len, int uid, struct ah_answer *ans)
{
	Grpc__CopyFileRequest req = GRPC__COPY_FILE_REQUEST__INIT;

	req.path = (char *)path;
	req.file_size = size;
	req.file_mode = mode;
	req.dir_mode = 0750;
	req.uid = uid;
	req.gid = uid;
	req.offset = offset;
	req.data.data = (uint8_t *)data;
	req.data.len = len;
	return ah_call(A, "CopyFile", &req.base, ans);
}

static void copy_ok(const char *path, int64_t size, uint32_t mode, int64_t offset, const char *data,
		    int uid)
{
	struct ah_answer ans;

	if (copy(path, size, mode, offset, data, data ? strlen(data) : 0, uid, &ans) != 0)
		fail_msg("CopyFile %s: %s", path, ans.message);
	ah_answer_free(&ans);
}

static void copy_fails(const char *path, int64_t size, uint32_t mode, int64_t offset,
		       const char *data, int code, const char *what)
{
	struct ah_answer ans;
	int got = copy(path, size, mode, offset, data, data ? strlen(data) : 0, -1, &ans);

	if (got != code || !strstr(ans.message, what))
		fail_msg("CopyFile %s: expected %d `%s`, got %d: %s", path, code, what, got,
			 ans.message);
	print_message("# CopyFile: %s\n", ans.message);
	ah_answer_free(&ans);
}

static void test_copy_file(void **state)
{
	cleanup_free char *content = NULL, *p = NULL, *d = NULL, *lnk = NULL;
	char target[64] = "";
	struct stat st;

	(void)state;
	/* A regular file in two chunks, into directories that do not
	 * exist yet. */
	copy_ok("/run/kata-containers/shared/c1/etc/hosts", 11, S_IFREG | 0640, 0, "hello ", 1000);
	p = path_of(g.run, "shared/c1/etc/hosts");
	assert_int_equal(access(p, F_OK), -1);
	copy_ok("/run/kata-containers/shared/c1/etc/hosts", 11, S_IFREG | 0640, 6, "world", 1000);
	content = ah_read(p);
	assert_string_equal(content, "hello world");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	d = path_of(g.run, "shared/c1/etc");
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, 1000);

	/* A second copy replaces it whole; an empty file in one call. */
	copy_ok("/run/kata-containers/shared/c1/etc/hosts", 3, 0644, 0, "new", -1);
	free(content);
	content = ah_read(p);
	assert_string_equal(content, "new");
	copy_ok("/run/kata-containers/shared/c1/empty", 0, 0600, 0, NULL, -1);
	free(content);
	content = get(g.run, "shared/c1/empty");
	assert_string_equal(content, "");

	/* A directory and a symlink. */
	copy_ok("/run/kata-containers/shared/c1/dir", 0, S_IFDIR | 0711, 0, NULL, -1);
	free(d);
	d = path_of(g.run, "shared/c1/dir");
	assert_int_equal(stat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0711);
	copy_ok("/run/kata-containers/shared/c1/link", 0, S_IFLNK | 0777, 0, "etc/hosts", -1);
	copy_ok("/run/kata-containers/shared/c1/link", 0, S_IFLNK | 0777, 0, "dir", -1);
	lnk = path_of(g.run, "shared/c1/link");
	assert_int_equal(readlink(lnk, target, sizeof(target) - 1), 3);
	assert_string_equal(target, "dir");

	/* What is refused. */
	copy_fails("/etc/passwd", 3, 0644, 0, "abc", KC_TTRPC_PERMISSION_DENIED,
		   "not below /run/kata-containers");
	copy_fails("/run/kata-containers-x/f", 3, 0644, 0, "abc", KC_TTRPC_PERMISSION_DENIED,
		   "/run/kata-containers-x/f");
	copy_fails("/run/kata-containers/../etc/passwd", 3, 0644, 0, "abc",
		   KC_TTRPC_INVALID_ARGUMENT, "not canonical");
	copy_fails("run/kata-containers/f", 3, 0644, 0, "abc", KC_TTRPC_INVALID_ARGUMENT,
		   "not absolute");
	copy_fails("/run/kata-containers", 0, S_IFDIR | 0755, 0, NULL, KC_TTRPC_INVALID_ARGUMENT,
		   "run directory itself");
	copy_fails("/run/kata-containers/big", 1ll << 40, 0644, 0, "abc",
		   KC_TTRPC_RESOURCE_EXHAUSTED, "limit");
	copy_fails("/run/kata-containers/f", 3, 0644, 2, "abc", KC_TTRPC_OUT_OF_RANGE,
		   "past file_size");
	copy_fails("/run/kata-containers/f", 3, 0644, -1, "a", KC_TTRPC_INVALID_ARGUMENT,
		   "negative");
	copy_fails("/run/kata-containers/gap", 10, 0644, 5, "abc", KC_TTRPC_OUT_OF_RANGE,
		   "offset 5 but no earlier chunk");
	copy_fails("/run/kata-containers/dev", 0, S_IFCHR | 0644, 0, NULL,
		   KC_TTRPC_INVALID_ARGUMENT, "file_mode");
}

/* Set-id bits survive the owner change (chown(2) clears them on a
 * regular file, so the mode must come after it): a file 04755 and one
 * 02755 owned by 1000, and a setgid directory made on the way. */
static void test_copy_file_setid(void **state)
{
	static const struct {
		const char *path, *rel;
		uint32_t mode;
	} files[] = {
		{ "/run/kata-containers/shared/setid/sub/suid", "shared/setid/sub/suid",
		  S_IFREG | 04755 },
		{ "/run/kata-containers/shared/setid/sub/sgid", "shared/setid/sub/sgid",
		  S_IFREG | 02755 },
		{ "/run/kata-containers/shared/setid/sgid-dir", "shared/setid/sgid-dir",
		  S_IFDIR | 02775 },
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(files); i++) {
		Grpc__CopyFileRequest req = GRPC__COPY_FILE_REQUEST__INIT;
		cleanup_free char *p = path_of(g.run, files[i].rel);
		struct ah_answer ans;
		struct stat st;

		req.path = (char *)files[i].path;
		req.file_size = S_ISDIR(files[i].mode) ? 0 : 4;
		req.file_mode = files[i].mode;
		req.dir_mode = 02750;
		req.uid = 1000;
		req.gid = 1000;
		req.data.data = (uint8_t *)(S_ISDIR(files[i].mode) ? "" : "#!x\n");
		req.data.len = (size_t)req.file_size;
		if (ah_call(A, "CopyFile", &req.base, &ans) != 0)
			fail_msg("CopyFile %s: %s", files[i].path, ans.message);
		ah_answer_free(&ans);
		assert_int_equal(lstat(p, &st), 0);
		if ((st.st_mode & 07777) != (files[i].mode & 07777))
			fail_msg("%s: mode %04o, not %04o", files[i].path, st.st_mode & 07777,
				 files[i].mode & 07777);
		assert_int_equal(st.st_mode & S_IFMT, files[i].mode & S_IFMT);
		assert_int_equal(st.st_uid, 1000);
		assert_int_equal(st.st_gid, 1000);
	}
	/* The directories made on the way have dir_mode and the owner. */
	{
		cleanup_free char *d = path_of(g.run, "shared/setid/sub");
		struct stat st;

		assert_int_equal(stat(d, &st), 0);
		assert_int_equal(st.st_mode & 07777, 02750);
		assert_int_equal(st.st_uid, 1000);
	}
}

/* Symlinks inside the root cannot lead out of it. */
static void test_copy_file_escape(void **state)
{
	cleanup_free char *esc = path_of(g.run, "esc"), *last = path_of(g.run, "last");
	cleanup_free char *victim = path_of(g.outside, "victim"), *content = NULL;
	cleanup_free char *esc2 = path_of(g.run, "esc2"), *ls = NULL;
	cleanup_free char *name = kc_xasprintf("kc-netctl-escape-%d", (int)getpid());
	cleanup_free char *dst = kc_xasprintf("/run/kata-containers/esc2/%s", name);
	cleanup_free char *inside = path_of(g.run, name), *host = kc_xasprintf("/%s", name);
	struct stat st;

	(void)state;
	assert_int_equal(symlink(g.outside, esc), 0);
	ah_write(victim, "precious");
	assert_int_equal(symlink(victim, last), 0);

	/* Through a symlinked directory: resolved inside the root, where
	 * the absolute target does not exist, so the copy fails. */
	copy_fails("/run/kata-containers/esc/new", 2, 0644, 0, "xx", KC_TTRPC_ALREADY_EXISTS, "esc");
	ls = ah_sh("ls -A '%s'", g.outside);
	assert_string_equal(ls, "victim\n");
	/* A link to "/" is the root itself. */
	assert_int_equal(symlink("/", esc2), 0);
	copy_ok(dst, 2, 0644, 0, "xx", -1);
	assert_int_equal(stat(inside, &st), 0);
	assert_int_equal(stat(host, &st), -1);

	/* Onto a symlink: the link is replaced, its target left alone. */
	copy_ok("/run/kata-containers/last", 3, 0644, 0, "bad", -1);
	content = ah_read(victim);
	assert_string_equal(content, "precious");
	assert_int_equal(lstat(last, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_volume_stats(void **state)
{
	Grpc__VolumeStatsRequest req = GRPC__VOLUME_STATS_REQUEST__INIT;
	Grpc__VolumeStatsResponse *r;

	(void)state;
	req.volume_guest_path = (char *)"/run/kata-containers/shared";
	r = (void *)ah_call_ok(A, "GetVolumeStats", &req.base,
			       &grpc__volume_stats_response__descriptor);
	assert_int_equal(r->n_usage, 2);
	assert_int_equal(r->usage[0]->unit, GRPC__VOLUME_USAGE__UNIT__BYTES);
	assert_true(r->usage[0]->total > 0);
	assert_true(r->usage[0]->used + r->usage[0]->available <= r->usage[0]->total);
	assert_int_equal(r->usage[1]->unit, GRPC__VOLUME_USAGE__UNIT__INODES);
	assert_string_equal(r->condition_message, "NORMAL");
	assert_false(r->abnormal);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	req.volume_guest_path = (char *)"/run/kata-containers/nonexistent";
	ah_call_fails(A, "GetVolumeStats", &req.base, KC_TTRPC_NOT_FOUND, "nonexistent");
	req.volume_guest_path = (char *)"/etc";
	ah_call_fails(A, "GetVolumeStats", &req.base, KC_TTRPC_PERMISSION_DENIED, "/etc");
}

static void test_add_swap(void **state)
{
	Grpc__AddSwapPathRequest req = GRPC__ADD_SWAP_PATH_REQUEST__INIT;
	Grpc__AddSwapRequest pci = GRPC__ADD_SWAP_REQUEST__INIT;
	cleanup_free char *file = path_of(g.run, "swapfile");
	long page = sysconf(_SC_PAGESIZE);
	int fd;

	(void)state;
	req.path = (char *)"/run/kata-containers/swapfile";
	ah_call_fails(A, "AddSwapPath", &req.base, KC_TTRPC_NOT_FOUND, "swapfile");
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 * page), 0);
	ah_call_fails(A, "AddSwapPath", &req.base, KC_TTRPC_INVALID_ARGUMENT, "no swap signature");
	assert_int_equal(pwrite(fd, "SWAPSPACE2", 10, page - 10), 10);
	close(fd);
	/* A good swap file, but never the host's swap. */
	ah_call_fails(A, "AddSwapPath", &req.base, KC_TTRPC_FAILED_PRECONDITION, "--no-init");
	req.path = (char *)"/swapfile";
	ah_call_fails(A, "AddSwapPath", &req.base, KC_TTRPC_PERMISSION_DENIED, "/swapfile");
	ah_call_fails(A, "AddSwap", &pci.base, KC_TTRPC_UNIMPLEMENTED, "AddSwapPath");
}

static void test_metrics(void **state)
{
	Grpc__GetMetricsRequest req = GRPC__GET_METRICS_REQUEST__INIT;
	Grpc__Metrics *r;
	const char *p;

	(void)state;
	r = (void *)ah_call_ok(A, "GetMetrics", &req.base, &grpc__metrics__descriptor);
	print_message("# %zu bytes of metrics, the first line: %.*s\n", strlen(r->metrics),
		      (int)strcspn(r->metrics, "\n"), r->metrics);
	p = strstr(r->metrics, "\nkata_agent_process_resident_memory_bytes ");
	assert_non_null(p);
	assert_true(strtod(p + strlen("\nkata_agent_process_resident_memory_bytes "), NULL) > 0);
	assert_non_null(strstr(r->metrics, "# TYPE kata_agent_process_open_fds gauge\n"));
	assert_non_null(strstr(r->metrics, "\nkata_agent_containers 0\n"));
	assert_non_null(strstr(r->metrics, "\nkata_agent_uptime_seconds "));
	assert_non_null(strstr(r->metrics, "\nkata_agent_scrape_count 1\n"));
	assert_non_null(strstr(r->metrics, "kata_guest_load{item=\"load1\"} "));
	p = strstr(r->metrics, "\nkata_guest_meminfo{item=\"MemTotal\"} ");
	assert_non_null(p);
	assert_true(strtod(strchr(p, '}') + 2, NULL) > 1024.0 * 1024);
	assert_non_null(strstr(r->metrics, "kata_guest_meminfo{item=\"Active_anon_\"} "));
	/* Kata's other agent and guest families (src/agent/src/metrics.rs). */
	assert_non_null(strstr(r->metrics, "\nkata_agent_proc_status{item=\"vmrss\"} "));
	assert_non_null(strstr(r->metrics, "\nkata_agent_proc_stat{item=\"cstime\"} "));
	assert_non_null(strstr(r->metrics, "\nkata_agent_io_stat{item=\"rchar\"} "));
	assert_non_null(strstr(r->metrics, "\nkata_agent_total_rss "));
	assert_non_null(strstr(r->metrics, "\nkata_guest_tasks{item=\"max\"} "));
	assert_non_null(strstr(r->metrics, "\nkata_guest_cpu_time{cpu=\"total\",item=\"idle\"} "));
	assert_non_null(strstr(r->metrics, "\nkata_guest_cpu_time{cpu=\"0\",item=\"guest_nice\"} "));
	assert_non_null(strstr(r->metrics, "\nkata_guest_vm_stat{item=\"nr_free_pages\"} "));
	assert_non_null(strstr(r->metrics,
			       "\nkata_guest_netdev_stat{interface=\"lo\",item=\"sent_carrier\"} "));
	assert_non_null(strstr(r->metrics, "# TYPE kata_guest_diskstat gauge\n"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_refused(void **state)
{
	Grpc__SetPolicyRequest pol = GRPC__SET_POLICY_REQUEST__INIT;
	Grpc__GetDiagnosticDataRequest diag = GRPC__GET_DIAGNOSTIC_DATA_REQUEST__INIT;
	Grpc__MemAgentMemcgConfig memcg = GRPC__MEM_AGENT_MEMCG_CONFIG__INIT;
	Grpc__MemAgentCompactConfig compact = GRPC__MEM_AGENT_COMPACT_CONFIG__INIT;
	Grpc__ResizeVolumeRequest resize = GRPC__RESIZE_VOLUME_REQUEST__INIT;
	Grpc__RemoveStaleVirtiofsShareMountsRequest stale =
		GRPC__REMOVE_STALE_VIRTIOFS_SHARE_MOUNTS_REQUEST__INIT;

	(void)state;
	pol.policy = (char *)"package agent_policy\ndefault CreateContainerRequest := true";
	ah_call_fails(A, "SetPolicy", &pol.base, KC_TTRPC_UNIMPLEMENTED, "policy engine");
	ah_call_fails(A, "GetDiagnosticData", &diag.base, KC_TTRPC_UNIMPLEMENTED, "termination log");
	ah_call_fails(A, "MemAgentMemcgSet", &memcg.base, KC_TTRPC_UNIMPLEMENTED, "memory agent");
	ah_call_fails(A, "MemAgentCompactSet", &compact.base, KC_TTRPC_UNIMPLEMENTED,
		      "memory agent");
	ah_call_fails(A, "ResizeVolume", &resize.base, KC_TTRPC_UNIMPLEMENTED, "resize");
	ah_call_fails(A, "RemoveStaleVirtiofsShareMounts", &stale.base, KC_TTRPC_UNIMPLEMENTED,
		      "virtio-fs");
}

/* In the host's network namespace the agent changes nothing. */
static void test_host_network_untouched(void **state)
{
	Grpc__UpdateRoutesRequest routes = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	Grpc__UpdateInterfaceRequest ifr = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	Grpc__AddARPNeighborsRequest arp = GRPC__ADD_ARPNEIGHBORS_REQUEST__INIT;
	Grpc__ListRoutesRequest lr = GRPC__LIST_ROUTES_REQUEST__INIT;
	Grpc__Interface lo = GRPC__INTERFACE__INIT;
	cleanup_free char *before = ah_sh("ip route show table main; ip -6 route show table main");
	cleanup_free char *after = NULL;
	ProtobufCMessage *r;

	(void)state;
	ah_call_fails(A, "UpdateRoutes", &routes.base, KC_TTRPC_FAILED_PRECONDITION,
		      "host's network");
	lo.name = (char *)"lo";
	ifr.interface = &lo;
	ah_call_fails(A, "UpdateInterface", &ifr.base, KC_TTRPC_FAILED_PRECONDITION,
		      "host's network");
	ah_call_fails(A, "AddARPNeighbors", &arp.base, KC_TTRPC_FAILED_PRECONDITION,
		      "host's network");
	/* Reading is fine. */
	r = ah_call_ok(A, "ListRoutes", &lr.base, &grpc__routes__descriptor);
	protobuf_c_message_free_unpacked(r, NULL);
	after = ah_sh("ip route show table main; ip -6 route show table main");
	assert_string_equal(before, after);
}

static void test_no_fd_leak(void **state)
{
	(void)state;
	assert_int_equal(ah_count_fds(g.agent.pid), g.agent.base_fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_details),
		cmocka_unit_test(test_set_guest_date_time),
		cmocka_unit_test(test_reseed),
		cmocka_unit_test(test_online_cpu_mem),
		cmocka_unit_test(test_mem_hotplug_probe),
		cmocka_unit_test(test_copy_file),
		cmocka_unit_test(test_copy_file_setid),
		cmocka_unit_test(test_copy_file_escape),
		cmocka_unit_test(test_volume_stats),
		cmocka_unit_test(test_add_swap),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_host_network_untouched),
		cmocka_unit_test(test_no_fd_leak),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
