/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's StatsContainerResponse as containerd's cgroups v1 Metrics,
 * field for field as Kata's shim converts it:
 *
 *   cpu_usage total/kernelmode/usermode/percpu -> cpu.usage total/kernel/user/per_cpu
 *   throttling_data                            -> cpu.throttling
 *   memory usage/swap_usage/kernel_usage       -> memory.usage/swap/kernel
 *     {usage, max_usage, failcnt, limit}          {usage, max, failcnt, limit}
 *   memory cache                               -> memory.cache
 *   memory stats (memory.stat)                 -> memory's named counters, below
 *   pids current/limit                         -> pids (a limit of "max",
 *                                                 2^64-1, is 0: none, as v1)
 *   blkio's eight recursive lists              -> blkio's, entry by entry
 *   hugetlb_stats[size]                        -> hugetlb {pagesize = size}
 *   network_stats                              -> network
 *
 * memory.stat's keys are cgroup v1's ("rss", "total_rss"...) when the guest
 * is v1; ours is cgroup v2, whose keys differ ("anon", "file_mapped"...)
 * and whose counts cover the cgroup's subtree: a counter takes its v1 key,
 * else its v2 equivalent (for the total_* counters too, v2's being
 * hierarchical already).  A counter with neither stays 0.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "metrics.h"

typedef Io__Containerd__Cgroups__V1__Metrics metrics_t;
typedef Io__Containerd__Cgroups__V1__MemoryStat memory_t;
typedef Io__Containerd__Cgroups__V1__MemoryEntry memory_entry_t;
typedef Io__Containerd__Cgroups__V1__BlkIOEntry blkio_entry_t;
typedef Io__Containerd__Cgroups__V1__CPUStat cpu_t;
typedef Io__Containerd__Cgroups__V1__PidsStat pids_t;
typedef Io__Containerd__Cgroups__V1__BlkIOStat blkio_t;

static void *new_msg(const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = kc_xmalloc(desc->sizeof_message);

	protobuf_c_message_init(desc, m);
	return m;
}

/* ---- cpu, pids ---- */

static cpu_t *cpu(const Grpc__CpuStats *in)
{
	cpu_t *c = new_msg(&io__containerd__cgroups__v1__cpustat__descriptor);
	const Grpc__CpuUsage *u = in->cpu_usage;
	const Grpc__ThrottlingData *t = in->throttling_data;

	/* Always both: ctr reads cpu.usage whenever cpu is set. */
	c->usage = new_msg(&io__containerd__cgroups__v1__cpuusage__descriptor);
	c->throttling = new_msg(&io__containerd__cgroups__v1__throttle__descriptor);
	if (u) {
		c->usage->total = u->total_usage;
		c->usage->kernel = u->usage_in_kernelmode;
		c->usage->user = u->usage_in_usermode;
		if (u->n_percpu_usage) {
			c->usage->per_cpu = kc_xmalloc(u->n_percpu_usage * sizeof(uint64_t));
			memcpy(c->usage->per_cpu, u->percpu_usage,
			       u->n_percpu_usage * sizeof(uint64_t));
			c->usage->n_per_cpu = u->n_percpu_usage;
		}
	}
	if (t) {
		c->throttling->periods = t->periods;
		c->throttling->throttled_periods = t->throttled_periods;
		c->throttling->throttled_time = t->throttled_time;
	}
	return c;
}

static pids_t *pids(const Grpc__PidsStats *in)
{
	pids_t *p = new_msg(&io__containerd__cgroups__v1__pids_stat__descriptor);

	p->current = in->current;
	p->limit = in->limit == UINT64_MAX ? 0 : in->limit;
	return p;
}

/* ---- memory ---- */

static memory_entry_t *memory_entry(const Grpc__MemoryData *in)
{
	memory_entry_t *e = new_msg(&io__containerd__cgroups__v1__memory_entry__descriptor);

	if (in) {
		e->limit = in->limit;
		e->usage = in->usage;
		e->max = in->max_usage;
		e->failcnt = in->failcnt;
	}
	return e;
}

