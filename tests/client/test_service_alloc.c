/*
 * lib/client: Service cluster IP and node port allocation in the write path (records in the
 * same transaction as the Service), and the Namespace lifecycle (the "kubernetes" finalizer,
 * Terminating, /finalize).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/loop.h"
#include "client/client.h"
#include "test-util.h"

/* 2026-11-26T15:41:00Z */
#define T0 (1795707660LL * NSEC_PER_SEC)

struct env {
	char dir[64];
	char path[128];
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
};

static void
open_store(struct env *e)
{
	struct store_options so = { .loop = e->loop, .sync_normal = true, .poll_interval_ms = -1 };
	assert_int_equal(store_open(e->path, &so, &e->store, NULL), 0);
	assert_int_equal(client_new_local(e->store, e->clock, &e->client, NULL), 0);
}

static void
close_store(struct env *e)
{
	client_free(e->client);
	store_close(e->store);
	e->client = NULL;
	e->store = NULL;
}

static void
create_ok(struct env *e, const char *text, json_t **ret)
{
	_cleanup_json_ json_t *obj = test_yaml(text);
	korch_error *err = NULL;
	struct client_write_opts o = { .field_manager = "test" };
	if (client_create(e->client, obj, &o, ret, &err) < 0)
		fail_msg("create: %s", korch_error_message(err));
}

/* Creates and expects an error with exactly this message. */
static void
create_fails(struct env *e, const char *text, int code, const char *message)
{
	_cleanup_json_ json_t *obj = test_yaml(text);
	korch_error *err = NULL;
	assert_int_equal(client_create(e->client, obj, NULL, NULL, &err), code);
	assert_string_equal(korch_error_message(err), message);
	korch_error_free(err);
}

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/korch-test-svcalloc-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->path, sizeof(e->path), "%s/state.db", e->dir);
	if (korch_clock_new_test(T0, &e->clock, NULL) < 0 ||
	    korch_loop_new(e->clock, &e->loop, NULL) < 0)
		return -1;
	open_store(e);
	static const char *const names[] = { "default", "kube-system" };
	for (size_t i = 0; i < 2; i++) {
		char text[128];
		snprintf(text, sizeof(text),
			 "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", names[i]);
		create_ok(e, text, NULL);
	}
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	close_store(e);
	korch_loop_free(e->loop);
	korch_clock_free(e->clock);
	rm_rf(e->dir, NULL);
	free(e);
	return 0;
}

static const char *
spec_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "spec"), field));
}

static int64_t
node_port(const json_t *svc, size_t i)
{
	return json_integer_value(json_object_get(
		json_array_get(json_object_get(json_object_get(svc, "spec"), "ports"), i),
		"nodePort"));
}

static bool
record_exists(struct env *e, const char *resource, const char *name)
{
	struct store_key key = { "korch.io", resource, "", name };
	json_t *obj = NULL;
	int r = store_get(e->store, &key, &obj, NULL, NULL);
	json_decref(obj);
	return r == 0;
}

static uint32_t
ip_value(const char *ip)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
	return ntohl(a.s_addr);
}

static char *
svc_text(const char *name, const char *ns, const char *extra)
{
	char *text = NULL;
	assert_true(asprintf(&text,
			     "apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s}\n"
			     "spec:\n  selector: {app: %s}\n  ports: [{port: 80}]\n%s",
			     name, ns, name, extra) > 0);
	return text;
}

static void
test_cluster_ip_dynamic_and_requested(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *a = NULL;
	_cleanup_free_ char *ta = svc_text("a", "default", "");
	create_ok(e, ta, &a);
	const char *ip = spec_str(a, "clusterIP");
	/* Dynamic allocation comes from the upper band: past the 256 static addresses. */
	uint32_t v = ip_value(ip);
	assert_true(v >= ip_value("10.96.1.1") && v <= ip_value("10.96.255.254"));
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_object_get(a, "spec"), "clusterIPs"), 0)),
			    ip);
	assert_true(record_exists(e, "serviceipallocations", ip));

	_cleanup_free_ char *tb = svc_text("b", "default", "  clusterIP: 10.96.0.50\n");
	_cleanup_json_ json_t *b = NULL;
	create_ok(e, tb, &b);
	assert_string_equal(spec_str(b, "clusterIP"), "10.96.0.50");
	_cleanup_free_ char *tc = svc_text("c", "default", "  clusterIP: 10.96.0.50\n");
	create_fails(e, tc, KORCH_EINVALID,
		     "Service \"c\" is invalid: spec.clusterIPs: Invalid value: "
		     "[]string{\"10.96.0.50\"}: failed to allocate IP 10.96.0.50: provided IP is "
		     "already allocated");
	_cleanup_free_ char *td = svc_text("d", "default", "  clusterIP: 10.97.0.1\n");
	create_fails(e, td, KORCH_EINVALID,
		     "Service \"d\" is invalid: spec.clusterIPs: Invalid value: "
		     "[]string{\"10.97.0.1\"}: failed to allocate IP 10.97.0.1: the provided IP "
		     "(10.97.0.1) is not in the valid range. The range of valid IPs is "
		     "10.96.0.0/16");
	/* The failed creates left neither a Service nor a record. */
	const struct kind_info *k = kind_lookup("v1", "Service");
	json_t *none = NULL;
	assert_int_equal(client_get(e->client, k, "default", "c", &none, NULL), KORCH_ENOTFOUND);
	assert_false(record_exists(e, "serviceipallocations", "10.97.0.1"));
}

