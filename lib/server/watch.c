/*
 * watch.c - watches as chunked JSON event streams, costing memory per watcher and no thread.
 *
 * One cache per watched kind (made on first use, kept afterwards) takes every change of the
 * kind from lib/client once, keeps the last RING_SIZE in a ring with their encoded JSON, and
 * hands each change to the watchers of that kind: each applies its namespace and selectors
 * (an object that starts or stops matching arrives as ADDED or DELETED, as kube-apiserver sends
 * it), appends the event line to its own pending output, and wakes its suspended connection.
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
#include "base/util.h"
#include "server/server-internal.h"

#define RING_SIZE 256                            /* changes kept per kind */
#define MAX_PENDING_BYTES (16 * 1024 * 1024)     /* a watcher further behind is ended */
#define BOOKMARK_INTERVAL_NS (60 * NSEC_PER_SEC) /* as kube-apiserver sends them */
#define SHRINK_BYTES (64 * 1024) /* pending buffers above this are freed when drained */
/* What libmicrohttpd asks a stream for at once (an event or two; larger ones take several
 * calls): its buffer comes from the connection's memory pool, so it is memory per watcher. */
#define WATCH_BLOCK_BYTES (4 * 1024)

struct hub_event {
	int64_t rev;                 /* the change's revision */
	enum client_event_type type; /* ADDED, MODIFIED or DELETED */
	json_t *obj;                 /* the object after (or, deleted, its last state) */
	json_t *prev;                /* before, or NULL */
	char *text;                  /* obj as compact JSON, made on first use */
	size_t text_len;             /* its length */
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
	bool failed;            /* the change stream ended (compaction): rebuild on next use */
};

struct watch_hub {
	struct server *srv;         /* owner */
	struct kind_cache **caches; /* one per registry kind, made on first use */
	struct ptrvec all;          /* struct watcher *: every watcher (ticks) */
};

struct watcher {
	struct request *req;           /* its HTTP request */
	struct watch_hub *hub;         /* owner of the registry of watchers */
	struct kind_cache *cache;      /* fed by a cache, or */
	struct client_watch *own;      /* by a store-backed watch of its own */
	const struct kind_info *kind;  /* what is watched */
	char *ns;                      /* one namespace, or NULL */
	struct label_selector *labels; /* or NULL */
	struct field_selector *fields; /* or NULL */
	int64_t from_rev;              /* changes after this one */
	int64_t last_rev;              /* the last revision sent */
	enum accept_as as;             /* plain objects, Table rows or metadata */
	bool columns_sent;             /* Table: the column definitions went out */
	bool bookmarks;                /* allowWatchBookmarks */
	int64_t deadline_ns;           /* timeoutSeconds, 0: none */
	int64_t next_bookmark_ns;      /* loop time of the next bookmark */
	struct strbuf out;             /* event lines not sent yet */
	size_t out_off;                /* bytes of out already sent */
	bool ended;                    /* no more events: finish after out is sent */
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
event_clear(struct hub_event *ev)
{
	json_decref(ev->obj);
	json_decref(ev->prev);
	free(ev->text);
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
selects(const struct watcher *w, const json_t *obj)
{
	if (!obj)
		return false;
	if (w->ns && !streq(obj_ns(obj), w->ns))
		return false;
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	if (w->labels && !label_selector_matches(w->labels, labels))
		return false;
	return !w->fields || field_selector_matches(w->fields, obj);
}

static void
watcher_wake(struct watcher *w)
{
	if (w->req)
		request_wake(w->req);
}

/* Appends one event line; a watcher too far behind is ended instead. */
static void
append_line(struct watcher *w, const char *type, const char *obj_text, size_t len)
{
	if (w->ended)
		return;
	if (w->out.len - w->out_off + len > MAX_PENDING_BYTES) {
		w->ended = true;
		watcher_wake(w);
		return;
	}
	strbuf_puts(&w->out, "{\"type\":\"");
	strbuf_puts(&w->out, type);
	strbuf_puts(&w->out, "\",\"object\":");
	strbuf_append(&w->out, obj_text, len);
	strbuf_puts(&w->out, "}\n");
	if (w->out.oom)
		w->ended = true;
	watcher_wake(w);
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
	bool now = ev->type != CLIENT_EVENT_DELETED && selects(w, ev->obj);
	bool before = ev->type != CLIENT_EVENT_ADDED && selects(w, ev->prev);
	enum client_event_type type;
	if (now && before)
		type = CLIENT_EVENT_MODIFIED;
	else if (now)
		type = CLIENT_EVENT_ADDED;
	else if (before || (ev->type == CLIENT_EVENT_DELETED && selects(w, ev->obj)))
		type = CLIENT_EVENT_DELETED;
	else
		return;
	if (w->as == ACCEPT_OBJECT && !ev->text) {
		ev->text = json_dumps(ev->obj, JSON_COMPACT);
		ev->text_len = ev->text ? strlen(ev->text) : 0;
	}
	append_object(w, type, ev->obj, ev->text, ev->text_len);
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
	*slot = (struct hub_event){ .rev = rev,
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

int
watch_hub_new(struct server *srv, struct watch_hub **ret, korch_error **err)
{
	struct watch_hub *hub = calloc(1, sizeof(*hub));
	if (!hub || !(hub->caches = calloc(kind_registry_count, sizeof(*hub->caches)))) {
		free(hub);
		return error_oom(err);
	}
	hub->srv = srv;
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
	free(hub->caches);
	free(hub);
}

/* ---- watchers ---- */

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

void
watcher_free(struct watcher *w)
{
	if (!w)
		return;
	if (w->cache)
		remove_item(&w->cache->watchers, w);
	if (w->hub)
		remove_item(&w->hub->all, w);
	client_watch_free(w->own);
	label_selector_free(w->labels);
	field_selector_free(w->fields);
	strbuf_free(&w->out);
	free(w->ns);
	free(w);
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
	int r = client_list(w->hub->srv->client, w->kind, w->ns, &lo, &list, err);
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
	if (r->ns && r->kind->namespaced && !(w->ns = strdup(r->ns)))
		rc = error_oom(&e);
	if (rc == 0 && label_text && *label_text)
		rc = label_selector_parse(label_text, &w->labels, &e);
	if (rc == 0 && field_text && *field_text)
		rc = field_selector_parse(field_text, r->kind, &w->fields, &e);
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
		w->cache = kc;
		if (ptrvec_push(&kc->watchers, w) < 0)
			w->ended = true;
		return;
	}
	/* Older than the ring: a store-backed watch of its own, exactly from that revision. */
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%lld", (long long)from);
	struct client_watch_opts wo = { .label_selector = label_text,
					.field_selector = field_text,
					.resource_version = rvs };
	rc = client_watch(srv->client, r->kind, w->ns, &wo, on_own_event, w, &w->own, &e);
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

ssize_t
watch_read(struct request *req, char *buf, size_t max)
{
	struct watcher *w = req->watcher;
	if (req->peer_gone || !w)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t pending = w->out.len - w->out_off;
	if (pending) {
		size_t n = MIN(pending, max);
		memcpy(buf, w->out.buf + w->out_off, n);
		w->out_off += n;
		if (w->out_off == w->out.len) {
			if (w->out.cap > SHRINK_BYTES)
				strbuf_free(&w->out);
			else
				strbuf_truncate(&w->out, 0);
			w->out_off = 0;
		}
		return (ssize_t)n;
	}
	if (w->ended || req->srv->stopping)
		return MHD_CONTENT_READER_END_OF_STREAM;
	request_suspend(req);
	return 0;
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
