/*
 * The garbage collector (background, foreground and orphan cascading deletion, dangling
 * owners), the namespace controller (deleting a namespace empties it, with the deletion
 * conditions), the default ServiceAccount, and the bootstrap objects (system namespaces, the
 * `kubernetes` Service and its endpoints).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "controller/deployment.h"
#include "controller/manager.h"
#include "harness.h"

static const char web[] = "apiVersion: apps/v1\nkind: Deployment\n"
			  "metadata: {name: web, namespace: default}\n"
			  "spec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n"
			  "  template:\n    metadata: {labels: {app: web}}\n"
			  "    spec: {containers: [{name: c, image: nginx}]}\n";

static void
start(struct cluster *c)
{
	static const struct controller_manager_options o = { .no_leader_election = true,
							     .api_host = "192.168.1.10" };
	cluster_init(c, &o, false);
	c->schedule = true;
	add_node(c, "node-1");
	cluster_start(c);
}

static bool
rolled_out(struct cluster *c, void *userdata)
{
	_cleanup_json_ json_t *d = get_obj(c, "apps/v1", "Deployment", "default", "web");
	return d && deployment_rollout_status(d, NULL) == 1;
}

static void
deploy_web(struct cluster *c)
{
	create_yaml(c, web, NULL);
	assert_true(run_until(c, rolled_out, NULL, NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	assert_int_equal(count_objs(c, "apps/v1", "ReplicaSet", "default", NULL), 1);
	assert_int_equal(count_objs(c, "v1", "Pod", "default", "app=web"), 3);
}

static void
delete_web(struct cluster *c, enum client_propagation p)
{
	struct client_delete_opts o = { .grace_period_s = -1, .propagation = p };
	korch_error *err = NULL;
	if (client_delete(c->client, kind_lookup("apps/v1", "Deployment"), "default", "web", &o,
			  NULL, &err) < 0)
		fail_msg("delete: %s", korch_error_message(err));
}

static bool
all_gone(struct cluster *c, void *userdata)
{
	_cleanup_json_ json_t *d = get_obj(c, "apps/v1", "Deployment", "default", "web");
	return !d && count_objs(c, "apps/v1", "ReplicaSet", "default", NULL) == 0 &&
	       count_objs(c, "v1", "Pod", "default", "app=web") == 0;
}

static void
test_gc_background(void **state)
{
	struct cluster c;
	start(&c);
	deploy_web(&c);
	delete_web(&c, CLIENT_PROPAGATION_BACKGROUND);
	/* The Deployment goes at once; its ReplicaSet and pods follow. */
	_cleanup_json_ json_t *d = get_obj(&c, "apps/v1", "Deployment", "default", "web");
	assert_null(d);
	assert_true(run_until(&c, all_gone, NULL, NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	cluster_free(&c);
}

struct fg_watch {
	bool owner_outlived_pods; /* the Deployment existed as long as a pod did */
	bool broken;              /* a pod existed without the Deployment */
};

static void
check_foreground(struct cluster *c, void *userdata)
{
	struct fg_watch *w = userdata;
	_cleanup_json_ json_t *d = get_obj(c, "apps/v1", "Deployment", "default", "web");
	size_t pods = count_objs(c, "v1", "Pod", "default", "app=web");
	if (pods && !d)
		w->broken = true;
	if (pods && d)
		w->owner_outlived_pods = true;
}

static void
test_gc_foreground(void **state)
{
	struct cluster c;
	start(&c);
	deploy_web(&c);
	struct fg_watch w = { false, false };
	c.on_step = check_foreground;
	c.on_step_userdata = &w;
	delete_web(&c, CLIENT_PROPAGATION_FOREGROUND);
	_cleanup_json_ json_t *d = get_obj(&c, "apps/v1", "Deployment", "default", "web");
	assert_non_null(d);
	assert_non_null(jp_get(d, "metadata.deletionTimestamp"));
	assert_string_equal(json_string_value(json_array_get(jp_get(d, "metadata.finalizers"), 0)),
			    "foregroundDeletion");
	assert_true(run_until(&c, all_gone, NULL, NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	c.on_step = NULL;
	assert_true(w.owner_outlived_pods);
	assert_false(w.broken);
	cluster_free(&c);
}

static void
test_gc_orphan(void **state)
{
	struct cluster c;
	start(&c);
	deploy_web(&c);
	delete_web(&c, CLIENT_PROPAGATION_ORPHAN);
	settle(&c);
	advance(&c, 5 * NSEC_PER_SEC);
	_cleanup_json_ json_t *d = get_obj(&c, "apps/v1", "Deployment", "default", "web");
	assert_null(d);
	_cleanup_json_ json_t *rss = list_objs(&c, "apps/v1", "ReplicaSet", "default", NULL);
	assert_int_equal(json_array_size(rss), 1);
	assert_int_equal(
		json_array_size(jp_get(json_array_get(rss, 0), "metadata.ownerReferences")), 0);
	/* The orphaned ReplicaSet keeps its pods running. */
	assert_int_equal(count_objs(&c, "v1", "Pod", "default", "app=web"), 3);
	cluster_free(&c);
}

static void
test_gc_dangling_owner(void **state)
{
	struct cluster c;
	start(&c);
	create_yaml(
		&c,
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: child\n  namespace: default\n"
		"  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: parent, "
		"uid: 00000000-0000-0000-0000-000000000001}]\n",
		NULL);
	_cleanup_json_ json_t *parent = NULL;
	create_yaml(
		&c,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: parent2, namespace: default}\n",
		&parent);
	char text[1024];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  namespace: default\n"
		 "  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: parent2, uid: %s}, "
		 "{apiVersion: v1, kind: ConfigMap, name: gone, "
		 "uid: 00000000-0000-0000-0000-000000000002}]\n",
		 jp_str0(parent, "metadata.uid"));
	create_yaml(&c, text, NULL);
	settle(&c);
	_cleanup_json_ json_t *child = get_obj(&c, "v1", "ConfigMap", "default", "child");
	assert_null(child);
	/* With one owner left, only the dangling reference goes. */
	_cleanup_json_ json_t *kept = get_obj(&c, "v1", "ConfigMap", "default", "kept");
	assert_non_null(kept);
	assert_int_equal(json_array_size(jp_get(kept, "metadata.ownerReferences")), 1);
	assert_string_equal(
		jp_str(json_array_get(jp_get(kept, "metadata.ownerReferences"), 0), "name"),
		"parent2");
	cluster_free(&c);
}

static const json_t *
ns_condition(const json_t *ns, const char *type)
{
	return condition_get(ns, type);
}

static bool
ns_gone(struct cluster *c, void *userdata)
{
	_cleanup_json_ json_t *ns = get_obj(c, "v1", "Namespace", NULL, userdata);
	return ns == NULL;
}

static void
test_namespace_deletion_empties_it(void **state)
{
	struct cluster c;
	start(&c);
	create_yaml(&c, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n", NULL);
	settle(&c);
	/* The service account controller gives it its default ServiceAccount. */
	_cleanup_json_ json_t *sa = get_obj(&c, "v1", "ServiceAccount", "team", "default");
	assert_non_null(sa);
	char text[1024];
	snprintf(text, sizeof(text), "%s", web);
	char *p = strstr(text, "namespace: default");
	memcpy(p, "namespace: team   ", strlen("namespace: team   "));
	create_yaml(&c, text, NULL);
	create_yaml(&c,
		    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: team, "
		    "finalizers: [example.com/hold]}\n",
		    NULL);
	create_yaml(&c,
		    "apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: team}\n"
		    "spec: {selector: {app: web}, ports: [{port: 80}]}\n",
		    NULL);
	create_yaml(&c, "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: team}\n",
		    NULL);
	settle(&c);
	assert_int_equal(count_objs(&c, "v1", "Pod", "team", NULL), 3);
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Namespace"), NULL, "team", NULL,
				       NULL, NULL),
			 0);
	settle(&c);
	/* Everything went but the finalized ConfigMap. */
	_cleanup_json_ json_t *ns = get_obj(&c, "v1", "Namespace", NULL, "team");
	assert_non_null(ns);
	assert_string_equal(jp_str(ns, "status.phase"), "Terminating");
	assert_int_equal(count_objs(&c, "v1", "Pod", "team", NULL), 0);
	assert_int_equal(count_objs(&c, "apps/v1", "Deployment", "team", NULL), 0);
	assert_int_equal(count_objs(&c, "v1", "Service", "team", NULL), 0);
	assert_int_equal(count_objs(&c, "v1", "ServiceAccount", "team", NULL), 0);
	const json_t *cr = ns_condition(ns, "NamespaceContentRemaining");
	assert_string_equal(jp_str(cr, "status"), "True");
	assert_string_equal(jp_str(cr, "reason"), "SomeResourcesRemain");
	assert_string_equal(jp_str(cr, "message"),
			    "Some resources are remaining: configmaps. has 1 resource instances");
	const json_t *fr = ns_condition(ns, "NamespaceFinalizersRemaining");
	assert_string_equal(jp_str(fr, "message"),
			    "Some content in the namespace has finalizers remaining: "
			    "example.com/hold in 1 resource instances");
	assert_string_equal(jp_str(ns_condition(ns, "NamespaceDeletionContentFailure"), "reason"),
			    "ContentDeleted");
	/* The finalizer goes; so does the namespace. */
	_cleanup_json_ json_t *held = get_obj(&c, "v1", "ConfigMap", "team", "held");
	json_object_set_new(json_object_get(held, "metadata"), "finalizers", json_array());
	assert_int_equal(client_update(c.client, held, NULL, NULL, NULL, NULL), 0);
	assert_true(run_until(&c, ns_gone, "team", NSEC_PER_SEC, 30 * NSEC_PER_SEC));
	cluster_free(&c);
}

