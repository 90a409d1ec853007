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

/** Options for korch_client_connect(); initialise with KORCH_CONNECT_OPTIONS_INIT. */
typedef struct korch_connect_options {
	unsigned int version;          /**< KORCH_CONNECT_OPTIONS_VERSION */
	const char *token;             /**< bearer token (overrides the kubeconfig's), or NULL */
	const char *ca_file;           /**< PEM CA bundle for an https:// URL, or NULL */
	bool insecure_skip_tls_verify; /**< do not check the server's certificate */
	int timeout_ms; /**< per request (watches, logs and exec excepted); 0: 30000 */
} korch_connect_options;

#define KORCH_CONNECT_OPTIONS_VERSION 1
#define KORCH_CONNECT_OPTIONS_INIT                                  \
	{                                                           \
		KORCH_CONNECT_OPTIONS_VERSION, NULL, NULL, false, 0 \
	}

/**
 * Connects to a running korchd (or any Kubernetes API server): target is the unix socket
 * (RUNDIR/korchd.sock: peer credentials, root is admin), a kubeconfig file (its current
 * context: server URL, certificate-authority(-data), insecure-skip-tls-verify, token or
 * tokenFile), or an http(s):// URL. NULL means $KUBECONFIG when set, else
 * /run/korch/korchd.sock. The same korch_client calls then go over HTTP. opts may be NULL.
 * Nothing is sent until the first call; a target that is none of these is KORCH_EINVALID.
 */
KORCH_EXPORT int korch_client_connect(const char *target, const korch_connect_options *opts,
				      korch_client **ret, korch_error **err);

/** Whether the client talks to a server (korch_client_connect) rather than a state file. */
KORCH_EXPORT bool korch_client_is_remote(const korch_client *c);

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

/** What a watch reports. */
enum korch_watch_event {
	KORCH_WATCH_ADDED = 0,
	KORCH_WATCH_MODIFIED = 1,
	KORCH_WATCH_DELETED = 2,
	KORCH_WATCH_BOOKMARK = 3, /**< only the resourceVersion is meaningful */
};

/**
 * Receives one watch event (enum korch_watch_event) and the object (borrowed for the call).
 * Return 0 to go on, anything else to stop the watch.
 */
typedef int (*korch_watch_fn)(int event, korch_object *obj, void *userdata);

/** Options for korch_client_watch(); initialise with KORCH_WATCH_OPTIONS_INIT. */
typedef struct korch_watch_options {
	unsigned int version;         /**< KORCH_WATCH_OPTIONS_VERSION */
	const char *label_selector;   /**< or NULL */
	const char *field_selector;   /**< or NULL */
	const char *resource_version; /**< changes after this one; NULL: the current objects as
					   ADDED events, then the changes */
	int timeout_s;                /**< end after this long; 0: until fn stops it */
} korch_watch_options;

#define KORCH_WATCH_OPTIONS_VERSION 1
#define KORCH_WATCH_OPTIONS_INIT                                 \
	{                                                        \
		KORCH_WATCH_OPTIONS_VERSION, NULL, NULL, NULL, 0 \
	}

/**
 * Watches a resource in namespace ns (NULL: all) and calls fn for each event, blocking until fn
 * returns non-zero (then 0), the timeout passes (0), or the watch fails: KORCH_EGONE when
 * resource_version was compacted away (list again), the transport's error otherwise. Works on
 * a state file and remotely.
 */
KORCH_EXPORT int korch_client_watch(korch_client *c, const char *resource, const char *ns,
				    const korch_watch_options *opts, korch_watch_fn fn,
				    void *userdata, korch_error **err);

/**
 * Sends one request to the API (method "GET", "POST", ...; path with its query, as
 * "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods"; body a JSON object or NULL) and
 * returns the JSON answer in *ret (may be NULL). For what has no call of its own: subresources
 * (scale, token, binding), metrics, discovery. A Status error is returned as its korch error.
 * Remote only (KORCH_EUNSUPPORTED on a state file).
 */
KORCH_EXPORT int korch_client_request(korch_client *c, const char *method, const char *path,
				      const korch_object *body, korch_object **ret,
				      korch_error **err);

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
