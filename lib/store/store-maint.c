/*
 * store-maint.c - keeping the file healthy: compaction of the history in bounded steps,
 * incremental vacuum, online backup and restore, and the integrity check.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "store/store-internal.h"

#define COMPACT_DEFAULT_ROWS 1000
/* Free pages are given back to the file system only past this slack (pages are reused first). */
#define VACUUM_MIN_FREE_PAGES 256
#define VACUUM_MAX_PAGES_PER_STEP 1024

/* A history row as compaction sees it. */
struct compact_row {
	int64_t id;      /* history id */
	int type;        /* enum hist_type */
	int64_t prev;    /* superseded version, or 0 */
	int64_t time_ns; /* commit time */
};

static int
query_int(struct store *s, const char *sql, int64_t *ret, korch_error **err)
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

/* Gives free pages back to the file system once there are many, a bounded number per call. */
static int
vacuum_step(struct store *s, korch_error **err)
{
	int64_t free_pages = 0, pages = 0;
	int r;
	if ((r = query_int(s, "PRAGMA freelist_count", &free_pages, err)) < 0 ||
	    (r = query_int(s, "PRAGMA page_count", &pages, err)) < 0)
		return r;
	if (free_pages < VACUUM_MIN_FREE_PAGES || free_pages < pages / 8)
		return 0;
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%lld)",
		 (long long)MIN(free_pages - VACUUM_MIN_FREE_PAGES / 2, VACUUM_MAX_PAGES_PER_STEP));
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		sqlite3_finalize(st);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		return store_sqlite_error(s, rc, err, "incremental vacuum");
	return 0;
}

/* Reads at most max + 1 rows of history after pos and before the first row of revision target + 1. */
static int
compact_rows(struct store *s, int64_t pos, int64_t target, size_t max, struct compact_row **ret,
	     size_t *ret_n, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_COMPACT_ROWS, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, pos);
	sqlite3_bind_int64(st, 2, HIST_ID_AFTER(target));
	sqlite3_bind_int64(st, 3, (int64_t)max + 1);
	struct compact_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct compact_row *row = VEC_PUSH(rows, n, cap);
		if (!row) {
			sqlite3_reset(st);
			free(rows);
			return error_oom(err);
		}
		row->id = sqlite3_column_int64(st, 0);
		row->type = sqlite3_column_int(st, 1);
		row->prev = sqlite3_column_int64(st, 2);
		row->time_ns = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(rows);
		return store_sqlite_error(s, rc, err, "read history");
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

static int
hist_delete(struct store *s, int64_t id, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_HIST_DELETE, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, id);
	return store_exec_stmt(s, st, err, "delete history");
}

/*
 * Removes, for each row processed, the version it superseded, and the row itself when it is a
 * delete. Processing rows of revision X first marks X compacted: no list or watch below X needs
 * the removed versions, and every version a reader at or above X needs is kept.
 */
int
store_compact(struct store *s, int64_t revision, size_t max_rows, bool *ret_more, korch_error **err)
{
	if (revision < 0)
		return error_set(err, KORCH_EINVALID, "compaction revision %lld is negative",
				 (long long)revision);
	if (max_rows == 0)
		max_rows = COMPACT_DEFAULT_ROWS;
	int r = store_begin_write(s, err);
	if (r < 0)
		return r;
	struct compact_row *rows = NULL;
	size_t n = 0;
	int64_t cur = 0, compacted = 0, pos = 0;
	/*
	 * The label index first: bringing it up to date reads the versions that keys had before
	 * their changes since its position, which compaction may remove.
	 */
	if ((r = store_labels_catch_up(s, true, -1, -1, -1, err)) < 0 ||
	    (r = store_current_revision(s, &cur, err)) < 0 ||
	    (r = store_meta_get(s, "compacted", &compacted, err)) < 0 ||
	    (r = store_meta_get(s, "compact_pos", &pos, err)) < 0)
		goto fail;
	int64_t target, cutoff_ns = INT64_MAX;
	if (revision > 0) {
		target = MIN(revision, cur);
	} else if (s->opts.compact_keep_revisions < 0) {
		target = 0;
	} else {
		target = MAX(cur - s->opts.compact_keep_revisions, 0);
		if (s->opts.compact_keep_ns > 0)
			cutoff_ns = korch_clock_wall_ns(s->clock) - s->opts.compact_keep_ns;
	}
	if ((r = compact_rows(s, pos, target, max_rows, &rows, &n, err)) < 0)
		goto fail;
	size_t done = 0;
	bool time_stop = false;
	for (; done < n && done < max_rows; done++) {
		struct compact_row *row = &rows[done];
		if (row->time_ns > cutoff_ns) {
			time_stop = true;
			break;
		}
		if (row->prev && (r = hist_delete(s, row->prev, err)) < 0)
			goto fail;
		if (row->type == HIST_DELETE && (r = hist_delete(s, row->id, err)) < 0)
			goto fail;
	}
	bool more = !time_stop && n > max_rows;
	int64_t new_compacted = compacted;
	if (done > 0)
		new_compacted = MAX(new_compacted, HIST_REV(rows[done - 1].id));
	if (!time_stop && !more)
		new_compacted = MAX(new_compacted, target);
	/*
	 * Deleting a delete row may remove the last history row, which tells the revision: keep the
	 * revision in meta as a floor first.
	 */
	if (done > 0 && ((r = store_meta_set(s, "revision", cur, err)) < 0 ||
			 (r = store_meta_set(s, "compact_pos", rows[done - 1].id, err)) < 0))
		goto fail;
	if (new_compacted != compacted &&
	    (r = store_meta_set(s, "compacted", new_compacted, err)) < 0)
		goto fail;
	free(rows);
	rows = NULL;
	if ((r = store_commit_txn(s, err)) < 0)
		return r;
	if ((r = vacuum_step(s, err)) < 0)
		return r;
	if (ret_more)
		*ret_more = more;
	return 0;
fail:
	free(rows);
	store_rollback(s);
	return r;
}

