/*
 * discovery.c - what the server serves, as clients discover it: /version, the health paths,
 * legacy discovery (/api, /apis, /apis/GROUP, APIResourceList per group version) and
 * aggregated discovery (apidiscovery.k8s.io v2 and v2beta1, with their exact content type), all
 * generated from the kinds registry, plus metrics.k8s.io/v1beta1.
 */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "config.h"
#include "server/server-internal.h"

#define METRICS_GROUP "metrics.k8s.io"
#define METRICS_VERSION "v1beta1"

static const char *const all_verbs[] = { "create", "delete", "deletecollection", "get",
					 "list",   "patch",  "update",           "watch" };

static json_t *
verbs_array(const char *const *verbs, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(verbs[i]));
	return a;
}

#define VERBS(...)                                        \
	verbs_array((const char *const[]){ __VA_ARGS__ }, \
		    sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static json_t *
names_array(const char *const *names)
{
	json_t *a = json_array();
	for (; names && *names; names++)
		json_array_append_new(a, json_string(*names));
	return a;
}

/* One subresource served for a kind: its name, the kind it answers with, and the verbs. */
struct subresource_info {
	unsigned bit;        /* enum kind_subresource */
	const char *name;    /* "status" */
	const char *group;   /* of the response kind; NULL: the resource's own */
	const char *version; /* NULL: the resource's own */
	const char *kind;    /* NULL: the resource's own */
	const char *verbs[3];
};

static const struct subresource_info subresources[] = {
	{ KIND_SUB_STATUS, "status", NULL, NULL, NULL, { "get", "patch", "update" } },
	{ KIND_SUB_SCALE, "scale", "autoscaling", "v1", "Scale", { "get", "patch", "update" } },
	{ KIND_SUB_BINDING, "binding", "", "v1", "Binding", { "create" } },
	{ KIND_SUB_LOG, "log", NULL, NULL, NULL, { "get" } },
	{ KIND_SUB_EXEC, "exec", "", "v1", "PodExecOptions", { "create", "get" } },
	{ KIND_SUB_EVICTION, "eviction", "policy", "v1", "Eviction", { "create" } },
	{ KIND_SUB_TOKEN, "token", "authentication.k8s.io", "v1", "TokenRequest", { "create" } },
};

static json_t *
sub_verbs(const struct subresource_info *s)
{
	json_t *a = json_array();
	for (size_t i = 0; i < 3 && s->verbs[i]; i++)
		json_array_append_new(a, json_string(s->verbs[i]));
	return a;
}

/* The legacy APIResourceList of a group version. */
static json_t *
resource_list(const char *group, const char *version)
{
	char gv[96];
	snprintf(gv, sizeof(gv), "%s%s%s", group, *group ? "/" : "", version);
	json_t *resources = json_array();
	if (streq(group, METRICS_GROUP)) {
		json_array_append_new(resources,
				      json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", "nodes",
						"singularName", "", "namespaced", 0, "kind",
						"NodeMetrics", "verbs", VERBS("get", "list")));
		json_array_append_new(resources,
				      json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", "pods",
						"singularName", "", "namespaced", 1, "kind",
						"PodMetrics", "verbs", VERBS("get", "list")));
	}
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		if (!streq(k->group, group) || !streq(k->version, version))
			continue;
		json_t *r =
			json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", k->plural, "singularName",
				  k->singular, "namespaced", k->namespaced, "kind", k->kind,
				  "verbs", verbs_array(all_verbs, ARRAY_SIZE(all_verbs)));
		if (k->short_names[0])
			json_object_set_new(r, "shortNames", names_array(k->short_names));
		if (k->categories[0])
			json_object_set_new(r, "categories", names_array(k->categories));
		json_array_append_new(resources, r);
		for (size_t j = 0; j < ARRAY_SIZE(subresources); j++) {
			const struct subresource_info *s = &subresources[j];
			if (!(k->subresources & s->bit))
				continue;
			char name[128];
			snprintf(name, sizeof(name), "%s/%s", k->plural, s->name);
			json_t *sr =
				json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name, "singularName",
					  "", "namespaced", k->namespaced, "kind",
					  s->kind ? s->kind : k->kind, "verbs", sub_verbs(s));
			if (s->group) {
				json_object_set_new(sr, "group", json_string(s->group));
				json_object_set_new(sr, "version", json_string(s->version));
			}
			json_array_append_new(resources, sr);
		}
	}
	return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
			 "groupVersion", gv, "resources", resources);
}

