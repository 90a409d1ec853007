/*
 * replicaset.c - the ReplicaSet and ReplicationController controllers (Kubernetes'
 * pkg/controller/replicaset, which serves both): exactly spec.replicas active pods matching the
 * selector; orphans that match are adopted and owned pods that stop matching released; scale-up
 * creates in slow-start batches (1, 2, 4, ...) and scale-down deletes the best-ranked pods first
 * (unscheduled, pending, not ready, newest); expectations keep a lagging cache from causing
 * duplicate creates or deletes; status counts replicas, fullyLabeledReplicas, readyReplicas and
 * availableReplicas (ready for minReadySeconds), with observedGeneration and the ReplicaFailure
 * condition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"
#include "controller/expectations.h"
#include "controller/pods.h"

/* At most this many creates or deletes per reconcile (burstReplicas). */
#define BURST_REPLICAS 500

struct rs_ctrl {
	bool rc;                   /* ReplicationController rather than ReplicaSet */
	const struct kind_info *k; /* the kind it controls */
	struct informer *owners;   /* ReplicaSets (or RCs) */
	struct informer *pods;     /* Pods */
	struct expectations *exp;  /* outstanding creates and deletes, per owner key */
};

static struct rs_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static const json_t *
owner_of_pod(struct ctrl *ctl, const json_t *pod)
{
	struct rs_ctrl *s = state(ctl);
	const json_t *ref = controller_ref(pod);
	if (!ref || !streq(jp_str(ref, "kind"), s->k->kind))
		return NULL;
	const json_t *owner =
		informer_get(s->owners, jp_str(pod, "metadata.namespace"), jp_str0(ref, "name"));
	if (!owner || !streq(jp_str(owner, "metadata.uid"), jp_str(ref, "uid")))
		return NULL;
	return owner;
}

struct match_ctx {
	struct ctrl *ctl;
	const json_t *pod;
};

static void
enqueue_if_selects(const json_t *owner, void *userdata)
{
	struct match_ctx *m = userdata;
	struct label_selector *sel = NULL;
	if (workload_selector(owner, state(m->ctl)->rc, &sel, NULL) < 0)
		return;
	if (selects(sel, m->pod))
		ctrl_enqueue(m->ctl, owner);
	label_selector_free(sel);
}

/* An orphan may be adopted by any owner whose selector matches it: queue them all. */
static void
enqueue_matching_owners(struct ctrl *ctl, const json_t *pod)
{
	struct match_ctx m = { ctl, pod };
	cm_foreach_in_ns(ctl->cm, state(ctl)->owners, jp_str(pod, "metadata.namespace"),
			 enqueue_if_selects, &m);
}

static void pod_deleted(const json_t *pod, void *userdata);

static void
pod_added(const json_t *pod, void *userdata)
{
	struct ctrl *ctl = userdata;
	if (jp_get(pod, "metadata.deletionTimestamp")) {
		/* A pod that shows up already being deleted counts as deleted. */
		pod_deleted(pod, userdata);
		return;
	}
	const json_t *owner = owner_of_pod(ctl, pod);
	if (owner) {
		_cleanup_free_ char *key = object_key(owner);
		creation_observed(state(ctl)->exp, key);
		ctrl_enqueue_key(ctl, key);
		return;
	}
	if (!controller_ref(pod))
		enqueue_matching_owners(ctl, pod);
}

static void
pod_updated(const json_t *old, const json_t *pod, void *userdata)
{
	struct ctrl *ctl = userdata;
	if (streq(jp_str(old, "metadata.resourceVersion"), jp_str(pod, "metadata.resourceVersion")))
		return;
	bool labels_changed = !json_equal(jp_get(old, "metadata.labels") ?: json_null(),
					  jp_get(pod, "metadata.labels") ?: json_null());
	if (jp_get(pod, "metadata.deletionTimestamp") &&
	    !jp_get(old, "metadata.deletionTimestamp")) {
		/* Graceful deletion started: the controller need not wait for the pod to go. */
		pod_deleted(pod, userdata);
		if (labels_changed)
			pod_deleted(old, userdata);
		return;
	}
	const json_t *old_ref = controller_ref(old), *ref = controller_ref(pod);
	if (old_ref && (!ref || !streq(jp_str(old_ref, "uid"), jp_str(ref, "uid")))) {
		const json_t *old_owner = owner_of_pod(ctl, old);
		if (old_owner)
			ctrl_enqueue(ctl, old_owner);
	}
	const json_t *owner = owner_of_pod(ctl, pod);
	if (owner) {
		ctrl_enqueue(ctl, owner);
		/* Once ready, it becomes available after minReadySeconds: look again then. */
		int64_t min_ready = jp_int(owner, "spec.minReadySeconds", 0);
		if (min_ready > 0 && !pod_ready(old) && pod_ready(pod)) {
			_cleanup_free_ char *key = object_key(owner);
			ctrl_enqueue_after(ctl, key, min_ready * NSEC_PER_SEC + NSEC_PER_SEC);
		}
		return;
	}
	if (!ref && (labels_changed || old_ref))
		enqueue_matching_owners(ctl, pod);
}

