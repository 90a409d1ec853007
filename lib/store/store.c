/*
 * store.c - opening a store: the file's pragmas, the schema and its migrations, the handle's
 * prepared statements, SQLite error conversion, and point reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/util.h"
#include "store/store-internal.h"

static const char *const stmt_sql[STMT_MAX] = {
	[STMT_BEGIN] = "BEGIN",
	[STMT_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_REVISION] = "SELECT max((SELECT value FROM meta WHERE key = 'revision'),"
			  " coalesce((SELECT max(id) FROM history), 0) >> 20)",
	/* The meta rows, and the last history row's id after them (key NULL). */
	[STMT_TXN_STATE] = "SELECT key, value FROM meta"
			   " UNION ALL SELECT NULL, coalesce(max(id), 0) FROM history",
	[STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[STMT_META_SET] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
	[STMT_RES_GET] = "SELECT id FROM resources WHERE grp = ?1 AND res = ?2",
	[STMT_RES_INSERT] = "INSERT INTO resources (grp, res) VALUES (?1, ?2)",
	[STMT_OBJ_GET] = "SELECT create_rev, mod_rev, hid, lease FROM objects"
			 " WHERE res = ?1 AND ns = ?2 AND name = ?3",
	[STMT_OBJ_INSERT] = "INSERT INTO objects (res, ns, name, create_rev, mod_rev, hid, lease)"
			    " VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
	[STMT_OBJ_UPDATE] = "UPDATE objects SET mod_rev = ?4, hid = ?5, lease = ?6"
			    " WHERE res = ?1 AND ns = ?2 AND name = ?3",
	[STMT_OBJ_DELETE] = "DELETE FROM objects WHERE res = ?1 AND ns = ?2 AND name = ?3",
	[STMT_HIST_INSERT] = "INSERT INTO history"
			     " (id, type, res, ns, name, prev, time_ns, labels, value)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[STMT_HIST_VALUE] = "SELECT value FROM history WHERE id = ?1",
	[STMT_LABEL_INSERT] = "INSERT OR IGNORE INTO labels (res, key, value, ns, name)"
			      " VALUES (?1, ?2, ?3, ?4, ?5)",
	[STMT_LABEL_DELETE] = "DELETE FROM labels WHERE res = ?1 AND key = ?2 AND value = ?3"
			      " AND ns = ?4 AND name = ?5",
	[STMT_LABEL_TAIL_COUNT] = "SELECT count(*) FROM (SELECT 1 FROM history WHERE id > ?1"
				  " LIMIT ?2)",
	/* The updates and deletes after ?1 in order: their labels, their previous version's, and
	   whether that one is a create after ?1 too (not in the index yet). */
	[STMT_LABEL_TAIL_CHANGES] = "SELECT h.res, h.ns, h.name, h.type, h.labels, p.labels,"
				    " p.id > ?1 AND p.type = 1"
				    " FROM history h JOIN history p ON p.id = h.prev"
				    " WHERE h.id > ?1 ORDER BY h.id",
	/* The string labels of the creates after ?1 that no later version replaced. */
	[STMT_LABEL_TAIL_NEW] = "INSERT OR IGNORE INTO labels (res, key, value, ns, name)"
				" SELECT h.res, j.key, j.value, h.ns, h.name"
				" FROM history h, json_each(h.labels) j"
				" WHERE h.id > ?1 AND h.type = 1 AND j.type = 'text'"
				" AND h.id NOT IN (SELECT prev FROM history"
				" WHERE id > ?1 AND prev IS NOT NULL)",
	[STMT_LABEL_POS_SET] = "INSERT OR REPLACE INTO meta (key, value) VALUES ('label_pos',"
			       " coalesce((SELECT max(id) FROM history), ?1))",
	[STMT_GET] = "SELECT o.create_rev, o.mod_rev, o.lease, h.value"
		     " FROM objects o JOIN history h ON h.id = o.hid"
		     " WHERE o.res = (SELECT id FROM resources WHERE grp = ?1 AND res = ?2)"
		     " AND o.ns = ?3 AND o.name = ?4",
	[STMT_LEASE_GET] = "SELECT ttl_s, expiry_ns FROM leases WHERE id = ?1",
	[STMT_LEASE_INSERT] = "INSERT INTO leases (id, ttl_s, expiry_ns) VALUES (?1, ?2, ?3)",
	[STMT_LEASE_SET_EXPIRY] = "UPDATE leases SET expiry_ns = ?2 WHERE id = ?1",
	[STMT_LEASE_DELETE] = "DELETE FROM leases WHERE id = ?1",
	[STMT_LEASE_KEYS] = "SELECT o.res, r.grp, r.res, o.ns, o.name, o.hid FROM objects o"
			    " JOIN resources r ON r.id = o.res WHERE o.lease = ?1 LIMIT ?2",
	[STMT_LEASE_EXPIRED] = "SELECT id FROM leases WHERE expiry_ns <= ?1"
			       " ORDER BY expiry_ns LIMIT 1",
	[STMT_LEASE_NEXT_EXPIRY] = "SELECT MIN(expiry_ns) FROM leases",
	/* Lists bind ?1 resource, ?2 and ?3 the start key, ?4 the first history id not shown. */
	[STMT_LIST_ALL] = "SELECT o.ns, o.name, h.value, h.labels FROM objects o"
			  " JOIN history h ON h.id = o.hid"
			  " WHERE o.res = ?1 AND (o.ns, o.name) > (?2, ?3) AND o.hid < ?4"
			  " ORDER BY o.ns, o.name",
	[STMT_LIST_NS] = "SELECT o.ns, o.name, h.value, h.labels FROM objects o"
			 " JOIN history h ON h.id = o.hid"
			 " WHERE o.res = ?1 AND o.ns = ?2 AND o.name > ?3 AND o.hid < ?4"
			 " ORDER BY o.name",
	/* Lists read history rows as (ns, name, id, type, labels, value), binding ?1 the first
	   id after the list's revision, ?2 where the live scan stops, ?3 the resource, ?4 the
	   namespace or NULL, ?5 and ?6 the start key. Keys changed after the revision whose
	   version then is older than ?2: that version. */
	[STMT_LIST_CHANGED] = "SELECT h.ns, h.name, p.id, p.type, p.labels, p.value"
			      " FROM history h JOIN history p ON p.id = h.prev"
			      " WHERE h.id >= ?1 AND h.prev < ?2 AND h.res = ?3"
			      " AND (?4 IS NULL OR h.ns = ?4) AND (h.ns, h.name) > (?5, ?6)",
	/* Every row in [?2, ?1) (the caller keeps each key's last). */
	[STMT_LIST_TAIL] = "SELECT ns, name, id, type, labels, value FROM history"
			   " WHERE id >= ?2 AND id < ?1 AND res = ?3 AND (?4 IS NULL OR ns = ?4)"
			   " AND (ns, name) > (?5, ?6)",
	[STMT_WATCH_ROWS] = "SELECT h.id, h.type, r.grp, r.res, h.ns, h.name, h.value, p.value,"
			    " h.prev"
			    " FROM history h CROSS JOIN resources r ON r.id = h.res"
			    " LEFT JOIN history p ON p.id = h.prev"
			    " WHERE h.id >= ?1 AND h.id < ?2"
			    " AND (?5 IS NULL OR h.ns = ?5) AND (?6 IS NULL OR h.name = ?6)"
			    " ORDER BY h.id LIMIT ?7",
	/* The same for one resource (?3, ?4): only its rows are visited, through history_res. */
	[STMT_WATCH_ROWS_RES] = "SELECT h.id, h.type, r.grp, r.res, h.ns, h.name, h.value,"
				" p.value, h.prev"
				" FROM resources r CROSS JOIN history h INDEXED BY history_res"
				" ON h.res = r.id LEFT JOIN history p ON p.id = h.prev"
				" WHERE r.grp = ?3 AND r.res = ?4 AND h.id >= ?1 AND h.id < ?2"
				" AND (?5 IS NULL OR h.ns = ?5) AND (?6 IS NULL OR h.name = ?6)"
				" ORDER BY h.id LIMIT ?7",
	[STMT_COMPACT_ROWS] = "SELECT id, type, prev, time_ns FROM history"
			      " WHERE id > ?1 AND id < ?2 ORDER BY id LIMIT ?3",
	[STMT_HIST_DELETE] = "DELETE FROM history WHERE id = ?1",
};

