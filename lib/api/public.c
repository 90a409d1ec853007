/*
 * public.c - the public face of lib/api: korch_object (a jansson value behind an opaque
 * pointer), korch_resource (a kind_info), tables and JSONPath.
 *
 * A korch_object IS a json_t: the handle is the jansson pointer, references are jansson's.
 */
#include <stdlib.h>
#include <string.h>

#include <korch/object.h>
#include <korch/print.h>
#include <korch/resource.h>
#include "api/codec.h"
#include "api/jsonpath.h"
#include "api/kinds.h"
#include "api/table.h"
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include <korch/loop.h>

static inline json_t *
J(const korch_object *o)
{
	return (json_t *)o;
}

static inline korch_object *
O(json_t *j)
{
	return (korch_object *)j;
}

/* A document of kind *List (what kubectl get -o yaml writes) stands for its items. */
static int
append_document(json_t *items, json_t *doc, korch_error **err)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	json_t *list_items = json_object_get(doc, "items");
	if (kind && endswith(kind, "List") && json_is_array(list_items)) {
		size_t i;
		json_t *item;
		json_array_foreach (list_items, i, item)
			if (json_array_append(items, item) < 0)
				return error_oom(err);
		return 0;
	}
	return json_array_append(items, doc) < 0 ? error_oom(err) : 0;
}

KORCH_EXPORT int
korch_object_parse(const char *text, size_t len, const char *source, korch_object **ret_list,
		   korch_error **err)
{
	struct codec_docs docs = { 0 };
	int r = codec_decode_manifests(text, len, source, &docs, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *items = json_array();
	json_t *list = items ? json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List",
					 "items", items)
			     : NULL;
	for (size_t i = 0; list && i < docs.n && r == 0; i++)
		r = append_document(items, docs.docs[i], err);
	codec_docs_free(&docs);
	if (!list)
		return error_oom(err);
	if (r < 0) {
		json_decref(list);
		return r;
	}
	*ret_list = O(list);
	return 0;
}

KORCH_EXPORT int
korch_object_parse_json(const char *text, size_t len, korch_object **ret, korch_error **err)
{
	json_t *v = NULL;
	int r = codec_json_decode(text, len, &v, err);
	if (r < 0)
		return r;
	*ret = O(v);
	return 0;
}

static json_t *
items_of(const korch_object *list)
{
	json_t *j = J(list);
	return json_is_array(j) ? j : json_object_get(j, "items");
}

KORCH_EXPORT size_t
korch_object_count(const korch_object *list)
{
	return list ? json_array_size(items_of(list)) : 0;
}

KORCH_EXPORT korch_object *
korch_object_at(korch_object *list, size_t i)
{
	return list ? O(json_array_get(items_of(list), i)) : NULL;
}

KORCH_EXPORT korch_object *
korch_object_get(korch_object *obj, const char *path)
{
	return obj ? O(json_at_path(J(obj), path)) : NULL;
}

KORCH_EXPORT const char *
korch_object_get_string(const korch_object *obj, const char *path)
{
	return obj ? json_string_value(json_at_path(J(obj), path)) : NULL;
}

KORCH_EXPORT int64_t
korch_object_get_int(const korch_object *obj, const char *path, int64_t fallback)
{
	json_t *v = obj ? json_at_path(J(obj), path) : NULL;
	return json_is_integer(v) ? json_integer_value(v) : fallback;
}

KORCH_EXPORT const char *
korch_object_name(const korch_object *obj)
{
	return korch_object_get_string(obj, "metadata.name");
}

KORCH_EXPORT const char *
korch_object_namespace(const korch_object *obj)
{
	return korch_object_get_string(obj, "metadata.namespace");
}

KORCH_EXPORT const char *
korch_object_kind(const korch_object *obj)
{
	return korch_object_get_string(obj, "kind");
}

KORCH_EXPORT const char *
korch_object_api_version(const korch_object *obj)
{
	return korch_object_get_string(obj, "apiVersion");
}

KORCH_EXPORT const char *
korch_object_phase(const korch_object *obj)
{
	return korch_object_get_string(obj, "status.phase");
}

