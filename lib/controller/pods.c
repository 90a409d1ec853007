/*
 * pods.c - pods from templates, create and delete with events, claiming, scale-down ranking.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/names.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/pods.h"

json_t *
pod_from_template(const json_t *tmpl, const json_t *parent, const struct kind_info *pk,
		  const char *name_prefix)
{
	char prefix[320];
	if (name_prefix) {
		snprintf(prefix, sizeof(prefix), "%s", name_prefix);
	} else {
		/* getPodsPrefix: NAME- unless that is no valid generateName. */
		snprintf(prefix, sizeof(prefix), "%s-", jp_str0(parent, "metadata.name"));
		if (strlen(prefix) > DNS1123_SUBDOMAIN_MAX_LENGTH)
			snprintf(prefix, sizeof(prefix), "%s", jp_str0(parent, "metadata.name"));
	}
	json_t *meta = json_pack("{s:s, s:s}", "generateName", prefix, "namespace",
				 jp_str0(parent, "metadata.namespace"));
	if (!meta)
		return NULL;
	static const char *const copied[] = { "labels", "annotations", "finalizers" };
	for (size_t i = 0; i < ARRAY_SIZE(copied); i++) {
		const json_t *v = json_object_get(json_object_get(tmpl, "metadata"), copied[i]);
		if ((json_is_object(v) && json_object_size(v)) ||
		    (json_is_array(v) && json_array_size(v)))
			json_object_set_new(meta, copied[i], json_deep_copy(v));
	}
	json_t *ref = controller_ref_new(parent, pk);
	json_object_set_new(meta, "ownerReferences", json_pack("[o]", ref));
	const json_t *spec = json_object_get(tmpl, "spec");
	return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
			 meta, "spec", spec ? json_deep_copy(spec) : json_object());
}

/* A create refused because the namespace is going away is expected, not worth an event. */
static bool
namespace_terminating(const korch_error *e)
{
	return korch_error_code(e) == KORCH_EFORBIDDEN &&
	       strstr(korch_error_message(e), "because it is being terminated");
}

int
pod_create(struct ctrl *ctl, const json_t *parent, const json_t *pod, json_t **ret,
	   korch_error **err)
{
	json_t *stored = NULL;
	korch_error *e = NULL;
	int r = cm_create(ctl, pod, &stored, &e);
	if (r < 0) {
		if (!namespace_terminating(e))
			cm_event(ctl, parent, "Warning", "FailedCreate", "Error creating: %s",
				 korch_error_message(e));
		return error_propagate(err, &e, r);
	}
	cm_event(ctl, parent, "Normal", "SuccessfulCreate", "Created pod: %s",
		 jp_str0(stored, "metadata.name"));
	if (ret)
		*ret = stored;
	else
		json_decref(stored);
	return 0;
}

int
pod_delete(struct ctrl *ctl, const json_t *parent, const json_t *pod, korch_error **err)
{
	korch_error *e = NULL;
	const char *name = jp_str0(pod, "metadata.name");
	int r = cm_delete(ctl, K_POD, jp_str0(pod, "metadata.namespace"), name, NULL, &e);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		return 0;
	}
	if (r < 0) {
		cm_event(ctl, parent, "Warning", "FailedDelete", "Error deleting: %s",
			 korch_error_message(e));
		return error_propagate(err, &e, r);
	}
	cm_event(ctl, parent, "Normal", "SuccessfulDelete", "Deleted pod: %s", name);
	return 0;
}

/* canAdopt: a fresh read (not the cache) of the owner: same uid, not being deleted. */
static int
can_adopt(struct ctrl *ctl, const json_t *owner, const struct kind_info *owner_kind,
	  korch_error **err)
{
	_cleanup_json_ json_t *fresh = NULL;
	int r = client_get(cm_client(ctl->cm), owner_kind, jp_str(owner, "metadata.namespace"),
			   jp_str0(owner, "metadata.name"), &fresh, err);
	if (r < 0)
		return r;
	if (!streq(jp_str(fresh, "metadata.uid"), jp_str(owner, "metadata.uid")))
		return error_set(err, KORCH_ECONFLICT,
				 "original %s %s/%s is gone: got uid %s, wanted %s",
				 owner_kind->kind, jp_str0(owner, "metadata.namespace"),
				 jp_str0(owner, "metadata.name"), jp_str0(fresh, "metadata.uid"),
				 jp_str0(owner, "metadata.uid"));
	if (jp_get(fresh, "metadata.deletionTimestamp"))
		return error_set(err, KORCH_ECONFLICT, "%s %s/%s has just been deleted at %s",
				 owner_kind->kind, jp_str0(owner, "metadata.namespace"),
				 jp_str0(owner, "metadata.name"),
				 jp_str0(fresh, "metadata.deletionTimestamp"));
	return 0;
}

