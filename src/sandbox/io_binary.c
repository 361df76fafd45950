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
#include <string.h>
#include <unistd.h>

#include "host/child.h"
#include "lib/util.h"
#include "internal.h"

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

int kc_io_binary_open(struct kc_proc *p, const char *uri, kc_error_t *err)
{
	cleanup_strv char **argv = parse_uri(uri, err);
	cleanup_free char *id = kc_xasprintf("CONTAINER_ID=%s", p->c->id);
	cleanup_free char *ns = kc_xasprintf("CONTAINER_NAMESPACE=%s", p->c->pod->ns);
	char *env_add[] = { id, ns, NULL };
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, ready[2] = { -1, -1 };
	int stdio[3] = { KC_CHILD_NULL, KC_CHILD_NULL, KC_CHILD_NULL }, fds[3];
	struct kc_child_opts o = { .env_add = env_add, .stdio = stdio, .fds = fds, .n_fds = 3 };
	struct pollfd pf;
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
	o.argv = argv;
	fds[0] = out[0];
	fds[1] = errp[0];
	fds[2] = ready[1];
	ret = kc_child_start(&o, &p->logger, err);
	if (ret < 0) {
		kc_error_wrap(err, "io `%s`", uri);
		goto out;
	}
	close(ready[1]);
	ready[1] = -1;
	/* Ready when it closes fd 5 (EOF here), or dead. */
	pf = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	if (poll(&pf, 1, 10000) <= 0 || read(ready[0], &c, 1) != 0) {
		kc_child_stop(&p->logger, false, 0);
		p->logger = (struct kc_child)KC_CHILD_INIT;
		ret = kc_error_set(err, ETIMEDOUT, "io `%s`: the logging binary did not get ready",
				   uri);
		goto out;
	}
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

void kc_io_binary_reap(struct kc_proc *p)
{
	if (p->logger.pid <= 0)
		return;
	/* The pipes are closed: it sees EOF, flushes and exits. */
	kc_child_wait(&p->logger, kc_monotonic_ns() + 2000000000ull, NULL);
	kc_child_stop(&p->logger, false, 0);
	p->logger = (struct kc_child)KC_CHILD_INIT;
}
