/*
 * job.c - the Job controller (Kubernetes' pkg/controller/job, 1.32): pods for non-parallel,
 * fixed-completion-count, work-queue (parallelism only) and Indexed Jobs (one pod per
 * completion index, with the index in the batch.kubernetes.io/job-completion-index annotation
 * and label, JOB_COMPLETION_INDEX in the environment and the hostname JOB-INDEX); failed pods
 * are replaced after an exponential back-off (10 s doubling to 10 min) until backoffLimit;
 * activeDeadlineSeconds, suspend (and resume, which restarts the clock), and the conditions:
 * SuccessCriteriaMet or FailureTarget first, Complete or Failed once no pod is terminating.
 *
 * Pods carry the batch.kubernetes.io/job-tracking finalizer, so that a finished pod is counted
 * exactly once even across restarts: its uid goes into status.uncountedTerminatedPods, then its
 * finalizer is removed, then it moves into status.succeeded or status.failed.
 *
 * It also does the TTL-after-finished controller's work: a finished Job with
 * ttlSecondsAfterFinished is deleted (in the foreground) when the time is up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/names.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "controller/controllers.h"
#include "controller/expectations.h"
#include "controller/pods.h"

#define TRACKING_FINALIZER "batch.kubernetes.io/job-tracking"
#define INDEX_ANNOTATION "batch.kubernetes.io/job-completion-index"
#define BACKOFF_BASE_NS (10 * NSEC_PER_SEC)
#define BACKOFF_MAX_NS (600 * NSEC_PER_SEC)
#define MAX_PER_SYNC 500
/* Keys of orphaned pods whose tracking finalizer must go: "\x01ns/name". */
#define ORPHAN_PREFIX "\x01"

struct backoff {
	int64_t failures; /* consecutive failures since the last success */
	int64_t last_ns;  /* wall time of the last failure */
};

struct job_ctrl {
	struct informer *jobs;    /* Jobs */
	struct informer *pods;    /* Pods */
	struct expectations *exp; /* creates and deletes not seen yet */
	struct hashmap backoff;   /* job key -> struct backoff * */
};

static struct job_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static bool
has_string(const json_t *list, const char *value)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v)
		if (streq(json_string_value(v), value))
			return true;
	return false;
}

static bool
has_tracking(const json_t *pod)
{
	return has_string(jp_get(pod, "metadata.finalizers"), TRACKING_FINALIZER);
}

static const json_t *
job_condition(const json_t *job, const char *type)
{
	const json_t *c = condition_get(job, type);
	return c && streq(jp_str(c, "status"), "True") ? c : NULL;
}

static bool
job_finished(const json_t *job)
{
	return job_condition(job, "Complete") || job_condition(job, "Failed");
}

static bool
indexed(const json_t *job)
{
	return streq(jp_str(job, "spec.completionMode"), "Indexed");
}

/* The completion index of a pod (its annotation), or -1. */
static int64_t
pod_index(const json_t *pod)
{
	const char *v = json_string_value(
		json_object_get(jp_get(pod, "metadata.annotations"), INDEX_ANNOTATION));
	int64_t i;
	if (!v || parse_int64(v, &i) < 0 || i < 0)
		return -1;
	return i;
}

/* isPodFailed: Failed, or deleted before it succeeded (unless only Failed pods count). */
static bool
pod_failed(const json_t *pod, const json_t *job)
{
	if (streq(pod_phase(pod), "Failed"))
		return true;
	if (streq(jp_str(job, "spec.podReplacementPolicy"), "Failed"))
		return false;
	return jp_get(pod, "metadata.deletionTimestamp") && !streq(pod_phase(pod), "Succeeded");
}

/* ---- handlers ---- */

static const json_t *
job_of_pod(struct ctrl *ctl, const json_t *pod)
{
	const json_t *ref = controller_ref(pod);
	if (!ref || !streq(jp_str(ref, "kind"), "Job"))
		return NULL;
	const json_t *job = informer_get(state(ctl)->jobs, jp_str(pod, "metadata.namespace"),
					 jp_str0(ref, "name"));
	if (!job || !streq(jp_str(job, "metadata.uid"), jp_str(ref, "uid")))
		return NULL;
	return job;
}

static void
enqueue_orphan(struct ctrl *ctl, const json_t *pod)
{
	_cleanup_free_ char *key = object_key(pod);
	char *okey = NULL;
	if (key && asprintf(&okey, ORPHAN_PREFIX "%s", key) >= 0)
		ctrl_enqueue_key(ctl, okey);
	free(okey);
}

static void
pod_event(struct ctrl *ctl, const json_t *pod, bool created, bool deleted)
{
	const json_t *job = job_of_pod(ctl, pod);
	if (job) {
		_cleanup_free_ char *key = object_key(job);
		if (created)
			creation_observed(state(ctl)->exp, key);
		if (deleted) {
			_cleanup_free_ char *pk = object_key(pod);
			deletion_observed(state(ctl)->exp, key, pk);
		}
		ctrl_enqueue_key(ctl, key);
		if (job_finished(job) && has_tracking(pod))
			enqueue_orphan(ctl, pod);
		return;
	}
	if (has_tracking(pod))
		enqueue_orphan(ctl, pod);
}

