/*
 * Optimistic concurrency (scenario 27): 50 clients, each a thread with its own store handle on
 * the same file, do 100 read-modify-write increments of one counter, retrying on Conflict. The
 * counter ends at exactly 5,000 and its revision history holds exactly 5,000 updates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "helpers.h"
#include "store/store.h"

struct client {
	pthread_t thread;      /* the client */
	const char *path;      /* the store file */
	int increments;        /* how many to do */
	int conflicts;         /* retries after Conflict */
	int failed;            /* another error (0: none) */
	char error[256];       /* its message */
	pthread_barrier_t *go; /* all start together */
};

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct store *s = NULL;
	korch_error *err = NULL;
	int opened = store_open(c->path, NULL, &s, &err);
	pthread_barrier_wait(c->go);
	if (opened < 0)
		goto fail;
	struct store_key k = test_key("default", "counter");
	for (int i = 0; i < c->increments; i++) {
		for (;;) {
			json_t *obj = NULL;
			struct store_object_meta meta;
			if (store_get(s, &k, &obj, &meta, &err) < 0)
				goto fail;
			json_t *spec = json_object_get(obj, "spec");
			json_object_set_new(spec, "n", json_integer(test_n(obj) + 1));
			int64_t rev = 0;
			int r = store_update(s, &k, obj, meta.mod_revision, &rev, &err);
			json_decref(obj);
			if (r == 0)
				break;
			if (r != KORCH_ECONFLICT)
				goto fail;
			c->conflicts++;
			korch_error_free(err);
			err = NULL;
		}
	}
	store_close(s);
	return NULL;
fail:
	c->failed = err ? korch_error_code(err) : -1;
	snprintf(c->error, sizeof(c->error), "%s", err ? korch_error_message(err) : "?");
	korch_error_free(err);
	store_close(s);
	return NULL;
}

static void
test_increments(void **state)
{
	_cleanup_free_ char *dir = test_tmpdir();
	_cleanup_free_ char *path = test_path(dir, "state.db");
	int n_clients = 50;
	int increments = 100;
	struct store *s = NULL;
	assert_int_equal(store_open(path, NULL, &s, NULL), 0);
	struct store_key k = test_key("default", "counter");
	json_t *obj = test_obj("default", "counter", NULL, 0);
	int64_t rev = 0;
	assert_int_equal(store_create(s, &k, obj, 0, &rev, NULL), 0);
	json_decref(obj);

	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, (unsigned)n_clients);
	struct client *clients = calloc((size_t)n_clients, sizeof(*clients));
	for (int i = 0; i < n_clients; i++) {
		clients[i] = (struct client){ .path = path, .increments = increments, .go = &go };
		assert_int_equal(pthread_create(&clients[i].thread, NULL, client_main, &clients[i]),
				 0);
	}
	int conflicts = 0;
	for (int i = 0; i < n_clients; i++) {
		pthread_join(clients[i].thread, NULL);
		if (clients[i].failed)
			fail_msg("client %d: %s", i, clients[i].error);
		conflicts += clients[i].conflicts;
	}
	pthread_barrier_destroy(&go);
	free(clients);

	struct store_object_meta meta;
	assert_int_equal(store_get(s, &k, &obj, &meta, NULL), 0);
	assert_int_equal(test_n(obj), n_clients * increments);
	assert_int_equal(meta.mod_revision, 1 + n_clients * increments);
	assert_int_equal(meta.create_revision, 1);
	json_decref(obj);
	/* Contention really happened: clients had to retry. */
	assert_true(conflicts > 0);
	print_message("# %d increments by %d clients, %d conflicts retried\n",
		      n_clients * increments, n_clients, conflicts);
	assert_int_equal(store_check(s, NULL), 0);
	store_close(s);
	test_tmpdir_remove(steal_pointer(&dir));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_increments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
