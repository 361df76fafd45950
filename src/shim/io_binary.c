/* SPDX-License-Identifier: Apache-2.0 */
/*
 * binary:// process output, as containerd's shims do it: the binary named
 * by the URI's path runs with the query's keys and values as arguments,
 * CONTAINER_ID and CONTAINER_NAMESPACE in its environment, the read ends
 * of the stdout and stderr pipes as fds 3 and 4, and fd 5, which it closes
 * once ready (waited for up to 10 s).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"
#include "shim.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding ('+' is a space in a query). */
static char *unescape(const char *s, size_t n, bool query)
{
	char *o = kc_xmalloc(n + 1), *p = o;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			*p++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*p++ = query && s[i] == '+' ? ' ' : s[i];
		}
	}
	*p = '\0';
	return o;
}

static char **parse_uri(const char *uri, kc_error_t *err)
{
	const char *path = uri + strlen("binary://");
	const char *q = strchr(path, '?');
	size_t plen = q ? (size_t)(q - path) : strlen(path);
	char **argv = kc_xzalloc(2 * sizeof(char *));
	size_t n = 1;

	argv[0] = unescape(path, plen, false);
	if (argv[0][0] != '/') {
		kc_free_strv(argv);
		kc_error_set(err, EINVAL, "io `%s`: the binary's path must be absolute", uri);
		return NULL;
	}
	for (const char *s = q ? q + 1 : NULL; s && *s;) {
		const char *amp = strchr(s, '&'), *end = amp ? amp : s + strlen(s);
		const char *eq = memchr(s, '=', (size_t)(end - s));

		argv = kc_xrealloc(argv, (n + 3) * sizeof(char *));
		argv[n++] = unescape(s, (size_t)((eq ? eq : end) - s), true);
		if (eq)
			argv[n++] = unescape(eq + 1, (size_t)(end - eq - 1), true);
		argv[n] = NULL;
		s = amp ? amp + 1 : NULL;
	}
	return argv;
}

int shim_io_binary_open(struct shim_proc *p, const char *uri, kc_error_t *err)
{
	cleanup_strv char **argv = parse_uri(uri, err);
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, ready[2] = { -1, -1 };
	struct pollfd pf;
	pid_t pid;
	int ret = 0;
	char c;

	if (!argv)
		return kc_error_ret(err);
	if (access(argv[0], X_OK) < 0)
		return kc_error_set(err, errno, "io `%s`: binary `%s`", uri, argv[0]);
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0) {
		ret = kc_error_set(err, errno, "io `%s`: pipe", uri);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = kc_error_set(err, errno, "io `%s`: fork", uri);
		goto out;
	}
	if (pid == 0) {
		cleanup_free char *id = kc_xasprintf("CONTAINER_ID=%s", p->c->id);
		cleanup_free char *ns = kc_xasprintf("CONTAINER_NAMESPACE=%s", p->c->shim->ns);
		int nul = open("/dev/null", O_RDWR);

		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		dup2(out[0], 3);
		dup2(errp[0], 4);
		dup2(ready[1], 5);
		syscall(SYS_close_range, 6, ~0u, 0);
		putenv(id);
		putenv(ns);
		execv(argv[0], argv);
		_exit(127);
	}
	close(ready[1]);
	ready[1] = -1;
	/* Ready when it closes fd 5 (EOF here), or dead. */
	pf = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	if (poll(&pf, 1, 10000) <= 0 || read(ready[0], &c, 1) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ret = kc_error_set(err, ETIMEDOUT, "io `%s`: the logging binary did not get ready", uri);
		goto out;
	}
	p->log_pid = pid;
	p->out.fd = out[1];
	p->err.fd = errp[1];
	fcntl(out[1], F_SETFL, O_NONBLOCK);
	fcntl(errp[1], F_SETFL, O_NONBLOCK);
	out[1] = errp[1] = -1;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (ready[i] >= 0)
			close(ready[i]);
	}
	return ret;
}

void shim_io_binary_reap(struct shim_proc *p)
{
	int fd;
	struct pollfd pf;

	if (p->log_pid <= 0)
		return;
	/* The pipes are closed: it sees EOF, flushes and exits. */
	fd = (int)syscall(SYS_pidfd_open, p->log_pid, 0);
	pf = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (fd >= 0 && poll(&pf, 1, 2000) <= 0)
		kill(p->log_pid, SIGKILL);
	if (fd >= 0)
		close(fd);
	waitpid(p->log_pid, NULL, 0);
	p->log_pid = 0;
}
