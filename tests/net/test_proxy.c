/*
 * The proxy's nftables table inside a test host (suite netns): what a full sync writes, that an
 * unchanged sync sends nothing, that an endpoint change sends only its difference (and stale
 * chains are flushed, then deleted by garbage collection), that a table removed behind korch's
 * back is rewritten, that bad input applies nothing, that other tables are never touched, and
 * reset. Traffic through the rules is tested in test_node.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "net/proxy.h"
#include "fixture.h"
#include "objects.h"

#define TABLE "korch-pt"

static struct proxy *
make_proxy(void)
{
	uint32_t node = th_ip(TH_NODE_IP);
	struct proxy_config c = { .table = TABLE, .node_ips = &node, .n_node_ips = 1 };
	assert_int_equal(cidr_parse("10.244.0.0/16", &c.cluster_cidr, NULL), 0);
	struct proxy *p = NULL;
	assert_int_equal(proxy_new(&c, &p, NULL), 0);
	return p;
}

static const char *const three[] = { "10.244.0.5", "10.244.0.6", "10.244.0.7" };

static void
objects(json_t **ret_svcs, json_t **ret_eps)
{
	json_t *svcs = json_array(), *eps = json_array();
	json_array_append_new(svcs, obj_service("shop", "web", "10.96.0.20", 80, 30080, NULL));
	json_array_append_new(eps, obj_slice("shop", "web", three, 3, 8080));
	json_array_append_new(svcs, obj_service("shop", "sticky", "10.96.0.21", 80, 0, "ClientIP"));
	json_array_append_new(eps, obj_slice("shop", "sticky", three, 1, 8080));
	json_array_append_new(svcs, obj_service("shop", "empty", "10.96.0.22", 80, 0, NULL));
	json_array_append_new(svcs, obj_service("shop", "headless", "None", 80, 0, NULL));
	json_array_append_new(eps, obj_slice("shop", "headless", three, 2, 8080));
	*ret_svcs = svcs;
	*ret_eps = eps;
}

static char *
list_chain(const char *chain)
{
	return th_capture("nft list chain inet " TABLE " %s 2>&1 | sed -n '3,/^\\t}/p' | "
			  "sed -e 's/^\\t*//' -e '/^}$/d'",
			  chain);
}

static void
expect_chain(const char *chain, const char *rules)
{
	char *got = list_chain(chain);
	assert_string_equal(got, rules);
	free(got);
}

