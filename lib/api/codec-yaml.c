/*
 * codec-yaml.c - YAML streams to jansson trees, straight from libyaml's events (no libyaml
 * document tree in between), with Kubernetes' meaning of every scalar and the input limits:
 * size, nesting, and a node budget that counts alias expansions so that the "billion laughs"
 * document (CVE-2019-11253) is refused after a few hundred nodes of work.
 *
 * An alias first shares its anchor's tree (a reference); once a document that used aliases is
 * complete, every shared subtree but one is replaced by a copy, so callers always get
 * independent trees and the copying is bounded by the node budget.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "api/codec-internal.h"
#include "base/error.h"
#include "base/hashmap.h"
#include "base/strbuf.h"
#include "base/vec.h"
#include "base/util.h"

#define YAML_MERGE_TAG "tag:yaml.org,2002:merge"
#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* One mapping or sequence being built. */
struct frame {
	json_t *value;          /* the object or array (owned) */
	bool is_map;            /* mapping or sequence */
	bool has_key;           /* mapping: a key was read and its value is next */
	bool key_merge;         /* the pending key is the merge key << */
	bool key_override;      /* the pending key replaces a value merged in earlier */
	char *key;              /* the pending key (owned); NULL for << */
	unsigned key_line;      /* line of the pending key */
	unsigned merge_line;    /* line of this mapping's << key, 0 when it has none */
	unsigned *lines;        /* mapping: line of each key in insertion order */
	size_t n_lines;         /* entries in lines */
	size_t cap_lines;       /* allocated entries */
	struct hashmap *merged; /* keys that came from <<: value (line << 1) | explicitly set */
	char *anchor;           /* anchor to register once complete (owned), or NULL */
	size_t nodes_at_start;  /* the decoder's node count before this node */
	unsigned height;        /* levels of nesting from this node down, itself included */
	unsigned line;          /* where the node starts, 1-based */
	unsigned column;        /* likewise */
};

/* A completed anchored node. */
struct anchor {
	json_t *value;       /* a reference; NULL for a scalar JSON cannot hold (.inf) */
	char *key;           /* what the node is as a mapping key, or NULL */
	const char *why_key; /* why it cannot be a key, when key is NULL */
	const char *why;     /* why it cannot be a value, when value is NULL */
	size_t nodes;        /* nodes the node expands to, aliases inside included */
	unsigned height;     /* levels of nesting, 0 for a scalar */
};

struct decoder {
	yaml_parser_t parser;                 /* libyaml's event parser */
	const char *data;                     /* the input, for positions of reader errors */
	size_t len;                           /* its length */
	const char *source;                   /* file name for messages, or NULL */
	struct frame frames[CODEC_MAX_DEPTH]; /* open mappings and sequences */
	unsigned depth;                       /* frames in use */
	json_t *root;                         /* the current document's root, once complete */
	unsigned root_line;                   /* where the root starts */
	bool root_empty;                      /* the document holds nothing at all */
	bool shared;                          /* an alias shares a subtree: copy the document */
	size_t nodes;                         /* nodes produced in the stream, aliases expanded */
	struct hashmap anchors;               /* name -> struct anchor, for the current document */
	struct codec_docs docs;               /* completed documents */
};

static void
anchor_free(void *p)
{
	struct anchor *a = p;
	if (!a)
		return;
	json_decref(a->value);
	free(a->key);
	free(a);
}

static void
frame_clear(struct frame *f)
{
	json_decref(f->value);
	free(f->key);
	free(f->lines);
	free(f->anchor);
	if (f->merged) {
		hashmap_free(f->merged, NULL);
		free(f->merged);
	}
	*f = (struct frame){ 0 };
}

static void
decoder_clear_anchors(struct decoder *d)
{
	hashmap_free(&d->anchors, anchor_free);
	d->anchors = (struct hashmap)HASHMAP_INIT;
}

