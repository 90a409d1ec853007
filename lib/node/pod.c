/*
 * pod.c - one pod's life on the node, as the kubelet's SyncPod drives it: admission, volumes,
 * the sandbox, init containers one after another, app containers started and restarted under
 * the restart policy with the crash back-off, liveness kills, graceful termination (preStop,
 * stop signal, SIGKILL after the grace period), eviction, activeDeadlineSeconds, and the clean-up
 * once the pod object is gone. Level-triggered: each sync looks at what is and what should be,
 * asks for the next step, and is run again when something changes or a deadline comes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/kinds.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "node/node-internal.h"
#include "runtime/cgroup.h"

/* Context of a backend operation: the pod stays allocated while one is in flight. */
struct op_ctx {
	struct apod *p; /* owner */
	size_t index;   /* the container */
	char *id;       /* the instance it is about (start, remove) */
};

static struct op_ctx *
op_begin(struct apod *p, size_t index, const char *id)
{
	struct op_ctx *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	if (id && !(o->id = strdup(id))) {
		free(o);
		return NULL;
	}
	o->p = p;
	o->index = index;
	p->inflight++;
	return o;
}

/* Ends an operation; returns the pod when it still has an agent to act for, else NULL. */
static struct apod *
op_end(struct op_ctx *o)
{
	struct apod *p = o->p;
	free(o->id);
	free(o);
	p->inflight--;
	if (p->freeing) {
		if (p->inflight == 0)
			pod_free(p);
		return NULL;
	}
	return p;
}

bool
ctr_running(const struct actr *c)
{
	return c->cur && (c->cur->state == BACKEND_RUNNING || c->cur->state == BACKEND_CREATED);
}

static bool
ctr_exited(const struct actr *c)
{
	return c->cur && (c->cur->state == BACKEND_EXITED || c->cur->state == BACKEND_UNKNOWN);
}

struct actr *
pod_find_ctr(struct apod *p, const char *name)
{
	for (size_t i = 0; i < p->n_ctrs; i++)
		if (streq(p->ctrs[i].spec->name, name))
			return &p->ctrs[i];
	return NULL;
}

void
pod_wake_at(struct apod *p, int64_t t)
{
	if (p->wake_ns >= 0 && p->wake_ns <= t)
		return;
	p->wake_ns = t;
	loop_timer_set(p->timer, t);
}

static void
set_waiting(struct actr *c, const char *reason, const char *message)
{
	free(c->waiting_reason);
	free(c->waiting_message);
	c->waiting_reason = reason ? strdup(reason) : NULL;
	c->waiting_message = message ? strdup(message) : NULL;
}

static void
set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? strdup(s) : NULL;
}

/* --- containers of the backend --- */

static void
on_removed(void *userdata, int r, const korch_error *err, const struct backend_container *c)
{
	struct op_ctx *o = userdata;
	if (r < 0 && r != KORCH_ECANCELED)
		log_warn("node", "remove container %s: %s", o->id,
			 err ? korch_error_message(err) : "");
	op_end(o);
}

/* Removes an instance from the backend (its termination-log file with it). */
static void
remove_instance(struct apod *p, struct backend_container *inst)
{
	if (!inst)
		return;
	struct node_agent *a = p->agent;
	const char *name = backend_label(inst->labels, LABEL_CONTAINER_NAME);
	const char *attempt = backend_label(inst->labels, LABEL_ATTEMPT);
	if (name && attempt) {
		_cleanup_free_ char *dir = pod_dir(a, p->uid);
		_cleanup_free_ char *f = NULL;
		if (dir && asprintf(&f, "%s/containers/%s/%s", dir, name, attempt) >= 0)
			unlink(f);
	}
	struct op_ctx *o = op_begin(p, 0, inst->id);
	if (!o)
		return;
	log_debug("node", "pod %s/%s: remove container %s", p->ns, p->name, inst->id);
	_cleanup_error_ korch_error *err = NULL;
	if (a->backend->ops->container_remove(a->backend->data, inst->id, on_removed, o, &err) <
	    0) {
		log_warn("node", "remove container %s: %s", inst->id, korch_error_message(err));
		op_end(o);
	}
}

static void
instance_reset(struct actr *c)
{
	probes_stop(c);
	if (c->pre_stop) {
		hook_cancel(c->pre_stop);
		c->pre_stop = NULL;
	}
	c->ready = false;
	c->started = false;
	c->stopping = false;
	c->stop_signal_sent = false;
	c->kill_sent = false;
	c->stop_deadline_ns = 0;
	c->restart_after_stop = false;
	c->pre_stop_done = false;
	c->exit_seen = false;
	free(c->termination_message);
	c->termination_message = NULL;
}

static void
on_post_start(struct apod *p, size_t index, bool ok, const char *message, void *userdata)
{
	struct actr *c = &p->ctrs[index];
	c->op = OP_NONE;
	if (!ok && ctr_running(c)) {
		char desc[256];
		log_warn("node", "pod %s: container %s: postStart hook failed: %s",
			 pod_desc(p, desc), c->spec->name, message ? message : "");
		/* FailedPostStartHook: the container is killed and restarts under the policy. */
		ctr_stop(c, p->spec->grace_s * NSEC_PER_SEC, false, false);
	}
	agent_queue(p->agent, p->uid);
}

