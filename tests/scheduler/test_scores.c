/*
 * Every score plugin of the default profile: each case places nodes and pods, then checks the
 * normalised score (0..100) each plugin gives every feasible node, computed by hand from
 * Kubernetes 1.32's formulas, and that the pod lands on the node with the best weighted sum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "harness.h"
#include "scheduler/sched-internal.h"

#define NODE(name, labels, spec, extra_status)                                            \
	"apiVersion: v1\nkind: Node\nmetadata: {name: " name ", labels: " labels "}\n"    \
	"spec: " spec "\nstatus:\n  capacity: {cpu: \"4\", memory: 8Gi, pods: \"110\"}\n" \
	"  conditions: [{type: Ready, status: \"True\"}]\n" extra_status "---\n"
#define PLACED(name, labels, node, containers, extra)                               \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: " name                         \
	", namespace: default, labels: " labels extra "}\nspec:\n  nodeName: " node \
	"\n  containers: " containers "\n---\n"
#define C_REQ(cpu, mem) \
	"[{name: c, image: busybox, resources: {requests: {cpu: \"" cpu "\", memory: " mem "}}}]"
#define C_SMALL "[{name: c, image: busybox}]"

/* One expected score: plugin on node. */
struct want {
	uint8_t plugin;
	const char *node;
	int64_t score;
};

struct scase {
	const char *name;
	const char *objects;
	const char *pod;       /* the pending pod "p" */
	struct want want[12];  /* ended by node NULL */
	const char *want_node; /* where it lands */
};

#define PENDING(labels, body)                                                                \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default, labels: " labels \
	"}\nspec:\n" body

