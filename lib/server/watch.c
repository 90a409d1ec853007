/*
 * watch.c - watches as chunked JSON event streams, costing memory per watcher and no thread.
 *
 * One cache per watched kind (made on first use, kept afterwards) takes every change of the
 * kind from lib/client once, keeps the last RING_SIZE in a ring, and hands each change to the
 * watchers of that kind. The fan-out does per change what can be shared: watchers with the same
 * namespace and selectors share one filter, evaluated once per change (an object that starts or
 * stops matching arrives as ADDED or DELETED, as kube-apiserver sends it), and each event line
 * ({"type":...,"object":...}) is encoded once per change and type into a reference-counted
 * line that every watcher queues by pointer. A watcher's content reader copies as many queued
 * lines as fit into one chunk (one TLS record, one write), so events ready together go out
 * together.
 * A stream with nothing queued is parked (direct.c): its connection stays suspended and the
 * events queued for it are written to its socket directly, at the end of the loop iteration that
 * queued them, the parked streams' writes spread over threads (parallel.h): one change reaches
 * a thousand watchers in the time of a thousand writes divided by the cores.
 * A watch from a revision the ring still covers replays from the ring; an older one gets a
 * store-backed watch of its own (which answers 410 Expired for a compacted revision). A watcher
 * whose client reads too slowly is ended (client-go then watches again from where it was).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "base/error.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/parallel.h"
#include "base/util.h"
#include "server/server-internal.h"

#define RING_SIZE 256                            /* changes kept per kind */
#define MAX_PENDING_BYTES (16 * 1024 * 1024)     /* a watcher further behind is ended */
#define BOOKMARK_INTERVAL_NS (60 * NSEC_PER_SEC) /* as kube-apiserver sends them */
#define SHRINK_SLOTS 64 /* queues with more room than this are freed when drained */
/* What libmicrohttpd asks a stream for at once (an event or two; larger ones take several
 * calls): its buffer comes from the connection's memory pool, so it is memory per watcher. */
#define WATCH_BLOCK_BYTES (4 * 1024)
#define FLUSH_CHUNK 16 /* parked streams a fan-out thread takes at a time */
#define CHUNK_HEAD 10  /* room for a chunk's "HEX\r\n" */

/* One event line of a stream, shared by the watchers it goes to (and the ring). */
struct line {
	size_t refs; /* holders: watcher queues, the ring (atomic: parked writes drop theirs) */
	size_t len;  /* bytes of data */
	char data[]; /* the line, "\n"-terminated */
};

struct hub_event {
	uint64_t seq;                /* the change's sequence number in its cache */
	int64_t rev;                 /* the change's revision */
	enum client_event_type type; /* ADDED, MODIFIED or DELETED */
	json_t *obj;                 /* the object after (or, deleted, its last state) */
	json_t *prev;                /* before, or NULL */
	char *text;                  /* obj as compact JSON, made on first use */
	size_t text_len;             /* its length */
	struct line *lines[3];       /* the event line as ADDED, MODIFIED, DELETED: on first use */
};

/*
 * A namespace and selectors; watchers of a cache with the same ones share it, so each change
 * is matched once for all of them.
 */
struct watch_filter {
	size_t refs;                   /* watchers using it */
	char *key;                     /* namespace, label and field selector text */
	char *ns;                      /* one namespace, or NULL */
	struct label_selector *labels; /* or NULL */
	struct field_selector *fields; /* or NULL */
	struct kind_cache *cache;      /* the cache listing it, or NULL */
	uint64_t memo_seq;             /* 1 + seq of the change memo is for, 0: none */
	int memo;                      /* the type its watchers see of that change, -1: none */
};

struct kind_cache {
	struct watch_hub *hub;            /* owner */
	const struct kind_info *kind;     /* what it caches */
	struct client_watch *cw;          /* the changes, from lib/client */
	struct hub_event ring[RING_SIZE]; /* the last changes, circular */
	uint64_t next_seq;                /* sequence number of the next change */
	size_t count;                     /* changes in the ring */
	int64_t base;           /* every change after base is in the ring or still to come */
	int64_t pos;            /* the latest revision the cache has seen */
	struct ptrvec watchers; /* struct watcher * */
	struct ptrvec filters;  /* struct watch_filter *: those its watchers use */
	bool failed;            /* the change stream ended (compaction): rebuild on next use */
};