static int fail(struct decoder *d, int code, unsigned line, unsigned column, korch_error **err,
		const char *fmt, ...) _printf_(6, 7);

static int
fail(struct decoder *d, int code, unsigned line, unsigned column, korch_error **err,
     const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return error_oom(err);
	codec_fail(err, code, d->source, line, column, "%s", msg);
	free(msg);
	return code;
}

/* A key as Go's %q would show it, shortened past 64 bytes; into a strbuf for messages. */
static const char *
quote_key(struct strbuf *sb, const char *key)
{
	strbuf_putc(sb, '"');
	size_t n = strlen(key);
	for (size_t i = 0; i < n && i < 64; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c == '"' || c == '\\')
			strbuf_printf(sb, "\\%c", c);
		else if (c == '\n')
			strbuf_puts(sb, "\\n");
		else if (c == '\t')
			strbuf_puts(sb, "\\t");
		else if (c < 0x20 || c == 0x7f)
			strbuf_printf(sb, "\\x%02x", c);
		else
			strbuf_putc(sb, (char)c);
	}
	strbuf_puts(sb, n > 64 ? "\"..." : "\"");
	return sb->oom ? "(key)" : strbuf_str(sb);
}

static int
fail_duplicate(struct decoder *d, const char *key, unsigned line, unsigned column,
	       unsigned first_line, korch_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	return fail(d, KORCH_EINVALID, line, column, err,
		    "mapping key %s already defined at line %u", quote_key(&sb, key), first_line);
}

static void
pos(const yaml_mark_t *m, unsigned *line, unsigned *column)
{
	*line = (unsigned)m->line + 1;
	*column = (unsigned)m->column + 1;
}

/* Counts n more nodes against the stream's budget. */
static int
spend(struct decoder *d, size_t n, const char *alias, unsigned line, unsigned column,
      korch_error **err)
{
	if (n > CODEC_MAX_YAML_NODES || d->nodes + n > CODEC_MAX_YAML_NODES) {
		if (alias)
			return fail(d, KORCH_ETOOLARGE, line, column, err,
				    "alias *%s expands the stream past %d nodes", alias,
				    CODEC_MAX_YAML_NODES);
		return fail(d, KORCH_ETOOLARGE, line, column, err, "more than %d nodes",
			    CODEC_MAX_YAML_NODES);
	}
	d->nodes += n;
	return 0;
}

static struct frame *
top(struct decoder *d)
{
	return d->depth ? &d->frames[d->depth - 1] : NULL;
}

static bool
expecting_key(struct decoder *d)
{
	struct frame *f = top(d);
	return f && f->is_map && !f->has_key;
}

static int
push_line(struct frame *f, unsigned line)
{
	unsigned *slot = VEC_PUSH(f->lines, f->n_lines, f->cap_lines);
	if (!slot)
		return KORCH_ENOMEM;
	*slot = line;
	return 0;
}

/* The line where key was set first in the mapping f (it is there). */
static unsigned
first_line_of(struct frame *f, const char *key)
{
	size_t i = 0;
	for (void *it = json_object_iter(f->value); it; it = json_object_iter_next(f->value, it)) {
		if (streq(json_object_iter_key(it), key))
			return i < f->n_lines ? f->lines[i] : 0;
		i++;
	}
	return 0;
}

/*
 * Takes key (owned) as the pending key of the mapping on top. A key already set is a duplicate,
 * unless it came from a merge (<<) and is set explicitly for the first time: that overrides it.
 */
static int
take_key(struct decoder *d, char *key, unsigned line, unsigned column, korch_error **err)
{
	struct frame *f = top(d);
	f->key_override = false;
	if (json_object_get(f->value, key)) {
		uintptr_t e = f->merged ? (uintptr_t)hashmap_get(f->merged, key) : 0;
		if (e && !(e & 1)) {
			f->key_override = true;
		} else {
			unsigned first = e ? (unsigned)(e >> 1) : first_line_of(f, key);
			int r = fail_duplicate(d, key, line, column, first, err);
			free(key);
			return r;
		}
	}
	f->key = key;
	f->has_key = true;
	f->key_merge = false;
	f->key_line = line;
	return 0;
}

