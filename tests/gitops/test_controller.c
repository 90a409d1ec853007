/*
 * The GitOps controller on the test clock, with real repositories and real fetches on the
 * worker pool: the first sync, the interval, a fetch that finds nothing new writing nothing,
 * drift put back at once on the watch event, a workload's status feeding the health, spec
 * changes and sync requests, suspension, back-off after failures, a deleted repository, and
 * the inventory following (or kept by) each commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "api/codec.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/pool.h"
#include "base/strbuf.h"
#include "controller/controller.h"
#include "gitops/controller.h"
#include "repo.h"
#include "test-util.h"

/* 2026-03-01T00:00:00Z */
#define T0 (1772323200LL * NSEC_PER_SEC)

struct cenv {
	char dir[64];
	char repo_path[128];
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
	struct pool *pool;
	struct gitops_controller *gc;
	struct test_repo repo;
	struct strbuf log; /* one line per sync report */
	int syncs;         /* reports so far */
};

static void
on_sync(const struct gitops_sync_report *r, void *userdata)
{
	struct cenv *e = userdata;
	e->syncs++;
	strbuf_printf(&e->log, "%s/%s %s %s rev=%s c=%zu u=%zu p=%zu status=%s%s%s\n", r->ns,
		      r->name, r->fetched ? "fetch" : "drift", gitops_reason_name(r->reason),
		      r->revision ? "yes" : "no", r->created, r->configured, r->pruned,
		      r->status_written ? "written" : "same", r->message ? " " : "",
		      r->message ? r->message : "");
}

/* Server-side apply; another manager than korch-gitops takes fields over (forced), as a user
 * who means it does. */
static void
apply(struct cenv *e, const char *manager, const char *text)
{
	_cleanup_json_ json_t *obj = test_yaml(text);
	struct client_write_opts wo = { .field_manager = manager, .force = true };
	korch_error *err = NULL;
	if (client_apply(e->client, obj, &wo, NULL, &err) < 0)
		fail_msg("apply: %s", korch_error_message(err));
}

static int
setup(void **state)
{
	struct cenv *e = calloc(1, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/korch-test-gitopsctl-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->repo_path, sizeof(e->repo_path), "%s/repo", e->dir);
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", e->dir);
	assert_int_equal(korch_clock_new_test(T0, &e->clock, NULL), 0);
	assert_int_equal(korch_loop_new(e->clock, &e->loop, NULL), 0);
	struct store_options so = { .loop = e->loop,
				    .sync_normal = true,
				    .poll_interval_ms = -1,
				    .compact_keep_revisions = -1 };
	assert_int_equal(store_open(path, &so, &e->store, NULL), 0);
	assert_int_equal(client_new_local(e->store, e->clock, &e->client, NULL), 0);
	assert_int_equal(pool_new(e->loop, 2, &e->pool, NULL), 0);
	apply(e, "test", "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n");
	struct gitops_controller_options o = { .data_dir = e->dir,
					       .on_sync = on_sync,
					       .userdata = e };
	assert_int_equal(gitops_controller_new(e->client, e->loop, e->pool, &o, &e->gc, NULL), 0);
	trepo_init(&e->repo, e->repo_path, false);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct cenv *e = *state;
	gitops_controller_free(e->gc);
	pool_free(e->pool);
	client_free(e->client);
	store_close(e->store);
	korch_loop_free(e->loop);
	korch_clock_free(e->clock);
	trepo_free(&e->repo);
	strbuf_free(&e->log);
	rm_rf(e->dir, NULL);
	free(e);
	return 0;
}

/* Runs the loop until n reports came in (fetches run on real threads: real time). */
static void
wait_syncs(struct cenv *e, int n)
{
	for (int i = 0; i < 300 && e->syncs < n; i++)
		assert_true(korch_loop_dispatch(e->loop, 50, NULL) >= 0);
	if (e->syncs < n)
		fail_msg("%d syncs of %d; log:\n%s", e->syncs, n, strbuf_str(&e->log));
	/* Let the watches deliver what the sync wrote. */
	for (int i = 0; i < 5; i++)
		korch_loop_dispatch(e->loop, 0, NULL);
}

/* Runs what is ready without waiting for fetches (nothing is expected to start). */
static void
pump(struct cenv *e)
{
	for (int i = 0; i < 10; i++)
		korch_loop_dispatch(e->loop, 20, NULL);
}

