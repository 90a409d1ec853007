/* Address and CIDR parsing, and the naming rule for bridges, veths, tables and aliases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "net/addr.h"

static void
test_ip4(void **state)
{
	uint32_t ip = 0;
	char buf[NET_IP4_STRLEN];
	assert_int_equal(ip4_parse("10.244.0.5", &ip, NULL), 0);
	assert_int_equal(ip, 0x0af40005);
	assert_string_equal(ip4_format(ip, buf), "10.244.0.5");
	korch_error *err = NULL;
	assert_int_equal(ip4_parse("10.244.0", &ip, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "invalid IPv4 address \"10.244.0\"");
	korch_error_free(err);
	assert_int_equal(ip4_parse("10.244.0.256", &ip, NULL), KORCH_EINVALID);
	assert_int_equal(ip, 0x0af40005); /* untouched on failure */
}

static void
test_cidr(void **state)
{
	struct net_cidr c;
	char buf[20];
	assert_int_equal(cidr_parse("10.244.0.0/24", &c, NULL), 0);
	assert_int_equal(c.base, 0x0af40000);
	assert_int_equal(c.prefix, 24);
	assert_int_equal(cidr_last(&c), 0x0af400ff);
	assert_true(cidr_contains(&c, 0x0af40063));
	assert_false(cidr_contains(&c, 0x0af40100));
	assert_string_equal(cidr_format(&c, buf), "10.244.0.0/24");
	assert_int_equal(cidr_parse("0.0.0.0/0", &c, NULL), 0);
	assert_int_equal(cidr_mask(&c), 0);

	static const struct {
		const char *text; /* input */
		const char *msg;  /* the exact message */
	} bad[] = {
		{ "10.244.0.1/24", "invalid CIDR \"10.244.0.1/24\": host bits set (the network "
				   "address is needed)" },
		{ "10.244.0.0/33", "invalid CIDR \"10.244.0.0/33\": bad prefix length" },
		{ "10.244.0.0/024", "invalid CIDR \"10.244.0.0/024\": bad prefix length" },
		{ "10.244.0.0/-1", "invalid CIDR \"10.244.0.0/-1\": bad prefix length" },
		{ "10.244.0.0", "invalid CIDR \"10.244.0.0\": expected A.B.C.D/N" },
		{ "10.244.0/16", "invalid CIDR \"10.244.0/16\": bad address" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		korch_error *err = NULL;
		assert_int_equal(cidr_parse(bad[i].text, &c, &err), KORCH_EINVALID);
		assert_string_equal(korch_error_message(err), bad[i].msg);
		korch_error_free(err);
	}
}

static void
test_names(void **state)
{
	char b[NET_IFNAME_MAX], v1[NET_IFNAME_MAX], v2[NET_IFNAME_MAX], v3[NET_IFNAME_MAX];
	net_bridge_name("korch", b);
	assert_string_equal(b, "korch0");
	net_bridge_name("test1", b);
	assert_string_equal(b, "kbtest10");
	net_bridge_name("abcdefghijkl", b); /* 12 bytes: still fits */
	assert_string_equal(b, "kbabcdefghijkl0");
	net_bridge_name("abcdefghijklm", b); /* 13 bytes: hashed */
	assert_int_equal(strlen(b), 15);
	assert_memory_equal(b, "kbabcd", 6);
	assert_int_equal(b[14], '0');
	char b2[NET_IFNAME_MAX];
	net_bridge_name("abcdefghijklx", b2);
	assert_string_not_equal(b, b2); /* same prefix, other instance */

	net_veth_name("korch", "default/web-1", v1);
	net_veth_name("korch", "default/web-2", v2);
	net_veth_name("other", "default/web-1", v3);
	assert_int_equal(strlen(v1), 14);
	assert_memory_equal(v1, "kv", 2);
	assert_string_not_equal(v1, v2);
	assert_string_not_equal(v1, v3);
	assert_memory_not_equal(v1, v3, 6); /* the instance part differs */

	char *t = net_table_name("korch");
	assert_string_equal(t, "korch");
	free(t);
	t = net_table_name("test1");
	assert_string_equal(t, "korch-test1");
	free(t);
}

static void
test_aliases(void **state)
{
	char *a = net_veth_alias("korch", "uid-1234", 0x0af40007);
	assert_string_equal(a, "korch/korch pod=uid-1234 ip=10.244.0.7");
	char *key = NULL;
	uint32_t ip = 0;
	assert_int_equal(net_veth_alias_parse("korch", a, &key, &ip), 0);
	assert_string_equal(key, "uid-1234");
	assert_int_equal(ip, 0x0af40007);
	free(key);
	key = NULL;
	/* Another instance's alias, a bridge alias, garbage: not ours. */
	assert_int_equal(net_veth_alias_parse("korc", a, &key, &ip), KORCH_ENOTFOUND);
	assert_int_equal(net_veth_alias_parse("korch", "korch/korch bridge", &key, &ip),
			 KORCH_ENOTFOUND);
	assert_int_equal(net_veth_alias_parse("korch", "korch/korch pod=x ip=1.2.3", &key, &ip),
			 KORCH_ENOTFOUND);
	assert_null(key);
	free(a);
	a = net_bridge_alias("test1");
	assert_string_equal(a, "korch/test1 bridge");
	free(a);
}

static void
test_checks(void **state)
{
	korch_error *err = NULL;
	assert_int_equal(net_instance_check("korch", NULL), 0);
	assert_int_equal(net_instance_check("Korch", &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "invalid instance name \"Korch\": a DNS-1123 label of at most 32 "
			    "characters is needed");
	korch_error_free(err);
	assert_int_equal(net_instance_check("a23456789012345678901234567890123", NULL),
			 KORCH_EINVALID);
	assert_int_equal(net_pod_key_check("default/web-0:9f3c", NULL), 0);
	err = NULL;
	assert_int_equal(net_pod_key_check("a b", &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "invalid pod key \"a b\": only letters, digits and ._/:- are allowed");
	korch_error_free(err);
	assert_int_equal(net_pod_key_check("", NULL), KORCH_EINVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip4),    cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_names),  cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
