/*
 * decode.c - pods, nodes, claims and volumes decoded from their JSON once per change into the
 * typed structs the plugins read (strings interned, quantities as integers, selectors compiled),
 * so that filtering and scoring never walk a JSON tree. Objects reach here after the write path
 * validated them; a field of the wrong type is read as absent.
 */
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "base/util.h"
#include "scheduler/sched-internal.h"

#define DEFAULT_MILLI_CPU_REQUEST 100              /* schedutil.DefaultMilliCPURequest */
#define DEFAULT_MEMORY_REQUEST (200 * 1024 * 1024) /* schedutil.DefaultMemoryRequest */

static const json_t *
jget(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static sid
intern_cstr(struct scheduler *s, const char *str)
{
	return intern_get(&s->strs, str ? str : "", str ? strlen(str) : 0);
}

static int
cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	return x->k < y->k ? -1 : x->k > y->k;
}

int
decode_labels(struct scheduler *s, const json_t *map, struct labels *ret)
{
	*ret = (struct labels){ 0 };
	size_t n = json_object_size(map);
	if (!n)
		return 0;
	ret->kv = malloc(n * sizeof(*ret->kv));
	if (!ret->kv)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)map, k, v) {
		if (!json_is_string(v))
			continue;
		ret->kv[ret->n].k = intern_cstr(s, k);
		ret->kv[ret->n].v = intern_cstr(s, json_string_value(v));
		ret->n++;
	}
	qsort(ret->kv, ret->n, sizeof(*ret->kv), cmp_kv);
	return 0;
}

static int
cmp_sid(const void *a, const void *b)
{
	sid x = *(const sid *)a, y = *(const sid *)b;
	return x < y ? -1 : x > y;
}

/* One requirement from key, an operator name and a values array (NodeSelectorRequirement). */
static int
decode_req(struct scheduler *s, const char *key, const char *op, const json_t *values,
	   struct req *r)
{
	*r = (struct req){ .key = intern_cstr(s, key) };
	size_t nv = json_array_size(values);
	if (streq(op, "In") || streq(op, "NotIn")) {
		r->op = streq(op, "In") ? OP_IN : OP_NOT_IN;
		if (nv == 0)
			r->bad = true;
		r->vals = nv ? calloc(nv, sizeof(*r->vals)) : NULL;
		if (nv && !r->vals)
			return -1;
		size_t i;
		json_t *v;
		json_array_foreach (values, i, v)
			r->vals[r->n++] = intern_cstr(s, json_string_value(v));
		if (r->n)
			qsort(r->vals, r->n, sizeof(*r->vals), cmp_sid);
	} else if (streq(op, "Exists") || streq(op, "DoesNotExist")) {
		r->op = streq(op, "Exists") ? OP_EXISTS : OP_DOES_NOT_EXIST;
		r->bad = nv != 0;
	} else if (streq(op, "Gt") || streq(op, "Lt")) {
		r->op = streq(op, "Gt") ? OP_GT : OP_LT;
		const char *v = json_string_value(json_array_get(values, 0));
		r->bad = nv != 1 || !v || parse_int64(v, &r->num) < 0;
	} else {
		r->op = OP_IN;
		r->bad = true;
	}
	return 0;
}

/* A metav1.LabelSelector; NULL (JSON null or missing) selects nothing. */
int
decode_lsel_json(struct scheduler *s, const json_t *sel, struct lsel *ret)
{
	*ret = (struct lsel){ 0 };
	if (!json_is_object(sel)) {
		ret->nothing = true;
		return 0;
	}
	const json_t *ml = jget(sel, "matchLabels"), *me = jget(sel, "matchExpressions");
	size_t n = json_object_size(ml) + json_array_size(me);
	if (!n)
		return 0;
	ret->reqs = calloc(n, sizeof(*ret->reqs));
	if (!ret->reqs)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)ml, k, v) {
		json_t *vals = json_pack("[O]", v);
		int r = vals ? decode_req(s, k, "In", vals, &ret->reqs[ret->n]) : -1;
		json_decref(vals);
		if (r < 0)
			return -1;
		ret->n++;
	}
	size_t i;
	json_array_foreach (me, i, v) {
		const char *op = jstr(v, "operator");
		/* A LabelSelector knows In, NotIn, Exists and DoesNotExist only. */
		if (decode_req(s, jstr(v, "key") ?: "", op, jget(v, "values"), &ret->reqs[ret->n]) <
		    0)
			return -1;
		if (streq(op, "Gt") || streq(op, "Lt"))
			ret->reqs[ret->n].bad = true;
		ret->n++;
	}
	return 0;
}

/* A map of labels that must all be equal (spec.nodeSelector, a Service's selector). */
int
decode_map_selector(struct scheduler *s, const json_t *map, struct lsel *ret)
{
	*ret = (struct lsel){ 0 };
	size_t n = json_object_size(map);
	if (!n)
		return 0;
	ret->reqs = calloc(n, sizeof(*ret->reqs));
	if (!ret->reqs)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)map, k, v) {
		struct req *r = &ret->reqs[ret->n++];
		*r = (struct req){ .key = intern_cstr(s, k), .op = OP_IN, .n = 1 };
		r->vals = malloc(sizeof(*r->vals));
		if (!r->vals)
			return -1;
		r->vals[0] = intern_cstr(s, json_string_value(v));
	}
	return 0;
}

