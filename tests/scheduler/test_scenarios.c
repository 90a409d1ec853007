/*
 * Scheduling scenarios end to end on the test clock: the scheduler with the controller
 * manager on one loop (NoExecute eviction and the replacements' placement), anti-affinity spreading replicas over nodes,
 * topology spread with maxSkew 1 over two zones, preemption choosing the fewest victims, and
 * binding under a rate limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "controller/controller.h"
#include "harness.h"

#define C_SMALL "[{name: c, image: busybox}]"

static void
set_taints(struct env *e, const char *node, const char *taints_json)
{
	json_t *patch = json_loads(taints_json, 0, NULL);
	assert_non_null(patch);
	json_t *p = json_pack("{s:{s:o}}", "spec", "taints", patch);
	assert_int_equal(client_patch(e->client, kind_lookup("v1", "Node"), NULL, node,
				      CLIENT_PATCH_MERGE, p, NULL, NULL, NULL, NULL),
			 0);
	json_decref(p);
}

static const char *
condition_reason(struct env *e, const char *pod, const char *type)
{
	static char buf[128];
	buf[0] = '\0';
	_cleanup_json_ json_t *obj = env_get_pod(e, pod);
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
			snprintf(buf, sizeof(buf), "%s",
				 json_string_value(json_object_get(c, "reason")) ?: "");
	return buf;
}

/* Pods of app=web on node, not being deleted, and those being deleted. */
static void
web_pods_on(struct env *e, const char *node, int *ret_live, int *ret_deleting)
{
	json_t *list = NULL;
	struct client_list_opts lo = { .label_selector = "app=web" };
	assert_int_equal(
		client_list(e->client, kind_lookup("v1", "Pod"), "default", &lo, &list, NULL), 0);
	int live = 0, deleting = 0;
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(list, "items"), i, p) {
		const char *on =
			json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
		if (!on || strcmp(on, node) != 0)
			continue;
		if (json_object_get(json_object_get(p, "metadata"), "deletionTimestamp"))
			deleting++;
		else
			live++;
	}
	json_decref(list);
	*ret_live = live;
	*ret_deleting = deleting;
}

/*
 * The scheduler embedded as the controller manager is, on the caller's loop and client: a
 * ReplicaSet's pods are spread over two nodes; a NoExecute taint on n1 has the controller
 * manager's taint eviction controller evict n1's pods (NoExecute eviction is the controller
 * manager's, as in Kubernetes), the ReplicaSet replaces them and the scheduler puts the
 * replacements on n2, never on the tainted node.
 */
static void
test_noexecute_with_controller_manager(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "n1", "4", "8Gi", 110, "{kubernetes.io/hostname: n1}", NULL, NULL);
	env_node(&e, "n2", "4", "8Gi", 110, "{kubernetes.io/hostname: n2}", NULL, NULL);
	env_start(&e, NULL);
	static const char *const only[] = { "replicaset", "tainteviction", NULL };
	struct controller_manager_options co = { .no_leader_election = true, .controllers = only };
	struct controller_manager *cm = NULL;
	korch_error *err = NULL;
	if (controller_manager_new(e.client, e.loop, &co, &cm, &err) < 0 ||
	    controller_manager_start(cm, &err) < 0)
		fail_msg("controller manager: %s", korch_error_message(err));
	env_apply(&e, "apiVersion: apps/v1\nkind: ReplicaSet\n"
		      "metadata: {name: web, namespace: default}\n"
		      "spec:\n  replicas: 4\n  selector: {matchLabels: {app: web}}\n"
		      "  template:\n    metadata: {labels: {app: web}}\n"
		      "    spec: {containers: [{name: c, image: busybox}]}\n");
	env_pump(&e);
	assert_true(controller_manager_idle(cm));
	assert_true(scheduler_idle(e.sched));
	int live, deleting;
	web_pods_on(&e, "n1", &live, &deleting);
	assert_int_equal(live, 2);
	assert_int_equal(deleting, 0);
	web_pods_on(&e, "n2", &live, &deleting);
	assert_int_equal(live, 2);

	/* A NoSchedule taint evicts nothing. */
	set_taints(&e, "n1", "[{\"key\": \"maint\", \"effect\": \"NoSchedule\"}]");
	env_pump(&e);
	web_pods_on(&e, "n1", &live, &deleting);
	assert_int_equal(live, 2);

	set_taints(&e, "n1", "[{\"key\": \"maint\", \"effect\": \"NoExecute\"}]");
	env_pump(&e);
	web_pods_on(&e, "n1", &live, &deleting);
	assert_int_equal(live, 0);
	assert_int_equal(deleting, 2);
	web_pods_on(&e, "n2", &live, &deleting);
	assert_int_equal(live, 4);
	assert_int_equal(deleting, 0);
	struct scheduler_stats st;
	scheduler_stats_get(e.sched, &st);
	assert_int_equal(st.scheduled, 6);
	/* A pod that must go to n1 says why it cannot. */
	env_pod(&e, "pinned", "{app: other}",
		"  nodeSelector: {kubernetes.io/hostname: n1}\n"
		"  containers: [{name: c, image: busybox}]\n");
	env_pump(&e);
	assert_string_equal(env_pod_message(&e, "pinned"),
			    "0/2 nodes are available: 1 node(s) didn't match Pod's node "
			    "affinity/selector, 1 node(s) had untolerated taint {maint: }. "
			    "preemption: 0/2 nodes are available: 2 Preemption is not helpful "
			    "for scheduling.");
	controller_manager_free(cm);
	env_fini(&e);
}

