/*
 * store-labels.c - the label index, kept up to date from the history in batches.
 *
 * A write transaction writes its history rows (each with its object's metadata.labels) and
 * object rows, and nothing in the label index: one index page per label per commit would more
 * than double what a single durable create writes. The index instead follows the history up to
 * meta 'label_pos' (the last history id it reflects), and the write transaction that leaves it
 * more than label_lag_rows rows behind brings it up to date, for all the keys changed since at
 * once (many of their index rows share pages). Lists read the few rows past 'label_pos' from
 * the history themselves (store-read.c).
 *
 * Catching up takes two passes over the rows past 'label_pos':
 *  1. the updates and deletes, in order, each moving its key's index rows from its previous
 *     version's labels to its own (nothing to do when they are the same text, as for most status
 *     updates); a previous version that is a create of this same batch has no index rows yet;
 *  2. the creates that no later row of the batch replaced, whose labels SQLite inserts in one
 *     statement (json_each over the labels each history row carries).
 * A create that a later row replaced is covered by pass 1 (that row starts from no rows), and a
 * key deleted and created again in one batch loses its old rows in pass 1 before pass 2 adds the
 * new ones.
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

/* Pass 1: the updates and deletes after pos, in order. */
static int
index_changes(struct store *s, int64_t pos, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_LABEL_TAIL_CHANGES, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, pos);
	int rc, r = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t res = sqlite3_column_int64(st, 0);
		const char *ns = (const char *)sqlite3_column_text(st, 1);
		const char *name = (const char *)sqlite3_column_text(st, 2);
		bool deleted = sqlite3_column_int(st, 3) == HIST_DELETE;
		const char *now = deleted ? NULL : (const char *)sqlite3_column_text(st, 4);
		bool prev_unindexed = sqlite3_column_int(st, 6);
		const char *before =
			prev_unindexed ? NULL : (const char *)sqlite3_column_text(st, 5);
		if (streq_null(now, before))
			continue;
		json_t *old = NULL, *new = NULL;
		if ((r = parse_labels(before, sqlite3_column_bytes(st, 5), &old, err)) == 0 &&
		    (r = parse_labels(now, sqlite3_column_bytes(st, 4), &new, err)) == 0)
			r = index_key(s, res, ns, name, old, new, err);
		json_decref(old);
		json_decref(new);
		if (r < 0)
			break;
	}
	sqlite3_reset(st);
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sqlite_error(s, rc, err, "read unindexed history");
	return r;
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
	if ((r = index_changes(s, pos, err)) < 0)
		return korch_error_prefix(err, r, "label index");
	sqlite3_stmt *st = store_stmt(s, STMT_LABEL_TAIL_NEW, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, pos);
	if ((r = store_exec_stmt(s, st, err, "index labels")) < 0)
		return korch_error_prefix(err, r, "label index");
	if (!(st = store_stmt(s, STMT_LABEL_POS_SET, err)))
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, pos);
	if ((r = store_exec_stmt(s, st, err, "move the label index position")) < 0)
		return r;
	/* The position is the last row now (this transaction's last, when it wrote). */
	s->label_tail_rows = 0;
	s->label_tail_pos = added > 0 ? HIST_ID(rev, added - 1) : -1;
	s->label_tail_rev = rev;
	return 0;
}
