/*
 * deployment.c - the Deployment controller (Kubernetes' pkg/controller/deployment): claims the
 * ReplicaSets its selector matches, finds the one whose template is the Deployment's
 * (semantically, ignoring pod-template-hash, so that a rollback reuses its old ReplicaSet) or
 * creates it named NAME-HASH, keeps the revision annotations, runs the strategy (rolling update
 * or recreate; deployment-rollout.c) or a proportional scale, and writes the status with the
 * Available and Progressing conditions (progressDeadlineSeconds, paused), exactly as
 * `kubectl rollout status` reads them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"
#include "controller/deployment.h"
#include "controller/pods.h"

/* revisionHistory annotation length limit (maxRevHistoryLengthInChars). */
#define MAX_REV_HISTORY_CHARS 2000

struct dep_ctrl {
	struct informer *deps; /* Deployments */
	struct informer *rss;  /* ReplicaSets */
	struct informer *pods; /* Pods (Recreate waits for old pods to go) */
};

static struct dep_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

/* ---- numbers ---- */

int64_t
dep_replicas(const json_t *d)
{
	return jp_int(d, "spec.replicas", 1);
}

int64_t
rs_replicas(const json_t *rs)
{
	return jp_int(rs, "spec.replicas", 1);
}

bool
dep_rolling(const json_t *d)
{
	const char *type = jp_str(d, "spec.strategy.type");
	return !type || streq(type, "RollingUpdate");
}

/* ResolveFenceposts: surge rounds up, unavailable down; both zero makes unavailable 1. */
static void
fenceposts(const json_t *d, int64_t *ret_surge, int64_t *ret_unavailable)
{
	int64_t desired = dep_replicas(d);
	const json_t *ru = jp_get(d, "spec.strategy.rollingUpdate");
	const json_t *ms = json_object_get(ru, "maxSurge");
	const json_t *mu = json_object_get(ru, "maxUnavailable");
	int64_t surge = 0, unavailable = 0;
	if (ms)
		int_or_percent(ms, desired, true, &surge, NULL);
	if (mu)
		int_or_percent(mu, desired, false, &unavailable, NULL);
	if (surge == 0 && unavailable == 0)
		unavailable = 1;
	*ret_surge = surge;
	*ret_unavailable = unavailable;
}

int64_t
dep_max_surge(const json_t *d)
{
	if (!dep_rolling(d))
		return 0;
	int64_t surge, unavailable;
	fenceposts(d, &surge, &unavailable);
	return surge;
}

int64_t
dep_max_unavailable(const json_t *d)
{
	if (!dep_rolling(d) || dep_replicas(d) == 0)
		return 0;
	int64_t surge, unavailable;
	fenceposts(d, &surge, &unavailable);
	return MIN(unavailable, dep_replicas(d));
}

int64_t
rs_sum(const json_t *rss, const char *path, int64_t dflt)
{
	int64_t n = 0;
	size_t i;
	json_t *rs;
	json_array_foreach (rss, i, rs)
		n += jp_int(rs, path, dflt);
	return n;
}

json_t *
rs_others(const json_t *rss, const json_t *skip)
{
	json_t *out = json_array();
	size_t i;
	json_t *rs;
	json_array_foreach (rss, i, rs)
		if (rs != skip)
			json_array_append(out, rs);
	return out;
}

json_t *
rs_active(const json_t *rss)
{
	json_t *out = json_array();
	size_t i;
	json_t *rs;
	json_array_foreach (rss, i, rs)
		if (rs_replicas(rs) > 0)
			json_array_append(out, rs);
	return out;
}

static int
by_creation(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t tx = jp_time(x, "metadata.creationTimestamp", 0);
	int64_t ty = jp_time(y, "metadata.creationTimestamp", 0);
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return strcmp(jp_str0(x, "metadata.name"), jp_str0(y, "metadata.name"));
}

static void
sort_array(json_t *arr, int (*cmp)(const void *, const void *), bool reverse)
{
	size_t n = json_array_size(arr);
	if (n < 2)
		return;
	json_t **v = calloc(n, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), cmp);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[reverse ? n - 1 - i : i]);
	free(v);
}

void
rs_sort_by_creation(json_t *rss, bool reverse)
{
	sort_array(rss, by_creation, reverse);
}

static int64_t
rs_revision(const json_t *rs)
{
	const char *v = json_string_value(
		json_object_get(jp_get(rs, "metadata.annotations"), REVISION_ANNOTATION));
	int64_t n = 0;
	if (!v || parse_int64(v, &n) < 0)
		return 0;
	return n;
}

static const char *
annotation(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(jp_get(obj, "metadata.annotations"), key));
}

static json_t *
annotations_of(json_t *obj)
{
	json_t *meta = jp_obj(obj, "metadata");
	return jp_obj(meta, "annotations");
}

static bool
has_progress_deadline(const json_t *d)
{
	const json_t *v = jp_get(d, "spec.progressDeadlineSeconds");
	return json_is_integer(v) && json_integer_value(v) != 2147483647;
}

/* ---- conditions (SetDeploymentCondition) ---- */

static const json_t *
dep_condition(const json_t *status, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(status, "conditions"), i, c)
		if (streq(jp_str(c, "type"), type))
			return c;
	return NULL;
}

static void
remove_condition(json_t *status, const char *type)
{
	json_t *conds = json_object_get(status, "conditions");
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c)
		if (streq(jp_str(c, "type"), type)) {
			json_array_remove(conds, i);
			break;
		}
	if (conds && json_array_size(conds) == 0)
		json_object_del(status, "conditions");
}

