/*
 * strategic-merge.c - strategic merge patch as the Kubernetes API server applies it
 * (k8s.io/apimachinery/pkg/util/strategicpatch, StrategicMergeMapPatch): maps merge and null
 * deletes a key; lists with the merge strategy merge by their merge key (lists of maps) or
 * take the union (lists of primitives); other lists are replaced; the directives $patch,
 * $retainKeys, $setElementOrder/<list> and $deleteFromPrimitiveList/<list> apply; fields the
 * schema does not describe merge as maps and replace as lists.
 *
 * The work happens on private deep copies of both documents, which are changed in place the
 * way the Go code changes its maps; the caller's trees are never touched. Error texts are
 * Kubernetes' (mergepatch.Err*, with values printed as Go's %v prints them).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api/patch.h"
#include "api/patch-internal.h"
#include "base/error.h"
#include "base/util.h"

/* How a list field merges, from the schema. */
struct list_meta {
	const struct schema_type *elem; /* the item type, NULL when unknown */
	const char *merge_key;          /* the merge key, NULL when none */
	bool merge;                     /* the merge strategy (else: replace) */
};

static int merge_map(json_t *orig, json_t *patch, const struct schema_type *type, json_t **ret,
		     korch_error **err);

/* The type of field key of an OBJECT, or the values of a MAP; NULL when unknown. */
static const struct schema_type *
field_type(const struct schema_type *type, const char *key)
{
	if (type && type->kind == SCHEMA_MAP)
		return type->elem;
	const struct schema_field *f = schema_field(type, key);
	return f ? f->type : NULL;
}

static struct list_meta
list_meta(const struct schema_type *type, const char *key)
{
	const struct schema_type *t = field_type(type, key);
	if (!t || t->kind != SCHEMA_ARRAY)
		return (struct list_meta){ 0 };
	return (struct list_meta){
		.elem = t->elem,
		.merge_key = t->merge_key,
		.merge = (t->patch_strategy & SCHEMA_PATCH_MERGE) != 0,
	};
}

/* Go's name for the kind of a list's item type, as Kubernetes' schema.Name() gives it. */
static const char *
elem_kind_name(const struct schema_type *t)
{
	switch (t ? t->kind : SCHEMA_ANY) {
	case SCHEMA_OBJECT: return "struct";
	case SCHEMA_MAP: return "map";
	case SCHEMA_ARRAY: return "slice";
	case SCHEMA_STRING: return "string";
	case SCHEMA_INTEGER: return "int";
	case SCHEMA_NUMBER: return "float64";
	case SCHEMA_BOOLEAN: return "bool";
	default: return "interface";
	}
}

/* Removes null members from maps, recursively through maps and lists, in place. */
static void
discard_nulls(json_t *v)
{
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			discard_nulls(json_array_get(v, i));
		return;
	}
	if (!json_is_object(v))
		return;
	const char *k;
	json_t *member;
	void *tmp;
	json_object_foreach_safe (v, tmp, k, member) {
		if (json_is_null(member))
			json_object_del(v, k);
		else
			discard_nulls(member);
	}
}

/*
 * Drops every map that carries "$patch" (removeDirectives): *ret is NULL when v itself is one,
 * else a new reference. Maps are changed in place; lists are rebuilt, as Go builds new slices.
 */
static int
remove_directives(json_t *v, json_t **ret)
{
	*ret = NULL;
	if (json_is_object(v)) {
		if (json_object_get(v, SMP_DIRECTIVE))
			return 0;
		const char *k;
		json_t *member;
		void *tmp;
		json_object_foreach_safe (v, tmp, k, member) {
			json_t *kept = NULL;
			if (remove_directives(member, &kept) < 0)
				return KORCH_ENOMEM;
			if (!kept)
				json_object_del(v, k);
			else if (kept != member && json_object_set(v, k, kept) < 0)
				return KORCH_ENOMEM;
			json_decref(kept);
		}
	} else if (json_is_array(v)) {
		_cleanup_json_ json_t *list = json_array();
		if (!list)
			return KORCH_ENOMEM;
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *kept = NULL;
			if (remove_directives(json_array_get(v, i), &kept) < 0)
				return KORCH_ENOMEM;
			if (kept && json_array_append_new(list, kept) < 0)
				return KORCH_ENOMEM;
		}
		*ret = steal_pointer(&list);
		return 0;
	}
	*ret = json_incref(v);
	return 0;
}

