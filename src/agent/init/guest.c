/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RPCs about the VM itself: details, clock, entropy, CPU and memory
 * hotplug, metrics, and the ones this agent refuses (see guest.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "guest.h"
#include "agent.pb-c.h"
#include "kc-build-config.h"
#include "lib/log.h"
#include "lib/util.h"

/* What CreateContainer's devices and storages accept: the storage and
 * device code lists its drivers here as it gains them. */
static const char *const storage_handlers[] = { NULL };
static const char *const device_handlers[] = { NULL };
static const char *const features[] = { "network", "copy-file", "port-forward", "watchable-bind",
					NULL };

static char *sysfs_path(const struct kc_agent *a, const char *rel)
{
	return kc_xasprintf("%s/%s", a->sysfs_root ? a->sysfs_root : "/sys", rel);
}

/* Reads a small sysfs attribute, without its trailing newline. */
static int read_attr(const char *path, char *buf, size_t size, kc_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", path);
	n = read(fd, buf, size - 1);
	if (n < 0)
		return kc_error_set(err, errno, "read `%s`", path);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* O_TRUNC as a shell's `>`: sysfs ignores it, a fake tree needs it. */
static int write_attr(const char *path, const char *value, kc_error_t *err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(value);

	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", path);
	if (write(fd, value, len) != (ssize_t)len)
		return kc_error_set(err, errno ? errno : EIO, "write `%s` to `%s`", value, path);
	return 0;
}

/* block_size_bytes is hexadecimal without a 0x. */
static int mem_block_size(const struct kc_agent *a, uint64_t *out, kc_error_t *err)
{
	cleanup_free char *path = sysfs_path(a, "devices/system/memory/block_size_bytes");
	char buf[64], *end;
	int ret = read_attr(path, buf, sizeof(buf), err);

	if (ret < 0)
		return ret;
	errno = 0;
	*out = strtoull(buf, &end, 16);
	if (errno || end == buf || *end)
		return kc_error_set(err, EINVAL, "`%s` holds `%s`, not a hex number", path, buf);
	return 0;
}

static char **strv_dup(const char *const *v, size_t *n)
{
	size_t k = 0;
	char **out;

	while (v[k])
		k++;
	out = kc_xzalloc((k + 1) * sizeof(*out));
	for (size_t i = 0; i < k; i++)
		out[i] = kc_xstrdup(v[i]);
	*n = k;
	return out;
}

void kc_agent_h_get_guest_details(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__GuestDetailsRequest *req = (const void *)m;
	struct kc_agent *a = data;
	Grpc__GuestDetailsResponse resp = GRPC__GUEST_DETAILS_RESPONSE__INIT;
	Grpc__AgentDetails det = GRPC__AGENT_DETAILS__INIT;
	cleanup_error kc_error_t err = NULL;

	if (req->mem_block_size) {
		int ret = mem_block_size(a, &resp.mem_block_size_bytes, &err);

		/* A guest without memory hotplug has no such file: 0, as Kata. */
		if (ret == -ENOENT) {
			kc_error_free(&err);
			resp.mem_block_size_bytes = 0;
		} else if (ret < 0) {
			kc_ttrpc_call_fail_error(call, &err);
			return;
		}
	}
	if (req->mem_hotplug_probe) {
		cleanup_free char *probe = sysfs_path(a, "devices/system/memory/probe");

		resp.support_mem_hotplug_probe = access(probe, W_OK) == 0;
	}
	det.version = (char *)KC_VERSION;
	det.init_daemon = a->init_mode;
	det.storage_handlers = strv_dup(storage_handlers, &det.n_storage_handlers);
	det.device_handlers = strv_dup(device_handlers, &det.n_device_handlers);
	det.features = strv_dup(features, &det.n_features);
	resp.agent_details = &det;
	kc_ttrpc_call_reply_msg(call, &resp.base);
	kc_free_strv(det.storage_handlers);
	kc_free_strv(det.device_handlers);
	kc_free_strv(det.features);
}

void kc_agent_h_set_guest_date_time(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
				    void *data)
{
	const Grpc__SetGuestDateTimeRequest *req = (const void *)m;
	struct kc_agent *a = data;
	struct timeval tv;

	if (req->sec < 0 || req->usec < 0 || req->usec >= 1000000) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
				   "SetGuestDateTime: bad time %lld s %lld us", (long long)req->sec,
				   (long long)req->usec);
		return;
	}
	if (!a->init_mode) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "SetGuestDateTime: the agent is not the guest's init (--no-init), "
				   "it does not set this machine's clock");
		return;
	}
	tv.tv_sec = (time_t)req->sec;
	tv.tv_usec = (suseconds_t)req->usec;
	if (settimeofday(&tv, NULL) < 0) {
		kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(errno), "settimeofday %lld: %s",
				   (long long)req->sec, strerror(errno));
		return;
	}
	kc_info("guest clock set to %lld", (long long)req->sec);
	kc_ttrpc_call_reply_msg(call, NULL);
}

