/*
 * codec-json-fast.c - compact JSON out of jansson trees and plain JSON text into them, several
 * times faster than json_dumps() and json_loadb() for the same results. The store encodes every
 * object it writes and decodes every object it reads, so these two sit on its hot paths.
 *
 * Both leave to jansson what they do not handle themselves (real numbers, whose text depends on
 * how jansson was built; any input that is not plain valid JSON), so their results are
 * jansson's: the encoder's text is json_dumps()'s byte for byte (it refuses a key that is not
 * UTF-8, where json_dumps() writes a broken text), and the decoder's tree is the one json_loadb()
 * builds, or nothing where json_loadb() fails, which the callers then ask jansson to explain.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec-internal.h"
#include "base/error.h"

/* The encoder looks for cycles past this depth (see enter()). */
#define ENCODE_CYCLE_CHECK_DEPTH 64
/* jansson's own nesting limit (JSON_PARSER_MAX_DEPTH), for text korch stored itself. */
#define STORED_MAX_DEPTH 2048

/* ---- encoding ---- */

/* What a byte needs inside a JSON string: 0 nothing, 1 an escape, 2 UTF-8 validation. */
static const unsigned char byte_class[256] = {
	[0x00 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
	[0x80 ... 0xff] = 2,
};

static const char hex_upper[] = "0123456789ABCDEF";

/*
 * Whether none of the 8 bytes of w needs attention in a string (a control character, '"',
 * '\\', or a byte of a multi-byte UTF-8 sequence), tested all at once: (x - 0x01..) & ~x has a
 * byte's top bit set where that byte of x is 0, and only if some byte is.
 */
static inline bool
word_plain(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, tops = 0x8080808080808080ULL;
	uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
	uint64_t below_space = w - ones * 0x20;
	uint64_t flags = (below_space & ~w) | ((quote - ones) & ~quote) |
			 ((backslash - ones) & ~backslash) | w;
	return (flags & tops) == 0;
}

/*
 * The first byte of p (before end) that needs attention in a string: byte by byte for the
 * short strings most are, then 8 bytes at a time.
 */
static inline const unsigned char *
skip_plain(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *short_end = end - p > 16 ? p + 16 : end;
	while (p < short_end && byte_class[*p] == 0)
		p++;
	if (p < short_end || p == end)
		return p;
	while (end - p >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		if (!word_plain(w))
			break;
		p += 8;
	}
	while (p < end && byte_class[*p] == 0)
		p++;
	return p;
}

/* The containers being encoded, outermost first: cycles show as one of them seen again. */
struct encoder {
	struct strbuf *out;  /* where the text goes */
	const json_t **path; /* the open containers */
	size_t depth, cap;   /* entries used, allocated */
	bool invalid;        /* refused (not out of memory) */
};

/* Makes room for n more bytes in e->out (the common case is one comparison). */
static inline bool
room(struct encoder *e, size_t n)
{
	struct strbuf *out = e->out;
	return likely(out->len + n < out->cap) || strbuf_reserve(out, n) == 0;
}

/* Appends one byte; room() said there is space. */
static inline void
put_byte(struct encoder *e, char c)
{
	e->out->buf[e->out->len++] = c;
}

static inline bool
put_char(struct encoder *e, char c)
{
	if (!room(e, 1))
		return false;
	put_byte(e, c);
	return true;
}

static inline bool
put_bytes(struct encoder *e, const char *s, size_t n)
{
	if (!room(e, n))
		return false;
	memcpy(e->out->buf + e->out->len, s, n);
	e->out->len += n;
	return true;
}

/*
 * Appends s as a quoted JSON string the way jansson's dump_string() does without flags: the
 * two mandatory escapes, \b \f \n \r \t, \u00XX (upper-case hex) for other control characters,
 * everything else as it is. Refuses s when it is not valid UTF-8 (as jansson does, except for
 * keys, which json_dumps() writes truncated into a broken text).
 */
static bool
put_string(struct encoder *e, const char *s, size_t len)
{
	/* At most 6 bytes per input byte (\u00XX), plus the quotes. */
	if (len > (SIZE_MAX - 3) / 6 || !room(e, 6 * len + 2))
		return false;
	char *o = e->out->buf + e->out->len;
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	*o++ = '"';
	while (p < end) {
		const unsigned char *run = p;
		p = skip_plain(p, end);
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		if (p == end)
			break;
		unsigned char c = *p;
		if (byte_class[c] == 2) {
			size_t n = codec_utf8_char(p, (size_t)(end - p));
			if (n == 0) {
				e->invalid = true;
				return false;
			}
			memcpy(o, p, n);
			o += n;
			p += n;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex_upper[c >> 4];
			*o++ = hex_upper[c & 0xf];
			break;
		}
		p++;
	}
	*o++ = '"';
	e->out->len = (size_t)(o - e->out->buf);
	return true;
}

static bool
put_integer(struct encoder *e, json_int_t v)
{
	char tmp[24], *t = tmp + sizeof(tmp);
	/* In unsigned arithmetic, so that the most negative value needs no special case. */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--t = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--t = '-';
	return put_bytes(e, t, (size_t)(tmp + sizeof(tmp) - t));
}

/*
 * Remembers container v as open. A cycle makes the path grow for ever, so it is looked for only
 * past a depth no real object reaches, where the check is cheap enough.
 */
static bool
enter(struct encoder *e, const json_t *v)
{
	if (e->depth == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 32;
		const json_t **p = realloc(e->path, cap * sizeof(*p));
		if (!p) {
			e->out->oom = true;
			return false;
		}
		e->path = p;
		e->cap = cap;
	}
	if (e->depth >= ENCODE_CYCLE_CHECK_DEPTH)
		for (size_t i = 0; i < e->depth; i++)
			if (e->path[i] == v) {
				e->invalid = true;
				return false;
			}
	e->path[e->depth++] = v;
	return true;
}

/* false: out of memory, or e->invalid (a cycle, a string or key that is not UTF-8). */
static bool
encode_value(struct encoder *e, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (!enter(e, v) || !put_char(e, '{'))
			return false;
		bool first = true;
		for (void *it = json_object_iter((json_t *)v); it;
		     it = json_object_iter_next((json_t *)v, it)) {
			if (!first && !put_char(e, ','))
				return false;
			first = false;
			if (!put_string(e, json_object_iter_key(it),
					json_object_iter_key_len(it)) ||
			    !put_char(e, ':') || !encode_value(e, json_object_iter_value(it)))
				return false;
		}
		e->depth--;
		return put_char(e, '}');
	}
	case JSON_ARRAY: {
		if (!enter(e, v) || !put_char(e, '['))
			return false;
		size_t n = json_array_size(v);
		for (size_t i = 0; i < n; i++)
			if ((i && !put_char(e, ',')) || !encode_value(e, json_array_get(v, i)))
				return false;
		e->depth--;
		return put_char(e, ']');
	}
	case JSON_STRING: return put_string(e, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: return put_integer(e, json_integer_value(v));
	case JSON_REAL: {
		/* jansson's real formatting depends on how it was built: let it format. */
		char buf[128];
		size_t n = json_dumpb(v, buf, sizeof(buf), JSON_ENCODE_ANY);
		if (n == 0 || n >= sizeof(buf)) {
			e->invalid = true;
			return false;
		}
		return put_bytes(e, buf, n);
	}
	case JSON_TRUE: return put_bytes(e, "true", 4);
	case JSON_FALSE: return put_bytes(e, "false", 5);
	case JSON_NULL: return put_bytes(e, "null", 4);
	}
	e->invalid = true;
	return false;
}

