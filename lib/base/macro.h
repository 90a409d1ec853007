/*
 * macro.h - cleanup attributes, ownership helpers and small macros used across korch.
 */
#ifndef KORCH_BASE_MACRO_H
#define KORCH_BASE_MACRO_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_ __attribute__((warn_unused_result))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/*
 * Runs fn(&var) when var goes out of scope; fn must accept a pointer to NULL. A variable held
 * only for its cleanup is not "unused" (gcc agrees; clang needs telling).
 */
#define _cleanup_(fn) __attribute__((cleanup(fn), unused))

static inline void
freep(void *p)
{
	free(*(void **)p);
}

static inline void
closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void
fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Defines NAME##p(TYPE **p) calling FN(*p) when *p is not NULL, for _cleanup_(NAME##p). */
#define DEFINE_CLEANUP_FUNC(name, type, fn)  \
	static inline void name##p(type **p) \
	{                                    \
		if (*p)                      \
			fn(*p);              \
	}

/* Hands ownership out: returns *p and sets *p to NULL so no cleanup frees it. */
#define steal_pointer(pp)                          \
	({                                         \
		__typeof__(*(pp)) _stolen = *(pp); \
		*(pp) = NULL;                      \
		_stolen;                           \
	})

/* Same for file descriptors: returns *fd and sets it to -1. */
#define steal_fd(fdp)                 \
	({                            \
		int _stolen = *(fdp); \
		*(fdp) = -1;          \
		_stolen;              \
	})

/* Retries a system call interrupted by a signal. */
#define RETRY_EINTR(expr)                         \
	({                                        \
		__typeof__(expr) _r;              \
		do                                \
			_r = (expr);              \
		while (_r < 0 && errno == EINTR); \
		_r;                               \
	})

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_USEC 1000LL

#endif
