/*
 * defaults-core.c - core/v1 defaulting as Kubernetes 1.32 does it (pkg/apis/core/v1/defaults.go,
 * the +default markers of k8s.io/api/core/v1 and the generated defaulters that walk every pod
 * spec, volume, container and resource list), for the core kinds and for the pod templates
 * and claim templates of the other groups' kinds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "api/validate-internal.h"
#include "base/util.h"

/* --- JSON setters ---------------------------------------------------------------------------- */

static bool
unset(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return !v || json_is_null(v);
}

json_t *
dobj(json_t *o, const char *key)
{
	if (!json_is_object(o))
		return NULL;
	json_t *v = json_object_get(o, key);
	if (json_is_object(v))
		return v;
	if (v && !json_is_null(v))
		return NULL; /* a wrong type: left for validation */
	v = json_object();
	if (json_object_set_new(o, key, v) < 0)
		return NULL;
	return v;
}

void
dset(json_t *o, const char *key, json_t *value)
{
	if (json_is_object(o) && unset(o, key))
		json_object_set_new(o, key, value);
	else
		json_decref(value);
}

void
dstr(json_t *o, const char *key, const char *value)
{
	json_t *v = json_object_get(o, key);
	if (json_is_object(o) &&
	    (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v))))
		json_object_set_new(o, key, json_string(value));
}

void
dint(json_t *o, const char *key, json_int_t value)
{
	dset(o, key, json_integer(value));
}

void
dint_nonzero(json_t *o, const char *key, json_int_t value)
{
	json_t *v = json_object_get(o, key);
	if (json_is_object(o) &&
	    (!v || json_is_null(v) || (json_is_integer(v) && !json_integer_value(v))))
		json_object_set_new(o, key, json_integer(value));
}

/* --- resource lists -------------------------------------------------------------------------- */

/*
 * SetDefaults_ResourceList: every quantity rounded up (away from zero) to milli units, and
 * written back as Kubernetes serialises it.
 */
void
defaults_resource_list(json_t *list)
{
	const char *key;
	json_t *v;
	json_object_foreach (json_is_object(list) ? list : NULL, key, v) {
		struct quantity q;
		if (quantity_from_json(v, &q, NULL) < 0)
			continue;
		__int128 rem = q.nano % 1000000;
		if (rem != 0) {
			q.nano += q.nano > 0 ? 1000000 - rem : -(1000000 + rem);
			q.text[0] = 0;
		}
		char buf[64];
		quantity_format(&q, buf);
		if (!json_is_string(v) || !streq(json_string_value(v), buf))
			json_object_set_new(list, key, json_string(buf));
	}
}

static void
defaults_resources(json_t *res)
{
	defaults_resource_list(json_object_get(res, "limits"));
	defaults_resource_list(json_object_get(res, "requests"));
}

/* --- image names ----------------------------------------------------------------------------- */

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool
path_component_ok(const char *s, size_t n)
{
	size_t i = 0;
	if (!n || !is_lower_alnum(s[0]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		size_t sep = i;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n || !is_lower_alnum(s[i]) || i == sep)
			return false;
	}
	return true;
}

/* A registry host: labels of [A-Za-z0-9-] (not starting or ending with '-') joined by dots, an
 * optional :port, or a bracketed IPv6 address. */
static bool
domain_ok(const char *s, size_t n)
{
	size_t end = n;
	const char *colon = NULL;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return false;
		end = (size_t)(close - s) + 1;
		if (end < n && s[end] != ':')
			return false;
		colon = end < n ? s + end : NULL;
	} else {
		colon = memchr(s, ':', n);
		if (colon)
			end = (size_t)(colon - s);
		for (size_t i = 0, start = 0; i <= end; i++) {
			if (i == end || s[i] == '.') {
				if (i == start || s[start] == '-' || s[i - 1] == '-')
					return false;
				start = i + 1;
			} else if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
				     (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) {
				return false;
			}
		}
	}
	if (colon) {
		size_t pl = n - (size_t)(colon - s) - 1;
		if (!pl)
			return false;
		for (size_t i = 1; i <= pl; i++)
			if (colon[i] < '0' || colon[i] > '9')
				return false;
	}
	return true;
}

