/*
 * strategic-order.c - the order of merged lists in strategic merge patch, and the Go-flavoured
 * value handling its error messages need.
 *
 * Kubernetes (k8s.io/apimachinery/pkg/util/strategicpatch) decodes JSON into Go's
 * map[string]interface{} and compares list items and merge keys with Go's ==, which tells
 * int64 from float64; its error messages print values with fmt's %v. It orders a merged list
 * by where its items stood in the patch and in the live list (normalizeElementOrder), and for
 * $setElementOrder by the live list's storage as the merge left it. The functions here
 * reproduce all of that, with hashes where Kubernetes scans lists, so that korch orders lists
 * and words errors as the Kubernetes API server does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api/patch-internal.h"
#include "base/error.h"
#include "base/hashmap.h"
#include "base/strbuf.h"
#include "base/util.h"

enum go_type
go_type_of(const json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_OBJECT: return GO_MAP;
	case JSON_ARRAY: return GO_SLICE;
	case JSON_STRING: return GO_STRING;
	case JSON_INTEGER: return GO_INT64;
	case JSON_REAL: return GO_FLOAT64;
	case JSON_TRUE:
	case JSON_FALSE: return GO_BOOL;
	default: return GO_NIL;
	}
}

const char *
go_type_name(const json_t *v)
{
	switch (go_type_of(v)) {
	case GO_MAP: return "map[string]interface {}";
	case GO_SLICE: return "[]interface {}";
	case GO_STRING: return "string";
	case GO_INT64: return "int64";
	case GO_FLOAT64: return "float64";
	case GO_BOOL: return "bool";
	default: return "%!s(<nil>)";
	}
}

const char *
go_json_kind(const json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	default: return "null";
	}
}

bool
go_equal(const json_t *a, const json_t *b)
{
	enum go_type t = go_type_of(a);
	if (t != go_type_of(b))
		return false;
	switch (t) {
	case GO_NIL: return true;
	case GO_BOOL: return json_typeof(a) == json_typeof(b);
	case GO_INT64: return json_integer_value(a) == json_integer_value(b);
	case GO_FLOAT64: return json_real_value(a) == json_real_value(b);
	case GO_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) ==
			       0;
	default: return false; /* Go cannot compare maps or slices */
	}
}

/*
 * Formats d as Go's %v does: the shortest digits that read back as d, in %e form when the
 * exponent is below -4 or at least 6 ("1e+06", "1.5", "0.0001").
 */
