/*
 * ctrl-bench - the controller manager's figures (bench/controllers/run drives it):
 *
 *   ctrl-bench DIR [--deployments N] [--replicas R] [--nodes M] [--sync full|normal]
 *
 * A store in DIR on the real clock, the controller manager, M nodes, and N Deployments of R
 * replicas created at once; the time until every Deployment reports R updated, ready and
 * available replicas at its generation (every pod bound and Running and Ready), the reconciles
 * per second and the writes per reconcile over that time; then a resync of every object of
 * every controller with nothing changed, which must write nothing.
 *
 * Each node is a real node agent (lib/node) over the simulated runtime, in this process on the
 * same loop: it registers its Node and Lease, runs the pods bound to it and reports their
 * status. The real scheduler (lib/scheduler) places the pods, on the same loop and client, its
 * bindings committed on a pool thread as in korchd.
 *
 * Prints "bench: METRIC VALUE UNIT" lines; converge_cpu_s is the process's CPU time meanwhile
 * (write path, agents and scheduler included), telling CPU from waiting on the disk or other
 * processes.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "api/kinds.h"
#include "base/error.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/util.h"
#include "client/client.h"
#include "client/informer.h"
#include "controller/controller.h"
#include "controller/util.h"
#include "node/agent.h"
#include "node/backend-sim.h"
#include "scheduler/scheduler.h"
#include "store/store.h"

static void _printf_(1, 2) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ctrl-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double
cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench {
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
	struct controller_manager *cm;
	struct scheduler *sched;        /* places the pods */
	struct informer *deploys;       /* progress */
	char (*nodes)[32];              /* node names */
	struct node_backend **backends; /* each node's simulated runtime */
	struct node_agent **agents;     /* each node's agent */
	int n_nodes;                    /* nodes (agents) */
	int replicas;                   /* per Deployment */
	size_t converged;               /* Deployments done */
	struct hashmap done;            /* their keys */
};

static void
create(struct bench *b, json_t *obj)
{
	korch_error *err = NULL;
	struct client_write_opts o = { .field_manager = "ctrl-bench" };
	if (client_create(b->client, obj, &o, NULL, &err) < 0)
		die("create: %s", korch_error_message(err));
	json_decref(obj);
}

static bool
deployment_done(const struct bench *b, const json_t *d)
{
	return jp_int(d, "status.observedGeneration", -1) == jp_int(d, "metadata.generation", 0) &&
	       jp_int(d, "status.updatedReplicas", 0) == b->replicas &&
	       jp_int(d, "status.readyReplicas", 0) == b->replicas &&
	       jp_int(d, "status.availableReplicas", 0) == b->replicas &&
	       jp_int(d, "status.replicas", 0) == b->replicas;
}

static void
deploy_update(const json_t *old, const json_t *d, void *userdata)
{
	struct bench *b = userdata;
	if (!deployment_done(b, d))
		return;
	char *key = object_key(d);
	if (key && !hashmap_contains(&b->done, key)) {
		hashmap_put(&b->done, key, NULL, NULL);
		b->converged++;
	}
	free(key);
}

static void
deploy_add(const json_t *d, void *userdata)
{
	deploy_update(NULL, d, userdata);
}

/* Dispatches for up to ms. */
static void
pump(struct bench *b, int ms)
{
	korch_error *err = NULL;
	if (korch_loop_dispatch(b->loop, ms, &err) < 0)
		die("dispatch: %s", korch_error_message(err));
}

