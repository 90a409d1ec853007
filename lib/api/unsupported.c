/*
 * unsupported.c - the fields Kubernetes 1.32 knows, that change behaviour, and that korch does
 * not implement: such a field is refused with the path and the reason rather than stored and
 * silently ignored (DESIGN.md, "Objects"). One table; the day a feature lands, delete its line.
 */
#include <stdio.h>
#include <string.h>

#include "api/validate-internal.h"
#include "api/validate.h"
#include "base/error.h"
#include "base/util.h"

enum scope {
	S_POD_SPEC, /* relative to every pod spec: a Pod's, a template's, a CronJob's job's */
	S_POD_META, /* relative to the metadata beside each of those pod specs */
	S_OBJECT,   /* relative to the object, for the kind named */
};

enum cond {
	C_SET,        /* present, not null, not "" / [] / {} */
	C_EQ,         /* a string equal to value, or a boolean spelt "true" / "false" */
	C_NE,         /* set, and not the string value */
	C_PREFIX,     /* a string that starts with value */
	C_KEY_PREFIX, /* an object with a member whose name starts with value: one cause per key */
};

/*
 * path: dotted members from the scope's root; "name[]" steps into every item of the list.
 */
static const struct refusal {
	enum scope scope;
	const char *kind; /* S_OBJECT: the kind */
	const char *path;
	enum cond cond;
	const char *value;
	const char *why;
} refusals[] = {
	/* pods */
	{ S_POD_SPEC, NULL, "runtimeClassName", C_SET, NULL,
	  "RuntimeClasses are not implemented: every pod runs in korch's one runtime" },
	{ S_POD_SPEC, NULL, "overhead", C_SET, NULL,
	  "pod overhead comes with RuntimeClasses, which are not implemented" },
	{ S_POD_SPEC, NULL, "resourceClaims", C_SET, NULL,
	  "dynamic resource allocation is not implemented" },
	{ S_POD_SPEC, NULL, "resources", C_SET, NULL,
	  "pod-level resources (alpha in Kubernetes 1.32) are not implemented" },
	{ S_POD_SPEC, NULL, "os.name", C_NE, "linux", "korch runs Linux containers only" },
	{ S_POD_SPEC, NULL, "hostUsers", C_EQ, "false", "user namespaces are not implemented yet" },
	{ S_POD_SPEC, NULL, "schedulingGates", C_SET, NULL,
	  "the scheduler does not implement scheduling gates" },
	{ S_POD_SPEC, NULL, "ephemeralContainers", C_SET, NULL,
	  "ephemeral containers (kubectl debug) are not implemented" },
	{ S_POD_SPEC, NULL, "securityContext.seLinuxOptions", C_SET, NULL,
	  "SELinux labels are not implemented" },
	{ S_POD_SPEC, NULL, "securityContext.seLinuxChangePolicy", C_SET, NULL,
	  "SELinux labels are not implemented" },
	{ S_POD_SPEC, NULL, "securityContext.appArmorProfile", C_SET, NULL,
	  "AppArmor is not implemented" },
	{ S_POD_SPEC, NULL, "securityContext.windowsOptions", C_SET, NULL,
	  "korch runs Linux containers only" },
	{ S_POD_SPEC, NULL, "securityContext.supplementalGroupsPolicy", C_SET, NULL,
	  "supplementalGroupsPolicy (alpha in Kubernetes 1.32) is not implemented" },
	{ S_POD_META, NULL, "annotations", C_KEY_PREFIX,
	  "container.apparmor.security.beta.kubernetes.io/", "AppArmor is not implemented" },
/* containers (regular and init) */
#define CONTAINERS(field, cond, value, why)                                   \
	{ S_POD_SPEC, NULL, "containers[]." field, cond, value, why },        \
	{                                                                     \
		S_POD_SPEC, NULL, "initContainers[]." field, cond, value, why \
	}
	CONTAINERS("securityContext.seLinuxOptions", C_SET, NULL,
		   "SELinux labels are not implemented"),
	CONTAINERS("securityContext.appArmorProfile", C_SET, NULL, "AppArmor is not implemented"),
	CONTAINERS("securityContext.windowsOptions", C_SET, NULL,
		   "korch runs Linux containers only"),
	CONTAINERS("securityContext.procMount", C_NE, "Default",
		   "an unmasked /proc needs user namespaces, which are not implemented yet"),
	CONTAINERS("resources.claims", C_SET, NULL,
		   "dynamic resource allocation is not implemented"),
	CONTAINERS("resizePolicy", C_SET, NULL,
		   "in-place pod resize (alpha in Kubernetes 1.32) is not implemented"),
	CONTAINERS("volumeDevices", C_SET, NULL, "raw block volumes are not implemented"),
	CONTAINERS("livenessProbe.grpc", C_SET, NULL, "gRPC probes are not implemented"),
	CONTAINERS("readinessProbe.grpc", C_SET, NULL, "gRPC probes are not implemented"),
	CONTAINERS("startupProbe.grpc", C_SET, NULL, "gRPC probes are not implemented"),
/* volumes: korch provides emptyDir, hostPath, configMap, secret, downwardAPI, projected and
	 * persistentVolumeClaim */
#define VOLUME(field, why)                                             \
	{                                                              \
		S_POD_SPEC, NULL, "volumes[]." field, C_SET, NULL, why \
	}
#define NO_PLUGIN "korch has no volume plugin for it"
	VOLUME("gcePersistentDisk", NO_PLUGIN),
	VOLUME("awsElasticBlockStore", NO_PLUGIN),
	VOLUME("gitRepo", NO_PLUGIN),
	VOLUME("nfs", NO_PLUGIN),
	VOLUME("iscsi", NO_PLUGIN),
	VOLUME("glusterfs", NO_PLUGIN),
	VOLUME("rbd", NO_PLUGIN),
	VOLUME("flexVolume", NO_PLUGIN),
	VOLUME("cinder", NO_PLUGIN),
	VOLUME("cephfs", NO_PLUGIN),
	VOLUME("flocker", NO_PLUGIN),
	VOLUME("fc", NO_PLUGIN),
	VOLUME("azureFile", NO_PLUGIN),
	VOLUME("vsphereVolume", NO_PLUGIN),
	VOLUME("quobyte", NO_PLUGIN),
	VOLUME("azureDisk", NO_PLUGIN),
	VOLUME("photonPersistentDisk", NO_PLUGIN),
	VOLUME("portworxVolume", NO_PLUGIN),
	VOLUME("scaleIO", NO_PLUGIN),
	VOLUME("storageos", NO_PLUGIN),
	VOLUME("csi", "CSI drivers are not implemented"),
	VOLUME("ephemeral", "generic ephemeral volumes (a claim per pod) are not implemented yet"),
	VOLUME("image", "image volumes (alpha in Kubernetes 1.32) are not implemented"),
	{ S_POD_SPEC, NULL, "volumes[].emptyDir.medium", C_PREFIX, "HugePages",
	  "huge page backed volumes are not implemented" },
	{ S_POD_SPEC, NULL, "volumes[].projected.sources[].clusterTrustBundle", C_SET, NULL,
	  "ClusterTrustBundles (alpha in Kubernetes 1.32) are not implemented" },

	/* Services */
	{ S_OBJECT, "Service", "spec.externalTrafficPolicy", C_EQ, "Local",
	  "the proxy balances over the endpoints of every node" },
	{ S_OBJECT, "Service", "spec.internalTrafficPolicy", C_EQ, "Local",
	  "the proxy balances over the endpoints of every node" },
	{ S_OBJECT, "Service", "spec.externalIPs", C_SET, NULL,
	  "the proxy does not route external IPs" },
	{ S_OBJECT, "Service", "spec.ipFamilies[]", C_EQ, "IPv6", "the pod network is IPv4 only" },

	/* storage */
	{ S_OBJECT, "PersistentVolumeClaim", "spec.dataSource", C_SET, NULL,
	  "volume cloning and snapshots are not implemented" },
	{ S_OBJECT, "PersistentVolumeClaim", "spec.dataSourceRef", C_SET, NULL,
	  "volume populators are not implemented" },
	{ S_OBJECT, "PersistentVolumeClaim", "spec.volumeAttributesClassName", C_SET, NULL,
	  "VolumeAttributesClasses are not implemented" },
	{ S_OBJECT, "StatefulSet", "spec.volumeClaimTemplates[].spec.dataSource", C_SET, NULL,
	  "volume cloning and snapshots are not implemented" },
	{ S_OBJECT, "StatefulSet", "spec.volumeClaimTemplates[].spec.dataSourceRef", C_SET, NULL,
	  "volume populators are not implemented" },
	{ S_OBJECT, "PersistentVolume", "spec.volumeAttributesClassName", C_SET, NULL,
	  "VolumeAttributesClasses are not implemented" },
#define PV(field)                                                                   \
	{                                                                           \
		S_OBJECT, "PersistentVolume", "spec." field, C_SET, NULL,           \
			"korch provides hostPath and local persistent volumes only" \
	}
	PV("gcePersistentDisk"),
	PV("awsElasticBlockStore"),
	PV("nfs"),
	PV("iscsi"),
	PV("glusterfs"),
	PV("rbd"),
	PV("flexVolume"),
	PV("cinder"),
	PV("cephfs"),
	PV("flocker"),
	PV("fc"),
	PV("azureFile"),
	PV("vsphereVolume"),
	PV("quobyte"),
	PV("azureDisk"),
	PV("photonPersistentDisk"),
	PV("portworxVolume"),
	PV("scaleIO"),
	PV("storageos"),
	PV("csi"),

	/* workloads */
	{ S_OBJECT, "Job", "spec.managedBy", C_NE, "kubernetes.io/job-controller",
	  "korch's job controller runs every Job" },
	{ S_OBJECT, "CronJob", "spec.jobTemplate.spec.managedBy", C_NE,
	  "kubernetes.io/job-controller", "korch's job controller runs every Job" },
	{ S_OBJECT, "HorizontalPodAutoscaler", "spec.metrics[].type", C_EQ, "Object",
	  "Object metrics need a custom metrics API, which korch does not serve" },
	{ S_OBJECT, "HorizontalPodAutoscaler", "spec.metrics[].type", C_EQ, "Pods",
	  "Pods metrics need a custom metrics API, which korch does not serve" },
	{ S_OBJECT, "HorizontalPodAutoscaler", "spec.metrics[].type", C_EQ, "External",
	  "External metrics need an external metrics API, which korch does not serve" },

	/* coordination */
	{ S_OBJECT, "Lease", "spec.strategy", C_SET, NULL,
	  "coordinated leader election (alpha in Kubernetes 1.32) is not implemented" },
	{ S_OBJECT, "Lease", "spec.preferredHolder", C_SET, NULL,
	  "coordinated leader election (alpha in Kubernetes 1.32) is not implemented" },
};

