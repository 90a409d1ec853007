/*
 * Lists: key order and scopes, label requirements from the index plus a caller filter,
 * pagination consistent at the first page's revision while writes happen, lists at an exact
 * revision, Gone after compaction, bad continue tokens, and the query plans that keep label
 * lists fast (index ranges, no sorting).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "helpers.h"
#include "store/store-internal.h"

struct fixture {
	char *dir;       /* temporary directory */
	struct store *s; /* open on dir/state.db */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = test_tmpdir();
	_cleanup_free_ char *path = test_path(f->dir, "state.db");
	struct store_options o = { .sync_normal = true };
	if (store_open(path, &o, &f->s, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	test_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void
put(struct store *s, const char *ns, const char *name, const char *labels, int n)
{
	struct store_key k = test_key(ns, name);
	json_t *o = test_obj(ns, name, labels, n);
	int64_t rev = 0;
	assert_int_equal(store_create(s, &k, o, 0, &rev, NULL), 0);
	json_decref(o);
}

/* "ns/name ns/name ..." of a list's items. */
static char *
names(const json_t *items)
{
	size_t len = 1, i;
	json_t *it;
	json_array_foreach(items, i, it) len += 256;
	char *out = calloc(1, len);
	json_array_foreach(items, i, it)
	{
		json_t *m = json_object_get(it, "metadata");
		const char *ns = json_string_value(json_object_get(m, "namespace"));
		sprintf(out + strlen(out), "%s%s/%s", i ? " " : "", ns ? ns : "",
			json_string_value(json_object_get(m, "name")));
	}
	return out;
}

static char *
list_names(struct store *s, const struct store_list_options *o)
{
	struct store_list l = { 0 };
	assert_int_equal(store_list(s, o, &l, NULL), 0);
	assert_null(l.continue_token);
	char *n = names(l.items);
	store_list_clear(&l);
	return n;
}

static void
test_order_and_scope(void **state)
{
	struct fixture *f = *state;
	put(f->s, "default", "web", NULL, 1);
	put(f->s, "b", "x", NULL, 1);
	put(f->s, "a", "z", NULL, 1);
	put(f->s, "a", "y", NULL, 1);
	put(f->s, "a-b", "q", NULL, 1);
	struct store_key pod = { "", "pods", "a", "p1" };
	json_t *o = test_obj("a", "p1", NULL, 1);
	int64_t rev = 0;
	assert_int_equal(store_create(f->s, &pod, o, 0, &rev, NULL), 0);
	json_decref(o);

	struct store_list_options lo = { .group = "apps", .resource = "deployments" };
	_cleanup_free_ char *all = list_names(f->s, &lo);
	assert_string_equal(all, "a/y a/z a-b/q b/x default/web");
	lo.ns = "a";
	_cleanup_free_ char *in_a = list_names(f->s, &lo);
	assert_string_equal(in_a, "a/y a/z");
	lo.ns = "none";
	_cleanup_free_ char *none = list_names(f->s, &lo);
	assert_string_equal(none, "");
	struct store_list_options pods = { .group = "", .resource = "pods" };
	_cleanup_free_ char *p = list_names(f->s, &pods);
	assert_string_equal(p, "a/p1");

	struct store_list l = { 0 };
	lo.ns = NULL;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	assert_int_equal(l.revision, 6);
	assert_int_equal(test_rv(json_array_get(l.items, 0)), 4);
	store_list_clear(&l);

	_cleanup_error_ korch_error *err = NULL;
	struct store_list_options bad = { .group = "apps" };
	assert_int_equal(store_list(f->s, &bad, &l, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "list needs a group and a resource");
}

static bool
n_even(const json_t *obj, void *userdata)
{
	int *calls = userdata;
	(*calls)++;
	return test_n(obj) % 2 == 0;
}

static void
test_labels_and_filter(void **state)
{
	struct fixture *f = *state;
	struct store_op ops[200];
	json_t *objs[200];
	for (int i = 0; i < 200; i++) {
		char name[16], labels[96];
		snprintf(name, sizeof(name), "d%03d", i);
		snprintf(labels, sizeof(labels), "app=%s,tier=t%d,env=%s,zone=z%d,rack=r%d",
			 i % 4 == 0 ? "web" : "db", i % 5, i % 2 ? "prod" : "qa", i % 3, i % 7);
		const char *ns = i % 2 ? "ns1" : "ns2";
		objs[i] = test_obj(ns, name, labels, i);
		/* The key's strings must live until the commit: take them from the object. */
		const char *nm = json_string_value(
			json_object_get(json_object_get(objs[i], "metadata"), "name"));
		ops[i] = (struct store_op){ .type = STORE_OP_CREATE,
					    .key = test_key(ns, nm),
					    .obj = objs[i] };
	}
	int64_t rev = 0;
	assert_int_equal(store_commit(f->s, ops, 200, &rev, NULL), 0);
	assert_int_equal(rev, 1);

	/* One requirement: i % 4 == 0, all in ns2. */
	struct store_label req[5] = { { "app", "web" },
				      { "tier", "t0" },
				      { "env", "qa" },
				      { "zone", "z0" },
				      { "rack", "r0" } };
	struct store_list_options lo = {
		.group = "apps", .resource = "deployments", .labels = req, .n_labels = 1
	};
	struct store_list l = { 0 };
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 50);
	store_list_clear(&l);
	/* Two: i % 20 == 0. */
	lo.n_labels = 2;
	_cleanup_free_ char *two = list_names(f->s, &lo);
	assert_string_equal(two, "ns2/d000 ns2/d020 ns2/d040 ns2/d060 ns2/d080 ns2/d100 ns2/d120 "
				 "ns2/d140 ns2/d160 ns2/d180");
	/* Five (past the statement cache): i % 420 == 0. */
	lo.n_labels = 5;
	_cleanup_free_ char *five = list_names(f->s, &lo);
	assert_string_equal(five, "ns2/d000");
	/* A requirement nothing matches, and one in a namespace it does not hold in. */
	struct store_label none = { "app", "cache" };
	lo.labels = &none;
	lo.n_labels = 1;
	_cleanup_free_ char *n0 = list_names(f->s, &lo);
	assert_string_equal(n0, "");
	lo.labels = req;
	lo.ns = "ns1";
	_cleanup_free_ char *n1 = list_names(f->s, &lo);
	assert_string_equal(n1, "");

	/* The caller's filter sees only what the index let through. */
	int calls = 0;
	lo.ns = "ns2";
	lo.n_labels = 2;
	lo.filter = n_even;
	lo.filter_userdata = &calls;
	_cleanup_free_ char *filtered = list_names(f->s, &lo);
	assert_string_equal(filtered, two);
	assert_int_equal(calls, 10);
	/* Filter alone: i % 3 == 0 among odd i is empty; with env=prod (odd i) nothing is even. */
	struct store_label prod = { "env", "prod" };
	lo.labels = &prod;
	lo.n_labels = 1;
	lo.ns = NULL;
	calls = 0;
	_cleanup_free_ char *odd = list_names(f->s, &lo);
	assert_string_equal(odd, "");
	assert_int_equal(calls, 100);

	/* Limit counts matches, across label and filter. */
	lo.labels = req;
	lo.n_labels = 1;
	lo.filter = NULL;
	lo.limit = 20;
	size_t pages = 0, total = 0;
	char *token = NULL;
	do {
		lo.continue_token = token;
		assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
		total += json_array_size(l.items);
		pages++;
		free(token);
		token = l.continue_token;
		l.continue_token = NULL;
		store_list_clear(&l);
	} while (token);
	assert_int_equal(total, 50);
	assert_int_equal(pages, 3);
	for (int i = 0; i < 200; i++)
		json_decref(objs[i]);
}

/* All pages of a list, with writes() run after the first page. */
static json_t *
paged(struct store *s, struct store_list_options lo, size_t limit, void (*writes)(struct store *s),
      int64_t *ret_rev)
{
	json_t *all = json_array();
	lo.limit = limit;
	char *token = NULL;
	int page = 0;
	do {
		struct store_list l = { 0 };
		lo.continue_token = token;
		assert_int_equal(store_list(s, &lo, &l, NULL), 0);
		assert_true(json_array_size(l.items) <= limit);
		if (page == 0)
			*ret_rev = l.revision;
		else
			assert_int_equal(l.revision, *ret_rev);
		json_array_extend(all, l.items);
		free(token);
		token = steal_pointer(&l.continue_token);
		store_list_clear(&l);
		if (page++ == 0 && writes)
			writes(s);
	} while (token);
	return all;
}

static void
churn(struct store *s)
{
	static int round; /* each call writes new names */
	int64_t rev = 0;
	round++;
	/* Updates (also moving labels), deletes, creates, delete + re-create, in every part. */
	for (int i = 0; i < 100; i += 3) {
		char name[16];
		snprintf(name, sizeof(name), "o%03d", i);
		const char *ns = i % 3 == 0 ? "x" : i % 3 == 1 ? "y" : "z";
		struct store_key k = test_key(ns, name);
		if (i % 2) {
			json_t *o = test_obj(ns, name, i % 4 == 1 ? "color=blue" : "color=red",
					     1000 + i);
			assert_int_equal(store_update(s, &k, o, 0, &rev, NULL), 0);
			json_decref(o);
			continue;
		}
		int r = store_delete(s, &k, 0, NULL, &rev, NULL);
		assert_true(r == 0 || r == KORCH_ENOTFOUND);
		if (r == KORCH_ENOTFOUND || i % 4 == 0) {
			json_t *o = test_obj(ns, name, "color=red", 2000 + i);
			assert_int_equal(store_create(s, &k, o, 0, &rev, NULL), 0);
			json_decref(o);
		}
	}
	for (int i = 0; i < 30; i++) {
		char name[16];
		snprintf(name, sizeof(name), "o%03d%d", i * 3, round);
		struct store_key k = test_key("x", name);
		json_t *o = test_obj("x", name, "color=red", 3000 + i);
		assert_int_equal(store_create(s, &k, o, 0, &rev, NULL), 0);
		json_decref(o);
	}
}

static void
assert_same_items(const json_t *a, const json_t *b)
{
	_cleanup_free_ char *na = names(a), *nb = names(b);
	assert_string_equal(na, nb);
	assert_int_equal(json_array_size(a), json_array_size(b));
	for (size_t i = 0; i < json_array_size(a); i++)
		assert_true(json_equal(json_array_get(a, i), json_array_get(b, i)));
}

static void
test_pagination_consistent(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof(name), "o%03d", i);
		const char *ns = i % 3 == 0 ? "x" : i % 3 == 1 ? "y" : "z";
		put(f->s, ns, name, i % 2 ? "color=red" : "color=blue", i);
	}
	struct store_label red = { "color", "red" };
	struct store_list_options cases[] = {
		{ .group = "apps", .resource = "deployments" },
		{ .group = "apps", .resource = "deployments", .ns = "x" },
		{ .group = "apps", .resource = "deployments", .labels = &red, .n_labels = 1 },
		{ .group = "apps",
		  .resource = "deployments",
		  .ns = "y",
		  .labels = &red,
		  .n_labels = 1 },
	};
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		/* The state before, in one page. */
		struct store_list before = { 0 };
		assert_int_equal(store_list(f->s, &cases[c], &before, NULL), 0);
		/* Pages of 7 with churn after the first: still the state at the first revision. */
		int64_t rev = 0;
		json_t *pages = paged(f->s, cases[c], 7, churn, &rev);
		assert_int_equal(rev, before.revision);
		assert_same_items(pages, before.items);
		json_decref(pages);
		/* An exact-revision list shows the same after the writes. */
		struct store_list_options at = cases[c];
		at.revision = before.revision;
		struct store_list exact = { 0 };
		assert_int_equal(store_list(f->s, &at, &exact, NULL), 0);
		assert_int_equal(exact.revision, before.revision);
		assert_same_items(exact.items, before.items);
		/* And a paged list at that revision too. */
		at.revision = 0;
		store_list_clear(&exact);
		struct store_list now = { 0 };
		assert_int_equal(store_list(f->s, &at, &now, NULL), 0);
		assert_true(now.revision > before.revision);
		store_list_clear(&now);
		store_list_clear(&before);
	}
	assert_int_equal(store_check(f->s, NULL), 0);
}