static void
pod_deleted(const json_t *pod, void *userdata)
{
	struct ctrl *ctl = userdata;
	const json_t *ref = controller_ref(pod);
	if (!ref || !streq(jp_str(ref, "kind"), state(ctl)->k->kind))
		return;
	const char *ns = jp_str(pod, "metadata.namespace");
	char *key = NULL;
	if (asprintf(&key, "%s/%s", ns ? ns : "", jp_str0(ref, "name")) < 0)
		return;
	_cleanup_free_ char *pod_key = object_key(pod);
	if (pod_key)
		deletion_observed(state(ctl)->exp, key, pod_key);
	ctrl_enqueue_key(ctl, key);
	free(key);
}

static void
owner_deleted(const json_t *owner, void *userdata)
{
	struct ctrl *ctl = userdata;
	_cleanup_free_ char *key = object_key(owner);
	if (key) {
		expectations_delete(state(ctl)->exp, key);
		ctrl_enqueue_key(ctl, key);
	}
}

static int
init_common(struct ctrl *ctl, bool rc, korch_error **err)
{
	struct rs_ctrl *s = calloc(1, sizeof(*s));
	if (!s || !(s->exp = expectations_new())) {
		free(s);
		return error_oom(err);
	}
	ctl->data = s;
	s->rc = rc;
	s->k = rc ? K_RC : K_RS;
	s->owners = ctrl_watch_primary(ctl, rc ? "v1" : "apps/v1",
				       rc ? "ReplicationController" : "ReplicaSet");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	if (!s->owners || !s->pods)
		return error_oom(err);
	struct informer_handlers ph = { pod_added, pod_updated, pod_deleted, ctl };
	struct informer_handlers oh = { NULL, NULL, owner_deleted, ctl };
	int hr;
	if ((hr = informer_add_handlers(s->pods, &ph, err)) < 0 ||
	    (hr = informer_add_handlers(s->owners, &oh, err)) < 0)
		return hr;
	return 0;
}

static int
rs_init(struct ctrl *ctl, korch_error **err)
{
	return init_common(ctl, false, err);
}

static int
rc_init(struct ctrl *ctl, korch_error **err)
{
	return init_common(ctl, true, err);
}

static void
rs_fini(struct ctrl *ctl)
{
	struct rs_ctrl *s = state(ctl);
	if (!s)
		return;
	expectations_free(s->exp);
	free(s);
}

/* ---- reconcile ---- */

static void
collect_active(const json_t *pod, void *userdata)
{
	if (pod_active(pod))
		json_array_append((json_t *)userdata, (json_t *)pod);
}

/* The pods of the other ReplicaSets of the same owner (a Deployment), for ranking. */
struct related_ctx {
	struct ctrl *ctl;
	const json_t *rs;
	json_t *pods;
};

static void
add_owned_pods(const json_t *pod, void *userdata)
{
	struct related_ctx *r = userdata;
	if (pod_active(pod))
		json_array_append(r->pods, (json_t *)pod);
}

static void
related_sibling(const json_t *other, void *userdata)
{
	struct related_ctx *r = userdata;
	const json_t *ref = controller_ref(r->rs), *oref = controller_ref(other);
	if (!oref || !streq(jp_str(oref, "uid"), jp_str(ref, "uid")))
		return;
	cm_foreach_owned(r->ctl->cm, state(r->ctl)->pods, jp_str(other, "metadata.uid"),
			 add_owned_pods, r);
}

