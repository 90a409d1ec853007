/* lib/client: the write path over a real store file, under the test clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "client-env.h"
#include "client/client.h"
#include "test-util.h"

#define T0 ENV_T0

static int
setup(void **state)
{
	return env_setup(state, "client");
}

static const char *
str(const json_t *obj, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(obj, a), b));
}

static void
create_ok(struct env *e, const char *text)
{
	_cleanup_json_ json_t *obj = test_yaml(text);
	korch_error *err = NULL;
	struct client_write_opts o = { .field_manager = "test" };
	if (client_create(e->client, obj, &o, NULL, &err) < 0)
		fail_msg("create: %s", korch_error_message(err));
}

static void namespace(struct env *e, const char *name)
{
	char text[128];
	snprintf(text, sizeof(text), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n",
		 name);
	create_ok(e, text);
}

static const char deployment[] = "apiVersion: apps/v1\n"
				 "kind: Deployment\n"
				 "metadata:\n"
				 "  name: web\n"
				 "  namespace: default\n"
				 "spec:\n"
				 "  replicas: 2\n"
				 "  selector:\n"
				 "    matchLabels: {app: web}\n"
				 "  template:\n"
				 "    metadata:\n"
				 "      labels: {app: web}\n"
				 "    spec:\n"
				 "      containers:\n"
				 "      - name: web\n"
				 "        image: nginx:1.27\n";

static void
test_create_defaults_and_metadata(void **state)
{
	struct env *e = *state;
	namespace(e, "default");
	_cleanup_json_ json_t *obj = test_yaml(deployment);
	_cleanup_json_ json_t *out = NULL;
	struct client_write_opts o = { .field_manager = "kubectl-create" };
	assert_int_equal(client_create(e->client, obj, &o, &out, NULL), 0);
	const json_t *meta = json_object_get(out, "metadata");
	assert_int_equal(strlen(json_string_value(json_object_get(meta, "uid"))), 36);
	assert_string_equal(json_string_value(json_object_get(meta, "creationTimestamp")),
			    "2026-11-26T15:41:00Z");
	assert_int_equal(json_integer_value(json_object_get(meta, "generation")), 1);
	assert_non_null(json_object_get(meta, "resourceVersion"));
	/* Kubernetes' defaults were applied. */
	const json_t *spec = json_object_get(out, "spec");
	assert_int_equal(json_integer_value(json_object_get(spec, "revisionHistoryLimit")), 10);
	assert_string_equal(str(spec, "strategy", "type"), "RollingUpdate");
	const json_t *c0 = json_array_get(
		json_object_get(json_object_get(json_object_get(spec, "template"), "spec"),
				"containers"),
		0);
	assert_string_equal(json_string_value(json_object_get(c0, "imagePullPolicy")),
			    "IfNotPresent");
	/* managedFields records the creating manager. */
	const json_t *mf = json_array_get(json_object_get(meta, "managedFields"), 0);
	assert_string_equal(json_string_value(json_object_get(mf, "manager")), "kubectl-create");
	assert_string_equal(json_string_value(json_object_get(mf, "operation")), "Update");
	/* The status is the server's: reset on create. */
	assert_int_equal(json_object_size(json_object_get(out, "status")), 0);
	/* Creating it again: AlreadyExists in Kubernetes' words. */
	korch_error *err = NULL;
	assert_int_equal(client_create(e->client, obj, &o, NULL, &err), KORCH_EEXISTS);
	assert_string_equal(korch_error_message(err), "deployments.apps \"web\" already exists");
	korch_error_free(err);
}

