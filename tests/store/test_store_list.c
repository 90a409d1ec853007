/*
 * Lists: key order and scopes, label requirements from the index plus a caller filter,
 * pagination consistent at the first page's revision while writes happen, lists at an exact
 * revision, Gone after compaction, bad continue tokens, and the query plans that keep label
 * lists fast (index ranges, no sorting). The list tests run three times: with the label index
 * brought up to date by every write, lagging a few rows (caught up now and then, mid-test),
 * and never caught up (lists read everything from the history); and a model checks label lists
 * against the objects themselves after every write of a random workload, for several lags.
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
#include "base/strbuf.h"
#include "base/util.h"
#include "helpers.h"
#include "store/store-internal.h"

struct fixture {
	char *dir;       /* temporary directory */
	struct store *s; /* open on dir/state.db */
};

static int
setup_lag(void **state, int label_lag_rows)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = test_tmpdir();
	_cleanup_free_ char *path = test_path(f->dir, "state.db");
	struct store_options o = { .sync_normal = true, .label_lag_rows = label_lag_rows };
	if (store_open(path, &o, &f->s, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

/* The label index follows every write transaction. */
static int
setup(void **state)
{
	return setup_lag(state, -1);
}

/* It lags up to 7 rows: lists read some keys from the index, some from the history. */
static int
setup_lagging(void **state)
{
	return setup_lag(state, 7);
}

/* It never catches up (unless compaction makes it): lists read every key from the history. */
static int
setup_behind(void **state)
{
	return setup_lag(state, INT32_MAX);
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
	json_array_foreach (items, i, it)
		len += 256;
	char *out = calloc(1, len);
	json_array_foreach (items, i, it) {
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

/* The items' texts of a text_items list joined by commas: what text_out should hold. */
static char *
joined_texts(const json_t *items)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *t;
	json_array_foreach (items, i, t) {
		if (i)
			strbuf_putc(&sb, ',');
		strbuf_puts(&sb, json_string_value(t));
	}
	return strbuf_steal(&sb);
}

static void
test_text_out(void **state)
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
	struct store_label red = { "color", "red" };
	struct store_list_options lo = { .group = "apps",
					 .resource = "deployments",
					 .labels = &red,
					 .n_labels = 1,
					 .filter = n_below_50,
					 .revision = rev };
	for (int pass = 0; pass < 2; pass++) {
		/* The same texts as text_items gives, appended after what the buffer held. */
		struct store_list text = { 0 }, out = { 0 };
		lo.text_items = true;
		assert_int_equal(store_list(f->s, &lo, &text, NULL), 0);
		lo.text_items = false;
		struct strbuf sb = STRBUF_INIT;
		strbuf_puts(&sb, "[");
		lo.text_out = &sb;
		assert_int_equal(store_list(f->s, &lo, &out, NULL), 0);
		assert_int_equal(out.n_items, pass == 0 ? 25 : 33);
		assert_int_equal(text.n_items, out.n_items);
		assert_int_equal(json_array_size(out.items), 0);
		_cleanup_free_ char *want = joined_texts(text.items);
		assert_string_equal(strbuf_str(&sb) + 1, want);
		assert_int_equal(sb.buf[0], '[');
		store_list_clear(&out);

		/* Pages of 7, each into its own buffer, join to the same texts. */
		struct strbuf all = STRBUF_INIT;
		_cleanup_free_ char *token = NULL;
		size_t pages = 0, n = 0;
		lo.limit = 7;
		do {
			struct strbuf page = STRBUF_INIT;
			lo.text_out = &page;
			lo.continue_token = token;
			int64_t saved = lo.revision;
			if (token)
				lo.revision = 0;
			struct store_list l = { 0 };
			assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
			lo.revision = saved;
			assert_true(l.n_items <= 7);
			n += l.n_items;
			if (all.len && page.len)
				strbuf_putc(&all, ',');
			strbuf_append(&all, strbuf_str(&page), page.len);
			strbuf_free(&page);
			free(token);
			token = steal_pointer(&l.continue_token);
			store_list_clear(&l);
			pages++;
		} while (token);
		lo.continue_token = NULL;
		lo.limit = 0;
		assert_int_equal(n, text.n_items);
		/* A last page may come out empty (the keys after the 7th did not match). */
		assert_in_range(pages, (n + 6) / 7, (n + 6) / 7 + 1);
		assert_string_equal(strbuf_str(&all), want);
		strbuf_free(&all);

		/* A list that fails leaves the buffer as it was. */
		lo.text_out = &sb;
		size_t before = sb.len;
		int64_t saved = lo.revision;
		lo.revision = rev + 1000;
		_cleanup_error_ korch_error *err = NULL;
		assert_int_equal(store_list(f->s, &lo, &out, &err), KORCH_ETIMEOUT);
		assert_int_equal(sb.len, before);
		lo.revision = saved;
		strbuf_free(&sb);
		lo.text_out = NULL;
		store_list_clear(&text);
		lo.revision = 0; /* and at the latest revision, without label or filter */
		lo.filter = NULL;
		lo.labels = NULL;
		lo.n_labels = 0;
		lo.ns = "z";
	}
}

/* Counts its calls; keeps labelled objects whose color is not blue. */
struct label_calls {
	int label_calls;  /* label_filter calls */
	int nulls;        /* of which for objects without labels */
	int filter_calls; /* filter calls */
};

static bool
not_blue(const json_t *labels, void *userdata)
{
	struct label_calls *c = userdata;
	c->label_calls++;
	c->nulls += labels == NULL;
	const json_t *color = json_object_get(labels, "color");
	return json_is_string(color) && !streq(json_string_value(color), "blue");
}

/* The filter sees only what the label filter kept. */
static bool
after_not_blue(const json_t *obj, void *userdata)
{
	struct label_calls *c = userdata;
	c->filter_calls++;
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	const json_t *color = json_object_get(labels, "color");
	assert_true(json_is_string(color));
	assert_string_not_equal(json_string_value(color), "blue");
	return true;
}

/* The same decision on the whole object (what a label selector did before label_filter). */
static bool
not_blue_obj(const json_t *obj, void *userdata)
{
	return not_blue(json_object_get(json_object_get(obj, "metadata"), "labels"), userdata);
}

static void
test_label_filter(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 100; i++) {
		char name[16], labels[64];
		snprintf(name, sizeof(name), "o%03d", i);
		snprintf(labels, sizeof(labels), "color=%s,size=s%d", i % 2 ? "red" : "blue",
			 i % 3);
		const char *ns = i % 3 == 0 ? "x" : i % 3 == 1 ? "y" : "z";
		put(f->s, ns, name, i % 5 ? labels : NULL, i);
	}
	int64_t rev = 0;
	assert_int_equal(store_revision(f->s, &rev, NULL, NULL), 0);
	churn(f->s);
	struct label_calls calls = { 0 };
	struct store_list_options lo = { .group = "apps",
					 .resource = "deployments",
					 .label_filter = not_blue,
					 .filter = after_not_blue,
					 .filter_userdata = &calls,
					 .revision = rev };
	struct store_list l = { 0 };
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	/* Odd i not a multiple of 5: red and labelled. Every object was asked, 20 had none. */
	assert_int_equal(l.n_items, 40);
	assert_int_equal(json_array_size(l.items), 40);
	assert_int_equal(calls.label_calls, 100);
	assert_int_equal(calls.nulls, 20);
	assert_int_equal(calls.filter_calls, 40);
	_cleanup_free_ char *got_old = names(l.items);
	store_list_clear(&l);
	struct store_list_options ref = { .group = "apps",
					  .resource = "deployments",
					  .filter = not_blue_obj,
					  .filter_userdata = &calls,
					  .revision = rev };
	_cleanup_free_ char *want_old = list_names(f->s, &ref);
	assert_string_equal(got_old, want_old);

	/* At the latest revision (churn recoloured some), with an index requirement too. */
	struct store_label s1 = { "size", "s1" };
	lo.revision = ref.revision = 0;
	lo.labels = ref.labels = &s1;
	lo.n_labels = ref.n_labels = 1;
	_cleanup_free_ char *got = list_names(f->s, &lo), *want = list_names(f->s, &ref);
	assert_string_equal(got, want);
	assert_string_equal(got, "y/o001 y/o007 y/o013 y/o019 y/o031 y/o037 y/o043 y/o049 y/o061 "
				 "y/o067 y/o073 y/o079 y/o091 y/o097");
}

/* The SQL of one of the handle's statements (prepared on first use). */
static const char *
stmt_sql_of(struct store *s, enum stmt_id id)
{
	sqlite3_stmt *st = store_stmt(s, id, NULL);
	assert_non_null(st);
	return sqlite3_sql(st);
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
			    "SEARCH l USING PRIMARY KEY (res=? AND key=? AND value=? AND "
			    "(ns,name)>(?,?)) | CORRELATED SCALAR SUBQUERY 1 | SEARCH x USING "
			    "PRIMARY KEY (res=? AND key=? AND value=? AND ns=? AND name=?) | "
			    "SEARCH o USING PRIMARY KEY (res=? AND ns=? AND name=?) | SEARCH h "
			    "USING INTEGER PRIMARY KEY (rowid=?)");
	_cleanup_free_ char *p_ns = plan(f->s->db, sqlite3_sql(f->s->label_stmts[1][0]));
	assert_string_equal(p_ns, "SEARCH l USING PRIMARY KEY (res=? AND key=? AND value=? AND "
				  "ns=? AND name>?) | SEARCH o USING PRIMARY KEY (res=? AND ns=? "
				  "AND name=?) | SEARCH h USING INTEGER PRIMARY KEY (rowid=?)");
	lo.n_labels = 0;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	store_list_clear(&l);
	lo.ns = NULL;
	assert_int_equal(store_list(f->s, &lo, &l, NULL), 0);
	store_list_clear(&l);
	_cleanup_free_ char *p_plain = plan(f->s->db, sqlite3_sql(f->s->stmts[STMT_LIST_ALL]));
	assert_string_equal(p_plain, "SEARCH o USING PRIMARY KEY (res=? AND (ns,name)>(?,?)) | "
				     "SEARCH h USING INTEGER PRIMARY KEY (rowid=?)");
	_cleanup_free_ char *p_get = plan(f->s->db, sqlite3_sql(f->s->stmts[STMT_LIST_NS]));
	assert_string_equal(p_get, "SEARCH o USING PRIMARY KEY (res=? AND ns=? AND name>?) | "
				   "SEARCH h USING INTEGER PRIMARY KEY (rowid=?)");
	/* The history a list reads besides: the resource's changes since its revision, and the
	   id range the label index has not reached. */
	_cleanup_free_ char *p_changed = plan(f->s->db, stmt_sql_of(f->s, STMT_LIST_CHANGED));
	assert_string_equal(p_changed, "SEARCH h USING INDEX history_res (res=? AND rowid>?) | "
				       "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)");
	_cleanup_free_ char *p_tail = plan(f->s->db, stmt_sql_of(f->s, STMT_LIST_TAIL));
	assert_string_equal(p_tail, "SEARCH history USING INDEX history_res (res=? AND rowid>? "
				    "AND rowid<?)");
	/* Watches: every row since a position, or one resource's through history_res. */
	_cleanup_free_ char *p_watch = plan(f->s->db, stmt_sql_of(f->s, STMT_WATCH_ROWS));
	assert_string_equal(p_watch, "SEARCH h USING INTEGER PRIMARY KEY (rowid>? AND rowid<?) | "
				     "SEARCH r USING INTEGER PRIMARY KEY (rowid=?) | SEARCH p "
				     "USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN");
	_cleanup_free_ char *p_watch_res = plan(f->s->db, stmt_sql_of(f->s, STMT_WATCH_ROWS_RES));
	assert_string_equal(p_watch_res,
			    "SEARCH r USING COVERING INDEX "
			    "sqlite_autoindex_resources_1 (grp=? AND res=?) | SEARCH h "
			    "USING INDEX history_res (res=? AND rowid>? AND rowid<?) | "
			    "SEARCH p USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN");
	/* A point read. */
	_cleanup_free_ char *p_point = plan(f->s->db, stmt_sql_of(f->s, STMT_GET));
	assert_string_equal(p_point, "SEARCH o USING PRIMARY KEY (res=? AND ns=? AND name=?) | "
				     "SCALAR SUBQUERY 1 | SEARCH resources USING COVERING INDEX "
				     "sqlite_autoindex_resources_1 (grp=? AND res=?) | SEARCH h "
				     "USING INTEGER PRIMARY KEY (rowid=?)");
}

