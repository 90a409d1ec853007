/* The worker pool: work on threads, completions on the loop, cancel on free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/pool.h"

struct job_state {
	pthread_t loop_thread; /* the test's own thread */
	atomic_int worked;     /* work functions run */
	int done;              /* completions seen (loop thread only) */
	int canceled;          /* completions with canceled = true */
	bool done_on_loop;     /* every completion ran on the loop thread */
	unsigned sleep_us;     /* how long each work item blocks */
};

static void
work(void *userdata)
{
	struct job_state *s = userdata;
	if (s->sleep_us)
		usleep(s->sleep_us);
	atomic_fetch_add(&s->worked, 1);
}

static void
done(void *userdata, bool canceled)
{
	struct job_state *s = userdata;
	s->done++;
	if (canceled)
		s->canceled++;
	if (!pthread_equal(pthread_self(), s->loop_thread))
		s->done_on_loop = false;
}

static void
test_pool_runs_and_reports(void **state)
{
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct pool *pool = NULL;
	assert_int_equal(pool_new(loop, 3, &pool, NULL), 0);
	assert_int_equal(pool_threads(pool), 0);
	struct job_state s = { .loop_thread = pthread_self(), .done_on_loop = true };
	for (int i = 0; i < 50; i++)
		assert_int_equal(pool_submit(pool, work, done, &s, NULL), 0);
	for (int i = 0; i < 500 && s.done < 50; i++)
		assert_true(korch_loop_dispatch(loop, 100, NULL) >= 0);
	assert_int_equal(s.done, 50);
	assert_int_equal(atomic_load(&s.worked), 50);
	assert_int_equal(s.canceled, 0);
	assert_true(s.done_on_loop);
	assert_true(pool_threads(pool) >= 1 && pool_threads(pool) <= 3);
	pool_free(pool);
}

static void
test_pool_free_cancels(void **state)
{
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct pool *pool = NULL;
	assert_int_equal(pool_new(loop, 1, &pool, NULL), 0);
	struct job_state s = { .loop_thread = pthread_self(),
			       .done_on_loop = true,
			       .sleep_us = 20000 };
	for (int i = 0; i < 10; i++)
		assert_int_equal(pool_submit(pool, work, done, &s, NULL), 0);
	usleep(5000);
	pool_free(pool);
	/* Every job got exactly one completion; those that never ran say so. */
	assert_int_equal(s.done, 10);
	assert_int_equal(s.done - s.canceled, atomic_load(&s.worked));
	assert_true(s.canceled >= 1);
	assert_true(s.done_on_loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_runs_and_reports),
		cmocka_unit_test(test_pool_free_cancels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
