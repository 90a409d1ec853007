/*
 * cache.c - the node snapshot: every node with the pods counted on it (bound, or assumed while
 * their binding is on its way), updated in place from the informers' events rather than copied
 * per cycle (the scheduler and its informers share one thread, so a cycle never sees a change
 * half done). Nodes are listed as kube-scheduler's node tree lists them: one node of each zone
 * in turn, so that sampling a percentage of the nodes still spreads over zones.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "scheduler/sched-internal.h"

struct snode *
cache_node(struct scheduler *s, const char *name, bool create)
{
	struct snode *n = hashmap_get(&s->nodes, name);
	if (n || !create)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strdup(name);
	n->name_id = intern_get(&s->strs, name, strlen(name));
	n->list_idx = -1;
	if (!n->name || !n->name_id || hashmap_put(&s->nodes, name, n, NULL) < 0) {
		intern_unref(&s->strs, n->name_id);
		free(n->name);
		free(n);
		return NULL;
	}
	return n;
}

static void
node_free(struct scheduler *s, struct snode *n)
{
	node_clear(s, n);
	for (uint32_t i = 0; i < n->n_ports; i++)
		intern_unref(&s->strs, n->ports[i].ip);
	free(n->ports);
	for (uint32_t i = 0; i < n->n_claims; i++)
		intern_unref(&s->strs, n->claims[i].claim);
	free(n->claims);
	for (uint32_t i = 0; i < n->req.nsc; i++)
		intern_unref(&s->strs, n->req.sc[i].name);
	free(n->req.sc);
	free(n->pods);
	free(n->nominated);
	intern_unref(&s->strs, n->name_id);
	free(n->name);
	free(n);
}

/* A node that is gone and holds nothing more is forgotten. */
static void
maybe_forget(struct scheduler *s, struct snode *n)
{
	if (n->present || n->n_pods || n->n_nominated)
		return;
	hashmap_remove(&s->nodes, n->name);
	node_free(s, n);
}

/* ---- the node tree ---- */

static void
tree_remove(struct scheduler *s, struct snode *n)
{
	if (!n->in_tree)
		return;
	for (uint32_t z = 0; z < s->n_zones; z++) {
		struct zone *zone = &s->zones[z];
		if (zone->key != n->tree_zone)
			continue;
		for (uint32_t i = 0; i < zone->n; i++)
			if (zone->nodes[i] == n) {
				memmove(&zone->nodes[i], &zone->nodes[i + 1],
					(zone->n - i - 1) * sizeof(*zone->nodes));
				zone->n--;
				break;
			}
		if (zone->n == 0) {
			free(zone->nodes);
			intern_unref(&s->strs, zone->key);
			memmove(zone, zone + 1, (s->n_zones - z - 1) * sizeof(*zone));
			s->n_zones--;
		}
		break;
	}
	intern_unref(&s->strs, n->tree_zone);
	n->in_tree = false;
	n->tree_zone = SID_NONE;
	s->list_dirty = true;
}

static int
tree_add(struct scheduler *s, struct snode *n)
{
	struct zone *zone = NULL;
	for (uint32_t z = 0; z < s->n_zones && !zone; z++)
		if (s->zones[z].key == n->zone)
			zone = &s->zones[z];
	if (!zone) {
		if (s->n_zones == s->cap_zones) {
			uint32_t cap = s->cap_zones ? s->cap_zones * 2 : 8;
			struct zone *z = realloc(s->zones, cap * sizeof(*z));
			if (!z)
				return -1;
			s->zones = z;
			s->cap_zones = cap;
		}
		zone = &s->zones[s->n_zones++];
		*zone = (struct zone){ .key = n->zone };
		intern_ref(&s->strs, n->zone);
	}
	if (zone->n == zone->cap) {
		uint32_t cap = zone->cap ? zone->cap * 2 : 16;
		struct snode **p = realloc(zone->nodes, cap * sizeof(*p));
		if (!p)
			return -1;
		zone->nodes = p;
		zone->cap = cap;
	}
	zone->nodes[zone->n++] = n;
	n->in_tree = true;
	n->tree_zone = n->zone;
	intern_ref(&s->strs, n->zone);
	s->list_dirty = true;
	return 0;
}

