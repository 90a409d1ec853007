/*
 * preempt.c - DefaultPreemption (PostFilter): when a pod fits nowhere, find nodes where removing
 * lower-priority pods would let it fit, keep on each the fewest victims (the most important
 * pods are reprieved first), pick one node (lowest highest-victim priority, then lowest sum of
 * priorities, fewest victims, latest start), delete its victims gracefully and nominate the
 * node to the pod. PodDisruptionBudgets are not served by korch, so none is violated.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "scheduler/sched-internal.h"

#define MIN_CANDIDATE_NODES_PERCENTAGE 10 /* DefaultPreemptionArgs' defaults */
#define MIN_CANDIDATE_NODES_ABSOLUTE 100

struct candidate {
	struct snode *node;
	struct spod **victims; /* most important first */
	uint32_t n;
};

static void
set_post_msg(struct diagnosis *d, const char *fmt_prefix, const char *msg)
{
	free(d->post_msg);
	if (asprintf(&d->post_msg, "%s%s", fmt_prefix, msg) < 0)
		d->post_msg = NULL;
}

/* util.MoreImportantPod: higher priority, then the earlier start. */
static int
cmp_importance(const void *a, const void *b)
{
	const struct spod *x = *(struct spod *const *)a, *y = *(struct spod *const *)b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	int64_t sx = x->start_ns ? x->start_ns : INT64_MAX,
		sy = y->start_ns ? y->start_ns : INT64_MAX;
	return sx < sy ? -1 : sx > sy;
}

/* PodEligibleToPreemptOthers; msg receives why not. */
static bool
eligible(struct scheduler *s, struct spod *p, const struct diagnosis *d, const char **msg)
{
	if (p->preempt_never) {
		*msg = "not eligible due to preemptionPolicy=Never.";
		return false;
	}
	if (!p->nominated)
		return true;
	struct snode *n = cache_node(s, intern_str(&s->strs, p->nominated), false);
	if (!n)
		return true;
	if (n->list_idx >= 0 && d->has_status[n->list_idx] &&
	    d->node_status[n->list_idx].code == ST_UNRESOLVABLE)
		return true;
	for (uint32_t i = 0; i < n->n_pods; i++) {
		const struct spod *q = n->pods[i];
		if (q->priority < p->priority && q->deleting && q->preempted) {
			*msg = "not eligible due to a terminating pod on the nominated node.";
			return false;
		}
	}
	return true;
}

static int
status_code(const struct diagnosis *d, uint32_t idx)
{
	if (d->has_status[idx])
		return d->node_status[idx].code;
	return d->has_absent ? d->absent.code : ST_UNRESOLVABLE;
}

/*
 * SelectVictimsOnNode: remove every lower-priority pod; if the pod then fits, add them back one
 * by one, most important first, keeping out those without which it no longer fits. The node
 * and its pods are as they were on return. 0 with *ret filled, or the node's status.
 */
