/*
 * validate-container.c - containers as Kubernetes 1.32 validates them inside a pod spec
 * (pkg/apis/core/validation: validateContainerCommon and what it calls): names, images,
 * ports, env, envFrom, volume mounts and devices, pull policy, resources, probes, lifecycle
 * hooks, security context; and the lists of regular, init and ephemeral containers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "api/validate-internal.h"
#include "base/util.h"

#define MSG_HTTP_HEADER                                                             \
	"a valid HTTP header must consist of alphanumeric characters or '-' (e.g. " \
	"'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')"
#define MSG_INIT_FORBIDDEN "may not be set for init containers without restartPolicy=Always"

/* The volumes of the pod, by name, and whether each is a claim (PVC or ephemeral). */
static bool
volume_known(const json_t *volumes, const char *name, bool *is_pvc)
{
	const json_t *v = json_object_get(volumes, name);
	if (!v)
		return false;
	if (is_pvc)
		*is_pvc = jhas(v, "persistentVolumeClaim") || jhas(v, "ephemeral");
	return true;
}

static void
validate_ports(struct vctx *c, const json_t *ports)
{
	json_t *names = json_object();
	size_t i;
	json_t *port;
	json_array_foreach ((json_t *)ports, i, port) {
		size_t len = vp_field(c, "ports");
		vp_index(c, i);
		const char *name = jstr0(port, "name");
		if (*name) {
			struct name_problems p = { 0 };
			check_port_name(name, &p);
			if (p.n)
				v_problems(c, "name", name, &p);
			else if (json_object_get(names, name))
				v_duplicate_str(c, "name", name);
			else
				json_object_set_new(names, name, json_true());
		}
		int64_t cp = jint0(port, "containerPort"), hp = jint0(port, "hostPort");
		if (cp == 0)
			v_required(c, "containerPort", "");
		else if (!is_port_number(cp))
			v_invalid_int(c, "containerPort", cp,
				      "must be between 1 and 65535, inclusive");
		if (hp != 0 && !is_port_number(hp))
			v_invalid_int(c, "hostPort", hp, "must be between 1 and 65535, inclusive");
		const char *proto = jstr0(port, "protocol");
		if (!*proto)
			v_required(c, "protocol", "");
		else if (!str_in(proto, STRS("SCTP", "TCP", "UDP")))
			v_not_supported_str(c, "protocol", proto, STRS("SCTP", "TCP", "UDP"));
		vp_pop(c, len);
	}
	json_decref(names);
}

/* fieldpath.SplitMaybeSubscriptedPath: "metadata.labels['app']" is path and subscript. */
static bool
split_subscript(const char *fp, char *path, size_t path_size, char *sub, size_t sub_size)
{
	size_t n = strlen(fp);
	if (n < 2 || strcmp(fp + n - 2, "']") != 0)
		return false;
	const char *open = strstr(fp, "['");
	if (!open || open == fp || (size_t)(open - fp) >= path_size)
		return false;
	size_t pn = (size_t)(open - fp), sn = n - 2 - pn - 2;
	if (open + 2 > fp + n - 2 || sn >= sub_size)
		return false;
	memcpy(path, fp, pn);
	path[pn] = '\0';
	memcpy(sub, open + 2, sn);
	sub[sn] = '\0';
	return true;
}

static const char *const downward_labels[] = { "metadata.annotations",
					       "metadata.labels",
					       "metadata.name",
					       "metadata.namespace",
					       "metadata.uid",
					       "spec.nodeName",
					       "spec.restartPolicy",
					       "spec.serviceAccountName",
					       "spec.schedulerName",
					       "status.phase",
					       "status.hostIP",
					       "status.hostIPs",
					       "status.podIP",
					       "status.podIPs",
					       NULL };

/* validateObjectFieldSelector at the current path (a fieldRef). */
static void
validate_object_field_selector(struct vctx *c, const json_t *fs, const char *const *expressions)
{
	const char *version = jstr0(fs, "apiVersion"), *fp = jstr0(fs, "fieldPath");
	if (!*version) {
		v_required(c, "apiVersion", "");
		return;
	}
	if (!*fp) {
		v_required(c, "fieldPath", "");
		return;
	}
	/* podshelper.ConvertDownwardAPIFieldLabel */
	char path[256], sub[512];
	bool subscripted = split_subscript(fp, path, sizeof(path), sub, sizeof(sub));
	const char *label = fp;
	if (!streq(version, "v1")) {
		v_invalid_str(c, "fieldPath", fp,
			      "error converting fieldPath: unsupported pod version: %s", version);
		return;
	}
	if (subscripted) {
		if (!streq(path, "metadata.annotations") && !streq(path, "metadata.labels")) {
			v_invalid_str(
				c, "fieldPath", fp,
				"error converting fieldPath: field label does not support subscript: %s",
				fp);
			return;
		}
		struct name_problems p = { 0 };
		if (streq(path, "metadata.annotations")) {
			for (char *s = sub; *s; s++)
				if (*s >= 'A' && *s <= 'Z')
					*s = (char)(*s - 'A' + 'a');
		}
		check_qualified_name(sub, &p);
		v_problems(c, NULL, sub, &p);
		return;
	}
	if (streq(fp, "spec.host"))
		label = "spec.nodeName";
	else if (!str_in(fp, downward_labels)) {
		v_invalid_str(c, "fieldPath", fp,
			      "error converting fieldPath: field label not supported: %s", fp);
		return;
	}
	if (!str_in(label, expressions))
		v_not_supported_str(c, "fieldPath", label, expressions);
}

