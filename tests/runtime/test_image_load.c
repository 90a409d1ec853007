/*
 * Loading images: OCI layout directories and tars, docker-archives, multi-platform indexes,
 * names, and every refusal (digest, size, diffID, missing blob, escaping paths), each leaving
 * the store as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "image_fixture.h"
#include "runtime/image.h"

/* Per test: a temporary directory holding the store and the fixtures. */
struct env {
	char *dir;                 /* the temporary directory */
	char *store_dir;           /* DIR/store */
	struct image_store *store; /* open on store_dir */
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	e->dir = fx_tmpdir();
	e->store_dir = fx_join(e->dir, "store");
	if (image_store_open(e->store_dir, &e->store, NULL) < 0)
		return -1;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	image_store_free(e->store);
	rm_rf(e->dir, NULL);
	free(e->store_dir);
	free(e->dir);
	free(e);
	return 0;
}

static char *
path_in(struct env *e, const char *name)
{
	return fx_join(e->dir, name);
}

static int
count_in_store(struct env *e, const char *sub)
{
	char *p = fx_join(e->store_dir, sub);
	int n = fx_count_entries(p);
	free(p);
	return n;
}

/* The store holds nothing: no blob, no layer, no staging, no image. */
static void
assert_store_empty(struct env *e)
{
	assert_int_equal(count_in_store(e, "blobs/sha256"), 0);
	assert_int_equal(count_in_store(e, "layers/sha256"), 0);
	assert_int_equal(count_in_store(e, "tmp"), 0);
	json_t *list = NULL;
	assert_int_equal(image_store_list(e->store, &list, NULL), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
}

/* Loads and expects failure with exactly message; the store must stay empty. */
static void
assert_load_fails(struct env *e, const char *path, const char *name, int code, const char *message)
{
	korch_error *err = NULL;
	json_t *names = NULL;
	int r = image_store_load(e->store, path, name, NULL, NULL, &names, &err);
	if (r != code)
		fail_msg("load %s: got %d (%s)", path, r, err ? korch_error_message(err) : "");
	assert_null(names);
	assert_string_equal(korch_error_message(err), message);
	korch_error_free(err);
	assert_store_empty(e);
}

static char *
layer_dir_of(struct env *e, const char *diff_id)
{
	char rel[100];
	snprintf(rel, sizeof(rel), "layers/sha256/%.64s", diff_id + 7);
	return fx_join(e->store_dir, rel);
}

static void
test_load_test_image_dir(void **state)
{
	struct env *e = *state;
	struct fx_test_image ti;
	fx_test_image(&ti);
	struct fx_lines lines = { 0 };
	json_t *names = NULL;
	korch_error *err = NULL;
	int r = image_store_load(e->store, ti.path, NULL, fx_lines_cb, &lines, &names, &err);
	if (r < 0)
		fail_msg("%s", korch_error_message(err));
	assert_int_equal(json_array_size(names), 1);
	assert_string_equal(json_string_value(json_array_get(names, 0)), "korch.test/busybox:1");
	json_decref(names);

	char expect[200];
	snprintf(expect, sizeof(expect), "loading layer 1/1 %.19s... %.1f MB", ti.layer,
		 (double)ti.layer_size / 1e6);
	assert_int_equal(lines.n, 2);
	assert_string_equal(lines.lines[0], expect);
	snprintf(expect, sizeof(expect), "loaded image korch.test/busybox:1 (%.19s)", ti.id);
	assert_string_equal(lines.lines[1], expect);
	fx_lines_clear(&lines);

	struct image *img = NULL;
	assert_int_equal(image_store_lookup(e->store, "korch.test/busybox:1", &img, NULL), 0);
	assert_string_equal(img->id, ti.id);
	assert_string_equal(img->name, "korch.test/busybox:1");
	assert_string_equal(img->manifest, ti.manifest);
	assert_int_equal(img->n_layers, 1);
	char *want_dir = layer_dir_of(e, ti.diff_id);
	assert_string_equal(img->layer_dirs[0], want_dir);
	free(want_dir);
	json_t *want =
		json_pack("{s:[s],s:[s]}", "Cmd", "sh", "Env",
			  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	assert_true(json_equal(img->config, want));
	json_decref(want);

	/* The layer: busybox, applets as hard links to it, /tmp 1777, korch in /etc/passwd. */
	char *busybox = fx_join(img->layer_dirs[0], "bin/busybox");
	char *sh = fx_join(img->layer_dirs[0], "bin/sh");
	char *bracket = fx_join(img->layer_dirs[0], "bin/[");
	char *tmp = fx_join(img->layer_dirs[0], "tmp");
	char *passwd = fx_join(img->layer_dirs[0], "etc/passwd");
	struct stat st_busybox, st_sh, st_bracket, st_tmp;
	assert_int_equal(stat(busybox, &st_busybox), 0);
	assert_int_equal(stat(sh, &st_sh), 0);
	assert_int_equal(stat(bracket, &st_bracket), 0);
	assert_int_equal(stat(tmp, &st_tmp), 0);
	assert_true(S_ISREG(st_busybox.st_mode));
	assert_int_equal(st_busybox.st_mode & 07777, 0755);
	assert_int_equal(st_sh.st_ino, st_busybox.st_ino);
	assert_int_equal(st_bracket.st_ino, st_busybox.st_ino);
	assert_int_equal(st_busybox.st_mtime, 1704067200);
	assert_int_equal(st_tmp.st_mode & 07777, 01777);
	char *data = NULL;
	assert_int_equal(read_file(passwd, 4096, &data, NULL, NULL), 0);
	assert_non_null(strstr(data, "\nkorch:x:1000:1000:korch:/home/korch:/bin/sh\n"));
	free(data);
	free(busybox);
	free(sh);
	free(bracket);
	free(tmp);
	free(passwd);
	image_free(img);
	/* Staging is gone once the load is done. */
	assert_int_equal(count_in_store(e, "tmp"), 0);
}

static void
test_load_oci_tar_dedupes(void **state)
{
	struct env *e = *state;
	struct fx_test_image ti;
	fx_test_image(&ti);
	assert_int_equal(image_store_load(e->store, ti.path, NULL, NULL, NULL, NULL, NULL), 0);
	int blobs = count_in_store(e, "blobs/sha256");
	int layers = count_in_store(e, "layers/sha256");
	assert_int_equal(blobs, 3);
	assert_int_equal(layers, 1);
	char rel[100];
	snprintf(rel, sizeof(rel), "blobs/sha256/%.64s", ti.layer + 7);
	char *blob = fx_join(e->store_dir, rel);
	char *layer = layer_dir_of(e, ti.diff_id);
	struct stat blob_before, layer_before, blob_after, layer_after;
	assert_int_equal(stat(blob, &blob_before), 0);
	assert_int_equal(stat(layer, &layer_before), 0);

	/* The same image as a gzip-compressed OCI tar: nothing new is stored or rewritten. */
	char *tar = path_in(e, "busybox-oci.tar.gz");
	fx_tar_dir(ti.path, tar, true);
	struct fx_lines lines = { 0 };
	json_t *names = NULL;
	korch_error *err = NULL;
	int r = image_store_load(e->store, tar, NULL, fx_lines_cb, &lines, &names, &err);
	if (r < 0)
		fail_msg("%s", korch_error_message(err));
	assert_string_equal(json_string_value(json_array_get(names, 0)), "korch.test/busybox:1");
	json_decref(names);
	char expect[200];
	snprintf(expect, sizeof(expect), "loading layer 1/1 %.19s... %.1f MB (already present)",
		 ti.layer, (double)ti.layer_size / 1e6);
	assert_string_equal(lines.lines[0], expect);
	fx_lines_clear(&lines);
	assert_int_equal(count_in_store(e, "blobs/sha256"), blobs);
	assert_int_equal(count_in_store(e, "layers/sha256"), layers);
	assert_int_equal(count_in_store(e, "tmp"), 0);
	assert_int_equal(stat(blob, &blob_after), 0);
	assert_int_equal(stat(layer, &layer_after), 0);
	assert_int_equal(blob_after.st_ino, blob_before.st_ino);
	assert_int_equal(layer_after.st_ino, layer_before.st_ino);

	/* And the directory again. */
	assert_int_equal(image_store_load(e->store, ti.path, NULL, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(count_in_store(e, "blobs/sha256"), blobs);
	assert_int_equal(count_in_store(e, "layers/sha256"), layers);
	json_t *list = NULL;
	assert_int_equal(image_store_list(e->store, &list, NULL), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	free(blob);
	free(layer);
	free(tar);
}

/* Two images sharing a gzip base layer; the second with a full runtime config. */
static void
make_app_images(struct fx_image *a, struct fx_image *b)
{
	struct fx_layer *base = fx_layer_new();
	fx_layer_dir(base, "etc");
	fx_layer_file(base, "etc/os-release", "ID=fixture\n");
	fx_image_add_layer(a, base, true);
	b->layers[0] = a->layers[0];
	b->layers[0].data = malloc(a->layers[0].len);
	memcpy(b->layers[0].data, a->layers[0].data, a->layers[0].len);
	memcpy(b->diff_ids[0], a->diff_ids[0], FX_DIGEST_LEN);
	b->n_layers = 1;
	struct fx_layer *la = fx_layer_new();
	fx_layer_file(la, "app-a", "a\n");
	fx_image_add_layer(a, la, false);
	struct fx_layer *lb = fx_layer_new();
	fx_layer_file(lb, "app-b", "b\n");
	fx_image_add_layer(b, lb, true);
	fx_image_finish(a, "amd64", json_pack("{s:[s]}", "Cmd", "/app-a"));
	fx_image_finish(b, "amd64",
			json_pack("{s:[s,s],s:[s],s:[s,s],s:s,s:s,s:{s:{},s:{}},s:s}", "Entrypoint",
				  "/bin/sh", "-c", "Cmd", "exec app", "Env", "PATH=/bin",
				  "MODE=test", "WorkingDir", "/srv", "User", "1000:1000",
				  "ExposedPorts", "8080/tcp", "53/udp", "StopSignal", "SIGINT"));
}

static void
test_docker_archive(void **state)
{
	struct env *e = *state;
	struct fx_image a = { 0 }, b = { 0 };
	make_app_images(&a, &b);
	char *tar = path_in(e, "docker.tar");
	struct fx_image *imgs[] = { &a, &b };
	json_t *tags[] = { json_pack("[s]", "app:1"),
			   json_pack("[s,s]", "other/app:2", "registry.local:5000/app") };
	fx_docker_archive(tar, imgs, tags, 2);

	json_t *names = NULL;
	korch_error *err = NULL;
	int r = image_store_load(e->store, tar, NULL, NULL, NULL, &names, &err);
	if (r < 0)
		fail_msg("%s", korch_error_message(err));
	json_t *want = json_pack("[s,s]", "docker.io/library/app:1", "docker.io/other/app:2");
	assert_true(json_equal(names, want));
	json_decref(want);
	json_decref(names);

	struct image *ia = NULL, *ib = NULL, *ib2 = NULL;
	assert_int_equal(image_store_lookup(e->store, "app:1", &ia, NULL), 0);
	assert_int_equal(image_store_lookup(e->store, "other/app:2", &ib, NULL), 0);
	assert_int_equal(image_store_lookup(e->store, "registry.local:5000/app:latest", &ib2, NULL),
			 0);
	assert_string_equal(ia->id, a.config.digest);
	assert_string_equal(ib->id, b.config.digest);
	assert_string_equal(ib2->id, b.config.digest);
	assert_string_equal(ib2->name, "registry.local:5000/app:latest");
	assert_int_equal(ia->n_layers, 2);
	assert_int_equal(ib->n_layers, 2);
	/* The shared base layer is unpacked once. */
	assert_string_equal(ia->layer_dirs[0], ib->layer_dirs[0]);
	assert_int_equal(count_in_store(e, "layers/sha256"), 3);
	/* 3 layer blobs, 2 configs, 2 manifests written for the archive's images. */
	assert_int_equal(count_in_store(e, "blobs/sha256"), 7);
	char *f = fx_join(ib->layer_dirs[1], "app-b");
	assert_int_equal(access(f, F_OK), 0);
	free(f);
	json_t *want_config = json_pack(
		"{s:[s,s],s:[s],s:[s,s],s:s,s:s,s:{s:{},s:{}},s:s}", "Entrypoint", "/bin/sh", "-c",
		"Cmd", "exec app", "Env", "PATH=/bin", "MODE=test", "WorkingDir", "/srv", "User",
		"1000:1000", "ExposedPorts", "8080/tcp", "53/udp", "StopSignal", "SIGINT");
	assert_true(json_equal(ib->config, want_config));
	json_decref(want_config);
	/* The manifest written for a docker-archive image is a blob like any other. */
	char rel[100];
	snprintf(rel, sizeof(rel), "blobs/sha256/%.64s", ib->manifest + 7);
	char *mpath = fx_join(e->store_dir, rel);
	json_t *m = json_load_file(mpath, 0, NULL);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(m, "config"), "digest")),
		b.config.digest);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(m, "layers"), 1), "mediaType")),
			    "application/vnd.oci.image.layer.v1.tar+gzip");
	json_decref(m);
	free(mpath);
	image_free(ia);
	image_free(ib);
	image_free(ib2);
	fx_image_clear(&a);
	fx_image_clear(&b);
	free(tar);
}