static json_t *
related_pods(struct ctrl *ctl, const json_t *rs, const json_t *own)
{
	const json_t *ref = controller_ref(rs);
	if (!ref)
		return json_incref((json_t *)own);
	struct related_ctx r = { ctl, rs, json_array() };
	cm_foreach_in_ns(ctl->cm, state(ctl)->owners, jp_str(rs, "metadata.namespace"),
			 related_sibling, &r);
	return r.pods;
}

/* slowStartBatch: creates count pods in batches of 1, 2, 4, ..., stopping at a failure. */
static int
create_pods(struct ctrl *ctl, const json_t *rs, const char *key, int64_t count, korch_error **err)
{
	struct rs_ctrl *s = state(ctl);
	expect_creations(s->exp, key, count, cm_now(ctl->cm));
	_cleanup_json_ json_t *pod = pod_from_template(jp_get(rs, "spec.template"), rs, s->k, NULL);
	if (!pod)
		return error_oom(err);
	int64_t done = 0, batch = 1;
	int r = 0;
	while (done < count && r == 0) {
		int64_t n = MIN(batch, count - done);
		for (int64_t i = 0; i < n; i++) {
			korch_error *e = NULL;
			int rc = pod_create(ctl, rs, pod, NULL, &e);
			if (rc < 0) {
				/* This create will never be observed. */
				creation_observed(s->exp, key);
				if (r == 0) {
					r = rc;
					error_propagate(err, &e, rc);
				} else {
					korch_error_free(e);
				}
			}
		}
		done += n;
		batch *= 2;
	}
	/* The batches not attempted will not be observed either. */
	for (int64_t i = done; i < count; i++)
		creation_observed(s->exp, key);
	return r;
}

static int
delete_pods(struct ctrl *ctl, const json_t *rs, const char *key, json_t *pods, int64_t count,
	    korch_error **err)
{
	struct rs_ctrl *s = state(ctl);
	if (count < (int64_t)json_array_size(pods)) {
		_cleanup_json_ json_t *related = related_pods(ctl, rs, pods);
		pods_rank_for_deletion(pods, related, cm_wall(ctl->cm));
	}
	for (int64_t i = 0; i < count; i++) {
		_cleanup_free_ char *pk = object_key(json_array_get(pods, i));
		expect_deletion(s->exp, key, pk, cm_now(ctl->cm));
	}
	int r = 0;
	for (int64_t i = 0; i < count; i++) {
		json_t *pod = json_array_get(pods, i);
		korch_error *e = NULL;
		int rc = pod_delete(ctl, rs, pod, &e);
		if (rc < 0) {
			_cleanup_free_ char *pk = object_key(pod);
			deletion_observed(s->exp, key, pk);
			if (r == 0) {
				r = rc;
				error_propagate(err, &e, rc);
				continue;
			}
			korch_error_free(e);
		}
	}
	return r;
}

/* calculateStatus and the ReplicaFailure condition; returns the new status object. */
static json_t *
calculate_status(struct ctrl *ctl, const json_t *rs, const json_t *pods, int manage_err,
		 const char *manage_msg)
{
	int64_t min_ready = jp_int(rs, "spec.minReadySeconds", 0);
	int64_t now = cm_wall(ctl->cm);
	struct label_selector *tmpl_sel = NULL;
	label_selector_from_map(jp_get(rs, "spec.template.metadata.labels"), &tmpl_sel, NULL);
	int64_t labeled = 0, ready = 0, available = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		if (tmpl_sel && label_selector_matches(tmpl_sel, jp_get(pod, "metadata.labels")))
			labeled++;
		if (pod_ready(pod)) {
			ready++;
			if (pod_available(pod, min_ready, now, NULL))
				available++;
		}
	}
	label_selector_free(tmpl_sel);
	json_t *holder =
		json_pack("{s:O}", "status",
			  jp_get(rs, "status") ? (json_t *)jp_get(rs, "status") : json_object());
	json_t *status = json_deep_copy(json_object_get(holder, "status"));
	json_object_set_new(holder, "status", status);
	const json_t *failure = condition_get(holder, "ReplicaFailure");
	int64_t want = jp_int(rs, "spec.replicas", 1);
	if (manage_err < 0 && !failure) {
		int64_t diff = (int64_t)json_array_size(pods) - want;
		condition_set(holder, "ReplicaFailure", "True",
			      diff < 0   ? "FailedCreate"
			      : diff > 0 ? "FailedDelete"
					 : "",
			      manage_msg, now, false);
	} else if (manage_err == 0 && failure) {
		condition_remove(holder, "ReplicaFailure");
	}
	status = json_incref(json_object_get(holder, "status"));
	json_decref(holder);
	/* omitempty: zero counts are left out, as Kubernetes serialises them. */
	json_object_set_new(status, "replicas", json_integer((json_int_t)json_array_size(pods)));
	const char *names[] = { "fullyLabeledReplicas", "readyReplicas", "availableReplicas" };
	int64_t values[] = { labeled, ready, available };
	for (size_t k = 0; k < 3; k++) {
		if (values[k])
			json_object_set_new(status, names[k], json_integer(values[k]));
		else
			json_object_del(status, names[k]);
	}
	json_t *conds = json_object_get(status, "conditions");
	if (conds && json_array_size(conds) == 0)
		json_object_del(status, "conditions");
	int64_t gen = jp_int(rs, "metadata.generation", 0);
	if (gen)
		json_object_set_new(status, "observedGeneration", json_integer(gen));
	return status;
}

