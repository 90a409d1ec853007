/*
 * Decoding Services with EndpointSlices and Endpoints (readiness, terminating endpoints, port
 * matching, errors, fingerprints), and the DNS records built from them and from Pods.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "net/dns_internal.h"
#include "net/svc.h"

static json_t *
J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("bad JSON in test: %s", je.text);
	return j;
}

static const char web_svc[] =
	"{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
	"\"resourceVersion\":\"7\"},\"spec\":{\"clusterIP\":\"10.96.0.20\",\"type\":\"NodePort\","
	"\"sessionAffinity\":\"ClientIP\",\"externalIPs\":[\"203.0.113.9\"],"
	"\"ports\":[{\"name\":\"http\",\"port\":80,\"nodePort\":30080},"
	"{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}";

static const char web_slices[] =
	"[{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"web-a\",\"namespace\":\"shop\","
	"\"resourceVersion\":\"11\",\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
	"\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":8080},"
	"{\"name\":\"dns\",\"port\":5353,\"protocol\":\"UDP\"}],\"endpoints\":["
	"{\"addresses\":[\"10.244.0.9\"],\"hostname\":\"web-1\"},"
	"{\"addresses\":[\"10.244.0.5\"],\"conditions\":{\"ready\":true}},"
	"{\"addresses\":[\"10.244.0.6\"],\"conditions\":{\"ready\":false}},"
	"{\"addresses\":[\"10.244.0.7\"],\"conditions\":{\"ready\":true,\"terminating\":true}}]},"
	"{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"web-v6\",\"namespace\":\"shop\","
	"\"labels\":{\"kubernetes.io/service-name\":\"web\"}},\"addressType\":\"IPv6\","
	"\"endpoints\":[{\"addresses\":[\"fd00::1\"]}]},"
	"{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"db\",\"namespace\":\"shop\"},"
	"\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.0.30\",\"hostname\":\"db-0\"}],"
	"\"notReadyAddresses\":[{\"ip\":\"10.244.0.31\"}],"
	"\"ports\":[{\"name\":\"pg\",\"port\":5432}]}]}]";

static void
test_decode_slices(void **state)
{
	json_t *svc = J(web_svc), *eps = J(web_slices);
	struct hashmap index;
	assert_int_equal(svc_index_endpoints(eps, &index, NULL), 0);
	const struct ptrvec *v = hashmap_get(&index, "shop/web");
	assert_non_null(v);
	assert_int_equal(v->n, 1); /* the IPv6 slice is left out */
	struct svc s;
	assert_int_equal(svc_decode(svc, v, &s, NULL), 0);
	assert_string_equal(s.ns, "shop");
	assert_string_equal(s.name, "web");
	assert_int_equal(s.cluster_ip, 0x0a600014);
	assert_int_equal(s.affinity_timeout_s, 10800);
	assert_int_equal(s.n_external_ips, 1);
	assert_int_equal(s.n_ports, 2);
	assert_int_equal(s.ports[0].node_port, 30080);
	assert_int_equal(s.ports[1].proto, SVC_UDP);
	/* Ready ones only, sorted by address: .5 and .9 (.6 unready, .7 terminating). */
	assert_int_equal(s.n_eps, 2);
	assert_int_equal(s.eps[0].ip, 0x0af40005);
	assert_int_equal(s.eps[1].ip, 0x0af40009);
	assert_string_equal(s.eps[1].hostname, "web-1");
	assert_int_equal(s.eps[1].n_ports, 2);
	assert_string_equal(s.eps[1].ports[1].name, "dns");
	assert_int_equal(s.eps[1].ports[1].port, 5353);
	svc_clear(&s);

	struct strbuf fp = STRBUF_INIT;
	assert_true(svc_fingerprint(svc, v, &fp));
	assert_string_equal(strbuf_str(&fp), "7|web-a:11");
	/* The Endpoints object is indexed under its own name. */
	v = hashmap_get(&index, "shop/db");
	assert_non_null(v);
	json_t *db =
		J("{\"metadata\":{\"name\":\"db\",\"namespace\":\"shop\"},"
		  "\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"name\":\"pg\",\"port\":5432}]}}");
	assert_int_equal(svc_decode(db, v, &s, NULL), 0);
	assert_true(s.headless);
	assert_int_equal(s.n_eps, 1); /* notReadyAddresses left out */
	assert_string_equal(s.eps[0].hostname, "db-0");
	assert_false(svc_fingerprint(db, v, &fp)); /* no resourceVersion */
	strbuf_free(&fp);
	svc_clear(&s);
	svc_index_free(&index);
	json_decref(db);
	json_decref(svc);
	json_decref(eps);
}

static void
expect_error(const char *service, const char *msg)
{
	json_t *svc = J(service);
	struct svc s;
	korch_error *err = NULL;
	assert_int_equal(svc_decode(svc, NULL, &s, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), msg);
	korch_error_free(err);
	json_decref(svc);
}