static int
merge_one(struct decoder *d, struct frame *f, json_t *src)
{
	if (!f->merged) {
		f->merged = calloc(1, sizeof(*f->merged));
		if (!f->merged)
			return KORCH_ENOMEM;
	}
	for (void *it = json_object_iter(src); it; it = json_object_iter_next(src, it)) {
		const char *k = json_object_iter_key(it);
		json_t *v = json_object_iter_value(it);
		/* Keys set explicitly, and keys from earlier merge sources, win. */
		if (json_object_get(f->value, k))
			continue;
		if (json_object_set(f->value, k, v) < 0 || push_line(f, f->merge_line) < 0 ||
		    hashmap_put(f->merged, k, (void *)((uintptr_t)f->merge_line << 1), NULL) < 0)
			return KORCH_ENOMEM;
	}
	return 0;
}

/* Merges src (the value of <<: a mapping or a sequence of mappings) into the mapping f. */
static int
merge(struct decoder *d, struct frame *f, json_t *src, unsigned line, unsigned column,
      korch_error **err)
{
	bool ok = json_is_object(src) || json_is_array(src);
	for (size_t i = 0; ok && json_is_array(src) && i < json_array_size(src); i++)
		ok = json_is_object(json_array_get(src, i));
	if (!ok)
		return fail(d, KORCH_EINVALID, line, column, err,
			    "map merge requires map or sequence of maps as the value");
	int r = 0;
	if (json_is_object(src))
		r = merge_one(d, f, src);
	for (size_t i = 0; r == 0 && json_is_array(src) && i < json_array_size(src); i++)
		r = merge_one(d, f, json_array_get(src, i));
	return r < 0 ? error_oom(err) : 0;
}

/* Puts a completed node (value is owned) where it belongs: the root, a sequence, a mapping. */
static int
place(struct decoder *d, json_t *value, unsigned height, unsigned line, unsigned column,
      korch_error **err)
{
	struct frame *f = top(d);
	if (!f) {
		d->root = value;
		d->root_line = line;
		return 0;
	}
	if (f->height < height + 1)
		f->height = height + 1;
	if (!f->is_map) {
		if (json_array_append_new(f->value, value) < 0)
			return error_oom(err);
		return 0;
	}
	f->has_key = false;
	if (f->key_merge) {
		f->key_merge = false;
		int r = merge(d, f, value, line, column, err);
		json_decref(value);
		return r;
	}
	_cleanup_free_ char *key = steal_pointer(&f->key);
	if (json_object_set_new(f->value, key, value) < 0)
		return error_oom(err);
	if (f->key_override)
		return hashmap_put(f->merged, key, (void *)(((uintptr_t)f->key_line << 1) | 1),
				   NULL) < 0
			       ? error_oom(err)
			       : 0;
	return push_line(f, f->key_line) < 0 ? error_oom(err) : 0;
}

/*
 * Registers (or redefines) an anchor of the current document. value is borrowed (a reference is
 * taken), key is copied. Nothing is taken on failure.
 */
static int
add_anchor(struct decoder *d, const char *name, json_t *value, const char *key, const char *why_key,
	   const char *why, size_t nodes, unsigned height, korch_error **err)
{
	struct anchor *a = calloc(1, sizeof(*a));
	if (!a)
		return error_oom(err);
	*a = (struct anchor){
		.value = json_incref(value),
		.key = key ? strdup(key) : NULL,
		.why_key = why_key,
		.why = why,
		.nodes = nodes,
		.height = height,
	};
	void *old = NULL;
	if ((key && !a->key) || hashmap_put(&d->anchors, name, a, &old) < 0) {
		anchor_free(a);
		return error_oom(err);
	}
	anchor_free(old);
	return 0;
}

