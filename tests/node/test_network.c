/*
 * The node's network role end to end (suite netns): a whole node (state, the endpointslice and
 * bootstrap controllers, the network role, the agent on the real runtime with korch-monitor)
 * inside a test-host network namespace, with busybox containers as the workloads. Pods reach
 * each other and the node reaches them; a Service VIP balances over 3 backends and drops one
 * within a probe period of its turning unready; nslookup in a pod answers a Service and a
 * headless Service (one address per pod, POD.SVC.NS.svc for a pod with hostname and subdomain,
 * A-B-C-D.NS.pod); ClientIP affinity pins a client; NodePort, hostPort and a hostNetwork pod
 * are reached from the test host; a pod reaches the kubernetes Service (10.96.0.1:443) on the
 * API server's address; addresses survive an agent restart and are not given twice; a deleted
 * pod leaves no veth and no rule; an exhausted pod CIDR shows in the pod's status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/kinds.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "controller/controller.h"
#include "net/addr.h"
#include "net/node.h"
#include "node-real.h"
#include "node/network.h"
#include "node/sandbox.h"
#include "../net/fixture.h"

#define INSTANCE "nwt"
#define IMAGE RN_IMAGE

struct env {
	struct rn t;                    /* the node's state, monitor and agent */
	struct testhost *th;            /* the test host */
	struct controller_manager *cm;  /* endpointslice and bootstrap */
	struct node_network *nw;        /* the role */
	struct node_network_options no; /* how it was started */
};

static struct env *current; /* the open node, closed by teardown when a test failed */

static void
start_network(struct env *e)
{
	korch_error *err = NULL;
	if (node_network_start(&e->no, &e->nw, &err) < 0)
		fail_msg("node_network_start: %s", korch_error_message(err));
	e->t.opts.network = &node_network_pod_ops;
	e->t.opts.network_data = e->nw;
	e->t.opts.cluster_dns = node_network_cluster_dns(e->nw);
}

static void
wait_ready(struct env *e)
{
	for (int i = 0; i < 500 && !node_network_ready(e->nw); i++)
		rn_run_for(&e->t, 20);
	assert_true(node_network_ready(e->nw));
}

static void
env_open(struct env *e, void **state, const char *pod_cidr)
{
	memset(e, 0, sizeof(*e));
	e->th = *state;
	rn_init(&e->t);
	current = e;
	static const char *const ctrls[] = { "endpointslice", "bootstrap", NULL };
	struct controller_manager_options co = { .no_leader_election = true, .controllers = ctrls };
	korch_error *err = NULL;
	if (controller_manager_new(e->t.client, e->t.loop, &co, &e->cm, &err) < 0 ||
	    controller_manager_start(e->cm, &err) < 0)
		fail_msg("controllers: %s", korch_error_message(err));
	static const char *const no_upstreams[] = { NULL };
	e->no = (struct node_network_options){
		.client = e->t.client,
		.node_name = RN_NODE,
		.node_ip = TH_NODE_IP,
		.instance = INSTANCE,
		.dns_upstreams = no_upstreams,
		.api_host = TH_NODE_IP,
		.api_port = 6443,
		.mtu = 1450,
	};
	start_network(e);
	/* The agent writes spec.podCIDR into its Node; the role takes it from there. */
	e->t.opts.pod_cidr = pod_cidr;
	e->t.opts.node_ip = TH_NODE_IP;
	rn_start_agent(&e->t);
	wait_ready(e);
}

/* Stops everything and removes what the node made; also after a failed test. */
static int
env_close(struct env *e)
{
	current = NULL;
	rn_stop_agent(&e->t);
	node_network_free(e->nw);
	e->nw = NULL;
	controller_manager_free(e->cm);
	e->cm = NULL;
	rn_fini(&e->t);
	return node_net_reset(INSTANCE, NULL);
}

static int
setup(void **state)
{
	return th_setup(state);
}

static int
teardown(void **state)
{
	if (current)
		env_close(current);
	return th_teardown(state);
}