KORCH_EXPORT const char *
korch_object_label(const korch_object *obj, const char *key)
{
	json_t *labels = obj ? json_at_path(J(obj), "metadata.labels") : NULL;
	return json_string_value(json_object_get(labels, key));
}

KORCH_EXPORT const char *
korch_object_annotation(const korch_object *obj, const char *key)
{
	json_t *annotations = obj ? json_at_path(J(obj), "metadata.annotations") : NULL;
	return json_string_value(json_object_get(annotations, key));
}

KORCH_EXPORT int
korch_object_set_annotation(korch_object *obj, const char *key, const char *value,
			    korch_error **err)
{
	json_t *meta = json_object_get(J(obj), "metadata");
	if (!json_is_object(meta))
		return error_set(err, KORCH_EINVALID, "the object has no metadata");
	json_t *annotations = json_object_get(meta, "annotations");
	if (!json_is_object(annotations)) {
		annotations = json_object();
		if (json_object_set_new(meta, "annotations", annotations) < 0)
			return error_oom(err);
	}
	return json_object_set_new(annotations, key, json_string(value)) < 0 ? error_oom(err) : 0;
}

KORCH_EXPORT const char *
korch_object_condition(const korch_object *obj, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (obj ? json_at_path(J(obj), "status.conditions") : NULL, i, c)
		if (streq(json_string_value(json_object_get(c, "type")), type))
			return json_string_value(json_object_get(c, "status"));
	return NULL;
}

KORCH_EXPORT int
korch_object_set_string(korch_object *obj, const char *path, const char *value, korch_error **err)
{
	json_t *cur = J(obj);
	if (!json_is_object(cur) || !path || !*path)
		return error_set(err, KORCH_EINVALID, "set %s: not an object path",
				 path ? path : "");
	char part[256];
	for (;;) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n == 0 || n >= sizeof(part))
			return error_set(err, KORCH_EINVALID, "set %s: bad path", path);
		memcpy(part, path, n);
		part[n] = '\0';
		if (!dot)
			return json_object_set_new(cur, part, json_string(value)) < 0
				       ? error_oom(err)
				       : 0;
		json_t *next = json_object_get(cur, part);
		if (!next) {
			next = json_object();
			if (json_object_set_new(cur, part, next) < 0)
				return error_oom(err);
		} else if (!json_is_object(next)) {
			return error_set(err, KORCH_EINVALID, "set: %s is not an object", part);
		}
		cur = next;
		path = dot + 1;
	}
}

KORCH_EXPORT int
korch_object_to_text(const korch_object *obj, int format, char **ret_text, korch_error **err)
{
	char *text = NULL;
	if (format == KORCH_TEXT_YAML) {
		struct strbuf sb = STRBUF_INIT;
		int r = codec_yaml_encode(J(obj), &sb, err);
		if (r < 0) {
			strbuf_free(&sb);
			return r;
		}
		text = strbuf_steal(&sb);
	} else if (format == KORCH_TEXT_JSON_PRETTY) {
		text = json_dumps(J(obj), JSON_INDENT(4) | JSON_ENCODE_ANY);
	} else if (format == KORCH_TEXT_JSON) {
		text = codec_json_encode(J(obj));
	} else {
		return error_set(err, KORCH_EINVALID, "unknown text format %d", format);
	}
	if (!text)
		return error_oom(err);
	*ret_text = text;
	return 0;
}

KORCH_EXPORT korch_object *
korch_object_ref(korch_object *obj)
{
	return O(json_incref(J(obj)));
}

KORCH_EXPORT int
korch_object_copy(const korch_object *obj, korch_object **ret, korch_error **err)
{
	json_t *copy = json_deep_copy(J(obj));
	if (!copy)
		return error_oom(err);
	*ret = O(copy);
	return 0;
}

KORCH_EXPORT void
korch_object_free(korch_object *obj)
{
	json_decref(J(obj));
}

/* ---- resources ---- */

static inline const struct kind_info *
K(const korch_resource *r)
{
	return (const struct kind_info *)r;
}

KORCH_EXPORT size_t
korch_resource_count(void)
{
	return kind_registry_count;
}