static void
pod_added(const json_t *pod, void *userdata)
{
	bool deleting = jp_get(pod, "metadata.deletionTimestamp") != NULL;
	pod_event(userdata, pod, !deleting, deleting);
}

static void
pod_updated(const json_t *old, const json_t *pod, void *userdata)
{
	struct ctrl *ctl = userdata;
	if (streq(jp_str(old, "metadata.resourceVersion"), jp_str(pod, "metadata.resourceVersion")))
		return;
	bool newly_deleting = jp_get(pod, "metadata.deletionTimestamp") &&
			      !jp_get(old, "metadata.deletionTimestamp");
	const json_t *old_job = job_of_pod(ctl, old);
	if (old_job && old_job != job_of_pod(ctl, pod))
		ctrl_enqueue(ctl, old_job);
	pod_event(ctl, pod, false, newly_deleting);
}

static void
pod_deleted(const json_t *pod, void *userdata)
{
	pod_event(userdata, pod, false, true);
}

static void
backoff_free(void *p)
{
	free(p);
}

static void
job_deleted(const json_t *job, void *userdata)
{
	struct ctrl *ctl = userdata;
	_cleanup_free_ char *key = object_key(job);
	if (!key)
		return;
	expectations_delete(state(ctl)->exp, key);
	free(hashmap_remove(&state(ctl)->backoff, key));
}

static int
job_init(struct ctrl *ctl, korch_error **err)
{
	struct job_ctrl *s = calloc(1, sizeof(*s));
	if (!s || !(s->exp = expectations_new())) {
		free(s);
		return error_oom(err);
	}
	ctl->data = s;
	s->jobs = ctrl_watch_primary(ctl, "batch/v1", "Job");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	if (!s->jobs || !s->pods)
		return error_oom(err);
	struct informer_handlers ph = { pod_added, pod_updated, pod_deleted, ctl };
	struct informer_handlers jh = { NULL, NULL, job_deleted, ctl };
	int hr;
	if ((hr = informer_add_handlers(s->pods, &ph, err)) < 0 ||
	    (hr = informer_add_handlers(s->jobs, &jh, err)) < 0)
		return hr;
	return 0;
}

static void
job_fini(struct ctrl *ctl)
{
	struct job_ctrl *s = ctl->data;
	if (!s)
		return;
	expectations_free(s->exp);
	hashmap_free(&s->backoff, backoff_free);
	free(s);
}

/* ---- completed indexes ("0-2,4" as orderedIntervals prints them) ---- */

static bool *
parse_indexes(const char *text, int64_t completions)
{
	bool *set = calloc((size_t)(completions > 0 ? completions : 1), sizeof(bool));
	if (!set || !text)
		return set;
	const char *p = text;
	while (*p) {
		char *end = NULL;
		long a = strtol(p, &end, 10), b = a;
		if (end == p)
			break;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			p = end;
		}
		for (long i = a; i <= b; i++)
			if (i >= 0 && i < completions)
				set[i] = true;
		if (*p == ',')
			p++;
		else
			break;
	}
	return set;
}

static char *
format_indexes(const bool *set, int64_t n)
{
	struct strbuf sb = STRBUF_INIT;
	for (int64_t i = 0; i < n;) {
		if (!set[i]) {
			i++;
			continue;
		}
		int64_t j = i;
		while (j + 1 < n && set[j + 1])
			j++;
		strbuf_printf(&sb, "%s%lld", sb.len ? "," : "", (long long)i);
		if (j > i)
			strbuf_printf(&sb, "%c%lld", j == i + 1 ? ',' : '-', (long long)j);
		i = j + 1;
	}
	return strbuf_steal(&sb);
}

/* ---- one sync ---- */

struct jsync {
	struct ctrl *ctl;
	const char *key;
	json_t *job;               /* working copy */
	json_t *pods;              /* claimed pods */
	json_t *active;            /* of them, the active ones */
	int64_t terminating;       /* deleting and not finished */
	int64_t succeeded, failed; /* counters including the uncounted */
	int64_t wall;
	bool *succeeded_ix; /* Indexed: succeeded indexes, completions entries */
	int64_t completions;
};

static void
collect_all(const json_t *obj, void *userdata)
{
	json_array_append((json_t *)userdata, (json_t *)obj);
}

/* A condition as newCondition makes it. */
static json_t *
new_condition(const char *type, const char *status, const char *reason, const char *message,
	      int64_t wall)
{
	char now[32];
	time_text(wall, now);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status,
			 "lastProbeTime", now, "lastTransitionTime", now, "reason", reason,
			 "message", message);
}

/* ensureJobConditionStatus; returns whether the list changed. */
static bool
ensure_condition(json_t *job, const char *type, const char *status, const char *reason,
		 const char *message, int64_t wall)
{
	json_t *st = jp_obj(job, "status");
	json_t *conds = json_object_get(st, "conditions");
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c) {
		if (!streq(jp_str(c, "type"), type))
			continue;
		if (streq(jp_str(c, "status"), status) && streq(jp_str(c, "reason"), reason) &&
		    streq(jp_str(c, "message"), message))
			return false;
		json_array_set_new(conds, i, new_condition(type, status, reason, message, wall));
		return true;
	}
	if (streq(status, "False"))
		return false;
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	json_array_append_new(conds, new_condition(type, status, reason, message, wall));
	return true;
}

