/*
 * harness.h - a korch control plane for controller tests: a store in a temporary directory, the
 * test clock, the loop, a client and a controller manager, plus helpers to create objects from
 * YAML and to run the loop (advancing simulated time) until a condition holds.
 *
 * Until lib/node's agent and lib/scheduler are on main, two stand-ins play their parts through
 * lib/client's public semantics: `binder` binds pending pods to the cluster's nodes through
 * pods/binding (client_bind_pod) and `kubelet` reports bound pods Running and Ready and confirms
 * graceful deletions. Tests that use them are listed in the report as to be moved onto the real
 * agent and scheduler.
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

/* 2026-11-26T15:41:00Z */
#define T0 (1795707660LL * NSEC_PER_SEC)

struct cluster {
	char dir[64];                   /* temporary directory */
	char path[128];                 /* the store file */
	korch_clock *clock;             /* the test clock */
	korch_loop *loop;               /* its loop */
	struct store *store;            /* the store */
	struct client *client;          /* the test's client (also the manager's) */
	struct controller_manager *cm;  /* the manager, or NULL */
	bool binder;                    /* stand-in: bind pending pods to nodes */
	bool kubelet;                   /* stand-in: run bound pods (Running, Ready) */
	int64_t kubelet_ready_delay_ns; /* how long after binding a pod becomes Ready */
	char nodes[8][32];              /* nodes the binder uses, in turn */
	bool node_silent[8];            /* the stand-in kubelet stopped renewing its Lease */
	size_t n_nodes;
	int64_t last_renew_ns;  /* monotonic: when the Leases were last renewed */
	size_t next_node;       /* round robin */
	struct informer *pods;  /* the stand-ins' view of pods */
	struct hashmap dirty;   /* pod keys the stand-ins should look at */
	bool stand_ins_started; /* pods informer running */
	/* Called after every dispatch and stand-in pass: invariants checked at every step. */
	void (*on_step)(struct cluster *c, void *userdata);
	void *on_step_userdata;
};

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
 * Creates a Node named name (Ready, with a Lease in kube-node-lease) and adds it to the binder's
 * list. advance() renews the Leases of such nodes every 10 s of simulated time, as kubelet does,
 * until silence_node().
 */
void add_node(struct cluster *c, const char *name);
/* The node's stand-in kubelet stops: no Lease renewal, no pod on it runs, starts or goes, and
 * the binder binds nothing more to it (a node lost). */
void silence_node(struct cluster *c, const char *name);
json_t *yaml_obj(const char *yaml);

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
 * Runs the loop (and the stand-ins) until cond holds, advancing the test clock by step_ns
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

/* Marks a pod Ready (True/False) as its kubelet would. */
void set_pod_ready(struct cluster *c, const char *ns, const char *name, bool ready);
/* Sets a pod's phase (and for Succeeded/Failed its containers' exit code). */
void set_pod_phase(struct cluster *c, const char *ns, const char *name, const char *phase,
		   int exit_code);

#endif