static void
test_decode_errors(void **state)
{
	expect_error("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"ports\":"
		     "[{\"port\":0}]}}",
		     "service n/a: spec.ports[0].port: must be from 1 to 65535");
	expect_error("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"ports\":"
		     "[{\"port\":80,\"protocol\":\"ICMP\"}]}}",
		     "service n/a: spec.ports[0].protocol: Unsupported value: supported values: "
		     "\"SCTP\", \"TCP\", \"UDP\"");
	expect_error("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"clusterIP\":"
		     "\"10.96.0\"}}",
		     "service n/a: spec.clusterIP: invalid IPv4 address \"10.96.0\"");
	expect_error("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":"
		     "{\"sessionAffinity\":\"Cookie\"}}",
		     "service n/a: spec.sessionAffinity: Unsupported value: \"Cookie\": supported "
		     "values: \"ClientIP\", \"None\"");
	expect_error("{\"metadata\":{}}", "service: metadata.name: Required value");
	json_t *eps = J("[{\"kind\":\"Pod\"}]");
	struct hashmap index;
	korch_error *err = NULL;
	assert_int_equal(svc_index_endpoints(eps, &index, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "endpoints[0]: kind \"Pod\" is neither EndpointSlice nor Endpoints");
	korch_error_free(err);
	json_decref(eps);
}

/* The records of name as "TYPE rdata" lines, or NULL when the name does not exist. */
static char *
records_of(const struct dns_records *r, const char *name)
{
	const struct dns_name *n = dns_records_lookup(r, name);
	if (!n)
		return NULL;
	size_t len = 0;
	char *out = calloc(1, 4096);
	for (size_t i = 0; i < n->rrs.n; i++) {
		ldns_rr *rr = n->rrs.items[i];
		char *t = ldns_rr_type2str(ldns_rr_get_type(rr));
		len += (size_t)snprintf(out + len, 4096 - len, "%s%s", len ? "|" : "", t);
		free(t);
		for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
			char *d = ldns_rdf2str(ldns_rr_rdf(rr, k));
			len += (size_t)snprintf(out + len, 4096 - len, " %s", d);
			free(d);
		}
	}
	return out;
}

static void
expect_records(const struct dns_records *r, const char *name, const char *want)
{
	char *got = records_of(r, name);
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got ? got : "<missing>", want);
	free(got);
}

static void
test_dns_records(void **state)
{
	json_t *svcs = json_array();
	json_array_append_new(svcs, J(web_svc));
	json_array_append_new(svcs, J("{\"metadata\":{\"name\":\"db\",\"namespace\":\"shop\"},"
				      "\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"name\":"
				      "\"pg\",\"port\":5432}]}}"));
	json_array_append_new(svcs, J("{\"metadata\":{\"name\":\"ext\",\"namespace\":\"shop\"},"
				      "\"spec\":{\"type\":\"ExternalName\",\"externalName\":"
				      "\"db.example.com\"}}"));
	json_t *eps = J(web_slices);
	json_t *pods = J("[{\"metadata\":{\"name\":\"p\",\"namespace\":\"shop\"},\"status\":"
			 "{\"phase\":\"Running\",\"podIP\":\"10.244.0.5\"}},"
			 "{\"metadata\":{\"name\":\"q\",\"namespace\":\"shop\"},\"status\":"
			 "{\"phase\":\"Succeeded\",\"podIP\":\"10.244.0.8\"}}]");
	struct dns_records *r = NULL;
	assert_int_equal(dns_records_build("Cluster.Local", svcs, eps, pods, &r, NULL), 0);
	expect_records(r, "web.shop.svc.cluster.local.", "A 10.96.0.20");
	expect_records(r, "_http._tcp.web.shop.svc.cluster.local.",
		       "SRV 0 100 80 web.shop.svc.cluster.local.");
	expect_records(r, "_dns._udp.web.shop.svc.cluster.local.",
		       "SRV 0 100 53 web.shop.svc.cluster.local.");
	expect_records(r, "db.shop.svc.cluster.local.", "A 10.244.0.30");
	expect_records(r, "db-0.db.shop.svc.cluster.local.", "A 10.244.0.30");
	expect_records(r, "10-244-0-30.db.shop.svc.cluster.local.", "A 10.244.0.30");
	expect_records(r, "_pg._tcp.db.shop.svc.cluster.local.",
		       "SRV 0 100 5432 db-0.db.shop.svc.cluster.local.");
	expect_records(r, "ext.shop.svc.cluster.local.", "CNAME db.example.com.");
	expect_records(r, "10-244-0-5.shop.pod.cluster.local.", "A 10.244.0.5");
	expect_records(r, "10-244-0-8.shop.pod.cluster.local.", NULL); /* Succeeded */
	/* Empty non-terminals exist (NODATA), unknown names do not (NXDOMAIN). */
	expect_records(r, "shop.svc.cluster.local.", "");
	expect_records(r, "svc.cluster.local.", "");
	expect_records(r, "cluster.local.", "");
	expect_records(r, "nope.shop.svc.cluster.local.", NULL);
	assert_int_equal(dns_records_count(r), 9);
	dns_records_free(r);
	json_decref(svcs);
	json_decref(eps);
	json_decref(pods);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_slices),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_dns_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
