/*
 * store-write.c - the write path of the store: transactions of create, update, delete and check
 * operations under one revision, interned resources, and TTL leases.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/util.h"
#include "store/store-internal.h"

/* What an operation changed in the caller's object, to undo it if the transaction fails. */
struct op_undo {
	bool touched;     /* metadata.resourceVersion was set */
	bool had_meta;    /* metadata was an object before */
	json_t *old_meta; /* metadata before when it was not an object (or NULL: absent) */
	json_t *old_rv;   /* metadata.resourceVersion before (NULL: absent) */
	json_t *prev;     /* ret_prev being built */
};

/* The columns of a live object's row. */
struct obj_row {
	int64_t create_rev; /* revision that created it */
	int64_t mod_rev;    /* its resourceVersion */
	int64_t hid;        /* history row of its current version */
	int64_t lease;      /* 0: none */
};

/* A key with its resource resolved. */
struct res_key {
	int64_t res;                 /* resources.id, 0 when the resource has no row yet */
	const struct store_key *key; /* the caller's key (names for messages) */
};

void
store_res_forget(struct store *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(s->res); i++) {
		free(s->res[i].group);
		free(s->res[i].resource);
		s->res[i] = (struct res_cache){ 0 };
	}
	s->n_res = s->res_next = 0;
}

int
store_res_id(struct store *s, const char *group, const char *resource, bool create, int64_t *ret,
	     korch_error **err)
{
	for (size_t i = 0; i < s->n_res; i++)
		if (s->res[i].resource && streq(s->res[i].resource, resource) &&
		    streq(s->res[i].group, group)) {
			*ret = s->res[i].id;
			return 0;
		}
	sqlite3_stmt *st = store_stmt(s, STMT_RES_GET, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, resource, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_error(s, rc, err, "read resource %s", resource);
	if (!id && create) {
		if (!(st = store_stmt(s, STMT_RES_INSERT, err)))
			return KORCH_ESYSTEM;
		sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, resource, -1, SQLITE_STATIC);
		int r = store_exec_stmt(s, st, err, "add resource");
		if (r < 0)
			return r;
		id = sqlite3_last_insert_rowid(s->db);
	}
	/*
	 * Remembered (see store_txn_state() for how long); when the cache is full, a new resource
	 * takes the place of the oldest. A missing one is not: another writer may add it.
	 */
	if (id) {
		struct res_cache *c = &s->res[s->res_next++ % ARRAY_SIZE(s->res)];
		free(c->group);
		free(c->resource);
		c->group = strdup(group);
		c->resource = strdup(resource);
		c->id = id;
		if (!c->group || !c->resource) {
			free(c->group);
			free(c->resource);
			c->group = c->resource = NULL;
		}
		s->n_res = MIN(s->n_res + 1, ARRAY_SIZE(s->res));
	}
	*ret = id;
	return 0;
}

static void
bind_key(sqlite3_stmt *st, const struct res_key *k)
{
	sqlite3_bind_int64(st, 1, k->res);
	sqlite3_bind_text(st, 2, k->key->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->key->name, -1, SQLITE_STATIC);
}

static int
not_found(const struct store_key *key, korch_error **err)
{
	char q[256];
	return error_set(err, KORCH_ENOTFOUND, "%s \"%s\" not found",
			 store_qualified_resource(key->group, key->resource, q), key->name);
}

static int
conflict(const struct store_key *key, korch_error **err)
{
	char q[256];
	return error_set(err, KORCH_ECONFLICT,
			 "Operation cannot be fulfilled on %s \"%s\": the object has been modified;"
			 " please apply your changes to the latest version and try again",
			 store_qualified_resource(key->group, key->resource, q), key->name);
}

/* Reads the object row of key; KORCH_ENOTFOUND when there is none. */
static int
obj_row_get(struct store *s, const struct res_key *k, struct obj_row *ret, korch_error **err)
{
	if (!k->res)
		return not_found(k->key, err);
	sqlite3_stmt *st = store_stmt(s, STMT_OBJ_GET, err);
	if (!st)
		return KORCH_ESYSTEM;
	bind_key(st, k);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return not_found(k->key, err);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_sqlite_error(s, rc, err, "read %s", k->key->name);
	}
	*ret = (struct obj_row){
		.create_rev = sqlite3_column_int64(st, 0),
		.mod_rev = sqlite3_column_int64(st, 1),
		.hid = sqlite3_column_int64(st, 2),
		.lease = sqlite3_column_int64(st, 3),
	};
	sqlite3_reset(st);
	return 0;
}

