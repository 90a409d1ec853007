/*
 * public.c - korch_client: the public client over a state file, a thin layer over lib/client.
 */
#include <stdlib.h>
#include <string.h>

#include <korch/client.h>
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "base/loop.h"
#include "client/client-internal.h"
#include "client/remote.h"

struct korch_client {
	struct store *store;   /* the state file, or NULL when remote */
	struct client *client; /* the write path over it */
	struct remote *remote; /* or a korchd over HTTP */
	bool borrowed;         /* store and client belong to someone else (client_public_wrap) */
};

static inline json_t *
J(const korch_object *o)
{
	return (json_t *)o;
}

int
client_ensure_system_namespaces(struct client *c, korch_error **err)
{
	static const char *const names[] = { "default", "kube-system", "kube-public",
					     "kube-node-lease" };
	const struct kind_info *k = kind_lookup("v1", "Namespace");
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_json_ json_t *ns =
			json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
				  "metadata", "name", names[i]);
		korch_error *e = NULL;
		json_t *existing = NULL;
		int r = client_get(c, k, NULL, names[i], &existing, &e);
		json_decref(existing);
		korch_error_free(e);
		if (r == 0)
			continue;
		struct client_write_opts o = { .field_manager = "korch" };
		e = NULL;
		r = client_create(c, ns, &o, NULL, &e);
		if (r < 0 && r != KORCH_EEXISTS)
			return error_propagate(err, &e, r);
		korch_error_free(e);
	}
	return 0;
}

KORCH_EXPORT int
korch_client_open_state(const char *path, const korch_client_options *opts, korch_client **ret,
			korch_error **err)
{
	if (opts && opts->version != KORCH_CLIENT_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_client_options version %u is not %u",
				 opts->version, KORCH_CLIENT_OPTIONS_VERSION);
	korch_client *kc = calloc(1, sizeof(*kc));
	if (!kc)
		return error_oom(err);
	struct store_options so = { .sync_normal = opts && opts->sync_normal };
	int r = store_open(path, &so, &kc->store, err);
	if (r < 0) {
		free(kc);
		return korch_error_prefix(err, r, "open state %s", path);
	}
	if ((r = client_new_local(kc->store, NULL, &kc->client, err)) < 0 ||
	    (r = client_ensure_system_namespaces(kc->client, err)) < 0) {
		korch_client_free(kc);
		return r;
	}
	*ret = kc;
	return 0;
}

KORCH_EXPORT int
korch_client_connect(const char *target, const korch_connect_options *opts, korch_client **ret,
		     korch_error **err)
{
	korch_client *kc = calloc(1, sizeof(*kc));
	if (!kc)
		return error_oom(err);
	int r = remote_open(target, opts, &kc->remote, err);
	if (r < 0) {
		free(kc);
		return r;
	}
	*ret = kc;
	return 0;
}

KORCH_EXPORT bool
korch_client_is_remote(const korch_client *c)
{
	return c->remote != NULL;
}

struct client *
client_of_public(struct korch_client *kc)
{
	return kc ? kc->client : NULL;
}

struct remote *
client_remote_of_public(struct korch_client *kc)
{
	return kc ? kc->remote : NULL;
}

int
client_public_wrap(struct store *store, struct client *client, struct korch_client **ret,
		   korch_error **err)
{
	korch_client *kc = calloc(1, sizeof(*kc));
	if (!kc)
		return error_oom(err);
	*kc = (korch_client){ .store = store, .client = client, .borrowed = true };
	*ret = kc;
	return 0;
}

KORCH_EXPORT void
korch_client_free(korch_client *c)
{
	if (!c)
		return;
	remote_free(c->remote);
	if (!c->borrowed) {
		client_free(c->client);
		store_close(c->store);
	}
	free(c);
}

static int
resource(const char *name, const struct kind_info **ret, korch_error **err)
{
	const struct kind_info *k = name ? kind_lookup_resource(name) : NULL;
	if (!k)
		return error_set(err, KORCH_ENOTFOUND,
				 "the server doesn't have a resource type \"%s\"",
				 name ? name : "");
	*ret = k;
	return 0;
}

