/* lib/client: the pods/binding operation and the Priority admission plugin of the write path. */
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

#define T0 ENV_T0

static int
setup(void **state)
{
	if (env_setup(state, "bind") < 0)
		return -1;
	struct env *e = *state;
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", "default");
	int r = client_create(e->client, ns, NULL, NULL, NULL);
	json_decref(ns);
	return r;
}

/* Creates obj; returns 0 or the error code with its message in msg. */
static int
create(struct env *e, const char *text, json_t **ret, char msg[512])
{
	_cleanup_json_ json_t *obj = test_yaml(text);
	korch_error *err = NULL;
	int r = client_create(e->client, obj, NULL, ret, &err);
	snprintf(msg, 512, "%s", err ? korch_error_message(err) : "");
	korch_error_free(err);
	return r;
}

static void
create_ok(struct env *e, const char *text, json_t **ret)
{
	char msg[512];
	if (create(e, text, ret, msg) < 0)
		fail_msg("create: %s", msg);
}

static json_t *
pod_named(const char *name, const char *extra)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\n"
		 "spec:\n  containers: [{name: c, image: busybox}]\n%s",
		 name, extra ? extra : "");
	return test_yaml(text);
}

static json_t *
get_pod(struct env *e, const char *name)
{
	json_t *pod = NULL;
	assert_int_equal(
		client_get(e->client, kind_lookup("v1", "Pod"), "default", name, &pod, NULL), 0);
	return pod;
}

static json_t *
pod_spec(const json_t *pod)
{
	return json_object_get(pod, "spec");
}

/*
 * A binding sets spec.nodeName and replaces PodScheduled=False (with its reason and message)
 * by True, recording no managedFields entry of its own.
 */
static void
test_bind_sets_node_and_condition(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *pod = pod_named("web", NULL);
	assert_int_equal(client_create(e->client, pod, NULL, NULL, NULL), 0);
	_cleanup_json_ json_t *unsched =
		test_yaml("status: {conditions: [{type: PodScheduled, status: \"False\", reason: "
			  "Unschedulable, message: nothing fits, lastTransitionTime: "
			  "\"2026-11-26T15:41:00Z\"}]}\n");
	assert_int_equal(client_patch(e->client, kind_lookup("v1", "Pod"), "default", "web",
				      CLIENT_PATCH_STRATEGIC, unsched, "status", NULL, NULL, NULL),
			 0);
	korch_clock_advance(e->clock, 5 * NSEC_PER_SEC);
	assert_int_equal(client_bind_pod(e->client, "default", "web", NULL, "n1", NULL), 0);
	_cleanup_json_ json_t *stored = get_pod(e, "web");
	assert_string_equal(json_string_value(json_object_get(pod_spec(stored), "nodeName")), "n1");
	json_t *conds = json_object_get(json_object_get(stored, "status"), "conditions");
	assert_int_equal(json_array_size(conds), 1);
	_cleanup_free_ char *text = json_dumps(json_array_get(conds, 0), JSON_COMPACT);
	assert_string_equal(text,
			    "{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastProbeTime\":"
			    "null,\"lastTransitionTime\":\"2026-11-26T15:41:05Z\"}");
	/* The create's and the status patch's entries; none for the binding. */
	json_t *mf = json_object_get(json_object_get(stored, "metadata"), "managedFields");
	assert_int_equal(json_array_size(mf), 2);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(mf, i), "operation")),
			"Update");
	assert_null(json_object_get(json_array_get(mf, 0), "subresource"));
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(mf, 1), "subresource")), "status");

	/* A second binding is a conflict naming the node it is on. */
	korch_error *err = NULL;
	assert_int_equal(client_bind_pod(e->client, "default", "web", NULL, "n2", &err),
			 KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "Operation cannot be fulfilled on pods/binding \"web\": pod web is "
			    "already assigned to node \"n1\"");
	korch_error_free(err);
}