static void
web(struct env *e, const char *name, const char *extra_spec)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default, labels: "
		 "{app: web}}\nspec:\n  containers: " C_SMALL "\n%s",
		 name, extra_spec);
	env_apply(e, text);
}

static void
test_anti_affinity_spreads_replicas(void **state)
{
	struct env e;
	env_init(&e);
	for (int i = 1; i <= 3; i++) {
		char name[8], labels[64];
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(labels, sizeof(labels), "{kubernetes.io/hostname: %s}", name);
		env_node(&e, name, "4", "8Gi", 110, labels, NULL, NULL);
	}
	env_start(&e, NULL);
	const char *anti =
		"  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		"[{labelSelector: {matchLabels: {app: web}}, topologyKey: "
		"kubernetes.io/hostname}]}}\n";
	/* The three replicas arrive together: the assumed ones count for the next. */
	web(&e, "web-0", anti);
	web(&e, "web-1", anti);
	web(&e, "web-2", anti);
	env_pump(&e);
	char seen[3][16];
	for (int i = 0; i < 3; i++) {
		char name[8];
		snprintf(name, sizeof(name), "web-%d", i);
		snprintf(seen[i], sizeof(seen[i]), "%s", env_pod_node(&e, name));
		assert_true(*seen[i]);
	}
	assert_string_not_equal(seen[0], seen[1]);
	assert_string_not_equal(seen[0], seen[2]);
	assert_string_not_equal(seen[1], seen[2]);
	web(&e, "web-3", anti);
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "web-3"), "");
	assert_string_equal(env_pod_message(&e, "web-3"),
			    "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity "
			    "rules. preemption: 0/3 nodes are available: 3 No preemption victims "
			    "found for incoming pod.");
	/*
	 * A replica that goes makes room: the waiting one moves back, waits out its back-off (1 s
	 * after its first attempt) and lands there.
	 */
	env_delete_pod_now(&e, "web-1");
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "web-3"), "");
	env_advance(&e, NSEC_PER_SEC);
	assert_string_equal(env_pod_node(&e, "web-3"), seen[1]);
	env_fini(&e);
}

static void
test_spread_max_skew_over_two_zones(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "a1", "4", "8Gi", 110, "{topology.kubernetes.io/zone: a}", NULL, NULL);
	env_node(&e, "a2", "4", "8Gi", 110, "{topology.kubernetes.io/zone: a}", NULL, NULL);
	env_node(&e, "b1", "4", "8Gi", 110, "{topology.kubernetes.io/zone: b}", NULL, NULL);
	env_start(&e, NULL);
	const char *spread = "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: "
			     "topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, "
			     "labelSelector: {matchLabels: {app: web}}}]\n";
	int zone_a = 0, zone_b = 0;
	for (int i = 0; i < 7; i++) {
		char name[16];
		snprintf(name, sizeof(name), "web-%d", i);
		web(&e, name, spread);
		env_pump(&e);
		const char *node = env_pod_node(&e, name);
		if (node[0] == 'a')
			zone_a++;
		else if (node[0] == 'b')
			zone_b++;
		else
			fail_msg("%s not scheduled: %s", name, env_pod_message(&e, name));
		/* After every pod the zones differ by one at most. */
		assert_true(abs(zone_a - zone_b) <= 1);
	}
	assert_int_equal(zone_a + zone_b, 7);
	env_fini(&e);
}

