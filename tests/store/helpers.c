/* Shared helpers of the store tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/fs.h"
#include "base/macro.h"
#include "helpers.h"

char *
test_tmpdir(void)
{
	char *dir = strdup("/tmp/korch-test-store-XXXXXX");
	if (!dir || !mkdtemp(dir))
		abort();
	return dir;
}

void
test_tmpdir_remove(char *dir)
{
	if (!dir)
		return;
	rm_rf(dir, NULL);
	free(dir);
}

char *
test_path(const char *dir, const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

json_t *
test_obj(const char *ns, const char *name, const char *labels, int n)
{
	json_t *meta = json_pack("{s:s}", "name", name);
	if (ns && ns[0])
		json_object_set_new(meta, "namespace", json_string(ns));
	if (labels) {
		json_t *l = json_object();
		char *copy = strdup(labels), *save = NULL;
		for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');
			if (!eq)
				abort();
			*eq = '\0';
			json_object_set_new(l, kv, json_string(eq + 1));
		}
		free(copy);
		json_object_set_new(meta, "labels", l);
	}
	json_t *obj = json_pack("{s:s, s:s, s:o, s:{s:i}}", "apiVersion", "apps/v1", "kind",
				"Deployment", "metadata", meta, "spec", "n", n);
	if (!obj)
		abort();
	return obj;
}

struct store_key
test_key(const char *ns, const char *name)
{
	return (struct store_key){ "apps", "deployments", ns, name };
}

int64_t
test_rv(const json_t *obj)
{
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (!rv)
		return -1;
	char *end;
	long long v = strtoll(rv, &end, 10);
	return *end ? -1 : v;
}

int
test_n(const json_t *obj)
{
	json_t *n = json_object_get(json_object_get(obj, "spec"), "n");
	return json_is_integer(n) ? (int)json_integer_value(n) : -1;
}

int64_t
test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
test_dispatch_until(korch_loop *loop, bool (*cond)(void *userdata), void *userdata, int timeout_ms)
{
	int64_t deadline = test_now_ms() + timeout_ms;
	while (!cond(userdata)) {
		int64_t left = deadline - test_now_ms();
		if (left <= 0)
			return cond(userdata);
		if (korch_loop_dispatch(loop, (int)MIN(left, 50), NULL) < 0)
			return false;
	}
	return true;
}

char *
test_writer_path(void)
{
	const char *root = getenv("KORCH_BUILD_ROOT");
	if (!root)
		return NULL;
	return test_path(root, "tests/store/store-writer");
}
