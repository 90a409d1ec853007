/*
 * store-watch.c - watches and the store's work on the loop: noticing commits (our own, other
 * handles' and other processes'), delivering history to each watch from its own position, and
 * the lease expiry timer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/log.h"
#include "base/util.h"
#include "store/store-internal.h"

/*
 * Objects another handle's commits may have waiting for this one's next dispatch: past this,
 * they are dropped (the watches then parse them), should this handle's loop not run for long.
 */
#define STORE_OFFERS_MAX 65536

/* Rows read per watch per dispatch (a transaction larger than this is read whole). */
#define WATCH_BATCH_ROWS 512

/*
 * Rows of one read parsed on the loop's thread; the rest of a larger read (objects created in
 * bulk: a deployment scaled up, a scheduler's benchmark) go to the parse worker, and the loop
 * runs its other work meanwhile. Not under a test clock: there a loop that looks idle lets the
 * clock move, which must not happen before the read is delivered (nor may a simulation start
 * a thread).
 */
#define PARSE_INLINE_ROWS 64

struct store_watch {
	struct store *store; /* the handle it reads from */
	store_watch_fn fn;   /* the callback */
	void *userdata;      /* passed to fn */
	char *group;         /* filter, NULL: any (group and resource go together) */
	char *resource;      /* filter, NULL: any */
	char *ns;            /* filter, NULL: any */
	char *name;          /* filter, NULL: any */
	bool no_prev;        /* MODIFIED events need no prev_object */
	int64_t pos;         /* delivered or skipped up to this revision */
	bool ended;          /* an error was delivered: no more callbacks */
	bool dead;           /* freed during delivery; unlinked afterwards */
};

/* One history row read for a watch. */
struct watch_row {
	int64_t id;      /* history id */
	int type;        /* enum hist_type */
	char *grp, *res; /* key */
	char *ns, *name; /* key */
	char *mkey;      /* the key in the parsed versions: "grp\nres\nns\nname" */
	int64_t prev_id; /* history id of the previous version, 0 for a create */
	json_t *obj;     /* the cached new version (a reference), or NULL: parse value */
	json_t *prev;    /* the cached previous version (a reference), or NULL: parse prev_text */
	char *value;     /* new value, when not cached; NULL for a delete */
	char *prev_text; /* previous value, when needed and not cached */
	bool deferred;   /* obj is parsed by the parse worker from the read's texts: */
	size_t text_off; /* the stored text's offset there */
	size_t text_len; /* and length */
};

static void
watch_free_now(struct store_watch *w)
{
	free(w->group);
	free(w->resource);
	free(w->ns);
	free(w->name);
	free(w);
}

/* Ends a watch: one callback with the error, then silence. */
static void _printf_(3, 4) watch_end(struct store_watch *w, int code, const char *fmt, ...)
{
	korch_error *e = NULL;
	va_list ap;
	va_start(ap, fmt);
	error_setv(&e, code, fmt, ap);
	va_end(ap);
	w->ended = true;
	w->fn(w, NULL, 0, e, w->userdata);
	korch_error_free(e);
}

static void
row_clear(struct watch_row *row)
{
	free(row->grp);
	free(row->res);
	free(row->ns);
	free(row->name);
	free(row->mkey);
	json_decref(row->obj);
	json_decref(row->prev);
	free(row->value);
	free(row->prev_text);
}

/*
 * Clears rows[0..n) and gives the array back to the handle for the next read: arrays of a
 * thousand rows are 64 KiB, and freeing a chunk that size makes glibc consolidate every fast
 * bin, which cost more than the delivery itself.
 */
static void
rows_release(struct store *s, struct watch_row *rows, size_t n, size_t cap)
{
	for (size_t i = 0; i < n; i++)
		row_clear(&rows[i]);
	if (!s->rows_buf && rows) {
		s->rows_buf = rows;
		s->rows_cap = cap;
	} else {
		free(rows);
	}
}

static char *
col_dup(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? strdup(t) : NULL;
}

/* ---- the parsed versions (store-internal.h) ---- */

json_t *
store_parsed_find(struct store *s, const char *mkey, int64_t id)
{
	struct parsed_version *v = hashmap_get(&s->parsed, mkey);
	if (!v)
		return NULL;
	if (v->id == id)
		return v->obj;
	return v->old_id == id ? v->old : NULL;
}

