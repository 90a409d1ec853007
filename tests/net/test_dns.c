/*
 * The DNS responder inside a test host (suite netns), queried by a client process over UDP and
 * TCP while the korch loop runs it: A for a Service, one A per endpoint of a headless Service,
 * SRV, StatefulSet pod names, pod names, NXDOMAIN and NODATA, records replaced at once, and
 * names outside the cluster relayed to a fake upstream resolver run inside the test host (never
 * the machine's), with failover and SERVFAIL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "base/loop.h"
#include "net/dns.h"
#include "fixture.h"
#include "objects.h"

#define UPSTREAM "127.0.0.2"

/* The fake upstream: example.org is 203.0.113.7, drop.example is never answered, the rest is
 * NXDOMAIN. */
static void
fake_upstream(int fd)
{
	for (;;) {
		uint8_t buf[4096];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		ldns_pkt *q = NULL;
		if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t)n) != LDNS_STATUS_OK)
			continue;
		char *name = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(q), 0)));
		if (strcmp(name, "drop.example.") != 0) {
			ldns_pkt *r = ldns_pkt_new();
			ldns_pkt_set_id(r, ldns_pkt_id(q));
			ldns_pkt_set_qr(r, true);
			ldns_pkt_set_rd(r, ldns_pkt_rd(q));
			ldns_pkt_set_ra(r, true);
			ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION,
					 ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0)));
			if (strcmp(name, "example.org.") == 0) {
				ldns_rr *a = NULL;
				ldns_rr_new_frm_str(&a, "example.org. 60 IN A 203.0.113.7", 0, NULL,
						    NULL);
				ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, a);
			} else {
				ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
			}
			uint8_t *wire = NULL;
			size_t len = 0;
			ldns_pkt2wire(&wire, r, &len);
			sendto(fd, wire, len, 0, (struct sockaddr *)&from, flen);
			free(wire);
			ldns_pkt_free(r);
		}
		free(name);
		ldns_pkt_free(q);
	}
}

static void
start_upstream(struct testhost *th)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
	inet_pton(AF_INET, UPSTREAM, &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fake_upstream(fd);
		_exit(0);
	}
	close(fd);
	th->procs[th->n_procs++] = pid;
}

struct env {
	korch_clock *clock;        /* real clock */
	korch_loop *loop;          /* the responder's loop */
	struct dns_server *server; /* the responder on 127.0.0.1:53 */
};

static void
env_open(struct env *e)
{
	assert_int_equal(korch_clock_new_real(&e->clock, NULL), 0);
	assert_int_equal(korch_loop_new(e->clock, &e->loop, NULL), 0);
	/* The first resolver refuses (nothing listens there), the second answers. */
	struct dns_upstream ups[] = { { th_ip("127.0.0.3"), 53 }, { th_ip(UPSTREAM), 53 } };
	struct dns_server_config c = { .listen_ip = th_ip("127.0.0.1"),
				       .port = 53,
				       .cluster_domain = "cluster.local",
				       .upstreams = ups,
				       .n_upstreams = 2,
				       .timeout_ms = 300 };
	assert_int_equal(dns_server_new(e->loop, &c, &e->server, NULL), 0);
}

static void
env_close(struct env *e)
{
	dns_server_free(e->server);
	korch_loop_free(e->loop);
	korch_clock_free(e->clock);
}

static struct dns_records *
records(void)
{
	json_t *svcs = json_array(), *eps = json_array(), *pods;
	json_array_append_new(svcs, obj_service("shop", "web", "10.96.0.20", 80, 0, NULL));
	json_array_append_new(svcs, obj_service("shop", "db", "None", 5432, 0, NULL));
	static const char *const db_ips[] = { "10.244.0.31", "10.244.0.30" };
	json_t *slice = obj_slice("shop", "db", db_ips, 2, 5432);
	json_object_set_new(json_array_get(json_object_get(slice, "endpoints"), 1), "hostname",
			    json_string("db-0"));
	json_array_append_new(eps, slice);
	pods = json_pack("[{s:{s:s, s:s}, s:{s:s, s:s}}]", "metadata", "name", "p", "namespace",
			 "shop", "status", "phase", "Running", "podIP", "10.244.0.5");
	struct dns_records *r = NULL;
	assert_int_equal(dns_records_build("cluster.local", svcs, eps, pods, &r, NULL), 0);
	json_decref(svcs);
	json_decref(eps);
	json_decref(pods);
	return r;
}

