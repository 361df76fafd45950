/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"
#include "json.h"
#include "log.h"
#include "toml.h"
#include "util.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "kc-build-config.h"

/* Configuration files are a few KiB; Kata's biggest is under 64 KiB. */
#define CONFIG_MAX_SIZE (1u << 20)

#define ANNOTATION_PREFIX "io.katacontainers.config."

enum key_type { KEY_STRING, KEY_BOOL, KEY_INT, KEY_STRV };

enum section { SEC_HYPERVISOR, SEC_AGENT, SEC_RUNTIME, SEC_FACTORY };
static const char *const section_names[] = { "hypervisor", "agent", "runtime", "factory" };

enum key_flags {
	/* An absolute path; checked for existence against the host. */
	KEY_PATH = 1 << 0,
	/* A path that may also be empty (not used). */
	KEY_OPTIONAL = 1 << 1,
	/* May be overridden by an annotation of its section. */
	KEY_ANNOTATION = 1 << 2,
	/* Words for the guest kernel's command line (kc_kernel_params_check). */
	KEY_KERNEL_PARAMS = 1 << 3,
	/*
	 * Read, but nothing in kata-c acts on it: set (in the file or by an
	 * annotation) to another value than its default, it is a warning that
	 * `kata-runtime check --strict` refuses, and `kata-runtime env` marks
	 * it.  A key whose only reader is env or check is not implemented.
	 */
	KEY_UNIMPLEMENTED = 1 << 4,
	/* Its value is not repeated in warnings (a password). */
	KEY_SECRET = 1 << 5,
};

/*
 * One row per configuration key: where it lives, its type, its default and
 * its limits.  Loading, annotation overrides, freeing and `kata-runtime env`
 * all walk this table, so a new key is one line here plus a struct field.
 */
struct key_desc {
	enum section section;
	const char *name;
	enum key_type type;
	size_t offset; /* into struct kc_config */
	unsigned flags;
	const char *def_string;
	int64_t def_int; /* also the default of booleans */
	const char *const *def_strv;
	int64_t min, max;
	const char *const *choices; /* allowed string values, NULL-terminated */
	const char *annotation; /* annotation name when it differs from `name` */
	size_t valid_paths; /* offset of the kc_strv of globs an annotation must match */
};

#define OFF(field) offsetof(struct kc_config, field)
/* `sec` is the member of struct kc_config; these map it to its section. */
#define SEC_OF_hypervisor SEC_HYPERVISOR
#define SEC_OF_agent SEC_AGENT
#define SEC_OF_runtime SEC_RUNTIME
#define SEC_OF_factory SEC_FACTORY

#define STR(sec, field, def, fl, ...) \
	{ \
		.section = SEC_OF_##sec, .name = #field, .type = KEY_STRING, \
		.offset = OFF(sec.field), .flags = fl, .def_string = def, __VA_ARGS__ \
	}
#define BOOL(sec, field, def, fl) \
	{ \
		.section = SEC_OF_##sec, .name = #field, .type = KEY_BOOL, \
		.offset = OFF(sec.field), .flags = fl, .def_int = def \
	}
#define INT(sec, field, def, lo, hi, fl, ...) \
	{ \
		.section = SEC_OF_##sec, .name = #field, .type = KEY_INT, .offset = OFF(sec.field), \
		.flags = fl, .def_int = def, .min = lo, .max = hi, __VA_ARGS__ \
	}
#define STRV(sec, field, def, fl) \
	{ \
		.section = SEC_OF_##sec, .name = #field, .type = KEY_STRV, \
		.offset = OFF(sec.field), .flags = fl, .def_strv = def \
	}

#define ANN KEY_ANNOTATION
#define NI KEY_UNIMPLEMENTED
#define VALID(field) .valid_paths = OFF(hypervisor.field)

static const char *const choices_machine[] = { "microvm", NULL };
static const char *const choices_accel[] = { "auto", "kvm", "tcg", NULL };
static const char *const choices_shared_fs[] = { "virtio-fs", "virtio-9p", "virtio-fs-nydus",
						 "none", NULL };
static const char *const choices_fs_cache[] = { "auto", "always", "never", "metadata", NULL };
static const char *const choices_block_driver[] = { "virtio-blk", "virtio-scsi",    "virtio-mmio",
						    "nvdimm",	  "virtio-blk-ccw", NULL };
static const char *const choices_aio[] = { "io_uring", "threads", "native", NULL };
static const char *const choices_vfio_port[] = { "no-port", "root-port", "bridge-port",
						 "switch-port", NULL };
static const char *const choices_netmodel[] = { "tcfilter", "macvtap", "none", NULL };
static const char *const choices_vfio_mode[] = { "guest-kernel", "vfio", NULL };
static const char *const choices_emptydir[] = { "shared-fs", "block-encrypted", NULL };

static const char *const def_hypervisor_paths[] = { "/usr/bin/qemu-system-x86_64", NULL };
static const char *const def_kernel_paths[] = { KC_SHARE_DIR "/*", NULL };
static const char *const def_fsd_paths[] = { "/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd",
					     NULL };
static const char *const def_entropy_sources[] = { "/dev/urandom", "/dev/random", "", NULL };
static const char *const def_enable_annotations[] = { "enable_iommu", "kernel_params",
						      "kernel_verity_params", NULL };
static const char *const empty_strv[] = { NULL };

