/*
 * The CronJob controller under the test clock: Jobs start at their scheduled times (named by
 * the time), in the schedule's time zone; Forbid, Replace, history limits, suspend, a missed
 * start within and past startingDeadlineSeconds.
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

static void
start(struct cluster *c, bool run)
{
	static const struct controller_manager_options o = { .no_leader_election = true };
	cluster_init(c, &o, false);
	c->schedule = true;
	add_node(c, "node-1");
	if (run)
		cluster_start(c);
}

static void
cronjob(struct cluster *c, const char *name, const char *schedule, const char *extra)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: %s, namespace: default}\n"
		 "spec:\n  schedule: '%s'\n%s  jobTemplate:\n    metadata: {labels: {from: %s}}\n"
		 "    spec:\n      template:\n        spec:\n          restartPolicy: Never\n"
		 "          containers: [{name: c, image: busybox}]\n",
		 name, schedule, extra, name);
	create_yaml(c, text, NULL);
}

static json_t *
jobs_of(struct cluster *c, const char *name)
{
	char sel[64];
	snprintf(sel, sizeof(sel), "from=%s", name);
	return list_objs(c, "batch/v1", "Job", "default", sel);
}

static size_t
n_jobs(struct cluster *c, const char *name)
{
	_cleanup_json_ json_t *j = jobs_of(c, name);
	return json_array_size(j);
}

/* Minutes since the epoch of T0 + offset seconds (a Job's name suffix). */
static long long
minutes(int64_t offset_s)
{
	return (long long)((T0 / NSEC_PER_SEC + offset_s) / 60);
}

/* The running pods of every Job of the CronJob succeed (their containers exit 0). */
static void
finish_all(struct cluster *c, const char *name)
{
	_cleanup_json_ json_t *jobs = jobs_of(c, name);
	size_t i, j;
	json_t *job, *pod;
	json_array_foreach (jobs, i, job) {
		char sel[300];
		snprintf(sel, sizeof(sel), "batch.kubernetes.io/job-name=%s",
			 jp_str0(job, "metadata.name"));
		_cleanup_json_ json_t *pods = list_objs(c, "v1", "Pod", "default", sel);
		json_array_foreach (pods, j, pod)
			if (streq(pod_phase(pod), "Running"))
				pod_exit(c, "default", jp_str(pod, "metadata.name"), 0);
	}
	settle(c);
}

static void
test_fires_on_schedule(void **state)
{
	struct cluster c;
	start(&c, true);
	/* T0 is 15:41:00: */
	cronjob(&c, "tick", "*/5 * * * *", "");
	settle(&c);
	advance(&c, 239 * NSEC_PER_SEC);
	assert_int_equal(n_jobs(&c, "tick"), 0);
	advance(&c, 2 * NSEC_PER_SEC);
	_cleanup_json_ json_t *jobs = jobs_of(&c, "tick");
	assert_int_equal(json_array_size(jobs), 1);
	json_t *job = json_array_get(jobs, 0);
	char name[64];
	snprintf(name, sizeof(name), "tick-%lld", minutes(240));
	assert_string_equal(jp_str(job, "metadata.name"), name);
	assert_string_equal(json_string_value(json_object_get(
				    jp_get(job, "metadata.annotations"),
				    "batch.kubernetes.io/cronjob-scheduled-timestamp")),
			    "2026-11-26T15:45:00Z");
	_cleanup_json_ json_t *cj = get_obj(&c, "batch/v1", "CronJob", "default", "tick");
	assert_true(controlled_by(job, jp_str(cj, "metadata.uid")));
	assert_string_equal(jp_str(cj, "status.lastScheduleTime"), "2026-11-26T15:45:00Z");
	assert_int_equal(json_array_size(jp_get(cj, "status.active")), 1);
	assert_string_equal(jp_str(json_array_get(jp_get(cj, "status.active"), 0), "name"), name);
	char msg[128];
	snprintf(msg, sizeof(msg), "Created job %s", name);
	_cleanup_free_ char *ev = event_message(&c, "default", "tick", "SuccessfulCreate");
	assert_string_equal(ev, msg);
	/* It finishes: out of the active list, lastSuccessfulTime set. */
	advance(&c, 30 * NSEC_PER_SEC);
	finish_all(&c, "tick");
	json_decref(cj);
	cj = get_obj(&c, "batch/v1", "CronJob", "default", "tick");
	assert_null(jp_get(cj, "status.active"));
	assert_string_equal(jp_str(cj, "status.lastSuccessfulTime"), "2026-11-26T15:45:31Z");
	snprintf(msg, sizeof(msg), "Saw completed job: %s, condition: Complete", name);
	_cleanup_free_ char *saw = event_message(&c, "default", "tick", "SawCompletedJob");
	assert_string_equal(saw, msg);
	/* Every five minutes after that; the default history keeps 3 successful Jobs. */
	for (int k = 0; k < 5; k++) {
		advance(&c, 300 * NSEC_PER_SEC);
		finish_all(&c, "tick");
	}
	assert_int_equal(n_jobs(&c, "tick"), 3);
	json_decref(cj);
	cj = get_obj(&c, "batch/v1", "CronJob", "default", "tick");
	assert_string_equal(jp_str(cj, "status.lastScheduleTime"), "2026-11-26T16:10:00Z");
	assert_int_equal(count_events(&c, "default", "tick", "SuccessfulCreate"), 6);
	assert_int_equal(count_events(&c, "default", "tick", "SuccessfulDelete"), 3);
	cluster_free(&c);
}

