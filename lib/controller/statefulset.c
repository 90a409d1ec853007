/*
 * statefulset.c - the StatefulSet controller (Kubernetes' pkg/controller/statefulset): pods
 * named SET-ORDINAL with hostname and subdomain (their DNS names under the headless Service),
 * one claim per volumeClaimTemplate and ordinal (TEMPLATE-SET-ORDINAL, kept across pod
 * deletions), ControllerRevisions for the current and update templates; OrderedReady creates in
 * ordinal order, each once the one before is Running and Ready, and scales down from the
 * highest ordinal, one at a time; Parallel does both at once; RollingUpdate replaces pods from
 * the highest ordinal down to the partition, one at a time, each once the previous is healthy;
 * OnDelete waits for the user to delete them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"
#include "controller/history.h"
#include "controller/pods.h"

#define POD_NAME_LABEL "statefulset.kubernetes.io/pod-name"
#define POD_INDEX_LABEL "apps.kubernetes.io/pod-index"

struct sts_ctrl {
	struct informer *sets;      /* StatefulSets */
	struct informer *pods;      /* Pods */
	struct informer *revisions; /* ControllerRevisions */
	struct informer *claims;    /* PersistentVolumeClaims */
};

static struct sts_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

/* ---- handlers ---- */

struct match_ctx {
	struct ctrl *ctl;
	const json_t *pod;
};

static void
enqueue_if_selects(const json_t *set, void *userdata)
{
	struct match_ctx *m = userdata;
	struct label_selector *sel = NULL;
	if (workload_selector(set, false, &sel, NULL) < 0)
		return;
	if (selects(sel, m->pod))
		ctrl_enqueue(m->ctl, set);
	label_selector_free(sel);
}

static void
pod_changed(struct ctrl *ctl, const json_t *pod)
{
	const json_t *ref = controller_ref(pod);
	if (ref) {
		ctrl_enqueue_controller_of(ctl, pod, "StatefulSet");
		return;
	}
	struct match_ctx m = { ctl, pod };
	cm_foreach_in_ns(ctl->cm, state(ctl)->sets, jp_str(pod, "metadata.namespace"),
			 enqueue_if_selects, &m);
}

static void
pod_added(const json_t *pod, void *userdata)
{
	pod_changed(userdata, pod);
}

static void
pod_updated(const json_t *old, const json_t *pod, void *userdata)
{
	if (streq(jp_str(old, "metadata.resourceVersion"), jp_str(pod, "metadata.resourceVersion")))
		return;
	pod_changed(userdata, pod);
	/* Available after minReadySeconds: look again then. */
	struct ctrl *ctl = userdata;
	const json_t *ref = controller_ref(pod);
	if (ref && streq(jp_str(ref, "kind"), "StatefulSet") && !pod_ready(old) && pod_ready(pod)) {
		const json_t *set = informer_get(
			state(ctl)->sets, jp_str(pod, "metadata.namespace"), jp_str0(ref, "name"));
		int64_t min_ready = jp_int(set, "spec.minReadySeconds", 0);
		if (set && min_ready > 0) {
			_cleanup_free_ char *key = object_key(set);
			ctrl_enqueue_after(ctl, key, min_ready * NSEC_PER_SEC + NSEC_PER_SEC);
		}
	}
}

static int
sts_init(struct ctrl *ctl, korch_error **err)
{
	struct sts_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->sets = ctrl_watch_primary(ctl, "apps/v1", "StatefulSet");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	s->revisions = cm_informer(ctl->cm, "apps/v1", "ControllerRevision");
	s->claims = cm_informer(ctl->cm, "v1", "PersistentVolumeClaim");
	if (!s->sets || !s->pods || !s->revisions || !s->claims)
		return error_oom(err);
	struct informer_handlers h = { pod_added, pod_updated, pod_added, ctl };
	return informer_add_handlers(s->pods, &h, err);
}

static void
sts_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

/* ---- pods ---- */

