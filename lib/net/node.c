/*
 * node.c - the node network object: bridge, pods' veths, IPAM, proxy and DNS of one instance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "net/addr.h"
#include "net/dns.h"
#include "net/ipam.h"
#include "net/link.h"
#include "net/netns.h"
#include "net/node.h"

#define GARBAGE_DELAY_NS (1 * NSEC_PER_SEC)

struct node_net {
	korch_loop *loop;            /* the agent's loop (DNS and the garbage timer run on it) */
	char *instance;              /* instance name */
	char *cluster_domain;        /* "cluster.local" */
	char bridge[NET_IFNAME_MAX]; /* bridge name */
	char *bridge_alias;          /* its alias */
	char *pod_alias_prefix;      /* "korch/INSTANCE pod=" */
	int bridge_ifindex;          /* its index */
	unsigned mtu;                /* pods' MTU */
	struct net_cidr pod_cidr;    /* this node's pods */
	struct nl_sock *nl;          /* netlink socket in the node's namespace */
	struct ipam *ipam;           /* addresses */
	struct proxy *proxy;         /* the nftables table */
	bool services_synced;        /* the proxy had its first sync */
	bool hostports_pending;      /* hostPorts changed before that */
	struct dns_server *dns;      /* the responder */
	struct loop_source *gc;      /* deletes flushed chains a while after a sync */
};

uint32_t
node_net_gateway(const struct node_net *nn)
{
	return ipam_gateway(nn->ipam);
}

void
node_net_close(struct node_net *nn)
{
	if (!nn)
		return;
	loop_source_free(nn->gc);
	dns_server_free(nn->dns);
	proxy_free(nn->proxy);
	ipam_free(nn->ipam);
	link_socket_close(nn->nl);
	free(nn->pod_alias_prefix);
	free(nn->bridge_alias);
	free(nn->instance);
	free(nn->cluster_domain);
	free(nn);
}

static void
collect_garbage(struct loop_source *src, void *userdata)
{
	struct node_net *nn = userdata;
	_cleanup_error_ korch_error *e = NULL;
	if (proxy_collect_garbage(nn->proxy, &e) < 0)
		log_warn("net", "delete unused nftables chains: %s", korch_error_message(e));
}

/* Seeds the allocator from one adopted veth. */
static int
adopt_veth(const char *name, const char *alias, int ifindex, void *userdata)
{
	struct node_net *nn = userdata;
	_cleanup_free_ char *key = NULL;
	uint32_t ip;
	if (net_veth_alias_parse(nn->instance, alias, &key, &ip) < 0)
		return 0;
	_cleanup_error_ korch_error *e = NULL;
	if (ipam_reserve(nn->ipam, key, ip, &e) < 0)
		log_warn("net", "adopt %s: %s", name, korch_error_message(e));
	return 0;
}

static int
parse_upstream(const char *text, struct dns_upstream *u, korch_error **err)
{
	char ip[NET_IP4_STRLEN];
	const char *colon = strchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : strlen(text);
	int64_t port = 53;
	if (n >= sizeof(ip) ||
	    (colon && (parse_int64(colon + 1, &port) < 0 || port < 1 || port > 65535)))
		return error_set(err, KORCH_EINVALID, "invalid DNS upstream \"%s\"", text);
	memcpy(ip, text, n);
	ip[n] = '\0';
	u->port = (uint16_t)port;
	return ip4_parse(ip, &u->ip, err);
}

static int
open_dns(struct node_net *nn, const struct node_net_config *c, const struct dns_upstream *ups,
	 korch_error **err)
{
	struct dns_server_config dc = {
		.listen_ip = ipam_gateway(nn->ipam),
		.port = c->dns_port ? c->dns_port : 53,
		.cluster_domain = nn->cluster_domain,
		.upstreams = ups,
		.n_upstreams = c->n_dns_upstreams,
	};
	return dns_server_new(nn->loop, &dc, &nn->dns, err);
}

static int
open_proxy(struct node_net *nn, const struct node_net_config *c, korch_error **err)
{
	struct proxy_config pc = { 0 };
	uint32_t node_ip;
	_cleanup_free_ char *table = net_table_name(nn->instance);
	if (!table)
		return error_oom(err);
	int r = cidr_parse(c->cluster_cidr ? c->cluster_cidr : "10.244.0.0/16", &pc.cluster_cidr,
			   err);
	if (r < 0)
		return korch_error_prefix(err, r, "cluster CIDR");
	if (!c->node_ip)
		return error_set(err, KORCH_EINVALID, "the node's address is needed");
	r = ip4_parse(c->node_ip, &node_ip, err);
	if (r < 0)
		return korch_error_prefix(err, r, "node address");
	pc.table = table;
	pc.node_ips = &node_ip;
	pc.n_node_ips = 1;
	return proxy_new(&pc, &nn->proxy, err);
}