/* The tables every schema version shares, as version 1 created them. */
#define SCHEMA_META_LEASES                                                                \
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;" \
	"CREATE TABLE leases (id INTEGER PRIMARY KEY, ttl_s INTEGER NOT NULL,"            \
	" expiry_ns INTEGER NOT NULL);"                                                   \
	"CREATE INDEX leases_expiry ON leases (expiry_ns);"                               \
	"INSERT INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0),"         \
	" ('compact_pos', 0);"

/* The tables of version 3, which version 2's migrate into. */
#define SCHEMA_V3_TABLES(suffix)                                                            \
	"CREATE TABLE history" suffix " (id INTEGER PRIMARY KEY, type INTEGER NOT NULL,"    \
	" res INTEGER NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, prev INTEGER,"        \
	" time_ns INTEGER NOT NULL, labels TEXT, value TEXT);"                              \
	"CREATE TABLE objects" suffix " (res INTEGER NOT NULL, ns TEXT NOT NULL,"           \
	" name TEXT NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL,"       \
	" hid INTEGER NOT NULL, lease INTEGER, PRIMARY KEY (res, ns, name)) WITHOUT ROWID;" \
	"CREATE TABLE labels" suffix " (res INTEGER NOT NULL, key TEXT NOT NULL,"           \
	" value TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"                       \
	" PRIMARY KEY (res, key, value, ns, name)) WITHOUT ROWID;"