static void
on_started(void *userdata, int r, const korch_error *err, const struct backend_container *st)
{
	struct op_ctx *o = userdata;
	size_t index = o->index;
	struct apod *p = op_end(o);
	if (!p)
		return;
	struct actr *c = &p->ctrs[index];
	c->op = OP_NONE;
	if (r < 0) {
		set_waiting(c, "RunContainerError",
			    err ? korch_error_message(err) : "start failed");
		pod_wake_at(p, agent_now(p->agent) + BACKOFF_BASE_NS);
	} else if (c->cur && streq(c->cur->id, st->id)) {
		backend_container_free(c->cur);
		if (backend_container_copy(st, &c->cur) < 0)
			c->cur = NULL;
		if (ctr_running(c)) {
			probes_start(c);
			if (c->spec->post_start) {
				_cleanup_error_ korch_error *herr = NULL;
				if (hook_run(c, c->spec->post_start,
					     p->spec->grace_s * NSEC_PER_SEC, on_post_start, NULL,
					     NULL, &herr) == 0)
					c->op = OP_POST_START;
				else
					on_post_start(p, index, false, korch_error_message(herr),
						      NULL);
			}
		} else {
			ctr_read_termination_message(c);
		}
	}
	agent_queue(p->agent, p->uid);
}

static void
on_created(void *userdata, int r, const korch_error *err, const struct backend_container *st)
{
	struct op_ctx *o = userdata;
	size_t index = o->index;
	struct apod *p = op_end(o);
	if (!p)
		return;
	struct actr *c = &p->ctrs[index];
	c->op = OP_NONE;
	if (r < 0) {
		set_waiting(c, "CreateContainerError",
			    err ? korch_error_message(err) : "create failed");
		pod_wake_at(p, agent_now(p->agent) + BACKOFF_BASE_NS);
		agent_queue(p->agent, p->uid);
		return;
	}
	/* The new instance becomes current; the one before it is kept for lastState. */
	struct backend_container *inst = NULL;
	if (backend_container_copy(st, &inst) < 0) {
		agent_queue(p->agent, p->uid);
		return;
	}
	if (c->cur) {
		remove_instance(p, c->prev);
		backend_container_free(c->prev);
		c->prev = c->cur;
	}
	c->cur = inst;
	instance_reset(c);
	set_waiting(c, NULL, NULL);
	struct node_agent *a = p->agent;
	struct op_ctx *so = op_begin(p, index, inst->id);
	_cleanup_error_ korch_error *serr = NULL;
	if (!so || a->backend->ops->container_start(a->backend->data, inst->id, on_started, so,
						    &serr) < 0) {
		if (so)
			op_end(so);
		set_waiting(c, "RunContainerError", serr ? korch_error_message(serr) : "no memory");
		pod_wake_at(p, agent_now(a) + BACKOFF_BASE_NS);
	} else {
		c->op = OP_START;
	}
	agent_queue(a, p->uid);
}

/* Asks the backend for c's next instance (ctr_create) once the image back-off allows it. */
static void
start_ctr(struct apod *p, struct actr *c)
{
	struct node_agent *a = p->agent;
	int64_t now = agent_now(a);
	if (c->image_retry_ns > now) {
		pod_wake_at(p, c->image_retry_ns);
		return;
	}
	_cleanup_error_ korch_error *err = NULL;
	if (ctr_create(c, &err) < 0) {
		/* ctr_create set the waiting reason; configuration errors retry on the next
		 * change, and at the latest after the base back-off. */
		pod_wake_at(p, c->image_retry_ns > now ? c->image_retry_ns : now + BACKOFF_BASE_NS);
	}
}

int
ctr_backend_create(struct actr *c, const struct backend_container_config *cfg, korch_error **err)
{
	struct apod *p = c->pod;
	struct node_agent *a = p->agent;
	struct op_ctx *o = op_begin(p, c->index, NULL);
	if (!o)
		return error_oom(err);
	int r = a->backend->ops->container_create(a->backend->data, cfg, on_created, o, err);
	if (r < 0) {
		op_end(o);
		return r;
	}
	c->op = OP_CREATE;
	return 0;
}

/* --- stopping --- */

static int
stop_signal_of(const struct actr *c)
{
	const char *s = c->cur ? backend_label(c->cur->labels, LABEL_STOP_SIGNAL) : NULL;
	int64_t n;
	if (s && parse_int64(s, &n) == 0 && n > 0 && n < 65)
		return (int)n;
	return SIGTERM;
}

static void
kill_instance(struct actr *c, int signo)
{
	struct node_agent *a = c->pod->agent;
	_cleanup_error_ korch_error *err = NULL;
	log_debug("node", "pod %s/%s: container %s: signal %d", c->pod->ns, c->pod->name,
		  c->spec->name, signo);
	if (a->backend->ops->container_kill(a->backend->data, c->cur->id, signo, &err) < 0)
		log_warn("node", "kill container %s with signal %d: %s", c->cur->id, signo,
			 korch_error_message(err));
}

