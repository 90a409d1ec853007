/*
 * store.h - the state store: Kubernetes objects in one SQLite file with etcd's semantics
 * (revisions, compare-and-swap, watch from a revision, TTL leases, transactions, compaction).
 *
 * The store keeps objects as jansson trees in memory and compact JSON text on disk, under a key
 * (group, resource, namespace, name). It neither validates nor defaults: lib/client does that
 * before it calls the store. The only field the store writes is metadata.resourceVersion.
 *
 * ---- File ----------------------------------------------------------------------------------
 * One SQLite database (with SQLite's PATH-wal and PATH-shm, and korch's PATH-notify beside it),
 * WAL journal, synchronous=FULL by default (a write that returned 0 survives a crash or power
 * loss; NORMAL may lose the last commits on power loss), auto_vacuum=INCREMENTAL,
 * application_id 0x6b6f7263 ("korc") so that a file that is not a korch store is refused, and the
 * schema version in user_version. Several processes may open the same file: SQLite's locks order
 * their writes, and every write runs in BEGIN IMMEDIATE (it takes the write lock first, so the
 * revision it reads is the latest and no other writer can interleave).
 *
 * ---- Tables (schema version 4) -------------------------------------------------------------
 *   meta(key, value)       'revision': a floor under the latest revision, written by
 *                          compaction and restore (ordinary writes leave it alone: one page
 *                          less per commit; the latest revision is the larger of it and the
 *                          last history row's);
 *                          'compacted': no list or watch may start below it;
 *                          'compact_pos': the last history row compaction has processed;
 *                          'label_pos': the last history row the label index reflects.
 *   resources(id, grp, res) (group, resource) interned: the other tables carry the small id.
 *   history(id, type, res, ns, name, prev, time_ns, labels, value)
 *                          one row per change. id = revision << 20 | index in the transaction,
 *                          so id order is revision order. type 1 create, 2 update, 3 delete;
 *                          value is the object as stored (NULL for a delete) and labels its
 *                          metadata.labels as compact JSON (NULL when it has none); prev is the
 *                          id of the key's previous version (NULL for a create); time_ns is the
 *                          wall time of the commit (for time-based compaction). Indexed by
 *                          res too (history_res, with the id every index ends with): a watch
 *                          or a list of one resource reads only its rows.
 *   objects(res, ns, name, create_rev, mod_rev, hid, lease)
 *                          the live objects: the history row of the current version (hid),
 *                          etcd's create and modification revisions, the lease the key is
 *                          attached to.
 *   labels(res, key, value, ns, name)
 *                          the label index: one row per string label, ordered so that an
 *                          equality requirement is an index range in key order. It reflects
 *                          the history up to 'label_pos' (see Lists).
 *   leases(id, ttl_s, expiry_ns)
 *                          TTL leases; expiry_ns is wall time on the store's clock.
 * An object's value is stored once (in history); a get joins objects to history by hid. So a
 * create writes three B-tree rows (history, its history_res entry of a few bytes, objects), a
 * plain SQLite table with a text key two (its rows and its key index).
 * Schema history: version 1 had no label index; version 2 kept (group, resource) as text in
 * every row, the labels in objects, and the label index in step with every write; version 3
 * had no history_res. Opening an older file migrates it in one transaction; a file with a
 * newer version is refused (KORCH_EPROTO).
 *
 * ---- Revisions ------------------------------------------------------------------------------
 * Every write transaction takes the next revision (the latest + 1) inside the transaction;
 * every object it writes gets metadata.resourceVersion = that revision in decimal, as etcd gives
 * a transaction one revision. So the objects written by one transaction share a resourceVersion
 * (a key appears at most once per transaction), and watchers receive a transaction's events in
 * one callback. A transaction that only checks preconditions takes no revision. create_rev is
 * the revision that created the key (reset when a deleted key is created again); mod_rev the
 * revision of its last write (what resourceVersion shows). Lease grants and keep-alives take no
 * revision; a lease's expiry or revocation deletes its keys at a new revision.
 *
 * ---- Watch ----------------------------------------------------------------------------------
 * A watch reads the history table from its own position, so it never drops anything: a slow
 * watcher only falls behind, and if compaction passes its position it gets KORCH_EGONE through its
 * callback, explicitly. Changes are noticed by: this handle's own commits (a deferred call on the
 * loop); other handles and processes (every korch writer reads one byte of PATH-notify, a
 * one-byte file beside the database, after each commit, and each handle with a loop has an
 * inotify watch on it for IN_ACCESS: a read dirties no inode on disk, where touching the
 * database file's mtime cost a durable commit up to a quarter of its time on a fast disk;
 * writers that cannot open PATH-notify touch the mtime instead, which handles also watch for,
 * IN_ATTRIB); and writers that are not korch (a periodic fallback that compares PRAGMA
 * data_version, every poll_interval_ms). The WAL file itself is not watched: its last
 * modification comes before the commit becomes visible, so a reader woken by it can miss the
 * commit. Delivery happens on the loop given at open, one transaction per callback, in
 * revision order, a bounded batch per watch per dispatch. A batch with more than 64 objects to
 * parse (a bulk create) is parsed on the handle's parse worker, one thread started on first
 * use (not under a test clock); the handle delivers nothing else meanwhile, and the loop runs
 * its other work.
 *
 * ---- Lists ----------------------------------------------------------------------------------
 * A list reads one snapshot (one read transaction). A continue token carries the revision R of
 * the first page and the last key examined; later pages rebuild the state at R: the live objects
 * not modified since R, plus, for the keys changed after R, the version that preceded their first
 * change after R. Equality label requirements are answered from the labels table; the caller's
 * filter function decides the rest. Compaction keeps every version a list at R >= 'compacted'
 * needs (as etcd's does: the latest version at or below the compaction point of every key).
 * The label index is not written by each write transaction (one index page per label would
 * more than double the pages of a durable create): it follows the history up to 'label_pos',
 * and the write transaction that leaves it more than label_lag_rows history rows behind brings
 * it up to date for every key changed since, in one go. A label list takes from the index the
 * live objects whose current version is at or before 'label_pos' (and R), and reads the keys
 * written after that from the history itself, a few hundred rows at most.
 *
 * ---- Compaction -----------------------------------------------------------------------------
 * Compacting to revision C removes the versions superseded at or before C and the delete rows at
 * or before C, walking the history in id order from 'compact_pos' a bounded number of rows per
 * write transaction, so writers never wait long. Each step first brings the label index up to
 * date (which reads the versions keys had at 'label_pos'). Automatic compaction (with a loop)
 * keeps the last keep_revisions revisions and everything newer than keep_ns; freed pages go back
 * to the file system with PRAGMA incremental_vacuum, a bounded number per step.
 *
 * ---- Errors and durability ------------------------------------------------------------------
 * Any SQLite I/O error during a write (a failed write or fsync of the WAL) makes the handle
 * refuse every later write with KORCH_ESYSTEM until it is reopened: fsync is never retried
 * (after a failed fsync the kernel may have dropped the dirty pages). A write that failed that
 * way was not acknowledged; like a timed-out etcd request it may or may not be present after a
 * crash. Disk full (SQLITE_FULL) fails the write without poisoning the handle.
 *
 * ---- Threads and blocking -------------------------------------------------------------------
 * A handle belongs to one thread (the one dispatching its loop, if it has one); open one handle
 * per thread. Writes block for one fsync (synchronous=FULL); callers that must not block their
 * loop run them on the worker pool with their own handle. The parse worker (Watches) touches
 * nothing but the batch handed to it.
 */