/*
 * NI marks the keys nothing in kata-c acts on (an audit of every reader of
 * struct kc_config; a key only env or check prints is not implemented; the
 * list and the reason for each is in docs/configuration.md).  Not marked,
 * although nothing reads them, because kata-c always behaves as their
 * non-default value asks: disable_vhost_net (NICs run with vhost=off),
 * disable_selinux (no SELinux labels) and static_sandbox_resource_mgmt
 * (the VM is sized once, from the pod's spec).
 */
static const struct key_desc keys[] = {
	STR(hypervisor, path, "/usr/bin/qemu-system-x86_64", KEY_PATH | ANN,
	    VALID(valid_hypervisor_paths)),
	STR(hypervisor, kernel, KC_SHARE_DIR "/vmlinux.container", KEY_PATH | ANN,
	    VALID(valid_kernel_paths)),
	STR(hypervisor, image, "", KEY_PATH | KEY_OPTIONAL | ANN, VALID(valid_image_paths)),
	STR(hypervisor, initrd, KC_SHARE_DIR "/kata-containers-initrd.img",
	    KEY_PATH | KEY_OPTIONAL | ANN, VALID(valid_initrd_paths)),
	STR(hypervisor, firmware, "", KEY_PATH | KEY_OPTIONAL | NI),
	STR(hypervisor, machine_type, "microvm", ANN, .choices = choices_machine),
	STR(hypervisor, machine_accelerators, "", ANN | NI),
	STR(hypervisor, cpu_features, "pmu=off", ANN | NI),
	STR(hypervisor, kernel_params,
	    "cgroup_no_v1=all lockdown=confidentiality percpu_alloc=page", ANN | KEY_KERNEL_PARAMS),
	STR(hypervisor, accel, "auto", 0, .choices = choices_accel),
	STRV(hypervisor, valid_hypervisor_paths, def_hypervisor_paths, 0),
	STRV(hypervisor, valid_kernel_paths, def_kernel_paths, 0),
	STRV(hypervisor, valid_initrd_paths, def_kernel_paths, 0),
	STRV(hypervisor, valid_image_paths, def_kernel_paths, 0),
	STRV(hypervisor, valid_virtio_fs_daemon_paths, def_fsd_paths, 0),
	STRV(hypervisor, valid_entropy_sources, def_entropy_sources, 0),
	STRV(hypervisor, enable_annotations, def_enable_annotations, 0),
	INT(hypervisor, default_vcpus, 1, 1, 240, ANN),
	INT(hypervisor, default_maxvcpus, 0, 0, 240, ANN, .annotation = "default_max_vcpus"),
	INT(hypervisor, default_memory, 2048, 64, INT64_C(1) << 32, ANN),
	INT(hypervisor, default_maxmemory, 0, 0, INT64_C(1) << 32, 0),
	INT(hypervisor, memory_slots, 10, 1, 256, ANN | NI),
	INT(hypervisor, default_bridges, 1, 0, 5, NI),
	STR(hypervisor, shared_fs, "virtio-fs", ANN | NI, .choices = choices_shared_fs),
	STR(hypervisor, virtio_fs_daemon, "/usr/lib/qemu/virtiofsd", KEY_PATH | ANN,
	    VALID(valid_virtio_fs_daemon_paths)),
	STRV(hypervisor, virtio_fs_extra_args, empty_strv, ANN),
	STR(hypervisor, virtio_fs_cache, "auto", ANN, .choices = choices_fs_cache),
	INT(hypervisor, virtio_fs_cache_size, 0, 0, INT64_C(1) << 20, ANN | NI),
	INT(hypervisor, virtio_fs_queue_size, 1024, 1, 32768, NI),
	STR(hypervisor, block_device_driver, "virtio-blk", ANN | NI, .choices = choices_block_driver),
	STR(hypervisor, block_device_aio, "io_uring", NI, .choices = choices_aio),
	BOOL(hypervisor, disable_block_device_use, true, ANN | NI),
	BOOL(hypervisor, enable_iommu, false, ANN | NI),
	BOOL(hypervisor, enable_iommu_platform, false, ANN | NI),
	BOOL(hypervisor, enable_hugepages, false, ANN | NI),
	BOOL(hypervisor, enable_mem_prealloc, false, ANN | NI),
	BOOL(hypervisor, enable_virtio_mem, false, ANN | NI),
	BOOL(hypervisor, disable_vhost_net, false, ANN),
	BOOL(hypervisor, disable_selinux, false, 0),
	BOOL(hypervisor, disable_guest_selinux, true, NI),
	BOOL(hypervisor, enable_debug, false, 0),
	BOOL(hypervisor, enable_guest_swap, false, NI),
	BOOL(hypervisor, rootless, false, NI),
	STR(hypervisor, entropy_source, "/dev/urandom", KEY_PATH | KEY_OPTIONAL | ANN | NI,
	    VALID(valid_entropy_sources)),
	STR(hypervisor, hot_plug_vfio, "no-port", NI, .choices = choices_vfio_port),
	STR(hypervisor, cold_plug_vfio, "no-port", NI, .choices = choices_vfio_port),

	BOOL(agent, enable_debug, false, 0),
	BOOL(agent, enable_tracing, false, ANN | NI),
	BOOL(agent, debug_console_enabled, false, 0),
	STRV(agent, kernel_modules, empty_strv, ANN),
	INT(agent, dial_timeout, 45, 1, 3600, 0),
	INT(agent, container_pipe_size, 0, 0, INT64_C(1) << 30, ANN | NI),

	BOOL(runtime, enable_debug, false, 0),
	STR(runtime, internetworking_model, "tcfilter", ANN, .choices = choices_netmodel),
	BOOL(runtime, disable_new_netns, false, ANN),
	BOOL(runtime, sandbox_cgroup_only, false, ANN),
	BOOL(runtime, static_sandbox_resource_mgmt, false, 0),
	/* Kata's default is true; kata-c enforces a pod's seccomp profile
	 * in the guest, as runc does on the host. */
	BOOL(runtime, disable_guest_seccomp, false, ANN),
	BOOL(runtime, enable_tracing, false, NI),
	STR(runtime, jaeger_endpoint, "", NI),
	STR(runtime, jaeger_user, "", NI),
	STR(runtime, jaeger_password, "", NI | KEY_SECRET),
	STRV(runtime, sandbox_bind_mounts, empty_strv, NI),
	STR(runtime, vfio_mode, "guest-kernel", ANN | NI, .choices = choices_vfio_mode),
	BOOL(runtime, disable_guest_empty_dir, true, 0),
	STR(runtime, emptydir_mode, "shared-fs", 0, .choices = choices_emptydir),
	INT(runtime, create_container_timeout, 60, 1, 3600, ANN),
	BOOL(runtime, enable_pprof, false, ANN | NI),
	BOOL(runtime, enable_vcpus_pinning, false, NI),
	STRV(runtime, experimental, empty_strv, ANN | NI),

	BOOL(factory, enable_template, false, NI),
	STR(factory, template_path, "/run/vc/vm/template", NI),
	INT(factory, vm_cache_number, 0, 0, 1024, NI),
	STR(factory, vm_cache_endpoint, "/var/run/kata-containers/cache.sock", NI),
};

