/*
 * eviction.c - node-pressure eviction of memory as the kubelet's eviction manager does it: when
 * memory.available falls below the hard threshold (100Mi by default), the node reports
 * MemoryPressure and evicts one pod per check, ranked as rankMemoryPressure ranks them (pods
 * using more than they requested first, then lower priority, then the most usage over
 * request) with one addition: among pods over their requests at the same priority, BestEffort
 * pods go before Burstable ones (the order korch promises: BestEffort first, then Burstable over
 * requests). The grace period is 0; the pod becomes Failed with reason Evicted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "base/error.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "node/node-internal.h"

#define PRESSURE_TRANSITION_NS (5 * 60 * NSEC_PER_SEC) /* evictionPressureTransitionPeriod */
#define CRITICAL_PRIORITY 2000000000                   /* system-cluster-critical and up */

struct candidate {
	struct apod *p;  /* the pod */
	int64_t usage;   /* working set of its containers */
	int64_t request; /* memory request */
};

static void
quantity_text(int64_t bytes, char buf[static 64])
{
	struct quantity q = { .nano = (__int128)bytes * 1000000000, .format = QUANTITY_BINARY_SI };
	quantity_format(&q, buf);
}

static int
cmp_candidates(const void *x, const void *y)
{
	const struct candidate *a = x, *b = y;
	bool ea = a->usage > a->request, eb = b->usage > b->request;
	if (ea != eb)
		return ea ? -1 : 1;
	if (a->p->spec->priority != b->p->spec->priority)
		return a->p->spec->priority < b->p->spec->priority ? -1 : 1;
	bool ba = streq(a->p->spec->qos, "BestEffort"), bb = streq(b->p->spec->qos, "BestEffort");
	if (ba != bb)
		return ba ? -1 : 1;
	int64_t oa = a->usage - a->request, ob = b->usage - b->request;
	if (oa != ob)
		return oa > ob ? -1 : 1;
	return strcmp(a->p->uid, b->p->uid);
}

static int64_t
container_usage(struct node_agent *a, const struct actr *c)
{
	struct backend_stats s;
	if (!c->cur || c->cur->state != BACKEND_RUNNING ||
	    a->backend->ops->container_stats(a->backend->data, c->cur->id, &s, NULL) < 0)
		return 0;
	return (int64_t)s.memory_working_set_bytes;
}

/*
 * Whether an evicted pod is still on its way out (containers stopping, or its volumes, whose
 * tmpfs memory is what eviction reclaims, not released yet): the next eviction waits for it, as
 * the kubelet waits for the pod's cleanup.
 */
static bool
eviction_in_progress(struct node_agent *a)
{
	size_t iter = 0;
	const char *uid;
	struct apod *p;
	while (hashmap_next(&a->pods_by_uid, &iter, &uid, (void **)&p))
		if (p->terminal == TERMINAL_EVICTED && !p->gone && !p->volumes_released)
			return true;
	return false;
}

static void
evict_one(struct node_agent *a, int64_t available)
{
	struct candidate *v = calloc(a->pods_by_uid.n + 1, sizeof(*v));
	if (!v)
		return;
	size_t n = 0, iter = 0;
	const char *uid;
	struct apod *p;
	while (hashmap_next(&a->pods_by_uid, &iter, &uid, (void **)&p)) {
		if (!p->spec || p->gone || p->terminating || p->terminal != TERMINAL_NONE ||
		    p->spec->priority >= CRITICAL_PRIORITY)
			continue;
		int64_t usage = 0;
		for (size_t i = 0; i < p->n_ctrs; i++)
			usage += container_usage(a, &p->ctrs[i]);
		v[n++] = (struct candidate){ p, usage, MAX(p->spec->memory_request, 0) };
	}
	if (n == 0) {
		free(v);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_candidates);
	struct apod *victim = v[0].p;
	char thr[64], avail[64];
	quantity_text(a->eviction_threshold, thr);
	quantity_text(available > 0 ? available : 0, avail);
	struct strbuf msg = STRBUF_INIT;
	strbuf_printf(&msg,
		      "The node was low on resource: memory. Threshold quantity: %s, "
		      "available: %s. ",
		      thr, avail);
	for (size_t i = 0; i < victim->n_ctrs; i++) {
		const struct actr *c = &victim->ctrs[i];
		int64_t used = container_usage(a, c);
		int64_t req = MAX(c->spec->res.memory_request, 0);
		if (used > req) {
			char u[64], r[64];
			quantity_text(used, u);
			quantity_text(req, r);
			strbuf_printf(&msg,
				      "Container %s was using %s, request is %s, has larger "
				      "consumption of memory. ",
				      c->spec->name, u, r);
		}
	}
	char desc[256];
	log_warn("node", "node %s: evicting pod %s: %s", a->node_name, pod_desc(victim, desc),
		 strbuf_str(&msg));
	pod_evict(victim, strbuf_str(&msg));
	strbuf_free(&msg);
	free(v);
}

