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
#include "net/addr.h"
#include <korch/log.h>
#include "harness.h"
#include "test-util.h"

void
create_yaml(struct cluster *c, const char *text, json_t **ret)
{
	_cleanup_json_ json_t *obj = test_yaml(text);
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
		struct controller_manager_options o =
			opts ? *opts : (struct controller_manager_options){ 0 };
		char volumes[128];
		if (o.volume_dir && streq(o.volume_dir, CLUSTER_VOLUMES)) {
			snprintf(volumes, sizeof(volumes), "%s/volumes", c->dir);
			o.volume_dir = volumes;
		}
		if (controller_manager_new(c->client, c->loop, &o, &c->cm, &err) < 0)
			fail_msg("manager: %s", korch_error_message(err));
	}
}

void
cluster_free(struct cluster *c)
{
	scheduler_free(c->sched);
	controller_manager_free(c->cm);
	for (size_t i = 0; i < c->n_nodes; i++) {
		node_agent_free(c->nodes[i].agent);
		node_backend_free(c->nodes[i].backend);
		ipam_free(c->nodes[i].ipam);
	}
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

/*
 * The pod network of the simulated nodes: an address for each pod from lib/net's ipam over the
 * node's spec.podCIDR (given by the node IPAM controller), or over 10.(100+N).0.0/16 when the
 * node has none yet (the manager not started, or running without that controller). No
 * interface is made: the sandbox's namespace is simulated.
 */
static int
net_setup(void *data, const char *pod_uid, const char *ns, const char *name, const json_t *pod_spec,
	  const char *netns_path, char **ret_ip, korch_error **err)
{
	struct cluster_node *n = data;
	if (!n->ipam) {
		_cleanup_json_ json_t *node = get_obj(n->c, "v1", "Node", NULL, n->name);
		char fallback[32];
		snprintf(fallback, sizeof(fallback), "10.%d.0.0/16", 100 + (int)(n - n->c->nodes));
		const char *text = jp_str(node, "spec.podCIDR") ?: fallback;
		struct net_cidr cidr;
		int r = cidr_parse(text, &cidr, err);
		if (r < 0 || (r = ipam_new(&cidr, &n->ipam, err)) < 0)
			return r;
	}
	uint32_t ip;
	int r = ipam_allocate(n->ipam, pod_uid, &ip, err);
	if (r < 0)
		return r;
	char buf[NET_IP4_STRLEN];
	if (!(*ret_ip = strdup(ip4_format(ip, buf))))
		return error_oom(err);
	return 0;
}

static int
net_teardown(void *data, const char *pod_uid, const char *netns_path, korch_error **err)
{
	struct cluster_node *n = data;
	if (n->ipam)
		ipam_release(n->ipam, pod_uid);
	return 0;
}

static const struct node_network_ops sim_network = { net_setup, net_teardown };

void
add_node(struct cluster *c, const char *name)
{
	assert_true(c->n_nodes < ARRAY_SIZE(c->nodes));
	struct cluster_node *n = &c->nodes[c->n_nodes];
	*n = (struct cluster_node){ .c = c };
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->ip, sizeof(n->ip), "10.0.0.%zu", c->n_nodes + 1);
	korch_error *err = NULL;
	if (sim_backend_new(c->loop, &n->backend, &n->sim, &err) < 0 ||
	    sim_set_behavior(n->sim, "*/*/notready",
			     &(struct sim_behavior){ .readiness = SIM_PROBE_FAIL }, &err) < 0)
		fail_msg("sim: %s", korch_error_message(err));
	c->n_nodes++;
	char root[128], logs[128];
	snprintf(root, sizeof(root), "%s/nodes/%s/root", c->dir, name);
	snprintf(logs, sizeof(logs), "%s/nodes/%s/logs", c->dir, name);
	struct node_agent_options o = {
		.node_name = n->name,
		.client = c->client,
		.backend = n->backend,
		.root_dir = root,
		.log_dir = logs,
		.node_ip = n->ip,
		.eviction_memory_available_bytes = -1,
		.stats_interval_ns = c->stats_interval_ns,
		.max_pods = c->node_max_pods,
		.network = &sim_network,
		.network_data = n,
	};
	if (node_agent_new(&o, &n->agent, &err) < 0 || node_agent_start(n->agent, &err) < 0)
		fail_msg("agent %s: %s", name, korch_error_message(err));
}

struct cluster_node *
cluster_node(struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (streq(c->nodes[i].name, name))
			return &c->nodes[i];
	fail_msg("no node %s", name);
	return NULL;
}

void
silence_node(struct cluster *c, const char *name)
{
	struct cluster_node *n = cluster_node(c, name);
	node_agent_free(n->agent);
	n->agent = NULL;
}

