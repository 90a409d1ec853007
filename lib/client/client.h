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
/*
 * Creates the namespaces every korch state has, as Kubernetes does (default, kube-system,
 * kube-public, kube-node-lease), when missing. The controller manager keeps them afterwards;
 * this is for what must exist before it runs (a node agent's Lease).
 */
int client_ensure_system_namespaces(struct client *c, korch_error **err);

struct korch_client;
struct client *client_of_public(struct korch_client *kc);

/*
 * korch_pod_logs and korch_pod_exec (korch/node.h) over a client connected to korchd
 * (korch_client_connect): pods/NAME/log and pods/NAME/exec through the API. NULL for a client
 * over a state file (the node agent's files are read directly then).
 */
struct remote;
struct remote *client_remote_of_public(struct korch_client *kc);

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

/*
 * The same as the stored compact JSON text (the caller's), without parsing it, for callers that
 * pass the object on as text (the API server's GET). Stored objects carry apiVersion, kind and
 * their resourceVersion.
 */
int client_get_text(struct client *c, const struct kind_info *k, const char *ns, const char *name,
		    char **ret_text, size_t *ret_len, korch_error **err);

struct client_list_opts {
	const char *label_selector; /* text form, or NULL */
	const char *field_selector; /* text form, or NULL */
	size_t limit;               /* page size, 0: everything */
	const char *continue_token; /* from the previous page */
	bool text_items;            /* items as their stored JSON texts (JSON strings), unparsed
				       unless a selector must look at them */
	struct strbuf *text_out;    /* or NULL; else the items' stored texts are appended here,
				       comma-separated, and the List's items stay empty (see
				       store_list_options) */
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

/*
 * One change of an object, unfiltered, with its state before the change (prev: NULL for ADDED;
 * for DELETED object is the last state with the deletion's resourceVersion), for watch caches
 * that apply selectors to many watchers themselves. Both borrowed for the call. An ERROR event
 * (object a Status, prev NULL) ends the watch.
 */
typedef void (*client_change_fn)(struct client_watch *w, enum client_event_type type,
				 const json_t *object, const json_t *prev, void *userdata);

/* Every change of kind k after from_revision (STORE_REVISION_NOW: from now), in all namespaces. */
int client_watch_changes(struct client *c, const struct kind_info *k, int64_t from_revision,
			 client_change_fn fn, void *userdata, struct client_watch **ret,
			 korch_error **err);

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
 * pods/binding, with the semantics of Kubernetes' BindingREST (one implementation, bind-pod.c,
 * behind every entry point below): spec.nodeName is set only when it is unset (KORCH_ECONFLICT
 * `Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node
 * "n1"`), never on a pod being deleted (`... pod web is being deleted, cannot be assigned to a
 * host`) or with scheduling gates (`... pod web has non-empty .spec.schedulingGates`); the
 * binding's annotations are merged; the PodScheduled condition becomes True (replacing a False
 * one with its reason and message). Nothing else of the pod changes, it is not re-validated and
 * no managedFields entry is recorded, as an ordinary update may not change spec.nodeName.
 */
struct client_binding {
	const char *ns;               /* the pod's namespace */
	const char *name;             /* the pod's name */
	const char *node;             /* the target node's name (Binding.target.name) */
	const char *uid;              /* precondition on the pod's uid, or NULL */
	const char *resource_version; /* precondition on its resourceVersion, or NULL */
	const json_t *annotations;    /* merged into the pod's annotations, or NULL */
	/*
	 * client_txn_bind() only: the pod as the caller last saw it (an informer's copy, with
	 * metadata.resourceVersion), used instead of reading it; the commit then fails with
	 * KORCH_ECONFLICT if the stored pod is no longer that version. NULL: read it.
	 */
	const json_t *current;
};

/*
 * Binds the pod ns/name to node in one durable write (retried when the pod changed meanwhile,
 * as GuaranteedUpdate does). uid (may be NULL) is a precondition: KORCH_ECONFLICT `Operation
 * cannot be fulfilled on pods "web": Precondition failed: UID in precondition: ..., UID in
 * object meta: ...`. KORCH_ENOTFOUND `pods "web" not found` for a missing pod; KORCH_EINVALID
 * `Binding "web" is invalid: target.name: Required value` without a node.
 */
