/*
 * daemonset.c - the DaemonSet controller (Kubernetes' pkg/controller/daemon): one pod on every
 * node the DaemonSet's pods may run on (the pod's nodeSelector and required node affinity match
 * the node, and its tolerations, with the daemon tolerations added, tolerate the node's
 * NoSchedule and NoExecute taints); a pod stays on a node whose NoExecute taints it tolerates.
 * Each pod is pinned to its node by a required node affinity on metadata.name and bound by the
 * scheduler. Extra pods on a node, failed pods and pods on nodes they may no longer run on go;
 * a RollingUpdate replaces old pods within maxUnavailable (or adds new ones within maxSurge);
 * ControllerRevisions record the templates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/nodematch.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"
#include "controller/expectations.h"
#include "controller/history.h"
#include "controller/pods.h"

struct ds_ctrl {
	struct informer *dss;       /* DaemonSets */
	struct informer *nodes;     /* Nodes */
	struct informer *pods;      /* Pods */
	struct informer *revisions; /* ControllerRevisions */
	struct expectations *exp;   /* creates and deletes not seen yet */
};

static struct ds_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static void
enqueue_all(const json_t *ds, void *userdata)
{
	ctrl_enqueue(userdata, ds);
}

static void
node_changed(const json_t *node, void *userdata)
{
	struct ctrl *ctl = userdata;
	informer_foreach(state(ctl)->dss, enqueue_all, ctl);
}

/* A node's change matters when what decides placement or health changed. */
static void
node_updated(const json_t *old, const json_t *node, void *userdata)
{
	static const char *const paths[] = { "metadata.labels", "spec.taints", "status.conditions",
					     "spec.unschedulable" };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		const json_t *a = jp_get(old, paths[i]), *b = jp_get(node, paths[i]);
		if (!(a == b || (a && b && json_equal(a, b)))) {
			node_changed(node, userdata);
			return;
		}
	}
}

static const json_t *
ds_of_pod(struct ctrl *ctl, const json_t *pod)
{
	const json_t *ref = controller_ref(pod);
	if (!ref || !streq(jp_str(ref, "kind"), "DaemonSet"))
		return NULL;
	const json_t *ds = informer_get(state(ctl)->dss, jp_str(pod, "metadata.namespace"),
					jp_str0(ref, "name"));
	if (!ds || !streq(jp_str(ds, "metadata.uid"), jp_str(ref, "uid")))
		return NULL;
	return ds;
}

static void
pod_event(struct ctrl *ctl, const json_t *pod, bool created, bool deleted)
{
	const json_t *ds = ds_of_pod(ctl, pod);
	if (!ds)
		return;
	_cleanup_free_ char *key = object_key(ds);
	if (created)
		creation_observed(state(ctl)->exp, key);
	if (deleted) {
		_cleanup_free_ char *pk = object_key(pod);
		deletion_observed(state(ctl)->exp, key, pk);
	}
	ctrl_enqueue_key(ctl, key);
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
	if (streq(jp_str(old, "metadata.resourceVersion"), jp_str(pod, "metadata.resourceVersion")))
		return;
	pod_event(userdata, pod, false,
		  jp_get(pod, "metadata.deletionTimestamp") &&
			  !jp_get(old, "metadata.deletionTimestamp"));
}

static void
pod_deleted(const json_t *pod, void *userdata)
{
	pod_event(userdata, pod, false, true);
}

static int
ds_init(struct ctrl *ctl, korch_error **err)
{
	struct ds_ctrl *s = calloc(1, sizeof(*s));
	if (!s || !(s->exp = expectations_new())) {
		free(s);
		return error_oom(err);
	}
	ctl->data = s;
	s->dss = ctrl_watch_primary(ctl, "apps/v1", "DaemonSet");
	s->nodes = cm_informer(ctl->cm, "v1", "Node");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	s->revisions = cm_informer(ctl->cm, "apps/v1", "ControllerRevision");
	if (!s->dss || !s->nodes || !s->pods || !s->revisions)
		return error_oom(err);
	struct informer_handlers nh = { node_changed, node_updated, node_changed, ctl };
	struct informer_handlers ph = { pod_added, pod_updated, pod_deleted, ctl };
	int hr;
	if ((hr = informer_add_handlers(s->nodes, &nh, err)) < 0 ||
	    (hr = informer_add_handlers(s->pods, &ph, err)) < 0)
		return hr;
	return 0;
}

