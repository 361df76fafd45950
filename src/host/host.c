/* SPDX-License-Identifier: Apache-2.0 */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "lib/json.h"
#include "lib/util.h"

#define CAPTURE_MAX (64u << 10)

/* Copies the value of a "key<tab>: value" line of /proc/cpuinfo. */
static bool cpuinfo_field(const char *line, const char *key, char *out, size_t size)
{
	size_t n = strlen(key);
	const char *v;

	if (strncmp(line, key, n) != 0 || (line[n] != ' ' && line[n] != '\t' && line[n] != ':'))
		return false;
	v = strchr(line, ':');
	if (v == NULL)
		return false;
	v++;
	while (*v == ' ')
		v++;
	snprintf(out, size, "%.*s", (int)strcspn(v, "\n"), v);
	return true;
}

static bool has_flag(const char *flags, const char *flag)
{
	size_t n = strlen(flag);
	for (const char *p = flags; (p = strstr(p, flag)) != NULL; p += n)
		if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

void kc_host_parse_cpuinfo(const char *text, struct kc_cpu_info *cpu)
{
	char flags[8192] = "";
	bool have_flags = false;

	memset(cpu, 0, sizeof(*cpu));
	for (const char *line = text; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		/* The first processor describes them all. */
		if (strncmp(line, "\n", 1) == 0 && have_flags)
			break;
		if (!cpu->vendor[0])
			cpuinfo_field(line, "vendor_id", cpu->vendor, sizeof(cpu->vendor));
		if (!cpu->model[0])
			cpuinfo_field(line, "model name", cpu->model, sizeof(cpu->model));
		if (!have_flags)
			have_flags = cpuinfo_field(line, "flags", flags, sizeof(flags));
	}
	cpu->vmx = has_flag(flags, "vmx");
	cpu->svm = has_flag(flags, "svm");
	cpu->lm = has_flag(flags, "lm");
	cpu->sse4_1 = has_flag(flags, "sse4_1");
	cpu->hypervisor = has_flag(flags, "hypervisor");
}

uint64_t kc_host_parse_meminfo_total_kib(const char *text)
{
	const char *p = strstr(text, "MemTotal:");
	unsigned long long v;

	if (p == NULL || (p != text && p[-1] != '\n'))
		return 0;
	if (sscanf(p, "MemTotal: %llu kB", &v) != 1)
		return 0;
	return v;
}

const char *kc_cgroup_mode_name(enum kc_cgroup_mode mode)
{
	switch (mode) {
	case KC_CGROUP_V1:
		return "v1";
	case KC_CGROUP_HYBRID:
		return "hybrid";
	case KC_CGROUP_V2:
		return "v2";
	default:
		return "unknown";
	}
}

/* cgroup2 mounted at /sys/fs/cgroup is v2; a tmpfs there holds v1
 * hierarchies, with cgroup2 at unified/ in systemd's hybrid layout. */
static enum kc_cgroup_mode cgroup_mode(void)
{
	struct statfs fs;

	if (statfs("/sys/fs/cgroup", &fs) < 0)
		return KC_CGROUP_UNKNOWN;
	if (fs.f_type == CGROUP2_SUPER_MAGIC)
		return KC_CGROUP_V2;
	if (fs.f_type != TMPFS_MAGIC && fs.f_type != CGROUP_SUPER_MAGIC)
		return KC_CGROUP_UNKNOWN; /* a bare directory: nothing mounted */
	if (statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
		return KC_CGROUP_HYBRID;
	return KC_CGROUP_V1;
}

static bool module_loaded(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return stat(path, &st) == 0;
}

void kc_host_info_read(struct kc_host_info *h)
{
	cleanup_free char *cpuinfo = NULL;
	cleanup_free char *meminfo = NULL;
	struct utsname u;

	memset(h, 0, sizeof(*h));
	if (kc_read_file("/proc/cpuinfo", 16u << 20, &cpuinfo, NULL, NULL) == 0)
		kc_host_parse_cpuinfo(cpuinfo, &h->cpu);
	if (kc_read_file("/proc/meminfo", 1u << 20, &meminfo, NULL, NULL) == 0)
		h->mem_total_kib = kc_host_parse_meminfo_total_kib(meminfo);
	h->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&u) == 0) {
		snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
		snprintf(h->arch, sizeof(h->arch), "%s", u.machine);
	}
	h->cgroup = cgroup_mode();
	h->kvm_module = module_loaded("kvm");
	h->kvm_intel = module_loaded("kvm_intel");
	h->kvm_amd = module_loaded("kvm_amd");
	h->kvm_pvm = module_loaded("kvm_pvm");
	h->kvm_dev = kc_host_device_usable("/dev/kvm");
	h->vhost_vsock = kc_host_device_usable("/dev/vhost-vsock");
	h->vhost_net = kc_host_device_usable("/dev/vhost-net");
	h->tun = kc_host_device_usable("/dev/net/tun");
}

