/*
 * image_parse.c - finding the images of a source: OCI image layouts (index.json, nested
 * indexes, the image for this platform, manifests, configs) and docker-archives
 * (manifest.json), and naming them (annotations, RepoTags, the name given at load).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/util.h"
#include "runtime/image_load.h"

#define MAX_INDEX_DEPTH 4

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

#define ANNOTATION_CONTAINERD_NAME "io.containerd.image.name"
#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

/* The GOARCH name of this machine, as image platforms spell it. */
static const char *
host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__arm__)
	return "arm";
#elif defined(__i386__)
	return "386";
#else
#error "add this architecture's GOARCH name"
#endif
}

static bool
platform_matches(json_t *platform)
{
	return streq(json_string_value(json_object_get(platform, "os")), "linux") &&
	       streq(json_string_value(json_object_get(platform, "architecture")), host_arch());
}

/* Remembers a platform passed over, for the "no image for linux/amd64" message. */
static void
note_platform(struct load *l, json_t *platform)
{
	const char *os = json_string_value(json_object_get(platform, "os"));
	const char *arch = json_string_value(json_object_get(platform, "architecture"));
	const char *variant = json_string_value(json_object_get(platform, "variant"));
	strbuf_printf(&l->platforms, "%s%s/%s%s%s", l->platforms.len ? ", " : "", os ? os : "?",
		      arch ? arch : "?", variant ? "/" : "", variant ? variant : "");
}

static bool
is_layer_media_type(const char *mt)
{
	static const char *const known[] = {
		MT_OCI_LAYER,
		MT_OCI_LAYER "+gzip",
		MT_OCI_LAYER "+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (streq(mt, known[i]))
			return true;
	return false;
}

/*
 * Checks a config (platform, rootfs) and returns its diff_ids array (borrowed from config).
 */
static int
check_config(json_t *config, const char *id, size_t n_layers, json_t **ret_diff_ids,
	     korch_error **err)
{
	const char *os = json_string_value(json_object_get(config, "os"));
	const char *arch = json_string_value(json_object_get(config, "architecture"));
	if ((os && !streq(os, "linux")) || (arch && !streq(arch, host_arch())))
		return error_set(err, KORCH_EINVALID,
				 "image %s is for %s/%s; this machine runs linux/%s", id,
				 os ? os : "?", arch ? arch : "?", host_arch());
	json_t *rootfs = json_object_get(config, "rootfs");
	json_t *diff_ids = json_object_get(rootfs, "diff_ids");
	if (!streq(json_string_value(json_object_get(rootfs, "type")), "layers") ||
	    !json_is_array(diff_ids))
		return error_set(
			err, KORCH_EINVALID,
			"config %s: rootfs must be {\"type\": \"layers\", \"diff_ids\": [...]}",
			id);
	if (json_array_size(diff_ids) != n_layers)
		return error_set(err, KORCH_EINVALID,
				 "config %s: rootfs.diff_ids has %zu entries for %zu layers", id,
				 json_array_size(diff_ids), n_layers);
	*ret_diff_ids = diff_ids;
	return 0;
}

static int
set_layer(struct layer_desc *layer, const char *digest, const char *diff_id, const char *mt,
	  uint64_t size, korch_error **err)
{
	const char *hex;
	int r = digest_check(diff_id, "rootfs.diff_ids", &hex, err);
	if (r < 0)
		return r;
	layer->digest = strdup(digest);
	layer->diff_id = strdup(diff_id);
	layer->media_type = strdup(mt);
	layer->size = size;
	return layer->digest && layer->diff_id && layer->media_type ? 0 : error_oom(err);
}

/* Parses an image manifest (already read) into img: config, layers. */
static int
parse_manifest(struct load *l, json_t *m, const char *digest, struct found_image *img,
	       korch_error **err)
{
	if (json_integer_value(json_object_get(m, "schemaVersion")) != 2)
		return error_set(err, KORCH_EINVALID, "manifest %s: schemaVersion is not 2",
				 digest);
	json_t *cdesc = json_object_get(m, "config");
	const char *cmt = json_string_value(json_object_get(cdesc, "mediaType"));
	const char *cdigest = json_string_value(json_object_get(cdesc, "digest"));
	json_t *csize = json_object_get(cdesc, "size");
	if (!streq(cmt, MT_OCI_CONFIG) && !streq(cmt, MT_DOCKER_CONFIG))
		return error_set(err, KORCH_EUNSUPPORTED,
				 "manifest %s: config media type \"%s\" is not a container image",
				 digest, cmt ? cmt : "");
	if (!json_is_integer(csize))
		return error_set(err, KORCH_EINVALID, "manifest %s: config has no size", digest);
	_cleanup_json_ json_t *config = NULL;
	int r = load_read_blob_json(l, cdigest, json_integer_value(csize), "config", &config, err);
	if (r < 0)
		return r;
	json_t *layers = json_object_get(m, "layers");
	if (!json_is_array(layers))
		return error_set(err, KORCH_EINVALID, "manifest %s: no layers", digest);
	json_t *diff_ids;
	r = check_config(config, cdigest, json_array_size(layers), &diff_ids, err);
	if (r < 0)
		return r;
	img->id = strdup(cdigest);
	img->manifest = strdup(digest);
	img->config_size = (uint64_t)json_integer_value(csize);
	img->layers = calloc(json_array_size(layers) + 1, sizeof(*img->layers));
	if (!img->id || !img->manifest || !img->layers)
		return error_oom(err);
	size_t i;
	json_t *ld;
	json_array_foreach (layers, i, ld) {
		const char *mt = json_string_value(json_object_get(ld, "mediaType"));
		const char *ldigest = json_string_value(json_object_get(ld, "digest"));
		json_t *lsize = json_object_get(ld, "size");
		const char *hex;
		r = digest_check(ldigest, "layer", &hex, err);
		if (r < 0)
			return korch_error_prefix(err, r, "manifest %s", digest);
		if (!is_layer_media_type(mt))
			return error_set(err, KORCH_EUNSUPPORTED,
					 "layer %s: media type \"%s\" is not supported", ldigest,
					 mt ? mt : "");
		if (!json_is_integer(lsize) || json_integer_value(lsize) < 0)
			return error_set(err, KORCH_EINVALID, "layer %s: no size", ldigest);
		r = set_layer(&img->layers[i], ldigest,
			      json_string_value(json_array_get(diff_ids, i)), mt,
			      (uint64_t)json_integer_value(lsize), err);
		if (r < 0)
			return korch_error_prefix(err, r, "config %s", cdigest);
		img->n_layers++;
	}
	return 0;
}

static bool
is_index(const char *mt, json_t *doc)
{
	if (mt)
		return streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST);
	return json_is_array(json_object_get(doc, "manifests"));
}

