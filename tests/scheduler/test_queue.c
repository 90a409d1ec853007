/*
 * The scheduling queue: priority then creation order, the back-off of a pod that did not fit,
 * the events that bring it back (and those that do not), the five-minute retry, and no work at
 * all while nothing changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "harness.h"

static void
pod(struct env *e, const char *name, const char *cls, const char *cpu, const char *extra)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\nspec:\n"
		 "%s%s%s  containers: [{name: c, image: busybox, resources: {requests: {cpu: "
		 "\"%s\"}}}]\n%s",
		 name, cls ? "  priorityClassName: " : "", cls ? cls : "", cls ? "\n" : "", cpu,
		 extra ? extra : "");
	env_apply(e, text);
}

static uint64_t
attempts(struct env *e)
{
	struct scheduler_stats st;
	scheduler_stats_get(e->sched, &st);
	return st.attempts;
}

static void
test_priority_then_age(void **state)
{
	struct env e;
	env_init(&e);
	env_apply(&e,
		  "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\n"
		  "value: 100\npreemptionPolicy: Never\n");
	env_node(&e, "n1", "2", "8Gi", 110, NULL, NULL, NULL);
	env_start(&e, NULL);
	/* Created while the scheduler is not running: older low first, then younger, then high. */
	pod(&e, "old", NULL, "1", NULL);
	korch_clock_advance(e.clock, 2 * NSEC_PER_SEC);
	pod(&e, "young", NULL, "1", NULL);
	pod(&e, "vip", "high", "1", NULL);
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "vip"), "n1");
	assert_string_equal(env_pod_node(&e, "old"), "n1");
	assert_string_equal(env_pod_node(&e, "young"), "");
	env_fini(&e);
}

static void
test_backoff_and_events(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "n1", "1", "8Gi", 110, NULL,
		 "  taints: [{key: dedicated, value: batch, effect: NoSchedule}]\n", NULL);
	env_start(&e, NULL);
	pod(&e, "p", NULL, "2", NULL);
	env_pump(&e);
	assert_int_equal(attempts(&e), 1);
	const char *msg1 = "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: "
			   "batch}. preemption: 0/1 nodes are available: 1 Preemption is not "
			   "helpful for scheduling.";
	assert_string_equal(env_pod_message(&e, "p"), msg1);

	/* Nothing changes: nothing runs, for minutes (no busy loop, no periodic retry yet). */
	env_advance(&e, 60 * NSEC_PER_SEC);
	assert_int_equal(attempts(&e), 1);
	assert_int_equal(korch_loop_dispatch(e.loop, 0, NULL), 0);

	/* An assigned pod going away does not concern the taint that rejected it. */
	env_apply(&e, "apiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: default}\n"
		      "spec:\n  nodeName: n1\n  containers: [{name: c, image: busybox}]\n");
	env_pump(&e);
	env_delete_pod_now(&e, "other");
	env_pump(&e);
	env_advance(&e, 5 * NSEC_PER_SEC);
	assert_int_equal(attempts(&e), 1);

	/* The taint goes: the pod is tried again (its back-off is over) and fails on cpu. */
	json_t *patch = json_pack("{s:{s:[]}}", "spec", "taints");
	assert_int_equal(client_patch(e.client, kind_lookup("v1", "Node"), NULL, "n1",
				      CLIENT_PATCH_MERGE, patch, NULL, NULL, NULL, NULL),
			 0);
	json_decref(patch);
	env_pump(&e);
	assert_int_equal(attempts(&e), 2);
	assert_string_equal(
		env_pod_message(&e, "p"),
		"0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
		"available: 1 No preemption victims found for incoming pod.");

	/* A node is added right away: the pod is moved but backs off 2 s (its second failure). */
	env_node(&e, "n2", "4", "8Gi", 110, NULL, NULL, NULL);
	env_pump(&e);
	assert_int_equal(attempts(&e), 2);
	size_t active, backoff, unsched;
	scheduler_queue_lengths(e.sched, &active, &backoff, &unsched);
	assert_int_equal(backoff, 1);
	env_advance(&e, 1900 * NSEC_PER_MSEC);
	assert_string_equal(env_pod_node(&e, "p"), "");
	env_advance(&e, 100 * NSEC_PER_MSEC);
	assert_string_equal(env_pod_node(&e, "p"), "n2");
	assert_int_equal(attempts(&e), 3);
	env_fini(&e);
}

static void
test_retried_after_five_minutes(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "n1", "1", "8Gi", 110, NULL, NULL, NULL);
	env_start(&e, NULL);
	pod(&e, "p", NULL, "2", NULL);
	env_pump(&e);
	assert_int_equal(attempts(&e), 1);
	env_advance(&e, 290 * NSEC_PER_SEC);
	assert_int_equal(attempts(&e), 1);
	/* Past five minutes, the next leftover flush (every 30 s) retries it. */
	env_advance(&e, 40 * NSEC_PER_SEC);
	assert_int_equal(attempts(&e), 2);
	/* The same message: nothing is written again. */
	_cleanup_free_ char *ev = env_pod_events(&e, "p");
	const char *m =
		"FailedScheduling:0/1 nodes are available: 1 Insufficient cpu. preemption: "
		"0/1 nodes are available: 1 No preemption victims found for incoming pod.\n";
	char want[1024];
	snprintf(want, sizeof(want), "%s%s", m, m);
	assert_string_equal(ev, want);
	env_fini(&e);
}

static void
test_pod_update_moves_it(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "n1", "4", "8Gi", 110, "{disk: ssd}", NULL, NULL);
	env_start(&e, NULL);
	pod(&e, "p", NULL, "1",
	    "  tolerations: [{key: x, operator: Exists}]\n  nodeSelector: {disk: hdd}\n");
	env_pump(&e);
	assert_int_equal(attempts(&e), 1);
	/* A toleration added (an allowed pod update) brings it back; it still does not fit. */
	_cleanup_json_ json_t *obj = env_get_pod(&e, "p");
	json_array_append_new(json_object_get(json_object_get(obj, "spec"), "tolerations"),
			      json_pack("{s:s, s:s}", "key", "y", "operator", "Exists"));
	assert_int_equal(client_update(e.client, obj, NULL, NULL, NULL, NULL), 0);
	env_pump(&e);
	env_advance(&e, NSEC_PER_SEC);
	assert_int_equal(attempts(&e), 2);
	env_fini(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority_then_age),
		cmocka_unit_test(test_backoff_and_events),
		cmocka_unit_test(test_retried_after_five_minutes),
		cmocka_unit_test(test_pod_update_moves_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