/* The only back ends this build knows; others are named in the error. */
static const char *const supported_hypervisors[] = { "qemu", NULL };
static const char *const supported_agents[] = { "kata", NULL };

static void *field(struct kc_config *cfg, const struct key_desc *k)
{
	return (char *)cfg + k->offset;
}

static const void *cfield(const struct kc_config *cfg, const struct key_desc *k)
{
	return (const char *)cfg + k->offset;
}

static void strv_free(struct kc_strv *v)
{
	kc_free_strv(v->v);
	v->v = NULL;
	v->n = 0;
}

static void strv_set(struct kc_strv *v, const char *const *src)
{
	size_t n = 0;

	strv_free(v);
	while (src[n])
		n++;
	v->v = kc_xzalloc((n + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++)
		v->v[i] = kc_xstrdup(src[i]);
	v->n = n;
}

static void strv_append(struct kc_strv *v, const char *s)
{
	v->v = kc_xrealloc(v->v, (v->n + 2) * sizeof(char *));
	v->v[v->n++] = kc_xstrdup(s);
	v->v[v->n] = NULL;
}

static void set_string(char **dst, const char *s)
{
	free(*dst);
	*dst = kc_xstrdup(s);
}

static void set_defaults(struct kc_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hypervisor.name = kc_xstrdup("qemu");
	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++) {
		const struct key_desc *k = &keys[i];
		void *f = field(cfg, k);

		switch (k->type) {
		case KEY_STRING:
			set_string(f, k->def_string);
			break;
		case KEY_BOOL:
			*(bool *)f = k->def_int != 0;
			break;
		case KEY_INT:
			*(int64_t *)f = k->def_int;
			break;
		case KEY_STRV:
			strv_set(f, k->def_strv);
			break;
		}
	}
}

void kc_config_free(struct kc_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++) {
		void *f = field(cfg, &keys[i]);

		if (keys[i].type == KEY_STRING) {
			free(*(char **)f);
			*(char **)f = NULL;
		} else if (keys[i].type == KEY_STRV) {
			strv_free(f);
		}
	}
	free(cfg->hypervisor.name);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

void kc_config_warnings_free(struct kc_config_warnings *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n; i++)
		free(w->lines[i]);
	free(w->lines);
	free(w->not_implemented);
	w->lines = NULL;
	w->not_implemented = NULL;
	w->n = 0;
}

/* Keeps a warning (takes line), or logs it where w is NULL. */
static void add_warning(struct kc_config_warnings *w, bool not_implemented, char *line)
{
	if (w == NULL) {
		kc_warn("%s", line);
		free(line);
		return;
	}
	w->lines = kc_xrealloc(w->lines, (w->n + 1) * sizeof(char *));
	w->not_implemented = kc_xrealloc(w->not_implemented, (w->n + 1) * sizeof(bool));
	w->lines[w->n] = line;
	w->not_implemented[w->n++] = not_implemented;
}