/* From an index's manifests, the one for this platform; NULL (and platforms noted) if none. */
static json_t *
pick_platform(struct load *l, json_t *manifests)
{
	json_t *best = NULL, *d;
	size_t i, with_platform = 0;
	json_array_foreach (manifests, i, d) {
		json_t *platform = json_object_get(d, "platform");
		if (!platform)
			continue;
		with_platform++;
		if (!platform_matches(platform)) {
			note_platform(l, platform);
			continue;
		}
		/* amd64 may come as several variants (v2, v3): the plain one runs everywhere. */
		if (!best || (json_object_get(json_object_get(best, "platform"), "variant") &&
			      !json_object_get(platform, "variant")))
			best = d;
	}
	if (!best && with_platform == 0 && json_array_size(manifests) == 1)
		return json_array_get(manifests, 0);
	return best;
}

/*
 * Follows a descriptor (from index.json or a nested index) down to an image manifest,
 * filling img. Returns 1 when the descriptor is for another platform and was passed over.
 */
static int
resolve_descriptor(struct load *l, json_t *desc, int depth, struct found_image *img,
		   korch_error **err)
{
	if (depth > MAX_INDEX_DEPTH)
		return error_set(err, KORCH_EINVALID, "indexes nested more than %d deep",
				 MAX_INDEX_DEPTH);
	json_t *platform = json_object_get(desc, "platform");
	if (platform && !platform_matches(platform)) {
		note_platform(l, platform);
		return 1;
	}
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	json_t *size = json_object_get(desc, "size");
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	if (!json_is_integer(size))
		return error_set(err, KORCH_EINVALID, "descriptor %s has no size",
				 digest ? digest : "(no digest)");
	_cleanup_json_ json_t *doc = NULL;
	int r = load_read_blob_json(l, digest, json_integer_value(size), "manifest", &doc, err);
	if (r < 0)
		return r;
	if (!mt)
		mt = json_string_value(json_object_get(doc, "mediaType"));
	if (is_index(mt, doc)) {
		char *copy = strdup(digest);
		if (!copy || ptrvec_push(&img->indexes, copy) < 0) {
			free(copy);
			return error_oom(err);
		}
		json_t *child = pick_platform(l, json_object_get(doc, "manifests"));
		if (!child)
			return error_set(err, KORCH_EINVALID,
					 "index %s has no image for linux/%s (it has: %s)", digest,
					 host_arch(),
					 l->platforms.len ? strbuf_str(&l->platforms) : "none");
		return resolve_descriptor(l, child, depth + 1, img, err);
	}
	if (mt && !streq(mt, MT_OCI_MANIFEST) && !streq(mt, MT_DOCKER_MANIFEST))
		return error_set(
			err, KORCH_EUNSUPPORTED,
			"descriptor %s: media type \"%s\" is neither an image index nor an image manifest",
			digest, mt);
	return parse_manifest(l, doc, digest, img, err);
}