/* A NodeSelectorTerm; an empty one, or one that does not parse, matches nothing. */
static int
decode_nterm(struct scheduler *s, const json_t *term, struct nterm *ret)
{
	*ret = (struct nterm){ 0 };
	const json_t *me = jget(term, "matchExpressions"), *mf = jget(term, "matchFields");
	if (json_array_size(me) + json_array_size(mf) == 0) {
		ret->skip = true;
		return 0;
	}
	size_t n = json_array_size(me);
	if (n && !(ret->labels.reqs = calloc(n, sizeof(*ret->labels.reqs))))
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach (me, i, e) {
		struct req *r = &ret->labels.reqs[ret->labels.n];
		if (decode_req(s, jstr(e, "key") ?: "", jstr(e, "operator"), jget(e, "values"), r) <
		    0)
			return -1;
		ret->labels.n++;
		ret->skip |= r->bad;
	}
	n = json_array_size(mf);
	if (n && !(ret->fields = calloc(n, sizeof(*ret->fields))))
		return -1;
	json_array_foreach (mf, i, e) {
		struct req *r = &ret->fields[ret->n_fields];
		const char *op = jstr(e, "operator");
		if (decode_req(s, jstr(e, "key") ?: "", op, jget(e, "values"), r) < 0)
			return -1;
		ret->n_fields++;
		/* Only metadata.name In/NotIn one value (NodeSelectorRequirementsAsFieldSelector). */
		if (!streq(jstr(e, "key"), "metadata.name") ||
		    !(streq(op, "In") || streq(op, "NotIn")) ||
		    json_array_size(jget(e, "values")) != 1)
			r->bad = true;
		ret->skip |= r->bad;
	}
	return 0;
}

int
decode_nterms(struct scheduler *s, const json_t *terms, struct nterm **ret, uint32_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	size_t n = json_array_size(terms);
	if (!n)
		return 0;
	struct nterm *t = calloc(n, sizeof(*t));
	if (!t)
		return -1;
	*ret = t;
	size_t i;
	json_t *term;
	json_array_foreach (terms, i, term) {
		if (decode_nterm(s, term, &t[*ret_n]) < 0)
			return -1;
		(*ret_n)++;
	}
	return 0;
}

/* Adds "key in (value of the pod's label)" or "notin" to a selector (matchLabelKeys). */
static int
lsel_add_label_req(struct scheduler *s, struct lsel *sel, sid key, sid value, bool in)
{
	if (sel->nothing)
		return 0;
	struct req *reqs = realloc(sel->reqs, (sel->n + 1) * sizeof(*reqs));
	if (!reqs)
		return -1;
	sel->reqs = reqs;
	struct req *r = &reqs[sel->n];
	*r = (struct req){ .key = key, .op = in ? OP_IN : OP_NOT_IN, .n = 1 };
	r->vals = malloc(sizeof(*r->vals));
	if (!r->vals)
		return -1;
	intern_ref(&s->strs, key);
	intern_ref(&s->strs, value);
	r->vals[0] = value;
	sel->n++;
	return 0;
}

/* Merges matchLabelKeys (In the pod's value) and mismatchLabelKeys (NotIn) into sel. */
static int
merge_label_keys(struct scheduler *s, const struct labels *own, const json_t *match,
		 const json_t *mismatch, struct lsel *sel)
{
	const json_t *lists[] = { match, mismatch };
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *k;
		json_array_foreach (lists[l], i, k) {
			sid key = intern_find(&s->strs, json_string_value(k) ?: "");
			sid v = key ? labels_get(own, key) : SID_NONE;
			if (v && lsel_add_label_req(s, sel, key, v, l == 0) < 0)
				return -1;
		}
	}
	return 0;
}

static int
decode_aterm(struct scheduler *s, const struct spod *p, const json_t *term, int32_t weight,
	     struct aterm *ret)
{
	*ret = (struct aterm){ .weight = weight };
	if (decode_lsel_json(s, jget(term, "labelSelector"), &ret->sel) < 0)
		return -1;
	if (merge_label_keys(s, &p->labels, jget(term, "matchLabelKeys"),
			     jget(term, "mismatchLabelKeys"), &ret->sel) < 0)
		return -1;
	const json_t *nss = jget(term, "namespaces");
	if (json_array_size(nss)) {
		ret->ns = calloc(json_array_size(nss), sizeof(*ret->ns));
		if (!ret->ns)
			return -1;
		size_t i;
		json_t *ns;
		json_array_foreach (nss, i, ns)
			ret->ns[ret->n_ns++] = intern_cstr(s, json_string_value(ns));
	}
	const json_t *nsel = jget(term, "namespaceSelector");
	if (json_is_object(nsel)) {
		ret->has_ns_sel = true;
		if (decode_lsel_json(s, nsel, &ret->ns_sel) < 0)
			return -1;
	}
	ret->topo = intern_cstr(s, jstr(term, "topologyKey"));
	return 0;
}

static int
decode_aterms(struct scheduler *s, const struct spod *p, const json_t *list, bool weighted,
	      struct aterm **ret, uint32_t *ret_n)
{
	size_t n = json_array_size(list);
	if (!n)
		return 0;
	if (!(*ret = calloc(n, sizeof(**ret))))
		return -1;
	size_t i;
	json_t *t;
	json_array_foreach (list, i, t) {
		const json_t *term = weighted ? jget(t, "podAffinityTerm") : t;
		int32_t w = weighted ? (int32_t)json_integer_value(jget(t, "weight")) : 0;
		if (decode_aterm(s, p, term, w, &(*ret)[*ret_n]) < 0)
			return -1;
		(*ret_n)++;
	}
	return 0;
}

static void
aterms_free(struct intern *t, struct aterm *a, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		lsel_free(t, &a[i].sel);
		lsel_free(t, &a[i].ns_sel);
		for (uint32_t j = 0; j < a[i].n_ns; j++)
			intern_unref(t, a[i].ns[j]);
		free(a[i].ns);
		intern_unref(t, a[i].topo);
	}
	free(a);
}

static uint8_t
effect_of(const char *e)
{
	if (streq(e, "NoSchedule"))
		return EFFECT_NO_SCHEDULE;
	if (streq(e, "PreferNoSchedule"))
		return EFFECT_PREFER_NO_SCHEDULE;
	if (streq(e, "NoExecute"))
		return EFFECT_NO_EXECUTE;
	return EFFECT_ALL;
}