/* A condition as NewDeploymentCondition makes it (update and transition time now). */
static json_t *
new_condition(const char *type, const char *status, const char *reason, const char *message,
	      int64_t wall)
{
	char now[32];
	time_text(wall, now);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status,
			 "lastUpdateTime", now, "lastTransitionTime", now, "reason", reason,
			 "message", message);
}

/*
 * SetDeploymentCondition: nothing when status and reason are unchanged; keeps the transition
 * time when only the reason changes; the condition moves to the end of the list.
 */
static void
set_condition(json_t *status, json_t *cond)
{
	const json_t *cur = dep_condition(status, jp_str(cond, "type"));
	if (cur && streq(jp_str(cur, "status"), jp_str(cond, "status")) &&
	    streq(jp_str(cur, "reason"), jp_str(cond, "reason"))) {
		json_decref(cond);
		return;
	}
	if (cur && streq(jp_str(cur, "status"), jp_str(cond, "status")))
		json_object_set(cond, "lastTransitionTime",
				json_object_get((json_t *)cur, "lastTransitionTime"));
	remove_condition(status, jp_str(cond, "type"));
	json_t *conds = json_object_get(status, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(status, "conditions", conds);
	}
	json_array_append_new(conds, cond);
}

/* ---- status ---- */

bool
dep_complete(const json_t *d, const json_t *status)
{
	int64_t want = dep_replicas(d);
	return jp_int(status, "updatedReplicas", 0) == want &&
	       jp_int(status, "replicas", 0) == want &&
	       jp_int(status, "availableReplicas", 0) == want &&
	       jp_int(status, "observedGeneration", 0) >= jp_int(d, "metadata.generation", 0);
}

static void
put_count(json_t *status, const char *field, int64_t n)
{
	if (n)
		json_object_set_new(status, field, json_integer(n));
}

/* calculateStatus, fields in Kubernetes' order, zero counts omitted. */
static json_t *
calculate_status(struct dsync *s)
{
	const json_t *d = s->d;
	int64_t available = rs_sum(s->rss, "status.availableReplicas", 0);
	int64_t total = rs_sum(s->rss, "spec.replicas", 1);
	int64_t unavailable = MAX(total - available, 0);
	json_t *st = json_object();
	put_count(st, "observedGeneration", jp_int(d, "metadata.generation", 0));
	put_count(st, "replicas", rs_sum(s->rss, "status.replicas", 0));
	put_count(st, "updatedReplicas", s->new_rs ? jp_int(s->new_rs, "status.replicas", 0) : 0);
	put_count(st, "readyReplicas", rs_sum(s->rss, "status.readyReplicas", 0));
	put_count(st, "availableReplicas", available);
	put_count(st, "unavailableReplicas", unavailable);
	const json_t *conds = jp_get(d, "status.conditions");
	if (json_array_size(conds))
		json_object_set_new(st, "conditions", json_deep_copy(conds));
	const json_t *cc = jp_get(d, "status.collisionCount");
	if (cc)
		json_object_set(st, "collisionCount", (json_t *)cc);
	if (available >= dep_replicas(d) - dep_max_unavailable(d))
		set_condition(st, new_condition("Available", "True", "MinimumReplicasAvailable",
						"Deployment has minimum availability.", s->wall));
	else
		set_condition(st, new_condition("Available", "False", "MinimumReplicasUnavailable",
						"Deployment does not have minimum availability.",
						s->wall));
	/* conditions last, collisionCount after them, as the Go struct orders them */
	json_t *c = json_incref(json_object_get(st, "conditions"));
	if (c) {
		json_object_del(st, "conditions");
		json_object_set_new(st, "conditions", c);
	}
	json_t *col = json_incref(json_object_get(st, "collisionCount"));
	if (col) {
		json_object_del(st, "collisionCount");
		json_object_set_new(st, "collisionCount", col);
	}
	return st;
}

static const json_t *
status_of(const json_t *d)
{
	const json_t *st = jp_get(d, "status");
	return st ? st : json_null();
}

/* Writes status (and, with it, the Deployment's annotations) unless it is what d shows. */
static int
write_status(struct dsync *s, json_t *status, bool force, korch_error **err)
{
	if (!force && json_equal(status, status_of(s->d))) {
		json_decref(status);
		return 0;
	}
	json_object_set_new(s->d, "status", status);
	json_t *stored = NULL;
	int r = cm_update(s->ctl, s->d, "status", &stored, err);
	if (r < 0)
		return r;
	json_decref(s->d);
	s->d = stored;
	return 0;
}

int
dep_sync_status(struct dsync *s, korch_error **err)
{
	return write_status(s, calculate_status(s), false, err);
}

/* DeploymentProgressing: any progress since the status the Deployment shows. */
static bool
progressing(const json_t *d, const json_t *st)
{
	const json_t *old = status_of(d);
	int64_t old_old = jp_int(old, "replicas", 0) - jp_int(old, "updatedReplicas", 0);
	int64_t new_old = jp_int(st, "replicas", 0) - jp_int(st, "updatedReplicas", 0);
	return jp_int(st, "updatedReplicas", 0) > jp_int(old, "updatedReplicas", 0) ||
	       new_old < old_old ||
	       jp_int(st, "readyReplicas", 0) > jp_int(old, "readyReplicas", 0) ||
	       jp_int(st, "availableReplicas", 0) > jp_int(old, "availableReplicas", 0);
}

