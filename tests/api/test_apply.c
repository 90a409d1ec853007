/*
 * Server-side apply and managedFields on Kubernetes' real schema, with the exact managedFields
 * and messages kube-apiserver writes: appliers with overlapping and disjoint fields, conflicts
 * and force, fields dropped unless shared, associative lists, sets, atomic lists, granular maps,
 * updates moving ownership, the status subresource, apply creating objects, what kubectl does
 * (create then apply --server-side, the switch from client-side apply), and bad input.
 */
#include <stdio.h>

#include <korch/common.h>
#include "api/apply.h"
#include "base/macro.h"
#include "base/util.h"
#include "patch-test.h"

#define T0 (1700000000LL * NSEC_PER_SEC) /* 2023-11-14T22:13:20Z */
#define T1 (T0 + 60 * NSEC_PER_SEC)      /* 2023-11-14T22:14:20Z */
#define T2 (T0 + 120 * NSEC_PER_SEC)     /* 2023-11-14T22:15:20Z */
#define T3 (T0 + 180 * NSEC_PER_SEC)     /* 2023-11-14T22:16:20Z */

#define D &schema_apps_v1_Deployment
#define HEAD \
	"'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','namespace':'default'"
#define WEB_KEY "'k:{\\'name\\':\\'web\\'}'"

/* A Deployment applied or created by the tests, with replicas R and image I. */
#define DEPLOY(R, I)                                                                            \
	"{" HEAD ",'labels':{'app':'web'}},'spec':{'replicas':" R ",'selector':{'matchLabels':" \
	"{'app':'web'}},'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':"  \
	"[{'name':'web','image':'" I "'}]}}}}"

/* The fields DEPLOY() sets, as an Apply entry records them. */
#define DEPLOY_APPLIED(REPLICAS)                                                                  \
	"{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{" REPLICAS "'f:selector':{},"          \
	"'f:template':{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:containers':{" WEB_KEY \
	":{'.':{},'f:image':{},'f:name':{}}}}}}}"

#define ENTRY(M, OP, V, TIME, FIELDS)                                                        \
	"{'manager':'" M "','operation':'" OP "','apiVersion':'" V "'," TIME "'fieldsType':" \
	"'FieldsV1','fieldsV1':" FIELDS "}"
#define AT(T) "'time':'" T "',"
#define NO_TIME ""

static json_t *
apply_ok(const json_t *live, const char *config_text, const char *manager, bool force, int64_t now)
{
	json_t *config = tjson(config_text), *out = NULL;
	struct tsnap sl = tsnap_take(live), sc = tsnap_take(config);
	korch_error *err = NULL;
	int r = apply_object(live, config, D, manager, "apps/v1", force, now, &out, &err);
	if (r < 0)
		fail_msg("apply by %s: %s", manager, korch_error_message(err));
	tsnap_check(&sl);
	tsnap_check(&sc);
	json_decref(config);
	return out;
}

/* The apply must fail with KORCH_ECONFLICT, msg, and one cause per field, in order. */
static void
apply_conflict(const json_t *live, const char *config_text, const char *manager, const char *msg,
	       const char *const *fields, const char *const *cause_msgs, size_t n)
{
	json_t *config = tjson(config_text), *out = (json_t *)&out;
	korch_error *err = NULL;
	assert_int_equal(apply_object(live, config, D, manager, "apps/v1", false, T3, &out, &err),
			 KORCH_ECONFLICT);
	assert_ptr_equal(out, (json_t *)&out);
	assert_int_equal(korch_error_code(err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err), msg);
	assert_int_equal(korch_error_cause_count(err), n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(korch_error_cause_reason(err, i), "FieldManagerConflict");
		assert_string_equal(korch_error_cause_field(err, i), fields[i]);
		assert_string_equal(korch_error_cause_message(err, i), cause_msgs[i]);
	}
	korch_error_free(err);
	json_decref(config);
}

static json_t *
update_ok(const json_t *old, const char *new_text, const char *manager, const char *subresource,
	  int64_t now)
{
	json_t *obj = tjson(new_text);
	struct tsnap so = tsnap_take(old);
	korch_error *err = NULL;
	if (apply_record_update(old, obj, D, manager, "apps/v1", subresource, now, &err) < 0)
		fail_msg("update by %s: %s", manager, korch_error_message(err));
	tsnap_check(&so);
	return obj;
}

/* obj with new managedFields text (a list), for updates that pass the stored ones along. */
static char *
with_managed(const json_t *obj, const json_t *managed)
{
	json_t *c = json_deep_copy(obj);
	json_object_set(json_object_get(c, "metadata"), "managedFields", (json_t *)managed);
	char *s = tdump(c);
	json_decref(c);
	/* tjson() turns ' into ": the dump holds none of them */
	return s;
}

static const json_t *
managed_of(const json_t *obj)
{
	return json_object_get(json_object_get(obj, "metadata"), "managedFields");
}

static void
assert_managed(const json_t *obj, const char *want)
{
	const json_t *mf = managed_of(obj);
	if (!want) {
		assert_null(mf);
		return;
	}
	assert_non_null(mf);
	assert_json_text(mf, want);
}

/* obj without managedFields must print exactly as want. */
static void
assert_object(const json_t *obj, const char *want)
{
	json_t *c = json_deep_copy(obj);
	json_object_del(json_object_get(c, "metadata"), "managedFields");
	assert_json_text(c, want);
	json_decref(c);
}

static void
test_apply_creates(void **state)
{
	json_t *obj = apply_ok(NULL, DEPLOY("2", "nginx:1.27"), "kubectl", false, T0);
	/* the object is the configuration; apiVersion, kind, name, namespace are not owned */
	assert_object(obj, DEPLOY("2", "nginx:1.27"));
	assert_managed(obj, "[" ENTRY("kubectl", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
				      DEPLOY_APPLIED("'f:replicas':{},")) "]");
	/* managedFields come last in metadata */
	char *text = tdump(json_object_get(obj, "metadata"));
	assert_true(startswith(text,
			       "{\"name\":\"web\",\"namespace\":\"default\",\"labels\":{\"app\":"
			       "\"web\"},\"managedFields\":["));
	free(text);
	/* applying the same again changes nothing, not even the time */
	json_t *again = apply_ok(obj, DEPLOY("2", "nginx:1.27"), "kubectl", false, T1);
	assert_true(json_equal(again, obj));
	json_decref(again);
	json_decref(obj);
}

