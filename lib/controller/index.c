/*
 * index.c - namespace, owner and label indexes over an informer's cache (see index.h).
 *
 * Every bucket is a set of object keys ("ns/name"); each object remembers the buckets it is in
 * so that an update or delete takes it out of exactly those.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashmap.h"
#include "base/json.h"
#include "base/util.h"
#include "base/vec.h"
#include "controller/index.h"
#include "controller/util.h"

struct index {
	struct informer *inf;   /* borrowed */
	struct hashmap buckets; /* bucket name -> struct hashmap * (set of keys) */
	struct hashmap members; /* object key -> struct ptrvec * of bucket names (owned) */
};

#define SEP "\x1f"

static void
bucket_free(void *p)
{
	struct hashmap *set = p;
	hashmap_free(set, NULL);
	free(set);
}

static void
names_free(void *p)
{
	struct ptrvec *v = p;
	ptrvec_free(v, free);
	free(v);
}

static void
bucket_add(struct index *ix, const char *bucket, const char *key)
{
	struct hashmap *set = hashmap_get(&ix->buckets, bucket);
	if (!set) {
		set = calloc(1, sizeof(*set));
		if (!set || hashmap_put(&ix->buckets, bucket, set, NULL) < 0) {
			free(set);
			return;
		}
	}
	hashmap_put(set, key, NULL, NULL);
}

static void
bucket_remove(struct index *ix, const char *bucket, const char *key)
{
	struct hashmap *set = hashmap_get(&ix->buckets, bucket);
	if (!set)
		return;
	hashmap_remove(set, key);
	if (set->n == 0)
		bucket_free(hashmap_remove(&ix->buckets, bucket));
}

/* Adds the bucket name "TAG\x1fVALUE". */
static void
push_name(struct ptrvec *v, char tag, const char *value)
{
	char *name = NULL;
	if (asprintf(&name, "%c" SEP "%s", tag, value) >= 0 && ptrvec_push(v, name) < 0)
		free(name);
}

static void
forget(struct index *ix, const char *key)
{
	struct ptrvec *names = hashmap_remove(&ix->members, key);
	if (!names)
		return;
	for (size_t i = 0; i < names->n; i++)
		bucket_remove(ix, names->items[i], key);
	names_free(names);
}

static void
remember(struct index *ix, const json_t *obj)
{
	_cleanup_free_ char *key = object_key(obj);
	if (!key)
		return;
	forget(ix, key);
	struct ptrvec *names = calloc(1, sizeof(*names));
	if (!names)
		return;
	const char *ns = jp_str0(obj, "metadata.namespace");
	push_name(names, 'n', ns);
	size_t i;
	json_t *ref;
	json_array_foreach (jp_get(obj, "metadata.ownerReferences"), i, ref)
		push_name(names, 'o', jp_str0(ref, "uid"));
	const char *lk;
	json_t *lv;
	json_object_foreach ((json_t *)jp_get(obj, "metadata.labels"), lk, lv) {
		if (!json_is_string(lv))
			continue;
		char *name = NULL;
		if (asprintf(&name, "l" SEP "%s" SEP "%s=%s", ns, lk, json_string_value(lv)) >= 0 &&
		    ptrvec_push(names, name) < 0)
			free(name);
	}
	for (size_t k = 0; k < names->n; k++)
		bucket_add(ix, names->items[k], key);
	if (hashmap_put(&ix->members, key, names, NULL) < 0) {
		for (size_t k = 0; k < names->n; k++)
			bucket_remove(ix, names->items[k], key);
		names_free(names);
	}
}

static void
on_add(const json_t *obj, void *userdata)
{
	remember(userdata, obj);
}

static void
on_update(const json_t *old, const json_t *obj, void *userdata)
{
	remember(userdata, obj);
}

static void
on_delete(const json_t *obj, void *userdata)
{
	_cleanup_free_ char *key = object_key(obj);
	if (key)
		forget(userdata, key);
}

struct index *
index_new(struct informer *inf)
{
	struct index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	ix->inf = inf;
	struct informer_handlers h = { on_add, on_update, on_delete, ix };
	if (informer_add_handlers(inf, &h, NULL) < 0) {
		free(ix);
		return NULL;
	}
	return ix;
}