struct walk {
	korch_error *causes;
	struct strbuf path;
	bool oom;
};

static bool
is_set(const json_t *v)
{
	if (!v || json_is_null(v))
		return false;
	if (json_is_string(v))
		return *json_string_value(v) != 0;
	if (json_is_array(v) || json_is_object(v))
		return jlen(v) > 0;
	return true;
}

static void
refuse(struct walk *w, const struct refusal *r)
{
	size_t before = korch_error_cause_count(w->causes);
	error_add_cause(&w->causes, R_FORBIDDEN, strbuf_str(&w->path),
			"not supported by korch (%s)", r->why);
	if (korch_error_cause_count(w->causes) != before + 1)
		w->oom = true;
}

static void
check_leaf(struct walk *w, const json_t *v, const struct refusal *r)
{
	switch (r->cond) {
	case C_SET:
		if (is_set(v))
			refuse(w, r);
		break;
	case C_EQ:
		if ((json_is_string(v) && streq(json_string_value(v), r->value)) ||
		    (json_is_boolean(v) && streq(json_is_true(v) ? "true" : "false", r->value)))
			refuse(w, r);
		break;
	case C_NE:
		if (json_is_string(v) && *json_string_value(v) &&
		    !streq(json_string_value(v), r->value))
			refuse(w, r);
		break;
	case C_PREFIX:
		if (json_is_string(v) && startswith(json_string_value(v), r->value))
			refuse(w, r);
		break;
	case C_KEY_PREFIX: {
		const char *key;
		json_t *m;
		json_object_foreach (json_is_object(v) ? (json_t *)v : NULL, key, m) {
			if (!startswith(key, r->value))
				continue;
			size_t len = w->path.len;
			strbuf_printf(&w->path, "[%s]", key);
			refuse(w, r);
			strbuf_truncate(&w->path, len);
		}
		break;
	}
	}
}