static void
test_full_sync(void **state)
{
	struct proxy *p = make_proxy();
	json_t *svcs, *eps;
	objects(&svcs, &eps);
	struct proxy_hostport hp = { SVC_TCP, 8081, 0, th_ip("10.244.0.9"), 80 };
	assert_int_equal(proxy_set_hostports(p, "pod-9", &hp, 1, NULL), 0);
	struct proxy_stats st;
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);
	assert_true(st.full);
	assert_int_equal(st.services, 4);

	char *out = th_capture("nft list map inet " TABLE " service-ips");
	assert_non_null(strstr(out, "10.96.0.20 . tcp . 80 : goto service-shop/web/tcp/80"));
	assert_non_null(strstr(out, "10.96.0.21 . tcp . 80 : goto service-shop/sticky/tcp/80"));
	assert_null(strstr(out, "10.96.0.22")); /* no endpoints */
	free(out);
	out = th_capture("nft list map inet " TABLE " no-endpoint-services");
	assert_non_null(strstr(out, "10.96.0.22 . tcp . 80 : goto reject-chain"));
	free(out);
	out = th_capture("nft list map inet " TABLE " service-nodeports");
	assert_non_null(strstr(out, "tcp . 30080 : goto external-shop/web/tcp/80"));
	free(out);
	out = th_capture("nft list set inet " TABLE " nodeport-ips");
	assert_non_null(strstr(out, "elements = { " TH_NODE_IP " }"));
	free(out);
	expect_chain("service-shop/web/tcp/80",
		     "ip saddr != 10.244.0.0/16 fib saddr type != local jump mark-for-masquerade\n"
		     "numgen random mod 3 0 goto endpoint-shop/web/tcp/80__10.244.0.5/8080\n"
		     "numgen random mod 2 0 goto endpoint-shop/web/tcp/80__10.244.0.6/8080\n"
		     "goto endpoint-shop/web/tcp/80__10.244.0.7/8080\n");
	expect_chain("endpoint-shop/web/tcp/80__10.244.0.6/8080",
		     "ip saddr 10.244.0.6 jump mark-for-masquerade\n"
		     "meta l4proto tcp dnat ip to 10.244.0.6:8080\n");
	expect_chain("external-shop/web/tcp/80",
		     "jump mark-for-masquerade\ngoto service-shop/web/tcp/80\n");
	expect_chain("service-shop/sticky/tcp/80",
		     "ip saddr != 10.244.0.0/16 fib saddr type != local jump mark-for-masquerade\n"
		     "ip saddr @affinity-shop/sticky/tcp/80__10.244.0.5/8080 goto "
		     "endpoint-shop/sticky/tcp/80__10.244.0.5/8080\n"
		     "goto endpoint-shop/sticky/tcp/80__10.244.0.5/8080\n");
	expect_chain(
		"endpoint-shop/sticky/tcp/80__10.244.0.5/8080",
		"ip saddr 10.244.0.5 jump mark-for-masquerade\n"
		"update @affinity-shop/sticky/tcp/80__10.244.0.5/8080 { ip saddr timeout 3h }\n"
		"meta l4proto tcp dnat ip to 10.244.0.5:8080\n");
	expect_chain("hostports",
		     "ip daddr @nodeport-ips tcp dport 8081 dnat ip to 10.244.0.9:80\n");
	expect_chain("masquerading",
		     "ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 masquerade\n"
		     "meta mark & 0x00004000 == 0x00000000 return\n"
		     "meta mark set meta mark ^ 0x00004000\nmasquerade fully-random\n");
	/* Headless Services have no rules. */
	out = th_capture("nft list table inet " TABLE);
	assert_null(strstr(out, "headless"));
	free(out);
	proxy_free(p);
	json_decref(svcs);
	json_decref(eps);
}

