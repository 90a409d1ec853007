/* The fork-join: every item exactly once, on the caller and the helpers, all done on return. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "base/parallel.h"

struct run {
	atomic_int *seen;          /* per item: how often it ran */
	atomic_int on_worker[8];   /* items per worker */
	atomic_int outside_caller; /* items run off the calling thread */
	pthread_t caller;          /* the calling thread */
	atomic_uint sink;          /* what the items computed (so that they compute it) */
};

static void
item(size_t i, unsigned w, void *userdata)
{
	struct run *r = userdata;
	atomic_fetch_add(&r->seen[i], 1);
	atomic_fetch_add(&r->on_worker[w], 1);
	if (!pthread_equal(pthread_self(), r->caller))
		atomic_fetch_add(&r->outside_caller, 1);
	/* A little work, so that helpers get a share. */
	unsigned x = 0;
	for (unsigned k = 0; k < 2000; k++)
		x = x * 31 + k;
	atomic_fetch_add(&r->sink, x);
}

static void
check_once(struct run *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(atomic_load(&r->seen[i]), 1);
}

static void
test_every_item_once(void **state)
{
	struct parallel *p = NULL;
	assert_int_equal(parallel_new(3, &p, NULL), 0);
	assert_int_equal(parallel_workers(p), 3);
	int on_helpers = 0;
	for (int round = 0; round < 50; round++) {
		size_t n = 1000 + (size_t)round;
		struct run r = { .caller = pthread_self() };
		r.seen = calloc(n, sizeof(*r.seen));
		parallel_for(p, n, 16, item, &r);
		check_once(&r, n);
		int total = 0;
		for (unsigned w = 0; w < 8; w++) {
			if (w >= 3)
				assert_int_equal(atomic_load(&r.on_worker[w]), 0);
			total += atomic_load(&r.on_worker[w]);
		}
		assert_int_equal(total, (int)n);
		/* Items off the caller ran on helpers 1 and 2 only. */
		assert_int_equal(atomic_load(&r.outside_caller),
				 atomic_load(&r.on_worker[1]) + atomic_load(&r.on_worker[2]));
		on_helpers += atomic_load(&r.outside_caller);
		free(r.seen);
	}
	/* Over 50 rounds of 1,000 items the helpers took part (a fork-join that ran everything on
	 * the caller would pass every check above). */
	assert_true(on_helpers > 0);
	parallel_free(p);
}

static void
test_small_runs_on_caller(void **state)
{
	struct parallel *p = NULL;
	assert_int_equal(parallel_new(4, &p, NULL), 0);
	struct run r = { .caller = pthread_self() };
	r.seen = calloc(31, sizeof(*r.seen));
	/* Fewer than two chunks: no helper is involved. */
	parallel_for(p, 31, 16, item, &r);
	check_once(&r, 31);
	assert_int_equal(atomic_load(&r.on_worker[0]), 31);
	assert_int_equal(atomic_load(&r.outside_caller), 0);
	parallel_for(p, 0, 16, item, &r);
	free(r.seen);
	parallel_free(p);
}

static void
test_one_worker(void **state)
{
	struct parallel *p = NULL;
	assert_int_equal(parallel_new(1, &p, NULL), 0);
	struct run r = { .caller = pthread_self() };
	r.seen = calloc(500, sizeof(*r.seen));
	parallel_for(p, 500, 8, item, &r);
	check_once(&r, 500);
	assert_int_equal(atomic_load(&r.outside_caller), 0);
	free(r.seen);
	parallel_free(p);
	/* Freed without ever being used. */
	assert_int_equal(parallel_new(0, &p, NULL), 0);
	assert_true(parallel_workers(p) >= 1 && parallel_workers(p) <= 8);
	parallel_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_item_once),
		cmocka_unit_test(test_small_runs_on_caller),
		cmocka_unit_test(test_one_worker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
