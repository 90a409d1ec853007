/* lib/client: the /scale and pods/binding subresources; DefaultTolerationSeconds admission. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/loop.h"
#include "client/client.h"
#include "test-util.h"

/* 2026-11-26T15:41:00Z */
#define T0 (1795707660LL * NSEC_PER_SEC)

struct env {
	char dir[64];
	char path[128];
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
};

static void
open_store(struct env *e)
{
	struct store_options so = { .loop = e->loop, .sync_normal = true, .poll_interval_ms = -1 };
	assert_int_equal(store_open(e->path, &so, &e->store, NULL), 0);
	assert_int_equal(client_new_local(e->store, e->clock, &e->client, NULL), 0);
}

static void
close_store(struct env *e)
{
	client_free(e->client);
	store_close(e->store);
	e->client = NULL;
	e->store = NULL;
}

static void
create_ok(struct env *e, const char *text, json_t **ret)
{
	_cleanup_json_ json_t *obj = test_yaml(text);
	korch_error *err = NULL;
	struct client_write_opts o = { .field_manager = "test" };
	if (client_create(e->client, obj, &o, ret, &err) < 0)
		fail_msg("create: %s", korch_error_message(err));
}

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/korch-test-subres-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->path, sizeof(e->path), "%s/state.db", e->dir);
	if (korch_clock_new_test(T0, &e->clock, NULL) < 0 ||
	    korch_loop_new(e->clock, &e->loop, NULL) < 0)
		return -1;
	open_store(e);
	static const char *const names[] = { "default", "kube-system" };
	for (size_t i = 0; i < 2; i++) {
		char text[128];
		snprintf(text, sizeof(text),
			 "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", names[i]);
		create_ok(e, text, NULL);
	}
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	close_store(e);
	korch_loop_free(e->loop);
	korch_clock_free(e->clock);
	rm_rf(e->dir, NULL);
	free(e);
	return 0;
}

static const char deployment[] = "apiVersion: apps/v1\nkind: Deployment\n"
				 "metadata: {name: web, namespace: default}\n"
				 "spec:\n  replicas: 2\n"
				 "  selector: {matchLabels: {app: web}, matchExpressions: "
				 "[{key: tier, operator: In, values: [a, b]}]}\n"
				 "  template:\n    metadata: {labels: {app: web, tier: a}}\n"
				 "    spec: {containers: [{name: c, image: busybox}]}\n";

static void
test_scale(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *d = NULL;
	create_ok(e, deployment, &d);
	const struct kind_info *k = kind_lookup("apps/v1", "Deployment");
	_cleanup_json_ json_t *scale = NULL;
	assert_int_equal(client_get_scale(e->client, k, "default", "web", &scale, NULL), 0);
	_cleanup_free_ char *text = json_dumps(scale, JSON_COMPACT);
	char want[1024];
	snprintf(want, sizeof(want),
		 "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
		 "\"web\",\"namespace\":\"default\",\"uid\":\"%s\",\"resourceVersion\":\"%s\","
		 "\"creationTimestamp\":\"2026-11-26T15:41:00Z\"},\"spec\":{\"replicas\":2},"
		 "\"status\":{\"replicas\":0,\"selector\":\"app=web,tier in (a,b)\"}}",
		 json_string_value(json_object_get(json_object_get(d, "metadata"), "uid")),
		 json_string_value(
			 json_object_get(json_object_get(d, "metadata"), "resourceVersion")));
	assert_string_equal(text, want);
	/* Writing the Scale changes spec.replicas (and the generation) only. */
	json_object_set_new(json_object_get(scale, "spec"), "replicas", json_integer(5));
	_cleanup_json_ json_t *after = NULL;
	assert_int_equal(client_update_scale(e->client, k, scale, NULL, &after, NULL), 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(after, "spec"), "replicas")), 5);
	_cleanup_json_ json_t *obj = NULL;
	assert_int_equal(client_get(e->client, k, "default", "web", &obj, NULL), 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(obj, "spec"), "replicas")), 5);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation")),
		2);
	/* The same Scale again is stale now. */
	korch_error *err = NULL;
	assert_int_equal(client_update_scale(e->client, k, scale, NULL, NULL, &err),
			 KORCH_ECONFLICT);
	assert_string_equal(
		korch_error_message(err),
		"Operation cannot be fulfilled on deployments.apps \"web\": the object "
		"has been modified; please apply your changes to the latest version and "
		"try again");
	korch_error_free(err);
	err = NULL;
	json_object_del(json_object_get(scale, "metadata"), "resourceVersion");
	json_object_set_new(json_object_get(scale, "spec"), "replicas", json_integer(-1));
	assert_int_equal(client_update_scale(e->client, k, scale, NULL, NULL, &err),
			 KORCH_EINVALID);
	assert_string_equal(
		korch_error_message(err),
		"Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: "
		"must be greater than or equal to 0");
	assert_int_equal(korch_error_cause_count(err), 1);
	korch_error_free(err);
	err = NULL;
	/* A ReplicationController's selector is a plain map. */
	create_ok(
		e,
		"apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc, namespace: default}\n"
		"spec:\n  replicas: 1\n  selector: {app: rc, b: c}\n  template:\n"
		"    metadata: {labels: {app: rc, b: c}}\n"
		"    spec: {containers: [{name: c, image: busybox}]}\n",
		NULL);
	const struct kind_info *rck = kind_lookup("v1", "ReplicationController");
	_cleanup_json_ json_t *rcs = NULL;
	assert_int_equal(client_get_scale(e->client, rck, "default", "rc", &rcs, NULL), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(rcs, "status"), "selector")),
		"app=rc,b=c");
	json_t *none = NULL;
	assert_int_equal(client_get_scale(e->client, kind_lookup("v1", "ConfigMap"), "default", "x",
					  &none, &err),
			 KORCH_ENOTFOUND);
	korch_error_free(err);
}