/*
 * The tag parsers.ParseImageName finds in a docker reference: "latest" when the reference has
 * neither tag nor digest, "" when it does not parse (or has a digest and no tag).
 */
const char *
image_tag(const char *image, char buf[static 130])
{
	buf[0] = 0;
	size_t n = strlen(image);
	const char *at = strchr(image, '@');
	size_t name_end = at ? (size_t)(at - image) : n;
	if (at) {
		/* algorithm:hex */
		const char *d = at + 1, *colon = strchr(d, ':');
		if (!colon || colon == d || strlen(colon + 1) < 32)
			return "";
		for (const char *h = colon + 1; *h; h++)
			if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f') ||
			      (*h >= 'A' && *h <= 'F')))
				return "";
	}
	/* the tag: after the last ':' that follows the last '/' */
	size_t last_slash = 0;
	bool has_slash = false;
	for (size_t i = 0; i < name_end; i++)
		if (image[i] == '/') {
			last_slash = i;
			has_slash = true;
		}
	size_t tag_at = name_end;
	for (size_t i = has_slash ? last_slash : 0; i < name_end; i++)
		if (image[i] == ':')
			tag_at = i;
	size_t repo_len = tag_at;
	if (tag_at < name_end) {
		size_t tl = name_end - tag_at - 1;
		const char *t = image + tag_at + 1;
		if (!tl || tl > 128)
			return "";
		for (size_t i = 0; i < tl; i++) {
			char c = t[i];
			bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9') || c == '_';
			if (!word && (i == 0 || (c != '.' && c != '-')))
				return "";
		}
		memcpy(buf, t, tl);
		buf[tl] = 0;
	}
	if (!repo_len || repo_len > 255)
		return "";
	/* the domain, as splitDockerDomain decides */
	const char *slash = memchr(image, '/', repo_len);
	size_t start = 0;
	if (slash) {
		size_t dl = (size_t)(slash - image);
		bool upper = false;
		for (size_t i = 0; i < dl; i++)
			upper |= image[i] >= 'A' && image[i] <= 'Z';
		if (memchr(image, '.', dl) || memchr(image, ':', dl) ||
		    (dl == 9 && !memcmp(image, "localhost", 9)) || upper) {
			if (!domain_ok(image, dl))
				return "";
			start = dl + 1;
		}
	}
	for (size_t i = start; i <= repo_len; i++) {
		if (i == repo_len || image[i] == '/') {
			if (!path_component_ok(image + start, i - start))
				return "";
			start = i + 1;
		}
	}
	/* a 64-hex name alone is refused ("cannot specify 64-byte hexadecimal strings") */
	if (repo_len == 64 && !slash) {
		bool hex = true;
		for (size_t i = 0; i < 64; i++)
			hex &= (image[i] >= '0' && image[i] <= '9') ||
			       (image[i] >= 'a' && image[i] <= 'f');
		if (hex)
			return "";
	}
	if (!buf[0] && !at)
		return "latest";
	return buf;
}

/* --- pod specs ------------------------------------------------------------------------------- */

static void
defaults_http_get(json_t *h)
{
	if (!json_is_object(h))
		return;
	dstr(h, "path", "/");
	dstr(h, "scheme", "HTTP");
}

static void
defaults_probe(json_t *p)
{
	if (!json_is_object(p))
		return;
	dint_nonzero(p, "timeoutSeconds", 1);
	dint_nonzero(p, "periodSeconds", 10);
	dint_nonzero(p, "successThreshold", 1);
	dint_nonzero(p, "failureThreshold", 3);
	defaults_http_get(json_object_get(p, "httpGet"));
	json_t *grpc = json_object_get(p, "grpc");
	if (json_is_object(grpc))
		dset(grpc, "service", json_string(""));
}