/* After preStop (or without one): the stop signal, then SIGKILL when the grace is over. */
static void
stop_continue(struct actr *c)
{
	struct apod *p = c->pod;
	int64_t now = agent_now(p->agent);
	int64_t left = c->stop_grace_ns - (now - c->stop_started_ns);
	if (!c->stop_grace_override && left < MIN_GRACE_NS)
		left = MIN_GRACE_NS;
	if (left < 0)
		left = 0;
	c->stop_signal_sent = true;
	c->stop_deadline_ns = now + left;
	if (left == 0) {
		c->kill_sent = true;
		kill_instance(c, SIGKILL);
		return;
	}
	kill_instance(c, stop_signal_of(c));
	pod_wake_at(p, c->stop_deadline_ns);
}

static void
on_pre_stop(struct apod *p, size_t index, bool ok, const char *message, void *userdata)
{
	struct actr *c = &p->ctrs[index];
	c->pre_stop = NULL;
	c->pre_stop_done = true;
	if (!ok) {
		char desc[256];
		log_warn("node", "pod %s: container %s: preStop hook failed: %s", pod_desc(p, desc),
			 c->spec->name, message ? message : "");
	}
	if (c->stopping && !c->stop_signal_sent && ctr_running(c))
		stop_continue(c);
	agent_queue(p->agent, p->uid);
}

void
ctr_stop(struct actr *c, int64_t grace_ns, bool exact, bool restart)
{
	struct apod *p = c->pod;
	if (!ctr_running(c))
		return;
	int64_t now = agent_now(p->agent);
	if (grace_ns < 0)
		grace_ns = 0;
	if (c->stopping) {
		/* A shorter grace may replace a longer one (a second delete, an eviction). */
		int64_t deadline = now + (exact ? grace_ns : MAX(grace_ns, MIN_GRACE_NS));
		if (c->stop_signal_sent && !c->kill_sent && deadline < c->stop_deadline_ns) {
			c->stop_deadline_ns = deadline;
			pod_wake_at(p, deadline);
		} else if (!c->stop_signal_sent && exact && grace_ns == 0) {
			c->stop_grace_ns = 0;
			c->stop_grace_override = true;
			if (c->pre_stop) {
				hook_cancel(c->pre_stop);
				c->pre_stop = NULL;
			}
			stop_continue(c);
		}
		c->restart_after_stop &= restart;
		return;
	}
	c->stopping = true;
	c->restart_after_stop = restart;
	c->stop_started_ns = now;
	c->stop_grace_ns = grace_ns;
	c->stop_grace_override = exact;
	probes_stop(c);
	c->ready = false;
	if (c->cur->state == BACKEND_RUNNING && c->spec->pre_stop && !c->pre_stop_done &&
	    grace_ns > 0) {
		_cleanup_error_ korch_error *err = NULL;
		if (hook_run(c, c->spec->pre_stop, grace_ns, on_pre_stop, NULL, &c->pre_stop,
			     &err) == 0) {
			pod_wake_at(p, now + grace_ns);
			return;
		}
		char desc[256];
		log_warn("node", "pod %s: container %s: preStop hook: %s", pod_desc(p, desc),
			 c->spec->name, korch_error_message(err));
	}
	c->pre_stop_done = true;
	stop_continue(c);
}

/* Deadlines of a stop in progress: preStop running too long, SIGKILL due. */
static void
stop_progress(struct actr *c)
{
	struct apod *p = c->pod;
	if (!c->stopping || !ctr_running(c))
		return;
	int64_t now = agent_now(p->agent);
	if (!c->stop_signal_sent) {
		if (now >= c->stop_started_ns + c->stop_grace_ns) {
			/* preStop used up the grace: the stop signal goes out regardless. */
			if (c->pre_stop) {
				hook_cancel(c->pre_stop);
				c->pre_stop = NULL;
			}
			c->pre_stop_done = true;
			stop_continue(c);
		} else {
			pod_wake_at(p, c->stop_started_ns + c->stop_grace_ns);
		}
		return;
	}
	if (!c->kill_sent) {
		if (now >= c->stop_deadline_ns) {
			c->kill_sent = true;
			kill_instance(c, SIGKILL);
		} else {
			pod_wake_at(p, c->stop_deadline_ns);
		}
	}
}

/* --- exits, adoption --- */

void
pod_container_exited(struct apod *p, const struct backend_container *st)
{
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct actr *c = &p->ctrs[i];
		struct backend_container **slot = NULL;
		if (c->cur && streq(c->cur->id, st->id))
			slot = &c->cur;
		else if (c->prev && streq(c->prev->id, st->id))
			slot = &c->prev;
		if (!slot)
			continue;
		if ((*slot)->state == BACKEND_EXITED && slot == &c->cur && c->exit_seen)
			return;
		struct backend_container *copy = NULL;
		if (backend_container_copy(st, &copy) < 0)
			return;
		backend_container_free(*slot);
		*slot = copy;
		if (slot == &c->cur) {
			probes_stop(c);
			c->ready = false;
			ctr_read_termination_message(c);
		}
		agent_queue(p->agent, p->uid);
		return;
	}
}

static unsigned
attempt_of(const struct backend_container *c)
{
	int64_t n = 0;
	const char *s = backend_label(c->labels, LABEL_ATTEMPT);
	if (!s || parse_int64(s, &n) < 0 || n < 0)
		return 0;
	return (unsigned)n;
}

