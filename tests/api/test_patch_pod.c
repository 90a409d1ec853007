/*
 * Strategic merge patch on a hand-built slice of the Pod schema (containers by name, ports by
 * containerPort, env by name, volumeMounts by mountPath, volumes by name with retainKeys,
 * finalizers as a merged set, ...) with the patches kubectl sends: "kubectl apply" patches
 * carry $setElementOrder and $retainKeys, "kubectl patch" ones are written by hand.
 */
#include <stdio.h>

#include <korch/common.h>
#include "api/patch.h"
#include "base/macro.h"
#include "patch-test.h"

#define FIELD(n, t)         \
	{                   \
		n, t, false \
	}
#define OBJECT(var, list)                       \
	static const struct schema_type var = { \
		.kind = SCHEMA_OBJECT,          \
		.fields = list,                 \
		.n_fields = ARRAY_SIZE(list),   \
	}
#define MERGE_LIST(var, item, key)                    \
	static const struct schema_type var = {       \
		.kind = SCHEMA_ARRAY,                 \
		.elem = item,                         \
		.patch_strategy = SCHEMA_PATCH_MERGE, \
		.merge_key = key,                     \
	}

static const struct schema_type t_string = { .kind = SCHEMA_STRING };
static const struct schema_type t_int = { .kind = SCHEMA_INTEGER, .format = "int32" };
static const struct schema_type t_bool = { .kind = SCHEMA_BOOLEAN };
static const struct schema_type t_quantity = { .kind = SCHEMA_QUANTITY };
static const struct schema_type t_any = { .kind = SCHEMA_ANY };
static const struct schema_type t_string_map = { .kind = SCHEMA_MAP, .elem = &t_string };
static const struct schema_type t_quantity_map = { .kind = SCHEMA_MAP, .elem = &t_quantity };
static const struct schema_type t_strings = { .kind = SCHEMA_ARRAY, .elem = &t_string };
static const struct schema_type t_string_set = {
	.kind = SCHEMA_ARRAY,
	.elem = &t_string,
	.patch_strategy = SCHEMA_PATCH_MERGE,
};

static const struct schema_field owner_fields[] = {
	FIELD("apiVersion", &t_string), FIELD("controller", &t_bool), FIELD("kind", &t_string),
	FIELD("name", &t_string),       FIELD("uid", &t_string),
};
OBJECT(owner_reference, owner_fields);
MERGE_LIST(owner_references, &owner_reference, "uid");

static const struct schema_field meta_fields[] = {
	FIELD("annotations", &t_string_map), FIELD("finalizers", &t_string_set),
	FIELD("labels", &t_string_map),      FIELD("name", &t_string),
	FIELD("namespace", &t_string),       FIELD("ownerReferences", &owner_references),
};
OBJECT(object_meta, meta_fields);

static const struct schema_field env_fields[] = {
	FIELD("name", &t_string),
	FIELD("value", &t_string),
	FIELD("valueFrom", &t_any),
};
OBJECT(env_var, env_fields);
MERGE_LIST(env_list, &env_var, "name");

static const struct schema_field port_fields[] = {
	FIELD("containerPort", &t_int),
	FIELD("hostPort", &t_int),
	FIELD("name", &t_string),
	FIELD("protocol", &t_string),
};
OBJECT(container_port, port_fields);
MERGE_LIST(port_list, &container_port, "containerPort");

static const struct schema_field mount_fields[] = {
	FIELD("mountPath", &t_string),
	FIELD("name", &t_string),
	FIELD("readOnly", &t_bool),
	FIELD("subPath", &t_string),
};
OBJECT(volume_mount, mount_fields);
MERGE_LIST(mount_list, &volume_mount, "mountPath");

static const struct schema_field resources_fields[] = {
	FIELD("limits", &t_quantity_map),
	FIELD("requests", &t_quantity_map),
};
OBJECT(resources, resources_fields);

