/*
 * defaults-other.c - defaulting of the kinds outside the core group as Kubernetes 1.32 does it:
 * apps/v1, batch/v1, autoscaling/v2, storage.k8s.io/v1, rbac.authorization.k8s.io/v1,
 * scheduling.k8s.io/v1 and discovery.k8s.io/v1 (their defaults.go and generated defaulters,
 * which also default the pod templates with core/v1's rules).
 */
#include <string.h>

#include "api/validate-internal.h"
#include "base/util.h"

/* --- apps/v1 ------------------------------------------------------------------------------- */

void
defaults_replica_set(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	dint(spec, "replicas", 1);
	defaults_pod_template(dobj(spec, "template"));
}

void
defaults_deployment(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	if (!spec)
		return;
	dint(spec, "replicas", 1);
	json_t *strategy = dobj(spec, "strategy");
	dstr(strategy, "type", "RollingUpdate");
	if (streq(jstr0(strategy, "type"), "RollingUpdate")) {
		json_t *ru = dobj(strategy, "rollingUpdate");
		dset(ru, "maxUnavailable", json_string("25%"));
		dset(ru, "maxSurge", json_string("25%"));
	}
	dint(spec, "revisionHistoryLimit", 10);
	dint(spec, "progressDeadlineSeconds", 600);
	defaults_pod_template(dobj(spec, "template"));
}

void
defaults_stateful_set(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	if (!spec)
		return;
	dstr(spec, "podManagementPolicy", "OrderedReady");
	json_t *us = dobj(spec, "updateStrategy");
	json_t *type = json_object_get(us, "type");
	if (us &&
	    (!type || json_is_null(type) || (json_is_string(type) && !*json_string_value(type)))) {
		json_object_set_new(us, "type", json_string("RollingUpdate"));
		dobj(us, "rollingUpdate");
	}
	json_t *ru = json_object_get(us, "rollingUpdate");
	if (streq(jstr0(us, "type"), "RollingUpdate") && json_is_object(ru))
		dint(ru, "partition", 0);
	json_t *retention = dobj(spec, "persistentVolumeClaimRetentionPolicy");
	dstr(retention, "whenDeleted", "Retain");
	dstr(retention, "whenScaled", "Retain");
	dint(spec, "replicas", 1);
	dint(spec, "revisionHistoryLimit", 10);
	defaults_pod_template(dobj(spec, "template"));
	size_t i;
	json_t *pvc;
	json_array_foreach (json_object_get(spec, "volumeClaimTemplates"), i, pvc)
		defaults_pvc_object(pvc);
}

void
defaults_daemon_set(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	if (!spec)
		return;
	json_t *us = dobj(spec, "updateStrategy");
	dstr(us, "type", "RollingUpdate");
	if (streq(jstr0(us, "type"), "RollingUpdate")) {
		json_t *ru = dobj(us, "rollingUpdate");
		dset(ru, "maxUnavailable", json_integer(1));
		dset(ru, "maxSurge", json_integer(0));
	}
	dint(spec, "revisionHistoryLimit", 10);
	defaults_pod_template(dobj(spec, "template"));
}

/* --- batch/v1 ------------------------------------------------------------------------------ */

static void
defaults_pod_failure_policy(json_t *spec)
{
	size_t i, j;
	json_t *rule, *pattern;
	json_array_foreach (json_object_get(json_object_get(spec, "podFailurePolicy"), "rules"), i,
			    rule)
		json_array_foreach (json_object_get(rule, "onPodConditions"), j, pattern) {
			if (json_is_object(pattern))
				dstr(pattern, "status", "True");
		}
}

