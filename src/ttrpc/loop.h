/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_LOOP_H
#define KC_TTRPC_LOOP_H

/*
 * The event loop: one per process (or per thread that owns one), built on
 * epoll.  Everything registered with a loop is used from the loop's thread
 * only, except kc_loop_post(), which any thread may call.
 *
 * One iteration: run the deferred callbacks (until none is queued), wait
 * for file descriptors or the earliest timer, dispatch the ready file
 * descriptors, then the expired timers.  Deferred callbacks are how work is
 * batched per iteration: the ttrpc connections queue one to flush their
 * output once, however many answers an iteration produced.
 *
 * Timers and deferred callbacks are intrusive: the owner embeds the struct
 * in its own object, so arming one allocates nothing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "lib/error.h"

struct kc_loop;
struct kc_loop_watch;

typedef void (*kc_loop_fn)(void *data);
/* events: the EPOLL* bits that are ready (EPOLLHUP/EPOLLERR included). */
typedef void (*kc_loop_fd_fn)(struct kc_loop_watch *w, int fd, uint32_t events, void *data);

struct kc_loop_timer {
	uint64_t deadline; /* CLOCK_MONOTONIC, ns */
	size_t index; /* position in the loop's heap, SIZE_MAX if idle */
	kc_loop_fn fn;
	void *data;
};

struct kc_loop_defer {
	struct kc_loop_defer *prev, *next;
	bool queued;
	kc_loop_fn fn;
	void *data;
};

int kc_loop_new(struct kc_loop **out, kc_error_t *err);
/* Frees the loop and any watch still registered (their fds stay open:
 * they belong to whoever registered them).  Timers and deferred callbacks
 * are owned by their embedders and simply forgotten. */
void kc_loop_free(struct kc_loop *loop);

/* CLOCK_MONOTONIC in ns as of the start of the current dispatch: cheap, and
 * the same for every callback of one iteration. */
uint64_t kc_loop_now(struct kc_loop *loop);

/*
 * Watches fd for events (EPOLLIN, EPOLLOUT, EPOLLET...); fn runs on each
 * readiness.  The loop does not own fd.  A watch may be removed at any
 * time, also from inside its own callback or another one of the same
 * iteration: no callback runs for it afterwards.  Close the fd after
 * removing its watch.
 */
int kc_loop_watch_fd(struct kc_loop *loop, int fd, uint32_t events, kc_loop_fd_fn fn, void *data,
		     struct kc_loop_watch **out, kc_error_t *err);
int kc_loop_watch_set_events(struct kc_loop_watch *w, uint32_t events, kc_error_t *err);
uint32_t kc_loop_watch_events(const struct kc_loop_watch *w);
void kc_loop_watch_remove(struct kc_loop_watch *w);

void kc_loop_timer_init(struct kc_loop_timer *t, kc_loop_fn fn, void *data);
/* Arms (or re-arms) t for the absolute CLOCK_MONOTONIC time deadline. */
void kc_loop_timer_start(struct kc_loop *loop, struct kc_loop_timer *t, uint64_t deadline);
void kc_loop_timer_stop(struct kc_loop *loop, struct kc_loop_timer *t);
static inline bool kc_loop_timer_armed(const struct kc_loop_timer *t)
{
	return t->index != SIZE_MAX;
}

void kc_loop_defer_init(struct kc_loop_defer *d, kc_loop_fn fn, void *data);
/* Queues d to run before the loop next waits; queuing it twice runs it once. */
void kc_loop_defer_queue(struct kc_loop *loop, struct kc_loop_defer *d);
void kc_loop_defer_cancel(struct kc_loop *loop, struct kc_loop_defer *d);

/* Thread-safe: runs fn(data) on the loop's thread at its next iteration. */
void kc_loop_post(struct kc_loop *loop, kc_loop_fn fn, void *data);

/* Runs iterations until kc_loop_quit().  Returns 0, or negative if waiting
 * failed. */
int kc_loop_run(struct kc_loop *loop, kc_error_t *err);
/* One iteration, waiting at most timeout_ns (negative: no limit, 0: poll).
 * Returns the number of callbacks run, or negative if waiting failed. */
int kc_loop_run_once(struct kc_loop *loop, int64_t timeout_ns, kc_error_t *err);
void kc_loop_quit(struct kc_loop *loop);

#endif