/* DeploymentTimedOut. */
static bool
timed_out(const json_t *d, const json_t *st, int64_t wall)
{
	if (!has_progress_deadline(d))
		return false;
	const json_t *c = dep_condition(st, "Progressing");
	if (!c || streq(jp_str(c, "reason"), "NewReplicaSetAvailable"))
		return false;
	if (streq(jp_str(c, "reason"), "ProgressDeadlineExceeded"))
		return true;
	int64_t from = jp_time(c, "lastUpdateTime", 0);
	int64_t deadline = jp_int(d, "spec.progressDeadlineSeconds", 0) * NSEC_PER_SEC;
	return from + deadline < wall;
}

/* requeueStuckDeployment: look again when the progress deadline would pass. */
static void
requeue_stuck(struct dsync *s, const json_t *st)
{
	const json_t *c = dep_condition(status_of(s->d), "Progressing");
	if (!has_progress_deadline(s->d) || !c)
		return;
	if (dep_complete(s->d, st) || streq(jp_str(c, "reason"), "ProgressDeadlineExceeded"))
		return;
	int64_t after = jp_time(c, "lastUpdateTime", 0) +
			jp_int(s->d, "spec.progressDeadlineSeconds", 0) * NSEC_PER_SEC - s->wall;
	if (after < NSEC_PER_SEC)
		workqueue_add_rate_limited(s->ctl->queue, s->key);
	else
		ctrl_enqueue_after(s->ctl, s->key, after + NSEC_PER_SEC);
}

int
dep_sync_rollout_status(struct dsync *s, korch_error **err)
{
	json_t *st = calculate_status(s);
	const json_t *d = s->d;
	const char *rs_name = s->new_rs ? jp_str(s->new_rs, "metadata.name") : NULL;
	char msg[512];
	if (!has_progress_deadline(d))
		remove_condition(st, "Progressing");
	const json_t *cur = dep_condition(status_of(d), "Progressing");
	bool complete_rollout = jp_int(st, "replicas", 0) == jp_int(st, "updatedReplicas", 0) &&
				cur && streq(jp_str(cur, "reason"), "NewReplicaSetAvailable");
	if (has_progress_deadline(d) && !complete_rollout) {
		if (dep_complete(d, st)) {
			if (rs_name)
				snprintf(msg, sizeof(msg),
					 "ReplicaSet \"%s\" has successfully progressed.", rs_name);
			else
				snprintf(msg, sizeof(msg),
					 "Deployment \"%s\" has successfully progressed.",
					 jp_str0(d, "metadata.name"));
			set_condition(st, new_condition("Progressing", "True",
							"NewReplicaSetAvailable", msg, s->wall));
		} else if (progressing(d, st)) {
			if (rs_name)
				snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" is progressing.",
					 rs_name);
			else
				snprintf(msg, sizeof(msg), "Deployment \"%s\" is progressing.",
					 jp_str0(d, "metadata.name"));
			json_t *cond = new_condition("Progressing", "True", "ReplicaSetUpdated",
						     msg, s->wall);
			/* Progress moves lastUpdateTime even when the reason stays the same. */
			if (cur) {
				if (streq(jp_str(cur, "status"), "True"))
					json_object_set(cond, "lastTransitionTime",
							json_object_get((json_t *)cur,
									"lastTransitionTime"));
				remove_condition(st, "Progressing");
			}
			set_condition(st, cond);
		} else if (timed_out(d, st, s->wall)) {
			if (rs_name)
				snprintf(msg, sizeof(msg),
					 "ReplicaSet \"%s\" has timed out progressing.", rs_name);
			else
				snprintf(msg, sizeof(msg),
					 "Deployment \"%s\" has timed out progressing.",
					 jp_str0(d, "metadata.name"));
			set_condition(st, new_condition("Progressing", "False",
							"ProgressDeadlineExceeded", msg, s->wall));
		}
	}
	/* getReplicaFailures: the new ReplicaSet's failure first, else an old one's. */
	const json_t *failure = NULL;
	if (s->new_rs)
		failure = condition_get(s->new_rs, "ReplicaFailure");
	size_t i;
	json_t *rs;
	json_array_foreach (s->rss, i, rs)
		if (!failure && rs != s->new_rs)
			failure = condition_get(rs, "ReplicaFailure");
	if (failure && streq(jp_str(failure, "status"), "True"))
		set_condition(st,
			      new_condition("ReplicaFailure", "True", jp_str0(failure, "reason"),
					    jp_str0(failure, "message"), s->wall));
	else
		remove_condition(st, "ReplicaFailure");
	if (json_equal(st, status_of(d))) {
		requeue_stuck(s, st);
		json_decref(st);
		return 0;
	}
	return write_status(s, st, true, err);
}

/* ---- ReplicaSets ---- */

static const char *const annotations_to_skip[] = {
	"kubectl.kubernetes.io/last-applied-configuration",
	REVISION_ANNOTATION,
	REVISION_HISTORY_ANNOTATION,
	DESIRED_REPLICAS_ANNOTATION,
	MAX_REPLICAS_ANNOTATION,
	"deprecated.deployment.rollback.to",
};

static bool
skip_annotation(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(annotations_to_skip); i++)
		if (streq(key, annotations_to_skip[i]))
			return true;
	return false;
}

/* copyDeploymentAnnotationsToReplicaSet. */
static bool
copy_annotations(const json_t *d, json_t *rs)
{
	bool changed = false;
	json_t *ann = NULL;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)jp_get(d, "metadata.annotations"), k, v) {
		if (skip_annotation(k) || !json_is_string(v))
			continue;
		if (!ann)
			ann = annotations_of(rs);
		const json_t *cur = json_object_get(ann, k);
		if (!cur || !json_equal(cur, v)) {
			json_object_set(ann, k, v);
			changed = true;
		}
	}
	return changed;
}