static void
test_two_appliers(void **state)
{
	json_t *s1 = apply_ok(NULL, DEPLOY("2", "nginx:1.27"), "kubectl", false, T0);
	/* a second manager applying an equal value shares the field; nothing changed: no time */
	json_t *s2 = apply_ok(s1, "{" HEAD "},'spec':{'replicas':2}}", "scaler", false, T1);
	assert_object(s2, DEPLOY("2", "nginx:1.27"));
	assert_managed(
		s2,
		"[" ENTRY(
			"scaler", "Apply", "apps/v1", NO_TIME,
			"{'f:spec':{'f:replicas':{}}}") "," ENTRY("kubectl", "Apply", "apps/v1",
								  AT("2023-11-14T22:13:20Z"),
								  DEPLOY_APPLIED(
									  "'f:replicas':{},")) "]");
	/* changing it is a conflict with the other owner */
	static const char *const f1[] = { ".spec.replicas" };
	static const char *const m1[] = { "conflict with \"kubectl\"" };
	apply_conflict(s2, "{" HEAD "},'spec':{'replicas':3}}", "scaler",
		       "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas",
		       f1, m1, 1);
	/* forced, the field moves */
	json_t *s3 = apply_ok(s2, "{" HEAD "},'spec':{'replicas':3}}", "scaler", true, T2);
	assert_object(s3, DEPLOY("3", "nginx:1.27"));
	assert_managed(s3,
		       "[" ENTRY("kubectl", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
				 DEPLOY_APPLIED("")) "," ENTRY("scaler", "Apply", "apps/v1",
							       AT("2023-11-14T22:15:20Z"),
							       "{'f:spec':{'f:replicas':{}}}") "]");
	/* and the first manager now conflicts with the second */
	static const char *const m2[] = { "conflict with \"scaler\"" };
	apply_conflict(s3, DEPLOY("2", "nginx:1.27"), "kubectl",
		       "Apply failed with 1 conflict: conflict with \"scaler\": .spec.replicas", f1,
		       m2, 1);
	/* disjoint fields: the first manager leaves replicas out and changes the image */
	json_t *s4 = apply_ok(s3,
			      "{" HEAD ",'labels':{'app':'web'}},'spec':{'selector':{'matchLabels':"
			      "{'app':'web'}},'template':{'metadata':{'labels':{'app':'web'}},"
			      "'spec':{'containers':[{'name':'web','image':'nginx:1.28'}]}}}}",
			      "kubectl", false, T3);
	assert_object(s4, DEPLOY("3", "nginx:1.28"));
	assert_managed(
		s4,
		"[" ENTRY("scaler", "Apply", "apps/v1", AT("2023-11-14T22:15:20Z"),
			  "{'f:spec':{'f:replicas':{}}}") "," ENTRY("kubectl", "Apply", "apps/v1",
								    AT("2023-11-14T22:16:20Z"),
								    DEPLOY_APPLIED("")) "]");
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	json_decref(s4);
}

/* What kubectl create records: every field it wrote, maps and items with "." */
#define CREATE_SET                                                                              \
	"{'f:metadata':{'f:labels':{'.':{},'f:app':{}}},'f:spec':{'.':{},'f:replicas':{},"      \
	"'f:selector':{},'f:template':{'.':{},'f:metadata':{'.':{},'f:labels':{'.':{},'f:app':" \
	"{}}},'f:spec':{'.':{},'f:containers':{'.':{}," WEB_KEY ":{'.':{},'f:image':{},"        \
	"'f:name':{}}}}}}}"

static void
test_kubectl_create_then_server_side_apply(void **state)
{
	json_t *created = update_ok(NULL, DEPLOY("1", "nginx:1.27"), "kubectl-create", NULL, T0);
	assert_object(created, DEPLOY("1", "nginx:1.27"));
	assert_managed(created, "[" ENTRY("kubectl-create", "Update", "apps/v1",
					  AT("2023-11-14T22:13:20Z"), CREATE_SET) "]");
	/* equal values are no conflict: the applier shares them */
	json_t *same = apply_ok(created, DEPLOY("1", "nginx:1.27"), "kubectl", false, T1);
	assert_object(same, DEPLOY("1", "nginx:1.27"));
	assert_managed(
		same,
		"[" ENTRY("kubectl", "Apply", "apps/v1", NO_TIME,
			  DEPLOY_APPLIED("'f:replicas':{},")) "," ENTRY("kubectl-create", "Update",
									"apps/v1",
									AT("2023-11-14T22:13:20Z"),
									CREATE_SET) "]");
	/* different values are */
	static const char *const f1[] = { ".spec.replicas" };
	static const char *const m1[] = { "conflict with \"kubectl-create\" using apps/v1" };
	apply_conflict(created, DEPLOY("2", "nginx:1.27"), "kubectl",
		       "Apply failed with 1 conflict: conflict with \"kubectl-create\" using "
		       "apps/v1: .spec.replicas",
		       f1, m1, 1);
	static const char *const f2[] = {
		".spec.replicas",
		".spec.template.spec.containers[name=\"web\"].image",
	};
	static const char *const m2[] = {
		"conflict with \"kubectl-create\" using apps/v1",
		"conflict with \"kubectl-create\" using apps/v1",
	};
	apply_conflict(created, DEPLOY("2", "nginx:1.28"), "kubectl",
		       "Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using "
		       "apps/v1:\n"
		       "- .spec.replicas\n"
		       "- .spec.template.spec.containers[name=\"web\"].image",
		       f2, m2, 2);
	/* forced: the changed fields leave kubectl-create's entry, the equal ones stay shared */
	json_t *forced = apply_ok(created, DEPLOY("2", "nginx:1.28"), "kubectl", true, T1);
	assert_object(forced, DEPLOY("2", "nginx:1.28"));
	assert_managed(
		forced,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:14:20Z"),
			DEPLOY_APPLIED(
				"'f:replicas':{},")) "," ENTRY("kubectl-create", "Update",
							       "apps/v1",
							       AT("2023-11-14T22:13:20Z"),
							       "{'f:metadata':{'f:labels':{'.':{},'f:app':{}}},'f:spec':{'.':{},"
							       "'f:selector':{},'f:template':{'.':{},'f:metadata':{'.':{},"
							       "'f:labels':{'.':{},'f:app':{}}},'f:spec':{'.':{},'f:containers':{"
							       "'.':{}," WEB_KEY
							       ":{'.':{},'f:name':{}}}}}}}") "]");
	json_decref(created);
	json_decref(same);
	json_decref(forced);
}

/* The message of Kubernetes' own example, and the form with several managers. */
static void
test_conflict_messages(void **state)
{
	json_t *csa =
		update_ok(NULL, DEPLOY("1", "nginx:1.27"), "kubectl-client-side-apply", NULL, T0);
	static const char *const f1[] = { ".spec.replicas" };
	static const char *const m1[] = {
		"conflict with \"kubectl-client-side-apply\" using apps/v1",
	};
	apply_conflict(csa, "{" HEAD "},'spec':{'replicas':3}}", "hpa",
		       "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" "
		       "using apps/v1: .spec.replicas",
		       f1, m1, 1);
	/* two appliers and an updater own fields the next apply changes */
	json_t *a = apply_ok(csa, "{" HEAD ",'labels':{'team':'x'}}}", "zeta", false, T1);
	json_t *b = apply_ok(a, "{" HEAD ",'annotations':{'note':'y'}}}", "alpha", false, T2);
	static const char *const f3[] = {
		".metadata.annotations.note",
		".metadata.labels.app",
		".spec.replicas",
		".metadata.labels.team",
	};
	static const char *const m3[] = {
		"conflict with \"alpha\"",
		"conflict with \"kubectl-client-side-apply\" using apps/v1",
		"conflict with \"kubectl-client-side-apply\" using apps/v1",
		"conflict with \"zeta\"",
	};
	/* grouped by identity: {"manager":"alpha",...} < {"manager":"kubectl-...} < {"manager":"zeta" */
	apply_conflict(b,
		       "{" HEAD ",'labels':{'team':'z','app':'api'},'annotations':{'note':'z'}},"
		       "'spec':{'replicas':5}}",
		       "omega",
		       "Apply failed with 4 conflicts: conflicts with \"alpha\":\n"
		       "- .metadata.annotations.note\n"
		       "conflicts with \"kubectl-client-side-apply\" using apps/v1:\n"
		       "- .metadata.labels.app\n"
		       "- .spec.replicas\n"
		       "conflicts with \"zeta\":\n"
		       "- .metadata.labels.team",
		       f3, m3, 4);
	json_decref(csa);
	json_decref(a);
	json_decref(b);
}

