/*
 * The ReplicaSet and ReplicationController controllers: convergence from every start state
 * (owned, orphaned, mislabelled, terminal, deleting and foreign pods), scale-down order,
 * expectations against a lagging cache, minReadySeconds, status and events.
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

/* ctr_extra: more fields of the template's container. */
static void
rs_yaml(char *buf, size_t size, const char *ns, const char *name, int replicas, const char *extra,
	const char *ctr_extra)
{
	snprintf(buf, size,
		 "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: %s, namespace: %s}\n"
		 "spec:\n  replicas: %d\n%s  selector: {matchLabels: {app: %s}}\n"
		 "  template:\n    metadata: {labels: {app: %s, tier: web}}\n"
		 "    spec: {containers: [{name: c, image: busybox%s}]}\n",
		 name, ns, replicas, extra, name, name, ctr_extra);
}

/* A pod in ns with labels app=APP, controlled by owner (may be NULL), bound to node-1 when
 * node; restartPolicy Never when once. */
static void
make_pod(struct cluster *c, const char *ns, const char *name, const char *app, const json_t *owner,
	 const char *owner_kind, const char *node, bool once)
{
	char refs[1024] = "";
	if (owner)
		snprintf(refs, sizeof(refs),
			 "  ownerReferences: [{apiVersion: %s, kind: %s, name: %s, uid: %s, "
			 "controller: true}]\n",
			 jp_str0(owner, "apiVersion"), owner_kind, jp_str0(owner, "metadata.name"),
			 jp_str0(owner, "metadata.uid"));
	char text[16384];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n"
		 "  labels: {app: %s}\n%sspec:\n%s%s  containers: [{name: c, image: busybox}]\n",
		 name, ns, app, refs, node ? "  nodeName: node-1\n" : "",
		 once ? "  restartPolicy: Never\n" : "");
	create_yaml(c, text, NULL);
}

struct scenario {
	char ns[32];
	int replicas, owned, orphans, mislabelled, terminal, deleting, foreign;
};

/* Every pod of ns that rs controls and that is active; how many are ready, fully labelled. */
static size_t
active_owned(struct cluster *c, const char *ns, const char *uid, size_t *ret_ready,
	     size_t *ret_labelled)
{
	_cleanup_json_ json_t *pods = list_objs(c, "v1", "Pod", ns, NULL);
	size_t n = 0, ready = 0, labelled = 0, i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		if (!controlled_by(pod, uid) || !pod_active(pod))
			continue;
		n++;
		if (pod_ready(pod))
			ready++;
		if (streq(jp_str(pod, "metadata.labels.tier"), "web"))
			labelled++;
	}
	if (ret_ready)
		*ret_ready = ready;
	if (ret_labelled)
		*ret_labelled = labelled;
	return n;
}

