/*
 * lib/client transactions. Those that create a Namespace and the objects in it: admission lets
 * the objects in once the transaction holds the Namespace's create, the commit writes both or
 * neither, and a missing or terminating namespace outside the transaction is still refused.
 * Creates and (status) updates in a transaction: the single calls' rules, the stored objects
 * handed back with their resourceVersion, and all or none at commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "client-env.h"
#include "client/client.h"
#include "test-util.h"

static int
setup(void **state)
{
	return env_setup(state, "txnns");
}

static const struct client_write_opts gitops = { .field_manager = "korch-gitops", .force = true };

static void
txn_apply_ok(struct client_txn *t, const char *text)
{
	_cleanup_json_ json_t *obj = test_yaml(text);
	korch_error *err = NULL;
	if (client_txn_apply(t, obj, &gitops, &err) < 0)
		fail_msg("txn apply: %s", korch_error_message(err));
}

static void
test_namespace_and_content(void **state)
{
	struct env *e = *state;
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	txn_apply_ok(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n");
	txn_apply_ok(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team}\n");
	assert_int_equal(client_txn_size(t), 2);
	int64_t rev = 0;
	assert_int_equal(client_txn_commit(t, &rev, NULL), 0);
	json_t *cm = NULL;
	assert_int_equal(
		client_get(e->client, kind_lookup("v1", "ConfigMap"), "team", "a", &cm, NULL), 0);
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", (long long)rev);
	assert_string_equal(json_string_value(json_object_get(json_object_get(cm, "metadata"),
							      "resourceVersion")),
			    buf);
	json_decref(cm);
}

/* The content comes first: its namespace does not exist yet, so it is refused. */
static void
test_content_before_namespace(void **state)
{
	struct env *e = *state;
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	_cleanup_json_ json_t *cm = test_yaml(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team}\n");
	korch_error *err = NULL;
	assert_int_equal(client_txn_apply(t, cm, &gitops, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "namespaces \"team\" not found");
	korch_error_free(err);
	client_txn_free(t);
}

/* Another transaction's namespace admits nothing: each keeps its own. */
static void
test_namespace_of_other_txn(void **state)
{
	struct env *e = *state;
	struct client_txn *t1 = NULL, *t2 = NULL;
	assert_int_equal(client_txn_new(e->client, &t1, NULL), 0);
	assert_int_equal(client_txn_new(e->client, &t2, NULL), 0);
	txn_apply_ok(t1, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n");
	_cleanup_json_ json_t *cm = test_yaml(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team}\n");
	korch_error *err = NULL;
	assert_int_equal(client_txn_apply(t2, cm, &gitops, &err), KORCH_ENOTFOUND);
	korch_error_free(err);
	client_txn_free(t1);
	client_txn_free(t2);
}

/*
 * The namespace is created by someone else between the plan and the commit: the transaction's
 * create of it fails, and the content goes with it.
 */
static void
test_namespace_raced(void **state)
{
	struct env *e = *state;
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	txn_apply_ok(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n");
	txn_apply_ok(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team}\n");
	_cleanup_json_ json_t *ns =
		test_yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n");
	assert_int_equal(client_create(e->client, ns, NULL, NULL, NULL), 0);
	korch_error *err = NULL;
	assert_int_equal(client_txn_commit(t, NULL, &err), KORCH_EEXISTS);
	assert_string_equal(korch_error_message(err),
			    "transaction operation 1 of 2: namespaces \"team\" already exists");
	korch_error_free(err);
	json_t *cm = NULL;
	assert_int_equal(
		client_get(e->client, kind_lookup("v1", "ConfigMap"), "team", "a", &cm, NULL),
		KORCH_ENOTFOUND);
}

static const char *
rv_of(const json_t *obj)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static const char deployment_yaml[] =
	"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n"
	"spec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n"
	"  template:\n    metadata: {labels: {app: web}}\n"
	"    spec: {containers: [{name: c, image: busybox}]}\n";

/* A Deployment "web" in namespace default, as stored (a new reference). */
static json_t *
make_deployment(struct env *e)
{
	_cleanup_json_ json_t *ns =
		test_yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n");
	assert_int_equal(client_create(e->client, ns, NULL, NULL, NULL), 0);
	_cleanup_json_ json_t *d = test_yaml(deployment_yaml);
	json_t *stored = NULL;
	assert_int_equal(client_create(e->client, d, NULL, &stored, NULL), 0);
	return stored;
}

/*
 * A status update and a create in one transaction: the status changes and nothing else (the
 * spec change it carries is dropped, the generation stays), both objects get the commit's
 * revision, and the references handed out are the stored objects.
 */
static void
test_status_and_create(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *d = make_deployment(e);
	_cleanup_json_ json_t *upd = json_deep_copy(d);
	json_object_set_new(upd, "status", json_pack("{s:i}", "replicas", 2));
	json_object_set_new(json_object_get(upd, "spec"), "replicas", json_integer(5));
	_cleanup_json_ json_t *cm = test_yaml(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n"
		"data: {k: v}\n");
	struct client_txn *t = NULL;
	json_t *after_d = NULL, *after_cm = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	assert_int_equal(client_txn_update(t, upd, "status", &gitops, &after_d, NULL), 0);
	assert_int_equal(client_txn_create(t, cm, &gitops, &after_cm, NULL), 0);
	assert_int_equal(client_txn_size(t), 2);
	/* Before the commit: planned, not stored. */
	assert_null(rv_of(after_cm));
	_cleanup_json_ json_t *live = NULL;
	assert_int_equal(client_get(e->client, kind_lookup("apps/v1", "Deployment"), "default",
				    "web", &live, NULL),
			 0);
	assert_null(json_object_get(json_object_get(live, "status"), "replicas"));
	int64_t rev = 0;
	assert_int_equal(client_txn_commit(t, &rev, NULL), 0);
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", (long long)rev);
	assert_string_equal(rv_of(after_d), buf);
	assert_string_equal(rv_of(after_cm), buf);
	json_decref(live);
	live = NULL;
	assert_int_equal(client_get(e->client, kind_lookup("apps/v1", "Deployment"), "default",
				    "web", &live, NULL),
			 0);
	assert_true(json_equal(live, after_d));
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(live, "status"), "replicas")),
		2);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(live, "spec"), "replicas")), 2);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(live, "metadata"), "generation")),
			 1);
	json_t *stored_cm = NULL;
	assert_int_equal(client_get(e->client, kind_lookup("v1", "ConfigMap"), "default", "a",
				    &stored_cm, NULL),
			 0);
	assert_true(json_equal(stored_cm, after_cm));
	assert_non_null(json_object_get(json_object_get(stored_cm, "metadata"), "uid"));
	json_decref(stored_cm);
	json_decref(after_d);
	json_decref(after_cm);
}

