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

/* Events for what the sync did; failures to record them are logged by the caller's error. */
static int
record_events(const struct gitops_sync_input *in, const struct gitops_sync_output *out, bool drift,
	      const char *revision, const json_t *status, int64_t generation, korch_error **err)
{
	const json_t *old = json_object_get(in->repo, "status");
	struct strbuf sb = STRBUF_INIT;
	int r = 0;
	if (out->result.revision > 0) {
		bool new_commit = !streq_null(
			json_string_value(json_object_get(old, "lastAppliedCommit")), in->commit);
		bool new_generation =
			json_integer_value(json_object_get(old, "observedGeneration")) !=
			generation;
		if (!drift && (new_commit || new_generation)) {
			strbuf_printf(&sb, "Applied revision %s: ", revision);
			counts_text(&sb, &out->result);
			r = gitops_event(in->client, in->repo, "Normal", "Synced", strbuf_str(&sb),
					 in->now_wall_ns, err);
		} else {
			strbuf_puts(&sb, "Put back what changed outside git: ");
			names_text(&sb, out->result.changed);
			r = gitops_event(in->client, in->repo, "Normal", "DriftCorrected",
					 strbuf_str(&sb), in->now_wall_ns, err);
		}
	}
	strbuf_free(&sb);
	if (r < 0)
		return r;
	json_t *new_repo = json_pack("{s:O}", "status", status);
	const char *new_ready = gitops_ready_message(new_repo);
	if (out->reason != GITOPS_OK && !streq_null(gitops_ready_message(in->repo), new_ready))
		r = gitops_event(in->client, in->repo, "Warning", gitops_reason_name(out->reason),
				 new_ready ? new_ready : "", in->now_wall_ns, err);
	if (r == 0 && streq_null(condition_status(new_repo, "Healthy"), "False") &&
	    !streq_null(condition_status(in->repo, "Healthy"), "False")) {
		const char *degraded = NULL;
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(status, "conditions"), i, c)
			if (streq(json_string_value(json_object_get(c, "type")), "Healthy"))
				degraded = json_string_value(json_object_get(c, "message"));
		r = gitops_event(in->client, in->repo, "Warning", "Degraded",
				 degraded ? degraded : "", in->now_wall_ns, err);
	}
	json_decref(new_repo);
	return r;
}

/* Builds and applies; on failure out->reason and out->error say why. */
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
	r = gitops_apply(in->client, in->repo, desired, in->applied ? &only : NULL, prev_inventory,
			 prune, &out->result, &e);
	hashmap_free(&only, NULL);
	if (r < 0) {
		out->reason = GITOPS_APPLY_FAILED;
		out->error = e;
		return r;
	}
	out->inventory = out->reused ? json_incref((json_t *)in->applied_inventory)
				     : gitops_inventory(desired);
	if (!out->inventory) {
		out->reason = GITOPS_APPLY_FAILED;
		return error_oom(&out->error);
	}
	out->applied = true;
	return 0;
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
	} else {
		build_and_apply(in, out);
	}
	return gitops_sync_record(in, out, false, err);
}

int
gitops_sync_record(const struct gitops_sync_input *in, struct gitops_sync_output *out, bool drift,
		   korch_error **err)
{
	_cleanup_free_ char *revision =
		in->commit ? gitops_revision_name(in->source, in->commit) : NULL;
	const json_t *inventory =
		out->applied ? out->inventory
			     : json_object_get(json_object_get(in->repo, "status"), "inventory");
	char *health_message = NULL;
	enum gitops_health health =
		gitops_health(inventory, in->lookup, in->lookup_userdata, &health_message);
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
	int r = gitops_status_write(in->client, in->repo, status, &out->status_written,
				    &out->repo_after, err);
	if (r < 0)
		return r;
	int64_t generation = json_integer_value(
		json_object_get(json_object_get(in->repo, "metadata"), "generation"));
	return record_events(in, out, drift, revision ? revision : "", status, generation, err);
}