void
index_free(struct index *ix)
{
	if (!ix)
		return;
	hashmap_free(&ix->buckets, bucket_free);
	hashmap_free(&ix->members, names_free);
	free(ix);
}

/* The cached object of a key ("ns/name" or "name"). */
static const json_t *
lookup(struct index *ix, const char *key)
{
	const char *slash = strchr(key, '/');
	if (!slash)
		return informer_get(ix->inf, NULL, key);
	char ns[256];
	size_t n = (size_t)(slash - key);
	if (n >= sizeof(ns))
		return NULL;
	memcpy(ns, key, n);
	ns[n] = '\0';
	return informer_get(ix->inf, ns, slash + 1);
}

/* Collects the objects of a bucket that pass sel (NULL: all), then calls fn for each. */
static void
run_bucket(struct index *ix, const char *bucket, const struct label_selector *sel, index_fn fn,
	   void *userdata)
{
	struct hashmap *set = hashmap_get(&ix->buckets, bucket);
	if (!set)
		return;
	struct ptrvec objs = PTRVEC_INIT;
	size_t iter = 0;
	const char *key;
	while (hashmap_next(set, &iter, &key, NULL)) {
		const json_t *obj = lookup(ix, key);
		if (obj && (!sel || selects(sel, obj)) &&
		    ptrvec_push(&objs, json_incref((json_t *)obj)) < 0)
			json_decref((json_t *)obj);
	}
	for (size_t i = 0; i < objs.n; i++)
		fn(objs.items[i], userdata);
	for (size_t i = 0; i < objs.n; i++)
		json_decref(objs.items[i]);
	ptrvec_free(&objs, NULL);
}

void
index_foreach_ns(struct index *ix, const char *ns, index_fn fn, void *userdata)
{
	char *bucket = NULL;
	if (asprintf(&bucket, "n" SEP "%s", ns ? ns : "") < 0)
		return;
	run_bucket(ix, bucket, NULL, fn, userdata);
	free(bucket);
}

void
index_foreach_owner(struct index *ix, const char *uid, index_fn fn, void *userdata)
{
	char *bucket = NULL;
	if (!uid || asprintf(&bucket, "o" SEP "%s", uid) < 0)
		return;
	run_bucket(ix, bucket, NULL, fn, userdata);
	free(bucket);
}

struct all_ctx {
	const struct label_selector *sel;
	index_fn fn;
	void *userdata;
	struct ptrvec objs;
};

static void
collect_all(const json_t *obj, void *userdata)
{
	struct all_ctx *c = userdata;
	if (selects(c->sel, obj) && ptrvec_push(&c->objs, json_incref((json_t *)obj)) < 0)
		json_decref((json_t *)obj);
}

void
index_foreach_selected(struct index *ix, const char *ns, const struct label_selector *sel,
		       index_fn fn, void *userdata)
{
	if (!sel || label_selector_is_empty(sel))
		return;
	if (!ns) {
		struct all_ctx c = { sel, fn, userdata, PTRVEC_INIT };
		informer_foreach(ix->inf, collect_all, &c);
		for (size_t i = 0; i < c.objs.n; i++)
			fn(c.objs.items[i], userdata);
		ptrvec_free(&c.objs, (void (*)(void *))json_decref);
		return;
	}
	/* The smallest bucket of an equality requirement narrows the search. */
	const char *best = NULL;
	size_t best_n = (size_t)-1;
	char *names[16] = { 0 };
	size_t n_names = 0;
	for (size_t i = 0; i < label_selector_count(sel) && n_names < ARRAY_SIZE(names); i++) {
		const struct label_requirement *req = label_selector_requirement(sel, i);
		const char *value = label_selector_exact_value(sel, req->key);
		if (!value)
			continue;
		char *name = NULL;
		if (asprintf(&name, "l" SEP "%s" SEP "%s=%s", ns, req->key, value) < 0)
			continue;
		names[n_names++] = name;
		struct hashmap *set = hashmap_get(&ix->buckets, name);
		size_t n = set ? set->n : 0;
		if (n < best_n) {
			best_n = n;
			best = name;
		}
	}
	if (best) {
		run_bucket(ix, best, sel, fn, userdata);
	} else {
		char *bucket = NULL;
		if (asprintf(&bucket, "n" SEP "%s", ns) >= 0)
			run_bucket(ix, bucket, sel, fn, userdata);
		free(bucket);
	}
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
}