static void
advance(struct cenv *e, int64_t seconds)
{
	assert_int_equal(korch_loop_advance(e->loop, seconds * NSEC_PER_SEC, NULL), 0);
}

static int64_t
revision(struct cenv *e)
{
	int64_t rev = 0;
	assert_int_equal(store_revision(e->store, &rev, NULL, NULL), 0);
	return rev;
}

static json_t *
get(struct cenv *e, const char *av, const char *kind, const char *name)
{
	json_t *obj = NULL;
	if (client_get(e->client, kind_lookup(av, kind), "default", name, &obj, NULL) < 0)
		return NULL;
	return obj;
}

static const char *
image_of(const json_t *d)
{
	const json_t *spec =
		json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec");
	return json_string_value(
		json_object_get(json_array_get(json_object_get(spec, "containers"), 0), "image"));
}

static const char *
status_str(const json_t *repo, const char *field)
{
	return json_string_value(json_object_get(json_object_get(repo, "status"), field));
}

static void
assert_log(struct cenv *e, const char *want)
{
	assert_string_equal(strbuf_str(&e->log), want);
	strbuf_truncate(&e->log, 0);
}

static void
commit_web(struct cenv *e, const char *image, char *sha)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
		 "  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n"
		 "      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n"
		 "        image: %s\n",
		 image);
	trepo_put(&e->repo, "deploy/web.yaml", text);
	trepo_put(&e->repo, "deploy/config.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
		  "data:\n  color: blue\n");
	trepo_commit(&e->repo, "main", "web", sha);
}

static void
add_repo(struct cenv *e, const char *extra)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "apiVersion: gitops.korch.io/v1\nkind: GitRepository\n"
		 "metadata: {name: apps, namespace: default}\n"
		 "spec:\n  url: %s\n  path: deploy\n  interval: 1m\n%s",
		 e->repo_path, extra ? extra : "");
	apply(e, "test", text);
}

/* A first sync, then: the interval, a new commit, a fetch that changes nothing. */
static void
test_interval(void **state)
{
	struct cenv *e = *state;
	char sha1[41], sha2[41];
	commit_web(e, "registry.example/web:1", sha1);
	add_repo(e, NULL);
	assert_int_equal(gitops_controller_start(e->gc, NULL), 0);
	wait_syncs(e, 1);
	assert_log(e, "default/apps fetch Succeeded rev=yes c=2 u=0 p=0 status=written\n");
	_cleanup_json_ json_t *repo = get(e, "gitops.korch.io/v1", "GitRepository", "apps");
	assert_string_equal(status_str(repo, "lastAppliedCommit"), sha1);

	commit_web(e, "registry.example/web:2", sha2);
	advance(e, 30);
	pump(e);
	assert_int_equal(e->syncs, 1);
	advance(e, 31);
	wait_syncs(e, 2);
	assert_log(e, "default/apps fetch Succeeded rev=yes c=0 u=1 p=0 status=written\n");
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "web");
	assert_string_equal(image_of(d), "registry.example/web:2");

	/* The next interval finds the same commit: nothing is written at all. */
	int64_t rev = revision(e);
	advance(e, 61);
	wait_syncs(e, 3);
	assert_log(e, "default/apps fetch Succeeded rev=no c=0 u=0 p=0 status=same\n");
	assert_int_equal(revision(e), rev);
}

/* The status inventory of the GitRepository: "Kind/name ..." in its order. */
static char *
inventory_of(struct cenv *e)
{
	_cleanup_json_ json_t *repo = get(e, "gitops.korch.io/v1", "GitRepository", "apps");
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *entry;
	json_array_foreach (json_object_get(json_object_get(repo, "status"), "inventory"), i, entry)
		strbuf_printf(&sb, "%s%s/%s", i ? " " : "",
			      json_string_value(json_object_get(entry, "kind")),
			      json_string_value(json_object_get(entry, "name")));
	return strbuf_steal(&sb);
}

/* A commit that only changes what objects say keeps the inventory; one that adds, removes or
 * swaps an object (the same name as another kind) has it follow. */
