/*
 * typed.h - JSON values walked under the field schema the way structured-merge-diff's typed
 * package walks them for server-side apply: validation, the set of fields a value sets, the
 * merge of an applied configuration, the comparison of two values, and the removal of fields.
 *
 * How a schema type is treated (Kubernetes' OpenAPI converted by kube-openapi's schemaconv):
 * objects and maps are granular (each field or key on its own) unless x-kubernetes-map-type is
 * atomic; lists are atomic unless x-kubernetes-list-type is map (items by their list-map keys)
 * or set (items by value); scalars, int-or-string, quantities, times and bytes are leaves;
 * SCHEMA_ANY (RawExtension) is "untyped atomic", one leaf whatever it holds. Kubernetes makes a
 * list with patch strategy merge and no list type associative on its merge key; no list of the
 * 1.32 schema korch carries is in that case (the two that have a merge key and no map type,
 * JobStatus.conditions and PodStatus.hostIPs, say x-kubernetes-list-type: atomic), so the
 * schema's list type is used as it is.
 *
 * Paths in messages are structured-merge-diff's (.spec.containers[name="web"].image).
 */
#ifndef KORCH_API_TYPED_H
#define KORCH_API_TYPED_H

#include <stdbool.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/fieldset.h"
#include "api/schema.h"

/* How a value of a schema type is owned and merged. */
enum typed_shape {
	TYPED_LEAF = 0, /* owned and replaced whole: scalars, SCHEMA_ANY, atomic maps and lists */
	TYPED_MAP = 1,  /* each field or key on its own */
	TYPED_LIST = 2, /* each item on its own, by its key (list type map) or value (set) */
};
enum typed_shape typed_shape_of(const struct schema_type *t);
/* The type of field or map key k of t; NULL when t declares no such field and is no map. */
const struct schema_type *typed_child(const struct schema_type *t, const char *k);
/* Whether t is an object type that declares field k (map keys are not declared fields). */
bool typed_is_declared_field(const struct schema_type *t, const char *k);

/*
 * Checks that v fits root as structured-merge-diff's validation does before any other walk:
 * objects, lists and scalars where the schema has them; no field the schema does not declare
 * ("field not declared in schema"); every item of a list of type map an object with its key
 * fields (a missing key takes its schema default: protocol "TCP" of container and service
 * ports), every item of a set a scalar; and, unless allow_duplicates (stored objects may hold
 * them), no two items with the same key ("duplicate entries for key [name=\"web\"]"). Scalar
 * types are not checked here: schema_check() does that. Errors are KORCH_EINVALID with SMD's
 * text: "PATH: MESSAGE", or "errors:\n  PATH: MESSAGE\n  ..." for several.
 */
int typed_validate(const json_t *v, const struct schema_type *root, bool allow_duplicates,
		   korch_error **err);

/*
 * The fields v sets under root (structured-merge-diff's ToFieldSet): every scalar; every key of
 * a granular map, with what is below it; every item of a list of type map (k:) or set (v:),
 * with what it sets; an atomic list, an atomic map or a SCHEMA_ANY value as one leaf; a field
 * that is null or an empty object (an empty granular list is not a field of its own). Items that
 * repeat a key are owned as one leaf, nothing below. v must pass typed_validate() (duplicates
 * allowed); what does not is refused with the same errors. 0, KORCH_EINVALID or KORCH_ENOMEM.
 */
int typed_to_fieldset(const json_t *v, const struct schema_type *root, struct fieldset **ret,
		      korch_error **err);
/*
 * The same for a value that passed typed_validate() already or was made by the walks below from
 * ones that did; an item a removal left without a valid key (null) is skipped, as SMD's
 * ToFieldSet skips it.
 */
int typed_to_fieldset_validated(const json_t *v, const struct schema_type *root,
				struct fieldset **ret, korch_error **err);

/*
 * Merges rhs (an applied configuration) into lhs (the live object) as server-side apply does
 * (TypedValue.Merge): granular maps key by key, keeping lhs's keys in their order and appending
 * rhs's new ones; lists of type map and set item by item, rhs's items in rhs's order with lhs's
 * other items kept where they were; leaves, atomic lists and atomic maps replaced by rhs's
 * value; a null or empty granular map or list on both sides is a leaf. An item lhs repeats is
 * replaced by rhs's one item when rhs has it. Both values must have passed typed_validate()
 * (rhs without duplicates). *ret is a new tree that shares nothing with the inputs.
 * Returns 0 or KORCH_ENOMEM (or KORCH_EINVALID for what typed_validate() refuses).
 */
int typed_merge(const json_t *lhs, const json_t *rhs, const struct schema_type *root, json_t **ret,
		korch_error **err);

/* What changed from one value to another: every path in at most one set. */
struct typed_comparison {
	struct fieldset *removed;  /* in lhs, not in rhs */
	struct fieldset *modified; /* in both with different values */
	struct fieldset *added;    /* in rhs, not in lhs */
};
void typed_comparison_clear(struct typed_comparison *c);

/*
 * Compares lhs and rhs (TypedValue.Compare): leaves by value (value_equal()), granular maps and
 * associative lists key by key, with the path of a map or item that appears or disappears
 * itself in added or removed; items repeated in one value compared as SMD does. Both values must
 * have passed typed_validate() (duplicates allowed). Returns 0, KORCH_EINVALID or KORCH_ENOMEM;
 * *ret is filled only on success.
 */
int typed_compare(const json_t *lhs, const json_t *rhs, const struct schema_type *root,
		  struct typed_comparison *ret, korch_error **err);

/*
 * A copy of v without the fields in items (TypedValue.RemoveItems): a member removes the field,
 * key or item and all below it; a child set removes within. A granular map or list left empty,
 * or an atomic one below a removed path, becomes null, as in structured-merge-diff (kube-apiserver
 * then drops it when it decodes the object). v must have passed typed_validate(). Returns 0,
 * KORCH_EINVALID or KORCH_ENOMEM.
 */
int typed_remove_items(const json_t *v, const struct fieldset *items,
		       const struct schema_type *root, json_t **ret, korch_error **err);

#endif
