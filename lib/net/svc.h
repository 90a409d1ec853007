/*
 * svc.h - the parts of Services, EndpointSlices and Endpoints that the proxy and DNS use,
 * decoded once per change into small structs.
 *
 * Endpoints come from EndpointSlices (discovery.k8s.io/v1: the service-name label, addressType
 * IPv4, conditions.ready where a missing value means ready, terminating ones excluded, only the
 * first address of an endpoint used) or from core/v1 Endpoints (subsets[].addresses; the
 * notReadyAddresses are left out). A Service port takes the endpoint ports of the same name and
 * protocol, as kube-proxy matches them.
 */
#ifndef KORCH_NET_SVC_H
#define KORCH_NET_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/hashmap.h"
#include "base/strbuf.h"
#include "base/vec.h"

enum svc_proto { SVC_TCP, SVC_UDP, SVC_SCTP };

/* "tcp", "udp", "sctp" (nftables' words), and "TCP"... (Kubernetes'). */
const char *svc_proto_nft(enum svc_proto p);
const char *svc_proto_k8s(enum svc_proto p);

struct svc_port {
	char *name;           /* spec.ports[].name ("" when unnamed) */
	enum svc_proto proto; /* protocol */
	uint16_t port;        /* the Service port */
	uint16_t node_port;   /* nodePort or 0 */
};

struct svc_ep_port {
	char *name;           /* the port name it serves */
	enum svc_proto proto; /* protocol */
	uint16_t port;        /* the target port on the endpoint */
};

struct svc_endpoint {
	uint32_t ip;               /* its address */
	char *hostname;            /* endpoints[].hostname (StatefulSet pods), or NULL */
	struct svc_ep_port *ports; /* n_ports entries */
	size_t n_ports;            /* how many */
};

struct svc {
	char *ns;                    /* metadata.namespace */
	char *name;                  /* metadata.name */
	bool headless;               /* spec.clusterIP "None" */
	bool external_name;          /* type ExternalName: neither proxied nor given an A record */
	uint32_t cluster_ip;         /* 0 when headless or unset */
	uint32_t *external_ips;      /* spec.externalIPs */
	size_t n_external_ips;       /* how many */
	uint32_t affinity_timeout_s; /* ClientIP affinity timeout, 0 without affinity */
	struct svc_port *ports;      /* n_ports entries */
	size_t n_ports;              /* how many */
	struct svc_endpoint *eps;    /* the ready endpoints, n_eps entries, sorted by address */
	size_t n_eps;                /* how many */
};

void svc_clear(struct svc *s);

/*
 * Indexes endpoint objects (an array of EndpointSlice and/or Endpoints objects, or NULL) by
 * their Service, "NS/NAME" -> struct ptrvec of json_t * (borrowed from the array). Objects of
 * another kind, or slices of another address type, are skipped. Free with svc_index_free().
 */
int svc_index_endpoints(const json_t *endpoints, struct hashmap *ret_index, korch_error **err);
void svc_index_free(struct hashmap *index);

#define SVC_KEY_MAX 320 /* "NS/NAME": a label, a slash, a subdomain name, the NUL */

/* "NS/NAME" of an object into buf. KORCH_EINVALID without a name, or a name too long. */
int svc_object_key(const json_t *obj, char buf[static SVC_KEY_MAX], korch_error **err);

/*
 * Decodes a Service and its endpoint objects (from the index, may be NULL). Errors name the
 * object and the field ("service default/web: spec.ports[0].port: must be from 1 to 65535").
 */
int svc_decode(const json_t *service, const struct ptrvec *eps, struct svc *ret, korch_error **err);

/*
 * A fingerprint of a Service and its endpoint objects from their resourceVersions, into sb
 * (emptied first; reused across calls so that hot loops do not allocate). false when some object
 * has none (then the caller must decode it every time) or memory ran out.
 */
bool svc_fingerprint(const json_t *service, const struct ptrvec *eps, struct strbuf *sb);

#endif
