/*
 * workqueue.c - de-duplicating key queue with delayed and rate-limited adds, processed by a
 * deferred call on the loop, a bounded batch per dispatch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/loop.h"
#include "base/vec.h"
#include "base/workqueue.h"

struct delayed {
	struct workqueue *q;       /* owner */
	char *key;                 /* the key waiting */
	struct loop_source *timer; /* fires at the due time */
};

struct workqueue {
	korch_loop *loop;              /* borrowed */
	workqueue_fn fn;               /* processes a key */
	void *userdata;                /* for fn */
	struct workqueue_options opts; /* with defaults filled in */
	struct ptrvec ready;           /* char *: keys to process, FIFO */
	size_t ready_head;             /* index of the first unprocessed key in ready */
	struct hashmap queued;         /* keys in ready (values unused) */
	struct hashmap delayed;        /* key -> struct delayed * */
	struct hashmap failures;       /* key -> (uintptr_t) consecutive failures */
	struct loop_source *defer;     /* processes ready keys at the end of a dispatch */
};

static void
process(struct loop_source *src, void *userdata)
{
	struct workqueue *q = userdata;
	for (size_t n = 0; n < q->opts.batch && q->ready_head < q->ready.n; n++) {
		char *key = q->ready.items[q->ready_head];
		q->ready.items[q->ready_head++] = NULL;
		hashmap_remove(&q->queued, key);
		int r = q->fn(key, q->userdata);
		if (r < 0)
			workqueue_add_rate_limited(q, key);
		else
			workqueue_forget(q, key);
		free(key);
	}
	if (q->ready_head == q->ready.n) {
		q->ready.n = 0;
		q->ready_head = 0;
	} else {
		loop_defer_enable(q->defer);
	}
}

int
workqueue_new(korch_loop *loop, const struct workqueue_options *opts, workqueue_fn fn,
	      void *userdata, struct workqueue **ret, korch_error **err)
{
	struct workqueue *q = calloc(1, sizeof(*q));
	if (!q)
		return error_oom(err);
	q->loop = loop;
	q->fn = fn;
	q->userdata = userdata;
	if (opts)
		q->opts = *opts;
	if (!q->opts.base_delay_ns)
		q->opts.base_delay_ns = 5 * NSEC_PER_MSEC;
	if (!q->opts.max_delay_ns)
		q->opts.max_delay_ns = 1000 * NSEC_PER_SEC;
	if (!q->opts.batch)
		q->opts.batch = 64;
	int r = loop_add_defer(loop, process, q, &q->defer, err);
	if (r < 0) {
		free(q);
		return r;
	}
	*ret = q;
	return 0;
}

void
workqueue_add(struct workqueue *q, const char *key)
{
	if (hashmap_contains(&q->queued, key))
		return;
	char *copy = strdup(key);
	if (!copy || hashmap_put(&q->queued, key, NULL, NULL) < 0) {
		free(copy);
		return;
	}
	if (ptrvec_push(&q->ready, copy) < 0) {
		hashmap_remove(&q->queued, key);
		free(copy);
		return;
	}
	loop_defer_enable(q->defer);
}

static void
delayed_free(struct delayed *d)
{
	loop_source_free(d->timer);
	free(d->key);
	free(d);
}

static void
on_delayed(struct loop_source *src, void *userdata)
{
	struct delayed *d = userdata;
	struct workqueue *q = d->q;
	hashmap_remove(&q->delayed, d->key);
	workqueue_add(q, d->key);
	delayed_free(d);
}

void
workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ns)
{
	if (delay_ns <= 0) {
		workqueue_add(q, key);
		return;
	}
	int64_t due = korch_clock_now_ns(korch_loop_clock(q->loop)) + delay_ns;
	struct delayed *d = hashmap_get(&q->delayed, key);
	if (d) {
		if (loop_timer_deadline(d->timer) > due)
			loop_timer_set(d->timer, due);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d || !(d->key = strdup(key))) {
		free(d);
		return;
	}
	d->q = q;
	if (loop_add_timer(q->loop, due, on_delayed, d, &d->timer, NULL) < 0 ||
	    hashmap_put(&q->delayed, key, d, NULL) < 0) {
		delayed_free(d);
		return;
	}
}

unsigned
workqueue_failures(const struct workqueue *q, const char *key)
{
	return (unsigned)(uintptr_t)hashmap_get(&q->failures, key);
}

void
workqueue_add_rate_limited(struct workqueue *q, const char *key)
{
	unsigned n = workqueue_failures(q, key);
	int64_t delay = q->opts.base_delay_ns;
	for (unsigned i = 0; i < n && delay < q->opts.max_delay_ns; i++)
		delay *= 2;
	if (delay > q->opts.max_delay_ns)
		delay = q->opts.max_delay_ns;
	hashmap_put(&q->failures, key, (void *)(uintptr_t)(n + 1), NULL);
	workqueue_add_after(q, key, delay);
}

void
workqueue_forget(struct workqueue *q, const char *key)
{
	hashmap_remove(&q->failures, key);
}

size_t
workqueue_len(const struct workqueue *q)
{
	return q->ready.n - q->ready_head;
}

size_t
workqueue_delayed(const struct workqueue *q)
{
	return q->delayed.n;
}

void
workqueue_free(struct workqueue *q)
{
	if (!q)
		return;
	for (size_t i = q->ready_head; i < q->ready.n; i++)
		free(q->ready.items[i]);
	ptrvec_free(&q->ready, NULL);
	hashmap_free(&q->queued, NULL);
	hashmap_free(&q->delayed, (void (*)(void *))delayed_free);
	hashmap_free(&q->failures, NULL);
	loop_source_free(q->defer);
	free(q);
}
