/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "tmpdir.h"

#define SHIPPED_CONFIG KC_TEST_DATA "/../../config/configuration-qemu.toml"

/* Writes `text` to a file of the temporary directory; returns its path. */
static char *write_config(const char *name, const char *text)
{
	return tmpdir_write(name, text, 0644);
}

/* Loads text and expects an error containing every one of the fragments. */
static void expect_load_error(const char *text, const char *frag1, const char *frag2)
{
	cleanup_free char *path = write_config("bad.toml", text);
	cleanup_error kc_error_t err = NULL;
	struct kc_config cfg;

	assert_true(kc_config_load_file(path, &cfg, NULL, &err) < 0);
	assert_non_null(err);
	if (strstr(err->msg, frag1) == NULL || (frag2 && strstr(err->msg, frag2) == NULL))
		fail_msg("error `%s` lacks `%s` / `%s`", err->msg, frag1, frag2 ? frag2 : "");
}

static void test_defaults(void **state)
{
	(void)state;
	cleanup_free char *path = write_config("min.toml", "[hypervisor.qemu]\n");
	cleanup_error kc_error_t err = NULL;
	struct kc_config_warnings w = { 0 };
	struct kc_config cfg;

	assert_int_equal(kc_config_load_file(path, &cfg, &w, &err), 0);
	assert_int_equal(w.n, 0);
	assert_string_equal(cfg.path, path);
	assert_string_equal(cfg.hypervisor.name, "qemu");
	assert_string_equal(cfg.hypervisor.path, "/usr/bin/qemu-system-x86_64");
	assert_string_equal(cfg.hypervisor.kernel, "/usr/share/kata-containers/vmlinux.container");
	assert_string_equal(cfg.hypervisor.machine_type, "microvm");
	assert_string_equal(cfg.hypervisor.accel, "auto");
	assert_int_equal(cfg.hypervisor.default_vcpus, 1);
	assert_int_equal(cfg.hypervisor.default_memory, 2048);
	assert_string_equal(cfg.hypervisor.shared_fs, "virtio-fs");
	assert_int_equal(cfg.hypervisor.enable_annotations.n, 3);
	assert_int_equal(cfg.agent.dial_timeout, 45);
	assert_string_equal(cfg.runtime.internetworking_model, "tcfilter");
	/* Unlike Kata's: a pod's seccomp profile is enforced. */
	assert_false(cfg.runtime.disable_guest_seccomp);
	assert_int_equal(cfg.runtime.create_container_timeout, 60);
	assert_string_equal(cfg.factory.template_path, "/run/vc/vm/template");
	kc_config_free(&cfg);
}

static void test_shipped_config(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	struct kc_config_warnings w = { 0 };
	struct kc_config cfg;

	assert_int_equal(kc_config_load_file(SHIPPED_CONFIG, &cfg, &w, &err), 0);
	for (size_t i = 0; i < w.n; i++)
		print_message("warning: %s\n", w.lines[i]);
	assert_int_equal(w.n, 0);
	assert_string_equal(cfg.hypervisor.initrd,
			    "/usr/share/kata-containers/kata-containers-initrd.img");
	assert_string_equal(cfg.hypervisor.virtio_fs_daemon, "/usr/lib/qemu/virtiofsd");
	assert_string_equal(cfg.hypervisor.kernel_params,
			    "cgroup_no_v1=all lockdown=confidentiality percpu_alloc=page");
	assert_false(cfg.runtime.disable_guest_seccomp);
	kc_config_free(&cfg);
}

