/*
 * codec-internal.h - what the codec's files share: positioned errors, input checks, and the
 * YAML scalar resolution rules that the decoder and the encoder must agree on.
 */
#ifndef KORCH_API_CODEC_INTERNAL_H
#define KORCH_API_CODEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/codec.h"
#include "base/macro.h"

/*
 * Sets an error whose message says where: "SOURCE:LINE:COLUMN: MSG" when source is known,
 * "line LINE column COLUMN: MSG" otherwise. A column of 0 leaves the column out, a line of 0
 * leaves the position out ("SOURCE: MSG", or just "MSG"). Returns code.
 */
int codec_fail(korch_error **err, int code, const char *source, unsigned line, unsigned column,
	       const char *fmt, ...) _printf_(6, 7);

/*
 * Refuses input over CODEC_MAX_DOCUMENT_BYTES (KORCH_ETOOLARGE), and NUL bytes and invalid
 * UTF-8 (KORCH_EINVALID) with their line and column. With json_depth it also refuses JSON
 * nesting deeper than CODEC_MAX_DEPTH (KORCH_ETOOLARGE), so that jansson never builds a tree
 * for such input.
 */
int codec_check_input(const char *data, size_t len, const char *source, bool json_depth,
		      korch_error **err);

/* The line and column (both 1-based, columns counted in characters) of byte offset in data. */
void codec_position(const char *data, size_t len, size_t offset, unsigned *ret_line,
		    unsigned *ret_column);

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 when it is invalid or NUL. */
size_t codec_utf8_char(const unsigned char *s, size_t left);

/*
 * The tree codec_json_decode() gives for plain valid JSON within the limits, built without
 * jansson's parser; NULL for anything else (the checked path then finds the error).
 */
json_t *codec_json_decode_fast(const char *data, size_t len);

/* Decodes one JSON document; source prefixes errors (see codec_fail). */
int codec_json_decode_source(const char *data, size_t len, const char *source, json_t **ret,
			     korch_error **err);

/* Decodes a YAML stream; source prefixes errors (see codec_fail). */
int codec_yaml_decode_source(const char *data, size_t len, const char *source,
			     struct codec_docs *ret, korch_error **err);

/* Appends one document to docs, taking the reference to doc (released on failure too). */
int codec_docs_push(struct codec_docs *docs, json_t *doc, unsigned line);

/* What a YAML scalar resolves to under go-yaml v2's rules (Kubernetes' YAML path). */
enum yaml_type {
	YAML_T_STR,       /* a string: the text itself */
	YAML_T_TIMESTAMP, /* a timestamp, which Kubernetes keeps as its text: a string */
	YAML_T_NULL,      /* ~, null, empty */
	YAML_T_BOOL,      /* b */
	YAML_T_INT,       /* i */
	YAML_T_FLOAT,     /* f, finite */
	YAML_T_INFNAN,    /* .inf, -.inf, .nan: no JSON form */
	YAML_T_RANGE,     /* an integer literal outside int64 */
};

struct yaml_scalar {
	enum yaml_type type; /* what the text resolved to */
	bool b;              /* YAML_T_BOOL */
	int64_t i;           /* YAML_T_INT */
	double f;            /* YAML_T_FLOAT, YAML_T_INFNAN */
};

/*
 * Resolves the text of a plain (unquoted, untagged) scalar the way go-yaml v2's resolve() does
 * for Kubernetes: booleans y/yes/on/true/... , nulls, integers (decimal, 0x, 0o, 0b, leading-0
 * octal, underscores), floats, timestamps. A float literal out of double's range stays a string,
 * as in Go. Returns 0, or KORCH_ENOMEM (a very long number's copy).
 */
int yaml_resolve_plain(const char *s, size_t len, struct yaml_scalar *ret);

/* Go's time.Parse of the four timestamp layouts go-yaml v2 accepts. */
bool yaml_is_timestamp(const char *s, size_t len);

/*
 * Whether the string s would read back as this same string when written as a plain scalar,
 * as far as resolution goes (the emitter still checks which characters plain style allows).
 * False for anything that resolves to another type, for base-60 look-alikes ("1:20") which
 * go-yaml quotes, and for "<<" (a merge key when plain). False as well when out of memory:
 * quoting is always safe.
 */
bool yaml_plain_is_string(const char *s, size_t len);

/*
 * Formats v as Go's strconv.FormatFloat(v, 'g', -1, bits) does (bits 32 or 64: the shortest
 * text that reads back as the same float of that size), with go-yaml's .inf, -.inf and .nan.
 */
void yaml_format_float(double v, int bits, char buf[static 40]);

/* The JSON value of a resolved scalar: integral floats within int64 become integers. */
json_t *yaml_scalar_json(const struct yaml_scalar *sc, const char *text, size_t len);

#endif
