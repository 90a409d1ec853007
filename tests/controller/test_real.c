/*
 * The controllers with real containers (suite root): a Deployment of two busybox pods run by the
 * node agent over the real backend and korch-monitor, on the real clock, is rolled out, then
 * updated (maxSurge 1, maxUnavailable 0): at every turn of the loop there are never more than
 * three pods nor fewer than two ready ones; afterwards the new pods' containers run with the
 * new environment and the old ones' processes are gone. Pods name their node (no scheduler).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "controller/controller.h"
#include "controller/deployment.h"
#include "controller/util.h"
#include "../node/node-real.h"

static json_t *
list_web(struct rn *t)
{
	json_t *list = NULL;
	struct client_list_opts lo = { .label_selector = "app=web" };
	assert_int_equal(
		client_list(t->client, kind_lookup("v1", "Pod"), "default", &lo, &list, NULL), 0);
	json_t *items = json_incref(json_object_get(list, "items"));
	json_decref(list);
	return items;
}

struct bounds {
	int max_live;  /* most pods not being deleted at once */
	int min_ready; /* fewest ready pods at once, once the update began */
};

static void
check_bounds(struct rn *t, struct bounds *b)
{
	_cleanup_json_ json_t *pods = list_web(t);
	int live = 0, ready = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		if (jp_get(pod, "metadata.deletionTimestamp"))
			continue;
		live++;
		ready += pod_ready(pod);
	}
	b->max_live = MAX(b->max_live, live);
	b->min_ready = MIN(b->min_ready, ready);
}

/* Runs the loop until the Deployment has rolled out, checking the bounds on the way. */
static bool
wait_rolled_out(struct rn *t, struct bounds *b, int ms)
{
	for (int waited = 0; waited < ms; waited += 20) {
		rn_run_for(t, 20);
		if (b)
			check_bounds(t, b);
		json_t *d = NULL;
		if (client_get(t->client, kind_lookup("apps/v1", "Deployment"), "default", "web",
			       &d, NULL) < 0)
			continue;
		int r = deployment_rollout_status(d, NULL);
		json_decref(d);
		if (r == 1)
			return true;
	}
	return false;
}

/* The host pid of a pod's container (0 when the monitor does not know it). */
static pid_t
container_pid(struct rn *t, const json_t *pod)
{
	const char *cid =
		jp_str(json_array_get(jp_get(pod, "status.containerStatuses"), 0), "containerID");
	if (!cid || !startswith(cid, "korch://"))
		return 0;
	_cleanup_json_ json_t *st = rn_monitor_state(t, cid + 8);
	return (pid_t)json_integer_value(json_object_get(st, "pid"));
}

static bool
process_exists(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

/* The agent and the manager on one loop; torn down (containers and all) even after a failure. */
struct fixture {
	struct rn t;                   /* the node's harness */
	struct controller_manager *cm; /* the controllers */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	*state = f;
	rn_init(&f->t);
	rn_start_agent(&f->t);
	struct controller_manager_options o = { .no_leader_election = true };
	korch_error *err = NULL;
	if (controller_manager_new(f->t.client, f->t.loop, &o, &f->cm, &err) < 0 ||
	    controller_manager_start(f->cm, &err) < 0)
		fail_msg("manager: %s", korch_error_message(err));
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	controller_manager_free(f->cm);
	rn_fini(&f->t);
	free(f);
	return 0;
}

static void
test_rolling_update_real(void **state)
{
	struct fixture *f = *state;
	struct rn *t = &f->t;
	korch_error *err = NULL;
	_cleanup_json_ json_t *d = json_loads(
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
		"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		"\"strategy\":{\"type\":\"RollingUpdate\","
		"\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":0}},"
		"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
		"\"spec\":{\"nodeName\":\"" RN_NODE "\",\"terminationGracePeriodSeconds\":1,"
		"\"containers\":[{\"name\":\"c\",\"image\":\"" RN_IMAGE "\","
		"\"command\":[\"sh\",\"-c\",\"echo version $VERSION; exec sleep 3600\"],"
		"\"env\":[{\"name\":\"VERSION\",\"value\":\"1\"}],"
		"\"readinessProbe\":{\"exec\":{\"command\":[\"true\"]},\"periodSeconds\":1}}]}}}}",
		0, NULL);
	assert_non_null(d);
	struct client_write_opts wo = { .field_manager = "test" };
	if (client_create(t->client, d, &wo, NULL, &err) < 0)
		fail_msg("create: %s", korch_error_message(err));
	assert_true(wait_rolled_out(t, NULL, 60000));
	_cleanup_json_ json_t *before = list_web(t);
	assert_int_equal(json_array_size(before), 2);
	pid_t old_pids[2];
	char old_names[2][64];
	for (size_t i = 0; i < 2; i++) {
		json_t *pod = json_array_get(before, i);
		old_pids[i] = container_pid(t, pod);
		assert_true(process_exists(old_pids[i]));
		snprintf(old_names[i], sizeof(old_names[i]), "%s", jp_str0(pod, "metadata.name"));
		assert_true(rn_wait_log(t, old_names[i], "c", "version 1", 10000));
	}
	/* The update: a new environment, one pod more at most, none fewer ready. */
	struct bounds b = { 0, 2 };
	_cleanup_json_ json_t *patch =
		json_loads("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\","
			   "\"env\":[{\"name\":\"VERSION\",\"value\":\"2\"}]}]}}}}",
			   0, NULL);
	if (client_patch(t->client, kind_lookup("apps/v1", "Deployment"), "default", "web",
			 CLIENT_PATCH_STRATEGIC, patch, NULL, NULL, NULL, &err) < 0)
		fail_msg("patch: %s", korch_error_message(err));
	assert_true(wait_rolled_out(t, &b, 90000));
	assert_int_equal(b.max_live, 3);
	assert_int_equal(b.min_ready, 2);
	/* The old pods are gone, and so are their processes. */
	for (size_t i = 0; i < 2; i++) {
		assert_true(rn_wait_gone(t, old_names[i], 30000));
		for (int k = 0; k < 100 && process_exists(old_pids[i]); k++)
			rn_run_for(t, 100);
		assert_false(process_exists(old_pids[i]));
	}
	_cleanup_json_ json_t *after = list_web(t);
	assert_int_equal(json_array_size(after), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *pod = json_array_get(after, i);
		const char *name = jp_str0(pod, "metadata.name");
		assert_string_equal(jp_str(pod, "status.phase"), "Running");
		assert_true(pod_ready(pod));
		assert_true(process_exists(container_pid(t, pod)));
		assert_true(rn_wait_log(t, name, "c", "version 2", 10000));
	}
	/* Two ReplicaSets: the new one at 2, the old at 0. */
	json_t *list = NULL;
	assert_int_equal(client_list(t->client, kind_lookup("apps/v1", "ReplicaSet"), "default",
				     NULL, &list, NULL),
			 0);
	json_t *rss = json_object_get(list, "items");
	assert_int_equal(json_array_size(rss), 2);
	int64_t sizes = 0;
	size_t i;
	json_t *rs;
	json_array_foreach (rss, i, rs)
		sizes = sizes * 10 + jp_int(rs, "spec.replicas", -1);
	assert_true(sizes == 20 || sizes == 2);
	json_decref(list);
}

int
main(void)
{
	if (rn_skip())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rolling_update_real, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