void
store_parsed_put(struct store *s, const char *mkey, int64_t id, json_t *obj)
{
	struct parsed_version *v = hashmap_get(&s->parsed, mkey);
	if (v && v->id == id && v->pending) {
		/* Delivered now: its previous version can go with the others after this dispatch. */
		v->pending = false;
		goto touch;
	}
	if (v && v->id >= id)
		return;
	if (!v) {
		if (!obj || !(v = calloc(1, sizeof(*v))))
			return; /* nothing to keep, or only a cache */
		if (hashmap_put(&s->parsed, mkey, v, NULL) < 0) {
			free(v);
			return;
		}
	} else {
		json_decref(v->old);
		v->old = v->obj;
		v->old_id = v->id;
	}
	v->id = id;
	v->obj = json_incref(obj);
	v->pending = false;
touch:
	if (!v->touched) {
		char *k = strdup(mkey);
		if (k && ptrvec_push(&s->parsed_touched, k) == 0)
			v->touched = true;
		else
			free(k);
	}
	/* Without a place in the list it could not be settled: keep nothing but the latest. */
	if (!v->touched) {
		json_decref(v->old);
		v->old = NULL;
		v->old_id = 0;
	}
}

static void
parsed_free(void *p)
{
	struct parsed_version *v = p;
	json_decref(v->obj);
	json_decref(v->old);
	free(v);
}

void
store_parsed_settle(struct store *s)
{
	for (size_t i = 0; i < s->parsed_touched.n; i++) {
		char *mkey = s->parsed_touched.items[i];
		struct parsed_version *v = hashmap_get(&s->parsed, mkey);
		if (v && !v->obj) {
			parsed_free(hashmap_remove(&s->parsed, mkey));
		} else if (v && v->pending) {
			v->touched = false; /* listed again when delivered */
		} else if (v) {
			json_decref(v->old);
			v->old = NULL;
			v->old_id = 0;
			v->touched = false;
		}
		free(mkey);
	}
	s->parsed_touched.n = 0;
}

void
store_parsed_clear(struct store *s)
{
	hashmap_free(&s->parsed, parsed_free);
	s->parsed = (struct hashmap)HASHMAP_INIT;
	ptrvec_free(&s->parsed_touched, free);
	s->parsed_compacted = -1;
}

void
store_parsed_check(struct store *s, int64_t compacted)
{
	if (s->parsed_compacted == compacted)
		return;
	store_parsed_clear(s);
	s->parsed_compacted = compacted;
}

/* ---- objects shared by another handle's commits (store_share_commits) ---- */

void
store_share_commits(struct store *from, struct store *to, const char *group, const char *resource)
{
	from->share_to = to;
	from->share_group = group;
	from->share_resource = resource;
}

static void
offers_free(struct store_offer *offers, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(offers[i].mkey);
		json_decref(offers[i].obj);
	}
	free(offers);
}

void
store_offer_commits(struct store *s, const struct store_op *ops, size_t n_ops, int64_t rev)
{
	struct store *to = s->share_to;
	struct store_offer *add = calloc(n_ops, sizeof(*add));
	size_t n = 0, seq = 0;
	for (size_t i = 0; add && i < n_ops; i++) {
		const struct store_op *op = &ops[i];
		if (op->type == STORE_OP_CHECK)
			continue;
		int64_t id = HIST_ID(rev, seq++);
		if (op->type == STORE_OP_DELETE || !streq(op->key.group, s->share_group) ||
		    !streq(op->key.resource, s->share_resource))
			continue;
		struct store_offer *o = &add[n];
		if (asprintf(&o->mkey, "%s\n%s\n%s\n%s", op->key.group, op->key.resource,
			     op->key.ns, op->key.name) < 0)
			break; /* only a cache: what is missing is parsed */
		o->id = id;
		o->obj = json_incref(op->obj);
		n++;
	}
	if (!n) {
		free(add);
		return;
	}
	pthread_mutex_lock(&to->offers_lock);
	bool ok = to->n_offers + n <= to->cap_offers;
	if (!ok && to->n_offers + n <= STORE_OFFERS_MAX) {
		size_t cap = to->cap_offers ? to->cap_offers : 256;
		while (cap < to->n_offers + n)
			cap *= 2;
		struct store_offer *o = realloc(to->offers, cap * sizeof(*o));
		if (o) {
			to->offers = o;
			to->cap_offers = cap;
			ok = true;
		}
	}
	if (ok) {
		memcpy(to->offers + to->n_offers, add, n * sizeof(*add));
		to->n_offers += n;
	}
	pthread_mutex_unlock(&to->offers_lock);
	if (ok)
		free(add);
	else
		offers_free(add, n);
}

void
store_offers_clear(struct store *s)
{
	offers_free(s->offers, s->n_offers);
	s->offers = NULL;
	s->n_offers = s->cap_offers = 0;
}

