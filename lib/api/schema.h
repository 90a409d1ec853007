/*
 * schema.h - the field schema: for every kind, every field path Kubernetes defines, its type,
 * and for lists the strategic-merge key and strategy and the server-side-apply list type.
 *
 * The tables are generated (lib/api/schema-gen.py) from Kubernetes' published OpenAPI
 * definitions into schema-tables.c; they are facts (names, types, merge keys), read-only data
 * shared by every korch instance. They drive validation (unknown fields, types), strategic
 * merge patch, server-side apply and the OpenAPI documents the API server serves.
 */
#ifndef KORCH_API_SCHEMA_H
#define KORCH_API_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum schema_kind {
	SCHEMA_STRING,        /* plain string */
	SCHEMA_INTEGER,       /* int32 or int64 (see format) */
	SCHEMA_NUMBER,        /* double */
	SCHEMA_BOOLEAN,
	SCHEMA_OBJECT,        /* a struct with named fields */
	SCHEMA_MAP,           /* map[string]elem (additionalProperties) */
	SCHEMA_ARRAY,         /* []elem */
	SCHEMA_INT_OR_STRING, /* intstr.IntOrString: an integer or a string */
	SCHEMA_QUANTITY,      /* resource.Quantity: a string ("100m") or a number */
	SCHEMA_TIME,          /* metav1.Time: RFC 3339 string (format date-time) */
	SCHEMA_BYTES,         /* []byte: base64 string (format byte) */
	SCHEMA_ANY,           /* free-form JSON (RawExtension, JSON, preserve-unknown-fields) */
};

/* Strategic merge patch strategy of a list or map field (x-kubernetes-patch-strategy). */
enum schema_patch {
	SCHEMA_PATCH_REPLACE = 0,     /* default for lists without a strategy: replaced whole */
	SCHEMA_PATCH_MERGE = 1,       /* merged: by merge_key for lists of objects, union for primitives */
	SCHEMA_PATCH_RETAIN_KEYS = 2, /* $retainKeys allowed (bit, may combine with MERGE) */
};

/* Server-side apply list semantics (x-kubernetes-list-type), and map type. */
enum schema_list_type {
	SCHEMA_LIST_ATOMIC = 0, /* owned and replaced as a whole (the default) */
	SCHEMA_LIST_SET = 1,    /* scalars, each owned on its own */
	SCHEMA_LIST_MAP = 2,    /* objects keyed by list_map_keys, each owned on its own */
};

struct schema_field;

/* One type: named ones are shared by reference ("io.k8s.api.core.v1.PodSpec"). */
struct schema_type {
	const char *name;                   /* OpenAPI definition name, NULL for anonymous */
	enum schema_kind kind;              /* what JSON it takes */
	const char *format;                 /* "int32", "int64", "double", "date-time", "byte", or NULL */
	const struct schema_field *fields;  /* OBJECT: fields sorted by name (bsearch) */
	uint16_t n_fields;                  /* OBJECT: entries in fields */
	const struct schema_type *elem;     /* ARRAY and MAP: the element type */
	uint8_t patch_strategy;             /* ARRAY and MAP: enum schema_patch bits */
	uint8_t list_type;                  /* ARRAY: enum schema_list_type */
	bool map_atomic;                    /* OBJECT/MAP: x-kubernetes-map-type atomic */
	const char *merge_key;              /* ARRAY of OBJECT with MERGE: the key ("name") */
	const char *const *list_map_keys;   /* ARRAY with LIST_MAP: NULL-terminated keys */
	const char *const *enum_values;     /* STRING: NULL-terminated allowed values, or NULL */
};

struct schema_field {
	const char *name;                   /* JSON field name */
	const struct schema_type *type;     /* its type */
	bool required;                      /* listed in the definition's "required" */
};

/* Looks a field of an OBJECT type up by name; NULL when the type has no such field. */
const struct schema_field *schema_field(const struct schema_type *type, const char *name);

/* Looks a named type up ("io.k8s.api.core.v1.Container"); NULL when unknown. */
const struct schema_type *schema_type_by_name(const char *name);

/* The generated table of named types (sorted by name), for the OpenAPI documents. */
extern const struct schema_type *const schema_named_types[];
extern const size_t schema_n_named_types;

#endif