/* The groups other than the core one, in registry order, then metrics.k8s.io. */
static size_t
named_groups(const char *groups[static 32])
{
	size_t n = 0;
	for (size_t i = 0; i < kind_registry_count && n < 31; i++) {
		const char *g = kind_registry[i]->group;
		bool seen = !*g;
		for (size_t j = 0; j < n && !seen; j++)
			seen = streq(groups[j], g);
		if (!seen)
			groups[n++] = g;
	}
	groups[n++] = METRICS_GROUP;
	return n;
}

static const char *
group_version(const char *group)
{
	if (streq(group, METRICS_GROUP))
		return METRICS_VERSION;
	for (size_t i = 0; i < kind_registry_count; i++)
		if (streq(kind_registry[i]->group, group))
			return kind_registry[i]->version;
	return "v1";
}

static json_t *
api_group(const char *group)
{
	char gv[96];
	const char *v = group_version(group);
	snprintf(gv, sizeof(gv), "%s/%s", group, v);
	return json_pack("{s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "name", group, "versions",
			 "groupVersion", gv, "version", v, "preferredVersion", "groupVersion", gv,
			 "version", v);
}

/* ---- aggregated discovery ---- */

static json_t *
response_kind(const char *group, const char *version, const char *kind)
{
	return json_pack("{s:s, s:s, s:s}", "group", group, "version", version, "kind", kind);
}

static json_t *
aggregated_group(const char *group)
{
	const char *version = group_version(group);
	json_t *resources = json_array();
	if (streq(group, METRICS_GROUP)) {
		json_array_append_new(
			resources,
			json_pack("{s:s, s:o, s:s, s:s, s:o}", "resource", "nodes", "responseKind",
				  response_kind(group, version, "NodeMetrics"), "scope", "Cluster",
				  "singularResource", "", "verbs", VERBS("get", "list")));
		json_array_append_new(resources,
				      json_pack("{s:s, s:o, s:s, s:s, s:o}", "resource", "pods",
						"responseKind",
						response_kind(group, version, "PodMetrics"),
						"scope", "Namespaced", "singularResource", "",
						"verbs", VERBS("get", "list")));
	}
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		if (!streq(k->group, group))
			continue;
		json_t *r = json_pack("{s:s, s:o, s:s, s:s, s:o}", "resource", k->plural,
				      "responseKind", response_kind(k->group, k->version, k->kind),
				      "scope", k->namespaced ? "Namespaced" : "Cluster",
				      "singularResource", k->singular, "verbs",
				      verbs_array(all_verbs, ARRAY_SIZE(all_verbs)));
		if (k->short_names[0])
			json_object_set_new(r, "shortNames", names_array(k->short_names));
		if (k->categories[0])
			json_object_set_new(r, "categories", names_array(k->categories));
		json_t *subs = json_array();
		for (size_t j = 0; j < ARRAY_SIZE(subresources); j++) {
			const struct subresource_info *s = &subresources[j];
			if (!(k->subresources & s->bit))
				continue;
			json_array_append_new(
				subs,
				json_pack("{s:s, s:o, s:o}", "subresource", s->name, "responseKind",
					  response_kind(s->group ? s->group : k->group,
							s->version ? s->version : k->version,
							s->kind ? s->kind : k->kind),
					  "verbs", sub_verbs(s)));
		}
		if (json_array_size(subs))
			json_object_set_new(r, "subresources", subs);
		else
			json_decref(subs);
		json_array_append_new(resources, r);
	}
	return json_pack("{s:{s:s}, s:[{s:s, s:s, s:o}]}", "metadata", "name", group, "versions",
			 "version", version, "freshness", "Current", "resources", resources);
}

