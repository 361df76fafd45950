/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Task.Stats' conversion (src/shim/metrics.c): an agent
 * StatsContainerResponse with every field set goes over the wire, is
 * converted and packed into the Any, and is decoded back as
 * io.containerd.cgroups.v1.Metrics; every mapped field is checked, and a
 * few packed bytes against containerd's field numbers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "metrics.h"

typedef Io__Containerd__Cgroups__V1__Metrics metrics_t;

/* The response as the shim gets it: packed by the agent, unpacked. */
static Grpc__StatsContainerResponse *over_the_wire(const Grpc__StatsContainerResponse *r)
{
	size_t len = protobuf_c_message_get_packed_size(&r->base);
	uint8_t *buf = malloc(len ? len : 1);
	Grpc__StatsContainerResponse *out;

	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(&r->base, buf), len);
	out = grpc__stats_container_response__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(out);
	return out;
}

/* Converted, packed into the Any, decoded back. */
static metrics_t *convert(const Grpc__StatsContainerResponse *r)
{
	Grpc__StatsContainerResponse *in = over_the_wire(r);
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	metrics_t *m;

	shim_metrics_pack(in, &any);
	protobuf_c_message_free_unpacked(&in->base, NULL);
	assert_string_equal(any.type_url, "io.containerd.cgroups.v1.Metrics");
	m = io__containerd__cgroups__v1__metrics__unpack(NULL, any.value.len, any.value.data);
	free(any.value.data);
	assert_non_null(m);
	return m;
}

static Grpc__MemoryStats__StatsEntry stat_entries[] = {
	/* cgroup v2 keys (our guest) */
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "anon", 1001 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "file", 1002 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "anon_thp", 1003 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "file_mapped",
	  1004 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "file_dirty", 1005 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "file_writeback",
	  1006 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "pgfault", 1009 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "pgmajfault", 1010 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "inactive_anon",
	  1011 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "active_anon",
	  1012 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "inactive_file",
	  1013 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "active_file",
	  1014 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "unevictable",
	  1015 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "slab", 1099 },
};

static Grpc__MemoryStats__StatsEntry v1_entries[] = {
	/* cgroup v1 keys win over v2 ones; v1-only counters */
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "anon", 9 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "rss", 2001 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "total_rss", 2019 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "pgpgin", 2007 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "pgpgout", 2008 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "total_pgpgin",
	  2024 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "total_pgpgout",
	  2025 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor), "total_cache",
	  2018 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor),
	  "hierarchical_memory_limit", 2016 },
	{ PROTOBUF_C_MESSAGE_INIT(&grpc__memory_stats__stats_entry__descriptor),
	  "hierarchical_memsw_limit", 2017 },
};

