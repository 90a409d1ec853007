/*
 * Field sets as structured-merge-diff keeps them: the FieldsV1 encoding read and written exactly
 * as Kubernetes writes managedFields, bad FieldsV1 refused with the path and the reason, the set
 * algebra, iteration order and path texts, and EnsureNamedFieldsAreMembers on the real schema.
 */
#include <korch/common.h>
#include "api/fieldset.h"
#include "base/macro.h"
#include "patch-test.h"

/* A set from FieldsV1 text (with ' for "). */
static struct fieldset *
tset(const char *v1_text)
{
	json_t *v = tjson(v1_text);
	struct fieldset *s = NULL;
	korch_error *err = NULL;
	if (fieldset_from_fields_v1(v, &s, &err) < 0)
		fail_msg("bad test set %s: %s", v1_text, korch_error_message(err));
	json_decref(v);
	return s;
}

/* s must encode exactly as want (member order included). */
static void
assert_set(const struct fieldset *s, const char *want)
{
	json_t *v = NULL;
	assert_int_equal(fieldset_to_fields_v1(s, &v, NULL), 0);
	assert_json_text(v, want);
	json_decref(v);
}

/* Parsing text must fail with exactly msg, leaving *ret alone. */
static void
assert_v1_error(const char *text, const char *msg)
{
	json_t *v = tjson(text);
	struct fieldset *s = (struct fieldset *)&s;
	korch_error *err = NULL;
	assert_int_equal(fieldset_from_fields_v1(v, &s, &err), KORCH_EINVALID);
	assert_ptr_equal(s, (struct fieldset *)&s);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(err);
	json_decref(v);
}

static void
test_v1_round_trip(void **state)
{
	static const char *const texts[] = {
		"{}",
		"{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:containers':{'k:{\\'name\\':"
		"\\'web\\'}':{'.':{},'f:image':{},'f:name':{}}}}}",
		"{'f:metadata':{'f:labels':{'.':{},'f:app':{}}},'f:spec':{'f:replicas':{}}}",
		"{'f:spec':{'f:ports':{'k:{\\'port\\':80,\\'protocol\\':\\'TCP\\'}':{'.':{},"
		"'f:port':{},'f:targetPort':{}}}}}",
		"{'f:metadata':{'f:finalizers':{'.':{},'v:\\'example.com/a\\'':{},'v:\\'x\\'':{}}}}",
		"{'f:a':{'i:0':{},'i:2':{'f:b':{}}}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		struct fieldset *s = tset(texts[i]);
		assert_set(s, texts[i]);
		fieldset_free(s);
	}
}

/* Kubernetes writes keys in the set's order whatever order they were read in. */
static void
test_v1_order(void **state)
{
	struct fieldset *s = tset("{'i:1':{},'v:true':{},'v:\\'b\\'':{},'v:2':{},"
				  "'k:{\\'name\\':\\'b\\'}':{},'k:{\\'name\\':\\'a\\'}':{},"
				  "'f:z':{},'f:a':{'f:y':{},'.':{},'f:x':{}}}");
	/* f: < k: < v: < i:; values: numbers, strings, booleans */
	assert_set(s, "{'f:a':{'.':{},'f:x':{},'f:y':{}},'f:z':{},'k:{\\'name\\':\\'a\\'}':{},"
		      "'k:{\\'name\\':\\'b\\'}':{},'v:2':{},'v:\\'b\\'':{},'v:true':{},'i:1':{}}");
	fieldset_free(s);
	/* key fields in name order, Go's JSON in k: and v: keys */
	s = tset("{'k:{\\'protocol\\':\\'TCP\\',\\'containerPort\\':80}':{},"
		 "'v:\\'<a&b>\\'':{},'v:1.50':{},'v:2.0':{}}");
	assert_set(s, "{'k:{\\'containerPort\\':80,\\'protocol\\':\\'TCP\\'}':{},'v:1.5':{},"
		      "'v:2':{},'v:\\'\\\\u003ca\\\\u0026b\\\\u003e\\'':{}}");
	fieldset_free(s);
}

