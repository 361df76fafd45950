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
#include "host/host.h"
#include "host/kvm_probe.h"

/*
 * `kata-runtime check` (alias kata-check): can this host run kata-c
 * containers?  Every check ends as pass, warn (kata-c works, with a limit
 * the user should know) or fail (kata-c cannot run containers), with a
 * reason a user can act on.  Unlike Kata's, it also asks whether KVM runs
 * guest kernel code at native speed: where it does not, VMs run under
 * QEMU's TCG, which is a warning (a failure with --strict).
 */

enum status { PASS, WARN, FAIL };
static const char *const status_names[] = { "PASS", "WARN", "FAIL" };
static const char *const status_json[] = { "pass", "warn", "fail" };

struct check_ctx {
	json_t *checks; /* array of {name, status, reason, details} */
	bool verbose, json, strict;
	int failures, warnings;
	int strict_failures; /* warnings that --strict made failures */
	json_t *failed; /* ["name: reason", ...] for the verdict */
};

/* A detail value as one line of text: strings bare, the rest as JSON. */
static char *detail_text(json_t *v)
{
	char *s;

	if (json_is_string(v))
		return kc_xstrdup(json_string_value(v));
	if (json_is_real(v))
		return kc_xasprintf("%.2f", json_real_value(v));
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	return s ? s : kc_xstrdup("?");
}

/* Records one check; details (may be NULL) is a JSON object of extra facts
 * and is owned by the record.  With --strict a warning is a failure. */
static void __attribute__((format(printf, 5, 6)))
report(struct check_ctx *c, enum status st, const char *name, json_t *details, const char *fmt, ...)
{
	cleanup_free char *reason = NULL;
	va_list ap;

	va_start(ap, fmt);
	reason = kc_xvasprintf(fmt, ap);
	va_end(ap);
	if (details == NULL)
		details = json_object();
	if (st == WARN && c->strict) {
		st = FAIL;
		c->strict_failures++;
	}
	if (st == FAIL) {
		cleanup_free char *f = kc_xasprintf("%s: %s", name, reason);
		json_array_append_new(c->failed, json_string(f));
		c->failures++;
	} else if (st == WARN) {
		c->warnings++;
	}
	if (!c->json) {
		printf("%s  %-20s %s\n", status_names[st], name, reason);
		if (c->verbose) {
			const char *k;
			json_t *v;
			json_object_foreach(details, k, v)
			{
				cleanup_free char *s = detail_text(v);
				printf("      %s: %s\n", k, s);
			}
		}
	}
	json_array_append_new(c->checks,
			      json_pack("{s:s, s:s, s:s, s:o}", "name", name, "status",
					status_json[st], "reason", reason, "details", details));
}

/* kvm_native: the probe found KVM native, whatever the CPU flags say. */
static void check_cpu(struct check_ctx *c, const struct kc_host_info *h, const char *accel,
		      bool kvm_native)
{
	const struct kc_cpu_info *cpu = &h->cpu;
	json_t *d = json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:b}", "vendor", cpu->vendor, "model",
			      cpu->model, "vmx", cpu->vmx, "svm", cpu->svm, "lm", cpu->lm, "sse4_1",
			      cpu->sse4_1, "hypervisor", cpu->hypervisor);

	if (strcmp(h->arch, "x86_64") != 0 || !cpu->lm)
		report(c, FAIL, "cpu", d, "kata-c needs a 64-bit x86 CPU (this is %s%s)", h->arch,
		       cpu->lm ? "" : " without the lm flag");
	else if (!cpu->sse4_1)
		report(c, WARN, "cpu", d, "%s: no sse4_1 flag (Kata's guest kernels expect it)",
		       cpu->model);
	else
		report(c, PASS, "cpu", d, "%s, %s (lm, sse4_1)", cpu->vendor, cpu->model);

	d = json_pack("{s:b, s:b, s:b, s:b}", "kvm", h->kvm_module, "kvm_intel", h->kvm_intel,
		      "kvm_amd", h->kvm_amd, "kvm_pvm", h->kvm_pvm);
	if (cpu->vmx || cpu->svm)
		report(c, PASS, "cpu virtualisation", d, "%s",
		       cpu->vmx ? "Intel VT-x (vmx)" : "AMD-V (svm)");
	else if (strcmp(accel, "tcg") == 0)
		report(c, PASS, "cpu virtualisation", d, "not needed (accel = \"tcg\")");
	else if (kvm_native)
		report(c, PASS, "cpu virtualisation", d,
		       "no vmx or svm flag, but KVM%s runs guest kernel code at native speed",
		       h->kvm_pvm ? " (kvm_pvm)" : "");
	else if (h->kvm_pvm)
		report(c, WARN, "cpu virtualisation", d,
		       "no vmx or svm flag: KVM here is kvm_pvm, which runs guest kernel code "
		       "without hardware virtualisation");
	else
		report(c, strcmp(accel, "kvm") == 0 ? FAIL : WARN, "cpu virtualisation", d,
		       "no vmx or svm flag: this CPU does not expose hardware virtualisation%s",
		       cpu->hypervisor ? " (this host is a VM without nested virtualisation)" : "");
}