KORCH_EXPORT const korch_resource *
korch_resource_at(size_t i)
{
	return i < kind_registry_count ? (const korch_resource *)kind_registry[i] : NULL;
}

KORCH_EXPORT const korch_resource *
korch_resource_lookup(const char *name)
{
	return (const korch_resource *)kind_lookup_resource(name);
}

KORCH_EXPORT const korch_resource *
korch_resource_for_kind(const char *api_version, const char *kind)
{
	return (const korch_resource *)kind_lookup(api_version, kind);
}

KORCH_EXPORT const char *
korch_resource_group(const korch_resource *r)
{
	return K(r)->group;
}

KORCH_EXPORT const char *
korch_resource_version(const korch_resource *r)
{
	return K(r)->version;
}

KORCH_EXPORT const char *
korch_resource_kind(const korch_resource *r)
{
	return K(r)->kind;
}

KORCH_EXPORT const char *
korch_resource_plural(const korch_resource *r)
{
	return K(r)->plural;
}

KORCH_EXPORT const char *
korch_resource_singular(const korch_resource *r)
{
	return K(r)->singular;
}

KORCH_EXPORT const char *
korch_resource_short_name(const korch_resource *r, size_t i)
{
	const char *const *names = K(r)->short_names;
	for (size_t k = 0; names && names[k]; k++)
		if (k == i)
			return names[k];
	return NULL;
}

KORCH_EXPORT bool
korch_resource_namespaced(const korch_resource *r)
{
	return K(r)->namespaced;
}

/* ---- printing ---- */

KORCH_EXPORT int
korch_print_table(const korch_object *obj, const korch_print_options *opts, char **ret_text,
		  korch_error **err)
{
	static const korch_print_options defaults = KORCH_PRINT_OPTIONS_INIT;
	if (!opts)
		opts = &defaults;
	json_t *j = J(obj);
	_cleanup_json_ json_t *items = NULL;
	json_t *list_items = json_object_get(j, "items");
	if (json_is_array(list_items))
		items = json_incref(list_items);
	else if (json_is_array(j))
		items = json_incref(j);
	else
		items = json_pack("[O]", j);
	if (!items)
		return error_oom(err);
	if (json_array_size(items) == 0) {
		*ret_text = strdup("");
		return *ret_text ? 0 : error_oom(err);
	}
	const char *kind = json_string_value(json_object_get(json_array_get(items, 0), "kind"));
	int64_t now = opts->now_wall_ns;
	if (!now) {
		korch_clock *clock = NULL;
		if (korch_clock_new_real(&clock, err) < 0)
			return KORCH_ENOMEM;
		now = korch_clock_wall_ns(clock);
		korch_clock_free(clock);
	}
	_cleanup_json_ json_t *table = NULL;
	int r = table_build(kind ? kind : "", items, now, TABLE_INCLUDE_METADATA, &table, err);
	if (r < 0)
		return r;
	struct table_print_options po = {
		.wide = opts->wide,
		.no_headers = opts->no_headers,
		.with_namespace = opts->with_namespace,
		.show_labels = opts->show_labels,
		.with_kind = opts->name_prefix != NULL,
		.kind_prefix = opts->name_prefix,
	};
	struct strbuf sb = STRBUF_INIT;
	if ((r = table_print(table, &po, &sb, err)) < 0) {
		strbuf_free(&sb);
		return r;
	}
	*ret_text = strbuf_steal(&sb);
	return *ret_text ? 0 : error_oom(err);
}

KORCH_EXPORT int
korch_jsonpath(const char *template_text, const korch_object *obj, bool allow_missing,
	       char **ret_text, korch_error **err)
{
	struct jsonpath *jp = NULL;
	int r = jsonpath_parse(template_text, &jp, err);
	if (r < 0)
		return r;
	struct strbuf sb = STRBUF_INIT;
	r = jsonpath_execute(jp, J(obj), allow_missing, &sb, err);
	jsonpath_free(jp);
	if (r < 0) {
		strbuf_free(&sb);
		return r;
	}
	*ret_text = strbuf_steal(&sb);
	return *ret_text ? 0 : error_oom(err);
}
