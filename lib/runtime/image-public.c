/*
 * image-public.c - korch/image.h, the public image store API, over the internal store of
 * image.h. A korch_object is a jansson value (korch/object.h), so lists go out as JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <korch/image.h>
#include "base/error.h"
#include "base/macro.h"
#include "runtime/image.h"

struct korch_image_store {
	struct image_store *store; /* DATA_DIR/images */
};

KORCH_EXPORT int
korch_image_store_open(const char *data_dir, korch_image_store **ret, korch_error **err)
{
	if (!data_dir || data_dir[0] != '/')
		return error_set(err, KORCH_EINVALID,
				 "open image store: the data dir \"%s\" must be an absolute path",
				 data_dir ? data_dir : "");
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/images", data_dir) < 0)
		return error_oom(err);
	korch_image_store *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	int r = image_store_open(dir, &s->store, err);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

KORCH_EXPORT void
korch_image_store_free(korch_image_store *store)
{
	if (!store)
		return;
	image_store_free(store->store);
	free(store);
}

KORCH_EXPORT int
korch_image_load(korch_image_store *store, const char *path, const char *name,
		 korch_image_progress_fn progress, void *userdata, struct korch_object **ret_names,
		 korch_error **err)
{
	struct stat st;
	if (!path || !path[0])
		return error_set(err, KORCH_EINVALID, "load: no image archive or layout given");
	if (stat(path, &st) < 0 && errno == ENOENT)
		return error_set_errno(err, KORCH_ENOTFOUND, ENOENT,
				       "load %s: no such file or directory", path);
	json_t *names = NULL;
	int r = image_store_load(store->store, path, name, progress, userdata,
				 ret_names ? &names : NULL, err);
	if (r < 0)
		return r;
	if (ret_names)
		*ret_names = (struct korch_object *)names;
	return 0;
}

KORCH_EXPORT int
korch_image_list(korch_image_store *store, struct korch_object **ret_list, korch_error **err)
{
	json_t *items = NULL;
	int r = image_store_list(store->store, &items, err);
	if (r < 0)
		return r;
	json_t *list =
		json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "List", "items", items);
	if (!list)
		return error_oom(err);
	*ret_list = (struct korch_object *)list;
	return 0;
}

KORCH_EXPORT int
korch_image_remove(korch_image_store *store, const char *ref, korch_error **err)
{
	if (!ref || !ref[0])
		return error_set(err, KORCH_EINVALID, "remove image: no reference given");
	return image_store_remove(store->store, ref, err);
}

/* image.h's in-use callback over the public one. */
struct in_use_bridge {
	korch_image_in_use_fn fn; /* the caller's */
	void *userdata;           /* and its data */
};

static bool
in_use_bridge(const char *id, void *userdata)
{
	const struct in_use_bridge *b = userdata;
	return b->fn(id, b->userdata) != 0;
}

KORCH_EXPORT int
korch_image_gc(korch_image_store *store, unsigned flags, korch_image_in_use_fn in_use,
	       void *userdata, struct korch_object **ret_stats, korch_error **err)
{
	if (flags & ~(unsigned)KORCH_IMAGE_GC_PRUNE_UNUSED)
		return error_set(err, KORCH_EINVALID, "image gc: unknown flags 0x%x",
				 flags & ~(unsigned)KORCH_IMAGE_GC_PRUNE_UNUSED);
	struct in_use_bridge b = { in_use, userdata };
	struct image_gc_stats st = { 0 };
	int r = image_store_gc(store->store,
			       flags & KORCH_IMAGE_GC_PRUNE_UNUSED ? IMAGE_GC_PRUNE_UNUSED : 0,
			       in_use ? in_use_bridge : NULL, &b, &st, err);
	if (r < 0)
		return r;
	if (ret_stats) {
		json_t *o = json_pack(
			"{s:I, s:I, s:I, s:I}", "imagesRemoved", (json_int_t)st.images_removed,
			"blobsRemoved", (json_int_t)st.blobs_removed, "layersRemoved",
			(json_int_t)st.layers_removed, "bytesFreed", (json_int_t)st.bytes_freed);
		if (!o)
			return error_oom(err);
		*ret_stats = (struct korch_object *)o;
	}
	return 0;
}
