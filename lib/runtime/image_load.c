/*
 * image_load.c - loading OCI image layouts (directory or tar) and docker-archive tarballs into
 * the store.
 *
 * A load runs in three steps, holding gc.lock shared throughout so that gc never removes
 * what it found already present:
 *   1. stage: every blob it needs is verified against its digest and copied under
 *      tmp/load-XXXXXX (unless the store has it: then nothing is copied); each layer not yet
 *      in the store is unpacked there (image_unpack.c) and checked against its diffID;
 *   2. commit: staged blobs are linked into blobs/sha256, staged layers renamed into
 *      layers/sha256, the filesystem synced;
 *   3. index: the images and their names enter index.json under the index lock.
 * A failure in step 1 leaves the store as it was; the staging directory is removed (or, after
 * a crash, by the next image_store_open or gc).
 *
 * A tar is read once, front to back (libarchive reads tars as streams): each regular file is
 * hashed on the way and staged, and its path remembered; the small top-level files
 * (oci-layout, index.json, manifest.json) are kept in memory. Blobs named blobs/sha256/<hex>
 * are checked against their name as they go by.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/hashmap.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"
#include "runtime/image_internal.h"
#include "runtime/image_load.h"

#define COPY_BUF_SIZE (256 * 1024)
#define MAX_LINK_DEPTH 16

static void progress(struct load *l, const char *fmt, ...) _printf_(2, 3);

/* One progress line to the caller's callback, if any. */
static void
progress(struct load *l, const char *fmt, ...)
{
	if (!l->progress)
		return;
	_cleanup_free_ char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n >= 0)
		l->progress(line, l->userdata);
	else
		line = NULL;
}

static void
blob_free(void *p)
{
	struct blob *b = p;
	if (b)
		free(b->path);
	free(b);
}

static void
src_file_free(void *p)
{
	struct src_file *f = p;
	if (f)
		free(f->link);
	free(f);
}

void
found_image_free(void *p)
{
	struct found_image *img = p;
	if (!img)
		return;
	free(img->id);
	free(img->manifest);
	ptrvec_free(&img->indexes, free);
	for (size_t i = 0; i < img->n_layers; i++) {
		free(img->layers[i].digest);
		free(img->layers[i].diff_id);
		free(img->layers[i].media_type);
	}
	free(img->layers);
	ptrvec_free(&img->names, free);
	free(img->tag);
	free(img);
}

static void
load_clear(struct load *l)
{
	if (l->stage)
		rm_rf(l->stage, NULL);
	free(l->stage);
	hashmap_free(&l->files, src_file_free);
	hashmap_free(&l->blobs, blob_free);
	hashmap_free(&l->layers, free);
	free(l->oci_layout);
	free(l->index_json);
	free(l->manifest_json);
	ptrvec_free(&l->images, found_image_free);
	strbuf_free(&l->platforms);
	free(l->buf);
}

int
parse_json(const char *data, size_t len, const char *what, json_t **ret, korch_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(data, len, 0, &jerr);
	if (!j)
		return error_set(err, KORCH_EINVALID, "%s: invalid JSON: %s (line %d)", what,
				 jerr.text, jerr.line);
	*ret = j;
	return 0;
}

/* --- staging --- */

/* Where the bytes being staged come from: a tar entry or a file. */
struct reader {
	struct archive *a; /* read the current entry's data, or */
	int fd;            /* read this file */
};

static ssize_t
reader_read(struct reader *rd, void *buf, size_t n, const char **ret_why)
{
	if (rd->a) {
		la_ssize_t got = archive_read_data(rd->a, buf, n);
		if (got < 0)
			*ret_why = archive_why(rd->a);
		return got < 0 ? -1 : got;
	}
	ssize_t got = RETRY_EINTR(read(rd->fd, buf, n));
	if (got < 0)
		*ret_why = strerror(errno);
	return got;
}

