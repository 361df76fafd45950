/* SPDX-License-Identifier: Apache-2.0 */
#include "agent_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
	int pidfd, logfd;
	pid_t pid;

	if (access(binary, X_OK) < 0)
		return kc_error_set(err, errno, "agent binary `%s`", binary);
	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (logfd < 0)
		return kc_error_set(err, errno, "open `%s`", log);
	pid = fork();
	if (pid < 0) {
		close(logfd);
		return kc_error_set(err, errno, "fork for the agent");
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		dup2(nul, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		syscall(SYS_close_range, 3, ~0u, 0);
		execl(binary, binary, "--no-init", "--listen", uri, "--log-level", "debug",
		      (char *)NULL);
		_exit(127);
	}
	close(logfd);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		int e = errno;

		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return kc_error_set(err, e, "pidfd_open of the agent");
	}
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
					    dead ? "exited at start" : "did not answer in time", log);
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