struct watch_hub {
	struct server *srv;         /* owner */
	struct kind_cache **caches; /* one per registry kind, made on first use */
	struct ptrvec all;          /* struct watcher *: every watcher (ticks) */
	struct ptrvec dirty;        /* struct watcher *: parked, with something to write */
	struct loop_source *flush;  /* writes them at the end of the loop iteration */
	struct parallel *par;       /* the threads the writes are spread over */
	char **bufs;                /* per fan-out worker: a chunk being written */
};

struct watcher {
	struct request *req;          /* its HTTP request */
	struct watch_hub *hub;        /* owner of the registry of watchers */
	struct kind_cache *cache;     /* fed by a cache, or */
	struct client_watch *own;     /* by a store-backed watch of its own */
	const struct kind_info *kind; /* what is watched */
	struct watch_filter *filter;  /* namespace and selectors */
	int64_t from_rev;             /* changes after this one */
	int64_t last_rev;             /* the last revision sent */
	enum accept_as as;            /* plain objects, Table rows or metadata */
	bool columns_sent;            /* Table: the column definitions went out */
	bool bookmarks;               /* allowWatchBookmarks */
	int64_t deadline_ns;          /* timeoutSeconds, 0: none */
	int64_t next_bookmark_ns;     /* loop time of the next bookmark */
	struct line **q;              /* event lines not sent yet: a circular queue */
	size_t q_cap;                 /* its room */
	size_t q_head;                /* index of the first */
	size_t q_n;                   /* lines queued */
	size_t q_off;                 /* bytes of the first already sent */
	size_t q_bytes;               /* bytes queued and not sent */
	bool ended;                   /* no more events: finish after the queue is sent */
	struct direct d;              /* the connection while parked */
	bool dirty;                   /* listed in the hub's dirty streams */
};

static size_t
kind_index(const struct kind_info *k)
{
	for (size_t i = 0; i < kind_registry_count; i++)
		if (kind_registry[i] == k)
			return i;
	return 0;
}

static void
line_unref(struct line *l)
{
	if (l && __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(l);
}

/* {"type":TYPE,"object":TEXT}\n, with one reference; NULL when out of memory. */
static struct line *
line_new(const char *type, const char *text, size_t len)
{
	static const char a[] = "{\"type\":\"", b[] = "\",\"object\":", c[] = "}\n";
	size_t tl = strlen(type);
	size_t n = sizeof(a) - 1 + tl + sizeof(b) - 1 + len + sizeof(c) - 1;
	struct line *l = malloc(sizeof(*l) + n);
	if (!l)
		return NULL;
	char *p = l->data;
	memcpy(p, a, sizeof(a) - 1);
	p += sizeof(a) - 1;
	memcpy(p, type, tl);
	p += tl;
	memcpy(p, b, sizeof(b) - 1);
	p += sizeof(b) - 1;
	memcpy(p, text, len);
	p += len;
	memcpy(p, c, sizeof(c) - 1);
	l->refs = 1;
	l->len = n;
	return l;
}

static void
event_clear(struct hub_event *ev)
{
	json_decref(ev->obj);
	json_decref(ev->prev);
	free(ev->text);
	for (size_t i = 0; i < 3; i++)
		line_unref(ev->lines[i]);
	*ev = (struct hub_event){ 0 };
}

static const char *
type_name(enum client_event_type t)
{
	switch (t) {
	case CLIENT_EVENT_ADDED: return "ADDED";
	case CLIENT_EVENT_MODIFIED: return "MODIFIED";
	case CLIENT_EVENT_DELETED: return "DELETED";
	case CLIENT_EVENT_ERROR: return "ERROR";
	}
	return "ERROR";
}

static const char *
obj_ns(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
}

static int64_t
obj_rev(const json_t *obj)
{
	int64_t rv = 0;
	const char *s = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (s)
		parse_int64(s, &rv);
	return rv;
}

static bool
selects(const struct watch_filter *f, const json_t *obj)
{
	if (!obj)
		return false;
	if (f->ns && !streq(obj_ns(obj), f->ns))
		return false;
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	if (f->labels && !label_selector_matches(f->labels, labels))
		return false;
	return !f->fields || field_selector_matches(f->fields, obj);
}

static void
remove_item(struct ptrvec *v, void *item)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->items[i] == item) {
			v->items[i] = v->items[v->n - 1];
			v->n--;
			return;
		}
}