static void
test_gone_and_future(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "o%02d", i);
		put(f->s, "default", name, NULL, i);
	}
	struct store_list_options lo = { .group = "apps", .resource = "deployments", .limit = 5 };
	struct store_list l = { 0 };
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	assert_int_equal(l.revision, 20);
	_cleanup_free_ char *token = steal_pointer(&l.continue_token);
	store_list_clear(&l);
	put(f->s, "default", "late", NULL, 0);

	/* Compaction up to 20 keeps the state at 20: the token still works. */
	assert_int_equal(store_compact(f->s, 20, 0, NULL, NULL), 0);
	lo.continue_token = token;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 5);
	store_list_clear(&l);

	/* Past it, the token is too old: Kubernetes' 410 message. */
	assert_int_equal(store_compact(f->s, 21, 0, NULL, NULL), 0);
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_list(f->s, &lo, &l, &err), KORCH_EGONE);
	assert_string_equal(
		korch_error_message(err),
		"The provided continue parameter is too old to display a consistent list result. "
		"You can start a new list without the continue parameter, or use the continue token "
		"in this response to retrieve the remainder of the results. Continuing with the "
		"provided token results in an inconsistent list - objects that were created, "
		"modified, or deleted between the time the first chunk was returned and now may "
		"show up in the list.");
	korch_error_free(steal_pointer(&err));
	lo.continue_token = NULL;
	lo.revision = 20;
	assert_int_equal(store_list(f->s, &lo, &l, &err), KORCH_EGONE);
	assert_string_equal(korch_error_message(err), "too old resource version: 20 (21)");
	korch_error_free(steal_pointer(&err));
	lo.revision = 99;
	assert_int_equal(store_list(f->s, &lo, &l, &err), KORCH_ETIMEOUT);
	assert_string_equal(korch_error_message(err),
			    "Too large resource version: 99, current: 21");
	lo.revision = 21;
	lo.limit = 0;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 21);
	store_list_clear(&l);
}

