/*
 * nodelifecycle.c - the node lifecycle controller and the node IPAM controller (Kubernetes'
 * pkg/controller/nodelifecycle and pkg/controller/nodeipam's range allocator).
 *
 * Node health: a node is heard from when its status changes or its Lease in kube-node-lease is
 * renewed (the time this controller sees it, as probeTimestamp). A node not heard from for
 * node_monitor_grace_ns (40 s; 60 s for a node that never posted a Ready condition) gets its
 * Ready, MemoryPressure, DiskPressure and PIDPressure conditions set to Unknown ("Kubelet
 * stopped posting node status."), a NodeNotReady event, and its pods' Ready conditions set to
 * False. Taints follow the conditions: node.kubernetes.io/unreachable (Ready Unknown) or
 * not-ready (Ready False) as NoExecute taints with timeAdded, which the taint eviction
 * controller acts on, and the NoSchedule taints of every condition (not-ready, unreachable,
 * memory-pressure, disk-pressure, pid-pressure, network-unavailable) and of
 * spec.unschedulable, which the scheduler honours. Taints of other keys are left alone.
 * Kubernetes rate-limits NoExecute tainting per zone (0.1 node/s); here every node is tainted
 * as soon as it is seen unhealthy.
 *
 * IPAM: every node without spec.podCIDR gets the first free /node_cidr_mask_size of
 * cluster_cidr (10.244.0.0/16 in /24s by default), as spec.podCIDR and spec.podCIDRs; CIDRs of
 * existing nodes (set by this controller or by the node agent) are never handed out again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"
#include "net/addr.h"

/* --node-startup-grace-period: for a node that never posted a Ready condition. */
#define NODE_STARTUP_GRACE (60 * NSEC_PER_SEC)

#define TAINT_NOT_READY "node.kubernetes.io/not-ready"
#define TAINT_UNREACHABLE "node.kubernetes.io/unreachable"
#define TAINT_UNSCHEDULABLE "node.kubernetes.io/unschedulable"

/* The conditions the controller sets to Unknown (nodeConditionTypes). */
static const char *const health_conditions[] = { "Ready", "MemoryPressure", "DiskPressure",
						 "PIDPressure" };

/* nodeConditionToTaintKeyStatusMap: the NoSchedule taint of a condition in a status. */
static const struct {
	const char *condition;
	const char *status;
	const char *taint;
} condition_taints[] = {
	{ "Ready", "False", TAINT_NOT_READY },
	{ "Ready", "Unknown", TAINT_UNREACHABLE },
	{ "MemoryPressure", "True", "node.kubernetes.io/memory-pressure" },
	{ "DiskPressure", "True", "node.kubernetes.io/disk-pressure" },
	{ "NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable" },
	{ "PIDPressure", "True", "node.kubernetes.io/pid-pressure" },
};

struct node_health {
	int64_t probe_ns; /* monotonic: when the node was last heard from */
	char *status;     /* compact JSON of its status as last seen or written */
	char *renew;      /* its Lease's renewTime as last seen, or NULL */
};

struct nl_ctrl {
	struct informer *nodes;  /* Nodes */
	struct informer *leases; /* Leases (those in kube-node-lease matter) */
	struct informer *pods;   /* Pods */
	struct hashmap health;   /* node name -> struct node_health * */
};

static struct nl_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static void
health_free(void *p)
{
	struct node_health *h = p;
	if (!h)
		return;
	free(h->status);
	free(h->renew);
	free(h);
}

static void
lease_event(const json_t *lease, void *userdata)
{
	if (streq(jp_str(lease, "metadata.namespace"), "kube-node-lease"))
		ctrl_enqueue_key(userdata, jp_str0(lease, "metadata.name"));
}

static void
lease_updated(const json_t *old, const json_t *lease, void *userdata)
{
	lease_event(lease, userdata);
}

