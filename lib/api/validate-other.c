/*
 * validate-other.c - the kinds of the smaller API groups, as Kubernetes 1.32 validates them:
 * autoscaling/v2 HorizontalPodAutoscaler, scheduling.k8s.io PriorityClass,
 * coordination.k8s.io Lease and discovery.k8s.io EndpointSlice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "api/validate-internal.h"
#include "base/util.h"

/* --- HorizontalPodAutoscaler --------------------------------------------------------------- */

static void
path_segment(struct vctx *c, const char *child, const char *value)
{
	struct name_problems p = { 0 };
	check_path_segment_name(value, false, &p);
	v_problems(c, child, value, &p);
}

/* ValidateCrossVersionObjectReference at current path + field */
static void
cross_version_ref(struct vctx *c, const char *field, const json_t *ref)
{
	size_t len = vp_field(c, field);
	const char *kind = jstr0(ref, "kind"), *name = jstr0(ref, "name");
	if (!*kind)
		v_required(c, "kind", "");
	else
		path_segment(c, "kind", kind);
	if (!*name)
		v_required(c, "name", "");
	else
		path_segment(c, "name", name);
	vp_pop(c, len);
}

static void
metric_identifier(struct vctx *c, const json_t *id)
{
	size_t len = vp_field(c, "metric");
	const char *name = jstr0(id, "name");
	if (!*name)
		v_required(c, "name", "must specify a metric name");
	else
		path_segment(c, "name", name);
	vp_pop(c, len);
}

static void
positive_quantity(struct vctx *c, const json_t *t, const char *key)
{
	const json_t *v = jget(t, key);
	if (!v || json_is_null(v))
		return;
	size_t len = vp_field(c, key);
	struct quantity q;
	if (v_parse_quantity(c, v, &q) && q.nano <= 0)
		v_invalid_go(c, NULL, go_put_quantity, v, "must be positive");
	vp_pop(c, len);
}

static void
metric_target(struct vctx *c, const json_t *t)
{
	size_t len = vp_field(c, "target");
	const char *type = jstr0(t, "type");
	if (!*type)
		v_required(c, "type", "must specify a metric target type");
	if (!str_in(type, STRS("Utilization", "Value", "AverageValue")))
		v_invalid_str(c, "type", type,
			      "must be either Utilization, Value, or AverageValue");
	positive_quantity(c, t, "value");
	positive_quantity(c, t, "averageValue");
	int64_t u;
	if (jint(t, "averageUtilization", &u) && u < 1)
		v_invalid_int(c, "averageUtilization", u, "must be greater than 0");
	vp_pop(c, len);
}

static void
metric_source(struct vctx *c, const char *which, const json_t *src)
{
	size_t len = vp_field(c, which);
	const json_t *t = jobj(src, "target");
	if (streq(which, "object")) {
		cross_version_ref(c, "describedObject", jobj(src, "describedObject"));
		metric_identifier(c, jobj(src, "metric"));
		metric_target(c, t);
		if (!jhas(t, "value") && !jhas(t, "averageValue"))
			v_required(c, "target.averageValue",
				   "must set either a target value or averageValue");
	} else if (streq(which, "external")) {
		metric_identifier(c, jobj(src, "metric"));
		metric_target(c, t);
		if (!jhas(t, "value") && !jhas(t, "averageValue"))
			v_required(c, "target.averageValue",
				   "must set either a target value for metric or a per-pod target");
		if (jhas(t, "value") && jhas(t, "averageValue"))
			v_forbidden(
				c, "target.value",
				"may not set both a target value for metric and a per-pod target");
	} else if (streq(which, "pods")) {
		metric_identifier(c, jobj(src, "metric"));
		metric_target(c, t);
		if (!jhas(t, "averageValue"))
			v_required(c, "target.averageValue",
				   "must specify a positive target averageValue");
	} else {
		const char *name = jstr0(src, "name");
		if (!*name) {
			v_required(c, "name", "must specify a resource name");
		} else if (streq(which, "containerResource")) {
			size_t l2 = vp_field(c, "name");
			validate_container_resource_name(c, name);
			vp_pop(c, l2);
		}
		if (streq(which, "containerResource")) {
			const char *ctr = jstr0(src, "container");
			if (!*ctr) {
				v_required(c, "container", "must specify a container");
			} else {
				struct name_problems p = { 0 };
				check_dns1123_label(ctr, &p);
				v_problems(c, "container", ctr, &p);
			}
		}
		metric_target(c, t);
		if (!jhas(t, "averageUtilization") && !jhas(t, "averageValue"))
			v_required(c, "target.averageUtilization",
				   "must set either a target raw value or a target utilization");
		if (jhas(t, "averageUtilization") && jhas(t, "averageValue"))
			v_forbidden(c, "target.averageValue",
				    "may not set both a target raw value and a target utilization");
	}
	vp_pop(c, len);
}