/* Whether segment seg of a parsed-versions key (up to '\n' or the end) is want. */
static bool
seg_is(const char *seg, const char *want)
{
	size_t len = strcspn(seg, "\n");
	return strlen(want) == len && memcmp(seg, want, len) == 0;
}

/*
 * Whether a watch of this handle that reads previous versions will deliver the version of mkey
 * at revision rev: only those put versions in the cache (see store-internal.h), and a version
 * no watch delivers would stay there with nobody to see its key change.
 */
static bool
offer_wanted(struct store *s, const char *mkey, int64_t rev)
{
	const char *seg[4] = { mkey };
	for (size_t i = 1; i < 4; i++) {
		const char *nl = strchr(seg[i - 1], '\n');
		if (!nl)
			return false;
		seg[i] = nl + 1;
	}
	for (size_t i = 0; i < s->watches.n; i++) {
		struct store_watch *w = s->watches.items[i];
		if (w->dead || w->ended || w->no_prev || w->pos >= rev)
			continue;
		if ((!w->group || (seg_is(seg[0], w->group) && seg_is(seg[1], w->resource))) &&
		    (!w->ns || seg_is(seg[2], w->ns)) && (!w->name || seg_is(seg[3], w->name)))
			return true;
	}
	return false;
}

/*
 * Takes the objects another handle committed (store_share_commits) into the parsed versions,
 * so that the watches deliver them without parsing their stored texts. Runs before the latest
 * revision is read: a version past the last one this handle has seen cannot have been
 * delivered (nor replaced in the cache) yet; older ones are dropped.
 */
static void
offers_take(struct store *s)
{
	pthread_mutex_lock(&s->offers_lock);
	struct store_offer *offers = steal_pointer(&s->offers);
	size_t n = s->n_offers;
	s->n_offers = s->cap_offers = 0;
	pthread_mutex_unlock(&s->offers_lock);
	for (size_t i = 0; i < n; i++) {
		int64_t rev = HIST_REV(offers[i].id);
		if (rev <= s->known_revision || !offer_wanted(s, offers[i].mkey, rev))
			continue;
		store_parsed_put(s, offers[i].mkey, offers[i].id, offers[i].obj);
		struct parsed_version *v = hashmap_get(&s->parsed, offers[i].mkey);
		if (v && v->id == offers[i].id)
			v->pending = true;
	}
	offers_free(offers, n);
}

/* Fills one row from the statement's current result. */
static int
row_fill(struct store_watch *w, sqlite3_stmt *st, struct watch_row *row, korch_error **err)
{
	struct store *s = w->store;
	memset(row, 0, sizeof(*row));
	row->id = sqlite3_column_int64(st, 0);
	row->type = sqlite3_column_int(st, 1);
	row->grp = col_dup(st, 2);
	row->res = col_dup(st, 3);
	row->ns = col_dup(st, 4);
	row->name = col_dup(st, 5);
	row->prev_id = sqlite3_column_int64(st, 8);
	if (!row->grp || !row->res || !row->ns || !row->name ||
	    asprintf(&row->mkey, "%s\n%s\n%s\n%s", row->grp, row->res, row->ns, row->name) < 0) {
		row->mkey = NULL;
		return error_oom(err);
	}
	/* Another watch of this handle may have delivered this very row already. */
	if (row->type != HIST_DELETE)
		row->obj = json_incref(store_parsed_find(s, row->mkey, row->id));
	/*
	 * Parsed from SQLite's buffer rather than copied first: a copy of a whole object (a pod's
	 * is 2 KiB) is an allocation past glibc's small bins, and each of those makes it
	 * consolidate every fast bin, which cost more than the copy. Past the read's first
	 * PARSE_INLINE_ROWS the texts are appended to the one buffer the parse worker reads
	 * instead. Text that does not parse is kept, for delivery to fail at its own revision.
	 */
	if (!row->obj && row->type != HIST_DELETE) {
		const char *text = (const char *)sqlite3_column_text(st, 6);
		int len = sqlite3_column_bytes(st, 6);
		if (text && !s->parse_inline) {
			row->deferred = true;
			row->text_off = s->parse_texts.len;
			row->text_len = (size_t)len;
			if (strbuf_append(&s->parse_texts, text, (size_t)len) < 0)
				return error_oom(err);
		} else {
			if (s->parse_inline)
				s->parse_inline--;
			if (!text || store_parse_value(text, len, &row->obj, NULL) < 0) {
				row->obj = NULL;
				if (!(row->value = col_dup(st, 6)))
					return error_oom(err);
			}
		}
	}
	/* The previous version: always for a delete (its last state), else unless refused. */
	if (!row->prev_id || (row->type != HIST_DELETE && w->no_prev))
		return 0;
	if ((row->prev = json_incref(store_parsed_find(s, row->mkey, row->prev_id))))
		return 0;
	if (sqlite3_column_type(st, 7) != SQLITE_NULL && !(row->prev_text = col_dup(st, 7)))
		return error_oom(err);
	return 0;
}

