/* SPDX-License-Identifier: Apache-2.0 */
/* The event loop: fd watches, timers, deferred and posted callbacks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/util.h"
#include "ttrpc/loop.h"

struct log {
	int order[64];
	int n;
};

struct timer_item {
	struct kc_loop_timer t;
	struct log *log;
	int id;
};

static void timer_fired(void *data)
{
	struct timer_item *it = data;

	it->log->order[it->log->n++] = it->id;
}

static void test_timers_in_order(void **state)
{
	struct kc_loop *loop;
	struct log log = { 0 };
	struct timer_item items[20];
	uint64_t now = kc_monotonic_ns();
	/* Deadlines in scrambled order; 7 and 13 are cancelled, 4 re-armed. */
	static const int ms[20] = { 9,	3, 15, 1, 12, 6, 18, 2,	 11, 5,
				    16, 8, 14, 4, 19, 7, 10, 17, 13, 20 };

	(void)state;
	assert_int_equal(kc_loop_new(&loop, NULL), 0);
	for (int i = 0; i < 20; i++) {
		items[i].log = &log;
		items[i].id = ms[i];
		kc_loop_timer_init(&items[i].t, timer_fired, &items[i]);
		assert_false(kc_loop_timer_armed(&items[i].t));
		kc_loop_timer_start(loop, &items[i].t, now + (uint64_t)ms[i] * 1000000);
	}
	kc_loop_timer_stop(loop, &items[15].t); /* 7 */
	kc_loop_timer_stop(loop, &items[18].t); /* 13 */
	kc_loop_timer_stop(loop, &items[18].t); /* twice is fine */
	kc_loop_timer_start(loop, &items[13].t, now + 30 * 1000000); /* 4 goes last */
	while (log.n < 18)
		assert_true(kc_loop_run_once(loop, -1, NULL) >= 0);
	assert_true(kc_monotonic_ns() - now >= 30 * 1000000);
	for (int i = 1; i < 18; i++)
		assert_true(log.order[i - 1] < log.order[i] || log.order[i] == 4);
	assert_int_equal(log.order[17], 4);
	for (int i = 0; i < 18; i++) {
		assert_int_not_equal(log.order[i], 7);
		assert_int_not_equal(log.order[i], 13);
	}
	kc_loop_free(loop);
}

struct watch_fx {
	struct kc_loop *loop;
	int efd[2];
	struct kc_loop_watch *w[2];
	int fired[2];
};

/* Each callback removes the other watch: whichever runs first, the other
 * must not run in the same iteration (its event is already collected). */
static void on_efd(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct watch_fx *fx = data;
	int me = fd == fx->efd[0] ? 0 : 1;
	uint64_t v;

	(void)w;
	assert_true(events & EPOLLIN);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	fx->fired[me]++;
	kc_loop_watch_remove(fx->w[1 - me]);
	fx->w[1 - me] = NULL;
}

