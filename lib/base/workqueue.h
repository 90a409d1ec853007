/*
 * workqueue.h - a work queue of string keys on the event loop, as client-go's controllers use
 * it: a key queued many times is processed once, failures come back with per-key exponential
 * back-off, delayed adds wait on the loop's clock (so tests drive them with the test clock).
 */
#ifndef KORCH_BASE_WORKQUEUE_H
#define KORCH_BASE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <korch/loop.h>
#include "base/macro.h"

struct workqueue;

/*
 * Processes one key. Returns 0 when done (the key's back-off is forgotten), or a negative value
 * to have the key retried after its back-off (5 ms doubling to 1,000 s, client-go's default
 * per-item limiter).
 */
typedef int (*workqueue_fn)(const char *key, void *userdata);

struct workqueue_options {
	int64_t base_delay_ns; /* first retry delay; 0: 5 ms */
	int64_t max_delay_ns;  /* back-off cap; 0: 1,000 s */
	size_t batch;          /* keys processed per dispatch at most; 0: 64 */
};

/* A queue whose keys are processed by fn on loop (borrowed). opts may be NULL. */
int workqueue_new(korch_loop *loop, const struct workqueue_options *opts, workqueue_fn fn,
		  void *userdata, struct workqueue **ret, korch_error **err);

/* Queues key now; a key already waiting is not queued twice. */
void workqueue_add(struct workqueue *q, const char *key);

/* Queues key after delay_ns on the loop's clock (an earlier pending time wins). */
void workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ns);

/* Queues key after its back-off, and lengthens the back-off for next time. */
void workqueue_add_rate_limited(struct workqueue *q, const char *key);

/* Resets key's back-off. */
void workqueue_forget(struct workqueue *q, const char *key);

/* How many times key has failed in a row. */
unsigned workqueue_failures(const struct workqueue *q, const char *key);

/* Keys waiting to be processed now (not counting delayed ones). */
size_t workqueue_len(const struct workqueue *q);

/* Keys waiting for a later time. */
size_t workqueue_delayed(const struct workqueue *q);

void workqueue_free(struct workqueue *q);

DEFINE_CLEANUP_FUNC(workqueue_free, struct workqueue, workqueue_free)

#endif
