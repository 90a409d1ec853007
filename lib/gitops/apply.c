/*
 * apply.c - a commit's objects into the store in one lib/client transaction: a forced
 * server-side apply of each (field manager korch-gitops: the fields git sets are git's, the
 * others stay with whoever set them), deletes of what left git (only objects that still carry
 * the repository's labels), all committed or none. And the same worked out as a dry run, for
 * `korchctl gitops diff`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "gitops/gitops.h"

/* A transaction that failed at commit because something changed meanwhile is planned again. */
#define APPLY_ATTEMPTS 3
/* At most this many changed fields are listed per object by gitops_diff(). */
#define DIFF_MAX_CHANGES 100

void
gitops_apply_result_clear(struct gitops_apply_result *r)
{
	json_decref(r->changed);
	*r = (struct gitops_apply_result){ 0 };
}

/* "deployment.apps default/web", "namespace team": how an object is named in messages. */
static char *
display_name(const struct kind_info *k, const char *ns, const char *name)
{
	char *out = NULL;
	if (asprintf(&out, "%s%s%s %s%s%s", k->singular, *k->group ? "." : "", k->group,
		     k->namespaced ? ns : "", k->namespaced ? "/" : "", name) < 0)
		return NULL;
	return out;
}

/* Forced: fields git sets are taken back from whoever changed them. */
static const struct client_write_opts apply_opts = {
	.field_manager = GITOPS_FIELD_MANAGER,
	.validation = FIELD_VALIDATION_STRICT,
	.force = true,
};

/* Whether live carries the labels of repo (so korch made it from repo's git). */
static bool
owned_by(const json_t *live, const json_t *repo)
{
	const json_t *labels = json_object_get(json_object_get(live, "metadata"), "labels");
	const json_t *meta = json_object_get(repo, "metadata");
	return streq_null(json_string_value(json_object_get(labels, GITOPS_LABEL_NAME)),
			  json_string_value(json_object_get(meta, "name"))) &&
	       streq_null(json_string_value(json_object_get(labels, GITOPS_LABEL_NAMESPACE)),
			  json_string_value(json_object_get(meta, "namespace")));
}

/* One inventory entry that left git and may be pruned: *ret_k NULL when it is to be left. */
static int
prune_candidate(struct client *c, const json_t *repo, const struct gitops_desired *d,
		const json_t *entry, const struct kind_info **ret_k, korch_error **err)
{
	*ret_k = NULL;
	const char *av = json_string_value(json_object_get(entry, "apiVersion"));
	const char *kind = json_string_value(json_object_get(entry, "kind"));
	const char *ns = json_string_value(json_object_get(entry, "namespace"));
	const char *name = json_string_value(json_object_get(entry, "name"));
	const struct kind_info *k = kind_lookup(av, kind);
	if (!k || !name)
		return 0;
	_cleanup_free_ char *key = gitops_key(k, ns, name);
	if (!key)
		return error_oom(err);
	if (gitops_desired_find(d, key))
		return 0;
	_cleanup_json_ json_t *live = NULL;
	korch_error *e = NULL;
	int r = client_get(c, k, ns, name, &live, &e);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		return 0;
	}
	if (r < 0)
		return error_propagate(err, &e, r);
	/* Never touch what korch did not create from this repository, nor what is going. */
	if (!owned_by(live, repo) ||
	    json_object_get(json_object_get(live, "metadata"), "deletionTimestamp"))
		return 0;
	*ret_k = k;
	return 0;
}

/* Plans every write into t; the counts go to res. */
static int
plan(struct client *c, struct client_txn *t, const json_t *repo, const struct gitops_desired *d,
     const struct hashmap *only, const json_t *prev_inventory, bool prune,
     struct gitops_apply_result *res, korch_error **err)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct gitops_object *o = &d->objs[i];
		if (only && !hashmap_contains(only, o->key))
			continue;
		size_t before = client_txn_size(t);
		korch_error *e = NULL;
		int r = client_txn_apply(t, o->obj, &apply_opts, &e);
		if (r < 0) {
			korch_error_prefix(&e, r, "%s:%u", o->file, o->line);
			return error_propagate(err, &e, r);
		}
		if (client_txn_size(t) == before) {
			res->unchanged++;
			continue;
		}
		_cleanup_json_ json_t *live = NULL;
		r = client_get(c, o->kind, o->ns, o->name, &live, &e);
		korch_error_free(e);
		if (r == 0)
			res->configured++;
		else
			res->created++;
		char *shown = display_name(o->kind, o->ns, o->name);
		if (!shown || json_array_append_new(res->changed, json_string(shown)) < 0) {
			free(shown);
			return error_oom(err);
		}
		free(shown);
	}
	if (!prune || !prev_inventory)
		return 0;
	size_t i;
	json_t *entry;
	json_array_foreach (prev_inventory, i, entry) {
		const struct kind_info *k = NULL;
		int r = prune_candidate(c, repo, d, entry, &k, err);
		if (r < 0)
			return r;
		if (!k)
			continue;
		const char *ns = json_string_value(json_object_get(entry, "namespace"));
		const char *name = json_string_value(json_object_get(entry, "name"));
		korch_error *e = NULL;
		if ((r = client_txn_delete(t, k, ns, name, &e)) < 0) {
			korch_error_prefix(&e, r, "prune %s %s%s%s", k->kind, ns ? ns : "",
					   ns ? "/" : "", name);
			return error_propagate(err, &e, r);
		}
		res->pruned++;
	}
	return 0;
}

