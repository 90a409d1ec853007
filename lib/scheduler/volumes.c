/*
 * volumes.c - the volume plugins: VolumeRestrictions (a ReadWriteOncePod claim used by another
 * pod anywhere; a ReadWriteOnce claim mounted on another node, which korch checks here because
 * no attach/detach controller stands between a claim and a second node), VolumeBinding (claims
 * must exist and be bound, unless their class waits for the first consumer; a bound volume's
 * node affinity, as local PersistentVolumes have, decides the node) and VolumeZone (a bound
 * volume's zone and region labels).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "scheduler/sched-internal.h"

static struct sclaim *
find_claim(struct scheduler *s, sid key)
{
	return hashmap_get(&s->claims, intern_str(&s->strs, key));
}

static void
reject_text(struct cycle *c, struct status *st, uint8_t code, const char *text)
{
	st->code = code;
	st->reasons[st->n++] = reason_id(c->s, text);
}

static void
reject(struct status *st, uint8_t code, uint16_t reason)
{
	st->code = code;
	if (st->n < STATUS_MAX_REASONS)
		st->reasons[st->n++] = reason;
}

/* "persistentvolumeclaim \"data\" not found": the lister's NotFound error. */
static void
claim_not_found(struct cycle *c, struct status *st, sid key)
{
	const char *k = intern_str(&c->s->strs, key), *slash = strchr(k, '/');
	char text[600];
	snprintf(text, sizeof(text), "persistentvolumeclaim \"%s\" not found",
		 slash ? slash + 1 : k);
	reject_text(c, st, ST_UNRESOLVABLE, text);
}

void
vol_state_clear(struct vol_state *v)
{
	free(v->rwo_claims);
	free(v->bound);
	free(v->delayed);
	for (uint32_t i = 0; i < v->n_zones; i++)
		free(v->zones[i].vals);
	free(v->zones);
	*v = (struct vol_state){ 0 };
}

int
vol_state_copy(struct vol_state *dst, const struct vol_state *src)
{
	/* Preemption changes only the ReadWriteOncePod count; the rest is read-only. */
	*dst = (struct vol_state){ .rwop_conflicts = src->rwop_conflicts };
	if (src->n_rwo) {
		if (!(dst->rwo_claims = malloc(src->n_rwo * sizeof(*dst->rwo_claims))))
			return -1;
		memcpy(dst->rwo_claims, src->rwo_claims, src->n_rwo * sizeof(*dst->rwo_claims));
		dst->n_rwo = src->n_rwo;
	}
	return 0;
}

/* ---- VolumeRestrictions ---- */

void
prefilter_volume_restrictions(struct cycle *c, struct status *st)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	struct vol_state *v = &c->vol;
	if (p->n_claims && !(v->rwo_claims = calloc(p->n_claims, sizeof(*v->rwo_claims)))) {
		st->code = ST_ERROR;
		return;
	}
	for (uint32_t i = 0; i < p->n_claims; i++) {
		struct sclaim *claim = find_claim(s, p->claims[i]);
		if (!claim) {
			claim_not_found(c, st, p->claims[i]);
			return;
		}
		if (claim->rwop)
			v->rwop_conflicts += pairmap_get(&s->claim_users, claim->key, 0);
		if (claim->rwo && !claim->rwx && !claim->rox)
			v->rwo_claims[v->n_rwo++] = claim->key;
	}
	if (v->rwop_conflicts == 0 && v->n_rwo == 0)
		st->code = ST_SKIP;
}

static int64_t
node_claim_count(const struct snode *n, sid claim)
{
	for (uint32_t i = 0; i < n->n_claims; i++)
		if (n->claims[i].claim == claim)
			return n->claims[i].count;
	return 0;
}

void
filter_volume_restrictions(struct cycle *c, struct snode *n, struct status *st)
{
	struct vol_state *v = &c->vol;
	for (uint32_t i = 0; i < v->n_rwo; i++) {
		int64_t users = pairmap_get(&c->s->claim_users, v->rwo_claims[i], 0);
		if (users - node_claim_count(n, v->rwo_claims[i]) > 0) {
			/* Mounted read-write on another node: preemption here cannot help. */
			reject(st, ST_UNRESOLVABLE, R_DISK_CONFLICT);
			return;
		}
	}
	if (v->rwop_conflicts > 0)
		reject(st, ST_UNSCHED, R_RWOP_CONFLICT);
}

/* A pod added or removed changes how many pods use the incoming pod's ReadWriteOncePod claims. */
void
vol_add_pod(struct cycle *c, struct spod *q, int sign)
{
	struct scheduler *s = c->s;
	for (uint32_t i = 0; i < q->n_claims; i++) {
		bool mine = false;
		for (uint32_t k = 0; k < c->pod->n_claims; k++)
			mine |= c->pod->claims[k] == q->claims[i];
		struct sclaim *claim = mine ? find_claim(s, q->claims[i]) : NULL;
		if (claim && claim->rwop)
			c->vol.rwop_conflicts += sign;
	}
}

