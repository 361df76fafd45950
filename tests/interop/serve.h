/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_INTEROP_SERVE_H
#define KC_INTEROP_SERVE_H

/*
 * Runs a ttrpc server on unix://PATH until SIGTERM or SIGINT, then frees
 * everything and removes the socket: the `serve` mode of the interop peer
 * and of the benchmark.  `register_methods` adds the peer's handlers.
 * Returns the process exit status (errors are reported as `prog: ...`).
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib/util.h"
#include "ttrpc/loop.h"
#include "ttrpc/server.h"

typedef int (*serve_register_fn)(struct kc_ttrpc_server *srv, kc_error_t *err);

static void serve_on_signal(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	(void)w;
	(void)events;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		kc_loop_quit(data);
}

static int serve_until_signal(const char *prog, const char *path, serve_register_fn register_methods)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_loop *loop = NULL;
	struct kc_ttrpc_server *srv = NULL;
	struct kc_loop_watch *sig_watch = NULL;
	cleanup_free char *uri = kc_xasprintf("unix://%s", path);
	sigset_t mask;
	int sfd, ret;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	ret = sfd < 0 ? kc_error_set(&err, errno, "signalfd") : kc_loop_new(&loop, &err);
	if (ret >= 0)
		ret = kc_loop_watch_fd(loop, sfd, EPOLLIN, serve_on_signal, loop, &sig_watch, &err);
	if (ret >= 0)
		ret = kc_ttrpc_server_new(loop, &srv, &err);
	if (ret >= 0)
		ret = register_methods(srv, &err);
	if (ret >= 0) {
		unlink(path);
		ret = kc_ttrpc_server_listen(srv, uri, 0, &err);
	}
	if (ret >= 0)
		ret = kc_loop_run(loop, &err);
	if (srv != NULL)
		kc_ttrpc_server_free(srv);
	if (sig_watch != NULL)
		kc_loop_watch_remove(sig_watch);
	if (loop != NULL)
		kc_loop_free(loop);
	if (sfd >= 0)
		close(sfd);
	unlink(path);
	if (ret < 0) {
		kc_error_report(prog, &err);
		return 1;
	}
	return 0;
}

#endif
