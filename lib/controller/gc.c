/*
 * gc.c - the garbage collector (Kubernetes' pkg/controller/garbagecollector): objects whose
 * owners are all gone are deleted; an owner deleted in the foreground (the foregroundDeletion
 * finalizer) waits until the dependents that block its deletion are gone, deleting them first;
 * an owner deleted with the orphan finalizer has its dependents' references to it removed.
 *
 * The graph is the manager's informers: every kind (but Events) is watched, and the owner index
 * gives an object's dependents. Before deleting an object whose owner the caches do not show,
 * the owner is read from the store (the cache may only be late).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"

struct gc {
	struct informer **infs; /* one per kind of kind_registry (NULL for skipped kinds) */
	size_t n;
};

static struct gc *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static bool
skipped(const struct kind_info *k)
{
	return streq(k->kind, "Event");
}

static size_t
kind_index(const struct kind_info *k)
{
	for (size_t i = 0; i < kind_registry_count; i++)
		if (kind_registry[i] == k)
			return i;
	return (size_t)-1;
}

/* The work queue key: "KINDINDEX\x1fNS\x1fNAME". */
static void
enqueue_obj(struct ctrl *ctl, const struct kind_info *k, const json_t *obj)
{
	char *key = NULL;
	if (asprintf(&key, "%zu\x1f%s\x1f%s", kind_index(k), jp_str0(obj, "metadata.namespace"),
		     jp_str0(obj, "metadata.name")) < 0)
		return;
	ctrl_enqueue_key(ctl, key);
	free(key);
}

static bool
has_finalizer(const json_t *obj, const char *name)
{
	size_t i;
	json_t *f;
	json_array_foreach (jp_get(obj, "metadata.finalizers"), i, f)
		if (streq(json_string_value(f), name))
			return true;
	return false;
}

struct dep_ctx {
	struct ctrl *ctl;
	json_t *out; /* [ [kindindex, obj], ... ] */
	size_t kind;
};

static void
collect_dependent(const json_t *obj, void *userdata)
{
	struct dep_ctx *d = userdata;
	json_array_append_new(d->out, json_pack("[I, O]", (json_int_t)d->kind, obj));
}

/* Every object with an ownerReference to uid, as [kindindex, object] pairs. */
static json_t *
dependents(struct ctrl *ctl, const char *uid)
{
	struct gc *g = state(ctl);
	struct dep_ctx d = { ctl, json_array(), 0 };
	for (size_t i = 0; i < g->n; i++) {
		if (!g->infs[i])
			continue;
		d.kind = i;
		cm_foreach_owned(ctl->cm, g->infs[i], uid, collect_dependent, &d);
	}
	return d.out;
}

static void
enqueue_dependents(struct ctrl *ctl, const json_t *owner)
{
	_cleanup_json_ json_t *deps = dependents(ctl, jp_str(owner, "metadata.uid"));
	size_t i;
	json_t *pair;
	json_array_foreach (deps, i, pair)
		enqueue_obj(ctl, kind_registry[json_integer_value(json_array_get(pair, 0))],
			    json_array_get(pair, 1));
}

/* ---- handlers: one set per kind, the kind in the userdata ---- */

struct gc_handler {
	struct ctrl *ctl;
	const struct kind_info *k;
};

static struct gc_handler *handlers_for(struct ctrl *ctl, size_t i);

static void
on_add(const json_t *obj, void *userdata)
{
	struct gc_handler *h = userdata;
	if (json_array_size(jp_get(obj, "metadata.ownerReferences")) ||
	    jp_get(obj, "metadata.deletionTimestamp"))
		enqueue_obj(h->ctl, h->k, obj);
}

static void
on_update(const json_t *old, const json_t *obj, void *userdata)
{
	struct gc_handler *h = userdata;
	const json_t *a = jp_get(old, "metadata.ownerReferences");
	const json_t *b = jp_get(obj, "metadata.ownerReferences");
	bool refs_changed = !(a == b || (a && b && json_equal(a, b)));
	bool deleting = jp_get(obj, "metadata.deletionTimestamp") != NULL;
	const json_t *fa = jp_get(old, "metadata.finalizers");
	const json_t *fb = jp_get(obj, "metadata.finalizers");
	bool fin_changed = !(fa == fb || (fa && fb && json_equal(fa, fb)));
	if (refs_changed ||
	    (deleting && (fin_changed || !jp_get(old, "metadata.deletionTimestamp"))))
		enqueue_obj(h->ctl, h->k, obj);
	/* An owner that stopped being deleted in the foreground lets go of its dependents; one
	 * that is being deleted must look at them. */
	if (deleting && fin_changed)
		enqueue_dependents(h->ctl, obj);
}

