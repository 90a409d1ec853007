/*
 * The DaemonSet controller: one pod per eligible node (nodeSelector, node affinity, taints and
 * tolerations as Kubernetes decides them), pods pinned to their node, nodes coming and going,
 * NoExecute taints, and a rolling update that never has more than maxUnavailable nodes without
 * an available pod.
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
start(struct cluster *c, int nodes)
{
	static const struct controller_manager_options o = { .no_leader_election = true };
	cluster_init(c, &o, false);
	c->schedule = true;
	for (int i = 1; i <= nodes; i++) {
		char name[32];
		snprintf(name, sizeof(name), "node-%d", i);
		add_node(c, name);
	}
	cluster_start(c);
}

/* A readiness probe that passes 2 s after the container starts. */
#define READY_AFTER_2S \
	", readinessProbe: {exec: {command: ['true']}, initialDelaySeconds: 2, periodSeconds: 1}"

/* ctr_extra: more fields of the container ("" or READY_AFTER_2S). */
static void
daemonset(struct cluster *c, const char *ctr_extra, const char *extra_pod_spec,
	  const char *extra_spec)
{
	char text[2048];
	snprintf(
		text, sizeof(text),
		"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: default}\n"
		"spec:\n%s  selector: {matchLabels: {app: agent}}\n"
		"  template:\n    metadata: {labels: {app: agent}}\n"
		"    spec:\n%s      containers: [{name: c, image: 'agent:1'%s}]\n",
		extra_spec, extra_pod_spec, ctr_extra);
	create_yaml(c, text, NULL);
}

/* node name -> number of live daemon pods there. */
static int
pods_on(struct cluster *c, const char *node)
{
	_cleanup_json_ json_t *pods = list_objs(c, "v1", "Pod", "default", "app=agent");
	int n = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod)
		if (streq(jp_str(pod, "spec.nodeName"), node) &&
		    !jp_get(pod, "metadata.deletionTimestamp"))
			n++;
	return n;
}

static void
label_node(struct cluster *c, const char *node, const char *key, const char *value)
{
	json_t *p = json_pack("{s:{s:{s:s?}}}", "metadata", "labels", key, value);
	if (!value)
		json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"), key,
				    json_null());
	assert_int_equal(client_patch(c->client, kind_lookup("v1", "Node"), NULL, node,
				      CLIENT_PATCH_MERGE, p, NULL, NULL, NULL, NULL),
			 0);
	json_decref(p);
}

static void
taint_node(struct cluster *c, const char *node, const char *taints_json)
{
	char text[512];
	snprintf(text, sizeof(text), "{\"spec\":{\"taints\":%s}}", taints_json);
	json_t *p = json_loads(text, 0, NULL);
	assert_non_null(p);
	assert_int_equal(client_patch(c->client, kind_lookup("v1", "Node"), NULL, node,
				      CLIENT_PATCH_MERGE, p, NULL, NULL, NULL, NULL),
			 0);
	json_decref(p);
}

static void
test_one_per_node(void **state)
{
	struct cluster c;
	start(&c, 3);
	daemonset(&c, "", "", "");
	settle(&c);
	for (int i = 1; i <= 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "node-%d", i);
		assert_int_equal(pods_on(&c, name), 1);
	}
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", "app=agent");
	json_t *pod = json_array_get(pods, 0);
	/* Pinned by a required node affinity on metadata.name; daemon tolerations added. */
	const json_t *term = json_array_get(
		jp_get(pod,
		       "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		       "nodeSelectorTerms"),
		0);
	const json_t *field = json_array_get(json_object_get(term, "matchFields"), 0);
	assert_string_equal(jp_str(field, "key"), "metadata.name");
	assert_string_equal(json_string_value(json_array_get(json_object_get(field, "values"), 0)),
			    jp_str(pod, "spec.nodeName"));
	size_t i;
	json_t *t;
	bool unreachable = false;
	json_array_foreach (jp_get(pod, "spec.tolerations"), i, t)
		unreachable |= streq(jp_str(t, "key"), "node.kubernetes.io/unreachable") &&
			       streq(jp_str(t, "effect"), "NoExecute") &&
			       !jp_get(t, "tolerationSeconds");
	assert_true(unreachable);
	assert_non_null(jp_str(pod, "metadata.labels.controller-revision-hash"));
	_cleanup_json_ json_t *ds = get_obj(&c, "apps/v1", "DaemonSet", "default", "agent");
	assert_int_equal(jp_int(ds, "status.desiredNumberScheduled", -1), 3);
	assert_int_equal(jp_int(ds, "status.currentNumberScheduled", -1), 3);
	assert_int_equal(jp_int(ds, "status.numberReady", -1), 3);
	assert_int_equal(jp_int(ds, "status.numberAvailable", -1), 3);
	assert_int_equal(jp_int(ds, "status.updatedNumberScheduled", -1), 3);
	assert_int_equal(jp_int(ds, "status.numberMisscheduled", -1), 0);
	assert_null(jp_get(ds, "status.numberUnavailable"));
	/* A new node gets one. */
	add_node(&c, "node-4");
	settle(&c);
	assert_int_equal(pods_on(&c, "node-4"), 1);
	/* A node lost keeps its daemon pod (they tolerate unreachable for ever)... */
	silence_node(&c, "node-4");
	advance(&c, 400 * NSEC_PER_SEC);
	assert_int_equal(pods_on(&c, "node-4"), 1);
	/* ...until it is deleted: the pod GC removes the pod 40 s later. */
	delete_node(&c, "node-4");
	advance(&c, 60 * NSEC_PER_SEC);
	_cleanup_json_ json_t *left = list_objs(&c, "v1", "Pod", "default", "app=agent");
	assert_int_equal(json_array_size(left), 3);
	cluster_free(&c);
}

