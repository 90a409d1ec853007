/*
 * watch.c - korch_watch: watches of the embedding handle over lib/client's watch, either calling
 * back or queueing events behind a pollable eventfd.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api/kinds.h"
#include "base/error.h"
#include "base/json.h"
#include "base/loop.h"
#include "embed/embed-internal.h"

#define DEFAULT_QUEUE_MAX 10000

struct queued {
	struct queued *next; /* younger */
	int type;            /* enum korch_event_type */
	json_t *object;      /* owned */
};

struct korch_watch {
	korch *k;                        /* owner */
	struct korch_watch *prev, *next; /* in k->watches */
	struct client_watch *cw;         /* the client's watch; NULL once released */
	korch_event_fn fn;               /* callback, or NULL: queued */
	void *userdata;                  /* for fn */
	int efd;                         /* queued: readable while events wait */
	struct queued *head, *tail;      /* queued: oldest first */
	size_t n, max;                   /* queued: how many wait, and the most that may */
	bool ended;                      /* an ERROR was delivered: nothing more comes */
	bool dead;                       /* freed from inside a callback: the reaper frees it */
	bool delivering;                 /* inside fn: freeing must wait for the reaper */
};

static void
queue_push(korch_watch *w, int type, json_t *obj)
{
	struct queued *q = calloc(1, sizeof(*q));
	if (!q) {
		json_decref(obj);
		return;
	}
	q->type = type;
	q->object = obj;
	if (w->tail)
		w->tail->next = q;
	else
		w->head = q;
	w->tail = q;
	if (w->n++ == 0) {
		uint64_t one = 1;
		(void)!write(w->efd, &one, sizeof(one));
	}
}

/* Frees the client's watch from the loop, where it cannot be freed inside its own callback. */
static void
release_later(korch_watch *w)
{
	loop_defer_enable(w->k->reaper);
}

static void
on_event(struct client_watch *cw, enum client_event_type type, const json_t *object, void *userdata)
{
	korch_watch *w = userdata;
	if (w->dead || w->ended)
		return;
	int t = type == CLIENT_EVENT_ADDED      ? KORCH_EVENT_ADDED
		: type == CLIENT_EVENT_MODIFIED ? KORCH_EVENT_MODIFIED
		: type == CLIENT_EVENT_DELETED  ? KORCH_EVENT_DELETED
						: KORCH_EVENT_ERROR;
	if (t == KORCH_EVENT_ERROR) {
		w->ended = true;
		release_later(w);
	}
	if (w->fn) {
		w->delivering = true;
		w->fn(w, t, (korch_object *)object, w->userdata);
		w->delivering = false;
		return;
	}
	if (t != KORCH_EVENT_ERROR && w->n >= w->max) {
		/* A reader that does not keep up ends the watch rather than korch's memory. */
		queue_push(w, KORCH_EVENT_ERROR,
			   json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
				     "apiVersion", "v1", "metadata", "status", "Failure", "message",
				     "too many events queued: the reader fell behind", "reason",
				     "Expired", "code", 410));
		w->ended = true;
		release_later(w);
		return;
	}
	/* The caller of korch_watch_next() owns what it gets and may change it: the object is
	 * shared with the store's other watchers, so the queue holds a copy. */
	json_t *copy = json_deep_copy(object);
	if (!copy) {
		queue_push(w, KORCH_EVENT_ERROR,
			   json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
				     "apiVersion", "v1", "metadata", "status", "Failure", "message",
				     "out of memory", "reason", "InternalError", "code", 500));
		w->ended = true;
		release_later(w);
		return;
	}
	queue_push(w, t, copy);
}

static void
watch_destroy(korch_watch *w)
{
	korch *k = w->k;
	if (w->prev)
		w->prev->next = w->next;
	else
		k->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	client_watch_free(w->cw);
	while (w->head) {
		struct queued *q = w->head;
		w->head = q->next;
		json_decref(q->object);
		free(q);
	}
	if (w->efd >= 0)
		close(w->efd);
	free(w);
}

