/*
 * svc.c - decoding Services, EndpointSlices and Endpoints for the proxy and DNS.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "net/addr.h"
#include "net/svc.h"

const char *
svc_proto_nft(enum svc_proto p)
{
	return p == SVC_UDP ? "udp" : p == SVC_SCTP ? "sctp" : "tcp";
}

const char *
svc_proto_k8s(enum svc_proto p)
{
	return p == SVC_UDP ? "UDP" : p == SVC_SCTP ? "SCTP" : "TCP";
}

static int
parse_proto(const json_t *v, enum svc_proto *ret)
{
	const char *s = json_string_value(v);
	if (!v || streq(s, "TCP"))
		*ret = SVC_TCP;
	else if (streq(s, "UDP"))
		*ret = SVC_UDP;
	else if (streq(s, "SCTP"))
		*ret = SVC_SCTP;
	else
		return KORCH_EINVALID;
	return 0;
}

static void
endpoint_clear(struct svc_endpoint *e)
{
	free(e->hostname);
	for (size_t i = 0; i < e->n_ports; i++)
		free(e->ports[i].name);
	free(e->ports);
}

void
svc_clear(struct svc *s)
{
	free(s->ns);
	free(s->name);
	free(s->external_ips);
	for (size_t i = 0; i < s->n_ports; i++)
		free(s->ports[i].name);
	free(s->ports);
	for (size_t i = 0; i < s->n_eps; i++)
		endpoint_clear(&s->eps[i]);
	free(s->eps);
	*s = (struct svc){ 0 };
}

static const char *
meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static bool
make_key(const char *ns, const char *name, char buf[static SVC_KEY_MAX])
{
	if (!ns)
		ns = "default";
	size_t a = strlen(ns), b = strlen(name);
	if (a + 1 + b + 1 > SVC_KEY_MAX)
		return false;
	memcpy(buf, ns, a);
	buf[a] = '/';
	memcpy(buf + a + 1, name, b + 1);
	return true;
}

int
svc_object_key(const json_t *obj, char buf[static SVC_KEY_MAX], korch_error **err)
{
	const char *name = meta_str(obj, "name");
	if (!name || !*name)
		return error_set(err, KORCH_EINVALID, "metadata.name: Required value");
	if (!make_key(meta_str(obj, "namespace"), name, buf))
		return error_set(err, KORCH_EINVALID, "metadata.name: \"%s\" is too long", name);
	return 0;
}

static void
free_vec(void *v)
{
	ptrvec_free(v, NULL);
	free(v);
}

void
svc_index_free(struct hashmap *index)
{
	hashmap_free(index, free_vec);
}

int
svc_index_endpoints(const json_t *endpoints, struct hashmap *ret_index, korch_error **err)
{
	struct hashmap index = HASHMAP_INIT;
	if (endpoints && !json_is_array(endpoints))
		return error_set(err, KORCH_EINVALID, "endpoints: a list of objects is needed");
	size_t i;
	json_t *obj;
	json_array_foreach (endpoints, i, obj) {
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		const char *svc_name = NULL;
		if (streq(kind, "EndpointSlice")) {
			const char *type = json_string_value(json_object_get(obj, "addressType"));
			if (type && !streq(type, "IPv4"))
				continue; /* korch's pod network is IPv4 */
			svc_name = json_string_value(json_object_get(
				json_object_get(json_object_get(obj, "metadata"), "labels"),
				"kubernetes.io/service-name"));
		} else if (streq(kind, "Endpoints")) {
			svc_name = meta_str(obj, "name");
		} else {
			svc_index_free(&index);
			return error_set(err, KORCH_EINVALID,
					 "endpoints[%zu]: kind \"%s\" is neither EndpointSlice nor "
					 "Endpoints",
					 i, kind ? kind : "");
		}
		if (!svc_name || !*svc_name)
			continue; /* a slice not owned by a Service */
		char key[SVC_KEY_MAX];
		if (!make_key(meta_str(obj, "namespace"), svc_name, key))
			continue; /* no Service can have that name */
		struct ptrvec *v = hashmap_get(&index, key);
		if (!v) {
			v = calloc(1, sizeof(*v));
			if (!v || hashmap_put(&index, key, v, NULL) < 0) {
				free(v);
				goto oom;
			}
		}
		if (ptrvec_push(v, obj) < 0)
			goto oom;
	}
	*ret_index = index;
	return 0;
oom:
	svc_index_free(&index);
	return error_oom(err);
}

