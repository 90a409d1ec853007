/*
 * controller.c - the GitOps controller (see controller.h): a work queue of GitRepository keys;
 * per repository a small state that outlives syncs (its git cache, the manifests last read,
 * what was applied, which applied objects others changed since); fetches on the worker pool,
 * applies on the loop; informers on the inventories' kinds for drift and health.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "base/workqueue.h"
#include "client/informer.h"
#include "gitops/controller.h"

/* Failed syncs are retried after 1 s, doubling up to 5 minutes (and never later than the
 * interval). */
#define RETRY_BASE_NS (1 * NSEC_PER_SEC)
#define RETRY_MAX_NS (300 * NSEC_PER_SEC)
#define DEFAULT_INTERVAL_NS (60 * NSEC_PER_SEC)
/* Threads of the pool the controller makes when given none: fetches of two repositories at
 * once (a fetch blocks on the network or the disk, not the CPU). */
#define FETCH_THREADS 2

struct gitops_controller;

/* An informer on one kind of the inventories, selecting objects with the repository labels. */
struct kind_watch {
	struct gitops_controller *gc; /* owner */
	const struct kind_info *kind; /* what it watches */
	struct informer *inf;         /* the informer */
};

/* What the controller keeps about one GitRepository between syncs. */
struct repo_state {
	struct gitops_controller *gc;               /* owner */
	char *key;                                  /* "namespace/name" */
	char *uid;                                  /* the object's uid: another uid starts over */
	struct gitops_cache *cache;                 /* the git cache, or NULL (a fetch holds it) */
	char *cache_dir;                            /* where the cache is */
	struct gitops_manifests *manifests;         /* the last manifests read (blobs reused) */
	bool have_applied;                          /* applied, applied_inventory are set */
	struct gitops_desired applied;              /* the objects the last good sync applied */
	json_t *applied_inventory;                  /* and their inventory */
	struct gitops_manifests *applied_manifests; /* what applied was built from */
	json_t *last_repo;              /* the GitRepository as this controller last wrote it */
	int64_t seen_revision;          /* changes at or below it were ours or planned */
	struct hashmap touched;         /* keys of applied objects others changed since */
	enum gitops_reason last_reason; /* outcome of the last sync */
	korch_error *last_error;        /* and its error */
	char last_commit[41];           /* the last commit fetched, or "" */
	int64_t attempted_generation;   /* the generation the last sync was for (-1 none) */
	int64_t next_fetch_ns;          /* when the next fetch is due (monotonic) */
	unsigned failures;              /* syncs failed in a row */
	bool requested;                 /* gitops_controller_sync_now() asked for a fetch */
	bool busy;                      /* a fetch runs on the pool */
	bool again;                     /* the key was queued while busy */
	bool dead;                      /* dropped while busy: the fetch frees it */
};

/* One fetch on the pool: inputs copied on the loop, outputs read back there. */
struct fetch_job {
	struct gitops_controller *gc;  /* owner */
	struct repo_state *st;         /* the repository's state */
	json_t *repo;                  /* the GitRepository as the fetch started */
	struct gitops_source source;   /* its source (strings from repo) */
	struct gitops_creds creds;     /* from spec.secretRef */
	struct gitops_cache *cache;    /* the cache, or NULL: opened on the pool */
	char *cache_dir;               /* where it is */
	struct gitops_manifests *prev; /* the last manifests, whose blobs are reused */
	char *sync_request;            /* the sync request handled, or NULL */
	char commit[41];               /* out: the commit, or "" */
	struct gitops_manifests *m;    /* out: its manifests, or NULL */
	enum gitops_reason reason;     /* out: why not */
	korch_error *error;            /* out: the error */
};

struct gitops_controller {
	struct client *client;   /* borrowed */
	korch_loop *loop;        /* borrowed */
	struct pool *pool;       /* borrowed, or own_pool */
	struct pool *own_pool;   /* the pool made when none was given, or NULL */
	char *data_dir;          /* caches go to DATA_DIR/gitops */
	gitops_sync_fn on_sync;  /* or NULL */
	void *userdata;          /* for on_sync */
	struct informer *repos;  /* every GitRepository */
	struct workqueue *queue; /* keys of repositories to look at */
	struct hashmap states;   /* key -> struct repo_state */
	struct hashmap kinds;    /* "group/Kind" -> struct kind_watch */
	bool cancel;             /* set on free: fetches stop (read by workers) */
	unsigned jobs;           /* pool jobs outstanding */
	bool freeing;            /* freed while jobs were outstanding */
};