/* A busybox httpd pod answering its own name, ready while /flag/ready exists. */
static void
web_pod_spec(struct env *e, const char *name, const char *app, const char *extra_port,
	     const char *spec_extra)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		 "\"namespace\":\"default\",\"labels\":{\"app\":\"%s\"}},\"spec\":{"
		 "\"terminationGracePeriodSeconds\":0,%s"
		 "\"volumes\":[{\"name\":\"flag\",\"emptyDir\":{}}],"
		 "\"containers\":[{\"name\":\"httpd\",\"image\":\"" IMAGE "\","
		 "\"command\":[\"sh\",\"-c\",\"mkdir -p /www && echo %s > /www/index.html && "
		 "touch /flag/ready && exec httpd -f -p 80 -h /www\"],"
		 "\"volumeMounts\":[{\"name\":\"flag\",\"mountPath\":\"/flag\"}],"
		 "\"readinessProbe\":{\"exec\":{\"command\":[\"test\",\"-f\",\"/flag/ready\"]},"
		 "\"periodSeconds\":1,\"failureThreshold\":1},"
		 "\"ports\":[{\"name\":\"http\",\"containerPort\":80%s}]}]}}",
		 name, app, spec_extra ? spec_extra : "", name, extra_port ? extra_port : "");
	rn_create(&e->t, text);
}

static void
web_pod(struct env *e, const char *name, const char *app, const char *extra_port)
{
	web_pod_spec(e, name, app, extra_port, NULL);
}

/* A pod running one shell command and then sleeping (its log tells what it saw). */
static void
shell_pod(struct env *e, const char *name, const char *cmd, const char *spec_extra)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		 "\"namespace\":\"default\"},\"spec\":{\"terminationGracePeriodSeconds\":0%s,"
		 "\"containers\":[{\"name\":\"sh\",\"image\":\"" IMAGE "\","
		 "\"command\":[\"sh\",\"-c\",\"%s; exec sleep 3600\"]}]}}",
		 name, spec_extra ? spec_extra : "", cmd);
	rn_create(&e->t, text);
}

static void
service(struct env *e, const char *name, const char *app, const char *spec_extra)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\","
		 "\"namespace\":\"default\"},\"spec\":{\"selector\":{\"app\":\"%s\"},"
		 "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":80}]%s}}",
		 name, app, spec_extra ? spec_extra : "");
	rn_create(&e->t, text);
}

static json_t *
get(struct env *e, const char *kind, const char *name)
{
	json_t *obj = NULL;
	assert_int_equal(
		client_get(e->t.client, kind_lookup("v1", kind), "default", name, &obj, NULL), 0);
	return obj;
}

static uint32_t
service_ip(struct env *e, const char *name)
{
	json_t *s = get(e, "Service", name);
	uint32_t ip =
		th_ip(json_string_value(json_object_get(json_object_get(s, "spec"), "clusterIP")));
	json_decref(s);
	return ip;
}

static int
node_port(struct env *e, const char *name)
{
	json_t *s = get(e, "Service", name);
	int p = (int)json_integer_value(json_object_get(
		json_array_get(json_object_get(json_object_get(s, "spec"), "ports"), 0),
		"nodePort"));
	json_decref(s);
	return p;
}

/* Waits for the pod to be Ready; returns its address. */
static uint32_t
ready_ip(struct env *e, const char *name)
{
	if (!rn_wait_condition(&e->t, name, "Ready", "True", 20000))
		fail_msg("pod %s is not Ready: %s", name,
			 json_dumps(rn_status(&e->t, name, ""), 0) ?: "");
	const char *ip = rn_status_str(&e->t, name, "podIP");
	assert_non_null(ip);
	return th_ip(ip);
}

/* An fd for the pod's network namespace (the sandbox's). */
static int
pod_netns(struct env *e, const char *name)
{
	_cleanup_free_ char *uid = rn_uid(&e->t, name);
	_cleanup_free_ char *path = sandbox_ns_path(e->t.run, uid, SANDBOX_NET);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/*
 * GETs from netns_fd until word is gone from the answers; the ms until the first of 4 rounds of
 * 12 in a row without it (one round alone misses one backend of three by chance 0.8% of the
 * time, and the loop runs dozens of rounds).
 */
static long
until_gone(struct env *e, int netns_fd, uint32_t ip, const char *word, int timeout_ms)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int streak = 0;
	long first = 0;
	for (;;) {
		rn_run_for(&e->t, 20);
		char *got = th_http_get(netns_fd, ip, 80, 12);
		bool gone = th_count(got, word) == 0 && th_count(got, "ERR") == 0;
		free(got);
		clock_gettime(CLOCK_MONOTONIC, &b);
		long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		if (!gone)
			streak = 0;
		else if (streak++ == 0)
			first = ms;
		if (streak == 4)
			return first;
		if (ms > timeout_ms)
			return ms;
	}
}

