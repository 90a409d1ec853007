/*
 * score.c - the score plugins of the default profile and their weights: TaintToleration (3,
 * PreferNoSchedule taints, reversed), NodeAffinity (2, preferred terms), NodeResourcesFit
 * LeastAllocated (1, cpu and memory with non-zero defaults), PodTopologySpread (2),
 * InterPodAffinity (2), NodeResourcesBalancedAllocation (1, the standard deviation of cpu and
 * memory fractions) and ImageLocality (1). Each yields 0..100 per node; the total is the
 * weighted sum.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched-internal.h"

#define MAX_NODE_SCORE 100
#define MB (1024LL * 1024)
#define MIN_THRESHOLD (23 * MB)             /* ImageLocality's minThreshold */
#define MAX_CONTAINER_THRESHOLD (1000 * MB) /* and maxContainerThreshold */

/* helper.DefaultNormalizeScore. */
void
default_normalize(int64_t *scores, uint32_t n, bool reverse)
{
	int64_t max = 0;
	for (uint32_t i = 0; i < n; i++)
		max = MAX(max, scores[i]);
	if (max == 0) {
		if (reverse)
			for (uint32_t i = 0; i < n; i++)
				scores[i] = MAX_NODE_SCORE;
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		int64_t v = MAX_NODE_SCORE * scores[i] / max;
		scores[i] = reverse ? MAX_NODE_SCORE - v : v;
	}
}

/* TaintToleration: PreferNoSchedule taints of the node the pod does not tolerate. */
static void
score_taints(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *scores)
{
	const struct spod *p = c->pod;
	struct toleration tols[64];
	uint32_t nt = 0;
	for (uint32_t i = 0; i < p->n_tols && nt < ARRAY_SIZE(tols); i++)
		if (p->tols[i].effect == EFFECT_ALL ||
		    p->tols[i].effect == EFFECT_PREFER_NO_SCHEDULE)
			tols[nt++] = p->tols[i];
	for (uint32_t k = 0; k < n; k++) {
		int64_t count = 0;
		for (uint32_t i = 0; i < nodes[k]->n_spec_taints; i++) {
			const struct taint *t = &nodes[k]->spec_taints[i];
			if (t->effect == EFFECT_PREFER_NO_SCHEDULE && !tols_match(tols, nt, t))
				count++;
		}
		scores[k] = count;
	}
	default_normalize(scores, n, true);
}

/* NodeAffinity: the weights of the preferred terms a node matches. */
static bool
score_node_affinity(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *scores)
{
	const struct spod *p = c->pod;
	if (p->n_preferred == 0)
		return false;
	for (uint32_t k = 0; k < n; k++) {
		int64_t sum = 0;
		for (uint32_t i = 0; i < p->n_preferred; i++)
			if (nterm_match(&c->s->strs, &p->preferred[i].term, nodes[k]))
				sum += p->preferred[i].weight;
		scores[k] = sum;
	}
	default_normalize(scores, n, false);
	return true;
}

/* leastRequestedScore. */
static int64_t
least_requested(int64_t requested, int64_t capacity)
{
	if (capacity == 0 || requested > capacity)
		return 0;
	return (capacity - requested) * MAX_NODE_SCORE / capacity;
}

/* NodeResourcesFit LeastAllocated over cpu and memory (weights 1, 1), non-zero requests. */
static void
score_least_allocated(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *scores)
{
	const struct spod *p = c->pod;
	for (uint32_t k = 0; k < n; k++) {
		const struct snode *node = nodes[k];
		int64_t sum = 0, weights = 0;
		if (node->alloc.cpu) {
			sum += least_requested(node->nz_cpu + p->nz_cpu, node->alloc.cpu);
			weights++;
		}
		if (node->alloc.mem) {
			sum += least_requested(node->nz_mem + p->nz_mem, node->alloc.mem);
			weights++;
		}
		scores[k] = weights ? sum / weights : 0;
	}
}

