/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_OCI_SPEC_H
#define KC_OCI_SPEC_H

/*
 * The OCI runtime spec (config.json) as C structs.
 *
 * kc_oci_spec_parse() validates strictly: a known field of the wrong type,
 * an impossible value (unknown capability, rlimit, namespace, seccomp
 * action, negative memory limit...) is an error whose message starts with
 * the field's path, e.g.
 *     process.rlimits[2].type: unknown rlimit "RLIMIT_FOO"
 * Unknown fields are tolerated, as the spec requires of runtimes.  A JSON
 * null counts as an absent field (Go's encoding/json writes them).
 *
 * The layer knows nothing of libseccomp or libcap: names are turned into
 * the kernel's numbers (capabilities, rlimits, clone flags, mount flags)
 * or into this header's enums, so the parser can be fuzzed on its own.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

/* The five capability sets of process.capabilities. */
enum kc_oci_capset {
	KC_OCI_CAP_BOUNDING,
	KC_OCI_CAP_EFFECTIVE,
	KC_OCI_CAP_INHERITABLE,
	KC_OCI_CAP_PERMITTED,
	KC_OCI_CAP_AMBIENT,
	KC_OCI_CAP_NSETS,
};

struct kc_oci_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

struct kc_oci_user {
	uint32_t uid, gid;
	bool has_umask;
	uint32_t umask;
	uint32_t *additional_gids;
	size_t n_additional_gids;
};

struct kc_oci_process {
	bool terminal;
	bool has_console_size;
	uint32_t console_height, console_width;
	struct kc_oci_user user;
	char **args; /* at least one */
	char **env; /* never NULL */
	char *cwd; /* absolute; "/" when absent */
	bool has_caps; /* process.capabilities present */
	uint64_t caps[KC_OCI_CAP_NSETS]; /* bit n = capability n */
	struct kc_oci_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_no_new_privileges; /* process.noNewPrivileges present */
	bool has_oom_score_adj;
	int oom_score_adj;
};

/* A mount: options already split into flags and filesystem data. */
struct kc_oci_mount {
	char *destination; /* absolute, inside the rootfs */
	char *type; /* "bind" for bind mounts without a type */
	char *source; /* may be NULL */
	unsigned long flags; /* MS_* set by options */
	unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (| MS_REC) or 0 */
	bool bind, recursive;
	char *data; /* options the kernel's filesystem takes ("size=64k,mode=755"), or NULL */
};

struct kc_oci_namespace {
	int type; /* CLONE_NEW* */
	char *path; /* join this one, or NULL to create */
};

struct kc_oci_idmap {
	uint32_t container_id, host_id, size;
};

struct kc_oci_device {
	char *path; /* absolute, inside the rootfs */
	char type; /* 'c', 'b', 'u' or 'p' */
	int64_t major, minor;
	bool has_mode, has_uid, has_gid;
	uint32_t mode, uid, gid;
};

enum kc_oci_seccomp_action {
	KC_OCI_SCMP_KILL, /* kill the thread (SCMP_ACT_KILL, _KILL_THREAD) */
	KC_OCI_SCMP_KILL_PROCESS,
	KC_OCI_SCMP_TRAP,
	KC_OCI_SCMP_ERRNO,
	KC_OCI_SCMP_TRACE,
	KC_OCI_SCMP_ALLOW,
	KC_OCI_SCMP_LOG,
	KC_OCI_SCMP_NOTIFY,
};

enum kc_oci_seccomp_op {
	KC_OCI_SCMP_CMP_NE,
	KC_OCI_SCMP_CMP_LT,
	KC_OCI_SCMP_CMP_LE,
	KC_OCI_SCMP_CMP_EQ,
	KC_OCI_SCMP_CMP_GE,
	KC_OCI_SCMP_CMP_GT,
	KC_OCI_SCMP_CMP_MASKED_EQ,
};

struct kc_oci_seccomp_arg {
	uint32_t index; /* 0..5 */
	uint64_t value, value_two;
	enum kc_oci_seccomp_op op;
};

struct kc_oci_seccomp_rule {
	char **names; /* at least one */
	enum kc_oci_seccomp_action action;
	bool has_errno;
	uint32_t errno_ret;
	struct kc_oci_seccomp_arg *args;
	size_t n_args;
};

