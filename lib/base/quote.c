/*
 * quote.c - Go-style quoting (strconv.Quote) for messages that must match Kubernetes' text.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <korch/common.h>
#include "base/quote.h"

/*
 * Decodes one UTF-8 sequence at s (n bytes left). Returns its length and sets *cp, or returns 0
 * for an invalid sequence (overlong forms, surrogates and values past U+10FFFF included), as
 * Go's utf8.DecodeRuneInString rejects them.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

/* Whether Go's unicode.IsPrint would say no for a non-ASCII code point (see quote.h). */
static bool
nonprint(uint32_t cp)
{
	if (cp >= 0x80 && cp <= 0xA0) /* C1 controls, no-break space */
		return true;
	switch (cp) {
	case 0xAD:   /* soft hyphen */
	case 0x61C:  /* Arabic letter mark */
	case 0x1680: /* Ogham space mark */
	case 0x180E: /* Mongolian vowel separator */
	case 0x202F: /* narrow no-break space */
	case 0x205F: /* medium mathematical space */
	case 0x3000: /* ideographic space */
	case 0xFEFF: /* byte order mark */ return true;
	}
	if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
	    (cp >= 0x2060 && cp <= 0x206F) || (cp >= 0xFFF9 && cp <= 0xFFFB))
		return true;
	if ((cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000) /* private use */
		return true;
	if ((cp & 0xFFFE) == 0xFFFE || (cp >= 0xFDD0 && cp <= 0xFDEF)) /* noncharacters */
		return true;
	if (cp >= 0xE0000 && cp <= 0xE007F) /* tags */
		return true;
	return false;
}

int
strbuf_put_go_quoted(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	if (strbuf_putc(sb, '"') < 0)
		return KORCH_ENOMEM;
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		uint32_t cp = 0;
		size_t n = utf8_decode(p + i, len - i, &cp);
		char esc[12];
		size_t esc_len = 0;
		if (n == 0) {
			esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15];
			esc_len = 4;
			n = 1;
		} else if (cp == '"' || cp == '\\') {
			esc[0] = '\\', esc[1] = (char)cp;
			esc_len = 2;
		} else if (cp < 0x20 || cp == 0x7F) {
			const char *named = NULL;
			switch (cp) {
			case '\a': named = "\\a"; break;
			case '\b': named = "\\b"; break;
			case '\f': named = "\\f"; break;
			case '\n': named = "\\n"; break;
			case '\r': named = "\\r"; break;
			case '\t': named = "\\t"; break;
			case '\v': named = "\\v"; break;
			}
			if (named) {
				memcpy(esc, named, 2);
				esc_len = 2;
			} else {
				esc[0] = '\\', esc[1] = 'x', esc[2] = hex[cp >> 4],
				esc[3] = hex[cp & 15];
				esc_len = 4;
			}
		} else if (cp >= 0x80 && nonprint(cp)) {
			int digits = cp < 0x10000 ? 4 : 8;
			esc[0] = '\\', esc[1] = cp < 0x10000 ? 'u' : 'U';
			for (int d = 0; d < digits; d++)
				esc[2 + d] = hex[(cp >> (4 * (digits - 1 - d))) & 15];
			esc_len = 2 + (size_t)digits;
		}
		int r = esc_len ? strbuf_append(sb, esc, esc_len) : strbuf_append(sb, s + i, n);
		if (r < 0)
			return KORCH_ENOMEM;
		i += n;
	}
	return strbuf_putc(sb, '"');
}

char *
go_quote(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_put_go_quoted(&sb, s, strlen(s)) < 0) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}
