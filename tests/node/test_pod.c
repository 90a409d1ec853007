/*
 * The node agent on the simulated runtime: a pod runs and reports Kubernetes' status, is written
 * only when it changes, ends gracefully on delete (preStop, stop signal, SIGKILL after the
 * grace), init containers run in order, restart policies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "node-test.h"

#define POD(name, extra)                                                         \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"default\"},\"spec\":{" extra "}}"

static int
setup(void **state)
{
	struct nt *t = calloc(1, sizeof(*t));
	nt_init(t);
	nt_start_agent(t);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct nt *t = *state;
	nt_fini(t);
	free(t);
	return 0;
}

static void
test_pod_runs(void **state)
{
	struct nt *t = *state;
	nt_create(t, POD("web", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	assert_string_equal(nt_status_str(t, "web", "phase"), "Running");
	assert_string_equal(nt_condition(t, "web", "PodReadyToStartContainers"), "True");
	assert_string_equal(nt_condition(t, "web", "Initialized"), "True");
	assert_string_equal(nt_condition(t, "web", "ContainersReady"), "True");
	assert_string_equal(nt_condition(t, "web", "Ready"), "True");
	assert_string_equal(nt_condition(t, "web", "PodScheduled"), "True");
	assert_string_equal(nt_status_str(t, "web", "containerStatuses.0.name"), "app");
	assert_non_null(nt_status(t, "web", "containerStatuses.0.state.running.startedAt"));
	assert_true(json_is_true(nt_status(t, "web", "containerStatuses.0.ready")));
	assert_true(json_is_true(nt_status(t, "web", "containerStatuses.0.started")));
	assert_int_equal(nt_status_int(t, "web", "containerStatuses.0.restartCount"), 0);
	assert_string_equal(nt_status_str(t, "web", "containerStatuses.0.image"), "busybox");
	assert_string_equal(nt_status_str(t, "web", "containerStatuses.0.containerID"),
			    "sim://sim-000001-app");
	assert_true(startswith(nt_status_str(t, "web", "containerStatuses.0.imageID"),
			       "busybox@sha256:"));
	assert_string_equal(nt_status_str(t, "web", "qosClass"), "BestEffort");
	assert_string_equal(nt_status_str(t, "web", "hostIP"), "192.168.1.10");
	assert_null(nt_status(t, "web", "podIP"));
	assert_string_equal(nt_status_str(t, "web", "startTime"), "2025-11-24T16:00:00Z");
	assert_string_equal(sim_event_log(t->sim),
			    "0.000 sandbox default/web\n"
			    "0.000 create default/web/app#0 as sim-000001-app\n"
			    "0.000 start default/web/app pid 1000\n");
	/* Idle: nothing more is written to the pod. */
	long long rv = nt_rv(t, "Pod", "default", "web");
	nt_advance(t, 120);
	assert_int_equal(nt_rv(t, "Pod", "default", "web"), rv);
}