static void
test_bind_errors(void **state)
{
	struct env *e = *state;
	korch_error *err = NULL;
	assert_int_equal(client_bind_pod(e->client, "default", "nope", NULL, "n1", &err),
			 KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "pods \"nope\" not found");
	korch_error_free(err);
	err = NULL;

	_cleanup_json_ json_t *pod = pod_named("web", NULL);
	_cleanup_json_ json_t *created = NULL;
	assert_int_equal(client_create(e->client, pod, NULL, &created, NULL), 0);
	assert_int_equal(client_bind_pod(e->client, "default", "web", "not-the-uid", "n1", &err),
			 KORCH_ECONFLICT);
	char want[256];
	snprintf(want, sizeof(want),
		 "Operation cannot be fulfilled on pods \"web\": Precondition failed: UID in "
		 "precondition: not-the-uid, UID in object meta: %s",
		 json_string_value(json_object_get(json_object_get(created, "metadata"), "uid")));
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	err = NULL;
	assert_int_equal(client_bind_pod(e->client, "default", "web", NULL, "", &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "Binding \"web\" is invalid: target.name: Required value");
	korch_error_free(err);
	err = NULL;

	/* A Binding object with another kind of target, or none, is invalid. */
	_cleanup_json_ json_t *binding = json_pack(
		"{s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Binding",
		"metadata", "name", "web", "target", "kind", "Pod", "name", "x");
	assert_int_equal(client_bind_object(e->client, "default", "web", binding, NULL, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "Binding \"web\" is invalid: target.kind: Unsupported value: \"Pod\": "
			    "supported values: \"Node\", \"<empty>\"");
	korch_error_free(err);
	err = NULL;
	json_object_del(json_object_get(binding, "target"), "kind");
	json_object_del(json_object_get(binding, "target"), "name");
	assert_int_equal(client_bind_object(e->client, "default", "web", binding, NULL, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "Binding \"web\" is invalid: target.name: Required value");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(client_bind_object(e->client, "default", "other", binding, NULL, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "name in URL does not match name in Binding object");
	korch_error_free(err);
	err = NULL;
	/* A stale resourceVersion precondition is a conflict, not retried. */
	json_object_set_new(json_object_get(binding, "target"), "name", json_string("n3"));
	json_object_set_new(json_object_get(binding, "metadata"), "resourceVersion",
			    json_string("1"));
	assert_int_equal(client_bind_object(e->client, "default", "web", binding, NULL, &err),
			 KORCH_ECONFLICT);
	snprintf(want, sizeof(want),
		 "Operation cannot be fulfilled on pods \"web\": Precondition failed: "
		 "ResourceVersion in precondition: 1, ResourceVersion in object meta: %s",
		 json_string_value(
			 json_object_get(json_object_get(created, "metadata"), "resourceVersion")));
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	err = NULL;
	json_object_del(json_object_get(binding, "metadata"), "resourceVersion");
	json_object_set_new(json_object_get(binding, "metadata"), "annotations",
			    json_pack("{s:s}", "k", "v"));
	_cleanup_json_ json_t *bound = NULL;
	assert_int_equal(client_bind_object(e->client, "default", "web", binding, &bound, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(pod_spec(bound), "nodeName")), "n3");
	_cleanup_json_ json_t *stored = get_pod(e, "web");
	assert_string_equal(json_string_value(json_object_get(pod_spec(stored), "nodeName")), "n3");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(stored, "metadata"), "annotations"), "k")),
		"v");

	/* A pod being deleted cannot be bound (a bound pod's delete is graceful). */
	_cleanup_json_ json_t *p2 = pod_named("p2", NULL);
	assert_int_equal(client_create(e->client, p2, NULL, NULL, NULL), 0);
	json_t *fin = json_pack("{s:{s:[s]}}", "metadata", "finalizers", "example.com/hold");
	assert_int_equal(client_patch(e->client, kind_lookup("v1", "Pod"), "default", "p2",
				      CLIENT_PATCH_MERGE, fin, NULL, NULL, NULL, NULL),
			 0);
	json_decref(fin);
	assert_int_equal(client_delete(e->client, kind_lookup("v1", "Pod"), "default", "p2", NULL,
				       NULL, NULL),
			 0);
	assert_int_equal(client_bind_pod(e->client, "default", "p2", NULL, "n1", &err),
			 KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "Operation cannot be fulfilled on pods/binding \"p2\": pod p2 is being "
			    "deleted, cannot be assigned to a host");
	korch_error_free(err);
}

/* A batch of bindings in one transaction; a stale `current` fails the commit as a conflict. */
static void
test_txn_bind_batch(void **state)
{
	struct env *e = *state;
	json_t *copies[3];
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		_cleanup_json_ json_t *pod = pod_named(name, NULL);
		assert_int_equal(client_create(e->client, pod, NULL, &copies[i], NULL), 0);
	}
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		struct client_binding b = {
			.ns = "default", .name = name, .node = "n1", .current = copies[i]
		};
		assert_int_equal(client_txn_bind(t, &b, NULL), 0);
	}
	_cleanup_json_ json_t *ev =
		test_yaml("apiVersion: v1\nkind: Event\n"
			  "metadata: {name: p0.1, namespace: default}\n"
			  "involvedObject: {kind: Pod, name: p0, namespace: default}\n"
			  "reason: Scheduled\nmessage: hi\ntype: Normal\n");
	assert_int_equal(client_txn_create(t, ev, NULL, NULL, NULL), 0);
	assert_int_equal(client_txn_size(t), 4);
	int64_t rev = 0;
	assert_int_equal(client_txn_commit(t, &rev, NULL), 0);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		_cleanup_json_ json_t *pod = get_pod(e, name);
		assert_string_equal(json_string_value(json_object_get(pod_spec(pod), "nodeName")),
				    "n1");
	}

	/* copies[] are now stale: a batch built on them cannot commit. */
	_cleanup_json_ json_t *p3 = pod_named("p3", NULL);
	_cleanup_json_ json_t *p3c = NULL;
	assert_int_equal(client_create(e->client, p3, NULL, &p3c, NULL), 0);
	json_t *lbl = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "x", "y");
	assert_int_equal(client_patch(e->client, kind_lookup("v1", "Pod"), "default", "p3",
				      CLIENT_PATCH_MERGE, lbl, NULL, NULL, NULL, NULL),
			 0);
	json_decref(lbl);
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	struct client_binding b = { .ns = "default", .name = "p3", .node = "n2", .current = p3c };
	assert_int_equal(client_txn_bind(t, &b, NULL), 0);
	korch_error *err = NULL;
	assert_int_equal(client_txn_commit(t, NULL, &err), KORCH_ECONFLICT);
	korch_error_free(err);
	for (int i = 0; i < 3; i++)
		json_decref(copies[i]);
}

