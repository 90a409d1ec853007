/*
 * sync.c - the part of a sync after the fetch, shared by the controller and the one-shot
 * korch_gitops_sync(): manifests to objects, one transaction, health, status and Events.
 *
 * Nothing is written when nothing changed: the plan of an unchanged commit holds no write (or,
 * when the controller knows what it applied, is not even made), and the status built equals
 * the stored one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "gitops/gitops.h"

void
gitops_sync_output_clear(struct gitops_sync_output *o)
{
	gitops_desired_clear(&o->desired);
	json_decref(o->inventory);
	json_decref(o->repo_after);
	gitops_apply_result_clear(&o->result);
	korch_error_free(o->error);
	*o = (struct gitops_sync_output){ 0 };
}

int
gitops_repo_creds(struct client *c, const json_t *repo, struct gitops_creds *ret, korch_error **err)
{
	*ret = (struct gitops_creds){ 0 };
	const char *secret = json_string_value(json_object_get(
		json_object_get(json_object_get(repo, "spec"), "secretRef"), "name"));
	if (!secret || !*secret)
		return 0;
	const char *ns =
		json_string_value(json_object_get(json_object_get(repo, "metadata"), "namespace"));
	_cleanup_json_ json_t *obj = NULL;
	int r = client_get(c, kind_lookup("v1", "Secret"), ns, secret, &obj, err);
	if (r < 0)
		return korch_error_prefix(err, r, "spec.secretRef");
	return gitops_creds_from_secret(obj, ret, err);
}

/* The keys to plan when the caller knows what it applied: the new, the changed, the touched. */
static int
changed_keys(const struct gitops_desired *d, const struct gitops_desired *applied,
	     const struct hashmap *touched, struct hashmap *ret)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct gitops_object *o = &d->objs[i];
		const struct gitops_object *before = gitops_desired_find(applied, o->key);
		bool changed = !before || !json_equal(before->obj, o->obj) ||
			       (touched && hashmap_contains(touched, o->key));
		if (changed && hashmap_put(ret, o->key, NULL, NULL) < 0)
			return KORCH_ENOMEM;
	}
	return 0;
}

/*
 * Whether d holds the same objects (kinds and keys) as applied, so that applied's inventory
 * is d's: a commit changing files but not which objects they define keeps the inventory, not
 * built again for every sync.
 */
static bool
same_objects(const struct gitops_desired *d, const struct gitops_desired *applied)
{
	if (d->n != applied->n)
		return false;
	for (size_t i = 0; i < d->n; i++) {
		const struct gitops_object *before = gitops_desired_find(applied, d->objs[i].key);
		if (!before || before->kind != d->objs[i].kind)
			return false;
	}
	return true;
}

/* "3 created, 1 configured, 2 pruned" (only the non-zero ones; "no change" for none). */
static void
counts_text(struct strbuf *sb, const struct gitops_apply_result *r)
{
	size_t start = sb->len;
	if (r->created)
		strbuf_printf(sb, "%zu created", r->created);
	if (r->configured)
		strbuf_printf(sb, "%s%zu configured", sb->len > start ? ", " : "", r->configured);
	if (r->pruned)
		strbuf_printf(sb, "%s%zu pruned", sb->len > start ? ", " : "", r->pruned);
	if (sb->len == start)
		strbuf_puts(sb, "no change");
}

/* The names of what a drift correction put back, up to five. */
static void
names_text(struct strbuf *sb, const json_t *names)
{
	size_t i;
	json_t *n;
	json_array_foreach (names, i, n) {
		if (i == 5) {
			strbuf_printf(sb, " and %zu more", json_array_size(names) - 5);
			break;
		}
		strbuf_printf(sb, "%s%s", i ? ", " : "", json_string_value(n));
	}
}

static const char *
condition_status(const json_t *repo, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(json_object_get(repo, "status"), "conditions"), i, c)
		if (streq(json_string_value(json_object_get(c, "type")), type))
			return json_string_value(json_object_get(c, "status"));
	return NULL;
}

