/*
 * public.c - korch_client: the public client over a state file, a thin layer over lib/client.
 */
#include <stdlib.h>
#include <string.h>

#include <korch/client.h>
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "client/client-internal.h"

struct korch_client {
	struct store *store;   /* the state file */
	struct client *client; /* the write path over it */
	bool borrowed;         /* store and client belong to someone else (client_public_wrap) */
};

static inline json_t *
J(const korch_object *o)
{
	return (json_t *)o;
}

/* The namespaces every korch state has, as Kubernetes creates them. */
static int
ensure_namespaces(struct client *c, korch_error **err)
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
	    (r = ensure_namespaces(kc->client, err)) < 0) {
		korch_client_free(kc);
		return r;
	}
	*ret = kc;
	return 0;
}

struct client *
client_of_public(struct korch_client *kc)
{
	return kc ? kc->client : NULL;
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
	if ((r = client_get(c->client, k, ns, name, &obj, err)) < 0)
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
	struct client_list_opts lo = { 0 };
	if (opts) {
		lo.label_selector = opts->label_selector;
		lo.field_selector = opts->field_selector;
		lo.limit = opts->limit;
		lo.continue_token = opts->continue_token;
	}
	json_t *list = NULL;
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
	return store_backup(c->store, dest_path, err);
}

KORCH_EXPORT int
korch_state_restore(const char *path, const char *backup_path, korch_error **err)
{
	return store_restore(path, backup_path, NULL, err);
}