/* As Kata: the host's bytes are credited to the pool (RNDADDENTROPY) and
 * the CRNG reseeded from it. */
void kc_agent_h_reseed_random_dev(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__ReseedRandomDevRequest *req = (const void *)m;
	cleanup_free struct rand_pool_info *info = NULL;
	cleanup_close int fd = -1;

	(void)data;
	if (req->data.len == 0 || req->data.len > KC_AGENT_RESEED_MAX) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
				   "ReseedRandomDev: %zu bytes of entropy, expected 1 to %u",
				   req->data.len, KC_AGENT_RESEED_MAX);
		return;
	}
	fd = open("/dev/random", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(errno), "open `/dev/random`: %s",
				   strerror(errno));
		return;
	}
	info = kc_xzalloc(sizeof(*info) + req->data.len + 4);
	info->entropy_count = (int)(req->data.len * 8);
	info->buf_size = (int)req->data.len;
	memcpy(info->buf, req->data.data, req->data.len);
	if (ioctl(fd, RNDADDENTROPY, info) < 0) {
		kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(errno),
				   "RNDADDENTROPY on `/dev/random`: %s", strerror(errno));
		return;
	}
	if (ioctl(fd, RNDRESEEDCRNG) < 0 && errno != ENOTTY && errno != EINVAL)
		kc_warn("RNDRESEEDCRNG: %s", strerror(errno));
	kc_ttrpc_call_reply_msg(call, NULL);
}

/*
 * Brings every offline entry of a sysfs directory online: cpuN/online
 * "0" -> "1", memoryN/state "offline" -> "online".  *online counts the
 * entries online afterwards (cpu0 usually has no online file: it always
 * is).
 */
static int online_all(const struct kc_agent *a, const char *dir_rel, const char *prefix,
		      const char *attr, const char *off, const char *on, unsigned *online,
		      kc_error_t *err)
{
	cleanup_free char *dir = sysfs_path(a, dir_rel);
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t plen = strlen(prefix);
	int ret = 0;

	*online = 0;
	if (!d)
		return kc_error_set(err, errno, "open `%s`", dir);
	while (ret >= 0 && (e = readdir(d))) {
		unsigned long long idx;
		cleanup_free char *path = NULL;
		char buf[32];

		if (strncmp(e->d_name, prefix, plen) != 0 || !kc_parse_u64(e->d_name + plen, &idx))
			continue;
		path = kc_xasprintf("%s/%s/%s", dir, e->d_name, attr);
		if (access(path, F_OK) < 0) {
			(*online)++;
			continue;
		}
		ret = read_attr(path, buf, sizeof(buf), err);
		if (ret < 0)
			break;
		if (strcmp(buf, off) == 0) {
			ret = write_attr(path, on, err);
			if (ret < 0)
				break;
			kc_debug("%s/%s online", dir_rel, e->d_name);
		}
		(*online)++;
	}
	closedir(d);
	return ret;
}

void kc_agent_h_online_cpu_mem(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__OnlineCPUMemRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;
	unsigned cpus, blocks;

	/* The writes take microseconds: the call is answered once they are
	 * done, whether or not the host asked to wait. */
	if (online_all(a, "devices/system/cpu", "cpu", "online", "0", "1", &cpus, &err) < 0) {
		kc_error_wrap(&err, "OnlineCPUMem: CPUs");
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	if (req->nb_cpus && cpus < req->nb_cpus) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "OnlineCPUMem: %u CPUs online, %u expected", cpus, req->nb_cpus);
		return;
	}
	if (!req->cpu_only && online_all(a, "devices/system/memory", "memory", "state", "offline",
					 "online", &blocks, &err) < 0) {
		/* A guest without memory hotplug has no memory blocks. */
		if (kc_error_ret(&err) != -ENOENT) {
			kc_error_wrap(&err, "OnlineCPUMem: memory");
			kc_ttrpc_call_fail_error(call, &err);
			return;
		}
		kc_error_free(&err);
	}
	kc_info("%u CPUs online", cpus);
	kc_ttrpc_call_reply_msg(call, NULL);
}