/* A manager's dropped fields go unless another manager owns them: maps, list items, sets. */
#define SIDECAR_KEY "'k:{\\'name\\':\\'sidecar\\'}'"
#define PORT_KEY(P) "'k:{\\'containerPort\\':" P ",\\'protocol\\':\\'TCP\\'}'"
#define ENV_KEY(N) "'k:{\\'name\\':\\'" N "\\'}'"

static void
test_dropped_fields(void **state)
{
	json_t *s1 =
		apply_ok(NULL,
			 "{" HEAD ",'labels':{'app':'web','tier':'front'}},'spec':{'template':{"
			 "'spec':{'containers':[{'name':'web','image':'nginx','ports':[{"
			 "'containerPort':80},{'containerPort':443}],'env':[{'name':'A','value':"
			 "'1'},{'name':'B','value':'2'}]},{'name':'sidecar','image':'envoy'}]}}}}",
			 "kubectl", false, T0);
	/* another manager applies some of the same fields with the same values */
	json_t *s2 = apply_ok(s1,
			      "{" HEAD ",'labels':{'tier':'front'}},'spec':{'template':{'spec':{"
			      "'containers':[{'name':'sidecar','image':'envoy'}]}}}}",
			      "other", false, T1);
	assert_true(json_equal(s2, s1) == false); /* managedFields differ */
	/* the first drops tier, the sidecar, port 443 and env B: only what it alone owned goes */
	json_t *s3 =
		apply_ok(s2,
			 "{" HEAD ",'labels':{'app':'web'}},'spec':{'template':{'spec':{"
			 "'containers':[{'name':'web','image':'nginx','ports':[{'containerPort':"
			 "80}],'env':[{'name':'A','value':'1'}]}]}}}}",
			 "kubectl", false, T2);
	assert_object(s3, "{" HEAD ",'labels':{'app':'web','tier':'front'}},'spec':{'template':{"
			  "'spec':{'containers':[{'name':'web','image':'nginx','ports':[{"
			  "'containerPort':80}],'env':[{'name':'A','value':'1'}]},{'name':"
			  "'sidecar','image':'envoy'}]}}}}");
	assert_managed(
		s3,
		"[" ENTRY(
			"other", "Apply", "apps/v1", NO_TIME,
			"{'f:metadata':{'f:labels':{'f:tier':{}}},'f:spec':{'f:template':"
			"{'f:spec':{'f:containers':{" SIDECAR_KEY ":{'.':{},'f:image':{},"
			"'f:name':{}}}}}}}") "," ENTRY("kubectl", "Apply", "apps/v1",
						       AT("2023-11-14T22:15:20Z"),
						       "{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:template':{"
						       "'f:spec':{'f:containers':{" WEB_KEY
						       ":{'.':{},'f:env':{" ENV_KEY(
							       "A") ":{'.':{},'f:name':{},'f:value':{}}},'f:image':{},"
								    "'f:name':{},'f:ports':{" PORT_KEY(
									    "80") ":{'.':{},"
										  "'f:containerPort':{}}}}}}}}}") "]");
	/* now the other drops the sidecar it alone owns: it goes, tier stays */
	json_t *s4 = apply_ok(s3, "{" HEAD ",'labels':{'tier':'front'}}}", "other", false, T3);
	assert_object(s4, "{" HEAD ",'labels':{'app':'web','tier':'front'}},'spec':{'template':{"
			  "'spec':{'containers':[{'name':'web','image':'nginx','ports':[{"
			  "'containerPort':80}],'env':[{'name':'A','value':'1'}]}]}}}}");
	assert_managed(
		s4,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:15:20Z"),
			"{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:template':{"
			"'f:spec':{'f:containers':{" WEB_KEY ":{'.':{},'f:env':{" ENV_KEY(
				"A") ":{'.':{},'f:name':{},'f:value':{}}},'f:image':{},"
				     "'f:name':{},'f:ports':{" PORT_KEY(
					     "80") ":{'.':{},"
						   "'f:containerPort':{}}}}}}}}}") "," ENTRY("other",
											     "Apply",
											     "apps/v1",
											     AT("2023-11-14T22:16:20Z"),
											     "{'f:metadata':{'f:labels':{'f:tier':{}}}}") "]");
	/* a field an updater wrote and an applier then applied alike stays when the applier drops it */
	json_t *s5 = update_ok(s4,
			       "{" HEAD ",'labels':{'app':'web','tier':'front','env':'prod'}},"
			       "'spec':{'template':{'spec':{'containers':[{'name':'web','image':"
			       "'nginx','ports':[{'containerPort':80}],'env':[{'name':'A',"
			       "'value':'1'}]}]}}}}",
			       "kubectl-label", NULL, T3);
	json_t *s6 = apply_ok(s5, "{" HEAD ",'labels':{'tier':'front','env':'prod'}}}", "other",
			      false, T3);
	json_t *s7 = apply_ok(s6, "{" HEAD "}}", "other", false, T3);
	assert_object(s7, "{" HEAD ",'labels':{'app':'web','env':'prod'}},'spec':{'template':{"
			  "'spec':{'containers':[{'name':'web','image':'nginx','ports':[{"
			  "'containerPort':80}],'env':[{'name':'A','value':'1'}]}]}}}}");
	assert_managed(
		s7,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:15:20Z"),
			"{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:template':{"
			"'f:spec':{'f:containers':{" WEB_KEY ":{'.':{},'f:env':{" ENV_KEY(
				"A") ":{'.':{},'f:name':{},'f:value':{}}},'f:image':{},"
				     "'f:name':{},'f:ports':{" PORT_KEY(
					     "80") ":{'.':{},"
						   "'f:containerPort':{}}}}}}}}}") "," ENTRY("kubectl-label",
											     "Update",
											     "apps/v1",
											     AT("2023-11-14T22:16:20Z"),
											     "{'f:metadata':{'f:labels':{'f:env':{}}}}") "]");
	json_decref(s7);
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	json_decref(s4);
	json_decref(s5);
	json_decref(s6);
}

static void
test_sets(void **state)
{
	json_t *s1 = apply_ok(NULL, "{" HEAD ",'finalizers':['a','b']}}", "kubectl", false, T0);
	assert_managed(
		s1,
		"[" ENTRY("kubectl", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
			  "{'f:metadata':{'f:finalizers':{'v:\\'a\\'':{},'v:\\'b\\'':{}}}}") "]");
	/* sets are unioned */
	json_t *s2 = apply_ok(s1, "{" HEAD ",'finalizers':['c']}}", "other", false, T1);
	assert_object(s2, "{" HEAD ",'finalizers':['a','b','c']}}");
	/* a dropped value goes unless another manager has it; a shared one is no conflict */
	json_t *s3 = apply_ok(s2, "{" HEAD ",'finalizers':['c','a']}}", "kubectl", false, T2);
	assert_object(s3, "{" HEAD ",'finalizers':['c','a']}}");
	assert_managed(
		s3,
		"[" ENTRY("other", "Apply", "apps/v1", AT("2023-11-14T22:14:20Z"), "{'f:metadata':{'f:finalizers':{'v:\\'c\\'':{}}}}") "," ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:15:20Z"),
			"{'f:metadata':{'f:finalizers':{'v:\\'a\\'':{},'v:\\'c\\'':{}}}}") "]");
	json_t *s4 = apply_ok(s3, "{" HEAD ",'finalizers':['a']}}", "kubectl", false, T3);
	assert_object(s4, "{" HEAD ",'finalizers':['c','a']}}");
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	json_decref(s4);
}

