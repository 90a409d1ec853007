/*
 * Endpoints and EndpointSlices from the pods a Service selects: ready and not-ready addresses
 * kept apart, ports resolved by name per pod, hostnames under a headless Service, updates when
 * pods change, removal with the Service, nothing written when nothing changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "controller/manager.h"
#include "harness.h"

static void
start(struct cluster *c)
{
	static const struct controller_manager_options o = { .no_leader_election = true };
	cluster_init(c, &o, false);
	c->schedule = true;
	add_node(c, "node-1");
	cluster_start(c);
}

/* A pod that is not ready has a container named "notready", whose readiness probe the
 * simulated runtime fails until set_pod_ready(). */
static void
pod(struct cluster *c, const char *name, const char *app, const char *ports, bool ready,
    const char *extra_spec)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: default\n"
		 "  labels: {app: %s}\n"
		 "spec:\n%s  containers: [{name: %s, image: nginx, ports: %s%s}]\n",
		 name, app, extra_spec, ready ? "c" : "notready", ports,
		 ready ? "" : ", readinessProbe: {exec: {command: ['true']}, periodSeconds: 1}");
	create_yaml(c, text, NULL);
}

static const char *
pod_ip(struct cluster *c, const char *name)
{
	static char buf[4][32];
	static int i;
	_cleanup_json_ json_t *p = get_obj(c, "v1", "Pod", "default", name);
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s", jp_str0(p, "status.podIP"));
	return buf[i];
}

static void
test_endpoints_and_slices(void **state)
{
	struct cluster c;
	start(&c);
	static const char ports_http[] =
		"[{name: http, containerPort: 8080}, {name: mon, containerPort: 9100}]";
	pod(&c, "a", "web", ports_http, true, "");
	pod(&c, "b", "web", ports_http, true, "");
	pod(&c, "c", "web", ports_http, false, "");
	/* This one has no port named http: it serves the metrics port only. */
	pod(&c, "d", "web", "[{name: other, containerPort: 7000}]", true, "");
	pod(&c, "x", "other", ports_http, true, "");
	create_yaml(&c,
		    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default, "
		    "labels: {tier: front}}\n"
		    "spec:\n  selector: {app: web}\n  ports:\n"
		    "  - {name: http, port: 80, targetPort: http}\n"
		    "  - {name: metrics, port: 9090, targetPort: 9100}\n",
		    NULL);
	settle(&c);
	_cleanup_json_ json_t *ep = get_obj(&c, "v1", "Endpoints", "default", "web");
	assert_non_null(ep);
	assert_string_equal(jp_str(ep, "metadata.labels.tier"), "front");
	const json_t *subsets = jp_get(ep, "subsets");
	assert_int_equal(json_array_size(subsets), 2);
	/* Pods a, b, c reach both ports: one subset; d only the metrics port: another. */
	const json_t *both = NULL, *metrics_only = NULL;
	size_t i;
	json_t *s;
	json_array_foreach (subsets, i, s) {
		if (json_array_size(json_object_get(s, "ports")) == 2)
			both = s;
		else
			metrics_only = s;
	}
	assert_non_null(both);
	assert_non_null(metrics_only);
	const json_t *p0 = json_array_get(json_object_get(both, "ports"), 0);
	assert_string_equal(jp_str(p0, "name"), "http");
	assert_int_equal(jp_int(p0, "port", 0), 8080);
	assert_string_equal(jp_str(p0, "protocol"), "TCP");
	assert_int_equal(jp_int(json_array_get(json_object_get(both, "ports"), 1), "port", 0),
			 9100);
	const json_t *ready = json_object_get(both, "addresses");
	const json_t *not_ready = json_object_get(both, "notReadyAddresses");
	assert_int_equal(json_array_size(ready), 2);
	assert_int_equal(json_array_size(not_ready), 1);
	assert_string_equal(jp_str(json_array_get(not_ready, 0), "ip"), pod_ip(&c, "c"));
	assert_string_equal(jp_str(json_array_get(not_ready, 0), "targetRef.name"), "c");
	assert_string_equal(jp_str(json_array_get(not_ready, 0), "nodeName"), "node-1");
	/* Addresses sorted by IP. */
	assert_true(strcmp(jp_str0(json_array_get(ready, 0), "ip"),
			   jp_str0(json_array_get(ready, 1), "ip")) < 0);
	assert_int_equal(json_array_size(json_object_get(metrics_only, "addresses")), 1);
	assert_string_equal(jp_str(json_array_get(json_object_get(metrics_only, "addresses"), 0),
				   "targetRef.name"),
			    "d");
	/* The slices: one per port list. */
	_cleanup_json_ json_t *slices = list_objs(&c, "discovery.k8s.io/v1", "EndpointSlice",
						  "default", "kubernetes.io/service-name=web");
	assert_int_equal(json_array_size(slices), 2);
	_cleanup_json_ json_t *svc = get_obj(&c, "v1", "Service", "default", "web");
	json_array_foreach (slices, i, s) {
		assert_string_equal(jp_str(s, "addressType"), "IPv4");
		assert_true(controlled_by(s, jp_str(svc, "metadata.uid")));
		const json_t *labels = jp_get(s, "metadata.labels");
		assert_string_equal(json_string_value(json_object_get(
					    labels, "endpointslice.kubernetes.io/managed-by")),
				    "endpointslice-controller.k8s.io");
		if (json_array_size(json_object_get(s, "ports")) != 2)
			continue;
		const json_t *eps = json_object_get(s, "endpoints");
		assert_int_equal(json_array_size(eps), 3);
		size_t j;
		json_t *e;
		int n_ready = 0;
		json_array_foreach (eps, j, e) {
			if (jp_true(e, "conditions.ready"))
				n_ready++;
			assert_false(jp_true(e, "conditions.terminating"));
		}
		assert_int_equal(n_ready, 2);
	}
	/* The pod becomes ready: it moves over. */
	set_pod_ready(&c, "default", "c", true);
	advance(&c, NSEC_PER_SEC);
	json_decref(ep);
	ep = get_obj(&c, "v1", "Endpoints", "default", "web");
	json_array_foreach (jp_get(ep, "subsets"), i, s)
		if (json_array_size(json_object_get(s, "ports")) == 2) {
			assert_int_equal(json_array_size(json_object_get(s, "addresses")), 3);
			assert_null(json_object_get(s, "notReadyAddresses"));
		}
	/* Nothing changed: nothing written. */
	struct controller_stats before, after;
	controller_manager_stats(c.cm, &before);
	controller_manager_resync(c.cm);
	settle(&c);
	controller_manager_stats(c.cm, &after);
	assert_int_equal(after.writes, before.writes);
	/* The Service goes: its Endpoints and slices too. */
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Service"), "default", "web",
				       NULL, NULL, NULL),
			 0);
	settle(&c);
	assert_null(get_obj(&c, "v1", "Endpoints", "default", "web"));
	assert_int_equal(count_objs(&c, "discovery.k8s.io/v1", "EndpointSlice", "default",
				    "kubernetes.io/service-name=web"),
			 0);
	cluster_free(&c);
}