static void
test_inventory(void **state)
{
	struct cenv *e = *state;
	char sha[41];
	commit_web(e, "registry.example/web:1", sha);
	add_repo(e, NULL);
	assert_int_equal(gitops_controller_start(e->gc, NULL), 0);
	wait_syncs(e, 1);
	char *inv = inventory_of(e);
	assert_string_equal(inv, "ConfigMap/settings Deployment/web");
	free(inv);

	commit_web(e, "registry.example/web:2", sha);
	gitops_controller_sync_now(e->gc, "default", "apps");
	wait_syncs(e, 2);
	assert_log(e, "default/apps fetch Succeeded rev=yes c=2 u=0 p=0 status=written\n"
		      "default/apps fetch Succeeded rev=yes c=0 u=1 p=0 status=written\n");
	inv = inventory_of(e);
	assert_string_equal(inv, "ConfigMap/settings Deployment/web");
	free(inv);

	trepo_put(&e->repo, "deploy/extra.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n");
	trepo_commit(&e->repo, "main", "extra", sha);
	gitops_controller_sync_now(e->gc, "default", "apps");
	wait_syncs(e, 3);
	inv = inventory_of(e);
	assert_string_equal(inv, "ConfigMap/extra ConfigMap/settings Deployment/web");
	free(inv);

	/* The same number of objects, one of them another kind: not the same inventory. */
	trepo_rm(&e->repo, "deploy/extra.yaml");
	trepo_put(&e->repo, "deploy/config.yaml",
		  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: settings\n"
		  "stringData:\n  color: blue\n");
	trepo_put(&e->repo, "deploy/more.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more\ndata:\n  a: b\n");
	trepo_commit(&e->repo, "main", "swap", sha);
	gitops_controller_sync_now(e->gc, "default", "apps");
	wait_syncs(e, 4);
	assert_log(e, "default/apps fetch Succeeded rev=yes c=1 u=0 p=0 status=written\n"
		      "default/apps fetch Succeeded rev=yes c=2 u=0 p=2 status=written\n");
	inv = inventory_of(e);
	assert_string_equal(inv, "ConfigMap/more Secret/settings Deployment/web");
	free(inv);
	_cleanup_json_ json_t *gone = get(e, "v1", "ConfigMap", "settings");
	assert_null(gone);
}

/* Drift is put back on the watch event, without waiting for the interval. */
static void
test_drift_at_once(void **state)
{
	struct cenv *e = *state;
	char sha[41];
	commit_web(e, "registry.example/web:1", sha);
	add_repo(e, NULL);
	assert_int_equal(gitops_controller_start(e->gc, NULL), 0);
	wait_syncs(e, 1);
	strbuf_truncate(&e->log, 0);
	pump(e);
	assert_int_equal(e->syncs, 1);

	apply(e, "kubectl-edit",
	      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n"
	      "spec:\n  template:\n    spec:\n      containers:\n      - name: web\n"
	      "        image: evil:1\n");
	_cleanup_json_ json_t *changed = get(e, "apps/v1", "Deployment", "web");
	assert_string_equal(image_of(changed), "evil:1");
	wait_syncs(e, 2);
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "web");
	assert_string_equal(image_of(d), "registry.example/web:1");
	assert_log(e, "default/apps drift Succeeded rev=yes c=0 u=1 p=0 status=same\n");

	/* A deleted object comes back at once too. */
	assert_int_equal(client_delete(e->client, kind_lookup("v1", "ConfigMap"), "default",
				       "settings", NULL, NULL, NULL),
			 0);
	wait_syncs(e, 3);
	_cleanup_json_ json_t *cm = get(e, "v1", "ConfigMap", "settings");
	assert_non_null(cm);
	assert_log(e, "default/apps drift Succeeded rev=yes c=1 u=0 p=0 status=same\n");

	/* Its labels removed by hand: it leaves the informer's selection, and comes back. */
	_cleanup_json_ json_t *unlabel =
		json_pack("{s:{s:{s:n}}}", "metadata", "labels", "gitops.korch.io/name");
	struct client_write_opts by_hand = { .field_manager = "kubectl-edit" };
	assert_int_equal(client_patch(e->client, kind_lookup("v1", "ConfigMap"), "default",
				      "settings", CLIENT_PATCH_MERGE, unlabel, NULL, &by_hand, NULL,
				      NULL),
			 0);
	wait_syncs(e, 4);
	assert_log(e, "default/apps drift Succeeded rev=yes c=0 u=1 p=0 status=same\n");
	_cleanup_json_ json_t *relabelled = get(e, "v1", "ConfigMap", "settings");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(relabelled, "metadata"), "labels"),
			"gitops.korch.io/name")),
		"apps");

	/* The deployment controller reports the rollout done: the health changes, no object. */
	json_int_t generation =
		json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation"));
	assert_int_equal(generation, 3); /* the edit and its correction */
	json_t *status =
		json_pack("{s:I, s:i, s:i, s:i, s:i}", "observedGeneration", generation, "replicas",
			  1, "updatedReplicas", 1, "readyReplicas", 1, "availableReplicas", 1);
	json_t *copy = json_deep_copy(d);
	json_object_set_new(copy, "status", status);
	assert_int_equal(client_update(e->client, copy, "status", NULL, NULL, NULL), 0);
	json_decref(copy);
	wait_syncs(e, 5);
	assert_log(e, "default/apps drift Succeeded rev=no c=0 u=0 p=0 status=written\n");
	_cleanup_json_ json_t *repo = get(e, "gitops.korch.io/v1", "GitRepository", "apps");
	const json_t *conds = json_object_get(json_object_get(repo, "status"), "conditions");
	assert_string_equal(json_string_value(json_object_get(json_array_get(conds, 0), "status")),
			    "True");

	/* Nothing else happens by itself. */
	int64_t rev = revision(e);
	pump(e);
	assert_int_equal(e->syncs, 5);
	assert_int_equal(revision(e), rev);
}

