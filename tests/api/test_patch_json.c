/*
 * JSON merge patch (RFC 7386, its appendix A) and JSON patch (RFC 6902, its appendix A; the
 * error texts Kubernetes returns; pointer escapes; index rules; the copy and operation limits).
 */
#include <stdio.h>

#include <korch/common.h>
#include "api/patch.h"
#include "base/macro.h"
#include "patch-test.h"

/* A patch case: target and patch in, the result (or the error message) out. */
struct pcase {
	const char *name;   /* test name */
	const char *target; /* JSON, ' for " */
	const char *patch;  /* JSON, ' for " */
	const char *result; /* expected document, or NULL when an error is expected */
	const char *error;  /* expected error message when result is NULL */
};

/* RFC 7386 appendix A, every row. */
static const struct pcase merge_cases[] = {
	{ "A1 replace member", "{'a':'b'}", "{'a':'c'}", "{'a':'c'}" },
	{ "A2 add member", "{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}" },
	{ "A3 null removes", "{'a':'b'}", "{'a':null}", "{}" },
	{ "A4 null removes one", "{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}" },
	{ "A5 list replaced by string", "{'a':['b']}", "{'a':'c'}", "{'a':'c'}" },
	{ "A6 string replaced by list", "{'a':'c'}", "{'a':['b']}", "{'a':['b']}" },
	{ "A7 nested merge", "{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}" },
	{ "A8 lists replaced whole", "{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}" },
	{ "A9 list by list", "['a','b']", "['c','d']", "['c','d']" },
	{ "A10 object by list", "{'a':'b'}", "['c']", "['c']" },
	{ "A11 null patch", "{'a':'foo'}", "null", "null" },
	{ "A12 string patch", "{'a':'foo'}", "'bar'", "'bar'" },
	{ "A13 target null kept", "{'e':null}", "{'a':1}", "{'e':null,'a':1}" },
	{ "A14 list target", "[1,2]", "{'a':'b','c':null}", "{'a':'b'}" },
	{ "A15 nested nulls dropped", "{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}" },
	{ "nulls inside lists kept", "{}", "{'a':[1,null]}", "{'a':[1,null]}" },
	{ "labels", "{'metadata':{'labels':{'app':'web','tier':'fe'}}}",
	  "{'metadata':{'labels':{'tier':null,'env':'prod'}}}",
	  "{'metadata':{'labels':{'app':'web','env':'prod'}}}" },
};

static void
run_merge(void **state)
{
	const struct pcase *c = *state;
	json_t *target = tjson(c->target), *patch = tjson(c->patch), *result = NULL;
	struct tsnap st = tsnap_take(target), sp = tsnap_take(patch);
	korch_error *err = NULL;
	assert_int_equal(patch_json_merge(target, patch, &result, &err), 0);
	assert_null(err);
	assert_json_equal(result, c->result);
	tsnap_check(&st);
	tsnap_check(&sp);
	json_decref(result);
	json_decref(target);
	json_decref(patch);
}

/* A merge result shares nothing with the patch: changing it leaves the patch alone. */
static void
test_merge_result_is_new(void **state)
{
	json_t *target = tjson("{'a':{'x':1}}"), *patch = tjson("{'b':{'y':[1]}}"), *result = NULL;
	assert_int_equal(patch_json_merge(target, patch, &result, NULL), 0);
	json_array_append_new(json_object_get(json_object_get(result, "b"), "y"), json_integer(2));
	json_object_set_new(json_object_get(result, "a"), "z", json_true());
	assert_json_text(patch, "{'b':{'y':[1]}}");
	assert_json_text(target, "{'a':{'x':1}}");
	assert_json_text(result, "{'a':{'x':1,'z':true},'b':{'y':[1,2]}}");
	json_decref(result);
	json_decref(target);
	json_decref(patch);
}

