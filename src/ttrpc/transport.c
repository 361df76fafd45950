/* SPDX-License-Identifier: Apache-2.0 */
#include "transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"
#include "loop.h"

#define VIRTIO_PORTS_DIR "/sys/class/virtio-ports"

static int parse_u32(const char *s, size_t len, uint32_t *out)
{
	char buf[16];
	unsigned long long v;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!kc_parse_u64(buf, &v) || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int set_path(struct kc_ttrpc_addr *addr, const char *uri, const char *p, size_t len,
		    kc_error_t *err)
{
	if (len == 0)
		return kc_error_set(err, EINVAL, "address `%s`: empty path", uri);
	if (len >= sizeof(addr->path))
		return kc_error_set(err, ENAMETOOLONG, "address `%s`", uri);
	memcpy(addr->path, p, len);
	addr->path[len] = '\0';
	return 0;
}

/* "PATH:PORT" with the port after the last colon. */
static int split_port(const char *uri, const char *s, size_t *path_len, uint32_t *port,
		      kc_error_t *err)
{
	const char *colon = strrchr(s, ':');

	if (colon == NULL || parse_u32(colon + 1, strlen(colon + 1), port) < 0)
		return kc_error_set(err, EINVAL, "address `%s`: expected <...>:<port>", uri);
	*path_len = (size_t)(colon - s);
	return 0;
}

int kc_ttrpc_addr_parse(const char *uri, struct kc_ttrpc_addr *addr, kc_error_t *err)
{
	const char *rest;
	size_t len;
	int ret;

	memset(addr, 0, sizeof(*addr));
	if (uri[0] == '/' || uri[0] == '@') {
		addr->kind = KC_TTRPC_ADDR_UNIX;
		return set_path(addr, uri, uri, strlen(uri), err);
	}
	if (strncmp(uri, "unix://", 7) == 0) {
		rest = uri + 7;
		addr->kind = KC_TTRPC_ADDR_UNIX;
		return set_path(addr, uri, rest, strlen(rest), err);
	}
	if (strncmp(uri, "serial://", 9) == 0) {
		rest = uri + 9;
		addr->kind = KC_TTRPC_ADDR_SERIAL;
		return set_path(addr, uri, rest, strlen(rest), err);
	}
	if (strncmp(uri, "hvsock://", 9) == 0) {
		rest = uri + 9;
		addr->kind = KC_TTRPC_ADDR_HVSOCK;
		ret = split_port(uri, rest, &len, &addr->port, err);
		if (ret < 0)
			return ret;
		return set_path(addr, uri, rest, len, err);
	}
	if (strncmp(uri, "vsock://", 8) == 0) {
		rest = uri + 8;
		addr->kind = KC_TTRPC_ADDR_VSOCK;
		ret = split_port(uri, rest, &len, &addr->port, err);
		if (ret < 0)
			return ret;
		if ((len == 2 && strncmp(rest, "-1", 2) == 0) ||
		    (len == 3 && strncmp(rest, "any", 3) == 0))
			addr->cid = KC_TTRPC_VSOCK_CID_ANY;
		else if (parse_u32(rest, len, &addr->cid) < 0)
			return kc_error_set(err, EINVAL, "address `%s`: bad vsock CID", uri);
		return 0;
	}
	return kc_error_set(err, EINVAL,
			    "address `%s`: unknown scheme (unix, vsock, hvsock, serial)", uri);
}

static int unix_sockaddr(const char *path, struct sockaddr_un *sun, socklen_t *len, kc_error_t *err)
{
	size_t n = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n >= sizeof(sun->sun_path))
		return kc_error_set(err, ENAMETOOLONG, "unix socket `%s`", path);
	memcpy(sun->sun_path, path, n);
	if (path[0] == '@')
		sun->sun_path[0] = '\0'; /* abstract: no trailing NUL counted */
	else
		n++;
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	return 0;
}

/* Milliseconds left until deadline (ns, 0 = none), for poll(). */
static int ms_left(uint64_t deadline)
{
	uint64_t now;

	if (deadline == 0)
		return -1;
	now = kc_monotonic_ns();
	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999) / 1000000);
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int n = poll(&pfd, 1, ms_left(deadline));

		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int connect_fd(int fd, const struct sockaddr *sa, socklen_t len, uint64_t deadline)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	int ret;

	for (;;) {
		if (connect(fd, sa, len) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* A unix listener with a full backlog: try again shortly. */
		if (errno == EAGAIN && sa->sa_family == AF_UNIX) {
			if (deadline != 0 && kc_monotonic_ns() >= deadline)
				return -ETIMEDOUT;
			usleep(1000);
			continue;
		}
		if (errno != EINPROGRESS)
			return -errno;
		break;
	}
	ret = wait_fd(fd, POLLOUT, deadline);
	if (ret < 0)
		return ret;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -errno;
	return soerr ? -soerr : 0;
}