static const struct schema_field container_fields[] = {
	FIELD("args", &t_strings),
	FIELD("command", &t_strings),
	FIELD("env", &env_list),
	FIELD("image", &t_string),
	FIELD("imagePullPolicy", &t_string),
	FIELD("name", &t_string),
	FIELD("ports", &port_list),
	FIELD("resources", &resources),
	FIELD("volumeMounts", &mount_list),
};
OBJECT(container, container_fields);
MERGE_LIST(container_list, &container, "name");

static const struct schema_field toleration_fields[] = {
	FIELD("effect", &t_string),
	FIELD("key", &t_string),
	FIELD("operator", &t_string),
	FIELD("value", &t_string),
};
OBJECT(toleration, toleration_fields);
static const struct schema_type toleration_list = { .kind = SCHEMA_ARRAY, .elem = &toleration };

static const struct schema_field config_map_source_fields[] = {
	FIELD("defaultMode", &t_int),
	FIELD("name", &t_string),
};
OBJECT(config_map_source, config_map_source_fields);
static const struct schema_field empty_dir_fields[] = {
	FIELD("medium", &t_string),
	FIELD("sizeLimit", &t_quantity),
};
OBJECT(empty_dir_source, empty_dir_fields);
static const struct schema_field pvc_source_fields[] = {
	FIELD("claimName", &t_string),
	FIELD("readOnly", &t_bool),
};
OBJECT(pvc_source, pvc_source_fields);

static const struct schema_field volume_fields[] = {
	FIELD("configMap", &config_map_source),
	FIELD("emptyDir", &empty_dir_source),
	FIELD("name", &t_string),
	FIELD("persistentVolumeClaim", &pvc_source),
};
OBJECT(volume, volume_fields);
static const struct schema_type volume_list = {
	.kind = SCHEMA_ARRAY,
	.elem = &volume,
	.patch_strategy = SCHEMA_PATCH_MERGE | SCHEMA_PATCH_RETAIN_KEYS,
	.merge_key = "name",
};

static const struct schema_field pod_spec_fields[] = {
	FIELD("containers", &container_list),   FIELD("initContainers", &container_list),
	FIELD("nodeSelector", &t_string_map),   FIELD("restartPolicy", &t_string),
	FIELD("tolerations", &toleration_list), FIELD("volumes", &volume_list),
};
OBJECT(pod_spec, pod_spec_fields);

static const struct schema_field condition_fields[] = {
	FIELD("lastTransitionTime", &t_string),
	FIELD("status", &t_string),
	FIELD("type", &t_string),
};
OBJECT(pod_condition, condition_fields);
MERGE_LIST(condition_list, &pod_condition, "type");

static const struct schema_field pod_status_fields[] = {
	FIELD("conditions", &condition_list),
	FIELD("phase", &t_string),
};
OBJECT(pod_status, pod_status_fields);

static const struct schema_field pod_fields[] = {
	FIELD("apiVersion", &t_string),  FIELD("kind", &t_string),
	FIELD("metadata", &object_meta), FIELD("spec", &pod_spec),
	FIELD("status", &pod_status),
};
OBJECT(pod, pod_fields);

static const char base_pod[] =
	"{'apiVersion':'v1','kind':'Pod',"
	"'metadata':{'name':'web','namespace':'default','labels':{'app':'web','tier':'frontend'},"
	"'annotations':{'a':'1'},'finalizers':['example.com/protect'],"
	"'ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'web-5d4f',"
	"'uid':'u-1','controller':true}]},"
	"'spec':{'containers':["
	"{'name':'app','image':'nginx:1.25','ports':[{'containerPort':80,'name':'http',"
	"'protocol':'TCP'}],'env':[{'name':'MODE','value':'prod'},{'name':'DEBUG','value':'0'},"
	"{'name':'POD_IP','valueFrom':{'fieldRef':{'fieldPath':'status.podIP'}}}],"
	"'volumeMounts':[{'name':'data','mountPath':'/data'},{'name':'cfg','mountPath':'/etc/cfg',"
	"'readOnly':true}],'resources':{'limits':{'cpu':'500m','memory':'128Mi'}}},"
	"{'name':'sidecar','image':'busybox:1.36','args':['sh','-c','sleep 3600']}],"
	"'volumes':[{'name':'data','emptyDir':{}},{'name':'cfg','configMap':{'name':'web-config'}}],"
	"'tolerations':[{'key':'node.kubernetes.io/not-ready','operator':'Exists',"
	"'effect':'NoExecute'}],"
	"'nodeSelector':{'disk':'ssd'},'restartPolicy':'Always'},"
	"'status':{'phase':'Running','conditions':[{'type':'Ready','status':'True'},"
	"{'type':'PodScheduled','status':'True'}]}}";