/*
 * The single calls' checks hold in a transaction: a stale resourceVersion is refused when the
 * update is added, a create of an invalid object too, and an update that changes nothing holds
 * no write and hands out the current object.
 */
static void
test_refused_and_unchanged(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *d = make_deployment(e);
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	_cleanup_json_ json_t *stale = json_deep_copy(d);
	json_object_set_new(json_object_get(stale, "metadata"), "resourceVersion",
			    json_string("1"));
	korch_error *err = NULL;
	assert_int_equal(client_txn_update(t, stale, NULL, NULL, NULL, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "Operation cannot be fulfilled on deployments.apps \"web\": the object "
			    "has been modified; please apply your changes to the latest version "
			    "and try again");
	korch_error_free(steal_pointer(&err));
	_cleanup_json_ json_t *bad = test_yaml(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n"
		"data: [1]\n");
	assert_int_equal(client_txn_create(t, bad, NULL, NULL, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: data: "
			    "Invalid value: expected object, got array");
	korch_error_free(steal_pointer(&err));
	json_t *same = NULL;
	assert_int_equal(client_txn_update(t, d, NULL, NULL, &same, NULL), 0);
	assert_int_equal(client_txn_size(t), 0);
	assert_string_equal(rv_of(same), rv_of(d));
	json_decref(same);
	client_txn_free(t);
}

/* A write made between the plan and the commit fails the whole transaction: nothing lands. */
static void
test_update_raced(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *d = make_deployment(e);
	_cleanup_json_ json_t *upd = json_deep_copy(d);
	json_object_set_new(upd, "status", json_pack("{s:i}", "replicas", 1));
	json_object_del(json_object_get(upd, "metadata"), "resourceVersion");
	_cleanup_json_ json_t *cm = test_yaml(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n");
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	assert_int_equal(client_txn_create(t, cm, NULL, NULL, NULL), 0);
	assert_int_equal(client_txn_update(t, upd, "status", NULL, NULL, NULL), 0);
	_cleanup_json_ json_t *other = json_deep_copy(d);
	json_object_set_new(other, "status", json_pack("{s:i}", "replicas", 7));
	assert_int_equal(client_update(e->client, other, "status", NULL, NULL, NULL), 0);
	korch_error *err = NULL;
	assert_int_equal(client_txn_commit(t, NULL, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "transaction operation 2 of 2: Operation cannot be fulfilled on "
			    "deployments.apps \"web\": the object has been modified; please apply "
			    "your changes to the latest version and try again");
	korch_error_free(err);
	json_t *got = NULL;
	assert_int_equal(
		client_get(e->client, kind_lookup("v1", "ConfigMap"), "default", "a", &got, NULL),
		KORCH_ENOTFOUND);
	assert_int_equal(client_get(e->client, kind_lookup("apps/v1", "Deployment"), "default",
				    "web", &got, NULL),
			 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(got, "status"), "replicas")), 7);
	json_decref(got);
}

/* client_txn_find: the planned object of a key, nothing for others or for a delete. */
static void
test_find(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *d = make_deployment(e);
	_cleanup_json_ json_t *cm = test_yaml(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n");
	assert_int_equal(client_create(e->client, cm, NULL, NULL, NULL), 0);
	const struct kind_info *dk = kind_lookup("apps/v1", "Deployment");
	const struct kind_info *ck = kind_lookup("v1", "ConfigMap");
	_cleanup_json_ json_t *upd = json_deep_copy(d);
	json_object_set_new(json_object_get(upd, "spec"), "replicas", json_integer(3));
	struct client_txn *t = NULL;
	json_t *planned = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	assert_int_equal(client_txn_update(t, upd, NULL, NULL, &planned, NULL), 0);
	assert_int_equal(client_txn_delete(t, ck, "default", "a", NULL), 0);
	assert_ptr_equal(client_txn_find(t, dk, "default", "web"), planned);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(client_txn_find(t, dk, "default", "web"), "metadata"),
			"generation")),
		2);
	assert_null(client_txn_find(t, ck, "default", "a"));
	assert_null(client_txn_find(t, dk, "default", "other"));
	assert_null(client_txn_find(t, dk, "kube-system", "web"));
	json_decref(planned);
	client_txn_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_namespace_and_content, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_content_before_namespace, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_namespace_of_other_txn, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_namespace_raced, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_status_and_create, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_refused_and_unchanged, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_update_raced, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
