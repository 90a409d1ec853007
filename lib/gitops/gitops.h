/*
 * gitops.h - what lib/gitops's files share: the source side (a bare cache repository fetched
 * with libgit2, the manifests read from a commit's tree), the desired objects built from them,
 * the transaction that applies them, workload health and the GitRepository's status.
 *
 * The flow of one sync: gitops_fetch() (blocking: a worker thread in the controller) gives the
 * commit and its manifests; gitops_desired_build() turns them into the objects to apply;
 * gitops_apply() applies them (and prunes what left git) in one lib/client transaction;
 * gitops_health() looks at the applied workloads; gitops_status_build() and
 * gitops_status_write() record the outcome, and gitops_event() tells it.
 */
#ifndef KORCH_GITOPS_GITOPS_H
#define KORCH_GITOPS_GITOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/codec.h"
#include "api/kinds.h"
#include "base/hashmap.h"
#include "base/macro.h"
#include "client/client.h"

/* The field manager of every apply, and the labels that tie an object to its repository. */
#define GITOPS_FIELD_MANAGER "korch-gitops"
#define GITOPS_LABEL_NAME "gitops.korch.io/name"
#define GITOPS_LABEL_NAMESPACE "gitops.korch.io/namespace"
/* An annotation whose new value asks the controller for a sync now (kubectl annotate). */
#define GITOPS_ANNOTATION_SYNC "gitops.korch.io/sync-requested-at"
/* The reporting component of Events. */
#define GITOPS_COMPONENT "korch-gitops"

/* Why a sync failed: the Ready condition's reason. */
enum gitops_reason {
	GITOPS_OK = 0,
	GITOPS_FETCH_FAILED,     /* "FetchFailed": unreachable, refused, bad credentials */
	GITOPS_REF_NOT_FOUND,    /* "RefNotFound": no such branch, tag or commit */
	GITOPS_PATH_NOT_FOUND,   /* "PathNotFound": spec.path is not a folder of the commit */
	GITOPS_MANIFEST_INVALID, /* "ManifestInvalid": a file that does not decode, no kind */
	GITOPS_APPLY_FAILED,     /* "ApplyFailed": the API refused an object */
};

/* The reason's CamelCase name. */
const char *gitops_reason_name(enum gitops_reason r);

/* ---- source (source.c) ---- */

/* Credentials from the Secret named by spec.secretRef (strings owned; any may be NULL). */
struct gitops_creds {
	char *username;       /* HTTP basic or SSH user; data.username */
	char *password;       /* HTTP basic password; data.password, or data.token */
	char *bearer_token;   /* HTTP "Authorization: Bearer"; data.bearerToken */
	char *ssh_key;        /* PEM private key; data.identity */
	char *ssh_public_key; /* data["identity.pub"] */
	char *ssh_passphrase; /* data.passphrase */
	char *known_hosts;    /* data.known_hosts: the SSH host keys to accept */
	bool from_secret;     /* they came from a Secret (which may hold none of these) */
};

void gitops_creds_clear(struct gitops_creds *c);

/*
 * Reads credentials from a Secret object (its data, base64). KORCH_EINVALID naming the key
 * when a value is not base64 or not text.
 */
int gitops_creds_from_secret(const json_t *secret, struct gitops_creds *ret, korch_error **err);

/*
 * Whether known_hosts (the text of an OpenSSH known_hosts file) accepts key (the SSH wire-format
 * public key a server showed) for host: 0 yes, KORCH_ECONFLICT when host is listed with other
 * keys only (its key changed), KORCH_ENOTFOUND when host is not listed.
 */
int gitops_known_host(const char *known_hosts, const char *host, const unsigned char *key,
		      size_t key_len);

enum gitops_ref_type {
	GITOPS_REF_BRANCH,
	GITOPS_REF_TAG,
	GITOPS_REF_COMMIT,
};

/* What to fetch: from a GitRepository's spec (strings borrowed from it). */
struct gitops_source {
	const char *url;               /* spec.url */
	enum gitops_ref_type ref_type; /* which of spec.ref's fields is set */
	const char *ref;               /* the branch, tag or commit */
	const char *path;              /* spec.path, or "" */
};

/* Reads spec.url, spec.ref and spec.path (a defaulted, validated object). */
int gitops_source_from_repo(const json_t *repo, struct gitops_source *ret, korch_error **err);