/* ---- the label index against a model ---- */

#define MODEL_KEYS 24

/* Whether obj's labels hold every requirement (a plain reading of the object). */
static bool
model_match(const json_t *obj, const struct store_label *req, size_t n)
{
	const json_t *l = json_object_get(json_object_get(obj, "metadata"), "labels");
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(l, req[i].key);
		if (!json_is_string(v) || strcmp(json_string_value(v), req[i].value) != 0)
			return false;
	}
	return true;
}

/* Every label list of the store against a filter over all of its objects. */
static void
model_check(struct store *s)
{
	static const struct store_label reqs[][2] = {
		{ { "app", "a" } },
		{ { "app", "b" }, { "tier", "x" } },
		{ { "tier", "y" } },
		{ { "app", "c" }, { "tier", "y" } },
	};
	static const size_t n_reqs[] = { 1, 2, 1, 2 };
	struct store_list all = { 0 };
	struct store_list_options lo = { .group = "apps", .resource = "deployments" };
	assert_int_equal(store_list(s, &lo, &all, NULL), 0);
	for (size_t r = 0; r < ARRAY_SIZE(reqs); r++) {
		for (int scoped = 0; scoped < 2; scoped++) {
			json_t *want = json_array();
			size_t i;
			json_t *it;
			json_array_foreach (all.items, i, it) {
				const char *ns = json_string_value(json_object_get(
					json_object_get(it, "metadata"), "namespace"));
				if (model_match(it, reqs[r], n_reqs[r]) &&
				    (!scoped || strcmp(ns, "n1") == 0))
					json_array_append(want, it);
			}
			struct store_list_options q = lo;
			q.labels = reqs[r];
			q.n_labels = n_reqs[r];
			q.ns = scoped ? "n1" : NULL;
			struct store_list got = { 0 };
			assert_int_equal(store_list(s, &q, &got, NULL), 0);
			assert_int_equal(got.revision, all.revision);
			assert_same_items(got.items, want);
			store_list_clear(&got);
			/* In pages of 2 too. */
			int64_t rev = 0;
			json_t *pages = paged(s, q, 2, NULL, &rev);
			assert_same_items(pages, want);
			json_decref(pages);
			json_decref(want);
		}
	}
	store_list_clear(&all);
}