/* SetReplicasAnnotations: desired and max replicas; returns whether they changed. */
static bool
set_replicas_annotations(json_t *rs, int64_t desired, int64_t max)
{
	json_t *ann = annotations_of(rs);
	char a[32], b[32];
	snprintf(a, sizeof(a), "%lld", (long long)desired);
	snprintf(b, sizeof(b), "%lld", (long long)max);
	bool changed = false;
	if (!streq(json_string_value(json_object_get(ann, DESIRED_REPLICAS_ANNOTATION)), a)) {
		json_object_set_new(ann, DESIRED_REPLICAS_ANNOTATION, json_string(a));
		changed = true;
	}
	if (!streq(json_string_value(json_object_get(ann, MAX_REPLICAS_ANNOTATION)), b)) {
		json_object_set_new(ann, MAX_REPLICAS_ANNOTATION, json_string(b));
		changed = true;
	}
	return changed;
}

static bool
replicas_annotations_need_update(const json_t *rs, int64_t desired, int64_t max)
{
	char a[32], b[32];
	snprintf(a, sizeof(a), "%lld", (long long)desired);
	snprintf(b, sizeof(b), "%lld", (long long)max);
	return !streq(annotation(rs, DESIRED_REPLICAS_ANNOTATION), a) ||
	       !streq(annotation(rs, MAX_REPLICAS_ANNOTATION), b);
}

/* SetNewReplicaSetAnnotations: returns whether rs's annotations changed. */
static bool
set_new_rs_annotations(const json_t *d, json_t *rs, int64_t new_revision, bool exists)
{
	bool changed = copy_annotations(d, rs);
	json_t *ann = annotations_of(rs);
	const char *old_text = json_string_value(json_object_get(ann, REVISION_ANNOTATION));
	int64_t old_rev = 0;
	if (old_text && parse_int64(old_text, &old_rev) < 0)
		return changed;
	char old_copy[32] = "";
	if (old_text)
		snprintf(old_copy, sizeof(old_copy), "%s", old_text);
	if (old_rev < new_revision) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)new_revision);
		json_object_set_new(ann, REVISION_ANNOTATION, json_string(buf));
		changed = true;
		if (old_text) {
			/* Rolled back to this ReplicaSet: keep its earlier revisions. */
			const char *hist = json_string_value(
				json_object_get(ann, REVISION_HISTORY_ANNOTATION));
			char out[MAX_REV_HISTORY_CHARS + 64];
			if (!hist || !*hist) {
				snprintf(out, sizeof(out), "%s", old_copy);
			} else {
				const char *start = hist;
				size_t total = strlen(hist) + strlen(old_copy) + 1;
				while (total > MAX_REV_HISTORY_CHARS && start && *start) {
					const char *comma = strchr(start, ',');
					size_t seg =
						comma ? (size_t)(comma - start) : strlen(start);
					total -= seg + 1;
					start = comma ? comma + 1 : start + seg;
				}
				if (total <= MAX_REV_HISTORY_CHARS)
					snprintf(out, sizeof(out), "%s%s%s", start,
						 *start ? "," : "", old_copy);
				else
					snprintf(out, sizeof(out), "%s", hist);
			}
			json_object_set_new(ann, REVISION_HISTORY_ANNOTATION, json_string(out));
		}
	}
	if (!exists &&
	    set_replicas_annotations(rs, dep_replicas(d), dep_replicas(d) + dep_max_surge(d)))
		changed = true;
	return changed;
}

/* SetDeploymentRevision on the working copy; returns whether it changed. */
static bool
set_deployment_revision(json_t *d, const char *revision)
{
	if (!revision)
		return false;
	json_t *ann = annotations_of(d);
	if (streq(json_string_value(json_object_get(ann, REVISION_ANNOTATION)), revision))
		return false;
	json_object_set_new(ann, REVISION_ANNOTATION, json_string(revision));
	return true;
}

/* Replaces rss's element old with new (an updated ReplicaSet). */
static void
replace_rs(struct dsync *s, json_t *old, json_t *updated)
{
	size_t i;
	json_t *rs;
	json_array_foreach (s->rss, i, rs)
		if (rs == old) {
			if (s->new_rs == old)
				s->new_rs = updated;
			json_array_set(s->rss, i, updated);
			return;
		}
}

int
dep_scale_rs_op(struct dsync *s, json_t *rs, int64_t size, const char *op, bool *ret_scaled,
		korch_error **err)
{
	const json_t *d = s->d;
	int64_t want = dep_replicas(d), max = want + dep_max_surge(d);
	int64_t old_size = rs_replicas(rs);
	bool resize = old_size != size;
	if (ret_scaled)
		*ret_scaled = false;
	if (!resize && !replicas_annotations_need_update(rs, want, max))
		return 0;
	_cleanup_json_ json_t *copy = json_deep_copy(rs);
	json_object_set_new(jp_obj(copy, "spec"), "replicas", json_integer(size));
	set_replicas_annotations(copy, want, max);
	json_t *stored = NULL;
	int r = cm_update(s->ctl, copy, NULL, &stored, err);
	if (r < 0)
		return r;
	if (resize) {
		if (op && *op)
			cm_event(s->ctl, d, "Normal", "ScalingReplicaSet",
				 "Scaled %s replica set %s from %lld to %lld", op,
				 jp_str0(stored, "metadata.name"), (long long)old_size,
				 (long long)size);
		else
			cm_event(s->ctl, d, "Normal", "ScalingReplicaSet",
				 "Scaled replica set %s from %lld to %lld",
				 jp_str0(stored, "metadata.name"), (long long)old_size,
				 (long long)size);
		if (ret_scaled)
			*ret_scaled = true;
	}
	replace_rs(s, rs, stored);
	json_decref(stored);
	return 0;
}