static void
test_admission_and_validation(void **state)
{
	struct env *e = *state;
	korch_error *err = NULL;
	_cleanup_json_ json_t *obj = test_yaml(deployment);
	json_object_set_new(json_object_get(obj, "metadata"), "namespace", json_string("nope"));
	assert_int_equal(client_create(e->client, obj, NULL, NULL, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "namespaces \"nope\" not found");
	korch_error_free(err);
	err = NULL;
	namespace(e, "default");
	_cleanup_json_ json_t *bad = test_yaml(deployment);
	json_object_set_new(json_object_get(bad, "spec"), "replicas", json_integer(-1));
	assert_int_equal(client_create(e->client, bad, NULL, NULL, &err), KORCH_EINVALID);
	assert_non_null(
		strstr(korch_error_message(err),
		       "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: "
		       "must be greater than or equal to 0"));
	korch_error_free(err);
	err = NULL;
	_cleanup_json_ json_t *unknown = test_yaml(deployment);
	json_object_set_new(json_object_get(unknown, "spec"), "replica", json_integer(2));
	assert_int_equal(client_create(e->client, unknown, NULL, NULL, &err), KORCH_EINVALID);
	assert_non_null(strstr(korch_error_message(err), "unknown field \"spec.replica\""));
	korch_error_free(err);
	err = NULL;
	/* Nothing of the refused writes was stored. */
	const struct kind_info *k = kind_lookup("apps/v1", "Deployment");
	json_t *got = NULL;
	assert_int_equal(client_get(e->client, k, "default", "web", &got, NULL), KORCH_ENOTFOUND);
	/* Warn drops the unknown field and says so. */
	_cleanup_json_ json_t *warnings = json_array();
	struct client_write_opts warn = { .validation = FIELD_VALIDATION_WARN,
					  .warnings = warnings };
	assert_int_equal(client_create(e->client, unknown, &warn, &got, NULL), 0);
	assert_null(json_object_get(json_object_get(got, "spec"), "replica"));
	assert_string_equal(json_string_value(json_array_get(warnings, 0)),
			    "unknown field \"spec.replica\"");
	json_decref(got);
}

static void
test_update_generation_and_noop(void **state)
{
	struct env *e = *state;
	namespace(e, "default");
	create_ok(e, deployment);
	const struct kind_info *k = kind_lookup("apps/v1", "Deployment");
	_cleanup_json_ json_t *cur = NULL;
	assert_int_equal(client_get(e->client, k, "default", "web", &cur, NULL), 0);
	const char *rv0 = str(cur, "metadata", "resourceVersion");
	/* Writing back what is stored changes nothing: no new revision. */
	_cleanup_json_ json_t *same = NULL;
	assert_int_equal(client_update(e->client, cur, NULL, NULL, &same, NULL), 0);
	assert_string_equal(str(same, "metadata", "resourceVersion"), rv0);
	/* A label change keeps the generation; a spec change bumps it. */
	_cleanup_json_ json_t *labelled = json_deep_copy(cur);
	json_object_set_new(json_object_get(labelled, "metadata"), "labels",
			    json_pack("{s:s}", "tier", "front"));
	_cleanup_json_ json_t *out1 = NULL;
	assert_int_equal(client_update(e->client, labelled, NULL, NULL, &out1, NULL), 0);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(out1, "metadata"), "generation")),
			 1);
	_cleanup_json_ json_t *scaled = json_deep_copy(out1);
	json_object_set_new(json_object_get(scaled, "spec"), "replicas", json_integer(5));
	_cleanup_json_ json_t *out2 = NULL;
	assert_int_equal(client_update(e->client, scaled, NULL, NULL, &out2, NULL), 0);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(out2, "metadata"), "generation")),
			 2);
	/* A stale resourceVersion is a Conflict. */
	korch_error *err = NULL;
	assert_int_equal(client_update(e->client, scaled, NULL, NULL, NULL, &err), KORCH_ECONFLICT);
	assert_string_equal(
		korch_error_message(err),
		"Operation cannot be fulfilled on deployments.apps \"web\": the object "
		"has been modified; please apply your changes to the latest version and "
		"try again");
	korch_error_free(err);
	/* The main resource cannot change the status; /status changes only the status. */
	_cleanup_json_ json_t *st = json_deep_copy(out2);
	json_object_set_new(st, "status", json_pack("{s:i}", "readyReplicas", 3));
	_cleanup_json_ json_t *out3 = NULL;
	assert_int_equal(client_update(e->client, st, NULL, NULL, &out3, NULL), 0);
	assert_null(json_object_get(json_object_get(out3, "status"), "readyReplicas"));
	json_object_set_new(
		json_object_get(st, "metadata"), "resourceVersion",
		json_incref(json_object_get(json_object_get(out3, "metadata"), "resourceVersion")));
	json_object_set_new(json_object_get(st, "spec"), "replicas", json_integer(9));
	_cleanup_json_ json_t *out4 = NULL;
	assert_int_equal(client_update(e->client, st, "status", NULL, &out4, NULL), 0);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(out4, "status"), "readyReplicas")),
			 3);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(out4, "spec"), "replicas")), 5);
}