/* Which aggregated discovery version the Accept header asks for, if any. */
static const char *
aggregated_version(const struct request *req)
{
	const char *accept = request_header(req, MHD_HTTP_HEADER_ACCEPT);
	if (!accept || !strstr(accept, "g=apidiscovery.k8s.io") ||
	    !strstr(accept, "as=APIGroupDiscoveryList"))
		return NULL;
	/* The client's order is its preference: the first version offered that we serve. */
	const char *v2 = strstr(accept, "v=v2;");
	if (!v2)
		v2 = strstr(accept, "v=v2,");
	const char *v2beta1 = strstr(accept, "v=v2beta1");
	if (v2 && (!v2beta1 || v2 < v2beta1))
		return "v2";
	if (v2beta1)
		return "v2beta1";
	return strstr(accept, "v=v2") ? "v2" : NULL;
}

static void
respond_aggregated(struct request *req, const char *version, json_t *items)
{
	char av[64], ct[128];
	snprintf(av, sizeof(av), "apidiscovery.k8s.io/%s", version);
	snprintf(ct, sizeof(ct),
		 "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList", version);
	_cleanup_json_ json_t *list =
		json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
			  av, "metadata", "items", items);
	char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
	if (!text) {
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	respond_body(req, 200, ct, text, strlen(text));
}

static json_t *
server_addresses(struct request *req)
{
	char addr[160];
	struct server *s = req->srv;
	unsigned port = server_https_port(s);
	snprintf(addr, sizeof(addr), "%s:%u",
		 s->advertise_address ? s->advertise_address : "127.0.0.1", port ? port : 6443);
	return json_pack("[{s:s, s:s}]", "clientCIDR", "0.0.0.0/0", "serverAddress", addr);
}

void
handle_discovery(struct request *req)
{
	const struct route *r = &req->route;
	const char *agg = aggregated_version(req);
	_cleanup_json_ json_t *out = NULL;
	const char *groups[32];
	size_t n;
	switch (r->type) {
	case ROUTE_API:
		if (agg) {
			respond_aggregated(req, agg, json_pack("[o]", aggregated_group("")));
			return;
		}
		out = json_pack("{s:s, s:[s], s:o}", "kind", "APIVersions", "versions", "v1",
				"serverAddressByClientCIDRs", server_addresses(req));
		break;
	case ROUTE_APIS:
		n = named_groups(groups);
		if (agg) {
			json_t *items = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(items, aggregated_group(groups[i]));
			respond_aggregated(req, agg, items);
			return;
		} else {
			json_t *list = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(list, api_group(groups[i]));
			out = json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion",
					"v1", "groups", list);
		}
		break;
	case ROUTE_GROUP:
		out = api_group(r->group);
		if (out) {
			json_object_set_new(out, "kind", json_string("APIGroup"));
			json_object_set_new(out, "apiVersion", json_string("v1"));
		}
		break;
	case ROUTE_GROUP_VERSION: out = resource_list(r->group, r->version); break;
	default: break;
	}
	if (!out) {
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	respond_json(req, 200, out);
}

void
handle_version(struct request *req)
{
	_cleanup_json_ json_t *v =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor",
			  "32", "gitVersion", "v1.32.0+korch." KORCH_VERSION, "gitCommit",
			  "0000000000000000000000000000000000000000", "gitTreeState", "clean",
			  "buildDate", "2026-01-01T00:00:00Z", "goVersion", "korch (C)", "compiler",
			  "gcc", "platform", "linux/amd64");
	respond_json(req, 200, v);
}

void
handle_health(struct request *req)
{
	/* The store answering is what readiness means here. */
	int64_t rev = 0;
	_cleanup_error_ korch_error *e = NULL;
	bool store_ok = store_revision(client_store(req->srv->client), &rev, NULL, &e) == 0;
	const char *which = strstr(req->path, "readyz")  ? "readyz"
			    : strstr(req->path, "livez") ? "livez"
							 : "healthz";
	char text[256];
	if (request_arg(req, "verbose"))
		snprintf(text, sizeof(text), "[+]ping ok\n[%c]store %s\n%s check %s\n",
			 store_ok ? '+' : '-', store_ok ? "ok" : "failed", which,
			 store_ok ? "passed" : "failed");
	else
		snprintf(text, sizeof(text), "%s", store_ok ? "ok" : "[-]store failed");
	respond_body(req, store_ok ? 200 : 500, "text/plain; charset=utf-8", strdup(text),
		     strlen(text));
}