/* validateContainerResourceDivisor */
static void
validate_divisor(struct vctx *c, const char *resource, const json_t *divisor)
{
	if (!divisor)
		return;
	struct quantity q;
	if (quantity_from_json(divisor, &q, NULL) < 0 || q.nano == 0)
		return;
	char text[64];
	quantity_format(&q, text);
	static const char *const mem[] = { "1",   "1k",  "1M",  "1G",  "1T",  "1P",  "1E",
					   "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei", NULL };
#define MEM_LIST "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei"
	if (streq(resource, "limits.cpu") || streq(resource, "requests.cpu")) {
		if (!str_in(text, STRS("1m", "1")))
			v_invalid_str(
				c, "divisor", resource,
				"only divisor's values 1m and 1 are supported with the cpu resource");
	} else if (streq(resource, "limits.memory") || streq(resource, "requests.memory")) {
		if (!str_in(text, mem))
			v_invalid_str(c, "divisor", resource,
				      "only divisor's values " MEM_LIST
				      " are supported with the memory resource");
	} else if (streq(resource, "limits.ephemeral-storage") ||
		   streq(resource, "requests.ephemeral-storage")) {
		if (!str_in(text, mem))
			v_invalid_str(c, "divisor", resource,
				      "only divisor's values " MEM_LIST
				      " are supported with the local ephemeral storage resource");
	}
	if (startswith(resource, "requests.hugepages-") ||
	    startswith(resource, "limits.hugepages-")) {
		if (!str_in(text, mem))
			v_invalid_str(c, "divisor", resource,
				      "only divisor's values " MEM_LIST
				      " are supported with the hugepages resource");
	}
#undef MEM_LIST
}

/* validateContainerResourceFieldSelector at the current path (a resourceFieldRef). */
void
validate_resource_field_selector(struct vctx *c, const json_t *fs, bool volume)
{
	static const char *const exprs[] = { "limits.cpu",
					     "limits.ephemeral-storage",
					     "limits.memory",
					     "requests.cpu",
					     "requests.ephemeral-storage",
					     "requests.memory",
					     NULL };
	const char *resource = jstr0(fs, "resource");
	if (volume && !*jstr0(fs, "containerName"))
		v_required(c, "containerName", "");
	else if (!*resource)
		v_required(c, "resource", "");
	else if (!str_in(resource, exprs) && !startswith(resource, "limits.hugepages-") &&
		 !startswith(resource, "requests.hugepages-"))
		v_not_supported_str(c, "resource", resource, exprs);
	validate_divisor(c, resource, jget(fs, "divisor"));
}

void
validate_object_field_ref(struct vctx *c, const json_t *fs, bool volume)
{
	static const char *const env_exprs[] = { "metadata.name",
						 "metadata.namespace",
						 "metadata.uid",
						 "spec.nodeName",
						 "spec.serviceAccountName",
						 "status.hostIP",
						 "status.hostIPs",
						 "status.podIP",
						 "status.podIPs",
						 NULL };
	static const char *const volume_exprs[] = { "metadata.annotations", "metadata.labels",
						    "metadata.name",        "metadata.namespace",
						    "metadata.uid",         NULL };
	validate_object_field_selector(c, fs, volume ? volume_exprs : env_exprs);
}

/* validateConfigMapKeySelector and validateSecretKeySelector, at the current path. */
static void
validate_key_selector(struct vctx *c, const json_t *s)
{
	struct name_problems p = { 0 };
	const char *name = jstr0(s, "name"), *key = jstr0(s, "key");
	check_dns1123_subdomain(name, &p);
	v_problems(c, "name", name, &p);
	if (!*key) {
		v_required(c, "key", "");
	} else {
		p.n = 0;
		check_config_map_key(key, &p);
		v_problems(c, "key", key, &p);
	}
}

static void
validate_env(struct vctx *c, const json_t *env)
{
	size_t i;
	json_t *ev;
	json_array_foreach ((json_t *)env, i, ev) {
		size_t len = vp_field(c, "env");
		vp_index(c, i);
		const char *name = jstr0(ev, "name");
		if (!*name) {
			v_required(c, "name", "");
		} else {
			struct name_problems p = { 0 };
			check_env_var_name(name, &p);
			v_problems(c, "name", name, &p);
		}
		const json_t *from = jobj(ev, "valueFrom");
		if (from) {
			size_t l2 = vp_field(c, "valueFrom");
			int n = 0;
			static const char *const sources[] = { "fieldRef", "resourceFieldRef",
							       "configMapKeyRef", "secretKeyRef" };
			for (size_t s = 0; s < 4; s++) {
				const json_t *src = jobj(from, sources[s]);
				if (!src)
					continue;
				n++;
				size_t l3 = vp_field(c, sources[s]);
				if (s == 0)
					validate_object_field_ref(c, src, false);
				else if (s == 1)
					validate_resource_field_selector(c, src, false);
				else
					validate_key_selector(c, src);
				vp_pop(c, l3);
			}
			if (n == 0)
				v_invalid_str(
					c, NULL, "",
					"must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
			else if (*jstr0(ev, "value"))
				v_invalid_str(c, NULL, "",
					      "may not be specified when `value` is not empty");
			else if (n > 1)
				v_invalid_str(
					c, NULL, "",
					"may not have more than one field specified at a time");
			vp_pop(c, l2);
		}
		vp_pop(c, len);
	}
}

static void
validate_env_from(struct vctx *c, const json_t *env_from)
{
	size_t i;
	json_t *ev;
	json_array_foreach ((json_t *)env_from, i, ev) {
		size_t len = vp_field(c, "envFrom");
		size_t list_len = c->path.len;
		vp_index(c, i);
		const char *prefix = jstr0(ev, "prefix");
		if (*prefix) {
			struct name_problems p = { 0 };
			check_env_var_name(prefix, &p);
			v_problems(c, "prefix", prefix, &p);
		}
		int n = 0;
		static const char *const sources[] = { "configMapRef", "secretRef" };
		for (size_t s = 0; s < 2; s++) {
			const json_t *src = jobj(ev, sources[s]);
			if (!src)
				continue;
			n++;
			const char *name = jstr0(src, "name");
			size_t l2 = vp_field(c, sources[s]);
			if (!*name) {
				v_required(c, "name", "");
			} else {
				struct name_problems p = { 0 };
				name_rule_check(NAME_SUBDOMAIN, name, true, &p);
				v_problems(c, "name", name, &p);
			}
			vp_pop(c, l2);
		}
		vp_pop(c, list_len); /* these two are reported at envFrom, without the index */
		if (n == 0)
			v_invalid_str(c, NULL, "",
				      "must specify one of: `configMapRef` or `secretRef`");
		else if (n > 1)
			v_invalid_str(c, NULL, "",
				      "may not have more than one field specified at a time");
		vp_pop(c, len);
	}
}

void
validate_local_descending_path(struct vctx *c, const char *child, const char *p)
{
	if (p[0] == '/')
		v_invalid_str(c, child, p, "must be a relative path");
	validate_path_no_backsteps(c, child, p);
}

void
validate_path_no_backsteps(struct vctx *c, const char *child, const char *p)
{
	const char *s = p;
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			v_invalid_str(c, child, p, "must not contain '..'");
			return;
		}
		if (!slash)
			return;
		s = slash + 1;
	}
}

