/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_CONFIG_H
#define KC_CONFIG_H

/*
 * kata-c's configuration: Kata's configuration.toml, same keys, same
 * defaults, same lookup order.
 *
 * Lookup order (the first file that exists wins):
 *   1. the path the caller passes (containerd's ConfigPath runtime option,
 *      or `kata-runtime --config`),
 *   2. $KATA_CONF_FILE,
 *   3. /etc/kata-containers/configuration.toml,
 *   4. /usr/share/defaults/kata-containers/configuration.toml.
 * Every key is described once, in config.c's key table: its section, type,
 * default, the field it fills and the annotation that may override it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct kc_strv {
	char **v; /* NULL-terminated */
	size_t n;
};

struct kc_hypervisor_config {
	char *name; /* the NAME of [hypervisor.NAME]: "qemu" */
	char *path;
	char *kernel;
	char *image;
	char *initrd;
	char *firmware;
	char *machine_type;
	char *machine_accelerators;
	char *cpu_features;
	char *kernel_params;
	char *accel; /* kata-c: "auto" (probe), "kvm" or "tcg" */
	struct kc_strv valid_hypervisor_paths;
	struct kc_strv valid_kernel_paths;
	struct kc_strv valid_initrd_paths;
	struct kc_strv valid_image_paths;
	struct kc_strv valid_virtio_fs_daemon_paths;
	struct kc_strv valid_entropy_sources;
	struct kc_strv enable_annotations;
	int64_t default_vcpus;
	int64_t default_maxvcpus;
	int64_t default_memory; /* MiB */
	int64_t default_maxmemory; /* MiB, 0 = host memory */
	int64_t memory_slots;
	int64_t default_bridges;
	char *shared_fs;
	char *virtio_fs_daemon;
	struct kc_strv virtio_fs_extra_args;
	char *virtio_fs_cache;
	int64_t virtio_fs_cache_size;
	int64_t virtio_fs_queue_size;
	char *block_device_driver;
	char *block_device_aio;
	bool disable_block_device_use;
	bool enable_iommu;
	bool enable_iommu_platform;
	bool enable_hugepages;
	bool enable_mem_prealloc;
	bool enable_virtio_mem;
	bool disable_vhost_net;
	bool disable_selinux;
	bool disable_guest_selinux;
	bool enable_debug;
	bool enable_guest_swap;
	bool rootless;
	char *entropy_source;
	char *hot_plug_vfio;
	char *cold_plug_vfio;
};

struct kc_agent_config {
	bool enable_debug;
	bool enable_tracing;
	bool debug_console_enabled;
	struct kc_strv kernel_modules;
	int64_t dial_timeout; /* seconds */
	int64_t container_pipe_size;
};

struct kc_runtime_config {
	bool enable_debug;
	char *internetworking_model;
	bool disable_new_netns;
	bool sandbox_cgroup_only;
	bool static_sandbox_resource_mgmt;
	bool disable_guest_seccomp;
	bool enable_tracing;
	char *jaeger_endpoint;
	char *jaeger_user;
	char *jaeger_password;
	struct kc_strv sandbox_bind_mounts;
	char *vfio_mode;
	bool disable_guest_empty_dir;
	char *emptydir_mode;
	int64_t create_container_timeout; /* seconds */
	bool enable_pprof;
	bool enable_vcpus_pinning;
	struct kc_strv experimental;
};

struct kc_factory_config {
	bool enable_template;
	char *template_path;
	int64_t vm_cache_number;
	char *vm_cache_endpoint;
};

struct kc_config {
	char *path; /* the file it was loaded from */
	struct kc_hypervisor_config hypervisor;
	struct kc_agent_config agent;
	struct kc_runtime_config runtime;
	struct kc_factory_config factory;
};

/*
 * What the load noticed but did not refuse: one line each.  Unknown keys,
 * and keys kata-c reads but does not implement set to a value other than
 * their default (`FILE:LINE:COL: [section] key = VALUE: not implemented by
 * kata-c (ignored)`); not_implemented[i] tells the second kind, which
 * `kata-runtime check --strict` refuses.
 */
struct kc_config_warnings {
	char **lines;
	bool *not_implemented;
	size_t n;
};

/* Finds the configuration file: explicit_path (may be NULL), then the
 * lookup order above.  A miss names every path tried. */
int kc_config_find(const char *explicit_path, char **out, kc_error_t *err);

/* Parses and validates one file.  Unknown keys, and not-implemented keys
 * set to another value than their default, become warnings (may be NULL:
 * then they are logged).  Type errors and invalid values are errors that
 * name file:line:col and the key. */
int kc_config_load_file(const char *path, struct kc_config *cfg,
			struct kc_config_warnings *warnings, kc_error_t *err);

/* kc_config_find() + kc_config_load_file(). */
int kc_config_load(const char *explicit_path, struct kc_config *cfg,
		   struct kc_config_warnings *warnings, kc_error_t *err);

/* Checks values against the host: absolute paths that exist, vcpus within
 * host CPUs, memory within host memory.  Separate from loading so that
 * `kata-runtime env` can show a configuration this host cannot run. */
int kc_config_validate_host(const struct kc_config *cfg, kc_error_t *err);
/* Its two halves: every configured path exists; vCPUs and memory fit. */
int kc_config_check_paths(const struct kc_config *cfg, kc_error_t *err);
int kc_config_check_sizing(const struct kc_config *cfg, kc_error_t *err);

/*
 * Applies `io.katacontainers.config.*` annotations (keys and values as in
 * an OCI spec).  Hypervisor keys must be allowed by the hypervisor's
 * enable_annotations (exact names or regular expressions, as in Kata), and
 * path values must match the valid_*_paths globs; anything else is an error
 * naming the annotation.  Annotations outside that prefix are ignored.  An
 * annotation that sets a not-implemented key to another value than its
 * default is a warning in the log, as the same key in the file would be.
 */
int kc_config_apply_annotations(struct kc_config *cfg, const char *const *keys,
				const char *const *values, size_t n, kc_error_t *err);

/*
 * Words for the guest kernel's command line (kernel_params, its
 * annotation): each is `word` or `key=value`, separated by spaces.  A
 * quote is refused (the kernel would take the rest of the line into one
 * argument, which init then gets as argv), and so is a control character;
 * the error names the word.  Bare words are fine: the kernel consumes its
 * own (`quiet`, `nokaslr`) and passes the others to init, which ignores
 * them.
 */
int kc_kernel_params_check(const char *params, kc_error_t *err);

/* Whether kata-c implements a key (section "hypervisor", "agent", "runtime"
 * or "factory"; a key it does not know is not implemented either). */
bool kc_config_key_implemented(const char *section, const char *key);

/* The resolved configuration as JSON (for `kata-runtime env`), with
 * "not_implemented": every key kata-c reads but ignores, "section.key". */
struct json_t;
struct json_t *kc_config_to_json(const struct kc_config *cfg);

void kc_config_free(struct kc_config *cfg);
void kc_config_warnings_free(struct kc_config_warnings *w);

#endif