static void test_kata_style_file(void **state)
{
	(void)state;
	/* A piece of Kata's own configuration-qemu.toml: keys kata-c does not
	 * use are warnings with their position, never errors. */
	cleanup_free char *path = write_config(
		"kata.toml",
		"[hypervisor.qemu]\n"
		"path = \"/usr/bin/qemu-system-x86_64\"\n"
		"kernel = \"/opt/kata/vmlinux\"\n"
		"image = \"/opt/kata/kata.img\"\n"
		"initrd = \"\"\n"
		"machine_type = \"microvm\"\n"
		"default_vcpus = 2\n"
		"pflashes = []\n"
		"valid_file_mem_backends = [\"/dev/shm\",\n"
		"   # comment inside an array\n"
		"   ]\n"
		"enable_annotations = [\"enable_iommu\", \"virtio_fs_extra_args\", \"kernel_params\",]\n"
		"[factory]\n"
		"enable_template = false\n"
		"[agent.kata]\n"
		"kernel_modules = [\"e1000e InterruptThrottleRate=3000\"]\n"
		"[runtime]\n"
		"internetworking_model = \"none\"\n"
		"experimental = []\n"
		"[image]\n"
		"service_offload = false\n");
	cleanup_error kc_error_t err = NULL;
	struct kc_config_warnings w = { 0 };
	struct kc_config cfg;

	assert_int_equal(kc_config_load_file(path, &cfg, &w, &err), 0);
	assert_int_equal(w.n, 3);
	assert_non_null(strstr(w.lines[0], "kata.toml:8:12: unknown key `hypervisor.qemu.pflashes`"));
	assert_non_null(strstr(w.lines[1],
			       ":9:27: unknown key `hypervisor.qemu.valid_file_mem_backends`"));
	assert_non_null(strstr(w.lines[2], "unknown section or key `image`"));
	assert_string_equal(cfg.hypervisor.image, "/opt/kata/kata.img");
	assert_string_equal(cfg.hypervisor.initrd, "");
	assert_int_equal(cfg.hypervisor.default_vcpus, 2);
	assert_int_equal(cfg.agent.kernel_modules.n, 1);
	assert_string_equal(cfg.agent.kernel_modules.v[0], "e1000e InterruptThrottleRate=3000");
	assert_string_equal(cfg.runtime.internetworking_model, "none");
	kc_config_warnings_free(&w);
	kc_config_free(&cfg);
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_load_error("[hypervisor.qemu]\ndefault_vcpus = \"2\"\n",
			  "bad.toml:2:17: hypervisor.qemu.default_vcpus: expected an integer",
			  "got string");
	expect_load_error("[hypervisor.qemu]\ndefault_bridges = 7\n",
			  "bad.toml:2:19: hypervisor.qemu.default_bridges: 7 is out of range (0..5)",
			  NULL);
	expect_load_error("[hypervisor.qemu]\ndefault_vcpus = 0\n",
			  "default_vcpus: 0 is out of range (1..240)", NULL);
	expect_load_error("[hypervisor.qemu]\nshared_fs = \"nfs\"\n",
			  "hypervisor.qemu.shared_fs: `nfs` is not one of: virtio-fs, virtio-9p",
			  NULL);
	expect_load_error("[hypervisor.qemu]\nkernel = \"vmlinux\"\n",
			  "bad.toml:2:10: hypervisor.qemu.kernel: `vmlinux` is not an absolute path",
			  NULL);
	expect_load_error("[hypervisor.qemu]\nenable_debug = 1\n",
			  "enable_debug: expected a boolean (true or false), got integer", NULL);
	expect_load_error("[hypervisor.qemu]\nimage = \"/a.img\"\ninitrd = \"/a.initrd\"\n",
			  "both `image` and `initrd` are set", NULL);
	expect_load_error("[hypervisor.qemu]\ninitrd = \"\"\n", "neither `image` nor `initrd`",
			  NULL);
	expect_load_error("[hypervisor.qemu]\ndefault_vcpus = 2\ndefault_maxvcpus = 1\n",
			  "default_maxvcpus (1) is below default_vcpus (2)", NULL);
	expect_load_error("[hypervisor.clh]\npath = \"/x\"\n",
			  "[hypervisor.clh] is not supported by kata-c (supported: qemu)", NULL);
	expect_load_error("[hypervisor.qemu]\n[hypervisor.firecracker]\n",
			  "more than one [hypervisor.*] section (`qemu` and `firecracker`)", NULL);
	expect_load_error("[agent.other]\n", "[agent.other] is not supported", NULL);
	expect_load_error("runtime = 3\n", "`runtime` must be a table", NULL);
	expect_load_error("[agent.kata]\nkernel_modules = [\"a\", 2]\n",
			  "bad.toml:2:24: agent.kata.kernel_modules: item 2: expected a string",
			  NULL);
	/* The TOML parser's own errors carry the file, line and column. */
	expect_load_error("[hypervisor.qemu]\npath = \"/usr/bin/qemu\n", "bad.toml:2:", NULL);
	expect_load_error("[hypervisor.qemu]\npath = \"/a\"\npath = \"/b\"\n",
			  "bad.toml:3:", "path");
}