static void
go_format_float(double d, char buf[static 48])
{
	char e[48];
	int digits;
	for (digits = 1; digits <= 17; digits++) {
		snprintf(e, sizeof(e), "%.*e", digits - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	int exp = atoi(strchr(e, 'e') + 1);
	if (exp < -4 || exp >= 6) {
		snprintf(buf, 48, "%s", e);
		return;
	}
	int decimals = digits - 1 - exp;
	snprintf(buf, 48, "%.*f", decimals > 0 ? decimals : 0, d);
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int go_format_into(struct strbuf *sb, const json_t *v, bool verb_s);

/* A map as Go prints it: "map[k1:v1 k2:v2]" with the keys sorted. */
static int
go_format_map(struct strbuf *sb, const json_t *v, bool verb_s)
{
	size_t n = json_object_size(v), i = 0;
	_cleanup_free_ const char **keys = calloc(n ? n : 1, sizeof(char *));
	if (!keys)
		return KORCH_ENOMEM;
	const char *k;
	json_t *member;
	json_object_foreach ((json_t *)v, k, member)
		keys[i++] = k;
	qsort(keys, n, sizeof(char *), compare_strings);
	strbuf_puts(sb, "map[");
	for (i = 0; i < n; i++) {
		strbuf_printf(sb, "%s%s:", i ? " " : "", keys[i]);
		go_format_into(sb, json_object_get(v, keys[i]), verb_s);
	}
	return strbuf_putc(sb, ']');
}

static int
go_format_into(struct strbuf *sb, const json_t *v, bool verb_s)
{
	char num[48];
	const char *wrong = verb_s ? "%!s(" : "";
	switch (go_type_of(v)) {
	case GO_NIL: return strbuf_puts(sb, verb_s ? "%!s(<nil>)" : "<nil>");
	case GO_STRING: return strbuf_append(sb, json_string_value(v), json_string_length(v));
	case GO_INT64:
		return strbuf_printf(sb, "%s%s%" JSON_INTEGER_FORMAT "%s", wrong,
				     verb_s ? "int64=" : "", json_integer_value(v),
				     verb_s ? ")" : "");
	case GO_FLOAT64:
		go_format_float(json_real_value(v), num);
		return strbuf_printf(sb, "%s%s%s%s", wrong, verb_s ? "float64=" : "", num,
				     verb_s ? ")" : "");
	case GO_BOOL:
		return strbuf_printf(sb, "%s%s%s%s", wrong, verb_s ? "bool=" : "",
				     json_is_true(v) ? "true" : "false", verb_s ? ")" : "");
	case GO_MAP: return go_format_map(sb, v, verb_s);
	case GO_SLICE:
		strbuf_putc(sb, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				strbuf_putc(sb, ' ');
			go_format_into(sb, json_array_get(v, i), verb_s);
		}
		return strbuf_putc(sb, ']');
	}
	return 0;
}

char *
go_format(const json_t *v, bool verb_s)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	if (go_format_into(&sb, v, verb_s) < 0 || strbuf_putc(&sb, '\0') < 0 || sb.oom)
		return NULL;
	strbuf_truncate(&sb, sb.len - 1);
	return strbuf_steal(&sb);
}

int
smp_error_no_merge_key(korch_error **err, const json_t *map, const char *merge_key)
{
	_cleanup_free_ char *m = go_format(map, false);
	if (!m)
		return error_oom(err);
	return error_set(err, KORCH_EINVALID, "map: %s does not contain declared merge key: %s", m,
			 merge_key ? merge_key : "");
}

int
smp_error_bad_arg_type(korch_error **err, const char *expected, const json_t *actual)
{
	return error_set(err, KORCH_EINVALID, "expected a %s, but received a %s", expected,
			 go_type_name(actual));
}

void
smp_index_free(struct smp_index *ix)
{
	hashmap_free(&ix->map, NULL);
}

/* The encoding of a scalar (NULL pointer: nil), or *ret NULL for a map or slice. */
static int
scalar_key(const json_t *v, char **ret)
{
	*ret = NULL;
	if (json_is_object(v) || json_is_array(v))
		return 0;
	*ret = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("null");
	return *ret ? 0 : KORCH_ENOMEM;
}

int
smp_index_add(struct smp_index *ix, const json_t *value, size_t place)
{
	_cleanup_free_ char *k = NULL;
	if (scalar_key(value, &k) < 0)
		return KORCH_ENOMEM;
	if (!k || hashmap_contains(&ix->map, k))
		return 0;
	return hashmap_put(&ix->map, k, (void *)(uintptr_t)(place + 1), NULL) < 0 ? KORCH_ENOMEM
										  : 0;
}

int
smp_index_find(const struct smp_index *ix, const json_t *value, long *ret)
{
	_cleanup_free_ char *k = NULL;
	if (scalar_key(value, &k) < 0)
		return KORCH_ENOMEM;
	*ret = k ? (long)(uintptr_t)hashmap_get(&ix->map, k) - 1 : -1;
	return 0;
}

/*
 * The value an item is found by: its merge key's value (nil when absent or not a map) for
 * lists of maps, the item itself otherwise.
 */
static const json_t *
item_value(const json_t *item, const char *merge_key)
{
	if (!merge_key)
		return item;
	return json_is_object(item) ? json_object_get(item, merge_key) : NULL;
}

/*
 * Indexes the items of list by value. With need_key, items without the merge key are left out
 * (findMapInSliceBasedOnKeyValue's test); without it they are found under nil (index()).
 */
static int
index_list(struct smp_index *ix, const json_t *list, const char *merge_key, bool need_key)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *item = json_array_get(list, i);
		if (need_key && (!json_is_object(item) || !json_object_get(item, merge_key)))
			continue;
		if (smp_index_add(ix, item_value(item, merge_key), i) < 0)
			return KORCH_ENOMEM;
	}
	return 0;
}

/* The first place of item's value in the index, or -1. */
static int
index_find_item(const struct smp_index *ix, const json_t *item, const char *merge_key, long *ret)
{
	return smp_index_find(ix, item_value(item, merge_key), ret);
}

/* An item being sorted: the value, where the order list has it (-1: nowhere), where it was. */
struct sort_item {
	json_t *value; /* borrowed from the list being sorted */
	long place;    /* index in the order list, or -1 */
	size_t seq;    /* position before sorting, for stability */
};

