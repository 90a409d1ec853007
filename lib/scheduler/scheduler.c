/*
 * scheduler.c - the scheduler's life and its informers: every change of a pod, node, claim,
 * volume, class, namespace, service or controller is decoded once into the snapshot and, when
 * it could make waiting pods fit, moves them back to the active queue. Scheduling runs as a
 * deferred call on the loop: rounds of cycles (bounded in time so that the loop stays
 * responsive), each ending with one transaction of bindings.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/util.h"
#include "scheduler/sched-internal.h"

#define DEFAULT_SCHEDULER_NAME "default-scheduler"
#define ALL_PLUGINS 0xffffffffu

/* Plugins that an assigned pod appearing, changing labels or leaving can concern. */
#define POD_ADD_PLUGINS (1u << PL_INTER_POD_AFFINITY | 1u << PL_SPREAD)
#define POD_DELETE_PLUGINS                                                                    \
	(1u << PL_FIT | 1u << PL_NODE_PORTS | 1u << PL_INTER_POD_AFFINITY | 1u << PL_SPREAD | \
	 1u << PL_VOLUME_RESTRICTIONS | 1u << PL_DEFAULT_PREEMPTION)
#define VOLUME_PLUGINS \
	(1u << PL_VOLUME_BINDING | 1u << PL_VOLUME_RESTRICTIONS | 1u << PL_VOLUME_ZONE)

static int64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static const json_t *
jget(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

static bool
jsame(const json_t *a, const json_t *b)
{
	return a == b || (a && b && json_equal((json_t *)a, (json_t *)b));
}

/* ---- pods ---- */

static void
pod_free(struct scheduler *s, struct spod *p)
{
	pod_clear(s, p);
	free(p);
}

/* A pending binding or status patch of p (the pod going away, or bound) leaves its batch. */
static void
unbatch(struct scheduler *s, struct spod *p)
{
	bind_forget_pod(s, p);
}

/*
 * isPodUpdated: a change of anything but the status, resourceVersion, generation,
 * managedFields and finalizers (the scheduler's own status writes do not retry a pod).
 */
static bool
pod_updated(const json_t *old, const json_t *obj)
{
	if (!jsame(jget(old, "spec"), jget(obj, "spec")))
		return true;
	const json_t *a = jget(old, "metadata"), *b = jget(obj, "metadata");
	static const char *const ignored[] = { "resourceVersion", "generation", "managedFields",
					       "finalizers" };
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)a, k, v) {
		bool skip = false;
		for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
			skip |= strcmp(k, ignored[i]) == 0;
		if (!skip && !jsame(v, jget(b, k)))
			return true;
	}
	json_object_foreach ((json_t *)b, k, v) {
		bool skip = false;
		for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
			skip |= strcmp(k, ignored[i]) == 0;
		if (!skip && !jget(a, k))
			return true;
	}
	return false;
}

/* Places a new pod: on its node when assigned, in the queue when it is ours to schedule. */
static void
place(struct scheduler *s, struct spod *p)
{
	if (p->node) {
		struct snode *n = cache_node(s, intern_str(&s->strs, p->node), true);
		if (n)
			cache_add_pod(s, p, n);
		p->state = POD_BOUND;
		queue_event(s, POD_ADD_PLUGINS);
		return;
	}
	if (!p->ours || p->deleting) {
		p->state = POD_IGNORED;
		return;
	}
	if (p->nominated)
		cache_nominate(s, p, cache_node(s, intern_str(&s->strs, p->nominated), true));
	queue_add(s, p);
}

static struct spod *
decode_new(struct scheduler *s, const json_t *obj)
{
	struct spod *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (decode_pod(s, obj, p) < 0) {
		pod_free(s, p);
		return NULL;
	}
	return p;
}

static void
on_pod_add(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	struct spod *p = decode_new(s, obj);
	if (!p)
		return;
	struct spod *old = NULL;
	if (hashmap_put(&s->pods, p->key, p, (void **)&old) < 0) {
		pod_free(s, p);
		return;
	}
	if (old) {
		/* Should not happen (an add for a known key); the old one goes. */
		queue_remove(s, old);
		unbatch(s, old);
		cache_remove_pod(s, old);
		cache_nominate(s, old, NULL);
		pod_free(s, old);
	}
	place(s, p);
}

