/*
 * types.c - the scheduler's small data structures: interned strings with references, label sets
 * and selectors compiled to string ids (so matching compares integers), tolerations, resource
 * sets, counts by topology pair, the table of failure reasons, and the random source.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "scheduler/sched-internal.h"

#define TOMBSTONE UINT32_MAX

const char *const plugin_names[PL_COUNT] = {
	[PL_NODE_UNSCHEDULABLE] = "NodeUnschedulable",
	[PL_NODE_NAME] = "NodeName",
	[PL_TAINT_TOLERATION] = "TaintToleration",
	[PL_NODE_AFFINITY] = "NodeAffinity",
	[PL_NODE_PORTS] = "NodePorts",
	[PL_FIT] = "NodeResourcesFit",
	[PL_VOLUME_RESTRICTIONS] = "VolumeRestrictions",
	[PL_VOLUME_BINDING] = "VolumeBinding",
	[PL_VOLUME_ZONE] = "VolumeZone",
	[PL_SPREAD] = "PodTopologySpread",
	[PL_INTER_POD_AFFINITY] = "InterPodAffinity",
	[PL_BALANCED] = "NodeResourcesBalancedAllocation",
	[PL_IMAGE_LOCALITY] = "ImageLocality",
	[PL_DEFAULT_PREEMPTION] = "DefaultPreemption",
};

const char *const known_reasons[R_KNOWN_COUNT] = {
	[R_NONE] = "",
	[R_UNSCHEDULABLE] = "node(s) were unschedulable",
	[R_NODE_NAME] = "node(s) didn't match the requested node name",
	[R_NODE_AFFINITY] = "node(s) didn't match Pod's node affinity/selector",
	[R_AFFINITY_CONFLICT] = "pod affinity terms conflict",
	[R_PORTS] = "node(s) didn't have free ports for the requested pod ports",
	[R_TOO_MANY_PODS] = "Too many pods",
	[R_INSUFFICIENT_CPU] = "Insufficient cpu",
	[R_INSUFFICIENT_MEMORY] = "Insufficient memory",
	[R_INSUFFICIENT_EPHEMERAL] = "Insufficient ephemeral-storage",
	[R_DISK_CONFLICT] = "node(s) had no available disk",
	[R_RWOP_CONFLICT] = "node has pod using PersistentVolumeClaim with the same name and "
			    "ReadWriteOncePod access mode",
	[R_UNBOUND_IMMEDIATE] = "pod has unbound immediate PersistentVolumeClaims",
	[R_VOLUME_NODE_CONFLICT] = "node(s) had volume node affinity conflict",
	[R_VOLUME_BIND_CONFLICT] = "node(s) didn't find available persistent volumes to bind",
	[R_PV_NOT_EXIST] = "node(s) unavailable due to one or more pvc(s) bound to non-existent "
			   "pv(s)",
	[R_VOLUME_ZONE_CONFLICT] = "node(s) had no available volume zone",
	[R_SPREAD] = "node(s) didn't match pod topology spread constraints",
	[R_SPREAD_LABEL] = "node(s) didn't match pod topology spread constraints (missing required "
			   "label)",
	[R_EXISTING_ANTI] = "node(s) didn't satisfy existing pods anti-affinity rules",
	[R_AFFINITY] = "node(s) didn't match pod affinity rules",
	[R_ANTI_AFFINITY] = "node(s) didn't match pod anti-affinity rules",
	[R_PREEMPTION_NOT_HELPFUL] = "Preemption is not helpful for scheduling",
	[R_NO_VICTIMS] = "No preemption victims found for incoming pod",
};

/* ---- interned strings ---- */