/* orig[key] = the patch value without nulls and directives, or no key if it is a directive. */
static int
take_patch_value(json_t *orig, const char *key, json_t *value, korch_error **err)
{
	json_t *kept = NULL;
	discard_nulls(value);
	if (remove_directives(value, &kept) < 0)
		return error_oom(err);
	if (!kept) {
		json_object_del(orig, key);
		return 0;
	}
	return json_object_set_new(orig, key, kept) < 0 ? error_oom(err) : 0;
}

/* "$patch" on a map: replace keeps the patch (minus the directive), delete leaves {}. */
static int
map_directive(json_t *directive, json_t *patch, json_t **ret, korch_error **err)
{
	const char *d = json_string_value(directive);
	if (streq(d, "replace")) {
		json_object_del(patch, SMP_DIRECTIVE);
		*ret = json_incref(patch);
		return 0;
	}
	if (streq(d, "delete")) {
		*ret = json_object();
		return *ret ? 0 : error_oom(err);
	}
	_cleanup_free_ char *what = go_format(directive, true);
	_cleanup_free_ char *map = go_format(patch, false);
	if (!what || !map)
		return error_oom(err);
	return error_set(err, KORCH_EINVALID, "unknown patch type: %s in map: %s", what, map);
}

/* Is key listed in the retained keys? 0 yes, KORCH_EINVALID no, KORCH_ENOMEM. */
static int
retained(const struct smp_index *keep, const char *key)
{
	_cleanup_json_ json_t *s = json_string_nocheck(key);
	long at;
	if (!s || smp_index_find(keep, s, &at) < 0)
		return KORCH_ENOMEM;
	return at >= 0 ? 0 : KORCH_EINVALID;
}

/*
 * "$retainKeys": every key the patch sets must be listed, and orig loses the keys that are
 * not (applyRetainKeysDirective). Applies wherever the directive appears, as in Kubernetes.
 */
static int
apply_retain_keys(json_t *orig, json_t *patch, korch_error **err)
{
	_cleanup_(smp_index_free) struct smp_index keep = SMP_INDEX_INIT;
	_cleanup_json_ json_t *list = json_incref(json_object_get(patch, SMP_RETAIN_KEYS));
	if (!list)
		return 0;
	json_object_del(patch, SMP_RETAIN_KEYS);
	if (!json_is_array(list))
		return error_set(err, KORCH_EINVALID, "invalid patch format of retainKeys");
	for (size_t i = 0; i < json_array_size(list); i++)
		if (smp_index_add(&keep, json_array_get(list, i), i) < 0)
			return error_oom(err);
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach (patch, k, v) {
		if (json_is_null(v) || startswith(k, SMP_DELETE_FROM_PRIMITIVE_LIST) ||
		    startswith(k, SMP_SET_ELEMENT_ORDER))
			continue;
		int r = retained(&keep, k);
		if (r == KORCH_ENOMEM)
			return error_oom(err);
		if (r < 0)
			return error_set(err, KORCH_EINVALID, "invalid patch format of retainKeys");
	}
	json_object_foreach_safe (orig, tmp, k, v) {
		int r = retained(&keep, k);
		if (r == KORCH_ENOMEM)
			return error_oom(err);
		if (r < 0)
			json_object_del(orig, k);
	}
	return 0;
}

/*
 * The list name after "PREFIX/" in a directive key (extractKey). A key that starts with the
 * prefix but has no '/' right after it is malformed.
 */
static int
directive_list_name(const char *key, const char *prefix, const char **ret, korch_error **err)
{
	const char *rest = startswith(key, prefix);
	if (!rest || *rest != '/')
		return error_set(err, KORCH_EINVALID, "%s",
				 streq(prefix, SMP_SET_ELEMENT_ORDER)
					 ? "invalid patch format of setElementOrder list"
					 : "invalid patch format of primitive list");
	*ret = rest + 1;
	return 0;
}

