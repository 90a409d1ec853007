/*
 * manager.c - the controller manager: leader election, the enabled controllers with their work
 * queues, shared informers and their indexes, counted writes, resync.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "base/vec.h"
#include "controller/controllers.h"
#include "client/events.h"
#include "controller/index.h"
#include "controller/leader.h"
#include "controller/manager.h"

/* One shared informer and its index. */
struct cm_informer {
	struct informer *inf; /* all namespaces */
	struct index *ix;     /* by namespace, owner and label */
	bool started;         /* informer_start() ran */
};

struct controller_manager {
	struct client *client;                  /* borrowed */
	korch_loop *loop;                       /* borrowed */
	korch_clock *clock;                     /* the loop's */
	struct controller_manager_options opts; /* with defaults; strings owned */
	char *identity;                         /* leader identity */
	struct leader *leader;                  /* or NULL without election */
	bool started;                           /* controller_manager_start() ran */
	bool running;                           /* controllers built and informers started */
	struct cm_informer *informers;          /* n_informers shared informers */
	size_t n_informers, cap_informers;
	struct ctrl **ctrls; /* the running controllers */
	size_t n_ctrls;
	struct hashmap pending;           /* "ctrlindex\x1fkey" held until caches sync */
	struct loop_source *sync_check;   /* flushes pending once synced */
	bool synced;                      /* every informer delivered its initial adds */
	struct loop_source *resync_timer; /* periodic resync, or NULL */
	struct event_recorder *events;    /* Events with de-duplication */
	struct controller_stats stats;    /* counters */
};

/* ---- accessors ---- */

korch_clock *
cm_clock(const struct controller_manager *cm)
{
	return cm->clock;
}

korch_loop *
cm_loop(const struct controller_manager *cm)
{
	return cm->loop;
}

struct client *
cm_client(const struct controller_manager *cm)
{
	return cm->client;
}

const struct controller_manager_options *
cm_options(const struct controller_manager *cm)
{
	return &cm->opts;
}

int64_t
cm_now(const struct controller_manager *cm)
{
	return korch_clock_now_ns(cm->clock);
}

int64_t
cm_wall(const struct controller_manager *cm)
{
	return korch_clock_wall_ns(cm->clock);
}

struct ctrl *
cm_ctrl(struct controller_manager *cm, const char *name)
{
	for (size_t i = 0; i < cm->n_ctrls; i++)
		if (streq(cm->ctrls[i]->ops->name, name))
			return cm->ctrls[i];
	return NULL;
}

int
cm_sync_now(struct controller_manager *cm, const char *name, const char *key)
{
	struct ctrl *ctl = cm_ctrl(cm, name);
	if (!ctl)
		return KORCH_ENOTFOUND;
	cm->stats.reconciles++;
	return ctl->ops->sync(ctl, key);
}

const struct kind_info *
kind_of(const char *api_version, const char *kind)
{
	return kind_lookup(api_version, kind);
}

/* ---- informers ---- */

struct informer *
cm_informer(struct controller_manager *cm, const char *api_version, const char *kind)
{
	const struct kind_info *k = kind_lookup(api_version, kind);
	if (!k)
		return NULL;
	for (size_t i = 0; i < cm->n_informers; i++)
		if (informer_kind(cm->informers[i].inf) == k)
			return cm->informers[i].inf;
	struct informer *inf = NULL;
	korch_error *e = NULL;
	if (informer_new(cm->client, k, NULL, NULL, NULL, &inf, &e) < 0) {
		log_error("controller", "informer %s: %s", kind, korch_error_message(e));
		korch_error_free(e);
		return NULL;
	}
	struct index *ix = index_new(inf);
	struct cm_informer *slot =
		ix ? VEC_PUSH(cm->informers, cm->n_informers, cm->cap_informers) : NULL;
	if (!slot) {
		index_free(ix);
		informer_free(inf);
		return NULL;
	}
	slot->inf = inf;
	slot->ix = ix;
	if (cm->running) {
		/* A controller asked late: start it now. */
		if (informer_start(inf, NULL) == 0)
			slot->started = true;
		cm->synced = false;
		loop_defer_enable(cm->sync_check);
	}
	return inf;
}

static struct index *
index_of(struct controller_manager *cm, struct informer *inf)
{
	for (size_t i = 0; i < cm->n_informers; i++)
		if (cm->informers[i].inf == inf)
			return cm->informers[i].ix;
	return NULL;
}