int
gitops_apply(struct client *c, const json_t *repo, const struct gitops_desired *d,
	     const struct hashmap *only, const json_t *prev_inventory, bool prune,
	     struct gitops_apply_result *ret, korch_error **err)
{
	for (int attempt = 1;; attempt++) {
		struct gitops_apply_result res = { .changed = json_array() };
		struct client_txn *t = NULL;
		if (!res.changed)
			return error_oom(err);
		int r = client_txn_new(c, &t, err);
		if (r == 0)
			r = plan(c, t, repo, d, only, prev_inventory, prune, &res, err);
		if (r < 0) {
			client_txn_free(t);
			gitops_apply_result_clear(&res);
			return r;
		}
		if (client_txn_size(t) == 0) {
			/* Nothing to write: nothing is written, the revision stays. */
			client_txn_free(t);
			*ret = res;
			return 0;
		}
		korch_error *e = NULL;
		r = client_txn_commit(t, &res.revision, &e);
		if (r == 0) {
			*ret = res;
			return 0;
		}
		gitops_apply_result_clear(&res);
		/* Something the plan read changed meanwhile: plan again against the new state. */
		bool raced = r == KORCH_ECONFLICT || r == KORCH_EEXISTS || r == KORCH_ENOTFOUND;
		if (!raced || attempt == APPLY_ATTEMPTS)
			return error_propagate(err, &e, r);
		korch_error_free(e);
	}
}

/* ---- diff ---- */

/* Appends path + key the way Kubernetes prints field paths (metadata.labels[app.kubernetes.io/x]). */
static void
path_key(struct strbuf *sb, const char *key)
{
	if (strpbrk(key, "./[]"))
		strbuf_printf(sb, "[%s]", key);
	else
		strbuf_printf(sb, "%s%s", sb->len ? "." : "", key);
}

static int
add_change(json_t *changes, const char *path, const json_t *old, const json_t *new_value)
{
	if (json_array_size(changes) >= DIFF_MAX_CHANGES)
		return 0;
	json_t *c = json_pack("{s:s}", "path", path);
	if (!c)
		return KORCH_ENOMEM;
	if (old)
		json_object_set(c, "old", (json_t *)old);
	if (new_value)
		json_object_set(c, "new", (json_t *)new_value);
	return json_array_append_new(changes, c) < 0 ? KORCH_ENOMEM : 0;
}

