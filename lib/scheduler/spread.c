/*
 * spread.c - PodTopologySpread: the DoNotSchedule constraints as a filter (matching pods per
 * topology domain, skew against the global minimum, minDomains, nodeAffinityPolicy and
 * nodeTaintsPolicy), and the ScheduleAnyway constraints - or, for a pod without constraints,
 * the system defaults spreading the pods of its Services and controller over hostnames (skew 3)
 * and zones (skew 5) - as a score.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched-internal.h"

#define INVALID_SCORE (-1)
#define MAX_NODE_SCORE 100

/* ---- helpers ---- */

static bool
has_all_topologies(const struct snode *n, const struct tsc *cons, uint32_t nc)
{
	for (uint32_t i = 0; i < nc; i++)
		if (labels_get(&n->labels, cons[i].topo) == SID_NONE)
			return false;
	return true;
}

/* The same over the hard constraints a PreFilter state holds. */
static bool
has_hard_topologies(const struct snode *n, const struct spod *p, const struct spread_state *sp)
{
	for (uint32_t i = 0; i < sp->n; i++)
		if (labels_get(&n->labels, p->spread[sp->idx[i]].topo) == SID_NONE)
			return false;
	return true;
}

/* matchNodeInclusionPolicies. */
static bool
included(const struct scheduler *s, const struct tsc *c, const struct spod *p,
	 const struct snode *n)
{
	if (c->honor_affinity && !reqaff_match(&s->strs, &p->required, n))
		return false;
	if (c->honor_taints && snode_untolerated_taint(n, p->tols, p->n_tols))
		return false;
	return true;
}

/* countPodsMatchSelector: pods of ns on n, not being deleted, that sel matches. */
static int64_t
count_matching(const struct scheduler *s, const struct snode *n, const struct lsel *sel, sid ns)
{
	if (lsel_empty(sel))
		return 0;
	int64_t count = 0;
	for (uint32_t i = 0; i < n->n_pods; i++) {
		const struct spod *q = n->pods[i];
		if (q->deleting || q->ns != ns)
			continue;
		if (lsel_match(&s->strs, sel, &q->labels))
			count++;
	}
	return count;
}

static void
critical_update(struct critical *c, sid value, int64_t num)
{
	int i = value == c->value[0] ? 0 : value == c->value[1] ? 1 : -1;
	if (i >= 0) {
		c->num[i] = num;
		if (c->num[0] > c->num[1]) {
			struct critical t = { { c->value[1], c->value[0] },
					      { c->num[1], c->num[0] } };
			*c = t;
		}
	} else if (num < c->num[0]) {
		c->value[1] = c->value[0];
		c->num[1] = c->num[0];
		c->value[0] = value;
		c->num[0] = num;
	} else if (num < c->num[1]) {
		c->value[1] = value;
		c->num[1] = num;
	}
}

/* ---- filter ---- */

void
spread_state_clear(struct spread_state *sp)
{
	pairmap_free(&sp->counts);
	free(sp->idx);
	free(sp->domains);
	free(sp->crit);
	*sp = (struct spread_state){ 0 };
}

int
spread_state_copy(struct spread_state *dst, const struct spread_state *src)
{
	*dst = (struct spread_state){ .n = src->n };
	if (!src->n)
		return 0;
	dst->idx = malloc(src->n * sizeof(*dst->idx));
	dst->domains = malloc(src->n * sizeof(*dst->domains));
	dst->crit = malloc(src->n * sizeof(*dst->crit));
	if (!dst->idx || !dst->domains || !dst->crit ||
	    pairmap_copy(&dst->counts, &src->counts) < 0) {
		spread_state_clear(dst);
		return -1;
	}
	memcpy(dst->idx, src->idx, src->n * sizeof(*dst->idx));
	memcpy(dst->domains, src->domains, src->n * sizeof(*dst->domains));
	memcpy(dst->crit, src->crit, src->n * sizeof(*dst->crit));
	return 0;
}

struct crit_walk {
	struct spread_state *sp;
};

static void
crit_visit(sid key, sid value, int64_t count, void *ud)
{
	struct crit_walk *w = ud;
	critical_update(&w->sp->crit[key - 1], value, count);
}

