/*
 * client-env.h - the fixture the client tests share: a state file in a temporary directory, a
 * test clock at 2026-11-26T15:41:00Z, a loop, the store (synchronous=NORMAL, no polling) and a
 * local client over it.
 */
#ifndef KORCH_TESTS_CLIENT_ENV_H
#define KORCH_TESTS_CLIENT_ENV_H

#include "base/json.h"
#include "base/loop.h"
#include "client/client.h"

/* 2026-11-26T15:41:00Z */
#define ENV_T0 (1795707660LL * NSEC_PER_SEC)

struct env {
	char dir[64];          /* the temporary directory, removed by env_teardown */
	char path[128];        /* the state file in it */
	korch_clock *clock;    /* test clock at ENV_T0 */
	korch_loop *loop;      /* on clock */
	struct store *store;   /* the state */
	struct client *client; /* local, over store */
	void (*fini)(void *);  /* frees data at teardown, or NULL */
	void *data;            /* the test file's own */
};

/* cmocka setup: *state becomes a new env; name goes into the directory's name. */
int env_setup(void **state, const char *name);
/* cmocka teardown of env_setup's env (also after a failed test). */
int env_teardown(void **state);
/* Opens the store and the client again (after env_close_store). */
int env_open_store(struct env *e);
void env_close_store(struct env *e);

#endif
