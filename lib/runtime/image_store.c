/*
 * image_store.c - the image store's directory, locks and index: open, lookup, list, remove, gc.
 *
 * index.json:
 *   {"schemaVersion": 1,
 *    "images":  {"sha256:<config>": RECORD, ...},   what lookup and list see
 *    "removed": {"sha256:<config>": RECORD, ...}}   removed, content kept until gc
 *   RECORD = {"names": [...], "manifest": "sha256:..", "indexes": ["sha256:.."],
 *             "configSize": N, "layers": [{"digest", "diffID", "size", "mediaType"}],
 *             "size": N, "loaded": "RFC 3339"}
 * The image id is the config digest, as docker's is. Readers take no lock (the file is
 * replaced by rename); writers hold DIR/lock for their read-modify-write.
 */
#include <dirent.h>
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
#include "base/util.h"
#include "runtime/image_internal.h"

#define INDEX_SCHEMA_VERSION 1
#define MISSING_HINT "load it with: korchctl image load FILE"

char *
image_store_file(const struct image_store *store, const char *fmt, ...)
{
	_cleanup_free_ char *rest = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&rest, fmt, ap);
	va_end(ap);
	if (n < 0) {
		rest = NULL;
		return NULL;
	}
	char *s = NULL;
	if (asprintf(&s, "%s/%s", store->dir, rest) < 0)
		return NULL;
	return s;
}

int
store_lock(const struct image_store *store, const char *name, int op, int *ret_fd,
	   korch_error **err)
{
	_cleanup_free_ char *path = image_store_file(store, "%s", name);
	if (!path)
		return error_oom(err);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return error_errno(err, errno, "open %s", path);
	if (RETRY_EINTR(flock(fd, op)) < 0) {
		if (errno == EWOULDBLOCK)
			return error_set(err, KORCH_EBUSY, "%s is locked", path);
		return error_errno(err, errno, "lock %s", path);
	}
	*ret_fd = steal_fd(&fd);
	return 0;
}

/* Removes everything in tmp/: only called while holding gc.lock exclusively. */
static int
clean_tmp(const struct image_store *store, korch_error **err)
{
	_cleanup_free_ char *tmp = image_store_file(store, "tmp");
	if (!tmp)
		return error_oom(err);
	DIR *d = opendir(tmp);
	if (!d)
		return error_errno(err, errno, "open %s", tmp);
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", tmp, de->d_name) < 0) {
			r = error_oom(err);
			break;
		}
		log_info("image", "removing %s left by an interrupted load", p);
		r = rm_rf(p, err);
	}
	closedir(d);
	return r;
}

int
image_store_open(const char *dir, struct image_store **ret, korch_error **err)
{
	int r = mkdir_p(dir, 0700, err);
	if (r < 0)
		return korch_error_prefix(err, r, "open image store");
	_cleanup_(image_store_freep) struct image_store *store = calloc(1, sizeof(*store));
	if (!store)
		return error_oom(err);
	/* Canonical: libarchive refuses to write through any symlink on the path, the store's
	 * own prefix included. */
	store->dir = realpath(dir, NULL);
	if (!store->dir)
		return error_errno(err, errno, "open image store: %s", dir);
	static const char *const subdirs[] = { "blobs", "blobs/sha256", "layers", "layers/sha256",
					       "tmp" };
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		_cleanup_free_ char *p = image_store_file(store, "%s", subdirs[i]);
		if (!p)
			return error_oom(err);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return error_errno(err, errno, "open image store: mkdir %s", p);
	}
	/* Staging of interrupted loads goes only while no load runs (none holds gc.lock). */
	_cleanup_close_ int gc_fd = -1;
	_cleanup_error_ korch_error *lock_err = NULL;
	r = store_lock(store, "gc.lock", LOCK_EX | LOCK_NB, &gc_fd, &lock_err);
	if (r < 0 && r != KORCH_EBUSY) {
		error_propagate(err, &lock_err, r);
		return korch_error_prefix(err, r, "open image store");
	} else if (r == 0) {
		r = clean_tmp(store, err);
		if (r < 0)
			return korch_error_prefix(err, r, "open image store");
	}
	*ret = steal_pointer(&store);
	return 0;
}

