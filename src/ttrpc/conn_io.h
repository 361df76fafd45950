/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_CONN_IO_H
#define KC_TTRPC_CONN_IO_H

/*
 * The byte-stream plumbing that server and client connections share: a
 * nonblocking fd watched by the loop, and an output buffer flushed once per
 * loop iteration (a deferred callback) or when the fd becomes writable.
 *
 * These helpers never call back into their owner: the owner's own watch and
 * deferred callbacks decide what to do with the results, so that an owner
 * that frees itself never leaves a helper touching freed memory.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "frame.h"
#include "lib/error.h"
#include "loop.h"

struct kc_ttrpc_io {
	struct kc_loop *loop;
	int fd;
	bool is_socket;
	bool reading; /* EPOLLIN wanted */
	bool want_out; /* output left over: EPOLLOUT wanted */
	struct kc_loop_watch *watch;
	struct kc_ttrpc_writer out;
	struct kc_loop_defer flush;
};

int kc_ttrpc_set_nonblock(int fd, kc_error_t *err);

/* Takes ownership of fd (closed on failure too); watches it for input with
 * on_event and flushes through on_flush, both called with data. */
int kc_ttrpc_io_init(struct kc_ttrpc_io *io, struct kc_loop *loop, int fd, kc_loop_fd_fn on_event,
		     kc_loop_fn on_flush, void *data, kc_error_t *err);
/* Removes the watch, closes the fd, drops pending output. */
void kc_ttrpc_io_close(struct kc_ttrpc_io *io);
void kc_ttrpc_io_set_reading(struct kc_ttrpc_io *io, bool reading);
/* > 0: bytes read; 0: nothing now; < 0: end of stream (errno 0) or error. */
ssize_t kc_ttrpc_io_read(struct kc_ttrpc_io *io, void *buf, size_t len);
static inline void kc_ttrpc_io_queue_flush(struct kc_ttrpc_io *io)
{
	kc_loop_defer_queue(io->loop, &io->flush);
}
/* Writes what the fd takes: 0 all written, 1 some left (EPOLLOUT armed),
 * -1 the stream is broken. */
int kc_ttrpc_io_flush(struct kc_ttrpc_io *io);

#endif
