/*
 * harness.c - the controller tests' cluster (see harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/util.h"
#include <korch/log.h>
#include "harness.h"

json_t *
yaml_obj(const char *text)
{
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	if (codec_yaml_decode(text, strlen(text), &docs, &err) < 0)
		fail_msg("yaml: %s", korch_error_message(err));
	json_t *obj = json_incref(docs.docs[0]);
	codec_docs_free(&docs);
	return obj;
}

void
create_yaml(struct cluster *c, const char *text, json_t **ret)
{
	_cleanup_json_ json_t *obj = yaml_obj(text);
	korch_error *err = NULL;
	struct client_write_opts o = { .field_manager = "test" };
	if (client_create(c->client, obj, &o, ret, &err) < 0)
		fail_msg("create: %s\n%s", korch_error_message(err), text);
}

void
cluster_init(struct cluster *c, const struct controller_manager_options *opts, bool no_manager)
{
	memset(c, 0, sizeof(*c));
	/* KORCH_TEST_LOG=debug|info|warn shows the library's log on stderr. */
	korch_log_level level;
	const char *want = getenv("KORCH_TEST_LOG");
	if (want && korch_log_level_parse(want, &level) == 0)
		korch_log_set_handler(korch_log_stderr, level, NULL);
	snprintf(c->dir, sizeof(c->dir), "/tmp/korch-test-ctrl-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/state.db", c->dir);
	assert_int_equal(korch_clock_new_test(T0, &c->clock, NULL), 0);
	assert_int_equal(korch_loop_new(c->clock, &c->loop, NULL), 0);
	struct store_options so = { .loop = c->loop,
				    .sync_normal = true,
				    .poll_interval_ms = -1,
				    .compact_keep_revisions = -1 };
	assert_int_equal(store_open(c->path, &so, &c->store, NULL), 0);
	assert_int_equal(client_new_local(c->store, c->clock, &c->client, NULL), 0);
	static const char *const names[] = { "default", "kube-system", "kube-public",
					     "kube-node-lease" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char text[128];
		snprintf(text, sizeof(text),
			 "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", names[i]);
		create_yaml(c, text, NULL);
	}
	if (!no_manager) {
		korch_error *err = NULL;
		if (controller_manager_new(c->client, c->loop, opts, &c->cm, &err) < 0)
			fail_msg("manager: %s", korch_error_message(err));
	}
}

void
cluster_free(struct cluster *c)
{
	informer_free(c->pods);
	hashmap_free(&c->dirty, NULL);
	controller_manager_free(c->cm);
	client_free(c->client);
	store_close(c->store);
	korch_loop_free(c->loop);
	korch_clock_free(c->clock);
	rm_rf(c->dir, NULL);
}

void
cluster_start(struct cluster *c)
{
	korch_error *err = NULL;
	if (controller_manager_start(c->cm, &err) < 0)
		fail_msg("start: %s", korch_error_message(err));
	settle(c);
	assert_true(controller_manager_is_leader(c->cm));
	assert_true(controller_manager_idle(c->cm));
}

void
add_node(struct cluster *c, const char *name)
{
	char text[512];
	snprintf(
		text, sizeof(text),
		"apiVersion: v1\nkind: Node\nmetadata: {name: %s, labels: {kubernetes.io/hostname: %s}}\n"
		"status:\n  conditions: [{type: Ready, status: 'True', reason: KubeletReady}]\n"
		"  allocatable: {cpu: '4', memory: 8Gi, pods: '110'}\n"
		"  capacity: {cpu: '4', memory: 8Gi, pods: '110'}\n",
		name, name);
	create_yaml(c, text, NULL);
	char now[32];
	micro_time_text(korch_clock_wall_ns(c->clock), now);
	snprintf(text, sizeof(text),
		 "apiVersion: coordination.k8s.io/v1\nkind: Lease\n"
		 "metadata: {name: %s, namespace: kube-node-lease}\n"
		 "spec: {holderIdentity: %s, leaseDurationSeconds: 40, renewTime: '%s'}\n",
		 name, name, now);
	create_yaml(c, text, NULL);
	assert_true(c->n_nodes < ARRAY_SIZE(c->nodes));
	c->node_silent[c->n_nodes] = false;
	c->last_renew_ns = korch_clock_now_ns(c->clock);
	snprintf(c->nodes[c->n_nodes++], sizeof(c->nodes[0]), "%s", name);
}

