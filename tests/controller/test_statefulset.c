/*
 * The StatefulSet controller: pods created in ordinal order, each once the one before is
 * Running and Ready; stable names, hostnames and claims across deletion; scale-down from the
 * highest ordinal; rolling update with partition and ControllerRevisions; Parallel; OnDelete.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "controller/manager.h"
#include "harness.h"

static void
start(struct cluster *c)
{
	/* Claims are provisioned as local-path directories, which the agent mounts. */
	static const struct controller_manager_options o = { .no_leader_election = true,
							     .volume_dir = CLUSTER_VOLUMES };
	cluster_init(c, &o, false);
	c->schedule = true;
	add_node(c, "node-1");
	cluster_start(c);
}

static void
sts(struct cluster *c, const char *name, int replicas, const char *extra, const char *image)
{
	char text[4096];
	snprintf(
		text, sizeof(text),
		"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: %s, namespace: default}\n"
		"spec:\n  replicas: %d\n  serviceName: %s\n%s"
		"  selector: {matchLabels: {app: %s}}\n"
		"  template:\n    metadata: {labels: {app: %s}}\n"
		"    spec: {containers: [{name: c, image: '%s', volumeMounts: [{name: www, "
		"mountPath: /data}], readinessProbe: {exec: {command: ['true']}, "
		"initialDelaySeconds: 2, periodSeconds: 1}}]}\n"
		"  volumeClaimTemplates:\n  - metadata: {name: www}\n"
		"    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
		name, replicas, name, extra, name, name, image);
	create_yaml(c, text, NULL);
}

static json_t *
pod(struct cluster *c, const char *name)
{
	return get_obj(c, "v1", "Pod", "default", name);
}

/* The creation order of the set's pods and whether each came after its predecessor was ready. */
struct order {
	char seen[8][32];
	int n;
	bool out_of_order;
};

static void
watch_order(struct cluster *c, void *userdata)
{
	struct order *o = userdata;
	for (int k = 0; k < 5; k++) {
		char name[32];
		snprintf(name, sizeof(name), "web-%d", k);
		_cleanup_json_ json_t *p = pod(c, name);
		if (!p)
			continue;
		bool known = false;
		for (int i = 0; i < o->n; i++)
			known |= streq(o->seen[i], name);
		if (known)
			continue;
		/* A new pod: every lower ordinal must exist and be ready. */
		for (int j = 0; j < k; j++) {
			char prev[32];
			snprintf(prev, sizeof(prev), "web-%d", j);
			_cleanup_json_ json_t *pp = pod(c, prev);
			if (!pp || !pod_ready(pp))
				o->out_of_order = true;
		}
		if (o->n < 8)
			snprintf(o->seen[o->n++], sizeof(o->seen[0]), "%s", name);
	}
}

static bool
set_ready(struct cluster *c, void *userdata)
{
	_cleanup_json_ json_t *s = get_obj(c, "apps/v1", "StatefulSet", "default", userdata);
	return s && jp_int(s, "status.readyReplicas", 0) == jp_int(s, "spec.replicas", -1) &&
	       jp_int(s, "status.replicas", -1) == jp_int(s, "spec.replicas", -1) &&
	       streq(jp_str(s, "status.currentRevision"), jp_str(s, "status.updateRevision"));
}