static int
rs_sync(struct ctrl *ctl, const char *key)
{
	struct rs_ctrl *s = state(ctl);
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *cached = informer_get(s->owners, ns, name);
	if (!cached) {
		expectations_delete(s->exp, key);
		return 0;
	}
	_cleanup_json_ json_t *rs = json_incref((json_t *)cached);
	bool needs_sync = expectations_satisfied(s->exp, key, cm_now(ctl->cm));
	struct label_selector *sel = NULL;
	korch_error *e = NULL;
	int r = workload_selector(rs, s->rc, &sel, &e);
	if (r < 0) {
		/* A bad selector never heals by retrying: report it and wait for a change. */
		ctrl_fail(ctl, key, r, e);
		return 0;
	}
	_cleanup_json_ json_t *candidates = json_array();
	cm_foreach_claimable(ctl->cm, s->pods, ns, jp_str0(rs, "metadata.uid"), sel, collect_active,
			     candidates);
	json_t *pods = NULL;
	r = claim_objects(ctl, rs, s->k, K_POD, sel, candidates, &pods, &e);
	label_selector_free(sel);
	if (r < 0)
		return ctrl_fail(ctl, key, r, e);
	_cleanup_json_ json_t *claimed = pods;
	int manage_err = 0;
	char manage_msg[512] = "";
	if (needs_sync && !jp_get(rs, "metadata.deletionTimestamp")) {
		int64_t diff = (int64_t)json_array_size(claimed) - jp_int(rs, "spec.replicas", 1);
		korch_error *me = NULL;
		if (diff < 0)
			manage_err = create_pods(ctl, rs, key, MIN(-diff, BURST_REPLICAS), &me);
		else if (diff > 0)
			manage_err =
				delete_pods(ctl, rs, key, claimed, MIN(diff, BURST_REPLICAS), &me);
		if (manage_err < 0)
			snprintf(manage_msg, sizeof(manage_msg), "%s", korch_error_message(me));
		korch_error_free(me);
	}
	_cleanup_json_ json_t *status = calculate_status(ctl, rs, claimed, manage_err, manage_msg);
	if (!json_equal(status, jp_get(rs, "status") ?: json_null())) {
		_cleanup_json_ json_t *next = json_deep_copy(rs);
		json_object_set(next, "status", status);
		r = cm_update(ctl, next, "status", NULL, &e);
		if (r == KORCH_ENOTFOUND) {
			korch_error_free(e);
			return 0;
		}
		if (r < 0)
			return ctrl_fail(ctl, key, r, e);
	}
	int64_t min_ready = jp_int(rs, "spec.minReadySeconds", 0);
	int64_t want = jp_int(rs, "spec.replicas", 1);
	if (manage_err == 0 && min_ready > 0 && jp_int(status, "readyReplicas", 0) == want &&
	    jp_int(status, "availableReplicas", 0) != want)
		ctrl_enqueue_after(ctl, key, min_ready * NSEC_PER_SEC);
	return manage_err;
}

const struct ctrl_ops replicaset_ops = {
	.name = "replicaset",
	.component = "replicaset-controller",
	.init = rs_init,
	.sync = rs_sync,
	.fini = rs_fini,
};

const struct ctrl_ops replicationcontroller_ops = {
	.name = "replicationcontroller",
	.component = "replication-controller",
	.init = rc_init,
	.sync = rs_sync,
	.fini = rs_fini,
};