static void
ds_fini(struct ctrl *ctl)
{
	struct ds_ctrl *s = ctl->data;
	if (!s)
		return;
	expectations_free(s->exp);
	free(s);
}

/* ---- placement ---- */

/* AddOrUpdateDaemonPodTolerations: what every daemon pod tolerates. */
static void
add_daemon_tolerations(json_t *spec)
{
	static const struct {
		const char *key, *effect;
	} tol[] = {
		{ "node.kubernetes.io/not-ready", "NoExecute" },
		{ "node.kubernetes.io/unreachable", "NoExecute" },
		{ "node.kubernetes.io/disk-pressure", "NoSchedule" },
		{ "node.kubernetes.io/memory-pressure", "NoSchedule" },
		{ "node.kubernetes.io/pid-pressure", "NoSchedule" },
		{ "node.kubernetes.io/unschedulable", "NoSchedule" },
		{ "node.kubernetes.io/network-unavailable", "NoSchedule" },
	};
	json_t *list = json_object_get(spec, "tolerations");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(spec, "tolerations", list);
	}
	size_t n = ARRAY_SIZE(tol) - (jp_true(spec, "hostNetwork") ? 0 : 1);
	for (size_t i = 0; i < n; i++) {
		bool have = false;
		size_t j;
		json_t *t;
		json_array_foreach (list, j, t)
			have |= streq(jp_str(t, "key"), tol[i].key) &&
				streq(jp_str(t, "operator"), "Exists") &&
				streq(jp_str(t, "effect"), tol[i].effect);
		if (!have)
			json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "key", tol[i].key,
							      "operator", "Exists", "effect",
							      tol[i].effect));
	}
}

/* ReplaceDaemonSetPodNodeNameNodeAffinity. */
static void
pin_to_node(json_t *spec, const char *node)
{
	json_t *aff = jp_obj(spec, "affinity");
	json_t *na = jp_obj(aff, "nodeAffinity");
	json_object_set_new(na, "requiredDuringSchedulingIgnoredDuringExecution",
			    json_pack("{s:[{s:[{s:s, s:s, s:[s]}]}]}", "nodeSelectorTerms",
				      "matchFields", "key", "metadata.name", "operator", "In",
				      "values", node));
}

/* NewPod(ds, node): the template as a pod for node. */
static json_t *
daemon_pod_spec(const json_t *tmpl, const char *node)
{
	json_t *t = json_deep_copy(tmpl);
	json_t *spec = jp_obj(t, "spec");
	add_daemon_tolerations(spec);
	pin_to_node(spec, node);
	return t;
}

static bool
no_execute(const json_t *taint)
{
	return streq(jp_str(taint, "effect"), "NoExecute");
}

static bool
schedule_effects(const json_t *taint)
{
	return streq(jp_str(taint, "effect"), "NoExecute") ||
	       streq(jp_str(taint, "effect"), "NoSchedule");
}

/* NodeShouldRunDaemonPod: (should run, should continue running). */
static void
should_run(const json_t *ds, const json_t *node, bool *ret_run, bool *ret_continue)
{
	*ret_run = *ret_continue = false;
	const char *want = jp_str0(ds, "spec.template.spec.nodeName");
	const char *name = jp_str0(node, "metadata.name");
	if (*want && !streq(want, name))
		return;
	_cleanup_json_ json_t *tmpl = daemon_pod_spec(jp_get(ds, "spec.template"), name);
	if (!pod_node_affinity_matches(tmpl, node))
		return;
	const json_t *taints = jp_get(node, "spec.taints");
	const json_t *tols = jp_get(tmpl, "spec.tolerations");
	if (untolerated_taint(taints, tols, schedule_effects)) {
		*ret_continue = !untolerated_taint(taints, tols, no_execute);
		return;
	}
	*ret_run = *ret_continue = true;
}

/* ---- sync ---- */