static void
test_bind(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *pod = NULL;
	create_ok(e,
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
		  "spec: {containers: [{name: c, image: busybox}]}\n",
		  &pod);
	korch_error *err = NULL;
	assert_int_equal(client_bind_pod(e->client, "default", "p", "not-the-uid", "n1", &err),
			 KORCH_ECONFLICT);
	korch_error_free(err);
	err = NULL;
	const char *uid =
		json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
	assert_int_equal(client_bind_pod(e->client, "default", "p", uid, "n1", NULL), 0);
	_cleanup_json_ json_t *bound = NULL;
	assert_int_equal(
		client_get(e->client, kind_lookup("v1", "Pod"), "default", "p", &bound, NULL), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(bound, "spec"), "nodeName")),
		"n1");
	json_t *cond =
		json_array_get(json_object_get(json_object_get(bound, "status"), "conditions"), 0);
	assert_string_equal(json_string_value(json_object_get(cond, "type")), "PodScheduled");
	assert_string_equal(json_string_value(json_object_get(cond, "status")), "True");
	assert_string_equal(json_string_value(json_object_get(cond, "lastTransitionTime")),
			    "2026-11-26T15:41:00Z");
	assert_int_equal(client_bind_pod(e->client, "default", "p", NULL, "n2", &err),
			 KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "Operation cannot be fulfilled on pods/binding \"p\": pod p is already "
			    "assigned to node \"n1\"");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(client_bind_pod(e->client, "default", "nope", NULL, "n2", &err),
			 KORCH_ENOTFOUND);
	korch_error_free(err);
}

/* DefaultTolerationSeconds: the two NoExecute tolerations, unless the pod has its own. */
static void
test_default_tolerations(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *pod = NULL;
	create_ok(e,
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
		  "spec: {containers: [{name: c, image: busybox}]}\n",
		  &pod);
	_cleanup_free_ char *text = json_dumps(
		json_object_get(json_object_get(pod, "spec"), "tolerations"), JSON_COMPACT);
	assert_string_equal(text,
			    "[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":"
			    "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300},"
			    "{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":"
			    "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]");
	/* Its own unreachable toleration stays alone; not-ready is added. */
	_cleanup_json_ json_t *own = NULL;
	create_ok(e,
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: default}\n"
		  "spec:\n  containers: [{name: c, image: busybox}]\n"
		  "  tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, "
		  "effect: NoExecute, tolerationSeconds: 6}]\n",
		  &own);
	_cleanup_free_ char *text2 = json_dumps(
		json_object_get(json_object_get(own, "spec"), "tolerations"), JSON_COMPACT);
	assert_string_equal(text2,
			    "[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":"
			    "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":6},"
			    "{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":"
			    "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]");
	/* Tolerating everything tolerates both. */
	_cleanup_json_ json_t *all = NULL;
	create_ok(e,
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: r, namespace: default}\n"
		  "spec:\n  containers: [{name: c, image: busybox}]\n"
		  "  tolerations: [{operator: Exists}]\n",
		  &all);
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(all, "spec"), "tolerations")), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_tolerations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
