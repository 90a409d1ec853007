/*
 * kinds.c - the kinds registry: the 29 kinds korch knows (28 of Kubernetes 1.32, with the names,
 * scope and subresources its discovery reports for each, and korch's own GitRepository), and
 * their lookups.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/kinds.h"
#include "api/validate-internal.h"
#include "base/error.h"
#include "base/util.h"

static const char *const no_names[] = { NULL };
static const char *const category_all[] = { "all", NULL };

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Facts from Kubernetes 1.32 discovery (api/discovery/ in the kubernetes repository). */
static const struct kind_info kinds[] = {
	{ "", "v1", "Namespace", "namespaces", "namespace", NAMES("ns"), no_names, false,
	  KIND_SUB_STATUS | KIND_SUB_FINALIZE, &schema_core_v1_Namespace, defaults_namespace,
	  validate_namespace },
	{ "", "v1", "Pod", "pods", "pod", NAMES("po"), category_all, true,
	  KIND_SUB_STATUS | KIND_SUB_BINDING | KIND_SUB_LOG | KIND_SUB_EXEC | KIND_SUB_EVICTION |
		  KIND_SUB_PROXY | KIND_SUB_ATTACH | KIND_SUB_PORTFORWARD |
		  KIND_SUB_EPHEMERALCONTAINERS,
	  &schema_core_v1_Pod, defaults_pod, validate_pod },
	{ "", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller",
	  NAMES("rc"), category_all, true, KIND_SUB_STATUS | KIND_SUB_SCALE,
	  &schema_core_v1_ReplicationController, defaults_replication_controller,
	  validate_replication_controller },
	{ "apps", "v1", "ReplicaSet", "replicasets", "replicaset", NAMES("rs"), category_all, true,
	  KIND_SUB_STATUS | KIND_SUB_SCALE, &schema_apps_v1_ReplicaSet, defaults_replica_set,
	  validate_replica_set },
	{ "apps", "v1", "Deployment", "deployments", "deployment", NAMES("deploy"), category_all,
	  true, KIND_SUB_STATUS | KIND_SUB_SCALE, &schema_apps_v1_Deployment, defaults_deployment,
	  validate_deployment },
	{ "apps", "v1", "StatefulSet", "statefulsets", "statefulset", NAMES("sts"), category_all,
	  true, KIND_SUB_STATUS | KIND_SUB_SCALE, &schema_apps_v1_StatefulSet,
	  defaults_stateful_set, validate_stateful_set },
	{ "apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", no_names,
	  no_names, true, 0, &schema_apps_v1_ControllerRevision, NULL,
	  validate_controller_revision },
	{ "apps", "v1", "DaemonSet", "daemonsets", "daemonset", NAMES("ds"), category_all, true,
	  KIND_SUB_STATUS, &schema_apps_v1_DaemonSet, defaults_daemon_set, validate_daemon_set },
	{ "", "v1", "Service", "services", "service", NAMES("svc"), category_all, true,
	  KIND_SUB_STATUS | KIND_SUB_PROXY, &schema_core_v1_Service, defaults_service,
	  validate_service },
	{ "", "v1", "Endpoints", "endpoints", "endpoints", NAMES("ep"), no_names, true, 0,
	  &schema_core_v1_Endpoints, defaults_endpoints, validate_endpoints },
	{ "discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", no_names,
	  no_names, true, 0, &schema_discovery_v1_EndpointSlice, defaults_endpoint_slice,
	  validate_endpoint_slice },
	{ "batch", "v1", "Job", "jobs", "job", no_names, category_all, true, KIND_SUB_STATUS,
	  &schema_batch_v1_Job, defaults_job, validate_job },
	{ "batch", "v1", "CronJob", "cronjobs", "cronjob", NAMES("cj"), category_all, true,
	  KIND_SUB_STATUS, &schema_batch_v1_CronJob, defaults_cron_job, validate_cron_job },
	{ "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
	  "horizontalpodautoscaler", NAMES("hpa"), category_all, true, KIND_SUB_STATUS,
	  &schema_autoscaling_v2_HorizontalPodAutoscaler, defaults_hpa, validate_hpa },
	{ "", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", NAMES("pv"),
	  no_names, false, KIND_SUB_STATUS, &schema_core_v1_PersistentVolume,
	  defaults_persistent_volume, validate_persistent_volume },
	{ "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim",
	  NAMES("pvc"), no_names, true, KIND_SUB_STATUS, &schema_core_v1_PersistentVolumeClaim,
	  defaults_persistent_volume_claim, validate_persistent_volume_claim },
	{ "storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", NAMES("sc"),
	  no_names, false, 0, &schema_storage_v1_StorageClass, defaults_storage_class,
	  validate_storage_class },
	{ "", "v1", "ConfigMap", "configmaps", "configmap", NAMES("cm"), no_names, true, 0,
	  &schema_core_v1_ConfigMap, NULL, validate_config_map },
	{ "", "v1", "Secret", "secrets", "secret", no_names, no_names, true, 0,
	  &schema_core_v1_Secret, defaults_secret, validate_secret },
	{ "", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", NAMES("sa"), no_names,
	  true, KIND_SUB_TOKEN, &schema_core_v1_ServiceAccount, NULL, validate_service_account },
	{ "rbac.authorization.k8s.io", "v1", "Role", "roles", "role", no_names, no_names, true, 0,
	  &schema_rbac_v1_Role, NULL, validate_role },
	{ "rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", no_names,
	  no_names, false, 0, &schema_rbac_v1_ClusterRole, NULL, validate_cluster_role },
	{ "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", no_names,
	  no_names, true, 0, &schema_rbac_v1_RoleBinding, defaults_role_binding,
	  validate_role_binding },
	{ "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
	  "clusterrolebinding", no_names, no_names, false, 0, &schema_rbac_v1_ClusterRoleBinding,
	  defaults_role_binding, validate_cluster_role_binding },
	{ "scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass",
	  NAMES("pc"), no_names, false, 0, &schema_scheduling_v1_PriorityClass,
	  defaults_priority_class, validate_priority_class },
	{ "", "v1", "Node", "nodes", "node", NAMES("no"), no_names, false,
	  KIND_SUB_STATUS | KIND_SUB_PROXY, &schema_core_v1_Node, defaults_node, validate_node },
	{ "coordination.k8s.io", "v1", "Lease", "leases", "lease", no_names, no_names, true, 0,
	  &schema_coordination_v1_Lease, NULL, validate_lease },
	{ "", "v1", "Event", "events", "event", NAMES("ev"), no_names, true, 0,
	  &schema_core_v1_Event, NULL, validate_event },
	/* korch's own: the GitOps source (lib/gitops), with Flux's short name. */
	{ "gitops.korch.io", "v1", "GitRepository", "gitrepositories", "gitrepository",
	  NAMES("gitrepo"), no_names, true, KIND_SUB_STATUS, &schema_gitops_v1_GitRepository,
	  defaults_git_repository, validate_git_repository },
};