/* RFC 6902 appendix A (A.13, a document with two "op" members, is the JSON decoder's). */
static const struct pcase json_patch_cases[] = {
	{ "A1 add member", "{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux'}]",
	  "{'baz':'qux','foo':'bar'}" },
	{ "A2 add element", "{'foo':['bar','baz']}", "[{'op':'add','path':'/foo/1','value':'qux'}]",
	  "{'foo':['bar','qux','baz']}" },
	{ "A3 remove member", "{'baz':'qux','foo':'bar'}", "[{'op':'remove','path':'/baz'}]",
	  "{'foo':'bar'}" },
	{ "A4 remove element", "{'foo':['bar','qux','baz']}", "[{'op':'remove','path':'/foo/1'}]",
	  "{'foo':['bar','baz']}" },
	{ "A5 replace", "{'baz':'qux','foo':'bar'}",
	  "[{'op':'replace','path':'/baz','value':'boo'}]", "{'baz':'boo','foo':'bar'}" },
	{ "A6 move value", "{'foo':{'bar':'baz','waldo':'fred'},'qux':{'corge':'grault'}}",
	  "[{'op':'move','from':'/foo/waldo','path':'/qux/thud'}]",
	  "{'foo':{'bar':'baz'},'qux':{'corge':'grault','thud':'fred'}}" },
	{ "A7 move element", "{'foo':['all','grass','cows','eat']}",
	  "[{'op':'move','from':'/foo/1','path':'/foo/3'}]",
	  "{'foo':['all','cows','eat','grass']}" },
	{ "A8 test passes", "{'baz':'qux','foo':['a',2,'c']}",
	  "[{'op':'test','path':'/baz','value':'qux'},{'op':'test','path':'/foo/1','value':2}]",
	  "{'baz':'qux','foo':['a',2,'c']}" },
	{ "A9 test fails", "{'baz':'qux'}", "[{'op':'test','path':'/baz','value':'bar'}]", NULL,
	  "operation 0: testing value /baz failed: test failed" },
	{ "A10 add nested object", "{'foo':'bar'}",
	  "[{'op':'add','path':'/child','value':{'grandchild':{}}}]",
	  "{'foo':'bar','child':{'grandchild':{}}}" },
	{ "A11 unknown members ignored", "{'foo':'bar'}",
	  "[{'op':'add','path':'/baz','value':'qux','xyz':123}]", "{'foo':'bar','baz':'qux'}" },
	{ "A12 add to missing parent", "{'foo':'bar'}",
	  "[{'op':'add','path':'/baz/bat','value':'qux'}]", NULL,
	  "operation 0: add operation does not apply: doc is missing path: \"/baz/bat\": missing "
	  "value" },
	{ "A14 escape order", "{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':10}]",
	  "{'/':9,'~1':10}" },
	{ "A15 string is not number", "{'/':9,'~1':10}",
	  "[{'op':'test','path':'/~01','value':'10'}]", NULL,
	  "operation 0: testing value /~01 failed: test failed" },
	{ "A16 add list value", "{'foo':['bar']}",
	  "[{'op':'add','path':'/foo/-','value':['abc','def']}]", "{'foo':['bar',['abc','def']]}" },
	/* Beyond the appendix. */
	{ "escaped keys", "{'metadata':{'labels':{}}}",
	  "[{'op':'add','path':'/metadata/labels/app.kubernetes.io~1name','value':'web'},"
	  "{'op':'add','path':'/metadata/labels/m~0n','value':'x'}]",
	  "{'metadata':{'labels':{'app.kubernetes.io/name':'web','m~n':'x'}}}" },
	{ "add replaces member", "{'a':1}", "[{'op':'add','path':'/a','value':2}]", "{'a':2}" },
	{ "add at end index", "{'a':[1]}", "[{'op':'add','path':'/a/1','value':2}]",
	  "{'a':[1,2]}" },
	{ "negative index", "{'a':[1,2,3]}",
	  "[{'op':'remove','path':'/a/-1'},{'op':'add','path':'/a/-1','value':9}]",
	  "{'a':[1,2,9]}" },
	{ "replace element", "{'a':[1,2]}", "[{'op':'replace','path':'/a/0','value':{'b':1}}]",
	  "{'a':[{'b':1},2]}" },
	{ "replace adds a missing member, as Kubernetes does", "{'spec':{}}",
	  "[{'op':'replace','path':'/spec/x','value':1}]", "{'spec':{'x':1}}" },
	{ "replace root", "{'a':1}", "[{'op':'replace','path':'','value':{'b':2}}]", "{'b':2}" },
	{ "add root", "{'a':1}", "[{'op':'add','path':'','value':[1]}]", "[1]" },
	{ "replace with null", "{'a':1}", "[{'op':'replace','path':'/a','value':null}]",
	  "{'a':null}" },
	{ "test numbers by value", "{'a':1,'b':{'x':[1,2],'y':null}}",
	  "[{'op':'test','path':'/a','value':1.0},"
	  "{'op':'test','path':'/b','value':{'y':null,'x':[1,2.0]}},"
	  "{'op':'test','path':'','value':{'b':{'x':[1,2],'y':null},'a':1}}]",
	  "{'a':1,'b':{'x':[1,2],'y':null}}" },
	{ "copy", "{'a':{'b':[1]}}", "[{'op':'copy','from':'/a','path':'/c'}]",
	  "{'a':{'b':[1]},'c':{'b':[1]}}" },
	{ "copy element", "{'a':[1,2]}", "[{'op':'copy','from':'/a/0','path':'/a/-'}]",
	  "{'a':[1,2,1]}" },
	{ "move onto itself", "{'a':{'b':1}}", "[{'op':'move','from':'/a','path':'/a'}]",
	  "{'a':{'b':1}}" },
	{ "null patch", "{'a':1}", "null", "{'a':1}" },
	{ "empty key", "{'':{'x':1}}", "[{'op':'add','path':'//y','value':2}]",
	  "{'':{'x':1,'y':2}}" },
	{ "rollout undo", "{'metadata':{'annotations':{'a':'1'}},'spec':{'template':{'x':1}}}",
	  "[{'op':'replace','path':'/spec/template','value':{'y':2}},"
	  "{'op':'replace','path':'/metadata/annotations','value':{'b':'2'}}]",
	  "{'metadata':{'annotations':{'b':'2'}},'spec':{'template':{'y':2}}}" },
	/* Errors, with the texts of gopkg.in/evanphx/json-patch.v4 that Kubernetes returns. */
	{ "add index out of bounds", "{'foo':[1]}", "[{'op':'add','path':'/foo/2','value':0}]",
	  NULL,
	  "operation 0: error in add for path: '/foo/2': Unable to access invalid index: 2: invalid "
	  "index referenced" },
	{ "add index not a number", "{'foo':[1]}", "[{'op':'add','path':'/foo/x','value':0}]", NULL,
	  "operation 0: error in add for path: '/foo/x': value was not a proper array index: 'x': "
	  "strconv.Atoi: parsing \"x\": invalid syntax" },
	{ "add index leading zero", "{'foo':[1,2]}", "[{'op':'add','path':'/foo/01','value':0}]",
	  NULL,
	  "operation 0: error in add for path: '/foo/01': Unable to access invalid index: 01: "
	  "invalid index referenced" },
	{ "add index plus sign", "{'foo':[1,2]}", "[{'op':'add','path':'/foo/+1','value':0}]", NULL,
	  "operation 0: error in add for path: '/foo/+1': Unable to access invalid index: +1: "
	  "invalid index referenced" },
	{ "add index too negative", "{'foo':[1]}", "[{'op':'add','path':'/foo/-3','value':0}]",
	  NULL,
	  "operation 0: error in add for path: '/foo/-3': Unable to access invalid index: -3: "
	  "invalid index referenced" },
	{ "remove missing member", "{'a':1}",
	  "[{'op':'test','path':'/a','value':1},{'op':'remove','path':'/nope'}]", NULL,
	  "operation 1: error in remove for path: '/nope': Unable to remove nonexistent key: nope: "
	  "missing value" },
	{ "remove dash", "{'foo':[1]}", "[{'op':'remove','path':'/foo/-'}]", NULL,
	  "operation 0: error in remove for path: '/foo/-': strconv.Atoi: parsing \"-\": invalid "
	  "syntax" },
	{ "remove index out of bounds", "{'foo':[1]}", "[{'op':'remove','path':'/foo/1'}]", NULL,
	  "operation 0: error in remove for path: '/foo/1': Unable to access invalid index: 1: "
	  "invalid index referenced" },
	{ "remove huge index", "{'foo':[1]}",
	  "[{'op':'remove','path':'/foo/99999999999999999999'}]", NULL,
	  "operation 0: error in remove for path: '/foo/99999999999999999999': strconv.Atoi: "
	  "parsing \"99999999999999999999\": value out of range" },
	{ "remove root", "{'a':1}", "[{'op':'remove','path':''}]", NULL,
	  "operation 0: remove operation does not apply: doc is missing path: \"\": missing value" },
	{ "remove through a string", "{'a':'text'}", "[{'op':'remove','path':'/a/b'}]", NULL,
	  "operation 0: remove operation does not apply: doc is missing path: \"/a/b\": missing "
	  "value" },
	{ "replace missing parent", "{'spec':{}}",
	  "[{'op':'replace','path':'/spec/x/y','value':1}]", NULL,
	  "operation 0: replace operation does not apply: doc is missing path: /spec/x/y: missing "
	  "value" },
	{ "replace index out of bounds", "{'a':[]}", "[{'op':'replace','path':'/a/0','value':1}]",
	  NULL,
	  "operation 0: replace operation does not apply: doc is missing key: /a/0: missing "
	  "value" },
	{ "move from missing parent", "{'a':1}", "[{'op':'move','from':'/x/y','path':'/b'}]", NULL,
	  "operation 0: move operation does not apply: doc is missing from path: /x/y: missing "
	  "value" },
	{ "move missing member", "{'a':{}}", "[{'op':'move','from':'/a/nope','path':'/b'}]", NULL,
	  "operation 0: error in move for path: 'nope': Unable to remove nonexistent key: nope: "
	  "missing value" },
	{ "move into own child", "{'a':{'b':1}}", "[{'op':'move','from':'/a','path':'/a/b/c'}]",
	  NULL,
	  "operation 0: move operation does not apply: doc is missing destination path: /a/b/c: "
	  "missing value" },
	{ "test missing member", "{'a':1}", "[{'op':'test','path':'/nope','value':null}]", NULL,
	  "operation 0: testing value /nope failed: test failed" },
	{ "test missing parent", "{'a':1}", "[{'op':'test','path':'/x/y','value':1}]", NULL,
	  "operation 0: test operation does not apply: is missing path: /x/y: missing value" },
	{ "test whole document", "{'a':1}", "[{'op':'test','path':'','value':{'a':2}}]", NULL,
	  "operation 0: testing value  failed: test failed" },
	{ "test bad index", "{'a':[1]}", "[{'op':'test','path':'/a/x','value':1}]", NULL,
	  "operation 0: error in test for path: '/a/x': strconv.Atoi: parsing \"x\": invalid "
	  "syntax" },
	{ "copy missing member", "{'a':1}", "[{'op':'copy','from':'/nope','path':'/b'}]", NULL,
	  "operation 0: copy operation does not apply: doc is missing from path: /nope: missing "
	  "value" },
	{ "copy to missing parent", "{'a':1}", "[{'op':'copy','from':'/a','path':'/x/y'}]", NULL,
	  "operation 0: copy operation does not apply: doc is missing destination path: /x/y: "
	  "missing value" },
	{ "copy to bad index", "{'a':[1]}", "[{'op':'copy','from':'/a/0','path':'/a/5'}]", NULL,
	  "operation 0: error while adding value during copy: Unable to access invalid index: 5: "
	  "invalid index referenced" },
	{ "unknown op", "{}", "[{'op':'frobnicate','path':'/a'}]", NULL,
	  "operation 0: Unexpected kind: frobnicate" },
	{ "no op", "{}", "[{'path':'/a'}]", NULL, "operation 0: Unexpected kind: unknown" },
	{ "null operation", "{}", "[null]", NULL, "operation 0: Unexpected kind: unknown" },
	{ "add without path", "{}", "[{'op':'add','value':1}]", NULL,
	  "operation 0: add operation failed to decode path: missing value" },
	{ "replace without path", "{}", "[{'op':'replace','value':1}]", NULL,
	  "operation 0: replace operation failed to decode path: operation missing path field: "
	  "missing value" },
	{ "replace with number path", "{}", "[{'op':'replace','path':5,'value':1}]", NULL,
	  "operation 0: replace operation failed to decode path: json: cannot unmarshal number "
	  "into Go value of type string" },
	{ "move without from", "{}", "[{'op':'move','path':'/a'}]", NULL,
	  "operation 0: move operation failed to decode from: operation, missing from field: "
	  "missing value" },
	{ "copy without path", "{'a':1}", "[{'op':'copy','from':'/a'}]", NULL,
	  "operation 0: copy operation failed to decode path: missing value" },
	{ "add without value", "{}", "[{'op':'add','path':'/a'}]", NULL,
	  "operation 0: add operation failed to decode value: operation, missing value field: "
	  "missing value" },
	{ "pointer without slash", "{'a':{}}", "[{'op':'add','path':'a/b','value':1}]", NULL,
	  "operation 0: add operation failed to decode path: invalid JSON pointer \"a/b\": a JSON "
	  "pointer must be empty or start with '/'" },
	{ "bad escape", "{}", "[{'op':'add','path':'/a~2','value':1}]", NULL,
	  "operation 0: add operation failed to decode path: invalid JSON pointer \"/a~2\": '~' "
	  "must be followed by '0' or '1'" },
	{ "trailing tilde", "{}", "[{'op':'remove','path':'/a~'}]", NULL,
	  "operation 0: remove operation failed to decode path: invalid JSON pointer \"/a~\": '~' "
	  "must be followed by '0' or '1'" },
	{ "patch not a list", "{}", "{'op':'add'}", NULL,
	  "json: cannot unmarshal object into Go value of type jsonpatch.Patch" },
	{ "operation not an object", "{}", "['add']", NULL,
	  "operation 0: json: cannot unmarshal string into Go value of type jsonpatch.Operation" },
	{ "later operation fails", "{'a':[]}",
	  "[{'op':'add','path':'/a/-','value':1},{'op':'add','path':'/a/-','value':2},"
	  "{'op':'test','path':'/a/1','value':3}]",
	  NULL, "operation 2: testing value /a/1 failed: test failed" },
};