void kc_agent_h_mem_hotplug_by_probe(struct kc_ttrpc_call *call, const ProtobufCMessage *m,
				     void *data)
{
	const Grpc__MemHotplugByProbeRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_free char *probe = sysfs_path(a, "devices/system/memory/probe");
	cleanup_error kc_error_t err = NULL;
	uint64_t bs = 0;

	if (req->n_mem_hotplug_probe_addr == 0 || req->n_mem_hotplug_probe_addr > 4096) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
				   "MemHotplugByProbe: %zu addresses, expected 1 to 4096",
				   req->n_mem_hotplug_probe_addr);
		return;
	}
	if (access(probe, F_OK) < 0) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "MemHotplugByProbe: `%s` is missing (a kernel without "
				   "CONFIG_ARCH_MEMORY_PROBE)",
				   probe);
		return;
	}
	if (mem_block_size(a, &bs, &err) < 0) {
		kc_error_free(&err);
		bs = 0;
	}
	for (size_t i = 0; i < req->n_mem_hotplug_probe_addr; i++) {
		uint64_t addr = req->mem_hotplug_probe_addr[i];
		char buf[32];

		if (bs && addr % bs) {
			kc_ttrpc_call_fail(call, KC_TTRPC_INVALID_ARGUMENT,
					   "MemHotplugByProbe: address %#llx is not a multiple of "
					   "the memory block size %#llx",
					   (unsigned long long)addr, (unsigned long long)bs);
			return;
		}
		snprintf(buf, sizeof(buf), "%#llx", (unsigned long long)addr);
		if (write_attr(probe, buf, &err) < 0) {
			kc_ttrpc_call_fail_error(call, &err);
			return;
		}
	}
	kc_ttrpc_call_reply_msg(call, NULL);
}

/* AddSwap names the swap disk by PCI path: finding its block device is the
 * storage code's device discovery, which this agent does not have yet. */
void kc_agent_h_add_swap(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	(void)m;
	(void)data;
	kc_ttrpc_call_fail(call, KC_TTRPC_UNIMPLEMENTED,
			   "AddSwap: block devices by PCI path are not supported yet; "
			   "use AddSwapPath with a prepared swap file");
}

/* ---- metrics ---- */

/*
 * GetMetrics answers Prometheus text with Kata's agent families
 * (src/agent/src/metrics.rs): the agent's process (kata_agent_*) and the
 * guest's /proc (kata_guest_*).  The shim checks and relabels this text
 * (src/sandbox/prom.h), mapping meminfo's keys to Kata's item names.
 * Each file is read bounded; one that cannot be read leaves its family out.
 */

static long status_kib(const char *status, const char *key)
{
	const char *p = strstr(status, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the one opendir holds */
}

static void family(FILE *f, const char *name, const char *help, const char *type)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric(FILE *f, const char *name, const char *help, const char *type,
		   const char *labels, double v)
{
	family(f, name, help, type);
	fprintf(f, "%s%s %.17g\n", name, labels, v);
}

/* A label value as the format quotes it: \, " and newline escaped. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* name{[lname="lvalue",]item="item"} v */
static void item(FILE *f, const char *name, const char *lname, const char *lvalue, const char *item,
		 unsigned long long v)
{
	fprintf(f, "%s{", name);
	if (lname) {
		fprintf(f, "%s=\"", lname);
		label_value(f, lvalue);
		fputs("\",", f);
	}
	fputs("item=\"", f);
	label_value(f, item);
	fprintf(f, "\"} %llu\n", v);
}

/* /proc/meminfo, as Kata's kata_guest_meminfo: bytes by item. */
static void guest_meminfo(FILE *f)
{
	cleanup_free char *buf = NULL;
	char *save = NULL;
	size_t len;

	if (kc_read_file("/proc/meminfo", 64 * 1024, &buf, &len, NULL) < 0)
		return;
	family(f, "kata_guest_meminfo", "Statistics about memory usage in the system.", "gauge");
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[64];
		unsigned long long v;
		int n = 0;

		if (sscanf(line, "%63[A-Za-z0-9_()]: %llu%n", key, &v, &n) != 2)
			continue;
		/* Prometheus label values may hold anything quoted, but keep
		 * the names plain: "Active(anon)" -> "Active_anon_". */
		for (char *k = key; *k; k++)
			if (*k == '(' || *k == ')')
				*k = '_';
		if (strstr(line + n, "kB"))
			v *= 1024;
		fprintf(f, "kata_guest_meminfo{item=\"%s\"} %llu\n", key, v);
	}
}