static void
on_compact_timer(struct loop_source *src, void *userdata)
{
	struct store *s = userdata;
	_cleanup_error_ korch_error *err = NULL;
	bool more = false;
	if (!s->write_error && store_compact(s, 0, 0, &more, &err) < 0)
		log_warn("store", "compact %s: %s", s->path, korch_error_message(err));
	int64_t now = korch_clock_now_ns(korch_loop_clock(s->opts.loop));
	loop_timer_set(src, more ? now : now + s->opts.compact_interval_ms * NSEC_PER_MSEC);
}

int
store_compact_attach(struct store *s, korch_error **err)
{
	if (s->opts.compact_keep_revisions < 0)
		return 0;
	korch_loop *loop = s->opts.loop;
	return loop_add_timer(loop,
			      korch_clock_now_ns(korch_loop_clock(loop)) +
				      s->opts.compact_interval_ms * NSEC_PER_MSEC,
			      on_compact_timer, s, &s->compact_timer, err);
}

/* ---- backup and restore ---- */

static int
fsync_path(const char *path, bool dir, korch_error **err)
{
	_cleanup_close_ int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return error_errno(err, errno, "sync %s", path);
	return 0;
}

static int
fsync_parent(const char *path, korch_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return error_oom(err);
	return fsync_path(dirname(copy), true, err);
}

/* A unique temporary name beside path (the file is created empty). */
static int
temp_beside(const char *path, const char *tag, char **ret, korch_error **err)
{
	char *tmp;
	if (asprintf(&tmp, "%s.%s-XXXXXX", path, tag) < 0)
		return error_oom(err);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return error_errno(err, e, "temporary file beside %s", path);
	}
	close(fd);
	*ret = tmp;
	return 0;
}

static void
unlink_db_files(const char *path)
{
	char buf[4096];
	unlink(path);
	snprintf(buf, sizeof(buf), "%s-wal", path);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-shm", path);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-journal", path);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-notify", path);
	unlink(buf);
}

/* Copies all of src into dst with the backup API, in one step (one consistent snapshot). */
static int
copy_db(sqlite3 *dst, sqlite3 *src, const char *what, korch_error **err)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b)
		return error_set(err, KORCH_ESYSTEM, "%s: %s", what, sqlite3_errmsg(dst));
	int rc = sqlite3_backup_step(b, -1);
	int rc2 = sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return error_set(err, (rc & 0xff) == SQLITE_BUSY ? KORCH_EBUSY : KORCH_ESYSTEM,
				 "%s: %s", what, sqlite3_errstr(rc));
	if (rc2 != SQLITE_OK)
		return error_set(err, KORCH_ESYSTEM, "%s: %s", what, sqlite3_errmsg(dst));
	return 0;
}