#define SCHEMA_RESOURCES                                                     \
	"CREATE TABLE resources (id INTEGER PRIMARY KEY, grp TEXT NOT NULL," \
	" res TEXT NOT NULL, UNIQUE (grp, res));"

/*
 * Version 4: history rows by resource (and id: the rowid ends every index), so that a watch or
 * a list of one resource reads its own rows, not every row written since its revision.
 */
#define SCHEMA_V4_INDEX "CREATE INDEX history_res ON history (res);"

/* A new file gets the current schema directly. */
static const char schema_current[] = SCHEMA_META_LEASES SCHEMA_RESOURCES SCHEMA_V3_TABLES(
	"") "CREATE INDEX objects_lease ON objects (lease) WHERE lease IS NOT NULL;"
	    "INSERT INTO meta (key, value) VALUES ('label_pos', 0);" SCHEMA_V4_INDEX;

/*
 * Version 1 -> 2: the label index. Fills labels and objects.labels from the stored objects
 * with SQLite's JSON functions, so the migration needs no object parsing in C.
 */
static const char migrate_1_2[] =
	"ALTER TABLE objects ADD COLUMN labels TEXT;"
	"CREATE TABLE labels (grp TEXT NOT NULL, res TEXT NOT NULL, key TEXT NOT NULL,"
	" value TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
	" PRIMARY KEY (grp, res, key, value, ns, name)) WITHOUT ROWID;"
	"UPDATE objects SET labels = (SELECT json_extract(h.value, '$.metadata.labels')"
	" FROM history h WHERE h.id = objects.hid"
	" AND json_type(h.value, '$.metadata.labels') = 'object'"
	" AND json_extract(h.value, '$.metadata.labels') <> '{}');"
	"INSERT INTO labels (grp, res, key, value, ns, name)"
	" SELECT o.grp, o.res, j.key, j.value, o.ns, o.name"
	" FROM objects o JOIN history h ON h.id = o.hid, json_each(h.value, '$.metadata.labels') j"
	" WHERE json_type(h.value, '$.metadata.labels') = 'object' AND j.type = 'text';";

/*
 * Version 2 -> 3: (group, resource) interned in resources, so history, objects and label rows
 * carry a small integer; each history row carries its object's metadata.labels (the label index
 * is brought up to date from them, in batches, and lists read them for the keys it has not
 * reached yet); objects lose their labels column. The index starts complete ('label_pos' at
 * the last history row).
 */
static const char migrate_2_3[] = SCHEMA_RESOURCES
	"INSERT INTO resources (grp, res) SELECT grp, res FROM history"
	" UNION SELECT grp, res FROM objects UNION SELECT grp, res FROM labels;" SCHEMA_V3_TABLES(
		"_v3") "INSERT INTO history_v3 (id, type, res, ns, name, prev, time_ns, labels, value)"
		       " SELECT h.id, h.type, r.id, h.ns, h.name, h.prev, h.time_ns,"
		       " CASE WHEN json_type(h.value, '$.metadata.labels') = 'object'"
		       " AND json_extract(h.value, '$.metadata.labels') <> '{}'"
		       " THEN json_extract(h.value, '$.metadata.labels') END, h.value"
		       " FROM history h JOIN resources r ON r.grp = h.grp AND r.res = h.res;"
		       "INSERT INTO objects_v3 (res, ns, name, create_rev, mod_rev, hid, lease)"
		       " SELECT r.id, o.ns, o.name, o.create_rev, o.mod_rev, o.hid, o.lease"
		       " FROM objects o JOIN resources r ON r.grp = o.grp AND r.res = o.res;"
		       "INSERT INTO labels_v3 (res, key, value, ns, name)"
		       " SELECT r.id, l.key, l.value, l.ns, l.name"
		       " FROM labels l JOIN resources r ON r.grp = l.grp AND r.res = l.res;"
		       "DROP TABLE history; DROP TABLE objects; DROP TABLE labels;"
		       "ALTER TABLE history_v3 RENAME TO history;"
		       "ALTER TABLE objects_v3 RENAME TO objects;"
		       "ALTER TABLE labels_v3 RENAME TO labels;"
		       "CREATE INDEX objects_lease ON objects (lease) WHERE lease IS NOT NULL;"
		       "INSERT OR REPLACE INTO meta (key, value)"
		       " VALUES ('label_pos', coalesce((SELECT max(id) FROM history), 0));";