/* What a patch must leave at one place (a JSON pointer) of the result. */
struct check {
	const char *at;    /* JSON pointer into the result */
	const char *value; /* expected JSON there; NULL: the member must be gone */
};

/* A patch of base_pod: the places it changes; everything else must stay as it was. */
struct pod_case {
	const char *name;       /* test name */
	const char *patch;      /* JSON, ' for " */
	struct check checks[3]; /* places the patch changes */
	const char *error;      /* expected error instead, or NULL */
	bool moves;             /* list items move: only the checks are asserted */
};

static const struct pod_case cases[] = {
	{ "apply: change an image",
	  "{'metadata':{'annotations':{'kubectl.kubernetes.io/last-applied-configuration':'{}'}},"
	  "'spec':{'$setElementOrder/containers':[{'name':'app'},{'name':'sidecar'}],"
	  "'containers':[{'image':'nginx:1.27','name':'app'}]}}",
	  { { "/spec/containers/0/image", "'nginx:1.27'" },
	    { "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
	      "'{}'" } } },
	{ "apply: add a container at the end",
	  "{'spec':{'$setElementOrder/containers':[{'name':'app'},{'name':'sidecar'},{'name':'log'}],"
	  "'containers':[{'image':'fluent-bit:3','name':'log'}]}}",
	  { { "/spec/containers/2", "{'name':'log','image':'fluent-bit:3'}" } } },
	{ "patch: a new container goes first",
	  "{'spec':{'containers':[{'name':'log','image':'fluent-bit:3'}]}}",
	  { { "/spec/containers/0", "{'name':'log','image':'fluent-bit:3'}" } },
	  NULL,
	  true },
	{ "apply: delete an env var",
	  "{'spec':{'$setElementOrder/containers':[{'name':'app'},{'name':'sidecar'}],"
	  "'containers':[{'$setElementOrder/env':[{'name':'MODE'},{'name':'POD_IP'}],"
	  "'env':[{'$patch':'delete','name':'DEBUG'}],'name':'app'}]}}",
	  { { "/spec/containers/0/env",
	      "[{'name':'MODE','value':'prod'},"
	      "{'name':'POD_IP','valueFrom':{'fieldRef':{'fieldPath':'status.podIP'}}}]" } } },
	{ "patch: change an env var",
	  "{'spec':{'containers':[{'name':'app','env':[{'name':'MODE','value':'staging'}]}]}}",
	  { { "/spec/containers/0/env/0/value", "'staging'" } } },
	{ "apply: env value becomes valueFrom",
	  "{'spec':{'containers':[{'name':'app','env':[{'name':'DEBUG','value':null,"
	  "'valueFrom':{'configMapKeyRef':{'name':'web-config','key':'debug'}}}]}]}}",
	  { { "/spec/containers/0/env/1",
	      "{'name':'DEBUG','valueFrom':{'configMapKeyRef':{'name':'web-config','key':'debug'}}}" } } },
	{ "apply: reorder containers",
	  "{'spec':{'$setElementOrder/containers':[{'name':'sidecar'},{'name':'app'}]}}",
	  { { "/spec/containers/0/name", "'sidecar'" },
	    { "/spec/containers/1/name", "'app'" },
	    { "/spec/containers/1/image", "'nginx:1.25'" } },
	  NULL,
	  true },
	{ "apply: switch a volume source with $retainKeys",
	  "{'spec':{'$setElementOrder/volumes':[{'name':'data'},{'name':'cfg'}],"
	  "'volumes':[{'$retainKeys':['name','persistentVolumeClaim'],'name':'data',"
	  "'persistentVolumeClaim':{'claimName':'web-data'}}]}}",
	  { { "/spec/volumes/0",
	      "{'name':'data','persistentVolumeClaim':{'claimName':'web-data'}}" } } },
	{ "patch: a new source without $retainKeys keeps the old one",
	  "{'spec':{'volumes':[{'name':'data','persistentVolumeClaim':{'claimName':'web-data'}}]}}",
	  { { "/spec/volumes/0",
	      "{'name':'data','emptyDir':{},'persistentVolumeClaim':{'claimName':'web-data'}}" } } },
	{ "patch: ports merge by containerPort",
	  "{'spec':{'containers':[{'name':'app','ports':[{'containerPort':9090,'name':'metrics'},"
	  "{'containerPort':80,'protocol':'UDP'}]}]}}",
	  { { "/spec/containers/0/ports",
	      "[{'containerPort':9090,'name':'metrics'},"
	      "{'containerPort':80,'name':'http','protocol':'UDP'}]" } },
	  NULL,
	  true },
	{ "patch: delete a volume mount by mountPath",
	  "{'spec':{'containers':[{'name':'app','volumeMounts':[{'$patch':'delete',"
	  "'mountPath':'/etc/cfg'}]}]}}",
	  { { "/spec/containers/0/volumeMounts", "[{'name':'data','mountPath':'/data'}]" } } },
	{ "apply: swap a finalizer",
	  "{'metadata':{'$deleteFromPrimitiveList/finalizers':['example.com/protect'],"
	  "'finalizers':['example.com/audit']}}",
	  { { "/metadata/finalizers", "['example.com/audit']" } } },
	{ "patch: add a finalizer",
	  "{'metadata':{'finalizers':['example.com/audit']}}",
	  { { "/metadata/finalizers", "['example.com/audit','example.com/protect']" } } },
	{ "patch: labels added and removed",
	  "{'metadata':{'labels':{'tier':null,'version':'v2'}}}",
	  { { "/metadata/labels", "{'app':'web','version':'v2'}" } } },
	{ "rollout restart annotation",
	  "{'metadata':{'annotations':{'kubectl.kubernetes.io/restartedAt':"
	  "'2026-11-26T15:41:00Z'}}}",
	  { { "/metadata/annotations/kubectl.kubernetes.io~1restartedAt",
	      "'2026-11-26T15:41:00Z'" } } },
	{ "tolerations are replaced",
	  "{'spec':{'tolerations':[{'key':'dedicated','operator':'Equal','value':'web',"
	  "'effect':'NoSchedule'}]}}",
	  { { "/spec/tolerations",
	      "[{'key':'dedicated','operator':'Equal','value':'web','effect':'NoSchedule'}]" } } },
	{ "replace every container",
	  "{'spec':{'containers':[{'name':'only','image':'alpine:3'},{'$patch':'replace'}]}}",
	  { { "/spec/containers", "[{'name':'only','image':'alpine:3'}]" } } },
	{ "delete a container",
	  "{'spec':{'containers':[{'$patch':'delete','name':'sidecar'}]}}",
	  { { "/spec/containers/1", NULL } } },
	{ "resources merge",
	  "{'spec':{'containers':[{'name':'app','resources':{'limits':{'cpu':'1'},"
	  "'requests':{'cpu':'250m'}}}]}}",
	  { { "/spec/containers/0/resources",
	      "{'limits':{'cpu':'1','memory':'128Mi'},'requests':{'cpu':'250m'}}" } } },
	{ "args are replaced",
	  "{'spec':{'containers':[{'name':'sidecar','args':['sh','-c','sleep 60']}]}}",
	  { { "/spec/containers/1/args", "['sh','-c','sleep 60']" } } },
	{ "status condition by type",
	  "{'status':{'conditions':[{'type':'Ready','status':'False'}]}}",
	  { { "/status/conditions/0", "{'type':'Ready','status':'False'}" } } },
	{ "owner references by uid",
	  "{'metadata':{'ownerReferences':[{'apiVersion':'v1','kind':'Node','name':'n1',"
	  "'uid':'u-2'}]}}",
	  { { "/metadata/ownerReferences/0",
	      "{'apiVersion':'v1','kind':'Node','name':'n1','uid':'u-2'}" } },
	  NULL,
	  true },
	{ "apply: rename a container beside a server-only one",
	  "{'spec':{'$setElementOrder/containers':[{'name':'app2'}],'containers':[{'name':'app2',"
	  "'image':'nginx:1.27'},{'$patch':'delete','name':'app'}]}}",
	  { { "/spec/containers/2", NULL },
	    { "/spec/containers/1", "{'name':'app2','image':'nginx:1.27'}" },
	    { "/spec/containers/0/name", "'sidecar'" } },
	  NULL,
	  true },
	{ "container without a name",
	  "{'spec':{'containers':[{'image':'x'}]}}",
	  { { NULL } },
	  "map: map[image:x] does not contain declared merge key: name" },
	{ "port without containerPort",
	  "{'spec':{'containers':[{'name':'app','ports':[{'name':'x'}]}]}}",
	  { { NULL } },
	  "map: map[name:x] does not contain declared merge key: containerPort" },
	{ "volume key not retained",
	  "{'spec':{'volumes':[{'$retainKeys':['name'],'name':'data','emptyDir':{'medium':"
	  "'Memory'}}]}}",
	  { { NULL } },
	  "invalid patch format of retainKeys" },
};

