/*
 * gitops-bench - GitOps figures on a repository of 1,000 manifests (one per file: ConfigMaps,
 * Deployments and Services), synced by the controller as korchd runs it (fetch on the worker
 * pool, apply on the loop, a durable store):
 *
 *   gitops.first_sync_1000_s         from start to the 1,000 objects applied and the status
 *   gitops.noop_sync_ms              a sync that finds the same commit (median): nothing written
 *   gitops.one_file_change_sync_ms   a commit changing one file (median)
 *   gitops.oneshot_noop_sync_ms      the same no-op through korch_gitops_sync() (korchctl's
 *                                    path, which plans every object), for comparison
 *
 *   gitops-bench DIR    (DIR: an empty scratch folder)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <git2.h>
#include <korch/gitops.h>

#include "base/error.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/pool.h"
#include "client/client.h"
#include "gitops/controller.h"

#define N_MANIFESTS 1000
#define NOOP_RUNS 21
#define CHANGE_RUNS 11

static void _printf_(1, 2) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "gitops-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
git_check(int rc, const char *what)
{
	if (rc < 0) {
		const git_error *e = git_error_last();
		die("%s: %s", what, e && e->message ? e->message : "libgit2 error");
	}
}

/* The manifest of file i, at version v. */
static void
manifest(int i, int v, char *buf, size_t len)
{
	if (i % 4 == 1)
		snprintf(buf, len,
			 "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%04d\n"
			 "  labels: {app: app-%04d, tier: web}\nspec:\n  replicas: 2\n"
			 "  selector:\n    matchLabels: {app: app-%04d}\n  template:\n"
			 "    metadata:\n      labels: {app: app-%04d}\n    spec:\n"
			 "      containers:\n      - name: app\n"
			 "        image: registry.example/app-%04d:%d\n"
			 "        ports:\n        - containerPort: 8080\n"
			 "        resources:\n          requests: {cpu: 100m, memory: 64Mi}\n"
			 "          limits: {memory: 128Mi}\n",
			 i, i, i, i, i, v);
	else if (i % 4 == 3)
		snprintf(
			buf, len,
			"apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%04d\nspec:\n"
			"  selector: {app: app-%04d}\n  ports:\n  - port: 80\n    targetPort: 8080\n",
			i, i - 2);
	else
		snprintf(buf, len,
			 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-%04d\n"
			 "data:\n  version: \"%d\"\n  settings.yaml: |\n    color: blue\n"
			 "    replicas: 2\n    feature: on\n",
			 i, v);
}

struct repo {
	git_repository *repo;
	git_oid head;
	bool have_head;
};

/* Commits files (index -> version) on main: all of them, or only the one given. */
static void
commit(struct repo *r, int only, int version)
{
	git_tree *base = NULL;
	git_commit *parent = NULL;
	if (r->have_head) {
		git_check(git_commit_lookup(&parent, r->repo, &r->head), "parent");
		git_check(git_commit_tree(&base, parent), "parent tree");
	} else {
		git_treebuilder *tb = NULL;
		git_oid empty;
		git_check(git_treebuilder_new(&tb, r->repo, NULL), "treebuilder");
		git_check(git_treebuilder_write(&empty, tb), "empty tree");
		git_treebuilder_free(tb);
		git_check(git_tree_lookup(&base, r->repo, &empty), "empty tree");
	}
	int first = only >= 0 ? only : 0, last = only >= 0 ? only : N_MANIFESTS - 1;
	size_t n = (size_t)(last - first + 1);
	git_tree_update *updates = calloc(n, sizeof(*updates));
	char(*paths)[64] = calloc(n, sizeof(*paths));
	if (!updates || !paths)
		die("out of memory");
	for (int i = first; i <= last; i++) {
		char text[2048];
		manifest(i, version, text, sizeof(text));
		git_tree_update *u = &updates[i - first];
		snprintf(paths[i - first], sizeof(paths[0]), "deploy/team-%02d/m-%04d.yaml", i / 50,
			 i);
		u->action = GIT_TREE_UPDATE_UPSERT;
		u->filemode = GIT_FILEMODE_BLOB;
		u->path = paths[i - first];
		git_check(git_blob_create_from_buffer(&u->id, r->repo, text, strlen(text)), "blob");
	}
	git_oid tree_id;
	git_check(git_tree_create_updated(&tree_id, r->repo, base, n, updates), "tree");
	git_tree *tree = NULL;
	git_check(git_tree_lookup(&tree, r->repo, &tree_id), "tree");
	git_signature *sig = NULL;
	git_check(git_signature_now(&sig, "bench", "bench@korch.invalid"), "signature");
	const git_commit *parents[1] = { parent };
	git_check(git_commit_create(&r->head, r->repo, "refs/heads/main", sig, sig, NULL, "bench",
				    tree, parent ? 1 : 0, parents),
		  "commit");
	r->have_head = true;
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	free(updates);
	free(paths);
}

struct bench {
	korch_loop *loop;
	int syncs;                      /* reports seen */
	struct gitops_sync_report last; /* the last one (strings not kept) */
	bool failed;                    /* a sync failed */
	char message[1024];             /* its error */
};

static void
on_sync(const struct gitops_sync_report *r, void *userdata)
{
	struct bench *b = userdata;
	b->syncs++;
	b->last = *r;
	if (r->reason != GITOPS_OK) {
		b->failed = true;
		snprintf(b->message, sizeof(b->message), "%s", r->message ? r->message : "?");
	}
}