/* The leaves where old and new differ (lists of another length count as one change). */
static int
diff_values(struct strbuf *path, const json_t *old, const json_t *new_value, json_t *changes)
{
	if (old && new_value && json_equal(old, new_value))
		return 0;
	size_t len = path->len;
	int r = 0;
	if (json_is_object(old) && json_is_object(new_value)) {
		const char *key;
		json_t *v;
		json_object_foreach ((json_t *)old, key, v) {
			path_key(path, key);
			r = diff_values(path, v, json_object_get(new_value, key), changes);
			strbuf_truncate(path, len);
			if (r < 0)
				return r;
		}
		json_object_foreach ((json_t *)new_value, key, v) {
			if (json_object_get(old, key))
				continue;
			path_key(path, key);
			r = add_change(changes, strbuf_str(path), NULL, v);
			strbuf_truncate(path, len);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (json_is_array(old) && json_is_array(new_value) &&
	    json_array_size(old) == json_array_size(new_value)) {
		for (size_t i = 0; i < json_array_size(old); i++) {
			strbuf_printf(path, "[%zu]", i);
			r = diff_values(path, json_array_get(old, i), json_array_get(new_value, i),
					changes);
			strbuf_truncate(path, len);
			if (r < 0)
				return r;
		}
		return 0;
	}
	return add_change(changes, strbuf_str(path), old, new_value);
}

/* What the API maintains itself and a diff does not show. */
static json_t *
comparable(const json_t *obj)
{
	json_t *copy = json_deep_copy(obj);
	json_t *meta = json_object_get(copy, "metadata");
	static const char *const volatile_fields[] = { "managedFields", "resourceVersion",
						       "generation", "uid", "creationTimestamp" };
	for (size_t i = 0; i < ARRAY_SIZE(volatile_fields); i++)
		json_object_del(meta, volatile_fields[i]);
	json_object_del(copy, "status");
	return copy;
}

static int
diff_item(json_t *items, const char *action, const struct kind_info *k, const char *ns,
	  const char *name, const char *file, unsigned line, json_t *changes)
{
	char av[64];
	json_t *item = json_pack("{s:s, s:s, s:s}", "action", action, "apiVersion",
				 kind_api_version(k, av), "kind", k->kind);
	if (!item)
		return KORCH_ENOMEM;
	if (k->namespaced)
		json_object_set_new(item, "namespace", json_string(ns ? ns : ""));
	json_object_set_new(item, "name", json_string(name));
	if (file) {
		json_object_set_new(item, "file", json_string(file));
		json_object_set_new(item, "line", json_integer(line));
	}
	json_object_set_new(item, "changes", changes ? json_incref(changes) : json_array());
	return json_array_append_new(items, item) < 0 ? KORCH_ENOMEM : 0;
}

/* What applying o would change: ret_action "create", "configure" or NULL (nothing). */
static int
diff_object(struct client *c, const struct gitops_object *o, struct hashmap *new_namespaces,
	    const char **ret_action, json_t **ret_changes, korch_error **err)
{
	_cleanup_json_ json_t *live = NULL, *would = NULL;
	korch_error *e = NULL;
	int r = client_get(c, o->kind, o->ns, o->name, &live, &e);
	if (r < 0 && r != KORCH_ENOTFOUND)
		return error_propagate(err, &e, r);
	korch_error_free(steal_pointer(&e));
	struct client_write_opts wo = apply_opts;
	wo.dry_run = true;
	wo.txn_namespaces = new_namespaces;
	if ((r = client_apply(c, o->obj, &wo, &would, &e)) < 0) {
		korch_error_prefix(&e, r, "%s:%u", o->file, o->line);
		return error_propagate(err, &e, r);
	}
	if (!live) {
		if (streq(o->kind->kind, "Namespace") &&
		    hashmap_put(new_namespaces, o->name, NULL, NULL) < 0)
			return error_oom(err);
		*ret_action = "create";
		*ret_changes = NULL;
		return 0;
	}
	_cleanup_json_ json_t *a = comparable(live), *b = comparable(would);
	json_t *changes = json_array();
	struct strbuf path = STRBUF_INIT;
	r = a && b && changes ? diff_values(&path, a, b, changes) : KORCH_ENOMEM;
	strbuf_free(&path);
	if (r < 0) {
		json_decref(changes);
		return error_oom(err);
	}
	*ret_action = json_array_size(changes) ? "configure" : NULL;
	if (*ret_action)
		*ret_changes = changes;
	else
		json_decref(changes);
	return 0;
}

int
gitops_diff(struct client *c, const json_t *repo, const struct gitops_desired *d,
	    const json_t *prev_inventory, json_t **ret, size_t *ret_unchanged, korch_error **err)
{
	_cleanup_json_ json_t *items = json_array();
	struct hashmap new_namespaces = HASHMAP_INIT;
	size_t unchanged = 0;
	int r = items ? 0 : error_oom(err);
	for (size_t i = 0; i < d->n && r == 0; i++) {
		const struct gitops_object *o = &d->objs[i];
		const char *action = NULL;
		json_t *changes = NULL;
		r = diff_object(c, o, &new_namespaces, &action, &changes, err);
		if (r == 0 && !action)
			unchanged++;
		else if (r == 0 && diff_item(items, action, o->kind, o->ns, o->name, o->file,
					     o->line, changes) < 0)
			r = error_oom(err);
		json_decref(changes);
	}
	hashmap_free(&new_namespaces, NULL);
	bool prune = !json_is_false(json_object_get(json_object_get(repo, "spec"), "prune"));
	size_t i;
	json_t *entry;
	json_array_foreach (prune &&r == 0 ? prev_inventory : NULL, i, entry) {
		const struct kind_info *k = NULL;
		if ((r = prune_candidate(c, repo, d, entry, &k, err)) < 0)
			break;
		if (k && diff_item(items, "prune", k,
				   json_string_value(json_object_get(entry, "namespace")),
				   json_string_value(json_object_get(entry, "name")), NULL, 0,
				   NULL) < 0) {
			r = error_oom(err);
			break;
		}
	}
	if (r < 0)
		return r;
	*ret = steal_pointer(&items);
	*ret_unchanged = unchanged;
	return 0;
}
