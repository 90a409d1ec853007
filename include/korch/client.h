/*
 * korch/client.h - reading and writing korch's objects: a client over a state file (the same
 * write path korchd uses: defaults, validation, admission, server-side apply, graceful deletion).
 *
 * Resources are named as kubectl names them: a plural ("deployments"), singular, short name
 * ("deploy") or kind ("Deployment"), optionally with its group ("deployments.apps").
 *
 * Thread rules: a client belongs to the thread that opened it. Open one per thread; they may
 * share the state file (SQLite orders their writes).
 */
#ifndef KORCH_CLIENT_H
#define KORCH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <korch/common.h>
#include <korch/object.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct korch_client korch_client;

/** Options for korch_client_open_state(); initialise with KORCH_CLIENT_OPTIONS_INIT. */
typedef struct korch_client_options {
	unsigned int version; /**< KORCH_CLIENT_OPTIONS_VERSION */
	bool sync_normal; /**< synchronous=NORMAL: faster, may lose the last writes on power loss */
} korch_client_options;

#define KORCH_CLIENT_OPTIONS_VERSION 1
#define KORCH_CLIENT_OPTIONS_INIT                   \
	{                                           \
		KORCH_CLIENT_OPTIONS_VERSION, false \
	}

/**
 * Opens the state file at path (created when missing, with the namespaces default,
 * kube-system, kube-public and kube-node-lease) and returns a client over it. opts may be NULL.
 */
KORCH_EXPORT int korch_client_open_state(const char *path, const korch_client_options *opts,
					 korch_client **ret, korch_error **err);

/** Closes the client; takes NULL. */
KORCH_EXPORT void korch_client_free(korch_client *c);

/** Reads one object. KORCH_ENOTFOUND (`deployments.apps "web" not found`). */
KORCH_EXPORT int korch_client_get(korch_client *c, const char *resource, const char *ns,
				  const char *name, korch_object **ret, korch_error **err);

/** Options for korch_client_list(); initialise with KORCH_LIST_OPTIONS_INIT. */
typedef struct korch_list_options {
	unsigned int version;       /**< KORCH_LIST_OPTIONS_VERSION */
	const char *label_selector; /**< "app=web,tier in (a,b)", or NULL */
	const char *field_selector; /**< "status.phase=Running", or NULL */
	size_t limit;               /**< page size, 0 for everything */
	const char *continue_token; /**< from the previous page's metadata.continue */
} korch_list_options;

#define KORCH_LIST_OPTIONS_VERSION 1
#define KORCH_LIST_OPTIONS_INIT                                 \
	{                                                       \
		KORCH_LIST_OPTIONS_VERSION, NULL, NULL, 0, NULL \
	}

/**
 * Lists a resource in namespace ns, or in all namespaces when ns is NULL. The result is a list
 * object ("PodList") with metadata.resourceVersion and its items.
 */
KORCH_EXPORT int korch_client_list(korch_client *c, const char *resource, const char *ns,
				   const korch_list_options *opts, korch_object **ret,
				   korch_error **err);

/** How unknown fields are treated: refused (the default), dropped with a warning, dropped. */
enum korch_field_validation {
	KORCH_FIELD_VALIDATION_STRICT = 0,
	KORCH_FIELD_VALIDATION_WARN = 1,
	KORCH_FIELD_VALIDATION_IGNORE = 2,
};

/** Options for writes; initialise with KORCH_WRITE_OPTIONS_INIT. */
typedef struct korch_write_options {
	unsigned int version;      /**< KORCH_WRITE_OPTIONS_VERSION */
	const char *field_manager; /**< recorded in managedFields; NULL: "unknown" */
	int field_validation;      /**< enum korch_field_validation */
	bool dry_run;              /**< everything but the write */
	bool force;                /**< apply: take over fields other managers own */
} korch_write_options;

#define KORCH_WRITE_OPTIONS_VERSION 1
#define KORCH_WRITE_OPTIONS_INIT                                   \
	{                                                          \
		KORCH_WRITE_OPTIONS_VERSION, NULL, 0, false, false \
	}

