/*
 * client.h - the one interface to korch's state. In-process it IS the write path (DESIGN.md
 * "The write path"): every create, update, patch, apply and delete, whichever door it came in
 * by, is decoded, defaulted, validated against the schema and the kind's rules, admitted (the
 * namespace exists), given its uid, timestamps, generation and managedFields, and only then
 * written to the store. Reads and watches filter with label and field selectors.
 *
 * A client belongs to one thread, as its store handle does.
 */
#ifndef KORCH_CLIENT_CLIENT_H
#define KORCH_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include <korch/loop.h>
#include "api/kinds.h"
#include "api/schema.h"
#include "base/macro.h"
#include "store/store.h"

struct client;
struct client_watch;
struct hashmap;

/*
 * A client over a store handle (borrowed: it must outlive the client). clock (borrowed, may be
 * NULL for the real clock) stamps creationTimestamp, deletionTimestamp and managedFields.
 */
int client_new_local(struct store *store, korch_clock *clock, struct client **ret,
		     korch_error **err);
void client_free(struct client *c);
struct store *client_store(struct client *c);

/*
 * The write path behind a public korch_client (borrowed from it), for the public calls other
 * subsystems offer over a korch_client (korch_pod_logs, korch_pod_exec).
 */
struct korch_client;
struct client *client_of_public(struct korch_client *kc);

/*
 * A public korch_client over a store and write path that stay the caller's (borrowed: they
 * must outlive it); korch_client_free() then frees only the wrapper. The embedding handle
 * (include/korch/korch.h) hands its store's client out this way.
 */
int client_public_wrap(struct store *store, struct client *client, struct korch_client **ret,
		       korch_error **err);

/*
 * Where the write path allocates Service cluster IPs (an IPv4 CIDR, default 10.96.0.0/16;
 * NULL keeps it) and node ports (port_min-port_max, default 30000-32767; 0, 0 keeps them).
 * KORCH_EINVALID for a malformed CIDR or range. The allocations themselves are records in the
 * store, so every client of a store must be given the same ranges.
 */
int client_set_service_ranges(struct client *c, const char *service_cidr, int port_min,
			      int port_max, korch_error **err);

/*
 * Makes uids, generated names (generateName) and Service IP and node port choices come from a
 * generator seeded with seed, so that the same inputs give the same objects (the simulation
 * mode). Not for production: uids then repeat across stores seeded alike.
 */
void client_set_seed(struct client *c, uint64_t seed);

/* ---- reads ---- */

int client_get(struct client *c, const struct kind_info *k, const char *ns, const char *name,
	       json_t **ret, korch_error **err);

struct client_list_opts {
	const char *label_selector; /* text form, or NULL */
	const char *field_selector; /* text form, or NULL */
	size_t limit;               /* page size, 0: everything */
	const char *continue_token; /* from the previous page */
};

/*
 * Lists a kind in one namespace (ns) or all (ns NULL; cluster-scoped kinds ignore ns) as a
 * KIND List object: {"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion",
 * "continue"},"items":[...]} with apiVersion and kind set on every item.
 */
int client_list(struct client *c, const struct kind_info *k, const char *ns,
		const struct client_list_opts *opts, json_t **ret, korch_error **err);

enum client_event_type {
	CLIENT_EVENT_ADDED,
	CLIENT_EVENT_MODIFIED,
	CLIENT_EVENT_DELETED,
	CLIENT_EVENT_ERROR, /* the watch ended: object is a Status (410 Expired and friends) */
};

/*
 * One change of an object the watch selects. With selectors, an object that stops matching
 * arrives as DELETED and one that starts matching as ADDED, as kube-apiserver sends them.
 * object is borrowed for the call.
 */
typedef void (*client_watch_fn)(struct client_watch *w, enum client_event_type type,
				const json_t *object, void *userdata);

struct client_watch_opts {
	const char *label_selector;   /* or NULL */
	const char *field_selector;   /* or NULL */
	const char *resource_version; /* changes after this one; NULL or "" or "0": from now */
};

/* Watches a kind on the store's loop. KORCH_EGONE (410) for a compacted resourceVersion. */
int client_watch(struct client *c, const struct kind_info *k, const char *ns,
		 const struct client_watch_opts *opts, client_watch_fn fn, void *userdata,
		 struct client_watch **ret, korch_error **err);
void client_watch_free(struct client_watch *w);

/* ---- writes ---- */

struct client_write_opts {
	const char *field_manager;        /* recorded in managedFields; NULL: "unknown" */
	enum field_validation validation; /* unknown fields: Strict (default), Warn, Ignore */
	bool dry_run;                     /* everything but the store write */
	bool force;                       /* apply: take fields other managers own */
	json_t *warnings;                 /* out (may be NULL): a JSON array of warning texts */
	/* Set by transactions only: namespaces an earlier write of the same transaction creates
	 * (admission lets objects into them; the commit creates them first or fails whole). */
	const struct hashmap *txn_namespaces;
};

enum client_patch_type {
	CLIENT_PATCH_MERGE,     /* application/merge-patch+json */
	CLIENT_PATCH_JSON,      /* application/json-patch+json */
	CLIENT_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
	CLIENT_PATCH_APPLY,     /* application/apply-patch+yaml: server-side apply */
};

