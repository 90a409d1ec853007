/*
 * image_fixture.h - builds image fixtures for the image store's tests: layer tars (libarchive),
 * configs and manifests, OCI layouts (directory or tar) and docker-archives. Every helper
 * aborts on failure: a fixture that cannot be built is a broken test, not a result.
 */
#ifndef KORCH_TESTS_IMAGE_FIXTURE_H
#define KORCH_TESTS_IMAGE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#define FX_DIGEST_LEN 72
#define FX_MAX_LAYERS 8

/* Bytes and their "sha256:<hex>". */
struct fx_blob {
	char *data;                 /* owned */
	size_t len;                 /* bytes in data */
	char digest[FX_DIGEST_LEN]; /* "sha256:<hex>" of data */
};

/* One tar entry; zero fields get defaults (mode 0644/0755, owner 0, mtime 1700000000). */
struct fx_entry {
	const char *path;        /* as written in the tar */
	char type;               /* 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'c' char dev,
				    'b' block dev, 'p' fifo */
	mode_t mode;             /* permission bits (with setuid/sticky) */
	uid_t uid;               /* numeric owner */
	gid_t gid;               /* numeric group */
	long mtime;              /* seconds since the epoch */
	const char *content;     /* file content */
	const char *link;        /* symlink or hard link target */
	unsigned rdev_major;     /* devices */
	unsigned rdev_minor;     /* devices */
	const char *xattr_name;  /* one xattr, or NULL */
	const char *xattr_value; /* its value */
};

/* "sha256:<hex>" of data. */
void fx_sha256(const void *data, size_t len, char out[FX_DIGEST_LEN]);

struct fx_layer;
struct fx_layer *fx_layer_new(void);
void fx_layer_add(struct fx_layer *l, const struct fx_entry *e);
void fx_layer_file(struct fx_layer *l, const char *path, const char *content);
void fx_layer_dir(struct fx_layer *l, const char *path);
/* How a layer blob is compressed (false and true mean FX_PLAIN and FX_GZIP). */
enum { FX_PLAIN = 0, FX_GZIP = 1, FX_ZSTD = 2 };

/* Closes the tar: blob is the layer as stored (compressed as asked), diff_id the digest of the
 * uncompressed tar. Frees l. */
void fx_layer_finish(struct fx_layer *l, int compression, struct fx_blob *ret_blob,
		     char ret_diff_id[FX_DIGEST_LEN]);

/* An image: its layers, config and manifest blobs. */
struct fx_image {
	struct fx_blob layers[FX_MAX_LAYERS]; /* bottom first */
	char diff_ids[FX_MAX_LAYERS][FX_DIGEST_LEN];
	size_t n_layers;
	struct fx_blob config;   /* after fx_image_finish */
	struct fx_blob manifest; /* after fx_image_finish */
};

void fx_image_add_layer(struct fx_image *img, struct fx_layer *l, int compression);
/* Writes config (with arch, and "config": runtime, which is stolen; NULL for none) and manifest. */
void fx_image_finish(struct fx_image *img, const char *arch, json_t *runtime);
void fx_image_clear(struct fx_image *img);

/* The compact JSON text of j (stolen) as a blob. */
void fx_blob_json(json_t *j, struct fx_blob *ret);
void fx_blob_clear(struct fx_blob *b);

/* A descriptor {"mediaType", "digest", "size"} for a blob. */
json_t *fx_descriptor(const char *media_type, const struct fx_blob *b);

/* Writes DIR/blobs/sha256/<hex>. */
void fx_write_blob(const char *dir, const struct fx_blob *b);
/* Writes a whole file, creating nothing above it. */
void fx_write_file(const char *path, const void *data, size_t len);
char *fx_join(const char *a, const char *b);

/*
 * An OCI layout directory at dir: oci-layout, the blobs of each image, and index.json with one
 * manifest descriptor per image carrying annotations[i] (stolen; may be NULL).
 */
void fx_oci_dir(const char *dir, struct fx_image **imgs, json_t **annotations, size_t n);

/* Writes every file below dir into a tar at tar_path (gzip-compressed if asked). */
void fx_tar_dir(const char *dir, const char *tar_path, bool gzip);

/*
 * A docker-archive at tar_path: per image "<config hex>.json", each layer as "I-K/layer.tar"
 * (a layer seen before becomes a symlink to its first copy), manifest.json with RepoTags
 * repotags[i] (a JSON array, stolen; may be NULL).
 */
void fx_docker_archive(const char *tar_path, struct fx_image **imgs, json_t **repotags, size_t n);

/* A one-layer amd64 image whose layer holds one file, path with content. */
void fx_simple_image(struct fx_image *img, const char *path, const char *content, bool gzip);

/* Progress lines collected by fx_lines_cb (userdata: struct fx_lines *). */
struct fx_lines {
	char *lines[64]; /* owned */
	size_t n;        /* lines collected */
};
void fx_lines_cb(const char *line, void *userdata);
void fx_lines_clear(struct fx_lines *l);

/* What the test image (KORCH_TEST_IMAGE) holds, read from its layout. */
struct fx_test_image {
	char path[4096];              /* KORCH_TEST_IMAGE */
	char id[FX_DIGEST_LEN];       /* config digest */
	char manifest[FX_DIGEST_LEN]; /* manifest digest */
	char layer[FX_DIGEST_LEN];    /* the layer blob's digest */
	char diff_id[FX_DIGEST_LEN];  /* the layer's diffID */
	size_t layer_size;            /* bytes of the layer blob */
};
void fx_test_image(struct fx_test_image *ti);

/* Entries directly in dir, or -1 when dir cannot be read. */
int fx_count_entries(const char *dir);
/* A new temporary directory, /tmp/korch-test-image-XXXXXX. */
char *fx_tmpdir(void);

#endif