static void
test_pending_status(void **state)
{
	struct nt *t = *state;
	assert_int_equal(sim_image_set_missing(t->sim, "nosuch:1", true, NULL), 0);
	nt_create(t, POD("missing", "\"containers\":[{\"name\":\"app\",\"image\":\"nosuch:1\","
				    "\"imagePullPolicy\":\"Never\"}]"));
	nt_create(t, POD("fine", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	assert_string_equal(nt_status_str(t, "missing", "phase"), "Pending");
	assert_string_equal(nt_status_str(t, "missing", "containerStatuses.0.state.waiting.reason"),
			    "ErrImageNeverPull");
	assert_string_equal(
		nt_status_str(t, "missing", "containerStatuses.0.state.waiting.message"),
		"image \"nosuch:1\" not found in the local store; load it with: korchctl image "
		"load FILE");
	assert_string_equal(nt_condition(t, "missing", "Ready"), "False");
	assert_string_equal(nt_status_str(t, "missing", "conditions.2.reason"),
			    "ContainersNotReady");
	assert_string_equal(nt_status_str(t, "missing", "conditions.2.message"),
			    "containers with unready status: [app]");
	assert_string_equal(nt_status_str(t, "missing", "containerStatuses.0.imageID"), "");
	assert_null(nt_status(t, "missing", "containerStatuses.0.containerID"));
	/* The other pod is not held up. */
	assert_string_equal(nt_status_str(t, "fine", "phase"), "Running");
	/* Once the image is loaded, the next try (after the back-off) starts it. */
	assert_int_equal(sim_image_set_missing(t->sim, "nosuch:1", false, NULL), 0);
	nt_advance(t, 10);
	assert_string_equal(nt_status_str(t, "missing", "phase"), "Running");
}

static void
test_delete_graceful(void **state)
{
	struct nt *t = *state;
	struct sim_behavior b = { .ignore_sigterm = true };
	assert_int_equal(sim_set_behavior(t->sim, "default/stubborn/*", &b, NULL), 0);
	nt_create(t, POD("stubborn",
			 "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
			 "\"lifecycle\":{\"preStop\":{\"exec\":{\"command\":[\"/bin/stop\"]}}}}]"));
	assert_string_equal(nt_status_str(t, "stubborn", "phase"), "Running");
	sim_event_log_clear(t->sim);
	double t0 = nt_now(t);
	nt_delete(t, "stubborn", -1);
	/* preStop, then the stop signal (ignored), then SIGKILL at the 30 s default grace. */
	for (int i = 0; i < 40 && nt_rv(t, "Pod", "default", "stubborn") > 0; i++)
		nt_advance(t, 1);
	assert_int_equal(nt_rv(t, "Pod", "default", "stubborn"), -1);
	char want[512];
	snprintf(want, sizeof(want),
		 "%.3f exec default/stubborn/app [/bin/stop] exit 0\n"
		 "%.3f kill default/stubborn/app signal 15 ignored\n"
		 "%.3f kill default/stubborn/app signal 9\n"
		 "%.3f exit default/stubborn/app code 137\n"
		 "%.3f sandbox-remove default/stubborn\n",
		 t0, t0, t0 + 30, t0 + 30, t0 + 30);
	const char *log = sim_event_log(t->sim);
	assert_true(startswith(log, want));
	assert_int_equal(sim_sandbox_count(t->sim), 0);
	assert_int_equal(sim_count(t->sim, BACKEND_EXITED) + sim_count(t->sim, BACKEND_RUNNING), 0);
}

static void
test_init_order(void **state)
{
	struct nt *t = *state;
	struct sim_behavior b = { .run_ns = 2000000000LL };
	assert_int_equal(sim_set_behavior(t->sim, "default/init/init-*", &b, NULL), 0);
	nt_create(t, POD("init", "\"initContainers\":["
				 "{\"name\":\"init-a\",\"image\":\"busybox\"},"
				 "{\"name\":\"init-b\",\"image\":\"busybox\"}],"
				 "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	assert_string_equal(nt_status_str(t, "init", "phase"), "Pending");
	assert_string_equal(nt_condition(t, "init", "Initialized"), "False");
	assert_string_equal(nt_status_str(t, "init", "conditions.1.message"),
			    "containers with incomplete status: [init-a init-b]");
	assert_non_null(nt_status(t, "init", "initContainerStatuses.0.state.running"));
	assert_string_equal(
		nt_status_str(t, "init", "initContainerStatuses.1.state.waiting.reason"),
		"PodInitializing");
	assert_string_equal(nt_status_str(t, "init", "containerStatuses.0.state.waiting.reason"),
			    "PodInitializing");
	nt_advance(t, 2);
	assert_string_equal(
		nt_status_str(t, "init", "initContainerStatuses.0.state.terminated.reason"),
		"Completed");
	nt_advance(t, 2);
	assert_string_equal(nt_status_str(t, "init", "phase"), "Running");
	assert_string_equal(nt_condition(t, "init", "Initialized"), "True");
	assert_string_equal(sim_event_log(t->sim),
			    "0.000 sandbox default/init\n"
			    "0.000 create default/init/init-a#0 as sim-000001-init-a\n"
			    "0.000 start default/init/init-a pid 1000\n"
			    "2.000 exit default/init/init-a code 0\n"
			    "2.000 create default/init/init-b#0 as sim-000002-init-b\n"
			    "2.000 start default/init/init-b pid 1001\n"
			    "4.000 exit default/init/init-b code 0\n"
			    "4.000 create default/init/app#0 as sim-000003-app\n"
			    "4.000 start default/init/app pid 1002\n");
}

static void
test_init_failure_never(void **state)
{
	struct nt *t = *state;
	struct sim_behavior b = { .run_ns = 1000000, .exit_code = 3 };
	assert_int_equal(sim_set_behavior(t->sim, "default/bad/init-a", &b, NULL), 0);
	nt_create(t, POD("bad", "\"restartPolicy\":\"Never\",\"initContainers\":["
				"{\"name\":\"init-a\",\"image\":\"busybox\"}],"
				"\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	nt_advance(t, 1);
	assert_string_equal(nt_status_str(t, "bad", "phase"), "Failed");
	assert_int_equal(
		nt_status_int(t, "bad", "initContainerStatuses.0.state.terminated.exitCode"), 3);
	assert_string_equal(
		nt_status_str(t, "bad", "initContainerStatuses.0.state.terminated.reason"),
		"Error");
	assert_string_equal(nt_status_str(t, "bad", "containerStatuses.0.state.waiting.reason"),
			    "PodInitializing");
	assert_string_equal(nt_status_str(t, "bad", "conditions.3.reason"), "PodFailed");
	assert_int_equal(sim_sandbox_count(t->sim), 0);
}

static void
test_restart_policies(void **state)
{
	struct nt *t = *state;
	struct sim_behavior ok = { .run_ns = 1000000 };
	struct sim_behavior fail = ok;
	fail.exit_code = 2;
	assert_int_equal(sim_set_behavior(t->sim, "default/never-ok/*", &ok, NULL), 0);
	assert_int_equal(sim_set_behavior(t->sim, "default/onfail-ok/*", &ok, NULL), 0);
	assert_int_equal(sim_set_behavior(t->sim, "default/onfail-bad/*", &fail, NULL), 0);
	nt_create(t, POD("never-ok", "\"restartPolicy\":\"Never\","
				     "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]"));
	nt_create(t, POD("onfail-ok", "\"restartPolicy\":\"OnFailure\","
				      "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]"));
	nt_create(t, POD("onfail-bad", "\"restartPolicy\":\"OnFailure\","
				       "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]"));
	nt_advance(t, 1);
	assert_string_equal(nt_status_str(t, "never-ok", "phase"), "Succeeded");
	assert_string_equal(nt_condition(t, "never-ok", "Ready"), "False");
	assert_string_equal(nt_status_str(t, "never-ok", "conditions.2.reason"), "PodCompleted");
	assert_string_equal(nt_status_str(t, "never-ok", "conditions.1.reason"), "PodCompleted");
	assert_string_equal(nt_status_str(t, "onfail-ok", "phase"), "Succeeded");
	assert_string_equal(nt_status_str(t, "onfail-bad", "phase"), "Running");
	assert_int_equal(nt_status_int(t, "onfail-bad", "containerStatuses.0.restartCount"), 1);
	assert_int_equal(
		nt_status_int(t, "onfail-bad", "containerStatuses.0.lastState.terminated.exitCode"),
		2);
}

static void
test_sidecar(void **state)
{
	struct nt *t = *state;
	struct sim_behavior once = { .run_ns = 1000000000LL };
	assert_int_equal(sim_set_behavior(t->sim, "default/side/setup", &once, NULL), 0);
	nt_create(t, POD("side",
			 "\"initContainers\":["
			 "{\"name\":\"proxy\",\"image\":\"busybox\",\"restartPolicy\":\"Always\"},"
			 "{\"name\":\"setup\",\"image\":\"busybox\"}],"
			 "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	/* The sidecar runs, the next init container starts beside it. */
	assert_non_null(nt_status(t, "side", "initContainerStatuses.0.state.running"));
	assert_non_null(nt_status(t, "side", "initContainerStatuses.1.state.running"));
	assert_string_equal(nt_status_str(t, "side", "phase"), "Pending");
	nt_advance(t, 1);
	assert_string_equal(nt_status_str(t, "side", "phase"), "Running");
	assert_string_equal(nt_condition(t, "side", "Initialized"), "True");
	/* The sidecar exits: restarted, the app keeps running, init containers do not run again. */
	const char *proxy = sim_container_find(t->sim, "default", "side", "proxy");
	assert_int_equal(sim_container_exit(t->sim, proxy, 1, NULL), 0);
	nt_pump(t);
	assert_int_equal(nt_status_int(t, "side", "initContainerStatuses.0.restartCount"), 1);
	assert_int_equal(nt_status_int(t, "side", "initContainerStatuses.1.restartCount"), 0);
	assert_int_equal(nt_status_int(t, "side", "containerStatuses.0.restartCount"), 0);
	assert_string_equal(nt_status_str(t, "side", "phase"), "Running");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pod_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_graceful, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_failure_never, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sidecar, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