#ifndef KORCH_STORE_STORE_H
#define KORCH_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include <korch/loop.h>
#include "base/macro.h"
#include "base/strbuf.h"

/* The current schema version (PRAGMA user_version) and application_id of a store file. */
#define STORE_SCHEMA_VERSION 4
#define STORE_APPLICATION_ID 0x6b6f7263

/* At most this many operations in one transaction (and deletions per lease revision). */
#define STORE_TXN_MAX_OPS 10000

struct store;
struct store_watch;

/* Where an object lives. Strings are borrowed. */
struct store_key {
	const char *group;    /* API group, "" for the core group */
	const char *resource; /* plural resource name, "deployments" */
	const char *ns;       /* namespace, "" for cluster-scoped objects */
	const char *name;     /* object name */
};

struct store_options {
	bool sync_normal;    /* synchronous=NORMAL: power loss may lose the last commits */
	int busy_timeout_ms; /* wait for another writer's lock; 0: 30,000 */
	korch_loop *loop;    /* borrowed: runs watches, lease expiry, compaction; or NULL */
	korch_clock *clock;  /* borrowed: lease and compaction time; NULL: the loop's */
	int64_t compact_keep_revisions; /* automatic compaction keeps this many; 0: 10,000; <0: off */
	int64_t compact_keep_ns; /* and everything newer than this; 0: 5 minutes; <0: no floor */
	int64_t compact_interval_ms; /* how often it looks for work; 0: 5,000 */
	int poll_interval_ms;        /* fallback check for foreign writers; 0: 1,000; <0: never */
	int label_lag_rows; /* history rows the label index may lag behind (see Lists); 0: 256;
	                       <0: none, every write transaction brings it up to date */
	const char *vfs;    /* SQLite VFS name (fault injection in tests), or NULL */
};