static void
run_json_patch(void **state)
{
	const struct pcase *c = *state;
	json_t *target = tjson(c->target), *ops = tjson(c->patch), *result = NULL;
	struct tsnap st = tsnap_take(target), sp = tsnap_take(ops);
	korch_error *err = NULL;
	int r = patch_json_patch(target, ops, &result, &err);
	if (c->result) {
		if (r < 0)
			fail_msg("unexpected error: %s", korch_error_message(err));
		assert_json_equal(result, c->result);
	} else {
		assert_int_equal(r, KORCH_EINVALID);
		assert_null(result);
		assert_string_equal(korch_error_message(err), c->error);
		korch_error_free(err);
	}
	tsnap_check(&st);
	tsnap_check(&sp);
	json_decref(result);
	json_decref(target);
	json_decref(ops);
}

/* The failing operation's text is also the error's one cause, without the index. */
static void
test_error_cause(void **state)
{
	json_t *target = tjson("{'spec':{}}");
	json_t *ops = tjson("[{'op':'test','path':'/spec','value':{}},"
			    "{'op':'add','path':'/spec/x/y','value':1}]");
	json_t *result = NULL;
	korch_error *err = NULL;
	assert_int_equal(patch_json_patch(target, ops, &result, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "operation 1: add operation does not apply: doc is missing path: "
			    "\"/spec/x/y\": missing value");
	assert_int_equal(korch_error_cause_count(err), 1);
	assert_null(korch_error_cause_field(err, 0));
	assert_string_equal(korch_error_cause_message(err, 0),
			    "add operation does not apply: doc is missing path: \"/spec/x/y\": "
			    "missing value");
	korch_error_free(err);
	json_decref(target);
	json_decref(ops);
}

/* "copy" may add at most 3 MiB (Kubernetes' JSONPatchMaxCopyBytes) over the whole patch. */
static void
test_copy_limit(void **state)
{
	size_t n = 1024 * 1024;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	json_t *target = json_pack("{s:s}", "data", big);
	free(big);
	json_t *two = tjson("[{'op':'copy','from':'/data','path':'/c1'},"
			    "{'op':'copy','from':'/data','path':'/c2'}]");
	json_t *three = json_deep_copy(two), *result = NULL;
	json_array_append_new(three, tjson("{'op':'copy','from':'/data','path':'/c3'}"));

	assert_int_equal(patch_json_patch(target, two, &result, NULL), 0);
	assert_int_equal(json_object_size(result), 3);
	json_decref(result);
	result = NULL;

	korch_error *err = NULL;
	assert_int_equal(patch_json_patch(target, three, &result, &err), KORCH_EINVALID);
	assert_null(result);
	/* Each copy is the string and its two quotes: 3 * 1048578 bytes. */
	assert_string_equal(korch_error_message(err),
			    "operation 2: Unable to complete the copy, the accumulated size "
			    "increase of copy is 3145734, exceeding the limit 3145728");
	korch_error_free(err);
	json_decref(target);
	json_decref(two);
	json_decref(three);
}

/* Kubernetes refuses a patch of more than 10000 operations before applying any. */
static void
test_operation_limit(void **state)
{
	json_t *target = tjson("{'a':[]}"), *ops = json_array(), *result = NULL;
	for (int i = 0; i < 10000; i++)
		json_array_append_new(ops, tjson("{'op':'add','path':'/a/-','value':1}"));
	assert_int_equal(patch_json_patch(target, ops, &result, NULL), 0);
	assert_int_equal(json_array_size(json_object_get(result, "a")), 10000);
	json_decref(result);
	result = NULL;

	json_array_append_new(ops, tjson("{'op':'add','path':'/a/-','value':1}"));
	korch_error *err = NULL;
	assert_int_equal(patch_json_patch(target, ops, &result, &err), KORCH_ETOOLARGE);
	assert_string_equal(korch_error_message(err),
			    "The allowed maximum operations in a JSON patch is 10000, got 10001");
	korch_error_free(err);
	json_decref(target);
	json_decref(ops);
}

/* The result shares nothing with the operations' values. */
static void
test_result_is_new(void **state)
{
	json_t *target = tjson("{}");
	json_t *ops = tjson("[{'op':'add','path':'/a','value':{'b':[1]}}]"), *result = NULL;
	assert_int_equal(patch_json_patch(target, ops, &result, NULL), 0);
	json_array_append_new(json_object_get(json_object_get(result, "a"), "b"), json_integer(2));
	assert_json_text(ops, "[{'op':'add','path':'/a','value':{'b':[1]}}]");
	assert_json_text(target, "{}");
	json_decref(result);
	json_decref(target);
	json_decref(ops);
}

/* A pointer with a NUL byte in it is refused, not cut short at the NUL. */
static void
test_pointer_with_nul(void **state)
{
	json_t *target = tjson("{'a':{'b':1}}"), *result = NULL;
	json_t *ops = json_pack("[{s:s,s:o}]", "op", "remove", "path", json_stringn("/a\0/b", 5));
	korch_error *err = NULL;
	assert_int_equal(patch_json_patch(target, ops, &result, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "operation 0: remove operation failed to decode path: invalid JSON "
			    "pointer: it holds a NUL byte");
	korch_error_free(err);
	json_decref(target);
	json_decref(ops);
}

static void
test_missing_documents(void **state)
{
	json_t *doc = tjson("{}"), *result = NULL;
	korch_error *err = NULL;
	assert_int_equal(patch_json_patch(NULL, doc, &result, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "json patch: no target document");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(patch_json_merge(doc, NULL, &result, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "merge patch: no patch document");
	korch_error_free(err);
	assert_null(result);
	json_decref(doc);
}

static size_t
add_table(struct CMUnitTest *tests, size_t n, const char *prefix, const struct pcase *cases,
	  size_t count, CMUnitTestFunction fn)
{
	for (size_t i = 0; i < count; i++) {
		char *name = NULL;
		assert_true(asprintf(&name, "%s: %s", prefix, cases[i].name) > 0);
		tests[n++] = (struct CMUnitTest){ .name = name,
						  .test_func = fn,
						  .initial_state = (void *)&cases[i] };
	}
	return n;
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_merge_result_is_new), cmocka_unit_test(test_error_cause),
		cmocka_unit_test(test_copy_limit),          cmocka_unit_test(test_operation_limit),
		cmocka_unit_test(test_result_is_new),       cmocka_unit_test(test_pointer_with_nul),
		cmocka_unit_test(test_missing_documents),
	};
	size_t total = ARRAY_SIZE(merge_cases) + ARRAY_SIZE(json_patch_cases) + ARRAY_SIZE(fixed);
	struct CMUnitTest *tests = calloc(total, sizeof(*tests));
	size_t n = add_table(tests, 0, "merge", merge_cases, ARRAY_SIZE(merge_cases), run_merge);
	n = add_table(tests, n, "json", json_patch_cases, ARRAY_SIZE(json_patch_cases),
		      run_json_patch);
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		tests[n++] = fixed[i];
	int r = _cmocka_run_group_tests("patch-json", tests, n, NULL, NULL);
	for (size_t i = 0; i < n - ARRAY_SIZE(fixed); i++)
		free((char *)tests[i].name);
	free(tests);
	return r;
}
