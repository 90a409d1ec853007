/*
 * The HorizontalPodAutoscaler: a Deployment under CPU load goes from 2 to 5 replicas (limited
 * by the scale-up rate, then by maxReplicas) and back to 2 once the load is gone and the
 * 5-minute stabilisation window has passed; spec.behavior's rate policies and windows on a
 * memory target; the conditions and events when there are no metrics or no target.
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

/*
 * Load model: a CPU total spread evenly over the running, ready pods of app=web, and a memory
 * working set per pod, set on their simulated containers (and on those to come, through the
 * simulated runtimes' behaviours); the agents sample it every second and the autoscaler reads
 * their samples (cluster_pod_usage).
 */
struct load {
	struct cluster *c;
	int64_t cpu_milli;                   /* total */
	int64_t memory_bytes;                /* per pod */
	bool none;                           /* no samples at all */
	int64_t applied_cpu, applied_memory; /* per pod, as last set */
	size_t applied_pods;                 /* over that many pods */
	int64_t max_replicas_seen;           /* the Deployment's largest spec.replicas */
};

static int64_t replicas(struct cluster *c);

/* Sets each pod's share of the load when the load or the pods changed; after every step. */
static void
apply_load(struct cluster *c, void *userdata)
{
	struct load *l = userdata;
	l->max_replicas_seen = MAX(l->max_replicas_seen, replicas(c));
	_cleanup_json_ json_t *pods = list_objs(c, "v1", "Pod", "default", "app=web");
	size_t n = 0, i;
	json_t *pod;
	json_array_foreach (pods, i, pod)
		n += streq(jp_str(pod, "status.phase"), "Running") &&
		     !jp_get(pod, "metadata.deletionTimestamp") && pod_ready(pod);
	int64_t cpu = n ? l->cpu_milli / (int64_t)n : 0;
	if (n == l->applied_pods && cpu == l->applied_cpu && l->memory_bytes == l->applied_memory)
		return;
	struct sim_behavior b = { .cpu_milli = cpu, .memory_bytes = l->memory_bytes };
	for (size_t k = 0; k < c->n_nodes; k++)
		assert_int_equal(sim_set_behavior(c->nodes[k].sim, "default/web-*/*", &b, NULL), 0);
	json_array_foreach (pods, i, pod)
		if (streq(jp_str(pod, "status.phase"), "Running") &&
		    !jp_get(pod, "metadata.deletionTimestamp"))
			set_pod_usage(c, "default", jp_str(pod, "metadata.name"), cpu,
				      l->memory_bytes);
	l->applied_pods = n;
	l->applied_cpu = cpu;
	l->applied_memory = l->memory_bytes;
}

static const char web_deployment[] =
	"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n"
	"spec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n"
	"  template:\n    metadata: {labels: {app: web}}\n"
	"    spec: {containers: [{name: c, image: 'web:1', resources: {requests: {cpu: "
	"100m, memory: 100Mi}}}]}\n";

/* A cluster of two nodes running the workload (YAML) under the load model. */
static void
start_with(struct cluster *c, struct load *l, const char *workload)
{
	struct controller_manager_options o = { .no_leader_election = true,
						.pod_usage = cluster_pod_usage,
						.pod_usage_userdata = c };
	l->c = c;
	cluster_init(c, &o, false);
	c->schedule = true;
	/* Samples every second; none within the test when there are to be none. */
	c->stats_interval_ns = l->none ? 3600 * NSEC_PER_SEC : NSEC_PER_SEC;
	cluster_start(c);
	add_node(c, "n1");
	add_node(c, "n2");
	c->on_step = apply_load;
	c->on_step_userdata = l;
	create_yaml(c, workload, NULL);
	settle(c);
}

static void
start(struct cluster *c, struct load *l)
{
	start_with(c, l, web_deployment);
}

static int64_t
replicas(struct cluster *c)
{
	_cleanup_json_ json_t *d = get_obj(c, "apps/v1", "Deployment", "default", "web");
	return jp_int(d, "spec.replicas", -1);
}

static json_t *
hpa(struct cluster *c)
{
	return get_obj(c, "autoscaling/v2", "HorizontalPodAutoscaler", "default", "web");
}