void
image_store_free(struct image_store *store)
{
	if (!store)
		return;
	free(store->dir);
	free(store);
}

const char *
image_store_dir(const struct image_store *store)
{
	return store->dir;
}

static int
index_check(json_t *index, const char *path, korch_error **err)
{
	json_t *v = json_object_get(index, "schemaVersion");
	if (!json_is_integer(v))
		return error_set(err, KORCH_EINVALID, "%s: no schemaVersion", path);
	if (json_integer_value(v) != INDEX_SCHEMA_VERSION)
		return error_set(err, KORCH_EUNSUPPORTED,
				 "%s: schemaVersion %lld is not supported (this korch knows %d)",
				 path, (long long)json_integer_value(v), INDEX_SCHEMA_VERSION);
	static const char *const maps[] = { "images", "removed" };
	for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
		json_t *m = json_object_get(index, maps[i]);
		if (!m) {
			if (json_object_set_new(index, maps[i], json_object()) < 0)
				return error_oom(err);
		} else if (!json_is_object(m)) {
			return error_set(err, KORCH_EINVALID, "%s: \"%s\" is not an object", path,
					 maps[i]);
		}
	}
	return 0;
}

int
store_index_read(const struct image_store *store, json_t **ret, korch_error **err)
{
	_cleanup_free_ char *path = image_store_file(store, "index.json");
	if (!path)
		return error_oom(err);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	_cleanup_error_ korch_error *rerr = NULL;
	int r = read_file(path, STORE_INDEX_MAX, &data, &len, &rerr);
	_cleanup_json_ json_t *index = NULL;
	if (r < 0) {
		if (korch_error_errno(rerr) != ENOENT)
			return error_propagate(err, &rerr, r);
		index = json_pack("{s:i}", "schemaVersion", INDEX_SCHEMA_VERSION);
		if (!index)
			return error_oom(err);
	} else {
		json_error_t jerr;
		index = json_loadb(data, len, 0, &jerr);
		if (!index || !json_is_object(index))
			return error_set(err, KORCH_EINVALID, "%s is corrupt: %s", path,
					 index ? "not an object" : jerr.text);
	}
	r = index_check(index, path, err);
	if (r < 0)
		return r;
	*ret = steal_pointer(&index);
	return 0;
}

