/*
 * interpod.c - InterPodAffinity: required affinity and anti-affinity (the incoming pod's terms
 * and the anti-affinity of the pods already placed) counted per topology pair at PreFilter and
 * checked per node; preferred terms, existing pods' preferred terms and the hard affinity
 * weight (1) summed per topology pair as a score, normalised between the lowest and highest.
 */
#include <math.h>
#include <stdlib.h>

#include "scheduler/sched-internal.h"

#define MAX_NODE_SCORE 100
#define HARD_POD_AFFINITY_WEIGHT 1 /* InterPodAffinityArgs' default */

void
ipa_state_clear(struct ipa_state *st)
{
	pairmap_free(&st->existing_anti);
	pairmap_free(&st->aff);
	pairmap_free(&st->anti);
}

int
ipa_state_copy(struct ipa_state *dst, const struct ipa_state *src)
{
	*dst = (struct ipa_state){ 0 };
	if (pairmap_copy(&dst->existing_anti, &src->existing_anti) < 0 ||
	    pairmap_copy(&dst->aff, &src->aff) < 0 || pairmap_copy(&dst->anti, &src->anti) < 0) {
		ipa_state_clear(dst);
		return -1;
	}
	return 0;
}

/* podMatchesAllAffinityTerms. */
static bool
matches_all(const struct scheduler *s, const struct aterm *terms, uint32_t n,
	    const struct spod *owner, const struct spod *p)
{
	if (n == 0)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!aterm_match(s, &terms[i], owner, p))
			return false;
	return true;
}

/* updateWithAffinityTerms: p matching every term counts in each term's topology pair. */
static void
count_affinity(struct scheduler *s, struct pairmap *m, const struct aterm *terms, uint32_t n,
	       const struct spod *owner, const struct spod *p, const struct snode *node, int sign)
{
	if (!matches_all(s, terms, n, owner, p))
		return;
	for (uint32_t i = 0; i < n; i++) {
		sid v = labels_get(&node->labels, terms[i].topo);
		if (v != SID_NONE)
			pairmap_add(m, terms[i].topo, v, sign);
	}
}

/* updateWithAntiAffinityTerms: each term p matches counts in its topology pair. */
static void
count_anti(struct scheduler *s, struct pairmap *m, const struct aterm *terms, uint32_t n,
	   const struct spod *owner, const struct spod *p, const struct snode *node, int sign)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!aterm_match(s, &terms[i], owner, p))
			continue;
		sid v = labels_get(&node->labels, terms[i].topo);
		if (v != SID_NONE)
			pairmap_add(m, terms[i].topo, v, sign);
	}
}

void
prefilter_ipa(struct cycle *c, struct status *st)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	struct ipa_state *ipa = &c->ipa;
	bool any_existing = false;
	for (uint32_t i = 0; i < s->n_anti_pods; i++) {
		struct spod *e = s->anti_pods[i];
		if (!e->on || !e->on->present)
			continue;
		for (uint32_t t = 0; t < e->n_anti; t++) {
			if (!aterm_match(s, &e->anti[t], e, p))
				continue;
			sid v = labels_get(&e->on->labels, e->anti[t].topo);
			if (v == SID_NONE)
				continue;
			pairmap_add(&ipa->existing_anti, e->anti[t].topo, v, 1);
			any_existing = true;
		}
	}
	if (!any_existing && p->n_aff == 0 && p->n_anti == 0) {
		st->code = ST_SKIP;
		return;
	}
	if (p->n_aff == 0 && p->n_anti == 0)
		return;
	for (uint32_t ni = 0; ni < s->n_list; ni++) {
		struct snode *n = s->list[ni];
		for (uint32_t k = 0; k < n->n_pods; k++) {
			struct spod *e = n->pods[k];
			count_affinity(s, &ipa->aff, p->aff, p->n_aff, p, e, n, 1);
			count_anti(s, &ipa->anti, p->anti, p->n_anti, p, e, n, 1);
		}
	}
}

static bool
any_positive(const struct pairmap *m)
{
	for (uint32_t i = 0; m->keys && i <= m->mask; i++)
		if (m->keys[i] && m->vals[i] > 0)
			return true;
	return false;
}