/* Creates obj (not changed); *ret (may be NULL) receives the stored object. */
int client_create(struct client *c, const json_t *obj, const struct client_write_opts *o,
		  json_t **ret, korch_error **err);

/*
 * Replaces an object (PUT). With metadata.resourceVersion set, the write is conditional on it
 * (KORCH_ECONFLICT otherwise). subresource "status" changes only the status, "finalize" (a
 * Namespace's) only spec.finalizers; NULL changes everything but the status of kinds that have
 * a status subresource, and but a Namespace's spec.
 */
int client_update(struct client *c, const json_t *obj, const char *subresource,
		  const struct client_write_opts *o, json_t **ret, korch_error **err);

/*
 * Patches an object; retried against a fresh copy when another writer got there first. An
 * apply patch creates the object when it is missing.
 */
int client_patch(struct client *c, const struct kind_info *k, const char *ns, const char *name,
		 enum client_patch_type type, const json_t *patch, const char *subresource,
		 const struct client_write_opts *o, json_t **ret, korch_error **err);

/* Server-side apply of a whole configuration: the patch CLIENT_PATCH_APPLY of obj itself. */
int client_apply(struct client *c, const json_t *obj, const struct client_write_opts *o,
		 json_t **ret, korch_error **err);

enum client_propagation {
	CLIENT_PROPAGATION_DEFAULT, /* the kind's default (Background for most) */
	CLIENT_PROPAGATION_BACKGROUND,
	CLIENT_PROPAGATION_FOREGROUND, /* the foregroundDeletion finalizer */
	CLIENT_PROPAGATION_ORPHAN,     /* the orphan finalizer */
};

struct client_delete_opts {
	int64_t grace_period_s; /* -1: the object's own (pods: terminationGracePeriodSeconds) */
	enum client_propagation propagation;
	const char *precondition_uid; /* or NULL */
	const char *precondition_rv;  /* or NULL */
	bool dry_run;
};

/*
 * Deletes an object: at once, or gracefully (deletionTimestamp set, the object stays until its
 * finalizers are gone and, for pods on a node, the node agent confirms). *ret (may be NULL)
 * receives the object as deleted or as marked.
 */
int client_delete(struct client *c, const struct kind_info *k, const char *ns, const char *name,
		  const struct client_delete_opts *o, json_t **ret, korch_error **err);

/* ---- subresources ---- */

/*
 * The autoscaling/v1 Scale of an object whose kind has /scale (Deployment, ReplicaSet,
 * StatefulSet, ReplicationController): metadata (name, namespace, uid, resourceVersion,
 * creationTimestamp), spec.replicas, status.replicas and status.selector (the selector as
 * text). KORCH_ENOTFOUND for a kind without /scale.
 */
int client_get_scale(struct client *c, const struct kind_info *k, const char *ns, const char *name,
		     json_t **ret, korch_error **err);

/*
 * Writes spec.replicas of the object a Scale names (metadata.namespace, metadata.name),
 * conditional on the Scale's metadata.resourceVersion when set; through the ordinary update
 * (managedFields record subresource "scale"). *ret (may be NULL) receives the new Scale.
 * KORCH_EINVALID `Scale.autoscaling "web" is invalid: spec.replicas: ...` for a negative count.
 */
int client_update_scale(struct client *c, const struct kind_info *k, const json_t *scale,
			const struct client_write_opts *o, json_t **ret, korch_error **err);

/*
 * pods/binding: assigns a pod to node (spec.nodeName, and the PodScheduled condition True), as
 * an ordinary update may not. uid (may be NULL) is a precondition. KORCH_ECONFLICT
 * `Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node
 * "n1"` (or is being deleted, or has scheduling gates); KORCH_ENOTFOUND for a missing pod.
 */
int client_bind_pod(struct client *c, const char *ns, const char *name, const char *uid,
		    const char *node, korch_error **err);

/* ---- transactions ---- */

struct client_txn;

/* Starts collecting writes that commit all or none. */
int client_txn_new(struct client *c, struct client_txn **ret, korch_error **err);
/*
 * Adds a server-side apply or a delete; each is prepared against the current state now (errors
 * are reported here, naming the object) and checked again at commit. A Namespace the
 * transaction creates admits the objects applied into it after it.
 */
int client_txn_apply(struct client_txn *t, const json_t *obj, const struct client_write_opts *o,
		     korch_error **err);
int client_txn_delete(struct client_txn *t, const struct kind_info *k, const char *ns,
		      const char *name, korch_error **err);
/* How many writes the transaction holds (applies that change nothing hold none). */
size_t client_txn_size(const struct client_txn *t);
/* Commits (KORCH_ECONFLICT when something it read changed meanwhile) and frees it. */
int client_txn_commit(struct client_txn *t, int64_t *ret_revision, korch_error **err);
void client_txn_free(struct client_txn *t);

DEFINE_CLEANUP_FUNC(client_free, struct client, client_free)
DEFINE_CLEANUP_FUNC(client_txn_free, struct client_txn, client_txn_free)

#endif