static void
test_headless_hostnames(void **state)
{
	struct cluster c;
	start(&c);
	create_yaml(&c,
		    "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: default}\n"
		    "spec: {clusterIP: None, selector: {app: db}}\n",
		    NULL);
	pod(&c, "db-0", "db", "[]", true, "  hostname: db-0\n  subdomain: db\n");
	pod(&c, "db-1", "db", "[]", true, "  hostname: db-1\n  subdomain: elsewhere\n");
	settle(&c);
	_cleanup_json_ json_t *ep = get_obj(&c, "v1", "Endpoints", "default", "db");
	assert_string_equal(json_string_value(json_object_get(jp_get(ep, "metadata.labels"),
							      "service.kubernetes.io/headless")),
			    "");
	const json_t *subset = json_array_get(jp_get(ep, "subsets"), 0);
	assert_null(json_object_get(subset, "ports"));
	const json_t *addrs = json_object_get(subset, "addresses");
	assert_int_equal(json_array_size(addrs), 2);
	size_t i;
	json_t *a;
	json_array_foreach (addrs, i, a) {
		if (streq(jp_str(a, "targetRef.name"), "db-0"))
			assert_string_equal(jp_str(a, "hostname"), "db-0");
		else
			assert_null(jp_str(a, "hostname"));
	}
	/* Without a selector, the Endpoints are the user's: left alone. */
	create_yaml(&c,
		    "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: default}\n"
		    "spec: {ports: [{port: 80}]}\n",
		    NULL);
	create_yaml(&c,
		    "apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext, namespace: default}\n"
		    "subsets: [{addresses: [{ip: 192.0.2.7}], ports: [{port: 80}]}]\n",
		    NULL);
	settle(&c);
	_cleanup_json_ json_t *ext = get_obj(&c, "v1", "Endpoints", "default", "ext");
	assert_string_equal(
		jp_str(json_array_get(json_object_get(json_array_get(jp_get(ext, "subsets"), 0),
						      "addresses"),
				      0),
		       "ip"),
		"192.0.2.7");
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints_and_slices),
		cmocka_unit_test(test_headless_hostnames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
