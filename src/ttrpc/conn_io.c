/* SPDX-License-Identifier: Apache-2.0 */
#include "conn_io.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int kc_ttrpc_set_nonblock(int fd, kc_error_t *err)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return kc_error_set(err, errno, "fcntl fd %d", fd);
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return kc_error_set(err, errno, "fcntl O_NONBLOCK fd %d", fd);
	return 0;
}

static void update_events(struct kc_ttrpc_io *io)
{
	uint32_t ev = (io->reading ? EPOLLIN : 0) | (io->want_out ? EPOLLOUT : 0);

	if (io->watch != NULL)
		kc_loop_watch_set_events(io->watch, ev, NULL);
}

int kc_ttrpc_io_init(struct kc_ttrpc_io *io, struct kc_loop *loop, int fd, kc_loop_fd_fn on_event,
		     kc_loop_fn on_flush, void *data, kc_error_t *err)
{
	struct stat st;
	int ret;

	io->loop = loop;
	io->fd = fd;
	io->reading = true;
	io->want_out = false;
	io->watch = NULL;
	io->is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	kc_loop_defer_init(&io->flush, on_flush, data);
	ret = kc_ttrpc_set_nonblock(fd, err);
	if (ret == 0)
		ret = kc_loop_watch_fd(loop, fd, EPOLLIN, on_event, data, &io->watch, err);
	if (ret < 0) {
		close(fd);
		io->fd = -1;
		return ret;
	}
	return 0;
}

void kc_ttrpc_io_close(struct kc_ttrpc_io *io)
{
	kc_loop_defer_cancel(io->loop, &io->flush);
	kc_loop_watch_remove(io->watch);
	io->watch = NULL;
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
	kc_ttrpc_writer_release(&io->out);
}

void kc_ttrpc_io_set_reading(struct kc_ttrpc_io *io, bool reading)
{
	if (io->reading == reading)
		return;
	io->reading = reading;
	update_events(io);
}

ssize_t kc_ttrpc_io_read(struct kc_ttrpc_io *io, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(io->fd, buf, len);

		if (n > 0)
			return n;
		if (n == 0) {
			errno = 0;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		return -1;
	}
}

int kc_ttrpc_io_flush(struct kc_ttrpc_io *io)
{
	while (kc_ttrpc_writer_pending(&io->out) > 0) {
		const uint8_t *p = io->out.buf + io->out.start;
		size_t len = kc_ttrpc_writer_pending(&io->out);
		ssize_t n;

		/* MSG_NOSIGNAL: a peer that went away is an error to handle,
		 * not a SIGPIPE for the whole process. */
		if (io->is_socket)
			n = send(io->fd, p, len, MSG_NOSIGNAL);
		else
			n = write(io->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (!io->want_out) {
					io->want_out = true;
					update_events(io);
				}
				return 1;
			}
			return -1;
		}
		kc_ttrpc_writer_consume(&io->out, (size_t)n);
	}
	if (io->want_out) {
		io->want_out = false;
		update_events(io);
	}
	return 0;
}