/*
 * The types of a list's items, which must all be one Go type and not lists
 * (sliceElementType). *ret_maps tells whether they are maps.
 */
static int
list_item_kind(const json_t *a, const json_t *b, bool *ret_maps, korch_error **err)
{
	const json_t *lists[2] = { a, b };
	enum go_type kind = GO_NIL;
	bool any = false;
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < json_array_size(lists[l]); i++) {
			enum go_type t = go_type_of(json_array_get(lists[l], i));
			if (!any && t == GO_SLICE)
				return error_set(err, KORCH_EINVALID,
						 "lists of lists are not supported");
			if (t == GO_NIL || (any && t != kind)) {
				_cleanup_free_ char *sa = a ? go_format(a, false) : strdup("[]");
				_cleanup_free_ char *sb = b ? go_format(b, false) : strdup("[]");
				if (!sa || !sb)
					return error_oom(err);
				return error_set(err, KORCH_EINVALID,
						 "list element types are not identical: [%s %s]",
						 sa, sb);
			}
			kind = t;
			any = true;
		}
	if (!any)
		return error_set(err, KORCH_EINVALID, "no elements in any of the given slices");
	*ret_maps = kind == GO_MAP;
	return 0;
}

/* The items of list not equal (Go ==) to any in drop (deleteFromSlice). */
static int
delete_values(const json_t *list, const json_t *drop, json_t **ret, korch_error **err)
{
	_cleanup_(smp_index_free) struct smp_index gone = SMP_INDEX_INIT;
	_cleanup_json_ json_t *out = json_array();
	if (!out)
		return error_oom(err);
	for (size_t i = 0; i < json_array_size(drop); i++)
		if (smp_index_add(&gone, json_array_get(drop, i), i) < 0)
			return error_oom(err);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *item = json_array_get(list, i);
		long at;
		if (smp_index_find(&gone, item, &at) < 0)
			return error_oom(err);
		if (at < 0 && json_array_append(out, item) < 0)
			return error_oom(err);
	}
	*ret = steal_pointer(&out);
	return 0;
}

/* The union of two lists of primitives, first occurrences kept (deduplicateScalars). */
static int
union_values(const json_t *a, const json_t *b, json_t **ret, korch_error **err)
{
	_cleanup_(smp_index_free) struct smp_index seen = SMP_INDEX_INIT;
	_cleanup_json_ json_t *out = json_array();
	if (!out)
		return error_oom(err);
	const json_t *lists[2] = { a, b };
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < json_array_size(lists[l]); i++) {
			json_t *item = json_array_get(lists[l], i);
			long at;
			if (smp_index_find(&seen, item, &at) < 0)
				return error_oom(err);
			if (at >= 0)
				continue;
			if (smp_index_add(&seen, item, json_array_size(out)) < 0 ||
			    json_array_append(out, item) < 0)
				return error_oom(err);
		}
	*ret = steal_pointer(&out);
	return 0;
}

/* Indexes the maps of list by the value of their merge key (those without it are skipped). */
static int
index_by_key(struct smp_index *ix, const json_t *list, const char *merge_key)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *v = json_object_get(json_array_get(list, i), merge_key);
		if (v && smp_index_add(ix, v, i) < 0)
			return KORCH_ENOMEM;
	}
	return 0;
}

/*
 * Removes from *list every map whose merge key has a value in drop (deleteMatchingEntries for
 * each "$patch": "delete" item). *list is replaced by a new array.
 */
static int
delete_by_key(json_t **list, const struct smp_index *drop, const char *merge_key)
{
	_cleanup_json_ json_t *out = json_array();
	if (!out)
		return KORCH_ENOMEM;
	for (size_t i = 0; i < json_array_size(*list); i++) {
		json_t *item = json_array_get(*list, i);
		json_t *v = json_object_get(item, merge_key);
		long at = -1;
		if (v && smp_index_find(drop, v, &at) < 0)
			return KORCH_ENOMEM;
		if (at < 0 && json_array_append(out, item) < 0)
			return KORCH_ENOMEM;
	}
	json_decref(*list);
	*list = steal_pointer(&out);
	return 0;
}