static void
assert_condition(struct cluster *c, const char *type, const char *status, const char *reason,
		 const char *message)
{
	_cleanup_json_ json_t *h = hpa(c);
	const json_t *cond = condition_get(h, type);
	if (!cond)
		fail_msg("no %s condition", type);
	if (!streq(jp_str(cond, "status"), status))
		fail_msg("%s: %s %s: %s", type, jp_str(cond, "status"), jp_str(cond, "reason"),
			 jp_str(cond, "message"));
	assert_string_equal(jp_str(cond, "reason"), reason);
	if (message)
		assert_string_equal(jp_str(cond, "message"), message);
}

static bool
has_replicas(struct cluster *c, void *userdata)
{
	return replicas(c) == *(int64_t *)userdata;
}

static void
test_cpu_up_and_down(void **state)
{
	struct cluster c;
	struct load l = { .cpu_milli = 60 };
	start(&c, &l);
	create_yaml(
		&c,
		"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
		"metadata: {name: web, namespace: default}\n"
		"spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
		"  minReplicas: 2\n  maxReplicas: 5\n"
		"  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, "
		"averageUtilization: 50}}}]\n",
		NULL);
	settle(&c);
	/* The first look is a period after the creation. */
	_cleanup_json_ json_t *fresh = hpa(&c);
	assert_null(jp_get(fresh, "status.conditions"));
	advance(&c, 15 * NSEC_PER_SEC);
	/* 30m of 100m each: 30 %, below the 50 % target, at the minimum already. */
	assert_int_equal(replicas(&c), 2);
	assert_condition(&c, "AbleToScale", "True", "ReadyForNewScale",
			 "recommended size matches current size");
	assert_condition(&c, "ScalingActive", "True", "ValidMetricFound",
			 "the HPA was able to successfully calculate a replica count from cpu "
			 "resource utilization (percentage of request)");
	assert_condition(&c, "ScalingLimited", "False", "DesiredWithinRange",
			 "the desired count is within the acceptable range");
	_cleanup_json_ json_t *h = hpa(&c);
	const json_t *current = json_array_get(jp_get(h, "status.currentMetrics"), 0);
	assert_int_equal(jp_int(current, "resource.current.averageUtilization", -1), 30);
	assert_string_equal(jp_str(current, "resource.current.averageValue"), "30m");
	assert_int_equal(jp_int(h, "status.currentReplicas", -1), 2);
	assert_int_equal(jp_int(h, "status.desiredReplicas", -1), 2);
	/* Under load: 400m over 2 pods is 200 %: 8 wanted, 4 allowed (twice the current). */
	l.cpu_milli = 400;
	advance(&c, 15 * NSEC_PER_SEC);
	assert_int_equal(replicas(&c), 4);
	assert_condition(&c, "ScalingLimited", "True", "ScaleUpLimit",
			 "the desired replica count is increasing faster than the maximum scale "
			 "rate");
	assert_condition(&c, "AbleToScale", "True", "SucceededRescale",
			 "the HPA controller was able to update the target scale to 4");
	char *msg = event_message(&c, "default", "web", "SuccessfulRescale");
	assert_string_equal(msg, "New size: 4; reason: cpu resource utilization (percentage of "
				 "request) above target");
	free(msg);
	/* Then 100 % on 4: 8 wanted, 5 allowed. */
	int64_t five = 5;
	assert_true(run_until(&c, has_replicas, &five, 15 * NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	assert_condition(&c, "ScalingLimited", "True", "TooManyReplicas",
			 "the desired replica count is more than the maximum replica count");
	assert_int_equal(count_events(&c, "default", "web", "SuccessfulRescale"), 2);
	/* The load goes: the 5-minute window keeps 5 for a while, then 2. */
	l.cpu_milli = 50;
	int64_t quiet_from = korch_clock_now_ns(c.clock);
	advance(&c, 15 * NSEC_PER_SEC);
	assert_int_equal(replicas(&c), 5);
	assert_condition(&c, "AbleToScale", "True", "ScaleDownStabilized",
			 "recent recommendations were higher than current one, applying the "
			 "highest recent recommendation");
	int64_t two = 2;
	assert_true(run_until(&c, has_replicas, &two, 15 * NSEC_PER_SEC, 600 * NSEC_PER_SEC));
	int64_t waited = korch_clock_now_ns(c.clock) - quiet_from;
	assert_true(waited >= 285 * NSEC_PER_SEC);
	assert_true(waited <= 330 * NSEC_PER_SEC);
	assert_int_equal(l.max_replicas_seen, 5);
	msg = NULL;
	_cleanup_json_ json_t *events = list_objs(&c, "v1", "Event", "default", NULL);
	size_t i;
	json_t *ev;
	bool down = false;
	json_array_foreach (events, i, ev)
		down |= streq(jp_str(ev, "reason"), "SuccessfulRescale") &&
			streq(jp_str(ev, "message"),
			      "New size: 2; reason: All metrics below target");
	assert_true(down);
	assert_int_equal(count_objs(&c, "v1", "Pod", "default", "app=web"), 2);
	cluster_free(&c);
}

static void
test_behavior_memory(void **state)
{
	struct cluster c;
	struct load l = { .memory_bytes = 50 << 20 };
	start(&c, &l);
	/* One pod a minute up, everything at once down, no window. */
	create_yaml(&c,
		    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
		    "metadata: {name: web, namespace: default}\n"
		    "spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
		    "  minReplicas: 1\n  maxReplicas: 10\n"
		    "  metrics: [{type: Resource, resource: {name: memory, target: {type: "
		    "Utilization, averageUtilization: 60}}}]\n"
		    "  behavior:\n"
		    "    scaleUp: {policies: [{type: Pods, value: 1, periodSeconds: 60}]}\n"
		    "    scaleDown: {stabilizationWindowSeconds: 0}\n",
		    NULL);
	advance(&c, 15 * NSEC_PER_SEC);
	/* 50 % of 100Mi against 60 %: ratio 0.83, outside the tolerance: ceil(0.83 x 2) = 2. */
	assert_int_equal(replicas(&c), 2);
	_cleanup_json_ json_t *h = hpa(&c);
	const json_t *current = json_array_get(jp_get(h, "status.currentMetrics"), 0);
	assert_int_equal(jp_int(current, "resource.current.averageUtilization", -1), 50);
	assert_string_equal(jp_str(current, "resource.current.averageValue"), "52428800");
	/* Memory per pod does not fall with more pods: up one a minute to the maximum. */
	l.memory_bytes = 90 << 20;
	advance(&c, 15 * NSEC_PER_SEC);
	assert_int_equal(replicas(&c), 3);
	assert_condition(&c, "ScalingLimited", "False", "DesiredWithinRange", NULL);
	advance(&c, 15 * NSEC_PER_SEC);
	assert_int_equal(replicas(&c), 3);
	assert_condition(&c, "ScalingLimited", "True", "ScaleUpLimit",
			 "the desired replica count is increasing faster than the maximum scale "
			 "rate");
	advance(&c, 30 * NSEC_PER_SEC);
	assert_int_equal(replicas(&c), 3);
	advance(&c, 15 * NSEC_PER_SEC);
	assert_int_equal(replicas(&c), 4);
	/* Down at once (Percent 100 every 15 s, no window). */
	l.memory_bytes = 6 << 20;
	advance(&c, 15 * NSEC_PER_SEC);
	assert_int_equal(replicas(&c), 1);
	cluster_free(&c);
}

static void
test_no_metrics_no_target(void **state)
{
	struct cluster c;
	struct load l = { .none = true };
	start(&c, &l);
	create_yaml(&c,
		    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
		    "metadata: {name: web, namespace: default}\n"
		    "spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
		    "  maxReplicas: 5\n",
		    NULL);
	advance(&c, 15 * NSEC_PER_SEC);
	assert_condition(&c, "AbleToScale", "True", "SucceededGetScale",
			 "the HPA controller was able to get the target's current scale");
	assert_condition(&c, "ScalingActive", "False", "FailedGetResourceMetric",
			 "the HPA was unable to compute the replica count: failed to get cpu "
			 "utilization: unable to get metrics for resource cpu: no metrics returned "
			 "from resource metrics API");
	char *msg = event_message(&c, "default", "web", "FailedComputeMetricsReplicas");
	assert_string_equal(msg, "invalid metrics (1 invalid out of 1), first error is: failed to "
				 "get cpu resource metric value: failed to get cpu utilization: "
				 "unable to get metrics for resource cpu: no metrics returned from "
				 "resource metrics API");
	free(msg);
	assert_int_equal(replicas(&c), 2);
	create_yaml(
		&c,
		"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
		"metadata: {name: ghost, namespace: default}\n"
		"spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ghost}\n"
		"  maxReplicas: 5\n",
		NULL);
	advance(&c, 15 * NSEC_PER_SEC);
	_cleanup_json_ json_t *g =
		get_obj(&c, "autoscaling/v2", "HorizontalPodAutoscaler", "default", "ghost");
	const json_t *cond = condition_get(g, "AbleToScale");
	assert_string_equal(jp_str(cond, "status"), "False");
	assert_string_equal(jp_str(cond, "reason"), "FailedGetScale");
	assert_string_equal(jp_str(cond, "message"),
			    "the HPA controller was unable to get the target's current scale: "
			    "deployments.apps \"ghost\" not found");
	cluster_free(&c);
}

/* The scale subresource of every kind the autoscaler drives: ReplicaSet, StatefulSet,
 * ReplicationController (and Deployment above). */
static void
test_scale_targets(void **state)
{
	static const struct {
		const char *api_version, *kind, *workload;
	} targets[] = {
		{ "apps/v1", "ReplicaSet",
		  "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web, namespace: default}\n"
		  "spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n" },
		{ "apps/v1", "StatefulSet",
		  "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: "
		  "default}\nspec:\n  replicas: 1\n  serviceName: web\n  podManagementPolicy: "
		  "Parallel\n  selector: {matchLabels: {app: web}}\n" },
		{ "v1", "ReplicationController",
		  "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: web, namespace: "
		  "default}\nspec:\n  replicas: 1\n  selector: {app: web}\n" },
	};
	for (size_t k = 0; k < ARRAY_SIZE(targets); k++) {
		char workload[1024], hpa_text[1024];
		snprintf(workload, sizeof(workload),
			 "%s  template:\n    metadata: {labels: {app: web}}\n"
			 "    spec: {containers: [{name: c, image: 'web:1', resources: {requests: "
			 "{cpu: 100m}}}]}\n",
			 targets[k].workload);
		struct cluster c;
		/* 300m on one pod of 100m: 300 % of the 50 % target, 6 wanted, 3 at most. */
		struct load l = { .cpu_milli = 300 };
		start_with(&c, &l, workload);
		snprintf(hpa_text, sizeof(hpa_text),
			 "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
			 "metadata: {name: web, namespace: default}\n"
			 "spec:\n  scaleTargetRef: {apiVersion: %s, kind: %s, name: web}\n"
			 "  minReplicas: 1\n  maxReplicas: 3\n"
			 "  metrics: [{type: Resource, resource: {name: cpu, target: {type: "
			 "Utilization, averageUtilization: 50}}}]\n",
			 targets[k].api_version, targets[k].kind);
		create_yaml(&c, hpa_text, NULL);
		advance(&c, 15 * NSEC_PER_SEC);
		_cleanup_json_ json_t *t =
			get_obj(&c, targets[k].api_version, targets[k].kind, "default", "web");
		assert_int_equal(jp_int(t, "spec.replicas", -1), 3);
		assert_condition(
			&c, "ScalingLimited", "True", "TooManyReplicas",
			"the desired replica count is more than the maximum replica count");
		_cleanup_json_ json_t *h = hpa(&c);
		assert_int_equal(jp_int(h, "status.currentReplicas", -1), 1);
		assert_int_equal(jp_int(h, "status.desiredReplicas", -1), 3);
		assert_int_equal(jp_int(json_array_get(jp_get(h, "status.currentMetrics"), 0),
					"resource.current.averageUtilization", -1),
				 300);
		/* The target's controller makes the pods, which run. */
		advance(&c, 5 * NSEC_PER_SEC);
		assert_int_equal(count_objs(&c, "v1", "Pod", "default", "app=web"), 3);
		cluster_free(&c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_up_and_down),
		cmocka_unit_test(test_behavior_memory),
		cmocka_unit_test(test_no_metrics_no_target),
		cmocka_unit_test(test_scale_targets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