static void
validate_volume_mounts(struct vctx *c, const json_t *ctr, const json_t *volumes)
{
	const json_t *mounts = jarr(ctr, "volumeMounts"), *devices = jarr(ctr, "volumeDevices");
	json_t *points = json_object();
	size_t i;
	json_t *m;
	json_array_foreach ((json_t *)mounts, i, m) {
		size_t list = vp_field(c, "volumeMounts");
		size_t idx = vp_index(c, i);
		const char *name = jstr0(m, "name"), *mp = jstr0(m, "mountPath");
		const char *sub = jstr0(m, "subPath"), *expr = jstr0(m, "subPathExpr");
		if (!*name)
			v_required(c, "name", "");
		if (!volume_known(volumes, name, NULL))
			v_not_found_str(c, "name", name, NULL);
		if (!*mp)
			v_required(c, "mountPath", "");
		if (json_object_get(points, mp))
			v_invalid_str(c, "mountPath", mp, "must be unique");
		json_object_set_new(points, mp, json_true());
		size_t k;
		json_t *d;
		json_array_foreach ((json_t *)devices, k, d) {
			if (streq(jstr0(d, "name"), name))
				v_invalid_str(c, "name", name,
					      "must not already exist in volumeDevices");
		}
		json_array_foreach ((json_t *)devices, k, d) {
			if (streq(jstr0(d, "devicePath"), mp)) {
				v_invalid_str(c, "mountPath", mp,
					      "must not already exist as a path in volumeDevices");
				break;
			}
		}
		const json_t *vol = json_object_get(volumes, name);
		if (vol && jhas(vol, "image")) {
			if (*sub)
				v_invalid_str(c, "subPath", sub,
					      "not allowed in image volume sources");
			if (*expr)
				v_invalid_str(c, "subPathExpr", expr,
					      "not allowed in image volume sources");
		}
		vp_pop(c, idx); /* Kubernetes names these at volumeMounts, without the index */
		if (*sub)
			validate_local_descending_path(c, "subPath", sub);
		if (*expr) {
			if (*sub) {
				vp_index(c, i);
				v_invalid_str(c, "subPathExpr", expr,
					      "subPathExpr and subPath are mutually exclusive");
				vp_pop(c, idx);
			}
			validate_local_descending_path(c, "subPathExpr", expr);
		}
		const char *prop = jstr(m, "mountPropagation");
		if (prop) {
			if (!str_in(prop, STRS("Bidirectional", "HostToContainer", "None")))
				v_not_supported_str(
					c, "mountPropagation", prop,
					STRS("Bidirectional", "HostToContainer", "None"));
			if (streq(prop, "Bidirectional") &&
			    !jbool(jobj(ctr, "securityContext"), "privileged"))
				v_forbidden(
					c, "mountPropagation",
					"Bidirectional mount propagation is available only to privileged containers");
		}
		const char *rro = jstr(m, "recursiveReadOnly");
		if (rro) {
			if (streq(rro, "Enabled") || streq(rro, "IfPossible")) {
				if (!jbool(m, "readOnly"))
					v_forbidden(c, "recursiveReadOnly",
						    "may only be specified when readOnly is true");
				if (prop && !streq(prop, "None"))
					v_forbidden(
						c, "recursiveReadOnly",
						"may only be specified when mountPropagation is None or not specified");
			} else if (!streq(rro, "Disabled")) {
				v_not_supported_str(c, "recursiveReadOnly", rro,
						    STRS("Disabled", "Enabled", "IfPossible"));
			}
		}
		vp_pop(c, list);
	}
	json_decref(points);
}

static void
validate_volume_devices(struct vctx *c, const json_t *ctr, const json_t *volumes)
{
	const json_t *devices = jarr(ctr, "volumeDevices"), *mounts = jarr(ctr, "volumeMounts");
	json_t *paths = json_object(), *names = json_object();
	size_t i;
	json_t *d;
	json_array_foreach ((json_t *)devices, i, d) {
		size_t len = vp_field(c, "volumeDevices");
		vp_index(c, i);
		const char *name = jstr0(d, "name"), *dp = jstr0(d, "devicePath");
		bool is_pvc = false, known = volume_known(volumes, name, &is_pvc);
		if (!*name)
			v_required(c, "name", "");
		if (json_object_get(names, name))
			v_invalid_str(c, "name", name, "must be unique");
		if (known && !is_pvc)
			v_invalid_str(
				c, "name", name,
				"can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode");
		if (!known)
			v_not_found_str(c, "name", name, NULL);
		if (!*dp)
			v_required(c, "devicePath", "");
		if (json_object_get(paths, dp))
			v_invalid_str(c, "devicePath", dp, "must be unique");
		struct vctx probe;
		vctx_init(&probe);
		validate_path_no_backsteps(&probe, NULL, dp);
		bool backsteps = probe.n_causes > 0;
		vctx_free(&probe);
		if (*dp && backsteps)
			v_invalid_str(c, "devicePath", dp, "can not contain backsteps ('..')");
		else
			json_object_set_new(paths, dp, json_true());
		size_t k;
		json_t *m;
		json_array_foreach ((json_t *)mounts, k, m) {
			if (streq(jstr0(m, "name"), name)) {
				v_invalid_str(c, "name", name,
					      "must not already exist in volumeMounts");
				break;
			}
		}
		json_array_foreach ((json_t *)mounts, k, m) {
			if (streq(jstr0(m, "mountPath"), dp)) {
				v_invalid_str(c, "devicePath", dp,
					      "must not already exist as a path in volumeMounts");
				break;
			}
		}
		if (*name)
			json_object_set_new(names, name, json_true());
		vp_pop(c, len);
	}
	json_decref(paths);
	json_decref(names);
}