static void
test_service_account_recreated(void **state)
{
	struct cluster c;
	start(&c);
	_cleanup_json_ json_t *sa = get_obj(&c, "v1", "ServiceAccount", "default", "default");
	assert_non_null(sa);
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "ServiceAccount"), "default",
				       "default", NULL, NULL, NULL),
			 0);
	settle(&c);
	_cleanup_json_ json_t *again = get_obj(&c, "v1", "ServiceAccount", "default", "default");
	assert_non_null(again);
	assert_string_not_equal(jp_str(again, "metadata.uid"), jp_str(sa, "metadata.uid"));
	cluster_free(&c);
}

static void
test_root_ca_published(void **state)
{
	static const struct controller_manager_options o = { .no_leader_election = true,
							     .root_ca_pem = "CA PEM\n" };
	struct cluster c;
	cluster_init(&c, &o, false);
	cluster_start(&c);
	create_yaml(&c, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n", NULL);
	settle(&c);
	/* Every active namespace holds it, with the CA under ca.crt. */
	static const char *const nss[] = { "default", "kube-system", "team" };
	for (size_t i = 0; i < 3; i++) {
		_cleanup_json_ json_t *cm =
			get_obj(&c, "v1", "ConfigMap", nss[i], "kube-root-ca.crt");
		assert_non_null(cm);
		assert_string_equal(
			json_string_value(json_object_get(jp_get(cm, "data"), "ca.crt")),
			"CA PEM\n");
	}
	/* Changed by hand: put back; deleted: made again. */
	_cleanup_json_ json_t *cm = get_obj(&c, "v1", "ConfigMap", "team", "kube-root-ca.crt");
	json_object_set_new(cm, "data", json_pack("{s:s}", "ca.crt", "other"));
	assert_int_equal(client_update(c.client, cm, NULL, NULL, NULL, NULL), 0);
	settle(&c);
	_cleanup_json_ json_t *back = get_obj(&c, "v1", "ConfigMap", "team", "kube-root-ca.crt");
	assert_string_equal(json_string_value(json_object_get(jp_get(back, "data"), "ca.crt")),
			    "CA PEM\n");
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "ConfigMap"), "team",
				       "kube-root-ca.crt", NULL, NULL, NULL),
			 0);
	settle(&c);
	_cleanup_json_ json_t *again = get_obj(&c, "v1", "ConfigMap", "team", "kube-root-ca.crt");
	assert_non_null(again);
	assert_string_not_equal(jp_str(again, "metadata.uid"), jp_str(back, "metadata.uid"));
	cluster_free(&c);
}

