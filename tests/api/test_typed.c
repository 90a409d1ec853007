/*
 * Values walked under the schema as structured-merge-diff walks them: validation and its
 * messages, the set of fields an object sets (ToFieldSet), the merge of an applied
 * configuration with SMD's list order, the comparison of two objects, and removal. Small schemas
 * written here model the shapes SMD's own tests use; the rest runs on Kubernetes' real schema.
 */
#include <korch/common.h>
#include "api/typed.h"
#include "base/macro.h"
#include "patch-test.h"

static const struct schema_type t_string = { .kind = SCHEMA_STRING };
static const struct schema_type t_number = { .kind = SCHEMA_NUMBER };
static const struct schema_type t_bool = { .kind = SCHEMA_BOOLEAN };
static const struct schema_type t_any = { .kind = SCHEMA_ANY };
static const struct schema_type t_string_map = { .kind = SCHEMA_MAP, .elem = &t_string };
static const struct schema_type t_any_map = { .kind = SCHEMA_MAP, .elem = &t_any };

/* A struct of sets, as SMD's "struct grab bag". */
static const struct schema_type set_str = { .kind = SCHEMA_ARRAY,
					    .elem = &t_string,
					    .list_type = SCHEMA_LIST_SET };
static const struct schema_type set_bool = { .kind = SCHEMA_ARRAY,
					     .elem = &t_bool,
					     .list_type = SCHEMA_LIST_SET };
static const struct schema_type set_numeric = { .kind = SCHEMA_ARRAY,
						.elem = &t_number,
						.list_type = SCHEMA_LIST_SET };
static const struct schema_type atomic_list = { .kind = SCHEMA_ARRAY, .elem = &t_string };

/* A list keyed by two fields, as SMD's "associative list". */
static const struct schema_field element_fields[] = {
	{ "bv", &t_bool, false },   { "id", &t_number, false },        { "key", &t_string, false },
	{ "nv", &t_number, false }, { "value", &t_string_map, false },
};
static const struct schema_type element = {
	.name = "myElement",
	.kind = SCHEMA_OBJECT,
	.fields = element_fields,
	.n_fields = ARRAY_SIZE(element_fields),
};
static const char *const element_keys[] = { "key", "id", NULL };
static const struct schema_type keyed_list = {
	.kind = SCHEMA_ARRAY,
	.elem = &element,
	.list_type = SCHEMA_LIST_MAP,
	.list_map_keys = element_keys,
};

static const struct schema_field bag_fields[] = {
	{ "any", &t_any, false },        { "atomicList", &atomic_list, false },
	{ "bool", &t_bool, false },      { "inner", &t_any_map, false },
	{ "list", &keyed_list, false },  { "numeric", &t_number, false },
	{ "setBool", &set_bool, false }, { "setNumeric", &set_numeric, false },
	{ "setStr", &set_str, false },   { "string", &t_string, false },
};
static const struct schema_type bag = {
	.name = "bag",
	.kind = SCHEMA_OBJECT,
	.fields = bag_fields,
	.n_fields = ARRAY_SIZE(bag_fields),
};

/* lhs merged with rhs under root must print exactly as want; the inputs stay as they were. */
static void
check_merge(const struct schema_type *root, const char *lhs_text, const char *rhs_text,
	    const char *want)
{
	json_t *lhs = tjson(lhs_text), *rhs = tjson(rhs_text), *got = NULL;
	struct tsnap sl = tsnap_take(lhs), sr = tsnap_take(rhs);
	korch_error *err = NULL;
	if (typed_validate(lhs, root, true, &err) < 0 || typed_validate(rhs, root, false, &err) < 0)
		fail_msg("invalid test input %s / %s: %s", lhs_text, rhs_text,
			 korch_error_message(err));
	assert_int_equal(typed_merge(lhs, rhs, root, &got, &err), 0);
	assert_json_text(got, want);
	tsnap_check(&sl);
	tsnap_check(&sr);
	json_decref(lhs);
	json_decref(rhs);
	json_decref(got);
}