/*
 * Applies the "$patch" items of a list of maps (mergeSliceWithSpecialElements): delete
 * removes the items with that merge key from *orig; replace makes the plain patch items the
 * whole list. *ret_patch receives the plain items (NULL after a replace); *orig may be
 * replaced by a new array.
 */
static int
list_directives(json_t **orig, const json_t *patch, const char *merge_key, json_t **ret_patch,
		korch_error **err)
{
	_cleanup_(smp_index_free) struct smp_index drop = SMP_INDEX_INIT;
	_cleanup_json_ json_t *plain = json_array();
	bool replace = false;
	if (!plain)
		return error_oom(err);
	for (size_t i = 0; i < json_array_size(patch); i++) {
		json_t *item = json_array_get(patch, i);
		json_t *directive = json_object_get(item, SMP_DIRECTIVE);
		const char *d = json_string_value(directive);
		if (!directive) {
			if (json_array_append(plain, item) < 0)
				return error_oom(err);
		} else if (streq(d, "delete")) {
			json_t *value = json_object_get(item, merge_key);
			if (!value)
				return smp_error_no_merge_key(err, item, merge_key);
			if (smp_index_add(&drop, value, i) < 0)
				return error_oom(err);
		} else if (streq(d, "replace")) {
			replace = true;
		} else if (streq(d, "merge")) {
			return error_set(err, KORCH_EINVALID,
					 "merging lists cannot yet be specified in the patch");
		} else {
			_cleanup_free_ char *what = go_format(directive, true);
			_cleanup_free_ char *map = go_format(item, false);
			if (!what || !map)
				return error_oom(err);
			return error_set(err, KORCH_EINVALID, "unknown patch type: %s in map: %s",
					 what, map);
		}
	}
	if (drop.map.n > 0 && delete_by_key(orig, &drop, merge_key) < 0)
		return error_oom(err);
	if (replace) {
		json_decref(*orig);
		*orig = steal_pointer(&plain);
	}
	*ret_patch = steal_pointer(&plain);
	return 0;
}

/*
 * Merges each plain patch item into the item of orig with its merge key, or appends it
 * (mergeSliceWithoutSpecialElements). *ret receives a new array.
 */
static int
merge_by_key(const json_t *orig, const json_t *patch, const struct list_meta *meta, json_t **ret,
	     korch_error **err)
{
	_cleanup_(smp_index_free) struct smp_index places = SMP_INDEX_INIT;
	_cleanup_json_ json_t *merged = json_copy((json_t *)orig);
	if (!merged || index_by_key(&places, merged, meta->merge_key) < 0)
		return error_oom(err);
	for (size_t i = 0; i < json_array_size(patch); i++) {
		json_t *item = json_array_get(patch, i);
		json_t *value = json_object_get(item, meta->merge_key);
		long at;
		if (!value)
			return smp_error_no_merge_key(err, item, meta->merge_key);
		if (smp_index_find(&places, value, &at) < 0)
			return error_oom(err);
		if (at < 0) {
			if (smp_index_add(&places, value, json_array_size(merged)) < 0 ||
			    json_array_append(merged, item) < 0)
				return error_oom(err);
			continue;
		}
		json_t *done = NULL;
		int r = merge_map(json_array_get(merged, (size_t)at), item, meta->elem, &done, err);
		if (r < 0)
			return r;
		if (json_array_set_new(merged, (size_t)at, done) < 0)
			return error_oom(err);
	}
	*ret = steal_pointer(&merged);
	return 0;
}

/* Orders a merged list against the patch list it came from and the list the server had. */
static int
order_merged(const json_t *merged, const json_t *patch, const json_t *server, const char *merge_key,
	     bool maps, json_t **ret, korch_error **err)
{
	_cleanup_json_ json_t *in = NULL, *out = NULL;
	int r = smp_partition(merged, patch, merge_key, &in, &out, err);
	if (r < 0)
		return r;
	return smp_normalize_order(in, out, patch, server, merge_key, maps, ret, err);
}

