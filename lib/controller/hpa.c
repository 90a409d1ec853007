/*
 * hpa.c - the HorizontalPodAutoscaler controller, autoscaling/v2 (Kubernetes'
 * pkg/controller/podautoscaler): every hpa_sync_period (15 s, the first one a period after it
 * is created) each autoscaler reads its
 * target's /scale, computes a replica count from each Resource metric (cpu or memory, target
 * Utilization of the pods' requests or AverageValue) as the replica calculator does (10 %
 * tolerance; pods Pending, unready or still starting their CPU, and pods without samples,
 * counted as Kubernetes counts them), takes the largest, applies minReplicas/maxReplicas and
 * either the legacy rules (a scale-down stabilisation window, hpa_downscale_window_ns, and the
 * scale-up limit max(2 x current, 4)) or spec.behavior (stabilisation windows, Pods and Percent
 * policies over their periods, selectPolicy), and writes the new count through the scale
 * subresource. Conditions AbleToScale, ScalingActive and ScalingLimited, status.currentMetrics
 * and the Events (SuccessfulRescale "New size: N; reason: R", FailedGetScale,
 * FailedGetResourceMetric, FailedComputeMetricsReplicas, ...) carry Kubernetes' reasons and
 * messages.
 *
 * Usage comes from the manager's pod_usage callback (the node agents' samples, as metrics.k8s.io
 * would serve them); without one every autoscaler reports that the metrics API is missing.
 * Other metric types (Pods, Object, External, ContainerResource) count as invalid metrics.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"

/* --horizontal-pod-autoscaler-cpu-initialization-period */
#define CPU_INITIALIZATION_PERIOD (300 * NSEC_PER_SEC)
/* --horizontal-pod-autoscaler-initial-readiness-delay */
#define INITIAL_READINESS_DELAY (30 * NSEC_PER_SEC)

struct recommendation {
	int64_t at_ns;    /* monotonic */
	int32_t replicas; /* the unstabilised recommendation */
};

struct scale_event {
	int64_t at_ns;  /* monotonic */
	int32_t change; /* replicas added or removed */
	bool outdated;  /* older than the longest policy period */
};

struct hpa_memory {
	struct recommendation *recs;
	size_t n_recs;
	struct scale_event *ups, *downs;
	size_t n_ups, n_downs;
};

struct hpa_ctrl {
	struct informer *hpas; /* HorizontalPodAutoscalers */
	struct informer *pods; /* Pods */
	struct hashmap mem;    /* HPA key -> struct hpa_memory * */
};

int
pod_usage_from_samples(const json_t *usage, const char *ns, const char *name, struct pod_usage *ret,
		       korch_error **err)
{
	const json_t *samples = json_object_get(usage, "samples");
	for (size_t i = json_array_size(samples); i-- > 0;) {
		const json_t *s = json_array_get(samples, i);
		const json_t *cpu = json_object_get(s, "cpu");
		int64_t t = 0;
		if (!json_is_integer(cpu) ||
		    parse_rfc3339(json_string_value(json_object_get(s, "timestamp")), &t) < 0)
			continue;
		*ret = (struct pod_usage){
			.cpu_milli = json_integer_value(cpu) / 1000000,
			.memory_bytes = json_integer_value(json_object_get(s, "memory")),
			.timestamp_ns = t,
			.window_ns =
				json_integer_value(json_object_get(usage, "window")) * NSEC_PER_SEC,
		};
		return 0;
	}
	return error_set(err, KORCH_ENOTFOUND, "no usage sample of pod %s/%s yet", ns, name);
}

static struct hpa_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static void
memory_free(void *p)
{
	struct hpa_memory *m = p;
	if (!m)
		return;
	free(m->recs);
	free(m->ups);
	free(m->downs);
	free(m);
}

/*
 * Every add or change waits for the sync period, as the controller's queue (a fixed-interval
 * rate limiter) has it: an autoscaler is processed once a period, never on its own writes.
 */
static void
hpa_added(const json_t *hpa, void *userdata)
{
	struct ctrl *ctl = userdata;
	_cleanup_free_ char *key = object_key(hpa);
	if (key)
		ctrl_enqueue_after(ctl, key, cm_options(ctl->cm)->hpa_sync_period_ns);
}

static void
hpa_updated(const json_t *old, const json_t *hpa, void *userdata)
{
	hpa_added(hpa, userdata);
}

static void
hpa_deleted(const json_t *hpa, void *userdata)
{
	ctrl_enqueue(userdata, hpa);
}

static int
hpa_init(struct ctrl *ctl, korch_error **err)
{
	struct hpa_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->mem = (struct hashmap)HASHMAP_INIT;
	s->hpas = cm_informer(ctl->cm, "autoscaling/v2", "HorizontalPodAutoscaler");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	if (!s->hpas || !s->pods)
		return error_oom(err);
	ctl->primary = s->hpas;
	struct informer_handlers h = { hpa_added, hpa_updated, hpa_deleted, ctl };
	return informer_add_handlers(s->hpas, &h, err);
}