static void
test_bootstrap(void **state)
{
	struct cluster c;
	start(&c);
	_cleanup_json_ json_t *svc = get_obj(&c, "v1", "Service", "default", "kubernetes");
	assert_non_null(svc);
	assert_string_equal(jp_str(svc, "spec.clusterIP"), "10.96.0.1");
	const json_t *port = json_array_get(jp_get(svc, "spec.ports"), 0);
	assert_int_equal(jp_int(port, "port", 0), 443);
	assert_int_equal(jp_int(port, "targetPort", 0), 6443);
	assert_string_equal(jp_str(port, "name"), "https");
	_cleanup_json_ json_t *ep = get_obj(&c, "v1", "Endpoints", "default", "kubernetes");
	const json_t *subset = json_array_get(jp_get(ep, "subsets"), 0);
	assert_string_equal(jp_str(json_array_get(json_object_get(subset, "addresses"), 0), "ip"),
			    "192.168.1.10");
	_cleanup_json_ json_t *slice =
		get_obj(&c, "discovery.k8s.io/v1", "EndpointSlice", "default", "kubernetes");
	assert_non_null(slice);
	/* Deleted system objects come back. */
	_cleanup_json_ json_t *pub0 = get_obj(&c, "v1", "Namespace", NULL, "kube-public");
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Service"), "default",
				       "kubernetes", NULL, NULL, NULL),
			 0);
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Namespace"), NULL,
				       "kube-public", NULL, NULL, NULL),
			 0);
	advance(&c, 61 * NSEC_PER_SEC);
	_cleanup_json_ json_t *svc2 = get_obj(&c, "v1", "Service", "default", "kubernetes");
	assert_non_null(svc2);
	assert_string_equal(jp_str(svc2, "spec.clusterIP"), "10.96.0.1");
	assert_string_not_equal(jp_str(svc2, "metadata.uid"), jp_str(svc, "metadata.uid"));
	_cleanup_json_ json_t *pub = get_obj(&c, "v1", "Namespace", NULL, "kube-public");
	assert_non_null(pub);
	assert_string_not_equal(jp_str(pub, "metadata.uid"), jp_str(pub0, "metadata.uid"));
	assert_null(jp_get(pub, "metadata.deletionTimestamp"));
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gc_background),
		cmocka_unit_test(test_gc_foreground),
		cmocka_unit_test(test_gc_orphan),
		cmocka_unit_test(test_gc_dangling_owner),
		cmocka_unit_test(test_namespace_deletion_empties_it),
		cmocka_unit_test(test_service_account_recreated),
		cmocka_unit_test(test_root_ca_published),
		cmocka_unit_test(test_bootstrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
