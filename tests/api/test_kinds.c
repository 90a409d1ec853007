/*
 * The kinds registry: the discovery facts of every kind, every lookup spelling, and the errors
 * for unknown kinds, unserved versions and missing apiVersion or kind.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "base/util.h"

/* What Kubernetes 1.32's discovery says of each kind; short names and categories joined by ",". */
static const struct expected_kind {
	const char *api_version;
	const char *kind;
	const char *plural;
	const char *singular;
	const char *short_names;
	const char *categories;
	bool namespaced;
	unsigned subresources;
	const char *schema;
} expected[] = {
	{ "v1", "Namespace", "namespaces", "namespace", "ns", "", false,
	  KIND_SUB_STATUS | KIND_SUB_FINALIZE, "io.k8s.api.core.v1.Namespace" },
	{ "v1", "Pod", "pods", "pod", "po", "all", true,
	  KIND_SUB_STATUS | KIND_SUB_BINDING | KIND_SUB_LOG | KIND_SUB_EXEC | KIND_SUB_EVICTION |
		  KIND_SUB_PROXY | KIND_SUB_ATTACH | KIND_SUB_PORTFORWARD |
		  KIND_SUB_EPHEMERALCONTAINERS,
	  "io.k8s.api.core.v1.Pod" },
	{ "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", "rc",
	  "all", true, KIND_SUB_STATUS | KIND_SUB_SCALE,
	  "io.k8s.api.core.v1.ReplicationController" },
	{ "apps/v1", "ReplicaSet", "replicasets", "replicaset", "rs", "all", true,
	  KIND_SUB_STATUS | KIND_SUB_SCALE, "io.k8s.api.apps.v1.ReplicaSet" },
	{ "apps/v1", "Deployment", "deployments", "deployment", "deploy", "all", true,
	  KIND_SUB_STATUS | KIND_SUB_SCALE, "io.k8s.api.apps.v1.Deployment" },
	{ "apps/v1", "StatefulSet", "statefulsets", "statefulset", "sts", "all", true,
	  KIND_SUB_STATUS | KIND_SUB_SCALE, "io.k8s.api.apps.v1.StatefulSet" },
	{ "apps/v1", "ControllerRevision", "controllerrevisions", "controllerrevision", "", "",
	  true, 0, "io.k8s.api.apps.v1.ControllerRevision" },
	{ "apps/v1", "DaemonSet", "daemonsets", "daemonset", "ds", "all", true, KIND_SUB_STATUS,
	  "io.k8s.api.apps.v1.DaemonSet" },
	{ "v1", "Service", "services", "service", "svc", "all", true,
	  KIND_SUB_STATUS | KIND_SUB_PROXY, "io.k8s.api.core.v1.Service" },
	{ "v1", "Endpoints", "endpoints", "endpoints", "ep", "", true, 0,
	  "io.k8s.api.core.v1.Endpoints" },
	{ "discovery.k8s.io/v1", "EndpointSlice", "endpointslices", "endpointslice", "", "", true,
	  0, "io.k8s.api.discovery.v1.EndpointSlice" },
	{ "batch/v1", "Job", "jobs", "job", "", "all", true, KIND_SUB_STATUS,
	  "io.k8s.api.batch.v1.Job" },
	{ "batch/v1", "CronJob", "cronjobs", "cronjob", "cj", "all", true, KIND_SUB_STATUS,
	  "io.k8s.api.batch.v1.CronJob" },
	{ "autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
	  "horizontalpodautoscaler", "hpa", "all", true, KIND_SUB_STATUS,
	  "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler" },
	{ "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", "pv", "", false,
	  KIND_SUB_STATUS, "io.k8s.api.core.v1.PersistentVolume" },
	{ "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", "pvc",
	  "", true, KIND_SUB_STATUS, "io.k8s.api.core.v1.PersistentVolumeClaim" },
	{ "storage.k8s.io/v1", "StorageClass", "storageclasses", "storageclass", "sc", "", false, 0,
	  "io.k8s.api.storage.v1.StorageClass" },
	{ "v1", "ConfigMap", "configmaps", "configmap", "cm", "", true, 0,
	  "io.k8s.api.core.v1.ConfigMap" },
	{ "v1", "Secret", "secrets", "secret", "", "", true, 0, "io.k8s.api.core.v1.Secret" },
	{ "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", "sa", "", true,
	  KIND_SUB_TOKEN, "io.k8s.api.core.v1.ServiceAccount" },
	{ "rbac.authorization.k8s.io/v1", "Role", "roles", "role", "", "", true, 0,
	  "io.k8s.api.rbac.v1.Role" },
	{ "rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", "clusterrole", "", "",
	  false, 0, "io.k8s.api.rbac.v1.ClusterRole" },
	{ "rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", "rolebinding", "", "",
	  true, 0, "io.k8s.api.rbac.v1.RoleBinding" },
	{ "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings",
	  "clusterrolebinding", "", "", false, 0, "io.k8s.api.rbac.v1.ClusterRoleBinding" },
	{ "scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", "priorityclass", "pc", "",
	  false, 0, "io.k8s.api.scheduling.v1.PriorityClass" },
	{ "v1", "Node", "nodes", "node", "no", "", false, KIND_SUB_STATUS | KIND_SUB_PROXY,
	  "io.k8s.api.core.v1.Node" },
	{ "coordination.k8s.io/v1", "Lease", "leases", "lease", "", "", true, 0,
	  "io.k8s.api.coordination.v1.Lease" },
	{ "v1", "Event", "events", "event", "ev", "", true, 0, "io.k8s.api.core.v1.Event" },
	/* korch's own kind */
	{ "gitops.korch.io/v1", "GitRepository", "gitrepositories", "gitrepository", "gitrepo", "",
	  true, KIND_SUB_STATUS, "io.korch.gitops.v1.GitRepository" },
};

