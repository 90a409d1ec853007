/*
 * deployment-rollout.c - the Deployment strategies (Kubernetes' rolling.go, recreate.go and
 * sync.go's scale): a rolling update scales the new ReplicaSet up within maxSurge and the old
 * ones down within maxUnavailable, unhealthy old replicas first; Recreate scales every old
 * ReplicaSet to zero and waits for their pods to be gone before the new one scales up; a scaling
 * event (spec.replicas changed mid-rollout, or while paused) is spread over the active
 * ReplicaSets in proportion to their size.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "controller/deployment.h"

static int
desired_annotation(const json_t *rs, int64_t *ret)
{
	const char *v = json_string_value(
		json_object_get(jp_get(rs, "metadata.annotations"), DESIRED_REPLICAS_ANNOTATION));
	return v ? parse_int64(v, ret) : KORCH_ENOTFOUND;
}

int
dep_is_scaling_event(struct dsync *s, bool *ret, korch_error **err)
{
	*ret = false;
	int r = dep_sync_revision(s, false, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *rs;
	json_array_foreach (s->rss, i, rs) {
		int64_t desired;
		if (rs_replicas(rs) <= 0 || desired_annotation(rs, &desired) < 0)
			continue;
		if (desired != dep_replicas(s->d)) {
			*ret = true;
			return 0;
		}
	}
	return 0;
}

/* IsSaturated: the new ReplicaSet has all the Deployment's replicas, available. */
static bool
saturated(const json_t *d, const json_t *rs)
{
	int64_t desired;
	if (!rs || desired_annotation(rs, &desired) < 0)
		return false;
	int64_t want = dep_replicas(d);
	return rs_replicas(rs) == want && desired == want &&
	       jp_int(rs, "status.availableReplicas", 0) == want;
}

/* FindActiveOrLatest: the one active ReplicaSet, or the newest when none is active. */
static json_t *
active_or_latest(json_t *new_rs, json_t *rss)
{
	_cleanup_json_ json_t *old = rs_others(rss, new_rs);
	if (!new_rs && json_array_size(old) == 0)
		return NULL;
	rs_sort_by_creation(old, true);
	_cleanup_json_ json_t *all = json_copy(old);
	if (new_rs)
		json_array_append(all, new_rs);
	_cleanup_json_ json_t *active = rs_active(all);
	switch (json_array_size(active)) {
	case 0: return new_rs ? new_rs : json_array_get(old, 0);
	case 1: return json_array_get(active, 0);
	default: return NULL;
	}
}

static int
by_size(const void *a, const void *b, bool newer_first)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t sx = rs_replicas(x), sy = rs_replicas(y);
	if (sx != sy)
		return sx > sy ? -1 : 1;
	int64_t tx = jp_time(x, "metadata.creationTimestamp", 0);
	int64_t ty = jp_time(y, "metadata.creationTimestamp", 0);
	int c = tx != ty ? (tx < ty ? -1 : 1)
			 : strcmp(jp_str0(x, "metadata.name"), jp_str0(y, "metadata.name"));
	return newer_first ? -c : c;
}

static int
by_size_newer(const void *a, const void *b)
{
	return by_size(a, b, true);
}

static int
by_size_older(const void *a, const void *b)
{
	return by_size(a, b, false);
}