int
dep_scale_rs(struct dsync *s, json_t *rs, int64_t size, bool *ret_scaled, korch_error **err)
{
	if (rs_replicas(rs) == size) {
		if (ret_scaled)
			*ret_scaled = false;
		return 0;
	}
	return dep_scale_rs_op(s, rs, size, rs_replicas(rs) < size ? "up" : "down", ret_scaled,
			       err);
}

/* NewRSNewReplicas. */
static int64_t
new_rs_new_replicas(const json_t *d, const json_t *all, const json_t *new_rs)
{
	if (!dep_rolling(d))
		return dep_replicas(d);
	int64_t surge = 0;
	int_or_percent(jp_get(d, "spec.strategy.rollingUpdate.maxSurge"), dep_replicas(d), true,
		       &surge, NULL);
	int64_t current = rs_sum(all, "spec.replicas", 1);
	int64_t max_total = dep_replicas(d) + surge;
	int64_t have = new_rs ? rs_replicas(new_rs) : 0;
	if (current >= max_total)
		return have;
	int64_t up = MIN(max_total - current, dep_replicas(d) - have);
	return have + up;
}

/* The new ReplicaSet for the Deployment's template (the oldest such). */
static json_t *
find_new_rs(const json_t *d, json_t *rss)
{
	_cleanup_json_ json_t *sorted = json_copy(rss);
	rs_sort_by_creation(sorted, false);
	size_t i;
	json_t *rs;
	json_array_foreach (sorted, i, rs)
		if (templates_equal_ignore_hash(jp_get(rs, "spec.template"),
						jp_get(d, "spec.template")))
			return rs;
	return NULL;
}

/* Builds the new ReplicaSet (getNewReplicaSet's object). */
static json_t *
new_rs_object(const json_t *d, const char *hash)
{
	json_t *tmpl = json_deep_copy(jp_get(d, "spec.template"));
	json_t *labels = jp_obj(jp_obj(tmpl, "metadata"), "labels");
	json_object_set_new(labels, POD_TEMPLATE_HASH_LABEL, json_string(hash));
	json_t *sel = json_deep_copy(jp_get(d, "spec.selector"));
	if (!sel)
		sel = json_object();
	json_object_set_new(jp_obj(sel, "matchLabels"), POD_TEMPLATE_HASH_LABEL, json_string(hash));
	char name[320];
	snprintf(name, sizeof(name), "%s-%s", jp_str0(d, "metadata.name"), hash);
	json_t *ref = controller_ref_new(d, K_DEPLOY);
	json_t *rs = json_pack("{s:s, s:s, s:{s:s, s:s, s:O, s:[o]}, s:{s:i, s:I, s:o, s:o}}",
			       "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name",
			       name, "namespace", jp_str0(d, "metadata.namespace"), "labels",
			       labels, "ownerReferences", ref, "spec", "replicas", 0,
			       "minReadySeconds", (json_int_t)jp_int(d, "spec.minReadySeconds", 0),
			       "selector", sel, "template", tmpl);
	return rs;
}

static int
update_status_now(struct dsync *s, korch_error **err)
{
	return write_status(s, json_deep_copy(status_of(s->d)), true, err);
}

/* Progressing condition when the new ReplicaSet could not be created. */
static void
create_failed(struct dsync *s, const char *name, const korch_error *e)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), "Failed to create new replica set \"%s\": %s", name,
		 korch_error_message(e));
	if (has_progress_deadline(s->d)) {
		json_t *st = json_deep_copy(status_of(s->d));
		if (!json_is_object(st)) {
			json_decref(st);
			st = json_object();
		}
		set_condition(st, new_condition("Progressing", "False", "ReplicaSetCreateError",
						msg, s->wall));
		write_status(s, st, true, NULL);
	}
	cm_event(s->ctl, s->d, "Warning", "ReplicaSetCreateError", "%s", msg);
}

