/*
 * store-read.c - lists: one snapshot per page, pages consistent at the first page's revision
 * (continue tokens), equality label requirements answered from the label index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "store/store-internal.h"

#define CONTINUE_VERSION "korch.store/v1"

/* Kubernetes' message for a continue token whose revision was compacted (410 Expired). */
#define CONTINUE_EXPIRED_MESSAGE                                                                   \
	"The provided continue parameter is too old to display a consistent list result. You can " \
	"start a new list without the continue parameter, or use the continue token in this "      \
	"response to retrieve the remainder of the results. Continuing with the provided token "   \
	"results in an inconsistent list - objects that were created, modified, or deleted "       \
	"between the time the first chunk was returned and now may show up in the list."

/* Where a page starts: strictly after (ns, name), at revision rev. */
struct list_pos {
	int64_t rev; /* the list's revision */
	char *ns;    /* last key examined: namespace */
	char *name;  /* last key examined: name */
};

/*
 * A key the live scan cannot show (changed after the list's revision, or after the label
 * index's position), with its version at the list's revision when that matches the list's label
 * requirements.
 */
struct changed {
	char *ns;     /* namespace */
	char *name;   /* name */
	int64_t id;   /* the history row read */
	char *text;   /* that version as stored; NULL: absent at the revision, or not matching */
	char *labels; /* its labels as stored, when the list has a label filter (else NULL) */
};

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The token is the hex form of {"v":..,"rv":..,"ns":..,"name":..}: opaque and URL-safe. */
static char *
continue_encode(int64_t rev, const char *ns, const char *name)
{
	json_t *j = json_pack("{s:s, s:I, s:s, s:s}", "v", CONTINUE_VERSION, "rv", (json_int_t)rev,
			      "ns", ns, "name", name);
	if (!j)
		return NULL;
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		return NULL;
	size_t n = strlen(text);
	char *hex = malloc(2 * n + 1);
	if (hex) {
		for (size_t i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x", (unsigned char)text[i]);
		hex[2 * n] = '\0';
	}
	free(text);
	return hex;
}

static int
continue_decode(const char *token, struct list_pos *ret, korch_error **err)
{
	size_t n = strlen(token);
	if (n == 0 || n % 2 || n > 8192)
		return error_set(err, KORCH_EINVALID, "continue key is not valid: bad encoding");
	_cleanup_free_ char *text = malloc(n / 2 + 1);
	if (!text)
		return error_oom(err);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_value(token[2 * i]), lo = hex_value(token[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return error_set(err, KORCH_EINVALID,
					 "continue key is not valid: bad encoding");
		text[i] = (char)(hi << 4 | lo);
	}
	text[n / 2] = '\0';
	json_t *j = json_loads(text, 0, NULL);
	const char *v = NULL, *ns = NULL, *name = NULL;
	json_int_t rev = 0;
	if (!j || json_unpack(j, "{s:s, s:I, s:s, s:s}", "v", &v, "rv", &rev, "ns", &ns, "name",
			      &name) < 0) {
		json_decref(j);
		return error_set(err, KORCH_EINVALID, "continue key is not valid: bad encoding");
	}
	if (!streq(v, CONTINUE_VERSION) || rev <= 0) {
		json_decref(j);
		return error_set(
			err, KORCH_EINVALID,
			"continue key is not valid: incorrect encoded start resourceVersion"
			" (version %s)",
			CONTINUE_VERSION);
	}
	ret->rev = rev;
	ret->ns = strdup(ns);
	ret->name = strdup(name);
	json_decref(j);
	if (!ret->ns || !ret->name) {
		free(ret->ns);
		free(ret->name);
		return error_oom(err);
	}
	return 0;
}

static int
key_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b)
{
	int c = strcmp(ns_a, ns_b);
	return c ? c : strcmp(name_a, name_b);
}

/* Whether every equality requirement holds on a labels text as stored (NULL: none). */
static int
labels_match(const char *text, const struct store_label *req, size_t n, bool *ret,
	     korch_error **err)
{
	*ret = true;
	if (n == 0)
		return 0;
	*ret = false;
	if (!text)
		return 0;
	json_t *l = NULL;
	int r = store_parse_value(text, (int)strlen(text), &l, err);
	if (r < 0)
		return r;
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		const json_t *v = json_object_get(l, req[i].key);
		ok = json_is_string(v) && streq(json_string_value(v), req[i].value);
	}
	json_decref(l);
	*ret = ok;
	return 0;
}

