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
#include <jansson.h>
#include <korch/common.h>

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

/*
 * One type: named ones are shared by reference ("io.k8s.api.core.v1.PodSpec"). Anonymous ones
 * (name NULL) are the primitives, enum strings, arrays and maps, deduplicated. A field whose
 * definition adds a patch strategy or a map type to a named object type (DeploymentSpec.strategy:
 * retainKeys; PersistentVolumeSpec.claimRef: granular) points at a copy of that type with the
 * same name and fields and its own patch_strategy / map_atomic; schema_type_by_name() returns
 * the named original.
 */
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

/*
 * Looks a named type up ("io.k8s.api.core.v1.Container"), generated or hand-written; NULL when
 * unknown.
 */
const struct schema_type *schema_type_by_name(const char *name);

/* The generated table of named types (sorted by name), for the OpenAPI documents. */
extern const struct schema_type *const schema_named_types[];
extern const size_t schema_n_named_types;

/* The root type of every kind in the registry (generated; kinds.c points at them). */
extern const struct schema_type schema_core_v1_Namespace, schema_core_v1_Pod,
	schema_core_v1_ReplicationController, schema_apps_v1_ReplicaSet, schema_apps_v1_Deployment,
	schema_apps_v1_StatefulSet, schema_apps_v1_ControllerRevision, schema_apps_v1_DaemonSet,
	schema_core_v1_Service, schema_core_v1_Endpoints, schema_discovery_v1_EndpointSlice,
	schema_batch_v1_Job, schema_batch_v1_CronJob, schema_autoscaling_v2_HorizontalPodAutoscaler,
	schema_core_v1_PersistentVolume, schema_core_v1_PersistentVolumeClaim,
	schema_storage_v1_StorageClass, schema_core_v1_ConfigMap, schema_core_v1_Secret,
	schema_core_v1_ServiceAccount, schema_rbac_v1_Role, schema_rbac_v1_ClusterRole,
	schema_rbac_v1_RoleBinding, schema_rbac_v1_ClusterRoleBinding,
	schema_scheduling_v1_PriorityClass, schema_core_v1_Node, schema_coordination_v1_Lease,
	schema_core_v1_Event;

/* Generated types that the hand-written schemas below build on. */
extern const struct schema_type schema_meta_v1_ObjectMeta, schema_meta_v1_Condition,
	schema_meta_v1_Time;

/*
 * The kinds of korch's own groups, whose schemas are written by hand (schema-gitops.c) from
 * the same building blocks; schema_type_by_name() finds their named types too.
 */
extern const struct schema_type schema_gitops_v1_GitRepository;
extern const struct schema_type *const schema_handwritten_types[];
extern const size_t schema_n_handwritten_types;

/* What to do with a field the schema does not know (Kubernetes' fieldValidation). */
enum field_validation {
	FIELD_VALIDATION_STRICT = 0, /* refuse the object, naming the field (kubectl's default) */
	FIELD_VALIDATION_WARN,       /* drop the field and say so in a warning */
	FIELD_VALIDATION_IGNORE,     /* drop the field silently */
};

/* The cause reason of an unknown field (the others: FieldValueTypeInvalid, FieldValueInvalid). */
#define SCHEMA_REASON_UNKNOWN_FIELD "UnknownField"
/* At most this many causes (and warnings) per check, as Kubernetes' strict decoder keeps. */
#define SCHEMA_CHECK_MAX_CAUSES 100

/*
 * Checks obj against root, the way kube-apiserver decodes a request body, and collects every
 * problem rather than the first:
 *
 * - a field root's schema does not know: under STRICT a cause (reason "UnknownField") with its
 *   path; under WARN the field is removed and `unknown field "PATH"` appended to warnings (a
 *   JSON array, may be NULL); under IGNORE it is removed silently;
 * - a JSON type that does not fit the field: a cause (reason "FieldValueTypeInvalid"), message
 *   `Invalid value: "three": expected integer, got string` (scalars shown as Kubernetes' field
 *   errors show them, objects and arrays not shown);
 * - an int32 out of range, a malformed date-time, bad base64: a cause ("FieldValueInvalid");
 * - null for a field means absent: the field is removed; a null list item or map value becomes
 *   the zero value Kubernetes' decoder would give it ("", 0, false, {}, "0" for a quantity);
 * - SCHEMA_ANY subtrees are not looked into.
 *
 * Paths use Kubernetes' field path notation: spec.containers[0].ports[1].containerPort,
 * metadata.labels[app]. The error (KORCH_EINVALID) carries every cause (up to
 * SCHEMA_CHECK_MAX_CAUSES) and a message listing them: `strict decoding error: unknown field
 * "spec.foo", unknown field "spec.bar"` for unknown fields alone (kube-apiserver's text, to which
 * the write path prefixes `Deployment in version "v1" cannot be handled as a Deployment`), the
 * causes as `PATH: MESSAGE` for the others (in brackets when more than one), both parts joined
 * by "; " when both occur. kube-apiserver answers all of these with 400 Bad Request.
 *
 * On failure, obj and warnings are left as they were. Returns 0, KORCH_EINVALID, or KORCH_ENOMEM.
 */
int schema_check(json_t *obj, const struct schema_type *root, enum field_validation mode,
		 json_t *warnings, korch_error **err);

#endif