bool
load_blob_in_store(struct load *l, const char *hex, uint64_t *ret_size)
{
	_cleanup_free_ char *p = image_store_file(l->store, "blobs/sha256/%s", hex);
	struct stat st;
	if (!p || stat(p, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	*ret_size = (uint64_t)st.st_size;
	return true;
}

int
load_add_blob(struct load *l, const char *hex, char *path, uint64_t size, bool in_store,
	      korch_error **err)
{
	struct blob *b = calloc(1, sizeof(*b));
	if (!b) {
		free(path);
		return error_oom(err);
	}
	*b = (struct blob){ .path = path, .size = size, .in_store = in_store };
	if (hashmap_put(&l->blobs, hex, b, NULL) < 0) {
		blob_free(b);
		return error_oom(err);
	}
	return 0;
}

/* Records that the store already holds blob hex. */
int
load_add_store_blob(struct load *l, const char *hex, uint64_t size, korch_error **err)
{
	char *p = image_store_file(l->store, "blobs/sha256/%s", hex);
	if (!p)
		return error_oom(err);
	return load_add_blob(l, hex, p, size, true, err);
}

static int
digest_mismatch(const char *want_hex, const char *got_hex, korch_error **err)
{
	return error_set(err, KORCH_EINVALID,
			 "blob sha256:%s: digest mismatch: its content is sha256:%s", want_hex,
			 got_hex);
}

/*
 * Reads everything from rd, hashing it. When the blob is needed (want_hex is NULL, or names a
 * blob neither the store nor this load has yet) the bytes are staged under a temporary name,
 * synced, and renamed to their digest; otherwise only hashed. want_hex (may be NULL) is the
 * digest the content must have. ret_hex receives the content's digest.
 */
static int
stage_stream(struct load *l, struct reader *rd, const char *want_hex,
	     char ret_hex[SHA256_HEX_LEN + 1], korch_error **err)
{
	uint64_t store_size = 0;
	bool have = want_hex && (hashmap_contains(&l->blobs, want_hex) ||
				 load_blob_in_store(l, want_hex, &store_size));
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	if (!have) {
		if (asprintf(&tmp, "%s/entry-%u", l->stage, l->staged++) < 0) {
			tmp = NULL;
			return error_oom(err);
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return error_errno(err, errno, "create %s", tmp);
	}
	struct sha256_ctx sha;
	sha256_init(&sha);
	uint64_t size = 0;
	for (;;) {
		const char *why = NULL;
		ssize_t n = reader_read(rd, l->buf, COPY_BUF_SIZE, &why);
		if (n < 0)
			return error_set(err, KORCH_EINVALID, "read: %s", why ? why : "error");
		if (n == 0)
			break;
		sha256_update(&sha, (size_t)n, (const uint8_t *)l->buf);
		size += (uint64_t)n;
		if (fd >= 0) {
			int r = write_all(fd, l->buf, (size_t)n);
			if (r < 0)
				return error_errno(err, r, "write %s", tmp);
		}
	}
	char hex[SHA256_HEX_LEN + 1];
	sha256_finish_hex(&sha, hex);
	if (want_hex && !streq(hex, want_hex))
		return digest_mismatch(want_hex, hex, err);
	memcpy(ret_hex, hex, sizeof(hex));
	if (hashmap_contains(&l->blobs, hex))
		return 0;
	if (load_blob_in_store(l, hex, &store_size))
		return load_add_store_blob(l, hex, store_size, err);
	if (fd < 0)
		return error_set(err, KORCH_ESYSTEM, "blob sha256:%s vanished from the store", hex);
	if (fsync(fd) < 0)
		return error_errno(err, errno, "sync %s", tmp);
	char *final = NULL;
	if (asprintf(&final, "%s/%s", l->stage, hex) < 0)
		return error_oom(err);
	if (rename(tmp, final) < 0) {
		int e = errno;
		free(final);
		return error_errno(err, e, "rename %s", tmp);
	}
	return load_add_blob(l, hex, final, size, false, err);
}

/* Resolves a link target against the directory of the link, lexically; NULL if it leaves. */
static char *
resolve_link(const char *link_path, const char *target, bool relative_to_dir)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	if (relative_to_dir) {
		const char *slash = strrchr(link_path, '/');
		if (slash)
			strbuf_append(&sb, link_path, (size_t)(slash - link_path));
	}
	if (target[0] == '/')
		return NULL;
	for (const char *p = target;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (sb.len == 0)
				return NULL;
			char *up = strrchr(sb.buf, '/');
			strbuf_truncate(&sb, up ? (size_t)(up - sb.buf) : 0);
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (sb.len)
				strbuf_putc(&sb, '/');
			strbuf_append(&sb, p, n);
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	return sb.oom ? NULL : strbuf_steal(&sb);
}

static int
add_src_file(struct load *l, const char *rel, const char *hex, char *link, korch_error **err)
{
	struct src_file *f = calloc(1, sizeof(*f));
	if (!f) {
		free(link);
		return error_oom(err);
	}
	f->link = link;
	if (hex)
		memcpy(f->hex, hex, SHA256_HEX_LEN + 1);
	void *old = NULL;
	if (hashmap_put(&l->files, rel, f, &old) < 0) {
		src_file_free(f);
		return error_oom(err);
	}
	src_file_free(old);
	return 0;
}

static int
read_small_entry(struct load *l, struct archive *a, const char *rel, char **slot, korch_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	for (;;) {
		la_ssize_t n = archive_read_data(a, l->buf, COPY_BUF_SIZE);
		if (n < 0)
			return error_set(err, KORCH_EINVALID, "read %s: %s", rel, archive_why(a));
		if (n == 0)
			break;
		if (sb.len + (size_t)n > IMAGE_JSON_MAX)
			return error_set(err, KORCH_ETOOLARGE, "%s is larger than %u bytes", rel,
					 IMAGE_JSON_MAX);
		if (strbuf_append(&sb, l->buf, (size_t)n) < 0)
			return error_oom(err);
	}
	free(*slot);
	*slot = strbuf_steal(&sb);
	return *slot ? 0 : error_oom(err);
}

static int
stage_tar_entry(struct load *l, struct archive *a, struct archive_entry *e, korch_error **err)
{
	_cleanup_free_ char *rel = NULL;
	int r = archive_path_normalize(archive_entry_pathname(e), &rel, err);
	if (r < 0)
		return r;
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	if (hardlink || type == AE_IFLNK) {
		const char *target = hardlink ? hardlink : archive_entry_symlink(e);
		char *resolved = target ? resolve_link(rel, target, !hardlink) : NULL;
		if (!resolved)
			return error_set(err, KORCH_EINVALID, "link to \"%s\" leaves the archive",
					 target ? target : "");
		return add_src_file(l, rel, NULL, resolved, err);
	}
	if (type != AE_IFREG)
		return 0;
	if (streq(rel, "oci-layout"))
		return read_small_entry(l, a, rel, &l->oci_layout, err);
	if (streq(rel, "index.json"))
		return read_small_entry(l, a, rel, &l->index_json, err);
	if (streq(rel, "manifest.json"))
		return read_small_entry(l, a, rel, &l->manifest_json, err);
	const char *named = startswith(rel, "blobs/sha256/");
	if (named && !is_sha256_hex(named))
		named = NULL;
	struct reader rd = { .a = a, .fd = -1 };
	char hex[SHA256_HEX_LEN + 1];
	r = stage_stream(l, &rd, named, hex, err);
	if (r < 0)
		return r;
	return add_src_file(l, rel, hex, NULL, err);
}

/* One pass over a tar source: stage its files, keep its small top-level files. */
static int
stage_tar(struct load *l, korch_error **err)
{
	struct archive *a = archive_read_new();
	if (!a)
		return error_oom(err);
	int r = archive_read_add_filters(a, err);
	if (r == 0 && (archive_read_support_format_tar(a) != ARCHIVE_OK ||
		       archive_read_open_filename(a, l->path, 64 * 1024) != ARCHIVE_OK))
		r = error_set(err, KORCH_EINVALID, "not a tar archive: %s", archive_why(a));
	while (r == 0) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = error_set(err, KORCH_EINVALID, "read tar: %s", archive_why(a));
			break;
		}
		const char *path = archive_entry_pathname(e);
		_cleanup_free_ char *shown = strdup(path ? path : "");
		if (!shown) {
			r = error_oom(err);
			break;
		}
		r = stage_tar_entry(l, a, e, err);
		if (r < 0)
			korch_error_prefix(err, r, "archive entry \"%s\"", shown);
	}
	archive_read_free(a);
	return r;
}

/* --- reading the source --- */

/* The digest of the file at archive path rel (following links), staging it if needed. */
int
load_need_file(struct load *l, const char *rel_raw, const char *what,
	       char ret_hex[SHA256_HEX_LEN + 1], korch_error **err)
{
	if (!rel_raw)
		return error_set(err, KORCH_EINVALID, "%s: no path", what);
	_cleanup_free_ char *rel = NULL;
	int r = archive_path_normalize(rel_raw, &rel, err);
	if (r < 0)
		return korch_error_prefix(err, r, "%s \"%s\"", what, rel_raw);
	for (int depth = 0; depth <= MAX_LINK_DEPTH; depth++) {
		struct src_file *f = hashmap_get(&l->files, rel);
		if (f && !f->link) {
			memcpy(ret_hex, f->hex, SHA256_HEX_LEN + 1);
			return 0;
		}
		if (f) {
			char *next = strdup(f->link);
			if (!next)
				return error_oom(err);
			free(rel);
			rel = next;
			continue;
		}
		if (!l->is_dir)
			return error_set(err, KORCH_EINVALID, "%s \"%s\" is not in the archive",
					 what, rel_raw);
		_cleanup_free_ char *full = NULL;
		if (asprintf(&full, "%s/%s", l->path, rel) < 0)
			return error_oom(err);
		struct reader rd = { .fd = open(full, O_RDONLY | O_CLOEXEC) };
		if (rd.fd < 0)
			return error_errno(err, errno, "%s: open %s", what, full);
		const char *named = startswith(rel, "blobs/sha256/");
		r = stage_stream(l, &rd, named && is_sha256_hex(named) ? named : NULL, ret_hex,
				 err);
		close(rd.fd);
		if (r < 0)
			return korch_error_prefix(err, r, "%s", full);
		return add_src_file(l, rel, ret_hex, NULL, err);
	}
	return error_set(err, KORCH_EINVALID, "%s \"%s\": too many links", what, rel_raw);
}

/*
 * Makes blob `digest` available (store, staged, or staged now from a directory source) and
 * checks its size against the descriptor's. ret_path is borrowed from the load.
 */
int
load_need_blob(struct load *l, const char *digest, json_int_t want_size, const char **ret_path,
	       korch_error **err)
{
	const char *hex;
	int r = digest_check(digest, "descriptor", &hex, err);
	if (r < 0)
		return r;
	struct blob *b = hashmap_get(&l->blobs, hex);
	uint64_t size;
	if (!b && load_blob_in_store(l, hex, &size)) {
		r = load_add_store_blob(l, hex, size, err);
		if (r < 0)
			return r;
		b = hashmap_get(&l->blobs, hex);
	}
	if (!b && l->is_dir) {
		_cleanup_free_ char *rel = NULL;
		if (asprintf(&rel, "blobs/sha256/%s", hex) < 0)
			return error_oom(err);
		char got[SHA256_HEX_LEN + 1];
		_cleanup_free_ char *full = NULL;
		if (asprintf(&full, "%s/%s", l->path, rel) < 0)
			return error_oom(err);
		struct reader rd = { .fd = open(full, O_RDONLY | O_CLOEXEC) };
		if (rd.fd < 0 && errno == ENOENT)
			return error_set(err, KORCH_EINVALID, "blob %s is not in the image layout",
					 digest);
		if (rd.fd < 0)
			return error_errno(err, errno, "open %s", full);
		r = stage_stream(l, &rd, hex, got, err);
		close(rd.fd);
		if (r < 0)
			return r;
		b = hashmap_get(&l->blobs, hex);
	}
	if (!b)
		return error_set(err, KORCH_EINVALID, "blob %s is not in the archive", digest);
	if (want_size >= 0 && b->size != (uint64_t)want_size)
		return error_set(
			err, KORCH_EINVALID,
			"blob %s: size mismatch: it has %llu bytes, its descriptor says %lld",
			digest, (unsigned long long)b->size, (long long)want_size);
	*ret_path = b->path;
	return 0;
}

int
load_read_blob_json(struct load *l, const char *digest, json_int_t size, const char *what,
		    json_t **ret, korch_error **err)
{
	const char *path = NULL;
	int r = load_need_blob(l, digest, size, &path, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	r = read_file(path, IMAGE_JSON_MAX, &data, &len, err);
	if (r < 0)
		return korch_error_prefix(err, r, "%s %s", what, digest);
	_cleanup_free_ char *label = NULL;
	if (asprintf(&label, "%s %s", what, digest) < 0)
		return error_oom(err);
	json_t *j = NULL;
	r = parse_json(data, len, label, &j, err);
	if (r < 0)
		return r;
	if (!json_is_object(j)) {
		json_decref(j);
		return error_set(err, KORCH_EINVALID, "%s: not a JSON object", label);
	}
	*ret = j;
	return 0;
}

/* Reads a top-level file of the source: from memory (tar) or the directory. NULL if absent. */
int
load_read_top_file(struct load *l, const char *name, char *in_tar, json_t **ret, korch_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (!l->is_dir) {
		if (!in_tar) {
			*ret = NULL;
			return 0;
		}
		return parse_json(in_tar, strlen(in_tar), name, ret, err);
	}
	_cleanup_free_ char *full = NULL;
	if (asprintf(&full, "%s/%s", l->path, name) < 0)
		return error_oom(err);
	_cleanup_error_ korch_error *rerr = NULL;
	int r = read_file(full, IMAGE_JSON_MAX, &data, &len, &rerr);
	if (r < 0 && korch_error_errno(rerr) == ENOENT) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return error_propagate(err, &rerr, r);
	return parse_json(data, len, name, ret, err);
}

/* --- layers, commit, index --- */

static bool
layer_in_store(struct load *l, const char *hex)
{
	_cleanup_free_ char *p = image_store_file(l->store, "layers/sha256/%s", hex);
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
unpack_layers(struct load *l, korch_error **err)
{
	for (size_t k = 0; k < l->images.n; k++) {
		struct found_image *img = l->images.items[k];
		for (size_t i = 0; i < img->n_layers; i++) {
			struct layer_desc *ld = &img->layers[i];
			const char *hex = ld->diff_id + 7;
			const char *blob_path;
			int r = load_need_blob(l, ld->digest, (json_int_t)ld->size, &blob_path,
					       err);
			if (r < 0)
				return r;
			bool present = hashmap_contains(&l->layers, hex) || layer_in_store(l, hex);
			char size[32];
			format_size(ld->size, size);
			progress(l, "loading layer %zu/%zu %.19s... %s%s", i + 1, img->n_layers,
				 ld->digest, size, present ? " (already present)" : "");
			if (present)
				continue;
			char *dest = NULL;
			if (asprintf(&dest, "%s/layer-%s", l->stage, hex) < 0)
				return error_oom(err);
			r = layer_unpack(blob_path, dest, ld->diff_id, NULL, err);
			if (r < 0) {
				free(dest);
				return korch_error_prefix(err, r, "layer %s", ld->digest);
			}
			if (hashmap_put(&l->layers, hex, dest, NULL) < 0) {
				free(dest);
				return error_oom(err);
			}
		}
	}
	return 0;
}

/* Moves staged blobs and layers into the store, then syncs its filesystem. */
static int
commit(struct load *l, korch_error **err)
{
	size_t iter = 0;
	const char *hex;
	void *v;
	bool wrote = false;
	while (hashmap_next(&l->blobs, &iter, &hex, &v)) {
		struct blob *b = v;
		if (b->in_store)
			continue;
		_cleanup_free_ char *final = image_store_file(l->store, "blobs/sha256/%s", hex);
		if (!final)
			return error_oom(err);
		/* link, not rename: a copy another load put there first stays untouched. */
		if (link(b->path, final) < 0 && errno != EEXIST)
			return error_errno(err, errno, "link %s", final);
		wrote = true;
	}
	iter = 0;
	while (hashmap_next(&l->layers, &iter, &hex, &v)) {
		_cleanup_free_ char *final = image_store_file(l->store, "layers/sha256/%s", hex);
		if (!final)
			return error_oom(err);
		if (rename(v, final) < 0 && errno != EEXIST && errno != ENOTEMPTY)
			return error_errno(err, errno, "rename %s", (char *)v);
		wrote = true;
	}
	if (!wrote)
		return 0;
	_cleanup_close_ int fd = open(l->store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0)
		return error_errno(err, errno, "sync %s", l->store->dir);
	return 0;
}

static json_t *
image_record(struct found_image *img)
{
	json_t *layers = json_array(), *names = json_array(), *indexes = json_array();
	uint64_t size = img->config_size;
	for (size_t i = 0; layers && i < img->n_layers; i++) {
		struct layer_desc *ld = &img->layers[i];
		size += ld->size;
		json_array_append_new(layers,
				      json_pack("{s:s,s:s,s:I,s:s}", "digest", ld->digest, "diffID",
						ld->diff_id, "size", (json_int_t)ld->size,
						"mediaType", ld->media_type));
	}
	for (size_t i = 0; names && i < img->names.n; i++)
		json_array_append_new(names, json_string(img->names.items[i]));
	for (size_t i = 0; indexes && i < img->indexes.n; i++)
		json_array_append_new(indexes, json_string(img->indexes.items[i]));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	char loaded[32];
	format_rfc3339((int64_t)now.tv_sec * NSEC_PER_SEC + now.tv_nsec, false, loaded);
	if (!layers || json_array_size(layers) != img->n_layers ||
	    json_array_size(names) != img->names.n || json_array_size(indexes) != img->indexes.n) {
		json_decref(layers);
		json_decref(names);
		json_decref(indexes);
		return NULL;
	}
	return json_pack("{s:o,s:s,s:o,s:I,s:o,s:I,s:s}", "names", names, "manifest", img->manifest,
			 "indexes", indexes, "configSize", (json_int_t)img->config_size, "layers",
			 layers, "size", (json_int_t)size, "loaded", loaded);
}

static bool
names_have(json_t *names, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach (names, i, v)
		if (streq(json_string_value(v), name))
			return true;
	return false;
}

/* Takes name away from every image but keep_id (a name belongs to one image). */
static void
take_name(json_t *images, const char *name, const char *keep_id)
{
	const char *id;
	json_t *rec;
	json_object_foreach (images, id, rec) {
		if (streq(id, keep_id))
			continue;
		json_t *names = json_object_get(rec, "names");
		for (size_t i = json_array_size(names); i-- > 0;)
			if (streq(json_string_value(json_array_get(names, i)), name)) {
				log_info("image", "name %s moves from %s to %s", name, id, keep_id);
				json_array_remove(names, i);
			}
	}
}

static int
index_merge_fn(json_t *index, void *userdata, korch_error **err)
{
	struct load *l = userdata;
	json_t *images = json_object_get(index, "images");
	json_t *removed = json_object_get(index, "removed");
	for (size_t k = 0; k < l->images.n; k++) {
		struct found_image *img = l->images.items[k];
		json_t *rec = image_record(img);
		if (!rec)
			return error_oom(err);
		/* Names the image had stay, first; new ones follow. */
		json_t *names = json_array();
		if (!names || json_object_set_new(rec, "names", names) < 0) {
			json_decref(rec);
			return error_oom(err);
		}
		json_t *old = json_object_get(json_object_get(images, img->id), "names");
		size_t i;
		json_t *v;
		json_array_foreach (old, i, v)
			json_array_append(names, v);
		for (i = 0; i < img->names.n; i++)
			if (!names_have(names, img->names.items[i]))
				json_array_append_new(names, json_string(img->names.items[i]));
		json_array_foreach (names, i, v)
			take_name(images, json_string_value(v), img->id);
		json_object_del(removed, img->id);
		if (json_object_set_new(images, img->id, rec) < 0)
			return error_oom(err);
	}
	return 1;
}

static int
do_load(struct load *l, const char *name, json_t **ret_names, korch_error **err)
{
	struct stat st;
	if (stat(l->path, &st) < 0)
		return error_errno(err, errno, "stat");
	l->is_dir = S_ISDIR(st.st_mode);
	l->buf = malloc(COPY_BUF_SIZE);
	l->stage = image_store_file(l->store, "tmp/load-XXXXXX");
	if (!l->buf || !l->stage)
		return error_oom(err);
	if (!mkdtemp(l->stage)) {
		int e = errno;
		free(l->stage);
		l->stage = NULL;
		return error_errno(err, e, "create staging directory");
	}
	int r = l->is_dir ? 0 : stage_tar(l, err);
	if (r == 0)
		r = parse_source(l, name, err);
	if (r == 0)
		r = unpack_layers(l, err);
	if (r == 0)
		r = commit(l, err);
	if (r == 0)
		r = store_index_update(l->store, index_merge_fn, l, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *out = json_array();
	if (!out)
		return error_oom(err);
	for (size_t k = 0; k < l->images.n; k++) {
		struct found_image *img = l->images.items[k];
		const char *shown = img->names.n ? img->names.items[0] : img->id;
		if (json_array_append_new(out, json_string(shown)) < 0)
			return error_oom(err);
		if (img->names.n)
			progress(l, "loaded image %s (%.19s)", shown, img->id);
		else
			progress(l, "loaded image %s (no name: address it by its id)", img->id);
	}
	if (ret_names)
		*ret_names = steal_pointer(&out);
	return 0;
}

int
image_store_load(struct image_store *store, const char *path, const char *name,
		 image_progress_fn progress_fn, void *userdata, json_t **ret_names,
		 korch_error **err)
{
	struct load l = {
		.store = store,
		.path = path,
		.files = HASHMAP_INIT,
		.blobs = HASHMAP_INIT,
		.layers = HASHMAP_INIT,
		.images = PTRVEC_INIT,
		.platforms = STRBUF_INIT,
		.progress = progress_fn,
		.userdata = userdata,
	};
	/* Shared with other loads, exclusive with gc: what this load finds present stays. */
	_cleanup_close_ int gc_fd = -1;
	int r = store_lock(store, "gc.lock", LOCK_SH, &gc_fd, err);
	if (r == 0)
		r = do_load(&l, name, ret_names, err);
	load_clear(&l);
	if (r < 0)
		return korch_error_prefix(err, r, "load %s", path);
	return 0;
}