/* A spec change, and a sync request, are handled at once. */
static void
test_spec_change_and_request(void **state)
{
	struct cenv *e = *state;
	char sha[41];
	commit_web(e, "registry.example/web:1", sha);
	trepo_put(&e->repo, "other/cm.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n");
	trepo_commit(&e->repo, "main", "other", sha);
	add_repo(e, NULL);
	assert_int_equal(gitops_controller_start(e->gc, NULL), 0);
	wait_syncs(e, 1);
	strbuf_truncate(&e->log, 0);

	char text[1024];
	snprintf(text, sizeof(text),
		 "apiVersion: gitops.korch.io/v1\nkind: GitRepository\n"
		 "metadata: {name: apps, namespace: default}\n"
		 "spec:\n  url: %s\n  path: other\n  interval: 1m\n",
		 e->repo_path);
	apply(e, "test", text);
	wait_syncs(e, 2);
	assert_log(e, "default/apps fetch Succeeded rev=yes c=1 u=0 p=2 status=written\n");
	_cleanup_json_ json_t *gone = get(e, "apps/v1", "Deployment", "web");
	assert_null(gone);

	apply(e, "kubectl-annotate",
	      "apiVersion: gitops.korch.io/v1\nkind: GitRepository\nmetadata:\n  name: apps\n"
	      "  namespace: default\n  annotations: {gitops.korch.io/sync-requested-at: now-1}\n");
	wait_syncs(e, 3);
	assert_log(e, "default/apps fetch Succeeded rev=no c=0 u=0 p=0 status=written\n");
	_cleanup_json_ json_t *repo = get(e, "gitops.korch.io/v1", "GitRepository", "apps");
	assert_string_equal(status_str(repo, "lastHandledSyncRequest"), "now-1");
	pump(e);
	assert_int_equal(e->syncs, 3);
}

static void
test_suspend(void **state)
{
	struct cenv *e = *state;
	char sha[41];
	commit_web(e, "registry.example/web:1", sha);
	add_repo(e, "  suspend: true\n");
	assert_int_equal(gitops_controller_start(e->gc, NULL), 0);
	pump(e);
	advance(e, 120);
	pump(e);
	assert_int_equal(e->syncs, 0);
	_cleanup_json_ json_t *none = get(e, "apps/v1", "Deployment", "web");
	assert_null(none);
	add_repo(e, "  suspend: false\n");
	wait_syncs(e, 1);
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "web");
	assert_non_null(d);
}

