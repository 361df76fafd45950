/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SANDBOX_PROM_H
#define KC_SANDBOX_PROM_H

/*
 * A sandbox's metrics in the Prometheus text exposition format 0.0.4, with
 * the families and labels of Kata's metrics design
 * (docs/design/kata-2-0-metrics.md; docs/metrics.md says which we have):
 *
 *   kata_shim_*        the shim's own process (host /proc)
 *   kata_hypervisor_*  QEMU's process, its network namespace's devices
 *   kata_virtiofsd_*   virtiofsd's process
 *   kata_agent_*, kata_guest_*
 *                      the agent's GetMetrics answer, checked and relabelled
 *
 * A struct kc_prom is one exposition being written: a family's HELP and
 * TYPE come once, followed by all of its samples; names, label names and
 * label values are checked or escaped here, so no caller can produce text
 * a scraper refuses.  Labels every sample should carry (the sandbox_id
 * kata-monitor adds when it aggregates pods) are set once with
 * kc_prom_const_label().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/procstat.h"
#include "lib/error.h"

enum kc_prom_type {
	KC_PROM_COUNTER,
	KC_PROM_GAUGE,
	KC_PROM_UNTYPED,
	KC_PROM_HISTOGRAM, /* samples through kc_prom_histogram() only */
};

/*
 * A histogram with Kata's buckets (prometheus.ExponentialBuckets(1, 2, 10):
 * upper bounds 1, 2, 4 ... 512, then +Inf), as Kata's shim times its RPCs
 * and agent calls in milliseconds.  Zero-initialise; not thread-safe.
 */
#define KC_PROM_HIST_BUCKETS 10
struct kc_prom_hist {
	uint64_t counts[KC_PROM_HIST_BUCKETS]; /* observations in (bound i-1, bound i] */
	uint64_t count; /* all observations, +Inf's too */
	double sum;
};

void kc_prom_hist_observe(struct kc_prom_hist *h, double v);

struct kc_prom;

struct kc_prom *kc_prom_new(void);
void kc_prom_free(struct kc_prom *p);
void kc_prom_freep(struct kc_prom **p);
#define cleanup_prom __attribute__((cleanup(kc_prom_freep)))

/* Adds name="value" to every sample written after this call (and refuses
 * the label where an agent's sample brings its own).  Call before the first
 * family. */
int kc_prom_const_label(struct kc_prom *p, const char *name, const char *value, kc_error_t *err);

/* Starts family `name` (a valid metric name, not started before in this
 * exposition): writes its HELP (unless help is NULL) and TYPE lines.  A
 * family started twice is EEXIST. */
int kc_prom_family(struct kc_prom *p, const char *name, const char *help, enum kc_prom_type type,
		   kc_error_t *err);

/* A sample of the family last started: labels is NULL or
 * { name1, value1, name2, value2, ..., NULL }. */
int kc_prom_sample(struct kc_prom *p, const char *const *labels, double value, kc_error_t *err);

/* The _bucket{le=...} (cumulative), _sum and _count samples of h, for the
 * histogram family last started; labels as kc_prom_sample's, without "le". */
int kc_prom_histogram(struct kc_prom *p, const char *const *labels, const struct kc_prom_hist *h,
		      kc_error_t *err);

/* The text so far (NUL-terminated, owned by p). */
const char *kc_prom_text(const struct kc_prom *p, size_t *len);

/* ---- Kata's families ---- */

enum kc_prom_proc {
	KC_PROM_SHIM, /* kata_shim_*: threads, proc_status, proc_stat, io_stat,
				 * fds and Go's process collector's process_* */
	KC_PROM_HYPERVISOR, /* kata_hypervisor_*: threads, proc_status, proc_stat,
				 * io_stat, fds */
	KC_PROM_VIRTIOFSD, /* kata_virtiofsd_*: the same five */
};

/* The process families of `who` from one reading of its /proc. */
int kc_prom_process(struct kc_prom *p, enum kc_prom_proc who, const struct kc_procstat *st,
		    kc_error_t *err);

/* kata_hypervisor_netdev{interface,item}: the hypervisor's /proc/PID/net/dev. */
int kc_prom_hypervisor_netdev(struct kc_prom *p, const struct kc_netdev_stat *devs, size_t n,
			      kc_error_t *err);