static const char *
type_tag(enum yaml_type t)
{
	switch (t) {
	case YAML_T_NULL: return "!!null";
	case YAML_T_BOOL: return "!!bool";
	case YAML_T_INT:
	case YAML_T_RANGE: return "!!int";
	case YAML_T_FLOAT:
	case YAML_T_INFNAN: return "!!float";
	case YAML_T_STR:
	case YAML_T_TIMESTAMP: break;
	}
	return "!!str";
}

/*
 * Resolves a scalar event as go-yaml v2 does: untagged plain text by the resolve table, quoted
 * and block text as strings, the core tags (!!str, !!int, !!float, !!bool, !!null,
 * !!timestamp) by checking that the text is of that type, any other tag as a string.
 */
static int
resolve_scalar(struct decoder *d, const yaml_event_t *ev, struct yaml_scalar *sc, korch_error **err)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	unsigned line, column;
	pos(&ev->start_mark, &line, &column);

	*sc = (struct yaml_scalar){ .type = YAML_T_STR };
	if (!tag)
		return ev->data.scalar.plain_implicit ? yaml_resolve_plain(text, len, sc) : 0;
	const char *name = startswith(tag, YAML_TAG_PREFIX);
	if (!name || streq(name, "str") || streq(name, "merge"))
		return 0;
	if (streq(name, "binary"))
		return fail(d, KORCH_EINVALID, line, column, err,
			    "!!binary is not supported: write the base64 text as a plain string");
	if (!streq(name, "int") && !streq(name, "float") && !streq(name, "bool") &&
	    !streq(name, "null") && !streq(name, "timestamp"))
		return 0;
	if (yaml_resolve_plain(text, len, sc) < 0)
		return error_oom(err);
	/* go-yaml only tries a timestamp for untagged text and !!timestamp. */
	if (sc->type == YAML_T_TIMESTAMP && !streq(name, "timestamp"))
		sc->type = YAML_T_STR;
	const char *got = type_tag(sc->type);
	if (streq(got + 2, name))
		return 0;
	if (sc->type == YAML_T_TIMESTAMP && streq(name, "timestamp"))
		return 0;
	if (streq(name, "float") && sc->type == YAML_T_INT) {
		sc->type = YAML_T_FLOAT;
		sc->f = (double)sc->i;
		return 0;
	}
	_cleanup_free_ char *shown = strndup(text, MIN(len, 64));
	if (!shown)
		return error_oom(err);
	return fail(d, KORCH_EINVALID, line, column, err, "cannot decode %s `%s` as a !!%s", got,
		    shown, name);
}

/* What sigs.k8s.io/yaml makes of a scalar used as a mapping key. */
static int
scalar_key(const struct yaml_scalar *sc, const char *text, size_t len, char **ret, const char **why)
{
	char buf[40];
	switch (sc->type) {
	case YAML_T_STR:
	case YAML_T_TIMESTAMP: *ret = strndup(text, len); break;
	case YAML_T_NULL: *why = "unsupported map key: null"; return KORCH_EINVALID;
	case YAML_T_RANGE: *why = "integer out of range"; return KORCH_EINVALID;
	case YAML_T_BOOL: *ret = strdup(sc->b ? "true" : "false"); break;
	case YAML_T_INT:
		snprintf(buf, sizeof(buf), "%" PRId64, sc->i);
		*ret = strdup(buf);
		break;
	case YAML_T_FLOAT:
	case YAML_T_INFNAN:
		/* Formatted as a float32, as sigs.k8s.io/yaml does for float keys. */
		yaml_format_float(sc->f, 32, buf);
		*ret = strdup(buf);
		break;
	}
	return *ret ? 0 : KORCH_ENOMEM;
}

static const char *
value_problem(enum yaml_type t)
{
	if (t == YAML_T_INFNAN)
		return "infinity and NaN cannot be represented in JSON";
	if (t == YAML_T_RANGE)
		return "integer out of range";
	return NULL;
}

