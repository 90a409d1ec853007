/*
 * link.c - libnl-route-3 requests for the bridge, veth pairs, addresses and routes.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "net/addr.h"
#include "net/link.h"
#include "net/netns.h"

DEFINE_CLEANUP_FUNC(rtnl_link_put, struct rtnl_link, rtnl_link_put)
DEFINE_CLEANUP_FUNC(rtnl_addr_put, struct rtnl_addr, rtnl_addr_put)
DEFINE_CLEANUP_FUNC(rtnl_route_put, struct rtnl_route, rtnl_route_put)
DEFINE_CLEANUP_FUNC(nl_addr_put, struct nl_addr, nl_addr_put)
DEFINE_CLEANUP_FUNC(nl_cache_free, struct nl_cache, nl_cache_free)

/* A libnl error (negative NLE_*) as a korch error. */
static int nl_error(korch_error **err, int nle, const char *fmt, ...) _printf_(3, 4);
static int
nl_error(korch_error **err, int nle, const char *fmt, ...)
{
	int code = KORCH_ESYSTEM;
	if (nle == -NLE_EXIST)
		code = KORCH_EEXISTS;
	else if (nle == -NLE_NODEV || nle == -NLE_OBJ_NOTFOUND)
		code = KORCH_ENOTFOUND;
	else if (nle == -NLE_NOMEM)
		return error_oom(err);
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return error_set(err, code, "%s: %s", what, nl_geterror(nle));
}

int
link_socket_open(int netns_fd, struct nl_sock **ret, korch_error **err)
{
	int saved = -1;
	if (netns_fd >= 0) {
		int r = netns_enter(netns_fd, &saved, err);
		if (r < 0)
			return r;
	}
	struct nl_sock *sock = nl_socket_alloc();
	int r = sock ? nl_connect(sock, NETLINK_ROUTE) : -NLE_NOMEM;
	if (saved >= 0)
		netns_leave(saved);
	if (r < 0) {
		nl_socket_free(sock);
		return nl_error(err, r, "open netlink socket");
	}
	/* libnl leaves the fd inheritable. */
	int fd = nl_socket_get_fd(sock);
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	*ret = sock;
	return 0;
}

void
link_socket_close(struct nl_sock *sock)
{
	nl_socket_free(sock);
}

int
link_find(struct nl_sock *sock, const char *name, struct link_info *info, korch_error **err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(sock, 0, name, &link);
	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND) {
		*info = (struct link_info){ 0 };
		return 0;
	}
	if (r < 0)
		return nl_error(err, r, "look up link %s", name);
	const char *alias = rtnl_link_get_ifalias(link);
	char *copy = alias ? strdup(alias) : NULL;
	if (alias && !copy)
		return error_oom(err);
	*info = (struct link_info){
		.ifindex = rtnl_link_get_ifindex(link),
		.master = rtnl_link_get_master(link),
		.alias = copy,
		.up = (rtnl_link_get_flags(link) & IFF_UP) != 0,
		.mtu = rtnl_link_get_mtu(link),
		.bridge = streq(rtnl_link_get_type(link), "bridge"),
		.veth = streq(rtnl_link_get_type(link), "veth"),
	};
	return 0;
}

static struct nl_addr *
build_addr(uint32_t ip, int prefix)
{
	uint32_t be = htonl(ip);
	struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));
	if (a)
		nl_addr_set_prefixlen(a, prefix);
	return a;
}

/* Adds ip/prefix to ifindex; an address that is there already is success. */
static int
addr_ensure(struct nl_sock *sock, int ifindex, uint32_t ip, int prefix, const char *ifname,
	    korch_error **err)
{
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *a = rtnl_addr_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *local = build_addr(ip, prefix);
	if (!a || !local)
		return error_oom(err);
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, AF_INET);
	if (prefix < 31) {
		_cleanup_(nl_addr_putp) struct nl_addr *brd =
			build_addr(ip | (0xffffffffu >> prefix), 32);
		if (!brd)
			return error_oom(err);
		rtnl_addr_set_broadcast(a, brd);
	}
	int r = rtnl_addr_set_local(a, local);
	if (r == 0)
		r = rtnl_addr_add(sock, a, NLM_F_REPLACE);
	if (r < 0 && r != -NLE_EXIST)
		return nl_error(err, r, "add address to %s", ifname);
	return 0;
}

static int
set_up(struct nl_sock *sock, const char *name, korch_error **err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(sock, 0, name, &link);
	if (r < 0)
		return nl_error(err, r, "look up link %s", name);
	if (rtnl_link_get_flags(link) & IFF_UP)
		return 0;
	_cleanup_(rtnl_link_putp) struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return error_oom(err);
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sock, link, change, 0);
	if (r < 0)
		return nl_error(err, r, "set link %s up", name);
	return 0;
}

