/*
 * The node network end to end inside a test host (suite netns): pods (network namespaces with
 * busybox httpd) reach each other and are reached from the node; a Service VIP balances over 3
 * backends and follows an endpoint change within one sync; a pod reaches itself through its
 * Service (hairpin); ClientIP affinity pins a client; NodePort and hostPort are reached from the
 * test host; a pod reaches the kubernetes Service on the node's address; the kube-dns VIP answers
 * a pod's nslookup; addresses are never given twice across a restart that adopts the veths; a
 * removed pod leaves no veth, address or rule; reset removes the bridge, the veths and the table
 * of one instance and leaves another instance alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "net/addr.h"
#include "net/node.h"
#include "fixture.h"
#include "objects.h"

struct env {
	korch_clock *clock;  /* real clock */
	korch_loop *loop;    /* the agent's loop */
	struct node_net *nn; /* the node network */
	struct testhost *th; /* the test host */
};

static struct node_net *
open_node(korch_loop *loop, const char *instance, const char *cidr)
{
	struct node_net_config c = {
		.instance = instance, .pod_cidr = cidr, .node_ip = TH_NODE_IP, .mtu = 1450
	};
	struct node_net *nn = NULL;
	korch_error *err = NULL;
	int r = node_net_open(loop, &c, &nn, &err);
	if (r < 0)
		fail_msg("node_net_open: %s", korch_error_message(err));
	return nn;
}

static void
env_open(struct env *e, void **state)
{
	e->th = *state;
	assert_int_equal(korch_clock_new_real(&e->clock, NULL), 0);
	assert_int_equal(korch_loop_new(e->clock, &e->loop, NULL), 0);
	e->nn = open_node(e->loop, "nt", "10.244.0.0/24");
	/* The first sync, as the agent does before adding pods. */
	assert_int_equal(node_net_services_sync(e->nn, NULL, NULL, NULL, NULL), 0);
}

static void
env_close(struct env *e)
{
	node_net_close(e->nn);
	korch_loop_free(e->loop);
	korch_clock_free(e->clock);
}

static uint32_t
add_pod(struct env *e, struct th_pod *pod, const struct node_net_hostport *hp, size_t n)
{
	uint32_t ip = 0;
	korch_error *err = NULL;
	if (node_net_pod_add(e->nn, pod->name, -1, pod->path, hp, n, &ip, &err) < 0)
		fail_msg("pod_add %s: %s", pod->name, korch_error_message(err));
	return ip;
}

static void
test_pods_reach_each_other(void **state)
{
	struct env e;
	env_open(&e, state);
	struct th_pod *a = th_pod(e.th, "a"), *b = th_pod(e.th, "b");
	uint32_t ipa = add_pod(&e, a, NULL, 0), ipb = add_pod(&e, b, NULL, 0);
	assert_int_equal(ipa, th_ip("10.244.0.2"));
	assert_int_equal(ipb, th_ip("10.244.0.3"));
	th_httpd(e.th, a, ipa, "pod-a");
	th_httpd(e.th, b, ipb, "pod-b");
	char *out = th_http_get(a->fd, ipb, 80, 3);
	assert_string_equal(out, "pod-b\npod-b\npod-b\n");
	free(out);
	out = th_http_get(b->fd, ipa, 80, 1);
	assert_string_equal(out, "pod-a\n");
	free(out);
	out = th_http_get(-1, ipa, 80, 1); /* the node reaches pods without NAT */
	assert_string_equal(out, "pod-a\n");
	free(out);
	/* The pod sees the address others see. */
	out = th_capture("nsenter --net=%s ip -4 -o addr show dev eth0 | awk '{print $4}'",
			 a->path);
	assert_string_equal(out, "10.244.0.2/32\n");
	free(out);
	/* Adding again changes nothing and returns the same address. */
	assert_int_equal(add_pod(&e, a, NULL, 0), ipa);
	env_close(&e);
}