void
cm_foreach_in_ns(struct controller_manager *cm, struct informer *inf, const char *ns, index_fn fn,
		 void *userdata)
{
	struct index *ix = index_of(cm, inf);
	if (ix)
		index_foreach_ns(ix, ns, fn, userdata);
}

void
cm_foreach_owned(struct controller_manager *cm, struct informer *inf, const char *uid, index_fn fn,
		 void *userdata)
{
	struct index *ix = index_of(cm, inf);
	if (ix)
		index_foreach_owner(ix, uid, fn, userdata);
}

void
cm_foreach_selected(struct controller_manager *cm, struct informer *inf, const char *ns,
		    const struct label_selector *sel, index_fn fn, void *userdata)
{
	struct index *ix = index_of(cm, inf);
	if (ix)
		index_foreach_selected(ix, ns, sel, fn, userdata);
}

struct claimable {
	const char *uid; /* the owner's */
	index_fn fn;
	void *userdata;
};

static bool
refers_to(const json_t *obj, const char *uid)
{
	size_t i;
	json_t *ref;
	json_array_foreach (jp_get(obj, "metadata.ownerReferences"), i, ref)
		if (streq(jp_str(ref, "uid"), uid))
			return true;
	return false;
}

static void
selected_not_owned(const json_t *obj, void *userdata)
{
	struct claimable *c = userdata;
	if (!refers_to(obj, c->uid))
		c->fn(obj, c->userdata);
}

void
cm_foreach_claimable(struct controller_manager *cm, struct informer *inf, const char *ns,
		     const char *uid, const struct label_selector *sel, index_fn fn, void *userdata)
{
	cm_foreach_owned(cm, inf, uid, fn, userdata);
	struct claimable c = { uid, fn, userdata };
	cm_foreach_selected(cm, inf, ns, sel, selected_not_owned, &c);
}

static bool
informers_synced(const struct controller_manager *cm)
{
	for (size_t i = 0; i < cm->n_informers; i++)
		if (!informer_synced(cm->informers[i].inf))
			return false;
	return true;
}

/* ---- queues ---- */

static size_t
ctrl_index(const struct controller_manager *cm, const struct ctrl *ctl)
{
	for (size_t i = 0; i < cm->n_ctrls; i++)
		if (cm->ctrls[i] == ctl)
			return i;
	return (size_t)-1;
}

/* Runs one key of a controller (the work queue's callback). */
static int
process_key(const char *key, void *userdata)
{
	struct ctrl *ctl = userdata;
	struct controller_manager *cm = ctl->cm;
	if (cm->leader && !leader_is_leader(cm->leader))
		return 0; /* no longer leading: the controllers are torn down shortly */
	if (!cm->synced) {
		/* WaitForCacheSync: hold the key until every cache is complete. */
		char *pk = NULL;
		if (asprintf(&pk, "%zu\x1f%s", ctrl_index(cm, ctl), key) >= 0)
			hashmap_put(&cm->pending, pk, NULL, NULL);
		free(pk);
		loop_defer_enable(cm->sync_check);
		return 0;
	}
	cm->stats.reconciles++;
	int r = ctl->ops->sync(ctl, key);
	if (r < 0)
		cm->stats.failures++;
	return r;
}

static void
on_sync_check(struct loop_source *src, void *userdata)
{
	struct controller_manager *cm = userdata;
	if (!cm->running)
		return;
	if (!informers_synced(cm)) {
		loop_defer_enable(src);
		return;
	}
	cm->synced = true;
	size_t iter = 0;
	const char *pk;
	while (hashmap_next(&cm->pending, &iter, &pk, NULL)) {
		char *end = NULL;
		unsigned long i = strtoul(pk, &end, 10);
		if (end && *end == '\x1f' && i < cm->n_ctrls)
			workqueue_add(cm->ctrls[i]->queue, end + 1);
	}
	hashmap_free(&cm->pending, NULL);
	cm->pending = (struct hashmap)HASHMAP_INIT;
}

void
ctrl_enqueue_key(struct ctrl *ctl, const char *key)
{
	workqueue_add(ctl->queue, key);
}

void
ctrl_enqueue(struct ctrl *ctl, const json_t *obj)
{
	_cleanup_free_ char *key = object_key(obj);
	if (key)
		workqueue_add(ctl->queue, key);
}

void
ctrl_enqueue_after(struct ctrl *ctl, const char *key, int64_t delay_ns)
{
	workqueue_add_after(ctl->queue, key, delay_ns);
}

