// SPDX-License-Identifier: Apache-2.0
/*
 * guest-client: the host end of a booted guest image's agent channel, for
 * tests/guest/test-guest.sh.
 *
 *   guest-client URI TIMEOUT_S
 *
 * Connects to URI (QEMU's chardev socket of the virtio-serial port, as
 * unix:///path), waits up to TIMEOUT_S for grpc.Health/Check, then calls
 * Version, CreateSandbox and DestroySandbox (which powers the guest off).
 * Prints one "name=value" line per fact for the script to check:
 *   check=SERVING ready_ms=N version=V api=A sandbox=ok destroy=ok
 * Exits 0 when every call succeeded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/transport.h"

#define SEC 1000000000ull

static int fail(const char *what, kc_error_t *err)
{
	fprintf(stderr, "guest-client: %s: %s\n", what, *err ? (*err)->msg : "failed");
	kc_error_free(err);
	return 1;
}

int main(int argc, char **argv)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_loop *loop = NULL;
	struct kc_ttrpc_client *cli = NULL;
	Grpc__CheckRequest creq = GRPC__CHECK_REQUEST__INIT;
	Grpc__CreateSandboxRequest sreq = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__DestroySandboxRequest dreq = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct kc_ttrpc_call_opts opts = { 0 };
	unsigned long long timeout_s;
	uint64_t t0, deadline;
	int fd, rc = 1;

	if (argc != 3 || !kc_parse_u64(argv[2], &timeout_s) || timeout_s == 0) {
		fprintf(stderr, "usage: guest-client URI TIMEOUT_S\n");
		return 2;
	}
	t0 = kc_monotonic_ns();
	deadline = t0 + timeout_s * SEC;
	/* QEMU creates the socket when it starts: retry until then. */
	while ((fd = kc_ttrpc_dial(argv[1], SEC, NULL)) < 0) {
		if (kc_monotonic_ns() >= deadline) {
			fprintf(stderr, "guest-client: cannot connect to %s\n", argv[1]);
			return 1;
		}
		usleep(20000);
	}
	if (kc_loop_new(&loop, &err) < 0 || kc_ttrpc_client_new(loop, fd, &cli, &err) < 0) {
		close(fd);
		rc = fail("client", &err);
		goto out;
	}
	/* A serial port is one stream that waits for the guest to open it: a
	 * single Check with the whole deadline is the wait for the boot. */
	opts.timeout_ns = deadline - kc_monotonic_ns();
	if (kc_ttrpc_client_call_msg_sync(cli, "grpc.Health", "Check", &creq.base,
					  &grpc__health_check_response__descriptor, &resp, &opts,
					  &err) < 0) {
		rc = fail("Check", &err);
		goto out;
	}
	printf("check=%s\nready_ms=%llu\n",
	       ((Grpc__HealthCheckResponse *)resp)->status ==
			       GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
		       ? "SERVING"
		       : "NOT_SERVING",
	       (unsigned long long)((kc_monotonic_ns() - t0) / 1000000));
	protobuf_c_message_free_unpacked(resp, NULL);
	resp = NULL;
	opts.timeout_ns = 30 * SEC;
	if (kc_ttrpc_client_call_msg_sync(cli, "grpc.Health", "Version", &creq.base,
					  &grpc__version_check_response__descriptor, &resp, &opts,
					  &err) < 0) {
		rc = fail("Version", &err);
		goto out;
	}
	printf("version=%s\napi=%s\n", ((Grpc__VersionCheckResponse *)resp)->agent_version,
	       ((Grpc__VersionCheckResponse *)resp)->grpc_version);
	protobuf_c_message_free_unpacked(resp, NULL);
	resp = NULL;
	sreq.sandbox_id = (char *)"guest-test";
	sreq.hostname = (char *)"kc-guest-test";
	if (kc_ttrpc_client_call_msg_sync(cli, "grpc.AgentService", "CreateSandbox", &sreq.base,
					  NULL, NULL, &opts, &err) < 0) {
		rc = fail("CreateSandbox", &err);
		goto out;
	}
	printf("sandbox=ok\n");
	if (kc_ttrpc_client_call_msg_sync(cli, "grpc.AgentService", "DestroySandbox", &dreq.base,
					  NULL, NULL, &opts, &err) < 0) {
		rc = fail("DestroySandbox", &err);
		goto out;
	}
	printf("destroy=ok\n");
	rc = 0;
out:
	fflush(stdout);
	if (cli)
		kc_ttrpc_client_free(cli);
	kc_loop_free(loop);
	return rc;
}
