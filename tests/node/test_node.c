/*
 * The node's side on the simulated runtime: the Node object (labels, capacity, allocatable,
 * conditions, nodeInfo, addresses), the Lease heartbeat with nothing else written while idle,
 * the Ready condition following the runtime, admission, memory-pressure eviction (scenario 20)
 * and usage samples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "node-test.h"

#define POD(name, extra)                                                         \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"default\"},\"spec\":{" extra "}}"

static json_t *
path(json_t *v, const char *a, const char *b, const char *c)
{
	v = json_object_get(v, a);
	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	return v;
}

static const char *
cond(json_t *node, const char *type, const char *field)
{
	size_t i;
	json_t *c;
	json_array_foreach (path(node, "status", "conditions", NULL), i, c)
		if (streq(json_string_value(json_object_get(c, "type")), type))
			return json_string_value(json_object_get(c, field));
	return NULL;
}

static void
test_node_object(void **state)
{
	struct nt *t = *state;
	static const char *const labels[] = { "node-role.kubernetes.io/control-plane=", NULL };
	t->opts.node_labels = labels;
	t->opts.eviction_memory_available_bytes = 0; /* the default: 100Mi */
	nt_start_agent(t);
	json_t *node = nt_get(t, "Node", NULL, NT_NODE);
	assert_non_null(node);
	json_t *l = path(node, "metadata", "labels", NULL);
	assert_string_equal(json_string_value(json_object_get(l, "kubernetes.io/hostname")),
			    NT_NODE);
	assert_string_equal(json_string_value(json_object_get(l, "kubernetes.io/os")), "linux");
	assert_string_equal(json_string_value(json_object_get(l, "kubernetes.io/arch")), "amd64");
	assert_string_equal(json_string_value(json_object_get(l, "beta.kubernetes.io/arch")),
			    "amd64");
	assert_string_equal(
		json_string_value(json_object_get(l, "node-role.kubernetes.io/control-plane")), "");
	assert_string_equal(json_string_value(path(node, "status", "capacity", "cpu")), "4");
	assert_string_equal(json_string_value(path(node, "status", "capacity", "memory")), "16Gi");
	assert_string_equal(json_string_value(path(node, "status", "capacity", "pods")), "110");
	assert_string_equal(
		json_string_value(path(node, "status", "capacity", "ephemeral-storage")), "100Gi");
	assert_string_equal(json_string_value(path(node, "status", "allocatable", "memory")),
			    "16284Mi");
	assert_string_equal(
		json_string_value(path(node, "status", "allocatable", "ephemeral-storage")),
		"96636764160");
	assert_string_equal(cond(node, "Ready", "status"), "True");
	assert_string_equal(cond(node, "Ready", "reason"), "KubeletReady");
	assert_string_equal(cond(node, "MemoryPressure", "status"), "False");
	assert_string_equal(cond(node, "DiskPressure", "reason"), "KubeletHasNoDiskPressure");
	assert_string_equal(cond(node, "PIDPressure", "message"),
			    "kubelet has sufficient PID available");
	assert_string_equal(json_string_value(path(node, "status", "nodeInfo", "kernelVersion")),
			    "6.1.0-sim");
	assert_string_equal(
		json_string_value(path(node, "status", "nodeInfo", "containerRuntimeVersion")),
		"sim://0.1.0");
	assert_string_equal(json_string_value(path(node, "status", "nodeInfo", "kubeletVersion")),
			    "v1.32.0+korch.0.1.0");
	json_t *addrs = path(node, "status", "addresses", NULL);
	assert_string_equal(json_string_value(json_object_get(json_array_get(addrs, 0), "type")),
			    "InternalIP");
	assert_string_equal(json_string_value(json_object_get(json_array_get(addrs, 0), "address")),
			    "192.168.1.10");
	assert_string_equal(json_string_value(json_object_get(json_array_get(addrs, 1), "type")),
			    "Hostname");
	json_decref(node);

	/* Idle: the lease is renewed every 10 s; the Node is not written. */
	long long node_rv = nt_rv(t, "Node", NULL, NT_NODE);
	json_t *lease = nt_get(t, "Lease", "kube-node-lease", NT_NODE);
	assert_string_equal(json_string_value(path(lease, "spec", "holderIdentity", NULL)),
			    NT_NODE);
	assert_int_equal(json_integer_value(path(lease, "spec", "leaseDurationSeconds", NULL)), 40);
	assert_string_equal(json_string_value(path(lease, "spec", "renewTime", NULL)),
			    "2025-11-24T16:00:00.000000Z");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(path(lease, "metadata", "ownerReferences", NULL), 0),
			"kind")),
		"Node");
	json_decref(lease);
	long long lease_rv = nt_rv(t, "Lease", "kube-node-lease", NT_NODE);
	nt_advance(t, 10);
	lease = nt_get(t, "Lease", "kube-node-lease", NT_NODE);
	assert_string_equal(json_string_value(path(lease, "spec", "renewTime", NULL)),
			    "2025-11-24T16:00:10.000000Z");
	json_decref(lease);
	long long rv_after_one = nt_rv(t, "Lease", "kube-node-lease", NT_NODE);
	assert_int_equal(rv_after_one, lease_rv + 1);
	nt_advance(t, 50);
	assert_int_equal(nt_rv(t, "Lease", "kube-node-lease", NT_NODE), rv_after_one + 5);
	assert_int_equal(nt_rv(t, "Node", NULL, NT_NODE), node_rv);

	/* The runtime goes down: Ready False at the next check; back up: True. */
	sim_set_healthy(t->sim, false);
	nt_advance(t, 10);
	node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(cond(node, "Ready", "status"), "False");
	assert_string_equal(cond(node, "Ready", "message"), "container runtime is down");
	json_decref(node);
	sim_set_healthy(t->sim, true);
	nt_advance(t, 10);
	node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(cond(node, "Ready", "status"), "True");
	json_decref(node);

	/* A restarted agent finds its Node as it left it and writes nothing. */
	node_rv = nt_rv(t, "Node", NULL, NT_NODE);
	nt_stop_agent(t);
	nt_start_agent(t);
	assert_int_equal(nt_rv(t, "Node", NULL, NT_NODE), node_rv);
}