/* index.json -> an index (amd64, arm64, an attestation) -> manifests. */
static void
write_multi_platform(const char *dir, struct fx_image *amd, struct fx_image *arm, bool with_amd,
		     char index_digest[FX_DIGEST_LEN])
{
	json_t *manifests = json_array();
	struct fx_image *both[] = { arm, amd };
	const char *arch[] = { "arm64", "amd64" };
	for (size_t i = 0; i < 2; i++) {
		if (i == 1 && !with_amd)
			break;
		fx_write_blob(dir, &both[i]->layers[0]);
		fx_write_blob(dir, &both[i]->config);
		fx_write_blob(dir, &both[i]->manifest);
		json_t *d = fx_descriptor("application/vnd.oci.image.manifest.v1+json",
					  &both[i]->manifest);
		json_object_set_new(d, "platform",
				    json_pack("{s:s,s:s}", "os", "linux", "architecture", arch[i]));
		json_array_append_new(manifests, d);
	}
	json_t *att =
		json_pack("{s:s,s:s,s:i,s:{s:s,s:s}}", "mediaType",
			  "application/vnd.oci.image.manifest.v1+json", "digest",
			  "sha256:0000000000000000000000000000000000000000000000000000000000000000",
			  "size", 10, "platform", "os", "unknown", "architecture", "unknown");
	json_array_append_new(manifests, att);
	struct fx_blob index;
	fx_blob_json(json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType",
			       "application/vnd.oci.image.index.v1+json", "manifests", manifests),
		     &index);
	fx_write_blob(dir, &index);
	memcpy(index_digest, index.digest, FX_DIGEST_LEN);
	json_t *d = fx_descriptor("application/vnd.oci.image.index.v1+json", &index);
	json_object_set_new(d, "annotations",
			    json_pack("{s:s}", "io.containerd.image.name", "example.com/multi:1"));
	struct fx_blob top;
	fx_blob_json(json_pack("{s:i,s:[o]}", "schemaVersion", 2, "manifests", d), &top);
	char *p = fx_join(dir, "index.json");
	fx_write_file(p, top.data, top.len);
	free(p);
	p = fx_join(dir, "oci-layout");
	fx_write_file(p, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	free(p);
	fx_blob_clear(&index);
	fx_blob_clear(&top);
}

