/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the agent's RPC decoding: the input is what a host
 * writes on the agent's connection (ttrpc frames), served by a ttrpc
 * server with grpc.Health and grpc.AgentService registered exactly as
 * kata-agent registers them, on a struct kc_agent of its own (--no-init,
 * fake sysfs and run trees).  Nothing may crash, leak or hang, and every
 * answer must be a well-formed Response frame.
 *
 * The handlers do real work, so the process is fenced in first: a network
 * namespace of its own (when root), and a seccomp filter that refuses
 * fork and exec (threads and LeakSanitizer's tracer share memory and are
 * allowed), mount, pivot_root, swapon, reboot and setting the clock or the
 * hostname.  Containers can be created but never start.
 *
 * Built and run by tests/fuzz/run-fuzz.sh agent (see there).
 */
#include <errno.h>
#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/log.h"
#include "lib/util.h"
#include "ttrpc/frame.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"
#include "ttrpc/wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root_dir[64];
static char *sysfs_dir, *run_dir;

#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
		 BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

static void fence(void)
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
		DENY(SYS_fork),
		DENY(SYS_vfork),
		DENY(SYS_execve),
		DENY(SYS_execveat),
		DENY(SYS_mount),
		DENY(SYS_umount2),
		DENY(SYS_pivot_root),
		DENY(SYS_swapon),
		DENY(SYS_swapoff),
		DENY(SYS_reboot),
		DENY(SYS_settimeofday),
		DENY(SYS_clock_settime),
		DENY(SYS_sethostname),
		DENY(SYS_setdomainname),
		DENY(SYS_unshare),
		DENY(SYS_setns),
		DENY(SYS_kill),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("fuzz_agent: seccomp");
		abort();
	}
}

static void mkdirs(const char *fmt, const char *base)
{
	char path[256];

	snprintf(path, sizeof(path), fmt, base);
	for (char *p = path + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	mkdir(path, 0755);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Runs at exit: fork and exec are fenced off, so no `rm -rf`. */
static void remove_tree(void)
{
	nftw(root_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kc_log_init("fuzz-agent", "agent");
	kc_log_set_level(KC_LOG_ERROR);
	/* A network namespace of its own: only there do the network RPCs
	 * change anything.  Without root they are refused anyway. */
	if (geteuid() == 0 && unshare(CLONE_NEWNET) < 0) {
		perror("fuzz_agent: unshare(CLONE_NEWNET)");
		abort();
	}
	strcpy(root_dir, "/tmp/kc-fuzz-agent-XXXXXX");
	if (!mkdtemp(root_dir))
		abort();
	if (asprintf(&sysfs_dir, "%s/sys", root_dir) < 0 || asprintf(&run_dir, "%s/run", root_dir) < 0)
		abort();
	mkdirs("%s/devices/system/cpu/cpu1", sysfs_dir);
	mkdirs("%s/devices/system/memory/memory0", sysfs_dir);
	mkdirs("%s", run_dir);
	atexit(remove_tree);
	fence();
	return 0;
}

/* Everything the agent writes back must be a well-formed Response. */
static void drain(int fd, struct kc_ttrpc_reader *r)
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
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_agent a = {
		.sysfs_root = sysfs_dir,
		.run_root = run_dir,
		.start_ns = kc_monotonic_ns(),
	};
	struct kc_ttrpc_reader out;
	size_t off = 0;
	int sv[2];

	if (kc_loop_new(&a.loop, NULL) < 0 || kc_ttrpc_server_new(a.loop, &a.srv, NULL) < 0 ||
	    kc_agent_health_register(&a, NULL) < 0 || kc_agent_service_register(&a, NULL) < 0)
		abort();
	kc_ttrpc_server_set_max_calls(a.srv, 64);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
	    kc_ttrpc_server_add_conn(a.srv, sv[0], NULL) < 0)
		abort();
	kc_ttrpc_reader_init(&out, KC_TTRPC_MESSAGE_MAX);
	for (int iter = 0; kc_ttrpc_server_conn_count(a.srv) > 0; iter++) {
		if (off < size) {
			ssize_t n = write(sv[1], data + off, size - off);

			if (n > 0)
				off += (size_t)n;
		}
		if (off == size) {
			shutdown(sv[1], SHUT_WR);
			off++;
		}
		kc_loop_run_once(a.loop, 0, NULL);
		drain(sv[1], &out);
		if (iter > 100000)
			abort(); /* a hang */
	}
	kc_agent_destroy_containers(&a);
	kc_ttrpc_server_free(a.srv);
	kc_ttrpc_reader_release(&out);
	close(sv[1]);
	kc_loop_free(a.loop);
	free(a.sandbox_id);
	kc_log_set_field("sandbox", NULL);
	return 0;
}