bool
svc_fingerprint(const json_t *service, const struct ptrvec *eps, struct strbuf *sb)
{
	strbuf_truncate(sb, 0);
	const char *rv = meta_str(service, "resourceVersion");
	if (!rv)
		return false;
	strbuf_puts(sb, rv);
	for (size_t i = 0; eps && i < eps->n; i++) {
		const json_t *meta = json_object_get(eps->items[i], "metadata");
		const char *erv = json_string_value(json_object_get(meta, "resourceVersion"));
		const char *name = json_string_value(json_object_get(meta, "name"));
		if (!erv || !name)
			return false;
		strbuf_putc(sb, '|');
		strbuf_puts(sb, name);
		strbuf_putc(sb, ':');
		strbuf_puts(sb, erv);
	}
	return !sb->oom;
}

static int
port_number(const json_t *v, bool zero_ok, uint16_t *ret)
{
	if (!v && zero_ok) {
		*ret = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return KORCH_EINVALID;
	json_int_t n = json_integer_value(v);
	if (n < (zero_ok ? 0 : 1) || n > 65535)
		return KORCH_EINVALID;
	*ret = (uint16_t)n;
	return 0;
}

static int
decode_ports(const json_t *spec, struct svc *s, korch_error **err)
{
	const json_t *ports = json_object_get(spec, "ports");
	if (ports && !json_is_array(ports))
		return error_set(err, KORCH_EINVALID, "spec.ports: must be a list");
	size_t n = json_array_size(ports);
	s->ports = calloc(n ? n : 1, sizeof(*s->ports));
	if (!s->ports)
		return error_oom(err);
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(ports, i);
		struct svc_port *sp = &s->ports[s->n_ports++];
		const char *name = json_string_value(json_object_get(p, "name"));
		sp->name = strdup(name ? name : "");
		if (!sp->name)
			return error_oom(err);
		if (parse_proto(json_object_get(p, "protocol"), &sp->proto) < 0)
			return error_set(err, KORCH_EINVALID,
					 "spec.ports[%zu].protocol: Unsupported value: supported "
					 "values: \"SCTP\", \"TCP\", \"UDP\"",
					 i);
		if (port_number(json_object_get(p, "port"), false, &sp->port) < 0)
			return error_set(err, KORCH_EINVALID,
					 "spec.ports[%zu].port: must be from 1 to 65535", i);
		if (port_number(json_object_get(p, "nodePort"), true, &sp->node_port) < 0)
			return error_set(err, KORCH_EINVALID,
					 "spec.ports[%zu].nodePort: must be from 1 to 65535", i);
	}
	return 0;
}

static int
decode_spec(const json_t *spec, struct svc *s, korch_error **err)
{
	const char *type = json_string_value(json_object_get(spec, "type"));
	s->external_name = streq(type, "ExternalName");
	const char *cip = json_string_value(json_object_get(spec, "clusterIP"));
	if (streq(cip, "None"))
		s->headless = true;
	else if (cip && *cip && ip4_parse(cip, &s->cluster_ip, NULL) < 0)
		return error_set(err, KORCH_EINVALID, "spec.clusterIP: invalid IPv4 address \"%s\"",
				 cip);
	const json_t *eips = json_object_get(spec, "externalIPs");
	size_t n = json_array_size(eips);
	if (n) {
		s->external_ips = calloc(n, sizeof(uint32_t));
		if (!s->external_ips)
			return error_oom(err);
		for (size_t i = 0; i < n; i++) {
			const char *t = json_string_value(json_array_get(eips, i));
			if (ip4_parse(t, &s->external_ips[i], NULL) < 0)
				return error_set(
					err, KORCH_EINVALID,
					"spec.externalIPs[%zu]: invalid IPv4 address \"%s\"", i,
					t ? t : "");
		}
		s->n_external_ips = n;
	}
	const char *aff = json_string_value(json_object_get(spec, "sessionAffinity"));
	if (streq(aff, "ClientIP")) {
		const json_t *t = json_object_get(
			json_object_get(json_object_get(spec, "sessionAffinityConfig"), "clientIP"),
			"timeoutSeconds");
		json_int_t secs = t ? json_integer_value(t) : 10800;
		if ((t && !json_is_integer(t)) || secs < 1 || secs > 86400)
			return error_set(
				err, KORCH_EINVALID,
				"spec.sessionAffinityConfig.clientIP.timeoutSeconds: must be "
				"from 1 to 86400");
		s->affinity_timeout_s = (uint32_t)secs;
	} else if (aff && !streq(aff, "None")) {
		return error_set(
			err, KORCH_EINVALID,
			"spec.sessionAffinity: Unsupported value: \"%s\": supported values: "
			"\"ClientIP\", \"None\"",
			aff);
	}
	return decode_ports(spec, s, err);
}

/* Adds an endpoint (or more ports to one with the same address and hostname). */
static struct svc_endpoint *
endpoint_get(struct svc *s, size_t *cap, uint32_t ip)
{
	for (size_t i = 0; i < s->n_eps; i++)
		if (s->eps[i].ip == ip)
			return &s->eps[i];
	struct svc_endpoint *e = VEC_PUSH(s->eps, s->n_eps, *cap);
	if (e)
		e->ip = ip;
	return e;
}