/*
 * Opens (creating it when missing) the store at path. Creates or migrates the schema in one
 * transaction. KORCH_EINVALID when the file is an SQLite database that is not a korch store,
 * KORCH_EPROTO when its schema is newer than this korch, KORCH_ESYSTEM for I/O and corruption,
 * KORCH_EBUSY when another process holds the write lock past the busy timeout. opts may be NULL.
 */
int store_open(const char *path, const struct store_options *opts, struct store **ret_store,
	       korch_error **err);

/*
 * Closes the store. Watches still attached are freed with it (do not free them afterwards);
 * not callable from inside one of its watch callbacks. Takes NULL.
 */
void store_close(struct store *s);

/* The absolute path of the database file; borrowed. */
const char *store_path(const struct store *s);

/* The loop given at open (watches and background work run on it), or NULL; borrowed. */
korch_loop *store_loop(const struct store *s);

/* The latest revision and the compacted revision (either output may be NULL). */
int store_revision(struct store *s, int64_t *ret_revision, int64_t *ret_compacted,
		   korch_error **err);

/* What the store keeps about an object besides its content. */
struct store_object_meta {
	int64_t create_revision; /* the revision that created the key */
	int64_t mod_revision;    /* the revision of its last write (its resourceVersion) */
	int64_t lease;           /* the lease it is attached to, or 0 */
};

/*
 * Reads one object: *ret_obj (a new reference) carries metadata.resourceVersion; ret_meta may be
 * NULL. KORCH_ENOTFOUND: `deployments.apps "web" not found`.
 */
int store_get(struct store *s, const struct store_key *key, json_t **ret_obj,
	      struct store_object_meta *ret_meta, korch_error **err);

/*
 * The same, as the stored compact JSON text (NUL-terminated, *ret_len bytes, the caller's),
 * without parsing it: for callers that pass the object on as text (the API server's GET).
 */
int store_get_text(struct store *s, const struct store_key *key, char **ret_text, size_t *ret_len,
		   struct store_object_meta *ret_meta, korch_error **err);

/* ---- writes ---- */

enum store_op_type {
	STORE_OP_CREATE, /* fails with KORCH_EEXISTS if the key exists */
	STORE_OP_UPDATE, /* fails with KORCH_ENOTFOUND if missing, KORCH_ECONFLICT on a stale rv */
	STORE_OP_DELETE, /* same failures as update */
	STORE_OP_CHECK,  /* writes nothing: the key must exist (at expected_revision, if given) */
};

/* Keeps the key's lease on update (lease = 0), or detaches it (STORE_LEASE_DETACH). */
#define STORE_LEASE_DETACH (-1)

/* One operation of a transaction. */
struct store_op {
	enum store_op_type type; /* what to do */
	struct store_key key;    /* which object; at most once per transaction */
	json_t *obj;             /* create, update: the object (a JSON object); see store_commit */
	int64_t expected_revision; /* update, delete, check: required mod revision; 0: any */
	int64_t lease;             /* create: attach to this lease (0: none); update: 0 keeps the
	                              current one, > 0 attaches, STORE_LEASE_DETACH detaches */
	bool want_prev;            /* update, delete: fill ret_prev */
	json_t *ret_prev;          /* out: the object before the write (caller's reference) */
};

/*
 * Runs ops as one transaction: all of them or none. Every written object gets the transaction's
 * revision; on success the objects of create and update ops have metadata.resourceVersion set to
 * it (the caller's trees are changed in place, and restored if the transaction fails), and
 * *ret_revision (may be NULL) receives it (the current revision when only checks ran).
 * Errors: the failing operation's (KORCH_EEXISTS, KORCH_ENOTFOUND, KORCH_ECONFLICT, with
 * "transaction operation I of N: " in front when n_ops > 1); KORCH_EINVALID for a bad key, a
 * non-object, a key twice; KORCH_ETOOLARGE past STORE_TXN_MAX_OPS; KORCH_ENOTFOUND for a missing
 * or expired lease; KORCH_ESYSTEM for I/O errors (the handle then refuses writes until reopened).
 */
int store_commit(struct store *s, struct store_op *ops, size_t n_ops, int64_t *ret_revision,
		 korch_error **err);

