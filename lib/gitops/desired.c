/*
 * desired.c - from a commit's manifests to the objects a sync applies: each document checked
 * (an object of a known kind with a name), put in its namespace, labelled with the repository
 * that owns it, and indexed by key so that the same object twice is an error naming both
 * places. Namespaces go first, so that the objects in them are admitted in the same
 * transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "base/vec.h"
#include "gitops/gitops.h"
#include "store/store.h"

char *
gitops_key(const struct kind_info *k, const char *ns, const char *name)
{
	char *key = NULL;
	if (asprintf(&key, "%s/%s/%s/%s", k->group, k->kind, k->namespaced && ns ? ns : "", name) <
	    0)
		return NULL;
	return key;
}

static void
object_clear(struct gitops_object *o)
{
	free(o->key);
	free(o->ns);
	free(o->name);
	free(o->file);
	json_decref(o->obj);
	*o = (struct gitops_object){ 0 };
}

/* A copy of an object built before (its configuration shared: never changed once built). */
static int
share_object(const struct gitops_object *from, struct gitops_object *ret)
{
	struct gitops_object o = *from;
	o.key = strdup(from->key);
	o.ns = strdup(from->ns);
	o.name = strdup(from->name);
	o.file = strdup(from->file);
	o.obj = json_incref(from->obj);
	if (!o.key || !o.ns || !o.name || !o.file) {
		object_clear(&o);
		return KORCH_ENOMEM;
	}
	*ret = o;
	return 0;
}

/* "PATH\nBLOB\nDOC": where an object came from. */
static char *
source_key(const char *path, const char *blob, unsigned doc)
{
	char *key = NULL;
	return asprintf(&key, "%s\n%s\n%u", path, blob, doc) < 0 ? NULL : key;
}

static char *
origin_of(const json_t *repo, const char *target)
{
	const json_t *meta = json_object_get(repo, "metadata");
	char *origin = NULL;
	if (asprintf(&origin, "%s/%s/%s", json_string_value(json_object_get(meta, "namespace")),
		     json_string_value(json_object_get(meta, "name")), target ? target : "") < 0)
		return NULL;
	return origin;
}

bool
gitops_desired_origin_is(const struct gitops_desired *d, const json_t *repo, const char *target)
{
	_cleanup_free_ char *origin = origin_of(repo, target);
	return origin && d->origin && streq(origin, d->origin);
}

void
gitops_desired_clear(struct gitops_desired *d)
{
	for (size_t i = 0; i < d->n; i++)
		object_clear(&d->objs[i]);
	free(d->objs);
	hashmap_free(&d->index, NULL);
	free(d->origin);
	*d = (struct gitops_desired){ 0 };
}

const struct gitops_object *
gitops_desired_find(const struct gitops_desired *d, const char *key)
{
	uintptr_t pos = (uintptr_t)hashmap_get(&d->index, key);
	return pos ? &d->objs[pos - 1] : NULL;
}

static const char *
json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	default: return "an object";
	}
}

/* The object at file:line as it will be applied; *ret_o is filled on success. */
static int
build_one(const json_t *doc, const char *file, unsigned line, const char *repo_ns,
	  const char *repo_name, const char *target_ns, struct gitops_object *ret_o,
	  korch_error **err)
{
	if (!json_is_object(doc))
		return error_set(err, KORCH_EINVALID, "%s:%u: a manifest must be an object, not %s",
				 file, line, json_type_name(doc));
	const struct kind_info *k = NULL;
	korch_error *e = NULL;
	int r = kind_resolve_object(doc, &k, &e);
	if (r < 0) {
		korch_error_prefix(&e, r, "%s:%u", file, line);
		return error_propagate(err, &e, r);
	}
	const json_t *meta_in = json_object_get(doc, "metadata");
	if (meta_in && !json_is_object(meta_in))
		return error_set(err, KORCH_EINVALID, "%s:%u: %s: metadata must be an object", file,
				 line, k->kind);
	const char *name = json_string_value(json_object_get(meta_in, "name"));
	if (!name || !*name)
		return error_set(err, KORCH_EINVALID,
				 "%s:%u: %s has no metadata.name (GitOps tracks objects by name)",
				 file, line, k->kind);
	const json_t *labels_in = json_object_get(meta_in, "labels");
	if (labels_in && !json_is_object(labels_in))
		return error_set(err, KORCH_EINVALID,
				 "%s:%u: %s %s: metadata.labels must be an object", file, line,
				 k->kind, name);
	_cleanup_json_ json_t *obj = json_deep_copy(doc);
	if (!obj)
		return error_oom(err);
	json_t *meta = json_object_get(obj, "metadata");
	const char *ns = "";
	if (k->namespaced) {
		const char *own = json_string_value(json_object_get(meta, "namespace"));
		ns = target_ns && *target_ns ? target_ns : own && *own ? own : repo_ns;
		if (json_object_set_new(meta, "namespace", json_string(ns)) < 0)
			return error_oom(err);
		ns = json_string_value(json_object_get(meta, "namespace"));
	} else {
		json_object_del(meta, "namespace");
	}
	json_t *labels = json_object_get(meta, "labels");
	if (!labels) {
		labels = json_object();
		if (json_object_set_new(meta, "labels", labels) < 0)
			return error_oom(err);
	}
	if (json_object_set_new(labels, GITOPS_LABEL_NAME, json_string(repo_name)) < 0 ||
	    json_object_set_new(labels, GITOPS_LABEL_NAMESPACE, json_string(repo_ns)) < 0)
		return error_oom(err);
	struct gitops_object o = { .kind = k, .line = line };
	o.key = gitops_key(k, ns, name);
	o.ns = strdup(ns);
	o.name = strdup(name);
	o.file = strdup(file);
	o.obj = steal_pointer(&obj);
	if (!o.key || !o.ns || !o.name || !o.file) {
		object_clear(&o);
		return error_oom(err);
	}
	*ret_o = o;
	return 0;
}