static void
filter_unref(struct watch_filter *f)
{
	if (!f || --f->refs > 0)
		return;
	if (f->cache)
		remove_item(&f->cache->filters, f);
	label_selector_free(f->labels);
	field_selector_free(f->fields);
	free(f->ns);
	free(f->key);
	free(f);
}

/*
 * The type of event the watchers of a filter see of a change (an object that starts or stops
 * matching arrives as ADDED or DELETED), or -1 for none: computed once per change and filter.
 */
static int
filter_sees(struct watch_filter *f, const struct hub_event *ev)
{
	if (f->memo_seq == ev->seq + 1)
		return f->memo;
	bool now = ev->type != CLIENT_EVENT_DELETED && selects(f, ev->obj);
	bool before = ev->type != CLIENT_EVENT_ADDED && selects(f, ev->prev);
	int type;
	if (now && before)
		type = CLIENT_EVENT_MODIFIED;
	else if (now)
		type = CLIENT_EVENT_ADDED;
	else if (before || (ev->type == CLIENT_EVENT_DELETED && selects(f, ev->obj)))
		type = CLIENT_EVENT_DELETED;
	else
		type = -1;
	f->memo_seq = ev->seq + 1;
	f->memo = type;
	return type;
}

/* A parked stream has something to do (write, or end): at the end of this loop iteration. */
static void
mark_dirty(struct watcher *w)
{
	if (w->dirty)
		return;
	if (!w->hub || ptrvec_push(&w->hub->dirty, w) < 0) {
		/* Out of memory: the stream cannot go on; end its connection. */
		w->req->peer_gone = true;
		direct_unpark(w->req, &w->d);
		return;
	}
	w->dirty = true;
	loop_defer_enable(w->hub->flush);
}

static void
watcher_wake(struct watcher *w)
{
	if (!w->req)
		return;
	if (w->d.parked)
		mark_dirty(w);
	else
		request_wake(w->req);
}

/* Queues a line (taking a reference); a watcher too far behind is ended instead. */
static void
queue_line(struct watcher *w, struct line *l)
{
	if (w->ended)
		return;
	if (!l || w->q_bytes + l->len > MAX_PENDING_BYTES) {
		w->ended = true;
		watcher_wake(w);
		return;
	}
	if (w->q_n == w->q_cap) {
		size_t cap = w->q_cap ? 2 * w->q_cap : 4;
		struct line **q = malloc(cap * sizeof(*q));
		if (!q) {
			w->ended = true;
			watcher_wake(w);
			return;
		}
		for (size_t i = 0; i < w->q_n; i++)
			q[i] = w->q[(w->q_head + i) % w->q_cap];
		free(w->q);
		w->q = q;
		w->q_cap = cap;
		w->q_head = 0;
	}
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	w->q[(w->q_head + w->q_n) % w->q_cap] = l;
	w->q_n++;
	w->q_bytes += l->len;
	watcher_wake(w);
}

/* Appends one event line of this watcher's own. */
static void
append_line(struct watcher *w, const char *type, const char *obj_text, size_t len)
{
	if (w->ended)
		return;
	struct line *l = line_new(type, obj_text, len);
	queue_line(w, l);
	line_unref(l);
}

