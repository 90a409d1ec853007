/*
 * framework.c - one scheduling cycle as kube-scheduler 1.32's framework runs it: PreFilter,
 * the nominated node first, Filter over a rotating sample of the node list until enough nodes
 * fit (percentageOfNodesToScore), Score, a random choice among the best, then assume and bind;
 * or, when nothing fits, PostFilter (preemption) and the FitError message, sorted and counted as
 * the framework prints it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "base/util.h"
#include "scheduler/sched-internal.h"

#define MIN_FEASIBLE_NODES 100          /* minFeasibleNodesToFind */
#define MIN_FEASIBLE_NODES_PERCENTAGE 5 /* minFeasibleNodesPercentageToFind */
#define NOTE_LENGTH_LIMIT 1024          /* validation.NoteLengthLimit: an Event's message */

typedef void (*filter_fn)(struct cycle *c, struct snode *n, struct status *st);
typedef void (*prefilter_fn)(struct cycle *c, struct status *st);

/* Filter plugins in the default profile's order; the first that rejects a node decides. */
static const struct {
	uint8_t plugin;
	filter_fn fn;
} filters[] = {
	{ PL_NODE_UNSCHEDULABLE, filter_node_unschedulable },
	{ PL_NODE_NAME, filter_node_name },
	{ PL_TAINT_TOLERATION, filter_taints },
	{ PL_NODE_AFFINITY, filter_node_affinity },
	{ PL_NODE_PORTS, filter_ports },
	{ PL_FIT, filter_fit },
	{ PL_VOLUME_RESTRICTIONS, filter_volume_restrictions },
	{ PL_VOLUME_BINDING, filter_volume_binding },
	{ PL_VOLUME_ZONE, filter_volume_zone },
	{ PL_SPREAD, filter_spread },
	{ PL_INTER_POD_AFFINITY, filter_ipa },
};

static const struct {
	uint8_t plugin;
	prefilter_fn fn;
} prefilters[] = {
	{ PL_NODE_AFFINITY, prefilter_node_affinity },
	{ PL_NODE_PORTS, prefilter_ports },
	{ PL_VOLUME_RESTRICTIONS, prefilter_volume_restrictions },
	{ PL_VOLUME_BINDING, prefilter_volume_binding },
	{ PL_VOLUME_ZONE, prefilter_volume_zone },
	{ PL_SPREAD, prefilter_spread },
	{ PL_INTER_POD_AFFINITY, prefilter_ipa },
};

/* ---- cycle state ---- */

void
cycle_clear(struct cycle *c)
{
	struct intern *t = &c->s->strs;
	for (uint32_t i = 0; i < c->n_pre_nodes; i++)
		intern_unref(t, c->pre_nodes[i]);
	free(c->pre_nodes);
	spread_state_clear(&c->spread);
	ipa_state_clear(&c->ipa);
	vol_state_clear(&c->vol);
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	*c = (struct cycle){ .s = s, .pod = p };
}

/* A copy of a cycle's state that preemption can change without touching the original. */
int
cycle_clone(struct cycle *dst, const struct cycle *src)
{
	*dst = (struct cycle){ .s = src->s, .pod = src->pod, .skip = src->skip };
	if (spread_state_copy(&dst->spread, &src->spread) < 0 ||
	    ipa_state_copy(&dst->ipa, &src->ipa) < 0 || vol_state_copy(&dst->vol, &src->vol) < 0) {
		cycle_clear(dst);
		return -1;
	}
	return 0;
}

/* RunPreFilterExtensionAddPod / RemovePod: p counted on n (sign 1) or not (-1). */
void
cycle_add_pod(struct cycle *c, struct spod *p, struct snode *n, int sign)
{
	if (!(c->skip & (1u << PL_SPREAD)))
		spread_add_pod(c, p, n, sign);
	if (!(c->skip & (1u << PL_INTER_POD_AFFINITY)))
		ipa_add_pod(c, p, n, sign);
	if (!(c->skip & (1u << PL_VOLUME_RESTRICTIONS)))
		vol_add_pod(c, p, sign);
}