static void
test_spread_waits_for_the_skew(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "a1", "4", "8Gi", 110, "{topology.kubernetes.io/zone: a}", NULL, NULL);
	env_node(&e, "b1", "1", "8Gi", 110, "{topology.kubernetes.io/zone: b}", NULL, NULL);
	env_start(&e, NULL);
	const char *spread = "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: "
			     "topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, "
			     "labelSelector: {matchLabels: {app: web}}}]\n"
			     "  containers: [{name: c, image: busybox, resources: {requests: {cpu: "
			     "\"1\"}}}]\n";
	char text[2048];
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text),
			 "apiVersion: v1\nkind: Pod\nmetadata: {name: w%d, namespace: default, "
			 "labels: {app: web}}\nspec:\n%s",
			 i, spread);
		env_apply(&e, text);
		env_pump(&e);
	}
	/* One per zone, then a second in zone a (skew 1); the fourth would make it 2. */
	assert_string_equal(env_pod_node(&e, "w2"), "a1");
	assert_string_equal(env_pod_node(&e, "w3"), "");
	assert_string_equal(
		env_pod_message(&e, "w3"),
		"0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match "
		"pod topology spread constraints. preemption: 0/2 nodes are available: 2 "
		"No preemption victims found for incoming pod.");
	env_fini(&e);
}

/* A pod with priority (through a PriorityClass) and a cpu request. */
static void
prio_pod(struct env *e, const char *name, const char *cls, const char *cpu, const char *node,
	 const char *start)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\nspec:\n"
		 "  priorityClassName: %s\n%s%s%s  containers: [{name: c, image: busybox, "
		 "resources: {requests: {cpu: \"%s\"}}}]\n%s%s%s",
		 name, cls, node ? "  nodeName: " : "", node ? node : "", node ? "\n" : "", cpu,
		 start ? "status: {phase: Running, startTime: \"" : "", start ? start : "",
		 start ? "\"}\n" : "");
	env_apply(e, text);
}

static void
test_preemption_minimal_victims(void **state)
{
	struct env e;
	env_init(&e);
	env_apply(&e,
		  "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: low}\n"
		  "value: 10\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\n"
		  "metadata: {name: high}\nvalue: 100\n");
	env_node(&e, "n1", "4", "8Gi", 110, NULL, NULL, NULL);
	env_node(&e, "n2", "4", "8Gi", 110, NULL, NULL, NULL);
	/* n1: four 1-cpu pods (two must go); n2: two 2-cpu pods (one must go). */
	for (int i = 0; i < 4; i++) {
		char name[8];
		snprintf(name, sizeof(name), "a%d", i);
		prio_pod(&e, name, "low", "1", "n1", "2026-11-26T15:00:00Z");
	}
	prio_pod(&e, "b-old", "low", "2", "n2", "2026-11-26T15:00:00Z");
	prio_pod(&e, "b-new", "low", "2", "n2", "2026-11-26T15:30:00Z");
	env_start(&e, NULL);
	prio_pod(&e, "urgent", "high", "2", NULL, NULL);
	env_pump(&e);

	/* The fewest victims: n2, and of its pods the one started last. */
	assert_string_equal(env_pod_node(&e, "urgent"), "");
	assert_string_equal(env_pod_nominated(&e, "urgent"), "n2");
	assert_string_equal(env_pod_message(&e, "urgent"),
			    "0/2 nodes are available: 2 Insufficient cpu.");
	assert_true(env_pod_deleting(&e, "b-new"));
	assert_string_equal(condition_reason(&e, "b-new", "DisruptionTarget"),
			    "PreemptionByScheduler");
	assert_false(env_pod_deleting(&e, "b-old"));
	for (int i = 0; i < 4; i++) {
		char name[8];
		snprintf(name, sizeof(name), "a%d", i);
		assert_false(env_pod_deleting(&e, name));
	}
	_cleanup_json_ json_t *urgent = env_get_pod(&e, "urgent");
	char want[256];
	snprintf(want, sizeof(want), "Preempted:Preempted by pod %s on node n2\n",
		 json_string_value(json_object_get(json_object_get(urgent, "metadata"), "uid")));
	_cleanup_free_ char *ev = env_pod_events(&e, "b-new");
	assert_string_equal(ev, want);

	/* While the victim terminates the preemptor waits, and does not preempt again. */
	env_advance(&e, 15 * NSEC_PER_SEC);
	assert_string_equal(env_pod_node(&e, "urgent"), "");
	/* A lower-priority newcomer does not take the room being freed. */
	prio_pod(&e, "late", "low", "2", NULL, NULL);
	env_pump(&e);
	/* The node agent finishes the victim: the nominated pod lands on its node. */
	env_delete_pod_now(&e, "b-new");
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "urgent"), "n2");
	assert_string_equal(env_pod_node(&e, "late"), "");
	struct scheduler_stats st;
	scheduler_stats_get(e.sched, &st);
	assert_int_equal(st.preemptions, 1);
	env_fini(&e);
}

