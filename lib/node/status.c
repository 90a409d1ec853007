/*
 * status.c - a pod's status as the kubelet reports it (generateAPIPodStatus, getPhase, the
 * condition generators, convertToAPIContainerStatuses), in the field order of Kubernetes' Go
 * types, and the write of it through the status subresource when it changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "base/error.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "node/node-internal.h"

unsigned
ctr_restart_count(const struct actr *c)
{
	const char *s = c->cur ? backend_label(c->cur->labels, LABEL_ATTEMPT) : NULL;
	int64_t n;
	if (!s || parse_int64(s, &n) < 0 || n < 0)
		return 0;
	return (unsigned)n;
}

static json_t *
time_json(int64_t wall_ns)
{
	char buf[32];
	return json_string(format_rfc3339(wall_ns, false, buf));
}

/* Whether an exited instance will run again (the status then shows it as waiting). */
static bool
will_restart(const struct apod *p, const struct actr *c)
{
	if (p->terminal != TERMINAL_NONE || p->terminating || p->gone)
		return false;
	if (c->spec->init)
		return c->cur->exit_code != 0 && p->spec->restart != RESTART_NEVER;
	switch (p->spec->restart) {
	case RESTART_ALWAYS: return true;
	case RESTART_ON_FAILURE: return c->cur->exit_code != 0;
	case RESTART_NEVER: return false;
	}
	return false;
}

static json_t *
terminated_json(const struct apod *p, const struct backend_container *inst, const char *message)
{
	char id[300];
	snprintf(id, sizeof(id), "%s://%s", p->agent->backend->ops->name, inst->id);
	json_t *t = json_object();
	json_object_set_new(t, "exitCode", json_integer(inst->exit_code));
	json_object_set_new(t, "reason",
			    json_string(inst->reason           ? inst->reason
					: inst->exit_code == 0 ? "Completed"
							       : "Error"));
	if (message && *message)
		json_object_set_new(t, "message", json_string(message));
	else if (inst->message && *inst->message)
		json_object_set_new(t, "message", json_string(inst->message));
	json_object_set_new(t, "startedAt",
			    inst->started_ns ? time_json(inst->started_ns) : json_null());
	json_object_set_new(t, "finishedAt",
			    inst->finished_ns ? time_json(inst->finished_ns) : json_null());
	json_object_set_new(t, "containerID", json_string(id));
	return json_pack("{s:o}", "terminated", t);
}

static json_t *
waiting_json(const char *reason, const char *message)
{
	json_t *w = json_object();
	json_object_set_new(w, "reason", json_string(reason));
	if (message && *message)
		json_object_set_new(w, "message", json_string(message));
	return json_pack("{s:o}", "waiting", w);
}

static const char *
default_waiting_reason(const struct apod *p)
{
	if (p->setup_error_reason)
		return p->setup_error_reason;
	return p->spec->n_init > 0 ? "PodInitializing" : "ContainerCreating";
}

/* status.containerStatuses[].volumeMounts, as the kubelet reports them since 1.31. */
static json_t *
mounts_json(const struct actr *c)
{
	const json_t *vm = json_object_get(c->spec->json, "volumeMounts");
	if (!json_array_size(vm))
		return NULL;
	json_t *out = json_array();
	size_t i;
	json_t *m;
	json_array_foreach (vm, i, m) {
		json_t *e = json_object();
		json_object_set(e, "name", json_object_get(m, "name"));
		json_object_set(e, "mountPath", json_object_get(m, "mountPath"));
		if (json_is_true(json_object_get(m, "readOnly")))
			json_object_set_new(e, "readOnly", json_true());
		json_object_set_new(e, "recursiveReadOnly", json_string("Disabled"));
		json_array_append_new(out, e);
	}
	return out;
}