#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static void
join(const char *const *v, char *buf, size_t size)
{
	buf[0] = '\0';
	for (; *v; v++) {
		if (buf[0])
			strncat(buf, ",", size - strlen(buf) - 1);
		strncat(buf, *v, size - strlen(buf) - 1);
	}
}

static void
test_registry_facts(void **state)
{
	assert_int_equal(kind_registry_count, 29);
	assert_int_equal(N_EXPECTED, 29);
	for (size_t i = 0; i < N_EXPECTED; i++) {
		const struct expected_kind *e = &expected[i];
		const struct kind_info *k = kind_registry[i];
		char buf[64], names[128];
		assert_string_equal(kind_api_version(k, buf), e->api_version);
		assert_string_equal(k->kind, e->kind);
		assert_string_equal(k->plural, e->plural);
		assert_string_equal(k->singular, e->singular);
		join(k->short_names, names, sizeof(names));
		assert_string_equal(names, e->short_names);
		join(k->categories, names, sizeof(names));
		assert_string_equal(names, e->categories);
		assert_int_equal(k->namespaced, e->namespaced);
		assert_int_equal(k->subresources, e->subresources);
		assert_non_null(k->schema);
		assert_string_equal(k->schema->name, e->schema);
		/* every kind is validated; which ones have defaults, test_defaults.c checks */
		assert_non_null(k->validate);
		const char *slash = strchr(e->api_version, '/');
		if (slash) {
			assert_int_equal(strlen(k->group), (size_t)(slash - e->api_version));
			assert_memory_equal(k->group, e->api_version, strlen(k->group));
			assert_string_equal(k->version, slash + 1);
		} else {
			assert_string_equal(k->group, "");
			assert_string_equal(k->version, e->api_version);
		}
	}
}

static void
test_api_version(void **state)
{
	char buf[64];
	assert_string_equal(kind_api_version(kind_lookup("v1", "Pod"), buf), "v1");
	assert_string_equal(kind_api_version(kind_lookup("apps/v1", "Deployment"), buf), "apps/v1");
	assert_string_equal(
		kind_api_version(kind_lookup("rbac.authorization.k8s.io/v1", "Role"), buf),
		"rbac.authorization.k8s.io/v1");
}

static void
test_lookup(void **state)
{
	for (size_t i = 0; i < N_EXPECTED; i++)
		assert_ptr_equal(kind_lookup(expected[i].api_version, expected[i].kind),
				 kind_registry[i]);
	assert_null(kind_lookup("v1", "Deployment"));
	assert_null(kind_lookup("apps/v1", "Pod"));
	assert_null(kind_lookup("extensions/v1beta1", "Deployment"));
	assert_null(kind_lookup("apps/v1beta2", "Deployment"));
	assert_null(kind_lookup("batch/v1beta1", "CronJob"));
	assert_null(kind_lookup("autoscaling/v1", "HorizontalPodAutoscaler"));
	assert_null(kind_lookup("apps/v1", "deployment")); /* kinds are case-sensitive */
	assert_null(kind_lookup("Apps/v1", "Deployment"));
	assert_null(kind_lookup("networking.k8s.io/v1", "Ingress"));
	assert_null(kind_lookup("", "Pod"));
	assert_null(kind_lookup("core/v1", "Pod"));
	assert_null(kind_lookup("apps/v1/x", "Deployment"));
	assert_null(kind_lookup(NULL, "Pod"));
	assert_null(kind_lookup("v1", NULL));
}