static void
test_converges_from_every_start_state(void **state)
{
	struct cluster c;
	cluster_init(&c, &(struct controller_manager_options){ .no_leader_election = true }, false);
	c.schedule = true;
	c.node_max_pods = 1000; /* 72 namespaces' pods on one node */
	add_node(&c, "node-1");
	static const int replicas[] = { 0, 3 };
	static const int owned[] = { 0, 2, 5 };
	struct scenario sc[200];
	size_t n = 0;
	for (size_t a = 0; a < 2; a++)
		for (size_t b = 0; b < 3; b++)
			for (int orph = 0; orph <= 2; orph += 2)
				for (int mis = 0; mis <= 1; mis++)
					for (int term = 0; term <= 1; term++)
						for (int foreign = 0; foreign <= 1; foreign++) {
							struct scenario *s = &sc[n];
							snprintf(s->ns, sizeof(s->ns), "s%zu", n);
							s->replicas = replicas[a];
							s->owned = owned[b];
							s->orphans = orph;
							s->mislabelled = mis;
							s->terminal = term;
							s->deleting = term;
							s->foreign = foreign;
							n++;
						}
	/* Every start state is laid out before the controller looks at any of them. */
	for (size_t i = 0; i < n; i++) {
		struct scenario *s = &sc[i];
		char text[16384];
		snprintf(text, sizeof(text),
			 "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", s->ns);
		create_yaml(&c, text, NULL);
		_cleanup_json_ json_t *rs = NULL, *other = NULL;
		rs_yaml(text, sizeof(text), s->ns, "web", s->replicas, "", "");
		create_yaml(&c, text, &rs);
		/* Another controller (any kind will do) owns the foreign pod. */
		snprintf(
			text, sizeof(text),
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: %s}\n",
			s->ns);
		create_yaml(&c, text, &other);
		for (int k = 0; k < s->owned; k++) {
			char name[32];
			snprintf(name, sizeof(name), "owned-%d", k);
			make_pod(&c, s->ns, name, "web", rs, "ReplicaSet", k % 2 ? "node-1" : NULL,
				 false);
		}
		for (int k = 0; k < s->orphans; k++) {
			char name[32];
			snprintf(name, sizeof(name), "orphan-%d", k);
			make_pod(&c, s->ns, name, "web", NULL, NULL, NULL, false);
		}
		if (s->mislabelled)
			make_pod(&c, s->ns, "mislabelled", "elsewhere", rs, "ReplicaSet", NULL,
				 false);
		if (s->foreign)
			make_pod(&c, s->ns, "foreign", "web", other, "ConfigMap", NULL, false);
		if (s->terminal) {
			make_pod(&c, s->ns, "done", "web", rs, "ReplicaSet", "node-1", true);
			settle(&c);
			pod_exit(&c, s->ns, "done", 0);
		}
		if (s->deleting) {
			make_pod(&c, s->ns, "going", "web", rs, "ReplicaSet", "node-1", false);
			_cleanup_json_ json_t *p = get_obj(&c, "v1", "Pod", s->ns, "going");
			json_object_set_new(json_object_get(p, "metadata"), "finalizers",
					    json_pack("[s]", "example.com/hold"));
			assert_int_equal(client_update(c.client, p, NULL, NULL, NULL, NULL), 0);
			assert_int_equal(client_delete(c.client, kind_lookup("v1", "Pod"), s->ns,
						       "going", NULL, NULL, NULL),
					 0);
		}
	}
	settle(&c);
	cluster_start(&c);
	assert_true(run_until(&c, NULL, NULL, 0, 0));
	for (size_t i = 0; i < n; i++) {
		struct scenario *s = &sc[i];
		_cleanup_json_ json_t *rs = get_obj(&c, "apps/v1", "ReplicaSet", s->ns, "web");
		const char *uid = jp_str(rs, "metadata.uid");
		size_t ready = 0, labelled = 0;
		size_t active = active_owned(&c, s->ns, uid, &ready, &labelled);
		if (active != (size_t)s->replicas || ready != active)
			fail_msg("%s (replicas %d owned %d orphans %d mislabelled %d terminal %d "
				 "foreign %d): %zu active, %zu ready",
				 s->ns, s->replicas, s->owned, s->orphans, s->mislabelled,
				 s->terminal, s->foreign, active, ready);
		assert_int_equal(jp_int(rs, "status.replicas", -1), s->replicas);
		assert_int_equal(jp_int(rs, "status.readyReplicas", 0), s->replicas);
		assert_int_equal(jp_int(rs, "status.availableReplicas", 0), s->replicas);
		/* Adopted pods lack the template's tier label: not fully labelled. */
		assert_int_equal(jp_int(rs, "status.fullyLabeledReplicas", 0), labelled);
		assert_int_equal(jp_int(rs, "status.observedGeneration", 0), 1);
		/* The mislabelled pod was released, not deleted. */
		if (s->mislabelled) {
			_cleanup_json_ json_t *p = get_obj(&c, "v1", "Pod", s->ns, "mislabelled");
			assert_non_null(p);
			assert_null(controller_ref(p));
		}
		/* The foreign pod and the finished one are untouched. */
		if (s->foreign) {
			_cleanup_json_ json_t *p = get_obj(&c, "v1", "Pod", s->ns, "foreign");
			assert_non_null(p);
			assert_string_equal(jp_str(controller_ref(p), "name"), "other");
		}
		if (s->terminal) {
			_cleanup_json_ json_t *p = get_obj(&c, "v1", "Pod", s->ns, "done");
			assert_non_null(p);
			assert_string_equal(pod_phase(p), "Succeeded");
		}
		/* Orphans are preferred to new pods: none was left out when there was room. */
		if (s->orphans && s->replicas >= s->owned + s->orphans) {
			_cleanup_json_ json_t *p = get_obj(&c, "v1", "Pod", s->ns, "orphan-0");
			assert_true(controlled_by(p, uid));
		}
	}
	/* Level-triggered and idempotent: a resync of everything writes nothing. */
	struct controller_stats before, after;
	controller_manager_stats(c.cm, &before);
	controller_manager_resync(c.cm);
	settle(&c);
	controller_manager_stats(c.cm, &after);
	assert_true(after.reconciles > before.reconciles);
	assert_int_equal(after.writes, before.writes);
	assert_int_equal(after.events, before.events);
	cluster_free(&c);
}