static void test_lookup_order(void **state)
{
	(void)state;
	cleanup_free char *a = write_config("a.toml", "[hypervisor.qemu]\n");
	cleanup_free char *b = write_config("b.toml", "[hypervisor.qemu]\n");
	cleanup_free char *missing = kc_xasprintf("%s/missing.toml", tmpdir);
	cleanup_error kc_error_t err = NULL;
	char *found = NULL;

	/* The explicit path (containerd's ConfigPath) wins over KATA_CONF_FILE. */
	setenv("KATA_CONF_FILE", b, 1);
	assert_int_equal(kc_config_find(a, &found, &err), 0);
	assert_string_equal(found, a);
	free(found);
	assert_int_equal(kc_config_find(NULL, &found, &err), 0);
	assert_string_equal(found, b);
	free(found);

	/* A file the user named must exist: no silent fallback. */
	setenv("KATA_CONF_FILE", missing, 1);
	assert_true(kc_config_find(NULL, &found, &err) < 0);
	assert_non_null(strstr(err->msg, missing));
	assert_non_null(strstr(err->msg, "(from KATA_CONF_FILE)"));
	kc_error_free(&err);
	assert_true(kc_config_find(missing, &found, &err) < 0);
	assert_non_null(strstr(err->msg, "No such file or directory"));
	unsetenv("KATA_CONF_FILE");
}

static void test_validate_host(void **state)
{
	(void)state;
	cleanup_free char *kernel = write_config("vmlinux", "x");
	cleanup_free char *initrd = write_config("initrd", "x");
	cleanup_free char *text = kc_xasprintf("[hypervisor.qemu]\n"
					       "path = \"/bin/sh\"\n"
					       "virtio_fs_daemon = \"/bin/sh\"\n"
					       "kernel = \"%s\"\ninitrd = \"%s\"\n",
					       kernel, initrd);
	cleanup_free char *path = write_config("host.toml", text);
	cleanup_error kc_error_t err = NULL;
	struct kc_config cfg;

	assert_int_equal(kc_config_load_file(path, &cfg, NULL, &err), 0);
	assert_int_equal(kc_config_validate_host(&cfg, &err), 0);

	cfg.hypervisor.default_vcpus = sysconf(_SC_NPROCESSORS_ONLN) + 1;
	assert_true(kc_config_validate_host(&cfg, &err) < 0);
	assert_non_null(strstr(err->msg, "default_vcpus"));
	assert_non_null(strstr(err->msg, "CPUs of this host"));
	kc_error_free(&err);
	cfg.hypervisor.default_vcpus = 1;

	cfg.hypervisor.default_memory = INT64_C(1) << 32;
	assert_true(kc_config_validate_host(&cfg, &err) < 0);
	assert_non_null(strstr(err->msg, "MiB of this host"));
	kc_error_free(&err);
	cfg.hypervisor.default_memory = 256;

	unlink(kernel);
	assert_true(kc_config_validate_host(&cfg, &err) < 0);
	assert_non_null(strstr(err->msg, "hypervisor.qemu.kernel"));
	assert_non_null(strstr(err->msg, kernel));
	assert_non_null(strstr(err->msg, "No such file or directory"));
	kc_config_free(&cfg);
}

static void load_annotation_config(struct kc_config *cfg)
{
	cleanup_free char *path = write_config(
		"ann.toml",
		"[hypervisor.qemu]\n"
		"kernel_params = \"quiet\"\n"
		"enable_annotations = [\"kernel_params\", \"default_.*\", \"kernel\", \"virtio_fs_extra_args\"]\n"
		"valid_kernel_paths = [\"/opt/kata/*\"]\n");
	cleanup_error kc_error_t err = NULL;
	assert_int_equal(kc_config_load_file(path, cfg, NULL, &err), 0);
}

static int apply(struct kc_config *cfg, const char *key, const char *value, kc_error_t *err)
{
	const char *k[] = { key }, *v[] = { value };
	return kc_config_apply_annotations(cfg, k, v, 1, err);
}

static void expect_annotation_error(const char *key, const char *value, const char *frag)
{
	struct kc_config cfg;
	cleanup_error kc_error_t err = NULL;

	load_annotation_config(&cfg);
	assert_true(apply(&cfg, key, value, &err) < 0);
	if (strstr(err->msg, frag) == NULL)
		fail_msg("error `%s` lacks `%s`", err->msg, frag);
	kc_config_free(&cfg);
}

