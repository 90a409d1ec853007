/* The work queue: de-duplication, delayed adds and back-off on the test clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/loop.h"
#include "base/strbuf.h"
#include "base/workqueue.h"

struct rec {
	struct strbuf log; /* "key@seconds " per call */
	korch_clock *clock;
	int fail_left; /* calls for "bad" that fail */
};

static int
process(const char *key, void *userdata)
{
	struct rec *r = userdata;
	int64_t s = (korch_clock_now_ns(r->clock) - NSEC_PER_SEC) / NSEC_PER_MSEC;
	strbuf_printf(&r->log, "%s@%lld ", key, (long long)s);
	if (strcmp(key, "bad") == 0 && r->fail_left > 0) {
		r->fail_left--;
		return -1;
	}
	return 0;
}

static void
test_dedup_delay_backoff(void **state)
{
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_test(0, &clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct rec r = { .log = STRBUF_INIT, .clock = clock, .fail_left = 3 };
	struct workqueue *q = NULL;
	assert_int_equal(workqueue_new(loop, NULL, process, &r, &q, NULL), 0);
	workqueue_add(q, "a");
	workqueue_add(q, "b");
	workqueue_add(q, "a");
	assert_int_equal(workqueue_len(q), 2);
	assert_int_equal(korch_loop_dispatch(loop, 0, NULL), 1);
	assert_string_equal(strbuf_str(&r.log), "a@0 b@0 ");
	strbuf_truncate(&r.log, 0);

	/* Delayed: an earlier time wins over a later one for the same key. */
	workqueue_add_after(q, "late", 2 * NSEC_PER_SEC);
	workqueue_add_after(q, "late", 1 * NSEC_PER_SEC);
	workqueue_add_after(q, "late", 3 * NSEC_PER_SEC);
	assert_int_equal(workqueue_delayed(q), 1);
	/* Back-off: 5 ms, 10 ms, 20 ms, then success forgets it. */
	workqueue_add(q, "bad");
	assert_int_equal(korch_loop_advance(loop, 5 * NSEC_PER_SEC, NULL), 0);
	assert_string_equal(strbuf_str(&r.log), "bad@0 bad@5 bad@15 bad@35 late@1000 ");
	assert_int_equal(workqueue_failures(q, "bad"), 0);
	assert_int_equal(workqueue_delayed(q), 0);
	workqueue_free(q);
	korch_loop_free(loop);
	korch_clock_free(clock);
	strbuf_free(&r.log);
}

static void
test_backoff_cap(void **state)
{
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_test(0, &clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct rec r = { .log = STRBUF_INIT, .clock = clock, .fail_left = 100 };
	struct workqueue_options o = { .base_delay_ns = NSEC_PER_SEC,
				       .max_delay_ns = 4 * NSEC_PER_SEC };
	struct workqueue *q = NULL;
	assert_int_equal(workqueue_new(loop, &o, process, &r, &q, NULL), 0);
	workqueue_add(q, "bad");
	assert_int_equal(korch_loop_advance(loop, 20 * NSEC_PER_SEC, NULL), 0);
	/* 1, 2, 4, then 4 s each. */
	assert_string_equal(strbuf_str(&r.log),
			    "bad@0 bad@1000 bad@3000 bad@7000 bad@11000 bad@15000 bad@19000 ");
	assert_int_equal(workqueue_failures(q, "bad"), 7);
	workqueue_free(q);
	korch_loop_free(loop);
	korch_clock_free(clock);
	strbuf_free(&r.log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedup_delay_backoff),
		cmocka_unit_test(test_backoff_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
