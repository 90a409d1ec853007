/*
 * fieldset.h - sets of field paths, the unit of ownership in server-side apply, as Kubernetes'
 * structured-merge-diff (sigs.k8s.io/structured-merge-diff/v4, fieldpath.Set) keeps them, and
 * their FieldsV1 encoding in metadata.managedFields.
 *
 * A path is a sequence of elements: f:<field> (a field of an object, or a key of a map),
 * k:<key fields> (an item of a list of type map, by its x-kubernetes-list-map-keys), v:<value>
 * (an item of a list of type set) and i:<index> (an item by position; korch's schema never makes
 * one, FieldsV1 may carry it). A set holds "members" (paths owned themselves) and "children"
 * (paths below which something is owned); a path may be both, which FieldsV1 writes as ".".
 * Atomic lists and atomic maps are owned whole: their path is a member and nothing below it is.
 */
#ifndef KORCH_API_FIELDSET_H
#define KORCH_API_FIELDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/schema.h"
#include "base/macro.h"
#include "base/strbuf.h"

enum path_element_type {
	PATH_FIELD = 0, /* f:<name>: a field of an object or a key of a map */
	PATH_KEY = 1,   /* k:{"name":"web"}: an item of a list of type map, by its key fields */
	PATH_VALUE = 2, /* v:"example.com/x": an item of a list of type set, by its value */
	PATH_INDEX = 3, /* i:3: an item by position */
};

/*
 * One element of a path. Elements handed to the functions below are borrowed; a set keeps its
 * own copy of the name and a reference to the value, which nothing modifies.
 */
struct path_element {
	enum path_element_type type; /* which of the fields below is set */
	const char *field;           /* PATH_FIELD: the field or map key */
	json_t *value; /* PATH_KEY: object of the key fields in name order; PATH_VALUE */
	int64_t index; /* PATH_INDEX: the position */
};

/* Releases what an element owns (the name of a PATH_FIELD, the value) and zeroes it. */
void path_element_clear(struct path_element *pe);

/* Total order of path elements (f: before k: before v: before i:), as the set keeps them. */
int path_element_compare(const struct path_element *a, const struct path_element *b);

/*
 * Appends the path as Kubernetes prints it (fieldpath.Path.String): .spec.replicas,
 * .spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].name,
 * .metadata.finalizers[="a"], .spec.args[0]. Returns 0 or KORCH_ENOMEM.
 */
int path_to_string(const struct path_element *path, size_t n, struct strbuf *out);

/* Appends the FieldsV1 key of one element: f:name, k:{"name":"web"}, v:"a", i:0. */
int path_element_to_key(const struct path_element *pe, struct strbuf *out);

/* A path being walked: borrowed elements pushed and popped as a walker descends. */
struct path_stack {
	struct path_element *elems; /* n borrowed elements */
	size_t n;                   /* depth */
	size_t cap;                 /* allocated entries */
};
#define PATH_STACK_INIT    \
	{                  \
		NULL, 0, 0 \
	}
/* Pushes pe (borrowed until popped); 0 or KORCH_ENOMEM. */
int path_stack_push(struct path_stack *p, const struct path_element *pe);
void path_stack_pop(struct path_stack *p);
void path_stack_free(struct path_stack *p);

/* A set of paths (opaque). The algebra below makes new sets and leaves its inputs alone. */
struct fieldset;

/* An empty set; NULL when out of memory. */
struct fieldset *fieldset_new(void);
/* Frees a set; takes NULL. */
void fieldset_free(struct fieldset *s);
DEFINE_CLEANUP_FUNC(fieldset_free, struct fieldset, fieldset_free)
#define _cleanup_fieldset_ _cleanup_(fieldset_freep)

/* A copy of s; NULL when out of memory. */
struct fieldset *fieldset_copy(const struct fieldset *s);

/*
 * Adds the path of n elements (copied); the empty path is not a member of anything and adds
 * nothing. Returns 0 or KORCH_ENOMEM (s then holds what it held, perhaps with an empty node).
 */
