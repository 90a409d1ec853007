/*
 * korch/loop.h - the clock and the event loop every korch instance runs on.
 *
 * korch does all its work on one event loop: epoll over timers, signals, child processes and
 * sockets. Run it on a thread of its own with korch_loop_run(), or inside your own loop: poll
 * korch_loop_fd() for readability, call korch_loop_dispatch(loop, 0) when it is readable or when
 * korch_loop_next_timeout_ms() has passed. Every timeout reads the loop's clock: the real clock,
 * or a test clock that only moves when told, so time-based behaviour can be tested without
 * sleeping.
 *
 * Thread rules: a loop and everything attached to it belong to the thread that dispatches it.
 */
#ifndef KORCH_LOOP_H
#define KORCH_LOOP_H

#include <stdint.h>
#include <korch/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct korch_clock korch_clock;
typedef struct korch_loop korch_loop;

/** Creates the real clock (CLOCK_MONOTONIC and CLOCK_REALTIME). Free with korch_clock_free(). */
KORCH_EXPORT int korch_clock_new_real(korch_clock **ret_clock, korch_error **err);

/**
 * Creates a test clock that stands still until korch_clock_advance() or korch_loop_advance()
 * moves it. Its wall time starts at start_wall_ns (nanoseconds since the epoch); its monotonic
 * time starts at one second.
 */
KORCH_EXPORT int korch_clock_new_test(int64_t start_wall_ns, korch_clock **ret_clock,
				      korch_error **err);

/** Monotonic time in nanoseconds. */
KORCH_EXPORT int64_t korch_clock_now_ns(const korch_clock *clock);

/** Wall-clock time in nanoseconds since the epoch (what timestamps in objects show). */
KORCH_EXPORT int64_t korch_clock_wall_ns(const korch_clock *clock);

/**
 * Moves a test clock forward by delta_ns (KORCH_EINVALID for the real clock or a negative
 * delta). Loops on this clock become readable; their due timers fire on the next dispatch, in
 * deadline order.
 */
KORCH_EXPORT int korch_clock_advance(korch_clock *clock, int64_t delta_ns);

/** Frees a clock; no loop may still use it. Takes NULL. */
KORCH_EXPORT void korch_clock_free(korch_clock *clock);

/**
 * Creates an event loop on clock (borrowed: it must outlive the loop). Free with
 * korch_loop_free().
 */
KORCH_EXPORT int korch_loop_new(korch_clock *clock, korch_loop **ret_loop, korch_error **err);

/** The loop's clock; borrowed. */
KORCH_EXPORT korch_clock *korch_loop_clock(korch_loop *loop);

/** A file descriptor that is readable whenever the loop has work; owned by the loop. */
KORCH_EXPORT int korch_loop_fd(korch_loop *loop);

/**
 * Milliseconds until the next timer is due: 0 when work is ready now, -1 when nothing is
 * scheduled (on a test clock a timer is "scheduled" only once the clock reached it).
 */
KORCH_EXPORT int korch_loop_next_timeout_ms(korch_loop *loop);

/**
 * Waits up to timeout_ms (0: do not wait, -1: until something happens) and runs what is ready:
 * I/O callbacks, then due timers in deadline order, then deferred work. Returns the number of
 * callbacks run, or a negative error.
 */
KORCH_EXPORT int korch_loop_dispatch(korch_loop *loop, int timeout_ms, korch_error **err);

/** Dispatches until korch_loop_quit() is called. */
KORCH_EXPORT int korch_loop_run(korch_loop *loop, korch_error **err);

/** Makes korch_loop_run() return after the current iteration; callable from callbacks. */
KORCH_EXPORT void korch_loop_quit(korch_loop *loop);

/**
 * On a test clock: moves time forward by delta_ns one due timer at a time, so each timer runs
 * with the clock showing its own deadline, and runs ready work in between; ends with the clock at
 * start + delta_ns and everything due by then run. Deterministic for the same inputs.
 */
KORCH_EXPORT int korch_loop_advance(korch_loop *loop, int64_t delta_ns, korch_error **err);

/** Frees the loop; whatever was attached to it must be gone first. Takes NULL. */
KORCH_EXPORT void korch_loop_free(korch_loop *loop);

#ifdef __cplusplus
}
#endif

#endif
