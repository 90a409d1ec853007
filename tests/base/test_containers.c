/* strbuf, ptrvec, hashmap and strv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <korch/common.h>
#include "base/hashmap.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/vec.h"

static void
test_strbuf(void **state)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	assert_string_equal(strbuf_str(&sb), "");
	assert_int_equal(strbuf_puts(&sb, "spec"), 0);
	assert_int_equal(strbuf_printf(&sb, ".containers[%d]", 12), 0);
	assert_int_equal(strbuf_putc(&sb, '.'), 0);
	assert_string_equal(strbuf_str(&sb), "spec.containers[12].");
	assert_int_equal(sb.len, 20);
	strbuf_truncate(&sb, 4);
	assert_string_equal(strbuf_str(&sb), "spec");
	for (int i = 0; i < 1000; i++)
		strbuf_puts(&sb, "0123456789");
	assert_int_equal(sb.len, 10004);
	char *s = strbuf_steal(&sb);
	assert_int_equal(strlen(s), 10004);
	assert_int_equal(sb.len, 0);
	free(s);
	s = strbuf_steal(&sb);
	assert_string_equal(s, "");
	free(s);
}

static void
test_ptrvec(void **state)
{
	struct ptrvec v = PTRVEC_INIT;
	for (long i = 0; i < 100; i++)
		assert_int_equal(ptrvec_push(&v, (void *)i), 0);
	ptrvec_remove(&v, 0);
	ptrvec_remove(&v, 50);
	assert_int_equal(v.n, 98);
	assert_int_equal((long)v.items[0], 1);
	assert_int_equal((long)v.items[50], 52);
	ptrvec_free(&v, NULL);
	assert_int_equal(v.n, 0);

	struct ptrvec owned = PTRVEC_INIT;
	ptrvec_push(&owned, strdup("a"));
	ptrvec_push(&owned, strdup("b"));
	ptrvec_free(&owned, free);
}

static void
test_hashmap(void **state)
{
	struct hashmap m = HASHMAP_INIT;
	char key[32];
	for (long i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "pod-%ld", i);
		assert_int_equal(hashmap_put(&m, key, (void *)(i + 1), NULL), 0);
	}
	assert_int_equal(m.n, 5000);
	for (long i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "pod-%ld", i);
		assert_int_equal((long)hashmap_remove(&m, key), i + 1);
	}
	assert_int_equal(m.n, 2500);
	assert_null(hashmap_get(&m, "pod-0"));
	assert_int_equal((long)hashmap_get(&m, "pod-4999"), 5000);
	void *old = NULL;
	hashmap_put(&m, "pod-1", (void *)7L, &old);
	assert_int_equal((long)old, 2);
	assert_int_equal((long)hashmap_get(&m, "pod-1"), 7);
	assert_true(hashmap_contains(&m, "pod-3"));
	assert_false(hashmap_contains(&m, "pod-2"));

	/* Churn with tombstones keeps working and iteration sees each live key once. */
	for (int round = 0; round < 20; round++)
		for (long i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "tmp-%ld", i);
			hashmap_put(&m, key, (void *)1L, NULL);
			hashmap_remove(&m, key);
		}
	size_t iter = 0, seen = 0;
	const char *k;
	while (hashmap_next(&m, &iter, &k, NULL))
		seen++;
	assert_int_equal(seen, 2500);
	hashmap_free(&m, NULL);
}

static void
test_strv(void **state)
{
	_cleanup_strv_ char **v = NULL;
	assert_int_equal(strv_length(v), 0);
	assert_null(strv_copy(v));
	assert_int_equal(strv_push(&v, "sh"), 0);
	assert_int_equal(strv_pushf(&v, "-%c", 'c'), 0);
	assert_int_equal(strv_push(&v, "echo hi"), 0);
	assert_int_equal(strv_length(v), 3);
	assert_string_equal(v[1], "-c");
	assert_null(v[3]);
	_cleanup_strv_ char **c = strv_copy(v);
	assert_int_equal(strv_length(c), 3);
	assert_string_equal(c[2], "echo hi");
	assert_ptr_not_equal(c[2], v[2]);

	json_t *arr = json_pack("[s, s]", "a", "b");
	_cleanup_strv_ char **j = NULL;
	assert_int_equal(strv_from_json(arr, &j), 0);
	assert_int_equal(strv_length(j), 2);
	assert_string_equal(j[0], "a");
	json_decref(arr);
	char **none = (char **)1;
	assert_int_equal(strv_from_json(NULL, &none), 0);
	assert_null(none);
	arr = json_pack("[s, i]", "a", 1);
	char **bad = NULL;
	assert_int_equal(strv_from_json(arr, &bad), KORCH_EINVALID);
	assert_null(bad);
	json_decref(arr);
	json_t *obj = json_object();
	assert_int_equal(strv_from_json(obj, &bad), KORCH_EINVALID);
	json_decref(obj);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf),
		cmocka_unit_test(test_ptrvec),
		cmocka_unit_test(test_hashmap),
		cmocka_unit_test(test_strv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
