/*
 * The store around loading: lookups (names, ids, prefixes, the missing-image message), list,
 * remove, gc (orphans, in-use images, pruning), names moving between images, cleanup of
 * interrupted loads, and two processes loading into one store at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/hashmap.h"
#include "image_fixture.h"
#include "runtime/image.h"

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

static int
count_in_store(struct env *e, const char *sub)
{
	char *p = fx_join(e->store_dir, sub);
	int n = fx_count_entries(p);
	free(p);
	return n;
}

static void
load_ok(struct env *e, const char *path, const char *name)
{
	korch_error *err = NULL;
	if (image_store_load(e->store, path, name, NULL, NULL, NULL, &err) < 0)
		fail_msg("load %s: %s", path, korch_error_message(err));
}

static void
test_missing_image(void **state)
{
	struct env *e = *state;
	struct image *img = NULL;
	korch_error *err = NULL;
	assert_int_equal(image_store_lookup(e->store, "nginx:1.27", &img, &err), KORCH_ENOTFOUND);
	assert_null(img);
	assert_string_equal(
		korch_error_message(err),
		"image \"docker.io/library/nginx:1.27\" not found in the local store; load it with: korchctl image load FILE");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(
		image_store_lookup(
			e->store,
			"sha256:00000000000000000000000000000000000000000000000000000000000000aa",
			&img, &err),
		KORCH_ENOTFOUND);
	assert_string_equal(
		korch_error_message(err),
		"image \"sha256:00000000000000000000000000000000000000000000000000000000000000aa\" not found in the local store; load it with: korchctl image load FILE");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(image_store_lookup(e->store, "Nginx", &img, &err), KORCH_EINVALID);
	assert_string_equal(
		korch_error_message(err),
		"invalid image reference \"Nginx\": repository name (library/Nginx) must be lowercase");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(image_store_remove(e->store, "nginx", &err), KORCH_ENOTFOUND);
	assert_string_equal(
		korch_error_message(err),
		"remove image: image \"docker.io/library/nginx:latest\" not found in the local store");
	korch_error_free(err);
}

static void
test_lookup_forms(void **state)
{
	struct env *e = *state;
	struct fx_test_image ti;
	fx_test_image(&ti);
	load_ok(e, ti.path, NULL);
	struct fx_image app = { 0 };
	fx_simple_image(&app, "app", "1\n", true);
	char *tar = fx_join(e->dir, "app.tar");
	struct fx_image *imgs[] = { &app };
	json_t *tags[] = { json_pack("[s]", "app") };
	fx_docker_archive(tar, imgs, tags, 1);
	load_ok(e, tar, NULL);

	const char *forms[] = { "app", "app:latest", "library/app", "docker.io/library/app:latest",
				"index.docker.io/library/app" };
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct image *img = NULL;
		korch_error *err = NULL;
		if (image_store_lookup(e->store, forms[i], &img, &err) < 0)
			fail_msg("%s: %s", forms[i], korch_error_message(err));
		assert_string_equal(img->id, app.config.digest);
		assert_string_equal(img->name, "docker.io/library/app:latest");
		image_free(img);
	}
	char prefix[40], hex_prefix[20];
	snprintf(prefix, sizeof(prefix), "%.19s", ti.id);
	snprintf(hex_prefix, sizeof(hex_prefix), "%.12s", ti.id + 7);
	const char *ids[] = { ti.id, ti.id + 7, prefix, hex_prefix };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct image *img = NULL;
		korch_error *err = NULL;
		if (image_store_lookup(e->store, ids[i], &img, &err) < 0)
			fail_msg("%s: %s", ids[i], korch_error_message(err));
		assert_string_equal(img->id, ti.id);
		/* Looked up by id: the image's first name. */
		assert_string_equal(img->name, "korch.test/busybox:1");
		image_free(img);
	}
	/* A tag that was never loaded is not found, even though the repository exists. */
	struct image *img = NULL;
	assert_int_equal(image_store_lookup(e->store, "korch.test/busybox:2", &img, NULL),
			 KORCH_ENOTFOUND);
	free(tar);
	fx_image_clear(&app);
}

