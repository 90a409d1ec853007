/*
 * korch/image.h - the local image store: container images loaded from OCI image layouts and
 * docker-archive tarballs, listed, removed and garbage-collected. What korchctl image
 * load/ls/rm and an embedding program use when no korchd holds the store.
 *
 * The store lives in DATA_DIR/images and is content-addressed: blobs by digest, each layer
 * unpacked once. Names are normalised as containerd does ("busybox" is
 * "docker.io/library/busybox:latest"), when loading and when looking up. Several processes may
 * use one store at once (a file lock orders writers). Every call blocks on disk work; from an
 * event loop, make them on a worker thread.
 *
 * Lists and names come back as korch_object values (korch/object.h): the caller's, freed with
 * korch_object_free().
 */
#ifndef KORCH_IMAGE_H
#define KORCH_IMAGE_H

#include <korch/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A JSON document (korch/object.h). */
struct korch_object;

/** An open image store. */
typedef struct korch_image_store korch_image_store;

/**
 * Opens the image store of data_dir (DATA_DIR/images; both are created, mode 0700, when
 * missing). What an interrupted load left behind is removed here when no load is running.
 * *ret is the caller's, freed with korch_image_store_free(). Errors: KORCH_EINVALID for a
 * relative or empty data_dir, KORCH_ESYSTEM (with the errno) when the directory cannot be
 * made or locked.
 */
KORCH_EXPORT int korch_image_store_open(const char *data_dir, korch_image_store **ret,
					korch_error **err);

/** Closes the store; takes NULL. */
KORCH_EXPORT void korch_image_store_free(korch_image_store *store);

/**
 * Receives one line per step of a load, without a newline ("loading layer 2/3 sha256:ab12...
 * 12.3 MB"), and the userdata given to korch_image_load(). Called on the loading thread.
 */
typedef void (*korch_image_progress_fn)(const char *line, void *userdata);

/**
 * Loads path: an OCI image layout directory, an OCI layout tar or a docker-archive tar (`docker
 * save`, `podman save`), plain or gzip, zstd, xz or bzip2 compressed. Every blob is checked
 * against its digest and every layer against its diffID before anything enters the store: a
 * failed load leaves the store as it was.
 *
 * The images are named by the archive (index annotations io.containerd.image.name or
 * org.opencontainers.image.ref.name, a docker-archive's RepoTags) unless name (may be NULL)
 * says otherwise: a full reference names the archive's only image; a repository without tag
 * ("example.com/app") takes each image's tag, or "latest". A name another image held moves to
 * the loaded one.
 *
 * progress (may be NULL) gets a line per layer and per image. ret_names (may be NULL) receives
 * an array with one string per image loaded: its first name, or its id ("sha256:...") when it
 * has none. Errors: KORCH_ENOTFOUND when path does not exist; KORCH_EINVALID for an archive
 * that is neither format, is damaged or fails a digest (the message says which part).
 */
KORCH_EXPORT int korch_image_load(korch_image_store *store, const char *path, const char *name,
				  korch_image_progress_fn progress, void *userdata,
				  struct korch_object **ret_names, korch_error **err);

/**
 * Every image, as a List object ({"apiVersion": "v1", "kind": "List", "items": [...]}) with one
 * item per name, sorted by name, then the images without a name: {"name":
 * "docker.io/library/busybox:latest" or null, "id": "sha256:<config digest>", "size": bytes of
 * its config and layer blobs}.
 */
KORCH_EXPORT int korch_image_list(korch_image_store *store, struct korch_object **ret_list,
				  korch_error **err);

/**
 * Removes a name (ref is normalised; the image stays while it has other names, and goes with
 * its last one), or given an image id ("sha256:<hex>", the 64 hex digits or a unique prefix of
 * at least 12), the image with all its names. Its blobs and layers stay until
 * korch_image_gc(). KORCH_ENOTFOUND when ref matches nothing.
 */
KORCH_EXPORT int korch_image_remove(korch_image_store *store, const char *ref, korch_error **err);

/**
 * Answers whether a container uses the image with this id ("sha256:..."): non-zero keeps its
 * content through a gc even after korch_image_remove().
 */
typedef int (*korch_image_in_use_fn)(const char *id, void *userdata);

/** korch_image_gc() flags. */
enum korch_image_gc_flags {
	/** Also remove every image in_use does not claim, names and all (disk pressure). */
	KORCH_IMAGE_GC_PRUNE_UNUSED = 1 << 0,
};

/**
 * Frees the space of what no image needs any more: layers and blobs of removed images (unless
 * in_use, which may be NULL, claims them) and staging left by dead loads; with
 * KORCH_IMAGE_GC_PRUNE_UNUSED also the images in_use does not claim. Waits for loads in
 * progress. ret_stats (may be NULL) receives {"imagesRemoved", "blobsRemoved",
 * "layersRemoved", "bytesFreed"}. KORCH_EINVALID for an unknown flag.
 */
KORCH_EXPORT int korch_image_gc(korch_image_store *store, unsigned flags,
				korch_image_in_use_fn in_use, void *userdata,
				struct korch_object **ret_stats, korch_error **err);

#ifdef __cplusplus
}
#endif

#endif
