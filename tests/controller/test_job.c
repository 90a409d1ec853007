/*
 * The Job controller: non-parallel, fixed completion count, work queue and Indexed Jobs end with
 * the right success count; backoffLimit stops the retries (with the back-off between them);
 * activeDeadlineSeconds; suspend and resume; ttlSecondsAfterFinished; the tracking finalizer.
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
start(struct cluster *c)
{
	static const struct controller_manager_options o = { .no_leader_election = true };
	cluster_init(c, &o, false);
	c->schedule = true;
	add_node(c, "node-1");
	cluster_start(c);
}

static void
job(struct cluster *c, const char *name, const char *spec_extra)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "apiVersion: batch/v1\nkind: Job\nmetadata: {name: %s, namespace: default}\n"
		 "spec:\n%s  template:\n    spec:\n      restartPolicy: Never\n"
		 "      containers: [{name: c, image: busybox}]\n",
		 name, spec_extra);
	create_yaml(c, text, NULL);
}

static json_t *
job_obj(struct cluster *c, const char *name)
{
	return get_obj(c, "batch/v1", "Job", "default", name);
}

static json_t *
job_pods(struct cluster *c, const char *name)
{
	char sel[128];
	snprintf(sel, sizeof(sel), "batch.kubernetes.io/job-name=%s", name);
	return list_objs(c, "v1", "Pod", "default", sel);
}

/* Makes at most at_most running pods of the Job end with phase: their containers exit 0
 * (Succeeded) or 1 (Failed). */
static size_t
finish_running(struct cluster *c, const char *name, const char *phase, size_t at_most)
{
	_cleanup_json_ json_t *pods = job_pods(c, name);
	size_t n = 0, i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		if (n >= at_most)
			break;
		if (!streq(pod_phase(pod), "Running") || jp_get(pod, "metadata.deletionTimestamp"))
			continue;
		pod_exit(c, "default", jp_str(pod, "metadata.name"),
			 streq(phase, "Failed") ? 1 : 0);
		n++;
	}
	settle(c);
	return n;
}

static size_t
count_phase(struct cluster *c, const char *name, const char *phase, bool active_only)
{
	_cleanup_json_ json_t *pods = job_pods(c, name);
	size_t n = 0, i;
	json_t *pod;
	json_array_foreach (pods, i, pod)
		if (phase ? streq(pod_phase(pod), phase) : (!active_only || pod_active(pod)))
			n++;
	return n;
}

static const char *
cond_status(const json_t *j, const char *type)
{
	return jp_str(condition_get(j, type), "status");
}

static void
test_non_parallel(void **state)
{
	struct cluster c;
	start(&c);
	job(&c, "once", "");
	settle(&c);
	_cleanup_json_ json_t *pods = job_pods(&c, "once");
	assert_int_equal(json_array_size(pods), 1);
	json_t *pod = json_array_get(pods, 0);
	assert_string_equal(
		json_string_value(json_array_get(jp_get(pod, "metadata.finalizers"), 0)),
		"batch.kubernetes.io/job-tracking");
	assert_non_null(startswith(jp_str0(pod, "metadata.name"), "once-"));
	_cleanup_json_ json_t *j = job_obj(&c, "once");
	/* The generated selector and labels (kubectl logs job/once and kubectl wait use them). */
	const char *uid = jp_str0(j, "metadata.uid");
	const json_t *sel = jp_get(j, "spec.selector.matchLabels");
	assert_int_equal(json_object_size(sel), 1);
	assert_string_equal(
		json_string_value(json_object_get(sel, "batch.kubernetes.io/controller-uid")), uid);
	static const char *const keys[] = { "controller-uid", "batch.kubernetes.io/controller-uid",
					    "job-name", "batch.kubernetes.io/job-name" };
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		assert_string_equal(
			json_string_value(json_object_get(jp_get(pod, "metadata.labels"), keys[k])),
			k < 2 ? uid : "once");
	assert_true(controlled_by(pod, uid));
	assert_int_equal(jp_int(j, "status.active", 0), 1);
	assert_non_null(jp_get(j, "status.startTime"));
	assert_true(json_is_object(jp_get(j, "status.uncountedTerminatedPods")));
	advance(&c, 5 * NSEC_PER_SEC);
	assert_int_equal(finish_running(&c, "once", "Succeeded", 10), 1);
	json_decref(j);
	j = job_obj(&c, "once");
	assert_string_equal(cond_status(j, "SuccessCriteriaMet"), "True");
	assert_string_equal(cond_status(j, "Complete"), "True");
	const json_t *complete = condition_get(j, "Complete");
	assert_string_equal(jp_str(complete, "reason"), "CompletionsReached");
	assert_string_equal(jp_str(complete, "message"),
			    "Reached expected number of succeeded pods");
	assert_int_equal(jp_int(j, "status.succeeded", 0), 1);
	assert_null(jp_get(j, "status.failed"));
	assert_null(jp_get(j, "status.active"));
	assert_string_equal(jp_str(j, "status.completionTime"), "2026-11-26T15:41:05Z");
	_cleanup_free_ char *msg = event_message(&c, "default", "once", "Completed");
	assert_string_equal(msg, "Job completed");
	/* The finalizer came off once the pod was counted. */
	json_decref(pods);
	pods = job_pods(&c, "once");
	assert_int_equal(json_array_size(jp_get(json_array_get(pods, 0), "metadata.finalizers")),
			 0);
	cluster_free(&c);
}