static void test_every_field(void **state)
{
	uint64_t percpu[] = { 11, 12, 13 };
	Grpc__CpuUsage cu = GRPC__CPU_USAGE__INIT;
	Grpc__ThrottlingData td = GRPC__THROTTLING_DATA__INIT;
	Grpc__CpuStats cs = GRPC__CPU_STATS__INIT;
	Grpc__MemoryData mu = GRPC__MEMORY_DATA__INIT, ms = GRPC__MEMORY_DATA__INIT,
			 mk = GRPC__MEMORY_DATA__INIT;
	Grpc__MemoryStats mem = GRPC__MEMORY_STATS__INIT;
	Grpc__MemoryStats__StatsEntry *entries[KC_ARRAY_SIZE(stat_entries)];
	Grpc__PidsStats ps = GRPC__PIDS_STATS__INIT;
	Grpc__BlkioStatsEntry be[8][2];
	Grpc__BlkioStatsEntry *bl[8][2];
	Grpc__BlkioStats bs = GRPC__BLKIO_STATS__INIT;
	Grpc__HugetlbStats h2 = GRPC__HUGETLB_STATS__INIT, h1g = GRPC__HUGETLB_STATS__INIT;
	Grpc__CgroupStats__HugetlbStatsEntry he[2] = {
		GRPC__CGROUP_STATS__HUGETLB_STATS_ENTRY__INIT,
		GRPC__CGROUP_STATS__HUGETLB_STATS_ENTRY__INIT
	};
	Grpc__CgroupStats__HugetlbStatsEntry *hl[2] = { &he[0], &he[1] };
	Grpc__NetworkStats ns = GRPC__NETWORK_STATS__INIT;
	Grpc__NetworkStats *nl[1] = { &ns };
	Grpc__CgroupStats cg = GRPC__CGROUP_STATS__INIT;
	Grpc__StatsContainerResponse r = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	metrics_t *m;
	size_t *n_lists[8];
	Grpc__BlkioStatsEntry ***lists[8];

	(void)state;
	cu.total_usage = 101;
	cu.usage_in_kernelmode = 102;
	cu.usage_in_usermode = 103;
	cu.percpu_usage = percpu;
	cu.n_percpu_usage = 3;
	td.periods = 104;
	td.throttled_periods = 105;
	td.throttled_time = 106;
	cs.cpu_usage = &cu;
	cs.throttling_data = &td;

	mu = (Grpc__MemoryData){ mu.base, .usage = 201, .max_usage = 202, .failcnt = 203,
				 .limit = 204 };
	ms = (Grpc__MemoryData){ ms.base, .usage = 211, .max_usage = 212, .failcnt = 213,
				 .limit = 214 };
	mk = (Grpc__MemoryData){ mk.base, .usage = 221, .max_usage = 222, .failcnt = 223,
				 .limit = 224 };
	mem.cache = 231;
	mem.usage = &mu;
	mem.swap_usage = &ms;
	mem.kernel_usage = &mk;
	mem.use_hierarchy = true;
	for (size_t i = 0; i < KC_ARRAY_SIZE(stat_entries); i++)
		entries[i] = &stat_entries[i];
	mem.stats = entries;
	mem.n_stats = KC_ARRAY_SIZE(stat_entries);

	ps.current = 3;
	ps.limit = 300;

	n_lists[0] = &bs.n_io_service_bytes_recursive;
	lists[0] = &bs.io_service_bytes_recursive;
	n_lists[1] = &bs.n_io_serviced_recursive;
	lists[1] = &bs.io_serviced_recursive;
	n_lists[2] = &bs.n_io_queued_recursive;
	lists[2] = &bs.io_queued_recursive;
	n_lists[3] = &bs.n_io_service_time_recursive;
	lists[3] = &bs.io_service_time_recursive;
	n_lists[4] = &bs.n_io_wait_time_recursive;
	lists[4] = &bs.io_wait_time_recursive;
	n_lists[5] = &bs.n_io_merged_recursive;
	lists[5] = &bs.io_merged_recursive;
	n_lists[6] = &bs.n_io_time_recursive;
	lists[6] = &bs.io_time_recursive;
	n_lists[7] = &bs.n_sectors_recursive;
	lists[7] = &bs.sectors_recursive;
	for (int l = 0; l < 8; l++) {
		for (int i = 0; i < 2; i++) {
			grpc__blkio_stats_entry__init(&be[l][i]);
			be[l][i].major = 250 + (unsigned)l;
			be[l][i].minor = (unsigned)i;
			be[l][i].op = i ? "Write" : "Read";
			be[l][i].value = 1000u * (unsigned)l + (unsigned)i;
			bl[l][i] = &be[l][i];
		}
		*n_lists[l] = 2;
		*lists[l] = bl[l];
	}

	h2 = (Grpc__HugetlbStats){ h2.base, .usage = 401, .max_usage = 402, .failcnt = 403 };
	h1g = (Grpc__HugetlbStats){ h1g.base, .usage = 411, .max_usage = 412, .failcnt = 413 };
	he[0].key = "2MB";
	he[0].value = &h2;
	he[1].key = "1GB";
	he[1].value = &h1g;

	ns = (Grpc__NetworkStats){ ns.base,	      .name = "eth0",	 .rx_bytes = 501,
				   .rx_packets = 502, .rx_errors = 503,	 .rx_dropped = 504,
				   .tx_bytes = 505,   .tx_packets = 506, .tx_errors = 507,
				   .tx_dropped = 508 };

	cg.cpu_stats = &cs;
	cg.memory_stats = &mem;
	cg.pids_stats = &ps;
	cg.blkio_stats = &bs;
	cg.hugetlb_stats = hl;
	cg.n_hugetlb_stats = 2;
	r.cgroup_stats = &cg;
	r.network_stats = nl;
	r.n_network_stats = 1;

	m = convert(&r);

	/* cpu */
	assert_non_null(m->cpu);
	assert_non_null(m->cpu->usage);
	assert_int_equal(m->cpu->usage->total, 101);
	assert_int_equal(m->cpu->usage->kernel, 102);
	assert_int_equal(m->cpu->usage->user, 103);
	assert_int_equal(m->cpu->usage->n_per_cpu, 3);
	assert_int_equal(m->cpu->usage->per_cpu[0], 11);
	assert_int_equal(m->cpu->usage->per_cpu[1], 12);
	assert_int_equal(m->cpu->usage->per_cpu[2], 13);
	assert_non_null(m->cpu->throttling);
	assert_int_equal(m->cpu->throttling->periods, 104);
	assert_int_equal(m->cpu->throttling->throttled_periods, 105);
	assert_int_equal(m->cpu->throttling->throttled_time, 106);

	/* memory: the entries */
	assert_non_null(m->memory);
	assert_non_null(m->memory->usage);
	assert_int_equal(m->memory->usage->usage, 201);
	assert_int_equal(m->memory->usage->max, 202);
	assert_int_equal(m->memory->usage->failcnt, 203);
	assert_int_equal(m->memory->usage->limit, 204);
	assert_non_null(m->memory->swap);
	assert_int_equal(m->memory->swap->usage, 211);
	assert_int_equal(m->memory->swap->max, 212);
	assert_int_equal(m->memory->swap->failcnt, 213);
	assert_int_equal(m->memory->swap->limit, 214);
	assert_non_null(m->memory->kernel);
	assert_int_equal(m->memory->kernel->usage, 221);
	assert_int_equal(m->memory->kernel->max, 222);
	assert_int_equal(m->memory->kernel->failcnt, 223);
	assert_int_equal(m->memory->kernel->limit, 224);
	assert_null(m->memory->kernel_tcp);
	/* memory: the counters, from cgroup v2's keys */
	assert_int_equal(m->memory->cache, 231);
	assert_int_equal(m->memory->rss, 1001);
	assert_int_equal(m->memory->total_rss, 1001);
	assert_int_equal(m->memory->total_cache, 1002);
	assert_int_equal(m->memory->rss_huge, 1003);
	assert_int_equal(m->memory->total_rss_huge, 1003);
	assert_int_equal(m->memory->mapped_file, 1004);
	assert_int_equal(m->memory->total_mapped_file, 1004);
	assert_int_equal(m->memory->dirty, 1005);
	assert_int_equal(m->memory->total_dirty, 1005);
	assert_int_equal(m->memory->writeback, 1006);
	assert_int_equal(m->memory->total_writeback, 1006);
	assert_int_equal(m->memory->pg_fault, 1009);
	assert_int_equal(m->memory->total_pg_fault, 1009);
	assert_int_equal(m->memory->pg_maj_fault, 1010);
	assert_int_equal(m->memory->total_pg_maj_fault, 1010);
	assert_int_equal(m->memory->inactive_anon, 1011);
	assert_int_equal(m->memory->total_inactive_anon, 1011);
	assert_int_equal(m->memory->active_anon, 1012);
	assert_int_equal(m->memory->total_active_anon, 1012);
	assert_int_equal(m->memory->inactive_file, 1013);
	assert_int_equal(m->memory->total_inactive_file, 1013);
	assert_int_equal(m->memory->active_file, 1014);
	assert_int_equal(m->memory->total_active_file, 1014);
	assert_int_equal(m->memory->unevictable, 1015);
	assert_int_equal(m->memory->total_unevictable, 1015);
	/* v1-only counters: none in v2 */
	assert_int_equal(m->memory->pg_pg_in, 0);
	assert_int_equal(m->memory->pg_pg_out, 0);
	assert_int_equal(m->memory->total_pg_pg_in, 0);
	assert_int_equal(m->memory->total_pg_pg_out, 0);
	assert_int_equal(m->memory->hierarchical_memory_limit, 0);
	assert_int_equal(m->memory->hierarchical_swap_limit, 0);

	/* pids */
	assert_non_null(m->pids);
	assert_int_equal(m->pids->current, 3);
	assert_int_equal(m->pids->limit, 300);

	/* blkio: all eight lists, entry by entry */
	{
		Io__Containerd__Cgroups__V1__BlkIOStat *b = m->blkio;
		size_t n[8];
		Io__Containerd__Cgroups__V1__BlkIOEntry **e[8];

		assert_non_null(b);
		n[0] = b->n_io_service_bytes_recursive;
		e[0] = b->io_service_bytes_recursive;
		n[1] = b->n_io_serviced_recursive;
		e[1] = b->io_serviced_recursive;
		n[2] = b->n_io_queued_recursive;
		e[2] = b->io_queued_recursive;
		n[3] = b->n_io_service_time_recursive;
		e[3] = b->io_service_time_recursive;
		n[4] = b->n_io_wait_time_recursive;
		e[4] = b->io_wait_time_recursive;
		n[5] = b->n_io_merged_recursive;
		e[5] = b->io_merged_recursive;
		n[6] = b->n_io_time_recursive;
		e[6] = b->io_time_recursive;
		n[7] = b->n_sectors_recursive;
		e[7] = b->sectors_recursive;
		for (int l = 0; l < 8; l++) {
			assert_int_equal(n[l], 2);
			for (int i = 0; i < 2; i++) {
				assert_int_equal(e[l][i]->major, 250 + l);
				assert_int_equal(e[l][i]->minor, i);
				assert_string_equal(e[l][i]->op, i ? "Write" : "Read");
				assert_string_equal(e[l][i]->device, "");
				assert_int_equal(e[l][i]->value, 1000 * l + i);
			}
		}
	}

	/* hugetlb, in the agent's order */
	assert_int_equal(m->n_hugetlb, 2);
	assert_string_equal(m->hugetlb[0]->pagesize, "2MB");
	assert_int_equal(m->hugetlb[0]->usage, 401);
	assert_int_equal(m->hugetlb[0]->max, 402);
	assert_int_equal(m->hugetlb[0]->failcnt, 403);
	assert_string_equal(m->hugetlb[1]->pagesize, "1GB");
	assert_int_equal(m->hugetlb[1]->usage, 411);
	assert_int_equal(m->hugetlb[1]->max, 412);
	assert_int_equal(m->hugetlb[1]->failcnt, 413);

	/* network */
	assert_int_equal(m->n_network, 1);
	assert_string_equal(m->network[0]->name, "eth0");
	assert_int_equal(m->network[0]->rx_bytes, 501);
	assert_int_equal(m->network[0]->rx_packets, 502);
	assert_int_equal(m->network[0]->rx_errors, 503);
	assert_int_equal(m->network[0]->rx_dropped, 504);
	assert_int_equal(m->network[0]->tx_bytes, 505);
	assert_int_equal(m->network[0]->tx_packets, 506);
	assert_int_equal(m->network[0]->tx_errors, 507);
	assert_int_equal(m->network[0]->tx_dropped, 508);

	protobuf_c_message_free_unpacked(&m->base, NULL);
}