static int
compare_sort_items(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	if (x->place != y->place)
		return x->place < y->place ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Kubernetes' less(): by place when both are found, otherwise "less" whatever the order. */
static bool
sort_less(const struct sort_item *a, const struct sort_item *b)
{
	return a->place >= 0 && b->place >= 0 ? a->place < b->place : true;
}

/*
 * Sorts items stably by place. When every item is found that order is unique and any stable
 * sort gives it; when some are not, Kubernetes' comparison is not an order and the result
 * depends on the algorithm, so this runs the insertion sort Go's sort.SliceStable runs on
 * lists of up to 20 items (longer lists of that kind may come out in another order).
 */
static void
sort_items(struct sort_item *items, size_t n)
{
	bool all_found = true;
	for (size_t i = 0; i < n; i++)
		all_found = all_found && items[i].place >= 0;
	if (all_found) {
		qsort(items, n, sizeof(*items), compare_sort_items);
		return;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && sort_less(&items[j], &items[j - 1]); j--) {
			struct sort_item t = items[j];
			items[j] = items[j - 1];
			items[j - 1] = t;
		}
}

/* Every item of list must be a map holding the merge key (validateMergeKeyInLists). */
static int
check_merge_keys(const json_t *list, const char *merge_key, korch_error **err)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *item = json_array_get(list, i);
		if (!json_is_object(item))
			return smp_error_bad_arg_type(err, "map[string]interface {}", item);
		if (!json_object_get(item, merge_key ? merge_key : ""))
			return smp_error_no_merge_key(err, item, merge_key);
	}
	return 0;
}

static bool
is_delete_item(const json_t *item)
{
	return streq(json_string_value(json_object_get(item, SMP_DIRECTIVE)), "delete");
}

/*
 * Sorts list by the places of its items in order (normalizeSliceOrder); for maps, items that
 * carry "$patch": "delete" go last. *ret receives a new array.
 */
static int
sort_by_order(const json_t *list, const json_t *order, const char *merge_key, bool maps,
	      json_t **ret, korch_error **err)
{
	if (maps && (check_merge_keys(list, merge_key, err) < 0 ||
		     check_merge_keys(order, merge_key, err) < 0))
		return KORCH_EINVALID;
	const char *by = maps ? (merge_key ? merge_key : "") : NULL;
	_cleanup_(smp_index_free) struct smp_index ix = SMP_INDEX_INIT;
	size_t n = json_array_size(list), m = 0;
	_cleanup_free_ struct sort_item *items = calloc(n ? n : 1, sizeof(*items));
	_cleanup_json_ json_t *sorted = json_array();
	_cleanup_json_ json_t *deletes = json_array();
	if (!items || !sorted || !deletes || index_list(&ix, order, by, false) < 0)
		return error_oom(err);
	for (size_t i = 0; i < n; i++) {
		json_t *item = json_array_get(list, i);
		if (maps && is_delete_item(item)) {
			if (json_array_append(deletes, item) < 0)
				return error_oom(err);
			continue;
		}
		items[m] = (struct sort_item){ .value = item, .seq = m };
		if (index_find_item(&ix, item, by, &items[m].place) < 0)
			return error_oom(err);
		m++;
	}
	sort_items(items, m);
	for (size_t i = 0; i < m; i++)
		if (json_array_append(sorted, items[i].value) < 0)
			return error_oom(err);
	if (json_array_extend(sorted, deletes) < 0)
		return error_oom(err);
	*ret = steal_pointer(&sorted);
	return 0;
}

/*
 * Interleaves the sorted server-only items (left) into the sorted patch items (right)
 * (mergeSortedSlice): a server-only item goes first only when the server's order has both it
 * and the patch item it competes with, and has it earlier.
 */
static int
interleave(const json_t *left, const json_t *right, const json_t *server_order,
	   const char *merge_key, json_t **ret, korch_error **err)
{
	_cleanup_(smp_index_free) struct smp_index ix = SMP_INDEX_INIT;
	_cleanup_json_ json_t *out = json_array();
	if (!out || index_list(&ix, server_order, merge_key, false) < 0)
		return error_oom(err);
	size_t i = 0, j = 0, nl = json_array_size(left), nr = json_array_size(right);
	while (i < nl || j < nr) {
		bool take_left = j >= nr;
		if (i < nl && j < nr) {
			long li, ri;
			if (index_find_item(&ix, json_array_get(left, i), merge_key, &li) < 0 ||
			    index_find_item(&ix, json_array_get(right, j), merge_key, &ri) < 0)
				return error_oom(err);
			take_left = li >= 0 && ri >= 0 && li < ri;
		}
		json_t *item = take_left ? json_array_get(left, i++) : json_array_get(right, j++);
		if (json_array_append(out, item) < 0)
			return error_oom(err);
	}
	*ret = steal_pointer(&out);
	return 0;
}