void
silence_node(struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (streq(c->nodes[i], name))
			c->node_silent[i] = true;
}

/* Renews the Leases of the nodes whose stand-in kubelet still speaks. */
static void
renew_leases(struct cluster *c)
{
	char now[32];
	micro_time_text(korch_clock_wall_ns(c->clock), now);
	for (size_t i = 0; i < c->n_nodes; i++) {
		if (c->node_silent[i])
			continue;
		_cleanup_json_ json_t *lease = get_obj(c, "coordination.k8s.io/v1", "Lease",
						       "kube-node-lease", c->nodes[i]);
		if (!lease)
			continue;
		json_object_set_new(json_object_get(lease, "spec"), "renewTime", json_string(now));
		korch_error *err = NULL;
		if (client_update(c->client, lease, NULL, NULL, NULL, &err) < 0)
			fail_msg("lease: %s", korch_error_message(err));
	}
}

json_t *
get_obj(struct cluster *c, const char *api_version, const char *kind, const char *ns,
	const char *name)
{
	json_t *obj = NULL;
	if (client_get(c->client, kind_lookup(api_version, kind), ns, name, &obj, NULL) < 0)
		return NULL;
	return obj;
}

json_t *
list_objs(struct cluster *c, const char *api_version, const char *kind, const char *ns,
	  const char *selector)
{
	json_t *list = NULL;
	struct client_list_opts lo = { .label_selector = selector };
	korch_error *err = NULL;
	if (client_list(c->client, kind_lookup(api_version, kind), ns, &lo, &list, &err) < 0)
		fail_msg("list %s: %s", kind, korch_error_message(err));
	json_t *items = json_incref(json_object_get(list, "items"));
	json_decref(list);
	return items;
}

size_t
count_objs(struct cluster *c, const char *api_version, const char *kind, const char *ns,
	   const char *selector)
{
	_cleanup_json_ json_t *items = list_objs(c, api_version, kind, ns, selector);
	return json_array_size(items);
}

/* ---- stand-ins for the scheduler and the node agent (until they are on main) ---- */

/* The node a DaemonSet-style required node affinity names (matchFields metadata.name), or NULL. */
static const char *
affinity_node(const json_t *pod)
{
	const json_t *terms = jp_get(pod, "spec.affinity.nodeAffinity."
					  "requiredDuringSchedulingIgnoredDuringExecution."
					  "nodeSelectorTerms");
	size_t i, j;
	json_t *t, *f;
	json_array_foreach (terms, i, t)
		json_array_foreach (json_object_get(t, "matchFields"), j, f)
			if (streq(jp_str(f, "key"), "metadata.name") &&
			    streq(jp_str(f, "operator"), "In"))
				return json_string_value(
					json_array_get(json_object_get(f, "values"), 0));
	return NULL;
}

static void
set_condition(json_t *pod, const char *type, const char *status, const char *now)
{
	json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(json_object_get(pod, "status"), "conditions", conds);
	}
	size_t i;
	json_t *cond;
	json_array_foreach (conds, i, cond)
		if (streq(jp_str(cond, "type"), type)) {
			if (!streq(jp_str(cond, "status"), status)) {
				json_object_set_new(cond, "status", json_string(status));
				json_object_set_new(cond, "lastTransitionTime", json_string(now));
			}
			return;
		}
	json_array_append_new(conds, json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status",
					       status, "lastProbeTime", "lastTransitionTime", now));
}