/* The wall time a pod finished: its containers' last finishedAt, else now. */
static int64_t
finish_time(const json_t *pod, int64_t now)
{
	int64_t t = 0;
	size_t i;
	json_t *cs;
	json_array_foreach (jp_get(pod, "status.containerStatuses"), i, cs)
		t = MAX(t, jp_time(cs, "state.terminated.finishedAt", 0));
	if (!t)
		t = jp_time(pod, "metadata.deletionTimestamp", now);
	return t;
}

/* Updates the back-off record with pods that finished since it was last looked at. */
static void
update_backoff(struct jsync *s, const json_t *new_succeeded, const json_t *new_failed)
{
	struct job_ctrl *st = state(s->ctl);
	struct backoff *b = hashmap_get(&st->backoff, s->key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || hashmap_put(&st->backoff, s->key, b, NULL) < 0) {
			free(b);
			return;
		}
	}
	int64_t last_success = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (new_succeeded, i, pod)
		last_success = MAX(last_success, finish_time(pod, s->wall));
	if (last_success && last_success >= b->last_ns) {
		b->failures = 0;
		b->last_ns = 0;
	}
	json_array_foreach (new_failed, i, pod) {
		int64_t t = finish_time(pod, s->wall);
		if (t >= last_success) {
			b->failures++;
			b->last_ns = MAX(b->last_ns, t);
		}
	}
}

static int64_t
backoff_remaining(struct jsync *s)
{
	struct backoff *b = hashmap_get(&state(s->ctl)->backoff, s->key);
	if (!b || b->failures == 0)
		return 0;
	int64_t delay = BACKOFF_BASE_NS;
	for (int64_t i = 1; i < b->failures && delay < BACKOFF_MAX_NS; i++)
		delay *= 2;
	delay = MIN(delay, BACKOFF_MAX_NS);
	int64_t elapsed = s->wall - b->last_ns;
	return elapsed >= delay ? 0 : delay - elapsed;
}

/* The template of this Job's pods, with the tracking finalizer (and Indexed's env). */
static json_t *
pod_template(const json_t *job)
{
	json_t *tmpl = json_deep_copy(jp_get(job, "spec.template"));
	json_t *meta = jp_obj(tmpl, "metadata");
	json_t *fins = json_object_get(meta, "finalizers");
	if (!json_is_array(fins)) {
		fins = json_array();
		json_object_set_new(meta, "finalizers", fins);
	}
	if (!has_string(fins, TRACKING_FINALIZER))
		json_array_append_new(fins, json_string(TRACKING_FINALIZER));
	if (!indexed(job))
		return tmpl;
	static const char *const lists[] = { "containers", "initContainers" };
	json_t *spec = jp_obj(tmpl, "spec");
	for (size_t l = 0; l < 2; l++) {
		size_t i, j;
		json_t *c, *e;
		json_array_foreach (json_object_get(spec, lists[l]), i, c) {
			bool has = false;
			json_array_foreach (json_object_get(c, "env"), j, e)
				has |= streq(jp_str(e, "name"), "JOB_COMPLETION_INDEX");
			if (has)
				continue;
			json_t *env = json_object_get(c, "env");
			if (!json_is_array(env)) {
				env = json_array();
				json_object_set_new(c, "env", env);
			}
			json_array_append_new(
				env, json_pack("{s:s, s:{s:{s:s}}}", "name", "JOB_COMPLETION_INDEX",
					       "valueFrom", "fieldRef", "fieldPath",
					       "metadata.annotations['" INDEX_ANNOTATION "']"));
		}
	}
	return tmpl;
}

static int
create_pods(struct jsync *s, int64_t n, const int64_t *indexes, korch_error **err)
{
	struct job_ctrl *st = state(s->ctl);
	expect_creations(st->exp, s->key, n, cm_now(s->ctl->cm));
	_cleanup_json_ json_t *tmpl = pod_template(s->job);
	int64_t done = 0, batch = 1;
	int r = 0;
	const char *name = jp_str0(s->job, "metadata.name");
	while (done < n && r == 0) {
		int64_t m = MIN(batch, n - done);
		for (int64_t i = 0; i < m; i++) {
			int64_t ix = indexes ? indexes[done + i] : -1;
			_cleanup_json_ json_t *pod = NULL;
			if (ix >= 0) {
				char prefix[128], idx[32], host[160];
				snprintf(idx, sizeof(idx), "%lld", (long long)ix);
				snprintf(prefix, sizeof(prefix), "%s-%lld-", name, (long long)ix);
				size_t sfx = strlen(idx) + 2;
				if (strlen(prefix) > DNS1123_LABEL_MAX_LENGTH - 5)
					snprintf(prefix, sizeof(prefix), "%.*s-%s-",
						 (int)(DNS1123_LABEL_MAX_LENGTH - 5 - sfx), name,
						 idx);
				pod = pod_from_template(tmpl, s->job, K_JOB, prefix);
				json_t *meta = json_object_get(pod, "metadata");
				json_object_set_new(jp_obj(meta, "annotations"), INDEX_ANNOTATION,
						    json_string(idx));
				json_object_set_new(jp_obj(meta, "labels"), INDEX_ANNOTATION,
						    json_string(idx));
				snprintf(host, sizeof(host), "%s-%s", name, idx);
				json_object_set_new(jp_obj(pod, "spec"), "hostname",
						    json_string(host));
			} else {
				pod = pod_from_template(tmpl, s->job, K_JOB, NULL);
			}
			korch_error *e = NULL;
			int rc = pod ? pod_create(s->ctl, s->job, pod, NULL, &e) : error_oom(&e);
			if (rc < 0) {
				creation_observed(st->exp, s->key);
				if (r == 0) {
					r = rc;
					error_propagate(err, &e, rc);
				} else {
					korch_error_free(e);
				}
			}
		}
		done += m;
		batch *= 2;
	}
	for (int64_t i = done; i < n; i++)
		creation_observed(st->exp, s->key);
	return r;
}