static int dial_unix(const char *path, uint64_t deadline, const char *what, kc_error_t *err)
{
	cleanup_close int fd = -1;
	struct sockaddr_un sun;
	socklen_t len = 0;
	int ret;

	ret = unix_sockaddr(path, &sun, &len, err);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kc_error_set(err, errno, "socket AF_UNIX");
	ret = connect_fd(fd, (struct sockaddr *)&sun, len, deadline);
	if (ret < 0)
		return kc_error_set(err, -ret, "connect %s `%s`", what, path);
	return kc_steal_fd(&fd);
}

static int dial_vsock(uint32_t cid, uint32_t port, uint64_t deadline, kc_error_t *err)
{
	cleanup_close int fd = -1;
	struct sockaddr_vm svm = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int ret;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kc_error_set(err, errno, "socket AF_VSOCK");
	ret = connect_fd(fd, (struct sockaddr *)&svm, sizeof(svm), deadline);
	if (ret < 0)
		return kc_error_set(err, -ret, "connect vsock://%u:%u", cid, port);
	return kc_steal_fd(&fd);
}

/*
 * The hybrid vsock handshake.  The reply is read a byte at a time so that
 * nothing after its newline (the guest's first bytes) is consumed here.
 */
static int hvsock_handshake(int fd, const struct kc_ttrpc_addr *addr, uint64_t deadline,
			    kc_error_t *err)
{
	char req[32], reply[64];
	size_t off = 0, len;
	int ret;

	len = (size_t)snprintf(req, sizeof(req), "CONNECT %u\n", addr->port);
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			ret = wait_fd(fd, POLLOUT, deadline);
			if (ret < 0)
				return kc_error_set(err, -ret, "hybrid vsock `%s`: CONNECT %u",
						    addr->path, addr->port);
			continue;
		}
		if (n < 0 && errno != EINTR)
			return kc_error_set(err, errno, "hybrid vsock `%s`: CONNECT %u", addr->path,
					    addr->port);
		if (n > 0)
			off += (size_t)n;
	}
	off = 0;
	for (;;) {
		ssize_t n;

		if (off == sizeof(reply) - 1)
			return kc_error_set(err, EPROTO, "hybrid vsock `%s`: reply too long",
					    addr->path);
		n = recv(fd, reply + off, 1, 0);
		if (n == 1) {
			if (reply[off] == '\n')
				break;
			off++;
			continue;
		}
		if (n == 0)
			return kc_error_set(err, ECONNREFUSED,
					    "hybrid vsock `%s`: port %u: connection closed "
					    "before OK (nobody listens in the guest?)",
					    addr->path, addr->port);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return kc_error_set(err, errno, "hybrid vsock `%s`: reading reply",
					    addr->path);
		ret = wait_fd(fd, POLLIN, deadline);
		if (ret < 0)
			return kc_error_set(err, -ret, "hybrid vsock `%s`: waiting for OK",
					    addr->path);
	}
	reply[off] = '\0';
	if (off > 0 && reply[off - 1] == '\r')
		reply[off - 1] = '\0';
	if (strncmp(reply, "OK ", 3) != 0 && strcmp(reply, "OK") != 0)
		return kc_error_set(err, ECONNREFUSED, "hybrid vsock `%s`: port %u refused: `%s`",
				    addr->path, addr->port, reply);
	return 0;
}

