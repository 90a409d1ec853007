/*
 * service-alloc.c - Service cluster IPs and node ports, allocated inside the write path as
 * Kubernetes 1.31+ allocates them: one allocation record per IP or port, created in the same
 * store transaction as the Service that holds it and deleted in the same transaction as the
 * Service that frees it. The store's keys are kind-agnostic, so a record is an ordinary object
 * under an internal resource (korch.io/serviceipallocations/10.96.0.12,
 * korch.io/servicenodeportallocations/30080): an IP handed out twice is a KORCH_EEXISTS from the
 * store, whatever process raced for it, and the records survive restarts with the Services.
 *
 * Like kube-apiserver's allocators, the range is split in two bands: requests for a specific
 * IP or port should come from the lower (static) band, dynamic allocation picks at random from
 * the upper band first and falls back to the lower one only when the upper is full
 * (KEP-3070, KEP-3668). 10.96.0.1 belongs to default/kubernetes and 10.96.0.10 to
 * kube-system/kube-dns whatever asks for them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate.h"
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "client/client-internal.h"

#define ALLOC_GROUP "korch.io"
#define IP_RESOURCE "serviceipallocations"
#define PORT_RESOURCE "servicenodeportallocations"

const char *const client_alloc_group = ALLOC_GROUP;

void
client_service_ranges_default(struct client_service_ranges *r)
{
	*r = (struct client_service_ranges){
		.base = 0x0a600000u, /* 10.96.0.0 */
		.prefix = 16,
		.port_min = 30000,
		.port_max = 32767,
	};
}

int
client_set_service_ranges(struct client *c, const char *cidr, int port_min, int port_max,
			  korch_error **err)
{
	struct client_service_ranges r;
	client_service_ranges_default(&r);
	if (cidr) {
		char buf[64];
		const char *slash = strchr(cidr, '/');
		int64_t prefix = 0;
		struct in_addr a;
		if (!slash || (size_t)(slash - cidr) >= sizeof(buf) ||
		    parse_int64(slash + 1, &prefix) < 0 || prefix < 8 || prefix > 30)
			return error_set(err, KORCH_EINVALID,
					 "service CIDR %s: expected an IPv4 CIDR with a prefix "
					 "length of 8 to 30",
					 cidr);
		memcpy(buf, cidr, (size_t)(slash - cidr));
		buf[slash - cidr] = '\0';
		if (inet_pton(AF_INET, buf, &a) != 1)
			return error_set(err, KORCH_EINVALID, "service CIDR %s: bad address %s",
					 cidr, buf);
		uint32_t mask = prefix == 0 ? 0 : ~0u << (32 - prefix);
		r.base = ntohl(a.s_addr) & mask;
		r.prefix = (int)prefix;
	}
	if (port_min || port_max) {
		if (port_min < 1 || port_max > 65535 || port_min > port_max)
			return error_set(err, KORCH_EINVALID,
					 "node port range %d-%d: expected 1 <= min <= max <= 65535",
					 port_min, port_max);
		r.port_min = port_min;
		r.port_max = port_max;
	}
	c->ranges = r;
	return 0;
}

/* ---- small JSON helpers ---- */

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *
meta_str(const json_t *obj, const char *k)
{
	return jstr(json_object_get(obj, "metadata"), k);
}

/* needsClusterIP: every type but ExternalName. */
static bool
needs_cluster_ip(const json_t *svc)
{
	return !streq(jstr(json_object_get(svc, "spec"), "type"), "ExternalName");
}

/* An IP to hold: needsClusterIP and not headless. */
static bool
holds_cluster_ip(const json_t *svc)
{
	const char *ip = jstr(json_object_get(svc, "spec"), "clusterIP");
	return needs_cluster_ip(svc) && !streq(ip, "None");
}

