/*
 * network.c - the node's network role: lib/net's node network driven by informers over
 * Services, EndpointSlices, Pods and the Node, and the pod hooks of the agent (see network.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/strv.h"
#include "base/util.h"
#include "base/vec.h"
#include "client/events.h"
#include "client/informer.h"
#include "net/addr.h"
#include "net/node.h"
#include "net/resolv.h"
#include "node/network.h"
#include "node/node-internal.h"

#define CLUSTER_DNS_IP "10.96.0.10"
#define SERVICE_NAME_LABEL "kubernetes.io/service-name"
#define KUBE_DNS_KEY "kube-system/kube-dns"
#define KUBERNETES_KEY "default/kubernetes"

struct node_network {
	struct client *client;         /* borrowed */
	korch_loop *loop;              /* the store's */
	char *node_name;               /* whose pods and podCIDR */
	char *node_ip;                 /* NodePorts, hostPorts */
	char *instance;                /* names the bridge and the table */
	char *pod_cidr;                /* the option's, or the Node's once seen */
	char *cluster_cidr;            /* or NULL */
	char *cluster_domain;          /* or NULL */
	char **dns_upstreams;          /* strv */
	uint16_t dns_port;             /* the responder's */
	unsigned mtu;                  /* pods' */
	char *api_host;                /* default/kubernetes' endpoint, or NULL */
	int api_port;                  /* its port */
	int64_t retry_ns;              /* after a failure */
	struct informer *node;         /* this Node */
	struct informer *pods;         /* all pods (DNS; this node's seed the allocator) */
	struct informer *svcs;         /* Services */
	struct informer *slices;       /* EndpointSlices */
	struct hashmap slices_of;      /* "NS/SVC" -> struct hashmap * of slice names (set) */
	struct hashmap dirty;          /* "NS/SVC" keys changed since the last sync (no values) */
	bool dns_dirty;                /* DNS records to rebuild */
	struct node_net *nn;           /* NULL until the pod CIDR is known */
	bool proxy_synced;             /* the first full sync was done */
	json_t *local_slices;          /* object: "NS/SVC" -> the EndpointSlice this node uses */
	bool kube_dns_created;         /* the create of kube-system/kube-dns was sent */
	struct loop_source *pass;      /* the deferred sync pass */
	struct loop_source *retry;     /* a pass again after a failure */
	struct node_network_stats st;  /* counters */
	struct event_recorder *events; /* FailedCreatePodSandBox */
};

static void schedule(struct node_network *nw);

/* --- helpers --- */

static const char *
str_at(const json_t *obj, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(obj, a), b));
}

static int
svc_key_of_slice(const json_t *slice, char buf[static SVC_KEY_MAX])
{
	const char *ns = str_at(slice, "metadata", "namespace");
	const json_t *labels = json_object_get(json_object_get(slice, "metadata"), "labels");
	const char *svc = json_string_value(json_object_get(labels, SERVICE_NAME_LABEL));
	size_t a = ns ? strlen(ns) : 0, b = svc ? strlen(svc) : 0;
	if (!a || !b || a + b + 2 > SVC_KEY_MAX)
		return -1;
	memcpy(buf, ns, a);
	buf[a] = '/';
	memcpy(buf + a + 1, svc, b + 1);
	return 0;
}

static void
mark(struct node_network *nw, const char *key)
{
	if (!hashmap_contains(&nw->dirty, key) && hashmap_put(&nw->dirty, key, NULL, NULL) < 0)
		nw->proxy_synced = false; /* out of memory: a full sync will catch it */
	schedule(nw);
}

/* --- handlers --- */

static void
svc_changed(struct node_network *nw, const json_t *svc)
{
	char key[SVC_KEY_MAX];
	if (svc_object_key(svc, key, NULL) == 0)
		mark(nw, key);
	nw->dns_dirty = true;
}

static void
svc_add(const json_t *obj, void *userdata)
{
	svc_changed(userdata, obj);
}

static void
svc_update(const json_t *old, const json_t *obj, void *userdata)
{
	svc_changed(userdata, obj);
}

static void
free_set(void *set)
{
	hashmap_free(set, NULL);
	free(set);
}

