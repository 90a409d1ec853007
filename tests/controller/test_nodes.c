/*
 * Nodes: pod CIDRs from the cluster CIDR (never twice, a node's own kept), a node whose Lease
 * is not renewed for 40 s becoming Ready=Unknown with the unreachable taints and its pods not
 * ready, its pods evicted 300 s later (the DefaultTolerationSeconds tolerations) and replaced
 * elsewhere, pods of a deleted node collected by the pod GC, and NoExecute taints evicting at
 * once, after tolerationSeconds, or never.
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

static const char *
pod_cidr(struct cluster *c, const char *node)
{
	static char buf[4][32];
	static int next;
	_cleanup_json_ json_t *n = get_obj(c, "v1", "Node", NULL, node);
	char *out = buf[next++ % 4];
	snprintf(out, 32, "%s", jp_str0(n, "spec.podCIDR"));
	const json_t *list = jp_get(n, "spec.podCIDRs");
	if (*out)
		assert_string_equal(json_string_value(json_array_get(list, 0)), out);
	return out;
}

static void
test_ipam(void **state)
{
	struct cluster c;
	static const struct controller_manager_options o = { .no_leader_election = true };
	cluster_init(&c, &o, false);
	/* A node that brought its own CIDR keeps it, and nobody else gets it. */
	create_yaml(&c,
		    "apiVersion: v1\nkind: Node\nmetadata: {name: own}\nspec: {podCIDR: "
		    "10.244.1.0/24, podCIDRs: [10.244.1.0/24]}\n",
		    NULL);
	cluster_start(&c);
	add_node(&c, "a");
	add_node(&c, "b");
	add_node(&c, "d");
	settle(&c);
	assert_string_equal(pod_cidr(&c, "own"), "10.244.1.0/24");
	assert_string_equal(pod_cidr(&c, "a"), "10.244.0.0/24");
	assert_string_equal(pod_cidr(&c, "b"), "10.244.2.0/24");
	assert_string_equal(pod_cidr(&c, "d"), "10.244.3.0/24");
	/* A deleted node's CIDR is free again, after the ones never used. */
	delete_node(&c, "a");
	settle(&c);
	add_node(&c, "e");
	settle(&c);
	assert_string_equal(pod_cidr(&c, "e"), "10.244.4.0/24");
	/* A new manager (a restart) hands out none of the CIDRs in use. */
	controller_manager_free(c.cm);
	assert_int_equal(controller_manager_new(c.client, c.loop, &o, &c.cm, NULL), 0);
	cluster_start(&c);
	add_node(&c, "f");
	add_node(&c, "g");
	settle(&c);
	assert_string_equal(pod_cidr(&c, "f"), "10.244.0.0/24");
	assert_string_equal(pod_cidr(&c, "g"), "10.244.5.0/24");
	cluster_free(&c);
}

static void
test_ipam_small(void **state)
{
	struct cluster c;
	static const struct controller_manager_options o = { .no_leader_election = true,
							     .cluster_cidr = "10.8.0.0/23",
							     .node_cidr_mask_size = 24 };
	cluster_init(&c, &o, false);
	cluster_start(&c);
	add_node(&c, "a");
	add_node(&c, "b");
	add_node(&c, "x");
	settle(&c);
	assert_string_equal(pod_cidr(&c, "a"), "10.8.0.0/24");
	assert_string_equal(pod_cidr(&c, "b"), "10.8.1.0/24");
	assert_string_equal(pod_cidr(&c, "x"), "");
	char *msg = event_message(&c, "default", "x", "CIDRNotAvailable");
	assert_non_null(msg);
	assert_string_equal(msg, "Node x status is now: CIDRNotAvailable");
	free(msg);
	cluster_free(&c);
}

static const char *
condition(struct cluster *c, const char *node, const char *type, const char **reason)
{
	static char buf[2][64];
	_cleanup_json_ json_t *n = get_obj(c, "v1", "Node", NULL, node);
	const json_t *cond = condition_get(n, type);
	snprintf(buf[0], sizeof(buf[0]), "%s", jp_str0(cond, "status"));
	snprintf(buf[1], sizeof(buf[1]), "%s", jp_str0(cond, "reason"));
	if (reason)
		*reason = buf[1];
	return buf[0];
}

static bool
taint_on(struct cluster *c, const char *node, const char *key, const char *effect)
{
	_cleanup_json_ json_t *n = get_obj(c, "v1", "Node", NULL, node);
	size_t i;
	json_t *t;
	json_array_foreach (jp_get(n, "spec.taints"), i, t)
		if (streq(jp_str(t, "key"), key) && streq(jp_str(t, "effect"), effect))
			return true;
	return false;
}

struct on_node {
	int total, ready, deleting;
};

static struct on_node
pods_on(struct cluster *c, const char *node)
{
	struct on_node r = { 0 };
	_cleanup_json_ json_t *pods = list_objs(c, "v1", "Pod", "default", "app=web");
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		if (!streq(jp_str(pod, "spec.nodeName"), node))
			continue;
		r.total++;
		r.ready += pod_ready(pod);
		r.deleting += jp_get(pod, "metadata.deletionTimestamp") != NULL;
	}
	return r;
}

