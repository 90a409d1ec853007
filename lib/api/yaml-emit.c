/*
 * yaml-emit.c - jansson trees to YAML the way `kubectl get -o yaml` prints them.
 *
 * kubectl writes YAML with go-yaml v2, whose emitter is a port of libyaml's: so libyaml's own
 * emitter, set up as go-yaml sets it up (2-space indent, 80-column folding of long plain
 * scalars, Unicode written as is) and fed the scalar styles go-yaml picks, gives the same text:
 * block mappings in insertion order, sequences under a key not indented further ("- name: x"),
 * "{}" and "[]" for empty collections, literal blocks for multi-line strings, and strings quoted
 * only where a plain scalar would read back as something else.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "api/codec-internal.h"
#include "base/error.h"

static int
write_out(void *data, unsigned char *buffer, size_t size)
{
	return strbuf_append(data, (const char *)buffer, size) == 0;
}

static int
emit(yaml_emitter_t *e, yaml_event_t *ev, korch_error **err)
{
	if (yaml_emitter_emit(e, ev))
		return 0;
	if (e->error == YAML_MEMORY_ERROR || e->error == YAML_WRITER_ERROR)
		return error_oom(err);
	return error_set(err, KORCH_EINVALID, "emit YAML: %s",
			 e->problem ? e->problem : "unknown error");
}

static int
emit_scalar(yaml_emitter_t *e, const char *s, size_t len, yaml_scalar_style_t style,
	    korch_error **err)
{
	if (len > INT_MAX)
		return error_set(err, KORCH_ETOOLARGE, "a string of %zu bytes is too long for YAML",
				 len);
	yaml_event_t ev;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style))
		return error_oom(err);
	return emit(e, &ev, err);
}

/*
 * The style go-yaml v2 asks for (libyaml's emitter may still fall back to single or double
 * quotes where the text does not allow it): literal for text with a newline, plain where the
 * text reads back as this string, double-quoted otherwise.
 */
static int
emit_string(yaml_emitter_t *e, const char *s, size_t len, korch_error **err)
{
	if (memchr(s, 0, len))
		return error_set(err, KORCH_EINVALID, "a string holds a NUL byte");
	yaml_scalar_style_t style;
	if (memchr(s, '\n', len))
		style = YAML_LITERAL_SCALAR_STYLE;
	else if (yaml_plain_is_string(s, len))
		style = YAML_PLAIN_SCALAR_STYLE;
	else
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	return emit_scalar(e, s, len, style, err);
}

static int
emit_number(yaml_emitter_t *e, const json_t *v, korch_error **err)
{
	char buf[40];
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else {
		/* Integral values print as integers, as kubectl shows them after Go's JSON. */
		double f = json_real_value(v);
		if (f == trunc(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0)
			snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)f);
		else
			yaml_format_float(f, 64, buf);
	}
	return emit_scalar(e, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE, err);
}

static int
emit_node(yaml_emitter_t *e, const json_t *v, unsigned depth, korch_error **err)
{
	yaml_event_t ev;
	int r = 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (depth >= CODEC_MAX_DEPTH)
			return error_set(err, KORCH_ETOOLARGE, "nesting deeper than %d",
					 CODEC_MAX_DEPTH);
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE))
			return error_oom(err);
		if ((r = emit(e, &ev, err)) < 0)
			return r;
		json_t *obj = (json_t *)v;
		for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
			if ((r = emit_string(e, json_object_iter_key(it),
					     json_object_iter_key_len(it), err)) < 0 ||
			    (r = emit_node(e, json_object_iter_value(it), depth + 1, err)) < 0)
				return r;
		}
		yaml_mapping_end_event_initialize(&ev);
		return emit(e, &ev, err);
	}
	case JSON_ARRAY: {
		if (depth >= CODEC_MAX_DEPTH)
			return error_set(err, KORCH_ETOOLARGE, "nesting deeper than %d",
					 CODEC_MAX_DEPTH);
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  YAML_BLOCK_SEQUENCE_STYLE))
			return error_oom(err);
		if ((r = emit(e, &ev, err)) < 0)
			return r;
		for (size_t i = 0; i < json_array_size(v); i++)
			if ((r = emit_node(e, json_array_get(v, i), depth + 1, err)) < 0)
				return r;
		yaml_sequence_end_event_initialize(&ev);
		return emit(e, &ev, err);
	}
	case JSON_STRING: return emit_string(e, json_string_value(v), json_string_length(v), err);
	case JSON_INTEGER:
	case JSON_REAL: return emit_number(e, v, err);
	case JSON_TRUE: return emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE, err);
	case JSON_FALSE: return emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE, err);
	case JSON_NULL: return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE, err);
	}
	return error_set(err, KORCH_EINVALID, "unknown JSON value type");
}

static int
emit_document(yaml_emitter_t *e, const json_t *value, korch_error **err)
{
	yaml_event_t ev;
	int r;
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING))
		return error_oom(err);
	if ((r = emit(e, &ev, err)) < 0)
		return r;
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1))
		return error_oom(err);
	if ((r = emit(e, &ev, err)) < 0 || (r = emit_node(e, value, 0, err)) < 0)
		return r;
	if (!yaml_document_end_event_initialize(&ev, 1))
		return error_oom(err);
	if ((r = emit(e, &ev, err)) < 0)
		return r;
	if (!yaml_stream_end_event_initialize(&ev))
		return error_oom(err);
	if ((r = emit(e, &ev, err)) < 0)
		return r;
	if (!yaml_emitter_flush(e))
		return error_oom(err);
	return 0;
}

int
codec_yaml_encode(const json_t *value, struct strbuf *out, korch_error **err)
{
	if (!value)
		return error_set(err, KORCH_EINVALID, "no value to encode");
	size_t start = out->len;
	yaml_emitter_t e;
	if (!yaml_emitter_initialize(&e))
		return error_oom(err);
	yaml_emitter_set_output(&e, write_out, out);
	yaml_emitter_set_encoding(&e, YAML_UTF8_ENCODING);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_indent(&e, 2);
	yaml_emitter_set_width(&e, 80);
	yaml_emitter_set_break(&e, YAML_LN_BREAK);
	int r = emit_document(&e, value, err);
	yaml_emitter_delete(&e);
	if (r < 0) {
		if (!out->oom)
			strbuf_truncate(out, start);
		return r;
	}
	/*
	 * libyaml ends a document whose last scalar is a keep-chomped block ("|+") with "...";
	 * go-yaml clears that state before the stream ends and writes none. The block still ends
	 * where the text does.
	 */
	size_t n = out->len - start;
	const char *text = out->buf + start;
	if ((n == 4 && memcmp(text, "...\n", 4) == 0) ||
	    (n > 4 && memcmp(text + n - 5, "\n...\n", 5) == 0))
		strbuf_truncate(out, out->len - 4);
	return 0;
}