#define CONTAINER(ARGS) \
	"{" HEAD "},'spec':{'template':{'spec':{'containers':[{'name':'web'" ARGS "}]}}}}"

static void
test_atomic_lists(void **state)
{
	json_t *s1 =
		apply_ok(NULL, CONTAINER(",'image':'busybox','args':['x','y'],'command':['sh']"),
			 "kubectl", false, T0);
	/* args and command are owned whole: one leaf each */
	assert_managed(s1,
		       "[" ENTRY("kubectl", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
				 "{'f:spec':{'f:template':{'f:spec':{'f:containers':{" WEB_KEY
				 ":{'.':{},'f:args':{},'f:command':{},'f:image':{},'f:name':{}}}}}"
				 "}}") "]");
	/* the same items in another order are another value */
	static const char *const f1[] = { ".spec.template.spec.containers[name=\"web\"].args" };
	static const char *const m1[] = { "conflict with \"kubectl\"" };
	apply_conflict(s1, CONTAINER(",'args':['y','x']"), "other",
		       "Apply failed with 1 conflict: conflict with \"kubectl\": "
		       ".spec.template.spec.containers[name=\"web\"].args",
		       f1, m1, 1);
	/* forced, the list is replaced whole and changes hands */
	json_t *s2 = apply_ok(s1, CONTAINER(",'args':['z']"), "other", true, T1);
	assert_object(s2, CONTAINER(",'image':'busybox','args':['z'],'command':['sh']"));
	assert_managed(
		s2,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
			"{'f:spec':{'f:template':{'f:spec':{'f:containers':{" WEB_KEY
			":{'.':{},'f:command':{},'f:image':{},'f:name':{}}}}}}}") "," ENTRY("other",
											    "Apply",
											    "apps/v1",
											    AT("2023-11-14T22:14:20Z"),
											    "{'f:spec':{'f:template':{'f:spec':{'f:containers':{" WEB_KEY
											    ":{'.':{},'f:args':{},'f:name':{}}}}}}}") "]");
	/* the first manager dropping command removes it (it alone owned it) */
	json_t *s3 = apply_ok(s2, CONTAINER(",'image':'busybox'"), "kubectl", false, T2);
	assert_object(s3, CONTAINER(",'image':'busybox','args':['z']"));
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
}

/* An update takes what it changed from everyone; an apply then conflicts with it. */
static void
test_update_moves_ownership(void **state)
{
	json_t *s1 = apply_ok(NULL, DEPLOY("2", "nginx:1.27"), "kubectl", false, T0);
	json_t *s2 = update_ok(s1, DEPLOY("2", "nginx:1.28"), "kubectl-edit", NULL, T1);
	assert_object(s2, DEPLOY("2", "nginx:1.28"));
	assert_managed(
		s2,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
			"{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:replicas':{},"
			"'f:selector':{},'f:template':{'f:metadata':{'f:labels':{'f:app':"
			"{}}},'f:spec':{'f:containers':{" WEB_KEY ":{'.':{},'f:name':{}}}}"
			"}}}") "," ENTRY("kubectl-edit", "Update", "apps/v1",
					 AT("2023-11-14T22:14:20Z"),
					 "{'f:spec':{'f:template':{'f:spec':{'f:containers':{" WEB_KEY
					 ":{'f:image':{}}}}}}}") "]");
	static const char *const f1[] = { ".spec.template.spec.containers[name=\"web\"].image" };
	static const char *const m1[] = { "conflict with \"kubectl-edit\" using apps/v1" };
	apply_conflict(
		s2, DEPLOY("2", "nginx:1.27"), "kubectl",
		"Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: "
		".spec.template.spec.containers[name=\"web\"].image",
		f1, m1, 1);
	/* the same update with the stored managedFields passed back (a PUT) records the same */
	char *text = with_managed(s2, managed_of(s1));
	json_t *obj = tjson(text);
	assert_int_equal(apply_record_update(s1, obj, D, "kubectl-edit", "apps/v1", NULL, T1, NULL),
			 0);
	assert_true(json_equal(obj, s2));
	json_decref(obj);
	free(text);
	/* a second change by the same updater adds to its entry and moves its time */
	json_t *s3 = update_ok(s2, DEPLOY("4", "nginx:1.28"), "kubectl-edit", NULL, T2);
	assert_managed(
		s3,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
			"{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:selector':"
			"{},'f:template':{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':"
			"{'f:containers':{" WEB_KEY
			":{'.':{},'f:name':{}}}}}}}") "," ENTRY("kubectl-edit", "Update", "apps/v1",
								AT("2023-11-14T22:15:20Z"),
								"{'f:spec':{'f:replicas':{},'f:template':{'f:spec':{'f:containers':"
								"{" WEB_KEY
								":{'f:image':{}}}}}}}") "]");
	/* an update that changes nothing records nothing, not even a time */
	json_t *s4 = update_ok(s3, DEPLOY("4", "nginx:1.28"), "kubectl-edit", NULL, T3);
	assert_true(json_equal(managed_of(s4), managed_of(s3)));
	json_t *s5 = update_ok(s3, DEPLOY("4", "nginx:1.28"), "someone-else", NULL, T3);
	assert_true(json_equal(managed_of(s5), managed_of(s3)));
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	json_decref(s4);
	json_decref(s5);
}

#define WITH_STATUS(R, STATUS) "{" HEAD "},'spec':{'replicas':" R "},'status':" STATUS "}"

static void
test_status_subresource(void **state)
{
	json_t *s1 = apply_ok(NULL, "{" HEAD "},'spec':{'replicas':2}}", "kubectl", false, T0);
	/* the controller writes status; what the request says of managedFields is ignored */
	json_t *req = tjson(WITH_STATUS("2", "{'replicas':2,'conditions':[{'type':'Available',"
					     "'status':'True'}]}"));
	json_object_set_new(json_object_get(req, "metadata"), "managedFields", json_array());
	assert_int_equal(apply_record_update(s1, req, D, "kube-controller-manager", "apps/v1",
					     "status", T1, NULL),
			 0);
	assert_managed(
		req,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
			"{'f:spec':{'f:replicas':{}}}") ","
							"{'manager':'kube-controller-manager','operation':'Update','apiVersion':"
							"'apps/v1','time':'2023-11-14T22:14:20Z','fieldsType':'FieldsV1',"
							"'fieldsV1':{'f:status':{'.':{},'f:conditions':{'.':{},"
							"'k:{\\'type\\':\\'Available\\'}':{'.':{},'f:status':{},'f:type':{}}},"
							"'f:replicas':{}}},'subresource':'status'}]");
	/* spec written through the status subresource is not owned (the write path resets it) */
	json_t *s3 = update_ok(req, WITH_STATUS("5", "{'replicas':3}"), "kube-controller-manager",
			       "status", T2);
	assert_managed(
		s3,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
			"{'f:spec':{'f:replicas':{}}}") ","
							"{'manager':'kube-controller-manager','operation':'Update','apiVersion':"
							"'apps/v1','time':'2023-11-14T22:15:20Z','fieldsType':'FieldsV1',"
							"'fieldsV1':{'f:status':{'.':{},'f:replicas':{}}},'subresource':"
							"'status'}]");
	/* status written through the main resource is not owned either, nor on create */
	json_t *s4 = update_ok(s3, WITH_STATUS("5", "{'replicas':7}"), "someone", NULL, T3);
	assert_true(json_equal(managed_of(s4), managed_of(s3)));
	json_t *created =
		update_ok(NULL, WITH_STATUS("1", "{'replicas':1}"), "kubectl-create", NULL, T0);
	assert_managed(created,
		       "[" ENTRY("kubectl-create", "Update", "apps/v1", AT("2023-11-14T22:13:20Z"),
				 "{'f:spec':{'.':{},'f:replicas':{}}}") "]");
	/* an apply that sets status does not own it */
	json_t *applied = apply_ok(s4, WITH_STATUS("5", "{'replicas':9}"), "kubectl", true, T3);
	assert_object(applied, WITH_STATUS("5", "{'replicas':9}"));
	assert_managed(
		applied,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:16:20Z"),
			"{'f:spec':{'f:replicas':{}}}") ","
							"{'manager':'kube-controller-manager','operation':'Update',"
							"'apiVersion':'apps/v1','time':'2023-11-14T22:15:20Z','fieldsType':"
							"'FieldsV1','fieldsV1':{'f:status':{'.':{},'f:replicas':{}}},"
							"'subresource':'status'}]");
	json_decref(s1);
	json_decref(req);
	json_decref(s3);
	json_decref(s4);
	json_decref(created);
	json_decref(applied);
}

