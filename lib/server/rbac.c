/*
 * rbac.c - what a user may do: RBAC (Roles, ClusterRoles and their bindings, read from
 * informers, so a decision costs no store read), deny by default, with system:masters allowed
 * everything; before it, a node authorizer that lets a node identity (system:node:NAME in group
 * system:nodes) read what a node agent reads and write only its own Node, its own Lease and the
 * pods bound to it. The default roles of kube-apiserver (cluster-admin, admin, edit, view, the
 * discovery and public-info roles and their bindings) are created or reconciled at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "client/informer.h"
#include "server/server-internal.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"

struct rbac {
	struct server *srv;                           /* owner */
	struct informer *roles, *cluster_roles;       /* the rules */
	struct informer *bindings, *cluster_bindings; /* who has them */
};

int
rbac_new(struct server *srv, struct rbac **ret, korch_error **err)
{
	struct rbac *r = calloc(1, sizeof(*r));
	if (!r)
		return error_oom(err);
	r->srv = srv;
	struct {
		const char *kind;
		struct informer **inf;
	} kinds[] = {
		{ "Role", &r->roles },
		{ "ClusterRole", &r->cluster_roles },
		{ "RoleBinding", &r->bindings },
		{ "ClusterRoleBinding", &r->cluster_bindings },
	};
	int rc = 0;
	for (size_t i = 0; i < ARRAY_SIZE(kinds) && rc == 0; i++) {
		const struct kind_info *k = kind_lookup(RBAC_GROUP "/v1", kinds[i].kind);
		rc = informer_new(srv->client, k, NULL, NULL, NULL, kinds[i].inf, err);
		if (rc == 0)
			rc = informer_start(*kinds[i].inf, err);
	}
	if (rc < 0) {
		rbac_free(r);
		return korch_error_prefix(err, rc, "RBAC informers");
	}
	*ret = r;
	return 0;
}

void
rbac_free(struct rbac *r)
{
	if (!r)
		return;
	informer_free(r->roles);
	informer_free(r->cluster_roles);
	informer_free(r->bindings);
	informer_free(r->cluster_bindings);
	free(r);
}

/* ---- matching ---- */

/* What is asked: a resource request or a non-resource path, and by whom. */
struct attrs {
	const struct user *user; /* who */
	const char *verb;        /* get, list, ... */
	bool resource;           /* a resource request (else a path) */
	const char *group;       /* API group */
	const char *res;         /* plural */
	const char *sub;         /* subresource or NULL */
	const char *ns;          /* namespace or NULL */
	const char *name;        /* name or NULL */
	const char *path;        /* non-resource path */
};

static bool
list_has(const json_t *list, const char *value)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		const char *s = json_string_value(v);
		if (streq(s, "*") || streq(s, value))
			return true;
	}
	return false;
}

static bool
resource_matches(const json_t *resources, const char *res, const char *sub)
{
	char combined[256];
	snprintf(combined, sizeof(combined), "%s%s%s", res, sub ? "/" : "", sub ? sub : "");
	size_t i;
	json_t *v;
	json_array_foreach (resources, i, v) {
		const char *s = json_string_value(v);
		if (!s)
			continue;
		if (streq(s, "*") || streq(s, combined))
			return true;
		if (sub) {
			/* "*\/scale": that subresource of anything; "pods/\*": any of pods'. */
			const char *slash = strchr(s, '/');
			if (slash && streq(slash + 1, sub) && slash - s == 1 && s[0] == '*')
				return true;
			if (slash && streq(slash + 1, "*") && (size_t)(slash - s) == strlen(res) &&
			    !strncmp(s, res, strlen(res)))
				return true;
		}
	}
	return false;
}

static bool
path_matches(const json_t *urls, const char *path)
{
	size_t i;
	json_t *v;
	json_array_foreach (urls, i, v) {
		const char *s = json_string_value(v);
		if (!s)
			continue;
		size_t n = strlen(s);
		if (streq(s, "*") || streq(s, path))
			return true;
		if (n && s[n - 1] == '*' && !strncmp(s, path, n - 1))
			return true;
	}
	return false;
}