static void
test_admission(void **state)
{
	struct nt *t = *state;
	t->opts.max_pods = 2;
	nt_start_agent(t);
	nt_create(t, POD("a", "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]"));
	nt_create(t, POD("b", "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]"));
	nt_create(t, POD("c", "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]"));
	assert_string_equal(nt_status_str(t, "c", "phase"), "Failed");
	assert_string_equal(nt_status_str(t, "c", "reason"), "OutOfpods");
	assert_string_equal(nt_status_str(t, "c", "message"),
			    "Pod was rejected: Node didn't have enough resource: pods, requested: "
			    "1, used: 2, capacity: 2");
	nt_create(t, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"big\","
		     "\"namespace\":\"other\"},\"spec\":{\"containers\":[{\"name\":\"c\","
		     "\"image\":\"busybox\",\"resources\":{\"requests\":{\"cpu\":\"5\"}}}]}}");
	json_t *big = nt_get(t, "Pod", "other", "big");
	assert_string_equal(json_string_value(path(big, "status", "reason", NULL)), "OutOfpods");
	json_decref(big);
	nt_delete(t, "a", 0);
	nt_advance(t, 3);
	nt_create(t, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"big2\","
		     "\"namespace\":\"other\"},\"spec\":{\"containers\":[{\"name\":\"c\","
		     "\"image\":\"busybox\",\"resources\":{\"requests\":{\"cpu\":\"5\"}}}]}}");
	big = nt_get(t, "Pod", "other", "big2");
	assert_string_equal(json_string_value(path(big, "status", "reason", NULL)), "OutOfcpu");
	assert_string_equal(json_string_value(path(big, "status", "message", NULL)),
			    "Pod was rejected: Node didn't have enough resource: cpu, requested: "
			    "5000, used: 0, capacity: 4000");
	json_decref(big);
	assert_int_equal(sim_count(t->sim, BACKEND_RUNNING), 1);
}

