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

/* Load model: a total spread evenly over the running, ready pods of app=web. */
struct load {
	struct cluster *c;
	int64_t cpu_milli;    /* total */
	int64_t memory_bytes; /* per pod */
	bool none;            /* no samples at all */
};

static int
usage(void *userdata, const char *ns, const char *name, struct pod_usage *ret, korch_error **err)
{
	struct load *l = userdata;
	if (l->none)
		return KORCH_ENOTFOUND;
	_cleanup_json_ json_t *pods = list_objs(l->c, "v1", "Pod", ns, "app=web");
	size_t n = 0, i;
	json_t *pod;
	bool found = false;
	json_array_foreach (pods, i, pod) {
		bool running = streq(jp_str(pod, "status.phase"), "Running") &&
			       !jp_get(pod, "metadata.deletionTimestamp");
		n += running && pod_ready(pod);
		if (running && streq(jp_str(pod, "metadata.name"), name))
			found = true;
	}
	if (!found)
		return KORCH_ENOTFOUND;
	ret->cpu_milli = n ? l->cpu_milli / (int64_t)n : 0;
	ret->memory_bytes = l->memory_bytes;
	ret->timestamp_ns = korch_clock_wall_ns(l->c->clock);
	ret->window_ns = 15 * NSEC_PER_SEC;
	return 0;
}

static void
start(struct cluster *c, struct load *l)
{
	struct controller_manager_options o = { .no_leader_election = true,
						.pod_usage = usage,
						.pod_usage_userdata = l };
	l->c = c;
	cluster_init(c, &o, false);
	c->binder = c->kubelet = true;
	cluster_start(c);
	add_node(c, "n1");
	add_node(c, "n2");
	create_yaml(
		c,
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n"
		"spec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n"
		"  template:\n    metadata: {labels: {app: web}}\n"
		"    spec: {containers: [{name: c, image: 'web:1', resources: {requests: {cpu: "
		"100m, memory: 100Mi}}}]}\n",
		NULL);
	settle(c);
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

struct bound {
	int64_t max_seen;
};

static void
watch_replicas(struct cluster *c, void *userdata)
{
	struct bound *b = userdata;
	b->max_seen = MAX(b->max_seen, replicas(c));
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
	struct bound b = { 0 };
	c.on_step = watch_replicas;
	c.on_step_userdata = &b;
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
	assert_int_equal(b.max_seen, 5);
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
	c.on_step = NULL;
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_up_and_down),
		cmocka_unit_test(test_behavior_memory),
		cmocka_unit_test(test_no_metrics_no_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
