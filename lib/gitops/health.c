/*
 * health.c - whether the workloads a commit applied are where their spec wants them, read from
 * their status the way kstatus (the library kubectl and Flux use) reads it: a Deployment not yet
 * available, a StatefulSet or DaemonSet rolling out, a running Job or a pending Pod are
 * progressing; a failed Job or Pod, or a Deployment past its progress deadline, is degraded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "gitops/gitops.h"

static const json_t *
path_get(const json_t *obj, const char *a, const char *b)
{
	return json_object_get(json_object_get(obj, a), b);
}

static int64_t
int_or(const json_t *v, int64_t fallback)
{
	return json_is_integer(v) ? json_integer_value(v) : fallback;
}

/* The condition of type in status.conditions, or NULL. */
static const json_t *
condition(const json_t *obj, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (path_get(obj, "status", "conditions"), i, c)
		if (streq(json_string_value(json_object_get(c, "type")), type))
			return c;
	return NULL;
}

static bool
condition_is(const json_t *obj, const char *type, const char *status)
{
	const json_t *c = condition(obj, type);
	return c && streq(json_string_value(json_object_get(c, "status")), status);
}

/* Sets *ret_message to "KIND NS/NAME: TEXT" and returns h. */
static enum gitops_health _printf_(4, 5)
	verdict(const json_t *obj, enum gitops_health h, char **ret_message, const char *fmt, ...)
{
	/* An object, or an inventory entry (namespace and name at the top). */
	const json_t *meta = json_object_get(obj, "metadata");
	if (!meta)
		meta = obj;
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	struct strbuf sb = STRBUF_INIT;
	strbuf_printf(&sb, "%s %s%s%s: ", json_string_value(json_object_get(obj, "kind")),
		      ns ? ns : "", ns && *ns ? "/" : "",
		      json_string_value(json_object_get(meta, "name")) ?: "");
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(&sb, fmt, ap);
	va_end(ap);
	*ret_message = sb.oom ? NULL : strbuf_steal(&sb);
	strbuf_free(&sb);
	return h;
}

/* metadata.generation the controller has not reached yet. */
static bool
generation_pending(const json_t *obj)
{
	int64_t gen = int_or(path_get(obj, "metadata", "generation"), 0);
	int64_t seen = int_or(path_get(obj, "status", "observedGeneration"), 0);
	return gen > seen;
}

static enum gitops_health
deployment_health(const json_t *d, char **msg)
{
	const json_t *progressing = condition(d, "Progressing");
	if (progressing && streq(json_string_value(json_object_get(progressing, "reason")),
				 "ProgressDeadlineExceeded"))
		return verdict(d, GITOPS_DEGRADED, msg, "progress deadline exceeded");
	int64_t want = int_or(path_get(d, "spec", "replicas"), 1);
	int64_t available = int_or(path_get(d, "status", "availableReplicas"), 0);
	int64_t updated = int_or(path_get(d, "status", "updatedReplicas"), 0);
	int64_t total = int_or(path_get(d, "status", "replicas"), 0);
	if (available < want)
		return verdict(d, GITOPS_PROGRESSING, msg, "%lld of %lld replicas available",
			       (long long)available, (long long)want);
	if (generation_pending(d))
		return verdict(d, GITOPS_PROGRESSING, msg, "generation %lld not yet observed",
			       (long long)int_or(path_get(d, "metadata", "generation"), 0));
	if (updated < want)
		return verdict(d, GITOPS_PROGRESSING, msg, "%lld of %lld replicas updated",
			       (long long)updated, (long long)want);
	if (total > updated)
		return verdict(d, GITOPS_PROGRESSING, msg, "%lld old replicas pending termination",
			       (long long)(total - updated));
	return GITOPS_HEALTHY;
}

static enum gitops_health
statefulset_health(const json_t *s, char **msg)
{
	int64_t want = int_or(path_get(s, "spec", "replicas"), 1);
	int64_t ready = int_or(path_get(s, "status", "readyReplicas"), 0);
	int64_t updated = int_or(path_get(s, "status", "updatedReplicas"), 0);
	if (ready < want)
		return verdict(s, GITOPS_PROGRESSING, msg, "%lld of %lld replicas ready",
			       (long long)ready, (long long)want);
	if (generation_pending(s))
		return verdict(s, GITOPS_PROGRESSING, msg, "generation %lld not yet observed",
			       (long long)int_or(path_get(s, "metadata", "generation"), 0));
	const char *strategy =
		json_string_value(path_get(json_object_get(s, "spec"), "updateStrategy", "type"));
	if ((!strategy || streq(strategy, "RollingUpdate")) && updated < want)
		return verdict(s, GITOPS_PROGRESSING, msg, "%lld of %lld replicas updated",
			       (long long)updated, (long long)want);
	return GITOPS_HEALTHY;
}

static enum gitops_health
daemonset_health(const json_t *ds, char **msg)
{
	int64_t want = int_or(path_get(ds, "status", "desiredNumberScheduled"), 0);
	int64_t available = int_or(path_get(ds, "status", "numberAvailable"), 0);
	int64_t updated = int_or(path_get(ds, "status", "updatedNumberScheduled"), 0);
	if (generation_pending(ds))
		return verdict(ds, GITOPS_PROGRESSING, msg, "generation %lld not yet observed",
			       (long long)int_or(path_get(ds, "metadata", "generation"), 0));
	if (available < want)
		return verdict(ds, GITOPS_PROGRESSING, msg, "%lld of %lld pods available",
			       (long long)available, (long long)want);
	if (updated < want)
		return verdict(ds, GITOPS_PROGRESSING, msg, "%lld of %lld pods updated",
			       (long long)updated, (long long)want);
	return GITOPS_HEALTHY;
}

