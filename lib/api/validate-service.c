/*
 * validate-service.c - Services as Kubernetes 1.32 validates them (ValidateService,
 * ValidateServiceUpdate): ports, types, session affinity, cluster IPs and IP families,
 * external IPs, node ports, traffic policies and load balancer fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-internal.h"
#include "base/util.h"

#define MSG_PORT_RANGE "must be between 1 and 65535, inclusive"
#define MSG_LB_ONLY "may only be used when `type` is 'LoadBalancer'"

static bool
is_headless(const json_t *spec)
{
	const json_t *ips = jarr(spec, "clusterIPs");
	return jlen(ips) == 1 && json_is_string(json_array_get(ips, 0)) &&
	       streq(json_string_value(json_array_get(ips, 0)), "None");
}

static bool
externally_accessible(const json_t *spec)
{
	const char *t = jstr0(spec, "type");
	return streq(t, "LoadBalancer") || streq(t, "NodePort") ||
	       (streq(t, "ClusterIP") && jlen(jarr(spec, "externalIPs")) > 0);
}

static bool
needs_health_check(const json_t *spec)
{
	return streq(jstr0(spec, "type"), "LoadBalancer") &&
	       streq(jstr0(spec, "externalTrafficPolicy"), "Local");
}

/* core.ServicePort as %#v prints the (protocol, port) key of a duplicate. */
static void
put_port_key(struct strbuf *sb, const char *protocol, int64_t port)
{
	strbuf_puts(sb, "core.ServicePort{Name:\"\", Protocol:");
	strbuf_put_go_quoted(sb, protocol, strlen(protocol));
	strbuf_printf(
		sb,
		", AppProtocol:(*string)(nil), Port:%lld, TargetPort:intstr.IntOrString{Type:0, "
		"IntVal:0, StrVal:\"\"}, NodePort:0}",
		(long long)port);
}

static void
service_port(struct vctx *c, const json_t *sp, bool require_name, json_t *names)
{
	const char *name = jstr0(sp, "name");
	if (require_name && !*name) {
		v_required(c, "name", "");
	} else if (*name) {
		struct name_problems p = { 0 };
		check_dns1123_label(name, &p);
		v_problems(c, "name", name, &p);
		if (json_object_get(names, name))
			v_duplicate_str(c, "name", name);
		else
			json_object_set_new(names, name, json_true());
	}
	int64_t port = jint0(sp, "port");
	if (!is_port_number(port))
		v_invalid_int(c, "port", port, MSG_PORT_RANGE);
	const char *proto = jstr0(sp, "protocol");
	if (!*proto)
		v_required(c, "protocol", "");
	else if (!str_in(proto, STRS("SCTP", "TCP", "UDP")))
		v_not_supported_str(c, "protocol", proto, STRS("SCTP", "TCP", "UDP"));
	validate_port_num_or_name(c, "targetPort", jget(sp, "targetPort"));
	const char *app = jstr(sp, "appProtocol");
	if (app) {
		struct name_problems p = { 0 };
		check_qualified_name(app, &p);
		v_problems(c, "appProtocol", app, &p);
	}
}