void
delete_node(struct cluster *c, const char *name)
{
	silence_node(c, name);
	korch_error *err = NULL;
	if (client_delete(c->client, kind_lookup("v1", "Node"), NULL, name, NULL, NULL, &err) < 0)
		fail_msg("delete node %s: %s", name, korch_error_message(err));
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

/* ---- the scheduler ---- */

/*
 * Starts lib/scheduler on the cluster's loop and client at the first pump after the test asked
 * for it (c->schedule is set after cluster_init). A fixed seed keeps random tie-breaks the same
 * from run to run; under the test clock its bindings commit inline.
 */
static void
start_scheduler(struct cluster *c)
{
	if (c->sched || !c->schedule)
		return;
	korch_error *err = NULL;
	struct scheduler_options o = { .seed = 1 };
	if (scheduler_new(c->client, c->loop, &o, &c->sched, &err) < 0 ||
	    scheduler_start(c->sched, &err) < 0)
		fail_msg("scheduler: %s", korch_error_message(err));
}

static void
pump(struct cluster *c)
{
	for (int rounds = 0; rounds < 1000000; rounds++) {
		korch_error *err = NULL;
		start_scheduler(c);
		int n = korch_loop_dispatch(c->loop, 0, &err);
		if (n < 0)
			fail_msg("dispatch: %s", korch_error_message(err));
		if (c->on_step)
			c->on_step(c, c->on_step_userdata);
		if (n == 0 && (!c->sched || scheduler_idle(c->sched)))
			return;
	}
	fail_msg("the loop never settled");
}

void
settle(struct cluster *c)
{
	pump(c);
}

/*
 * Moves the test clock as korch_loop_advance() does, from one timer's deadline to the next, but
 * pumps (scheduler start, on_step) between every two dispatches.
 */
void
advance(struct cluster *c, int64_t ns)
{
	int64_t target = korch_clock_now_ns(c->clock) + ns;
	for (;;) {
		pump(c);
		int64_t next = loop_next_deadline(c->loop);
		if (next < 0 || next > target)
			break;
		int64_t now = korch_clock_now_ns(c->clock);
		if (next > now)
			assert_int_equal(korch_clock_advance(c->clock, next - now), 0);
	}
	int64_t now = korch_clock_now_ns(c->clock);
	if (target > now)
		assert_int_equal(korch_clock_advance(c->clock, target - now), 0);
	pump(c);
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

/* What to do to a pod's simulated container. */
enum ctr_action { CTR_READY, CTR_NOT_READY, CTR_EXIT, CTR_USAGE };

/*
 * Does action to every container of a pod, on the simulated runtime of the node it is bound to
 * (a, b: the exit code, or the CPU and memory usage); fails the test when one has no container.
 */
static void
each_container(struct cluster *c, const char *ns, const char *name, enum ctr_action action,
	       int64_t a, int64_t b)
{
	_cleanup_json_ json_t *pod = get_obj(c, "v1", "Pod", ns, name);
	if (!pod)
		fail_msg("no pod %s/%s", ns, name);
	struct sim_backend *sim = cluster_node(c, jp_str0(pod, "spec.nodeName"))->sim;
	size_t i;
	json_t *ctr;
	json_array_foreach (jp_get(pod, "spec.containers"), i, ctr) {
		const char *id = sim_container_find(sim, ns, name, jp_str0(ctr, "name"));
		korch_error *err = NULL;
		int r = KORCH_ENOTFOUND;
		if (id && (action == CTR_READY || action == CTR_NOT_READY))
			r = sim_container_set_probe(
				sim, id, "readiness",
				action == CTR_READY ? SIM_PROBE_PASS : SIM_PROBE_FAIL, &err);
		else if (id && action == CTR_EXIT)
			r = sim_container_exit(sim, id, (int)a, &err);
		else if (id)
			r = sim_container_set_usage(sim, id, a, b, &err);
		if (r < 0)
			fail_msg("container %s of %s/%s: %s", jp_str0(ctr, "name"), ns, name,
				 id ? korch_error_message(err) : "none runs");
	}
}

void
set_pod_ready(struct cluster *c, const char *ns, const char *name, bool ready)
{
	each_container(c, ns, name, ready ? CTR_READY : CTR_NOT_READY, 0, 0);
}

void
pod_exit(struct cluster *c, const char *ns, const char *name, int exit_code)
{
	each_container(c, ns, name, CTR_EXIT, exit_code, 0);
}

void
set_pod_usage(struct cluster *c, const char *ns, const char *name, int64_t cpu_milli,
	      int64_t memory_bytes)
{
	each_container(c, ns, name, CTR_USAGE, cpu_milli, memory_bytes);
}

int
cluster_pod_usage(void *userdata, const char *ns, const char *name, struct pod_usage *ret,
		  korch_error **err)
{
	struct cluster *c = userdata;
	_cleanup_json_ json_t *pod = get_obj(c, "v1", "Pod", ns, name);
	const char *node = jp_str(pod, "spec.nodeName");
	struct cluster_node *n = NULL;
	for (size_t i = 0; node && i < c->n_nodes; i++)
		if (streq(c->nodes[i].name, node))
			n = &c->nodes[i];
	if (!n || !n->agent)
		return error_set(err, KORCH_ENOTFOUND, "no node runs pod %s/%s", ns, name);
	_cleanup_json_ json_t *s = NULL;
	int r = node_agent_pod_samples(n->agent, ns, name, &s, err);
	if (r < 0)
		return r;
	const json_t *samples = json_object_get(s, "samples");
	const json_t *last = json_array_get(samples, json_array_size(samples) - 1);
	int64_t at = 0;
	if (!json_is_integer(json_object_get(last, "cpu")) ||
	    parse_rfc3339(jp_str0(last, "timestamp"), &at) < 0)
		return error_set(err, KORCH_ENOTFOUND, "no usage sample of pod %s/%s yet", ns,
				 name);
	ret->cpu_milli = jp_int(last, "cpu", 0) / 1000000;
	ret->memory_bytes = jp_int(last, "memory", 0);
	ret->timestamp_ns = at;
	ret->window_ns = jp_int(s, "window", 0) * NSEC_PER_SEC;
	return 0;
}