/* Status patches go into a transaction like any write: all in one revision, or none. */
static void
test_txn_patch_status(void **state)
{
	struct env *e = *state;
	for (int i = 0; i < 2; i++) {
		char name[16];
		snprintf(name, sizeof(name), "q%d", i);
		_cleanup_json_ json_t *pod = pod_named(name, NULL);
		assert_int_equal(client_create(e->client, pod, NULL, NULL, NULL), 0);
	}
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	_cleanup_json_ json_t *patch =
		test_yaml("status: {conditions: [{type: PodScheduled, status: \"False\", reason: "
			  "Unschedulable, message: nothing fits}], nominatedNodeName: n1}\n");
	struct client_write_opts o = { .field_manager = "kube-scheduler" };
	for (int i = 0; i < 2; i++) {
		char name[16];
		snprintf(name, sizeof(name), "q%d", i);
		assert_int_equal(client_txn_patch(t, kind_lookup("v1", "Pod"), "default", name,
						  CLIENT_PATCH_STRATEGIC, patch, "status", &o,
						  NULL),
				 0);
	}
	korch_error *err = NULL;
	assert_int_equal(client_txn_patch(t, kind_lookup("v1", "Pod"), "default", "gone",
					  CLIENT_PATCH_STRATEGIC, patch, "status", &o, &err),
			 KORCH_ENOTFOUND);
	korch_error_free(err);
	assert_int_equal(client_txn_size(t), 2);
	int64_t rev = 0;
	assert_int_equal(client_txn_commit(t, &rev, NULL), 0);
	for (int i = 0; i < 2; i++) {
		char name[16];
		snprintf(name, sizeof(name), "q%d", i);
		_cleanup_json_ json_t *pod = get_pod(e, name);
		const json_t *st = json_object_get(pod, "status");
		assert_string_equal(json_string_value(json_object_get(st, "nominatedNodeName")),
				    "n1");
		const json_t *c = json_array_get(json_object_get(st, "conditions"), 0);
		assert_string_equal(json_string_value(json_object_get(c, "reason")),
				    "Unschedulable");
		char want[32];
		snprintf(want, sizeof(want), "%lld", (long long)rev);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(pod, "metadata"), "resourceVersion")),
				    want);
	}
}

/*
 * Creates in one transaction never take the same Service IP: of a /29's five free addresses,
 * three Services created together get three.
 */
static void
test_txn_create_services(void **state)
{
	struct env *e = *state;
	assert_int_equal(client_set_service_ranges(e->client, "10.96.0.0/29", 0, 0, NULL), 0);
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	for (int i = 0; i < 3; i++) {
		char text[256];
		snprintf(
			text, sizeof(text),
			"apiVersion: v1\nkind: Service\nmetadata: {name: s%d, namespace: default}\n"
			"spec: {ports: [{port: 80}]}\n",
			i);
		_cleanup_json_ json_t *svc = test_yaml(text);
		assert_int_equal(client_txn_create(t, svc, NULL, NULL, NULL), 0);
	}
	assert_int_equal(client_txn_commit(t, NULL, NULL), 0);
	char ips[3][32];
	for (int i = 0; i < 3; i++) {
		char name[8];
		snprintf(name, sizeof(name), "s%d", i);
		_cleanup_json_ json_t *svc = NULL;
		assert_int_equal(client_get(e->client, kind_lookup("v1", "Service"), "default",
					    name, &svc, NULL),
				 0);
		snprintf(ips[i], sizeof(ips[i]), "%s",
			 json_string_value(
				 json_object_get(json_object_get(svc, "spec"), "clusterIP")));
		assert_true(strncmp(ips[i], "10.96.0.", 8) == 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ips[i], ips[j]);
	}
}