/* /proc/vmstat: "name value" lines. */
static void guest_vmstat(FILE *f)
{
	cleanup_free char *buf = NULL;
	char *save = NULL;
	size_t len;

	if (kc_read_file("/proc/vmstat", 256 * 1024, &buf, &len, NULL) < 0)
		return;
	family(f, "kata_guest_vm_stat", "Guest virtual memory statistics.", "gauge");
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[64];
		unsigned long long v;

		if (sscanf(line, "%63[a-z0-9_] %llu", key, &v) == 2)
			item(f, "kata_guest_vm_stat", NULL, NULL, key, v);
	}
}

/* /proc/stat's cpu lines, in milliseconds as Kata's agent gives them. */
static void guest_cpu_time(FILE *f)
{
	static const char *const items[] = { "user", "nice",	"system", "idle",  "iowait",
					     "irq",  "softirq", "steal",  "guest", "guest_nice" };
	cleanup_free char *buf = NULL;
	char *save = NULL;
	size_t len;
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		hz = 100;
	if (kc_read_file("/proc/stat", 1024 * 1024, &buf, &len, NULL) < 0)
		return;
	family(f, "kata_guest_cpu_time", "Guest CPU statistics.", "gauge");
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long t[10] = { 0 };
		char cpu[16];
		int n;

		if (strncmp(line, "cpu", 3) != 0)
			continue;
		n = sscanf(line + 3, "%15[0-9] %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   cpu, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8],
			   &t[9]);
		if (n < 5) { /* the "cpu  " total has no digits */
			n = sscanf(line + 3, " %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
				   &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8],
				   &t[9]);
			if (n < 4)
				continue;
			strcpy(cpu, "total");
		}
		for (size_t i = 0; i < KC_ARRAY_SIZE(items); i++)
			item(f, "kata_guest_cpu_time", "cpu", cpu, items[i],
			     t[i] * 1000 / (unsigned long long)hz);
	}
}

/* /proc/net/dev, two header lines then "name: 16 counters". */
static void guest_netdev(FILE *f)
{
	static const char *const items[] = {
		"recv_bytes", "recv_packets", "recv_errs",	 "recv_drop",
		"recv_fifo",  "recv_frame",   "recv_compressed", "recv_multicast",
		"sent_bytes", "sent_packets", "sent_errs",	 "sent_drop",
		"sent_fifo",  "sent_colls",   "sent_carrier",	 "sent_compressed",
	};
	cleanup_free char *buf = NULL;
	char *save = NULL;
	size_t len;
	int lineno = 0;

	if (kc_read_file("/proc/net/dev", 1024 * 1024, &buf, &len, NULL) < 0)
		return;
	family(f, "kata_guest_netdev_stat", "Guest net devices statistics.", "gauge");
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long v[16];
		char name[32];

		if (++lineno <= 2 ||
		    sscanf(line,
			   " %31[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
			   "%llu %llu %llu %llu %llu",
			   name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
			   &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]) != 17)
			continue;
		for (size_t i = 0; i < KC_ARRAY_SIZE(items); i++)
			item(f, "kata_guest_netdev_stat", "interface", name, items[i], v[i]);
	}
}

/* /proc/diskstats: "major minor name" then 11, 15 or 17 counters. */
static void guest_diskstat(FILE *f)
{
	static const char *const items[] = {
		"reads",
		"merged",
		"sectors_read",
		"time_reading",
		"writes",
		"writes_merged",
		"sectors_written",
		"time_writing",
		"in_progress",
		"time_in_progress",
		"weighted_time_in_progress",
		"discards",
		"discards_merged",
		"sectors_discarded",
		"time_discarding",
		"flushes",
		"time_flushing",
	};
	cleanup_free char *buf = NULL;
	char *save = NULL;
	size_t len;

	if (kc_read_file("/proc/diskstats", 1024 * 1024, &buf, &len, NULL) < 0)
		return;
	family(f, "kata_guest_diskstat", "Disks statistics in system.", "gauge");
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long v[17] = { 0 };
		unsigned major, minor;
		char name[64];
		int n = sscanf(line,
			       "%u %u %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
			       "%llu %llu %llu %llu %llu %llu %llu",
			       &major, &minor, name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			       &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14],
			       &v[15], &v[16]);

		if (n < 14)
			continue;
		for (size_t i = 0; i < KC_ARRAY_SIZE(items); i++)
			item(f, "kata_guest_diskstat", "disk", name, items[i], v[i]);
	}
}