/* migrations[i] takes a file from version i + 1 to i + 2. */
static const char *const migrations[STORE_SCHEMA_VERSION - 1] = {
	migrate_1_2,
	migrate_2_3,
	SCHEMA_V4_INDEX,
};

/* ---- errors and statements ---- */

int
store_sqlite_error(struct store *s, int rc, korch_error **err, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	int prim = rc & 0xff;
	const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
	int sys = s && s->db ? sqlite3_system_errno(s->db) : 0;
	int code;
	switch (prim) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: code = KORCH_EBUSY; break;
	case SQLITE_NOMEM: code = KORCH_ENOMEM; break;
	case SQLITE_TOOBIG: code = KORCH_ETOOLARGE; break;
	default: code = KORCH_ESYSTEM; break;
	}
	if (rc == SQLITE_IOERR_NOMEM)
		code = KORCH_ENOMEM;
	if (prim == SQLITE_BUSY && s)
		error_set(err, code, "%s: %s (another writer held the lock for over %d ms)",
			  what ? what : "sqlite", msg, s->opts.busy_timeout_ms);
	else if (sys && (prim == SQLITE_IOERR || prim == SQLITE_FULL || prim == SQLITE_CANTOPEN))
		error_errno(err, sys, "%s: %s", what ? what : "sqlite", msg);
	else if (prim == SQLITE_FULL)
		error_errno(err, ENOSPC, "%s: %s", what ? what : "sqlite", msg);
	else
		error_set(err, code, "%s: %s", what ? what : "sqlite", msg);
	if (s && prim == SQLITE_IOERR && rc != SQLITE_IOERR_NOMEM && !s->write_error) {
		/* Never retry after a failed write or fsync: the page cache may have lost the data. */
		if (asprintf(&s->write_error, "%s: %s", what ? what : "sqlite", msg) < 0)
			s->write_error = NULL;
		if (!s->write_error)
			s->write_error = strdup("I/O error");
	}
	return code;
}

sqlite3_stmt *
store_stmt(struct store *s, enum stmt_id id, korch_error **err)
{
	if (s->stmts[id]) {
		sqlite3_reset(s->stmts[id]);
		sqlite3_clear_bindings(s->stmts[id]);
		return s->stmts[id];
	}
	int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				    &s->stmts[id], NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_error(s, rc, err, "prepare statement %d", (int)id);
		return NULL;
	}
	return s->stmts[id];
}

int
store_exec_stmt(struct store *s, sqlite3_stmt *st, korch_error **err, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return store_sqlite_error(s, rc, err, "%s", what);
}

/* Runs SQL text (several statements) outside the cache. */
static int
exec_sql(struct store *s, const char *sql, korch_error **err, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_error(s, rc, err, "%s", what);
	return 0;
}

int
store_begin_write(struct store *s, korch_error **err)
{
	if (s->write_error)
		return error_set(err, KORCH_ESYSTEM,
				 "store %s refuses writes after an I/O error (%s); reopen it",
				 s->path, s->write_error);
	if (s->in_txn)
		return error_set(err, KORCH_EINVALID, "store %s: a transaction is already open",
				 s->path);
	sqlite3_stmt *st = store_stmt(s, STMT_BEGIN_IMMEDIATE, err);
	if (!st)
		return KORCH_ESYSTEM;
	int r = store_exec_stmt(s, st, err, "begin write transaction");
	if (r < 0)
		return r;
	s->in_txn = true;
	return 0;
}

int
store_begin_read(struct store *s, korch_error **err)
{
	if (s->in_txn)
		return error_set(err, KORCH_EINVALID, "store %s: a transaction is already open",
				 s->path);
	sqlite3_stmt *st = store_stmt(s, STMT_BEGIN, err);
	if (!st)
		return KORCH_ESYSTEM;
	int r = store_exec_stmt(s, st, err, "begin read transaction");
	if (r < 0)
		return r;
	s->in_txn = true;
	return 0;
}

