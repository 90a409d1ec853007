/*
 * bench-net: the lib/net benchmark behind bench/net/run. Everything runs in a network namespace
 * it makes (the fixture of tests/net) and removes: programming 1,000 and 10,000 Services with 3
 * endpoints each, one endpoint change at 10,000 Services, and HTTP throughput from the test host
 * to a busybox httpd pod directly and through a Service VIP, measured with wrk with a new
 * connection per request. Prints "bench: METRIC VALUE UNIT" lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "net/addr.h"
#include "net/node.h"
#include "net/proxy.h"
#include "../../tests/net/fixture.h"
#include "../../tests/net/objects.h"

#define TABLE "korch-bench"

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
die(const char *what, korch_error *err)
{
	fprintf(stderr, "bench-net: %s: %s\n", what, err ? korch_error_message(err) : "failed");
	exit(1);
}

static void
ip_of(int k, char buf[static NET_IP4_STRLEN], int second)
{
	snprintf(buf, NET_IP4_STRLEN, "10.%d.%d.%d", second, k / 250, k % 250 + 1);
}

/* n Services with 3 ready endpoints each, every object with a resourceVersion. */
static void
make_objects(int n, json_t **ret_svcs, json_t **ret_eps)
{
	json_t *svcs = json_array(), *eps = json_array();
	for (int i = 0; i < n; i++) {
		char name[32], vip[NET_IP4_STRLEN], e[3][NET_IP4_STRLEN];
		snprintf(name, sizeof(name), "svc-%05d", i);
		ip_of(i, vip, 96);
		const char *ips[3];
		for (int j = 0; j < 3; j++) {
			ip_of(i * 3 + j, e[j], 244);
			ips[j] = e[j];
		}
		json_t *s = obj_service("bench", name, vip, 80, 0, NULL);
		json_t *sl = obj_slice("bench", name, ips, 3, 8080);
		obj_set_rv(s, 1 + 2L * i);
		obj_set_rv(sl, 2 + 2L * i);
		json_array_append_new(svcs, s);
		json_array_append_new(eps, sl);
	}
	*ret_svcs = svcs;
	*ret_eps = eps;
}