/* The agent's own /proc/self figures, with Kata's items. */
static void agent_proc(FILE *f, const char *status)
{
	/* Kata's status items are bytes (the kB lines times 1024), but
	 * for the context switch counts. */
	static const struct {
		const char *key, *item;
		unsigned long long unit;
	} status_items[] = {
		{ "VmPeak:", "vmpeak", 1024 },
		{ "VmSize:", "vmsize", 1024 },
		{ "VmLck:", "vmlck", 1024 },
		{ "VmPin:", "vmpin", 1024 },
		{ "VmHWM:", "vmhwm", 1024 },
		{ "VmRSS:", "vmrss", 1024 },
		{ "RssAnon:", "rssanon", 1024 },
		{ "RssFile:", "rssfile", 1024 },
		{ "RssShmem:", "rssshmem", 1024 },
		{ "VmData:", "vmdata", 1024 },
		{ "VmStk:", "vmstk", 1024 },
		{ "VmExe:", "vmexe", 1024 },
		{ "VmLib:", "vmlib", 1024 },
		{ "VmPTE:", "vmpte", 1024 },
		{ "VmSwap:", "vmswap", 1024 },
		{ "HugetlbPages:", "hugetlbpages", 1024 },
		{ "\nvoluntary_ctxt_switches:", "voluntary_ctxt_switches", 1 },
		{ "nonvoluntary_ctxt_switches:", "nonvoluntary_ctxt_switches", 1 },
	};
	cleanup_free char *stat = NULL, *io = NULL;
	unsigned long long utime, stime, vsize, rss;
	long long cutime, cstime;
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char *p, *save = NULL;
	size_t len;

	family(f, "kata_agent_proc_status", "Agent process status.", "gauge");
	for (size_t i = 0; i < KC_ARRAY_SIZE(status_items); i++) {
		long v = status_kib(status, status_items[i].key);

		if (v >= 0)
			item(f, "kata_agent_proc_status", NULL, NULL, status_items[i].item,
			     (unsigned long long)v * status_items[i].unit);
	}
	if (kc_read_file("/proc/self/io", 4096, &io, &len, NULL) == 0) {
		family(f, "kata_agent_io_stat", "Agent process IO statistics.", "gauge");
		for (char *line = strtok_r(io, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char key[32];
			unsigned long long v;

			if (sscanf(line, "%31[a-z_]: %llu", key, &v) == 2)
				item(f, "kata_agent_io_stat", NULL, NULL, key, v);
		}
	}
	if (kc_read_file("/proc/self/stat", 4096, &stat, &len, NULL) < 0 ||
	    !(p = strrchr(stat, ')')) ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld "
		   "%*d %*d %*d %*d %*u %llu %llu",
		   &utime, &stime, &cutime, &cstime, &vsize, &rss) != 6)
		return;
	if (hz <= 0)
		hz = 100;
	family(f, "kata_agent_proc_stat", "Agent process statistics.", "gauge");
	item(f, "kata_agent_proc_stat", NULL, NULL, "utime", utime);
	item(f, "kata_agent_proc_stat", NULL, NULL, "stime", stime);
	fprintf(f, "kata_agent_proc_stat{item=\"cutime\"} %lld\n", cutime);
	fprintf(f, "kata_agent_proc_stat{item=\"cstime\"} %lld\n", cstime);
	metric(f, "kata_agent_total_time", "Agent process total time", "gauge", "",
	       (double)(utime + stime) / (double)hz);
	metric(f, "kata_agent_total_vm", "Agent process total VM size", "gauge", "", (double)vsize);
	metric(f, "kata_agent_total_rss", "Agent process total RSS size", "gauge", "",
	       (double)rss * (double)page);
}