static int
endpoint_add_ports(struct svc_endpoint *e, const json_t *ports, const char *what, korch_error **err)
{
	size_t i, cap = e->n_ports;
	json_t *p;
	json_array_foreach (ports, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		struct svc_ep_port ep = { 0 };
		if (parse_proto(json_object_get(p, "protocol"), &ep.proto) < 0 ||
		    port_number(json_object_get(p, "port"), false, &ep.port) < 0)
			return error_set(err, KORCH_EINVALID, "%s ports[%zu]: invalid port", what,
					 i);
		bool dup = false;
		for (size_t k = 0; k < e->n_ports; k++)
			dup |= streq(e->ports[k].name, name ? name : "") &&
			       e->ports[k].proto == ep.proto;
		if (dup)
			continue;
		struct svc_ep_port *slot = VEC_PUSH(e->ports, e->n_ports, cap);
		if (!slot || !(ep.name = strdup(name ? name : ""))) {
			if (slot)
				e->n_ports--;
			return error_oom(err);
		}
		*slot = ep;
	}
	return 0;
}

static int
add_endpoint(struct svc *s, size_t *cap, const char *ip_text, const char *hostname,
	     const json_t *ports, const char *what, korch_error **err)
{
	uint32_t ip = 0;
	if (ip4_parse(ip_text, &ip, NULL) < 0)
		return error_set(err, KORCH_EINVALID, "%s: invalid IPv4 address \"%s\"", what,
				 ip_text ? ip_text : "");
	struct svc_endpoint *e = endpoint_get(s, cap, ip);
	if (!e)
		return error_oom(err);
	if (hostname && !e->hostname && !(e->hostname = strdup(hostname)))
		return error_oom(err);
	return endpoint_add_ports(e, ports, what, err);
}

static int
decode_slice(const json_t *slice, struct svc *s, size_t *cap, korch_error **err)
{
	const char *sname = meta_str(slice, "name");
	char what[300];
	snprintf(what, sizeof(what), "EndpointSlice %s", sname ? sname : "");
	const json_t *ports = json_object_get(slice, "ports");
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(slice, "endpoints"), i, e) {
		const json_t *cond = json_object_get(e, "conditions");
		const json_t *ready = json_object_get(cond, "ready");
		const json_t *term = json_object_get(cond, "terminating");
		if ((ready && !json_is_true(ready)) || json_is_true(term))
			continue;
		const char *ip =
			json_string_value(json_array_get(json_object_get(e, "addresses"), 0));
		const char *hostname = json_string_value(json_object_get(e, "hostname"));
		int r = add_endpoint(s, cap, ip, hostname, ports, what, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
decode_endpoints(const json_t *obj, struct svc *s, size_t *cap, korch_error **err)
{
	size_t i, j;
	json_t *sub, *a;
	json_array_foreach (json_object_get(obj, "subsets"), i, sub) {
		const json_t *ports = json_object_get(sub, "ports");
		json_array_foreach (json_object_get(sub, "addresses"), j, a) {
			const char *ip = json_string_value(json_object_get(a, "ip"));
			const char *hostname = json_string_value(json_object_get(a, "hostname"));
			int r = add_endpoint(s, cap, ip, hostname, ports, "Endpoints", err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int
cmp_ep(const void *a, const void *b)
{
	uint32_t x = ((const struct svc_endpoint *)a)->ip, y = ((const struct svc_endpoint *)b)->ip;
	return x < y ? -1 : x > y;
}

int
svc_decode(const json_t *service, const struct ptrvec *eps, struct svc *ret, korch_error **err)
{
	struct svc s = { 0 };
	const char *name = meta_str(service, "name");
	const char *ns = meta_str(service, "namespace");
	if (!json_is_object(service) || !name || !*name)
		return error_set(err, KORCH_EINVALID, "service: metadata.name: Required value");
	s.ns = strdup(ns ? ns : "default");
	s.name = strdup(name);
	if (!s.ns || !s.name) {
		svc_clear(&s);
		return error_oom(err);
	}
	int r = decode_spec(json_object_get(service, "spec"), &s, err);
	size_t cap = 0;
	for (size_t i = 0; r == 0 && eps && i < eps->n; i++) {
		const json_t *o = eps->items[i];
		r = streq(json_string_value(json_object_get(o, "kind")), "Endpoints")
			    ? decode_endpoints(o, &s, &cap, err)
			    : decode_slice(o, &s, &cap, err);
	}
	if (r < 0) {
		korch_error_prefix(err, r, "service %s/%s", s.ns, s.name);
		svc_clear(&s);
		return r;
	}
	if (s.n_eps > 1)
		qsort(s.eps, s.n_eps, sizeof(*s.eps), cmp_ep);
	*ret = s;
	return 0;
}
