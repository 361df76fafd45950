/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "lib/config.h"
#include "lib/json.h"
#include "lib/util.h"
#include "host/host.h"
#include "host/kvm_probe.h"
#include "kc-build-config.h"
#include "kc-version.h"

/*
 * `kata-runtime env`: what Kata's kata-env shows, built once as a JSON
 * document and printed either as JSON (--json) or as TOML.
 */

#define ENV_FORMAT_VERSION "1.0.0"

static bool bare_key(const char *k)
{
	if (*k == '\0')
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
			return false;
	return true;
}

static void print_toml_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void print_toml_key(FILE *out, const char *k)
{
	if (bare_key(k))
		fputs(k, out);
	else
		print_toml_string(out, k);
}

static void print_toml_scalar(FILE *out, const json_t *v)
{
	size_t i;
	json_t *item;

	switch (json_typeof(v)) {
	case JSON_STRING:
		print_toml_string(out, json_string_value(v));
		break;
	case JSON_INTEGER:
		fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(out, "%.17g", json_real_value(v));
		break;
	case JSON_TRUE:
		fputs("true", out);
		break;
	case JSON_FALSE:
		fputs("false", out);
		break;
	case JSON_ARRAY:
		fputc('[', out);
		json_array_foreach((json_t *)v, i, item)
		{
			if (i)
				fputs(", ", out);
			print_toml_scalar(out, item);
		}
		fputc(']', out);
		break;
	default:
		/* TOML has no null: env never produces one, but be total. */
		fputs("\"\"", out);
	}
}

/* Whether key k of the table prefix is one of Config's not_implemented
 * ("hypervisor.enable_iommu" for k enable_iommu of Config.hypervisor). */
static bool not_implemented(const json_t *ni, const char *prefix, const char *k)
{
	size_t i;
	json_t *item;

	if (strncmp(prefix, "Config.", 7) != 0)
		return false;
	json_array_foreach((json_t *)ni, i, item)
	{
		const char *name = json_string_value(item);
		size_t n = strlen(prefix + 7);

		if (name && strncmp(name, prefix + 7, n) == 0 && name[n] == '.' &&
		    strcmp(name + n + 1, k) == 0)
			return true;
	}
	return false;
}

/* Prints a table's scalar keys, then each sub-table under its own header,
 * as TOML requires (keys after a header belong to that header).  Keys of
 * ni (Config's not_implemented) get a comment that says so. */
static void print_toml_table(FILE *out, const json_t *obj, const char *prefix, bool *started,
			     const json_t *ni)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v)
	{
		if (json_is_object(v))
			continue;
		*started = true;
		fputs("  ", out);
		print_toml_key(out, k);
		fputs(" = ", out);
		print_toml_scalar(out, v);
		if (not_implemented(ni, prefix, k))
			fputs("  # not implemented by kata-c", out);
		fputc('\n', out);
	}
	json_object_foreach((json_t *)obj, k, v)
	{
		cleanup_free char *name = NULL;
		cleanup_free char *quoted = NULL;

		if (!json_is_object(v))
			continue;
		quoted = bare_key(k) ? kc_xstrdup(k) : kc_xasprintf("\"%s\"", k);
		name = *prefix ? kc_xasprintf("%s.%s", prefix, quoted) : kc_steal_ptr(&quoted);
		fprintf(out, "%s[%s]\n", *started ? "\n" : "", name);
		*started = true;
		print_toml_table(out, v, name, started, ni);
	}
}

static json_t *asset_json(const char *path)
{
	return json_pack("{s:s}", "Path", path);
}

/* Host facts, with the KVM probe's findings (NULL: not probed). */
static json_t *host_json(const struct kc_kvm_probe *probe)
{
	struct kc_host_info info;
	json_t *host;

	kc_host_info_read(&info);
	host = kc_host_info_to_json(&info);
	if (probe)
		json_object_set_new(host, "KVM", kc_kvm_probe_to_json(probe));
	return host;
}