static void
test_list_and_name_moves(void **state)
{
	struct env *e = *state;
	struct fx_image a = { 0 }, b = { 0 };
	fx_simple_image(&a, "f", "a\n", false);
	fx_simple_image(&b, "f", "b\n", false);
	char *ta = fx_join(e->dir, "a.tar"), *tb = fx_join(e->dir, "b.tar");
	struct fx_image *ia[] = { &a }, *ib[] = { &b };
	json_t *tags_a[] = { json_pack("[s,s]", "app:1", "app:stable") };
	json_t *tags_b[] = { json_pack("[s]", "app:1") };
	fx_docker_archive(ta, ia, tags_a, 1);
	fx_docker_archive(tb, ib, tags_b, 1);
	load_ok(e, ta, NULL);
	json_t *list = NULL;
	assert_int_equal(image_store_list(e->store, &list, NULL), 0);
	json_int_t size_a = (json_int_t)(a.config.len + a.layers[0].len);
	json_int_t size_b = (json_int_t)(b.config.len + b.layers[0].len);
	json_t *want =
		json_pack("[{s:s,s:s,s:I},{s:s,s:s,s:I}]", "name", "docker.io/library/app:1", "id",
			  a.config.digest, "size", size_a, "name", "docker.io/library/app:stable",
			  "id", a.config.digest, "size", size_a);
	assert_true(json_equal(list, want));
	json_decref(list);
	json_decref(want);

	/* b takes app:1; a keeps app:stable. */
	load_ok(e, tb, NULL);
	assert_int_equal(image_store_list(e->store, &list, NULL), 0);
	want = json_pack("[{s:s,s:s,s:I},{s:s,s:s,s:I}]", "name", "docker.io/library/app:1", "id",
			 b.config.digest, "size", size_b, "name", "docker.io/library/app:stable",
			 "id", a.config.digest, "size", size_a);
	assert_true(json_equal(list, want));
	json_decref(list);
	json_decref(want);

	/* A loaded again as app:1: it gets the name back, b is left without a name. */
	load_ok(e, ta, "app:1");
	assert_int_equal(image_store_list(e->store, &list, NULL), 0);
	want = json_pack("[{s:s,s:s,s:I},{s:s,s:s,s:I},{s:n,s:s,s:I}]", "name",
			 "docker.io/library/app:1", "id", a.config.digest, "size", size_a, "name",
			 "docker.io/library/app:stable", "id", a.config.digest, "size", size_a,
			 "name", "id", b.config.digest, "size", size_b);
	assert_true(json_equal(list, want));
	json_decref(list);
	json_decref(want);
	free(ta);
	free(tb);
	fx_image_clear(&a);
	fx_image_clear(&b);
}

/* Every file in blobs/ and layers/ is referenced by an image of the index, and vice versa. */
static void
assert_no_orphans(struct env *e)
{
	char *index_path = fx_join(e->store_dir, "index.json");
	json_t *index = json_load_file(index_path, 0, NULL);
	free(index_path);
	assert_non_null(index);
	struct hashmap blobs = HASHMAP_INIT, layers = HASHMAP_INIT;
	const char *maps[] = { "images", "removed" };
	for (size_t m = 0; m < 2; m++) {
		const char *id;
		json_t *rec;
		json_object_foreach (json_object_get(index, maps[m]), id, rec) {
			hashmap_put(&blobs, id + 7, (void *)1, NULL);
			hashmap_put(&blobs, json_string_value(json_object_get(rec, "manifest")) + 7,
				    (void *)1, NULL);
			size_t i;
			json_t *v;
			json_array_foreach (json_object_get(rec, "indexes"), i, v)
				hashmap_put(&blobs, json_string_value(v) + 7, (void *)1, NULL);
			json_array_foreach (json_object_get(rec, "layers"), i, v) {
				hashmap_put(&blobs,
					    json_string_value(json_object_get(v, "digest")) + 7,
					    (void *)1, NULL);
				hashmap_put(&layers,
					    json_string_value(json_object_get(v, "diffID")) + 7,
					    (void *)1, NULL);
			}
		}
	}
	assert_int_equal(count_in_store(e, "blobs/sha256"), (int)blobs.n);
	assert_int_equal(count_in_store(e, "layers/sha256"), (int)layers.n);
	size_t iter = 0;
	const char *hex;
	void *v;
	while (hashmap_next(&blobs, &iter, &hex, &v)) {
		char rel[100];
		snprintf(rel, sizeof(rel), "blobs/sha256/%.64s", hex);
		char *p = fx_join(e->store_dir, rel);
		assert_int_equal(access(p, F_OK), 0);
		free(p);
	}
	iter = 0;
	while (hashmap_next(&layers, &iter, &hex, &v)) {
		char rel[100];
		snprintf(rel, sizeof(rel), "layers/sha256/%.64s", hex);
		char *p = fx_join(e->store_dir, rel);
		assert_int_equal(access(p, F_OK), 0);
		free(p);
	}
	hashmap_free(&blobs, NULL);
	hashmap_free(&layers, NULL);
	json_decref(index);
}