/* The ordinal of a member pod ("SET-N"), or -1. */
static int64_t
ordinal_of(const json_t *set, const json_t *pod)
{
	const char *name = jp_str0(pod, "metadata.name");
	const char *set_name = jp_str0(set, "metadata.name");
	size_t n = strlen(set_name);
	if (strncmp(name, set_name, n) != 0 || name[n] != '-')
		return -1;
	int64_t ord;
	if (parse_int64(name + n + 1, &ord) < 0 || ord < 0)
		return -1;
	char check[32];
	snprintf(check, sizeof(check), "%lld", (long long)ord);
	return streq(check, name + n + 1) ? ord : -1;
}

static const char *
pod_revision(const json_t *pod)
{
	return json_string_value(
		json_object_get(jp_get(pod, "metadata.labels"), REVISION_HASH_LABEL));
}

static bool
terminating(const json_t *pod)
{
	return jp_get(pod, "metadata.deletionTimestamp") != NULL;
}

static bool
running_and_ready(const json_t *pod)
{
	return streq(pod_phase(pod), "Running") && pod_ready(pod);
}

static bool
healthy(const json_t *pod, int64_t min_ready, int64_t now)
{
	return running_and_ready(pod) && !terminating(pod) &&
	       pod_available(pod, min_ready, now, NULL);
}

static void
claim_name(const json_t *tmpl, const json_t *set, int64_t ordinal, char buf[static 320])
{
	snprintf(buf, 320, "%.100s-%.150s-%lld", jp_str0(tmpl, "metadata.name"),
		 jp_str0(set, "metadata.name"), (long long)ordinal);
}

/* newStatefulSetPod: name, identity, storage and revision label. */
static json_t *
new_pod(const json_t *set, const json_t *tmpl, const char *revision, int64_t ordinal)
{
	json_t *pod = pod_from_template(tmpl, set, K_STS, NULL);
	if (!pod)
		return NULL;
	char name[320], idx[32];
	snprintf(name, sizeof(name), "%s-%lld", jp_str0(set, "metadata.name"), (long long)ordinal);
	snprintf(idx, sizeof(idx), "%lld", (long long)ordinal);
	json_t *meta = json_object_get(pod, "metadata");
	json_object_del(meta, "generateName");
	json_object_set_new(meta, "name", json_string(name));
	json_t *labels = jp_obj(meta, "labels");
	json_object_set_new(labels, POD_NAME_LABEL, json_string(name));
	json_object_set_new(labels, POD_INDEX_LABEL, json_string(idx));
	json_object_set_new(labels, REVISION_HASH_LABEL, json_string(revision));
	json_t *spec = jp_obj(pod, "spec");
	json_object_set_new(spec, "hostname", json_string(name));
	const char *svc = jp_str(set, "spec.serviceName");
	if (svc && *svc)
		json_object_set_new(spec, "subdomain", json_string(svc));
	/* One volume per claim template, in place of a template volume of the same name. */
	size_t i;
	json_t *ct;
	json_array_foreach (jp_get(set, "spec.volumeClaimTemplates"), i, ct) {
		json_t *vols = json_object_get(spec, "volumes");
		if (!json_is_array(vols)) {
			vols = json_array();
			json_object_set_new(spec, "volumes", vols);
		}
		size_t j;
		json_t *v;
		json_array_foreach (vols, j, v)
			if (streq(jp_str(v, "name"), jp_str(ct, "metadata.name"))) {
				json_array_remove(vols, j);
				break;
			}
		char claim[320];
		claim_name(ct, set, ordinal, claim);
		json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name",
						      jp_str0(ct, "metadata.name"),
						      "persistentVolumeClaim", "claimName", claim));
	}
	return pod;
}