static void
wait_sync(struct bench *b, int n)
{
	double deadline = now_s() + 60;
	while (b->syncs < n && now_s() < deadline)
		if (korch_loop_dispatch(b->loop, 100, NULL) < 0)
			die("loop dispatch failed");
	if (b->syncs < n)
		die("no sync within 60 s");
	if (b->failed)
		die("sync failed: %s", b->message);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int64_t
store_rev(struct store *s)
{
	int64_t rev = 0;
	if (store_revision(s, &rev, NULL, NULL) < 0)
		die("store revision");
	return rev;
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: gitops-bench DIR");
	const char *dir = argv[1];
	char path[1024], repo_path[400], state[400];
	snprintf(repo_path, sizeof(repo_path), "%s/repo.git", dir);
	snprintf(state, sizeof(state), "%s/state.db", dir);

	git_check(git_libgit2_init(), "libgit2 init");
	struct repo r = { 0 };
	git_check(git_repository_init(&r.repo, repo_path, 1), "init");
	commit(&r, -1, 1);

	/* The namespaces, as korchd's state has them. */
	korch_client *kc = NULL;
	korch_error *err = NULL;
	if (korch_client_open_state(state, NULL, &kc, &err) < 0)
		die("open state: %s", korch_error_message(err));
	korch_client_free(kc);

	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	struct store *store = NULL;
	struct client *client = NULL;
	struct pool *pool = NULL;
	struct gitops_controller *gc = NULL;
	if (korch_clock_new_real(&clock, &err) < 0 || korch_loop_new(clock, &loop, &err) < 0)
		die("loop: %s", korch_error_message(err));
	struct store_options so = { .loop = loop };
	if (store_open(state, &so, &store, &err) < 0 ||
	    client_new_local(store, clock, &client, &err) < 0 || pool_new(loop, 2, &pool, &err) < 0)
		die("store: %s", korch_error_message(err));
	struct bench b = { .loop = loop };
	struct gitops_controller_options o = { .data_dir = dir,
					       .on_sync = on_sync,
					       .userdata = &b };
	if (gitops_controller_new(client, loop, pool, &o, &gc, &err) < 0)
		die("controller: %s", korch_error_message(err));
	snprintf(path, sizeof(path),
		 "{\"apiVersion\":\"gitops.korch.io/v1\",\"kind\":\"GitRepository\","
		 "\"metadata\":{\"name\":\"bench\",\"namespace\":\"default\"},"
		 "\"spec\":{\"url\":\"%s\",\"path\":\"deploy\",\"interval\":\"1h\"}}",
		 repo_path);
	json_t *repo_obj = json_loads(path, 0, NULL);
	struct client_write_opts wo = { .field_manager = "bench" };
	if (!repo_obj || client_apply(client, repo_obj, &wo, NULL, &err) < 0)
		die("create the GitRepository: %s", err ? korch_error_message(err) : "?");
	json_decref(repo_obj);

	double t0 = now_s();
	if (gitops_controller_start(gc, &err) < 0)
		die("start: %s", korch_error_message(err));
	wait_sync(&b, 1);
	double first = now_s() - t0;
	if (b.last.created != N_MANIFESTS)
		die("the first sync created %zu objects, not %d", b.last.created, N_MANIFESTS);
	printf("bench: gitops.first_sync_1000_s %.3f s\n", first);
	/* Let the informers of the new kinds settle before timing steady syncs. */
	for (int i = 0; i < 20; i++)
		korch_loop_dispatch(loop, 10, NULL);

	double noop[NOOP_RUNS];
	int64_t rev = store_rev(store);
	for (int i = 0; i < NOOP_RUNS; i++) {
		double t = now_s();
		gitops_controller_sync_now(gc, "default", "bench");
		wait_sync(&b, b.syncs + 1);
		noop[i] = (now_s() - t) * 1e3;
		if (b.last.revision != 0 || b.last.status_written)
			die("a no-op sync wrote to the store");
	}
	if (store_rev(store) != rev)
		die("no-op syncs changed the store revision");
	printf("bench: gitops.noop_sync_ms %.2f ms\n", median(noop, NOOP_RUNS));

	double change[CHANGE_RUNS];
	for (int i = 0; i < CHANGE_RUNS; i++) {
		commit(&r, 4 * i, i + 2); /* one ConfigMap's file */
		double t = now_s();
		gitops_controller_sync_now(gc, "default", "bench");
		wait_sync(&b, b.syncs + 1);
		change[i] = (now_s() - t) * 1e3;
		if (b.last.configured != 1 || b.last.created != 0)
			die("a one-file change configured %zu objects", b.last.configured);
		for (int j = 0; j < 5; j++)
			korch_loop_dispatch(loop, 0, NULL);
	}
	printf("bench: gitops.one_file_change_sync_ms %.2f ms\n", median(change, CHANGE_RUNS));

	gitops_controller_free(gc);
	pool_free(pool);
	client_free(client);
	store_close(store);
	korch_loop_free(loop);
	korch_clock_free(clock);

	/* korchctl's path: one sync planning every object, in the calling thread. */
	if (korch_client_open_state(state, NULL, &kc, &err) < 0)
		die("open state: %s", korch_error_message(err));
	korch_gitops_options go = KORCH_GITOPS_OPTIONS_INIT;
	go.data_dir = dir;
	double oneshot[5];
	for (int i = 0; i < 5; i++) {
		double t = now_s();
		if (korch_gitops_sync(kc, "default", "bench", &go, NULL, &err) < 0)
			die("korch_gitops_sync: %s", korch_error_message(err));
		oneshot[i] = (now_s() - t) * 1e3;
	}
	printf("bench: gitops.oneshot_noop_sync_ms %.1f ms\n", median(oneshot, 5));
	korch_client_free(kc);
	git_repository_free(r.repo);
	git_libgit2_shutdown();
	return 0;
}
