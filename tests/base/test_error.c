/* korch_error: codes, messages, saved errno, prefixing, causes, the out-of-memory singleton. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "base/error.h"

static int
open_config(korch_error **err)
{
	return error_errno(err, ENOENT, "open %s", "/etc/korch/korch.yaml");
}

static void
test_errno_and_prefix(void **state)
{
	korch_error *err = NULL;
	int r = open_config(&err);
	assert_int_equal(r, KORCH_ESYSTEM);
	assert_int_equal(korch_error_code(err), KORCH_ESYSTEM);
	assert_int_equal(korch_error_errno(err), ENOENT);
	r = korch_error_prefix(&err, r, "load config");
	assert_int_equal(r, KORCH_ESYSTEM);
	assert_string_equal(korch_error_message(err),
			    "load config: open /etc/korch/korch.yaml: No such file or directory");
	korch_error_free(err);
}

static void
test_set_errno(void **state)
{
	korch_error *err = NULL;
	assert_int_equal(error_set_errno(&err, KORCH_ENOTFOUND, -ENOENT, "exec \"%s\": gone", "x"),
			 KORCH_ENOTFOUND);
	assert_int_equal(korch_error_code(err), KORCH_ENOTFOUND);
	assert_int_equal(korch_error_errno(err), ENOENT);
	assert_string_equal(korch_error_message(err), "exec \"x\": gone");
	/* The first error wins here too. */
	assert_int_equal(error_set_errno(&err, KORCH_EINVALID, 0, "second"), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "exec \"x\": gone");
	korch_error_free(err);
	assert_int_equal(error_set_errno(NULL, KORCH_ESYSTEM, EIO, "nowhere"), KORCH_ESYSTEM);
}

static void
test_first_error_wins(void **state)
{
	korch_error *err = NULL;
	error_set(&err, KORCH_ENOTFOUND, "pod %s not found", "web");
	assert_int_equal(error_set(&err, KORCH_EINVALID, "second"), KORCH_EINVALID);
	assert_int_equal(korch_error_code(err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "pod web not found");
	korch_error_free(err);
}

static void
test_null_err_is_fine(void **state)
{
	assert_int_equal(error_set(NULL, KORCH_EEXISTS, "x"), KORCH_EEXISTS);
	assert_int_equal(error_errno(NULL, EPERM, "x"), KORCH_ESYSTEM);
	assert_int_equal(error_errno(NULL, -ENOMEM, "x"), KORCH_ENOMEM);
	assert_int_equal(korch_error_prefix(NULL, -3, "x"), -3);
	korch_error_free(NULL);
	assert_int_equal(korch_error_code(NULL), KORCH_OK);
}

static void
test_causes(void **state)
{
	korch_error *err = NULL;
	error_add_cause(&err, "FieldValueRequired", "spec.containers[0].image", "Required value");
	error_add_cause(&err, "FieldValueInvalid", "spec.replicas",
			"Invalid value: -1: must be greater than or equal to 0");
	assert_int_equal(korch_error_code(err), KORCH_EINVALID);
	assert_int_equal(korch_error_cause_count(err), 2);
	assert_string_equal(korch_error_cause_field(err, 0), "spec.containers[0].image");
	assert_string_equal(korch_error_cause_reason(err, 1), "FieldValueInvalid");
	assert_string_equal(korch_error_cause_message(err, 1),
			    "Invalid value: -1: must be greater than or equal to 0");
	assert_null(korch_error_cause_field(err, 2));
	error_set_message(err, "Deployment.apps \"web\" is invalid");
	assert_string_equal(korch_error_message(err), "Deployment.apps \"web\" is invalid");
	korch_error_free(err);
}

static void
test_oom_singleton(void **state)
{
	korch_error *err = NULL;
	assert_int_equal(error_oom(&err), KORCH_ENOMEM);
	assert_string_equal(korch_error_message(err), "out of memory");
	korch_error_prefix(&err, KORCH_ENOMEM, "ignored");
	assert_string_equal(korch_error_message(err), "out of memory");
	korch_error_free(err); /* a no-op on the static object */
}

static void
test_propagate(void **state)
{
	korch_error *inner = NULL, *outer = NULL;
	error_set(&inner, KORCH_ECONFLICT, "stale");
	assert_int_equal(error_propagate(&outer, &inner, KORCH_ECONFLICT), KORCH_ECONFLICT);
	assert_null(inner);
	assert_string_equal(korch_error_message(outer), "stale");
	korch_error_free(outer);
}

static void
test_strerror(void **state)
{
	assert_string_equal(korch_strerror(KORCH_ENOTFOUND), "not found");
	assert_string_equal(korch_strerror(KORCH_EUNSUPPORTED), "not supported by korch");
	assert_string_equal(korch_strerror(-999), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_and_prefix), cmocka_unit_test(test_set_errno),
		cmocka_unit_test(test_first_error_wins), cmocka_unit_test(test_null_err_is_fine),
		cmocka_unit_test(test_causes),           cmocka_unit_test(test_oom_singleton),
		cmocka_unit_test(test_propagate),        cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
