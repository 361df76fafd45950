/* SPDX-License-Identifier: Apache-2.0 */
/*
 * StatsContainer's CgroupStats from a cgroup v2 directory, with runc's
 * fs2 mapping (what Kata's agent reports through cgroups-rs):
 *
 *   cpu.stat usage_usec/user_usec/system_usec -> cpu_usage (ns)
 *   cpu.stat nr_periods/nr_throttled/throttled_usec -> throttling_data
 *   memory.current/memory.peak/memory.max -> memory usage, max_usage, limit
 *   memory.events "max" -> memory usage failcnt
 *   memory.swap.current/memory.swap.max -> swap_usage
 *   memory.stat "kernel" -> kernel_usage (runc leaves it empty on v2)
 *   memory.stat -> stats, key by key; its "file" is the cache
 *   pids.current/pids.max -> pids_stats ("max" reads as UINT64_MAX)
 *   io.stat rbytes/wbytes, rios/wios -> io_service_bytes / io_serviced
 *   hugetlb.<size>.current/.events "max" -> hugetlb_stats[size]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "lib/util.h"

/* A single-value file: a number, or "max". */
static int read_value(struct kc_cgroup *cg, const char *file, uint64_t *out, kc_error_t *err)
{
	cleanup_free char *buf = NULL;
	unsigned long long v;
	int ret = kc_cgroup_read(cg, file, &buf, err);

	if (ret < 0)
		return ret;
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "max") == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	if (!kc_parse_u64(buf, &v))
		return kc_error_set(err, EIO, "`%s/%s`: `%s` is not a number", cg->path, file, buf);
	*out = v;
	return 0;
}

/* Optional files read as 0 when absent. */
static uint64_t value_or_zero(struct kc_cgroup *cg, const char *file)
{
	uint64_t v = 0;

	if (kc_cgroup_has(cg, file))
		read_value(cg, file, &v, NULL);
	return v;
}

static uint64_t key_or_zero(struct kc_cgroup *cg, const char *file, const char *key)
{
	uint64_t v = 0;

	if (kc_cgroup_has(cg, file))
		kc_cgroup_read_key(cg, file, key, &v, NULL);
	return v;
}

static int cpu_stats(struct kc_cgroup *cg, Grpc__CgroupStats *s, kc_error_t *err)
{
	static const Grpc__CpuStats cs_init = GRPC__CPU_STATS__INIT;
	static const Grpc__CpuUsage cu_init = GRPC__CPU_USAGE__INIT;
	static const Grpc__ThrottlingData td_init = GRPC__THROTTLING_DATA__INIT;
	uint64_t usage = 0;
	int ret = kc_cgroup_read_key(cg, "cpu.stat", "usage_usec", &usage, err);

	if (ret < 0)
		return ret;
	s->cpu_stats = kc_xmalloc(sizeof(*s->cpu_stats));
	*s->cpu_stats = cs_init;
	s->cpu_stats->cpu_usage = kc_xmalloc(sizeof(Grpc__CpuUsage));
	*s->cpu_stats->cpu_usage = cu_init;
	s->cpu_stats->throttling_data = kc_xmalloc(sizeof(Grpc__ThrottlingData));
	*s->cpu_stats->throttling_data = td_init;
	s->cpu_stats->cpu_usage->total_usage = usage * 1000;
	s->cpu_stats->cpu_usage->usage_in_usermode = key_or_zero(cg, "cpu.stat", "user_usec") * 1000;
	s->cpu_stats->cpu_usage->usage_in_kernelmode = key_or_zero(cg, "cpu.stat", "system_usec") *
						       1000;
	s->cpu_stats->throttling_data->periods = key_or_zero(cg, "cpu.stat", "nr_periods");
	s->cpu_stats->throttling_data->throttled_periods = key_or_zero(cg, "cpu.stat",
								       "nr_throttled");
	s->cpu_stats->throttling_data->throttled_time = key_or_zero(cg, "cpu.stat",
								    "throttled_usec") *
							1000;
	return 0;
}

