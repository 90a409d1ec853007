/*
 * link.h - korch's links through libnl-route-3: the bridge, pod veth pairs, addresses, routes.
 *
 * Every link korch creates carries an alias (IFLA_IFALIAS, see addr.h) naming its instance. The
 * kernel ignores an alias in the request that creates a link, so it is set right after; a link
 * left without one by a crash in between is recognised by its kind (a bridge of korch's name
 * gets its alias; a veth of korch's name is made again).
 * Nothing here adopts, changes or deletes a link whose alias is not the expected one: such a link
 * is KORCH_ECONFLICT ("link eth0 exists and is not korch's"), so a naming collision can never
 * take over or remove somebody else's interface.
 *
 * Pods are addressed as /32 on their eth0 with a default route through the gateway marked
 * onlink: every packet a pod sends, even to a neighbour on the same bridge, goes through the
 * node's IP stack, so conntrack sees both directions of every Service connection without
 * br_netfilter (whose module and bridge-nf-call-* sysctls are the host's business, not ours).
 */
#ifndef KORCH_NET_LINK_H
#define KORCH_NET_LINK_H

#include <stdint.h>
#include <korch/common.h>
#include "base/macro.h"

struct nl_sock;

/* A NETLINK_ROUTE socket in the calling thread's namespace (netns_fd < 0) or in netns_fd. */
int link_socket_open(int netns_fd, struct nl_sock **ret, korch_error **err);
void link_socket_close(struct nl_sock *sock);
DEFINE_CLEANUP_FUNC(link_socket_close, struct nl_sock, link_socket_close)

/* What link_find() reports about a link. */
struct link_info {
	int ifindex;  /* 0 when the link does not exist */
	int master;   /* the ifindex of its bridge, or 0 */
	char *alias;  /* its alias or NULL; caller frees */
	bool up;      /* IFF_UP */
	unsigned mtu; /* its MTU */
	bool bridge;  /* its kind is "bridge" */
	bool veth;    /* its kind is "veth" */
};

/* Sets a link's alias. */
int link_set_alias(struct nl_sock *sock, const char *name, const char *alias, korch_error **err);

/* Looks a link up by name: info->ifindex is 0 when it does not exist. */
int link_find(struct nl_sock *sock, const char *name, struct link_info *info, korch_error **err);

/*
 * Makes sure the bridge exists with this alias, the gateway address gw/prefix, the MTU, and is
 * up; creates what is missing and leaves what is right alone (idempotent). *ret_ifindex
 * receives its index.
 */
int link_bridge_ensure(struct nl_sock *sock, const char *name, const char *alias, uint32_t gw,
		       int prefix, unsigned mtu, int *ret_ifindex, korch_error **err);

/*
 * Deletes link name if it exists and its alias is alias (or starts with alias_prefix when
 * alias is NULL). A missing link is success (idempotent).
 */
int link_delete_owned(struct nl_sock *sock, const char *name, const char *alias,
		      const char *alias_prefix, korch_error **err);

/* Deletes name if it is a veth without an alias (one whose creation was interrupted). */
int link_delete_unaliased_veth(struct nl_sock *sock, const char *name, korch_error **err);

/*
 * Creates a veth pair: host_name (with alias, on the bridge in hairpin mode, up) in the calling
 * namespace and
 * "eth0" inside pod_netns_fd, both with mtu. KORCH_EEXISTS when host_name exists.
 */
int link_veth_create(struct nl_sock *sock, const char *host_name, const char *alias,
		     int bridge_ifindex, int pod_netns_fd, unsigned mtu, korch_error **err);

/*
 * Inside the pod's namespace: eth0 gets ip/32 and goes up, lo goes up, the default route goes
 * through gw (onlink), and ICMP redirects are ignored. Idempotent.
 */
int link_pod_configure(int pod_netns_fd, uint32_t ip, uint32_t gw, korch_error **err);

/* Calls fn for every link whose alias starts with alias_prefix; stops at fn's first error. */
typedef int (*link_visit_fn)(const char *name, const char *alias, int ifindex, void *userdata);
int link_foreach_alias(struct nl_sock *sock, const char *alias_prefix, link_visit_fn fn,
		       void *userdata, korch_error **err);

#endif