/* A v1 guest's keys win over v2's; its v1-only counters are taken. */
static void test_v1_keys(void **state)
{
	Grpc__MemoryStats__StatsEntry *entries[KC_ARRAY_SIZE(v1_entries)];
	Grpc__MemoryStats mem = GRPC__MEMORY_STATS__INIT;
	Grpc__CgroupStats cg = GRPC__CGROUP_STATS__INIT;
	Grpc__StatsContainerResponse r = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	metrics_t *m;

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(v1_entries); i++)
		entries[i] = &v1_entries[i];
	mem.stats = entries;
	mem.n_stats = KC_ARRAY_SIZE(v1_entries);
	cg.memory_stats = &mem;
	r.cgroup_stats = &cg;
	m = convert(&r);
	assert_non_null(m->memory);
	assert_int_equal(m->memory->rss, 2001);
	assert_int_equal(m->memory->total_rss, 2019);
	assert_int_equal(m->memory->pg_pg_in, 2007);
	assert_int_equal(m->memory->pg_pg_out, 2008);
	assert_int_equal(m->memory->total_pg_pg_in, 2024);
	assert_int_equal(m->memory->total_pg_pg_out, 2025);
	assert_int_equal(m->memory->total_cache, 2018);
	assert_int_equal(m->memory->hierarchical_memory_limit, 2016);
	assert_int_equal(m->memory->hierarchical_swap_limit, 2017);
	/* Sections the agent left out stay out, but memory's entries are
	 * there (ctr reads memory.usage whenever memory is set). */
	assert_non_null(m->memory->usage);
	assert_int_equal(m->memory->usage->usage, 0);
	assert_non_null(m->memory->swap);
	assert_non_null(m->memory->kernel);
	assert_null(m->cpu);
	assert_null(m->pids);
	assert_null(m->blkio);
	assert_int_equal(m->n_hugetlb, 0);
	assert_int_equal(m->n_network, 0);
	protobuf_c_message_free_unpacked(&m->base, NULL);
}