static void
upper(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

/* name, NAME, name.group, NAME.GROUP, name.version.group all find k; name.wrong does not. */
static void
assert_spellings(const char *name, const struct kind_info *k)
{
	char buf[256];
	assert_ptr_equal(kind_lookup_resource(name), k);
	snprintf(buf, sizeof(buf), "%s", name);
	upper(buf);
	assert_ptr_equal(kind_lookup_resource(buf), k);
	if (k->group[0]) {
		snprintf(buf, sizeof(buf), "%s.%s", name, k->group);
		assert_ptr_equal(kind_lookup_resource(buf), k);
		upper(buf);
		assert_ptr_equal(kind_lookup_resource(buf), k);
		snprintf(buf, sizeof(buf), "%s.%s.%s", name, k->version, k->group);
		assert_ptr_equal(kind_lookup_resource(buf), k);
		snprintf(buf, sizeof(buf), "%s.v0.%s", name, k->group);
		assert_null(kind_lookup_resource(buf));
	}
	snprintf(buf, sizeof(buf), "%s.example.com", name);
	assert_null(kind_lookup_resource(buf));
}

static void
test_lookup_resource_every_spelling(void **state)
{
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		assert_spellings(k->plural, k);
		assert_spellings(k->singular, k);
		assert_spellings(k->kind, k);
		for (const char *const *s = k->short_names; *s; s++)
			assert_spellings(*s, k);
	}
	assert_ptr_equal(kind_lookup_resource("po"), kind_lookup("v1", "Pod"));
	assert_ptr_equal(kind_lookup_resource("no"), kind_lookup("v1", "Node"));
	assert_ptr_equal(kind_lookup_resource("ev"), kind_lookup("v1", "Event"));
	assert_ptr_equal(kind_lookup_resource("Deploy"), kind_lookup("apps/v1", "Deployment"));
	assert_ptr_equal(kind_lookup_resource("deployments.apps"),
			 kind_lookup("apps/v1", "Deployment"));
	assert_ptr_equal(kind_lookup_resource("deploy.apps"), kind_lookup("apps/v1", "Deployment"));
	assert_ptr_equal(kind_lookup_resource("deployments.v1.apps"),
			 kind_lookup("apps/v1", "Deployment"));
	assert_ptr_equal(kind_lookup_resource("endpointslices.discovery.k8s.io"),
			 kind_lookup("discovery.k8s.io/v1", "EndpointSlice"));
	assert_ptr_equal(kind_lookup_resource("hpa.autoscaling"),
			 kind_lookup("autoscaling/v2", "HorizontalPodAutoscaler"));
	assert_ptr_equal(kind_lookup_resource("ClusterRoleBinding.rbac.authorization.k8s.io"),
			 kind_lookup("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"));
	assert_ptr_equal(kind_lookup_resource("endpoints"), kind_lookup("v1", "Endpoints"));

	assert_null(kind_lookup_resource("deployments.extensions"));
	assert_null(kind_lookup_resource("pods.apps"));
	assert_null(kind_lookup_resource("ingresses"));
	assert_null(kind_lookup_resource("ing"));
	assert_null(kind_lookup_resource("deployments."));
	assert_null(kind_lookup_resource("deployment s"));
	assert_null(kind_lookup_resource(""));
	assert_null(kind_lookup_resource(NULL));
	assert_null(kind_lookup_resource("all"));
}

static void
test_lookup_plural(void **state)
{
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		assert_ptr_equal(kind_lookup_plural(k->group, k->plural), k);
	}
	assert_ptr_equal(kind_lookup_plural(NULL, "pods"), kind_lookup("v1", "Pod"));
	assert_null(kind_lookup_plural("", "deployments"));
	assert_null(kind_lookup_plural("apps", "pods"));
	assert_null(kind_lookup_plural("", "Pods"));
	assert_null(kind_lookup_plural("", "pod"));
	assert_null(kind_lookup_plural("", "po"));
	assert_null(kind_lookup_plural("apps", NULL));
}

static void
assert_resolve_error(const char *api_version, const char *kind, int code, const char *message)
{
	const struct kind_info *k = (const struct kind_info *)0x1;
	korch_error *err = NULL;
	assert_int_equal(kind_resolve(api_version, kind, &k, &err), code);
	assert_ptr_equal(k, (const struct kind_info *)0x1);
	assert_int_equal(korch_error_code(err), code);
	assert_string_equal(korch_error_message(err), message);
	korch_error_free(err);
}