/* needsNodePort: NodePort, and LoadBalancer unless allocateLoadBalancerNodePorts is false. */
static bool
needs_node_port(const json_t *svc)
{
	const json_t *spec = json_object_get(svc, "spec");
	const char *type = jstr(spec, "type");
	if (streq(type, "NodePort"))
		return true;
	if (!streq(type, "LoadBalancer"))
		return false;
	const json_t *alloc = json_object_get(spec, "allocateLoadBalancerNodePorts");
	return !json_is_false(alloc);
}

static bool
needs_hc_node_port(const json_t *svc)
{
	const json_t *spec = json_object_get(svc, "spec");
	return streq(jstr(spec, "type"), "LoadBalancer") &&
	       streq(jstr(spec, "externalTrafficPolicy"), "Local");
}

static bool
is_load_balancer(const json_t *svc)
{
	return streq(jstr(json_object_get(svc, "spec"), "type"), "LoadBalancer");
}

/* ExternallyAccessible: NodePort, LoadBalancer, or a ClusterIP with external IPs. */
static bool
externally_accessible(const json_t *svc)
{
	const json_t *spec = json_object_get(svc, "spec");
	const char *type = jstr(spec, "type");
	return streq(type, "NodePort") || streq(type, "LoadBalancer") ||
	       (streq(type, "ClusterIP") && json_array_size(json_object_get(spec, "externalIPs")));
}

/* ---- records ---- */

static int
alloc_push(struct client_plan *p, enum store_op_type op, const char *resource, const char *name,
	   json_t *obj, int64_t expected_revision, korch_error **err)
{
	struct client_alloc_op *a = VEC_PUSH(p->allocs, p->n_allocs, p->cap_allocs);
	if (!a) {
		json_decref(obj);
		return error_oom(err);
	}
	a->op = op;
	a->resource = resource;
	a->name = strdup(name);
	a->obj = obj;
	a->expected_revision = expected_revision;
	return a->name ? 0 : error_oom(err);
}

/* Whether this plan already takes or frees name (two ports of one Service may share one). */
static struct client_alloc_op *
alloc_find(struct client_plan *p, const char *resource, const char *name)
{
	for (size_t i = 0; i < p->n_allocs; i++)
		if (p->allocs[i].resource == resource && streq(p->allocs[i].name, name))
			return &p->allocs[i];
	return NULL;
}

static json_t *
record(const char *kind, const char *name, const json_t *svc)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:s, s:s, s:s}}}", "apiVersion",
			 ALLOC_GROUP "/v1", "kind", kind, "metadata", "name", name, "spec",
			 "parentRef", "group", "", "resource", "services", "namespace",
			 meta_str(svc, "namespace") ?: "", "name", meta_str(svc, "name") ?: "",
			 "uid", meta_str(svc, "uid") ?: "");
}

/* The record at name (KORCH_ENOTFOUND when free) and its revision. */
static int
record_get(struct client *c, const char *resource, const char *name, json_t **ret,
	   int64_t *ret_revision, korch_error **err)
{
	struct store_key key = { ALLOC_GROUP, resource, "", name };
	struct store_object_meta m;
	int r = store_get(c->store, &key, ret, &m, err);
	if (r == 0 && ret_revision)
		*ret_revision = m.mod_revision;
	return r;
}