/* Waits until GETs from netns_fd to ip:port answer (all count of them), dispatching. */
static char *
wait_answers(struct env *e, int netns_fd, uint32_t ip, uint16_t port, int count)
{
	for (int i = 0; i < 100; i++) {
		char *got = th_http_get(netns_fd, ip, port, count);
		if (th_count(got, "ERR") == 0)
			return got;
		free(got);
		rn_run_for(&e->t, 100);
	}
	return th_http_get(netns_fd, ip, port, count);
}

static void
test_pod_to_pod_and_resolv_conf(void **state)
{
	static struct env e; /* static: teardown closes it after a failure */
	env_open(&e, state, "10.244.0.0/24");
	web_pod(&e, "web-a", "a", NULL);
	web_pod(&e, "web-b", "b", NULL);
	uint32_t a = ready_ip(&e, "web-a"), b = ready_ip(&e, "web-b");
	assert_true(a != b);
	assert_int_equal(a >> 8, th_ip("10.244.0.0") >> 8);
	/* From a container of another pod, through its eth0 and the bridge. */
	char cmd[256], ipb[NET_IP4_STRLEN];
	snprintf(cmd, sizeof(cmd), "wget -q -O - http://%s/", ip4_format(b, ipb));
	shell_pod(&e, "client", cmd, NULL);
	assert_true(rn_wait_log(&e.t, "client", "sh", "web-b", 20000));
	/* The node reaches pods without NAT. */
	char *got = th_http_get(-1, a, 80, 1);
	assert_string_equal(got, "web-a\n");
	free(got);
	/* ClusterFirst: the cluster DNS first, then the node's own searches. */
	_cleanup_free_ char *uid = rn_uid(&e.t, "client");
	char path[512];
	snprintf(path, sizeof(path), "%s/pods/%s/resolv.conf", e.t.opts.root_dir, uid);
	_cleanup_free_ char *resolv = rn_read(path);
	assert_true(startswith(resolv, "search default.svc.cluster.local svc.cluster.local "
				       "cluster.local"));
	assert_non_null(strstr(resolv, "\nnameserver 10.96.0.10\noptions ndots:5"));
	/* dnsPolicy None: only dnsConfig. */
	shell_pod(&e, "custom", "cat /etc/resolv.conf",
		  ",\"dnsPolicy\":\"None\",\"dnsConfig\":{\"nameservers\":[\"192.0.2.1\"],"
		  "\"searches\":[\"example.com\"],\"options\":[{\"name\":\"ndots\","
		  "\"value\":\"2\"}]}");
	assert_true(rn_wait_log(&e.t, "custom", "sh",
				"search example.com\nnameserver 192.0.2.1\noptions ndots:2",
				20000));
	assert_int_equal(env_close(&e), 0);
}

