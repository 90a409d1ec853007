/*
 * image_fixture.c - image fixtures for tests, written with libarchive and hashed with nettle.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <nettle/sha2.h>

#include "image_fixture.h"

#define FX_DEFAULT_MTIME 1700000000L

#define FAIL(fmt, arg) (fprintf(stderr, "fixture: " fmt "\n", arg), abort())

void
fx_sha256(const void *data, size_t len, char out[FX_DIGEST_LEN])
{
	struct sha256_ctx ctx;
	uint8_t raw[SHA256_DIGEST_SIZE];
	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, sizeof(raw), raw);
	strcpy(out, "sha256:");
	for (size_t i = 0; i < sizeof(raw); i++)
		sprintf(out + 7 + 2 * i, "%02x", raw[i]);
}

/* A growable memory sink for archive_write. */
struct sink {
	char *data;
	size_t len, cap;
};

static la_ssize_t
sink_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
	struct sink *s = userdata;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2 + 4096;
		s->data = realloc(s->data, s->cap);
		if (!s->data)
			abort();
	}
	memcpy(s->data + s->len, buf, n);
	s->len += n;
	return (la_ssize_t)n;
}

struct fx_layer {
	struct archive *a; /* writing a pax tar into sink */
	struct sink sink;  /* the uncompressed tar */
};

struct fx_layer *
fx_layer_new(void)
{
	struct fx_layer *l = calloc(1, sizeof(*l));
	if (!l)
		abort();
	l->a = archive_write_new();
	if (archive_write_set_format_pax_restricted(l->a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(l->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(l->a, 1) != ARCHIVE_OK ||
	    archive_write_open(l->a, &l->sink, NULL, sink_write, NULL) != ARCHIVE_OK)
		FAIL("%s", archive_error_string(l->a));
	return l;
}

void
fx_layer_add(struct fx_layer *l, const struct fx_entry *e)
{
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, e->path);
	size_t size = 0;
	switch (e->type) {
	case 'f':
		archive_entry_set_filetype(ae, AE_IFREG);
		size = e->content ? strlen(e->content) : 0;
		break;
	case 'd': archive_entry_set_filetype(ae, AE_IFDIR); break;
	case 'l':
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_symlink(ae, e->link);
		break;
	case 'h':
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_hardlink(ae, e->link);
		break;
	case 'c':
	case 'b':
		archive_entry_set_filetype(ae, e->type == 'c' ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_rdev(ae, makedev(e->rdev_major, e->rdev_minor));
		break;
	case 'p': archive_entry_set_filetype(ae, AE_IFIFO); break;
	default: FAIL("unknown entry type for %s", e->path);
	}
	mode_t mode = e->mode ? e->mode : (e->type == 'd' ? 0755 : 0644);
	archive_entry_set_perm(ae, mode);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_mtime(ae, e->mtime ? e->mtime : FX_DEFAULT_MTIME, 0);
	archive_entry_set_size(ae, (la_int64_t)size);
	if (e->xattr_name)
		archive_entry_xattr_add_entry(ae, e->xattr_name, e->xattr_value,
					      strlen(e->xattr_value));
	if (archive_write_header(l->a, ae) != ARCHIVE_OK)
		FAIL("%s", archive_error_string(l->a));
	if (size && archive_write_data(l->a, e->content, size) != (la_ssize_t)size)
		FAIL("%s", archive_error_string(l->a));
	archive_entry_free(ae);
}

void
fx_layer_file(struct fx_layer *l, const char *path, const char *content)
{
	fx_layer_add(l, &(struct fx_entry){ .path = path, .type = 'f', .content = content });
}

void
fx_layer_dir(struct fx_layer *l, const char *path)
{
	fx_layer_add(l, &(struct fx_entry){ .path = path, .type = 'd' });
}

/* data compressed with gzip or zstd, through libarchive's raw format. */
static void
compress_blob(const char *data, size_t len, int compression, struct sink *out)
{
	struct archive *a = archive_write_new();
	int filter = compression == FX_ZSTD ? archive_write_add_filter_zstd(a)
					    : archive_write_add_filter_gzip(a);
	if (archive_write_set_format_raw(a) != ARCHIVE_OK || filter != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, out, NULL, sink_write, NULL) != ARCHIVE_OK)
		FAIL("%s", archive_error_string(a));
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, "data");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_size(ae, (la_int64_t)len);
	if (archive_write_header(a, ae) != ARCHIVE_OK ||
	    archive_write_data(a, data, len) != (la_ssize_t)len ||
	    archive_write_close(a) != ARCHIVE_OK)
		FAIL("%s", archive_error_string(a));
	archive_entry_free(ae);
	archive_write_free(a);
}

