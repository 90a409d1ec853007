/*
 * validate-pod.c - pod specs as Kubernetes 1.32 validates them (ValidatePodSpec and what it
 * calls besides containers: volumes, security context, affinity, tolerations, DNS, topology
 * spread, host network), pod templates, the Pod-specific annotations, and the Pod kind's
 * create and update rules (ValidatePodCreate, ValidatePodUpdate).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "api/validate-internal.h"
#include "base/util.h"

#define MSG_FILE_MODE "must be a number between 0 and 0777 (octal), both inclusive"
#define MSG_MORE_THAN_ONE_VOLUME "may not specify more than 1 volume type"
#define MSG_SYSCTL_NAME                                     \
	"must have at most 253 characters and match regex " \
	"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"
#define MSG_RANGE_ID "must be between 0 and 2147483647, inclusive"

/* --- volumes ------------------------------------------------------------------------------- */

static void
validate_mode(struct vctx *c, const json_t *o, const char *key)
{
	int64_t m;
	if (jint(o, key, &m) && (m > 0777 || m < 0))
		v_invalid_int(c, key, m, MSG_FILE_MODE);
}

/* ValidateLocalNonReservedPath */
static void
validate_local_non_reserved_path(struct vctx *c, const char *child, const char *p)
{
	validate_local_descending_path(c, child, p);
	if (startswith(p, "..") && !startswith(p, "../"))
		v_invalid_str(c, child, p, "must not start with '..'");
}

/* validateKeyToPath at the current path (an items[i]). */
static void
validate_key_to_path(struct vctx *c, const json_t *kp)
{
	const char *path = jstr0(kp, "path");
	if (!*jstr0(kp, "key"))
		v_required(c, "key", "");
	if (!*path)
		v_required(c, "path", "");
	validate_local_non_reserved_path(c, "path", path);
	validate_mode(c, kp, "mode");
}

static void
validate_items(struct vctx *c, const json_t *src, json_t *all_paths, const char *dup_value,
	       size_t dup_path_len)
{
	size_t i;
	json_t *kp;
	json_array_foreach (jarr(src, "items"), i, kp) {
		size_t len = vp_field(c, "items");
		vp_index(c, i);
		validate_key_to_path(c, kp);
		vp_pop(c, len);
		const char *p = jstr0(kp, "path");
		if (all_paths && *p) {
			if (json_object_get(all_paths, p)) {
				char *rest = vp_detach(c, dup_path_len);
				v_invalid_str(c, NULL, dup_value, "conflicting duplicate paths");
				vp_attach(c, rest);
			} else {
				json_object_set_new(all_paths, p, json_true());
			}
		}
	}
}

/* validateDownwardAPIVolumeFile at the current path (the downwardAPI itself, no index). */
static void
validate_downward_file(struct vctx *c, const json_t *file)
{
	const char *path = jstr0(file, "path");
	if (!*path)
		v_required(c, "path", "");
	validate_local_non_reserved_path(c, "path", path);
	const json_t *fr = jobj(file, "fieldRef"), *rfr = jobj(file, "resourceFieldRef");
	if (fr) {
		size_t len = vp_field(c, "fieldRef");
		validate_object_field_ref(c, fr, true);
		vp_pop(c, len);
		if (rfr)
			v_invalid_str(
				c, NULL, "resource",
				"fieldRef and resourceFieldRef can not be specified simultaneously");
	} else if (rfr) {
		size_t len = vp_field(c, "resourceFieldRef");
		validate_resource_field_selector(c, rfr, true);
		vp_pop(c, len);
	} else {
		v_required(c, NULL, "one of fieldRef and resourceFieldRef is required");
	}
	validate_mode(c, file, "mode");
}

static void
validate_projected(struct vctx *c, const json_t *proj)
{
	validate_mode(c, proj, "defaultMode");
	size_t proj_len = c->path.len;
	json_t *paths = json_object();
	size_t i;
	json_t *src;
	json_array_foreach (jarr(proj, "sources"), i, src) {
		int n = 0;
		size_t len = vp_field(c, "sources");
		vp_index(c, i);
		static const char *const kinds[] = { "secret", "configMap" };
		for (size_t k = 0; k < 2; k++) {
			const json_t *s = jobj(src, kinds[k]);
			if (!s)
				continue;
			n++;
			size_t l2 = vp_field(c, kinds[k]);
			if (!*jstr0(s, "name"))
				v_required(c, "name", "");
			validate_items(c, s, paths, jstr0(s, "name"), proj_len);
			vp_pop(c, l2);
		}
		const json_t *d = jobj(src, "downwardAPI");
		if (d) {
			n++;
			size_t l2 = vp_field(c, "downwardAPI");
			size_t j;
			json_t *file;
			json_array_foreach (jarr(d, "items"), j, file) {
				validate_downward_file(c, file);
				const char *p = jstr0(file, "path");
				if (*p) {
					if (json_object_get(paths, p)) {
						char *rest = vp_detach(c, proj_len);
						v_invalid_str(c, NULL, p,
							      "conflicting duplicate paths");
						vp_attach(c, rest);
					} else {
						json_object_set_new(paths, p, json_true());
					}
				}
			}
			vp_pop(c, l2);
		}
		const json_t *sat = jobj(src, "serviceAccountToken");
		if (sat) {
			n++;
			int64_t exp;
			if (jint(sat, "expirationSeconds", &exp) ||
			    !jhas(sat, "expirationSeconds")) {
				if (!jhas(sat, "expirationSeconds"))
					exp = 0;
				if (exp < 600)
					v_invalid_int(
						c, "serviceAccountToken.expirationSeconds", exp,
						"may not specify a duration less than 10 minutes");
				if (exp > (int64_t)1 << 32)
					v_invalid_int(
						c, "serviceAccountToken.expirationSeconds", exp,
						"may not specify a duration larger than 2^32 seconds");
			}
			const char *p = jstr0(sat, "path");
			char *rest = vp_detach(c, proj_len);
			if (!*p)
				v_required(c, "path", "");
			else
				validate_local_non_reserved_path(c, "path", p);
			vp_attach(c, rest);
		}
		if (jobj(src, "clusterTrustBundle"))
			n++;
		if (n > 1)
			v_forbidden(c, NULL, MSG_MORE_THAN_ONE_VOLUME);
		vp_pop(c, len);
	}
	json_decref(paths);
}

/* ValidateTemplateObjectMeta: only labels and annotations may be set. */
static void
validate_template_object_meta(struct vctx *c, const json_t *meta)
{
	validate_annotation_map(c, "annotations", jget(meta, "annotations"));
	validate_label_map(c, "labels", jget(meta, "labels"));
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)meta, key, v) {
		if (streq(key, "labels") || streq(key, "annotations") || json_is_null(v))
			continue;
		/* zero values count as unset, as reflect.DeepEqual against the zero value does */
		if ((json_is_string(v) && !*json_string_value(v)) ||
		    (json_is_integer(v) && !json_integer_value(v)) ||
		    (json_is_array(v) && !jlen(v)) || (json_is_object(v) && !jlen(v)) ||
		    json_is_false(v))
			continue;
		v_forbidden(c, key, "cannot be set");
	}
}