static void
defaults_field_ref(json_t *holder)
{
	json_t *fr = json_object_get(holder, "fieldRef");
	if (json_is_object(fr))
		dstr(fr, "apiVersion", "v1");
}

static void
defaults_container(json_t *c)
{
	if (!json_is_object(c))
		return;
	json_t *ppv = json_object_get(c, "imagePullPolicy");
	if (!ppv || json_is_null(ppv) || (json_is_string(ppv) && !*json_string_value(ppv))) {
		char buf[130];
		const char *image = jstr0(c, "image");
		json_object_set_new(c, "imagePullPolicy",
				    json_string(streq(image_tag(image, buf), "latest")
							? "Always"
							: "IfNotPresent"));
	}
	dstr(c, "terminationMessagePath", "/dev/termination-log");
	dstr(c, "terminationMessagePolicy", "File");
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(c, "ports"), i, v) {
		if (json_is_object(v))
			dstr(v, "protocol", "TCP");
	}
	json_array_foreach (json_object_get(c, "env"), i, v)
		defaults_field_ref(json_object_get(v, "valueFrom"));
	defaults_resources(json_object_get(c, "resources"));
	defaults_probe(json_object_get(c, "livenessProbe"));
	defaults_probe(json_object_get(c, "readinessProbe"));
	defaults_probe(json_object_get(c, "startupProbe"));
	json_t *lc = json_object_get(c, "lifecycle");
	defaults_http_get(json_object_get(json_object_get(lc, "postStart"), "httpGet"));
	defaults_http_get(json_object_get(json_object_get(lc, "preStop"), "httpGet"));
}

/* The members of VolumeSource (any one set means the volume has a source). */
static const char *const volume_source_fields[] = {
	"hostPath",
	"emptyDir",
	"gcePersistentDisk",
	"awsElasticBlockStore",
	"gitRepo",
	"secret",
	"nfs",
	"iscsi",
	"glusterfs",
	"persistentVolumeClaim",
	"rbd",
	"flexVolume",
	"cinder",
	"cephfs",
	"flocker",
	"downwardAPI",
	"fc",
	"azureFile",
	"configMap",
	"vsphereVolume",
	"quobyte",
	"azureDisk",
	"photonPersistentDisk",
	"projected",
	"portworxVolume",
	"scaleIO",
	"storageos",
	"csi",
	"ephemeral",
	"image",
};

static void
defaults_downward_items(json_t *src)
{
	size_t i;
	json_t *item;
	json_array_foreach (json_object_get(src, "items"), i, item)
		defaults_field_ref(item);
}

static void
defaults_volume(json_t *vol)
{
	if (!json_is_object(vol))
		return;
	bool any = false;
	for (size_t i = 0; i < ARRAY_SIZE(volume_source_fields); i++)
		any |= !unset(vol, volume_source_fields[i]);
	if (!any)
		json_object_set_new(vol, "emptyDir", json_object());
	json_t *s;
	if (json_is_object(s = json_object_get(vol, "hostPath")))
		dset(s, "type", json_string(""));
	if (json_is_object(s = json_object_get(vol, "secret")))
		dint(s, "defaultMode", 420);
	if (json_is_object(s = json_object_get(vol, "configMap")))
		dint(s, "defaultMode", 420);
	if (json_is_object(s = json_object_get(vol, "downwardAPI"))) {
		dint(s, "defaultMode", 420);
		defaults_downward_items(s);
	}
	if (json_is_object(s = json_object_get(vol, "projected"))) {
		dint(s, "defaultMode", 420);
		size_t i;
		json_t *src;
		json_array_foreach (json_object_get(s, "sources"), i, src) {
			defaults_downward_items(json_object_get(src, "downwardAPI"));
			json_t *sat = json_object_get(src, "serviceAccountToken");
			if (json_is_object(sat))
				dint(sat, "expirationSeconds", 3600);
		}
	}
	if (json_is_object(s = json_object_get(vol, "iscsi")))
		dstr(s, "iscsiInterface", "default");
	if (json_is_object(s = json_object_get(vol, "rbd"))) {
		dstr(s, "pool", "rbd");
		dstr(s, "user", "admin");
		dstr(s, "keyring", "/etc/ceph/keyring");
	}
	if (json_is_object(s = json_object_get(vol, "azureDisk"))) {
		dset(s, "cachingMode", json_string("ReadWrite"));
		dset(s, "kind", json_string("Shared"));
		dset(s, "fsType", json_string("ext4"));
		dset(s, "readOnly", json_false());
	}
	if (json_is_object(s = json_object_get(vol, "scaleIO"))) {
		dstr(s, "storageMode", "ThinProvisioned");
		dstr(s, "fsType", "xfs");
	}
	json_t *tmpl = json_object_get(json_object_get(vol, "ephemeral"), "volumeClaimTemplate");
	if (json_is_object(tmpl))
		defaults_pvc_spec(dobj(tmpl, "spec"));
}