static void
test_scale_down_not_ready_and_newest_first(void **state)
{
	struct cluster c;
	cluster_init(&c, &(struct controller_manager_options){ .no_leader_election = true }, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	char text[16384];
	rs_yaml(text, sizeof(text), "default", "web", 1, "",
		", readinessProbe: {exec: {command: ['true']}, periodSeconds: 1, "
		"failureThreshold: 1}");
	create_yaml(&c, text, NULL);
	settle(&c);
	const struct kind_info *rsk = kind_lookup("apps/v1", "ReplicaSet");
	/* Pods born 10000 s, 100 s and 1 s before the scale-down: distinct powers of two. */
	advance(&c, 9900 * NSEC_PER_SEC);
	for (int want = 2; want <= 4; want++) {
		_cleanup_json_ json_t *p = json_pack("{s:{s:i}}", "spec", "replicas", want);
		assert_int_equal(client_patch(c.client, rsk, "default", "web", CLIENT_PATCH_MERGE,
					      p, NULL, NULL, NULL, NULL),
				 0);
		settle(&c);
		advance(&c, want == 2 ? 99 * NSEC_PER_SEC : NSEC_PER_SEC);
	}
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", NULL);
	assert_int_equal(json_array_size(pods), 4);
	/* Order the pods by age; make the second oldest not ready. */
	const char *by_age[4] = { 0 };
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		int64_t age =
			T0 + 10001 * NSEC_PER_SEC - jp_time(pod, "metadata.creationTimestamp", 0);
		int slot = age > 9000 * NSEC_PER_SEC ? 0
			   : age > 50 * NSEC_PER_SEC ? 1
			   : age >= 2 * NSEC_PER_SEC ? 2
						     : 3;
		by_age[slot] = jp_str(pod, "metadata.name");
	}
	for (int k = 0; k < 4; k++)
		assert_non_null(by_age[k]);
	/* Its readiness probe fails from now on; the agent sees it at the next period. */
	set_pod_ready(&c, "default", by_age[1], false);
	advance(&c, NSEC_PER_SEC);
	_cleanup_json_ json_t *rs = get_obj(&c, "apps/v1", "ReplicaSet", "default", "web");
	assert_int_equal(jp_int(rs, "status.readyReplicas", 0), 3);
	/* Scale 4 -> 2: the not-ready pod goes, then the newest ready one. */
	_cleanup_json_ json_t *p = json_pack("{s:{s:i}}", "spec", "replicas", 2);
	assert_int_equal(client_patch(c.client, rsk, "default", "web", CLIENT_PATCH_MERGE, p, NULL,
				      NULL, NULL, NULL),
			 0);
	settle(&c);
	_cleanup_json_ json_t *left = list_objs(&c, "v1", "Pod", "default", NULL);
	assert_int_equal(json_array_size(left), 2);
	char names[2][64];
	for (int k = 0; k < 2; k++)
		snprintf(names[k], sizeof(names[k]), "%s",
			 jp_str0(json_array_get(left, (size_t)k), "metadata.name"));
	bool has0 = streq(names[0], by_age[0]) || streq(names[1], by_age[0]);
	bool has2 = streq(names[0], by_age[2]) || streq(names[1], by_age[2]);
	assert_true(has0 && has2);
	/* Each deletion was recorded; of the four creations, the first Event expired after its
	 * hour. */
	assert_int_equal(count_events(&c, "default", "web", "SuccessfulDelete"), 2);
	assert_int_equal(count_events(&c, "default", "web", "SuccessfulCreate"), 3);
	cluster_free(&c);
}

