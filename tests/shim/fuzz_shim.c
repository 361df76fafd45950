/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the shim's Task service as containerd reaches it:
 * the input is what containerd writes on the shim's socket (ttrpc
 * frames), served by a ttrpc server with containerd.task.v2.Task (and the
 * relayed grpc.AgentService/GetMetrics) registered exactly as the shim
 * registers them, on a struct shim of its own.  Every method's request is
 * decoded and checked by the shim's own handlers; nothing may crash, leak
 * or hang, and every answer must be a well-formed Response frame.
 *
 * The pod never boots: the configuration named is missing, so a Create
 * that gets that far (its bundle's config.json read and checked) fails
 * before the sandbox makes anything, and every other method finds no
 * container.  The process is fenced in as the agent's fuzzer is: no fork,
 * exec, mount or kill, in case a handler reached further than that.
 *
 * Built and run by tests/fuzz/run-fuzz.sh shim (see there).
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"
#include "shim.h"
#include "../common/fuzz_rpc.h"
#include "ttrpc/frame.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"
#include "ttrpc/wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kc_log_init("fuzz-shim", "runtime");
	kc_log_set_level(KC_LOG_ERROR);
	kc_fuzz_fence("fuzz_shim");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shim s = {
		.ns = "default",
		.id = "fuzz",
		.socket_path = "/nonexistent/kata-c-fuzz/shim.sock",
		.config_path = "/nonexistent/kata-c-fuzz/configuration.toml",
		.sigfd = -1,
	};

	if (kc_loop_new(&s.loop, NULL) < 0 || kc_ttrpc_server_new(s.loop, &s.srv, NULL) < 0 ||
	    shim_task_register(&s, NULL) < 0 || shim_monitor_register(&s, NULL) < 0)
		abort();
	kc_fuzz_serve(s.loop, s.srv, data, size);
	/* As serve.c ends a shim. */
	kc_ttrpc_server_free(s.srv);
	s.srv = NULL;
	shim_task_free(&s);
	shim_events_free(&s);
	kc_loop_free(s.loop);
	return 0;
}
