/*
 * store-internal.h - what the store's source files share: the handle, the prepared-statement
 * cache, SQLite error conversion and transaction helpers.
 */
#ifndef KORCH_STORE_INTERNAL_H
#define KORCH_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include "base/hashmap.h"
#include "base/loop.h"
#include "base/pool.h"
#include "base/strbuf.h"
#include "base/vec.h"
#include "store/store.h"

/* history.type */
enum hist_type {
	HIST_CREATE = 1,
	HIST_UPDATE = 2,
	HIST_DELETE = 3,
};

/* A history id from a revision and an index inside its transaction. */
#define HIST_SEQ_BITS 20
#define HIST_ID(rev, seq) (((int64_t)(rev) << HIST_SEQ_BITS) | (int64_t)(seq))
#define HIST_REV(id) ((int64_t)(id) >> HIST_SEQ_BITS)
/* The first id after every row of revision rev. */
#define HIST_ID_AFTER(rev) HIST_ID((rev) + 1, 0)

/* The label index may lag the history by this many rows unless the options say otherwise. */
#define LABEL_LAG_DEFAULT 256

/* Statements prepared once per handle (SQL text in store.c). */
enum stmt_id {
	STMT_BEGIN,
	STMT_BEGIN_IMMEDIATE,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_REVISION,
	STMT_TXN_STATE,
	STMT_META_GET,
	STMT_META_SET,
	STMT_RES_GET,
	STMT_RES_INSERT,
	STMT_OBJ_GET,
	STMT_OBJ_INSERT,
	STMT_OBJ_UPDATE,
	STMT_OBJ_DELETE,
	STMT_HIST_INSERT,
	STMT_HIST_VALUE,
	STMT_LABEL_INSERT,
	STMT_LABEL_DELETE,
	STMT_LABEL_TAIL_COUNT,
	STMT_LABEL_TAIL_CHANGES,
	STMT_LABEL_TAIL_NEW,
	STMT_LABEL_POS_SET,
	STMT_GET,
	STMT_LEASE_GET,
	STMT_LEASE_INSERT,
	STMT_LEASE_SET_EXPIRY,
	STMT_LEASE_DELETE,
	STMT_LEASE_KEYS,
	STMT_LEASE_EXPIRED,
	STMT_LEASE_NEXT_EXPIRY,
	STMT_LIST_RES,
	STMT_LIST_ALL,
	STMT_LIST_NS,
	STMT_LIST_CHANGED,
	STMT_LIST_TAIL,
	STMT_WATCH_ROWS,
	STMT_WATCH_ROWS_RES,
	STMT_COMPACT_ROWS,
	STMT_HIST_DELETE,
	STMT_MAX,
};

/* A resource's id (interned resources keep history and index rows short). */
struct res_cache {
	char *group;    /* API group */
	char *resource; /* plural resource name */
	int64_t id;     /* its row in resources */
};

/* The latest parsed version of one key (see "parsed versions" below). */
struct parsed_version {
	int64_t id;     /* the history row that wrote it */
	json_t *obj;    /* a reference of the cache's, never changed once here; NULL: deleted */
	int64_t old_id; /* the version it replaced during this dispatch (0: none) */
	json_t *old;    /* that version, for the dispatch's other watches, or NULL */
	bool touched;   /* listed in parsed_touched */
	bool pending;   /* handed over by another handle (offers), not delivered yet: old stays
	                   for it, as its previous version, until a watch delivers it */
};

/* An object another handle committed, handed over by store_share_commits(). */
struct store_offer {
	char *mkey;  /* its key in the parsed versions: "grp\nres\nns\nname" */
	int64_t id;  /* the history row that wrote it */
	json_t *obj; /* a reference: the committed tree, never changed again */
};

/* Label-index list statements are built per (namespace given, number of requirements). */
#define LABEL_STMT_CACHE 4