static void
test_service_balances_and_follows_readiness(void **state)
{
	static struct env e; /* static: teardown closes it after a failure */
	env_open(&e, state, "10.244.0.0/24");
	const char *names[] = { "web-1", "web-2", "web-3" };
	for (int i = 0; i < 3; i++)
		web_pod(&e, names[i], "web", NULL);
	service(&e, "web", "web", NULL);
	for (int i = 0; i < 3; i++)
		ready_ip(&e, names[i]);
	shell_pod(&e, "client", "true", NULL);
	ready_ip(&e, "client");
	int fd = pod_netns(&e, "client");
	uint32_t vip = service_ip(&e, "web");
	assert_int_equal(vip >> 16, th_ip("10.96.0.0") >> 16);
	/* Until all three are in the Service's endpoints, then 200 requests. */
	for (int i = 0; i < 100; i++) {
		char *got = th_http_get(fd, vip, 80, 30);
		bool all =
			th_count(got, "web-1") && th_count(got, "web-2") && th_count(got, "web-3");
		free(got);
		if (all)
			break;
		rn_run_for(&e.t, 100);
	}
	char *got = th_http_get(fd, vip, 80, 200);
	int n1 = th_count(got, "web-1"), n2 = th_count(got, "web-2"), n3 = th_count(got, "web-3");
	free(got);
	assert_int_equal(n1 + n2 + n3, 200);
	assert_true(n1 > 0 && n2 > 0 && n3 > 0);
	/* web-2 turns unready (its flag goes): no traffic within a probe period (1 s). */
	_cleanup_free_ char *uid = rn_uid(&e.t, "web-2");
	char flag[512];
	snprintf(flag, sizeof(flag), "%s/pods/%s/volumes/kubernetes.io~empty-dir/flag/ready",
		 e.t.opts.root_dir, uid);
	struct node_network_stats before, after;
	node_network_stats(e.nw, &before);
	assert_int_equal(unlink(flag), 0);
	long ms = until_gone(&e, fd, vip, "web-2", 10000);
	print_message("# web-2 out of the VIP %ld ms after turning unready\n", ms);
	assert_true(ms <= 1500);
	/* That was incremental: no full sync, no failure. */
	node_network_stats(e.nw, &after);
	assert_true(after.syncs > before.syncs);
	assert_int_equal(after.full_syncs, before.full_syncs);
	assert_int_equal(after.failures, 0);
	/* A Service change that changes no rule writes nothing. */
	rn_run_for(&e.t, 300);
	node_network_stats(e.nw, &before);
	json_t *svc = get(&e, "Service", "web");
	json_object_set_new(json_object_get(svc, "metadata"), "annotations",
			    json_pack("{s:s}", "note", "no rule depends on this"));
	assert_int_equal(client_update(e.t.client, svc, NULL, NULL, NULL, NULL), 0);
	json_decref(svc);
	rn_run_for(&e.t, 300);
	node_network_stats(e.nw, &after);
	assert_int_equal(after.syncs, before.syncs);
	assert_int_equal(after.unchanged, before.unchanged + 1);
	/* nslookup in a container: the VIP. */
	char ipb[NET_IP4_STRLEN], want[64];
	snprintf(want, sizeof(want), "Address: %s", ip4_format(vip, ipb));
	shell_pod(&e, "dig", "nslookup web.default.svc.cluster.local", NULL);
	assert_true(rn_wait_log(&e.t, "dig", "sh", want, 20000));
	close(fd);
	assert_int_equal(env_close(&e), 0);
}

static void
test_headless_dns(void **state)
{
	static struct env e; /* static: teardown closes it after a failure */
	env_open(&e, state, "10.244.0.0/24");
	/* db-1 as a StatefulSet's pod is: its hostname under the Service as subdomain. */
	web_pod_spec(&e, "db-1", "db", NULL, "\"hostname\":\"db-1\",\"subdomain\":\"db\",");
	web_pod(&e, "db-2", "db", NULL);
	service(&e, "db", "db", ",\"clusterIP\":\"None\"");
	uint32_t a = ready_ip(&e, "db-1"), b = ready_ip(&e, "db-2");
	char ipa[NET_IP4_STRLEN], ipb[NET_IP4_STRLEN], want[128];
	ip4_format(a, ipa);
	ip4_format(b, ipb);
	shell_pod(&e, "dig", "sleep 2; nslookup db.default.svc.cluster.local", NULL);
	snprintf(want, sizeof(want), "Address: %s", ipa);
	assert_true(rn_wait_log(&e.t, "dig", "sh", want, 20000));
	snprintf(want, sizeof(want), "Address: %s", ipb);
	assert_true(rn_wait_log(&e.t, "dig", "sh", want, 20000));
	/* POD.SVC.NS.svc for the pod with a hostname, A-B-C-D.NS.pod for any pod. */
	char cmd[256], dashed[NET_IP4_STRLEN];
	snprintf(dashed, sizeof(dashed), "%s", ipb);
	for (char *c = dashed; *c; c++)
		if (*c == '.')
			*c = '-';
	snprintf(
		cmd, sizeof(cmd),
		"nslookup db-1.db.default.svc.cluster.local; nslookup %s.default.pod.cluster.local",
		dashed);
	shell_pod(&e, "dig2", cmd, NULL);
	snprintf(want, sizeof(want), "Name:\tdb-1.db.default.svc.cluster.local\nAddress: %s", ipa);
	assert_true(rn_wait_log(&e.t, "dig2", "sh", want, 20000));
	snprintf(want, sizeof(want), "Name:\t%s.default.pod.cluster.local\nAddress: %s", dashed,
		 ipb);
	assert_true(rn_wait_log(&e.t, "dig2", "sh", want, 20000));
	assert_int_equal(env_close(&e), 0);
}

