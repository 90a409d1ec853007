/*
 * bind.c - everything the scheduler writes, through lib/client: bindings (pods/binding
 * semantics) committed many at a time in one durable transaction with their Scheduled Events,
 * the PodScheduled=False condition and nominatedNodeName of pods that did not fit, Events
 * (queued, at most 1,000 waiting like client-go's broadcaster, the rest dropped and counted),
 * and the preemption of victims (DisruptionTarget condition, then a graceful delete).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/error.h"
#include "base/loop.h"
#include "base/pool.h"
#include "base/util.h"
#include "base/vec.h"
#include "scheduler/sched-internal.h"

#define MAX_QUEUED_EVENTS 1000
#define FIELD_MANAGER "kube-scheduler"

static const struct kind_info *
pod_kind(void)
{
	return kind_lookup("v1", "Pod");
}

static const char *
ns_of(const struct scheduler *s, const struct spod *p)
{
	return intern_str(&s->strs, p->ns);
}

static const json_t *
cached(const struct scheduler *s, const struct spod *p)
{
	return informer_get(s->pods_inf, ns_of(s, p), p->name);
}

/* ---- events ---- */

static void
push_event(struct scheduler *s, json_t *ev)
{
	if (s->n_events == s->cap_events) {
		uint32_t cap = s->cap_events ? s->cap_events * 2 : 64;
		json_t **q = realloc(s->events, cap * sizeof(*q));
		if (!q) {
			json_decref(ev);
			return;
		}
		s->events = q;
		s->cap_events = cap;
	}
	s->events[s->n_events++] = ev;
	if (s->run_src)
		loop_defer_enable(s->run_src);
}

/* A unique wall time for an Event's name, even with the test clock standing still. */
static int64_t
event_time(struct scheduler *s)
{
	int64_t now = korch_clock_wall_ns(s->clock);
	if (now <= s->last_event_ns)
		now = s->last_event_ns + 1;
	s->last_event_ns = now;
	return now;
}

/*
 * Queues an Event about pod p as kube-scheduler's events.k8s.io recorder writes it (seen as
 * core/v1): named after the pod and the time, reportingComponent the scheduler's name.
 */
void
record_event(struct scheduler *s, const json_t *related, const struct spod *p, const char *type,
	     const char *reason, const char *action, const char *message)
{
	if (s->n_events >= MAX_QUEUED_EVENTS) {
		s->stats.events_dropped++;
		return;
	}
	int64_t now = event_time(s);
	char name[600], micro[32];
	snprintf(name, sizeof(name), "%s.%llx", p->name, (unsigned long long)now);
	format_rfc3339(now - now % 1000, true, micro);
	const char *ns = ns_of(s, p);
	json_t *ev = json_pack(
		"{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:s, "
		"s:{}, s:s, s:s, s:s, s:s, s:s}",
		"apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace", ns,
		"involvedObject", "kind", "Pod", "namespace", ns, "name", p->name, "uid", p->uid,
		"apiVersion", "v1", "resourceVersion", p->rv, "reason", reason, "message", message,
		"source", "type", type, "eventTime", micro, "action", action, "reportingComponent",
		s->scheduler_name, "reportingInstance", s->reporting_instance);
	if (!ev)
		return;
	if (related)
		json_object_set(ev, "related", (json_t *)related);
	push_event(s, ev);
}

/* Writes the queued Events once the queue is empty (with the next batch, if any). */
void
events_flush(struct scheduler *s)
{
	bind_flush(s);
}

/* ---- bindings ---- */

static void
job_free(struct bind_job *job)
{
	if (!job)
		return;
	for (uint32_t i = 0; i < job->n; i++) {
		struct bind_item *b = &job->items[i];
		free(b->ns);
		free(b->name);
		free(b->node);
		free(b->uid);
		free(b->error);
		json_decref(b->current);
		json_decref(b->applies);
	}
	for (uint32_t i = 0; i < job->n_statuses; i++) {
		free(job->statuses[i].ns);
		free(job->statuses[i].name);
		json_decref(job->statuses[i].status);
	}
	free(job->statuses);
	hashmap_free(&job->status_index, NULL);
	for (uint32_t i = 0; i < job->n_events; i++)
		json_decref(job->events[i]);
	free(job->events);
	free(job->items);
	free(job->error);
	free(job);
}

