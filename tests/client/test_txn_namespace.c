/*
 * lib/client transactions that create a Namespace and the objects in it: admission lets the
 * objects in once the transaction holds the Namespace's create, the commit writes both or
 * neither, and a missing or terminating namespace outside the transaction is still refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "client/client.h"

struct env {
	char dir[64];
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/korch-test-txnns-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", e->dir);
	if (korch_clock_new_test(1795707660LL * NSEC_PER_SEC, &e->clock, NULL) < 0 ||
	    korch_loop_new(e->clock, &e->loop, NULL) < 0)
		return -1;
	struct store_options so = { .loop = e->loop, .sync_normal = true, .poll_interval_ms = -1 };
	if (store_open(path, &so, &e->store, NULL) < 0 ||
	    client_new_local(e->store, e->clock, &e->client, NULL) < 0)
		return -1;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	client_free(e->client);
	store_close(e->store);
	korch_loop_free(e->loop);
	korch_clock_free(e->clock);
	rm_rf(e->dir, NULL);
	free(e);
	return 0;
}

static json_t *
yaml(const char *text)
{
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	if (codec_yaml_decode(text, strlen(text), &docs, &err) < 0)
		fail_msg("yaml: %s", korch_error_message(err));
	json_t *obj = json_incref(docs.docs[0]);
	codec_docs_free(&docs);
	return obj;
}

static const struct client_write_opts gitops = { .field_manager = "korch-gitops", .force = true };

static void
txn_apply_ok(struct client_txn *t, const char *text)
{
	_cleanup_json_ json_t *obj = yaml(text);
	korch_error *err = NULL;
	if (client_txn_apply(t, obj, &gitops, &err) < 0)
		fail_msg("txn apply: %s", korch_error_message(err));
}

static void
test_namespace_and_content(void **state)
{
	struct env *e = *state;
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	txn_apply_ok(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n");
	txn_apply_ok(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team}\n");
	assert_int_equal(client_txn_size(t), 2);
	int64_t rev = 0;
	assert_int_equal(client_txn_commit(t, &rev, NULL), 0);
	json_t *cm = NULL;
	assert_int_equal(
		client_get(e->client, kind_lookup("v1", "ConfigMap"), "team", "a", &cm, NULL), 0);
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", (long long)rev);
	assert_string_equal(json_string_value(json_object_get(json_object_get(cm, "metadata"),
							      "resourceVersion")),
			    buf);
	json_decref(cm);
}

/* The content comes first: its namespace does not exist yet, so it is refused. */
static void
test_content_before_namespace(void **state)
{
	struct env *e = *state;
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	_cleanup_json_ json_t *cm =
		yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team}\n");
	korch_error *err = NULL;
	assert_int_equal(client_txn_apply(t, cm, &gitops, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "namespaces \"team\" not found");
	korch_error_free(err);
	client_txn_free(t);
}

/* Another transaction's namespace admits nothing: each keeps its own. */
static void
test_namespace_of_other_txn(void **state)
{
	struct env *e = *state;
	struct client_txn *t1 = NULL, *t2 = NULL;
	assert_int_equal(client_txn_new(e->client, &t1, NULL), 0);
	assert_int_equal(client_txn_new(e->client, &t2, NULL), 0);
	txn_apply_ok(t1, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n");
	_cleanup_json_ json_t *cm =
		yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team}\n");
	korch_error *err = NULL;
	assert_int_equal(client_txn_apply(t2, cm, &gitops, &err), KORCH_ENOTFOUND);
	korch_error_free(err);
	client_txn_free(t1);
	client_txn_free(t2);
}

/*
 * The namespace is created by someone else between the plan and the commit: the transaction's
 * create of it fails, and the content goes with it.
 */
static void
test_namespace_raced(void **state)
{
	struct env *e = *state;
	struct client_txn *t = NULL;
	assert_int_equal(client_txn_new(e->client, &t, NULL), 0);
	txn_apply_ok(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n");
	txn_apply_ok(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team}\n");
	_cleanup_json_ json_t *ns =
		yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n");
	assert_int_equal(client_create(e->client, ns, NULL, NULL, NULL), 0);
	korch_error *err = NULL;
	assert_int_equal(client_txn_commit(t, NULL, &err), KORCH_EEXISTS);
	assert_string_equal(korch_error_message(err),
			    "transaction operation 1 of 2: namespaces \"team\" already exists");
	korch_error_free(err);
	json_t *cm = NULL;
	assert_int_equal(
		client_get(e->client, kind_lookup("v1", "ConfigMap"), "team", "a", &cm, NULL),
		KORCH_ENOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_namespace_and_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_content_before_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_of_other_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_raced, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