static void
test_priority_admission(void **state)
{
	struct env *e = *state;
	char msg[512];
	/* No class: priority 0, PreemptLowerPriority, no class name. */
	_cleanup_json_ json_t *a = NULL;
	create_ok(e,
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: default}\n"
		  "spec:\n  containers: [{name: c, image: busybox}]\n",
		  &a);
	assert_int_equal(json_integer_value(json_object_get(pod_spec(a), "priority")), 0);
	assert_string_equal(json_string_value(json_object_get(pod_spec(a), "preemptionPolicy")),
			    "PreemptLowerPriority");
	assert_null(json_object_get(pod_spec(a), "priorityClassName"));

	create_ok(e,
		  "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\n"
		  "value: 1000\npreemptionPolicy: Never\n",
		  NULL);
	create_ok(e,
		  "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: dflt}\n"
		  "value: 7\nglobalDefault: true\n",
		  NULL);
	assert_int_equal(create(e,
				"apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\n"
				"metadata: {name: dflt2}\nvalue: 8\nglobalDefault: true\n",
				NULL, msg),
			 KORCH_EFORBIDDEN);
	assert_string_equal(msg,
			    "priorityclasses.scheduling.k8s.io \"dflt2\" is forbidden: "
			    "PriorityClass dflt is already marked as default. Only one default "
			    "can exist");

	_cleanup_json_ json_t *b = NULL;
	create_ok(e,
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: default}\n"
		  "spec:\n  priorityClassName: high\n  containers: [{name: c, image: busybox}]\n",
		  &b);
	assert_int_equal(json_integer_value(json_object_get(pod_spec(b), "priority")), 1000);
	assert_string_equal(json_string_value(json_object_get(pod_spec(b), "preemptionPolicy")),
			    "Never");
	_cleanup_json_ json_t *c = NULL;
	create_ok(e,
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: c, namespace: default}\n"
		  "spec:\n  containers: [{name: c, image: busybox}]\n",
		  &c);
	assert_int_equal(json_integer_value(json_object_get(pod_spec(c), "priority")), 7);
	assert_string_equal(json_string_value(json_object_get(pod_spec(c), "priorityClassName")),
			    "dflt");
	_cleanup_json_ json_t *d = NULL;
	create_ok(e,
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: d, namespace: default}\n"
		  "spec:\n  priorityClassName: system-node-critical\n"
		  "  containers: [{name: c, image: busybox}]\n",
		  &d);
	assert_int_equal(json_integer_value(json_object_get(pod_spec(d), "priority")), 2000001000);

	assert_int_equal(create(e,
				"apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: "
				"default}\nspec:\n  priorityClassName: nope\n"
				"  containers: [{name: c, image: busybox}]\n",
				NULL, msg),
			 KORCH_EFORBIDDEN);
	assert_string_equal(msg, "pods \"x\" is forbidden: no PriorityClass with name nope was "
				 "found");
	assert_int_equal(create(e,
				"apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: "
				"default}\nspec:\n  priorityClassName: high\n  priority: 5\n"
				"  containers: [{name: c, image: busybox}]\n",
				NULL, msg),
			 KORCH_EFORBIDDEN);
	assert_string_equal(msg, "pods \"x\" is forbidden: the integer value of priority (5) "
				 "must not be provided in pod spec; priority admission controller "
				 "computed 1000 from the given PriorityClass name");
	assert_int_equal(create(e,
				"apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: "
				"default}\nspec:\n  priorityClassName: high\n"
				"  preemptionPolicy: PreemptLowerPriority\n"
				"  containers: [{name: c, image: busybox}]\n",
				NULL, msg),
			 KORCH_EFORBIDDEN);
	assert_string_equal(msg,
			    "pods \"x\" is forbidden: the string value of PreemptionPolicy "
			    "(PreemptLowerPriority) must not be provided in pod spec; priority "
			    "admission controller computed Never from the given PriorityClass "
			    "name");

	/* An update that leaves priority out keeps it. */
	json_t *upd = json_deep_copy(b);
	json_object_del(pod_spec(upd), "priority");
	json_object_del(pod_spec(upd), "preemptionPolicy");
	json_object_set_new(json_object_get(upd, "metadata"), "labels",
			    json_pack("{s:s}", "l", "1"));
	_cleanup_json_ json_t *after = NULL;
	assert_int_equal(client_update(e->client, upd, NULL, NULL, &after, NULL), 0);
	json_decref(upd);
	assert_int_equal(json_integer_value(json_object_get(pod_spec(after), "priority")), 1000);
	assert_string_equal(json_string_value(json_object_get(pod_spec(after), "preemptionPolicy")),
			    "Never");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bind_sets_node_and_condition, setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_bind_errors, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_txn_bind_batch, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_txn_patch_status, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_txn_create_services, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_priority_admission, setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