struct dsync {
	struct ctrl *ctl;
	const char *key;
	json_t *ds;
	json_t *nodes;   /* every node */
	json_t *by_node; /* node name -> [pods] */
	char hash[64];   /* the update revision's hash */
	int64_t now;
};

static void
collect(const json_t *obj, void *userdata)
{
	json_array_append((json_t *)userdata, (json_t *)obj);
}

/* The node a daemon pod is for: where it runs, or where its affinity pins it. */
static const char *
target_node(const json_t *pod)
{
	const char *n = jp_str(pod, "spec.nodeName");
	if (n && *n)
		return n;
	const json_t *terms = jp_get(pod, "spec.affinity.nodeAffinity."
					  "requiredDuringSchedulingIgnoredDuringExecution."
					  "nodeSelectorTerms");
	size_t i, j;
	json_t *t, *f;
	json_array_foreach (terms, i, t)
		json_array_foreach (json_object_get(t, "matchFields"), j, f)
			if (streq(jp_str(f, "key"), "metadata.name") &&
			    streq(jp_str(f, "operator"), "In") &&
			    json_array_size(json_object_get(f, "values")) == 1)
				return json_string_value(
					json_array_get(json_object_get(f, "values"), 0));
	return NULL;
}

static bool
pod_updated_to(const json_t *pod, const char *hash)
{
	return streq(json_string_value(
			     json_object_get(jp_get(pod, "metadata.labels"), REVISION_HASH_LABEL)),
		     hash);
}

/* podByCreationTimestampAndPhase: running before others, then oldest first. */
static int
by_age(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	bool rx = streq(pod_phase(x), "Running"), ry = streq(pod_phase(y), "Running");
	if (rx != ry)
		return rx ? -1 : 1;
	int64_t tx = jp_time(x, "metadata.creationTimestamp", 0);
	int64_t ty = jp_time(y, "metadata.creationTimestamp", 0);
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return strcmp(jp_str0(x, "metadata.name"), jp_str0(y, "metadata.name"));
}

static void
sort_pods(json_t *pods)
{
	size_t n = json_array_size(pods);
	if (n < 2)
		return;
	json_t **v = calloc(n, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(pods, i));
	qsort(v, n, sizeof(*v), by_age);
	json_array_clear(pods);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(pods, v[i]);
	free(v);
}

static int
create_on(struct dsync *s, const char *node, korch_error **err)
{
	_cleanup_json_ json_t *tmpl = daemon_pod_spec(jp_get(s->ds, "spec.template"), node);
	json_object_set_new(jp_obj(jp_obj(tmpl, "metadata"), "labels"), REVISION_HASH_LABEL,
			    json_string(s->hash));
	_cleanup_json_ json_t *pod = pod_from_template(tmpl, s->ds, K_DS, NULL);
	if (!pod)
		return error_oom(err);
	return pod_create(s->ctl, s->ds, pod, NULL, err);
}