static struct proxy *
make_proxy(void)
{
	uint32_t node = th_ip(TH_NODE_IP);
	struct proxy_config c = { .table = TABLE, .node_ips = &node, .n_node_ips = 1 };
	cidr_parse("10.244.0.0/16", &c.cluster_cidr, NULL);
	struct proxy *p = NULL;
	korch_error *err = NULL;
	if (proxy_new(&c, &p, &err) < 0)
		die("proxy", err);
	return p;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void
bench_program(int n, bool with_change)
{
	json_t *svcs, *eps;
	make_objects(n, &svcs, &eps);
	struct proxy *p = make_proxy();
	struct proxy_stats st;
	korch_error *err = NULL;
	double t = now_ms();
	if (proxy_sync(p, svcs, eps, &st, &err) < 0)
		die("program", err);
	double ms = now_ms() - t;
	printf("bench: net.program_%d_services_ms %.1f ms\n", n, ms);
	printf("bench: net.program_%d_services_bytes %zu B\n", n, st.bytes);
	fflush(stdout);
	t = now_ms();
	if (proxy_sync(p, svcs, eps, &st, &err) < 0)
		die("unchanged sync", err);
	printf("bench: net.unchanged_sync_%d_services_ms %.2f ms (%zu commands)\n", n, now_ms() - t,
	       st.commands);
	if (with_change) {
		/* One endpoint of one Service replaced, as a watch event hands it to the agent
		 * (proxy_update), and with the full lists (proxy_sync). */
		double upd[7], lst[7];
		for (int r = 0; r < 14; r++) {
			int i = n / 2 + r * 97;
			json_t *svc = json_array_get(svcs, (size_t)i);
			json_t *slice = json_array_get(eps, (size_t)i);
			char ip[NET_IP4_STRLEN];
			ip_of(r, ip, 245);
			json_t *a = json_array_get(
				json_object_get(
					json_array_get(json_object_get(slice, "endpoints"), 0),
					"addresses"),
				0);
			json_string_set(a, ip);
			obj_set_rv(slice, 1000000 + r);
			json_t *one_svc = json_pack("[O]", svc), *one_eps = json_pack("[O]", slice);
			t = now_ms();
			int rc = r < 7 ? proxy_update(p, one_svc, one_eps, NULL, 0, &st, &err)
				       : proxy_sync(p, svcs, eps, &st, &err);
			(r < 7 ? upd : lst)[r % 7] = now_ms() - t;
			json_decref(one_svc);
			json_decref(one_eps);
			if (rc < 0)
				die("endpoint change", err);
			if (st.full || st.services != 1)
				die("endpoint change was not incremental", NULL);
			if (proxy_collect_garbage(p, &err) < 0)
				die("garbage", err);
		}
		qsort(upd, 7, sizeof(double), cmp_double);
		qsort(lst, 7, sizeof(double), cmp_double);
		printf("bench: net.endpoint_change_%d_services_ms %.1f ms (proxy_update, median of 7; "
		       "min %.1f, max %.1f)\n",
		       n, upd[3], upd[0], upd[6]);
		printf("bench: net.endpoint_change_full_list_%d_services_ms %.1f ms (proxy_sync with "
		       "all objects, median of 7; min %.1f, max %.1f)\n",
		       n, lst[3], lst[0], lst[6]);
	}
	if (proxy_reset_table(TABLE, &err) < 0)
		die("reset", err);
	proxy_free(p);
	json_decref(svcs);
	json_decref(eps);
	fflush(stdout);
}

/* Requests per second that wrk measured, or -1. */
static double
wrk(const char *url, int seconds)
{
	char *out = th_capture("wrk -t2 -c16 -d%ds -H 'Connection: close' %s 2>&1", seconds, url);
	const char *p = strstr(out, "Requests/sec:");
	double rps = p ? strtod(p + 13, NULL) : -1;
	const char *errs = strstr(out, "Non-2xx");
	if (!p || errs || getenv("BENCH_VERBOSE"))
		fprintf(stderr, "bench-net: wrk %s: %s\n", url, out);
	free(out);
	return rps;
}

static void
bench_throughput(struct testhost *th)
{
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	korch_error *err = NULL;
	if (korch_clock_new_real(&clock, &err) < 0 || korch_loop_new(clock, &loop, &err) < 0)
		die("loop", err);
	struct node_net_config c = { .instance = "bench", .node_ip = TH_NODE_IP };
	struct node_net *nn = NULL;
	if (node_net_open(loop, &c, &nn, &err) < 0)
		die("node network", err);
	struct th_pod *pod = th_pod(th, "web");
	uint32_t ip = 0;
	if (node_net_pod_add(nn, "web", pod->fd, NULL, NULL, 0, &ip, &err) < 0)
		die("pod", err);
	th_httpd(th, pod, ip, "hello");
	char ipb[NET_IP4_STRLEN];
	const char *ips[] = { ip4_format(ip, ipb) };
	json_t *svcs = json_pack("[o]", obj_service("bench", "web", "10.96.0.30", 80, 0, NULL));
	json_t *eps = json_pack("[o]", obj_slice("bench", "web", ips, 1, 80));
	if (node_net_services_sync(nn, svcs, eps, NULL, &err) < 0)
		die("services", err);
	char direct_url[64];
	snprintf(direct_url, sizeof(direct_url), "http://%s/", ipb);
	/* Alternate in 7 rounds, so that the machine's noise hits both alike; medians. */
	double d[7], v[7];
	wrk(direct_url, 1); /* warm up both paths */
	wrk("http://10.96.0.30/", 1);
	for (int i = 0; i < 7; i++) {
		d[i] = wrk(direct_url, 3);
		v[i] = wrk("http://10.96.0.30/", 3);
	}
	qsort(d, 7, sizeof(double), cmp_double);
	qsort(v, 7, sizeof(double), cmp_double);
	double direct = d[3], vip = v[3];
	printf("bench: net.direct_throughput_rps %.0f req/s\n", direct);
	printf("bench: net.vip_throughput_rps %.0f req/s\n", vip);
	printf("bench: net.vip_throughput_ratio_direct %.3f x\n", direct > 0 ? vip / direct : 0);
	json_decref(svcs);
	json_decref(eps);
	node_net_close(nn);
	if (node_net_reset("bench", &err) < 0)
		die("reset", err);
	korch_loop_free(loop);
	korch_clock_free(clock);
}

int
main(int argc, char **argv)
{
	int r = th_init();
	if (r)
		return r < 0 ? 1 : 0;
	void *state = NULL;
	if (th_setup(&state) < 0) {
		fprintf(stderr, "bench-net: cannot make the test host namespace\n");
		return 1;
	}
	bool only_program = argc > 1 && strcmp(argv[1], "--program-only") == 0;
	bench_program(1000, false);
	bench_program(10000, true);
	if (!only_program)
		bench_throughput(state);
	th_teardown(&state);
	return 0;
}