static int
decode_tolerations(struct scheduler *s, const json_t *list, struct spod *p)
{
	size_t n = json_array_size(list);
	if (!n)
		return 0;
	if (!(p->tols = calloc(n, sizeof(*p->tols))))
		return -1;
	size_t i;
	json_t *t;
	json_array_foreach (list, i, t) {
		struct toleration *tol = &p->tols[p->n_tols++];
		const char *key = jstr(t, "key"), *op = jstr(t, "operator");
		tol->key = key && *key ? intern_cstr(s, key) : SID_NONE;
		tol->value = intern_cstr(s, jstr(t, "value"));
		tol->exists = streq(op, "Exists");
		tol->bad_op = op && *op && !tol->exists && !streq(op, "Equal");
		tol->effect = effect_of(jstr(t, "effect"));
		const json_t *secs = jget(t, "tolerationSeconds");
		tol->has_seconds = json_is_integer(secs);
		tol->seconds = json_integer_value(secs);
	}
	return 0;
}

/* One container's requests, as framework.Resource.Add reads them. */
struct creq {
	int64_t cpu, mem, eph;
	bool has_cpu, has_mem;
	struct scalar sc[8];
	uint32_t nsc;
};

/* Interned names taken while adding requests up, released once the pod holds its own. */
struct pins {
	sid ids[64];
	uint32_t n;
};

static void
decode_creq(struct scheduler *s, const json_t *requests, struct creq *r, struct pins *pins)
{
	*r = (struct creq){ 0 };
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)requests, k, v) {
		struct quantity q;
		if (quantity_from_json(v, &q, NULL) < 0)
			continue;
		if (streq(k, "cpu")) {
			r->cpu = quantity_milli_value(&q);
			r->has_cpu = true;
		} else if (streq(k, "memory")) {
			r->mem = quantity_value(&q);
			r->has_mem = true;
		} else if (streq(k, "ephemeral-storage")) {
			r->eph = quantity_value(&q);
		} else if (is_scalar_resource(k) && r->nsc < ARRAY_SIZE(r->sc) &&
			   pins->n < ARRAY_SIZE(pins->ids)) {
			sid name = intern_cstr(s, k);
			pins->ids[pins->n++] = name;
			r->sc[r->nsc++] = (struct scalar){ name, quantity_value(&q) };
		}
	}
}

static void
creq_add(struct creq *dst, const struct creq *src)
{
	dst->cpu += src->cpu;
	dst->mem += src->mem;
	dst->eph += src->eph;
	for (uint32_t i = 0; i < src->nsc; i++) {
		uint32_t j = 0;
		while (j < dst->nsc && dst->sc[j].name != src->sc[i].name)
			j++;
		if (j == dst->nsc) {
			if (dst->nsc == ARRAY_SIZE(dst->sc))
				continue;
			dst->sc[dst->nsc++] = (struct scalar){ src->sc[i].name, 0 };
		}
		dst->sc[j].v += src->sc[i].v;
	}
}

static void
creq_max(struct creq *dst, const struct creq *src)
{
	dst->cpu = MAX(dst->cpu, src->cpu);
	dst->mem = MAX(dst->mem, src->mem);
	dst->eph = MAX(dst->eph, src->eph);
	for (uint32_t i = 0; i < src->nsc; i++) {
		uint32_t j = 0;
		while (j < dst->nsc && dst->sc[j].name != src->sc[i].name)
			j++;
		if (j == dst->nsc) {
			if (dst->nsc == ARRAY_SIZE(dst->sc))
				continue;
			dst->sc[dst->nsc++] = (struct scalar){ src->sc[i].name, 0 };
		}
		dst->sc[j].v = MAX(dst->sc[j].v, src->sc[i].v);
	}
}

static void
apply_defaults(struct creq *c)
{
	if (!c->has_cpu)
		c->cpu = DEFAULT_MILLI_CPU_REQUEST;
	if (!c->has_mem)
		c->mem = DEFAULT_MEMORY_REQUEST;
}

/*
 * resourcehelper.PodRequests: the sum of the app containers and of the sidecars (init
 * containers with restartPolicy Always), or the largest init container plus the sidecars started
 * before it, whichever is larger; non_zero applies the scheduler's defaults (100m, 200Mi) to
 * containers without a cpu or memory request.
 */
static void
pod_requests(struct scheduler *s, const json_t *spec, bool non_zero, struct creq *ret,
	     struct pins *pins)
{
	struct creq sum = { 0 }, sidecars = { 0 }, init_max = { 0 }, c;
	size_t i;
	json_t *ctr;
	json_array_foreach (jget(spec, "containers"), i, ctr) {
		decode_creq(s, jget(jget(ctr, "resources"), "requests"), &c, pins);
		if (non_zero)
			apply_defaults(&c);
		creq_add(&sum, &c);
	}
	json_array_foreach (jget(spec, "initContainers"), i, ctr) {
		decode_creq(s, jget(jget(ctr, "resources"), "requests"), &c, pins);
		if (non_zero)
			apply_defaults(&c);
		struct creq use;
		if (streq(jstr(ctr, "restartPolicy"), "Always")) {
			creq_add(&sum, &c);
			creq_add(&sidecars, &c);
			use = sidecars;
		} else {
			use = c;
			creq_add(&use, &sidecars);
		}
		creq_max(&init_max, &use);
	}
	creq_max(&sum, &init_max);
	*ret = sum;
}

static int
decode_resources(struct scheduler *s, const json_t *spec, struct spod *p)
{
	struct creq r, nz;
	struct pins pins = { .n = 0 };
	pod_requests(s, spec, false, &r, &pins);
	pod_requests(s, spec, true, &nz, &pins);
	p->req.cpu = r.cpu;
	p->req.mem = r.mem;
	p->req.eph = r.eph;
	p->nz_cpu = nz.cpu;
	p->nz_mem = nz.mem;
	int ret = 0;
	for (uint32_t i = 0; i < r.nsc && ret == 0; i++) {
		if (res_scalar_add(&p->req, r.sc[i].name, r.sc[i].v) < 0)
			ret = -1;
		else
			intern_ref(&s->strs, r.sc[i].name);
	}
	for (uint32_t i = 0; i < pins.n; i++)
		intern_unref(&s->strs, pins.ids[i]);
	return ret;
}