/* Encodes the object as this watcher asks for it (Table rows, metadata, or as it is). */
static void
append_object(struct watcher *w, enum client_event_type type, const json_t *obj, const char *text,
	      size_t text_len)
{
	int64_t rv = obj_rev(obj);
	if (rv > w->last_rev)
		w->last_rev = rv;
	if (w->as == ACCEPT_OBJECT && text) {
		append_line(w, type_name(type), text, text_len);
		return;
	}
	_cleanup_json_ json_t *out = NULL;
	if (w->as == ACCEPT_METADATA) {
		out = partial_metadata(obj);
	} else if (w->as == ACCEPT_TABLE && w->req) {
		_cleanup_json_ json_t *items = json_pack("[O]", obj);
		out = items ? request_table(w->req, items, NULL) : NULL;
		if (out && w->columns_sent)
			json_object_set_new(out, "columnDefinitions", json_array());
		w->columns_sent = true;
	} else {
		out = json_incref((json_t *)obj);
	}
	_cleanup_free_ char *t = out ? json_dumps(out, JSON_COMPACT) : NULL;
	if (!t) {
		w->ended = true;
		watcher_wake(w);
		return;
	}
	append_line(w, type_name(type), t, strlen(t));
}

static void
append_bookmark(struct watcher *w, int64_t rev, bool initial_end)
{
	char av[64], rvs[32];
	snprintf(rvs, sizeof(rvs), "%lld", (long long)rev);
	_cleanup_json_ json_t *bm =
		json_pack("{s:s, s:s, s:{s:s}}", "kind", w->kind->kind, "apiVersion",
			  kind_api_version(w->kind, av), "metadata", "resourceVersion", rvs);
	if (bm && initial_end)
		json_object_set_new(json_object_get(bm, "metadata"), "annotations",
				    json_pack("{s:s}", "k8s.io/initial-events-end", "true"));
	_cleanup_free_ char *t = bm ? json_dumps(bm, JSON_COMPACT) : NULL;
	if (t)
		append_line(w, "BOOKMARK", t, strlen(t));
}

/* One change, as this watcher sees it through its namespace and selectors. */
static void
deliver(struct watcher *w, struct hub_event *ev)
{
	if (w->ended || ev->rev <= w->from_rev)
		return;
	int type = filter_sees(w->filter, ev);
	if (type < 0)
		return;
	if (w->as != ACCEPT_OBJECT) {
		append_object(w, type, ev->obj, NULL, 0);
		return;
	}
	/* The line is encoded once per change and type, and queued by every watcher. */
	if (!ev->lines[type - CLIENT_EVENT_ADDED]) {
		if (!ev->text) {
			ev->text = json_dumps(ev->obj, JSON_COMPACT);
			ev->text_len = ev->text ? strlen(ev->text) : 0;
		}
		if (ev->text)
			ev->lines[type - CLIENT_EVENT_ADDED] =
				line_new(type_name(type), ev->text, ev->text_len);
	}
	if (ev->rev > w->last_rev)
		w->last_rev = ev->rev;
	queue_line(w, ev->lines[type - CLIENT_EVENT_ADDED]);
}

/* ---- the caches ---- */

static void
cache_end_watchers(struct kind_cache *kc)
{
	for (size_t i = 0; i < kc->watchers.n; i++) {
		struct watcher *w = kc->watchers.items[i];
		w->cache = NULL;
		w->ended = true;
		watcher_wake(w);
	}
	kc->watchers.n = 0;
	/* Their filters stay with them (freed with the last), out of the cache's list. */
	for (size_t i = 0; i < kc->filters.n; i++)
		((struct watch_filter *)kc->filters.items[i])->cache = NULL;
	kc->filters.n = 0;
}

static void
on_change(struct client_watch *cw, enum client_event_type type, const json_t *obj,
	  const json_t *prev, void *userdata)
{
	struct kind_cache *kc = userdata;
	if (type == CLIENT_EVENT_ERROR) {
		/* Compaction passed the cache: its watchers resume from their revisions. */
		kc->failed = true;
		cache_end_watchers(kc);
		return;
	}
	int64_t rev = obj_rev(obj);
	struct hub_event *slot = &kc->ring[kc->next_seq % RING_SIZE];
	if (kc->count == RING_SIZE) {
		if (slot->rev > kc->base)
			kc->base = slot->rev;
		event_clear(slot);
	} else {
		kc->count++;
	}
	*slot = (struct hub_event){ .seq = kc->next_seq,
				    .rev = rev,
				    .type = type,
				    .obj = json_incref((json_t *)obj),
				    .prev = json_incref((json_t *)prev) };
	kc->next_seq++;
	if (rev > kc->pos)
		kc->pos = rev;
	for (size_t i = 0; i < kc->watchers.n; i++)
		deliver(kc->watchers.items[i], slot);
}