int fieldset_insert(struct fieldset *s, const struct path_element *path, size_t n);
/* Whether the path of n >= 1 elements is a member of s. */
bool fieldset_has(const struct fieldset *s, const struct path_element *path, size_t n);
/* Whether s (which may be NULL) holds no member at any depth. */
bool fieldset_empty(const struct fieldset *s);
/* Whether a and b hold the same members. */
bool fieldset_equal(const struct fieldset *a, const struct fieldset *b);
/* The number of members at every depth. */
size_t fieldset_size(const struct fieldset *s);
/* The set of paths below pe (WithPrefix), or NULL when nothing is; borrowed from s. */
const struct fieldset *fieldset_child(const struct fieldset *s, const struct path_element *pe);

/*
 * Set algebra, each making a new set in *ret (0 or KORCH_ENOMEM): union; intersection;
 * difference (the members of a not in b); recursive difference (the members of a neither in b
 * nor below a member of b: how Kubernetes' reset fields exclude whole subtrees); leaves (the
 * members that have nothing below them in the set).
 */
int fieldset_union(const struct fieldset *a, const struct fieldset *b, struct fieldset **ret);
int fieldset_intersection(const struct fieldset *a, const struct fieldset *b,
			  struct fieldset **ret);
int fieldset_difference(const struct fieldset *a, const struct fieldset *b, struct fieldset **ret);
int fieldset_recursive_difference(const struct fieldset *a, const struct fieldset *b,
				  struct fieldset **ret);
int fieldset_leaves(const struct fieldset *a, struct fieldset **ret);

/*
 * The same set where every field that an object type declares and that has something below it
 * is also a member (structured-merge-diff's EnsureNamedFieldsAreMembers): apply prunes on these,
 * so that dropping every field of a struct drops the struct. type is the schema type at the
 * set's root; map keys and list items are not made members. Returns 0 or KORCH_ENOMEM.
 */
int fieldset_ensure_named_fields(const struct fieldset *s, const struct schema_type *type,
				 struct fieldset **ret);

/*
 * Calls fn for every member in the set's order (at each level the members, then the paths below
 * each child): the order Kubernetes lists conflicts in. Stops at and returns the first non-zero
 * value fn returns (KORCH_ENOMEM when the walk itself runs out of memory); 0 otherwise.
 */
typedef int (*fieldset_visit_fn)(const struct path_element *path, size_t n, void *userdata);
int fieldset_iterate(const struct fieldset *s, fieldset_visit_fn fn, void *userdata);

/*
 * Reads a FieldsV1 tree (`{"f:metadata":{"f:labels":{"f:app":{}}}}`) into a set, as
 * structured-merge-diff reads it: {} is a member, "." marks a path that has children as a
 * member too, null counts as {}. Keys whose type letter this version does not know (other than
 * f, k, v, i) are skipped with what is below them, as Kubernetes skips them. Refused with
 * KORCH_EINVALID, naming the path read so far: a tree or value that is not an object, a key
 * shorter than two characters or without a colon after its letter, a k: that is not a JSON
 * object of at least one field, a v: that is not one JSON value, an i: that is not an integer.
 */
int fieldset_from_fields_v1(const json_t *fields_v1, struct fieldset **ret, korch_error **err);

/*
 * Writes s as a FieldsV1 tree, as Kubernetes writes it: members and children in the set's
 * order, "." first where a path is both, every value an object, k: and v: keys in Go's JSON
 * (keys sorted, HTML-safe strings). Returns 0 or KORCH_ENOMEM.
 */
int fieldset_to_fields_v1(const struct fieldset *s, json_t **ret, korch_error **err);

/*
 * Values compared as structured-merge-diff compares them (value.Equals, value.Compare): numbers
 * by value whether integer or real, objects whatever their key order. value_compare() is its
 * total order: numbers, then strings, booleans, lists, objects, null. NULL equals only NULL.
 */
bool value_equal(const json_t *a, const json_t *b);
int value_compare(const json_t *a, const json_t *b);

/*
 * Appends v as structured-merge-diff prints a value in a path (value.ToString): strings quoted
 * as Go's %q, numbers as %v, lists as [a,b], objects as k=v pairs in key order, null as "null".
 * Returns 0 or KORCH_ENOMEM.
 */
int value_to_string(const json_t *v, struct strbuf *out);

#endif
