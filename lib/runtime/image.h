/*
 * image.h - the content-addressed image store under DATA_DIR/images: OCI image layouts
 * (directory or tar) and docker-archive tarballs loaded with libarchive, layers unpacked once
 * each (whiteouts applied), digests verified, names normalised as containerd does.
 */
#ifndef KORCH_RUNTIME_IMAGE_H
#define KORCH_RUNTIME_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <korch/common.h>

struct image_store;

/* An image resolved from the store; everything here is owned by the struct. */
struct image {
	char *id;          /* "sha256:<config digest>" */
	char *name;        /* normalised reference, "docker.io/library/busybox:latest" */
	char **layer_dirs; /* unpacked layer directories, bottom first (overlay lowerdirs reversed) */
	size_t n_layers;   /* entries in layer_dirs */
	json_t *config;    /* the image config's "config": Entrypoint, Cmd, Env, WorkingDir, User,
				ExposedPorts, StopSignal (any may be absent) */
};

/* Opens (creating if needed) the store in dir; several processes may open it (file lock). */
int image_store_open(const char *dir, struct image_store **ret, korch_error **err);
void image_store_free(struct image_store *store);

/*
 * Normalises a reference as containerd does: "busybox" -> "docker.io/library/busybox:latest",
 * "repo/x:1" -> "docker.io/repo/x:1", "host:5000/x" keeps its host; digests kept. Caller frees.
 */
int image_normalize_name(const char *ref, char **ret, korch_error **err);

/*
 * Loads an OCI layout directory, an OCI layout tar or a docker-archive tar. name (may be NULL)
 * overrides the names found inside. progress (may be NULL) is called with one-line messages.
 * ret_names (may be NULL) receives a JSON array of the names loaded.
 */
int image_store_load(struct image_store *store, const char *path, const char *name,
		     void (*progress)(const char *line, void *userdata), void *userdata,
		     json_t **ret_names, korch_error **err);

/*
 * Resolves a reference (normalised first) or an image id. A missing image is KORCH_ENOTFOUND
 * with a message naming the image and how to load it ("korchctl image load FILE").
 */
int image_store_lookup(struct image_store *store, const char *ref, struct image **ret,
		       korch_error **err);
void image_free(struct image *img);

/* A JSON array of {name, id, size} for every image. */
int image_store_list(struct image_store *store, json_t **ret, korch_error **err);
int image_store_remove(struct image_store *store, const char *ref, korch_error **err);
/* Removes layers and blobs no image references any more. */
int image_store_gc(struct image_store *store, korch_error **err);

#endif
