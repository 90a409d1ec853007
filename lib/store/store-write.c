/*
 * store-write.c - the write path of the store: transactions of create, update, delete and check
 * operations under one revision, the label index, and TTL leases.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/error.h"
#include "base/hashmap.h"
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
	char *labels;       /* compact JSON of metadata.labels, or NULL */
};

static void
bind_key(sqlite3_stmt *st, const struct store_key *key)
{
	sqlite3_bind_text(st, 1, key->group, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key->resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, key->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, key->name, -1, SQLITE_STATIC);
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
obj_row_get(struct store *s, const struct store_key *key, struct obj_row *ret, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_OBJ_GET, err);
	if (!st)
		return KORCH_ESYSTEM;
	bind_key(st, key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return not_found(key, err);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_sqlite_error(s, rc, err, "read %s", key->name);
	}
	struct obj_row row = {
		.create_rev = sqlite3_column_int64(st, 0),
		.mod_rev = sqlite3_column_int64(st, 1),
		.hid = sqlite3_column_int64(st, 2),
		.lease = sqlite3_column_int64(st, 3),
	};
	const char *labels = (const char *)sqlite3_column_text(st, 4);
	if (labels && !(row.labels = strdup(labels))) {
		sqlite3_reset(st);
		return error_oom(err);
	}
	sqlite3_reset(st);
	*ret = row;
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

/* Inserts (or deletes) one label row per string label of labels (a JSON object). */
static int
labels_apply(struct store *s, const struct store_key *key, const json_t *labels, bool insert,
	     korch_error **err)
{
	if (!json_is_object(labels))
		return 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)labels, k, v)
	{
		if (!json_is_string(v))
			continue;
		sqlite3_stmt *st =
			store_stmt(s, insert ? STMT_LABEL_INSERT : STMT_LABEL_DELETE, err);
		if (!st)
			return KORCH_ESYSTEM;
		sqlite3_bind_text(st, 1, key->group, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key->resource, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, k, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, json_string_value(v), (int)json_string_length(v),
				  SQLITE_STATIC);
		sqlite3_bind_text(st, 5, key->ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, key->name, -1, SQLITE_STATIC);
		int r = store_exec_stmt(s, st, err, insert ? "index label" : "unindex label");
		if (r < 0)
			return r;
	}
	return 0;
}

/* Removes the label rows described by the stored labels text. */
static int
labels_remove_text(struct store *s, const struct store_key *key, const char *text,
		   korch_error **err)
{
	if (!text)
		return 0;
	json_t *labels = NULL;
	int r = store_parse_value(text, (int)strlen(text), &labels, err);
	if (r < 0)
		return r;
	r = labels_apply(s, key, labels, false, err);
	json_decref(labels);
	return r;
}