/* Keeps slices_of: the slice is (on) or is no longer (!on) one of key's. */
static void
index_slice(struct node_network *nw, const char *key, const char *name, bool on)
{
	struct hashmap *set = hashmap_get(&nw->slices_of, key);
	if (on && !set) {
		set = calloc(1, sizeof(*set));
		if (!set || hashmap_put(&nw->slices_of, key, set, NULL) < 0) {
			free(set);
			nw->proxy_synced = false;
			return;
		}
	}
	if (!set)
		return;
	if (on) {
		if (hashmap_put(set, name, NULL, NULL) < 0)
			nw->proxy_synced = false;
		return;
	}
	hashmap_remove(set, name);
	if (set->n == 0)
		free_set(hashmap_remove(&nw->slices_of, key));
}

static void
slice_event(struct node_network *nw, const json_t *old, const json_t *obj, bool gone)
{
	char key[SVC_KEY_MAX], old_key[SVC_KEY_MAX];
	const char *name = str_at(obj, "metadata", "name");
	if (!name)
		return;
	if (old && svc_key_of_slice(old, old_key) == 0) {
		index_slice(nw, old_key, name, false);
		mark(nw, old_key);
	}
	if (svc_key_of_slice(obj, key) == 0) {
		index_slice(nw, key, name, !gone);
		mark(nw, key);
	}
	nw->dns_dirty = true;
}

static void
slice_add(const json_t *obj, void *userdata)
{
	slice_event(userdata, NULL, obj, false);
}

static void
slice_update(const json_t *old, const json_t *obj, void *userdata)
{
	slice_event(userdata, old, obj, false);
}

static void
slice_delete(const json_t *obj, void *userdata)
{
	slice_event(userdata, NULL, obj, true);
}

static void
svc_delete(const json_t *obj, void *userdata)
{
	struct node_network *nw = userdata;
	svc_changed(nw, obj);
	char key[SVC_KEY_MAX];
	if (svc_object_key(obj, key, NULL) == 0 && streq(key, KUBE_DNS_KEY))
		nw->kube_dns_created = false; /* it comes back */
}

static void
pod_changed(const json_t *obj, void *userdata)
{
	struct node_network *nw = userdata;
	nw->dns_dirty = true;
	schedule(nw);
}

static void
pod_update(const json_t *old, const json_t *obj, void *userdata)
{
	const char *a = str_at(old, "status", "podIP"), *b = str_at(obj, "status", "podIP");
	if ((a == NULL) != (b == NULL) || (a && !streq(a, b)) ||
	    !json_equal(json_object_get(json_object_get(old, "spec"), "hostname"),
			json_object_get(json_object_get(obj, "spec"), "hostname")))
		pod_changed(obj, userdata);
}

/* A pod of this node that is gone gives back an address it held without a veth. */
static void
pod_delete(const json_t *obj, void *userdata)
{
	struct node_network *nw = userdata;
	const char *uid = str_at(obj, "metadata", "uid");
	if (nw->nn && uid && streq(str_at(obj, "spec", "nodeName") ?: "", nw->node_name)) {
		_cleanup_error_ korch_error *e = NULL;
		if (node_net_pod_forget(nw->nn, uid, &e) < 0)
			log_warn("net", "forget pod %s: %s", uid, korch_error_message(e));
	}
	pod_changed(obj, userdata);
}

static void
node_changed(const json_t *obj, void *userdata)
{
	struct node_network *nw = userdata;
	if (!nw->pod_cidr && str_at(obj, "spec", "podCIDR"))
		schedule(nw);
}

static void
node_update(const json_t *old, const json_t *obj, void *userdata)
{
	node_changed(obj, userdata);
}

/* --- the pass --- */

static void
schedule(struct node_network *nw)
{
	loop_defer_enable(nw->pass);
}

static void
retry_later(struct node_network *nw, bool failed)
{
	nw->st.failures += failed;
	if (loop_timer_deadline(nw->retry) < 0)
		loop_timer_set(nw->retry,
			       korch_clock_now_ns(korch_loop_clock(nw->loop)) + nw->retry_ns);
}

static void
append_obj(const json_t *obj, void *userdata)
{
	json_array_append(userdata, (json_t *)obj);
}

