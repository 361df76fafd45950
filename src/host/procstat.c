/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/PID's figures, read through one directory fd.  The formats are
 * proc(5)'s; each file is read whole into a buffer of a fixed bound (the
 * largest of them, status, is ~1.5 KiB today), and a number that does
 * not parse whole is an error, not a zero.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"
#include "procstat.h"

#define SMALL_FILE (16 * 1024)
#define NETDEV_FILE (1024 * 1024)
#define NETDEV_MAX 4096

static int proc_errno(kc_error_t *err, int e, pid_t pid, const char *what, const char *file)
{
	/* An exited process's entries answer ENOENT (reaped) or ESRCH. */
	if (e == ENOENT || e == ESRCH)
		return kc_error_set(err, ESRCH, "process %d has exited: %s `/proc/%d/%s`", pid,
				    what, pid, file);
	return kc_error_set(err, e, "%s `/proc/%d/%s`", what, pid, file);
}

static int proc_bad(kc_error_t *err, pid_t pid, const char *file, const char *why)
{
	return kc_error_set(err, EINVAL, "`/proc/%d/%s`: %s", pid, file, why);
}

/* Reads dirfd/name whole into a malloc'd NUL-terminated buffer of at most
 * max bytes; more is an error (a /proc file is never that large). */
static int read_at(int dirfd, pid_t pid, const char *name, size_t max, char **out, kc_error_t *err)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	cleanup_free char *buf = NULL;
	size_t len = 0;

	if (fd < 0)
		return proc_errno(err, errno, pid, "open", name);
	buf = kc_xmalloc(max + 1);
	for (;;) {
		ssize_t r = read(fd, buf + len, max + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return proc_errno(err, errno, pid, "read", name);
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max)
			return proc_bad(err, pid, name, "larger than expected, refusing it");
	}
	buf[len] = '\0';
	if (strlen(buf) != len)
		return proc_bad(err, pid, name, "holds a NUL byte");
	*out = kc_steal_ptr(&buf);
	return 0;
}

int kc_proc_open(pid_t pid, kc_error_t *err)
{
	char path[32];
	int fd;

	if (pid < 0)
		return kc_error_set(err, EINVAL, "process %d: not a process id", pid);
	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self");
	else
		snprintf(path, sizeof(path), "/proc/%d", pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return kc_error_set(err, ESRCH, "process %d: no such process (no `%s`)", pid, path);
	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", path);
	return fd;
}

/* A whole unsigned decimal starting at *p, which then points past it. */
static bool take_u64(char **p, uint64_t *v)
{
	char *s = *p, *end;
	unsigned long long x;

	while (*s == ' ')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end != '\0'))
		return false;
	*v = x;
	*p = end;
	return true;
}

static bool take_i64(char **p, int64_t *v)
{
	char *s = *p, *end;
	long long x;

	while (*s == ' ')
		s++;
	if (*s != '-' && (*s < '0' || *s > '9'))
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || end == s || (*end != ' ' && *end != '\n' && *end != '\0'))
		return false;
	*v = x;
	*p = end;
	return true;
}

/* "pid (comm) S ppid ...": comm may hold spaces and ')', so the fields
 * start after the last ')'. */
static int parse_stat(char *buf, pid_t pid, struct kc_procstat *st, kc_error_t *err)
{
	char *open = strchr(buf, '('), *close = strrchr(buf, ')'), *p;
	uint64_t skip;
	size_t clen;

	if (!open || !close || close < open || close[1] != ' ' || !close[2])
		return proc_bad(err, pid, "stat", "no `(comm) state` fields");
	clen = (size_t)(close - open - 1);
	if (clen >= sizeof(st->comm))
		clen = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, clen);
	st->comm[clen] = '\0';
	st->state = close[2];
	p = close + 3;
	/* Fields 4 to 13: ppid ... cmajflt. */
	for (int i = 4; i <= 13; i++) {
		int64_t v;

		if (!take_i64(&p, &v))
			goto bad;
	}
	if (!take_u64(&p, &st->utime) || !take_u64(&p, &st->stime) || !take_i64(&p, &st->cutime) ||
	    !take_i64(&p, &st->cstime))
		goto bad;
	for (int i = 18; i <= 19; i++) { /* priority, nice */
		int64_t v;

		if (!take_i64(&p, &v))
			goto bad;
	}
	if (!take_u64(&p, &st->threads) || !take_u64(&p, &skip) /* itrealvalue */ ||
	    !take_u64(&p, &st->starttime) || !take_u64(&p, &st->vsize) ||
	    !take_u64(&p, &st->rss_pages))
		goto bad;
	return 0;
bad:
	return proc_bad(err, pid, "stat", "a field is not a number");
}

#define STATUS(key, field, kib) \
	{ \
		key, offsetof(struct kc_procstat, status.field), kib \
	}