static json_t *
ctr_status(struct apod *p, struct actr *c)
{
	json_t *cs = json_object();
	json_t *state = NULL, *last = NULL;
	const struct backend_container *cur = c->cur;
	if (!cur || (cur->state == BACKEND_CREATED && c->op != OP_NONE)) {
		state = waiting_json(
			c->waiting_reason ? c->waiting_reason : default_waiting_reason(p),
			c->waiting_reason ? c->waiting_message : p->setup_error_message);
		if (cur && c->prev)
			last = terminated_json(p, c->prev, NULL);
	} else if (cur->state == BACKEND_RUNNING || cur->state == BACKEND_CREATED) {
		json_t *r = json_object();
		json_object_set_new(r, "startedAt",
				    time_json(cur->started_ns ? cur->started_ns : cur->created_ns));
		state = json_pack("{s:o}", "running", r);
		if (c->prev)
			last = terminated_json(p, c->prev, NULL);
	} else if (will_restart(p, c) && c->waiting_reason) {
		state = waiting_json(c->waiting_reason, c->waiting_message);
		last = terminated_json(p, cur, c->termination_message);
	} else {
		state = terminated_json(p, cur, c->termination_message);
		if (c->prev)
			last = terminated_json(p, c->prev, NULL);
	}
	json_object_set_new(cs, "name", json_string(c->spec->name));
	json_object_set_new(cs, "state", state);
	json_object_set_new(cs, "lastState", last ? last : json_object());
	bool running = cur && cur->state == BACKEND_RUNNING;
	json_object_set_new(cs, "ready", json_boolean(running && c->ready && c->started));
	json_object_set_new(cs, "restartCount", json_integer(ctr_restart_count(c)));
	json_object_set_new(cs, "image",
			    json_string(c->image_name ? c->image_name : c->spec->image));
	const char *image_id = cur ? backend_label(cur->labels, LABEL_IMAGE_ID) : NULL;
	json_object_set_new(cs, "imageID", json_string(image_id ? image_id : ""));
	if (cur) {
		char id[300];
		snprintf(id, sizeof(id), "%s://%s", p->agent->backend->ops->name, cur->id);
		json_object_set_new(cs, "containerID", json_string(id));
	}
	json_object_set_new(cs, "started", json_boolean(running && c->started));
	json_t *mounts = cur ? mounts_json(c) : NULL;
	if (mounts)
		json_object_set_new(cs, "volumeMounts", mounts);
	return cs;
}

/* The kubelet's getPhase over the container states this agent knows. */
static const char *
phase_of(struct apod *p, bool pod_is_terminal)
{
	const struct podspec *s = p->spec;
	int pending_init = 0, failed_init = 0;
	for (size_t i = 0; i < s->n_init; i++) {
		const struct actr *c = &p->ctrs[i];
		if (c->spec->sidecar) {
			if (!ctr_running(c) || !c->started)
				pending_init++;
			continue;
		}
		if (!c->cur || ctr_running(c)) {
			pending_init++;
		} else if (c->cur->exit_code != 0) {
			pending_init++;
			failed_init++;
		}
	}
	int unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0;
	for (size_t i = s->n_init; i < p->n_ctrs; i++) {
		const struct actr *c = &p->ctrs[i];
		if (!c->cur || (c->cur->state == BACKEND_CREATED && c->op != OP_NONE)) {
			/* waiting: with a previous instance it counts as stopped */
			if (c->prev)
				stopped++;
			else
				waiting++;
		} else if (ctr_running(c)) {
			running++;
		} else {
			stopped++;
			if (c->cur->exit_code == 0)
				succeeded++;
		}
	}
	if (failed_init > 0 && s->restart == RESTART_NEVER)
		return "Failed";
	if (pending_init > 0 || waiting > 0)
		return "Pending";
	if (running > 0 && unknown == 0)
		return "Running";
	if (running == 0 && stopped > 0 && unknown == 0) {
		if (pod_is_terminal)
			return stopped == succeeded ? "Succeeded" : "Failed";
		if (s->restart == RESTART_ALWAYS)
			return "Running";
		if (stopped == succeeded)
			return "Succeeded";
		if (s->restart == RESTART_NEVER)
			return "Failed";
		return "Running";
	}
	return "Pending";
}

const char *
apod_phase(struct apod *p)
{
	switch (p->terminal) {
	case TERMINAL_EVICTED:
	case TERMINAL_DEADLINE:
	case TERMINAL_REJECTED: return "Failed";
	case TERMINAL_PHASE: {
		/* A phase read from the object (set before the agent restarted) stays. */
		const char *ph = json_string_value(
			json_object_get(json_object_get(p->obj, "status"), "phase"));
		if (streq(ph, "Succeeded") || streq(ph, "Failed"))
			return ph;
		return phase_of(p, true);
	}
	case TERMINAL_NONE: break;
	}
	return phase_of(p, false);
}

/* "[a b]": Go's %s of a []string. */
static void
names_list(struct strbuf *sb, const char *prefix, struct ptrvec *names)
{
	if (sb->len)
		strbuf_puts(sb, ", ");
	strbuf_printf(sb, "%s[", prefix);
	for (size_t i = 0; i < names->n; i++)
		strbuf_printf(sb, "%s%s", i ? " " : "", (const char *)names->items[i]);
	strbuf_putc(sb, ']');
}

/* A condition; transition time kept from the previous status while the status holds. */
static json_t *
condition(struct apod *p, const char *type, bool status, const char *reason, const char *message)
{
	const char *st = status ? "True" : "False";
	int64_t now = agent_wall(p->agent);
	json_t *prev_time = NULL;
	const json_t *was = json_object_get(p->cond_times, type);
	if (streq(json_string_value(json_array_get(was, 0)), st))
		prev_time = json_array_get(was, 1);
	json_t *c = json_object();
	json_object_set_new(c, "type", json_string(type));
	json_object_set_new(c, "status", json_string(st));
	json_object_set_new(c, "lastTransitionTime",
			    prev_time ? json_incref(prev_time) : time_json(now));
	if (reason)
		json_object_set_new(c, "reason", json_string(reason));
	if (message)
		json_object_set_new(c, "message", json_string(message));
	return c;
}