static json_t *build_env(const struct kc_config *cfg, const struct kc_config_warnings *w)
{
	const struct kc_hypervisor_config *h = &cfg->hypervisor;
	json_t *env = json_object();
	json_t *warnings = json_array();
	struct kc_kvm_probe probe;
	bool probed = false;

	/* The probe takes a fraction of a second; skip it when KVM is off. */
	if (strcmp(h->accel, "tcg") != 0)
		probed = kc_kvm_probe("/dev/kvm", &probe, NULL) == 0;

	for (size_t i = 0; i < w->n; i++)
		json_array_append_new(warnings, json_string(w->lines[i]));

	json_object_set_new(env, "Meta", json_pack("{s:s}", "Version", ENV_FORMAT_VERSION));
	json_object_set_new(env, "Runtime",
			    json_pack("{s:b, s:{s:s, s:s, s:s}, s:{s:s, s:o}, s:s, s:b, s:b}",
				      "Debug", cfg->runtime.enable_debug, "Version", "Semver",
				      KC_VERSION, "Commit", KC_COMMIT, "OCI", "1.1.0", "Config",
				      "Path", cfg->path, "Warnings", warnings, "InterNetworkModel",
				      cfg->runtime.internetworking_model, "DisableGuestSeccomp",
				      cfg->runtime.disable_guest_seccomp, "DisableNewNetNs",
				      cfg->runtime.disable_new_netns));
	json_object_set_new(env, "Hypervisor",
			    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b}",
				      "Name", h->name, "Path", h->path, "MachineType",
				      h->machine_type, "Accelerator",
				      kc_accel_resolve(h->accel, probed ? &probe : NULL),
				      "ConfiguredAccelerator", h->accel, "SharedFS", h->shared_fs,
				      "VirtioFSDaemon", h->virtio_fs_daemon, "BlockDeviceDriver",
				      h->block_device_driver, "DefaultVCPUs",
				      (json_int_t)h->default_vcpus, "DefaultMemoryMiB",
				      (json_int_t)h->default_memory, "Debug", h->enable_debug));
	json_object_set_new(env, "Kernel",
			    json_pack("{s:s, s:s}", "Path", h->kernel, "Parameters",
				      h->kernel_params));
	json_object_set_new(env, "Image", asset_json(h->image));
	json_object_set_new(env, "Initrd", asset_json(h->initrd));
	json_object_set_new(env, "Agent",
			    json_pack("{s:b, s:b, s:b}", "Debug", cfg->agent.enable_debug, "Trace",
				      cfg->agent.enable_tracing, "DebugConsole",
				      cfg->agent.debug_console_enabled));
	json_object_set_new(env, "Host", host_json(probed ? &probe : NULL));
	/* Every key as resolved, defaults included: what the runtime will use. */
	json_object_set_new(env, "Config", kc_config_to_json(cfg));
	return env;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: kata-runtime env [--json]\n"
		     "Shows the resolved configuration and facts about this host, as TOML\n"
		     "(or JSON with --json).\n");
}

int kc_cmd_env(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cleanup_error kc_error_t err = NULL;
	struct kc_config_warnings w = { 0 };
	struct kc_config cfg;
	bool json = false;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "kata-runtime env: unknown option `%s`\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kata-runtime env: unexpected argument `%s`\n", argv[optind]);
		return 2;
	}
	if (kc_cli_load_config(config_path, &cfg, &w, &err) < 0) {
		kc_error_report("kata-runtime env", &err);
		return 1;
	}

	cleanup_json json_t *env = build_env(&cfg, &w);
	if (json) {
		cleanup_free char *s = kc_json_dump(env, 0);
		puts(s);
	} else {
		bool started = false;
		print_toml_table(stdout, env, "", &started,
				 json_object_get(json_object_get(env, "Config"), "not_implemented"));
	}
	kc_config_warnings_free(&w);
	kc_config_free(&cfg);
	return 0;
}