/* Appends the watch's rows with ids in [from_id, to_id), at most limit (-1: all). */
static int
scan_rows(struct store_watch *w, int64_t from_id, int64_t to_id, int limit, struct watch_row **rows,
	  size_t *n, size_t *cap, korch_error **err)
{
	struct store *s = w->store;
	sqlite3_stmt *st = store_stmt(s, w->group ? STMT_WATCH_ROWS_RES : STMT_WATCH_ROWS, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, from_id);
	sqlite3_bind_int64(st, 2, to_id);
	if (w->group) {
		sqlite3_bind_text(st, 3, w->group, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, w->resource, -1, SQLITE_STATIC);
	}
	if (w->ns)
		sqlite3_bind_text(st, 5, w->ns, -1, SQLITE_STATIC);
	if (w->name)
		sqlite3_bind_text(st, 6, w->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, limit);
	int r = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct watch_row *row = VEC_PUSH(*rows, *n, *cap);
		if (!row) {
			r = error_oom(err);
			break;
		}
		if ((r = row_fill(w, st, row, err)) < 0)
			break;
	}
	sqlite3_reset(st);
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sqlite_error(s, rc, err, "read history");
	return r;
}

/*
 * Reads the watch's rows with ids in [from_id, to_id), at most limit of them plus the rest of
 * the last one's revision (a batch never ends inside a transaction, and nothing is read twice),
 * inside one read transaction that also checks the compacted revision. *ret_full tells that the
 * limit was reached: the rows then end with a whole revision, but not necessarily at to_id. The
 * array comes from the handle's spare one when it has it (give it back with rows_release()).
 */
static int
read_rows(struct store_watch *w, int64_t from_id, int64_t to_id, int limit, struct watch_row **ret,
	  size_t *ret_n, size_t *ret_cap, bool *ret_full, korch_error **err)
{
	struct store *s = w->store;
	int r = store_begin_read(s, err);
	if (r < 0)
		return r;
	int64_t compacted = 0;
	if ((r = store_meta_get(s, "compacted", &compacted, err)) < 0)
		goto fail;
	if (w->pos < compacted) {
		r = error_set(err, KORCH_EGONE, "too old resource version: %lld (%lld)",
			      (long long)w->pos, (long long)compacted);
		goto fail;
	}
	store_parsed_check(s, compacted);
	s->parse_inline = s->parse_async ? PARSE_INLINE_ROWS : SIZE_MAX;
	if (s->parse_texts.oom)
		strbuf_free(&s->parse_texts); /* an append failed: start afresh */
	strbuf_truncate(&s->parse_texts, 0);
	struct watch_row *rows = steal_pointer(&s->rows_buf);
	size_t n = 0, cap = rows ? s->rows_cap : 0;
	r = scan_rows(w, from_id, to_id, limit, &rows, &n, &cap, err);
	bool full = r == 0 && n == (size_t)limit;
	if (full) {
		int64_t last_id = rows[n - 1].id, end = HIST_ID_AFTER(HIST_REV(last_id));
		r = scan_rows(w, last_id + 1, end < to_id ? end : to_id, -1, &rows, &n, &cap, err);
	}
	if (r < 0) {
		rows_release(s, rows, n, cap);
		goto fail;
	}
	if ((r = store_commit_txn(s, err)) < 0) {
		rows_release(s, rows, n, cap);
		return r;
	}
	*ret = rows;
	*ret_n = n;
	*ret_cap = cap;
	*ret_full = full;
	return 0;
fail:
	store_rollback(s);
	return r;
}

/*
 * The row's new version (borrowed by the row), parsed on first use; recorded as its key's
 * latest when the watch reads previous versions (put), a delete as the key's end.
 */
