/*
 * client-env.c - the client tests' shared fixture (client-env.h).
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
#include "client-env.h"

int
env_open_store(struct env *e)
{
	struct store_options so = { .loop = e->loop, .sync_normal = true, .poll_interval_ms = -1 };
	if (store_open(e->path, &so, &e->store, NULL) < 0 ||
	    client_new_local(e->store, e->clock, &e->client, NULL) < 0)
		return -1;
	return 0;
}

void
env_close_store(struct env *e)
{
	client_free(e->client);
	store_close(e->store);
	e->client = NULL;
	e->store = NULL;
}

int
env_setup(void **state, const char *name)
{
	struct env *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	*state = e;
	snprintf(e->dir, sizeof(e->dir), "/tmp/korch-test-%s-XXXXXX", name);
	if (!mkdtemp(e->dir)) {
		e->dir[0] = '\0';
		return -1;
	}
	snprintf(e->path, sizeof(e->path), "%s/state.db", e->dir);
	if (korch_clock_new_test(ENV_T0, &e->clock, NULL) < 0 ||
	    korch_loop_new(e->clock, &e->loop, NULL) < 0)
		return -1;
	return env_open_store(e);
}

int
env_teardown(void **state)
{
	struct env *e = *state;
	if (!e)
		return 0;
	env_close_store(e);
	if (e->fini)
		e->fini(e->data);
	korch_loop_free(e->loop);
	korch_clock_free(e->clock);
	if (e->dir[0])
		rm_rf(e->dir, NULL);
	free(e);
	return 0;
}