/* normalizedImageName: a name without a tag gets ":latest". */
static sid
normalized_image(struct scheduler *s, const char *image)
{
	const char *colon = strrchr(image, ':'), *slash = strrchr(image, '/');
	if (!colon || (slash && colon < slash)) {
		size_t len = strlen(image);
		char *buf = malloc(len + sizeof(":latest"));
		if (!buf)
			return SID_NONE;
		memcpy(buf, image, len);
		memcpy(buf + len, ":latest", sizeof(":latest"));
		sid id = intern_get(&s->strs, buf, strlen(buf));
		free(buf);
		return id;
	}
	return intern_cstr(s, image);
}

static int
decode_containers(struct scheduler *s, const json_t *spec, struct spod *p)
{
	const json_t *lists[] = { jget(spec, "initContainers"), jget(spec, "containers") };
	size_t total = json_array_size(lists[0]) + json_array_size(lists[1]);
	if (total && !(p->images = calloc(total, sizeof(*p->images))))
		return -1;
	size_t n_ports = 0;
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *c;
		json_array_foreach (lists[l], i, c) {
			p->n_containers++;
			const char *image = jstr(c, "image");
			if (image && *image)
				p->images[p->n_images++] = normalized_image(s, image);
			if (l == 1)
				n_ports += json_array_size(jget(c, "ports"));
		}
	}
	if (!n_ports)
		return 0;
	if (!(p->ports = calloc(n_ports, sizeof(*p->ports))))
		return -1;
	size_t i;
	json_t *c;
	json_array_foreach (lists[1], i, c) {
		size_t k;
		json_t *port;
		json_array_foreach (jget(c, "ports"), k, port) {
			json_int_t hp = json_integer_value(jget(port, "hostPort"));
			if (hp <= 0)
				continue;
			const char *ip = jstr(port, "hostIP"), *proto = jstr(port, "protocol");
			struct hostport *h = &p->ports[p->n_ports++];
			h->ip = intern_cstr(s, ip && *ip ? ip : "0.0.0.0");
			h->proto = streq(proto, "UDP") ? 1 : streq(proto, "SCTP") ? 2 : 0;
			h->port = (int32_t)hp;
		}
	}
	return 0;
}

static int
decode_spread(struct scheduler *s, const json_t *list, struct spod *p)
{
	size_t n = json_array_size(list);
	if (!n)
		return 0;
	if (!(p->spread = calloc(n, sizeof(*p->spread))))
		return -1;
	size_t i;
	json_t *c;
	json_array_foreach (list, i, c) {
		struct tsc *t = &p->spread[p->n_spread++];
		t->max_skew = (int32_t)json_integer_value(jget(c, "maxSkew"));
		t->topo = intern_cstr(s, jstr(c, "topologyKey"));
		t->hard = !streq(jstr(c, "whenUnsatisfiable"), "ScheduleAnyway");
		const json_t *md = jget(c, "minDomains");
		t->min_domains = json_is_integer(md) ? (int32_t)json_integer_value(md) : 1;
		t->honor_affinity = !streq(jstr(c, "nodeAffinityPolicy"), "Ignore");
		t->honor_taints = streq(jstr(c, "nodeTaintsPolicy"), "Honor");
		if (decode_lsel_json(s, jget(c, "labelSelector"), &t->sel) < 0)
			return -1;
		/* matchLabelKeys: the pod's own values of these keys join the selector. */
		if (merge_label_keys(s, &p->labels, jget(c, "matchLabelKeys"), NULL, &t->sel) < 0)
			return -1;
	}
	return 0;
}

static int
decode_affinity(struct scheduler *s, const json_t *affinity, struct spod *p)
{
	const json_t *na = jget(affinity, "nodeAffinity");
	const json_t *req = jget(na, "requiredDuringSchedulingIgnoredDuringExecution");
	if (json_is_object(req)) {
		p->required.has_terms = true;
		if (decode_nterms(s, jget(req, "nodeSelectorTerms"), &p->required.terms,
				  &p->required.n_terms) < 0)
			return -1;
	}
	const json_t *pref = jget(na, "preferredDuringSchedulingIgnoredDuringExecution");
	size_t n = json_array_size(pref);
	if (n && !(p->preferred = calloc(n, sizeof(*p->preferred))))
		return -1;
	size_t i;
	json_t *t;
	json_array_foreach (pref, i, t) {
		int32_t w = (int32_t)json_integer_value(jget(t, "weight"));
		struct pterm *pt = &p->preferred[p->n_preferred];
		if (decode_nterm(s, jget(t, "preference"), &pt->term) < 0)
			return -1;
		pt->weight = w;
		p->n_preferred++;
		if (w == 0)
			pt->term.skip = true;
	}
	const json_t *pa = jget(affinity, "podAffinity"), *paa = jget(affinity, "podAntiAffinity");
	const char *rq = "requiredDuringSchedulingIgnoredDuringExecution";
	const char *pf = "preferredDuringSchedulingIgnoredDuringExecution";
	if (decode_aterms(s, p, jget(pa, rq), false, &p->aff, &p->n_aff) < 0 ||
	    decode_aterms(s, p, jget(paa, rq), false, &p->anti, &p->n_anti) < 0 ||
	    decode_aterms(s, p, jget(pa, pf), true, &p->aff_pref, &p->n_aff_pref) < 0 ||
	    decode_aterms(s, p, jget(paa, pf), true, &p->anti_pref, &p->n_anti_pref) < 0)
		return -1;
	return 0;
}