static void
test_patch_and_apply(void **state)
{
	struct env *e = *state;
	namespace(e, "default");
	const struct kind_info *k = kind_lookup("apps/v1", "Deployment");
	struct client_write_opts kubectl = { .field_manager = "kubectl" };
	_cleanup_json_ json_t *cfg = test_yaml(deployment);
	_cleanup_json_ json_t *a1 = NULL;
	assert_int_equal(client_apply(e->client, cfg, &kubectl, &a1, NULL), 0);
	/* Apply again: unchanged, same revision. */
	_cleanup_json_ json_t *a2 = NULL;
	assert_int_equal(client_apply(e->client, cfg, &kubectl, &a2, NULL), 0);
	assert_string_equal(str(a1, "metadata", "resourceVersion"),
			    str(a2, "metadata", "resourceVersion"));
	/* A strategic merge patch by another manager, then an apply that conflicts on it. */
	_cleanup_json_ json_t *p = json_pack("{s:{s:i}}", "spec", "replicas", 4);
	struct client_write_opts scaler = { .field_manager = "scaler" };
	_cleanup_json_ json_t *patched = NULL;
	assert_int_equal(client_patch(e->client, k, "default", "web", CLIENT_PATCH_STRATEGIC, p,
				      NULL, &scaler, &patched, NULL),
			 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(patched, "spec"), "replicas")),
		4);
	korch_error *err = NULL;
	assert_int_equal(client_apply(e->client, cfg, &kubectl, NULL, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "Apply failed with 1 conflict: conflict with \"scaler\" using apps/v1: "
			    ".spec.replicas");
	korch_error_free(err);
	kubectl.force = true;
	_cleanup_json_ json_t *forced = NULL;
	assert_int_equal(client_apply(e->client, cfg, &kubectl, &forced, NULL), 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(forced, "spec"), "replicas")),
		2);
	/* JSON patch and merge patch. */
	_cleanup_json_ json_t *jp = json_pack("[{s:s, s:s, s:i}]", "op", "replace", "path",
					      "/spec/replicas", "value", 7);
	_cleanup_json_ json_t *j = NULL;
	assert_int_equal(client_patch(e->client, k, "default", "web", CLIENT_PATCH_JSON, jp, NULL,
				      NULL, &j, NULL),
			 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(j, "spec"), "replicas")), 7);
	/* A patch that makes the object invalid stores nothing. */
	_cleanup_json_ json_t *bad = json_pack("{s:{s:i}}", "spec", "replicas", -3);
	assert_int_equal(client_patch(e->client, k, "default", "web", CLIENT_PATCH_MERGE, bad, NULL,
				      NULL, NULL, NULL),
			 KORCH_EINVALID);
	_cleanup_json_ json_t *now = NULL;
	assert_int_equal(client_get(e->client, k, "default", "web", &now, NULL), 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(now, "spec"), "replicas")), 7);
}