/* Frees what callbacks could not: dead watches, and the client watches of ended ones. */
static void
reap(struct loop_source *src, void *userdata)
{
	korch *k = userdata;
	korch_watch *next = NULL;
	for (korch_watch *w = k->watches; w; w = next) {
		next = w->next;
		if (w->dead)
			watch_destroy(w);
		else if (w->ended && w->cw) {
			client_watch_free(w->cw);
			w->cw = NULL;
		}
	}
}

int
embed_watches_init(korch *k, korch_error **err)
{
	return loop_add_defer(k->loop, reap, k, &k->reaper, err);
}

void
embed_watches_fini(korch *k)
{
	while (k->watches)
		watch_destroy(k->watches);
	loop_source_free(k->reaper);
	k->reaper = NULL;
}

KORCH_EXPORT int
korch_watch_new(korch *k, const char *resource, const char *ns, const korch_watch_new_options *opts,
		korch_event_fn fn, void *userdata, korch_watch **ret, korch_error **err)
{
	if (opts && opts->version != KORCH_WATCH_NEW_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID,
				 "korch_watch_new_options version %u is not %u", opts->version,
				 KORCH_WATCH_NEW_OPTIONS_VERSION);
	const struct kind_info *kind = resource ? kind_lookup_resource(resource) : NULL;
	if (!kind)
		return error_set(err, KORCH_ENOTFOUND,
				 "the server doesn't have a resource type \"%s\"",
				 resource ? resource : "");
	korch_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return error_oom(err);
	w->k = k;
	w->fn = fn;
	w->userdata = userdata;
	w->efd = -1;
	w->max = opts && opts->queue_max ? opts->queue_max : DEFAULT_QUEUE_MAX;
	if (!fn) {
		w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->efd < 0) {
			int e = errno;
			free(w);
			return error_errno(err, e, "watch %s: eventfd", resource);
		}
	}
	struct client_watch_opts co = { 0 };
	if (opts) {
		co.label_selector = opts->label_selector;
		co.field_selector = opts->field_selector;
		co.resource_version = opts->resource_version;
	}
	embed_lock(k);
	int r = client_watch(k->client, kind, ns, &co, on_event, w, &w->cw, err);
	if (r == 0) {
		w->next = k->watches;
		if (k->watches)
			k->watches->prev = w;
		k->watches = w;
		embed_wake(k);
	}
	embed_unlock(k);
	if (r < 0) {
		if (w->efd >= 0)
			close(w->efd);
		free(w);
		return korch_error_prefix(err, r, "watch %s", resource);
	}
	*ret = w;
	return 0;
}

KORCH_EXPORT int
korch_watch_fd(korch_watch *w)
{
	return w->efd;
}

KORCH_EXPORT int
korch_watch_next(korch_watch *w, int *ret_type, korch_object **ret_obj, korch_error **err)
{
	if (w->fn)
		return error_set(err, KORCH_EINVALID,
				 "korch_watch_next: this watch calls back; it queues nothing");
	korch *k = w->k;
	embed_lock(k);
	struct queued *q = w->head;
	if (q) {
		w->head = q->next;
		if (!w->head)
			w->tail = NULL;
		if (--w->n == 0) {
			uint64_t v;
			(void)!read(w->efd, &v, sizeof(v));
		}
	}
	embed_unlock(k);
	if (!q)
		return 0;
	*ret_type = q->type;
	*ret_obj = (korch_object *)q->object;
	free(q);
	return 1;
}

KORCH_EXPORT void
korch_watch_free(korch_watch *w)
{
	if (!w)
		return;
	korch *k = w->k;
	embed_lock(k);
	if (w->delivering) {
		/* Inside its own callback the client's watch is still delivering. */
		w->dead = true;
		loop_defer_enable(k->reaper);
	} else {
		watch_destroy(w);
	}
	embed_unlock(k);
}