struct store {
	sqlite3 *db;                   /* the connection */
	char *path;                    /* absolute path of the database file */
	struct store_options opts;     /* with defaults filled in; pointers borrowed */
	korch_clock *clock;            /* lease and compaction time (borrowed or own_clock) */
	korch_clock *own_clock;        /* a real clock when neither clock nor loop was given */
	sqlite3_stmt *stmts[STMT_MAX]; /* prepared on first use */
	sqlite3_stmt *label_stmts[2][LABEL_STMT_CACHE]; /* [ns given][requirements - 1] */
	char *write_error;        /* set after an I/O error: writes are refused */
	bool in_txn;              /* inside BEGIN ... COMMIT of this handle */
	struct res_cache res[8];  /* resource ids resolved, while 'compacted' is res_compacted */
	size_t n_res;             /* entries of res in use */
	size_t res_next;          /* the entry a new resource takes (round robin) */
	int64_t res_compacted;    /* 'compacted' when res was filled (-1: unknown) */
	struct strbuf value_buf;  /* the object being written, as stored (reused) */
	struct strbuf labels_buf; /* its metadata.labels, as stored (reused) */
	/* History rows past the label index's position, as this handle last counted them: */
	int64_t label_tail_rows; /* that many */
	int64_t label_tail_pos;  /* past this 'label_pos' */
	int64_t label_tail_rev;  /* at this revision (-1: unknown, count again) */
	int64_t busy_waited_us;  /* waited for the current lock so far */
	unsigned busy_seed;      /* jitter of the busy handler's sleeps */
	/* watches and background work, only with a loop */
	struct ptrvec watches;             /* struct store_watch *, in creation order */
	int notify_fd;                     /* PATH-notify, read after each commit, or -1 */
	int inotify_fd;                    /* IN_ACCESS on PATH-notify, IN_ATTRIB on PATH, or -1 */
	struct loop_source *inotify_src;   /* loop source for inotify_fd */
	struct loop_source *defer_src;     /* runs store_dispatch() at the end of a dispatch */
	struct loop_source *poll_timer;    /* fallback check for foreign writers */
	struct loop_source *lease_timer;   /* the next lease expiry */
	struct loop_source *compact_timer; /* automatic compaction */
	int64_t known_revision;            /* latest revision seen by this handle */
	int64_t data_version;              /* PRAGMA data_version at the last check */
	int delivering;                    /* nesting depth of store_dispatch() */
	bool watches_dirty;                /* a watch was freed while delivering */
	struct hashmap parsed;             /* "grp\nres\nns\nname" -> struct parsed_version * */
	struct ptrvec parsed_touched;      /* keys (char *) put during this dispatch */
	int64_t parsed_compacted;          /* 'compacted' the entries belong to (-1: unknown) */
	struct watch_row *rows_buf;        /* a spare array of rows for the next watch read */
	size_t rows_cap;                   /* its capacity */
	struct store_event *events_buf;    /* a spare array of events for the next delivery */
	size_t events_cap;                 /* its capacity */
	/* parsing large reads off the loop's thread (store-watch.c) */
	struct pool *parse_pool;     /* one worker, started on the first such read, or NULL */
	struct parse_job *parse_job; /* the read being parsed; nothing is dispatched meanwhile */
	struct strbuf parse_texts;   /* the stored texts of a read's rows left to parse (reused) */
	size_t parse_inline;         /* rows the current read may still parse on the loop */
	bool parse_async;            /* a loop on the real clock: large reads go to the worker */
	size_t dispatch_next;        /* the watch a dispatch starts with (modulo their number) */
	/* commits shared between handles (store_share_commits) */
	struct store *share_to;  /* this handle's commits go to that one's offers, or NULL */
	const char *share_group; /* those of this resource only (borrowed) */
	const char *share_resource;
	pthread_mutex_t
		offers_lock;        /* guards offers: the sharing handle may be on another thread */
	struct store_offer *offers; /* handed over, not looked at yet */
	size_t n_offers, cap_offers; /* entries used and allocated */
};

/* The handle's statement id, prepared on first use; NULL after setting *err. */
sqlite3_stmt *store_stmt(struct store *s, enum stmt_id id, korch_error **err);

/* Converts an SQLite result into a korch error "WHAT: message"; poisons writes on I/O errors. */
int store_sqlite_error(struct store *s, int rc, korch_error **err, const char *fmt, ...)
	_printf_(4, 5);

/* Steps a statement expected to finish (no row): 0 or an error. Resets it either way. */
int store_exec_stmt(struct store *s, sqlite3_stmt *st, korch_error **err, const char *what);

/* BEGIN IMMEDIATE, failing at once when the handle refuses writes. */
int store_begin_write(struct store *s, korch_error **err);
/* BEGIN (a read snapshot from the first read). */
int store_begin_read(struct store *s, korch_error **err);
/* COMMIT; on failure the transaction is rolled back. */
int store_commit_txn(struct store *s, korch_error **err);
/* ROLLBACK, ignoring errors (nothing to report after the real failure). */
void store_rollback(struct store *s);

/*
 * The latest revision: the larger of meta 'revision' (a floor written by compaction and restore)
 * and the revision of the last history row. Ordinary writes only add history rows, which saves
 * a page per commit.
 */
int store_current_revision(struct store *s, int64_t *ret, korch_error **err);

