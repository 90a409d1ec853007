/*
 * stats.c - CPU and memory usage of every container, every pod and the node, sampled from the
 * backend (the cgroups) every interval, the last window (15 minutes) kept in fixed rings, for
 * `korchctl top`, the metrics API and the horizontal pod autoscaler. CPU is reported as
 * nanocores over the interval before each sample (the metrics API's "usage.cpu"), memory as the
 * working set (its "usage.memory").
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/util.h"
#include "node/node-internal.h"

struct sample {
	int64_t t;    /* wall clock */
	uint64_t cpu; /* cumulative CPU ns */
	uint64_t mem; /* working set bytes */
};

struct series {
	struct sample *v; /* cap entries, a ring */
	size_t cap;       /* capacity */
	size_t head;      /* where the next sample goes */
	size_t n;         /* samples held */
};

struct pod_series {
	struct series pod;   /* the pod's cgroup */
	struct hashmap ctrs; /* container name -> struct series */
};

struct stats_store {
	struct hashmap pods; /* uid -> struct pod_series */
	struct series node;  /* every pod together */
	uint64_t node_cpu;   /* CPU ns of every pod since the agent started (monotonic) */
};

static void
series_free(struct series *s)
{
	if (s)
		free(s->v);
}

static void
series_add(struct series *s, size_t cap, const struct sample *x)
{
	if (!s->v) {
		if (!(s->v = calloc(cap, sizeof(*s->v))))
			return;
		s->cap = cap;
	}
	s->v[s->head] = *x;
	s->head = (s->head + 1) % s->cap;
	if (s->n < s->cap)
		s->n++;
}

static const struct sample *
series_at(const struct series *s, size_t i)
{
	/* i-th oldest */
	return &s->v[(s->head + s->cap - s->n + i) % s->cap];
}

static void
pod_series_free(void *v)
{
	struct pod_series *ps = v;
	if (!ps)
		return;
	size_t iter = 0;
	const char *k;
	struct series *s;
	while (hashmap_next(&ps->ctrs, &iter, &k, (void **)&s)) {
		series_free(s);
		free(s);
	}
	hashmap_free(&ps->ctrs, NULL);
	series_free(&ps->pod);
	free(ps);
}

int
stats_store_new(struct stats_store **ret)
{
	struct stats_store *s = calloc(1, sizeof(*s));
	if (!s)
		return KORCH_ENOMEM;
	*ret = s;
	return 0;
}

void
stats_store_free(struct stats_store *s)
{
	if (!s)
		return;
	hashmap_free(&s->pods, pod_series_free);
	series_free(&s->node);
	free(s);
}

void
stats_forget_pod(struct stats_store *s, const char *uid)
{
	if (s)
		pod_series_free(hashmap_remove(&s->pods, uid));
}