static void
test_fixed_completions(void **state)
{
	struct cluster c;
	start(&c);
	job(&c, "five", "  completions: 5\n  parallelism: 2\n");
	settle(&c);
	size_t finished = 0;
	for (int round = 0; round < 10 && finished < 5; round++) {
		assert_true(count_phase(&c, "five", NULL, true) <= 2);
		finished += finish_running(&c, "five", "Succeeded", 1);
	}
	assert_int_equal(finished, 5);
	_cleanup_json_ json_t *j = job_obj(&c, "five");
	assert_string_equal(cond_status(j, "Complete"), "True");
	assert_int_equal(jp_int(j, "status.succeeded", 0), 5);
	assert_int_equal(count_phase(&c, "five", "Succeeded", false), 5);
	_cleanup_json_ json_t *all = job_pods(&c, "five");
	assert_int_equal(json_array_size(all), 5);
	cluster_free(&c);
}

static void
test_work_queue(void **state)
{
	struct cluster c;
	start(&c);
	/* parallelism only: done when one succeeded and all stopped. */
	job(&c, "queue", "  parallelism: 3\n");
	settle(&c);
	assert_int_equal(count_phase(&c, "queue", "Running", false), 3);
	assert_int_equal(finish_running(&c, "queue", "Succeeded", 1), 1);
	/* One success: no new pods; the others finish on their own. */
	assert_int_equal(count_phase(&c, "queue", NULL, true), 2);
	_cleanup_json_ json_t *j = job_obj(&c, "queue");
	assert_null(condition_get(j, "Complete"));
	assert_int_equal(finish_running(&c, "queue", "Succeeded", 10), 2);
	json_decref(j);
	j = job_obj(&c, "queue");
	assert_string_equal(cond_status(j, "Complete"), "True");
	assert_int_equal(jp_int(j, "status.succeeded", 0), 3);
	_cleanup_json_ json_t *pods = job_pods(&c, "queue");
	assert_int_equal(json_array_size(pods), 3);
	cluster_free(&c);
}