static int
on_scalar(struct decoder *d, const yaml_event_t *ev, korch_error **err)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *anchor = (const char *)ev->data.scalar.anchor;
	unsigned line, column;
	pos(&ev->start_mark, &line, &column);

	if (memchr(text, 0, len))
		return fail(d, KORCH_EINVALID, line, column, err, "NUL character in a string");
	int r = spend(d, 1, NULL, line, column, err);
	if (r < 0)
		return r;
	struct yaml_scalar sc;
	r = resolve_scalar(d, ev, &sc, err);
	if (r < 0)
		return r;

	bool key_position = expecting_key(d);
	if (key_position && len == 2 && memcmp(text, "<<", 2) == 0 &&
	    (tag ? streq(tag, YAML_MERGE_TAG) : ev->data.scalar.plain_implicit)) {
		struct frame *f = top(d);
		if (f->merge_line)
			return fail_duplicate(d, "<<", line, column, f->merge_line, err);
		f->merge_line = line;
		f->has_key = true;
		f->key_merge = true;
		f->key_line = line;
		if (!anchor)
			return 0;
		/* An anchor on << itself names the string "<<". */
		_cleanup_(json_decrefp) json_t *s = json_string("<<");
		if (!s)
			return error_oom(err);
		return add_anchor(d, anchor, s, "<<", NULL, NULL, 1, 0, err);
	}

	_cleanup_free_ char *key = NULL;
	const char *why_key = NULL;
	if (key_position || anchor) {
		r = scalar_key(&sc, text, len, &key, &why_key);
		if (r == KORCH_ENOMEM)
			return error_oom(err);
		if (r < 0 && key_position)
			return fail(d, KORCH_EINVALID, line, column, err, "%s", why_key);
	}
	_cleanup_(json_decrefp) json_t *value = NULL;
	const char *why = NULL;
	if (!key_position || anchor) {
		why = value_problem(sc.type);
		if (why && !key_position) {
			_cleanup_free_ char *shown = strndup(text, MIN(len, 64));
			return fail(d, KORCH_EINVALID, line, column, err, "%s: %s",
				    shown ? shown : "", why);
		}
		if (!why && !(value = yaml_scalar_json(&sc, text, len)))
			return error_oom(err);
	}
	if (anchor) {
		r = add_anchor(d, anchor, value, key, why_key, why, 1, 0, err);
		if (r < 0)
			return r;
	}
	if (key_position)
		return take_key(d, steal_pointer(&key), line, column, err);
	if (d->depth == 0 && len == 0 && !tag && !anchor && ev->data.scalar.plain_implicit)
		d->root_empty = true;
	return place(d, steal_pointer(&value), 0, line, column, err);
}

static int
on_alias(struct decoder *d, const yaml_event_t *ev, korch_error **err)
{
	const char *name = (const char *)ev->data.alias.anchor;
	unsigned line, column;
	pos(&ev->start_mark, &line, &column);
	struct anchor *a = hashmap_get(&d->anchors, name);
	if (!a)
		return fail(d, KORCH_EINVALID, line, column, err, "unknown anchor '%s' referenced",
			    name);
	if (expecting_key(d)) {
		if (!a->key)
			return fail(d, KORCH_EINVALID, line, column, err, "%s",
				    a->why_key ? a->why_key : "invalid map key");
		char *key = strdup(a->key);
		if (!key)
			return error_oom(err);
		int r = spend(d, 1, name, line, column, err);
		if (r < 0) {
			free(key);
			return r;
		}
		return take_key(d, key, line, column, err);
	}
	int r = spend(d, a->nodes, name, line, column, err);
	if (r < 0)
		return r;
	if (d->depth + a->height > CODEC_MAX_DEPTH)
		return fail(d, KORCH_ETOOLARGE, line, column, err, "nesting deeper than %d",
			    CODEC_MAX_DEPTH);
	if (!a->value)
		return fail(d, KORCH_EINVALID, line, column, err, "alias *%s: %s", name, a->why);
	d->shared = true;
	return place(d, json_incref(a->value), a->height, line, column, err);
}