void
ctrl_enqueue_controller_of(struct ctrl *ctl, const json_t *obj, const char *kind)
{
	const json_t *ref = controller_ref(obj);
	if (!ref || !streq(jp_str(ref, "kind"), kind))
		return;
	const char *ns = jp_str(obj, "metadata.namespace");
	char *key = NULL;
	if (asprintf(&key, "%s%s%s", ns && *ns ? ns : "", ns && *ns ? "/" : "",
		     jp_str0(ref, "name")) < 0)
		return;
	workqueue_add(ctl->queue, key);
	free(key);
}

static void
primary_add(const json_t *obj, void *userdata)
{
	ctrl_enqueue(userdata, obj);
}

static void
primary_update(const json_t *old, const json_t *obj, void *userdata)
{
	ctrl_enqueue(userdata, obj);
}

struct informer *
ctrl_watch_primary(struct ctrl *ctl, const char *api_version, const char *kind)
{
	struct informer *inf = cm_informer(ctl->cm, api_version, kind);
	if (!inf)
		return NULL;
	struct informer_handlers h = { primary_add, primary_update, primary_add, ctl };
	if (informer_add_handlers(inf, &h, NULL) < 0)
		return NULL;
	ctl->primary = inf;
	return inf;
}

int
ctrl_fail(struct ctrl *ctl, const char *key, int r, korch_error *e)
{
	log_warn(ctl->ops->name, "sync %s: %s", key,
		 e ? korch_error_message(e) : korch_strerror(r));
	korch_error_free(e);
	return r;
}

int
ctrl_sync_end(struct ctrl *ctl, const char *key, int r, korch_error *e)
{
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		return 0;
	}
	return r < 0 ? ctrl_fail(ctl, key, r, e) : 0;
}

/* ---- writes ---- */

static const struct client_write_opts write_opts = { .field_manager = CM_FIELD_MANAGER };

static int
counted(struct ctrl *ctl, int r)
{
	ctl->cm->stats.writes++;
	if (r == KORCH_ECONFLICT)
		ctl->cm->stats.conflicts++;
	return r;
}

int
cm_create(struct ctrl *ctl, const json_t *obj, json_t **ret, korch_error **err)
{
	return counted(ctl, client_create(ctl->cm->client, obj, &write_opts, ret, err));
}

int
cm_update(struct ctrl *ctl, const json_t *obj, const char *subresource, json_t **ret,
	  korch_error **err)
{
	return counted(ctl,
		       client_update(ctl->cm->client, obj, subresource, &write_opts, ret, err));
}

int
cm_patch(struct ctrl *ctl, const struct kind_info *k, const char *ns, const char *name,
	 enum client_patch_type type, const json_t *patch, const char *subresource, json_t **ret,
	 korch_error **err)
{
	return counted(ctl, client_patch(ctl->cm->client, k, ns, name, type, patch, subresource,
					 &write_opts, ret, err));
}

int
cm_delete(struct ctrl *ctl, const struct kind_info *k, const char *ns, const char *name,
	  const struct client_delete_opts *o, korch_error **err)
{
	static const struct client_delete_opts dflt = { .grace_period_s = -1 };
	return counted(ctl, client_delete(ctl->cm->client, k, ns, name, o ? o : &dflt, NULL, err));
}

int
cm_update_scale(struct ctrl *ctl, const struct kind_info *k, const json_t *scale, json_t **ret,
		korch_error **err)
{
	return counted(ctl, client_update_scale(ctl->cm->client, k, scale, &write_opts, ret, err));
}

void
cm_event(struct ctrl *ctl, const json_t *obj, const char *type, const char *reason, const char *fmt,
	 ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (event_record(ctl->cm->events, ctl->ops->component, obj, type, reason, message))
		ctl->cm->stats.events++;
}

/* ---- running the controllers ---- */

static void
free_ctrl(struct ctrl *ctl)
{
	if (!ctl)
		return;
	if (ctl->ops->fini)
		ctl->ops->fini(ctl);
	workqueue_free(ctl->queue);
	free(ctl);
}

