/*
 * tainteviction.c - the taint eviction controller (Kubernetes' pkg/controller/tainteviction):
 * a pod bound to a node with NoExecute taints it does not all tolerate is deleted at once; one
 * that tolerates them all is deleted after the shortest tolerationSeconds among the tolerations
 * it uses, counted from when the controller saw the taints (never, when none of them has
 * tolerationSeconds). An eviction is cancelled ("Cancelling deletion of Pod ...") when the
 * taints go or the pod changes so that it tolerates them for ever. Evicting a pod records
 * TaintManagerEviction ("Marking for deletion Pod NS/NAME"), sets its DisruptionTarget condition
 * (DeletionByTaintManager) and deletes it with its own grace period.
 *
 * The write path gives new pods 300 s tolerations of node.kubernetes.io/not-ready and
 * unreachable (DefaultTolerationSeconds), so pods leave a lost node five minutes after the node
 * lifecycle controller taints it.
 *
 * Work queue keys: "NS/NAME" for a pod, "node:NAME" for a node whose NoExecute taints changed.
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

#define NODE_PREFIX "node:"

struct eviction {
	int64_t created_ns; /* monotonic: when it was scheduled */
	int64_t fire_ns;    /* when it fires */
	bool fired;         /* done: kept so that the pod is not deleted twice */
};

struct te_ctrl {
	struct informer *nodes;   /* Nodes */
	struct informer *pods;    /* Pods */
	struct hashmap evictions; /* pod key -> struct eviction * */
};

static struct te_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static bool
no_execute(const json_t *taint)
{
	return streq(jp_str(taint, "effect"), "NoExecute");
}

/* The node's NoExecute taints (a new array; empty when none or no node). */
static json_t *
no_execute_taints(const json_t *node)
{
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach (jp_get(node, "spec.taints"), i, t)
		if (no_execute(t))
			json_array_append(out, t);
	return out;
}

static void
enqueue_node(struct ctrl *ctl, const json_t *node)
{
	char key[300];
	snprintf(key, sizeof(key), NODE_PREFIX "%s", jp_str0(node, "metadata.name"));
	ctrl_enqueue_key(ctl, key);
}

static void
node_added(const json_t *node, void *userdata)
{
	_cleanup_json_ json_t *taints = no_execute_taints(node);
	if (json_array_size(taints))
		enqueue_node(userdata, node);
}

static void
node_updated(const json_t *old, const json_t *node, void *userdata)
{
	_cleanup_json_ json_t *a = no_execute_taints(old);
	_cleanup_json_ json_t *b = no_execute_taints(node);
	if (!json_equal(a, b))
		enqueue_node(userdata, node);
}

static void
node_deleted(const json_t *node, void *userdata)
{
	enqueue_node(userdata, node);
}

static void
pod_added(const json_t *pod, void *userdata)
{
	if (*jp_str0(pod, "spec.nodeName"))
		ctrl_enqueue(userdata, pod);
}

static bool
same(const json_t *a, const json_t *b)
{
	return a == b || (a && b && json_equal(a, b));
}

static void
pod_updated(const json_t *old, const json_t *pod, void *userdata)
{
	if (!*jp_str0(pod, "spec.nodeName"))
		return;
	if (streq(jp_str0(old, "spec.nodeName"), jp_str0(pod, "spec.nodeName")) &&
	    same(jp_get(old, "spec.tolerations"), jp_get(pod, "spec.tolerations")))
		return;
	ctrl_enqueue(userdata, pod);
}

static void
pod_deleted(const json_t *pod, void *userdata)
{
	ctrl_enqueue(userdata, pod);
}

static int
te_init(struct ctrl *ctl, korch_error **err)
{
	struct te_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->evictions = (struct hashmap)HASHMAP_INIT;
	s->nodes = cm_informer(ctl->cm, "v1", "Node");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	if (!s->nodes || !s->pods)
		return error_oom(err);
	struct informer_handlers nh = { node_added, node_updated, node_deleted, ctl };
	struct informer_handlers ph = { pod_added, pod_updated, pod_deleted, ctl };
	int hr;
	if ((hr = informer_add_handlers(s->nodes, &nh, err)) < 0 ||
	    (hr = informer_add_handlers(s->pods, &ph, err)) < 0)
		return hr;
	return 0;
}

static void
te_fini(struct ctrl *ctl)
{
	struct te_ctrl *s = state(ctl);
	if (!s)
		return;
	hashmap_free(&s->evictions, free);
	free(s);
}

/* cancelWorkWithEvent: the event only for an eviction still waiting. */
static void
cancel(struct ctrl *ctl, const char *key, const json_t *pod)
{
	struct eviction *ev = hashmap_remove(&state(ctl)->evictions, key);
	if (ev && !ev->fired) {
		_cleanup_json_ json_t *ref = NULL;
		if (!pod) {
			char *ns = NULL, *name = NULL;
			if (informer_split_key(key, &ns, &name) == 0)
				ref = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1",
						"kind", "Pod", "metadata", "namespace", ns, "name",
						name);
			free(ns);
			free(name);
			pod = ref;
		}
		if (pod)
			cm_event(ctl, pod, "Normal", "TaintManagerEviction",
				 "Cancelling deletion of Pod %s", key);
	}
	free(ev);
}

/*
 * GetMatchingTolerations and getMinTolerationTime: -2 when some taint is not tolerated, -1
 * for ever, else the shortest tolerationSeconds used (0 for any <= 0) in nanoseconds.
 */