/* nodeTree.list(): the i-th node of every zone, for i = 0, 1, ... */
void
cache_rebuild_list(struct scheduler *s)
{
	if (!s->list_dirty)
		return;
	uint32_t total = 0;
	for (uint32_t z = 0; z < s->n_zones; z++)
		total += s->zones[z].n;
	if (total > s->cap_list) {
		struct snode **l = realloc(s->list, total * sizeof(*l));
		if (!l)
			return; /* keep the old list; retried on the next cycle */
		s->list = l;
		s->cap_list = total;
	}
	for (uint32_t i = 0; i < s->n_list; i++)
		s->list[i]->list_idx = -1;
	uint32_t n = 0;
	for (uint32_t i = 0; n < total; i++)
		for (uint32_t z = 0; z < s->n_zones; z++)
			if (i < s->zones[z].n) {
				s->list[n] = s->zones[z].nodes[i];
				s->list[n]->list_idx = (int32_t)n;
				n++;
			}
	s->n_list = n;
	s->list_dirty = false;
}

/* ---- pods on nodes ---- */

static int
port_add(struct scheduler *s, struct snode *n, const struct hostport *h, int sign)
{
	for (uint32_t i = 0; i < n->n_ports; i++) {
		struct hostport *u = &n->ports[i];
		if (u->ip != h->ip || u->proto != h->proto || u->port != h->port)
			continue;
		if (sign > 0) {
			u->count++;
		} else if (--u->count == 0) {
			intern_unref(&s->strs, u->ip);
			*u = n->ports[--n->n_ports];
		}
		return 0;
	}
	if (sign < 0)
		return 0;
	if (n->n_ports == n->cap_ports) {
		uint32_t cap = n->cap_ports ? n->cap_ports * 2 : 4;
		struct hostport *p = realloc(n->ports, cap * sizeof(*p));
		if (!p)
			return -1;
		n->ports = p;
		n->cap_ports = cap;
	}
	n->ports[n->n_ports] = *h;
	n->ports[n->n_ports++].count = 1;
	intern_ref(&s->strs, h->ip);
	return 0;
}

static int
claim_add(struct scheduler *s, struct snode *n, sid claim, int sign)
{
	pairmap_add(&s->claim_users, claim, 0, sign);
	for (uint32_t i = 0; i < n->n_claims; i++) {
		struct claimref *c = &n->claims[i];
		if (c->claim != claim)
			continue;
		if (sign > 0) {
			c->count++;
		} else if (--c->count == 0) {
			intern_unref(&s->strs, c->claim);
			*c = n->claims[--n->n_claims];
		}
		return 0;
	}
	if (sign < 0)
		return 0;
	if (n->n_claims == n->cap_claims) {
		uint32_t cap = n->cap_claims ? n->cap_claims * 2 : 4;
		struct claimref *p = realloc(n->claims, cap * sizeof(*p));
		if (!p)
			return -1;
		n->claims = p;
		n->cap_claims = cap;
	}
	n->claims[n->n_claims++] = (struct claimref){ claim, 1 };
	intern_ref(&s->strs, claim);
	return 0;
}

/* NodeInfo.update: a pod's requests, ports and claims counted (sign 1) or released (-1). */
void
node_account(struct scheduler *s, struct snode *n, struct spod *p, int sign)
{
	n->req.cpu += sign * p->req.cpu;
	n->req.mem += sign * p->req.mem;
	n->req.eph += sign * p->req.eph;
	for (uint32_t i = 0; i < p->req.nsc; i++) {
		if (sign > 0 && res_scalar(&n->req, p->req.sc[i].name) == 0) {
			bool known = false;
			for (uint32_t j = 0; j < n->req.nsc; j++)
				known |= n->req.sc[j].name == p->req.sc[i].name;
			if (!known)
				intern_ref(&s->strs, p->req.sc[i].name);
		}
		res_scalar_add(&n->req, p->req.sc[i].name, sign * p->req.sc[i].v);
	}
	n->nz_cpu += sign * p->nz_cpu;
	n->nz_mem += sign * p->nz_mem;
	for (uint32_t i = 0; i < p->n_ports; i++)
		port_add(s, n, &p->ports[i], sign);
	for (uint32_t i = 0; i < p->n_claims; i++)
		claim_add(s, n, p->claims[i], sign);
	n->generation = ++s->generation;
}

static int
list_push(struct spod ***items, uint32_t *n, uint32_t *cap, struct spod *p, int32_t *slot)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 16;
		struct spod **q = realloc(*items, c * sizeof(*q));
		if (!q)
			return -1;
		*items = q;
		*cap = c;
	}
	*slot = (int32_t)*n;
	(*items)[(*n)++] = p;
	return 0;
}