static void __attribute__((format(printf, 2, 3)))
warn(struct kc_config_warnings *w, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = kc_xvasprintf(fmt, ap);
	va_end(ap);
	add_warning(w, false, line);
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static char *join_list(const char *const *list)
{
	char *out = kc_xstrdup("");

	for (size_t i = 0; list[i]; i++) {
		char *n = kc_xasprintf("%s%s%s", out, i ? ", " : "", list[i]);
		free(out);
		out = n;
	}
	return out;
}

int kc_kernel_params_check(const char *params, kc_error_t *err)
{
	const char *p = params;

	while (*p) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c == '"')
				return kc_error_set(err, 0,
						    "kernel parameter `%.*s`: a quote is not "
						    "allowed (the kernel would join the rest of "
						    "the command line to it)",
						    (int)n, p);
			if (c < 0x20 || c == 0x7f)
				return kc_error_set(err, 0,
						    "kernel parameter `%.*s...`: control "
						    "character 0x%02x is not allowed",
						    (int)i, p, c);
		}
		p += n;
	}
	return 0;
}

/* Checks a string value against the key's rules (shared by the file and
 * by annotations, whose errors carry different prefixes). */
static int check_string(const struct key_desc *k, const char *s, const char *where,
			const char *keyname, kc_error_t *err)
{
	if ((k->flags & KEY_KERNEL_PARAMS) && kc_kernel_params_check(s, err) < 0)
		return kc_error_wrap(err, "%s%s", where, keyname);
	if (k->choices && !in_list(k->choices, s)) {
		cleanup_free char *list = join_list(k->choices);
		return kc_error_set(err, 0, "%s%s: `%s` is not one of: %s", where, keyname, s, list);
	}
	if ((k->flags & KEY_PATH) && s[0] != '\0' && s[0] != '/')
		return kc_error_set(err, 0, "%s%s: `%s` is not an absolute path", where, keyname, s);
	if ((k->flags & KEY_PATH) && !(k->flags & KEY_OPTIONAL) && s[0] == '\0')
		return kc_error_set(err, 0, "%s%s: a path is required", where, keyname);
	return 0;
}

static int check_int(const struct key_desc *k, int64_t v, const char *where, const char *keyname,
		     kc_error_t *err)
{
	if (v < k->min || v > k->max)
		return kc_error_set(err, 0,
				    "%s%s: %" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")",
				    where, keyname, v, k->min, k->max);
	return 0;
}

static const char *type_word(enum key_type t)
{
	switch (t) {
	case KEY_STRING:
		return "a string";
	case KEY_BOOL:
		return "a boolean (true or false)";
	case KEY_INT:
		return "an integer";
	case KEY_STRV:
		return "an array of strings";
	}
	return "?";
}

static int set_from_toml(struct kc_config *cfg, const struct key_desc *k,
			 const struct kc_toml_value *v, const char *file, const char *keyname,
			 kc_error_t *err)
{
	cleanup_free char *where = kc_xasprintf("%s:%u:%u: ", file, v->line, v->col);
	void *f = field(cfg, k);
	bool ok;

	switch (k->type) {
	case KEY_STRING:
		ok = v->type == KC_TOML_STRING;
		break;
	case KEY_BOOL:
		ok = v->type == KC_TOML_BOOL;
		break;
	case KEY_INT:
		ok = v->type == KC_TOML_INTEGER;
		break;
	case KEY_STRV:
		ok = v->type == KC_TOML_ARRAY;
		break;
	default:
		ok = false;
	}
	if (!ok)
		return kc_error_set(err, 0, "%s%s: expected %s, got %s", where, keyname,
				    type_word(k->type), kc_toml_type_name(v->type));

	switch (k->type) {
	case KEY_STRING:
		if (strlen(v->u.s.ptr) != v->u.s.len)
			return kc_error_set(err, 0, "%s%s: the string contains a NUL character",
					    where, keyname);
		if (check_string(k, v->u.s.ptr, where, keyname, err) < 0)
			return -1;
		set_string(f, v->u.s.ptr);
		break;
	case KEY_BOOL:
		*(bool *)f = v->u.b;
		break;
	case KEY_INT:
		if (check_int(k, v->u.i, where, keyname, err) < 0)
			return -1;
		*(int64_t *)f = v->u.i;
		break;
	case KEY_STRV: {
		struct kc_strv *sv = f;
		size_t n = kc_toml_array_len(v->u.array);

		strv_free(sv);
		sv->v = kc_xzalloc(sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			const struct kc_toml_value *item = kc_toml_array_get(v->u.array, i);

			if (item->type != KC_TOML_STRING || strlen(item->u.s.ptr) != item->u.s.len)
				return kc_error_set(
					err, 0, "%s:%u:%u: %s: item %zu: expected a string, got %s",
					file, item->line, item->col, keyname, i + 1,
					item->type == KC_TOML_STRING
						? "a string with a NUL character"
						: kc_toml_type_name(item->type));
			strv_append(sv, item->u.s.ptr);
		}
		break;
	}
	}
	return 0;
}

static bool strv_equal(const struct kc_strv *v, const char *const *list)
{
	size_t n = 0;

	for (; list[n]; n++)
		if (n >= v->n || strcmp(v->v[n], list[n]) != 0)
			return false;
	return n == v->n;
}

static bool is_default(const struct kc_config *cfg, const struct key_desc *k)
{
	const void *f = cfield(cfg, k);

	switch (k->type) {
	case KEY_STRING:
		return strcmp(*(char *const *)f, k->def_string) == 0;
	case KEY_BOOL:
		return *(const bool *)f == (k->def_int != 0);
	case KEY_INT:
		return *(const int64_t *)f == k->def_int;
	case KEY_STRV:
		return strv_equal(f, k->def_strv);
	}
	return false;
}