void kc_agent_h_get_metrics(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	static unsigned long long scrapes;
	struct kc_agent *a = data;
	Grpc__Metrics resp = GRPC__METRICS__INIT;
	cleanup_free char *status = NULL, *loadavg = NULL, *out = NULL;
	size_t len, containers = 0, out_len = 0;
	double load[3] = { 0 };
	unsigned long long tasks_cur = 0, tasks_max = 0;
	bool have_load = false;
	FILE *f = open_memstream(&out, &out_len);

	(void)m;
	if (!f) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INTERNAL, "GetMetrics: open_memstream failed");
		return;
	}
	if (kc_read_file("/proc/self/status", 64 * 1024, &status, &len, NULL) < 0)
		status = kc_xstrdup("");
	if (kc_read_file("/proc/loadavg", 4096, &loadavg, &len, NULL) == 0)
		have_load = sscanf(loadavg, "%lf %lf %lf %llu/%llu", &load[0], &load[1], &load[2],
				   &tasks_cur, &tasks_max) == 5;
	for (struct kc_agent_container *c = a->containers; c; c = c->next)
		containers++;
	scrapes++;
	metric(f, "kata_agent_scrape_count", "Metrics scrape count", "counter", "", (double)scrapes);
	metric(f, "kata_agent_process_resident_memory_bytes", "Resident memory size in bytes.",
	       "gauge", "", (double)status_kib(status, "VmRSS:") * 1024);
	metric(f, "kata_agent_process_virtual_memory_bytes", "Virtual memory size in bytes.",
	       "gauge", "", (double)status_kib(status, "VmSize:") * 1024);
	metric(f, "kata_agent_process_open_fds", "Number of open file descriptors.", "gauge", "",
	       count_fds());
	metric(f, "kata_agent_threads", "Agent process threads", "gauge", "",
	       (double)status_kib(status, "Threads:"));
	metric(f, "kata_agent_uptime_seconds", "Seconds since the agent started.", "gauge", "",
	       (double)(kc_monotonic_ns() - a->start_ns) / 1e9);
	metric(f, "kata_agent_containers", "Containers the agent holds.", "gauge", "",
	       (double)containers);
	agent_proc(f, status);
	if (have_load) {
		metric(f, "kata_guest_load", "Guest system load.", "gauge", "{item=\"load1\"}",
		       load[0]);
		fprintf(f,
			"kata_guest_load{item=\"load5\"} %.17g\n"
			"kata_guest_load{item=\"load15\"} %.17g\n",
			load[1], load[2]);
		/* Kata's cur and max: the runnable and all scheduling entities. */
		family(f, "kata_guest_tasks", "Guest system load.", "gauge");
		item(f, "kata_guest_tasks", NULL, NULL, "cur", tasks_cur);
		item(f, "kata_guest_tasks", NULL, NULL, "max", tasks_max);
	}
	guest_meminfo(f);
	guest_cpu_time(f);
	guest_vmstat(f);
	guest_netdev(f);
	guest_diskstat(f);
	if (fclose(f) != 0) {
		kc_ttrpc_call_fail(call, KC_TTRPC_INTERNAL, "GetMetrics: writing the text failed");
		return;
	}
	resp.metrics = out;
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

/* ---- refused ---- */

static const struct {
	const char *method, *why;
	int code;
} refusals[] = {
	{ "SetPolicy",
	  "the agent has no policy engine; refusing the policy rather than "
	  "running unenforced",
	  KC_TTRPC_UNIMPLEMENTED },
	{ "GetDiagnosticData", "containers keep no termination log in this agent",
	  KC_TTRPC_UNIMPLEMENTED },
	{ "MemAgentMemcgSet", "the agent has no memory agent (PSI-driven reclaim)",
	  KC_TTRPC_UNIMPLEMENTED },
	{ "MemAgentCompactSet", "the agent has no memory agent (compaction)",
	  KC_TTRPC_UNIMPLEMENTED },
	{ "ResizeVolume", "the guest has no filesystem resize tools", KC_TTRPC_UNIMPLEMENTED },
	{ "RemoveStaleVirtiofsShareMounts",
	  "the agent keeps no virtio-fs share mounts of its own "
	  "to clean",
	  KC_TTRPC_UNIMPLEMENTED },
};

void kc_agent_h_refused(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const char *method = kc_ttrpc_call_method(call);

	(void)m;
	(void)data;
	for (size_t i = 0; i < KC_ARRAY_SIZE(refusals); i++) {
		if (strcmp(method, refusals[i].method) == 0) {
			kc_ttrpc_call_fail(call, refusals[i].code, "%s: %s", method,
					   refusals[i].why);
			return;
		}
	}
	kc_ttrpc_call_fail(call, KC_TTRPC_UNIMPLEMENTED, "%s is not implemented", method);
}
