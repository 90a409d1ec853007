/*
 * parallel.h - a fork-join for work the loop's thread would otherwise do alone: the iterations
 * of one loop, independent of each other (one write to each of a thousand sockets, say), run on
 * the calling thread and on a few helper threads, and the call returns when all are done.
 *
 * Unlike the worker pool (pool.h), nothing runs after the call returns: what an iteration
 * touches belongs to that iteration for the duration of the call and to the caller again after
 * it, so no state needs a lock. Helpers start on first use and sleep between calls.
 */
#ifndef KORCH_BASE_PARALLEL_H
#define KORCH_BASE_PARALLEL_H

#include <stddef.h>
#include <korch/common.h>
#include "base/macro.h"

struct parallel;

/*
 * One iteration: item i of the call, on worker w (0 is the calling thread, 1..threads-1 the
 * helpers; each worker runs one iteration at a time, so per-worker scratch space indexed by w
 * needs no lock). Must touch only what belongs to item i, its worker's scratch, and
 * thread-safe libraries.
 */
typedef void (*parallel_fn)(size_t i, unsigned w, void *userdata);

/* threads: workers in all, the caller included (0: the online CPUs, at most 8). */
int parallel_new(unsigned threads, struct parallel **ret, korch_error **err);
/* Workers a call may use (the caller included). */
unsigned parallel_workers(const struct parallel *p);
/*
 * Calls fn for every i in [0, n), handed out `chunk` at a time, and returns when every call
 * returned. Fewer than two chunks of work run on the caller alone; so does everything when the
 * helpers could not be started.
 */
void parallel_for(struct parallel *p, size_t n, size_t chunk, parallel_fn fn, void *userdata);
/* Joins the helpers (none may be inside parallel_for). */
void parallel_free(struct parallel *p);

DEFINE_CLEANUP_FUNC(parallel_free, struct parallel, parallel_free)

#endif