/* s as a TOML basic string, appended to out. */
static char *append_toml_string(char *out, const char *s)
{
	size_t len = strlen(out);
	char *r = kc_xmalloc(len + 6 * strlen(s) + 3), *p = r + len;

	memcpy(r, out, len);
	free(out);
	*p++ = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			*p++ = '\\';
			*p++ = (char)*c;
		} else if (*c < 0x20 || *c == 0x7f) {
			p += sprintf(p, "\\u%04x", *c);
		} else {
			*p++ = (char)*c;
		}
	}
	*p++ = '"';
	*p = '\0';
	return r;
}

/* A key's value as TOML, for messages. */
static char *value_text(const struct kc_config *cfg, const struct key_desc *k)
{
	const void *f = cfield(cfg, k);

	if (k->flags & KEY_SECRET)
		return kc_xstrdup("\"(not shown)\"");
	switch (k->type) {
	case KEY_STRING:
		return append_toml_string(kc_xstrdup(""), *(char *const *)f);
	case KEY_BOOL:
		return kc_xstrdup(*(const bool *)f ? "true" : "false");
	case KEY_INT:
		return kc_xasprintf("%" PRId64, *(const int64_t *)f);
	case KEY_STRV: {
		const struct kc_strv *sv = f;
		char *out = kc_xstrdup("[");

		for (size_t i = 0; i < sv->n; i++) {
			if (i) {
				char *n = kc_xasprintf("%s, ", out);
				free(out);
				out = n;
			}
			out = append_toml_string(out, sv->v[i]);
		}
		char *n = kc_xasprintf("%s]", out);
		free(out);
		return n;
	}
	}
	return kc_xstrdup("?");
}

/* The section as the file writes it: [hypervisor.qemu], [agent.kata]. */
static char *section_text(const struct kc_config *cfg, enum section sec)
{
	if (sec == SEC_HYPERVISOR)
		return kc_xasprintf("hypervisor.%s", cfg->hypervisor.name);
	if (sec == SEC_AGENT)
		return kc_xstrdup("agent.kata");
	return kc_xstrdup(section_names[sec]);
}

/* A key kata-c does not implement, set away from its default: a warning
 * that starts with where (`FILE:LINE:COL`, or the annotation). */
static void check_implemented(const struct kc_config *cfg, const struct key_desc *k,
			      const char *where, struct kc_config_warnings *w)
{
	if (!(k->flags & KEY_UNIMPLEMENTED) || is_default(cfg, k))
		return;
	cleanup_free char *sec = section_text(cfg, k->section);
	cleanup_free char *value = value_text(cfg, k);
	add_warning(w, true,
		    kc_xasprintf("%s: [%s] %s = %s: not implemented by kata-c (ignored)", where,
				 sec, k->name, value));
}

bool kc_config_key_implemented(const char *section, const char *key)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++)
		if (strcmp(section_names[keys[i].section], section) == 0 &&
		    strcmp(keys[i].name, key) == 0)
			return !(keys[i].flags & KEY_UNIMPLEMENTED);
	return false;
}