/* Without a usable /dev/kvm the checks that need it still get their line,
 * so that every report (and its JSON) names the same checks. */
static void kvm_unchecked(struct check_ctx *c, enum status miss, const char *fallback)
{
	report(c, miss, "kvm extensions", NULL, "not checked: no usable /dev/kvm%s", fallback);
	report(c, miss, "kvm native speed", NULL, "not checked: no usable /dev/kvm%s", fallback);
}

/* The KVM checks, from the probe's findings (p NULL: it could not run,
 * for the reason in probe_err, or was not run: accel = "tcg"). */
static void check_kvm(struct check_ctx *c, const struct kc_host_info *h, const char *accel,
		      const struct kc_kvm_probe *p, const char *probe_err)
{
	/* What QEMU needs from KVM for a microvm with virtio-mmio devices. */
	static const char *const required[] = { "KVM_CAP_USER_MEMORY", "KVM_CAP_IRQCHIP",
						"KVM_CAP_IOEVENTFD", "KVM_CAP_IRQFD" };
	bool need_kvm = strcmp(accel, "kvm") == 0;
	enum status miss = need_kvm ? FAIL : WARN;
	const char *fallback = need_kvm ? "" : " (VMs will use TCG)";
	cleanup_free char *missing = kc_xstrdup("");
	json_t *d;

	if (strcmp(accel, "tcg") == 0) {
		report(c, PASS, "kvm", NULL, "not used (accel = \"tcg\")");
		return;
	}
	if (p == NULL) {
		report(c, miss, "kvm", NULL, "%s%s", probe_err, fallback);
		kvm_unchecked(c, miss, fallback);
		return;
	}
	d = json_pack("{s:s, s:b, s:i}", "device", "/dev/kvm", "opened", p->opened, "api_version",
		      p->api_version);
	if (!p->opened || p->api_version != 12) {
		report(c, miss, "kvm", d, "%s%s", p->reason, fallback);
		kvm_unchecked(c, miss, fallback);
		return;
	}
	report(c, PASS, "kvm", d, "/dev/kvm opened (API 12)%s", h->kvm_pvm ? ", kvm_pvm" : "");

	d = json_object();
	for (size_t i = 0; i < KC_KVM_PROBE_NEXT; i++) {
		json_object_set_new(d, p->exts[i].name, json_integer(p->exts[i].value));
		for (size_t r = 0; r < KC_ARRAY_SIZE(required); r++) {
			if (strcmp(p->exts[i].name, required[r]) == 0 && p->exts[i].value == 0) {
				char *m = kc_xasprintf("%s %s", missing, required[r]);
				free(missing);
				missing = m;
			}
		}
	}
	if (*missing)
		report(c, miss, "kvm extensions", d, "missing:%s%s", missing, fallback);
	else
		report(c, PASS, "kvm extensions", d, "user memory, irqchip, ioeventfd, irqfd");

	d = json_pack("{s:I, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:b, s:f}", "iterations",
		      (json_int_t)p->iterations, "guest_ns_per_iteration",
		      kc_kvm_probe_guest_ns_per_iter(p), "host_ns_per_iteration",
		      kc_kvm_probe_host_ns_per_iter(p), "ratio", p->ratio, "guest_ns",
		      (json_int_t)p->guest_ns, "base_iterations", (json_int_t)p->base_iterations,
		      "base_ns", (json_int_t)p->base_ns, "host_ns", (json_int_t)p->host_ns,
		      "timed_out", p->timed_out, "native_max_ratio", KC_KVM_NATIVE_MAX_RATIO);
	if (p->native)
		report(c, PASS, "kvm native speed", d,
		       "a 64-bit kernel-mode loop runs at %.1fx the host's time", p->ratio);
	else if (need_kvm)
		report(c, FAIL, "kvm native speed", d,
		       "accel = \"kvm\" is configured, but KVM cannot run a normal guest at "
		       "native speed: %s",
		       p->reason);
	else
		report(c, WARN, "kvm native speed", d,
		       "KVM cannot run a normal guest at native speed: %s (VMs will use TCG)",
		       p->reason);
}