static void
on_pod_update(const json_t *old_obj, const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	const json_t *meta = jget(obj, "metadata");
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", json_string_value(jget(meta, "namespace")) ?: "",
		 json_string_value(jget(meta, "name")) ?: "");
	struct spod *p = cache_pod(s, key);
	if (!p) {
		on_pod_add(obj, userdata);
		return;
	}
	bool was_assigned = p->node != SID_NONE;
	bool updated = p->state == POD_UNSCHED && pod_updated(old_obj, obj);
	bool labels_changed = false;
	/*
	 * A binding (ours, handed over by the store as committed) changes the node, the
	 * resourceVersion and the conditions: only those are decoded again, where a whole decode
	 * was a good part of the loop's work per pod. Anything else takes the whole decode.
	 */
	if (pod_binding_only(old_obj, obj) && decode_pod_binding(s, obj, p) == 0) {
		cache_nominate(s, p, NULL);
	} else {
		struct spod *q = decode_new(s, obj);
		if (!q)
			return;
		labels_changed = !labels_equal(&p->labels, &q->labels);
		cache_update_pod(s, p, q);
	}
	if (p->node) {
		/*
		 * Assigned in the store: bound by us (the batch's outcome may not have come back
		 * yet: it still counts the binding) or by someone else meanwhile (our binding will
		 * be refused, and the pod stays where the store says).
		 */
		queue_remove(s, p);
		struct snode *n = cache_node(s, intern_str(&s->strs, p->node), true);
		if (p->on != n) {
			cache_remove_pod(s, p);
			if (n)
				cache_add_pod(s, p, n);
		}
		p->state = POD_BOUND;
		if (!was_assigned || labels_changed)
			queue_event(s, POD_ADD_PLUGINS);
		return;
	}
	if (p->state == POD_ASSUMED || p->state == POD_INFLIGHT)
		return; /* our binding is on its way */
	if (!p->ours || p->deleting) {
		queue_remove(s, p);
		p->state = POD_IGNORED;
		return;
	}
	if (p->nominated)
		cache_nominate(s, p, cache_node(s, intern_str(&s->strs, p->nominated), true));
	if (p->state == POD_NEW || p->state == POD_IGNORED)
		queue_add(s, p);
	else if (updated)
		queue_pod_updated(s, p);
}

static void
on_pod_delete(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	const json_t *meta = jget(obj, "metadata");
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", json_string_value(jget(meta, "namespace")) ?: "",
		 json_string_value(jget(meta, "name")) ?: "");
	struct spod *p = hashmap_remove(&s->pods, key);
	if (!p)
		return;
	bool assigned = p->on != NULL;
	queue_remove(s, p);
	unbatch(s, p);
	cache_remove_pod(s, p);
	cache_nominate(s, p, NULL);
	pod_free(s, p);
	if (assigned)
		queue_event(s, POD_DELETE_PLUGINS);
}

/* ---- nodes ---- */

/* Which plugins a node's change concerns (the framework's node update event types). */
static uint32_t
node_change(const json_t *old, const json_t *obj)
{
	if (!old)
		return ALL_PLUGINS;
	uint32_t m = 0;
	const json_t *os = jget(old, "status"), *ns = jget(obj, "status");
	if (!jsame(jget(os, "allocatable"), jget(ns, "allocatable")))
		m |= 1u << PL_FIT;
	if (!jsame(jget(jget(old, "metadata"), "labels"), jget(jget(obj, "metadata"), "labels")))
		m |= 1u << PL_NODE_AFFINITY | 1u << PL_SPREAD | 1u << PL_INTER_POD_AFFINITY |
		     VOLUME_PLUGINS;
	if (!jsame(jget(jget(old, "spec"), "taints"), jget(jget(obj, "spec"), "taints")) ||
	    !jsame(jget(os, "conditions"), jget(ns, "conditions")))
		m |= 1u << PL_TAINT_TOLERATION | 1u << PL_SPREAD;
	if (!jsame(jget(jget(old, "spec"), "unschedulable"),
		   jget(jget(obj, "spec"), "unschedulable")))
		m |= 1u << PL_NODE_UNSCHEDULABLE;
	return m;
}