static void
test_v1_read_rules(void **state)
{
	struct path_element a = { .type = PATH_FIELD, .field = "a" };
	struct path_element ab[2] = { a, { .type = PATH_FIELD, .field = "b" } };
	/* null counts as {}; a path with children is a member only with "." */
	struct fieldset *s = tset("{'f:a':{'f:b':null}}");
	assert_false(fieldset_has(s, &a, 1));
	assert_true(fieldset_has(s, ab, 2));
	assert_int_equal(fieldset_size(s), 1);
	fieldset_free(s);
	/* a type letter this version does not know is skipped with what is below it */
	s = tset("{'x:future':{'f:b':{},'zz':7},'f:a':{}}");
	assert_set(s, "{'f:a':{}}");
	fieldset_free(s);
	/* "." at the top is nothing */
	s = tset("{'.':{}}");
	assert_true(fieldset_empty(s));
	fieldset_free(s);
	/* the same key written two ways is one element */
	s = tset("{'k:{\\'a\\':1,\\'b\\':2}':{'f:x':{}},'k:{\\'b\\':2,\\'a\\':1}':{'f:y':{}}}");
	assert_set(s, "{'k:{\\'a\\':1,\\'b\\':2}':{'f:x':{},'f:y':{}}}");
	fieldset_free(s);
	/* a number written as a real or an integer is one value */
	s = tset("{'v:1':{},'v:1.0':{}}");
	assert_int_equal(fieldset_size(s), 1);
	fieldset_free(s);
}