static int64_t
toleration_time(const json_t *taints, const json_t *tolerations)
{
	int64_t min = INT64_MAX;
	bool any = false;
	size_t i, j;
	json_t *taint, *tol;
	json_array_foreach (taints, i, taint) {
		const json_t *used = NULL;
		json_array_foreach (tolerations, j, tol)
			if (toleration_tolerates(tol, taint)) {
				used = tol;
				break;
			}
		if (!used)
			return -2;
		any = true;
		const json_t *secs = json_object_get(used, "tolerationSeconds");
		if (!json_is_integer(secs))
			continue;
		int64_t s = json_integer_value(secs);
		if (s <= 0)
			return 0;
		min = MIN(min, s);
	}
	if (!any)
		return 0;
	if (min == INT64_MAX)
		return -1;
	return min > INT64_MAX / NSEC_PER_SEC ? INT64_MAX / 2 : min * NSEC_PER_SEC;
}

static int
evict(struct ctrl *ctl, const char *key, const json_t *pod)
{
	cm_event(ctl, pod, "Normal", "TaintManagerEviction", "Marking for deletion Pod %s", key);
	const json_t *dt = condition_get(pod, "DisruptionTarget");
	korch_error *e = NULL;
	int r;
	if (!dt || !streq(jp_str(dt, "status"), "True") ||
	    !streq(jp_str(dt, "reason"), "DeletionByTaintManager")) {
		_cleanup_json_ json_t *copy = json_deep_copy(pod);
		if (!copy)
			return KORCH_ENOMEM;
		condition_set(copy, "DisruptionTarget", "True", "DeletionByTaintManager",
			      "Taint manager: deleting due to NoExecute taint", cm_wall(ctl->cm),
			      false);
		r = cm_update(ctl, copy, "status", NULL, &e);
		if (r == KORCH_ENOTFOUND) {
			korch_error_free(e);
			return 0;
		}
		if (r < 0)
			return ctrl_fail(ctl, key, r, e);
	}
	r = cm_delete(ctl, K_POD, jp_str(pod, "metadata.namespace"), jp_str(pod, "metadata.name"),
		      NULL, &e);
	if (r < 0 && r != KORCH_ENOTFOUND)
		return ctrl_fail(ctl, key, r, e);
	korch_error_free(e);
	return 0;
}

/* processPodOnNode. */
static int
process_pod(struct ctrl *ctl, const char *key)
{
	struct te_ctrl *s = state(ctl);
	char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return 0;
	const json_t *pod = informer_get(s->pods, ns, name);
	free(ns);
	free(name);
	if (!pod) {
		cancel(ctl, key, NULL);
		return 0;
	}
	const char *node_name = jp_str0(pod, "spec.nodeName");
	if (!*node_name)
		return 0;
	_cleanup_json_ json_t *taints = no_execute_taints(informer_get(s->nodes, NULL, node_name));
	if (!json_array_size(taints)) {
		cancel(ctl, key, pod);
		return 0;
	}
	int64_t now = cm_now(ctl->cm);
	int64_t min = toleration_time(taints, jp_get(pod, "spec.tolerations"));
	struct eviction *ev = hashmap_get(&s->evictions, key);
	if (min == -1) {
		cancel(ctl, key, pod);
		return 0;
	}
	if (min == -2) {
		/* Not all tolerated: now (a fired eviction is not repeated). */
		if (ev && ev->fired)
			return 0;
		cancel(ctl, key, pod);
		min = 0;
		ev = NULL;
	}
	if (ev && ev->fired)
		return 0;
	if (ev && ev->created_ns >= now) {
		/* Scheduled this very instant: re-scheduled with the new time. */
		ev->fire_ns = ev->created_ns + min;
	} else if (!ev) {
		if (!(ev = calloc(1, sizeof(*ev))) ||
		    hashmap_put(&s->evictions, key, ev, NULL) < 0) {
			free(ev);
			return KORCH_ENOMEM;
		}
		ev->created_ns = now;
		ev->fire_ns = now + min;
	}
	if (now < ev->fire_ns) {
		ctrl_enqueue_after(ctl, key, ev->fire_ns - now);
		return 0;
	}
	if (jp_get(pod, "metadata.deletionTimestamp")) {
		ev->fired = true;
		return 0;
	}
	int r = evict(ctl, key, pod);
	if (r == 0)
		ev->fired = true;
	return r;
}

struct on_node {
	struct ctrl *ctl;
	const char *node;
	int failures;
};

static void
process_on_node(const json_t *pod, void *userdata)
{
	struct on_node *on = userdata;
	if (!streq(jp_str(pod, "spec.nodeName"), on->node))
		return;
	_cleanup_free_ char *key = object_key(pod);
	if (key && process_pod(on->ctl, key) < 0)
		on->failures++;
}

static int
te_sync(struct ctrl *ctl, const char *key)
{
	if (strncmp(key, NODE_PREFIX, strlen(NODE_PREFIX)) == 0) {
		struct on_node on = { ctl, key + strlen(NODE_PREFIX), 0 };
		informer_foreach(state(ctl)->pods, process_on_node, &on);
		return on.failures ? KORCH_EBUSY : 0;
	}
	return process_pod(ctl, key);
}

const struct ctrl_ops tainteviction_ops = {
	.name = "tainteviction",
	.component = "taint-eviction-controller",
	.init = te_init,
	.sync = te_sync,
	.fini = te_fini,
};