static int
select_victims(struct cycle *c, struct snode *n, struct candidate *ret, struct status *st)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	uint32_t total = n->n_pods;
	struct spod **saved = malloc(MAX(total, 1) * sizeof(*saved));
	struct spod **pot = malloc(MAX(total, 1) * sizeof(*pot));
	struct cycle sim;
	if (!saved || !pot || cycle_clone(&sim, c) < 0) {
		free(saved);
		free(pot);
		*st = (struct status){ .code = ST_ERROR };
		return -1;
	}
	if (total)
		memcpy(saved, n->pods, total * sizeof(*saved));
	uint32_t n_pot = 0, kept = 0;
	for (uint32_t i = 0; i < total; i++) {
		struct spod *q = saved[i];
		if (q->priority < p->priority) {
			pot[n_pot++] = q;
			node_account(s, n, q, -1);
			cycle_add_pod(&sim, q, n, -1);
		} else {
			n->pods[kept++] = q;
		}
	}
	n->n_pods = kept;
	int r = -1;
	uint32_t n_victims = 0;
	struct spod **victims = NULL;
	if (n_pot == 0) {
		*st = (struct status){ .code = ST_UNRESOLVABLE,
				       .plugin = PL_DEFAULT_PREEMPTION,
				       .n = 1,
				       .reasons = { R_NO_VICTIMS } };
		goto restore;
	}
	if (cycle_filter_nominated(&sim, n, st) != ST_SUCCESS)
		goto restore;
	qsort(pot, n_pot, sizeof(*pot), cmp_importance);
	victims = malloc(n_pot * sizeof(*victims));
	if (!victims) {
		*st = (struct status){ .code = ST_ERROR };
		goto restore;
	}
	for (uint32_t i = 0; i < n_pot; i++) {
		struct spod *q = pot[i];
		n->pods[n->n_pods++] = q;
		node_account(s, n, q, 1);
		cycle_add_pod(&sim, q, n, 1);
		struct status tmp;
		if (cycle_filter_nominated(&sim, n, &tmp) != ST_SUCCESS) {
			n->n_pods--;
			node_account(s, n, q, -1);
			cycle_add_pod(&sim, q, n, -1);
			victims[n_victims++] = q;
		}
	}
	r = 0;
restore:
	/* The victims still out are counted back; the array regains its order (and slots). */
	for (uint32_t i = 0; i < n_pot; i++) {
		bool out = true;
		for (uint32_t k = 0; k < n->n_pods && out; k++)
			out = n->pods[k] != pot[i];
		if (out)
			node_account(s, n, pot[i], 1);
	}
	if (total)
		memcpy(n->pods, saved, total * sizeof(*saved));
	n->n_pods = total;
	cycle_clear(&sim);
	free(saved);
	free(pot);
	if (r == 0) {
		*ret = (struct candidate){ .node = n, .victims = victims, .n = n_victims };
		if (n_victims == 0) {
			free(victims);
			*st = (struct status){ .code = ST_ERROR };
			return -1;
		}
	} else {
		free(victims);
	}
	return r;
}

/* GetEarliestPodStartTime among the highest-priority victims (unstarted: now). */
static int64_t
earliest_start(const struct candidate *c, int64_t now)
{
	int32_t max = c->victims[0]->priority;
	int64_t earliest = c->victims[0]->start_ns ? c->victims[0]->start_ns : now;
	for (uint32_t i = 0; i < c->n; i++) {
		const struct spod *v = c->victims[i];
		int64_t st = v->start_ns ? v->start_ns : now;
		if (v->priority == max && st < earliest)
			earliest = st;
		else if (v->priority > max) {
			max = v->priority;
			earliest = st;
		}
	}
	return earliest;
}

/* pickOneNodeForPreemption's criteria in order; the first candidate wins remaining ties. */
static uint32_t
pick(const struct candidate *cands, uint32_t n, int64_t now)
{
	uint32_t *alive = malloc(n * sizeof(*alive));
	if (!alive)
		return 0;
	uint32_t n_alive = n;
	for (uint32_t i = 0; i < n; i++)
		alive[i] = i;
	for (int crit = 0; crit < 4 && n_alive > 1; crit++) {
		int64_t best = INT64_MIN;
		uint32_t k = 0;
		for (uint32_t i = 0; i < n_alive; i++) {
			const struct candidate *c = &cands[alive[i]];
			int64_t score = 0;
			switch (crit) {
			case 0: score = -(int64_t)c->victims[0]->priority; break;
			case 1:
				for (uint32_t v = 0; v < c->n; v++)
					score -= (int64_t)c->victims[v]->priority +
						 (int64_t)INT32_MAX + 1;
				break;
			case 2: score = -(int64_t)c->n; break;
			case 3: score = earliest_start(c, now); break;
			}
			if (score > best) {
				best = score;
				k = 0;
			}
			if (score == best)
				alive[k++] = alive[i];
		}
		n_alive = k;
	}
	uint32_t r = alive[0];
	free(alive);
	return r;
}