/* A device kata-c can do without; `without` says what is lost. */
static void check_device(struct check_ctx *c, const char *name, const char *path, int usable,
			 const char *without)
{
	if (usable == 0)
		report(c, PASS, name, NULL, "%s is usable", path);
	else
		report(c, WARN, name, NULL, "%s: %s: %s", path, strerror(-usable), without);
}

static void check_qemu(struct check_ctx *c, const char *path)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_qemu_info q;

	if (kc_qemu_probe(path, &q, &err) < 0) {
		report(c, FAIL, "qemu", NULL, "%s (hypervisor.qemu.path)", err->msg);
		return;
	}
	report(c, PASS, "qemu", json_pack("{s:s, s:s}", "path", path, "version", q.version),
	       "%s, version %s", path, q.version);
	if (q.microvm)
		report(c, PASS, "qemu microvm", NULL, "the microvm machine is available");
	else
		report(c, FAIL, "qemu microvm", NULL,
		       "%s has no microvm machine (`-machine help` does not list it)", path);
}

static void check_virtiofsd(struct check_ctx *c, const struct kc_hypervisor_config *hv)
{
	cleanup_error kc_error_t err = NULL;
	char version[128];

	/* Every VM shares through virtio-fs, whatever shared_fs says (a key
	 * kata-c does not implement). */
	if (kc_virtiofsd_probe(hv->virtio_fs_daemon, version, sizeof(version), &err) < 0)
		report(c, FAIL, "virtiofsd", NULL, "%s (hypervisor.qemu.virtio_fs_daemon)",
		       err->msg);
	else
		report(c, PASS, "virtiofsd", NULL, "%s: %s", hv->virtio_fs_daemon, version);
}

static void check_file(struct check_ctx *c, const char *name, const char *key, const char *path)
{
	if (path[0] == '\0')
		report(c, FAIL, name, NULL, "hypervisor.qemu.%s is not set", key);
	else if (access(path, R_OK) == 0)
		report(c, PASS, name, NULL, "%s", path);
	else
		report(c, FAIL, name, NULL, "%s: %s (hypervisor.qemu.%s)", path, strerror(errno),
		       key);
}

static void check_cgroups(struct check_ctx *c, const struct kc_host_info *h)
{
	switch (h->cgroup) {
	case KC_CGROUP_V2:
		report(c, PASS, "cgroups", NULL, "cgroup v2 (unified)");
		break;
	case KC_CGROUP_HYBRID:
		report(c, PASS, "cgroups", NULL,
		       "cgroup v1 with cgroup2 at /sys/fs/cgroup/unified "
		       "(hybrid); the guest always runs cgroup v2");
		break;
	case KC_CGROUP_V1:
		report(c, PASS, "cgroups", NULL, "cgroup v1; the guest always runs cgroup v2");
		break;
	default:
		report(c, WARN, "cgroups", NULL,
		       "no cgroup file system at /sys/fs/cgroup: the "
		       "sandbox processes cannot be placed in a cgroup");
	}
}

/* The load's warnings: unknown keys leave the configuration a pass (Kata's
 * files carry many); a key kata-c ignores although it is set is a warning
 * of its own, which --strict makes a failure. */