void
bind_queue(struct scheduler *s, struct spod *p, struct snode *n, json_t *applies)
{
	if (!s->job && !(s->job = calloc(1, sizeof(*s->job))))
		goto oom;
	struct bind_job *job = s->job;
	job->s = s;
	if (job->n == job->cap) {
		uint32_t cap = job->cap ? job->cap * 2 : 256;
		struct bind_item *b = realloc(job->items, cap * sizeof(*b));
		if (!b)
			goto oom;
		job->items = b;
		job->cap = cap;
	}
	struct bind_item *b = &job->items[job->n];
	*b = (struct bind_item){ .pod = p, .enqueued_ns = p->enqueued_ns };
	b->ns = strdup(ns_of(s, p));
	b->name = strdup(p->name);
	b->node = strdup(n->name);
	b->uid = strdup(p->uid);
	b->current = json_incref((json_t *)cached(s, p));
	b->applies = steal_pointer(&applies);
	if (!b->ns || !b->name || !b->node || !b->uid) {
		free(b->ns);
		free(b->name);
		free(b->node);
		free(b->uid);
		json_decref(b->current);
		applies = steal_pointer(&b->applies);
		goto oom;
	}
	job->n++;
	p->bind_pending = true;
	/* A PodScheduled=False still waiting in this batch is superseded by the binding. */
	uintptr_t at = (uintptr_t)hashmap_get(&job->status_index, p->key);
	if (at) {
		json_decref(job->statuses[at - 1].status);
		job->statuses[at - 1].status = NULL;
	}
	if (job->n + job->n_statuses >= s->opts.bind_batch_max)
		bind_flush(s);
	return;
oom:
	vol_unassume(s, applies);
	json_decref(applies);
	cache_remove_pod(s, p);
	queue_unschedulable(s, p, true);
}

/* A pod that goes away leaves the batches it is in (the commit still runs; its result is dropped). */
void
bind_forget_pod(struct scheduler *s, struct spod *p)
{
	struct bind_job *jobs[] = { s->job, s->inflight };
	for (size_t j = 0; j < ARRAY_SIZE(jobs); j++)
		for (uint32_t i = 0; jobs[j] && i < jobs[j]->n; i++)
			if (jobs[j]->items[i].pod == p)
				jobs[j]->items[i].pod = NULL;
	/* Its status patch, unless the pool is writing it already. */
	uintptr_t at = s->job ? (uintptr_t)hashmap_get(&s->job->status_index, p->key) : 0;
	if (at) {
		json_decref(s->job->statuses[at - 1].status);
		s->job->statuses[at - 1].status = NULL;
	}
	p->bind_pending = false;
}

/*
 * Builds and commits a batch with client c: every binding (from the informer's copies first; a
 * conflict, when a pod changed since, is retried once from fresh reads) and its Events in one
 * durable transaction. Runs on the pool's thread (or inline); touches only the job.
 */