/* Random labels: sometimes none, sometimes one that is not a string (never indexed). */
static json_t *
model_obj(const char *ns, const char *name, unsigned *seed, int n)
{
	static const char *const label_sets[] = {
		NULL,           "app=a",        "app=b",        "app=c",
		"tier=x",       "tier=y",       "app=a,tier=x", "app=b,tier=x",
		"app=c,tier=y", "app=a,tier=y", "app=b,tier=y",
	};
	json_t *o = test_obj(ns, name, label_sets[rand_r(seed) % ARRAY_SIZE(label_sets)], n);
	if (rand_r(seed) % 5 == 0) {
		json_t *meta = json_object_get(o, "metadata");
		if (!json_object_get(meta, "labels"))
			json_object_set_new(meta, "labels", json_object());
		json_object_set_new(json_object_get(meta, "labels"), "app", json_integer(3));
	}
	return o;
}

/* Compares two strings' lines as sets (both sorted with qsort first). */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "key=value ns/name" of every string label of the live objects, sorted, one per line. */
static char *
model_index_rows(struct store *s)
{
	struct store_list all = { 0 };
	struct store_list_options lo = { .group = "apps", .resource = "deployments" };
	assert_int_equal(store_list(s, &lo, &all, NULL), 0);
	char *rows[4 * MODEL_KEYS];
	size_t n = 0, i;
	json_t *it;
	json_array_foreach (all.items, i, it) {
		json_t *m = json_object_get(it, "metadata");
		const char *k;
		json_t *v;
		json_object_foreach (json_object_get(m, "labels"), k, v) {
			if (!json_is_string(v))
				continue;
			assert_true(n < ARRAY_SIZE(rows));
			assert_true(asprintf(&rows[n++], "%s=%s %s/%s", k, json_string_value(v),
					     json_string_value(json_object_get(m, "namespace")),
					     json_string_value(json_object_get(m, "name"))) > 0);
		}
	}
	store_list_clear(&all);
	qsort(rows, n, sizeof(*rows), cmp_str);
	struct strbuf sb = STRBUF_INIT;
	for (i = 0; i < n; i++) {
		strbuf_printf(&sb, "%s\n", rows[i]);
		free(rows[i]);
	}
	return strbuf_steal(&sb);
}