/*
 * Preempt. Returns 1 with *ret_nominee (the node's name id, borrowed) when victims were
 * deleted for a node; 0 when preemption cannot help (d->post_msg says so; the nomination is
 * cleared); -1 when the pod may not preempt now (d->post_msg says why; the nomination stays).
 */
int
preempt(struct scheduler *s, struct cycle *c, struct diagnosis *d, sid *ret_nominee)
{
	struct spod *p = c->pod;
	const char *why = NULL;
	if (!eligible(s, p, d, &why)) {
		set_post_msg(d, "preemption: ", why);
		return -1;
	}
	uint32_t all = s->n_list;
	struct snode **potential = malloc(MAX(all, 1) * sizeof(*potential));
	struct diagnosis dd = { 0 };
	struct candidate *cands = NULL;
	uint32_t n_pot = 0, n_cands = 0;
	int ret = -1;
	if (!potential)
		return -1;
	for (uint32_t i = 0; i < all; i++)
		if (status_code(d, i) == ST_UNSCHED)
			potential[n_pot++] = s->list[i];
	dd.node_status = calloc(MAX(all, 1), sizeof(*dd.node_status));
	dd.has_status = calloc(MAX(all, 1), sizeof(*dd.has_status));
	if (!dd.node_status || !dd.has_status)
		goto out;
	dd.absent = (struct status){ .code = ST_UNRESOLVABLE,
				     .n = 1,
				     .reasons = { R_PREEMPTION_NOT_HELPFUL } };
	dd.has_absent = true;
	if (n_pot) {
		uint32_t want = n_pot * MIN_CANDIDATE_NODES_PERCENTAGE / 100;
		if (want < MIN_CANDIDATE_NODES_ABSOLUTE)
			want = MIN_CANDIDATE_NODES_ABSOLUTE;
		if (want > n_pot)
			want = n_pot;
		uint32_t offset = (uint32_t)(rng_next(&s->rng) % n_pot);
		cands = calloc(want, sizeof(*cands));
		if (!cands)
			goto out;
		for (uint32_t i = 0; i < n_pot && n_cands < want; i++) {
			struct snode *n = potential[(offset + i) % n_pot];
			struct status st;
			if (select_victims(c, n, &cands[n_cands], &st) == 0)
				n_cands++;
			else
				diagnosis_set(&dd, (uint32_t)n->list_idx, &st);
		}
	}
	if (n_cands == 0) {
		_cleanup_free_ char *msg = fit_error_message(s, all, &dd);
		set_post_msg(d, "preemption: ", msg ? msg : "");
		ret = 0;
		goto out;
	}
	struct candidate *best = &cands[pick(cands, n_cands, korch_clock_wall_ns(s->clock))];
	const char *node = best->node->name;
	for (uint32_t i = 0; i < best->n; i++) {
		struct spod *v = best->victims[i];
		if (v->deleting)
			continue; /* graceful deletion already under way */
		if (delete_victim(s, v, p, node) == 0)
			s->stats.preemptions++;
	}
	/* Lower-priority pods nominated to that node lose their nomination. */
	struct snode *bn = best->node;
	for (uint32_t i = 0; i < bn->n_nominated;) {
		struct spod *q = bn->nominated[i];
		if (q != p && q->priority < p->priority) {
			uint32_t before = bn->n_nominated;
			clear_nomination(s, q);
			if (bn->n_nominated < before)
				continue;
		}
		i++;
	}
	*ret_nominee = best->node->name_id;
	free(d->post_msg);
	d->post_msg = NULL;
	ret = 1;
out:
	for (uint32_t i = 0; i < n_cands; i++)
		free(cands[i].victims);
	free(cands);
	free(potential);
	free(dd.node_status);
	free(dd.has_status);
	free(dd.post_msg);
	return ret;
}
