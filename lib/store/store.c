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
	[STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[STMT_META_SET] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
	[STMT_OBJ_GET] = "SELECT create_rev, mod_rev, hid, lease, labels FROM objects"
			 " WHERE grp = ?1 AND res = ?2 AND ns = ?3 AND name = ?4",
	[STMT_OBJ_INSERT] = "INSERT INTO objects"
			    " (grp, res, ns, name, create_rev, mod_rev, hid, lease, labels)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8)",
	[STMT_OBJ_UPDATE] = "UPDATE objects SET mod_rev = ?5, hid = ?6, lease = ?7, labels = ?8"
			    " WHERE grp = ?1 AND res = ?2 AND ns = ?3 AND name = ?4",
	[STMT_OBJ_DELETE] = "DELETE FROM objects"
			    " WHERE grp = ?1 AND res = ?2 AND ns = ?3 AND name = ?4",
	[STMT_HIST_INSERT] = "INSERT INTO history"
			     " (id, type, grp, res, ns, name, prev, time_ns, value)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[STMT_HIST_VALUE] = "SELECT value FROM history WHERE id = ?1",
	[STMT_LABEL_INSERT] = "INSERT INTO labels (grp, res, key, value, ns, name)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STMT_LABEL_DELETE] = "DELETE FROM labels WHERE grp = ?1 AND res = ?2 AND key = ?3"
			      " AND value = ?4 AND ns = ?5 AND name = ?6",
	[STMT_GET] = "SELECT o.create_rev, o.mod_rev, o.lease, h.value"
		     " FROM objects o JOIN history h ON h.id = o.hid"
		     " WHERE o.grp = ?1 AND o.res = ?2 AND o.ns = ?3 AND o.name = ?4",
	[STMT_LEASE_GET] = "SELECT ttl_s, expiry_ns FROM leases WHERE id = ?1",
	[STMT_LEASE_INSERT] = "INSERT INTO leases (id, ttl_s, expiry_ns) VALUES (?1, ?2, ?3)",
	[STMT_LEASE_SET_EXPIRY] = "UPDATE leases SET expiry_ns = ?2 WHERE id = ?1",
	[STMT_LEASE_DELETE] = "DELETE FROM leases WHERE id = ?1",
	[STMT_LEASE_KEYS] = "SELECT grp, res, ns, name, hid, labels FROM objects"
			    " WHERE lease = ?1 LIMIT ?2",
	[STMT_LEASE_EXPIRED] = "SELECT id FROM leases WHERE expiry_ns <= ?1"
			       " ORDER BY expiry_ns LIMIT 1",
	[STMT_LEASE_NEXT_EXPIRY] = "SELECT MIN(expiry_ns) FROM leases",
	[STMT_LIST_ALL] = "SELECT o.ns, o.name, h.value FROM objects o"
			  " JOIN history h ON h.id = o.hid"
			  " WHERE o.grp = ?1 AND o.res = ?2 AND (o.ns, o.name) > (?3, ?4)"
			  " AND o.mod_rev <= ?5 ORDER BY o.ns, o.name",
	[STMT_LIST_NS] = "SELECT o.ns, o.name, h.value FROM objects o"
			 " JOIN history h ON h.id = o.hid"
			 " WHERE o.grp = ?1 AND o.res = ?2 AND o.ns = ?3 AND o.name > ?4"
			 " AND o.mod_rev <= ?5 ORDER BY o.name",
	[STMT_LIST_CHANGED] = "SELECT h.ns, h.name, p.value FROM history h"
			      " JOIN history p ON p.id = h.prev"
			      " WHERE h.id >= ?1 AND h.prev < ?1 AND h.grp = ?2 AND h.res = ?3"
			      " AND (?4 IS NULL OR h.ns = ?4) AND (h.ns, h.name) > (?5, ?6)"
			      " ORDER BY h.ns, h.name",
	[STMT_WATCH_ROWS] = "SELECT h.id, h.type, h.grp, h.res, h.ns, h.name, h.value, p.value"
			    " FROM history h LEFT JOIN history p ON p.id = h.prev"
			    " WHERE h.id >= ?1 AND h.id < ?2"
			    " AND (?3 IS NULL OR (h.grp = ?3 AND h.res = ?4))"
			    " AND (?5 IS NULL OR h.ns = ?5) AND (?6 IS NULL OR h.name = ?6)"
			    " ORDER BY h.id LIMIT ?7",
	[STMT_COMPACT_ROWS] = "SELECT id, type, prev, time_ns FROM history"
			      " WHERE id > ?1 AND id < ?2 ORDER BY id LIMIT ?3",
	[STMT_HIST_DELETE] = "DELETE FROM history WHERE id = ?1",
};

/* The tables every schema version shares, as version 1 created them. */
#define SCHEMA_V1_TABLES                                                                  \
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;" \
	"CREATE TABLE history (id INTEGER PRIMARY KEY, type INTEGER NOT NULL,"            \
	" grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"    \
	" prev INTEGER, time_ns INTEGER NOT NULL, value TEXT);"                           \
	"CREATE TABLE leases (id INTEGER PRIMARY KEY, ttl_s INTEGER NOT NULL,"            \
	" expiry_ns INTEGER NOT NULL);"                                                   \
	"CREATE INDEX leases_expiry ON leases (expiry_ns);"                               \
	"INSERT INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0),"         \
	" ('compact_pos', 0);"

/* A new file gets the current schema directly. */
static const char schema_current[] = SCHEMA_V1_TABLES
	"CREATE TABLE objects (grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL,"
	" name TEXT NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL,"
	" hid INTEGER NOT NULL, lease INTEGER, labels TEXT,"
	" PRIMARY KEY (grp, res, ns, name)) WITHOUT ROWID;"
	"CREATE INDEX objects_lease ON objects (lease) WHERE lease IS NOT NULL;"
	"CREATE TABLE labels (grp TEXT NOT NULL, res TEXT NOT NULL, key TEXT NOT NULL,"
	" value TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
	" PRIMARY KEY (grp, res, key, value, ns, name)) WITHOUT ROWID;";

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

/* migrations[i] takes a file from version i + 1 to i + 2. */
static const char *const migrations[STORE_SCHEMA_VERSION - 1] = {
	migrate_1_2,
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
	json_error_t jerr;
	json_t *v = json_loadb(text ? text : "", len > 0 ? (size_t)len : 0, 0, &jerr);
	if (!v)
		return error_set(err, KORCH_ESYSTEM,
				 "stored object is not valid JSON: %s (line %d)", jerr.text,
				 jerr.line);
	*ret = v;
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
	if ((r = store_current_revision(s, &s->known_revision, err)) < 0)
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
	store_watches_free_all(s);
	store_loop_detach(s);
	ptrvec_free(&s->watches, NULL);
	for (size_t i = 0; i < STMT_MAX; i++)
		sqlite3_finalize(s->stmts[i]);
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < LABEL_STMT_CACHE; j++)
			sqlite3_finalize(s->label_stmts[i][j]);
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
