/*
 * queue.c - the scheduling queue (kube-scheduler's PriorityQueue): an active heap ordered by
 * priority then creation time, a back-off heap ordered by the end of each pod's back-off
 * (1 s doubling per attempt up to 10 s), and the unschedulable pods, which wait for a cluster
 * event that could make them fit (only events touching a plugin that rejected them count), or
 * are retried after five minutes. Timers sit on the loop's clock at the next deadline; with
 * nothing due nothing runs.
 */
#include <stdlib.h>

#include "base/loop.h"
#include "scheduler/sched-internal.h"

#define FLUSH_INTERVAL_NS (30 * NSEC_PER_SEC) /* flushUnschedulablePodsLeftover's period */

/* ---- heaps ---- */

typedef bool (*before_fn)(const struct spod *a, const struct spod *b);

/* PrioritySort: higher priority first, then the older pod, then arrival. */
static bool
active_before(const struct spod *a, const struct spod *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	if (a->created_ns != b->created_ns)
		return a->created_ns < b->created_ns;
	return a->seq < b->seq;
}

static bool
backoff_before(const struct spod *a, const struct spod *b)
{
	if (a->backoff_until != b->backoff_until)
		return a->backoff_until < b->backoff_until;
	return a->seq < b->seq;
}

static void
heap_swap(struct spod **h, uint32_t i, uint32_t j)
{
	struct spod *t = h[i];
	h[i] = h[j];
	h[j] = t;
	h[i]->heap = (int32_t)i;
	h[j]->heap = (int32_t)j;
}

static void
heap_up(struct spod **h, uint32_t i, before_fn before)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!before(h[i], h[parent]))
			break;
		heap_swap(h, i, parent);
		i = parent;
	}
}

static void
heap_down(struct spod **h, uint32_t n, uint32_t i, before_fn before)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && before(h[l], h[m]))
			m = l;
		if (r < n && before(h[r], h[m]))
			m = r;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

static int
heap_push(struct spod ***h, uint32_t *n, uint32_t *cap, struct spod *p, before_fn before)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 64;
		struct spod **q = realloc(*h, c * sizeof(*q));
		if (!q)
			return -1;
		*h = q;
		*cap = c;
	}
	(*h)[*n] = p;
	p->heap = (int32_t)*n;
	(*n)++;
	heap_up(*h, *n - 1, before);
	return 0;
}

static void
heap_remove(struct spod **h, uint32_t *n, struct spod *p, before_fn before)
{
	uint32_t i = (uint32_t)p->heap;
	(*n)--;
	if (i != *n) {
		h[i] = h[*n];
		h[i]->heap = (int32_t)i;
		heap_down(h, *n, i, before);
		heap_up(h, i, before);
	}
	p->heap = -1;
}

/* ---- moves ---- */

/* calculateBackoffDuration: initial * 2^(attempts-1), at most max. */
int64_t
queue_backoff_ns(const struct scheduler *s, const struct spod *p)
{
	int64_t d = s->opts.initial_backoff_ns, max = s->opts.max_backoff_ns;
	for (uint32_t i = 1; i < p->attempts; i++) {
		if (d > max - d)
			return max;
		d += d;
	}
	return MIN(d, max);
}

static void
run_soon(struct scheduler *s)
{
	if (s->run_src)
		loop_defer_enable(s->run_src);
}

static void
to_active(struct scheduler *s, struct spod *p)
{
	if (heap_push(&s->active, &s->n_active, &s->cap_active, p, active_before) < 0)
		return;
	p->state = POD_ACTIVE;
	run_soon(s);
}

static void
to_backoff(struct scheduler *s, struct spod *p)
{
	if (heap_push(&s->backoff, &s->n_backoff, &s->cap_backoff, p, backoff_before) < 0)
		return;
	p->state = POD_BACKOFF;
	queue_arm_timers(s);
}

static void
unsched_remove(struct scheduler *s, struct spod *p)
{
	struct spod *last = s->unsched[--s->n_unsched];
	s->unsched[p->uslot] = last;
	last->uslot = p->uslot;
	p->uslot = -1;
}

/* A pod leaves the unschedulable pods: to back-off while that lasts, else to the active heap. */
static void
move_out(struct scheduler *s, struct spod *p, int64_t now)
{
	unsched_remove(s, p);
	if (p->backoff_until > now)
		to_backoff(s, p);
	else
		to_active(s, p);
}

void
queue_add(struct scheduler *s, struct spod *p)
{
	if (!p->enqueued_ns) {
		p->enqueued_ns = korch_clock_now_ns(s->clock);
		if (!s->stats.first_enqueue_ns)
			s->stats.first_enqueue_ns = p->enqueued_ns;
	}
	p->seq = ++s->seq;
	to_active(s, p);
}