static void
test_incremental(void **state)
{
	struct proxy *p = make_proxy();
	json_t *svcs, *eps;
	objects(&svcs, &eps);
	size_t i;
	json_t *o;
	json_array_foreach (svcs, i, o)
		obj_set_rv(o, (long)i + 1);
	json_array_foreach (eps, i, o)
		obj_set_rv(o, (long)i + 100);
	struct proxy_stats st;
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);
	assert_true(st.full);
	char *before = th_capture("nft list table inet " TABLE);

	/* Unchanged: nothing decoded again, nothing sent. */
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);
	assert_false(st.full);
	assert_int_equal(st.services, 0);
	assert_int_equal(st.commands, 0);
	assert_int_equal(st.bytes, 0);
	char *after = th_capture("nft list table inet " TABLE);
	assert_string_equal(before, after);
	free(after);

	/* One endpoint of web replaced: the new endpoint chain (1 command), the service chain
	 * rewritten (3), the old endpoint chain flushed (2). */
	json_t *slice = json_array_get(eps, 0);
	json_t *addr = json_array_get(
		json_object_get(json_array_get(json_object_get(slice, "endpoints"), 2),
				"addresses"),
		0);
	json_string_set(addr, "10.244.0.8");
	obj_set_rv(slice, 200);
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);
	assert_false(st.full);
	assert_int_equal(st.services, 1);
	/* 6, plus 4 declarations of the chains the new rules name (see note_sets()). */
	assert_int_equal(st.commands, 10);
	assert_int_equal(st.garbage, 1);
	expect_chain("service-shop/web/tcp/80",
		     "ip saddr != 10.244.0.0/16 fib saddr type != local jump mark-for-masquerade\n"
		     "numgen random mod 3 0 goto endpoint-shop/web/tcp/80__10.244.0.5/8080\n"
		     "numgen random mod 2 0 goto endpoint-shop/web/tcp/80__10.244.0.6/8080\n"
		     "goto endpoint-shop/web/tcp/80__10.244.0.8/8080\n");
	expect_chain("endpoint-shop/web/tcp/80__10.244.0.7/8080", ""); /* flushed, not deleted */
	assert_int_equal(proxy_collect_garbage(p, NULL), 1);
	assert_int_equal(th_sh("nft list chain inet " TABLE
			       " endpoint-shop/web/tcp/80__10.244.0.7/8080 2>/dev/null"),
			 1);
	assert_int_equal(proxy_collect_garbage(p, NULL), 0);

	/* The same without resourceVersions: decoded again, still nothing sent. */
	json_array_foreach (svcs, i, o)
		json_object_del(json_object_get(o, "metadata"), "resourceVersion");
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);
	assert_int_equal(st.services, 4);
	assert_int_equal(st.commands, 0);

	/* A Service removed: its map element goes, its chains are flushed. */
	json_array_remove(svcs, 1); /* sticky */
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);
	assert_false(st.full);
	char *map = th_capture("nft list map inet " TABLE " service-ips");
	assert_null(strstr(map, "10.96.0.21"));
	assert_non_null(strstr(map, "10.96.0.20"));
	free(map);
	assert_int_equal(proxy_collect_garbage(p, NULL), 3); /* 2 chains and the affinity set */
	char *table = th_capture("nft list table inet " TABLE);
	assert_null(strstr(table, "sticky"));
	free(table);
	free(before);
	proxy_free(p);
	json_decref(svcs);
	json_decref(eps);
}

static void
test_update(void **state)
{
	struct proxy *p = make_proxy();
	json_t *svcs, *eps;
	objects(&svcs, &eps);
	korch_error *err = NULL;
	struct proxy_stats st;
	assert_int_equal(proxy_update(p, svcs, eps, NULL, 0, &st, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "proxy: the first sync needs the list of Services");
	korch_error_free(err);
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);

	/* A watch event: web's slice changed. Only web is given, the rest stays. */
	static const char *const two[] = { "10.244.0.5", "10.244.0.8" };
	json_t *web = json_pack("[O]", json_array_get(svcs, 0));
	json_t *web_eps = json_pack("[o]", obj_slice("shop", "web", two, 2, 8080));
	assert_int_equal(proxy_update(p, web, web_eps, NULL, 0, &st, NULL), 0);
	assert_false(st.full);
	assert_int_equal(st.services, 1);
	expect_chain("service-shop/web/tcp/80",
		     "ip saddr != 10.244.0.0/16 fib saddr type != local jump mark-for-masquerade\n"
		     "numgen random mod 2 0 goto endpoint-shop/web/tcp/80__10.244.0.5/8080\n"
		     "goto endpoint-shop/web/tcp/80__10.244.0.8/8080\n");
	char *map = th_capture("nft list map inet " TABLE " service-ips");
	assert_non_null(strstr(map, "10.96.0.21 . tcp . 80")); /* sticky untouched */
	free(map);

	/* sticky is deleted; a key both changed and removed is refused. */
	const char *gone[] = { "shop/sticky" };
	err = NULL;
	const char *both[] = { "shop/web" };
	assert_int_equal(proxy_update(p, web, web_eps, both, 1, &st, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "service shop/web: both changed and removed");
	korch_error_free(err);
	assert_int_equal(proxy_update(p, NULL, NULL, gone, 1, &st, NULL), 0);
	map = th_capture("nft list map inet " TABLE " service-ips");
	assert_null(strstr(map, "10.96.0.21"));
	assert_non_null(strstr(map, "10.96.0.20 . tcp . 80"));
	free(map);
	/* The full list again agrees with what updates made: nothing to send but web's slice. */
	json_array_remove(svcs, 1);
	json_array_set(eps, 0, json_array_get(web_eps, 0));
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);
	assert_int_equal(st.commands, 0);
	json_decref(web);
	json_decref(web_eps);
	proxy_free(p);
	json_decref(svcs);
	json_decref(eps);
}

