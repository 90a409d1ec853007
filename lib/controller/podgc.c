/*
 * podgc.c - the pod garbage collector (Kubernetes' pkg/controller/podgc), every 20 s:
 *   - pods bound to a node that no longer exists (absent from the cache, then confirmed absent
 *     from the store after a 40 s quarantine) are marked Failed with a DisruptionTarget
 *     condition (DeletionByPodGC, "PodGC: node no longer exists") and deleted at once;
 *   - pods being deleted that were never scheduled are deleted at once (no kubelet will);
 *   - terminated pods (Succeeded, Failed) beyond 12,500 are deleted, oldest first
 *     (--terminated-pod-gc-threshold).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"

#define GC_KEY "podgc"
#define GC_PERIOD (20 * NSEC_PER_SEC)
#define QUARANTINE (40 * NSEC_PER_SEC)
#define TERMINATED_THRESHOLD 12500

struct podgc {
	struct informer *pods;  /* Pods */
	struct informer *nodes; /* Nodes */
	struct hashmap missing; /* node name -> monotonic ns + 1 it was first seen missing */
};

static struct podgc *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static int
gc_init(struct ctrl *ctl, korch_error **err)
{
	struct podgc *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->missing = (struct hashmap)HASHMAP_INIT;
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	s->nodes = cm_informer(ctl->cm, "v1", "Node");
	if (!s->pods || !s->nodes)
		return error_oom(err);
	ctrl_enqueue_key(ctl, GC_KEY);
	return 0;
}

static void
gc_fini(struct ctrl *ctl)
{
	struct podgc *s = state(ctl);
	if (!s)
		return;
	hashmap_free(&s->missing, NULL);
	free(s);
}

struct pass {
	struct ctrl *ctl;
	struct podgc *s;
	json_t *terminated;          /* terminated pods not being deleted */
	json_t *orphans;             /* pods on nodes gone for good */
	json_t *unscheduled;         /* being deleted, never scheduled */
	struct hashmap seen_missing; /* nodes found missing in this pass */
};

static void
classify(const json_t *pod, void *userdata)
{
	struct pass *p = userdata;
	const char *phase = jp_str0(pod, "status.phase");
	const char *node = jp_str0(pod, "spec.nodeName");
	bool deleting = jp_get(pod, "metadata.deletionTimestamp") != NULL;
	if ((streq(phase, "Succeeded") || streq(phase, "Failed")) && !deleting)
		json_array_append(p->terminated, (json_t *)pod);
	if (!*node) {
		if (deleting)
			json_array_append(p->unscheduled, (json_t *)pod);
		return;
	}
	if (informer_get(p->s->nodes, NULL, node))
		return;
	hashmap_put(&p->seen_missing, node, NULL, NULL);
	void *since = hashmap_get(&p->s->missing, node);
	if (!since) {
		hashmap_put(&p->s->missing, node, (void *)(uintptr_t)(cm_now(p->ctl->cm) + 1),
			    NULL);
		return;
	}
	if (cm_now(p->ctl->cm) - ((int64_t)(uintptr_t)since - 1) >= QUARANTINE)
		json_array_append(p->orphans, (json_t *)pod);
}

static int
by_creation(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(jp_str0(x, "metadata.creationTimestamp"),
		       jp_str0(y, "metadata.creationTimestamp"));
	return c ? c : strcmp(jp_str0(x, "metadata.name"), jp_str0(y, "metadata.name"));
}

static int
force_delete(struct ctrl *ctl, const json_t *pod)
{
	struct client_delete_opts now = { .grace_period_s = 0 };
	korch_error *e = NULL;
	int r = cm_delete(ctl, K_POD, jp_str(pod, "metadata.namespace"),
			  jp_str(pod, "metadata.name"), &now, &e);
	if (r < 0 && r != KORCH_ENOTFOUND)
		return ctrl_fail(ctl, jp_str0(pod, "metadata.name"), r, e);
	korch_error_free(e);
	return 0;
}