static int
push_name(struct ptrvec *names, const char *ref, const char *what, korch_error **err)
{
	char *n = NULL;
	int r = image_normalize_name(ref, &n, err);
	if (r < 0)
		return korch_error_prefix(err, r, "%s", what);
	for (size_t i = 0; i < names->n; i++) {
		if (streq(names->items[i], n)) {
			free(n);
			return 0;
		}
	}
	if (ptrvec_push(names, n) < 0) {
		free(n);
		return error_oom(err);
	}
	return 0;
}

/* Names from a descriptor's annotations (see image_store_load in image.h). */
static int
annotation_names(json_t *desc, struct found_image *img, korch_error **err)
{
	json_t *ann = json_object_get(desc, "annotations");
	const char *full = json_string_value(json_object_get(ann, ANNOTATION_CONTAINERD_NAME));
	const char *ref = json_string_value(json_object_get(ann, ANNOTATION_REF_NAME));
	int r = 0;
	if (full)
		r = push_name(&img->names, full, "index.json: " ANNOTATION_CONTAINERD_NAME, err);
	if (r == 0 && ref) {
		if (strpbrk(ref, ":/@")) {
			if (!full)
				r = push_name(&img->names, ref, "index.json: " ANNOTATION_REF_NAME,
					      err);
		} else if (image_tag_valid(ref)) {
			free(img->tag);
			img->tag = strdup(ref);
			if (!img->tag)
				r = error_oom(err);
		} else {
			r = error_set(err, KORCH_EINVALID,
				      "index.json: " ANNOTATION_REF_NAME
				      " \"%s\" is neither a reference nor a tag",
				      ref);
		}
	}
	return r;
}

/* Adds img to the load, merging it into an image with the same id found before. */
static int
add_image(struct load *l, struct found_image *img, korch_error **err)
{
	for (size_t i = 0; i < l->images.n; i++) {
		struct found_image *other = l->images.items[i];
		if (!streq(other->id, img->id))
			continue;
		for (size_t k = 0; k < img->names.n; k++) {
			if (ptrvec_push(&other->names, img->names.items[k]) < 0)
				return error_oom(err);
			img->names.items[k] = NULL;
		}
		if (!other->tag) {
			other->tag = img->tag;
			img->tag = NULL;
		}
		found_image_free(img);
		return 0;
	}
	if (ptrvec_push(&l->images, img) < 0) {
		found_image_free(img);
		return error_oom(err);
	}
	return 0;
}

static int
parse_oci(struct load *l, json_t *layout, korch_error **err)
{
	const char *version = json_string_value(json_object_get(layout, "imageLayoutVersion"));
	if (!version || !startswith(version, "1."))
		return error_set(err, KORCH_EUNSUPPORTED,
				 "oci-layout: imageLayoutVersion \"%s\" is not supported",
				 version ? version : "");
	_cleanup_json_ json_t *index = NULL;
	int r = load_read_top_file(l, "index.json", l->index_json, &index, err);
	if (r < 0)
		return r;
	json_t *manifests = json_object_get(index, "manifests");
	if (!index || !json_is_array(manifests))
		return error_set(err, KORCH_EINVALID, "index.json is missing or has no manifests");
	size_t i;
	json_t *desc;
	json_array_foreach (manifests, i, desc) {
		struct found_image *img = calloc(1, sizeof(*img));
		if (!img)
			return error_oom(err);
		r = resolve_descriptor(l, desc, 0, img, err);
		if (r == 0)
			r = annotation_names(desc, img, err);
		if (r != 0) {
			found_image_free(img);
			if (r < 0)
				return r;
			continue;
		}
		r = add_image(l, img, err);
		if (r < 0)
			return r;
	}
	if (l->images.n == 0)
		return error_set(err, KORCH_EINVALID,
				 "index.json has no image for linux/%s (it has: %s)", host_arch(),
				 l->platforms.len ? strbuf_str(&l->platforms) : "none");
	return 0;
}