/* "main@sha1:SHA", "v1.0@sha1:SHA" or "sha1:SHA", as Flux names revisions; caller frees. */
char *gitops_revision_name(const struct gitops_source *s, const char *commit);

/* One manifest file of a commit and its documents. */
struct gitops_file {
	char *path;             /* path in the repository ("deploy/web.yaml") */
	char blob[41];          /* the blob's id (hex) */
	struct codec_docs docs; /* the decoded documents, with their lines */
};

/*
 * The manifests under one folder of one commit: every *.yaml, *.yml and *.json file below it
 * (dot-files and dot-folders skipped), sorted by path. Shared by reference between syncs
 * (gitops_manifests_ref), never changed once built.
 */
struct gitops_manifests {
	char tree[41];             /* the folder's tree id (hex): same id, same manifests */
	struct gitops_file *files; /* n files in path order */
	size_t n;                  /* how many */
	int refs;                  /* references (atomic) */
};

struct gitops_manifests *gitops_manifests_ref(struct gitops_manifests *m);
void gitops_manifests_unref(struct gitops_manifests *m);

/* The bare cache repository of one GitRepository. */
struct gitops_cache;

/*
 * Opens the bare repository at dir, creating it (and its parents) when missing. Takes a
 * reference on libgit2's global state, dropped by gitops_cache_free().
 */
int gitops_cache_open(const char *dir, struct gitops_cache **ret, korch_error **err);
void gitops_cache_free(struct gitops_cache *c);

/*
 * Where the cache of a GitRepository lives: DATA_DIR/gitops/NAMESPACE/NAME-URLHASH.git (the
 * hash of the URL, so that a changed URL starts a fresh cache). Caller frees.
 */
char *gitops_cache_dir(const char *data_dir, const char *ns, const char *name, const char *url);

/*
 * Fetches what the source's ref needs into the cache (only what is new: a commit already there
 * takes no transfer at all) and resolves the ref to a commit (hex, ret_commit[41]). Blocks on
 * the network: call it on a worker thread. cancel (may be NULL) is polled during transfers and
 * aborts them when it becomes true. On failure *ret_reason is FETCH_FAILED or REF_NOT_FOUND
 * and the error names the URL.
 */
int gitops_fetch(struct gitops_cache *c, const struct gitops_source *s,
		 const struct gitops_creds *creds, const bool *cancel, char ret_commit[static 41],
		 enum gitops_reason *ret_reason, korch_error **err);

/*
 * Reads the manifests under path in commit straight from the object database (no work tree).
 * Files whose blob prev (may be NULL) holds are not decoded again; when the folder's tree is
 * prev's, prev itself comes back (a new reference). On failure *ret_reason is PATH_NOT_FOUND
 * or MANIFEST_INVALID, the error naming the file and line.
 */
int gitops_read_manifests(struct gitops_cache *c, const char *commit, const char *path,
			  struct gitops_manifests *prev, struct gitops_manifests **ret,
			  enum gitops_reason *ret_reason, korch_error **err);

/* ---- desired objects (desired.c) ---- */

/* One object of the commit, ready to apply. */
struct gitops_object {
	const struct kind_info *kind; /* its kind */
	char *key;                    /* "GROUP/KIND/NAMESPACE/NAME" */
	char *ns;                     /* its namespace ("" for cluster-scoped kinds) */
	char *name;                   /* its name */
	json_t *obj;                  /* the configuration applied (labels, namespace set) */
	char *file;                   /* the file it came from */
	unsigned line;                /* the line its document starts at */
	char blob[41];                /* the file's blob */
	unsigned doc;                 /* which document of the file */
};

struct gitops_desired {
	struct gitops_object *objs; /* n objects, Namespaces first, then in file order */
	size_t n, cap;              /* used and allocated */
	struct hashmap index;       /* key -> position + 1 */
	char *origin;               /* "NAMESPACE/NAME/TARGET" of the repository built for */
};

/* The key of an object: "GROUP/KIND/NAMESPACE/NAME". Caller frees. */
char *gitops_key(const struct kind_info *k, const char *ns, const char *name);

/*
 * Builds the objects of the manifests for repository repo: each document must be an object of
 * a known kind with a name; namespaced objects go to spec.targetNamespace, else their own
 * namespace, else the repository's; each is labelled with the repository. KORCH_EINVALID
 * naming the file and line (a document that is not an object, an unknown kind, no name, the
 * same object twice); KORCH_ETOOLARGE past one transaction's size. The objects of prev (may be
 * NULL) built for the same repository from the same blob are shared rather than built again
 * (objects are never changed once built).
 */