static int64_t
now_ns(struct gitops_controller *gc)
{
	return korch_clock_now_ns(korch_loop_clock(gc->loop));
}

static int64_t
wall_ns(struct gitops_controller *gc)
{
	return korch_clock_wall_ns(korch_loop_clock(gc->loop));
}

static const struct kind_info *
repo_kind(void)
{
	return kind_lookup("gitops.korch.io/v1", "GitRepository");
}

/* ---- states ---- */

static void
state_free(struct repo_state *st)
{
	if (!st)
		return;
	free(st->key);
	free(st->uid);
	gitops_cache_free(st->cache);
	free(st->cache_dir);
	gitops_manifests_unref(st->manifests);
	gitops_desired_clear(&st->applied);
	json_decref(st->applied_inventory);
	gitops_manifests_unref(st->applied_manifests);
	json_decref(st->last_repo);
	hashmap_free(&st->touched, NULL);
	korch_error_free(st->last_error);
	free(st);
}

static struct repo_state *
state_new(struct gitops_controller *gc, const char *key, const char *uid)
{
	struct repo_state *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->gc = gc;
	st->key = strdup(key);
	st->uid = strdup(uid ? uid : "");
	st->attempted_generation = -1;
	if (!st->key || !st->uid || hashmap_put(&gc->states, key, st, NULL) < 0) {
		state_free(st);
		return NULL;
	}
	return st;
}

static void
rm_work(void *userdata)
{
	rm_rf(userdata, NULL);
}

static void
rm_done(void *userdata, bool canceled)
{
	(void)canceled;
	free(userdata);
}

/* Forgets a repository; its cache is removed from disk when remove_cache. */
static void
state_drop(struct repo_state *st, bool remove_cache)
{
	struct gitops_controller *gc = st->gc;
	hashmap_remove(&gc->states, st->key);
	if (remove_cache && st->cache_dir) {
		char *dir = strdup(st->cache_dir);
		if (dir && pool_submit(gc->pool, rm_work, rm_done, dir, NULL) < 0)
			free(dir);
	}
	if (st->busy)
		st->dead = true;
	else
		state_free(st);
}

static void
touched_clear(struct repo_state *st)
{
	hashmap_free(&st->touched, NULL);
	st->touched = (struct hashmap)HASHMAP_INIT;
}

/* ---- the inventories' kinds ---- */

/*
 * An object of a watched kind changed: when it is one a repository applied, put it back. Every
 * repository is asked, not only the one its labels name: an object whose labels someone removed
 * or changed reaches the informer as a deletion of an object without (or with other) labels.
 */
static void
object_changed(struct kind_watch *kw, const json_t *obj, bool deleted)
{
	struct gitops_controller *gc = kw->gc;
	const json_t *meta = json_object_get(obj, "metadata");
	_cleanup_free_ char *okey =
		gitops_key(kw->kind, json_string_value(json_object_get(meta, "namespace")),
			   json_string_value(json_object_get(meta, "name")));
	if (!okey)
		return;
	int64_t rv = 0;
	const char *text = json_string_value(json_object_get(meta, "resourceVersion"));
	if (!text || parse_int64(text, &rv) < 0)
		rv = INT64_MAX;
	size_t iter = 0;
	const char *key;
	void *value;
	while (hashmap_next(&gc->states, &iter, &key, &value)) {
		struct repo_state *st = value;
		if (!st->have_applied || !gitops_desired_find(&st->applied, okey))
			continue;
		/* Our own writes, and changes the last plan already saw, are no drift. */
		if (!deleted && rv <= st->seen_revision)
			continue;
		if (hashmap_put(&st->touched, okey, NULL, NULL) < 0)
			log_warn("gitops", "%s: out of memory noting a change of %s", key, okey);
		workqueue_add(gc->queue, key);
	}
}