/* Intersects the PreFilterResult with names (PreFilterResult.Merge). */
static int
merge_pre_nodes(struct cycle *c, const sid *names, uint32_t n)
{
	struct intern *t = &c->s->strs;
	if (!c->pre_nodes) {
		c->pre_nodes = calloc(n ? n : 1, sizeof(*c->pre_nodes));
		if (!c->pre_nodes)
			return -1;
		for (uint32_t i = 0; i < n; i++) {
			bool dup = false;
			for (uint32_t j = 0; j < c->n_pre_nodes; j++)
				dup |= c->pre_nodes[j] == names[i];
			if (dup)
				continue;
			intern_ref(t, names[i]);
			c->pre_nodes[c->n_pre_nodes++] = names[i];
		}
		return 0;
	}
	uint32_t k = 0;
	for (uint32_t i = 0; i < c->n_pre_nodes; i++) {
		bool keep = false;
		for (uint32_t j = 0; j < n; j++)
			keep |= names[j] == c->pre_nodes[i];
		if (keep)
			c->pre_nodes[k++] = c->pre_nodes[i];
		else
			intern_unref(t, c->pre_nodes[i]);
	}
	c->n_pre_nodes = k;
	return 0;
}

/* Plugins fill st->code; NodeAffinity and VolumeBinding may narrow the nodes through these. */
int
cycle_narrow(struct cycle *c, uint8_t plugin, const sid *names, uint32_t n)
{
	c->pre_plugins |= 1u << plugin;
	return merge_pre_nodes(c, names, n);
}

/* "[NodeAffinity VolumeBinding]": Go's %v of a sorted list of plugin names. */
static void
plugin_list(struct strbuf *sb, uint32_t plugins)
{
	const char *names[PL_COUNT];
	size_t n = 0;
	for (uint32_t i = 0; i < PL_COUNT; i++)
		if (plugins & (1u << i))
			names[n++] = plugin_names[i];
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			const char *x = names[j];
			names[j] = names[j - 1];
			names[j - 1] = x;
		}
	strbuf_putc(sb, '[');
	for (size_t i = 0; i < n; i++)
		strbuf_printf(sb, "%s%s", i ? " " : "", names[i]);
	strbuf_putc(sb, ']');
}

/*
 * RunPreFilterPlugins: every plugin in order; an UnschedulableAndUnresolvable verdict ends it,
 * an Unschedulable one is kept while the rest run; Skip leaves the plugin's Filter out. Returns
 * the verdict in st (ST_SUCCESS when every plugin passed).
 */
int
cycle_prefilter(struct cycle *c, struct status *st)
{
	struct status kept = { .code = ST_SUCCESS };
	for (size_t i = 0; i < ARRAY_SIZE(prefilters); i++) {
		struct status r = { .code = ST_SUCCESS, .plugin = prefilters[i].plugin };
		uint32_t narrowed = c->pre_plugins;
		prefilters[i].fn(c, &r);
		if (r.code == ST_SKIP) {
			c->skip |= 1u << prefilters[i].plugin;
			continue;
		}
		if (r.code == ST_UNRESOLVABLE || r.code == ST_ERROR) {
			*st = r;
			return r.code;
		}
		if (r.code == ST_UNSCHED && kept.code == ST_SUCCESS)
			kept = r;
		if (c->pre_plugins != narrowed && c->n_pre_nodes == 0) {
			/* The narrowed sets do not meet: no node can pass. */
			_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
			uint32_t pl = c->pre_plugins, count = 0;
			for (uint32_t b = pl; b; b &= b - 1)
				count++;
			if (count == 1) {
				strbuf_puts(&msg, "node(s) didn't satisfy plugin ");
				for (uint32_t k = 0; k < PL_COUNT; k++)
					if (pl & (1u << k))
						strbuf_puts(&msg, plugin_names[k]);
			} else {
				strbuf_puts(&msg, "node(s) didn't satisfy plugin(s) ");
				plugin_list(&msg, pl);
				strbuf_puts(&msg, " simultaneously");
			}
			*st = (struct status){ .code = ST_UNRESOLVABLE,
					       .plugin = prefilters[i].plugin,
					       .n = 1 };
			st->reasons[0] = reason_id(c->s, strbuf_str(&msg));
			return st->code;
		}
	}
	*st = kept;
	return kept.code;
}