#define METRIC_TYPES STRS("ContainerResource", "External", "Object", "Pods", "Resource")

static void
metric_spec(struct vctx *c, const json_t *m)
{
	const char *type = jstr0(m, "type");
	if (!*type)
		v_required(c, "type", "must specify a metric source type");
	if (!str_in(type, METRIC_TYPES))
		v_not_supported_str(c, "type", type, METRIC_TYPES);
	static const char *const sources[] = { "object", "external", "pods", "resource",
					       "containerResource" };
	size_t present = 0;
	for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
		const json_t *src = jobj(m, sources[i]);
		if (!src)
			continue;
		if (++present == 1)
			metric_source(c, sources[i], src);
	}
	static const char *const types[] = { "Object", "Pods", "Resource", "External",
					     "ContainerResource" };
	static const char *const fields[] = { "object", "pods", "resource", "external",
					      "containerResource" };
	const char *expected = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (streq(type, types[i])) {
			expected = fields[i];
			if (!jobj(m, fields[i]))
				v_required(c, fields[i],
					   "must populate information for the given metric source");
		}
	if (!expected)
		v_not_supported_str(c, "type", type, METRIC_TYPES);
	if (present != 1) {
		/* Kubernetes walks a map here, in random order; korch reports in field order */
		for (size_t i = 0; i < ARRAY_SIZE(sources); i++)
			if (jobj(m, sources[i]) && !streq_null(sources[i], expected))
				v_forbidden(c, sources[i],
					    "must populate the given metric source only");
	}
}

static void
scaling_rules(struct vctx *c, const char *field, const json_t *r)
{
	if (!r)
		return;
	size_t len = vp_field(c, field);
	int64_t w;
	if (jint(r, "stabilizationWindowSeconds", &w)) {
		if (w < 0)
			v_invalid_int(c, "stabilizationWindowSeconds", w,
				      "must be greater than or equal to zero");
		if (w > 3600)
			v_invalid_int(c, "stabilizationWindowSeconds", w,
				      "must be less than or equal to 3600");
	}
	const char *sp = jstr(r, "selectPolicy");
	if (sp && !str_in(sp, STRS("Disabled", "Max", "Min")))
		v_not_supported_str(c, "selectPolicy", sp, STRS("Disabled", "Max", "Min"));
	const json_t *policies = jarr(r, "policies");
	if (!jlen(policies))
		v_required(c, "policies", "must specify at least one Policy");
	size_t i;
	json_t *p;
	json_array_foreach ((json_t *)policies, i, p) {
		size_t l2 = vp_field(c, "policies");
		vp_index(c, i);
		const char *type = jstr0(p, "type");
		if (!str_in(type, STRS("Pods", "Percent")))
			v_not_supported_str(c, "type", type, STRS("Percent", "Pods"));
		int64_t v = jint0(p, "value"), period = jint0(p, "periodSeconds");
		if (v <= 0)
			v_invalid_int(c, "value", v, "must be greater than zero");
		if (period <= 0)
			v_invalid_int(c, "periodSeconds", period, "must be greater than zero");
		if (period > 1800)
			v_invalid_int(c, "periodSeconds", period,
				      "must be less than or equal to 1800");
		vp_pop(c, l2);
	}
	vp_pop(c, len);
}