/* Merges a list of maps by merge key after applying its "$patch" items. */
static int
merge_map_list(const json_t *orig, const json_t *patch, const struct list_meta *meta, json_t **ret,
	       korch_error **err)
{
	if (!meta->merge_key)
		return error_set(err, KORCH_EINVALID, "cannot merge lists without merge key for %s",
				 elem_kind_name(meta->elem));
	_cleanup_json_ json_t *server = json_copy((json_t *)orig);
	_cleanup_json_ json_t *plain = NULL, *merged = NULL;
	if (!server)
		return error_oom(err);
	int r = list_directives(&server, patch, meta->merge_key, &plain, err);
	if (r < 0)
		return r;
	if ((r = merge_by_key(server, plain, meta, &merged, err)) < 0)
		return r;
	return order_merged(merged, plain, server, meta->merge_key, true, ret, err);
}

/*
 * Merges two lists with the merge strategy (mergeSlice): lists of maps by merge key, lists of
 * primitives as a union, or, for a $deleteFromPrimitiveList list, deletes its values. The
 * result is ordered as Kubernetes orders it (see smp_normalize_order()). *ret receives a new
 * reference.
 */
static int
merge_list(json_t *orig, json_t *patch, const struct list_meta *meta, bool delete_list,
	   json_t **ret, korch_error **err)
{
	if (json_array_size(orig) == 0 && json_array_size(patch) == 0) {
		*ret = json_incref(orig);
		return 0;
	}
	bool maps = false;
	int r = list_item_kind(orig, patch, &maps, err);
	if (r < 0)
		return r;
	if (maps)
		return merge_map_list(orig, patch, meta, ret, err);
	if (delete_list)
		return delete_values(orig, patch, ret, err);
	_cleanup_json_ json_t *merged = NULL;
	if ((r = union_values(orig, patch, &merged, err)) < 0)
		return r;
	return order_merged(merged, patch, orig, NULL, false, ret, err);
}

/* A list field: merged with the merge strategy or as a delete list, otherwise replaced. */
static int
merge_list_field(json_t *orig_list, json_t *patch_list, const struct list_meta *meta,
		 bool delete_list, json_t **ret, korch_error **err)
{
	if (meta->merge || delete_list)
		return merge_list(orig_list, patch_list, meta, delete_list, ret, err);
	*ret = json_incref(patch_list);
	return 0;
}

/* Do two items match by merge key (or by value without one)? Errors as mergeKeyValueEqual. */
static int
same_item(const json_t *item, const json_t *want, const char *merge_key, bool *ret,
	  korch_error **err)
{
	if (!merge_key) {
		*ret = go_equal(item, want);
		return 0;
	}
	if (!json_is_object(want))
		return smp_error_bad_arg_type(err, "map[string]interface {}", want);
	if (!json_object_get(item, merge_key))
		return smp_error_no_merge_key(err, item, merge_key);
	if (!json_object_get(want, merge_key))
		return smp_error_no_merge_key(err, want, merge_key);
	*ret = go_equal(json_object_get(item, merge_key), json_object_get(want, merge_key));
	return 0;
}

/* The items of a patch list of maps without those that say "$patch": "delete". */
static int
non_delete_items(const json_t *list, json_t **ret, korch_error **err)
{
	_cleanup_json_ json_t *out = json_array();
	if (!out)
		return error_oom(err);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *item = json_array_get(list, i);
		if (!json_is_object(item))
			return smp_error_bad_arg_type(err, "map[string]interface {}", item);
		const char *d = json_string_value(json_object_get(item, SMP_DIRECTIVE));
		if (!streq(d, "delete") && json_array_append(out, item) < 0)
			return error_oom(err);
	}
	*ret = steal_pointer(&out);
	return 0;
}

/*
 * Checks that the plain items of a patch list come in the order the $setElementOrder list
 * gives them, each of them in it (validatePatchWithSetOrderList).
 */