static void
on_delete(const json_t *obj, void *userdata)
{
	struct gc_handler *h = userdata;
	enqueue_dependents(h->ctl, obj);
	/* Owners waiting for this dependent to go look again. */
	size_t i;
	json_t *ref;
	json_array_foreach (jp_get(obj, "metadata.ownerReferences"), i, ref) {
		const struct kind_info *ok =
			kind_lookup(jp_str0(ref, "apiVersion"), jp_str0(ref, "kind"));
		if (!ok || skipped(ok))
			continue;
		json_t *fake = json_pack("{s:{s:s, s:s}}", "metadata", "namespace",
					 ok->namespaced ? jp_str0(obj, "metadata.namespace") : "",
					 "name", jp_str0(ref, "name"));
		enqueue_obj(h->ctl, ok, fake);
		json_decref(fake);
	}
}

struct gc_state {
	struct gc g;
	struct gc_handler *handlers; /* one per kind */
};

static struct gc_handler *
handlers_for(struct ctrl *ctl, size_t i)
{
	return &((struct gc_state *)ctl->data)->handlers[i];
}

static int
gc_init(struct ctrl *ctl, korch_error **err)
{
	struct gc_state *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->g.n = kind_registry_count;
	s->g.infs = calloc(s->g.n, sizeof(*s->g.infs));
	s->handlers = calloc(s->g.n, sizeof(*s->handlers));
	if (!s->g.infs || !s->handlers)
		return error_oom(err);
	for (size_t i = 0; i < s->g.n; i++) {
		const struct kind_info *k = kind_registry[i];
		if (skipped(k))
			continue;
		char api_version[64];
		struct informer *inf =
			cm_informer(ctl->cm, kind_api_version(k, api_version), k->kind);
		if (!inf)
			return error_oom(err);
		s->g.infs[i] = inf;
		struct gc_handler *h = handlers_for(ctl, i);
		h->ctl = ctl;
		h->k = k;
		struct informer_handlers ih = { on_add, on_update, on_delete, h };
		int hr;
		if ((hr = informer_add_handlers(inf, &ih, err)) < 0)
			return hr;
	}
	return 0;
}

static void
gc_fini(struct ctrl *ctl)
{
	struct gc_state *s = ctl->data;
	if (!s)
		return;
	free(s->g.infs);
	free(s->handlers);
	free(s);
}

/* ---- owners ---- */

enum owner_state {
	OWNER_SOLID,    /* exists, same uid, not waiting for its dependents */
	OWNER_DANGLING, /* gone, or another object of that name now */
	OWNER_WAITING,  /* being deleted in the foreground */
};

static int
owner_state(struct ctrl *ctl, const json_t *dependent, const json_t *ref, enum owner_state *ret,
	    korch_error **err)
{
	struct gc *g = state(ctl);
	const struct kind_info *ok = kind_lookup(jp_str0(ref, "apiVersion"), jp_str0(ref, "kind"));
	if (!ok) {
		/* A kind korch does not know cannot exist here: dangling. */
		*ret = OWNER_DANGLING;
		return 0;
	}
	const char *ns = ok->namespaced ? jp_str(dependent, "metadata.namespace") : NULL;
	const char *name = jp_str0(ref, "name");
	size_t i = kind_index(ok);
	const json_t *cached = i < g->n && g->infs[i] ? informer_get(g->infs[i], ns, name) : NULL;
	_cleanup_json_ json_t *live = NULL;
	const json_t *owner = cached;
	if (!owner || !streq(jp_str(owner, "metadata.uid"), jp_str(ref, "uid"))) {
		/* The cache may be late: ask the store before calling it gone. */
		korch_error *e = NULL;
		int r = client_get(cm_client(ctl->cm), ok, ns, name, &live, &e);
		if (r == KORCH_ENOTFOUND) {
			korch_error_free(e);
			*ret = OWNER_DANGLING;
			return 0;
		}
		if (r < 0)
			return error_propagate(err, &e, r);
		owner = live;
	}
	if (!streq(jp_str(owner, "metadata.uid"), jp_str(ref, "uid")))
		*ret = OWNER_DANGLING;
	else if (jp_get(owner, "metadata.deletionTimestamp") &&
		 has_finalizer(owner, "foregroundDeletion"))
		*ret = OWNER_WAITING;
	else
		*ret = OWNER_SOLID;
	return 0;
}