/* The volume sources in the order validateVolumeSource checks them, and the path its
 * "more than 1 volume type" error names (two misspelt upstream, kept). */
static const struct {
	const char *field, *forbid_path;
} volume_sources[] = {
	{ "emptyDir", "emptyDir" },
	{ "hostPath", "hostPath" },
	{ "gitRepo", "gitRepo" },
	{ "gcePersistentDisk", "gcePersistentDisk" },
	{ "awsElasticBlockStore", "awsElasticBlockStore" },
	{ "secret", "secret" },
	{ "nfs", "nfs" },
	{ "iscsi", "iscsi" },
	{ "glusterfs", "glusterfs" },
	{ "flocker", "flocker" },
	{ "persistentVolumeClaim", "persistentVolumeClaim" },
	{ "rbd", "rbd" },
	{ "cinder", "cinder" },
	{ "cephfs", "cephFS" },
	{ "quobyte", "quobyte" },
	{ "downwardAPI", "downwarAPI" },
	{ "fc", "fc" },
	{ "flexVolume", "flexVolume" },
	{ "configMap", "configMap" },
	{ "azureFile", "azureFile" },
	{ "vsphereVolume", "vsphereVolume" },
	{ "photonPersistentDisk", "photonPersistentDisk" },
	{ "portworxVolume", "portworxVolume" },
	{ "azureDisk", "azureDisk" },
	{ "storageos", "storageos" },
	{ "projected", "projected" },
	{ "scaleIO", "scaleIO" },
	{ "csi", "csi" },
	{ "ephemeral", "ephemeral" },
	{ "image", "image" },
};

/* validateHostPathVolumeSource at the current path (a Pod's or a PersistentVolume's hostPath). */
void
validate_host_path_source(struct vctx *c, const json_t *src)
{
	const char *p = jstr0(src, "path");
	if (!*p) {
		v_required(c, "path", "");
		return;
	}
	validate_path_no_backsteps(c, "path", p);
	const char *type = jstr(src, "type");
	static const char *const types[] = {
		"",     "BlockDevice",  "CharDevice", "Directory", "DirectoryOrCreate",
		"File", "FileOrCreate", "Socket",     NULL
	};
	if (type && !str_in(type, types))
		v_not_supported_str(c, "type", type, types);
}

static void
validate_volume_source(struct vctx *c, const json_t *vol, const json_t *pod_meta)
{
	int n = 0;
	for (size_t s = 0; s < ARRAY_SIZE(volume_sources); s++) {
		const json_t *src = jobj(vol, volume_sources[s].field);
		if (!src)
			continue;
		if (n > 0) {
			v_forbidden(c, volume_sources[s].forbid_path, MSG_MORE_THAN_ONE_VOLUME);
			continue;
		}
		n++;
		const char *f = volume_sources[s].field;
		size_t len = vp_field(c, f);
		if (streq(f, "emptyDir")) {
			const json_t *sl = jget(src, "sizeLimit");
			struct quantity q;
			if (sl && quantity_from_json(sl, &q, NULL) == 0 && q.nano < 0)
				v_forbidden(c, "sizeLimit",
					    "SizeLimit field must be a valid resource quantity");
		} else if (streq(f, "hostPath")) {
			validate_host_path_source(c, src);
		} else if (streq(f, "secret") || streq(f, "configMap")) {
			const char *nk = streq(f, "secret") ? "secretName" : "name";
			if (!*jstr0(src, nk))
				v_required(c, nk, "");
			validate_mode(c, src, "defaultMode");
			validate_items(c, src, NULL, NULL, 0);
		} else if (streq(f, "persistentVolumeClaim")) {
			if (!*jstr0(src, "claimName"))
				v_required(c, "claimName", "");
		} else if (streq(f, "downwardAPI")) {
			validate_mode(c, src, "defaultMode");
			size_t i;
			json_t *file;
			json_array_foreach (jarr(src, "items"), i, file)
				validate_downward_file(c, file);
		} else if (streq(f, "projected")) {
			validate_projected(c, src);
		} else if (streq(f, "ephemeral")) {
			const json_t *tmpl = jobj(src, "volumeClaimTemplate");
			if (!tmpl) {
				v_required(c, "volumeClaimTemplate", "");
			} else {
				size_t l2 = vp_field(c, "volumeClaimTemplate");
				size_t l3 = vp_field(c, "metadata");
				validate_template_object_meta(c, jobj(tmpl, "metadata"));
				vp_pop(c, l3);
				vp_field(c, "spec");
				validate_pvc_spec(c, jobj(tmpl, "spec"));
				vp_pop(c, l2);
				const char *pod = jstr0(pod_meta, "name"),
					   *vname = jstr0(vol, "name");
				if (*pod && *vname) {
					char pvc[600];
					snprintf(pvc, sizeof(pvc), "%s-%s", pod, vname);
					struct name_problems p = { 0 };
					check_dns1123_subdomain(pvc, &p);
					vp_pop(c, len);
					for (size_t k = 0; k < p.n; k++)
						v_invalid_str(c, "name", vname,
							      "PVC name \"%s\": %s%s", pvc,
							      p.item[k].prefix, p.item[k].text);
					vp_field(c, f);
				}
			}
		}
		/* The other sources are refused by object_check_supported(); korch does not check
		 * their fields. */
		vp_pop(c, len);
	}
	if (n == 0)
		v_required(c, NULL, "must specify a volume type");
}

/* ValidateVolumes: returns the volumes that passed, by name (the caller frees). */
static json_t *
validate_volumes(struct vctx *c, const json_t *volumes, const json_t *pod_meta)
{
	json_t *vols = json_object(), *created = json_object();
	const char *pod = jstr0(pod_meta, "name");
	size_t i;
	json_t *vol;
	if (*pod) {
		json_array_foreach ((json_t *)volumes, i, vol) {
			if (jobj(vol, "ephemeral")) {
				char n[600];
				snprintf(n, sizeof(n), "%s-%s", pod, jstr0(vol, "name"));
				json_object_set_new(created, n, json_true());
			}
		}
	}
	size_t len = vp_field(c, "volumes");
	json_array_foreach ((json_t *)volumes, i, vol) {
		size_t l2 = vp_index(c, i);
		size_t before = c->n_causes;
		validate_volume_source(c, vol, pod_meta);
		const char *name = jstr0(vol, "name");
		if (!*name) {
			v_required(c, "name", "");
		} else {
			struct name_problems p = { 0 };
			check_dns1123_label(name, &p);
			v_problems(c, "name", name, &p);
		}
		if (json_object_get(vols, name))
			v_duplicate_str(c, "name", name);
		if (c->n_causes == before)
			json_object_set(vols, name, vol);
		const json_t *pvc = jobj(vol, "persistentVolumeClaim");
		const char *claim = jstr0(pvc, "claimName");
		if (pvc && json_object_get(created, claim))
			v_invalid_str(
				c, "persistentVolumeClaim.claimName", claim,
				"must not reference a PVC that gets created for an ephemeral volume");
		vp_pop(c, l2);
	}
	vp_pop(c, len);
	json_decref(created);
	return vols;
}

