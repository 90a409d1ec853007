/*
 * helpers.h - what the store tests share: temporary directories, objects, keys, and running a
 * loop until a condition holds.
 */
#ifndef KORCH_TESTS_STORE_HELPERS_H
#define KORCH_TESTS_STORE_HELPERS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/loop.h>
#include "store/store.h"

/* A new temporary directory (caller frees the string and removes it with test_tmpdir_remove). */
char *test_tmpdir(void);
void test_tmpdir_remove(char *dir);
/* dir/name, aborting when out of memory. */
char *test_path(const char *dir, const char *name);

/* A Deployment-like object: apiVersion, kind, metadata (name, namespace, labels "k=v,k=v"), spec.n. */
json_t *test_obj(const char *ns, const char *name, const char *labels, int n);

/* The key of a deployments.apps object. */
struct store_key test_key(const char *ns, const char *name);

/* metadata.resourceVersion as a number (-1 when absent or not a number). */
int64_t test_rv(const json_t *obj);
/* spec.n (-1 when absent). */
int test_n(const json_t *obj);

/* Dispatches loop until cond(userdata) holds or timeout_ms passed; returns cond's last value. */
bool test_dispatch_until(korch_loop *loop, bool (*cond)(void *userdata), void *userdata,
			 int timeout_ms);

/* Monotonic milliseconds. */
int64_t test_now_ms(void);

/* The path of the store-writer helper program in the build tree. */
char *test_writer_path(void);

#endif