static int
check_set_order(const json_t *patch_list, const json_t *order, const char *merge_key,
		korch_error **err)
{
	if (json_array_size(patch_list) == 0 || json_array_size(order) == 0)
		return 0;
	_cleanup_json_ json_t *items = json_incref((json_t *)patch_list);
	if (merge_key) {
		json_decref(steal_pointer(&items));
		int r = non_delete_items(patch_list, &items, err);
		if (r < 0)
			return r;
	}
	size_t np = json_array_size(items), no = json_array_size(order), pi = 0, oi = 0;
	while (pi < np && oi < no) {
		const json_t *item = json_array_get(items, pi);
		if (json_is_object(item) && json_object_get(item, SMP_DIRECTIVE)) {
			pi++;
			continue;
		}
		bool same = false;
		int r = same_item(item, json_array_get(order, oi), merge_key, &same, err);
		if (r < 0)
			return r;
		pi += same;
		oi++;
	}
	if (pi < np && oi >= no) {
		_cleanup_free_ char *p = go_format(patch_list, false);
		_cleanup_free_ char *o = go_format(order, false);
		if (!p || !o)
			return error_oom(err);
		return error_set(err, KORCH_EINVALID,
				 "The order in patch list:\n%s\n doesn't match %s list:\n%s\n", p,
				 SMP_SET_ELEMENT_ORDER, o);
	}
	return 0;
}

/*
 * Merges (or takes) the list named name from orig and patch for a $setElementOrder directive
 * (mergePatchIntoOriginal). *ret is NULL when neither document has the list.
 */
static int
set_order_merge(json_t *orig_list, json_t *patch_list, const struct list_meta *meta, json_t **ret,
		korch_error **err)
{
	*ret = NULL;
	if (orig_list && !patch_list) {
		*ret = json_incref(orig_list);
		return 0;
	}
	if (!orig_list && patch_list) {
		json_t *kept = NULL;
		if (remove_directives(patch_list, &kept) < 0)
			return error_oom(err);
		*ret = kept;
		return 0;
	}
	if (!orig_list)
		return 0;
	return merge_list_field(orig_list, patch_list, meta, false, ret, err);
}

/* One "$setElementOrder/<name>" directive: merge the list, then order it as the directive says. */
static int
apply_set_order(json_t *orig, json_t *patch, const char *key, json_t *order,
		const struct schema_type *type, korch_error **err)
{
	const char *name = "";
	if (!json_is_array(order))
		return smp_error_bad_arg_type(err, "[]interface {}", order);
	int r = directive_list_name(key, SMP_SET_ELEMENT_ORDER, &name, err);
	if (r < 0)
		return r;
	json_t *orig_list = json_object_get(orig, name);
	json_t *patch_list = json_object_get(patch, name);
	if (orig_list && !json_is_array(orig_list))
		return smp_error_bad_arg_type(err, "[]interface {}", orig_list);
	if (patch_list && !json_is_array(patch_list))
		return smp_error_bad_arg_type(err, "[]interface {}", patch_list);
	struct list_meta meta = list_meta(type, name);
	if ((r = check_set_order(patch_list, order, meta.merge_key, err)) < 0)
		return r;
	_cleanup_json_ json_t *merged = NULL, *in = NULL, *out = NULL, *result = NULL;
	if ((r = set_order_merge(orig_list, patch_list, &meta, &merged, err)) < 0 || !merged)
		return r;
	if ((r = smp_partition(merged, order, meta.merge_key, &in, &out, err)) < 0)
		return r;
	bool maps = false;
	if ((r = list_item_kind(orig_list, patch_list, &maps, err)) < 0)
		return r;
	_cleanup_json_ json_t *server = json_incref(orig_list);
	if (orig_list && patch_list && meta.merge && maps && meta.merge_key) {
		json_decref(steal_pointer(&server));
		if ((r = smp_set_order_server_view(orig_list, patch_list, meta.merge_key, &server,
						   err)) < 0)
			return r;
	}
	r = smp_normalize_order(in, out, order, server, meta.merge_key, maps, &result, err);
	if (r < 0)
		return r;
	if (json_object_set(orig, name, result) < 0)
		return error_oom(err);
	json_object_del(patch, name);
	return 0;
}