/* Reads and parses the value of history row hid. */
static int
hist_value(struct store *s, int64_t hid, json_t **ret, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_HIST_VALUE, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, hid);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			return error_set(err, KORCH_ESYSTEM, "history row %lld is missing",
					 (long long)hid);
		return store_sqlite_error(s, rc, err, "read history");
	}
	int r = store_parse_value((const char *)sqlite3_column_text(st, 0),
				  sqlite3_column_bytes(st, 0), ret, err);
	sqlite3_reset(st);
	return r;
}

/* A lease that exists and whose time has not passed. */
static int
lease_check(struct store *s, int64_t lease, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_LEASE_GET, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, lease);
	int rc = sqlite3_step(st);
	int64_t expiry = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_error(s, rc, err, "read lease %lld", (long long)lease);
	if (rc == SQLITE_DONE || expiry <= korch_clock_wall_ns(s->clock))
		return error_set(err, KORCH_ENOTFOUND, "lease %lld not found", (long long)lease);
	return 0;
}

/*
 * Encodes obj as stored (into s->value_buf) and its metadata.labels, when it has any, into
 * s->labels_buf; *ret_labels is that text or NULL.
 */
static int
encode_object(struct store *s, const struct store_key *key, const json_t *obj,
	      const char **ret_labels, korch_error **err)
{
	strbuf_truncate(&s->value_buf, 0);
	strbuf_truncate(&s->labels_buf, 0);
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	int r = codec_json_encode_append(obj, &s->value_buf);
	if (r == 0 && json_is_object(labels) && json_object_size(labels) > 0)
		r = codec_json_encode_append(labels, &s->labels_buf);
	if (r == KORCH_EINVALID) {
		char q[256];
		return error_set(err, KORCH_EINVALID,
				 "%s \"%s\": the object cannot be written as JSON (a string that is"
				 " not UTF-8, or a cycle)",
				 store_qualified_resource(key->group, key->resource, q), key->name);
	}
	if (r < 0)
		return error_oom(err);
	*ret_labels = s->labels_buf.len ? s->labels_buf.buf : NULL;
	return 0;
}

/* Sets metadata.resourceVersion, remembering what to restore. */
static int
set_rv(json_t *obj, int64_t revision, struct op_undo *u, korch_error **err)
{
	json_t *meta = json_object_get(obj, "metadata");
	u->had_meta = json_is_object(meta);
	if (u->had_meta)
		u->old_rv = json_incref(json_object_get(meta, "resourceVersion"));
	else
		u->old_meta = json_incref(meta);
	u->touched = true;
	if (store_set_rv(obj, revision) < 0)
		return error_oom(err);
	return 0;
}

static void
undo_rv(json_t *obj, struct op_undo *u)
{
	if (!u->touched)
		return;
	if (u->had_meta) {
		json_t *meta = json_object_get(obj, "metadata");
		if (u->old_rv)
			json_object_set(meta, "resourceVersion", u->old_rv);
		else
			json_object_del(meta, "resourceVersion");
	} else if (u->old_meta) {
		json_object_set(obj, "metadata", u->old_meta);
	} else {
		json_object_del(obj, "metadata");
	}
}

static void
undo_clear(struct op_undo *u)
{
	json_decref(u->old_rv);
	json_decref(u->old_meta);
	json_decref(u->prev);
	memset(u, 0, sizeof(*u));
}

/* One history row; labels and value NULL for a delete. */
static int
hist_insert(struct store *s, int64_t hid, enum hist_type type, const struct res_key *k,
	    int64_t prev, int64_t now_ns, const char *labels, const struct strbuf *value,
	    korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_HIST_INSERT, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, hid);
	sqlite3_bind_int(st, 2, type);
	sqlite3_bind_int64(st, 3, k->res);
	sqlite3_bind_text(st, 4, k->key->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, k->key->name, -1, SQLITE_STATIC);
	if (prev)
		sqlite3_bind_int64(st, 6, prev);
	sqlite3_bind_int64(st, 7, now_ns);
	if (labels)
		sqlite3_bind_text(st, 8, labels, -1, SQLITE_STATIC);
	if (value)
		sqlite3_bind_text(st, 9, value->buf, (int)value->len, SQLITE_STATIC);
	return store_exec_stmt(s, st, err, "write history");
}