static void
test_preemption_policy_never(void **state)
{
	struct env e;
	env_init(&e);
	env_apply(&e,
		  "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: low}\n"
		  "value: 10\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\n"
		  "metadata: {name: polite}\nvalue: 100\npreemptionPolicy: Never\n");
	env_node(&e, "n1", "1", "8Gi", 110, NULL, NULL, NULL);
	prio_pod(&e, "old", "low", "1", "n1", NULL);
	env_start(&e, NULL);
	prio_pod(&e, "waits", "polite", "1", NULL, NULL);
	env_pump(&e);
	assert_string_equal(env_pod_message(&e, "waits"),
			    "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible "
			    "due to preemptionPolicy=Never.");
	assert_false(env_pod_deleting(&e, "old"));
	env_fini(&e);
}

static json_t *
get_object(struct env *e, const char *kind, const char *ns, const char *name)
{
	json_t *obj = NULL;
	assert_int_equal(client_get(e->client, kind_lookup("v1", kind), ns, name, &obj, NULL), 0);
	return obj;
}

#define WFFC_CLASS                                                                             \
	"apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local}\n"         \
	"provisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: WaitForFirstConsumer\n" \
	"---\n"
#define WFFC_CLAIM(name)                                                                        \
	"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: " name                   \
	", namespace: default}\nspec: {storageClassName: local, accessModes: [ReadWriteOnce], " \
	"resources: {requests: {storage: 1Gi}}}\n---\n"
#define LOCAL_PV(name, size, node)                                                                 \
	"apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: " name "}\nspec: {capacity: "    \
	"{storage: " size "}, accessModes: [ReadWriteOnce], storageClassName: local, local: "      \
	"{path: /mnt/" name "}, nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: " \
	"[{key: kubernetes.io/hostname, operator: In, values: [" node "]}]}]}}}\n"                 \
	"status: {phase: Available}\n---\n"
#define CLAIM_POD(claim)                                                  \
	"  volumes: [{name: d, persistentVolumeClaim: {claimName: " claim \
	"}}]\n  containers: " C_SMALL "\n"

/*
 * WaitForFirstConsumer with static local volumes: the pod goes to the node that has an
 * available volume, the smallest that fits is reserved for its claim (claimRef written with
 * the binding), and a second claim cannot take the volume the first one reserved.
 */
