/*
 * validate-storage.c - PersistentVolume, PersistentVolumeClaim (and the claim spec that
 * ephemeral volumes and StatefulSet claim templates share) and StorageClass, as Kubernetes
 * 1.32 validates them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "api/validate-internal.h"
#include "base/util.h"

#define ACCESS_MODES STRS("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
#define MSG_NOT_POSITIVE "must be greater than zero"
#define BETA_STORAGE_CLASS_ANNOTATION "volume.beta.kubernetes.io/storage-class"

/* The PersistentVolumeSource members in the order ValidatePersistentVolumeSpec checks them, with
 * the path its "more than 1 volume type" error names. */
static const struct {
	const char *field, *forbid_path;
} pv_sources[] = {
	{ "hostPath", "hostPath" },
	{ "gcePersistentDisk", "gcePersistentDisk" },
	{ "awsElasticBlockStore", "awsElasticBlockStore" },
	{ "glusterfs", "glusterfs" },
	{ "flocker", "flocker" },
	{ "nfs", "nfs" },
	{ "rbd", "rbd" },
	{ "quobyte", "quobyte" },
	{ "cephfs", "cephFS" },
	{ "iscsi", "iscsi" },
	{ "cinder", "cinder" },
	{ "fc", "fc" },
	{ "flexVolume", NULL }, /* counted, never refused as a second source */
	{ "azureFile", "azureFile" },
	{ "vsphereVolume", "vsphereVolume" },
	{ "photonPersistentDisk", "photonPersistentDisk" },
	{ "portworxVolume", "portworxVolume" },
	{ "azureDisk", "azureDisk" },
	{ "scaleIO", "scaleIO" },
	{ "local", "local" },
	{ "storageos", "storageos" },
	{ "csi", "csi" },
};

/* Access modes of a PV or PVC spec at current path + "accessModes". */
static void
access_modes(struct vctx *c, const json_t *spec)
{
	bool rwop = false, other = false;
	size_t i;
	json_t *m;
	json_array_foreach (jarr(spec, "accessModes"), i, m) {
		const char *mode = json_is_string(m) ? json_string_value(m) : "";
		if (!str_in(mode, ACCESS_MODES))
			v_not_supported_str(c, "accessModes", mode, ACCESS_MODES);
		if (streq(mode, "ReadWriteOncePod"))
			rwop = true;
		else if (str_in(mode, ACCESS_MODES))
			other = true;
	}
	if (rwop && other)
		v_forbidden(c, "accessModes",
			    "may not use ReadWriteOncePod with other access modes");
}

/* ValidateClassName (a DNS subdomain) of a class name member at current path + key. */
static void
class_name(struct vctx *c, const char *key, const char *name)
{
	struct name_problems p = { 0 };
	check_dns1123_subdomain(name, &p);
	v_problems(c, key, name, &p);
}

/* ValidatePositiveQuantityValue at the current path; false when it failed. */
static bool
positive_quantity(struct vctx *c, const json_t *v)
{
	struct quantity q;
	if (!v_parse_quantity(c, v, &q))
		return false;
	if (q.nano <= 0) {
		char text[64];
		quantity_format(&q, text);
		v_invalid_str(c, NULL, text, MSG_NOT_POSITIVE);
		return false;
	}
	return true;
}

/* core.ResourceList printed with %#v. */
static void
put_resource_list(struct strbuf *sb, const json_t *list)
{
	if (!json_is_object(list)) {
		strbuf_puts(sb, "core.ResourceList(nil)");
		return;
	}
	strbuf_puts(sb, "core.ResourceList{");
	/* Go prints map keys sorted */
	const char *keys[64];
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)list, k, v) {
		if (n < ARRAY_SIZE(keys))
			keys[n++] = k;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_puts(sb, ", ");
		strbuf_put_go_quoted(sb, keys[i], strlen(keys[i]));
		strbuf_putc(sb, ':');
		go_put_quantity(sb, json_object_get(list, keys[i]));
	}
	strbuf_putc(sb, '}');
}

/* --- PersistentVolume ---------------------------------------------------------------------- */