/* A failing repository is retried after 1 s, 2 s, 4 s...; the same failure writes nothing. */
static void
test_backoff(void **state)
{
	struct cenv *e = *state;
	char text[1024];
	snprintf(text, sizeof(text),
		 "apiVersion: gitops.korch.io/v1\nkind: GitRepository\n"
		 "metadata: {name: apps, namespace: default}\n"
		 "spec:\n  url: %s/nope\n  interval: 1h\n",
		 e->dir);
	apply(e, "test", text);
	assert_int_equal(gitops_controller_start(e->gc, NULL), 0);
	wait_syncs(e, 1);
	assert_non_null(strstr(strbuf_str(&e->log), " fetch FetchFailed rev=no c=0 u=0 p=0 "
						    "status=written fetch "));
	strbuf_truncate(&e->log, 0);
	int64_t rev = revision(e);
	advance(e, 1);
	wait_syncs(e, 2);
	assert_non_null(strstr(strbuf_str(&e->log), " status=same fetch "));
	advance(e, 1);
	pump(e);
	assert_int_equal(e->syncs, 2);
	advance(e, 1);
	wait_syncs(e, 3);
	assert_int_equal(revision(e), rev);
	/* The repository appears: the next retry applies it. */
	char sha[41];
	struct test_repo late;
	char late_path[160];
	snprintf(late_path, sizeof(late_path), "%s/nope", e->dir);
	trepo_init(&late, late_path, true);
	trepo_put(&late, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late\n");
	trepo_commit(&late, "main", "late", sha);
	trepo_free(&late);
	advance(e, 4);
	wait_syncs(e, 4);
	_cleanup_json_ json_t *cm = get(e, "v1", "ConfigMap", "late");
	assert_non_null(cm);
}

/* Whether dir has an entry whose name starts with prefix. */
static bool
has_entry(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	struct dirent *de;
	while ((de = readdir(d)))
		found |= strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return found;
}

static void
test_deleted(void **state)
{
	struct cenv *e = *state;
	char sha[41];
	commit_web(e, "registry.example/web:1", sha);
	add_repo(e, NULL);
	assert_int_equal(gitops_controller_start(e->gc, NULL), 0);
	wait_syncs(e, 1);
	char cache[256];
	snprintf(cache, sizeof(cache), "%s/gitops/default", e->dir);
	struct stat st;
	assert_int_equal(stat(cache, &st), 0);
	assert_int_equal(client_delete(e->client,
				       kind_lookup("gitops.korch.io/v1", "GitRepository"),
				       "default", "apps", NULL, NULL, NULL),
			 0);
	pump(e);
	/* The objects stay (no finalizer prunes them); the cache goes. */
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "web");
	assert_non_null(d);
	/* The removal runs on the pool. */
	bool gone = false;
	for (int i = 0; i < 100 && !gone; i++) {
		korch_loop_dispatch(e->loop, 20, NULL);
		gone = !has_entry(cache, "apps-");
	}
	assert_true(gone);
	/* Changing the objects now does nothing. */
	apply(e, "kubectl-edit",
	      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\n"
	      "data: {color: red}\n");
	pump(e);
	assert_int_equal(e->syncs, 1);
}

/* The images of the ReplicaSets in default and their spec.replicas, by image: "IMAGE=N ...". */
static char *
replicasets(struct cenv *e)
{
	_cleanup_json_ json_t *list = NULL;
	assert_int_equal(client_list(e->client, kind_lookup("apps/v1", "ReplicaSet"), "default",
				     NULL, &list, NULL),
			 0);
	struct strbuf out = STRBUF_INIT;
	char lines[8][160];
	size_t n = 0;
	json_t *rs;
	size_t i;
	json_array_foreach (json_object_get(list, "items"), i, rs) {
		if (n == 8)
			break;
		snprintf(lines[n++], sizeof(lines[0]), "%s=%lld", image_of(rs),
			 (long long)json_integer_value(
				 json_object_get(json_object_get(rs, "spec"), "replicas")));
	}
	qsort(lines, n, sizeof(lines[0]), (int (*)(const void *, const void *))strcmp);
	for (i = 0; i < n; i++)
		strbuf_printf(&out, "%s%s", i ? " " : "", lines[i]);
	return strbuf_steal(&out);
}

/* Runs the loop (real time for the fetches) until what(e) is want. */
static void
wait_for(struct cenv *e, char *(*what)(struct cenv *e), const char *want)
{
	char *got = NULL;
	for (int i = 0; i < 300; i++) {
		free(got);
		got = what(e);
		if (strcmp(got, want) == 0)
			break;
		korch_loop_dispatch(e->loop, 50, NULL);
	}
	assert_string_equal(got, want);
	free(got);
}

