/*
 * ipam.h - the node's pod address allocator over its pod CIDR.
 *
 * The network address, the gateway (network + 1, the bridge's address) and the broadcast address
 * are never handed out. Every address has at most one owner, a pod key (the node agent's choice:
 * the pod UID or the sandbox id). Allocation is next-fit: it goes on after the last address it
 * handed out, so that a released address is not reused at once (a late packet for a deleted pod
 * then does not reach its successor).
 *
 * Restart: nothing here is persistent. After a restart the caller seeds the allocator with
 * ipam_reserve() for every address it knows to be in use before it allocates anything: the
 * addresses recorded in the pods it knows (status.podIP) and those of the sandboxes that still
 * exist (node_net_open() seeds from the veths it adopts). Seeding the same key with the same
 * address twice is harmless; two keys claiming one address is KORCH_ECONFLICT, so a conflict is
 * seen rather than papered over.
 */
#ifndef KORCH_NET_IPAM_H
#define KORCH_NET_IPAM_H

#include <stddef.h>
#include <stdint.h>
#include <korch/common.h>
#include "net/addr.h"

struct ipam;

/* An allocator over cidr (a prefix of /16 to /30). */
int ipam_new(const struct net_cidr *cidr, struct ipam **ret, korch_error **err);
void ipam_free(struct ipam *ipam);

/* The gateway address (network + 1). */
uint32_t ipam_gateway(const struct ipam *ipam);
/* How many addresses can be handed out in all, and how many are in use. */
size_t ipam_capacity(const struct ipam *ipam);
size_t ipam_used(const struct ipam *ipam);

/*
 * Marks ip as used by key (seeding). Idempotent for the same key and address. Errors:
 * KORCH_EINVALID (outside the CIDR, or a reserved address), KORCH_ECONFLICT (another key holds
 * ip, or key already holds another address).
 */
int ipam_reserve(struct ipam *ipam, const char *key, uint32_t ip, korch_error **err);

/*
 * Gives key an address: the one it holds already, or the next free one. KORCH_ETOOLARGE with
 * "pod CIDR 10.244.0.0/24 is exhausted: all 253 addresses are in use" when none is left.
 */
int ipam_allocate(struct ipam *ipam, const char *key, uint32_t *ret_ip, korch_error **err);

/* Releases what key holds; KORCH_ENOTFOUND when it holds nothing. */
int ipam_release(struct ipam *ipam, const char *key);

/* The address key holds (KORCH_ENOTFOUND when none), and the key holding ip (NULL if free). */
int ipam_lookup(const struct ipam *ipam, const char *key, uint32_t *ret_ip);
const char *ipam_owner(const struct ipam *ipam, uint32_t ip);

DEFINE_CLEANUP_FUNC(ipam_free, struct ipam, ipam_free)

#endif