static int
row_object(struct store *s, struct watch_row *row, bool put, korch_error **err)
{
	if (row->type == HIST_DELETE) {
		if (put)
			store_parsed_put(s, row->mkey, row->id, NULL);
		if (!row->prev) {
			return error_set(err, KORCH_ESYSTEM,
					 "history: delete of %s at %lld has no previous version",
					 row->name, (long long)HIST_REV(row->id));
		}
		/* The last state with the deletion's revision; prev is shared, so a copy. */
		if (!row->obj && (!(row->obj = json_deep_copy(row->prev)) ||
				  store_set_rv(row->obj, HIST_REV(row->id)) < 0))
			return error_oom(err);
		return 0;
	}
	if (!row->obj) {
		int r = store_parse_value(row->value, (int)strlen(row->value), &row->obj, err);
		if (r < 0)
			return r;
	}
	if (put)
		store_parsed_put(s, row->mkey, row->id, row->obj);
	return 0;
}

/*
 * The row's previous version, parsed on first use unless an earlier row of the same read
 * cached it meanwhile.
 */
static int
row_prev(struct store *s, struct watch_row *row, korch_error **err)
{
	if (row->prev || !row->prev_text ||
	    (row->prev = json_incref(store_parsed_find(s, row->mkey, row->prev_id))))
		return 0;
	return store_parse_value(row->prev_text, (int)strlen(row->prev_text), &row->prev, err);
}

/*
 * Builds the events of rows[0..n) (one revision) and calls the watch once. The events array is
 * the handle's (events_buf) when no other delivery holds it.
 */
static int
deliver_revision(struct store_watch *w, struct watch_row *rows, size_t n, korch_error **err)
{
	struct store *s = w->store;
	struct store_event *ev = steal_pointer(&s->events_buf);
	size_t cap = ev ? s->events_cap : 0;
	if (cap < n) {
		free(ev);
		cap = n < 64 ? 64 : n;
		if (!(ev = malloc(cap * sizeof(*ev))))
			return error_oom(err);
	}
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		struct watch_row *row = &rows[i];
		struct store_event *e = &ev[i];
		if ((r = row_prev(s, row, err)) < 0 ||
		    (r = row_object(s, row, !w->no_prev, err)) < 0)
			break;
		*e = (struct store_event){
			.type = row->type == HIST_CREATE   ? STORE_EVENT_ADDED
				: row->type == HIST_UPDATE ? STORE_EVENT_MODIFIED
							   : STORE_EVENT_DELETED,
			.revision = HIST_REV(row->id),
			.key = { row->grp, row->res, row->ns, row->name },
			.object = row->obj,
			.prev_object = row->prev,
		};
	}
	if (r == 0)
		w->fn(w, ev, n, NULL, w->userdata);
	if (!s->events_buf) {
		s->events_buf = ev;
		s->events_cap = cap;
	} else {
		free(ev);
	}
	return r;
}

/*
 * Delivers rows[0..n) read for the watch, revision by revision, and moves its position to
 * scanned, the last revision the read covered. Gives the rows back.
 */
static void
deliver_rows(struct store_watch *w, struct watch_row *rows, size_t n, size_t cap, int64_t scanned)
{
	_cleanup_error_ korch_error *err = NULL;
	struct store *s = w->store;
	size_t i = 0;
	while (i < n && !w->dead && !w->ended) {
		size_t j = i + 1;
		int64_t rev = HIST_REV(rows[i].id);
		while (j < n && HIST_REV(rows[j].id) == rev)
			j++;
		int r = deliver_revision(w, rows + i, j - i, &err);
		if (r < 0) {
			if (!w->dead)
				watch_end(w, r, "watch: %s", korch_error_message(err));
			break;
		}
		if (!w->ended)
			w->pos = rev;
		i = j;
	}
	if (!w->dead && !w->ended && w->pos < scanned)
		w->pos = scanned;
	rows_release(s, rows, n, cap);
}

/* Frees the watches freed during delivery, once no delivery is running. */
static void
watches_sweep(struct store *s)
{
	if (s->delivering || !s->watches_dirty)
		return;
	for (size_t i = 0; i < s->watches.n;) {
		struct store_watch *w = s->watches.items[i];
		if (w->dead) {
			ptrvec_remove(&s->watches, i);
			watch_free_now(w);
		} else {
			i++;
		}
	}
	s->watches_dirty = false;
}

/* ---- parsing large reads on a worker ---- */

/* A read whose deferred rows the worker parses; the loop delivers it when done. */
struct parse_job {
	struct store *store;    /* the handle */
	struct store_watch *w;  /* marked dead, not freed, while the job runs (s->delivering) */
	struct watch_row *rows; /* the read, deferred rows among them */
	size_t n, cap;          /* rows read, allocated */
	int64_t scanned;        /* the last revision the read covered */
	struct strbuf texts;    /* the deferred rows' stored texts */
	bool dropped;           /* the handle is closing: deliver nothing */
};