void
stats_sample(struct node_agent *a)
{
	struct stats_store *st = a->stats;
	size_t cap = (size_t)(a->stats_window_ns / a->stats_interval_ns) + 1;
	int64_t now = agent_wall(a);
	struct sample node = { .t = now };
	const struct node_backend_ops *ops = a->backend->ops;
	size_t iter = 0;
	const char *uid;
	struct apod *p;
	while (hashmap_next(&a->pods_by_uid, &iter, &uid, (void **)&p)) {
		if (!p->sandbox_ready)
			continue;
		struct pod_series *ps = hashmap_get(&st->pods, uid);
		if (!ps) {
			if (!(ps = calloc(1, sizeof(*ps))) ||
			    hashmap_put(&st->pods, uid, ps, NULL) < 0) {
				free(ps);
				continue;
			}
		}
		struct backend_stats bs;
		if (ops->sandbox_stats(a->backend->data, uid, &bs, NULL) == 0) {
			struct sample x = { now, bs.cpu_usage_ns, bs.memory_working_set_bytes };
			/* The node's counter adds each pod's use since its last sample, so that
			 * pods coming and going do not make it jump. */
			if (ps->pod.n) {
				uint64_t prev = series_at(&ps->pod, ps->pod.n - 1)->cpu;
				st->node_cpu += x.cpu >= prev ? x.cpu - prev : x.cpu;
			}
			series_add(&ps->pod, cap, &x);
			node.mem += x.mem;
		}
		for (size_t i = 0; i < p->n_ctrs; i++) {
			const struct actr *c = &p->ctrs[i];
			if (!c->cur || c->cur->state != BACKEND_RUNNING ||
			    ops->container_stats(a->backend->data, c->cur->id, &bs, NULL) < 0)
				continue;
			struct series *s = hashmap_get(&ps->ctrs, c->spec->name);
			if (!s && (!(s = calloc(1, sizeof(*s))) ||
				   hashmap_put(&ps->ctrs, c->spec->name, s, NULL) < 0)) {
				free(s);
				continue;
			}
			struct sample x = { now, bs.cpu_usage_ns, bs.memory_working_set_bytes };
			series_add(s, cap, &x);
		}
	}
	node.cpu = st->node_cpu;
	series_add(&st->node, cap, &node);
}

bool
stats_pod_memory(struct stats_store *s, const char *uid, uint64_t *ret_bytes)
{
	struct pod_series *ps = hashmap_get(&s->pods, uid);
	if (!ps || ps->pod.n == 0)
		return false;
	*ret_bytes = series_at(&ps->pod, ps->pod.n - 1)->mem;
	return true;
}

static json_t *
series_json(const struct series *s)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < s->n; i++) {
		const struct sample *x = series_at(s, i);
		json_t *e = json_object();
		char ts[32];
		json_object_set_new(e, "timestamp", json_string(format_rfc3339(x->t, false, ts)));
		if (i > 0) {
			const struct sample *prev = series_at(s, i - 1);
			int64_t dt = x->t - prev->t;
			/* A restarted container's counter starts over: count from zero then. */
			uint64_t used = x->cpu >= prev->cpu ? x->cpu - prev->cpu : x->cpu;
			json_object_set_new(
				e, "cpu",
				json_integer(dt > 0 ? (json_int_t)((double)used * 1e9 / (double)dt)
						    : 0));
		} else {
			json_object_set_new(e, "cpu", json_null());
		}
		json_object_set_new(e, "memory", json_integer((json_int_t)x->mem));
		json_array_append_new(arr, e);
	}
	return arr;
}

int
stats_pod_json(struct node_agent *a, struct apod *p, json_t **ret, korch_error **err)
{
	struct pod_series *ps = hashmap_get(&a->stats->pods, p->uid);
	json_t *o = json_object();
	if (!o)
		return error_oom(err);
	json_object_set_new(o, "namespace", json_string(p->ns));
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "window",
			    json_integer((json_int_t)(a->stats_interval_ns / NSEC_PER_SEC)));
	struct series empty = { 0 };
	json_object_set_new(o, "samples", series_json(ps ? &ps->pod : &empty));
	json_t *ctrs = json_array();
	for (size_t i = 0; i < p->n_ctrs; i++) {
		const char *name = p->ctrs[i].spec->name;
		struct series *s = ps ? hashmap_get(&ps->ctrs, name) : NULL;
		if (!s)
			continue;
		json_array_append_new(
			ctrs, json_pack("{s:s, s:o}", "name", name, "samples", series_json(s)));
	}
	json_object_set_new(o, "containers", ctrs);
	*ret = o;
	return 0;
}

int
stats_node_json(struct node_agent *a, json_t **ret, korch_error **err)
{
	json_t *o = json_pack("{s:s, s:I, s:o}", "name", a->node_name, "window",
			      (json_int_t)(a->stats_interval_ns / NSEC_PER_SEC), "samples",
			      series_json(&a->stats->node));
	if (!o)
		return error_oom(err);
	*ret = o;
	return 0;
}