int
codec_json_encode_append(const json_t *value, struct strbuf *out)
{
	if (out->oom)
		return KORCH_ENOMEM;
	if (!value)
		return KORCH_EINVALID;
	size_t start = out->len;
	struct encoder e = { .out = out };
	bool ok = encode_value(&e, value);
	free(e.path);
	if (ok) {
		/* The writes above leave the terminating NUL to the end. */
		out->buf[out->len] = '\0';
		return 0;
	}
	int r = e.invalid ? KORCH_EINVALID : KORCH_ENOMEM;
	/* Partly written (maybe past len): back to what it was. */
	out->oom = false;
	out->len = start;
	if (out->buf)
		out->buf[start] = '\0';
	return r;
}

char *
codec_json_encode(const json_t *value)
{
	struct strbuf out = STRBUF_INIT;
	/* Most objects fit here at once; strbuf doubles from it. */
	if (strbuf_reserve(&out, 1024) < 0 || codec_json_encode_append(value, &out) < 0) {
		strbuf_free(&out);
		return NULL;
	}
	return strbuf_steal(&out);
}

/* ---- decoding ---- */

struct parser {
	const char *p;          /* next byte */
	const char *end;        /* end of the input */
	unsigned depth;         /* objects and arrays open */
	unsigned max_depth;     /* give up past this */
	bool reject_duplicates; /* a key twice fails (else the last value wins, as in jansson) */
	struct strbuf scratch;  /* strings with escapes, unescaped */
};