static bool
rule_allows(const json_t *rule, const struct attrs *a)
{
	if (!list_has(json_object_get(rule, "verbs"), a->verb))
		return false;
	if (!a->resource)
		return path_matches(json_object_get(rule, "nonResourceURLs"), a->path);
	if (!list_has(json_object_get(rule, "apiGroups"), a->group) ||
	    !resource_matches(json_object_get(rule, "resources"), a->res, a->sub))
		return false;
	const json_t *names = json_object_get(rule, "resourceNames");
	if (json_array_size(names) == 0)
		return true;
	return a->name && list_has(names, a->name);
}

static bool
rules_allow(const json_t *role, const struct attrs *a)
{
	size_t i;
	json_t *rule;
	json_array_foreach (json_object_get(role, "rules"), i, rule)
		if (rule_allows(rule, a))
			return true;
	return false;
}

static bool
subject_matches(const json_t *s, const struct user *u, const char *binding_ns)
{
	const char *kind = json_string_value(json_object_get(s, "kind"));
	const char *name = json_string_value(json_object_get(s, "name"));
	if (!name)
		return false;
	if (streq(kind, "User"))
		return streq(name, u->name);
	if (streq(kind, "Group"))
		return user_in_group(u, name);
	if (streq(kind, "ServiceAccount")) {
		const char *ns = json_string_value(json_object_get(s, "namespace"));
		if (!ns || !*ns)
			ns = binding_ns;
		char sa[600];
		snprintf(sa, sizeof(sa), "system:serviceaccount:%s:%s", ns ? ns : "", name);
		return streq(sa, u->name);
	}
	return false;
}

struct scan {
	struct rbac *r;        /* the caches */
	const struct attrs *a; /* what is asked */
	bool cluster;          /* scanning ClusterRoleBindings */
	bool allowed;          /* the answer so far */
};

static void
check_binding(const json_t *b, void *userdata)
{
	struct scan *sc = userdata;
	if (sc->allowed)
		return;
	const char *bns =
		json_string_value(json_object_get(json_object_get(b, "metadata"), "namespace"));
	if (!sc->cluster && !streq(bns, sc->a->ns))
		return;
	bool match = false;
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(b, "subjects"), i, s)
		match = match || subject_matches(s, sc->a->user, bns);
	if (!match)
		return;
	const json_t *ref = json_object_get(b, "roleRef");
	const char *kind = json_string_value(json_object_get(ref, "kind"));
	const char *name = json_string_value(json_object_get(ref, "name"));
	const json_t *role = NULL;
	if (streq(kind, "ClusterRole"))
		role = informer_get(sc->r->cluster_roles, NULL, name);
	else if (streq(kind, "Role") && !sc->cluster)
		role = informer_get(sc->r->roles, bns, name);
	if (role && rules_allow(role, sc->a))
		sc->allowed = true;
}

static bool
rbac_allows(struct rbac *r, const struct attrs *a)
{
	if (user_in_group(a->user, "system:masters"))
		return true;
	struct scan sc = { .r = r, .a = a, .cluster = true };
	informer_foreach(r->cluster_bindings, check_binding, &sc);
	if (!sc.allowed && a->resource && a->ns && *a->ns) {
		sc.cluster = false;
		informer_foreach(r->bindings, check_binding, &sc);
	}
	return sc.allowed;
}

/* ---- the node authorizer ---- */

enum decision { NO_OPINION, ALLOW, DENY };

static bool
is_read(const char *verb)
{
	return streq(verb, "get") || streq(verb, "list") || streq(verb, "watch");
}

/* Reads a node agent makes: its pods and what they use, nodes, services, leases. */
static bool
node_readable(const char *group, const char *res)
{
	static const char *const core[] = { "pods",
					    "nodes",
					    "services",
					    "endpoints",
					    "configmaps",
					    "secrets",
					    "persistentvolumeclaims",
					    "persistentvolumes",
					    "namespaces",
					    "serviceaccounts" };
	if (!*group) {
		for (size_t i = 0; i < ARRAY_SIZE(core); i++)
			if (streq(res, core[i]))
				return true;
		return false;
	}
	return (streq(group, "discovery.k8s.io") && streq(res, "endpointslices")) ||
	       (streq(group, "coordination.k8s.io") && streq(res, "leases")) ||
	       (streq(group, "storage.k8s.io") && streq(res, "storageclasses"));
}