/* Whether the status read back from the object said this instance was ready / started. */
static void
restore_probe_state(struct apod *p, struct actr *c)
{
	const json_t *status = json_object_get(p->obj, "status");
	const char *list = c->spec->init ? "initContainerStatuses" : "containerStatuses";
	size_t i;
	json_t *cs;
	char id[300];
	snprintf(id, sizeof(id), "%s://%s", p->agent->backend->ops->name, c->cur->id);
	json_array_foreach (json_object_get(status, list), i, cs) {
		if (!streq(json_string_value(json_object_get(cs, "name")), c->spec->name) ||
		    !streq(json_string_value(json_object_get(cs, "containerID")), id))
			continue;
		c->ready = json_is_true(json_object_get(cs, "ready"));
		c->started = json_is_true(json_object_get(cs, "started"));
	}
}

void
pod_adopt(struct apod *p, struct ptrvec *containers, struct backend_sandbox *sandbox)
{
	if (sandbox) {
		p->sandbox_ready = sandbox->ready;
		set_str(&p->netns_path, sandbox->netns_path);
		backend_sandbox_free(sandbox);
	}
	if (!containers)
		return;
	/* Per container name, the two newest attempts are cur and prev; older ones go. */
	for (size_t i = 0; i < containers->n; i++) {
		struct backend_container *bc = containers->items[i];
		struct actr *c =
			p->spec ? pod_find_ctr(p, backend_label(bc->labels, LABEL_CONTAINER_NAME))
				: NULL;
		if (!c) {
			remove_instance(p, bc);
			backend_container_free(bc);
			continue;
		}
		unsigned n = attempt_of(bc);
		if (!c->cur || n > attempt_of(c->cur)) {
			if (c->prev) {
				remove_instance(p, c->prev);
				backend_container_free(c->prev);
			}
			c->prev = c->cur;
			c->cur = bc;
		} else if (!c->prev || n > attempt_of(c->prev)) {
			if (c->prev) {
				remove_instance(p, c->prev);
				backend_container_free(c->prev);
			}
			c->prev = bc;
		} else {
			remove_instance(p, bc);
			backend_container_free(bc);
		}
	}
	containers->n = 0;
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct actr *c = &p->ctrs[i];
		if (!c->cur)
			continue;
		p->admitted = true;
		/* An app container ran: the pod was initialized before the agent restarted. */
		if (!c->spec->init)
			p->initialized = true;
		if (c->cur->state == BACKEND_RUNNING) {
			restore_probe_state(p, c);
			if (c->spec->readiness == NULL)
				c->ready = true;
		} else if (ctr_exited(c)) {
			ctr_read_termination_message(c);
		}
	}
}

/* --- the object --- */

static void
ctrs_bind(struct apod *p)
{
	for (size_t i = 0; i < p->n_ctrs; i++) {
		p->ctrs[i].pod = p;
		p->ctrs[i].index = i;
		p->ctrs[i].spec = &p->spec->ctrs[i];
	}
}

int
pod_set_object(struct apod *p, const json_t *obj, korch_error **err)
{
	json_decref(p->obj);
	p->obj = json_incref((json_t *)obj);
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *status = json_object_get(obj, "status");
	p->terminating = json_object_get(meta, "deletionTimestamp") != NULL;
	const json_t *dg = json_object_get(meta, "deletionGracePeriodSeconds");
	if (json_is_integer(dg))
		p->deletion_grace_s = json_integer_value(dg);
	if (!p->cond_times) {
		/* What a previous agent wrote: unchanged parts are not written again, and the
		 * transition times it recorded stay. */
		pod_status_remember(p, status);
		int64_t t;
		const char *st = json_string_value(json_object_get(status, "startTime"));
		if (st && parse_rfc3339(st, &t) == 0)
			p->start_wall_ns = t;
	}
	const char *phase = json_string_value(json_object_get(status, "phase"));
	if (p->terminal == TERMINAL_NONE && (streq(phase, "Succeeded") || streq(phase, "Failed"))) {
		p->terminal = TERMINAL_PHASE;
		set_str(&p->terminal_reason, json_string_value(json_object_get(status, "reason")));
		set_str(&p->terminal_message,
			json_string_value(json_object_get(status, "message")));
	}
	char *key = podspec_mutable_key(obj);
	if (!key)
		return error_oom(err);
	if (p->spec && streq(key, p->spec_key)) {
		free(key);
		return 0;
	}
	free(p->spec_key);
	p->spec_key = key;
	struct podspec *spec = NULL;
	int r = podspec_decode((json_t *)obj, &spec, err);
	if (r < 0)
		return r;
	if (p->ctrs && spec->n_ctrs != p->n_ctrs) {
		podspec_free(spec);
		return error_set(err, KORCH_EINVALID,
				 "the pod's containers changed: a pod's container list is fixed");
	}
	if (!p->ctrs) {
		if (!(p->ctrs = calloc(spec->n_ctrs, sizeof(*p->ctrs)))) {
			podspec_free(spec);
			return error_oom(err);
		}
		p->n_ctrs = spec->n_ctrs;
	}
	/* Probers point into the old spec: stop them, they restart with the new one. */
	for (size_t i = 0; i < p->n_ctrs; i++)
		probes_stop(&p->ctrs[i]);
	podspec_free(p->spec);
	p->spec = spec;
	ctrs_bind(p);
	for (size_t i = 0; i < p->n_ctrs; i++)
		if (p->ctrs[i].cur && p->ctrs[i].cur->state == BACKEND_RUNNING &&
		    !p->ctrs[i].stopping)
			probes_start(&p->ctrs[i]);
	return 0;
}