static void
pv_spec(struct vctx *c, const json_t *spec)
{
	size_t len = vp_field(c, "spec");
	if (!jlen(jarr(spec, "accessModes")))
		v_required(c, "accessModes", "");
	access_modes(c, spec);

	const json_t *cap = jobj(spec, "capacity");
	if (!jlen(cap))
		v_required(c, "capacity", "");
	if (!json_object_get(cap, "storage") || jlen(cap) > 1) {
		_cleanup_free_ char *r = render(c, put_resource_list, cap);
		v_not_supported_val(c, "capacity", r ? r : "", STRS("storage"));
	}
	const char *key;
	json_t *q;
	json_object_foreach ((json_t *)cap, key, q) {
		size_t l2 = vp_field(c, "capacity");
		vp_key(c, key);
		struct quantity qq;
		if (v_parse_quantity(c, q, &qq)) {
			if (quantity_value(&qq) < 0)
				v_invalid_int(c, NULL, quantity_value(&qq),
					      "must be a valid resource quantity");
			if (qq.nano <= 0) {
				char text[64];
				quantity_format(&qq, text);
				v_invalid_str(c, NULL, text, MSG_NOT_POSITIVE);
			}
		}
		vp_pop(c, l2);
	}

	const char *reclaim = jstr0(spec, "persistentVolumeReclaimPolicy");
	static const char *const reclaim_policies[] = { "Delete", "Recycle", "Retain", NULL };
	if (*reclaim && !str_in(reclaim, reclaim_policies))
		v_not_supported_str(c, "persistentVolumeReclaimPolicy", reclaim, reclaim_policies);

	bool node_affinity = false;
	const json_t *na = jobj(spec, "nodeAffinity");
	if (na) {
		node_affinity = true;
		size_t l2 = vp_field(c, "nodeAffinity");
		const json_t *req = jobj(na, "required");
		if (req) {
			vp_field(c, "required");
			validate_node_selector(c, req);
		} else {
			v_required(c, "required", "must specify required node constraints");
		}
		vp_pop(c, l2);
	}

	int n = 0;
	for (size_t s = 0; s < ARRAY_SIZE(pv_sources); s++) {
		const json_t *src = jobj(spec, pv_sources[s].field);
		if (!src)
			continue;
		if (n > 0 && pv_sources[s].forbid_path) {
			v_forbidden(c, pv_sources[s].forbid_path,
				    "may not specify more than 1 volume type");
			continue;
		}
		n++;
		size_t l2 = vp_field(c, pv_sources[s].field);
		if (streq(pv_sources[s].field, "hostPath")) {
			validate_host_path_source(c, src);
		} else if (streq(pv_sources[s].field, "local")) {
			const char *p = jstr0(src, "path");
			if (!*p)
				v_required(c, "path", "");
			else
				validate_path_no_backsteps(c, "path", p);
		}
		/* korch refuses the other sources (object_check_supported) and does not check them */
		vp_pop(c, l2);
		if (streq(pv_sources[s].field, "local") && !node_affinity)
			v_required(c, "nodeAffinity", "Local volume requires node affinity");
	}
	if (n == 0)
		v_required(c, NULL, "must specify a volume type");

	const json_t *hp = jobj(spec, "hostPath");
	if (hp && streq(reclaim, "Recycle")) {
		/* path.Clean(p) == "/": only slashes and "." / ".." elements that resolve to the root */
		const char *p = jstr0(hp, "path");
		bool root = *p == '/';
		for (const char *s = p; *s && root;) {
			while (*s == '/')
				s++;
			size_t l = strcspn(s, "/");
			if (l && !(l == 1 && s[0] == '.') &&
			    !(l == 2 && s[0] == '.' && s[1] == '.'))
				root = false;
			s += l;
		}
		if (root)
			v_forbidden(c, "persistentVolumeReclaimPolicy",
				    "may not be 'recycle' for a hostPath mount of '/'");
	}
	const char *sc = jstr0(spec, "storageClassName");
	if (*sc)
		class_name(c, "storageClassName", sc);
	const char *mode = jstr(spec, "volumeMode");
	if (mode && !str_in(mode, STRS("Block", "Filesystem")))
		v_not_supported_str(c, "volumeMode", mode, STRS("Block", "Filesystem"));
	vp_pop(c, len);
}