int kc_host_device_usable(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Reads the child's output until EOF or the deadline; true on EOF. */
static bool capture(int fd, int64_t deadline, char *buf, size_t *len)
{
	char sink[4096];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - (int64_t)(kc_monotonic_ns() / 1000000);
		ssize_t n;

		if (left <= 0)
			return false;
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (pfd.revents == 0)
			continue;
		/* Past the cap, keep draining so the child never blocks on us. */
		if (*len < CAPTURE_MAX)
			n = read(fd, buf + *len, CAPTURE_MAX - *len);
		else
			n = read(fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return true;
		if (*len < CAPTURE_MAX)
			*len += (size_t)n;
	}
}

int kc_host_run_capture(char *const argv[], int timeout_ms, char **output, kc_error_t *err)
{
	cleanup_free char *buf = kc_xmalloc(CAPTURE_MAX + 1);
	int64_t deadline = (int64_t)(kc_monotonic_ns() / 1000000) + timeout_ms;
	int outpipe[2], stdio[3] = { KC_CHILD_NULL, -1, -1 };
	/* Its own process group: a timeout kills whatever it started too. */
	struct kc_child_opts o = { .argv = argv, .stdio = stdio, .group = KC_CHILD_NEW_PGROUP };
	struct kc_child c;
	size_t len = 0;
	bool done;
	int ret;

	if (pipe2(outpipe, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe");
	stdio[1] = stdio[2] = outpipe[1];
	ret = kc_child_start(&o, &c, err);
	close(outpipe[1]);
	if (ret < 0) {
		close(outpipe[0]);
		return ret;
	}
	done = capture(outpipe[0], deadline, buf, &len);
	close(outpipe[0]);
	if (!done)
		kill(-c.pid, SIGKILL); /* the group: the child and what it started */
	kc_child_wait(&c, 0, NULL);
	kc_child_stop(&c, false, 0);
	buf[len] = '\0';
	if (!done)
		return kc_error_set(err, 0, "`%s` did not finish within %d ms (killed)", argv[0],
				    timeout_ms);
	if (WIFSIGNALED(c.status))
		return kc_error_set(err, 0, "`%s` was killed by signal %d (%s)", argv[0],
				    WTERMSIG(c.status), strsignal(WTERMSIG(c.status)));
	*output = kc_steal_ptr(&buf);
	return WEXITSTATUS(c.status);
}

bool kc_qemu_parse_version(const char *text, char *out, size_t size)
{
	const char *p = strstr(text, "QEMU emulator version ");
	size_t n;

	if (p == NULL)
		return false;
	p += strlen("QEMU emulator version ");
	n = strspn(p, "0123456789.");
	if (n == 0)
		return false;
	snprintf(out, size, "%.*s", (int)n, p);
	return true;
}

bool kc_qemu_parse_has_microvm(const char *text)
{
	for (const char *line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (strncmp(line, "microvm", 7) == 0 && (line[7] == ' ' || line[7] == '\t'))
			return true;
	return false;
}

/* Runs `path arg...` and requires exit status 0. */
static int run_ok(char *const argv[], char **out, kc_error_t *err)
{
	int ret = kc_host_run_capture(argv, 5000, out, err);

	if (ret > 0) {
		cleanup_free char *o = kc_steal_ptr(out);
		return kc_error_set(err, 0, "`%s %s` exited with status %d: %.*s", argv[0], argv[1],
				    ret, (int)strcspn(o, "\n"), o);
	}
	return ret;
}

int kc_qemu_probe(const char *path, struct kc_qemu_info *out, kc_error_t *err)
{
	char *version_argv[] = { (char *)path, "--version", NULL };
	char *machine_argv[] = { (char *)path, "-machine", "help", NULL };
	cleanup_free char *text = NULL;

	memset(out, 0, sizeof(*out));
	if (run_ok(version_argv, &text, err) < 0)
		return -1;
	if (!kc_qemu_parse_version(text, out->version, sizeof(out->version)))
		return kc_error_set(err, 0, "`%s --version` does not look like QEMU: %.*s", path,
				    (int)strcspn(text, "\n"), text);
	free(kc_steal_ptr(&text));
	if (run_ok(machine_argv, &text, err) < 0)
		return -1;
	out->microvm = kc_qemu_parse_has_microvm(text);
	return 0;
}

int kc_virtiofsd_probe(const char *path, char *version, size_t size, kc_error_t *err)
{
	char *argv[] = { (char *)path, "--version", NULL };
	cleanup_free char *text = NULL;

	if (run_ok(argv, &text, err) < 0)
		return -1;
	if (strstr(text, "virtiofsd") == NULL)
		return kc_error_set(err, 0, "`%s --version` does not look like virtiofsd: %.*s",
				    path, (int)strcspn(text, "\n"), text);
	snprintf(version, size, "%.*s", (int)strcspn(text, "\n"), text);
	return 0;
}

/* A device's state for JSON: "usable" or the error that open() gave. */
static json_t *device_json(int r)
{
	return json_string(r == 0 ? "usable" : strerror(-r));
}

json_t *kc_host_info_to_json(const struct kc_host_info *h)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:b}, s:I, s:s,"
			 " s:{s:b, s:b, s:b, s:b}, s:{s:o, s:o, s:o, s:o}}",
			 "Kernel", h->kernel, "Architecture", h->arch, "CPU", "Vendor",
			 h->cpu.vendor, "Model", h->cpu.model, "CPUs", (json_int_t)h->cpus, "VMX",
			 h->cpu.vmx, "SVM", h->cpu.svm, "LM", h->cpu.lm, "SSE4_1", h->cpu.sse4_1,
			 "Hypervisor", h->cpu.hypervisor, "MemTotalKiB",
			 (json_int_t)h->mem_total_kib, "CgroupMode", kc_cgroup_mode_name(h->cgroup),
			 "KVMModules", "kvm", h->kvm_module, "kvm_intel", h->kvm_intel, "kvm_amd",
			 h->kvm_amd, "kvm_pvm", h->kvm_pvm, "Devices", "/dev/kvm",
			 device_json(h->kvm_dev), "/dev/vhost-vsock", device_json(h->vhost_vsock),
			 "/dev/vhost-net", device_json(h->vhost_net), "/dev/net/tun",
			 device_json(h->tun));
}