/* Two images sharing a base layer, as one docker-archive; a with two names. */
static void
make_shared(struct env *e, struct fx_image *a, struct fx_image *b, char **ret_tar)
{
	struct fx_layer *base = fx_layer_new();
	fx_layer_file(base, "base", "shared\n");
	fx_image_add_layer(a, base, true);
	b->layers[0] = a->layers[0];
	b->layers[0].data = malloc(a->layers[0].len);
	memcpy(b->layers[0].data, a->layers[0].data, a->layers[0].len);
	memcpy(b->diff_ids[0], a->diff_ids[0], FX_DIGEST_LEN);
	b->n_layers = 1;
	struct fx_layer *la = fx_layer_new();
	fx_layer_file(la, "a", "a\n");
	fx_image_add_layer(a, la, true);
	struct fx_layer *lb = fx_layer_new();
	fx_layer_file(lb, "b", "b\n");
	fx_image_add_layer(b, lb, true);
	fx_image_finish(a, "amd64", NULL);
	fx_image_finish(b, "amd64", NULL);
	*ret_tar = fx_join(e->dir, "shared.tar");
	struct fx_image *imgs[] = { a, b };
	json_t *tags[] = { json_pack("[s,s]", "a:1", "a:2"), json_pack("[s]", "b:1") };
	fx_docker_archive(*ret_tar, imgs, tags, 2);
}

static char *
layer_dir(struct env *e, const char *diff_id)
{
	char rel[100];
	snprintf(rel, sizeof(rel), "layers/sha256/%.64s", diff_id + 7);
	return fx_join(e->store_dir, rel);
}

static void
test_remove_then_gc(void **state)
{
	struct env *e = *state;
	struct fx_image a = { 0 }, b = { 0 };
	char *tar;
	make_shared(e, &a, &b, &tar);
	load_ok(e, tar, NULL);
	assert_int_equal(count_in_store(e, "blobs/sha256"), 7);
	assert_int_equal(count_in_store(e, "layers/sha256"), 3);

	/* Removing one of a's two names leaves a in place. */
	assert_int_equal(image_store_remove(e->store, "a:1", NULL), 0);
	struct image *img = NULL;
	assert_int_equal(image_store_lookup(e->store, "a:1", &img, NULL), KORCH_ENOTFOUND);
	assert_int_equal(image_store_lookup(e->store, "a:2", &img, NULL), 0);
	image_free(img);
	/* Its last name removes it; its content stays until gc. */
	assert_int_equal(image_store_remove(e->store, "docker.io/library/a:2", NULL), 0);
	assert_int_equal(image_store_lookup(e->store, a.config.digest, &img, NULL),
			 KORCH_ENOTFOUND);
	assert_int_equal(count_in_store(e, "blobs/sha256"), 7);
	assert_int_equal(count_in_store(e, "layers/sha256"), 3);

	struct image_gc_stats st;
	assert_int_equal(image_store_gc(e->store, 0, NULL, NULL, &st, NULL), 0);
	assert_int_equal(st.images_removed, 1);
	/* a's config, manifest and own layer blob; a's own layer directory. */
	assert_int_equal(st.blobs_removed, 3);
	assert_int_equal(st.layers_removed, 1);
	assert_true(st.bytes_freed >= a.config.len + a.layers[1].len + 2);
	char *gone = layer_dir(e, a.diff_ids[1]);
	char *shared = layer_dir(e, a.diff_ids[0]);
	assert_int_equal(access(gone, F_OK), -1);
	assert_int_equal(access(shared, F_OK), 0);
	assert_no_orphans(e);
	assert_int_equal(image_store_lookup(e->store, "b:1", &img, NULL), 0);
	image_free(img);

	/* b by id, then gc: nothing left. */
	assert_int_equal(image_store_remove(e->store, b.config.digest, NULL), 0);
	assert_int_equal(image_store_gc(e->store, 0, NULL, NULL, &st, NULL), 0);
	assert_int_equal(st.images_removed, 1);
	assert_int_equal(st.blobs_removed, 4);
	assert_int_equal(st.layers_removed, 2);
	assert_int_equal(count_in_store(e, "blobs/sha256"), 0);
	assert_int_equal(count_in_store(e, "layers/sha256"), 0);
	assert_no_orphans(e);
	/* A second gc finds nothing. */
	assert_int_equal(image_store_gc(e->store, 0, NULL, NULL, &st, NULL), 0);
	assert_int_equal(st.images_removed + st.blobs_removed + st.layers_removed, 0);
	free(gone);
	free(shared);
	free(tar);
	fx_image_clear(&a);
	fx_image_clear(&b);
}