/* The media type a docker-archive layer file has, from its first bytes. */
static const char *
sniff_layer_type(const char *path)
{
	unsigned char magic[4] = { 0 };
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic)) {
		if (magic[0] == 0x1f && magic[1] == 0x8b)
			return MT_OCI_LAYER "+gzip";
		if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
			return MT_OCI_LAYER "+zstd";
	}
	return MT_OCI_LAYER;
}

/* Stores a manifest written for a docker-archive image, so every image has one. */
static int
synthesize_manifest(struct load *l, struct found_image *img, korch_error **err)
{
	_cleanup_json_ json_t *layers = json_array();
	if (!layers)
		return error_oom(err);
	for (size_t i = 0; i < img->n_layers; i++) {
		json_t *d =
			json_pack("{s:s,s:s,s:I}", "mediaType", img->layers[i].media_type, "digest",
				  img->layers[i].digest, "size", (json_int_t)img->layers[i].size);
		if (!d || json_array_append_new(layers, d) < 0)
			return error_oom(err);
	}
	_cleanup_json_ json_t *m =
		json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:O}", "schemaVersion", 2, "mediaType",
			  MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest", img->id,
			  "size", (json_int_t)img->config_size, "layers", layers);
	_cleanup_free_ char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	if (!text)
		return error_oom(err);
	char digest[DIGEST_STR_LEN + 1];
	sha256_digest_of(text, strlen(text), digest);
	img->manifest = strdup(digest);
	if (!img->manifest)
		return error_oom(err);
	const char *hex = digest + 7;
	uint64_t size;
	if (hashmap_contains(&l->blobs, hex))
		return 0;
	if (load_blob_in_store(l, hex, &size))
		return load_add_store_blob(l, hex, size, err);
	char *path = NULL;
	if (asprintf(&path, "%s/%s", l->stage, hex) < 0)
		return error_oom(err);
	int r = write_file_atomic(path, text, strlen(text), 0600, err);
	if (r < 0) {
		free(path);
		return r;
	}
	return load_add_blob(l, hex, path, strlen(text), false, err);
}

/* One entry of a docker-archive's manifest.json. */
static int
parse_docker_entry(struct load *l, json_t *entry, struct found_image *img, korch_error **err)
{
	char hex[SHA256_HEX_LEN + 1];
	int r = load_need_file(l, json_string_value(json_object_get(entry, "Config")), "Config",
			       hex, err);
	if (r < 0)
		return r;
	if (asprintf(&img->id, "sha256:%s", hex) < 0) {
		img->id = NULL;
		return error_oom(err);
	}
	_cleanup_json_ json_t *config = NULL;
	r = load_read_blob_json(l, img->id, -1, "config", &config, err);
	if (r < 0)
		return r;
	img->config_size = ((struct blob *)hashmap_get(&l->blobs, hex))->size;
	json_t *layers = json_object_get(entry, "Layers");
	if (!json_is_array(layers))
		return error_set(err, KORCH_EINVALID, "manifest.json: an entry has no Layers");
	json_t *diff_ids;
	r = check_config(config, img->id, json_array_size(layers), &diff_ids, err);
	if (r < 0)
		return r;
	img->layers = calloc(json_array_size(layers) + 1, sizeof(*img->layers));
	if (!img->layers)
		return error_oom(err);
	size_t i;
	json_t *v;
	json_array_foreach (layers, i, v) {
		r = load_need_file(l, json_string_value(v), "layer", hex, err);
		if (r < 0)
			return korch_error_prefix(err, r, "manifest.json");
		char digest[DIGEST_STR_LEN + 1];
		snprintf(digest, sizeof(digest), "sha256:%s", hex);
		const char *blob_path;
		r = load_need_blob(l, digest, -1, &blob_path, err);
		if (r < 0)
			return r;
		uint64_t size = ((struct blob *)hashmap_get(&l->blobs, hex))->size;
		r = set_layer(&img->layers[i], digest,
			      json_string_value(json_array_get(diff_ids, i)),
			      sniff_layer_type(blob_path), size, err);
		if (r < 0)
			return korch_error_prefix(err, r, "config %s", img->id);
		img->n_layers++;
	}
	json_array_foreach (json_object_get(entry, "RepoTags"), i, v) {
		r = push_name(&img->names, json_string_value(v), "manifest.json: RepoTags", err);
		if (r < 0)
			return r;
	}
	return synthesize_manifest(l, img, err);
}