static Grpc__MemoryData *memory_data(void)
{
	static const Grpc__MemoryData init = GRPC__MEMORY_DATA__INIT;
	Grpc__MemoryData *d = kc_xmalloc(sizeof(*d));

	*d = init;
	return d;
}

static void memory_stat_map(struct kc_cgroup *cg, Grpc__MemoryStats *m)
{
	static const Grpc__MemoryStats__StatsEntry init = GRPC__MEMORY_STATS__STATS_ENTRY__INIT;
	cleanup_free char *buf = NULL;
	char *save = NULL;
	size_t cap = 0;

	if (kc_cgroup_read(cg, "memory.stat", &buf, NULL) < 0)
		return;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		unsigned long long v;
		Grpc__MemoryStats__StatsEntry *e;

		if (!sp || !kc_parse_u64(sp + 1, &v))
			continue;
		*sp = '\0';
		if (m->n_stats == cap) {
			cap = cap ? 2 * cap : 64;
			m->stats = kc_xrealloc(m->stats, cap * sizeof(*m->stats));
		}
		e = kc_xmalloc(sizeof(*e));
		*e = init;
		e->key = kc_xstrdup(line);
		e->value = v;
		m->stats[m->n_stats++] = e;
		if (strcmp(line, "file") == 0)
			m->cache = v;
	}
}

static int memory_stats(struct kc_cgroup *cg, Grpc__CgroupStats *s, kc_error_t *err)
{
	static const Grpc__MemoryStats init = GRPC__MEMORY_STATS__INIT;
	uint64_t current = 0, limit = 0;
	Grpc__MemoryStats *m;
	int ret;

	if ((ret = read_value(cg, "memory.current", &current, err)) < 0 ||
	    (ret = read_value(cg, "memory.max", &limit, err)) < 0)
		return ret;
	m = s->memory_stats = kc_xmalloc(sizeof(*m));
	*m = init;
	m->use_hierarchy = true;
	m->usage = memory_data();
	m->usage->usage = current;
	m->usage->limit = limit;
	m->usage->max_usage = value_or_zero(cg, "memory.peak");
	m->usage->failcnt = key_or_zero(cg, "memory.events", "max");
	m->swap_usage = memory_data();
	m->swap_usage->usage = value_or_zero(cg, "memory.swap.current");
	m->swap_usage->limit = value_or_zero(cg, "memory.swap.max");
	m->swap_usage->max_usage = value_or_zero(cg, "memory.swap.peak");
	m->kernel_usage = memory_data();
	/* memory.stat's "kernel" (5.18+): all the kernel memory charged. */
	m->kernel_usage->usage = key_or_zero(cg, "memory.stat", "kernel");
	memory_stat_map(cg, m);
	return 0;
}

static int pids_stats(struct kc_cgroup *cg, Grpc__CgroupStats *s, kc_error_t *err)
{
	static const Grpc__PidsStats init = GRPC__PIDS_STATS__INIT;
	uint64_t current = 0, limit = 0;
	int ret;

	if ((ret = read_value(cg, "pids.current", &current, err)) < 0 ||
	    (ret = read_value(cg, "pids.max", &limit, err)) < 0)
		return ret;
	s->pids_stats = kc_xmalloc(sizeof(*s->pids_stats));
	*s->pids_stats = init;
	s->pids_stats->current = current;
	s->pids_stats->limit = limit;
	return 0;
}