static const struct key_desc *find_key(enum section sec, const char *name)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++)
		if (keys[i].section == sec && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Loads the keys of one section table; `prefix` is the dotted section name
 * used in messages ("hypervisor.qemu"). */
static int load_section(struct kc_config *cfg, enum section sec, const struct kc_toml_table *t,
			const char *prefix, const char *file, struct kc_config_warnings *w,
			kc_error_t *err)
{
	for (size_t i = 0; i < kc_toml_table_len(t); i++) {
		const char *name = kc_toml_table_key(t, i);
		const struct kc_toml_value *v = kc_toml_table_value(t, i);
		const struct key_desc *k = find_key(sec, name);
		cleanup_free char *keyname = kc_xasprintf("%s.%s", prefix, name);

		if (k == NULL) {
			/* Kata's files carry many keys kata-c does not use yet. */
			warn(w, "%s:%u:%u: unknown key `%s` (ignored)", file, v->line, v->col,
			     keyname);
			continue;
		}
		if (set_from_toml(cfg, k, v, file, keyname, err) < 0)
			return -1;
		cleanup_free char *where = kc_xasprintf("%s:%u:%u", file, v->line, v->col);
		check_implemented(cfg, k, where, w);
	}
	return 0;
}

/* [hypervisor.NAME] and [agent.NAME]: exactly one named sub-table, which
 * must be one this build supports. */
static int load_named_section(struct kc_config *cfg, enum section sec,
			      const struct kc_toml_value *v, const char *const *supported,
			      const char *file, struct kc_config_warnings *w, kc_error_t *err)
{
	const char *secname = section_names[sec];
	const struct kc_toml_table *t;
	cleanup_free char *list = join_list(supported);
	size_t n;

	if (v->type != KC_TOML_TABLE)
		return kc_error_set(err, 0, "%s:%u:%u: `%s` must be a table such as [%s.%s]", file,
				    v->line, v->col, secname, secname, supported[0]);
	t = v->u.table;
	n = kc_toml_table_len(t);
	if (n == 0)
		return 0;
	if (n > 1) {
		const struct kc_toml_value *second = kc_toml_table_value(t, 1);
		return kc_error_set(
			err, 0, "%s:%u:%u: more than one [%s.*] section (`%s` and `%s`): keep one",
			file, second->line, second->col, secname, kc_toml_table_key(t, 0),
			kc_toml_table_key(t, 1));
	}
	const char *name = kc_toml_table_key(t, 0);
	const struct kc_toml_value *sub = kc_toml_table_value(t, 0);
	cleanup_free char *prefix = kc_xasprintf("%s.%s", secname, name);

	if (!in_list(supported, name))
		return kc_error_set(err, 0,
				    "%s:%u:%u: [%s] is not supported by kata-c (supported: %s)",
				    file, sub->line, sub->col, prefix, list);
	if (sub->type != KC_TOML_TABLE)
		return kc_error_set(err, 0, "%s:%u:%u: `%s` must be a table", file, sub->line,
				    sub->col, prefix);
	if (sec == SEC_HYPERVISOR)
		set_string(&cfg->hypervisor.name, name);
	return load_section(cfg, sec, sub->u.table, prefix, file, w, err);
}

/* Checks that involve more than one key. */
static int check_consistency(const struct kc_config *cfg, const char *file, kc_error_t *err)
{
	const struct kc_hypervisor_config *h = &cfg->hypervisor;

	if (h->image[0] != '\0' && h->initrd[0] != '\0')
		return kc_error_set(err, 0,
				    "%s: hypervisor.%s: both `image` and `initrd` are set: use one",
				    file, h->name);
	if (h->image[0] == '\0' && h->initrd[0] == '\0')
		return kc_error_set(err, 0,
				    "%s: hypervisor.%s: neither `image` nor `initrd` is set: set one",
				    file, h->name);
	if (h->default_maxvcpus != 0 && h->default_maxvcpus < h->default_vcpus)
		return kc_error_set(err, 0,
				    "%s: hypervisor.%s: default_maxvcpus (%" PRId64
				    ") is below default_vcpus (%" PRId64 ")",
				    file, h->name, h->default_maxvcpus, h->default_vcpus);
	if (h->default_maxmemory != 0 && h->default_maxmemory < h->default_memory)
		return kc_error_set(err, 0,
				    "%s: hypervisor.%s: default_maxmemory (%" PRId64
				    " MiB) is below default_memory (%" PRId64 " MiB)",
				    file, h->name, h->default_maxmemory, h->default_memory);
	return 0;
}

int kc_config_load_file(const char *path, struct kc_config *cfg,
			struct kc_config_warnings *warnings, kc_error_t *err)
{
	cleanup_toml struct kc_toml_table *root = NULL;
	int ret;

	set_defaults(cfg);
	cfg->path = kc_xstrdup(path);
	ret = kc_toml_parse_file(path, &root, err);
	if (ret < 0)
		goto fail;

	for (size_t i = 0; i < kc_toml_table_len(root); i++) {
		const char *name = kc_toml_table_key(root, i);
		const struct kc_toml_value *v = kc_toml_table_value(root, i);

		if (strcmp(name, "hypervisor") == 0) {
			ret = load_named_section(cfg, SEC_HYPERVISOR, v, supported_hypervisors,
						 path, warnings, err);
		} else if (strcmp(name, "agent") == 0) {
			ret = load_named_section(cfg, SEC_AGENT, v, supported_agents, path,
						 warnings, err);
		} else if (strcmp(name, "runtime") == 0 || strcmp(name, "factory") == 0) {
			enum section sec = name[0] == 'r' ? SEC_RUNTIME : SEC_FACTORY;
			if (v->type != KC_TOML_TABLE) {
				ret = kc_error_set(err, 0, "%s:%u:%u: `%s` must be a table [%s]",
						   path, v->line, v->col, name, name);
				goto fail;
			}
			ret = load_section(cfg, sec, v->u.table, name, path, warnings, err);
		} else {
			warn(warnings, "%s:%u:%u: unknown section or key `%s` (ignored)", path,
			     v->line, v->col, name);
			ret = 0;
		}
		if (ret < 0)
			goto fail;
	}
	ret = check_consistency(cfg, path, err);
	if (ret < 0)
		goto fail;
	return 0;

fail:
	kc_config_free(cfg);
	return ret;
}

int kc_config_find(const char *explicit_path, char **out, kc_error_t *err)
{
	const char *env = getenv("KATA_CONF_FILE");
	const char *candidates[] = {
		explicit_path,
		env && *env ? env : NULL,
		KC_ETC_DIR "/configuration.toml",
		KC_DEFAULTS_DIR "/configuration.toml",
	};
	cleanup_free char *tried = kc_xstrdup("");
	struct stat st;

	/* A path the user named must exist: falling back to another file
	 * would run with a configuration they did not ask for. */
	for (size_t i = 0; i < 2; i++) {
		if (candidates[i] == NULL)
			continue;
		if (stat(candidates[i], &st) < 0)
			return kc_error_set(err, errno, "configuration file `%s`%s", candidates[i],
					    i == 1 ? " (from KATA_CONF_FILE)" : "");
		*out = kc_xstrdup(candidates[i]);
		return 0;
	}
	for (size_t i = 2; i < KC_ARRAY_SIZE(candidates); i++) {
		char *n;

		if (stat(candidates[i], &st) == 0) {
			*out = kc_xstrdup(candidates[i]);
			return 0;
		}
		n = kc_xasprintf("%s%s`%s`", tried, *tried ? ", " : "", candidates[i]);
		free(tried);
		tried = n;
	}
	return kc_error_set(err, 0,
			    "no configuration file found: looked at %s (KATA_CONF_FILE is %s)",
			    tried, env && *env ? env : "unset");
}

int kc_config_load(const char *explicit_path, struct kc_config *cfg,
		   struct kc_config_warnings *warnings, kc_error_t *err)
{
	cleanup_free char *path = NULL;
	int ret = kc_config_find(explicit_path, &path, err);

	if (ret < 0)
		return ret;
	return kc_config_load_file(path, cfg, warnings, err);
}

int kc_config_check_paths(const struct kc_config *cfg, kc_error_t *err)
{
	const struct kc_hypervisor_config *h = &cfg->hypervisor;

	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++) {
		const struct key_desc *k = &keys[i];
		const char *p;
		struct stat st;

		if (!(k->flags & KEY_PATH))
			continue;
		p = *(char *const *)cfield(cfg, k);
		if (p[0] == '\0')
			continue;
		if (stat(p, &st) < 0)
			return kc_error_set(err, errno, "%s: %s.%s%s%s: `%s`", cfg->path,
					    section_names[k->section],
					    k->section == SEC_HYPERVISOR ? h->name : "",
					    k->section == SEC_HYPERVISOR ? "." : "", k->name, p);
	}
	return 0;
}