/* Namespaces first, the rest in file order. */
static void
namespaces_first(struct gitops_desired *d)
{
	size_t w = 0;
	for (size_t i = 0; i < d->n; i++)
		if (streq(d->objs[i].kind->kind, "Namespace")) {
			struct gitops_object tmp = d->objs[i];
			memmove(&d->objs[w + 1], &d->objs[w], (i - w) * sizeof(d->objs[0]));
			d->objs[w++] = tmp;
		}
}

int
gitops_desired_build(const json_t *repo, const struct gitops_manifests *m,
		     const struct gitops_desired *prev, struct gitops_desired *ret,
		     korch_error **err)
{
	const json_t *meta = json_object_get(repo, "metadata");
	const char *repo_ns = json_string_value(json_object_get(meta, "namespace"));
	const char *repo_name = json_string_value(json_object_get(meta, "name"));
	const char *target = json_string_value(
		json_object_get(json_object_get(repo, "spec"), "targetNamespace"));
	if (!repo_ns || !repo_name)
		return error_set(err, KORCH_EINVALID, "the GitRepository has no name or namespace");
	struct gitops_desired d = { .origin = origin_of(repo, target) };
	if (!d.origin)
		return error_oom(err);
	/* What prev built for the same repository, by file, blob and document. */
	struct hashmap built = HASHMAP_INIT;
	int r = 0;
	for (size_t i = 0; prev && prev->origin && streq(prev->origin, d.origin) && i < prev->n;
	     i++) {
		const struct gitops_object *o = &prev->objs[i];
		_cleanup_free_ char *key = source_key(o->file, o->blob, o->doc);
		if (!key || hashmap_put(&built, key, (void *)o, NULL) < 0) {
			r = error_oom(err);
			break;
		}
	}
	for (size_t f = 0; f < m->n && r == 0; f++) {
		const struct gitops_file *file = &m->files[f];
		for (size_t i = 0; i < file->docs.n && r == 0; i++) {
			struct gitops_object o;
			_cleanup_free_ char *skey =
				built.n ? source_key(file->path, file->blob, (unsigned)i) : NULL;
			const struct gitops_object *same = skey ? hashmap_get(&built, skey) : NULL;
			if (same)
				r = share_object(same, &o) < 0 ? error_oom(err) : 0;
			else
				r = build_one(file->docs.docs[i], file->path, file->docs.lines[i],
					      repo_ns, repo_name, target, &o, err);
			if (r < 0)
				break;
			memcpy(o.blob, file->blob, sizeof(o.blob));
			o.doc = (unsigned)i;
			const struct gitops_object *dup = gitops_desired_find(&d, o.key);
			if (dup) {
				r = error_set(err, KORCH_EINVALID,
					      "%s:%u: %s %s%s%s is also defined at %s:%u", o.file,
					      o.line, o.kind->kind, o.ns, *o.ns ? "/" : "", o.name,
					      dup->file, dup->line);
				object_clear(&o);
				break;
			}
			if (d.n + 1 >= STORE_TXN_MAX_OPS) {
				r = error_set(
					err, KORCH_ETOOLARGE,
					"%s:%u: more than %d objects: one sync applies at most "
					"that many in one transaction",
					o.file, o.line, STORE_TXN_MAX_OPS - 1);
				object_clear(&o);
				break;
			}
			struct gitops_object *slot = VEC_PUSH(d.objs, d.n, d.cap);
			if (!slot ||
			    hashmap_put(&d.index, o.key, (void *)(uintptr_t)d.n, NULL) < 0) {
				if (slot)
					d.n--;
				object_clear(&o);
				r = error_oom(err);
				break;
			}
			*slot = o;
		}
	}
	hashmap_free(&built, NULL);
	if (r < 0) {
		gitops_desired_clear(&d);
		return r;
	}
	namespaces_first(&d);
	for (size_t i = 0; i < d.n; i++)
		if (hashmap_put(&d.index, d.objs[i].key, (void *)(uintptr_t)(i + 1), NULL) < 0) {
			gitops_desired_clear(&d);
			return error_oom(err);
		}
	*ret = d;
	return 0;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct gitops_object *x = *(const struct gitops_object *const *)a;
	const struct gitops_object *y = *(const struct gitops_object *const *)b;
	return strcmp(x->key, y->key);
}

json_t *
gitops_inventory(const struct gitops_desired *d)
{
	const struct gitops_object **sorted = calloc(d->n ? d->n : 1, sizeof(*sorted));
	json_t *inv = json_array();
	if (!sorted || !inv) {
		free(sorted);
		json_decref(inv);
		return NULL;
	}
	for (size_t i = 0; i < d->n; i++)
		sorted[i] = &d->objs[i];
	qsort(sorted, d->n, sizeof(*sorted), key_cmp);
	for (size_t i = 0; i < d->n; i++) {
		const struct gitops_object *o = sorted[i];
		char av[64];
		json_t *entry = json_pack("{s:s, s:s}", "apiVersion", kind_api_version(o->kind, av),
					  "kind", o->kind->kind);
		if (entry && o->kind->namespaced)
			json_object_set_new(entry, "namespace", json_string(o->ns));
		if (!entry || json_object_set_new(entry, "name", json_string(o->name)) < 0 ||
		    json_array_append_new(inv, entry) < 0) {
			free(sorted);
			json_decref(inv);
			return NULL;
		}
	}
	free(sorted);
	return inv;
}