/* On the worker: touches only the job's rows and texts. */
static void
parse_work(void *userdata)
{
	struct parse_job *job = userdata;
	for (size_t i = 0; i < job->n; i++) {
		struct watch_row *row = &job->rows[i];
		if (!row->deferred)
			continue;
		const char *text = job->texts.buf + row->text_off;
		/* Text that does not parse is kept, for delivery to fail at its own revision. */
		if (store_parse_value(text, (int)row->text_len, &row->obj, NULL) < 0) {
			row->obj = NULL;
			row->value = strndup(text, row->text_len);
		}
	}
}

/* Ends a job: what store_dispatch() does after delivering, and the next dispatch. */
static void
parse_done(void *userdata, bool canceled)
{
	struct parse_job *job = userdata;
	struct store *s = job->store;
	s->parse_job = NULL;
	canceled |= job->dropped;
	bool failed = false;
	for (size_t i = 0; i < job->n; i++)
		if (job->rows[i].deferred && !job->rows[i].obj && !job->rows[i].value)
			failed = true; /* out of memory keeping the text */
	if (canceled || failed) {
		if (!canceled && !job->w->dead)
			watch_end(job->w, KORCH_ENOMEM, "watch: out of memory");
		rows_release(s, job->rows, job->n, job->cap);
	} else {
		deliver_rows(job->w, job->rows, job->n, job->cap, job->scanned);
	}
	if (!s->parse_texts.buf) {
		s->parse_texts = job->texts;
		strbuf_truncate(&s->parse_texts, 0);
	} else {
		strbuf_free(&job->texts);
	}
	free(job);
	s->delivering--;
	if (canceled)
		return;
	watches_sweep(s);
	if (!s->delivering)
		store_parsed_settle(s);
	if (s->defer_src)
		loop_defer_enable(s->defer_src);
}

/*
 * Hands rows with deferred texts to the parse worker; their delivery, and the handle's next
 * dispatch, wait for it. Returns false when that could not start (the caller parses them).
 */
static bool
parse_submit(struct store_watch *w, struct watch_row *rows, size_t n, size_t cap, int64_t scanned)
{
	struct store *s = w->store;
	_cleanup_error_ korch_error *err = NULL;
	if (!s->parse_pool && pool_new(s->opts.loop, 1, &s->parse_pool, &err) < 0)
		return false;
	struct parse_job *job = calloc(1, sizeof(*job));
	if (!job)
		return false;
	*job = (struct parse_job){ .store = s,
				   .w = w,
				   .rows = rows,
				   .n = n,
				   .cap = cap,
				   .scanned = scanned,
				   .texts = s->parse_texts };
	s->parse_texts = (struct strbuf)STRBUF_INIT;
	s->parse_job = job;
	s->delivering++;
	if (pool_submit(s->parse_pool, parse_work, parse_done, job, &err) < 0) {
		s->delivering--;
		s->parse_job = NULL;
		s->parse_texts = job->texts;
		free(job);
		return false;
	}
	return true;
}

void
store_parse_stop(struct store *s)
{
	if (s->parse_job)
		s->parse_job->dropped = true;
	pool_free(steal_pointer(&s->parse_pool)); /* ends the job, if any */
	strbuf_free(&s->parse_texts);
}

/*
 * Delivers at most one batch of the watch's changes up to revision target, or hands it to the
 * parse worker first. Returns after the watch ended or was freed, too.
 */
static void
watch_deliver(struct store_watch *w, int64_t target)
{
	_cleanup_error_ korch_error *err = NULL;
	struct store *s = w->store;
	struct watch_row *rows = NULL;
	size_t n = 0, cap = 0;
	bool full = false;
	int r = read_rows(w, HIST_ID_AFTER(w->pos), HIST_ID_AFTER(target), WATCH_BATCH_ROWS, &rows,
			  &n, &cap, &full, &err);
	if (r < 0) {
		watch_end(w, r, "watch: %s", korch_error_message(err));
		return;
	}
	/* A full batch ends with a whole revision; the next one starts after it. */
	int64_t scanned = full ? HIST_REV(rows[n - 1].id) : target;
	if (s->parse_texts.len && parse_submit(w, rows, n, cap, scanned))
		return;
	/* Deferred rows the worker could not take are parsed at delivery (row_object). */
	for (size_t i = 0; i < n; i++)
		if (rows[i].deferred &&
		    !(rows[i].value =
			      strndup(s->parse_texts.buf + rows[i].text_off, rows[i].text_len))) {
			rows_release(s, rows, n, cap);
			watch_end(w, KORCH_ENOMEM, "watch: out of memory");
			return;
		}
	deliver_rows(w, rows, n, cap, scanned);
}