static void
decode_owner(struct scheduler *s, const json_t *meta, struct spod *p)
{
	size_t i;
	json_t *ref;
	json_array_foreach (jget(meta, "ownerReferences"), i, ref) {
		if (!json_is_true(jget(ref, "controller")))
			continue;
		const char *av = jstr(ref, "apiVersion"), *kind = jstr(ref, "kind");
		if (streq(av, "v1") && streq(kind, "ReplicationController"))
			p->owner_kind = OWNER_RC;
		else if (streq(av, "apps/v1") && streq(kind, "ReplicaSet"))
			p->owner_kind = OWNER_RS;
		else if (streq(av, "apps/v1") && streq(kind, "StatefulSet"))
			p->owner_kind = OWNER_SS;
		else
			p->owner_kind = OWNER_OTHER;
		const char *name = jstr(ref, "name") ?: "";
		size_t len = strlen(p->key) + strlen(name) + 1;
		char *key = malloc(len + 1);
		if (!key)
			return;
		const char *slash = strchr(p->key, '/');
		size_t nslen = slash ? (size_t)(slash - p->key) : 0;
		memcpy(key, p->key, nslen);
		key[nslen] = '/';
		strcpy(key + nslen + 1, name);
		p->owner = intern_cstr(s, key);
		free(key);
		return;
	}
}

static void
decode_status(struct scheduler *s, const json_t *status, struct spod *p)
{
	const char *nn = jstr(status, "nominatedNodeName");
	p->nominated = nn && *nn ? intern_cstr(s, nn) : SID_NONE;
	const char *st = jstr(status, "startTime");
	if (st)
		parse_rfc3339(st, &p->start_ns);
	size_t i;
	json_t *c;
	json_array_foreach (jget(status, "conditions"), i, c) {
		const char *type = jstr(c, "type");
		if (streq(type, "DisruptionTarget") && streq(jstr(c, "status"), "True") &&
		    streq(jstr(c, "reason"), "PreemptionByScheduler"))
			p->preempted = true;
		if (streq(type, "PodScheduled") && streq(jstr(c, "status"), "False")) {
			p->has_pod_condition_false = true;
			const char *m = jstr(c, "message");
			p->last_message = m ? strdup(m) : NULL;
		}
	}
}

/*
 * Fills p (zeroed by the caller) from a pod object; 0 or -1 when out of memory (p then holds
 * what was decoded so far, for pod_clear()).
 */
int
decode_pod(struct scheduler *s, const json_t *obj, struct spod *p)
{
	const json_t *meta = jget(obj, "metadata"), *spec = jget(obj, "spec");
	const char *ns = jstr(meta, "namespace") ?: "", *name = jstr(meta, "name") ?: "";
	size_t nslen = strlen(ns);
	if (!(p->key = malloc(nslen + strlen(name) + 2)))
		return -1;
	memcpy(p->key, ns, nslen);
	p->key[nslen] = '/';
	strcpy(p->key + nslen + 1, name);
	p->name = p->key + nslen + 1;
	p->uid = strdup(jstr(meta, "uid") ?: "");
	p->rv = strdup(jstr(meta, "resourceVersion") ?: "");
	if (!p->uid || !p->rv)
		return -1;
	p->ns = intern_cstr(s, ns);
	p->heap = -1;
	p->uslot = -1;
	p->aff_slot = -1;
	p->anti_slot = -1;
	const char *created = jstr(meta, "creationTimestamp");
	if (created)
		parse_rfc3339(created, &p->created_ns);
	p->deleting = jget(meta, "deletionTimestamp") != NULL;
	if (decode_labels(s, jget(meta, "labels"), &p->labels) < 0)
		return -1;
	decode_owner(s, meta, p);
	const char *sn = jstr(spec, "schedulerName");
	p->ours = streq(sn && *sn ? sn : "default-scheduler", s->scheduler_name);
	const char *node = jstr(spec, "nodeName");
	p->node = node && *node ? intern_cstr(s, node) : SID_NONE;
	p->priority = (int32_t)json_integer_value(jget(spec, "priority"));
	p->preempt_never = streq(jstr(spec, "preemptionPolicy"), "Never");
	const json_t *nsel = jget(spec, "nodeSelector");
	if (json_object_size(nsel)) {
		p->required.has_selector = true;
		if (decode_map_selector(s, nsel, &p->required.selector) < 0)
			return -1;
	}
	if (decode_affinity(s, jget(spec, "affinity"), p) < 0)
		return -1;
	p->has_required = p->required.has_selector || p->required.has_terms;
	if (decode_tolerations(s, jget(spec, "tolerations"), p) < 0 ||
	    decode_spread(s, jget(spec, "topologySpreadConstraints"), p) < 0 ||
	    decode_resources(s, spec, p) < 0 || decode_containers(s, spec, p) < 0)
		return -1;
	const json_t *vols = jget(spec, "volumes");
	size_t nv = 0, i;
	json_t *v;
	json_array_foreach (vols, i, v)
		if (jget(v, "persistentVolumeClaim"))
			nv++;
	if (nv && !(p->claims = calloc(nv, sizeof(*p->claims))))
		return -1;
	json_array_foreach (vols, i, v) {
		const char *claim = jstr(jget(v, "persistentVolumeClaim"), "claimName");
		if (!claim)
			continue;
		char *key = malloc(nslen + strlen(claim) + 2);
		if (!key)
			return -1;
		memcpy(key, ns, nslen);
		key[nslen] = '/';
		strcpy(key + nslen + 1, claim);
		p->claims[p->n_claims++] = intern_cstr(s, key);
		free(key);
	}
	decode_status(s, jget(obj, "status"), p);
	return 0;
}

/*
 * Whether a and b are objects with the same other members in the same order, each the very
 * same value (pointer) in both; members named x or y may differ, come or go.
 */
static bool
same_members_except(const json_t *a, const json_t *b, const char *x, const char *y)
{
	if (!json_is_object(a) || !json_is_object(b))
		return false;
	void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
	for (;;) {
		while (ia && (streq(json_object_iter_key(ia), x) ||
			      (y && streq(json_object_iter_key(ia), y))))
			ia = json_object_iter_next((json_t *)a, ia);
		while (ib && (streq(json_object_iter_key(ib), x) ||
			      (y && streq(json_object_iter_key(ib), y))))
			ib = json_object_iter_next((json_t *)b, ib);
		if (!ia || !ib)
			return !ia && !ib;
		if (json_object_iter_value(ia) != json_object_iter_value(ib) ||
		    !streq(json_object_iter_key(ia), json_object_iter_key(ib)))
			return false;
		ia = json_object_iter_next((json_t *)a, ia);
		ib = json_object_iter_next((json_t *)b, ib);
	}
}