/* Runs a bound pending pod: Running, and Ready once kubelet_ready_delay_ns passed. */
static bool
kubelet_pod(struct cluster *c, json_t *pod)
{
	const char *phase = jp_str0(pod, "status.phase");
	const json_t *ann = jp_get(pod, "metadata.annotations");
	if (json_object_get(ann, "korch-test/hold"))
		return false;
	int64_t wall = korch_clock_wall_ns(c->clock);
	char now[32];
	time_text(wall, now);
	json_t *status = json_object_get(pod, "status");
	bool changed = false;
	if (streq(phase, "Pending") || !*phase) {
		json_object_set_new(status, "phase", json_string("Running"));
		json_object_set_new(status, "startTime", json_string(now));
		json_object_set_new(status, "hostIP", json_string("10.0.0.1"));
		char ip[32];
		static int next_ip;
		snprintf(ip, sizeof(ip), "10.244.%d.%d", (next_ip / 250) % 250, next_ip % 250 + 2);
		next_ip++;
		json_object_set_new(status, "podIP", json_string(ip));
		json_object_set_new(status, "podIPs", json_pack("[{s:s}]", "ip", ip));
		set_condition(pod, "Initialized", "True", now);
		set_condition(pod, "PodScheduled", "True", now);
		set_condition(pod, "ContainersReady", "False", now);
		set_condition(pod, "Ready", "False", now);
		changed = true;
	}
	if (streq(jp_str(pod, "status.phase"), "Running")) {
		const json_t *ready = condition_get(pod, "Ready");
		int64_t started = jp_time(pod, "status.startTime", wall);
		if (!streq(jp_str(ready, "status"), "True") &&
		    wall - started >= c->kubelet_ready_delay_ns &&
		    !json_object_get(ann, "korch-test/not-ready")) {
			set_condition(pod, "ContainersReady", "True", now);
			set_condition(pod, "Ready", "True", now);
			changed = true;
		}
	}
	if (!changed)
		return false;
	korch_error *err = NULL;
	int r = client_update(c->client, pod, "status", NULL, NULL, &err);
	if (r < 0 && r != KORCH_ECONFLICT && r != KORCH_ENOTFOUND)
		fail_msg("kubelet status: %s", korch_error_message(err));
	korch_error_free(err);
	return r == 0;
}

static void
mark_dirty(const json_t *pod, void *userdata)
{
	struct cluster *c = userdata;
	_cleanup_free_ char *key = object_key(pod);
	if (key)
		hashmap_put(&c->dirty, key, NULL, NULL);
}

static void
mark_dirty_update(const json_t *old, const json_t *pod, void *userdata)
{
	mark_dirty(pod, userdata);
}

static void
start_stand_ins(struct cluster *c)
{
	if (c->stand_ins_started || (!c->binder && !c->kubelet))
		return;
	assert_int_equal(
		informer_new(c->client, kind_lookup("v1", "Pod"), NULL, NULL, NULL, &c->pods, NULL),
		0);
	struct informer_handlers h = { mark_dirty, mark_dirty_update, NULL, c };
	assert_int_equal(informer_add_handlers(c->pods, &h, NULL), 0);
	assert_int_equal(informer_start(c->pods, NULL), 0);
	c->stand_ins_started = true;
}

static bool
node_is_silent(const struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (streq(c->nodes[i], name))
			return c->node_silent[i];
	return false;
}