static int
nl_init(struct ctrl *ctl, korch_error **err)
{
	struct nl_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->health = (struct hashmap)HASHMAP_INIT;
	s->nodes = ctrl_watch_primary(ctl, "v1", "Node");
	s->leases = cm_informer(ctl->cm, "coordination.k8s.io/v1", "Lease");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	if (!s->nodes || !s->leases || !s->pods)
		return error_oom(err);
	struct informer_handlers lh = { lease_event, lease_updated, NULL, ctl };
	return informer_add_handlers(s->leases, &lh, err);
}

static void
nl_fini(struct ctrl *ctl)
{
	struct nl_ctrl *s = state(ctl);
	if (!s)
		return;
	hashmap_free(&s->health, health_free);
	free(s);
}

/* Events about a node name it by its name as uid, as kubelet and kubectl describe do. */
static void
node_event(struct ctrl *ctl, const json_t *node, const char *type, const char *reason,
	   const char *message)
{
	_cleanup_json_ json_t *ref = json_pack(
		"{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Node", "metadata", "name",
		jp_str0(node, "metadata.name"), "uid", jp_str0(node, "metadata.name"));
	if (ref)
		cm_event(ctl, ref, type, reason, "%s", message);
}

static json_t *
find_condition(json_t *conds, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c)
		if (streq(jp_str(c, "type"), type))
			return c;
	return NULL;
}

/*
 * Sets the health conditions of a node not heard from to Unknown (tryUpdateNodeHealth).
 * Returns whether anything changed.
 */
static bool
mark_unknown(json_t *node, const char *now)
{
	json_t *status = jp_obj(node, "status");
	json_t *conds = json_object_get(status, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(status, "conditions", conds);
	}
	const char *created = jp_str0(node, "metadata.creationTimestamp");
	bool changed = false;
	for (size_t i = 0; i < ARRAY_SIZE(health_conditions); i++) {
		json_t *c = find_condition(conds, health_conditions[i]);
		if (!c) {
			json_array_append_new(
				conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type",
						 health_conditions[i], "status", "Unknown",
						 "lastHeartbeatTime", created, "lastTransitionTime",
						 now, "reason", "NodeStatusNeverUpdated", "message",
						 "Kubelet never posted node status."));
			changed = true;
		} else if (!streq(jp_str(c, "status"), "Unknown")) {
			json_object_set_new(c, "status", json_string("Unknown"));
			json_object_set_new(c, "reason", json_string("NodeStatusUnknown"));
			json_object_set_new(c, "message",
					    json_string("Kubelet stopped posting node status."));
			json_object_set_new(c, "lastTransitionTime", json_string(now));
			changed = true;
		}
	}
	return changed;
}

static const char *
condition_status(const json_t *node, const char *type)
{
	return jp_str(condition_get(node, type), "status");
}

static bool
has_taint(const json_t *taints, const char *key, const char *effect)
{
	size_t i;
	json_t *t;
	json_array_foreach (taints, i, t)
		if (streq(jp_str(t, "key"), key) && streq(jp_str(t, "effect"), effect))
			return true;
	return false;
}

/* Whether key is one of the taints this controller manages with effect. */
static bool
managed_taint(const char *key, const char *effect)
{
	if (streq(effect, "NoExecute"))
		return streq(key, TAINT_NOT_READY) || streq(key, TAINT_UNREACHABLE);
	if (!streq(effect, "NoSchedule"))
		return false;
	if (streq(key, TAINT_UNSCHEDULABLE))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(condition_taints); i++)
		if (streq(key, condition_taints[i].taint))
			return true;
	return false;
}

/*
 * The taints the node should have: its own taints of other keys in their order, the managed
 * ones it should keep, then the ones to add (NoExecute ones with timeAdded now). NULL when
 * nothing changes.
 */