static void
test_multi_platform(void **state)
{
	struct env *e = *state;
	struct fx_image amd = { 0 }, arm = { 0 };
	struct fx_layer *l = fx_layer_new();
	fx_layer_file(l, "arch", "amd64\n");
	fx_image_add_layer(&amd, l, true);
	fx_image_finish(&amd, "amd64", NULL);
	l = fx_layer_new();
	fx_layer_file(l, "arch", "arm64\n");
	fx_image_add_layer(&arm, l, true);
	fx_image_finish(&arm, "arm64", NULL);

	char *dir = path_in(e, "multi");
	char index_digest[FX_DIGEST_LEN];
	write_multi_platform(dir, &amd, &arm, true, index_digest);
	korch_error *err = NULL;
	int r = image_store_load(e->store, dir, NULL, NULL, NULL, NULL, &err);
	if (r < 0)
		fail_msg("%s", korch_error_message(err));
	struct image *img = NULL;
	assert_int_equal(image_store_lookup(e->store, "example.com/multi:1", &img, NULL), 0);
	assert_string_equal(img->id, amd.config.digest);
	assert_string_equal(img->manifest, amd.manifest.digest);
	image_free(img);
	/* Found by its repository and the index's or the manifest's digest, not by another repo. */
	char ref[200];
	snprintf(ref, sizeof(ref), "example.com/multi@%s", index_digest);
	assert_int_equal(image_store_lookup(e->store, ref, &img, NULL), 0);
	assert_string_equal(img->id, amd.config.digest);
	image_free(img);
	snprintf(ref, sizeof(ref), "example.com/multi@%s", amd.manifest.digest);
	assert_int_equal(image_store_lookup(e->store, ref, &img, NULL), 0);
	image_free(img);
	snprintf(ref, sizeof(ref), "example.com/other@%s", amd.manifest.digest);
	assert_int_equal(image_store_lookup(e->store, ref, &img, NULL), KORCH_ENOTFOUND);
	/* Nothing of the arm64 image was stored. */
	char rel[100];
	snprintf(rel, sizeof(rel), "blobs/sha256/%.64s", arm.config.digest + 7);
	char *arm_config = fx_join(e->store_dir, rel);
	assert_int_equal(access(arm_config, F_OK), -1);
	free(arm_config);
	free(dir);
	fx_image_clear(&amd);
	fx_image_clear(&arm);
}