static void
test_selector_affinity_and_taints(void **state)
{
	struct cluster c;
	start(&c, 3);
	label_node(&c, "node-1", "disktype", "ssd");
	label_node(&c, "node-2", "disktype", "ssd");
	/* node-2 is dedicated to something else. */
	taint_node(&c, "node-2",
		   "[{\"key\":\"dedicated\",\"value\":\"db\",\"effect\":\"NoSchedule\"}]");
	daemonset(&c, "", "      nodeSelector: {disktype: ssd}\n", "");
	settle(&c);
	assert_int_equal(pods_on(&c, "node-1"), 1);
	assert_int_equal(pods_on(&c, "node-2"), 0);
	assert_int_equal(pods_on(&c, "node-3"), 0);
	/* node-3 joins the selector; node-1 leaves it. */
	label_node(&c, "node-3", "disktype", "ssd");
	label_node(&c, "node-1", "disktype", NULL);
	settle(&c);
	assert_int_equal(pods_on(&c, "node-1"), 0);
	assert_int_equal(pods_on(&c, "node-3"), 1);
	/* A NoExecute taint the pod does not tolerate on node-3 removes it. */
	taint_node(&c, "node-3", "[{\"key\":\"maintenance\",\"effect\":\"NoExecute\"}]");
	settle(&c);
	assert_int_equal(pods_on(&c, "node-3"), 0);
	_cleanup_json_ json_t *ds = get_obj(&c, "apps/v1", "DaemonSet", "default", "agent");
	assert_int_equal(jp_int(ds, "status.desiredNumberScheduled", -1), 0);
	/* Tolerating both taints brings pods to node-2 and node-3. */
	_cleanup_json_ json_t *tol = json_loads(
		"{\"spec\":{\"template\":{\"spec\":{\"tolerations\":[{\"key\":\"dedicated\","
		"\"operator\":\"Equal\",\"value\":\"db\"},{\"key\":\"maintenance\",\"operator\":"
		"\"Exists\",\"effect\":\"NoExecute\"}]}}}}",
		0, NULL);
	assert_int_equal(client_patch(c.client, kind_lookup("apps/v1", "DaemonSet"), "default",
				      "agent", CLIENT_PATCH_MERGE, tol, NULL, NULL, NULL, NULL),
			 0);
	settle(&c);
	assert_int_equal(pods_on(&c, "node-2"), 1);
	assert_int_equal(pods_on(&c, "node-3"), 1);
	json_decref(ds);
	ds = get_obj(&c, "apps/v1", "DaemonSet", "default", "agent");
	assert_int_equal(jp_int(ds, "status.desiredNumberScheduled", -1), 2);
	cluster_free(&c);
}

struct unavail {
	int max_seen;
};

static void
check_unavailable(struct cluster *c, void *userdata)
{
	struct unavail *u = userdata;
	int missing = 0;
	for (int i = 1; i <= 4; i++) {
		char name[32];
		snprintf(name, sizeof(name), "node-%d", i);
		_cleanup_json_ json_t *pods = list_objs(c, "v1", "Pod", "default", "app=agent");
		bool ok = false;
		size_t j;
		json_t *pod;
		json_array_foreach (pods, j, pod)
			if (streq(jp_str(pod, "spec.nodeName"), name) && pod_ready(pod) &&
			    !jp_get(pod, "metadata.deletionTimestamp"))
				ok = true;
		missing += !ok;
	}
	u->max_seen = MAX(u->max_seen, missing);
}

static bool
updated(struct cluster *c, void *userdata)
{
	_cleanup_json_ json_t *ds = get_obj(c, "apps/v1", "DaemonSet", "default", "agent");
	return jp_int(ds, "status.updatedNumberScheduled", 0) == 4 &&
	       jp_int(ds, "status.numberAvailable", 0) == 4;
}

static void
test_rolling_update(void **state)
{
	struct cluster c;
	start(&c, 4);
	daemonset(&c, READY_AFTER_2S, "",
		  "  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}\n");
	assert_true(run_until(&c, updated, NULL, NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	struct unavail u = { 0 };
	c.on_step = check_unavailable;
	c.on_step_userdata = &u;
	_cleanup_json_ json_t *p = json_loads(
		"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
		"\"agent:2\"}]}}}}",
		0, NULL);
	assert_int_equal(client_patch(c.client, kind_lookup("apps/v1", "DaemonSet"), "default",
				      "agent", CLIENT_PATCH_STRATEGIC, p, NULL, NULL, NULL, NULL),
			 0);
	settle(&c);
	assert_true(run_until(&c, updated, NULL, 500 * NSEC_PER_MSEC, 120 * NSEC_PER_SEC));
	c.on_step = NULL;
	/* One node at a time was without an available daemon pod, never two. */
	assert_int_equal(u.max_seen, 1);
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", "app=agent");
	assert_int_equal(json_array_size(pods), 4);
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod)
		assert_string_equal(
			jp_str(json_array_get(jp_get(pod, "spec.containers"), 0), "image"),
			"agent:2");
	assert_int_equal(count_objs(&c, "apps/v1", "ControllerRevision", "default", NULL), 2);
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_per_node),
		cmocka_unit_test(test_selector_affinity_and_taints),
		cmocka_unit_test(test_rolling_update),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