static json_t *
kube_dns(json_t **ret_slice, uint32_t gateway)
{
	char gw[NET_IP4_STRLEN];
	ip4_format(gateway, gw);
	*ret_slice = json_pack(
		"{s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:[{s:[s]}], s:[{s:s, s:i, s:s}, {s:s, s:i, s:s}]}",
		"kind", "EndpointSlice", "metadata", "name", "kube-dns-1", "namespace",
		"kube-system", "labels", "kubernetes.io/service-name", "kube-dns", "addressType",
		"IPv4", "endpoints", "addresses", gw, "ports", "name", "dns", "port", 53,
		"protocol", "UDP", "name", "dns-tcp", "port", 53, "protocol", "TCP");
	return json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:[{s:s, s:i, s:s}, {s:s, s:i, s:s}]}}",
			 "kind", "Service", "metadata", "name", "kube-dns", "namespace",
			 "kube-system", "spec", "clusterIP", "10.96.0.10", "ports", "name", "dns",
			 "port", 53, "protocol", "UDP", "name", "dns-tcp", "port", 53, "protocol",
			 "TCP");
}

static void
test_services(void **state)
{
	struct env e;
	env_open(&e, state);
	struct th_pod *client = th_pod(e.th, "client");
	struct th_pod *be[3] = { th_pod(e.th, "be0"), th_pod(e.th, "be1"), th_pod(e.th, "be2") };
	uint32_t client_ip = add_pod(&e, client, NULL, 0);
	char ips[3][NET_IP4_STRLEN];
	const char *ipp[3];
	for (int i = 0; i < 3; i++) {
		struct node_net_hostport hp = { SVC_TCP, 8081, NULL, 80 };
		uint32_t ip = add_pod(&e, be[i], i == 1 ? &hp : NULL, i == 1);
		th_httpd(e.th, be[i], ip, be[i]->name);
		ipp[i] = ip4_format(ip, ips[i]);
	}
	json_t *svcs = json_array(), *eps = json_array(), *slice;
	json_array_append_new(svcs, obj_service("shop", "web", "10.96.0.20", 80, 30080, NULL));
	json_array_append_new(eps, obj_slice("shop", "web", ipp, 3, 80));
	json_array_append_new(svcs, obj_service("shop", "sticky", "10.96.0.21", 80, 0, "ClientIP"));
	json_array_append_new(eps, obj_slice("shop", "sticky", ipp, 3, 80));
	json_array_append_new(svcs, kube_dns(&slice, node_net_gateway(e.nn)));
	json_array_append_new(eps, slice);
	struct proxy_stats st;
	assert_int_equal(node_net_services_sync(e.nn, svcs, eps, &st, NULL), 0);
	assert_int_equal(node_net_dns_update(e.nn, svcs, eps, NULL, NULL), 0);

	/* 200 requests through the VIP reach all three backends. */
	uint32_t vip = th_ip("10.96.0.20");
	char *out = th_http_get(client->fd, vip, 80, 200);
	int n0 = th_count(out, "be0"), n1 = th_count(out, "be1"), n2 = th_count(out, "be2");
	assert_int_equal(n0 + n1 + n2, 200);
	assert_true(n0 > 20 && n1 > 20 && n2 > 20);
	free(out);

	/* be2 leaves the endpoints: one sync, and it gets nothing more. */
	json_array_remove(json_object_get(json_array_get(eps, 0), "endpoints"), 2);
	assert_int_equal(node_net_services_sync(e.nn, svcs, eps, &st, NULL), 0);
	assert_false(st.full);
	out = th_http_get(client->fd, vip, 80, 60);
	assert_int_equal(th_count(out, "be2"), 0);
	assert_int_equal(th_count(out, "be0") + th_count(out, "be1"), 60);
	free(out);

	/* Hairpin: be0 reaches its own Service, landing on itself too. */
	out = th_http_get(be[0]->fd, vip, 80, 40);
	assert_int_equal(th_count(out, "be0") + th_count(out, "be1"), 40);
	assert_true(th_count(out, "be0") > 0);
	free(out);

	/* ClientIP affinity pins the client to one backend. */
	out = th_http_get(client->fd, th_ip("10.96.0.21"), 80, 30);
	int pinned = th_count(out, "be0") + th_count(out, "be1") + th_count(out, "be2");
	assert_int_equal(pinned, 30);
	assert_true(th_count(out, "be0") == 30 || th_count(out, "be1") == 30 ||
		    th_count(out, "be2") == 30);
	free(out);

	/* The node itself reaches the ClusterIP. */
	out = th_http_get(-1, vip, 80, 10);
	assert_int_equal(th_count(out, "be0") + th_count(out, "be1"), 10);
	free(out);

	/* NodePort and hostPort from the test host. */
	out = th_http_get(-1, th_ip(TH_NODE_IP), 30080, 20);
	assert_int_equal(th_count(out, "be0") + th_count(out, "be1"), 20);
	free(out);
	out = th_http_get(-1, th_ip(TH_NODE_IP), 8081, 2);
	assert_string_equal(out, "be1\nbe1\n");
	free(out);

	/* The kubernetes Service: 10.96.0.1:443 to the API on the node's own address. */
	char *www = NULL;
	assert_true(asprintf(&www, "%s/www-api", e.th->dir) > 0);
	assert_int_equal(th_sh("mkdir -p %s && echo api > %s/index.html", www, www), 0);
	const char *api_argv[] = { "/bin/busybox",     "httpd", "-f", "-p",
				   TH_NODE_IP ":6443", "-h",    www,  NULL };
	th_spawn(e.th, -1, api_argv);
	static const char *const node_ip[] = { TH_NODE_IP };
	json_t *api = obj_service("default", "kubernetes", "10.96.0.1", 443, 0, NULL);
	json_array_append_new(svcs, api);
	json_array_append_new(eps, obj_slice("default", "kubernetes", node_ip, 1, 6443));
	assert_int_equal(node_net_services_sync(e.nn, svcs, eps, &st, NULL), 0);
	for (int i = 0; i < 100; i++) { /* until httpd listens */
		out = th_http_get(-1, th_ip(TH_NODE_IP), 6443, 1);
		bool up = th_count(out, "api") == 1;
		free(out);
		if (up)
			break;
		usleep(10000);
	}
	out = th_http_get(client->fd, th_ip("10.96.0.1"), 443, 3);
	assert_string_equal(out, "api\napi\napi\n");
	free(out);
	free(www);

	/* DNS through the kube-dns VIP from a pod, with ldns and with busybox nslookup. */
	char *ans = th_dns_query(e.loop, client->fd, th_ip("10.96.0.10"), 53,
				 "web.shop.svc.cluster.local", "A", false);
	assert_string_equal(ans, "rcode=NOERROR aa id=ok\nA 10.96.0.20\n");
	free(ans);
	ans = th_dns_query(e.loop, client->fd, th_ip("10.96.0.10"), 53,
			   "sticky.shop.svc.cluster.local", "A", true);
	assert_string_equal(ans, "rcode=NOERROR aa id=ok\nA 10.96.0.21\n");
	free(ans);
	const char *argv[] = { "/bin/busybox", "nslookup", "-type=a", "web.shop.svc.cluster.local",
			       "10.96.0.10",   NULL };
	ans = th_run(e.loop, client->fd, argv);
	assert_non_null(strstr(ans, "Name:\tweb.shop.svc.cluster.local\nAddress: 10.96.0.20\n"));
	free(ans);
	(void)client_ip;
	json_decref(svcs);
	json_decref(eps);
	env_close(&e);
}