static void
test_wrong_platform(void **state)
{
	struct env *e = *state;
	struct fx_image amd = { 0 }, arm = { 0 };
	fx_simple_image(&amd, "f", "amd64", false);
	struct fx_layer *l = fx_layer_new();
	fx_layer_file(l, "f", "arm64");
	fx_image_add_layer(&arm, l, false);
	fx_image_finish(&arm, "arm64", NULL);

	char *dir = path_in(e, "arm-only");
	char index_digest[FX_DIGEST_LEN];
	write_multi_platform(dir, &amd, &arm, false, index_digest);
	char msg[4096];
	snprintf(
		msg, sizeof(msg),
		"load %s: index %s has no image for linux/amd64 (it has: linux/arm64, unknown/unknown)",
		dir, index_digest);
	assert_load_fails(e, dir, NULL, KORCH_EINVALID, msg);

	/* A manifest without a platform whose config says arm64. */
	char *dir2 = path_in(e, "arm-config");
	struct fx_image *imgs[] = { &arm };
	fx_oci_dir(dir2, imgs, NULL, 1);
	snprintf(msg, sizeof(msg),
		 "load %s: image %s is for linux/arm64; this machine runs linux/amd64", dir2,
		 arm.config.digest);
	assert_load_fails(e, dir2, NULL, KORCH_EINVALID, msg);
	free(dir);
	free(dir2);
	fx_image_clear(&amd);
	fx_image_clear(&arm);
}

static char *
blob_path(const char *dir, const char *digest)
{
	char rel[100];
	snprintf(rel, sizeof(rel), "blobs/sha256/%.64s", digest + 7);
	return fx_join(dir, rel);
}

