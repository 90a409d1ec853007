/*
 * informer.c - list + watch into a cache with handlers; relists (and reports the difference)
 * when the watch expires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/util.h"
#include "base/vec.h"
#include "client/client-internal.h"
#include "client/informer.h"

struct informer {
	struct client *client;              /* borrowed */
	const struct kind_info *kind;       /* what is cached */
	char *ns, *labels, *fields;         /* the scope, or NULL */
	struct hashmap cache;               /* key -> json_t * (a reference of ours) */
	struct informer_handlers *handlers; /* n_handlers sets, in the order added */
	size_t n_handlers;
	struct client_watch *watch; /* the running watch, or NULL */
	json_t *initial;            /* objects whose adds are still to be delivered */
	struct loop_source *defer;  /* delivers initial adds, or relists */
	bool started;               /* informer_start() ran */
	bool synced;                /* the initial adds were delivered */
	bool relist;                /* the watch expired: list again on the loop */
};

char *
informer_key(const json_t *obj)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	char *key = NULL;
	if (asprintf(&key, "%s%s%s", ns && *ns ? ns : "", ns && *ns ? "/" : "", name ? name : "") <
	    0)
		return NULL;
	return key;
}

int
informer_split_key(const char *key, char **ret_ns, char **ret_name)
{
	const char *slash = strchr(key, '/');
	char *ns = slash ? strndup(key, (size_t)(slash - key)) : strdup("");
	char *name = strdup(slash ? slash + 1 : key);
	if (!ns || !name) {
		free(ns);
		free(name);
		return KORCH_ENOMEM;
	}
	*ret_ns = ns;
	*ret_name = name;
	return 0;
}

static void
notify_add(struct informer *inf, const json_t *obj)
{
	for (size_t i = 0; i < inf->n_handlers; i++)
		if (inf->handlers[i].on_add)
			inf->handlers[i].on_add(obj, inf->handlers[i].userdata);
}

static void
notify_update(struct informer *inf, const json_t *old, const json_t *obj)
{
	for (size_t i = 0; i < inf->n_handlers; i++)
		if (inf->handlers[i].on_update)
			inf->handlers[i].on_update(old, obj, inf->handlers[i].userdata);
}

static void
notify_delete(struct informer *inf, const json_t *obj)
{
	for (size_t i = 0; i < inf->n_handlers; i++)
		if (inf->handlers[i].on_delete)
			inf->handlers[i].on_delete(obj, inf->handlers[i].userdata);
}

/* Puts obj in the cache and tells the handlers, as an add or an update. */
static void
upsert(struct informer *inf, const json_t *obj)
{
	_cleanup_free_ char *key = informer_key(obj);
	if (!key)
		return;
	json_t *old = NULL;
	if (hashmap_put(&inf->cache, key, json_incref((json_t *)obj), (void **)&old) < 0) {
		json_decref((json_t *)obj);
		return;
	}
	if (old)
		notify_update(inf, old, obj);
	else
		notify_add(inf, obj);
	json_decref(old);
}

static void
remove_obj(struct informer *inf, const json_t *obj)
{
	_cleanup_free_ char *key = informer_key(obj);
	json_t *old = key ? hashmap_remove(&inf->cache, key) : NULL;
	notify_delete(inf, obj);
	json_decref(old);
}

static int start_watch(struct informer *inf, const char *rv, korch_error **err);

static void
on_event(struct client_watch *w, enum client_event_type type, const json_t *obj, void *userdata)
{
	struct informer *inf = userdata;
	switch (type) {
	case CLIENT_EVENT_ADDED:
	case CLIENT_EVENT_MODIFIED: upsert(inf, obj); break;
	case CLIENT_EVENT_DELETED: remove_obj(inf, obj); break;
	case CLIENT_EVENT_ERROR:
		/* Expired: list again from the loop (the watch cannot be freed from here safely
		 * for every caller), then watch from the new list. */
		inf->relist = true;
		loop_defer_enable(inf->defer);
		break;
	}
}

static int
list_now(struct informer *inf, json_t **ret, korch_error **err)
{
	struct client_list_opts lo = { .label_selector = inf->labels,
				       .field_selector = inf->fields };
	return client_list(inf->client, inf->kind, inf->ns, &lo, ret, err);
}

static int
start_watch(struct informer *inf, const char *rv, korch_error **err)
{
	struct client_watch_opts wo = { .label_selector = inf->labels,
					.field_selector = inf->fields,
					.resource_version = rv };
	return client_watch(inf->client, inf->kind, inf->ns, &wo, on_event, inf, &inf->watch, err);
}