/* The beta topology labels a PV's node affinity may be updated from (to their GA names). */
static void
ga_topology_keys(json_t *v)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *m;
		json_object_foreach (v, k, m) {
			if (streq(k, "key") && json_is_string(m)) {
				const char *s = json_string_value(m);
				const char *ga =
					streq(s, "failure-domain.beta.kubernetes.io/zone")
						? "topology.kubernetes.io/zone"
					: streq(s, "failure-domain.beta.kubernetes.io/region")
						? "topology.kubernetes.io/region"
					: streq(s, "beta.kubernetes.io/instance-type")
						? "node.kubernetes.io/instance-type"
					: streq(s, "beta.kubernetes.io/os")   ? "kubernetes.io/os"
					: streq(s, "beta.kubernetes.io/arch") ? "kubernetes.io/arch"
									      : NULL;
				if (ga)
					json_string_set(m, ga);
			} else {
				ga_topology_keys(m);
			}
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *m;
		json_array_foreach (v, i, m)
			ga_topology_keys(m);
	}
}

static void
persistent_volume_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_object_meta(c, obj, false, NAME_SUBDOMAIN);
	const json_t *spec = jobj(obj, "spec");
	pv_spec(c, spec);
	if (!old)
		return;
	const json_t *ospec = jobj(old, "spec");
	json_t *ns = json_object(), *os = json_object();
	for (size_t s = 0; s < ARRAY_SIZE(pv_sources); s++) {
		json_t *v = jget(spec, pv_sources[s].field), *ov = jget(ospec, pv_sources[s].field);
		if (v && !json_is_null(v))
			json_object_set(ns, pv_sources[s].field, v);
		if (ov && !json_is_null(ov))
			json_object_set(os, pv_sources[s].field, ov);
	}
	/* a CSI volume may gain a controllerExpandSecretRef */
	json_t *ncsi = json_object_get(ns, "csi"), *ocsi = json_object_get(os, "csi");
	if (ncsi && ocsi && !jhas(ocsi, "controllerExpandSecretRef") &&
	    jhas(ncsi, "controllerExpandSecretRef")) {
		json_t *copy = json_deep_copy(ncsi);
		json_object_del(copy, "controllerExpandSecretRef");
		json_object_set_new(ns, "csi", copy);
	}
	if (!json_equal(ns, os)) {
		_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
		strbuf_puts(&msg, "spec.persistentvolumesource is immutable after creation");
		put_json_diff(&msg, "spec", os, ns);
		if (msg.oom) {
			c->oom = true;
		} else {
			size_t len = vp_field(c, "spec");
			v_forbidden(c, "persistentvolumesource", strbuf_str(&msg));
			vp_pop(c, len);
		}
	}
	json_decref(ns);
	json_decref(os);
	/* ValidateImmutableField(..., field.NewPath("volumeMode")): no "spec." upstream */
	v_immutable(c, "volumeMode", jget(spec, "volumeMode"), jget(ospec, "volumeMode"), NULL);
	const json_t *ona = jobj(ospec, "nodeAffinity");
	if (ona) {
		const json_t *nna = jobj(spec, "nodeAffinity");
		json_t *ga = json_deep_copy(ona);
		ga_topology_keys(ga);
		if (!nna ||
		    (!json_equal((json_t *)nna, (json_t *)ona) && !json_equal((json_t *)nna, ga)))
			v_invalid_go(
				c, "nodeAffinity", go_put_json, nna,
				"field is immutable, except for updating from beta label to GA");
		json_decref(ga);
	}
}

void
validate_persistent_volume(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(persistent_volume_kind, obj, old, err);
}

/* --- PersistentVolumeClaim ----------------------------------------------------------------- */

static void
data_source(struct vctx *c, const char *field, const json_t *ds)
{
	size_t len = vp_field(c, field);
	if (!*jstr0(ds, "name"))
		v_required(c, "name", "");
	const char *kind = jstr0(ds, "kind");
	if (!*kind)
		v_required(c, "kind", "");
	const char *group = jstr0(ds, "apiGroup");
	if (!*group && !streq(kind, "PersistentVolumeClaim"))
		v_invalid_str(
			c, NULL, kind,
			"must be 'PersistentVolumeClaim' when referencing the default apiGroup");
	if (*group)
		class_name(c, "apiGroup", group);
	const char *ns = jstr0(ds, "namespace");
	if (streq(field, "dataSourceRef") && *ns) {
		struct name_problems p = { 0 };
		check_dns1123_label(ns, &p);
		v_problems(c, "namespace", ns, &p);
	}
	vp_pop(c, len);
}