static void test_watch_removed_during_dispatch(void **state)
{
	struct watch_fx fx = { 0 };
	uint64_t one = 1;

	(void)state;
	assert_int_equal(kc_loop_new(&fx.loop, NULL), 0);
	for (int i = 0; i < 2; i++) {
		fx.efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		assert_int_equal(kc_loop_watch_fd(fx.loop, fx.efd[i], EPOLLIN, on_efd, &fx,
						  &fx.w[i], NULL),
				 0);
	}
	assert_int_equal(write(fx.efd[0], &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(fx.efd[1], &one, sizeof(one)), sizeof(one));
	assert_int_equal(kc_loop_run_once(fx.loop, 1000000000, NULL), 1);
	assert_int_equal(fx.fired[0] + fx.fired[1], 1);
	/* The survivor still works; its events can be changed. */
	for (int i = 0; i < 2; i++) {
		if (fx.w[i] == NULL)
			continue;
		assert_int_equal(kc_loop_watch_events(fx.w[i]), EPOLLIN);
		assert_int_equal(kc_loop_watch_set_events(fx.w[i], 0, NULL), 0);
		assert_int_equal(write(fx.efd[i], &one, sizeof(one)), sizeof(one));
		assert_int_equal(kc_loop_run_once(fx.loop, 10 * 1000000, NULL), 0);
		assert_int_equal(kc_loop_watch_set_events(fx.w[i], EPOLLIN, NULL), 0);
		assert_int_equal(kc_loop_run_once(fx.loop, 10 * 1000000, NULL), 1);
	}
	/* A watch left registered is freed with the loop. */
	kc_loop_free(fx.loop);
	close(fx.efd[0]);
	close(fx.efd[1]);
}

struct defer_fx;

struct defer_item {
	struct kc_loop_defer d;
	struct defer_fx *fx;
	int id;
};

struct defer_fx {
	struct kc_loop *loop;
	struct defer_item items[3];
	struct log log;
};

static void deferred(void *data)
{
	struct defer_item *it = data;
	struct defer_fx *fx = it->fx;

	fx->log.order[fx->log.n++] = it->id;
	/* The first one queues the third from inside the run. */
	if (it->id == 0)
		kc_loop_defer_queue(fx->loop, &fx->items[2].d);
}

static void test_defer(void **state)
{
	struct defer_fx fx = { 0 };

	(void)state;
	assert_int_equal(kc_loop_new(&fx.loop, NULL), 0);
	for (int i = 0; i < 3; i++) {
		fx.items[i].fx = &fx;
		fx.items[i].id = i;
		kc_loop_defer_init(&fx.items[i].d, deferred, &fx.items[i]);
	}
	kc_loop_defer_queue(fx.loop, &fx.items[0].d);
	kc_loop_defer_queue(fx.loop, &fx.items[1].d);
	kc_loop_defer_queue(fx.loop, &fx.items[0].d); /* once */
	/* Deferred work runs before waiting, and does not wait afterwards. */
	assert_int_equal(kc_loop_run_once(fx.loop, -1, NULL), 3);
	assert_int_equal(fx.log.n, 3);
	assert_int_equal(fx.log.order[0], 0);
	assert_int_equal(fx.log.order[1], 1);
	assert_int_equal(fx.log.order[2], 2);
	kc_loop_defer_queue(fx.loop, &fx.items[1].d);
	kc_loop_defer_cancel(fx.loop, &fx.items[1].d);
	assert_int_equal(kc_loop_run_once(fx.loop, 0, NULL), 0);
	assert_int_equal(fx.log.n, 3);
	kc_loop_free(fx.loop);
}

struct post_fx {
	struct kc_loop *loop;
	int count;
};

static void posted(void *data)
{
	struct post_fx *fx = data;

	if (++fx->count == 4000)
		kc_loop_quit(fx->loop);
}

static void *poster(void *arg)
{
	struct post_fx *fx = arg;

	for (int i = 0; i < 1000; i++)
		kc_loop_post(fx->loop, posted, fx);
	return NULL;
}

static void test_post_from_threads(void **state)
{
	struct post_fx fx = { 0 };
	pthread_t th[4];

	(void)state;
	assert_int_equal(kc_loop_new(&fx.loop, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, poster, &fx);
	assert_int_equal(kc_loop_run(fx.loop, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(fx.count, 4000);
	/* Posted but never run: freed with the loop. */
	kc_loop_post(fx.loop, posted, &fx);
	kc_loop_free(fx.loop);
}

static void quit_soon(void *data)
{
	kc_loop_quit(data);
}

static void test_run_and_quit(void **state)
{
	struct kc_loop *loop;
	struct kc_loop_timer t;
	uint64_t start = kc_monotonic_ns();

	(void)state;
	assert_int_equal(kc_loop_new(&loop, NULL), 0);
	kc_loop_timer_init(&t, quit_soon, loop);
	kc_loop_timer_start(loop, &t, start + 20 * 1000000);
	assert_int_equal(kc_loop_run(loop, NULL), 0);
	assert_true(kc_monotonic_ns() - start >= 20 * 1000000);
	assert_true(kc_loop_now(loop) >= start);
	/* A timeout with nothing to do returns after it. */
	start = kc_monotonic_ns();
	assert_int_equal(kc_loop_run_once(loop, 5 * 1000000, NULL), 0);
	assert_true(kc_monotonic_ns() - start >= 5 * 1000000);
	kc_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_in_order),
		cmocka_unit_test(test_watch_removed_during_dispatch),
		cmocka_unit_test(test_defer),
		cmocka_unit_test(test_post_from_threads),
		cmocka_unit_test(test_run_and_quit),
	};

	return cmocka_run_group_tests_name("ttrpc-loop", tests, NULL, NULL);
}