/* --- scheduling: node selectors, affinity, tolerations ------------------------------------- */

void
validate_label_name(struct vctx *c, const char *child, const char *key)
{
	struct name_problems p = { 0 };
	check_qualified_name(key, &p);
	v_problems(c, child, key, &p);
}

/* ValidateNodeSelectorTerm at the current path. */
static void
validate_node_selector_term(struct vctx *c, const json_t *term)
{
	size_t j;
	json_t *rq;
	json_array_foreach (jarr(term, "matchExpressions"), j, rq) {
		size_t len = vp_field(c, "matchExpressions");
		vp_index(c, j);
		const char *op = jstr0(rq, "operator");
		size_t nv = jlen(jarr(rq, "values"));
		if (streq(op, "In") || streq(op, "NotIn")) {
			if (nv == 0)
				v_required(c, "values",
					   "must be specified when `operator` is 'In' or 'NotIn'");
		} else if (streq(op, "Exists") || streq(op, "DoesNotExist")) {
			if (nv > 0)
				v_forbidden(
					c, "values",
					"may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
		} else if (streq(op, "Gt") || streq(op, "Lt")) {
			if (nv != 1)
				v_required(
					c, "values",
					"must be specified single value when `operator` is 'Lt' or 'Gt'");
		} else {
			v_invalid_str(c, "operator", op, "not a valid selector operator");
		}
		validate_label_name(c, "key", jstr0(rq, "key"));
		vp_pop(c, len);
	}
	json_array_foreach (jarr(term, "matchFields"), j, rq) {
		size_t len = vp_field(c, "matchFields");
		vp_index(c, j);
		const char *op = jstr0(rq, "operator");
		if (streq(op, "In") || streq(op, "NotIn")) {
			if (jlen(jarr(rq, "values")) != 1)
				v_required(
					c, "values",
					"must be only one value when `operator` is 'In' or 'NotIn' for node field selector");
		} else {
			v_invalid_str(c, "operator", op, "not a valid selector operator");
		}
		const char *key = jstr0(rq, "key");
		if (!streq(key, "metadata.name")) {
			v_invalid_str(c, "key", key, "not a valid field selector key");
		} else {
			size_t k;
			json_t *v;
			json_array_foreach (jarr(rq, "values"), k, v) {
				const char *s = json_is_string(v) ? json_string_value(v) : "";
				struct name_problems p = { 0 };
				check_dns1123_subdomain(s, &p);
				size_t l2 = vp_field(c, "values");
				vp_index(c, k);
				v_problems(c, NULL, s, &p);
				vp_pop(c, l2);
			}
		}
		vp_pop(c, len);
	}
}

void
validate_node_selector(struct vctx *c, const json_t *ns)
{
	const json_t *terms = jarr(ns, "nodeSelectorTerms");
	size_t len = vp_field(c, "nodeSelectorTerms");
	if (!jlen(terms))
		v_required(c, NULL, "must have at least one node selector term");
	size_t i;
	json_t *t;
	json_array_foreach ((json_t *)terms, i, t) {
		size_t l2 = vp_index(c, i);
		validate_node_selector_term(c, t);
		vp_pop(c, l2);
	}
	vp_pop(c, len);
}

static void
validate_label_keys(struct vctx *c, const char *field, const json_t *keys, const json_t *sel)
{
	if (!jlen(keys))
		return;
	size_t len = vp_field(c, field);
	if (!sel) {
		v_forbidden(c, NULL, "must not be specified when labelSelector is not set");
	} else {
		size_t i;
		json_t *k;
		json_array_foreach ((json_t *)keys, i, k) {
			size_t l2 = vp_index(c, i);
			validate_label_name(c, NULL, json_is_string(k) ? json_string_value(k) : "");
			vp_pop(c, l2);
		}
	}
	vp_pop(c, len);
}

static bool
array_has_str(const json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach ((json_t *)a, i, v)
		if (json_is_string(v) && streq(json_string_value(v), s))
			return true;
	return false;
}

/* validatePodAffinityTerm at the current path. */
static void
validate_pod_affinity_term(struct vctx *c, const json_t *term)
{
	const json_t *sel = jobj(term, "labelSelector");
	v_label_selector(c, "labelSelector", sel);
	v_label_selector(c, "namespaceSelector", jobj(term, "namespaceSelector"));
	size_t i;
	json_t *ns;
	json_array_foreach (jarr(term, "namespaces"), i, ns) {
		const char *s = json_is_string(ns) ? json_string_value(ns) : "";
		struct name_problems p = { 0 };
		check_dns1123_label(s, &p);
		v_problems(c, "namespace", s, &p);
	}
	const json_t *mk = jarr(term, "matchLabelKeys"), *mmk = jarr(term, "mismatchLabelKeys");
	validate_label_keys(c, "matchLabelKeys", mk, sel);
	validate_label_keys(c, "mismatchLabelKeys", mmk, sel);
	if (sel) {
		json_t *sel_keys = json_object();
		const char *k;
		json_t *unused;
		json_object_foreach (jobj(sel, "matchLabels"), k, unused)
			json_object_set_new(sel_keys, k, json_true());
		json_t *e;
		json_array_foreach (jarr(sel, "matchExpressions"), i, e) {
			const char *key = jstr0(e, "key");
			size_t idx = SIZE_MAX, j;
			json_t *v;
			json_array_foreach ((json_t *)mk, j, v)
				if (json_is_string(v) && streq(json_string_value(v), key))
					idx = j;
			if (idx != SIZE_MAX && json_object_get(sel_keys, key)) {
				size_t l2 = vp_index(c, idx);
				v_invalid_str(c, NULL, key,
					      "exists in both matchLabelKeys and labelSelector");
				vp_pop(c, l2);
			}
			json_object_set_new(sel_keys, key, json_true());
		}
		json_decref(sel_keys);
	}
	json_t *v;
	json_array_foreach ((json_t *)mk, i, v) {
		if (json_is_string(v) && array_has_str(mmk, json_string_value(v))) {
			size_t l2 = vp_field(c, "matchLabelKeys");
			vp_index(c, i);
			v_invalid_str(c, NULL, json_string_value(v),
				      "exists in both matchLabelKeys and mismatchLabelKeys");
			vp_pop(c, l2);
		}
	}
	const char *tk = jstr0(term, "topologyKey");
	if (!*tk)
		v_required(c, "topologyKey", "can not be empty");
	validate_label_name(c, "topologyKey", tk);
}

static void
validate_pod_affinity(struct vctx *c, const json_t *pa)
{
	size_t i;
	json_t *t;
	json_array_foreach (jarr(pa, "requiredDuringSchedulingIgnoredDuringExecution"), i, t) {
		size_t len = vp_field(c, "requiredDuringSchedulingIgnoredDuringExecution");
		vp_index(c, i);
		validate_pod_affinity_term(c, t);
		vp_pop(c, len);
	}
	json_array_foreach (jarr(pa, "preferredDuringSchedulingIgnoredDuringExecution"), i, t) {
		size_t len = vp_field(c, "preferredDuringSchedulingIgnoredDuringExecution");
		vp_index(c, i);
		int64_t w = jint0(t, "weight");
		if (w <= 0 || w > 100)
			v_invalid_int(c, "weight", w, "must be in the range 1-100");
		vp_field(c, "podAffinityTerm");
		validate_pod_affinity_term(c, jobj(t, "podAffinityTerm"));
		vp_pop(c, len);
	}
}

static void
validate_affinity(struct vctx *c, const json_t *aff)
{
	if (!aff)
		return;
	size_t len = vp_field(c, "affinity");
	const json_t *na = jobj(aff, "nodeAffinity");
	if (na) {
		size_t l2 = vp_field(c, "nodeAffinity");
		const json_t *req = jobj(na, "requiredDuringSchedulingIgnoredDuringExecution");
		if (req) {
			size_t l3 = vp_field(c, "requiredDuringSchedulingIgnoredDuringExecution");
			validate_node_selector(c, req);
			vp_pop(c, l3);
		}
		size_t i;
		json_t *t;
		json_array_foreach (jarr(na, "preferredDuringSchedulingIgnoredDuringExecution"), i,
				    t) {
			size_t l3 = vp_field(c, "preferredDuringSchedulingIgnoredDuringExecution");
			vp_index(c, i);
			int64_t w = jint0(t, "weight");
			if (w <= 0 || w > 100)
				v_invalid_int(c, "weight", w, "must be in the range 1-100");
			vp_field(c, "preference");
			validate_node_selector_term(c, jobj(t, "preference"));
			vp_pop(c, l3);
		}
		vp_pop(c, l2);
	}
	static const char *const kinds[] = { "podAffinity", "podAntiAffinity" };
	for (size_t k = 0; k < 2; k++) {
		const json_t *pa = jobj(aff, kinds[k]);
		if (!pa)
			continue;
		size_t l2 = vp_field(c, kinds[k]);
		validate_pod_affinity(c, pa);
		vp_pop(c, l2);
	}
	vp_pop(c, len);
}

/* validateTaintEffect at current path + child. */
static void
validate_taint_effect(struct vctx *c, const char *child, const char *effect, bool allow_empty)
{
	if (!allow_empty && !*effect) {
		v_required(c, child, "");
		return;
	}
	static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute",
					       NULL };
	if (!str_in(effect, effects))
		v_not_supported_str(c, child, effect, effects);
}

