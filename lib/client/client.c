/*
 * client.c - the in-process client: reads (get, list with selectors) and watches over the store.
 * The writes are in write.c, transactions in txn.c.
 */
#include <stdio.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "base/error.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/util.h"
#include "client/client-internal.h"

int
client_new_local(struct store *store, korch_clock *clock, struct client **ret, korch_error **err)
{
	struct client *c = calloc(1, sizeof(*c));
	if (!c)
		return error_oom(err);
	c->store = store;
	c->clock = clock;
	client_service_ranges_default(&c->ranges);
	if (!clock) {
		int r = korch_clock_new_real(&c->own_clock, err);
		if (r < 0) {
			free(c);
			return r;
		}
		c->clock = c->own_clock;
	}
	*ret = c;
	return 0;
}

void
client_set_seed(struct client *c, uint64_t seed)
{
	rng_seed(&c->rng, seed);
	c->seeded = true;
}

void
client_random(struct client *c, void *buf, size_t len)
{
	if (c->seeded) {
		rng_fill(&c->rng, buf, len);
		return;
	}
	/* getrandom(2) without flags blocks only before the pool is initialised at boot. */
	unsigned char *p = buf;
	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n <= 0) {
			/* Not for secrets: a weak fallback beats failing a write. */
			for (size_t i = 0; i < len; i++)
				p[i] = (unsigned char)rand();
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

void
client_free(struct client *c)
{
	if (!c)
		return;
	korch_clock_free(c->own_clock);
	free(c);
}

struct store *
client_store(struct client *c)
{
	return c->store;
}

void
client_key(const struct kind_info *k, const char *ns, const char *name, struct store_key *key)
{
	key->group = k->group;
	key->resource = k->plural;
	key->ns = k->namespaced && ns ? ns : "";
	key->name = name;
}

/* Objects are stored as written, with apiVersion and kind; make sure of both anyway. */
void
client_set_type(json_t *obj, const struct kind_info *k)
{
	char buf[64];
	if (!json_is_string(json_object_get(obj, "apiVersion")))
		json_object_set_new(obj, "apiVersion", json_string(kind_api_version(k, buf)));
	if (!json_is_string(json_object_get(obj, "kind")))
		json_object_set_new(obj, "kind", json_string(k->kind));
}

int
client_get(struct client *c, const struct kind_info *k, const char *ns, const char *name,
	   json_t **ret, korch_error **err)
{
	if (k->namespaced && (!ns || !*ns))
		return error_set(err, KORCH_EINVALID, "a namespace is required to get %s",
				 k->plural);
	struct store_key key;
	client_key(k, ns, name, &key);
	json_t *obj = NULL;
	int r = store_get(c->store, &key, &obj, NULL, err);
	if (r < 0)
		return r;
	client_set_type(obj, k);
	*ret = obj;
	return 0;
}

int
client_get_text(struct client *c, const struct kind_info *k, const char *ns, const char *name,
		char **ret_text, size_t *ret_len, korch_error **err)
{
	if (k->namespaced && (!ns || !*ns))
		return error_set(err, KORCH_EINVALID, "a namespace is required to get %s",
				 k->plural);
	struct store_key key;
	client_key(k, ns, name, &key);
	return store_get_text(c->store, &key, ret_text, ret_len, NULL, err);
}

/* ---- selectors ---- */

void
client_selectors_free(struct client_selectors *s)
{
	label_selector_free(s->labels);
	field_selector_free(s->fields);
	free(s->index);
	*s = (struct client_selectors){ 0 };
}

int
client_selectors_parse(const struct kind_info *k, const char *label_text, const char *field_text,
		       struct client_selectors *ret, korch_error **err)
{
	struct client_selectors s = { 0 };
	int r = 0;
	if (label_text && *label_text)
		r = label_selector_parse(label_text, &s.labels, err);
	if (r == 0 && field_text && *field_text)
		r = field_selector_parse(field_text, k, &s.fields, err);
	if (r < 0) {
		client_selectors_free(&s);
		return r;
	}
	/* The equality requirements go to the store's label index; the filter checks the rest. */
	size_t n = s.labels ? label_selector_count(s.labels) : 0;
	if (n && !(s.index = calloc(n, sizeof(*s.index)))) {
		client_selectors_free(&s);
		return error_oom(err);
	}
	size_t covered = 0;
	for (size_t i = 0; i < n; i++) {
		const struct label_requirement *req = label_selector_requirement(s.labels, i);
		const char *value = label_selector_exact_value(s.labels, req->key);
		if (value && (req->op == LABEL_OP_EQUALS || req->op == LABEL_OP_DOUBLE_EQUALS ||
			      (req->op == LABEL_OP_IN && req->n_values == 1))) {
			s.index[s.n_index++] = (struct store_label){ req->key, value };
			/* "a=1,a=2" puts a=1 in the index twice: the filter must see a=2. */
			covered += req->n_values == 1 && streq(req->values[0], value);
		}
	}
	s.labels_indexed = covered == n;
	*ret = s;
	return 0;
}

bool
client_selectors_match(const struct client_selectors *s, const json_t *obj)
{
	if (!obj)
		return false;
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	if (s->labels && !label_selector_matches(s->labels, labels))
		return false;
	if (s->fields && !field_selector_matches(s->fields, obj))
		return false;
	return true;
}

/* The label requirements the index does not answer, on the labels alone. */
static bool
list_label_filter(const json_t *labels, void *userdata)
{
	const struct client_selectors *s = userdata;
	return label_selector_matches(s->labels, labels);
}

static bool
list_field_filter(const json_t *obj, void *userdata)
{
	const struct client_selectors *s = userdata;
	return field_selector_matches(s->fields, obj);
}

/* "PodList", "v1": the list type of a kind. */
static json_t *
list_object(const struct kind_info *k, json_t *items, int64_t revision, const char *cont)
{
	char api_version[64], kind[96], rv[32];
	snprintf(kind, sizeof(kind), "%sList", k->kind);
	snprintf(rv, sizeof(rv), "%lld", (long long)revision);
	json_t *meta = json_pack("{s:s}", "resourceVersion", rv);
	if (meta && cont)
		json_object_set_new(meta, "continue", json_string(cont));
	return json_pack("{s:s, s:s, s:o, s:o}", "kind", kind, "apiVersion",
			 kind_api_version(k, api_version), "metadata", meta, "items", items);
}

int
client_list(struct client *c, const struct kind_info *k, const char *ns,
	    const struct client_list_opts *opts, json_t **ret, korch_error **err)
{
	static const struct client_list_opts none = { 0 };
	if (!opts)
		opts = &none;
	struct client_selectors sel;
	int r = client_selectors_parse(k, opts->label_selector, opts->field_selector, &sel, err);
	if (r < 0)
		return r;
	struct store_list_options lo = {
		.group = k->group,
		.resource = k->plural,
		.ns = k->namespaced && ns && *ns ? ns : NULL,
		.labels = sel.index,
		.n_labels = sel.n_index,
		.label_filter = sel.labels && !sel.labels_indexed ? list_label_filter : NULL,
		.filter = sel.fields ? list_field_filter : NULL,
		.filter_userdata = &sel,
		.limit = opts->limit,
		.continue_token =
			opts->continue_token && *opts->continue_token ? opts->continue_token : NULL,
		.text_items = opts->text_items,
		.text_out = opts->text_out,
	};
	struct store_list l = { 0 };
	r = store_list(c->store, &lo, &l, err);
	client_selectors_free(&sel);
	if (r < 0)
		return r;
	size_t i;
	json_t *item;
	if (!opts->text_items && !opts->text_out)
		json_array_foreach (l.items, i, item)
			client_set_type(item, k);
	json_t *list = list_object(k, json_incref(l.items), l.revision, l.continue_token);
	store_list_clear(&l);
	if (!list)
		return error_oom(err);
	*ret = list;
	return 0;
}

/* ---- watch ---- */

struct client_watch {
	struct client *client;           /* borrowed */
	const struct kind_info *kind;    /* what is watched */
	struct client_selectors sel;     /* which objects */
	struct store_watch *sw;          /* the store's watch */
	client_watch_fn fn;              /* the caller's callback */
	client_change_fn change_fn;      /* or this one: raw changes with their previous state */
	void *userdata;                  /* for fn */
	json_t *initial;                 /* synthetic ADDED events still to send */
	struct loop_source *initial_src; /* sends them on the loop */
};

/* A Status object for a watch that ended, as kube-apiserver sends it in an ERROR event. */
static json_t *
watch_status(const korch_error *e)
{
	int code = korch_error_code(e);
	int http = code == KORCH_EGONE ? 410 : 500;
	return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion",
			 "v1", "metadata", "status", "Failure", "message", korch_error_message(e),
			 "reason", code == KORCH_EGONE ? "Expired" : "InternalError", "code", http);
}

