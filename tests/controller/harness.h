/*
 * harness.h - a korch control plane for controller tests: a store in a temporary directory, the
 * test clock, the loop, a client and a controller manager, real node agents (lib/node) over the
 * simulated runtime on that loop, plus helpers to create objects from YAML and to run the loop
 * (advancing simulated time from timer to timer) until a condition holds.
 *
 * Pod addresses come from lib/net's ipam over each node's spec.podCIDR (the simulated sandboxes
 * have no interface to configure). With `schedule` set, the real scheduler (lib/scheduler) runs on
 * the same loop and client and places pending pods; a test that needs a pod on a given node
 * says so with a node selector or affinity, as it would to kube-scheduler.
 */
#ifndef KORCH_TESTS_CONTROLLER_HARNESS_H
#define KORCH_TESTS_CONTROLLER_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "base/fs.h"
#include "base/hashmap.h"
#include "client/informer.h"
#include "base/json.h"
#include "base/loop.h"
#include "client/client.h"
#include "controller/controller.h"
#include "controller/util.h"
#include "net/ipam.h"
#include "node/agent.h"
#include "node/backend-sim.h"
#include "scheduler/scheduler.h"
#include "test-util.h"

/* 2026-11-26T15:41:00Z */
#define T0 (1795707660LL * NSEC_PER_SEC)

struct cluster;

/* A node: a real agent on a simulated runtime of its own. */
struct cluster_node {
	struct cluster *c;            /* the cluster */
	char name[32];                /* the Node's name */
	char ip[16];                  /* its InternalIP */
	struct node_backend *backend; /* simulated runtime */
	struct sim_backend *sim;      /* its test API */
	struct node_agent *agent;     /* the agent; NULL once silenced */
	struct ipam *ipam;            /* pod addresses, made at the first pod */
};

struct cluster {
	char dir[64];                  /* temporary directory */
	char path[128];                /* the store file */
	korch_clock *clock;            /* the test clock */
	korch_loop *loop;              /* its loop */
	struct store *store;           /* the store */
	struct client *client;         /* the test's client (also the manager's and agents') */
	struct controller_manager *cm; /* the manager, or NULL */
	bool schedule;                 /* run lib/scheduler (started at the first pump) */
	struct scheduler *sched;       /* the scheduler, once started */
	struct cluster_node nodes[8];  /* the nodes, in the order added */
	size_t n_nodes;                /* nodes in use */
	int64_t stats_interval_ns;     /* agents' usage sampling period; 0: theirs (10 s) */
	int32_t node_max_pods;         /* pods an agent admits; 0: theirs (110) */
	/* Called after every dispatch: invariants checked at every step. */
	void (*on_step)(struct cluster *c, void *userdata);
	void *on_step_userdata;
};

/* As opts->volume_dir: a directory "volumes" in the cluster's temporary directory. */
#define CLUSTER_VOLUMES "<cluster>/volumes"

/* Sets up a cluster with the default namespaces; opts (may be NULL) for the manager, which is
 * created (not started) unless no_manager. */
void cluster_init(struct cluster *c, const struct controller_manager_options *opts,
		  bool no_manager);
void cluster_free(struct cluster *c);
/* Starts the manager and runs until it leads and is idle. */
void cluster_start(struct cluster *c);

/* Creates an object from YAML (fails the test on error); *ret (may be NULL) gets it. */
void create_yaml(struct cluster *c, const char *yaml, json_t **ret);
/*
 * Starts a node agent for a Node named name on a simulated runtime of its own: it registers the
 * Node (Ready), its Lease (renewed every 10 s of loop time) and runs the pods bound to it. Every
 * container named "notready" fails its readiness probe.
 */
void add_node(struct cluster *c, const char *name);
/* The node's agent stops (containers keep "running", nothing is written for it any more: no
 * Lease renewal, no status, no deletion confirmed): a node lost. The scheduler keeps using it
 * until the node lifecycle controller marks it unreachable (its taint), as in Kubernetes. */
void silence_node(struct cluster *c, const char *name);
/* Silences the node, then deletes its Node object (an agent would register it again). */
void delete_node(struct cluster *c, const char *name);
/* The node named name (fails the test when there is none). */
struct cluster_node *cluster_node(struct cluster *c, const char *name);
/* Reads an object; NULL when missing. */
json_t *get_obj(struct cluster *c, const char *api_version, const char *kind, const char *ns,
		const char *name);
/* Lists objects of a kind in ns (NULL: all) with a label selector (may be NULL). */
json_t *list_objs(struct cluster *c, const char *api_version, const char *kind, const char *ns,
		  const char *selector);
size_t count_objs(struct cluster *c, const char *api_version, const char *kind, const char *ns,
		  const char *selector);

typedef bool (*cluster_cond)(struct cluster *c, void *userdata);

/*
 * Runs the loop (and the scheduler) until cond holds, advancing the test clock by step_ns
 * whenever nothing is ready, for at most max_ns of simulated time. Returns whether cond held.
 * cond NULL: until idle (nothing ready, without advancing time).
 */
bool run_until(struct cluster *c, cluster_cond cond, void *userdata, int64_t step_ns,
	       int64_t max_ns);
/* Runs until nothing is ready now (no time passes). */
void settle(struct cluster *c);
/* Advances simulated time by ns, running everything due. */
void advance(struct cluster *c, int64_t ns);

/* The number of Events with reason about the object named name. */
size_t count_events(struct cluster *c, const char *ns, const char *name, const char *reason);
/* The message of the first such Event, or NULL. Caller frees. */
char *event_message(struct cluster *c, const char *ns, const char *name, const char *reason);

/*
 * From now on the readiness probes of a pod's containers pass (ready) or fail; the pod needs a
 * readinessProbe, and its agent sees the change at the probe's next period.
 */
void set_pod_ready(struct cluster *c, const char *ns, const char *name, bool ready);
/* Every running container of a bound pod exits now with exit_code (as the simulated runtime's
 * sim_container_exit); its restartPolicy decides what follows. */
void pod_exit(struct cluster *c, const char *ns, const char *name, int exit_code);
/* Sets the CPU and memory every running container of the pod uses from now on. */
void set_pod_usage(struct cluster *c, const char *ns, const char *name, int64_t cpu_milli,
		   int64_t memory_bytes);
/*
 * A controller_pod_usage_fn (userdata: the cluster) reading the newest usage sample of the
 * agent running the pod, as metrics.k8s.io serves it.
 */
int cluster_pod_usage(void *userdata, const char *ns, const char *name, struct pod_usage *ret,
		      korch_error **err);

#endif
