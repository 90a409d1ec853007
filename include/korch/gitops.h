/*
 * korch/gitops.h - GitOps on demand: sync a GitRepository (gitops.korch.io/v1) now, in the
 * calling process, or see what a sync would change.
 *
 * A GitRepository names a git repository (a local path, file://, https:// or ssh:// URL), a
 * branch, tag or commit, and a folder in it. A sync fetches into a bare cache under
 * DATA_DIR/gitops (only what is new), reads every *.yaml, *.yml and *.json file under the folder
 * from the commit's tree, and applies all the objects in one transaction (server-side apply,
 * field manager "korch-gitops"), deleting the objects an earlier commit created that left git
 * (spec.prune). The outcome goes into the GitRepository's status: lastAppliedCommit,
 * lastAttemptedCommit, the inventory, and the conditions Ready, Healthy and Reconciling.
 *
 * korchd's controller does the same on spec.interval and whenever an applied object is changed
 * by someone else; these functions are the offline case (a state file, korchctl --state).
 */
#ifndef KORCH_GITOPS_H
#define KORCH_GITOPS_H

#include <korch/client.h>
#include <korch/common.h>
#include <korch/object.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options for korch_gitops_sync() and korch_gitops_diff(); initialise with KORCH_GITOPS_OPTIONS_INIT. */
typedef struct korch_gitops_options {
	unsigned int version; /**< KORCH_GITOPS_OPTIONS_VERSION */
	/** The data dir whose gitops/ folder holds the git caches; NULL: the state file's folder. */
	const char *data_dir;
} korch_gitops_options;

#define KORCH_GITOPS_OPTIONS_VERSION 1
#define KORCH_GITOPS_OPTIONS_INIT                  \
	{                                          \
		KORCH_GITOPS_OPTIONS_VERSION, NULL \
	}

/**
 * Syncs the GitRepository ns/name now: fetches, applies the commit's objects in one
 * transaction (all or none), prunes, and records the outcome in its status and in Events. An
 * unchanged commit whose objects nobody changed writes nothing at all.
 *
 * *ret (may be NULL) receives the GitRepository as the sync left it. Errors: KORCH_ENOTFOUND
 * when there is no such GitRepository, or the ref is not in the repository; KORCH_EINVALID when
 * it is suspended (spec.suspend) or a manifest is bad (the message names the file and line);
 * KORCH_ESYSTEM when the repository cannot be fetched; the API's code (with its message after
 * "FILE:LINE: ") when it refuses an object; KORCH_EUNSUPPORTED for a client that is not over a
 * state file. A failed sync still records its reason in the status.
 */
KORCH_EXPORT int korch_gitops_sync(korch_client *c, const char *ns, const char *name,
				   const korch_gitops_options *opts, korch_object **ret,
				   korch_error **err);

/**
 * What a sync of ns/name would change, without changing anything (the fetch itself does fill
 * the cache). *ret receives {"commit": SHA, "revision": "main@sha1:SHA", "unchanged": N,
 * "items": [...]}, each item {"action": "create" | "configure" | "prune", "apiVersion",
 * "kind", "namespace", "name", "file", "line", "changes": [{"path", "old", "new"}]} (changes
 * for "configure": the fields whose value would change, "old" or "new" absent where the field
 * is). Errors as for korch_gitops_sync(), suspension aside.
 */
KORCH_EXPORT int korch_gitops_diff(korch_client *c, const char *ns, const char *name,
				   const korch_gitops_options *opts, korch_object **ret,
				   korch_error **err);

#ifdef __cplusplus
}
#endif

#endif
