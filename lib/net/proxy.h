/*
 * proxy.h - Services as nftables rules in korch's own table, in kube-proxy's nftables design
 * (KEP-3866), applied as the difference from what is in the kernel in one atomic transaction.
 *
 * Table "inet TABLE" (see addr.h for the name), all of it korch's; nothing else in the ruleset
 * is read, flushed or touched. Its layout:
 *  - base chains nat-prerouting and nat-output jump to "services" and "hostports";
 *    nat-postrouting jumps to "masquerading"; filter-input/forward/output send new connections
 *    to "service-endpoints-check", which rejects Services without ready endpoints;
 *  - "services": `ip daddr . meta l4proto . th dport vmap @service-ips` for ClusterIPs and
 *    externalIPs, and `ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`
 *    for NodePorts on the node's addresses;
 *  - per Service port a chain service-NS/NAME/PROTO/PORT: masquerade for sources outside the
 *    cluster CIDR that are not the node itself (kube-proxy masquerades the node's own
 *    connections too; korch keeps their source, which the replies reach anyway), then for ClientIP affinity `ip saddr @affinity-... goto endpoint-...` per
 *    endpoint, then random balancing over the ready endpoints with numgen;
 *  - per endpoint a chain endpoint-NS/NAME/PROTO/PORT__IP/PORT: hairpin masquerade (a pod
 *    reaching its own Service), the affinity set update, DNAT;
 *  - external-... chains (NodePort, externalIPs) mark for masquerade and go to the service chain;
 *  - "masquerading": pod traffic leaving the cluster CIDR, and marked traffic;
 *  - "hostports": DNAT from the node's addresses to pods' hostPorts.
 *
 * Balancing is `numgen random mod N-i 0 goto endpoint-i` rules (uniform overall) instead of
 * kube-proxy's one `numgen random mod N vmap { ... }`: every anonymous vmap is a kernel set,
 * and the kernel names each new anonymous set by scanning all of the table's sets, so 10,000
 * Services took 83 s to program with vmaps here against 3.5 s with rules.
 *
 * Changes are written as `add chain NAME { rules }` and `add map NAME { elements = ... }`
 * commands, which libnftables evaluates without fetching the table's contents from the kernel
 * (plain `add rule` and `add element` fetch every chain: 200-300 ms at 10,000 Services). Chains
 * that are no longer needed are flushed at once (cheap) and deleted later by
 * proxy_collect_garbage(), as kube-proxy does, because deleting needs that fetch.
 *
 * What bounds a change's latency at scale is the kernel: a transaction that adds any rule makes
 * it validate every chain reachable from the table's base chains (nft_table_validate), about
 * 55-80 ms of system time with 10,000 Services and 3 endpoints each on this machine, against
 * about 6 ms for a transaction that adds no rule.
 */
#ifndef KORCH_NET_PROXY_H
#define KORCH_NET_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "net/addr.h"
#include "net/svc.h"

struct proxy;

struct proxy_config {
	const char *table; /* the table's name ("korch"); family inet */
	struct net_cidr
		cluster_cidr;     /* all pods of the cluster: traffic leaving it is masqueraded */
	const uint32_t *node_ips; /* the node's addresses: NodePorts and hostPorts listen there */
	size_t n_node_ips;        /* how many */
};

/* A pod's hostPort mapping. */
struct proxy_hostport {
	enum svc_proto proto; /* protocol */
	uint16_t host_port;   /* on the node */
	uint32_t host_ip;     /* a node address, or 0 for all of nodeport-ips */
	uint32_t pod_ip;      /* the pod */
	uint16_t pod_port;    /* containerPort */
};

/* What the last sync did. */
struct proxy_stats {
	size_t commands; /* nftables commands sent (0: nothing was sent) */
	size_t bytes;    /* size of the transaction's text */
	bool full;       /* the whole table was rewritten */
	size_t services; /* Services decoded and rendered again (the others were unchanged) */
	size_t garbage;  /* chains and sets waiting for proxy_collect_garbage() */
};

/*
 * A proxy for config (copied) with its own libnftables context, whose netlink socket belongs to
 * the calling thread's network namespace. Touches nothing until the first sync, which rewrites
 * the whole table in one transaction (adopting, after a restart, whatever was there).
 */
int proxy_new(const struct proxy_config *config, struct proxy **ret, korch_error **err);
void proxy_free(struct proxy *proxy);

/* Sets a pod's hostPort mappings (n = 0 removes them); applied by the next sync. */
int proxy_set_hostports(struct proxy *proxy, const char *pod_key,
			const struct proxy_hostport *ports, size_t n, korch_error **err);

/*
 * Brings the table to the state that services (an array of Service objects) and endpoints (an
 * array of EndpointSlice and/or Endpoints objects) describe: one transaction with only the
 * difference, nothing at all when nothing changed. Objects whose resourceVersion (and their
 * endpoint objects') did not change since the last sync are not decoded again. On any error
 * nothing is applied and the next sync starts from what the kernel has. *ret_stats (optional)
 * tells what was done.
 */
int proxy_sync(struct proxy *proxy, const json_t *services, const json_t *endpoints,
	       struct proxy_stats *ret_stats, korch_error **err);

/*
 * The same for a change the caller learnt from watch events, in time proportional to the change
 * rather than to the number of Services: changed holds the Services that were added or changed
 * (or whose endpoint objects changed), endpoints all the endpoint objects of those Services, and
 * removed the "NS/NAME" keys of Services that are gone. Services not named keep what they have.
 * KORCH_EINVALID before a first proxy_sync().
 */
int proxy_update(struct proxy *proxy, const json_t *changed, const json_t *endpoints,
		 const char *const *removed, size_t n_removed, struct proxy_stats *ret_stats,
		 korch_error **err);

/* Deletes the chains and sets that syncs flushed; returns how many were deleted or an error. */
int proxy_collect_garbage(struct proxy *proxy, korch_error **err);

/* Deletes the table (a missing table is success). */
int proxy_reset_table(const char *table, korch_error **err);

DEFINE_CLEANUP_FUNC(proxy_free, struct proxy, proxy_free)

#endif