static void
test_digest_mismatch(void **state)
{
	struct env *e = *state;
	struct fx_image img = { 0 };
	fx_simple_image(&img, "hello", "world\n", true);
	char *dir = path_in(e, "corrupt");
	struct fx_image *imgs[] = { &img };
	fx_oci_dir(dir, imgs, NULL, 1);
	/* One flipped byte in the layer blob, which keeps its name. */
	img.layers[0].data[img.layers[0].len / 2] ^= 0x01;
	char *layer = blob_path(dir, img.layers[0].digest);
	fx_write_file(layer, img.layers[0].data, img.layers[0].len);
	char actual[FX_DIGEST_LEN];
	fx_sha256(img.layers[0].data, img.layers[0].len, actual);
	const char *hex = actual + 7;
	char msg[4096];
	snprintf(msg, sizeof(msg), "load %s: blob %s: digest mismatch: its content is sha256:%s",
		 dir, img.layers[0].digest, hex);
	assert_load_fails(e, dir, NULL, KORCH_EINVALID, msg);

	/* The same layout as a tar: refused while reading the entry. */
	char *tar = path_in(e, "corrupt.tar");
	fx_tar_dir(dir, tar, false);
	snprintf(
		msg, sizeof(msg),
		"load %s: archive entry \"blobs/sha256/%.64s\": blob %s: digest mismatch: its content is sha256:%s",
		tar, img.layers[0].digest + 7, img.layers[0].digest, hex);
	assert_load_fails(e, tar, NULL, KORCH_EINVALID, msg);
	free(layer);
	free(dir);
	free(tar);
	fx_image_clear(&img);
}

static void
test_size_and_missing_blob(void **state)
{
	struct env *e = *state;
	struct fx_image img = { 0 };
	fx_simple_image(&img, "hello", "world\n", false);
	char *dir = path_in(e, "layout");
	struct fx_image *imgs[] = { &img };
	fx_oci_dir(dir, imgs, NULL, 1);
	char *layer = blob_path(dir, img.layers[0].digest);
	assert_int_equal(unlink(layer), 0);
	char msg[4096];
	snprintf(msg, sizeof(msg), "load %s: blob %s is not in the image layout", dir,
		 img.layers[0].digest);
	assert_load_fails(e, dir, NULL, KORCH_EINVALID, msg);

	/* A manifest whose config descriptor has the wrong size. */
	char *dir2 = path_in(e, "size");
	struct fx_image bad = { 0 };
	fx_simple_image(&bad, "hello", "world\n", false);
	fx_blob_clear(&bad.manifest);
	json_t *cdesc = fx_descriptor("application/vnd.oci.image.config.v1+json", &bad.config);
	json_object_set_new(cdesc, "size", json_integer((json_int_t)bad.config.len + 1));
	fx_blob_json(
		json_pack("{s:i,s:s,s:o,s:[o]}", "schemaVersion", 2, "mediaType",
			  "application/vnd.oci.image.manifest.v1+json", "config", cdesc, "layers",
			  fx_descriptor("application/vnd.oci.image.layer.v1.tar", &bad.layers[0])),
		&bad.manifest);
	struct fx_image *imgs2[] = { &bad };
	fx_oci_dir(dir2, imgs2, NULL, 1);
	snprintf(msg, sizeof(msg),
		 "load %s: blob %s: size mismatch: it has %zu bytes, its descriptor says %zu", dir2,
		 bad.config.digest, bad.config.len, bad.config.len + 1);
	assert_load_fails(e, dir2, NULL, KORCH_EINVALID, msg);
	free(layer);
	free(dir);
	free(dir2);
	fx_image_clear(&img);
	fx_image_clear(&bad);
}

static void
test_diff_id_mismatch(void **state)
{
	struct env *e = *state;
	struct fx_image img = { 0 };
	struct fx_layer *l = fx_layer_new();
	fx_layer_file(l, "hello", "world\n");
	fx_image_add_layer(&img, l, true);
	char real[FX_DIGEST_LEN];
	memcpy(real, img.diff_ids[0], FX_DIGEST_LEN);
	/* The config claims another uncompressed content. */
	memcpy(img.diff_ids[0] + 7,
	       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 64);
	fx_image_finish(&img, "amd64", NULL);
	char *dir = path_in(e, "diffid");
	struct fx_image *imgs[] = { &img };
	fx_oci_dir(dir, imgs, NULL, 1);
	char msg[4096];
	snprintf(
		msg, sizeof(msg),
		"load %s: layer %s: content does not match diff_id %s (the uncompressed tar is %s)",
		dir, img.layers[0].digest, img.diff_ids[0], real);
	assert_load_fails(e, dir, NULL, KORCH_EINVALID, msg);
	free(dir);
	fx_image_clear(&img);
}

