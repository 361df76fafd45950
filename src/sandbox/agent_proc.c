/* SPDX-License-Identifier: Apache-2.0 */
#include "agent_proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/child.h"
#include "lib/util.h"
#include "ttrpc/transport.h"

static bool exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

int kc_agent_proc_start(const char *binary, const char *run_dir, uint64_t timeout_ns,
			pid_t *pid_out, int *pidfd_out, char **uri_out, kc_error_t *err)
{
	cleanup_free char *uri = kc_xasprintf("unix://%s/agent.sock", run_dir);
	cleanup_free char *log = kc_xasprintf("%s/agent.log", run_dir);
	uint64_t deadline = kc_monotonic_ns() + timeout_ns;
	char *argv[] = { (char *)binary, "--no-init", "--listen", uri, "--log-level", "debug", NULL };
	struct kc_child_opts o = { .argv = argv, .log_path = log };
	struct kc_child c;
	int pidfd;
	pid_t pid;

	if (access(binary, X_OK) < 0)
		return kc_error_set(err, errno, "agent binary `%s`", binary);
	if (kc_child_start(&o, &c, err) < 0)
		return kc_error_wrap(err, "the agent");
	pid = c.pid;
	pidfd = c.pidfd;
	for (;;) {
		int fd = kc_ttrpc_dial(uri, 1000000000ull, NULL);
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (fd >= 0) {
			close(fd);
			break;
		}
		if (exited(pidfd) || kc_monotonic_ns() > deadline) {
			bool dead = exited(pidfd);

			kc_agent_proc_stop(pid, pidfd);
			return kc_error_set(err, dead ? ECHILD : ETIMEDOUT,
					    "agent `%s` %s (its log: `%s`)", binary,
					    dead ? "exited at start" : "did not answer in time",
					    log);
		}
		nanosleep(&ts, NULL);
	}
	*pid_out = pid;
	*pidfd_out = pidfd;
	*uri_out = kc_steal_ptr(&uri);
	return 0;
}

void kc_agent_proc_stop(pid_t pid, int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	if (pid <= 0)
		return;
	syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
	if (poll(&p, 1, 2000) <= 0)
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	waitpid(pid, NULL, 0);
	close(pidfd);
}
