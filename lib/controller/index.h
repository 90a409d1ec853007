/*
 * index.h - indexes over an informer's cache: objects by namespace, by owner uid (every
 * ownerReference), and by label (namespace, key, value), kept up to date by the informer's
 * handlers, so that a controller finds a ReplicaSet's pods without scanning every pod.
 */
#ifndef KORCH_CONTROLLER_INDEX_H
#define KORCH_CONTROLLER_INDEX_H

#include <jansson.h>
#include "api/selector.h"
#include "client/informer.h"

struct index;

/* An index of inf (borrowed); registers its handlers on inf first. NULL when out of memory. */
struct index *index_new(struct informer *inf);
void index_free(struct index *ix);

typedef void (*index_fn)(const json_t *obj, void *userdata);

/*
 * Each calls fn for the matching cached objects. The objects are collected first and held for
 * the calls, so fn may do anything but free the informer.
 */
void index_foreach_ns(struct index *ix, const char *ns, index_fn fn, void *userdata);
void index_foreach_owner(struct index *ix, const char *uid, index_fn fn, void *userdata);
/* Objects of ns (NULL: all) that sel selects; sel NULL or empty selects nothing. */
void index_foreach_selected(struct index *ix, const char *ns, const struct label_selector *sel,
			    index_fn fn, void *userdata);

#endif