static void
test_affinity_nodeport_hostport_hostnetwork(void **state)
{
	static struct env e; /* static: teardown closes it after a failure */
	env_open(&e, state, "10.244.0.0/24");
	web_pod(&e, "web-1", "web", NULL);
	web_pod(&e, "web-2", "web", NULL);
	service(&e, "web", "web", ",\"type\":\"NodePort\",\"sessionAffinity\":\"ClientIP\"");
	web_pod(&e, "hp", "hp", ",\"hostPort\":8080");
	shell_pod(&e, "hostnet",
		  "mkdir -p /tmp/w && echo hostnet > /tmp/w/index.html && httpd -p 8081 -h /tmp/w",
		  ",\"hostNetwork\":true");
	ready_ip(&e, "web-1");
	ready_ip(&e, "web-2");
	ready_ip(&e, "hp");
	int np = node_port(&e, "web");
	assert_true(np >= 30000 && np <= 32767);
	/* From the test host: the NodePort on the node's address, pinned to one backend. */
	char *got = wait_answers(&e, -1, th_ip(TH_NODE_IP), (uint16_t)np, 40);
	int n1 = th_count(got, "web-1"), n2 = th_count(got, "web-2");
	free(got);
	assert_true((n1 == 40 && n2 == 0) || (n1 == 0 && n2 == 40));
	/* hostPort: DNAT from the node's address to the pod. */
	got = wait_answers(&e, -1, th_ip(TH_NODE_IP), 8080, 3);
	assert_string_equal(got, "hp\nhp\nhp\n");
	free(got);
	/* hostNetwork: the node's address, the node's network. */
	assert_true(rn_wait_str(&e.t, "hostnet", "podIP", TH_NODE_IP, 20000));
	got = wait_answers(&e, -1, th_ip(TH_NODE_IP), 8081, 1);
	assert_string_equal(got, "hostnet\n");
	free(got);
	assert_int_equal(env_close(&e), 0);
}

static void
test_kubernetes_service(void **state)
{
	static struct env e; /* static: teardown closes it after a failure */
	env_open(&e, state, "10.244.0.0/24");
	/* The "API server": busybox httpd on the node's address and port 6443. */
	char www[256];
	snprintf(www, sizeof(www), "%s/www", e.t.dir);
	assert_int_equal(mkdir_p(www, 0755, NULL), 0);
	char index[300];
	snprintf(index, sizeof(index), "%s/index.html", www);
	assert_int_equal(write_file_atomic(index, "apiserver\n", 10, 0644, NULL), 0);
	const char *argv[] = { "/bin/busybox",     "httpd", "-f", "-p",
			       TH_NODE_IP ":6443", "-h",    www,  NULL };
	th_spawn(e.th, -1, argv);
	shell_pod(&e, "client", "until wget -q -O - http://10.96.0.1:443/; do sleep 0.2; done",
		  NULL);
	assert_true(rn_wait_log(&e.t, "client", "sh", "apiserver", 20000));
	assert_int_equal(env_close(&e), 0);
}

