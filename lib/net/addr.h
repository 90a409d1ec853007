/*
 * addr.h - IPv4 addresses and CIDRs for the pod network, and the names korch gives to its
 * interfaces and its nftables table.
 *
 * Addresses are uint32_t in host byte order throughout lib/net.
 *
 * Naming rule (interface names hold at most 15 bytes, IFNAMSIZ - 1):
 *  - bridge: "korch0" for the default instance "korch"; otherwise "kb" INSTANCE "0" when that
 *    fits, else "kb" + the first 4 bytes of the instance + 8 hex digits of FNV-1a(instance) + "0"
 *    (15 bytes). Two instances never share a bridge name unless their hashes collide, and every
 *    link korch makes carries an alias naming its instance, which is checked before korch
 *    adopts or deletes a link, so a collision is an error, never a takeover.
 *  - pod veth (the host end): "kv" + 4 hex digits of FNV-1a(instance) + 8 hex digits of
 *    FNV-1a(pod key) (14 bytes); the pod end is "eth0" inside the pod's namespace.
 *  - nftables table: "inet korch" for the default instance, "inet korch-INSTANCE" otherwise.
 *  - aliases (IFLA_IFALIAS): bridge "korch/INSTANCE bridge"; veth "korch/INSTANCE pod=KEY ip=IP",
 *    from which a restarted agent learns which pod owns which address.
 */
#ifndef KORCH_NET_ADDR_H
#define KORCH_NET_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/common.h>

#define NET_IFNAME_MAX 16   /* IFNAMSIZ: 15 bytes and the NUL */
#define NET_IP4_STRLEN 16   /* "255.255.255.255" and the NUL */
#define NET_POD_KEY_MAX 200 /* a pod key must fit in the veth alias (IFALIASZ 256) */
#define NET_DEFAULT_INSTANCE "korch"

/* A CIDR: base is the network address (host bits zero), prefix 0..32. */
struct net_cidr {
	uint32_t base; /* network address, host order */
	int prefix;    /* prefix length */
};

/* Parses a dotted quad. Returns 0 or KORCH_EINVALID naming the text. */
int ip4_parse(const char *text, uint32_t *ret_ip, korch_error **err);
/* Formats ip into buf (NET_IP4_STRLEN bytes); returns buf. */
char *ip4_format(uint32_t ip, char buf[static NET_IP4_STRLEN]);

/*
 * Parses "A.B.C.D/N". The address must be the network address (no host bits set), as
 * Kubernetes requires of podCIDR. Returns 0 or KORCH_EINVALID.
 */
int cidr_parse(const char *text, struct net_cidr *ret, korch_error **err);
bool cidr_contains(const struct net_cidr *c, uint32_t ip);
uint32_t cidr_mask(const struct net_cidr *c);
/* The last address (broadcast for prefixes below 31). */
uint32_t cidr_last(const struct net_cidr *c);
/* Formats the CIDR ("10.244.0.0/24") into buf of 20 bytes; returns buf. */
char *cidr_format(const struct net_cidr *c, char buf[static 20]);

/*
 * The instance name must be a DNS-1123 label of at most 32 bytes (it also names cgroups and
 * run directories). Returns 0 or KORCH_EINVALID.
 */
int net_instance_check(const char *instance, korch_error **err);
/* The pod key: 1..NET_POD_KEY_MAX bytes of [A-Za-z0-9._/:-]. Returns 0 or KORCH_EINVALID. */
int net_pod_key_check(const char *key, korch_error **err);

/* The names of the rule above; the instance must have passed net_instance_check(). */
void net_bridge_name(const char *instance, char buf[static NET_IFNAME_MAX]);
void net_veth_name(const char *instance, const char *pod_key, char buf[static NET_IFNAME_MAX]);
/* The table name without its family ("korch", "korch-test1"); caller frees. NULL on ENOMEM. */
char *net_table_name(const char *instance);
/* Aliases; caller frees. NULL on ENOMEM. */
char *net_bridge_alias(const char *instance);
char *net_veth_alias(const char *instance, const char *pod_key, uint32_t ip);
/*
 * Reads a veth alias of this instance: on success *ret_key (caller frees) and *ret_ip. Returns
 * KORCH_ENOTFOUND when the alias is not a veth alias of this instance, KORCH_ENOMEM.
 */
int net_veth_alias_parse(const char *instance, const char *alias, char **ret_key, uint32_t *ret_ip);

#endif