/* Follows the dotted path p from v, stepping into lists at "[]". */
static void
walk_path(struct walk *w, const json_t *v, const char *p, const struct refusal *r)
{
	if (!*p) {
		check_leaf(w, v, r);
		return;
	}
	size_t n = strcspn(p, ".");
	const char *next = p[n] == '.' ? p + n + 1 : p + n;
	bool list = n >= 2 && p[n - 2] == '[' && p[n - 1] == ']';
	size_t name_len = list ? n - 2 : n;
	char name[128];
	if (name_len >= sizeof(name))
		return;
	memcpy(name, p, name_len);
	name[name_len] = 0;
	const json_t *m = json_object_get(v, name);
	if (!m)
		return;
	size_t len = w->path.len;
	if (w->path.len)
		strbuf_putc(&w->path, '.');
	strbuf_puts(&w->path, name);
	if (list) {
		size_t i;
		json_t *item;
		json_array_foreach (json_is_array(m) ? (json_t *)m : NULL, i, item) {
			size_t l2 = w->path.len;
			put_index(&w->path, i);
			walk_path(w, item, next, r);
			strbuf_truncate(&w->path, l2);
		}
	} else {
		walk_path(w, m, next, r);
	}
	strbuf_truncate(&w->path, len);
	if (w->path.oom)
		w->oom = true;
}

/* The pod templates of each kind: the path of the template (metadata + spec) from the root, or
 * "" for a Pod itself. */
