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

/* Releases the documents and empties docs (ready for reuse); takes NULL. */
void codec_docs_free(struct codec_docs *docs);

/*
 * Decodes one JSON document. Refused: more than CODEC_MAX_DOCUMENT_BYTES, nesting deeper than
 * CODEC_MAX_DEPTH, duplicate keys, NUL bytes, invalid UTF-8, numbers out of range, trailing
 * garbage. Errors are KORCH_EINVALID (KORCH_ETOOLARGE for the limits) with line and column.
 */
int codec_json_decode(const char *data, size_t len, json_t **ret, korch_error **err);

/*
 * Decodes a YAML stream of one or more documents (JSON is accepted too, being YAML). Empty
 * documents are skipped; each kept document's line is that of its first content line.
 * Scalars resolve as Kubernetes' YAML path does (sigs.k8s.io/yaml over go-yaml v2): null/~,
 * true/false/yes/no/on/off/y/n, integers including 0x, 0o, 0b and 0 octal (0644 is 420),
 * floats (an integral float such as 1e3 becomes the integer Kubernetes reads after Go's JSON),
 * timestamps kept as strings, quoted scalars and !!str as strings. Refused (KORCH_EINVALID,
 * with the line): .inf and .nan, integer literals outside int64, duplicate keys, null and
 * collection keys, !!binary, NUL and invalid UTF-8. Other keys become strings (1.5: x gives
 * "1.5"); merge keys (<<) are honoured. Limits as for JSON plus CODEC_MAX_YAML_NODES
 * (KORCH_ETOOLARGE). Aliases give independent copies. *ret is overwritten on success only.
 */
int codec_yaml_decode(const char *data, size_t len, struct codec_docs *ret, korch_error **err);

/*
 * Decodes manifests: JSON when the first non-blank byte is '{' or '[' (as kubectl decides; one
 * document, whose line is that of the bracket), YAML otherwise. source (a file name, or NULL)
 * prefixes error messages ("deploy.yaml:12:3: ..." rather than "line 12 column 3: ...").
 */
int codec_decode_manifests(const char *data, size_t len, const char *source,
			   struct codec_docs *ret, korch_error **err);

/*
 * Compact JSON in insertion order, NUL-terminated: json_dumps()'s text, several times faster.
 * NULL when out of memory or for what json_dumps() refuses (NULL, a cycle, a string that is not
 * UTF-8). Caller frees.
 */
char *codec_json_encode(const json_t *value);

/*
 * Appends the text codec_json_encode() gives to out (which callers can reuse from one value to
 * the next). KORCH_ENOMEM, or KORCH_EINVALID for what json_dumps() refuses; out is then as it
 * was.
 */
int codec_json_encode_append(const json_t *value, struct strbuf *out);

/*
 * Decodes JSON text that korch wrote itself (stored objects): the tree json_loadb(data, len, 0)
 * builds (an object or an array at the top; a key twice keeps its last value; no size limit),
 * faster. KORCH_EINVALID with jansson's message ("line L column C: ...") when that fails.
 */
int codec_json_decode_stored(const char *data, size_t len, json_t **ret, korch_error **err);

/*
 * Appends value as block-style YAML the way kubectl -o yaml prints it (two-space indent, lists
 * not indented under their key, strings quoted only where plain YAML would change them, literal
 * blocks for multi-line strings, keys in insertion order). Refused: strings holding NUL
 * (KORCH_EINVALID), nesting deeper than CODEC_MAX_DEPTH (KORCH_ETOOLARGE); out is then left as
 * it was.
 */
int codec_yaml_encode(const json_t *value, struct strbuf *out, korch_error **err);

#endif
