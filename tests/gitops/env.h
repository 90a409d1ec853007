/*
 * env.h - what the GitOps tests share: a state file with its client in a temporary folder, a
 * git repository beside it, and helpers to read objects and the GitRepository's status.
 */
#ifndef KORCH_TEST_GITOPS_ENV_H
#define KORCH_TEST_GITOPS_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch.h>
#include "client/client.h"
#include "repo.h"

struct env {
	char dir[64];          /* the temporary folder */
	char state[128];       /* dir/state.db */
	char repo_path[128];   /* dir/repo */
	korch_client *kc;      /* the public client over the state */
	struct client *client; /* its write path */
	struct test_repo repo; /* the git repository */
};

/* Sets up *e with a repository (bare or not); tears it all down. */
void env_setup(struct env *e, bool bare);
void env_teardown(struct env *e);

/* Parses YAML (one document). */

/* Applies a GitRepository "apps" in default with url, then the YAML of extra spec fields. */
void add_repo(struct env *e, const char *url, const char *spec_yaml);

/* One sync of default/apps through korch_gitops_sync(); returns its code, *ret_err its error. */
int sync_repo(struct env *e, korch_error **ret_err);
/* Asserts the sync succeeded. */
void sync_ok(struct env *e);

/* The object (a new reference), or NULL. */
json_t *get(struct env *e, const char *api_version, const char *kind, const char *ns,
	    const char *name);
/* The GitRepository default/apps. */
json_t *get_repo(struct env *e);
/* A string at a dotted path of obj ("status.lastAppliedCommit"), or NULL. */
const char *str_at(const json_t *obj, const char *path);
/* The condition of the repository: status, reason and message joined by "|". */
char *condition_text(const json_t *repo, const char *type);
/* The store's revision. */
int64_t revision(struct env *e);
/* The Events of default/apps, "TYPE REASON: MESSAGE" one per line in creation order. */
char *events_text(struct env *e);

#endif