int gitops_desired_build(const json_t *repo, const struct gitops_manifests *m,
			 const struct gitops_desired *prev, struct gitops_desired *ret,
			 korch_error **err);

/* Whether d was built for repo with spec.targetNamespace target (may be NULL). */
bool gitops_desired_origin_is(const struct gitops_desired *d, const json_t *repo,
			      const char *target);
void gitops_desired_clear(struct gitops_desired *d);
const struct gitops_object *gitops_desired_find(const struct gitops_desired *d, const char *key);

/* The inventory entries of d ({apiVersion, kind, namespace, name}), sorted by key. */
json_t *gitops_inventory(const struct gitops_desired *d);

/* ---- the transaction (apply.c) ---- */

/* What one apply did. */
struct gitops_apply_result {
	int64_t revision;  /* the transaction's revision; 0 when nothing was written */
	size_t created;    /* objects created */
	size_t configured; /* objects changed */
	size_t pruned;     /* objects deleted because they left git */
	size_t unchanged;  /* objects planned that needed no write */
	json_t *changed;   /* names of created and changed objects ("deployment.apps
	                          default/web"), a JSON array */
};

void gitops_apply_result_clear(struct gitops_apply_result *r);

/*
 * Applies d for repository repo in one transaction: a server-side apply (field manager
 * korch-gitops, forced: fields git sets are git's) of every object, or only of those whose key
 * is in only (when not NULL), and, with prune, a delete of every object of prev_inventory (a
 * JSON array of inventory entries, may be NULL) that d lacks and that still carries repo's
 * labels. Everything is committed, or nothing (a change made meanwhile is planned again, up to
 * three times). An object the API refuses fails the whole apply with KORCH_E* of the API and
 * its message after "FILE:LINE: ".
 */
int gitops_apply(struct client *c, const json_t *repo, const struct gitops_desired *d,
		 const struct hashmap *only, const json_t *prev_inventory, bool prune,
		 struct gitops_apply_result *ret, korch_error **err);

/*
 * What gitops_apply would change, without writing: a JSON array of {action ("create",
 * "configure", "prune"), apiVersion, kind, namespace, name, file, line, changes: [{path, old,
 * new}]}, and *ret_unchanged the number of objects a sync would leave as they are.
 */
int gitops_diff(struct client *c, const json_t *repo, const struct gitops_desired *d,
		const json_t *prev_inventory, json_t **ret, size_t *ret_unchanged,
		korch_error **err);

/* ---- health (health.c) ---- */

enum gitops_health {
	GITOPS_HEALTHY,     /* every workload is where its spec wants it */
	GITOPS_PROGRESSING, /* a workload is not there yet (a Deployment not yet available) */
	GITOPS_DEGRADED,    /* a workload failed (a failed Job) */
};

/*
 * The health of one live object (Deployment, StatefulSet, DaemonSet, Job, Pod; every other
 * kind is healthy), with a message for the others ("Deployment default/web: 0 of 2 replicas
 * available"; caller frees).
 */
enum gitops_health gitops_object_health(const json_t *live, char **ret_message);

/* Finds a live object (a new reference), or NULL when it does not exist. */
typedef json_t *(*gitops_lookup_fn)(const struct kind_info *k, const char *ns, const char *name,
				    void *userdata);

/*
 * The health of the workloads of inventory (a JSON array of inventory entries): the worst of
 * them, with a message naming up to three of the worst ("Deployment default/web: 0 of 2
 * replicas available; and 2 more"; NULL when healthy; caller frees).
 */
enum gitops_health gitops_health(const json_t *inventory, gitops_lookup_fn lookup, void *userdata,
				 char **ret_message);

/* ---- status and events (status.c) ---- */

/* The outcome of a sync, to be recorded in the status. */
struct gitops_outcome {
	const char *attempted_commit; /* the commit fetched, or NULL when the fetch failed */
	const char *revision;         /* its name ("main@sha1:SHA"), or NULL */
	bool applied;                 /* the commit's objects are in the store */
	enum gitops_reason reason;    /* why not (GITOPS_OK when applied) */
	const char *message;          /* the error, when not applied */
	const json_t *inventory;      /* when applied: the new inventory */
	enum gitops_health health;    /* when anything is applied: the workloads' health */
	const char *health_message;   /* its message (may be NULL when healthy) */
	const char *sync_request;     /* the sync request handled, or NULL */
};