/* Deletes pods (removing the tracking finalizer first, as deleteJobPods does). */
static int
delete_pods(struct jsync *s, json_t *pods, size_t n, bool keep_finalizer, korch_error **err)
{
	struct job_ctrl *st = state(s->ctl);
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *pk = object_key(json_array_get(pods, i));
		expect_deletion(st->exp, s->key, pk, cm_now(s->ctl->cm));
	}
	for (size_t i = 0; i < n; i++) {
		json_t *pod = json_array_get(pods, i);
		_cleanup_free_ char *pk = object_key(pod);
		korch_error *e = NULL;
		int rc = 0;
		if (!keep_finalizer && has_tracking(pod)) {
			_cleanup_json_ json_t *patch = json_pack(
				"{s:{s:[s]}}", "metadata", "$deleteFromPrimitiveList/finalizers",
				TRACKING_FINALIZER);
			rc = cm_patch(s->ctl, K_POD, jp_str(pod, "metadata.namespace"),
				      jp_str0(pod, "metadata.name"), CLIENT_PATCH_STRATEGIC, patch,
				      NULL, NULL, &e);
		}
		if (rc == 0)
			rc = pod_delete(s->ctl, s->job, pod, &e);
		if (rc < 0) {
			deletion_observed(st->exp, s->key, pk);
			if (rc != KORCH_ENOTFOUND && r == 0) {
				r = rc;
				error_propagate(err, &e, rc);
				continue;
			}
		}
		korch_error_free(e);
	}
	return r;
}

/* activePodsForRemoval: duplicated or invalid indexes first, then the least advanced. */
static json_t *
pods_for_removal(struct jsync *s, int64_t at_least)
{
	json_t *rm = json_array();
	_cleanup_json_ json_t *left = json_array();
	if (indexed(s->job)) {
		bool *seen =
			calloc((size_t)(s->completions > 0 ? s->completions : 1), sizeof(bool));
		_cleanup_json_ json_t *sorted = json_copy(s->active);
		pods_rank_for_deletion(sorted, NULL, s->wall);
		/* Keep the best-ranked (last) pod of each index: walk from the end. */
		for (size_t k = json_array_size(sorted); k-- > 0;) {
			json_t *pod = json_array_get(sorted, k);
			int64_t ix = pod_index(pod);
			if (ix < 0 || ix >= s->completions || (seen && seen[ix]))
				json_array_append(rm, pod);
			else {
				if (seen)
					seen[ix] = true;
				json_array_insert(left, 0, pod);
			}
		}
		free(seen);
	} else {
		json_array_extend(left, s->active);
	}
	if ((int64_t)json_array_size(rm) < at_least) {
		pods_rank_for_deletion(left, NULL, s->wall);
		for (size_t k = 0;
		     (int64_t)json_array_size(rm) < at_least && k < json_array_size(left); k++)
			json_array_append(rm, json_array_get(left, k));
	}
	return rm;
}

/* The lowest indexes neither succeeded nor active (firstPendingIndexes). */
static size_t
pending_indexes(struct jsync *s, int64_t count, int64_t *out)
{
	bool *busy = calloc((size_t)(s->completions > 0 ? s->completions : 1), sizeof(bool));
	if (!busy)
		return 0;
	size_t i;
	json_t *pod;
	json_array_foreach (s->active, i, pod) {
		int64_t ix = pod_index(pod);
		if (ix >= 0 && ix < s->completions)
			busy[ix] = true;
	}
	size_t n = 0;
	for (int64_t ix = 0; ix < s->completions && (int64_t)n < count; ix++)
		if (!busy[ix] && !s->succeeded_ix[ix])
			out[n++] = ix;
	free(busy);
	return n;
}