/* SetDefaults_PodSpec and everything the generated defaulters reach under a pod spec. */
void
defaults_pod_spec(json_t *spec, bool is_pod)
{
	if (!json_is_object(spec))
		return;
	if (is_pod) {
		/* SetDefaults_Pod runs first: requests default to limits */
		static const char *const lists[] = { "containers", "initContainers" };
		for (size_t l = 0; l < 2; l++) {
			size_t i;
			json_t *c;
			json_array_foreach (json_object_get(spec, lists[l]), i, c) {
				json_t *res = json_object_get(c, "resources");
				json_t *limits = json_object_get(res, "limits");
				if (!json_is_object(limits))
					continue;
				json_t *requests = dobj(res, "requests");
				const char *k;
				json_t *q;
				json_object_foreach (limits, k, q) {
					if (requests && !json_object_get(requests, k))
						json_object_set(requests, k, q);
				}
			}
		}
		dset(spec, "enableServiceLinks", json_true());
		if (jbool(spec, "hostNetwork")) {
			for (size_t l = 0; l < 2; l++) {
				size_t i, j;
				json_t *c, *p;
				json_array_foreach (json_object_get(spec, lists[l]), i, c)
					json_array_foreach (json_object_get(c, "ports"), j, p) {
						json_t *cp = json_object_get(p, "containerPort");
						if (json_is_object(p) && json_is_integer(cp))
							dint_nonzero(p, "hostPort",
								     json_integer_value(cp));
					}
			}
		}
	}
	dstr(spec, "dnsPolicy", "ClusterFirst");
	dstr(spec, "restartPolicy", "Always");
	dset(spec, "securityContext", json_object());
	dint(spec, "terminationGracePeriodSeconds", 30);
	dstr(spec, "schedulerName", "default-scheduler");
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(spec, "volumes"), i, v)
		defaults_volume(v);
	static const char *const all[] = { "initContainers", "containers", "ephemeralContainers" };
	for (size_t l = 0; l < ARRAY_SIZE(all); l++)
		json_array_foreach (json_object_get(spec, all[l]), i, v)
			defaults_container(v);
	defaults_resource_list(json_object_get(spec, "overhead"));
	defaults_resources(json_object_get(spec, "resources"));
}

/* A PodTemplateSpec member (the pod spec under it) */
void
defaults_pod_template(json_t *tmpl)
{
	if (json_is_object(tmpl))
		defaults_pod_spec(dobj(tmpl, "spec"), false);
}

/* SetDefaults_PersistentVolumeClaimSpec and the resource lists under it */
void
defaults_pvc_spec(json_t *spec)
{
	if (!json_is_object(spec))
		return;
	dset(spec, "volumeMode", json_string("Filesystem"));
	defaults_resources(json_object_get(spec, "resources"));
}

