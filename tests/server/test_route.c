/*
 * What request paths name: every form kubectl and client libraries use, and what is no route.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "base/util.h"
#include "server/server-internal.h"

static struct route
parse(const char *path)
{
	struct route r;
	assert_int_equal(route_parse(path, &r), 0);
	return r;
}

static void
expect_resource(const char *path, const char *kind, const char *ns, const char *name,
		const char *sub, bool legacy_watch)
{
	struct route r = parse(path);
	if (r.type != ROUTE_RESOURCE)
		fail_msg("%s: not a resource route", path);
	assert_string_equal(r.kind->kind, kind);
	if (ns)
		assert_string_equal(r.ns, ns);
	else
		assert_null(r.ns);
	if (name)
		assert_string_equal(r.name, name);
	else
		assert_null(r.name);
	if (sub)
		assert_string_equal(r.subresource, sub);
	else
		assert_null(r.subresource);
	assert_int_equal(r.legacy_watch, legacy_watch);
	route_clear(&r);
}

static void
expect_type(const char *path, enum route_type type)
{
	struct route r = parse(path);
	if (r.type != type)
		fail_msg("%s: route type %d, want %d", path, r.type, type);
	route_clear(&r);
}

static void
test_resources(void **state)
{
	expect_resource("/api/v1/pods", "Pod", NULL, NULL, NULL, false);
	expect_resource("/api/v1/namespaces/default/pods", "Pod", "default", NULL, NULL, false);
	expect_resource("/api/v1/namespaces/default/pods/web", "Pod", "default", "web", NULL,
			false);
	expect_resource("/api/v1/namespaces/default/pods/web/log", "Pod", "default", "web", "log",
			false);
	expect_resource("/api/v1/namespaces/default/pods/web/exec", "Pod", "default", "web", "exec",
			false);
	expect_resource("/api/v1/namespaces/default/pods/web/binding", "Pod", "default", "web",
			"binding", false);
	expect_resource("/apis/apps/v1/namespaces/d/deployments/web/scale", "Deployment", "d",
			"web", "scale", false);
	expect_resource("/api/v1/namespaces/d/serviceaccounts/sa/token", "ServiceAccount", "d",
			"sa", "token", false);
	/* Namespaces are objects at /api/v1/namespaces/NAME, with their own subresources. */
	expect_resource("/api/v1/namespaces", "Namespace", NULL, NULL, NULL, false);
	expect_resource("/api/v1/namespaces/kube-system", "Namespace", NULL, "kube-system", NULL,
			false);
	expect_resource("/api/v1/namespaces/x/status", "Namespace", NULL, "x", "status", false);
	expect_resource("/api/v1/nodes/n1/status", "Node", NULL, "n1", "status", false);
	expect_resource("/apis/rbac.authorization.k8s.io/v1/clusterroles/view", "ClusterRole", NULL,
			"view", NULL, false);
	expect_resource("/api/v1/watch/namespaces/default/pods", "Pod", "default", NULL, NULL,
			true);
	expect_resource("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
			"Lease", "kube-node-lease", "n1", NULL, false);
}

static void
test_not_routes(void **state)
{
	/* Unknown resources, versions, groups; scope mismatches; bad subresources. */
	expect_type("/api/v1/foos", ROUTE_NONE);
	expect_type("/api/v2/pods", ROUTE_NONE);
	expect_type("/apis/apps/v1beta1/deployments", ROUTE_NONE);
	expect_type("/apis/example.com/v1/foos", ROUTE_NONE);
	expect_type("/api/v1/pods/web", ROUTE_NONE);
	expect_type("/api/v1/namespaces/default/nodes", ROUTE_NONE);
	expect_type("/api/v1/namespaces/default/configmaps/c/status", ROUTE_NONE);
	expect_type("/api/v1/namespaces/default/pods/web/log/extra", ROUTE_NONE);
	expect_type("/api/v1/namespaces/../pods", ROUTE_NONE);
	expect_type("/api//v1", ROUTE_NONE);
	expect_type("/openapi/v2", ROUTE_NONE);
	expect_type("", ROUTE_NONE);
}

static void
test_other_routes(void **state)
{
	expect_type("/version", ROUTE_VERSION);
	expect_type("/healthz", ROUTE_HEALTH);
	expect_type("/readyz/ping", ROUTE_HEALTH);
	expect_type("/livez", ROUTE_HEALTH);
	expect_type("/api", ROUTE_API);
	expect_type("/apis", ROUTE_APIS);
	expect_type("/apis/apps", ROUTE_GROUP);
	expect_type("/api/v1", ROUTE_GROUP_VERSION);
	expect_type("/apis/batch/v1", ROUTE_GROUP_VERSION);
	expect_type("/apis/metrics.k8s.io/v1beta1", ROUTE_GROUP_VERSION);
	expect_type("/openapi/v3", ROUTE_OPENAPI_ROOT);
	expect_type("/openapi/v3/api/v1", ROUTE_OPENAPI_GV);
	expect_type("/openapi/v3/apis/apps/v1", ROUTE_OPENAPI_GV);
	struct route r = parse("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web");
	assert_int_equal(r.type, ROUTE_METRICS);
	assert_string_equal(r.resource, "pods");
	assert_string_equal(r.ns, "default");
	assert_string_equal(r.name, "web");
	route_clear(&r);
	r = parse("/apis/metrics.k8s.io/v1beta1/nodes");
	assert_int_equal(r.type, ROUTE_METRICS);
	assert_string_equal(r.resource, "nodes");
	assert_null(r.ns);
	route_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_not_routes),
		cmocka_unit_test(test_other_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