static bool
link_exists(const char *name)
{
	return th_sh("ip link show %s >/dev/null 2>&1", name) == 0;
}

static void
test_restart_remove_reset(void **state)
{
	struct env e;
	env_open(&e, state);
	struct th_pod *a = th_pod(e.th, "a"), *b = th_pod(e.th, "b"), *c = th_pod(e.th, "c");
	struct node_net_hostport hp = { SVC_TCP, 8082, NULL, 80 };
	uint32_t ipa = add_pod(&e, a, NULL, 0), ipb = add_pod(&e, b, &hp, 1);
	char veth_b[NET_IFNAME_MAX];
	net_veth_name("nt", "b", veth_b);
	assert_true(link_exists(veth_b));

	/* The agent restarts: the network stays, the new object adopts it. */
	node_net_close(e.nn);
	e.nn = open_node(e.loop, "nt", "10.244.0.0/24");
	assert_int_equal(node_net_services_sync(e.nn, NULL, NULL, NULL, NULL), 0);
	uint32_t ipc = add_pod(&e, c, NULL, 0);
	assert_int_not_equal(ipc, ipa);
	assert_int_not_equal(ipc, ipb);
	assert_int_equal(add_pod(&e, a, NULL, 0), ipa);
	char ipb_text[NET_IP4_STRLEN];
	korch_error *err = NULL;
	assert_int_equal(node_net_reserve(e.nn, "other", ip4_format(ipb, ipb_text), &err),
			 KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err), "address 10.244.0.3 is held by b, not other");
	korch_error_free(err);
	/* The pods still reach each other after the restart. */
	th_httpd(e.th, b, ipb, "pod-b");
	char *out = th_http_get(c->fd, ipb, 80, 1);
	assert_string_equal(out, "pod-b\n");
	free(out);

	/* b's hostPort comes back with the hostPorts it is given again, then goes with b. */
	assert_int_equal(add_pod(&e, b, &hp, 1), ipb);
	out = th_capture("nft list chain inet korch-nt hostports");
	assert_non_null(strstr(out, "tcp dport 8082 dnat ip to 10.244.0.3:80"));
	free(out);
	assert_int_equal(node_net_pod_remove(e.nn, "b", NULL), 0);
	assert_int_equal(node_net_pod_remove(e.nn, "b", NULL), 0); /* idempotent */
	assert_false(link_exists(veth_b));
	out = th_capture("nft list chain inet korch-nt hostports");
	assert_null(strstr(out, "8082"));
	free(out);
	assert_int_equal(node_net_reserve(e.nn, "other", ipb_text, NULL), 0); /* released */

	/* Another instance beside it is left alone by this one's reset. */
	struct node_net *other = open_node(e.loop, "nu", "10.245.0.0/24");
	assert_int_equal(node_net_services_sync(other, NULL, NULL, NULL, NULL), 0);
	node_net_close(other);
	node_net_close(e.nn);
	e.nn = NULL;
	char veth_a[NET_IFNAME_MAX];
	net_veth_name("nt", "a", veth_a);
	assert_int_equal(node_net_reset("nt", NULL), 0);
	assert_int_equal(node_net_reset("nt", NULL), 0);
	assert_false(link_exists("kbnt0"));
	assert_false(link_exists(veth_a));
	assert_true(link_exists("kbnu0"));
	out = th_capture("nft list tables");
	assert_string_equal(out, "table inet korch-nu\n");
	free(out);
	out = th_capture("nsenter --net=%s ip -o link show | grep -c eth0", a->path);
	assert_string_equal(out, "0\n");
	free(out);
	assert_int_equal(node_net_reset("nu", NULL), 0);
	assert_false(link_exists("kbnu0"));
	env_close(&e);
}