static json_t *
sorted_copy(const json_t *arr, int (*cmp)(const void *, const void *))
{
	size_t n = json_array_size(arr);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	json_t *out = json_array();
	if (!v)
		return out;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

/* getReplicaSetFraction. */
static int64_t
fraction(const json_t *rs, const json_t *d)
{
	if (dep_replicas(d) == 0)
		return -rs_replicas(rs);
	int64_t max_now = dep_replicas(d) + dep_max_surge(d);
	const char *v = json_string_value(
		json_object_get(jp_get(rs, "metadata.annotations"), MAX_REPLICAS_ANNOTATION));
	int64_t annotated = 0;
	if (!v || parse_int64(v, &annotated) < 0)
		annotated = jp_int(d, "status.replicas", 0);
	if (annotated == 0)
		return 0;
	double size = (double)(rs_replicas(rs) * max_now) / (double)annotated;
	return (int64_t)round(size) - rs_replicas(rs);
}

/* GetProportion. */
static int64_t
proportion(const json_t *rs, const json_t *d, int64_t to_add, int64_t added)
{
	if (rs_replicas(rs) == 0 || to_add == 0 || to_add == added)
		return 0;
	int64_t f = fraction(rs, d);
	int64_t allowed = to_add - added;
	return to_add > 0 ? MIN(f, allowed) : MAX(f, allowed);
}

/* scale(): proportional scaling of the active ReplicaSets. */
static int
scale(struct dsync *s, korch_error **err)
{
	const json_t *d = s->d;
	json_t *only = active_or_latest(s->new_rs, s->rss);
	if (only) {
		if (rs_replicas(only) == dep_replicas(d))
			return 0;
		return dep_scale_rs(s, only, dep_replicas(d), NULL, err);
	}
	_cleanup_json_ json_t *old = rs_others(s->rss, s->new_rs);
	if (saturated(d, s->new_rs)) {
		_cleanup_json_ json_t *active = rs_active(old);
		size_t i;
		json_t *rs;
		json_array_foreach (active, i, rs) {
			int r = dep_scale_rs(s, rs, 0, NULL, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (!dep_rolling(d))
		return 0;
	_cleanup_json_ json_t *all = rs_active(s->rss);
	int64_t total = rs_sum(all, "spec.replicas", 1);
	int64_t allowed = dep_replicas(d) > 0 ? dep_replicas(d) + dep_max_surge(d) : 0;
	int64_t to_add = allowed - total;
	const char *op = "";
	json_t *order;
	if (to_add > 0) {
		order = sorted_copy(all, by_size_newer);
		op = "up";
	} else if (to_add < 0) {
		order = sorted_copy(all, by_size_older);
		op = "down";
	} else {
		order = json_copy(all);
	}
	size_t n = json_array_size(order);
	int64_t *sizes = calloc(n ? n : 1, sizeof(*sizes));
	if (!sizes) {
		json_decref(order);
		return error_oom(err);
	}
	int64_t added = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *rs = json_array_get(order, i);
		if (to_add != 0) {
			int64_t p = proportion(rs, d, to_add, added);
			sizes[i] = rs_replicas(rs) + p;
			added += p;
		} else {
			sizes[i] = rs_replicas(rs);
		}
	}
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		json_t *rs = json_array_get(order, i);
		if (i == 0 && to_add != 0) {
			/* Leftovers go to the largest. */
			sizes[i] += to_add - added;
			if (sizes[i] < 0)
				sizes[i] = 0;
		}
		r = dep_scale_rs_op(s, rs, sizes[i], op, NULL, err);
	}
	free(sizes);
	json_decref(order);
	return r;
}

int
dep_sync_scale(struct dsync *s, korch_error **err)
{
	int r = dep_sync_revision(s, false, err);
	if (r == 0)
		r = scale(s, err);
	if (r == 0 && jp_true(s->d, "spec.paused"))
		r = dep_cleanup(s, err);
	if (r == 0)
		r = dep_sync_status(s, err);
	return r;
}

/* ---- rolling update ---- */

/* reconcileNewReplicaSet: scale the new ReplicaSet up within maxSurge (or down to spec). */
static int
reconcile_new(struct dsync *s, bool *ret_scaled, korch_error **err)
{
	const json_t *d = s->d;
	*ret_scaled = false;
	int64_t have = rs_replicas(s->new_rs), want = dep_replicas(d);
	if (have == want)
		return 0;
	if (have > want)
		return dep_scale_rs(s, s->new_rs, want, ret_scaled, err);
	int64_t surge = dep_max_surge(d);
	int64_t current = rs_sum(s->rss, "spec.replicas", 1);
	int64_t max_total = want + surge;
	if (current >= max_total)
		return 0;
	int64_t target = have + MIN(max_total - current, want - have);
	return dep_scale_rs(s, s->new_rs, target, ret_scaled, err);
}

/* cleanupUnhealthyReplicas: old replicas that are not available go first. */
static int
cleanup_unhealthy(struct dsync *s, json_t *old, int64_t max_cleanup, int64_t *ret_done,
		  korch_error **err)
{
	rs_sort_by_creation(old, false);
	int64_t total = 0;
	size_t n = json_array_size(old);
	for (size_t i = 0; i < n && total < max_cleanup; i++) {
		json_t *rs = json_array_get(old, i);
		int64_t size = rs_replicas(rs),
			available = jp_int(rs, "status.availableReplicas", 0);
		if (size == 0 || size == available)
			continue;
		int64_t down = MIN(max_cleanup - total, size - available);
		int r = dep_scale_rs(s, rs, size - down, NULL, err);
		if (r < 0)
			return r;
		total += down;
	}
	*ret_done = total;
	return 0;
}

/* scaleDownOldReplicaSetsForRollingUpdate: as far as maxUnavailable allows. */
static int
scale_down_old(struct dsync *s, json_t *old, int64_t *ret_done, korch_error **err)
{
	const json_t *d = s->d;
	*ret_done = 0;
	int64_t min_available = dep_replicas(d) - dep_max_unavailable(d);
	int64_t available = rs_sum(s->rss, "status.availableReplicas", 0);
	if (available <= min_available)
		return 0;
	rs_sort_by_creation(old, false);
	int64_t total = 0, budget = available - min_available;
	size_t i;
	json_t *rs;
	json_array_foreach (old, i, rs) {
		if (total >= budget)
			break;
		/* rss may have been updated since old was taken: look at the current copy. */
		const json_t *cur = NULL;
		size_t j;
		json_t *x;
		json_array_foreach (s->rss, j, x)
			if (streq(jp_str(x, "metadata.uid"), jp_str(rs, "metadata.uid")))
				cur = x;
		if (!cur || rs_replicas(cur) == 0)
			continue;
		int64_t down = MIN(rs_replicas(cur), budget - total);
		int r = dep_scale_rs(s, (json_t *)cur, rs_replicas(cur) - down, NULL, err);
		if (r < 0)
			return r;
		total += down;
	}
	*ret_done = total;
	return 0;
}

/* reconcileOldReplicaSets. */
static int
reconcile_old(struct dsync *s, bool *ret_scaled, korch_error **err)
{
	const json_t *d = s->d;
	*ret_scaled = false;
	_cleanup_json_ json_t *others = rs_others(s->rss, s->new_rs);
	_cleanup_json_ json_t *old = rs_active(others);
	if (rs_sum(old, "spec.replicas", 1) == 0)
		return 0;
	int64_t all_pods = rs_sum(s->rss, "spec.replicas", 1);
	int64_t min_available = dep_replicas(d) - dep_max_unavailable(d);
	int64_t new_unavailable =
		rs_replicas(s->new_rs) - jp_int(s->new_rs, "status.availableReplicas", 0);
	int64_t max_scaled_down = all_pods - min_available - new_unavailable;
	if (max_scaled_down <= 0)
		return 0;
	int64_t cleaned = 0, scaled = 0;
	/* Errors here only stop this pass (Kubernetes returns false, nil). */
	korch_error *e = NULL;
	if (cleanup_unhealthy(s, old, max_scaled_down, &cleaned, &e) < 0) {
		korch_error_free(e);
		return 0;
	}
	json_decref(old);
	_cleanup_json_ json_t *others2 = rs_others(s->rss, s->new_rs);
	old = rs_active(others2);
	if (scale_down_old(s, old, &scaled, &e) < 0) {
		korch_error_free(e);
		return 0;
	}
	(void)err;
	*ret_scaled = cleaned + scaled > 0;
	return 0;
}

int
dep_rollout_rolling(struct dsync *s, korch_error **err)
{
	int r = dep_sync_revision(s, true, err);
	if (r < 0)
		return r;
	bool scaled = false;
	if ((r = reconcile_new(s, &scaled, err)) < 0)
		return r;
	if (scaled)
		return dep_sync_rollout_status(s, err);
	if ((r = reconcile_old(s, &scaled, err)) < 0)
		return r;
	if (scaled)
		return dep_sync_rollout_status(s, err);
	if (dep_complete(s->d, jp_get(s->d, "status")) && (r = dep_cleanup(s, err)) < 0)
		return r;
	return dep_sync_rollout_status(s, err);
}

/* ---- recreate ---- */

/* oldPodsRunning: an old ReplicaSet reports pods, or a pod of one is not finished. */
static bool
old_pods_running(struct dsync *s)
{
	_cleanup_json_ json_t *old = rs_others(s->rss, s->new_rs);
	if (rs_sum(old, "status.replicas", 0) > 0)
		return true;
	const char *new_uid = s->new_rs ? jp_str(s->new_rs, "metadata.uid") : NULL;
	size_t i;
	json_t *pod;
	json_array_foreach (s->pods, i, pod) {
		const json_t *ref = controller_ref(pod);
		if (new_uid && streq(jp_str(ref, "uid"), new_uid))
			continue;
		const char *phase = pod_phase(pod);
		if (streq(phase, "Failed") || streq(phase, "Succeeded"))
			continue;
		return true;
	}
	return false;
}

int
dep_rollout_recreate(struct dsync *s, korch_error **err)
{
	int r = dep_sync_revision(s, false, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *others = rs_others(s->rss, s->new_rs);
	_cleanup_json_ json_t *active_old = rs_active(others);
	bool scaled_down = false;
	size_t i;
	json_t *rs;
	json_array_foreach (active_old, i, rs) {
		bool scaled = false;
		if ((r = dep_scale_rs(s, rs, 0, &scaled, err)) < 0)
			return r;
		scaled_down |= scaled;
	}
	if (scaled_down || old_pods_running(s))
		return dep_sync_rollout_status(s, err);
	if (!s->new_rs && (r = dep_sync_revision(s, true, err)) < 0)
		return r;
	if (s->new_rs && (r = dep_scale_rs(s, s->new_rs, dep_replicas(s->d), NULL, err)) < 0)
		return r;
	if (dep_complete(s->d, jp_get(s->d, "status")) && (r = dep_cleanup(s, err)) < 0)
		return r;
	return dep_sync_rollout_status(s, err);
}