/*
 * The list statement using the label index: the first requirement drives an index range in key
 * order, the others are point lookups in the same index. Cached for up to LABEL_STMT_CACHE
 * requirements; *ret_owned tells the caller to finalize a statement built for more.
 */
static sqlite3_stmt *
label_stmt(struct store *s, bool ns, size_t n, bool *ret_owned, korch_error **err)
{
	sqlite3_stmt **slot = n <= LABEL_STMT_CACHE ? &s->label_stmts[ns][n - 1] : NULL;
	*ret_owned = slot == NULL;
	if (slot && *slot) {
		sqlite3_reset(*slot);
		sqlite3_clear_bindings(*slot);
		return *slot;
	}
	_cleanup_strbuf_ struct strbuf sql = STRBUF_INIT;
	strbuf_puts(&sql, "SELECT l.ns, l.name, h.value, h.labels FROM labels l"
			  " JOIN objects o ON o.res = l.res AND o.ns = l.ns AND o.name = l.name"
			  " JOIN history h ON h.id = o.hid"
			  " WHERE l.res = ?1 AND l.key = ?5 AND l.value = ?6 AND ");
	strbuf_puts(&sql, ns ? "l.ns = ?2 AND l.name > ?3" : "(l.ns, l.name) > (?2, ?3)");
	strbuf_puts(&sql, " AND o.hid < ?4");
	for (size_t i = 1; i < n; i++)
		strbuf_printf(&sql,
			      " AND EXISTS (SELECT 1 FROM labels x WHERE x.res = ?1"
			      " AND x.key = ?%zu AND x.value = ?%zu AND x.ns = l.ns"
			      " AND x.name = l.name)",
			      5 + 2 * i, 6 + 2 * i);
	strbuf_puts(&sql, " ORDER BY l.ns, l.name");
	if (sql.oom) {
		error_oom(err);
		return NULL;
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v3(s->db, strbuf_str(&sql), -1,
				    slot ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_error(s, rc, err, "prepare label list");
		return NULL;
	}
	if (slot)
		*slot = st;
	return st;
}

static char *
col_dup(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? strdup(t) : NULL;
}

static void
changed_clear(struct changed *c)
{
	free(c->ns);
	free(c->name);
	free(c->text);
	free(c->labels);
}

static void
changed_free(struct changed *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		changed_clear(&v[i]);
	free(v);
}

/*
 * Appends st's rows (ns, name, id, type, labels, value) to *v, with the value only when the
 * version is no delete and its labels match the list's requirements.
 */
static int
changed_read(struct store *s, const struct store_list_options *o, sqlite3_stmt *st,
	     struct changed **v, size_t *n, size_t *cap, korch_error **err)
{
	int rc, r = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct changed *c = VEC_PUSH(*v, *n, *cap);
		if (!c) {
			r = error_oom(err);
			break;
		}
		*c = (struct changed){ col_dup(st, 0), col_dup(st, 1), sqlite3_column_int64(st, 2),
				       NULL, NULL };
		if (!c->ns || !c->name) {
			r = error_oom(err);
			break;
		}
		bool match = false;
		if (sqlite3_column_int(st, 3) != HIST_DELETE &&
		    (r = labels_match((const char *)sqlite3_column_text(st, 4), o->labels,
				      o->n_labels, &match, err)) < 0)
			break;
		if (match && !(c->text = col_dup(st, 5))) {
			r = error_oom(err);
			break;
		}
		if (match && o->label_filter && sqlite3_column_type(st, 4) != SQLITE_NULL &&
		    !(c->labels = col_dup(st, 4))) {
			r = error_oom(err);
			break;
		}
	}
	sqlite3_reset(st);
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sqlite_error(s, rc, err, "read history");
	return r;
}

/* Key order, and the latest history row first within a key. */
static int
changed_cmp(const void *a, const void *b)
{
	const struct changed *x = a, *y = b;
	int c = key_cmp(x->ns, x->name, y->ns, y->name);
	return c ? c : (x->id < y->id) - (x->id > y->id);
}

/* Sorts v, keeps each key's latest row, then drops what is absent or does not match. */
static size_t
changed_settle(struct changed *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), changed_cmp);
	size_t out = 0;
	for (size_t i = 0; i < n;) {
		size_t end = i + 1;
		while (end < n && key_cmp(v[end].ns, v[end].name, v[i].ns, v[i].name) == 0)
			changed_clear(&v[end++]);
		if (v[i].text)
			v[out++] = v[i];
		else
			changed_clear(&v[i]);
		i = end;
	}
	return out;
}