/* A whole PersistentVolumeClaim (also a StatefulSet's claim templates) */
void
defaults_pvc_object(json_t *pvc)
{
	if (!json_is_object(pvc))
		return;
	json_t *status = dobj(pvc, "status");
	dstr(status, "phase", "Pending");
	defaults_resource_list(json_object_get(status, "capacity"));
	defaults_resource_list(json_object_get(status, "allocatedResources"));
	defaults_pvc_spec(dobj(pvc, "spec"));
}

/* --- the core kinds -------------------------------------------------------------------------- */

void
defaults_namespace(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = jstr0(meta, "name");
	if (*name) {
		json_t *labels = dobj(meta, "labels");
		if (labels)
			json_object_set_new(labels, "kubernetes.io/metadata.name",
					    json_string(name));
	}
	dstr(dobj(obj, "status"), "phase", "Active");
}

void
defaults_pod(json_t *obj)
{
	defaults_pod_spec(dobj(obj, "spec"), true);
}

void
defaults_replication_controller(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	json_t *tmpl = json_object_get(spec, "template");
	json_t *labels = json_object_get(json_object_get(tmpl, "metadata"), "labels");
	if (json_is_object(labels)) {
		json_t *sel = json_object_get(spec, "selector");
		if (!jlen(sel) && (!sel || json_is_null(sel) || json_is_object(sel)))
			json_object_set_new(spec, "selector", json_deep_copy(labels));
		json_t *meta = dobj(obj, "metadata");
		json_t *ml = json_object_get(meta, "labels");
		if (meta && !jlen(ml) && (!ml || json_is_null(ml) || json_is_object(ml)))
			json_object_set_new(meta, "labels", json_deep_copy(labels));
	}
	dint(spec, "replicas", 1);
	defaults_pod_template(tmpl);
}

/* The ServiceSpec's IP families, as the Service REST storage fills them on create for a
 * single-stack IPv4 cluster, and its clusterIP / clusterIPs kept in step. */
static void
defaults_service_ips(json_t *spec)
{
	if (streq(jstr0(spec, "type"), "ExternalName"))
		return;
	const char *ip = jstr0(spec, "clusterIP");
	json_t *ips = json_object_get(spec, "clusterIPs");
	/* NormalizeClusterIPs on create: the plural from the singular, never the reverse */
	if (*ip && !jlen(ips) && (!ips || json_is_null(ips) || json_is_array(ips)))
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
	bool headless_no_selector =
		streq(jstr0(spec, "clusterIP"), "None") && !jlen(json_object_get(spec, "selector"));
	dset(spec, "ipFamilyPolicy",
	     json_string(headless_no_selector ? "RequireDualStack" : "SingleStack"));
	json_t *fams = json_object_get(spec, "ipFamilies");
	if (!jlen(fams) && (!fams || json_is_null(fams) || json_is_array(fams))) {
		/* from the cluster IPs when set, else the cluster's (IPv4) family */
		json_t *list = json_array();
		size_t i;
		json_t *v;
		json_array_foreach (json_object_get(spec, "clusterIPs"), i, v) {
			unsigned char b[16];
			bool v4;
			if (json_is_string(v) && ip_parse(json_string_value(v), b, &v4))
				json_array_append_new(list, json_string(v4 ? "IPv4" : "IPv6"));
		}
		if (!json_array_size(list))
			json_array_append_new(list, json_string("IPv4"));
		json_object_set_new(spec, "ipFamilies", list);
	}
}

