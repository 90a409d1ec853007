/*
 * store-labels.c - the label index, kept up to date from the history in batches.
 *
 * A write transaction writes its history rows (each with its object's metadata.labels) and
 * object rows, and nothing in the label index: one index page per label per commit would more
 * than double what a single durable create writes. The index instead follows the history up to
 * meta 'label_pos' (the last history id it reflects), and the write transaction that leaves it
 * more than label_lag_rows rows behind brings it up to date, for all the keys changed since at
 * once (many of their index rows share pages), replaying each change in order: a row's labels
 * replace its previous version's. Lists read the few rows past 'label_pos' from the history
 * themselves (store-read.c).
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "store/store-internal.h"

/* Parses a stored labels text (NULL: no labels). */
static int
parse_labels(const char *text, int len, json_t **ret, korch_error **err)
{
	*ret = NULL;
	if (!text)
		return 0;
	return store_parse_value(text, len, ret, err);
}

static bool
same_string(const json_t *a, const json_t *b)
{
	return json_is_string(a) && json_is_string(b) &&
	       json_string_length(a) == json_string_length(b) &&
	       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
}

/* One index row in or out: (res, key, value, ns, name). */
static int
index_row(struct store *s, bool insert, int64_t res, const char *key, const json_t *value,
	  const char *ns, const char *name, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, insert ? STMT_LABEL_INSERT : STMT_LABEL_DELETE, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, res);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, json_string_value(value), (int)json_string_length(value),
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
	return store_exec_stmt(s, st, err, insert ? "index label" : "unindex label");
}

/* Moves one key's index rows from its labels before (old) to its labels now (new). */
static int
index_key(struct store *s, int64_t res, const char *ns, const char *name, const json_t *old,
	  const json_t *new, korch_error **err)
{
	const char *k;
	json_t *v;
	int r;
	json_object_foreach ((json_t *)old, k, v) {
		if (json_is_string(v) && !same_string(v, json_object_get(new, k)) &&
		    (r = index_row(s, false, res, k, v, ns, name, err)) < 0)
			return r;
	}
	json_object_foreach ((json_t *)new, k, v) {
		if (json_is_string(v) && !same_string(v, json_object_get(old, k)) &&
		    (r = index_row(s, true, res, k, v, ns, name, err)) < 0)
			return r;
	}
	return 0;
}

/* The number of history rows after pos, counting no further than limit. */
static int
tail_rows(struct store *s, int64_t pos, int64_t limit, int64_t *ret, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_LABEL_TAIL_COUNT, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, pos);
	sqlite3_bind_int64(st, 2, limit);
	int rc = sqlite3_step(st);
	int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return store_sqlite_error(s, rc, err, "count unindexed history");
	*ret = n;
	return 0;
}

int
store_labels_catch_up(struct store *s, bool force, int64_t cur, int64_t label_pos, int64_t added,
		      korch_error **err)
{
	int64_t pos = label_pos, n = 0;
	int r;
	if (pos < 0 && (r = store_meta_get(s, "label_pos", &pos, err)) < 0)
		return r;
	int64_t lag = s->opts.label_lag_rows, rev = added > 0 ? cur + 1 : cur;
	if (!force) {
		/*
		 * Counting the rows past the index costs as much as the lag allows; a handle that
		 * was the last to write knows the count without it.
		 */
		if (added >= 0 && s->label_tail_rev == cur && s->label_tail_pos == pos)
			n = s->label_tail_rows + added;
		else if ((r = tail_rows(s, pos, lag + 1, &n, err)) < 0)
			return r;
		s->label_tail_rows = n;
		s->label_tail_pos = pos;
		s->label_tail_rev = rev;
		if (n <= lag)
			return 0;
	}
	s->label_tail_rev = -1;
	sqlite3_stmt *st = store_stmt(s, STMT_LABEL_TAIL_ROWS, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, pos);
	int64_t last = pos;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t res = sqlite3_column_int64(st, 0);
		const char *ns = (const char *)sqlite3_column_text(st, 1);
		const char *name = (const char *)sqlite3_column_text(st, 2);
		last = MAX(last, sqlite3_column_int64(st, 3));
		bool deleted = sqlite3_column_int(st, 4) == HIST_DELETE;
		const char *now = deleted ? NULL : (const char *)sqlite3_column_text(st, 5);
		const char *before = (const char *)sqlite3_column_text(st, 6);
		if (streq_null(now, before))
			continue;
		json_t *old = NULL, *new = NULL;
		if ((r = parse_labels(before, sqlite3_column_bytes(st, 6), &old, err)) == 0 &&
		    (r = parse_labels(now, sqlite3_column_bytes(st, 5), &new, err)) == 0)
			r = index_key(s, res, ns, name, old, new, err);
		json_decref(old);
		json_decref(new);
		if (r < 0) {
			sqlite3_reset(st);
			return korch_error_prefix(err, r, "label index");
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_sqlite_error(s, rc, err, "read unindexed history");
	if (last != pos && (r = store_meta_set(s, "label_pos", last, err)) < 0)
		return r;
	s->label_tail_rows = 0;
	s->label_tail_pos = last;
	s->label_tail_rev = rev;
	return 0;
}