/* Where a page's scan stops trusting the live objects, and what it reads from history instead. */
struct page_bounds {
	int64_t res;     /* the resource's id (0: it has no row, so no objects) */
	int64_t rev_id;  /* the first history id after the list's revision */
	int64_t live_id; /* live objects whose current version is older are taken as they are */
};

/*
 * Loads, in key order, the keys the live scan leaves out and that match the list's labels, with
 * their version at the list's revision R: keys changed after R keep the version before their
 * first change (when it is older than live_id), and keys written in [live_id, R's end) (the
 * label index has not reached them yet) their last version there.
 */
static int
load_changed(struct store *s, const struct store_list_options *o, const struct list_pos *start,
	     const struct page_bounds *b, int64_t cur, struct changed **ret, size_t *ret_n,
	     korch_error **err)
{
	struct changed *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	enum stmt_id ids[2] = { STMT_LIST_CHANGED, STMT_LIST_TAIL };
	bool wanted[2] = { start->rev < cur, b->live_id < b->rev_id };
	for (size_t i = 0; i < 2 && r == 0; i++) {
		if (!wanted[i])
			continue;
		sqlite3_stmt *st = store_stmt(s, ids[i], err);
		if (!st) {
			r = KORCH_ESYSTEM;
			break;
		}
		sqlite3_bind_int64(st, 1, b->rev_id);
		sqlite3_bind_int64(st, 2, b->live_id);
		sqlite3_bind_int64(st, 3, b->res);
		if (o->ns)
			sqlite3_bind_text(st, 4, o->ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, start->ns, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, start->name, -1, SQLITE_TRANSIENT);
		r = changed_read(s, o, st, &v, &n, &cap, err);
	}
	if (r < 0) {
		changed_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = changed_settle(v, n);
	return 0;
}

/* The page's scan: live objects unchanged since the revision, merged with the changed keys. */
struct scan {
	sqlite3_stmt *st;   /* live objects, key order */
	bool st_owned;      /* finalize st at the end */
	bool st_row;        /* st has a current row */
	struct changed *ch; /* keys changed after the revision */
	size_t n_ch, i_ch;  /* entries, next one */
};

/* The scan's current item: borrowed, valid until scan_advance(). */
struct scan_item {
	const char *ns;     /* its key */
	const char *name;   /* (namespace, name) */
	const char *text;   /* the object as stored (NULL until item_text() read it) */
	size_t len;         /* bytes of text */
	sqlite3_stmt *st;   /* the statement it comes from (column 2: text), or NULL */
	const char *labels; /* its labels as stored, or NULL (none, or not read) */
	size_t labels_len;  /* bytes of labels */
	bool from_ch;       /* it comes from sc->ch, not from the statement */
};

static int
scan_step(struct store *s, struct scan *sc, korch_error **err)
{
	int rc = sqlite3_step(sc->st);
	sc->st_row = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_error(s, rc, err, "list");
	return 0;
}

static int
scan_open(struct store *s, const struct store_list_options *o, const struct list_pos *start,
	  const struct page_bounds *b, struct scan *sc, korch_error **err)
{
	if (o->n_labels > 0) {
		sc->st = label_stmt(s, o->ns != NULL, o->n_labels, &sc->st_owned, err);
		if (!sc->st)
			return KORCH_ESYSTEM;
		for (size_t i = 0; i < o->n_labels; i++) {
			sqlite3_bind_text(sc->st, 5 + 2 * (int)i, o->labels[i].key, -1,
					  SQLITE_STATIC);
			sqlite3_bind_text(sc->st, 6 + 2 * (int)i, o->labels[i].value, -1,
					  SQLITE_STATIC);
		}
	} else {
		sc->st = store_stmt(s, o->ns ? STMT_LIST_NS : STMT_LIST_ALL, err);
		if (!sc->st)
			return KORCH_ESYSTEM;
	}
	sqlite3_bind_int64(sc->st, 1, b->res);
	sqlite3_bind_text(sc->st, 2, o->ns ? o->ns : start->ns, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(sc->st, 3, o->ns && !streq(o->ns, start->ns) ? "" : start->name, -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_int64(sc->st, 4, b->live_id);
	return scan_step(s, sc, err);
}

static void
scan_close(struct scan *sc)
{
	if (sc->st) {
		if (sc->st_owned)
			sqlite3_finalize(sc->st);
		else
			sqlite3_reset(sc->st);
	}
	changed_free(sc->ch, sc->n_ch);
}

/* The next item in key order, without moving past it; false at the end. */
static bool
scan_current(struct scan *sc, struct scan_item *it)
{
	bool have_ch = sc->i_ch < sc->n_ch;
	if (!sc->st_row && !have_ch)
		return false;
	bool take_ch = have_ch;
	if (sc->st_row && have_ch)
		take_ch = key_cmp(sc->ch[sc->i_ch].ns, sc->ch[sc->i_ch].name,
				  (const char *)sqlite3_column_text(sc->st, 0),
				  (const char *)sqlite3_column_text(sc->st, 1)) < 0;
	if (take_ch) {
		const struct changed *c = &sc->ch[sc->i_ch];
		*it = (struct scan_item){ c->ns,
					  c->name,
					  c->text,
					  strlen(c->text),
					  NULL,
					  c->labels,
					  c->labels ? strlen(c->labels) : 0,
					  true };
	} else {
		/* Each text before its length (initializers have no order). */
		it->ns = (const char *)sqlite3_column_text(sc->st, 0);
		it->name = (const char *)sqlite3_column_text(sc->st, 1);
		it->text = NULL;
		it->len = 0;
		it->st = sc->st;
		it->labels = (const char *)sqlite3_column_text(sc->st, 3);
		it->labels_len = (size_t)sqlite3_column_bytes(sc->st, 3);
		it->from_ch = false;
	}
	return true;
}

static int
scan_advance(struct store *s, struct scan *sc, const struct scan_item *it, korch_error **err)
{
	if (it->from_ch) {
		sc->i_ch++;
		return 0;
	}
	return scan_step(s, sc, err);
}

/* Reads the item's text from its row: only for items the label filter kept. */
static void
item_text(struct scan_item *it)
{
	if (it->text || !it->st)
		return;
	it->text = (const char *)sqlite3_column_text(it->st, 2);
	it->len = (size_t)sqlite3_column_bytes(it->st, 2);
}

/*
 * Decides whether an item is listed and, if so, adds it to items or text_out. Parses only what
 * the options need: the labels for label_filter, the object for filter or parsed items.
 */
static int
take_item(const struct store_list_options *o, struct scan_item *it, size_t n_taken, json_t *items,
	  bool *ret_kept, korch_error **err)
{
	int r;
	*ret_kept = false;
	if (o->label_filter) {
		json_t *labels = NULL;
		if (it->labels &&
		    (r = store_parse_value(it->labels, (int)it->labels_len, &labels, err)) < 0)
			return r;
		bool keep = o->label_filter(labels, o->filter_userdata);
		json_decref(labels);
		if (!keep)
			return 0;
	}
	item_text(it);
	json_t *obj = NULL;
	bool parsed_items = !o->text_items && !o->text_out;
	if ((o->filter || parsed_items) &&
	    (r = store_parse_value(it->text, (int)it->len, &obj, err)) < 0)
		return r;
	if (o->filter && !o->filter(obj, o->filter_userdata)) {
		json_decref(obj);
		return 0;
	}
	if (o->text_out) {
		json_decref(obj);
		if ((n_taken && strbuf_putc(o->text_out, ',') < 0) ||
		    strbuf_append(o->text_out, it->text, it->len) < 0)
			return error_oom(err);
		*ret_kept = true;
		return 0;
	}
	if (o->text_items) {
		json_decref(obj);
		/* Stored texts are valid UTF-8: the store encoded them. */
		obj = json_stringn_nocheck(it->text, it->len);
	}
	if (!obj || json_array_append_new(items, obj) < 0)
		return error_oom(err);
	*ret_kept = true;
	return 0;
}

static int
list_check_options(const struct store_list_options *o, korch_error **err)
{
	if (!o || !o->group || !o->resource || !o->resource[0])
		return error_set(err, KORCH_EINVALID, "list needs a group and a resource");
	for (size_t i = 0; i < o->n_labels; i++)
		if (!o->labels || !o->labels[i].key || !o->labels[i].value)
			return error_set(err, KORCH_EINVALID,
					 "list label requirement %zu has no key or value", i);
	if (o->revision < 0)
		return error_set(err, KORCH_EINVALID, "list revision %lld is negative",
				 (long long)o->revision);
	if (o->continue_token && o->revision)
		return error_set(err, KORCH_EINVALID,
				 "specifying resource version is not allowed when using continue");
	return 0;
}

/* Chooses the page's revision and start key; fails on compacted or future revisions. */
static int
list_start(const struct store_list_options *o, const struct txn_state *state, struct list_pos *pos,
	   korch_error **err)
{
	int64_t cur = state->revision, compacted = state->compacted;
	if (o->continue_token) {
		if (o->ns && !streq(o->ns, pos->ns))
			return error_set(
				err, KORCH_EINVALID,
				"continue key is not valid: it belongs to another namespace");
		if (pos->rev < compacted)
			return error_set(err, KORCH_EGONE, "%s", CONTINUE_EXPIRED_MESSAGE);
		if (pos->rev > cur)
			return error_set(
				err, KORCH_EINVALID,
				"continue key is not valid: revision %lld is in the future",
				(long long)pos->rev);
		return 0;
	}
	pos->rev = o->revision ? o->revision : cur;
	if (pos->rev < compacted)
		return error_set(err, KORCH_EGONE, "too old resource version: %lld (%lld)",
				 (long long)pos->rev, (long long)compacted);
	if (pos->rev > cur)
		return error_set(err, KORCH_ETIMEOUT,
				 "Too large resource version: %lld, current: %lld",
				 (long long)pos->rev, (long long)cur);
	if (!(pos->ns = strdup("")) || !(pos->name = strdup("")))
		return error_oom(err);
	return 0;
}

static int
list_page(struct store *s, const struct store_list_options *o, const struct txn_state *state,
	  struct list_pos *pos, json_t *items, size_t *ret_n, bool *ret_more, korch_error **err)
{
	struct scan sc = { 0 };
	struct page_bounds b = { .rev_id = HIST_ID_AFTER(pos->rev) };
	int r = store_res_id(s, o->group, o->resource, false, &b.res, err);
	if (r < 0)
		return r;
	/* The label index shows the live objects as of its position only. */
	b.live_id = o->n_labels > 0 ? MIN(b.rev_id, state->label_pos + 1) : b.rev_id;
	if ((r = load_changed(s, o, pos, &b, state->revision, &sc.ch, &sc.n_ch, err)) < 0)
		return r;
	if ((r = scan_open(s, o, pos, &b, &sc, err)) < 0)
		goto out;
	size_t n = 0;
	struct scan_item it;
	*ret_more = false;
	while (scan_current(&sc, &it)) {
		bool kept = false;
		if ((r = take_item(o, &it, n, items, &kept, err)) < 0)
			goto out;
		n += kept;
		if (kept && o->limit && n >= o->limit) {
			/* The next page starts after this key. */
			char *ns = strdup(it.ns), *name = strdup(it.name);
			if (!ns || !name) {
				free(ns);
				free(name);
				r = error_oom(err);
				goto out;
			}
			free(pos->ns);
			free(pos->name);
			pos->ns = ns;
			pos->name = name;
			if ((r = scan_advance(s, &sc, &it, err)) < 0)
				goto out;
			*ret_more = sc.st_row || sc.i_ch < sc.n_ch;
			break;
		}
		if ((r = scan_advance(s, &sc, &it, err)) < 0)
			goto out;
	}
	*ret_n = n;
out:
	scan_close(&sc);
	return r;
}

int
store_list(struct store *s, const struct store_list_options *o, struct store_list *ret,
	   korch_error **err)
{
	int r = list_check_options(o, err);
	if (r < 0)
		return r;
	struct list_pos pos = { 0 };
	size_t n = 0, text_len = o->text_out ? o->text_out->len : 0;
	if (o->continue_token && (r = continue_decode(o->continue_token, &pos, err)) < 0)
		return r;
	json_t *items = json_array();
	if (!items) {
		r = error_oom(err);
		goto out;
	}
	bool more = false;
	if ((r = store_begin_read(s, err)) < 0)
		goto out;
	struct txn_state state;
	if ((r = store_txn_state(s, &state, err)) < 0 ||
	    (r = list_start(o, &state, &pos, err)) < 0 ||
	    (r = list_page(s, o, &state, &pos, items, &n, &more, err)) < 0) {
		store_rollback(s);
		goto out;
	}
	if ((r = store_commit_txn(s, err)) < 0)
		goto out;
	char *token = NULL;
	if (more && !(token = continue_encode(pos.rev, pos.ns, pos.name))) {
		r = error_oom(err);
		goto out;
	}
	ret->items = steal_pointer(&items);
	ret->n_items = n;
	ret->revision = pos.rev;
	ret->continue_token = token;
out:
	/* text_out gets nothing from a list that failed. */
	if (r < 0 && o->text_out)
		strbuf_truncate(o->text_out, text_len);
	json_decref(items);
	free(pos.ns);
	free(pos.name);
	return r;
}

void
store_list_clear(struct store_list *l)
{
	if (!l)
		return;
	json_decref(l->items);
	free(l->continue_token);
	memset(l, 0, sizeof(*l));
}