static void
test_delete_finalizers_and_grace(void **state)
{
	struct env *e = *state;
	namespace(e, "default");
	const struct kind_info *cm = kind_lookup("v1", "ConfigMap");
	create_ok(e,
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: default\n"
		  "  finalizers: [example.com/hold]\ndata: {a: b}\n");
	_cleanup_json_ json_t *marked = NULL;
	assert_int_equal(client_delete(e->client, cm, "default", "held", NULL, &marked, NULL), 0);
	assert_string_equal(str(marked, "metadata", "deletionTimestamp"), "2026-11-26T15:41:00Z");
	/* Still there until the finalizer goes; removing it deletes the object. */
	_cleanup_json_ json_t *cur = NULL;
	assert_int_equal(client_get(e->client, cm, "default", "held", &cur, NULL), 0);
	json_object_set_new(json_object_get(cur, "metadata"), "finalizers", json_array());
	assert_int_equal(client_update(e->client, cur, NULL, NULL, NULL, NULL), 0);
	json_t *gone = NULL;
	assert_int_equal(client_get(e->client, cm, "default", "held", &gone, NULL),
			 KORCH_ENOTFOUND);
	/* A pod bound to a node ends gracefully; one not bound goes at once. */
	const struct kind_info *pod = kind_lookup("v1", "Pod");
	create_ok(e, "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: default}\n"
		     "spec:\n  nodeName: n1\n  containers: [{name: c, image: busybox}]\n");
	create_ok(e, "apiVersion: v1\nkind: Pod\nmetadata: {name: p2, namespace: default}\n"
		     "spec:\n  containers: [{name: c, image: busybox}]\n");
	_cleanup_json_ json_t *p1 = NULL;
	assert_int_equal(client_delete(e->client, pod, "default", "p1", NULL, &p1, NULL), 0);
	assert_string_equal(str(p1, "metadata", "deletionTimestamp"), "2026-11-26T15:41:30Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(p1, "metadata"),
							    "deletionGracePeriodSeconds")),
			 30);
	assert_int_equal(client_delete(e->client, pod, "default", "p2", NULL, NULL, NULL), 0);
	assert_int_equal(client_get(e->client, pod, "default", "p2", &gone, NULL), KORCH_ENOTFOUND);
	/* The node agent's final delete with grace 0 removes p1. */
	struct client_delete_opts now = { .grace_period_s = 0 };
	assert_int_equal(client_delete(e->client, pod, "default", "p1", &now, NULL, NULL), 0);
	assert_int_equal(client_get(e->client, pod, "default", "p1", &gone, NULL), KORCH_ENOTFOUND);
}

static void
test_namespace_terminating_and_finalize(void **state)
{
	struct env *e = *state;
	namespace(e, "team");
	const struct kind_info *nsk = kind_lookup("v1", "Namespace");
	_cleanup_json_ json_t *ns = NULL;
	assert_int_equal(client_get(e->client, nsk, NULL, "team", &ns, NULL), 0);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_object_get(ns, "spec"), "finalizers"), 0)),
			    "kubernetes");
	assert_string_equal(str(ns, "status", "phase"), "Active");
	/* Deleting it makes it Terminating; nothing new may be created in it. */
	_cleanup_json_ json_t *marked = NULL;
	assert_int_equal(client_delete(e->client, nsk, NULL, "team", NULL, &marked, NULL), 0);
	assert_string_equal(str(marked, "status", "phase"), "Terminating");
	korch_error *err = NULL;
	_cleanup_json_ json_t *cm = test_yaml(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: team}\n");
	assert_int_equal(client_create(e->client, cm, NULL, NULL, &err), KORCH_EFORBIDDEN);
	assert_string_equal(
		korch_error_message(err),
		"configmaps \"x\" is forbidden: unable to create new content in namespace "
		"team because it is being terminated");
	korch_error_free(err);
	/* An ordinary update cannot drop the finalizer; /finalize can, and the namespace goes. */
	_cleanup_json_ json_t *cur = NULL;
	assert_int_equal(client_get(e->client, nsk, NULL, "team", &cur, NULL), 0);
	json_object_set_new(json_object_get(cur, "spec"), "finalizers", json_array());
	_cleanup_json_ json_t *kept = NULL;
	assert_int_equal(client_update(e->client, cur, NULL, NULL, &kept, NULL), 0);
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(kept, "spec"), "finalizers")), 1);
	assert_int_equal(client_update(e->client, cur, "finalize", NULL, NULL, NULL), 0);
	json_t *gone = NULL;
	assert_int_equal(client_get(e->client, nsk, NULL, "team", &gone, NULL), KORCH_ENOTFOUND);
}