static void
cluster_ips_related(struct vctx *c, const json_t *spec)
{
	if (streq(jstr0(spec, "type"), "ExternalName"))
		return;
	const json_t *ips = jarr(spec, "clusterIPs"), *fams = jarr(spec, "ipFamilies");
	const char *ip = jstr0(spec, "clusterIP");
	if (*ip) {
		if (!jlen(ips))
			v_required(c, "clusterIPs", "");
		else if (!json_is_string(json_array_get(ips, 0)) ||
			 !streq(ip, json_string_value(json_array_get(ips, 0))))
			v_invalid_go(c, "clusterIPs", go_put_str_slice, ips,
				     "first value must match `clusterIP`");
	} else if (jlen(ips)) {
		v_invalid_go(c, "clusterIPs", go_put_str_slice, ips,
			     "must be empty when `clusterIP` is not specified");
	}
	json_t *seen = json_object();
	size_t i;
	json_t *f;
	json_array_foreach ((json_t *)fams, i, f) {
		const char *s = json_is_string(f) ? json_string_value(f) : "";
		size_t len = vp_field(c, "ipFamilies");
		vp_index(c, i);
		if (!str_in(s, STRS("IPv4", "IPv6")))
			v_not_supported_str(c, NULL, s, STRS("IPv4", "IPv6"));
		if (json_object_get(seen, s))
			v_duplicate_str(c, NULL, s);
		json_object_set_new(seen, s, json_true());
		vp_pop(c, len);
	}
	json_decref(seen);
	const char *pol = jstr(spec, "ipFamilyPolicy");
	static const char *const pols[] = { "PreferDualStack", "RequireDualStack", "SingleStack",
					    NULL };
	if (pol && !str_in(pol, pols))
		v_not_supported_str(c, "ipFamilyPolicy", pol, pols);
	bool invalid = false;
	int v4 = 0, v6 = 0;
	json_t *v;
	json_array_foreach ((json_t *)ips, i, v) {
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		if (i == 0 && streq(s, "None")) {
			if (jlen(ips) > 1) {
				invalid = true;
				v_invalid_go(c, "clusterIPs", go_put_str_slice, ips,
					     "'None' must be the first and only value");
			}
			continue;
		}
		unsigned char b[16];
		bool is_v4;
		size_t len = vp_field(c, "clusterIPs");
		vp_index(c, i);
		if (!ip_parse(s, b, &is_v4)) {
			invalid = true;
			v_valid_ip(c, NULL, s);
		} else if (is_v4 && !strchr(s, ':')) {
			v4++;
		} else {
			v6++;
		}
		vp_pop(c, len);
	}
	if (jlen(ips) > 2)
		v_invalid_go(c, "clusterIPs", go_put_str_slice, ips,
			     "may only hold up to 2 values");
	if (invalid)
		return;
	if (jlen(ips) > 1 && !(v4 == 1 && v6 == 1))
		v_invalid_go(c, "clusterIPs", go_put_str_slice, ips,
			     "may specify no more than one IP for each IP family");
	if (!is_headless(spec) && jlen(ips) && jlen(fams)) {
		json_array_foreach ((json_t *)ips, i, v) {
			if (i >= jlen(fams))
				break;
			const char *s = json_is_string(v) ? json_string_value(v) : "";
			const json_t *fv = json_array_get(fams, i);
			const char *fam = json_is_string(fv) ? json_string_value(fv) : "";
			bool six = strchr(s, ':') != NULL;
			size_t len = vp_field(c, "clusterIPs");
			vp_index(c, i);
			if (streq(fam, "IPv4") && six)
				v_invalid_str(
					c, NULL, s,
					"expected an IPv4 value as indicated by `ipFamilies[%zu]`",
					i);
			if (streq(fam, "IPv6") && !six)
				v_invalid_str(
					c, NULL, s,
					"expected an IPv6 value as indicated by `ipFamilies[%zu]`",
					i);
			vp_pop(c, len);
		}
	}
}

static void
load_balancer_class(struct vctx *c, const json_t *spec, const json_t *ospec, bool update)
{
	const json_t *cls = jget(spec, "loadBalancerClass");
	bool lb = streq(jstr0(spec, "type"), "LoadBalancer");
	if (update && lb && streq(jstr0(ospec, "type"), "LoadBalancer")) {
		const json_t *ocls = jget(ospec, "loadBalancerClass");
		if (!(cls ? ocls && json_equal((json_t *)cls, (json_t *)ocls) : !ocls))
			v_invalid_go(c, "loadBalancerClass", go_put_scalar, cls,
				     "may not change once set");
	}
	if (lb) {
		if (json_is_string(cls)) {
			struct name_problems p = { 0 };
			check_qualified_name(json_string_value(cls), &p);
			v_problems(c, "loadBalancerClass", json_string_value(cls), &p);
		}
	} else if (cls) {
		v_forbidden(c, "loadBalancerClass", MSG_LB_ONLY);
	}
}