static int
apply_create(struct store *s, struct store_op *op, const struct res_key *k, int64_t rev,
	     int64_t hid, int64_t now_ns, struct op_undo *u, korch_error **err)
{
	int r;
	if (op->lease > 0 && (r = lease_check(s, op->lease, err)) < 0)
		return r;
	sqlite3_stmt *st = store_stmt(s, STMT_OBJ_INSERT, err);
	if (!st)
		return KORCH_ESYSTEM;
	bind_key(st, k);
	sqlite3_bind_int64(st, 4, rev);
	sqlite3_bind_int64(st, 5, hid);
	if (op->lease > 0)
		sqlite3_bind_int64(st, 6, op->lease);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		char q[256];
		return error_set(err, KORCH_EEXISTS, "%s \"%s\" already exists",
				 store_qualified_resource(op->key.group, op->key.resource, q),
				 op->key.name);
	}
	if (rc != SQLITE_DONE)
		return store_sqlite_error(s, rc, err, "write object");
	const char *labels = NULL;
	if ((r = set_rv(op->obj, rev, u, err)) < 0 ||
	    (r = encode_object(s, &op->key, op->obj, &labels, err)) < 0)
		return r;
	return hist_insert(s, hid, HIST_CREATE, k, 0, now_ns, labels, &s->value_buf, err);
}

/* Update, delete and check share the lookup and the precondition. */
static int
load_current(struct store *s, struct store_op *op, const struct res_key *k, struct obj_row *row,
	     struct op_undo *u, korch_error **err)
{
	int r = obj_row_get(s, k, row, err);
	if (r < 0)
		return r;
	if (op->expected_revision && op->expected_revision != row->mod_rev)
		return conflict(&op->key, err);
	if (op->want_prev && op->type != STORE_OP_CHECK)
		return hist_value(s, row->hid, &u->prev, err);
	return 0;
}

static int
apply_update(struct store *s, struct store_op *op, const struct res_key *k, int64_t rev,
	     int64_t hid, int64_t now_ns, struct op_undo *u, korch_error **err)
{
	struct obj_row row = { 0 };
	int r = load_current(s, op, k, &row, u, err);
	if (r < 0)
		return r;
	int64_t lease = row.lease;
	if (op->lease > 0) {
		if ((r = lease_check(s, op->lease, err)) < 0)
			return r;
		lease = op->lease;
	} else if (op->lease == STORE_LEASE_DETACH) {
		lease = 0;
	}
	const char *labels = NULL;
	if ((r = set_rv(op->obj, rev, u, err)) < 0 ||
	    (r = encode_object(s, &op->key, op->obj, &labels, err)) < 0)
		return r;
	if ((r = hist_insert(s, hid, HIST_UPDATE, k, row.hid, now_ns, labels, &s->value_buf, err)) <
	    0)
		return r;
	sqlite3_stmt *st = store_stmt(s, STMT_OBJ_UPDATE, err);
	if (!st)
		return KORCH_ESYSTEM;
	bind_key(st, k);
	sqlite3_bind_int64(st, 4, rev);
	sqlite3_bind_int64(st, 5, hid);
	if (lease)
		sqlite3_bind_int64(st, 6, lease);
	return store_exec_stmt(s, st, err, "write object");
}

/*
 * Deletes one live object at hid: a history row and the object row go. Its label index rows
 * stay until the index catches up with the history (lists join them to objects, so they show
 * nothing meanwhile).
 */
static int
delete_object(struct store *s, const struct res_key *k, const struct obj_row *row, int64_t hid,
	      int64_t now_ns, korch_error **err)
{
	int r = hist_insert(s, hid, HIST_DELETE, k, row->hid, now_ns, NULL, NULL, err);
	if (r < 0)
		return r;
	sqlite3_stmt *st = store_stmt(s, STMT_OBJ_DELETE, err);
	if (!st)
		return KORCH_ESYSTEM;
	bind_key(st, k);
	return store_exec_stmt(s, st, err, "delete object");
}