void
fx_layer_finish(struct fx_layer *l, int compression, struct fx_blob *ret_blob,
		char ret_diff_id[FX_DIGEST_LEN])
{
	if (archive_write_close(l->a) != ARCHIVE_OK)
		FAIL("%s", archive_error_string(l->a));
	archive_write_free(l->a);
	fx_sha256(l->sink.data, l->sink.len, ret_diff_id);
	if (compression != FX_PLAIN) {
		struct sink z = { 0 };
		compress_blob(l->sink.data, l->sink.len, compression, &z);
		free(l->sink.data);
		l->sink = z;
	}
	ret_blob->data = l->sink.data;
	ret_blob->len = l->sink.len;
	fx_sha256(ret_blob->data, ret_blob->len, ret_blob->digest);
	free(l);
}

void
fx_image_add_layer(struct fx_image *img, struct fx_layer *l, int compression)
{
	if (img->n_layers == FX_MAX_LAYERS)
		abort();
	fx_layer_finish(l, compression, &img->layers[img->n_layers], img->diff_ids[img->n_layers]);
	img->n_layers++;
}

void
fx_blob_json(json_t *j, struct fx_blob *ret)
{
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		abort();
	ret->data = text;
	ret->len = strlen(text);
	fx_sha256(ret->data, ret->len, ret->digest);
}

void
fx_blob_clear(struct fx_blob *b)
{
	free(b->data);
	b->data = NULL;
}

json_t *
fx_descriptor(const char *media_type, const struct fx_blob *b)
{
	return json_pack("{s:s,s:s,s:I}", "mediaType", media_type, "digest", b->digest, "size",
			 (json_int_t)b->len);
}

/* The OCI media type of a layer blob, from its first bytes. */
static const char *
layer_media_type(const struct fx_blob *b)
{
	const unsigned char *d = (const unsigned char *)b->data;
	if (b->len > 2 && d[0] == 0x1f && d[1] == 0x8b)
		return "application/vnd.oci.image.layer.v1.tar+gzip";
	if (b->len > 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd)
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	return "application/vnd.oci.image.layer.v1.tar";
}

void
fx_image_finish(struct fx_image *img, const char *arch, json_t *runtime)
{
	json_t *diff_ids = json_array(), *layers = json_array();
	for (size_t i = 0; i < img->n_layers; i++) {
		json_array_append_new(diff_ids, json_string(img->diff_ids[i]));
		json_array_append_new(
			layers, fx_descriptor(layer_media_type(&img->layers[i]), &img->layers[i]));
	}
	json_t *config = json_pack("{s:s,s:s,s:{s:s,s:o}}", "architecture", arch, "os", "linux",
				   "rootfs", "type", "layers", "diff_ids", diff_ids);
	if (runtime)
		json_object_set_new(config, "config", runtime);
	fx_blob_json(config, &img->config);
	fx_blob_json(
		json_pack("{s:i,s:s,s:o,s:o}", "schemaVersion", 2, "mediaType",
			  "application/vnd.oci.image.manifest.v1+json", "config",
			  fx_descriptor("application/vnd.oci.image.config.v1+json", &img->config),
			  "layers", layers),
		&img->manifest);
}

void
fx_image_clear(struct fx_image *img)
{
	for (size_t i = 0; i < img->n_layers; i++)
		fx_blob_clear(&img->layers[i]);
	fx_blob_clear(&img->config);
	fx_blob_clear(&img->manifest);
}

char *
fx_join(const char *a, const char *b)
{
	char *p;
	if (asprintf(&p, "%s/%s", a, b) < 0)
		abort();
	return p;
}

void
fx_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		FAIL("cannot write %s", path);
}