/* A layout whose second layer holds `bad`; the first layer is fine. */
static void
traversal_case(struct env *e, const char *name, const struct fx_entry *setup_entries, size_t n,
	       const char *message_tail)
{
	struct fx_image img = { 0 };
	struct fx_layer *first = fx_layer_new();
	fx_layer_file(first, "ok", "fine\n");
	fx_image_add_layer(&img, first, false);
	struct fx_layer *l = fx_layer_new();
	for (size_t i = 0; i < n; i++)
		fx_layer_add(l, &setup_entries[i]);
	fx_image_add_layer(&img, l, false);
	fx_image_finish(&img, "amd64", NULL);
	char *dir = path_in(e, name);
	struct fx_image *imgs[] = { &img };
	fx_oci_dir(dir, imgs, NULL, 1);
	char msg[4096];
	snprintf(msg, sizeof(msg), "load %s: layer %s: %s", dir, img.layers[1].digest,
		 message_tail);
	assert_load_fails(e, dir, NULL, KORCH_EINVALID, msg);
	free(dir);
	fx_image_clear(&img);
}

static void
test_path_traversal(void **state)
{
	struct env *e = *state;
	char *outside = path_in(e, "outside");
	assert_int_equal(mkdir(outside, 0755), 0);

	traversal_case(e, "dotdot",
		       (struct fx_entry[]){ { .path = "../escape", .type = 'f', .content = "x" } },
		       1, "entry \"../escape\": \"..\" component refused");
	traversal_case(
		e, "inner-dotdot",
		(struct fx_entry[]){ { .path = "a/../../escape", .type = 'f', .content = "x" } }, 1,
		"entry \"a/../../escape\": \"..\" component refused");
	traversal_case(e, "absolute",
		       (struct fx_entry[]){ { .path = "/abs/file", .type = 'f', .content = "x" } },
		       1, "entry \"/abs/file\": absolute path refused");
	traversal_case(e, "symlink-parent",
		       (struct fx_entry[]){ { .path = "evil", .type = 'l', .link = outside },
					    { .path = "evil/pwned", .type = 'f', .content = "x" } },
		       2, "entry \"evil/pwned\": parent \"evil\" is a symbolic link");
	traversal_case(
		e, "symlink-parent-deep",
		(struct fx_entry[]){ { .path = "d", .type = 'd' },
				     { .path = "d/up", .type = 'l', .link = "../.." },
				     { .path = "d/up/x/pwned", .type = 'f', .content = "x" } },
		3, "entry \"d/up/x/pwned\": parent \"d/up\" is a symbolic link");
	traversal_case(e, "hardlink-out",
		       (struct fx_entry[]){ { .path = "h", .type = 'h', .link = "../outside/x" } },
		       1,
		       "entry \"h\": hard link target \"../outside/x\": \"..\" component refused");
	traversal_case(e, "hardlink-abs",
		       (struct fx_entry[]){ { .path = "h", .type = 'h', .link = "/etc/passwd" } },
		       1, "entry \"h\": hard link target \"/etc/passwd\": absolute path refused");
	traversal_case(e, "hardlink-missing",
		       (struct fx_entry[]){ { .path = "h", .type = 'h', .link = "nope" } }, 1,
		       "entry \"h\": hard link target \"nope\" is not a file unpacked before it");
	traversal_case(
		e, "hardlink-through-symlink",
		(struct fx_entry[]){ { .path = "s", .type = 'l', .link = "/etc" },
				     { .path = "h", .type = 'h', .link = "s/passwd" } },
		2, "entry \"h\": hard link target \"s/passwd\": parent \"s\" is a symbolic link");
	traversal_case(e, "bad-whiteout",
		       (struct fx_entry[]){ { .path = "d/.wh...", .type = 'f' } }, 1,
		       "entry \"d/.wh...\": invalid whiteout");
	/* Nothing reached the directory outside. */
	assert_int_equal(fx_count_entries(outside), 0);
	char *escape = path_in(e, "escape");
	assert_int_equal(access(escape, F_OK), -1);
	free(escape);
	free(outside);
}