static void test_annotations(void **state)
{
	(void)state;
	const char *keys[] = {
		"io.katacontainers.config.hypervisor.kernel_params",
		"io.katacontainers.config.hypervisor.default_vcpus",
		"io.katacontainers.config.hypervisor.default_max_vcpus",
		"io.katacontainers.config.hypervisor.kernel",
		"io.katacontainers.config.hypervisor.virtio_fs_extra_args",
		"io.katacontainers.config.runtime.disable_guest_seccomp",
		"io.katacontainers.config.agent.kernel_modules",
		"io.kubernetes.cri.container-type",
	};
	const char *values[] = {
		"agent.log=debug",
		"2",
		"4",
		"/opt/kata/vmlinux-test",
		"[\"--thread-pool-size=4\"]",
		"true",
		"e1000e EEE=1; i915 ",
		"sandbox",
	};
	cleanup_error kc_error_t err = NULL;
	struct kc_config cfg;

	load_annotation_config(&cfg);
	assert_int_equal(kc_config_apply_annotations(&cfg, keys, values, KC_ARRAY_SIZE(keys), &err),
			 0);
	assert_string_equal(cfg.hypervisor.kernel_params, "quiet agent.log=debug");
	assert_int_equal(cfg.hypervisor.default_vcpus, 2);
	assert_int_equal(cfg.hypervisor.default_maxvcpus, 4);
	assert_string_equal(cfg.hypervisor.kernel, "/opt/kata/vmlinux-test");
	assert_int_equal(cfg.hypervisor.virtio_fs_extra_args.n, 1);
	assert_string_equal(cfg.hypervisor.virtio_fs_extra_args.v[0], "--thread-pool-size=4");
	assert_true(cfg.runtime.disable_guest_seccomp);
	assert_int_equal(cfg.agent.kernel_modules.n, 2);
	assert_string_equal(cfg.agent.kernel_modules.v[0], "e1000e EEE=1");
	assert_string_equal(cfg.agent.kernel_modules.v[1], "i915");
	kc_config_free(&cfg);

	/* Not in enable_annotations; the whole name must match a pattern, so
	 * "kernel" does not also allow "kernel_verity_params". */
	expect_annotation_error(
		"io.katacontainers.config.hypervisor.path", "/usr/bin/qemu-system-x86_64",
		"annotation `io.katacontainers.config.hypervisor.path` is not allowed");
	expect_annotation_error("io.katacontainers.config.hypervisor.kernel_verity_params", "x",
				"not in hypervisor.qemu.enable_annotations");
	expect_annotation_error(
		"io.katacontainers.config.hypervisor.kernel", "/etc/shadow",
		"path `/etc/shadow` does not match hypervisor.qemu.valid_kernel_paths");
	expect_annotation_error("io.katacontainers.config.hypervisor.default_vcpus", "two",
				"`two` is not a non-negative integer");
	expect_annotation_error("io.katacontainers.config.hypervisor.default_vcpus", "0",
				"default_vcpus: 0 is out of range");
	expect_annotation_error("io.katacontainers.config.hypervisor.default_bridges", "2",
				"kata-c does not support overriding `default_bridges`");
	expect_annotation_error("io.katacontainers.config.runtime.disable_guest_seccomp", "maybe",
				"`maybe` is not a boolean");
	expect_annotation_error("io.katacontainers.config.hypervisor.virtio_fs_extra_args", "[1]",
				"item 1 is not a string");
	expect_annotation_error("io.katacontainers.config.hypervisor.virtio_fs_extra_args", "[",
				"invalid JSON");
	expect_annotation_error("io.katacontainers.config.nothing.x", "1",
				"unknown configuration section");
}

/* kernel_params words reach the guest kernel's command line: a quote (the
 * kernel would join the rest of the line to it and hand it to init) or a
 * control character is refused, from the file and from the annotation,
 * naming the key and the word; bare words and key=value pass. */