static void
test_request_managed_fields(void **state)
{
	json_t *s1 = apply_ok(NULL, DEPLOY("2", "nginx:1.27"), "kubectl", false, T0);
	/* [] and [{}] reset them; an object without any then records nothing on update */
	static const char *const resets[] = { "[]", "[{}]" };
	for (size_t i = 0; i < ARRAY_SIZE(resets); i++) {
		json_t *req = tjson(DEPLOY("2", "nginx:1.28")), *mf = tjson(resets[i]);
		json_object_set_new(json_object_get(req, "metadata"), "managedFields", mf);
		assert_int_equal(
			apply_record_update(s1, req, D, "kubectl-edit", "apps/v1", NULL, T1, NULL),
			0);
		assert_managed(req, NULL);
		json_t *again = update_ok(req, DEPLOY("2", "nginx:1.29"), "kubectl-edit", NULL, T2);
		assert_managed(again, NULL);
		json_decref(again);
		json_decref(req);
	}
	/* a list that decodes is taken as given */
	const char *given = "[{'manager':'m','operation':'Apply','apiVersion':'apps/v1',"
			    "'fieldsType':'FieldsV1','fieldsV1':{'f:spec':{'f:replicas':{}}}}]";
	json_t *req = tjson(DEPLOY("2", "nginx:1.27"));
	json_object_set_new(json_object_get(req, "metadata"), "managedFields", tjson(given));
	assert_int_equal(apply_record_update(s1, req, D, "x", "apps/v1", NULL, T1, NULL), 0);
	assert_managed(req, given);
	json_decref(req);
	/* one that does not is replaced by the stored one */
	static const char *const bad[] = {
		"[{'manager':'m','operation':'Patch','apiVersion':'apps/v1','fieldsType':'FieldsV1'}]",
		"[{'manager':'m','operation':'Apply','apiVersion':'apps/v1'}]",
		"[{'manager':'m','operation':'Apply','apiVersion':'apps/v1','fieldsType':'FieldsV1',"
		"'fieldsV1':{'zz':{}}}]",
		"{'not':'a list'}",
	};
	json_t *want = update_ok(s1, DEPLOY("2", "nginx:1.28"), "kubectl-edit", NULL, T1);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		req = tjson(DEPLOY("2", "nginx:1.28"));
		json_object_set_new(json_object_get(req, "metadata"), "managedFields",
				    tjson(bad[i]));
		assert_int_equal(
			apply_record_update(s1, req, D, "kubectl-edit", "apps/v1", NULL, T1, NULL),
			0);
		assert_true(json_equal(managed_of(req), managed_of(want)));
		json_decref(req);
	}
	json_decref(want);
	/* a create tracks even when reset; given entries lose what the create writes */
	req = tjson(DEPLOY("1", "nginx:1.27"));
	json_object_set_new(json_object_get(req, "metadata"), "managedFields", json_array());
	assert_int_equal(
		apply_record_update(NULL, req, D, "kubectl-create", "apps/v1", NULL, T0, NULL), 0);
	assert_managed(req, "[" ENTRY("kubectl-create", "Update", "apps/v1",
				      AT("2023-11-14T22:13:20Z"), CREATE_SET) "]");
	json_decref(req);
	req = tjson(DEPLOY("1", "nginx:1.27"));
	json_object_set_new(
		json_object_get(req, "metadata"), "managedFields",
		tjson("[{'manager':'m','operation':'Update','apiVersion':'apps/v1',"
		      "'fieldsType':'FieldsV1','fieldsV1':{'f:spec':{'f:replicas':{}}}},"
		      "{'manager':'n','operation':'Update','apiVersion':'apps/v1','time':"
		      "'2020-01-01T00:00:00Z','fieldsType':'FieldsV1','fieldsV1':{"
		      "'f:status':{'f:replicas':{}}}}]"));
	assert_int_equal(
		apply_record_update(NULL, req, D, "kubectl-create", "apps/v1", NULL, T0, NULL), 0);
	assert_managed(
		req,
		"[" ENTRY("n", "Update", "apps/v1", AT("2020-01-01T00:00:00Z"),
			  "{'f:status':{'f:replicas':{}}}") "," ENTRY("kubectl-create", "Update",
								      "apps/v1",
								      AT("2023-11-14T22:13:20Z"),
								      CREATE_SET) "]");
	json_decref(req);
	json_decref(s1);
}

static void
test_before_first_apply(void **state)
{
	json_t *live = tjson(DEPLOY("1", "nginx:1.27"));
	static const char *const f1[] = { ".spec.replicas" };
	static const char *const m1[] = { "conflict with \"before-first-apply\" using apps/v1" };
	apply_conflict(live, DEPLOY("3", "nginx:1.27"), "kubectl",
		       "Apply failed with 1 conflict: conflict with \"before-first-apply\" using "
		       "apps/v1: .spec.replicas",
		       f1, m1, 1);
	json_t *forced = apply_ok(live, DEPLOY("3", "nginx:1.27"), "kubectl", true, T1);
	assert_managed(
		forced,
		"[" ENTRY(
			"kubectl", "Apply", "apps/v1", AT("2023-11-14T22:14:20Z"),
			DEPLOY_APPLIED(
				"'f:replicas':{},")) "," ENTRY("before-first-apply", "Update",
							       "apps/v1",
							       AT("2023-11-14T22:14:20Z"),
							       "{'f:metadata':{'f:labels':{'.':{},'f:app':{}}},'f:spec':{'.':{},"
							       "'f:selector':{},'f:template':{'.':{},'f:metadata':{'.':{},"
							       "'f:labels':{'.':{},'f:app':{}}},'f:spec':{'.':{},'f:containers':{"
							       "'.':{}," WEB_KEY
							       ":{'.':{},'f:image':{},'f:name':{}}}}}}}") "]");
	json_t *same = apply_ok(live, DEPLOY("1", "nginx:1.27"), "kubectl", false, T1);
	assert_managed(
		same,
		"[" ENTRY("kubectl", "Apply", "apps/v1", NO_TIME,
			  DEPLOY_APPLIED("'f:replicas':{},")) "," ENTRY("before-first-apply",
									"Update", "apps/v1",
									AT("2023-11-14T22:14:20Z"),
									CREATE_SET) "]");
	json_decref(live);
	json_decref(forced);
	json_decref(same);
}