static const struct scase cases[] = {
	{ "least allocated and balanced allocation",
	  NODE("n1", "{}", "{}", "") NODE("n2", "{}", "{}", "")
		  PLACED("a", "{}", "n1", C_REQ("2", "2Gi"), ""),
	  PENDING("{}", "  containers: " C_REQ("1", "1Gi") "\n"),
	  { { PL_FIT, "n1", 43 },
	    { PL_FIT, "n2", 81 },
	    { PL_BALANCED, "n1", 81 },
	    { PL_BALANCED, "n2", 93 },
	    { PL_TAINT_TOLERATION, "n1", 100 },
	    { PL_IMAGE_LOCALITY, "n1", 0 } },
	  "n2" },
	{ "least allocated counts 100m and 200Mi for a container without requests",
	  NODE("n1", "{}", "{}", "") NODE("n2", "{}", "{}", "") PLACED("a", "{}", "n1", C_SMALL, "")
		  PLACED("b", "{}", "n1", C_SMALL, ""),
	  PENDING("{}", "  containers: " C_SMALL "\n"),
	  /* n1: cpu (4000-300)/40 = 92, mem (8192-600)*100/8192 = 92; n2: 97, 97. */
	  { { PL_FIT, "n1", 92 },
	    { PL_FIT, "n2", 97 },
	    /* Balanced counts the requests as they are: 0 and 0. */
	    { PL_BALANCED, "n1", 100 },
	    { PL_BALANCED, "n2", 100 } },
	  "n2" },
	{ "taint toleration: PreferNoSchedule taints not tolerated",
	  NODE("n1", "{}", "{taints: [{key: a, effect: PreferNoSchedule}]}", "")
		  NODE("n2", "{}", "{}", "")
			  NODE("n3", "{}",
			       "{taints: [{key: a, effect: PreferNoSchedule}, {key: b, effect: "
			       "PreferNoSchedule}]}",
			       ""),
	  PENDING("{}", "  tolerations: [{key: b, operator: Exists, effect: PreferNoSchedule}]\n"
			"  containers: " C_SMALL "\n"),
	  { { PL_TAINT_TOLERATION, "n1", 0 },
	    { PL_TAINT_TOLERATION, "n2", 100 },
	    { PL_TAINT_TOLERATION, "n3", 0 } },
	  "n2" },
	{ "node affinity: preferred terms' weights",
	  NODE("n1", "{zone: a}", "{}", "") NODE("n2", "{disk: ssd}", "{}", "")
		  NODE("n3", "{zone: a, disk: ssd}", "{}", "") NODE("n4", "{}", "{}", ""),
	  PENDING("{}",
		  "  affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: "
		  "[{weight: 10, preference: {matchExpressions: [{key: zone, operator: In, values: "
		  "[a]}]}}, {weight: 30, preference: {matchExpressions: [{key: disk, operator: "
		  "Exists}]}}]}}\n  containers: " C_SMALL "\n"),
	  { { PL_NODE_AFFINITY, "n1", 25 },
	    { PL_NODE_AFFINITY, "n2", 75 },
	    { PL_NODE_AFFINITY, "n3", 100 },
	    { PL_NODE_AFFINITY, "n4", 0 } },
	  "n3" },
	{ "image locality: size spread over the nodes having it",
	  NODE("n1", "{}", "{}",
	       "  images: [{names: [\"busybox:latest\"], sizeBytes: 524288000}]\n")
		  NODE("n2", "{}", "{}", ""),
	  PENDING("{}", "  containers: [{name: c, image: busybox}]\n"),
	  /* 500Mi * 1/2 = 250Mi: 100 * (250Mi - 23Mi) / (1000Mi - 23Mi) = 23. */
	  { { PL_IMAGE_LOCALITY, "n1", 23 }, { PL_IMAGE_LOCALITY, "n2", 0 } },
	  "n1" },
	{ "inter-pod affinity: preferred affinity",
	  NODE("n1", "{zone: a}", "{}", "") NODE("n2", "{zone: a}", "{}", "")
		  NODE("n3", "{zone: b}", "{}", "") PLACED("db", "{app: db}", "n1", C_SMALL, ""),
	  PENDING("{}",
		  "  affinity: {podAffinity: {preferredDuringSchedulingIgnoredDuringExecution: "
		  "[{weight: 50, podAffinityTerm: {labelSelector: {matchLabels: {app: db}}, "
		  "topologyKey: zone}}]}}\n  containers: " C_SMALL "\n"),
	  { { PL_INTER_POD_AFFINITY, "n1", 100 },
	    { PL_INTER_POD_AFFINITY, "n2", 100 },
	    { PL_INTER_POD_AFFINITY, "n3", 0 } },
	  NULL },
	{ "inter-pod affinity: preferred anti-affinity",
	  NODE("n1", "{zone: a}", "{}", "") NODE("n2", "{zone: a}", "{}", "")
		  NODE("n3", "{zone: b}", "{}", "") PLACED("db", "{app: db}", "n1", C_SMALL, ""),
	  PENDING("{}",
		  "  affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: "
		  "[{weight: 50, podAffinityTerm: {labelSelector: {matchLabels: {app: db}}, "
		  "topologyKey: zone}}]}}\n  containers: " C_SMALL "\n"),
	  { { PL_INTER_POD_AFFINITY, "n1", 0 },
	    { PL_INTER_POD_AFFINITY, "n2", 0 },
	    { PL_INTER_POD_AFFINITY, "n3", 100 } },
	  "n3" },
	{ "inter-pod affinity: an existing pod's required affinity draws the pod (weight 1)",
	  NODE("n1", "{zone: a}", "{}", "") NODE(
		  "n2", "{zone: b}", "{}",
		  "") "apiVersion: v1\nkind: Pod\nmetadata: {name: e, namespace: default}\nspec:\n"
		      "  nodeName: n1\n  affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
		      "[{labelSelector: {matchLabels: {app: web}}, topologyKey: zone}]}}\n"
		      "  containers: " C_SMALL "\n---\n",
	  PENDING("{app: web}", "  containers: " C_SMALL "\n"),
	  { { PL_INTER_POD_AFFINITY, "n1", 100 }, { PL_INTER_POD_AFFINITY, "n2", 0 } },
	  "n1" },
	{ "topology spread: ScheduleAnyway",
	  NODE("n1", "{zone: a}", "{}", "") NODE("n2", "{zone: a}", "{}", "")
		  NODE("n3", "{zone: b}", "{}", "") PLACED("w1", "{app: web}", "n1", C_SMALL, "")
			  PLACED("w2", "{app: web}", "n1", C_SMALL, ""),
	  PENDING("{app: web}",
		  "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, "
		  "whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: "
		  "web}}}]\n  containers: " C_SMALL "\n"),
	  /* zone a holds 2: 2 * ln 4 = 2.77 -> 3; zone b: 0. Normalised: 0, 0, 100. */
	  { { PL_SPREAD, "n1", 0 }, { PL_SPREAD, "n2", 0 }, { PL_SPREAD, "n3", 100 } },
	  "n3" },
	{ "topology spread: the system default spreading of a ReplicaSet's pods",
	  NODE("n1", "{topology.kubernetes.io/zone: a, kubernetes.io/hostname: n1}", "{}", "") NODE(
		  "n2", "{topology.kubernetes.io/zone: a, kubernetes.io/hostname: n2}", "{}", "")
		  NODE("n3", "{topology.kubernetes.io/zone: b, kubernetes.io/hostname: n3}", "{}",
		       "") "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web, namespace: "
			   "default}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n"
			   "    metadata: {labels: {app: web}}\n    spec: {containers: " C_SMALL
			   "}\n---\n" PLACED("w1", "{app: web}", "n1", C_SMALL, "")
				   PLACED("w2", "{app: web}", "n1", C_SMALL, "")
					   PLACED("w3", "{app: web}", "n2", C_SMALL, ""),
	  "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default, labels: {app: web}, "
	  "ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: "
	  "00000000-0000-0000-0000-000000000001, controller: true}]}\nspec:\n  containers: " C_SMALL
	  "\n",
	  /*
	   * hostname (skew 3, weight ln 5) and zone (skew 5, weight ln 4): n1 2 and 3 -> 13.38 -> 13,
	   * n2 1 and 3 -> 11.77 -> 12, n3 0 and 0 -> 6; normalised 100 * (13 + 6 - s) / 13.
	   */
	  { { PL_SPREAD, "n1", 46 }, { PL_SPREAD, "n2", 53 }, { PL_SPREAD, "n3", 100 } },
	  "n3" },
	{ "topology spread: a Service's pods spread too",
	  NODE("n1", "{kubernetes.io/hostname: n1}", "{}", "") NODE(
		  "n2", "{kubernetes.io/hostname: n2}", "{}",
		  "") "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
		      "spec: {selector: {app: web}, ports: [{port: 80}]}\n---\n" PLACED(
			      "w1", "{app: web}", "n1", C_SMALL, ""),
	  PENDING("{app: web}", "  containers: " C_SMALL "\n"),
	  /* hostname only (no zones): n1 1 * ln 4 + 2 = 3.39 -> 3, n2 2: 100 * (3 + 2 - s) / 3. */
	  { { PL_SPREAD, "n1", 66 }, { PL_SPREAD, "n2", 100 } },
	  "n2" },
};

