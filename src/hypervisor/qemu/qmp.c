/* SPDX-License-Identifier: Apache-2.0 */
/* QMP client: one JSON object per line, over a unix socket. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp.h"
#include "lib/util.h"
#include "hypervisor/agent_client.h"
#include "ttrpc/transport.h"

/* QEMU's answers here are small; a line longer than this is not QMP. */
#define QMP_MAX_LINE (1024 * 1024)

struct kc_qmp {
	int fd;
	char *path;
	char *buf;
	size_t len, cap;
};

static int wait_io(struct kc_qmp *q, short events, uint64_t deadline, const char *what,
		   kc_error_t *err)
{
	for (;;) {
		struct pollfd pfd = { .fd = q->fd, .events = events };
		uint64_t now = kc_monotonic_ns();
		int r;

		if (now >= deadline)
			return kc_error_set(err, ETIMEDOUT, "QMP `%s`: %s", q->path, what);
		r = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return kc_error_set(err, errno, "QMP `%s`: poll", q->path);
	}
}

/* One message (a line), parsed. */
static int read_msg(struct kc_qmp *q, uint64_t deadline, json_t **out, kc_error_t *err)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		ssize_t n;
		int ret;

		if (nl) {
			size_t line = (size_t)(nl - q->buf) + 1;

			ret = kc_json_parse(q->buf, line, "QMP message", out, err);
			memmove(q->buf, q->buf + line, q->len - line);
			q->len -= line;
			return ret;
		}
		if (q->len >= QMP_MAX_LINE)
			return kc_error_set(err, EPROTO, "QMP `%s`: line over %d bytes", q->path,
					    QMP_MAX_LINE);
		if (q->cap - q->len < 4096) {
			q->cap = q->cap ? q->cap * 2 : 8192;
			q->buf = kc_xrealloc(q->buf, q->cap);
		}
		n = read(q->fd, q->buf + q->len, q->cap - q->len);
		if (n > 0) {
			q->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return kc_error_set(err, ECONNRESET, "QMP `%s`: connection closed", q->path);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return kc_error_set(err, errno, "QMP `%s`: read", q->path);
		ret = wait_io(q, POLLIN, deadline, "waiting for an answer", err);
		if (ret < 0)
			return ret;
	}
}

static int send_all(struct kc_qmp *q, const char *s, size_t len, uint64_t deadline, kc_error_t *err)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(q->fd, s + off, len - off, MSG_NOSIGNAL);
		int ret;

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return kc_error_set(err, errno, "QMP `%s`: send", q->path);
		ret = wait_io(q, POLLOUT, deadline, "sending", err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int kc_qmp_execute(struct kc_qmp *q, const char *command, json_t *arguments, json_t **ret,
		   uint64_t deadline, kc_error_t *err)
{
	cleanup_json json_t *req = json_pack("{s:s}", "execute", command);
	cleanup_free char *text = NULL;
	int r;

	if (arguments)
		json_object_set(req, "arguments", arguments);
	text = json_dumps(req, JSON_COMPACT);
	if (!text)
		return kc_error_set(err, ENOMEM, "QMP: encoding `%s`", command);
	r = send_all(q, text, strlen(text), deadline, err);
	if (r >= 0)
		r = send_all(q, "\n", 1, deadline, err);
	if (r < 0)
		return kc_error_wrap(err, "QMP %s", command);
	for (;;) {
		cleanup_json json_t *msg = NULL;
		json_t *v;

		r = read_msg(q, deadline, &msg, err);
		if (r < 0)
			return kc_error_wrap(err, "QMP %s", command);
		if ((v = json_object_get(msg, "return")) != NULL) {
			if (ret)
				*ret = json_incref(v);
			return 0;
		}
		if ((v = json_object_get(msg, "error")) != NULL) {
			const char *cls = json_string_value(json_object_get(v, "class"));
			const char *desc = json_string_value(json_object_get(v, "desc"));

			return kc_error_set(err, EIO, "QMP %s: %s: %s", command,
					    cls ? cls : "error", desc ? desc : "(no description)");
		}
		/* {"event": ...}: not ours. */
	}
}

/* The greeting and qmp_capabilities on a connected fd (taken). */
static int handshake(int fd, const char *path, uint64_t deadline, struct kc_qmp **out,
		     kc_error_t *err)
{
	cleanup_json json_t *greeting = NULL;
	struct kc_qmp *q;
	int ret;

	q = kc_xzalloc(sizeof(*q));
	q->fd = fd;
	q->path = kc_xstrdup(path);
	ret = read_msg(q, deadline, &greeting, err);
	if (ret >= 0 && !json_object_get(greeting, "QMP"))
		ret = kc_error_set(err, EPROTO, "QMP `%s`: no greeting", path);
	if (ret >= 0)
		ret = kc_qmp_execute(q, "qmp_capabilities", NULL, NULL, deadline, err);
	if (ret < 0) {
		kc_qmp_close(q);
		return ret;
	}
	*out = q;
	return 0;
}

int kc_qmp_connect(const char *path, uint64_t deadline, struct kc_qmp **out, kc_error_t *err)
{
	cleanup_free char *uri = kc_xasprintf("unix://%s", path);
	uint64_t now = kc_monotonic_ns();
	int fd = kc_ttrpc_dial(uri, deadline > now ? deadline - now : 1, err);

	if (fd < 0)
		return kc_error_wrap(err, "QMP");
	return handshake(fd, path, deadline, out, err);
}

int kc_qmp_connect_wait(const char *path, uint64_t deadline, int abort_fd, struct kc_qmp **out,
			kc_error_t *err)
{
	cleanup_free char *uri = kc_xasprintf("unix://%s", path);
	int fd = kc_dial_retry(uri, deadline, &abort_fd, abort_fd >= 0, err);

	if (fd < 0)
		return kc_error_wrap(err, "QMP");
	return handshake(fd, path, deadline, out, err);
}

void kc_qmp_close(struct kc_qmp *q)
{
	if (!q)
		return;
	close(q->fd);
	free(q->buf);
	free(q->path);
	free(q);
}