/* metadata.labels of obj as compact JSON; *ret NULL when there are none. */
static int
labels_text(const json_t *obj, char **ret, korch_error **err)
{
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	*ret = NULL;
	if (!json_is_object(labels) || json_object_size(labels) == 0)
		return 0;
	*ret = json_dumps(labels, JSON_COMPACT);
	return *ret ? 0 : error_oom(err);
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

static int
hist_insert(struct store *s, int64_t hid, enum hist_type type, const struct store_key *key,
	    int64_t prev, int64_t now_ns, const char *value, korch_error **err)
{
	sqlite3_stmt *st = store_stmt(s, STMT_HIST_INSERT, err);
	if (!st)
		return KORCH_ESYSTEM;
	sqlite3_bind_int64(st, 1, hid);
	sqlite3_bind_int(st, 2, type);
	sqlite3_bind_text(st, 3, key->group, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, key->resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, key->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, key->name, -1, SQLITE_STATIC);
	if (prev)
		sqlite3_bind_int64(st, 7, prev);
	sqlite3_bind_int64(st, 8, now_ns);
	if (value)
		sqlite3_bind_text(st, 9, value, -1, SQLITE_STATIC);
	return store_exec_stmt(s, st, err, "write history");
}

static int
apply_create(struct store *s, struct store_op *op, int64_t rev, int64_t hid, int64_t now_ns,
	     struct op_undo *u, korch_error **err)
{
	_cleanup_free_ char *labels = NULL, *text = NULL;
	int r = labels_text(op->obj, &labels, err);
	if (r < 0)
		return r;
	if (op->lease > 0 && (r = lease_check(s, op->lease, err)) < 0)
		return r;
	sqlite3_stmt *st = store_stmt(s, STMT_OBJ_INSERT, err);
	if (!st)
		return KORCH_ESYSTEM;
	bind_key(st, &op->key);
	sqlite3_bind_int64(st, 5, rev);
	sqlite3_bind_int64(st, 6, hid);
	if (op->lease > 0)
		sqlite3_bind_int64(st, 7, op->lease);
	if (labels)
		sqlite3_bind_text(st, 8, labels, -1, SQLITE_STATIC);
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
	if ((r = set_rv(op->obj, rev, u, err)) < 0)
		return r;
	if (!(text = json_dumps(op->obj, JSON_COMPACT)))
		return error_oom(err);
	if ((r = hist_insert(s, hid, HIST_CREATE, &op->key, 0, now_ns, text, err)) < 0)
		return r;
	return labels_apply(s, &op->key,
			    json_object_get(json_object_get(op->obj, "metadata"), "labels"), true,
			    err);
}

/* Update, delete and check share the lookup and the precondition. */
static int
load_current(struct store *s, struct store_op *op, struct obj_row *row, struct op_undo *u,
	     korch_error **err)
{
	int r = obj_row_get(s, &op->key, row, err);
	if (r < 0)
		return r;
	if (op->expected_revision && op->expected_revision != row->mod_rev)
		return conflict(&op->key, err);
	if (op->want_prev && op->type != STORE_OP_CHECK)
		return hist_value(s, row->hid, &u->prev, err);
	return 0;
}

static int
apply_update(struct store *s, struct store_op *op, int64_t rev, int64_t hid, int64_t now_ns,
	     struct op_undo *u, korch_error **err)
{
	struct obj_row row = { 0 };
	_cleanup_free_ char *labels = NULL, *text = NULL;
	int r = load_current(s, op, &row, u, err);
	_cleanup_free_ _unused_ char *old_labels = row.labels; /* freed on every path */
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
	if ((r = labels_text(op->obj, &labels, err)) < 0 || (r = set_rv(op->obj, rev, u, err)) < 0)
		return r;
	if (!(text = json_dumps(op->obj, JSON_COMPACT)))
		return error_oom(err);
	if ((r = hist_insert(s, hid, HIST_UPDATE, &op->key, row.hid, now_ns, text, err)) < 0)
		return r;
	sqlite3_stmt *st = store_stmt(s, STMT_OBJ_UPDATE, err);
	if (!st)
		return KORCH_ESYSTEM;
	bind_key(st, &op->key);
	sqlite3_bind_int64(st, 5, rev);
	sqlite3_bind_int64(st, 6, hid);
	if (lease)
		sqlite3_bind_int64(st, 7, lease);
	if (labels)
		sqlite3_bind_text(st, 8, labels, -1, SQLITE_STATIC);
	if ((r = store_exec_stmt(s, st, err, "write object")) < 0)
		return r;
	if (streq_null(labels, old_labels))
		return 0;
	if ((r = labels_remove_text(s, &op->key, old_labels, err)) < 0)
		return r;
	return labels_apply(s, &op->key,
			    json_object_get(json_object_get(op->obj, "metadata"), "labels"), true,
			    err);
}

/* Deletes one live object at hid: its history row, its object row, its label rows. */
static int
delete_object(struct store *s, const struct store_key *key, const struct obj_row *row, int64_t hid,
	      int64_t now_ns, korch_error **err)
{
	int r = hist_insert(s, hid, HIST_DELETE, key, row->hid, now_ns, NULL, err);
	if (r < 0)
		return r;
	sqlite3_stmt *st = store_stmt(s, STMT_OBJ_DELETE, err);
	if (!st)
		return KORCH_ESYSTEM;
	bind_key(st, key);
	if ((r = store_exec_stmt(s, st, err, "delete object")) < 0)
		return r;
	return labels_remove_text(s, key, row->labels, err);
}

static int
apply_delete(struct store *s, struct store_op *op, int64_t hid, int64_t now_ns, struct op_undo *u,
	     korch_error **err)
{
	struct obj_row row = { 0 };
	int r = load_current(s, op, &row, u, err);
	_cleanup_free_ _unused_ char *old_labels = row.labels; /* freed on every path */
	if (r < 0)
		return r;
	return delete_object(s, &op->key, &row, hid, now_ns, err);
}

/* Checks what can be checked before taking the write lock. */
static int
validate_ops(const struct store_op *ops, size_t n_ops, korch_error **err)
{
	if (n_ops == 0)
		return error_set(err, KORCH_EINVALID, "empty transaction");
	if (n_ops > STORE_TXN_MAX_OPS)
		return error_set(err, KORCH_ETOOLARGE,
				 "transaction has %zu operations; the limit is %d", n_ops,
				 STORE_TXN_MAX_OPS);
	struct hashmap seen = HASHMAP_INIT;
	int r = 0;
	for (size_t i = 0; i < n_ops && r == 0; i++) {
		const struct store_op *op = &ops[i];
		char q[256];
		if ((r = store_key_check(&op->key, err)) < 0)
			break;
		if ((op->type == STORE_OP_CREATE || op->type == STORE_OP_UPDATE) &&
		    !json_is_object(op->obj)) {
			r = error_set(err, KORCH_EINVALID,
				      "%s \"%s\": the object is not a JSON object",
				      store_qualified_resource(op->key.group, op->key.resource, q),
				      op->key.name);
			break;
		}
		if (op->type > STORE_OP_CHECK) {
			r = error_set(err, KORCH_EINVALID, "unknown store operation %d", op->type);
			break;
		}
		if (op->expected_revision < 0 || op->lease < STORE_LEASE_DETACH) {
			r = error_set(err, KORCH_EINVALID, "%s \"%s\": negative revision or lease",
				      store_qualified_resource(op->key.group, op->key.resource, q),
				      op->key.name);
			break;
		}
		if (n_ops == 1)
			break;
		char *joined = NULL;
		if (asprintf(&joined, "%s\x1f%s\x1f%s\x1f%s", op->key.group, op->key.resource,
			     op->key.ns, op->key.name) < 0) {
			r = error_oom(err);
			break;
		}
		if (hashmap_contains(&seen, joined)) {
			r = error_set(err, KORCH_EINVALID, "transaction writes %s \"%s\"%s%s twice",
				      store_qualified_resource(op->key.group, op->key.resource, q),
				      op->key.name, op->key.ns[0] ? " in namespace " : "",
				      op->key.ns);
		} else if (hashmap_put(&seen, joined, NULL, NULL) < 0) {
			r = error_oom(err);
		}
		free(joined);
	}
	hashmap_free(&seen, NULL);
	return r;
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
	int64_t cur = 0;
	if ((r = store_current_revision(s, &cur, err)) < 0)
		goto fail;
	int64_t rev = cur + 1, now_ns = korch_clock_wall_ns(s->clock);
	size_t seq = 0;
	for (size_t i = 0; i < n_ops; i++) {
		struct store_op *op = &ops[i];
		int64_t hid = HIST_ID(rev, seq);
		switch (op->type) {
		case STORE_OP_CREATE:
			r = apply_create(s, op, rev, hid, now_ns, &undo[i], err);
			break;
		case STORE_OP_UPDATE:
			r = apply_update(s, op, rev, hid, now_ns, &undo[i], err);
			break;
		case STORE_OP_DELETE: r = apply_delete(s, op, hid, now_ns, &undo[i], err); break;
		case STORE_OP_CHECK: {
			struct obj_row row = { 0 };
			r = load_current(s, op, &row, &undo[i], err);
			free(row.labels);
			break;
		}
		}
		if (r < 0) {
			if (n_ops > 1)
				korch_error_prefix(err, r, "transaction operation %zu of %zu",
						   i + 1, n_ops);
			goto fail;
		}
		if (op->type != STORE_OP_CHECK)
			seq++;
	}
	if ((r = store_commit_txn(s, err)) < 0)
		goto undo;
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
	struct obj_row row;          /* its object row (hid, labels) */
};

static void
lease_keys_free(struct lease_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(keys[i].grp);
		free(keys[i].res);
		free(keys[i].ns);
		free(keys[i].name);
		free(keys[i].row.labels);
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
		k->grp = col_dup(st, 0);
		k->res = col_dup(st, 1);
		k->ns = col_dup(st, 2);
		k->name = col_dup(st, 3);
		k->row.hid = sqlite3_column_int64(st, 4);
		k->row.labels = col_dup(st, 5);
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
		r = delete_object(s, &key, &keys[i].row, HIST_ID(revision, i), now_ns, err);
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
