/*
 * clock.h - clock internals shared with the loop.
 */
#ifndef KORCH_BASE_CLOCK_H
#define KORCH_BASE_CLOCK_H

#include <stdbool.h>
#include <korch/loop.h>
#include "base/loop.h"

/* Test clock only: moves monotonic time to mono_ns (never backwards) and wakes the loops. */
void clock_set_now(korch_clock *clock, int64_t mono_ns);
/* Test clock only: fd (an eventfd) gets written whenever the clock moves. */
int clock_attach_wake_fd(korch_clock *clock, int fd);
void clock_detach_wake_fd(korch_clock *clock, int fd);

#endif