void
defaults_service(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	if (!spec)
		return;
	dstr(spec, "sessionAffinity", "None");
	const char *sa = jstr0(spec, "sessionAffinity");
	if (streq(sa, "None")) {
		json_object_del(spec, "sessionAffinityConfig");
	} else if (streq(sa, "ClientIP")) {
		json_t *cfg = json_object_get(spec, "sessionAffinityConfig");
		json_t *t = json_object_get(json_object_get(cfg, "clientIP"), "timeoutSeconds");
		if (!t || json_is_null(t))
			json_object_set_new(
				spec, "sessionAffinityConfig",
				json_pack("{s{si}}", "clientIP", "timeoutSeconds", 10800));
	}
	dstr(spec, "type", "ClusterIP");
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(spec, "ports"), i, p) {
		if (!json_is_object(p))
			continue;
		dstr(p, "protocol", "TCP");
		json_t *tp = json_object_get(p, "targetPort"), *port = json_object_get(p, "port");
		if ((!tp || json_is_null(tp) || (json_is_integer(tp) && !json_integer_value(tp)) ||
		     (json_is_string(tp) && !*json_string_value(tp))))
			json_object_set_new(
				p, "targetPort",
				json_integer(json_is_integer(port) ? json_integer_value(port) : 0));
	}
	const char *type = jstr0(spec, "type");
	bool lb = streq(type, "LoadBalancer");
	if ((lb || streq(type, "NodePort") || jlen(json_object_get(spec, "externalIPs"))))
		dstr(spec, "externalTrafficPolicy", "Cluster");
	if (lb || streq(type, "NodePort") || streq(type, "ClusterIP"))
		dset(spec, "internalTrafficPolicy", json_string("Cluster"));
	if (lb) {
		dset(spec, "allocateLoadBalancerNodePorts", json_true());
		json_array_foreach (json_object_get(json_object_get(json_object_get(obj, "status"),
								    "loadBalancer"),
						    "ingress"),
				    i, p) {
			if (json_is_object(p) && *jstr0(p, "ip"))
				dset(p, "ipMode", json_string("VIP"));
		}
	}
	defaults_service_ips(spec);
}

void
defaults_endpoints(json_t *obj)
{
	size_t i, j;
	json_t *ss, *p;
	json_array_foreach (json_object_get(obj, "subsets"), i, ss)
		json_array_foreach (json_object_get(ss, "ports"), j, p) {
			if (json_is_object(p))
				dstr(p, "protocol", "TCP");
		}
}

void
defaults_persistent_volume(json_t *obj)
{
	dstr(dobj(obj, "status"), "phase", "Pending");
	json_t *spec = dobj(obj, "spec");
	if (!spec)
		return;
	dstr(spec, "persistentVolumeReclaimPolicy", "Retain");
	dset(spec, "volumeMode", json_string("Filesystem"));
	defaults_resource_list(json_object_get(spec, "capacity"));
	json_t *s;
	if (json_is_object(s = json_object_get(spec, "hostPath")))
		dset(s, "type", json_string(""));
	if (json_is_object(s = json_object_get(spec, "iscsi")))
		dstr(s, "iscsiInterface", "default");
	if (json_is_object(s = json_object_get(spec, "rbd"))) {
		dstr(s, "pool", "rbd");
		dstr(s, "user", "admin");
		dstr(s, "keyring", "/etc/ceph/keyring");
	}
	if (json_is_object(s = json_object_get(spec, "azureDisk"))) {
		dset(s, "cachingMode", json_string("ReadWrite"));
		dset(s, "kind", json_string("Shared"));
		dset(s, "fsType", json_string("ext4"));
		dset(s, "readOnly", json_false());
	}
	if (json_is_object(s = json_object_get(spec, "scaleIO"))) {
		dstr(s, "storageMode", "ThinProvisioned");
		dstr(s, "fsType", "xfs");
	}
}

void
defaults_persistent_volume_claim(json_t *obj)
{
	defaults_pvc_object(obj);
}

void
defaults_secret(json_t *obj)
{
	dstr(obj, "type", "Opaque");
}

void
defaults_node(json_t *obj)
{
	json_t *status = json_object_get(obj, "status");
	if (!json_is_object(status))
		return;
	json_t *cap = json_object_get(status, "capacity");
	if (json_is_object(cap) && unset(status, "allocatable"))
		json_object_set_new(status, "allocatable", json_deep_copy(cap));
	defaults_resource_list(cap);
	defaults_resource_list(json_object_get(status, "allocatable"));
}