static void
cache_free(struct kind_cache *kc)
{
	if (!kc)
		return;
	cache_end_watchers(kc);
	client_watch_free(kc->cw);
	for (size_t i = 0; i < RING_SIZE; i++)
		event_clear(&kc->ring[i]);
	ptrvec_free(&kc->watchers, NULL);
	ptrvec_free(&kc->filters, NULL);
	free(kc);
}

/*
 * The cache of a kind, made on first use starting RING_SIZE revisions back (or at the
 * compacted revision), so that watchers of recent revisions are served from it.
 */
static int
cache_get(struct watch_hub *hub, const struct kind_info *k, struct kind_cache **ret,
	  korch_error **err)
{
	size_t i = kind_index(k);
	struct kind_cache *kc = hub->caches[i];
	if (kc && kc->failed) {
		cache_free(kc);
		hub->caches[i] = kc = NULL;
	}
	if (kc) {
		*ret = kc;
		return 0;
	}
	int64_t current = 0, compacted = 0;
	struct store *st = client_store(hub->srv->client);
	int r = store_revision(st, &current, &compacted, err);
	if (r < 0)
		return r;
	int64_t from = current - RING_SIZE;
	if (from < compacted)
		from = compacted;
	if (from < 0)
		from = 0;
	kc = calloc(1, sizeof(*kc));
	if (!kc)
		return error_oom(err);
	kc->hub = hub;
	kc->kind = k;
	kc->base = from;
	kc->pos = from;
	r = client_watch_changes(hub->srv->client, k, from, on_change, kc, &kc->cw, err);
	if (r < 0) {
		free(kc);
		return r;
	}
	hub->caches[i] = kc;
	*ret = kc;
	return 0;
}

static void on_flush(struct loop_source *src, void *userdata);

int
watch_hub_new(struct server *srv, struct watch_hub **ret, korch_error **err)
{
	struct watch_hub *hub = calloc(1, sizeof(*hub));
	if (!hub || !(hub->caches = calloc(kind_registry_count, sizeof(*hub->caches)))) {
		free(hub);
		return error_oom(err);
	}
	hub->srv = srv;
	int r = parallel_new(0, &hub->par, err);
	if (r == 0 && !(hub->bufs = calloc(parallel_workers(hub->par), sizeof(*hub->bufs))))
		r = error_oom(err);
	if (r == 0)
		r = loop_add_defer(srv->loop, on_flush, hub, &hub->flush, err);
	if (r < 0) {
		watch_hub_free(hub);
		return r;
	}
	*ret = hub;
	return 0;
}

void
watch_hub_free(struct watch_hub *hub)
{
	if (!hub)
		return;
	for (size_t i = 0; i < kind_registry_count; i++)
		cache_free(hub->caches[i]);
	/* Watchers left belong to requests that end with the daemons. */
	for (size_t i = 0; i < hub->all.n; i++)
		((struct watcher *)hub->all.items[i])->hub = NULL;
	ptrvec_free(&hub->all, NULL);
	for (size_t i = 0; i < hub->dirty.n; i++)
		((struct watcher *)hub->dirty.items[i])->dirty = false;
	ptrvec_free(&hub->dirty, NULL);
	loop_source_free(hub->flush);
	if (hub->par) {
		for (unsigned i = 0; i < parallel_workers(hub->par); i++)
			free(hub->bufs ? hub->bufs[i] : NULL);
		parallel_free(hub->par);
	}
	free(hub->bufs);
	free(hub->caches);
	free(hub);
}

/* ---- watchers ---- */

void
watcher_free(struct watcher *w)
{
	if (!w)
		return;
	if (w->cache)
		remove_item(&w->cache->watchers, w);
	if (w->hub)
		remove_item(&w->hub->all, w);
	if (w->dirty && w->hub)
		remove_item(&w->hub->dirty, w);
	free(w->d.pend);
	client_watch_free(w->own);
	filter_unref(w->filter);
	for (size_t i = 0; i < w->q_n; i++)
		line_unref(w->q[(w->q_head + i) % w->q_cap]);
	free(w->q);
	free(w);
}

