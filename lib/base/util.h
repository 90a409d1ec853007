/*
 * util.h - small string and time helpers.
 */
#ifndef KORCH_BASE_UTIL_H
#define KORCH_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline bool
streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static inline bool
streq_null(const char *a, const char *b)
{
	return (!a && !b) || streq(a, b);
}

/* Returns the rest of s after prefix, or NULL when s does not start with it. */
static inline const char *
startswith(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

bool endswith(const char *s, const char *suffix);

/*
 * Formats a wall-clock time in nanoseconds since the epoch as RFC 3339 in UTC, the way
 * Kubernetes writes metav1.Time ("2026-11-26T15:27:40Z"; with micro = true, MicroTime's
 * "2026-11-26T15:27:40.123456Z"). buf must hold 32 bytes. Returns buf.
 */
char *format_rfc3339(int64_t wall_ns, bool micro, char buf[static 32]);

/*
 * Parses RFC 3339 ("2026-11-26T15:27:40Z", fractions and numeric offsets allowed) into
 * nanoseconds since the epoch. Returns 0 or KORCH_EINVALID.
 */
int parse_rfc3339(const char *s, int64_t *ret_wall_ns);

/*
 * Parses a Go duration ("300ms", "1.5h", "2h45m", "-1s"; units ns, us, µs, ms, s, m, h) into
 * nanoseconds. Returns 0 or KORCH_EINVALID.
 */
int parse_go_duration(const char *s, int64_t *ret_ns);

/* Parses a base-10 int64 with nothing after it. Returns 0 or KORCH_EINVALID. */
int parse_int64(const char *s, int64_t *ret);

#endif