/*
 * Whether obj is old_obj with only what a binding writes changed (spec.nodeName,
 * status.conditions, metadata.resourceVersion and managedFields), told from pointers alone: a
 * binding's object shares everything else with the version it was made from
 * (client_txn_bind() copies only the objects on the paths it writes, and the store hands that
 * object to the informers' handle as committed). Objects parsed apart share nothing and say
 * no; so does anything else that differs.
 */
bool
pod_binding_only(const json_t *old_obj, const json_t *obj)
{
	if (!json_is_object(old_obj) || !json_is_object(obj))
		return false;
	void *io = json_object_iter((json_t *)old_obj), *in = json_object_iter((json_t *)obj);
	for (; io && in; io = json_object_iter_next((json_t *)old_obj, io),
			 in = json_object_iter_next((json_t *)obj, in)) {
		const char *k = json_object_iter_key(in);
		const json_t *o = json_object_iter_value(io), *v = json_object_iter_value(in);
		if (!streq(json_object_iter_key(io), k))
			return false;
		if (o == v)
			continue;
		bool same = streq(k, "metadata")
				    ? same_members_except(o, v, "resourceVersion", "managedFields")
			    : streq(k, "spec")   ? same_members_except(o, v, "nodeName", NULL)
			    : streq(k, "status") ? same_members_except(o, v, "conditions", NULL)
						 : false;
		if (!same)
			return false;
	}
	return !io && !in;
}

/*
 * Brings p, decoded from the previous version, to obj when pod_binding_only() said that only
 * a binding's fields changed: the node, the resourceVersion and what the status says. 0, or
 * -1 when out of memory (p is then unchanged).
 */
int
decode_pod_binding(struct scheduler *s, const json_t *obj, struct spod *p)
{
	char *rv = strdup(jstr(jget(obj, "metadata"), "resourceVersion") ?: "");
	if (!rv)
		return -1;
	struct spod st = { 0 };
	decode_status(s, jget(obj, "status"), &st);
	free(p->rv);
	p->rv = rv;
	const char *node = jstr(jget(obj, "spec"), "nodeName");
	sid old_node = p->node;
	p->node = node && *node ? intern_cstr(s, node) : SID_NONE;
	intern_unref(&s->strs, old_node);
	intern_unref(&s->strs, p->nominated);
	p->nominated = st.nominated;
	p->start_ns = st.start_ns;
	p->preempted = st.preempted;
	p->has_pod_condition_false = st.has_pod_condition_false;
	free(p->last_message);
	p->last_message = st.last_message;
	return 0;
}

/* Drops everything decode_pod() filled in; the cache and queue fields are the caller's. */
void
pod_clear(struct scheduler *s, struct spod *p)
{
	struct intern *t = &s->strs;
	free(p->key);
	free(p->uid);
	free(p->rv);
	free(p->last_message);
	intern_unref(t, p->ns);
	labels_free(t, &p->labels);
	lsel_free(t, &p->required.selector);
	for (uint32_t i = 0; i < p->required.n_terms; i++)
		nterm_free(t, &p->required.terms[i]);
	free(p->required.terms);
	for (uint32_t i = 0; i < p->n_preferred; i++)
		nterm_free(t, &p->preferred[i].term);
	free(p->preferred);
	for (uint32_t i = 0; i < p->n_tols; i++) {
		intern_unref(t, p->tols[i].key);
		intern_unref(t, p->tols[i].value);
	}
	free(p->tols);
	aterms_free(t, p->aff, p->n_aff);
	aterms_free(t, p->anti, p->n_anti);
	aterms_free(t, p->aff_pref, p->n_aff_pref);
	aterms_free(t, p->anti_pref, p->n_anti_pref);
	for (uint32_t i = 0; i < p->n_spread; i++) {
		intern_unref(t, p->spread[i].topo);
		lsel_free(t, &p->spread[i].sel);
	}
	free(p->spread);
	for (uint32_t i = 0; i < p->n_ports; i++)
		intern_unref(t, p->ports[i].ip);
	free(p->ports);
	for (uint32_t i = 0; i < p->n_claims; i++)
		intern_unref(t, p->claims[i]);
	free(p->claims);
	for (uint32_t i = 0; i < p->n_images; i++)
		intern_unref(t, p->images[i]);
	free(p->images);
	for (uint32_t i = 0; i < p->req.nsc; i++)
		intern_unref(t, p->req.sc[i].name);
	free(p->req.sc);
	intern_unref(t, p->owner);
	intern_unref(t, p->node);
	intern_unref(t, p->nominated);
}

/* ---- nodes ---- */

static int
decode_resource_list(struct scheduler *s, const json_t *list, struct res *r)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)list, k, v) {
		struct quantity q;
		if (quantity_from_json(v, &q, NULL) < 0)
			continue;
		if (streq(k, "cpu"))
			r->cpu = quantity_milli_value(&q);
		else if (streq(k, "memory"))
			r->mem = quantity_value(&q);
		else if (streq(k, "ephemeral-storage"))
			r->eph = quantity_value(&q);
		else if (streq(k, "pods"))
			r->pods = quantity_value(&q);
		else if (is_scalar_resource(k)) {
			sid name = intern_cstr(s, k);
			if (res_scalar_add(r, name, quantity_value(&q)) < 0)
				return -1;
		}
	}
	return 0;
}

static bool
has_taint(const struct snode *n, sid key, uint8_t effect)
{
	for (uint32_t i = 0; i < n->n_taints; i++)
		if (n->taints[i].key == key && n->taints[i].effect == effect)
			return true;
	return false;
}

/*
 * The taints the node lifecycle controller gives a node by its conditions (TaintNodesByCondition
 * and the not-ready/unreachable NoSchedule taints), added here from the conditions themselves so
 * that a node that is not Ready takes no new pods even before that controller ran. A node that
 * never reported Ready counts as ready, as it does for Kubernetes until its grace period ends.
 */