static inline void
skip_space(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

static int
hex4(const char *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* The UTF-8 form of codepoint cp (at most U+10FFFF, not a surrogate) into o; its length. */
static size_t
utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Unescapes the string whose body starts at start (after the quote) into ps->scratch, up to its
 * closing quote, which ps->p is left after. false for anything jansson refuses: a bad escape, a
 * lone surrogate, \u0000, a control character, invalid UTF-8, no closing quote.
 */
static bool
unescape(struct parser *ps, const char *start)
{
	const char *p = start, *end = ps->end;
	strbuf_truncate(&ps->scratch, 0);
	/*
	 * The unescaped text is never longer than the escaped one, which ends at the first quote
	 * not escaped (or at the end of the input). Reserving for the rest of the input instead
	 * made each document with an escaped string (a managedFields key) allocate its own size
	 * again: past glibc's small bins, where each allocation consolidates every fast bin.
	 */
	const char *q = p;
	while (q < end && *q != '"')
		q += *q == '\\' && end - q > 1 ? 2 : 1;
	if (strbuf_reserve(&ps->scratch, (size_t)(q - p)) < 0)
		return false;
	char *o = ps->scratch.buf;
	for (;;) {
		if (p == end)
			return false;
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c < 0x20)
			return false;
		if (c >= 0x80) {
			size_t n = codec_utf8_char((const unsigned char *)p, (size_t)(end - p));
			if (n == 0)
				return false;
			memcpy(o, p, n);
			o += n;
			p += n;
			continue;
		}
		if (c != '\\') {
			*o++ = (char)c;
			p++;
			continue;
		}
		if (end - p < 2)
			return false;
		char e = p[1];
		p += 2;
		switch (e) {
		case '"':
		case '\\':
		case '/': *o++ = e; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			if (end - p < 4)
				return false;
			int cp = hex4(p);
			p += 4;
			if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
				return false;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
					return false;
				int lo = hex4(p + 2);
				if (lo < 0xDC00 || lo > 0xDFFF)
					return false;
				p += 6;
				cp = ((cp - 0xD800) << 10) + (lo - 0xDC00) + 0x10000;
			}
			o += utf8_put(o, (uint32_t)cp);
			break;
		}
		default: return false;
		}
	}
	ps->p = p + 1;
	ps->scratch.len = (size_t)(o - ps->scratch.buf);
	ps->scratch.buf[ps->scratch.len] = '\0';
	return true;
}

/*
 * Reads a string (ps->p at its opening quote): *ret_s and *ret_len are the text, in the input
 * itself when it has no escapes, else in ps->scratch (valid until the next string).
 */
static bool
parse_string(struct parser *ps, const char **ret_s, size_t *ret_len)
{
	const char *start = ++ps->p, *p = start, *end = ps->end;
	for (;;) {
		p = (const char *)skip_plain((const unsigned char *)p, (const unsigned char *)end);
		if (p == end)
			return false;
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c == '\\') {
			if (!unescape(ps, start))
				return false;
			*ret_s = ps->scratch.buf;
			*ret_len = ps->scratch.len;
			return true;
		}
		if (c < 0x80)
			return false; /* a control character */
		size_t n = codec_utf8_char((const unsigned char *)p, (size_t)(end - p));
		if (n == 0)
			return false;
		p += n;
	}
	*ret_s = start;
	*ret_len = (size_t)(p - start);
	ps->p = p + 1;
	return true;
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number as jansson reads it: an integer within json_int_t, or a real (jansson parses those). */
static json_t *
parse_number(struct parser *ps)
{
	const char *start = ps->p, *p = start, *end = ps->end;
	bool neg = p < end && *p == '-';
	if (neg)
		p++;
	if (p == end || !is_digit(*p))
		return NULL;
	if (*p == '0' && p + 1 < end && is_digit(p[1]))
		return NULL;
	unsigned long long u = 0;
	bool overflow = false;
	for (; p < end && is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (u > (ULLONG_MAX - d) / 10)
			overflow = true;
		u = u * 10 + d;
	}
	bool real = p < end && (*p == '.' || *p == 'e' || *p == 'E');
	if (!real) {
		ps->p = p;
		/* Out of range: jansson's error, so the caller's fallback reports it. */
		unsigned long long max = (unsigned long long)INT64_MAX + (neg ? 1 : 0);
		if (overflow || u > max)
			return NULL;
		return json_integer(neg ? (json_int_t)(0ULL - u) : (json_int_t)u);
	}
	if (*p == '.') {
		p++;
		if (p == end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	ps->p = p;
	/* Rare in objects; jansson's conversion (locale, overflow) is the one to match. */
	return json_loadb(start, (size_t)(p - start), JSON_DECODE_ANY, NULL);
}

static json_t *parse_value(struct parser *ps);

static json_t *
parse_object(struct parser *ps)
{
	json_t *obj = json_object();
	if (!obj)
		return NULL;
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return obj;
	}
	for (;;) {
		const char *key;
		size_t key_len;
		if (ps->p == ps->end || *ps->p != '"' || !parse_string(ps, &key, &key_len))
			goto fail;
		/* Keys with NUL are refused by jansson; unescape() already refused \u0000. */
		char stack_key[128];
		if (key == ps->scratch.buf) {
			/* The value's strings reuse scratch: keep the key. */
			if (key_len >= sizeof(stack_key))
				goto fail; /* a long escaped key: rare enough to leave to jansson */
			memcpy(stack_key, key, key_len);
			key = stack_key;
		}
		skip_space(ps);
		if (ps->p == ps->end || *ps->p != ':')
			goto fail;
		ps->p++;
		skip_space(ps);
		json_t *v = parse_value(ps);
		if (!v)
			goto fail;
		size_t before = json_object_size(obj);
		if (json_object_setn_new_nocheck(obj, key, key_len, v) < 0 ||
		    (ps->reject_duplicates && json_object_size(obj) == before))
			goto fail;
		skip_space(ps);
		if (ps->p == ps->end)
			goto fail;
		if (*ps->p == ',') {
			ps->p++;
			skip_space(ps);
			continue;
		}
		if (*ps->p != '}')
			goto fail;
		ps->p++;
		return obj;
	}
fail:
	json_decref(obj);
	return NULL;
}

static json_t *
parse_array(struct parser *ps)
{
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return arr;
	}
	for (;;) {
		json_t *v = parse_value(ps);
		if (!v || json_array_append_new(arr, v) < 0)
			goto fail;
		skip_space(ps);
		if (ps->p == ps->end)
			goto fail;
		if (*ps->p == ',') {
			ps->p++;
			skip_space(ps);
			continue;
		}
		if (*ps->p != ']')
			goto fail;
		ps->p++;
		return arr;
	}
fail:
	json_decref(arr);
	return NULL;
}

