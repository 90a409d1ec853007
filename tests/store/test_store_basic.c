/*
 * The store's basic contract on real files: the file it creates, create/get/update/delete with
 * compare-and-swap and their exact errors, transactions all or nothing, leases on the test
 * clock, schema migration, foreign files, backup and restore, the integrity check, and the
 * refusal to write after an I/O error (through a fault-injecting SQLite VFS).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/loop.h"
#include "helpers.h"
#include "store/store-internal.h"

struct fixture {
	char *dir;  /* temporary directory */
	char *path; /* dir/state.db */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = test_tmpdir();
	f->path = test_path(f->dir, "state.db");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	test_tmpdir_remove(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static int64_t
pragma(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *
pragma_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	char *v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

static void
test_open_file_settings(void **state)
{
	struct fixture *f = *state;
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	assert_string_equal(store_path(s), f->path);
	assert_int_equal(pragma(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(pragma(s->db, "PRAGMA application_id"), STORE_APPLICATION_ID);
	assert_int_equal(pragma(s->db, "PRAGMA auto_vacuum"), 2); /* incremental */
	assert_int_equal(pragma(s->db, "PRAGMA synchronous"), 2); /* FULL */
	_cleanup_free_ char *mode = pragma_text(s->db, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	int64_t rev = -1, compacted = -1;
	assert_int_equal(store_revision(s, &rev, &compacted, NULL), 0);
	assert_int_equal(rev, 0);
	assert_int_equal(compacted, 0);
	store_close(steal_pointer(&s));

	/* The NORMAL option, and a second handle on the same file. */
	struct store_options o = { .sync_normal = true };
	_cleanup_(store_closep) struct store *s2 = NULL;
	assert_int_equal(store_open(f->path, &o, &s2, NULL), 0);
	assert_int_equal(pragma(s2->db, "PRAGMA synchronous"), 1);
}

static void
test_create_get(void **state)
{
	struct fixture *f = *state;
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	struct store_key k = test_key("default", "web");
	json_t *obj = test_obj("default", "web", "app=web", 1);
	int64_t rev = 0;
	assert_int_equal(store_create(s, &k, obj, 0, &rev, NULL), 0);
	assert_int_equal(rev, 1);
	assert_int_equal(test_rv(obj), 1);

	json_t *got = NULL;
	struct store_object_meta meta;
	assert_int_equal(store_get(s, &k, &got, &meta, NULL), 0);
	assert_true(json_equal(got, obj));
	/* Stored as compact JSON in insertion order, resourceVersion where it was added. */
	char *text = json_dumps(got, JSON_COMPACT);
	assert_string_equal(text,
			    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
			    "{\"name\":\"web\",\"namespace\":\"default\",\"labels\":"
			    "{\"app\":\"web\"},\"resourceVersion\":\"1\"},\"spec\":{\"n\":1}}");
	free(text);
	assert_int_equal(meta.create_revision, 1);
	assert_int_equal(meta.mod_revision, 1);
	assert_int_equal(meta.lease, 0);
	json_decref(got);

	/* A second create fails and leaves the caller's object as it was. */
	json_t *again = test_obj("default", "web", NULL, 2);
	json_object_set_new(json_object_get(again, "metadata"), "resourceVersion",
			    json_string("7"));
	assert_int_equal(store_create(s, &k, again, 0, &rev, &err), KORCH_EEXISTS);
	assert_string_equal(korch_error_message(err), "deployments.apps \"web\" already exists");
	assert_int_equal(test_rv(again), 7);
	json_decref(again);

	/* The core group has no suffix; another namespace is another key. */
	korch_error_free(steal_pointer(&err));
	struct store_key pod = { "", "pods", "default", "p" };
	assert_int_equal(store_get(s, &pod, &got, NULL, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "pods \"p\" not found");
	struct store_key other = test_key("kube-system", "web");
	assert_int_equal(store_create(s, &other, obj, 0, &rev, NULL), 0);
	assert_int_equal(rev, 2);
	json_decref(obj);

	/* Bad keys and non-objects are refused before anything is written. */
	korch_error_free(steal_pointer(&err));
	struct store_key noname = test_key("default", "");
	json_t *o2 = test_obj("default", "x", NULL, 0);
	assert_int_equal(store_create(s, &noname, o2, 0, &rev, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "deployments.apps: store key has an empty name");
	korch_error_free(steal_pointer(&err));
	json_t *arr = json_array();
	struct store_key kx = test_key("default", "x");
	assert_int_equal(store_create(s, &kx, arr, 0, &rev, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "deployments.apps \"x\": the object is not a JSON object");
	json_decref(arr);
	json_decref(o2);
	assert_int_equal(store_revision(s, &rev, NULL, NULL), 0);
	assert_int_equal(rev, 2);
}

static void
test_update_delete_cas(void **state)
{
	struct fixture *f = *state;
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	struct store_key k = test_key("default", "web");
	json_t *obj = test_obj("default", "web", NULL, 1);
	int64_t rev = 0;
	assert_int_equal(store_create(s, &k, obj, 0, &rev, NULL), 0);

	/* Update at the right revision. */
	json_object_set_new(json_object_get(obj, "spec"), "n", json_integer(2));
	assert_int_equal(store_update(s, &k, obj, 1, &rev, NULL), 0);
	assert_int_equal(rev, 2);
	assert_int_equal(test_rv(obj), 2);

	/* A stale revision is a conflict; the object keeps the revision it had. */
	json_t *stale = test_obj("default", "web", NULL, 99);
	json_object_set_new(json_object_get(stale, "metadata"), "resourceVersion",
			    json_string("1"));
	assert_int_equal(store_update(s, &k, stale, 1, &rev, &err), KORCH_ECONFLICT);
	assert_string_equal(
		korch_error_message(err),
		"Operation cannot be fulfilled on deployments.apps \"web\": the object "
		"has been modified; please apply your changes to the latest version and "
		"try again");
	assert_int_equal(test_rv(stale), 1);
	json_t *got = NULL;
	assert_int_equal(store_get(s, &k, &got, NULL, NULL), 0);
	assert_int_equal(test_n(got), 2);
	json_decref(got);

	/* Without a precondition the update goes through. */
	assert_int_equal(store_update(s, &k, stale, 0, &rev, NULL), 0);
	assert_int_equal(rev, 3);
	struct store_object_meta meta;
	assert_int_equal(store_get(s, &k, &got, &meta, NULL), 0);
	assert_int_equal(test_n(got), 99);
	assert_int_equal(meta.create_revision, 1);
	assert_int_equal(meta.mod_revision, 3);
	json_decref(got);
	json_decref(stale);

	/* Update and delete of a missing object. */
	korch_error_free(steal_pointer(&err));
	struct store_key missing = test_key("default", "nope");
	assert_int_equal(store_update(s, &missing, obj, 0, &rev, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "deployments.apps \"nope\" not found");
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_delete(s, &missing, 0, NULL, &rev, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "deployments.apps \"nope\" not found");

	/* Delete with a stale revision, then the right one: the deleted object comes back. */
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_delete(s, &k, 2, NULL, &rev, &err), KORCH_ECONFLICT);
	json_t *prev = NULL;
	assert_int_equal(store_delete(s, &k, 3, &prev, &rev, NULL), 0);
	assert_int_equal(rev, 4);
	assert_int_equal(test_rv(prev), 3);
	assert_int_equal(test_n(prev), 99);
	json_decref(prev);
	assert_int_equal(store_get(s, &k, &got, NULL, NULL), KORCH_ENOTFOUND);

	/* Created again: a new create revision. */
	assert_int_equal(store_create(s, &k, obj, 0, &rev, NULL), 0);
	assert_int_equal(store_get(s, &k, &got, &meta, NULL), 0);
	assert_int_equal(meta.create_revision, 5);
	assert_int_equal(meta.mod_revision, 5);
	json_decref(got);
	json_decref(obj);
	assert_int_equal(store_check(s, NULL), 0);
}

static void
test_txn_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	struct store_key ka = test_key("default", "a"), kb = test_key("default", "b"),
			 kc = test_key("default", "c"), kd = test_key("default", "d");
	json_t *b = test_obj("default", "b", "tier=db", 1), *d = test_obj("default", "d", NULL, 1);
	int64_t rev = 0;
	assert_int_equal(store_create(s, &kb, b, 0, &rev, NULL), 0);
	assert_int_equal(store_create(s, &kd, d, 0, &rev, NULL), 0);
	assert_int_equal(rev, 2);

	/* A failing precondition in the middle: nothing is written, nothing is changed. */
	json_t *a = test_obj("default", "a", "tier=web", 1), *c = test_obj("default", "c", NULL, 1);
	json_t *b2 = test_obj("default", "b", "tier=cache", 2);
	struct store_op ops[] = {
		{ .type = STORE_OP_CREATE, .key = ka, .obj = a },
		{ .type = STORE_OP_UPDATE, .key = kb, .obj = b2, .expected_revision = 2 },
		{ .type = STORE_OP_DELETE, .key = kd },
		{ .type = STORE_OP_CREATE, .key = kc, .obj = c },
	};
	assert_int_equal(store_commit(s, ops, 4, &rev, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "transaction operation 2 of 4: Operation cannot be fulfilled on "
			    "deployments.apps \"b\": the object has been modified; please apply "
			    "your changes to the latest version and try again");
	assert_int_equal(test_rv(a), -1);
	assert_int_equal(test_rv(b2), -1);
	assert_int_equal(store_revision(s, &rev, NULL, NULL), 0);
	assert_int_equal(rev, 2);
	json_t *got = NULL;
	assert_int_equal(store_get(s, &ka, &got, NULL, NULL), KORCH_ENOTFOUND);
	assert_int_equal(store_get(s, &kd, &got, NULL, NULL), 0);
	json_decref(got);
	struct store_label tier_web = { "tier", "web" };
	struct store_list_options lo = {
		.group = "apps", .resource = "deployments", .labels = &tier_web, .n_labels = 1
	};
	struct store_list l = { 0 };
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 0);
	store_list_clear(&l);

	/* The same transaction with the right revision: one revision for all of it. */
	ops[1].expected_revision = 1;
	ops[2].want_prev = true;
	assert_int_equal(store_commit(s, ops, 4, &rev, NULL), 0);
	assert_int_equal(rev, 3);
	assert_int_equal(test_rv(a), 3);
	assert_int_equal(test_rv(b2), 3);
	assert_int_equal(test_rv(c), 3);
	assert_non_null(ops[2].ret_prev);
	assert_int_equal(test_rv(ops[2].ret_prev), 2);
	json_decref(ops[2].ret_prev);
	assert_int_equal(store_get(s, &kd, &got, NULL, NULL), KORCH_ENOTFOUND);
	/* The label index followed the update. */
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 1);
	store_list_clear(&l);
	struct store_label tier_db = { "tier", "db" };
	lo.labels = &tier_db;
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 0);
	store_list_clear(&l);

	/* Checks alone take no revision; a failed check fails the transaction. */
	struct store_op checks[] = {
		{ .type = STORE_OP_CHECK, .key = ka, .expected_revision = 3 },
		{ .type = STORE_OP_CHECK, .key = kb },
	};
	assert_int_equal(store_commit(s, checks, 2, &rev, NULL), 0);
	assert_int_equal(rev, 3);
	checks[1].key = kd;
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_commit(s, checks, 2, &rev, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err),
			    "transaction operation 2 of 2: deployments.apps \"d\" not found");

	/* Refused before the write lock: a key twice, no ops, too many ops. */
	korch_error_free(steal_pointer(&err));
	struct store_op twice[] = {
		{ .type = STORE_OP_UPDATE, .key = ka, .obj = a },
		{ .type = STORE_OP_DELETE, .key = ka },
	};
	assert_int_equal(store_commit(s, twice, 2, &rev, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "transaction writes deployments.apps \"a\" in namespace default twice");
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_commit(s, twice, 0, &rev, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "empty transaction");
	korch_error_free(steal_pointer(&err));
	struct store_op *many = calloc(STORE_TXN_MAX_OPS + 1, sizeof(*many));
	assert_int_equal(store_commit(s, many, STORE_TXN_MAX_OPS + 1, &rev, &err), KORCH_ETOOLARGE);
	assert_string_equal(korch_error_message(err),
			    "transaction has 10001 operations; the limit is 10000");
	free(many);
	json_decref(a);
	json_decref(b);
	json_decref(b2);
	json_decref(c);
	json_decref(d);
	assert_int_equal(store_check(s, NULL), 0);
}

/* ---- leases ---- */

struct lease_events {
	int callbacks;    /* transactions delivered */
	int deleted;      /* DELETED events */
	int64_t last_rev; /* revision of the last event */
	char names[256];  /* deleted names, space-separated */
};

static void
on_lease_event(struct store_watch *w, const struct store_event *ev, size_t n,
	       const korch_error *error, void *userdata)
{
	struct lease_events *le = userdata;
	assert_null(error);
	le->callbacks++;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].type == STORE_EVENT_DELETED) {
			le->deleted++;
			strcat(le->names, ev[i].key.name);
			strcat(le->names, " ");
			assert_int_equal(test_rv(ev[i].object), ev[i].revision);
		}
		le->last_rev = ev[i].revision;
	}
}

static void
test_leases(void **state)
{
	struct fixture *f = *state;
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_test(1700000000LL * NSEC_PER_SEC, &clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct store_options o = { .loop = loop, .poll_interval_ms = -1 };
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);

	int64_t lease = 0, rev = 0;
	assert_int_equal(store_lease_grant(s, 10, &lease, NULL), 0);
	assert_true(lease > 0);
	struct store_key k1 = test_key("default", "e1"), k2 = test_key("default", "e2"),
			 k3 = test_key("default", "e3");
	json_t *o1 = test_obj("default", "e1", "kind=event", 1);
	json_t *o2 = test_obj("default", "e2", NULL, 1), *o3 = test_obj("default", "e3", NULL, 1);
	assert_int_equal(store_create(s, &k1, o1, lease, &rev, NULL), 0);
	assert_int_equal(store_create(s, &k2, o2, lease, &rev, NULL), 0);
	assert_int_equal(store_create(s, &k3, o3, 0, &rev, NULL), 0);
	struct store_object_meta meta;
	json_t *got = NULL;
	assert_int_equal(store_get(s, &k1, &got, &meta, NULL), 0);
	assert_int_equal(meta.lease, lease);
	json_decref(got);
	/* An update without a lease keeps the attachment. */
	assert_int_equal(store_update(s, &k2, o2, 0, &rev, NULL), 0);
	assert_int_equal(store_get(s, &k2, &got, &meta, NULL), 0);
	assert_int_equal(meta.lease, lease);
	json_decref(got);
	assert_int_equal(rev, 4);

	struct lease_events le = { 0 };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	_cleanup_(store_watch_freep) struct store_watch *w = NULL;
	assert_int_equal(store_watch_new(s, &wo, on_lease_event, &le, &w, NULL), 0);

	/* Keep-alive at 8 s moves the expiry to 18 s. */
	assert_int_equal(korch_loop_advance(loop, 8 * NSEC_PER_SEC, NULL), 0);
	assert_int_equal(store_lease_keepalive(s, lease, NULL), 0);
	assert_int_equal(korch_loop_advance(loop, 9 * NSEC_PER_SEC, NULL), 0);
	assert_int_equal(le.deleted, 0);
	assert_int_equal(store_get(s, &k1, &got, NULL, NULL), 0);
	json_decref(got);

	/* At 18 s the lease expires: both keys go in one revision, as ordinary DELETE events. */
	assert_int_equal(korch_loop_advance(loop, 1 * NSEC_PER_SEC, NULL), 0);
	assert_int_equal(korch_loop_dispatch(loop, 0, NULL) >= 0, 1);
	assert_int_equal(le.deleted, 2);
	assert_int_equal(le.callbacks, 1);
	assert_string_equal(le.names, "e1 e2 ");
	assert_int_equal(le.last_rev, 5);
	assert_int_equal(store_get(s, &k1, &got, NULL, NULL), KORCH_ENOTFOUND);
	assert_int_equal(store_get(s, &k3, &got, NULL, NULL), 0);
	json_decref(got);
	/* The label index lost the deleted object. */
	struct store_label ev = { "kind", "event" };
	struct store_list_options lo = {
		.group = "apps", .resource = "deployments", .labels = &ev, .n_labels = 1
	};
	struct store_list l = { 0 };
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 0);
	store_list_clear(&l);

	char msg[64];
	snprintf(msg, sizeof(msg), "lease %lld not found", (long long)lease);
	assert_int_equal(store_lease_keepalive(s, lease, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_create(s, &k1, o1, lease, &rev, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), msg);

	/* Explicit revocation; a lease without keys takes no revision. */
	int64_t l2 = 0, l3 = 0;
	assert_int_equal(store_lease_grant(s, 3600, &l2, NULL), 0);
	assert_int_equal(store_lease_grant(s, 3600, &l3, NULL), 0);
	assert_int_equal(store_create(s, &k1, o1, l2, &rev, NULL), 0);
	assert_int_equal(rev, 6);
	assert_int_equal(store_lease_revoke(s, l2, &rev, NULL), 0);
	assert_int_equal(rev, 7);
	assert_int_equal(store_lease_revoke(s, l3, &rev, NULL), 0);
	assert_int_equal(rev, 7);
	assert_int_equal(store_get(s, &k1, &got, NULL, NULL), KORCH_ENOTFOUND);
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_lease_grant(s, 0, &l2, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "lease TTL 0 s is out of range (1 s to 10 years)");

	/* Without a loop, expiry runs when asked. */
	int64_t l4 = 0;
	assert_int_equal(store_lease_grant(s, 5, &l4, NULL), 0);
	assert_int_equal(store_create(s, &k1, o1, l4, &rev, NULL), 0);
	size_t expired = 99;
	assert_int_equal(store_lease_expire(s, &expired, NULL), 0);
	assert_int_equal(expired, 0);
	assert_int_equal(korch_clock_advance(clock, 5 * NSEC_PER_SEC), 0);
	assert_int_equal(store_lease_expire(s, &expired, NULL), 0);
	assert_int_equal(expired, 1);
	assert_int_equal(store_get(s, &k1, &got, NULL, NULL), KORCH_ENOTFOUND);
	json_decref(o1);
	json_decref(o2);
	json_decref(o3);
	assert_int_equal(store_check(s, NULL), 0);
}

/* ---- schema ---- */

/* Version 1 of the schema, as the first korch stores were laid out: no label index. */
static const char schema_v1[] =
	"PRAGMA application_id = 1802465891; PRAGMA user_version = 1;"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE history (id INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
	" grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
	" prev INTEGER, time_ns INTEGER NOT NULL, value TEXT);"
	"CREATE TABLE leases (id INTEGER PRIMARY KEY, ttl_s INTEGER NOT NULL,"
	" expiry_ns INTEGER NOT NULL);"
	"CREATE INDEX leases_expiry ON leases (expiry_ns);"
	"CREATE TABLE objects (grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL,"
	" name TEXT NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL,"
	" hid INTEGER NOT NULL, lease INTEGER, PRIMARY KEY (grp, res, ns, name)) WITHOUT ROWID;"
	"CREATE INDEX objects_lease ON objects (lease) WHERE lease IS NOT NULL;"
	"INSERT INTO meta VALUES ('revision', 3), ('compacted', 0), ('compact_pos', 0);"
	"INSERT INTO history VALUES (1048576, 1, 'apps', 'deployments', 'default', 'a', NULL, 1,"
	" '{\"metadata\":{\"name\":\"a\",\"labels\":{\"app\":\"web\",\"n\":3},"
	"\"resourceVersion\":\"1\"}}');"
	"INSERT INTO history VALUES (2097152, 1, 'apps', 'deployments', 'default', 'b', NULL, 2,"
	" '{\"metadata\":{\"name\":\"b\",\"labels\":{\"app\":\"db\"},\"resourceVersion\":\"2\"}}');"
	"INSERT INTO history VALUES (3145728, 2, 'apps', 'deployments', 'default', 'b', 2097152, 3,"
	" '{\"metadata\":{\"name\":\"b\",\"labels\":{\"app\":\"web\"},\"resourceVersion\":\"3\"}}');"
	"INSERT INTO objects VALUES ('apps', 'deployments', 'default', 'a', 1, 1, 1048576, NULL);"
	"INSERT INTO objects VALUES ('apps', 'deployments', 'default', 'b', 2, 3, 3145728, NULL);";

static void
test_migration_from_v1(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, schema_v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	assert_int_equal(pragma(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	struct store_label web = { "app", "web" };
	struct store_list_options lo = {
		.group = "apps", .resource = "deployments", .labels = &web, .n_labels = 1
	};
	struct store_list l = { 0 };
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 2);
	assert_int_equal(l.revision, 3);
	store_list_clear(&l);
	/* Only string labels are indexed. */
	assert_int_equal(pragma(s->db, "SELECT count(*) FROM labels"), 2);
	_cleanup_free_ char *labels =
		pragma_text(s->db, "SELECT h.labels FROM objects o JOIN history h ON h.id = o.hid"
				   " WHERE o.name = 'a'");
	assert_string_equal(labels, "{\"app\":\"web\",\"n\":3}");
	assert_int_equal(store_check(s, NULL), 0);
	/* Version 4: history by resource. */
	assert_int_equal(pragma(s->db, "SELECT count(*) FROM sqlite_master"
				       " WHERE type = 'index' AND name = 'history_res'"),
			 1);

	/* Writes after the migration keep the index right. */
	struct store_key kb = test_key("default", "b");
	json_t *b = test_obj("default", "b", "app=db", 4);
	int64_t rev = 0;
	assert_int_equal(store_update(s, &kb, b, 3, &rev, NULL), 0);
	assert_int_equal(rev, 4);
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 1);
	store_list_clear(&l);
	json_decref(b);
	store_close(steal_pointer(&s));

	/* Opening again migrates nothing. */
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	assert_int_equal(pragma(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

/*
 * Version 2 of the schema: (group, resource) as text in every row, labels in objects, the label
 * index in step with the writes. Five revisions: a created with labels (one not a string), p (a
 * core-group pod) created, a relabelled, b created on a lease, p deleted.
 */
static const char schema_v2[] =
	"PRAGMA application_id = 1802465891; PRAGMA user_version = 2;"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE history (id INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
	" grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
	" prev INTEGER, time_ns INTEGER NOT NULL, value TEXT);"
	"CREATE TABLE leases (id INTEGER PRIMARY KEY, ttl_s INTEGER NOT NULL,"
	" expiry_ns INTEGER NOT NULL);"
	"CREATE INDEX leases_expiry ON leases (expiry_ns);"
	"CREATE TABLE objects (grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL,"
	" name TEXT NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL,"
	" hid INTEGER NOT NULL, lease INTEGER, labels TEXT,"
	" PRIMARY KEY (grp, res, ns, name)) WITHOUT ROWID;"
	"CREATE INDEX objects_lease ON objects (lease) WHERE lease IS NOT NULL;"
	"CREATE TABLE labels (grp TEXT NOT NULL, res TEXT NOT NULL, key TEXT NOT NULL,"
	" value TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
	" PRIMARY KEY (grp, res, key, value, ns, name)) WITHOUT ROWID;"
	"INSERT INTO meta VALUES ('revision', 0), ('compacted', 0), ('compact_pos', 0);"
	"INSERT INTO history VALUES (1048576, 1, 'apps', 'deployments', 'default', 'a', NULL, 1,"
	" '{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"labels\":{\"app\":\"web\","
	"\"n\":3},\"resourceVersion\":\"1\"},\"spec\":{\"n\":1}}');"
	"INSERT INTO history VALUES (2097152, 1, '', 'pods', 'default', 'p', NULL, 2,"
	" '{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"labels\":{\"app\":\"web\"},"
	"\"resourceVersion\":\"2\"},\"spec\":{\"n\":2}}');"
	"INSERT INTO history VALUES (3145728, 2, 'apps', 'deployments', 'default', 'a', 1048576,"
	" 3, '{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"labels\":{\"app\":\"db\"},"
	"\"resourceVersion\":\"3\"},\"spec\":{\"n\":3}}');"
	"INSERT INTO history VALUES (4194304, 1, 'apps', 'deployments', 'default', 'b', NULL, 4,"
	" '{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\",\"resourceVersion\":\"4\"},"
	"\"spec\":{\"n\":4}}');"
	"INSERT INTO history VALUES (5242880, 3, '', 'pods', 'default', 'p', 2097152, 5, NULL);"
	"INSERT INTO objects VALUES ('apps', 'deployments', 'default', 'a', 1, 3, 3145728, NULL,"
	" '{\"app\":\"db\"}');"
	"INSERT INTO objects VALUES ('apps', 'deployments', 'default', 'b', 4, 4, 4194304, 77,"
	" NULL);"
	"INSERT INTO labels VALUES ('apps', 'deployments', 'app', 'db', 'default', 'a');"
	"INSERT INTO leases VALUES (77, 3600, 9000000000000000000);";

/* The names of a label list's items, "ns/name ...". */
static char *
label_list(struct store *s, const char *group, const char *resource, const char *key,
	   const char *value, int64_t revision)
{
	struct store_label req = { key, value };
	struct store_list_options lo = { .group = group,
					 .resource = resource,
					 .labels = &req,
					 .n_labels = 1,
					 .revision = revision };
	struct store_list l = { 0 };
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	char *out = calloc(1, 1024);
	size_t i;
	json_t *it;
	json_array_foreach (l.items, i, it) {
		json_t *m = json_object_get(it, "metadata");
		snprintf(out + strlen(out), 1024 - strlen(out), "%s%s/%s", i ? " " : "",
			 json_string_value(json_object_get(m, "namespace")),
			 json_string_value(json_object_get(m, "name")));
	}
	store_list_clear(&l);
	return out;
}

static void
test_migration_from_v2(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, schema_v2, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	assert_int_equal(pragma(s->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(pragma(s->db, "SELECT count(*) FROM resources"), 2);
	assert_int_equal(pragma(s->db, "SELECT count(*) FROM history"), 5);
	/* The index is complete: its position is the last history row. */
	assert_int_equal(pragma(s->db, "SELECT value FROM meta WHERE key = 'label_pos'"), 5242880);
	_cleanup_free_ char *labels1 =
		pragma_text(s->db, "SELECT labels FROM history WHERE id = 1048576");
	assert_string_equal(labels1, "{\"app\":\"web\",\"n\":3}");
	assert_int_equal(pragma(s->db, "SELECT labels IS NULL FROM history WHERE id = 4194304"), 1);
	assert_int_equal(store_check(s, NULL), 0);
	int64_t rev = 0;
	assert_int_equal(store_revision(s, &rev, NULL, NULL), 0);
	assert_int_equal(rev, 5);

	/* Objects, their revisions and leases. */
	struct store_key ka = test_key("default", "a"), kb = test_key("default", "b");
	struct store_key kp = { "", "pods", "default", "p" };
	json_t *got = NULL;
	struct store_object_meta meta;
	assert_int_equal(store_get(s, &ka, &got, &meta, NULL), 0);
	assert_int_equal(test_n(got), 3);
	assert_int_equal(meta.create_revision, 1);
	assert_int_equal(meta.mod_revision, 3);
	json_decref(got);
	assert_int_equal(store_get(s, &kb, &got, &meta, NULL), 0);
	assert_int_equal(meta.lease, 77);
	json_decref(got);
	assert_int_equal(store_get(s, &kp, &got, NULL, NULL), KORCH_ENOTFOUND);

	/* Label lists now and at the older revisions (read from the history). */
	_cleanup_free_ char *db_now = label_list(s, "apps", "deployments", "app", "db", 0);
	assert_string_equal(db_now, "default/a");
	_cleanup_free_ char *web_now = label_list(s, "apps", "deployments", "app", "web", 0);
	assert_string_equal(web_now, "");
	_cleanup_free_ char *web_1 = label_list(s, "apps", "deployments", "app", "web", 1);
	assert_string_equal(web_1, "default/a");
	_cleanup_free_ char *pods_2 = label_list(s, "", "pods", "app", "web", 2);
	assert_string_equal(pods_2, "default/p");
	_cleanup_free_ char *pods_5 = label_list(s, "", "pods", "app", "web", 5);
	assert_string_equal(pods_5, "");

	/* Writes go on: b gets a label, the lease still deletes it. */
	json_t *b = test_obj("default", "b", "app=web", 6);
	assert_int_equal(store_update(s, &kb, b, 4, &rev, NULL), 0);
	assert_int_equal(rev, 6);
	json_decref(b);
	_cleanup_free_ char *web_6 = label_list(s, "apps", "deployments", "app", "web", 0);
	assert_string_equal(web_6, "default/b");
	assert_int_equal(store_lease_revoke(s, 77, &rev, NULL), 0);
	assert_int_equal(rev, 7);
	assert_int_equal(store_get(s, &kb, &got, NULL, NULL), KORCH_ENOTFOUND);
	_cleanup_free_ char *web_7 = label_list(s, "apps", "deployments", "app", "web", 0);
	assert_string_equal(web_7, "");
	assert_int_equal(store_check(s, NULL), 0);
}

static void
test_refuses_foreign_files(void **state)
{
	struct fixture *f = *state;
	_cleanup_error_ korch_error *err = NULL;
	struct store *s = NULL;
	char msg[512];

	/* A text file. */
	assert_int_equal(write_file_atomic(f->path, "hello, world\n", 13, 0600, NULL), 0);
	assert_int_equal(store_open(f->path, NULL, &s, &err), KORCH_EINVALID);
	snprintf(msg, sizeof(msg), "%s is not a korch store: file is not a database", f->path);
	assert_string_equal(korch_error_message(err), msg);
	assert_null(s);

	/* Another program's SQLite database: left untouched. */
	unlink(f->path);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_open(f->path, NULL, &s, &err), KORCH_EINVALID);
	snprintf(msg, sizeof(msg),
		 "%s is not a korch store (SQLite application_id 0, want 0x6b6f7263)", f->path);
	assert_string_equal(korch_error_message(err), msg);

	/* A newer korch's store. */
	unlink(f->path);
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	store_close(s);
	s = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 9", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_open(f->path, NULL, &s, &err), KORCH_EPROTO);
	snprintf(msg, sizeof(msg),
		 "store %s has schema version 9, newer than this korch supports (%d)", f->path,
		 STORE_SCHEMA_VERSION);
	assert_string_equal(korch_error_message(err), msg);

	/* A directory that does not exist. */
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_open("/nonexistent-korch-dir/state.db", NULL, &s, &err),
			 KORCH_ESYSTEM);
	assert_string_equal(korch_error_message(err),
			    "store /nonexistent-korch-dir/state.db: directory: No such file or "
			    "directory");
}

/* ---- backup, restore, check ---- */

struct gone_watch {
	int events;     /* events delivered */
	int error_code; /* the error that ended the watch, or 0 */
};

static void
on_gone_event(struct store_watch *w, const struct store_event *ev, size_t n,
	      const korch_error *error, void *userdata)
{
	struct gone_watch *g = userdata;
	if (error)
		g->error_code = korch_error_code(error);
	else
		g->events += (int)n;
}

static bool
gone_seen(void *userdata)
{
	return ((struct gone_watch *)userdata)->error_code != 0;
}

static void
test_backup_restore(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *backup = test_path(f->dir, "backup.db");
	_cleanup_free_ char *fresh = test_path(f->dir, "fresh.db");
	_cleanup_free_ char *junk = test_path(f->dir, "junk.db");
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	int64_t rev = 0;
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "o%02d", i);
		struct store_key k = test_key("default", name);
		json_t *o = test_obj("default", name, i % 2 ? "odd=yes" : "odd=no", i);
		assert_int_equal(store_create(s, &k, o, 0, &rev, NULL), 0);
		json_decref(o);
	}
	assert_int_equal(store_backup(s, backup, NULL), 0);
	struct stat st;
	assert_int_equal(stat(backup, &st), 0);
	char side[4096];
	snprintf(side, sizeof(side), "%s-wal", backup);
	assert_int_equal(stat(side, &st), -1);

	/* More history after the backup: 5 deletes, 5 creates. */
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "o%02d", i);
		struct store_key k = test_key("default", name);
		assert_int_equal(store_delete(s, &k, 0, NULL, &rev, NULL), 0);
		snprintf(name, sizeof(name), "new%d", i);
		k = test_key("default", name);
		json_t *o = test_obj("default", name, NULL, i);
		assert_int_equal(store_create(s, &k, o, 0, &rev, NULL), 0);
		json_decref(o);
	}
	assert_int_equal(rev, 30);

	/* A watcher on another handle of the live store learns that history was replaced. */
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct store_options o = { .loop = loop, .poll_interval_ms = -1 };
	_cleanup_(store_closep) struct store *ws = NULL;
	assert_int_equal(store_open(f->path, &o, &ws, NULL), 0);
	struct gone_watch g = { 0 };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	_cleanup_(store_watch_freep) struct store_watch *w = NULL;
	assert_int_equal(store_watch_new(ws, &wo, on_gone_event, &g, &w, NULL), 0);

	int64_t restored = 0;
	assert_int_equal(store_restore(f->path, backup, &restored, NULL), 0);
	assert_int_equal(restored, 31);
	assert_true(test_dispatch_until(loop, gone_seen, &g, 2000));
	assert_int_equal(g.error_code, KORCH_EGONE);
	assert_int_equal(g.events, 0);

	/* The open handle sees the backup's content at the new revision. */
	int64_t compacted = 0;
	assert_int_equal(store_revision(s, &rev, &compacted, NULL), 0);
	assert_int_equal(rev, 31);
	assert_int_equal(compacted, 31);
	json_t *got = NULL;
	struct store_key k0 = test_key("default", "o00"), kn = test_key("default", "new0");
	assert_int_equal(store_get(s, &k0, &got, NULL, NULL), 0);
	assert_int_equal(test_n(got), 0);
	json_decref(got);
	assert_int_equal(store_get(s, &kn, &got, NULL, NULL), KORCH_ENOTFOUND);
	struct store_label odd = { "odd", "yes" };
	struct store_list_options lo = {
		.group = "apps", .resource = "deployments", .labels = &odd, .n_labels = 1
	};
	struct store_list l = { 0 };
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 10);
	assert_int_equal(l.revision, 31);
	store_list_clear(&l);
	/* Writes go on from there; watches below the restore point are gone. */
	json_t *x = test_obj("default", "x", NULL, 1);
	struct store_key kx = test_key("default", "x");
	assert_int_equal(store_create(s, &kx, x, 0, &rev, NULL), 0);
	assert_int_equal(rev, 32);
	json_decref(x);
	store_watch_free(steal_pointer(&w));
	wo.from_revision = 20;
	assert_int_equal(store_watch_new(ws, &wo, on_gone_event, &g, &w, &err), KORCH_EGONE);
	assert_string_equal(korch_error_message(err), "too old resource version: 20 (31)");
	assert_int_equal(store_check(s, NULL), 0);

	/* Restoring where there is no store yet creates one. */
	assert_int_equal(store_restore(fresh, backup, &restored, NULL), 0);
	assert_int_equal(restored, 21);
	_cleanup_(store_closep) struct store *s2 = NULL;
	assert_int_equal(store_open(fresh, NULL, &s2, NULL), 0);
	assert_int_equal(store_get(s2, &k0, &got, NULL, NULL), 0);
	json_decref(got);
	assert_int_equal(store_check(s2, NULL), 0);

	/* Files that are not korch stores are refused, and the store is left as it was. */
	korch_error_free(steal_pointer(&err));
	assert_int_equal(
		write_file_atomic(junk, "not a database at all, just some text\n", 38, 0600, NULL),
		0);
	assert_int_equal(store_restore(f->path, junk, &restored, &err), KORCH_EINVALID);
	char msg[512];
	snprintf(msg, sizeof(msg), "%s is not a korch store: file is not a database", junk);
	assert_string_equal(korch_error_message(err), msg);
	unlink(junk);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(junk, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_restore(f->path, junk, &restored, &err), KORCH_EINVALID);
	snprintf(msg, sizeof(msg),
		 "%s is not a korch store (SQLite application_id 0, want 0x6b6f7263)", junk);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_restore(f->path, "/nonexistent-korch/b.db", &restored, &err),
			 KORCH_ESYSTEM);
	assert_int_equal(store_revision(s, &rev, NULL, NULL), 0);
	assert_int_equal(rev, 32);
	/* No temporary files are left behind. */
	int files = 0;
	DIR *d = opendir(f->dir);
	assert_non_null(d);
	for (struct dirent *de = readdir(d); de; de = readdir(d))
		if (strstr(de->d_name, ".restore-") || strstr(de->d_name, ".backup-"))
			files++;
	closedir(d);
	assert_int_equal(files, 0);
}

/*
 * A restore brings the backup's resource ids: a handle that had ids of the replaced file must
 * not write with them.
 */
static void
test_restore_changes_resource_ids(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *other = test_path(f->dir, "other.db");
	_cleanup_free_ char *backup = test_path(f->dir, "other-backup.db");
	struct store_key pod = { "", "pods", "default", "p" };
	struct store_key dep = test_key("default", "d");
	int64_t rev = 0;
	/* The other store knows pods first, deployments second. */
	_cleanup_(store_closep) struct store *o = NULL;
	assert_int_equal(store_open(other, NULL, &o, NULL), 0);
	json_t *p = test_obj("default", "p", "app=web", 1), *d = test_obj("default", "d", NULL, 2);
	assert_int_equal(store_create(o, &pod, p, 0, &rev, NULL), 0);
	assert_int_equal(store_create(o, &dep, d, 0, &rev, NULL), 0);
	json_decref(p);
	json_decref(d);
	assert_int_equal(store_backup(o, backup, NULL), 0);
	/* This one knows deployments first: its handle keeps that resource's id. */
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	struct store_key first = test_key("default", "first");
	json_t *x = test_obj("default", "first", NULL, 3);
	assert_int_equal(store_create(s, &first, x, 0, &rev, NULL), 0);
	json_decref(x);
	assert_int_equal(pragma(s->db, "SELECT id FROM resources WHERE res = 'deployments'"), 1);

	assert_int_equal(store_restore(f->path, backup, &rev, NULL), 0);
	assert_int_equal(pragma(s->db, "SELECT id FROM resources WHERE res = 'deployments'"), 2);
	/* Written through the same handle: a deployment, not a pod. */
	struct store_key after = test_key("default", "after");
	x = test_obj("default", "after", "app=web", 4);
	assert_int_equal(store_create(s, &after, x, 0, &rev, NULL), 0);
	json_decref(x);
	_cleanup_(store_closep) struct store *fresh = NULL;
	assert_int_equal(store_open(f->path, NULL, &fresh, NULL), 0);
	json_t *got = NULL;
	assert_int_equal(store_get(fresh, &after, &got, NULL, NULL), 0);
	assert_int_equal(test_n(got), 4);
	json_decref(got);
	struct store_key not_pod = { "", "pods", "default", "after" };
	assert_int_equal(store_get(fresh, &not_pod, &got, NULL, NULL), KORCH_ENOTFOUND);
	_cleanup_free_ char *pods = label_list(fresh, "", "pods", "app", "web", 0);
	assert_string_equal(pods, "default/p");
	_cleanup_free_ char *deps = label_list(fresh, "apps", "deployments", "app", "web", 0);
	assert_string_equal(deps, "default/after");
	assert_int_equal(store_get(fresh, &first, &got, NULL, NULL), KORCH_ENOTFOUND);
	assert_int_equal(store_check(fresh, NULL), 0);
}

static void
test_check_finds_damage(void **state)
{
	struct fixture *f = *state;
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	struct store_key k = test_key("default", "web");
	json_t *o = test_obj("default", "web", NULL, 1);
	int64_t rev = 0;
	assert_int_equal(store_create(s, &k, o, 0, &rev, NULL), 0);
	json_decref(o);
	assert_int_equal(store_check(s, NULL), 0);
	/* Someone removes the object's version behind the store's back. */
	assert_int_equal(sqlite3_exec(s->db, "DELETE FROM history", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_check(s, &err), KORCH_ESYSTEM);
	char msg[512];
	snprintf(msg, sizeof(msg), "store %s: 1 live objects whose current version is missing",
		 f->path);
	assert_string_equal(korch_error_message(err), msg);
}

/* ---- I/O errors: a VFS that fails the next fsync ---- */

struct faulty_file {
	sqlite3_file base;  /* what SQLite sees */
	sqlite3_file *real; /* the default VFS's file */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs faulty_vfs;
static sqlite3_io_methods faulty_methods;
static int fail_next_sync; /* fail the next xSync with SQLITE_IOERR_FSYNC */
static int syncs_failed;   /* how many failed */

#define REAL(f) (((struct faulty_file *)(f))->real)

static int
f_close(sqlite3_file *f)
{
	int rc = REAL(f)->pMethods->xClose(REAL(f));
	sqlite3_free(REAL(f));
	return rc;
}
static int
f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int
f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int
f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int
f_sync(sqlite3_file *f, int flags)
{
	if (fail_next_sync) {
		fail_next_sync = 0;
		syncs_failed++;
		return SQLITE_IOERR_FSYNC;
	}
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int
f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int
f_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int
f_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int
f_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int
f_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int
f_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int
f_device_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int
f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int
f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void
f_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int
f_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int
f_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp);
}
static int
f_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

static int
faulty_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
	struct faulty_file *ff = (struct faulty_file *)file;
	ff->real = sqlite3_malloc(real_vfs->szOsFile);
	if (!ff->real)
		return SQLITE_NOMEM;
	memset(ff->real, 0, real_vfs->szOsFile);
	int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
	if (rc != SQLITE_OK || !ff->real->pMethods) {
		sqlite3_free(ff->real);
		ff->base.pMethods = NULL;
		return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
	}
	ff->base.pMethods = &faulty_methods;
	return SQLITE_OK;
}

static void
faulty_register(void)
{
	if (real_vfs)
		return;
	real_vfs = sqlite3_vfs_find(NULL);
	faulty_vfs = *real_vfs;
	faulty_vfs.zName = "korch-test-faulty";
	faulty_vfs.szOsFile = sizeof(struct faulty_file);
	faulty_vfs.xOpen = faulty_open;
	faulty_methods = (sqlite3_io_methods){
		.iVersion = 3,
		.xClose = f_close,
		.xRead = f_read,
		.xWrite = f_write,
		.xTruncate = f_truncate,
		.xSync = f_sync,
		.xFileSize = f_file_size,
		.xLock = f_lock,
		.xUnlock = f_unlock,
		.xCheckReservedLock = f_check_reserved,
		.xFileControl = f_file_control,
		.xSectorSize = f_sector_size,
		.xDeviceCharacteristics = f_device_chars,
		.xShmMap = f_shm_map,
		.xShmLock = f_shm_lock,
		.xShmBarrier = f_shm_barrier,
		.xShmUnmap = f_shm_unmap,
		.xFetch = f_fetch,
		.xUnfetch = f_unfetch,
	};
	assert_int_equal(sqlite3_vfs_register(&faulty_vfs, 0), SQLITE_OK);
}

static void
test_fsync_error_refuses_writes(void **state)
{
	struct fixture *f = *state;
	faulty_register();
	struct store_options o = { .vfs = "korch-test-faulty" };
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	struct store_key ka = test_key("default", "a"), kb = test_key("default", "b");
	json_t *a = test_obj("default", "a", NULL, 1), *b = test_obj("default", "b", NULL, 1);
	int64_t rev = 0;
	assert_int_equal(store_create(s, &ka, a, 0, &rev, NULL), 0);

	/* The commit's fsync fails: the write is refused and not acknowledged. */
	fail_next_sync = 1;
	assert_int_equal(store_create(s, &kb, b, 0, &rev, &err), KORCH_ESYSTEM);
	assert_int_equal(syncs_failed, 1);
	assert_string_equal(korch_error_message(err), "commit: disk I/O error");
	assert_int_equal(test_rv(b), -1);

	/* Every later write is refused without touching the file; reads still work. */
	korch_error_free(steal_pointer(&err));
	assert_int_equal(store_update(s, &ka, a, 0, &rev, &err), KORCH_ESYSTEM);
	char msg[512];
	snprintf(msg, sizeof(msg),
		 "store %s refuses writes after an I/O error (commit: disk I/O error); reopen it",
		 f->path);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(steal_pointer(&err));
	int64_t lease = 0;
	assert_int_equal(store_lease_grant(s, 10, &lease, &err), KORCH_ESYSTEM);
	assert_string_equal(korch_error_message(err), msg);
	json_t *got = NULL;
	assert_int_equal(store_get(s, &ka, &got, NULL, NULL), 0);
	json_decref(got);
	assert_int_equal(store_get(s, &kb, &got, NULL, NULL), KORCH_ENOTFOUND);
	assert_int_equal(syncs_failed, 1);
	store_close(steal_pointer(&s));

	/* Reopened, the store works; the refused write is not there. */
	assert_int_equal(store_open(f->path, NULL, &s, NULL), 0);
	assert_int_equal(store_get(s, &kb, &got, NULL, NULL), KORCH_ENOTFOUND);
	assert_int_equal(store_revision(s, &rev, NULL, NULL), 0);
	assert_int_equal(rev, 1);
	assert_int_equal(store_create(s, &kb, b, 0, &rev, NULL), 0);
	assert_int_equal(rev, 2);
	assert_int_equal(store_check(s, NULL), 0);
	json_decref(a);
	json_decref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_file_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_delete_cas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_foreign_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_changes_resource_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_finds_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_error_refuses_writes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