static bool
is_kubelet_condition(const char *type)
{
	return streq(type, "PodScheduled") || streq(type, "Ready") || streq(type, "Initialized") ||
	       streq(type, "ContainersReady") || streq(type, "PodReadyToStartContainers") ||
	       streq(type, "DisruptionTarget");
}

static void
add_conditions(struct apod *p, json_t *conds, const char *phase)
{
	/* Conditions others own (readiness gates, the scheduler's extras) come first. */
	size_t i;
	json_t *old;
	json_array_foreach (json_object_get(json_object_get(p->obj, "status"), "conditions"), i,
			    old) {
		const char *type = json_string_value(json_object_get(old, "type"));
		if (!is_kubelet_condition(type) ||
		    (streq(type, "DisruptionTarget") && p->terminal != TERMINAL_EVICTED))
			json_array_append(conds, old);
	}
	if (p->terminal == TERMINAL_EVICTED)
		json_array_append_new(conds,
				      condition(p, "DisruptionTarget", true, "TerminationByKubelet",
						p->terminal_message));
	bool terminal = streq(phase, "Succeeded") || streq(phase, "Failed");
	json_array_append_new(conds, condition(p, "PodReadyToStartContainers",
					       p->sandbox_ready && !terminal, NULL, NULL));
	/* Initialized */
	struct ptrvec incomplete = PTRVEC_INIT;
	for (size_t k = 0; k < p->spec->n_init; k++) {
		const struct actr *c = &p->ctrs[k];
		bool done = c->spec->sidecar
				    ? (ctr_running(c) && c->started)
				    : (c->cur && !ctr_running(c) && c->cur->exit_code == 0);
		if (!done)
			ptrvec_push(&incomplete, (void *)c->spec->name);
	}
	if (streq(phase, "Succeeded"))
		json_array_append_new(conds,
				      condition(p, "Initialized", true, "PodCompleted", NULL));
	else if (incomplete.n) {
		struct strbuf sb = STRBUF_INIT;
		names_list(&sb, "containers with incomplete status: ", &incomplete);
		json_array_append_new(conds,
				      condition(p, "Initialized", false, "ContainersNotInitialized",
						strbuf_str(&sb)));
		strbuf_free(&sb);
	} else {
		json_array_append_new(conds, condition(p, "Initialized", true, NULL, NULL));
	}
	ptrvec_free(&incomplete, NULL);
	/* ContainersReady, and Ready from it */
	const char *reason = NULL;
	struct strbuf msg = STRBUF_INIT;
	if (streq(phase, "Succeeded")) {
		reason = "PodCompleted";
	} else if (streq(phase, "Failed")) {
		reason = "PodFailed";
	} else {
		struct ptrvec unready = PTRVEC_INIT;
		for (size_t k = 0; k < p->n_ctrs; k++) {
			const struct actr *c = &p->ctrs[k];
			if (c->spec->init && !c->spec->sidecar)
				continue;
			bool ready = c->cur && c->cur->state == BACKEND_RUNNING && c->ready &&
				     c->started;
			if (!ready)
				ptrvec_push(&unready, (void *)c->spec->name);
		}
		if (unready.n) {
			reason = "ContainersNotReady";
			names_list(&msg, "containers with unready status: ", &unready);
		}
		ptrvec_free(&unready, NULL);
	}
	bool ready = reason == NULL;
	const char *m = msg.len ? strbuf_str(&msg) : NULL;
	json_array_append_new(conds, condition(p, "Ready", ready, reason, m));
	json_array_append_new(conds, condition(p, "ContainersReady", ready, reason, m));
	strbuf_free(&msg);
	/* PodScheduled: the scheduler's, kept; True when the pod came without it. */
	const json_t *sched = NULL;
	json_array_foreach (json_object_get(json_object_get(p->obj, "status"), "conditions"), i,
			    old)
		if (streq(json_string_value(json_object_get(old, "type")), "PodScheduled"))
			sched = old;
	if (sched && streq(json_string_value(json_object_get(sched, "status")), "True"))
		json_array_append(conds, (json_t *)sched);
	else
		json_array_append_new(conds, condition(p, "PodScheduled", true, NULL, NULL));
}

