/*
 * node-real.h - the node agent's root tests' harness: a data dir with the busybox test image
 * loaded, a run dir with its own korch-monitor, a state on the real clock and an agent over the
 * real backend; teardown removes every container, sandbox, mount and file, and stops the
 * monitor, even when a test failed.
 */
#ifndef KORCH_TESTS_NODE_REAL_H
#define KORCH_TESTS_NODE_REAL_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "client/client.h"
#include "node/agent.h"

#define RN_NODE "node-real"
#define RN_IMAGE "korch.test/busybox:1"

struct rn {
	char dir[64];                   /* temporary directory */
	char data[96];                  /* DIR/data: images/, root/, logs/ */
	char run[96];                   /* DIR/run: the monitor's */
	char state[128];                /* DIR/state.db */
	char instance[32];              /* the cgroup parent korch-INSTANCE of this test */
	korch_clock *clock;             /* real */
	korch_loop *loop;               /* the test's own */
	struct store *store;            /* on loop */
	struct client *client;          /* writes pods */
	struct node_backend *backend;   /* the in-process agent's */
	struct node_agent *agent;       /* in-process, or NULL */
	struct node_agent_options opts; /* what rn_start_agent uses */
	pid_t helper;                   /* an agent in its own process (node-agent), or 0 */
};

/* Prints the TAP skip and returns true when not root. */
bool rn_skip(void);
void rn_init(struct rn *t);
void rn_start_agent(struct rn *t);
void rn_stop_agent(struct rn *t);
/* Starts tests/node/node-agent over the same state and run dir; extra args NULL-terminated. */
void rn_start_helper(struct rn *t, ...) __attribute__((sentinel));
/* SIGKILLs the helper (it cleans nothing up) and reaps it. */
void rn_kill_helper(struct rn *t);
void rn_fini(struct rn *t);

/* A pod's uid ("" when it does not exist); caller frees. */
char *rn_uid(struct rn *t, const char *name);
/* Dispatches the test's loop for ms milliseconds. */
void rn_run_for(struct rn *t, int ms);
void rn_create(struct rn *t, const char *json_text);
void rn_delete(struct rn *t, const char *name, long long grace);
void rn_update_configmap(struct rn *t, const char *name, const char *key, const char *value);
json_t *rn_status(struct rn *t, const char *name, const char *path);
const char *rn_status_str(struct rn *t, const char *name, const char *path);
long long rn_status_int(struct rn *t, const char *name, const char *path);
const char *rn_condition(struct rn *t, const char *name, const char *type);
/* Waits (dispatching) until the status string at path equals value. */
bool rn_wait_str(struct rn *t, const char *name, const char *path, const char *value, int ms);
bool rn_wait_int(struct rn *t, const char *name, const char *path, long long value, int ms);
bool rn_wait_condition(struct rn *t, const char *name, const char *type, const char *value, int ms);
bool rn_wait_gone(struct rn *t, const char *name, int ms);
/* A container's log as kubectl logs prints it (attempt: its restart count; tail < 0: all). */
char *rn_log(struct rn *t, const char *pod, const char *container, unsigned attempt, long tail,
	     bool timestamps);
/* Waits until the current instance's log holds text. */
bool rn_wait_log(struct rn *t, const char *pod, const char *container, const char *text, int ms);
/* A file of a volume of the pod (plugin "empty-dir", "configmap"...); caller frees. */
char *rn_volume_file(struct rn *t, const char *pod, const char *plugin, const char *vol,
		     const char *file);
char *rn_read(const char *path);
/* The monitor's view of a container: its state object (caller's), or NULL. */
json_t *rn_monitor_state(struct rn *t, const char *container_id);

#endif
