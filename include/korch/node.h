/*
 * korch/node.h - a korch node in your process (the node agent, korch's kubelet, over the real
 * container runtime or the simulated one), and what a node offers its users: the containers'
 * logs, running a command in a container, and CPU and memory usage.
 *
 * Thread rules: a korch_node belongs to the thread that dispatches its loop. korch_pod_logs and
 * korch_pod_exec block the calling thread (they are what `korchctl logs` and `korchctl exec`
 * run) and use the korch_client given, as every korch_client call does. Over a state file they
 * read the node's files and talk to korch-monitor on this machine; over a client connected to
 * korchd (korch_client_connect) they go through the API (pods/NAME/log, and pods/NAME/exec over
 * WebSocket), and data_dir, run_dir and timeout_ms are not used.
 */
#ifndef KORCH_NODE_H
#define KORCH_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <korch/client.h>
#include <korch/common.h>
#include <korch/loop.h>
#include <korch/object.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct korch_node korch_node;

/** Options for korch_node_new(); initialise with KORCH_NODE_OPTIONS_INIT. */
typedef struct korch_node_options {
	unsigned int version;   /**< KORCH_NODE_OPTIONS_VERSION */
	const char *node_name;  /**< required: the Node object's name */
	const char *state_path; /**< required: the state file (made when missing) */
	const char *data_dir;   /**< images/, pods/ and logs/ live here; NULL: the state's dir */
	const char *run_dir;    /**< korch-monitor's socket, sandboxes; NULL: /run/korch */
	const char *instance;   /**< names the cgroup parent korch-INSTANCE; NULL: "korch" */
	bool simulated;         /**< containers are simulated: no root, no processes */
	int64_t eviction_memory_available_bytes; /**< hard threshold; 0: 100Mi; < 0: off */
} korch_node_options;

#define KORCH_NODE_OPTIONS_VERSION 1
#define KORCH_NODE_OPTIONS_INIT                                                    \
	{                                                                          \
		KORCH_NODE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, false, 0 \
	}

/**
 * Runs a node on loop (borrowed; it must outlive the node): opens the state file, registers the
 * Node object and its Lease, adopts what a previous agent left running, and from then on runs
 * the pods bound to node_name as the loop dispatches. With the real runtime the calling
 * process needs root; korch-monitor is started when none runs for run_dir, and the process's
 * oom_score_adj is set to -999 so that memory pressure takes pods before the node (as the
 * kubelet protects itself; without CAP_SYS_RESOURCE this is logged and skipped).
 */
KORCH_EXPORT int korch_node_new(korch_loop *loop, const korch_node_options *opts, korch_node **ret,
				korch_error **err);

/** Stops the node: its containers keep running and a new node adopts them. Takes NULL. */
KORCH_EXPORT void korch_node_free(korch_node *node);

/**
 * A pod's usage over the last 15 minutes, sampled every 10 s: an object {"namespace", "name",
 * "window": seconds between samples, "samples": [{"timestamp", "cpu": nanocores over the
 * interval before it (null for the first), "memory": working-set bytes}], "containers":
 * [{"name", "samples": [...]}]}. KORCH_ENOTFOUND for a pod this node does not run.
 */
KORCH_EXPORT int korch_node_pod_usage(korch_node *node, const char *ns, const char *name,
				      korch_object **ret, korch_error **err);

/** The node's usage (all its pods together) in the same form, without "containers". */
KORCH_EXPORT int korch_node_usage(korch_node *node, korch_object **ret, korch_error **err);

/** Options for korch_pod_logs(); initialise with KORCH_LOGS_OPTIONS_INIT. */
typedef struct korch_logs_options {
	unsigned int version;   /**< KORCH_LOGS_OPTIONS_VERSION */
	const char *container;  /**< NULL: the pod's only container */
	bool follow;            /**< keep reading while the container runs */
	int64_t tail_lines;     /**< the last N lines; < 0: all */
	int64_t since_seconds;  /**< only lines of the last N seconds; 0: all */
	const char *since_time; /**< only lines at or after this RFC 3339 time; NULL: all */
	bool previous;          /**< the previous (terminated) instance's log */
	bool timestamps;        /**< each line starts with its RFC 3339 time */
	int64_t limit_bytes;    /**< stop after this many bytes; 0: no limit */
	const char *data_dir;   /**< where the node keeps logs/; NULL: the state file's dir */
} korch_logs_options;

#define KORCH_LOGS_OPTIONS_VERSION 1
#define KORCH_LOGS_OPTIONS_INIT                                                             \
	{                                                                                   \
		KORCH_LOGS_OPTIONS_VERSION, NULL, false, -1, 0, NULL, false, false, 0, NULL \
	}

/** Receives log output; return non-zero to stop reading (korch_pod_logs then returns 0). */
typedef int (*korch_logs_fn)(const char *data, size_t len, void *userdata);

/**
 * Reads a container's log as `kubectl logs` shows it, from the CRI log files the node wrote.
 * Errors as the Kubernetes API words them: `a container name must be specified for pod web,
 * choose one of: [a b]`, `container "c" in pod "web" is waiting to start: ContainerCreating`,
 * `previous terminated container "c" in pod "web" not found`.
 */
KORCH_EXPORT int korch_pod_logs(korch_client *client, const char *ns, const char *pod,
				const korch_logs_options *opts, korch_logs_fn fn, void *userdata,
				korch_error **err);

/** Options for korch_pod_exec(); initialise with KORCH_EXEC_OPTIONS_INIT. */
typedef struct korch_exec_options {
	unsigned int version;  /**< KORCH_EXEC_OPTIONS_VERSION */
	const char *container; /**< NULL: the pod's only container */
	int stdin_fd;          /**< the command's input; -1: none (/dev/null) */
	int stdout_fd;         /**< its output; -1: this process's stdout */
	int stderr_fd;         /**< its errors; -1: this process's stderr */
	bool tty;              /**< a terminal: the command gets a pseudo-terminal relayed to
				    stdin_fd and stdout_fd (the caller sets its own terminal raw). It
				    is not the command's controlling terminal: ^C arrives as a byte,
				    not as SIGINT */
	const char *run_dir;   /**< korch-monitor's run directory; NULL: /run/korch */
	int timeout_ms;        /**< give up after this long; 0: wait for the command */
} korch_exec_options;

#define KORCH_EXEC_OPTIONS_VERSION 1
#define KORCH_EXEC_OPTIONS_INIT                                              \
	{                                                                    \
		KORCH_EXEC_OPTIONS_VERSION, NULL, -1, -1, -1, false, NULL, 0 \
	}

/**
 * Runs argv (NULL-terminated) in a running container of the pod, as `kubectl exec` does, and
 * waits for it: *ret_exit_code is its exit code (128+N when a signal N killed it).
 */
KORCH_EXPORT int korch_pod_exec(korch_client *client, const char *ns, const char *pod,
				char *const argv[], const korch_exec_options *opts,
				int *ret_exit_code, korch_error **err);

#ifdef __cplusplus
}
#endif

#endif