int
store_index_update(const struct image_store *store,
		   int (*fn)(json_t *index, void *userdata, korch_error **err), void *userdata,
		   korch_error **err)
{
	_cleanup_close_ int lock_fd = -1;
	int r = store_lock(store, "lock", LOCK_EX, &lock_fd, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *index = NULL;
	r = store_index_read(store, &index, err);
	if (r < 0)
		return r;
	r = fn(index, userdata, err);
	if (r <= 0)
		return r;
	_cleanup_free_ char *text = json_dumps(index, JSON_COMPACT);
	_cleanup_free_ char *path = image_store_file(store, "index.json");
	if (!text || !path)
		return error_oom(err);
	return write_file_atomic(path, text, strlen(text), 0600, err);
}

/* --- resolving references --- */

/* What a reference resolved to. */
struct match {
	char *id;      /* the image id */
	char *name;    /* the name that matched, or NULL when matched by id or by digest */
	char *display; /* the reference for messages: normalised, or the id as given */
};

static void
match_clear(struct match *m)
{
	free(m->id);
	free(m->name);
	free(m->display);
}

static bool
json_array_has_string(json_t *array, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach (array, i, v)
		if (streq(json_string_value(v), s))
			return true;
	return false;
}

/* Whether the image has a name in repository "domain/path". */
static bool
has_name_in_repo(json_t *record, const char *repo)
{
	size_t n = strlen(repo), i;
	json_t *v;
	json_array_foreach (json_object_get(record, "names"), i, v) {
		const char *name = json_string_value(v);
		if (name && strncmp(name, repo, n) == 0 && (name[n] == ':' || name[n] == '@'))
			return true;
	}
	return false;
}

/* ^(sha256:)?[0-9a-f]{12,64}$: a full id or a prefix of one. */
static const char *
id_prefix(const char *ref)
{
	const char *hex = startswith(ref, "sha256:");
	hex = hex ? hex : ref;
	size_t n = strlen(hex);
	if (n < 12 || n > SHA256_HEX_LEN)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return NULL;
	return hex;
}

static int
match_by_id_prefix(json_t *images, const char *hex, struct match *m, korch_error **err)
{
	const char *id;
	json_t *rec;
	size_t found = 0, n = strlen(hex);
	json_object_foreach (images, id, rec) {
		if (strncmp(id + 7, hex, n) != 0)
			continue;
		if (found++ == 0 && !(m->id = strdup(id)))
			return error_oom(err);
	}
	if (found > 1)
		return error_set(err, KORCH_EINVALID, "image id prefix \"%s\" matches %zu images",
				 hex, found);
	return found ? 1 : 0;
}

/*
 * Resolves ref in the index's images. Returns 1 and fills m when found, 0 when not (m->display
 * still set for the message), or an error (an invalid reference, an ambiguous id prefix).
 * by_digest: "name@D" may match an image by its manifest or index digest.
 */
static int
resolve(json_t *index, const char *ref, bool by_digest, struct match *m, korch_error **err)
{
	json_t *images = json_object_get(index, "images");
	*m = (struct match){ 0 };
	const char *full = startswith(ref, "sha256:");
	if ((full && is_sha256_hex(full)) || is_sha256_hex(ref)) {
		if (asprintf(&m->display, "sha256:%s", full ? full : ref) < 0) {
			m->display = NULL;
			return error_oom(err);
		}
		if (!json_object_get(images, m->display))
			return 0;
		return (m->id = strdup(m->display)) ? 1 : error_oom(err);
	}
	struct image_ref r;
	_cleanup_error_ korch_error *perr = NULL;
	int rc = image_ref_parse(ref, &r, &perr);
	if (rc < 0) {
		const char *hex = id_prefix(ref);
		if (!hex)
			return error_propagate(err, &perr, rc);
		if (!(m->display = strdup(ref)))
			return error_oom(err);
		return match_by_id_prefix(images, hex, m, err);
	}
	m->display = image_ref_string(&r);
	_cleanup_free_ char *repo = NULL;
	if (!m->display || asprintf(&repo, "%s/%s", r.domain, r.path) < 0) {
		repo = NULL;
		image_ref_clear(&r);
		return error_oom(err);
	}
	const char *id;
	json_t *rec;
	json_object_foreach (images, id, rec) {
		if (json_array_has_string(json_object_get(rec, "names"), m->display)) {
			image_ref_clear(&r);
			m->id = strdup(id);
			m->name = strdup(m->display);
			return m->id && m->name ? 1 : error_oom(err);
		}
	}
	if (by_digest && r.digest) {
		json_object_foreach (images, id, rec) {
			bool same =
				streq(json_string_value(json_object_get(rec, "manifest")),
				      r.digest) ||
				json_array_has_string(json_object_get(rec, "indexes"), r.digest);
			if (same && has_name_in_repo(rec, repo)) {
				image_ref_clear(&r);
				return (m->id = strdup(id)) ? 1 : error_oom(err);
			}
		}
	}
	image_ref_clear(&r);
	const char *hex = id_prefix(ref);
	return hex ? match_by_id_prefix(images, hex, m, err) : 0;
}

/* --- lookup --- */

void
image_free(struct image *img)
{
	if (!img)
		return;
	free(img->id);
	free(img->name);
	free(img->manifest);
	for (size_t i = 0; i < img->n_layers; i++)
		free(img->layer_dirs[i]);
	free(img->layer_dirs);
	json_decref(img->config);
	free(img);
}
DEFINE_CLEANUP_FUNC(image_free, struct image, image_free)

static int
read_config(struct image_store *store, const char *id, json_t **ret, korch_error **err)
{
	_cleanup_free_ char *path = image_store_file(store, "blobs/sha256/%s", id + 7);
	if (!path)
		return error_oom(err);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = read_file(path, IMAGE_JSON_MAX, &data, &len, err);
	if (r < 0)
		return korch_error_prefix(err, KORCH_ENOTFOUND, "config blob");
	json_error_t jerr;
	_cleanup_json_ json_t *config = json_loadb(data, len, 0, &jerr);
	if (!json_is_object(config))
		return error_set(err, KORCH_EINVALID, "config blob %s: %s", id,
				 config ? "not an object" : jerr.text);
	json_t *c = json_object_get(config, "config");
	*ret = json_is_object(c) ? json_incref(c) : json_object();
	return *ret ? 0 : error_oom(err);
}

static int
build_image(struct image_store *store, json_t *rec, struct match *m, struct image **ret,
	    korch_error **err)
{
	_cleanup_(image_freep) struct image *img = calloc(1, sizeof(*img));
	if (!img)
		return error_oom(err);
	const char *first = json_string_value(json_array_get(json_object_get(rec, "names"), 0));
	const char *manifest = json_string_value(json_object_get(rec, "manifest"));
	img->id = strdup(m->id);
	img->name = m->name ? strdup(m->name) : first ? strdup(first) : NULL;
	img->manifest = manifest ? strdup(manifest) : NULL;
	if (!img->id || (!img->name && (m->name || first)) || (manifest && !img->manifest))
		return error_oom(err);
	json_t *layers = json_object_get(rec, "layers");
	img->layer_dirs = calloc(json_array_size(layers) + 1, sizeof(char *));
	if (!img->layer_dirs)
		return error_oom(err);
	size_t i;
	json_t *layer;
	json_array_foreach (layers, i, layer) {
		const char *diff_id = json_string_value(json_object_get(layer, "diffID"));
		const char *hex;
		int r = digest_check(diff_id, "diffID", &hex, err);
		if (r < 0)
			return r;
		char *dir = image_store_file(store, "layers/sha256/%s", hex);
		if (!dir)
			return error_oom(err);
		img->layer_dirs[img->n_layers++] = dir;
		struct stat st;
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return error_set(err, KORCH_ENOTFOUND,
					 "layer %s is missing from the store; load the image again",
					 diff_id);
	}
	int r = read_config(store, m->id, &img->config, err);
	if (r < 0)
		return r;
	*ret = steal_pointer(&img);
	return 0;
}

int
image_store_lookup(struct image_store *store, const char *ref, struct image **ret,
		   korch_error **err)
{
	_cleanup_json_ json_t *index = NULL;
	int r = store_index_read(store, &index, err);
	if (r < 0)
		return r;
	struct match m;
	r = resolve(index, ref, true, &m, err);
	if (r == 0)
		r = error_set(err, KORCH_ENOTFOUND,
			      "image \"%s\" not found in the local store; " MISSING_HINT,
			      m.display);
	if (r > 0) {
		json_t *rec = json_object_get(json_object_get(index, "images"), m.id);
		r = build_image(store, rec, &m, ret, err);
		if (r < 0)
			korch_error_prefix(err, r, "image \"%s\"", m.display);
	}
	match_clear(&m);
	return r;
}

/* --- list --- */

static int
compare_rows(const void *a, const void *b)
{
	json_t *ra = *(json_t *const *)a, *rb = *(json_t *const *)b;
	const char *na = json_string_value(json_object_get(ra, "name"));
	const char *nb = json_string_value(json_object_get(rb, "name"));
	if (na && nb)
		return strcmp(na, nb);
	if (na || nb)
		return na ? -1 : 1;
	return strcmp(json_string_value(json_object_get(ra, "id")),
		      json_string_value(json_object_get(rb, "id")));
}

int
image_store_list(struct image_store *store, json_t **ret, korch_error **err)
{
	_cleanup_json_ json_t *index = NULL;
	int r = store_index_read(store, &index, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *rows = json_array();
	if (!rows)
		return error_oom(err);
	const char *id;
	json_t *rec;
	json_object_foreach (json_object_get(index, "images"), id, rec) {
		json_t *names = json_object_get(rec, "names");
		json_t *size = json_object_get(rec, "size");
		size_t n = json_array_size(names);
		for (size_t i = 0; i < (n ? n : 1); i++) {
			json_t *row = json_pack("{s:O,s:s,s:I}", "name",
						n ? json_array_get(names, i) : json_null(), "id",
						id, "size", (json_int_t)json_integer_value(size));
			if (!row || json_array_append_new(rows, row) < 0)
				return error_oom(err);
		}
	}
	size_t n = json_array_size(rows);
	_cleanup_free_ json_t **sorted = calloc(n + 1, sizeof(json_t *));
	_cleanup_json_ json_t *out = json_array();
	if (!sorted || !out)
		return error_oom(err);
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_array_get(rows, i);
	qsort(sorted, n, sizeof(json_t *), compare_rows);
	for (size_t i = 0; i < n; i++)
		if (json_array_append(out, sorted[i]) < 0)
			return error_oom(err);
	*ret = steal_pointer(&out);
	return 0;
}

/* --- remove --- */

/* Moves an image from "images" to "removed", dropping its names. */
static int
retire_image(json_t *index, const char *id, korch_error **err)
{
	json_t *images = json_object_get(index, "images");
	json_t *rec = json_incref(json_object_get(images, id));
	json_object_del(images, id);
	int r = json_object_set_new(rec, "names", json_array()) < 0 ||
				json_object_set_new(json_object_get(index, "removed"), id, rec) < 0
			? error_oom(err)
			: 0;
	return r;
}

static int
remove_fn(json_t *index, void *userdata, korch_error **err)
{
	const char *ref = userdata;
	struct match m;
	int r = resolve(index, ref, false, &m, err);
	if (r == 0)
		r = error_set(err, KORCH_ENOTFOUND, "image \"%s\" not found in the local store",
			      m.display);
	if (r > 0) {
		json_t *rec = json_object_get(json_object_get(index, "images"), m.id);
		json_t *names = json_object_get(rec, "names");
		if (m.name) {
			size_t i;
			json_t *v;
			json_array_foreach (names, i, v)
				if (streq(json_string_value(v), m.name))
					break;
			json_array_remove(names, i);
		}
		r = (!m.name || json_array_size(names) == 0) ? retire_image(index, m.id, err) : 0;
		if (r == 0) {
			log_info("image", "removed %s (%s)", m.display, m.id);
			r = 1;
		}
	}
	match_clear(&m);
	return r;
}

int
image_store_remove(struct image_store *store, const char *ref, korch_error **err)
{
	int r = store_index_update(store, remove_fn, (void *)ref, err);
	return r < 0 ? korch_error_prefix(err, r, "remove image") : 0;
}

/* --- gc --- */

/* What gc keeps, and what it was told. */
struct gc_state {
	unsigned flags;           /* IMAGE_GC_* */
	image_in_use_fn in_use;   /* may be NULL */
	void *userdata;           /* for in_use */
	struct hashmap blobs;     /* hex -> (void *)1: referenced blobs */
	struct hashmap layers;    /* hex -> (void *)1: referenced layers */
	struct image_gc_stats st; /* counts */
};

static int
keep_digest(struct hashmap *set, const char *digest, korch_error **err)
{
	const char *hex;
	if (!digest || digest_check(digest, "digest", &hex, NULL) < 0)
		return 0;
	return hashmap_put(set, hex, (void *)1, NULL) < 0 ? error_oom(err) : 0;
}

static int
keep_record(struct gc_state *gc, const char *id, json_t *rec, korch_error **err)
{
	int r = keep_digest(&gc->blobs, id, err);
	if (r == 0)
		r = keep_digest(&gc->blobs, json_string_value(json_object_get(rec, "manifest")),
				err);
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(rec, "indexes"), i, v)
		if (r == 0)
			r = keep_digest(&gc->blobs, json_string_value(v), err);
	json_array_foreach (json_object_get(rec, "layers"), i, v) {
		if (r == 0)
			r = keep_digest(&gc->blobs, json_string_value(json_object_get(v, "digest")),
					err);
		if (r == 0)
			r = keep_digest(&gc->layers,
					json_string_value(json_object_get(v, "diffID")), err);
	}
	return r;
}

static bool
gc_in_use(struct gc_state *gc, const char *id)
{
	return gc->in_use && gc->in_use(id, gc->userdata);
}

/* Drops removed (and, when pruning, unused) records; collects what the rest reference. */
static int
gc_index_fn(json_t *index, void *userdata, korch_error **err)
{
	struct gc_state *gc = userdata;
	json_t *images = json_object_get(index, "images");
	json_t *removed = json_object_get(index, "removed");
	bool changed = false;
	const char *id;
	json_t *rec;
	void *tmp;
	if (gc->flags & IMAGE_GC_PRUNE_UNUSED) {
		json_object_foreach_safe (images, tmp, id, rec) {
			if (!gc_in_use(gc, id)) {
				log_info("image", "gc: pruning unused image %s", id);
				json_object_del(images, id);
				gc->st.images_removed++;
				changed = true;
			}
		}
	}
	json_object_foreach_safe (removed, tmp, id, rec) {
		if (!gc_in_use(gc, id)) {
			json_object_del(removed, id);
			gc->st.images_removed++;
			changed = true;
		}
	}
	json_object_foreach (images, id, rec) {
		int r = keep_record(gc, id, rec, err);
		if (r < 0)
			return r;
	}
	json_object_foreach (removed, id, rec) {
		int r = keep_record(gc, id, rec, err);
		if (r < 0)
			return r;
	}
	return changed ? 1 : 0;
}

/* Sum of the sizes of the regular files below the directory open at fd (fd is consumed). */
static uint64_t
tree_bytes(int fd)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	uint64_t total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			total += (uint64_t)st.st_size;
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				total += tree_bytes(sub);
		}
	}
	closedir(d);
	return total;
}

