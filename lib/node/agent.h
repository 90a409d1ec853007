/*
 * agent.h - the node agent (internal): korch's kubelet. It watches, through lib/client
 * informers, the pods bound to its node and makes them real through a runtime backend
 * (backend.h): one sandbox per pod, init containers in order, app containers restarted under
 * the pod's restartPolicy with Kubernetes' back-off, probes, volumes, environment, graceful
 * termination; it reports what it sees in the pods' status (written only when it changes) and
 * in its Node object, renews the node's Lease in kube-node-lease, evicts pods under memory
 * pressure and samples CPU and memory usage.
 *
 * Everything runs on the loop of the client's store; every timing (probe periods, back-off,
 * grace periods, heartbeats, housekeeping) reads that loop's clock, so that tests drive the
 * agent with the test clock.
 *
 * Restart: a new agent on the same backend adopts what runs (containers carry the pod's uid,
 * their name and their restart count as labels), starts nothing twice, and removes within one
 * housekeeping period what belongs to pods that no longer exist (containers, sandboxes, volume
 * directories and mounts, logs).
 *
 * On the simulated runtime with the test clock (how the controllers' tests run whole workloads):
 *
 *	struct node_backend *backend;
 *	struct sim_backend *sim;
 *	sim_backend_new(loop, &backend, &sim, &err);        // loop: the store's, on a test clock
 *	struct node_agent_options o = {
 *		.node_name = "node-1", .client = client, .backend = backend,
 *		.root_dir = tmpdir, .log_dir = logdir,
 *		.eviction_memory_available_bytes = -1,       // no eviction in the test
 *	};
 *	node_agent_new(&o, &agent, &err);
 *	node_agent_start(agent, &err);                      // the Node and its Lease exist now
 *	// pods bound to node-1 run as the loop dispatches; make some end by themselves:
 *	sim_set_behavior(sim, "default/pi-*" "/" "*",           // NS/POD/CONTAINER, fnmatch
 *			 &(struct sim_behavior){ .run_ns = 5 * NSEC_PER_SEC }, &err);
 *	korch_loop_advance(loop, 10 * NSEC_PER_SEC, &err);  // ...and they Succeed
 *	node_agent_free(agent);
 *	node_backend_free(backend);
 *
 * Each agent (node) needs a backend of its own: it adopts, and sweeps as orphans, everything
 * its backend runs.
 *
 * Files: ROOT/pods/UID/ holds a pod's volumes (volumes/PLUGIN/NAME), its /etc/hosts and
 * resolv.conf (etc-hosts, resolv.conf) and the containers' termination-log files
 * (containers/NAME/ATTEMPT); LOGS/NAMESPACE_NAME_UID/CONTAINER/ATTEMPT.log are the CRI logs, as
 * /var/log/pods has them.
 */
#ifndef KORCH_NODE_AGENT_H
#define KORCH_NODE_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/macro.h"
#include "client/client.h"
#include "node/backend.h"

struct node_agent;

/*
 * Pod networking (node/network.h provides it over lib/net): set up the pod's interface inside the
 * sandbox's network namespace and return its address (the same one when called again for a pod
 * already connected, as after an agent restart); tear it down when the pod goes. pod_spec is the
 * pod's spec (borrowed; hostPorts come from it). Not called for hostNetwork pods. Without it,
 * pods get no IP (status.podIP stays absent; hostNetwork pods show the node's address).
 */
struct node_network_ops {
	int (*setup)(void *data, const char *pod_uid, const char *ns, const char *name,
		     const json_t *pod_spec, const char *netns_path, char **ret_ip,
		     korch_error **err);
	int (*teardown)(void *data, const char *pod_uid, const char *netns_path, korch_error **err);
};