static const struct {
	const char *key;
	size_t off;
	bool kib;
} status_keys[] = {
	STATUS("VmPeak", vmpeak, true),
	STATUS("VmSize", vmsize, true),
	STATUS("VmLck", vmlck, true),
	STATUS("VmPin", vmpin, true),
	STATUS("VmHWM", vmhwm, true),
	STATUS("VmRSS", vmrss, true),
	STATUS("RssAnon", rssanon, true),
	STATUS("RssFile", rssfile, true),
	STATUS("RssShmem", rssshmem, true),
	STATUS("VmData", vmdata, true),
	STATUS("VmStk", vmstk, true),
	STATUS("VmExe", vmexe, true),
	STATUS("VmLib", vmlib, true),
	STATUS("VmPTE", vmpte, true),
	STATUS("VmPMD", vmpmd, true),
	STATUS("VmSwap", vmswap, true),
	STATUS("HugetlbPages", hugetlbpages, true),
	STATUS("voluntary_ctxt_switches", voluntary_ctxt_switches, false),
	STATUS("nonvoluntary_ctxt_switches", nonvoluntary_ctxt_switches, false),
};
#undef STATUS

static int parse_status(char *buf, pid_t pid, struct kc_procstat *st, kc_error_t *err)
{
	char *save = NULL;

	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *p;
		uint64_t v;

		if (!colon)
			continue;
		*colon = '\0';
		for (size_t i = 0; i < KC_ARRAY_SIZE(status_keys); i++) {
			if (strcmp(line, status_keys[i].key) != 0)
				continue;
			p = colon + 1;
			while (*p == '\t')
				p++;
			if (!take_u64(&p, &v))
				return kc_error_set(err, EINVAL,
						    "`/proc/%d/status`: %s: not a number", pid,
						    line);
			if (status_keys[i].kib) {
				if (strcmp(p, " kB") != 0 || v > UINT64_MAX / 1024)
					return kc_error_set(err, EINVAL,
							    "`/proc/%d/status`: %s: not a size in kB",
							    pid, line);
				v *= 1024;
			}
			*(uint64_t *)((char *)st + status_keys[i].off) = v;
		}
	}
	return 0;
}

#define IO(key, field) \
	{ \
		key, offsetof(struct kc_procstat, io.field) \
	}
static const struct {
	const char *key;
	size_t off;
} io_keys[] = {
	IO("rchar", rchar),
	IO("wchar", wchar),
	IO("syscr", syscr),
	IO("syscw", syscw),
	IO("read_bytes", read_bytes),
	IO("write_bytes", write_bytes),
	IO("cancelled_write_bytes", cancelled_write_bytes),
};
#undef IO

static int parse_io(char *buf, pid_t pid, struct kc_procstat *st, kc_error_t *err)
{
	char *save = NULL;

	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *p;

		if (!colon)
			continue;
		*colon = '\0';
		for (size_t i = 0; i < KC_ARRAY_SIZE(io_keys); i++) {
			if (strcmp(line, io_keys[i].key) != 0)
				continue;
			p = colon + 1;
			if (!take_u64(&p, (uint64_t *)((char *)st + io_keys[i].off)) || *p)
				return kc_error_set(err, EINVAL, "`/proc/%d/io`: %s: not a number",
						    pid, line);
		}
	}
	st->has_io = true;
	return 0;
}

/* "Max open files            1024                 1048576              files" */
static int limit(const char *buf, pid_t pid, const char *name, uint64_t *v, kc_error_t *err)
{
	const char *line = buf;
	size_t n = strlen(name);

	for (; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		char *p;

		if (strncmp(line, name, n) != 0 || line[n] != ' ')
			continue;
		p = (char *)line + n;
		while (*p == ' ')
			p++;
		if (strncmp(p, "unlimited ", 10) == 0) {
			*v = KC_PROCSTAT_UNLIMITED;
			return 0;
		}
		if (!take_u64(&p, v))
			break;
		return 0;
	}
	return kc_error_set(err, EINVAL, "`/proc/%d/limits`: no soft limit for \"%s\"", pid, name);
}