static void
test_concurrency_policies(void **state)
{
	struct cluster c;
	start(&c, true);
	cronjob(&c, "forbid", "*/10 * * * *", "  concurrencyPolicy: Forbid\n");
	cronjob(&c, "replace", "*/10 * * * *", "  concurrencyPolicy: Replace\n");
	cronjob(&c, "allow", "*/10 * * * *", "");
	settle(&c);
	/* 15:50 and 16:00; the Jobs never finish. */
	advance(&c, 560 * NSEC_PER_SEC);
	advance(&c, 600 * NSEC_PER_SEC);
	assert_int_equal(n_jobs(&c, "forbid"), 1);
	assert_int_equal(count_events(&c, "default", "forbid", "JobAlreadyActive"), 1);
	_cleanup_free_ char *msg = event_message(&c, "default", "forbid", "JobAlreadyActive");
	assert_string_equal(msg, "Not starting job because prior execution is running and "
				 "concurrency policy is Forbid");
	/* Replace: the 15:50 Job was deleted for the 16:00 one. */
	_cleanup_json_ json_t *rep = jobs_of(&c, "replace");
	assert_int_equal(json_array_size(rep), 1);
	char name[64];
	snprintf(name, sizeof(name), "replace-%lld", minutes(1140));
	assert_string_equal(jp_str(json_array_get(rep, 0), "metadata.name"), name);
	assert_int_equal(count_events(&c, "default", "replace", "SuccessfulDelete"), 1);
	_cleanup_json_ json_t *rcj = get_obj(&c, "batch/v1", "CronJob", "default", "replace");
	assert_int_equal(json_array_size(jp_get(rcj, "status.active")), 1);
	/* Allow: both run. */
	assert_int_equal(n_jobs(&c, "allow"), 2);
	_cleanup_json_ json_t *acj = get_obj(&c, "batch/v1", "CronJob", "default", "allow");
	assert_int_equal(json_array_size(jp_get(acj, "status.active")), 2);
	cluster_free(&c);
}

static void
test_suspend_and_missed_starts(void **state)
{
	struct cluster c;
	/* The manager is down while the schedule passes. */
	start(&c, false);
	cronjob(&c, "late", "0 * * * *", "  startingDeadlineSeconds: 60\n");
	cronjob(&c, "lenient", "0 * * * *", "");
	cronjob(&c, "paused", "* * * * *", "  suspend: true\n");
	korch_clock_advance(c.clock, 24 * 60 * NSEC_PER_SEC); /* 16:05 */
	cluster_start(&c);
	settle(&c);
	/* 16:00 was missed by five minutes: past the 60 s deadline, it is not started (the
	 * controller looks no further back than the deadline, as Kubernetes' does). */
	assert_int_equal(n_jobs(&c, "late"), 0);
	_cleanup_json_ json_t *late = get_obj(&c, "batch/v1", "CronJob", "default", "late");
	assert_null(jp_get(late, "status.lastScheduleTime"));
	/* Without a deadline the missed start runs now, once. */
	assert_int_equal(n_jobs(&c, "lenient"), 1);
	assert_int_equal(n_jobs(&c, "paused"), 0);
	/* 17:00 comes, on time for both. */
	advance(&c, 3301 * NSEC_PER_SEC);
	assert_int_equal(n_jobs(&c, "late"), 1);
	assert_int_equal(n_jobs(&c, "lenient"), 2);
	assert_int_equal(n_jobs(&c, "paused"), 0);
	cluster_free(&c);
}

static void
test_time_zone(void **state)
{
	struct cluster c;
	start(&c, true);
	/* 09:00 in Tokyo is 00:00 UTC; T0 (15:41 UTC) is 00:41 the next day there. */
	cronjob(&c, "tokyo", "0 9 * * *", "  timeZone: Asia/Tokyo\n");
	settle(&c);
	advance(&c, 8 * 3600 * NSEC_PER_SEC);
	assert_int_equal(n_jobs(&c, "tokyo"), 0);
	advance(&c, 20 * 60 * NSEC_PER_SEC); /* 00:01 UTC */
	_cleanup_json_ json_t *jobs = jobs_of(&c, "tokyo");
	assert_int_equal(json_array_size(jobs), 1);
	assert_string_equal(json_string_value(json_object_get(
				    jp_get(json_array_get(jobs, 0), "metadata.annotations"),
				    "batch.kubernetes.io/cronjob-scheduled-timestamp")),
			    "2026-11-27T09:00:00+09:00");
	_cleanup_json_ json_t *cj = get_obj(&c, "batch/v1", "CronJob", "default", "tokyo");
	assert_string_equal(jp_str(cj, "status.lastScheduleTime"), "2026-11-27T00:00:00Z");
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fires_on_schedule),
		cmocka_unit_test(test_concurrency_policies),
		cmocka_unit_test(test_suspend_and_missed_starts),
		cmocka_unit_test(test_time_zone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