/* One-operation shorthands of store_commit(). */
int store_create(struct store *s, const struct store_key *key, json_t *obj, int64_t lease,
		 int64_t *ret_revision, korch_error **err);
int store_update(struct store *s, const struct store_key *key, json_t *obj,
		 int64_t expected_revision, int64_t *ret_revision, korch_error **err);
/* ret_prev (may be NULL) receives the deleted object. */
int store_delete(struct store *s, const struct store_key *key, int64_t expected_revision,
		 json_t **ret_prev, int64_t *ret_revision, korch_error **err);

/*
 * Hands the objects of from's successful commits (creates and updates of one resource) to
 * handle to, another handle of the same file in this process, whose watches then deliver them
 * as committed instead of parsing their stored texts again (what parsing them would give: the
 * stored text is their encoding). For a worker thread that commits on its own handle what a
 * loop's handle watches (a scheduler's bindings). from may be used on another thread than to;
 * to needs a loop and must stay open until from is closed or shares no more (to NULL); group
 * and resource are borrowed. After a successful commit on from, the objects it wrote of that
 * resource are to's too: the caller may drop its references but must not change them. Objects
 * no watch of to would deliver are dropped; so are those to's watches have already passed.
 */
void store_share_commits(struct store *from, struct store *to, const char *group,
			 const char *resource);

/* ---- lists ---- */

/* One equality requirement on a label. */
struct store_label {
	const char *key;   /* label key */
	const char *value; /* required value */
};

/* Decides the requirements the label index cannot (set-based selectors, field selectors). */
typedef bool (*store_filter_fn)(const json_t *obj, void *userdata);

/*
 * Decides on an object's metadata.labels alone (NULL when it has none), as stored beside it:
 * for selectors that need nothing else, without parsing the object.
 */
typedef bool (*store_label_filter_fn)(const json_t *labels, void *userdata);

struct store_list_options {
	const char *group;                  /* required ("" for core) */
	const char *resource;               /* required */
	const char *ns;                     /* one namespace, or NULL for all */
	const struct store_label *labels;   /* equality requirements, all must hold */
	size_t n_labels;                    /* entries in labels */
	store_label_filter_fn label_filter; /* or NULL; runs before filter, on the labels only */
	store_filter_fn filter;             /* or NULL */
	void *filter_userdata;              /* passed to label_filter and filter */
	size_t limit;                       /* at most this many items; 0: no limit */
	const char *continue_token;         /* from the previous page, or NULL */
	int64_t revision;                   /* 0: latest; else the state at exactly this revision */
	bool text_items;                    /* items are the stored JSON texts (JSON strings), not
	                                     parsed: for callers that pass them on as text (the
	                                     filter still sees parsed objects) */
	struct strbuf *text_out;            /* or NULL; else the matching objects' stored texts are
	                                     appended here, comma-separated (the inside of a JSON
	                                     array), instead of going into items; nothing is parsed
	                                     unless filter must look */
};

struct store_list {
	json_t *items;        /* the matching objects in key order (namespace, name), or their
	                         compact JSON texts with text_items; empty with text_out */
	size_t n_items;       /* how many matched (in items or text_out) */
	int64_t revision;     /* the revision the list is consistent at */
	char *continue_token; /* NULL on the last page */
};

/*
 * Lists objects of one resource. Every page of a paginated list shows the state at the first
 * page's revision. Errors: KORCH_EGONE when that revision (or opts->revision) was compacted
 * (Kubernetes' "The provided continue parameter is too old ..." message for tokens),
 * KORCH_ETIMEOUT for a revision in the future, KORCH_EINVALID for a bad token or for a token
 * together with a revision. *ret is filled only on success; clear it with store_list_clear().
 */
int store_list(struct store *s, const struct store_list_options *opts, struct store_list *ret,
	       korch_error **err);
void store_list_clear(struct store_list *l);

/* ---- watch ---- */

enum store_event_type {
	STORE_EVENT_ADDED,
	STORE_EVENT_MODIFIED,
	STORE_EVENT_DELETED,
};

struct store_event {
	enum store_event_type type; /* what happened */
	int64_t revision;           /* the transaction's revision */
	struct store_key key;       /* borrowed, valid during the callback */
	json_t *object;             /* borrowed: the new object; for DELETED the last state with
	                               metadata.resourceVersion set to the deletion's revision */
	json_t *prev_object;        /* borrowed: the object before the change (NULL for ADDED, and
	                               for MODIFIED with the watch's no_prev) */
};