/*
 * Looks at the latest revision and gives each watch that is behind one batch, up to the first
 * batch handed to the parse worker (its end dispatches again).
 */
static void
store_dispatch(struct store *s)
{
	_cleanup_error_ korch_error *err = NULL;
	int64_t cur = 0;
	if (s->parse_job)
		return; /* its end dispatches again */
	offers_take(s);
	if (store_current_revision(s, &cur, &err) < 0) {
		log_warn("store", "%s: %s", s->path, korch_error_message(err));
		return;
	}
	s->known_revision = cur;
	bool more = false;
	s->delivering++;
	/*
	 * From the watch after the one whose read went to the parse worker, when the last dispatch
	 * ended there: a watch with reads to parse one after another must not hold back those
	 * after it. Otherwise in the order the watches were made.
	 */
	size_t n = s->watches.n, first = n ? s->dispatch_next % n : 0;
	s->dispatch_next = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = (first + k) % n;
		struct store_watch *w = s->watches.items[i];
		if (w->dead || w->ended || w->pos >= cur)
			continue;
		watch_deliver(w, cur);
		if (s->parse_job) {
			s->dispatch_next = i + 1;
			break;
		}
		if (!w->dead && !w->ended && w->pos < cur)
			more = true;
	}
	s->delivering--;
	watches_sweep(s);
	if (!s->delivering)
		store_parsed_settle(s);
	if (more && s->defer_src)
		loop_defer_enable(s->defer_src);
	store_lease_timer_update(s);
}

int
store_poll(struct store *s, korch_error **err)
{
	if (!s->opts.loop)
		return error_set(err, KORCH_EINVALID, "store %s has no event loop", s->path);
	loop_defer_enable(s->defer_src);
	return 0;
}

void
store_notify_written(struct store *s)
{
	/*
	 * Other handles and processes watch PATH-notify for reads (IN_ACCESS): a read changes no
	 * inode on disk (atime is left alone under relatime), where touching the database file's
	 * mtime, as korch did first, dirtied an inode per commit and cost a durable commit up to a
	 * quarter of its time on a fast disk. The mtime stays the fallback when there is no such
	 * file. Errors only delay the watchers (until their poll).
	 */
	char c;
	if (s->notify_fd < 0 || pread(s->notify_fd, &c, 1, 0) != 1)
		(void)utimensat(AT_FDCWD, s->path, NULL, 0);
	if (s->defer_src)
		loop_defer_enable(s->defer_src);
}

static void
on_defer(struct loop_source *src, void *userdata)
{
	store_dispatch(userdata);
}

static void
on_inotify(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct store *s = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	store_dispatch(s);
}

/* The fallback for writers that do not touch the file: PRAGMA data_version moved. */
static void
on_poll(struct loop_source *src, void *userdata)
{
	struct store *s = userdata;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		int64_t v = sqlite3_column_int64(st, 0);
		if (v != s->data_version) {
			s->data_version = v;
			store_dispatch(s);
		}
	}
	sqlite3_finalize(st);
	loop_timer_set(src, korch_clock_now_ns(korch_loop_clock(s->opts.loop)) +
				    (int64_t)s->opts.poll_interval_ms * NSEC_PER_MSEC);
}

static void
on_lease_timer(struct loop_source *src, void *userdata)
{
	struct store *s = userdata;
	_cleanup_error_ korch_error *err = NULL;
	if (store_lease_expire(s, NULL, &err) < 0)
		log_warn("store", "%s: %s", s->path, korch_error_message(err));
	store_lease_timer_update(s);
}

void
store_lease_timer_update(struct store *s)
{
	if (!s->lease_timer || s->in_txn)
		return;
	sqlite3_stmt *st = store_stmt(s, STMT_LEASE_NEXT_EXPIRY, NULL);
	if (!st)
		return;
	int64_t expiry = -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		expiry = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (expiry < 0) {
		loop_timer_set(s->lease_timer, -1);
		return;
	}
	korch_clock *lc = korch_loop_clock(s->opts.loop);
	int64_t wait = expiry - korch_clock_wall_ns(s->clock);
	loop_timer_set(s->lease_timer, korch_clock_now_ns(lc) + (wait > 0 ? wait : 0));
}