const struct kind_info *const kind_registry[] = {
	&kinds[0],  &kinds[1],  &kinds[2],  &kinds[3],  &kinds[4],  &kinds[5],
	&kinds[6],  &kinds[7],  &kinds[8],  &kinds[9],  &kinds[10], &kinds[11],
	&kinds[12], &kinds[13], &kinds[14], &kinds[15], &kinds[16], &kinds[17],
	&kinds[18], &kinds[19], &kinds[20], &kinds[21], &kinds[22], &kinds[23],
	&kinds[24], &kinds[25], &kinds[26], &kinds[27], &kinds[28],
};
const size_t kind_registry_count = sizeof(kinds) / sizeof(kinds[0]);

_Static_assert(sizeof(kind_registry) / sizeof(kind_registry[0]) == sizeof(kinds) / sizeof(kinds[0]),
	       "kind_registry lists every kind");

const char *
kind_api_version(const struct kind_info *k, char buf[static 64])
{
	if (k->group[0])
		snprintf(buf, 64, "%s/%s", k->group, k->version);
	else
		snprintf(buf, 64, "%s", k->version);
	return buf;
}

/*
 * Splits an apiVersion the way Kubernetes' schema.ParseGroupVersion does: "v1" is the core
 * group, "apps/v1" a named one, "/" the empty group and version; more slashes are an error.
 * The group is the first *ret_group_len bytes of api_version.
 */
static int
split_api_version(const char *api_version, size_t *ret_group_len, const char **ret_version)
{
	const char *slash = strchr(api_version, '/');
	if (!slash) {
		*ret_group_len = 0;
		*ret_version = api_version;
		return 0;
	}
	if (strchr(slash + 1, '/'))
		return KORCH_EINVALID;
	*ret_group_len = (size_t)(slash - api_version);
	*ret_version = slash + 1;
	return 0;
}