static void
test_indexed(void **state)
{
	struct cluster c;
	start(&c);
	job(&c, "idx", "  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n");
	settle(&c);
	_cleanup_json_ json_t *pods = job_pods(&c, "idx");
	assert_int_equal(json_array_size(pods), 3);
	bool seen[3] = { false };
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		const char *ix = json_string_value(
			json_object_get(jp_get(pod, "metadata.annotations"),
					"batch.kubernetes.io/job-completion-index"));
		assert_non_null(ix);
		int64_t n = atoi(ix);
		assert_true(n >= 0 && n < 3);
		seen[n] = true;
		char host[32], prefix[32];
		snprintf(host, sizeof(host), "idx-%s", ix);
		snprintf(prefix, sizeof(prefix), "idx-%s-", ix);
		assert_string_equal(jp_str(pod, "spec.hostname"), host);
		assert_non_null(startswith(jp_str0(pod, "metadata.name"), prefix));
		assert_string_equal(json_string_value(json_object_get(
					    jp_get(pod, "metadata.labels"),
					    "batch.kubernetes.io/job-completion-index")),
				    ix);
		const json_t *env = json_array_get(
			jp_get(json_array_get(jp_get(pod, "spec.containers"), 0), "env"), 0);
		assert_string_equal(jp_str(env, "name"), "JOB_COMPLETION_INDEX");
		assert_string_equal(
			jp_str(env, "valueFrom.fieldRef.fieldPath"),
			"metadata.annotations['batch.kubernetes.io/job-completion-index']");
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	/* Indexes 0 and 2 succeed; 1 fails and is replaced with the same index. */
	json_array_foreach (pods, i, pod) {
		const char *ix = json_string_value(
			json_object_get(jp_get(pod, "metadata.annotations"),
					"batch.kubernetes.io/job-completion-index"));
		pod_exit(&c, "default", jp_str(pod, "metadata.name"), streq(ix, "1"));
	}
	settle(&c);
	_cleanup_json_ json_t *j = job_obj(&c, "idx");
	assert_string_equal(jp_str(j, "status.completedIndexes"), "0,2");
	assert_int_equal(jp_int(j, "status.succeeded", 0), 2);
	assert_int_equal(jp_int(j, "status.failed", 0), 1);
	/* The replacement waits out the back-off (10 s). */
	assert_int_equal(count_phase(&c, "idx", NULL, true), 0);
	advance(&c, 11 * NSEC_PER_SEC);
	assert_int_equal(count_phase(&c, "idx", "Running", false), 1);
	assert_int_equal(finish_running(&c, "idx", "Succeeded", 10), 1);
	json_decref(j);
	j = job_obj(&c, "idx");
	assert_string_equal(jp_str(j, "status.completedIndexes"), "0-2");
	assert_int_equal(jp_int(j, "status.succeeded", 0), 3);
	assert_string_equal(cond_status(j, "Complete"), "True");
	cluster_free(&c);
}

static void
test_backoff_limit(void **state)
{
	struct cluster c;
	start(&c);
	job(&c, "flaky", "  backoffLimit: 2\n");
	settle(&c);
	int64_t t0 = korch_clock_now_ns(c.clock);
	int64_t created_at[4] = { 0 };
	size_t failures = 0;
	for (int step = 0; step < 2000 && failures < 3; step++) {
		if (finish_running(&c, "flaky", "Failed", 10)) {
			failures++;
			created_at[failures] = korch_clock_now_ns(c.clock) - t0;
		}
		advance(&c, 100 * NSEC_PER_MSEC);
	}
	assert_int_equal(failures, 3);
	/* Replacements came after 10 s, then 20 s of back-off. */
	assert_true(created_at[2] - created_at[1] >= 10 * NSEC_PER_SEC);
	assert_true(created_at[2] - created_at[1] < 11 * NSEC_PER_SEC);
	assert_true(created_at[3] - created_at[2] >= 20 * NSEC_PER_SEC);
	assert_true(created_at[3] - created_at[2] < 21 * NSEC_PER_SEC);
	advance(&c, 600 * NSEC_PER_SEC);
	_cleanup_json_ json_t *j = job_obj(&c, "flaky");
	const json_t *failed = condition_get(j, "Failed");
	assert_string_equal(jp_str(failed, "status"), "True");
	assert_string_equal(jp_str(failed, "reason"), "BackoffLimitExceeded");
	assert_string_equal(jp_str(failed, "message"),
			    "Job has reached the specified backoff limit");
	assert_string_equal(cond_status(j, "FailureTarget"), "True");
	assert_int_equal(jp_int(j, "status.failed", 0), 3);
	/* backoffLimit stopped the retries: three pods, no fourth. */
	_cleanup_json_ json_t *all = job_pods(&c, "flaky");
	assert_int_equal(json_array_size(all), 3);
	_cleanup_free_ char *msg = event_message(&c, "default", "flaky", "BackoffLimitExceeded");
	assert_string_equal(msg, "Job has reached the specified backoff limit");
	cluster_free(&c);
}