/* Runs until the manager and the scheduler are idle, three times in a row. */
static void
until_idle(struct bench *b)
{
	int quiet = 0;
	while (quiet < 3) {
		pump(b, 20);
		quiet = controller_manager_idle(b->cm) && scheduler_idle(b->sched) ? quiet + 1 : 0;
	}
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: ctrl-bench DIR [--deployments N] [--replicas R] [--nodes M] [--sync "
		    "full|normal]");
	struct bench b = { .done = HASHMAP_INIT };
	int deployments = 1000;
	bool sync_normal = false;
	b.replicas = 3;
	b.n_nodes = 30;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (streq(argv[i], "--deployments"))
			deployments = atoi(argv[i + 1]);
		else if (streq(argv[i], "--replicas"))
			b.replicas = atoi(argv[i + 1]);
		else if (streq(argv[i], "--nodes"))
			b.n_nodes = atoi(argv[i + 1]);
		else if (streq(argv[i], "--sync"))
			sync_normal = streq(argv[i + 1], "normal");
		else
			die("unknown option %s", argv[i]);
	}
	if (deployments <= 0 || b.replicas <= 0 || b.n_nodes <= 0)
		die("counts must be positive");
	korch_error *err = NULL;
	char path[4096];
	snprintf(path, sizeof(path), "%s/state.db", argv[1]);
	if (korch_clock_new_real(&b.clock, &err) < 0 || korch_loop_new(b.clock, &b.loop, &err) < 0)
		die("loop: %s", korch_error_message(err));
	struct store_options so = { .loop = b.loop, .sync_normal = sync_normal };
	if (store_open(path, &so, &b.store, &err) < 0 ||
	    client_new_local(b.store, b.clock, &b.client, &err) < 0)
		die("store: %s", korch_error_message(err));
	static const char *const namespaces[] = { "default", "kube-system", "kube-public",
						  "kube-node-lease" };
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++)
		create(&b, json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
				     "metadata", "name", namespaces[i]));
	b.nodes = calloc((size_t)b.n_nodes, sizeof(*b.nodes));
	b.backends = calloc((size_t)b.n_nodes, sizeof(*b.backends));
	b.agents = calloc((size_t)b.n_nodes, sizeof(*b.agents));
	if (!b.nodes || !b.backends || !b.agents)
		die("out of memory");
	for (int i = 0; i < b.n_nodes; i++) {
		snprintf(b.nodes[i], sizeof(b.nodes[i]), "node-%03d", i);
		char root[4200], logs[4200], ip[32];
		snprintf(root, sizeof(root), "%s/nodes/%s/root", argv[1], b.nodes[i]);
		snprintf(logs, sizeof(logs), "%s/nodes/%s/logs", argv[1], b.nodes[i]);
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250 + 1);
		struct sim_backend *sim = NULL;
		struct node_agent_options ao = {
			.node_name = b.nodes[i],
			.client = b.client,
			.root_dir = root,
			.log_dir = logs,
			.node_ip = ip,
			.max_pods = 250,
			.eviction_memory_available_bytes = -1,
		};
		if (sim_backend_new(b.loop, &b.backends[i], &sim, &err) < 0)
			die("simulated runtime: %s", korch_error_message(err));
		ao.backend = b.backends[i];
		if (node_agent_new(&ao, &b.agents[i], &err) < 0 ||
		    node_agent_start(b.agents[i], &err) < 0)
			die("agent %s: %s", b.nodes[i], korch_error_message(err));
	}
	struct controller_manager_options o = { .no_leader_election = true };
	if (controller_manager_new(b.client, b.loop, &o, &b.cm, &err) < 0 ||
	    controller_manager_start(b.cm, &err) < 0)
		die("manager: %s", korch_error_message(err));
	struct scheduler_options sched_opts = { 0 };
	if (scheduler_new(b.client, b.loop, &sched_opts, &b.sched, &err) < 0 ||
	    scheduler_start(b.sched, &err) < 0)
		die("scheduler: %s", korch_error_message(err));
	struct informer_handlers dh = { deploy_add, deploy_update, NULL, &b };
	if (informer_new(b.client, kind_lookup("apps/v1", "Deployment"), NULL, NULL, NULL,
			 &b.deploys, &err) < 0 ||
	    informer_add_handlers(b.deploys, &dh, &err) < 0 || informer_start(b.deploys, &err) < 0)
		die("informers: %s", korch_error_message(err));
	until_idle(&b);
	struct controller_stats before;
	controller_manager_stats(b.cm, &before);
	/* N Deployments at once. */
	double t0 = now_s(), c0 = cpu_s();
	for (int i = 0; i < deployments; i++) {
		char name[32];
		snprintf(name, sizeof(name), "web-%04d", i);
		create(&b,
		       json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, "
				 "s:{s:[{s:s, s:s}]}}}}",
				 "apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name",
				 name, "namespace", "default", "spec", "replicas", b.replicas,
				 "selector", "matchLabels", "app", name, "template", "metadata",
				 "labels", "app", name, "spec", "containers", "name", "c", "image",
				 "registry.example/web:1"));
	}
	double created = now_s() - t0;
	double last_report = t0;
	while (b.converged < (size_t)deployments) {
		pump(&b, 10);
		if (getenv("CTRL_BENCH_TRACE") && now_s() - last_report > 0.25) {
			last_report = now_s();
			struct controller_stats st;
			controller_manager_stats(b.cm, &st);
			struct scheduler_stats ss;
			scheduler_stats_get(b.sched, &ss);
			fprintf(stderr,
				"%.2f s: %zu converged, %" PRIu64 " pods bound, %" PRIu64
				" reconciles\n",
				last_report - t0, b.converged, ss.scheduled, st.reconciles);
		}
		if (now_s() - t0 > 3600)
			die("not converged after an hour: %zu of %d", b.converged, deployments);
	}
	double converged = now_s() - t0, cpu = cpu_s() - c0;
	struct controller_stats after;
	controller_manager_stats(b.cm, &after);
	uint64_t reconciles = after.reconciles - before.reconciles;
	uint64_t writes = after.writes - before.writes;
	printf("bench: controllers.%d_deployments_converged_s %.2f s\n", deployments, converged);
	printf("bench: controllers.deployments_created_s %.2f s\n", created);
	/* The whole process: the store's write path, the agents and the scheduler included. */
	printf("bench: controllers.converge_cpu_s %.2f s\n", cpu);
	printf("bench: controllers.reconciles_per_s %.0f 1/s\n", (double)reconciles / converged);
	printf("bench: controllers.writes_per_reconcile %.3f writes\n",
	       reconciles ? (double)writes / (double)reconciles : 0.0);
	printf("bench: controllers.reconciles %" PRIu64 " reconciles\n", reconciles);
	printf("bench: controllers.writes %" PRIu64 " writes\n", writes);
	printf("bench: controllers.events %" PRIu64 " events\n", after.events - before.events);
	printf("bench: controllers.conflicts %" PRIu64 " conflicts\n",
	       after.conflicts - before.conflicts);
	fflush(stdout);
	/* A resync of everything with nothing changed writes nothing. */
	until_idle(&b);
	struct controller_stats idle;
	controller_manager_stats(b.cm, &idle);
	double r0 = now_s();
	controller_manager_resync(b.cm);
	until_idle(&b);
	double resync = now_s() - r0;
	struct controller_stats end;
	controller_manager_stats(b.cm, &end);
	printf("bench: controllers.writes_per_noop_resync %" PRIu64 " writes\n",
	       end.writes - idle.writes);
	printf("bench: controllers.noop_resync_reconciles %" PRIu64 " reconciles\n",
	       end.reconciles - idle.reconciles);
	printf("bench: controllers.noop_resync_s %.2f s\n", resync);
	scheduler_free(b.sched);
	informer_free(b.deploys);
	controller_manager_free(b.cm);
	for (int i = 0; i < b.n_nodes; i++) {
		node_agent_free(b.agents[i]);
		node_backend_free(b.backends[i]);
	}
	free(b.agents);
	free(b.backends);
	client_free(b.client);
	store_close(b.store);
	korch_loop_free(b.loop);
	korch_clock_free(b.clock);
	hashmap_free(&b.done, NULL);
	free(b.nodes);
	return end.writes == idle.writes ? 0 : 1;
}