int client_bind_pod(struct client *c, const char *ns, const char *name, const char *uid,
		    const char *node, korch_error **err);

/*
 * Binds the pod ns/name as a Binding object (v1 Binding: metadata.name, uid, resourceVersion,
 * annotations; target.kind "" or "Node", target.name) asks, as POST .../pods/NAME/binding does:
 * KORCH_EINVALID for a name that differs from the URL's or a bad target. name may be NULL (the
 * Binding's own name is used). *ret (may be NULL) receives the bound pod.
 */
int client_bind_object(struct client *c, const char *ns, const char *name, const json_t *binding,
		       json_t **ret, korch_error **err);

/* ---- ServiceAccount tokens ---- */

struct token_signer;

/* The signer of ServiceAccount tokens (borrowed; NULL: none). TokenRequest needs one. */
void client_set_token_signer(struct client *c, struct token_signer *signer);
struct token_signer *client_token_signer(struct client *c);

/*
 * TokenRequest (serviceaccounts/NAME/token): request is an authentication.k8s.io/v1
 * TokenRequest (spec.audiences, spec.expirationSeconds: 600 to 2^32, default 3600,
 * spec.boundObjectRef to a Pod). The ServiceAccount (and the bound pod, with its uid when given)
 * must exist. *ret is the TokenRequest with status.token and status.expirationTimestamp.
 * KORCH_EUNSUPPORTED without a signer.
 */
int client_token_request(struct client *c, const char *ns, const char *name, const json_t *request,
			 json_t **ret, korch_error **err);

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
/*
 * Adds a create (as client_create()) or an update (as client_update(): subresource "status"
 * changes only the status; metadata.resourceVersion, when set, must be the current one), worked
 * out now and checked again at commit. *ret (may be NULL) receives the object as the commit
 * will store it (a new reference); a successful commit fills in its metadata.resourceVersion.
 * An update that changes nothing holds no write and *ret is the current object.
 */
int client_txn_create(struct client_txn *t, const json_t *obj, const struct client_write_opts *o,
		      json_t **ret, korch_error **err);
int client_txn_update(struct client_txn *t, const json_t *obj, const char *subresource,
		      const struct client_write_opts *o, json_t **ret, korch_error **err);
/*
 * The object the transaction will store under a key (borrowed; NULL when it holds no write of
 * that key, or deletes it at once): what a reader of the state after the commit will see.
 */
const json_t *client_txn_find(const struct client_txn *t, const struct kind_info *k, const char *ns,
			      const char *name);
/*
 * Adds a patch (merge, JSON or strategic; not apply), as client_patch() with subresource, worked
 * out against the current state now; KORCH_ENOTFOUND when the object is missing.
 */
int client_txn_patch(struct client_txn *t, const struct kind_info *k, const char *ns,
		     const char *name, enum client_patch_type type, const json_t *patch,
		     const char *subresource, const struct client_write_opts *o, korch_error **err);
/*
 * Adds a binding (see struct client_binding). Errors of the binding itself (already assigned, being
 * deleted, not found) are reported here and add nothing; with b->current the pod is not read
 * and a change since fails the commit with KORCH_ECONFLICT.
 */
int client_txn_bind(struct client_txn *t, const struct client_binding *b, korch_error **err);
/* How many writes the transaction holds (applies that change nothing hold none). */
size_t client_txn_size(const struct client_txn *t);
/* Commits (KORCH_ECONFLICT when something it read changed meanwhile) and frees it. */
int client_txn_commit(struct client_txn *t, int64_t *ret_revision, korch_error **err);
void client_txn_free(struct client_txn *t);

DEFINE_CLEANUP_FUNC(client_free, struct client, client_free)
DEFINE_CLEANUP_FUNC(client_txn_free, struct client_txn, client_txn_free)

#endif