static void
node_changed(struct scheduler *s, const json_t *old, const json_t *obj)
{
	const char *name = json_string_value(jget(jget(obj, "metadata"), "name"));
	if (!name)
		return;
	struct snode *n = cache_node(s, name, true);
	if (!n)
		return;
	cache_node_update(s, n, obj);
	uint32_t m = node_change(old, obj);
	if (m)
		queue_event(s, m);
}

static void
on_node_add(const json_t *obj, void *userdata)
{
	node_changed(userdata, NULL, obj);
}

static void
on_node_update(const json_t *old, const json_t *obj, void *userdata)
{
	node_changed(userdata, old, obj);
}

static void
on_node_delete(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	const char *name = json_string_value(jget(jget(obj, "metadata"), "name"));
	struct snode *n = name ? cache_node(s, name, false) : NULL;
	if (n)
		cache_node_gone(s, n);
}

/* ---- claims, volumes, classes ---- */

static char *
object_key(const json_t *obj, const char *prefix)
{
	const json_t *meta = jget(obj, "metadata");
	const char *ns = json_string_value(jget(meta, "namespace"));
	const char *name = json_string_value(jget(meta, "name")) ?: "";
	char *key = NULL;
	if (asprintf(&key, "%s%s%s%s", prefix ? prefix : "", ns ? ns : "", ns ? "/" : "", name) < 0)
		return NULL;
	return key;
}

static void
on_claim(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	_cleanup_free_ char *key = object_key(obj, NULL);
	struct sclaim *c = decode_claim(s, obj), *old = NULL;
	if (!key || !c || hashmap_put(&s->claims, key, c, (void **)&old) < 0) {
		claim_free(s, c);
		return;
	}
	/* A volume chosen for it stays assumed until the claim shows a binding. */
	if (old && old->assumed_volume && !*c->volume)
		c->assumed_volume = steal_pointer(&old->assumed_volume);
	claim_free(s, old);
	queue_event(s, VOLUME_PLUGINS);
}

static void
on_claim_update(const json_t *old, const json_t *obj, void *userdata)
{
	on_claim(obj, userdata);
}

static void
on_claim_delete(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	_cleanup_free_ char *key = object_key(obj, NULL);
	if (key)
		claim_free(s, hashmap_remove(&s->claims, key));
}

static void
on_volume(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	_cleanup_free_ char *key = object_key(obj, NULL);
	struct svolume *v = decode_volume(s, obj), *old = NULL;
	if (!key || !v || hashmap_put(&s->volumes, key, v, (void **)&old) < 0) {
		volume_free(s, v);
		return;
	}
	/* A reservation this scheduler made stays until the volume shows its claimRef. */
	if (old && old->claimed && !v->claimed) {
		const struct sclaim *c = hashmap_get(&s->claims, old->claim_key);
		if (c && streq(c->assumed_volume, v->name)) {
			v->claim_key = steal_pointer(&old->claim_key);
			v->claimed = true;
		}
	}
	volume_free(s, old);
	queue_event(s, VOLUME_PLUGINS);
}

static void
on_volume_update(const json_t *old, const json_t *obj, void *userdata)
{
	on_volume(obj, userdata);
}

static void
on_volume_delete(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	_cleanup_free_ char *key = object_key(obj, NULL);
	if (key)
		volume_free(s, hashmap_remove(&s->volumes, key));
}

static void
on_class(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	_cleanup_free_ char *key = object_key(obj, NULL);
	struct sclass *c = calloc(1, sizeof(*c)), *old = NULL;
	if (!key || !c) {
		free(c);
		return;
	}
	c->wait_for_consumer =
		streq(json_string_value(jget(obj, "volumeBindingMode")), "WaitForFirstConsumer");
	const char *prov = json_string_value(jget(obj, "provisioner"));
	c->provisions = prov && *prov && !streq(prov, "kubernetes.io/no-provisioner");
	if (hashmap_put(&s->classes, key, c, (void **)&old) < 0) {
		free(c);
		return;
	}
	free(old);
	queue_event(s, VOLUME_PLUGINS);
}

static void
on_class_update(const json_t *old, const json_t *obj, void *userdata)
{
	on_class(obj, userdata);
}

static void
on_class_delete(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	_cleanup_free_ char *key = object_key(obj, NULL);
	if (key)
		free(hashmap_remove(&s->classes, key));
}

/* ---- namespaces, services, controllers ---- */

