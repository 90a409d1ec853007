/*
 * loop.h - event sources on the korch loop (internal): fds, timers on the loop's clock, signals,
 * child processes through pidfds, and deferred calls.
 *
 * A source is owned by whoever added it and removed with loop_source_free(), which is safe from
 * inside any callback (the source is only unlinked there, and freed once dispatch is done).
 * Every source must be freed before its loop.
 */
#ifndef KORCH_BASE_LOOP_H
#define KORCH_BASE_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <korch/loop.h>
#include "base/macro.h"

struct loop_source;

typedef void (*loop_io_fn)(struct loop_source *src, int fd, uint32_t revents, void *userdata);
typedef void (*loop_timer_fn)(struct loop_source *src, void *userdata);
typedef void (*loop_signal_fn)(struct loop_source *src, const struct signalfd_siginfo *si,
			       void *userdata);
/* si is what waitid() reported for the exited child: si_code CLD_EXITED/KILLED/DUMPED, si_status. */
typedef void (*loop_child_fn)(struct loop_source *src, pid_t pid, const siginfo_t *si,
			      void *userdata);
typedef void (*loop_defer_fn)(struct loop_source *src, void *userdata);

/* Watches fd (borrowed: the caller closes it after freeing the source) for EPOLLIN/OUT/... */
int loop_add_io(korch_loop *loop, int fd, uint32_t events, loop_io_fn fn, void *userdata,
		struct loop_source **ret_src, korch_error **err);
int loop_source_set_events(struct loop_source *src, uint32_t events, korch_error **err);

/*
 * A one-shot timer at deadline_ns on the loop's monotonic clock (korch_clock_now_ns). Timers
 * with the same deadline fire in the order they were armed. Re-arm with loop_timer_set();
 * a timer that fired stays attached, disarmed, until freed.
 */
int loop_add_timer(korch_loop *loop, int64_t deadline_ns, loop_timer_fn fn, void *userdata,
		   struct loop_source **ret_src, korch_error **err);
/* Re-arms (or moves) a timer; deadline_ns < 0 disarms it. */
void loop_timer_set(struct loop_source *src, int64_t deadline_ns);
int64_t loop_timer_deadline(const struct loop_source *src);
/*
 * The earliest deadline of an armed timer, or -1 when none is armed: lets a test step a test
 * clock from deadline to deadline as korch_loop_advance() does, looking at the state between
 * every two dispatches.
 */
int64_t loop_next_deadline(const korch_loop *loop);

/* Delivers signo through a signalfd; the signal is blocked in the calling thread. */
int loop_add_signal(korch_loop *loop, int signo, loop_signal_fn fn, void *userdata,
		    struct loop_source **ret_src, korch_error **err);

/*
 * Calls fn once when child pid (a child of this process) exits, and reaps it. The source is
 * disarmed after the call.
 */
int loop_add_child(korch_loop *loop, pid_t pid, loop_child_fn fn, void *userdata,
		   struct loop_source **ret_src, korch_error **err);

/* Calls fn at the end of the next dispatch (once; re-enable with loop_defer_enable()). */
int loop_add_defer(korch_loop *loop, loop_defer_fn fn, void *userdata, struct loop_source **ret_src,
		   korch_error **err);
void loop_defer_enable(struct loop_source *src);

korch_loop *loop_source_loop(const struct loop_source *src);
void loop_source_free(struct loop_source *src);

DEFINE_CLEANUP_FUNC(loop_source_free, struct loop_source, loop_source_free)
DEFINE_CLEANUP_FUNC(korch_loop_free, korch_loop, korch_loop_free)
DEFINE_CLEANUP_FUNC(korch_clock_free, korch_clock, korch_clock_free)

/* Whether the clock is a test clock. */
bool clock_is_test(const korch_clock *clock);

#endif