void
queue_remove(struct scheduler *s, struct spod *p)
{
	switch (p->state) {
	case POD_ACTIVE: heap_remove(s->active, &s->n_active, p, active_before); break;
	case POD_BACKOFF: heap_remove(s->backoff, &s->n_backoff, p, backoff_before); break;
	case POD_UNSCHED: unsched_remove(s, p); break;
	default: break;
	}
	if (p->state == POD_ACTIVE || p->state == POD_BACKOFF || p->state == POD_UNSCHED)
		p->state = POD_NEW;
}

struct spod *
queue_pop(struct scheduler *s)
{
	if (!s->n_active)
		return NULL;
	struct spod *p = s->active[0];
	heap_remove(s->active, &s->n_active, p, active_before);
	p->state = POD_INFLIGHT;
	p->attempts++;
	return p;
}

/*
 * AddUnschedulableIfNotPresent: a pod that found no node waits among the unschedulable pods;
 * one that failed for another reason (an error writing, a binding refused) backs off.
 */
void
queue_unschedulable(struct scheduler *s, struct spod *p, bool error)
{
	int64_t now = korch_clock_now_ns(s->clock);
	p->backoff_until = now + queue_backoff_ns(s, p);
	if (error) {
		to_backoff(s, p);
		return;
	}
	if (s->n_unsched == s->cap_unsched) {
		uint32_t cap = s->cap_unsched ? s->cap_unsched * 2 : 64;
		struct spod **q = realloc(s->unsched, cap * sizeof(*q));
		if (!q) {
			to_backoff(s, p);
			return;
		}
		s->unsched = q;
		s->cap_unsched = cap;
	}
	p->uslot = (int32_t)s->n_unsched;
	s->unsched[s->n_unsched++] = p;
	p->unsched_since = now;
	p->state = POD_UNSCHED;
	queue_arm_timers(s);
}

/*
 * MoveAllToActiveOrBackoffQueue for a cluster event: the unschedulable pods that one of the
 * event's plugins rejected (or that no plugin rejected: no node at all) go back.
 */
void
queue_event(struct scheduler *s, uint32_t plugins)
{
	int64_t now = korch_clock_now_ns(s->clock);
	s->cluster_events++;
	for (uint32_t i = 0; i < s->n_unsched;) {
		struct spod *p = s->unsched[i];
		if (p->unsched_plugins == 0 || (p->unsched_plugins & plugins))
			move_out(s, p, now); /* the last pod took slot i */
		else
			i++;
	}
}

/* An unschedulable pod that changed is tried again (after its back-off). */
void
queue_pod_updated(struct scheduler *s, struct spod *p)
{
	if (p->state == POD_UNSCHED)
		move_out(s, p, korch_clock_now_ns(s->clock));
}

static void
on_backoff(struct loop_source *src, void *userdata)
{
	struct scheduler *s = userdata;
	int64_t now = korch_clock_now_ns(s->clock);
	while (s->n_backoff && s->backoff[0]->backoff_until <= now) {
		struct spod *p = s->backoff[0];
		heap_remove(s->backoff, &s->n_backoff, p, backoff_before);
		to_active(s, p);
	}
	queue_arm_timers(s);
}

/* flushUnschedulablePodsLeftover: pods unschedulable for too long are retried anyway. */
static void
on_flush(struct loop_source *src, void *userdata)
{
	struct scheduler *s = userdata;
	int64_t now = korch_clock_now_ns(s->clock);
	for (uint32_t i = 0; i < s->n_unsched;) {
		struct spod *p = s->unsched[i];
		if (now - p->unsched_since > s->opts.unschedulable_max_ns)
			move_out(s, p, now);
		else
			i++;
	}
	loop_timer_set(src, -1);
	queue_arm_timers(s);
}

/* Arms the back-off timer at the first deadline and the leftover flush while pods wait. */
void
queue_arm_timers(struct scheduler *s)
{
	if (!s->backoff_timer || !s->flush_timer)
		return;
	int64_t want = s->n_backoff ? s->backoff[0]->backoff_until : -1;
	if (loop_timer_deadline(s->backoff_timer) != want)
		loop_timer_set(s->backoff_timer, want);
	if (s->n_unsched && loop_timer_deadline(s->flush_timer) < 0)
		loop_timer_set(s->flush_timer, korch_clock_now_ns(s->clock) + FLUSH_INTERVAL_NS);
	else if (!s->n_unsched && loop_timer_deadline(s->flush_timer) >= 0)
		loop_timer_set(s->flush_timer, -1);
}

int
queue_init(struct scheduler *s, korch_error **err)
{
	int r = loop_add_timer(s->loop, -1, on_backoff, s, &s->backoff_timer, err);
	if (r == 0)
		r = loop_add_timer(s->loop, -1, on_flush, s, &s->flush_timer, err);
	return r;
}

void
queue_free(struct scheduler *s)
{
	loop_source_free(s->backoff_timer);
	loop_source_free(s->flush_timer);
	s->backoff_timer = s->flush_timer = NULL;
	free(s->active);
	free(s->backoff);
	free(s->unsched);
}