/* ValidateTolerations at the current path (the list). */
/*
 * core.Toleration printed with %#v; a set tolerationSeconds is printed as its value where Go
 * prints the pointer's address.
 */
static void
put_toleration(struct strbuf *sb, const json_t *t)
{
	static const char *const fields[][2] = { { "Key", "key" },
						 { "Operator", "operator" },
						 { "Value", "value" },
						 { "Effect", "effect" } };
	strbuf_puts(sb, "core.Toleration{");
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *v = jstr0(t, fields[i][1]);
		strbuf_printf(sb, "%s:", fields[i][0]);
		strbuf_put_go_quoted(sb, v, strlen(v));
		strbuf_puts(sb, ", ");
	}
	int64_t secs;
	if (jint(t, "tolerationSeconds", &secs))
		strbuf_printf(sb, "TolerationSeconds:(*int64)(%lld)}", (long long)secs);
	else
		strbuf_puts(sb, "TolerationSeconds:(*int64)(nil)}");
}

void
validate_tolerations(struct vctx *c, const json_t *tolerations)
{
	size_t i;
	json_t *t;
	json_array_foreach ((json_t *)tolerations, i, t) {
		size_t len = vp_index(c, i);
		const char *key = jstr0(t, "key"), *op = jstr0(t, "operator");
		const char *effect = jstr0(t, "effect"), *value = jstr0(t, "value");
		if (*key)
			validate_label_name(c, "key", key);
		if (!*key && !streq(op, "Exists"))
			v_invalid_str(
				c, "operator", op,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
		if (jhas(t, "tolerationSeconds") && !streq(effect, "NoExecute"))
			v_invalid_str(c, "effect", effect,
				      "effect must be 'NoExecute' when `tolerationSeconds` is set");
		if (streq(op, "Equal") || !*op) {
			struct name_problems p = { 0 };
			check_label_value(value, &p);
			if (p.n) {
				_cleanup_free_ char *joined = name_problems_join(&p, ";");
				v_invalid_str(c, "operator", value, "%s", joined ? joined : "");
			}
		} else if (streq(op, "Exists")) {
			if (*value)
				v_invalid_go(c, "operator", put_toleration, t,
					     "value must be empty when `operator` is 'Exists'");
		} else {
			v_not_supported_str(c, "operator", op, STRS("Equal", "Exists"));
		}
		if (*effect)
			validate_taint_effect(c, "effect", effect, true);
		vp_pop(c, len);
	}
}

/* --- the pod's security context ------------------------------------------------------------ */

/* utilsysctl.GetNamespace: the namespace a sysctl belongs to ("net", "ipc" or ""). */
static const char *
sysctl_namespace(const char *name)
{
	char buf[300];
	snprintf(buf, sizeof(buf), "%s", name);
	for (char *s = buf; *s; s++)
		if (*s == '/')
			*s = '.';
	if (startswith(buf, "net."))
		return "net";
	if (startswith(buf, "kernel.shm") || startswith(buf, "kernel.msg") ||
	    streq(buf, "kernel.sem") || startswith(buf, "fs.mqueue."))
		return "ipc";
	return "";
}

/* The sysctl name regex, segment by segment. */
static bool
is_sysctl_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 253)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && name[i] != '.' && name[i] != '/')
			continue;
		size_t len = i - start;
		if (len == 0)
			return false;
		const char *s = name + start;
		for (size_t k = 0; k < len; k++) {
			char ch = s[k];
			bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
			if (!alnum && !((ch == '-' || ch == '_') && k > 0 && k + 1 < len))
				return false;
		}
		start = i + 1;
	}
	return true;
}