int kc_config_check_sizing(const struct kc_config *cfg, kc_error_t *err)
{
	const struct kc_hypervisor_config *h = &cfg->hypervisor;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct sysinfo si;

	if (ncpus > 0 && h->default_vcpus > ncpus)
		return kc_error_set(err, 0,
				    "%s: hypervisor.%s.default_vcpus: %" PRId64
				    " is more than the %ld CPUs of this host",
				    cfg->path, h->name, h->default_vcpus, ncpus);
	if (sysinfo(&si) == 0) {
		uint64_t host_mib = (uint64_t)si.totalram * si.mem_unit >> 20;
		if ((uint64_t)h->default_memory > host_mib)
			return kc_error_set(err, 0,
					    "%s: hypervisor.%s.default_memory: %" PRId64
					    " MiB is more than the %" PRIu64 " MiB of this host",
					    cfg->path, h->name, h->default_memory, host_mib);
	}
	return 0;
}

int kc_config_validate_host(const struct kc_config *cfg, kc_error_t *err)
{
	if (kc_config_check_paths(cfg, err) < 0)
		return -1;
	return kc_config_check_sizing(cfg, err);
}

/* enable_annotations entries are regular expressions, as in Kata; unlike
 * Kata's unanchored match we require the whole name to match so that
 * "kernel" does not silently also allow "kernel_params". */
static bool annotation_enabled(const struct kc_strv *list, const char *name)
{
	for (size_t i = 0; i < list->n; i++) {
		cleanup_free char *anchored = kc_xasprintf("^(%s)$", list->v[i]);
		regex_t re;
		bool match;

		if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0)
			continue;
		match = regexec(&re, name, 0, NULL, 0) == 0;
		regfree(&re);
		if (match)
			return true;
	}
	return false;
}

static bool path_allowed(const struct kc_strv *globs, const char *path)
{
	for (size_t i = 0; i < globs->n; i++)
		if (fnmatch(globs->v[i], path, FNM_PATHNAME) == 0)
			return true;
	return false;
}

static bool parse_bool(const char *s, bool *out)
{
	/* Go's strconv.ParseBool, which Kata uses for annotations. */
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True", NULL };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False", NULL };

	if (in_list(yes, s)) {
		*out = true;
		return true;
	}
	if (in_list(no, s)) {
		*out = false;
		return true;
	}
	return false;
}

static const struct key_desc *key_at_offset(size_t offset)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++)
		if (keys[i].offset == offset)
			return &keys[i];
	abort(); /* the key table names a field that has no row */
}