static void
check_invalid(const struct schema_type *root, const char *text, bool allow_duplicates,
	      const char *msg)
{
	json_t *v = tjson(text);
	korch_error *err = NULL;
	assert_int_equal(typed_validate(v, root, allow_duplicates, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(err);
	/* ToFieldSet refuses the same (duplicates aside) */
	if (allow_duplicates) {
		struct fieldset *s = NULL;
		err = NULL;
		assert_int_equal(typed_to_fieldset(v, root, &s, &err), KORCH_EINVALID);
		assert_string_equal(korch_error_message(err), msg);
		korch_error_free(err);
		assert_null(s);
	}
	json_decref(v);
}

static void
test_validate(void **state)
{
	const struct schema_type *d = &schema_apps_v1_Deployment;
	check_invalid(d, "{'spec':{'foo':1}}", true, ".spec.foo: field not declared in schema");
	check_invalid(d, "{'metadata':{'bar':1},'spec':{'foo':1,'replicas':{}}}", true,
		      "errors:\n"
		      "  .metadata.bar: field not declared in schema\n"
		      "  .spec.foo: field not declared in schema");
	check_invalid(d, "{'spec':{'replicas':{},'paused':[1]}}", true,
		      "errors:\n"
		      "  .spec.replicas: expected a scalar, got map\n"
		      "  .spec.paused: expected a scalar, got list");
	check_invalid(d, "{'metadata':[]}", true, ".metadata: expected map, got list");
	check_invalid(d, "{'spec':{'template':{'spec':{'containers':'web'}}}}", true,
		      ".spec.template.spec.containers: expected list, got string");
	check_invalid(d,
		      "{'spec':{'template':{'spec':{'containers':[{'name':'a'},{'image':'x'}]}}}}",
		      true,
		      ".spec.template.spec.containers: element 1: associative list with keys has "
		      "an element that omits key field \"name\" (and doesn't have default value)");
	check_invalid(d, "{'spec':{'template':{'spec':{'containers':[null]}}}}", true,
		      ".spec.template.spec.containers: element 0: associative list with keys "
		      "may not have a null element");
	check_invalid(d, "{'spec':{'template':{'spec':{'containers':['web']}}}}", true,
		      ".spec.template.spec.containers: element 0: associative list with keys "
		      "may not have non-map elements");
	check_invalid(d, "{'metadata':{'finalizers':['a',{}]}}", true,
		      ".metadata.finalizers: element 1: associative list without keys has an "
		      "element that's a map type");
	check_invalid(d, "{'metadata':{'finalizers':[['a']]}}", true,
		      ".metadata.finalizers: element 0: not supported: associative list with "
		      "lists as elements");
	check_invalid(d, "{'metadata':{'finalizers':[null]}}", true,
		      ".metadata.finalizers: element 0: associative list without keys has an "
		      "element that's an explicit null");
	/* items of atomic lists are checked by position, below list items by key */
	check_invalid(d,
		      "{'spec':{'template':{'spec':{'containers':[{'name':'web','args':['a',{}],"
		      "'ports':[{'containerPort':80,'bad':1}]}]}}}}",
		      true,
		      "errors:\n"
		      "  .spec.template.spec.containers[name=\"web\"].args[1]: expected a scalar, "
		      "got map\n"
		      "  .spec.template.spec.containers[name=\"web\"].ports[containerPort=80,"
		      "protocol=\"TCP\"].bad: field not declared in schema");
	/* repeated keys: refused in an applied configuration, allowed in a stored object */
	const char *dup = "{'spec':{'template':{'spec':{'containers':[{'name':'a'},{'name':'b'},"
			  "{'name':'a','image':'x'}]}}}}";
	check_invalid(d, dup, false,
		      ".spec.template.spec.containers: duplicate entries for key [name=\"a\"]");
	json_t *v = tjson(dup);
	assert_int_equal(typed_validate(v, d, true, NULL), 0);
	json_decref(v);
	/* a port without protocol takes its default; two keys sort by name */
	v = tjson("{'spec':{'template':{'spec':{'containers':[{'name':'a','ports':[{"
		  "'containerPort':80},{'containerPort':80,'protocol':'TCP'}]}]}}}}");
	korch_error *err = NULL;
	assert_int_equal(typed_validate(v, d, false, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    ".spec.template.spec.containers[name=\"a\"].ports: duplicate entries "
			    "for key [containerPort=80,protocol=\"TCP\"]");
	korch_error_free(err);
	json_decref(v);
	check_invalid(&bag, "{'list':[{'key':'a','id':1},{'id':1,'key':'a'}]}", false,
		      ".list: duplicate entries for key [id=1,key=\"a\"]");
	/* null is a valid value for anything; SCHEMA_ANY is not looked into */
	v = tjson(
		"{'apiVersion':'apps/v1','metadata':null,'spec':{'template':null,'replicas':null}}");
	assert_int_equal(typed_validate(v, d, false, NULL), 0);
	json_decref(v);
	v = tjson("{'any':{'x':[{'y':null}]},'inner':{'k':{'deep':[1]}}}");
	assert_int_equal(typed_validate(v, &bag, false, NULL), 0);
	json_decref(v);
}

/* v's fields under root must encode exactly as want. */
static void
check_fields(const struct schema_type *root, const char *text, const char *want)
{
	json_t *v = tjson(text), *got = NULL;
	struct fieldset *s = NULL;
	korch_error *err = NULL;
	if (typed_to_fieldset(v, root, &s, &err) < 0)
		fail_msg("to fieldset %s: %s", text, korch_error_message(err));
	assert_int_equal(fieldset_to_fields_v1(s, &got, NULL), 0);
	assert_json_text(got, want);
	json_decref(got);
	fieldset_free(s);
	json_decref(v);
}

static const char deployment[] =
	"{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','labels':"
	"{'app':'web'}},'spec':{'replicas':2,'selector':{'matchLabels':{'app':'web'}},"
	"'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':'web',"
	"'image':'nginx:1.27','args':['-g','daemon off;'],'ports':[{'containerPort':80}],"
	"'env':[{'name':'A','value':'1'}],'resources':{}}]}}}}";

static void
test_to_fieldset_deployment(void **state)
{
	/*
	 * What kube-apiserver records for this configuration applied with kubectl apply
	 * --server-side (before stripping apiVersion, kind and metadata.name): the selector is an
	 * atomic map, args an atomic list, the port keyed with its default protocol.
	 */
	check_fields(&schema_apps_v1_Deployment, deployment,
		     "{'f:apiVersion':{},'f:kind':{},'f:metadata':{'f:labels':{'f:app':{}},"
		     "'f:name':{}},'f:spec':{'f:replicas':{},'f:selector':{},'f:template':{"
		     "'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:containers':{"
		     "'k:{\\'name\\':\\'web\\'}':{'.':{},'f:args':{},'f:env':{'k:{\\'name\\':"
		     "\\'A\\'}':{'.':{},'f:name':{},'f:value':{}}},'f:image':{},'f:name':{},"
		     "'f:ports':{'k:{\\'containerPort\\':80,\\'protocol\\':\\'TCP\\'}':{'.':{},"
		     "'f:containerPort':{}}},'f:resources':{}}}}}}}");
}

static void
test_to_fieldset_rules(void **state)
{
	/* null and empty maps are fields; an empty granular list is not; an empty atomic is */
	check_fields(&bag, "{'inner':{},'string':null,'setStr':[],'atomicList':[],'list':null}",
		     "{'f:atomicList':{},'f:inner':{},'f:list':{},'f:string':{}}");
	/* map keys are fields with what is below them; SCHEMA_ANY is one leaf */
	check_fields(&bag, "{'inner':{'a':{'x':1},'b':null},'any':{'x':[1,{'y':2}]}}",
		     "{'f:any':{},'f:inner':{'f:a':{},'f:b':{}}}");
	/* set items by value; repeated items are one leaf with nothing below */
	check_fields(&bag,
		     "{'setStr':['b','a','b'],'setNumeric':[2,1.5],'setBool':[true],'list':["
		     "{'key':'a','id':1,'nv':1},{'key':'a','id':1,'nv':2,'bv':true},{'key':'b',"
		     "'id':2,'value':{'x':'y'}}]}",
		     "{'f:list':{'k:{\\'id\\':1,\\'key\\':\\'a\\'}':{},'k:{\\'id\\':2,\\'key\\':"
		     "\\'b\\'}':{'.':{},'f:id':{},'f:key':{},'f:value':{'f:x':{}}}},'f:setBool':"
		     "{'v:true':{}},'f:setNumeric':{'v:1.5':{},'v:2':{}},'f:setStr':{'v:\\'a\\'':"
		     "{},'v:\\'b\\'':{}}}");
	/* a RawExtension (ControllerRevision.data) is untyped atomic */
	check_fields(&schema_apps_v1_ControllerRevision,
		     "{'revision':3,'data':{'spec':{'template':{'x':[1]}}}}",
		     "{'f:data':{},'f:revision':{}}");
	/* atomic lists with merge keys (PodStatus.hostIPs) are leaves */
	check_fields(&schema_core_v1_Pod,
		     "{'status':{'hostIPs':[{'ip':'10.0.0.1'}],'podIPs':[{'ip':'10.1.0.5'}]}}",
		     "{'f:status':{'f:hostIPs':{},'f:podIPs':{'k:{\\'ip\\':\\'10.1.0.5\\'}':{"
		     "'.':{},'f:ip':{}}}}}");
	/* the root itself is never a field */
	check_fields(&bag, "{}", "{}");
}

static void
test_merge_sets(void **state)
{
	static const char *const triplets[][3] = {
		{ "{'numeric':1}", "{'numeric':3.14159}", "{'numeric':3.14159}" },
		{ "{'string':'aoeu'}", "{'bool':true}", "{'string':'aoeu','bool':true}" },
		{ "{'setStr':['a','b','c']}", "{'setStr':['a','b']}", "{'setStr':['a','b','c']}" },
		{ "{'setStr':['a','b']}", "{'setStr':['a','b','c']}", "{'setStr':['a','b','c']}" },
		{ "{'setStr':['a','b','c']}", "{'setStr':[]}", "{'setStr':['a','b','c']}" },
		{ "{'setStr':[]}", "{'setStr':['a','b','c']}", "{'setStr':['a','b','c']}" },
		{ "{'setStr':['a','b']}", "{'setStr':['b','a']}", "{'setStr':['b','a']}" },
		{ "{'setStr':['a','b','c']}", "{'setStr':['c','d','e','f']}",
		  "{'setStr':['a','b','c','d','e','f']}" },
		{ "{'setStr':['a','b','c','g','f']}", "{'setStr':['c','d','e','f']}",
		  "{'setStr':['a','b','c','g','d','e','f']}" },
		{ "{'setStr':['c','d','e','f']}", "{'setStr':['a','c','e']}",
		  "{'setStr':['a','c','d','e','f']}" },
		{ "{'setStr':['a','b','c','x','y','z']}", "{'setStr':['d','e','f','x','y','z']}",
		  "{'setStr':['a','b','c','d','e','f','x','y','z']}" },
		{ "{'setStr':['a','b','c','d']}", "{'setStr':['d','e','f','a']}",
		  "{'setStr':['b','c','d','e','f','a']}" },
		{ "{'setStr':['c','d','e','f','g','h','i','j']}",
		  "{'setStr':['2','h','3','e','4','k','l']}",
		  "{'setStr':['c','d','f','g','2','h','i','j','3','e','4','k','l']}" },
		/* my own: a new item first, a shared one moved, one of lhs dropped by nobody */
		{ "{'setStr':['a','b']}", "{'setStr':['c','a']}", "{'setStr':['c','a','b']}" },
		{ "{'setStr':['x','a','y','b']}", "{'setStr':['b','n','a']}",
		  "{'setStr':['x','y','b','n','a']}" },
		/* repeated items in lhs: kept unless rhs has them, then one */
		{ "{'setStr':['a','b','b']}", "{'setStr':['c']}", "{'setStr':['a','b','b','c']}" },
		{ "{'setStr':['a','b','b']}", "{'setStr':['b']}", "{'setStr':['a','b']}" },
		{ "{'setStr':['a','b','c','d','e','c']}", "{'setStr':['1','b','2','c','e','d']}",
		  "{'setStr':['a','1','b','2','c','e','d']}" },
		{ "{'setStr':['a','a','b','b']}", "{'setStr':['b','c','d']}",
		  "{'setStr':['a','a','b','c','d']}" },
		{ "{'setBool':[true]}", "{'setBool':[false]}", "{'setBool':[true,false]}" },
		/* numbers are one value whether integer or real */
		{ "{'setNumeric':[1,2,3.14159]}", "{'setNumeric':[1,2.0,3]}",
		  "{'setNumeric':[1,2.0,3.14159,3]}" },
		/* atomic lists are replaced, null included */
		{ "{'atomicList':['a','a','a']}", "{'atomicList':null}", "{'atomicList':null}" },
		{ "{'atomicList':['a','b','c']}", "{'atomicList':[]}", "{'atomicList':[]}" },
		{ "{'atomicList':['a','b']}", "{'atomicList':['c']}", "{'atomicList':['c']}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(triplets); i++)
		check_merge(&bag, triplets[i][0], triplets[i][1], triplets[i][2]);
}

static void
test_merge_keyed_lists(void **state)
{
	static const char *const triplets[][3] = {
		{ "{'list':[{'key':'a','id':1,'value':{'a':'a'}}]}",
		  "{'list':[{'key':'a','id':1,'value':{'b':'b'}}]}",
		  "{'list':[{'key':'a','id':1,'value':{'a':'a','b':'b'}}]}" },
		{ "{'list':[{'key':'a','id':1,'value':{'a':'a'}}]}",
		  "{'list':[{'key':'a','id':2,'value':{'a':'a'}}]}",
		  "{'list':[{'key':'a','id':1,'value':{'a':'a'}},{'key':'a','id':2,'value':{'a':"
		  "'a'}}]}" },
		{ "{'list':[{'key':'b','id':2}]}",
		  "{'list':[{'key':'a','id':1},{'key':'b','id':2},{'key':'c','id':3}]}",
		  "{'list':[{'key':'a','id':1},{'key':'b','id':2},{'key':'c','id':3}]}" },
		{ "{'list':[{'key':'a','id':1},{'key':'b','id':2},{'key':'c','id':3}]}",
		  "{'list':[{'key':'c','id':3},{'key':'b','id':2}]}",
		  "{'list':[{'key':'a','id':1},{'key':'c','id':3},{'key':'b','id':2}]}" },
		{ "{'list':[{'key':'a','id':1},{'key':'b','id':2},{'key':'c','id':3}]}",
		  "{'list':[{'key':'c','id':3},{'key':'a','id':1}]}",
		  "{'list':[{'key':'b','id':2},{'key':'c','id':3},{'key':'a','id':1}]}" },
		/* a repeated item of lhs is replaced by rhs's one item, not merged with it */
		{ "{'list':[{'key':'a','id':1,'bv':true},{'key':'b','id':2},{'key':'a','id':1,'bv':"
		  "false,'nv':2}]}",
		  "{'list':[{'key':'a','id':1,'nv':3},{'key':'c','id':3},{'key':'b','id':2}]}",
		  "{'list':[{'key':'a','id':1,'nv':3},{'key':'c','id':3},{'key':'b','id':2}]}" },
		{ "{'list':[{'key':'a','id':1,'nv':1},{'key':'a','id':1,'nv':2}]}", "{'list':[]}",
		  "{'list':[{'key':'a','id':1,'nv':1},{'key':'a','id':1,'nv':2}]}" },
		{ "{'list':[{'key':'a','id':1,'nv':1},{'key':'a','id':1,'nv':2}]}", "{}",
		  "{'list':[{'key':'a','id':1,'nv':1},{'key':'a','id':1,'nv':2}]}" },
		/* fields of an item merge, lhs's order first */
		{ "{'list':[{'key':'a','id':1,'nv':1,'bv':true}]}",
		  "{'list':[{'bv':false,'id':1,'key':'a','value':{'x':'y'}}]}",
		  "{'list':[{'key':'a','id':1,'nv':1,'bv':false,'value':{'x':'y'}}]}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(triplets); i++)
		check_merge(&bag, triplets[i][0], triplets[i][1], triplets[i][2]);
}

static void
test_merge_null_empty(void **state)
{
	static const char *const triplets[][3] = {
		{ "{}", "{'inner':{}}", "{'inner':{}}" },
		{ "{}", "{'inner':null}", "{'inner':null}" },
		{ "{'inner':null}", "{'inner':{}}", "{'inner':{}}" },
		{ "{'inner':{}}", "{'inner':null}", "{'inner':null}" },
		{ "{'inner':{}}", "{'inner':{}}", "{'inner':{}}" },
		/* a null granular map or list in the configuration leaves what lhs holds */
		{ "{'inner':{'a':1}}", "{'inner':null}", "{'inner':{'a':1}}" },
		{ "{'setStr':['a']}", "{'setStr':null}", "{'setStr':['a']}" },
		/* untyped atomic values replace one another whole */
		{ "{'any':{'a':1}}", "{'any':{'b':2}}", "{'any':{'b':2}}" },
		{ "{'any':{}}", "{'any':1}", "{'any':1}" },
		{ "{'any':1}", "{'any':{}}", "{'any':{}}" },
		{ "{'any':null}", "{'any':{}}", "{'any':{}}" },
		{ "{'string':'foo'}", "{'string':null}", "{'string':null}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(triplets); i++)
		check_merge(&bag, triplets[i][0], triplets[i][1], triplets[i][2]);
}

static void
test_merge_pod(void **state)
{
	const struct schema_type *pod = &schema_core_v1_Pod;
	/* containers by name, ports by containerPort and protocol, env by name */
	check_merge(
		pod,
		"{'metadata':{'name':'p','labels':{'app':'web','tier':'front'},'finalizers':["
		"'a','b']},'spec':{'nodeSelector':{'disk':'ssd'},'containers':[{'name':'web',"
		"'image':'nginx:1','args':['x','y'],'ports':[{'containerPort':80,'name':'http'},"
		"{'containerPort':53,'protocol':'UDP'}],'env':[{'name':'A','value':'1'},{'name':"
		"'B','value':'2'}]},{'name':'log','image':'busybox'}]}}",
		"{'metadata':{'labels':{'app':'api','new':'x'},'finalizers':['c','a']},'spec':{"
		"'nodeSelector':{'zone':'a'},'containers':[{'name':'web','image':'nginx:2',"
		"'args':['z'],'ports':[{'containerPort':80,'protocol':'TCP','hostPort':8080},"
		"{'containerPort':53}],'env':[{'name':'B','value':'3'},{'name':'C','value':"
		"'4'}]},{'name':'side','image':'envoy'}]}}",
		"{'metadata':{'name':'p','labels':{'app':'api','tier':'front','new':'x'},"
		"'finalizers':['c','a','b']},'spec':{'nodeSelector':{'zone':'a'},'containers':"
		"[{'name':'web','image':'nginx:2','args':['z'],'ports':[{'containerPort':80,"
		"'name':'http','protocol':'TCP','hostPort':8080},{'containerPort':53,"
		"'protocol':'UDP'},{'containerPort':53}],'env':[{'name':'A','value':'1'},"
		"{'name':'B','value':'3'},{'name':'C','value':'4'}]},{'name':'log','image':"
		"'busybox'},{'name':'side','image':'envoy'}]}}");
}

/* The comparison of lhs and rhs must give exactly these sets (FieldsV1 texts). */
static void
check_compare(const struct schema_type *root, const char *lhs_text, const char *rhs_text,
	      const char *removed, const char *modified, const char *added)
{
	json_t *lhs = tjson(lhs_text), *rhs = tjson(rhs_text), *v = NULL;
	struct typed_comparison c = { 0 };
	assert_int_equal(typed_compare(lhs, rhs, root, &c, NULL), 0);
	assert_int_equal(fieldset_to_fields_v1(c.removed, &v, NULL), 0);
	assert_json_text(v, removed);
	json_decref(v);
	assert_int_equal(fieldset_to_fields_v1(c.modified, &v, NULL), 0);
	assert_json_text(v, modified);
	json_decref(v);
	assert_int_equal(fieldset_to_fields_v1(c.added, &v, NULL), 0);
	assert_json_text(v, added);
	json_decref(v);
	typed_comparison_clear(&c);
	json_decref(lhs);
	json_decref(rhs);
}

static void
test_compare(void **state)
{
	const struct schema_type *d = &schema_apps_v1_Deployment;
	/* equal objects, whatever the key order and number form */
	check_compare(d, "{'spec':{'replicas':2,'paused':false}}",
		      "{'spec':{'paused':false,'replicas':2.0}}", "{}", "{}", "{}");
	/* a map that appears is added with its fields; one that goes is removed with them */
	check_compare(d, "{'metadata':{'name':'a','annotations':{'x':'1'}},'spec':{'replicas':2}}",
		      "{'metadata':{'name':'a','labels':{'app':'web'}},'spec':{'replicas':3}}",
		      "{'f:metadata':{'f:annotations':{'.':{},'f:x':{}}}}",
		      "{'f:spec':{'f:replicas':{}}}",
		      "{'f:metadata':{'f:labels':{'.':{},'f:app':{}}}}");
	/* list items by key; atomic values whole */
	check_compare(d,
		      "{'spec':{'selector':{'matchLabels':{'a':'1'}},'template':{'spec':{"
		      "'containers':[{'name':'a','image':'x','args':['1']},{'name':'b'}]}}}}",
		      "{'spec':{'selector':{'matchLabels':{'a':'2'}},'template':{'spec':{"
		      "'containers':[{'name':'c'},{'name':'a','image':'y','args':['1']}]}}}}",
		      "{'f:spec':{'f:template':{'f:spec':{'f:containers':{'k:{\\'name\\':\\'b\\'}':"
		      "{'.':{},'f:name':{}}}}}}}",
		      "{'f:spec':{'f:selector':{},'f:template':{'f:spec':{'f:containers':{"
		      "'k:{\\'name\\':\\'a\\'}':{'f:image':{}}}}}}}",
		      "{'f:spec':{'f:template':{'f:spec':{'f:containers':{'k:{\\'name\\':\\'c\\'}':"
		      "{'.':{},'f:name':{}}}}}}}");
	/* empty and null: leaves compared by value */
	check_compare(&bag, "{'inner':{},'setStr':null,'string':'a'}",
		      "{'inner':null,'setStr':[],'bool':true}", "{'f:string':{}}",
		      "{'f:inner':{},'f:setStr':{}}", "{'f:bool':{}}");
	/* repeated items: compared whole when repeated on both sides */
	check_compare(&bag, "{'setStr':['a','a','b','c','c']}", "{'setStr':['a','a','b','c']}",
		      "{'f:setStr':{'v:\\'c\\'':{}}}", "{}", "{'f:setStr':{'v:\\'c\\'':{}}}");
	check_compare(&bag, "{'list':[{'key':'a','id':1,'nv':1},{'key':'a','id':1,'nv':2}]}",
		      "{'list':[{'key':'a','id':1,'nv':1},{'key':'a','id':1,'nv':3}]}", "{}",
		      "{'f:list':{'k:{\\'id\\':1,\\'key\\':\\'a\\'}':{}}}", "{}");
	check_compare(&bag, "{'list':[{'key':'a','id':1,'nv':1}]}",
		      "{'list':[{'key':'a','id':1,'nv':1},{'key':'a','id':1,'nv':2}]}",
		      "{'f:list':{'k:{\\'id\\':1,\\'key\\':\\'a\\'}':{'.':{},'f:id':{},'f:key':{},"
		      "'f:nv':{}}}}",
		      "{}", "{'f:list':{'k:{\\'id\\':1,\\'key\\':\\'a\\'}':{}}}");
}

static void
check_remove(const struct schema_type *root, const char *text, const char *items_v1,
	     const char *want)
{
	json_t *v = tjson(text), *iv = tjson(items_v1), *got = NULL;
	struct fieldset *items = NULL;
	assert_int_equal(fieldset_from_fields_v1(iv, &items, NULL), 0);
	assert_int_equal(typed_remove_items(v, items, root, &got, NULL), 0);
	assert_json_text(got, want);
	json_decref(got);
	fieldset_free(items);
	json_decref(iv);
	json_decref(v);
}

static void
test_remove_items(void **state)
{
	const struct schema_type *pod = &schema_core_v1_Pod;
	const char *p =
		"{'metadata':{'name':'p','labels':{'a':'1','b':'2'},'finalizers':['x','y']},"
		"'spec':{'containers':[{'name':'web','image':'i','ports':[{'containerPort':"
		"80}]},{'name':'log','image':'b','args':['1']}]}}";
	/* a member removes the field or item with all below it */
	check_remove(pod, p,
		     "{'f:metadata':{'f:labels':{'f:a':{}},'f:finalizers':{'v:\\'y\\'':{}}},"
		     "'f:spec':{'f:containers':{'k:{\\'name\\':\\'log\\'}':{}}}}",
		     "{'metadata':{'name':'p','labels':{'b':'2'},'finalizers':['x']},'spec':{"
		     "'containers':[{'name':'web','image':'i','ports':[{'containerPort':80}]}]}}");
	/* what is emptied becomes null; below an atomic value everything goes */
	check_remove(pod, p,
		     "{'f:metadata':{'f:labels':{'f:a':{},'f:b':{}}},'f:spec':{'f:containers':{"
		     "'k:{\\'name\\':\\'web\\'}':{'f:ports':{'k:{\\'containerPort\\':80,"
		     "\\'protocol\\':\\'TCP\\'}':{}}},'k:{\\'name\\':\\'log\\'}':{'f:args':{"
		     "'i:0':{}}}}}}",
		     "{'metadata':{'name':'p','labels':null,'finalizers':['x','y']},'spec':{"
		     "'containers':[{'name':'web','image':'i','ports':null},{'name':'log',"
		     "'image':'b','args':null}]}}");
	/* nothing to remove: a copy */
	check_remove(pod, p, "{}", p);
	/* paths that are not there change nothing */
	check_remove(pod, p,
		     "{'f:status':{},'f:spec':{'f:containers':{'k:{\\'name\\':\\'x\\'}':{}}}}", p);
}

/*
 * Kubernetes makes a list with patch strategy merge and no x-kubernetes-list-type associative on
 * its merge key; korch uses the schema's list type. That is right as long as every merge list
 * the schema calls atomic says so explicitly, which Kubernetes 1.32 does for exactly these two
 * (+listType=atomic on JobStatus.conditions and PodStatus.hostIPs). A regenerated schema that
 * adds one must be looked at.
 */
static void
test_merge_lists_are_typed(void **state)
{
	struct strbuf found = STRBUF_INIT;
	for (size_t i = 0; i < schema_n_named_types; i++) {
		const struct schema_type *t = schema_named_types[i];
		for (size_t j = 0; t->kind == SCHEMA_OBJECT && j < t->n_fields; j++) {
			const struct schema_type *ft = t->fields[j].type;
			if (ft->kind == SCHEMA_ARRAY && (ft->patch_strategy & SCHEMA_PATCH_MERGE) &&
			    ft->list_type == SCHEMA_LIST_ATOMIC)
				strbuf_printf(&found, "%s.%s\n", t->name, t->fields[j].name);
			/* a list type map always names its keys */
			if (ft->kind == SCHEMA_ARRAY && ft->list_type == SCHEMA_LIST_MAP)
				assert_non_null(ft->list_map_keys);
		}
	}
	assert_string_equal(strbuf_str(&found), "io.k8s.api.batch.v1.JobStatus.conditions\n"
						"io.k8s.api.core.v1.PodStatus.hostIPs\n");
	strbuf_free(&found);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_to_fieldset_deployment),
		cmocka_unit_test(test_to_fieldset_rules),
		cmocka_unit_test(test_merge_sets),
		cmocka_unit_test(test_merge_keyed_lists),
		cmocka_unit_test(test_merge_null_empty),
		cmocka_unit_test(test_merge_pod),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_remove_items),
		cmocka_unit_test(test_merge_lists_are_typed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
