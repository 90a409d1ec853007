/*
 * informer.h - list + watch of one kind into a cache, with event handlers, as client-go's shared
 * informers give controllers, the scheduler and the node agent: each reads objects from the
 * cache and reacts to changes; only the informer talks to the store.
 *
 * An informer lists, fills its cache, then watches from the list's revision. When its watch
 * expires (the revision was compacted: 410), it lists again and reports the difference as adds,
 * updates and deletes, so handlers see every object's latest state exactly once per change.
 * Cached objects are borrowed: valid until the next dispatch of the loop that changes them;
 * take a reference (json_incref) to keep one longer, and never modify them.
 */
#ifndef KORCH_CLIENT_INFORMER_H
#define KORCH_CLIENT_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "base/macro.h"
#include "client/client.h"

struct informer;

struct informer_handlers {
	void (*on_add)(const json_t *obj, void *userdata);                       /* or NULL */
	void (*on_update)(const json_t *old, const json_t *obj, void *userdata); /* or NULL */
	/* obj is the last state known; after a relist it may be older than the deletion. */
	void (*on_delete)(const json_t *obj, void *userdata); /* or NULL */
	void *userdata;
};

/*
 * An informer of kind k (in namespace ns, or all when NULL) over c, whose store must have a loop
 * (the watch runs on it). The selectors (may be NULL) narrow what is cached.
 */
int informer_new(struct client *c, const struct kind_info *k, const char *ns,
		 const char *label_selector, const char *field_selector, struct informer **ret,
		 korch_error **err);

/* Adds a set of handlers (copied); all are called for every change, in the order added. */
int informer_add_handlers(struct informer *inf, const struct informer_handlers *h,
			  korch_error **err);

/*
 * Lists into the cache and starts watching. The handlers' on_add for the initial objects run
 * from the loop, after this returns. Idempotent.
 */
int informer_start(struct informer *inf, korch_error **err);

/* Whether the initial list is in the cache and its adds were delivered. */
bool informer_synced(const struct informer *inf);

/* The cached object (borrowed), or NULL. ns is ignored for cluster-scoped kinds. */
const json_t *informer_get(const struct informer *inf, const char *ns, const char *name);

/* Calls fn for every cached object (in no particular order); fn must not change the cache. */
void informer_foreach(const struct informer *inf, void (*fn)(const json_t *obj, void *userdata),
		      void *userdata);

size_t informer_count(const struct informer *inf);

const struct kind_info *informer_kind(const struct informer *inf);

/* The "namespace/name" (or "name") key controllers queue for an object. Caller frees. */
char *informer_key(const json_t *obj);

/* Splits a key made by informer_key into namespace ("" for none) and name; caller frees both. */
int informer_split_key(const char *key, char **ret_ns, char **ret_name);

void informer_free(struct informer *inf);

DEFINE_CLEANUP_FUNC(informer_free, struct informer, informer_free)

#endif