static void
hpa_fini(struct ctrl *ctl)
{
	struct hpa_ctrl *s = state(ctl);
	if (!s)
		return;
	hashmap_free(&s->mem, memory_free);
	free(s);
}

/* ---- the replica calculator ---- */

struct pod_metric {
	const json_t *pod; /* cached */
	bool has_metric;   /* a sample was found */
	int64_t value;     /* milli-units */
	int64_t request;   /* milli-units, the pod's containers summed */
	int64_t at_ns;     /* wall: the sample's end */
	int64_t window_ns; /* the sample's window */
	int group;         /* G_READY, G_UNREADY, G_MISSING, G_IGNORED */
};

enum { G_READY, G_UNREADY, G_MISSING, G_IGNORED };

struct calc {
	struct ctrl *ctl;
	const char *resource; /* "cpu" or "memory" */
	struct pod_metric *pods;
	size_t n, cap;
	int64_t timestamp_ns; /* of the first metric */
};

static void
collect_pod(const json_t *pod, void *userdata)
{
	struct calc *c = userdata;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct pod_metric *p = realloc(c->pods, cap * sizeof(*p));
		if (!p)
			return;
		c->pods = p;
		c->cap = cap;
	}
	c->pods[c->n++] = (struct pod_metric){ .pod = pod };
}

static double
tolerance(struct ctrl *ctl)
{
	return (double)cm_options(ctl->cm)->hpa_tolerance_permille / 1000.0;
}

/* calculatePodRequests: the pod's containers' requests of resource, in milli-units. */
static int
pod_request(const json_t *pod, const char *resource, int64_t *ret, korch_error **err)
{
	int64_t sum = 0;
	size_t i;
	json_t *ctr;
	json_array_foreach (jp_get(pod, "spec.containers"), i, ctr) {
		const json_t *req = json_object_get(jp_get(ctr, "resources.requests"), resource);
		struct quantity q;
		if (!req || quantity_from_json(req, &q, NULL) < 0)
			return error_set(err, KORCH_EINVALID,
					 "missing request for %s in container %s of Pod %s",
					 resource, jp_str0(ctr, "name"),
					 jp_str0(pod, "metadata.name"));
		sum += quantity_milli_value(&q);
	}
	*ret = sum;
	return 0;
}

/* groupPods. */
static void
group_pods(struct calc *c, int64_t now_wall)
{
	for (size_t i = 0; i < c->n; i++) {
		struct pod_metric *m = &c->pods[i];
		const json_t *pod = m->pod;
		const char *phase = jp_str0(pod, "status.phase");
		if (jp_get(pod, "metadata.deletionTimestamp") || streq(phase, "Failed") ||
		    streq(phase, "Succeeded")) {
			m->group = G_IGNORED;
			continue;
		}
		if (streq(phase, "Pending")) {
			m->group = G_UNREADY;
			continue;
		}
		if (!m->has_metric) {
			m->group = G_MISSING;
			continue;
		}
		m->group = G_READY;
		if (!streq(c->resource, "cpu"))
			continue;
		const json_t *ready = condition_get(pod, "Ready");
		int64_t start = jp_time(pod, "status.startTime", -1);
		bool unready;
		if (!ready || start < 0) {
			unready = true;
		} else {
			int64_t transition = jp_time(ready, "lastTransitionTime", 0);
			bool is_false = streq(jp_str(ready, "status"), "False");
			if (start + CPU_INITIALIZATION_PERIOD > now_wall)
				unready = is_false || m->at_ns < transition + m->window_ns;
			else
				unready = is_false && start + INITIAL_READINESS_DELAY > transition;
		}
		if (unready)
			m->group = G_UNREADY;
	}
}

/* The usage ratio over the pods in use (GetResourceUtilizationRatio / GetMetricUsageRatio). */
static int
usage_ratio(const struct calc *c, const bool *use, const int64_t *values, bool utilization,
	    int64_t target, double *ret_ratio, int64_t *ret_util, int64_t *ret_raw,
	    korch_error **err)
{
	int64_t total = 0, requests = 0, n = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (!use[i])
			continue;
		total += values[i];
		requests += c->pods[i].request;
		n++;
	}
	if (utilization) {
		if (requests == 0)
			return error_set(err, KORCH_EINVALID,
					 "no metrics returned matched known pods");
		int64_t util = total * 100 / requests;
		*ret_ratio = (double)util / (double)target;
		*ret_util = util;
		*ret_raw = n ? total / n : 0;
		return 0;
	}
	int64_t avg = n ? total / n : 0;
	*ret_ratio = (double)avg / (double)target;
	*ret_raw = avg;
	*ret_util = 0;
	return 0;
}

/*
 * GetResourceReplicas (utilization) or GetRawResourceReplicas (average value): the replica
 * count for one resource metric.
 */