static void
validate_pod_security_context(struct vctx *c, const json_t *spec)
{
	const json_t *sc = jobj(spec, "securityContext");
	if (!sc)
		return;
	size_t len = vp_field(c, "securityContext");
	int64_t id;
	if (jint(sc, "fsGroup", &id) && (id < 0 || id > INT32_MAX))
		v_invalid_int(c, "fsGroup", id, MSG_RANGE_ID);
	if (jint(sc, "runAsUser", &id) && (id < 0 || id > INT32_MAX))
		v_invalid_int(c, "runAsUser", id, MSG_RANGE_ID);
	if (jint(sc, "runAsGroup", &id) && (id < 0 || id > INT32_MAX))
		v_invalid_int(c, "runAsGroup", id, MSG_RANGE_ID);
	size_t i;
	json_t *g;
	json_array_foreach (jarr(sc, "supplementalGroups"), i, g) {
		id = json_is_integer(g) ? json_integer_value(g) : 0;
		if (id < 0 || id > INT32_MAX) {
			size_t l2 = vp_field(c, "supplementalGroups");
			vp_index(c, i);
			v_invalid_int(c, NULL, id, MSG_RANGE_ID);
			vp_pop(c, l2);
		}
	}
	if (jbool(spec, "shareProcessNamespace") && jbool(spec, "hostPID"))
		v_invalid_val(c, "shareProcessNamespace", "true",
			      "ShareProcessNamespace and HostPID cannot both be enabled");
	json_t *names = json_object();
	json_t *s;
	json_array_foreach (jarr(sc, "sysctls"), i, s) {
		size_t l2 = vp_field(c, "sysctls");
		vp_index(c, i);
		const char *name = jstr0(s, "name");
		if (!*name)
			v_required(c, "name", "");
		else if (!is_sysctl_name(name))
			v_invalid_str(c, "name", name, MSG_SYSCTL_NAME);
		else if (json_object_get(names, name))
			v_duplicate_str(c, "name", name);
		const char *ns = sysctl_namespace(name);
		if (jbool(spec, "hostNetwork") && streq(ns, "net"))
			v_invalid_str(c, "name", name,
				      "may not be specified when 'hostNetwork' is true");
		else if (jbool(spec, "hostIPC") && streq(ns, "ipc"))
			v_invalid_str(c, "name", name,
				      "may not be specified when 'hostIPC' is true");
		json_object_set_new(names, name, json_true());
		vp_pop(c, l2);
	}
	json_decref(names);
	const char *fgp = jstr(sc, "fsGroupChangePolicy");
	if (fgp && !str_in(fgp, STRS("Always", "OnRootMismatch")))
		v_not_supported_str(c, "fsGroupChangePolicy", fgp,
				    STRS("Always", "OnRootMismatch"));
	validate_seccomp_profile(c, jobj(sc, "seccompProfile"));
	validate_apparmor_profile(c, jobj(sc, "appArmorProfile"));
	const char *sgp = jstr(sc, "supplementalGroupsPolicy");
	if (sgp && !str_in(sgp, STRS("Merge", "Strict")))
		v_not_supported_str(c, "supplementalGroupsPolicy", sgp, STRS("Merge", "Strict"));
	const char *scp = jstr(sc, "seLinuxChangePolicy");
	if (scp && !str_in(scp, STRS("MountOption", "Recursive")))
		v_not_supported_str(c, "seLinuxChangePolicy", scp,
				    STRS("MountOption", "Recursive"));
	vp_pop(c, len);
}

/* --- DNS, gates, topology spread ----------------------------------------------------------- */

static void
validate_dns_config(struct vctx *c, const json_t *spec)
{
	const json_t *cfg = jobj(spec, "dnsConfig");
	size_t len = vp_field(c, "dnsConfig");
	if (streq(jstr0(spec, "dnsPolicy"), "None")) {
		if (!cfg) {
			v_required(c, NULL, "must provide `dnsConfig` when `dnsPolicy` is None");
			vp_pop(c, len);
			return;
		}
		if (!jlen(jarr(cfg, "nameservers"))) {
			v_required(
				c, "nameservers",
				"must provide at least one DNS nameserver when `dnsPolicy` is None");
			vp_pop(c, len);
			return;
		}
	}
	if (cfg) {
		const json_t *ns = jarr(cfg, "nameservers"), *searches = jarr(cfg, "searches");
		if (jlen(ns) > 3)
			v_invalid_go(c, "nameservers", go_put_str_slice, ns,
				     "must not have more than 3 nameservers");
		size_t i;
		json_t *v;
		json_array_foreach ((json_t *)ns, i, v) {
			size_t l2 = vp_field(c, "nameservers");
			vp_index(c, i);
			v_valid_ip(c, NULL, json_is_string(v) ? json_string_value(v) : "");
			vp_pop(c, l2);
		}
		if (jlen(searches) > 32)
			v_invalid_go(c, "searches", go_put_str_slice, searches,
				     "must not have more than 32 search paths");
		size_t total = 0;
		json_array_foreach ((json_t *)searches, i, v)
			total += (i ? 1 : 0) + (json_is_string(v) ? json_string_length(v) : 0);
		if (total > 2048)
			v_invalid_go(
				c, "searches", go_put_str_slice, searches,
				"must not have more than 2048 characters (including spaces) in the search list");
		json_array_foreach ((json_t *)searches, i, v) {
			char buf[2100];
			snprintf(buf, sizeof(buf), "%s",
				 json_is_string(v) ? json_string_value(v) : "");
			size_t n = strlen(buf);
			if (n && buf[n - 1] == '.')
				buf[n - 1] = '\0';
			struct name_problems p = { 0 };
			check_dns1123_subdomain(buf, &p);
			size_t l2 = vp_field(c, "searches");
			vp_index(c, i);
			v_problems(c, NULL, buf, &p);
			vp_pop(c, l2);
		}
		json_array_foreach (jarr(cfg, "options"), i, v) {
			if (!*jstr0(v, "name")) {
				size_t l2 = vp_field(c, "options");
				vp_index(c, i);
				v_required(c, NULL, "must not be empty");
				vp_pop(c, l2);
			}
		}
	}
	vp_pop(c, len);
}