static void
test_wait_for_first_consumer_local_volumes(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "n1", "4", "8Gi", 110, "{kubernetes.io/hostname: n1}", NULL, NULL);
	env_node(&e, "n2", "4", "8Gi", 110, "{kubernetes.io/hostname: n2}", NULL, NULL);
	env_apply(&e, WFFC_CLASS WFFC_CLAIM("data") WFFC_CLAIM("data2")
			      LOCAL_PV("big", "10Gi", "n2") LOCAL_PV("small", "2Gi", "n2"));
	env_start(&e, NULL);
	env_pod(&e, "p1", NULL, CLAIM_POD("data"));
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "p1"), "n2");
	_cleanup_json_ json_t *small = get_object(&e, "PersistentVolume", NULL, "small");
	const json_t *ref = json_object_get(json_object_get(small, "spec"), "claimRef");
	assert_string_equal(json_string_value(json_object_get(ref, "name")), "data");
	assert_string_equal(json_string_value(json_object_get(ref, "namespace")), "default");
	_cleanup_json_ json_t *data = get_object(&e, "PersistentVolumeClaim", "default", "data");
	assert_string_equal(
		json_string_value(json_object_get(ref, "uid")),
		json_string_value(json_object_get(json_object_get(data, "metadata"), "uid")));
	_cleanup_json_ json_t *big = get_object(&e, "PersistentVolume", NULL, "big");
	assert_null(json_object_get(json_object_get(big, "spec"), "claimRef"));

	/* The second claim gets the volume left; a third finds none. */
	env_pod(&e, "p2", NULL, CLAIM_POD("data2"));
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "p2"), "n2");
	json_decref(big);
	big = get_object(&e, "PersistentVolume", NULL, "big");
	ref = json_object_get(json_object_get(big, "spec"), "claimRef");
	assert_string_equal(json_string_value(json_object_get(ref, "name")), "data2");

	env_apply(&e, WFFC_CLAIM("data3"));
	env_pod(&e, "p3", NULL, CLAIM_POD("data3"));
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "p3"), "");
	assert_string_equal(env_pod_message(&e, "p3"),
			    "0/2 nodes are available: 2 node(s) didn't find available persistent "
			    "volumes to bind. preemption: 0/2 nodes are available: 2 Preemption is "
			    "not helpful for scheduling.");
	env_fini(&e);
}

/* WaitForFirstConsumer with a provisioner: the claim is annotated with the node chosen. */
static void
test_wait_for_first_consumer_provisioning(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "n1", "4", "8Gi", 110, NULL, NULL, NULL);
	env_apply(&e, "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local}\n"
		      "provisioner: example.com/csi\nvolumeBindingMode: WaitForFirstConsumer\n"
		      "---\n" WFFC_CLAIM("data"));
	env_start(&e, NULL);
	env_pod(&e, "p1", NULL, CLAIM_POD("data"));
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "p1"), "n1");
	_cleanup_json_ json_t *data = get_object(&e, "PersistentVolumeClaim", "default", "data");
	const json_t *ann = json_object_get(json_object_get(data, "metadata"), "annotations");
	assert_string_equal(
		json_string_value(json_object_get(ann, "volume.kubernetes.io/selected-node")),
		"n1");
	env_fini(&e);
}

static void
test_bind_rate_limit(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "n1", "4", "8Gi", 110, NULL, NULL, NULL);
	struct scheduler_options o = { .bind_pods_qps = 10, .bind_pods_burst = 2 };
	env_start(&e, &o);
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		env_pod(&e, name, NULL, "  containers: " C_SMALL "\n");
	}
	env_pump(&e);
	struct scheduler_stats st;
	scheduler_stats_get(e.sched, &st);
	assert_int_equal(st.scheduled, 2);
	assert_false(scheduler_idle(e.sched)); /* four pods wait for the bucket */
	env_advance(&e, 100 * NSEC_PER_MSEC);
	scheduler_stats_get(e.sched, &st);
	assert_int_equal(st.scheduled, 3);
	env_advance(&e, 300 * NSEC_PER_MSEC);
	scheduler_stats_get(e.sched, &st);
	assert_int_equal(st.scheduled, 6);
	assert_true(scheduler_idle(e.sched));
	env_fini(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_noexecute_with_controller_manager),
		cmocka_unit_test(test_anti_affinity_spreads_replicas),
		cmocka_unit_test(test_spread_max_skew_over_two_zones),
		cmocka_unit_test(test_spread_waits_for_the_skew),
		cmocka_unit_test(test_preemption_minimal_victims),
		cmocka_unit_test(test_preemption_policy_never),
		cmocka_unit_test(test_bind_rate_limit),
		cmocka_unit_test(test_wait_for_first_consumer_local_volumes),
		cmocka_unit_test(test_wait_for_first_consumer_provisioning),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
