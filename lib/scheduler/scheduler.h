/*
 * scheduler.h - assigns every pod without spec.nodeName to a node, as kube-scheduler 1.32 does
 * with its default profile, reading and writing only through lib/client.
 *
 * The scheduler lists and watches pods, nodes, namespaces, PersistentVolumeClaims,
 * PersistentVolumes, StorageClasses, Services, ReplicationControllers, ReplicaSets and
 * StatefulSets through informers, keeps a typed node snapshot updated from their events, and
 * schedules one pod at a time from a queue ordered by priority then creation time:
 *
 *   PreFilter/Filter: NodeUnschedulable, NodeName, TaintToleration (a node's Ready and pressure
 *     conditions count as the taints the node lifecycle controller gives them), NodeAffinity,
 *     NodePorts, NodeResourcesFit, VolumeRestrictions, VolumeBinding, VolumeZone,
 *     PodTopologySpread, InterPodAffinity, with nominated pods of equal or higher priority
 *     counted on their nodes;
 *   Score: TaintToleration (3), NodeAffinity (2), NodeResourcesFit LeastAllocated (1),
 *     PodTopologySpread (2, with the system default spreading of an owner's replicas),
 *     InterPodAffinity (2), NodeResourcesBalancedAllocation (1), ImageLocality (1), each
 *     normalised as Kubernetes does; ties broken at random;
 *   PostFilter: DefaultPreemption (the fewest lower-priority victims on one node, deleted
 *     gracefully; the preemptor gets status.nominatedNodeName);
 *   Bind: pods/binding (lib/client's client_txn_bind, the BindingREST rules of
 *     client_bind_pod): many bindings, their Scheduled Events and the PodScheduled=False of
 *     the pods that did not fit committed in one durable transaction per batch.
 *
 * A pod that fits nowhere gets PodScheduled=False, reason Unschedulable, Kubernetes' message
 * ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}.
 * preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.") and a
 * FailedScheduling Event, and waits, backing off (1 s doubling to 10 s), until an event that
 * could make it fit moves it (a node added or changed, a pod deleted, ...), or five minutes.
 *
 * NoExecute eviction of bound pods is the controller manager's (lib/controller's taint eviction
 * controller), as in Kubernetes; the scheduler only keeps pods off nodes whose NoSchedule and
 * NoExecute taints they do not tolerate.
 *
 * Everything runs on the loop given (the store's), from its dispatch, except the commit of a
 * batch: under the real clock it runs on a pool thread with a store handle of its own (the next
 * batch fills meanwhile), under a test clock inline. korchd and embedding programs run it
 * beside the controller manager, on the same loop and client:
 *
 *     struct scheduler_options o = { 0 };      // defaults everywhere
 *     struct scheduler *s;
 *     scheduler_new(client, loop, &o, &s, &err);
 *     scheduler_start(s, &err);                 // lists, then schedules from the loop
 *     ... korch_loop_run(loop) ...
 *     scheduler_free(s);                        // commits what is pending, stops
 */
#ifndef KORCH_SCHEDULER_SCHEDULER_H
#define KORCH_SCHEDULER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <korch/common.h>
#include <korch/loop.h>
#include "base/macro.h"
#include "client/client.h"

struct scheduler;

/* Options; zero means the default for every field. */
struct scheduler_options {
	const char *
		scheduler_name; /* pods whose spec.schedulerName is this; NULL: "default-scheduler" */
	/*
	 * percentageOfNodesToScore: 1..100, or 0 for Kubernetes' adaptive default (50% minus 1%
	 * per 125 nodes, at least 5%, and at least 100 nodes).
	 */
	int percentage_of_nodes_to_score;
	double bind_pods_qps;    /* binds per second at most (--bind-pods-qps); 0: no limit */
	int bind_pods_burst;     /* with bind_pods_qps: the bucket; 0: 100 */
	size_t bind_batch_max;   /* bindings per transaction; 0: 1,000; at most 4,000 */
	int64_t round_budget_ns; /* scheduling work per loop dispatch; 0: 50 ms */
	uint64_t seed;           /* random tie-breaks and preemption offsets; 0: from the clock */
	int64_t initial_backoff_ns;   /* 0: 1 s */
	int64_t max_backoff_ns;       /* 0: 10 s */
	int64_t unschedulable_max_ns; /* an unschedulable pod is retried after this; 0: 5 min */
	bool no_preemption;           /* leave DefaultPreemption out */
	bool no_scheduled_events;     /* do not record a Scheduled Event per binding */
	/*
	 * Commit bindings on the loop's thread. By default they are committed on a pool thread
	 * with a store handle of its own when the loop runs on the real clock (a commit waits for
	 * an fsync), and inline under a test clock.
	 */
	bool sync_binding;
	const char *hostname; /* for the Events' reportingInstance; NULL: gethostname() */
};

/* Figures for benchmarks and tests. */
struct scheduler_stats {
	uint64_t scheduled;       /* bindings committed */
	uint64_t bind_failures;   /* bindings refused (the pod went back to the queue) */
	uint64_t bind_commits;    /* transactions */
	uint64_t attempts;        /* scheduling cycles */
	uint64_t unschedulable;   /* cycles that found no node */
	uint64_t preemptions;     /* victims deleted */
	uint64_t events_dropped;  /* Events not recorded because the queue was full */
	int64_t first_enqueue_ns; /* monotonic time of the first pod queued since the last reset */
	int64_t last_bind_ns;     /* monotonic time the last binding was committed */
};

/*
 * A scheduler over c (borrowed; its store must have been opened with loop, also borrowed).
 * opts may be NULL. Creates the informers; nothing runs before scheduler_start().
 */
int scheduler_new(struct client *c, korch_loop *loop, const struct scheduler_options *opts,
		  struct scheduler **ret, korch_error **err);

/*
 * Lists what the scheduler caches and starts watching; scheduling begins from the loop's next
 * dispatch once the caches are filled. Idempotent.
 */
int scheduler_start(struct scheduler *s, korch_error **err);

/* Whether the informers delivered their initial lists. */
bool scheduler_synced(const struct scheduler *s);

/*
 * Whether the caches are synced, no pod waits in the active queue (pods held back by the bind
 * rate limit do) and no binding, status write or Event waits to be committed; pods backing off
 * or unschedulable wait for a later time or an event and do not count. The state a test waits
 * for, as controller_manager_idle().
 */
bool scheduler_idle(const struct scheduler *s);

/* Pods waiting in the active queue, in back-off and as unschedulable. */
void scheduler_queue_lengths(const struct scheduler *s, size_t *ret_active, size_t *ret_backoff,
			     size_t *ret_unschedulable);

/* Counters; reset clears them and the latency samples. */
void scheduler_stats_get(const struct scheduler *s, struct scheduler_stats *ret);
void scheduler_stats_reset(struct scheduler *s);

/*
 * Latencies from a pod's first enqueue to its binding's commit, in nanoseconds, for the pods
 * bound since the last reset (borrowed, valid until the next dispatch or reset).
 */
const int64_t *scheduler_latencies(const struct scheduler *s, size_t *ret_n);

/* Bytes the typed snapshot (nodes, pods, interned strings) holds. */
size_t scheduler_snapshot_bytes(const struct scheduler *s);

/* Stops watching and frees everything; pending bindings are committed first. Takes NULL. */
void scheduler_free(struct scheduler *s);

DEFINE_CLEANUP_FUNC(scheduler_free, struct scheduler, scheduler_free)

#endif
