/* A pod's resolv.conf for each dnsPolicy, with dnsConfig merged and the resolver's limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "net/resolv.h"

static const char host[] = "# written by the installer\n"
			   "nameserver 192.0.2.53\n"
			   "nameserver 192.0.2.54 ; second\n"
			   "search example.com corp.example.com.\n"
			   "options timeout:2 rotate\n";

static char *
render(const char *policy, const char *config, const char *ns, bool host_network)
{
	json_t *cfg = config ? json_loads(config, 0, NULL) : NULL;
	struct resolv_params p = {
		.namespace_ = ns,
		.dns_policy = policy,
		.dns_config = cfg,
		.host_network = host_network,
		.cluster_domain = "cluster.local",
		.cluster_dns = "10.96.0.10",
		.host_resolv = host,
	};
	char *text = NULL;
	korch_error *err = NULL;
	int r = resolv_conf_render(&p, &text, &err);
	json_decref(cfg);
	if (r < 0) {
		char *msg = strdup(korch_error_message(err));
		korch_error_free(err);
		return msg;
	}
	return text;
}

static void
check(const char *policy, const char *config, bool host_network, const char *want)
{
	char *got = render(policy, config, "shop", host_network);
	assert_string_equal(got, want);
	free(got);
}

static void
test_cluster_first(void **state)
{
	const char *want = "search shop.svc.cluster.local svc.cluster.local cluster.local "
			   "example.com corp.example.com\n"
			   "nameserver 10.96.0.10\n"
			   "options ndots:5\n";
	check(NULL, NULL, false, want); /* the default policy */
	check("ClusterFirst", NULL, false, want);
	check("ClusterFirstWithHostNet", NULL, true, want);
}

static void
test_default(void **state)
{
	const char *want = "search example.com corp.example.com\n"
			   "nameserver 192.0.2.53\n"
			   "nameserver 192.0.2.54\n"
			   "options timeout:2 rotate\n";
	check("Default", NULL, false, want);
	check("ClusterFirst", NULL, true, want); /* hostNetwork falls back to Default */
}

static void
test_none_and_config(void **state)
{
	check("None",
	      "{\"nameservers\":[\"1.1.1.1\"],\"searches\":[\"a.example\"],"
	      "\"options\":[{\"name\":\"ndots\",\"value\":\"2\"},{\"name\":\"edns0\"}]}",
	      false, "search a.example\nnameserver 1.1.1.1\noptions ndots:2 edns0\n");
	/* dnsConfig adds to ClusterFirst: no duplicates, options merged by name. */
	check("ClusterFirst",
	      "{\"nameservers\":[\"10.96.0.10\",\"9.9.9.9\"],\"searches\":[\"cluster.local\","
	      "\"x.example\"],\"options\":[{\"name\":\"ndots\",\"value\":\"1\"}]}",
	      false,
	      "search shop.svc.cluster.local svc.cluster.local cluster.local example.com "
	      "corp.example.com x.example\n"
	      "nameserver 10.96.0.10\nnameserver 9.9.9.9\noptions ndots:1\n");
	/* At most three nameservers. */
	check("None", "{\"nameservers\":[\"1.1.1.1\",\"2.2.2.2\",\"3.3.3.3\",\"4.4.4.4\"]}", false,
	      "nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n");
}

static void
test_errors(void **state)
{
	check("Sometimes", NULL, false,
	      "spec.dnsPolicy: Unsupported value: \"Sometimes\": supported values: "
	      "\"ClusterFirst\", \"ClusterFirstWithHostNet\", \"Default\", \"None\"");
	check("None", NULL, false,
	      "spec.dnsConfig: Required value: must provide at least one DNS nameserver when DNS "
	      "policy is None");
	check("None", "{\"nameservers\":[\"1.1.1.1\"],\"searches\":\"x\"}", false,
	      "spec.dnsConfig.searches: must be a list of strings");
	check("ClusterFirst", "{\"options\":[{\"value\":\"1\"}]}", false,
	      "spec.dnsConfig.options[0].name: Required value");
}

static void
test_search_limits(void **state)
{
	/* 40 search domains: cut to 32 in all. */
	char cfg[4096] = "{\"nameservers\":[\"1.1.1.1\"],\"searches\":[";
	for (int i = 0; i < 40; i++)
		snprintf(cfg + strlen(cfg), sizeof(cfg) - strlen(cfg), "%s\"d%d.example\"",
			 i ? "," : "", i);
	strcat(cfg, "]}");
	char *got = render("None", cfg, "shop", false);
	int words = 0;
	for (char *p = got; *p && *p != '\n'; p++)
		words += *p == ' ';
	assert_int_equal(words, 32);
	assert_non_null(strstr(got, " d31.example\n"));
	assert_null(strstr(got, "d32.example"));
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cluster_first),   cmocka_unit_test(test_default),
		cmocka_unit_test(test_none_and_config), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_search_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