/*
 * The watcher joins the cache's filter with the same namespace and selectors (dropping its
 * own), or lists its own there for the watchers that come after it.
 */
static int
filter_join(struct watcher *w, struct kind_cache *kc)
{
	struct watch_filter *mine = w->filter;
	for (size_t i = 0; i < kc->filters.n; i++) {
		struct watch_filter *f = kc->filters.items[i];
		if (streq(f->key, mine->key)) {
			f->refs++;
			w->filter = f;
			filter_unref(mine);
			return 0;
		}
	}
	if (ptrvec_push(&kc->filters, mine) < 0)
		return -1;
	mine->cache = kc;
	return 0;
}

/* A store-backed watch's events (revisions older than the cache's ring). */
static void
on_own_event(struct client_watch *cw, enum client_event_type type, const json_t *obj,
	     void *userdata)
{
	struct watcher *w = userdata;
	if (type == CLIENT_EVENT_ERROR) {
		_cleanup_free_ char *t = json_dumps(obj, JSON_COMPACT);
		if (t)
			append_line(w, "ERROR", t, strlen(t));
		w->ended = true;
		watcher_wake(w);
		return;
	}
	_cleanup_free_ char *t = w->as == ACCEPT_OBJECT ? json_dumps(obj, JSON_COMPACT) : NULL;
	append_object(w, type, obj, t, t ? strlen(t) : 0);
}

static ssize_t
read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	return watch_read(cls, buf, max);
}

static void
respond_stream(struct request *req)
{
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, WATCH_BLOCK_BYTES, read_cb, req, NULL);
	if (!resp) {
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
	req->answered = true;
	req->mode = STREAM_WATCH;
	MHD_queue_response(req->conn, 200, resp);
	MHD_destroy_response(resp);
}

/* The initial state as synthetic ADDED events; from_rev becomes the list's revision. */
static int
initial_events(struct watcher *w, const char *label_text, const char *field_text, korch_error **err)
{
	struct client_list_opts lo = { .label_selector = label_text, .field_selector = field_text };
	_cleanup_json_ json_t *list = NULL;
	int r = client_list(w->hub->srv->client, w->kind, w->filter->ns, &lo, &list, err);
	if (r < 0)
		return r;
	parse_int64(json_string_value(
			    json_object_get(json_object_get(list, "metadata"), "resourceVersion")),
		    &w->from_rev);
	w->last_rev = w->from_rev;
	size_t i;
	json_t *item;
	json_array_foreach (json_object_get(list, "items"), i, item) {
		_cleanup_free_ char *t =
			w->as == ACCEPT_OBJECT ? json_dumps(item, JSON_COMPACT) : NULL;
		append_object(w, CLIENT_EVENT_ADDED, item, t, t ? strlen(t) : 0);
	}
	w->last_rev = w->from_rev;
	return 0;
}