void
fx_write_blob(const char *dir, const struct fx_blob *b)
{
	char *blobs = fx_join(dir, "blobs");
	char *sha = fx_join(blobs, "sha256");
	mkdir(dir, 0755);
	mkdir(blobs, 0755);
	mkdir(sha, 0755);
	char *p = fx_join(sha, b->digest + 7);
	fx_write_file(p, b->data, b->len);
	free(p);
	free(sha);
	free(blobs);
}

void
fx_oci_dir(const char *dir, struct fx_image **imgs, json_t **annotations, size_t n)
{
	json_t *manifests = json_array();
	for (size_t i = 0; i < n; i++) {
		struct fx_image *img = imgs[i];
		for (size_t k = 0; k < img->n_layers; k++)
			fx_write_blob(dir, &img->layers[k]);
		fx_write_blob(dir, &img->config);
		fx_write_blob(dir, &img->manifest);
		json_t *d =
			fx_descriptor("application/vnd.oci.image.manifest.v1+json", &img->manifest);
		if (annotations && annotations[i])
			json_object_set_new(d, "annotations", annotations[i]);
		json_array_append_new(manifests, d);
	}
	struct fx_blob index;
	fx_blob_json(json_pack("{s:i,s:o}", "schemaVersion", 2, "manifests", manifests), &index);
	char *p = fx_join(dir, "index.json");
	fx_write_file(p, index.data, index.len);
	free(p);
	fx_blob_clear(&index);
	p = fx_join(dir, "oci-layout");
	fx_write_file(p, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	free(p);
}

static struct archive *
tar_writer(const char *tar_path, bool gzip)
{
	struct archive *a = archive_write_new();
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    (gzip && archive_write_add_filter_gzip(a) != ARCHIVE_OK) ||
	    archive_write_open_filename(a, tar_path) != ARCHIVE_OK)
		FAIL("%s", archive_error_string(a));
	return a;
}

static void
tar_add(struct archive *a, const char *name, const void *data, size_t len, const char *symlink)
{
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, symlink ? AE_IFLNK : AE_IFREG);
	archive_entry_set_perm(ae, symlink ? 0777 : 0644);
	if (symlink)
		archive_entry_set_symlink(ae, symlink);
	archive_entry_set_size(ae, symlink ? 0 : (la_int64_t)len);
	if (archive_write_header(a, ae) != ARCHIVE_OK ||
	    (!symlink && len && archive_write_data(a, data, len) != (la_ssize_t)len))
		FAIL("%s", archive_error_string(a));
	archive_entry_free(ae);
}

static void
tar_dir_walk(struct archive *a, const char *root, const char *rel)
{
	char *dir = rel ? fx_join(root, rel) : strdup(root);
	DIR *d = opendir(dir);
	if (!d)
		FAIL("cannot open %s", dir);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *sub = rel ? fx_join(rel, de->d_name) : strdup(de->d_name);
		char *full = fx_join(root, sub);
		struct stat st;
		if (lstat(full, &st) < 0)
			FAIL("cannot stat %s", full);
		if (S_ISDIR(st.st_mode)) {
			tar_dir_walk(a, root, sub);
		} else {
			FILE *f = fopen(full, "re");
			char *data = malloc((size_t)st.st_size + 1);
			if (!f || !data ||
			    fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
				FAIL("cannot read %s", full);
			fclose(f);
			tar_add(a, sub, data, (size_t)st.st_size, NULL);
			free(data);
		}
		free(full);
		free(sub);
	}
	closedir(d);
	free(dir);
}

void
fx_tar_dir(const char *dir, const char *tar_path, bool gzip)
{
	struct archive *a = tar_writer(tar_path, gzip);
	tar_dir_walk(a, dir, NULL);
	if (archive_write_close(a) != ARCHIVE_OK)
		FAIL("%s", archive_error_string(a));
	archive_write_free(a);
}

