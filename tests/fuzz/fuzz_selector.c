/*
 * fuzz_selector: label and field selector parsers. Whatever parses must print, parse back and
 * print the same again, and the two selectors must agree on a few sample label sets and
 * objects; anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api/selector.h"

static const char *const label_sets[] = {
	"{}",
	"{\"app\":\"web\",\"tier\":\"db\",\"n\":\"5\"}",
	"{\"a\":\"\",\"x\":\"1\",\"in\":\"notin\"}",
	"{\"example.com/app\":\"a-b_c.d\",\"x\":\"y\",\"z\":\"-3\"}",
};

static const char *const objects[] = {
	"{}",
	("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"nodeName\":\"n1\","
	 "\"hostNetwork\":true},\"status\":{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"10.0.0.5\"}]}}"),
	"{\"metadata\":{\"name\":\"a,b=c\\\\\"},\"status\":{\"replicas\":2}}",
};

static const struct kind_info pod_kind = { .group = "", .kind = "Pod", .plural = "pods" };

static void
check_labels(const char *text, json_t *const *sets, size_t n_sets)
{
	struct label_selector *sel = NULL, *again = NULL, *third = NULL;
	korch_error *err = NULL;
	if (label_selector_parse(text, &sel, &err) < 0) {
		if (!err || korch_error_code(err) != KORCH_EINVALID || !*korch_error_message(err))
			abort();
		korch_error_free(err);
		return;
	}
	char *s1 = label_selector_string(sel);
	if (!s1 || label_selector_parse(s1, &again, NULL) < 0) {
		fprintf(stderr, "label selector %s printed as unparsable %s\n", text, s1);
		abort();
	}
	char *s2 = label_selector_string(again);
	if (label_selector_parse(s2, &third, NULL) < 0)
		abort();
	char *s3 = label_selector_string(third);
	if (strcmp(s1, s2) != 0 || strcmp(s2, s3) != 0) {
		fprintf(stderr, "label selector %s: %s then %s\n", text, s1, s2);
		abort();
	}
	for (size_t i = 0; i < n_sets; i++)
		if (label_selector_matches(sel, sets[i]) != label_selector_matches(again, sets[i]))
			abort();
	if (label_selector_is_empty(sel) != (*s1 == '\0'))
		abort();
	free(s1);
	free(s2);
	free(s3);
	label_selector_free(sel);
	label_selector_free(again);
	label_selector_free(third);
}

static void
check_fields(const char *text, const struct kind_info *kind, json_t *const *objs, size_t n_objs)
{
	struct field_selector *sel = NULL, *again = NULL, *third = NULL;
	korch_error *err = NULL;
	if (field_selector_parse(text, kind, &sel, &err) < 0) {
		if (!err || korch_error_code(err) != KORCH_EINVALID || !*korch_error_message(err))
			abort();
		korch_error_free(err);
		return;
	}
	char *s1 = field_selector_string(sel);
	if (!s1 || field_selector_parse(s1, kind, &again, NULL) < 0) {
		fprintf(stderr, "field selector %s printed as unparsable %s\n", text, s1);
		abort();
	}
	/* "a==z,a=b" prints in the order of its raw terms; the printed form is a fixed point */
	char *s2 = field_selector_string(again);
	if (field_selector_parse(s2, kind, &third, NULL) < 0)
		abort();
	char *s3 = field_selector_string(third);
	if (strcmp(s2, s3) != 0 || strlen(s1) != strlen(s2))
		abort();
	for (size_t i = 0; i < n_objs; i++)
		if (field_selector_matches(sel, objs[i]) != field_selector_matches(again, objs[i]))
			abort();
	free(s1);
	free(s2);
	free(s3);
	field_selector_free(sel);
	field_selector_free(again);
	field_selector_free(third);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *sets[sizeof(label_sets) / sizeof(label_sets[0])];
	static json_t *objs[sizeof(objects) / sizeof(objects[0])];
	if (!sets[0]) {
		for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
			sets[i] = json_loads(label_sets[i], 0, NULL);
		for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
			objs[i] = json_loads(objects[i], 0, NULL);
	}
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_labels(text, sets, sizeof(sets) / sizeof(sets[0]));
	check_fields(text, &pod_kind, objs, sizeof(objs) / sizeof(objs[0]));
	check_fields(text, NULL, objs, sizeof(objs) / sizeof(objs[0]));
	/* the same bytes as a metav1.LabelSelector object, when they are JSON */
	json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (v) {
		struct label_selector *sel = NULL;
		korch_error *err = NULL;
		if (label_selector_from_json(v, &sel, &err) == 0) {
			char *s = label_selector_string(sel);
			free(s);
			label_selector_free(sel);
		} else if (korch_error_cause_count(err) == 0 &&
			   korch_error_code(err) != KORCH_ENOMEM) {
			abort();
		}
		korch_error_free(err);
		json_decref(v);
	}
	free(text);
	return 0;
}