static int apply_annotation_value(struct kc_config *cfg, const struct key_desc *k,
				  const char *annotation, const char *value, kc_error_t *err)
{
	cleanup_free char *where = kc_xasprintf("annotation `%s`: ", annotation);
	void *f = field(cfg, k);

	switch (k->type) {
	case KEY_STRING:
		if (check_string(k, value, "annotation ", annotation, err) < 0)
			return -1;
		if (k->valid_paths) {
			const struct kc_strv *globs = (const void *)((char *)cfg + k->valid_paths);
			if (!path_allowed(globs, value))
				return kc_error_set(err, 0,
						    "%spath `%s` does not match hypervisor.%s.%s",
						    where, value, cfg->hypervisor.name,
						    key_at_offset(k->valid_paths)->name);
		}
		if (strcmp(k->name, "kernel_params") == 0) {
			/* Kata appends annotated kernel parameters to the configured ones. */
			char **s = f;
			char *n = kc_xasprintf("%s%s%s", *s, **s ? " " : "", value);
			free(*s);
			*s = n;
		} else {
			set_string(f, value);
		}
		return 0;
	case KEY_BOOL:
		if (!parse_bool(value, f))
			return kc_error_set(err, 0, "%s`%s` is not a boolean (true or false)",
					    where, value);
		return 0;
	case KEY_INT: {
		unsigned long long v;
		if (!kc_parse_u64(value, &v) || v > INT64_MAX)
			return kc_error_set(err, 0, "%s`%s` is not a non-negative integer", where,
					    value);
		if (check_int(k, (int64_t)v, "annotation ", annotation, err) < 0)
			return -1;
		*(int64_t *)f = (int64_t)v;
		return 0;
	}
	case KEY_STRV: {
		struct kc_strv *sv = f;

		strv_free(sv);
		sv->v = kc_xzalloc(sizeof(char *));
		if (strcmp(k->name, "kernel_modules") == 0) {
			/* Kata: "mod1 param=1; mod2" - modules separated by ';'. */
			cleanup_free char *copy = kc_xstrdup(value);
			char *save = NULL;
			for (char *tok = strtok_r(copy, ";", &save); tok;
			     tok = strtok_r(NULL, ";", &save)) {
				while (*tok == ' ')
					tok++;
				size_t len = strlen(tok);
				while (len > 0 && tok[len - 1] == ' ')
					tok[--len] = '\0';
				if (len > 0)
					strv_append(sv, tok);
			}
			return 0;
		}
		/* Other lists travel as JSON arrays of strings, as in Kata. */
		cleanup_json json_t *j = NULL;
		size_t i;
		json_t *item;
		if (kc_json_parse(value, strlen(value), annotation, &j, err) < 0)
			return -1;
		if (!json_is_array(j))
			return kc_error_set(err, 0, "%sexpected a JSON array of strings", where);
		json_array_foreach(j, i, item)
		{
			if (!json_is_string(item))
				return kc_error_set(err, 0, "%sitem %zu is not a string", where,
						    i + 1);
			strv_append(sv, json_string_value(item));
		}
		return 0;
	}
	}
	return -1;
}

int kc_config_apply_annotations(struct kc_config *cfg, const char *const *akeys,
				const char *const *values, size_t n, kc_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *a = akeys[i], *rest;
		const struct key_desc *k = NULL;
		enum section sec;

		if (strncmp(a, ANNOTATION_PREFIX, strlen(ANNOTATION_PREFIX)) != 0)
			continue;
		rest = a + strlen(ANNOTATION_PREFIX);
		if (strncmp(rest, "hypervisor.", 11) == 0) {
			sec = SEC_HYPERVISOR;
			rest += 11;
		} else if (strncmp(rest, "runtime.", 8) == 0) {
			sec = SEC_RUNTIME;
			rest += 8;
		} else if (strncmp(rest, "agent.", 6) == 0) {
			sec = SEC_AGENT;
			rest += 6;
		} else {
			return kc_error_set(err, 0,
					    "annotation `%s`: unknown configuration section", a);
		}
		/* As in Kata, only hypervisor keys are gated by enable_annotations. */
		if (sec == SEC_HYPERVISOR &&
		    !annotation_enabled(&cfg->hypervisor.enable_annotations, rest))
			return kc_error_set(err, 0,
					    "annotation `%s` is not allowed: `%s` is not in "
					    "hypervisor.%s.enable_annotations of %s",
					    a, rest, cfg->hypervisor.name,
					    cfg->path ? cfg->path : "the configuration");
		for (size_t j = 0; j < KC_ARRAY_SIZE(keys); j++) {
			const char *name = keys[j].annotation ? keys[j].annotation : keys[j].name;
			if (keys[j].section == sec && (keys[j].flags & KEY_ANNOTATION) &&
			    strcmp(name, rest) == 0) {
				k = &keys[j];
				break;
			}
		}
		if (k == NULL)
			return kc_error_set(
				err, 0, "annotation `%s`: kata-c does not support overriding `%s`",
				a, rest);
		if (apply_annotation_value(cfg, k, a, values[i], err) < 0)
			return -1;
		cleanup_free char *where = kc_xasprintf("annotation `%s`", a);
		check_implemented(cfg, k, where, NULL);
	}
	return check_consistency(cfg, "annotations", err);
}

json_t *kc_config_to_json(const struct kc_config *cfg)
{
	json_t *root = json_object();
	json_t *secs[KC_ARRAY_SIZE(section_names)];
	json_t *ni = json_array();

	json_object_set_new(root, "path", json_string(cfg->path ? cfg->path : ""));
	for (size_t s = 0; s < KC_ARRAY_SIZE(section_names); s++) {
		secs[s] = json_object();
		json_object_set_new(root, section_names[s], secs[s]);
	}
	json_object_set_new(secs[SEC_HYPERVISOR], "name", json_string(cfg->hypervisor.name));
	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++) {
		const struct key_desc *k = &keys[i];
		const void *f = cfield(cfg, k);
		json_t *v = NULL;

		switch (k->type) {
		case KEY_STRING:
			v = json_string(*(char *const *)f);
			break;
		case KEY_BOOL:
			v = json_boolean(*(const bool *)f);
			break;
		case KEY_INT:
			v = json_integer(*(const int64_t *)f);
			break;
		case KEY_STRV: {
			const struct kc_strv *sv = f;
			v = json_array();
			for (size_t j = 0; j < sv->n; j++)
				json_array_append_new(v, json_string(sv->v[j]));
			break;
		}
		}
		json_object_set_new(secs[k->section], k->name, v);
		if (k->flags & KEY_UNIMPLEMENTED) {
			cleanup_free char *name = kc_xasprintf("%s.%s", section_names[k->section],
							       k->name);
			json_array_append_new(ni, json_string(name));
		}
	}
	json_object_set_new(root, "not_implemented", ni);
	return root;
}