static json_t *
wanted_taints(const json_t *node, const char *now)
{
	const json_t *taints = jp_get(node, "spec.taints");
	_cleanup_json_ json_t *want = json_array(); /* {key, effect} wanted */
	const char *ready = condition_status(node, "Ready");
	if (streq(ready, "False"))
		json_array_append_new(want, json_pack("{s:s, s:s}", "key", TAINT_NOT_READY,
						      "effect", "NoExecute"));
	else if (streq(ready, "Unknown"))
		json_array_append_new(want, json_pack("{s:s, s:s}", "key", TAINT_UNREACHABLE,
						      "effect", "NoExecute"));
	for (size_t i = 0; i < ARRAY_SIZE(condition_taints); i++)
		if (streq(condition_status(node, condition_taints[i].condition),
			  condition_taints[i].status))
			json_array_append_new(want, json_pack("{s:s, s:s}", "key",
							      condition_taints[i].taint, "effect",
							      "NoSchedule"));
	if (jp_true(node, "spec.unschedulable"))
		json_array_append_new(want, json_pack("{s:s, s:s}", "key", TAINT_UNSCHEDULABLE,
						      "effect", "NoSchedule"));
	json_t *next = json_array();
	bool changed = false;
	size_t i;
	json_t *t;
	json_array_foreach (taints, i, t) {
		const char *key = jp_str0(t, "key"), *effect = jp_str0(t, "effect");
		if (managed_taint(key, effect) && !has_taint(want, key, effect)) {
			changed = true;
			continue;
		}
		json_array_append(next, t);
	}
	json_array_foreach (want, i, t) {
		const char *key = jp_str0(t, "key"), *effect = jp_str0(t, "effect");
		if (has_taint(taints, key, effect))
			continue;
		json_t *taint = json_pack("{s:s, s:s}", "key", key, "effect", effect);
		if (streq(effect, "NoExecute"))
			json_object_set_new(taint, "timeAdded", json_string(now));
		json_array_append_new(next, taint);
		changed = true;
	}
	if (!changed) {
		json_decref(next);
		return NULL;
	}
	return next;
}

struct not_ready {
	struct ctrl *ctl;
	const char *node;
	const char *now;
	int failures;
};

/* MarkPodsNotReady: the Ready condition of each pod on the node goes False. */
static void
mark_pod_not_ready(const json_t *pod, void *userdata)
{
	struct not_ready *nr = userdata;
	if (!streq(jp_str(pod, "spec.nodeName"), nr->node))
		return;
	const json_t *ready = condition_get(pod, "Ready");
	if (!ready || streq(jp_str(ready, "status"), "False"))
		return;
	_cleanup_json_ json_t *copy = json_deep_copy(pod);
	json_t *cond =
		find_condition(json_object_get(jp_obj(copy, "status"), "conditions"), "Ready");
	json_object_set_new(cond, "status", json_string("False"));
	json_object_set_new(cond, "lastTransitionTime", json_string(nr->now));
	korch_error *e = NULL;
	int r = cm_update(nr->ctl, copy, "status", NULL, &e);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		return;
	}
	if (r < 0) {
		nr->failures++;
		ctrl_fail(nr->ctl, jp_str0(pod, "metadata.name"), r, e);
		return;
	}
	cm_event(nr->ctl, pod, "Warning", "NodeNotReady", "Node is not ready");
}

