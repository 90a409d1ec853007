/*
 * Links through libnl inside a test host (suite netns): the bridge made and adopted
 * idempotently, a foreign link of the same name refused, a veth pair into a pod's namespace with
 * the pod side configured (/32, onlink default route, lo up, MTU), listing by alias, deletion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "net/addr.h"
#include "net/link.h"
#include "fixture.h"

static void
test_bridge(void **state)
{
	struct nl_sock *nl = NULL;
	assert_int_equal(link_socket_open(-1, &nl, NULL), 0);
	int idx = 0, idx2 = 0;
	assert_int_equal(link_bridge_ensure(nl, "kbt0", "korch/t bridge", th_ip("10.244.0.1"), 24,
					    1400, &idx, NULL),
			 0);
	assert_true(idx > 0);
	assert_int_equal(link_bridge_ensure(nl, "kbt0", "korch/t bridge", th_ip("10.244.0.1"), 24,
					    1400, &idx2, NULL),
			 0);
	assert_int_equal(idx2, idx);
	char *out = th_capture("ip -4 -o addr show dev kbt0 | awk '{print $4}'");
	assert_string_equal(out, "10.244.0.1/24\n");
	free(out);
	out = th_capture("ip -o -d link show kbt0");
	assert_non_null(strstr(out, "<BROADCAST,MULTICAST,UP"));
	assert_non_null(strstr(out, " mtu 1400 "));
	assert_non_null(strstr(out, "alias korch/t bridge"));
	assert_non_null(strstr(out, "bridge forward_delay"));
	free(out);

	/* Somebody else's link under our name is neither adopted nor deleted. */
	assert_int_equal(th_sh("ip link add name kbu0 type veth peer name kbu0p"), 0);
	korch_error *err = NULL;
	assert_int_equal(link_bridge_ensure(nl, "kbu0", "korch/u bridge", th_ip("10.244.1.1"), 24,
					    1500, &idx, &err),
			 KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "link kbu0 exists and is not korch's (alias \"\")");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(link_delete_owned(nl, "kbu0", "korch/u bridge", NULL, &err),
			 KORCH_ECONFLICT);
	korch_error_free(err);
	assert_int_equal(th_sh("ip link show kbu0 >/dev/null"), 0);
	out = th_capture("ip -4 -o addr show dev kbu0");
	assert_string_equal(out, ""); /* no address was added to it */
	free(out);

	assert_int_equal(link_delete_owned(nl, "kbt0", "korch/t bridge", NULL, NULL), 0);
	assert_int_equal(link_delete_owned(nl, "kbt0", "korch/t bridge", NULL, NULL), 0);
	assert_int_not_equal(th_sh("ip link show kbt0 2>/dev/null"), 0);
	link_socket_close(nl);
}

static int
count_alias(const char *name, const char *alias, int ifindex, void *userdata)
{
	(*(int *)userdata)++;
	return 0;
}

static void
test_veth(void **state)
{
	struct testhost *th = *state;
	struct th_pod *pod = th_pod(th, "a");
	struct nl_sock *nl = NULL;
	assert_int_equal(link_socket_open(-1, &nl, NULL), 0);
	int br = 0;
	assert_int_equal(link_bridge_ensure(nl, "kbt0", "korch/t bridge", th_ip("10.244.0.1"), 24,
					    1400, &br, NULL),
			 0);
	const char *alias = "korch/t pod=a ip=10.244.0.2";
	assert_int_equal(link_veth_create(nl, "kv0000000000a1", alias, br, pod->fd, 1400, NULL), 0);
	korch_error *err = NULL;
	assert_int_equal(link_veth_create(nl, "kv0000000000a1", alias, br, pod->fd, 1400, &err),
			 KORCH_EEXISTS);
	assert_non_null(strstr(korch_error_message(err), "create veth kv0000000000a1: "));
	korch_error_free(err);
	assert_int_equal(
		link_pod_configure(pod->fd, th_ip("10.244.0.2"), th_ip("10.244.0.1"), NULL), 0);
	assert_int_equal(
		link_pod_configure(pod->fd, th_ip("10.244.0.2"), th_ip("10.244.0.1"), NULL),
		0); /* idempotent */

	struct link_info info;
	assert_int_equal(link_find(nl, "kv0000000000a1", &info, NULL), 0);
	assert_int_equal(info.master, br);
	assert_true(info.up);
	assert_int_equal(info.mtu, 1400);
	assert_string_equal(info.alias, alias);
	free(info.alias);

	char *out = th_capture("nsenter --net=%s ip -4 -o addr show dev eth0 | awk '{print $4}'",
			       pod->path);
	assert_string_equal(out, "10.244.0.2/32\n");
	free(out);
	out = th_capture("nsenter --net=%s ip route", pod->path);
	assert_string_equal(out, "default via 10.244.0.1 dev eth0 onlink \n");
	free(out);
	out = th_capture("nsenter --net=%s ip -o link show", pod->path);
	assert_non_null(strstr(out, "lo: <LOOPBACK,UP,LOWER_UP>"));
	assert_non_null(strstr(out, "eth0@if"));
	assert_non_null(strstr(out, " mtu 1400 "));
	free(out);
	out = th_capture("nsenter --net=%s cat /proc/sys/net/ipv4/conf/eth0/accept_redirects",
			 pod->path);
	assert_string_equal(out, "0\n");
	free(out);
	/* The node reaches the pod. */
	assert_int_equal(th_sh("busybox ping -c1 -W2 10.244.0.2 >/dev/null"), 0);

	int n = 0;
	assert_int_equal(link_foreach_alias(nl, "korch/t pod=", count_alias, &n, NULL), 0);
	assert_int_equal(n, 1);
	/* Deleting the host end removes the pair: eth0 is gone from the pod. */
	assert_int_equal(link_delete_owned(nl, "kv0000000000a1", NULL, "korch/t pod=a ip=", NULL),
			 0);
	out = th_capture("nsenter --net=%s ip -o link show", pod->path);
	assert_null(strstr(out, "eth0"));
	free(out);
	assert_int_equal(link_delete_owned(nl, "kbt0", "korch/t bridge", NULL, NULL), 0);
	link_socket_close(nl);
}

int
main(void)
{
	int r = th_init();
	if (r)
		return r < 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bridge, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_veth, th_setup, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