static json_t *
all_of(const struct informer *inf)
{
	json_t *a = json_array();
	if (a)
		informer_foreach(inf, append_obj, a);
	return a;
}

/* The local EndpointSlice of a Service this node proxies by itself. */
static json_t *
local_slice(const char *svc_name, const char *ns, const char *ip, json_t *ports)
{
	char name[128];
	snprintf(name, sizeof(name), "%s-node-local", svc_name);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:s, s:[{s:[s], s:{s:b}}], "
			 "s:o}",
			 "apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata",
			 "name", name, "namespace", ns, "resourceVersion", "1", "labels",
			 SERVICE_NAME_LABEL, svc_name, "addressType", "IPv4", "endpoints",
			 "addresses", ip, "conditions", "ready", 1, "ports", ports);
}

static int
make_local_slices(struct node_network *nw, korch_error **err)
{
	char gw[NET_IP4_STRLEN];
	ip4_format(node_net_gateway(nw->nn), gw);
	json_t *dns = local_slice("kube-dns", "kube-system", gw,
				  json_pack("[{s:s, s:i, s:s}, {s:s, s:i, s:s}]", "name", "dns",
					    "port", nw->dns_port, "protocol", "UDP", "name",
					    "dns-tcp", "port", nw->dns_port, "protocol", "TCP"));
	nw->local_slices = json_object();
	if (!dns || !nw->local_slices || json_object_set_new(nw->local_slices, KUBE_DNS_KEY, dns))
		return error_oom(err);
	if (nw->api_host) {
		json_t *api = local_slice("kubernetes", "default", nw->api_host,
					  json_pack("[{s:s, s:i, s:s}]", "name", "https", "port",
						    nw->api_port, "protocol", "TCP"));
		if (!api || json_object_set_new(nw->local_slices, KUBERNETES_KEY, api))
			return error_oom(err);
	}
	return 0;
}

/* Appends the endpoint objects of Service key: the local one, or the store's. */
static int
append_slices_of(struct node_network *nw, const char *key, json_t *into)
{
	json_t *local = json_object_get(nw->local_slices, key);
	if (local)
		return json_array_append(into, local);
	struct hashmap *set = hashmap_get(&nw->slices_of, key);
	if (!set)
		return 0;
	const char *slash = strchr(key, '/');
	char ns[SVC_KEY_MAX];
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	size_t iter = 0;
	const char *name;
	while (hashmap_next(set, &iter, &name, NULL)) {
		const json_t *s = informer_get(nw->slices, ns, name);
		if (s && json_array_append(into, (json_t *)s) < 0)
			return -1;
	}
	return 0;
}

/* Every endpoint object the proxy and DNS see: the store's, the local ones replacing theirs. */
static json_t *
all_slices(struct node_network *nw)
{
	json_t *a = json_array();
	if (!a)
		return NULL;
	size_t iter = 0;
	const char *key;
	while (hashmap_next(&nw->slices_of, &iter, &key, NULL))
		if (!json_object_get(nw->local_slices, key) && append_slices_of(nw, key, a) < 0)
			goto oom;
	const char *k;
	json_t *v;
	json_object_foreach (nw->local_slices, k, v)
		if (json_array_append(a, v) < 0)
			goto oom;
	return a;
oom:
	json_decref(a);
	return NULL;
}

static void
seed_pod(const json_t *pod, void *userdata)
{
	struct node_network *nw = userdata;
	const char *uid = str_at(pod, "metadata", "uid"), *ip = str_at(pod, "status", "podIP");
	const char *phase = str_at(pod, "status", "phase");
	if (!uid || !ip || !streq(str_at(pod, "spec", "nodeName") ?: "", nw->node_name) ||
	    json_is_true(json_object_get(json_object_get(pod, "spec"), "hostNetwork")) ||
	    streq(phase ?: "", "Succeeded") || streq(phase ?: "", "Failed"))
		return;
	_cleanup_error_ korch_error *e = NULL;
	if (node_net_reserve(nw->nn, uid, ip, &e) < 0)
		log_warn("net", "pod %s/%s keeps %s: %s", str_at(pod, "metadata", "namespace"),
			 str_at(pod, "metadata", "name"), ip, korch_error_message(e));
}