/* apply_object() must fail with code and msg and write nothing. */
static void
apply_fails(const json_t *live, const json_t *config, const struct schema_type *root,
	    const char *api_version, int code, const char *msg)
{
	json_t *out = (json_t *)&out;
	korch_error *err = NULL;
	assert_int_equal(
		apply_object(live, config, root, "kubectl", api_version, false, T0, &out, &err),
		code);
	assert_ptr_equal(out, (json_t *)&out);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(err);
}

static void
apply_text_fails(const char *live_text, const char *config_text, const char *msg)
{
	json_t *live = live_text ? tjson(live_text) : NULL, *config = tjson(config_text);
	apply_fails(live, config, D, "apps/v1", KORCH_EINVALID, msg);
	json_decref(live);
	json_decref(config);
}

static void
test_apply_errors(void **state)
{
	apply_text_fails(NULL, "{" HEAD ",'managedFields':[]}}",
			 "metadata.managedFields must be nil");
	apply_text_fails(NULL, "{'apiVersion':'apps/v1beta1','kind':'Deployment'}",
			 "Incorrect version specified in apply patch. Specified patch version: "
			 "apps/v1beta1, expected: apps/v1");
	apply_text_fails(NULL, "{'kind':'Deployment'}",
			 "Incorrect version specified in apply patch. Specified patch version: , "
			 "expected: apps/v1");
	apply_text_fails(NULL, "[]", "apply: the configuration is not an object");
	apply_text_fails("7", "{" HEAD "}}", "apply: the live object is not an object");
	apply_text_fails(NULL,
			 "{" HEAD "},'spec':{'template':{'spec':{'containers':[{'name':'web'},"
			 "{'name':'web','image':'x'}]}}}}",
			 "failed to create typed patch object (default/web; apps/v1, "
			 "Kind=Deployment): .spec.template.spec.containers: duplicate entries for "
			 "key [name=\"web\"]");
	apply_text_fails(NULL, "{" HEAD "},'spec':{'foo':1}}",
			 "failed to create typed patch object (default/web; apps/v1, "
			 "Kind=Deployment): .spec.foo: field not declared in schema");
	apply_text_fails("{" HEAD "},'spec':{'foo':1}}", "{" HEAD "}}",
			 "failed to create typed live object (default/web; apps/v1, "
			 "Kind=Deployment): .spec.foo: field not declared in schema");
	/* managedFields of the live object that do not decode */
	static const char *const bad_live[][2] = {
		{ "{'manager':'m','operation':'Patch','apiVersion':'v1','fieldsType':'FieldsV1'}",
		  "failed to decode managed fields: operation must be `Apply` or `Update`" },
		{ "{'manager':'m','operation':'Apply','fieldsType':'FieldsV1'}",
		  "failed to decode managed fields: apiVersion must not be empty" },
		{ "{'manager':'m','operation':'Apply','apiVersion':'apps/v1'}",
		  "failed to decode managed fields: missing fieldsType in managed fields entry 0" },
		{ "{'manager':'m','operation':'Apply','apiVersion':'apps/v1','fieldsType':'FieldsV2'}",
		  "failed to decode managed fields: invalid fieldsType \"FieldsV2\" in managed "
		  "fields entry 0" },
		{ "{'manager':'m','operation':'Apply','apiVersion':'apps/v1','fieldsType':'FieldsV1',"
		  "'fieldsV1':{'zz':{}}}",
		  "failed to decode managed fields: managed fields entry 0: fieldsV1: bad path "
		  "element \"zz\": no colon after the type letter" },
		{ "{'manager':'m','operation':'Apply','apiVersion':'apps/v1','fieldsType':'FieldsV1',"
		  "'time':'yesterday'}",
		  "failed to decode managed fields: managed fields entry 0: time yesterday is not an "
		  "RFC 3339 time" },
		{ "{'manager':7,'operation':'Apply','apiVersion':'apps/v1','fieldsType':'FieldsV1'}",
		  "failed to decode managed fields: managed fields entry 0: manager is not a "
		  "string" },
		{ "'entry'", "failed to decode managed fields: managed fields entry 0 is not an "
			     "object" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_live); i++) {
		json_t *live = tjson("{" HEAD "}}"), *config = tjson("{" HEAD "}}");
		json_t *list = json_array();
		json_array_append_new(list, tjson(bad_live[i][0]));
		json_object_set_new(json_object_get(live, "metadata"), "managedFields", list);
		apply_fails(live, config, D, "apps/v1", KORCH_EINVALID, bad_live[i][1]);
		json_decref(live);
		json_decref(config);
	}
	/* the core group in descriptions */
	json_t *pod = tjson("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p','namespace':"
			    "'default'},'spec':{'containers':[{'name':'a'},{'name':'a'}]}}");
	apply_fails(NULL, pod, &schema_core_v1_Pod, "v1", KORCH_EINVALID,
		    "failed to create typed patch object (default/p; /v1, Kind=Pod): "
		    ".spec.containers: duplicate entries for key [name=\"a\"]");
	json_decref(pod);
}