int
store_commit_txn(struct store *s, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_COMMIT, err);
	if (!st) {
		store_rollback(s);
		return KORCH_ESYSTEM;
	}
	int r = store_exec_stmt(s, st, err, "commit");
	if (r < 0) {
		store_rollback(s);
		return r;
	}
	s->in_txn = false;
	return 0;
}

void
store_rollback(struct store *s)
{
	/* What the transaction counted or added is not there. */
	s->label_tail_rev = -1;
	store_res_forget(s);
	if (!sqlite3_get_autocommit(s->db)) {
		sqlite3_stmt *st = store_stmt(s, STMT_ROLLBACK, NULL);
		if (st)
			(void)store_exec_stmt(s, st, NULL, "rollback");
	}
	s->in_txn = false;
}

int
store_meta_get(struct store *s, const char *key, int64_t *ret, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_META_GET, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int64_t v = 0;
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_error(s, rc, err, "read meta %s", key);
	*ret = v;
	return 0;
}

int
store_current_revision(struct store *s, int64_t *ret, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_REVISION, err);
	if (!st)
		return KORCH_ESYSTEM;
	int rc = sqlite3_step(st);
	int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return store_sqlite_error(s, rc, err, "read the revision");
	*ret = v;
	return 0;
}

int
store_txn_state(struct store *s, struct txn_state *ret, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_TXN_STATE, err);
	if (!st)
		return KORCH_ESYSTEM;
	struct txn_state state = { 0 };
	int64_t floor = 0, last_id = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		int64_t v = sqlite3_column_int64(st, 1);
		if (!key)
			last_id = v;
		else if (streq(key, "revision"))
			floor = v;
		else if (streq(key, "compacted"))
			state.compacted = v;
		else if (streq(key, "label_pos"))
			state.label_pos = v;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_sqlite_error(s, rc, err, "read the revision");
	state.revision = MAX(floor, HIST_REV(last_id));
	if (state.compacted != s->res_compacted) {
		store_res_forget(s);
		s->res_compacted = state.compacted;
	}
	*ret = state;
	return 0;
}

int
store_meta_set(struct store *s, const char *key, int64_t value, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_META_SET, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	return store_exec_stmt(s, st, err, "write meta");
}

/* ---- small helpers ---- */

const char *
store_qualified_resource(const char *group, const char *resource, char buf[static 256])
{
	if (group && group[0])
		snprintf(buf, 256, "%s.%s", resource, group);
	else
		snprintf(buf, 256, "%s", resource);
	return buf;
}

int
store_key_check(const struct store_key *key, korch_error **err)
{
	if (!key || !key->group || !key->resource || !key->ns || !key->name)
		return error_set(err, KORCH_EINVALID,
				 "store key needs a group, resource, namespace and name"
				 " (\"\" for the core group or no namespace)");
	if (!key->resource[0])
		return error_set(err, KORCH_EINVALID, "store key has an empty resource");
	if (!key->name[0]) {
		char q[256];
		return error_set(err, KORCH_EINVALID, "%s: store key has an empty name",
				 store_qualified_resource(key->group, key->resource, q));
	}
	return 0;
}

int
store_parse_value(const char *text, int len, json_t **ret, korch_error **err)
{
	_cleanup_error_ korch_error *e = NULL;
	int r = codec_json_decode_stored(text ? text : "", len > 0 ? (size_t)len : 0, ret, &e);
	/* Not the caller's input: the file holds something korch did not write. */
	if (r == KORCH_EINVALID)
		return error_set(err, KORCH_ESYSTEM, "stored object is not valid JSON: %s",
				 korch_error_message(e));
	if (r < 0)
		return error_propagate(err, &e, r);
	return 0;
}

int
store_set_rv(json_t *obj, int64_t revision)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", (long long)revision);
	json_t *meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		if (!meta || json_object_set_new(obj, "metadata", meta) < 0)
			return KORCH_ENOMEM;
	}
	if (json_object_set_new(meta, "resourceVersion", json_string(buf)) < 0)
		return KORCH_ENOMEM;
	return 0;
}

/* ---- opening ---- */

/* The absolute form of path; the file itself may not exist yet (its directory must). */
static int
absolute_path(const char *path, char **ret, korch_error **err)
{
	_cleanup_free_ char *dir_copy = strdup(path), *base_copy = strdup(path);
	if (!dir_copy || !base_copy)
		return error_oom(err);
	const char *base = basename(base_copy);
	char dir_real[PATH_MAX];
	if (!realpath(dirname(dir_copy), dir_real))
		return error_errno(err, errno, "store %s: directory", path);
	if (!base[0] || streq(base, ".") || streq(base, "..") || streq(base, "/"))
		return error_set(err, KORCH_EINVALID, "store %s: not a file name", path);
	char *abs;
	if (asprintf(&abs, "%s/%s", streq(dir_real, "/") ? "" : dir_real, base) < 0)
		return error_oom(err);
	*ret = abs;
	return 0;
}