static void
ns_labels_free(struct scheduler *s, struct labels *l)
{
	if (!l)
		return;
	labels_free(&s->strs, l);
	free(l);
}

static void
on_namespace(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	_cleanup_free_ char *key = object_key(obj, NULL);
	struct labels *l = calloc(1, sizeof(*l)), *old = NULL;
	if (!key || !l || decode_labels(s, jget(jget(obj, "metadata"), "labels"), l) < 0 ||
	    hashmap_put(&s->ns_labels, key, l, (void **)&old) < 0) {
		ns_labels_free(s, l);
		return;
	}
	bool changed = !old || !labels_equal(old, l);
	ns_labels_free(s, old);
	if (changed)
		queue_event(s, 1u << PL_INTER_POD_AFFINITY);
}

static void
on_namespace_update(const json_t *old, const json_t *obj, void *userdata)
{
	on_namespace(obj, userdata);
}

static void
on_namespace_delete(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	_cleanup_free_ char *key = object_key(obj, NULL);
	if (key)
		ns_labels_free(s, hashmap_remove(&s->ns_labels, key));
}

static void
svc_sel_free(struct scheduler *s, struct svc_sel *v)
{
	if (!v)
		return;
	lsel_free(&s->strs, &v->sel);
	intern_unref(&s->strs, v->ns);
	free(v);
}

/* Keeps a selector under key in map (a Service's, or a controller's). */
static void
keep_selector(struct scheduler *s, struct hashmap *map, const char *key, const json_t *obj,
	      const json_t *selector, bool is_map)
{
	if (!key)
		return;
	if (!json_is_object(selector) || (!is_map && !json_object_size(selector))) {
		/* A Service without a selector selects no pod. */
		svc_sel_free(s, hashmap_remove(map, key));
		return;
	}
	struct svc_sel *v = calloc(1, sizeof(*v)), *old = NULL;
	if (!v)
		return;
	const char *ns = json_string_value(jget(jget(obj, "metadata"), "namespace")) ?: "";
	v->ns = intern_get(&s->strs, ns, strlen(ns));
	v->is_map = is_map;
	int r = is_map ? decode_map_selector(s, selector, &v->sel)
		       : decode_lsel_json(s, selector, &v->sel);
	if (r < 0 || hashmap_put(map, key, v, (void **)&old) < 0) {
		svc_sel_free(s, v);
		return;
	}
	svc_sel_free(s, old);
}

static void
on_service(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	_cleanup_free_ char *key = object_key(obj, NULL);
	keep_selector(s, &s->services, key, obj, jget(jget(obj, "spec"), "selector"), true);
}

static void
on_service_update(const json_t *old, const json_t *obj, void *userdata)
{
	on_service(obj, userdata);
}

static void
drop_selector(struct scheduler *s, struct hashmap *map, const json_t *obj, const char *prefix)
{
	_cleanup_free_ char *key = object_key(obj, prefix);
	if (key)
		svc_sel_free(s, hashmap_remove(map, key));
}

static void
on_service_delete(const json_t *obj, void *userdata)
{
	drop_selector(userdata, &((struct scheduler *)userdata)->services, obj, NULL);
}

static void
on_owner(const json_t *obj, void *userdata)
{
	struct scheduler *s = userdata;
	const char *kind = json_string_value(jget(obj, "kind")) ?: "";
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s/", kind);
	_cleanup_free_ char *key = object_key(obj, prefix);
	keep_selector(s, &s->owners, key, obj, jget(jget(obj, "spec"), "selector"),
		      strcmp(kind, "ReplicationController") == 0);
}

static void
on_owner_update(const json_t *old, const json_t *obj, void *userdata)
{
	on_owner(obj, userdata);
}

static void
on_owner_delete(const json_t *obj, void *userdata)
{
	const char *kind = json_string_value(jget(obj, "kind")) ?: "";
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s/", kind);
	drop_selector(userdata, &((struct scheduler *)userdata)->owners, obj, prefix);
}

/* ---- scheduling rounds ---- */