/* manageJob: returns the number of active pods after it. */
static int
manage(struct jsync *s, int64_t *ret_active, korch_error **err)
{
	const json_t *job = s->job;
	int64_t active = (int64_t)json_array_size(s->active);
	*ret_active = active;
	int64_t parallelism = jp_int(job, "spec.parallelism", 1);
	if (jp_true(job, "spec.suspend")) {
		_cleanup_json_ json_t *rm = pods_for_removal(s, active);
		int r = delete_pods(s, rm, json_array_size(rm), false, err);
		*ret_active = active - (int64_t)json_array_size(rm);
		s->terminating += (int64_t)json_array_size(rm);
		return r;
	}
	int64_t want;
	const json_t *completions = jp_get(job, "spec.completions");
	if (!json_is_integer(completions))
		want = s->succeeded > 0 ? active : parallelism;
	else
		want = MAX(0, MIN(json_integer_value(completions) - s->succeeded, parallelism));
	_cleanup_json_ json_t *rm = pods_for_removal(s, MAX(0, active - want));
	size_t n_rm = MIN(json_array_size(rm), (size_t)MAX_PER_SYNC);
	if (n_rm > 0) {
		int r = delete_pods(s, rm, n_rm, false, err);
		*ret_active = active - (int64_t)n_rm;
		s->terminating += (int64_t)n_rm;
		return r;
	}
	int64_t terminating =
		streq(jp_str(job, "spec.podReplacementPolicy"), "Failed") ? s->terminating : 0;
	int64_t diff = want - terminating - active;
	if (diff <= 0)
		return 0;
	int64_t wait = backoff_remaining(s);
	if (wait > 0) {
		ctrl_enqueue_after(s->ctl, s->key, wait);
		return 0;
	}
	diff = MIN(diff, MAX_PER_SYNC);
	int64_t *indexes = NULL;
	if (indexed(job)) {
		indexes = calloc((size_t)diff, sizeof(*indexes));
		if (!indexes)
			return error_oom(err);
		diff = (int64_t)pending_indexes(s, diff, indexes);
	}
	int r = diff > 0 ? create_pods(s, diff, indexes, err) : 0;
	free(indexes);
	*ret_active = active + diff;
	return r;
}

/* ---- status ---- */

/* Removes the tracking finalizer of pods; how many went (or were gone). */
static int
remove_finalizers(struct jsync *s, json_t *pods, korch_error **err)
{
	int r = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		_cleanup_json_ json_t *patch =
			json_pack("{s:{s:[s]}}", "metadata", "$deleteFromPrimitiveList/finalizers",
				  TRACKING_FINALIZER);
		korch_error *e = NULL;
		int rc = cm_patch(s->ctl, K_POD, jp_str(pod, "metadata.namespace"),
				  jp_str0(pod, "metadata.name"), CLIENT_PATCH_STRATEGIC, patch,
				  NULL, NULL, &e);
		if (rc < 0 && rc != KORCH_ENOTFOUND && r == 0) {
			r = rc;
			error_propagate(err, &e, rc);
			continue;
		}
		korch_error_free(e);
	}
	return r;
}

static json_t *
uncounted_of(json_t *job, const char *which)
{
	json_t *u = jp_obj(jp_obj(job, "status"), "uncountedTerminatedPods");
	json_t *list = json_object_get(u, which);
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(u, which, list);
	}
	return list;
}

static void
tidy_uncounted(json_t *job)
{
	json_t *u = jp_obj(jp_obj(job, "status"), "uncountedTerminatedPods");
	static const char *const which[] = { "succeeded", "failed" };
	for (size_t i = 0; i < 2; i++)
		if (json_array_size(json_object_get(u, which[i])) == 0)
			json_object_del(u, which[i]);
}

static int
write_status(struct jsync *s, korch_error **err)
{
	json_t *stored = NULL;
	int r = cm_update(s->ctl, s->job, "status", &stored, err);
	if (r < 0)
		return r;
	json_decref(s->job);
	s->job = stored;
	return 0;
}

static void
set_count(json_t *status, const char *field, int64_t n)
{
	if (n)
		json_object_set_new(status, field, json_integer(n));
	else
		json_object_del(status, field);
}

/*
 * trackJobStatusAndRemoveFinalizers, in one or two writes: finished pods' uids into
 * uncountedTerminatedPods, their finalizers off, then the counters and the conditions.
 */
