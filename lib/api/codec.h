/*
 * codec.h - manifests in and out: JSON and YAML (libyaml) text to jansson trees and back.
 *
 * Objects keep their field order (jansson keeps insertion order) so a manifest round-trips
 * without losing fields or their order. Every decoder enforces the input limits below and
 * refuses bad input with an error naming the problem and, where it has one, the line.
 */
#ifndef KORCH_API_CODEC_H
#define KORCH_API_CODEC_H

#include <stddef.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/strbuf.h"

/* Kubernetes' request body limit (k8s.io/apiserver MaxRequestBodyBytes). */
#define CODEC_MAX_DOCUMENT_BYTES (3 * 1024 * 1024)
/* Deepest nesting of objects and arrays accepted. */
#define CODEC_MAX_DEPTH 100
/*
 * Budget of nodes a YAML stream may produce after alias expansion: bounds the "billion laughs"
 * document (CVE-2019-11253) to a fraction of a second.
 */
#define CODEC_MAX_YAML_NODES 1000000

/* The documents of one input: each a JSON value, with the line where it started (1-based). */
struct codec_docs {
	json_t **docs;   /* n owned references */
	unsigned *lines; /* n start lines */
	size_t n;        /* documents */
	size_t cap;      /* allocated entries */
};

void codec_docs_free(struct codec_docs *docs);

/*
 * Decodes one JSON document. Refused: more than CODEC_MAX_DOCUMENT_BYTES, nesting deeper than
 * CODEC_MAX_DEPTH, duplicate keys, NUL bytes, invalid UTF-8, numbers out of range, trailing
 * garbage. Errors are KORCH_EINVALID (KORCH_ETOOLARGE for the limits) with line and column.
 */
int codec_json_decode(const char *data, size_t len, json_t **ret, korch_error **err);

/*
 * Decodes a YAML stream of one or more documents (JSON is accepted too, being YAML). Empty
 * documents are skipped. Scalars resolve as Kubernetes' YAML decoder does (go-yaml v2 rules:
 * null/~, true/false/yes/no/on/off, integers including 0x and 0 octal, floats, .inf/.nan;
 * quoted scalars are strings). Limits as for JSON plus CODEC_MAX_YAML_NODES; non-string keys
 * become strings; merge keys (<<) are honoured.
 */
int codec_yaml_decode(const char *data, size_t len, struct codec_docs *ret, korch_error **err);

/*
 * Decodes manifests: JSON when the first non-blank byte is '{' or '[', YAML otherwise. source
 * (a file name, or NULL) prefixes error messages ("deploy.yaml:12: ...").
 */
int codec_decode_manifests(const char *data, size_t len, const char *source,
			   struct codec_docs *ret, korch_error **err);

/* Compact JSON in insertion order, NUL-terminated; NULL when out of memory. Caller frees. */
char *codec_json_encode(const json_t *value);

/*
 * Appends value as block-style YAML the way kubectl -o yaml prints it (two-space indent, lists
 * not indented under their key, strings quoted only where plain YAML would change them).
 */
int codec_yaml_encode(const json_t *value, struct strbuf *out, korch_error **err);

#endif