/* --- resources ----------------------------------------------------------------------------- */

static const char *const standard_resources[] = { "cpu",
						  "memory",
						  "ephemeral-storage",
						  "requests.cpu",
						  "requests.memory",
						  "requests.ephemeral-storage",
						  "limits.cpu",
						  "limits.memory",
						  "limits.ephemeral-storage",
						  "pods",
						  "resourcequotas",
						  "services",
						  "replicationcontrollers",
						  "secrets",
						  "configmaps",
						  "persistentvolumeclaims",
						  "storage",
						  "requests.storage",
						  "services.nodeports",
						  "services.loadbalancers",
						  NULL };

static bool
is_native_resource(const char *name)
{
	return !strchr(name, '/') || strstr(name, "kubernetes.io/");
}

static bool
is_hugepages(const char *name)
{
	return startswith(name, "hugepages-") != NULL;
}

/* helper.IsExtendedResourceName */
static bool
is_extended_resource(const char *name)
{
	if (is_native_resource(name) || startswith(name, "requests."))
		return false;
	char buf[600];
	if (snprintf(buf, sizeof(buf), "requests.%s", name) >= (int)sizeof(buf))
		return false;
	return is_qualified_name(buf);
}

static bool
is_overcommit_allowed(const char *name)
{
	return is_native_resource(name) && !is_hugepages(name);
}

/* validateResourceName; returns whether it found nothing wrong. */
static bool
validate_resource_name(struct vctx *c, const char *name)
{
	struct name_problems p = { 0 };
	check_qualified_name(name, &p);
	if (p.n) {
		v_problems(c, NULL, name, &p);
		return false;
	}
	if (!strchr(name, '/') && !str_in(name, standard_resources) && !is_hugepages(name) &&
	    !startswith(name, "requests.hugepages-")) {
		v_invalid_str(c, NULL, name, "must be a standard resource type or fully qualified");
		return false;
	}
	return true;
}

void
validate_container_resource_name(struct vctx *c, const char *name)
{
	validate_resource_name(c, name);
	if (!strchr(name, '/')) {
		if (!str_in(name, STRS("cpu", "memory", "ephemeral-storage")) &&
		    !is_hugepages(name))
			v_invalid_str(c, NULL, name, "must be a standard resource for containers");
	} else if (!is_native_resource(name) && !is_extended_resource(name)) {
		v_invalid_str(c, NULL, name, "doesn't follow extended resource name standard");
	}
}

bool
v_parse_quantity(struct vctx *c, const json_t *v, struct quantity *q)
{
	korch_error *e = NULL;
	if (quantity_from_json(v, q, &e) < 0) {
		if (json_is_string(v))
			v_invalid_str(c, NULL, json_string_value(v), "%s", korch_error_message(e));
		else
			v_invalid_val(c, NULL, "null", "%s", korch_error_message(e));
		korch_error_free(e);
		return false;
	}
	return true;
}

static void
quantity_text(const struct quantity *q, char buf[static 64])
{
	quantity_format(q, buf);
}

/* ValidateResourceQuantityValue at the current path. */
void
validate_resource_quantity_value(struct vctx *c, const char *name, const json_t *v)
{
	struct quantity q;
	if (!v_parse_quantity(c, v, &q))
		return;
	char text[64];
	quantity_text(&q, text);
	if (q.nano < 0)
		v_invalid_str(c, NULL, text, MSG_NEGATIVE);
	bool integer =
		str_in(name, STRS("pods", "resourcequotas", "services", "replicationcontrollers",
				  "secrets", "configmaps", "persistentvolumeclaims",
				  "services.nodeports", "services.loadbalancers")) ||
		is_extended_resource(name);
	if (integer && quantity_milli_value(&q) % 1000 != 0)
		v_invalid_go(c, NULL, go_put_quantity, v, "must be an integer");
}

/* helper.IsHugePageResourceValueDivisible */
static bool
hugepage_divisible(const char *name, const struct quantity *q)
{
	struct quantity page;
	if (quantity_parse(name + strlen("hugepages-"), &page, NULL) < 0)
		return false;
	if (page.nano <= 0 || quantity_milli_value(&page) % 1000 != 0)
		return false;
	int64_t ps = quantity_value(&page);
	return ps != 0 && quantity_value(q) % ps == 0;
}