static void test_kernel_params(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_config cfg;
	cleanup_free char *path = write_config(
		"kp.toml", "[hypervisor.qemu]\nkernel_params = \"quiet nokaslr foo a.b=c,d\"\n");

	(void)state;
	assert_int_equal(kc_config_load_file(path, &cfg, NULL, &err), 0);
	assert_string_equal(cfg.hypervisor.kernel_params, "quiet nokaslr foo a.b=c,d");
	kc_config_free(&cfg);
	assert_int_equal(kc_kernel_params_check("", &err), 0);
	assert_int_equal(kc_kernel_params_check("  a  b=1 ", &err), 0);

	expect_load_error("[hypervisor.qemu]\nkernel_params = \"quiet a\\\"b debug\"\n",
			  "bad.toml:2:17: hypervisor.qemu.kernel_params: kernel parameter `a\"b`",
			  "a quote is not allowed");
	expect_load_error("[hypervisor.qemu]\nkernel_params = \"x=\\\"a b\\\"\"\n",
			  "kernel parameter `x=\"a`", "a quote");
	expect_load_error("[hypervisor.qemu]\nkernel_params = \"quiet ab\\ncd\"\n",
			  "hypervisor.qemu.kernel_params: kernel parameter `ab...`",
			  "control character 0x0a");
	expect_load_error("[hypervisor.qemu]\nkernel_params = \"a\\tb\"\n", "0x09", NULL);
	expect_annotation_error("io.katacontainers.config.hypervisor.kernel_params", "nokaslr a\"b",
				"annotation io.katacontainers.config.hypervisor.kernel_params: "
				"kernel parameter `a\"b`: a quote is not allowed");
	expect_annotation_error("io.katacontainers.config.hypervisor.kernel_params", "a\x7f",
				"control character 0x7f");
	load_annotation_config(&cfg);
	assert_int_equal(apply(&cfg, "io.katacontainers.config.hypervisor.kernel_params",
			       "nokaslr foo", &err),
			 0);
	assert_string_equal(cfg.hypervisor.kernel_params, "quiet nokaslr foo");
	kc_config_free(&cfg);
}

/* Every key kata-c reads but does not implement, with a value other than
 * its default (valid for the key).  The test fails when a key is marked in
 * config.c and not here, or the other way round. */
static const struct {
	const char *section, *key, *value;
} unimplemented[] = {
	{ "hypervisor", "firmware", "\"/opt/kata/OVMF.fd\"" },
	{ "hypervisor", "machine_accelerators", "\"nvdimm=on\"" },
	{ "hypervisor", "cpu_features", "\"pmu=on\"" },
	{ "hypervisor", "memory_slots", "20" },
	{ "hypervisor", "default_bridges", "2" },
	{ "hypervisor", "shared_fs", "\"virtio-9p\"" },
	{ "hypervisor", "virtio_fs_cache_size", "64" },
	{ "hypervisor", "virtio_fs_queue_size", "512" },
	{ "hypervisor", "block_device_driver", "\"virtio-scsi\"" },
	{ "hypervisor", "block_device_aio", "\"threads\"" },
	{ "hypervisor", "disable_block_device_use", "false" },
	{ "hypervisor", "enable_iommu", "true" },
	{ "hypervisor", "enable_iommu_platform", "true" },
	{ "hypervisor", "enable_hugepages", "true" },
	{ "hypervisor", "enable_mem_prealloc", "true" },
	{ "hypervisor", "enable_virtio_mem", "true" },
	{ "hypervisor", "disable_guest_selinux", "false" },
	{ "hypervisor", "enable_guest_swap", "true" },
	{ "hypervisor", "rootless", "true" },
	{ "hypervisor", "entropy_source", "\"/dev/random\"" },
	{ "hypervisor", "hot_plug_vfio", "\"root-port\"" },
	{ "hypervisor", "cold_plug_vfio", "\"bridge-port\"" },
	{ "agent", "enable_tracing", "true" },
	{ "agent", "container_pipe_size", "4096" },
	{ "runtime", "enable_tracing", "true" },
	{ "runtime", "jaeger_endpoint", "\"http://localhost:14268/api/traces\"" },
	{ "runtime", "jaeger_user", "\"kata\"" },
	{ "runtime", "jaeger_password", "\"hunter2\"" },
	{ "runtime", "sandbox_bind_mounts", "[\"/opt/data:ro\"]" },
	{ "runtime", "vfio_mode", "\"vfio\"" },
	{ "runtime", "enable_pprof", "true" },
	{ "runtime", "enable_vcpus_pinning", "true" },
	{ "runtime", "experimental", "[\"newfeature\"]" },
	{ "factory", "enable_template", "true" },
	{ "factory", "template_path", "\"/run/kata/template\"" },
	{ "factory", "vm_cache_number", "2" },
	{ "factory", "vm_cache_endpoint", "\"/run/kata/cache.sock\"" },
};