/*
 * Receives one transaction's matching events (n_events >= 1), or, with error set (events NULL),
 * the end of the watch: KORCH_EGONE when compaction passed its position, KORCH_ESYSTEM when the
 * history could not be read. Free the watch (even from inside the callback) to stop it. The
 * objects are shared (by reference) with the handle's other watches and its cache of parsed
 * versions: take a reference to keep one, a copy (json_deep_copy) to change one.
 */
typedef void (*store_watch_fn)(struct store_watch *w, const struct store_event *events,
			       size_t n_events, const korch_error *error, void *userdata);

/* Starts a watch from "now" (the latest revision when the watch starts). */
#define STORE_REVISION_NOW (-1)

struct store_watch_options {
	const char *group;     /* with resource: only that resource; NULL: everything */
	const char *resource;  /* plural resource name, or NULL */
	const char *ns;        /* one namespace, or NULL */
	const char *name;      /* one name, or NULL */
	int64_t from_revision; /* deliver the changes after this revision, or STORE_REVISION_NOW */
	bool no_prev; /* MODIFIED events may come without prev_object (not read from the history
	                 then); DELETED ones always carry it */
};

/*
 * Starts a watch delivering, on the store's loop, every matching change after from_revision
 * exactly once, in revision order. KORCH_EGONE (`too old resource version: R (C)`) when
 * from_revision is below the compacted revision, KORCH_ETIMEOUT when it is in the future,
 * KORCH_EINVALID when the store has no loop.
 */
int store_watch_new(struct store *s, const struct store_watch_options *opts, store_watch_fn fn,
		    void *userdata, struct store_watch **ret_watch, korch_error **err);

/* The revision the watch has delivered (or skipped) up to: resume from here. */
int64_t store_watch_revision(const struct store_watch *w);

/* Stops and frees a watch; safe inside its callback. Takes NULL. */
void store_watch_free(struct store_watch *w);

/*
 * Looks for changes now (what the loop does when notified) and queues delivery. Useful without
 * inotify or when the caller knows another process wrote.
 */
int store_poll(struct store *s, korch_error **err);

/* ---- leases ---- */

/* Grants a lease of ttl_s seconds (1 .. 10 years) on the store's clock. */
int store_lease_grant(struct store *s, int64_t ttl_s, int64_t *ret_lease, korch_error **err);

/* Restarts the lease's TTL. KORCH_ENOTFOUND (`lease N not found`) when revoked or expired. */
int store_lease_keepalive(struct store *s, int64_t lease, korch_error **err);

/*
 * Revokes a lease, deleting its keys at a new revision (ordinary DELETE events);
 * *ret_revision (may be NULL) is that revision, or the current one when it had no keys.
 */
int store_lease_revoke(struct store *s, int64_t lease, int64_t *ret_revision, korch_error **err);

/*
 * Revokes every lease whose time has passed on the store's clock (the loop does this on its own
 * at each expiry). *ret_expired (may be NULL) counts them.
 */
int store_lease_expire(struct store *s, size_t *ret_expired, korch_error **err);

/* ---- maintenance ---- */

/*
 * One bounded compaction step: processes at most max_rows history rows (0: 1,000) towards
 * revision (0: what the options' budget allows; capped at the latest revision) and frees a
 * bounded number of pages. *ret_more (may be NULL) tells whether work remains.
 */
int store_compact(struct store *s, int64_t revision, size_t max_rows, bool *ret_more,
		  korch_error **err);

/*
 * Writes a consistent copy of the store to dest_path (atomically: a temporary file renamed over
 * it) while writers go on. The copy is a standalone file (rollback journal mode).
 */
int store_backup(struct store *s, const char *dest_path, korch_error **err);

/*
 * Replaces the content of the store at path (created when missing; other processes may have it
 * open) with the backup at backup_path. Refuses a file that is not a korch store
 * (KORCH_EINVALID), a newer schema (KORCH_EPROTO) or one that fails its integrity check. So that
 * revisions never go backwards, the restored store's revision becomes one past the larger of the
 * backup's and the replaced store's, and is marked compacted: watchers get KORCH_EGONE and
 * relist. *ret_revision (may be NULL) receives that revision.
 */
int store_restore(const char *path, const char *backup_path, int64_t *ret_revision,
		  korch_error **err);

/*
 * Checks the file: PRAGMA integrity_check, then the store's own invariants (every live object's
 * current version exists, no revision beyond meta 'revision'). KORCH_ESYSTEM naming the first
 * problems otherwise.
 */
int store_check(struct store *s, korch_error **err);

DEFINE_CLEANUP_FUNC(store_close, struct store, store_close)
DEFINE_CLEANUP_FUNC(store_watch_free, struct store_watch, store_watch_free)

#endif