int
store_backup(struct store *s, const char *dest_path, korch_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	int r = temp_beside(dest_path, "backup", &tmp, err);
	if (r < 0)
		return korch_error_prefix(err, r, "backup %s", s->path);
	sqlite3 *dst = NULL;
	int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		r = error_set(err, KORCH_ESYSTEM, "backup to %s: %s", dest_path,
			      dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
		goto fail;
	}
	if ((r = copy_db(dst, s->db, "backup", err)) < 0)
		goto fail;
	/* A standalone file: no -wal or -shm beside it. */
	rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = error_set(err, KORCH_ESYSTEM, "backup to %s: %s", dest_path,
			      sqlite3_errmsg(dst));
		goto fail;
	}
	rc = sqlite3_close(dst);
	dst = NULL;
	if (rc != SQLITE_OK) {
		r = error_set(err, KORCH_ESYSTEM, "backup to %s: close failed", dest_path);
		goto fail;
	}
	if ((r = fsync_path(tmp, false, err)) < 0)
		goto fail;
	if (rename(tmp, dest_path) < 0) {
		r = error_errno(err, errno, "backup: rename to %s", dest_path);
		goto fail;
	}
	return fsync_parent(dest_path, err);
fail:
	sqlite3_close(dst);
	unlink_db_files(tmp);
	return r;
}