static void
validate_topology_spread(struct vctx *c, const json_t *list)
{
	size_t i;
	json_t *t;
	json_array_foreach ((json_t *)list, i, t) {
		size_t len = vp_field(c, "topologySpreadConstraints");
		vp_index(c, i);
		int64_t skew = jint0(t, "maxSkew");
		if (skew <= 0)
			v_invalid_int(c, "maxSkew", skew, "must be greater than zero");
		const char *key = jstr0(t, "topologyKey"), *when = jstr0(t, "whenUnsatisfiable");
		if (!*key)
			v_required(c, "topologyKey", "can not be empty");
		if (!str_in(when, STRS("DoNotSchedule", "ScheduleAnyway")))
			v_not_supported_str(c, "whenUnsatisfiable", when,
					    STRS("DoNotSchedule", "ScheduleAnyway"));
		for (size_t j = i + 1; j < json_array_size(list); j++) {
			const json_t *o = json_array_get(list, j);
			if (streq(jstr0(o, "topologyKey"), key) &&
			    streq(jstr0(o, "whenUnsatisfiable"), when)) {
				char v[600];
				snprintf(v, sizeof(v), "{%s, %s}", key, when);
				v_duplicate_str(c, "{topologyKey, whenUnsatisfiable}", v);
				break;
			}
		}
		int64_t md;
		if (jint(t, "minDomains", &md)) {
			if (md <= 0)
				v_invalid_int(c, "minDomains", md, "must be greater than zero");
			if (!streq(when, "DoNotSchedule"))
				v_invalid_int(
					c, "minDomains", md,
					"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not %s",
					when);
		}
		static const char *const pol[] = { "nodeAffinityPolicy", "nodeTaintsPolicy" };
		for (size_t k = 0; k < 2; k++) {
			const char *v = jstr(t, pol[k]);
			if (v && !str_in(v, STRS("Honor", "Ignore")))
				v_not_supported_str(c, pol[k], v, STRS("Honor", "Ignore"));
		}
		const json_t *mk = jarr(t, "matchLabelKeys"), *sel = jobj(t, "labelSelector");
		if (jlen(mk)) {
			size_t l2 = vp_field(c, "matchLabelKeys");
			if (!sel)
				v_forbidden(c, NULL,
					    "must not be specified when labelSelector is not set");
			size_t k;
			json_t *v;
			json_array_foreach ((json_t *)mk, k, v) {
				const char *s = json_is_string(v) ? json_string_value(v) : "";
				size_t l3 = vp_index(c, k);
				validate_label_name(c, NULL, s);
				bool in_sel = jget(jobj(sel, "matchLabels"), s) != NULL;
				size_t e;
				json_t *expr;
				json_array_foreach (jarr(sel, "matchExpressions"), e, expr)
					in_sel |= streq(jstr0(expr, "key"), s);
				if (in_sel)
					v_invalid_str(
						c, NULL, s,
						"exists in both matchLabelKeys and labelSelector");
				vp_pop(c, l3);
			}
			vp_pop(c, l2);
		}
		v_label_selector(c, "labelSelector", sel);
		vp_pop(c, len);
	}
}

/* --- the pod spec -------------------------------------------------------------------------- */

static void
validate_subdomain_field(struct vctx *c, const json_t *spec, const char *key)
{
	const char *v = jstr0(spec, key);
	if (*v) {
		struct name_problems p = { 0 };
		check_dns1123_subdomain(v, &p);
		v_problems(c, key, v, &p);
	}
}

static void
validate_label_field(struct vctx *c, const json_t *spec, const char *key)
{
	const char *v = jstr0(spec, key);
	if (*v) {
		struct name_problems p = { 0 };
		check_dns1123_label(v, &p);
		v_problems(c, key, v, &p);
	}
}

