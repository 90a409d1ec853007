/*
 * controller.h - korch's controller manager: every controller of DESIGN.md's "Control loop"
 * (ReplicaSet and ReplicationController, Deployment, StatefulSet, DaemonSet, Job, CronJob,
 * Service endpoints, PersistentVolume binding and local-path provisioning,
 * HorizontalPodAutoscaler, garbage collector, namespaces, service accounts, the root CA
 * ConfigMaps, node lifecycle and the `kubernetes` Service), run on one event loop through
 * lib/client only: shared informers
 * fill caches, work queues hold the keys of changed objects, and each controller reconciles one
 * key at a time, level-triggered and idempotent (reconciling again with nothing changed writes
 * nothing).
 *
 * korchd and embedding programs start it with:
 *
 *     struct controller_manager_options o = { 0 };     // defaults everywhere
 *     o.volume_dir = "/var/lib/korch/volumes";          // local-path provisioning
 *     o.api_host = "10.0.0.5"; o.api_port = 6443;       // the `kubernetes` Service's endpoint
 *     o.pod_usage = node_usage_fn; o.pod_usage_userdata = agent;   // for the HPA
 *     struct controller_manager *cm;
 *     controller_manager_new(client, loop, &o, &cm, &err);
 *     controller_manager_start(cm, &err);   // campaigns for leadership, then runs
 *     ... korch_loop_run(loop) ...
 *     controller_manager_free(cm);          // stops, releasing the leader Lease
 *
 * The client (borrowed) must be over a store opened with the same loop (informers watch on it);
 * time is the loop's clock, so under a test clock everything (leases, back-offs, minReadySeconds,
 * progress deadlines, CronJob schedules, HPA windows, node grace periods) moves only with it.
 *
 * Leader election: a coordination.k8s.io Lease kube-system/kube-controller-manager, as
 * kube-controller-manager's (15 s lease, renewed every 2 s, given up when not renewed for 10 s).
 * Controllers run only while this manager holds it, so two managers on one store never both
 * act; on losing it they stop and the manager campaigns again.
 */
#ifndef KORCH_CONTROLLER_CONTROLLER_H
#define KORCH_CONTROLLER_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/common.h>
#include <korch/loop.h>
#include "base/macro.h"
#include "client/client.h"

struct controller_manager;

/* A pod's resource usage as the node agent samples it (metrics.k8s.io PodMetrics). */
struct pod_usage {
	int64_t cpu_milli;    /* all containers, millicores averaged over the window */
	int64_t memory_bytes; /* all containers, working set bytes */
	int64_t timestamp_ns; /* wall time the window ended */
	int64_t window_ns;    /* the averaging window */
};

/*
 * Where the HorizontalPodAutoscaler reads usage: fills *ret for pod ns/name, or returns
 * KORCH_ENOTFOUND when there is no sample (yet).
 */
typedef int (*controller_pod_usage_fn)(void *userdata, const char *ns, const char *name,
				       struct pod_usage *ret, korch_error **err);

/*
 * The latest sample with a CPU rate of a pod's usage as the node agent reports it
 * (node_agent_pod_samples, korch_node_pod_usage: {"window", "samples": [{"timestamp", "cpu",
 * "memory"}]}), for a controller_pod_usage_fn. KORCH_ENOTFOUND before the second sample.
 */
int pod_usage_from_samples(const json_t *usage, const char *ns, const char *name,
			   struct pod_usage *ret, korch_error **err);

struct controller_manager_options {
	const char *identity;      /* leader election identity; NULL: hostname_pid_random */
	bool no_leader_election;   /* run at once, without a Lease (one manager per store only) */
	int64_t lease_duration_ns; /* 0: 15 s */
	int64_t renew_deadline_ns; /* 0: 10 s */
	int64_t retry_period_ns;   /* 0: 2 s */
	/* Controllers to run, by name ("replicaset", "deployment", ...; see controller.c's
	 * table); NULL-terminated, NULL: all. */
	const char *const *controllers;
	int64_t resync_period_ns;      /* queue every object again this often; 0: never */
	const char *cluster_cidr;      /* node pod CIDRs come from it; NULL: 10.244.0.0/16 */
	int node_cidr_mask_size;       /* per node; 0: 24 */
	int64_t node_monitor_grace_ns; /* a node not heard from this long is unreachable; 0: 40 s */
	/* local-path volumes are directories under it; NULL: the local-path StorageClass is not
	 * installed and claims of it stay Pending */
	const char *volume_dir;
	const char *api_host; /* the API server's address for the `kubernetes` Endpoints; NULL:
				 the Service only */
	int api_port;         /* its port; 0: 6443 */
	/* the cluster CA (PEM) published as ConfigMap kube-root-ca.crt (key ca.crt) in every
	 * namespace, for the ServiceAccount token volumes; NULL: nothing published */
	const char *root_ca_pem;
	controller_pod_usage_fn pod_usage; /* HPA metrics; NULL: HPAs report no metrics */
	void *pod_usage_userdata;          /* for pod_usage */
	int64_t hpa_sync_period_ns;        /* 0: 15 s */
	int64_t hpa_downscale_window_ns;   /* stabilisation without spec.behavior; 0: 5 min */
	int64_t hpa_tolerance_permille;    /* 0: 100 (10 %) */
};

/*
 * Creates a manager over client (borrowed) on loop (borrowed). opts may be NULL; strings in it
 * are copied. Nothing runs until controller_manager_start().
 */
int controller_manager_new(struct client *client, korch_loop *loop,
			   const struct controller_manager_options *opts,
			   struct controller_manager **ret, korch_error **err);

/*
 * Starts: campaigns for the leader Lease (or, without leader election, starts the controllers
 * at once: informers list, then work begins from the loop). Idempotent.
 */
int controller_manager_start(struct controller_manager *cm, korch_error **err);

/* Whether this manager holds the lease and its controllers run. */
bool controller_manager_is_leader(const struct controller_manager *cm);

/*
 * Whether the controllers run, their informers are synced and no key waits to be processed
 * now (keys waiting for a later time do not count): the state a test waits for.
 */
bool controller_manager_idle(const struct controller_manager *cm);

/* Queues every object of every controller again (what a resync period does). */
void controller_manager_resync(struct controller_manager *cm);

struct controller_stats {
	uint64_t reconciles; /* keys processed */
	uint64_t failures;   /* reconciles that asked to be retried */
	uint64_t writes;     /* creates, updates, patches and deletes sent (Events excluded) */
	uint64_t events;     /* Event creates and updates */
	uint64_t conflicts;  /* writes refused for a stale resourceVersion */
};

void controller_manager_stats(const struct controller_manager *cm, struct controller_stats *ret);

/* Stops the controllers, releases the Lease it holds, frees. Takes NULL. */
void controller_manager_free(struct controller_manager *cm);

DEFINE_CLEANUP_FUNC(controller_manager_free, struct controller_manager, controller_manager_free)

#endif
