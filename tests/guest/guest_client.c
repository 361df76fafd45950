/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest-client: the host end of a booted guest image's agent channel, for
 * tests/guest/test-guest.sh.
 *
 *   guest-client URI TIMEOUT_S [DRIVER,SOURCE,MOUNT_POINT[,FSTYPE] | module:NAME]...
 *
 * Connects to URI (QEMU's chardev socket of the virtio-serial port, as
 * unix:///path), waits up to TIMEOUT_S for grpc.Health/Check, then calls
 * Version, CreateSandbox (with the storages and kernel modules given) and
 * DestroySandbox (which unmounts them and powers the guest off).
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

/* "driver,source,mount_point[,fstype]" into *st; the strings point into
 * arg, which is modified. */
static bool parse_storage(char *arg, Grpc__Storage *st)
{
	char *f[4] = { NULL, NULL, NULL, (char *)"" };
	size_t n = 0;

	grpc__storage__init(st);
	for (char *p = arg; n < 4; n++) {
		f[n] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (n < 2 || n > 3)
		return false;
	st->driver = f[0];
	st->source = f[1];
	st->mount_point = f[2];
	st->fstype = f[3];
	return true;
}

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

	cleanup_free Grpc__Storage *sts = NULL;
	cleanup_free Grpc__Storage **ptrs = NULL;
	cleanup_free Grpc__KernelModule *mods = NULL;
	cleanup_free Grpc__KernelModule **mptrs = NULL;
	size_t n_args = argc > 3 ? (size_t)argc - 3 : 0, n_sts = 0, n_mods = 0;

	if (argc < 3 || !kc_parse_u64(argv[2], &timeout_s) || timeout_s == 0) {
		fprintf(stderr, "usage: guest-client URI TIMEOUT_S "
				"[DRIVER,SOURCE,MOUNT_POINT[,FSTYPE]]...\n");
		return 2;
	}
	sts = kc_xzalloc((n_args + 1) * sizeof(*sts));
	ptrs = kc_xzalloc((n_args + 1) * sizeof(*ptrs));
	mods = kc_xzalloc((n_args + 1) * sizeof(*mods));
	mptrs = kc_xzalloc((n_args + 1) * sizeof(*mptrs));
	for (size_t i = 0; i < n_args; i++) {
		char *arg = argv[3 + i];

		if (strncmp(arg, "module:", 7) == 0) {
			grpc__kernel_module__init(&mods[n_mods]);
			mods[n_mods].name = arg + 7;
			mptrs[n_mods] = &mods[n_mods];
			n_mods++;
			continue;
		}
		if (!parse_storage(arg, &sts[n_sts])) {
			fprintf(stderr, "guest-client: bad storage `%s`\n", arg);
			return 2;
		}
		ptrs[n_sts] = &sts[n_sts];
		n_sts++;
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
	sreq.storages = ptrs;
	sreq.n_storages = n_sts;
	sreq.kernel_modules = mptrs;
	sreq.n_kernel_modules = n_mods;
	if (kc_ttrpc_client_call_msg_sync(cli, "grpc.AgentService", "CreateSandbox", &sreq.base,
					  NULL, NULL, &opts, &err) < 0) {
		rc = fail("CreateSandbox", &err);
		goto out;
	}
	printf("sandbox=ok\nstorages=%zu\nmodules=%zu\n", n_sts, n_mods);
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