static int
pragma_int(struct store *s, const char *sql, int64_t *ret, korch_error **err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_error(s, rc, err, "%s", sql);
	rc = sqlite3_step(st);
	int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_error(s, rc, err, "%s", sql);
	*ret = v;
	return 0;
}

/*
 * Creates or migrates the schema inside one write transaction, so two processes opening a new
 * file at once create it once, and a crash mid-migration leaves the old version intact.
 */
static int
setup_schema(struct store *s, korch_error **err)
{
	int64_t version = 0, app_id = 0, n_tables = 0;
	/* The common case, a current file, needs no write lock. */
	int r = pragma_int(s, "PRAGMA user_version", &version, err);
	if (r < 0)
		return r;
	if ((r = pragma_int(s, "PRAGMA application_id", &app_id, err)) < 0)
		return r;
	if (version == STORE_SCHEMA_VERSION && app_id == STORE_APPLICATION_ID)
		return 0;
	if ((r = store_begin_write(s, err)) < 0)
		return r;
	if ((r = pragma_int(s, "PRAGMA user_version", &version, err)) < 0 ||
	    (r = pragma_int(s, "PRAGMA application_id", &app_id, err)) < 0 ||
	    (r = pragma_int(s, "SELECT count(*) FROM sqlite_master", &n_tables, err)) < 0)
		goto fail;
	if (version == 0 && app_id == 0 && n_tables == 0) {
		char sql[64];
		if ((r = exec_sql(s, schema_current, err, "create schema")) < 0)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
		if ((r = exec_sql(s, sql, err, "set schema version")) < 0)
			goto fail;
		return store_commit_txn(s, err);
	}
	if (app_id != STORE_APPLICATION_ID) {
		r = error_set(err, KORCH_EINVALID,
			      "%s is not a korch store (SQLite application_id %#llx, want %#x)",
			      s->path, (unsigned long long)app_id, STORE_APPLICATION_ID);
		goto fail;
	}
	if (version > STORE_SCHEMA_VERSION) {
		r = error_set(
			err, KORCH_EPROTO,
			"store %s has schema version %lld, newer than this korch supports (%d)",
			s->path, (long long)version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (version < 1) {
		r = error_set(err, KORCH_EINVALID, "store %s has no schema version", s->path);
		goto fail;
	}
	for (int64_t v = version; v < STORE_SCHEMA_VERSION; v++) {
		char sql[64];
		if ((r = exec_sql(s, migrations[v - 1], err, "migrate schema")) < 0) {
			korch_error_prefix(err, r, "from version %lld to %lld", (long long)v,
					   (long long)v + 1);
			goto fail;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)v + 1);
		if ((r = exec_sql(s, sql, err, "set schema version")) < 0)
			goto fail;
	}
	return store_commit_txn(s, err);
fail:
	store_rollback(s);
	return r;
}

/* The pragmas every connection sets; journal_mode and auto_vacuum persist in the file. */
static int
setup_connection(struct store *s, bool is_new, korch_error **err)
{
	int r;
	int64_t v;
	/* Probe first: a file that is not a database fails here with a clear message. */
	int rc = sqlite3_exec(s->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	if ((rc & 0xff) == SQLITE_NOTADB)
		return error_set(err, KORCH_EINVALID, "%s is not a korch store: %s", s->path,
				 sqlite3_errmsg(s->db));
	if (rc != SQLITE_OK)
		return store_sqlite_error(s, rc, err, "read %s", s->path);
	if (is_new && (r = exec_sql(s, "PRAGMA auto_vacuum = INCREMENTAL", err, "auto_vacuum")) < 0)
		return r;
	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && !streq((const char *)sqlite3_column_text(st, 0), "wal")) {
			sqlite3_finalize(st);
			return error_set(err, KORCH_ESYSTEM, "store %s: cannot use WAL mode",
					 s->path);
		}
		sqlite3_finalize(st);
		rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
	}
	if (rc != SQLITE_OK)
		return store_sqlite_error(s, rc, err, "set WAL mode on %s", s->path);
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "PRAGMA synchronous = %s; PRAGMA journal_size_limit = 67108864;"
		 " PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;"
		 " PRAGMA foreign_keys = OFF",
		 s->opts.sync_normal ? "NORMAL" : "FULL");
	if ((r = exec_sql(s, sql, err, "set pragmas")) < 0)
		return r;
	if ((r = pragma_int(s, "PRAGMA data_version", &v, err)) < 0)
		return r;
	s->data_version = v;
	return 0;
}