int
cycle_filter(struct cycle *c, struct snode *n, struct status *st)
{
	for (size_t i = 0; i < ARRAY_SIZE(filters); i++) {
		if (c->skip & (1u << filters[i].plugin))
			continue;
		*st = (struct status){ .code = ST_SUCCESS, .plugin = filters[i].plugin };
		filters[i].fn(c, n, st);
		if (st->code != ST_SUCCESS)
			return st->code;
	}
	return ST_SUCCESS;
}

/* Counts a nominated pod on a node for one filter pass (not through its cache fields). */
static void
push_temp(struct scheduler *s, struct snode *n, struct spod *q)
{
	if (n->n_pods == n->cap_pods) {
		uint32_t cap = n->cap_pods ? n->cap_pods * 2 : 8;
		struct spod **p = realloc(n->pods, cap * sizeof(*p));
		if (!p)
			return;
		n->pods = p;
		n->cap_pods = cap;
	}
	n->pods[n->n_pods++] = q;
	node_account(s, n, q, 1);
}

static void
pop_temp(struct scheduler *s, struct snode *n, struct spod *q)
{
	n->n_pods--;
	node_account(s, n, q, -1);
}

/*
 * RunFilterPluginsWithNominatedPods: when pods of equal or higher priority are nominated to n,
 * the pod must fit with them counted there and, if it does, without them too.
 */
int
cycle_filter_nominated(struct cycle *c, struct snode *n, struct status *st)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	uint32_t added = 0;
	for (uint32_t i = 0; i < n->n_nominated; i++) {
		struct spod *q = n->nominated[i];
		if (q != p && q->priority >= p->priority && !q->on)
			added++;
	}
	if (!added)
		return cycle_filter(c, n, st);
	struct cycle with;
	if (cycle_clone(&with, c) < 0) {
		*st = (struct status){ .code = ST_ERROR };
		return ST_ERROR;
	}
	struct spod *pushed[64];
	uint32_t n_pushed = 0;
	for (uint32_t i = 0; i < n->n_nominated && n_pushed < ARRAY_SIZE(pushed); i++) {
		struct spod *q = n->nominated[i];
		if (q == p || q->priority < p->priority || q->on)
			continue;
		push_temp(s, n, q);
		cycle_add_pod(&with, q, n, 1);
		pushed[n_pushed++] = q;
	}
	int code = cycle_filter(&with, n, st);
	while (n_pushed)
		pop_temp(s, n, pushed[--n_pushed]);
	cycle_clear(&with);
	if (code != ST_SUCCESS)
		return code;
	return cycle_filter(c, n, st);
}

/* ---- diagnosis ---- */

void
diagnosis_reset(struct scheduler *s, struct diagnosis *d, uint32_t n_nodes)
{
	if (n_nodes > s->cap_feasible || !d->node_status) {
		uint32_t cap = MAX(n_nodes, 16);
		struct status *ns = realloc(d->node_status, cap * sizeof(*ns));
		bool *has = realloc(d->has_status, cap * sizeof(*has));
		struct snode **f = realloc(s->feasible, cap * sizeof(*f));
		if (ns)
			d->node_status = ns;
		if (has)
			d->has_status = has;
		if (f)
			s->feasible = f;
		if (ns && has && f)
			s->cap_feasible = cap;
	}
	if (d->has_status)
		memset(d->has_status, 0, MIN(n_nodes, s->cap_feasible) * sizeof(*d->has_status));
	d->n_status = 0;
	d->has_absent = false;
	d->prefilter_failed = false;
	d->prefilter_reason = 0;
	d->plugins = 0;
	free(d->post_msg);
	d->post_msg = NULL;
}