static int count_fds(int dirfd, pid_t pid, bool self, uint64_t *n, kc_error_t *err)
{
	int fd = openat(dirfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *e;

	if (fd < 0)
		return proc_errno(err, errno, pid, "open", "fd");
	d = fdopendir(fd);
	if (!d) {
		int e2 = errno;

		close(fd);
		return proc_errno(err, e2, pid, "open", "fd");
	}
	*n = 0;
	errno = 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			(*n)++;
	if (errno) {
		int e2 = errno;

		closedir(d);
		return proc_errno(err, e2, pid, "read", "fd");
	}
	/* Reading our own fds counts the two this reading holds: /proc/self
	 * and its fd directory. */
	if (self && *n >= 2)
		*n -= 2;
	closedir(d);
	return 0;
}

/* Boot time as seconds since the epoch: /proc's starttime counts from
 * boot (CLOCK_BOOTTIME). */
static double boot_time_s(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return (double)(rt.tv_sec - bt.tv_sec) + (double)(rt.tv_nsec - bt.tv_nsec) / 1e9;
}

int kc_procstat_read_at(int dirfd, pid_t pid_arg, struct kc_procstat *st, kc_error_t *err)
{
	cleanup_free char *stat = NULL, *status = NULL, *io = NULL, *limits = NULL, *again = NULL;
	pid_t pid = pid_arg ? pid_arg : getpid();
	long hz = sysconf(_SC_CLK_TCK);
	int ret;

	memset(st, 0, sizeof(*st));
	st->pid = pid;
	if ((ret = read_at(dirfd, pid, "stat", SMALL_FILE, &stat, err)) < 0 ||
	    (ret = parse_stat(stat, pid, st, err)) < 0)
		return ret;
	if ((ret = read_at(dirfd, pid, "status", SMALL_FILE, &status, err)) < 0 ||
	    (ret = parse_status(status, pid, st, err)) < 0)
		return ret;
	ret = read_at(dirfd, pid, "io", SMALL_FILE, &io, err);
	if (ret < 0 && kc_error_ret(err) == -EACCES) {
		/* Not ours to ptrace: the io figures stay unknown. */
		kc_error_free(err);
	} else if (ret < 0 || (ret = parse_io(io, pid, st, err)) < 0) {
		return ret;
	}
	if ((ret = read_at(dirfd, pid, "limits", SMALL_FILE, &limits, err)) < 0 ||
	    (ret = limit(limits, pid, "Max open files", &st->max_fds, err)) < 0 ||
	    (ret = limit(limits, pid, "Max address space", &st->max_address_space, err)) < 0)
		return ret;
	if ((ret = count_fds(dirfd, pid, pid_arg == 0, &st->fds, err)) < 0)
		return ret;
	/* A process reaped while we read leaves figures of nothing (an empty
	 * fd directory, say): stat read again then fails with ESRCH. */
	if ((ret = read_at(dirfd, pid, "stat", SMALL_FILE, &again, err)) < 0)
		return ret;
	st->start_time_s = boot_time_s() + (double)st->starttime / (double)(hz > 0 ? hz : 100);
	return 0;
}

int kc_procstat_read(pid_t pid, struct kc_procstat *st, kc_error_t *err)
{
	cleanup_close int fd = kc_proc_open(pid, err);

	if (fd < 0)
		return fd;
	return kc_procstat_read_at(fd, pid, st, err);
}

/*
 * Inter-|   Receive                                                |  Transmit
 *  face |bytes    packets errs drop fifo frame compressed multicast|bytes ...
 *     lo:  123  4  0  0  0  0  0  0  123  4  0  0  0  0  0  0
 */
static int parse_netdev_line(char *line, pid_t pid, struct kc_netdev_stat *d, kc_error_t *err)
{
	char *colon = strchr(line, ':'), *name = line, *p;
	uint64_t *f[16] = {
		&d->rx_bytes, &d->rx_packets, &d->rx_errs,	 &d->rx_drop,
		&d->rx_fifo,  &d->rx_frame,   &d->rx_compressed, &d->rx_multicast,
		&d->tx_bytes, &d->tx_packets, &d->tx_errs,	 &d->tx_drop,
		&d->tx_fifo,  &d->tx_colls,   &d->tx_carrier,	 &d->tx_compressed,
	};

	if (!colon)
		return proc_bad(err, pid, "net/dev", "a line has no `name:`");
	*colon = '\0';
	while (*name == ' ')
		name++;
	if (!*name || strlen(name) >= sizeof(d->name))
		return proc_bad(err, pid, "net/dev", "an interface name is empty or too long");
	memset(d, 0, sizeof(*d));
	strcpy(d->name, name);
	p = colon + 1;
	for (size_t i = 0; i < KC_ARRAY_SIZE(f); i++)
		if (!take_u64(&p, f[i]))
			return kc_error_set(err, EINVAL,
					    "`/proc/%d/net/dev`: %s: a counter is not "
					    "a number",
					    pid, d->name);
	return 0;
}

int kc_procstat_netdev(pid_t pid, struct kc_netdev_stat **devs, size_t *n, kc_error_t *err)
{
	cleanup_close int fd = kc_proc_open(pid, err);
	cleanup_free char *buf = NULL;
	cleanup_free struct kc_netdev_stat *out = NULL;
	char *save = NULL;
	size_t count = 0, lineno = 0;
	int ret;

	if (fd < 0)
		return fd;
	if (pid == 0)
		pid = getpid();
	if ((ret = read_at(fd, pid, "net/dev", NETDEV_FILE, &buf, err)) < 0)
		return ret;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (++lineno <= 2) /* the two header lines */
			continue;
		if (count == NETDEV_MAX)
			return proc_bad(err, pid, "net/dev", "more than 4096 interfaces");
		out = kc_xrealloc(out, (count + 1) * sizeof(*out));
		if ((ret = parse_netdev_line(line, pid, &out[count], err)) < 0)
			return ret;
		count++;
	}
	*devs = kc_steal_ptr(&out);
	*n = count;
	return 0;
}