/* Removes the ownerReferences with these uids from obj (a strategic merge patch). */
static int
remove_refs(struct ctrl *ctl, const struct kind_info *k, const json_t *obj, json_t *uids,
	    korch_error **err)
{
	json_t *list = json_array();
	size_t i;
	json_t *uid;
	json_array_foreach (uids, i, uid)
		json_array_append_new(list,
				      json_pack("{s:s, s:O}", "$patch", "delete", "uid", uid));
	_cleanup_json_ json_t *patch = json_pack("{s:{s:o, s:s}}", "metadata", "ownerReferences",
						 list, "uid", jp_str0(obj, "metadata.uid"));
	int r = cm_patch(ctl, k, jp_str(obj, "metadata.namespace"), jp_str0(obj, "metadata.name"),
			 CLIENT_PATCH_STRATEGIC, patch, NULL, NULL, err);
	return r == KORCH_ENOTFOUND ? 0 : r;
}

/* Removes a finalizer from obj, conditional on the version the cache shows. */
static int
remove_finalizer(struct ctrl *ctl, const struct kind_info *k, const json_t *obj, const char *name,
		 korch_error **err)
{
	_cleanup_json_ json_t *copy = json_deep_copy(obj);
	json_t *list = json_object_get(json_object_get(copy, "metadata"), "finalizers");
	size_t i;
	json_t *f;
	json_array_foreach (list, i, f)
		if (streq(json_string_value(f), name)) {
			json_array_remove(list, i);
			break;
		}
	korch_error *e = NULL;
	int r = cm_update(ctl, copy, NULL, NULL, &e);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		return 0;
	}
	return error_propagate(err, &e, r);
}

static int
delete_obj(struct ctrl *ctl, const struct kind_info *k, const json_t *obj,
	   enum client_propagation policy, korch_error **err)
{
	struct client_delete_opts o = {
		.grace_period_s = -1,
		.propagation = policy,
		.precondition_uid = jp_str(obj, "metadata.uid"),
	};
	korch_error *e = NULL;
	int r = cm_delete(ctl, k, jp_str(obj, "metadata.namespace"), jp_str0(obj, "metadata.name"),
			  &o, &e);
	if (r == KORCH_ENOTFOUND || r == KORCH_ECONFLICT) {
		/* Gone, or replaced by another object of that name: nothing to collect. */
		korch_error_free(e);
		return 0;
	}
	return error_propagate(err, &e, r);
}

/* ---- the three kinds of work ---- */

/* An owner deleted with the orphan finalizer: its dependents lose their reference to it. */
static int
orphan_dependents(struct ctrl *ctl, const struct kind_info *k, const json_t *owner,
		  korch_error **err)
{
	_cleanup_json_ json_t *deps = dependents(ctl, jp_str(owner, "metadata.uid"));
	size_t i;
	json_t *pair;
	json_array_foreach (deps, i, pair) {
		const struct kind_info *dk =
			kind_registry[json_integer_value(json_array_get(pair, 0))];
		_cleanup_json_ json_t *uids = json_pack("[s]", jp_str0(owner, "metadata.uid"));
		int r = remove_refs(ctl, dk, json_array_get(pair, 1), uids, err);
		if (r < 0)
			return r;
	}
	return remove_finalizer(ctl, k, owner, "orphan", err);
}