static int
apply_delete(struct store *s, struct store_op *op, const struct res_key *k, int64_t hid,
	     int64_t now_ns, struct op_undo *u, korch_error **err)
{
	struct obj_row row = { 0 };
	int r = load_current(s, op, k, &row, u, err);
	if (r < 0)
		return r;
	return delete_object(s, k, &row, hid, now_ns, err);
}

/* The checks of one operation that need nothing from the file. */
static int
validate_op(const struct store_op *op, korch_error **err)
{
	char q[256];
	int r = store_key_check(&op->key, err);
	if (r < 0)
		return r;
	if ((op->type == STORE_OP_CREATE || op->type == STORE_OP_UPDATE) &&
	    !json_is_object(op->obj))
		return error_set(err, KORCH_EINVALID, "%s \"%s\": the object is not a JSON object",
				 store_qualified_resource(op->key.group, op->key.resource, q),
				 op->key.name);
	if (op->type > STORE_OP_CHECK)
		return error_set(err, KORCH_EINVALID, "unknown store operation %d", op->type);
	if (op->expected_revision < 0 || op->lease < STORE_LEASE_DETACH)
		return error_set(err, KORCH_EINVALID, "%s \"%s\": negative revision or lease",
				 store_qualified_resource(op->key.group, op->key.resource, q),
				 op->key.name);
	return 0;
}

static int
key_cmp(const struct store_key *a, const struct store_key *b)
{
	int c = strcmp(a->name, b->name);
	if (!c)
		c = strcmp(a->ns, b->ns);
	if (!c)
		c = strcmp(a->resource, b->resource);
	if (!c)
		c = strcmp(a->group, b->group);
	return c;
}

/* Orders operations by key, then by position (qsort_r's userdata is the ops array). */
static int
op_index_cmp(const void *a, const void *b, void *userdata)
{
	const struct store_op *ops = userdata;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = key_cmp(&ops[i].key, &ops[j].key);
	return c ? c : (i > j) - (i < j);
}

/*
 * Checks what can be checked before taking the write lock, reporting the first problem in
 * operation order: an invalid operation, or a key written a second time.
 */
static int
validate_ops(const struct store_op *ops, size_t n_ops, korch_error **err)
{
	if (n_ops == 0)
		return error_set(err, KORCH_EINVALID, "empty transaction");
	if (n_ops > STORE_TXN_MAX_OPS)
		return error_set(err, KORCH_ETOOLARGE,
				 "transaction has %zu operations; the limit is %d", n_ops,
				 STORE_TXN_MAX_OPS);
	size_t bad = 0;
	while (bad < n_ops && validate_op(&ops[bad], NULL) == 0)
		bad++;
	/* Among the valid operations before it, the first that repeats an earlier key. */
	size_t dup = bad;
	if (bad > 1) {
		_cleanup_free_ size_t *order = malloc(bad * sizeof(*order));
		if (!order)
			return error_oom(err);
		for (size_t i = 0; i < bad; i++)
			order[i] = i;
		qsort_r(order, bad, sizeof(*order), op_index_cmp, (void *)ops);
		for (size_t i = 1; i < bad; i++)
			if (order[i] < dup &&
			    key_cmp(&ops[order[i]].key, &ops[order[i - 1]].key) == 0)
				dup = order[i];
	}
	if (dup < bad) {
		const struct store_key *k = &ops[dup].key;
		char q[256];
		return error_set(err, KORCH_EINVALID, "transaction writes %s \"%s\"%s%s twice",
				 store_qualified_resource(k->group, k->resource, q), k->name,
				 k->ns[0] ? " in namespace " : "", k->ns);
	}
	if (bad < n_ops)
		return validate_op(&ops[bad], err);
	return 0;
}