int
smp_normalize_order(json_t *patch_items, json_t *server_only, const json_t *patch_order,
		    const json_t *server_order, const char *merge_key, bool maps, json_t **ret,
		    korch_error **err)
{
	_cleanup_json_ json_t *patch_sorted = NULL;
	_cleanup_json_ json_t *server_sorted = NULL;
	int r = sort_by_order(patch_items, patch_order, merge_key, maps, &patch_sorted, err);
	if (r < 0)
		return r;
	r = sort_by_order(server_only, server_order, merge_key, maps, &server_sorted, err);
	if (r < 0)
		return r;
	const char *by = maps ? (merge_key ? merge_key : "") : NULL;
	return interleave(server_sorted, patch_sorted, server_order, by, ret, err);
}

/*
 * Where the first item of by that is not a map sits (findMapInSliceBasedOnKeyValue fails on
 * it when it comes before the match), or SIZE_MAX.
 */
static size_t
first_non_map(const json_t *by)
{
	for (size_t i = 0; i < json_array_size(by); i++)
		if (!json_is_object(json_array_get(by, i)))
			return i;
	return SIZE_MAX;
}

/* Is item (a map) present in by, by merge key? Errors as findMapInSliceBasedOnKeyValue. */
static int
find_by_key(const struct smp_index *ix, size_t bad, const json_t *item, const char *merge_key,
	    bool *ret, korch_error **err)
{
	if (!json_is_object(item))
		return smp_error_bad_arg_type(err, "map[string]interface {}", item);
	if (!json_object_get(item, merge_key))
		return smp_error_no_merge_key(err, item, merge_key);
	long place;
	if (index_find_item(ix, item, merge_key, &place) < 0)
		return error_oom(err);
	if (bad != SIZE_MAX && (place < 0 || (size_t)place > bad))
		return error_set(err, KORCH_EINVALID, "value for key %zu is not a map", bad);
	*ret = place >= 0;
	return 0;
}

int
smp_partition(const json_t *merged, const json_t *by, const char *merge_key, json_t **ret_in,
	      json_t **ret_out, korch_error **err)
{
	_cleanup_(smp_index_free) struct smp_index ix = SMP_INDEX_INIT;
	_cleanup_json_ json_t *in = json_array();
	_cleanup_json_ json_t *out = json_array();
	if (!in || !out || index_list(&ix, by, merge_key, merge_key != NULL) < 0)
		return error_oom(err);
	size_t bad = merge_key ? first_non_map(by) : SIZE_MAX;
	for (size_t i = 0; i < json_array_size(merged); i++) {
		json_t *item = json_array_get(merged, i);
		bool found = false;
		if (merge_key) {
			int r = find_by_key(&ix, bad, item, merge_key, &found, err);
			if (r < 0)
				return r;
		} else {
			long place;
			if (index_find_item(&ix, item, NULL, &place) < 0)
				return error_oom(err);
			found = place >= 0;
		}
		if (json_array_append(found ? in : out, item) < 0)
			return error_oom(err);
	}
	*ret_in = steal_pointer(&in);
	*ret_out = steal_pointer(&out);
	return 0;
}

/* Orders removals by the "$patch": "delete" item that removes them, then by place. */
struct removal {
	size_t rank;  /* which delete item removes it (its place in the patch list) */
	size_t place; /* its place in the live list */
};

static int
compare_removals(const void *a, const void *b)
{
	const struct removal *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->place < y->place ? -1 : x->place > y->place;
}

/*
 * The removals "$patch": "delete" makes from the live list, in the order Go makes them (each
 * delete item in turn removes its matches from left to right). *ret_n gets their number.
 */