static enum decision
node_decide(struct rbac *r, const struct attrs *a, korch_error **err)
{
	const char *node = a->user->node;
	if (!node || !a->resource)
		return NO_OPINION;
	const char *res = a->res;
	if (is_read(a->verb) && !a->sub && node_readable(a->group, res))
		return ALLOW;
	if (!*a->group && streq(res, "nodes")) {
		if (streq(a->verb, "create") && !a->sub)
			return ALLOW;
		if (a->name && streq(a->name, node) && (!a->sub || streq(a->sub, "status")))
			return ALLOW;
		error_set(err, KORCH_EFORBIDDEN,
			  "nodes \"%s\" is forbidden: node \"%s\" is not allowed to modify node "
			  "\"%s\"",
			  a->name ? a->name : "", node, a->name ? a->name : "");
		return DENY;
	}
	if (streq(a->group, "coordination.k8s.io") && streq(res, "leases") &&
	    streq(a->ns, "kube-node-lease")) {
		if (streq(a->verb, "create") || (a->name && streq(a->name, node)))
			return ALLOW;
		error_set(err, KORCH_EFORBIDDEN,
			  "leases.coordination.k8s.io \"%s\" is forbidden: node \"%s\" may only "
			  "use its own lease",
			  a->name ? a->name : "", node);
		return DENY;
	}
	if (!*a->group && streq(res, "pods")) {
		if (a->name && (!a->sub || streq(a->sub, "status")) &&
		    (streq(a->verb, "update") || streq(a->verb, "patch") ||
		     streq(a->verb, "delete"))) {
			_cleanup_json_ json_t *pod = NULL;
			if (client_get(r->srv->client, kind_lookup("v1", "Pod"), a->ns, a->name,
				       &pod, NULL) == 0 &&
			    streq(json_string_value(json_object_get(json_object_get(pod, "spec"),
								    "nodeName")),
				  node))
				return ALLOW;
		}
		error_set(err, KORCH_EFORBIDDEN,
			  "pods \"%s\" is forbidden: node \"%s\" can only %s pods bound to it",
			  a->name ? a->name : "", node, a->verb);
		return DENY;
	}
	if (!*a->group && streq(res, "events") &&
	    (streq(a->verb, "create") || streq(a->verb, "patch") || streq(a->verb, "update")))
		return ALLOW;
	if (!*a->group && streq(res, "serviceaccounts") && streq(a->sub, "token") &&
	    streq(a->verb, "create"))
		return ALLOW;
	return NO_OPINION;
}

/* kube-apiserver's words for a denied request. */
static int
forbidden(const struct attrs *a, korch_error **err)
{
	if (!a->resource)
		return error_set(err, KORCH_EFORBIDDEN,
				 "forbidden: User \"%s\" cannot %s path \"%s\"", a->user->name,
				 a->verb, a->path);
	char title[400], res[256], scope[300];
	if (*a->group)
		snprintf(title, sizeof(title), "%s.%s", a->res, a->group);
	else
		snprintf(title, sizeof(title), "%s", a->res);
	if (a->name) {
		size_t n = strlen(title);
		snprintf(title + n, sizeof(title) - n, " \"%s\"", a->name);
	}
	snprintf(res, sizeof(res), "%s%s%s", a->res, a->sub ? "/" : "", a->sub ? a->sub : "");
	if (a->ns && *a->ns)
		snprintf(scope, sizeof(scope), "in the namespace \"%s\"", a->ns);
	else
		snprintf(scope, sizeof(scope), "at the cluster scope");
	return error_set(err, KORCH_EFORBIDDEN,
			 "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group "
			 "\"%s\" %s",
			 title, a->user->name, a->verb, res, a->group, scope);
}

int
rbac_check(struct rbac *r, const struct user *u, const char *verb, const char *group,
	   const char *res, const char *ns, const char *name, korch_error **err)
{
	struct attrs a = { .user = u,
			   .verb = verb,
			   .resource = true,
			   .group = group,
			   .res = res,
			   .ns = ns,
			   .name = name };
	if (rbac_allows(r, &a))
		return 0;
	return forbidden(&a, err);
}