/** The outcome of a write, as kubectl prints it. */
enum korch_write_result {
	KORCH_WRITE_CREATED = 0,
	KORCH_WRITE_CONFIGURED = 1,
	KORCH_WRITE_UNCHANGED = 2,
};

/**
 * Server-side apply of obj (one object with apiVersion, kind and metadata.name; a namespaced
 * object without metadata.namespace goes to "default"): creates it or merges it in.
 * *ret (may be NULL) receives the stored object, *ret_result (may be NULL) what happened
 * (enum korch_write_result). A field owned by another manager is KORCH_ECONFLICT naming the field, unless opts->force.
 */
KORCH_EXPORT int korch_client_apply(korch_client *c, const korch_object *obj,
				    const korch_write_options *opts, korch_object **ret,
				    int *ret_result, korch_error **err);

/** Creates obj. KORCH_EEXISTS (`deployments.apps "web" already exists`). */
KORCH_EXPORT int korch_client_create(korch_client *c, const korch_object *obj,
				     const korch_write_options *opts, korch_object **ret,
				     korch_error **err);

/**
 * Replaces an object; conditional on metadata.resourceVersion when set. subresource "status"
 * writes only the status, NULL everything else.
 */
KORCH_EXPORT int korch_client_update(korch_client *c, const korch_object *obj,
				     const char *subresource, const korch_write_options *opts,
				     korch_object **ret, korch_error **err);

/** The patch types of the Kubernetes API. */
enum korch_patch_type {
	KORCH_PATCH_MERGE = 0,     /**< JSON merge patch (RFC 7386) */
	KORCH_PATCH_JSON = 1,      /**< JSON patch (RFC 6902) */
	KORCH_PATCH_STRATEGIC = 2, /**< strategic merge patch */
	KORCH_PATCH_APPLY = 3,     /**< server-side apply configuration */
};

/** Patches an object (enum korch_patch_type). */
KORCH_EXPORT int korch_client_patch(korch_client *c, const char *resource, const char *ns,
				    const char *name, int patch_type, const korch_object *patch,
				    const korch_write_options *opts, korch_object **ret,
				    korch_error **err);

/** How dependents of a deleted object go. */
enum korch_propagation {
	KORCH_PROPAGATION_DEFAULT = 0,
	KORCH_PROPAGATION_BACKGROUND = 1,
	KORCH_PROPAGATION_FOREGROUND = 2,
	KORCH_PROPAGATION_ORPHAN = 3,
};

/** Options for korch_client_delete(); initialise with KORCH_DELETE_OPTIONS_INIT. */
typedef struct korch_delete_options {
	unsigned int version;   /**< KORCH_DELETE_OPTIONS_VERSION */
	int64_t grace_period_s; /**< -1: the object's own */
	int propagation;        /**< enum korch_propagation */
	bool dry_run;
} korch_delete_options;

#define KORCH_DELETE_OPTIONS_VERSION 1
#define KORCH_DELETE_OPTIONS_INIT                          \
	{                                                  \
		KORCH_DELETE_OPTIONS_VERSION, -1, 0, false \
	}

/**
 * Deletes an object, at once or gracefully (deletionTimestamp set until finalizers are done or
 * the node agent has stopped a pod). *ret (may be NULL) receives the object as deleted or marked.
 */
KORCH_EXPORT int korch_client_delete(korch_client *c, const char *resource, const char *ns,
				     const char *name, const korch_delete_options *opts,
				     korch_object **ret, korch_error **err);

/** Writes a consistent copy of the client's state file to dest_path (online backup). */
KORCH_EXPORT int korch_client_backup(korch_client *c, const char *dest_path, korch_error **err);

/**
 * Replaces the state file at path with the backup at backup_path (refusing anything that is not
 * a valid korch state file). Watchers of the old state get an expiry and relist.
 */
KORCH_EXPORT int korch_state_restore(const char *path, const char *backup_path, korch_error **err);

#ifdef __cplusplus
}
#endif

#endif
