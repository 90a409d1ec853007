/*
 * monitor-client.h - talking to korch-monitor (internal): connect (starting the monitor when
 * none runs for the run dir), then one blocking call per operation. Used by korchctl, korchd,
 * the node agent and the tests.
 *
 * Containers are described by a spec (container.h: container_spec_parse documents the JSON)
 * and reported as state objects: {"id", "status" ("created", "running", "exited", ...),
 * "pid", "createdAt", "startedAt", "finishedAt", "exitCode", "signal", "oomKilled", "reason",
 * "message", "logPath"}.
 */
#ifndef KORCH_RUNTIME_MONITOR_CLIENT_H
#define KORCH_RUNTIME_MONITOR_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/macro.h"

struct monitor_client;

struct monitor_client_options {
	const char *run_dir;      /* required: RUNDIR */
	const char *monitor_path; /* NULL: $KORCH_MONITOR, else LIBEXECDIR/korch-monitor */
	bool no_start;            /* fail (KORCH_ENOTFOUND) instead of starting a monitor */
	int timeout_ms;           /* connecting, starting the monitor, hello; 0: 10 s */
};

/*
 * Connects to RUNDIR/monitor.sock and says hello. When nothing answers, starts korch-monitor
 * detached (double fork, new session) and waits until it listens. A monitor speaking another
 * protocol version is KORCH_EPROTO with both versions in the message.
 */
int monitor_client_connect(const struct monitor_client_options *opts, struct monitor_client **ret,
			   korch_error **err);
void monitor_client_free(struct monitor_client *c);
DEFINE_CLEANUP_FUNC(monitor_client_free, struct monitor_client, monitor_client_free)

/* The monitor's pid, from its hello. */
pid_t monitor_client_monitor_pid(const struct monitor_client *c);

/*
 * Sends request (borrowed; "id" is added) with n_fds fds and waits up to timeout_ms (-1:
 * forever) for its reply. An error reply becomes the error it carries. *ret_reply (may be
 * NULL) is the whole reply object.
 */
int monitor_client_call(struct monitor_client *c, json_t *request, const int *fds, size_t n_fds,
			int timeout_ms, json_t **ret_reply, korch_error **err);

/* Creates a container from spec (borrowed) and waits until it is set up ("created"). */
int monitor_client_create(struct monitor_client *c, json_t *spec, json_t **ret_state,
			  korch_error **err);
/* Starts a created container; returns once its process runs (or its execve failed). */
int monitor_client_start(struct monitor_client *c, const char *id, json_t **ret_state,
			 korch_error **err);
int monitor_client_kill(struct monitor_client *c, const char *id, int signo, korch_error **err);
/* Waits until the container exited and its output is in the log; KORCH_ETIMEOUT after timeout_ms. */
int monitor_client_wait(struct monitor_client *c, const char *id, int timeout_ms,
			json_t **ret_state, korch_error **err);
/*
 * Runs process ({"args", "env", "cwd", "user", ...}, borrowed) in a running container with
 * stdio as its stdin, stdout and stderr, and waits until it exits: *ret_exit_code is its exit
 * code (128+N when killed by signal N).
 */
int monitor_client_exec(struct monitor_client *c, const char *id, json_t *process,
			const int stdio[3], int timeout_ms, int *ret_exit_code, korch_error **err);
int monitor_client_state(struct monitor_client *c, const char *id, json_t **ret_state,
			 korch_error **err);
/*
 * Usage statistics of a container's cgroup, as the node agent reports them: {"cpuUsageNs",
 * "memoryUsageBytes", "memoryWorkingSetBytes", "pidsCurrent", "oomKills"}. Also after it
 * exited, until delete.
 */
int monitor_client_stats(struct monitor_client *c, const char *id, json_t **ret_stats,
			 korch_error **err);
/*
 * Sets a running container's cgroup limits to resources (borrowed; the spec's "resources"
 * format, the whole desired state: a field left out goes back to unlimited/default).
 */
int monitor_client_update(struct monitor_client *c, const char *id, json_t *resources,
			  korch_error **err);
/* A JSON array of states. */
int monitor_client_list(struct monitor_client *c, json_t **ret_list, korch_error **err);
/*
 * Stops (stop signal, SIGKILL after grace_ms) and removes a container: its process, mounts,
 * upper dir and state. Returns when all is gone.
 */
int monitor_client_delete(struct monitor_client *c, const char *id, int64_t grace_ms,
			  korch_error **err);
/* From now on exit events are queued for monitor_client_next_event(). */
int monitor_client_subscribe(struct monitor_client *c, korch_error **err);
/* The next event ({"event":"exit","container":{...}}), waiting up to timeout_ms. */
int monitor_client_next_event(struct monitor_client *c, int timeout_ms, json_t **ret_event,
			      korch_error **err);
/* Asks the monitor to exit; its containers keep running. */
int monitor_client_shutdown(struct monitor_client *c, korch_error **err);

#endif