static void
ask(struct env *e, const char *name, const char *type, bool tcp, const char *want)
{
	char *got = th_dns_query(e->loop, -1, th_ip("127.0.0.1"), 53, name, type, tcp);
	assert_string_equal(got, want);
	free(got);
}

static void
test_cluster_names(void **state)
{
	struct env e;
	env_open(&e);
	/* Before any records: the domain exists, the names do not. */
	ask(&e, "web.shop.svc.cluster.local", "A", false, "rcode=NXDOMAIN aa id=ok\n");
	dns_server_set_records(e.server, records());
	ask(&e, "web.shop.svc.cluster.local", "A", false, "rcode=NOERROR aa id=ok\nA 10.96.0.20\n");
	ask(&e, "WEB.Shop.SVC.cluster.local.", "A", false,
	    "rcode=NOERROR aa id=ok\nA 10.96.0.20\n");
	ask(&e, "web.shop.svc.cluster.local", "A", true, "rcode=NOERROR aa id=ok\nA 10.96.0.20\n");
	ask(&e, "_http._tcp.web.shop.svc.cluster.local", "SRV", false,
	    "rcode=NOERROR aa id=ok\nSRV 0 100 80 web.shop.svc.cluster.local.\n");
	ask(&e, "db.shop.svc.cluster.local", "A", false,
	    "rcode=NOERROR aa id=ok\nA 10.244.0.30\nA 10.244.0.31\n");
	ask(&e, "_http._tcp.db.shop.svc.cluster.local", "SRV", true,
	    "rcode=NOERROR aa id=ok\nSRV 0 50 5432 db-0.db.shop.svc.cluster.local.\n"
	    "SRV 0 50 5432 10-244-0-31.db.shop.svc.cluster.local.\n");
	ask(&e, "db-0.db.shop.svc.cluster.local", "A", false,
	    "rcode=NOERROR aa id=ok\nA 10.244.0.30\n");
	ask(&e, "10-244-0-5.shop.pod.cluster.local", "A", false,
	    "rcode=NOERROR aa id=ok\nA 10.244.0.5\n");
	ask(&e, "10-244-0-6.shop.pod.cluster.local", "A", false, "rcode=NXDOMAIN aa id=ok\n");
	ask(&e, "nope.shop.svc.cluster.local", "A", false, "rcode=NXDOMAIN aa id=ok\n");
	ask(&e, "web.shop.svc.cluster.local", "AAAA", false, "rcode=NOERROR aa id=ok\n");
	ask(&e, "shop.svc.cluster.local", "A", false, "rcode=NOERROR aa id=ok\n");

	/* New records take effect at once. */
	struct dns_records *r = NULL;
	json_t *svcs = json_pack("[o]", obj_service("shop", "web", "10.96.0.99", 80, 0, NULL));
	assert_int_equal(dns_records_build("cluster.local", svcs, NULL, NULL, &r, NULL), 0);
	json_decref(svcs);
	dns_server_set_records(e.server, r);
	ask(&e, "web.shop.svc.cluster.local", "A", false, "rcode=NOERROR aa id=ok\nA 10.96.0.99\n");
	ask(&e, "db.shop.svc.cluster.local", "A", false, "rcode=NXDOMAIN aa id=ok\n");
	env_close(&e);
}

static void
test_forwarding(void **state)
{
	struct testhost *th = *state;
	start_upstream(th);
	struct env e;
	env_open(&e);
	ask(&e, "example.org", "A", false, "rcode=NOERROR id=ok\nA 203.0.113.7\n");
	ask(&e, "example.org", "A", true, "rcode=NOERROR id=ok\nA 203.0.113.7\n");
	ask(&e, "missing.example.org", "A", false, "rcode=NXDOMAIN id=ok\n");
	/* Nobody answers: SERVFAIL once both resolvers had their turn. */
	ask(&e, "drop.example", "A", false, "rcode=SERVFAIL id=ok\n");
	env_close(&e);
}

static void
test_bind_error(void **state)
{
	struct env e;
	env_open(&e);
	korch_loop *loop = e.loop;
	struct dns_server *second = NULL;
	struct dns_server_config c = { .listen_ip = th_ip("127.0.0.1"), .port = 53 };
	korch_error *err = NULL;
	assert_int_equal(dns_server_new(loop, &c, &second, &err), KORCH_ESYSTEM);
	assert_string_equal(korch_error_message(err),
			    "dns: bind udp 127.0.0.1:53: Address already in use");
	assert_null(second);
	korch_error_free(err);
	env_close(&e);
}

int
main(void)
{
	int r = th_init();
	if (r)
		return r < 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_names, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_forwarding, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_bind_error, th_setup, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
