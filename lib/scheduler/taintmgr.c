/*
 * taintmgr.c - NoExecute taint-based eviction (kube-controller-manager's taint eviction
 * controller): a pod bound to a node with NoExecute taints it does not all tolerate is deleted
 * at once; one that tolerates them all is deleted after the shortest tolerationSeconds of the
 * tolerations it uses (never, when one of them has none). Pending evictions are cancelled when
 * the taints go or the pod gets tolerations. One timer on the loop's clock serves them all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/loop.h"
#include "scheduler/sched-internal.h"

#define COMPONENT "taint-eviction-controller"

struct eviction {
	char *key;          /* the pod's "namespace/name" */
	int64_t created_ns; /* when the eviction was scheduled (monotonic) */
	int64_t fire_ns;    /* when it fires */
	uint32_t heap;      /* index in the heap */
};

struct taint_manager {
	struct scheduler *s;
	struct hashmap work;    /* pod key -> struct eviction * */
	struct eviction **heap; /* by fire_ns */
	uint32_t n, cap;
	struct loop_source *timer;
};

static void
swap(struct taint_manager *tm, uint32_t i, uint32_t j)
{
	struct eviction *t = tm->heap[i];
	tm->heap[i] = tm->heap[j];
	tm->heap[j] = t;
	tm->heap[i]->heap = i;
	tm->heap[j]->heap = j;
}

static void
sift(struct taint_manager *tm, uint32_t i)
{
	while (i > 0 && tm->heap[i]->fire_ns < tm->heap[(i - 1) / 2]->fire_ns) {
		swap(tm, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < tm->n && tm->heap[l]->fire_ns < tm->heap[m]->fire_ns)
			m = l;
		if (r < tm->n && tm->heap[r]->fire_ns < tm->heap[m]->fire_ns)
			m = r;
		if (m == i)
			return;
		swap(tm, i, m);
		i = m;
	}
}

static void
arm(struct taint_manager *tm)
{
	loop_timer_set(tm->timer, tm->n ? tm->heap[0]->fire_ns : -1);
}

static void
drop(struct taint_manager *tm, struct eviction *e)
{
	uint32_t i = e->heap;
	tm->n--;
	if (i != tm->n) {
		tm->heap[i] = tm->heap[tm->n];
		tm->heap[i]->heap = i;
		sift(tm, i);
	}
	hashmap_remove(&tm->work, e->key);
	free(e->key);
	free(e);
}

/* cancelWorkWithEvent. */
static void
cancel(struct taint_manager *tm, struct spod *p)
{
	struct eviction *e = hashmap_get(&tm->work, p->key);
	if (!e)
		return;
	drop(tm, e);
	arm(tm);
	char msg[600];
	snprintf(msg, sizeof(msg), "Cancelling deletion of Pod %s", p->key);
	record_legacy_event(tm->s, p, COMPONENT, "Normal", "TaintManagerEviction", msg);
}

static void
add_work(struct taint_manager *tm, struct spod *p, int64_t created, int64_t fire)
{
	struct eviction *e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(p->key))) {
		free(e);
		return;
	}
	if (tm->n == tm->cap) {
		uint32_t cap = tm->cap ? tm->cap * 2 : 16;
		struct eviction **h = realloc(tm->heap, cap * sizeof(*h));
		if (!h || hashmap_put(&tm->work, p->key, e, NULL) < 0) {
			if (h)
				tm->heap = h;
			free(e->key);
			free(e);
			return;
		}
		tm->heap = h;
		tm->cap = cap;
	} else if (hashmap_put(&tm->work, p->key, e, NULL) < 0) {
		free(e->key);
		free(e);
		return;
	}
	e->created_ns = created;
	e->fire_ns = fire;
	e->heap = tm->n;
	tm->heap[tm->n++] = e;
	sift(tm, e->heap);
	arm(tm);
}