static void
validate_resource_claims(struct vctx *c, const json_t *claims, const json_t *pod_claims)
{
	json_t *names = json_object();
	size_t i;
	json_t *cl;
	json_array_foreach ((json_t *)claims, i, cl) {
		size_t len = vp_field(c, "claims");
		vp_index(c, i);
		const char *name = jstr0(cl, "name"), *request = jstr0(cl, "request");
		if (!*name) {
			v_required(c, NULL, "");
			vp_pop(c, len);
			continue;
		}
		if (json_object_get(names, name)) {
			v_duplicate_str(c, NULL, name);
		} else {
			char key[600];
			snprintf(key, sizeof(key), "%s%s%s", name, *request ? "/" : "", request);
			if (*request) {
				struct name_problems p = { 0 };
				check_dns1123_label(request, &p);
				v_problems(c, "request", request, &p);
			}
			if (json_object_get(names, key)) {
				v_duplicate_str(c, NULL, key);
			} else if (!*request) {
				const char *k;
				json_t *unused;
				size_t nl = strlen(name);
				json_object_foreach (names, k, unused) {
					if (strncmp(k, name, nl) == 0 && k[nl] == '/')
						v_duplicate_str(c, NULL, name);
				}
			}
			json_object_set_new(names, key, json_true());
		}
		if (!json_object_get(pod_claims, name)) {
			_cleanup_strbuf_ struct strbuf d = STRBUF_INIT;
			strbuf_puts(&d, "must be one of the names in pod.spec.resourceClaims");
			if (json_object_size(pod_claims) == 0) {
				strbuf_puts(&d, " which is empty");
			} else {
				/* sets.List: sorted */
				size_t n = json_object_size(pod_claims), j = 0;
				const char **keys = calloc(n, sizeof(*keys));
				const char *k;
				json_t *unused;
				json_object_foreach ((json_t *)pod_claims, k, unused)
					keys[j++] = k;
				for (size_t a = 0; keys && a < n; a++)
					for (size_t b = a + 1; b < n; b++)
						if (strcmp(keys[b], keys[a]) < 0) {
							const char *t = keys[a];
							keys[a] = keys[b];
							keys[b] = t;
						}
				strbuf_puts(&d, ": ");
				for (size_t a = 0; keys && a < n; a++)
					strbuf_printf(&d, "%s%s", a ? ", " : "", keys[a]);
				free(keys);
			}
			v_not_found_str(c, NULL, name, strbuf_str(&d));
		}
		vp_pop(c, len);
	}
	json_decref(names);
}

/* ValidateContainerResourceRequirements at the current path (resources). */
void
validate_resource_requirements(struct vctx *c, const json_t *res, const json_t *pod_claims)
{
	const json_t *limits = jobj(res, "limits"), *requests = jobj(res, "requests");
	bool lim_cpumem = false, req_cpumem = false, lim_huge = false, req_huge = false;
	const char *name;
	json_t *q;
	json_object_foreach ((json_t *)limits, name, q) {
		size_t len = vp_field(c, "limits");
		vp_key(c, name);
		validate_container_resource_name(c, name);
		validate_resource_quantity_value(c, name, q);
		struct quantity qq;
		if (is_hugepages(name)) {
			lim_huge = true;
			if (quantity_from_json(q, &qq, NULL) == 0 &&
			    !hugepage_divisible(name, &qq)) {
				char text[64];
				quantity_text(&qq, text);
				v_invalid_str(c, NULL, text,
					      "%s is not positive integer multiple of %s", text,
					      name);
			}
		}
		if (streq(name, "cpu") || streq(name, "memory"))
			lim_cpumem = true;
		vp_pop(c, len);
	}
	json_object_foreach ((json_t *)requests, name, q) {
		size_t len = vp_field(c, "requests");
		size_t req_path = c->path.len;
		vp_key(c, name);
		validate_container_resource_name(c, name);
		validate_resource_quantity_value(c, name, q);
		struct quantity rq, lq;
		const json_t *limit = json_object_get(limits, name);
		bool rq_ok = quantity_from_json(q, &rq, NULL) == 0;
		char rtext[64] = "";
		if (rq_ok)
			quantity_text(&rq, rtext);
		vp_pop(c, req_path);
		if (limit) {
			if (rq_ok && quantity_from_json(limit, &lq, NULL) == 0) {
				char ltext[64];
				quantity_text(&lq, ltext);
				int cmp = quantity_cmp(&rq, &lq);
				if (cmp != 0 && !is_overcommit_allowed(name))
					v_invalid_str(c, NULL, rtext,
						      "must be equal to %s limit of %s", name,
						      ltext);
				else if (cmp > 0)
					v_invalid_str(
						c, NULL, rtext,
						"must be less than or equal to %s limit of %s",
						name, ltext);
			}
		} else if (!is_overcommit_allowed(name)) {
			vp_pop(c, len);
			v_required(c, "limits",
				   "Limit must be set for non overcommitable resources");
			vp_field(c, "requests");
		}
		if (is_hugepages(name)) {
			req_huge = true;
			if (rq_ok && !hugepage_divisible(name, &rq)) {
				vp_key(c, name);
				v_invalid_str(c, NULL, rtext,
					      "%s is not positive integer multiple of %s", rtext,
					      name);
				vp_pop(c, req_path);
			}
		}
		if (streq(name, "cpu") || streq(name, "memory"))
			req_cpumem = true;
		vp_pop(c, len);
	}
	if (!lim_cpumem && !req_cpumem && (req_huge || lim_huge))
		v_forbidden(c, NULL, "HugePages require cpu or memory");
	validate_resource_claims(c, jarr(res, "claims"), pod_claims);
}

/* --- probes and handlers ------------------------------------------------------------------- */

void
validate_port_num_or_name(struct vctx *c, const char *child, const json_t *port)
{
	if (json_is_string(port)) {
		struct name_problems p = { 0 };
		check_port_name(json_string_value(port), &p);
		v_problems(c, child, json_string_value(port), &p);
	} else {
		int64_t n = json_is_integer(port) ? json_integer_value(port) : 0;
		if (!is_port_number(n))
			v_invalid_int(c, child, n, "must be between 1 and 65535, inclusive");
	}
}

enum handler_kind { HANDLER_PROBE, HANDLER_LIFECYCLE };

