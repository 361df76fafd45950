/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_HOST_H
#define KC_HOST_H

/*
 * Facts about the host that decide whether and how kata-c can run VMs:
 * CPU, memory, kernel, cgroups, devices, and the versions of the helper
 * binaries (QEMU, virtiofsd).  Parsers work on strings so that tests can
 * feed them anything.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

struct json_t;

enum kc_cgroup_mode {
	KC_CGROUP_UNKNOWN,
	KC_CGROUP_V1, /* legacy: v1 controllers only */
	KC_CGROUP_HYBRID, /* v1 controllers plus cgroup2 at /sys/fs/cgroup/unified */
	KC_CGROUP_V2, /* unified: cgroup2 at /sys/fs/cgroup */
};

struct kc_cpu_info {
	char vendor[64];
	char model[128];
	bool vmx, svm, lm, sse4_1, hypervisor;
};

struct kc_host_info {
	struct kc_cpu_info cpu;
	long cpus; /* online */
	uint64_t mem_total_kib;
	char kernel[65]; /* uname -r */
	char arch[65]; /* uname -m */
	enum kc_cgroup_mode cgroup;
	bool kvm_module, kvm_intel, kvm_amd, kvm_pvm; /* loaded (/sys/module) */
	/* kc_host_device_usable() of /dev/kvm, /dev/vhost-vsock, /dev/vhost-net
	 * and /dev/net/tun: 0 or -errno. */
	int kvm_dev, vhost_vsock, vhost_net, tun;
};

/* Reads the host's facts; never fails, unknown facts stay empty/0. */
void kc_host_info_read(struct kc_host_info *h);

/* Parses /proc/cpuinfo text (first processor). */
void kc_host_parse_cpuinfo(const char *text, struct kc_cpu_info *cpu);
/* Parses /proc/meminfo text; 0 if MemTotal is missing. */
uint64_t kc_host_parse_meminfo_total_kib(const char *text);

const char *kc_cgroup_mode_name(enum kc_cgroup_mode mode);

/* Opens a device read-write (as QEMU would) and closes it: 0 or -errno. */
int kc_host_device_usable(const char *path);

/*
 * Runs argv (no shell; argv[0] is a path, not looked up in $PATH) with
 * stdin from /dev/null and stdout and stderr captured together (at most
 * 64 KiB kept; the rest is drained and dropped).  The child gets its own
 * process group, which is SIGKILLed after timeout_ms so that helpers it
 * started die too; it is always reaped.  Returns its exit status (0-255)
 * with *output set (caller frees), or a negative value with *err set when
 * it could not be run, was killed by a signal or timed out.
 */
int kc_host_run_capture(char *const argv[], int timeout_ms, char **output, kc_error_t *err);

struct kc_qemu_info {
	char version[64]; /* "7.2.22" */
	bool microvm;
};

/* "QEMU emulator version 7.2.22 (Debian ...)" -> "7.2.22"; false if absent. */
bool kc_qemu_parse_version(const char *text, char *out, size_t size);
/* Whether `-machine help` output lists the microvm machine. */
bool kc_qemu_parse_has_microvm(const char *text);
/* Runs `path --version` and `path -machine help`. */
int kc_qemu_probe(const char *path, struct kc_qemu_info *out, kc_error_t *err);

/* Runs `path --version`; fills the first line of its output. */
int kc_virtiofsd_probe(const char *path, char *version, size_t size, kc_error_t *err);

/* The facts as JSON, for `kata-runtime env`. */
struct json_t *kc_host_info_to_json(const struct kc_host_info *h);

#endif