static int
track_status(struct jsync *s, const json_t *finished_cond, bool needs_write, korch_error **err)
{
	json_t *job = s->job;
	bool finishing = finished_cond != NULL;
	_cleanup_json_ json_t *to_clear = json_array();
	json_t *u_ok = uncounted_of(job, "succeeded"), *u_fail = uncounted_of(job, "failed");
	size_t i;
	json_t *pod;
	json_array_foreach (s->pods, i, pod) {
		if (!has_tracking(pod))
			continue;
		const char *uid = jp_str0(pod, "metadata.uid");
		bool failed = pod_failed(pod, job);
		bool ok = streq(pod_phase(pod), "Succeeded");
		if (!(ok || failed || finishing || jp_get(job, "metadata.deletionTimestamp")))
			continue;
		json_array_append(to_clear, pod);
		if (ok && !has_string(u_fail, uid)) {
			if (!indexed(job) && !has_string(u_ok, uid)) {
				json_array_append_new(u_ok, json_string(uid));
				needs_write = true;
			}
		} else if ((failed || finishing) && !has_string(u_fail, uid)) {
			int64_t ix = pod_index(pod);
			if (!indexed(job) || (ix >= 0 && ix < s->completions)) {
				json_array_append_new(u_fail, json_string(uid));
				needs_write = true;
			}
		}
	}
	json_t *st = json_object_get(job, "status");
	if (indexed(job)) {
		_cleanup_free_ char *text = format_indexes(s->succeeded_ix, s->completions);
		if (!streq(jp_str0(st, "completedIndexes"), text ? text : "")) {
			json_object_set_new(st, "completedIndexes", json_string(text ? text : ""));
			needs_write = true;
		}
		int64_t n = 0;
		for (int64_t k = 0; k < s->completions; k++)
			n += s->succeeded_ix[k];
		set_count(st, "succeeded", n);
	}
	/* The interim condition goes in with the uncounted pods. */
	const char *final_type = NULL;
	if (finished_cond) {
		const char *type = jp_str(finished_cond, "type");
		const char *interim =
			streq(type, "Complete") ? "SuccessCriteriaMet" : "FailureTarget";
		if (ensure_condition(job, interim, "True", jp_str0(finished_cond, "reason"),
				     jp_str0(finished_cond, "message"), s->wall))
			needs_write = true;
		final_type = type;
	}
	tidy_uncounted(job);
	int r;
	if (needs_write && json_array_size(to_clear) && (r = write_status(s, err)) < 0)
		return r;
	job = s->job;
	r = remove_finalizers(s, to_clear, err);
	/* Pods whose finalizer went move from uncounted into the counters. */
	u_ok = uncounted_of(job, "succeeded");
	u_fail = uncounted_of(job, "failed");
	st = json_object_get(job, "status");
	if (r == 0) {
		if (!indexed(job))
			set_count(st, "succeeded",
				  jp_int(st, "succeeded", 0) + (int64_t)json_array_size(u_ok));
		set_count(st, "failed", jp_int(st, "failed", 0) + (int64_t)json_array_size(u_fail));
		if (json_array_size(u_ok) || json_array_size(u_fail))
			needs_write = true;
		json_array_clear(u_ok);
		json_array_clear(u_fail);
	}
	tidy_uncounted(job);
	bool finished_now = false;
	if (r == 0 && final_type && s->terminating == 0) {
		/* enactJobFinished: no pod is terminating any more. */
		ensure_condition(job, final_type, "True", jp_str0(finished_cond, "reason"),
				 jp_str0(finished_cond, "message"), s->wall);
		if (streq(final_type, "Complete")) {
			char now[32];
			json_object_set_new(st, "completionTime",
					    json_string(time_text(s->wall, now)));
		}
		finished_now = true;
		needs_write = true;
	}
	if (needs_write) {
		int w = write_status(s, err);
		if (w < 0)
			return w;
		if (finished_now) {
			if (streq(final_type, "Complete")) {
				const json_t *c = jp_get(s->job, "spec.completions");
				if (json_is_integer(c) &&
				    jp_int(s->job, "status.succeeded", 0) > json_integer_value(c))
					cm_event(
						s->ctl, s->job, "Warning", "TooManySucceededPods",
						"Too many succeeded pods running after completion count "
						"reached");
				cm_event(s->ctl, s->job, "Normal", "Completed", "Job completed");
			} else {
				cm_event(s->ctl, s->job, "Warning",
					 jp_str0(finished_cond, "reason"), "%s",
					 jp_str0(finished_cond, "message"));
			}
		}
	}
	return r;
}

/* ---- TTL after finished ---- */

static int
ttl_check(struct ctrl *ctl, const char *key, const json_t *job)
{
	const json_t *ttl = jp_get(job, "spec.ttlSecondsAfterFinished");
	if (!json_is_integer(ttl))
		return 0;
	const json_t *c = job_condition(job, "Complete");
	if (!c)
		c = job_condition(job, "Failed");
	int64_t finished = jp_time(c, "lastTransitionTime", 0);
	int64_t due = finished + json_integer_value(ttl) * NSEC_PER_SEC;
	int64_t now = cm_wall(ctl->cm);
	if (now < due) {
		ctrl_enqueue_after(ctl, key, due - now);
		return 0;
	}
	struct client_delete_opts o = { .grace_period_s = -1,
					.propagation = CLIENT_PROPAGATION_FOREGROUND,
					.precondition_uid = jp_str(job, "metadata.uid") };
	korch_error *e = NULL;
	int r = cm_delete(ctl, K_JOB, jp_str(job, "metadata.namespace"),
			  jp_str0(job, "metadata.name"), &o, &e);
	if (r == KORCH_ENOTFOUND || r == KORCH_ECONFLICT) {
		korch_error_free(e);
		return 0;
	}
	return r < 0 ? ctrl_fail(ctl, key, r, e) : 0;
}

/* ---- orphans ---- */

static int
sync_orphan(struct ctrl *ctl, const char *key)
{
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *pod = informer_get(state(ctl)->pods, ns, name);
	if (!pod || !has_tracking(pod))
		return 0;
	const json_t *ref = controller_ref(pod);
	if (ref &&
	    !(streq(jp_str(ref, "kind"), "Job") && streq(jp_str(ref, "apiVersion"), "batch/v1")))
		return 0;
	const json_t *job = ref ? job_of_pod(ctl, pod) : NULL;
	if (job && !job_finished(job))
		return 0; /* adopted: its Job counts it */
	_cleanup_json_ json_t *patch =
		json_pack("{s:{s:[s]}}", "metadata", "$deleteFromPrimitiveList/finalizers",
			  TRACKING_FINALIZER);
	korch_error *e = NULL;
	int r = cm_patch(ctl, K_POD, ns, name, CLIENT_PATCH_STRATEGIC, patch, NULL, NULL, &e);
	return ctrl_sync_end(ctl, key, r, e);
}