/* The bind rate limit: a token per binding, refilled at bind_pods_qps up to the burst. */
static bool
take_token(struct scheduler *s)
{
	if (s->opts.bind_pods_qps <= 0)
		return true;
	int64_t now = korch_clock_now_ns(s->clock);
	s->tokens += (double)(now - s->tokens_at) / NSEC_PER_SEC * s->opts.bind_pods_qps;
	if (s->tokens > s->opts.bind_pods_burst)
		s->tokens = s->opts.bind_pods_burst;
	s->tokens_at = now;
	if (s->tokens >= 1 - 1e-9) {
		s->tokens -= 1;
		return true;
	}
	int64_t wait = (int64_t)((1 - s->tokens) / s->opts.bind_pods_qps * NSEC_PER_SEC);
	loop_timer_set(s->bind_timer, now + wait);
	return false;
}

static void
on_bind_timer(struct loop_source *src, void *userdata)
{
	struct scheduler *s = userdata;
	loop_defer_enable(s->run_src);
}

static bool
all_synced(const struct scheduler *s)
{
	struct informer *const infs[] = { s->pods_inf,    s->nodes_inf, s->pvcs_inf,     s->pvs_inf,
					  s->classes_inf, s->ns_inf,    s->services_inf, s->rcs_inf,
					  s->rss_inf,     s->sss_inf };
	for (size_t i = 0; i < ARRAY_SIZE(infs); i++)
		if (!informer_synced(infs[i]))
			return false;
	return true;
}

/* One round: cycles until the queue is empty or the round's budget is spent, then bind. */
static void
on_run(struct loop_source *src, void *userdata)
{
	struct scheduler *s = userdata;
	if (!s->started)
		return;
	if (!all_synced(s)) {
		loop_defer_enable(src);
		return;
	}
	int64_t start = mono_ns();
	bool limited = false;
	while (s->n_active) {
		/*
		 * A full batch waiting for the one on the pool: stop here (the pool's completion
		 * runs us again) rather than grow a transaction past the store's limit.
		 */
		if (bind_batch_full(s)) {
			limited = true;
			break;
		}
		if (!take_token(s)) {
			limited = true;
			break;
		}
		struct spod *p = queue_pop(s);
		schedule_one(s, p);
		if (mono_ns() - start > s->opts.round_budget_ns)
			break;
	}
	bind_flush(s);
	events_flush(s);
	if (s->n_active && !limited)
		loop_defer_enable(src);
}

/* ---- life ---- */

static int
add_informer(struct scheduler *s, const char *api_version, const char *kind,
	     const char *field_selector, const struct informer_handlers *h, struct informer **ret,
	     korch_error **err)
{
	const struct kind_info *k = kind_lookup(api_version, kind);
	int r = informer_new(s->client, k, NULL, NULL, field_selector, ret, err);
	if (r == 0)
		r = informer_add_handlers(*ret, h, err);
	return r;
}

static void
apply_defaults(struct scheduler_options *o)
{
	if (o->percentage_of_nodes_to_score < 0 || o->percentage_of_nodes_to_score > 100)
		o->percentage_of_nodes_to_score = 0;
	if (o->bind_pods_burst <= 0)
		o->bind_pods_burst = 100;
	/* A batch, its volume applies and Events stay well inside the store's transaction limit. */
	if (!o->bind_batch_max)
		o->bind_batch_max = 1000;
	if (o->bind_batch_max > 4000)
		o->bind_batch_max = 4000;
	if (o->round_budget_ns <= 0)
		o->round_budget_ns = 50 * NSEC_PER_MSEC;
	if (o->initial_backoff_ns <= 0)
		o->initial_backoff_ns = NSEC_PER_SEC;
	if (o->max_backoff_ns <= 0)
		o->max_backoff_ns = 10 * NSEC_PER_SEC;
	if (o->unschedulable_max_ns <= 0)
		o->unschedulable_max_ns = 300 * NSEC_PER_SEC;
}

