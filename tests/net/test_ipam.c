/* The pod address allocator: reserved addresses, next-fit, ownership, seeding, exhaustion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "net/ipam.h"

static struct ipam *
make(const char *cidr)
{
	struct net_cidr c;
	struct ipam *p = NULL;
	assert_int_equal(cidr_parse(cidr, &c, NULL), 0);
	assert_int_equal(ipam_new(&c, &p, NULL), 0);
	return p;
}

static void
test_allocate(void **state)
{
	struct ipam *p = make("10.244.0.0/24");
	assert_int_equal(ipam_gateway(p), 0x0af40001);
	assert_int_equal(ipam_capacity(p), 253);
	uint32_t a = 0, b = 0, again = 0;
	assert_int_equal(ipam_allocate(p, "pod-a", &a, NULL), 0);
	assert_int_equal(a, 0x0af40002); /* .0 network, .1 gateway */
	assert_int_equal(ipam_allocate(p, "pod-b", &b, NULL), 0);
	assert_int_equal(b, 0x0af40003);
	assert_int_equal(ipam_allocate(p, "pod-a", &again, NULL), 0); /* idempotent */
	assert_int_equal(again, a);
	assert_string_equal(ipam_owner(p, a), "pod-a");
	assert_int_equal(ipam_used(p), 2);
	/* A released address is not reused at once (next-fit). */
	assert_int_equal(ipam_release(p, "pod-a"), 0);
	assert_int_equal(ipam_release(p, "pod-a"), KORCH_ENOTFOUND);
	assert_null(ipam_owner(p, a));
	uint32_t c = 0;
	assert_int_equal(ipam_allocate(p, "pod-c", &c, NULL), 0);
	assert_int_equal(c, 0x0af40004);
	ipam_free(p);
}

static void
test_exhaustion(void **state)
{
	struct ipam *p = make("10.244.0.0/29"); /* .2 to .6: 5 addresses */
	char key[16];
	uint32_t ip = 0, seen[8] = { 0 };
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "p%d", i);
		assert_int_equal(ipam_allocate(p, key, &ip, NULL), 0);
		assert_in_range(ip, 0x0af40002, 0x0af40006);
		assert_int_equal(seen[ip & 7], 0); /* never twice */
		seen[ip & 7] = 1;
	}
	korch_error *err = NULL;
	ip = 42;
	assert_int_equal(ipam_allocate(p, "p5", &ip, &err), KORCH_ETOOLARGE);
	assert_string_equal(korch_error_message(err),
			    "pod CIDR 10.244.0.0/29 is exhausted: all 5 addresses are in use");
	assert_int_equal(ip, 42);
	korch_error_free(err);
	/* Released, the address comes back (wrapping around). */
	assert_int_equal(ipam_release(p, "p2"), 0);
	assert_int_equal(ipam_allocate(p, "p5", &ip, NULL), 0);
	assert_int_equal(ip, 0x0af40004);
	ipam_free(p);
}

static void
test_reserve(void **state)
{
	struct ipam *p = make("10.244.1.0/24");
	korch_error *err = NULL;
	/* Seeding after a restart: these two are in use, allocation goes around them. */
	assert_int_equal(ipam_reserve(p, "old-1", 0x0af40102, NULL), 0);
	assert_int_equal(ipam_reserve(p, "old-2", 0x0af40109, NULL), 0);
	assert_int_equal(ipam_reserve(p, "old-2", 0x0af40109, NULL), 0); /* idempotent */
	assert_int_equal(ipam_reserve(p, "other", 0x0af40109, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "address 10.244.1.9 is held by old-2, not other");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(ipam_reserve(p, "old-2", 0x0af40110, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "old-2 holds 10.244.1.9 already, not 10.244.1.16");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(ipam_reserve(p, "x", 0x0af40101, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "address 10.244.1.1 is reserved (network, gateway or broadcast)");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(ipam_reserve(p, "x", 0x0af40201, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "address 10.244.2.1 is outside the pod CIDR 10.244.1.0/24");
	korch_error_free(err);
	assert_int_equal(ipam_reserve(p, "x", 0x0af401ff, NULL), KORCH_EINVALID);
	/* The next allocation goes after the highest seeded address. */
	uint32_t ip = 0;
	assert_int_equal(ipam_allocate(p, "new", &ip, NULL), 0);
	assert_int_equal(ip, 0x0af4010a);
	uint32_t held = 0;
	assert_int_equal(ipam_lookup(p, "old-1", &held), 0);
	assert_int_equal(held, 0x0af40102);
	assert_int_equal(ipam_lookup(p, "nobody", &held), KORCH_ENOTFOUND);
	ipam_free(p);
}

static void
test_bad_cidr(void **state)
{
	struct net_cidr c = { 0x0a000000, 8 };
	struct ipam *p = NULL;
	korch_error *err = NULL;
	assert_int_equal(ipam_new(&c, &p, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "pod CIDR 10.0.0.0/8: a prefix length from 16 to 30 is needed");
	assert_null(p);
	korch_error_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocate),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_bad_cidr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