/*
 * Waits for another writer's lock with short, jittered sleeps (100 us doubling to 2 ms).
 * SQLite's own busy handler sleeps up to 100 ms at a time, leaving the lock idle while many
 * writers wait; this one keeps it busy at the cost of a few more lock attempts.
 */
static int
busy_handler(void *userdata, int count)
{
	struct store *s = userdata;
	if (count == 0)
		s->busy_waited_us = 0;
	if (s->busy_waited_us >= (int64_t)s->opts.busy_timeout_ms * 1000)
		return 0;
	int delay_us = MIN(100 << MIN(count, 5), 2000);
	delay_us += (int)(rand_r(&s->busy_seed) % (unsigned)(delay_us / 2 + 1));
	usleep((useconds_t)delay_us);
	s->busy_waited_us += delay_us;
	return 1;
}

static void
fill_defaults(struct store_options *o)
{
	if (o->busy_timeout_ms <= 0)
		o->busy_timeout_ms = 30000;
	if (o->compact_keep_revisions == 0)
		o->compact_keep_revisions = 10000;
	if (o->compact_keep_ns == 0)
		o->compact_keep_ns = 5 * 60 * NSEC_PER_SEC;
	if (o->compact_interval_ms <= 0)
		o->compact_interval_ms = 5000;
	if (o->poll_interval_ms == 0)
		o->poll_interval_ms = 1000;
	if (o->label_lag_rows == 0)
		o->label_lag_rows = LABEL_LAG_DEFAULT;
	else if (o->label_lag_rows < 0)
		o->label_lag_rows = 0;
}

char *
store_notify_path(const char *path)
{
	char *p;
	return asprintf(&p, "%s-notify", path) < 0 ? NULL : p;
}

/*
 * Opens (creating it, one byte long) the file writers read after each commit so that watchers
 * wake up (see store_notify_written()). Never the database file itself: closing a descriptor of
 * it would drop the POSIX locks SQLite holds on it in this process. -1 when it cannot be had
 * (writers then touch the database file instead).
 */
static int
notify_open(const char *path)
{
	_cleanup_free_ char *notify = store_notify_path(path);
	struct stat st;
	if (!notify || stat(path, &st) < 0)
		return -1;
	int fd = open(notify, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, st.st_mode & 0666);
	if (fd < 0)
		return -1;
	char c;
	if (pread(fd, &c, 1, 0) != 1 && pwrite(fd, "\n", 1, 0) != 1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* fsync of the directory, so that a new database file's name survives a power loss. */
static int
sync_parent_dir(const char *path, korch_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return error_oom(err);
	_cleanup_close_ int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return error_errno(err, errno, "sync directory of %s", path);
	return 0;
}

int
store_open(const char *path, const struct store_options *opts, struct store **ret_store,
	   korch_error **err)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	s->inotify_fd = -1;
	s->notify_fd = -1;
	s->label_tail_rev = -1;
	s->res_compacted = -1;
	s->parsed_compacted = -1;
	s->offers_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	if (opts)
		s->opts = *opts;
	fill_defaults(&s->opts);
	int r = absolute_path(path, &s->path, err);
	if (r < 0)
		goto fail;
	struct stat st;
	bool is_new = stat(s->path, &st) < 0 || st.st_size == 0;
	if (s->opts.clock)
		s->clock = s->opts.clock;
	else if (s->opts.loop)
		s->clock = korch_loop_clock(s->opts.loop);
	else {
		if ((r = korch_clock_new_real(&s->own_clock, err)) < 0)
			goto fail;
		s->clock = s->own_clock;
	}
	int rc = sqlite3_open_v2(s->path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 s->opts.vfs);
	if (rc != SQLITE_OK) {
		r = store_sqlite_error(s, rc, err, "open store %s", s->path);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	s->busy_seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)s;
	sqlite3_busy_handler(s->db, busy_handler, s);
	if ((r = setup_connection(s, is_new, err)) < 0 || (r = setup_schema(s, err)) < 0)
		goto fail;
	if (is_new && (r = sync_parent_dir(s->path, err)) < 0)
		goto fail;
	s->notify_fd = notify_open(s->path);
	/* The (empty) parsed versions belong to the compacted revision of now. */
	if ((r = store_revision(s, &s->known_revision, &s->parsed_compacted, err)) < 0)
		goto fail;
	if (s->opts.loop && (r = store_loop_attach(s, err)) < 0)
		goto fail;
	*ret_store = s;
	return 0;
fail:
	store_close(s);
	return r;
}

void
store_close(struct store *s)
{
	if (!s)
		return;
	store_parse_stop(s);
	store_watches_free_all(s);
	store_parsed_clear(s);
	store_offers_clear(s);
	pthread_mutex_destroy(&s->offers_lock);
	free(s->rows_buf);
	free(s->events_buf);
	store_loop_detach(s);
	if (s->notify_fd >= 0)
		close(s->notify_fd);
	ptrvec_free(&s->watches, NULL);
	for (size_t i = 0; i < STMT_MAX; i++)
		sqlite3_finalize(s->stmts[i]);
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < LABEL_STMT_CACHE; j++)
			sqlite3_finalize(s->label_stmts[i][j]);
	store_res_forget(s);
	strbuf_free(&s->value_buf);
	strbuf_free(&s->labels_buf);
	if (s->db)
		sqlite3_close_v2(s->db);
	korch_clock_free(s->own_clock);
	free(s->write_error);
	free(s->path);
	free(s);
}

