/*
 * node.h - the node's pod network as one object for the node agent: the bridge, pods' veths
 * and addresses, the Service proxy and the cluster DNS, for one korch instance.
 *
 * Everything lives in the network namespace of the thread that calls node_net_open() (the
 * node's; in tests a namespace the test made) and every call must come from that thread, in that
 * namespace. Every call is idempotent. node_net_close() leaves the network as it is, so that a
 * restarted agent adopts it: node_net_open() finds the bridge and the pods' veths by their
 * aliases and seeds the allocator with the addresses recorded there, so no address is handed out
 * twice across a restart. The agent should seed the addresses of the pods it knows
 * (node_net_reserve()) and call node_net_services_sync() before it adds pods: the first sync
 * rewrites korch's nftables table, and until then hostPort changes wait.
 */
#ifndef KORCH_NET_NODE_H
#define KORCH_NET_NODE_H

#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include <korch/loop.h>
#include "net/proxy.h"

struct node_net;

struct node_net_config {
	const char *instance;       /* NULL: "korch" */
	const char *pod_cidr;       /* this node's spec.podCIDR; NULL: "10.244.0.0/24" */
	const char *cluster_cidr;   /* all pods; NULL: "10.244.0.0/16" */
	const char *node_ip;        /* the node's address for NodePorts and hostPorts (required) */
	unsigned mtu;               /* 0: 1500 */
	const char *cluster_domain; /* NULL: "cluster.local" */
	const char *const *dns_upstreams; /* "IP" or "IP:PORT": where other names are forwarded */
	size_t n_dns_upstreams;           /* how many */
	uint16_t dns_port;                /* 0: 53 */
};

/* A pod's hostPort, as in its containers' ports. */
struct node_net_hostport {
	enum svc_proto proto;    /* protocol */
	uint16_t host_port;      /* hostPort */
	const char *host_ip;     /* hostIP or NULL */
	uint16_t container_port; /* containerPort */
};

/*
 * Sets up (or adopts) the bridge with the gateway address (the pod CIDR's first address), turns
 * on forwarding in this namespace, adopts existing pod veths, and starts the DNS responder on the
 * gateway address. Errors name what failed ("bridge korch0: ...").
 */
int node_net_open(korch_loop *loop, const struct node_net_config *config, struct node_net **ret,
		  korch_error **err);
/* Stops DNS and frees the object; the bridge, veths and table stay. Takes NULL. */
void node_net_close(struct node_net *nn);

/* The gateway address (the bridge's, and DNS's). */
uint32_t node_net_gateway(const struct node_net *nn);

/* Seeds the allocator: key holds ip (see ipam_reserve()). */
int node_net_reserve(struct node_net *nn, const char *pod_key, const char *ip, korch_error **err);

/*
 * Connects a pod: its namespace given by netns_fd, or when that is negative by netns_path (a
 * bind mount of the sandbox's namespace). Gives it an address (the one it has, when called
 * again), a veth pair with eth0 inside, and its hostPorts. *ret_ip receives its address. On
 * failure nothing of it remains (no veth, no address).
 */
int node_net_pod_add(struct node_net *nn, const char *pod_key, int netns_fd, const char *netns_path,
		     const struct node_net_hostport *ports, size_t n_ports, uint32_t *ret_ip,
		     korch_error **err);

/* Disconnects a pod: its veth, its address and its hostPort rules go. Unknown pods: success. */
int node_net_pod_remove(struct node_net *nn, const char *pod_key, korch_error **err);

/* Programs the Services (see proxy_sync()); *ret_stats optional. */
int node_net_services_sync(struct node_net *nn, const json_t *services, const json_t *endpoints,
			   struct proxy_stats *ret_stats, korch_error **err);

/* Programs a change learnt from watch events (see proxy_update()); *ret_stats optional. */
int node_net_services_update(struct node_net *nn, const json_t *changed, const json_t *endpoints,
			     const char *const *removed, size_t n_removed,
			     struct proxy_stats *ret_stats, korch_error **err);

/* Replaces the DNS records (see dns_records_build()). */
int node_net_dns_update(struct node_net *nn, const json_t *services, const json_t *endpoints,
			const json_t *pods, korch_error **err);

/*
 * Removes an instance's network from the calling thread's namespace: its pods' veths, its
 * bridge and its nftables table (what `korchd reset` does). Links of other instances and other
 * tables are left alone. Idempotent.
 */
int node_net_reset(const char *instance, korch_error **err);

DEFINE_CLEANUP_FUNC(node_net_close, struct node_net, node_net_close)

#endif