static int
on_start(struct decoder *d, const yaml_event_t *ev, korch_error **err)
{
	bool is_map = ev->type == YAML_MAPPING_START_EVENT;
	unsigned line, column;
	pos(&ev->start_mark, &line, &column);
	if (expecting_key(d))
		return fail(d, KORCH_EINVALID, line, column, err, "invalid map key: a %s",
			    is_map ? "mapping cannot be a key" : "sequence cannot be a key");
	if (d->depth >= CODEC_MAX_DEPTH)
		return fail(d, KORCH_ETOOLARGE, line, column, err, "nesting deeper than %d",
			    CODEC_MAX_DEPTH);
	size_t before = d->nodes;
	int r = spend(d, 1, NULL, line, column, err);
	if (r < 0)
		return r;
	const yaml_char_t *anchor =
		is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
	struct frame *f = &d->frames[d->depth];
	*f = (struct frame){
		.value = is_map ? json_object() : json_array(),
		.is_map = is_map,
		.anchor = anchor ? strdup((const char *)anchor) : NULL,
		.nodes_at_start = before,
		.height = 1,
		.line = line,
		.column = column,
	};
	d->depth++;
	if (!f->value || (anchor && !f->anchor))
		return error_oom(err);
	return 0;
}

static int
on_end(struct decoder *d, korch_error **err)
{
	struct frame *f = top(d);
	struct frame done = *f;
	*f = (struct frame){ 0 };
	d->depth--;
	json_t *value = steal_pointer(&done.value);
	size_t nodes = d->nodes - done.nodes_at_start;
	unsigned height = done.height, line = done.line, column = done.column;
	bool is_map = done.is_map;
	_cleanup_free_ char *anchor = steal_pointer(&done.anchor);
	frame_clear(&done);
	if (anchor) {
		int r = add_anchor(d, anchor, value, NULL,
				   is_map ? "invalid map key: a mapping cannot be a key"
					  : "invalid map key: a sequence cannot be a key",
				   NULL, nodes, height, err);
		if (r < 0) {
			json_decref(value);
			return r;
		}
	}
	return place(d, value, height, line, column, err);
}

/* A deep copy of v, without jansson's loop checks: the decoder builds no cycles. */
static json_t *
copy_tree(json_t *v)
{
	json_t *c = NULL;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (!(c = json_object()))
			return NULL;
		for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
			json_t *item = copy_tree(json_object_iter_value(it));
			if (!item ||
			    json_object_setn_new_nocheck(c, json_object_iter_key(it),
							 json_object_iter_key_len(it), item) < 0) {
				json_decref(c);
				return NULL;
			}
		}
		return c;
	case JSON_ARRAY:
		if (!(c = json_array()))
			return NULL;
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (json_array_append_new(c, copy_tree(json_array_get(v, i))) < 0) {
				json_decref(c);
				return NULL;
			}
		}
		return c;
	case JSON_STRING: return json_stringn_nocheck(json_string_value(v), json_string_length(v));
	case JSON_INTEGER: return json_integer(json_integer_value(v));
	case JSON_REAL: return json_real(json_real_value(v));
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL: return v; /* jansson's singletons */
	}
	return NULL;
}

/* A node another place also holds (true, false and null are singletons: never copied). */
static bool
is_shared(const json_t *v)
{
	return !json_is_true(v) && !json_is_false(v) && !json_is_null(v) && v->refcount > 1;
}

/*
 * Gives every place in the tree under v a node of its own: a child that another place also
 * holds (through an alias or a merge) is replaced by a copy, so the last holder keeps the
 * original. Returns 0 or KORCH_ENOMEM (the tree is then still whole, partly shared).
 */