static int
resource_replicas(struct ctrl *ctl, const char *ns, const struct label_selector *sel,
		  const char *resource, bool utilization, int64_t target, int32_t current,
		  int32_t *ret_replicas, int64_t *ret_util, int64_t *ret_raw, korch_error **err)
{
	struct hpa_ctrl *s = state(ctl);
	const struct controller_manager_options *o = cm_options(ctl->cm);
	struct calc c = { ctl, resource, NULL, 0, 0, 0 };
	int r = 0;
	bool *use = NULL;
	int64_t *values = NULL;
	if (!o->pod_usage) {
		r = error_set(
			err, KORCH_ENOTFOUND,
			"unable to get metrics for resource %s: unable to fetch metrics from "
			"resource metrics API: the server could not find the requested resource "
			"(get pods.metrics.k8s.io)",
			resource);
		goto out;
	}
	cm_foreach_selected(ctl->cm, s->pods, ns, sel, collect_pod, &c);
	size_t with_metrics = 0;
	for (size_t i = 0; i < c.n; i++) {
		struct pod_usage u;
		korch_error *e = NULL;
		struct pod_metric *m = &c.pods[i];
		if (o->pod_usage(o->pod_usage_userdata, ns, jp_str0(m->pod, "metadata.name"), &u,
				 &e) < 0) {
			korch_error_free(e);
			continue;
		}
		m->has_metric = true;
		m->value = streq(resource, "cpu") ? u.cpu_milli : u.memory_bytes * 1000;
		m->at_ns = u.timestamp_ns;
		m->window_ns = u.window_ns;
		if (!with_metrics++)
			c.timestamp_ns = u.timestamp_ns;
	}
	if (!with_metrics) {
		r = error_set(err, KORCH_ENOTFOUND,
			      "unable to get metrics for resource %s: no metrics returned from "
			      "resource metrics API",
			      resource);
		goto out;
	}
	if (!c.n) {
		r = error_set(err, KORCH_ENOTFOUND,
			      "no pods returned by selector while calculating replica count");
		goto out;
	}
	group_pods(&c, cm_wall(ctl->cm));
	use = calloc(c.n, sizeof(*use));
	values = calloc(c.n, sizeof(*values));
	if (!use || !values) {
		r = error_oom(err);
		goto out;
	}
	size_t ready = 0, unready = 0, missing = 0, metrics = 0;
	for (size_t i = 0; i < c.n; i++) {
		struct pod_metric *m = &c.pods[i];
		ready += m->group == G_READY;
		unready += m->group == G_UNREADY;
		missing += m->group == G_MISSING;
		use[i] = m->group == G_READY;
		values[i] = m->value;
		metrics += use[i];
	}
	if (!metrics) {
		r = error_set(err, KORCH_ENOTFOUND,
			      "did not receive metrics for targeted pods (pods might be unready)");
		goto out;
	}
	if (utilization)
		for (size_t i = 0; i < c.n; i++)
			if (c.pods[i].group != G_IGNORED &&
			    (r = pod_request(c.pods[i].pod, resource, &c.pods[i].request, err)) < 0)
				goto out;
	double ratio;
	if ((r = usage_ratio(&c, use, values, utilization, target, &ratio, ret_util, ret_raw,
			     err)) < 0)
		goto out;
	double tol = tolerance(ctl);
	bool scale_up_with_unready = unready > 0 && ratio > 1.0;
	if (!scale_up_with_unready && missing == 0) {
		if (fabs(1.0 - ratio) <= tol)
			*ret_replicas = current;
		else
			*ret_replicas = (int32_t)ceil(ratio * (double)ready);
		goto out;
	}
	for (size_t i = 0; i < c.n; i++) {
		struct pod_metric *m = &c.pods[i];
		if (m->group == G_MISSING && ratio < 1.0) {
			use[i] = true;
			values[i] = utilization ? m->request * MAX(100, target) / 100 : target;
		} else if (m->group == G_MISSING && ratio > 1.0) {
			use[i] = true;
			values[i] = 0;
		}
		if (m->group == G_UNREADY && scale_up_with_unready) {
			use[i] = true;
			values[i] = 0;
		}
	}
	double next;
	int64_t ignore_util, ignore_raw;
	if ((r = usage_ratio(&c, use, values, utilization, target, &next, &ignore_util, &ignore_raw,
			     err)) < 0)
		goto out;
	if (fabs(1.0 - next) <= tol || (ratio < 1.0 && next > 1.0) || (ratio > 1.0 && next < 1.0)) {
		*ret_replicas = current;
		goto out;
	}
	size_t used = 0;
	for (size_t i = 0; i < c.n; i++)
		used += use[i];
	int32_t proposal = (int32_t)ceil(next * (double)used);
	if ((next < 1.0 && proposal > current) || (next > 1.0 && proposal < current))
		proposal = current;
	*ret_replicas = proposal;
out:
	free(use);
	free(values);
	free(c.pods);
	return r;
}