static void
test_active_deadline(void **state)
{
	struct cluster c;
	start(&c);
	job(&c, "slow", "  activeDeadlineSeconds: 30\n");
	settle(&c);
	assert_int_equal(count_phase(&c, "slow", "Running", false), 1);
	advance(&c, 29 * NSEC_PER_SEC);
	_cleanup_json_ json_t *j = job_obj(&c, "slow");
	assert_null(condition_get(j, "FailureTarget"));
	advance(&c, 2 * NSEC_PER_SEC);
	json_decref(j);
	j = job_obj(&c, "slow");
	const json_t *failed = condition_get(j, "Failed");
	assert_string_equal(jp_str(failed, "reason"), "DeadlineExceeded");
	assert_string_equal(jp_str(failed, "message"),
			    "Job was active longer than specified deadline");
	/* Its pod was stopped, and counted as failed. */
	_cleanup_json_ json_t *left = job_pods(&c, "slow");
	assert_int_equal(json_array_size(left), 0);
	assert_int_equal(jp_int(j, "status.failed", 0), 1);
	cluster_free(&c);
}

static void
test_suspend_and_ttl(void **state)
{
	struct cluster c;
	start(&c);
	job(&c, "later", "  suspend: true\n  ttlSecondsAfterFinished: 10\n");
	settle(&c);
	_cleanup_json_ json_t *none = job_pods(&c, "later");
	assert_int_equal(json_array_size(none), 0);
	_cleanup_json_ json_t *j = job_obj(&c, "later");
	const json_t *sus = condition_get(j, "Suspended");
	assert_string_equal(jp_str(sus, "status"), "True");
	assert_string_equal(jp_str(sus, "reason"), "JobSuspended");
	assert_null(jp_get(j, "status.startTime"));
	advance(&c, 60 * NSEC_PER_SEC);
	_cleanup_json_ json_t *resume = json_pack("{s:{s:b}}", "spec", "suspend", 0);
	assert_int_equal(client_patch(c.client, kind_lookup("batch/v1", "Job"), "default", "later",
				      CLIENT_PATCH_MERGE, resume, NULL, NULL, NULL, NULL),
			 0);
	settle(&c);
	json_decref(j);
	j = job_obj(&c, "later");
	sus = condition_get(j, "Suspended");
	assert_string_equal(jp_str(sus, "status"), "False");
	assert_string_equal(jp_str(sus, "reason"), "JobResumed");
	assert_string_equal(jp_str(j, "status.startTime"), "2026-11-26T15:42:00Z");
	assert_int_equal(count_events(&c, "default", "later", "Resumed"), 1);
	assert_int_equal(finish_running(&c, "later", "Succeeded", 10), 1);
	json_decref(j);
	j = job_obj(&c, "later");
	assert_string_equal(cond_status(j, "Complete"), "True");
	/* ttlSecondsAfterFinished: gone ten seconds later, with its pods. */
	advance(&c, 9 * NSEC_PER_SEC);
	json_decref(j);
	j = job_obj(&c, "later");
	assert_non_null(j);
	advance(&c, 2 * NSEC_PER_SEC);
	settle(&c);
	json_decref(j);
	j = job_obj(&c, "later");
	assert_null(j);
	_cleanup_json_ json_t *left = job_pods(&c, "later");
	assert_int_equal(json_array_size(left), 0);
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_non_parallel),    cmocka_unit_test(test_fixed_completions),
		cmocka_unit_test(test_work_queue),      cmocka_unit_test(test_indexed),
		cmocka_unit_test(test_backoff_limit),   cmocka_unit_test(test_active_deadline),
		cmocka_unit_test(test_suspend_and_ttl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
