/*
 * backend-sim.h - the simulated runtime (internal): a node_backend in which containers "run"
 * and exit when told, on the loop's clock, with no process, mount or cgroup behind them. With
 * the test clock everything it does is deterministic: ids, pids and times follow from the
 * calls made, so two runs of the same test give the same event log.
 *
 * What a simulated container does is set by behaviours matched against "NAMESPACE/POD/CONTAINER"
 * with fnmatch(3) patterns ("default/web-*" + "/" + "*"); the last matching behaviour added wins, and
 * a container takes the behaviour matching it at each create (so a change applies from its next
 * restart; sim_container_exit() and friends act on a running one at once). Without any, a
 * container runs until it is killed, dies of SIGTERM (exit code 143), passes every probe, and
 * every exec into it exits 0.
 *
 * Every image exists unless marked missing; its command is "sh" and it sets no environment. The node has 4 CPUs, 16 GiB of memory (8 GiB
 * available), 100 GiB of ephemeral storage (50 GiB free); sim_set_node_info() changes that.
 *
 * A sandbox without hostNetwork reports the network namespace path SIM_NETNS_DIR/UID, which
 * names no file: the agent's network ops (node_network_ops) are called with it, so a test can
 * hand out pod addresses (from lib/net's ipam) without creating any interface.
 *
 * The event log (sim_event_log) has one line per thing that happened, with the loop clock's
 * seconds since the backend was made: "12.000 start default/web/app#1 pid 1003".
 */
#ifndef KORCH_NODE_BACKEND_SIM_H
#define KORCH_NODE_BACKEND_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/loop.h>
#include "node/backend.h"

struct sim_backend;

/* Where simulated sandboxes say their network namespace is (nothing is there). */
#define SIM_NETNS_DIR "/run/korch-sim/netns"

enum sim_probe {
	SIM_PROBE_PASS = 0, /* the probe succeeds (a zeroed behaviour passes every probe) */
	SIM_PROBE_FAIL = 1, /* it fails */
	SIM_PROBE_REAL = 2, /* it runs for real (exec into the simulated container, HTTP, TCP) */
};

/* What a simulated container does; a zeroed struct runs until killed and passes its probes. */
struct sim_behavior {
	int64_t run_ns;      /* > 0: the container exits by itself this long after it started */
	int exit_code;       /* its exit code then */
	bool oom;            /* ... or it is OOM-killed then (exit code 137, reason OOMKilled) */
	bool ignore_sigterm; /* the stop signal does nothing; only SIGKILL ends it */
	const char *start_error;  /* start fails: exit code 128, reason StartError, this message */
	enum sim_probe liveness;  /* probe outcomes: pass (the zero value), fail, or run for real */
	enum sim_probe readiness; /* same */
	enum sim_probe startup;   /* same */
	int exec_exit_code;       /* exit code of every exec into it (default 0) */
	const char *exec_output;  /* what every exec prints, or NULL */
	int64_t cpu_milli;        /* CPU it uses while running, in millicores */
	int64_t memory_bytes;     /* memory working set while running */
	const char *log_text; /* written to its log (stdout) when it starts; lines end with \n */
};

/*
 * Makes a simulated backend whose completions run on loop. *ret is what the agent takes;
 * *ret_sim (borrowed from it, valid until node_backend_free) is the test API's handle.
 */
int sim_backend_new(korch_loop *loop, struct node_backend **ret, struct sim_backend **ret_sim,
		    korch_error **err);

/* Adds a behaviour for containers matching pattern ("NAMESPACE/POD/CONTAINER", fnmatch). */
int sim_set_behavior(struct sim_backend *sim, const char *pattern, const struct sim_behavior *b,
		     korch_error **err);

/* Removes every behaviour. */
void sim_clear_behaviors(struct sim_backend *sim);

/* The id of the latest container of that name in that pod (borrowed), or NULL. */
const char *sim_container_find(struct sim_backend *sim, const char *ns, const char *pod,
			       const char *container);

/* The container's current state (borrowed; valid until the sim changes it), or NULL. */
const struct backend_container *sim_container_get(struct sim_backend *sim, const char *id);

/*
 * What the agent created a container with: {"argv": [...], "env": ["K=V"...], "mounts":
 * [{"host", "path", "readOnly"}], "resources": {"memory", "cpuShares", "cpuQuota",
 * "cpuPeriod"}, "user"}. The caller's reference; NULL for an unknown id.
 */
json_t *sim_container_config(struct sim_backend *sim, const char *id);

/* A running container exits now with this code (KORCH_ENOTFOUND / KORCH_EINVALID otherwise). */
int sim_container_exit(struct sim_backend *sim, const char *id, int exit_code, korch_error **err);

/* A running container is OOM-killed now. */
int sim_container_oom(struct sim_backend *sim, const char *id, korch_error **err);

/* Appends CRI lines (one per line of text) for stream "stdout"/"stderr" to its log file. */
int sim_container_write_log(struct sim_backend *sim, const char *id, const char *stream,
			    const char *text, korch_error **err);

/* Changes a container's probe outcome ("liveness", "readiness", "startup") from now on. */
int sim_container_set_probe(struct sim_backend *sim, const char *id, const char *probe,
			    enum sim_probe outcome, korch_error **err);

/* Changes a running container's usage. */
int sim_container_set_usage(struct sim_backend *sim, const char *id, int64_t cpu_milli,
			    int64_t memory_bytes, korch_error **err);

/* Marks an image reference missing (image_resolve then fails as the real store does) or not. */
int sim_image_set_missing(struct sim_backend *sim, const char *ref, bool missing,
			  korch_error **err);

/* Replaces the node's description (capacity, available memory, versions). */
void sim_set_node_info(struct sim_backend *sim, const struct backend_node_info *info);

/* The runtime is reachable (true) or down (false: every operation fails, healthy() is false). */
void sim_set_healthy(struct sim_backend *sim, bool healthy);

/* How many containers are in a state (BACKEND_RUNNING...), and how many sandboxes exist. */
size_t sim_count(struct sim_backend *sim, enum backend_state state);
size_t sim_sandbox_count(struct sim_backend *sim);

/* The event log so far (borrowed), and clearing it. */
const char *sim_event_log(struct sim_backend *sim);
void sim_event_log_clear(struct sim_backend *sim);

#endif