/* pids.max "max" (2^64-1 from the agent) is v1's 0: no limit; a cpu
 * section without its parts still has both (ctr reads cpu.usage). */
static void test_no_limits(void **state)
{
	Grpc__PidsStats ps = GRPC__PIDS_STATS__INIT;
	Grpc__CpuStats cs = GRPC__CPU_STATS__INIT;
	Grpc__CgroupStats cg = GRPC__CGROUP_STATS__INIT;
	Grpc__StatsContainerResponse r = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	metrics_t *m;

	(void)state;
	ps.current = 1;
	ps.limit = UINT64_MAX;
	cg.pids_stats = &ps;
	cg.cpu_stats = &cs;
	r.cgroup_stats = &cg;
	m = convert(&r);
	assert_non_null(m->pids);
	assert_int_equal(m->pids->current, 1);
	assert_int_equal(m->pids->limit, 0);
	assert_non_null(m->cpu);
	assert_non_null(m->cpu->usage);
	assert_non_null(m->cpu->throttling);
	assert_int_equal(m->cpu->usage->total, 0);
	assert_int_equal(m->cpu->usage->n_per_cpu, 0);
	protobuf_c_message_free_unpacked(&m->base, NULL);
}

/* An empty answer: an empty Metrics, not a failure. */
static void test_empty(void **state)
{
	Grpc__StatsContainerResponse r = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;

	(void)state;
	shim_metrics_pack(&r, &any);
	assert_string_equal(any.type_url, "io.containerd.cgroups.v1.Metrics");
	assert_int_equal(any.value.len, 0);
	free(any.value.data);
}