static int
apply_op(struct store *s, struct store_op *op, int64_t rev, int64_t hid, int64_t now_ns,
	 struct op_undo *u, korch_error **err)
{
	struct res_key k = { .key = &op->key };
	int r = store_res_id(s, op->key.group, op->key.resource, op->type == STORE_OP_CREATE,
			     &k.res, err);
	if (r < 0)
		return r;
	switch (op->type) {
	case STORE_OP_CREATE: return apply_create(s, op, &k, rev, hid, now_ns, u, err);
	case STORE_OP_UPDATE: return apply_update(s, op, &k, rev, hid, now_ns, u, err);
	case STORE_OP_DELETE: return apply_delete(s, op, &k, hid, now_ns, u, err);
	case STORE_OP_CHECK: {
		struct obj_row row = { 0 };
		return load_current(s, op, &k, &row, u, err);
	}
	}
	return error_set(err, KORCH_EINVALID, "unknown store operation %d", op->type);
}

int
store_commit(struct store *s, struct store_op *ops, size_t n_ops, int64_t *ret_revision,
	     korch_error **err)
{
	int r = validate_ops(ops, n_ops, err);
	if (r < 0)
		return r;
	_cleanup_free_ struct op_undo *undo = calloc(n_ops, sizeof(*undo));
	if (!undo)
		return error_oom(err);
	if ((r = store_begin_write(s, err)) < 0)
		return r;
	struct txn_state state;
	if ((r = store_txn_state(s, &state, err)) < 0)
		goto fail;
	int64_t cur = state.revision, rev = cur + 1, now_ns = korch_clock_wall_ns(s->clock);
	size_t seq = 0;
	for (size_t i = 0; i < n_ops; i++) {
		struct store_op *op = &ops[i];
		r = apply_op(s, op, rev, HIST_ID(rev, seq), now_ns, &undo[i], err);
		if (r < 0) {
			if (n_ops > 1)
				korch_error_prefix(err, r, "transaction operation %zu of %zu",
						   i + 1, n_ops);
			goto fail;
		}
		if (op->type != STORE_OP_CHECK)
			seq++;
	}
	if (seq > 0 &&
	    (r = store_labels_catch_up(s, false, cur, state.label_pos, (int64_t)seq, err)) < 0)
		goto fail;
	if ((r = store_commit_txn(s, err)) < 0)
		goto undo;
	if (seq > 0 && s->share_to)
		store_offer_commits(s, ops, n_ops, rev);
	if (seq > 0)
		store_notify_written(s);
	for (size_t i = 0; i < n_ops; i++) {
		if (ops[i].want_prev && ops[i].type != STORE_OP_CHECK &&
		    ops[i].type != STORE_OP_CREATE)
			ops[i].ret_prev = steal_pointer(&undo[i].prev);
		undo_clear(&undo[i]);
	}
	if (ret_revision)
		*ret_revision = seq > 0 ? rev : cur;
	return 0;
fail:
	store_rollback(s);
undo:
	for (size_t i = 0; i < n_ops; i++) {
		if (ops[i].obj)
			undo_rv(ops[i].obj, &undo[i]);
		undo_clear(&undo[i]);
	}
	return r;
}

int
store_create(struct store *s, const struct store_key *key, json_t *obj, int64_t lease,
	     int64_t *ret_revision, korch_error **err)
{
	struct store_op op = { .type = STORE_OP_CREATE, .key = *key, .obj = obj, .lease = lease };
	return store_commit(s, &op, 1, ret_revision, err);
}

int
store_update(struct store *s, const struct store_key *key, json_t *obj, int64_t expected_revision,
	     int64_t *ret_revision, korch_error **err)
{
	struct store_op op = { .type = STORE_OP_UPDATE,
			       .key = *key,
			       .obj = obj,
			       .expected_revision = expected_revision };
	return store_commit(s, &op, 1, ret_revision, err);
}

int
store_delete(struct store *s, const struct store_key *key, int64_t expected_revision,
	     json_t **ret_prev, int64_t *ret_revision, korch_error **err)
{
	struct store_op op = { .type = STORE_OP_DELETE,
			       .key = *key,
			       .expected_revision = expected_revision,
			       .want_prev = ret_prev != NULL };
	int r = store_commit(s, &op, 1, ret_revision, err);
	if (r == 0 && ret_prev)
		*ret_prev = op.ret_prev;
	return r;
}

/* ---- leases ---- */

/* A key collected from a lease before deleting it (the SELECT must finish first). */
struct lease_key {
	char *grp, *res, *ns, *name; /* the key */
	int64_t res_id;              /* its resource */
	int64_t hid;                 /* its current version */
};