/* Adds Events for what the sync did to t; wrote: the apply writes objects (res says which). */
static int
add_events(const struct gitops_sync_input *in, const struct gitops_sync_output *out,
	   struct client_txn *t, const struct gitops_apply_result *res, bool wrote, bool drift,
	   const char *revision, const json_t *status, int64_t generation, korch_error **err)
{
	const json_t *old = json_object_get(in->repo, "status");
	struct strbuf sb = STRBUF_INIT;
	int r = 0;
	if (wrote) {
		bool new_commit = !streq_null(
			json_string_value(json_object_get(old, "lastAppliedCommit")), in->commit);
		bool new_generation =
			json_integer_value(json_object_get(old, "observedGeneration")) !=
			generation;
		if (!drift && (new_commit || new_generation)) {
			strbuf_printf(&sb, "Applied revision %s: ", revision);
			counts_text(&sb, res);
			r = gitops_event_add(in->client, t, in->repo, "Normal", "Synced",
					     strbuf_str(&sb), in->now_wall_ns, err);
		} else {
			strbuf_puts(&sb, "Put back what changed outside git: ");
			names_text(&sb, res->changed);
			r = gitops_event_add(in->client, t, in->repo, "Normal", "DriftCorrected",
					     strbuf_str(&sb), in->now_wall_ns, err);
		}
	}
	strbuf_free(&sb);
	if (r < 0)
		return r;
	json_t *new_repo = json_pack("{s:O}", "status", status);
	if (!new_repo)
		return error_oom(err);
	const char *new_ready = gitops_ready_message(new_repo);
	if (out->reason != GITOPS_OK && !streq_null(gitops_ready_message(in->repo), new_ready))
		r = gitops_event_add(in->client, t, in->repo, "Warning",
				     gitops_reason_name(out->reason), new_ready ? new_ready : "",
				     in->now_wall_ns, err);
	if (r == 0 && streq_null(condition_status(new_repo, "Healthy"), "False") &&
	    !streq_null(condition_status(in->repo, "Healthy"), "False")) {
		const char *degraded = NULL;
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(status, "conditions"), i, c)
			if (streq(json_string_value(json_object_get(c, "type")), "Healthy"))
				degraded = json_string_value(json_object_get(c, "message"));
		r = gitops_event_add(in->client, t, in->repo, "Warning", "Degraded",
				     degraded ? degraded : "", in->now_wall_ns, err);
	}
	json_decref(new_repo);
	return r;
}

/* What recording an outcome into a transaction needs. */
struct record_ctx {
	const struct gitops_sync_input *in; /* the sync */
	struct gitops_sync_output *out;     /* its outcome; repo_after and status_written set */
	bool drift;                         /* a drift correction rather than a sync */
	struct client_txn *t;               /* the transaction, while health looks up objects */
};

/* The live object for health: what the transaction will store, else the caller's lookup. */
static json_t *
lookup_after(const struct kind_info *k, const char *ns, const char *name, void *userdata)
{
	const struct record_ctx *ctx = userdata;
	const json_t *planned = client_txn_find(ctx->t, k, ns, name);
	if (planned)
		return json_incref((json_t *)planned);
	return ctx->in->lookup(k, ns, name, ctx->in->lookup_userdata);
}

/*
 * Adds the outcome's status and Events to t (a gitops_record_fn). The health is of the state
 * after the commit: the objects t writes as t writes them, the others as they are.
 */
static int
record(struct client_txn *t, const struct gitops_apply_result *res, void *userdata,
       korch_error **err)
{
	struct record_ctx *ctx = userdata;
	const struct gitops_sync_input *in = ctx->in;
	struct gitops_sync_output *out = ctx->out;
	/* A transaction planned again starts over. */
	json_decref(steal_pointer(&out->repo_after));
	out->status_written = false;
	const json_t *meta = json_object_get(in->repo, "metadata");
	/* A repository that manages itself: its status cannot join its own apply. */
	out->record_after =
		res && client_txn_find(t, kind_lookup("gitops.korch.io/v1", "GitRepository"),
				       json_string_value(json_object_get(meta, "namespace")),
				       json_string_value(json_object_get(meta, "name")));
	if (out->record_after)
		return 0;
	bool wrote = client_txn_size(t) > 0;
	_cleanup_free_ char *revision =
		in->commit ? gitops_revision_name(in->source, in->commit) : NULL;
	const json_t *inventory =
		out->applied ? out->inventory
			     : json_object_get(json_object_get(in->repo, "status"), "inventory");
	char *health_message = NULL;
	ctx->t = t;
	enum gitops_health health = gitops_health(inventory, lookup_after, ctx, &health_message);
	ctx->t = NULL;
	struct gitops_outcome o = {
		.attempted_commit = in->commit,
		.revision = out->applied ? revision : NULL,
		.applied = out->applied,
		.reason = out->reason,
		.message = out->error ? korch_error_message(out->error) : NULL,
		.inventory = out->inventory,
		.health = health,
		.health_message = health_message,
		.sync_request = in->sync_request,
	};
	_cleanup_json_ json_t *status = gitops_status_build(in->repo, &o, in->now_wall_ns);
	free(health_message);
	if (!status)
		return error_oom(err);
	int r = gitops_status_add(t, in->repo, status, &out->status_written, &out->repo_after, err);
	if (r < 0)
		return r;
	int64_t generation = json_integer_value(
		json_object_get(json_object_get(in->repo, "metadata"), "generation"));
	return add_events(in, out, t, res, wrote, ctx->drift, revision ? revision : "", status,
			  generation, err);
}

/* A commit that did not happen wrote no status. */
static void
record_failed(struct gitops_sync_output *out)
{
	json_decref(steal_pointer(&out->repo_after));
	out->status_written = false;
}

/*
 * Applies (only the keys of only, when not NULL) with the outcome recorded in the same
 * transaction; on failure out->reason and out->error say why, and nothing was written.
 */