int
dep_sync_revision(struct dsync *s, bool create, korch_error **err)
{
	json_t *d = s->d;
	s->new_rs = find_new_rs(d, s->rss);
	_cleanup_json_ json_t *old = rs_others(s->rss, s->new_rs);
	int64_t max_old = 0;
	size_t i;
	json_t *rs;
	json_array_foreach (old, i, rs)
		max_old = MAX(max_old, rs_revision(rs));
	int64_t new_revision = max_old + 1;
	int r;
	if (s->new_rs) {
		_cleanup_json_ json_t *copy = json_deep_copy(s->new_rs);
		bool annotations = set_new_rs_annotations(d, copy, new_revision, true);
		bool min_ready = jp_int(copy, "spec.minReadySeconds", 0) !=
				 jp_int(d, "spec.minReadySeconds", 0);
		if (annotations || min_ready) {
			json_object_set_new(jp_obj(copy, "spec"), "minReadySeconds",
					    json_integer(jp_int(d, "spec.minReadySeconds", 0)));
			json_t *stored = NULL;
			if ((r = cm_update(s->ctl, copy, NULL, &stored, err)) < 0)
				return r;
			replace_rs(s, s->new_rs, stored);
			json_decref(stored);
			return 0;
		}
		bool needs = set_deployment_revision(d, annotation(s->new_rs, REVISION_ANNOTATION));
		if (has_progress_deadline(d) && !dep_condition(status_of(d), "Progressing")) {
			char msg[512];
			snprintf(msg, sizeof(msg), "Found new replica set \"%s\"",
				 jp_str0(s->new_rs, "metadata.name"));
			json_t *st = json_deep_copy(status_of(d));
			if (!json_is_object(st)) {
				json_decref(st);
				st = json_object();
			}
			set_condition(st, new_condition("Progressing", "True", "FoundNewReplicaSet",
							msg, s->wall));
			json_object_set_new(d, "status", st);
			needs = true;
		}
		return needs ? update_status_now(s, err) : 0;
	}
	if (!create)
		return 0;
	char hash[16];
	int64_t collisions = jp_int(d, "status.collisionCount", -1);
	pod_template_hash(jp_get(d, "spec.template"), collisions, hash);
	_cleanup_json_ json_t *obj = new_rs_object(d, hash);
	json_t *all = json_copy(old);
	json_array_append(all, obj);
	int64_t count = new_rs_new_replicas(d, all, obj);
	json_decref(all);
	json_object_set_new(jp_obj(obj, "spec"), "replicas", json_integer(count));
	set_new_rs_annotations(d, obj, new_revision, false);
	json_t *created = NULL;
	korch_error *e = NULL;
	bool already = false;
	r = cm_create(s->ctl, obj, &created, &e);
	if (r == KORCH_EEXISTS) {
		korch_error_free(e);
		e = NULL;
		already = true;
		/* A slow cache, or a hash collision with a ReplicaSet that is not ours. */
		created = NULL;
		r = client_get(cm_client(s->ctl->cm), K_RS, jp_str(d, "metadata.namespace"),
			       jp_str(obj, "metadata.name"), &created, err);
		if (r < 0)
			return r;
		if (!(controlled_by(created, jp_str(d, "metadata.uid")) &&
		      templates_equal_ignore_hash(jp_get(d, "spec.template"),
						  jp_get(created, "spec.template")))) {
			json_decref(created);
			json_t *st = json_deep_copy(status_of(d));
			if (!json_is_object(st)) {
				json_decref(st);
				st = json_object();
			}
			json_object_set_new(st, "collisionCount",
					    json_integer(collisions < 0 ? 1 : collisions + 1));
			json_object_set_new(d, "status", st);
			update_status_now(s, NULL);
			return error_set(err, KORCH_EEXISTS,
					 "replicasets.apps \"%s\" already exists: hash collision",
					 jp_str0(obj, "metadata.name"));
		}
	} else if (r < 0) {
		if (!(korch_error_code(e) == KORCH_EFORBIDDEN &&
		      strstr(korch_error_message(e), "being terminated")))
			create_failed(s, jp_str0(obj, "metadata.name"), e);
		return error_propagate(err, &e, r);
	}
	if (!already && count > 0)
		cm_event(s->ctl, d, "Normal", "ScalingReplicaSet",
			 "Scaled up replica set %s from 0 to %lld",
			 jp_str0(created, "metadata.name"), (long long)count);
	json_array_append(s->rss, created);
	s->new_rs = created;
	json_decref(created);
	char rev[32];
	snprintf(rev, sizeof(rev), "%lld", (long long)new_revision);
	bool needs = set_deployment_revision(d, rev);
	if (!already && has_progress_deadline(d)) {
		char msg[512];
		snprintf(msg, sizeof(msg), "Created new replica set \"%s\"",
			 jp_str0(s->new_rs, "metadata.name"));
		json_t *st = json_deep_copy(status_of(d));
		if (!json_is_object(st)) {
			json_decref(st);
			st = json_object();
		}
		set_condition(st, new_condition("Progressing", "True", "NewReplicaSetCreated", msg,
						s->wall));
		json_object_set_new(d, "status", st);
		needs = true;
	}
	return needs ? update_status_now(s, err) : 0;
}

static int
by_revision(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t rx = rs_revision(x), ry = rs_revision(y);
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return by_creation(a, b);
}

int
dep_cleanup(struct dsync *s, korch_error **err)
{
	const json_t *limit = jp_get(s->d, "spec.revisionHistoryLimit");
	if (!json_is_integer(limit))
		return 0;
	_cleanup_json_ json_t *cleanable = json_array();
	size_t i;
	json_t *rs;
	json_array_foreach (s->rss, i, rs)
		if (rs != s->new_rs && !jp_get(rs, "metadata.deletionTimestamp"))
			json_array_append(cleanable, rs);
	int64_t diff = (int64_t)json_array_size(cleanable) - json_integer_value(limit);
	if (diff <= 0)
		return 0;
	sort_array(cleanable, by_revision, false);
	for (int64_t k = 0; k < diff; k++) {
		rs = json_array_get(cleanable, (size_t)k);
		if (jp_int(rs, "status.replicas", 0) != 0 || rs_replicas(rs) != 0 ||
		    jp_int(rs, "metadata.generation", 0) >
			    jp_int(rs, "status.observedGeneration", 0))
			continue;
		korch_error *e = NULL;
		int r = cm_delete(s->ctl, K_RS, jp_str(rs, "metadata.namespace"),
				  jp_str0(rs, "metadata.name"), NULL, &e);
		if (r < 0 && r != KORCH_ENOTFOUND)
			return error_propagate(err, &e, r);
		korch_error_free(e);
	}
	return 0;
}

