/*
 * route.c - what a request path names: discovery documents, OpenAPI documents, a kind's
 * collection or object (namespaced or not, with its subresource), or the metrics API. The kinds
 * come from the registry; a group, version or resource the registry does not serve is no route.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "server/server-internal.h"

#define MAX_SEGMENTS 16

void
route_clear(struct route *r)
{
	free(r->buf);
	*r = (struct route){ 0 };
}

/* Whether the registry serves group/version ("" for the core group). */
static bool
serves_group_version(const char *group, const char *version)
{
	if (streq(group, "metrics.k8s.io"))
		return !version || streq(version, "v1beta1");
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		if (streq(k->group, group) && (!version || streq(k->version, version)))
			return true;
	}
	return false;
}

static bool
is_subresource(const struct kind_info *k, const char *sub)
{
	static const struct {
		const char *name;
		unsigned bit;
	} subs[] = {
		{ "status", KIND_SUB_STATUS },
		{ "scale", KIND_SUB_SCALE },
		{ "binding", KIND_SUB_BINDING },
		{ "log", KIND_SUB_LOG },
		{ "exec", KIND_SUB_EXEC },
		{ "eviction", KIND_SUB_EVICTION },
		{ "token", KIND_SUB_TOKEN },
		{ "attach", KIND_SUB_ATTACH },
		{ "portforward", KIND_SUB_PORTFORWARD },
		{ "finalize", KIND_SUB_FINALIZE },
	};
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (streq(subs[i].name, sub))
			return (k->subresources & subs[i].bit) != 0;
	return false;
}

/* The segments after /api/v1 or /apis/G/V: a collection, an object, a subresource. */
static void
parse_resource(struct route *r, const char *group, const char *version, char **seg, size_t n)
{
	if (n && streq(seg[0], "watch")) {
		r->legacy_watch = true;
		seg++;
		n--;
	}
	if (n == 0)
		return;
	if (streq(group, "metrics.k8s.io")) {
		/* nodes[/NAME], pods[/NAME], namespaces/NS/pods[/NAME] */
		if (n >= 3 && streq(seg[0], "namespaces")) {
			r->ns = seg[1];
			seg += 2;
			n -= 2;
			if (!streq(seg[0], "pods"))
				return;
		}
		if (n > 2 || (!streq(seg[0], "pods") && !streq(seg[0], "nodes")))
			return;
		r->resource = seg[0];
		r->name = n == 2 ? seg[1] : NULL;
		r->type = ROUTE_METRICS;
		return;
	}
	const char *ns = NULL;
	if (n >= 3 && streq(seg[0], "namespaces") && !streq(seg[2], "status") &&
	    !streq(seg[2], "finalize")) {
		ns = seg[1];
		seg += 2;
		n -= 2;
	}
	if (n > 3)
		return;
	const struct kind_info *k = kind_lookup_plural(group, seg[0]);
	if (!k || !streq(k->version, version))
		return;
	if (ns && !k->namespaced)
		return;
	if (!ns && k->namespaced && n > 1)
		return; /* /api/v1/pods/NAME does not exist */
	if (n == 3 && !is_subresource(k, seg[2]))
		return;
	r->kind = k;
	r->resource = seg[0];
	r->ns = ns;
	r->name = n >= 2 ? seg[1] : NULL;
	r->subresource = n == 3 ? seg[2] : NULL;
	r->type = ROUTE_RESOURCE;
}

int
route_parse(const char *path, struct route *ret)
{
	struct route r = { .type = ROUTE_NONE };
	r.buf = strdup(path);
	if (!r.buf)
		return KORCH_ENOMEM;
	char *seg[MAX_SEGMENTS];
	size_t n = 0;
	char *save = NULL;
	bool bad = false;
	for (char *p = strtok_r(r.buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (n == MAX_SEGMENTS || streq(p, ".") || streq(p, "..")) {
			bad = true;
			break;
		}
		seg[n++] = p;
	}
	/* A path with empty segments ("//") is not a route. */
	if (bad || strstr(path, "//") || path[0] != '/') {
		*ret = r;
		return 0;
	}
	r.nonresource = true;
	if (n == 0) {
		/* "/" lists nothing here */
	} else if (streq(seg[0], "version") && n == 1) {
		r.type = ROUTE_VERSION;
	} else if (streq(seg[0], "healthz") || streq(seg[0], "livez") || streq(seg[0], "readyz")) {
		r.type = ROUTE_HEALTH;
	} else if (streq(seg[0], "openapi") && n >= 2 && streq(seg[1], "v3")) {
		if (n == 2) {
			r.type = ROUTE_OPENAPI_ROOT;
		} else if (n == 4 && streq(seg[2], "api") && streq(seg[3], "v1")) {
			r.type = ROUTE_OPENAPI_GV;
			r.group = "";
			r.version = seg[3];
		} else if (n == 5 && streq(seg[2], "apis") &&
			   serves_group_version(seg[3], seg[4]) &&
			   !streq(seg[3], "metrics.k8s.io")) {
			r.type = ROUTE_OPENAPI_GV;
			r.group = seg[3];
			r.version = seg[4];
		}
	} else if (streq(seg[0], "api")) {
		if (n == 1) {
			r.type = ROUTE_API;
		} else if (streq(seg[1], "v1")) {
			r.group = "";
			r.version = "v1";
			if (n == 2) {
				r.type = ROUTE_GROUP_VERSION;
			} else {
				r.nonresource = false;
				parse_resource(&r, "", "v1", seg + 2, n - 2);
			}
		}
	} else if (streq(seg[0], "apis")) {
		if (n == 1) {
			r.type = ROUTE_APIS;
		} else if (serves_group_version(seg[1], NULL)) {
			r.group = seg[1];
			if (n == 2) {
				r.type = ROUTE_GROUP;
			} else if (serves_group_version(seg[1], seg[2])) {
				r.version = seg[2];
				if (n == 3) {
					r.type = ROUTE_GROUP_VERSION;
				} else {
					r.nonresource = false;
					parse_resource(&r, seg[1], seg[2], seg + 3, n - 3);
				}
			}
		}
	}
	*ret = r;
	return 0;
}
