/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata's metric families (docs/design/kata-2-0-metrics.md), with the names,
 * labels and help strings of Kata's Go runtime (virtcontainers'
 * sandbox_metrics.go, containerd-shim-v2's shim_metrics.go, pkg/utils'
 * metrics.go) so that dashboards written for Kata read kata-c's pods.
 *
 * Kata's shim also exposes Go's process collector, which kata-monitor
 * renames from process_* to kata_shim_process_*; kata-c writes the final
 * names itself, which is what kata-monitor passes through unchanged.
 */
#include <errno.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "prom.h"
#include "prom_internal.h"

static const struct {
	const char *ns, *threads, *status, *stat, *io, *fds;
} proc_help[] = {
	[KC_PROM_SHIM] = { "kata_shim", "Kata containerd shim v2 process threads.",
			   "Kata containerd shim v2 process status.",
			   "Kata containerd shim v2 process statistics.",
			   "Kata containerd shim v2 process IO statistics.",
			   "Kata containerd shim v2 open FDs." },
	[KC_PROM_HYPERVISOR] = { "kata_hypervisor", "Hypervisor process threads.",
				 "Hypervisor process status.", "Hypervisor process statistics.",
				 "Process IO statistics.", "Open FDs for hypervisor." },
	[KC_PROM_VIRTIOFSD] = { "kata_virtiofsd", "Virtiofsd process threads.",
				"Virtiofsd process status.", "Virtiofsd process statistics.",
				"Process IO statistics.", "Open FDs for virtiofsd." },
};

static int family(struct kc_prom *p, const char *ns, const char *name, const char *help,
		  enum kc_prom_type type, kc_error_t *err)
{
	cleanup_free char *full = kc_xasprintf("%s_%s", ns, name);

	return kc_prom_family(p, full, help, type, err);
}

static int one(struct kc_prom *p, const char *ns, const char *name, const char *help,
	       enum kc_prom_type type, double v, kc_error_t *err)
{
	int ret = family(p, ns, name, help, type, err);

	return ret < 0 ? ret : kc_prom_sample(p, NULL, v, err);
}

static int item(struct kc_prom *p, const char *item, double v, kc_error_t *err)
{
	const char *labels[] = { "item", item, NULL };

	return kc_prom_sample(p, labels, v, err);
}

/* Go's process collector, as kata_shim_process_*. */
static int process_collector(struct kc_prom *p, const struct kc_procstat *st, kc_error_t *err)
{
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	int ret;

	if (hz <= 0)
		hz = 100;
	if ((ret = one(p, "kata_shim", "process_cpu_seconds_total",
		       "Total user and system CPU time spent in seconds.", KC_PROM_COUNTER,
		       (double)(st->utime + st->stime) / (double)hz, err)) < 0 ||
	    (ret = one(p, "kata_shim", "process_max_fds", "Maximum number of open file descriptors.",
		       KC_PROM_GAUGE, (double)st->max_fds, err)) < 0 ||
	    (ret = one(p, "kata_shim", "process_open_fds", "Number of open file descriptors.",
		       KC_PROM_GAUGE, (double)st->fds, err)) < 0 ||
	    (ret = one(p, "kata_shim", "process_resident_memory_bytes",
		       "Resident memory size in bytes.", KC_PROM_GAUGE,
		       (double)st->rss_pages * (double)page, err)) < 0 ||
	    (ret = one(p, "kata_shim", "process_start_time_seconds",
		       "Start time of the process since unix epoch in seconds.", KC_PROM_GAUGE,
		       st->start_time_s, err)) < 0 ||
	    (ret = one(p, "kata_shim", "process_virtual_memory_bytes",
		       "Virtual memory size in bytes.", KC_PROM_GAUGE, (double)st->vsize, err)) < 0 ||
	    (ret = one(p, "kata_shim", "process_virtual_memory_max_bytes",
		       "Maximum amount of virtual memory available in bytes.", KC_PROM_GAUGE,
		       (double)st->max_address_space, err)) < 0)
		return ret;
	return 0;
}