static void check_config_warnings(struct check_ctx *c, const struct kc_config *cfg,
				  const struct kc_config_warnings *w)
{
	json_t *unknown = json_array(), *ignored = json_array();
	cleanup_free char *list = kc_xstrdup("");
	size_t n = 0;

	for (size_t i = 0; i < w->n; i++) {
		if (!w->not_implemented[i]) {
			json_array_append_new(unknown, json_string(w->lines[i]));
			continue;
		}
		json_array_append_new(ignored, json_string(w->lines[i]));
		char *next = kc_xasprintf("%s%s%s", list, n++ ? "; " : "", w->lines[i]);
		free(list);
		list = next;
	}
	report(c, PASS, "configuration", json_pack("{s:o}", "warnings", unknown), "%s%s", cfg->path,
	       json_array_size(unknown) ? " (with warnings: see --verbose)" : "");
	if (n == 0)
		report(c, PASS, "configuration keys", json_pack("{s:o}", "not_implemented", ignored),
		       "no key that kata-c does not implement is set (defaults aside)");
	else
		report(c, WARN, "configuration keys", json_pack("{s:o}", "not_implemented", ignored),
		       "%zu key%s set but not implemented by kata-c: %s", n, n == 1 ? "" : "s",
		       list);
}

/* The checks that need the configuration. */
static void check_configured(struct check_ctx *c, const struct kc_config *cfg,
			     const struct kc_host_info *h)
{
	const struct kc_hypervisor_config *hv = &cfg->hypervisor;
	cleanup_error kc_error_t err = NULL;

	check_qemu(c, hv->path);
	check_virtiofsd(c, hv);
	check_file(c, "guest kernel", "kernel", hv->kernel);
	if (hv->initrd[0] || !hv->image[0])
		check_file(c, "guest initrd", "initrd", hv->initrd);
	else
		check_file(c, "guest image", "image", hv->image);
	if (kc_config_check_sizing(cfg, &err) < 0)
		report(c, FAIL, "sizing", NULL, "%s", err->msg);
	else
		report(c, PASS, "sizing", NULL,
		       "%lld vCPU(s), %lld MiB fit this host (%ld CPUs, %llu MiB)",
		       (long long)hv->default_vcpus, (long long)hv->default_memory, h->cpus,
		       (unsigned long long)(h->mem_total_kib >> 10));
}

/* Why VMs get the accelerator they get, for the verdict. */
static char *accel_reason(const char *accel, const char *used, const struct kc_kvm_probe *p)
{
	if (strcmp(accel, "tcg") == 0)
		return kc_xstrdup("using TCG, as configured (accel = \"tcg\")");
	if (strcmp(used, "kvm") == 0)
		return kc_xstrdup(strcmp(accel, "kvm") == 0 ? "using KVM, as configured"
							    : "using KVM");
	if (p == NULL || !p->opened || p->api_version != 12)
		return kc_xasprintf("using TCG: KVM is not usable here: %s",
				    p ? p->reason : "the probe could not run");
	return kc_xasprintf("using TCG: KVM cannot run a normal guest at native speed here: %s",
			    p->reason);
}

/* The last line(s): capable, with the accelerator, or every failure.  In
 * text, several failures go one a line. */
static char *verdict_line(const struct check_ctx *c, const char *why_accel, bool multiline)
{
	const char *strict = c->strict_failures ? " (--strict: warnings count as failures)" : "";
	size_t n = json_array_size(c->failed), i;
	char *v;
	json_t *f;

	if (c->failures == 0)
		return kc_xasprintf("System is capable of running kata-c containers (%s)",
				    why_accel);
	if (n == 1)
		return kc_xasprintf("System cannot run kata-c containers%s: %s", strict,
				    json_string_value(json_array_get(c->failed, 0)));
	v = kc_xasprintf("System cannot run kata-c containers%s, %zu checks failed:", strict, n);
	json_array_foreach(c->failed, i, f)
	{
		char *next = kc_xasprintf("%s%s%s", v, multiline ? "\n  - " : (i ? "; " : " "),
					  json_string_value(f));
		free(v);
		v = next;
	}
	return v;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: kata-runtime check [--verbose] [--json] [--strict]\n"
		     "Tells whether this host can run kata-c containers.\n"
		     "  --verbose  show the details of each check (probe timings, extensions)\n"
		     "  --json     print one JSON document\n"
		     "  --strict   count warnings (such as the fall back to TCG) as failures\n"
		     "Exit status: 0 capable, 1 not capable, 2 usage error.\n");
}

