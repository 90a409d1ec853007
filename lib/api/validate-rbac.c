/*
 * validate-rbac.c - rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding and
 * ClusterRoleBinding as Kubernetes 1.32 validates them (pkg/apis/rbac/validation).
 */
#include <stdio.h>
#include <string.h>

#include "api/validate-internal.h"
#include "base/util.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"

/* ValidatePolicyRule at the current path (rules[i]) */
static void
policy_rule(struct vctx *c, const json_t *rule, bool namespaced)
{
	if (!jlen(jarr(rule, "verbs")))
		v_required(c, "verbs", "verbs must contain at least one value");
	const json_t *urls = jarr(rule, "nonResourceURLs");
	if (jlen(urls)) {
		if (namespaced)
			v_invalid_go(c, "nonResourceURLs", go_put_str_slice, urls,
				     "namespaced rules cannot apply to non-resource URLs");
		if (jlen(jarr(rule, "apiGroups")) || jlen(jarr(rule, "resources")) ||
		    jlen(jarr(rule, "resourceNames")))
			v_invalid_go(
				c, "nonResourceURLs", go_put_str_slice, urls,
				"rules cannot apply to both regular resources and non-resource URLs");
		return;
	}
	if (!jlen(jarr(rule, "apiGroups")))
		v_required(c, "apiGroups", "resource rules must supply at least one api group");
	if (!jlen(jarr(rule, "resources")))
		v_required(c, "resources", "resource rules must supply at least one resource");
}

static void
rules(struct vctx *c, const json_t *obj, bool namespaced)
{
	size_t i;
	json_t *rule;
	json_array_foreach (jarr(obj, "rules"), i, rule) {
		size_t len = vp_field(c, "rules");
		vp_index(c, i);
		policy_rule(c, rule, namespaced);
		vp_pop(c, len);
	}
}

static void
role_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_object_meta(c, obj, true, NAME_PATH_SEGMENT);
	rules(c, obj, true);
	if (old)
		validate_object_meta_update(c, obj, old);
}

void
validate_role(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(role_kind, obj, old, err);
}

static void
cluster_role_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_object_meta(c, obj, false, NAME_PATH_SEGMENT);
	rules(c, obj, false);
	const json_t *agg = jobj(obj, "aggregationRule");
	if (agg) {
		const json_t *sels = jarr(agg, "clusterRoleSelectors");
		if (!jlen(sels))
			v_required(
				c, "aggregationRule.clusterRoleSelectors",
				"at least one clusterRoleSelector required if aggregationRule is "
				"non-nil");
		size_t i;
		json_t *sel;
		json_array_foreach ((json_t *)sels, i, sel) {
			size_t len = vp_field(c, "aggregationRule.clusterRoleSelectors");
			vp_index(c, i);
			v_label_selector(c, NULL, sel);
			bool ok;
			selector_matches(sel, NULL, &ok);
			if (!ok)
				v_invalid_val(c, NULL, "null", "invalid label selector.");
			vp_pop(c, len);
		}
	}
	if (old)
		validate_object_meta_update(c, obj, old);
}

void
validate_cluster_role(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(cluster_role_kind, obj, old, err);
}

/* ValidateRoleBindingSubject at the current path (subjects[i]) */
static void
subject(struct vctx *c, const json_t *s, bool namespaced)
{
	const char *name = jstr0(s, "name"), *kind = jstr0(s, "kind");
	const char *group = jstr0(s, "apiGroup");
	if (!*name)
		v_required(c, "name", "");
	if (streq(kind, "ServiceAccount")) {
		if (*name) {
			struct name_problems p = { 0 };
			check_dns1123_subdomain(name, &p);
			v_problems(c, "name", name, &p);
		}
		if (*group)
			v_not_supported_str(c, "apiGroup", group, STRS(""));
		if (!namespaced && !*jstr0(s, "namespace"))
			v_required(c, "namespace", "");
	} else if (streq(kind, "User") || streq(kind, "Group")) {
		if (!streq(group, RBAC_GROUP))
			v_not_supported_str(c, "apiGroup", group, STRS(RBAC_GROUP));
	} else {
		v_not_supported_str(c, "kind", kind, STRS("ServiceAccount", "User", "Group"));
	}
}

static void
put_role_ref(struct strbuf *sb, const json_t *ref)
{
	const char *fields[][2] = { { "APIGroup", "apiGroup" },
				    { "Kind", "kind" },
				    { "Name", "name" } };
	strbuf_puts(sb, "rbac.RoleRef{");
	for (size_t i = 0; i < 3; i++) {
		const char *v = jstr0(ref, fields[i][1]);
		strbuf_printf(sb, "%s%s:", i ? ", " : "", fields[i][0]);
		strbuf_put_go_quoted(sb, v, strlen(v));
	}
	strbuf_putc(sb, '}');
}

static void
binding(struct vctx *c, const json_t *obj, const json_t *old, bool namespaced)
{
	validate_object_meta(c, obj, namespaced, NAME_PATH_SEGMENT);
	const json_t *ref = jobj(obj, "roleRef");
	const char *group = jstr0(ref, "apiGroup"), *kind = jstr0(ref, "kind");
	const char *name = jstr0(ref, "name");
	if (!streq(group, RBAC_GROUP))
		v_not_supported_str(c, "roleRef.apiGroup", group, STRS(RBAC_GROUP));
	if (namespaced ? !str_in(kind, STRS("Role", "ClusterRole")) : !streq(kind, "ClusterRole"))
		v_not_supported_str(c, "roleRef.kind", kind,
				    namespaced ? STRS("Role", "ClusterRole") : STRS("ClusterRole"));
	if (!*name) {
		v_required(c, "roleRef.name", "");
	} else {
		struct name_problems p = { 0 };
		check_path_segment_name(name, false, &p);
		v_problems(c, "roleRef.name", name, &p);
	}
	size_t i;
	json_t *s;
	json_array_foreach (jarr(obj, "subjects"), i, s) {
		size_t len = vp_field(c, "subjects");
		vp_index(c, i);
		subject(c, s, namespaced);
		vp_pop(c, len);
	}
	if (!old)
		return;
	validate_object_meta_update(c, obj, old);
	const json_t *oref = jobj(old, "roleRef");
	if (!streq(group, jstr0(oref, "apiGroup")) || !streq(kind, jstr0(oref, "kind")) ||
	    !streq(name, jstr0(oref, "name")))
		v_invalid_go(c, "roleRef", put_role_ref, ref, "cannot change roleRef");
}

static void
role_binding_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	binding(c, obj, old, true);
}

static void
cluster_role_binding_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	binding(c, obj, old, false);
}

void
validate_role_binding(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(role_binding_kind, obj, old, err);
}

void
validate_cluster_role_binding(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(cluster_role_binding_kind, obj, old, err);
}