void
watch_start(struct request *req)
{
	struct server *srv = req->srv;
	const struct route *r = &req->route;
	const char *rv = request_arg(req, "resourceVersion");
	const char *label_text = request_arg(req, "labelSelector");
	const char *field_text = request_arg(req, "fieldSelector");
	const char *timeout = request_arg(req, "timeoutSeconds");
	char name_field[320];
	if (r->name) {
		/* A watch of one object (legacy /watch/.../NAME, or GET NAME?watch): its name. */
		snprintf(name_field, sizeof(name_field), "metadata.name=%s%s%s", r->name,
			 field_text && *field_text ? "," : "", field_text ? field_text : "");
		field_text = name_field;
	}
	int64_t timeout_s = 0;
	if (timeout && *timeout && (parse_int64(timeout, &timeout_s) < 0 || timeout_s < 0)) {
		respond_status(req, 400, "BadRequest", "timeoutSeconds: invalid value \"%s\"",
			       timeout);
		return;
	}
	int64_t from = 0;
	bool from_now = !rv || !*rv || streq(rv, "0");
	if (!from_now && (parse_int64(rv, &from) < 0 || from < 0)) {
		respond_status(req, 400, "BadRequest", "invalid resource version: %s", rv);
		return;
	}
	struct watcher *w = calloc(1, sizeof(*w));
	if (!w) {
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	w->req = req;
	w->hub = srv->hub;
	w->kind = r->kind;
	w->as = request_accept_as(req);
	w->bookmarks = request_arg_true(req, "allowWatchBookmarks");
	int64_t now = korch_clock_now_ns(korch_loop_clock(srv->loop));
	w->deadline_ns = timeout_s ? now + timeout_s * NSEC_PER_SEC : 0;
	w->next_bookmark_ns = now + BOOKMARK_INTERVAL_NS;
	req->watcher = w;
	_cleanup_error_ korch_error *e = NULL;
	int rc = 0;
	struct watch_filter *f = w->filter = calloc(1, sizeof(*f));
	const char *ns = r->ns && r->kind->namespaced ? r->ns : NULL;
	if (f) {
		f->refs = 1;
		f->memo = -1;
	}
	if (!f || (ns && !(f->ns = strdup(ns))) ||
	    asprintf(&f->key, "%s\n%s\n%s", ns ? ns : "", label_text ? label_text : "",
		     field_text ? field_text : "") < 0) {
		if (f)
			f->key = NULL;
		rc = error_oom(&e);
	}
	if (rc == 0 && label_text && *label_text)
		rc = label_selector_parse(label_text, &f->labels, &e);
	if (rc == 0 && field_text && *field_text)
		rc = field_selector_parse(field_text, r->kind, &f->fields, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	if (ptrvec_push(&srv->hub->all, w) < 0) {
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	struct kind_cache *kc = NULL;
	bool initial = from_now || request_arg_true(req, "sendInitialEvents");
	if (from_now) {
		if ((rc = cache_get(srv->hub, r->kind, &kc, &e)) == 0)
			rc = initial_events(w, label_text, field_text, &e);
	} else {
		w->from_rev = w->last_rev = from;
		if ((rc = cache_get(srv->hub, r->kind, &kc, &e)) == 0 && from < kc->base)
			kc = NULL;
	}
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	respond_stream(req);
	if (initial && w->bookmarks && request_arg_true(req, "sendInitialEvents"))
		append_bookmark(w, w->from_rev, true);
	if (kc) {
		/* Replay what the ring holds after from_rev, then live changes. */
		uint64_t first = kc->next_seq - kc->count;
		for (uint64_t s = first; s < kc->next_seq; s++)
			deliver(w, &kc->ring[s % RING_SIZE]);
		if (filter_join(w, kc) < 0 || ptrvec_push(&kc->watchers, w) < 0) {
			w->ended = true;
			return;
		}
		w->cache = kc;
		return;
	}
	/* Older than the ring: a store-backed watch of its own, exactly from that revision. */
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%lld", (long long)from);
	struct client_watch_opts wo = { .label_selector = label_text,
					.field_selector = field_text,
					.resource_version = rvs };
	rc = client_watch(srv->client, r->kind, w->filter->ns, &wo, on_own_event, w, &w->own, &e);
	if (rc < 0) {
		unsigned http;
		const char *reason;
		status_of_error(rc, e, &http, &reason);
		_cleanup_json_ json_t *st =
			status_new(http, reason, korch_error_message(e), NULL, NULL);
		_cleanup_free_ char *t = st ? json_dumps(st, JSON_COMPACT) : NULL;
		if (t)
			append_line(w, "ERROR", t, strlen(t));
		w->ended = true;
	}
}

/* Moves as many queued bytes as fit into buf (events ready together go out together). */
static size_t
take_queued(struct watcher *w, char *buf, size_t max)
{
	size_t n = 0;
	while (w->q_n && n < max) {
		struct line *l = w->q[w->q_head];
		size_t k = MIN(l->len - w->q_off, max - n);
		memcpy(buf + n, l->data + w->q_off, k);
		n += k;
		w->q_off += k;
		if (w->q_off < l->len)
			break;
		line_unref(l);
		w->q_head = (w->q_head + 1) % w->q_cap;
		w->q_n--;
		w->q_off = 0;
	}
	w->q_bytes -= n;
	if (!w->q_n && w->q_cap > SHRINK_SLOTS) {
		free(w->q);
		w->q = NULL;
		w->q_cap = w->q_head = 0;
	}
	return n;
}

ssize_t
watch_read(struct request *req, char *buf, size_t max)
{
	struct watcher *w = req->watcher;
	if (w && w->d.parked) {
		/* Resumed while parked (the client hung up, the server stops): ours no more. */
		free(w->d.pend);
		w->d = (struct direct){ 0 };
	}
	if (req->peer_gone || !w)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (w->q_n)
		return (ssize_t)take_queued(w, buf, max);
	if (w->ended || req->srv->stopping)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Nothing to send: park (libmicrohttpd holds nothing now), or wait suspended. */
	if (!direct_park(req, &w->d)) {
		w->d = (struct direct){ 0 };
		request_suspend(req);
	}
	return 0;
}

/* Writes a parked stream's queue as chunks, until it is empty or the socket is full. Runs on a
 * fan-out worker: touches only this watcher, its connection and the worker's buffer. */
static void
flush_one(size_t i, unsigned worker, void *userdata)
{
	struct watch_hub *hub = userdata;
	struct watcher *w = hub->dirty.items[i];
	if (!w->d.parked || w->d.blocked || w->d.failed || !w->q_n)
		return;
	if (!hub->bufs[worker] && !(hub->bufs[worker] = malloc(DIRECT_MAX_BYTES))) {
		w->d.failed = true;
		return;
	}
	char *buf = hub->bufs[worker];
	size_t room = w->d.max - CHUNK_HEAD - 2;
	while (w->q_n && !w->d.blocked && !w->d.failed) {
		size_t n = take_queued(w, buf + CHUNK_HEAD, room);
		char head[CHUNK_HEAD + 1];
		int hl = snprintf(head, sizeof(head), "%zx\r\n", n);
		char *start = buf + CHUNK_HEAD - hl;
		memcpy(start, head, (size_t)hl);
		memcpy(buf + CHUNK_HEAD + n, "\r\n", 2);
		direct_send(&w->d, start, (size_t)hl + n + 2);
	}
}

/* After the writes, on the loop's thread: what each stream needs next. */
static void
after_flush(struct watcher *w)
{
	struct request *req = w->req;
	if (!w->d.parked || !req)
		return;
	if (w->d.failed) {
		req->peer_gone = true;
		direct_unpark(req, &w->d);
	} else if (w->d.blocked) {
		direct_watch_writable(req, true);
	} else if (!w->q_n && (w->ended || req->srv->stopping)) {
		/* Nothing held back: libmicrohttpd ends the response. */
		direct_unpark(req, &w->d);
	}
}

static void
on_flush(struct loop_source *src, void *userdata)
{
	struct watch_hub *hub = userdata;
	parallel_for(hub->par, hub->dirty.n, FLUSH_CHUNK, flush_one, hub);
	/* after_flush only hands connections back or waits for room: it never marks a stream
	 * dirty, so the list is emptied (its room kept) after the walk. */
	for (size_t i = 0; i < hub->dirty.n; i++) {
		struct watcher *w = hub->dirty.items[i];
		w->dirty = false;
		after_flush(w);
	}
	hub->dirty.n = 0;
}

void
watch_writable(struct request *req)
{
	struct watcher *w = req->watcher;
	if (!w || !w->d.parked)
		return;
	if (direct_flush(&w->d) == 0 && w->d.blocked)
		return;
	direct_watch_writable(req, false);
	mark_dirty(w);
}

void
watch_hub_tick(struct watch_hub *hub, int64_t now_ns)
{
	for (size_t i = 0; i < hub->all.n; i++) {
		struct watcher *w = hub->all.items[i];
		if (w->ended)
			continue;
		if (w->deadline_ns && now_ns >= w->deadline_ns) {
			w->ended = true;
			watcher_wake(w);
			continue;
		}
		if (w->bookmarks && now_ns >= w->next_bookmark_ns) {
			int64_t rev = w->cache && w->cache->pos > w->last_rev ? w->cache->pos
									      : w->last_rev;
			append_bookmark(w, rev, false);
			w->next_bookmark_ns = now_ns + BOOKMARK_INTERVAL_NS;
		}
	}
}