static int
condition_taints(struct scheduler *s, const json_t *conditions, struct snode *n)
{
	static const struct {
		const char *type;   /* condition */
		const char *status; /* that status taints */
		const char *key;    /* with this key, effect NoSchedule */
	} map[] = {
		{ "Ready", "False", "node.kubernetes.io/not-ready" },
		{ "Ready", "Unknown", "node.kubernetes.io/unreachable" },
		{ "MemoryPressure", "True", "node.kubernetes.io/memory-pressure" },
		{ "DiskPressure", "True", "node.kubernetes.io/disk-pressure" },
		{ "PIDPressure", "True", "node.kubernetes.io/pid-pressure" },
		{ "NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable" },
	};
	size_t i;
	json_t *c;
	json_array_foreach (conditions, i, c) {
		for (size_t m = 0; m < ARRAY_SIZE(map); m++) {
			if (!streq(jstr(c, "type"), map[m].type) ||
			    !streq(jstr(c, "status"), map[m].status))
				continue;
			sid key = intern_cstr(s, map[m].key);
			if (has_taint(n, key, EFFECT_NO_SCHEDULE)) {
				intern_unref(&s->strs, key);
				continue;
			}
			struct taint *t = realloc(n->taints, (n->n_taints + 1) * sizeof(*t));
			if (!t) {
				intern_unref(&s->strs, key);
				return -1;
			}
			n->taints = t;
			n->taints[n->n_taints++] =
				(struct taint){ key, intern_cstr(s, ""), EFFECT_NO_SCHEDULE };
		}
	}
	return 0;
}

/* The node tree's zone key: region and zone labels (GetZoneKey), SID_NONE for none. */
static sid
zone_key(struct scheduler *s, const json_t *labels)
{
	const char *zone = jstr(labels, "failure-domain.beta.kubernetes.io/zone");
	if (!zone)
		zone = jstr(labels, "topology.kubernetes.io/zone");
	const char *region = jstr(labels, "failure-domain.beta.kubernetes.io/region");
	if (!region)
		region = jstr(labels, "topology.kubernetes.io/region");
	if ((!region || !*region) && (!zone || !*zone))
		return SID_NONE;
	char *key = NULL;
	if (asprintf(&key, "%s:\001:%s", region ? region : "", zone ? zone : "") < 0)
		return SID_NONE;
	sid id = intern_cstr(s, key);
	free(key);
	return id;
}

/* Fills n's decoded fields from a node object (the cache's fields stay). */
int
decode_node(struct scheduler *s, const json_t *obj, struct snode *n)
{
	const json_t *meta = jget(obj, "metadata"), *spec = jget(obj, "spec");
	const json_t *status = jget(obj, "status");
	if (decode_labels(s, jget(meta, "labels"), &n->labels) < 0)
		return -1;
	n->zone = zone_key(s, jget(meta, "labels"));
	n->unschedulable = json_is_true(jget(spec, "unschedulable"));
	const json_t *taints = jget(spec, "taints");
	size_t nt = json_array_size(taints);
	if (nt) {
		n->taints = calloc(nt, sizeof(*n->taints));
		n->spec_taints = calloc(nt, sizeof(*n->spec_taints));
		if (!n->taints || !n->spec_taints)
			return -1;
	}
	size_t i;
	json_t *t;
	json_array_foreach (taints, i, t) {
		struct taint x = { intern_cstr(s, jstr(t, "key")), intern_cstr(s, jstr(t, "value")),
				   effect_of(jstr(t, "effect")) };
		n->taints[n->n_taints++] = x;
		intern_ref(&s->strs, x.key);
		intern_ref(&s->strs, x.value);
		n->spec_taints[n->n_spec_taints++] = x;
	}
	if (condition_taints(s, jget(status, "conditions"), n) < 0)
		return -1;
	if (decode_resource_list(s, jget(status, "allocatable"), &n->alloc) < 0)
		return -1;
	const json_t *images = jget(status, "images");
	size_t ni = 0;
	json_array_foreach (images, i, t)
		ni += json_array_size(jget(t, "names"));
	if (ni && !(n->images = calloc(ni, sizeof(*n->images))))
		return -1;
	json_array_foreach (images, i, t) {
		size_t k;
		json_t *name;
		json_array_foreach (jget(t, "names"), k, name) {
			sid id = intern_cstr(s, json_string_value(name));
			bool dup = false;
			for (uint32_t j = 0; j < n->n_images; j++)
				dup |= n->images[j].name == id;
			if (dup) {
				intern_unref(&s->strs, id);
				continue;
			}
			n->images[n->n_images++] =
				(struct img){ id, json_integer_value(jget(t, "sizeBytes")) };
		}
	}
	return 0;
}

/* Drops the decoded fields of a node (not its pods or cache counters). */
void
node_clear(struct scheduler *s, struct snode *n)
{
	struct intern *t = &s->strs;
	labels_free(t, &n->labels);
	intern_unref(t, n->zone);
	n->zone = SID_NONE;
	for (uint32_t i = 0; i < n->n_taints; i++) {
		intern_unref(t, n->taints[i].key);
		intern_unref(t, n->taints[i].value);
	}
	for (uint32_t i = 0; i < n->n_spec_taints; i++) {
		intern_unref(t, n->spec_taints[i].key);
		intern_unref(t, n->spec_taints[i].value);
	}
	free(n->taints);
	free(n->spec_taints);
	n->taints = n->spec_taints = NULL;
	n->n_taints = n->n_spec_taints = 0;
	n->unschedulable = false;
	for (uint32_t i = 0; i < n->alloc.nsc; i++)
		intern_unref(t, n->alloc.sc[i].name);
	free(n->alloc.sc);
	n->alloc = (struct res){ 0 };
	for (uint32_t i = 0; i < n->n_images; i++)
		intern_unref(t, n->images[i].name);
	free(n->images);
	n->images = NULL;
	n->n_images = 0;
}

/* ---- claims and volumes ---- */