static size_t
ready_pods(struct cluster *c)
{
	_cleanup_json_ json_t *pods = list_objs(c, "v1", "Pod", "default", "app=web");
	size_t n = 0, i;
	json_t *pod;
	json_array_foreach (pods, i, pod)
		n += pod_ready(pod) && !jp_get(pod, "metadata.deletionTimestamp");
	return n;
}

/* Ready is Unknown (NodeStatusUnknown), and so are the pressure conditions, with reason. */
static void
assert_unknown(struct cluster *c, const char *node, const char *pressure_reason)
{
	const char *reason;
	assert_string_equal(condition(c, node, "Ready", &reason), "Unknown");
	assert_string_equal(reason, "NodeStatusUnknown");
	static const char *const others[] = { "MemoryPressure", "DiskPressure", "PIDPressure" };
	for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
		assert_string_equal(condition(c, node, others[i], &reason), "Unknown");
		assert_string_equal(reason, pressure_reason);
	}
}

static void
test_node_lost(void **state)
{
	struct cluster c;
	static const struct controller_manager_options o = { .no_leader_election = true };
	cluster_init(&c, &o, false);
	c.schedule = true;
	cluster_start(&c);
	add_node(&c, "n1");
	add_node(&c, "n2");
	create_yaml(
		&c,
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n"
		"spec:\n  replicas: 4\n  selector: {matchLabels: {app: web}}\n"
		"  template:\n    metadata: {labels: {app: web}}\n"
		"    spec: {containers: [{name: c, image: 'web:1'}]}\n",
		NULL);
	settle(&c);
	assert_int_equal(pods_on(&c, "n1").ready, 2);
	assert_int_equal(pods_on(&c, "n2").ready, 2);
	assert_string_equal(condition(&c, "n1", "Ready", NULL), "True");
	/* n1's agent goes silent: 40 s of grace, then Unknown. */
	silence_node(&c, "n1");
	advance(&c, 40 * NSEC_PER_SEC);
	assert_string_equal(condition(&c, "n1", "Ready", NULL), "True");
	advance(&c, NSEC_PER_SEC);
	/* The agent had posted the pressure conditions: they too become Unknown. */
	assert_unknown(&c, "n1", "NodeStatusUnknown");
	_cleanup_json_ json_t *n1 = get_obj(&c, "v1", "Node", NULL, "n1");
	assert_string_equal(jp_str(condition_get(n1, "Ready"), "message"),
			    "Kubelet stopped posting node status.");
	assert_true(taint_on(&c, "n1", "node.kubernetes.io/unreachable", "NoExecute"));
	assert_true(taint_on(&c, "n1", "node.kubernetes.io/unreachable", "NoSchedule"));
	assert_false(taint_on(&c, "n2", "node.kubernetes.io/unreachable", "NoExecute"));
	assert_string_equal(condition(&c, "n2", "Ready", NULL), "True");
	/* Its pods are not ready any more (so endpoints drop them), but still there. */
	struct on_node on1 = pods_on(&c, "n1");
	assert_int_equal(on1.total, 2);
	assert_int_equal(on1.ready, 0);
	assert_int_equal(on1.deleting, 0);
	char *msg = event_message(&c, "default", "n1", "NodeNotReady");
	assert_non_null(msg);
	assert_string_equal(msg, "Node n1 status is now: NodeNotReady");
	free(msg);
	/* 300 s after the taint (the default tolerations), they are evicted and replaced on n2. */
	advance(&c, 299 * NSEC_PER_SEC);
	assert_int_equal(pods_on(&c, "n1").deleting, 0);
	advance(&c, 2 * NSEC_PER_SEC);
	on1 = pods_on(&c, "n1");
	assert_int_equal(on1.total, 2);
	assert_int_equal(on1.deleting, 2); /* Terminating: no agent confirms */
	assert_int_equal(pods_on(&c, "n2").ready, 4);
	assert_int_equal(ready_pods(&c), 4);
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", "app=web");
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		if (!streq(jp_str(pod, "spec.nodeName"), "n1"))
			continue;
		const json_t *dt = condition_get(pod, "DisruptionTarget");
		assert_string_equal(jp_str(dt, "reason"), "DeletionByTaintManager");
		assert_string_equal(jp_str(dt, "message"),
				    "Taint manager: deleting due to NoExecute taint");
		char *m = event_message(&c, "default", jp_str(pod, "metadata.name"),
					"TaintManagerEviction");
		char want[256];
		snprintf(want, sizeof(want), "Marking for deletion Pod default/%s",
			 jp_str(pod, "metadata.name"));
		assert_string_equal(m, want);
		free(m);
	}
	/* The node is deleted: 40 s later the pod GC removes what was left on it. */
	delete_node(&c, "n1");
	advance(&c, 20 * NSEC_PER_SEC);
	assert_int_equal(pods_on(&c, "n1").total, 2);
	advance(&c, 60 * NSEC_PER_SEC);
	assert_int_equal(pods_on(&c, "n1").total, 0);
	assert_int_equal(count_objs(&c, "v1", "Pod", "default", "app=web"), 4);
	cluster_free(&c);
}

