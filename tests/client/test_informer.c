/* Informers: initial adds, changes through the watch, relist after an expired watch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "client/informer.h"

struct env {
	char dir[64];
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
	struct strbuf log;
};

static void
on_add(const json_t *obj, void *ud)
{
	struct env *e = ud;
	strbuf_printf(&e->log, "add:%s ",
		      json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
}

static void
on_update(const json_t *old, const json_t *obj, void *ud)
{
	struct env *e = ud;
	strbuf_printf(&e->log, "update:%s:%s ",
		      json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")),
		      json_string_value(json_object_get(json_object_get(obj, "data"), "v")));
}

static void
on_delete(const json_t *obj, void *ud)
{
	struct env *e = ud;
	strbuf_printf(&e->log, "delete:%s ",
		      json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
}

static void
cm(struct env *e, const char *name, const char *v)
{
	json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind",
				"ConfigMap", "metadata", "name", name, "namespace", "default",
				"data", "v", v);
	struct client_write_opts o = { .field_manager = "test" };
	assert_int_equal(client_apply(e->client, obj, &o, NULL, NULL), 0);
	json_decref(obj);
}

static void
pump(struct env *e)
{
	for (int i = 0; i < 5; i++)
		korch_loop_dispatch(e->loop, 0, NULL);
}

static void
test_informer(void **state)
{
	struct env e = { .log = STRBUF_INIT };
	snprintf(e.dir, sizeof(e.dir), "/tmp/korch-test-informer-XXXXXX");
	assert_non_null(mkdtemp(e.dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", e.dir);
	assert_int_equal(korch_clock_new_test(0, &e.clock, NULL), 0);
	assert_int_equal(korch_loop_new(e.clock, &e.loop, NULL), 0);
	struct store_options so = { .loop = e.loop,
				    .sync_normal = true,
				    .poll_interval_ms = -1,
				    .compact_keep_revisions = -1 };
	assert_int_equal(store_open(path, &so, &e.store, NULL), 0);
	assert_int_equal(client_new_local(e.store, e.clock, &e.client, NULL), 0);
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", "default");
	assert_int_equal(client_create(e.client, ns, NULL, NULL, NULL), 0);
	json_decref(ns);
	cm(&e, "a", "1");

	struct informer *inf = NULL;
	assert_int_equal(informer_new(e.client, kind_lookup("v1", "ConfigMap"), NULL, NULL, NULL,
				      &inf, NULL),
			 0);
	struct informer_handlers h = { on_add, on_update, on_delete, &e };
	assert_int_equal(informer_add_handlers(inf, &h, NULL), 0);
	assert_int_equal(informer_start(inf, NULL), 0);
	assert_false(informer_synced(inf));
	assert_non_null(informer_get(inf, "default", "a"));
	pump(&e);
	assert_true(informer_synced(inf));
	cm(&e, "b", "1");
	cm(&e, "a", "2");
	pump(&e);
	assert_string_equal(strbuf_str(&e.log), "add:a add:b update:a:2 ");
	assert_int_equal(informer_count(inf), 2);
	strbuf_truncate(&e.log, 0);

	/* The watch falls behind compaction: a relist reports the difference. */
	const struct kind_info *k = kind_lookup("v1", "ConfigMap");
	assert_int_equal(client_delete(e.client, k, "default", "b", NULL, NULL, NULL), 0);
	cm(&e, "a", "3");
	cm(&e, "c", "1");
	int64_t rev;
	assert_int_equal(store_revision(e.store, &rev, NULL, NULL), 0);
	bool more = true;
	while (more)
		assert_int_equal(store_compact(e.store, rev, 0, &more, NULL), 0);
	pump(&e);
	const char *log = strbuf_str(&e.log);
	/* The watch was behind the compaction: the relist reports the difference, list order first. */
	assert_string_equal(log, "update:a:3 add:c delete:b ");
	assert_non_null(strstr(log, "update:a:3 "));
	assert_non_null(strstr(log, "add:c "));
	assert_non_null(strstr(log, "delete:b "));
	assert_int_equal(informer_count(inf), 2);
	assert_null(informer_get(inf, "default", "b"));

	char *key = informer_key(informer_get(inf, "default", "c"));
	assert_string_equal(key, "default/c");
	char *kns = NULL, *kname = NULL;
	assert_int_equal(informer_split_key(key, &kns, &kname), 0);
	assert_string_equal(kns, "default");
	assert_string_equal(kname, "c");
	free(key);
	free(kns);
	free(kname);

	informer_free(inf);
	client_free(e.client);
	store_close(e.store);
	korch_loop_free(e.loop);
	korch_clock_free(e.clock);
	rm_rf(e.dir, NULL);
	strbuf_free(&e.log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_informer) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