/* Removes every entry of DIR/sub not in keep. */
static int
sweep(struct image_store *store, const char *sub, struct hashmap *keep, bool layers,
      struct gc_state *gc, korch_error **err)
{
	_cleanup_free_ char *dir = image_store_file(store, "%s", sub);
	if (!dir)
		return error_oom(err);
	DIR *d = opendir(dir);
	if (!d)
		return error_errno(err, errno, "open %s", dir);
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
		    hashmap_contains(keep, de->d_name))
			continue;
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
			r = error_oom(err);
			break;
		}
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			gc->st.bytes_freed += fd >= 0 ? tree_bytes(fd) : 0;
		} else {
			gc->st.bytes_freed += (uint64_t)st.st_size;
		}
		r = rm_rf(p, err);
		if (r == 0) {
			if (layers)
				gc->st.layers_removed++;
			else
				gc->st.blobs_removed++;
			log_debug("image", "gc: removed %s", p);
		}
	}
	closedir(d);
	return r;
}

int
image_store_gc(struct image_store *store, unsigned flags, image_in_use_fn in_use, void *userdata,
	       struct image_gc_stats *ret_stats, korch_error **err)
{
	struct gc_state gc = { .flags = flags,
			       .in_use = in_use,
			       .userdata = userdata,
			       .blobs = HASHMAP_INIT,
			       .layers = HASHMAP_INIT };
	/* Exclusive against every load: a load's blobs are referenced only once it is indexed. */
	_cleanup_close_ int gc_fd = -1;
	int r = store_lock(store, "gc.lock", LOCK_EX, &gc_fd, err);
	if (r == 0)
		r = store_index_update(store, gc_index_fn, &gc, err);
	if (r == 0)
		r = sweep(store, "blobs/sha256", &gc.blobs, false, &gc, err);
	if (r == 0)
		r = sweep(store, "layers/sha256", &gc.layers, true, &gc, err);
	if (r == 0)
		r = clean_tmp(store, err);
	hashmap_free(&gc.blobs, NULL);
	hashmap_free(&gc.layers, NULL);
	if (r < 0)
		return korch_error_prefix(err, r, "image gc");
	log_info("image", "gc: %zu images, %zu blobs, %zu layers removed, %llu bytes freed",
		 gc.st.images_removed, gc.st.blobs_removed, gc.st.layers_removed,
		 (unsigned long long)gc.st.bytes_freed);
	if (ret_stats)
		*ret_stats = gc.st;
	return 0;
}