static void
test_well_known_addresses(void **state)
{
	struct env *e = *state;
	/* kube-dns's address is reserved for it even before it exists. */
	_cleanup_free_ char *tx = svc_text("x", "default", "  clusterIP: 10.96.0.10\n");
	create_fails(e, tx, KORCH_EINVALID,
		     "Service \"x\" is invalid: spec.clusterIPs: Invalid value: "
		     "[]string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is "
		     "already allocated");
	_cleanup_json_ json_t *k8s = NULL, *dns = NULL;
	_cleanup_free_ char *t1 = svc_text("kubernetes", "default", "");
	_cleanup_free_ char *t2 = svc_text("kube-dns", "kube-system", "");
	create_ok(e, t1, &k8s);
	create_ok(e, t2, &dns);
	assert_string_equal(spec_str(k8s, "clusterIP"), "10.96.0.1");
	assert_string_equal(spec_str(dns, "clusterIP"), "10.96.0.10");
	/* Headless and ExternalName Services hold no address. */
	_cleanup_json_ json_t *h = NULL, *x = NULL;
	_cleanup_free_ char *th = svc_text("h", "default", "  clusterIP: None\n");
	create_ok(e, th, &h);
	assert_string_equal(spec_str(h, "clusterIP"), "None");
	assert_false(record_exists(e, "serviceipallocations", "None"));
	create_ok(e,
		  "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: default}\n"
		  "spec: {type: ExternalName, externalName: example.com}\n",
		  &x);
	assert_null(spec_str(x, "clusterIP"));
	struct store_list_options lo = { .group = "korch.io", .resource = "serviceipallocations" };
	struct store_list l = { 0 };
	assert_int_equal(store_list(e->store, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 2);
	store_list_clear(&l);
}

static void
test_node_ports(void **state)
{
	struct env *e = *state;
	_cleanup_json_ json_t *a = NULL, *b = NULL;
	_cleanup_free_ char *ta = svc_text("a", "default", "  type: NodePort\n");
	create_ok(e, ta, &a);
	int64_t np = node_port(a, 0);
	/* The upper band: past the 86 static ports of 30000-32767. */
	assert_true(np >= 30086 && np <= 32767);
	char name[32];
	snprintf(name, sizeof(name), "%lld", (long long)np);
	assert_true(record_exists(e, "servicenodeportallocations", name));
	create_ok(e,
		  "apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: default}\n"
		  "spec:\n  type: NodePort\n  selector: {app: b}\n"
		  "  ports: [{name: http, port: 80, nodePort: 30080}, "
		  "{name: dns, port: 53, protocol: UDP, nodePort: 30053}]\n",
		  &b);
	assert_int_equal(node_port(b, 0), 30080);
	assert_int_equal(node_port(b, 1), 30053);
	create_fails(e,
		     "apiVersion: v1\nkind: Service\nmetadata: {name: c, namespace: default}\n"
		     "spec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n",
		     KORCH_EINVALID,
		     "Service \"c\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: "
		     "provided port is already allocated");
	create_fails(e,
		     "apiVersion: v1\nkind: Service\nmetadata: {name: d, namespace: default}\n"
		     "spec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 8080}]\n",
		     KORCH_EINVALID,
		     "Service \"d\" is invalid: spec.ports[0].nodePort: Invalid value: 8080: "
		     "provided port is not in the valid range. The range of valid ports is "
		     "30000-32767");

	/* A PUT that leaves the allocated values out keeps them (matched by port name). */
	const struct kind_info *k = kind_lookup("v1", "Service");
	_cleanup_json_ json_t *put = test_yaml(
		"apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: default}\n"
		"spec:\n  type: NodePort\n  selector: {app: b}\n"
		"  ports: [{name: http, port: 80}, {name: dns, port: 53, protocol: UDP}]\n");
	_cleanup_json_ json_t *after = NULL;
	korch_error *err = NULL;
	if (client_update(e->client, put, NULL, NULL, &after, &err) < 0)
		fail_msg("update: %s", korch_error_message(err));
	assert_string_equal(spec_str(after, "clusterIP"), spec_str(b, "clusterIP"));
	assert_int_equal(node_port(after, 0), 30080);
	assert_int_equal(node_port(after, 1), 30053);

	/* NodePort -> ClusterIP frees the ports and clears them. */
	_cleanup_json_ json_t *to_cip = json_pack("{s:{s:s}}", "spec", "type", "ClusterIP");
	_cleanup_json_ json_t *cip = NULL;
	if (client_patch(e->client, k, "default", "b", CLIENT_PATCH_MERGE, to_cip, NULL, NULL, &cip,
			 &err) < 0)
		fail_msg("patch: %s", korch_error_message(err));
	assert_int_equal(node_port(cip, 0), 0);
	assert_false(record_exists(e, "servicenodeportallocations", "30080"));
	assert_false(record_exists(e, "servicenodeportallocations", "30053"));
	/* ... and back to NodePort takes new ones. */
	_cleanup_json_ json_t *to_np = json_pack("{s:{s:s}}", "spec", "type", "NodePort");
	_cleanup_json_ json_t *np2 = NULL;
	assert_int_equal(client_patch(e->client, k, "default", "b", CLIENT_PATCH_MERGE, to_np, NULL,
				      NULL, &np2, NULL),
			 0);
	assert_true(node_port(np2, 0) >= 30000);
	snprintf(name, sizeof(name), "%lld", (long long)node_port(np2, 0));
	assert_true(record_exists(e, "servicenodeportallocations", name));

	/* Deleting frees the address and the ports, which can then be asked for again. */
	const char *ip = spec_str(np2, "clusterIP");
	char ipcopy[32];
	snprintf(ipcopy, sizeof(ipcopy), "%s", ip);
	assert_int_equal(client_delete(e->client, k, "default", "b", NULL, NULL, NULL), 0);
	assert_false(record_exists(e, "serviceipallocations", ipcopy));
	assert_false(record_exists(e, "servicenodeportallocations", name));
	char extra[96];
	snprintf(extra, sizeof(extra), "  clusterIP: %s\n", ipcopy);
	_cleanup_free_ char *tn = svc_text("again", "default", extra);
	create_ok(e, tn, NULL);
}

static void
collect_ip(struct hashmap *seen, const json_t *svc)
{
	const char *ip = spec_str(svc, "clusterIP");
	assert_non_null(ip);
	if (hashmap_contains(seen, ip))
		fail_msg("%s handed out twice", ip);
	assert_int_equal(hashmap_put(seen, ip, NULL, NULL), 0);
}

static void
test_never_twice_across_restart(void **state)
{
	struct env *e = *state;
	/* A small range, so that picks would collide quickly if records were not kept. */
	assert_int_equal(client_set_service_ranges(e->client, "10.96.0.0/24", 0, 0, NULL), 0);
	struct hashmap seen = HASHMAP_INIT;
	for (int i = 0; i < 120; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%d", i);
		_cleanup_free_ char *t = svc_text(name, "default", "");
		_cleanup_json_ json_t *svc = NULL;
		create_ok(e, t, &svc);
		collect_ip(&seen, svc);
	}
	/* Restart: a new store handle and client over the same file. */
	close_store(e);
	open_store(e);
	assert_int_equal(client_set_service_ranges(e->client, "10.96.0.0/24", 0, 0, NULL), 0);
	for (int i = 120; i < 252; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%d", i);
		_cleanup_free_ char *t = svc_text(name, "default", "");
		_cleanup_json_ json_t *svc = NULL;
		create_ok(e, t, &svc);
		collect_ip(&seen, svc);
	}
	/* 254 usable addresses, two reserved for kubernetes and kube-dns: the range is full. */
	_cleanup_free_ char *tf = svc_text("full", "default", "");
	create_fails(e, tf, KORCH_EINVALID,
		     "Service \"full\" is invalid: spec.clusterIPs: Invalid value: []string(nil): "
		     "failed to allocate a serviceIP: range is full");
	assert_false(hashmap_contains(&seen, "10.96.0.1"));
	assert_false(hashmap_contains(&seen, "10.96.0.10"));
	hashmap_free(&seen, NULL);
	korch_error *err = NULL;
	assert_int_equal(client_set_service_ranges(e->client, "10.96.0.0", 0, 0, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "service CIDR 10.96.0.0: expected an IPv4 CIDR with a prefix length "
			    "of 8 to 30");
	korch_error_free(err);
}

static void
test_race_between_writers(void **state)
{
	struct env *e = *state;
	/* A /29 has six addresses; with .1 reserved five are free. */
	assert_int_equal(client_set_service_ranges(e->client, "10.96.0.0/29", 0, 0, NULL), 0);
	for (int i = 0; i < 4; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		_cleanup_free_ char *t = svc_text(name, "default", "");
		create_ok(e, t, NULL);
	}
	/* One free address left. A transaction picks it now and commits later ... */
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	_cleanup_free_ char *tl = svc_text("late", "default", "");
	_cleanup_json_ json_t *late = test_yaml(tl);
	assert_int_equal(client_txn_apply(t, late, NULL, NULL), 0);
	/* ... while another writer (its own store handle) takes it first. */
	struct store *s2 = NULL;
	struct client *c2 = NULL;
	struct store_options so = { .sync_normal = true, .poll_interval_ms = -1 };
	assert_int_equal(store_open(e->path, &so, &s2, NULL), 0);
	assert_int_equal(client_new_local(s2, e->clock, &c2, NULL), 0);
	assert_int_equal(client_set_service_ranges(c2, "10.96.0.0/29", 0, 0, NULL), 0);
	_cleanup_free_ char *te = svc_text("early", "default", "");
	_cleanup_json_ json_t *early = test_yaml(te);
	assert_int_equal(client_create(c2, early, NULL, NULL, NULL), 0);
	client_free(c2);
	store_close(s2);
	korch_error *err = NULL;
	assert_int_equal(client_txn_commit(t, NULL, &err), KORCH_EEXISTS);
	korch_error_free(err);
	const struct kind_info *k = kind_lookup("v1", "Service");
	json_t *none = NULL;
	assert_int_equal(client_get(e->client, k, "default", "late", &none, NULL), KORCH_ENOTFOUND);

	/* Two Services of one transaction never get the same address. */
	assert_int_equal(client_set_service_ranges(e->client, "10.96.0.0/16", 0, 0, NULL), 0);
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%d", i);
		_cleanup_free_ char *tt = svc_text(name, "default", "");
		_cleanup_json_ json_t *svc = test_yaml(tt);
		assert_int_equal(client_txn_apply(t, svc, NULL, NULL), 0);
	}
	assert_int_equal(client_txn_commit(t, NULL, NULL), 0);
	struct hashmap seen = HASHMAP_INIT;
	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%d", i);
		_cleanup_json_ json_t *svc = NULL;
		assert_int_equal(client_get(e->client, k, "default", name, &svc, NULL), 0);
		collect_ip(&seen, svc);
		assert_true(record_exists(e, "serviceipallocations", spec_str(svc, "clusterIP")));
	}
	hashmap_free(&seen, NULL);
}