/* Parses the flags; returns -1 to go on, or the exit status. */
static int parse_flags(int argc, char **argv, struct check_ctx *c)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "strict", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		/* Kata's flag, accepted for scripts that pass it: kata-c
		 * never checks releases over the network. */
		{ "no-network-checks", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	optind = 0; /* a fresh getopt state, whatever parsed argv before */
	while ((opt = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			c->verbose = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 's':
			c->strict = true;
			break;
		case 'n':
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (optopt && optopt != '?' && strchr("vjsnh", optopt) == NULL)
				fprintf(stderr, "kata-runtime check: unknown option `-%c`\n",
					optopt);
			else
				fprintf(stderr,
					"kata-runtime check: unknown or invalid option `%s`\n",
					argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kata-runtime check: unexpected argument `%s`\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

int kc_cmd_check(int argc, char **argv, const char *config_path)
{
	struct check_ctx c = { .checks = json_array(), .failed = json_array() };
	cleanup_json json_t *checks_owner = c.checks;
	cleanup_json json_t *failed_owner = c.failed;
	cleanup_error kc_error_t err = NULL;
	cleanup_error kc_error_t probe_err = NULL;
	struct kc_config_warnings w = { 0 };
	struct kc_config cfg;
	struct kc_host_info h;
	struct kc_kvm_probe probe;
	cleanup_free char *accel = kc_xstrdup("auto");
	bool have_cfg, probed = false;
	int ret = parse_flags(argc, argv, &c);

	if (ret >= 0)
		return ret;

	have_cfg = kc_cli_load_config(config_path, &cfg, &w, &err) == 0;
	if (have_cfg) {
		check_config_warnings(&c, &cfg, &w);
		kc_config_warnings_free(&w);
		free(accel);
		accel = kc_xstrdup(cfg.hypervisor.accel);
	} else {
		report(&c, FAIL, "configuration", NULL, "%s", err->msg);
	}

	kc_host_info_read(&h);
	/* The probe first: the CPU check needs its answer. */
	if (strcmp(accel, "tcg") != 0)
		probed = kc_kvm_probe("/dev/kvm", &probe, &probe_err) == 0;
	check_cpu(&c, &h, accel, probed && probe.native);
	check_kvm(&c, &h, accel, probed ? &probe : NULL, probe_err ? probe_err->msg : "");
	check_device(&c, "vhost-vsock", "/dev/vhost-vsock", h.vhost_vsock,
		     "the agent channel will use virtio-serial instead of vsock");
	/* kata-c's NICs run with vhost=off (as disable_vhost_net = true asks):
	 * the device is reported, never needed. */
	report(&c, PASS, "vhost-net", json_pack("{s:b}", "usable", h.vhost_net == 0),
	       "not used: NICs go through QEMU's user-space virtio-net (vhost=off)%s",
	       h.vhost_net == 0 ? "; /dev/vhost-net is usable" : "");
	check_device(&c, "tun", "/dev/net/tun", h.tun, "pods cannot have network interfaces");
	check_cgroups(&c, &h);
	if (have_cfg) {
		check_configured(&c, &cfg, &h);
		kc_config_free(&cfg);
	}

	const char *used = kc_accel_resolve(accel, probed ? &probe : NULL);
	cleanup_free char *why_accel = accel_reason(accel, used, probed ? &probe : NULL);
	cleanup_free char *verdict = verdict_line(&c, why_accel, false);

	if (c.json) {
		cleanup_json json_t *doc = json_pack(
			"{s:O, s:b, s:b, s:s, s:s, s:s, s:i, s:i, s:s}", "checks", c.checks,
			"capable", c.failures == 0, "strict", c.strict, "accelerator", used,
			"configured_accelerator", accel, "accelerator_reason", why_accel,
			"failures", c.failures, "warnings", c.warnings, "verdict", verdict);
		cleanup_free char *s = kc_json_dump(doc, 0);
		puts(s);
	} else {
		cleanup_free char *text = verdict_line(&c, why_accel, true);
		printf("\n%s\n", text);
	}
	return c.failures > 0 ? 1 : 0;
}