static void
kind_on_add(const json_t *obj, void *userdata)
{
	object_changed(userdata, obj, false);
}

static void
kind_on_update(const json_t *old, const json_t *obj, void *userdata)
{
	(void)old;
	object_changed(userdata, obj, false);
}

static void
kind_on_delete(const json_t *obj, void *userdata)
{
	object_changed(userdata, obj, true);
}

static void
kind_watch_free(void *p)
{
	struct kind_watch *kw = p;
	if (!kw)
		return;
	informer_free(kw->inf);
	free(kw);
}

/* Watches every kind st applied that is not watched yet. */
static void
watch_kinds(struct gitops_controller *gc, struct repo_state *st)
{
	for (size_t i = 0; i < st->applied.n; i++) {
		const struct kind_info *k = st->applied.objs[i].kind;
		char name[128];
		snprintf(name, sizeof(name), "%s/%s", k->group, k->kind);
		if (hashmap_contains(&gc->kinds, name))
			continue;
		struct kind_watch *kw = calloc(1, sizeof(*kw));
		korch_error *e = NULL;
		if (!kw) {
			log_warn("gitops", "out of memory watching %s", name);
			return;
		}
		kw->gc = gc;
		kw->kind = k;
		struct informer_handlers h = { kind_on_add, kind_on_update, kind_on_delete, kw };
		if (informer_new(gc->client, k, NULL, GITOPS_LABEL_NAME, NULL, &kw->inf, &e) < 0 ||
		    informer_add_handlers(kw->inf, &h, &e) < 0 || informer_start(kw->inf, &e) < 0 ||
		    hashmap_put(&gc->kinds, name, kw, NULL) < 0) {
			log_warn("gitops", "watch %s: %s", name,
				 e ? korch_error_message(e) : "out of memory");
			korch_error_free(e);
			kind_watch_free(kw);
		}
	}
}

/* The live object for health: the informer's copy once it is synced, else the store's. */
static json_t *
lookup_live(const struct kind_info *k, const char *ns, const char *name, void *userdata)
{
	struct gitops_controller *gc = userdata;
	char kname[128];
	snprintf(kname, sizeof(kname), "%s/%s", k->group, k->kind);
	struct kind_watch *kw = hashmap_get(&gc->kinds, kname);
	if (kw && informer_synced(kw->inf)) {
		const json_t *cached = informer_get(kw->inf, ns, name);
		if (cached)
			return json_incref((json_t *)cached);
	}
	json_t *obj = NULL;
	if (client_get(gc->client, k, ns, name, &obj, NULL) < 0)
		return NULL;
	return obj;
}

/* ---- after a sync ---- */

static int64_t
interval_ns(const json_t *repo)
{
	int64_t ns = 0;
	const char *text =
		json_string_value(json_object_get(json_object_get(repo, "spec"), "interval"));
	if (!text || parse_go_duration(text, &ns) < 0 || ns <= 0)
		return DEFAULT_INTERVAL_NS;
	return ns;
}

static void
report(struct gitops_controller *gc, struct repo_state *st, bool fetched, const char *commit,
       const struct gitops_sync_output *out)
{
	if (!gc->on_sync)
		return;
	const char *slash = strchr(st->key, '/');
	char ns[256];
	snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - st->key) : 0, st->key);
	struct gitops_sync_report r = {
		.ns = ns,
		.name = slash ? slash + 1 : st->key,
		.fetched = fetched,
		.commit = commit,
		.reason = out->reason,
		.message = out->error ? korch_error_message(out->error) : NULL,
		.revision = out->result.revision,
		.created = out->result.created,
		.configured = out->result.configured,
		.pruned = out->result.pruned,
		.status_written = out->status_written,
	};
	gc->on_sync(&r, gc->userdata);
}

