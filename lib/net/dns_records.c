/*
 * dns_records.c - the cluster domain's records from Services, endpoints and Pods.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "net/addr.h"
#include "net/dns_internal.h"
#include "net/svc.h"

static void
name_free(void *p)
{
	struct dns_name *n = p;
	for (size_t i = 0; i < n->rrs.n; i++)
		ldns_rr_free(n->rrs.items[i]);
	ptrvec_free(&n->rrs, NULL);
	free(n);
}

void
dns_records_free(struct dns_records *r)
{
	if (!r)
		return;
	hashmap_free(&r->names, name_free);
	if (r->soa)
		ldns_rr_free(r->soa);
	free(r->domain);
	free(r);
}

size_t
dns_records_count(const struct dns_records *r)
{
	return r->count;
}

const struct dns_name *
dns_records_lookup(const struct dns_records *r, const char *name)
{
	return hashmap_get(&r->names, name);
}

static struct dns_name *
name_get(struct dns_records *r, const char *name)
{
	struct dns_name *n = hashmap_get(&r->names, name);
	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n || hashmap_put(&r->names, name, n, NULL) < 0) {
		free(n);
		return NULL;
	}
	return n;
}

/* Registers name and its ancestors inside the domain as existing (empty non-terminals). */
static int
add_tree(struct dns_records *r, const char *name)
{
	for (const char *p = name; p && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL) {
		if (strlen(p) < strlen(r->domain))
			break;
		if (!name_get(r, p))
			return KORCH_ENOMEM;
	}
	return 0;
}

/* Adds a record given in zone-file text; owner is its (lower-case) owner name. */
static int add_rr(struct dns_records *r, const char *owner, const char *fmt, ...) _printf_(3, 4);
static int
add_rr(struct dns_records *r, const char *owner, const char *fmt, ...)
{
	char rdata[800], text[1600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rdata, sizeof(rdata), fmt, ap);
	va_end(ap);
	if (snprintf(text, sizeof(text), "%s %d IN %s", owner, DNS_TTL_S, rdata) >=
	    (int)sizeof(text))
		return KORCH_EINVALID;
	ldns_rr *rr = NULL;
	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		return KORCH_EINVALID;
	struct dns_name *n = add_tree(r, owner) == 0 ? name_get(r, owner) : NULL;
	if (!n || ptrvec_push(&n->rrs, rr) < 0) {
		ldns_rr_free(rr);
		return KORCH_ENOMEM;
	}
	r->count++;
	return 0;
}