static void io_add(size_t *n, Grpc__BlkioStatsEntry ***list, unsigned maj, unsigned min,
		   const char *op, uint64_t v)
{
	static const Grpc__BlkioStatsEntry init = GRPC__BLKIO_STATS_ENTRY__INIT;
	Grpc__BlkioStatsEntry *e = kc_xmalloc(sizeof(*e));

	*e = init;
	e->major = maj;
	e->minor = min;
	e->op = kc_xstrdup(op);
	e->value = v;
	*list = kc_xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = e;
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N". */
static void io_stats(struct kc_cgroup *cg, Grpc__CgroupStats *s)
{
	static const Grpc__BlkioStats init = GRPC__BLKIO_STATS__INIT;
	cleanup_free char *buf = NULL;
	char *save = NULL;
	Grpc__BlkioStats *b;

	s->blkio_stats = b = kc_xmalloc(sizeof(*b));
	*b = init;
	if (!kc_cgroup_has(cg, "io.stat") || kc_cgroup_read(cg, "io.stat", &buf, NULL) < 0)
		return;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned maj, min;
		int off = 0;
		char *save2 = NULL;

		if (sscanf(line, "%u:%u %n", &maj, &min, &off) != 2 || off == 0)
			continue;
		for (char *kv = strtok_r(line + off, " ", &save2); kv;
		     kv = strtok_r(NULL, " ", &save2)) {
			char *eq = strchr(kv, '=');
			unsigned long long v;

			if (!eq || !kc_parse_u64(eq + 1, &v))
				continue;
			*eq = '\0';
			if (strcmp(kv, "rbytes") == 0)
				io_add(&b->n_io_service_bytes_recursive,
				       &b->io_service_bytes_recursive, maj, min, "Read", v);
			else if (strcmp(kv, "wbytes") == 0)
				io_add(&b->n_io_service_bytes_recursive,
				       &b->io_service_bytes_recursive, maj, min, "Write", v);
			else if (strcmp(kv, "rios") == 0)
				io_add(&b->n_io_serviced_recursive, &b->io_serviced_recursive, maj,
				       min, "Read", v);
			else if (strcmp(kv, "wios") == 0)
				io_add(&b->n_io_serviced_recursive, &b->io_serviced_recursive, maj,
				       min, "Write", v);
		}
	}
}

/* One entry per hugetlb.<size>.current in the directory. */
static void hugetlb_stats(struct kc_cgroup *cg, Grpc__CgroupStats *s)
{
	static const Grpc__CgroupStats__HugetlbStatsEntry e_init =
		GRPC__CGROUP_STATS__HUGETLB_STATS_ENTRY__INIT;
	static const Grpc__HugetlbStats h_init = GRPC__HUGETLB_STATS__INIT;
	int fd = openat(cg->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name, *end;
		Grpc__CgroupStats__HugetlbStatsEntry *e;
		cleanup_free char *size = NULL, *events = NULL, *cur = NULL;
		size_t n = strlen(name);

		if (strncmp(name, "hugetlb.", 8) != 0 || n < 16 ||
		    strcmp(name + n - 8, ".current") != 0)
			continue;
		end = name + n - 8;
		size = kc_xstrndup(name + 8, (size_t)(end - name - 8));
		if (strchr(size, '.'))
			continue; /* hugetlb.2MB.rsvd.current */
		cur = kc_xstrdup(name);
		events = kc_xasprintf("hugetlb.%s.events", size);
		e = kc_xmalloc(sizeof(*e));
		*e = e_init;
		e->key = kc_steal_ptr(&size);
		e->value = kc_xmalloc(sizeof(*e->value));
		*e->value = h_init;
		e->value->usage = value_or_zero(cg, cur);
		e->value->failcnt = key_or_zero(cg, events, "max");
		s->hugetlb_stats = kc_xrealloc(s->hugetlb_stats,
					       (s->n_hugetlb_stats + 1) * sizeof(e));
		s->hugetlb_stats[s->n_hugetlb_stats++] = e;
	}
	closedir(d);
}

int kc_cgroup_stats(struct kc_cgroup *cg, Grpc__CgroupStats **out, kc_error_t *err)
{
	static const Grpc__CgroupStats init = GRPC__CGROUP_STATS__INIT;
	Grpc__CgroupStats *s = kc_xmalloc(sizeof(*s));
	int ret;

	*s = init;
	if ((ret = memory_stats(cg, s, err)) < 0 || (ret = pids_stats(cg, s, err)) < 0 ||
	    (ret = cpu_stats(cg, s, err)) < 0) {
		protobuf_c_message_free_unpacked(&s->base, NULL);
		return ret;
	}
	io_stats(cg, s);
	hugetlb_stats(cg, s);
	*out = s;
	return 0;
}