static void
test_bad_tokens(void **state)
{
	struct fixture *f = *state;
	put(f->s, "a", "o1", NULL, 1);
	put(f->s, "a", "o2", NULL, 1);
	put(f->s, "b", "o3", NULL, 1);
	_cleanup_error_ korch_error *err = NULL;
	struct store_list l = { 0 };
	struct store_list_options lo = { .group = "apps",
					 .resource = "deployments",
					 .continue_token = "zz" };
	assert_int_equal(store_list(f->s, &lo, &l, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "continue key is not valid: bad encoding");
	korch_error_free(steal_pointer(&err));
	/* Valid hex of JSON with another version. */
	const char *other = "{\"v\":\"meta.k8s.io/v1\",\"rv\":1,\"ns\":\"\",\"name\":\"\"}";
	char hex[256] = "";
	for (size_t i = 0; other[i]; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)other[i]);
	lo.continue_token = hex;
	assert_int_equal(store_list(f->s, &lo, &l, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "continue key is not valid: incorrect encoded start resourceVersion "
			    "(version korch.store/v1)");
	korch_error_free(steal_pointer(&err));

	/* A real token from namespace a, used for b or with a revision. */
	lo.continue_token = NULL;
	lo.ns = "a";
	lo.limit = 1;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	_cleanup_free_ char *token = steal_pointer(&l.continue_token);
	store_list_clear(&l);
	assert_non_null(token);
	lo.continue_token = token;
	lo.ns = "b";
	assert_int_equal(store_list(f->s, &lo, &l, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "continue key is not valid: it belongs to another namespace");
	korch_error_free(steal_pointer(&err));
	lo.ns = "a";
	lo.revision = 3;
	assert_int_equal(store_list(f->s, &lo, &l, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "specifying resource version is not allowed when using continue");
	lo.revision = 0;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	_cleanup_free_ char *rest = names(l.items);
	assert_string_equal(rest, "a/o2");
	assert_null(l.continue_token);
	store_list_clear(&l);
}

static bool
n_below_50(const json_t *obj, void *userdata)
{
	return test_n(obj) < 50;
}

static void
test_text_items(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof(name), "o%03d", i);
		const char *ns = i % 3 == 0 ? "x" : i % 3 == 1 ? "y" : "z";
		put(f->s, ns, name, i % 2 ? "color=red" : "color=blue", i);
	}
	int64_t rev = 0;
	assert_int_equal(store_revision(f->s, &rev, NULL, NULL), 0);
	churn(f->s);
	/* At the old revision (live and changed keys), with a label and a filter: the texts are
	 * exactly the stored JSON of the objects a parsed list returns. */
	struct store_label red = { "color", "red" };
	struct store_list_options lo = { .group = "apps",
					 .resource = "deployments",
					 .labels = &red,
					 .n_labels = 1,
					 .filter = n_below_50,
					 .revision = rev };
	for (int pass = 0; pass < 2; pass++) {
		struct store_list parsed = { 0 }, text = { 0 };
		lo.text_items = false;
		assert_int_equal(store_list(f->s, &lo, &parsed, NULL), 0);
		lo.text_items = true;
		assert_int_equal(store_list(f->s, &lo, &text, NULL), 0);
		/* Odd i below 50; then namespace z (i % 3 == 2), which churn leaves alone. */
		assert_int_equal(json_array_size(parsed.items), pass == 0 ? 25 : 33);
		assert_int_equal(json_array_size(text.items), json_array_size(parsed.items));
		for (size_t i = 0; i < json_array_size(text.items); i++) {
			json_t *t = json_array_get(text.items, i);
			assert_true(json_is_string(t));
			char *dumped = json_dumps(json_array_get(parsed.items, i), JSON_COMPACT);
			assert_string_equal(json_string_value(t), dumped);
			free(dumped);
		}
		store_list_clear(&parsed);
		store_list_clear(&text);
		lo.revision = 0; /* and at the latest revision */
		lo.filter = NULL;
		lo.labels = NULL;
		lo.n_labels = 0;
		lo.ns = "z";
	}
}

/* Every line of the plan of sql, joined by " | ". */
static char *
plan(sqlite3 *db, const char *sql)
{
	char *q = NULL;
	assert_true(asprintf(&q, "EXPLAIN QUERY PLAN %s", sql) > 0);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	free(q);
	char *out = calloc(1, 4096);
	while (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out + strlen(out), 4096 - strlen(out), "%s%s", out[0] ? " | " : "",
			 (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	return out;
}

static void
test_query_plans(void **state)
{
	struct fixture *f = *state;
	put(f->s, "a", "o1", "app=web,tier=fe", 1);
	struct store_label req[2] = { { "app", "web" }, { "tier", "fe" } };
	struct store_list_options lo = {
		.group = "apps", .resource = "deployments", .labels = req, .n_labels = 2
	};
	struct store_list l = { 0 };
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	store_list_clear(&l);
	lo.ns = "a";
	lo.n_labels = 1;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	store_list_clear(&l);

	_cleanup_free_ char *p_all = plan(f->s->db, sqlite3_sql(f->s->label_stmts[0][1]));
	assert_string_equal(p_all,
			    "SEARCH l USING PRIMARY KEY (grp=? AND res=? AND key=? AND value=? AND "
			    "(ns,name)>(?,?)) | CORRELATED SCALAR SUBQUERY 1 | SEARCH x USING "
			    "PRIMARY KEY (grp=? AND res=? AND key=? AND value=? AND ns=? AND "
			    "name=?) | SEARCH o USING PRIMARY KEY (grp=? AND res=? AND ns=? AND "
			    "name=?) | SEARCH h USING INTEGER PRIMARY KEY (rowid=?)");
	_cleanup_free_ char *p_ns = plan(f->s->db, sqlite3_sql(f->s->label_stmts[1][0]));
	assert_string_equal(p_ns,
			    "SEARCH l USING PRIMARY KEY (grp=? AND res=? AND key=? AND value=? AND "
			    "ns=? AND name>?) | SEARCH o USING PRIMARY KEY (grp=? AND res=? AND "
			    "ns=? AND name=?) | SEARCH h USING INTEGER PRIMARY KEY (rowid=?)");
	lo.n_labels = 0;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	store_list_clear(&l);
	lo.ns = NULL;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	store_list_clear(&l);
	_cleanup_free_ char *p_plain = plan(f->s->db, sqlite3_sql(f->s->stmts[STMT_LIST_ALL]));
	assert_string_equal(p_plain, "SEARCH o USING PRIMARY KEY (grp=? AND res=? AND "
				     "(ns,name)>(?,?)) | SEARCH h USING INTEGER PRIMARY KEY "
				     "(rowid=?)");
	_cleanup_free_ char *p_get = plan(f->s->db, sqlite3_sql(f->s->stmts[STMT_LIST_NS]));
	assert_string_equal(p_get, "SEARCH o USING PRIMARY KEY (grp=? AND res=? AND ns=? AND "
				   "name>?) | SEARCH h USING INTEGER PRIMARY KEY (rowid=?)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels_and_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pagination_consistent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_and_future, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_plans, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