static void
lease_keys_free(struct lease_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(keys[i].grp);
		free(keys[i].res);
		free(keys[i].ns);
		free(keys[i].name);
	}
	free(keys);
}

static char *
col_dup(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? strdup(t) : NULL;
}

int
store_write_lease_keys_delete(struct store *s, int64_t lease, int64_t revision, size_t *ret_deleted,
			      bool *ret_more, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_LEASE_KEYS, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, lease);
	sqlite3_bind_int64(st, 2, STORE_TXN_MAX_OPS + 1);
	struct lease_key *keys = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct lease_key *k = VEC_PUSH(keys, n, cap);
		if (!k) {
			r = error_oom(err);
			break;
		}
		k->res_id = sqlite3_column_int64(st, 0);
		k->grp = col_dup(st, 1);
		k->res = col_dup(st, 2);
		k->ns = col_dup(st, 3);
		k->name = col_dup(st, 4);
		k->hid = sqlite3_column_int64(st, 5);
		if (!k->grp || !k->res || !k->ns || !k->name) {
			r = error_oom(err);
			break;
		}
	}
	sqlite3_reset(st);
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sqlite_error(s, rc, err, "read keys of lease %lld", (long long)lease);
	size_t n_read = n;
	bool more = n > STORE_TXN_MAX_OPS;
	if (more)
		n = STORE_TXN_MAX_OPS;
	int64_t now_ns = korch_clock_wall_ns(s->clock);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct store_key key = { keys[i].grp, keys[i].res, keys[i].ns, keys[i].name };
		struct res_key k = { .res = keys[i].res_id, .key = &key };
		struct obj_row row = { .hid = keys[i].hid };
		r = delete_object(s, &k, &row, HIST_ID(revision, i), now_ns, err);
	}
	lease_keys_free(keys, n_read);
	if (r < 0)
		return r;
	*ret_deleted = n;
	*ret_more = more;
	return 0;
}

int
store_lease_grant(struct store *s, int64_t ttl_s, int64_t *ret_lease, korch_error **err)
{
	if (ttl_s < 1 || ttl_s > 10LL * 366 * 24 * 3600)
		return error_set(err, KORCH_EINVALID,
				 "lease TTL %lld s is out of range (1 s to 10 years)",
				 (long long)ttl_s);
	int r = store_begin_write(s, err);
	if (r < 0)
		return r;
	int64_t id = 0;
	for (int attempt = 0; attempt < 8; attempt++) {
		uint64_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			r = error_errno(err, errno, "lease id");
			goto fail;
		}
		id = (int64_t)(rnd >> 1);
		if (id == 0)
			continue;
		sqlite3_stmt *st = store_stmt(s, STMT_LEASE_INSERT, err);
		if (!st) {
			r = KORCH_ESYSTEM;
			goto fail;
		}
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, ttl_s);
		sqlite3_bind_int64(st, 3, korch_clock_wall_ns(s->clock) + ttl_s * NSEC_PER_SEC);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			break;
		id = 0;
		if (rc != SQLITE_CONSTRAINT_PRIMARYKEY) {
			r = store_sqlite_error(s, rc, err, "grant lease");
			goto fail;
		}
	}
	if (!id) {
		r = error_set(err, KORCH_ESYSTEM, "grant lease: no free lease id");
		goto fail;
	}
	if ((r = store_commit_txn(s, err)) < 0)
		return r;
	store_notify_written(s);
	*ret_lease = id;
	return 0;
fail:
	store_rollback(s);
	return r;
}