/*
 * The repository's new status: the old one with the outcome recorded (conditions keep their
 * lastTransitionTime while their status stays). A new reference.
 */
json_t *gitops_status_build(const json_t *repo, const struct gitops_outcome *o,
			    int64_t now_wall_ns);

/*
 * Writes status to repo's status subresource unless it equals the current one (then nothing is
 * written and *ret_written, may be NULL, is false). *ret_repo (may be NULL) receives the
 * object as stored when it was written.
 */
int gitops_status_write(struct client *c, const json_t *repo, json_t *status, bool *ret_written,
			json_t **ret_repo, korch_error **err);

/* Records a core/v1 Event about repo ("Normal" or "Warning") at now_wall_ns. */
int gitops_event(struct client *c, const json_t *repo, const char *type, const char *reason,
		 const char *message, int64_t now_wall_ns, korch_error **err);

/* The Ready condition's message in repo's status, or NULL. */
const char *gitops_ready_message(const json_t *repo);

/* ---- one sync after its fetch (sync.c) ---- */

struct gitops_sync_input {
	struct client *client;              /* the write path */
	const json_t *repo;                 /* the GitRepository as the sync found it */
	const struct gitops_source *source; /* its spec's source */
	const char *commit;                 /* the commit fetched, or NULL */
	struct gitops_manifests *manifests; /* its manifests, or NULL */
	enum gitops_reason reason;          /* why there is no commit or manifests */
	const korch_error *error;           /* and the error, then */
	const struct gitops_manifests *applied_manifests; /* with applied: built from these */
	const struct gitops_desired *applied; /* what the caller applied last and knows is
	                                         still applied, or NULL: plan every object */
	const struct hashmap *touched;        /* with applied: keys others changed since */
	const json_t *applied_inventory;      /* with applied: its inventory; else the status's
	                                         inventory is used */
	gitops_lookup_fn lookup;              /* finds live workloads for their health */
	void *lookup_userdata;                /* passed to lookup */
	const char *sync_request;             /* the sync request being handled, or NULL */
	int64_t now_wall_ns;                  /* the time stamps of status and Events */
};

struct gitops_sync_output {
	bool applied;                      /* the commit's objects are in the store */
	bool reused;                       /* the manifests were in->applied_manifests: desired
	                                      is empty, in->applied stands for it */
	struct gitops_desired desired;     /* when applied: the objects of the commit */
	json_t *inventory;                 /* when applied: their inventory */
	int64_t plan_revision;             /* the store's revision before the plan */
	struct gitops_apply_result result; /* when applied: what the transaction did */
	enum gitops_reason reason;         /* GITOPS_OK, or why the sync failed */
	korch_error *error;                /* when it failed */
	bool status_written;               /* the status changed */
	json_t *repo_after;                /* when written: the GitRepository as stored */
};

void gitops_sync_output_clear(struct gitops_sync_output *o);

/*
 * Finishes a sync once the fetch is done (or failed): builds the desired objects, applies them
 * in one transaction (only those that changed since in->applied, and those touched, when the
 * caller knows what it applied), prunes, looks at the workloads' health, writes the status when
 * it changed and records Events for what happened. A failed sync is not an error of this call:
 * out->reason and out->error say why; the return value is for failures to record the outcome
 * (the status write itself).
 */
int gitops_sync_finish(const struct gitops_sync_input *in, struct gitops_sync_output *out,
		       korch_error **err);

/*
 * The second half of gitops_sync_finish(), for an outcome the caller made itself (the
 * controller's drift correction, which applies what it applied before to the objects others
 * changed): the health of what is applied, the status, and the Events (drift: a write is
 * DriftCorrected rather than Synced). out->applied, out->inventory, out->result, out->reason
 * and out->error describe the outcome; in->commit and in->source name the revision.
 */
int gitops_sync_record(const struct gitops_sync_input *in, struct gitops_sync_output *out,
		       bool drift, korch_error **err);

/* Reads the credentials of spec.secretRef (none: *ret zeroed). */
int gitops_repo_creds(struct client *c, const json_t *repo, struct gitops_creds *ret,
		      korch_error **err);

#endif