int
link_set_alias(struct nl_sock *sock, const char *name, const char *alias, korch_error **err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(sock, 0, name, &link);
	if (r < 0)
		return nl_error(err, r, "look up link %s", name);
	_cleanup_(rtnl_link_putp) struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return error_oom(err);
	rtnl_link_set_ifalias(change, alias);
	r = rtnl_link_change(sock, link, change, 0);
	if (r < 0)
		return nl_error(err, r, "set the alias of %s", name);
	return 0;
}

static int
check_owner(const char *name, const struct link_info *info, const char *alias,
	    const char *alias_prefix, korch_error **err)
{
	bool ok = alias ? streq(info->alias, alias)
			: (info->alias && startswith(info->alias, alias_prefix));
	if (!ok)
		return error_set(err, KORCH_ECONFLICT,
				 "link %s exists and is not korch's (alias \"%s\")", name,
				 info->alias ? info->alias : "");
	return 0;
}

int
link_bridge_ensure(struct nl_sock *sock, const char *name, const char *alias, uint32_t gw,
		   int prefix, unsigned mtu, int *ret_ifindex, korch_error **err)
{
	struct link_info info;
	int r = link_find(sock, name, &info, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *old_alias = info.alias;
	if (info.ifindex && !info.alias && info.bridge) {
		r = link_set_alias(sock, name, alias, err); /* made by us, then interrupted */
		if (r < 0)
			return r;
	} else if (info.ifindex) {
		r = check_owner(name, &info, alias, NULL, err);
		if (r < 0)
			return r;
	} else {
		_cleanup_(rtnl_link_putp) struct rtnl_link *br = rtnl_link_bridge_alloc();
		if (!br)
			return error_oom(err);
		rtnl_link_set_name(br, name);
		rtnl_link_set_ifalias(br, alias);
		rtnl_link_set_mtu(br, mtu);
		r = rtnl_link_add(sock, br, NLM_F_CREATE | NLM_F_EXCL);
		if (r < 0)
			return nl_error(err, r, "create bridge %s", name);
		r = link_set_alias(sock, name, alias, err);
		if (r == 0)
			r = link_find(sock, name, &info, err);
		if (r < 0)
			return r;
		free(info.alias);
		if (!info.ifindex)
			return error_set(err, KORCH_ESYSTEM, "bridge %s vanished after creation",
					 name);
	}
	r = addr_ensure(sock, info.ifindex, gw, prefix, name, err);
	if (r == 0)
		r = set_up(sock, name, err);
	if (r < 0)
		return r;
	*ret_ifindex = info.ifindex;
	return 0;
}

int
link_delete_owned(struct nl_sock *sock, const char *name, const char *alias,
		  const char *alias_prefix, korch_error **err)
{
	struct link_info info;
	int r = link_find(sock, name, &info, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *old_alias = info.alias;
	if (!info.ifindex)
		return 0;
	r = check_owner(name, &info, alias, alias_prefix, err);
	if (r < 0)
		return r;
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return error_oom(err);
	rtnl_link_set_ifindex(link, info.ifindex);
	r = rtnl_link_delete(sock, link);
	if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND)
		return nl_error(err, r, "delete link %s", name);
	return 0;
}

/*
 * Turns on hairpin mode on a bridge port (RTM_SETLINK, AF_BRIDGE, IFLA_PROTINFO/BRPORT_MODE).
 * Where br_netfilter is loaded (it is per namespace and on by default once loaded), a pod's
 * packet to its own Service is DNATed while being bridged and must leave through the port it
 * came in by, which a bridge port refuses unless it is in hairpin mode.
 */
static int
set_hairpin(struct nl_sock *sock, int ifindex, const char *name, korch_error **err)
{
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_SETLINK, 0);
	if (!msg)
		return error_oom(err);
	struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = ifindex };
	struct nlattr *pi = NULL;
	int r = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
	if (r == 0 && !(pi = nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED)))
		r = -NLE_NOMEM;
	if (r == 0)
		r = nla_put_u8(msg, IFLA_BRPORT_MODE, 1);
	if (r == 0) {
		nla_nest_end(msg, pi);
		r = nl_send_auto(sock, msg);
	}
	nlmsg_free(msg);
	if (r >= 0)
		r = nl_wait_for_ack(sock);
	if (r < 0)
		return nl_error(err, r, "set hairpin mode on %s", name);
	return 0;
}

int
link_delete_unaliased_veth(struct nl_sock *sock, const char *name, korch_error **err)
{
	struct link_info info;
	int r = link_find(sock, name, &info, err);
	if (r < 0)
		return r;
	free(info.alias);
	if (!info.ifindex || info.alias || !info.veth)
		return 0;
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return error_oom(err);
	rtnl_link_set_ifindex(link, info.ifindex);
	r = rtnl_link_delete(sock, link);
	if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND)
		return nl_error(err, r, "delete link %s", name);
	return 0;
}