static void
test_restart_keeps_addresses(void **state)
{
	static struct env e; /* static: teardown closes it after a failure */
	env_open(&e, state, "10.244.0.0/24");
	web_pod(&e, "web-a", "a", NULL);
	uint32_t a = ready_ip(&e, "web-a");
	/* Agent and network role stop and start again (containers keep running). */
	rn_stop_agent(&e.t);
	node_network_free(e.nw);
	start_network(&e);
	rn_start_agent(&e.t);
	wait_ready(&e);
	web_pod(&e, "web-b", "b", NULL);
	uint32_t b = ready_ip(&e, "web-b");
	assert_true(b != a);
	assert_int_equal(th_ip(rn_status_str(&e.t, "web-a", "podIP")), a);
	char *got = th_http_get(-1, a, 80, 1);
	assert_string_equal(got, "web-a\n");
	free(got);
	assert_int_equal(env_close(&e), 0);
}

static void
test_delete_removes_veth_and_rules(void **state)
{
	static struct env e; /* static: teardown closes it after a failure */
	env_open(&e, state, "10.244.0.0/24");
	web_pod(&e, "hp", "hp", ",\"hostPort\":8080");
	uint32_t ip = ready_ip(&e, "hp");
	_cleanup_free_ char *uid = rn_uid(&e.t, "hp");
	char veth[NET_IFNAME_MAX], ipb[NET_IP4_STRLEN];
	net_veth_name(INSTANCE, uid, veth);
	ip4_format(ip, ipb);
	assert_int_equal(th_sh("ip link show %s >/dev/null 2>&1", veth), 0);
	assert_int_equal(th_sh("nft list table inet korch-%s | grep -q %s", INSTANCE, ipb), 0);
	rn_delete(&e.t, "hp", 0);
	assert_true(rn_wait_gone(&e.t, "hp", 20000));
	for (int i = 0; i < 50 && th_sh("ip link show %s >/dev/null 2>&1", veth) == 0; i++)
		rn_run_for(&e.t, 100);
	assert_int_not_equal(th_sh("ip link show %s >/dev/null 2>&1", veth), 0);
	assert_int_not_equal(th_sh("nft list table inet korch-%s | grep -q %s", INSTANCE, ipb), 0);
	assert_int_equal(env_close(&e), 0);
}

static void
test_exhausted_cidr(void **state)
{
	static struct env e; /* static: teardown closes it after a failure */
	/* A /29: 5 addresses for pods besides network, gateway and broadcast. */
	env_open(&e, state, "10.244.0.0/29");
	char name[16];
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		shell_pod(&e, name, "true", NULL);
	}
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ready_ip(&e, name);
	}
	_cleanup_free_ char *uid = rn_uid(&e.t, "p5");
	char want[256];
	snprintf(want, sizeof(want),
		 "Failed to create pod sandbox: set up network: pod %s: pod CIDR 10.244.0.0/29 is "
		 "exhausted: all 5 addresses are in use",
		 uid);
	const char *msg = NULL;
	for (int i = 0; i < 100; i++) {
		msg = rn_status_str(&e.t, "p5", "containerStatuses.0.state.waiting.message");
		if (msg && strstr(msg, "exhausted"))
			break;
		rn_run_for(&e.t, 100);
	}
	assert_non_null(msg);
	assert_string_equal(msg, want);
	/* ...and a Warning Event about the pod, as the kubelet records it. */
	json_t *list = NULL;
	assert_int_equal(
		client_list(e.t.client, kind_lookup("v1", "Event"), "default", NULL, &list, NULL),
		0);
	size_t i, found = 0;
	json_t *ev;
	json_array_foreach (json_object_get(list, "items"), i, ev) {
		if (!streq(json_string_value(json_object_get(ev, "reason")),
			   "FailedCreatePodSandBox"))
			continue;
		found++;
		assert_string_equal(json_string_value(json_object_get(ev, "type")), "Warning");
		assert_string_equal(json_string_value(json_object_get(ev, "message")), want);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(ev, "involvedObject"), "uid")),
				    uid);
	}
	json_decref(list);
	assert_int_equal(found, 1);
	assert_int_equal(env_close(&e), 0);
}

int
main(void)
{
	if (rn_skip())
		return 0;
	int r = th_init();
	if (r)
		return r < 0 ? 1 : 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pod_to_pod_and_resolv_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_balances_and_follows_readiness, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_headless_dns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_affinity_nodeport_hostport_hostnetwork, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kubernetes_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_removes_veth_and_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exhausted_cidr, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