/* checkPausedConditions. */
static int
paused_conditions(struct dsync *s, korch_error **err)
{
	if (!has_progress_deadline(s->d))
		return 0;
	const json_t *cur = dep_condition(status_of(s->d), "Progressing");
	if (cur && streq(jp_str(cur, "reason"), "ProgressDeadlineExceeded"))
		return 0;
	bool paused_cond = cur && streq(jp_str(cur, "reason"), "DeploymentPaused");
	bool paused = jp_true(s->d, "spec.paused");
	json_t *cond = NULL;
	if (paused && !paused_cond)
		cond = new_condition("Progressing", "Unknown", "DeploymentPaused",
				     "Deployment is paused", s->wall);
	else if (!paused && paused_cond)
		cond = new_condition("Progressing", "Unknown", "DeploymentResumed",
				     "Deployment is resumed", s->wall);
	if (!cond)
		return 0;
	json_t *st = json_deep_copy(status_of(s->d));
	if (!json_is_object(st)) {
		json_decref(st);
		st = json_object();
	}
	set_condition(st, cond);
	return write_status(s, st, true, err);
}

/* ---- handlers ---- */

static const json_t *
deployment_of_rs(struct ctrl *ctl, const json_t *rs)
{
	const json_t *ref = controller_ref(rs);
	if (!ref || !streq(jp_str(ref, "kind"), "Deployment"))
		return NULL;
	const json_t *d = informer_get(state(ctl)->deps, jp_str(rs, "metadata.namespace"),
				       jp_str0(ref, "name"));
	if (!d || !streq(jp_str(d, "metadata.uid"), jp_str(ref, "uid")))
		return NULL;
	return d;
}

struct orphan_ctx {
	struct ctrl *ctl;
	const json_t *rs;
};

static void
enqueue_if_selects(const json_t *d, void *userdata)
{
	struct orphan_ctx *o = userdata;
	struct label_selector *sel = NULL;
	if (workload_selector(d, false, &sel, NULL) < 0)
		return;
	if (selects(sel, o->rs))
		ctrl_enqueue(o->ctl, d);
	label_selector_free(sel);
}

static void
rs_changed(struct ctrl *ctl, const json_t *rs)
{
	const json_t *d = deployment_of_rs(ctl, rs);
	if (d) {
		ctrl_enqueue(ctl, d);
		return;
	}
	if (!controller_ref(rs)) {
		struct orphan_ctx o = { ctl, rs };
		cm_foreach_in_ns(ctl->cm, state(ctl)->deps, jp_str(rs, "metadata.namespace"),
				 enqueue_if_selects, &o);
	}
}

static void
rs_added(const json_t *rs, void *userdata)
{
	rs_changed(userdata, rs);
}

static void
rs_updated(const json_t *old, const json_t *rs, void *userdata)
{
	struct ctrl *ctl = userdata;
	if (streq(jp_str(old, "metadata.resourceVersion"), jp_str(rs, "metadata.resourceVersion")))
		return;
	const json_t *old_d = deployment_of_rs(ctl, old);
	if (old_d && old_d != deployment_of_rs(ctl, rs))
		ctrl_enqueue(ctl, old_d);
	rs_changed(ctl, rs);
}

static void
rs_deleted(const json_t *rs, void *userdata)
{
	const json_t *d = deployment_of_rs(userdata, rs);
	if (d)
		ctrl_enqueue(userdata, d);
}

/* Recreate waits for the old pods to be gone: their deletion is news. */
static void
pod_deleted(const json_t *pod, void *userdata)
{
	struct ctrl *ctl = userdata;
	const json_t *ref = controller_ref(pod);
	if (!ref || !streq(jp_str(ref, "kind"), "ReplicaSet"))
		return;
	const json_t *rs = informer_get(state(ctl)->rss, jp_str(pod, "metadata.namespace"),
					jp_str0(ref, "name"));
	const json_t *d = rs ? deployment_of_rs(ctl, rs) : NULL;
	if (d && streq(jp_str(d, "spec.strategy.type"), "Recreate"))
		ctrl_enqueue(ctl, d);
}

static void
pod_updated(const json_t *old, const json_t *pod, void *userdata)
{
	const char *phase = pod_phase(pod);
	if ((streq(phase, "Succeeded") || streq(phase, "Failed")) && !streq(pod_phase(old), phase))
		pod_deleted(pod, userdata);
}

static int
dep_init(struct ctrl *ctl, korch_error **err)
{
	struct dep_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->deps = ctrl_watch_primary(ctl, "apps/v1", "Deployment");
	s->rss = cm_informer(ctl->cm, "apps/v1", "ReplicaSet");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	if (!s->deps || !s->rss || !s->pods)
		return error_oom(err);
	struct informer_handlers rh = { rs_added, rs_updated, rs_deleted, ctl };
	struct informer_handlers ph = { NULL, pod_updated, pod_deleted, ctl };
	int hr;
	if ((hr = informer_add_handlers(s->rss, &rh, err)) < 0 ||
	    (hr = informer_add_handlers(s->pods, &ph, err)) < 0)
		return hr;
	return 0;
}

static void
dep_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

/* ---- reconcile ---- */

static void
collect(const json_t *obj, void *userdata)
{
	json_array_append((json_t *)userdata, (json_t *)obj);
}