int
node_net_open(korch_loop *loop, const struct node_net_config *c, struct node_net **ret,
	      korch_error **err)
{
	_cleanup_(node_net_closep) struct node_net *nn = calloc(1, sizeof(*nn));
	if (!nn)
		return error_oom(err);
	nn->loop = loop;
	const char *instance = c->instance ? c->instance : NET_DEFAULT_INSTANCE;
	int r = net_instance_check(instance, err);
	if (r < 0)
		return r;
	nn->instance = strdup(instance);
	nn->cluster_domain = strdup(c->cluster_domain ? c->cluster_domain : "cluster.local");
	nn->bridge_alias = net_bridge_alias(instance);
	if (!nn->instance || !nn->cluster_domain || !nn->bridge_alias ||
	    asprintf(&nn->pod_alias_prefix, "korch/%s pod=", instance) < 0)
		return error_oom(err);
	net_bridge_name(instance, nn->bridge);
	nn->mtu = c->mtu ? c->mtu : 1500;
	if (nn->mtu < 576 || nn->mtu > 65535)
		return error_set(err, KORCH_EINVALID, "invalid MTU %u: 576 to 65535 is needed",
				 nn->mtu);
	r = cidr_parse(c->pod_cidr ? c->pod_cidr : "10.244.0.0/24", &nn->pod_cidr, err);
	if (r == 0)
		r = ipam_new(&nn->pod_cidr, &nn->ipam, err);
	if (r < 0)
		return korch_error_prefix(err, r, "pod CIDR");
	r = open_proxy(nn, c, err);
	if (r < 0)
		return r;
	/* Everything is checked before anything is changed. */
	_cleanup_free_ struct dns_upstream *ups = calloc(c->n_dns_upstreams + 1, sizeof(*ups));
	if (!ups)
		return error_oom(err);
	for (size_t i = 0; i < c->n_dns_upstreams; i++) {
		r = parse_upstream(c->dns_upstreams[i], &ups[i], err);
		if (r < 0)
			return r;
	}
	r = sysctl_write("net/ipv4/ip_forward", "1", err);
	if (r < 0)
		return korch_error_prefix(err, r, "enable forwarding");
	r = link_socket_open(-1, &nn->nl, err);
	if (r == 0)
		r = link_bridge_ensure(nn->nl, nn->bridge, nn->bridge_alias, ipam_gateway(nn->ipam),
				       nn->pod_cidr.prefix, nn->mtu, &nn->bridge_ifindex, err);
	if (r < 0)
		return korch_error_prefix(err, r, "bridge %s", nn->bridge);
	/* Pods reach each other through the node (see link.h): no redirects on the bridge. */
	char key[128];
	snprintf(key, sizeof(key), "net/ipv4/conf/%s/send_redirects", nn->bridge);
	r = sysctl_write(key, "0", err);
	if (r == 0)
		r = link_foreach_alias(nn->nl, nn->pod_alias_prefix, adopt_veth, nn, err);
	if (r < 0)
		return korch_error_prefix(err, r, "bridge %s", nn->bridge);
	r = open_dns(nn, c, ups, err);
	if (r == 0)
		r = loop_add_timer(loop, -1, collect_garbage, nn, &nn->gc, err);
	if (r < 0)
		return r;
	*ret = steal_pointer(&nn);
	return 0;
}

int
node_net_reserve(struct node_net *nn, const char *pod_key, const char *ip, korch_error **err)
{
	uint32_t a;
	int r = net_pod_key_check(pod_key, err);
	if (r == 0)
		r = ip4_parse(ip, &a, err);
	if (r == 0)
		r = ipam_reserve(nn->ipam, pod_key, a, err);
	return r;
}

static void
arm_gc(struct node_net *nn, const struct proxy_stats *st)
{
	if (st->garbage && loop_timer_deadline(nn->gc) < 0)
		loop_timer_set(nn->gc,
			       korch_clock_now_ns(korch_loop_clock(nn->loop)) + GARBAGE_DELAY_NS);
}