static void
test_eviction(void **state)
{
	struct nt *t = *state;
	t->opts.eviction_memory_available_bytes = 0; /* 100Mi */
	nt_start_agent(t);
	struct sim_behavior hungry = { .memory_bytes = 300 << 20 };
	struct sim_behavior modest = hungry;
	modest.memory_bytes = 50 << 20;
	assert_int_equal(sim_set_behavior(t->sim, "default/best/*", &modest, NULL), 0);
	assert_int_equal(sim_set_behavior(t->sim, "default/burst/*", &hungry, NULL), 0);
	assert_int_equal(sim_set_behavior(t->sim, "default/guar/*", &hungry, NULL), 0);
	nt_create(t, POD("best", "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]"));
	nt_create(t, POD("burst", "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\","
				  "\"resources\":{\"requests\":{\"memory\":\"100Mi\"}}}]"));
	nt_create(t,
		  POD("guar", "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\","
			      "\"resources\":{\"limits\":{\"memory\":\"400Mi\",\"cpu\":\"1\"}}}]"));
	struct backend_node_info info;
	struct node_backend_ops const *ops = t->backend->ops;
	ops->node_info(t->backend->data, &info, NULL);
	info.memory_available_bytes = 90 << 20;
	sim_set_node_info(t->sim, &info);
	/* The next check (10 s) evicts the BestEffort pod, with grace 0. */
	nt_advance(t, 10);
	assert_string_equal(nt_status_str(t, "best", "phase"), "Failed");
	assert_string_equal(nt_status_str(t, "best", "reason"), "Evicted");
	assert_string_equal(nt_status_str(t, "best", "message"),
			    "The node was low on resource: memory. Threshold quantity: 100Mi, "
			    "available: 90Mi. Container c was using 50Mi, request is 0, has larger "
			    "consumption of memory. ");
	assert_string_equal(nt_condition(t, "best", "DisruptionTarget"), "True");
	assert_string_equal(nt_status_str(t, "burst", "phase"), "Running");
	json_t *node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(cond(node, "MemoryPressure", "status"), "True");
	assert_string_equal(cond(node, "MemoryPressure", "reason"), "KubeletHasInsufficientMemory");
	json_decref(node);
	/* Still short: the Burstable pod over its request goes next; Guaranteed stays. */
	nt_advance(t, 10);
	assert_string_equal(nt_status_str(t, "burst", "reason"), "Evicted");
	assert_string_equal(nt_status_str(t, "guar", "phase"), "Running");
	/* Memory comes back: no more evictions; the condition clears after 5 minutes. */
	info.memory_available_bytes = 4LL << 30;
	sim_set_node_info(t->sim, &info);
	nt_advance(t, 60);
	assert_string_equal(nt_status_str(t, "guar", "phase"), "Running");
	node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(cond(node, "MemoryPressure", "status"), "True");
	json_decref(node);
	nt_advance(t, 250);
	node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(cond(node, "MemoryPressure", "status"), "False");
	json_decref(node);
}

static void
test_usage_samples(void **state)
{
	struct nt *t = *state;
	nt_start_agent(t);
	struct sim_behavior busy = { .cpu_milli = 250, .memory_bytes = 10 << 20 };
	assert_int_equal(sim_set_behavior(t->sim, "default/busy/*", &busy, NULL), 0);
	nt_create(t, POD("busy", "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"},"
				 "{\"name\":\"b\",\"image\":\"busybox\"}]"));
	nt_advance(t, 30);
	json_t *s = NULL;
	assert_int_equal(node_agent_pod_samples(t->agent, "default", "busy", &s, NULL), 0);
	json_t *samples = json_object_get(s, "samples");
	assert_int_equal(json_array_size(samples), 3);
	assert_true(json_is_null(json_object_get(json_array_get(samples, 0), "cpu")));
	/* Two containers at 250m each: 500,000,000 nanocores; 20 MiB. */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(samples, 2), "cpu")),
			 500000000);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(samples, 2), "memory")),
			 20 << 20);
	json_t *ca = json_array_get(json_object_get(s, "containers"), 0);
	assert_string_equal(json_string_value(json_object_get(ca, "name")), "a");
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(ca, "samples"), 1), "cpu")),
			 250000000);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(samples, 2), "timestamp")),
		"2025-11-24T16:00:30Z");
	json_decref(s);
	/* 15 minutes are kept: 91 samples at most. */
	nt_advance(t, 20 * 60);
	assert_int_equal(node_agent_pod_samples(t->agent, "default", "busy", &s, NULL), 0);
	assert_int_equal(json_array_size(json_object_get(s, "samples")), 91);
	json_decref(s);
	korch_error *err = NULL;
	assert_int_equal(node_agent_pod_samples(t->agent, "default", "nope", &s, &err),
			 KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err),
			    "pod default/nope does not run on node " NT_NODE);
	korch_error_free(err);
	assert_int_equal(node_agent_node_samples(t->agent, &s, NULL), 0);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(s, "samples"), 90), "cpu")),
			 500000000);
	json_decref(s);
}

static int
setup_init(void **state)
{
	struct nt *t_ = calloc(1, sizeof(*t_));
	nt_init(t_);
	*state = t_;
	return 0;
}

static int
teardown_fini(void **state)
{
	nt_fini(*state);
	free(*state);
	return 0;
}

static void
test_disk_pressure(void **state)
{
	struct nt *t = *state;
	nt_start_agent(t);
	struct backend_node_info info;
	t->backend->ops->node_info(t->backend->data, &info, NULL);
	info.ephemeral_available_bytes = info.ephemeral_storage_bytes / 20;
	sim_set_node_info(t->sim, &info);
	sim_event_log_clear(t->sim);
	nt_advance(t, 10);
	assert_string_equal(sim_event_log(t->sim), "10.000 image-gc\n");
	json_t *node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(cond(node, "DiskPressure", "status"), "True");
	assert_string_equal(cond(node, "DiskPressure", "reason"), "KubeletHasDiskPressure");
	json_decref(node);
	info.ephemeral_available_bytes = info.ephemeral_storage_bytes / 2;
	sim_set_node_info(t->sim, &info);
	nt_advance(t, 10);
	node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(cond(node, "DiskPressure", "status"), "False");
	json_decref(node);
}