static bool
literal(struct parser *ps, const char *word, size_t n)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	/* jansson reads a run of letters as one word: "truex" is no literal. */
	if (ps->p < ps->end &&
	    ((*ps->p >= 'a' && *ps->p <= 'z') || (*ps->p >= 'A' && *ps->p <= 'Z')))
		return false;
	return true;
}

/* One value at ps->p (no leading space); NULL for anything not handled here. */
static json_t *
parse_value(struct parser *ps)
{
	if (ps->p == ps->end)
		return NULL;
	switch (*ps->p) {
	case '{':
	case '[': {
		if (++ps->depth > ps->max_depth)
			return NULL;
		json_t *v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
		ps->depth--;
		return v;
	}
	case '"': {
		const char *s;
		size_t len;
		if (!parse_string(ps, &s, &len))
			return NULL;
		return json_stringn_nocheck(s, len);
	}
	case 't': return literal(ps, "true", 4) ? json_true() : NULL;
	case 'f': return literal(ps, "false", 5) ? json_false() : NULL;
	case 'n': return literal(ps, "null", 4) ? json_null() : NULL;
	default: return parse_number(ps);
	}
}

/* The whole input as one value, or NULL for anything the fast path does not take. */
static json_t *
parse_document(const char *data, size_t len, unsigned max_depth, bool reject_duplicates, bool any)
{
	struct parser ps = { .p = data,
			     .end = data + len,
			     .max_depth = max_depth,
			     .reject_duplicates = reject_duplicates,
			     .scratch = STRBUF_INIT };
	skip_space(&ps);
	if (!any && (ps.p == ps.end || (*ps.p != '{' && *ps.p != '[')))
		return NULL;
	json_t *v = parse_value(&ps);
	strbuf_free(&ps.scratch);
	if (!v)
		return NULL;
	skip_space(&ps);
	if (ps.p != ps.end) {
		json_decref(v);
		return NULL;
	}
	return v;
}

json_t *
codec_json_decode_fast(const char *data, size_t len)
{
	if (len > CODEC_MAX_DOCUMENT_BYTES)
		return NULL;
	return parse_document(data, len, CODEC_MAX_DEPTH, true, true);
}

int
codec_json_decode_stored(const char *data, size_t len, json_t **ret, korch_error **err)
{
	json_t *v = parse_document(data, len, STORED_MAX_DEPTH, false, false);
	if (!v) {
		json_error_t jerr;
		v = json_loadb(data, len, 0, &jerr);
		if (!v) {
			if (json_error_code(&jerr) == json_error_out_of_memory)
				return error_oom(err);
			return error_set(err, KORCH_EINVALID, "line %d column %d: %s", jerr.line,
					 jerr.column, jerr.text);
		}
	}
	*ret = v;
	return 0;
}
