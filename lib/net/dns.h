/*
 * dns.h - the cluster DNS: records from Services, endpoints and Pods, and a responder (UDP and
 * TCP) on the korch loop that answers them and forwards other names to upstream resolvers.
 *
 * Names under the cluster domain (Kubernetes' DNS specification, as CoreDNS answers it):
 *  - SVC.NS.svc.DOMAIN: A with the ClusterIP; for a headless Service one A per ready endpoint;
 *    for an ExternalName Service a CNAME;
 *  - _PORT._PROTO.SVC.NS.svc.DOMAIN: SRV for each named port (target the Service name, or for a
 *    headless Service one per endpoint, targeting the endpoint's name below);
 *  - HOSTNAME.SVC.NS.svc.DOMAIN for headless endpoints with a hostname (StatefulSet pods), and
 *    A-B-C-D.SVC.NS.svc.DOMAIN for those without;
 *  - A-B-C-D.NS.pod.DOMAIN for pods that exist with that address in that namespace ("pods
 *    verified");
 *  - any other name in the domain: NXDOMAIN, with the domain's SOA for negative caching; an
 *    existing name asked for another type: NOERROR without answers.
 * Everything else is relayed to the upstream resolvers in order, each given timeout_ms, with a
 * random query id and a new socket per query; SERVFAIL when none answers.
 *
 * ldns parses the queries and builds the answers (wire format, name compression, EDNS): no
 * packet code here is hand-written; forwarded packets are relayed as they are.
 */
#ifndef KORCH_NET_DNS_H
#define KORCH_NET_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include <korch/loop.h>
#include "base/macro.h"

#define DNS_TTL_S 5 /* CoreDNS's kubernetes plugin default */

struct dns_records;

/*
 * Builds the record set for cluster_domain ("cluster.local") from arrays of Service objects,
 * EndpointSlice/Endpoints objects and Pod objects (each may be NULL). Errors name the object.
 */
int dns_records_build(const char *cluster_domain, const json_t *services, const json_t *endpoints,
		      const json_t *pods, struct dns_records **ret, korch_error **err);
void dns_records_free(struct dns_records *records);
/* How many resource records the set holds. */
size_t dns_records_count(const struct dns_records *records);
DEFINE_CLEANUP_FUNC(dns_records_free, struct dns_records, dns_records_free)

struct dns_upstream {
	uint32_t ip;   /* resolver address */
	uint16_t port; /* usually 53 */
};

struct dns_server_config {
	uint32_t listen_ip;                   /* address to answer on */
	uint16_t port;                        /* usually 53 */
	const char *cluster_domain;           /* "cluster.local" */
	const struct dns_upstream *upstreams; /* where other names go, in order */
	size_t n_upstreams;                   /* how many (0: SERVFAIL for other names) */
	int timeout_ms;                       /* per upstream; 0 means 2000 */
};

struct dns_server;

/*
 * Binds UDP and TCP sockets on listen_ip:port in the calling thread's network namespace and
 * serves them on loop. Until dns_server_set_records() every cluster name is NXDOMAIN.
 */
int dns_server_new(korch_loop *loop, const struct dns_server_config *config,
		   struct dns_server **ret, korch_error **err);
/* Replaces the records; takes ownership of records. Answers change at once. */
void dns_server_set_records(struct dns_server *server, struct dns_records *records);
/* Closes the sockets and drops pending forwards. Takes NULL. */
void dns_server_free(struct dns_server *server);
DEFINE_CLEANUP_FUNC(dns_server_free, struct dns_server, dns_server_free)

#endif