/* The label index's rows in the same form. */
static char *
index_rows(struct store *s)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(s->db,
					    "SELECT key || '=' || value || ' ' || ns || '/' || name"
					    " FROM labels",
					    -1, &st, NULL),
			 SQLITE_OK);
	char *rows[8 * MODEL_KEYS];
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_true(n < ARRAY_SIZE(rows));
		rows[n++] = strdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	qsort(rows, n, sizeof(*rows), cmp_str);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		strbuf_printf(&sb, "%s\n", rows[i]);
		free(rows[i]);
	}
	return strbuf_steal(&sb);
}

/* When the index has caught up with the whole history, it holds exactly the live labels. */
static void
model_check_index(struct store *s)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(
		sqlite3_prepare_v2(s->db,
				   "SELECT (SELECT value FROM meta WHERE key = 'label_pos')"
				   " = (SELECT max(id) FROM history)",
				   -1, &st, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	bool caught_up = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (!caught_up)
		return;
	_cleanup_free_ char *want = model_index_rows(s), *got = index_rows(s);
	assert_string_equal(got, want);
}

static void
test_label_lag_model(void **state)
{
	static const int lags[] = { -1, 1, 3, 10, 100000 };
	for (size_t m = 0; m < ARRAY_SIZE(lags); m++) {
		void *fs = NULL;
		assert_int_equal(setup_lag(&fs, lags[m]), 0);
		struct fixture *f = fs;
		unsigned seed = 7 + (unsigned)m;
		bool live[MODEL_KEYS] = { false };
		for (int step = 0; step < 150; step++) {
			/* One to three writes of different keys in one transaction. */
			struct store_op ops[3];
			json_t *objs[3] = { NULL };
			char names[3][16];
			size_t n = 1 + (size_t)(rand_r(&seed) % 3);
			int first = rand_r(&seed) % MODEL_KEYS;
			for (size_t i = 0; i < n; i++) {
				int k = (first + (int)i * 7) % MODEL_KEYS;
				const char *ns = k % 2 ? "n1" : "n2";
				snprintf(names[i], sizeof(names[i]), "k%02d", k);
				ops[i] = (struct store_op){ .key = test_key(ns, names[i]) };
				if (!live[k]) {
					ops[i].type = STORE_OP_CREATE;
				} else if (rand_r(&seed) % 4 == 0) {
					ops[i].type = STORE_OP_DELETE;
				} else {
					ops[i].type = STORE_OP_UPDATE;
				}
				if (ops[i].type != STORE_OP_DELETE)
					ops[i].obj = objs[i] = model_obj(ns, names[i], &seed, step);
				live[k] = ops[i].type != STORE_OP_DELETE;
			}
			assert_int_equal(store_commit(f->s, ops, n, NULL, NULL), 0);
			for (size_t i = 0; i < n; i++)
				json_decref(objs[i]);
			model_check(f->s);
			model_check_index(f->s);
		}
		assert_int_equal(store_check(f->s, NULL), 0);
		/* Compaction brings the index up to date: then it holds exactly the live
		   objects' string labels. */
		assert_int_equal(store_compact(f->s, 1, 0, NULL, NULL), 0);
		model_check(f->s);
		_cleanup_free_ char *want = model_index_rows(f->s), *got = index_rows(f->s);
		assert_string_equal(got, want);
		assert_int_equal(store_check(f->s, NULL), 0);
		assert_int_equal(teardown(&fs), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define IN_ALL_MODES(test)                                                      \
	cmocka_unit_test_setup_teardown(test, setup, teardown),                 \
		cmocka_unit_test_setup_teardown(test, setup_lagging, teardown), \
		cmocka_unit_test_setup_teardown(test, setup_behind, teardown)
		IN_ALL_MODES(test_order_and_scope),
		IN_ALL_MODES(test_labels_and_filter),
		IN_ALL_MODES(test_pagination_consistent),
		IN_ALL_MODES(test_gone_and_future),
		IN_ALL_MODES(test_bad_tokens),
		IN_ALL_MODES(test_text_items),
		IN_ALL_MODES(test_text_out),
		IN_ALL_MODES(test_label_filter),
		cmocka_unit_test_setup_teardown(test_query_plans, setup, teardown),
		cmocka_unit_test(test_label_lag_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