static void
commit_job(struct bind_job *job, struct client *c)
{
	int r = 0;
	korch_error *err = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct client_txn *t = NULL;
		korch_error_free(err);
		err = NULL;
		if ((r = client_txn_new(c, &t, &err)) < 0)
			break;
		for (uint32_t i = 0; i < job->n; i++) {
			struct bind_item *b = &job->items[i];
			b->result = 0;
			free(b->error);
			b->error = NULL;
			struct client_binding cb = { .ns = b->ns,
						     .name = b->name,
						     .node = b->node,
						     .uid = b->uid,
						     .current = attempt == 0 ? b->current : NULL };
			korch_error *e = NULL;
			if (!cb.current && attempt == 0)
				b->result = KORCH_ENOTFOUND;
			else
				b->result = client_txn_bind(t, &cb, &e);
			/* BindPodVolumes: the volumes reserved for its claims, in the same commit. */
			size_t k;
			json_t *config;
			json_array_foreach (b->result == 0 ? b->applies : NULL, k, config) {
				struct client_write_opts o = { .field_manager = FIELD_MANAGER,
							       .force = true };
				if (b->result == 0)
					b->result = client_txn_apply(t, config, &o, &e);
			}
			if (b->result < 0)
				b->error = strdup(e ? korch_error_message(e) : "the pod is gone");
			korch_error_free(e);
		}
		for (uint32_t i = 0; i < job->n_statuses; i++) {
			struct status_item *it = &job->statuses[i];
			json_t *patch =
				it->status ? json_pack("{s:O}", "status", it->status) : NULL;
			struct client_write_opts o = { .field_manager = FIELD_MANAGER };
			korch_error *e = NULL;
			/* A pod gone or changed past the patch loses it: the next attempt writes again. */
			if (patch &&
			    client_txn_patch(t, pod_kind(), it->ns, it->name,
					     CLIENT_PATCH_STRATEGIC, patch, "status", &o, &e) < 0)
				log_debug("scheduler", "updating pod %s/%s: %s", it->ns, it->name,
					  korch_error_message(e));
			korch_error_free(e);
			json_decref(patch);
		}
		for (uint32_t i = 0; i < job->n_events; i++) {
			korch_error *e = NULL;
			if (client_txn_create(t, job->events[i], NULL, NULL, &e) < 0)
				log_debug("scheduler", "event dropped: %s", korch_error_message(e));
			korch_error_free(e);
		}
		if (!client_txn_size(t)) {
			client_txn_free(t);
			r = 0;
			break;
		}
		r = client_txn_commit(t, NULL, &err);
		if (r != KORCH_ECONFLICT)
			break;
	}
	job->result = r;
	if (r < 0)
		job->error = strdup(err ? korch_error_message(err) : "commit failed");
	korch_error_free(err);
	/*
	 * The informer's copies are released here: once the informer holds the bound versions,
	 * these references are the last ones, and freeing those trees is work better done off the
	 * loop's thread (jansson counts references atomically).
	 */
	for (uint32_t i = 0; i < job->n; i++) {
		json_decref(job->items[i].current);
		job->items[i].current = NULL;
	}
}

/* handleBindingCycleError: forget the assumed pod, let others use the room, retry later. */
static void
bind_failed(struct scheduler *s, struct spod *p, const char *message)
{
	s->stats.bind_failures++;
	p->bind_pending = false;
	if (p->state != POD_ASSUMED)
		return; /* bound meanwhile: the informer said so */
	cache_remove_pod(s, p);
	queue_event(s, 1u << PL_FIT | 1u << PL_NODE_PORTS | 1u << PL_INTER_POD_AFFINITY |
			       1u << PL_SPREAD | 1u << PL_VOLUME_RESTRICTIONS);
	const json_t *obj = cached(s, p);
	const char *node =
		json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
	if (!obj || (node && *node)) {
		/* Gone, or bound by someone else: the informer brings the rest. */
		p->state = POD_NEW;
		return;
	}
	record_event(s, NULL, p, "Warning", "FailedScheduling", "Scheduling",
		     message ? message : "binding failed");
	p->unsched_plugins = 0;
	queue_unschedulable(s, p, true);
}

/* On the loop's thread: the outcome of a committed batch. */
static void
finish_job(struct scheduler *s, struct bind_job *job)
{
	int64_t now = korch_clock_now_ns(s->clock);
	for (uint32_t i = 0; i < job->n; i++) {
		struct bind_item *b = &job->items[i];
		struct spod *p = b->pod;
		if (!p)
			continue;
		if (job->result < 0 || b->result < 0) {
			vol_unassume(s, b->applies);
			bind_failed(s, p, b->result < 0 ? b->error : job->error);
			continue;
		}
		p->bind_pending = false;
		s->stats.scheduled++;
		s->stats.last_bind_ns = now;
		if (!s->opts.no_scheduled_events) {
			char msg[1200];
			snprintf(msg, sizeof(msg), "Successfully assigned %s/%s to %s", b->ns,
				 b->name, b->node);
			record_event(s, NULL, p, "Normal", "Scheduled", "Binding", msg);
		}
		if (s->n_latencies == s->cap_latencies) {
			size_t cap = s->cap_latencies ? s->cap_latencies * 2 : 1024;
			int64_t *l = realloc(s->latencies, cap * sizeof(*l));
			if (l) {
				s->latencies = l;
				s->cap_latencies = cap;
			}
		}
		if (s->n_latencies < s->cap_latencies)
			s->latencies[s->n_latencies++] = now - b->enqueued_ns;
	}
	if (job->result == 0 && job->n)
		s->stats.bind_commits++;
	else if (job->result < 0)
		log_warn("scheduler", "committing %u bindings: %s", job->n, job->error);
}