static void
stop_controllers(struct controller_manager *cm)
{
	for (size_t i = 0; i < cm->n_ctrls; i++)
		free_ctrl(cm->ctrls[i]);
	free(cm->ctrls);
	cm->ctrls = NULL;
	cm->n_ctrls = 0;
	for (size_t i = 0; i < cm->n_informers; i++) {
		index_free(cm->informers[i].ix);
		informer_free(cm->informers[i].inf);
	}
	free(cm->informers);
	cm->informers = NULL;
	cm->n_informers = cm->cap_informers = 0;
	hashmap_free(&cm->pending, NULL);
	cm->pending = (struct hashmap)HASHMAP_INIT;
	cm->running = false;
	cm->synced = false;
}

static bool
enabled(const struct controller_manager *cm, const char *name)
{
	if (!cm->opts.controllers)
		return true;
	for (const char *const *p = cm->opts.controllers; *p; p++)
		if (streq(*p, name))
			return true;
	return false;
}

static int
run_controllers(struct controller_manager *cm, korch_error **err)
{
	if (cm->running)
		return 0;
	size_t n = 0;
	for (size_t i = 0; controller_table[i]; i++)
		n++;
	cm->ctrls = calloc(n ? n : 1, sizeof(*cm->ctrls));
	if (!cm->ctrls)
		return error_oom(err);
	int r = 0;
	for (size_t i = 0; controller_table[i] && r == 0; i++) {
		const struct ctrl_ops *ops = controller_table[i];
		if (!enabled(cm, ops->name))
			continue;
		struct ctrl *ctl = calloc(1, sizeof(*ctl));
		if (!ctl) {
			r = error_oom(err);
			break;
		}
		ctl->ops = ops;
		ctl->cm = cm;
		if ((r = workqueue_new(cm->loop, NULL, process_key, ctl, &ctl->queue, err)) < 0) {
			free(ctl);
			break;
		}
		cm->ctrls[cm->n_ctrls++] = ctl;
		if ((r = ops->init(ctl, err)) < 0)
			korch_error_prefix(err, r, "controller %s", ops->name);
	}
	if (r == 0) {
		cm->running = true;
		for (size_t i = 0; i < cm->n_informers && r == 0; i++) {
			if ((r = informer_start(cm->informers[i].inf, err)) == 0)
				cm->informers[i].started = true;
		}
	}
	if (r < 0) {
		stop_controllers(cm);
		return r;
	}
	loop_defer_enable(cm->sync_check);
	log_info("controller", "controllers running (%zu)", cm->n_ctrls);
	return 0;
}

static void
on_started(void *userdata)
{
	struct controller_manager *cm = userdata;
	korch_error *e = NULL;
	if (run_controllers(cm, &e) < 0) {
		log_error("controller", "start controllers: %s", korch_error_message(e));
		korch_error_free(e);
	}
}

static void
on_stopped(void *userdata)
{
	stop_controllers(userdata);
}

static void
on_resync(struct loop_source *src, void *userdata)
{
	struct controller_manager *cm = userdata;
	controller_manager_resync(cm);
	loop_timer_set(src, cm_now(cm) + cm->opts.resync_period_ns);
}

/* ---- public ---- */

static int
default_identity(char **ret)
{
	char host[256] = "korch";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	unsigned char rnd[4] = { 0 };
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	return asprintf(ret, "%s_%d_%02x%02x%02x%02x", host, (int)getpid(), rnd[0], rnd[1], rnd[2],
			rnd[3]) < 0
		       ? KORCH_ENOMEM
		       : 0;
}

