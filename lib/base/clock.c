/*
 * clock.c - the real clock and the test clock. A test clock stands still until advanced and
 * wakes the loops that run on it (through their eventfds) when it moves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/fs.h"

struct korch_clock {
	bool is_test;      /* the test clock: moves only when advanced */
	int64_t mono_ns;   /* test clock: current monotonic time */
	int64_t wall_ns;   /* test clock: current wall time */
	int *wake_fds;     /* test clock: eventfds of the loops to wake on advance */
	size_t n_wake_fds; /* entries in wake_fds */
};

static int64_t
timespec_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

KORCH_EXPORT int
korch_clock_new_real(korch_clock **ret_clock, korch_error **err)
{
	korch_clock *c = calloc(1, sizeof(*c));
	if (!c)
		return error_oom(err);
	*ret_clock = c;
	return 0;
}

KORCH_EXPORT int
korch_clock_new_test(int64_t start_wall_ns, korch_clock **ret_clock, korch_error **err)
{
	korch_clock *c = calloc(1, sizeof(*c));
	if (!c)
		return error_oom(err);
	c->is_test = true;
	c->mono_ns = NSEC_PER_SEC;
	c->wall_ns = start_wall_ns;
	*ret_clock = c;
	return 0;
}

KORCH_EXPORT int64_t
korch_clock_now_ns(const korch_clock *clock)
{
	return clock->is_test ? clock->mono_ns : timespec_ns(CLOCK_MONOTONIC);
}

KORCH_EXPORT int64_t
korch_clock_wall_ns(const korch_clock *clock)
{
	return clock->is_test ? clock->wall_ns : timespec_ns(CLOCK_REALTIME);
}

bool
clock_is_test(const korch_clock *clock)
{
	return clock->is_test;
}

static void
wake_loops(korch_clock *clock)
{
	uint64_t one = 1;
	for (size_t i = 0; i < clock->n_wake_fds; i++)
		(void)write_all(clock->wake_fds[i], &one, sizeof(one));
}

void
clock_set_now(korch_clock *clock, int64_t mono_ns)
{
	if (!clock->is_test || mono_ns <= clock->mono_ns)
		return;
	clock->wall_ns += mono_ns - clock->mono_ns;
	clock->mono_ns = mono_ns;
	wake_loops(clock);
}

KORCH_EXPORT int
korch_clock_advance(korch_clock *clock, int64_t delta_ns)
{
	if (!clock->is_test || delta_ns < 0)
		return KORCH_EINVALID;
	clock_set_now(clock, clock->mono_ns + delta_ns);
	return 0;
}

int
clock_attach_wake_fd(korch_clock *clock, int fd)
{
	if (!clock->is_test)
		return 0;
	int *p = realloc(clock->wake_fds, (clock->n_wake_fds + 1) * sizeof(int));
	if (!p)
		return KORCH_ENOMEM;
	clock->wake_fds = p;
	clock->wake_fds[clock->n_wake_fds++] = fd;
	return 0;
}

void
clock_detach_wake_fd(korch_clock *clock, int fd)
{
	for (size_t i = 0; i < clock->n_wake_fds; i++)
		if (clock->wake_fds[i] == fd) {
			clock->wake_fds[i] = clock->wake_fds[--clock->n_wake_fds];
			return;
		}
}

KORCH_EXPORT void
korch_clock_free(korch_clock *clock)
{
	if (!clock)
		return;
	free(clock->wake_fds);
	free(clock);
}