static char *
status_text(const json_t *node)
{
	const json_t *status = jp_get(node, "status");
	return status ? json_dumps(status, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
}

static int
nl_sync(struct ctrl *ctl, const char *key)
{
	struct nl_ctrl *s = state(ctl);
	const json_t *cached = informer_get(s->nodes, NULL, key);
	struct node_health *h = hashmap_get(&s->health, key);
	if (!cached) {
		if (h) {
			_cleanup_json_ json_t *ref =
				json_pack("{s:{s:s}}", "metadata", "name", key);
			char msg[600];
			snprintf(msg, sizeof(msg),
				 "Node %s event: Removing Node %s from Controller", key, key);
			node_event(ctl, ref, "Normal", "RemovingNode", msg);
			health_free(hashmap_remove(&s->health, key));
		}
		return 0;
	}
	const struct controller_manager_options *o = cm_options(ctl->cm);
	int64_t now = cm_now(ctl->cm);
	char now_text[32];
	time_text(cm_wall(ctl->cm), now_text);
	_cleanup_free_ char *status = status_text(cached);
	const json_t *lease = informer_get(s->leases, "kube-node-lease", key);
	const char *renew = jp_str(lease, "spec.renewTime");
	if (!h) {
		if (!(h = calloc(1, sizeof(*h))) || hashmap_put(&s->health, key, h, NULL) < 0) {
			free(h);
			return KORCH_ENOMEM;
		}
		h->probe_ns = now;
		h->status = strdup(status);
		h->renew = renew ? strdup(renew) : NULL;
		char msg[600];
		snprintf(msg, sizeof(msg), "Node %s event: Registered Node %s in Controller", key,
			 key);
		node_event(ctl, cached, "Normal", "RegisteredNode", msg);
	} else {
		if (!streq(h->status, status)) {
			free(h->status);
			h->status = strdup(status);
			h->probe_ns = now;
		}
		if (renew && !streq(h->renew, renew)) {
			free(h->renew);
			h->renew = strdup(renew);
			h->probe_ns = now;
		}
	}
	_cleanup_json_ json_t *node = json_deep_copy(cached);
	if (!node)
		return KORCH_ENOMEM;
	const char *observed_ready = condition_status(node, "Ready");
	bool was_ready = streq(observed_ready, "True");
	int64_t grace = observed_ready ? o->node_monitor_grace_ns : NODE_STARTUP_GRACE;
	if (now - h->probe_ns > grace) {
		if (mark_unknown(node, now_text)) {
			korch_error *e = NULL;
			json_t *stored = NULL;
			int r = cm_update(ctl, node, "status", &stored, &e);
			if (r < 0)
				return r == KORCH_ENOTFOUND ? 0 : ctrl_fail(ctl, key, r, e);
			json_decref(node);
			node = stored;
			free(h->status);
			h->status = status_text(node);
			if (was_ready) {
				char msg[600];
				snprintf(msg, sizeof(msg), "Node %s status is now: NodeNotReady",
					 key);
				node_event(ctl, node, "Normal", "NodeNotReady", msg);
				struct not_ready nr = { ctl, key, now_text, 0 };
				informer_foreach(s->pods, mark_pod_not_ready, &nr);
				if (nr.failures)
					return KORCH_EBUSY;
			}
		}
	} else {
		ctrl_enqueue_after(ctl, key, h->probe_ns + grace - now + 1);
	}
	_cleanup_json_ json_t *taints = wanted_taints(node, now_text);
	if (taints) {
		json_object_set(jp_obj(node, "spec"), "taints", taints);
		korch_error *e = NULL;
		int r = cm_update(ctl, node, NULL, NULL, &e);
		if (r < 0)
			return r == KORCH_ENOTFOUND ? 0 : ctrl_fail(ctl, key, r, e);
	}
	return 0;
}

const struct ctrl_ops nodelifecycle_ops = {
	.name = "nodelifecycle",
	.component = "node-controller",
	.init = nl_init,
	.sync = nl_sync,
	.fini = nl_fini,
};

/* ---- IPAM ---- */

struct ipam_ctrl {
	struct informer *nodes;  /* Nodes */
	struct net_cidr cluster; /* cluster_cidr */
	int mask;                /* node_cidr_mask_size */
	uint32_t count;          /* subnets in cluster */
	uint32_t next;           /* where the next search starts (cidrset's nextCandidate) */
	uint8_t *used;           /* a byte per subnet */
	struct hashmap pending;  /* node name -> subnet index + 1 written, not seen yet */
};

static struct ipam_ctrl *
ipam_state(struct ctrl *ctl)
{
	return ctl->data;
}

static int
ipam_init(struct ctrl *ctl, korch_error **err)
{
	const struct controller_manager_options *o = cm_options(ctl->cm);
	struct ipam_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->pending = (struct hashmap)HASHMAP_INIT;
	int r = cidr_parse(o->cluster_cidr ? o->cluster_cidr : "10.244.0.0/16", &s->cluster, err);
	if (r < 0)
		return r;
	s->mask = o->node_cidr_mask_size;
	if (s->mask < s->cluster.prefix || s->mask > 30 || s->mask - s->cluster.prefix > 20)
		return error_set(err, KORCH_EINVALID,
				 "node CIDR mask size /%d does not fit the cluster CIDR %s",
				 s->mask, o->cluster_cidr ? o->cluster_cidr : "10.244.0.0/16");
	s->count = 1u << (s->mask - s->cluster.prefix);
	if (!(s->used = calloc(s->count, 1)))
		return error_oom(err);
	s->nodes = ctrl_watch_primary(ctl, "v1", "Node");
	return s->nodes ? 0 : error_oom(err);
}

static void
ipam_fini(struct ctrl *ctl)
{
	struct ipam_ctrl *s = ipam_state(ctl);
	if (!s)
		return;
	hashmap_free(&s->pending, NULL);
	free(s->used);
	free(s);
}

/* The subnet index of a CIDR text, or -1 when it is not one of the cluster's subnets. */
static int64_t
subnet_index(const struct ipam_ctrl *s, const char *text)
{
	struct net_cidr c;
	if (!text || cidr_parse(text, &c, NULL) < 0 || c.prefix != s->mask ||
	    !cidr_contains(&s->cluster, c.base))
		return -1;
	return (c.base - s->cluster.base) >> (32 - s->mask);
}

static void
occupy(const json_t *node, void *userdata)
{
	struct ipam_ctrl *s = userdata;
	int64_t i = subnet_index(s, jp_str(node, "spec.podCIDR"));
	if (i >= 0)
		s->used[i] = 1;
}

static int
ipam_sync(struct ctrl *ctl, const char *key)
{
	struct ipam_ctrl *s = ipam_state(ctl);
	const json_t *node = informer_get(s->nodes, NULL, key);
	if (!node || *jp_str0(node, "spec.podCIDR")) {
		hashmap_remove(&s->pending, key);
		return 0;
	}
	if (hashmap_contains(&s->pending, key))
		return 0; /* written; the informer has not shown it yet */
	memset(s->used, 0, s->count);
	informer_foreach(s->nodes, occupy, s);
	size_t iter = 0;
	void *v;
	while (hashmap_next(&s->pending, &iter, NULL, &v))
		s->used[(uintptr_t)v - 1] = 1;
	int64_t found = -1;
	for (uint32_t n = 0; n < s->count; n++) {
		uint32_t i = (s->next + n) % s->count;
		if (!s->used[i]) {
			found = i;
			break;
		}
	}
	if (found < 0) {
		char msg[600];
		snprintf(msg, sizeof(msg), "Node %s status is now: CIDRNotAvailable", key);
		node_event(ctl, node, "Normal", "CIDRNotAvailable", msg);
		return 0;
	}
	struct net_cidr c = { s->cluster.base + ((uint32_t)found << (32 - s->mask)), s->mask };
	char text[20];
	cidr_format(&c, text);
	_cleanup_json_ json_t *patch =
		json_pack("{s:{s:s, s:[s]}}", "spec", "podCIDR", text, "podCIDRs", text);
	korch_error *e = NULL;
	int r = cm_patch(ctl, K_NODE, NULL, key, CLIENT_PATCH_MERGE, patch, NULL, NULL, &e);
	if (r < 0)
		return r == KORCH_ENOTFOUND ? 0 : ctrl_fail(ctl, key, r, e);
	hashmap_put(&s->pending, key, (void *)(uintptr_t)(found + 1), NULL);
	s->next = (uint32_t)(found + 1) % s->count;
	return 0;
}

const struct ctrl_ops nodeipam_ops = {
	.name = "nodeipam",
	.component = "cidrAllocator",
	.init = ipam_init,
	.sync = ipam_sync,
	.fini = ipam_fini,
};