/* NodeResourcesBalancedAllocation: 1 - the deviation of the cpu and memory fractions. */
static void
score_balanced(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *scores)
{
	const struct spod *p = c->pod;
	for (uint32_t k = 0; k < n; k++) {
		const struct snode *node = nodes[k];
		double f[2];
		uint32_t nf = 0;
		if (node->alloc.cpu)
			f[nf++] = MIN(1.0, (double)(node->req.cpu + p->req.cpu) /
						   (double)node->alloc.cpu);
		if (node->alloc.mem)
			f[nf++] = MIN(1.0, (double)(node->req.mem + p->req.mem) /
						   (double)node->alloc.mem);
		double std = nf == 2 ? fabs((f[0] - f[1]) / 2) : 0;
		scores[k] = (int64_t)((1 - std) * MAX_NODE_SCORE);
	}
}

/* ImageLocality: the sizes of the pod's images a node has, weighted by how widely spread. */
static void
score_images(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *scores)
{
	struct scheduler *s = c->s;
	const struct spod *p = c->pod;
	int64_t max_threshold = MAX_CONTAINER_THRESHOLD * (int64_t)p->n_containers;
	for (uint32_t k = 0; k < n; k++) {
		int64_t sum = 0;
		const struct snode *node = nodes[k];
		for (uint32_t i = 0; i < p->n_images && node->n_images; i++)
			for (uint32_t j = 0; j < node->n_images; j++) {
				if (node->images[j].name != p->images[i])
					continue;
				double spread =
					(double)pairmap_get(&s->image_nodes, p->images[i], 0) /
					(double)s->n_list;
				sum += (int64_t)((double)node->images[j].size * spread);
				break;
			}
		if (sum < MIN_THRESHOLD)
			sum = MIN_THRESHOLD;
		else if (sum > max_threshold)
			sum = max_threshold;
		scores[k] = max_threshold > MIN_THRESHOLD ? MAX_NODE_SCORE * (sum - MIN_THRESHOLD) /
								    (max_threshold - MIN_THRESHOLD)
							  : 0;
	}
}

/*
 * Runs every score plugin over nodes[0..n) and writes the weighted totals; scratch holds n
 * scores (one plugin's at a time); per_plugin (may be NULL) receives each plugin's normalised
 * score. 0, or -1 when out of memory.
 */
int
score_nodes(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *total, int64_t *scratch,
	    int64_t per_plugin[][PL_COUNT])
{
	int64_t *scores = scratch;
	memset(total, 0, n * sizeof(*total));
	static const struct {
		uint8_t plugin;
		int64_t weight;
	} plugins[] = {
		{ PL_TAINT_TOLERATION, 3 }, { PL_NODE_AFFINITY, 2 },      { PL_FIT, 1 },
		{ PL_SPREAD, 2 },           { PL_INTER_POD_AFFINITY, 2 }, { PL_BALANCED, 1 },
		{ PL_IMAGE_LOCALITY, 1 },
	};
	if (per_plugin)
		memset(per_plugin, 0, n * sizeof(*per_plugin));
	for (size_t i = 0; i < ARRAY_SIZE(plugins); i++) {
		bool used = true;
		switch (plugins[i].plugin) {
		case PL_TAINT_TOLERATION: score_taints(c, nodes, n, scores); break;
		case PL_NODE_AFFINITY: used = score_node_affinity(c, nodes, n, scores); break;
		case PL_FIT: score_least_allocated(c, nodes, n, scores); break;
		case PL_SPREAD: {
			int r = score_spread(c, nodes, n, scores);
			if (r < 0)
				return -1;
			used = r == 0;
			break;
		}
		case PL_INTER_POD_AFFINITY: used = score_ipa(c, nodes, n, scores) == 0; break;
		case PL_BALANCED: score_balanced(c, nodes, n, scores); break;
		case PL_IMAGE_LOCALITY: score_images(c, nodes, n, scores); break;
		}
		if (!used)
			continue;
		for (uint32_t k = 0; k < n; k++) {
			total[k] += scores[k] * plugins[i].weight;
			if (per_plugin)
				per_plugin[k][plugins[i].plugin] = scores[k];
		}
	}
	return 0;
}
