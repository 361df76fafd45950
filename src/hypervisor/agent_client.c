/* SPDX-License-Identifier: Apache-2.0 */
/* Dial-with-retry and the health check of the guest agent. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "agent_client.h"
#include "health.pb-c.h"
#include "lib/util.h"
#include "ttrpc/transport.h"

#define RETRY_MIN_NS 5000000ull /* 5 ms */
#define RETRY_MAX_NS 100000000ull /* 100 ms */
#define ATTEMPT_MAX_NS 1000000000ull
#define RECHECK_NS 2000000000ull /* one Check attempt on a known-good VM */

static bool retryable(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == ECONNRESET || e == EAGAIN ||
	       e == ETIMEDOUT || e == ENOTCONN;
}

/* Sleeps until `until`, or returns -ECHILD early when an abort fd fires. */
static int pause_watching(uint64_t until, const int *abort_fds, size_t n, kc_error_t *err)
{
	struct pollfd pfd[8];

	if (n > KC_ARRAY_SIZE(pfd))
		return kc_error_set(err, EINVAL, "dial: too many abort fds");
	for (size_t i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = abort_fds[i], .events = POLLIN };
	/* until == 0: only look whether one fired already. */
	for (;;) {
		int timeout = 0, r;

		if (until) {
			uint64_t now = kc_monotonic_ns();

			if (now >= until)
				return 0;
			timeout = (int)((until - now + 999999) / 1000000);
		}
		r = poll(pfd, n, timeout);
		if (r > 0)
			return kc_error_set(err, ECHILD,
					    "gave up waiting: a process it needs exited");
		if (r < 0 && errno != EINTR)
			return kc_error_set(err, errno, "poll");
		if (!until)
			return 0;
	}
}

int kc_dial_retry(const char *uri, uint64_t deadline, const int *abort_fds, size_t n_abort,
		  kc_error_t *err)
{
	uint64_t pause = RETRY_MIN_NS;

	for (;;) {
		cleanup_error kc_error_t e = NULL;
		uint64_t now = kc_monotonic_ns(), left;
		int fd, ret;

		/* An abort fd that already fired wins over a connection. */
		ret = pause_watching(0, abort_fds, n_abort, err);
		if (ret < 0)
			return kc_error_wrap(err, "dial %s", uri);
		left = deadline > now ? deadline - now : 0;
		if (left == 0)
			return kc_error_set(err, ETIMEDOUT, "dial %s: deadline passed", uri);
		fd = kc_ttrpc_dial(uri, left < ATTEMPT_MAX_NS ? left : ATTEMPT_MAX_NS, &e);
		if (fd >= 0)
			return fd;
		if (!retryable(e->status)) {
			*err = kc_steal_ptr(&e);
			return kc_error_wrap(err, "dial %s", uri);
		}
		now = kc_monotonic_ns();
		if (now >= deadline) {
			*err = kc_steal_ptr(&e);
			return kc_error_wrap(err, "dial %s: deadline passed; last attempt", uri);
		}
		ret = pause_watching(now + pause < deadline ? now + pause : deadline, abort_fds,
				     n_abort, err);
		if (ret < 0)
			return kc_error_wrap(err, "dial %s", uri);
		pause = pause * 2 < RETRY_MAX_NS ? pause * 2 : RETRY_MAX_NS;
	}
}

int kc_agent_check(struct kc_ttrpc_client *c, uint64_t timeout_ns, kc_error_t *err)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	struct kc_ttrpc_call_opts opts = { .timeout_ns = timeout_ns };
	ProtobufCMessage *resp = NULL;
	Grpc__HealthCheckResponse *h;
	int ret;

	req.service = (char *)"";
	ret = kc_ttrpc_client_call_msg_sync(c, "grpc.Health", "Check", &req.base,
					    &grpc__health_check_response__descriptor, &resp, &opts,
					    err);
	if (ret < 0)
		return ret;
	h = (Grpc__HealthCheckResponse *)resp;
	if (!h || h->status != GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
		int status = h ? (int)h->status : 0;

		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
		return kc_error_set(err, EAGAIN, "grpc.Health/Check: agent not serving (status %d)",
				    status);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

int kc_agent_check_retry(struct kc_ttrpc_client *c, uint64_t deadline, kc_error_t *err)
{
	for (;;) {
		cleanup_error kc_error_t e = NULL;
		uint64_t now = kc_monotonic_ns();
		uint64_t left = deadline > now ? deadline - now : 1;
		int ret = kc_agent_check(c, left < RECHECK_NS ? left : RECHECK_NS, &e);

		if (ret == 0)
			return 0;
		if (e->status != ETIMEDOUT || kc_monotonic_ns() >= deadline) {
			*err = kc_steal_ptr(&e);
			return ret;
		}
	}
}

int kc_agent_wait_ready(const char *uri, uint64_t deadline, const int *abort_fds, size_t n_abort,
			int *conn_fd, kc_error_t *err)
{
	struct kc_loop *loop = NULL;
	int ret, keep = -1;

	ret = kc_loop_new(&loop, err);
	if (ret < 0)
		return ret;
	for (;;) {
		cleanup_error kc_error_t e = NULL;
		struct kc_ttrpc_client *c = NULL;
		uint64_t now;
		int fd;

		fd = kc_dial_retry(uri, deadline, abort_fds, n_abort, err);
		if (fd < 0) {
			ret = fd;
			break;
		}
		if (conn_fd) {
			/* The client closes its fd; the duplicate keeps the
			 * connection for the caller. */
			keep = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			if (keep < 0) {
				ret = kc_error_set(err, errno, "dup agent connection");
				close(fd);
				break;
			}
		}
		ret = kc_ttrpc_client_new(loop, fd, &c, err);
		if (ret < 0)
			break;
		now = kc_monotonic_ns();
		/* One call for the whole remaining time: over virtio-serial the
		 * request waits in the socket until the agent opens its port,
		 * and a single request leaves no stale answer behind. */
		ret = kc_agent_check(c, deadline > now ? deadline - now : 1, &e);
		kc_ttrpc_client_free(c);
		if (ret == 0) {
			if (conn_fd)
				*conn_fd = kc_steal_fd(&keep);
			break;
		}
		if (keep >= 0)
			close(kc_steal_fd(&keep));
		now = kc_monotonic_ns();
		if (!retryable(e->status) || now >= deadline) {
			*err = kc_steal_ptr(&e);
			break;
		}
		/* The connection dropped while the guest booted: dial again. */
		ret = pause_watching(now + RETRY_MIN_NS, abort_fds, n_abort, err);
		if (ret < 0)
			break;
	}
	if (keep >= 0)
		close(keep);
	kc_loop_free(loop);
	return ret;
}