/* --eviction-hard in the kubelet's form: amounts, percentages, 0 turns a signal off. */
static void
test_eviction_hard_parse(void **state)
{
	(void)state;
	struct node_agent_options o = { .eviction_memory_available_bytes = -1 };
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(
		node_eviction_hard_parse("memory.available<1.5%, nodefs.available<2Gi", &o, &err),
		0);
	assert_int_equal(o.eviction_memory_available_bytes, 0);
	assert_true(o.eviction_memory_available_percent == 1.5);
	assert_int_equal(o.eviction_nodefs_available_bytes, 2LL << 30);
	assert_true(o.eviction_nodefs_available_percent == 0);
	assert_int_equal(
		node_eviction_hard_parse("nodefs.available<0%,memory.available<0", &o, &err), 0);
	assert_int_equal(o.eviction_nodefs_available_bytes, -1);
	assert_int_equal(o.eviction_memory_available_bytes, -1);
	static const struct {
		const char *spec; /* given */
		int code;         /* expected */
		const char *msg;  /* expected */
	} bad[] = {
		{ "imagefs.available<15%", KORCH_EUNSUPPORTED,
		  "eviction signal \"imagefs.available\" is not supported by korch "
		  "(memory.available and nodefs.available are)" },
		{ "nodefs.available", KORCH_EINVALID,
		  "eviction threshold \"nodefs.available\": expected SIGNAL<VALUE" },
		{ "memory.available<lots", KORCH_EINVALID,
		  "eviction threshold \"memory.available<lots\": expected a quantity (100Mi) or a "
		  "percentage (10%)" },
		{ "nodefs.available<120%", KORCH_EINVALID,
		  "eviction threshold \"nodefs.available<120%\": expected a percentage from 0% to "
		  "100%" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		korch_error_free(err);
		err = NULL;
		assert_int_equal(node_eviction_hard_parse(bad[i].spec, &o, &err), bad[i].code);
		assert_string_equal(korch_error_message(err), bad[i].msg);
	}
}

/* With nodefs.available off, a full disk is no pressure and no image is collected; a memory
 * threshold as an amount comes out of allocatable. */
static void
test_eviction_hard_off(void **state)
{
	struct nt *t = *state;
	assert_int_equal(
		node_eviction_hard_parse("nodefs.available<0,memory.available<1Gi", &t->opts, NULL),
		0);
	nt_start_agent(t);
	json_t *node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(json_string_value(path(node, "status", "allocatable", "memory")),
			    "15Gi");
	assert_string_equal(
		json_string_value(path(node, "status", "allocatable", "ephemeral-storage")),
		"107374182400");
	json_decref(node);
	struct backend_node_info info;
	t->backend->ops->node_info(t->backend->data, &info, NULL);
	info.ephemeral_available_bytes = info.ephemeral_storage_bytes / 100;
	sim_set_node_info(t->sim, &info);
	sim_event_log_clear(t->sim);
	nt_advance(t, 10);
	assert_string_equal(sim_event_log(t->sim), "");
	node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(cond(node, "DiskPressure", "status"), "False");
	json_decref(node);
}

/* A threshold in bytes: 50Gi free of 100Gi is pressure under nodefs.available<60Gi. */
static void
test_eviction_hard_bytes(void **state)
{
	struct nt *t = *state;
	assert_int_equal(node_eviction_hard_parse("nodefs.available<60Gi", &t->opts, NULL), 0);
	nt_start_agent(t);
	sim_event_log_clear(t->sim);
	nt_advance(t, 10);
	assert_string_equal(sim_event_log(t->sim), "10.000 image-gc\n");
	json_t *node = nt_get(t, "Node", NULL, NT_NODE);
	assert_string_equal(cond(node, "DiskPressure", "status"), "True");
	assert_string_equal(
		json_string_value(path(node, "status", "allocatable", "ephemeral-storage")),
		"42949672960");
	json_decref(node);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_node_object, setup_init, teardown_fini),
		cmocka_unit_test_setup_teardown(test_admission, setup_init, teardown_fini),
		cmocka_unit_test_setup_teardown(test_eviction, setup_init, teardown_fini),
		cmocka_unit_test_setup_teardown(test_usage_samples, setup_init, teardown_fini),
		cmocka_unit_test_setup_teardown(test_disk_pressure, setup_init, teardown_fini),
		cmocka_unit_test(test_eviction_hard_parse),
		cmocka_unit_test_setup_teardown(test_eviction_hard_off, setup_init, teardown_fini),
		cmocka_unit_test_setup_teardown(test_eviction_hard_bytes, setup_init,
						teardown_fini),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
