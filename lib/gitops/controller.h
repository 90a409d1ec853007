/*
 * controller.h - the GitOps controller: keeps every GitRepository's objects equal to its git
 * commit, in the control-plane process (korchd starts it beside the other controllers).
 *
 * For each GitRepository (an informer over all namespaces) it fetches on spec.interval, at once
 * when the spec changes or when the annotation gitops.korch.io/sync-requested-at gets a new
 * value, on the worker pool (libgit2 blocks); then, on the loop, applies what changed in one
 * transaction (lib/gitops/sync.c). It watches the kinds of every inventory (an informer per
 * kind, selecting the gitops.korch.io/name label): an applied object that someone else changes
 * or deletes is put back at once (only the fields git sets: forced server-side apply), and a
 * workload's status change updates the repository's health. A repository whose commit did not
 * change and whose objects nobody touched costs a fetch that transfers nothing, and writes
 * nothing. Failed syncs are retried with back-off (1 s doubling to 5 minutes, and at least every
 * spec.interval).
 */
#ifndef KORCH_GITOPS_CONTROLLER_H
#define KORCH_GITOPS_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/loop.h>
#include "base/macro.h"
#include "base/pool.h"
#include "client/client.h"
#include "gitops/gitops.h"

struct gitops_controller;

/* What one sync did, for whoever wants to know (korchd's log, tests, the benchmark). */
struct gitops_sync_report {
	const char *ns;                     /* the GitRepository's namespace */
	const char *name;                   /* and name */
	bool fetched;                       /* a fetch ran (false: a drift correction) */
	const char *commit;                 /* the commit fetched or applied, or NULL */
	enum gitops_reason reason;          /* GITOPS_OK, or why the sync failed */
	const char *message;                /* the error, or NULL */
	int64_t revision;                   /* the transaction's revision; 0: nothing applied */
	size_t created, configured, pruned; /* what the transaction did */
	bool status_written;                /* the status changed */
};

typedef void (*gitops_sync_fn)(const struct gitops_sync_report *r, void *userdata);

struct gitops_controller_options {
	const char *data_dir;   /* required: the caches go to DATA_DIR/gitops */
	gitops_sync_fn on_sync; /* called after every sync, on the loop; or NULL */
	void *userdata;         /* passed to on_sync */
};

/*
 * A controller over client (whose store runs its watches on loop), with pool for the fetches.
 * All three are borrowed: the controller must be freed before them (its pending fetches are
 * then canceled; their completions, which run when the pool finishes them, only free memory).
 * pool may be NULL: the controller then makes its own (two threads), and freeing the
 * controller waits for the fetch running on it, which stops at its next transfer callback.
 */
int gitops_controller_new(struct client *client, korch_loop *loop, struct pool *pool,
			  const struct gitops_controller_options *opts,
			  struct gitops_controller **ret, korch_error **err);

/* Starts the informers; syncs begin on the loop. */
int gitops_controller_start(struct gitops_controller *gc, korch_error **err);

/*
 * What korchd (or an embedding program) calls: a controller over client on loop, with its own
 * worker pool, its caches under DATA_DIR/gitops, started. As controller_manager_new() and
 * _start(), client must be over a store opened with loop. Free with gitops_controller_free()
 * before the client, store and loop.
 *
 *     struct gitops_controller *gc;
 *     gitops_controller_run(client, loop, "/var/lib/korch", &gc, &err);
 *     ... korch_loop_run(loop) ...
 *     gitops_controller_free(gc);
 *
 * It takes no leader Lease: run one per store (korchd runs one).
 */
int gitops_controller_run(struct client *client, korch_loop *loop, const char *data_dir,
			  struct gitops_controller **ret, korch_error **err);

/*
 * Asks for a fetch and sync of ns/name as soon as the loop gets to it, as a sync request does
 * but without writing to the object (korchd's signal handler, the benchmark).
 */
void gitops_controller_sync_now(struct gitops_controller *gc, const char *ns, const char *name);

void gitops_controller_free(struct gitops_controller *gc);

DEFINE_CLEANUP_FUNC(gitops_controller_free, struct gitops_controller, gitops_controller_free)

#endif