static int
intern_grow_slots(struct intern *t)
{
	uint32_t cap = t->mask ? (t->mask + 1) * 2 : 64;
	/* Only live ids count: a table full of tombstones is rebuilt at the same size. */
	while (cap / 2 > 64 && (t->n - t->n_free) * 4 < cap)
		cap /= 2;
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (uint32_t id = 1; id < t->n; id++) {
		if (!t->str[id])
			continue;
		uint32_t i = t->hash[id] & (cap - 1);
		while (slots[i])
			i = (i + 1) & (cap - 1);
		slots[i] = id;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	t->used = t->n ? t->n - 1 - t->n_free : 0;
	return 0;
}

sid
intern_find(const struct intern *t, const char *s)
{
	if (!t->slots)
		return SID_NONE;
	size_t len = strlen(s);
	uint32_t h = hash_string(s, len);
	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t id = t->slots[i];
		if (id == 0)
			return SID_NONE;
		if (id != TOMBSTONE && t->hash[id] == h && strcmp(t->str[id], s) == 0)
			return id;
	}
}

sid
intern_get(struct intern *t, const char *s, size_t len)
{
	if (!t->slots || (t->used + 1) * 10 >= (t->mask + 1) * 7)
		if (intern_grow_slots(t) < 0)
			return SID_NONE;
	uint32_t h = hash_string(s, len);
	uint32_t i = h & t->mask, grave = UINT32_MAX;
	for (;; i = (i + 1) & t->mask) {
		uint32_t id = t->slots[i];
		if (id == 0)
			break;
		if (id == TOMBSTONE) {
			if (grave == UINT32_MAX)
				grave = i;
			continue;
		}
		if (t->hash[id] == h && strncmp(t->str[id], s, len) == 0 &&
		    t->str[id][len] == '\0') {
			t->refs[id]++;
			return id;
		}
	}
	char *copy = strndup(s, len);
	if (!copy)
		return SID_NONE;
	uint32_t id;
	if (t->n_free) {
		id = t->free_ids[--t->n_free];
	} else {
		if (t->n == 0)
			t->n = 1; /* id 0 is SID_NONE */
		if (t->n >= t->cap) {
			uint32_t cap = t->cap ? t->cap * 2 : 256;
			char **str = realloc(t->str, cap * sizeof(*str));
			if (str)
				t->str = str;
			uint32_t *hash = realloc(t->hash, cap * sizeof(*hash));
			if (hash)
				t->hash = hash;
			uint32_t *refs = realloc(t->refs, cap * sizeof(*refs));
			if (refs)
				t->refs = refs;
			if (!str || !hash || !refs) {
				free(copy);
				return SID_NONE;
			}
			t->cap = cap;
		}
		id = t->n++;
	}
	t->str[id] = copy;
	t->hash[id] = h;
	t->refs[id] = 1;
	if (grave != UINT32_MAX) {
		i = grave;
	} else {
		t->used++;
	}
	t->slots[i] = id;
	return id;
}

void
intern_ref(struct intern *t, sid id)
{
	if (id)
		t->refs[id]++;
}

void
intern_unref(struct intern *t, sid id)
{
	if (!id || --t->refs[id] > 0)
		return;
	for (uint32_t i = t->hash[id] & t->mask;; i = (i + 1) & t->mask)
		if (t->slots[i] == id) {
			t->slots[i] = TOMBSTONE;
			break;
		}
	free(t->str[id]);
	t->str[id] = NULL;
	if (t->n_free == t->cap_free) {
		uint32_t cap = t->cap_free ? t->cap_free * 2 : 64;
		uint32_t *f = realloc(t->free_ids, cap * sizeof(*f));
		if (!f)
			return; /* the id is simply not reused */
		t->free_ids = f;
		t->cap_free = cap;
	}
	t->free_ids[t->n_free++] = id;
}

const char *
intern_str(const struct intern *t, sid id)
{
	return id && id < t->n && t->str[id] ? t->str[id] : "";
}

void
intern_free(struct intern *t)
{
	for (uint32_t id = 1; id < t->n; id++)
		free(t->str[id]);
	free(t->str);
	free(t->hash);
	free(t->refs);
	free(t->free_ids);
	free(t->slots);
	*t = (struct intern){ 0 };
}

size_t
intern_bytes(const struct intern *t)
{
	size_t n = malloc_usable_size(t->str) + malloc_usable_size(t->hash) +
		   malloc_usable_size(t->refs) + malloc_usable_size(t->free_ids) +
		   malloc_usable_size(t->slots);
	for (uint32_t id = 1; id < t->n; id++)
		n += malloc_usable_size(t->str[id]);
	return n;
}