static void
test_v1_errors(void **state)
{
	assert_v1_error("[]", "fieldsV1: expected an object, got list");
	assert_v1_error("{'f:spec':{'f:replicas':1}}",
			"fieldsV1: .spec.replicas: expected an object, got number");
	assert_v1_error("{'a':{}}", "fieldsV1: bad path element \"a\": shorter than 2 characters");
	assert_v1_error("{'':{}}", "fieldsV1: bad path element \"\": shorter than 2 characters");
	assert_v1_error("{'fa':{}}",
			"fieldsV1: bad path element \"fa\": no colon after the type letter");
	assert_v1_error("{'f:spec':{'k:[1]':{}}}",
			"fieldsV1: .spec: bad path element \"k:[1]\": the key is not a JSON "
			"object of at least one field");
	assert_v1_error("{'k:{}':{}}", "fieldsV1: bad path element \"k:{}\": the key is not a "
				       "JSON object of at least one field");
	assert_v1_error("{'k:{bad':{}}", "fieldsV1: bad path element \"k:{bad\": the key is not "
					 "a JSON object of at least one field");
	assert_v1_error("{'k:{\\'a\\':1,\\'a\\':2}':{}}",
			"fieldsV1: bad path element \"k:{\\\"a\\\":1,\\\"a\\\":2}\": the key is "
			"not a JSON object of at least one field");
	assert_v1_error("{'v:1 2':{}}",
			"fieldsV1: bad path element \"v:1 2\": the value is not one JSON value");
	assert_v1_error("{'v:':{}}",
			"fieldsV1: bad path element \"v:\": the value is not one JSON value");
	assert_v1_error("{'i:x':{}}",
			"fieldsV1: bad path element \"i:x\": the index is not an integer");
	assert_v1_error("{'i:1.5':{}}",
			"fieldsV1: bad path element \"i:1.5\": the index is not an integer");
	/* the path read so far names where */
	assert_v1_error("{'f:spec':{'f:containers':{'k:{\\'name\\':\\'web\\'}':{'f:ports':"
			"{'k:{\\'containerPort\\':80,\\'protocol\\':\\'TCP\\'}':{'zz':{}}}}}}}",
			"fieldsV1: .spec.containers[name=\"web\"].ports[containerPort=80,"
			"protocol=\"TCP\"]: bad path element \"zz\": no colon after the type "
			"letter");
	assert_v1_error("{'f:metadata':{'f:finalizers':{'v:\\'a\\\\nb\\'':7}}}",
			"fieldsV1: .metadata.finalizers[=\"a\\nb\"]: expected an object, got "
			"number");
	/* a NULL tree */
	korch_error *err = NULL;
	struct fieldset *s = NULL;
	assert_int_equal(fieldset_from_fields_v1(NULL, &s, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "fieldsV1: no value");
	korch_error_free(err);
}

static void
test_set_algebra(void **state)
{
	struct fieldset *a = tset("{'f:a':{},'f:b':{'f:c':{},'f:d':{}},'f:e':{'.':{},'f:f':{}}}");
	struct fieldset *b = tset("{'f:b':{'f:c':{}},'f:e':{},'f:g':{}}");
	struct fieldset *r = NULL, *r2 = NULL;
	assert_int_equal(fieldset_union(a, b, &r), 0);
	assert_set(r, "{'f:a':{},'f:b':{'f:c':{},'f:d':{}},'f:e':{'.':{},'f:f':{}},'f:g':{}}");
	assert_int_equal(fieldset_union(b, a, &r2), 0);
	assert_true(fieldset_equal(r, r2));
	fieldset_free(r);
	fieldset_free(r2);
	assert_int_equal(fieldset_intersection(a, b, &r), 0);
	assert_set(r, "{'f:b':{'f:c':{}},'f:e':{}}");
	fieldset_free(r);
	/* difference takes members only: .e goes, .e.f stays */
	assert_int_equal(fieldset_difference(a, b, &r), 0);
	assert_set(r, "{'f:a':{},'f:b':{'f:d':{}},'f:e':{'f:f':{}}}");
	fieldset_free(r);
	/* recursive difference takes what is below a member of b too */
	assert_int_equal(fieldset_recursive_difference(a, b, &r), 0);
	assert_set(r, "{'f:a':{},'f:b':{'f:d':{}}}");
	fieldset_free(r);
	assert_int_equal(fieldset_difference(b, a, &r), 0);
	assert_set(r, "{'f:g':{}}");
	fieldset_free(r);
	/* leaves: a member with children is no leaf */
	assert_int_equal(fieldset_leaves(a, &r), 0);
	assert_set(r, "{'f:a':{},'f:b':{'f:c':{},'f:d':{}},'f:e':{'f:f':{}}}");
	fieldset_free(r);
	assert_int_equal(fieldset_size(a), 5);
	assert_int_equal(fieldset_size(b), 3);
	struct path_element bc[2] = { { .type = PATH_FIELD, .field = "b" },
				      { .type = PATH_FIELD, .field = "c" } };
	assert_true(fieldset_has(a, bc, 2));
	assert_false(fieldset_has(a, bc, 1));
	assert_set(fieldset_child(a, &bc[0]), "{'f:c':{},'f:d':{}}");
	assert_null(fieldset_child(a, &bc[1]));
	r = fieldset_copy(a);
	assert_true(fieldset_equal(r, a));
	assert_false(fieldset_equal(r, b));
	/* the empty path adds nothing */
	assert_int_equal(fieldset_insert(r, bc, 0), 0);
	assert_true(fieldset_equal(r, a));
	fieldset_free(r);
	/* disjoint sets: an empty intersection, no empty nodes left behind */
	struct fieldset *c = tset("{'f:x':{'f:y':{}}}");
	assert_int_equal(fieldset_intersection(a, c, &r), 0);
	assert_true(fieldset_empty(r));
	assert_set(r, "{}");
	fieldset_free(r);
	assert_int_equal(fieldset_difference(c, c, &r), 0);
	assert_true(fieldset_empty(r));
	assert_set(r, "{}");
	fieldset_free(r);
	fieldset_free(a);
	fieldset_free(b);
	fieldset_free(c);
}

/* fieldset_iterate() callback: appends each path's text and a newline. */
static int
collect(const struct path_element *path, size_t n, void *userdata)
{
	struct strbuf *sb = userdata;
	assert_int_equal(path_to_string(path, n, sb), 0);
	return strbuf_putc(sb, '\n');
}

static int
stop_at_second(const struct path_element *path, size_t n, void *userdata)
{
	int *count = userdata;
	return ++*count == 2 ? 42 : 0;
}

static void
test_iterate_and_paths(void **state)
{
	struct fieldset *s = tset(
		"{'f:metadata':{'f:finalizers':{'v:\\'example.com/x\\'':{}},'f:labels':{"
		"'f:app':{}}},'f:spec':{'f:args':{'i:0':{}},'f:containers':{'k:{\\'name\\':\\'web\\'}':"
		"{'.':{},'f:image':{},'f:ports':{'k:{\\'containerPort\\':80,\\'protocol\\':"
		"\\'TCP\\'}':{}}}},'f:replicas':{},'f:x':{'v:1.5':{},'v:1000000.0':{},'v:true':{},"
		"'v:null':{},'v:[1,\\'a\\']':{},'v:\\'tab\\\\there\\'':{}}},'f:z':{}}");
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(fieldset_iterate(s, collect, &sb), 0);
	/* members first at each level, then what is below each child, in the set's order */
	assert_string_equal(strbuf_str(&sb),
			    ".z\n"
			    ".metadata.finalizers[=\"example.com/x\"]\n"
			    ".metadata.labels.app\n"
			    ".spec.replicas\n"
			    ".spec.args[0]\n"
			    ".spec.containers[name=\"web\"]\n"
			    ".spec.containers[name=\"web\"].image\n"
			    ".spec.containers[name=\"web\"].ports[containerPort=80,"
			    "protocol=\"TCP\"]\n"
			    ".spec.x[=1.5]\n"
			    ".spec.x[=1e+06]\n"
			    ".spec.x[=\"tab\\there\"]\n"
			    ".spec.x[=true]\n"
			    ".spec.x[=[1,\"a\"]]\n"
			    ".spec.x[=null]\n");
	strbuf_free(&sb);
	int count = 0;
	assert_int_equal(fieldset_iterate(s, stop_at_second, &count), 42);
	assert_int_equal(count, 2);
	fieldset_free(s);
}

static void
test_path_element_order(void **state)
{
	json_t *k1 = tjson("{'name':'a'}"), *k2 = tjson("{'name':'b'}");
	json_t *k3 = tjson("{'a':1,'b':2}"), *k4 = tjson("{'a':1}");
	json_t *v1 = tjson("1"), *v2 = tjson("1.0"), *v3 = tjson("'1'"), *v4 = tjson("false");
	struct path_element f = { .type = PATH_FIELD, .field = "z" };
	struct path_element ka = { .type = PATH_KEY, .value = k1 },
			    kb = { .type = PATH_KEY, .value = k2 };
	struct path_element kab = { .type = PATH_KEY, .value = k3 },
			    kat = { .type = PATH_KEY, .value = k4 };
	struct path_element vi = { .type = PATH_VALUE, .value = v1 },
			    vr = { .type = PATH_VALUE, .value = v2 };
	struct path_element vs = { .type = PATH_VALUE, .value = v3 },
			    vb = { .type = PATH_VALUE, .value = v4 };
	struct path_element i = { .type = PATH_INDEX, .index = 0 };
	assert_true(path_element_compare(&f, &ka) < 0);
	assert_true(path_element_compare(&ka, &kb) < 0);
	assert_true(path_element_compare(&kat, &kab) < 0); /* a shorter key first */
	assert_true(path_element_compare(&kb, &vi) < 0);
	assert_int_equal(path_element_compare(&vi, &vr), 0);
	assert_true(path_element_compare(&vr, &vs) < 0);
	assert_true(path_element_compare(&vs, &vb) < 0);
	assert_true(path_element_compare(&vb, &i) < 0);
	assert_true(path_element_compare(&i, &f) > 0);
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(path_element_to_key(&kab, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "k:{\"a\":1,\"b\":2}");
	strbuf_truncate(&sb, 0);
	assert_int_equal(path_element_to_key(&vs, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "v:\"1\"");
	strbuf_truncate(&sb, 0);
	assert_int_equal(path_element_to_key(&i, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "i:0");
	strbuf_free(&sb);
	json_decref(k1);
	json_decref(k2);
	json_decref(k3);
	json_decref(k4);
	json_decref(v1);
	json_decref(v2);
	json_decref(v3);
	json_decref(v4);
}

static void
test_value_compare(void **state)
{
	static const char *const ascending[] = {
		"-1", "1",   "1.5",   "2",   "''", "'a'",     "'b'",     "false",   "true",
		"[]", "[1]", "[1,2]", "[2]", "{}", "{'a':1}", "{'a':2}", "{'b':1}", "null",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ascending); i++) {
		json_t *a = tjson(ascending[i]);
		for (size_t j = 0; j < ARRAY_SIZE(ascending); j++) {
			json_t *b = tjson(ascending[j]);
			int c = value_compare(a, b), want = i < j ? -1 : i > j;
			if (c != want)
				fail_msg("compare %s %s: %d, want %d", ascending[i], ascending[j],
					 c, want);
			assert_int_equal(value_equal(a, b), i == j);
			json_decref(b);
		}
		json_decref(a);
	}
	json_t *a = tjson("{'x':1,'y':[1,{'z':2.0}]}"), *b = tjson("{'y':[1.0,{'z':2}],'x':1.0}");
	assert_true(value_equal(a, b));
	assert_int_equal(value_compare(a, b), 0);
	json_decref(a);
	json_decref(b);
}

/* EnsureNamedFieldsAreMembers on the Deployment schema. */
static void
test_ensure_named_fields(void **state)
{
	struct fieldset *s =
		tset("{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:template':{'f:spec':"
		     "{'f:containers':{'k:{\\'name\\':\\'web\\'}':{'f:image':{},'f:resources':{"
		     "'f:limits':{'f:cpu':{}}}}},'f:nodeSelector':{'f:disk':{}}}}},'f:status':{"
		     "'f:conditions':{'k:{\\'type\\':\\'Available\\'}':{'f:status':{}}}}}");
	struct fieldset *r = NULL;
	assert_int_equal(fieldset_ensure_named_fields(s, &schema_apps_v1_Deployment, &r), 0);
	/* declared fields with children become members; map keys and list items do not */
	assert_set(r, "{'f:metadata':{'.':{},'f:labels':{'.':{},'f:app':{}}},'f:spec':{'.':{},"
		      "'f:template':{'.':{},'f:spec':{'.':{},'f:containers':{'.':{},"
		      "'k:{\\'name\\':\\'web\\'}':{'f:image':{},'f:resources':{'.':{},'f:limits':"
		      "{'.':{},'f:cpu':{}}}}},'f:nodeSelector':{'.':{},'f:disk':{}}}}},"
		      "'f:status':{'.':{},'f:conditions':{'.':{},'k:{\\'type\\':\\'Available\\'}':"
		      "{'f:status':{}}}}}");
	fieldset_free(r);
	/* a field the schema does not declare is left as it is */
	fieldset_free(s);
	s = tset("{'f:spec':{'f:unknown':{'f:x':{}}}}");
	assert_int_equal(fieldset_ensure_named_fields(s, &schema_apps_v1_Deployment, &r), 0);
	assert_set(r, "{'f:spec':{'.':{},'f:unknown':{'f:x':{}}}}");
	fieldset_free(r);
	fieldset_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_round_trip),
		cmocka_unit_test(test_v1_order),
		cmocka_unit_test(test_v1_read_rules),
		cmocka_unit_test(test_v1_errors),
		cmocka_unit_test(test_set_algebra),
		cmocka_unit_test(test_iterate_and_paths),
		cmocka_unit_test(test_path_element_order),
		cmocka_unit_test(test_value_compare),
		cmocka_unit_test(test_ensure_named_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