static void
test_bad_config(void **state)
{
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct node_net *nn = NULL;
	korch_error *err = NULL;
	struct node_net_config c = { .instance = "nt",
				     .pod_cidr = "10.244.0.1/24",
				     .node_ip = TH_NODE_IP };
	assert_int_equal(node_net_open(loop, &c, &nn, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "pod CIDR: invalid CIDR \"10.244.0.1/24\": host bits set (the network "
			    "address is needed)");
	korch_error_free(err);
	err = NULL;
	c.pod_cidr = NULL;
	c.instance = "Bad_Name";
	assert_int_equal(node_net_open(loop, &c, &nn, &err), KORCH_EINVALID);
	korch_error_free(err);
	err = NULL;
	c.instance = "nt";
	const char *bad_upstream[] = { "192.0.2.53:99999" };
	c.dns_upstreams = bad_upstream;
	c.n_dns_upstreams = 1;
	assert_int_equal(node_net_open(loop, &c, &nn, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "invalid DNS upstream \"192.0.2.53:99999\"");
	korch_error_free(err);
	err = NULL;
	c.n_dns_upstreams = 0;
	c.node_ip = NULL;
	assert_int_equal(node_net_open(loop, &c, &nn, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "the node's address is needed");
	korch_error_free(err);
	assert_null(nn);
	assert_false(link_exists("kbnt0")); /* nothing half-made */
	korch_loop_free(loop);
	korch_clock_free(clock);
}

int
main(void)
{
	int r = th_init();
	if (r)
		return r < 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pods_reach_each_other, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_services, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_restart_remove_reset, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_bad_config, th_setup, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