/* ---- VolumeBinding ---- */

static struct svolume *
find_volume(struct scheduler *s, const char *name)
{
	return hashmap_get(&s->volumes, name);
}

/* The volume a claim is bound to, or that this scheduler chose for it (assumed). */
static const char *
claim_volume(const struct sclaim *c)
{
	return c->assumed_volume ? c->assumed_volume : c->volume;
}

void
prefilter_volume_binding(struct cycle *c, struct status *st)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	struct vol_state *v = &c->vol;
	if (p->n_claims == 0) {
		st->code = ST_SKIP;
		return;
	}
	v->bound = calloc(p->n_claims, sizeof(*v->bound));
	v->delayed = calloc(p->n_claims, sizeof(*v->delayed));
	if (!v->bound || !v->delayed) {
		st->code = ST_ERROR;
		return;
	}
	bool immediate = false;
	char text[700];
	for (uint32_t i = 0; i < p->n_claims; i++) {
		struct sclaim *claim = find_claim(s, p->claims[i]);
		if (!claim) {
			claim_not_found(c, st, p->claims[i]);
			return;
		}
		const char *name = strchr(intern_str(&s->strs, claim->key), '/') + 1;
		if (claim->lost) {
			snprintf(
				text, sizeof(text),
				"persistentvolumeclaim \"%s\" bound to non-existent persistentvolume "
				"\"%s\"",
				name, claim->volume);
			reject_text(c, st, ST_UNRESOLVABLE, text);
			return;
		}
		if (claim->deleting) {
			snprintf(text, sizeof(text),
				 "persistentvolumeclaim \"%s\" is being deleted", name);
			reject_text(c, st, ST_UNRESOLVABLE, text);
			return;
		}
		if (claim->bound || claim->assumed_volume) {
			v->bound[v->n_bound++] = claim;
			continue;
		}
		const struct sclass *cls = claim->storage_class && *claim->storage_class
						   ? hashmap_get(&s->classes, claim->storage_class)
						   : NULL;
		if (cls && cls->wait_for_consumer && !*claim->volume)
			v->delayed[v->n_delayed++] = claim;
		else
			immediate = true;
	}
	if (immediate) {
		reject(st, ST_UNRESOLVABLE, R_UNBOUND_IMMEDIATE);
		return;
	}
	/* GetEligibleNodes: local volumes name their nodes; claims intersect. */
	sid *eligible = NULL;
	uint32_t n_eligible = 0;
	bool narrowed = false;
	for (uint32_t i = 0; i < v->n_bound; i++) {
		struct svolume *pv = find_volume(s, claim_volume(v->bound[i]));
		if (!pv || pv->n_host_names == 0)
			continue;
		if (!narrowed) {
			eligible = malloc(pv->n_host_names * sizeof(*eligible));
			if (!eligible) {
				st->code = ST_ERROR;
				return;
			}
			memcpy(eligible, pv->host_names, pv->n_host_names * sizeof(*eligible));
			n_eligible = pv->n_host_names;
			narrowed = true;
			continue;
		}
		uint32_t kept = 0;
		for (uint32_t k = 0; k < n_eligible; k++) {
			bool in = false;
			for (uint32_t j = 0; j < pv->n_host_names; j++)
				in |= pv->host_names[j] == eligible[k];
			if (in)
				eligible[kept++] = eligible[k];
		}
		n_eligible = kept;
	}
	if (narrowed && cycle_narrow(c, PL_VOLUME_BINDING, eligible, n_eligible) < 0)
		st->code = ST_ERROR;
	free(eligible);
}

static bool
volume_matches_node(const struct scheduler *s, const struct svolume *pv, const struct snode *n)
{
	if (!pv->has_affinity)
		return true;
	for (uint32_t i = 0; i < pv->n_affinity; i++)
		if (nterm_match(&s->strs, &pv->affinity[i], n))
			return true;
	return false;
}

/*
 * An available volume a delayed claim could be bound to on n (findMatchingVolumes): one
 * already claimed for it first, else the smallest that fits.
 */