/* The Ready condition "STATUS|REASON|MESSAGE" of the GitRepository. */
static char *
ready(struct cenv *e)
{
	_cleanup_json_ json_t *repo = get(e, "gitops.korch.io/v1", "GitRepository", "apps");
	json_t *c;
	size_t i;
	json_array_foreach (json_object_get(json_object_get(repo, "status"), "conditions"), i, c) {
		if (strcmp(json_string_value(json_object_get(c, "type")), "Ready") != 0)
			continue;
		char *out = NULL;
		assert_true(asprintf(&out, "%s|%s|%s",
				     json_string_value(json_object_get(c, "status")),
				     json_string_value(json_object_get(c, "reason")),
				     json_string_value(json_object_get(c, "message"))) > 0);
		return out;
	}
	return strdup("(none)");
}

/*
 * Started as korchd starts it (gitops_controller_run: its own pool, no report hook), beside
 * lib/controller's deployment and replicaset controllers: a commit changing an image rolls the
 * Deployment (a second ReplicaSet, for the new image), the repository reports the rollout as
 * progress, and what the deployment controller writes to the Deployment (its revision
 * annotation, its status) is not drift: once settled nothing writes any more.
 */
static void
test_rollout(void **state)
{
	struct cenv *e = *state;
	gitops_controller_free(e->gc);
	e->gc = NULL;
	char sha1[41], sha2[41], want[512];
	commit_web(e, "registry.example/web:1", sha1);
	add_repo(e, NULL);
	const char *const names[] = { "deployment", "replicaset", NULL };
	struct controller_manager_options mo = { .no_leader_election = true, .controllers = names };
	struct controller_manager *cm = NULL;
	assert_int_equal(controller_manager_new(e->client, e->loop, &mo, &cm, NULL), 0);
	assert_int_equal(controller_manager_start(cm, NULL), 0);
	assert_int_equal(gitops_controller_run(e->client, e->loop, e->dir, &e->gc, NULL), 0);
	wait_for(e, replicasets, "registry.example/web:1=1");
	snprintf(want, sizeof(want),
		 "Unknown|Progressing|Applied revision main@sha1:%s; Deployment default/web: 0 of "
		 "1 replicas available",
		 sha1);
	wait_for(e, ready, want);

	commit_web(e, "registry.example/web:2", sha2);
	advance(e, 61);
	/* maxSurge 25% of 1 is 1, maxUnavailable 0: the new ReplicaSet beside the old one. */
	wait_for(e, replicasets, "registry.example/web:1=1 registry.example/web:2=1");
	_cleanup_json_ json_t *repo = get(e, "gitops.korch.io/v1", "GitRepository", "apps");
	assert_string_equal(status_str(repo, "lastAppliedCommit"), sha2);
	snprintf(want, sizeof(want),
		 "Unknown|Progressing|Applied revision main@sha1:%s; Deployment default/web: 0 of "
		 "1 replicas available",
		 sha2);
	wait_for(e, ready, want);

	/* Settled: the controllers and GitOps leave each other alone. */
	pump(e);
	int64_t rev = revision(e);
	pump(e);
	assert_int_equal(revision(e), rev);
	gitops_controller_free(e->gc);
	e->gc = NULL;
	controller_manager_free(cm);
}

/*
 * Freed while its first fetch may still run on its own pool: the free waits for it, and
 * nothing of it is left (valgrind and ASan see to that); the fetch wrote nothing.
 */
static void
test_run_free_busy(void **state)
{
	struct cenv *e = *state;
	gitops_controller_free(e->gc);
	e->gc = NULL;
	char sha[41];
	commit_web(e, "registry.example/web:1", sha);
	add_repo(e, NULL);
	int64_t rev = revision(e);
	assert_int_equal(gitops_controller_run(e->client, e->loop, e->dir, &e->gc, NULL), 0);
	korch_loop_dispatch(e->loop, 0, NULL);
	korch_loop_dispatch(e->loop, 0, NULL);
	gitops_controller_free(e->gc);
	e->gc = NULL;
	assert_int_equal(revision(e), rev);
	pump(e);
	assert_int_equal(revision(e), rev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drift_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spec_change_and_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_free_busy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