int
rbac_authorize(struct rbac *r, const struct request *req, korch_error **err)
{
	const struct route *rt = &req->route;
	struct attrs a = { .user = &req->user, .verb = req->verb, .path = req->path };
	if (rt->type == ROUTE_RESOURCE) {
		a.resource = true;
		a.group = rt->kind->group;
		a.res = rt->resource;
		a.sub = rt->subresource;
		a.ns = rt->ns;
		a.name = rt->name;
		/* A namespace is its own namespace, for RoleBindings in it. */
		if (streq(rt->kind->kind, "Namespace") && rt->name)
			a.ns = rt->name;
	} else if (rt->type == ROUTE_METRICS) {
		a.resource = true;
		a.group = "metrics.k8s.io";
		a.res = rt->resource;
		a.ns = rt->ns;
		a.name = rt->name;
	}
	korch_error *e = NULL;
	enum decision d = node_decide(r, &a, &e);
	if (d == ALLOW)
		return 0;
	if (d == DENY)
		return error_propagate(err, &e, KORCH_EFORBIDDEN);
	if (rbac_allows(r, &a))
		return 0;
	return forbidden(&a, err);
}

/* ---- the default roles ---- */

/*
 * kube-apiserver's bootstrap policy for the kinds korch serves: the user-facing roles (view is
 * contained in edit, edit in admin) and the discovery roles every client needs.
 */
static const char view_rules[] =
	"[{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"endpoints\","
	"\"persistentvolumeclaims\",\"persistentvolumeclaims/status\",\"pods\","
	"\"replicationcontrollers\",\"replicationcontrollers/scale\",\"serviceaccounts\","
	"\"services\",\"services/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"bindings\",\"events\",\"limitranges\","
	"\"namespaces/status\",\"pods/log\",\"pods/status\",\"replicationcontrollers/status\","
	"\"resourcequotas\",\"resourcequotas/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"namespaces\"],\"verbs\":[\"get\",\"list\","
	"\"watch\"]},"
	"{\"apiGroups\":[\"discovery.k8s.io\"],\"resources\":[\"endpointslices\"],\"verbs\":["
	"\"get\",\"list\",\"watch\"]},"
	"{\"apiGroups\":[\"apps\"],\"resources\":[\"controllerrevisions\",\"daemonsets\","
	"\"daemonsets/status\",\"deployments\",\"deployments/scale\",\"deployments/status\","
	"\"replicasets\",\"replicasets/scale\",\"replicasets/status\",\"statefulsets\","
	"\"statefulsets/scale\",\"statefulsets/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
	"{\"apiGroups\":[\"autoscaling\"],\"resources\":[\"horizontalpodautoscalers\","
	"\"horizontalpodautoscalers/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
	"{\"apiGroups\":[\"batch\"],\"resources\":[\"cronjobs\",\"cronjobs/status\",\"jobs\","
	"\"jobs/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
	"{\"apiGroups\":[\"metrics.k8s.io\"],\"resources\":[\"pods\",\"nodes\"],\"verbs\":["
	"\"get\",\"list\",\"watch\"]}]";

static const char edit_rules[] =
	"[{\"apiGroups\":[\"\"],\"resources\":[\"pods/attach\",\"pods/exec\","
	"\"pods/portforward\",\"pods/proxy\",\"secrets\",\"services/proxy\"],\"verbs\":[\"get\","
	"\"list\",\"watch\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"serviceaccounts\"],\"verbs\":[\"impersonate\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/attach\",\"pods/exec\","
	"\"pods/portforward\",\"pods/proxy\"],\"verbs\":[\"create\",\"delete\","
	"\"deletecollection\",\"patch\",\"update\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"pods/eviction\",\"serviceaccounts/token\"],"
	"\"verbs\":[\"create\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"events\",\"persistentvolumeclaims\","
	"\"replicationcontrollers\",\"replicationcontrollers/scale\",\"secrets\","
	"\"serviceaccounts\",\"services\",\"services/proxy\"],\"verbs\":[\"create\",\"delete\","
	"\"deletecollection\",\"patch\",\"update\"]},"
	"{\"apiGroups\":[\"apps\"],\"resources\":[\"daemonsets\",\"deployments\","
	"\"deployments/rollback\",\"deployments/scale\",\"replicasets\",\"replicasets/scale\","
	"\"statefulsets\",\"statefulsets/scale\"],\"verbs\":[\"create\",\"delete\","
	"\"deletecollection\",\"patch\",\"update\"]},"
	"{\"apiGroups\":[\"autoscaling\"],\"resources\":[\"horizontalpodautoscalers\"],"
	"\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"patch\",\"update\"]},"
	"{\"apiGroups\":[\"batch\"],\"resources\":[\"cronjobs\",\"jobs\"],\"verbs\":[\"create\","
	"\"delete\",\"deletecollection\",\"patch\",\"update\"]}]";