int
scheduler_new(struct client *c, korch_loop *loop, const struct scheduler_options *opts,
	      struct scheduler **ret, korch_error **err)
{
	struct scheduler *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	s->client = c;
	s->loop = loop;
	s->clock = korch_loop_clock(loop);
	if (opts)
		s->opts = *opts;
	apply_defaults(&s->opts);
	s->opts.hostname = NULL;
	int r = KORCH_ENOMEM;
	char host[256] = "";
	if (opts && opts->hostname)
		snprintf(host, sizeof(host), "%s", opts->hostname);
	else if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	s->scheduler_name = strdup(opts && opts->scheduler_name ? opts->scheduler_name
								: DEFAULT_SCHEDULER_NAME);
	s->opts.scheduler_name = NULL;
	if (!s->scheduler_name ||
	    asprintf(&s->reporting_instance, "%s-%s", s->scheduler_name, host) < 0) {
		s->reporting_instance = NULL;
		goto fail;
	}
	rng_seed(&s->rng,
		 opts && opts->seed ? opts->seed : (uint64_t)korch_clock_wall_ns(s->clock));
	s->tokens = s->opts.bind_pods_burst;
	s->tokens_at = korch_clock_now_ns(s->clock);
	for (uint32_t i = 1; i < R_KNOWN_COUNT; i++)
		if (reason_id(s, known_reasons[i]) != i)
			goto fail;
	s->k_unschedulable = intern_get(&s->strs, "node.kubernetes.io/unschedulable",
					strlen("node.kubernetes.io/unschedulable"));
	s->k_hostname =
		intern_get(&s->strs, "kubernetes.io/hostname", strlen("kubernetes.io/hostname"));
	s->k_zone = intern_get(&s->strs, "topology.kubernetes.io/zone",
			       strlen("topology.kubernetes.io/zone"));
	s->s_empty = intern_get(&s->strs, "", 0);
	s->s_any_ip = intern_get(&s->strs, "0.0.0.0", strlen("0.0.0.0"));
	if (!s->k_unschedulable || !s->k_hostname || !s->k_zone || !s->s_empty || !s->s_any_ip)
		goto fail;

