/*
 * korch/object.h - Kubernetes objects as korch hands them out: JSON documents (a manifest, an
 * object, a list) behind an opaque handle, with typed accessors for the common fields and JSON
 * or YAML text for the rest.
 *
 * Ownership: a korch_object returned through a `ret` parameter is the caller's (free it with
 * korch_object_free()); one returned as a plain return value is borrowed from its parent and
 * lives as long as the parent does. Objects are not thread-safe; a handle may move between
 * threads but must not be used by two at once.
 */
#ifndef KORCH_OBJECT_H
#define KORCH_OBJECT_H

#include <stddef.h>
#include <stdint.h>
#include <korch/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct korch_object korch_object;

/**
 * Parses manifests: one or more YAML documents (separated by ---) or a JSON document. The result
 * is a list object whose items are the documents, in order (a document of kind List, such as
 * `kubectl get -o yaml` writes, is expanded into its items). source (may be NULL) names the
 * input in error messages ("deploy.yaml:12: ..."). Limits: 3 MiB, nesting depth 100.
 */
KORCH_EXPORT int korch_object_parse(const char *text, size_t len, const char *source,
				    korch_object **ret_list, korch_error **err);

/** Parses exactly one JSON value. */
KORCH_EXPORT int korch_object_parse_json(const char *text, size_t len, korch_object **ret,
					 korch_error **err);

/** Number of items of a list object (its "items"), or of an array; 0 otherwise. */
KORCH_EXPORT size_t korch_object_count(const korch_object *list);

/** Item i of a list object or array; borrowed from list. NULL when out of range. */
KORCH_EXPORT korch_object *korch_object_at(korch_object *list, size_t i);

/**
 * The value at a dotted path ("metadata.name", "spec.template.spec.containers.0.image"; a
 * number picks an array element); borrowed from obj; NULL when absent.
 */
KORCH_EXPORT korch_object *korch_object_get(korch_object *obj, const char *path);

/** The string at path, borrowed from obj, or NULL when absent or not a string. */
KORCH_EXPORT const char *korch_object_get_string(const korch_object *obj, const char *path);

/** The integer at path, or fallback when absent or not an integer. */
KORCH_EXPORT int64_t korch_object_get_int(const korch_object *obj, const char *path,
					  int64_t fallback);

/** Typed accessors: metadata.name, metadata.namespace, kind, apiVersion, status.phase. */
KORCH_EXPORT const char *korch_object_name(const korch_object *obj);
KORCH_EXPORT const char *korch_object_namespace(const korch_object *obj);
KORCH_EXPORT const char *korch_object_kind(const korch_object *obj);
KORCH_EXPORT const char *korch_object_api_version(const korch_object *obj);
KORCH_EXPORT const char *korch_object_phase(const korch_object *obj);

/** The value of label key, or NULL. Borrowed from obj. */
KORCH_EXPORT const char *korch_object_label(const korch_object *obj, const char *key);

/**
 * The status of condition type ("True", "False", "Unknown") in status.conditions, or NULL when
 * the object has no such condition. Borrowed from obj.
 */
KORCH_EXPORT const char *korch_object_condition(const korch_object *obj, const char *type);

/** The value of annotation key, or NULL. Borrowed from obj. */
KORCH_EXPORT const char *korch_object_annotation(const korch_object *obj, const char *key);

/** Sets annotation key (keys hold dots and slashes, so this is not a path). */
KORCH_EXPORT int korch_object_set_annotation(korch_object *obj, const char *key, const char *value,
					     korch_error **err);

/** Sets a string at a dotted path of object fields, creating objects on the way. */
KORCH_EXPORT int korch_object_set_string(korch_object *obj, const char *path, const char *value,
					 korch_error **err);

/** Text forms. */
enum korch_text_format {
	KORCH_TEXT_JSON = 0,        /**< compact JSON, fields in their order */
	KORCH_TEXT_JSON_PRETTY = 1, /**< JSON indented by four spaces, as kubectl -o json prints */
	KORCH_TEXT_YAML = 2,        /**< YAML as kubectl -o yaml prints */
};

/** The object as text (enum korch_text_format); the caller frees the string with free(). */
KORCH_EXPORT int korch_object_to_text(const korch_object *obj, int format, char **ret_text,
				      korch_error **err);

/** A new reference to the same object, freed with korch_object_free(). */
KORCH_EXPORT korch_object *korch_object_ref(korch_object *obj);

/** A deep copy, freed with korch_object_free(). */
KORCH_EXPORT int korch_object_copy(const korch_object *obj, korch_object **ret, korch_error **err);

/** Drops a reference; takes NULL. */
KORCH_EXPORT void korch_object_free(korch_object *obj);

#ifdef __cplusplus
}
#endif

#endif