/* validateHandler at the current path (a probe or a lifecycle handler). */
static void
validate_handler(struct vctx *c, const json_t *h, enum handler_kind kind, const int64_t *grace)
{
	int n = 0;
	const json_t *exec = jobj(h, "exec");
	if (exec) {
		n++;
		if (!jlen(jarr(exec, "command")))
			v_required(c, "exec.command", "");
	}
	const json_t *http = jobj(h, "httpGet");
	if (http) {
		if (n++) {
			v_forbidden(c, "httpGet", "may not specify more than 1 handler type");
		} else {
			size_t len = vp_field(c, "httpGet");
			if (!*jstr0(http, "path"))
				v_required(c, "path", "");
			validate_port_num_or_name(c, "port", jget(http, "port"));
			const char *scheme = jstr0(http, "scheme");
			if (!str_in(scheme, STRS("HTTP", "HTTPS")))
				v_not_supported_str(c, "scheme", scheme, STRS("HTTP", "HTTPS"));
			size_t i;
			json_t *hdr;
			json_array_foreach (jarr(http, "httpHeaders"), i, hdr) {
				const char *name = jstr0(hdr, "name");
				bool ok = *name != '\0';
				for (const char *s = name; *s; s++)
					ok &= (*s >= 'a' && *s <= 'z') ||
					      (*s >= 'A' && *s <= 'Z') ||
					      (*s >= '0' && *s <= '9') || *s == '-';
				if (!ok)
					v_invalid_str(c, "httpHeaders", name, MSG_HTTP_HEADER);
			}
			vp_pop(c, len);
		}
	}
	const json_t *tcp = jobj(h, "tcpSocket");
	if (tcp) {
		if (n++)
			v_forbidden(c, "tcpSocket", "may not specify more than 1 handler type");
		else
			validate_port_num_or_name(c, "tcpSocket.port", jget(tcp, "port"));
	}
	const json_t *grpc = kind == HANDLER_PROBE ? jobj(h, "grpc") : NULL;
	if (grpc) {
		if (n++) {
			v_forbidden(c, "grpc", "may not specify more than 1 handler type");
		} else {
			int64_t port = jint0(grpc, "port");
			if (!is_port_number(port))
				v_invalid_int(c, "grpc.port", port,
					      "must be between 1 and 65535, inclusive");
		}
	}
	const json_t *sleep = kind == HANDLER_LIFECYCLE ? jobj(h, "sleep") : NULL;
	if (sleep) {
		if (n++) {
			v_forbidden(c, "sleep", "may not specify more than 1 handler type");
		} else {
			int64_t s = jint0(sleep, "seconds");
			if (grace && (s <= 0 || s > *grace))
				v_invalid_int(
					c, "sleep", s,
					"must be greater than 0 and less than terminationGracePeriodSeconds (%lld). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.",
					(long long)*grace);
		}
	}
	if (n == 0)
		v_required(c, NULL, "must specify a handler type");
}

enum probe_kind { PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP };

static void
validate_probe(struct vctx *c, const json_t *ctr, const char *field, enum probe_kind kind,
	       const int64_t *grace)
{
	const json_t *p = jobj(ctr, field);
	if (!p)
		return;
	size_t len = vp_field(c, field);
	validate_handler(c, p, HANDLER_PROBE, grace);
	v_nonneg(c, p, "initialDelaySeconds");
	v_nonneg(c, p, "timeoutSeconds");
	v_nonneg(c, p, "periodSeconds");
	v_nonneg(c, p, "successThreshold");
	v_nonneg(c, p, "failureThreshold");
	int64_t tgps;
	if (jint(p, "terminationGracePeriodSeconds", &tgps) && tgps <= 0)
		v_invalid_int(c, "terminationGracePeriodSeconds", tgps, "must be greater than 0");
	if (kind == PROBE_READINESS) {
		if (jhas(p, "terminationGracePeriodSeconds")) {
			_cleanup_free_ char *r =
				render(c, go_put_scalar, jget(p, "terminationGracePeriodSeconds"));
			v_invalid_val(c, "terminationGracePeriodSeconds", r ? r : "",
				      "must not be set for readinessProbes");
		}
	} else {
		int64_t st = jint0(p, "successThreshold");
		if (st != 1)
			v_invalid_int(c, "successThreshold", st, "must be 1");
	}
	vp_pop(c, len);
}

static void
validate_lifecycle(struct vctx *c, const json_t *lc, const int64_t *grace)
{
	size_t len = vp_field(c, "lifecycle");
	static const char *const hooks[] = { "postStart", "preStop" };
	for (size_t i = 0; i < 2; i++) {
		const json_t *h = jobj(lc, hooks[i]);
		if (!h)
			continue;
		size_t l2 = vp_field(c, hooks[i]);
		validate_handler(c, h, HANDLER_LIFECYCLE, grace);
		vp_pop(c, l2);
	}
	vp_pop(c, len);
}

/* --- security context ---------------------------------------------------------------------- */

void
validate_seccomp_profile(struct vctx *c, const json_t *sp)
{
	if (!sp)
		return;
	size_t len = vp_field(c, "seccompProfile");
	const char *type = jstr0(sp, "type");
	if (!*type)
		v_required(c, "type", "type is required when seccompProfile is set");
	else if (!str_in(type, STRS("Localhost", "RuntimeDefault", "Unconfined")))
		v_not_supported_str(c, "type", type,
				    STRS("Localhost", "RuntimeDefault", "Unconfined"));
	const char *lp = jstr(sp, "localhostProfile");
	if (streq(type, "Localhost")) {
		if (!lp)
			v_required(c, "localhostProfile",
				   "must be set when seccomp type is Localhost");
		else
			validate_local_descending_path(c, "localhostProfile", lp);
	} else if (lp) {
		v_invalid_go(c, "localhostProfile", go_put_json, sp,
			     "can only be set when seccomp type is Localhost");
	}
	vp_pop(c, len);
}

void
validate_apparmor_profile(struct vctx *c, const json_t *ap)
{
	if (!ap)
		return;
	size_t len = vp_field(c, "appArmorProfile");
	const char *type = jstr0(ap, "type");
	const json_t *lpv = jget(ap, "localhostProfile");
	const char *lp = json_is_string(lpv) ? json_string_value(lpv) : NULL;
	if (streq(type, "Localhost")) {
		if (!lp) {
			v_required(c, "localhostProfile",
				   "must be set when AppArmor type is Localhost");
		} else {
			size_t n = strlen(lp), a = 0, b = n;
			while (a < n && strchr(" \t\n\v\f\r", lp[a]))
				a++;
			while (b > a && strchr(" \t\n\v\f\r", lp[b - 1]))
				b--;
			if (a != 0 || b != n)
				v_invalid_str(c, "localhostProfile", lp,
					      "must not be padded with whitespace");
			else if (n == 0)
				v_required(c, "localhostProfile",
					   "must be set when AppArmor type is Localhost");
			if (n > 4095)
				v_too_long(c, "localhostProfile", 4095);
		}
	} else if (streq(type, "RuntimeDefault") || streq(type, "Unconfined")) {
		if (lpv)
			v_invalid_go(c, "localhostProfile", go_put_scalar, lpv,
				     "can only be set when AppArmor type is Localhost");
	} else if (!*type) {
		v_required(c, "type", "type is required when appArmorProfile is set");
	} else {
		v_not_supported_str(c, "type", type,
				    STRS("Localhost", "RuntimeDefault", "Unconfined"));
	}
	vp_pop(c, len);
}

