/*
 * Server-side apply and managedFields on Kubernetes' real schema, with the exact managedFields
 * and messages kube-apiserver writes: appliers with overlapping and disjoint fields, conflicts
 * and force, fields dropped unless shared, associative lists, sets, atomic lists, granular maps,
 * updates moving ownership, the status subresource, apply creating objects, what kubectl does
 * (create then apply --server-side, the switch from client-side apply), and bad input.
 */
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