struct node_agent_options {
	const char *node_name;          /* required: the Node object's name */
	struct client *client;          /* required, borrowed; its store must have a loop */
	struct node_backend *backend;   /* required, borrowed; outlives the agent */
	const char *root_dir;           /* required: pods' files (ROOT/pods/UID) */
	const char *log_dir;            /* required: CRI logs (LOGS/NS_NAME_UID/C/N.log) */
	const char *node_ip;            /* InternalIP; NULL: the address of the default route's
				       * interface for a real backend, none for a simulated one */
	const char *const *node_labels; /* extra labels "key=value" (node-role...), NULL-ended */
	const char *pod_cidr;           /* spec.podCIDR, or NULL */
	const char *cluster_dns;        /* ClusterFirst nameserver; NULL: the host's resolv.conf */
	const char *cluster_domain;     /* NULL: "cluster.local" */
	int32_t max_pods;               /* 0: 110 */
	int64_t eviction_memory_available_bytes;  /* hard threshold; 0: 100Mi; < 0: no eviction */
	double eviction_memory_available_percent; /* > 0: the threshold is this share of memory */
	int64_t eviction_nodefs_available_bytes;  /* disk pressure below this many free bytes of the
						   * data dir's filesystem; 0: the percentage;
						   * < 0: never disk pressure */
	double eviction_nodefs_available_percent; /* used when the bytes are 0; 0: 10 (the kubelet's
						   * nodefs.available<10%) */
	int64_t eviction_interval_ns;           /* how often the machine is checked (pressure, node
					   * status); 0: 10 s */
	int64_t housekeeping_interval_ns;       /* orphan clean-up; 0: 2 s */
	int64_t lease_renew_interval_ns;        /* 0: 10 s */
	int32_t lease_duration_s;               /* 0: 40 */
	int64_t stats_interval_ns;              /* usage sampling; 0: 10 s */
	int64_t stats_window_ns;                /* samples kept; 0: 15 minutes */
	bool protect_from_oom;                  /* set this process's oom_score_adj to -999 */
	const struct node_network_ops *network; /* or NULL */
	void *network_data;                     /* for network */
};

/*
 * Reads hard eviction thresholds in the kubelet's --eviction-hard form, "SIGNAL<VALUE" joined by
 * commas (memory.available<100Mi,nodefs.available<10%), into o's eviction fields: VALUE is a
 * quantity or a percentage of capacity, and 0 (or 0%) turns the signal off. Signals not named
 * keep their defaults. Other kubelet signals are KORCH_EUNSUPPORTED, naming the signal.
 */
int node_eviction_hard_parse(const char *spec, struct node_agent_options *o, korch_error **err);

/* Checks the options and makes an agent; nothing is watched or written before start. */
int node_agent_new(const struct node_agent_options *opts, struct node_agent **ret,
		   korch_error **err);

/*
 * Registers (or updates) the Node object, creates its Lease, lists what the backend runs for
 * adoption and starts watching. Pods are synced from the loop from here on.
 */
int node_agent_start(struct node_agent *a, korch_error **err);

/* Stops the agent: containers keep running, nothing is written. Takes NULL. */
void node_agent_free(struct node_agent *a);

/* The node's name; borrowed. */
const char *node_agent_node_name(const struct node_agent *a);

/*
 * The usage samples of a pod (ns, name) kept for the last window: a JSON object
 * {"namespace", "name", "window": seconds between samples, "samples": [{"timestamp",
 * "cpu": nanocores over the interval before it, "memory": working set bytes}], "containers":
 * [{"name", "samples": [...]}]}. KORCH_ENOTFOUND for a pod this node does not run.
 */
int node_agent_pod_samples(struct node_agent *a, const char *ns, const char *name, json_t **ret,
			   korch_error **err);

/* The same for the whole node (every pod's cgroup summed), without "containers". */
int node_agent_node_samples(struct node_agent *a, json_t **ret, korch_error **err);

/* Runs the housekeeping pass now (tests; it also runs on its own every period). */
void node_agent_housekeeping(struct node_agent *a);

/* Checks memory pressure now (tests; it also runs on its own every interval). */
void node_agent_check_eviction(struct node_agent *a);

DEFINE_CLEANUP_FUNC(node_agent_free, struct node_agent, node_agent_free)

#endif