/* calPreFilterState over every node: matching pods per (constraint, topology value). */
void
prefilter_spread(struct cycle *c, struct status *st)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	struct spread_state *sp = &c->spread;
	uint32_t hard = 0;
	for (uint32_t i = 0; i < p->n_spread; i++)
		hard += p->spread[i].hard;
	if (hard == 0) {
		/* No DoNotSchedule constraint (the system defaults are all ScheduleAnyway). */
		st->code = ST_SKIP;
		return;
	}
	sp->idx = malloc(hard * sizeof(*sp->idx));
	sp->domains = calloc(hard, sizeof(*sp->domains));
	sp->crit = malloc(hard * sizeof(*sp->crit));
	if (!sp->idx || !sp->domains || !sp->crit) {
		st->code = ST_ERROR;
		return;
	}
	for (uint32_t i = 0; i < p->n_spread; i++)
		if (p->spread[i].hard)
			sp->idx[sp->n++] = i;
	for (uint32_t i = 0; i < hard; i++)
		sp->crit[i] = (struct critical){ { SID_NONE, SID_NONE }, { INT32_MAX, INT32_MAX } };
	for (uint32_t ni = 0; ni < s->n_list; ni++) {
		struct snode *n = s->list[ni];
		if (!has_hard_topologies(n, p, sp))
			continue;
		for (uint32_t i = 0; i < hard; i++) {
			const struct tsc *con = &p->spread[sp->idx[i]];
			if (!included(s, con, p, n))
				continue;
			sid v = labels_get(&n->labels, con->topo);
			int64_t count = count_matching(s, n, &con->sel, p->ns);
			int r = pairmap_add(&sp->counts, i + 1, v, count);
			if (r < 0) {
				st->code = ST_ERROR;
				return;
			}
			sp->domains[i] += (uint32_t)r;
		}
	}
	struct crit_walk w = { sp };
	pairmap_foreach(&sp->counts, crit_visit, &w);
}

void
filter_spread(struct cycle *c, struct snode *n, struct status *st)
{
	struct scheduler *s = c->s;
	const struct spread_state *sp = &c->spread;
	for (uint32_t i = 0; i < sp->n; i++) {
		const struct tsc *con = &c->pod->spread[sp->idx[i]];
		sid v = labels_get(&n->labels, con->topo);
		if (v == SID_NONE) {
			st->code = ST_UNRESOLVABLE;
			st->reasons[st->n++] = R_SPREAD_LABEL;
			return;
		}
		int64_t min = sp->crit[i].num[0];
		if ((int64_t)sp->domains[i] < con->min_domains)
			min = 0;
		int64_t self = lsel_match(&s->strs, &con->sel, &c->pod->labels) ? 1 : 0;
		int64_t matching = pairmap_get(&sp->counts, i + 1, v);
		if (matching + self - min > con->max_skew) {
			st->code = ST_UNSCHED;
			st->reasons[st->n++] = R_SPREAD;
			return;
		}
	}
}

/* PreFilterExtensions: a pod added to (or removed from) n changes the counts. */
void
spread_add_pod(struct cycle *c, struct spod *q, struct snode *n, int sign)
{
	struct scheduler *s = c->s;
	struct spread_state *sp = &c->spread;
	if (!sp->n || q->ns != c->pod->ns || !has_hard_topologies(n, c->pod, sp))
		return;
	for (uint32_t i = 0; i < sp->n; i++) {
		const struct tsc *con = &c->pod->spread[sp->idx[i]];
		if (!lsel_match(&s->strs, &con->sel, &q->labels) || !included(s, con, c->pod, n))
			continue;
		sid v = labels_get(&n->labels, con->topo);
		int r = pairmap_add(&sp->counts, i + 1, v, sign);
		if (r > 0)
			sp->domains[i]++;
		critical_update(&sp->crit[i], v, pairmap_get(&sp->counts, i + 1, v));
	}
}

/* ---- score ---- */