static void
test_list_selectors_and_txn(void **state)
{
	struct env *e = *state;
	namespace(e, "default");
	namespace(e, "other");
	for (int i = 0; i < 6; i++) {
		char text[256];
		snprintf(
			text, sizeof(text),
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm%d\n  namespace: %s\n"
			"  labels: {app: %s, num: \"%d\"}\n",
			i, i % 2 ? "other" : "default", i < 3 ? "a" : "b", i);
		create_ok(e, text);
	}
	const struct kind_info *cm = kind_lookup("v1", "ConfigMap");
	_cleanup_json_ json_t *all = NULL;
	assert_int_equal(client_list(e->client, cm, NULL, NULL, &all, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(all, "kind")), "ConfigMapList");
	assert_int_equal(json_array_size(json_object_get(all, "items")), 6);
	_cleanup_json_ json_t *sel = NULL;
	struct client_list_opts lo = { .label_selector = "app=a,num notin (1)",
				       .field_selector = "metadata.namespace=default" };
	assert_int_equal(client_list(e->client, cm, NULL, &lo, &sel, NULL), 0);
	assert_int_equal(json_array_size(json_object_get(sel, "items")), 2);
	/* Label selectors alone: the index, the stored labels, or both decide. */
	static const struct {
		const char *selector; /* label selector */
		const char *names;    /* the items' names, in key order */
	} cases[] = {
		{ "app=a,num notin (1)", "cm0 cm2" },
		{ "app=a,app=b", "" },
		{ "app in (b),app=b", "cm4 cm3 cm5" },
		{ "app", "cm0 cm2 cm4 cm1 cm3 cm5" },
		{ "!app", "" },
		{ "num in (4,5)", "cm4 cm5" },
		{ "app!=a", "cm4 cm3 cm5" },
	};
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		for (int text = 0; text < 2; text++) {
			_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
			struct client_list_opts o = { .label_selector = cases[c].selector,
						      .text_out = text ? &out : NULL };
			_cleanup_json_ json_t *l = NULL;
			assert_int_equal(client_list(e->client, cm, NULL, &o, &l, NULL), 0);
			_cleanup_json_ json_t *items = json_incref(json_object_get(l, "items"));
			if (text) {
				/* The stored texts, comma-separated; the List's items empty. */
				assert_int_equal(json_array_size(items), 0);
				_cleanup_free_ char *arr = NULL;
				assert_true(asprintf(&arr, "[%s]", strbuf_str(&out)) > 0);
				json_decref(items);
				items = json_loads(arr, 0, NULL);
				assert_non_null(items);
			}
			char got[128] = "";
			size_t i;
			json_t *it;
			json_array_foreach (items, i, it) {
				const char *name = json_string_value(
					json_object_get(json_object_get(it, "metadata"), "name"));
				snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
					 i ? " " : "", name);
			}
			if (!streq(got, cases[c].names))
				fail_msg("%s (text %d): got \"%s\", want \"%s\"", cases[c].selector,
					 text, got, cases[c].names);
		}
	}
	korch_error *err = NULL;
	struct client_list_opts bad = { .field_selector = "spec.nodeName=x" };
	json_t *none = NULL;
	assert_int_equal(client_list(e->client, cm, NULL, &bad, &none, &err), KORCH_EINVALID);
	korch_error_free(err);
	/* A transaction: two applies and a delete, all or none. */
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	_cleanup_json_ json_t *x = test_yaml(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n");
	_cleanup_json_ json_t *y = test_yaml(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: yy, namespace: default}\n");
	struct client_write_opts gitops = { .field_manager = "korch-gitops" };
	korch_error *terr = NULL;
	if (client_txn_apply(t, x, &gitops, &terr) < 0)
		fail_msg("txn apply: %s", korch_error_message(terr));
	if (client_txn_apply(t, y, &gitops, &terr) < 0)
		fail_msg("txn apply y: %s", korch_error_message(terr));
	assert_int_equal(client_txn_delete(t, cm, "default", "cm0", NULL), 0);
	assert_int_equal(client_txn_size(t), 3);
	/* Someone else deletes cm0 meanwhile: the whole transaction fails. */
	assert_int_equal(client_delete(e->client, cm, "default", "cm0", NULL, NULL, NULL), 0);
	assert_true(client_txn_commit(t, NULL, NULL) < 0);
	json_t *got = NULL;
	assert_int_equal(client_get(e->client, cm, "default", "x", &got, NULL), KORCH_ENOTFOUND);
}

struct seen {
	char log[1024];
};

static void
on_event(struct client_watch *w, enum client_event_type type, const json_t *obj, void *userdata)
{
	struct seen *s = userdata;
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "ERROR" };
	size_t n = strlen(s->log);
	snprintf(s->log + n, sizeof(s->log) - n, "%s:%s ", names[type],
		 str(obj, "metadata", "name"));
}