/* Applies a hostPort change now, or with the first Services sync. */
static int
sync_hostports(struct node_net *nn, korch_error **err)
{
	if (!nn->services_synced) {
		nn->hostports_pending = true;
		return 0;
	}
	struct proxy_stats st;
	int r = proxy_sync(nn->proxy, NULL, NULL, &st, err);
	if (r == 0)
		arm_gc(nn, &st);
	return r;
}

static int
set_hostports(struct node_net *nn, const char *pod_key, uint32_t ip,
	      const struct node_net_hostport *ports, size_t n, korch_error **err)
{
	_cleanup_free_ struct proxy_hostport *hp = calloc(n ? n : 1, sizeof(*hp));
	if (!hp)
		return error_oom(err);
	for (size_t i = 0; i < n; i++) {
		if (!ports[i].host_port || !ports[i].container_port)
			return error_set(err, KORCH_EINVALID,
					 "hostPort %zu: hostPort and containerPort are needed", i);
		hp[i] = (struct proxy_hostport){ ports[i].proto, ports[i].host_port, 0, ip,
						 ports[i].container_port };
		if (ports[i].host_ip && *ports[i].host_ip) {
			int r = ip4_parse(ports[i].host_ip, &hp[i].host_ip, err);
			if (r < 0)
				return korch_error_prefix(err, r, "hostPort %zu: hostIP", i);
		}
	}
	return proxy_set_hostports(nn->proxy, pod_key, hp, n, err);
}