/*
 * Walks a JSON pointer (no "~" escapes but "~1") to the parent of its last token; returns the
 * parent and the decoded last token in key (borrowed buffer).
 */
static json_t *
pointer_parent(json_t *doc, const char *at, char key[static 256])
{
	json_t *cur = doc;
	const char *p = at + 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p), o = 0;
		assert_true(n < 256);
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '~' && i + 1 < n && p[i + 1] == '1') {
				key[o++] = '/';
				i++;
			} else {
				key[o++] = p[i];
			}
		}
		key[o] = '\0';
		if (!slash)
			return cur;
		cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(key))
					 : json_object_get(cur, key);
		p = slash + 1;
	}
}

static json_t *
pointer_get(json_t *doc, const char *at)
{
	char key[256];
	json_t *parent = pointer_parent(doc, at, key);
	return json_is_array(parent) ? json_array_get(parent, (size_t)atoi(key))
				     : json_object_get(parent, key);
}

static void
pointer_remove(json_t *doc, const char *at)
{
	char key[256];
	json_t *parent = pointer_parent(doc, at, key);
	if (json_is_array(parent))
		json_array_remove(parent, (size_t)atoi(key));
	else if (json_is_object(parent))
		json_object_del(parent, key);
}

static void
check_place(json_t *result, const struct check *c)
{
	json_t *have = pointer_get(result, c->at);
	if (!c->value) {
		if (have)
			fail_msg("%s: expected nothing, got %s", c->at, tdump(have));
		return;
	}
	if (!have)
		fail_msg("%s: missing", c->at);
	assert_json_equal(have, c->value);
}