/* ValidatePersistentVolumeClaimSpec at the current path. */
void
validate_pvc_spec(struct vctx *c, const json_t *spec)
{
	if (!jlen(jarr(spec, "accessModes")))
		v_required(c, "accessModes", "at least 1 access mode is required");
	const json_t *sel = jget(spec, "selector");
	if (sel && !json_is_null(sel))
		v_label_selector(c, "selector", sel);
	access_modes(c, spec);

	const json_t *storage = jget(jobj(jobj(spec, "resources"), "requests"), "storage");
	size_t len = vp_field(c, "resources");
	vp_key(c, "storage");
	if (!storage)
		v_required(c, NULL, "");
	else if (positive_quantity(c, storage))
		validate_resource_quantity_value(c, "storage", storage);
	vp_pop(c, len);

	const char *sc = jstr0(spec, "storageClassName");
	if (*sc)
		class_name(c, "storageClassName", sc);
	const char *mode = jstr(spec, "volumeMode");
	if (mode && !str_in(mode, STRS("Block", "Filesystem")))
		v_not_supported_str(c, "volumeMode", mode, STRS("Block", "Filesystem"));
	const json_t *ds = jobj(spec, "dataSource"), *dsr = jobj(spec, "dataSourceRef");
	if (ds)
		data_source(c, "dataSource", ds);
	if (dsr)
		data_source(c, "dataSourceRef", dsr);
	_cleanup_strbuf_ struct strbuf ds_path = STRBUF_INIT;
	strbuf_puts(&ds_path, strbuf_str(&c->path));
	strbuf_puts(&ds_path, ".dataSource");
	if (dsr && *jstr0(dsr, "namespace")) {
		if (ds)
			v_invalid_val(
				c, NULL, strbuf_str(&ds_path),
				"may not be specified when dataSourceRef.namespace is specified");
	} else if (ds && dsr) {
		if (!streq(jstr0(ds, "kind"), jstr0(dsr, "kind")) ||
		    !streq(jstr0(ds, "name"), jstr0(dsr, "name")) ||
		    !((jstr(ds, "apiGroup") == NULL) == (jstr(dsr, "apiGroup") == NULL)) ||
		    !streq(jstr0(ds, "apiGroup"), jstr0(dsr, "apiGroup")))
			v_invalid_val(c, NULL, strbuf_str(&ds_path), "must match dataSourceRef");
	}
	if (ds_path.oom)
		c->oom = true;
}

static void
pvc_create(struct vctx *c, const json_t *obj)
{
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	size_t len = vp_field(c, "spec");
	validate_pvc_spec(c, jobj(obj, "spec"));
	vp_pop(c, len);
}

static int
storage_cmp(const json_t *a, const json_t *b)
{
	struct quantity qa = { 0 }, qb = { 0 };
	if (a)
		quantity_from_json(a, &qa, NULL);
	if (b)
		quantity_from_json(b, &qb, NULL);
	return quantity_cmp(&qa, &qb);
}