static void
test_names_from_annotations_and_load_name(void **state)
{
	struct env *e = *state;
	struct fx_image img = { 0 };
	fx_simple_image(&img, "f", "tagged\n", false);
	char *dir = path_in(e, "tag-only");
	struct fx_image *imgs[] = { &img };
	json_t *ann[] = { json_pack("{s:s}", "org.opencontainers.image.ref.name", "2.0") };
	fx_oci_dir(dir, imgs, ann, 1);

	/* A tag alone names nothing: the image is loaded without a name, addressable by id. */
	json_t *names = NULL;
	struct fx_lines lines = { 0 };
	assert_int_equal(image_store_load(e->store, dir, NULL, fx_lines_cb, &lines, &names, NULL),
			 0);
	assert_string_equal(json_string_value(json_array_get(names, 0)), img.config.digest);
	char expect[300];
	snprintf(expect, sizeof(expect), "loaded image %s (no name: address it by its id)",
		 img.config.digest);
	assert_string_equal(lines.lines[lines.n - 1], expect);
	fx_lines_clear(&lines);
	json_decref(names);
	struct image *found = NULL;
	assert_int_equal(image_store_lookup(e->store, img.config.digest, &found, NULL), 0);
	assert_null(found->name);
	image_free(found);

	/* A repository given at load takes the tag from the annotation. */
	assert_int_equal(
		image_store_load(e->store, dir, "example.com/app", NULL, NULL, &names, NULL), 0);
	assert_string_equal(json_string_value(json_array_get(names, 0)), "example.com/app:2.0");
	json_decref(names);
	/* A full reference given at load is used as it is. */
	assert_int_equal(image_store_load(e->store, dir, "app:pinned", NULL, NULL, &names, NULL),
			 0);
	assert_string_equal(json_string_value(json_array_get(names, 0)),
			    "docker.io/library/app:pinned");
	json_decref(names);
	assert_int_equal(image_store_lookup(e->store, "example.com/app:2.0", &found, NULL), 0);
	assert_string_equal(found->id, img.config.digest);
	image_free(found);

	/* A digest given at load must be the image's. */
	korch_error *err = NULL;
	char ref[200], msg[600];
	snprintf(ref, sizeof(ref), "app@sha256:%064d", 0);
	assert_int_equal(image_store_load(e->store, dir, ref, NULL, NULL, NULL, &err),
			 KORCH_EINVALID);
	snprintf(msg, sizeof(msg),
		 "load %s: name \"%s\": the digest is not this image's (manifest %s)", dir, ref,
		 img.manifest.digest);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(err);
	err = NULL;
	snprintf(ref, sizeof(ref), "app@%s", img.manifest.digest);
	assert_int_equal(image_store_load(e->store, dir, ref, NULL, NULL, &names, NULL), 0);
	snprintf(expect, sizeof(expect), "docker.io/library/app@%s", img.manifest.digest);
	assert_string_equal(json_string_value(json_array_get(names, 0)), expect);
	json_decref(names);

	/* An invalid name is refused before anything is read. */
	assert_int_equal(image_store_load(e->store, dir, "Bad:Name", NULL, NULL, NULL, &err),
			 KORCH_EINVALID);
	snprintf(
		msg, sizeof(msg),
		"load %s: invalid image reference \"Bad:Name\": repository name (library/Bad) must be lowercase",
		dir);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(err);
	free(dir);
	fx_image_clear(&img);
}

static void
test_names_several_images(void **state)
{
	struct env *e = *state;
	struct fx_image a = { 0 }, b = { 0 };
	fx_simple_image(&a, "f", "a\n", false);
	fx_simple_image(&b, "f", "b\n", false);
	char *dir = path_in(e, "two");
	struct fx_image *imgs[] = { &a, &b };
	json_t *ann[] = { json_pack("{s:s,s:s}", "io.containerd.image.name", "example.com/x:a",
				    "org.opencontainers.image.ref.name", "a"),
			  json_pack("{s:s}", "org.opencontainers.image.ref.name",
				    "example.com/x:b") };
	fx_oci_dir(dir, imgs, ann, 2);
	json_t *names = NULL;
	assert_int_equal(image_store_load(e->store, dir, NULL, NULL, NULL, &names, NULL), 0);
	json_t *want = json_pack("[s,s]", "example.com/x:a", "example.com/x:b");
	assert_true(json_equal(names, want));
	json_decref(want);
	json_decref(names);

	korch_error *err = NULL;
	char msg[4096];
	assert_int_equal(image_store_load(e->store, dir, "example.com/y:1", NULL, NULL, NULL, &err),
			 KORCH_EINVALID);
	snprintf(
		msg, sizeof(msg),
		"load %s: name \"example.com/y:1\" cannot name the 2 images of this archive; give a repository without a tag to name each by its own tag",
		dir);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(err);
	err = NULL;
	/* With a repository only, each image keeps its tag-only annotation ("a"), or "latest". */
	assert_int_equal(image_store_load(e->store, dir, "example.com/y", NULL, NULL, &names, NULL),
			 0);
	want = json_pack("[s,s]", "example.com/y:a", "example.com/y:latest");
	assert_true(json_equal(names, want));
	json_decref(want);
	json_decref(names);
	free(dir);

	/* Two images of one archive claiming one name. */
	char *dir2 = path_in(e, "clash");
	json_t *ann2[] = { json_pack("{s:s}", "io.containerd.image.name", "example.com/same:1"),
			   json_pack("{s:s}", "io.containerd.image.name", "example.com/same:1") };
	fx_oci_dir(dir2, imgs, ann2, 2);
	assert_int_equal(image_store_load(e->store, dir2, NULL, NULL, NULL, NULL, &err),
			 KORCH_EINVALID);
	snprintf(msg, sizeof(msg),
		 "load %s: \"example.com/same:1\" names two images of this archive (%s and %s)",
		 dir2, a.config.digest, b.config.digest);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(err);
	free(dir2);
	fx_image_clear(&a);
	fx_image_clear(&b);
}

