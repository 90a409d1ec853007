/*
 * harness.h - what the scheduler tests share: a store, loop and client on the test clock, a
 * scheduler over them, objects written from YAML, and the loop pumped until nothing is left to
 * do.
 */
#ifndef KORCH_TESTS_SCHEDULER_HARNESS_H
#define KORCH_TESTS_SCHEDULER_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/loop.h>
#include "client/client.h"
#include "scheduler/scheduler.h"

/* 2026-11-26T15:41:00Z */
#define T0 (1795707660LL * NSEC_PER_SEC)

struct env {
	char dir[64];
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
	struct scheduler *sched;
};

/* A fresh store with the "default" namespace; no scheduler yet. */
void env_init(struct env *e);
/* Creates and starts a scheduler (opts may be NULL; a fixed seed is used when it has none). */
void env_start(struct env *e, const struct scheduler_options *opts);
void env_fini(struct env *e);

/* Creates (or server-side applies, when apply) every YAML document of text; fails the test on error. */
void env_apply(struct env *e, const char *text);
/* Creates a node with cpu (cores), memory ("4Gi"), pods, and extra YAML merged into it. */
void env_node(struct env *e, const char *name, const char *cpu, const char *memory, int pods,
	      const char *labels, const char *extra_spec, const char *extra_status);
/* Creates a pod in "default" from its spec (YAML, indented by 2) and labels ("{a: b}" or NULL). */
void env_pod(struct env *e, const char *name, const char *labels, const char *spec);

/* Dispatches until the loop has nothing ready several times in a row. */
void env_pump(struct env *e);
/* Moves the test clock forward by delta_ns, running what falls due, then pumps. */
void env_advance(struct env *e, int64_t delta_ns);

/* The stored pod (caller's reference) or NULL. */
json_t *env_get_pod(struct env *e, const char *name);
/* spec.nodeName of a pod ("" unassigned, NULL missing); a static buffer. */
const char *env_pod_node(struct env *e, const char *name);
/* The PodScheduled=False message ("" when none); a static buffer. */
const char *env_pod_message(struct env *e, const char *name);
/* status.nominatedNodeName ("" when none); a static buffer. */
const char *env_pod_nominated(struct env *e, const char *name);
/* Whether the pod has a deletionTimestamp. */
bool env_pod_deleting(struct env *e, const char *name);
/* Deletes a pod at once (what the node agent does once its containers stopped). */
void env_delete_pod_now(struct env *e, const char *name);
/* Events (reason:message lines, oldest first) about a pod; caller frees. */
char *env_pod_events(struct env *e, const char *name);

#endif