int
dns_records_new(const char *domain, struct dns_records **ret, korch_error **err)
{
	if (!domain || !*domain)
		return error_set(err, KORCH_EINVALID, "a cluster domain is needed");
	struct dns_records *r = calloc(1, sizeof(*r));
	if (!r)
		return error_oom(err);
	if (asprintf(&r->domain, "%s.", domain) < 0) {
		free(r);
		return error_oom(err);
	}
	for (char *c = r->domain; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	char soa[600];
	snprintf(soa, sizeof(soa), "%s %d IN SOA ns.dns.%s hostmaster.%s 1 7200 1800 86400 %d",
		 r->domain, DNS_TTL_S, r->domain, r->domain, DNS_TTL_S);
	if (ldns_rr_new_frm_str(&r->soa, soa, 0, NULL, NULL) != LDNS_STATUS_OK) {
		dns_records_free(r);
		return error_set(err, KORCH_EINVALID, "invalid cluster domain \"%s\"", domain);
	}
	if (!name_get(r, r->domain)) {
		dns_records_free(r);
		return error_oom(err);
	}
	*ret = r;
	return 0;
}

static void
dashed(uint32_t ip, char buf[static NET_IP4_STRLEN])
{
	snprintf(buf, NET_IP4_STRLEN, "%u-%u-%u-%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
		 ip & 0xff);
}

/* The SRV records of one named port; targets are the Service or the endpoint names. */
static int
add_srv(struct dns_records *r, const struct svc *s, const char *svc_name, const struct svc_port *sp)
{
	if (!*sp->name)
		return 0;
	char owner[700], ipb[NET_IP4_STRLEN], target[700];
	const char *proto = svc_proto_nft(sp->proto);
	if (snprintf(owner, sizeof(owner), "_%s._%s.%s", sp->name, proto, svc_name) >=
	    (int)sizeof(owner))
		return KORCH_EINVALID;
	if (!s->headless)
		return add_rr(r, owner, "SRV 0 100 %u %s", sp->port, svc_name);
	size_t n = 0;
	for (size_t e = 0; e < s->n_eps; e++)
		for (size_t k = 0; k < s->eps[e].n_ports; k++)
			n += s->eps[e].ports[k].proto == sp->proto &&
			     streq(s->eps[e].ports[k].name, sp->name);
	for (size_t e = 0; e < s->n_eps; e++) {
		const struct svc_endpoint *ep = &s->eps[e];
		for (size_t k = 0; k < ep->n_ports; k++) {
			if (ep->ports[k].proto != sp->proto || !streq(ep->ports[k].name, sp->name))
				continue;
			if (!ep->hostname)
				dashed(ep->ip, ipb);
			if (snprintf(target, sizeof(target), "%s.%s",
				     ep->hostname ? ep->hostname : ipb,
				     svc_name) >= (int)sizeof(target))
				return KORCH_EINVALID;
			int rc = add_rr(r, owner, "SRV 0 %zu %u %s", 100 / n, ep->ports[k].port,
					target);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int
add_service(struct dns_records *r, const json_t *obj, const struct svc *s)
{
	char name[600], ipb[NET_IP4_STRLEN];
	if (snprintf(name, sizeof(name), "%s.%s.svc.%s", s->name, s->ns, r->domain) >=
	    (int)sizeof(name))
		return KORCH_EINVALID;
	int rc = 0;
	if (s->external_name) {
		const char *target = json_string_value(
			json_object_get(json_object_get(obj, "spec"), "externalName"));
		if (!target || !*target)
			return KORCH_EINVALID;
		return add_rr(r, name, "CNAME %s%s", target, endswith(target, ".") ? "" : ".");
	}
	if (!s->headless && s->cluster_ip)
		rc = add_rr(r, name, "A %s", ip4_format(s->cluster_ip, ipb));
	for (size_t e = 0; rc == 0 && s->headless && e < s->n_eps; e++) {
		const struct svc_endpoint *ep = &s->eps[e];
		char sub[700], dash[NET_IP4_STRLEN];
		ip4_format(ep->ip, ipb);
		rc = add_rr(r, name, "A %s", ipb);
		if (rc == 0 && ep->hostname) {
			rc = snprintf(sub, sizeof(sub), "%s.%s", ep->hostname, name) >=
					     (int)sizeof(sub)
				     ? KORCH_EINVALID
				     : add_rr(r, sub, "A %s", ipb);
		}
		if (rc == 0) {
			dashed(ep->ip, dash);
			rc = snprintf(sub, sizeof(sub), "%s.%s", dash, name) >= (int)sizeof(sub)
				     ? KORCH_EINVALID
				     : add_rr(r, sub, "A %s", ipb);
		}
	}
	if (rc == 0 && !s->headless && !s->cluster_ip)
		rc = add_tree(r, name);
	for (size_t i = 0; rc == 0 && i < s->n_ports; i++)
		rc = add_srv(r, s, name, &s->ports[i]);
	return rc;
}

static int
add_pod(struct dns_records *r, const json_t *pod)
{
	const json_t *status = json_object_get(pod, "status");
	const char *phase = json_string_value(json_object_get(status, "phase"));
	const char *ip = json_string_value(json_object_get(status, "podIP"));
	const char *ns =
		json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
	uint32_t a;
	if (!ip || streq(phase, "Succeeded") || streq(phase, "Failed") ||
	    ip4_parse(ip, &a, NULL) < 0)
		return 0;
	char name[600], dash[NET_IP4_STRLEN], ipb[NET_IP4_STRLEN];
	dashed(a, dash);
	if (snprintf(name, sizeof(name), "%s.%s.pod.%s", dash, ns ? ns : "default", r->domain) >=
	    (int)sizeof(name))
		return 0; /* not a name DNS can hold */
	return add_rr(r, name, "A %s", ip4_format(a, ipb));
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
}

int
dns_records_build(const char *cluster_domain, const json_t *services, const json_t *endpoints,
		  const json_t *pods, struct dns_records **ret, korch_error **err)
{
	struct dns_records *r = NULL;
	int rc = dns_records_new(cluster_domain, &r, err);
	if (rc < 0)
		return rc;
	struct hashmap index = HASHMAP_INIT;
	rc = svc_index_endpoints(endpoints, &index, err);
	size_t i;
	json_t *obj;
	json_array_foreach (rc == 0 ? services : NULL, i, obj) {
		char key[SVC_KEY_MAX];
		struct svc s;
		rc = svc_object_key(obj, key, err);
		if (rc == 0)
			rc = svc_decode(obj, hashmap_get(&index, key), &s, err);
		if (rc < 0)
			break;
		lower(s.name);
		lower(s.ns);
		rc = add_service(r, obj, &s);
		svc_clear(&s);
		if (rc < 0) {
			rc = rc == KORCH_ENOMEM
				     ? error_oom(err)
				     : error_set(err, KORCH_EINVALID,
						 "service %s: cannot be named in DNS", key);
			break;
		}
	}
	json_array_foreach (rc == 0 ? pods : NULL, i, obj) {
		rc = add_pod(r, obj);
		if (rc < 0) {
			rc = error_oom(err);
			break;
		}
	}
	svc_index_free(&index);
	if (rc < 0) {
		dns_records_free(r);
		return rc;
	}
	*ret = r;
	return 0;
}