static void
ctr_clear(struct actr *c)
{
	probes_stop(c);
	if (c->pre_stop)
		hook_cancel(c->pre_stop);
	backend_container_free(c->cur);
	backend_container_free(c->prev);
	free(c->waiting_reason);
	free(c->waiting_message);
	free(c->image_name);
	free(c->termination_message);
}

void
pod_detach(struct apod *p)
{
	for (size_t i = 0; i < p->n_ctrs; i++) {
		probes_stop(&p->ctrs[i]);
		if (p->ctrs[i].pre_stop) {
			hook_cancel(p->ctrs[i].pre_stop);
			p->ctrs[i].pre_stop = NULL;
		}
	}
	loop_source_free(p->timer);
	p->timer = NULL;
	p->agent = NULL;
	p->freeing = true;
}

void
pod_free(struct apod *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_ctrs; i++)
		ctr_clear(&p->ctrs[i]);
	free(p->ctrs);
	loop_source_free(p->timer);
	podspec_free(p->spec);
	json_decref(p->obj);
	json_decref(p->cond_times);
	free(p->written_rv);
	free(p->spec_key);
	json_decref(p->volume_state);
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p->terminal_reason);
	free(p->terminal_message);
	free(p->netns_path);
	free(p->pod_ip);
	free(p->setup_error_reason);
	free(p->setup_error_message);
	free(p);
}

/* --- admission --- */

static bool
pod_counts(const struct apod *q)
{
	return q->admitted && q->terminal == TERMINAL_NONE && !q->gone && q->spec;
}

/* The kubelet's resource fit check: pods, cpu and memory against allocatable. */
static void
admit(struct apod *p)
{
	struct node_agent *a = p->agent;
	if (p->terminal != TERMINAL_NONE) {
		p->admitted = true;
		return;
	}
	const char *phase =
		json_string_value(json_object_get(json_object_get(p->obj, "status"), "phase"));
	if (phase && !streq(phase, "Pending")) {
		p->admitted = true; /* it ran here before the agent restarted */
		return;
	}
	int64_t pods = 0, cpu = 0, mem = 0;
	size_t iter = 0;
	const char *uid;
	struct apod *q;
	while (hashmap_next(&a->pods_by_uid, &iter, &uid, (void **)&q))
		if (q != p && pod_counts(q)) {
			pods++;
			cpu += q->spec->cpu_request_milli;
			mem += q->spec->memory_request;
		}
	int64_t alloc_cpu, alloc_mem, alloc_eph;
	node_allocatable(a, &alloc_cpu, &alloc_mem, &alloc_eph);
	const char *res = NULL;
	int64_t requested = 0, used = 0, capacity = 0;
	if (pods + 1 > a->max_pods) {
		res = "pods", requested = 1, used = pods, capacity = a->max_pods;
	} else if (p->spec->cpu_request_milli > 0 && cpu + p->spec->cpu_request_milli > alloc_cpu) {
		res = "cpu", requested = p->spec->cpu_request_milli, used = cpu,
		capacity = alloc_cpu;
	} else if (p->spec->memory_request > 0 && mem + p->spec->memory_request > alloc_mem) {
		res = "memory", requested = p->spec->memory_request, used = mem,
		capacity = alloc_mem;
	}
	if (!res) {
		p->admitted = true;
		return;
	}
	char reason[32], message[256];
	snprintf(reason, sizeof(reason), "OutOf%s", res);
	snprintf(message, sizeof(message),
		 "Pod was rejected: Node didn't have enough resource: %s, requested: %lld, used: "
		 "%lld, capacity: %lld",
		 res, (long long)requested, (long long)used, (long long)capacity);
	p->terminal = TERMINAL_REJECTED;
	set_str(&p->terminal_reason, reason);
	set_str(&p->terminal_message, message);
	p->admitted = true;
}

/* --- sandbox --- */

