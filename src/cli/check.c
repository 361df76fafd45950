/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "lib/config.h"
#include "lib/json.h"
#include "lib/util.h"
#include "runtime/host.h"
#include "runtime/kvm_probe.h"

/*
 * `kata-runtime check`: can this host run kata-c containers?  Every check
 * ends as pass, warn (kata-c works, with a limit the user should know) or
 * fail (kata-c cannot run containers), with a reason a user can act on.
 */

enum status { PASS, WARN, FAIL };
static const char *const status_names[] = { "PASS", "WARN", "FAIL" };
static const char *const status_json[] = { "pass", "warn", "fail" };

struct check_ctx {
	json_t *checks; /* array of {name, status, reason, details} */
	bool verbose, json, strict;
	int failures, warnings;
};

/* Records one check; details (may be NULL) is a JSON object of extra facts
 * and is owned by the record. */
static void __attribute__((format(printf, 5, 6)))
report(struct check_ctx *c, enum status st, const char *name, json_t *details, const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *reason = NULL;

	va_start(ap, fmt);
	reason = kc_xvasprintf(fmt, ap);
	va_end(ap);
	if (st == WARN && c->strict)
		st = FAIL;
	if (st == FAIL)
		c->failures++;
	else if (st == WARN)
		c->warnings++;
	if (!c->json) {
		printf("%s  %-20s %s\n", status_names[st], name, reason);
		if (c->verbose && details) {
			const char *k;
			json_t *v;
			json_object_foreach (details, k, v) {
				cleanup_free char *s = json_is_string(v) ? kc_xstrdup(json_string_value(v)) :
									   kc_json_dump(v, 1);
				printf("      %s: %s\n", k, s);
			}
		}
	}
	json_array_append_new(c->checks, json_pack("{s:s, s:s, s:s, s:o}", "name", name, "status",
						   status_json[st], "reason", reason, "details",
						   details ? details : json_object()));
}

static void check_cpu(struct check_ctx *c, const struct kc_host_info *h, bool need_kvm)
{
	json_t *d = json_pack("{s:s, s:s, s:b, s:b, s:b, s:b}", "vendor", h->cpu.vendor, "model",
			      h->cpu.model, "vmx", h->cpu.vmx, "svm", h->cpu.svm, "lm", h->cpu.lm,
			      "sse4_1", h->cpu.sse4_1);

	if (strcmp(h->arch, "x86_64") != 0 || !h->cpu.lm) {
		report(c, FAIL, "cpu", d, "kata-c needs a 64-bit x86 CPU (this is %s)", h->arch);
		return;
	}
	if (h->cpu.vmx || h->cpu.svm) {
		report(c, PASS, "cpu virtualisation", d, "%s (%s)", h->cpu.vmx ? "Intel VT-x (vmx)" : "AMD-V (svm)",
		       h->cpu.model);
		return;
	}
	report(c, need_kvm ? FAIL : WARN, "cpu virtualisation", d,
	       "no vmx or svm flag: this CPU does not expose hardware virtualisation%s",
	       h->cpu.hypervisor ? " (this host is a VM without nested virtualisation)" : "");
}

/* Fills *out with the KVM probe's findings; false if it could not run. */
static bool check_kvm(struct check_ctx *c, const struct kc_host_info *h, bool need_kvm,
		      struct kc_kvm_probe *out)
{
	enum status miss = need_kvm ? FAIL : WARN;
	cleanup_error kc_error_t err = NULL;
	json_t *d;

	if (kc_kvm_probe("/dev/kvm", out, &err) < 0) {
		report(c, miss, "kvm", NULL, "%s", err->msg);
		return false;
	}
	d = kc_kvm_probe_to_json(out);
	json_object_set_new(d, "modules", json_pack("{s:b, s:b, s:b, s:b}", "kvm", h->kvm_module,
						    "kvm_intel", h->kvm_intel, "kvm_amd",
						    h->kvm_amd, "kvm_pvm", h->kvm_pvm));
	if (!out->opened) {
		report(c, miss, "kvm", d, "%s", out->reason);
		return false;
	}
	if (out->api_version != 12) {
		report(c, miss, "kvm", d, "/dev/kvm answers API version %d, expected 12", out->api_version);
		return false;
	}
	report(c, PASS, "kvm", json_incref(d), "/dev/kvm opened (API 12)");
	/* What QEMU needs from KVM for a microvm with virtio-mmio devices. */
	static const char *const required[] = { "KVM_CAP_USER_MEMORY", "KVM_CAP_IRQCHIP",
						"KVM_CAP_IOEVENTFD", "KVM_CAP_IRQFD", NULL };
	cleanup_free char *missing = kc_xstrdup("");
	for (size_t i = 0; i < KC_KVM_PROBE_NEXT; i++) {
		for (size_t r = 0; required[r]; r++) {
			if (strcmp(out->exts[i].name, required[r]) == 0 && out->exts[i].value == 0) {
				char *n = kc_xasprintf("%s %s", missing, required[r]);
				free(missing);
				missing = n;
			}
		}
	}
	if (*missing)
		report(c, miss, "kvm extensions", json_incref(json_object_get(d, "Extensions")),
		       "missing:%s", missing);
	else
		report(c, PASS, "kvm extensions", json_incref(json_object_get(d, "Extensions")),
		       "user memory, irqchip, ioeventfd, irqfd");
	if (!out->ran || !out->native) {
		report(c, miss, "kvm native speed", d,
		       "KVM cannot run a normal guest at native speed: %s", out->reason);
		return false;
	}
	report(c, PASS, "kvm native speed", d,
	       "a 64-bit kernel-mode loop runs at %.1fx the host's speed", out->ratio);
	return true;
}

