/* The scheduler end to end: a binding, an unschedulable pod's message and Event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "harness.h"
#include "scheduler/sched-internal.h"

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

/* Under the real clock the bindings are committed by a pool thread over its own store handle. */
static void
test_bindings_on_the_pool(void **state)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/korch-test-sched-real-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", dir);
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	struct store *store = NULL;
	struct client *client = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct store_options so = { .loop = loop, .sync_normal = true };
	assert_int_equal(store_open(path, &so, &store, NULL), 0);
	assert_int_equal(client_new_local(store, clock, &client, NULL), 0);
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", "default");
	assert_int_equal(client_create(client, ns, NULL, NULL, NULL), 0);
	json_decref(ns);
	json_t *node = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:s}, s:[{s:s, s:s}]}}",
				 "apiVersion", "v1", "kind", "Node", "metadata", "name", "n1",
				 "status", "capacity", "cpu", "64", "memory", "64Gi", "pods", "200",
				 "conditions", "type", "Ready", "status", "True");
	assert_int_equal(client_create(client, node, NULL, NULL, NULL), 0);
	json_decref(node);
	struct scheduler *sched = NULL;
	struct scheduler_options o = { .seed = 7, .hostname = "test", .bind_batch_max = 16 };
	assert_int_equal(scheduler_new(client, loop, &o, &sched, NULL), 0);
	assert_non_null(sched->pool);
	assert_int_equal(scheduler_start(sched, NULL), 0);
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%03d", i);
		json_t *pod =
			json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:[{s:s, s:s}]}}", "apiVersion",
				  "v1", "kind", "Pod", "metadata", "name", name, "namespace",
				  "default", "spec", "containers", "name", "c", "image", "busybox");
		assert_int_equal(client_create(client, pod, NULL, NULL, NULL), 0);
		json_decref(pod);
	}
	struct scheduler_stats st = { 0 };
	for (int i = 0; i < 1000 && st.scheduled < 100; i++) {
		korch_loop_dispatch(loop, 10, NULL);
		scheduler_stats_get(sched, &st);
	}
	assert_int_equal(st.scheduled, 100);
	assert_int_equal(st.bind_failures, 0);
	/*
	 * No transaction holds more than 16 bindings: scheduling waits while a full batch waits
	 * for the one on the pool, rather than growing it past the store's transaction limit.
	 */
	assert_true(st.bind_commits >= 7);
	scheduler_free(sched);
	json_t *list = NULL;
	assert_int_equal(
		client_list(client, kind_lookup("v1", "Pod"), "default",
			    &(struct client_list_opts){ .field_selector = "spec.nodeName=n1" },
			    &list, NULL),
		0);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 100);
	json_decref(list);
	client_free(client);
	store_close(store);
	korch_loop_free(loop);
	korch_clock_free(clock);
	rm_rf(dir, NULL);
}

/* NodeName: only the node a pod names (pods that name one are not scheduled otherwise). */
static void
test_node_name_filter(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "n1", "4", "8Gi", 110, NULL, NULL, NULL);
	env_node(&e, "n2", "4", "8Gi", 110, NULL, NULL, NULL);
	env_start(&e, NULL);
	json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:[{s:s, s:s}]}}",
				"apiVersion", "v1", "kind", "Pod", "metadata", "name", "x",
				"namespace", "default", "uid", "u", "spec", "nodeName", "n2",
				"containers", "name", "c", "image", "busybox");
	struct scheduler *s = e.sched;
	struct spod *p = calloc(1, sizeof(*p));
	assert_int_equal(decode_pod(s, obj, p), 0);
	json_decref(obj);
	struct cycle c = { .s = s, .pod = p };
	struct status st = { 0 };
	filter_node_name(&c, cache_node(s, "n1", false), &st);
	assert_int_equal(st.code, ST_UNRESOLVABLE);
	assert_string_equal(reason_text(s, st.reasons[0]),
			    "node(s) didn't match the requested node name");
	st = (struct status){ 0 };
	filter_node_name(&c, cache_node(s, "n2", false), &st);
	assert_int_equal(st.code, ST_SUCCESS);
	pod_clear(s, p);
	free(p);
	env_fini(&e);
}

static char *
pod_rv(struct env *e, const char *name)
{
	_cleanup_json_ json_t *pod = env_get_pod(e, name);
	return strdup(json_string_value(
		json_object_get(json_object_get(pod, "metadata"), "resourceVersion")));
}

/*
 * A round's writes are one durable commit: the binding of the pod that fits and the
 * PodScheduled=False of those that do not share a revision.
 */