static void
work_job(void *userdata)
{
	struct bind_job *job = userdata;
	commit_job(job, job->s->bind_client);
}

static void
done_job(void *userdata, bool canceled)
{
	struct bind_job *job = userdata;
	struct scheduler *s = job->s;
	if (canceled) {
		job->result = KORCH_ESYSTEM;
		free(job->error);
		job->error = strdup("the scheduler stopped before the commit");
	}
	if (s->inflight == job)
		s->inflight = NULL;
	finish_job(s, job);
	job_free(job);
	/* A batch that filled up meanwhile goes to the pool now. */
	if (s->job && s->job->n + s->job->n_statuses >= s->opts.bind_batch_max)
		bind_flush(s);
	/* The next batch, and the pods held back behind it, may have waited for this one. */
	if (((s->job && (s->job->n || s->job->n_statuses)) || s->n_events || s->n_active) &&
	    s->run_src)
		loop_defer_enable(s->run_src);
}

bool
bind_batch_full(const struct scheduler *s)
{
	return s->inflight && s->job && s->job->n + s->job->n_statuses >= s->opts.bind_batch_max;
}

/*
 * Commits the batch being filled (with the queued Events once the queue is empty): on the pool
 * when there is one and no other batch is under way there, else inline on the loop's thread.
 */
void
bind_flush(struct scheduler *s)
{
	if (s->inflight)
		return; /* the next batch waits for this one */
	bool events = s->n_active == 0 && s->n_events;
	bool writes = s->job && (s->job->n || s->job->n_statuses);
	/*
	 * The batch that ends a burst commits without the Events (up to 1,000 creates, which cost
	 * more than the bindings): its pods wait for none of them. The Events go with the next
	 * commit, which the pool's completion starts, whether it has bindings or not.
	 */
	if (events && writes && !s->events_due) {
		events = false;
		s->events_due = true;
	}
	if (!writes && !events)
		return;
	if (!s->job && !(s->job = calloc(1, sizeof(*s->job))))
		return;
	struct bind_job *job = s->job;
	job->s = s;
	s->job = NULL;
	/*
	 * Events ride along once the queue has emptied: during a burst they wait (at most 1,000;
	 * later ones are dropped, as client-go's broadcaster drops them) rather than slow the
	 * bindings down.
	 */
	if (events) {
		s->events_due = false;
		job->events = s->events;
		job->n_events = s->n_events;
		s->events = NULL;
		s->n_events = s->cap_events = 0;
	}
	korch_error *err = NULL;
	if (s->pool && pool_submit(s->pool, work_job, done_job, job, &err) == 0) {
		s->inflight = job;
		return;
	}
	korch_error_free(err);
	commit_job(job, s->client);
	finish_job(s, job);
	job_free(job);
	/* A batch that filled up meanwhile goes to the pool now. */
	if (s->job && s->job->n + s->job->n_statuses >= s->opts.bind_batch_max)
		bind_flush(s);
}

/*
 * Commits go to a pool thread with its own store handle when the loop runs on the real clock
 * (a commit waits for an fsync, which must not block the loop); under a test clock they stay on
 * the loop's thread, so that tests see every time stamp from the clock they move.
 */