void
fx_docker_archive(const char *tar_path, struct fx_image **imgs, json_t **repotags, size_t n)
{
	struct archive *a = tar_writer(tar_path, false);
	json_t *manifest = json_array();
	json_t *seen = json_object(); /* layer digest -> first path */
	for (size_t i = 0; i < n; i++) {
		struct fx_image *img = imgs[i];
		char config_name[80];
		snprintf(config_name, sizeof(config_name), "%s.json", img->config.digest + 7);
		tar_add(a, config_name, img->config.data, img->config.len, NULL);
		json_t *layers = json_array();
		for (size_t k = 0; k < img->n_layers; k++) {
			char path[64], target[80];
			snprintf(path, sizeof(path), "%zu-%zu/layer.tar", i, k);
			const char *first =
				json_string_value(json_object_get(seen, img->layers[k].digest));
			if (first) {
				snprintf(target, sizeof(target), "../%s", first);
				tar_add(a, path, NULL, 0, target);
			} else {
				tar_add(a, path, img->layers[k].data, img->layers[k].len, NULL);
				json_object_set_new(seen, img->layers[k].digest, json_string(path));
			}
			json_array_append_new(layers, json_string(path));
		}
		json_t *entry = json_pack("{s:s,s:o}", "Config", config_name, "Layers", layers);
		json_object_set_new(entry, "RepoTags",
				    repotags && repotags[i] ? repotags[i] : json_null());
		json_array_append_new(manifest, entry);
	}
	char *text = json_dumps(manifest, JSON_COMPACT);
	tar_add(a, "manifest.json", text, strlen(text), NULL);
	free(text);
	json_decref(manifest);
	json_decref(seen);
	if (archive_write_close(a) != ARCHIVE_OK)
		FAIL("%s", archive_error_string(a));
	archive_write_free(a);
}

int
fx_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

char *
fx_tmpdir(void)
{
	char *dir = strdup("/tmp/korch-test-image-XXXXXX");
	if (!dir || !mkdtemp(dir))
		abort();
	return dir;
}

void
fx_simple_image(struct fx_image *img, const char *path, const char *content, bool gzip)
{
	struct fx_layer *l = fx_layer_new();
	fx_layer_file(l, path, content);
	fx_image_add_layer(img, l, gzip);
	fx_image_finish(img, "amd64", NULL);
}

void
fx_lines_cb(const char *line, void *userdata)
{
	struct fx_lines *l = userdata;
	if (l->n < sizeof(l->lines) / sizeof(l->lines[0]))
		l->lines[l->n++] = strdup(line);
}

void
fx_lines_clear(struct fx_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->lines[i]);
	l->n = 0;
}

void
fx_test_image(struct fx_test_image *ti)
{
	const char *path = getenv("KORCH_TEST_IMAGE");
	if (!path)
		FAIL("%s", "KORCH_TEST_IMAGE is not set");
	snprintf(ti->path, sizeof(ti->path), "%s", path);
	char *index_path = fx_join(path, "index.json");
	json_t *index = json_load_file(index_path, 0, NULL);
	free(index_path);
	const char *manifest = json_string_value(
		json_object_get(json_array_get(json_object_get(index, "manifests"), 0), "digest"));
	if (!manifest)
		FAIL("%s", "KORCH_TEST_IMAGE has no manifest");
	snprintf(ti->manifest, sizeof(ti->manifest), "%s", manifest);
	char rel[100];
	snprintf(rel, sizeof(rel), "blobs/sha256/%.64s", manifest + 7);
	char *mpath = fx_join(path, rel);
	json_t *m = json_load_file(mpath, 0, NULL);
	free(mpath);
	json_t *layer = json_array_get(json_object_get(m, "layers"), 0);
	snprintf(ti->id, sizeof(ti->id), "%s",
		 json_string_value(json_object_get(json_object_get(m, "config"), "digest")));
	snprintf(ti->layer, sizeof(ti->layer), "%s",
		 json_string_value(json_object_get(layer, "digest")));
	ti->layer_size = (size_t)json_integer_value(json_object_get(layer, "size"));
	snprintf(rel, sizeof(rel), "blobs/sha256/%.64s", ti->id + 7);
	char *cpath = fx_join(path, rel);
	json_t *c = json_load_file(cpath, 0, NULL);
	free(cpath);
	snprintf(ti->diff_id, sizeof(ti->diff_id), "%s",
		 json_string_value(json_array_get(
			 json_object_get(json_object_get(c, "rootfs"), "diff_ids"), 0)));
	json_decref(c);
	json_decref(m);
	json_decref(index);
}