static void
list_drop_aff(struct scheduler *s, struct spod *p)
{
	if (p->aff_slot >= 0) {
		struct spod *last = s->aff_pods[--s->n_aff_pods];
		s->aff_pods[p->aff_slot] = last;
		last->aff_slot = p->aff_slot;
		p->aff_slot = -1;
	}
	if (p->anti_slot >= 0) {
		struct spod *last = s->anti_pods[--s->n_anti_pods];
		s->anti_pods[p->anti_slot] = last;
		last->anti_slot = p->anti_slot;
		p->anti_slot = -1;
	}
}

/* Counts p on n (AddPod or AssumePod). */
void
cache_add_pod(struct scheduler *s, struct spod *p, struct snode *n)
{
	if (n->n_pods == n->cap_pods) {
		uint32_t cap = n->cap_pods ? n->cap_pods * 2 : 8;
		struct spod **q = realloc(n->pods, cap * sizeof(*q));
		if (!q)
			return;
		n->pods = q;
		n->cap_pods = cap;
	}
	p->on = n;
	p->slot = n->n_pods;
	n->pods[n->n_pods++] = p;
	node_account(s, n, p, 1);
	if (p->n_aff + p->n_anti + p->n_aff_pref + p->n_anti_pref > 0) {
		list_push(&s->aff_pods, &s->n_aff_pods, &s->cap_aff_pods, p, &p->aff_slot);
		n->n_aff_pods++;
	}
	if (p->n_anti > 0) {
		list_push(&s->anti_pods, &s->n_anti_pods, &s->cap_anti_pods, p, &p->anti_slot);
		n->n_anti_pods++;
	}
}

/* Stops counting p on its node (RemovePod or ForgetPod). */
void
cache_remove_pod(struct scheduler *s, struct spod *p)
{
	struct snode *n = p->on;
	if (!n)
		return;
	struct spod *last = n->pods[--n->n_pods];
	n->pods[p->slot] = last;
	last->slot = p->slot;
	node_account(s, n, p, -1);
	if (p->aff_slot >= 0)
		n->n_aff_pods--;
	if (p->anti_slot >= 0)
		n->n_anti_pods--;
	list_drop_aff(s, p);
	p->on = NULL;
	maybe_forget(s, n);
}

/*
 * Replaces the decoded fields of p with q's (q is freed), keeping p's place in the cache and
 * the queue: a pod counted on a node stays counted there, with its new requests and terms.
 */
void
cache_update_pod(struct scheduler *s, struct spod *p, struct spod *q)
{
	struct snode *n = p->on;
	if (n) {
		node_account(s, n, p, -1);
		if (p->aff_slot >= 0)
			n->n_aff_pods--;
		if (p->anti_slot >= 0)
			n->n_anti_pods--;
		list_drop_aff(s, p);
	}
	cache_nominate(s, p, NULL);
	struct spod keep = *p;
	pod_clear(s, p);
	*p = *q;
	free(q);
	p->state = keep.state;
	p->on = keep.on;
	p->slot = keep.slot;
	p->aff_slot = -1;
	p->anti_slot = -1;
	p->nominee = NULL;
	p->nom_slot = 0;
	p->bind_pending = keep.bind_pending;
	p->heap = keep.heap;
	p->uslot = keep.uslot;
	p->seq = keep.seq;
	p->attempts = keep.attempts;
	p->backoff_until = keep.backoff_until;
	p->unsched_since = keep.unsched_since;
	p->enqueued_ns = keep.enqueued_ns;
	p->unsched_plugins = keep.unsched_plugins;
	p->cycle_events = keep.cycle_events;
	if (n) {
		node_account(s, n, p, 1);
		if (p->n_aff + p->n_anti + p->n_aff_pref + p->n_anti_pref > 0) {
			list_push(&s->aff_pods, &s->n_aff_pods, &s->cap_aff_pods, p, &p->aff_slot);
			n->n_aff_pods++;
		}
		if (p->n_anti > 0) {
			list_push(&s->anti_pods, &s->n_anti_pods, &s->cap_anti_pods, p,
				  &p->anti_slot);
			n->n_anti_pods++;
		}
	}
}

/* ---- nodes ---- */

static void
images_count(struct scheduler *s, struct snode *n, int sign)
{
	for (uint32_t i = 0; i < n->n_images; i++)
		pairmap_add(&s->image_nodes, n->images[i].name, 0, sign);
}

/*
 * Called with a node's previous decoded fields still in place and the new object: re-decodes
 * it, keeps the tree and image counts right. 0 or -1 (out of memory: the node is left out of
 * the list until its next change).
 */
int
cache_node_update(struct scheduler *s, struct snode *n, const json_t *obj)
{
	if (n->present)
		images_count(s, n, -1);
	node_clear(s, n);
	int r = decode_node(s, obj, n);
	n->present = true;
	images_count(s, n, 1);
	n->generation = ++s->generation;
	if (!n->in_tree || n->tree_zone != n->zone) {
		tree_remove(s, n);
		if (r == 0)
			r = tree_add(s, n);
	}
	return r;
}