static void
test_ordered_ready_and_stable_identity(void **state)
{
	struct cluster c;
	start(&c);
	struct order o = { .n = 0 };
	c.on_step = watch_order;
	c.on_step_userdata = &o;
	sts(&c, "web", 3, "", "nginx:1.26");
	settle(&c);
	/* Only web-0 until it is ready. */
	_cleanup_json_ json_t *p0 = pod(&c, "web-0");
	assert_non_null(p0);
	_cleanup_json_ json_t *p1 = pod(&c, "web-1");
	assert_null(p1);
	assert_true(run_until(&c, set_ready, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	c.on_step = NULL;
	assert_int_equal(o.n, 3);
	assert_string_equal(o.seen[0], "web-0");
	assert_string_equal(o.seen[1], "web-1");
	assert_string_equal(o.seen[2], "web-2");
	assert_false(o.out_of_order);
	/* Identity: hostname, subdomain, labels; the claim TEMPLATE-SET-ORDINAL. */
	_cleanup_json_ json_t *p2 = pod(&c, "web-2");
	assert_string_equal(jp_str(p2, "spec.hostname"), "web-2");
	assert_string_equal(jp_str(p2, "spec.subdomain"), "web");
	const json_t *labels = jp_get(p2, "metadata.labels");
	assert_string_equal(
		json_string_value(json_object_get(labels, "statefulset.kubernetes.io/pod-name")),
		"web-2");
	assert_string_equal(
		json_string_value(json_object_get(labels, "apps.kubernetes.io/pod-index")), "2");
	const json_t *vol = json_array_get(jp_get(p2, "spec.volumes"), 0);
	assert_string_equal(jp_str(vol, "name"), "www");
	assert_string_equal(jp_str(vol, "persistentVolumeClaim.claimName"), "www-web-2");
	_cleanup_json_ json_t *claim1 =
		get_obj(&c, "v1", "PersistentVolumeClaim", "default", "www-web-1");
	assert_non_null(claim1);
	assert_string_equal(jp_str(claim1, "metadata.labels.app"), "web");
	_cleanup_free_ char *msg = event_message(&c, "default", "web", "SuccessfulCreate");
	assert_non_null(msg);
	/* Deleting web-1 brings back web-1, with the same claim. */
	_cleanup_json_ json_t *old1 = pod(&c, "web-1");
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Pod"), "default", "web-1", NULL,
				       NULL, NULL),
			 0);
	assert_true(run_until(&c, set_ready, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	_cleanup_json_ json_t *new1 = pod(&c, "web-1");
	assert_non_null(new1);
	assert_string_not_equal(jp_str(new1, "metadata.uid"), jp_str(old1, "metadata.uid"));
	_cleanup_json_ json_t *claim1b =
		get_obj(&c, "v1", "PersistentVolumeClaim", "default", "www-web-1");
	assert_string_equal(jp_str(claim1b, "metadata.uid"), jp_str(claim1, "metadata.uid"));
	/* Scale down to 1: web-2 goes, then web-1; the claims stay. */
	_cleanup_json_ json_t *down = json_pack("{s:{s:i}}", "spec", "replicas", 1);
	assert_int_equal(client_patch(c.client, kind_lookup("apps/v1", "StatefulSet"), "default",
				      "web", CLIENT_PATCH_MERGE, down, NULL, NULL, NULL, NULL),
			 0);
	assert_true(run_until(&c, set_ready, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	_cleanup_json_ json_t *gone1 = pod(&c, "web-1");
	assert_null(gone1);
	_cleanup_json_ json_t *left0 = pod(&c, "web-0");
	assert_non_null(left0);
	assert_int_equal(count_objs(&c, "v1", "PersistentVolumeClaim", "default", NULL), 3);
	/* The controller deleted two (web-2, then web-1); the test deleted web-1 earlier. */
	assert_int_equal(count_events(&c, "default", "web", "SuccessfulDelete"), 2);
	cluster_free(&c);
}

static void
test_rolling_update_with_partition(void **state)
{
	struct cluster c;
	start(&c);
	sts(&c, "web", 3,
	    "  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}\n",
	    "nginx:1.26");
	assert_true(run_until(&c, set_ready, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	_cleanup_json_ json_t *before = get_obj(&c, "apps/v1", "StatefulSet", "default", "web");
	const char *rev1 = jp_str(before, "status.currentRevision");
	assert_non_null(rev1);
	_cleanup_json_ json_t *p = json_loads(
		"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
		"\"nginx:1.27\"}]}}}}",
		0, NULL);
	assert_int_equal(client_patch(c.client, kind_lookup("apps/v1", "StatefulSet"), "default",
				      "web", CLIENT_PATCH_STRATEGIC, p, NULL, NULL, NULL, NULL),
			 0);
	/* web-2 then web-1 are updated; web-0, below the partition, is not. */
	for (int i = 0; i < 60; i++)
		advance(&c, NSEC_PER_SEC);
	_cleanup_json_ json_t *s = get_obj(&c, "apps/v1", "StatefulSet", "default", "web");
	char rev2[64];
	snprintf(rev2, sizeof(rev2), "%s", jp_str0(s, "status.updateRevision"));
	assert_string_not_equal(rev1, rev2);
	assert_string_equal(jp_str(s, "status.currentRevision"), rev1);
	assert_int_equal(jp_int(s, "status.updatedReplicas", 0), 2);
	assert_int_equal(jp_int(s, "status.currentReplicas", 0), 1);
	for (int k = 0; k < 3; k++) {
		char name[32];
		snprintf(name, sizeof(name), "web-%d", k);
		_cleanup_json_ json_t *pd = pod(&c, name);
		assert_non_null(pd);
		assert_string_equal(json_string_value(json_object_get(jp_get(pd, "metadata.labels"),
								      "controller-revision-hash")),
				    k == 0 ? rev1 : rev2);
		assert_string_equal(
			jp_str(json_array_get(jp_get(pd, "spec.containers"), 0), "image"),
			k == 0 ? "nginx:1.26" : "nginx:1.27");
	}
	assert_int_equal(count_objs(&c, "apps/v1", "ControllerRevision", "default", NULL), 2);
	/* Partition 0 finishes it; the update becomes current. */
	_cleanup_json_ json_t *p0 = json_pack("{s:{s:{s:{s:i}}}}", "spec", "updateStrategy",
					      "rollingUpdate", "partition", 0);
	assert_int_equal(client_patch(c.client, kind_lookup("apps/v1", "StatefulSet"), "default",
				      "web", CLIENT_PATCH_MERGE, p0, NULL, NULL, NULL, NULL),
			 0);
	assert_true(run_until(&c, set_ready, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	json_decref(s);
	s = get_obj(&c, "apps/v1", "StatefulSet", "default", "web");
	assert_string_equal(jp_str(s, "status.currentRevision"), rev2);
	assert_int_equal(jp_int(s, "status.currentReplicas", 0), 3);
	cluster_free(&c);
}

static void
test_parallel_and_on_delete(void **state)
{
	struct cluster c;
	start(&c);
	sts(&c, "web", 3, "  podManagementPolicy: Parallel\n  updateStrategy: {type: OnDelete}\n",
	    "nginx:1.26");
	settle(&c);
	/* Parallel: all three at once, before any is ready. */
	for (int k = 0; k < 3; k++) {
		char name[32];
		snprintf(name, sizeof(name), "web-%d", k);
		_cleanup_json_ json_t *pd = pod(&c, name);
		assert_non_null(pd);
		assert_false(pod_ready(pd));
	}
	assert_true(run_until(&c, set_ready, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	_cleanup_json_ json_t *p = json_loads(
		"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
		"\"nginx:1.27\"}]}}}}",
		0, NULL);
	assert_int_equal(client_patch(c.client, kind_lookup("apps/v1", "StatefulSet"), "default",
				      "web", CLIENT_PATCH_STRATEGIC, p, NULL, NULL, NULL, NULL),
			 0);
	for (int i = 0; i < 20; i++)
		advance(&c, NSEC_PER_SEC);
	/* OnDelete: nothing replaced until a pod is deleted. */
	_cleanup_json_ json_t *p1 = pod(&c, "web-1");
	assert_string_equal(jp_str(json_array_get(jp_get(p1, "spec.containers"), 0), "image"),
			    "nginx:1.26");
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Pod"), "default", "web-1", NULL,
				       NULL, NULL),
			 0);
	for (int i = 0; i < 10; i++)
		advance(&c, NSEC_PER_SEC);
	_cleanup_json_ json_t *n1 = pod(&c, "web-1");
	assert_string_equal(jp_str(json_array_get(jp_get(n1, "spec.containers"), 0), "image"),
			    "nginx:1.27");
	_cleanup_json_ json_t *n2 = pod(&c, "web-2");
	assert_string_equal(jp_str(json_array_get(jp_get(n2, "spec.containers"), 0), "image"),
			    "nginx:1.26");
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ordered_ready_and_stable_identity),
		cmocka_unit_test(test_rolling_update_with_partition),
		cmocka_unit_test(test_parallel_and_on_delete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
