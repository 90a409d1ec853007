/*
 * The node network role before it touches any network (suite unit): its options are checked
 * with messages naming the bad one, and until the Node has a pod CIDR it opens nothing, pod
 * setup answers "network is not ready" (the agent retries) and teardown has nothing to do.
 * What it does once open runs in the netns suite (test_network.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "node-test.h"
#include "node/network.h"

static void
expect_refused(struct node_network_options *o, const char *message)
{
	struct node_network *nw = NULL;
	korch_error *err = NULL;
	assert_int_equal(node_network_start(o, &nw, &err), KORCH_EINVALID);
	assert_null(nw);
	assert_string_equal(korch_error_message(err), message);
	korch_error_free(err);
}

static void
test_options(void **state)
{
	struct nt t;
	nt_init(&t);
	struct node_network_options o = { .node_name = "node-1", .node_ip = "192.0.2.10" };
	expect_refused(&o, "node network: client and node_name are needed");
	o.client = t.client;
	o.node_name = "";
	expect_refused(&o, "node network: client and node_name are needed");
	o.node_name = "node-1";
	o.node_ip = "192.0.2.300";
	expect_refused(&o, "node network: invalid IPv4 address \"192.0.2.300\"");
	o.node_ip = "192.0.2.10";
	o.api_host = "apiserver";
	expect_refused(&o, "node network: invalid IPv4 address \"apiserver\"");
	o.api_host = "192.0.2.10";
	o.api_port = 70000;
	expect_refused(&o, "node network: invalid API port 70000");
	nt_fini(&t);
}

static void
test_not_ready_without_pod_cidr(void **state)
{
	struct nt t;
	nt_init(&t);
	static const char *const ups[] = { "192.0.2.53", NULL };
	struct node_network_options o = {
		.client = t.client,
		.node_name = "node-1",
		.node_ip = "192.0.2.10",
		.dns_upstreams = ups, /* the node's own resolv.conf is not read then */
	};
	struct node_network *nw = NULL;
	assert_int_equal(node_network_start(&o, &nw, NULL), 0);
	nt_pump(&t);
	/* No Node, so no pod CIDR: nothing is opened. */
	assert_false(node_network_ready(nw));
	assert_null(node_network_net(nw));
	assert_string_equal(node_network_cluster_dns(nw), "10.96.0.10");
	char *ip = NULL;
	korch_error *err = NULL;
	assert_int_equal(node_network_pod_ops.setup(nw, "uid-1", "default", "web", NULL,
						    "/nonexistent", &ip, &err),
			 KORCH_EBUSY);
	assert_null(ip);
	assert_string_equal(korch_error_message(err),
			    "network is not ready: node node-1 has no pod CIDR yet");
	korch_error_free(err);
	assert_int_equal(node_network_pod_ops.teardown(nw, "uid-1", "/nonexistent", NULL), 0);
	struct node_network_stats st;
	node_network_stats(nw, &st);
	assert_int_equal(st.syncs, 0);
	assert_int_equal(st.failures, 0);
	node_network_free(nw);
	nt_fini(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_not_ready_without_pod_cidr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