static void
test_watch_with_selector(void **state)
{
	struct env *e = *state;
	namespace(e, "default");
	create_ok(
		e,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old, namespace: default, labels: {w: 'yes'}}\n");
	const struct kind_info *cm = kind_lookup("v1", "ConfigMap");
	struct seen s = { 0 };
	struct client_watch *w = NULL;
	struct client_watch_opts wo = { .label_selector = "w=yes" };
	assert_int_equal(client_watch(e->client, cm, "default", &wo, on_event, &s, &w, NULL), 0);
	create_ok(
		e,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: new, namespace: default, labels: {w: 'yes'}}\n");
	create_ok(e,
		  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: default}\n");
	/* new stops matching: a DELETED for this watch. */
	const struct kind_info *k = cm;
	_cleanup_json_ json_t *p = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "w", "no");
	assert_int_equal(client_patch(e->client, k, "default", "new", CLIENT_PATCH_MERGE, p, NULL,
				      NULL, NULL, NULL),
			 0);
	for (int i = 0; i < 10; i++)
		korch_loop_dispatch(e->loop, 10, NULL);
	assert_string_equal(s.log, "ADDED:old ADDED:new DELETED:new ");
	client_watch_free(w);
}

static void
dispatch_some(struct env *e)
{
	for (int i = 0; i < 10; i++)
		korch_loop_dispatch(e->loop, 10, NULL);
}

/*
 * A watch without selectors (which reads no previous versions) and one with a selector on the
 * same store handle, fed the same changes: each gets the events its own rules give.
 */
static void
test_watch_with_and_without_selector(void **state)
{
	struct env *e = *state;
	namespace(e, "default");
	const struct kind_info *cm = kind_lookup("v1", "ConfigMap");
	struct seen all = { 0 }, sel = { 0 };
	struct client_watch *w_all = NULL, *w_sel = NULL;
	struct client_watch_opts wo_sel = { .label_selector = "w=yes" };
	assert_int_equal(client_watch(e->client, cm, "default", NULL, on_event, &all, &w_all, NULL),
			 0);
	assert_int_equal(
		client_watch(e->client, cm, "default", &wo_sel, on_event, &sel, &w_sel, NULL), 0);
	create_ok(e, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n");
	dispatch_some(e);
	_cleanup_json_ json_t *p = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "w", "yes");
	assert_int_equal(client_patch(e->client, cm, "default", "a", CLIENT_PATCH_MERGE, p, NULL,
				      NULL, NULL, NULL),
			 0);
	dispatch_some(e);
	assert_int_equal(client_delete(e->client, cm, "default", "a", NULL, NULL, NULL), 0);
	dispatch_some(e);
	assert_string_equal(all.log, "ADDED:a MODIFIED:a DELETED:a ");
	assert_string_equal(sel.log, "ADDED:a DELETED:a ");
	client_watch_free(w_all);
	client_watch_free(w_sel);
}

static void
test_events_expire_after_an_hour(void **state)
{
	struct env *e = *state;
	namespace(e, "default");
	create_ok(e, "apiVersion: v1\nkind: Event\nmetadata: {name: e1, namespace: default}\n"
		     "involvedObject: {kind: Pod, name: p, namespace: default}\n"
		     "reason: Started\nmessage: started\ntype: Normal\n");
	const struct kind_info *ev = kind_lookup("v1", "Event");
	json_t *got = NULL;
	assert_int_equal(client_get(e->client, ev, "default", "e1", &got, NULL), 0);
	json_decref(got);
	assert_int_equal(korch_loop_advance(e->loop, 3700 * NSEC_PER_SEC, NULL), 0);
	size_t expired = 0;
	assert_int_equal(store_lease_expire(e->store, &expired, NULL), 0);
	assert_int_equal(client_get(e->client, ev, "default", "e1", &got, NULL), KORCH_ENOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_defaults_and_metadata, setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_admission_and_validation, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_update_generation_and_noop, setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_patch_and_apply, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_delete_finalizers_and_grace, setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_namespace_terminating_and_finalize, setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_list_selectors_and_txn, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_watch_with_selector, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_watch_with_and_without_selector, setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_events_expire_after_an_hour, setup,
						env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