static enum gitops_health
job_health(const json_t *job, char **msg)
{
	if (condition_is(job, "Failed", "True")) {
		const json_t *c = condition(job, "Failed");
		const char *reason = json_string_value(json_object_get(c, "reason"));
		const char *text = json_string_value(json_object_get(c, "message"));
		return verdict(job, GITOPS_DEGRADED, msg, "failed%s%s%s%s", reason ? ": " : "",
			       reason ? reason : "", text && *text ? ": " : "",
			       text && *text ? text : "");
	}
	if (condition_is(job, "Complete", "True"))
		return GITOPS_HEALTHY;
	if (json_is_true(path_get(job, "spec", "suspend")))
		return GITOPS_HEALTHY;
	return verdict(job, GITOPS_PROGRESSING, msg, "running (%lld succeeded)",
		       (long long)int_or(path_get(job, "status", "succeeded"), 0));
}

static enum gitops_health
pod_health(const json_t *pod, char **msg)
{
	const char *phase = json_string_value(path_get(pod, "status", "phase"));
	if (streq_null(phase, "Failed")) {
		const char *reason = json_string_value(path_get(pod, "status", "reason"));
		return verdict(pod, GITOPS_DEGRADED, msg, "failed%s%s", reason ? ": " : "",
			       reason ? reason : "");
	}
	if (streq_null(phase, "Succeeded") ||
	    (streq_null(phase, "Running") && condition_is(pod, "Ready", "True")))
		return GITOPS_HEALTHY;
	return verdict(pod, GITOPS_PROGRESSING, msg, "%s",
		       streq_null(phase, "Running") ? "not ready"
		       : phase                      ? phase
						    : "Pending");
}

enum gitops_health
gitops_object_health(const json_t *live, char **ret_message)
{
	*ret_message = NULL;
	if (path_get(live, "metadata", "deletionTimestamp"))
		return GITOPS_HEALTHY; /* going: not the commit's business any more */
	const char *kind = json_string_value(json_object_get(live, "kind"));
	if (streq_null(kind, "Deployment"))
		return deployment_health(live, ret_message);
	if (streq_null(kind, "StatefulSet"))
		return statefulset_health(live, ret_message);
	if (streq_null(kind, "DaemonSet"))
		return daemonset_health(live, ret_message);
	if (streq_null(kind, "Job"))
		return job_health(live, ret_message);
	if (streq_null(kind, "Pod"))
		return pod_health(live, ret_message);
	return GITOPS_HEALTHY;
}

static bool
has_health(const char *kind)
{
	static const char *const kinds[] = { "Deployment", "StatefulSet", "DaemonSet", "Job",
					     "Pod" };
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (streq_null(kind, kinds[i]))
			return true;
	return false;
}

/* At most this many objects are named in the health message. */
#define HEALTH_NAMED 3

/* The health of one inventory entry (its live object looked up). */
static enum gitops_health
entry_health(const json_t *entry, gitops_lookup_fn lookup, void *userdata, char **ret_message)
{
	*ret_message = NULL;
	const char *kind = json_string_value(json_object_get(entry, "kind"));
	const char *ns = json_string_value(json_object_get(entry, "namespace"));
	const char *name = json_string_value(json_object_get(entry, "name"));
	const struct kind_info *k =
		kind_lookup(json_string_value(json_object_get(entry, "apiVersion")), kind);
	if (!k || !has_health(kind) || !name)
		return GITOPS_HEALTHY;
	_cleanup_json_ json_t *live = lookup(k, ns, name, userdata);
	if (!live)
		return verdict(entry, GITOPS_PROGRESSING, ret_message, "not found");
	return gitops_object_health(live, ret_message);
}

enum gitops_health
gitops_health(const json_t *inventory, gitops_lookup_fn lookup, void *userdata, char **ret_message)
{
	enum gitops_health worst = GITOPS_HEALTHY;
	char *named[HEALTH_NAMED] = { NULL };
	size_t n_worst = 0;
	size_t i;
	json_t *entry;
	json_array_foreach (inventory, i, entry) {
		char *msg = NULL;
		enum gitops_health h = entry_health(entry, lookup, userdata, &msg);
		if (h > worst) {
			for (size_t j = 0; j < HEALTH_NAMED; j++) {
				free(named[j]);
				named[j] = NULL;
			}
			worst = h;
			n_worst = 0;
		}
		if (h == worst && h != GITOPS_HEALTHY) {
			if (n_worst < HEALTH_NAMED)
				named[n_worst] = steal_pointer(&msg);
			n_worst++;
		}
		free(msg);
	}
	struct strbuf sb = STRBUF_INIT;
	for (size_t j = 0; j < HEALTH_NAMED && j < n_worst; j++)
		strbuf_printf(&sb, "%s%s", j ? "; " : "", named[j] ? named[j] : "");
	if (n_worst > HEALTH_NAMED)
		strbuf_printf(&sb, "; and %zu more", n_worst - HEALTH_NAMED);
	for (size_t j = 0; j < HEALTH_NAMED; j++)
		free(named[j]);
	*ret_message = worst == GITOPS_HEALTHY || sb.oom ? NULL : strbuf_steal(&sb);
	strbuf_free(&sb);
	return worst;
}