/* Schedules the next look at st: the interval after success, back-off after a failure. */
static void
schedule(struct gitops_controller *gc, struct repo_state *st, const json_t *repo, bool failed)
{
	int64_t delay = interval_ns(repo);
	if (failed) {
		st->failures++;
		int64_t backoff = RETRY_BASE_NS << MIN(st->failures - 1, 20u);
		delay = MIN(delay, MIN(backoff, RETRY_MAX_NS));
	} else {
		st->failures = 0;
	}
	st->next_fetch_ns = now_ns(gc) + delay;
	workqueue_add_after(gc->queue, st->key, delay);
}

/* Keeps what a sync's outcome tells about the future ones. */
static void
remember(struct gitops_controller *gc, struct repo_state *st, struct gitops_sync_output *out,
	 const char *commit, struct gitops_manifests *manifests)
{
	if (out->repo_after) {
		json_decref(st->last_repo);
		st->last_repo = steal_pointer(&out->repo_after);
	}
	if (out->applied && !out->reused) {
		gitops_desired_clear(&st->applied);
		st->applied = out->desired;
		out->desired = (struct gitops_desired){ 0 };
		json_decref(st->applied_inventory);
		st->applied_inventory = steal_pointer(&out->inventory);
		gitops_manifests_unref(st->applied_manifests);
		st->applied_manifests = gitops_manifests_ref(manifests);
	}
	if (out->applied) {
		st->have_applied = true;
		st->seen_revision = MAX(out->plan_revision, out->result.revision);
		touched_clear(st);
		watch_kinds(gc, st);
	}
	st->last_reason = out->reason;
	korch_error_free(st->last_error);
	st->last_error = NULL;
	if (out->error)
		error_set(&st->last_error, korch_error_code(out->error), "%s",
			  korch_error_message(out->error));
	if (commit)
		snprintf(st->last_commit, sizeof(st->last_commit), "%s", commit);
}

static int64_t
rv_of(const json_t *obj)
{
	int64_t rv = 0;
	const char *text = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (!text || parse_int64(text, &rv) < 0)
		return 0;
	return rv;
}

/*
 * The latest GitRepository this controller knows (a new reference), or NULL when it is gone:
 * the informer's copy, or the one this controller wrote last when the informer has not caught
 * up with that write yet (no store read on every sync).
 */
static json_t *
latest_repo(struct gitops_controller *gc, struct repo_state *st, const char *ns, const char *name)
{
	const json_t *cached = informer_get(gc->repos, ns, name);
	if (!cached)
		return NULL;
	if (st->last_repo && rv_of(st->last_repo) > rv_of(cached))
		return json_incref(st->last_repo);
	return json_incref((json_t *)cached);
}

/* ---- drift: applied objects others changed ---- */

static int
drift_sync(struct gitops_controller *gc, struct repo_state *st, const char *ns, const char *name)
{
	_cleanup_json_ json_t *repo = latest_repo(gc, st, ns, name);
	if (!repo)
		return 0;
	korch_error *e = NULL;
	struct gitops_source source;
	if (gitops_source_from_repo(repo, &source, &e) < 0) {
		korch_error_free(e);
		return 0;
	}
	struct gitops_sync_output out = { .reason = st->last_reason };
	int r = store_revision(client_store(gc->client), &out.plan_revision, NULL, &e);
	if (r == 0)
		r = gitops_apply(gc->client, repo, &st->applied, &st->touched, NULL, false,
				 &out.result, &e);
	if (r < 0) {
		out.reason = GITOPS_APPLY_FAILED;
		out.error = e;
	} else {
		out.applied = st->last_reason == GITOPS_OK;
		out.inventory = out.applied ? json_incref(st->applied_inventory) : NULL;
		if (st->last_error)
			error_set(&out.error, korch_error_code(st->last_error), "%s",
				  korch_error_message(st->last_error));
		st->seen_revision = MAX(out.plan_revision, out.result.revision);
		touched_clear(st);
	}
	struct gitops_sync_input in = {
		.client = gc->client,
		.repo = repo,
		.source = &source,
		.commit = st->last_commit[0] ? st->last_commit : NULL,
		.reason = out.reason,
		.lookup = lookup_live,
		.lookup_userdata = gc,
		.now_wall_ns = wall_ns(gc),
	};
	korch_error *re = NULL;
	int rr = gitops_sync_record(&in, &out, true, &re);
	if (rr < 0) {
		log_warn("gitops", "%s: %s", st->key, korch_error_message(re));
		korch_error_free(re);
	}
	if (out.repo_after) {
		json_decref(st->last_repo);
		st->last_repo = steal_pointer(&out.repo_after);
	}
	report(gc, st, false, in.commit, &out);
	bool failed = r < 0 || rr < 0;
	if (failed)
		schedule(gc, st, repo, true);
	gitops_sync_output_clear(&out);
	return 0;
}

