/*
 * strbuf.h - a growable, always NUL-terminated byte string.
 */
#ifndef KORCH_BASE_STRBUF_H
#define KORCH_BASE_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include "base/macro.h"

struct strbuf {
	char *buf;  /* NUL-terminated once anything was added; NULL while empty and unallocated */
	size_t len; /* bytes before the NUL */
	size_t cap; /* bytes allocated */
	bool oom;   /* an append failed: the content is truncated and must not be used */
};

#define STRBUF_INIT               \
	{                         \
		NULL, 0, 0, false \
	}

/* Every append returns 0 or KORCH_ENOMEM (and then sets sb->oom). */
int strbuf_append(struct strbuf *sb, const char *data, size_t n);
int strbuf_puts(struct strbuf *sb, const char *s);
int strbuf_putc(struct strbuf *sb, char c);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) _printf_(2, 3);
int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap) _printf_(2, 0);
/* Makes room for n more bytes without changing len. */
int strbuf_reserve(struct strbuf *sb, size_t n);
void strbuf_truncate(struct strbuf *sb, size_t len);
/* The content ("" while empty); borrowed. */
const char *strbuf_str(const struct strbuf *sb);
/* Hands the buffer out (never NULL unless out of memory) and resets sb. */
char *strbuf_steal(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);

#define _cleanup_strbuf_ _cleanup_(strbuf_free)

#endif