/* The bytes against containerd's metrics.proto (not ours): pids = 2
 * {current = 1, limit = 2}, memory = 4 {cache = 1, total_cache = 18,
 * usage = 33 {limit = 1, usage = 2}}, cpu = 3 {usage = 1 {total = 1}}. */
static void test_wire_numbers(void **state)
{
	static const uint8_t want[] = {
		0x12, 0x04, 0x08, 0x05, 0x10, 0x07, /* pids {5, 7} */
		0x1a, 0x06, 0x0a, 0x02, 0x08, 0x09, 0x12, 0x00, /* cpu {usage {9}, throttling {}} */
		0x22, 0x12, /* memory, 18 bytes */
		0x08, 0x03, /* cache 3 */
		0x90, 0x01, 0x04, /* total_cache (18) 4 */
		0x8a, 0x02, 0x04, 0x08, 0x06, 0x10, 0x02, /* usage (33) {limit 6, usage 2} */
		0x92, 0x02, 0x00, /* swap (34) {} */
		0x9a, 0x02, 0x00, /* kernel (35) {} */
	};
	Grpc__MemoryStats__StatsEntry file = GRPC__MEMORY_STATS__STATS_ENTRY__INIT;
	Grpc__MemoryStats__StatsEntry *entries[1] = { &file };
	Grpc__MemoryData mu = GRPC__MEMORY_DATA__INIT;
	Grpc__MemoryStats mem = GRPC__MEMORY_STATS__INIT;
	Grpc__PidsStats ps = GRPC__PIDS_STATS__INIT;
	Grpc__CpuUsage cu = GRPC__CPU_USAGE__INIT;
	Grpc__CpuStats cs = GRPC__CPU_STATS__INIT;
	Grpc__CgroupStats cg = GRPC__CGROUP_STATS__INIT;
	Grpc__StatsContainerResponse r = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;

	(void)state;
	ps.current = 5;
	ps.limit = 7;
	cu.total_usage = 9;
	cs.cpu_usage = &cu;
	file.key = "file";
	file.value = 4;
	mu.limit = 6;
	mu.usage = 2;
	mem.cache = 3;
	mem.usage = &mu;
	mem.stats = entries;
	mem.n_stats = 1;
	cg.pids_stats = &ps;
	cg.cpu_stats = &cs;
	cg.memory_stats = &mem;
	r.cgroup_stats = &cg;
	shim_metrics_pack(&r, &any);
	assert_int_equal(any.value.len, sizeof(want));
	assert_memory_equal(any.value.data, want, sizeof(want));
	free(any.value.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field),  cmocka_unit_test(test_v1_keys),
		cmocka_unit_test(test_no_limits),    cmocka_unit_test(test_empty),
		cmocka_unit_test(test_wire_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