/* markFailedAndDeletePodWithCondition. */
static int
delete_orphan(struct ctrl *ctl, const json_t *pod)
{
	const char *phase = jp_str0(pod, "status.phase");
	if (!streq(phase, "Succeeded") && !streq(phase, "Failed")) {
		_cleanup_json_ json_t *copy = json_deep_copy(pod);
		if (!copy)
			return KORCH_ENOMEM;
		json_object_set_new(jp_obj(copy, "status"), "phase", json_string("Failed"));
		condition_set(copy, "DisruptionTarget", "True", "DeletionByPodGC",
			      "PodGC: node no longer exists", cm_wall(ctl->cm), false);
		korch_error *e = NULL;
		int r = cm_update(ctl, copy, "status", NULL, &e);
		if (r == KORCH_ENOTFOUND) {
			korch_error_free(e);
			return 0;
		}
		if (r < 0)
			return ctrl_fail(ctl, jp_str0(pod, "metadata.name"), r, e);
	}
	return force_delete(ctl, pod);
}

/* Whether the node is really gone (not only late in the cache). */
static bool
node_gone(struct ctrl *ctl, const char *name)
{
	korch_error *e = NULL;
	json_t *node = NULL;
	int r = client_get(cm_client(ctl->cm), K_NODE, NULL, name, &node, &e);
	json_decref(node);
	korch_error_free(e);
	return r == KORCH_ENOTFOUND;
}

static int
gc_sync(struct ctrl *ctl, const char *key)
{
	struct podgc *s = state(ctl);
	struct pass p = { ctl, s, json_array(), json_array(), json_array(), HASHMAP_INIT };
	int failures = 0;
	informer_foreach(s->pods, classify, &p);
	/* Nodes no pod is on any more, or back, are forgotten. */
	size_t iter = 0;
	const char *name;
	json_t *forget = json_array();
	while (hashmap_next(&s->missing, &iter, &name, NULL))
		if (!hashmap_contains(&p.seen_missing, name))
			json_array_append_new(forget, json_string(name));
	size_t i;
	json_t *v;
	json_array_foreach (forget, i, v)
		hashmap_remove(&s->missing, json_string_value(v));
	json_decref(forget);
	/* Terminated pods over the threshold, oldest first. */
	size_t n = json_array_size(p.terminated);
	if (n > TERMINATED_THRESHOLD) {
		json_t **list = calloc(n, sizeof(*list));
		if (list) {
			for (i = 0; i < n; i++)
				list[i] = json_array_get(p.terminated, i);
			qsort(list, n, sizeof(*list), by_creation);
			for (i = 0; i < n - TERMINATED_THRESHOLD; i++)
				failures += force_delete(ctl, list[i]) < 0;
			free(list);
		}
	}
	/* Orphans, once the store confirms their node is gone. */
	struct hashmap checked = HASHMAP_INIT; /* node -> (void *)1 gone, (void *)2 there */
	json_array_foreach (p.orphans, i, v) {
		const char *node = jp_str0(v, "spec.nodeName");
		uintptr_t verdict = (uintptr_t)hashmap_get(&checked, node);
		if (!verdict) {
			verdict = node_gone(ctl, node) ? 1 : 2;
			hashmap_put(&checked, node, (void *)verdict, NULL);
			if (verdict == 2)
				hashmap_remove(&s->missing, node);
		}
		if (verdict == 1)
			failures += delete_orphan(ctl, v) < 0;
	}
	hashmap_free(&checked, NULL);
	json_array_foreach (p.unscheduled, i, v)
		failures += force_delete(ctl, v) < 0;
	json_decref(p.terminated);
	json_decref(p.orphans);
	json_decref(p.unscheduled);
	hashmap_free(&p.seen_missing, NULL);
	ctrl_enqueue_after(ctl, key, GC_PERIOD);
	return failures ? KORCH_EBUSY : 0;
}

const struct ctrl_ops podgc_ops = {
	.name = "podgc",
	.component = "pod-garbage-collector",
	.init = gc_init,
	.sync = gc_sync,
	.fini = gc_fini,
};
