/*
 * kinds.h - the kinds registry: every kind korch knows, with its group, version, names, scope,
 * subresources, field schema, and the functions that default and validate it.
 */
#ifndef KORCH_API_KINDS_H
#define KORCH_API_KINDS_H

#include <stdbool.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/schema.h"

enum kind_subresource {
	KIND_SUB_STATUS = 1 << 0,
	KIND_SUB_SCALE = 1 << 1,
	KIND_SUB_BINDING = 1 << 2,   /* pods */
	KIND_SUB_LOG = 1 << 3,       /* pods */
	KIND_SUB_EXEC = 1 << 4,      /* pods */
	KIND_SUB_EVICTION = 1 << 5,  /* pods */
	KIND_SUB_TOKEN = 1 << 6,     /* serviceaccounts */
	KIND_SUB_PROXY = 1 << 7,
	KIND_SUB_ATTACH = 1 << 8,               /* pods */
	KIND_SUB_PORTFORWARD = 1 << 9,          /* pods */
	KIND_SUB_EPHEMERALCONTAINERS = 1 << 10, /* pods */
	KIND_SUB_FINALIZE = 1 << 11,            /* namespaces */
};

struct field_errors;

struct kind_info {
	const char *group;                  /* "" for the core group, "apps", "batch", ... */
	const char *version;                /* "v1" */
	const char *kind;                   /* "Deployment" */
	const char *plural;                 /* "deployments": the REST resource name */
	const char *singular;               /* "deployment" */
	const char *const *short_names;     /* NULL-terminated ("deploy"), may be empty */
	const char *const *categories;      /* NULL-terminated ("all"), may be empty */
	bool namespaced;                    /* namespaced or cluster-scoped */
	unsigned subresources;              /* enum kind_subresource bits */
	const struct schema_type *schema;   /* the root type of the object */
	/* Fills in Kubernetes' defaults in place; NULL when the kind has none. */
	void (*set_defaults)(json_t *obj);
	/*
	 * Adds a cause to *err for every rule obj breaks (old: the stored object on update, NULL on
	 * create). NULL when the kind has no rules beyond the schema's.
	 */
	void (*validate)(const json_t *obj, const json_t *old, korch_error **err);
};

/* "apps/v1" for apps, "v1" for the core group; buf must hold 64 bytes. */
const char *kind_api_version(const struct kind_info *k, char buf[static 64]);

/* By apiVersion ("apps/v1") and kind ("Deployment"); NULL when korch does not know it. */
const struct kind_info *kind_lookup(const char *api_version, const char *kind);

/*
 * By what a user types to kubectl get: a plural, singular, short name or kind, optionally with
 * a group ("deployments", "deploy", "Deployment", "deployments.apps"), case-insensitive.
 */
const struct kind_info *kind_lookup_resource(const char *name);

/* By group and plural resource name, as in REST paths. */
const struct kind_info *kind_lookup_plural(const char *group, const char *plural);

/*
 * Resolves apiVersion and kind to a registered kind, or says why not in kubectl's words:
 * KORCH_EINVALID "apiVersion not set", "kind not set" (both: "[apiVersion not set, kind not
 * set]"; NULL is not set, and so is an empty kind), "unexpected GroupVersion string: a/b/c";
 * KORCH_ENOTFOUND `no matches for kind "Foo" in version "example.com/v1"`, also for a kind
 * korch knows at a version Kubernetes 1.32 no longer serves (extensions/v1beta1 Deployment).
 * *ret is set only on success.
 */
int kind_resolve(const char *api_version, const char *kind, const struct kind_info **ret,
		 korch_error **err);

/*
 * The same for an object's own apiVersion and kind fields; a field that is missing or null is
 * "not set", one that is not a string "apiVersion isn't string type" (kubectl's words).
 */
int kind_resolve_object(const json_t *obj, const struct kind_info **ret, korch_error **err);

/* Every registered kind, in a stable order. */
extern const struct kind_info *const kind_registry[];
extern const size_t kind_registry_count;

#endif
