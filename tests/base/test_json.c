/*
 * json_at_path: objects by key, arrays by index, NULL for any missing or mistyped step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "base/json.h"

static void
test_at_path(void **state)
{
	(void)state;
	_cleanup_json_ json_t *v =
		json_loads("{\"status\":{\"nodeInfo\":{\"kubeletVersion\":\"v1.32\"}},"
			   "\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},\"n\":3}",
			   0, NULL);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_at_path(v, "status.nodeInfo.kubeletVersion")),
			    "v1.32");
	assert_string_equal(json_string_value(json_at_path(v, "spec.containers.1.name")), "b");
	assert_ptr_equal(json_at_path(v, ""), v);
	assert_ptr_equal(json_at_path(v, NULL), v);
	assert_ptr_equal(json_at_path(v, "status"), json_object_get(v, "status"));
	/* Missing keys, an index past the end, a key into an array, a step past a scalar. */
	assert_null(json_at_path(v, "status.nodeInfo.osImage"));
	assert_null(json_at_path(v, "spec.containers.2.name"));
	assert_null(json_at_path(v, "spec.containers.-1"));
	assert_null(json_at_path(v, "spec.containers.name"));
	assert_null(json_at_path(v, "n.x"));
	assert_null(json_at_path(NULL, "n"));
	/* A step longer than any key korch uses is not found rather than cut. */
	char path[400];
	memset(path, 'k', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_null(json_at_path(v, path));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_at_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