/* What the stand-ins do about one pod; returns whether they wrote. */
static bool
stand_in_pod(struct cluster *c, json_t *pod)
{
	const char *ns = jp_str0(pod, "metadata.namespace");
	const char *name = jp_str0(pod, "metadata.name");
	bool deleting = jp_get(pod, "metadata.deletionTimestamp") != NULL;
	if (node_is_silent(c, jp_str0(pod, "spec.nodeName")))
		return false; /* its kubelet is gone */
	if (c->kubelet && deleting && *jp_str0(pod, "spec.nodeName")) {
		struct client_delete_opts now = { .grace_period_s = 0 };
		korch_error *err = NULL;
		int r = client_delete(c->client, kind_lookup("v1", "Pod"), ns, name, &now, NULL,
				      &err);
		korch_error_free(err);
		return r == 0;
	}
	if (deleting)
		return false;
	if (c->binder && !*jp_str0(pod, "spec.nodeName") && c->n_nodes) {
		const char *node = affinity_node(pod);
		for (size_t i = 0; !node && i < c->n_nodes; i++) {
			size_t n = c->next_node++ % c->n_nodes;
			if (!c->node_silent[n])
				node = c->nodes[n];
		}
		if (!node)
			return false;
		korch_error *err = NULL;
		int r = client_bind_pod(c->client, ns, name, jp_str(pod, "metadata.uid"), node,
					&err);
		korch_error_free(err);
		return r == 0;
	}
	const char *phase = jp_str0(pod, "status.phase");
	if (c->kubelet && *jp_str0(pod, "spec.nodeName") && !streq(phase, "Succeeded") &&
	    !streq(phase, "Failed"))
		return kubelet_pod(c, pod);
	return false;
}

/* One pass of the stand-ins over the pods that changed; returns whether they wrote. */
static bool
stand_in_step(struct cluster *c)
{
	start_stand_ins(c);
	if (!c->stand_ins_started || !c->dirty.n)
		return false;
	struct hashmap keys = c->dirty;
	c->dirty = (struct hashmap)HASHMAP_INIT;
	bool wrote = false;
	size_t iter = 0;
	const char *key;
	while (hashmap_next(&keys, &iter, &key, NULL)) {
		char *ns = NULL, *name = NULL;
		if (informer_split_key(key, &ns, &name) < 0)
			continue;
		const json_t *cached = informer_get(c->pods, ns, name);
		json_t *pod = cached ? json_deep_copy(cached) : NULL;
		if (pod)
			wrote |= stand_in_pod(c, pod);
		json_decref(pod);
		free(ns);
		free(name);
	}
	hashmap_free(&keys, NULL);
	return wrote;
}

/* Pods waiting for the kubelet's ready delay are looked at again when time moves. */
static void
mark_running_dirty(const json_t *pod, void *userdata)
{
	if (streq(jp_str(pod, "status.phase"), "Running") && !pod_ready(pod))
		mark_dirty(pod, userdata);
}

static void
pump(struct cluster *c)
{
	for (int rounds = 0; rounds < 1000000; rounds++) {
		korch_error *err = NULL;
		int n = korch_loop_dispatch(c->loop, 0, &err);
		if (n < 0)
			fail_msg("dispatch: %s", korch_error_message(err));
		bool wrote = stand_in_step(c);
		if (c->on_step)
			c->on_step(c, c->on_step_userdata);
		if (n == 0 && !wrote)
			return;
	}
	fail_msg("the loop never settled");
}

void
settle(struct cluster *c)
{
	pump(c);
}

/* Node Leases are renewed this often (kubelet's renew interval). */
#define LEASE_RENEW (10 * NSEC_PER_SEC)

void
advance(struct cluster *c, int64_t ns)
{
	while (ns > 0) {
		int64_t step = ns;
		if (c->n_nodes) {
			/* Leases are renewed every interval, before time passes it. */
			int64_t now = korch_clock_now_ns(c->clock);
			if (now - c->last_renew_ns >= LEASE_RENEW) {
				renew_leases(c);
				c->last_renew_ns = now;
			}
			step = MIN(ns, c->last_renew_ns + LEASE_RENEW - now);
		}
		korch_error *err = NULL;
		if (korch_loop_advance(c->loop, step, &err) < 0)
			fail_msg("advance: %s", korch_error_message(err));
		if (c->stand_ins_started && c->kubelet_ready_delay_ns)
			informer_foreach(c->pods, mark_running_dirty, c);
		pump(c);
		ns -= step;
	}
}