static void
run_pod_case(void **state)
{
	const struct pod_case *c = *state;
	json_t *base = tjson(base_pod), *patch = tjson(c->patch), *result = NULL;
	struct tsnap sb = tsnap_take(base), sp = tsnap_take(patch);
	korch_error *err = NULL;
	int r = patch_strategic_merge(base, patch, &pod, &result, &err);
	if (c->error) {
		assert_int_equal(r, KORCH_EINVALID);
		assert_string_equal(korch_error_message(err), c->error);
		korch_error_free(err);
	} else {
		if (r < 0)
			fail_msg("unexpected error: %s", korch_error_message(err));
		for (size_t i = 0; i < ARRAY_SIZE(c->checks) && c->checks[i].at; i++)
			check_place(result, &c->checks[i]);
		/* Everything the checks do not name is as it was. */
		json_t *was = json_deep_copy(base), *now = json_deep_copy(result);
		for (size_t i = ARRAY_SIZE(c->checks); i-- > 0;)
			if (c->checks[i].at) {
				pointer_remove(was, c->checks[i].at);
				pointer_remove(now, c->checks[i].at);
			}
		if (!c->moves && !json_equal(was, now))
			fail_msg("more changed than expected:\nwas %s\nnow %s", tdump(was),
				 tdump(now));
		json_decref(was);
		json_decref(now);
	}
	tsnap_check(&sb);
	tsnap_check(&sp);
	json_decref(result);
	json_decref(base);
	json_decref(patch);
}