/* ValidatePodSpec at the current path (a pod's spec, or a template's). */
void
validate_pod_spec(struct vctx *c, const json_t *spec, const struct pod_opts *o)
{
	if (!jhas(spec, "terminationGracePeriodSeconds"))
		v_required(c, "terminationGracePeriodSeconds", "");
	json_t *vols = validate_volumes(c, jarr(spec, "volumes"), o->pod_meta);

	size_t i;
	json_t *rc;
	json_t *claim_names = json_object();
	json_array_foreach (jarr(spec, "resourceClaims"), i, rc) {
		size_t len = vp_field(c, "resourceClaims");
		vp_index(c, i);
		const char *name = jstr0(rc, "name");
		if (!*name) {
			v_required(c, "name", "");
		} else if (json_object_get(claim_names, name)) {
			v_duplicate_str(c, "name", name);
		} else {
			struct name_problems p = { 0 };
			check_dns1123_label(name, &p);
			v_problems(c, "name", name, &p);
			json_object_set_new(claim_names, name, json_true());
		}
		const char *rcn = jstr(rc, "resourceClaimName"),
			   *rctn = jstr(rc, "resourceClaimTemplateName");
		if (rcn && rctn)
			v_invalid_go(
				c, NULL, go_put_json, rc,
				"at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified");
		if (!rcn && !rctn)
			v_invalid_go(
				c, NULL, go_put_json, rc,
				"must specify one of: `resourceClaimName`, `resourceClaimTemplateName`");
		if (rcn) {
			struct name_problems p = { 0 };
			check_dns1123_subdomain(rcn, &p);
			v_problems(c, "resourceClaimName", rcn, &p);
		}
		if (rctn) {
			struct name_problems p = { 0 };
			check_dns1123_subdomain(rctn, &p);
			v_problems(c, "resourceClaimTemplateName", rctn, &p);
		}
		vp_pop(c, len);
	}
	json_decref(claim_names);

	validate_containers(c, spec, vols);
	json_decref(vols);

	/* validatePodHostNetworkDeps */
	if (jbool(spec, "hostNetwork")) {
		json_t *ctr;
		json_array_foreach (jarr(spec, "containers"), i, ctr) {
			size_t k;
			json_t *port;
			json_array_foreach (jarr(ctr, "ports"), k, port) {
				int64_t hp = jint0(port, "hostPort"),
					cp = jint0(port, "containerPort");
				if ((o->is_pod || hp != 0) && hp != cp) {
					size_t len = vp_field(c, "containers");
					vp_index(c, i);
					vp_field(c, "ports");
					vp_index(c, k);
					v_invalid_int(
						c, "hostPort", hp,
						"must match `containerPort` when `hostNetwork` is true");
					vp_pop(c, len);
				}
			}
		}
	}

	const char *rp = jstr0(spec, "restartPolicy");
	if (!*rp)
		v_required(c, "restartPolicy", "");
	else if (!str_in(rp, STRS("Always", "OnFailure", "Never")))
		v_not_supported_str(c, "restartPolicy", rp, STRS("Always", "OnFailure", "Never"));
	const char *dp = jstr0(spec, "dnsPolicy");
	static const char *const dns_policies[] = { "ClusterFirstWithHostNet", "ClusterFirst",
						    "Default", "None", NULL };
	if (!*dp)
		v_required(c, "dnsPolicy", "");
	else if (!str_in(dp, dns_policies))
		v_not_supported_str(c, "dnsPolicy", dp, dns_policies);
	validate_label_map(c, "nodeSelector", jget(spec, "nodeSelector"));
	validate_pod_security_context(c, spec);
	validate_affinity(c, jobj(spec, "affinity"));
	validate_dns_config(c, spec);
	json_t *g;
	json_array_foreach (jarr(spec, "readinessGates"), i, g) {
		size_t len = vp_field(c, "readinessGates");
		vp_index(c, i);
		validate_label_name(c, "conditionType", jstr0(g, "conditionType"));
		vp_pop(c, len);
	}
	json_t *seen = json_object();
	json_array_foreach (jarr(spec, "schedulingGates"), i, g) {
		size_t len = vp_field(c, "schedulingGates");
		vp_index(c, i);
		const char *name = jstr0(g, "name");
		validate_label_name(c, NULL, name);
		if (json_object_get(seen, name))
			v_duplicate_str(c, NULL, name);
		json_object_set_new(seen, name, json_true());
		vp_pop(c, len);
	}
	json_decref(seen);
	validate_topology_spread(c, jarr(spec, "topologySpreadConstraints"));
	if (json_is_false(jget(spec, "hostUsers"))) {
		if (jbool(spec, "hostNetwork"))
			v_forbidden(c, "hostNetwork", "when `pod.Spec.HostUsers` is false");
		if (jbool(spec, "hostPID"))
			v_forbidden(c, "HostPID", "when `pod.Spec.HostUsers` is false");
		if (jbool(spec, "hostIPC"))
			v_forbidden(c, "HostIPC", "when `pod.Spec.HostUsers` is false");
	}
	validate_subdomain_field(c, spec, "serviceAccountName");
	validate_subdomain_field(c, spec, "nodeName");
	int64_t ads;
	if (jint(spec, "activeDeadlineSeconds", &ads) && (ads < 1 || ads > INT32_MAX))
		v_invalid_int(c, "activeDeadlineSeconds", ads,
			      "must be between 1 and 2147483647, inclusive");
	validate_label_field(c, spec, "hostname");
	validate_label_field(c, spec, "subdomain");
	if (jlen(jarr(spec, "tolerations"))) {
		size_t len = vp_field(c, "tolerations");
		validate_tolerations(c, jarr(spec, "tolerations"));
		vp_pop(c, len);
	}
	json_t *ha;
	json_array_foreach (jarr(spec, "hostAliases"), i, ha) {
		size_t len = vp_field(c, "hostAliases");
		vp_index(c, i);
		v_valid_ip(c, "ip", jstr0(ha, "ip"));
		size_t k;
		json_t *h;
		json_array_foreach (jarr(ha, "hostnames"), k, h) {
			const char *s = json_is_string(h) ? json_string_value(h) : "";
			struct name_problems p = { 0 };
			check_dns1123_subdomain(s, &p);
			size_t l2 = vp_field(c, "hostnames");
			vp_index(c, k);
			v_problems(c, NULL, s, &p);
			vp_pop(c, l2);
		}
		vp_pop(c, len);
	}
	validate_subdomain_field(c, spec, "priorityClassName");
	const char *rcn = jstr(spec, "runtimeClassName");
	if (rcn) {
		struct name_problems p = { 0 };
		check_dns1123_subdomain(rcn, &p);
		v_problems(c, "runtimeClassName", rcn, &p);
	}
	const char *pp = jstr(spec, "preemptionPolicy");
	if (pp) {
		if (!*pp)
			v_required(c, "preemptionPolicy", "");
		else if (!str_in(pp, STRS("PreemptLowerPriority", "Never")))
			v_not_supported_str(c, "preemptionPolicy", pp,
					    STRS("PreemptLowerPriority", "Never"));
	}
	const json_t *overhead = jobj(spec, "overhead");
	if (overhead) {
		json_t *res = json_pack("{sO}", "limits", overhead);
		size_t len = vp_field(c, "overhead");
		validate_resource_requirements(c, res, NULL);
		vp_pop(c, len);
		json_decref(res);
	}
	const json_t *os = jobj(spec, "os");
	if (os) {
		const char *name = jstr0(os, "name");
		if (!*name) {
			v_required(c, "os.name", "cannot be empty");
		} else if (!str_in(name, STRS("linux", "windows"))) {
			v_not_supported_str(c, "os", name, STRS("linux", "windows"));
		} else if (streq(name, "linux")) {
			if (jobj(jobj(spec, "securityContext"), "windowsOptions"))
				v_forbidden(c, "securityContext.windowsOptions",
					    "windows options cannot be set for a linux pod");
			static const char *const lists[] = { "initContainers", "containers",
							     "ephemeralContainers" };
			for (size_t l = 0; l < 3; l++) {
				json_t *ctr;
				json_array_foreach (jarr(spec, lists[l]), i, ctr) {
					if (!jobj(jobj(ctr, "securityContext"), "windowsOptions"))
						continue;
					size_t len = vp_field(c, lists[l]);
					vp_index(c, i);
					v_forbidden(
						c, "securityContext.windowsOptions",
						"windows options cannot be set for a linux pod");
					vp_pop(c, len);
				}
			}
		}
	}
}

/* --- annotations --------------------------------------------------------------------------- */

#define APPARMOR_PREFIX "container.apparmor.security.beta.kubernetes.io/"
#define SECCOMP_POD "seccomp.security.alpha.kubernetes.io/pod"
#define SECCOMP_CONTAINER_PREFIX "container.seccomp.security.alpha.kubernetes.io/"

static void
validate_seccomp_annotation(struct vctx *c, const char *child, const char *p)
{
	if (streq(p, "runtime/default") || streq(p, "docker/default") || streq(p, "unconfined"))
		return;
	if (startswith(p, "localhost/")) {
		validate_local_descending_path(c, child, p + strlen("localhost/"));
		return;
	}
	v_invalid_str(c, child, p, "must be a valid seccomp profile");
}

static bool
spec_has_container(const json_t *spec, const char *name)
{
	static const char *const lists[] = { "initContainers", "containers",
					     "ephemeralContainers" };
	for (size_t l = 0; l < 3; l++) {
		size_t i;
		json_t *ctr;
		json_array_foreach (jarr(spec, lists[l]), i, ctr)
			if (streq(jstr0(ctr, "name"), name))
				return true;
	}
	return false;
}

/* Go's strconv.ParseInt(s, 10, 32) after deletion-cost's own first-digit rule. */
static bool
is_deletion_cost(const char *s)
{
	if (!*s || !(s[0] == '-' || streq(s, "0") || (s[0] >= '1' && s[0] <= '9')))
		return false;
	int64_t v;
	return parse_int64(s, &v) == 0 && v >= INT32_MIN && v <= INT32_MAX;
}

