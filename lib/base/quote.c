/*
 * quote.c - Go's text forms for output that must match Kubernetes' byte for byte: quoted strings
 * (strconv.Quote), shortest floats (strconv.FormatFloat) and JSON as Go's encoders write it.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * The shortest decimal digits that read back as v (finite, > 0), as strconv finds them: digits
 * without a point or trailing zeros, and *ret_point, where the point goes (v = 0.DIGITS x
 * 10^point). C's printf rounds correctly, so the first precision whose output reads back as v
 * gives the digits Go picks.
 */
static void
shortest_digits(double v, char digits[static 24], int *ret_point)
{
	char buf[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	size_t n = 0;
	const char *p = buf;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	*ret_point = atoi(p + 1) + 1;
}

int
strbuf_put_go_float(struct strbuf *sb, double v, char fmt)
{
	if (isnan(v))
		return strbuf_puts(sb, "NaN");
	if (isinf(v))
		return strbuf_puts(sb, v > 0 ? "+Inf" : "-Inf");
	if (signbit(v))
		strbuf_putc(sb, '-');
	v = fabs(v);
	char d[24] = "0";
	int point = 1;
	if (v != 0)
		shortest_digits(v, d, &point);
	int nd = (int)strlen(d), exp = point - 1;
	if (fmt == 'g')
		fmt = exp < -4 || exp >= 6 ? 'e' : 'f';
	if (fmt == 'e') {
		strbuf_putc(sb, d[0]);
		if (nd > 1) {
			strbuf_putc(sb, '.');
			strbuf_puts(sb, d + 1);
		}
		if (v == 0)
			exp = 0;
		strbuf_printf(sb, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
	} else if (v == 0) {
		strbuf_putc(sb, '0');
	} else if (point <= 0) {
		strbuf_puts(sb, "0.");
		for (int i = 0; i < -point; i++)
			strbuf_putc(sb, '0');
		strbuf_puts(sb, d);
	} else if (point >= nd) {
		strbuf_puts(sb, d);
		for (int i = nd; i < point; i++)
			strbuf_putc(sb, '0');
	} else {
		strbuf_append(sb, d, (size_t)point);
		strbuf_putc(sb, '.');
		strbuf_puts(sb, d + point);
	}
	return sb->oom ? KORCH_ENOMEM : 0;
}

int
strbuf_put_go_json_string(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	strbuf_putc(sb, '"');
	for (size_t i = 0; i < len;) {
		uint32_t cp = 0;
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			strbuf_puts(sb, "\\ufffd");
			i++;
			continue;
		}
		switch (cp) {
		case '"': strbuf_puts(sb, "\\\""); break;
		case '\\': strbuf_puts(sb, "\\\\"); break;
		case '\n': strbuf_puts(sb, "\\n"); break;
		case '\r': strbuf_puts(sb, "\\r"); break;
		case '\t': strbuf_puts(sb, "\\t"); break;
		default:
			if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&')
				strbuf_printf(sb, "\\u00%c%c", hex[cp >> 4], hex[cp & 15]);
			else if (cp == 0x2028 || cp == 0x2029)
				strbuf_printf(sb, "\\u%04x", (unsigned)cp);
			else
				strbuf_append(sb, s + i, n);
			break;
		}
		i += n;
	}
	strbuf_putc(sb, '"');
	return sb->oom ? KORCH_ENOMEM : 0;
}

static int
key_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
strbuf_put_go_json(struct strbuf *sb, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return strbuf_put_go_json_string(sb, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: return strbuf_printf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL: {
		double f = json_real_value(v), a = fabs(f);
		if (!isfinite(f))
			return KORCH_EINVALID;
		size_t start = sb->len;
		int r = strbuf_put_go_float(sb, f, a != 0 && (a < 1e-6 || a >= 1e21) ? 'e' : 'f');
		if (r < 0)
			return r;
		/* encoding/json shortens a two-digit negative exponent: 1e-07 is written 1e-7 */
		size_t n = sb->len - start;
		char *b = sb->buf + start;
		if (n >= 4 && b[n - 4] == 'e' && b[n - 3] == '-' && b[n - 2] == '0') {
			b[n - 2] = b[n - 1];
			strbuf_truncate(sb, sb->len - 1);
		}
		return 0;
	}
	case JSON_TRUE: return strbuf_puts(sb, "true");
	case JSON_FALSE: return strbuf_puts(sb, "false");
	case JSON_NULL: return strbuf_puts(sb, "null");
	case JSON_ARRAY:
		strbuf_putc(sb, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				strbuf_putc(sb, ',');
			int r = strbuf_put_go_json(sb, json_array_get(v, i));
			if (r < 0)
				return r;
		}
		return strbuf_putc(sb, ']');
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys = malloc((n ? n : 1) * sizeof(*keys));
		if (!keys)
			return KORCH_ENOMEM;
		const char *k;
		json_t *child;
		json_object_foreach ((json_t *)v, k, child)
			keys[i++] = k;
		qsort(keys, n, sizeof(*keys), key_order);
		int r = strbuf_putc(sb, '{');
		for (i = 0; i < n && r == 0; i++) {
			if (i)
				strbuf_putc(sb, ',');
			r = strbuf_put_go_json_string(sb, keys[i], strlen(keys[i]));
			if (r == 0)
				r = strbuf_putc(sb, ':');
			if (r == 0)
				r = strbuf_put_go_json(sb, json_object_get(v, keys[i]));
		}
		free(keys);
		return r < 0 ? r : strbuf_putc(sb, '}');
	}
	}
	return 0;
}