static int
removals(const json_t *orig, const json_t *patch, const char *merge_key, struct removal **ret,
	 size_t *ret_n)
{
	_cleanup_(smp_index_free) struct smp_index drop = SMP_INDEX_INIT;
	for (size_t i = 0; i < json_array_size(patch); i++) {
		json_t *item = json_array_get(patch, i);
		const char *d = json_string_value(json_object_get(item, SMP_DIRECTIVE));
		json_t *v = json_object_get(item, merge_key);
		if (streq(d, "delete") && v && smp_index_add(&drop, v, i) < 0)
			return KORCH_ENOMEM;
	}
	size_t n = json_array_size(orig), count = 0;
	_cleanup_free_ struct removal *list = calloc(n ? n : 1, sizeof(*list));
	if (!list)
		return KORCH_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(json_array_get(orig, i), merge_key);
		long rank = -1;
		if (v && smp_index_find(&drop, v, &rank) < 0)
			return KORCH_ENOMEM;
		if (rank >= 0)
			list[count++] = (struct removal){ (size_t)rank, i };
	}
	qsort(list, count, sizeof(*list), compare_removals);
	*ret = steal_pointer(&list);
	*ret_n = count;
	return 0;
}

/*
 * The storage of the live list after Go's deletions: the m kept items, then in each freed
 * slot p (from the end) the item that was last when the list shrank to p items, because
 * append(s[:i], s[i+1:]...) moves the rest left and leaves the old last item behind.
 */
static int
storage_after_removals(const json_t *orig, const struct removal *gone, size_t r, json_t *view)
{
	size_t n = json_array_size(orig);
	_cleanup_free_ bool *removed = calloc(n ? n : 1, sizeof(bool));
	_cleanup_free_ size_t *last = calloc(r ? r : 1, sizeof(size_t));
	if (!removed || !last)
		return KORCH_ENOMEM;
	size_t at = n - 1;
	for (size_t k = 0; k < r; k++) {
		while (removed[at])
			at--;
		last[k] = at;
		removed[gone[k].place] = true;
	}
	for (size_t i = 0; i < n; i++)
		if (!removed[i] && json_array_append(view, json_array_get(orig, i)) < 0)
			return KORCH_ENOMEM;
	for (size_t p = n - r; p < n; p++)
		if (json_array_append(view, json_array_get(orig, last[n - 1 - p])) < 0)
			return KORCH_ENOMEM;
	return 0;
}

/*
 * The live list as Kubernetes' $setElementOrder step orders by after a merge of lists of maps
 * (mergePatchIntoOriginal): Go's mergeSlice works in the live list's own storage, where
 * "$patch": "delete" moves the remaining items left and new items are then appended into the
 * freed slots, and the ordering step reads that storage afterwards. The new items that took
 * a deleted item's slot thus count as known to the server, ahead of the server-only items
 * after them: with this, korch orders such lists as the API server does. *ret gets a new array.
 */
int
smp_set_order_server_view(const json_t *orig, const json_t *patch, const char *merge_key,
			  json_t **ret, korch_error **err)
{
	_cleanup_(smp_index_free) struct smp_index known = SMP_INDEX_INIT;
	_cleanup_free_ struct removal *gone = NULL;
	_cleanup_json_ json_t *view = json_array();
	size_t r = 0, m, n = json_array_size(orig);
	bool replace = false;
	if (!view || removals(orig, patch, merge_key, &gone, &r) < 0 ||
	    storage_after_removals(orig, gone, r, view) < 0)
		return error_oom(err);
	m = n - r;
	for (size_t i = 0; i < m; i++)
		if (smp_index_add(&known, json_object_get(json_array_get(view, i), merge_key), i) <
		    0)
			return error_oom(err);
	for (size_t i = 0; i < json_array_size(patch); i++)
		replace = replace || streq(json_string_value(json_object_get(
						   json_array_get(patch, i), SMP_DIRECTIVE)),
					   "replace");
	/* After a replace, new items go to a new list; so do those past the live list's end. */
	for (size_t i = 0; !replace && i < json_array_size(patch) && m < n; i++) {
		json_t *item = json_array_get(patch, i);
		json_t *value = json_object_get(item, merge_key);
		long at;
		if (json_object_get(item, SMP_DIRECTIVE))
			continue;
		if (smp_index_find(&known, value, &at) < 0)
			return error_oom(err);
		if (at >= 0)
			continue;
		if (smp_index_add(&known, value, m) < 0 || json_array_set(view, m++, item) < 0)
			return error_oom(err);
	}
	*ret = steal_pointer(&view);
	return 0;
}