struct kc_oci_seccomp {
	enum kc_oci_seccomp_action default_action;
	bool has_default_errno;
	uint32_t default_errno;
	char **architectures; /* "SCMP_ARCH_X86_64"...; checked by name */
	char **flags; /* "SECCOMP_FILTER_FLAG_LOG"... */
	struct kc_oci_seccomp_rule *rules;
	size_t n_rules;
};

struct kc_oci_hook {
	char *path; /* absolute */
	char **args; /* never NULL; empty means { path } */
	char **env; /* never NULL */
	int timeout; /* seconds, 0 for none */
};

enum kc_oci_hook_kind {
	KC_OCI_HOOK_PRESTART,
	KC_OCI_HOOK_CREATE_RUNTIME,
	KC_OCI_HOOK_CREATE_CONTAINER,
	KC_OCI_HOOK_START_CONTAINER,
	KC_OCI_HOOK_POSTSTART,
	KC_OCI_HOOK_POSTSTOP,
	KC_OCI_HOOK_NKINDS,
};

/* The parts of linux.resources that the guest applies; `set` bits say
 * which were present.  Limits of -1 mean unlimited. */
struct kc_oci_resources {
	bool has_memory_limit, has_memory_reservation, has_memory_swap, has_swappiness;
	int64_t memory_limit, memory_reservation, memory_swap;
	uint64_t swappiness;
	bool has_cpu_shares, has_cpu_quota, has_cpu_period;
	uint64_t cpu_shares, cpu_period;
	int64_t cpu_quota;
	char *cpus, *mems; /* cpuset lists, or NULL */
	bool has_pids_limit;
	int64_t pids_limit;
	json_t *json; /* the whole object (a reference), for what is not above */
};

struct kc_oci_linux {
	struct kc_oci_namespace *namespaces;
	size_t n_namespaces;
	struct kc_oci_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	struct kc_oci_device *devices;
	size_t n_devices;
	bool has_resources;
	struct kc_oci_resources resources;
	char *cgroups_path; /* or NULL */
	unsigned long rootfs_propagation; /* MS_* or 0 */
	char **masked_paths, **readonly_paths; /* never NULL */
	char **sysctl_keys, **sysctl_values; /* never NULL, same length */
	struct kc_oci_seccomp *seccomp; /* or NULL */
};

struct kc_oci_spec {
	char *oci_version;
	struct kc_oci_process *process; /* NULL when absent (allowed by the spec) */
	char *root_path; /* NULL when absent */
	bool root_readonly;
	char *hostname, *domainname; /* or NULL */
	struct kc_oci_mount *mounts;
	size_t n_mounts;
	struct kc_oci_hook *hooks[KC_OCI_HOOK_NKINDS];
	size_t n_hooks[KC_OCI_HOOK_NKINDS];
	char **annotation_keys, **annotation_values; /* never NULL */
	struct kc_oci_linux lnx; /* zeroed lists when "linux" is absent */
};

/* Parses config.json text into a new spec; *err on failure names the field.
 * `what` prefixes syntax errors ("oci spec:1:2: invalid JSON..."). */
int kc_oci_spec_parse(const char *buf, size_t len, struct kc_oci_spec **out, kc_error_t *err);
void kc_oci_spec_free(struct kc_oci_spec *s);

/* Parses an OCI process object alone (ExecProcess's process_json). */
int kc_oci_process_parse(const char *buf, size_t len, struct kc_oci_process **out, kc_error_t *err);
void kc_oci_process_free(struct kc_oci_process *p);

/* Parses a linux.resources object alone (UpdateContainer); *out is filled,
 * release it with kc_oci_resources_clear(). */
int kc_oci_resources_parse(const char *buf, size_t len, struct kc_oci_resources *out,
			   kc_error_t *err);
void kc_oci_resources_clear(struct kc_oci_resources *r);

/* Names and numbers, shared with the agent's logs and the tests. */
int kc_oci_cap_from_name(const char *name); /* -1 if unknown */
const char *kc_oci_cap_name(int cap); /* NULL if unknown */
int kc_oci_rlimit_from_name(const char *name); /* -1 if unknown */
const char *kc_oci_hook_kind_name(enum kc_oci_hook_kind k);

#define cleanup_oci_spec __attribute__((cleanup(kc_oci_spec_freep)))
static inline void kc_oci_spec_freep(struct kc_oci_spec **s)
{
	if (*s)
		kc_oci_spec_free(*s);
	*s = NULL;
}

#endif
