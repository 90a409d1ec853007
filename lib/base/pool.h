/*
 * pool.h - a small pool of worker threads for work that must block (fsync-heavy batches, git
 * fetches, image unpacking). Work runs on a worker; its completion runs on the loop's thread.
 *
 * The pool starts threads lazily, up to its size; an embedder counting threads sees only these.
 */
#ifndef KORCH_BASE_POOL_H
#define KORCH_BASE_POOL_H

#include <stdbool.h>
#include <korch/loop.h>
#include "base/macro.h"

struct pool;

/* Runs on a worker thread; must not touch the loop or anything owned by its thread. */
typedef void (*pool_work_fn)(void *userdata);
/* Runs on the loop's thread after work finished (canceled: the pool was freed first). */
typedef void (*pool_done_fn)(void *userdata, bool canceled);

int pool_new(korch_loop *loop, unsigned max_threads, struct pool **ret_pool, korch_error **err);
/*
 * Queues work; done is called exactly once, on the loop, when it finished or was canceled
 * (from pool_free(): on the thread calling it).
 */
int pool_submit(struct pool *pool, pool_work_fn work, pool_done_fn done, void *userdata,
		korch_error **err);
/* Threads started so far. */
unsigned pool_threads(const struct pool *pool);
/*
 * Waits for running work, cancels queued work, calls every outstanding done (canceled = true
 * for work that never ran), joins the threads and frees the pool.
 */
void pool_free(struct pool *pool);

DEFINE_CLEANUP_FUNC(pool_free, struct pool, pool_free)

#endif