static const char *
template_path(const struct kind_info *k)
{
	if (streq(k->kind, "Pod"))
		return "";
	if (streq(k->kind, "CronJob"))
		return "spec.jobTemplate.spec.template";
	if (str_in(k->kind, STRS("ReplicationController", "ReplicaSet", "Deployment", "StatefulSet",
				 "DaemonSet", "Job")))
		return "spec.template";
	return NULL;
}

static const json_t *
follow(const json_t *v, const char *p)
{
	char buf[128];
	while (*p && v) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(buf))
			return NULL;
		memcpy(buf, p, n);
		buf[n] = 0;
		v = json_object_get(v, buf);
		p += n + (p[n] == '.');
	}
	return json_is_object(v) ? v : NULL;
}

int
object_check_supported(const json_t *obj, const struct kind_info *k, korch_error **err)
{
	if (!json_is_object(obj) || !k)
		return 0;
	struct walk w = { .path = STRBUF_INIT };
	const char *tp = template_path(k);
	const json_t *tmpl = tp ? follow(obj, tp) : NULL;
	for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
		const struct refusal *r = &refusals[i];
		const json_t *root = NULL;
		strbuf_truncate(&w.path, 0);
		switch (r->scope) {
		case S_OBJECT:
			if (!streq(r->kind, k->kind))
				continue;
			root = obj;
			break;
		case S_POD_SPEC:
		case S_POD_META:
			if (!tmpl)
				continue;
			root = json_object_get(tmpl, r->scope == S_POD_SPEC ? "spec" : "metadata");
			if (!json_is_object(root))
				continue;
			break;
		}
		/* most fields are absent: look at the first step before building paths */
		char first[64];
		size_t n = strcspn(r->path, ".[");
		if (n >= sizeof(first))
			continue;
		memcpy(first, r->path, n);
		first[n] = 0;
		if (!json_object_get(root, first))
			continue;
		if (r->scope != S_OBJECT) {
			if (*tp) {
				strbuf_puts(&w.path, tp);
				strbuf_putc(&w.path, '.');
			}
			strbuf_puts(&w.path, r->scope == S_POD_SPEC ? "spec" : "metadata");
		}
		walk_path(&w, root, r->path, r);
	}
	int rc = 0;
	if (w.oom || w.path.oom) {
		rc = error_oom(err);
	} else if (w.causes) {
		/* the message lists the causes as an aggregate does */
		struct strbuf msg = STRBUF_INIT;
		size_t n = korch_error_cause_count(w.causes);
		if (n > 1)
			strbuf_putc(&msg, '[');
		for (size_t i = 0; i < n; i++)
			strbuf_printf(&msg, "%s%s: %s", i ? ", " : "",
				      korch_error_cause_field(w.causes, i),
				      korch_error_cause_message(w.causes, i));
		if (n > 1)
			strbuf_putc(&msg, ']');
		korch_error *e = NULL;
		if (msg.oom) {
			rc = error_oom(err);
		} else {
			error_set(&e, KORCH_EUNSUPPORTED, "%s", strbuf_str(&msg));
			for (size_t i = 0; i < n; i++)
				error_add_cause(&e, korch_error_cause_reason(w.causes, i),
						korch_error_cause_field(w.causes, i), "%s",
						korch_error_cause_message(w.causes, i));
			if (korch_error_code(e) != KORCH_EUNSUPPORTED ||
			    korch_error_cause_count(e) != n) {
				korch_error_free(e);
				rc = error_oom(err);
			} else {
				rc = KORCH_EUNSUPPORTED;
				if (err && !*err)
					*err = e;
				else
					korch_error_free(e);
			}
		}
		strbuf_free(&msg);
	}
	korch_error_free(w.causes);
	strbuf_free(&w.path);
	return rc;
}

bool
unsupported_field_at(size_t i, struct unsupported_field *ret)
{
	if (i >= ARRAY_SIZE(refusals))
		return false;
	const struct refusal *f = &refusals[i];
	static const char *const where[] = { "pod spec", "pod metadata" };
	static char when[128];
	switch (f->cond) {
	case C_SET: snprintf(when, sizeof(when), "set"); break;
	case C_EQ: snprintf(when, sizeof(when), "= %s", f->value); break;
	case C_NE: snprintf(when, sizeof(when), "other than %s", f->value); break;
	case C_PREFIX: snprintf(when, sizeof(when), "starting with %s", f->value); break;
	case C_KEY_PREFIX:
		snprintf(when, sizeof(when), "with a key starting with %s", f->value);
		break;
	}
	*ret = (struct unsupported_field){
		.where = f->scope == S_OBJECT ? f->kind : where[f->scope],
		.path = f->path,
		.when = when,
		.why = f->why,
	};
	return true;
}