static int
ensure_sandbox(struct apod *p, korch_error **err)
{
	if (p->sandbox_ready)
		return 0;
	struct node_agent *a = p->agent;
	const struct podspec *s = p->spec;
	_cleanup_json_ json_t *labels =
		json_pack("{s:s, s:s, s:s}", LABEL_POD_UID, p->uid, LABEL_POD_NAME, p->name,
			  LABEL_POD_NAMESPACE, p->ns);
	if (!labels)
		return error_oom(err);
	char hostname[64];
	snprintf(hostname, sizeof(hostname), "%s", s->hostname ? s->hostname : p->name);
	struct backend_sandbox_config cfg = {
		.pod_uid = p->uid,
		.pod_name = p->name,
		.pod_namespace = p->ns,
		.hostname = hostname,
		.host_network = s->host_network,
		.host_ipc = s->host_ipc,
		.host_pid = s->host_pid,
		.share_pid = s->share_pid,
		.labels = labels,
	};
	cfg.resources.cpu_shares = cgroup_cpu_shares_from_milli(s->cpu_request_milli);
	if (s->cpu_limit_milli > 0) {
		cfg.resources.cpu_period_us = 100000;
		cfg.resources.cpu_quota_us =
			cgroup_cpu_quota_from_milli(s->cpu_limit_milli, 100000);
	}
	if (s->memory_limit > 0)
		cfg.resources.memory_limit_bytes = s->memory_limit;
	struct backend_sandbox *sb = NULL;
	int r = a->backend->ops->sandbox_create(a->backend->data, &cfg, &sb, err);
	if (r < 0)
		return korch_error_prefix(err, r, "Failed to create pod sandbox");
	set_str(&p->netns_path, sb->netns_path);
	backend_sandbox_free(sb);
	if (a->network && !s->host_network && p->netns_path) {
		char *ip = NULL;
		r = a->network->setup(a->network_data, p->uid, p->ns, p->name, p->netns_path, &ip,
				      err);
		if (r < 0) {
			a->backend->ops->sandbox_remove(a->backend->data, p->uid, NULL);
			return korch_error_prefix(err, r,
						  "Failed to create pod sandbox: set up network");
		}
		free(p->pod_ip);
		p->pod_ip = ip;
	}
	p->sandbox_ready = true;
	p->sandbox_removed = false;
	return 0;
}

static void
remove_sandbox(struct apod *p)
{
	struct node_agent *a = p->agent;
	if (p->sandbox_removed)
		return;
	if (a->network && p->netns_path && p->spec && !p->spec->host_network)
		a->network->teardown(a->network_data, p->uid, p->netns_path, NULL);
	_cleanup_error_ korch_error *err = NULL;
	if (a->backend->ops->sandbox_remove(a->backend->data, p->uid, &err) < 0) {
		log_warn("node", "remove sandbox of pod %s/%s: %s", p->ns, p->name,
			 korch_error_message(err));
		return;
	}
	p->sandbox_ready = false;
	p->sandbox_removed = true;
}

/* --- sync --- */

static bool
busy(const struct apod *p)
{
	for (size_t i = 0; i < p->n_ctrs; i++)
		if (p->ctrs[i].op != OP_NONE || ctr_running(&p->ctrs[i]))
			return true;
	return false;
}

static bool
ops_in_flight(const struct apod *p)
{
	for (size_t i = 0; i < p->n_ctrs; i++)
		if (p->ctrs[i].op == OP_CREATE || p->ctrs[i].op == OP_START)
			return true;
	return false;
}

/* Go's time.Duration.String() for whole seconds: "10s", "1m20s", "5m0s". */
static void
format_duration(int64_t ns, char buf[static 32])
{
	int64_t s = ns / NSEC_PER_SEC;
	if (s < 60)
		snprintf(buf, 32, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, 32, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, 32, "%lldh%lldm%llds", (long long)(s / 3600),
			 (long long)(s % 3600 / 60), (long long)(s % 60));
}

/*
 * The kubelet's crash back-off (doBackOff over flowcontrol.Backoff): measured from the exited
 * instance's finish time; 10 s doubling to 300 s; an entry not stepped for twice the maximum
 * (10 minutes) is stale and starts over. Returns true while the restart must wait.
 */
static bool
in_backoff(struct apod *p, struct actr *c)
{
	struct node_agent *a = p->agent;
	int64_t finished = c->cur->finished_ns;
	int64_t now_wall = agent_wall(a);
	bool expired =
		c->backoff_ns == 0 || finished - c->backoff_updated_wall > 2 * BACKOFF_MAX_NS;
	if (!expired && now_wall - finished < c->backoff_ns) {
		char d[32], desc[256], msg[512];
		format_duration(c->backoff_ns, d);
		snprintf(msg, sizeof(msg), "back-off %s restarting failed container=%s pod=%s", d,
			 c->spec->name, pod_desc(p, desc));
		set_waiting(c, "CrashLoopBackOff", msg);
		pod_wake_at(p, agent_now(a) + (finished + c->backoff_ns - now_wall));
		return true;
	}
	c->backoff_ns = expired ? BACKOFF_BASE_NS : MIN(c->backoff_ns * 2, BACKOFF_MAX_NS);
	c->backoff_updated_wall = now_wall;
	return false;
}

static bool
should_restart(const struct apod *p, const struct actr *c)
{
	switch (p->spec->restart) {
	case RESTART_ALWAYS: return true;
	case RESTART_ON_FAILURE: return c->cur->exit_code != 0;
	case RESTART_NEVER: return false;
	}
	return false;
}

/* Restarts an exited instance once its back-off allows. */
static void
restart_ctr(struct apod *p, struct actr *c)
{
	c->exit_seen = true;
	if (!in_backoff(p, c))
		start_ctr(p, c);
}

static int64_t
pod_grace_ns(const struct apod *p)
{
	int64_t s = p->deletion_grace_s >= 0 ? p->deletion_grace_s : p->spec->grace_s;
	return s * NSEC_PER_SEC;
}

/* Stops every running container; true once none runs and nothing is in flight. */
static bool
stop_all(struct apod *p, int64_t grace_ns, bool exact)
{
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct actr *c = &p->ctrs[i];
		if (ctr_running(c)) {
			ctr_stop(c, grace_ns, exact, false);
			stop_progress(c);
		}
	}
	return !busy(p);
}