/* ---- labels and selectors ---- */

sid
labels_get(const struct labels *l, sid key)
{
	uint32_t lo = 0, hi = l->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (l->kv[mid].k == key)
			return l->kv[mid].v;
		if (l->kv[mid].k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SID_NONE;
}

bool
labels_equal(const struct labels *a, const struct labels *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->kv, b->kv, a->n * sizeof(*a->kv)) == 0);
}

void
labels_free(struct intern *t, struct labels *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		intern_unref(t, l->kv[i].k);
		intern_unref(t, l->kv[i].v);
	}
	free(l->kv);
	*l = (struct labels){ 0 };
}

static bool
contains(const sid *vals, uint32_t n, sid v)
{
	for (uint32_t i = 0; i < n; i++)
		if (vals[i] == v)
			return true;
	return false;
}

/* strconv.ParseInt(s, 10, 64). */
static bool
parse_label_int(const char *s, int64_t *ret)
{
	const char *p = s;
	bool neg = false;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return false;
	uint64_t v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		return false;
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* labels.Requirement.Matches. */
static bool
req_match(const struct intern *t, const struct req *r, const struct labels *l)
{
	if (r->bad)
		return false;
	sid v = labels_get(l, r->key);
	switch (r->op) {
	case OP_IN: return v != SID_NONE && contains(r->vals, r->n, v);
	case OP_NOT_IN: return v == SID_NONE || !contains(r->vals, r->n, v);
	case OP_EXISTS: return v != SID_NONE;
	case OP_DOES_NOT_EXIST: return v == SID_NONE;
	case OP_GT:
	case OP_LT: {
		int64_t x;
		if (v == SID_NONE || !parse_label_int(intern_str(t, v), &x))
			return false;
		return r->op == OP_GT ? x > r->num : x < r->num;
	}
	}
	return false;
}

bool
lsel_match(const struct intern *t, const struct lsel *s, const struct labels *l)
{
	if (s->nothing)
		return false;
	for (uint32_t i = 0; i < s->n; i++)
		if (!req_match(t, &s->reqs[i], l))
			return false;
	return true;
}

bool
lsel_empty(const struct lsel *s)
{
	return !s->nothing && s->n == 0;
}

static void
req_free(struct intern *t, struct req *r)
{
	intern_unref(t, r->key);
	for (uint32_t i = 0; i < r->n; i++)
		intern_unref(t, r->vals[i]);
	free(r->vals);
}

void
lsel_free(struct intern *t, struct lsel *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		req_free(t, &s->reqs[i]);
	free(s->reqs);
	*s = (struct lsel){ 0 };
}

void
nterm_free(struct intern *t, struct nterm *term)
{
	lsel_free(t, &term->labels);
	for (uint32_t i = 0; i < term->n_fields; i++)
		req_free(t, &term->fields[i]);
	free(term->fields);
	*term = (struct nterm){ 0 };
}

/* A NodeSelectorTerm: every expression on the labels and every field on the node's name. */
bool
nterm_match(const struct intern *t, const struct nterm *term, const struct snode *n)
{
	if (term->skip)
		return false;
	if (!lsel_match(t, &term->labels, &n->labels))
		return false;
	for (uint32_t i = 0; i < term->n_fields; i++) {
		const struct req *f = &term->fields[i];
		bool in = contains(f->vals, f->n, n->name_id);
		if (f->bad || (f->op == OP_IN && !in) || (f->op == OP_NOT_IN && in))
			return false;
	}
	return true;
}

/* nodeaffinity.RequiredNodeAffinity.Match: the node selector and any one required term. */
bool
reqaff_match(const struct intern *t, const struct reqaff *a, const struct snode *n)
{
	if (a->has_selector && !lsel_match(t, &a->selector, &n->labels))
		return false;
	if (!a->has_terms)
		return true;
	for (uint32_t i = 0; i < a->n_terms; i++)
		if (nterm_match(t, &a->terms[i], n))
			return true;
	return false;
}

/*
 * AffinityTerm.Matches: p is in one of the term's namespaces (the owner's own when the term
 * names none) or in a namespace its namespaceSelector selects, and p's labels match.
 */
bool
aterm_match(const struct scheduler *s, const struct aterm *a, const struct spod *owner,
	    const struct spod *p)
{
	bool ns_ok;
	if (a->n_ns == 0 && !a->has_ns_sel) {
		ns_ok = p->ns == owner->ns;
	} else {
		ns_ok = contains(a->ns, a->n_ns, p->ns);
		if (!ns_ok && a->has_ns_sel) {
			const struct labels *nl =
				hashmap_get(&s->ns_labels, intern_str(&s->strs, p->ns));
			static const struct labels none = { 0 };
			ns_ok = lsel_match(&s->strs, &a->ns_sel, nl ? nl : &none);
		}
	}
	return ns_ok && lsel_match(&s->strs, &a->sel, &p->labels);
}

/* ---- tolerations ---- */

/* Toleration.ToleratesTaint over the typed snapshot (api/nodematch.h has it over JSON). */
bool
tol_match(const struct toleration *tol, const struct taint *t)
{
	if (tol->bad_op)
		return false;
	if (tol->effect != EFFECT_ALL && tol->effect != t->effect)
		return false;
	if (tol->key != SID_NONE && tol->key != t->key)
		return false;
	return tol->exists || tol->value == t->value;
}

bool
tols_match(const struct toleration *tols, uint32_t n, const struct taint *t)
{
	for (uint32_t i = 0; i < n; i++)
		if (tol_match(&tols[i], t))
			return true;
	return false;
}

/* FindMatchingUntoleratedTaint with DoNotScheduleTaintsFilterFunc: NoSchedule and NoExecute. */
const struct taint *
snode_untolerated_taint(const struct snode *n, const struct toleration *tols, uint32_t n_tols)
{
	for (uint32_t i = 0; i < n->n_taints; i++) {
		const struct taint *t = &n->taints[i];
		if (t->effect != EFFECT_NO_SCHEDULE && t->effect != EFFECT_NO_EXECUTE)
			continue;
		if (!tols_match(tols, n_tols, t))
			return t;
	}
	return NULL;
}

/* ---- resources ---- */

int64_t
res_scalar(const struct res *r, sid name)
{
	for (uint32_t i = 0; i < r->nsc; i++)
		if (r->sc[i].name == name)
			return r->sc[i].v;
	return 0;
}

/* Adds v to a scalar resource (creating it); 0 or -1 when out of memory. */
int
res_scalar_add(struct res *r, sid name, int64_t v)
{
	for (uint32_t i = 0; i < r->nsc; i++)
		if (r->sc[i].name == name) {
			r->sc[i].v += v;
			return 0;
		}
	struct scalar *sc = realloc(r->sc, (r->nsc + 1) * sizeof(*sc));
	if (!sc)
		return -1;
	r->sc = sc;
	r->sc[r->nsc++] = (struct scalar){ name, v };
	return 0;
}

/*
 * schedutil.IsScalarResourceName: extended resources (a domain prefix other than
 * kubernetes.io/), hugepages-*, attachable-volumes-* and prefixed native resources.
 */
bool
is_scalar_resource(const char *name)
{
	if (startswith(name, "hugepages-") || startswith(name, "attachable-volumes-"))
		return true;
	if (!strchr(name, '/'))
		return false;
	return !startswith(name, "requests.");
}

/* ---- counts by topology pair ---- */

static uint64_t
pair_key(sid key, sid value)
{
	return (uint64_t)key << 32 | value;
}

static uint32_t
pair_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (uint32_t)k;
}