bool
run_until(struct cluster *c, cluster_cond cond, void *userdata, int64_t step_ns, int64_t max_ns)
{
	int64_t start = korch_clock_now_ns(c->clock);
	for (;;) {
		pump(c);
		if (!cond || cond(c, userdata))
			return true;
		if (korch_clock_now_ns(c->clock) - start >= max_ns)
			return false;
		advance(c, step_ns);
	}
}

/* ---- events and pod status ---- */

static json_t *
events_about(struct cluster *c, const char *ns, const char *name, const char *reason)
{
	_cleanup_json_ json_t *all = list_objs(c, "v1", "Event", ns, NULL);
	json_t *out = json_array();
	size_t i;
	json_t *ev;
	json_array_foreach (all, i, ev)
		if (streq(jp_str(ev, "involvedObject.name"), name) &&
		    streq(jp_str(ev, "reason"), reason))
			json_array_append(out, ev);
	return out;
}

size_t
count_events(struct cluster *c, const char *ns, const char *name, const char *reason)
{
	_cleanup_json_ json_t *evs = events_about(c, ns, name, reason);
	size_t n = 0, i;
	json_t *ev;
	json_array_foreach (evs, i, ev)
		n += (size_t)jp_int(ev, "count", 1);
	return n;
}

char *
event_message(struct cluster *c, const char *ns, const char *name, const char *reason)
{
	_cleanup_json_ json_t *evs = events_about(c, ns, name, reason);
	const char *m = jp_str(json_array_get(evs, 0), "message");
	return m ? strdup(m) : NULL;
}

void
set_pod_ready(struct cluster *c, const char *ns, const char *name, bool ready)
{
	_cleanup_json_ json_t *pod = get_obj(c, "v1", "Pod", ns, name);
	assert_non_null(pod);
	char now[32];
	time_text(korch_clock_wall_ns(c->clock), now);
	if (!json_is_object(json_object_get(pod, "status")))
		json_object_set_new(pod, "status", json_object());
	set_condition(pod, "Ready", ready ? "True" : "False", now);
	set_condition(pod, "ContainersReady", ready ? "True" : "False", now);
	korch_error *err = NULL;
	if (client_update(c->client, pod, "status", NULL, NULL, &err) < 0)
		fail_msg("set ready: %s", korch_error_message(err));
}

void
set_pod_phase(struct cluster *c, const char *ns, const char *name, const char *phase, int exit_code)
{
	_cleanup_json_ json_t *pod = get_obj(c, "v1", "Pod", ns, name);
	assert_non_null(pod);
	json_t *status = json_object_get(pod, "status");
	json_object_set_new(status, "phase", json_string(phase));
	char now[32];
	time_text(korch_clock_wall_ns(c->clock), now);
	if (streq(phase, "Succeeded") || streq(phase, "Failed")) {
		set_condition(pod, "Ready", "False", now);
		json_t *term = json_pack("{s:i, s:s, s:s, s:s}", "exitCode", exit_code, "reason",
					 exit_code ? "Error" : "Completed", "startedAt", now,
					 "finishedAt", now);
		json_t *cs = json_pack(
			"{s:s, s:b, s:i, s:s, s:s, s:{s:o}}", "name",
			jp_str0(json_array_get(jp_get(pod, "spec.containers"), 0), "name"), "ready",
			0, "restartCount", 0, "image", "busybox", "imageID", "", "state",
			"terminated", term);
		json_object_set_new(status, "containerStatuses", json_pack("[o]", cs));
	}
	korch_error *err = NULL;
	if (client_update(c->client, pod, "status", NULL, NULL, &err) < 0)
		fail_msg("set phase: %s", korch_error_message(err));
}