static struct svolume *
volume_for(const struct scheduler *s, const struct sclaim *claim, const struct snode *n)
{
	size_t iter = 0;
	struct svolume *pv, *best = NULL;
	const char *key = intern_str(&s->strs, claim->key);
	while (hashmap_next(&s->volumes, &iter, NULL, (void **)&pv)) {
		if (pv->claimed && !streq(pv->claim_key, key))
			continue;
		if (!streq(pv->storage_class, claim->storage_class ? claim->storage_class : ""))
			continue;
		if (pv->capacity < claim->request)
			continue;
		if ((claim->rwo && !pv->rwo) || (claim->rwop && !pv->rwop) ||
		    (claim->rox && !pv->rox) || (claim->rwx && !pv->rwx))
			continue;
		if (!pv->claimed && !pv->available)
			continue; /* Released or Failed: not for a new claim */
		if (!volume_matches_node(s, pv, n))
			continue;
		if (pv->claimed)
			return pv;
		if (!best || pv->capacity < best->capacity)
			best = pv;
	}
	return best;
}

/* FindPodVolumes: bound volumes' node affinity, and a volume (or a provisioner) for the rest. */
void
filter_volume_binding(struct cycle *c, struct snode *n, struct status *st)
{
	struct scheduler *s = c->s;
	struct vol_state *v = &c->vol;
	bool affinity_ok = true, found = true, bindable = true;
	for (uint32_t i = 0; i < v->n_bound; i++) {
		struct svolume *pv = find_volume(s, claim_volume(v->bound[i]));
		if (!pv)
			found = false;
		else if (!volume_matches_node(s, pv, n))
			affinity_ok = false;
	}
	for (uint32_t i = 0; i < v->n_delayed; i++) {
		const struct sclaim *claim = v->delayed[i];
		const struct sclass *cls = hashmap_get(&s->classes, claim->storage_class);
		if (claim->selected_node) {
			/* Being provisioned for a node already: that node only. */
			if (!streq(claim->selected_node, n->name))
				bindable = false;
		} else if (!volume_for(s, claim, n) && !(cls && cls->provisions)) {
			bindable = false;
		}
	}
	if (!affinity_ok)
		reject(st, ST_UNRESOLVABLE, R_VOLUME_NODE_CONFLICT);
	if (!bindable)
		reject(st, ST_UNRESOLVABLE, R_VOLUME_BIND_CONFLICT);
	if (!found)
		reject(st, ST_UNRESOLVABLE, R_PV_NOT_EXIST);
}

/* The apply configuration that reserves pv for claim (what BindPodVolumes writes). */
static json_t *
claim_ref_config(const struct svolume *pv, const struct sclaim *claim, const char *key)
{
	const char *slash = strchr(key, '/');
	char ns[256];
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:{s:s, s:s, s:s, s:s, s:s, s:s}}}",
			 "apiVersion", "v1", "kind", "PersistentVolume", "metadata", "name",
			 pv->name, "annotations", "pv.kubernetes.io/bound-by-controller", "yes",
			 "spec", "claimRef", "kind", "PersistentVolumeClaim", "namespace", ns,
			 "name", slash + 1, "uid", claim->uid, "apiVersion", "v1",
			 "resourceVersion", claim->rv);
}

static json_t *
selected_node_config(const char *key, const char *node)
{
	const char *slash = strchr(key, '/');
	char ns[256];
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}}", "apiVersion", "v1", "kind",
			 "PersistentVolumeClaim", "metadata", "name", slash + 1, "namespace", ns,
			 "annotations", "volume.kubernetes.io/selected-node", node);
}

int
vol_assume(struct scheduler *s, struct spod *p, struct snode *n, json_t **ret_applies)
{
	json_t *applies = NULL;
	for (uint32_t i = 0; i < p->n_claims; i++) {
		struct sclaim *claim = find_claim(s, p->claims[i]);
		if (!claim || claim->bound || claim->assumed_volume || claim->selected_node ||
		    *claim->volume)
			continue;
		const struct sclass *cls = claim->storage_class
						   ? hashmap_get(&s->classes, claim->storage_class)
						   : NULL;
		if (!cls || !cls->wait_for_consumer)
			continue;
		const char *key = intern_str(&s->strs, claim->key);
		struct svolume *pv = volume_for(s, claim, n);
		json_t *config = NULL;
		if (pv) {
			if (!(claim->assumed_volume = strdup(pv->name)))
				goto oom;
			if (pv->claimed)
				continue; /* pre-bound to it: the binder completes that */
			char *ck = strdup(key);
			if (!ck)
				goto oom;
			free(pv->claim_key);
			pv->claim_key = ck;
			pv->claimed = true;
			config = claim_ref_config(pv, claim, key);
		} else if (cls->provisions) {
			if (!(claim->selected_node = strdup(n->name)))
				goto oom;
			config = selected_node_config(key, n->name);
		}
		if (!config)
			continue;
		if (!applies && !(applies = json_array())) {
			json_decref(config);
			goto oom;
		}
		json_array_append_new(applies, config);
	}
	*ret_applies = applies;
	return 0;
oom:
	json_decref(applies);
	return -1;
}

