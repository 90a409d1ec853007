/*
 * test_image_public.c - korch/image.h, the public image store API: open a data dir's store,
 * load the busybox test image (KORCH_TEST_IMAGE) with progress lines, list, remove, gc with
 * and without an in-use claim, and the errors, through the exported functions only (a
 * korch_object is a jansson value, which is how these tests read it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <korch.h>
#include "base/fs.h"
#include "base/util.h"

#define TEST_IMAGE_NAME "korch.test/busybox:1"

static char *data_dir;

static json_t *
J(struct korch_object *o)
{
	return (json_t *)o;
}

static int
setup(void **state)
{
	data_dir = strdup("/tmp/korch-test-image-public-XXXXXX");
	return mkdtemp(data_dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	rm_rf(data_dir, NULL);
	free(data_dir);
	return 0;
}

static void
collect(const char *line, void *userdata)
{
	json_array_append_new(userdata, json_string(line));
}

static korch_image_store *
open_store(void)
{
	korch_image_store *s = NULL;
	korch_error *err = NULL;
	if (korch_image_store_open(data_dir, &s, &err) < 0)
		fail_msg("open: %s", korch_error_message(err));
	return s;
}

static json_t *
list(korch_image_store *s)
{
	struct korch_object *l = NULL;
	assert_int_equal(korch_image_list(s, &l, NULL), 0);
	json_t *j = J(l);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "List");
	assert_string_equal(json_string_value(json_object_get(j, "apiVersion")), "v1");
	return j;
}

/* What an in-use callback was asked and answers. */
struct claim {
	const char *id; /* the image a container uses */
	int calls;      /* questions asked */
};

static int
claims(const char *id, void *userdata)
{
	struct claim *c = userdata;
	c->calls++;
	return strcmp(id, c->id) == 0;
}

static void
test_load_list_remove_gc(void **state)
{
	korch_image_store *s = open_store();
	json_t *lines = json_array();
	struct korch_object *names = NULL;
	korch_error *err = NULL;
	if (korch_image_load(s, getenv("KORCH_TEST_IMAGE"), NULL, collect, lines, &names, &err) < 0)
		fail_msg("load: %s", korch_error_message(err));
	assert_int_equal(json_array_size(J(names)), 1);
	assert_string_equal(json_string_value(json_array_get(J(names), 0)), TEST_IMAGE_NAME);
	json_decref(J(names));
	/* One line for the layer, one for the image. */
	assert_int_equal(json_array_size(lines), 2);
	assert_true(startswith(json_string_value(json_array_get(lines, 0)), "loading layer 1/1 "));
	json_decref(lines);

	json_t *l = list(s);
	json_t *items = json_object_get(l, "items");
	assert_int_equal(json_array_size(items), 1);
	json_t *img = json_array_get(items, 0);
	assert_string_equal(json_string_value(json_object_get(img, "name")), TEST_IMAGE_NAME);
	const char *id = json_string_value(json_object_get(img, "id"));
	assert_true(startswith(id, "sha256:") && strlen(id) == 71);
	assert_true(json_integer_value(json_object_get(img, "size")) > 500000);
	char *image_id = strdup(id);
	json_decref(l);

	/* A second name for it, through the load's name override. */
	assert_int_equal(korch_image_load(s, getenv("KORCH_TEST_IMAGE"), "example.com/bb:2", NULL,
					  NULL, NULL, NULL),
			 0);
	l = list(s);
	assert_int_equal(json_array_size(json_object_get(l, "items")), 2);
	json_decref(l);

	/* Removing one name keeps the image; removing the last removes it. */
	assert_int_equal(korch_image_remove(s, "example.com/bb:2", NULL), 0);
	assert_int_equal(korch_image_remove(s, TEST_IMAGE_NAME, NULL), 0);
	l = list(s);
	assert_int_equal(json_array_size(json_object_get(l, "items")), 0);
	json_decref(l);

	/* A container still uses it: gc keeps its layer. */
	struct korch_object *stats = NULL;
	struct claim claim = { image_id, 0 };
	assert_int_equal(korch_image_gc(s, 0, claims, &claim, &stats, NULL), 0);
	assert_true(claim.calls >= 1);
	assert_int_equal(json_integer_value(json_object_get(J(stats), "layersRemoved")), 0);
	json_decref(J(stats));
	/* Nothing claims it any more: its layer and blobs go. */
	assert_int_equal(korch_image_gc(s, 0, NULL, NULL, &stats, NULL), 0);
	assert_int_equal(json_integer_value(json_object_get(J(stats), "layersRemoved")), 1);
	assert_int_equal(json_integer_value(json_object_get(J(stats), "imagesRemoved")), 1);
	assert_true(json_integer_value(json_object_get(J(stats), "blobsRemoved")) >= 3);
	assert_true(json_integer_value(json_object_get(J(stats), "bytesFreed")) > 500000);
	json_decref(J(stats));
	free(image_id);
	korch_image_store_free(s);
}

static void
test_errors(void **state)
{
	korch_image_store *s = NULL;
	korch_error *err = NULL;
	assert_int_equal(korch_image_store_open("relative/dir", &s, &err), KORCH_EINVALID);
	assert_string_equal(
		korch_error_message(err),
		"open image store: the data dir \"relative/dir\" must be an absolute path");
	korch_error_free(err);
	err = NULL;
	assert_null(s);

	s = open_store();
	char missing[4200];
	snprintf(missing, sizeof(missing), "%s/nosuch.tar", data_dir);
	assert_int_equal(korch_image_load(s, missing, NULL, NULL, NULL, NULL, &err),
			 KORCH_ENOTFOUND);
	char want[4400];
	snprintf(want, sizeof(want), "load %s: no such file or directory", missing);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	err = NULL;

	assert_int_equal(korch_image_remove(s, "nginx:1.27", &err), KORCH_ENOTFOUND);
	assert_non_null(strstr(korch_error_message(err), "docker.io/library/nginx:1.27"));
	korch_error_free(err);
	err = NULL;

	assert_int_equal(korch_image_gc(s, 0x10, NULL, NULL, NULL, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "image gc: unknown flags 0x10");
	korch_error_free(err);
	korch_image_store_free(s);
	korch_image_store_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_list_remove_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