/* The labels services and a controller select a pod with (helper.DefaultSelector). */
static int
default_selector(struct scheduler *s, const struct spod *p, struct lsel *ret)
{
	*ret = (struct lsel){ 0 };
	struct kv set[64];
	uint32_t n_set = 0;
	size_t iter = 0;
	struct svc_sel *svc;
	while (hashmap_next(&s->services, &iter, NULL, (void **)&svc)) {
		if (svc->ns != p->ns || !lsel_match(&s->strs, &svc->sel, &p->labels))
			continue;
		for (uint32_t i = 0; i < svc->sel.n && n_set < ARRAY_SIZE(set); i++) {
			struct kv kv = { svc->sel.reqs[i].key, svc->sel.reqs[i].vals[0] };
			uint32_t j = 0;
			while (j < n_set && set[j].k != kv.k)
				j++;
			set[j] = kv;
			if (j == n_set)
				n_set++;
		}
	}
	const struct svc_sel *owner = NULL;
	if (p->owner_kind == OWNER_RC || p->owner_kind == OWNER_RS || p->owner_kind == OWNER_SS) {
		static const char *const kinds[] = { [OWNER_RC] = "ReplicationController",
						     [OWNER_RS] = "ReplicaSet",
						     [OWNER_SS] = "StatefulSet" };
		char key[1024];
		snprintf(key, sizeof(key), "%s/%s", kinds[p->owner_kind],
			 intern_str(&s->strs, p->owner));
		owner = hashmap_get(&s->owners, key);
	}
	if (owner && owner->is_map) {
		for (uint32_t i = 0; i < owner->sel.n && n_set < ARRAY_SIZE(set); i++) {
			struct kv kv = { owner->sel.reqs[i].key, owner->sel.reqs[i].vals[0] };
			uint32_t j = 0;
			while (j < n_set && set[j].k != kv.k)
				j++;
			set[j] = kv;
			if (j == n_set)
				n_set++;
		}
	}
	uint32_t extra = owner && !owner->is_map ? owner->sel.n : 0;
	if (n_set + extra == 0)
		return 0;
	ret->reqs = calloc(n_set + extra, sizeof(*ret->reqs));
	if (!ret->reqs)
		return -1;
	for (uint32_t i = 0; i < n_set; i++) {
		struct req *r = &ret->reqs[ret->n];
		*r = (struct req){ .key = set[i].k, .op = OP_IN, .n = 1 };
		if (!(r->vals = malloc(sizeof(*r->vals))))
			return -1;
		r->vals[0] = set[i].v;
		intern_ref(&s->strs, set[i].k);
		intern_ref(&s->strs, set[i].v);
		ret->n++;
	}
	for (uint32_t i = 0; i < extra; i++) {
		const struct req *o = &owner->sel.reqs[i];
		struct req *r = &ret->reqs[ret->n];
		*r = *o;
		r->vals = o->n ? malloc(o->n * sizeof(*r->vals)) : NULL;
		if (o->n && !r->vals)
			return -1;
		if (o->n)
			memcpy(r->vals, o->vals, o->n * sizeof(*r->vals));
		intern_ref(&s->strs, r->key);
		for (uint32_t k = 0; k < r->n; k++)
			intern_ref(&s->strs, r->vals[k]);
		ret->n++;
	}
	return 0;
}

struct score_state {
	struct tsc cons[16]; /* the ScheduleAnyway constraints */
	uint32_t n;
	struct lsel def_sel; /* the default constraints' selector */
	bool require_all;    /* the pod's own constraints: nodes need every topology key */
	double weight[16];
	struct pairmap counts; /* (constraint + 1, value) -> matching pods (not hostname) */
};

/*
 * Score for PodTopologySpread: PreScore, Score and NormalizeScore in one. Returns 1 when the
 * plugin skips (no soft constraint), 0 with scores[] filled, -1 on error.
 */