int
store_loop_attach(struct store *s, korch_error **err)
{
	korch_loop *loop = s->opts.loop;
	int r;
	s->parse_async = !clock_is_test(korch_loop_clock(loop));
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd < 0)
		return error_errno(err, errno, "inotify for %s", s->path);
	if (inotify_add_watch(s->inotify_fd, s->path, IN_ATTRIB) < 0)
		return error_errno(err, errno, "inotify watch on %s", s->path);
	if (s->notify_fd >= 0) {
		_cleanup_free_ char *notify = store_notify_path(s->path);
		if (!notify)
			return error_oom(err);
		if (inotify_add_watch(s->inotify_fd, notify, IN_ACCESS) < 0)
			return error_errno(err, errno, "inotify watch on %s", notify);
	}
	if ((r = loop_add_io(loop, s->inotify_fd, EPOLLIN, on_inotify, s, &s->inotify_src, err)) <
		    0 ||
	    (r = loop_add_defer(loop, on_defer, s, &s->defer_src, err)) < 0 ||
	    (r = loop_add_timer(loop, -1, on_lease_timer, s, &s->lease_timer, err)) < 0)
		return r;
	if (s->opts.poll_interval_ms > 0 &&
	    (r = loop_add_timer(loop,
				korch_clock_now_ns(korch_loop_clock(loop)) +
					(int64_t)s->opts.poll_interval_ms * NSEC_PER_MSEC,
				on_poll, s, &s->poll_timer, err)) < 0)
		return r;
	if ((r = store_compact_attach(s, err)) < 0)
		return r;
	store_lease_timer_update(s);
	return 0;
}

void
store_loop_detach(struct store *s)
{
	store_parse_stop(s);
	loop_source_free(s->inotify_src);
	loop_source_free(s->defer_src);
	loop_source_free(s->poll_timer);
	loop_source_free(s->lease_timer);
	loop_source_free(s->compact_timer);
	s->inotify_src = s->defer_src = s->poll_timer = s->lease_timer = s->compact_timer = NULL;
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	s->inotify_fd = -1;
}

void
store_watches_free_all(struct store *s)
{
	for (size_t i = 0; i < s->watches.n; i++)
		watch_free_now(s->watches.items[i]);
	s->watches.n = 0;
}

/* ---- the watch API ---- */

static int
dup_opt(const char *in, char **out)
{
	*out = NULL;
	if (in && !(*out = strdup(in)))
		return KORCH_ENOMEM;
	return 0;
}

int
store_watch_new(struct store *s, const struct store_watch_options *opts, store_watch_fn fn,
		void *userdata, struct store_watch **ret_watch, korch_error **err)
{
	if (!s->opts.loop)
		return error_set(err, KORCH_EINVALID,
				 "watch needs a store opened with an event loop (%s)", s->path);
	if (!opts || !fn || (!opts->group != !opts->resource) ||
	    opts->from_revision < STORE_REVISION_NOW)
		return error_set(err, KORCH_EINVALID,
				 "watch needs a callback, a group together with a resource, and a"
				 " revision");
	int64_t cur = 0, compacted = 0;
	int r = store_revision(s, &cur, &compacted, err);
	if (r < 0)
		return r;
	int64_t from = opts->from_revision == STORE_REVISION_NOW ? cur : opts->from_revision;
	if (from < compacted)
		return error_set(err, KORCH_EGONE, "too old resource version: %lld (%lld)",
				 (long long)from, (long long)compacted);
	if (from > cur)
		return error_set(err, KORCH_ETIMEOUT,
				 "Too large resource version: %lld, current: %lld", (long long)from,
				 (long long)cur);
	struct store_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return error_oom(err);
	w->store = s;
	w->fn = fn;
	w->userdata = userdata;
	w->pos = from;
	w->no_prev = opts->no_prev;
	if (dup_opt(opts->group, &w->group) < 0 || dup_opt(opts->resource, &w->resource) < 0 ||
	    dup_opt(opts->ns, &w->ns) < 0 || dup_opt(opts->name, &w->name) < 0 ||
	    ptrvec_push(&s->watches, w) < 0) {
		watch_free_now(w);
		return error_oom(err);
	}
	if (from < cur)
		loop_defer_enable(s->defer_src);
	*ret_watch = w;
	return 0;
}

int64_t
store_watch_revision(const struct store_watch *w)
{
	return w->pos;
}

void
store_watch_free(struct store_watch *w)
{
	if (!w)
		return;
	struct store *s = w->store;
	/* Its versions would stay cached with nobody left to see their keys change. */
	if (!w->no_prev)
		store_parsed_clear(s);
	if (s->delivering) {
		w->dead = true;
		s->watches_dirty = true;
		return;
	}
	for (size_t i = 0; i < s->watches.n; i++)
		if (s->watches.items[i] == w) {
			ptrvec_remove(&s->watches, i);
			break;
		}
	watch_free_now(w);
}