/* Opens backup_path read-only and checks that it is a korch store this korch can read. */
static int
open_backup(const char *backup_path, sqlite3 **ret, korch_error **err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(backup_path, &db, SQLITE_OPEN_READONLY, NULL);
	int r = 0;
	if (rc != SQLITE_OK) {
		int e = db ? sqlite3_system_errno(db) : 0;
		r = e ? error_errno(err, e, "restore from %s", backup_path)
		      : error_set(err, KORCH_ESYSTEM, "restore from %s: %s", backup_path,
				  sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &st, NULL);
	int64_t app_id = 0;
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		app_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_NOTADB) {
		r = error_set(err, KORCH_EINVALID, "%s is not a korch store: %s", backup_path,
			      sqlite3_errstr(rc));
		goto fail;
	}
	if (rc != SQLITE_ROW) {
		r = error_set(err, KORCH_ESYSTEM, "restore from %s: %s", backup_path,
			      sqlite3_errmsg(db));
		goto fail;
	}
	if (app_id != STORE_APPLICATION_ID) {
		r = error_set(err, KORCH_EINVALID,
			      "%s is not a korch store (SQLite application_id %#llx, want %#x)",
			      backup_path, (unsigned long long)app_id, STORE_APPLICATION_ID);
		goto fail;
	}
	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	int64_t version = 0;
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (version > STORE_SCHEMA_VERSION) {
		r = error_set(
			err, KORCH_EPROTO,
			"backup %s has schema version %lld, newer than this korch supports (%d)",
			backup_path, (long long)version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
	bool ok = rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
		  streq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	if (!ok) {
		r = error_set(err, KORCH_ESYSTEM, "backup %s fails its integrity check",
			      backup_path);
		goto fail;
	}
	*ret = db;
	return 0;
fail:
	sqlite3_close(db);
	return r;
}

/*
 * Restore goes through a temporary store beside the target: the backup is copied there,
 * migrated, and given a revision past both histories; then it is copied into the target with
 * the backup API through a store connection (so processes that have the target open see one
 * atomic change), or renamed into place when there is no target yet.
 */
int
store_restore(const char *path, const char *backup_path, int64_t *ret_revision, korch_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	sqlite3 *src = NULL, *dst = NULL;
	struct store *staged = NULL, *target = NULL;
	int r = open_backup(backup_path, &src, err);
	if (r < 0)
		return r;
	if ((r = temp_beside(path, "restore", &tmp, err)) < 0)
		goto out;
	int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		r = error_set(err, KORCH_ESYSTEM, "restore into %s: %s", tmp, sqlite3_errstr(rc));
		goto out;
	}
	if ((r = copy_db(dst, src, "restore: copy backup", err)) < 0)
		goto out;
	sqlite3_close(dst);
	sqlite3_close(src);
	dst = src = NULL;
	struct store_options opts = { .compact_keep_revisions = -1 };
	if ((r = store_open(tmp, &opts, &staged, err)) < 0) {
		korch_error_prefix(err, r, "restore from %s", backup_path);
		goto out;
	}
	struct stat st;
	bool have_target = stat(path, &st) == 0 && st.st_size > 0;
	int64_t rev_backup = 0, rev_target = 0;
	if (have_target && (r = store_open(path, &opts, &target, err)) < 0) {
		korch_error_prefix(err, r, "restore into %s", path);
		goto out;
	}
	if ((r = store_revision(staged, &rev_backup, NULL, err)) < 0 ||
	    (target && (r = store_revision(target, &rev_target, NULL, err)) < 0))
		goto out;
	int64_t rev = MAX(rev_backup, rev_target) + 1;
	if ((r = store_begin_write(staged, err)) < 0)
		goto out;
	if ((r = store_meta_set(staged, "revision", rev, err)) < 0 ||
	    (r = store_meta_set(staged, "compacted", rev, err)) < 0) {
		store_rollback(staged);
		goto out;
	}
	if ((r = store_commit_txn(staged, err)) < 0)
		goto out;
	if (target) {
		if ((r = copy_db(target->db, staged->db, "restore: replace store", err)) < 0)
			goto out;
		store_notify_written(target);
	} else {
		store_close(staged);
		staged = NULL;
		/* The staged store's own notify file goes; the new store makes its own. */
		_cleanup_free_ char *notify = store_notify_path(tmp);
		if (notify)
			unlink(notify);
		if (rename(tmp, path) < 0) {
			r = error_errno(err, errno, "restore: rename to %s", path);
			goto out;
		}
		free(tmp);
		tmp = NULL;
		if ((r = fsync_parent(path, err)) < 0)
			goto out;
	}
	if (ret_revision)
		*ret_revision = rev;
out:
	sqlite3_close(dst);
	sqlite3_close(src);
	store_close(staged);
	store_close(target);
	if (tmp)
		unlink_db_files(tmp);
	return r;
}

/* ---- integrity ---- */

int
store_check(struct store *s, korch_error **err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check(5)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_error(s, rc, err, "integrity check of %s", s->path);
	_cleanup_strbuf_ struct strbuf problems = STRBUF_INIT;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		if (streq(line, "ok"))
			continue;
		strbuf_printf(&problems, "%s%s", problems.len ? "; " : "", line);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_sqlite_error(s, rc, err, "integrity check of %s", s->path);
	if (problems.len)
		return error_set(err, KORCH_ESYSTEM, "store %s fails its integrity check: %s",
				 s->path, strbuf_str(&problems));
#define CURRENT_REVISION                                       \
	"max((SELECT value FROM meta WHERE key = 'revision')," \
	" coalesce((SELECT max(id) FROM history), 0) >> 20)"
	static const struct {
		const char *sql;     /* counts violations */
		const char *problem; /* what a non-zero count means */
	} checks[] = {
		{ "SELECT count(*) FROM objects o LEFT JOIN history h ON h.id = o.hid"
		  " WHERE h.id IS NULL",
		  "live objects whose current version is missing" },
		{ "SELECT count(*) FROM objects WHERE mod_rev > " CURRENT_REVISION
		  " OR create_rev > mod_rev OR hid >> 20 != mod_rev",
		  "objects whose revisions disagree with the history" },
		/* Rows of keys changed past the index's position wait for it to catch up. */
		{ "SELECT count(*) FROM labels l WHERE NOT EXISTS (SELECT 1 FROM objects o"
		  " WHERE o.res = l.res AND o.ns = l.ns AND o.name = l.name)"
		  " AND NOT EXISTS (SELECT 1 FROM history h"
		  " WHERE h.id > (SELECT value FROM meta WHERE key = 'label_pos')"
		  " AND h.res = l.res AND h.ns = l.ns AND h.name = l.name)",
		  "label index rows of objects that do not exist" },
		{ "SELECT (SELECT value FROM meta WHERE key = 'label_pos') >"
		  " coalesce((SELECT max(id) FROM history), 0)"
		  " AND (SELECT value FROM meta WHERE key = 'label_pos') >= "
		  " (SELECT value FROM meta WHERE key = 'revision') + 1 << 20",
		  "label index position past the history" },
		{ "SELECT count(*) FROM objects o WHERE NOT EXISTS (SELECT 1 FROM resources r"
		  " WHERE r.id = o.res)",
		  "objects of resources that are not recorded" },
		{ "SELECT (SELECT value FROM meta WHERE key = 'compacted') > " CURRENT_REVISION,
		  "compacted revision past the store's revision" },
	};
#undef CURRENT_REVISION
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		int64_t n = 0;
		int r = query_int(s, checks[i].sql, &n, err);
		if (r < 0)
			return r;
		if (n)
			return error_set(err, KORCH_ESYSTEM, "store %s: %lld %s", s->path,
					 (long long)n, checks[i].problem);
	}
	return 0;
}