/* The pods of the Deployment's ReplicaSets (podMap), for Recreate. */
static void
collect_pods(struct dsync *s)
{
	struct dep_ctrl *st = state(s->ctl);
	s->pods = json_array();
	size_t i;
	json_t *rs;
	json_array_foreach (s->rss, i, rs)
		cm_foreach_owned(s->ctl->cm, st->pods, jp_str(rs, "metadata.uid"), collect,
				 s->pods);
}

static int
sync_deployment(struct dsync *s, korch_error **err)
{
	struct ctrl *ctl = s->ctl;
	json_t *d = s->d;
	const json_t *sel_obj = jp_get(d, "spec.selector");
	if (!sel_obj || (json_object_size(sel_obj) == 0)) {
		cm_event(
			ctl, d, "Warning", "SelectingAll",
			"This deployment is selecting all pods. A non-empty selector is required.");
		if (jp_int(d, "status.observedGeneration", 0) <
		    jp_int(d, "metadata.generation", 0)) {
			json_t *st = json_deep_copy(status_of(d));
			if (!json_is_object(st)) {
				json_decref(st);
				st = json_object();
			}
			json_object_set_new(st, "observedGeneration",
					    json_integer(jp_int(d, "metadata.generation", 0)));
			return write_status(s, st, false, err);
		}
		return 0;
	}
	struct label_selector *sel = NULL;
	int r = workload_selector(d, false, &sel, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *candidates = json_array();
	cm_foreach_claimable(ctl->cm, state(ctl)->rss, jp_str(d, "metadata.namespace"),
			     jp_str0(d, "metadata.uid"), sel, collect, candidates);
	json_t *claimed = NULL;
	r = claim_objects(ctl, d, K_DEPLOY, K_RS, sel, candidates, &claimed, err);
	label_selector_free(sel);
	if (r < 0)
		return r;
	/* Working copies: this reconcile updates them as it writes. */
	s->rss = json_array();
	size_t i;
	json_t *rs;
	json_array_foreach (claimed, i, rs)
		json_array_append_new(s->rss, json_deep_copy(rs));
	json_decref(claimed);
	collect_pods(s);
	if (jp_get(d, "metadata.deletionTimestamp")) {
		if ((r = dep_sync_revision(s, false, err)) < 0)
			return r;
		return dep_sync_status(s, err);
	}
	if ((r = paused_conditions(s, err)) < 0)
		return r;
	if (jp_true(s->d, "spec.paused"))
		return dep_sync_scale(s, err);
	bool scaling = false;
	if ((r = dep_is_scaling_event(s, &scaling, err)) < 0)
		return r;
	if (scaling)
		return dep_sync_scale(s, err);
	if (streq(jp_str(s->d, "spec.strategy.type"), "Recreate"))
		return dep_rollout_recreate(s, err);
	return dep_rollout_rolling(s, err);
}

static int
dep_sync(struct ctrl *ctl, const char *key)
{
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *cached = informer_get(state(ctl)->deps, ns, name);
	if (!cached)
		return 0;
	struct dsync s = {
		.ctl = ctl,
		.key = key,
		.d = json_deep_copy(cached),
		.wall = cm_wall(ctl->cm),
	};
	korch_error *e = NULL;
	int r = sync_deployment(&s, &e);
	json_decref(s.d);
	json_decref(s.rss);
	json_decref(s.pods);
	return ctrl_sync_end(ctl, key, r, e);
}

const struct ctrl_ops deployment_ops = {
	.name = "deployment",
	.component = "deployment-controller",
	.init = dep_init,
	.sync = dep_sync,
	.fini = dep_fini,
};

/* ---- kubectl rollout status ---- */

int
deployment_rollout_status(const json_t *d, char **ret_message)
{
	char *msg = NULL;
	int done = 0;
	const char *name = jp_str0(d, "metadata.name");
	if (jp_int(d, "metadata.generation", 0) <= jp_int(d, "status.observedGeneration", 0)) {
		const json_t *c = dep_condition(status_of(d), "Progressing");
		int64_t want = dep_replicas(d);
		int64_t updated = jp_int(d, "status.updatedReplicas", 0);
		int64_t replicas = jp_int(d, "status.replicas", 0);
		int64_t available = jp_int(d, "status.availableReplicas", 0);
		if (c && streq(jp_str(c, "reason"), "ProgressDeadlineExceeded")) {
			done = KORCH_ETIMEOUT;
			if (asprintf(&msg, "deployment \"%s\" exceeded its progress deadline",
				     name) < 0)
				msg = NULL;
		} else if (jp_get(d, "spec.replicas") && updated < want) {
			if (asprintf(&msg,
				     "Waiting for deployment \"%s\" rollout to finish: %lld out of "
				     "%lld new replicas have been updated...\n",
				     name, (long long)updated, (long long)want) < 0)
				msg = NULL;
		} else if (replicas > updated) {
			if (asprintf(&msg,
				     "Waiting for deployment \"%s\" rollout to finish: %lld old "
				     "replicas are pending termination...\n",
				     name, (long long)(replicas - updated)) < 0)
				msg = NULL;
		} else if (available < updated) {
			if (asprintf(
				    &msg,
				    "Waiting for deployment \"%s\" rollout to finish: %lld of %lld "
				    "updated replicas are available...\n",
				    name, (long long)available, (long long)updated) < 0)
				msg = NULL;
		} else {
			done = 1;
			if (asprintf(&msg, "deployment \"%s\" successfully rolled out\n", name) < 0)
				msg = NULL;
		}
	} else if (asprintf(&msg, "Waiting for deployment spec update to be observed...\n") < 0) {
		msg = NULL;
	}
	if (ret_message)
		*ret_message = msg;
	else
		free(msg);
	return done;
}