static void
test_namespace_lifecycle(void **state)
{
	struct env *e = *state;
	const struct kind_info *nsk = kind_lookup("v1", "Namespace");
	_cleanup_json_ json_t *ns = NULL;
	create_ok(e, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n", &ns);
	json_t *fin = json_object_get(json_object_get(ns, "spec"), "finalizers");
	assert_int_equal(json_array_size(fin), 1);
	assert_string_equal(json_string_value(json_array_get(fin, 0)), "kubernetes");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(ns, "status"), "phase")),
		"Active");
	/* The main resource cannot drop spec.finalizers. */
	_cleanup_json_ json_t *put =
		test_yaml("apiVersion: v1\nkind: Namespace\n"
			  "metadata: {name: team, labels: {a: b}}\nspec: {}\n");
	_cleanup_json_ json_t *after = NULL;
	assert_int_equal(client_update(e->client, put, NULL, NULL, &after, NULL), 0);
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(after, "spec"), "finalizers")), 1);
	/* Delete marks it Terminating; it stays, and refuses new content. */
	_cleanup_json_ json_t *marked = NULL;
	assert_int_equal(client_delete(e->client, nsk, NULL, "team", NULL, &marked, NULL), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(marked, "status"), "phase")),
		"Terminating");
	assert_string_equal(json_string_value(json_object_get(json_object_get(marked, "metadata"),
							      "deletionTimestamp")),
			    "2026-11-26T15:41:00Z");
	assert_int_equal(client_delete(e->client, nsk, NULL, "team", NULL, NULL, NULL), 0);
	_cleanup_json_ json_t *still = NULL;
	assert_int_equal(client_get(e->client, nsk, NULL, "team", &still, NULL), 0);
	create_fails(e, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: team}\n",
		     KORCH_EFORBIDDEN,
		     "configmaps \"x\" is forbidden: unable to create new content in namespace "
		     "team because it is being terminated");
	/* /finalize removing the last finalizer removes the namespace. */
	json_object_set_new(json_object_get(still, "spec"), "finalizers", json_array());
	assert_int_equal(client_update(e->client, still, "finalize", NULL, NULL, NULL), 0);
	json_t *gone = NULL;
	assert_int_equal(client_get(e->client, nsk, NULL, "team", &gone, NULL), KORCH_ENOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_ip_dynamic_and_requested, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_well_known_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_twice_across_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_race_between_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_lifecycle, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