/* ValidateService at the root. */
static void
service_create(struct vctx *c, const json_t *svc)
{
	validate_object_meta(c, svc, true, NAME_DNS1035);
	const json_t *ann = jobj(jobj(svc, "metadata"), "annotations");
	const char *hints = jstr(ann, "service.kubernetes.io/topology-aware-hints");
	const char *mode = jstr(ann, "service.kubernetes.io/topology-mode");
	if (hints && mode && !streq(hints, mode))
		v_invalid_str(
			c, "metadata.annotations[service.kubernetes.io/topology-mode]", mode,
			"must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified");
	const json_t *spec = jobj(svc, "spec");
	size_t len = vp_field(c, "spec");
	const char *type = jstr0(spec, "type");
	const json_t *ports = jarr(spec, "ports");
	bool headless = is_headless(spec);
	if (!jlen(ports) && !headless && !streq(type, "ExternalName"))
		v_required(c, "ports", "");
	size_t i;
	json_t *p;
	if (streq(type, "LoadBalancer")) {
		json_array_foreach ((json_t *)ports, i, p) {
			if (jint0(p, "port") == 10250) {
				size_t l2 = vp_field(c, "ports");
				vp_index(c, i);
				v_invalid_int(
					c, NULL, 10250,
					"may not expose port 10250 externally since it is used by kubelet");
				vp_pop(c, l2);
			}
		}
		if (headless)
			v_invalid_str(c, "clusterIPs[0]", "None",
				      "may not be set to 'None' for LoadBalancer services");
	} else if (streq(type, "NodePort")) {
		if (headless)
			v_invalid_str(c, "clusterIPs[0]", "None",
				      "may not be set to 'None' for NodePort services");
	} else if (streq(type, "ExternalName")) {
		if (jlen(jarr(spec, "clusterIPs")))
			v_forbidden(c, "clusterIPs", "may not be set for ExternalName services");
		if (jlen(jarr(spec, "ipFamilies")))
			v_forbidden(c, "ipFamilies", "may not be set for ExternalName services");
		if (jhas(spec, "ipFamilyPolicy"))
			v_forbidden(c, "ipFamilyPolicy",
				    "may not be set for ExternalName services");
		char cname[300];
		snprintf(cname, sizeof(cname), "%s", jstr0(spec, "externalName"));
		size_t n = strlen(cname);
		if (n && cname[n - 1] == '.')
			cname[--n] = '\0';
		if (n) {
			struct name_problems np = { 0 };
			check_dns1123_subdomain(cname, &np);
			v_problems(c, "externalName", cname, &np);
		} else {
			v_required(c, "externalName", "");
		}
	}
	json_t *names = json_object();
	json_array_foreach ((json_t *)ports, i, p) {
		size_t l2 = vp_field(c, "ports");
		vp_index(c, i);
		service_port(c, p, jlen(ports) > 1, names);
		vp_pop(c, l2);
	}
	json_decref(names);
	if (jobj(spec, "selector"))
		validate_label_map(c, "selector", jobj(spec, "selector"));
	const char *aff = jstr0(spec, "sessionAffinity");
	if (!*aff)
		v_required(c, "sessionAffinity", "");
	else if (!str_in(aff, STRS("ClientIP", "None")))
		v_not_supported_str(c, "sessionAffinity", aff, STRS("ClientIP", "None"));
	const json_t *cfg = jobj(spec, "sessionAffinityConfig");
	if (streq(aff, "ClientIP")) {
		const json_t *cip = jobj(cfg, "clientIP");
		int64_t t;
		if (!cfg)
			v_required(c, "sessionAffinityConfig",
				   "when session affinity type is ClientIP");
		else if (!cip)
			v_required(c, "sessionAffinityConfig.clientIP",
				   "when session affinity type is ClientIP");
		else if (!jint(cip, "timeoutSeconds", &t))
			v_required(c, "sessionAffinityConfig.clientIP.timeoutSeconds",
				   "when session affinity type is ClientIP");
		else if (t <= 0 || t > 86400)
			v_invalid_int(c, "sessionAffinityConfig.clientIP.timeoutSeconds", t,
				      "must be greater than 0 and less than 86400");
	} else if (streq(aff, "None") && cfg) {
		v_forbidden(c, "sessionAffinityConfig",
			    "must not be set when session affinity is None");
	}
	vp_pop(c, len);
	vp_field(c, "spec");
	cluster_ips_related(c, spec);
	json_t *ip;
	json_array_foreach (jarr(spec, "externalIPs"), i, ip) {
		const char *s = json_is_string(ip) ? json_string_value(ip) : "";
		size_t l2 = vp_field(c, "externalIPs");
		vp_index(c, i);
		unsigned char b[16];
		bool v4;
		if (!ip_parse(s, b, &v4))
			v_valid_ip(c, NULL, s);
		else
			v_non_special_ip(c, NULL, s);
		vp_pop(c, l2);
	}
	if (!*type)
		v_required(c, "type", "");
	else if (!str_in(type, STRS("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")))
		v_not_supported_str(c, "type", type,
				    STRS("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"));
	if (streq(type, "ClusterIP")) {
		json_array_foreach ((json_t *)ports, i, p) {
			if (jint0(p, "nodePort") != 0) {
				size_t l2 = vp_field(c, "ports");
				vp_index(c, i);
				v_forbidden(c, "nodePort",
					    "may not be used when `type` is 'ClusterIP'");
				vp_pop(c, l2);
			}
		}
	}
	json_t *seen = json_object();
	json_array_foreach ((json_t *)ports, i, p) {
		int64_t np = jint0(p, "nodePort");
		if (np == 0)
			continue;
		char key[128];
		snprintf(key, sizeof(key), "%s/%lld", jstr0(p, "protocol"), (long long)np);
		if (json_object_get(seen, key)) {
			size_t l2 = vp_field(c, "ports");
			vp_index(c, i);
			char r[32];
			snprintf(r, sizeof(r), "%lld", (long long)np);
			v_duplicate_val(c, "nodePort", r, NULL);
			vp_pop(c, l2);
		}
		json_object_set_new(seen, key, json_true());
	}
	json_object_clear(seen);
	json_array_foreach ((json_t *)ports, i, p) {
		char key[128];
		const char *proto = jstr0(p, "protocol");
		int64_t port = jint0(p, "port");
		snprintf(key, sizeof(key), "%s/%lld", proto, (long long)port);
		if (json_object_get(seen, key)) {
			_cleanup_strbuf_ struct strbuf r = STRBUF_INIT;
			put_port_key(&r, proto, port);
			size_t l2 = vp_field(c, "ports");
			vp_index(c, i);
			v_duplicate_val(c, NULL, strbuf_str(&r), NULL);
			vp_pop(c, l2);
		}
		json_object_set_new(seen, key, json_true());
	}
	json_decref(seen);
	const json_t *ranges = jarr(spec, "loadBalancerSourceRanges");
	const char *ann_ranges =
		jstr(ann, "service.beta.kubernetes.io/load-balancer-source-ranges");
	if (jlen(ranges)) {
		if (!streq(type, "LoadBalancer"))
			v_forbidden(c, "LoadBalancerSourceRanges", MSG_LB_ONLY);
		json_t *r;
		json_array_foreach ((json_t *)ranges, i, r) {
			char buf[256];
			snprintf(buf, sizeof(buf), "%s",
				 json_is_string(r) ? json_string_value(r) : "");
			char *a = buf, *b = buf + strlen(buf);
			while (*a == ' ' || *a == '\t' || *a == '\n')
				a++;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n'))
				*--b = '\0';
			size_t l2 = vp_field(c, "LoadBalancerSourceRanges");
			vp_index(c, i);
			if (!is_cidr(a))
				v_invalid_str(
					c, NULL, a,
					"must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
			vp_pop(c, l2);
		}
	} else if (ann_ranges) {
		vp_pop(c, len);
		vp_field(c, "metadata.annotations");
		vp_key(c, "service.beta.kubernetes.io/load-balancer-source-ranges");
		if (!streq(type, "LoadBalancer"))
			v_forbidden(c, NULL, MSG_LB_ONLY);
		char *copy = strdup(ann_ranges);
		for (char *save = NULL, *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
		     tok = strtok_r(NULL, ",", &save)) {
			while (*tok == ' ')
				tok++;
			char *e = tok + strlen(tok);
			while (e > tok && e[-1] == ' ')
				*--e = '\0';
			if (!is_cidr(tok))
				v_invalid_str(
					c, NULL, tok,
					"must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
		}
		free(copy);
		vp_pop(c, len);
		vp_field(c, "spec");
	}
	if (jhas(spec, "allocateLoadBalancerNodePorts") && !streq(type, "LoadBalancer"))
		v_forbidden(c, "allocateLoadBalancerNodePorts", MSG_LB_ONLY);
	if (streq(type, "LoadBalancer") && !jhas(spec, "allocateLoadBalancerNodePorts")) {
		vp_pop(c, len);
		v_required(c, "allocateLoadBalancerNodePorts", "");
		vp_field(c, "spec");
	}
	load_balancer_class(c, spec, NULL, false);
	const char *etp = jstr0(spec, "externalTrafficPolicy");
	if (!externally_accessible(spec)) {
		if (*etp)
			v_invalid_str(c, "externalTrafficPolicy", etp,
				      "may only be set for externally-accessible services");
	} else if (!*etp) {
		v_required(c, "externalTrafficPolicy", "");
	} else if (!str_in(etp, STRS("Cluster", "Local"))) {
		v_not_supported_str(c, "externalTrafficPolicy", etp, STRS("Cluster", "Local"));
	}
	int64_t hc = jint0(spec, "healthCheckNodePort");
	if (!needs_health_check(spec)) {
		if (hc != 0)
			v_invalid_int(
				c, "healthCheckNodePort", hc,
				"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'");
	} else if (hc == 0) {
		v_required(c, "healthCheckNodePort", "");
	} else if (!is_port_number(hc)) {
		v_invalid_int(c, "healthCheckNodePort", hc, MSG_PORT_RANGE);
	}
	const char *itp = jstr(spec, "internalTrafficPolicy");
	if (!itp && str_in(type, STRS("NodePort", "LoadBalancer", "ClusterIP")))
		v_required(c, "internalTrafficPolicy", "");
	if (itp && !str_in(itp, STRS("Cluster", "Local")))
		v_not_supported_str(c, "internalTrafficPolicy", itp, STRS("Cluster", "Local"));
	const char *td = jstr(spec, "trafficDistribution");
	if (td && !streq(td, "PreferClose"))
		v_not_supported_str(c, "trafficDistribution", td, STRS("PreferClose"));
	vp_pop(c, len);
}

static void
upgrade_downgrade_cluster_ips(struct vctx *c, const json_t *spec, const json_t *ospec)
{
	if (streq(jstr0(spec, "type"), "ExternalName") ||
	    streq(jstr0(ospec, "type"), "ExternalName"))
		return;
	if (is_headless(spec) && is_headless(ospec))
		return;
	const json_t *ni = jarr(spec, "clusterIPs"), *oi = jarr(ospec, "clusterIPs");
	size_t nn = jlen(ni), on = jlen(oi);
	if (nn == on) {
		for (size_t i = 0; i < on; i++) {
			if (!json_equal(json_array_get(oi, i), json_array_get(ni, i))) {
				size_t len = vp_field(c, "clusterIPs");
				vp_index(c, i);
				v_invalid_go(c, NULL, go_put_str_slice, ni,
					     "may not change once set");
				vp_pop(c, len);
			}
		}
	} else if (on > nn) {
		if (nn == 0)
			v_invalid_go(c, "clusterIPs[0]", go_put_str_slice, ni,
				     "primary clusterIP can not be unset");
		if (on > 0 && nn > 0 && !json_equal(json_array_get(ni, 0), json_array_get(oi, 0)))
			v_invalid_go(c, "clusterIPs[0]", go_put_str_slice, ni,
				     "may not change once set");
		if (nn == 1 && !streq(jstr0(spec, "ipFamilyPolicy"), "SingleStack"))
			v_invalid_go(
				c, "ipFamilyPolicy", go_put_scalar, jget(spec, "ipFamilyPolicy"),
				"must be set to 'SingleStack' when releasing the secondary clusterIP");
	} else if (on > 0 && !json_equal(json_array_get(ni, 0), json_array_get(oi, 0))) {
		v_invalid_go(c, "clusterIPs[0]", go_put_str_slice, ni, "may not change once set");
	}
}

static void
upgrade_downgrade_ip_families(struct vctx *c, const json_t *spec, const json_t *ospec)
{
	if (streq(jstr0(spec, "type"), "ExternalName") ||
	    streq(jstr0(ospec, "type"), "ExternalName"))
		return;
	if (is_headless(spec) != is_headless(ospec) || is_headless(spec))
		return;
	const json_t *nf = jarr(spec, "ipFamilies"), *of = jarr(ospec, "ipFamilies");
	size_t nn = jlen(nf), on = jlen(of);
	if (nn == on) {
		for (size_t i = 0; i < on; i++)
			if (!json_equal(json_array_get(of, i), json_array_get(nf, i)))
				v_invalid_go(c, "ipFamilies[0]", go_put_str_slice, nf,
					     "may not change once set");
	} else if (on > nn) {
		if (!jlen(jarr(spec, "clusterIPs")))
			v_invalid_go(c, "ipFamilies[0]", go_put_str_slice, nf,
				     "primary ipFamily can not be unset");
		if (nn > 0 && !json_equal(json_array_get(nf, 0), json_array_get(of, 0)))
			v_invalid_go(c, "ipFamilies[0]", go_put_str_slice, jarr(spec, "clusterIPs"),
				     "may not change once set");
		if (nn == 1 && !streq(jstr0(spec, "ipFamilyPolicy"), "SingleStack"))
			v_invalid_go(
				c, "ipFamilyPolicy", go_put_scalar, jget(spec, "ipFamilyPolicy"),
				"must be set to 'SingleStack' when releasing the secondary ipFamily");
	} else if (on > 0 && nn > 0 && !json_equal(json_array_get(nf, 0), json_array_get(of, 0))) {
		v_invalid_go(c, "ipFamilies[0]", go_put_str_slice, jarr(spec, "clusterIPs"),
			     "may not change once set");
	}
}

static void
service_kind(struct vctx *c, const json_t *svc, const json_t *old)
{
	if (old) {
		const json_t *spec = jobj(svc, "spec"), *ospec = jobj(old, "spec");
		validate_object_meta_update(c, svc, old);
		size_t len = vp_field(c, "spec");
		upgrade_downgrade_cluster_ips(c, spec, ospec);
		upgrade_downgrade_ip_families(c, spec, ospec);
		load_balancer_class(c, spec, ospec, true);
		if (needs_health_check(ospec) && needs_health_check(spec) &&
		    jint0(spec, "healthCheckNodePort") != jint0(ospec, "healthCheckNodePort"))
			v_forbidden(c, "healthCheckNodePort", MSG_IMMUTABLE);
		vp_pop(c, len);
	}
	service_create(c, svc);
}

void
validate_service(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(service_kind, obj, old, err);
}