/* What a transaction reads first, in one statement. */
struct txn_state {
	int64_t revision;  /* the latest revision */
	int64_t compacted; /* meta 'compacted' */
	int64_t label_pos; /* meta 'label_pos' */
};

/*
 * Reads the transaction's state. A change of 'compacted' (compaction, or a restore that
 * replaced the whole file) drops the handle's resource ids.
 */
int store_txn_state(struct store *s, struct txn_state *ret, korch_error **err);

/* Reads an integer from meta (0 when missing). */
int store_meta_get(struct store *s, const char *key, int64_t *ret, korch_error **err);
int store_meta_set(struct store *s, const char *key, int64_t value, korch_error **err);

/* Tells other handles and processes that a write was committed, and wakes our own watches. */
void store_notify_written(struct store *s);

/* "PATH-notify", the file watchers watch for reads (caller frees; NULL: out of memory). */
char *store_notify_path(const char *path);

/* "deployments.apps" or "pods"; buf holds 256 bytes. */
const char *store_qualified_resource(const char *group, const char *resource, char buf[static 256]);

/*
 * The id of (group, resource) in resources, inside the caller's transaction (which read
 * store_txn_state() first); with create (write transactions only), a missing one is added,
 * else *ret is 0.
 */
int store_res_id(struct store *s, const char *group, const char *resource, bool create,
		 int64_t *ret, korch_error **err);

/* Forgets the resource ids (a rolled back transaction may have added some). */
void store_res_forget(struct store *s);

/*
 * Brings the label index up to the last history row when it lags by more than the options
 * allow (force: whatever the lag). Inside the caller's write transaction, which started at
 * revision cur with the index at label_pos (-1: read it) and wrote `added` history rows at
 * revision cur + 1 (added < 0: not known).
 */
int store_labels_catch_up(struct store *s, bool force, int64_t cur, int64_t label_pos,
			  int64_t added, korch_error **err);

/* Checks that a key is usable: resource and name non-empty, no field NULL. */
int store_key_check(const struct store_key *key, korch_error **err);

/* Parses stored JSON text. */
int store_parse_value(const char *text, int len, json_t **ret, korch_error **err);

/* Sets metadata.resourceVersion (creating metadata when absent). */
int store_set_rv(json_t *obj, int64_t revision);

/* Deletes the keys of one lease (at most STORE_TXN_MAX_OPS) inside the caller's write txn. */
int store_write_lease_keys_delete(struct store *s, int64_t lease, int64_t revision,
				  size_t *ret_deleted, bool *ret_more, korch_error **err);

/*
 * The handle's parsed versions: for each key, the latest version a watch of this handle parsed
 * (or took from the cache), shared by reference among the handle's watches and kept for the
 * next change of the key, whose previous version it is. Only watches that read previous
 * versions (no no_prev) add to it, so it holds what their consumers hold anyway. During one
 * dispatch a replaced version (or a deleted key's last one) stays too, for the watches that
 * come later in the same dispatch; store_parsed_settle() forgets them after it (a dispatch
 * that hands a read to the parse worker ends when the worker is done, before the watches
 * after it read: those parse a replaced version again if they need it). History ids
 * never change meaning while 'compacted' stays the same (a restore moves it), so the cache is
 * dropped when it moves. Versions are immutable: watch callbacks receive them borrowed and must
 * not change them.
 */

/* The version of key mkey written by history row id, borrowed, or NULL. */
json_t *store_parsed_find(struct store *s, const char *mkey, int64_t id);
/* Records obj (taking a reference of its own; NULL: a delete) as mkey's version of row id. */
void store_parsed_put(struct store *s, const char *mkey, int64_t id, json_t *obj);
/* After a dispatch: forgets replaced versions and deleted keys. */
void store_parsed_settle(struct store *s);
/* Drops the cache when 'compacted' is no longer the one its entries belong to. */
void store_parsed_check(struct store *s, int64_t compacted);
void store_parsed_clear(struct store *s);

/*
 * After a successful commit of ops at revision rev on s: hands the objects of its creates and
 * updates to s->share_to (from any thread).
 */
void store_offer_commits(struct store *s, const struct store_op *ops, size_t n_ops, int64_t rev);
/* Drops the offers not taken yet (closing the handle). */
void store_offers_clear(struct store *s);

/* Background work on the loop (store-watch.c, store-maint.c). */
int store_loop_attach(struct store *s, korch_error **err);
void store_loop_detach(struct store *s);
void store_watches_free_all(struct store *s);
void store_lease_timer_update(struct store *s);
/* Waits for a read being parsed and drops it undelivered, and stops the parse worker. */
void store_parse_stop(struct store *s);
int store_compact_attach(struct store *s, korch_error **err);

#endif