static void
access_modes(const json_t *modes, bool *rwo, bool *rwop, bool *rox, bool *rwx)
{
	size_t i;
	json_t *m;
	json_array_foreach (modes, i, m) {
		const char *v = json_string_value(m);
		*rwo |= streq(v, "ReadWriteOnce");
		*rwop |= streq(v, "ReadWriteOncePod");
		*rox |= streq(v, "ReadOnlyMany");
		*rwx |= streq(v, "ReadWriteMany");
	}
}

static int64_t
storage_of(const json_t *list)
{
	struct quantity q;
	if (quantity_from_json(jget(list, "storage"), &q, NULL) < 0)
		return 0;
	return quantity_value(&q);
}

struct sclaim *
decode_claim(struct scheduler *s, const json_t *obj)
{
	const json_t *meta = jget(obj, "metadata"), *spec = jget(obj, "spec");
	struct sclaim *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	char *key = NULL;
	if (asprintf(&key, "%s/%s", jstr(meta, "namespace") ?: "", jstr(meta, "name") ?: "") < 0) {
		free(c);
		return NULL;
	}
	c->key = intern_cstr(s, key);
	free(key);
	c->volume = strdup(jstr(spec, "volumeName") ?: "");
	if (!c->volume) {
		claim_free(s, c);
		return NULL;
	}
	const char *sc = jstr(spec, "storageClassName");
	c->storage_class = sc ? strdup(sc) : NULL;
	const char *phase = jstr(jget(obj, "status"), "phase");
	c->lost = streq(phase, "Lost");
	c->uid = strdup(jstr(meta, "uid") ?: "");
	c->rv = strdup(jstr(meta, "resourceVersion") ?: "");
	const char *sn = jstr(jget(meta, "annotations"), "volume.kubernetes.io/selected-node");
	c->selected_node = sn ? strdup(sn) : NULL;
	if (!c->uid || !c->rv || (sn && !c->selected_node)) {
		claim_free(s, c);
		return NULL;
	}
	c->bound = *c->volume && (streq(phase, "Bound") || jget(jget(meta, "annotations"),
								"pv.kubernetes.io/bind-completed"));
	c->deleting = jget(meta, "deletionTimestamp") != NULL;
	access_modes(jget(spec, "accessModes"), &c->rwo, &c->rwop, &c->rox, &c->rwx);
	c->request = storage_of(jget(jget(spec, "resources"), "requests"));
	if (!c->volume || (sc && !c->storage_class)) {
		claim_free(s, c);
		return NULL;
	}
	return c;
}

void
claim_free(struct scheduler *s, struct sclaim *c)
{
	if (!c)
		return;
	intern_unref(&s->strs, c->key);
	free(c->volume);
	free(c->storage_class);
	free(c->uid);
	free(c->rv);
	free(c->selected_node);
	free(c->assumed_volume);
	free(c);
}

struct svolume *
decode_volume(struct scheduler *s, const json_t *obj)
{
	const json_t *meta = jget(obj, "metadata"), *spec = jget(obj, "spec");
	struct svolume *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->name = strdup(jstr(meta, "name") ?: "");
	const char *sc = jstr(spec, "storageClassName");
	v->storage_class = strdup(sc ? sc : "");
	if (!v->name || !v->storage_class)
		goto oom;
	const json_t *required = jget(jget(spec, "nodeAffinity"), "required");
	if (json_is_object(required)) {
		v->has_affinity = true;
		const json_t *terms = jget(required, "nodeSelectorTerms");
		if (decode_nterms(s, terms, &v->affinity, &v->n_affinity) < 0)
			goto oom;
		/* GetLocalPersistentVolumeNodeNames: kubernetes.io/hostname In, per term. */
		size_t i;
		json_t *term;
		size_t cap = 0;
		json_array_foreach (terms, i, term) {
			size_t k;
			json_t *e;
			json_array_foreach (jget(term, "matchExpressions"), k, e)
				if (streq(jstr(e, "key"), "kubernetes.io/hostname") &&
				    streq(jstr(e, "operator"), "In"))
					cap += json_array_size(jget(e, "values"));
		}
		if (cap && !(v->host_names = calloc(cap, sizeof(*v->host_names))))
			goto oom;
		json_array_foreach (terms, i, term) {
			size_t k;
			json_t *e;
			json_array_foreach (jget(term, "matchExpressions"), k, e) {
				if (!streq(jstr(e, "key"), "kubernetes.io/hostname") ||
				    !streq(jstr(e, "operator"), "In"))
					continue;
				size_t j;
				json_t *val;
				json_array_foreach (jget(e, "values"), j, val)
					v->host_names[v->n_host_names++] =
						intern_cstr(s, json_string_value(val));
			}
		}
	}
	const json_t *ref = jget(spec, "claimRef");
	if (json_is_object(ref)) {
		v->claimed = true;
		if (asprintf(&v->claim_key, "%s/%s", jstr(ref, "namespace") ?: "",
			     jstr(ref, "name") ?: "") < 0) {
			v->claim_key = NULL;
			goto oom;
		}
	}
	v->available = streq(jstr(jget(obj, "status"), "phase"), "Available");
	access_modes(jget(spec, "accessModes"), &v->rwo, &v->rwop, &v->rox, &v->rwx);
	v->capacity = storage_of(jget(spec, "capacity"));
	if (decode_labels(s, jget(meta, "labels"), &v->labels) < 0)
		goto oom;
	return v;
oom:
	volume_free(s, v);
	return NULL;
}

void
volume_free(struct scheduler *s, struct svolume *v)
{
	if (!v)
		return;
	for (uint32_t i = 0; i < v->n_affinity; i++)
		nterm_free(&s->strs, &v->affinity[i]);
	free(v->affinity);
	for (uint32_t i = 0; i < v->n_host_names; i++)
		intern_unref(&s->strs, v->host_names[i]);
	free(v->host_names);
	labels_free(&s->strs, &v->labels);
	free(v->name);
	free(v->storage_class);
	free(v->claim_key);
	free(v);
}