int
controller_manager_new(struct client *client, korch_loop *loop,
		       const struct controller_manager_options *opts,
		       struct controller_manager **ret, korch_error **err)
{
	if (store_loop(client_store(client)) != loop)
		return error_set(err, KORCH_EINVALID,
				 "controller manager: the client's store must run on the "
				 "manager's loop");
	struct controller_manager *cm = calloc(1, sizeof(*cm));
	if (!cm)
		return error_oom(err);
	cm->client = client;
	cm->loop = loop;
	cm->clock = korch_loop_clock(loop);
	cm->pending = (struct hashmap)HASHMAP_INIT;
	if (opts)
		cm->opts = *opts;
	struct controller_manager_options *o = &cm->opts;
	/* The strings are the caller's: keep copies (the controller list is borrowed). */
	o->identity = NULL;
	char **strs[] = { (char **)&o->cluster_cidr, (char **)&o->volume_dir, (char **)&o->api_host,
			  (char **)&o->root_ca_pem };
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		if (*strs[i] && !(*strs[i] = strdup(*strs[i])))
			goto oom;
	if (opts && opts->identity)
		cm->identity = strdup(opts->identity);
	else if (default_identity(&cm->identity) < 0)
		cm->identity = NULL;
	if (!cm->identity)
		goto oom;
	if (opts && opts->controllers) {
		size_t n = 0;
		while (opts->controllers[n])
			n++;
		char **list = calloc(n + 1, sizeof(*list));
		if (!list)
			goto oom;
		for (size_t i = 0; i < n; i++)
			if (!(list[i] = strdup(opts->controllers[i]))) {
				o->controllers = (const char *const *)list;
				goto oom;
			}
		o->controllers = (const char *const *)list;
	}
	if (!o->node_cidr_mask_size)
		o->node_cidr_mask_size = 24;
	if (!o->node_monitor_grace_ns)
		o->node_monitor_grace_ns = 40 * NSEC_PER_SEC;
	if (!o->api_port)
		o->api_port = 6443;
	if (!o->hpa_sync_period_ns)
		o->hpa_sync_period_ns = 15 * NSEC_PER_SEC;
	if (!o->hpa_downscale_window_ns)
		o->hpa_downscale_window_ns = 300 * NSEC_PER_SEC;
	if (!o->hpa_tolerance_permille)
		o->hpa_tolerance_permille = 100;
	int r = event_recorder_new(client, cm->clock, &cm->events, err);
	if (r < 0) {
		controller_manager_free(cm);
		return r;
	}
	if ((r = loop_add_defer(loop, on_sync_check, cm, &cm->sync_check, err)) < 0) {
		controller_manager_free(cm);
		return r;
	}
	*ret = cm;
	return 0;
oom:
	controller_manager_free(cm);
	return error_oom(err);
}

int
controller_manager_start(struct controller_manager *cm, korch_error **err)
{
	if (cm->started)
		return 0;
	int r;
	if (cm->opts.no_leader_election) {
		if ((r = run_controllers(cm, err)) < 0)
			return r;
	} else {
		struct leader_options lo = {
			.ns = "kube-system",
			.name = "kube-controller-manager",
			.identity = cm->identity,
			.lease_duration_ns = cm->opts.lease_duration_ns,
			.renew_deadline_ns = cm->opts.renew_deadline_ns,
			.retry_period_ns = cm->opts.retry_period_ns,
			.on_started = on_started,
			.on_stopped = on_stopped,
			.userdata = cm,
		};
		if ((r = leader_new(cm->client, cm->loop, &lo, &cm->leader, err)) < 0)
			return r;
	}
	if (cm->opts.resync_period_ns > 0 &&
	    (r = loop_add_timer(cm->loop, cm_now(cm) + cm->opts.resync_period_ns, on_resync, cm,
				&cm->resync_timer, err)) < 0)
		return r;
	cm->started = true;
	return 0;
}

bool
controller_manager_is_leader(const struct controller_manager *cm)
{
	return cm->running && (!cm->leader || leader_is_leader(cm->leader));
}

bool
controller_manager_idle(const struct controller_manager *cm)
{
	if (!cm->running || !cm->synced || cm->pending.n)
		return false;
	for (size_t i = 0; i < cm->n_ctrls; i++)
		if (workqueue_len(cm->ctrls[i]->queue))
			return false;
	return true;
}

static void
resync_one(const json_t *obj, void *userdata)
{
	ctrl_enqueue(userdata, obj);
}

void
controller_manager_resync(struct controller_manager *cm)
{
	for (size_t i = 0; i < cm->n_ctrls; i++)
		if (cm->ctrls[i]->primary)
			informer_foreach(cm->ctrls[i]->primary, resync_one, cm->ctrls[i]);
}

void
controller_manager_stats(const struct controller_manager *cm, struct controller_stats *ret)
{
	*ret = cm->stats;
}

void
controller_manager_free(struct controller_manager *cm)
{
	if (!cm)
		return;
	stop_controllers(cm);
	leader_free(cm->leader);
	loop_source_free(cm->resync_timer);
	loop_source_free(cm->sync_check);
	event_recorder_free(cm->events);
	free((char *)cm->opts.cluster_cidr);
	free((char *)cm->opts.volume_dir);
	free((char *)cm->opts.api_host);
	free((char *)cm->opts.root_ca_pem);
	if (cm->opts.controllers) {
		for (char **p = (char **)cm->opts.controllers; *p; p++)
			free(*p);
		free((char **)cm->opts.controllers);
	}
	free(cm->identity);
	free(cm);
}