/* Everything the pod had on the node goes: containers, sandbox, files, logs. */
static void
cleanup(struct apod *p)
{
	struct node_agent *a = p->agent;
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct actr *c = &p->ctrs[i];
		remove_instance(p, c->cur);
		remove_instance(p, c->prev);
		backend_container_free(c->cur);
		backend_container_free(c->prev);
		c->cur = c->prev = NULL;
	}
	remove_sandbox(p);
	_cleanup_error_ korch_error *err = NULL;
	if (volumes_teardown(a, p->uid, &err) < 0)
		log_warn("node", "pod %s/%s: remove volumes: %s", p->ns, p->name,
			 korch_error_message(err));
	_cleanup_free_ char *logs = NULL;
	if (asprintf(&logs, "%s/%s_%s_%s", a->log_dir, p->ns, p->name, p->uid) >= 0)
		rm_rf(logs, NULL);
	p->cleaned = true;
	agent_forget_pod(a, p);
}

/* The pod's object goes once its containers are gone: delete it with grace 0. */
static int
delete_object(struct apod *p)
{
	struct node_agent *a = p->agent;
	if (p->deleted_from_api)
		return 0;
	struct client_delete_opts o = { .grace_period_s = 0, .precondition_uid = p->uid };
	_cleanup_error_ korch_error *err = NULL;
	int r = client_delete(a->client, kind_lookup("v1", "Pod"), p->ns, p->name, &o, NULL, &err);
	if (r < 0 && r != KORCH_ENOTFOUND && r != KORCH_ECONFLICT) {
		log_warn("node", "pod %s/%s: delete: %s", p->ns, p->name, korch_error_message(err));
		return r;
	}
	p->deleted_from_api = true;
	return 0;
}

static int
write_status(struct apod *p)
{
	if (!p->obj || ops_in_flight(p))
		return 0;
	_cleanup_error_ korch_error *err = NULL;
	int r = pod_status_write(p, &err);
	if (r == KORCH_ECONFLICT)
		return r; /* a newer object is on its way: retry then */
	if (r == KORCH_ENOTFOUND)
		return 0;
	if (r < 0) {
		log_warn("node", "pod %s/%s: write status: %s", p->ns, p->name,
			 korch_error_message(err));
		return r;
	}
	return 0;
}

static int
sync_gone(struct apod *p)
{
	if (!p->spec) {
		cleanup(p);
		return 0;
	}
	if (!stop_all(p, pod_grace_ns(p), false))
		return 0;
	cleanup(p);
	return 0;
}

static int
sync_terminating(struct apod *p)
{
	if (!stop_all(p, pod_grace_ns(p), false))
		return write_status(p);
	remove_sandbox(p);
	if (p->terminal == TERMINAL_NONE)
		p->terminal = TERMINAL_PHASE;
	int r = write_status(p);
	if (r < 0)
		return r;
	return delete_object(p);
}

static int
sync_terminal(struct apod *p)
{
	bool evicted = p->terminal == TERMINAL_EVICTED;
	if (stop_all(p, evicted ? 0 : pod_grace_ns(p), evicted)) {
		remove_sandbox(p);
		/* What the pod held on the node comes back (an evicted pod's tmpfs above all). */
		if (!p->volumes_released) {
			_cleanup_error_ korch_error *err = NULL;
			if (volumes_release(p, &err) < 0)
				log_warn("node", "pod %s/%s: release volumes: %s", p->ns, p->name,
					 korch_error_message(err));
		}
	}
	return write_status(p);
}

static void
set_setup_error(struct apod *p, const char *reason, const char *message)
{
	set_str(&p->setup_error_reason, reason);
	set_str(&p->setup_error_message, message);
}

/* activeDeadlineSeconds, counted from status.startTime. */
static bool
deadline_passed(struct apod *p)
{
	if (p->spec->active_deadline_s < 0 || p->start_wall_ns == 0)
		return false;
	int64_t deadline = p->start_wall_ns + p->spec->active_deadline_s * NSEC_PER_SEC;
	int64_t now_wall = agent_wall(p->agent);
	if (now_wall >= deadline) {
		p->terminal = TERMINAL_DEADLINE;
		set_str(&p->terminal_reason, "DeadlineExceeded");
		set_str(&p->terminal_message,
			"Pod was active on the node longer than the specified deadline");
		return true;
	}
	pod_wake_at(p, agent_now(p->agent) + (deadline - now_wall));
	return false;
}

/*
 * Init containers in order; returns true once all completed. A sidecar (an init container with
 * restartPolicy Always) counts once it started, and is restarted whenever it exits, also after
 * the pod was initialized. Once initialized, a pod never runs its init containers again.
 */