#define COUNTER(field, v1, v2) \
	{ \
		offsetof(memory_t, field), v1, v2 \
	}
static const struct {
	size_t off;
	const char *v1, *v2; /* memory.stat keys; v2 NULL: none */
} counters[] = {
	COUNTER(rss, "rss", "anon"),
	COUNTER(rss_huge, "rss_huge", "anon_thp"),
	COUNTER(mapped_file, "mapped_file", "file_mapped"),
	COUNTER(dirty, "dirty", "file_dirty"),
	COUNTER(writeback, "writeback", "file_writeback"),
	COUNTER(pg_pg_in, "pgpgin", NULL),
	COUNTER(pg_pg_out, "pgpgout", NULL),
	COUNTER(pg_fault, "pgfault", "pgfault"),
	COUNTER(pg_maj_fault, "pgmajfault", "pgmajfault"),
	COUNTER(inactive_anon, "inactive_anon", "inactive_anon"),
	COUNTER(active_anon, "active_anon", "active_anon"),
	COUNTER(inactive_file, "inactive_file", "inactive_file"),
	COUNTER(active_file, "active_file", "active_file"),
	COUNTER(unevictable, "unevictable", "unevictable"),
	COUNTER(hierarchical_memory_limit, "hierarchical_memory_limit", NULL),
	COUNTER(hierarchical_swap_limit, "hierarchical_memsw_limit", NULL),
	COUNTER(total_cache, "total_cache", "file"),
	COUNTER(total_rss, "total_rss", "anon"),
	COUNTER(total_rss_huge, "total_rss_huge", "anon_thp"),
	COUNTER(total_mapped_file, "total_mapped_file", "file_mapped"),
	COUNTER(total_dirty, "total_dirty", "file_dirty"),
	COUNTER(total_writeback, "total_writeback", "file_writeback"),
	COUNTER(total_pg_pg_in, "total_pgpgin", NULL),
	COUNTER(total_pg_pg_out, "total_pgpgout", NULL),
	COUNTER(total_pg_fault, "total_pgfault", "pgfault"),
	COUNTER(total_pg_maj_fault, "total_pgmajfault", "pgmajfault"),
	COUNTER(total_inactive_anon, "total_inactive_anon", "inactive_anon"),
	COUNTER(total_active_anon, "total_active_anon", "active_anon"),
	COUNTER(total_inactive_file, "total_inactive_file", "inactive_file"),
	COUNTER(total_active_file, "total_active_file", "active_file"),
	COUNTER(total_unevictable, "total_unevictable", "unevictable"),
};
#undef COUNTER

static const Grpc__MemoryStats__StatsEntry *stat_find(const Grpc__MemoryStats *in, const char *key)
{
	for (size_t i = 0; key && i < in->n_stats; i++)
		if (in->stats[i]->key && strcmp(in->stats[i]->key, key) == 0)
			return in->stats[i];
	return NULL;
}

static memory_t *memory(const Grpc__MemoryStats *in)
{
	memory_t *m = new_msg(&io__containerd__cgroups__v1__memory_stat__descriptor);

	m->cache = in->cache;
	/* Always set: ctr reads memory.usage whenever memory is set. */
	m->usage = memory_entry(in->usage);
	m->swap = memory_entry(in->swap_usage);
	m->kernel = memory_entry(in->kernel_usage);
	for (size_t i = 0; i < KC_ARRAY_SIZE(counters); i++) {
		const Grpc__MemoryStats__StatsEntry *e = stat_find(in, counters[i].v1);

		if (!e)
			e = stat_find(in, counters[i].v2);
		if (e)
			*(uint64_t *)((char *)m + counters[i].off) = e->value;
	}
	return m;
}

/* ---- blkio, hugetlb, network ---- */

static void blkio_list(size_t n, Grpc__BlkioStatsEntry *const *in, size_t *n_out,
		       blkio_entry_t ***out)
{
	if (!n)
		return;
	*out = kc_xmalloc(n * sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		blkio_entry_t *e = new_msg(&io__containerd__cgroups__v1__blk_ioentry__descriptor);

		e->op = kc_xstrdup(in[i]->op ? in[i]->op : "");
		e->major = in[i]->major;
		e->minor = in[i]->minor;
		e->value = in[i]->value;
		(*out)[i] = e;
	}
	*n_out = n;
}