static const char admin_rules[] =
	"[{\"apiGroups\":[\"rbac.authorization.k8s.io\"],\"resources\":[\"rolebindings\","
	"\"roles\"],\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"get\",\"list\","
	"\"patch\",\"update\",\"watch\"]},"
	"{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"localsubjectaccessreviews\"],"
	"\"verbs\":[\"create\"]}]";

static const char cluster_admin_rules[] =
	"[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
	"{\"nonResourceURLs\":[\"*\"],\"verbs\":[\"*\"]}]";

static const char discovery_rules[] =
	"[{\"nonResourceURLs\":[\"/api\",\"/api/*\",\"/apis\",\"/apis/*\",\"/healthz\","
	"\"/livez\",\"/openapi\",\"/openapi/*\",\"/readyz\",\"/version\",\"/version/\"],"
	"\"verbs\":[\"get\"]}]";

static const char public_info_rules[] =
	"[{\"nonResourceURLs\":[\"/healthz\",\"/livez\",\"/readyz\",\"/version\",\"/version/\"],"
	"\"verbs\":[\"get\"]}]";

static json_t *
parse(const char *text)
{
	json_t *v = NULL;
	codec_json_decode(text, strlen(text), &v, NULL);
	return v;
}

static json_t *
concat(json_t *a, json_t *b)
{
	json_array_extend(a, b);
	json_decref(b);
	return a;
}

static json_t *
bootstrap_meta(const char *name)
{
	return json_pack("{s:s, s:{s:s}, s:{s:s}}", "name", name, "labels",
			 "kubernetes.io/bootstrapping", "rbac-defaults", "annotations",
			 "rbac.authorization.kubernetes.io/autoupdate", "true");
}

static int
apply_one(struct client *c, json_t *obj, korch_error **err)
{
	if (!obj)
		return error_oom(err);
	struct client_write_opts o = { .field_manager = "korch-rbac-bootstrap", .force = true };
	int r = client_apply(c, obj, &o, NULL, err);
	json_decref(obj);
	return r;
}

static json_t *
cluster_role(const char *name, json_t *rules)
{
	return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", RBAC_GROUP "/v1", "kind",
			 "ClusterRole", "metadata", bootstrap_meta(name), "rules", rules);
}

static json_t *
group_binding(const char *name, const char *role, const char *g1, const char *g2)
{
	json_t *subjects =
		json_pack("[{s:s, s:s, s:s}]", "apiGroup", RBAC_GROUP, "kind", "Group", "name", g1);
	if (g2)
		json_array_append_new(subjects, json_pack("{s:s, s:s, s:s}", "apiGroup", RBAC_GROUP,
							  "kind", "Group", "name", g2));
	return json_pack("{s:s, s:s, s:o, s:{s:s, s:s, s:s}, s:o}", "apiVersion", RBAC_GROUP "/v1",
			 "kind", "ClusterRoleBinding", "metadata", bootstrap_meta(name), "roleRef",
			 "apiGroup", RBAC_GROUP, "kind", "ClusterRole", "name", role, "subjects",
			 subjects);
}

int
rbac_bootstrap(struct client *c, korch_error **err)
{
	json_t *objs[] = {
		cluster_role("cluster-admin", parse(cluster_admin_rules)),
		cluster_role("admin", concat(concat(parse(view_rules), parse(edit_rules)),
					     parse(admin_rules))),
		cluster_role("edit", concat(parse(view_rules), parse(edit_rules))),
		cluster_role("view", parse(view_rules)),
		cluster_role("system:discovery", parse(discovery_rules)),
		cluster_role("system:public-info-viewer", parse(public_info_rules)),
		group_binding("cluster-admin", "cluster-admin", "system:masters", NULL),
		group_binding("system:discovery", "system:discovery", "system:authenticated", NULL),
		group_binding("system:public-info-viewer", "system:public-info-viewer",
			      "system:authenticated", "system:unauthenticated"),
	};
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(objs); i++) {
		if (r == 0)
			r = apply_one(c, objs[i], err);
		else
			json_decref(objs[i]);
	}
	return r;
}