/* The address recorded on an existing veth of this pod, or KORCH_ENOTFOUND. */
static int
existing_veth(struct node_net *nn, const char *veth, const char *pod_key, uint32_t *ret_ip,
	      korch_error **err)
{
	struct link_info info;
	int r = link_find(nn->nl, veth, &info, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *alias = info.alias;
	if (!info.ifindex)
		return KORCH_ENOTFOUND;
	if (!alias && info.veth) { /* created, then interrupted before its alias: make it again */
		r = link_delete_unaliased_veth(nn->nl, veth, err);
		return r < 0 ? r : KORCH_ENOTFOUND;
	}
	_cleanup_free_ char *key = NULL;
	if (net_veth_alias_parse(nn->instance, alias, &key, ret_ip) < 0 || !streq(key, pod_key))
		return error_set(err, KORCH_ECONFLICT,
				 "link %s exists and belongs to something else (alias \"%s\")",
				 veth, alias ? alias : "");
	return 0;
}

static int
pod_connect(struct node_net *nn, const char *pod_key, int fd, uint32_t *ret_ip, korch_error **err)
{
	char veth[NET_IFNAME_MAX];
	net_veth_name(nn->instance, pod_key, veth);
	uint32_t ip;
	int r = existing_veth(nn, veth, pod_key, &ip, err);
	if (r == 0) { /* connected before: make sure the address is held and the inside is right */
		r = ipam_reserve(nn->ipam, pod_key, ip, err);
		if (r == 0)
			r = link_pod_configure(fd, ip, ipam_gateway(nn->ipam), err);
		if (r == 0)
			*ret_ip = ip;
		return r;
	}
	if (r != KORCH_ENOTFOUND)
		return r;
	r = ipam_allocate(nn->ipam, pod_key, &ip, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *alias = net_veth_alias(nn->instance, pod_key, ip);
	r = alias ? link_veth_create(nn->nl, veth, alias, nn->bridge_ifindex, fd, nn->mtu, err)
		  : error_oom(err);
	if (r == 0)
		r = link_pod_configure(fd, ip, ipam_gateway(nn->ipam), err);
	if (r < 0) {
		if (alias)
			link_delete_owned(nn->nl, veth, alias, NULL, NULL);
		ipam_release(nn->ipam, pod_key);
		return r;
	}
	*ret_ip = ip;
	return 0;
}

int
node_net_pod_add(struct node_net *nn, const char *pod_key, int netns_fd, const char *netns_path,
		 const struct node_net_hostport *ports, size_t n_ports, uint32_t *ret_ip,
		 korch_error **err)
{
	int r = net_pod_key_check(pod_key, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = -1;
	r = netns_fd >= 0 ? netns_dup(netns_fd, &fd, err)
	    : netns_path  ? netns_open(netns_path, &fd, err)
			  : error_set(err, KORCH_EINVALID, "the pod's network namespace is needed");
	if (r < 0)
		return korch_error_prefix(err, r, "pod %s", pod_key);
	uint32_t ip = 0;
	r = pod_connect(nn, pod_key, fd, &ip, err);
	if (r == 0)
		r = set_hostports(nn, pod_key, ip, ports, n_ports, err);
	if (r == 0)
		r = sync_hostports(nn, err);
	if (r < 0)
		return korch_error_prefix(err, r, "pod %s", pod_key);
	*ret_ip = ip;
	return 0;
}

int
node_net_pod_remove(struct node_net *nn, const char *pod_key, korch_error **err)
{
	int r = net_pod_key_check(pod_key, err);
	if (r < 0)
		return r;
	char veth[NET_IFNAME_MAX];
	net_veth_name(nn->instance, pod_key, veth);
	_cleanup_free_ char *prefix = NULL;
	if (asprintf(&prefix, "%s%s ip=", nn->pod_alias_prefix, pod_key) < 0)
		return error_oom(err);
	r = link_delete_owned(nn->nl, veth, NULL, prefix, err);
	if (r == 0) {
		ipam_release(nn->ipam, pod_key);
		r = proxy_set_hostports(nn->proxy, pod_key, NULL, 0, err);
	}
	if (r == 0)
		r = sync_hostports(nn, err);
	return r < 0 ? korch_error_prefix(err, r, "remove pod %s", pod_key) : 0;
}

int
node_net_services_sync(struct node_net *nn, const json_t *services, const json_t *endpoints,
		       struct proxy_stats *ret_stats, korch_error **err)
{
	struct proxy_stats st;
	_cleanup_json_ json_t *empty = services ? NULL : json_array();
	if (!services && !(services = empty))
		return error_oom(err);
	int r = proxy_sync(nn->proxy, services, endpoints, &st, err);
	if (r < 0)
		return r;
	nn->services_synced = true;
	nn->hostports_pending = false;
	arm_gc(nn, &st);
	if (ret_stats)
		*ret_stats = st;
	return 0;
}

int
node_net_services_update(struct node_net *nn, const json_t *changed, const json_t *endpoints,
			 const char *const *removed, size_t n_removed,
			 struct proxy_stats *ret_stats, korch_error **err)
{
	struct proxy_stats st;
	int r = proxy_update(nn->proxy, changed, endpoints, removed, n_removed, &st, err);
	if (r < 0)
		return r;
	arm_gc(nn, &st);
	if (ret_stats)
		*ret_stats = st;
	return 0;
}

int
node_net_dns_update(struct node_net *nn, const json_t *services, const json_t *endpoints,
		    const json_t *pods, korch_error **err)
{
	struct dns_records *records = NULL;
	int r = dns_records_build(nn->cluster_domain, services, endpoints, pods, &records, err);
	if (r < 0)
		return korch_error_prefix(err, r, "dns");
	dns_server_set_records(nn->dns, records);
	return 0;
}

struct doomed {
	struct ptrvec names; /* veths to delete */
};

static int
collect_veth(const char *name, const char *alias, int ifindex, void *userdata)
{
	struct doomed *d = userdata;
	char *copy = strdup(name);
	if (!copy || ptrvec_push(&d->names, copy) < 0) {
		free(copy);
		return KORCH_ENOMEM;
	}
	return 0;
}

int
node_net_reset(const char *instance, korch_error **err)
{
	if (!instance)
		instance = NET_DEFAULT_INSTANCE;
	int r = net_instance_check(instance, err);
	if (r < 0)
		return r;
	_cleanup_(link_socket_closep) struct nl_sock *nl = NULL;
	_cleanup_free_ char *prefix = NULL, *bridge_alias = net_bridge_alias(instance);
	_cleanup_free_ char *table = net_table_name(instance);
	if (!bridge_alias || !table || asprintf(&prefix, "korch/%s pod=", instance) < 0)
		return error_oom(err);
	r = link_socket_open(-1, &nl, err);
	struct doomed d = { PTRVEC_INIT };
	if (r == 0)
		r = link_foreach_alias(nl, prefix, collect_veth, &d, err);
	for (size_t i = 0; r == 0 && i < d.names.n; i++)
		r = link_delete_owned(nl, d.names.items[i], NULL, prefix, err);
	ptrvec_free(&d.names, free);
	char bridge[NET_IFNAME_MAX];
	net_bridge_name(instance, bridge);
	if (r == 0)
		r = link_delete_owned(nl, bridge, bridge_alias, NULL, err);
	if (r == 0)
		r = proxy_reset_table(table, err);
	return r < 0 ? korch_error_prefix(err, r, "reset network of instance %s", instance) : 0;
}