static int
parse_docker(struct load *l, json_t *manifest, korch_error **err)
{
	if (!json_is_array(manifest) || json_array_size(manifest) == 0)
		return error_set(err, KORCH_EINVALID, "manifest.json: not a list of images");
	size_t i;
	json_t *entry;
	json_array_foreach (manifest, i, entry) {
		struct found_image *img = calloc(1, sizeof(*img));
		if (!img)
			return error_oom(err);
		int r = parse_docker_entry(l, entry, img, err);
		if (r < 0) {
			found_image_free(img);
			return r;
		}
		r = add_image(l, img, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Docker 25 writes both layouts: its manifest.json RepoTags name images index.json left unnamed. */
static int
docker_names_for_oci(struct load *l, json_t *manifest, korch_error **err)
{
	size_t i;
	json_t *entry;
	json_array_foreach (manifest, i, entry) {
		char hex[SHA256_HEX_LEN + 1];
		int r = load_need_file(l, json_string_value(json_object_get(entry, "Config")),
				       "Config", hex, err);
		if (r < 0)
			return korch_error_prefix(err, r, "manifest.json");
		for (size_t k = 0; k < l->images.n; k++) {
			struct found_image *img = l->images.items[k];
			if (img->names.n || !streq(img->id + 7, hex))
				continue;
			size_t t;
			json_t *tag;
			json_array_foreach (json_object_get(entry, "RepoTags"), t, tag) {
				r = push_name(&img->names, json_string_value(tag),
					      "manifest.json: RepoTags", err);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

/* The name given at load replaces the names found inside (see image.h). */
static int
apply_load_name(struct load *l, const char *name, korch_error **err)
{
	struct image_ref r;
	int rc = image_ref_parse(name, &r, err);
	if (rc < 0)
		return rc;
	bool repo_only = !r.tag && !r.digest;
	if (!repo_only && l->images.n > 1) {
		image_ref_clear(&r);
		return error_set(
			err, KORCH_EINVALID,
			"name \"%s\" cannot name the %zu images of this archive; give a repository without a tag to name each by its own tag",
			name, l->images.n);
	}
	for (size_t i = 0; i < l->images.n && rc == 0; i++) {
		struct found_image *img = l->images.items[i];
		ptrvec_free(&img->names, free);
		if (r.digest && !streq(r.digest, img->manifest) &&
		    !(img->indexes.n && streq(r.digest, img->indexes.items[0]))) {
			rc = error_set(err, KORCH_EINVALID,
				       "name \"%s\": the digest is not this image's (manifest %s)",
				       name, img->manifest);
			break;
		}
		struct image_ref one = r;
		if (repo_only)
			one.tag = img->tag;
		char *s = image_ref_string(&one);
		if (!s || ptrvec_push(&img->names, s) < 0) {
			free(s);
			rc = error_oom(err);
		}
	}
	image_ref_clear(&r);
	return rc;
}

/* Two different images of one archive must not claim one name. */
static int
check_name_clash(struct load *l, korch_error **err)
{
	for (size_t i = 0; i < l->images.n; i++) {
		struct found_image *a = l->images.items[i];
		for (size_t j = i + 1; j < l->images.n; j++) {
			struct found_image *b = l->images.items[j];
			for (size_t x = 0; x < a->names.n; x++)
				for (size_t y = 0; y < b->names.n; y++)
					if (streq(a->names.items[x], b->names.items[y]))
						return error_set(
							err, KORCH_EINVALID,
							"\"%s\" names two images of this archive (%s and %s)",
							(char *)a->names.items[x], a->id, b->id);
		}
	}
	return 0;
}

int
parse_source(struct load *l, const char *name, korch_error **err)
{
	_cleanup_json_ json_t *layout = NULL, *manifest = NULL;
	int r = load_read_top_file(l, "oci-layout", l->oci_layout, &layout, err);
	if (r == 0)
		r = load_read_top_file(l, "manifest.json", l->manifest_json, &manifest, err);
	if (r < 0)
		return r;
	if (layout) {
		r = parse_oci(l, layout, err);
		if (r == 0 && manifest)
			r = docker_names_for_oci(l, manifest, err);
	} else if (manifest) {
		r = parse_docker(l, manifest, err);
	} else {
		return error_set(
			err, KORCH_EINVALID,
			"neither an OCI image layout (no oci-layout) nor a docker-archive (no manifest.json)");
	}
	if (r == 0 && name)
		r = apply_load_name(l, name, err);
	if (r == 0)
		r = check_name_clash(l, err);
	return r;
}
