/*
 * Restarts, probes and deadlines on the simulated runtime with the test clock: the kubelet's
 * crash back-off (scenario 37: 10, 20, 40, 80, 160, 300, 300 s, reset after 10 minutes of
 * clean running), liveness restarts, readiness toggling Ready, startup gating, OOMKilled,
 * activeDeadlineSeconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
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

/* Times (loop seconds) of the "start" events of pod/container in the sim's log. */
static size_t
start_times(struct nt *t, const char *what, double *out, size_t max)
{
	const char *log = sim_event_log(t->sim);
	char pat[128];
	snprintf(pat, sizeof(pat), " start %s pid ", what);
	size_t n = 0;
	for (const char *line = log; *line && n < max;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[256];
		snprintf(buf, sizeof(buf), "%.*s", (int)MIN(len, sizeof(buf) - 1), line);
		if (strstr(buf, pat))
			out[n++] = atof(buf);
		line += len + (end ? 1 : 0);
	}
	return n;
}

static void
test_crash_backoff(void **state)
{
	struct nt *t = *state;
	struct sim_behavior crash = { .run_ns = 1000000, .exit_code = 1 };
	assert_int_equal(sim_set_behavior(t->sim, "default/crash/*", &crash, NULL), 0);
	nt_create(t, POD("crash", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	/* Let it crash through eight restarts: 0 + 10 + 20 + 40 + 80 + 160 + 300 + 300 s. */
	for (int i = 0; i < 950; i++)
		nt_advance(t, 1);
	double s[16];
	size_t n = start_times(t, "default/crash/app", s, 16);
	assert_true(n >= 9);
	/* The first restart is at once (the kubelet's back-off has no entry yet), then the
	 * delay from each exit (1 ms after its start) to the next start doubles. */
	static const double gaps[] = { 0, 10, 20, 40, 80, 160, 300, 300 };
	for (size_t i = 0; i < 8; i++) {
		double gap = s[i + 1] - (s[i] + 0.001);
		if (fabs(gap - gaps[i]) > 1.0)
			fail_msg("restart %zu came %.3f s after the exit, not %.0f s", i + 1, gap,
				 gaps[i]);
	}
	assert_string_equal(nt_status_str(t, "crash", "phase"), "Running");
	/* While waiting: CrashLoopBackOff with the kubelet's message and the restart count. */
	nt_advance(t, 1);
	assert_string_equal(nt_status_str(t, "crash", "containerStatuses.0.state.waiting.reason"),
			    "CrashLoopBackOff");
	const json_t *uid = nt_get(t, "Pod", "default", "crash");
	char want[256];
	snprintf(want, sizeof(want),
		 "back-off 5m0s restarting failed container=app pod=crash_default(%s)",
		 json_string_value(json_object_get(json_object_get(uid, "metadata"), "uid")));
	json_decref((json_t *)uid);
	assert_string_equal(nt_status_str(t, "crash", "containerStatuses.0.state.waiting.message"),
			    want);
	assert_int_equal(
		nt_status_int(t, "crash", "containerStatuses.0.lastState.terminated.exitCode"), 1);
	assert_int_equal(nt_status_int(t, "crash", "containerStatuses.0.restartCount"),
			 (long long)n - 1);
}

static void
test_backoff_reset(void **state)
{
	struct nt *t = *state;
	struct sim_behavior crash = { .run_ns = 1000000, .exit_code = 1 };
	assert_int_equal(sim_set_behavior(t->sim, "default/flaky/*", &crash, NULL), 0);
	nt_create(t, POD("flaky", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	for (int i = 0; i < 40; i++)
		nt_advance(t, 1);
	/* Restarts at 0, 10, 20 s gaps: the next back-off is 40 s. Now it runs 11 minutes. */
	double s[16];
	assert_int_equal(start_times(t, "default/flaky/app", s, 16), 4);
	struct sim_behavior steady = crash;
	steady.run_ns = 11 * 60 * 1000000000LL;
	assert_int_equal(sim_set_behavior(t->sim, "default/flaky/*", &steady, NULL), 0);
	for (int i = 0; i < 40; i++)
		nt_advance(t, 1);
	assert_int_equal(start_times(t, "default/flaky/app", s, 16), 5);
	double long_start = s[4];
	/* It crashes after 11 minutes of clean running: restarted at once, back-off forgotten. */
	assert_int_equal(sim_set_behavior(t->sim, "default/flaky/*", &crash, NULL), 0);
	nt_advance(t, 11 * 60 - (nt_now(t) - long_start));
	assert_int_equal(start_times(t, "default/flaky/app", s, 16), 6);
	assert_true(fabs(s[5] - (long_start + 660)) < 0.01);
	/* The next crash waits 10 s again, not 80. */
	nt_advance(t, 9);
	assert_int_equal(start_times(t, "default/flaky/app", s, 16), 6);
	nt_advance(t, 2);
	assert_int_equal(start_times(t, "default/flaky/app", s, 16), 7);
	assert_true(fabs(s[6] - (s[5] + 0.001 + 10)) < 0.01);
}

static void
test_liveness_restart(void **state)
{
	struct nt *t = *state;
	nt_create(t, POD("live", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
				 "\"livenessProbe\":{\"exec\":{\"command\":[\"true\"]},"
				 "\"periodSeconds\":5,\"failureThreshold\":3}}]"));
	nt_advance(t, 12);
	assert_int_equal(nt_status_int(t, "live", "containerStatuses.0.restartCount"), 0);
	const char *id = sim_container_find(t->sim, "default", "live", "app");
	assert_int_equal(sim_container_set_probe(t->sim, id, "liveness", SIM_PROBE_FAIL, NULL), 0);
	sim_event_log_clear(t->sim);
	double t0 = nt_now(t);
	/* Probes at 15, 20, 25 s fail; the third failure kills the container (SIGTERM). */
	nt_advance(t, 14);
	assert_int_equal(nt_status_int(t, "live", "containerStatuses.0.restartCount"), 1);
	assert_string_equal(
		nt_status_str(t, "live", "containerStatuses.0.lastState.terminated.reason"),
		"Error");
	assert_int_equal(
		nt_status_int(t, "live", "containerStatuses.0.lastState.terminated.exitCode"), 143);
	char want[128];
	snprintf(want, sizeof(want), "%.3f kill default/live/app signal 15\n", t0 + 13);
	assert_non_null(strstr(sim_event_log(t->sim), want));
}

static void
test_readiness_toggle(void **state)
{
	struct nt *t = *state;
	nt_create(t, POD("ready", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
				  "\"readinessProbe\":{\"httpGet\":{\"port\":8080},"
				  "\"initialDelaySeconds\":3,\"periodSeconds\":2}}]"));
	/* Not ready until the first probe passes. */
	assert_string_equal(nt_condition(t, "ready", "Ready"), "False");
	assert_string_equal(nt_status_str(t, "ready", "phase"), "Running");
	nt_advance(t, 3);
	assert_string_equal(nt_condition(t, "ready", "Ready"), "True");
	assert_string_equal(nt_condition(t, "ready", "ContainersReady"), "True");
	const char *id = sim_container_find(t->sim, "default", "ready", "app");
	assert_int_equal(sim_container_set_probe(t->sim, id, "readiness", SIM_PROBE_FAIL, NULL), 0);
	/* failureThreshold 3 at 2 s: unready after the third failure. */
	nt_advance(t, 4);
	assert_string_equal(nt_condition(t, "ready", "Ready"), "True");
	nt_advance(t, 2);
	assert_string_equal(nt_condition(t, "ready", "Ready"), "False");
	assert_false(json_is_true(nt_status(t, "ready", "containerStatuses.0.ready")));
	assert_int_equal(nt_status_int(t, "ready", "containerStatuses.0.restartCount"), 0);
	assert_int_equal(sim_container_set_probe(t->sim, id, "readiness", SIM_PROBE_PASS, NULL), 0);
	nt_advance(t, 2);
	assert_string_equal(nt_condition(t, "ready", "Ready"), "True");
}

static void
test_startup_gates(void **state)
{
	struct nt *t = *state;
	struct sim_behavior slow = { .liveness = SIM_PROBE_FAIL, .startup = SIM_PROBE_FAIL };
	assert_int_equal(sim_set_behavior(t->sim, "default/slow/*", &slow, NULL), 0);
	nt_create(t, POD("slow", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
				 "\"startupProbe\":{\"exec\":{\"command\":[\"true\"]},"
				 "\"periodSeconds\":1,\"failureThreshold\":30},"
				 "\"livenessProbe\":{\"exec\":{\"command\":[\"true\"]},"
				 "\"periodSeconds\":1,\"failureThreshold\":1}}]"));
	/* Liveness fails but does not run while the startup probe has not passed. */
	nt_advance(t, 10);
	assert_false(json_is_true(nt_status(t, "slow", "containerStatuses.0.started")));
	assert_int_equal(nt_status_int(t, "slow", "containerStatuses.0.restartCount"), 0);
	const char *id = sim_container_find(t->sim, "default", "slow", "app");
	assert_int_equal(sim_container_set_probe(t->sim, id, "startup", SIM_PROBE_PASS, NULL), 0);
	assert_int_equal(sim_container_set_probe(t->sim, id, "liveness", SIM_PROBE_PASS, NULL), 0);
	nt_advance(t, 1);
	assert_true(json_is_true(nt_status(t, "slow", "containerStatuses.0.started")));
	assert_string_equal(nt_condition(t, "slow", "Ready"), "True");
	/* A startup probe that never passes kills the container after failureThreshold. */
	struct sim_behavior hang = { .startup = SIM_PROBE_FAIL };
	assert_int_equal(sim_set_behavior(t->sim, "default/never/*", &hang, NULL), 0);
	nt_create(t, POD("never", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
				  "\"startupProbe\":{\"exec\":{\"command\":[\"true\"]},"
				  "\"periodSeconds\":1,\"failureThreshold\":3}}]"));
	/* Probes at 0, 1, 2 s fail: killed, restarted after the stop. */
	nt_advance(t, 4);
	assert_int_equal(nt_status_int(t, "never", "containerStatuses.0.restartCount"), 1);
}

static void
test_oom_killed(void **state)
{
	struct nt *t = *state;
	nt_create(t, POD("hog", "\"restartPolicy\":\"Never\","
				"\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
				"\"resources\":{\"limits\":{\"memory\":\"64Mi\"}}}]"));
	const char *id = sim_container_find(t->sim, "default", "hog", "app");
	json_t *cfg = sim_container_config(t->sim, id);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(cfg, "resources"), "memory")),
		64 << 20);
	json_decref(cfg);
	assert_int_equal(sim_container_oom(t->sim, id, NULL), 0);
	nt_pump(t);
	assert_string_equal(nt_status_str(t, "hog", "phase"), "Failed");
	assert_string_equal(nt_status_str(t, "hog", "containerStatuses.0.state.terminated.reason"),
			    "OOMKilled");
	assert_int_equal(nt_status_int(t, "hog", "containerStatuses.0.state.terminated.exitCode"),
			 137);
	assert_string_equal(nt_status_str(t, "hog", "qosClass"), "Burstable");
}

static void
test_active_deadline(void **state)
{
	struct nt *t = *state;
	nt_create(t, POD("late", "\"activeDeadlineSeconds\":30,"
				 "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	nt_advance(t, 29);
	assert_string_equal(nt_status_str(t, "late", "phase"), "Running");
	nt_advance(t, 1);
	assert_string_equal(nt_status_str(t, "late", "phase"), "Failed");
	assert_string_equal(nt_status_str(t, "late", "reason"), "DeadlineExceeded");
	assert_string_equal(nt_status_str(t, "late", "message"),
			    "Pod was active on the node longer than the specified deadline");
	assert_int_equal(sim_count(t->sim, BACKEND_RUNNING), 0);
	assert_int_equal(nt_status_int(t, "late", "containerStatuses.0.state.terminated.exitCode"),
			 143);
}

static void
test_post_start_and_image_change(void **state)
{
	struct nt *t = *state;
	nt_create(t, POD("hooks",
			 "\"containers\":[{\"name\":\"app\",\"image\":\"busybox:1\","
			 "\"lifecycle\":{\"postStart\":{\"exec\":{\"command\":[\"warm\"]}}}}]"));
	assert_string_equal(nt_status_str(t, "hooks", "phase"), "Running");
	assert_non_null(strstr(sim_event_log(t->sim), "exec default/hooks/app [warm] exit 0\n"));
	/* A new image: the container is stopped and made again from it. */
	json_t *pod = nt_get(t, "Pod", "default", "hooks");
	json_object_set_new(
		json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0),
		"image", json_string("busybox:2"));
	assert_int_equal(client_update(t->client, pod, NULL, NULL, NULL, NULL), 0);
	json_decref(pod);
	nt_pump(t);
	assert_int_equal(nt_status_int(t, "hooks", "containerStatuses.0.restartCount"), 1);
	assert_string_equal(nt_status_str(t, "hooks", "containerStatuses.0.image"), "busybox:2");
	assert_string_equal(nt_status_str(t, "hooks", "phase"), "Running");
	/* A postStart hook that fails kills the container (FailedPostStartHook). */
	struct sim_behavior failing = { .exec_exit_code = 1 };
	assert_int_equal(sim_set_behavior(t->sim, "default/badhook/*", &failing, NULL), 0);
	nt_create(t, POD("badhook", "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":"
				    "\"app\",\"image\":\"busybox\",\"lifecycle\":{\"postStart\":{"
				    "\"exec\":{\"command\":[\"warm\"]}}}}]"));
	assert_string_equal(nt_status_str(t, "badhook", "phase"), "Failed");
	assert_int_equal(
		nt_status_int(t, "badhook", "containerStatuses.0.state.terminated.exitCode"), 143);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_liveness_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readiness_toggle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_gates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_start_and_image_change, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
