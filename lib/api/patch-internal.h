/*
 * patch-internal.h - helpers shared by the patch implementations (merge-patch.c, json-patch.c,
 * strategic-merge.c, strategic-order.c); not part of any interface.
 */
#ifndef KORCH_API_PATCH_INTERNAL_H
#define KORCH_API_PATCH_INTERNAL_H

#include <stdbool.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/schema.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/macro.h"


/* The strategic merge patch directives. */
#define SMP_DIRECTIVE "$patch"
#define SMP_RETAIN_KEYS "$retainKeys"
#define SMP_DELETE_FROM_PRIMITIVE_LIST "$deleteFromPrimitiveList"
#define SMP_SET_ELEMENT_ORDER "$setElementOrder"

/*
 * Go's dynamic type of a value decoded into interface{} (string, int64, float64, bool, map,
 * slice, nil), as one number: two values are comparable with Go's == only if it matches.
 */
enum go_type {
	GO_NIL,
	GO_BOOL,
	GO_INT64,
	GO_FLOAT64,
	GO_STRING,
	GO_MAP,
	GO_SLICE,
};

enum go_type go_type_of(const json_t *v);

/* reflect.TypeOf(v) as Go prints it with %s: "map[string]interface {}", "int64", ... */
const char *go_type_name(const json_t *v);

/* The JSON kind Go names in "json: cannot unmarshal KIND into Go value of type T". */
const char *go_json_kind(const json_t *v);

/*
 * Go's == on two decoded values: same dynamic type and same value. Maps and slices (which Go
 * cannot compare) are never equal. NULL (an absent map key) equals JSON null, as both are nil.
 */
bool go_equal(const json_t *a, const json_t *b);

/*
 * Formats v as Go's fmt prints a decoded value with %v (verb_s false) or %s (verb_s true):
 * "map[name:a value:1]", "[1 2]", "<nil>"; with %s non-strings print as "%!s(int64=1)".
 * Returns a string the caller frees, or NULL when out of memory.
 */
char *go_format(const json_t *v, bool verb_s);

/*
 * A hash of values to their first place in a list, for O(1) lookups where Kubernetes scans
 * lists. Values compare as Go's == compares them: scalars of one Go type (1 and 1.0 differ);
 * maps and lists are never found.
 */
struct smp_index {
	struct hashmap map; /* compact JSON of a scalar -> place + 1 */
};

#define SMP_INDEX_INIT       \
	{                    \
		HASHMAP_INIT \
	}

void smp_index_free(struct smp_index *ix);
/* Records value (NULL: nil) at place unless it has a place already. 0 or KORCH_ENOMEM. */
int smp_index_add(struct smp_index *ix, const json_t *value, size_t place);
/* *ret = the first place of value, or -1. 0 or KORCH_ENOMEM. */
int smp_index_find(const struct smp_index *ix, const json_t *value, long *ret);

/*
 * Orders the items of a merged list as Kubernetes does (normalizeElementOrder): the items found
 * in patch_order sorted by their place there, the server-only items sorted by their place in
 * server_order, then the two interleaved so that server-only items keep their place relative
 * to the patch items that the server already had. merge_key is NULL for lists of primitives.
 * *ret receives a new array.
 */
int smp_normalize_order(json_t *patch_items, json_t *server_only, const json_t *patch_order,
			const json_t *server_order, const char *merge_key, bool maps, json_t **ret,
			korch_error **err);

/*
 * Splits merged into the items present in by (by merge key for maps, by value for primitives)
 * and the others. Both outputs are new arrays.
 */
int smp_partition(const json_t *merged, const json_t *by, const char *merge_key, json_t **ret_in,
		  json_t **ret_out, korch_error **err);

/*
 * The live list of maps orig as Kubernetes' $setElementOrder step sees it after merging patch
 * into it (see strategic-order.c). *ret receives a new array.
 */
int smp_set_order_server_view(const json_t *orig, const json_t *patch, const char *merge_key,
			      json_t **ret, korch_error **err);

/* Kubernetes' error for a map lacking its merge key: "map: map[...] does not contain ...". */
int smp_error_no_merge_key(korch_error **err, const json_t *map, const char *merge_key);

/* Kubernetes' error for a value of the wrong type: "expected a X, but received a Y". */
int smp_error_bad_arg_type(korch_error **err, const char *expected, const json_t *actual);

#endif