static bool
in_use_list(const char *id, void *userdata)
{
	for (const char *const *p = userdata; *p; p++)
		if (strcmp(*p, id) == 0)
			return true;
	return false;
}

static void
test_gc_in_use(void **state)
{
	struct env *e = *state;
	struct fx_image a = { 0 }, b = { 0 };
	char *tar;
	make_shared(e, &a, &b, &tar);
	load_ok(e, tar, NULL);
	/* a is removed while a container runs it: gc keeps its content. */
	assert_int_equal(image_store_remove(e->store, a.config.digest, NULL), 0);
	const char *running[] = { a.config.digest, NULL };
	struct image_gc_stats st;
	assert_int_equal(image_store_gc(e->store, 0, in_use_list, running, &st, NULL), 0);
	assert_int_equal(st.images_removed + st.blobs_removed + st.layers_removed, 0);
	char *own = layer_dir(e, a.diff_ids[1]);
	assert_int_equal(access(own, F_OK), 0);
	assert_no_orphans(e);
	/* Once the container is gone, so is the content. */
	const char *none[] = { NULL };
	assert_int_equal(image_store_gc(e->store, 0, in_use_list, none, &st, NULL), 0);
	assert_int_equal(st.images_removed, 1);
	assert_int_equal(st.layers_removed, 1);
	assert_int_equal(access(own, F_OK), -1);

	/* Pruning removes every image not in use, names and all. */
	load_ok(e, tar, NULL);
	const char *only_b[] = { b.config.digest, NULL };
	assert_int_equal(
		image_store_gc(e->store, IMAGE_GC_PRUNE_UNUSED, in_use_list, only_b, &st, NULL), 0);
	assert_int_equal(st.images_removed, 1);
	struct image *img = NULL;
	assert_int_equal(image_store_lookup(e->store, "a:1", &img, NULL), KORCH_ENOTFOUND);
	assert_int_equal(image_store_lookup(e->store, "b:1", &img, NULL), 0);
	image_free(img);
	assert_no_orphans(e);
	assert_int_equal(count_in_store(e, "layers/sha256"), 2);
	free(own);
	free(tar);
	fx_image_clear(&a);
	fx_image_clear(&b);
}