/* syncNodes: deletes then creates, counting expectations. */
static int
sync_nodes(struct dsync *s, json_t *to_delete, json_t *to_create, korch_error **err)
{
	struct ds_ctrl *st = state(s->ctl);
	size_t i;
	json_t *v;
	json_array_foreach (to_delete, i, v) {
		_cleanup_free_ char *pk = object_key(v);
		expect_deletion(st->exp, s->key, pk, cm_now(s->ctl->cm));
	}
	if (json_array_size(to_create))
		expect_creations(st->exp, s->key, (int64_t)json_array_size(to_create),
				 cm_now(s->ctl->cm));
	int r = 0;
	json_array_foreach (to_create, i, v) {
		korch_error *e = NULL;
		int rc = create_on(s, json_string_value(v), &e);
		if (rc < 0) {
			creation_observed(st->exp, s->key);
			if (r == 0) {
				r = rc;
				error_propagate(err, &e, rc);
				continue;
			}
			korch_error_free(e);
		}
	}
	json_array_foreach (to_delete, i, v) {
		korch_error *e = NULL;
		int rc = pod_delete(s->ctl, s->ds, v, &e);
		if (rc < 0) {
			_cleanup_free_ char *pk = object_key(v);
			deletion_observed(st->exp, s->key, pk);
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

/* manage: podsShouldBeOnNode for every node. */
static int
manage(struct dsync *s, korch_error **err)
{
	_cleanup_json_ json_t *to_create = json_array(), *to_delete = json_array();
	bool surge = jp_int(s->ds, "spec.updateStrategy.rollingUpdate.maxSurge", 0) > 0 ||
		     json_is_string(jp_get(s->ds, "spec.updateStrategy.rollingUpdate.maxSurge"));
	size_t i, j;
	json_t *node, *pod;
	json_array_foreach (s->nodes, i, node) {
		const char *name = jp_str0(node, "metadata.name");
		bool run, cont;
		should_run(s->ds, node, &run, &cont);
		const json_t *pods = json_object_get(s->by_node, name);
		bool exists = json_array_size(pods) > 0;
		if (run && !exists) {
			json_array_append_new(to_create, json_string(name));
		} else if (cont) {
			_cleanup_json_ json_t *running = json_array();
			json_array_foreach (pods, j, pod) {
				if (jp_get(pod, "metadata.deletionTimestamp"))
					continue;
				const char *phase = pod_phase(pod);
				if (streq(phase, "Failed") || streq(phase, "Succeeded")) {
					cm_event(
						s->ctl, s->ds, "Warning", "FailedDaemonPod",
						"Found %s daemon pod %s/%s on node %s, will try to kill it",
						streq(phase, "Failed") ? "failed" : "succeeded",
						jp_str0(pod, "metadata.namespace"),
						jp_str0(pod, "metadata.name"), name);
					json_array_append(to_delete, pod);
				} else {
					json_array_append(running, pod);
				}
			}
			if (!surge && json_array_size(running) > 1) {
				sort_pods(running);
				for (j = 1; j < json_array_size(running); j++)
					json_array_append(to_delete, json_array_get(running, j));
			}
		} else if (exists) {
			json_array_foreach (pods, j, pod)
				if (!jp_get(pod, "metadata.deletionTimestamp"))
					json_array_append(to_delete, pod);
		}
	}
	return sync_nodes(s, to_delete, to_create, err);
}

/* The number of nodes that should run a daemon pod (for percentages). */
static int64_t
desired(struct dsync *s)
{
	int64_t n = 0;
	size_t i;
	json_t *node;
	json_array_foreach (s->nodes, i, node) {
		bool run, cont;
		should_run(s->ds, node, &run, &cont);
		n += run;
	}
	return n;
}

/* rollingUpdate (maxSurge 0: delete old within maxUnavailable; else add new within surge). */
static int
rolling_update(struct dsync *s, korch_error **err)
{
	int64_t want = desired(s);
	int64_t max_surge = 0, max_unavailable = 1;
	const json_t *ru = jp_get(s->ds, "spec.updateStrategy.rollingUpdate");
	if (json_object_get(ru, "maxSurge"))
		int_or_percent(json_object_get(ru, "maxSurge"), want, true, &max_surge, NULL);
	if (json_object_get(ru, "maxUnavailable"))
		int_or_percent(json_object_get(ru, "maxUnavailable"), want, true, &max_unavailable,
			       NULL);
	if (max_surge == 0 && max_unavailable == 0)
		max_unavailable = 1;
	int64_t min_ready = jp_int(s->ds, "spec.minReadySeconds", 0);
	int64_t unavailable = 0;
	_cleanup_json_ json_t *allowed = json_array(), *candidates = json_array();
	_cleanup_json_ json_t *surge_nodes = json_array();
	const char *node;
	json_t *pods;
	json_object_foreach (s->by_node, node, pods) {
		json_t *new_pod = NULL, *old_pod = NULL;
		bool multiple = false;
		size_t i;
		json_t *pod;
		json_array_foreach (pods, i, pod) {
			if (jp_get(pod, "metadata.deletionTimestamp"))
				continue;
			json_t **slot = pod_updated_to(pod, s->hash) ? &new_pod : &old_pod;
			if (*slot)
				multiple = true;
			*slot = pod;
		}
		if (multiple && max_surge == 0) {
			unavailable++;
			continue;
		}
		if ((!old_pod && !new_pod) || (old_pod && new_pod && max_surge == 0)) {
			unavailable++;
		} else if (new_pod && !old_pod) {
			if (!pod_available(new_pod, min_ready, s->now, NULL))
				unavailable++;
		} else if (old_pod && new_pod) {
			/* Surge: the old one goes once the new one is available. */
			if (pod_available(new_pod, min_ready, s->now, NULL))
				json_array_append(allowed, old_pod);
		} else if (!pod_available(old_pod, min_ready, s->now, NULL)) {
			json_array_append(allowed, old_pod);
		} else if (max_surge > 0) {
			json_array_append_new(surge_nodes, json_string(node));
		} else if (unavailable < max_unavailable) {
			json_array_append(candidates, old_pod);
		}
	}
	if (max_surge > 0) {
		/* New pods beside old ones, at most maxSurge at a time. */
		int64_t room = max_surge - (int64_t)json_array_size(allowed);
		_cleanup_json_ json_t *create = json_array();
		for (size_t i = 0; i < json_array_size(surge_nodes) && room > 0; i++, room--)
			json_array_append(create, json_array_get(surge_nodes, i));
		return sync_nodes(s, allowed, create, err);
	}
	int64_t remaining = MAX(0, max_unavailable - unavailable);
	remaining = MIN(remaining, (int64_t)json_array_size(candidates));
	for (int64_t i = 0; i < remaining; i++)
		json_array_append(allowed, json_array_get(candidates, (size_t)i));
	_cleanup_json_ json_t *none = json_array();
	return sync_nodes(s, allowed, none, err);
}

static json_t *
compute_status(struct dsync *s)
{
	int64_t desired_n = 0, current = 0, mis = 0, ready = 0, available = 0, updated = 0;
	int64_t min_ready = jp_int(s->ds, "spec.minReadySeconds", 0);
	size_t i;
	json_t *node;
	json_array_foreach (s->nodes, i, node) {
		bool run, cont;
		should_run(s->ds, node, &run, &cont);
		json_t *pods = json_object_get(s->by_node, jp_str0(node, "metadata.name"));
		bool scheduled = json_array_size(pods) > 0;
		if (!run) {
			mis += scheduled;
			continue;
		}
		desired_n++;
		if (!scheduled)
			continue;
		current++;
		sort_pods(pods);
		json_t *pod = json_array_get(pods, 0);
		if (pod_ready(pod)) {
			ready++;
			if (pod_available(pod, min_ready, s->now, NULL))
				available++;
		}
		if (pod_updated_to(pod, s->hash))
			updated++;
	}
	json_t *st =
		json_pack("{s:I, s:I, s:I, s:I}", "currentNumberScheduled", (json_int_t)current,
			  "numberMisscheduled", (json_int_t)mis, "desiredNumberScheduled",
			  (json_int_t)desired_n, "numberReady", (json_int_t)ready);
	int64_t gen = jp_int(s->ds, "metadata.generation", 0);
	if (gen)
		json_object_set_new(st, "observedGeneration", json_integer(gen));
	if (updated)
		json_object_set_new(st, "updatedNumberScheduled", json_integer(updated));
	if (available)
		json_object_set_new(st, "numberAvailable", json_integer(available));
	if (desired_n - available)
		json_object_set_new(st, "numberUnavailable", json_integer(desired_n - available));
	const json_t *cc = jp_get(s->ds, "status.collisionCount");
	if (cc)
		json_object_set(st, "collisionCount", (json_t *)cc);
	return st;
}

static int
sync_ds(struct dsync *s, korch_error **err)
{
	struct ctrl *ctl = s->ctl;
	struct ds_ctrl *st = state(ctl);
	bool satisfied = expectations_satisfied(st->exp, s->key, cm_now(ctl->cm));
	s->nodes = json_array();
	informer_foreach(st->nodes, collect, s->nodes);
	struct label_selector *sel = NULL;
	int r = workload_selector(s->ds, false, &sel, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *candidates = json_array(), *claimed = NULL;
	cm_foreach_claimable(ctl->cm, st->pods, jp_str(s->ds, "metadata.namespace"),
			     jp_str0(s->ds, "metadata.uid"), sel, collect, candidates);
	r = claim_objects(ctl, s->ds, K_DS, K_POD, sel, candidates, &claimed, err);
	label_selector_free(sel);
	if (r < 0)
		return r;
	s->by_node = json_object();
	size_t i;
	json_t *pod;
	json_array_foreach (claimed, i, pod) {
		const char *node = target_node(pod);
		if (!node)
			continue;
		json_t *list = json_object_get(s->by_node, node);
		if (!list) {
			list = json_array();
			json_object_set_new(s->by_node, node, list);
		}
		json_array_append(list, pod);
	}
	_cleanup_json_ json_t *revisions = NULL, *update_rev = NULL;
	if ((r = history_list(ctl, st->revisions, s->ds, K_DS, &revisions, err)) < 0)
		return r;
	int64_t collisions = jp_int(s->ds, "status.collisionCount", -1);
	if ((r = history_update_revision(ctl, s->ds, K_DS, revisions, &collisions, &update_rev,
					 err)) < 0)
		return r;
	if (collisions >= 0)
		json_object_set_new(jp_obj(s->ds, "status"), "collisionCount",
				    json_integer(collisions));
	snprintf(s->hash, sizeof(s->hash), "%s",
		 json_string_value(json_object_get(jp_get(update_rev, "metadata.labels"),
						   "controller.kubernetes.io/hash"))
			 ?: "");
	if (satisfied && !jp_get(s->ds, "metadata.deletionTimestamp")) {
		if ((r = manage(s, err)) < 0)
			return r;
		/* Updates only once manage has nothing in flight (updateDaemonSet). */
		if (expectations_satisfied(st->exp, s->key, cm_now(ctl->cm)) &&
		    !streq(jp_str(s->ds, "spec.updateStrategy.type"), "OnDelete") &&
		    (r = rolling_update(s, err)) < 0)
			return r;
	}
	_cleanup_json_ json_t *status = compute_status(s);
	if (!json_equal(status, jp_get(s->ds, "status") ?: json_null())) {
		json_object_set(s->ds, "status", status);
		korch_error *e = NULL;
		r = cm_update(ctl, s->ds, "status", NULL, &e);
		if (r == KORCH_ENOTFOUND) {
			korch_error_free(e);
			return 0;
		}
		if (r < 0)
			return error_propagate(err, &e, r);
	}
	/* History: live are the update revision and the ones pods still run. */
	_cleanup_json_ json_t *live = json_pack("[s]", jp_str0(update_rev, "metadata.name"));
	json_array_foreach (revisions, i, pod) {
		const char *h = json_string_value(json_object_get(jp_get(pod, "metadata.labels"),
								  "controller.kubernetes.io/hash"));
		size_t j;
		json_t *p;
		json_array_foreach (claimed, j, p)
			if (h && pod_updated_to(p, h))
				json_array_append_new(live,
						      json_string(jp_str0(pod, "metadata.name")));
	}
	r = history_truncate(ctl, revisions, live, jp_int(s->ds, "spec.revisionHistoryLimit", 10),
			     err);
	/* minReadySeconds: look again when pods become available. */
	int64_t min_ready = jp_int(s->ds, "spec.minReadySeconds", 0);
	if (min_ready > 0 &&
	    jp_int(status, "numberReady", 0) != jp_int(status, "numberAvailable", 0))
		ctrl_enqueue_after(ctl, s->key, min_ready * NSEC_PER_SEC);
	return r;
}

static int
ds_sync(struct ctrl *ctl, const char *key)
{
	struct ds_ctrl *st = state(ctl);
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *cached = informer_get(st->dss, ns, name);
	if (!cached) {
		expectations_delete(st->exp, key);
		return 0;
	}
	struct dsync s = {
		.ctl = ctl, .key = key, .ds = json_deep_copy(cached), .now = cm_wall(ctl->cm)
	};
	korch_error *e = NULL;
	int r = sync_ds(&s, &e);
	json_decref(s.ds);
	json_decref(s.nodes);
	json_decref(s.by_node);
	return ctrl_sync_end(ctl, key, r, e);
}

const struct ctrl_ops daemonset_ops = {
	.name = "daemonset",
	.component = "daemonset-controller",
	.init = ds_init,
	.sync = ds_sync,
	.fini = ds_fini,
};