/* Every "$setElementOrder/<list>" of patch, each removed from patch with its list. */
static int
apply_set_orders(json_t *orig, json_t *patch, const struct schema_type *type, korch_error **err)
{
	_cleanup_json_ json_t *keys = json_array();
	const char *k;
	json_t *v;
	if (!keys)
		return error_oom(err);
	json_object_foreach (patch, k, v)
		if (startswith(k, SMP_SET_ELEMENT_ORDER) &&
		    json_array_append_new(keys, json_string_nocheck(k)) < 0)
			return error_oom(err);
	for (size_t i = 0; i < json_array_size(keys); i++) {
		const char *key = json_string_value(json_array_get(keys, i));
		_cleanup_json_ json_t *order = json_incref(json_object_get(patch, key));
		json_object_del(patch, key);
		int r = apply_set_order(orig, patch, key, order, type, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Merges one member of a patch map into orig (the body of mergeMap's loop). */
static int
merge_member(json_t *orig, const char *key, json_t *value, const struct schema_type *type,
	     korch_error **err)
{
	bool delete_list = false;
	if (startswith(key, SMP_DELETE_FROM_PRIMITIVE_LIST)) {
		const char *name = "";
		int r = directive_list_name(key, SMP_DELETE_FROM_PRIMITIVE_LIST, &name, err);
		if (r < 0)
			return r;
		delete_list = true;
		if (*name)
			key = name;
	}
	if (json_is_null(value)) {
		json_object_del(orig, key);
		return 0;
	}
	json_t *have = json_object_get(orig, key);
	if (!have || go_type_of(have) != go_type_of(value))
		return delete_list ? 0 : take_patch_value(orig, key, value, err);
	json_t *merged = NULL;
	int r = 0;
	if (json_is_object(have)) {
		r = merge_map(have, value, field_type(type, key), &merged, err);
	} else if (json_is_array(have)) {
		struct list_meta meta = list_meta(type, key);
		r = merge_list_field(have, value, &meta, delete_list, &merged, err);
	} else {
		merged = json_incref(value);
	}
	if (r < 0)
		return r;
	return json_object_set_new(orig, key, merged) < 0 ? error_oom(err) : 0;
}

/*
 * Merges patch into orig (mergeMap); both are ours and may be changed. *ret receives a new
 * reference: orig merged, or what a "$patch" directive makes of the map.
 */
static int
merge_map(json_t *orig, json_t *patch, const struct schema_type *type, json_t **ret,
	  korch_error **err)
{
	json_t *directive = json_object_get(patch, SMP_DIRECTIVE);
	if (directive)
		return map_directive(directive, patch, ret, err);
	int r = apply_retain_keys(orig, patch, err);
	if (r < 0)
		return r;
	if ((r = apply_set_orders(orig, patch, type, err)) < 0)
		return r;
	/* Deletions from primitive lists first, so that the result does not depend on key order. */
	for (int pass = 0; pass < 2; pass++) {
		const char *k;
		json_t *v;
		json_object_foreach (patch, k, v) {
			if ((startswith(k, SMP_DELETE_FROM_PRIMITIVE_LIST) != NULL) != (pass == 0))
				continue;
			r = merge_member(orig, k, v, type, err);
			if (r < 0)
				return r;
		}
	}
	*ret = json_incref(orig);
	return 0;
}

/*
 * Kubernetes decodes both documents into map[string]interface{}: JSON null decodes to an empty
 * map (a null patch changes nothing), anything else that is not an object is refused.
 */
int
patch_strategic_merge(const json_t *target, const json_t *patch, const struct schema_type *schema,
		      json_t **ret, korch_error **err)
{
	if (!target || !patch)
		return error_set(err, KORCH_EINVALID, "strategic merge patch: no %s document",
				 target ? "patch" : "target");
	const json_t *docs[2] = { target, patch };
	for (size_t i = 0; i < 2; i++)
		if (!json_is_object(docs[i]) && !json_is_null(docs[i]))
			return error_set(err, KORCH_EINVALID,
					 "json: cannot unmarshal %s into Go value of type "
					 "map[string]interface {}",
					 go_json_kind(docs[i]));
	_cleanup_json_ json_t *orig =
		json_is_null(target) ? json_object() : json_deep_copy(target);
	_cleanup_json_ json_t *p =
		json_is_null(patch) ? json_object() : json_deep_copy(patch);
	if (!orig || !p)
		return error_oom(err);
	return merge_map(orig, p, schema, ret, err);
}