	const struct informer_handlers pods = { on_pod_add, on_pod_update, on_pod_delete, s };
	const struct informer_handlers nodes = { on_node_add, on_node_update, on_node_delete, s };
	const struct informer_handlers claims = { on_claim, on_claim_update, on_claim_delete, s };
	const struct informer_handlers volumes = { on_volume, on_volume_update, on_volume_delete,
						   s };
	const struct informer_handlers classes = { on_class, on_class_update, on_class_delete, s };
	const struct informer_handlers nss = { on_namespace, on_namespace_update,
					       on_namespace_delete, s };
	const struct informer_handlers svcs = { on_service, on_service_update, on_service_delete,
						s };
	const struct informer_handlers owners = { on_owner, on_owner_update, on_owner_delete, s };
	if ((r = add_informer(s, "v1", "Pod", "status.phase!=Succeeded,status.phase!=Failed", &pods,
			      &s->pods_inf, err)) < 0 ||
	    (r = add_informer(s, "v1", "Node", NULL, &nodes, &s->nodes_inf, err)) < 0 ||
	    (r = add_informer(s, "v1", "PersistentVolumeClaim", NULL, &claims, &s->pvcs_inf, err)) <
		    0 ||
	    (r = add_informer(s, "v1", "PersistentVolume", NULL, &volumes, &s->pvs_inf, err)) < 0 ||
	    (r = add_informer(s, "storage.k8s.io/v1", "StorageClass", NULL, &classes,
			      &s->classes_inf, err)) < 0 ||
	    (r = add_informer(s, "v1", "Namespace", NULL, &nss, &s->ns_inf, err)) < 0 ||
	    (r = add_informer(s, "v1", "Service", NULL, &svcs, &s->services_inf, err)) < 0 ||
	    (r = add_informer(s, "v1", "ReplicationController", NULL, &owners, &s->rcs_inf, err)) <
		    0 ||
	    (r = add_informer(s, "apps/v1", "ReplicaSet", NULL, &owners, &s->rss_inf, err)) < 0 ||
	    (r = add_informer(s, "apps/v1", "StatefulSet", NULL, &owners, &s->sss_inf, err)) < 0)
		goto fail;
	if ((r = loop_add_defer(loop, on_run, s, &s->run_src, err)) < 0 ||
	    (r = loop_add_timer(loop, -1, on_bind_timer, s, &s->bind_timer, err)) < 0 ||
	    (r = queue_init(s, err)) < 0)
		goto fail;
	if ((r = bind_init(s, err)) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	if (r == KORCH_ENOMEM)
		error_oom(err);
	scheduler_free(s);
	return r;
}

int
scheduler_start(struct scheduler *s, korch_error **err)
{
	if (s->started)
		return 0;
	/* The snapshot first (nodes, volumes, selectors), the pods last. */
	struct informer *const infs[] = { s->ns_inf,   s->nodes_inf,    s->classes_inf, s->pvs_inf,
					  s->pvcs_inf, s->services_inf, s->rcs_inf,     s->rss_inf,
					  s->sss_inf,  s->pods_inf };
	for (size_t i = 0; i < ARRAY_SIZE(infs); i++) {
		int r = informer_start(infs[i], err);
		if (r < 0)
			return korch_error_prefix(err, r, "scheduler: starting the %s informer",
						  informer_kind(infs[i])->plural);
	}
	s->started = true;
	loop_defer_enable(s->run_src);
	return 0;
}

bool
scheduler_synced(const struct scheduler *s)
{
	return s->started && all_synced(s);
}

bool
scheduler_idle(const struct scheduler *s)
{
	bool batch = s->job && (s->job->n || s->job->n_statuses);
	return scheduler_synced(s) && s->n_active == 0 && !batch && !s->inflight &&
	       s->n_events == 0;
}

void
scheduler_queue_lengths(const struct scheduler *s, size_t *ret_active, size_t *ret_backoff,
			size_t *ret_unschedulable)
{
	if (ret_active)
		*ret_active = s->n_active;
	if (ret_backoff)
		*ret_backoff = s->n_backoff;
	if (ret_unschedulable)
		*ret_unschedulable = s->n_unsched;
}

void
scheduler_stats_get(const struct scheduler *s, struct scheduler_stats *ret)
{
	*ret = s->stats;
}

void
scheduler_stats_reset(struct scheduler *s)
{
	s->stats = (struct scheduler_stats){ 0 };
	s->n_latencies = 0;
}

const int64_t *
scheduler_latencies(const struct scheduler *s, size_t *ret_n)
{
	*ret_n = s->n_latencies;
	return s->latencies;
}

size_t
scheduler_snapshot_bytes(const struct scheduler *s)
{
	return cache_bytes(s);
}

static void
free_map(struct scheduler *s, struct hashmap *m, void (*fn)(struct scheduler *, void *))
{
	size_t iter = 0;
	void *v;
	while (hashmap_next(m, &iter, NULL, &v))
		fn(s, v);
	hashmap_free(m, NULL);
}

static void
free_claim(struct scheduler *s, void *v)
{
	claim_free(s, v);
}

static void
free_volume(struct scheduler *s, void *v)
{
	volume_free(s, v);
}

static void
free_plain(struct scheduler *s, void *v)
{
	free(v);
}

static void
free_ns(struct scheduler *s, void *v)
{
	ns_labels_free(s, v);
}

static void
free_sel(struct scheduler *s, void *v)
{
	svc_sel_free(s, v);
}

void
scheduler_free(struct scheduler *s)
{
	if (!s)
		return;
	bind_fini(s);
	struct informer *const infs[] = { s->pods_inf,    s->nodes_inf, s->pvcs_inf,     s->pvs_inf,
					  s->classes_inf, s->ns_inf,    s->services_inf, s->rcs_inf,
					  s->rss_inf,     s->sss_inf };
	for (size_t i = 0; i < ARRAY_SIZE(infs); i++)
		informer_free(infs[i]);
	loop_source_free(s->run_src);
	loop_source_free(s->bind_timer);
	queue_free(s);
	for (uint32_t i = 0; i < s->n_events; i++)
		json_decref(s->events[i]);
	free(s->events);
	cache_free(s);
	free_map(s, &s->claims, free_claim);
	free_map(s, &s->volumes, free_volume);
	free_map(s, &s->classes, free_plain);
	free_map(s, &s->ns_labels, free_ns);
	free_map(s, &s->services, free_sel);
	free_map(s, &s->owners, free_sel);
	free(s->diag.node_status);
	free(s->diag.has_status);
	free(s->diag.post_msg);
	free(s->feasible);
	free(s->scores);
	free(s->total);
	free(s->latencies);
	intern_unref(&s->strs, s->k_unschedulable);
	intern_unref(&s->strs, s->k_hostname);
	intern_unref(&s->strs, s->k_zone);
	intern_unref(&s->strs, s->s_empty);
	intern_unref(&s->strs, s->s_any_ip);
	intern_free(&s->strs);
	reasons_free(&s->reasons);
	free(s->scheduler_name);
	free(s->reporting_instance);
	free(s);
}