/* ---- fetches ---- */

static void
job_free(struct fetch_job *job)
{
	json_decref(job->repo);
	gitops_creds_clear(&job->creds);
	gitops_cache_free(job->cache);
	free(job->cache_dir);
	gitops_manifests_unref(job->prev);
	gitops_manifests_unref(job->m);
	free(job->sync_request);
	korch_error_free(job->error);
	free(job);
}

static void
fetch_work(void *userdata)
{
	struct fetch_job *job = userdata;
	if (!job->cache && gitops_cache_open(job->cache_dir, &job->cache, &job->error) < 0) {
		job->reason = GITOPS_FETCH_FAILED;
		return;
	}
	if (gitops_fetch(job->cache, &job->source, &job->creds, &job->gc->cancel, job->commit,
			 &job->reason, &job->error) < 0)
		return;
	gitops_read_manifests(job->cache, job->commit, job->source.path, job->prev, &job->m,
			      &job->reason, &job->error);
}

static void controller_release(struct gitops_controller *gc);

/* Records a sync whose fetch could not even start (or whose result is to be recorded). */
static void
finish(struct gitops_controller *gc, struct repo_state *st, struct fetch_job *job,
       const json_t *repo)
{
	struct gitops_sync_input in = {
		.client = gc->client,
		.repo = repo,
		.source = &job->source,
		.commit = job->commit[0] ? job->commit : NULL,
		.manifests = job->m,
		.reason = job->reason,
		.error = job->error,
		.applied = st->have_applied ? &st->applied : NULL,
		.applied_manifests = st->applied_manifests,
		.touched = &st->touched,
		.applied_inventory = st->applied_inventory,
		.lookup = lookup_live,
		.lookup_userdata = gc,
		.sync_request = job->sync_request,
		.now_wall_ns = wall_ns(gc),
	};
	struct gitops_sync_output out;
	korch_error *e = NULL;
	int r = gitops_sync_finish(&in, &out, &e);
	if (r < 0) {
		log_warn("gitops", "%s: %s", st->key, korch_error_message(e));
		korch_error_free(e);
	}
	if (job->m) {
		gitops_manifests_unref(st->manifests);
		st->manifests = gitops_manifests_ref(job->m);
	}
	st->attempted_generation = json_integer_value(
		json_object_get(json_object_get(job->repo, "metadata"), "generation"));
	remember(gc, st, &out, in.commit, job->m);
	report(gc, st, true, in.commit, &out);
	schedule(gc, st, repo, r < 0 || out.reason != GITOPS_OK);
	gitops_sync_output_clear(&out);
}