const struct kind_info *
kind_lookup(const char *api_version, const char *kind)
{
	size_t group_len;
	const char *version;
	if (!api_version || !kind || split_api_version(api_version, &group_len, &version) < 0)
		return NULL;
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = &kinds[i];
		if (streq(k->kind, kind) && strlen(k->group) == group_len &&
		    !strncmp(k->group, api_version, group_len) && streq(k->version, version))
			return k;
	}
	return NULL;
}

static bool
names_match(const struct kind_info *k, const char *name)
{
	if (!strcasecmp(k->plural, name) || !strcasecmp(k->singular, name) ||
	    !strcasecmp(k->kind, name))
		return true;
	for (const char *const *s = k->short_names; *s; s++)
		if (!strcasecmp(*s, name))
			return true;
	return false;
}

/* "apps", or "v1.apps" (version then group), as kubectl reads what follows the first dot. */
static bool
group_suffix_matches(const struct kind_info *k, const char *suffix)
{
	if (!strcasecmp(k->group, suffix))
		return true;
	const char *dot = strchr(suffix, '.');
	if (!dot)
		return false;
	size_t vlen = (size_t)(dot - suffix);
	return strlen(k->version) == vlen && !strncasecmp(k->version, suffix, vlen) &&
	       !strcasecmp(k->group, dot + 1);
}

const struct kind_info *
kind_lookup_resource(const char *name)
{
	if (!name || !*name)
		return NULL;
	char buf[256];
	if (strlen(name) >= sizeof(buf))
		return NULL;
	strcpy(buf, name);
	char *dot = strchr(buf, '.');
	const char *suffix = NULL;
	if (dot) {
		*dot = '\0';
		suffix = dot + 1;
		if (!*suffix)
			return NULL;
	}
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = &kinds[i];
		if (names_match(k, buf) && (!suffix || group_suffix_matches(k, suffix)))
			return k;
	}
	return NULL;
}

const struct kind_info *
kind_lookup_plural(const char *group, const char *plural)
{
	if (!plural)
		return NULL;
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = &kinds[i];
		if (streq(k->plural, plural) && streq(k->group, group ? group : ""))
			return k;
	}
	return NULL;
}

/* kubectl's aggregate of the missing-field errors: one as it is, several in brackets. */
static int
not_set_error(korch_error **err, const char *first, const char *second)
{
	if (first && second)
		return error_set(err, KORCH_EINVALID, "[%s, %s]", first, second);
	return error_set(err, KORCH_EINVALID, "%s", first ? first : second);
}

int
kind_resolve(const char *api_version, const char *kind, const struct kind_info **ret,
	     korch_error **err)
{
	bool no_kind = !kind || !*kind;
	if (!api_version || no_kind)
		return not_set_error(err, api_version ? NULL : "apiVersion not set",
				     no_kind ? "kind not set" : NULL);
	size_t group_len;
	const char *version;
	if (split_api_version(api_version, &group_len, &version) < 0)
		return error_set(err, KORCH_EINVALID, "unexpected GroupVersion string: %s",
				 api_version);
	const struct kind_info *k = kind_lookup(api_version, kind);
	if (!k)
		return error_set(err, KORCH_ENOTFOUND,
				 "no matches for kind \"%s\" in version \"%.*s%s%s\"", kind,
				 (int)group_len, api_version, group_len ? "/" : "", version);
	*ret = k;
	return 0;
}

int
kind_resolve_object(const json_t *obj, const struct kind_info **ret, korch_error **err)
{
	if (!json_is_object(obj))
		return error_set(err, KORCH_EINVALID, "invalid object to validate");
	const json_t *av = json_object_get(obj, "apiVersion");
	const json_t *kd = json_object_get(obj, "kind");
	const char *av_err = NULL, *kind_err = NULL;
	if (!av || json_is_null(av))
		av_err = "apiVersion not set";
	else if (!json_is_string(av))
		av_err = "apiVersion isn't string type";
	if (!kd || json_is_null(kd))
		kind_err = "kind not set";
	else if (!json_is_string(kd))
		kind_err = "kind isn't string type";
	if (av_err || kind_err)
		return not_set_error(err, av_err, kind_err);
	return kind_resolve(json_string_value(av), json_string_value(kd), ret, err);
}