static blkio_t *blkio(const Grpc__BlkioStats *in)
{
	blkio_t *b = new_msg(&io__containerd__cgroups__v1__blk_iostat__descriptor);

#define LIST(f) blkio_list(in->n_##f, in->f, &b->n_##f, &b->f)
	LIST(io_service_bytes_recursive);
	LIST(io_serviced_recursive);
	LIST(io_queued_recursive);
	LIST(io_service_time_recursive);
	LIST(io_wait_time_recursive);
	LIST(io_merged_recursive);
	LIST(io_time_recursive);
	LIST(sectors_recursive);
#undef LIST
	return b;
}

static void hugetlb(const Grpc__CgroupStats *in, metrics_t *m)
{
	if (!in->n_hugetlb_stats)
		return;
	m->hugetlb = kc_xmalloc(in->n_hugetlb_stats * sizeof(*m->hugetlb));
	for (size_t i = 0; i < in->n_hugetlb_stats; i++) {
		const Grpc__CgroupStats__HugetlbStatsEntry *e = in->hugetlb_stats[i];
		Io__Containerd__Cgroups__V1__HugetlbStat *h = new_msg(
			&io__containerd__cgroups__v1__hugetlb_stat__descriptor);

		h->pagesize = kc_xstrdup(e->key ? e->key : "");
		if (e->value) {
			h->usage = e->value->usage;
			h->max = e->value->max_usage;
			h->failcnt = e->value->failcnt;
		}
		m->hugetlb[i] = h;
	}
	m->n_hugetlb = in->n_hugetlb_stats;
}

static void network(const Grpc__StatsContainerResponse *r, metrics_t *m)
{
	if (!r->n_network_stats)
		return;
	m->network = kc_xmalloc(r->n_network_stats * sizeof(*m->network));
	for (size_t i = 0; i < r->n_network_stats; i++) {
		const Grpc__NetworkStats *in = r->network_stats[i];
		Io__Containerd__Cgroups__V1__NetworkStat *n = new_msg(
			&io__containerd__cgroups__v1__network_stat__descriptor);

		n->name = kc_xstrdup(in->name ? in->name : "");
		n->rx_bytes = in->rx_bytes;
		n->rx_packets = in->rx_packets;
		n->rx_errors = in->rx_errors;
		n->rx_dropped = in->rx_dropped;
		n->tx_bytes = in->tx_bytes;
		n->tx_packets = in->tx_packets;
		n->tx_errors = in->tx_errors;
		n->tx_dropped = in->tx_dropped;
		m->network[i] = n;
	}
	m->n_network = r->n_network_stats;
}

metrics_t *shim_metrics_from_stats(const Grpc__StatsContainerResponse *r)
{
	metrics_t *m = new_msg(&io__containerd__cgroups__v1__metrics__descriptor);
	const Grpc__CgroupStats *cg = r->cgroup_stats;

	if (cg) {
		hugetlb(cg, m);
		if (cg->pids_stats)
			m->pids = pids(cg->pids_stats);
		if (cg->cpu_stats)
			m->cpu = cpu(cg->cpu_stats);
		if (cg->memory_stats)
			m->memory = memory(cg->memory_stats);
		if (cg->blkio_stats)
			m->blkio = blkio(cg->blkio_stats);
	}
	network(r, m);
	return m;
}

void shim_metrics_pack(const Grpc__StatsContainerResponse *r, Google__Protobuf__Any *any)
{
	metrics_t *m = shim_metrics_from_stats(r);
	size_t len = protobuf_c_message_get_packed_size(&m->base);

	/* The bare full name, as containerd's typeurl registers it. */
	any->type_url = (char *)io__containerd__cgroups__v1__metrics__descriptor.name;
	any->value.data = kc_xmalloc(len ? len : 1);
	any->value.len = protobuf_c_message_pack(&m->base, any->value.data);
	protobuf_c_message_free_unpacked(&m->base, NULL);
}