static int
adopt(struct ctrl *ctl, const json_t *owner, const struct kind_info *owner_kind,
      const struct kind_info *k, const json_t *obj, json_t **ret, korch_error **err)
{
	json_t *ref = controller_ref_new(owner, owner_kind);
	_cleanup_json_ json_t *patch = json_pack("{s:{s:[o], s:s}}", "metadata", "ownerReferences",
						 ref, "uid", jp_str0(obj, "metadata.uid"));
	return cm_patch(ctl, k, jp_str(obj, "metadata.namespace"), jp_str0(obj, "metadata.name"),
			CLIENT_PATCH_STRATEGIC, patch, NULL, ret, err);
}

static int
release(struct ctrl *ctl, const json_t *owner, const struct kind_info *k, const json_t *obj,
	korch_error **err)
{
	_cleanup_json_ json_t *patch = json_pack(
		"{s:{s:[{s:s, s:s}], s:s}}", "metadata", "ownerReferences", "$patch", "delete",
		"uid", jp_str0(owner, "metadata.uid"), "uid", jp_str0(obj, "metadata.uid"));
	korch_error *e = NULL;
	int r = cm_patch(ctl, k, jp_str(obj, "metadata.namespace"), jp_str0(obj, "metadata.name"),
			 CLIENT_PATCH_STRATEGIC, patch, NULL, NULL, &e);
	/* Gone, or no longer ours (another uid now): nothing to release. */
	if (r == KORCH_ENOTFOUND || r == KORCH_ECONFLICT) {
		korch_error_free(e);
		return 0;
	}
	return error_propagate(err, &e, r);
}

int
claim_objects(struct ctrl *ctl, const json_t *owner, const struct kind_info *owner_kind,
	      const struct kind_info *k, const struct label_selector *sel, const json_t *candidates,
	      json_t **ret_claimed, korch_error **err)
{
	const char *uid = jp_str0(owner, "metadata.uid");
	bool owner_deleting = jp_get(owner, "metadata.deletionTimestamp") != NULL;
	int adoptable = 0; /* 0: not checked, 1: yes, -1: no */
	json_t *claimed = json_array();
	if (!claimed)
		return error_oom(err);
	int r = 0;
	size_t i;
	json_t *obj;
	json_array_foreach (candidates, i, obj) {
		const json_t *ref = controller_ref(obj);
		bool matches = selects(sel, obj);
		if (ref) {
			if (!streq(jp_str(ref, "uid"), uid))
				continue; /* another controller's */
			if (matches) {
				json_array_append(claimed, obj);
				continue;
			}
			if (owner_deleting)
				continue;
			korch_error *e = NULL;
			if ((r = release(ctl, owner, k, obj, &e)) < 0) {
				error_propagate(err, &e, r);
				break;
			}
			continue;
		}
		/* An orphan. */
		if (owner_deleting || !matches || jp_get(obj, "metadata.deletionTimestamp"))
			continue;
		if (adoptable == 0) {
			korch_error *e = NULL;
			adoptable = can_adopt(ctl, owner, owner_kind, &e) == 0 ? 1 : -1;
			if (adoptable < 0)
				log_debug(ctl->ops->name, "not adopting: %s",
					  korch_error_message(e));
			korch_error_free(e);
		}
		if (adoptable < 0)
			continue;
		json_t *adopted = NULL;
		korch_error *e = NULL;
		r = adopt(ctl, owner, owner_kind, k, obj, &adopted, &e);
		if (r == KORCH_ENOTFOUND || r == KORCH_ECONFLICT) {
			/* Gone or changed meanwhile: the next reconcile sees it again. */
			korch_error_free(e);
			r = 0;
			continue;
		}
		if (r < 0) {
			error_propagate(err, &e, r);
			break;
		}
		json_array_append_new(claimed, adopted);
	}
	if (r < 0) {
		json_decref(claimed);
		return r;
	}
	*ret_claimed = claimed;
	return 0;
}

/* ---- ranking ---- */

struct ranked {
	json_t *pod;         /* borrowed from the array */
	int assigned;        /* 0 unassigned first */
	int phase;           /* pending 0, unknown 1, running 2 */
	int ready;           /* 0 not ready first */
	int64_t cost;        /* pod-deletion-cost */
	int64_t doubled;     /* related pods on its node (more first) */
	int64_t ready_since; /* wall ns (0: unknown) */
	int64_t restarts;    /* max restart count of its containers */
	int64_t created;     /* wall ns */
	const char *uid;     /* tie-break */
	const char *name;    /* final tie-break */
};

static int
phase_rank(const char *phase)
{
	if (streq(phase, "Pending"))
		return 0;
	if (streq(phase, "Unknown"))
		return 1;
	if (streq(phase, "Running"))
		return 2;
	return 3;
}

