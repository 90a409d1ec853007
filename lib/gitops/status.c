/*
 * status.c - a GitRepository's status after a sync, and its Events.
 *
 * status: observedGeneration, lastAttemptedCommit (the commit fetched), lastAppliedCommit (the
 * commit whose objects are in the store, full SHA), lastAppliedTime (when it was applied),
 * lastHandledSyncRequest, inventory, and conditions in metav1.Condition form:
 *
 *   Ready        True "Succeeded" (applied, workloads healthy); Unknown "Progressing"
 *                (applied, a workload not there yet); False "Degraded" (applied, a workload
 *                failed); False FetchFailed | RefNotFound | PathNotFound | ManifestInvalid |
 *                ApplyFailed with the error.
 *   Healthy      the applied workloads: True "Healthy", Unknown "Progressing", False
 *                "Degraded"; present once a commit was applied.
 *   Reconciling  True "Progressing" while a workload is not there yet; absent otherwise.
 *
 * A condition keeps its lastTransitionTime while its status stays, so a sync that changes
 * nothing builds the same status, and gitops_status_add() then adds no write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "gitops/gitops.h"

/* Kubernetes' limit on a condition's message (metav1.Condition). */
#define CONDITION_MESSAGE_MAX 32768
/* Events: what validation allows a new-style Event, kept for the old style too. */
#define EVENT_MESSAGE_MAX 1024

static const json_t *
old_condition(const json_t *old_status, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(old_status, "conditions"), i, c)
		if (streq(json_string_value(json_object_get(c, "type")), type))
			return c;
	return NULL;
}

static int
add_condition(json_t *list, const json_t *old_status, int64_t generation, const char *type,
	      const char *status, const char *reason, const char *message, const char *now)
{
	const json_t *old = old_condition(old_status, type);
	const char *since = now;
	if (old && streq(json_string_value(json_object_get(old, "status")), status) &&
	    json_string_value(json_object_get(old, "lastTransitionTime")))
		since = json_string_value(json_object_get(old, "lastTransitionTime"));
	size_t len = strlen(message);
	char *cut = NULL;
	if (len > CONDITION_MESSAGE_MAX) {
		cut = strndup(message, CONDITION_MESSAGE_MAX);
		message = cut ? cut : "";
	}
	json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "type", type, "status", status,
			      "observedGeneration", (json_int_t)generation, "lastTransitionTime",
			      since, "reason", reason, "message", message);
	free(cut);
	return c && json_array_append_new(list, c) == 0 ? 0 : KORCH_ENOMEM;
}

/* Copies old[key] into st when present. */
static void
keep(json_t *st, const json_t *old, const char *key)
{
	json_t *v = json_object_get(old, key);
	if (v)
		json_object_set(st, key, v);
}

json_t *
gitops_status_build(const json_t *repo, const struct gitops_outcome *o, int64_t now_wall_ns)
{
	const json_t *old = json_object_get(repo, "status");
	int64_t generation = json_integer_value(
		json_object_get(json_object_get(repo, "metadata"), "generation"));
	char now[32];
	format_rfc3339(now_wall_ns - now_wall_ns % NSEC_PER_SEC, false, now);
	_cleanup_json_ json_t *st = json_object();
	if (!st)
		return NULL;
	json_object_set_new(st, "observedGeneration", json_integer(generation));
	const char *old_applied = json_string_value(json_object_get(old, "lastAppliedCommit"));
	if (o->applied) {
		json_object_set_new(st, "lastAppliedCommit", json_string(o->attempted_commit));
		if (streq_null(old_applied, o->attempted_commit))
			keep(st, old, "lastAppliedTime");
		else
			json_object_set_new(st, "lastAppliedTime", json_string(now));
	} else {
		keep(st, old, "lastAppliedCommit");
		keep(st, old, "lastAppliedTime");
	}
	if (o->attempted_commit)
		json_object_set_new(st, "lastAttemptedCommit", json_string(o->attempted_commit));
	else
		keep(st, old, "lastAttemptedCommit");
	if (o->sync_request)
		json_object_set_new(st, "lastHandledSyncRequest", json_string(o->sync_request));
	else
		keep(st, old, "lastHandledSyncRequest");
	if (o->applied && o->inventory)
		json_object_set(st, "inventory", (json_t *)o->inventory);
	else if (json_object_get(old, "inventory"))
		keep(st, old, "inventory");
	else
		json_object_set_new(st, "inventory", json_array());

	bool anything_applied = o->applied || old_applied;
	const char *revision = o->revision ? o->revision : "";
	json_t *conds = json_array();
	if (!conds || json_object_set_new(st, "conditions", conds) < 0)
		return NULL;
	struct strbuf msg = STRBUF_INIT;
	int r = 0;
	if (o->reason != GITOPS_OK) {
		r = add_condition(conds, old, generation, "Ready", "False",
				  gitops_reason_name(o->reason), o->message ? o->message : "", now);
	} else {
		strbuf_printf(&msg, "Applied revision %s", revision);
		if (o->health != GITOPS_HEALTHY && o->health_message)
			strbuf_printf(&msg, "; %s", o->health_message);
		static const char *const status[] = { "True", "Unknown", "False" };
		static const char *const reason[] = { "Succeeded", "Progressing", "Degraded" };
		r = msg.oom ? KORCH_ENOMEM
			    : add_condition(conds, old, generation, "Ready", status[o->health],
					    reason[o->health], strbuf_str(&msg), now);
	}
	if (r == 0 && anything_applied) {
		static const char *const status[] = { "True", "Unknown", "False" };
		static const char *const reason[] = { "Healthy", "Progressing", "Degraded" };
		const char *text = o->health == GITOPS_HEALTHY || !o->health_message
					   ? "The applied workloads are healthy"
					   : o->health_message;
		r = add_condition(conds, old, generation, "Healthy", status[o->health],
				  reason[o->health], text, now);
	}
	if (r == 0 && anything_applied && o->health == GITOPS_PROGRESSING)
		r = add_condition(conds, old, generation, "Reconciling", "True", "Progressing",
				  o->health_message ? o->health_message : "", now);
	strbuf_free(&msg);
	if (r < 0)
		return NULL;
	return steal_pointer(&st);
}