static void
write_opts(const korch_write_options *in, struct client_write_opts *out)
{
	*out = (struct client_write_opts){ 0 };
	if (!in)
		return;
	out->field_manager = in->field_manager;
	out->validation = (enum field_validation)in->field_validation;
	out->dry_run = in->dry_run;
	out->force = in->force;
}

static int
check_version(const korch_write_options *o, korch_error **err)
{
	if (o && o->version != KORCH_WRITE_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_write_options version %u is not %u",
				 o->version, KORCH_WRITE_OPTIONS_VERSION);
	return 0;
}

KORCH_EXPORT int
korch_client_get(korch_client *c, const char *res, const char *ns, const char *name,
		 korch_object **ret, korch_error **err)
{
	const struct kind_info *k = NULL;
	int r = resource(res, &k, err);
	if (r < 0)
		return r;
	json_t *obj = NULL;
	if (c->remote)
		r = rc_get(c->remote, k, ns, name, &obj, err);
	else
		r = client_get(c->client, k, ns, name, &obj, err);
	if (r < 0)
		return r;
	*ret = (korch_object *)obj;
	return 0;
}

KORCH_EXPORT int
korch_client_list(korch_client *c, const char *res, const char *ns, const korch_list_options *opts,
		  korch_object **ret, korch_error **err)
{
	const struct kind_info *k = NULL;
	int r = resource(res, &k, err);
	if (r < 0)
		return r;
	if (opts && opts->version != KORCH_LIST_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_list_options version %u is not %u",
				 opts->version, KORCH_LIST_OPTIONS_VERSION);
	json_t *list = NULL;
	if (c->remote) {
		if ((r = rc_list(c->remote, k, ns, opts, &list, err)) < 0)
			return r;
		*ret = (korch_object *)list;
		return 0;
	}
	struct client_list_opts lo = { 0 };
	if (opts) {
		lo.label_selector = opts->label_selector;
		lo.field_selector = opts->field_selector;
		lo.limit = opts->limit;
		lo.continue_token = opts->continue_token;
	}
	if ((r = client_list(c->client, k, ns, &lo, &list, err)) < 0)
		return r;
	*ret = (korch_object *)list;
	return 0;
}

/* A namespaced object without a namespace goes to "default", as kubectl sends it. */
static json_t *
with_namespace(const korch_object *obj)
{
	json_t *copy = json_deep_copy(J(obj));
	const struct kind_info *k = NULL;
	if (copy && kind_resolve_object(copy, &k, NULL) == 0 && k->namespaced) {
		json_t *meta = json_object_get(copy, "metadata");
		if (json_is_object(meta) && !json_string_value(json_object_get(meta, "namespace")))
			json_object_set_new(meta, "namespace", json_string("default"));
	}
	return copy;
}