int
link_veth_create(struct nl_sock *sock, const char *host_name, const char *alias, int bridge_ifindex,
		 int pod_netns_fd, unsigned mtu, korch_error **err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *veth = rtnl_link_veth_alloc();
	if (!veth)
		return error_oom(err);
	rtnl_link_set_name(veth, host_name);
	rtnl_link_set_ifalias(veth, alias);
	rtnl_link_set_mtu(veth, mtu);
	rtnl_link_set_master(veth, bridge_ifindex);
	rtnl_link_set_flags(veth, IFF_UP);
	struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
	if (!peer)
		return error_oom(err);
	rtnl_link_set_name(peer, "eth0");
	rtnl_link_set_mtu(peer, mtu);
	rtnl_link_set_ns_fd(peer, pod_netns_fd);
	rtnl_link_put(peer);
	int r = rtnl_link_add(sock, veth, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return nl_error(err, r, "create veth %s", host_name);
	r = link_set_alias(sock, host_name, alias, err);
	if (r == 0) {
		struct link_info info;
		r = link_find(sock, host_name, &info, err);
		free(info.alias);
		if (r == 0)
			r = set_hairpin(sock, info.ifindex, host_name, err);
	}
	if (r < 0) {
		_cleanup_(rtnl_link_putp) struct rtnl_link *del = rtnl_link_alloc();
		if (del) {
			rtnl_link_set_name(del, host_name);
			rtnl_link_delete(sock, del);
		}
	}
	return r;
}

static int
default_route(struct nl_sock *sock, int ifindex, uint32_t gw, korch_error **err)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = rtnl_route_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *dst = build_addr(0, 0);
	struct nl_addr *gwa = build_addr(gw, 32);
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	if (!rt || !dst || !gwa || !nh) {
		nl_addr_put(gwa);
		rtnl_route_nh_free(nh);
		return error_oom(err);
	}
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
	rtnl_route_set_protocol(rt, RTPROT_BOOT);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, gwa);
	nl_addr_put(gwa);
	rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
	rtnl_route_add_nexthop(rt, nh);
	int r = rtnl_route_add(sock, rt, NLM_F_CREATE | NLM_F_REPLACE);
	if (r < 0)
		return nl_error(err, r, "add default route");
	return 0;
}

int
link_pod_configure(int pod_netns_fd, uint32_t ip, uint32_t gw, korch_error **err)
{
	_cleanup_(link_socket_closep) struct nl_sock *sock = NULL;
	int r = link_socket_open(pod_netns_fd, &sock, err);
	if (r < 0)
		return r;
	struct link_info eth0;
	r = link_find(sock, "eth0", &eth0, err);
	if (r < 0)
		return r;
	free(eth0.alias);
	if (!eth0.ifindex)
		return error_set(err, KORCH_ENOTFOUND, "the pod has no eth0");
	r = addr_ensure(sock, eth0.ifindex, ip, 32, "eth0", err);
	if (r == 0)
		r = set_up(sock, "eth0", err);
	if (r == 0)
		r = set_up(sock, "lo", err);
	if (r == 0)
		r = default_route(sock, eth0.ifindex, gw, err);
	if (r < 0)
		return r;
	/* Redirects would tell a pod to bypass the node for its neighbours (see link.h). */
	int saved;
	r = netns_enter(pod_netns_fd, &saved, err);
	if (r < 0)
		return r;
	r = sysctl_write("net/ipv4/conf/all/accept_redirects", "0", err);
	if (r == 0)
		r = sysctl_write("net/ipv4/conf/eth0/accept_redirects", "0", err);
	netns_leave(saved);
	return r;
}

struct visit {
	const char *prefix; /* alias prefix */
	link_visit_fn fn;   /* the caller's callback */
	void *userdata;     /* its argument */
	int r;              /* the first error */
};

static void
visit_one(struct nl_object *obj, void *arg)
{
	struct visit *v = arg;
	struct rtnl_link *link = (struct rtnl_link *)obj;
	const char *alias = rtnl_link_get_ifalias(link);
	if (v->r < 0 || !alias || !startswith(alias, v->prefix))
		return;
	v->r = v->fn(rtnl_link_get_name(link), alias, rtnl_link_get_ifindex(link), v->userdata);
}

int
link_foreach_alias(struct nl_sock *sock, const char *alias_prefix, link_visit_fn fn, void *userdata,
		   korch_error **err)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	int r = rtnl_link_alloc_cache(sock, AF_UNSPEC, &cache);
	if (r < 0)
		return nl_error(err, r, "list links");
	struct visit v = { alias_prefix, fn, userdata, 0 };
	nl_cache_foreach(cache, visit_one, &v);
	if (v.r < 0)
		return error_set(err, v.r, "list links: %s", korch_strerror(v.r));
	return 0;
}