/* The holders of every record of a resource, as a set of names. */
static int
records_taken(struct client *c, const char *resource, struct hashmap *taken, korch_error **err)
{
	struct store_list_options lo = { .group = ALLOC_GROUP, .resource = resource };
	struct store_list l = { 0 };
	int r = store_list(c->store, &lo, &l, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *item;
	json_array_foreach (l.items, i, item) {
		const char *name = meta_str(item, "name");
		if (name && hashmap_put(taken, name, NULL, NULL) < 0) {
			store_list_clear(&l);
			return error_oom(err);
		}
	}
	store_list_clear(&l);
	return 0;
}

/*
 * calculateRangeOffset: the size of the static band, min(max(16, size / step), max) of a range
 * of size entries (step 16 and max 256 for IPs, 32 and 128 for ports), 0 for tiny ranges.
 */
static uint32_t
static_band(uint64_t size, uint32_t step, uint32_t max)
{
	if (size <= 16)
		return 0;
	uint64_t off = size / step;
	if (off < 16)
		return 16;
	return off > max ? max : (uint32_t)off;
}

/*
 * Picks a free entry of [0, n) whose name fmt makes, at random in [band, n) first and then in
 * [0, band), skipping taken names and names this plan already took. -1 when full.
 */
static int64_t
pick_free(struct client *c, uint32_t n, uint32_t band, const struct hashmap *taken,
	  struct client_plan *p, const char *resource,
	  void (*name_of)(const struct client_service_ranges *, uint32_t, char[static 32]),
	  const struct client_service_ranges *rg)
{
	uint32_t ranges[2][2] = { { band, n }, { 0, band } };
	for (int b = 0; b < 2; b++) {
		uint32_t lo = ranges[b][0], hi = ranges[b][1];
		if (hi <= lo)
			continue;
		uint32_t span = hi - lo, start = 0;
		client_random(c, &start, sizeof(start));
		start %= span;
		for (uint32_t k = 0; k < span; k++) {
			uint32_t i = lo + (start + k) % span;
			char name[32];
			name_of(rg, i, name);
			if (!hashmap_contains(taken, name) && !alloc_find(p, resource, name))
				return i;
		}
	}
	return -1;
}

/* Usable IPs: the range without its network and broadcast addresses. */
static uint32_t
ip_count(const struct client_service_ranges *rg)
{
	return (uint32_t)((1ull << (32 - rg->prefix)) - 2);
}

static void
ip_name(const struct client_service_ranges *rg, uint32_t i, char buf[static 32])
{
	uint32_t ip = rg->base + 1 + i;
	snprintf(buf, 32, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static void
port_name(const struct client_service_ranges *rg, uint32_t i, char buf[static 32])
{
	snprintf(buf, 32, "%d", rg->port_min + (int)i);
}

static void
cidr_text(const struct client_service_ranges *rg, char buf[static 32])
{
	uint32_t ip = rg->base;
	snprintf(buf, 32, "%u.%u.%u.%u/%d", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255,
		 rg->prefix);
}

/* The IP a well-known Service must have, or NULL. */
static const char *
reserved_owner(const char *ip, const struct client_service_ranges *rg, char buf[static 32])
{
	ip_name(rg, 0, buf);
	if (streq(ip, buf))
		return "default/kubernetes";
	ip_name(rg, 9, buf);
	if (streq(ip, buf))
		return "kube-system/kube-dns";
	return NULL;
}

/* The IP a well-known Service gets when it asks for none. */
static bool
well_known_ip(const json_t *svc, const struct client_service_ranges *rg, char buf[static 32])
{
	const char *ns = meta_str(svc, "namespace"), *name = meta_str(svc, "name");
	if (streq(ns, "default") && streq(name, "kubernetes")) {
		ip_name(rg, 0, buf);
		return true;
	}
	if (streq(ns, "kube-system") && streq(name, "kube-dns")) {
		ip_name(rg, 9, buf);
		return true;
	}
	return false;
}

static int
ip_error(const json_t *svc, const char *ip, const char *why, korch_error **err)
{
	korch_error *causes = NULL;
	error_add_cause(&causes, "FieldValueInvalid", "spec.clusterIPs",
			"Invalid value: []string{\"%s\"}: failed to allocate IP %s: %s", ip, ip,
			why);
	int r = object_invalid(svc, kind_lookup("v1", "Service"), causes, err);
	korch_error_free(causes);
	return r;
}

/* Allocates the cluster IP of a Service being created (or turning from ExternalName). */
static int
allocate_ip(struct client *c, json_t *svc, struct client_plan *p, korch_error **err)
{
	const struct client_service_ranges *rg = &c->ranges;
	json_t *spec = json_object_get(svc, "spec");
	const char *want = jstr(spec, "clusterIP");
	char wk[32], reserved[32], cidr[32];
	cidr_text(rg, cidr);
	if ((!want || !*want) && well_known_ip(svc, rg, wk))
		want = wk;
	if (want && *want) {
		struct in_addr a;
		if (inet_pton(AF_INET, want, &a) != 1)
			return 0; /* not an IPv4 address: validation names the problem */
		uint32_t ip = ntohl(a.s_addr);
		if (ip <= rg->base || ip - rg->base - 1 >= ip_count(rg)) {
			char why[160];
			snprintf(why, sizeof(why),
				 "the provided IP (%s) is not in the valid range. The range of "
				 "valid IPs is %s",
				 want, cidr);
			return ip_error(svc, want, why, err);
		}
		char owner[600];
		snprintf(owner, sizeof(owner), "%s/%s", meta_str(svc, "namespace") ?: "",
			 meta_str(svc, "name") ?: "");
		const char *res_owner = reserved_owner(want, rg, reserved);
		if (res_owner && !streq(res_owner, owner))
			return ip_error(svc, want, "provided IP is already allocated", err);
		_cleanup_json_ json_t *held = NULL;
		korch_error *e = NULL;
		int r = record_get(c, IP_RESOURCE, want, &held, NULL, &e);
		if (r == 0 || alloc_find(p, IP_RESOURCE, want))
			return ip_error(svc, want, "provided IP is already allocated", err);
		if (r != KORCH_ENOTFOUND)
			return error_propagate(err, &e, r);
		korch_error_free(e);
		char ipbuf[32];
		snprintf(ipbuf, sizeof(ipbuf), "%s", want);
		json_object_set_new(spec, "clusterIP", json_string(ipbuf));
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", ipbuf));
		return alloc_push(p, STORE_OP_CREATE, IP_RESOURCE, ipbuf,
				  record("ServiceIPAllocation", ipbuf, svc), 0, err);
	}
	struct hashmap taken = HASHMAP_INIT;
	int r = records_taken(c, IP_RESOURCE, &taken, err);
	if (r < 0) {
		hashmap_free(&taken, NULL);
		return r;
	}
	/* The well-known addresses are never handed out to anyone else. */
	ip_name(rg, 0, reserved);
	hashmap_put(&taken, reserved, NULL, NULL);
	ip_name(rg, 9, reserved);
	hashmap_put(&taken, reserved, NULL, NULL);
	uint32_t n = ip_count(rg);
	int64_t i = pick_free(c, n, static_band((uint64_t)n + 2, 16, 256), &taken, p, IP_RESOURCE,
			      ip_name, rg);
	hashmap_free(&taken, NULL);
	if (i < 0) {
		korch_error *causes = NULL;
		error_add_cause(&causes, "FieldValueInvalid", "spec.clusterIPs",
				"Invalid value: []string(nil): failed to allocate a serviceIP: "
				"range is full");
		r = object_invalid(svc, kind_lookup("v1", "Service"), causes, err);
		korch_error_free(causes);
		return r;
	}
	char ip[32];
	ip_name(rg, (uint32_t)i, ip);
	json_object_set_new(spec, "clusterIP", json_string(ip));
	json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
	return alloc_push(p, STORE_OP_CREATE, IP_RESOURCE, ip,
			  record("ServiceIPAllocation", ip, svc), 0, err);
}

static int
port_error(const json_t *svc, const char *field, int64_t port, const char *why, korch_error **err)
{
	korch_error *causes = NULL;
	error_add_cause(&causes, "FieldValueInvalid", field, "Invalid value: %lld: %s",
			(long long)port, why);
	int r = object_invalid(svc, kind_lookup("v1", "Service"), causes, err);
	korch_error_free(causes);
	return r;
}

/* Takes one node port: a requested one (checked), or a free one (port 0). */
static int
take_port(struct client *c, json_t *svc, json_t *holder, const char *field_name,
	  const char *field_path, const struct hashmap *old_ports, struct hashmap *taken,
	  bool *taken_loaded, struct client_plan *p, korch_error **err)
{
	const struct client_service_ranges *rg = &c->ranges;
	int64_t port = json_integer_value(json_object_get(holder, field_name));
	char name[32];
	if (port) {
		snprintf(name, sizeof(name), "%lld", (long long)port);
		if (hashmap_contains(old_ports, name) || alloc_find(p, PORT_RESOURCE, name))
			return 0; /* held already by this Service (or another of its ports) */
		if (port < rg->port_min || port > rg->port_max) {
			char why[160];
			snprintf(why, sizeof(why),
				 "provided port is not in the valid range. The range of valid "
				 "ports is %d-%d",
				 rg->port_min, rg->port_max);
			return port_error(svc, field_path, port, why, err);
		}
		_cleanup_json_ json_t *held = NULL;
		korch_error *e = NULL;
		int r = record_get(c, PORT_RESOURCE, name, &held, NULL, &e);
		if (r == 0)
			return port_error(svc, field_path, port,
					  "provided port is already allocated", err);
		if (r != KORCH_ENOTFOUND)
			return error_propagate(err, &e, r);
		korch_error_free(e);
		return alloc_push(p, STORE_OP_CREATE, PORT_RESOURCE, name,
				  record("ServiceNodePortAllocation", name, svc), 0, err);
	}
	if (!*taken_loaded) {
		int r = records_taken(c, PORT_RESOURCE, taken, err);
		if (r < 0)
			return r;
		*taken_loaded = true;
	}
	uint32_t n = (uint32_t)(rg->port_max - rg->port_min + 1);
	int64_t i =
		pick_free(c, n, static_band(n, 32, 128), taken, p, PORT_RESOURCE, port_name, rg);
	if (i < 0)
		return port_error(svc, field_path, 0, "range is full", err);
	port_name(rg, (uint32_t)i, name);
	json_object_set_new(holder, field_name, json_integer(rg->port_min + i));
	return alloc_push(p, STORE_OP_CREATE, PORT_RESOURCE, name,
			  record("ServiceNodePortAllocation", name, svc), 0, err);
}

/* The node ports a Service holds (ports' nodePort and healthCheckNodePort), as names. */
static void
ports_held(const json_t *svc, struct hashmap *out)
{
	if (!svc)
		return;
	const json_t *spec = json_object_get(svc, "spec");
	size_t i;
	json_t *port;
	char name[32];
	if (needs_node_port(svc))
		json_array_foreach (json_object_get(spec, "ports"), i, port) {
			int64_t np = json_integer_value(json_object_get(port, "nodePort"));
			if (np) {
				snprintf(name, sizeof(name), "%lld", (long long)np);
				hashmap_put(out, name, NULL, NULL);
			}
		}
	int64_t hc = json_integer_value(json_object_get(spec, "healthCheckNodePort"));
	if (hc && needs_hc_node_port(svc)) {
		snprintf(name, sizeof(name), "%lld", (long long)hc);
		hashmap_put(out, name, NULL, NULL);
	}
}

static int
allocate_ports(struct client *c, json_t *svc, const json_t *old, struct client_plan *p,
	       korch_error **err)
{
	struct hashmap old_ports = HASHMAP_INIT, taken = HASHMAP_INIT;
	bool loaded = false;
	int r = 0;
	ports_held(old, &old_ports);
	json_t *spec = json_object_get(svc, "spec");
	if (needs_node_port(svc)) {
		size_t i;
		json_t *port;
		json_array_foreach (json_object_get(spec, "ports"), i, port) {
			if (!json_is_object(port))
				continue;
			char path[64];
			snprintf(path, sizeof(path), "spec.ports[%zu].nodePort", i);
			if ((r = take_port(c, svc, port, "nodePort", path, &old_ports, &taken,
					   &loaded, p, err)) < 0)
				goto out;
		}
	}
	if (needs_hc_node_port(svc))
		r = take_port(c, svc, spec, "healthCheckNodePort", "spec.healthCheckNodePort",
			      &old_ports, &taken, &loaded, p, err);
out:
	hashmap_free(&old_ports, NULL);
	hashmap_free(&taken, NULL);
	return r;
}

/* Frees a record the Service (by uid) holds; a record someone else holds is left alone. */
static int
release(struct client *c, const char *resource, const char *name, const json_t *svc,
	struct client_plan *p, korch_error **err)
{
	if (alloc_find(p, resource, name))
		return 0;
	_cleanup_json_ json_t *held = NULL;
	int64_t revision = 0;
	korch_error *e = NULL;
	int r = record_get(c, resource, name, &held, &revision, &e);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		return 0;
	}
	if (r < 0)
		return error_propagate(err, &e, r);
	const json_t *ref = json_object_get(json_object_get(held, "spec"), "parentRef");
	if (!streq(jstr(ref, "uid"), meta_str(svc, "uid")))
		return 0;
	return alloc_push(p, STORE_OP_DELETE, resource, name, NULL, revision, err);
}

int
client_service_allocate(struct client *c, json_t *svc, const json_t *old, struct client_plan *p,
			korch_error **err)
{
	int r;
	if (old && holds_cluster_ip(old) && !holds_cluster_ip(svc)) {
		const char *ip = jstr(json_object_get(old, "spec"), "clusterIP");
		if (ip && *ip && (r = release(c, IP_RESOURCE, ip, old, p, err)) < 0)
			return r;
	}
	if (holds_cluster_ip(svc) && !(old && holds_cluster_ip(old)) &&
	    (r = allocate_ip(c, svc, p, err)) < 0)
		return r;
	if ((r = allocate_ports(c, svc, old, p, err)) < 0)
		return r;
	if (old) {
		/* Ports the old version held and the new one does not are freed. */
		struct hashmap before = HASHMAP_INIT, after = HASHMAP_INIT;
		ports_held(old, &before);
		ports_held(svc, &after);
		size_t it = 0;
		const char *name;
		while (r >= 0 && hashmap_next(&before, &it, &name, NULL))
			if (!hashmap_contains(&after, name))
				r = release(c, PORT_RESOURCE, name, old, p, err);
		hashmap_free(&before, NULL);
		hashmap_free(&after, NULL);
	}
	return r < 0 ? r : 0;
}

int
client_service_release(struct client *c, const json_t *svc, struct client_plan *p,
		       korch_error **err)
{
	int r = 0;
	if (holds_cluster_ip(svc)) {
		const char *ip = jstr(json_object_get(svc, "spec"), "clusterIP");
		if (ip && *ip && (r = release(c, IP_RESOURCE, ip, svc, p, err)) < 0)
			return r;
	}
	struct hashmap held = HASHMAP_INIT;
	ports_held(svc, &held);
	size_t it = 0;
	const char *name;
	while (r >= 0 && hashmap_next(&held, &it, &name, NULL))
		r = release(c, PORT_RESOURCE, name, svc, p, err);
	hashmap_free(&held, NULL);
	return r;
}

/* ---- before validation on update ---- */

static bool
same_json(const json_t *a, const json_t *b)
{
	return a == b || (a && b && json_equal(a, b));
}

/* The ports' nodePort values in order, for "did the user change them". */
static bool
same_node_ports(const json_t *svc, const json_t *old)
{
	const json_t *a = json_object_get(json_object_get(svc, "spec"), "ports");
	const json_t *b = json_object_get(json_object_get(old, "spec"), "ports");
	if (json_array_size(a) != json_array_size(b))
		return false;
	for (size_t i = 0; i < json_array_size(a); i++)
		if (json_integer_value(json_object_get(json_array_get(a, i), "nodePort")) !=
		    json_integer_value(json_object_get(json_array_get(b, i), "nodePort")))
			return false;
	return true;
}

void
client_service_patch_update(json_t *svc, const json_t *old)
{
	json_t *spec = json_object_get(svc, "spec");
	const json_t *ospec = json_object_get(old, "spec");
	if (!json_is_object(spec) || !json_is_object(ospec))
		return;
	/* patchAllocatedValues: what the client left out is what it had (idempotent PUTs). */
	if (needs_cluster_ip(old) && needs_cluster_ip(svc)) {
		const char *ip = jstr(spec, "clusterIP");
		if ((!ip || !*ip) && json_array_size(json_object_get(spec, "clusterIPs")) == 0) {
			json_t *oip = json_object_get(ospec, "clusterIP");
			json_t *oips = json_object_get(ospec, "clusterIPs");
			if (oip)
				json_object_set(spec, "clusterIP", oip);
			if (oips)
				json_object_set_new(spec, "clusterIPs", json_deep_copy(oips));
		}
	}
	if (needs_node_port(old) && needs_node_port(svc)) {
		struct hashmap in_old = HASHMAP_INIT, in_new = HASHMAP_INIT;
		ports_held(old, &in_old);
		ports_held(svc, &in_new);
		size_t i, j;
		json_t *p, *q;
		json_array_foreach (json_object_get(spec, "ports"), i, p) {
			if (json_integer_value(json_object_get(p, "nodePort")))
				continue;
			/* By port name, unless the value is used by another port already. */
			json_array_foreach (json_object_get(ospec, "ports"), j, q) {
				if (!streq_null(jstr(p, "name"), jstr(q, "name")))
					continue;
				int64_t np = json_integer_value(json_object_get(q, "nodePort"));
				char name[32];
				snprintf(name, sizeof(name), "%lld", (long long)np);
				if (np && !(hashmap_contains(&in_old, name) &&
					    hashmap_contains(&in_new, name)))
					json_object_set_new(p, "nodePort", json_integer(np));
				break;
			}
		}
		hashmap_free(&in_old, NULL);
		hashmap_free(&in_new, NULL);
	}
	if (needs_hc_node_port(old) && needs_hc_node_port(svc) &&
	    !json_integer_value(json_object_get(spec, "healthCheckNodePort"))) {
		json_t *hc = json_object_get(ospec, "healthCheckNodePort");
		if (hc)
			json_object_set(spec, "healthCheckNodePort", hc);
	}
	/* dropTypeDependentFields: a type change wipes the values it made, if left as they were. */
	if (needs_cluster_ip(old) && !needs_cluster_ip(svc)) {
		if (same_json(json_object_get(spec, "clusterIPs"),
			      json_object_get(ospec, "clusterIPs")) &&
		    same_json(json_object_get(spec, "clusterIP"),
			      json_object_get(ospec, "clusterIP"))) {
			json_object_del(spec, "clusterIP");
			json_object_del(spec, "clusterIPs");
		}
		if (same_json(json_object_get(spec, "ipFamilies"),
			      json_object_get(ospec, "ipFamilies")))
			json_object_del(spec, "ipFamilies");
		if (same_json(json_object_get(spec, "ipFamilyPolicy"),
			      json_object_get(ospec, "ipFamilyPolicy")))
			json_object_del(spec, "ipFamilyPolicy");
	}
	if (needs_node_port(old) && !needs_node_port(svc) && same_node_ports(svc, old)) {
		size_t i;
		json_t *p;
		json_array_foreach (json_object_get(spec, "ports"), i, p)
			json_object_del(p, "nodePort");
	}
	if (needs_hc_node_port(old) && !needs_hc_node_port(svc) &&
	    json_integer_value(json_object_get(spec, "healthCheckNodePort")) ==
		    json_integer_value(json_object_get(ospec, "healthCheckNodePort")))
		json_object_del(spec, "healthCheckNodePort");
	static const struct {
		const char *field;
		bool (*needs)(const json_t *svc);
	} dependent[] = {
		{ "externalTrafficPolicy", externally_accessible },
		{ "internalTrafficPolicy", needs_cluster_ip },
		{ "allocateLoadBalancerNodePorts", is_load_balancer },
		{ "loadBalancerClass", is_load_balancer },
	};
	for (size_t i = 0; i < ARRAY_SIZE(dependent); i++)
		if (dependent[i].needs(old) && !dependent[i].needs(svc) &&
		    same_json(json_object_get(spec, dependent[i].field),
			      json_object_get(ospec, dependent[i].field)))
			json_object_del(spec, dependent[i].field);
}