/* A binding that failed gives back what vol_assume() reserved for it. */
void
vol_unassume(struct scheduler *s, const json_t *applies)
{
	size_t i;
	json_t *config;
	json_array_foreach (applies, i, config) {
		const json_t *meta = json_object_get(config, "metadata");
		const char *kind = json_string_value(json_object_get(config, "kind"));
		if (streq(kind, "PersistentVolume")) {
			struct svolume *pv = find_volume(
				s, json_string_value(json_object_get(meta, "name")) ?: "");
			const json_t *ref =
				json_object_get(json_object_get(config, "spec"), "claimRef");
			char key[600];
			snprintf(key, sizeof(key), "%s/%s",
				 json_string_value(json_object_get(ref, "namespace")) ?: "",
				 json_string_value(json_object_get(ref, "name")) ?: "");
			struct sclaim *claim = hashmap_get(&s->claims, key);
			if (claim && pv && streq(claim->assumed_volume, pv->name)) {
				free(claim->assumed_volume);
				claim->assumed_volume = NULL;
			}
			if (pv && streq(pv->claim_key, key)) {
				free(pv->claim_key);
				pv->claim_key = NULL;
				pv->claimed = false;
			}
		} else {
			char key[600];
			snprintf(key, sizeof(key), "%s/%s",
				 json_string_value(json_object_get(meta, "namespace")) ?: "",
				 json_string_value(json_object_get(meta, "name")) ?: "");
			struct sclaim *claim = hashmap_get(&s->claims, key);
			if (claim) {
				free(claim->selected_node);
				claim->selected_node = NULL;
			}
		}
	}
}

/* ---- VolumeZone ---- */

static const char *const zone_labels[][2] = {
	{ "topology.kubernetes.io/zone", NULL },
	{ "topology.kubernetes.io/region", NULL },
	{ "failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/zone" },
	{ "failure-domain.beta.kubernetes.io/region", "topology.kubernetes.io/region" },
};

void
prefilter_volume_zone(struct cycle *c, struct status *st)
{
	struct scheduler *s = c->s;
	struct spod *p = c->pod;
	struct vol_state *v = &c->vol;
	for (uint32_t i = 0; i < p->n_claims; i++) {
		struct sclaim *claim = find_claim(s, p->claims[i]);
		struct svolume *pv =
			claim && *claim_volume(claim) ? find_volume(s, claim_volume(claim)) : NULL;
		if (!pv)
			continue;
		for (size_t z = 0; z < ARRAY_SIZE(zone_labels); z++) {
			sid key = intern_find(&s->strs, zone_labels[z][0]);
			sid val = key ? labels_get(&pv->labels, key) : SID_NONE;
			if (!val)
				continue;
			struct vzone *zs = realloc(v->zones, (v->n_zones + 1) * sizeof(*zs));
			if (!zs) {
				st->code = ST_ERROR;
				return;
			}
			v->zones = zs;
			struct vzone *vz = &v->zones[v->n_zones++];
			*vz = (struct vzone){ .key = key };
			if (zone_labels[z][1])
				vz->ga_key = intern_find(&s->strs, zone_labels[z][1]);
			/* LabelZonesToSet: "a__b" allows a and b. */
			const char *text = intern_str(&s->strs, val);
			size_t parts = 1;
			for (const char *q = text; (q = strstr(q, "__")); q += 2)
				parts++;
			vz->vals = calloc(parts, sizeof(*vz->vals));
			if (!vz->vals) {
				st->code = ST_ERROR;
				return;
			}
			for (const char *q = text;;) {
				const char *end = strstr(q, "__");
				size_t len = end ? (size_t)(end - q) : strlen(q);
				char buf[256];
				snprintf(buf, sizeof(buf), "%.*s", (int)len, q);
				sid part = intern_find(&s->strs, buf);
				/* A value no node label has cannot match: it is left out. */
				if (part)
					vz->vals[vz->n++] = part;
				if (!end)
					break;
				q = end + 2;
			}
		}
	}
	if (v->n_zones == 0)
		st->code = ST_SKIP;
}

void
filter_volume_zone(struct cycle *c, struct snode *n, struct status *st)
{
	struct vol_state *v = &c->vol;
	for (uint32_t i = 0; i < v->n_zones; i++) {
		const struct vzone *vz = &v->zones[i];
		sid val = labels_get(&n->labels, vz->key);
		if (!val && vz->ga_key)
			val = labels_get(&n->labels, vz->ga_key);
		bool ok = false;
		for (uint32_t k = 0; val && k < vz->n; k++)
			ok |= vz->vals[k] == val;
		if (!ok) {
			reject(st, ST_UNRESOLVABLE, R_VOLUME_ZONE_CONFLICT);
			return;
		}
	}
}