void
cache_node_gone(struct scheduler *s, struct snode *n)
{
	if (!n->present)
		return;
	images_count(s, n, -1);
	tree_remove(s, n);
	node_clear(s, n);
	n->present = false;
	n->generation = ++s->generation;
	maybe_forget(s, n);
}

/* Records p as nominated to n (NULL: to none), as the PodNominator does. */
void
cache_nominate(struct scheduler *s, struct spod *p, struct snode *n)
{
	if (p->nominee == n)
		return;
	struct snode *old = p->nominee;
	if (old) {
		struct spod *last = old->nominated[--old->n_nominated];
		old->nominated[p->nom_slot] = last;
		last->nom_slot = p->nom_slot;
		p->nominee = NULL;
		maybe_forget(s, old);
	}
	if (!n)
		return;
	if (n->n_nominated == n->cap_nominated) {
		uint32_t cap = n->cap_nominated ? n->cap_nominated * 2 : 4;
		struct spod **q = realloc(n->nominated, cap * sizeof(*q));
		if (!q)
			return;
		n->nominated = q;
		n->cap_nominated = cap;
	}
	p->nominee = n;
	p->nom_slot = n->n_nominated;
	n->nominated[n->n_nominated++] = p;
}

struct spod *
cache_pod(struct scheduler *s, const char *key)
{
	return hashmap_get(&s->pods, key);
}

void
cache_free(struct scheduler *s)
{
	size_t iter = 0;
	struct spod *p;
	while (hashmap_next(&s->pods, &iter, NULL, (void **)&p)) {
		pod_clear(s, p);
		free(p);
	}
	hashmap_free(&s->pods, NULL);
	iter = 0;
	struct snode *n;
	while (hashmap_next(&s->nodes, &iter, NULL, (void **)&n))
		node_free(s, n);
	hashmap_free(&s->nodes, NULL);
	for (uint32_t z = 0; z < s->n_zones; z++) {
		free(s->zones[z].nodes);
		intern_unref(&s->strs, s->zones[z].key);
	}
	free(s->zones);
	free(s->list);
	free(s->aff_pods);
	free(s->anti_pods);
	pairmap_free(&s->image_nodes);
	pairmap_free(&s->claim_users);
}

static size_t
pod_bytes(const struct spod *p)
{
	size_t n = malloc_usable_size((void *)p) + malloc_usable_size(p->key) +
		   malloc_usable_size(p->uid) + malloc_usable_size(p->rv) +
		   malloc_usable_size(p->labels.kv) + malloc_usable_size(p->tols) +
		   malloc_usable_size(p->ports) + malloc_usable_size(p->claims) +
		   malloc_usable_size(p->images) + malloc_usable_size(p->req.sc) +
		   malloc_usable_size(p->spread) + malloc_usable_size(p->preferred) +
		   malloc_usable_size(p->required.terms) + malloc_usable_size(p->aff) +
		   malloc_usable_size(p->anti) + malloc_usable_size(p->aff_pref) +
		   malloc_usable_size(p->anti_pref) + malloc_usable_size(p->last_message);
	return n;
}

/* Bytes of the snapshot's typed structures (malloc's usable sizes). */
size_t
cache_bytes(const struct scheduler *s)
{
	size_t total = intern_bytes(&s->strs);
	size_t iter = 0;
	struct spod *p;
	while (hashmap_next(&s->pods, &iter, NULL, (void **)&p))
		total += pod_bytes(p);
	iter = 0;
	struct snode *n;
	while (hashmap_next(&s->nodes, &iter, NULL, (void **)&n))
		total += malloc_usable_size(n) + malloc_usable_size(n->name) +
			 malloc_usable_size(n->labels.kv) + malloc_usable_size(n->taints) +
			 malloc_usable_size(n->spec_taints) + malloc_usable_size(n->pods) +
			 malloc_usable_size(n->ports) + malloc_usable_size(n->images) +
			 malloc_usable_size(n->claims) + malloc_usable_size(n->alloc.sc) +
			 malloc_usable_size(n->req.sc) + malloc_usable_size(n->nominated);
	total += s->pods.cap * sizeof(struct hashmap_slot) +
		 s->nodes.cap * sizeof(struct hashmap_slot);
	total += malloc_usable_size(s->list) + malloc_usable_size(s->aff_pods) +
		 malloc_usable_size(s->anti_pods);
	return total;
}