static int
open_network(struct node_network *nw, korch_error **err)
{
	if (!nw->pod_cidr) {
		const json_t *node = informer_get(nw->node, NULL, nw->node_name);
		const char *cidr = str_at(node, "spec", "podCIDR");
		if (!cidr)
			return 0; /* not yet: the Node's update schedules a pass */
		if (!(nw->pod_cidr = strdup(cidr)))
			return error_oom(err);
	}
	size_t n_up = strv_length(nw->dns_upstreams);
	struct node_net_config c = {
		.instance = nw->instance,
		.pod_cidr = nw->pod_cidr,
		.cluster_cidr = nw->cluster_cidr,
		.node_ip = nw->node_ip,
		.mtu = nw->mtu,
		.cluster_domain = nw->cluster_domain,
		.dns_upstreams = (const char *const *)nw->dns_upstreams,
		.n_dns_upstreams = n_up,
		.dns_port = nw->dns_port,
	};
	int r = node_net_open(nw->loop, &c, &nw->nn, err);
	if (r == 0)
		r = make_local_slices(nw, err);
	if (r < 0)
		return r;
	/* Addresses recorded in the store are held before anything is allocated. */
	informer_foreach(nw->pods, seed_pod, nw);
	nw->dns_dirty = true;
	log_info("net", "node %s: pod network %s on %s", nw->node_name, nw->pod_cidr, nw->instance);
	return 0;
}

