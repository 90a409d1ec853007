/*
 * codec.c - what the JSON and YAML decoders share: positioned error messages, the input checks
 * done before any parser runs (size, NUL bytes, UTF-8, JSON nesting), the document list, and
 * the choice between JSON and YAML for manifests.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec-internal.h"
#include "base/error.h"

int
codec_fail(korch_error **err, int code, const char *source, unsigned line, unsigned column,
	   const char *fmt, ...)
{
	if (!err || *err)
		return code;
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return error_oom(err);
	if (source && line && column)
		error_set(err, code, "%s:%u:%u: %s", source, line, column, msg);
	else if (source && line)
		error_set(err, code, "%s:%u: %s", source, line, msg);
	else if (source)
		error_set(err, code, "%s: %s", source, msg);
	else if (line && column)
		error_set(err, code, "line %u column %u: %s", line, column, msg);
	else if (line)
		error_set(err, code, "line %u: %s", line, msg);
	else
		error_set(err, code, "%s", msg);
	free(msg);
	return code;
}

size_t
codec_utf8_char(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

void
codec_position(const char *data, size_t len, size_t offset, unsigned *ret_line,
	       unsigned *ret_column)
{
	unsigned line = 1, column = 1;
	for (size_t i = 0; i < offset && i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == '\n') {
			line++;
			column = 1;
		} else if ((c & 0xC0) != 0x80) {
			column++;
		}
	}
	*ret_line = line;
	*ret_column = column;
}

int
codec_check_input(const char *data, size_t len, const char *source, bool json_depth,
		  korch_error **err)
{
	if (len > CODEC_MAX_DOCUMENT_BYTES)
		return codec_fail(err, KORCH_ETOOLARGE, source, 0, 0,
				  "input of %zu bytes is over the limit of %d bytes", len,
				  CODEC_MAX_DOCUMENT_BYTES);
	const unsigned char *s = (const unsigned char *)data;
	unsigned line = 1, column = 1, depth = 0;
	bool in_string = false;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n = codec_utf8_char(s + i, len - i);
		if (c == 0)
			return codec_fail(err, KORCH_EINVALID, source, line, column, "NUL byte");
		if (n == 0)
			return codec_fail(err, KORCH_EINVALID, source, line, column,
					  "invalid UTF-8 (byte 0x%02x)", c);
		if (json_depth && n == 1) {
			if (in_string) {
				if (c == '\\' && i + 1 < len && s[i + 1] != '\n' && s[i + 1] != 0) {
					/* The escaped character cannot end the string. */
					if (s[i + 1] < 0x80) {
						i += 2;
						column += 2;
						continue;
					}
				} else if (c == '"') {
					in_string = false;
				}
			} else if (c == '"') {
				in_string = true;
			} else if (c == '[' || c == '{') {
				if (++depth > CODEC_MAX_DEPTH)
					return codec_fail(err, KORCH_ETOOLARGE, source, line,
							  column, "nesting deeper than %d",
							  CODEC_MAX_DEPTH);
			} else if ((c == ']' || c == '}') && depth > 0) {
				depth--;
			}
		}
		if (c == '\n') {
			line++;
			column = 1;
		} else {
			column++;
		}
		i += n;
	}
	return 0;
}

void
codec_docs_free(struct codec_docs *docs)
{
	if (!docs)
		return;
	for (size_t i = 0; i < docs->n; i++)
		json_decref(docs->docs[i]);
	free(docs->docs);
	free(docs->lines);
	*docs = (struct codec_docs){ 0 };
}

int
codec_docs_push(struct codec_docs *docs, json_t *doc, unsigned line)
{
	if (docs->n == docs->cap) {
		size_t cap = docs->cap ? docs->cap * 2 : 4;
		json_t **d = realloc(docs->docs, cap * sizeof(*d));
		if (!d) {
			json_decref(doc);
			return KORCH_ENOMEM;
		}
		docs->docs = d;
		unsigned *l = realloc(docs->lines, cap * sizeof(*l));
		if (!l) {
			json_decref(doc);
			return KORCH_ENOMEM;
		}
		docs->lines = l;
		docs->cap = cap;
	}
	docs->docs[docs->n] = doc;
	docs->lines[docs->n] = line;
	docs->n++;
	return 0;
}

int
codec_json_decode(const char *data, size_t len, json_t **ret, korch_error **err)
{
	return codec_json_decode_source(data, len, NULL, ret, err);
}

int
codec_yaml_decode(const char *data, size_t len, struct codec_docs *ret, korch_error **err)
{
	return codec_yaml_decode_source(data, len, NULL, ret, err);
}

int
codec_decode_manifests(const char *data, size_t len, const char *source, struct codec_docs *ret,
		       korch_error **err)
{
	size_t i = 0;
	unsigned line = 1;
	while (i < len &&
	       (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) {
		if (data[i] == '\n')
			line++;
		i++;
	}
	if (i == len || (data[i] != '{' && data[i] != '['))
		return codec_yaml_decode_source(data, len, source, ret, err);

	json_t *doc = NULL;
	int r = codec_json_decode_source(data, len, source, &doc, err);
	if (r < 0)
		return r;
	struct codec_docs docs = { 0 };
	r = codec_docs_push(&docs, doc, line);
	if (r < 0)
		return error_oom(err);
	*ret = docs;
	return 0;
}