/* A milli-value as a DecimalSI quantity ("250m", "128Mi" is not DecimalSI: "134217728"). */
static json_t *
milli_quantity(int64_t milli)
{
	char buf[64];
	if (milli % 1000) {
		snprintf(buf, sizeof(buf), "%" PRId64 "m", milli);
		return json_string(buf);
	}
	int64_t v = milli / 1000;
	static const char suffixes[] = { 'k', 'M', 'G', 'T', 'P', 'E' };
	int s = -1;
	while (v != 0 && v % 1000 == 0 && s < 5) {
		v /= 1000;
		s++;
	}
	if (s < 0)
		snprintf(buf, sizeof(buf), "%" PRId64, v);
	else
		snprintf(buf, sizeof(buf), "%" PRId64 "%c", v, suffixes[s]);
	return json_string(buf);
}

/* ---- metrics ---- */

struct metric_result {
	int32_t replicas;        /* proposal */
	char name[128];          /* "cpu resource utilization (percentage of request)" */
	json_t *status;          /* MetricStatus, or NULL */
	char cond_reason[64];    /* on failure: the ScalingActive reason */
	char cond_message[1024]; /* and its message */
};

/* computeReplicasForMetric for one spec. */
static int
metric_replicas(struct ctrl *ctl, json_t *hpa, const json_t *spec, int32_t current,
		const struct label_selector *sel, struct metric_result *res, korch_error **err)
{
	const char *type = jp_str0(spec, "type");
	const char *ns = jp_str0(hpa, "metadata.namespace");
	if (!streq(type, "Resource")) {
		static const struct {
			const char *type, *reason;
		} reasons[] = {
			{ "Pods", "FailedGetPodsMetric" },
			{ "Object", "FailedGetObjectMetric" },
			{ "External", "FailedGetExternalMetric" },
			{ "ContainerResource", "FailedGetContainerResourceMetric" },
		};
		const char *reason = "InvalidMetricSourceType";
		for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
			if (streq(type, reasons[i].type))
				reason = reasons[i].reason;
		snprintf(res->cond_reason, sizeof(res->cond_reason), "%s", reason);
		korch_error *e = NULL;
		error_set(&e, KORCH_EUNSUPPORTED,
			  "korch serves no metrics API for %s metrics (only Resource cpu and "
			  "memory)",
			  type);
		cm_event(ctl, hpa, "Warning", reason, "%s", korch_error_message(e));
		snprintf(res->cond_message, sizeof(res->cond_message),
			 "the HPA was unable to compute the replica count: %s",
			 korch_error_message(e));
		korch_error_free(e);
		return error_set(err, KORCH_EUNSUPPORTED,
				 "invalid metric source type \"%s\": korch serves Resource metrics "
				 "only",
				 type);
	}
	const char *resource = jp_str0(spec, "resource.name");
	const json_t *target = jp_get(spec, "resource.target");
	const json_t *avg_value = json_object_get(target, "averageValue");
	const json_t *avg_util = json_object_get(target, "averageUtilization");
	snprintf(res->cond_reason, sizeof(res->cond_reason), "FailedGetResourceMetric");
	korch_error *e = NULL;
	int r;
	int64_t util = 0, raw = 0;
	if (!streq(resource, "cpu") && !streq(resource, "memory")) {
		r = error_set(
			&e, KORCH_EUNSUPPORTED,
			"failed to get %s utilization: unable to get metrics for resource %s: "
			"no metrics returned from resource metrics API",
			resource, resource);
	} else if (avg_value) {
		struct quantity q;
		if (quantity_from_json(avg_value, &q, NULL) < 0)
			q = (struct quantity){ 0 };
		r = resource_replicas(ctl, ns, sel, resource, false, quantity_milli_value(&q),
				      current, &res->replicas, &util, &raw, &e);
		if (r < 0) {
			korch_error *w = NULL;
			error_set(&w, r, "failed to get %s usage: %s", resource,
				  korch_error_message(e));
			korch_error_free(e);
			e = w;
		} else {
			snprintf(res->name, sizeof(res->name), "%s resource", resource);
			res->status = json_pack("{s:s, s:{s:s, s:{s:o}}}", "type", "Resource",
						"resource", "name", resource, "current",
						"averageValue", milli_quantity(raw));
		}
	} else if (avg_util) {
		r = resource_replicas(ctl, ns, sel, resource, true, json_integer_value(avg_util),
				      current, &res->replicas, &util, &raw, &e);
		if (r < 0) {
			korch_error *w = NULL;
			error_set(&w, r, "failed to get %s utilization: %s", resource,
				  korch_error_message(e));
			korch_error_free(e);
			e = w;
		} else {
			snprintf(res->name, sizeof(res->name),
				 "%s resource utilization (percentage of request)", resource);
			res->status = json_pack("{s:s, s:{s:s, s:{s:I, s:o}}}", "type", "Resource",
						"resource", "name", resource, "current",
						"averageUtilization", (json_int_t)util,
						"averageValue", milli_quantity(raw));
		}
	} else {
		r = error_set(&e, KORCH_EINVALID,
			      "invalid resource metric source: neither an average utilization "
			      "target nor an average value (usage) target was set");
	}
	if (r < 0) {
		cm_event(ctl, hpa, "Warning", res->cond_reason, "%s", korch_error_message(e));
		snprintf(res->cond_message, sizeof(res->cond_message),
			 "the HPA was unable to compute the replica count: %s",
			 korch_error_message(e));
		r = error_set(err, r, "failed to get %s resource metric value: %s", resource,
			      korch_error_message(e));
		korch_error_free(e);
		return r;
	}
	return 0;
}