static void
pvc_update(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_object_meta_update(c, obj, old);
	pvc_create(c, obj);
	const json_t *spec = jobj(obj, "spec"), *ospec = jobj(old, "spec");
	const json_t *ann = jobj(jobj(obj, "metadata"), "annotations");
	const json_t *oann = jobj(jobj(old, "metadata"), "annotations");
	json_t *nclone = json_deep_copy(spec ? spec : json_object()),
	       *oclone = json_deep_copy(ospec ? ospec : json_object());
	if (!nclone || !oclone) {
		c->oom = true;
		goto out;
	}
	/* the volume name may be set once */
	if (!*jstr0(ospec, "volumeName")) {
		json_t *vn = json_object_get(nclone, "volumeName");
		if (vn)
			json_object_set(oclone, "volumeName", vn);
		else
			json_object_del(oclone, "volumeName");
	}
	/* storageClassName: from the beta annotation, or from nil */
	const char *old_sc_ann = jstr(oann, BETA_STORAGE_CLASS_ANNOTATION);
	const char *new_sc_ann = jstr(ann, BETA_STORAGE_CLASS_ANNOTATION);
	const json_t *osc = jget(ospec, "storageClassName"), *nsc = jget(spec, "storageClassName");
	if (json_is_null(osc))
		osc = NULL;
	if (json_is_null(nsc))
		nsc = NULL;
	if (old_sc_ann && !osc && json_is_string(nsc) &&
	    streq(json_string_value(nsc), old_sc_ann) &&
	    (!new_sc_ann || streq(new_sc_ann, old_sc_ann))) {
		json_object_del(nclone, "storageClassName");
	} else {
		if (!streq(new_sc_ann ? new_sc_ann : "", old_sc_ann ? old_sc_ann : "")) {
			size_t len = vp_field(c, "metadata");
			v_invalid_str(c, "annotations." BETA_STORAGE_CLASS_ANNOTATION,
				      new_sc_ann ? new_sc_ann : "", MSG_IMMUTABLE);
			vp_pop(c, len);
		}
		if (nsc && !osc &&
		    (!old_sc_ann ||
		     (json_is_string(nsc) && streq(json_string_value(nsc), old_sc_ann))))
			json_object_del(nclone, "storageClassName");
	}
	bool bound = streq(jstr0(jobj(obj, "status"), "phase"), "Bound");
	json_t *requests = jobj(jobj(nclone, "resources"), "requests");
	if (bound && requests) {
		json_t *os = jget(jobj(jobj(ospec, "resources"), "requests"), "storage");
		if (os)
			json_object_set(requests, "storage", os);
		else
			json_object_del(requests, "storage");
	}
	if (bound && jget(nclone, "volumeAttributesClassName")) {
		json_t *ov = jget(oclone, "volumeAttributesClassName");
		if (ov)
			json_object_set(nclone, "volumeAttributesClassName", ov);
		else
			json_object_del(nclone, "volumeAttributesClassName");
	}
	if (!json_equal(nclone, oclone)) {
		_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
		strbuf_puts(&msg, "spec is immutable after creation except resources.requests and "
				  "volumeAttributesClassName for bound claims");
		put_json_diff(&msg, "spec", oclone, nclone);
		if (msg.oom)
			c->oom = true;
		else
			v_forbidden(c, "spec", strbuf_str(&msg));
	}
	const json_t *new_size = jget(jobj(jobj(spec, "resources"), "requests"), "storage");
	const json_t *old_size = jget(jobj(jobj(ospec, "resources"), "requests"), "storage");
	const json_t *status_size = jget(jobj(jobj(old, "status"), "capacity"), "storage");
	/* RecoverVolumeExpansionFailure is beta and on in 1.32: shrinking down to above the
	 * capacity the volume reached is allowed */
	if (storage_cmp(new_size, old_size) < 0 && storage_cmp(new_size, status_size) <= 0)
		v_forbidden(c, "spec.resources.requests.storage",
			    "field can not be less than status.capacity");
	v_immutable(c, "volumeMode", jget(spec, "volumeMode"), jget(ospec, "volumeMode"), NULL);
out:
	json_decref(nclone);
	json_decref(oclone);
}

static void
pvc_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old)
		pvc_update(c, obj, old);
	else
		pvc_create(c, obj);
}

void
validate_persistent_volume_claim(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(pvc_kind, obj, old, err);
}

/* --- StorageClass -------------------------------------------------------------------------- */

/* ValidateTopologySelectorTerm at the current path; ret_map gets key -> sorted values. */
void
validate_topology_selector_term(struct vctx *c, const json_t *term, json_t *ret_map)
{
	size_t len = vp_field(c, "matchLabelExpressions");
	size_t i;
	json_t *rq;
	json_array_foreach (jarr(term, "matchLabelExpressions"), i, rq) {
		size_t l2 = vp_index(c, i);
		const json_t *values = jarr(rq, "values");
		json_t *set = json_array();
		if (!jlen(values))
			v_required(c, "values", "");
		size_t j;
		json_t *v;
		json_array_foreach ((json_t *)values, j, v) {
			bool dup = false;
			size_t k;
			json_t *w;
			json_array_foreach (set, k, w)
				dup |= json_equal(v, w);
			if (dup) {
				size_t l3 = vp_field(c, "values");
				vp_index(c, j);
				v_duplicate_str(c, NULL,
						json_is_string(v) ? json_string_value(v) : "");
				vp_pop(c, l3);
			} else {
				/* insert sorted, so that equal sets compare equal */
				size_t at = 0;
				while (at < json_array_size(set) &&
				       strcmp(json_string_value(json_array_get(set, at)) ?: "",
					      json_is_string(v) ? json_string_value(v) : "") < 0)
					at++;
				json_array_insert(set, at, v);
			}
		}
		const char *key = jstr0(rq, "key");
		validate_label_name(c, "key", key);
		if (ret_map && json_object_get(ret_map, key))
			v_duplicate_str(c, "key", key);
		if (ret_map)
			json_object_set(ret_map, key, set);
		json_decref(set);
		vp_pop(c, l2);
	}
	vp_pop(c, len);
}