int kc_ttrpc_dial_addr(const struct kc_ttrpc_addr *addr, uint64_t timeout_ns, kc_error_t *err)
{
	uint64_t deadline = timeout_ns ? kc_monotonic_ns() + timeout_ns : 0;
	cleanup_close int fd = -1;
	int ret;

	switch (addr->kind) {
	case KC_TTRPC_ADDR_UNIX:
		return dial_unix(addr->path, deadline, "unix socket", err);
	case KC_TTRPC_ADDR_SERIAL:
		/* The host end of a virtio-serial port: QEMU's chardev socket. */
		return dial_unix(addr->path, deadline, "serial port socket", err);
	case KC_TTRPC_ADDR_VSOCK:
		return dial_vsock(addr->cid, addr->port, deadline, err);
	case KC_TTRPC_ADDR_HVSOCK:
		fd = dial_unix(addr->path, deadline, "hybrid vsock", err);
		if (fd < 0)
			return fd;
		ret = hvsock_handshake(fd, addr, deadline, err);
		if (ret < 0)
			return ret;
		return kc_steal_fd(&fd);
	}
	return kc_error_set(err, EINVAL, "dial: bad address kind");
}

int kc_ttrpc_dial(const char *uri, uint64_t timeout_ns, kc_error_t *err)
{
	struct kc_ttrpc_addr addr;
	int ret = kc_ttrpc_addr_parse(uri, &addr, err);

	if (ret < 0)
		return ret;
	return kc_ttrpc_dial_addr(&addr, timeout_ns, err);
}

int kc_ttrpc_listen_addr(const struct kc_ttrpc_addr *addr, kc_error_t *err)
{
	cleanup_close int fd = -1;

	if (addr->kind == KC_TTRPC_ADDR_UNIX) {
		struct sockaddr_un sun;
		socklen_t len = 0;
		int ret = unix_sockaddr(addr->path, &sun, &len, err);

		if (ret < 0)
			return ret;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return kc_error_set(err, errno, "socket AF_UNIX");
		if (bind(fd, (struct sockaddr *)&sun, len) < 0)
			return kc_error_set(err, errno, "bind `%s`", addr->path);
		if (listen(fd, SOMAXCONN) < 0)
			return kc_error_set(err, errno, "listen `%s`", addr->path);
		return kc_steal_fd(&fd);
	}
	if (addr->kind == KC_TTRPC_ADDR_VSOCK) {
		struct sockaddr_vm svm = {
			.svm_family = AF_VSOCK,
			.svm_cid = addr->cid,
			.svm_port = addr->port,
		};

		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return kc_error_set(err, errno, "socket AF_VSOCK");
		if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0)
			return kc_error_set(err, errno, "bind vsock port %u", addr->port);
		if (listen(fd, SOMAXCONN) < 0)
			return kc_error_set(err, errno, "listen vsock port %u", addr->port);
		return kc_steal_fd(&fd);
	}
	return kc_error_set(err, EINVAL, "listen: %s addresses cannot be listened on",
			    addr->kind == KC_TTRPC_ADDR_HVSOCK ? "hvsock" : "serial");
}

int kc_ttrpc_listen(const char *uri, kc_error_t *err)
{
	struct kc_ttrpc_addr addr;
	int ret = kc_ttrpc_addr_parse(uri, &addr, err);

	if (ret < 0)
		return ret;
	return kc_ttrpc_listen_addr(&addr, err);
}

/* ---- virtio-serial ports (guest side) ---- */

int kc_ttrpc_serial_find(const char *sysfs_dir, const char *name, char **dev_path, kc_error_t *err)
{
	DIR *d = opendir(sysfs_dir);
	struct dirent *de;
	int ret = -ENOENT;

	if (d == NULL)
		return kc_error_set(err, errno, "open `%s`", sysfs_dir);
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *path = NULL;
		cleanup_free char *content = NULL;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		path = kc_xasprintf("%s/%s/name", sysfs_dir, de->d_name);
		if (kc_read_file(path, 4096, &content, &len, NULL) < 0)
			continue;
		while (len > 0 && (content[len - 1] == '\n' || content[len - 1] == ' '))
			content[--len] = '\0';
		if (strcmp(content, name) == 0) {
			*dev_path = kc_xasprintf("/dev/%s", de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	if (ret < 0)
		return kc_error_set(err, ENOENT, "virtio port named `%s` under `%s`", name,
				    sysfs_dir);
	return ret;
}

int kc_ttrpc_serial_open(const char *name_or_path, kc_error_t *err)
{
	cleanup_free char *found = NULL;
	const char *path = name_or_path;
	int fd;

	if (name_or_path[0] != '/') {
		int ret = kc_ttrpc_serial_find(VIRTIO_PORTS_DIR, name_or_path, &found, err);

		if (ret < 0)
			return ret;
		path = found;
	}
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return kc_error_set(err, errno, "open serial port `%s`", path);
	return fd;
}