/* ---- normalisation ---- */

static struct hpa_memory *
memory_of(struct ctrl *ctl, const char *key)
{
	struct hpa_ctrl *s = state(ctl);
	struct hpa_memory *m = hashmap_get(&s->mem, key);
	if (m)
		return m;
	if (!(m = calloc(1, sizeof(*m))) || hashmap_put(&s->mem, key, m, NULL) < 0) {
		free(m);
		return NULL;
	}
	return m;
}

static void
record(struct hpa_memory *m, int found_old, int32_t replicas, int64_t now)
{
	if (found_old >= 0) {
		m->recs[found_old] = (struct recommendation){ now, replicas };
		return;
	}
	struct recommendation *p = realloc(m->recs, (m->n_recs + 1) * sizeof(*p));
	if (!p)
		return;
	m->recs = p;
	m->recs[m->n_recs++] = (struct recommendation){ now, replicas };
}

static void
set_cond(json_t *hpa, const char *type, bool status, const char *reason, const char *message,
	 int64_t wall)
{
	condition_set(hpa, type, status ? "True" : "False", reason, message, wall, false);
}

/* normalizeDesiredReplicas: the legacy rules. */
static int32_t
normalize(struct ctrl *ctl, json_t *hpa, struct hpa_memory *m, int32_t current, int32_t desired,
	  int32_t min, int32_t max)
{
	int64_t now = cm_now(ctl->cm), wall = cm_wall(ctl->cm);
	int64_t cutoff = now - cm_options(ctl->cm)->hpa_downscale_window_ns;
	int32_t stabilized = desired;
	int found_old = -1;
	for (size_t i = 0; m && i < m->n_recs; i++) {
		if (m->recs[i].at_ns < cutoff)
			found_old = (int)i;
		else if (m->recs[i].replicas > stabilized)
			stabilized = m->recs[i].replicas;
	}
	if (m)
		record(m, found_old, desired, now);
	if (stabilized != desired)
		set_cond(
			hpa, "AbleToScale", true, "ScaleDownStabilized",
			"recent recommendations were higher than current one, applying the highest "
			"recent recommendation",
			wall);
	else
		set_cond(hpa, "AbleToScale", true, "ReadyForNewScale",
			 "recommended size matches current size", wall);
	/* convertDesiredReplicasWithRules */
	int32_t up_limit = (int32_t)MAX(2.0 * current, 4.0);
	int32_t allowed_max;
	const char *reason, *message;
	if (max > up_limit) {
		allowed_max = up_limit;
		reason = "ScaleUpLimit";
		message =
			"the desired replica count is increasing faster than the maximum scale rate";
	} else {
		allowed_max = max;
		reason = "TooManyReplicas";
		message = "the desired replica count is more than the maximum replica count";
	}
	int32_t out = stabilized;
	if (stabilized < min) {
		out = min;
		reason = "TooFewReplicas";
		message = "the desired replica count is less than the minimum replica count";
	} else if (stabilized > allowed_max) {
		out = allowed_max;
	} else {
		reason = "DesiredWithinRange";
		message = "the desired count is within the acceptable range";
	}
	set_cond(hpa, "ScalingLimited", out != stabilized, reason, message, wall);
	return out;
}

/* getReplicasChangePerPeriod */
static int32_t
change_in_period(const struct scale_event *ev, size_t n, int64_t period_s, int64_t now)
{
	int64_t cutoff = now - period_s * NSEC_PER_SEC;
	int32_t sum = 0;
	for (size_t i = 0; i < n; i++)
		if (ev[i].at_ns > cutoff)
			sum += ev[i].change;
	return sum;
}

/* calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors */
static int32_t
rate_limit(const struct hpa_memory *m, const json_t *rules, int32_t current, bool up, int64_t now)
{
	const char *select = jp_str0(rules, "selectPolicy");
	if (streq(select, "Disabled"))
		return current;
	bool min_change = streq(select, "Min");
	int64_t result =
		up ? (min_change ? INT32_MAX : INT32_MIN) : (min_change ? INT32_MIN : INT32_MAX);
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(rules, "policies"), i, p) {
		int64_t period = jp_int(p, "periodSeconds", 0);
		int32_t added = m ? change_in_period(m->ups, m->n_ups, period, now) : 0;
		int32_t deleted = m ? change_in_period(m->downs, m->n_downs, period, now) : 0;
		int64_t start = (int64_t)current - added + deleted;
		int64_t value = jp_int(p, "value", 0);
		int64_t proposed = start;
		if (streq(jp_str(p, "type"), "Pods"))
			proposed = up ? start + value : start - value;
		else if (streq(jp_str(p, "type"), "Percent"))
			proposed = up ? (int64_t)ceil((double)start * (1.0 + (double)value / 100.0))
				      : (int64_t)((double)start * (1.0 - (double)value / 100.0));
		bool take_min = up ? min_change : !min_change;
		result = take_min ? MIN(result, proposed) : MAX(result, proposed);
	}
	return (int32_t)result;
}

static int64_t
window_s(struct ctrl *ctl, const json_t *rules, bool down)
{
	const json_t *w = json_object_get(rules, "stabilizationWindowSeconds");
	if (json_is_integer(w))
		return json_integer_value(w);
	return down ? cm_options(ctl->cm)->hpa_downscale_window_ns / NSEC_PER_SEC : 0;
}

/* normalizeDesiredReplicasWithBehaviors */
static int32_t
normalize_behavior(struct ctrl *ctl, json_t *hpa, struct hpa_memory *m, int32_t current,
		   int32_t desired, int32_t min, int32_t max)
{
	int64_t now = cm_now(ctl->cm), wall = cm_wall(ctl->cm);
	const json_t *up_rules = jp_get(hpa, "spec.behavior.scaleUp");
	const json_t *down_rules = jp_get(hpa, "spec.behavior.scaleDown");
	int64_t up_cutoff = now - window_s(ctl, up_rules, false) * NSEC_PER_SEC;
	int64_t down_cutoff = now - window_s(ctl, down_rules, true) * NSEC_PER_SEC;
	int32_t up_rec = desired, down_rec = desired;
	int found_old = -1;
	for (size_t i = 0; m && i < m->n_recs; i++) {
		const struct recommendation *r = &m->recs[i];
		if (r->at_ns > up_cutoff)
			up_rec = MIN(up_rec, r->replicas);
		if (r->at_ns > down_cutoff)
			down_rec = MAX(down_rec, r->replicas);
		if (r->at_ns < up_cutoff && r->at_ns < down_cutoff)
			found_old = (int)i;
	}
	int32_t stabilized = current;
	if (stabilized < up_rec)
		stabilized = up_rec;
	if (stabilized > down_rec)
		stabilized = down_rec;
	if (m)
		record(m, found_old, desired, now);
	if (stabilized != desired) {
		if (desired >= current)
			set_cond(hpa, "AbleToScale", true, "ScaleUpStabilized",
				 "recent recommendations were lower than current one, applying the "
				 "lowest recent recommendation",
				 wall);
		else
			set_cond(
				hpa, "AbleToScale", true, "ScaleDownStabilized",
				"recent recommendations were higher than current one, applying the "
				"highest recent recommendation",
				wall);
	} else {
		set_cond(hpa, "AbleToScale", true, "ReadyForNewScale",
			 "recommended size matches current size", wall);
	}
	/* convertDesiredReplicasWithBehaviorRate */
	int32_t out = stabilized;
	const char *reason = "DesiredWithinRange";
	const char *message = "the desired count is within the acceptable range";
	if (stabilized > current) {
		int32_t limit = rate_limit(m, up_rules, current, true, now);
		if (limit < current)
			limit = current;
		int32_t allowed = max;
		if (allowed > limit) {
			allowed = limit;
			reason = "ScaleUpLimit";
			message = "the desired replica count is increasing faster than the maximum "
				  "scale rate";
		} else {
			reason = "TooManyReplicas";
			message =
				"the desired replica count is more than the maximum replica count";
		}
		if (stabilized > allowed)
			out = allowed;
		else {
			reason = "DesiredWithinRange";
			message = "the desired count is within the acceptable range";
		}
	} else if (stabilized < current) {
		int32_t limit = rate_limit(m, down_rules, current, false, now);
		if (limit > current)
			limit = current;
		int32_t allowed = min;
		if (allowed < limit) {
			allowed = limit;
			reason = "ScaleDownLimit";
			message = "the desired replica count is decreasing faster than the maximum "
				  "scale rate";
		} else {
			reason = "TooFewReplicas";
			message =
				"the desired replica count is less than the minimum replica count";
		}
		if (stabilized < allowed)
			out = allowed;
		else {
			reason = "DesiredWithinRange";
			message = "the desired count is within the acceptable range";
		}
	}
	set_cond(hpa, "ScalingLimited", out != stabilized, reason, message, wall);
	return out;
}

static int64_t
longest_period(const json_t *rules)
{
	int64_t longest = 0;
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(rules, "policies"), i, p)
		longest = MAX(longest, jp_int(p, "periodSeconds", 0));
	return longest;
}