/* ValidatePodSpecificAnnotations at the current path (the annotations). */
void
validate_pod_annotations(struct vctx *c, const json_t *annotations, const json_t *spec)
{
	const char *mirror = jstr(annotations, "kubernetes.io/config.mirror");
	if (mirror && !*jstr0(spec, "nodeName"))
		v_invalid_str(c, "[kubernetes.io/config.mirror]", mirror,
			      "must set spec.nodeName if mirror pod annotation is set");
	const char *tol = jstr(annotations, "scheduler.alpha.kubernetes.io/tolerations");
	if (tol && *tol) {
		json_error_t je;
		json_t *t = json_loads(tol, 0, &je);
		if (!json_is_array(t)) {
			v_invalid_str(
				c, NULL, "scheduler.alpha.kubernetes.io/tolerations", "%s",
				t ? "json: cannot unmarshal into Go value of type []core.Toleration"
				  : je.text);
		} else if (json_array_size(t)) {
			size_t len = vp_field(c, "scheduler.alpha.kubernetes.io/tolerations");
			validate_tolerations(c, t);
			vp_pop(c, len);
		}
		json_decref(t);
	}
	const char *cost = jstr(annotations, "controller.kubernetes.io/pod-deletion-cost");
	if (cost && !is_deletion_cost(cost))
		v_invalid_str(c, "[controller.kubernetes.io/pod-deletion-cost]", cost,
			      "must be a 32bit integer");
	const char *sp = jstr(annotations, SECCOMP_POD);
	if (sp)
		validate_seccomp_annotation(c, SECCOMP_POD, sp);
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)annotations, key, v) {
		if (json_is_string(v) && startswith(key, SECCOMP_CONTAINER_PREFIX))
			validate_seccomp_annotation(c, key, json_string_value(v));
	}
	json_object_foreach ((json_t *)annotations, key, v) {
		if (!json_is_string(v) || !startswith(key, APPARMOR_PREFIX))
			continue;
		const char *ctr = key + strlen(APPARMOR_PREFIX), *p = json_string_value(v);
		size_t len = vp_key(c, key);
		if (!spec_has_container(spec, ctr))
			v_invalid_str(c, NULL, ctr, "container not found");
		if (*p && !streq(p, "runtime/default") && !streq(p, "unconfined") &&
		    !startswith(p, "localhost/")) {
			_cleanup_strbuf_ struct strbuf q = STRBUF_INIT;
			strbuf_put_go_quoted(&q, p, strlen(p));
			v_invalid_str(c, NULL, p, "invalid AppArmor profile name: %s",
				      strbuf_str(&q));
		}
		vp_pop(c, len);
	}
}

static void
seccomp_match(struct vctx *c, const char *annotation, const json_t *field)
{
	const char *type = jstr0(field, "type");
	if (streq(type, "Unconfined")) {
		if (!streq(annotation, "unconfined"))
			v_forbidden(c, "type", "seccomp type in annotation and field must match");
	} else if (streq(type, "RuntimeDefault")) {
		if (!streq(annotation, "runtime/default") && !streq(annotation, "docker/default"))
			v_forbidden(c, "type", "seccomp type in annotation and field must match");
	} else if (streq(type, "Localhost")) {
		if (!startswith(annotation, "localhost/"))
			v_forbidden(c, "type", "seccomp type in annotation and field must match");
		else if (!jstr(field, "localhostProfile") ||
			 !streq(annotation + strlen("localhost/"), jstr(field, "localhostProfile")))
			v_forbidden(c, "localhostProfile",
				    "seccomp profile in annotation and field must match");
	}
}

static void
apparmor_match(struct vctx *c, const char *annotation, const json_t *profile)
{
	const char *type = jstr0(profile, "type");
	if (streq(type, "Unconfined")) {
		if (!streq(annotation, "unconfined"))
			v_forbidden(c, "type", "apparmor type in annotation and field must match");
	} else if (streq(type, "RuntimeDefault")) {
		if (!streq(annotation, "runtime/default"))
			v_forbidden(c, "type", "apparmor type in annotation and field must match");
	} else if (streq(type, "Localhost")) {
		if (!startswith(annotation, "localhost/"))
			v_forbidden(c, "type", "apparmor type in annotation and field must match");
		else if (!jstr(profile, "localhostProfile") ||
			 !streq(annotation + strlen("localhost/"),
				jstr(profile, "localhostProfile")))
			v_forbidden(c, "localhostProfile",
				    "apparmor profile in annotation and field must match");
	}
}

/*
 * validateSeccompAnnotationsAndFields and validateAppArmorAnnotationsAndFieldsMatchOnCreate at
 * the current path (the spec).
 */
void
validate_seccomp_annotations_match(struct vctx *c, const json_t *meta, const json_t *spec)
{
	const json_t *ann = jobj(meta, "annotations");
	const json_t *psc = jobj(spec, "securityContext");
	const char *pa = jstr(ann, SECCOMP_POD);
	if (pa && jobj(psc, "seccompProfile")) {
		size_t len = vp_field(c, "securityContext");
		vp_field(c, "seccompProfile");
		seccomp_match(c, pa, jobj(psc, "seccompProfile"));
		vp_pop(c, len);
	}
	static const char *const lists[] = { "initContainers", "containers",
					     "ephemeralContainers" };
	for (size_t l = 0; l < 3; l++) {
		size_t i;
		json_t *ctr;
		json_array_foreach (jarr(spec, lists[l]), i, ctr) {
			const json_t *f = jobj(jobj(ctr, "securityContext"), "seccompProfile");
			if (!f)
				continue;
			char key[600];
			snprintf(key, sizeof(key), SECCOMP_CONTAINER_PREFIX "%s",
				 jstr0(ctr, "name"));
			const char *a = jstr(ann, key);
			if (!a)
				continue;
			size_t len = vp_field(c, lists[l]);
			vp_index(c, i);
			vp_field(c, "securityContext");
			vp_field(c, "seccompProfile");
			seccomp_match(c, a, f);
			vp_pop(c, len);
		}
	}
	if (streq(jstr0(jobj(spec, "os"), "name"), "windows"))
		return;
	const json_t *pod_profile = jobj(psc, "appArmorProfile");
	for (size_t l = 0; l < 3; l++) {
		size_t i;
		json_t *ctr;
		json_array_foreach (jarr(spec, lists[l]), i, ctr) {
			const json_t *profile =
				jobj(jobj(ctr, "securityContext"), "appArmorProfile");
			if (!profile)
				profile = pod_profile;
			if (!profile)
				continue;
			char key[600];
			snprintf(key, sizeof(key), APPARMOR_PREFIX "%s", jstr0(ctr, "name"));
			const char *a = jstr(ann, key);
			if (!a)
				continue;
			size_t len = vp_field(c, lists[l]);
			vp_index(c, i);
			vp_field(c, "securityContext");
			vp_field(c, "appArmorProfile");
			apparmor_match(c, a, profile);
			vp_pop(c, len);
		}
	}
}

/* ValidatePodTemplateSpec at the current path (a template). */
void
validate_pod_template_spec(struct vctx *c, const json_t *tmpl)
{
	const json_t *meta = jobj(tmpl, "metadata"), *spec = jobj(tmpl, "spec");
	validate_label_map(c, "labels", jget(meta, "labels"));
	validate_annotation_map(c, "annotations", jget(meta, "annotations"));
	size_t len = vp_field(c, "annotations");
	validate_pod_annotations(c, jobj(meta, "annotations"), spec);
	vp_pop(c, len);
	vp_field(c, "spec");
	struct pod_opts o = { .is_pod = false };
	validate_pod_spec(c, spec, &o);
	validate_seccomp_annotations_match(c, meta, spec);
	vp_pop(c, len);
	if (jlen(jarr(spec, "ephemeralContainers")))
		v_forbidden(c, "spec.ephemeralContainers",
			    "ephemeral containers not allowed in pod template");
}