KORCH_EXPORT int
korch_client_apply(korch_client *c, const korch_object *obj, const korch_write_options *opts,
		   korch_object **ret, int *ret_result, korch_error **err)
{
	int r = check_version(opts, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *cfg = with_namespace(obj);
	if (!cfg)
		return error_oom(err);
	const struct kind_info *k = NULL;
	if ((r = kind_resolve_object(cfg, &k, err)) < 0)
		return r;
	if (c->remote) {
		json_t *out = NULL;
		if ((r = rc_apply(c->remote, cfg, opts, ret ? &out : NULL, ret_result, err)) < 0)
			return r;
		if (ret)
			*ret = (korch_object *)out;
		return 0;
	}
	json_t *meta = json_object_get(cfg, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	/* What was there before tells created, configured or unchanged apart. */
	json_t *before = NULL;
	const char *before_rv = NULL;
	if (name && client_get(c->client, k, ns, name, &before, NULL) == 0)
		before_rv = json_string_value(
			json_object_get(json_object_get(before, "metadata"), "resourceVersion"));
	struct client_write_opts wo;
	write_opts(opts, &wo);
	json_t *after = NULL;
	r = client_apply(c->client, cfg, &wo, &after, err);
	if (r == 0) {
		const char *after_rv = json_string_value(
			json_object_get(json_object_get(after, "metadata"), "resourceVersion"));
		if (ret_result)
			*ret_result = !before                      ? KORCH_WRITE_CREATED
				      : streq(before_rv, after_rv) ? KORCH_WRITE_UNCHANGED
								   : KORCH_WRITE_CONFIGURED;
		if (ret)
			*ret = (korch_object *)json_incref(after);
	}
	json_decref(before);
	json_decref(after);
	return r;
}

KORCH_EXPORT int
korch_client_create(korch_client *c, const korch_object *obj, const korch_write_options *opts,
		    korch_object **ret, korch_error **err)
{
	int r = check_version(opts, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *copy = with_namespace(obj);
	if (!copy)
		return error_oom(err);
	if (c->remote)
		return rc_create(c->remote, copy, opts, (json_t **)ret, err);
	struct client_write_opts wo;
	write_opts(opts, &wo);
	return client_create(c->client, copy, &wo, (json_t **)ret, err);
}

KORCH_EXPORT int
korch_client_update(korch_client *c, const korch_object *obj, const char *subresource,
		    const korch_write_options *opts, korch_object **ret, korch_error **err)
{
	int r = check_version(opts, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *copy = with_namespace(obj);
	if (!copy)
		return error_oom(err);
	if (c->remote)
		return rc_update(c->remote, copy, subresource, opts, (json_t **)ret, err);
	struct client_write_opts wo;
	write_opts(opts, &wo);
	return client_update(c->client, copy, subresource, &wo, (json_t **)ret, err);
}

KORCH_EXPORT int
korch_client_patch(korch_client *c, const char *res, const char *ns, const char *name,
		   int patch_type, const korch_object *patch, const korch_write_options *opts,
		   korch_object **ret, korch_error **err)
{
	const struct kind_info *k = NULL;
	int r = check_version(opts, err);
	if (r == 0)
		r = resource(res, &k, err);
	if (r < 0)
		return r;
	if (patch_type < KORCH_PATCH_MERGE || patch_type > KORCH_PATCH_APPLY)
		return error_set(err, KORCH_EINVALID, "unknown patch type %d", patch_type);
	if (c->remote)
		return rc_patch(c->remote, k, ns, name, patch_type, J(patch), opts, (json_t **)ret,
				err);
	struct client_write_opts wo;
	write_opts(opts, &wo);
	return client_patch(c->client, k, ns, name, (enum client_patch_type)patch_type, J(patch),
			    NULL, &wo, (json_t **)ret, err);
}

KORCH_EXPORT int
korch_client_delete(korch_client *c, const char *res, const char *ns, const char *name,
		    const korch_delete_options *opts, korch_object **ret, korch_error **err)
{
	const struct kind_info *k = NULL;
	int r = resource(res, &k, err);
	if (r < 0)
		return r;
	if (opts && opts->version != KORCH_DELETE_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_delete_options version %u is not %u",
				 opts->version, KORCH_DELETE_OPTIONS_VERSION);
	if (c->remote)
		return rc_delete(c->remote, k, ns, name, opts, (json_t **)ret, err);
	struct client_delete_opts d = { .grace_period_s = -1 };
	if (opts) {
		d.grace_period_s = opts->grace_period_s;
		d.propagation = (enum client_propagation)opts->propagation;
		d.dry_run = opts->dry_run;
	}
	return client_delete(c->client, k, ns, name, &d, (json_t **)ret, err);
}

KORCH_EXPORT int
korch_client_backup(korch_client *c, const char *dest_path, korch_error **err)
{
	if (c->remote)
		return error_set(err, KORCH_EUNSUPPORTED,
				 "a backup copies the state file: run it where the file is "
				 "(korchctl --state FILE state backup)");
	return store_backup(c->store, dest_path, err);
}

/* ---- watch, logs, exec, raw requests ---- */

struct local_watch {
	korch_watch_fn fn;  /* the caller's */
	void *userdata;     /* for fn */
	korch_loop *loop;   /* quit when done */
	bool stop;          /* fn asked to stop */
	korch_error *error; /* the watch ended with this */
};

static void
on_local_event(struct client_watch *w, enum client_event_type type, const json_t *obj,
	       void *userdata)
{
	struct local_watch *lw = userdata;
	if (lw->stop || lw->error)
		return;
	if (type == CLIENT_EVENT_ERROR) {
		int64_t code = json_integer_value(json_object_get(obj, "code"));
		error_set(&lw->error, code == 410 ? KORCH_EGONE : KORCH_ESYSTEM, "%s",
			  json_string_value(json_object_get(obj, "message")) ?: "watch failed");
	} else {
		int ev = type == CLIENT_EVENT_ADDED      ? KORCH_WATCH_ADDED
			 : type == CLIENT_EVENT_MODIFIED ? KORCH_WATCH_MODIFIED
							 : KORCH_WATCH_DELETED;
		lw->stop = lw->fn(ev, (korch_object *)obj, lw->userdata) != 0;
	}
	if (lw->stop || lw->error)
		korch_loop_quit(lw->loop);
}

/*
 * A watch of the state file: a handle of its own on a loop of its own (the client's handle has
 * no loop), dispatched here until the caller stops it or the time is up.
 */
static int
local_watch(korch_client *c, const struct kind_info *k, const char *ns,
	    const korch_watch_options *o, korch_watch_fn fn, void *userdata, korch_error **err)
{
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	struct store *st = NULL;
	struct client *cl = NULL;
	struct client_watch *w = NULL;
	struct local_watch lw = { .fn = fn, .userdata = userdata };
	int r = korch_clock_new_real(&clock, err);
	if (r == 0)
		r = korch_loop_new(clock, &loop, err);
	if (r == 0) {
		lw.loop = loop;
		struct store_options so = { .loop = loop };
		r = store_open(store_path(c->store), &so, &st, err);
	}
	if (r == 0)
		r = client_new_local(st, clock, &cl, err);
	if (r == 0) {
		struct client_watch_opts wo = {
			.label_selector = o ? o->label_selector : NULL,
			.field_selector = o ? o->field_selector : NULL,
			.resource_version = o ? o->resource_version : NULL,
		};
		r = client_watch(cl, k, ns, &wo, on_local_event, &lw, &w, err);
	}
	int64_t deadline = o && o->timeout_s > 0
				   ? korch_clock_now_ns(clock) + o->timeout_s * NSEC_PER_SEC
				   : -1;
	while (r == 0 && !lw.stop && !lw.error) {
		int timeout = -1;
		if (deadline >= 0) {
			int64_t left = deadline - korch_clock_now_ns(clock);
			if (left <= 0)
				break;
			timeout = (int)(left / NSEC_PER_MSEC) + 1;
		}
		r = korch_loop_dispatch(loop, timeout, err);
		if (r > 0)
			r = 0;
	}
	if (r == 0 && lw.error)
		r = error_propagate(err, &lw.error, korch_error_code(lw.error));
	korch_error_free(lw.error);
	client_watch_free(w);
	client_free(cl);
	store_close(st);
	korch_loop_free(loop);
	korch_clock_free(clock);
	return r;
}

KORCH_EXPORT int
korch_client_watch(korch_client *c, const char *res, const char *ns,
		   const korch_watch_options *opts, korch_watch_fn fn, void *userdata,
		   korch_error **err)
{
	const struct kind_info *k = NULL;
	int r = resource(res, &k, err);
	if (r < 0)
		return r;
	if (opts && opts->version != KORCH_WATCH_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_watch_options version %u is not %u",
				 opts->version, KORCH_WATCH_OPTIONS_VERSION);
	if (!fn)
		return error_set(err, KORCH_EINVALID, "a watch needs a callback");
	if (c->remote)
		return rc_watch(c->remote, k, ns, opts, fn, userdata, err);
	return local_watch(c, k, ns, opts, fn, userdata, err);
}

KORCH_EXPORT int
korch_client_request(korch_client *c, const char *method, const char *path,
		     const korch_object *body, korch_object **ret, korch_error **err)
{
	if (!c->remote)
		return error_set(err, KORCH_EUNSUPPORTED,
				 "raw API requests need korchd (korch_client_connect)");
	if (!method || !path || path[0] != '/')
		return error_set(err, KORCH_EINVALID, "a request needs a method and a path from /");
	return remote_call(c->remote, method, path, NULL, J(body), NULL, (json_t **)ret, err);
}

KORCH_EXPORT int
korch_state_restore(const char *path, const char *backup_path, korch_error **err)
{
	return store_restore(path, backup_path, NULL, err);
}