/* storeScaleEvent */
static void
store_scale_event(struct hpa_memory *m, const json_t *hpa, int32_t prev, int32_t next, int64_t now)
{
	const json_t *behavior = jp_get(hpa, "spec.behavior");
	if (!behavior || !m)
		return;
	bool up = next > prev;
	struct scale_event **list = up ? &m->ups : &m->downs;
	size_t *n = up ? &m->n_ups : &m->n_downs;
	int64_t period = longest_period(json_object_get(behavior, up ? "scaleUp" : "scaleDown"));
	int old = -1;
	for (size_t i = 0; i < *n; i++) {
		if ((*list)[i].at_ns <= now - period * NSEC_PER_SEC)
			(*list)[i].outdated = true;
		if ((*list)[i].outdated)
			old = (int)i;
	}
	struct scale_event ev = { now, up ? next - prev : prev - next, false };
	if (old >= 0) {
		(*list)[old] = ev;
		return;
	}
	struct scale_event *p = realloc(*list, (*n + 1) * sizeof(*p));
	if (!p)
		return;
	*list = p;
	p[(*n)++] = ev;
}

/* ---- reconcile ---- */

static int
write_status(struct ctrl *ctl, const char *key, const json_t *old, json_t *hpa)
{
	if (json_equal(jp_get(old, "status"), jp_get(hpa, "status")))
		return 0;
	korch_error *e = NULL;
	int r = cm_update(ctl, hpa, "status", NULL, &e);
	return ctrl_sync_end(ctl, key, r, e);
}

