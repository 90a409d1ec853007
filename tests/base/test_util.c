/* RFC 3339 times, Go durations, integers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>

#include <korch/common.h>
#include "base/macro.h"
#include "base/util.h"

static void
test_rfc3339(void **state)
{
	char buf[32];
	assert_string_equal(format_rfc3339(0, false, buf), "1970-01-01T00:00:00Z");
	int64_t t = 1795707660LL * NSEC_PER_SEC + 123456789;
	assert_string_equal(format_rfc3339(t, false, buf), "2026-11-26T15:41:00Z");
	assert_string_equal(format_rfc3339(t, true, buf), "2026-11-26T15:41:00.123456Z");

	int64_t v;
	assert_int_equal(parse_rfc3339("2026-11-26T15:41:00Z", &v), 0);
	assert_true(v == 1795707660LL * NSEC_PER_SEC);
	assert_int_equal(parse_rfc3339("2026-11-26T15:41:00.5Z", &v), 0);
	assert_true(v == 1795707660LL * NSEC_PER_SEC + 500000000);
	assert_int_equal(parse_rfc3339("2026-11-26T16:41:00+01:00", &v), 0);
	assert_true(v == 1795707660LL * NSEC_PER_SEC);
	assert_int_equal(parse_rfc3339("2000-02-29T00:00:00Z", &v), 0);
	assert_true(v == 951782400LL * NSEC_PER_SEC);
	assert_int_equal(parse_rfc3339("2026-11-26 15:41:00Z", &v), KORCH_EINVALID);
	assert_int_equal(parse_rfc3339("2026-13-26T15:41:00Z", &v), KORCH_EINVALID);
	assert_int_equal(parse_rfc3339("2026-11-26T15:41:00", &v), KORCH_EINVALID);
	assert_int_equal(parse_rfc3339("2026-11-26T15:41:00Zjunk", &v), KORCH_EINVALID);
	assert_int_equal(parse_rfc3339("", &v), KORCH_EINVALID);
}

static void
test_duration(void **state)
{
	int64_t v;
	assert_int_equal(parse_go_duration("300ms", &v), 0);
	assert_true(v == 300 * NSEC_PER_MSEC);
	assert_int_equal(parse_go_duration("2h45m", &v), 0);
	assert_true(v == (2 * 3600 + 45 * 60) * NSEC_PER_SEC);
	assert_int_equal(parse_go_duration("1.5h", &v), 0);
	assert_true(v == 5400 * NSEC_PER_SEC);
	assert_int_equal(parse_go_duration("-1s", &v), 0);
	assert_true(v == -NSEC_PER_SEC);
	assert_int_equal(parse_go_duration("0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(parse_go_duration("10", &v), KORCH_EINVALID);
	assert_int_equal(parse_go_duration("1d", &v), KORCH_EINVALID);
	assert_int_equal(parse_go_duration("", &v), KORCH_EINVALID);
	assert_int_equal(parse_go_duration("s", &v), KORCH_EINVALID);
}

static void
test_int64(void **state)
{
	int64_t v;
	assert_int_equal(parse_int64("42", &v), 0);
	assert_true(v == 42);
	assert_int_equal(parse_int64("-9223372036854775808", &v), 0);
	assert_int_equal(parse_int64("9223372036854775808", &v), KORCH_EINVALID);
	assert_int_equal(parse_int64("4x", &v), KORCH_EINVALID);
	assert_int_equal(parse_int64(" 4", &v), KORCH_EINVALID);
	assert_int_equal(parse_int64("", &v), KORCH_EINVALID);
	assert_true(endswith("deploy.yaml", ".yaml"));
	assert_false(endswith("ml", ".yaml"));
	assert_string_equal(startswith("apps/v1", "apps/"), "v1");
	assert_null(startswith("v1", "apps/"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_int64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