static void
test_resolve(void **state)
{
	const struct kind_info *k = NULL;
	assert_int_equal(kind_resolve("apps/v1", "Deployment", &k, NULL), 0);
	assert_ptr_equal(k, kind_lookup("apps/v1", "Deployment"));
	assert_int_equal(kind_resolve("v1", "Event", &k, NULL), 0);
	assert_string_equal(k->plural, "events");

	assert_resolve_error("example.com/v1", "Foo", KORCH_ENOTFOUND,
			     "no matches for kind \"Foo\" in version \"example.com/v1\"");
	assert_resolve_error(
		"extensions/v1beta1", "Deployment", KORCH_ENOTFOUND,
		"no matches for kind \"Deployment\" in version \"extensions/v1beta1\"");
	assert_resolve_error("apps/v1beta1", "StatefulSet", KORCH_ENOTFOUND,
			     "no matches for kind \"StatefulSet\" in version \"apps/v1beta1\"");
	assert_resolve_error("batch/v1beta1", "CronJob", KORCH_ENOTFOUND,
			     "no matches for kind \"CronJob\" in version \"batch/v1beta1\"");
	assert_resolve_error(
		"policy/v1beta1", "PodSecurityPolicy", KORCH_ENOTFOUND,
		"no matches for kind \"PodSecurityPolicy\" in version \"policy/v1beta1\"");
	assert_resolve_error("networking.k8s.io/v1", "Ingress", KORCH_ENOTFOUND,
			     "no matches for kind \"Ingress\" in version \"networking.k8s.io/v1\"");
	assert_resolve_error("v1", "pod", KORCH_ENOTFOUND,
			     "no matches for kind \"pod\" in version \"v1\"");
	assert_resolve_error("", "Deployment", KORCH_ENOTFOUND,
			     "no matches for kind \"Deployment\" in version \"\"");
	assert_resolve_error(NULL, "Pod", KORCH_EINVALID, "apiVersion not set");
	assert_resolve_error("v1", NULL, KORCH_EINVALID, "kind not set");
	assert_resolve_error("v1", "", KORCH_EINVALID, "kind not set");
	assert_resolve_error(NULL, NULL, KORCH_EINVALID, "[apiVersion not set, kind not set]");
	assert_resolve_error("apps/v1/extra", "Deployment", KORCH_EINVALID,
			     "unexpected GroupVersion string: apps/v1/extra");
}

static void
assert_resolve_object(const char *json, int code, const char *message)
{
	json_error_t jerr;
	json_t *obj = json_loads(json, 0, &jerr);
	assert_non_null(obj);
	const struct kind_info *k = NULL;
	korch_error *err = NULL;
	assert_int_equal(kind_resolve_object(obj, &k, &err), code);
	if (code == 0) {
		assert_null(err);
		assert_string_equal(k->kind, message);
	} else {
		assert_null(k);
		assert_string_equal(korch_error_message(err), message);
	}
	korch_error_free(err);
	json_decref(obj);
}

static void
test_resolve_object(void **state)
{
	assert_resolve_object("{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\"}", 0, "CronJob");
	assert_resolve_object("{\"kind\":\"Pod\"}", KORCH_EINVALID, "apiVersion not set");
	assert_resolve_object("{\"apiVersion\":null,\"kind\":\"Pod\"}", KORCH_EINVALID,
			      "apiVersion not set");
	assert_resolve_object("{\"apiVersion\":\"v1\"}", KORCH_EINVALID, "kind not set");
	assert_resolve_object("{\"apiVersion\":1,\"metadata\":{}}", KORCH_EINVALID,
			      "[apiVersion isn't string type, kind not set]");
	assert_resolve_object("{\"apiVersion\":\"v1\",\"kind\":[\"Pod\"]}", KORCH_EINVALID,
			      "kind isn't string type");
	assert_resolve_object(
		"{\"apiVersion\":\"extensions/v1beta1\",\"kind\":\"Deployment\"}", KORCH_ENOTFOUND,
		"no matches for kind \"Deployment\" in version \"extensions/v1beta1\"");
	assert_resolve_object("[]", KORCH_EINVALID, "invalid object to validate");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_facts),
		cmocka_unit_test(test_api_version),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_lookup_resource_every_spelling),
		cmocka_unit_test(test_lookup_plural),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_resolve_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