static int
apply_recorded(const struct gitops_sync_input *in, struct gitops_sync_output *out, bool drift,
	       const struct gitops_desired *desired, const struct hashmap *only,
	       const json_t *prev_inventory, bool prune)
{
	struct record_ctx ctx = { .in = in, .out = out, .drift = drift };
	korch_error *e = NULL;
	int r = gitops_apply(in->client, in->repo, desired, only, prev_inventory, prune, record,
			     &ctx, &out->result, &e);
	if (r < 0) {
		record_failed(out);
		out->applied = false;
		json_decref(steal_pointer(&out->inventory));
		out->reason = GITOPS_APPLY_FAILED;
		korch_error_free(out->error);
		out->error = e;
	}
	return r;
}

/* Builds and applies, recording the outcome in the same transaction; on failure out->reason
 * and out->error say why, and the failure is still to be recorded. */
static int
build_and_apply(const struct gitops_sync_input *in, struct gitops_sync_output *out)
{
	korch_error *e = NULL;
	const char *target = json_string_value(
		json_object_get(json_object_get(in->repo, "spec"), "targetNamespace"));
	/* The same manifests for the same repository: the objects applied are the ones. */
	out->reused = in->applied && in->manifests == in->applied_manifests &&
		      gitops_desired_origin_is(in->applied, in->repo, target);
	int r = out->reused ? 0
			    : gitops_desired_build(in->repo, in->manifests, in->applied,
						   &out->desired, &e);
	if (r < 0) {
		out->reason = GITOPS_MANIFEST_INVALID;
		out->error = e;
		return r;
	}
	if ((r = store_revision(client_store(in->client), &out->plan_revision, NULL, &e)) < 0) {
		out->reason = GITOPS_APPLY_FAILED;
		out->error = e;
		return r;
	}
	const struct gitops_desired *desired = out->reused ? in->applied : &out->desired;
	struct hashmap only = HASHMAP_INIT;
	if (in->applied && changed_keys(desired, in->applied, in->touched, &only) < 0) {
		hashmap_free(&only, NULL);
		out->reason = GITOPS_APPLY_FAILED;
		return error_oom(&out->error);
	}
	const json_t *prev_inventory =
		in->applied ? in->applied_inventory
			    : json_object_get(json_object_get(in->repo, "status"), "inventory");
	bool prune = !json_is_false(json_object_get(json_object_get(in->repo, "spec"), "prune"));
	/* The status to record names the new inventory: made before the transaction. */
	bool same = out->reused ||
		    (in->applied && in->applied_inventory && same_objects(desired, in->applied));
	out->inventory =
		same ? json_incref((json_t *)in->applied_inventory) : gitops_inventory(desired);
	if (!out->inventory) {
		hashmap_free(&only, NULL);
		out->reason = GITOPS_APPLY_FAILED;
		return error_oom(&out->error);
	}
	out->applied = true;
	r = apply_recorded(in, out, false, desired, in->applied ? &only : NULL, prev_inventory,
			   prune);
	hashmap_free(&only, NULL);
	return r;
}

int
gitops_sync_finish(const struct gitops_sync_input *in, struct gitops_sync_output *out,
		   korch_error **err)
{
	*out = (struct gitops_sync_output){ .reason = in->reason };
	if (in->reason != GITOPS_OK || !in->manifests) {
		if (in->error && error_set(&out->error, korch_error_code(in->error), "%s",
					   korch_error_message(in->error)) == KORCH_ENOMEM)
			return error_oom(err);
		if (out->reason == GITOPS_OK)
			out->reason = GITOPS_FETCH_FAILED;
	} else if (build_and_apply(in, out) == 0 && !out->record_after) {
		return 0;
	}
	return gitops_sync_record(in, out, false, err);
}

int
gitops_sync_correct(const struct gitops_sync_input *in, struct gitops_sync_output *out,
		    const struct gitops_desired *applied, const struct hashmap *touched,
		    korch_error **err)
{
	korch_error *e = NULL;
	int r = store_revision(client_store(in->client), &out->plan_revision, NULL, &e);
	if (r == 0)
		r = apply_recorded(in, out, true, applied, touched, NULL, false);
	else {
		json_decref(steal_pointer(&out->inventory));
		out->applied = false;
		out->reason = GITOPS_APPLY_FAILED;
		korch_error_free(out->error);
		out->error = e;
	}
	if (r == 0)
		return out->record_after ? gitops_sync_record(in, out, true, err) : 0;
	/* Nothing was applied: the failure alone is recorded. */
	int rr = gitops_sync_record(in, out, true, err);
	if (rr < 0)
		return rr;
	return error_set(err, r, "%s", korch_error_message(out->error));
}

int
gitops_sync_record(const struct gitops_sync_input *in, struct gitops_sync_output *out, bool drift,
		   korch_error **err)
{
	struct client_txn *t = NULL;
	struct record_ctx ctx = { .in = in, .out = out, .drift = drift };
	int r = client_txn_new(in->client, &t, err);
	if (r < 0)
		return r;
	if ((r = record(t, NULL, &ctx, err)) < 0) {
		client_txn_free(t);
		record_failed(out);
		return r;
	}
	if (client_txn_size(t) == 0) {
		client_txn_free(t);
		return 0;
	}
	if ((r = client_txn_commit(t, NULL, err)) < 0)
		record_failed(out);
	return r;
}