int
store_lease_keepalive(struct store *s, int64_t lease, korch_error **err)
{
	int r = store_begin_write(s, err);
	if (r < 0)
		return r;
	if ((r = lease_check(s, lease, err)) < 0)
		goto fail;
	sqlite3_stmt *st = store_stmt(s, STMT_LEASE_GET, err);
	if (!st) {
		r = KORCH_ESYSTEM;
		goto fail;
	}
	sqlite3_bind_int64(st, 1, lease);
	int rc = sqlite3_step(st);
	int64_t ttl_s = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		r = store_sqlite_error(s, rc, err, "read lease %lld", (long long)lease);
		goto fail;
	}
	if (!(st = store_stmt(s, STMT_LEASE_SET_EXPIRY, err))) {
		r = KORCH_ESYSTEM;
		goto fail;
	}
	sqlite3_bind_int64(st, 1, lease);
	sqlite3_bind_int64(st, 2, korch_clock_wall_ns(s->clock) + ttl_s * NSEC_PER_SEC);
	if ((r = store_exec_stmt(s, st, err, "renew lease")) < 0)
		goto fail;
	if ((r = store_commit_txn(s, err)) < 0)
		return r;
	store_notify_written(s);
	return 0;
fail:
	store_rollback(s);
	return r;
}

/*
 * Deletes a lease and its keys inside the caller's write transaction: its keys go at revision
 * cur + 1 (more revisions for a lease with over STORE_TXN_MAX_OPS keys). *ret_rev is the last
 * revision used (cur when the lease had no keys).
 */
static int
revoke_in_txn(struct store *s, int64_t lease, int64_t cur, int64_t *ret_rev, korch_error **err)
{
	int64_t rev = cur;
	bool more = true;
	int r;
	while (more) {
		size_t deleted = 0;
		if ((r = store_write_lease_keys_delete(s, lease, rev + 1, &deleted, &more, err)) <
		    0)
			return r;
		if (deleted)
			rev++;
	}
	sqlite3_stmt *st = store_stmt(s, STMT_LEASE_DELETE, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, lease);
	if ((r = store_exec_stmt(s, st, err, "delete lease")) < 0)
		return r;
	if (rev > cur && (r = store_labels_catch_up(s, false, cur, -1, -1, err)) < 0)
		return r;
	*ret_rev = rev;
	return 0;
}

int
store_lease_revoke(struct store *s, int64_t lease, int64_t *ret_revision, korch_error **err)
{
	int r = store_begin_write(s, err);
	if (r < 0)
		return r;
	sqlite3_stmt *st = store_stmt(s, STMT_LEASE_GET, err);
	if (!st) {
		r = KORCH_ESYSTEM;
		goto fail;
	}
	sqlite3_bind_int64(st, 1, lease);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		r = error_set(err, KORCH_ENOTFOUND, "lease %lld not found", (long long)lease);
		goto fail;
	}
	if (rc != SQLITE_ROW) {
		r = store_sqlite_error(s, rc, err, "read lease %lld", (long long)lease);
		goto fail;
	}
	int64_t cur = 0, rev = 0;
	if ((r = store_current_revision(s, &cur, err)) < 0 ||
	    (r = revoke_in_txn(s, lease, cur, &rev, err)) < 0)
		goto fail;
	if ((r = store_commit_txn(s, err)) < 0)
		return r;
	store_notify_written(s);
	if (ret_revision)
		*ret_revision = rev;
	return 0;
fail:
	store_rollback(s);
	return r;
}

int
store_lease_expire(struct store *s, size_t *ret_expired, korch_error **err)
{
	size_t expired = 0;
	/* One lease per write transaction, so a burst of expiries never holds the lock long. */
	for (;;) {
		int r = store_begin_write(s, err);
		if (r < 0)
			return r;
		sqlite3_stmt *st = store_stmt(s, STMT_LEASE_EXPIRED, err);
		if (!st) {
			store_rollback(s);
			return KORCH_ESYSTEM;
		}
		sqlite3_bind_int64(st, 1, korch_clock_wall_ns(s->clock));
		int rc = sqlite3_step(st);
		int64_t lease = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW) {
			store_rollback(s);
			if (rc != SQLITE_DONE)
				return store_sqlite_error(s, rc, err, "find expired leases");
			break;
		}
		int64_t cur = 0, rev = 0;
		if ((r = store_current_revision(s, &cur, err)) < 0 ||
		    (r = revoke_in_txn(s, lease, cur, &rev, err)) < 0) {
			store_rollback(s);
			return korch_error_prefix(err, r, "expire lease %lld", (long long)lease);
		}
		if ((r = store_commit_txn(s, err)) < 0)
			return r;
		store_notify_written(s);
		expired++;
	}
	if (ret_expired)
		*ret_expired = expired;
	return 0;
}