static void
hpa_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	int64_t lower = 1, min = 0;
	if (old) {
		validate_object_meta_update(c, obj, old);
		int64_t omin;
		if (jint(jobj(old, "spec"), "minReplicas", &omin) && omin == 0)
			lower = 0; /* HPAScaleToZero is alpha (off); an HPA at 0 may stay there */
	} else {
		validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	}
	const json_t *spec = jobj(obj, "spec");
	size_t len = vp_field(c, "spec");
	bool has_min = jint(spec, "minReplicas", &min);
	int64_t max = jint0(spec, "maxReplicas");
	if (has_min && min < lower)
		v_invalid_int(c, "minReplicas", min, "must be greater than or equal to %lld",
			      (long long)lower);
	if (max < 1)
		v_invalid_int(c, "maxReplicas", max, "must be greater than 0");
	if (has_min && max < min)
		v_invalid_int(c, "maxReplicas", max,
			      "must be greater than or equal to `minReplicas`");
	cross_version_ref(c, "scaleTargetRef", jobj(spec, "scaleTargetRef"));
	bool object_or_external = false;
	size_t i;
	json_t *m;
	json_array_foreach (jarr(spec, "metrics"), i, m) {
		size_t l2 = vp_field(c, "metrics");
		vp_index(c, i);
		metric_spec(c, m);
		vp_pop(c, l2);
		object_or_external |= str_in(jstr0(m, "type"), STRS("Object", "External"));
	}
	if (has_min && min == 0 && !object_or_external)
		v_forbidden(
			c, "metrics",
			"must specify at least one Object or External metric to support scaling to "
			"zero replicas");
	const json_t *behavior = jobj(spec, "behavior");
	if (behavior) {
		size_t l2 = vp_field(c, "behavior");
		scaling_rules(c, "scaleUp", jobj(behavior, "scaleUp"));
		scaling_rules(c, "scaleDown", jobj(behavior, "scaleDown"));
		vp_pop(c, l2);
	}
	vp_pop(c, len);
}

void
validate_hpa(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(hpa_kind, obj, old, err);
}

/* --- PriorityClass ------------------------------------------------------------------------- */

static void
priority_class_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	const char *pp = jstr(obj, "preemptionPolicy");
	if (old) {
		validate_object_meta_update(c, obj, old);
		if (jint0(obj, "value") != jint0(old, "value"))
			v_forbidden(c, "value", "may not be changed in an update.");
		v_immutable(c, "preemptionPolicy", jget(obj, "preemptionPolicy"),
			    jget(old, "preemptionPolicy"), NULL);
		return;
	}
	validate_object_meta(c, obj, false, NAME_SUBDOMAIN);
	const char *name = jstr0(jobj(obj, "metadata"), "name");
	int64_t value = jint0(obj, "value");
	if (startswith(name, "system-")) {
		static const struct {
			const char *name;
			int64_t value;
		} system[] = { { "system-node-critical", 2000001000 },
			       { "system-cluster-critical", 2000000000 } };
		char why[256];
		snprintf(why, sizeof(why), "%s is not a known system priority class", name);
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(system); i++) {
			if (!streq(name, system[i].name))
				continue;
			if (value != system[i].value)
				snprintf(why, sizeof(why), "value of %s PriorityClass must be %lld",
					 name, (long long)system[i].value);
			else if (jbool(obj, "globalDefault"))
				snprintf(why, sizeof(why),
					 "globalDefault of %s PriorityClass must be false", name);
			else
				known = true;
		}
		if (!known) {
			char msg[400];
			snprintf(
				msg, sizeof(msg),
				"priority class names with 'system-' prefix are reserved for system use "
				"only. error: %s",
				why);
			v_forbidden(c, "metadata.name", msg);
		}
	} else if (value > 1000000000) {
		v_forbidden(c, "value",
			    "maximum allowed value of a user defined priority is 1000000000");
	}
	if (pp) {
		if (!*pp)
			v_required(c, "preemptionPolicy", "");
		else if (!str_in(pp, STRS("PreemptLowerPriority", "Never")))
			v_not_supported_str(c, "preemptionPolicy", pp,
					    STRS("PreemptLowerPriority", "Never"));
	}
}