void
diagnosis_set(struct diagnosis *d, uint32_t idx, const struct status *st)
{
	if (!d->has_status[idx])
		d->n_status++;
	d->has_status[idx] = true;
	d->node_status[idx] = *st;
	if (st->code == ST_UNSCHED || st->code == ST_UNRESOLVABLE)
		d->plugins |= 1u << st->plugin;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * FitError.Error(): "0/N nodes are available: " then the PreFilter message, or the reasons of
 * every node counted and sorted as strings ("1 Insufficient cpu, 2 node(s) ..."), then
 * PostFilter's message. Caller frees.
 */
char *
fit_error_message(struct scheduler *s, uint32_t n_nodes, const struct diagnosis *d)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_printf(&sb, "0/%u nodes are available:", n_nodes);
	if (d->prefilter_failed) {
		strbuf_printf(&sb, " %s.", reason_text(s, d->prefilter_reason));
	} else {
		uint32_t n_reasons = s->reasons.n;
		uint64_t *counts = calloc(n_reasons ? n_reasons : 1, sizeof(*counts));
		if (!counts) {
			strbuf_free(&sb);
			return NULL;
		}
		for (uint32_t i = 0; i < s->n_list && i < s->cap_feasible; i++) {
			if (!d->has_status[i])
				continue;
			const struct status *st = &d->node_status[i];
			for (uint32_t r = 0; r < st->n; r++)
				counts[st->reasons[r]]++;
		}
		if (d->has_absent && d->n_status < n_nodes)
			for (uint32_t r = 0; r < d->absent.n; r++)
				counts[d->absent.reasons[r]] += n_nodes - d->n_status;
		char **items = calloc(n_reasons ? n_reasons : 1, sizeof(*items));
		size_t n_items = 0;
		for (uint32_t r = 0; items && r < n_reasons; r++)
			if (counts[r] &&
			    asprintf(&items[n_items], "%llu %s", (unsigned long long)counts[r],
				     reason_text(s, (uint16_t)r)) >= 0)
				n_items++;
		if (items) {
			qsort(items, n_items, sizeof(*items), cmp_str);
			for (size_t i = 0; i < n_items; i++) {
				strbuf_printf(&sb, "%s%s", i ? ", " : " ", items[i]);
				free(items[i]);
			}
			if (n_items)
				strbuf_putc(&sb, '.');
		}
		free(items);
		free(counts);
	}
	if (d->post_msg && *d->post_msg)
		strbuf_printf(&sb, " %s", d->post_msg);
	if (sb.oom) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

/* ---- one pod ---- */

/* numFeasibleNodesToFind. */
static uint32_t
nodes_to_find(const struct scheduler *s, uint32_t all)
{
	if (all < MIN_FEASIBLE_NODES)
		return all;
	int64_t pct = s->opts.percentage_of_nodes_to_score;
	if (pct <= 0) {
		pct = 50 - (int64_t)all / 125;
		if (pct < MIN_FEASIBLE_NODES_PERCENTAGE)
			pct = MIN_FEASIBLE_NODES_PERCENTAGE;
	}
	uint32_t n = (uint32_t)((int64_t)all * pct / 100);
	return n < MIN_FEASIBLE_NODES ? MIN_FEASIBLE_NODES : n;
}

/* Picks the highest total score, uniformly among ties (selectHost's reservoir sampling). */
static uint32_t
select_host(struct scheduler *s, const int64_t *total, uint32_t n)
{
	uint32_t best = 0, ties = 1;
	for (uint32_t i = 1; i < n; i++) {
		if (total[i] > total[best]) {
			best = i;
			ties = 1;
		} else if (total[i] == total[best]) {
			ties++;
			if (rng_next(&s->rng) % ties == 0)
				best = i;
		}
	}
	return best;
}

/* handleSchedulingFailure: the queue, the Event and the PodScheduled condition. */
static void
fail(struct scheduler *s, struct spod *p, bool rejected, const char *message, uint32_t plugins,
     int nominate, sid nominee)
{
	s->stats.unschedulable++;
	p->unsched_plugins = plugins;
	char note[NOTE_LENGTH_LIMIT + 1];
	size_t len = strlen(message);
	if (len > NOTE_LENGTH_LIMIT)
		snprintf(note, sizeof(note), "%.*s ...", NOTE_LENGTH_LIMIT - 4, message);
	else
		snprintf(note, sizeof(note), "%s", message);
	record_event(s, NULL, p, "Warning", "FailedScheduling", "Scheduling", note);
	write_unschedulable(s, p, rejected ? "Unschedulable" : "SchedulerError", message, nominee,
			    nominate != 0);
	if (nominate > 0)
		cache_nominate(s, p,
			       nominee ? cache_node(s, intern_str(&s->strs, nominee), true) : NULL);
	else if (nominate < 0)
		cache_nominate(s, p, NULL);
	queue_unschedulable(s, p, !rejected);
}

/*
 * Filters nodes[0..n) starting at s->next_start until `want` fit; returns how many fit (in
 * s->feasible) and records the others' statuses. *ret_processed: nodes looked at.
 */
static uint32_t
find_feasible(struct cycle *c, struct snode **nodes, uint32_t n, uint32_t want,
	      uint32_t *ret_processed)
{
	struct scheduler *s = c->s;
	uint32_t found = 0, i;
	for (i = 0; i < n && found < want; i++) {
		struct snode *node = nodes[(s->next_start + i) % n];
		struct status st;
		int code = cycle_filter_nominated(c, node, &st);
		if (code == ST_SUCCESS)
			s->feasible[found++] = node;
		else
			diagnosis_set(&s->diag, (uint32_t)node->list_idx, &st);
	}
	*ret_processed = i;
	return found;
}

/* Evaluates the pod's nominated node first: if it fits, it is the answer. */
static struct snode *
try_nominated(struct cycle *c)
{
	struct scheduler *s = c->s;
	if (!c->pod->nominated)
		return NULL;
	struct snode *n = cache_node(s, intern_str(&s->strs, c->pod->nominated), false);
	if (!n || n->list_idx < 0)
		return NULL;
	if (c->pre_nodes) {
		bool in = false;
		for (uint32_t i = 0; i < c->n_pre_nodes; i++)
			in |= c->pre_nodes[i] == n->name_id;
		if (!in)
			return NULL;
	}
	struct status st;
	if (cycle_filter_nominated(c, n, &st) == ST_SUCCESS)
		return n;
	diagnosis_set(&s->diag, (uint32_t)n->list_idx, &st);
	return NULL;
}

/* The nodes a PreFilterResult leaves, in list order, into s->feasible's scratch. */
static uint32_t
narrowed_nodes(struct cycle *c, struct snode **out)
{
	struct scheduler *s = c->s;
	uint32_t k = 0;
	for (uint32_t i = 0; i < s->n_list; i++)
		for (uint32_t j = 0; j < c->n_pre_nodes; j++)
			if (s->list[i]->name_id == c->pre_nodes[j]) {
				out[k++] = s->list[i];
				break;
			}
	return k;
}

/* The whole cycle for p, popped from the queue; leaves p assumed, or back in the queue. */
void
schedule_one(struct scheduler *s, struct spod *p)
{
	s->stats.attempts++;
	cache_rebuild_list(s);
	uint32_t all = s->n_list;
	if (all == 0) {
		/* ErrNoNodesAvailable, rejected as UnschedulableAndUnresolvable. */
		fail(s, p, true, "no nodes available to schedule pods", 0, -1, SID_NONE);
		return;
	}
	diagnosis_reset(s, &s->diag, all);
	if (s->cap_feasible < all)
		return; /* out of memory: left in flight, retried on its next event */
	struct cycle c = { .s = s, .pod = p };
	struct status st;
	int code = cycle_prefilter(&c, &st);
	struct snode *chosen = NULL;
	uint32_t n_feasible = 0;
	if (code == ST_ERROR) {
		cycle_clear(&c);
		fail(s, p, false, "running PreFilter plugins failed", 0, 0, SID_NONE);
		return;
	}
	if (code != ST_SUCCESS) {
		s->diag.prefilter_failed = true;
		s->diag.prefilter_reason = st.n ? st.reasons[0] : 0;
		s->diag.absent = st;
		s->diag.has_absent = true;
		s->diag.plugins |= 1u << st.plugin;
	} else if ((chosen = try_nominated(&c))) {
		n_feasible = 1;
	} else {
		struct snode **nodes = s->list;
		uint32_t n = all;
		struct snode **narrowed = NULL;
		if (c.pre_nodes) {
			narrowed = malloc(MAX(c.n_pre_nodes, 1) * sizeof(*narrowed));
			if (narrowed) {
				n = narrowed_nodes(&c, narrowed);
				nodes = narrowed;
			}
			_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
			strbuf_puts(&msg, "node(s) didn't satisfy plugin(s) ");
			plugin_list(&msg, c.pre_plugins);
			s->diag.absent = (struct status){ .code = ST_UNRESOLVABLE, .n = 1 };
			s->diag.absent.reasons[0] = reason_id(s, strbuf_str(&msg));
			s->diag.has_absent = true;
		}
		uint32_t processed = 0;
		if (n)
			n_feasible = find_feasible(&c, nodes, n, nodes_to_find(s, n), &processed);
		s->next_start = (s->next_start + processed) % all;
		free(narrowed);
		if (n_feasible == 1) {
			chosen = s->feasible[0];
		} else if (n_feasible > 1) {
			/* Kept across cycles: a malloc of 1 KiB or more consolidates glibc's fastbins. */
			if (n_feasible > s->cap_scores) {
				int64_t *t = realloc(s->total, n_feasible * sizeof(*t));
				if (t)
					s->total = t;
				int64_t *u = t ? realloc(s->scores, n_feasible * sizeof(*u)) : NULL;
				if (u) {
					s->scores = u;
					s->cap_scores = n_feasible;
				}
			}
			if (s->cap_scores >= n_feasible &&
			    score_nodes(&c, s->feasible, n_feasible, s->total, s->scores, NULL) ==
				    0)
				chosen = s->feasible[select_host(s, s->total, n_feasible)];
			else
				chosen = s->feasible[0];
		}
	}
	if (chosen) {
		cycle_clear(&c);
		cache_nominate(s, p, NULL);
		json_t *applies = NULL;
		if (p->n_claims && vol_assume(s, p, chosen, &applies) < 0) {
			fail(s, p, false, "assuming the pod's volumes: out of memory", 0, 0,
			     SID_NONE);
			return;
		}
		cache_add_pod(s, p, chosen);
		p->state = POD_ASSUMED;
		bind_queue(s, p, chosen, applies);
		return;
	}
	/* FitError: try preemption, then report. */
	int nominate = 0;
	sid nominee = SID_NONE;
	if (!s->opts.no_preemption) {
		int r = preempt(s, &c, &s->diag, &nominee);
		nominate = r > 0 ? 1 : r == 0 ? -1 : 0;
	}
	cycle_clear(&c);
	_cleanup_free_ char *msg = fit_error_message(s, all, &s->diag);
	fail(s, p, true, msg ? msg : "0 nodes are available", s->diag.plugins, nominate, nominee);
}

/*
 * For tests: the nodes that pass the filters for pod (an object the scheduler does not queue)
 * in list order, and each score plugin's normalised score on them. 0 or KORCH_ENOMEM.
 */
int
scheduler_test_scores(struct scheduler *s, const json_t *obj, char ***ret_nodes,
		      int64_t (**ret_scores)[PL_COUNT], uint32_t *ret_n)
{
	struct spod *p = calloc(1, sizeof(*p));
	if (!p || decode_pod(s, obj, p) < 0) {
		if (p)
			pod_clear(s, p);
		free(p);
		return KORCH_ENOMEM;
	}
	cache_rebuild_list(s);
	diagnosis_reset(s, &s->diag, s->n_list);
	struct cycle c = { .s = s, .pod = p };
	struct status st;
	uint32_t n = 0;
	struct snode **nodes = calloc(s->n_list + 1, sizeof(*nodes));
	char **names = calloc(s->n_list + 1, sizeof(*names));
	int64_t(*scores)[PL_COUNT] = calloc(s->n_list + 1, sizeof(*scores));
	int64_t *total = calloc(s->n_list + 1, sizeof(*total));
	int64_t *scratch = calloc(s->n_list + 1, sizeof(*scratch));
	int r = KORCH_ENOMEM;
	if (!nodes || !names || !scores || !total || !scratch)
		goto out;
	if (cycle_prefilter(&c, &st) == ST_SUCCESS)
		for (uint32_t i = 0; i < s->n_list; i++)
			if (cycle_filter(&c, s->list[i], &st) == ST_SUCCESS)
				nodes[n++] = s->list[i];
	if (n && score_nodes(&c, nodes, n, total, scratch, scores) < 0)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		if (!(names[i] = strdup(nodes[i]->name)))
			goto out;
	*ret_nodes = steal_pointer(&names);
	*ret_scores = steal_pointer(&scores);
	*ret_n = n;
	r = 0;
out:
	cycle_clear(&c);
	if (names)
		for (uint32_t i = 0; i < n; i++)
			free(names[i]);
	free(names);
	free(scores);
	free(nodes);
	free(total);
	free(scratch);
	pod_clear(s, p);
	free(p);
	return r;
}
