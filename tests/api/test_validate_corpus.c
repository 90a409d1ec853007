/*
 * Realistic manifests of all 29 kinds (the .json files of tests/api/manifests-valid, each a JSON array of
 * objects) pass the schema check, defaulting, validation and the refused-field policy, and
 * defaulting them twice changes nothing. Jobs first get what the write path gives a Job before
 * validating it: a uid, and the generated selector and template labels.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "api/schema.h"
#include "api/validate.h"
#include "base/util.h"
#include "test_validate.h"

/* The Job REST strategy's generateSelector, with a uid. */
static void
prepare_job(json_t *job)
{
	json_t *meta = json_object_get(job, "metadata");
	json_object_set_new(meta, "uid", json_string("0b5c2a4e-1111-2222-3333-444455556666"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	json_t *spec = json_object_get(job, "spec");
	if (json_is_true(json_object_get(spec, "manualSelector")))
		return;
	json_t *tmpl = json_object_get(spec, "template");
	json_t *tmeta = json_object_get(tmpl, "metadata");
	if (!tmeta) {
		tmeta = json_object();
		json_object_set_new(tmpl, "metadata", tmeta);
	}
	json_t *labels = json_object_get(tmeta, "labels");
	if (!labels) {
		labels = json_object();
		json_object_set_new(tmeta, "labels", labels);
	}
	const char *uid = "0b5c2a4e-1111-2222-3333-444455556666";
	json_object_set_new(labels, "job-name", json_string(name));
	json_object_set_new(labels, "batch.kubernetes.io/job-name", json_string(name));
	json_object_set_new(labels, "controller-uid", json_string(uid));
	json_object_set_new(labels, "batch.kubernetes.io/controller-uid", json_string(uid));
	json_object_set_new(
		spec, "selector",
		json_pack("{s{ss}}", "matchLabels", "batch.kubernetes.io/controller-uid", uid));
}

static int
check_object(const char *file, size_t index, json_t *obj, unsigned *kinds_seen)
{
	const struct kind_info *k = NULL;
	korch_error *err = NULL;
	int failures = 0;
	if (kind_resolve_object(obj, &k, &err) < 0) {
		print_error("%s[%zu]: %s\n", file, index, korch_error_message(err));
		korch_error_free(err);
		return 1;
	}
	for (size_t i = 0; i < kind_registry_count; i++)
		if (kind_registry[i] == k)
			kinds_seen[i / 32] |= 1u << (i % 32);
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	if (schema_check(obj, k->schema, FIELD_VALIDATION_STRICT, NULL, &err) < 0) {
		print_error("%s: %s %s: schema: %s\n", file, k->kind, name,
			    korch_error_message(err));
		korch_error_free(err);
		err = NULL;
		failures++;
	}
	if (streq(k->kind, "Job"))
		prepare_job(obj);
	object_set_defaults(obj, k);
	json_t *again = json_deep_copy(obj);
	object_set_defaults(again, k);
	if (!json_equal(obj, again)) {
		print_error("%s: %s %s: defaulting twice changed it\n", file, k->kind, name);
		failures++;
	}
	json_decref(again);
	if (object_validate(obj, NULL, k, &err) < 0) {
		print_error("%s: %s %s: %s\n", file, k->kind, name, korch_error_message(err));
		korch_error_free(err);
		err = NULL;
		failures++;
	}
	/* an update that changes nothing is valid too */
	if (object_validate(obj, obj, k, &err) < 0) {
		print_error("%s: %s %s (update): %s\n", file, k->kind, name,
			    korch_error_message(err));
		korch_error_free(err);
		err = NULL;
		failures++;
	}
	if (object_check_supported(obj, k, &err) < 0) {
		print_error("%s: %s %s: %s\n", file, k->kind, name, korch_error_message(err));
		korch_error_free(err);
		failures++;
	}
	return failures;
}

static void
test_corpus(void **state)
{
	(void)state;
	const char *root = getenv("KORCH_SOURCE_ROOT");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/api/manifests-valid", root ? root : "..");
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("cannot open %s", dir);
	unsigned kinds_seen[2] = { 0 };
	int failures = 0, files = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!endswith(de->d_name, ".json"))
			continue;
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		json_error_t je;
		json_t *list = json_load_file(path, 0, &je);
		if (!json_is_array(list))
			fail_msg("%s: not a JSON array (%s)", path, je.text);
		files++;
		size_t i;
		json_t *obj;
		json_array_foreach (list, i, obj)
			failures += check_object(de->d_name, i, obj, kinds_seen);
		json_decref(list);
	}
	closedir(d);
	assert_true(files > 0);
	for (size_t i = 0; i < kind_registry_count; i++)
		if (!(kinds_seen[i / 32] & (1u << (i % 32)))) {
			print_error("no manifest of kind %s\n", kind_registry[i]->kind);
			failures++;
		}
	if (failures)
		fail_msg("%d problems", failures);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