static bool
sync_init(struct apod *p)
{
	for (size_t i = 0; i < p->spec->n_init; i++) {
		struct actr *c = &p->ctrs[i];
		if (c->spec->sidecar) {
			if (c->op == OP_CREATE || c->op == OP_START)
				return p->initialized;
			if (!c->cur) {
				start_ctr(p, c);
				if (!p->initialized)
					return false;
				continue;
			}
			if (ctr_running(c)) {
				stop_progress(c);
				if (!c->started && !p->initialized)
					return false;
				continue;
			}
			restart_ctr(p, c);
			if (!p->initialized)
				return false;
			continue;
		}
		if (p->initialized)
			continue;
		if (c->op != OP_NONE)
			return false;
		if (!c->cur) {
			start_ctr(p, c);
			return false;
		}
		if (ctr_running(c)) {
			stop_progress(c);
			return false;
		}
		if (c->cur->exit_code == 0) {
			c->exit_seen = true;
			continue;
		}
		if (p->spec->restart == RESTART_NEVER) {
			c->exit_seen = true;
			p->terminal = TERMINAL_PHASE;
			return false;
		}
		restart_ctr(p, c);
		return false;
	}
	p->initialized = true;
	return true;
}

static bool
image_changed(const struct actr *c)
{
	const char *img = backend_label(c->cur->labels, LABEL_IMAGE);
	return img && !streq(img, c->spec->image);
}

/*
 * shareProcessNamespace: the containers join the pid namespace of one that runs, so the first
 * starts alone. Whether another may start now.
 */
static bool
may_start_beside(const struct apod *p)
{
	if (!p->spec->share_pid)
		return true;
	bool running = false, starting = false;
	for (size_t i = p->spec->n_init; i < p->n_ctrs; i++) {
		running |= p->ctrs[i].cur && p->ctrs[i].cur->state == BACKEND_RUNNING;
		starting |= p->ctrs[i].op == OP_CREATE || p->ctrs[i].op == OP_START;
	}
	return running || !starting;
}

static void
sync_app(struct apod *p)
{
	struct node_agent *a = p->agent;
	for (size_t i = p->spec->n_init; i < p->n_ctrs; i++) {
		struct actr *c = &p->ctrs[i];
		if (c->op == OP_CREATE || c->op == OP_START)
			continue;
		if (!c->cur) {
			if (may_start_beside(p))
				start_ctr(p, c);
			continue;
		}
		if (ctr_running(c)) {
			if (c->stopping) {
				stop_progress(c);
				continue;
			}
			const struct prober *live = c->probes[PROBE_LIVENESS];
			const struct prober *start = c->probes[PROBE_STARTUP];
			int64_t grace = p->spec->grace_s;
			if (live && live->result == RESULT_FAILURE) {
				if (live->spec->termination_grace_s >= 0)
					grace = live->spec->termination_grace_s;
				char desc[256];
				log_info("node",
					 "pod %s: container %s failed liveness probe, will be "
					 "restarted",
					 pod_desc(p, desc), c->spec->name);
				ctr_stop(c, grace * NSEC_PER_SEC, false, true);
			} else if (start && start->result == RESULT_FAILURE) {
				if (start->spec->termination_grace_s >= 0)
					grace = start->spec->termination_grace_s;
				ctr_stop(c, grace * NSEC_PER_SEC, false, true);
			} else if (image_changed(c)) {
				ctr_stop(c, grace * NSEC_PER_SEC, false, true);
			}
			continue;
		}
		/* exited */
		if (c->op == OP_POST_START)
			c->op = OP_NONE;
		if (!should_restart(p, c)) {
			c->exit_seen = true;
			continue;
		}
		restart_ctr(p, c);
	}
	(void)a;
}

int
pod_sync(struct apod *p)
{
	struct node_agent *a = p->agent;
	if (!a || p->freeing)
		return 0;
	p->wake_ns = -1;
	loop_timer_set(p->timer, -1);
	if (p->gone)
		return sync_gone(p);
	if (!p->spec)
		return 0; /* undecodable: nothing runs; the error was logged */
	if (!p->admitted)
		admit(p);
	if (p->start_wall_ns == 0)
		p->start_wall_ns = agent_wall(a);
	if (p->terminating)
		return sync_terminating(p);
	if (p->terminal == TERMINAL_NONE)
		deadline_passed(p);
	if (p->terminal != TERMINAL_NONE)
		return sync_terminal(p);
	_cleanup_error_ korch_error *err = NULL;
	if (volumes_setup(p, &err) < 0) {
		set_setup_error(p, "ContainerCreating", korch_error_message(err));
		pod_wake_at(p, agent_now(a) + BACKOFF_BASE_NS);
		return write_status(p);
	}
	if (ensure_sandbox(p, &err) < 0) {
		set_setup_error(p, "ContainerCreating", korch_error_message(err));
		pod_wake_at(p, agent_now(a) + BACKOFF_BASE_NS);
		return write_status(p);
	}
	set_setup_error(p, NULL, NULL);
	if (sync_init(p))
		sync_app(p);
	/* Restart policy Never or OnFailure: once nothing will run again, the pod is over. */
	if (p->terminal == TERMINAL_NONE) {
		const char *phase = apod_phase(p);
		if (streq(phase, "Succeeded") || streq(phase, "Failed"))
			p->terminal = TERMINAL_PHASE;
	}
	if (p->terminal != TERMINAL_NONE)
		return sync_terminal(p);
	return write_status(p);
}

void
pod_evict(struct apod *p, const char *message)
{
	if (p->terminal != TERMINAL_NONE || p->gone)
		return;
	p->terminal = TERMINAL_EVICTED;
	set_str(&p->terminal_reason, "Evicted");
	set_str(&p->terminal_message, message);
	agent_queue(p->agent, p->uid);
}