int
gitops_status_add(struct client_txn *t, const json_t *repo, json_t *status, bool *ret_written,
		  json_t **ret_repo, korch_error **err)
{
	const json_t *old = json_object_get(repo, "status");
	if (old && json_equal(old, status)) {
		*ret_written = false;
		return 0;
	}
	/* Shallow: only status and metadata differ from repo (whose inventory may be large). */
	_cleanup_json_ json_t *copy = json_copy((json_t *)repo);
	json_t *meta_in = json_object_get(repo, "metadata");
	json_t *meta = meta_in ? json_copy(meta_in) : NULL;
	if (!copy || (meta_in && (!meta || json_object_set_new(copy, "metadata", meta) < 0)) ||
	    json_object_set(copy, "status", status) < 0) {
		if (!copy)
			json_decref(meta);
		return error_oom(err);
	}
	/* The status is ours alone: no precondition on the version the sync started from. */
	json_object_del(meta, "resourceVersion");
	json_object_del(meta, "managedFields");
	struct client_write_opts wo = { .field_manager = GITOPS_FIELD_MANAGER };
	int r = client_txn_update(t, copy, "status", &wo, ret_repo, err);
	if (r < 0)
		return korch_error_prefix(err, r, "write the status");
	*ret_written = true;
	return 0;
}

const char *
gitops_ready_message(const json_t *repo)
{
	const json_t *c = old_condition(json_object_get(repo, "status"), "Ready");
	return json_string_value(json_object_get(c, "message"));
}

int
gitops_event_add(struct client *c, struct client_txn *t, const json_t *repo, const char *type,
		 const char *reason, const char *message, int64_t now_wall_ns, korch_error **err)
{
	const json_t *meta = json_object_get(repo, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	const struct kind_info *k = kind_lookup("v1", "Event");
	char now[32];
	format_rfc3339(now_wall_ns - now_wall_ns % NSEC_PER_SEC, false, now);
	_cleanup_free_ char *text = strndup(message, EVENT_MESSAGE_MAX);
	if (!text)
		return error_oom(err);
	/* A name neither the store nor the transaction holds yet (two Events of one sync). */
	char event_name[320];
	for (int attempt = 0;; attempt++) {
		snprintf(event_name, sizeof(event_name), "%s.%llx", name,
			 (unsigned long long)now_wall_ns + (unsigned long long)attempt);
		_cleanup_json_ json_t *existing = NULL;
		if (attempt == 16 || (!client_txn_find(t, k, ns, event_name) &&
				      client_get(c, k, ns, event_name, &existing, NULL) < 0))
			break;
	}
	_cleanup_json_ json_t *ev = json_pack(
		"{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s,"
		" s:{s:s}, s:s, s:s, s:i, s:s}",
		"apiVersion", "v1", "kind", "Event", "metadata", "name", event_name, "namespace",
		ns, "involvedObject", "apiVersion", "gitops.korch.io/v1", "kind", "GitRepository",
		"namespace", ns, "name", name, "uid", uid ? uid : "", "reason", reason, "message",
		text, "type", type, "source", "component", GITOPS_COMPONENT, "firstTimestamp", now,
		"lastTimestamp", now, "count", 1, "reportingComponent", GITOPS_COMPONENT);
	if (!ev)
		return error_oom(err);
	struct client_write_opts wo = { .field_manager = GITOPS_FIELD_MANAGER };
	return client_txn_create(t, ev, &wo, NULL, err);
}
