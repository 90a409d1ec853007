/* The scheduler end to end: a binding, an unschedulable pod's message and Event. */
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
test_binds_a_pod(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "n1", "4", "8Gi", 110, NULL, NULL, NULL);
	env_start(&e, NULL);
	env_pod(&e, "web", NULL,
		"  containers:\n  - name: c\n    image: busybox\n"
		"    resources: {requests: {cpu: 100m, memory: 64Mi}}\n");
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "web"), "n1");
	_cleanup_free_ char *events = env_pod_events(&e, "web");
	assert_string_equal(events, "Scheduled:Successfully assigned default/web to n1\n");
	struct scheduler_stats st;
	scheduler_stats_get(e.sched, &st);
	assert_int_equal(st.scheduled, 1);
	assert_int_equal(st.bind_commits, 1);
	env_fini(&e);
}

static void
test_unschedulable_message(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "small", "1", "8Gi", 110, NULL, NULL, NULL);
	for (int i = 0; i < 2; i++) {
		char name[16];
		snprintf(name, sizeof(name), "cp%d", i);
		env_node(&e, name, "8", "8Gi", 110, NULL,
			 "  taints:\n  - {key: node-role.kubernetes.io/control-plane, effect: "
			 "NoSchedule}\n",
			 NULL);
	}
	env_start(&e, NULL);
	env_pod(&e, "big", NULL,
		"  containers:\n  - name: c\n    image: busybox\n"
		"    resources: {requests: {cpu: \"2\"}}\n");
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "big"), "");
	assert_string_equal(
		env_pod_message(&e, "big"),
		"0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated "
		"taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes "
		"are available: 1 No preemption victims found for incoming pod, 2 "
		"Preemption is not helpful for scheduling.");
	_cleanup_free_ char *events = env_pod_events(&e, "big");
	assert_string_equal(
		events, "FailedScheduling:0/3 nodes are available: 1 Insufficient cpu, 2 node(s) "
			"had untolerated taint {node-role.kubernetes.io/control-plane: }. "
			"preemption: 0/3 nodes are available: 1 No preemption victims found for "
			"incoming pod, 2 Preemption is not helpful for scheduling.\n");
	size_t active, backoff, unsched;
	scheduler_queue_lengths(e.sched, &active, &backoff, &unsched);
	assert_int_equal(active, 0);
	assert_int_equal(unsched, 1);
	env_fini(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binds_a_pod),
		cmocka_unit_test(test_unschedulable_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