/* An owner deleted in the foreground: delete what blocks it, then let it go. */
static int
delete_dependents_first(struct ctrl *ctl, const struct kind_info *k, const json_t *owner,
			korch_error **err)
{
	const char *uid = jp_str(owner, "metadata.uid");
	_cleanup_json_ json_t *deps = dependents(ctl, uid);
	size_t blocking = 0, i;
	json_t *pair;
	json_array_foreach (deps, i, pair) {
		const json_t *dep = json_array_get(pair, 1);
		size_t j;
		json_t *ref;
		json_array_foreach (jp_get(dep, "metadata.ownerReferences"), j, ref)
			if (streq(jp_str(ref, "uid"), uid) &&
			    json_is_true(json_object_get(ref, "blockOwnerDeletion")))
				blocking++;
		const struct kind_info *dk =
			kind_registry[json_integer_value(json_array_get(pair, 0))];
		if (jp_get(dep, "metadata.deletionTimestamp"))
			continue;
		/* A dependent with dependents of its own goes in the foreground too. */
		_cleanup_json_ json_t *grand = dependents(ctl, jp_str(dep, "metadata.uid"));
		int r = delete_obj(ctl, dk, dep,
				   json_array_size(grand) ? CLIENT_PROPAGATION_FOREGROUND
							  : CLIENT_PROPAGATION_BACKGROUND,
				   err);
		if (r < 0)
			return r;
	}
	if (blocking == 0)
		return remove_finalizer(ctl, k, owner, "foregroundDeletion", err);
	return 0; /* looked at again when a dependent goes */
}

/* attemptToDeleteItem: an object whose owners are all gone is collected. */
static int
attempt_to_delete(struct ctrl *ctl, const struct kind_info *k, const json_t *obj, korch_error **err)
{
	const json_t *refs = jp_get(obj, "metadata.ownerReferences");
	if (!json_array_size(refs))
		return 0;
	_cleanup_json_ json_t *dangling = json_array(), *waiting = json_array();
	size_t solid = 0, i;
	json_t *ref;
	json_array_foreach (refs, i, ref) {
		enum owner_state st;
		int r = owner_state(ctl, obj, ref, &st, err);
		if (r < 0)
			return r;
		if (st == OWNER_SOLID)
			solid++;
		else
			json_array_append_new(st == OWNER_DANGLING ? dangling : waiting,
					      json_string(jp_str0(ref, "uid")));
	}
	if (solid) {
		if (!json_array_size(dangling) && !json_array_size(waiting))
			return 0;
		_cleanup_json_ json_t *uids = json_copy(dangling);
		json_array_extend(uids, waiting);
		return remove_refs(ctl, k, obj, uids, err);
	}
	_cleanup_json_ json_t *deps = dependents(ctl, jp_str(obj, "metadata.uid"));
	enum client_propagation policy = CLIENT_PROPAGATION_BACKGROUND;
	if (json_array_size(waiting) && json_array_size(deps))
		policy = CLIENT_PROPAGATION_FOREGROUND;
	else if (has_finalizer(obj, "orphan"))
		policy = CLIENT_PROPAGATION_ORPHAN;
	else if (has_finalizer(obj, "foregroundDeletion"))
		policy = CLIENT_PROPAGATION_FOREGROUND;
	log_debug("gc", "deleting %s %s/%s: its owners are gone", k->kind,
		  jp_str0(obj, "metadata.namespace"), jp_str0(obj, "metadata.name"));
	return delete_obj(ctl, k, obj, policy, err);
}

static int
gc_sync(struct ctrl *ctl, const char *key)
{
	struct gc *g = state(ctl);
	char *end = NULL;
	size_t i = strtoul(key, &end, 10);
	if (!end || *end != '\x1f' || i >= g->n || !g->infs[i])
		return 0;
	const char *ns = end + 1;
	const char *sep = strchr(ns, '\x1f');
	if (!sep)
		return 0;
	char nsbuf[256];
	snprintf(nsbuf, sizeof(nsbuf), "%.*s", (int)(sep - ns), ns);
	const struct kind_info *k = kind_registry[i];
	const json_t *cached = informer_get(g->infs[i], nsbuf, sep + 1);
	if (!cached)
		return 0;
	_cleanup_json_ json_t *obj = json_incref((json_t *)cached);
	korch_error *e = NULL;
	int r = 0;
	if (jp_get(obj, "metadata.deletionTimestamp")) {
		if (has_finalizer(obj, "orphan"))
			r = orphan_dependents(ctl, k, obj, &e);
		else if (has_finalizer(obj, "foregroundDeletion"))
			r = delete_dependents_first(ctl, k, obj, &e);
	} else {
		r = attempt_to_delete(ctl, k, obj, &e);
	}
	return r < 0 ? ctrl_fail(ctl, key, r, e) : 0;
}

const struct ctrl_ops garbagecollector_ops = {
	.name = "garbagecollector",
	.component = "garbage-collector-controller",
	.init = gc_init,
	.sync = gc_sync,
	.fini = gc_fini,
};