/* One "SIGNAL<VALUE" of an --eviction-hard list into *bytes and *percent. */
static int
threshold_parse(const char *item, const char *value, int64_t *bytes, double *percent,
		korch_error **err)
{
	size_t len = strlen(value);
	if (len > 0 && value[len - 1] == '%') {
		char *end = NULL;
		errno = 0;
		double p = strtod(value, &end);
		if (errno || end != value + len - 1 || len == 1 || !(p >= 0 && p <= 100))
			return error_set(
				err, KORCH_EINVALID,
				"eviction threshold \"%s\": expected a percentage from 0%% "
				"to 100%%",
				item);
		*bytes = p == 0 ? -1 : 0;
		*percent = p;
		return 0;
	}
	struct quantity q;
	if (quantity_parse(value, &q, NULL) < 0 || q.nano < 0)
		return error_set(err, KORCH_EINVALID,
				 "eviction threshold \"%s\": expected a quantity (100Mi) or a "
				 "percentage (10%%)",
				 item);
	int64_t v = quantity_value(&q);
	*bytes = v == 0 ? -1 : v;
	*percent = 0;
	return 0;
}

int
node_eviction_hard_parse(const char *spec, struct node_agent_options *o, korch_error **err)
{
	_cleanup_free_ char *copy = strdup(spec);
	if (!copy)
		return error_oom(err);
	char *save = NULL;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ')
			item++;
		char *lt = strchr(item, '<');
		if (!lt)
			return error_set(err, KORCH_EINVALID,
					 "eviction threshold \"%s\": expected SIGNAL<VALUE", item);
		*lt = '\0';
		const char *value = lt + 1;
		int r;
		if (streq(item, "memory.available")) {
			*lt = '<';
			r = threshold_parse(item, value, &o->eviction_memory_available_bytes,
					    &o->eviction_memory_available_percent, err);
		} else if (streq(item, "nodefs.available")) {
			*lt = '<';
			r = threshold_parse(item, value, &o->eviction_nodefs_available_bytes,
					    &o->eviction_nodefs_available_percent, err);
		} else {
			return error_set(err, KORCH_EUNSUPPORTED,
					 "eviction signal \"%s\" is not supported by korch "
					 "(memory.available and nodefs.available are)",
					 item);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

void
eviction_thresholds_update(struct node_agent *a)
{
	if (a->eviction_memory_percent > 0)
		a->eviction_threshold =
			(int64_t)((double)a->info.memory_bytes * a->eviction_memory_percent / 100);
	if (a->disk_percent > 0)
		a->disk_threshold =
			(int64_t)((double)a->info.ephemeral_storage_bytes * a->disk_percent / 100);
}

bool
node_disk_pressure(const struct node_agent *a)
{
	return a->disk_threshold >= 0 && a->info.ephemeral_storage_bytes > 0 &&
	       a->info.ephemeral_available_bytes < a->disk_threshold;
}

void
eviction_check(struct node_agent *a)
{
	struct backend_node_info info;
	if (a->backend->ops->node_info(a->backend->data, &info, NULL) == 0) {
		a->info = info;
		eviction_thresholds_update(a);
	}
	/* Disk pressure (nodefs.available below its threshold): images nothing uses go first, as
	 * the kubelet's image garbage collection does before it evicts. Logged when it starts
	 * and when it frees something, not at every check. */
	bool disk = node_disk_pressure(a);
	if (disk && !a->disk_pressure) {
		char thr[64], avail[64];
		quantity_text(a->disk_threshold, thr);
		quantity_text(a->info.ephemeral_available_bytes, avail);
		log_warn("node", "node %s: disk pressure: %s free, threshold %s", a->node_name,
			 avail, thr);
	}
	a->disk_pressure = disk;
	if (disk && a->backend->ops->image_gc) {
		uint64_t freed = 0;
		_cleanup_error_ korch_error *err = NULL;
		if (a->backend->ops->image_gc(a->backend->data, &freed, &err) < 0)
			log_warn("node", "node %s: image garbage collection: %s", a->node_name,
				 korch_error_message(err));
		else if (freed > 0)
			log_info("node",
				 "node %s: disk pressure: image garbage collection freed %llu "
				 "bytes",
				 a->node_name, (unsigned long long)freed);
	}
	if (a->eviction_threshold < 0)
		return;
	int64_t now = agent_now(a);
	int64_t available = a->info.memory_available_bytes;
	bool below = available < a->eviction_threshold;
	if (below) {
		a->memory_pressure = true;
		a->memory_pressure_since_ns = now;
	} else if (a->memory_pressure &&
		   now - a->memory_pressure_since_ns >= PRESSURE_TRANSITION_NS) {
		a->memory_pressure = false;
	}
	if (eviction_in_progress(a)) {
		a->eviction_waiting = true;
		return;
	}
	if (a->eviction_waiting) {
		/* The last victim is cleaned up: what it freed shows by the next check. */
		a->eviction_waiting = false;
		return;
	}
	if (below)
		evict_one(a, available);
}