static void check_device(struct check_ctx *c, const char *name, const char *path,
			 const char *without)
{
	int r = kc_host_device_usable(path);

	if (r == 0)
		report(c, PASS, name, NULL, "%s is usable", path);
	else
		report(c, WARN, name, NULL, "%s: %s: %s", path, strerror(-r), without);
}

static void check_qemu(struct check_ctx *c, const char *path)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_qemu_info q;

	if (kc_qemu_probe(path, &q, &err) < 0) {
		report(c, FAIL, "qemu", NULL, "%s", err->msg);
		return;
	}
	report(c, PASS, "qemu", NULL, "%s, version %s", path, q.version);
	if (q.microvm)
		report(c, PASS, "qemu microvm", NULL, "the microvm machine is available");
	else
		report(c, FAIL, "qemu microvm", NULL,
		       "%s has no microvm machine (`-machine help` does not list it)", path);
}

static void check_virtiofsd(struct check_ctx *c, const struct kc_config *cfg)
{
	cleanup_error kc_error_t err = NULL;
	char version[128];

	if (strcmp(cfg->hypervisor.shared_fs, "virtio-fs") != 0) {
		report(c, PASS, "virtiofsd", NULL, "not used (shared_fs = \"%s\")",
		       cfg->hypervisor.shared_fs);
		return;
	}
	if (kc_virtiofsd_probe(cfg->hypervisor.virtio_fs_daemon, version, sizeof(version), &err) < 0)
		report(c, FAIL, "virtiofsd", NULL, "%s", err->msg);
	else
		report(c, PASS, "virtiofsd", NULL, "%s: %s", cfg->hypervisor.virtio_fs_daemon, version);
}

static void check_file(struct check_ctx *c, const char *name, const char *key, const char *path)
{
	if (access(path, R_OK) == 0)
		report(c, PASS, name, NULL, "%s", path);
	else
		report(c, FAIL, name, NULL, "%s: %s (hypervisor.qemu.%s)", path, strerror(errno), key);
}

static void check_cgroups(struct check_ctx *c, const struct kc_host_info *h)
{
	switch (h->cgroup) {
	case KC_CGROUP_V2:
		report(c, PASS, "cgroups", NULL, "cgroup v2 (unified)");
		break;
	case KC_CGROUP_HYBRID:
		report(c, PASS, "cgroups", NULL, "cgroup v1 with cgroup2 at /sys/fs/cgroup/unified "
						 "(hybrid); the guest always runs cgroup v2");
		break;
	case KC_CGROUP_V1:
		report(c, PASS, "cgroups", NULL, "cgroup v1; the guest always runs cgroup v2");
		break;
	default:
		report(c, WARN, "cgroups", NULL, "/sys/fs/cgroup is not mounted: the sandbox "
						 "processes cannot be placed in a cgroup");
	}
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: kata-runtime check [--verbose] [--json] [--strict]\n"
		     "Tells whether this host can run kata-c containers.\n"
		     "  --verbose  show the details of each check\n"
		     "  --json     print one JSON document\n"
		     "  --strict   count warnings (such as the fall back to TCG) as failures\n"
		     "Exit status: 0 capable, 1 not capable, 2 usage error.\n");
}