int
score_spread(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *scores)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	struct score_state ss = { .n = 0 };
	int ret = -1;
	bool *ignored = NULL;
	if (p->n_spread > 0) {
		ss.require_all = true;
		for (uint32_t i = 0; i < p->n_spread && ss.n < ARRAY_SIZE(ss.cons); i++)
			if (!p->spread[i].hard)
				ss.cons[ss.n++] = p->spread[i];
	} else {
		if (default_selector(s, p, &ss.def_sel) < 0)
			goto out;
		if (ss.def_sel.n > 0) {
			ss.cons[0] = (struct tsc){ .max_skew = 3,
						   .topo = s->k_hostname,
						   .sel = ss.def_sel,
						   .min_domains = 1,
						   .honor_affinity = true };
			ss.cons[1] = (struct tsc){ .max_skew = 5,
						   .topo = s->k_zone,
						   .sel = ss.def_sel,
						   .min_domains = 1,
						   .honor_affinity = true };
			ss.n = 2;
		}
	}
	if (ss.n == 0 || s->n_list == 0) {
		ret = 1;
		goto out;
	}
	ignored = calloc(n, sizeof(*ignored));
	uint32_t topo_size[ARRAY_SIZE(ss.cons)] = { 0 };
	uint32_t n_ignored = 0;
	if (!ignored)
		goto out;
	/* initPreScoreState over the filtered nodes. */
	for (uint32_t k = 0; k < n; k++) {
		if (ss.require_all && !has_all_topologies(nodes[k], ss.cons, ss.n)) {
			ignored[k] = true;
			n_ignored++;
			continue;
		}
		for (uint32_t i = 0; i < ss.n; i++) {
			if (ss.cons[i].topo == s->k_hostname)
				continue;
			sid v = labels_get(&nodes[k]->labels, ss.cons[i].topo);
			int r = pairmap_add(&ss.counts, i + 1, v, 0);
			if (r < 0)
				goto out;
			topo_size[i] += (uint32_t)r;
		}
	}
	for (uint32_t i = 0; i < ss.n; i++) {
		uint32_t size = ss.cons[i].topo == s->k_hostname ? n - n_ignored : topo_size[i];
		ss.weight[i] = log((double)size + 2);
	}
	/* PreScore's count over every node: only values some candidate node has are counted. */
	for (uint32_t ni = 0; ni < s->n_list; ni++) {
		struct snode *node = s->list[ni];
		if (ss.require_all && !has_all_topologies(node, ss.cons, ss.n))
			continue;
		for (uint32_t i = 0; i < ss.n; i++) {
			if (ss.cons[i].topo == s->k_hostname || !included(s, &ss.cons[i], p, node))
				continue;
			sid v = labels_get(&node->labels, ss.cons[i].topo);
			if (!pairmap_has(&ss.counts, i + 1, v))
				continue;
			int64_t cnt = count_matching(s, node, &ss.cons[i].sel, p->ns);
			if (cnt && pairmap_add(&ss.counts, i + 1, v, cnt) < 0)
				goto out;
		}
	}
	/* Score. */
	int64_t min = INT64_MAX, max = 0;
	for (uint32_t k = 0; k < n; k++) {
		if (ignored[k]) {
			scores[k] = INVALID_SCORE;
			continue;
		}
		double score = 0;
		for (uint32_t i = 0; i < ss.n; i++) {
			sid v = labels_get(&nodes[k]->labels, ss.cons[i].topo);
			if (v == SID_NONE)
				continue;
			int64_t cnt = ss.cons[i].topo == s->k_hostname
					      ? count_matching(s, nodes[k], &ss.cons[i].sel, p->ns)
					      : pairmap_get(&ss.counts, i + 1, v);
			score += (double)cnt * ss.weight[i] + (double)(ss.cons[i].max_skew - 1);
		}
		scores[k] = (int64_t)llround(score);
		min = MIN(min, scores[k]);
		max = MAX(max, scores[k]);
	}
	/* NormalizeScore: fewer matching pods, higher score. */
	for (uint32_t k = 0; k < n; k++) {
		if (scores[k] == INVALID_SCORE) {
			scores[k] = 0;
			continue;
		}
		if (max == 0) {
			scores[k] = MAX_NODE_SCORE;
			continue;
		}
		scores[k] = MAX_NODE_SCORE * (max + min - scores[k]) / max;
	}
	ret = 0;
out:
	free(ignored);
	pairmap_free(&ss.counts);
	lsel_free(&s->strs, &ss.def_sel);
	return ret;
}