static void
ensure_kube_dns(struct node_network *nw)
{
	if (nw->kube_dns_created || informer_get(nw->svcs, "kube-system", "kube-dns"))
		return;
	_cleanup_json_ json_t *svc = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s, s:[{s:s, s:i, s:s, s:i}, {s:s, "
		"s:i, s:s, s:i}]}}",
		"apiVersion", "v1", "kind", "Service", "metadata", "name", "kube-dns", "namespace",
		"kube-system", "labels", "k8s-app", "kube-dns", "kubernetes.io/name", "CoreDNS",
		"spec", "type", "ClusterIP", "ports", "name", "dns", "port", 53, "protocol", "UDP",
		"targetPort", 53, "name", "dns-tcp", "port", 53, "protocol", "TCP", "targetPort",
		53);
	_cleanup_error_ korch_error *e = NULL;
	int r = svc ? client_create(nw->client, svc, NULL, NULL, &e) : KORCH_ENOMEM;
	if (r == 0 || r == KORCH_EEXISTS)
		nw->kube_dns_created = true;
	else
		log_debug("net", "create kube-system/kube-dns: %s",
			  e ? korch_error_message(e) : "out of memory");
}

static int
full_sync(struct node_network *nw, korch_error **err)
{
	_cleanup_json_ json_t *svcs = all_of(nw->svcs);
	_cleanup_json_ json_t *eps = all_slices(nw);
	if (!svcs || !eps)
		return error_oom(err);
	hashmap_free(&nw->dirty, NULL);
	nw->dirty = (struct hashmap)HASHMAP_INIT;
	struct proxy_stats st;
	int r = node_net_services_sync(nw->nn, svcs, eps, &st, err);
	if (r < 0)
		return r;
	nw->proxy_synced = true;
	nw->st.syncs++;
	nw->st.full_syncs++;
	return 0;
}

static int
update_sync(struct node_network *nw, korch_error **err)
{
	_cleanup_json_ json_t *changed = json_array(), *eps = json_array();
	struct ptrvec removed = PTRVEC_INIT;
	if (!changed || !eps)
		return error_oom(err);
	size_t iter = 0;
	const char *key;
	int r = 0;
	while (r == 0 && hashmap_next(&nw->dirty, &iter, &key, NULL)) {
		char ns[SVC_KEY_MAX];
		const char *slash = strchr(key, '/');
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
		const json_t *svc = informer_get(nw->svcs, ns, slash + 1);
		if (!svc)
			r = ptrvec_push(&removed, (void *)key);
		else if (json_array_append(changed, (json_t *)svc) < 0 ||
			 append_slices_of(nw, key, eps) < 0)
			r = KORCH_ENOMEM;
	}
	struct proxy_stats st = { 0 };
	if (r == 0)
		r = node_net_services_update(nw->nn, changed, eps,
					     (const char *const *)removed.items, removed.n, &st,
					     err);
	else
		r = error_oom(err);
	ptrvec_free(&removed, NULL);
	if (r < 0)
		return r;
	hashmap_free(&nw->dirty, NULL);
	nw->dirty = (struct hashmap)HASHMAP_INIT;
	if (st.commands)
		nw->st.syncs++;
	else
		nw->st.unchanged++;
	return 0;
}

static int
dns_rebuild(struct node_network *nw, korch_error **err)
{
	_cleanup_json_ json_t *svcs = all_of(nw->svcs);
	_cleanup_json_ json_t *eps = all_slices(nw);
	_cleanup_json_ json_t *pods = all_of(nw->pods);
	if (!svcs || !eps || !pods)
		return error_oom(err);
	int r = node_net_dns_update(nw->nn, svcs, eps, pods, err);
	if (r == 0) {
		nw->dns_dirty = false;
		nw->st.dns_rebuilds++;
	}
	return r;
}

/* Runs once per loop dispatch that changed anything. */
static void
run_pass(struct node_network *nw)
{
	if (!informer_synced(nw->node) || !informer_synced(nw->pods) ||
	    !informer_synced(nw->svcs) || !informer_synced(nw->slices))
		return; /* the initial adds schedule a pass again */
	_cleanup_error_ korch_error *e = NULL;
	int r = 0;
	if (!nw->nn && (r = open_network(nw, &e)) < 0) {
		log_error("net", "node %s: open the pod network: %s", nw->node_name,
			  korch_error_message(e));
		node_net_close(steal_pointer(&nw->nn));
		json_decref(steal_pointer(&nw->local_slices));
		return retry_later(nw, true);
	}
	if (!nw->nn)
		return;
	ensure_kube_dns(nw);
	if (!nw->proxy_synced)
		r = full_sync(nw, &e);
	else if (nw->dirty.n)
		r = update_sync(nw, &e);
	if (r < 0) {
		log_error("net", "node %s: program Services: %s", nw->node_name,
			  korch_error_message(e));
		nw->proxy_synced = false; /* the next one starts from what the kernel has */
		return retry_later(nw, true);
	}
	if (nw->dns_dirty && (r = dns_rebuild(nw, &e)) < 0) {
		log_error("net", "node %s: DNS records: %s", nw->node_name, korch_error_message(e));
		return retry_later(nw, true);
	}
	if (!nw->kube_dns_created)
		retry_later(nw, false); /* the namespace may come later */
}

static void
on_pass(struct loop_source *src, void *userdata)
{
	run_pass(userdata);
}

static void
on_retry(struct loop_source *src, void *userdata)
{
	struct node_network *nw = userdata;
	loop_timer_set(nw->retry, -1);
	run_pass(nw);
}

/* --- pod hooks --- */

static int
not_ready(struct node_network *nw, korch_error **err)
{
	if (!nw->nn)
		return error_set(err, KORCH_EBUSY,
				 "network is not ready: node %s has no pod CIDR yet",
				 nw->node_name);
	return error_set(err, KORCH_EBUSY, "network is not ready: Services are not programmed yet");
}

/* The hostPorts of the spec's containers (hostNetwork pods have none to map). */
static int
host_ports(const json_t *spec, struct node_net_hostport **ret, size_t *ret_n, korch_error **err)
{
	size_t n = 0, cap = 0;
	struct node_net_hostport *v = NULL;
	size_t i, j;
	json_t *c, *p;
	json_array_foreach (json_object_get(spec, "containers"), i, c) {
		json_array_foreach (json_object_get(c, "ports"), j, p) {
			json_int_t hp = json_integer_value(json_object_get(p, "hostPort"));
			if (hp <= 0)
				continue;
			const char *proto = json_string_value(json_object_get(p, "protocol"));
			enum svc_proto pr = !proto || streq(proto, "TCP") ? SVC_TCP
					    : streq(proto, "UDP")         ? SVC_UDP
									  : SVC_SCTP;
			if (n == cap) {
				cap = cap ? 2 * cap : 4;
				struct node_net_hostport *nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return error_oom(err);
				}
				v = nv;
			}
			v[n++] = (struct node_net_hostport){
				.proto = pr,
				.host_port = (uint16_t)hp,
				.host_ip = json_string_value(json_object_get(p, "hostIP")),
				.container_port = (uint16_t)json_integer_value(
					json_object_get(p, "containerPort")),
			};
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int
pod_setup(void *data, const char *uid, const char *ns, const char *name, const json_t *spec,
	  const char *netns_path, char **ret_ip, korch_error **err)
{
	struct node_network *nw = data;
	if (!nw->nn || !nw->proxy_synced)
		return not_ready(nw, err);
	_cleanup_free_ struct node_net_hostport *ports = NULL;
	size_t n = 0;
	uint32_t ip;
	korch_error *e = NULL;
	int r = host_ports(spec, &ports, &n, &e);
	if (r == 0)
		r = node_net_pod_add(nw->nn, uid, -1, netns_path, ports, n, &ip, &e);
	if (r < 0) {
		/* As the kubelet reports it; the agent retries (and the recorder counts repeats). */
		_cleanup_free_ char *msg = NULL;
		_cleanup_json_ json_t *pod =
			json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind",
				  "Pod", "metadata", "name", name, "namespace", ns, "uid", uid);
		if (pod && asprintf(&msg, "Failed to create pod sandbox: set up network: %s",
				    korch_error_message(e)) >= 0)
			event_record(nw->events, "kubelet", pod, "Warning",
				     "FailedCreatePodSandBox", msg);
		return error_propagate(err, &e, r);
	}
	char buf[NET_IP4_STRLEN];
	char *s = strdup(ip4_format(ip, buf));
	if (!s) {
		node_net_pod_remove(nw->nn, uid, NULL);
		return error_oom(err);
	}
	log_debug("net", "pod %s/%s: %s", ns, name, s);
	*ret_ip = s;
	return 0;
}

static int
pod_teardown(void *data, const char *uid, const char *netns_path, korch_error **err)
{
	struct node_network *nw = data;
	/* Without the network open, the veth goes with the sandbox's namespace. */
	return nw->nn ? node_net_pod_remove(nw->nn, uid, err) : 0;
}

const struct node_network_ops node_network_pod_ops = {
	.setup = pod_setup,
	.teardown = pod_teardown,
};

/* --- lifecycle --- */

static int
watch(struct node_network *nw, const char *api_version, const char *kind, const char *fields,
      const struct informer_handlers *h, struct informer **ret, korch_error **err)
{
	int r = informer_new(nw->client, kind_lookup(api_version, kind), NULL, NULL, fields, ret,
			     err);
	if (r == 0)
		r = informer_add_handlers(*ret, h, err);
	return r < 0 ? korch_error_prefix(err, r, "watch %s", kind) : 0;
}

static int
dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	return s && !(*ret = strdup(s)) ? KORCH_ENOMEM : 0;
}

static int
upstreams(struct node_network *nw, const char *const *given, korch_error **err)
{
	if (given) {
		nw->dns_upstreams = strv_copy((char *const *)given);
		return nw->dns_upstreams ? 0 : error_oom(err);
	}
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (read_file("/etc/resolv.conf", 1 << 20, &text, &len, NULL) < 0)
		text = NULL;
	return resolv_host_nameservers(text, &nw->dns_upstreams, err);
}

int
node_network_start(const struct node_network_options *o, struct node_network **ret,
		   korch_error **err)
{
	if (!o || !o->client || !o->node_name || !*o->node_name)
		return error_set(err, KORCH_EINVALID,
				 "node network: client and node_name are needed");
	korch_loop *loop = store_loop(client_store(o->client));
	if (!loop)
		return error_set(err, KORCH_EINVALID,
				 "node network: the client's store has no loop");
	_cleanup_(node_network_freep) struct node_network *nw = calloc(1, sizeof(*nw));
	if (!nw)
		return error_oom(err);
	nw->client = o->client;
	nw->loop = loop;
	nw->dns_port = o->dns_port ? o->dns_port : 53;
	nw->mtu = o->mtu;
	nw->api_port = o->api_port ? o->api_port : 6443;
	nw->retry_ns = o->retry_ns > 0 ? o->retry_ns : NSEC_PER_SEC;
	if (dup_opt(o->node_name, &nw->node_name) < 0 || dup_opt(o->node_ip, &nw->node_ip) < 0 ||
	    dup_opt(o->instance ? o->instance : "korch", &nw->instance) < 0 ||
	    dup_opt(o->pod_cidr, &nw->pod_cidr) < 0 ||
	    dup_opt(o->cluster_cidr, &nw->cluster_cidr) < 0 ||
	    dup_opt(o->cluster_domain, &nw->cluster_domain) < 0 ||
	    dup_opt(o->api_host, &nw->api_host) < 0)
		return error_oom(err);
	if (!nw->node_ip && !(nw->node_ip = node_default_route_address()))
		return error_set(err, KORCH_EINVALID,
				 "node network: no node address given and no default route");
	uint32_t a;
	int r = ip4_parse(nw->node_ip, &a, err);
	if (r == 0 && nw->api_host)
		r = ip4_parse(nw->api_host, &a, err);
	if (r < 0)
		return korch_error_prefix(err, r, "node network");
	if (nw->api_port < 1 || nw->api_port > 65535)
		return error_set(err, KORCH_EINVALID, "node network: invalid API port %d",
				 nw->api_port);
	if ((r = upstreams(nw, o->dns_upstreams, err)) < 0)
		return r;
	if ((r = event_recorder_new(nw->client, korch_loop_clock(loop), &nw->events, err)) < 0 ||
	    (r = loop_add_defer(loop, on_pass, nw, &nw->pass, err)) < 0 ||
	    (r = loop_add_timer(loop, -1, on_retry, nw, &nw->retry, err)) < 0)
		return r;
	_cleanup_free_ char *node_fields = NULL;
	if (asprintf(&node_fields, "metadata.name=%s", nw->node_name) < 0)
		return error_oom(err);
	struct informer_handlers node_h = { node_changed, node_update, NULL, nw };
	struct informer_handlers pod_h = { pod_changed, pod_update, pod_delete, nw };
	struct informer_handlers svc_h = { svc_add, svc_update, svc_delete, nw };
	struct informer_handlers slice_h = { slice_add, slice_update, slice_delete, nw };
	if ((r = watch(nw, "v1", "Node", node_fields, &node_h, &nw->node, err)) < 0 ||
	    (r = watch(nw, "v1", "Pod", NULL, &pod_h, &nw->pods, err)) < 0 ||
	    (r = watch(nw, "v1", "Service", NULL, &svc_h, &nw->svcs, err)) < 0 ||
	    (r = watch(nw, "discovery.k8s.io/v1", "EndpointSlice", NULL, &slice_h, &nw->slices,
		       err)) < 0)
		return r;
	struct informer *all[] = { nw->node, nw->pods, nw->svcs, nw->slices };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if ((r = informer_start(all[i], err)) < 0)
			return r;
	schedule(nw);
	*ret = steal_pointer(&nw);
	return 0;
}

void
node_network_free(struct node_network *nw)
{
	if (!nw)
		return;
	informer_free(nw->node);
	informer_free(nw->pods);
	informer_free(nw->svcs);
	informer_free(nw->slices);
	loop_source_free(nw->pass);
	loop_source_free(nw->retry);
	node_net_close(nw->nn);
	event_recorder_free(nw->events);
	json_decref(nw->local_slices);
	hashmap_free(&nw->slices_of, free_set);
	hashmap_free(&nw->dirty, NULL);
	strv_free(nw->dns_upstreams);
	free(nw->node_name);
	free(nw->node_ip);
	free(nw->instance);
	free(nw->pod_cidr);
	free(nw->cluster_cidr);
	free(nw->cluster_domain);
	free(nw->api_host);
	free(nw);
}

bool
node_network_ready(const struct node_network *nw)
{
	return nw->nn && nw->proxy_synced;
}

const char *
node_network_cluster_dns(const struct node_network *nw)
{
	return CLUSTER_DNS_IP;
}

struct node_net *
node_network_net(struct node_network *nw)
{
	return nw->nn;
}

void
node_network_stats(const struct node_network *nw, struct node_network_stats *ret)
{
	*ret = nw->st;
}