/* The pod's claims, created when missing (createPersistentVolumeClaims). */
static int
create_claims(struct ctrl *ctl, const json_t *set, const json_t *pod, int64_t ordinal,
	      korch_error **err)
{
	struct sts_ctrl *s = state(ctl);
	const char *ns = jp_str0(set, "metadata.namespace");
	bool delete_with_set = streq(
		jp_str(set, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"), "Delete");
	size_t i;
	json_t *ct;
	json_array_foreach (jp_get(set, "spec.volumeClaimTemplates"), i, ct) {
		char name[320];
		claim_name(ct, set, ordinal, name);
		if (informer_get(s->claims, ns, name))
			continue;
		json_t *claim = json_deep_copy(ct);
		json_t *meta = jp_obj(claim, "metadata");
		json_object_set_new(meta, "name", json_string(name));
		json_object_set_new(meta, "namespace", json_string(ns));
		json_t *labels = jp_obj(meta, "labels");
		const char *k;
		json_t *v;
		json_object_foreach ((json_t *)jp_get(set, "spec.selector.matchLabels"), k, v)
			json_object_set(labels, k, v);
		if (delete_with_set) {
			json_t *ref = controller_ref_new(set, K_STS);
			json_object_set_new(ref, "controller", json_false());
			json_object_set_new(meta, "ownerReferences", json_pack("[o]", ref));
		}
		json_object_set_new(claim, "apiVersion", json_string("v1"));
		json_object_set_new(claim, "kind", json_string("PersistentVolumeClaim"));
		json_object_del(claim, "status");
		korch_error *e = NULL;
		int r = cm_create(ctl, claim, NULL, &e);
		json_decref(claim);
		if (r == KORCH_EEXISTS) {
			korch_error_free(e);
			continue;
		}
		if (r < 0) {
			cm_event(ctl, set, "Warning", "FailedCreate",
				 "create Claim %s for Pod %s in StatefulSet %s failed error: %s",
				 name, jp_str0(pod, "metadata.name"), jp_str0(set, "metadata.name"),
				 korch_error_message(e));
			return error_propagate(err, &e, r);
		}
		cm_event(ctl, set, "Normal", "SuccessfulCreate",
			 "create Claim %s Pod %s in StatefulSet %s success", name,
			 jp_str0(pod, "metadata.name"), jp_str0(set, "metadata.name"));
	}
	return 0;
}

static int
create_pod(struct ctrl *ctl, const json_t *set, const json_t *pod, int64_t ordinal,
	   korch_error **err)
{
	int r = create_claims(ctl, set, pod, ordinal, err);
	if (r < 0)
		return r;
	korch_error *e = NULL;
	r = cm_create(ctl, pod, NULL, &e);
	if (r == KORCH_EEXISTS) {
		korch_error_free(e);
		return 0; /* there already: the cache is behind */
	}
	if (r < 0) {
		cm_event(ctl, set, "Warning", "FailedCreate",
			 "create Pod %s in StatefulSet %s failed error: %s",
			 jp_str0(pod, "metadata.name"), jp_str0(set, "metadata.name"),
			 korch_error_message(e));
		return error_propagate(err, &e, r);
	}
	cm_event(ctl, set, "Normal", "SuccessfulCreate",
		 "create Pod %s in StatefulSet %s successful", jp_str0(pod, "metadata.name"),
		 jp_str0(set, "metadata.name"));
	return 0;
}

static int
delete_pod(struct ctrl *ctl, const json_t *set, const json_t *pod, korch_error **err)
{
	korch_error *e = NULL;
	int r = cm_delete(ctl, K_POD, jp_str(pod, "metadata.namespace"),
			  jp_str0(pod, "metadata.name"), NULL, &e);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		return 0;
	}
	if (r < 0) {
		cm_event(ctl, set, "Warning", "FailedDelete",
			 "delete Pod %s in StatefulSet %s failed error: %s",
			 jp_str0(pod, "metadata.name"), jp_str0(set, "metadata.name"),
			 korch_error_message(e));
		return error_propagate(err, &e, r);
	}
	cm_event(ctl, set, "Normal", "SuccessfulDelete",
		 "delete Pod %s in StatefulSet %s successful", jp_str0(pod, "metadata.name"),
		 jp_str0(set, "metadata.name"));
	return 0;
}

/* Gives a claim of a condemned pod an owner reference to it (whenScaled: Delete). */
static void
claims_follow_pod(struct ctrl *ctl, const json_t *set, const json_t *pod, int64_t ordinal)
{
	if (!streq(jp_str(set, "spec.persistentVolumeClaimRetentionPolicy.whenScaled"), "Delete"))
		return;
	size_t i;
	json_t *ct;
	json_array_foreach (jp_get(set, "spec.volumeClaimTemplates"), i, ct) {
		char name[320];
		claim_name(ct, set, ordinal, name);
		json_t *ref = controller_ref_new(pod, K_POD);
		json_object_set_new(ref, "controller", json_false());
		_cleanup_json_ json_t *patch =
			json_pack("{s:{s:[o]}}", "metadata", "ownerReferences", ref);
		cm_patch(ctl, K_PVC, jp_str(set, "metadata.namespace"), name,
			 CLIENT_PATCH_STRATEGIC, patch, NULL, NULL, NULL);
	}
}

/* ---- sync ---- */

static void
collect(const json_t *obj, void *userdata)
{
	json_array_append((json_t *)userdata, (json_t *)obj);
}

struct ssync {
	struct ctrl *ctl;
	json_t *set;
	json_t *pods;      /* claimed member pods */
	json_t *revisions; /* the set's revisions */
	json_t *current_rev, *update_rev;
	int64_t start, replicas, min_ready, now;
};

static json_t *
compute_status(struct ssync *s)
{
	int64_t created = 0, ready = 0, available = 0, current = 0, updated = 0;
	const char *cur_name = jp_str(s->current_rev, "metadata.name");
	const char *upd_name = jp_str(s->update_rev, "metadata.name");
	size_t i;
	json_t *pod;
	json_array_foreach (s->pods, i, pod) {
		created++;
		if (running_and_ready(pod)) {
			ready++;
			if (pod_available(pod, s->min_ready, s->now, NULL))
				available++;
		}
		if (terminating(pod))
			continue;
		if (streq(pod_revision(pod), cur_name))
			current++;
		if (streq(pod_revision(pod), upd_name))
			updated++;
	}
	json_t *st = json_object();
	int64_t gen = jp_int(s->set, "metadata.generation", 0);
	if (gen)
		json_object_set_new(st, "observedGeneration", json_integer(gen));
	json_object_set_new(st, "replicas", json_integer(created));
	if (ready)
		json_object_set_new(st, "readyReplicas", json_integer(ready));
	/* completeRollingUpdate: every pod updated and ready makes the update current. */
	bool rolling = !streq(jp_str(s->set, "spec.updateStrategy.type"), "OnDelete");
	if (rolling && updated == created && ready == created) {
		cur_name = upd_name;
		current = updated;
	}
	if (current)
		json_object_set_new(st, "currentReplicas", json_integer(current));
	if (updated)
		json_object_set_new(st, "updatedReplicas", json_integer(updated));
	if (cur_name)
		json_object_set_new(st, "currentRevision", json_string(cur_name));
	if (upd_name)
		json_object_set_new(st, "updateRevision", json_string(upd_name));
	const json_t *cc = jp_get(s->set, "status.collisionCount");
	if (cc)
		json_object_set(st, "collisionCount", (json_t *)cc);
	json_object_set_new(st, "availableReplicas", json_integer(available));
	return st;
}

/* Replaces labels a member pod lacks (identity: pod-name and pod-index). */
static int
fix_identity(struct ssync *s, const json_t *pod, int64_t ordinal, korch_error **err)
{
	const json_t *labels = jp_get(pod, "metadata.labels");
	char idx[32];
	snprintf(idx, sizeof(idx), "%lld", (long long)ordinal);
	if (streq(json_string_value(json_object_get(labels, POD_NAME_LABEL)),
		  jp_str(pod, "metadata.name")) &&
	    streq(json_string_value(json_object_get(labels, POD_INDEX_LABEL)), idx))
		return 0;
	_cleanup_json_ json_t *patch =
		json_pack("{s:{s:{s:s, s:s}}}", "metadata", "labels", POD_NAME_LABEL,
			  jp_str0(pod, "metadata.name"), POD_INDEX_LABEL, idx);
	int r = cm_patch(s->ctl, K_POD, jp_str(pod, "metadata.namespace"),
			 jp_str0(pod, "metadata.name"), CLIENT_PATCH_MERGE, patch, NULL, NULL, err);
	return r == KORCH_ENOTFOUND ? 0 : r;
}

static int
update_set(struct ssync *s, korch_error **err)
{
	struct ctrl *ctl = s->ctl;
	const json_t *set = s->set;
	bool monotonic = !streq(jp_str(set, "spec.podManagementPolicy"), "Parallel");
	_cleanup_json_ json_t *current_tmpl = history_template(s->current_rev);
	_cleanup_json_ json_t *update_tmpl = history_template(s->update_rev);
	const char *cur_name = jp_str0(s->current_rev, "metadata.name");
	const char *upd_name = jp_str0(s->update_rev, "metadata.name");
	json_t **slots = calloc((size_t)(s->replicas > 0 ? s->replicas : 1), sizeof(*slots));
	_cleanup_json_ json_t *condemned = json_array();
	if (!slots)
		return error_oom(err);
	size_t i;
	json_t *pod;
	json_array_foreach (s->pods, i, pod) {
		int64_t ord = ordinal_of(set, pod);
		if (ord >= s->start && ord < s->start + s->replicas)
			slots[ord - s->start] = pod;
		else
			json_array_append(condemned, pod);
	}
	/* Which revision new pods get (newVersionedStatefulSetPod). */
	int64_t partition = jp_int(set, "spec.updateStrategy.rollingUpdate.partition", 0);
	bool rolling = !streq(jp_str(set, "spec.updateStrategy.type"), "OnDelete");
	int64_t current_replicas = jp_int(set, "status.currentReplicas", 0);
	int r = 0;
	for (int64_t k = 0; k < s->replicas && r == 0; k++) {
		int64_t ord = s->start + k;
		json_t *p = slots[k];
		if (p && (streq(pod_phase(p), "Failed") || streq(pod_phase(p), "Succeeded")) &&
		    !terminating(p)) {
			/* A finished member is replaced (recreated under the same name). */
			r = delete_pod(ctl, set, p, err);
			if (monotonic)
				break;
			continue;
		}
		if (!p) {
			/* newVersionedStatefulSetPod: below the partition, the current revision. */
			bool use_current =
				rolling && (jp_get(set, "spec.updateStrategy.rollingUpdate")
						    ? ord < partition
						    : ord < current_replicas);
			_cleanup_json_ json_t *np =
				new_pod(set, use_current ? current_tmpl : update_tmpl,
					use_current ? cur_name : upd_name, ord);
			r = np ? create_pod(ctl, set, np, ord, err) : error_oom(err);
			if (monotonic)
				break; /* the next waits for this one to be Running and Ready */
			continue;
		}
		if (terminating(p) && monotonic)
			break;
		if (!healthy(p, s->min_ready, s->now) && monotonic)
			break;
		r = fix_identity(s, p, ord, err);
	}
	if (r < 0) {
		free(slots);
		return r;
	}
	/* Healthy only once every wanted pod is: scale-down and updates wait for that. */
	bool all_healthy = true;
	for (int64_t k = 0; k < s->replicas; k++)
		if (!slots[k] || !healthy(slots[k], s->min_ready, s->now))
			all_healthy = false;
	if (monotonic && !all_healthy) {
		free(slots);
		return 0;
	}
	/* Condemned pods go from the highest ordinal down, one at a time when ordered. */
	size_t nc = json_array_size(condemned);
	json_t **cv = calloc(nc ? nc : 1, sizeof(*cv));
	if (!cv) {
		free(slots);
		return error_oom(err);
	}
	for (i = 0; i < nc; i++)
		cv[i] = json_array_get(condemned, i);
	for (size_t a = 0; a < nc; a++)
		for (size_t b = a + 1; b < nc; b++)
			if (ordinal_of(set, cv[b]) > ordinal_of(set, cv[a])) {
				json_t *t = cv[a];
				cv[a] = cv[b];
				cv[b] = t;
			}
	bool waited = false;
	for (i = 0; i < nc && r == 0; i++) {
		if (terminating(cv[i])) {
			if (monotonic) {
				waited = true;
				break;
			}
			continue;
		}
		claims_follow_pod(ctl, set, cv[i], ordinal_of(set, cv[i]));
		r = delete_pod(ctl, set, cv[i], err);
		if (monotonic) {
			waited = true;
			break;
		}
	}
	free(cv);
	if (r < 0 || waited || !rolling) {
		free(slots);
		return r;
	}
	/* RollingUpdate: from the highest ordinal down to the partition, one at a time. */
	for (int64_t k = s->replicas - 1; k >= 0 && s->start + k >= partition && r == 0; k--) {
		json_t *p = slots[k];
		if (!p)
			break;
		if (!streq(pod_revision(p), upd_name) && !terminating(p)) {
			r = delete_pod(ctl, set, p, err);
			break;
		}
		if (!healthy(p, s->min_ready, s->now))
			break;
	}
	free(slots);
	return r;
}

static int
sync_set(struct ssync *s, korch_error **err)
{
	struct ctrl *ctl = s->ctl;
	struct sts_ctrl *st = state(ctl);
	const json_t *set = s->set;
	struct label_selector *sel = NULL;
	int r = workload_selector(set, false, &sel, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *all = json_array();
	cm_foreach_claimable(ctl->cm, st->pods, jp_str(set, "metadata.namespace"),
			     jp_str0(set, "metadata.uid"), sel, collect, all);
	/* Only members (SET-ORDINAL) are claimed. */
	_cleanup_json_ json_t *members = json_array();
	size_t i;
	json_t *pod;
	json_array_foreach (all, i, pod)
		if (ordinal_of(set, pod) >= 0)
			json_array_append(members, pod);
	r = claim_objects(ctl, set, K_STS, K_POD, sel, members, &s->pods, err);
	label_selector_free(sel);
	if (r < 0)
		return r;
	if ((r = history_list(ctl, st->revisions, set, K_STS, &s->revisions, err)) < 0)
		return r;
	int64_t collisions = jp_int(set, "status.collisionCount", -1);
	if ((r = history_update_revision(ctl, set, K_STS, s->revisions, &collisions, &s->update_rev,
					 err)) < 0)
		return r;
	if (collisions >= 0 && collisions != jp_int(set, "status.collisionCount", -1))
		json_object_set_new(jp_obj(s->set, "status"), "collisionCount",
				    json_integer(collisions));
	const char *cur = jp_str(set, "status.currentRevision");
	json_array_foreach (s->revisions, i, pod)
		if (cur && streq(jp_str(pod, "metadata.name"), cur))
			s->current_rev = json_incref(pod);
	if (!s->current_rev)
		s->current_rev = json_incref(s->update_rev);
	if (!jp_get(set, "metadata.deletionTimestamp") && (r = update_set(s, err)) < 0)
		return r;
	/* Status from the pods as the cache shows them. */
	_cleanup_json_ json_t *status = compute_status(s);
	if (!json_equal(status, jp_get(set, "status") ?: json_null())) {
		json_object_set(s->set, "status", status);
		korch_error *e = NULL;
		r = cm_update(ctl, s->set, "status", NULL, &e);
		if (r == KORCH_ENOTFOUND) {
			korch_error_free(e);
			return 0;
		}
		if (r < 0)
			return error_propagate(err, &e, r);
	}
	/* truncateHistory: the current, update and pods' revisions are live. */
	_cleanup_json_ json_t *live = json_pack("[s, s]", jp_str0(s->current_rev, "metadata.name"),
						jp_str0(s->update_rev, "metadata.name"));
	json_array_foreach (s->pods, i, pod)
		if (pod_revision(pod))
			json_array_append_new(live, json_string(pod_revision(pod)));
	const char *cur_status = jp_str(status, "currentRevision");
	if (cur_status)
		json_array_append_new(live, json_string(cur_status));
	return history_truncate(ctl, s->revisions, live,
				jp_int(set, "spec.revisionHistoryLimit", 10), err);
}

static int
sts_sync(struct ctrl *ctl, const char *key)
{
	struct sts_ctrl *st = state(ctl);
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *cached = informer_get(st->sets, ns, name);
	if (!cached)
		return 0;
	struct ssync s = {
		.ctl = ctl,
		.set = json_deep_copy(cached),
		.start = jp_int(cached, "spec.ordinals.start", 0),
		.replicas = jp_int(cached, "spec.replicas", 1),
		.min_ready = jp_int(cached, "spec.minReadySeconds", 0),
		.now = cm_wall(ctl->cm),
	};
	korch_error *e = NULL;
	int r = sync_set(&s, &e);
	json_decref(s.set);
	json_decref(s.pods);
	json_decref(s.revisions);
	json_decref(s.current_rev);
	json_decref(s.update_rev);
	return ctrl_sync_end(ctl, key, r, e);
}

const struct ctrl_ops statefulset_ops = {
	.name = "statefulset",
	.component = "statefulset-controller",
	.init = sts_init,
	.sync = sts_sync,
	.fini = sts_fini,
};
