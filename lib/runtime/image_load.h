/*
 * image_load.h - what the loader (image_load.c: staging, commit, index) and the format parsers
 * (image_parse.c: OCI layouts, docker-archives, names) share.
 */
#ifndef KORCH_RUNTIME_IMAGE_LOAD_H
#define KORCH_RUNTIME_IMAGE_LOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "base/hashmap.h"
#include "base/strbuf.h"
#include "base/vec.h"
#include "runtime/image_internal.h"

/* A blob this load can read: already in the store, or staged. */
struct blob {
	char *path;    /* the store's file or the staged copy */
	uint64_t size; /* bytes */
	bool in_store; /* blobs/sha256/<hex> existed: nothing to commit */
};

/* A regular file or link of a tar source, by its normalised path in the archive. */
struct src_file {
	char hex[SHA256_HEX_LEN + 1]; /* sha256 of the content; "" for a link */
	char *link;                   /* link target as an archive path, or NULL */
};

/* A layer of an image as its manifest describes it. */
struct layer_desc {
	char *digest;     /* "sha256:<hex>" of the blob */
	char *diff_id;    /* "sha256:<hex>" of the uncompressed tar */
	char *media_type; /* the manifest's mediaType */
	uint64_t size;    /* bytes of the blob */
};

/* One image found in the source. */
struct found_image {
	char *id;                  /* "sha256:<config hex>" */
	char *manifest;            /* "sha256:<manifest hex>" */
	struct ptrvec indexes;     /* "sha256:..." of the indexes passed to reach the manifest */
	uint64_t config_size;      /* bytes of the config blob */
	struct layer_desc *layers; /* bottom first */
	size_t n_layers;           /* entries in layers */
	struct ptrvec names;       /* normalised names (char *) */
	char *tag;                 /* a tag-only ref.name annotation, or NULL */
};

/* State of one load. */
struct load {
	struct image_store *store;  /* where it goes */
	const char *path;           /* the source, as given */
	bool is_dir;                /* an image layout or docker-archive directory */
	char *stage;                /* DIR/tmp/load-XXXXXX */
	unsigned staged;            /* files staged so far (names temporary files) */
	struct hashmap files;       /* tar: archive path -> struct src_file */
	struct hashmap blobs;       /* hex -> struct blob */
	struct hashmap layers;      /* diffID hex -> layer dir unpacked by this load (char *) */
	char *oci_layout;           /* tar: content of oci-layout, or NULL */
	char *index_json;           /* tar: content of index.json, or NULL */
	char *manifest_json;        /* tar: content of manifest.json, or NULL */
	struct ptrvec images;       /* struct found_image */
	struct strbuf platforms;    /* platforms seen and passed over, for the error message */
	image_progress_fn progress; /* may be NULL */
	void *userdata;             /* for progress */
	char *buf;                  /* COPY_BUF_SIZE bytes */
};

void found_image_free(void *img);

/* Parses JSON text; the error names what. */
int parse_json(const char *data, size_t len, const char *what, json_t **ret, korch_error **err);

/* Whether the store holds blob hex (and its size). */
bool load_blob_in_store(struct load *l, const char *hex, uint64_t *ret_size);
/* Records a blob this load can read at path (taken over, freed on failure too). */
int load_add_blob(struct load *l, const char *hex, char *path, uint64_t size, bool in_store,
		  korch_error **err);
/* Records that the store already holds blob hex. */
int load_add_store_blob(struct load *l, const char *hex, uint64_t size, korch_error **err);

/* The digest of the file at archive path rel_raw (following links), staging it if needed. */
int load_need_file(struct load *l, const char *rel_raw, const char *what,
		   char ret_hex[SHA256_HEX_LEN + 1], korch_error **err);
/*
 * Makes blob digest available (store, staged, or staged now from a directory source) and
 * checks its size when want_size >= 0. ret_path is borrowed from the load.
 */
int load_need_blob(struct load *l, const char *digest, json_int_t want_size, const char **ret_path,
		   korch_error **err);
/* The blob as a JSON object; what ("manifest", "config") names it in errors. */
int load_read_blob_json(struct load *l, const char *digest, json_int_t size, const char *what,
			json_t **ret, korch_error **err);
/* A top-level file of the source (from memory for a tar, else the directory); NULL if absent. */
int load_read_top_file(struct load *l, const char *name, char *in_tar, json_t **ret,
		       korch_error **err);

/*
 * Finds the images of the source (an OCI layout, a docker-archive, or Docker 25's both) into
 * l->images with their names, applying the name given at load (may be NULL).
 */
int parse_source(struct load *l, const char *name, korch_error **err);

#endif