const char *
store_path(const struct store *s)
{
	return s->path;
}

korch_loop *
store_loop(const struct store *s)
{
	return s->opts.loop;
}

int
store_revision(struct store *s, int64_t *ret_revision, int64_t *ret_compacted, korch_error **err)
{
	int64_t rev = 0, compacted = 0;
	int r = store_begin_read(s, err);
	if (r < 0)
		return r;
	if ((r = store_current_revision(s, &rev, err)) < 0 ||
	    (r = store_meta_get(s, "compacted", &compacted, err)) < 0) {
		store_rollback(s);
		return r;
	}
	if ((r = store_commit_txn(s, err)) < 0)
		return r;
	if (ret_revision)
		*ret_revision = rev;
	if (ret_compacted)
		*ret_compacted = compacted;
	return 0;
}

/*
 * Reads one object's row: its metadata and its stored text (valid until the statement is reset;
 * the caller resets it after using the text).
 */
static int
get_row(struct store *s, const struct store_key *key, sqlite3_stmt **ret_st,
	struct store_object_meta *ret_meta, korch_error **err)
{
	int r = store_key_check(key, err);
	if (r < 0)
		return r;
	sqlite3_stmt *st = store_stmt(s, STMT_GET, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_text(st, 1, key->group, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key->resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, key->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, key->name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		char q[256];
		return error_set(err, KORCH_ENOTFOUND, "%s \"%s\" not found",
				 store_qualified_resource(key->group, key->resource, q), key->name);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_sqlite_error(s, rc, err, "get %s", key->name);
	}
	*ret_meta = (struct store_object_meta){
		.create_revision = sqlite3_column_int64(st, 0),
		.mod_revision = sqlite3_column_int64(st, 1),
		.lease = sqlite3_column_int64(st, 2),
	};
	*ret_st = st;
	return 0;
}

int
store_get(struct store *s, const struct store_key *key, json_t **ret_obj,
	  struct store_object_meta *ret_meta, korch_error **err)
{
	sqlite3_stmt *st = NULL;
	struct store_object_meta meta;
	int r = get_row(s, key, &st, &meta, err);
	if (r < 0)
		return r;
	json_t *obj = NULL;
	r = store_parse_value((const char *)sqlite3_column_text(st, 3), sqlite3_column_bytes(st, 3),
			      &obj, err);
	sqlite3_reset(st);
	if (r < 0)
		return korch_error_prefix(err, r, "get %s", key->name);
	*ret_obj = obj;
	if (ret_meta)
		*ret_meta = meta;
	return 0;
}

int
store_get_text(struct store *s, const struct store_key *key, char **ret_text, size_t *ret_len,
	       struct store_object_meta *ret_meta, korch_error **err)
{
	sqlite3_stmt *st = NULL;
	struct store_object_meta meta;
	int r = get_row(s, key, &st, &meta, err);
	if (r < 0)
		return r;
	const char *text = (const char *)sqlite3_column_text(st, 3);
	size_t len = (size_t)sqlite3_column_bytes(st, 3);
	char *copy = malloc(len + 1);
	if (copy) {
		memcpy(copy, text ? text : "", len);
		copy[len] = '\0';
	}
	sqlite3_reset(st);
	if (!copy)
		return error_oom(err);
	*ret_text = copy;
	if (ret_len)
		*ret_len = len;
	if (ret_meta)
		*ret_meta = meta;
	return 0;
}