int kc_cmd_check(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "strict", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		/* Kata's flags, accepted for scripts that pass them: kata-c
		 * never checks releases over the network. */
		{ "no-network-checks", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct check_ctx c = { .checks = json_array() };
	cleanup_json json_t *checks_owner = c.checks;
	cleanup_error kc_error_t err = NULL;
	struct kc_config_warnings w = { 0 };
	struct kc_config cfg;
	struct kc_host_info h;
	bool have_cfg, need_kvm = false, probed = false;
	struct kc_kvm_probe probe;
	cleanup_free char *accel = kc_xstrdup("auto");
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			c.verbose = true;
			break;
		case 'j':
			c.json = true;
			break;
		case 's':
			c.strict = true;
			break;
		case 'n':
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "kata-runtime check: unknown option `%s`\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kata-runtime check: unexpected argument `%s`\n", argv[optind]);
		return 2;
	}

	have_cfg = kc_cli_load_config(config_path, &cfg, &w, &err) == 0;
	if (have_cfg) {
		json_t *d = json_object();
		json_t *warnings = json_array();
		for (size_t i = 0; i < w.n; i++)
			json_array_append_new(warnings, json_string(w.lines[i]));
		json_object_set_new(d, "warnings", warnings);
		report(&c, PASS, "configuration", d, "%s%s", cfg.path,
		       w.n ? " (with warnings: see --verbose)" : "");
		kc_config_warnings_free(&w);
		free(accel);
		accel = kc_xstrdup(cfg.hypervisor.accel);
		need_kvm = strcmp(accel, "kvm") == 0;
	} else {
		report(&c, FAIL, "configuration", NULL, "%s", err->msg);
	}

	kc_host_info_read(&h);
	check_cpu(&c, &h, need_kvm);
	if (strcmp(accel, "tcg") == 0)
		report(&c, PASS, "kvm", NULL, "not used (accel = \"tcg\")");
	else
		probed = check_kvm(&c, &h, need_kvm, &probe);
	check_device(&c, "vhost-vsock", "/dev/vhost-vsock",
		     "the agent channel will use virtio-serial instead of vsock");
	check_device(&c, "vhost-net", "/dev/vhost-net",
		     "network traffic will go through QEMU's user-space virtio-net (slower)");
	check_device(&c, "tun", "/dev/net/tun", "pods cannot have network interfaces");
	check_cgroups(&c, &h);
	if (have_cfg) {
		cleanup_error kc_error_t verr = NULL;
		check_qemu(&c, cfg.hypervisor.path);
		check_virtiofsd(&c, &cfg);
		check_file(&c, "guest kernel", "kernel", cfg.hypervisor.kernel);
		if (cfg.hypervisor.initrd[0])
			check_file(&c, "guest initrd", "initrd", cfg.hypervisor.initrd);
		else
			check_file(&c, "guest image", "image", cfg.hypervisor.image);
		if (kc_config_check_sizing(&cfg, &verr) < 0)
			report(&c, FAIL, "sizing", NULL, "%s", verr->msg);
		else
			report(&c, PASS, "sizing", NULL, "%lld vCPU(s), %lld MiB fit this host (%ld CPUs, %llu MiB)",
			       (long long)cfg.hypervisor.default_vcpus,
			       (long long)cfg.hypervisor.default_memory, h.cpus,
			       (unsigned long long)(h.mem_total_kib >> 10));
		kc_config_free(&cfg);
	}

	const char *accel_used = kc_accel_resolve(accel, probed ? &probe : NULL);
	cleanup_free char *accel_line = NULL;
	if (strcmp(accel_used, "kvm") == 0)
		accel_line = kc_xstrdup(probed && probe.native ? "kvm" :
				        "kvm, as configured (accel = \"kvm\"), although KVM is not native here");
	else if (strcmp(accel, "tcg") == 0)
		accel_line = kc_xstrdup("tcg (QEMU's software CPU), as configured (accel = \"tcg\")");
	else
		accel_line = kc_xstrdup("tcg (QEMU's software CPU): KVM cannot run a normal guest at "
					"native speed on this host, so VMs run much slower than with KVM");
	cleanup_free char *verdict = NULL;
	if (c.failures > 0)
		verdict = kc_xasprintf("System cannot run kata-c containers: %d check(s) failed",
				       c.failures);
	else
		verdict = kc_xasprintf("System is capable of running kata-c containers (accelerator: %s)",
				       accel_used);

	if (c.json) {
		cleanup_json json_t *doc = json_pack("{s:O, s:b, s:s, s:s, s:i, s:i, s:s}", "checks", c.checks,
						     "capable", c.failures == 0, "accelerator",
						     accel_used, "accelerator_reason", accel_line, "failures", c.failures, "warnings",
						     c.warnings, "verdict", verdict);
		cleanup_free char *s = kc_json_dump(doc, 0);
		puts(s);
	} else {
		printf("\nAccelerator: %s\n%s\n", accel_line, verdict);
	}
	return c.failures > 0 ? 1 : 0;
}
