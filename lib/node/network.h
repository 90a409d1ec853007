/*
 * network.h - the node's network role: lib/net's node network (net/node.h: bridge, veths, IPAM,
 * proxy, DNS) driven from the state through lib/client informers, and the pod network hooks the
 * node agent calls. korchd and embedding programs start it beside the agent:
 *
 *	struct node_network_options no = {
 *		.client = client, .node_name = "node-1", .node_ip = "192.0.2.10",
 *		.instance = "korch", .api_host = "192.0.2.10", .api_port = 6443,
 *	};
 *	struct node_network *nw;
 *	node_network_start(&no, &nw, &err);
 *	agent_options.network = &node_network_pod_ops;
 *	agent_options.network_data = nw;
 *	agent_options.cluster_dns = node_network_cluster_dns(nw);    // "10.96.0.10"
 *	agent_options.node_ip = "192.0.2.10";
 *	node_agent_new(&agent_options, &agent, &err); node_agent_start(agent, &err);
 *	... run the loop; node_network_ready(nw) once pods can be connected ...
 *	node_agent_free(agent); node_network_free(nw);
 *
 * What it does, all on the loop of the client's store:
 *  - the pod CIDR is the option's, or else the Node's spec.podCIDR (the node IPAM controller
 *    fills it): until it is known, pod setup fails with "network is not ready" and the agent
 *    retries;
 *  - restart: node_net_open() adopts the bridge and the veths (their aliases name pod and
 *    address), and every address recorded in the store for a pod of this node that is not over
 *    (status.podIP) is reserved for that pod before anything is allocated, so no address is
 *    given to two pods; a pod deleted from the store gives back a reservation it never used;
 *  - Services (v1) and EndpointSlices (discovery.k8s.io/v1) of all namespaces program the proxy:
 *    first one full sync, then per loop dispatch one node_net_services_update() with the
 *    Services that changed (nothing at all when none did); each is one nftables transaction;
 *  - kube-system/kube-dns: created when missing (its ClusterIP, 10.96.0.10, is reserved for it)
 *    and, on every node, proxied to this node's own responder on the bridge address, whatever
 *    the store's endpoints say; default/kubernetes likewise to api_host:api_port when given
 *    (otherwise to the endpoints the bootstrap controller writes);
 *  - DNS records from the same Services, EndpointSlices and Pods, rebuilt per dispatch that
 *    changed any of them.
 */
#ifndef KORCH_NODE_NETWORK_H
#define KORCH_NODE_NETWORK_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/common.h>
#include "base/macro.h"
#include "client/client.h"
#include "node/agent.h"

struct node_network;

struct node_network_options {
	struct client *client;      /* required, borrowed; its store must have a loop */
	const char *node_name;      /* required: the Node whose spec.podCIDR and pods count */
	const char *node_ip;        /* NodePorts and hostPorts; NULL: the default route's address */
	const char *instance;       /* names the bridge and the nftables table; NULL: "korch" */
	const char *pod_cidr;       /* NULL: the Node's spec.podCIDR */
	const char *cluster_cidr;   /* all pods; NULL: "10.244.0.0/16" */
	const char *cluster_domain; /* NULL: "cluster.local" */
	const char *const *dns_upstreams; /* "IP[:PORT]", NULL-ended; NULL: the nameservers of
					     the node's /etc/resolv.conf */
	uint16_t dns_port;                /* the responder's; 0: 53 */
	unsigned mtu;                     /* pods' MTU; 0: 1500 */
	const char *api_host;             /* the API server for default/kubernetes, or NULL */
	int api_port;                     /* its port; 0: 6443 */
	int64_t retry_ns;                 /* after a failed sync; 0: 1 s */
};

/*
 * Checks the options, starts the informers and returns the role; the network itself opens once
 * the pod CIDR is known and the informers have listed. Errors name the bad option.
 */
int node_network_start(const struct node_network_options *opts, struct node_network **ret,
		       korch_error **err);

/* Stops watching, closes the DNS responder; the bridge, veths and table stay (see node.h). */
void node_network_free(struct node_network *nw);

/* Whether pods can be connected: the network is open and the proxy had its first sync. */
bool node_network_ready(const struct node_network *nw);

/* The kube-dns Service address pods' resolv.conf names ("10.96.0.10"). */
const char *node_network_cluster_dns(const struct node_network *nw);

/* The node network (NULL before it opened): tests and the benchmark look into it. */
struct node_net *node_network_net(struct node_network *nw);

/* The last sync's figures: how many proxy transactions were sent and how many were full. */
struct node_network_stats {
	uint64_t syncs;        /* proxy syncs that sent a transaction */
	uint64_t full_syncs;   /* of which full */
	uint64_t unchanged;    /* passes where Services changed in the store but not in nftables */
	uint64_t dns_rebuilds; /* DNS record sets built */
	uint64_t failures;     /* syncs that failed (retried) */
};
void node_network_stats(const struct node_network *nw, struct node_network_stats *ret);

/* The hooks for node_agent_options.network, with the role as network_data. */
extern const struct node_network_ops node_network_pod_ops;

DEFINE_CLEANUP_FUNC(node_network_free, struct node_network, node_network_free)

#endif
