/* SPDX-License-Identifier: Apache-2.0 */
/* The shim daemon: the Task service on one loop until Shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "host/host_cgroup.h"
#include "shim.h"

static void on_signal(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct shim *s = data;
	struct signalfd_siginfo si;

	(void)w;
	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		kc_info("signal %u: stopping", si.ssi_signo);
		kc_loop_quit(s->loop);
	}
}

/*
 * A shim whose bundle is gone and that no one is connected to is an
 * orphan: containerd removes a bundle when it gives up on its task (as it
 * does when it is stopped in the middle of a Create that then succeeds
 * here), and a restarted containerd finds shims through their bundles
 * only.  Nobody will send it Shutdown: it ends itself, its pod with it.
 */
#define ORPHAN_CHECK_NS (5 * 1000000000ull)

static void orphan_watch(void *data)
{
	struct shim *s = data;
	struct stat st;

	if (s->exiting)
		return;
	if (s->bundle_dir && kc_ttrpc_server_conn_count(s->srv) == 0 &&
	    stat(s->bundle_dir, &st) < 0 && errno == ENOENT) {
		kc_warn("the bundle `%s` is gone and nobody is connected: the shim exits",
			s->bundle_dir);
		shim_exit(s);
		return;
	}
	kc_loop_timer_start(s->loop, &s->bundle_timer, kc_loop_now(s->loop) + ORPHAN_CHECK_NS);
}

static void tell(int *ready_fd, const char *msg)
{
	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, msg, strlen(msg)) < 0)
		kc_warn("telling start: %s", strerror(errno));
	close(*ready_fd);
	*ready_fd = -1;
}

int shim_serve(const struct shim_args *a, int listen_fd, const char *socket_path,
	       const char *config_path, int ready_fd, kc_error_t *err)
{
	struct shim s = { 0 };
	sigset_t mask;
	int logfd, ret;

	logfd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (logfd >= 0)
		kc_log_set_fd(logfd);
	kc_log_set_level(a->debug ? KC_LOG_DEBUG : KC_LOG_INFO);
	kc_log_set_field("sandbox", a->id);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s.ns = (char *)a->ns;
	s.address = (char *)a->address;
	s.publish_binary = (char *)a->publish_binary;
	s.id = (char *)a->id;
	s.socket_path = (char *)socket_path;
	s.config_path = (char *)config_path;
	s.agent_binary = getenv("KATA_C_TEST_AGENT");
	if (s.agent_binary && !s.agent_binary[0])
		s.agent_binary = NULL;
	ret = kc_loop_new(&s.loop, err);
	if (ret < 0)
		goto out;
	ret = kc_ttrpc_server_new(s.loop, &s.srv, err);
	if (ret >= 0)
		ret = shim_task_register(&s, err);
	if (ret >= 0)
		ret = shim_monitor_register(&s, err);
	if (ret >= 0)
		ret = kc_ttrpc_server_add_listener(s.srv, listen_fd, KC_TTRPC_SAME_USER, err);
	listen_fd = -1;
	if (ret >= 0 && s.sigfd >= 0)
		ret = kc_loop_watch_fd(s.loop, s.sigfd, EPOLLIN, on_signal, &s, &s.sig_watch, err);
	/* containerd runs the shim in the bundle. */
	s.bundle_dir = getcwd(NULL, 0);
	if (ret >= 0) {
		kc_loop_timer_init(&s.bundle_timer, orphan_watch, &s);
		kc_loop_timer_start(s.loop, &s.bundle_timer, kc_loop_now(s.loop) + ORPHAN_CHECK_NS);
	}
	if (ret < 0)
		goto out;
	{
		cleanup_free char *pidfile = kc_xasprintf("%s.pid", socket_path);
		cleanup_free char *pid = kc_xasprintf("%d\n", (int)getpid());

		ret = kc_write_file_atomic(pidfile, pid, strlen(pid), 0644, err);
		if (ret < 0)
			goto out;
	}
	kc_info("shim serving on %s (agent: %s)", socket_path,
		s.agent_binary ? s.agent_binary : "in a VM");
	tell(&ready_fd, "ok");
	ret = kc_loop_run(s.loop, err);
out:
	if (ret < 0 && ready_fd >= 0)
		tell(&ready_fd, (*err)->msg);
	tell(&ready_fd, "exited");
	if (listen_fd >= 0)
		close(listen_fd);
	if (s.srv)
		kc_ttrpc_server_free(s.srv);
	s.srv = NULL;
	if (s.loop)
		shim_task_free(&s);
	/* After the VM: its vCPUs or the whole of it were in there. */
	kc_host_cgroup_leave(s.leave_cgroup);
	shim_events_free(&s);
	if (s.sig_watch)
		kc_loop_watch_remove(s.sig_watch);
	if (s.sigfd >= 0)
		close(s.sigfd);
	if (s.loop)
		kc_loop_free(s.loop);
	free(s.bundle_dir);
	unlink(socket_path);
	{
		cleanup_free char *pidfile = kc_xasprintf("%s.pid", socket_path);

		unlink(pidfile);
	}
	kc_info("shim exits");
	return ret < 0 ? ret : 0;
}
