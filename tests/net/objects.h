/*
 * objects.h - Service, EndpointSlice and Pod objects for lib/net tests and the benchmark, as the
 * controllers would write them. Header-only.
 */
#ifndef KORCH_TESTS_NET_OBJECTS_H
#define KORCH_TESTS_NET_OBJECTS_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* A ClusterIP Service with one TCP port (name "http"); node_port 0 for none. */
static inline json_t *
obj_service(const char *ns, const char *name, const char *ip, int port, int node_port,
	    const char *affinity)
{
	json_t *p = json_pack("{s:s, s:i, s:s}", "name", "http", "port", port, "protocol", "TCP");
	if (node_port)
		json_object_set_new(p, "nodePort", json_integer(node_port));
	json_t *spec = json_pack("{s:s, s:s, s:[o]}", "clusterIP", ip, "type",
				 node_port ? "NodePort" : "ClusterIP", "ports", p);
	if (affinity)
		json_object_set_new(spec, "sessionAffinity", json_string(affinity));
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "v1", "kind", "Service",
			 "metadata", "name", name, "namespace", ns, "spec", spec);
}

/* An EndpointSlice of service with the given ready addresses, target port, port name "http". */
static inline json_t *
obj_slice(const char *ns, const char *service, const char *const *ips, size_t n, int port)
{
	json_t *eps = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(eps, json_pack("{s:[s], s:{s:b}}", "addresses", ips[i],
						     "conditions", "ready", 1));
	char name[300];
	snprintf(name, sizeof(name), "%s-abc", service);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:o, s:[{s:s, s:i, s:s}]}",
			 "apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata",
			 "name", name, "namespace", ns, "labels", "kubernetes.io/service-name",
			 service, "addressType", "IPv4", "endpoints", eps, "ports", "name", "http",
			 "port", port, "protocol", "TCP");
}

/* Sets metadata.resourceVersion. */
static inline void
obj_set_rv(json_t *obj, long rv)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%ld", rv);
	json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(buf));
}

#endif