static int
unshare(json_t *v)
{
	if (json_is_object(v)) {
		for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
			json_t *child = json_object_iter_value(it);
			if (!is_shared(child)) {
				if (unshare(child) < 0)
					return KORCH_ENOMEM;
				continue;
			}
			json_t *copy = copy_tree(child);
			if (!copy || json_object_iter_set_new(v, it, copy) < 0)
				return KORCH_ENOMEM;
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *child = json_array_get(v, i);
			if (!is_shared(child)) {
				if (unshare(child) < 0)
					return KORCH_ENOMEM;
				continue;
			}
			json_t *copy = copy_tree(child);
			if (!copy || json_array_set_new(v, i, copy) < 0)
				return KORCH_ENOMEM;
		}
	}
	return 0;
}

static int
end_document(struct decoder *d, korch_error **err)
{
	json_t *root = steal_pointer(&d->root);
	bool empty = d->root_empty, shared = d->shared;
	d->root_empty = d->shared = false;
	decoder_clear_anchors(d);
	if (!root)
		return 0;
	if (empty) {
		json_decref(root);
		return 0;
	}
	/* The anchors are gone: what is still shared is shared between places in the tree. */
	if (shared && unshare(root) < 0) {
		json_decref(root);
		return error_oom(err);
	}
	return codec_docs_push(&d->docs, root, d->root_line) < 0 ? error_oom(err) : 0;
}

static int
on_event(struct decoder *d, const yaml_event_t *ev, korch_error **err)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT: return on_scalar(d, ev, err);
	case YAML_ALIAS_EVENT: return on_alias(d, ev, err);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: return on_start(d, ev, err);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: return on_end(d, err);
	case YAML_DOCUMENT_END_EVENT: return end_document(d, err);
	case YAML_DOCUMENT_START_EVENT:
	case YAML_STREAM_START_EVENT:
	case YAML_STREAM_END_EVENT:
	case YAML_NO_EVENT: break;
	}
	return 0;
}

/* libyaml's own errors, with the position it recorded. */
static int
parser_error(struct decoder *d, korch_error **err)
{
	yaml_parser_t *p = &d->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	unsigned line, column;
	switch (p->error) {
	case YAML_MEMORY_ERROR: return error_oom(err);
	case YAML_READER_ERROR:
		codec_position(d->data, d->len, p->problem_offset, &line, &column);
		if (p->problem_value >= 0)
			return fail(d, KORCH_EINVALID, line, column, err, "%s (0x%02x)", problem,
				    p->problem_value);
		return fail(d, KORCH_EINVALID, line, column, err, "%s", problem);
	default:
		pos(&p->problem_mark, &line, &column);
		if (p->context)
			return fail(d, KORCH_EINVALID, line, column, err, "%s (%s at line %zu)",
				    problem, p->context, p->context_mark.line + 1);
		return fail(d, KORCH_EINVALID, line, column, err, "%s", problem);
	}
}

int
codec_yaml_decode_source(const char *data, size_t len, const char *source, struct codec_docs *ret,
			 korch_error **err)
{
	int r = codec_check_input(data, len, source, false, err);
	if (r < 0)
		return r;
	struct decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return error_oom(err);
	d->data = data;
	d->len = len;
	d->source = source;
	if (!yaml_parser_initialize(&d->parser)) {
		free(d);
		return error_oom(err);
	}
	yaml_parser_set_input_string(&d->parser, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&d->parser, YAML_UTF8_ENCODING);

	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&d->parser, &ev)) {
			r = parser_error(d, err);
			break;
		}
		r = on_event(d, &ev, err);
		yaml_event_type_t type = ev.type;
		yaml_event_delete(&ev);
		if (r < 0 || type == YAML_STREAM_END_EVENT)
			break;
	}

	while (d->depth > 0)
		frame_clear(&d->frames[--d->depth]);
	json_decref(d->root);
	decoder_clear_anchors(d);
	yaml_parser_delete(&d->parser);
	if (r < 0)
		codec_docs_free(&d->docs);
	else
		*ret = d->docs;
	free(d);
	return r;
}
