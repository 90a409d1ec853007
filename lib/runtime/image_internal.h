/*
 * image_internal.h - what the files of the image store share: the store handle, digests,
 * reference parsing, archive paths, the index file and layer unpacking.
 *
 * Store layout under the store directory (DATA_DIR/images in production):
 *   blobs/sha256/<hex>   every blob (indexes, manifests, configs, layer tars as loaded)
 *   layers/sha256/<hex>  one unpacked layer per diffID, ready as an overlayfs lower layer
 *   index.json           images (by id) with their names, manifests and layers
 *   tmp/                 staging of loads in progress; a layer appears under layers/ only
 *                        by rename once it is complete
 *   lock                 flock: held exclusively while index.json is rewritten
 *   gc.lock              flock: shared by every load, exclusive for gc and tmp/ cleaning
 */
#ifndef KORCH_RUNTIME_IMAGE_INTERNAL_H
#define KORCH_RUNTIME_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <archive.h>
#include <jansson.h>
#include <nettle/sha2.h>

#include "base/error.h"
#include "base/json.h"
#include "base/macro.h"
#include "runtime/image.h"

#define SHA256_HEX_LEN 64
/* "sha256:" followed by 64 hex digits. */
#define DIGEST_STR_LEN (7 + SHA256_HEX_LEN)
/* Largest index, manifest or config we read (OCI asks registries to take 4 MiB manifests). */
#define IMAGE_JSON_MAX (8u << 20)
/* Largest index.json of the store itself. */
#define STORE_INDEX_MAX (64u << 20)

struct image_store {
	char *dir; /* canonical absolute path of the store directory */
};

DEFINE_CLEANUP_FUNC(image_store_free, struct image_store, image_store_free)

/* --- digests (image_digest.c) --- */

/* Finishes ctx and writes its digest as 64 lowercase hex digits and a NUL. */
void sha256_finish_hex(struct sha256_ctx *ctx, char hex[SHA256_HEX_LEN + 1]);

/* The sha256 of a buffer as "sha256:<hex>". */
void sha256_digest_of(const void *data, size_t len, char out[DIGEST_STR_LEN + 1]);

/* Whether s is exactly 64 lowercase hex digits. */
bool is_sha256_hex(const char *s);

/*
 * Checks a digest string from an image ("sha256:<64 lowercase hex>") and returns a pointer to
 * its hex part. Another registered algorithm (sha384, sha512) is KORCH_EUNSUPPORTED; anything
 * else KORCH_EINVALID. what names the field in the message.
 */
int digest_check(const char *digest, const char *what, const char **ret_hex, korch_error **err);

/* Formats a byte count for people the way docker does: "532 B", "4.1 kB", "12.3 MB". */
void format_size(uint64_t bytes, char buf[static 32]);

/* --- references (image_name.c) --- */

/* A parsed, normalised image reference. */
struct image_ref {
	char *domain; /* "docker.io", "localhost:5000", "[::1]:5000" */
	char *path;   /* "library/busybox" */
	char *tag;    /* "latest"; NULL when the reference carries none */
	char *digest; /* "sha256:<hex>"; NULL when none */
};

/*
 * Parses ref as distribution/reference's ParseNormalizedNamed does (familiar names get
 * docker.io and library/), without adding a default tag. The error is KORCH_EINVALID naming the
 * reference and the rule it breaks.
 */
int image_ref_parse(const char *ref, struct image_ref *ret, korch_error **err);
void image_ref_clear(struct image_ref *ref);

/*
 * The normalised string of a parsed reference as containerd stores it: a digest wins over a
 * tag (ParseDockerRef), otherwise "latest" when no tag was given. NULL when out of memory.
 */
char *image_ref_string(const struct image_ref *ref);

/* Whether s is a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}). */
bool image_tag_valid(const char *s);

/* --- archive paths (image_unpack.c) --- */

/*
 * Normalises a path found in an archive: drops leading "./", empty and "." components and
 * trailing slashes; "" is the archive's root. An absolute path or a ".." component is refused
 * with KORCH_EINVALID ("absolute path", "path leaves the layer" style messages are the
 * caller's: the error here says which rule broke). *ret is the caller's.
 */
int archive_path_normalize(const char *path, char **ret, korch_error **err);

/* --- layers (image_unpack.c) --- */

/* What one unpack produced. */
struct layer_unpack_stats {
	uint64_t tar_bytes;     /* bytes of the uncompressed tar stream */
	size_t entries;         /* entries written (whiteouts included) */
	size_t whiteouts;       /* .wh.NAME entries turned into overlay whiteouts */
	size_t opaque_dirs;     /* directories made opaque by .wh..wh..opq */
	size_t skipped_devices; /* character and block devices left out */
};

/*
 * Unpacks the layer blob at blob_path (a tar, possibly gzip, zstd, xz or bzip2 compressed) into
 * dest, which must not exist (its parent must), converting OCI whiteouts to overlayfs ones, and
 * checks that the uncompressed stream hashes to diff_id ("sha256:<hex>"). On failure dest is
 * removed; on success it is complete. Must run as root to keep ownership and to set the
 * trusted.overlay.opaque xattr.
 */
int layer_unpack(const char *blob_path, const char *dest, const char *diff_id,
		 struct layer_unpack_stats *ret_stats, korch_error **err);

/* libarchive's message for a, never NULL. */
static inline const char *
archive_why(struct archive *a)
{
	const char *s = archive_error_string(a);
	return s ? s : "unknown error";
}

/* Adds libarchive's decompression filters korch accepts (no external programs). */
int archive_read_add_filters(struct archive *a, korch_error **err);

/* --- the store (image_store.c) --- */

/* A path under the store: "DIR/" followed by the formatted rest. NULL when out of memory. */
char *image_store_file(const struct image_store *store, const char *fmt, ...) _printf_(2, 3);

/* Takes flock(op) on DIR/name (created if needed); *ret_fd holds the lock until closed. */
int store_lock(const struct image_store *store, const char *name, int op, int *ret_fd,
	       korch_error **err);

/* Reads index.json (an empty index when there is none yet). */
int store_index_read(const struct image_store *store, json_t **ret, korch_error **err);

/*
 * Read-modify-write of index.json under the index lock: fn changes the index in place and
 * returns 1 when it changed something (then it is written atomically), 0 when not, or an error.
 */
int store_index_update(const struct image_store *store,
		       int (*fn)(json_t *index, void *userdata, korch_error **err), void *userdata,
		       korch_error **err);

#endif