/* ValidateSecurityContext for a container, at the current path (the container). */
static void
validate_container_security_context(struct vctx *c, const json_t *sc, bool host_users)
{
	if (!sc)
		return;
	size_t len = vp_field(c, "securityContext");
	int64_t id;
	if (jint(sc, "runAsUser", &id) && (id < 0 || id > INT32_MAX))
		v_invalid_int(c, "runAsUser", id, "must be between 0 and 2147483647, inclusive");
	if (jint(sc, "runAsGroup", &id) && (id < 0 || id > INT32_MAX))
		v_invalid_int(c, "runAsGroup", id, "must be between 0 and 2147483647, inclusive");
	const char *pm = jstr(sc, "procMount");
	if (pm) {
		if (!str_in(pm, STRS("Default", "Unmasked")))
			v_not_supported_str(c, "procMount", pm, STRS("Default", "Unmasked"));
		if (host_users && streq(pm, "Unmasked"))
			v_invalid_str(c, "procMount", pm,
				      "`hostUsers` must be false to use `Unmasked`");
	}
	validate_seccomp_profile(c, jobj(sc, "seccompProfile"));
	const json_t *ape = jget(sc, "allowPrivilegeEscalation");
	if (json_is_false(ape)) {
		if (jbool(sc, "privileged"))
			v_invalid_go(
				c, NULL, go_put_json, sc,
				"cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
		size_t i;
		json_t *cap;
		json_array_foreach (jarr(jobj(sc, "capabilities"), "add"), i, cap) {
			if (json_is_string(cap) && streq(json_string_value(cap), "CAP_SYS_ADMIN"))
				v_invalid_go(
					c, NULL, go_put_json, sc,
					"cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN");
		}
	}
	validate_apparmor_profile(c, jobj(sc, "appArmorProfile"));
	vp_pop(c, len);
}

/* --- containers ---------------------------------------------------------------------------- */

static void
validate_resize_policy(struct vctx *c, const json_t *list, const char *pod_restart)
{
	json_t *seen = json_object();
	size_t i;
	json_t *p;
	json_array_foreach ((json_t *)list, i, p) {
		size_t len = vp_field(c, "resizePolicy");
		const char *rn = jstr0(p, "resourceName"), *rp = jstr0(p, "restartPolicy");
		if (json_object_get(seen, rn)) {
			vp_index(c, i);
			v_duplicate_str(c, NULL, rn);
			vp_pop(c, len);
			vp_field(c, "resizePolicy");
		}
		json_object_set_new(seen, rn, json_true());
		if (!*rn)
			v_required(c, NULL, "");
		else if (!str_in(rn, STRS("cpu", "memory")))
			v_not_supported_str(c, NULL, rn, STRS("cpu", "memory"));
		if (!*rp)
			v_required(c, NULL, "");
		else if (!str_in(rp, STRS("NotRequired", "RestartContainer")))
			v_not_supported_str(c, NULL, rp, STRS("NotRequired", "RestartContainer"));
		if (streq(pod_restart, "Never") && !streq(rp, "NotRequired"))
			v_invalid_str(c, NULL, rp,
				      "must be 'NotRequired' when `restartPolicy` is 'Never'");
		vp_pop(c, len);
	}
	json_decref(seen);
}

/* validateContainerCommon at the current path (the container). */
static void
validate_container_common(struct vctx *c, const json_t *ctr, const json_t *volumes,
			  const json_t *pod_claims, const char *pod_restart, bool host_users)
{
	const char *name = jstr0(ctr, "name");
	if (!*name) {
		v_required(c, "name", "");
	} else {
		struct name_problems p = { 0 };
		check_dns1123_label(name, &p);
		v_problems(c, "name", name, &p);
	}
	if (!*jstr0(ctr, "image"))
		v_required(c, "image", "");
	const char *tmp = jstr0(ctr, "terminationMessagePolicy");
	if (!*tmp)
		v_required(c, "terminationMessagePolicy", "");
	else if (!str_in(tmp, STRS("File", "FallbackToLogsOnError")))
		v_not_supported_str(c, "terminationMessagePolicy", tmp,
				    STRS("File", "FallbackToLogsOnError"));
	validate_ports(c, jarr(ctr, "ports"));
	validate_env(c, jarr(ctr, "env"));
	validate_env_from(c, jarr(ctr, "envFrom"));
	validate_volume_mounts(c, ctr, volumes);
	validate_volume_devices(c, ctr, volumes);
	const char *pp = jstr0(ctr, "imagePullPolicy");
	if (!*pp)
		v_required(c, "imagePullPolicy", "");
	else if (!str_in(pp, STRS("Always", "IfNotPresent", "Never")))
		v_not_supported_str(c, "imagePullPolicy", pp,
				    STRS("Always", "IfNotPresent", "Never"));
	size_t len = vp_field(c, "resources");
	validate_resource_requirements(c, jobj(ctr, "resources"), pod_claims);
	vp_pop(c, len);
	validate_resize_policy(c, jarr(ctr, "resizePolicy"), pod_restart);
	validate_container_security_context(c, jobj(ctr, "securityContext"), host_users);
}

/*
 * AccumulateUniqueHostPorts over a list of containers at the current path. Init containers are
 * checked one at a time as a list of one, so their paths always say [0] (as Kubernetes').
 */
static void
check_host_ports(struct vctx *c, const json_t *ctrs)
{
	json_t *seen = json_object();
	size_t ci;
	json_t *ctr;
	json_array_foreach ((json_t *)ctrs, ci, ctr) {
		size_t pi;
		json_t *port;
		json_array_foreach (jarr(ctr, "ports"), pi, port) {
			int64_t hp = jint0(port, "hostPort");
			if (hp == 0)
				continue;
			char key[512];
			snprintf(key, sizeof(key), "%s/%s/%lld", jstr0(port, "protocol"),
				 jstr0(port, "hostIP"), (long long)hp);
			if (json_object_get(seen, key)) {
				size_t len = vp_index(c, ci);
				vp_field(c, "ports");
				vp_index(c, pi);
				v_duplicate_str(c, "hostPort", key);
				vp_pop(c, len);
			} else {
				json_object_set_new(seen, key, json_true());
			}
		}
	}
	json_decref(seen);
}

void
validate_containers(struct vctx *c, const json_t *spec, const json_t *volumes)
{
	const json_t *ctrs = jarr(spec, "containers"), *inits = jarr(spec, "initContainers");
	const char *restart = jstr0(spec, "restartPolicy");
	bool host_users = !json_is_false(jget(spec, "hostUsers"));
	int64_t grace_v;
	const int64_t *grace =
		jint(spec, "terminationGracePeriodSeconds", &grace_v) ? &grace_v : NULL;
	json_t *claims = json_object();
	size_t i;
	json_t *rc;
	json_array_foreach (jarr(spec, "resourceClaims"), i, rc) {
		if (*jstr0(rc, "name"))
			json_object_set_new(claims, jstr0(rc, "name"), json_true());
	}

	/* validateContainers */
	size_t len = vp_field(c, "containers");
	json_t *names = json_object();
	if (!jlen(ctrs))
		v_required(c, NULL, "");
	json_t *ctr;
	json_array_foreach ((json_t *)ctrs, i, ctr) {
		size_t l2 = vp_index(c, i);
		validate_container_common(c, ctr, volumes, claims, restart, host_users);
		const char *name = jstr0(ctr, "name");
		if (json_object_get(names, name))
			v_duplicate_str(c, "name", name);
		else
			json_object_set_new(names, name, json_true());
		if (jobj(ctr, "lifecycle"))
			validate_lifecycle(c, jobj(ctr, "lifecycle"), grace);
		validate_probe(c, ctr, "livenessProbe", PROBE_LIVENESS, grace);
		validate_probe(c, ctr, "readinessProbe", PROBE_READINESS, grace);
		validate_probe(c, ctr, "startupProbe", PROBE_STARTUP, grace);
		if (jhas(ctr, "restartPolicy"))
			v_forbidden(c, "restartPolicy", "may not be set for non-init containers");
		vp_pop(c, l2);
	}
	check_host_ports(c, ctrs);
	vp_pop(c, len);

	/* validateInitContainers */
	len = vp_field(c, "initContainers");
	json_t *all = json_object();
	json_array_foreach ((json_t *)ctrs, i, ctr)
		json_object_set_new(all, jstr0(ctr, "name"), json_true());
	json_array_foreach ((json_t *)inits, i, ctr) {
		size_t l2 = vp_index(c, i);
		validate_container_common(c, ctr, volumes, claims, restart, host_users);
		bool always = false;
		const char *rp = jstr(ctr, "restartPolicy");
		if (rp) {
			if (!streq(rp, "Always"))
				v_not_supported_str(c, "restartPolicy", rp, STRS("Always"));
			always = streq(rp, "Always");
		}
		const char *name = jstr0(ctr, "name");
		if (json_object_get(all, name))
			v_duplicate_str(c, "name", name);
		else if (*name)
			json_object_set_new(all, name, json_true());
		vp_pop(c, l2);
		json_t *one = json_pack("[O]", ctr);
		check_host_ports(c, one);
		json_decref(one);
		vp_index(c, i);
		if (always) {
			if (jobj(ctr, "lifecycle"))
				validate_lifecycle(c, jobj(ctr, "lifecycle"), grace);
			validate_probe(c, ctr, "livenessProbe", PROBE_LIVENESS, grace);
			validate_probe(c, ctr, "readinessProbe", PROBE_READINESS, grace);
			validate_probe(c, ctr, "startupProbe", PROBE_STARTUP, grace);
		} else {
			static const char *const f[] = { "lifecycle", "livenessProbe",
							 "readinessProbe", "startupProbe" };
			for (size_t k = 0; k < 4; k++)
				if (jhas(ctr, f[k]))
					v_forbidden(c, f[k], MSG_INIT_FORBIDDEN);
		}
		if (jlen(jarr(ctr, "resizePolicy")))
			v_invalid_go(c, "resizePolicy", go_put_json, jget(ctr, "resizePolicy"),
				     "must not be set for init containers");
		vp_pop(c, l2);
	}
	vp_pop(c, len);

	/* validateEphemeralContainers: the common rules and unique names (korch refuses them). */
	len = vp_field(c, "ephemeralContainers");
	json_t *others = json_object();
	json_object_update(others, all);
	json_array_foreach (jarr(spec, "ephemeralContainers"), i, ctr) {
		size_t l2 = vp_index(c, i);
		validate_container_common(c, ctr, volumes, claims, restart, host_users);
		const char *image = jstr0(ctr, "image");
		size_t n = strlen(image);
		if (n && (strchr(" \t\n\v\f\r", image[0]) || strchr(" \t\n\v\f\r", image[n - 1])))
			v_invalid_str(c, "image", image,
				      "must not have leading or trailing whitespace");
		const char *name = jstr0(ctr, "name");
		if (json_object_get(all, name))
			v_duplicate_str(c, "name", name);
		else
			json_object_set_new(all, name, json_true());
		const char *target = jstr0(ctr, "targetContainerName");
		if (*target && !json_object_get(others, target))
			v_not_found_str(c, "targetContainerName", target, NULL);
		vp_pop(c, l2);
	}
	vp_pop(c, len);
	json_decref(others);
	json_decref(all);
	json_decref(names);
	json_decref(claims);
}
