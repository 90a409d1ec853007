/*
 * expectations.c - outstanding creates and deletes per controller key (see expectations.h).
 */
#include <stdlib.h>
#include <string.h>

#include "base/hashmap.h"
#include "controller/expectations.h"

struct expectation {
	int64_t adds;         /* creations not seen yet */
	struct hashmap dels;  /* object keys whose deletion is not seen yet */
	int64_t timestamp_ns; /* when they were set */
};

struct expectations {
	struct hashmap by_key; /* controller key -> struct expectation * */
};

static void
expectation_free(void *p)
{
	struct expectation *x = p;
	if (!x)
		return;
	hashmap_free(&x->dels, NULL);
	free(x);
}

struct expectations *
expectations_new(void)
{
	return calloc(1, sizeof(struct expectations));
}

void
expectations_free(struct expectations *e)
{
	if (!e)
		return;
	hashmap_free(&e->by_key, expectation_free);
	free(e);
}

static struct expectation *
get_or_add(struct expectations *e, const char *key)
{
	struct expectation *x = hashmap_get(&e->by_key, key);
	if (x)
		return x;
	x = calloc(1, sizeof(*x));
	if (!x || hashmap_put(&e->by_key, key, x, NULL) < 0) {
		free(x);
		return NULL;
	}
	return x;
}

void
expect_creations(struct expectations *e, const char *key, int64_t n, int64_t now_ns)
{
	struct expectation *x = get_or_add(e, key);
	if (!x)
		return;
	x->adds = n;
	x->timestamp_ns = now_ns;
}

void
expect_deletion(struct expectations *e, const char *key, const char *obj_key, int64_t now_ns)
{
	struct expectation *x = get_or_add(e, key);
	if (!x)
		return;
	hashmap_put(&x->dels, obj_key, NULL, NULL);
	x->timestamp_ns = now_ns;
}

void
creation_observed(struct expectations *e, const char *key)
{
	struct expectation *x = hashmap_get(&e->by_key, key);
	if (x && x->adds > 0)
		x->adds--;
}

void
deletion_observed(struct expectations *e, const char *key, const char *obj_key)
{
	struct expectation *x = hashmap_get(&e->by_key, key);
	if (x)
		hashmap_remove(&x->dels, obj_key);
}

bool
expectations_satisfied(struct expectations *e, const char *key, int64_t now_ns)
{
	struct expectation *x = hashmap_get(&e->by_key, key);
	if (!x)
		return true;
	if (x->adds <= 0 && x->dels.n == 0)
		return true;
	return now_ns - x->timestamp_ns > EXPECTATIONS_TIMEOUT_NS;
}

void
expectations_delete(struct expectations *e, const char *key)
{
	expectation_free(hashmap_remove(&e->by_key, key));
}