/* After an expired watch: the difference between the cache and a fresh list, as events. */
static void
relist(struct informer *inf)
{
	client_watch_free(inf->watch);
	inf->watch = NULL;
	_cleanup_json_ json_t *list = NULL;
	if (list_now(inf, &list, NULL) < 0) {
		/* Try again on a later dispatch rather than give up on the kind. */
		loop_defer_enable(inf->defer);
		return;
	}
	struct hashmap listed = HASHMAP_INIT;
	size_t i;
	json_t *obj;
	json_array_foreach (json_object_get(list, "items"), i, obj) {
		_cleanup_free_ char *key = informer_key(obj);
		if (!key)
			continue;
		hashmap_put(&listed, key, obj, NULL);
		const json_t *cur = hashmap_get(&inf->cache, key);
		const char *rv_old =
			cur ? json_string_value(json_object_get(json_object_get(cur, "metadata"),
								"resourceVersion"))
			    : NULL;
		const char *rv_new = json_string_value(
			json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
		if (!cur || !streq(rv_old, rv_new))
			upsert(inf, obj);
	}
	struct ptrvec gone = PTRVEC_INIT;
	size_t iter = 0;
	const char *key;
	json_t *cached;
	while (hashmap_next(&inf->cache, &iter, &key, (void **)&cached))
		if (!hashmap_contains(&listed, key))
			ptrvec_push(&gone, json_incref(cached));
	for (size_t k = 0; k < gone.n; k++) {
		remove_obj(inf, gone.items[k]);
		json_decref(gone.items[k]);
	}
	ptrvec_free(&gone, NULL);
	hashmap_free(&listed, NULL);
	const char *rv = json_string_value(
		json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
	if (start_watch(inf, rv, NULL) < 0)
		loop_defer_enable(inf->defer);
	else
		inf->relist = false;
}

static void
on_defer(struct loop_source *src, void *userdata)
{
	struct informer *inf = userdata;
	if (inf->initial) {
		_cleanup_json_ json_t *items = steal_pointer(&inf->initial);
		size_t i;
		json_t *obj;
		json_array_foreach (items, i, obj)
			notify_add(inf, obj);
		inf->synced = true;
	}
	if (inf->relist)
		relist(inf);
}

int
informer_new(struct client *c, const struct kind_info *k, const char *ns,
	     const char *label_selector, const char *field_selector, struct informer **ret,
	     korch_error **err)
{
	korch_loop *loop = store_loop(client_store(c));
	if (!loop)
		return error_set(err, KORCH_EINVALID,
				 "an informer needs a store opened with a loop");
	struct informer *inf = calloc(1, sizeof(*inf));
	if (!inf)
		return error_oom(err);
	inf->client = c;
	inf->kind = k;
	if ((ns && !(inf->ns = strdup(ns))) ||
	    (label_selector && !(inf->labels = strdup(label_selector))) ||
	    (field_selector && !(inf->fields = strdup(field_selector)))) {
		informer_free(inf);
		return error_oom(err);
	}
	int r = loop_add_defer(loop, on_defer, inf, &inf->defer, err);
	if (r < 0) {
		informer_free(inf);
		return r;
	}
	*ret = inf;
	return 0;
}

int
informer_add_handlers(struct informer *inf, const struct informer_handlers *h, korch_error **err)
{
	struct informer_handlers *p =
		realloc(inf->handlers, (inf->n_handlers + 1) * sizeof(*inf->handlers));
	if (!p)
		return error_oom(err);
	inf->handlers = p;
	inf->handlers[inf->n_handlers++] = *h;
	return 0;
}

int
informer_start(struct informer *inf, korch_error **err)
{
	if (inf->started)
		return 0;
	_cleanup_json_ json_t *list = NULL;
	int r = list_now(inf, &list, err);
	if (r < 0)
		return r;
	json_t *items = json_object_get(list, "items");
	size_t i;
	json_t *obj;
	json_array_foreach (items, i, obj) {
		_cleanup_free_ char *key = informer_key(obj);
		if (!key || hashmap_put(&inf->cache, key, json_incref(obj), NULL) < 0)
			return error_oom(err);
	}
	const char *rv = json_string_value(
		json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
	if ((r = start_watch(inf, rv, err)) < 0)
		return r;
	inf->initial = json_incref(items);
	inf->started = true;
	loop_defer_enable(inf->defer);
	return 0;
}

bool
informer_synced(const struct informer *inf)
{
	return inf->synced;
}

const json_t *
informer_get(const struct informer *inf, const char *ns, const char *name)
{
	char *key = NULL;
	bool namespaced = inf->kind->namespaced && ns && *ns;
	if (asprintf(&key, "%s%s%s", namespaced ? ns : "", namespaced ? "/" : "", name) < 0)
		return NULL;
	const json_t *obj = hashmap_get(&inf->cache, key);
	free(key);
	return obj;
}

void
informer_foreach(const struct informer *inf, void (*fn)(const json_t *obj, void *userdata),
		 void *userdata)
{
	size_t iter = 0;
	json_t *obj;
	while (hashmap_next(&inf->cache, &iter, NULL, (void **)&obj))
		fn(obj, userdata);
}

size_t
informer_count(const struct informer *inf)
{
	return inf->cache.n;
}

const struct kind_info *
informer_kind(const struct informer *inf)
{
	return inf->kind;
}

static void
decref(void *p)
{
	json_decref(p);
}

void
informer_free(struct informer *inf)
{
	if (!inf)
		return;
	client_watch_free(inf->watch);
	loop_source_free(inf->defer);
	json_decref(inf->initial);
	hashmap_free(&inf->cache, decref);
	free(inf->handlers);
	free(inf->ns);
	free(inf->labels);
	free(inf->fields);
	free(inf);
}