/* logarithmicRankDiff: compares the powers of two of the durations since t1 and t2. */
static int64_t
log_rank_diff(int64_t t1, int64_t t2, int64_t now)
{
	int64_t d1 = now - t1, d2 = now - t2;
	int64_t r1 = d1 > 0 ? (int64_t)log2((double)d1) : -1;
	int64_t r2 = d2 > 0 ? (int64_t)log2((double)d2) : -1;
	return r1 - r2;
}

/* afterOrZero: t1 sorts first when it is zero or later. */
static int
after_or_zero(int64_t t1, int64_t t2)
{
	if (!t1 || !t2)
		return !t1 ? -1 : 1;
	return t1 > t2 ? -1 : 1;
}

static int
time_cmp(int64_t t1, int64_t t2, const char *u1, const char *u2, int64_t now)
{
	if (!now || !t1 || !t2)
		return after_or_zero(t1, t2);
	int64_t d = log_rank_diff(t1, t2, now);
	if (d == 0)
		return strcmp(u1, u2) < 0 ? -1 : 1;
	return d < 0 ? -1 : 1;
}

static int
ranked_cmp(const void *pa, const void *pb, void *userdata)
{
	const struct ranked *a = pa, *b = pb;
	int64_t now = *(const int64_t *)userdata;
	if (a->assigned != b->assigned)
		return a->assigned - b->assigned;
	if (a->phase != b->phase)
		return a->phase - b->phase;
	if (a->ready != b->ready)
		return a->ready - b->ready;
	if (a->cost != b->cost)
		return a->cost < b->cost ? -1 : 1;
	if (a->doubled != b->doubled)
		return a->doubled > b->doubled ? -1 : 1;
	if (a->ready && b->ready && a->ready_since != b->ready_since)
		return time_cmp(a->ready_since, b->ready_since, a->uid, b->uid, now);
	if (a->restarts != b->restarts)
		return a->restarts > b->restarts ? -1 : 1;
	if (a->created != b->created)
		return time_cmp(a->created, b->created, a->uid, b->uid, now);
	return strcmp(a->name, b->name);
}

static int64_t
max_restarts(const json_t *pod)
{
	int64_t m = 0;
	size_t i;
	json_t *cs;
	json_array_foreach (jp_get(pod, "status.containerStatuses"), i, cs)
		m = MAX(m, jp_int(cs, "restartCount", 0));
	return m;
}

static int64_t
deletion_cost(const json_t *pod)
{
	const json_t *ann = jp_get(pod, "metadata.annotations");
	const char *s = json_string_value(
		json_object_get(ann, "controller.kubernetes.io/pod-deletion-cost"));
	int64_t cost = 0;
	if (s && parse_int64(s, &cost) < 0)
		cost = 0;
	return cost;
}

void
pods_rank_for_deletion(json_t *pods, const json_t *related_pods, int64_t now_ns)
{
	size_t n = json_array_size(pods);
	if (n < 2)
		return;
	struct ranked *r = calloc(n, sizeof(*r));
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *pod = json_array_get(pods, i);
		const char *node = jp_str0(pod, "spec.nodeName");
		int64_t doubled = 0;
		if (*node) {
			size_t j;
			json_t *other;
			json_array_foreach (related_pods ? related_pods : pods, j, other)
				if (streq(jp_str(other, "spec.nodeName"), node))
					doubled++;
		}
		const json_t *ready = condition_get(pod, "Ready");
		r[i] = (struct ranked){
			.pod = pod,
			.assigned = *node ? 1 : 0,
			.phase = phase_rank(pod_phase(pod)),
			.ready = pod_ready(pod) ? 1 : 0,
			.cost = deletion_cost(pod),
			.doubled = doubled,
			.ready_since = jp_time(ready, "lastTransitionTime", 0),
			.restarts = max_restarts(pod),
			.created = jp_time(pod, "metadata.creationTimestamp", 0),
			.uid = jp_str0(pod, "metadata.uid"),
			.name = jp_str0(pod, "metadata.name"),
		};
		json_incref(pod);
	}
	qsort_r(r, n, sizeof(*r), ranked_cmp, &now_ns);
	json_array_clear(pods);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(pods, r[i].pod);
	free(r);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(jp_str0(*(json_t *const *)a, "metadata.name"),
		      jp_str0(*(json_t *const *)b, "metadata.name"));
}

void
pods_sort_by_name(json_t *pods)
{
	size_t n = json_array_size(pods);
	if (n < 2)
		return;
	json_t **v = calloc(n, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(pods, i));
	qsort(v, n, sizeof(*v), name_cmp);
	json_array_clear(pods);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(pods, v[i]);
	free(v);
}