void
validate_priority_class(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(priority_class_kind, obj, old, err);
}

/* --- Lease --------------------------------------------------------------------------------- */

static void
lease_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old)
		validate_object_meta_update(c, obj, old);
	else
		validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	const json_t *spec = jobj(obj, "spec");
	size_t len = vp_field(c, "spec");
	int64_t v;
	if (jint(spec, "leaseDurationSeconds", &v) && v <= 0)
		v_invalid_int(c, "leaseDurationSeconds", v, "must be greater than 0");
	if (jint(spec, "leaseTransitions", &v) && v < 0)
		v_invalid_int(c, "leaseTransitions", v, MSG_NEGATIVE);
	const char *strategy = jstr(spec, "strategy");
	if (strategy) {
		/* ValidateCoordinatedLeaseStrategy names spec.strategy.strategy */
		if (!strchr(strategy, '/')) {
			if (!streq(strategy, "OldestEmulationVersion"))
				v_not_supported_str(c, "strategy.strategy", strategy,
						    STRS("OldestEmulationVersion"));
		} else {
			struct name_problems p = { 0 };
			check_qualified_name(strategy, &p);
			v_problems(c, "strategy.strategy", strategy, &p);
		}
	}
	if (*jstr0(spec, "preferredHolder") && (!strategy || !*strategy))
		v_forbidden(c, "preferredHolder", "may only be specified if `strategy` is defined");
	vp_pop(c, len);
}

void
validate_lease(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(lease_kind, obj, old, err);
}

/* --- EndpointSlice ------------------------------------------------------------------------- */

/* validation.IsFullyQualifiedDomainName at current path + child */
static void
fqdn(struct vctx *c, const char *child, const char *name)
{
	if (!*name) {
		v_required(c, child, "");
		return;
	}
	_cleanup_free_ char *n = strdup(name);
	if (!n) {
		c->oom = true;
		return;
	}
	size_t l = strlen(n);
	if (n[l - 1] == '.')
		n[--l] = 0;
	struct name_problems p = { 0 };
	check_dns1123_subdomain(n, &p);
	if (p.n) {
		_cleanup_free_ char *joined = name_problems_join(&p, ",");
		if (!joined)
			c->oom = true;
		else
			v_invalid_str(c, child, n, "%s", joined);
		return;
	}
	if (!strchr(n, '.')) {
		v_invalid_str(c, child, n,
			      "should be a domain with at least two segments separated by dots");
		return;
	}
	for (char *save = NULL, *label = strtok_r(n, ".", &save); label;
	     label = strtok_r(NULL, ".", &save)) {
		p.n = 0;
		check_dns1123_label(label, &p);
		if (p.n) {
			_cleanup_free_ char *joined = name_problems_join(&p, ",");
			if (!joined)
				c->oom = true;
			else
				v_invalid_str(c, child, label, "%s", joined);
			return;
		}
	}
}