int
bind_init(struct scheduler *s, korch_error **err)
{
	if (clock_is_test(s->clock) || s->opts.sync_binding)
		return 0;
	struct store_options so = { .busy_timeout_ms = 0 };
	int r = korch_clock_new_real(&s->bind_clock, err);
	if (r == 0)
		r = store_open(store_path(client_store(s->client)), &so, &s->bind_store, err);
	if (r == 0)
		r = client_new_local(s->bind_store, s->bind_clock, &s->bind_client, err);
	if (r == 0)
		r = pool_new(s->loop, 1, &s->pool, err);
	/*
	 * The bound pods come back through the informers' watch on the loop's handle: handed over
	 * as committed, they are not parsed again there, and share with the versions they replace
	 * everything the binding did not change (client_txn_bind copies only the parts it writes).
	 * commit_job() changes no object after its commit.
	 */
	if (r == 0 && store_loop(client_store(s->client)))
		store_share_commits(s->bind_store, client_store(s->client), "", "pods");
	if (r < 0)
		return korch_error_prefix(err, r, "scheduler: the binding thread");
	return 0;
}

/* Waits for the batch under way, commits what is left inline, and closes the pool's store. */
void
bind_fini(struct scheduler *s)
{
	pool_free(s->pool);
	s->pool = NULL;
	bind_flush(s);
	bind_flush(s); /* the Events, when the bindings went without them */
	job_free(s->job);
	s->job = NULL;
	client_free(s->bind_client);
	store_close(s->bind_store);
	korch_clock_free(s->bind_clock);
	s->bind_client = NULL;
	s->bind_store = NULL;
	s->bind_clock = NULL;
}

/* ---- status ---- */

static json_t *
find_condition(const json_t *pod, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
		if (streq(json_string_value(json_object_get(c, "type")), type))
			return c;
	return NULL;
}

/*
 * podutil.UpdatePodCondition on the cached pod: the condition to write, or NULL when it would
 * change nothing (the transition time moves only when the status does).
 */