static void send_initial(struct loop_source *src, void *userdata);

static void
on_store_events(struct store_watch *sw, const struct store_event *events, size_t n,
		const korch_error *error, void *userdata)
{
	struct client_watch *w = userdata;
	/* The synthetic ADDED events of the initial state always come first. */
	if (w->initial)
		send_initial(NULL, w);
	if (error) {
		_cleanup_json_ json_t *status = watch_status(error);
		if (w->change_fn)
			w->change_fn(w, CLIENT_EVENT_ERROR, status, NULL, w->userdata);
		else
			w->fn(w, CLIENT_EVENT_ERROR, status, w->userdata);
		return;
	}
	if (w->change_fn) {
		for (size_t i = 0; i < n; i++) {
			const struct store_event *ev = &events[i];
			enum client_event_type type =
				ev->type == STORE_EVENT_ADDED      ? CLIENT_EVENT_ADDED
				: ev->type == STORE_EVENT_MODIFIED ? CLIENT_EVENT_MODIFIED
								   : CLIENT_EVENT_DELETED;
			client_set_type(ev->object, w->kind);
			/* The callback must not free the watch but for an ERROR event. */
			w->change_fn(w, type, ev->object, ev->prev_object, w->userdata);
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_event *ev = &events[i];
		bool now = ev->type != STORE_EVENT_DELETED &&
			   client_selectors_match(&w->sel, ev->object);
		bool before = ev->type != STORE_EVENT_ADDED &&
			      client_selectors_match(&w->sel, ev->prev_object);
		enum client_event_type type;
		if (now && before)
			type = CLIENT_EVENT_MODIFIED;
		else if (now)
			type = CLIENT_EVENT_ADDED;
		else if (before || (ev->type == STORE_EVENT_DELETED &&
				    client_selectors_match(&w->sel, ev->object)))
			type = CLIENT_EVENT_DELETED;
		else
			continue;
		client_set_type(ev->object, w->kind);
		w->fn(w, type, ev->object, w->userdata);
	}
}

static void
send_initial(struct loop_source *src, void *userdata)
{
	struct client_watch *w = userdata;
	_cleanup_json_ json_t *items = steal_pointer(&w->initial);
	size_t i;
	json_t *item;
	json_array_foreach (items, i, item)
		w->fn(w, CLIENT_EVENT_ADDED, item, w->userdata);
}

int
client_watch(struct client *c, const struct kind_info *k, const char *ns,
	     const struct client_watch_opts *opts, client_watch_fn fn, void *userdata,
	     struct client_watch **ret, korch_error **err)
{
	static const struct client_watch_opts none = { 0 };
	if (!opts)
		opts = &none;
	struct client_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return error_oom(err);
	w->client = c;
	w->kind = k;
	w->fn = fn;
	w->userdata = userdata;
	int r = client_selectors_parse(k, opts->label_selector, opts->field_selector, &w->sel, err);
	if (r < 0) {
		free(w);
		return r;
	}
	const char *rv = opts->resource_version;
	int64_t from = STORE_REVISION_NOW;
	if (rv && *rv && strcmp(rv, "0") != 0) {
		if (parse_int64(rv, &from) < 0 || from < 0) {
			r = error_set(err, KORCH_EINVALID, "invalid resource version: %s", rv);
			goto fail;
		}
	} else {
		/* No version: the current state as synthetic ADDED events, then the changes. */
		json_t *list = NULL;
		r = client_list(
			c, k, ns,
			&(struct client_list_opts){ .label_selector = opts->label_selector,
						    .field_selector = opts->field_selector },
			&list, err);
		if (r < 0)
			goto fail;
		w->initial = json_incref(json_object_get(list, "items"));
		parse_int64(json_string_value(json_object_get(json_object_get(list, "metadata"),
							      "resourceVersion")),
			    &from);
		json_decref(list);
	}
	struct store_watch_options wo = {
		.group = k->group,
		.resource = k->plural,
		.ns = k->namespaced && ns && *ns ? ns : NULL,
		.from_revision = from,
	};
	r = store_watch_new(c->store, &wo, on_store_events, w, &w->sw, err);
	if (r < 0)
		goto fail;
	if (w->initial && json_array_size(w->initial)) {
		korch_loop *loop = store_loop(c->store);
		if (!loop || (r = loop_add_defer(loop, send_initial, w, &w->initial_src, err)) < 0)
			goto fail;
	}
	*ret = w;
	return 0;
fail:
	client_watch_free(w);
	return r < 0 ? r : KORCH_EINVALID;
}

int
client_watch_changes(struct client *c, const struct kind_info *k, int64_t from_revision,
		     client_change_fn fn, void *userdata, struct client_watch **ret,
		     korch_error **err)
{
	struct client_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return error_oom(err);
	w->client = c;
	w->kind = k;
	w->change_fn = fn;
	w->userdata = userdata;
	struct store_watch_options wo = {
		.group = k->group,
		.resource = k->plural,
		.from_revision = from_revision,
	};
	int r = store_watch_new(c->store, &wo, on_store_events, w, &w->sw, err);
	if (r < 0) {
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

void
client_watch_free(struct client_watch *w)
{
	if (!w)
		return;
	store_watch_free(w->sw);
	loop_source_free(w->initial_src);
	json_decref(w->initial);
	client_selectors_free(&w->sel);
	free(w);
}