/* processPodOnNode. */
static void
process(struct taint_manager *tm, struct spod *p, struct snode *n)
{
	int64_t now = korch_clock_now_ns(tm->s->clock);
	const struct taint *taints[64];
	uint32_t nt = 0;
	for (uint32_t i = 0; i < n->n_spec_taints && nt < ARRAY_SIZE(taints); i++)
		if (n->spec_taints[i].effect == EFFECT_NO_EXECUTE)
			taints[nt++] = &n->spec_taints[i];
	if (nt == 0) {
		cancel(tm, p);
		return;
	}
	/* GetMatchingTolerations: the first toleration of each taint; all must be tolerated. */
	bool forever = true, all = true;
	int64_t min_s = INT64_MAX;
	for (uint32_t i = 0; i < nt && all; i++) {
		const struct toleration *used = NULL;
		for (uint32_t k = 0; k < p->n_tols && !used; k++)
			if (tol_match(&p->tols[k], taints[i]))
				used = &p->tols[k];
		if (!used) {
			all = false;
			break;
		}
		if (used->has_seconds) {
			forever = false;
			min_s = MIN(min_s, used->seconds <= 0 ? 0 : used->seconds);
		}
	}
	if (!all) {
		cancel(tm, p);
		add_work(tm, p, now, now);
		return;
	}
	if (forever) {
		cancel(tm, p);
		return;
	}
	int64_t start = now, trigger = now + min_s * NSEC_PER_SEC;
	struct eviction *e = hashmap_get(&tm->work, p->key);
	if (e) {
		start = e->created_ns;
		if (start + min_s * NSEC_PER_SEC < trigger ||
		    e->fire_ns == start + min_s * NSEC_PER_SEC)
			return; /* the eviction already scheduled stands */
		cancel(tm, p);
	}
	add_work(tm, p, start, trigger);
}

/* A bound pod appeared or changed. */
void
taint_manager_pod(struct taint_manager *tm, struct spod *p)
{
	if (p->state != POD_BOUND || !p->on || p->deleting) {
		taint_manager_pod_gone(tm, p);
		return;
	}
	process(tm, p, p->on);
}

void
taint_manager_pod_gone(struct taint_manager *tm, struct spod *p)
{
	struct eviction *e = hashmap_get(&tm->work, p->key);
	if (e) {
		drop(tm, e);
		arm(tm);
	}
}

/* A node's taints may have changed: every pod bound to it is looked at again. */
void
taint_manager_node(struct taint_manager *tm, struct snode *n)
{
	for (uint32_t i = 0; i < n->n_pods; i++) {
		struct spod *p = n->pods[i];
		if (p->state == POD_BOUND && !p->deleting)
			process(tm, p, n);
	}
}

static void
on_timer(struct loop_source *src, void *userdata)
{
	struct taint_manager *tm = userdata;
	struct scheduler *s = tm->s;
	int64_t now = korch_clock_now_ns(s->clock);
	while (tm->n && tm->heap[0]->fire_ns <= now) {
		struct eviction *e = tm->heap[0];
		struct spod *p = cache_pod(s, e->key);
		drop(tm, e);
		if (!p || p->deleting)
			continue;
		char msg[600];
		snprintf(msg, sizeof(msg), "Marking for deletion Pod %s", p->key);
		record_legacy_event(s, p, COMPONENT, "Normal", "TaintManagerEviction", msg);
		if (patch_condition_and_delete(s, p, "DeletionByTaintManager",
					       "Taint manager: deleting due to NoExecute taint") ==
		    0)
			s->stats.evictions++;
	}
	arm(tm);
}

int
taint_manager_new(struct scheduler *s, struct taint_manager **ret, korch_error **err)
{
	struct taint_manager *tm = calloc(1, sizeof(*tm));
	if (!tm)
		return KORCH_ENOMEM;
	tm->s = s;
	int r = loop_add_timer(s->loop, -1, on_timer, tm, &tm->timer, err);
	if (r < 0) {
		free(tm);
		return r;
	}
	*ret = tm;
	return 0;
}

void
taint_manager_free(struct taint_manager *tm)
{
	if (!tm)
		return;
	while (tm->n)
		drop(tm, tm->heap[0]);
	free(tm->heap);
	hashmap_free(&tm->work, NULL);
	loop_source_free(tm->timer);
	free(tm);
}
