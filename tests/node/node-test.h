/*
 * node-test.h - what the node agent's unit tests share: a state in a temporary directory, the
 * test clock, the simulated runtime and an agent on top, all torn down even on failure; pods
 * created bound to the node; the loop pumped and the clock advanced.
 */
#ifndef KORCH_TESTS_NODE_TEST_H
#define KORCH_TESTS_NODE_TEST_H

#include <stdbool.h>
#include <jansson.h>
#include "client/client.h"
#include "node/agent.h"
#include "node/backend-sim.h"

#define NT_NODE "node-1"

struct nt {
	char dir[64];                   /* temporary directory (state.db, root/, logs/) */
	char root[96];                  /* the agent's root dir */
	char logs[96];                  /* the agent's log dir */
	korch_clock *clock;             /* test clock */
	korch_loop *loop;               /* the loop everything runs on */
	struct store *store;            /* state */
	struct client *client;          /* the write path */
	struct node_backend *backend;   /* simulated */
	struct sim_backend *sim;        /* its test API */
	struct node_agent *agent;       /* under test */
	struct node_agent_options opts; /* what nt_start_agent uses */
};

/* Everything but the agent; opts filled with defaults (eviction off). */
void nt_init(struct nt *t);
/* Makes and starts the agent with t->opts, and pumps. */
void nt_start_agent(struct nt *t);
/* Frees the agent only (the backend keeps running: an agent restart). */
void nt_stop_agent(struct nt *t);
void nt_fini(struct nt *t);

/* Dispatches until nothing is ready. */
void nt_pump(struct nt *t);
/* Moves the test clock forward (seconds), running what is due on the way. */
void nt_advance(struct nt *t, double seconds);
/* Seconds of loop time since the start of the test. */
double nt_now(struct nt *t);

/* Creates an object from JSON text (a pod gets spec.nodeName = NT_NODE if it has none). */
void nt_create(struct nt *t, const char *json_text);
/* The object, or NULL; the caller's reference. */
json_t *nt_get(struct nt *t, const char *kind, const char *ns, const char *name);
/* A pod's status field by dotted path ("phase", "containerStatuses.0.restartCount"). */
json_t *nt_status(struct nt *t, const char *name, const char *path);
const char *nt_status_str(struct nt *t, const char *name, const char *path);
long long nt_status_int(struct nt *t, const char *name, const char *path);
/* The status of condition type of pod name ("True"/"False"), or NULL. */
const char *nt_condition(struct nt *t, const char *name, const char *type);
/* resourceVersion of an object, for "nothing was written" checks. */
long long nt_rv(struct nt *t, const char *kind, const char *ns, const char *name);
/* Deletes a pod (grace -1: its own). */
void nt_delete(struct nt *t, const char *name, long long grace);

#endif