static void
test_not_an_image(void **state)
{
	struct env *e = *state;
	char *dir = path_in(e, "empty");
	assert_int_equal(mkdir(dir, 0755), 0);
	char msg[4096];
	snprintf(
		msg, sizeof(msg),
		"load %s: neither an OCI image layout (no oci-layout) nor a docker-archive (no manifest.json)",
		dir);
	assert_load_fails(e, dir, NULL, KORCH_EINVALID, msg);

	char *file = path_in(e, "notes.txt");
	fx_write_file(file, "just text, not a tar\n", 21);
	korch_error *err = NULL;
	assert_int_equal(image_store_load(e->store, file, NULL, NULL, NULL, NULL, &err),
			 KORCH_EINVALID);
	snprintf(msg, sizeof(msg), "load %s: not a tar archive: ", file);
	assert_memory_equal(korch_error_message(err), msg, strlen(msg));
	korch_error_free(err);
	err = NULL;

	char *missing = path_in(e, "missing.tar");
	assert_int_equal(image_store_load(e->store, missing, NULL, NULL, NULL, NULL, &err),
			 KORCH_ESYSTEM);
	snprintf(msg, sizeof(msg), "load %s: stat: No such file or directory", missing);
	assert_string_equal(korch_error_message(err), msg);
	assert_int_equal(korch_error_errno(err), ENOENT);
	korch_error_free(err);
	assert_store_empty(e);
	free(dir);
	free(file);
	free(missing);
}

static void
test_compressed_layers(void **state)
{
	struct env *e = *state;
	struct fx_image img = { 0 };
	const char *files[] = { "plain", "gzip", "zstd" };
	const int how[] = { FX_PLAIN, FX_GZIP, FX_ZSTD };
	for (size_t i = 0; i < 3; i++) {
		struct fx_layer *l = fx_layer_new();
		fx_layer_file(l, files[i], files[i]);
		fx_image_add_layer(&img, l, how[i]);
	}
	fx_image_finish(&img, "amd64", NULL);
	char *dir = path_in(e, "compressed");
	struct fx_image *imgs[] = { &img };
	json_t *ann[] = { json_pack("{s:s}", "io.containerd.image.name", "example.com/z:1") };
	fx_oci_dir(dir, imgs, ann, 1);
	korch_error *err = NULL;
	if (image_store_load(e->store, dir, NULL, NULL, NULL, NULL, &err) < 0)
		fail_msg("%s", korch_error_message(err));
	struct image *found = NULL;
	assert_int_equal(image_store_lookup(e->store, "example.com/z:1", &found, NULL), 0);
	assert_int_equal(found->n_layers, 3);
	for (size_t i = 0; i < 3; i++) {
		char *p = fx_join(found->layer_dirs[i], files[i]);
		char *data = NULL;
		assert_int_equal(read_file(p, 100, &data, NULL, NULL), 0);
		assert_string_equal(data, files[i]);
		free(data);
		free(p);
	}
	image_free(found);
	free(dir);
	fx_image_clear(&img);
}

/* Docker 25 writes an OCI layout and a manifest.json whose RepoTags name the images. */
static void
test_docker25_layout(void **state)
{
	struct env *e = *state;
	struct fx_image img = { 0 };
	fx_simple_image(&img, "f", "docker25\n", true);
	char *dir = path_in(e, "docker25");
	struct fx_image *imgs[] = { &img };
	fx_oci_dir(dir, imgs, NULL, 1);
	char config[100], layer[100];
	snprintf(config, sizeof(config), "blobs/sha256/%.64s", img.config.digest + 7);
	snprintf(layer, sizeof(layer), "blobs/sha256/%.64s", img.layers[0].digest + 7);
	json_t *m = json_pack("[{s:s,s:[s],s:[s]}]", "Config", config, "RepoTags", "app:25",
			      "Layers", layer);
	char *text = json_dumps(m, JSON_COMPACT);
	char *mpath = fx_join(dir, "manifest.json");
	fx_write_file(mpath, text, strlen(text));
	char *tar = path_in(e, "docker25.tar");
	fx_tar_dir(dir, tar, false);
	const char *sources[] = { dir, tar };
	for (size_t i = 0; i < 2; i++) {
		json_t *names = NULL;
		korch_error *err = NULL;
		if (image_store_load(e->store, sources[i], NULL, NULL, NULL, &names, &err) < 0)
			fail_msg("%s", korch_error_message(err));
		assert_string_equal(json_string_value(json_array_get(names, 0)),
				    "docker.io/library/app:25");
		json_decref(names);
	}
	struct image *found = NULL;
	assert_int_equal(image_store_lookup(e->store, "app:25", &found, NULL), 0);
	/* The layout's own manifest, not one written for the docker-archive view. */
	assert_string_equal(found->manifest, img.manifest.digest);
	image_free(found);
	json_decref(m);
	free(text);
	free(mpath);
	free(tar);
	free(dir);
	fx_image_clear(&img);
}

int
main(void)
{
	if (!getenv("KORCH_TEST_IMAGE")) {
		printf("1..0 # SKIP KORCH_TEST_IMAGE is not set (run through meson test)\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_test_image_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_oci_tar_dedupes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_archive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_platform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_platform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_and_missing_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff_id_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_traversal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_from_annotations_and_load_name, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_names_several_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_an_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compressed_layers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker25_layout, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