int
pod_status_build(struct apod *p, json_t **ret)
{
	struct node_agent *a = p->agent;
	const json_t *cur = json_object_get(p->obj, "status");
	const char *phase = apod_phase(p);
	_cleanup_json_ json_t *st = json_object();
	json_t *conds = json_array();
	if (!st || !conds) {
		json_decref(conds);
		return KORCH_ENOMEM;
	}
	json_object_set_new(st, "phase", json_string(phase));
	add_conditions(p, conds, phase);
	json_object_set_new(st, "conditions", conds);
	if (p->terminal_message && p->terminal != TERMINAL_PHASE)
		json_object_set_new(st, "message", json_string(p->terminal_message));
	else if (p->terminal == TERMINAL_PHASE && json_object_get(cur, "message"))
		json_object_set(st, "message", json_object_get(cur, "message"));
	if (p->terminal_reason && p->terminal != TERMINAL_PHASE)
		json_object_set_new(st, "reason", json_string(p->terminal_reason));
	else if (p->terminal == TERMINAL_PHASE && json_object_get(cur, "reason"))
		json_object_set(st, "reason", json_object_get(cur, "reason"));
	if (json_object_get(cur, "nominatedNodeName"))
		json_object_set(st, "nominatedNodeName", json_object_get(cur, "nominatedNodeName"));
	if (a->node_ip) {
		json_object_set_new(st, "hostIP", json_string(a->node_ip));
		json_object_set_new(st, "hostIPs", json_pack("[{s:s}]", "ip", a->node_ip));
	}
	const char *pod_ip = p->spec->host_network ? a->node_ip : p->pod_ip;
	if (pod_ip) {
		json_object_set_new(st, "podIP", json_string(pod_ip));
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", pod_ip));
	}
	if (p->start_wall_ns)
		json_object_set_new(st, "startTime", time_json(p->start_wall_ns));
	if (p->spec->n_init) {
		json_t *inits = json_array();
		for (size_t i = 0; i < p->spec->n_init; i++)
			json_array_append_new(inits, ctr_status(p, &p->ctrs[i]));
		json_object_set_new(st, "initContainerStatuses", inits);
	}
	json_t *apps = json_array();
	for (size_t i = p->spec->n_init; i < p->n_ctrs; i++)
		json_array_append_new(apps, ctr_status(p, &p->ctrs[i]));
	json_object_set_new(st, "containerStatuses", apps);
	json_object_set_new(st, "qosClass", json_string(p->spec->qos));
	*ret = steal_pointer(&st);
	return 0;
}

/* FNV-1a over the status as written: what "changed" compares, without keeping a copy. */
static uint64_t
status_hash(const json_t *st)
{
	char *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
	uint64_t h = 1469598103934665603ULL;
	for (const char *c = text; c && *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	free(text);
	return h;
}

void
pod_status_remember(struct apod *p, const json_t *status)
{
	json_t *times = json_object();
	if (!times)
		return;
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(status, "conditions"), i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		if (type)
			json_object_set_new(times, type,
					    json_pack("[O?, O?]", json_object_get(c, "status"),
						      json_object_get(c, "lastTransitionTime")));
	}
	json_decref(p->cond_times);
	p->cond_times = times;
	p->written_hash = status_hash(status);
}

/* A resourceVersion is a decimal revision: which of two is newer. */
static bool
newer(const char *a, const char *b)
{
	int64_t x, y;
	return a && (!b || (parse_int64(a, &x) == 0 && parse_int64(b, &y) == 0 && x > y));
}

int
pod_status_write(struct apod *p, korch_error **err)
{
	_cleanup_json_ json_t *st = NULL;
	int r = pod_status_build(p, &st);
	if (r < 0)
		return error_oom(err);
	uint64_t h = status_hash(st);
	if (p->cond_times && h == p->written_hash)
		return 0;
	const json_t *cur = json_object_get(p->obj, "status");
	if (cur && json_equal(st, (json_t *)cur)) {
		pod_status_remember(p, st);
		return 0;
	}
	_cleanup_json_ json_t *obj = json_copy(p->obj);
	_cleanup_json_ json_t *meta = obj ? json_copy(json_object_get(obj, "metadata")) : NULL;
	if (!obj || !meta)
		return error_oom(err);
	/* Until the watch brings our last write back, its version is the one to build on. */
	if (newer(p->written_rv, json_string_value(json_object_get(meta, "resourceVersion"))))
		json_object_set_new(meta, "resourceVersion", json_string(p->written_rv));
	json_object_set(obj, "metadata", meta);
	json_object_set(obj, "status", st);
	struct client_write_opts o = { .field_manager = FIELD_MANAGER };
	json_t *stored = NULL;
	r = client_update(p->agent->client, obj, "status", &o, &stored, err);
	if (r < 0)
		return r;
	const char *rv = json_string_value(
		json_object_get(json_object_get(stored, "metadata"), "resourceVersion"));
	free(p->written_rv);
	p->written_rv = rv ? strdup(rv) : NULL;
	json_decref(stored);
	pod_status_remember(p, st);
	return 1;
}
