/*
 * image.h - the content-addressed image store under DATA_DIR/images: OCI image layouts
 * (directory or tar) and docker-archive tarballs loaded with libarchive, layers unpacked once
 * each (whiteouts applied), digests verified, names normalised as containerd does.
 *
 * Every call opens, reads and (under a file lock) rewrites the store's files afresh, so one
 * handle may be used from several threads and several processes may use one store at once.
 * Calls block (loading and gc do disk work): run them on the worker pool from the loop.
 */
#ifndef KORCH_RUNTIME_IMAGE_H
#define KORCH_RUNTIME_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>

struct image_store;

/* An image resolved from the store; everything here is owned by the struct. */
struct image {
	char *id;          /* "sha256:<config digest>" */
	char *name;        /* normalised reference, "docker.io/library/busybox:latest"; the name
				looked up, or the image's first name when looked up by id; NULL
				for an image without a name */
	char *manifest;    /* "sha256:<manifest digest>" */
	char **layer_dirs; /* unpacked layer directories, bottom first (overlay lowerdirs reversed) */
	size_t n_layers;   /* entries in layer_dirs */
	json_t *config;    /* the image config's "config": Entrypoint, Cmd, Env, WorkingDir, User,
				ExposedPorts, StopSignal (any may be absent) */
};

/*
 * Opens (creating if needed, mode 0700) the store in dir; several processes may open it (file
 * lock). Staging left by a load that was interrupted (a crash, a kill) is removed here when no
 * load is running. *ret is the caller's, freed with image_store_free().
 */
int image_store_open(const char *dir, struct image_store **ret, korch_error **err);
void image_store_free(struct image_store *store);

/* The store's directory (canonical absolute path); borrowed from store. */
const char *image_store_dir(const struct image_store *store);

/*
 * Normalises a reference as containerd does: "busybox" -> "docker.io/library/busybox:latest",
 * "repo/x:1" -> "docker.io/repo/x:1", "host:5000/x" keeps its host, "index.docker.io" becomes
 * "docker.io"; a digest is kept and wins over a tag ("x:1@sha256:..." -> "docker.io/library/
 * x@sha256:..."). An invalid reference is KORCH_EINVALID with docker's reason. Caller frees.
 */
int image_normalize_name(const char *ref, char **ret, korch_error **err);

/* Called with one line (no newline) per step of a load: "loading layer 2/3 sha256:abcd... 12.3 MB". */
typedef void (*image_progress_fn)(const char *line, void *userdata);

/*
 * Loads an OCI layout directory, an OCI layout tar or a docker-archive tar (each tar possibly
 * gzip, zstd, xz or bzip2 compressed). Every blob is checked against its digest and every layer
 * against its diffID before anything enters the store; a failed load changes nothing visible.
 *
 * Names: io.containerd.image.name on a descriptor of index.json, else its
 * org.opencontainers.image.ref.name when that is a full reference (it holds ':', '/' or '@');
 * a docker-archive's RepoTags. name (may be NULL) overrides them: a full reference names the
 * one image of the archive (an archive holding several is KORCH_EINVALID); a repository without
 * tag or digest ("example.com/app") takes each image's tag-only ref.name annotation, or "latest".
 * A name already held by another image moves to the loaded one. An image without any name is
 * addressable by its id. From a multi-platform index, the image for linux and this machine's
 * architecture (amd64 here) is loaded.
 *
 * progress (may be NULL) gets one line per layer and one per image loaded. ret_names (may be
 * NULL) receives a JSON array with one string per image loaded: its first name, or its id
 * when it has none.
 */
int image_store_load(struct image_store *store, const char *path, const char *name,
		     image_progress_fn progress, void *userdata, json_t **ret_names,
		     korch_error **err);

/*
 * Resolves a reference (normalised first), an image id ("sha256:<hex>" or the 64 hex digits)
 * or a unique prefix of at least 12 hex digits of one. "name@sha256:D" also finds an image
 * with a name in that repository whose manifest (or multi-platform index) digest is D. A missing
 * image is KORCH_ENOTFOUND: `image "docker.io/library/nginx:1.27" not found in the local store;
 * load it with: korchctl image load FILE`. A layer missing from the store is KORCH_ENOTFOUND
 * naming it. *ret is the caller's, freed with image_free().
 */
int image_store_lookup(struct image_store *store, const char *ref, struct image **ret,
		       korch_error **err);
void image_free(struct image *img);

/*
 * A JSON array with one object per name of every image, sorted by name, then images without
 * a name: {"name": "docker.io/library/busybox:latest" or null, "id": "sha256:...", "size": bytes
 * of its config and layer blobs}.
 */
int image_store_list(struct image_store *store, json_t **ret, korch_error **err);

/*
 * Removes a name (the image stays while it has other names; removing its last name removes the
 * image), or, given an id, the image and all its names. Blobs and layers stay until gc.
 * A reference matching nothing is KORCH_ENOTFOUND.
 */
int image_store_remove(struct image_store *store, const char *ref, korch_error **err);

/* Answers whether the image with this id is used by a container (and must be kept). */
typedef bool (*image_in_use_fn)(const char *id, void *userdata);

/* gc flags */
enum {
	/* Also remove every image that in_use does not claim, names and all (disk pressure). */
	IMAGE_GC_PRUNE_UNUSED = 1 << 0,
};

/* What one gc removed. */
struct image_gc_stats {
	size_t images_removed; /* image records dropped (removed earlier, or pruned now) */
	size_t blobs_removed;  /* files removed from blobs/sha256 */
	size_t layers_removed; /* unpacked layer directories removed */
	uint64_t bytes_freed;  /* bytes of those blobs plus the files in those layers */
};

/*
 * Removes layers and blobs no image references any more, and staging left by dead loads.
 * An image removed with image_store_remove() keeps its content while in_use (may be NULL:
 * nothing is in use) claims its id, so a running container's layers never vanish under it.
 * Waits for loads in progress to finish. ret_stats may be NULL.
 */
int image_store_gc(struct image_store *store, unsigned flags, image_in_use_fn in_use,
		   void *userdata, struct image_gc_stats *ret_stats, korch_error **err);

#endif