static const char *section_header(const char *section)
{
	if (strcmp(section, "hypervisor") == 0)
		return "hypervisor.qemu";
	if (strcmp(section, "agent") == 0)
		return "agent.kata";
	return section;
}

/* A default value (from kc_config_to_json) written back as TOML. */
static char *toml_of(const json_t *v)
{
	size_t i;
	json_t *item;
	char *out;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return kc_xasprintf("\"%s\"", json_string_value(v));
	case JSON_INTEGER:
		return kc_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_TRUE:
		return kc_xstrdup("true");
	case JSON_FALSE:
		return kc_xstrdup("false");
	case JSON_ARRAY:
		out = kc_xstrdup("[");
		json_array_foreach((json_t *)v, i, item)
		{
			char *n = kc_xasprintf("%s%s\"%s\"", out, i ? ", " : "",
					       json_string_value(item));
			free(out);
			out = n;
		}
		char *n = kc_xasprintf("%s]", out);
		free(out);
		return n;
	default:
		fail_msg("unexpected JSON type %d", json_typeof(v));
	}
	return NULL;
}

/* The marked keys are exactly the table above; each set away from its
 * default is one warning with file:line:col, section, key and value; at
 * its default (written out) it is silent. */
static void test_unimplemented_keys(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *min = write_config("min.toml", "[hypervisor.qemu]\n");
	struct kc_config cfg;

	assert_int_equal(kc_config_load_file(min, &cfg, NULL, &err), 0);
	cleanup_json json_t *defaults = kc_config_to_json(&cfg);
	kc_config_free(&cfg);
	json_t *ni = json_object_get(defaults, "not_implemented");
	assert_int_equal(json_array_size(ni), KC_ARRAY_SIZE(unimplemented));

	for (size_t i = 0; i < KC_ARRAY_SIZE(unimplemented); i++) {
		const char *sec = unimplemented[i].section, *key = unimplemented[i].key;
		cleanup_free char *full = kc_xasprintf("%s.%s", sec, key);
		struct kc_config_warnings w = { 0 };
		bool listed = false;
		size_t j;
		json_t *item;

		json_array_foreach(ni, j, item) listed |= strcmp(json_string_value(item), full) == 0;
		if (!listed)
			fail_msg("%s is not marked as not implemented", full);
		assert_false(kc_config_key_implemented(sec, key));

		/* Line 3, the value at column strlen(key) + 4. */
		cleanup_free char *text = kc_xasprintf("[%s]\n# a comment\n%s = %s\n",
						       section_header(sec), key,
						       unimplemented[i].value);
		cleanup_free char *path = write_config("ni.toml", text);
		cleanup_free char *want = kc_xasprintf("%s:3:%zu: [%s] %s = ", path,
						       strlen(key) + 4, section_header(sec), key);
		assert_int_equal(kc_config_load_file(path, &cfg, &w, &err), 0);
		if (w.n != 1)
			fail_msg("%s: %zu warnings, want 1", full, w.n);
		if (strncmp(w.lines[0], want, strlen(want)) != 0 ||
		    strstr(w.lines[0], ": not implemented by kata-c (ignored)") == NULL)
			fail_msg("%s: warning `%s`, want `%s...`", full, w.lines[0], want);
		assert_true(w.not_implemented[0]);
		if (strcmp(key, "jaeger_password") == 0)
			assert_null(strstr(w.lines[0], "hunter2"));
		else if (strstr(w.lines[0], unimplemented[i].value) == NULL)
			fail_msg("%s: warning `%s` lacks the value %s", full, w.lines[0],
				 unimplemented[i].value);
		kc_config_warnings_free(&w);
		kc_config_free(&cfg);

		/* The default, written out: no warning. */
		cleanup_free char *def = toml_of(json_object_get(json_object_get(defaults, sec),
								 key));
		cleanup_free char *dtext = kc_xasprintf("[%s]\n%s = %s\n", section_header(sec), key,
							def);
		cleanup_free char *dpath = write_config("ni-default.toml", dtext);
		assert_int_equal(kc_config_load_file(dpath, &cfg, &w, &err), 0);
		if (w.n != 0)
			fail_msg("%s at its default %s: warning `%s`", full, def, w.lines[0]);
		kc_config_free(&cfg);
	}
	/* Implemented keys are not marked, and unknown ones are not implemented. */
	assert_true(kc_config_key_implemented("hypervisor", "default_memory"));
	assert_true(kc_config_key_implemented("agent", "kernel_modules"));
	assert_false(kc_config_key_implemented("hypervisor", "no_such_key"));
}