static void
test_expectations_prevent_duplicates(void **state)
{
	struct cluster c;
	cluster_init(&c, &(struct controller_manager_options){ .no_leader_election = true }, false);
	cluster_start(&c);
	char text[16384];
	rs_yaml(text, sizeof(text), "default", "web", 3, "", "");
	create_yaml(&c, text, NULL);
	/* One dispatch: the informer shows the ReplicaSet, the controller creates its pods, and
	 * their adds have not reached the pod cache yet. Reconciling again by hand then sees no
	 * pods at all. */
	korch_loop_dispatch(c.loop, 0, NULL);
	assert_int_equal(count_objs(&c, "v1", "Pod", "default", NULL), 3);
	assert_int_equal(informer_count(cm_informer(c.cm, "v1", "Pod")), 0);
	/* The stale cache shows no pods; the status write may meet a conflict, the pods stay 3. */
	for (int i = 0; i < 2; i++) {
		int r = cm_sync_now(c.cm, "replicaset", "default/web");
		assert_true(r == 0 || r == KORCH_ECONFLICT);
	}
	assert_int_equal(count_objs(&c, "v1", "Pod", "default", NULL), 3);
	settle(&c);
	assert_int_equal(count_objs(&c, "v1", "Pod", "default", NULL), 3);
	_cleanup_json_ json_t *rs = get_obj(&c, "apps/v1", "ReplicaSet", "default", "web");
	assert_int_equal(jp_int(rs, "status.replicas", -1), 3);
	_cleanup_free_ char *msg = event_message(&c, "default", "web", "SuccessfulCreate");
	assert_non_null(msg);
	assert_non_null(startswith(msg, "Created pod: web-"));
	assert_int_equal(strlen(msg), strlen("Created pod: web-") + 5);
	cluster_free(&c);
}

static void
test_min_ready_seconds(void **state)
{
	struct cluster c;
	cluster_init(&c, &(struct controller_manager_options){ .no_leader_election = true }, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	char text[16384];
	rs_yaml(text, sizeof(text), "default", "web", 2, "  minReadySeconds: 10\n", "");
	create_yaml(&c, text, NULL);
	settle(&c);
	_cleanup_json_ json_t *rs = get_obj(&c, "apps/v1", "ReplicaSet", "default", "web");
	assert_int_equal(jp_int(rs, "status.readyReplicas", 0), 2);
	assert_int_equal(jp_int(rs, "status.availableReplicas", 0), 0);
	advance(&c, 9 * NSEC_PER_SEC);
	json_decref(rs);
	rs = get_obj(&c, "apps/v1", "ReplicaSet", "default", "web");
	assert_int_equal(jp_int(rs, "status.availableReplicas", 0), 0);
	/* The controller looks again when minReadySeconds have passed. */
	advance(&c, 2 * NSEC_PER_SEC);
	json_decref(rs);
	rs = get_obj(&c, "apps/v1", "ReplicaSet", "default", "web");
	assert_int_equal(jp_int(rs, "status.availableReplicas", 0), 2);
	cluster_free(&c);
}

static void
test_replication_controller(void **state)
{
	struct cluster c;
	cluster_init(&c, &(struct controller_manager_options){ .no_leader_election = true }, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	_cleanup_json_ json_t *rc = NULL;
	create_yaml(&c,
		    "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc, namespace: "
		    "default}\nspec:\n  replicas: 3\n  selector: {app: rc}\n  template:\n"
		    "    metadata: {labels: {app: rc}}\n"
		    "    spec: {containers: [{name: c, image: busybox}]}\n",
		    &rc);
	settle(&c);
	assert_int_equal(active_owned(&c, "default", jp_str(rc, "metadata.uid"), NULL, NULL), 3);
	_cleanup_json_ json_t *now = get_obj(&c, "v1", "ReplicationController", "default", "rc");
	assert_int_equal(jp_int(now, "status.replicas", -1), 3);
	assert_int_equal(jp_int(now, "status.readyReplicas", 0), 3);
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", "app=rc");
	const json_t *ref = controller_ref(json_array_get(pods, 0));
	assert_string_equal(jp_str(ref, "kind"), "ReplicationController");
	assert_string_equal(jp_str(ref, "apiVersion"), "v1");
	assert_true(jp_true(ref, "blockOwnerDeletion"));
	/* Deleting a pod gets it replaced. */
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Pod"), "default",
				       jp_str(json_array_get(pods, 0), "metadata.name"), NULL, NULL,
				       NULL),
			 0);
	settle(&c);
	assert_int_equal(active_owned(&c, "default", jp_str(rc, "metadata.uid"), NULL, NULL), 3);
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_converges_from_every_start_state),
		cmocka_unit_test(test_scale_down_not_ready_and_newest_first),
		cmocka_unit_test(test_expectations_prevent_duplicates),
		cmocka_unit_test(test_min_ready_seconds),
		cmocka_unit_test(test_replication_controller),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
