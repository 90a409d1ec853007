/*
 * strbuf.c - a growable string: doubling growth, NUL always kept after the content.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <korch/common.h>
#include "base/strbuf.h"

int
strbuf_reserve(struct strbuf *sb, size_t n)
{
	if (sb->oom)
		return KORCH_ENOMEM;
	if (sb->len + n + 1 <= sb->cap)
		return 0;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + n + 1) {
		if (cap > SIZE_MAX / 2) {
			sb->oom = true;
			return KORCH_ENOMEM;
		}
		cap *= 2;
	}
	char *p = realloc(sb->buf, cap);
	if (!p) {
		sb->oom = true;
		return KORCH_ENOMEM;
	}
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

int
strbuf_append(struct strbuf *sb, const char *data, size_t n)
{
	if (strbuf_reserve(sb, n) < 0)
		return KORCH_ENOMEM;
	if (n)
		memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
	return 0;
}

int
strbuf_puts(struct strbuf *sb, const char *s)
{
	return strbuf_append(sb, s, strlen(s));
}

int
strbuf_putc(struct strbuf *sb, char c)
{
	return strbuf_append(sb, &c, 1);
}

int
strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || strbuf_reserve(sb, (size_t)n) < 0) {
		sb->oom = true;
		return KORCH_ENOMEM;
	}
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

int
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return r;
}

void
strbuf_truncate(struct strbuf *sb, size_t len)
{
	if (len < sb->len) {
		sb->len = len;
		sb->buf[len] = '\0';
	}
}

const char *
strbuf_str(const struct strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

char *
strbuf_steal(struct strbuf *sb)
{
	char *p = sb->buf;
	if (sb->oom) {
		free(p);
		p = NULL;
	} else if (!p) {
		p = strdup("");
	}
	*sb = (struct strbuf)STRBUF_INIT;
	return p;
}

void
strbuf_free(struct strbuf *sb)
{
	free(sb->buf);
	*sb = (struct strbuf)STRBUF_INIT;
}