static void
storage_class_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_object_meta(c, obj, false, NAME_SUBDOMAIN);
	const char *prov = jstr0(obj, "provisioner");
	if (!*prov) {
		v_required(c, "provisioner", "");
	} else {
		_cleanup_free_ char *lower = strdup(prov);
		if (!lower) {
			c->oom = true;
			return;
		}
		for (char *s = lower; *s; s++)
			if (*s >= 'A' && *s <= 'Z')
				*s = (char)(*s - 'A' + 'a');
		struct name_problems p = { 0 };
		check_qualified_name(lower, &p);
		v_problems(c, "provisioner", lower, &p);
	}
	const json_t *params = jobj(obj, "parameters");
	if (jlen(params) > 512) {
		v_too_long(c, "parameters", 512);
	} else {
		long total = 0;
		const char *k;
		json_t *v;
		json_object_foreach ((json_t *)params, k, v) {
			if (!*k)
				v_invalid_str(c, "parameters", "", "field can not be empty.");
			total += (long)strlen(k) +
				 (long)strlen(json_is_string(v) ? json_string_value(v) : "");
		}
		if (total > 256 * 1024)
			v_too_long(c, "parameters", 256 * 1024);
	}
	const char *reclaim = jstr0(obj, "reclaimPolicy");
	if (*reclaim && !str_in(reclaim, STRS("Delete", "Retain")))
		v_not_supported_str(c, "reclaimPolicy", reclaim, STRS("Delete", "Retain"));
	const char *mode = jstr(obj, "volumeBindingMode");
	if (!mode)
		v_required(c, "volumeBindingMode", "");
	else if (!str_in(mode, STRS("Immediate", "WaitForFirstConsumer")))
		v_not_supported_str(c, "volumeBindingMode", mode,
				    STRS("Immediate", "WaitForFirstConsumer"));
	const json_t *topologies = jarr(obj, "allowedTopologies");
	json_t *seen = json_array();
	size_t i;
	json_t *term;
	json_array_foreach ((json_t *)topologies, i, term) {
		size_t len = vp_field(c, "allowedTopologies");
		vp_index(c, i);
		json_t *map = json_object();
		validate_topology_selector_term(c, term, map);
		/* Kubernetes compares with a list that starts with one nil map per term, equal to an
		 * empty term's map */
		bool dup = !jlen(map);
		size_t k;
		json_t *other;
		json_array_foreach (seen, k, other)
			dup |= json_equal(map, other);
		if (dup)
			v_duplicate_str(c, "matchLabelExpressions", "");
		json_array_append_new(seen, map);
		vp_pop(c, len);
	}
	json_decref(seen);

	if (!old)
		return;
	validate_object_meta_update(c, obj, old);
	const json_t *op = jget(old, "parameters"), *np = jget(obj, "parameters");
	if (json_is_null(op))
		op = NULL;
	if (json_is_null(np))
		np = NULL;
	if (!(op ? np && json_equal((json_t *)op, (json_t *)np) : !np))
		v_forbidden(c, "parameters", "updates to parameters are forbidden.");
	if (!streq(prov, jstr0(old, "provisioner")))
		v_forbidden(c, "provisioner", "updates to provisioner are forbidden.");
	if (!streq(reclaim, jstr0(old, "reclaimPolicy")))
		v_forbidden(c, "reclaimPolicy", "updates to reclaimPolicy are forbidden.");
	v_immutable(c, "volumeBindingMode", jget(obj, "volumeBindingMode"),
		    jget(old, "volumeBindingMode"), NULL);
}

void
validate_storage_class(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(storage_class_kind, obj, old, err);
}