static void
test_record_update_errors(void **state)
{
	json_t *old = apply_ok(NULL, DEPLOY("2", "nginx:1.27"), "kubectl", false, T0);
	json_t *bad = tjson("{" HEAD "},'spec':{'foo':1}}");
	struct tsnap sb = tsnap_take(bad);
	korch_error *err = NULL;
	assert_int_equal(apply_record_update(old, bad, D, "m", "apps/v1", NULL, T1, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "failed to convert new object (default/web; apps/v1, Kind=Deployment) "
			    "to smd typed: .spec.foo: field not declared in schema");
	korch_error_free(err);
	tsnap_check(&sb); /* left as it was */
	err = NULL;
	/* an old object without managedFields is not looked at (nothing is tracked) */
	json_t *good = tjson(DEPLOY("2", "nginx:1.27"));
	assert_int_equal(apply_record_update(bad, good, D, "m", "apps/v1", NULL, T1, &err), 0);
	assert_managed(good, NULL);
	json_object_set(json_object_get(bad, "metadata"), "managedFields",
			(json_t *)managed_of(old));
	assert_int_equal(apply_record_update(bad, good, D, "m", "apps/v1", NULL, T1, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "failed to convert live object (default/web; apps/v1, Kind=Deployment) "
			    "to smd typed: .spec.foo: field not declared in schema");
	korch_error_free(err);
	err = NULL;
	json_t *list = tjson("[]");
	assert_int_equal(apply_record_update(old, list, D, "m", "apps/v1", NULL, T1, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "record update: the new object is not an object");
	korch_error_free(err);
	json_decref(list);
	json_decref(good);
	json_decref(bad);
	json_decref(old);
}

/* More than 10 Update entries: the oldest merge into "ancient-changes". */
static void
test_cap_update_managers(void **state)
{
	json_t *obj = NULL;
	for (int i = 0; i <= 11; i++) {
		json_t *next = obj ? json_deep_copy(obj) : tjson("{" HEAD ",'labels':{}}}");
		char label[8], manager[8];
		snprintf(label, sizeof(label), "l%d", i);
		snprintf(manager, sizeof(manager), "m%d", i);
		json_object_set_new(json_object_get(json_object_get(next, "metadata"), "labels"),
				    label, json_string("x"));
		assert_int_equal(apply_record_update(obj, next, D, manager, "apps/v1", NULL,
						     T0 + i * NSEC_PER_SEC, NULL),
				 0);
		json_decref(obj);
		obj = next;
		const json_t *mf = managed_of(obj);
		assert_int_equal(json_array_size(mf), i < 10 ? i + 1 : 10);
		if (i == 10)
			/* m0 became the bucket, m1 joined it with its time */
			assert_json_text(json_array_get(mf, 0),
					 ENTRY("ancient-changes", "Update", "apps/v1",
					       AT("2023-11-14T22:13:21Z"),
					       "{'f:metadata':{'f:labels':{'.':{},'f:l0':{},"
					       "'f:l1':{}}}}"));
	}
	/* the next merge goes into the existing bucket */
	const json_t *mf = managed_of(obj);
	assert_json_text(
		json_array_get(mf, 0),
		ENTRY("ancient-changes", "Update", "apps/v1", AT("2023-11-14T22:13:22Z"),
		      "{'f:metadata':{'f:labels':{'.':{},'f:l0':{},'f:l1':{},'f:l2':{}}}}"));
	assert_json_text(json_array_get(mf, 1),
			 ENTRY("m3", "Update", "apps/v1", AT("2023-11-14T22:13:23Z"),
			       "{'f:metadata':{'f:labels':{'f:l3':{}}}}"));
	assert_json_text(json_array_get(mf, 9),
			 ENTRY("m11", "Update", "apps/v1", AT("2023-11-14T22:13:31Z"),
			       "{'f:metadata':{'f:labels':{'f:l11':{}}}}"));
	/* appliers do not count */
	json_t *applied = apply_ok(obj, "{" HEAD ",'labels':{'z':'1'}}}", "a", false, T3);
	assert_int_equal(json_array_size(managed_of(applied)), 11);
	json_decref(applied);
	json_decref(obj);
}

/* A client-side-applied object with its last-applied annotation. */
static json_t *
client_side_applied(void)
{
	json_t *config = tjson(DEPLOY("2", "nginx:1.27"));
	char *text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *annotations = json_object();
	json_object_set_new(annotations, APPLY_LAST_APPLIED_ANNOTATION, json_string(text));
	json_object_set_new(json_object_get(config, "metadata"), "annotations", annotations);
	free(text);
	korch_error *err = NULL;
	if (apply_record_update(NULL, config, D, "kubectl-client-side-apply", "apps/v1", NULL, T0,
				&err) < 0)
		fail_msg("%s", korch_error_message(err));
	return config;
}

static void
test_kubectl_last_applied(void **state)
{
	json_t *csa = client_side_applied();
	/* kubectl's apply --server-side takes over what its client-side apply set, unchanged */
	json_t *ssa = apply_ok(csa, DEPLOY("3", "nginx:1.27"), "kubectl", false, T1);
	const json_t *annotation =
		json_object_get(json_object_get(json_object_get(ssa, "metadata"), "annotations"),
				APPLY_LAST_APPLIED_ANNOTATION);
	assert_string_equal(
		json_string_value(annotation),
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
		"\"labels\":{\"app\":\"web\"},\"name\":\"web\",\"namespace\":"
		"\"default\"},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{"
		"\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":"
		"\"web\"}},\"spec\":{\"containers\":[{\"image\":\"nginx:1.27\",\"name\":"
		"\"web\"}]}}}}\n");
	assert_managed(
		ssa,
		"[" ENTRY("kubectl", "Apply", "apps/v1", AT("2023-11-14T22:14:20Z"), DEPLOY_APPLIED("'f:replicas':{},")) "," ENTRY(
			"kubectl-client-side-apply", "Update", "apps/v1",
			AT("2023-11-14T22:13:20Z"),
			"{'f:metadata':{'f:annotations':{'.':{},"
			"'f:kubectl.kubernetes.io/last-applied-configuration':{}},"
			"'f:labels':{'.':{},'f:app':{}}},'f:spec':{'.':{},'f:selector':{},"
			"'f:template':{'.':{},'f:metadata':{'.':{},'f:labels':{'.':{},"
			"'f:app':{}}},'f:spec':{'.':{},'f:containers':{'.':{}," WEB_KEY
			":{'.':{},'f:image':{},'f:name':{}}}}}}}") "]");
	/* what someone changed since the client-side apply stays a conflict */
	json_t *edited = tjson(DEPLOY("2", "nginx:1.28"));
	json_object_set(json_object_get(edited, "metadata"), "annotations",
			json_object_get(json_object_get(csa, "metadata"), "annotations"));
	assert_int_equal(
		apply_record_update(csa, edited, D, "kubectl-edit", "apps/v1", NULL, T1, NULL), 0);
	static const char *const f1[] = { ".spec.template.spec.containers[name=\"web\"].image" };
	static const char *const m1[] = { "conflict with \"kubectl-edit\" using apps/v1" };
	apply_conflict(
		edited, DEPLOY("3", "nginx:1.29"), "kubectl",
		"Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: "
		".spec.template.spec.containers[name=\"web\"].image",
		f1, m1, 1);
	/* any other manager is in conflict on both */
	static const char *const f2[] = {
		".spec.replicas",
		".spec.template.spec.containers[name=\"web\"].image",
	};
	static const char *const m2[] = {
		"conflict with \"kubectl-client-side-apply\" using apps/v1",
		"conflict with \"kubectl-edit\" using apps/v1",
	};
	apply_conflict(
		edited, DEPLOY("3", "nginx:1.29"), "argocd",
		"Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" "
		"using apps/v1:\n"
		"- .spec.replicas\n"
		"conflicts with \"kubectl-edit\" using apps/v1:\n"
		"- .spec.template.spec.containers[name=\"web\"].image",
		f2, m2, 2);
	/* without the annotation kubectl gets no such pass */
	json_t *plain =
		update_ok(NULL, DEPLOY("2", "nginx:1.27"), "kubectl-client-side-apply", NULL, T0);
	static const char *const m3[] = {
		"conflict with \"kubectl-client-side-apply\" using apps/v1",
	};
	apply_conflict(plain, DEPLOY("3", "nginx:1.27"), "kubectl",
		       "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" "
		       "using apps/v1: .spec.replicas",
		       f2, m3, 1);
	json_decref(plain);
	json_decref(edited);
	json_decref(ssa);
	json_decref(csa);
}

static void
test_unknown_manager_and_server_metadata(void **state)
{
	const char *text = "{" HEAD ",'uid':'u1','resourceVersion':'5','generation':1,"
			   "'creationTimestamp':'2023-11-14T22:00:00Z','deletionTimestamp':"
			   "'2023-11-14T22:10:00Z','deletionGracePeriodSeconds':30,'selfLink':'/x',"
			   "'labels':{'a':'b'}}}";
	json_t *created = update_ok(NULL, text, "", NULL, T0);
	assert_managed(created,
		       "[" ENTRY("unknown", "Update", "apps/v1", AT("2023-11-14T22:13:20Z"),
				 "{'f:metadata':{'f:labels':{'.':{},'f:a':{}}}}") "]");
	json_t *applied = apply_ok(created, text, "", false, T1);
	assert_managed(
		applied,
		"[" ENTRY("unknown", "Apply", "apps/v1", NO_TIME, "{'f:metadata':{'f:labels':{'f:a':{}}}}") "," ENTRY(
			"unknown", "Update", "apps/v1", AT("2023-11-14T22:13:20Z"),
			"{'f:metadata':{'f:labels':{'.':{},'f:a':{}}}}") "]");
	/* an apply of nothing but identity owns nothing: no entry */
	json_t *none = apply_ok(NULL, "{" HEAD "}}", "kubectl", false, T0);
	assert_managed(none, NULL);
	json_decref(none);
	json_decref(applied);
	json_decref(created);
}

#define POD_KUBECTL_FIELDS                                                                                 \
	"{'f:spec':{'f:containers':{" WEB_KEY ":{'.':{},'f:env':{" ENV_KEY(                                \
		"A") ":{'.':{},'f:name':{},'f:value':{}}},'f:image':{},'f:name':{},'f:ports':{"            \
		     "'k:{\\'containerPort\\':53,\\'protocol\\':\\'UDP\\'}':{'.':{},'f:containerPort':{}," \
		     "'f:protocol':{}}," PORT_KEY(                                                         \
			     "80") ":{'.':{},'f:containerPort':{},'f:name':{}}}}}}}"
#define POD_HELPER_FIELDS                                                                               \
	"{'f:spec':{'f:containers':{'k:{\\'name\\':\\'log\\'}':{'.':{},'f:image':{},"                   \
	"'f:name':{}}," WEB_KEY ":{'.':{},'f:env':{" ENV_KEY(                                           \
		"B") ":{'.':{},'f:name':{},"                                                            \
		     "'f:value':{}}},'f:name':{},'f:ports':{'k:{\\'containerPort\\':53,\\'protocol\\':" \
		     "\\'TCP\\'}':{'.':{},'f:containerPort':{},'f:protocol':{}}}}}}}"

/* A Pod in the core group: containers by name, ports by port and protocol, env by name. */
static void
test_pod(void **state)
{
	const struct schema_type *pod = &schema_core_v1_Pod;
	json_t *c1 =
		tjson("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p','namespace':"
		      "'default'},'spec':{'containers':[{'name':'web','image':'nginx','ports':["
		      "{'containerPort':80,'name':'http'},{'containerPort':53,'protocol':"
		      "'UDP'}],'env':[{'name':'A','value':'1'}]}]}}");
	json_t *s1 = NULL, *s2 = NULL;
	assert_int_equal(apply_object(NULL, c1, pod, "kubectl", "v1", false, T0, &s1, NULL), 0);
	json_t *c2 =
		tjson("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p','namespace':"
		      "'default'},'spec':{'containers':[{'name':'web','ports':[{'containerPort':"
		      "53,'protocol':'TCP'}],'env':[{'name':'B','value':'2'}]},{'name':'log',"
		      "'image':'busybox'}]}}");
	assert_int_equal(apply_object(s1, c2, pod, "helper", "v1", false, T1, &s2, NULL), 0);
	assert_object(s2, "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p','namespace':"
			  "'default'},'spec':{'containers':[{'name':'web','image':'nginx','ports':"
			  "[{'containerPort':80,'name':'http'},{'containerPort':53,'protocol':"
			  "'UDP'},{'containerPort':53,'protocol':'TCP'}],'env':[{'name':'A',"
			  "'value':'1'},{'name':'B','value':'2'}]},{'name':'log','image':"
			  "'busybox'}]}}");
	assert_managed(s2, "[" ENTRY("kubectl", "Apply", "v1", AT("2023-11-14T22:13:20Z"),
				     POD_KUBECTL_FIELDS) "," ENTRY("helper", "Apply", "v1",
								   AT("2023-11-14T22:14:20Z"),
								   POD_HELPER_FIELDS) "]");
	json_decref(c1);
	json_decref(c2);
	json_decref(s1);
	json_decref(s2);
}

/* An update that empties one entry and takes part of the next: both handled, nothing leaked. */
static void
test_update_empties_entries(void **state)
{
	json_t *s1 = apply_ok(NULL, DEPLOY("2", "nginx:1.27"), "deployer", false, T0);
	json_t *s2 = apply_ok(s1, "{" HEAD "},'spec':{'replicas':2}}", "scaler", false, T0);
	/* scaler (first in managedFields) loses its one field, deployer two of its fields */
	json_t *s3 = update_ok(s2, DEPLOY("5", "nginx:1.28"), "kubectl-edit", NULL, T1);
	assert_managed(
		s3,
		"[" ENTRY(
			"deployer", "Apply", "apps/v1", AT("2023-11-14T22:13:20Z"),
			"{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:selector':"
			"{},'f:template':{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':"
			"{'f:containers':{" WEB_KEY
			":{'.':{},'f:name':{}}}}}}}") "," ENTRY("kubectl-edit", "Update", "apps/v1",
								AT("2023-11-14T22:14:20Z"),
								"{'f:spec':{'f:replicas':{},'f:template':{'f:spec':{'f:containers':"
								"{" WEB_KEY
								":{'f:image':{}}}}}}}") "]");
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
}

/*
 * Pruning one list item while another item is owned only as an item (its fields by nobody):
 * structured-merge-diff's intermediate object then holds a null item, which it skips.
 */
static void
test_prune_with_unowned_item_fields(void **state)
{
	json_t *live =
		tjson("{" HEAD ",'managedFields':[{'manager':'a','operation':'Apply',"
		      "'apiVersion':'apps/v1','fieldsType':'FieldsV1','fieldsV1':{'f:spec':{"
		      "'f:template':{'f:spec':{'f:containers':{'k:{\\'name\\':\\'a\\'}':{"
		      "'.':{},'f:name':{}}}}}}}},{'manager':'u','operation':'Update',"
		      "'apiVersion':'apps/v1','fieldsType':'FieldsV1','fieldsV1':{'f:spec':{"
		      "'f:template':{'f:spec':{'f:containers':{'k:{\\'name\\':\\'b\\'}':{}}}}}}"
		      "}]},'spec':{'template':{'spec':{'containers':[{'name':'b','image':"
		      "'x'}]}}}}");
	json_t *out = apply_ok(live,
			       "{" HEAD "},'spec':{'template':{'spec':{'containers':[{"
			       "'name':'c'}]}}}}",
			       "a", false, T1);
	assert_object(out, "{" HEAD "},'spec':{'template':{'spec':{'containers':[{'name':'b',"
			   "'image':'x'},{'name':'c'}]}}}}");
	assert_managed(
		out,
		"[" ENTRY(
			"a", "Apply", "apps/v1", AT("2023-11-14T22:14:20Z"),
			"{'f:spec':{'f:template':{'f:spec':{'f:containers':{"
			"'k:{\\'name\\':\\'c\\'}':{'.':{},'f:name':{}}}}}}}") "," ENTRY("u",
											"Update",
											"apps/v1",
											NO_TIME,
											"{'f:spec':{'f:template':{'f:spec':{'f:containers':{"
											"'k:{\\'name\\':\\'b\\'}':{}}}}}}") "]");
	json_decref(out);
	json_decref(live);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_creates),
		cmocka_unit_test(test_two_appliers),
		cmocka_unit_test(test_kubectl_create_then_server_side_apply),
		cmocka_unit_test(test_conflict_messages),
		cmocka_unit_test(test_dropped_fields),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_atomic_lists),
		cmocka_unit_test(test_update_moves_ownership),
		cmocka_unit_test(test_status_subresource),
		cmocka_unit_test(test_request_managed_fields),
		cmocka_unit_test(test_before_first_apply),
		cmocka_unit_test(test_apply_errors),
		cmocka_unit_test(test_record_update_errors),
		cmocka_unit_test(test_cap_update_managers),
		cmocka_unit_test(test_kubectl_last_applied),
		cmocka_unit_test(test_unknown_manager_and_server_metadata),
		cmocka_unit_test(test_pod),
		cmocka_unit_test(test_update_empties_entries),
		cmocka_unit_test(test_prune_with_unowned_item_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
