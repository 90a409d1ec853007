/*
 * public.c - korch_gitops_sync() and korch_gitops_diff(): one sync (or its dry run) in the
 * calling thread, over a state-file client: fetch, read, then the same finish as the
 * controller's, planning every object (no memory of earlier syncs is needed).
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <korch/gitops.h>
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "gitops/gitops.h"

/* One sync's fetch, done in this thread. */
struct oneshot {
	struct client *client;       /* borrowed from the korch_client */
	json_t *repo;                /* the GitRepository */
	struct gitops_source source; /* its source (strings borrowed from repo) */
	char commit[41];             /* the commit fetched, or "" */
	struct gitops_manifests *m;  /* its manifests, or NULL */
	enum gitops_reason reason;   /* why not */
	korch_error *error;          /* and the error */
};

static void
oneshot_clear(struct oneshot *o)
{
	json_decref(o->repo);
	gitops_manifests_unref(o->m);
	korch_error_free(o->error);
	*o = (struct oneshot){ 0 };
}

static int64_t
wall_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Fetches and reads into o; a failure of either is o->reason and o->error, not an error. */
static void
fetch(struct oneshot *o, const char *data_dir)
{
	struct gitops_creds creds = { 0 };
	struct gitops_cache *cache = NULL;
	const json_t *meta = json_object_get(o->repo, "metadata");
	o->reason = GITOPS_FETCH_FAILED;
	if (gitops_repo_creds(o->client, o->repo, &creds, &o->error) < 0)
		return;
	_cleanup_free_ char *dir =
		gitops_cache_dir(data_dir, json_string_value(json_object_get(meta, "namespace")),
				 json_string_value(json_object_get(meta, "name")), o->source.url);
	if (!dir) {
		error_oom(&o->error);
	} else if (gitops_cache_open(dir, &cache, &o->error) == 0 &&
		   gitops_fetch(cache, &o->source, &creds, NULL, o->commit, &o->reason,
				&o->error) == 0) {
		gitops_read_manifests(cache, o->commit, o->source.path, NULL, &o->m, &o->reason,
				      &o->error);
	}
	gitops_cache_free(cache);
	gitops_creds_clear(&creds);
}

static int
prepare(korch_client *kc, const char *ns, const char *name, const korch_gitops_options *opts,
	bool sync, struct oneshot *o, korch_error **err)
{
	*o = (struct oneshot){ 0 };
	if (opts && opts->version != KORCH_GITOPS_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_gitops_options version %u is not %u",
				 opts->version, KORCH_GITOPS_OPTIONS_VERSION);
	if (!(o->client = client_of_public(kc)))
		return error_set(err, KORCH_EUNSUPPORTED,
				 "a sync runs in-process over a state file, and this client has "
				 "none");
	const struct kind_info *k = kind_lookup("gitops.korch.io/v1", "GitRepository");
	int r = client_get(o->client, k, ns ? ns : "default", name, &o->repo, err);
	if (r < 0)
		return r;
	if (sync && json_is_true(json_object_get(json_object_get(o->repo, "spec"), "suspend"))) {
		oneshot_clear(o);
		return error_set(err, KORCH_EINVALID,
				 "gitrepository %s/%s is suspended: resume it to sync",
				 ns ? ns : "default", name);
	}
	if ((r = gitops_source_from_repo(o->repo, &o->source, err)) < 0) {
		oneshot_clear(o);
		return r;
	}
	_cleanup_free_ char *state = strdup(store_path(client_store(o->client)));
	if (!state) {
		oneshot_clear(o);
		return error_oom(err);
	}
	fetch(o, opts && opts->data_dir ? opts->data_dir : dirname(state));
	return 0;
}

static json_t *
lookup_live(const struct kind_info *k, const char *ns, const char *name, void *userdata)
{
	json_t *obj = NULL;
	if (client_get(userdata, k, ns, name, &obj, NULL) < 0)
		return NULL;
	return obj;
}

KORCH_EXPORT int
korch_gitops_sync(korch_client *kc, const char *ns, const char *name,
		  const korch_gitops_options *opts, korch_object **ret, korch_error **err)
{
	struct oneshot o;
	int r = prepare(kc, ns, name, opts, true, &o, err);
	if (r < 0)
		return r;
	const char *sync_request = json_string_value(
		json_object_get(json_object_get(json_object_get(o.repo, "metadata"), "annotations"),
				GITOPS_ANNOTATION_SYNC));
	struct gitops_sync_input in = {
		.client = o.client,
		.repo = o.repo,
		.source = &o.source,
		.commit = o.commit[0] ? o.commit : NULL,
		.manifests = o.m,
		.reason = o.reason,
		.error = o.error,
		.lookup = lookup_live,
		.lookup_userdata = o.client,
		.sync_request = sync_request,
		.now_wall_ns = wall_now_ns(),
	};
	struct gitops_sync_output out;
	r = gitops_sync_finish(&in, &out, err);
	if (r == 0 && out.reason != GITOPS_OK)
		r = out.error ? error_propagate(err, &out.error, korch_error_code(out.error))
			      : error_set(err, KORCH_ESYSTEM, "the sync failed: %s",
					  gitops_reason_name(out.reason));
	if (r == 0 && ret) {
		const struct kind_info *k = kind_lookup("gitops.korch.io/v1", "GitRepository");
		json_t *after = NULL;
		if ((r = client_get(o.client, k, ns ? ns : "default", name, &after, err)) == 0)
			*ret = (korch_object *)after;
	}
	gitops_sync_output_clear(&out);
	oneshot_clear(&o);
	return r;
}

KORCH_EXPORT int
korch_gitops_diff(korch_client *kc, const char *ns, const char *name,
		  const korch_gitops_options *opts, korch_object **ret, korch_error **err)
{
	struct oneshot o;
	int r = prepare(kc, ns, name, opts, false, &o, err);
	if (r < 0)
		return r;
	if (o.reason != GITOPS_OK) {
		r = o.error ? error_propagate(err, &o.error, korch_error_code(o.error))
			    : error_set(err, KORCH_ESYSTEM, "the fetch failed: %s",
					gitops_reason_name(o.reason));
		oneshot_clear(&o);
		return r;
	}
	struct gitops_desired d = { 0 };
	_cleanup_json_ json_t *items = NULL;
	size_t unchanged = 0;
	r = gitops_desired_build(o.repo, o.m, NULL, &d, err);
	if (r == 0)
		r = gitops_diff(o.client, o.repo, &d,
				json_object_get(json_object_get(o.repo, "status"), "inventory"),
				&items, &unchanged, err);
	_cleanup_free_ char *revision = gitops_revision_name(&o.source, o.commit);
	json_t *result = NULL;
	if (r == 0) {
		result = json_pack("{s:s, s:s, s:I, s:O}", "commit", o.commit, "revision",
				   revision ? revision : "", "unchanged", (json_int_t)unchanged,
				   "items", items);
		if (!result)
			r = error_oom(err);
	}
	gitops_desired_clear(&d);
	oneshot_clear(&o);
	if (r == 0)
		*ret = (korch_object *)result;
	return r;
}