void
defaults_job(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	if (!spec)
		return;
	if (!jhas(spec, "completions") && !jhas(spec, "parallelism")) {
		dint(spec, "completions", 1);
		dint(spec, "parallelism", 1);
	}
	dint(spec, "parallelism", 1);
	dint(spec, "backoffLimit", jhas(spec, "backoffLimitPerIndex") ? 2147483647 : 6);
	json_t *tmpl = dobj(spec, "template");
	json_t *labels = json_object_get(json_object_get(tmpl, "metadata"), "labels");
	json_t *meta = dobj(obj, "metadata");
	json_t *ml = json_object_get(meta, "labels");
	if (json_is_object(labels) && meta && !jlen(ml) &&
	    (!ml || json_is_null(ml) || json_is_object(ml)))
		json_object_set_new(meta, "labels", json_deep_copy(labels));
	dset(spec, "completionMode", json_string("NonIndexed"));
	dset(spec, "suspend", json_false());
	dset(spec, "podReplacementPolicy",
	     json_string(jhas(spec, "podFailurePolicy") ? "Failed" : "TerminatingOrFailed"));
	dset(spec, "manualSelector", json_false());
	defaults_pod_failure_policy(spec);
	defaults_pod_template(tmpl);
}

void
defaults_cron_job(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	if (!spec)
		return;
	dstr(spec, "concurrencyPolicy", "Allow");
	dset(spec, "suspend", json_false());
	dint(spec, "successfulJobsHistoryLimit", 3);
	dint(spec, "failedJobsHistoryLimit", 1);
	json_t *jspec = dobj(dobj(spec, "jobTemplate"), "spec");
	defaults_pod_failure_policy(jspec);
	defaults_pod_template(dobj(jspec, "template"));
}

/* --- autoscaling/v2 ------------------------------------------------------------------------ */

/* copyHPAScalingRules onto the defaults */
static json_t *
scaling_rules(json_t *from, json_t *defaults)
{
	if (!json_is_object(from))
		return defaults;
	static const char *const keys[] = { "selectPolicy", "stabilizationWindowSeconds",
					    "policies" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(from, keys[i]);
		if (v && !json_is_null(v))
			json_object_set(defaults, keys[i], v);
	}
	return defaults;
}

void
defaults_hpa(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	if (!spec)
		return;
	dint(spec, "minReplicas", 1);
	json_t *metrics = json_object_get(spec, "metrics");
	if (!jlen(metrics) && (!metrics || json_is_null(metrics) || json_is_array(metrics)))
		json_object_set_new(spec, "metrics",
				    json_pack("[{ss s{ss s{ss si}}}]", "type", "Resource",
					      "resource", "name", "cpu", "target", "type",
					      "Utilization", "averageUtilization", 80));
	json_t *behavior = json_object_get(spec, "behavior");
	if (!json_is_object(behavior))
		return;
	json_t *up = json_pack("{si ss s[{ss si si} {ss si si}]}", "stabilizationWindowSeconds", 0,
			       "selectPolicy", "Max", "policies", "type", "Pods", "value", 4,
			       "periodSeconds", 15, "type", "Percent", "value", 100,
			       "periodSeconds", 15);
	json_t *down = json_pack("{ss s[{ss si si}]}", "selectPolicy", "Max", "policies", "type",
				 "Percent", "value", 100, "periodSeconds", 15);
	if (!up || !down) {
		json_decref(up);
		json_decref(down);
		return;
	}
	json_object_set_new(behavior, "scaleUp",
			    scaling_rules(json_object_get(behavior, "scaleUp"), up));
	json_object_set_new(behavior, "scaleDown",
			    scaling_rules(json_object_get(behavior, "scaleDown"), down));
}

/* --- storage.k8s.io/v1, rbac, scheduling, discovery ---------------------------------------- */

void
defaults_storage_class(json_t *obj)
{
	dset(obj, "reclaimPolicy", json_string("Delete"));
	dset(obj, "volumeBindingMode", json_string("Immediate"));
}

void
defaults_role_binding(json_t *obj)
{
	dstr(dobj(obj, "roleRef"), "apiGroup", "rbac.authorization.k8s.io");
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(obj, "subjects"), i, s) {
		const char *kind = jstr0(s, "kind");
		if (json_is_object(s) && (streq(kind, "User") || streq(kind, "Group")))
			dstr(s, "apiGroup", "rbac.authorization.k8s.io");
	}
}

void
defaults_priority_class(json_t *obj)
{
	dset(obj, "preemptionPolicy", json_string("PreemptLowerPriority"));
}

void
defaults_endpoint_slice(json_t *obj)
{
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(obj, "ports"), i, p) {
		dset(p, "name", json_string(""));
		dset(p, "protocol", json_string("TCP"));
	}
}
