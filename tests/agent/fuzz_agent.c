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
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/network/portfwd.h"
#include "lib/log.h"
#include "lib/util.h"
#include "../common/fuzz_rpc.h"
#include "ttrpc/frame.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"
#include "ttrpc/wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root_dir[64];
static char *sysfs_dir, *run_dir;

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
	if (asprintf(&sysfs_dir, "%s/sys", root_dir) < 0 ||
	    asprintf(&run_dir, "%s/run", root_dir) < 0)
		abort();
	mkdirs("%s/devices/system/cpu/cpu1", sysfs_dir);
	mkdirs("%s/devices/system/memory/memory0", sysfs_dir);
	mkdirs("%s", run_dir);
	atexit(remove_tree);
	kc_fuzz_fence("fuzz_agent");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_agent a = {
		.sysfs_root = sysfs_dir,
		.run_root = run_dir,
		.start_ns = kc_monotonic_ns(),
	};

	if (kc_loop_new(&a.loop, NULL) < 0 || kc_ttrpc_server_new(a.loop, &a.srv, NULL) < 0 ||
	    kc_agent_health_register(&a, NULL) < 0 || kc_agent_service_register(&a, NULL) < 0)
		abort();
	kc_ttrpc_server_set_max_calls(a.srv, 64);
	kc_fuzz_serve(a.loop, a.srv, data, size);
	kc_agent_pfwd_close_all(&a, KC_TTRPC_ABORTED, "the agent is stopping");
	kc_agent_destroy_containers(&a);
	kc_ttrpc_server_free(a.srv);
	kc_loop_free(a.loop);
	free(a.sandbox_id);
	kc_log_set_field("sandbox", NULL);
	return 0;
}