static int
hpa_sync(struct ctrl *ctl, const char *key)
{
	struct hpa_ctrl *s = state(ctl);
	char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return 0;
	const json_t *cached = informer_get(s->hpas, ns, name);
	free(ns);
	free(name);
	if (!cached) {
		memory_free(hashmap_remove(&s->mem, key));
		return 0;
	}
	ctrl_enqueue_after(ctl, key, cm_options(ctl->cm)->hpa_sync_period_ns);
	_cleanup_json_ json_t *hpa = json_deep_copy(cached);
	if (!hpa)
		return KORCH_ENOMEM;
	int64_t wall = cm_wall(ctl->cm), now = cm_now(ctl->cm);
	json_t *status = jp_obj(hpa, "status");
	json_object_set_new(status, "observedGeneration",
			    json_integer(jp_int(hpa, "metadata.generation", 0)));
	const char *api_version = jp_str0(hpa, "spec.scaleTargetRef.apiVersion");
	const char *kind = jp_str0(hpa, "spec.scaleTargetRef.kind");
	const char *target_name = jp_str0(hpa, "spec.scaleTargetRef.name");
	const struct kind_info *k = kind_lookup(api_version, kind);
	_cleanup_json_ json_t *scale = NULL;
	korch_error *e = NULL;
	int r = k ? client_get_scale(cm_client(ctl->cm), k, jp_str(hpa, "metadata.namespace"),
				     target_name, &scale, &e)
		  : error_set(&e, KORCH_ENOTFOUND,
			      "unable to determine resource for scale target reference: no matches "
			      "for kind \"%s\" in version \"%s\"",
			      kind, api_version);
	if (r < 0) {
		char msg[1024];
		snprintf(msg, sizeof(msg),
			 "the HPA controller was unable to get the target's current scale: %s",
			 korch_error_message(e));
		cm_event(ctl, hpa, "Warning", "FailedGetScale", "%s", korch_error_message(e));
		korch_error_free(e);
		set_cond(hpa, "AbleToScale", false, "FailedGetScale", msg, wall);
		return write_status(ctl, key, cached, hpa);
	}
	set_cond(hpa, "AbleToScale", true, "SucceededGetScale",
		 "the HPA controller was able to get the target's current scale", wall);
	int32_t current = (int32_t)jp_int(scale, "spec.replicas", 0);
	int32_t min = (int32_t)jp_int(hpa, "spec.minReplicas", 1);
	int32_t max = (int32_t)jp_int(hpa, "spec.maxReplicas", 1);
	int32_t desired = 0;
	const char *reason_text = "";
	char reason_buf[256];
	json_t *metric_statuses = json_array();
	json_t *metrics = (json_t *)jp_get(hpa, "spec.metrics");
	if (current == 0 && min != 0) {
		desired = 0;
		set_cond(hpa, "ScalingActive", false, "ScalingDisabled",
			 "scaling is disabled since the replica count of the target is zero", wall);
	} else if (current > max) {
		reason_text = "Current number of replicas above Spec.MaxReplicas";
		desired = max;
	} else if (current < min) {
		reason_text = "Current number of replicas below Spec.MinReplicas";
		desired = min;
	} else {
		/* computeReplicasForMetrics */
		struct label_selector *sel = NULL;
		const char *sel_text = jp_str0(scale, "status.selector");
		if (!*sel_text || label_selector_parse(sel_text, &sel, NULL) < 0) {
			cm_event(ctl, hpa, "Warning", "SelectorRequired", "selector is required");
			set_cond(hpa, "ScalingActive", false, "InvalidSelector",
				 "the HPA target's scale is missing a selector", wall);
			json_object_set_new(status, "currentReplicas", json_integer(current));
			json_decref(metric_statuses);
			return write_status(ctl, key, cached, hpa);
		}
		int32_t best = 0;
		char best_name[128] = "";
		size_t invalid = 0, n = json_array_size(metrics);
		korch_error *first = NULL;
		char first_reason[64] = "", first_message[1024] = "";
		size_t i;
		json_t *spec;
		json_array_foreach (metrics, i, spec) {
			struct metric_result res = { 0 };
			korch_error *me = NULL;
			if (metric_replicas(ctl, hpa, spec, current, sel, &res, &me) < 0) {
				if (!invalid++) {
					first = me;
					snprintf(first_reason, sizeof(first_reason), "%s",
						 res.cond_reason);
					snprintf(first_message, sizeof(first_message), "%s",
						 res.cond_message);
				} else {
					korch_error_free(me);
				}
				continue;
			}
			json_array_append_new(metric_statuses, res.status);
			if (best == 0 || res.replicas > best) {
				best = res.replicas;
				snprintf(best_name, sizeof(best_name), "%s", res.name);
			}
		}
		label_selector_free(sel);
		if (invalid && (invalid >= n || best < current)) {
			set_cond(hpa, "ScalingActive", false, first_reason, first_message, wall);
			cm_event(ctl, hpa, "Warning", "FailedComputeMetricsReplicas",
				 "invalid metrics (%zu invalid out of %zu), first error is: %s",
				 invalid, n, korch_error_message(first));
			korch_error_free(first);
			json_object_set_new(status, "currentReplicas", json_integer(current));
			if (json_array_size(metric_statuses))
				json_object_set_new(status, "currentMetrics", metric_statuses);
			else {
				json_object_del(status, "currentMetrics");
				json_decref(metric_statuses);
			}
			return write_status(ctl, key, cached, hpa);
		}
		korch_error_free(first);
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "the HPA was able to successfully calculate a replica count from %s",
			 best_name);
		set_cond(hpa, "ScalingActive", true, "ValidMetricFound", msg, wall);
		const char *rescale_metric = "";
		if (best > desired) {
			desired = best;
			rescale_metric = best_name;
		}
		if (desired > current) {
			snprintf(reason_buf, sizeof(reason_buf), "%s above target", rescale_metric);
			reason_text = reason_buf;
		}
		if (desired < current)
			reason_text = "All metrics below target";
		struct hpa_memory *m = memory_of(ctl, key);
		if (jp_get(hpa, "spec.behavior"))
			desired = normalize_behavior(ctl, hpa, m, current, desired, min, max);
		else
			desired = normalize(ctl, hpa, m, current, desired, min, max);
	}
	bool rescale = desired != current;
	if (rescale) {
		json_object_set_new(json_object_get(scale, "spec"), "replicas",
				    json_integer(desired));
		r = cm_update_scale(ctl, k, scale, NULL, &e);
		if (r < 0) {
			char msg[1024];
			snprintf(msg, sizeof(msg),
				 "the HPA controller was unable to update the target scale: %s",
				 korch_error_message(e));
			set_cond(hpa, "AbleToScale", false, "FailedUpdateScale", msg, wall);
			cm_event(ctl, hpa, "Warning", "FailedRescale",
				 "New size: %d; reason: %s; error: %s", desired, reason_text,
				 korch_error_message(e));
			korch_error_free(e);
			json_decref(metric_statuses);
			write_status(ctl, key, cached, hpa);
			return r;
		}
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "the HPA controller was able to update the target scale to %d", desired);
		set_cond(hpa, "AbleToScale", true, "SucceededRescale", msg, wall);
		cm_event(ctl, hpa, "Normal", "SuccessfulRescale", "New size: %d; reason: %s",
			 desired, reason_text);
		store_scale_event(memory_of(ctl, key), hpa, current, desired, now);
		char t[32];
		json_object_set_new(status, "lastScaleTime", json_string(time_text(wall, t)));
	}
	json_object_set_new(status, "currentReplicas", json_integer(current));
	json_object_set_new(status, "desiredReplicas", json_integer(desired));
	if (json_array_size(metric_statuses))
		json_object_set_new(status, "currentMetrics", metric_statuses);
	else {
		json_object_del(status, "currentMetrics");
		json_decref(metric_statuses);
	}
	return write_status(ctl, key, cached, hpa);
}

const struct ctrl_ops hpa_ops = {
	.name = "horizontalpodautoscaling",
	.component = "horizontal-pod-autoscaler",
	.init = hpa_init,
	.sync = hpa_sync,
	.fini = hpa_fini,
};