void
filter_ipa(struct cycle *c, struct snode *n, struct status *st)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	struct ipa_state *ipa = &c->ipa;
	/* satisfyPodAffinity */
	bool pods_exist = true;
	for (uint32_t i = 0; i < p->n_aff; i++) {
		sid v = labels_get(&n->labels, p->aff[i].topo);
		if (v == SID_NONE) {
			st->code = ST_UNRESOLVABLE;
			st->reasons[st->n++] = R_AFFINITY;
			return;
		}
		if (pairmap_get(&ipa->aff, p->aff[i].topo, v) <= 0)
			pods_exist = false;
	}
	if (!pods_exist && !(!any_positive(&ipa->aff) && matches_all(s, p->aff, p->n_aff, p, p))) {
		/* Unless no pod matches yet and the pod matches its own terms (the first one). */
		st->code = ST_UNRESOLVABLE;
		st->reasons[st->n++] = R_AFFINITY;
		return;
	}
	/* satisfyPodAntiAffinity */
	for (uint32_t i = 0; i < p->n_anti; i++) {
		sid v = labels_get(&n->labels, p->anti[i].topo);
		if (v != SID_NONE && pairmap_get(&ipa->anti, p->anti[i].topo, v) > 0) {
			st->code = ST_UNSCHED;
			st->reasons[st->n++] = R_ANTI_AFFINITY;
			return;
		}
	}
	/* satisfyExistingPodsAntiAffinity */
	if (ipa->existing_anti.n)
		for (uint32_t i = 0; i < n->labels.n; i++)
			if (pairmap_get(&ipa->existing_anti, n->labels.kv[i].k, n->labels.kv[i].v) >
			    0) {
				st->code = ST_UNSCHED;
				st->reasons[st->n++] = R_EXISTING_ANTI;
				return;
			}
}

void
ipa_add_pod(struct cycle *c, struct spod *q, struct snode *n, int sign)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	count_anti(s, &c->ipa.existing_anti, q->anti, q->n_anti, q, p, n, sign);
	count_affinity(s, &c->ipa.aff, p->aff, p->n_aff, p, q, n, sign);
	count_anti(s, &c->ipa.anti, p->anti, p->n_anti, p, q, n, sign);
}

/* ---- score ---- */

/* processTerm(s): weight for each term pod matches, in the term's topology pair on node. */
static void
score_terms(struct scheduler *s, struct pairmap *m, const struct aterm *terms, uint32_t n,
	    const struct spod *owner, const struct spod *p, const struct snode *node,
	    int64_t multiplier, bool hard)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!aterm_match(s, &terms[i], owner, p))
			continue;
		sid v = labels_get(&node->labels, terms[i].topo);
		if (v == SID_NONE)
			continue;
		int64_t w = hard ? HARD_POD_AFFINITY_WEIGHT : terms[i].weight;
		pairmap_add(m, terms[i].topo, v, w * multiplier);
	}
}

/* processExistingPod. */
static void
score_existing(struct scheduler *s, struct pairmap *m, const struct spod *p, const struct spod *e)
{
	const struct snode *node = e->on;
	if (node->labels.n == 0)
		return;
	score_terms(s, m, p->aff_pref, p->n_aff_pref, p, e, node, 1, false);
	score_terms(s, m, p->anti_pref, p->n_anti_pref, p, e, node, -1, false);
	score_terms(s, m, e->aff, e->n_aff, e, p, node, 1, true);
	score_terms(s, m, e->aff_pref, e->n_aff_pref, e, p, node, 1, false);
	score_terms(s, m, e->anti_pref, e->n_anti_pref, e, p, node, -1, false);
}

/* Score for InterPodAffinity (PreScore, Score, NormalizeScore): 1 when it skips. */
int
score_ipa(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *scores)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	bool constraints = p->n_aff_pref + p->n_anti_pref > 0;
	struct pairmap m = { 0 };
	if (constraints) {
		for (uint32_t ni = 0; ni < s->n_list; ni++)
			for (uint32_t k = 0; k < s->list[ni]->n_pods; k++)
				score_existing(s, &m, p, s->list[ni]->pods[k]);
	} else {
		for (uint32_t i = 0; i < s->n_aff_pods; i++) {
			struct spod *e = s->aff_pods[i];
			if (e->on && e->on->present)
				score_existing(s, &m, p, e);
		}
	}
	if (m.n == 0) {
		pairmap_free(&m);
		return 1;
	}
	/* The distinct topology keys scored. */
	sid keys[32];
	uint32_t n_keys = 0;
	for (uint32_t i = 0; i <= m.mask; i++) {
		if (!m.keys[i])
			continue;
		sid k = (sid)(m.keys[i] >> 32);
		bool dup = false;
		for (uint32_t j = 0; j < n_keys; j++)
			dup |= keys[j] == k;
		if (!dup && n_keys < ARRAY_SIZE(keys))
			keys[n_keys++] = k;
	}
	int64_t min = INT64_MAX, max = INT64_MIN;
	for (uint32_t i = 0; i < n; i++) {
		int64_t score = 0;
		for (uint32_t k = 0; k < n_keys; k++) {
			sid v = labels_get(&nodes[i]->labels, keys[k]);
			if (v != SID_NONE)
				score += pairmap_get(&m, keys[k], v);
		}
		scores[i] = score;
		min = MIN(min, score);
		max = MAX(max, score);
	}
	pairmap_free(&m);
	int64_t diff = max - min;
	for (uint32_t i = 0; i < n; i++) {
		double f = 0;
		if (diff > 0)
			f = (double)MAX_NODE_SCORE * ((double)(scores[i] - min) / (double)diff);
		scores[i] = (int64_t)f;
	}
	return 0;
}