static void
run_case(const struct scase *sc)
{
	struct env e;
	env_init(&e);
	env_apply(&e, sc->objects);
	struct scheduler_options o = { .no_scheduled_events = true };
	env_start(&e, &o);
	/* The scores of the pod as it will be created, then the pod itself. */
	struct codec_docs docs = { 0 };
	assert_int_equal(codec_yaml_decode(sc->pod, strlen(sc->pod), &docs, NULL), 0);
	json_t *obj = json_deep_copy(docs.docs[0]);
	codec_docs_free(&docs);
	json_object_set_new(json_object_get(obj, "metadata"), "uid",
			    json_string("00000000-0000-0000-0000-00000000000f"));
	char **names = NULL;
	int64_t(*scores)[PL_COUNT] = NULL;
	uint32_t n = 0;
	assert_int_equal(scheduler_test_scores(e.sched, obj, &names, &scores, &n), 0);
	json_decref(obj);
	for (const struct want *w = sc->want; w->node; w++) {
		uint32_t k = 0;
		while (k < n && strcmp(names[k], w->node) != 0)
			k++;
		if (k == n)
			fail_msg("%s: %s is not feasible", sc->name, w->node);
		if (scores[k][w->plugin] != w->score)
			fail_msg("%s: %s on %s scores %lld, want %lld", sc->name,
				 plugin_names[w->plugin], w->node, (long long)scores[k][w->plugin],
				 (long long)w->score);
	}
	for (uint32_t k = 0; k < n; k++)
		free(names[k]);
	free(names);
	free(scores);
	env_apply(&e, sc->pod);
	env_pump(&e);
	if (sc->want_node && strcmp(env_pod_node(&e, "p"), sc->want_node) != 0)
		fail_msg("%s: landed on %s, want %s", sc->name, env_pod_node(&e, "p"),
			 sc->want_node);
	env_fini(&e);
}

static void
test_scores(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_scores) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