/* ---- syncJob ---- */

static bool
past_backoff_on_failure(const json_t *job, const json_t *pods)
{
	if (!streq(jp_str(job, "spec.template.spec.restartPolicy"), "OnFailure"))
		return false;
	int64_t restarts = 0;
	size_t i, j;
	json_t *pod, *cs;
	json_array_foreach (pods, i, pod) {
		const char *phase = pod_phase(pod);
		if (!streq(phase, "Running") && !streq(phase, "Pending"))
			continue;
		json_array_foreach (jp_get(pod, "status.initContainerStatuses"), j, cs)
			restarts += jp_int(cs, "restartCount", 0);
		json_array_foreach (jp_get(pod, "status.containerStatuses"), j, cs)
			restarts += jp_int(cs, "restartCount", 0);
	}
	int64_t limit = jp_int(job, "spec.backoffLimit", 6);
	return limit == 0 ? restarts > 0 : restarts >= limit;
}

static int
sync_job(struct jsync *s, korch_error **err)
{
	struct ctrl *ctl = s->ctl;
	json_t *job = s->job;
	struct job_ctrl *st = state(ctl);
	bool satisfied = expectations_satisfied(st->exp, s->key, cm_now(ctl->cm));
	/* The pods: claimed by selector (adopting and releasing), active ones apart. */
	struct label_selector *sel = NULL;
	int r = workload_selector(job, false, &sel, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *candidates = json_array();
	cm_foreach_claimable(ctl->cm, st->pods, jp_str(job, "metadata.namespace"),
			     jp_str0(job, "metadata.uid"), sel, collect_all, candidates);
	r = claim_objects(ctl, job, K_JOB, K_POD, sel, candidates, &s->pods, err);
	label_selector_free(sel);
	if (r < 0)
		return r;
	s->active = json_array();
	_cleanup_json_ json_t *new_ok = json_array(), *new_failed = json_array();
	const json_t *u_ok = jp_get(job, "status.uncountedTerminatedPods.succeeded");
	const json_t *u_fail = jp_get(job, "status.uncountedTerminatedPods.failed");
	s->completions = jp_int(job, "spec.completions", 0);
	s->succeeded_ix = parse_indexes(jp_str(job, "status.completedIndexes"), s->completions);
	size_t i;
	json_t *pod;
	int64_t ready = 0;
	json_array_foreach (s->pods, i, pod) {
		if (pod_active(pod)) {
			json_array_append(s->active, pod);
			if (pod_ready(pod))
				ready++;
		}
		const char *phase = pod_phase(pod);
		if (jp_get(pod, "metadata.deletionTimestamp") && !streq(phase, "Succeeded") &&
		    !streq(phase, "Failed"))
			s->terminating++;
		if (!has_tracking(pod))
			continue;
		const char *uid = jp_str0(pod, "metadata.uid");
		int64_t ix = pod_index(pod);
		if (indexed(job) && (ix < 0 || ix >= s->completions))
			continue;
		if (streq(phase, "Succeeded") && !has_string(u_ok, uid)) {
			json_array_append(new_ok, pod);
			if (indexed(job))
				s->succeeded_ix[ix] = true;
		} else if (pod_failed(pod, job) && !has_string(u_fail, uid)) {
			json_array_append(new_failed, pod);
		}
	}
	s->succeeded = jp_int(job, "status.succeeded", 0) + (int64_t)json_array_size(new_ok) +
		       (int64_t)json_array_size(u_ok);
	s->failed = jp_int(job, "status.failed", 0) + (int64_t)json_array_size(new_failed) +
		    (int64_t)json_array_size(u_fail);
	if (indexed(job)) {
		s->succeeded = 0;
		for (int64_t k = 0; k < s->completions; k++)
			s->succeeded += s->succeeded_ix[k];
	}
	bool needs_write = false;
	json_t *status = jp_obj(job, "status");
	if (!jp_get(job, "status.startTime") && !jp_true(job, "spec.suspend")) {
		char now[32];
		json_object_set_new(status, "startTime", json_string(time_text(s->wall, now)));
		needs_write = true;
	}
	update_backoff(s, new_ok, new_failed);
	/* Why the Job is finishing, if it is. */
	_cleanup_json_ json_t *finished = NULL;
	const json_t *target = job_condition(job, "FailureTarget");
	const json_t *met = job_condition(job, "SuccessCriteriaMet");
	if (met)
		finished = new_condition("Complete", "True", jp_str0(met, "reason"),
					 jp_str0(met, "message"), s->wall);
	else if (target)
		finished = new_condition("Failed", "True", jp_str0(target, "reason"),
					 jp_str0(target, "message"), s->wall);
	else if (s->failed > jp_int(job, "spec.backoffLimit", 6) ||
		 past_backoff_on_failure(job, s->pods))
		finished = new_condition("Failed", "True", "BackoffLimitExceeded",
					 "Job has reached the specified backoff limit", s->wall);
	else if (json_is_integer(jp_get(job, "spec.activeDeadlineSeconds")) &&
		 !jp_true(job, "spec.suspend") && jp_get(job, "status.startTime")) {
		int64_t deadline = jp_time(job, "status.startTime", s->wall) +
				   jp_int(job, "spec.activeDeadlineSeconds", 0) * NSEC_PER_SEC;
		if (s->wall >= deadline)
			finished = new_condition("Failed", "True", "DeadlineExceeded",
						 "Job was active longer than specified deadline",
						 s->wall);
		else
			ctrl_enqueue_after(ctl, s->key, deadline - s->wall);
	}
	int64_t active = (int64_t)json_array_size(s->active);
	int manage_err = 0;
	korch_error *me = NULL;
	if (finished && streq(jp_str(finished, "type"), "Failed")) {
		/* Failing: every active pod goes (keeping its finalizer until it is counted). */
		int64_t n = active;
		manage_err = delete_pods(s, s->active, json_array_size(s->active), true, &me);
		active = 0;
		s->terminating += n;
		ready = 0;
		if (!satisfied) {
			json_decref(finished);
			finished = NULL;
		}
	} else {
		bool managed = false;
		if (satisfied && !jp_get(job, "metadata.deletionTimestamp")) {
			manage_err = manage(s, &active, &me);
			managed = true;
		}
		const json_t *completions = jp_get(job, "spec.completions");
		bool complete =
			json_is_integer(completions)
				? s->succeeded >= json_integer_value(completions) && active == 0
				: s->succeeded > 0 && active == 0;
		if (complete && !finished) {
			finished =
				new_condition("Complete", "True", "CompletionsReached",
					      "Reached expected number of succeeded pods", s->wall);
		} else if (!complete && managed) {
			if (jp_true(job, "spec.suspend")) {
				if (ensure_condition(job, "Suspended", "True", "JobSuspended",
						     "Job suspended", s->wall)) {
					needs_write = true;
					cm_event(ctl, job, "Normal", "Suspended", "Job suspended");
				}
			} else if (ensure_condition(job, "Suspended", "False", "JobResumed",
						    "Job resumed", s->wall)) {
				needs_write = true;
				cm_event(ctl, job, "Normal", "Resumed", "Job resumed");
				/* Resuming restarts the activeDeadlineSeconds clock. */
				char now[32];
				json_object_set_new(status, "startTime",
						    json_string(time_text(s->wall, now)));
			}
		}
	}
	status = jp_obj(job, "status");
	if (jp_int(status, "active", 0) != active) {
		set_count(status, "active", active);
		needs_write = true;
	}
	if (!json_is_integer(json_object_get(status, "ready")) ||
	    jp_int(status, "ready", 0) != ready) {
		json_object_set_new(status, "ready", json_integer(ready));
		needs_write = true;
	}
	if (!json_is_integer(json_object_get(status, "terminating")) ||
	    jp_int(status, "terminating", 0) != s->terminating) {
		json_object_set_new(status, "terminating", json_integer(s->terminating));
		needs_write = true;
	}
	if (!json_is_object(json_object_get(status, "uncountedTerminatedPods"))) {
		json_object_set_new(status, "uncountedTerminatedPods", json_object());
		needs_write = true;
	}
	r = track_status(s, finished, needs_write, err);
	if (r < 0) {
		korch_error_free(me);
		return r;
	}
	return error_propagate(err, &me, manage_err);
}

static int
job_sync(struct ctrl *ctl, const char *key)
{
	if (startswith(key, ORPHAN_PREFIX))
		return sync_orphan(ctl, key + strlen(ORPHAN_PREFIX));
	struct job_ctrl *st = state(ctl);
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *cached = informer_get(st->jobs, ns, name);
	if (!cached) {
		expectations_delete(st->exp, key);
		free(hashmap_remove(&st->backoff, key));
		return 0;
	}
	if (job_finished(cached)) {
		free(hashmap_remove(&st->backoff, key));
		return ttl_check(ctl, key, cached);
	}
	if (!streq(jp_str0(cached, "spec.completionMode"), "") &&
	    !streq(jp_str(cached, "spec.completionMode"), "NonIndexed") &&
	    !streq(jp_str(cached, "spec.completionMode"), "Indexed")) {
		cm_event(ctl, cached, "Warning", "UnknownCompletionMode",
			 "Skipped Job sync because completion mode is unknown");
		return 0;
	}
	struct jsync s = {
		.ctl = ctl,
		.key = key,
		.job = json_deep_copy(cached),
		.wall = cm_wall(ctl->cm),
	};
	korch_error *e = NULL;
	int r = sync_job(&s, &e);
	bool finished_now = s.job && job_finished(s.job);
	json_t *job_after = json_incref(s.job);
	json_decref(s.job);
	json_decref(s.pods);
	json_decref(s.active);
	free(s.succeeded_ix);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		json_decref(job_after);
		return 0;
	}
	if (r == 0 && finished_now)
		r = ttl_check(ctl, key, job_after);
	json_decref(job_after);
	return r < 0 ? ctrl_fail(ctl, key, r, e) : 0;
}

const struct ctrl_ops job_ops = {
	.name = "job",
	.component = "job-controller",
	.init = job_init,
	.sync = job_sync,
	.fini = job_fini,
};
