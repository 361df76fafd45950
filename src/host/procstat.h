/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_HOST_PROCSTAT_H
#define KC_HOST_PROCSTAT_H

/*
 * A host process's figures from /proc/PID, as Kata's metrics report them
 * for the shim, the hypervisor and virtiofsd (src/sandbox/prom.h renders
 * them).  The files belong to processes we do not trust completely (QEMU
 * runs guest-driven code), so every read is bounded and every number is
 * parsed whole; a file that does not parse is an error naming it.
 *
 * All files of one reading come through one open /proc/PID directory, so
 * a pid reused while we read cannot mix two processes' figures; a process
 * that exits meanwhile makes the reading fail with an error that says so
 * (status ESRCH), never a crash or a half-filled answer.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

#define KC_PROCSTAT_UNLIMITED UINT64_MAX

struct kc_procstat {
	pid_t pid;
	char comm[64];

	/* /proc/PID/stat; times in clock ticks (sysconf(_SC_CLK_TCK)) */
	char state;
	uint64_t utime, stime;
	int64_t cutime, cstime;
	uint64_t threads;
	uint64_t starttime; /* ticks after boot */
	uint64_t vsize; /* bytes */
	uint64_t rss_pages;

	/* /proc/PID/status; Vm* and Rss* in bytes, 0 where the kernel has no such line */
	struct {
		uint64_t vmpeak, vmsize, vmlck, vmpin, vmhwm, vmrss, rssanon, rssfile, rssshmem,
			vmdata, vmstk, vmexe, vmlib, vmpte, vmpmd, vmswap, hugetlbpages,
			voluntary_ctxt_switches, nonvoluntary_ctxt_switches;
	} status;

	/* /proc/PID/io: needs the right to ptrace the process; has_io false
	 * (and the rest zero) where that was refused. */
	bool has_io;
	struct {
		uint64_t rchar, wchar, syscr, syscw, read_bytes, write_bytes, cancelled_write_bytes;
	} io;

	/* entries of /proc/PID/fd */
	uint64_t fds;

	/* /proc/PID/limits soft limits, KC_PROCSTAT_UNLIMITED for "unlimited" */
	uint64_t max_fds, max_address_space;

	/* starttime as seconds since the Unix epoch */
	double start_time_s;
};

/* One line of /proc/PID/net/dev: the counters of one interface of the
 * process's network namespace. */
struct kc_netdev_stat {
	char name[16];
	uint64_t rx_bytes, rx_packets, rx_errs, rx_drop, rx_fifo, rx_frame, rx_compressed,
		rx_multicast;
	uint64_t tx_bytes, tx_packets, tx_errs, tx_drop, tx_fifo, tx_colls, tx_carrier,
		tx_compressed;
};

/* Opens /proc/PID (pid 0: this process) as a directory to read from.
 * Returns the fd or a negative value: a pid with no /proc entry is ESRCH
 * ("process 123: no such process"). */
int kc_proc_open(pid_t pid, kc_error_t *err);

/* Reads stat, status, io, fd and limits of the process whose /proc
 * directory dirfd is (from kc_proc_open; pid names it in messages).
 * Returns 0, or a negative value and *err (ESRCH when it exited). */
int kc_procstat_read_at(int dirfd, pid_t pid, struct kc_procstat *st, kc_error_t *err);

/* kc_proc_open + kc_procstat_read_at + close. */
int kc_procstat_read(pid_t pid, struct kc_procstat *st, kc_error_t *err);

/* The interfaces of /proc/PID/net/dev (pid 0: this process): *devs is
 * malloc'd (free it), *n its length, at most 4096 interfaces. */
int kc_procstat_netdev(pid_t pid, struct kc_netdev_stat **devs, size_t *n, kc_error_t *err);

#endif