static void
endpoint(struct vctx *c, const json_t *ep, const char *type)
{
	const json_t *addrs = jarr(ep, "addresses");
	if (!jlen(addrs))
		v_required(c, "addresses", "must contain at least 1 address");
	else if (jlen(addrs) > 100)
		v_too_many(c, "addresses", (long)jlen(addrs), 100);
	size_t i;
	json_t *a;
	json_array_foreach ((json_t *)addrs, i, a) {
		const char *addr = json_is_string(a) ? json_string_value(a) : "";
		size_t len = vp_field(c, "addresses");
		vp_index(c, i);
		unsigned char b[16];
		bool v4;
		if (streq(type, "IPv4") || streq(type, "IPv6")) {
			bool want4 = streq(type, "IPv4");
			if (!ip_parse(addr, b, &v4) || v4 != want4)
				v_invalid_str(c, NULL, addr,
					      want4 ? "must be a valid IPv4 address"
						    : "must be a valid IPv6 address");
			else
				v_non_special_ip(c, NULL, addr);
		} else if (streq(type, "FQDN")) {
			fqdn(c, NULL, addr);
		}
		vp_pop(c, len);
	}
	const char *node = jstr(ep, "nodeName");
	if (node) {
		struct name_problems p = { 0 };
		check_dns1123_subdomain(node, &p);
		v_problems(c, "nodeName", node, &p);
	}
	const json_t *topo = jobj(ep, "deprecatedTopology");
	if (jlen(topo) > 16)
		v_too_many(c, "deprecatedTopology", (long)jlen(topo), 16);
	validate_label_map(c, "deprecatedTopology", jget(ep, "deprecatedTopology"));
	const char *zone = jstr(ep, "zone");
	if (zone) {
		json_t *m = json_pack("{ss}", "topology.kubernetes.io/zone", zone);
		if (!m)
			c->oom = true;
		else
			validate_label_map(c, "zone", m);
		json_decref(m);
	}
	const char *host = jstr(ep, "hostname");
	if (host) {
		struct name_problems p = { 0 };
		check_dns1123_label(host, &p);
		v_problems(c, "hostname", host, &p);
	}
	const json_t *hints = jobj(ep, "hints");
	if (hints) {
		size_t len = vp_field(c, "hints.forZones");
		const json_t *zones = jarr(hints, "forZones");
		if (jlen(zones) > 8) {
			v_too_many(c, NULL, (long)jlen(zones), 8);
		} else {
			json_t *seen = json_object();
			size_t k;
			json_t *z;
			json_array_foreach ((json_t *)zones, k, z) {
				const char *name = jstr0(z, "name");
				size_t l2 = vp_index(c, k);
				if (json_object_get(seen, name))
					v_duplicate_str(c, "name", name);
				else
					json_object_set_new(seen, name, json_true());
				struct name_problems p = { 0 };
				check_label_value(name, &p);
				v_problems(c, "name", name, &p);
				vp_pop(c, l2);
			}
			json_decref(seen);
		}
		vp_pop(c, len);
	}
}

static void
endpoint_slice_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	const char *type = jstr0(obj, "addressType");
	if (!*type)
		v_required(c, "addressType", "");
	else if (!str_in(type, STRS("FQDN", "IPv4", "IPv6")))
		v_not_supported_str(c, "addressType", type, STRS("FQDN", "IPv4", "IPv6"));
	const json_t *eps = jarr(obj, "endpoints");
	if (jlen(eps) > 1000) {
		v_too_many(c, "endpoints", (long)jlen(eps), 1000);
	} else {
		size_t i;
		json_t *ep;
		json_array_foreach ((json_t *)eps, i, ep) {
			size_t len = vp_field(c, "endpoints");
			vp_index(c, i);
			endpoint(c, ep, type);
			vp_pop(c, len);
		}
	}
	const json_t *ports = jarr(obj, "ports");
	if (jlen(ports) > 20000) {
		v_too_many(c, "ports", (long)jlen(ports), 20000);
	} else {
		json_t *names = json_object();
		size_t i;
		json_t *p;
		json_array_foreach ((json_t *)ports, i, p) {
			size_t len = vp_field(c, "ports");
			vp_index(c, i);
			const char *name = jstr0(p, "name");
			if (*name) {
				struct name_problems np = { 0 };
				check_dns1123_label(name, &np);
				v_problems(c, "name", name, &np);
			}
			if (json_object_get(names, name))
				v_duplicate_str(c, "name", name);
			else
				json_object_set_new(names, name, json_true());
			const char *proto = jstr(p, "protocol");
			if (!proto)
				v_required(c, "protocol", "");
			else if (!str_in(proto, STRS("SCTP", "TCP", "UDP")))
				v_not_supported_str(c, "protocol", proto,
						    STRS("SCTP", "TCP", "UDP"));
			const char *ap = jstr(p, "appProtocol");
			if (ap) {
				struct name_problems np = { 0 };
				check_qualified_name(ap, &np);
				v_problems(c, "appProtocol", ap, &np);
			}
			vp_pop(c, len);
		}
		json_decref(names);
	}
	if (old) {
		validate_object_meta_update(c, obj, old);
		v_immutable(c, "addressType", jget(obj, "addressType"), jget(old, "addressType"),
			    NULL);
	}
}

void
validate_endpoint_slice(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(endpoint_slice_kind, obj, old, err);
}