static void
test_one_commit_per_round(void **state)
{
	struct env e;
	env_init(&e);
	env_node(&e, "small", "1", "8Gi", 110, NULL, NULL, NULL);
	env_start(&e, NULL);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "big%d", i);
		env_pod(&e, name, NULL,
			"  containers:\n  - name: c\n    image: busybox\n"
			"    resources: {requests: {cpu: \"2\"}}\n");
	}
	env_pod(&e, "fits", NULL, "  containers: [{name: c, image: busybox}]\n");
	env_pump(&e);
	assert_string_equal(env_pod_node(&e, "fits"), "small");
	/* Unschedulable pods wait for an event or their back-off: nothing to do now. */
	assert_true(scheduler_idle(e.sched));
	_cleanup_free_ char *rv = pod_rv(&e, "fits");
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "big%d", i);
		assert_string_equal(
			env_pod_message(&e, name),
			"0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 "
			"nodes are available: 1 No preemption victims found for incoming "
			"pod.");
		_cleanup_free_ char *other = pod_rv(&e, name);
		assert_string_equal(other, rv);
	}
	env_fini(&e);
}

/* A copy of pod with its own metadata, spec and status objects (as client_txn_bind makes). */
static json_t *
copy_parts(const json_t *pod)
{
	json_t *c = json_copy((json_t *)pod);
	const char *parts[] = { "metadata", "spec", "status" };
	for (size_t i = 0; i < 3; i++)
		json_object_set_new(c, parts[i], json_copy(json_object_get(pod, parts[i])));
	return c;
}

/*
 * An update that only binds (node, resourceVersion, conditions changed; everything else the
 * same objects) is told from pointers and decoded in part; any other change, or an object
 * parsed apart, is not.
 */
static void
test_binding_only_update(void **state)
{
	struct env e;
	env_init(&e);
	env_start(&e, NULL);
	struct scheduler *s = e.sched;
	json_t *old =
		json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s}]},"
			  " s:{s:s, s:[{s:s, s:s, s:s, s:s}]}}",
			  "apiVersion", "v1", "kind", "Pod", "metadata", "name", "p", "namespace",
			  "default", "uid", "u1", "resourceVersion", "5", "labels", "a", "b",
			  "spec", "containers", "name", "c", "image", "busybox", "status",
			  "nominatedNodeName", "n2", "conditions", "type", "PodScheduled", "status",
			  "False", "reason", "Unschedulable", "message", "0/1 nodes are available");
	struct spod *p = calloc(1, sizeof(*p));
	assert_int_equal(decode_pod(s, old, p), 0);
	assert_true(p->has_pod_condition_false);
	assert_int_equal(p->node, SID_NONE);

	json_t *bound = copy_parts(old);
	json_object_set_new(json_object_get(bound, "spec"), "nodeName", json_string("n1"));
	json_object_set_new(json_object_get(bound, "metadata"), "resourceVersion",
			    json_string("6"));
	json_object_set_new(json_object_get(bound, "status"), "conditions",
			    json_pack("[{s:s, s:s}]", "type", "PodScheduled", "status", "True"));
	assert_true(pod_binding_only(old, bound));
	assert_true(pod_binding_only(old, old));
	assert_int_equal(decode_pod_binding(s, bound, p), 0);
	assert_string_equal(intern_str(&s->strs, p->node), "n1");
	assert_string_equal(p->rv, "6");
	assert_false(p->has_pod_condition_false);
	assert_null(p->last_message);
	assert_string_equal(intern_str(&s->strs, p->nominated), "n2");
	assert_string_equal(
		intern_str(&s->strs, labels_get(&p->labels, intern_find(&s->strs, "a"))), "b");

	/* Parsed apart: equal content, nothing shared. */
	json_t *parsed = json_deep_copy(bound);
	assert_false(pod_binding_only(old, parsed));
	/* Labels changed too. */
	json_t *relabeled = copy_parts(bound);
	json_object_set_new(json_object_get(relabeled, "metadata"), "labels",
			    json_pack("{s:s}", "a", "c"));
	assert_false(pod_binding_only(old, relabeled));
	/* Another spec field. */
	json_t *more = copy_parts(bound);
	json_object_set_new(json_object_get(more, "spec"), "priority", json_integer(7));
	assert_false(pod_binding_only(old, more));
	/* Another status field. */
	json_t *started = copy_parts(bound);
	json_object_set_new(json_object_get(started, "status"), "startTime",
			    json_string("2026-11-26T15:41:00Z"));
	assert_false(pod_binding_only(old, started));

	pod_clear(s, p);
	free(p);
	json_decref(old);
	json_decref(bound);
	json_decref(parsed);
	json_decref(relabeled);
	json_decref(more);
	json_decref(started);
	env_fini(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binds_a_pod),
		cmocka_unit_test(test_unschedulable_message),
		cmocka_unit_test(test_bindings_on_the_pool),
		cmocka_unit_test(test_node_name_filter),
		cmocka_unit_test(test_one_commit_per_round),
		cmocka_unit_test(test_binding_only_update),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