int kc_prom_process(struct kc_prom *p, enum kc_prom_proc who, const struct kc_procstat *st,
		    kc_error_t *err)
{
	const char *ns;
	int ret;

	if ((unsigned)who >= KC_ARRAY_SIZE(proc_help))
		return kc_error_set(err, EINVAL, "metrics: no process kind %d", who);
	ns = proc_help[who].ns;
	if ((ret = one(p, ns, "threads", proc_help[who].threads, KC_PROM_GAUGE, (double)st->threads,
		       err)) < 0)
		return ret;

	/* Item names as pkg/utils' SetGaugeVecProcStatus writes them. */
	if ((ret = family(p, ns, "proc_status", proc_help[who].status, KC_PROM_GAUGE, err)) < 0)
		return ret;
#define S(name) \
	if ((ret = item(p, #name, (double)st->status.name, err)) < 0) \
	return ret
	S(vmpeak);
	S(vmsize);
	S(vmlck);
	S(vmpin);
	S(vmhwm);
	S(vmrss);
	S(rssanon);
	S(rssfile);
	S(rssshmem);
	S(vmdata);
	S(vmstk);
	S(vmexe);
	S(vmlib);
	S(vmpte);
	S(vmpmd);
	S(vmswap);
	S(hugetlbpages);
	S(voluntary_ctxt_switches);
	S(nonvoluntary_ctxt_switches);
#undef S

	if ((ret = family(p, ns, "proc_stat", proc_help[who].stat, KC_PROM_GAUGE, err)) < 0 ||
	    (ret = item(p, "utime", (double)st->utime, err)) < 0 ||
	    (ret = item(p, "stime", (double)st->stime, err)) < 0 ||
	    (ret = item(p, "cutime", (double)st->cutime, err)) < 0 ||
	    (ret = item(p, "cstime", (double)st->cstime, err)) < 0)
		return ret;

	/* The host side's io items are procfs' Go names, without the
	 * underscores of the agent's (read_bytes there, readbytes here). */
	if (st->has_io &&
	    ((ret = family(p, ns, "io_stat", proc_help[who].io, KC_PROM_GAUGE, err)) < 0 ||
	     (ret = item(p, "rchar", (double)st->io.rchar, err)) < 0 ||
	     (ret = item(p, "wchar", (double)st->io.wchar, err)) < 0 ||
	     (ret = item(p, "syscr", (double)st->io.syscr, err)) < 0 ||
	     (ret = item(p, "syscw", (double)st->io.syscw, err)) < 0 ||
	     (ret = item(p, "readbytes", (double)st->io.read_bytes, err)) < 0 ||
	     (ret = item(p, "writebytes", (double)st->io.write_bytes, err)) < 0 ||
	     (ret = item(p, "cancelledwritebytes", (double)st->io.cancelled_write_bytes, err)) < 0))
		return ret;

	if ((ret = one(p, ns, "fds", proc_help[who].fds, KC_PROM_GAUGE, (double)st->fds, err)) < 0)
		return ret;
	return who == KC_PROM_SHIM ? process_collector(p, st, err) : 0;
}

int kc_prom_hypervisor_netdev(struct kc_prom *p, const struct kc_netdev_stat *devs, size_t n,
			      kc_error_t *err)
{
	int ret = kc_prom_family(p, "kata_hypervisor_netdev", "Net devices statistics.",
				 KC_PROM_GAUGE, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		const struct kc_netdev_stat *d = &devs[i];
		const struct {
			const char *item;
			uint64_t v;
		} f[] = {
			{ "recv_bytes", d->rx_bytes },
			{ "recv_packets", d->rx_packets },
			{ "recv_errs", d->rx_errs },
			{ "recv_drop", d->rx_drop },
			{ "recv_compressed", d->rx_compressed },
			{ "recv_fifo", d->rx_fifo },
			{ "recv_frame", d->rx_frame },
			{ "recv_multicast", d->rx_multicast },
			{ "sent_bytes", d->tx_bytes },
			{ "sent_packets", d->tx_packets },
			{ "sent_errs", d->tx_errs },
			{ "sent_drop", d->tx_drop },
			{ "sent_colls", d->tx_colls },
			{ "sent_carrier", d->tx_carrier },
			{ "sent_compressed", d->tx_compressed },
			{ "sent_fifo", d->tx_fifo },
		};

		for (size_t j = 0; ret == 0 && j < KC_ARRAY_SIZE(f); j++) {
			const char *labels[] = { "interface", d->name, "item", f[j].item, NULL };

			ret = kc_prom_sample(p, labels, (double)f[j].v, err);
		}
	}
	return ret;
}

int kc_prom_pod_overhead(struct kc_prom *p, const struct kc_pod_usage *before,
			 const struct kc_pod_usage *after, kc_error_t *err)
{
	double dt, cpu, mem;
	int ret;

	if (after->at_ns <= before->at_ns)
		return kc_error_set(err, EINVAL, "metrics: pod overhead over an empty interval");
	dt = (double)(after->at_ns - before->at_ns);
	cpu = ((double)after->host_cpu_ns - (double)before->host_cpu_ns) / dt * 100 -
	      ((double)after->guest_cpu_ns - (double)before->guest_cpu_ns) / dt * 100;
	mem = (double)after->host_mem_bytes - (double)after->guest_mem_bytes;
	if ((ret = one(p, "kata_shim", "pod_overhead_cpu",
		       "Kata Pod overhead for CPU resources(percent).", KC_PROM_GAUGE, cpu, err)) < 0)
		return ret;
	return one(p, "kata_shim", "pod_overhead_memory_in_bytes",
		   "Kata Pod overhead for memory resources(bytes).", KC_PROM_GAUGE, mem, err);
}

/* ---- the agent's text ---- */

/* kata_guest_meminfo's items as Kata's agent names them (the fields of
 * the procfs crate's Meminfo). */
static const char *const meminfo_items[] = {
	"mem_total",
	"mem_free",
	"mem_available",
	"buffers",
	"cached",
	"swap_cached",
	"active",
	"inactive",
	"active_anon",
	"inactive_anon",
	"active_file",
	"inactive_file",
	"unevictable",
	"mlocked",
	"high_total",
	"high_free",
	"low_total",
	"low_free",
	"mmap_copy",
	"swap_total",
	"swap_free",
	"dirty",
	"writeback",
	"anon_pages",
	"mapped",
	"shmem",
	"slab",
	"s_reclaimable",
	"s_unreclaim",
	"kernel_stack",
	"page_tables",
	"quicklists",
	"nfs_unstable",
	"bounce",
	"writeback_tmp",
	"commit_limit",
	"committed_as",
	"vmalloc_total",
	"vmalloc_used",
	"vmalloc_chunk",
	"hardware_corrupted",
	"anon_hugepages",
	"shmem_hugepages",
	"shmem_pmd_mapped",
	"cma_total",
	"cma_free",
	"hugepages_total",
	"hugepages_free",
	"hugepages_rsvd",
	"hugepages_surp",
	"hugepagesize",
	"direct_map_4k",
	"direct_map_4M",
	"direct_map_2M",
	"direct_map_1G",
	"hugetlb",
	"per_cpu",
	"k_reclaimable",
};

/* Letters and digits only, lower case: "Active(anon)", "Active_anon_" and
 * "active_anon" all read "activeanon"; /proc/meminfo's keys and Kata's
 * items correspond one to one that way. */
static bool same_key(const char *a, const char *b)
{
	for (;;) {
		while (*a && !isalnum((unsigned char)*a))
			a++;
		while (*b && !isalnum((unsigned char)*b))
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (tolower((unsigned char)*a++) != tolower((unsigned char)*b++))
			return false;
	}
}

static const char *meminfo_item(const char *key)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(meminfo_items); i++)
		if (same_key(key, meminfo_items[i]))
			return meminfo_items[i];
	return NULL;
}

/* The family's name on our side, NULL to leave it out. */
static char *agent_family_name(const char *name)
{
	if (strncmp(name, "process_", 8) == 0 || strncmp(name, "go_", 3) == 0)
		return kc_xasprintf("kata_agent_%s", name);
	if ((strncmp(name, "kata_agent_", 11) == 0 && name[11]) ||
	    (strncmp(name, "kata_guest_", 11) == 0 && name[11]))
		return kc_xstrdup(name);
	return NULL;
}

/* A sample's labels as kc_prom_sample takes them, NULL to leave it out. */
static const char **agent_labels(struct kc_prom *p, const struct kc_prom_parsed_sample *s,
				 bool meminfo)
{
	const char **labels = kc_xzalloc((2 * s->n_labels + 1) * sizeof(char *));
	bool has_item = false;

	for (size_t i = 0; i < s->n_labels; i++) {
		const char *value = s->label_values[i];

		if (kc_prom_is_const_label(p, s->label_names[i]))
			goto drop; /* the guest may not say which sandbox it is */
		if (meminfo && strcmp(s->label_names[i], "item") == 0) {
			value = meminfo_item(value);
			if (!value)
				goto drop;
			has_item = true;
		}
		labels[2 * i] = s->label_names[i];
		labels[2 * i + 1] = value;
	}
	if (meminfo && !has_item)
		goto drop;
	return labels;
drop:
	free(labels);
	return NULL;
}

static int agent_family(struct kc_prom *p, const struct kc_prom_parsed_family *f, size_t *dropped,
			kc_error_t *err)
{
	cleanup_free char *name = agent_family_name(f->name);
	cleanup_free const char ***labels = NULL;
	bool meminfo, started = false;
	int ret = 0;

	/* Kata's agent sends no histograms, and their buckets would need
	 * checking of their own. */
	if (!name || !f->n_samples || f->type == KC_PROM_HISTOGRAM) {
		*dropped += f->n_samples;
		return 0;
	}
	meminfo = strcmp(name, "kata_guest_meminfo") == 0;
	labels = kc_xzalloc(f->n_samples * sizeof(*labels));
	for (size_t i = 0; i < f->n_samples; i++)
		labels[i] = agent_labels(p, &f->samples[i], meminfo);
	for (size_t i = 0; i < f->n_samples && ret == 0; i++) {
		if (!labels[i]) {
			(*dropped)++;
			continue;
		}
		if (!started) {
			ret = kc_prom_family(p, name, f->help, f->type, err);
			if (ret == -EEXIST) {
				/* Already written (by the host side, or an
				 * earlier call): not the guest's to add to. */
				kc_error_free(err);
				*dropped += f->n_samples;
				ret = 0;
				break;
			}
			started = true;
		}
		if (ret == 0)
			ret = kc_prom_sample(p, labels[i], f->samples[i].value, err);
	}
	for (size_t i = 0; i < f->n_samples; i++)
		free(labels[i]);
	return ret;
}

int kc_prom_agent(struct kc_prom *p, const char *text, size_t len, size_t *dropped, kc_error_t *err)
{
	struct kc_prom_parsed parsed;
	size_t n_dropped;
	int ret;

	ret = kc_prom_parse(text, len, false, &parsed, err);
	if (ret < 0)
		return ret;
	n_dropped = parsed.dropped;
	for (size_t i = 0; i < parsed.n_families && ret == 0; i++)
		ret = agent_family(p, &parsed.families[i], &n_dropped, err);
	kc_prom_parsed_free(&parsed);
	if (dropped)
		*dropped = n_dropped;
	return ret;
}

/* ---- one sandbox ---- */

static int render_process(struct kc_prom *p, enum kc_prom_proc who, const char *what, pid_t pid,
			  kc_error_t *err)
{
	struct kc_procstat st;
	int ret = kc_procstat_read(pid, &st, err);

	if (ret == 0)
		ret = kc_prom_process(p, who, &st, err);
	if (ret == 0 && who == KC_PROM_HYPERVISOR) {
		cleanup_free struct kc_netdev_stat *devs = NULL;
		size_t n = 0;

		ret = kc_procstat_netdev(pid, &devs, &n, err);
		if (ret == 0)
			ret = kc_prom_hypervisor_netdev(p, devs, n, err);
	}
	if (ret < 0)
		kc_error_wrap(err, "metrics of the %s", what);
	return ret;
}

int kc_prom_render_sandbox(struct kc_prom *p, const struct kc_prom_sandbox *sb,
			   size_t *agent_dropped, kc_error_t *err)
{
	int ret;

	if (agent_dropped)
		*agent_dropped = 0;
	if ((ret = render_process(p, KC_PROM_SHIM, "shim", sb->shim_pid, err)) < 0)
		return ret;
	if (sb->overhead[0] && sb->overhead[1] &&
	    (ret = kc_prom_pod_overhead(p, sb->overhead[0], sb->overhead[1], err)) < 0)
		return ret;
	if (sb->hypervisor_pid &&
	    (ret = render_process(p, KC_PROM_HYPERVISOR, "hypervisor", sb->hypervisor_pid, err)) < 0)
		return ret;
	if (sb->virtiofsd_pid &&
	    (ret = render_process(p, KC_PROM_VIRTIOFSD, "virtiofsd", sb->virtiofsd_pid, err)) < 0)
		return ret;
	if (sb->agent_text)
		return kc_prom_agent(p, sb->agent_text, sb->agent_len, agent_dropped, err);
	return 0;
}