/* Unknown keys and not-implemented ones are told apart. */
static void test_warning_kinds(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *path = write_config(
		"kinds.toml", "[hypervisor.qemu]\nno_such_key = 1\nenable_hugepages = true\n");
	struct kc_config_warnings w = { 0 };
	struct kc_config cfg;

	assert_int_equal(kc_config_load_file(path, &cfg, &w, &err), 0);
	assert_int_equal(w.n, 2);
	assert_false(w.not_implemented[0]);
	assert_non_null(strstr(w.lines[0], "unknown key `hypervisor.qemu.no_such_key`"));
	assert_true(w.not_implemented[1]);
	assert_non_null(strstr(w.lines[1], ":3:20: [hypervisor.qemu] enable_hugepages = true: "
					   "not implemented by kata-c (ignored)"));
	kc_config_warnings_free(&w);
	kc_config_free(&cfg);
}

/* An annotation that sets a not-implemented key warns in the log (where
 * the shim's load warnings go); one back to the default does not. */
static void test_unimplemented_annotation(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *log = kc_xasprintf("%s/ann.log", tmpdir);
	cleanup_free char *path = write_config("ann-ni.toml", "[hypervisor.qemu]\n");
	cleanup_free char *text = NULL;
	struct kc_config cfg;
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(kc_config_load_file(path, &cfg, NULL, &err), 0);
	kc_log_set_fd(fd);
	/* enable_iommu is in the default enable_annotations. */
	assert_int_equal(
		apply(&cfg, "io.katacontainers.config.hypervisor.enable_iommu", "false", &err), 0);
	assert_int_equal(
		apply(&cfg, "io.katacontainers.config.hypervisor.enable_iommu", "true", &err), 0);
	assert_int_equal(apply(&cfg, "io.katacontainers.config.runtime.enable_pprof", "1", &err), 0);
	kc_log_set_fd(-1);
	close(fd);
	assert_true(cfg.hypervisor.enable_iommu);
	kc_config_free(&cfg);

	assert_int_equal(kc_read_file(log, 1 << 20, &text, NULL, &err), 0);
	assert_non_null(strstr(text, "annotation `io.katacontainers.config.hypervisor.enable_iommu`: "
				     "[hypervisor.qemu] enable_iommu = true: not implemented by "
				     "kata-c (ignored)"));
	assert_non_null(strstr(text, "annotation `io.katacontainers.config.runtime.enable_pprof`: "
				     "[runtime] enable_pprof = true: not implemented"));
	/* Two warnings: the one back to false said nothing. */
	assert_null(strstr(strstr(strstr(text, "not implemented") + 1, "not implemented") + 1,
			   "not implemented"));
}

static void test_to_json(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	struct kc_config cfg;

	assert_int_equal(kc_config_load_file(SHIPPED_CONFIG, &cfg, NULL, &err), 0);
	cleanup_json json_t *j = kc_config_to_json(&cfg);
	assert_string_equal(json_string_value(json_object_get(j, "path")), SHIPPED_CONFIG);
	json_t *h = json_object_get(j, "hypervisor");
	assert_string_equal(json_string_value(json_object_get(h, "name")), "qemu");
	assert_int_equal(json_integer_value(json_object_get(h, "default_memory")), 2048);
	assert_true(json_is_array(json_object_get(h, "enable_annotations")));
	assert_true(json_is_false(json_object_get(json_object_get(j, "runtime"),
						  "disable_guest_seccomp")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "agent"),
							    "dial_timeout")),
			 45);
	kc_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_kata_style_file),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_lookup_order),
		cmocka_unit_test(test_validate_host),
		cmocka_unit_test(test_annotations),
		cmocka_unit_test(test_kernel_params),
		cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_unimplemented_keys),
		cmocka_unit_test(test_warning_kinds),
		cmocka_unit_test(test_unimplemented_annotation),
	};
	return cmocka_run_group_tests_name("config", tests, tmpdir_setup, tmpdir_teardown);
}