static void
fetch_done(void *userdata, bool canceled)
{
	struct fetch_job *job = userdata;
	struct gitops_controller *gc = job->gc;
	struct repo_state *st = job->st;
	gc->jobs--;
	if (canceled || gc->freeing || st->dead) {
		if (st->dead)
			state_free(st);
		job_free(job);
		if (gc->freeing && gc->jobs == 0)
			controller_release(gc);
		return;
	}
	st->busy = false;
	st->cache = steal_pointer(&job->cache);
	const json_t *meta = json_object_get(job->repo, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	_cleanup_json_ json_t *fresh = latest_repo(gc, st, ns, name);
	const json_t *fmeta = json_object_get(fresh, "metadata");
	if (!fresh || !streq_null(json_string_value(json_object_get(fmeta, "uid")), st->uid) ||
	    json_integer_value(json_object_get(fmeta, "generation")) !=
		    json_integer_value(json_object_get(meta, "generation"))) {
		/* Gone, replaced, or its spec changed during the fetch: look again. */
		st->next_fetch_ns = 0;
		workqueue_add(gc->queue, st->key);
		job_free(job);
		return;
	}
	finish(gc, st, job, fresh);
	job_free(job);
	if (st->again) {
		st->again = false;
		workqueue_add(gc->queue, st->key);
	}
}

static int
start_fetch(struct gitops_controller *gc, struct repo_state *st, const json_t *repo)
{
	struct fetch_job *job = calloc(1, sizeof(*job));
	if (!job || !(job->repo = json_deep_copy(repo))) {
		free(job);
		return KORCH_ENOMEM;
	}
	job->gc = gc;
	job->st = st;
	const json_t *meta = json_object_get(job->repo, "metadata");
	const char *request = json_string_value(
		json_object_get(json_object_get(meta, "annotations"), GITOPS_ANNOTATION_SYNC));
	if (request && !(job->sync_request = strdup(request))) {
		job_free(job);
		return KORCH_ENOMEM;
	}
	if (gitops_source_from_repo(job->repo, &job->source, &job->error) < 0 ||
	    gitops_repo_creds(gc->client, job->repo, &job->creds, &job->error) < 0) {
		/* Nothing to fetch with: the failure is recorded as the sync's outcome. */
		job->reason = GITOPS_FETCH_FAILED;
		finish(gc, st, job, job->repo);
		job_free(job);
		return 0;
	}
	char *dir = gitops_cache_dir(
		gc->data_dir, json_string_value(json_object_get(meta, "namespace")),
		json_string_value(json_object_get(meta, "name")), job->source.url);
	if (!dir) {
		job_free(job);
		return KORCH_ENOMEM;
	}
	if (st->cache_dir && !streq(st->cache_dir, dir)) {
		/* The URL changed: a fresh cache; the old one goes. */
		gitops_cache_free(steal_pointer(&st->cache));
		char *old = steal_pointer(&st->cache_dir);
		if (pool_submit(gc->pool, rm_work, rm_done, old, NULL) < 0)
			free(old);
	}
	if (!st->cache_dir && !(st->cache_dir = strdup(dir))) {
		free(dir);
		job_free(job);
		return KORCH_ENOMEM;
	}
	job->cache_dir = dir;
	job->cache = steal_pointer(&st->cache);
	job->prev = gitops_manifests_ref(st->manifests);
	korch_error *e = NULL;
	if (pool_submit(gc->pool, fetch_work, fetch_done, job, &e) < 0) {
		st->cache = steal_pointer(&job->cache);
		log_warn("gitops", "%s: %s", st->key, korch_error_message(e));
		korch_error_free(e);
		job_free(job);
		return KORCH_ENOMEM;
	}
	st->busy = true;
	gc->jobs++;
	return 0;
}

/* ---- the work queue ---- */

static int
process(const char *key, void *userdata)
{
	struct gitops_controller *gc = userdata;
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *repo = informer_get(gc->repos, ns, name);
	struct repo_state *st = hashmap_get(&gc->states, key);
	if (!repo) {
		if (st)
			state_drop(st, true);
		return 0;
	}
	const json_t *meta = json_object_get(repo, "metadata");
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	if (st && !streq_null(st->uid, uid)) {
		state_drop(st, false);
		st = NULL;
	}
	if (!st && !(st = state_new(gc, key, uid)))
		return KORCH_ENOMEM;
	if (st->busy) {
		st->again = true;
		return 0;
	}
	if (json_is_true(json_object_get(json_object_get(repo, "spec"), "suspend")))
		return 0;
	const char *request = json_string_value(
		json_object_get(json_object_get(meta, "annotations"), GITOPS_ANNOTATION_SYNC));
	const char *handled = json_string_value(
		json_object_get(json_object_get(repo, "status"), "lastHandledSyncRequest"));
	int64_t generation = json_integer_value(json_object_get(meta, "generation"));
	bool due = st->requested || generation != st->attempted_generation ||
		   now_ns(gc) >= st->next_fetch_ns || (request && !streq_null(request, handled));
	if (due) {
		st->requested = false;
		return start_fetch(gc, st, repo);
	}
	if (st->have_applied && st->touched.n > 0)
		return drift_sync(gc, st, ns, name);
	return 0;
}

static void
repo_on_add(const json_t *obj, void *userdata)
{
	struct gitops_controller *gc = userdata;
	_cleanup_free_ char *key = informer_key(obj);
	if (key)
		workqueue_add(gc->queue, key);
}

static void
repo_on_update(const json_t *old, const json_t *obj, void *userdata)
{
	(void)old;
	repo_on_add(obj, userdata);
}

/* ---- lifecycle ---- */

int
gitops_controller_new(struct client *client, korch_loop *loop, struct pool *pool,
		      const struct gitops_controller_options *opts, struct gitops_controller **ret,
		      korch_error **err)
{
	if (!opts || !opts->data_dir)
		return error_set(err, KORCH_EINVALID, "the GitOps controller needs a data dir");
	struct gitops_controller *gc = calloc(1, sizeof(*gc));
	if (!gc || !(gc->data_dir = strdup(opts->data_dir))) {
		free(gc);
		return error_oom(err);
	}
	gc->client = client;
	gc->loop = loop;
	gc->pool = pool;
	int r = 0;
	if (!pool && (r = pool_new(loop, FETCH_THREADS, &gc->own_pool, err)) == 0)
		gc->pool = gc->own_pool;
	gc->on_sync = opts->on_sync;
	gc->userdata = opts->userdata;
	struct workqueue_options qo = { .base_delay_ns = RETRY_BASE_NS,
					.max_delay_ns = RETRY_MAX_NS };
	struct informer_handlers h = { repo_on_add, repo_on_update, repo_on_add, gc };
	if (r == 0)
		r = workqueue_new(loop, &qo, process, gc, &gc->queue, err);
	if (r == 0)
		r = informer_new(client, repo_kind(), NULL, NULL, NULL, &gc->repos, err);
	if (r == 0)
		r = informer_add_handlers(gc->repos, &h, err);
	if (r < 0) {
		gitops_controller_free(gc);
		return r;
	}
	*ret = gc;
	return 0;
}

int
gitops_controller_start(struct gitops_controller *gc, korch_error **err)
{
	return informer_start(gc->repos, err);
}

int
gitops_controller_run(struct client *client, korch_loop *loop, const char *data_dir,
		      struct gitops_controller **ret, korch_error **err)
{
	struct gitops_controller_options o = { .data_dir = data_dir };
	_cleanup_(gitops_controller_freep) struct gitops_controller *gc = NULL;
	int r = gitops_controller_new(client, loop, NULL, &o, &gc, err);
	if (r == 0)
		r = gitops_controller_start(gc, err);
	if (r < 0)
		return korch_error_prefix(err, r, "start the GitOps controller");
	*ret = steal_pointer(&gc);
	return 0;
}

void
gitops_controller_sync_now(struct gitops_controller *gc, const char *ns, const char *name)
{
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	struct repo_state *st = hashmap_get(&gc->states, key);
	if (st)
		st->requested = true;
	workqueue_add(gc->queue, key);
}

static void
state_free_value(void *p)
{
	struct repo_state *st = p;
	if (st->busy)
		st->dead = true; /* its fetch frees it */
	else
		state_free(st);
}

/* Frees what is left once no fetch refers to the controller any more. */
static void
controller_release(struct gitops_controller *gc)
{
	free(gc->data_dir);
	free(gc);
}

void
gitops_controller_free(struct gitops_controller *gc)
{
	if (!gc)
		return;
	__atomic_store_n(&gc->cancel, true, __ATOMIC_RELAXED);
	informer_free(gc->repos);
	gc->repos = NULL;
	hashmap_free(&gc->kinds, kind_watch_free);
	workqueue_free(gc->queue);
	gc->queue = NULL;
	hashmap_free(&gc->states, state_free_value);
	if (gc->own_pool) {
		/* Every job's completion runs now; the extra count keeps them from releasing gc. */
		gc->freeing = true;
		gc->jobs++;
		pool_free(gc->own_pool);
		gc->jobs--;
	}
	if (gc->jobs > 0) {
		gc->freeing = true;
		return;
	}
	controller_release(gc);
}