static json_t *
new_condition(struct scheduler *s, const json_t *pod, const char *type, const char *status,
	      const char *reason, const char *message)
{
	const json_t *old = find_condition(pod, type);
	char now[32];
	int64_t wall = korch_clock_wall_ns(s->clock);
	format_rfc3339(wall - wall % NSEC_PER_SEC, false, now);
	json_t *c = json_pack("{s:s, s:s, s:n, s:s, s:s, s:s}", "type", type, "status", status,
			      "lastProbeTime", "lastTransitionTime", now, "reason", reason,
			      "message", message);
	if (!c || !old)
		return c;
	if (streq(json_string_value(json_object_get(old, "status")), status) &&
	    json_object_get(old, "lastTransitionTime"))
		json_object_set(c, "lastTransitionTime",
				json_object_get(old, "lastTransitionTime"));
	if (json_equal(c, (json_t *)old)) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static int
patch_status(struct scheduler *s, const struct spod *p, json_t *status_patch, korch_error **err)
{
	json_t *patch = json_pack("{s:o}", "status", status_patch);
	if (!patch)
		return KORCH_ENOMEM;
	struct client_write_opts o = { .field_manager = FIELD_MANAGER };
	int r = client_patch(s->client, pod_kind(), ns_of(s, p), p->name, CLIENT_PATCH_STRATEGIC,
			     patch, "status", &o, NULL, err);
	json_decref(patch);
	return r;
}

/*
 * Adds a pod's status patch (owned) to the batch being filled; one already there for the pod
 * takes the newer fields. Written, like bindings, many in one durable commit: a burst of pods
 * that do not fit costs no fsync each.
 */
static void
queue_status(struct scheduler *s, const struct spod *p, json_t *st)
{
	if (!s->job && !(s->job = calloc(1, sizeof(*s->job))))
		goto oom;
	struct bind_job *job = s->job;
	uintptr_t at = (uintptr_t)hashmap_get(&job->status_index, p->key);
	if (at) {
		struct status_item *it = &job->statuses[at - 1];
		if (!it->status) {
			it->status = st;
		} else {
			json_object_update(it->status, st);
			json_decref(st);
		}
		return;
	}
	struct status_item *it = VEC_PUSH(job->statuses, job->n_statuses, job->cap_statuses);
	if (!it)
		goto oom;
	it->ns = strdup(ns_of(s, p));
	it->name = strdup(p->name);
	it->status = st;
	if (!it->ns || !it->name ||
	    hashmap_put(&job->status_index, p->key, (void *)(uintptr_t)job->n_statuses, NULL) < 0) {
		free(it->ns);
		free(it->name);
		job->n_statuses--;
		goto oom;
	}
	if (job->n + job->n_statuses >= s->opts.bind_batch_max)
		bind_flush(s);
	return;
oom:
	json_decref(st);
}

/*
 * updatePod: PodScheduled=False with the reason and message, and nominatedNodeName when
 * set_nominee (SID_NONE clears it); nothing is written when nothing would change.
 */
void
write_unschedulable(struct scheduler *s, struct spod *p, const char *reason, const char *message,
		    sid nominee, bool set_nominee)
{
	const json_t *pod = cached(s, p);
	if (!pod)
		return;
	const char *want = nominee ? intern_str(&s->strs, nominee) : "";
	const char *have = json_string_value(
		json_object_get(json_object_get(pod, "status"), "nominatedNodeName"));
	bool nnn = set_nominee && !streq(have ? have : "", want);
	json_t *cond = new_condition(s, pod, "PodScheduled", "False", reason, message);
	if (!cond && !nnn)
		return;
	json_t *st = json_object();
	if (!st)
		return;
	if (cond)
		json_object_set_new(st, "conditions", json_pack("[o]", cond));
	if (nnn)
		json_object_set_new(st, "nominatedNodeName",
				    *want ? json_string(want) : json_null());
	queue_status(s, p, st);
}

/* Clears a pod's nomination (a higher-priority preemptor took its node). */
int
clear_nomination(struct scheduler *s, struct spod *p)
{
	cache_nominate(s, p, NULL);
	const json_t *pod = cached(s, p);
	const char *have = json_string_value(
		json_object_get(json_object_get(pod, "status"), "nominatedNodeName"));
	if (!have || !*have)
		return 0;
	korch_error *err = NULL;
	int r = patch_status(s, p, json_pack("{s:n}", "nominatedNodeName"), &err);
	korch_error_free(err);
	return r;
}

/*
 * addConditionAndDeletePod: the DisruptionTarget condition with reason and message, then a
 * delete with the pod's own grace period. A pod already gone counts as done.
 */
static int
patch_condition_and_delete(struct scheduler *s, struct spod *p, const char *reason,
			   const char *message)
{
	const json_t *pod = cached(s, p);
	if (!pod)
		return 0;
	json_t *cond = new_condition(s, pod, "DisruptionTarget", "True", reason, message);
	korch_error *err = NULL;
	int r = 0;
	if (cond)
		r = patch_status(s, p, json_pack("{s:[o]}", "conditions", cond), &err);
	if (r == 0)
		r = client_delete(s->client, pod_kind(), ns_of(s, p), p->name, NULL, NULL, &err);
	if (r == KORCH_ENOTFOUND)
		r = 0;
	if (r < 0)
		log_warn("scheduler", "deleting %s: %s", p->key, korch_error_message(err));
	korch_error_free(err);
	return r;
}

/*
 * Preempts victim for preemptor: the DisruptionTarget condition (PreemptionByScheduler), then a
 * delete with the victim's own grace period, and a Preempted Event.
 */
int
delete_victim(struct scheduler *s, struct spod *victim, struct spod *preemptor, const char *node)
{
	char message[512];
	snprintf(message, sizeof(message), "%s: preempting to accommodate a higher priority pod",
		 s->scheduler_name);
	int r = patch_condition_and_delete(s, victim, "PreemptionByScheduler", message);
	if (r < 0)
		return r;
	char note[1024];
	snprintf(note, sizeof(note), "Preempted by pod %s on node %s", preemptor->uid, node);
	json_t *related = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", "Pod", "namespace",
				    ns_of(s, preemptor), "name", preemptor->name, "uid",
				    preemptor->uid, "apiVersion", "v1");
	record_event(s, related, victim, "Normal", "Preempted", "Preempting", note);
	json_decref(related);
	return 0;
}