/* A Node whose kubelet posted only Ready, once: the conditions it never posted become Unknown
 * with NodeStatusNeverUpdated. */
static void
test_never_updated(void **state)
{
	struct cluster c;
	static const struct controller_manager_options o = { .no_leader_election = true };
	cluster_init(&c, &o, false);
	cluster_start(&c);
	create_yaml(
		&c,
		"apiVersion: v1\nkind: Node\nmetadata: {name: bare}\n"
		"status:\n  conditions: [{type: Ready, status: 'True', reason: KubeletReady}]\n",
		NULL);
	create_yaml(&c,
		    "apiVersion: coordination.k8s.io/v1\nkind: Lease\n"
		    "metadata: {name: bare, namespace: kube-node-lease}\n"
		    "spec: {holderIdentity: bare, leaseDurationSeconds: 40, "
		    "renewTime: '2026-11-26T15:41:00.000000Z'}\n",
		    NULL);
	settle(&c);
	advance(&c, 40 * NSEC_PER_SEC);
	assert_string_equal(condition(&c, "bare", "Ready", NULL), "True");
	advance(&c, NSEC_PER_SEC);
	assert_unknown(&c, "bare", "NodeStatusNeverUpdated");
	cluster_free(&c);
}

static void
pod(struct cluster *c, const char *name, const char *tolerations)
{
	char text[1024];
	snprintf(
		text, sizeof(text),
		"apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default, labels: {app: "
		"web}}\nspec:\n  nodeName: n1\n  containers: [{name: c, image: x}]\n%s",
		name, tolerations);
	create_yaml(c, text, NULL);
}

static bool
deleting(struct cluster *c, const char *name)
{
	_cleanup_json_ json_t *p = get_obj(c, "v1", "Pod", "default", name);
	return !p || jp_get(p, "metadata.deletionTimestamp");
}

static void
set_taints(struct cluster *c, const char *node, const char *taints_json)
{
	char text[512];
	snprintf(text, sizeof(text), "{\"spec\":{\"taints\":%s}}", taints_json);
	_cleanup_json_ json_t *p = json_loads(text, 0, NULL);
	assert_int_equal(client_patch(c->client, kind_lookup("v1", "Node"), NULL, node,
				      CLIENT_PATCH_MERGE, p, NULL, NULL, NULL, NULL),
			 0);
}

static void
test_taint_eviction(void **state)
{
	struct cluster c;
	static const struct controller_manager_options o = { .no_leader_election = true };
	cluster_init(&c, &o, false);
	cluster_start(&c);
	add_node(&c, "n1");
	pod(&c, "plain", "");
	pod(&c, "thirty",
	    "  tolerations: [{key: maint, operator: Exists, effect: NoExecute, "
	    "tolerationSeconds: 30}]\n");
	pod(&c, "forever", "  tolerations: [{key: maint, operator: Exists}]\n");
	pod(&c, "cancelled",
	    "  tolerations: [{key: maint, operator: Exists, effect: NoExecute, "
	    "tolerationSeconds: 60}]\n");
	settle(&c);
	/* A NoSchedule taint evicts nothing. */
	set_taints(&c, "n1", "[{\"key\":\"maint\",\"effect\":\"NoSchedule\"}]");
	settle(&c);
	assert_false(deleting(&c, "plain"));
	set_taints(&c, "n1", "[{\"key\":\"maint\",\"effect\":\"NoExecute\"}]");
	settle(&c);
	assert_true(deleting(&c, "plain"));
	assert_false(deleting(&c, "thirty"));
	advance(&c, 29 * NSEC_PER_SEC);
	assert_false(deleting(&c, "thirty"));
	advance(&c, 2 * NSEC_PER_SEC);
	assert_true(deleting(&c, "thirty"));
	assert_false(deleting(&c, "cancelled"));
	/* The taint goes before 60 s: the last eviction is cancelled. */
	set_taints(&c, "n1", "[]");
	settle(&c);
	char *msg = event_message(&c, "default", "cancelled", "TaintManagerEviction");
	assert_string_equal(msg, "Cancelling deletion of Pod default/cancelled");
	free(msg);
	advance(&c, 120 * NSEC_PER_SEC);
	assert_false(deleting(&c, "cancelled"));
	assert_false(deleting(&c, "forever"));
	assert_int_equal(count_events(&c, "default", "forever", "TaintManagerEviction"), 0);
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipam),           cmocka_unit_test(test_ipam_small),
		cmocka_unit_test(test_node_lost),      cmocka_unit_test(test_never_updated),
		cmocka_unit_test(test_taint_eviction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
