/*
 * filters.c - the node-local filters of the default profile: NodeUnschedulable, NodeName,
 * TaintToleration, NodeAffinity (with its PreFilter's node-name narrowing), NodePorts and
 * NodeResourcesFit, with kube-scheduler 1.32's status codes and reason texts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "scheduler/sched-internal.h"

static void
reject(struct status *st, uint8_t code, uint16_t reason)
{
	st->code = code;
	if (st->n < STATUS_MAX_REASONS)
		st->reasons[st->n++] = reason;
}

/* NodeUnschedulable: spec.unschedulable, unless the pod tolerates the unschedulable taint. */
void
filter_node_unschedulable(struct cycle *c, struct snode *n, struct status *st)
{
	if (!n->unschedulable)
		return;
	struct taint t = { c->s->k_unschedulable, c->s->s_empty, EFFECT_NO_SCHEDULE };
	if (!tols_match(c->pod->tols, c->pod->n_tols, &t))
		reject(st, ST_UNRESOLVABLE, R_UNSCHEDULABLE);
}

void
filter_node_name(struct cycle *c, struct snode *n, struct status *st)
{
	if (c->pod->node && c->pod->node != n->name_id)
		reject(st, ST_UNRESOLVABLE, R_NODE_NAME);
}

/* TaintToleration: the first NoSchedule or NoExecute taint the pod does not tolerate. */
void
filter_taints(struct cycle *c, struct snode *n, struct status *st)
{
	const struct taint *t = snode_untolerated_taint(n, c->pod->tols, c->pod->n_tols);
	if (!t)
		return;
	char reason[1024];
	snprintf(reason, sizeof(reason), "node(s) had untolerated taint {%s: %s}",
		 intern_str(&c->s->strs, t->key), intern_str(&c->s->strs, t->value));
	reject(st, ST_UNRESOLVABLE, reason_id(c->s, reason));
}

/*
 * NodeAffinity's PreFilter: Skip without a nodeSelector or required affinity; when every
 * required term names nodes (matchFields metadata.name In), only those nodes are considered,
 * and terms naming disjoint nodes conflict.
 */
void
prefilter_node_affinity(struct cycle *c, struct status *st)
{
	const struct spod *p = c->pod;
	if (!p->has_required) {
		st->code = ST_SKIP;
		return;
	}
	if (!p->required.has_terms || p->required.n_terms == 0)
		return;
	sid *names = NULL;
	uint32_t n_names = 0;
	for (uint32_t i = 0; i < p->required.n_terms; i++) {
		const struct nterm *t = &p->required.terms[i];
		sid *term_names = NULL;
		uint32_t n_term = 0;
		bool has = false;
		for (uint32_t f = 0; f < t->n_fields; f++) {
			const struct req *r = &t->fields[f];
			if (r->op != OP_IN || r->key != intern_find(&c->s->strs, "metadata.name"))
				continue;
			if (!has) {
				term_names = malloc(MAX(r->n, 1) * sizeof(*term_names));
				if (!term_names)
					goto oom;
				for (uint32_t k = 0; k < r->n; k++)
					term_names[n_term++] = r->vals[k];
				has = true;
				continue;
			}
			uint32_t kept = 0;
			for (uint32_t k = 0; k < n_term; k++) {
				bool in = false;
				for (uint32_t v = 0; v < r->n; v++)
					in |= r->vals[v] == term_names[k];
				if (in)
					term_names[kept++] = term_names[k];
			}
			n_term = kept;
		}
		if (!has) {
			/* A term without node names allows every node: no narrowing. */
			free(names);
			return;
		}
		sid *u = realloc(names, (n_names + n_term + 1) * sizeof(*u));
		if (!u) {
			free(term_names);
			goto oom;
		}
		names = u;
		for (uint32_t k = 0; k < n_term; k++) {
			bool dup = false;
			for (uint32_t j = 0; j < n_names; j++)
				dup |= names[j] == term_names[k];
			if (!dup)
				names[n_names++] = term_names[k];
		}
		free(term_names);
	}
	if (n_names == 0)
		reject(st, ST_UNRESOLVABLE, R_AFFINITY_CONFLICT);
	else if (cycle_narrow(c, PL_NODE_AFFINITY, names, n_names) < 0)
		st->code = ST_ERROR;
	free(names);
	return;
oom:
	free(names);
	st->code = ST_ERROR;
}

void
filter_node_affinity(struct cycle *c, struct snode *n, struct status *st)
{
	if (!reqaff_match(&c->s->strs, &c->pod->required, n))
		reject(st, ST_UNRESOLVABLE, R_NODE_AFFINITY);
}

void
prefilter_ports(struct cycle *c, struct status *st)
{
	if (c->pod->n_ports == 0)
		st->code = ST_SKIP;
}

/* HostPortInfo.CheckConflict: 0.0.0.0 conflicts with any address, others with themselves. */
static bool
port_conflict(const struct scheduler *s, const struct snode *n, const struct hostport *want)
{
	for (uint32_t i = 0; i < n->n_ports; i++) {
		const struct hostport *u = &n->ports[i];
		if (u->proto != want->proto || u->port != want->port)
			continue;
		if (want->ip == s->s_any_ip || u->ip == s->s_any_ip || u->ip == want->ip)
			return true;
	}
	return false;
}

void
filter_ports(struct cycle *c, struct snode *n, struct status *st)
{
	for (uint32_t i = 0; i < c->pod->n_ports; i++)
		if (port_conflict(c->s, n, &c->pod->ports[i])) {
			reject(st, ST_UNSCHED, R_PORTS);
			return;
		}
}

/* NodeResourcesFit (fitsRequest): every reason is kept, pods first. */
void
filter_fit(struct cycle *c, struct snode *n, struct status *st)
{
	const struct spod *p = c->pod;
	if ((int64_t)n->n_pods + 1 > n->alloc.pods)
		reject(st, ST_UNSCHED, R_TOO_MANY_PODS);
	if (p->req.cpu == 0 && p->req.mem == 0 && p->req.eph == 0 && p->req.nsc == 0)
		return;
	if (p->req.cpu > 0 && p->req.cpu > n->alloc.cpu - n->req.cpu)
		reject(st, ST_UNSCHED, R_INSUFFICIENT_CPU);
	if (p->req.mem > 0 && p->req.mem > n->alloc.mem - n->req.mem)
		reject(st, ST_UNSCHED, R_INSUFFICIENT_MEMORY);
	if (p->req.eph > 0 && p->req.eph > n->alloc.eph - n->req.eph)
		reject(st, ST_UNSCHED, R_INSUFFICIENT_EPHEMERAL);
	for (uint32_t i = 0; i < p->req.nsc; i++) {
		const struct scalar *sc = &p->req.sc[i];
		if (sc->v == 0 ||
		    sc->v <= res_scalar(&n->alloc, sc->name) - res_scalar(&n->req, sc->name))
			continue;
		char reason[512];
		snprintf(reason, sizeof(reason), "Insufficient %s",
			 intern_str(&c->s->strs, sc->name));
		reject(st, ST_UNSCHED, reason_id(c->s, reason));
	}
}
