/*
 * A property of the scheduler under churn, from a seeded generator: 1,000 pods of random sizes
 * (some with node selectors) arrive while nodes are added and removed and bound pods finish;
 * after every step, no node holds pods whose requests exceed its allocatable cpu, memory or pod
 * count, counting every pod the store says is bound there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "base/json.h"
#include "harness.h"

#define SEED 20261126u
#define PODS 1000
#define PER_STEP 20

static uint32_t rng = SEED;

static uint32_t
next(uint32_t bound)
{
	rng = rng * 1664525u + 1013904223u;
	return (rng >> 8) % bound;
}

static int64_t
qty(const json_t *v, bool milli)
{
	struct quantity q;
	if (!v || quantity_from_json(v, &q, NULL) < 0)
		return 0;
	return milli ? quantity_milli_value(&q) : quantity_value(&q);
}

struct usage {
	char name[32];
	int64_t cpu, mem, pods;             /* used */
	int64_t cpu_cap, mem_cap, pods_cap; /* allocatable */
};

/*
 * Checks every node against the pods the store says are bound to it; returns pods bound and
 * the pods listed (*ret_pods, when not NULL).
 */
static int
check_no_overcommit(struct env *e, json_t **ret_pods)
{
	json_t *nodes = NULL, *pods = NULL;
	assert_int_equal(
		client_list(e->client, kind_lookup("v1", "Node"), NULL, NULL, &nodes, NULL), 0);
	assert_int_equal(client_list(e->client, kind_lookup("v1", "Pod"), NULL, NULL, &pods, NULL),
			 0);
	size_t nn = json_array_size(json_object_get(nodes, "items"));
	struct usage *u = calloc(nn ? nn : 1, sizeof(*u));
	size_t i;
	json_t *n;
	json_array_foreach (json_object_get(nodes, "items"), i, n) {
		const json_t *alloc = json_object_get(json_object_get(n, "status"), "allocatable");
		snprintf(
			u[i].name, sizeof(u[i].name), "%s",
			json_string_value(json_object_get(json_object_get(n, "metadata"), "name")));
		u[i].cpu_cap = qty(json_object_get(alloc, "cpu"), true);
		u[i].mem_cap = qty(json_object_get(alloc, "memory"), false);
		u[i].pods_cap = qty(json_object_get(alloc, "pods"), false);
	}
	int bound = 0;
	json_t *p;
	json_array_foreach (json_object_get(pods, "items"), i, p) {
		const char *node =
			json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
		if (!node || !*node)
			continue;
		bound++;
		for (size_t k = 0; k < nn; k++) {
			if (strcmp(u[k].name, node) != 0)
				continue;
			const json_t *req = json_object_get(
				json_object_get(
					json_array_get(json_object_get(json_object_get(p, "spec"),
								       "containers"),
						       0),
					"resources"),
				"requests");
			u[k].cpu += qty(json_object_get(req, "cpu"), true);
			u[k].mem += qty(json_object_get(req, "memory"), false);
			u[k].pods++;
		}
	}
	for (size_t k = 0; k < nn; k++)
		if (u[k].cpu > u[k].cpu_cap || u[k].mem > u[k].mem_cap || u[k].pods > u[k].pods_cap)
			fail_msg("node %s over-committed: cpu %lld/%lld, memory %lld/%lld, pods "
				 "%lld/%lld",
				 u[k].name, (long long)u[k].cpu, (long long)u[k].cpu_cap,
				 (long long)u[k].mem, (long long)u[k].mem_cap, (long long)u[k].pods,
				 (long long)u[k].pods_cap);
	free(u);
	json_decref(nodes);
	if (ret_pods)
		*ret_pods = pods;
	else
		json_decref(pods);
	return bound;
}

static int n_nodes_made;
static char live_nodes[64][32];
static int n_live;

static void
add_node(struct env *e)
{
	char name[32], cpu[16], mem[16], labels[64];
	snprintf(name, sizeof(name), "node-%03d", n_nodes_made++);
	snprintf(cpu, sizeof(cpu), "%u", 2 + next(7));
	snprintf(mem, sizeof(mem), "%uGi", 4 + next(13));
	snprintf(labels, sizeof(labels), "{group: g%u}", next(3));
	env_node(e, name, cpu, mem, (int)(5 + next(26)), labels, NULL, NULL);
	snprintf(live_nodes[n_live++], sizeof(live_nodes[0]), "%s", name);
}

static void
remove_node(struct env *e)
{
	int k = (int)next((uint32_t)n_live);
	assert_int_equal(client_delete(e->client, kind_lookup("v1", "Node"), NULL, live_nodes[k],
				       NULL, NULL, NULL),
			 0);
	memmove(live_nodes[k], live_nodes[k + 1], (size_t)(n_live - k - 1) * sizeof(live_nodes[0]));
	n_live--;
}

/* A few bound pods of the last list finish (what the node agent does once they stop). */
static void
finish_some(struct env *e, const json_t *pods)
{
	size_t n = json_array_size(json_object_get(pods, "items"));
	for (int j = 0; j < 15 && n; j++) {
		json_t *p = json_array_get(json_object_get(pods, "items"), next((uint32_t)n));
		const char *node =
			json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
		const char *name =
			json_string_value(json_object_get(json_object_get(p, "metadata"), "name"));
		struct client_delete_opts o = { .grace_period_s = 0 };
		if (node && *node)
			client_delete(e->client, kind_lookup("v1", "Pod"), "default", name, &o,
				      NULL, NULL);
	}
}

static void
test_no_node_overcommitted(void **state)
{
	struct env e;
	env_init(&e);
	for (int i = 0; i < 4; i++)
		add_node(&e);
	env_start(&e, NULL);
	int made = 0, max_bound = 0;
	json_t *pods = json_pack("{s:[]}", "items");
	while (made < PODS) {
		for (int j = 0; j < PER_STEP; j++, made++) {
			char name[32], spec[512];
			snprintf(name, sizeof(name), "p%04d", made);
			bool selector = next(5) == 0;
			char sel[64] = "";
			if (selector)
				snprintf(sel, sizeof(sel), "  nodeSelector: {group: g%u}\n",
					 next(3));
			snprintf(spec, sizeof(spec),
				 "%s  containers: [{name: c, image: busybox, resources: {requests: "
				 "{cpu: %um, memory: %uMi}}}]\n",
				 sel, 100 + next(1400), 128 + next(1920));
			env_pod(&e, name, NULL, spec);
		}
		uint32_t r = next(10);
		if (r < 4 && n_live < 60)
			add_node(&e);
		else if (r < 6 && n_live > 3)
			remove_node(&e);
		finish_some(&e, pods);
		json_decref(pods);
		env_pump(&e);
		env_advance(&e, 2 * NSEC_PER_SEC);
		int bound = check_no_overcommit(&e, &pods);
		max_bound = bound > max_bound ? bound : max_bound;
	}
	/* Let every back-off run out, then check once more. */
	json_decref(pods);
	env_advance(&e, 30 * NSEC_PER_SEC);
	check_no_overcommit(&e, NULL);
	struct scheduler_stats st;
	scheduler_stats_get(e.sched, &st);
	print_message("# scheduled %llu, at most %d bound at once, %d nodes\n",
		      (unsigned long long)st.scheduled, max_bound, n_live);
	/* It did schedule under churn, not just refuse. */
	assert_true(st.scheduled >= 250);
	assert_true(max_bound >= 100);
	env_fini(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_no_node_overcommitted) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
