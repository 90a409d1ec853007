/*
 * storage-admission.c - two admission plugins of the write path for new claims and volumes:
 * DefaultStorageClass (a PersistentVolumeClaim created without spec.storageClassName gets the
 * default StorageClass's name, the one annotated storageclass.kubernetes.io/is-default-class:
 * "true", the newest when there are several) and StorageObjectInUseProtection (a new
 * PersistentVolumeClaim carries the kubernetes.io/pvc-protection finalizer, a new
 * PersistentVolume kubernetes.io/pv-protection, which the protection controllers remove once
 * nothing uses them).
 */
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "client/client-internal.h"

#define DEFAULT_CLASS_ANNOTATION "storageclass.kubernetes.io/is-default-class"
#define BETA_DEFAULT_CLASS_ANNOTATION "storageclass.beta.kubernetes.io/is-default-class"

static const char *
meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static bool
is_default(const json_t *sc)
{
	const json_t *ann = json_object_get(json_object_get(sc, "metadata"), "annotations");
	return streq(json_string_value(json_object_get(ann, DEFAULT_CLASS_ANNOTATION)), "true") ||
	       streq(json_string_value(json_object_get(ann, BETA_DEFAULT_CLASS_ANNOTATION)),
		     "true");
}

int
client_default_storage_class(struct client *c, char **ret, korch_error **err)
{
	*ret = NULL;
	_cleanup_json_ json_t *list = NULL;
	int r = client_list(c, kind_lookup("storage.k8s.io/v1", "StorageClass"), NULL, NULL, &list,
			    err);
	if (r < 0)
		return r;
	const json_t *best = NULL;
	size_t i;
	json_t *sc;
	json_array_foreach (json_object_get(list, "items"), i, sc) {
		if (!is_default(sc))
			continue;
		/* GetDefaultClass: the newest, then by name. */
		if (best) {
			int t = strcmp(meta_str(sc, "creationTimestamp") ?: "",
				       meta_str(best, "creationTimestamp") ?: "");
			if (t < 0 || (t == 0 && strcmp(meta_str(sc, "name") ?: "",
						       meta_str(best, "name") ?: "") > 0))
				continue;
		}
		best = sc;
	}
	if (best && !(*ret = strdup(meta_str(best, "name"))))
		return error_oom(err);
	return 0;
}

static void
add_finalizer(json_t *obj, const char *name)
{
	json_t *meta = json_object_get(obj, "metadata");
	json_t *list = json_object_get(meta, "finalizers");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(meta, "finalizers", list);
	}
	size_t i;
	json_t *f;
	json_array_foreach (list, i, f)
		if (streq(json_string_value(f), name))
			return;
	json_array_append_new(list, json_string(name));
}

int
client_admit_storage(struct client *c, const struct kind_info *k, json_t *obj, korch_error **err)
{
	if (strcmp(k->group, "") != 0)
		return 0;
	if (streq(k->kind, "PersistentVolume")) {
		add_finalizer(obj, "kubernetes.io/pv-protection");
		return 0;
	}
	if (!streq(k->kind, "PersistentVolumeClaim"))
		return 0;
	add_finalizer(obj, "kubernetes.io/pvc-protection");
	json_t *spec = json_object_get(obj, "spec");
	const json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
	if (!json_is_object(spec) ||
	    (json_object_get(spec, "storageClassName") &&
	     !json_is_null(json_object_get(spec, "storageClassName"))) ||
	    json_object_get(ann, "volume.beta.kubernetes.io/storage-class"))
		return 0;
	_cleanup_free_ char *name = NULL;
	int r = client_default_storage_class(c, &name, err);
	if (r < 0)
		return r;
	if (name)
		json_object_set_new(spec, "storageClassName", json_string(name));
	return 0;
}