int64_t
pairmap_get(const struct pairmap *m, sid key, sid value)
{
	if (!m->keys)
		return 0;
	uint64_t k = pair_key(key, value);
	for (uint32_t i = pair_hash(k) & m->mask;; i = (i + 1) & m->mask) {
		if (m->keys[i] == k)
			return m->vals[i];
		if (m->keys[i] == 0)
			return 0;
	}
}

bool
pairmap_has(const struct pairmap *m, sid key, sid value)
{
	if (!m->keys)
		return false;
	uint64_t k = pair_key(key, value);
	for (uint32_t i = pair_hash(k) & m->mask;; i = (i + 1) & m->mask) {
		if (m->keys[i] == k)
			return true;
		if (m->keys[i] == 0)
			return false;
	}
}

static int
pairmap_grow(struct pairmap *m)
{
	uint32_t cap = m->keys ? (m->mask + 1) * 2 : 16;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	int64_t *vals = calloc(cap, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	for (uint32_t i = 0; m->keys && i <= m->mask; i++) {
		if (!m->keys[i])
			continue;
		uint32_t j = pair_hash(m->keys[i]) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->mask = cap - 1;
	return 0;
}

int
pairmap_add(struct pairmap *m, sid key, sid value, int64_t delta)
{
	if (!m->keys || (m->n + 1) * 4 >= (m->mask + 1) * 3)
		if (pairmap_grow(m) < 0)
			return -1;
	uint64_t k = pair_key(key, value);
	for (uint32_t i = pair_hash(k) & m->mask;; i = (i + 1) & m->mask) {
		if (m->keys[i] == k) {
			m->vals[i] += delta;
			return 0;
		}
		if (m->keys[i] == 0) {
			m->keys[i] = k;
			m->vals[i] = delta;
			m->n++;
			return 1;
		}
	}
}

void
pairmap_foreach(const struct pairmap *m, void (*fn)(sid key, sid value, int64_t count, void *ud),
		void *ud)
{
	for (uint32_t i = 0; m->keys && i <= m->mask; i++)
		if (m->keys[i])
			fn((sid)(m->keys[i] >> 32), (sid)m->keys[i], m->vals[i], ud);
}

int
pairmap_copy(struct pairmap *dst, const struct pairmap *src)
{
	*dst = (struct pairmap){ 0 };
	if (!src->keys)
		return 0;
	uint32_t cap = src->mask + 1;
	dst->keys = malloc(cap * sizeof(*dst->keys));
	dst->vals = malloc(cap * sizeof(*dst->vals));
	if (!dst->keys || !dst->vals) {
		pairmap_free(dst);
		return -1;
	}
	memcpy(dst->keys, src->keys, cap * sizeof(*dst->keys));
	memcpy(dst->vals, src->vals, cap * sizeof(*dst->vals));
	dst->mask = src->mask;
	dst->n = src->n;
	return 0;
}

void
pairmap_clear(struct pairmap *m)
{
	if (m->keys && m->n) {
		memset(m->keys, 0, (m->mask + 1) * sizeof(*m->keys));
		m->n = 0;
	}
}

void
pairmap_free(struct pairmap *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct pairmap){ 0 };
}

/* ---- reasons ---- */

/* The id of a failure reason's text (registered on first use; a few dozen exist). */
uint16_t
reason_id(struct scheduler *s, const char *text)
{
	struct reason_table *t = &s->reasons;
	uintptr_t v = (uintptr_t)hashmap_get(&t->ids, text);
	if (v)
		return (uint16_t)(v - 1);
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 32;
		char **p = realloc(t->text, cap * sizeof(*p));
		if (!p)
			return 0;
		t->text = p;
		t->cap = cap;
	}
	if (t->n == 0) {
		/* id 0 stands for "no reason" (and out of memory). */
		t->text[0] = strdup("");
		t->n = 1;
	}
	char *copy = strdup(text);
	if (!copy || t->n >= UINT16_MAX ||
	    hashmap_put(&t->ids, text, (void *)(uintptr_t)(t->n + 1), NULL) < 0) {
		free(copy);
		return 0;
	}
	t->text[t->n] = copy;
	return (uint16_t)t->n++;
}

const char *
reason_text(const struct scheduler *s, uint16_t id)
{
	return id < s->reasons.n ? s->reasons.text[id] : "";
}

void
reasons_free(struct reason_table *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		free(t->text[i]);
	free(t->text);
	hashmap_free(&t->ids, NULL);
	*t = (struct reason_table){ 0 };
}