/* The pod's overhead as Kata's shim measures it: what the sandbox's host
 * cgroup used beyond what its containers used inside the guest, over an
 * interval (Kata samples one second apart). */
struct kc_pod_usage {
	uint64_t at_ns; /* CLOCK_MONOTONIC */
	uint64_t host_cpu_ns; /* the sandbox cgroup's cpu usage */
	uint64_t guest_cpu_ns; /* the sum of its containers' cpu usage */
	uint64_t host_mem_bytes; /* the sandbox cgroup's memory usage */
	uint64_t guest_mem_bytes; /* the sum of its containers' memory usage */
};

/* kata_shim_pod_overhead_cpu (percent of one cpu) and
 * kata_shim_pod_overhead_memory_in_bytes from two readings. */
int kc_prom_pod_overhead(struct kc_prom *p, const struct kc_pod_usage *before,
			 const struct kc_pod_usage *after, kc_error_t *err);

/* The agent's GetMetrics text (Grpc__Metrics.metrics), which comes from the
 * guest and is not trusted: only counter, gauge and untyped families named
 * kata_agent_* or kata_guest_* are kept (process_* and go_* become
 * kata_agent_process_*, kata_agent_go_*, as Kata's shim renames them);
 * kata_guest_meminfo's items take Kata's names (MemTotal -> mem_total);
 * anything else, a malformed line, a sample bringing a constant label,
 * more than 1 MiB of text or 16384 samples, is left out and counted in
 * *dropped (may be NULL).  Fails only where the writer does. */
int kc_prom_agent(struct kc_prom *p, const char *text, size_t len, size_t *dropped, kc_error_t *err);

/* Everything kata-c's shim exposes for one sandbox, in Kata's order: the
 * shim, the hypervisor, virtiofsd, the agent.  Process figures are read
 * here; a pid of 0 leaves that process out (the shim: 0 is this process). */
struct kc_prom_sandbox {
	pid_t shim_pid; /* 0: the calling process */
	pid_t hypervisor_pid; /* 0: no VM */
	pid_t virtiofsd_pid; /* 0: none */
	const char *agent_text; /* NULL: the agent did not answer */
	size_t agent_len;
	const struct kc_pod_usage *overhead[2]; /* before, after; NULL: not measured */
};

int kc_prom_render_sandbox(struct kc_prom *p, const struct kc_prom_sandbox *sb,
			   size_t *agent_dropped, kc_error_t *err);

/* ---- reading the format back ---- */

struct kc_prom_parsed_sample {
	char *name;
	size_t n_labels;
	char **label_names, **label_values;
	double value;
};

struct kc_prom_parsed_family {
	char *name, *help; /* help NULL: no HELP line */
	enum kc_prom_type type;
	bool typed; /* a TYPE line was seen */
	size_t n_samples;
	struct kc_prom_parsed_sample *samples;
};

struct kc_prom_parsed {
	size_t n_families;
	struct kc_prom_parsed_family *families;
	size_t dropped; /* lines left out (lenient parsing) */
};

/* Writes a parsed sample again for the family last started (kata-monitor
 * relays each shim's samples): its name is the family's (a histogram's
 * also with _bucket, _sum or _count, its le label kept), its labels are
 * followed by extra (NULL or { name, value, ..., NULL }).  A label named
 * twice, say a shim's sample that brings one of extra, is EINVAL. */
int kc_prom_relay(struct kc_prom *p, const struct kc_prom_parsed_sample *s,
		  const char *const *extra, kc_error_t *err);

/* Parses text format 0.0.4.  strict: the first malformed line, a family
 * whose HELP/TYPE repeat or whose samples are apart, a summary fail the
 * parse (the error names the line); otherwise such lines are dropped and
 * counted.  A histogram's _bucket, _sum and _count samples belong to its
 * family (their structure is not checked).  Limits: see kc_prom_agent. */
int kc_prom_parse(const char *text, size_t len, bool strict, struct kc_prom_parsed *out,
		  kc_error_t *err);
void kc_prom_parsed_free(struct kc_prom_parsed *parsed);

#endif