/* An image change keeps every member where the manifest had it. */
static void
test_member_order_kept(void **state)
{
	json_t *base = tjson(base_pod), *result = NULL;
	json_t *patch = tjson("{'spec':{'containers':[{'name':'app','image':'nginx:1.27'}]}}");
	assert_int_equal(patch_strategic_merge(base, patch, &pod, &result, NULL), 0);
	json_t *app = pointer_get(result, "/spec/containers/0");
	const char *want[] = { "name", "image", "ports", "env", "volumeMounts", "resources" };
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach (app, k, v)
		assert_string_equal(k, want[i++]);
	assert_int_equal(i, ARRAY_SIZE(want));
	json_decref(result);
	json_decref(base);
	json_decref(patch);
}

/* A field the schema does not know merges as a map and replaces as a list. */
static void
test_unknown_field(void **state)
{
	json_t *base = tjson(base_pod), *once = NULL, *twice = NULL;
	json_t *p1 = tjson("{'spec':{'futureField':{'a':1,'list':[1,2],'gone':{'x':null}}}}");
	json_t *p2 = tjson("{'spec':{'futureField':{'b':2,'list':[3]}}}");
	assert_int_equal(patch_strategic_merge(base, p1, &pod, &once, NULL), 0);
	assert_json_equal(pointer_get(once, "/spec/futureField"), "{'a':1,'list':[1,2],'gone':{}}");
	assert_int_equal(patch_strategic_merge(once, p2, &pod, &twice, NULL), 0);
	assert_json_equal(pointer_get(twice, "/spec/futureField"),
			  "{'a':1,'b':2,'list':[3],'gone':{}}");
	json_decref(once);
	json_decref(twice);
	json_decref(base);
	json_decref(p1);
	json_decref(p2);
}

/* A NULL schema makes every field unknown: maps merge, lists are replaced. */
static void
test_no_schema(void **state)
{
	json_t *base = tjson(base_pod), *result = NULL;
	json_t *patch = tjson("{'metadata':{'labels':{'x':'y'}},'spec':{'containers':[{'name':"
			      "'log'}]}}");
	assert_int_equal(patch_strategic_merge(base, patch, NULL, &result, NULL), 0);
	assert_json_equal(pointer_get(result, "/metadata/labels"),
			  "{'app':'web','tier':'frontend','x':'y'}");
	assert_json_equal(pointer_get(result, "/spec/containers"), "[{'name':'log'}]");
	json_decref(result);
	json_decref(base);
	json_decref(patch);
}

static void
test_schema_sorted(void **state)
{
	const struct schema_type *types[] = {
		&owner_reference,   &object_meta,      &env_var,    &container_port,
		&volume_mount,      &resources,        &container,  &toleration,
		&config_map_source, &empty_dir_source, &pvc_source, &volume,
		&pod_spec,          &pod_condition,    &pod_status, &pod,
	};
	for (size_t t = 0; t < ARRAY_SIZE(types); t++)
		for (size_t i = 1; i < types[t]->n_fields; i++)
			assert_true(strcmp(types[t]->fields[i - 1].name, types[t]->fields[i].name) <
				    0);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_member_order_kept),
		cmocka_unit_test(test_unknown_field),
		cmocka_unit_test(test_no_schema),
		cmocka_unit_test(test_schema_sorted),
	};
	struct CMUnitTest tests[ARRAY_SIZE(cases) + ARRAY_SIZE(fixed)];
	size_t n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name,
						  .test_func = run_pod_case,
						  .initial_state = (void *)&cases[i] };
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("patch-pod", tests, n, NULL, NULL);
}