static void
test_interrupted_load_cleaned(void **state)
{
	struct env *e = *state;
	/* What a killed load leaves: a staging directory with a half-unpacked layer. */
	char *stage = fx_join(e->store_dir, "tmp/load-killed");
	char *half = fx_join(stage, "layer-0123");
	assert_int_equal(mkdir(stage, 0700), 0);
	assert_int_equal(mkdir(half, 0755), 0);
	char *f = fx_join(half, "partial");
	fx_write_file(f, "x", 1);

	/* While a load holds gc.lock, opening the store must leave staging alone. */
	char *lock = fx_join(e->store_dir, "gc.lock");
	int fd = open(lock, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	struct image_store *other = NULL;
	assert_int_equal(image_store_open(e->store_dir, &other, NULL), 0);
	image_store_free(other);
	assert_int_equal(access(f, F_OK), 0);
	close(fd);

	/* Without one, it is cleaned, and no layer was ever visible. */
	assert_int_equal(image_store_open(e->store_dir, &other, NULL), 0);
	image_store_free(other);
	assert_int_equal(count_in_store(e, "tmp"), 0);
	assert_int_equal(count_in_store(e, "layers/sha256"), 0);
	free(stage);
	free(half);
	free(f);
	free(lock);
}

static void
test_corrupt_index(void **state)
{
	struct env *e = *state;
	char *index = fx_join(e->store_dir, "index.json");
	fx_write_file(index, "{\"schemaVersion\":1,", 19);
	korch_error *err = NULL;
	json_t *list = NULL;
	assert_int_equal(image_store_list(e->store, &list, &err), KORCH_EINVALID);
	char msg[400];
	snprintf(msg, sizeof(msg), "%s is corrupt: ", index);
	assert_memory_equal(korch_error_message(err), msg, strlen(msg));
	korch_error_free(err);
	err = NULL;
	fx_write_file(index, "{\"schemaVersion\":7}", 19);
	assert_int_equal(image_store_list(e->store, &list, &err), KORCH_EUNSUPPORTED);
	snprintf(msg, sizeof(msg), "%s: schemaVersion 7 is not supported (this korch knows 1)",
		 index);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(err);
	free(index);
}

/* Runs in a child: loads each path `rounds` times after the parent says go. */
static int
child_loads(const char *store_dir, int go_fd, const char *const *paths, int rounds)
{
	struct image_store *store = NULL;
	if (image_store_open(store_dir, &store, NULL) < 0)
		return 10;
	char c;
	if (read(go_fd, &c, 1) != 1)
		return 11;
	for (int r = 0; r < rounds; r++) {
		for (const char *const *p = paths; *p; p++) {
			korch_error *err = NULL;
			if (image_store_load(store, *p, NULL, NULL, NULL, NULL, &err) < 0) {
				fprintf(stderr, "child: %s\n", korch_error_message(err));
				korch_error_free(err);
				image_store_free(store);
				return 12;
			}
		}
	}
	image_store_free(store);
	return 0;
}

static void
test_two_processes_load_at_once(void **state)
{
	struct env *e = *state;
	struct fx_test_image ti;
	fx_test_image(&ti);
	char *ti_tar = fx_join(e->dir, "busybox.tar");
	fx_tar_dir(ti.path, ti_tar, false);
	struct fx_image a = { 0 }, b = { 0 };
	fx_simple_image(&a, "f", "a\n", true);
	fx_simple_image(&b, "f", "b\n", true);
	char *ta = fx_join(e->dir, "a.tar"), *tb = fx_join(e->dir, "b.tar");
	struct fx_image *ia[] = { &a }, *ib[] = { &b };
	json_t *tags_a[] = { json_pack("[s]", "a:1") };
	json_t *tags_b[] = { json_pack("[s]", "b:1") };
	fx_docker_archive(ta, ia, tags_a, 1);
	fx_docker_archive(tb, ib, tags_b, 1);

	int go[2];
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	const char *paths1[] = { ti.path, ta, NULL };
	const char *paths2[] = { ti_tar, tb, NULL };
	const char *const *per_child[] = { paths1, paths2 };
	pid_t pids[2];
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(go[1]);
			_exit(child_loads(e->store_dir, go[0], per_child[i], 3));
		}
	}
	close(go[0]);
	assert_int_equal(write(go[1], "gg", 2), 2);
	close(go[1]);
	for (int i = 0; i < 2; i++) {
		int status = 0;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	json_t *list = NULL;
	assert_int_equal(image_store_list(e->store, &list, NULL), 0);
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
			    "docker.io/library/a:1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "name")),
			    "docker.io/library/b:1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "name")),
			    "korch.test/busybox:1");
	json_decref(list);
	/* One copy of everything, no staging left, the index consistent with the files. */
	assert_int_equal(count_in_store(e, "layers/sha256"), 3);
	assert_int_equal(count_in_store(e, "blobs/sha256"), 3 + 3 + 3);
	assert_int_equal(count_in_store(e, "tmp"), 0);
	assert_no_orphans(e);
	free(ti_tar);
	free(ta);
	free(tb);
	fx_image_clear(&a);
	fx_image_clear(&b);
}

int
main(void)
{
	if (!getenv("KORCH_TEST_IMAGE")) {
		printf("1..0 # SKIP KORCH_TEST_IMAGE is not set (run through meson test)\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_name_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_then_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted_load_cleaned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes_load_at_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