static void
test_drift_and_bad_input(void **state)
{
	struct proxy *p = make_proxy();
	json_t *svcs, *eps;
	objects(&svcs, &eps);
	assert_int_equal(proxy_sync(p, svcs, eps, NULL, NULL), 0);
	char *before = th_capture("nft list table inet " TABLE);

	/* Bad input: a clear error, nothing applied. */
	json_t *bad = json_deep_copy(svcs);
	json_object_set_new(json_object_get(json_array_get(bad, 0), "spec"), "clusterIP",
			    json_string("10.96.0"));
	json_array_append_new(
		json_object_get(json_object_get(json_array_get(bad, 1), "spec"), "ports"),
		json_pack("{s:i}", "port", 81));
	korch_error *err = NULL;
	struct proxy_stats st;
	assert_int_equal(proxy_sync(p, bad, eps, &st, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "service shop/web: spec.clusterIP: invalid IPv4 address \"10.96.0\"");
	korch_error_free(err);
	char *after = th_capture("nft list table inet " TABLE);
	assert_string_equal(before, after);
	free(after);
	json_decref(bad);
	/* A Service listed twice. */
	bad = json_deep_copy(svcs);
	json_array_append(bad, json_array_get(svcs, 0));
	err = NULL;
	assert_int_equal(proxy_sync(p, bad, eps, &st, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "service shop/web: listed twice");
	korch_error_free(err);
	json_decref(bad);
	/* The state is intact: the same input again sends nothing. */
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);
	assert_int_equal(st.commands, 0);

	/* Somebody deleted the table: the next change rewrites it whole. */
	assert_int_equal(th_sh("nft delete table inet " TABLE), 0);
	json_array_remove(svcs, 2);
	assert_int_equal(proxy_sync(p, svcs, eps, &st, NULL), 0);
	assert_true(st.full);
	char *map = th_capture("nft list map inet " TABLE " service-ips");
	assert_non_null(strstr(map, "10.96.0.20 . tcp . 80"));
	free(map);
	free(before);
	proxy_free(p);
	json_decref(svcs);
	json_decref(eps);
}

static void
test_other_tables_untouched(void **state)
{
	assert_int_equal(
		th_sh("nft -f - <<'EOF'\n"
		      "table inet other { chain input { type filter hook input priority 0; "
		      "tcp dport 22 accept; }; set s { type ipv4_addr; elements = { 1.2.3.4 }; }; }\n"
		      "table ip korch { chain c { counter; }; }\n"
		      "EOF"),
		0);
	char *before = th_capture("nft list table inet other; nft list table ip korch");
	struct proxy *p = make_proxy();
	json_t *svcs, *eps;
	objects(&svcs, &eps);
	assert_int_equal(proxy_sync(p, svcs, eps, NULL, NULL), 0);
	json_array_remove(svcs, 0);
	assert_int_equal(proxy_sync(p, svcs, eps, NULL, NULL), 0);
	assert_true(proxy_collect_garbage(p, NULL) > 0);
	assert_int_equal(proxy_reset_table(TABLE, NULL), 0);
	assert_int_equal(proxy_reset_table(TABLE, NULL), 0); /* idempotent */
	char *after = th_capture("nft list table inet other; nft list table ip korch");
	assert_string_equal(before, after);
	char *tables = th_capture("nft list tables");
	assert_string_equal(tables, "table inet other\ntable ip korch\n");
	free(tables);
	free(before);
	free(after);
	proxy_free(p);
	json_decref(svcs);
	json_decref(eps);
}

int
main(void)
{
	int r = th_init();
	if (r)
		return r < 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_sync, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_incremental, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_update, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_drift_and_bad_input, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_other_tables_untouched, th_setup, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
