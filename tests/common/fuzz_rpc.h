/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TESTS_FUZZ_RPC_H
#define KC_TESTS_FUZZ_RPC_H

/*
 * What the fuzzers of a ttrpc server (tests/agent/fuzz_agent.c,
 * tests/shim/fuzz_shim.c, tests/ttrpc/fuzz_ttrpc.c) share: the fence that
 * keeps a handler which reaches further than decoding from touching the
 * machine, the check that every answer is a well-formed ttrpc Response,
 * and the loop that feeds an input to a server as a client would.
 * Header-only: the fuzzers are built by tests/fuzz/run-fuzz.sh, one
 * translation unit each.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ttrpc/frame.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"
#include "ttrpc/wire.h"

#define KC_FUZZ_DENY(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/* A seccomp filter that refuses fork and exec (threads and LeakSanitizer's
 * tracer share memory and are allowed), mounts, namespaces, signals,
 * swap, reboot, the clock and the host's names.  Aborts if it cannot. */
static inline void kc_fuzz_fence(const char *who)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* clone without CLONE_VM is a fork. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_VM, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* clone3's flags are in memory: ENOSYS makes libc use clone. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		KC_FUZZ_DENY(SYS_fork),
		KC_FUZZ_DENY(SYS_vfork),
		KC_FUZZ_DENY(SYS_execve),
		KC_FUZZ_DENY(SYS_execveat),
		KC_FUZZ_DENY(SYS_mount),
		KC_FUZZ_DENY(SYS_umount2),
		KC_FUZZ_DENY(SYS_pivot_root),
		KC_FUZZ_DENY(SYS_swapon),
		KC_FUZZ_DENY(SYS_swapoff),
		KC_FUZZ_DENY(SYS_reboot),
		KC_FUZZ_DENY(SYS_settimeofday),
		KC_FUZZ_DENY(SYS_clock_settime),
		KC_FUZZ_DENY(SYS_sethostname),
		KC_FUZZ_DENY(SYS_setdomainname),
		KC_FUZZ_DENY(SYS_unshare),
		KC_FUZZ_DENY(SYS_setns),
		KC_FUZZ_DENY(SYS_kill),
		KC_FUZZ_DENY(SYS_pidfd_send_signal),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		fprintf(stderr, "%s: seccomp: ", who);
		perror(NULL);
		abort();
	}
}

/* Reads what the server wrote on fd: every frame must be a Response that
 * decodes, and none may be over the size limit (which the reader would be
 * skipping: the server must never write one), else the fuzzer aborts. */
static inline void kc_fuzz_drain(int fd, struct kc_ttrpc_reader *r)
{
	for (;;) {
		size_t room;
		uint8_t *p = kc_ttrpc_reader_space(r, &room);
		ssize_t n = read(fd, p, room);
		struct kc_ttrpc_frame f;
		struct kc_ttrpc_response_view resp;

		if (n <= 0)
			return;
		kc_ttrpc_reader_commit(r, (size_t)n);
		while (kc_ttrpc_reader_next(r, &f) == KC_TTRPC_READ_FRAME) {
			if (f.hdr.type != KC_TTRPC_TYPE_RESPONSE ||
			    kc_ttrpc_response_decode(f.body, f.hdr.length, &resp) < 0)
				abort();
		}
		if (kc_ttrpc_reader_partial(r) && r->skip > 0)
			abort();
	}
}

/*
 * Writes data to srv over a socket pair as a client would, then its end,
 * running loop and checking the answers (kc_fuzz_drain) until the server
 * has closed the connection.  A server that
 * never does is a hang: abort.
 */
static inline void kc_fuzz_serve(struct kc_loop *loop, struct kc_ttrpc_server *srv,
				 const uint8_t *data, size_t size)
{
	struct kc_ttrpc_reader out;
	/* off goes one past size once the end has been signalled. */
	size_t off = 0;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
	    kc_ttrpc_server_add_conn(srv, sv[0], NULL) < 0)
		abort();
	kc_ttrpc_reader_init(&out, KC_TTRPC_MESSAGE_MAX);
	for (int iter = 0; kc_ttrpc_server_conn_count(srv) > 0; iter++) {
		if (off < size) {
			ssize_t n = write(sv[1], data + off, size - off);

			if (n > 0)
				off += (size_t)n;
		}
		if (off == size) {
			shutdown(sv[1], SHUT_WR);
			off++;
		}
		kc_loop_run_once(loop, 0, NULL);
		kc_fuzz_drain(sv[1], &out);
		if (iter > 100000)
			abort();
	}
	kc_ttrpc_reader_release(&out);
	close(sv[1]);
}

#endif
