/* kubectl JSONPath templates: the examples of kubectl's documentation and the edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api/jsonpath.h"
#include "base/error.h"

static const char *input =
	"{\"kind\":\"List\",\"items\":["
	"{\"kind\":\"None\",\"metadata\":{\"name\":\"127.0.0.1\","
	"\"labels\":{\"kubernetes.io/hostname\":\"a\"}},"
	"\"status\":{\"capacity\":{\"cpu\":\"4\"},"
	"\"addresses\":[{\"type\":\"LegacyHostIP\",\"address\":\"127.0.0.1\"}]}},"
	"{\"kind\":\"None\",\"metadata\":{\"name\":\"127.0.0.2\"},"
	"\"status\":{\"capacity\":{\"cpu\":\"8\"},"
	"\"addresses\":[{\"type\":\"LegacyHostIP\",\"address\":\"127.0.0.2\"},"
	"{\"type\":\"another\",\"address\":\"127.0.0.3\"}]}}],"
	"\"users\":[{\"name\":\"myself\",\"user\":{}},"
	"{\"name\":\"e2e\",\"user\":{\"username\":\"admin\",\"password\":\"secret\"}}],"
	"\"nums\":[1,2.5,1000000.0,0.0001,0.00001,true,null],"
	"\"replicas\":3}";

static void
check(const char *tmpl, bool allow_missing, const char *want)
{
	json_t *root = json_loads(input, 0, NULL);
	assert_non_null(root);
	struct jsonpath *jp = NULL;
	korch_error *err = NULL;
	int r = jsonpath_parse(tmpl, &jp, &err);
	if (r < 0)
		fail_msg("parse %s: %s", tmpl, korch_error_message(err));
	struct strbuf out = STRBUF_INIT;
	r = jsonpath_execute(jp, root, allow_missing, &out, &err);
	if (r < 0)
		fail_msg("execute %s: %s", tmpl, korch_error_message(err));
	if (strcmp(strbuf_str(&out), want) != 0)
		fail_msg("%s: got '%s', want '%s'", tmpl, strbuf_str(&out), want);
	strbuf_free(&out);
	jsonpath_free(jp);
	json_decref(root);
}

static void
test_documented_examples(void **state)
{
	check("kind is {.kind}", true, "kind is List");
	check("{\"{\"}", true, "{");
	check("{..name}", true, "127.0.0.1 127.0.0.2 myself e2e");
	check("{.items[*].metadata.name}", true, "127.0.0.1 127.0.0.2");
	check("{.users[0].name}", true, "myself");
	check("{.items[*]['metadata.name', 'status.capacity']}", true,
	      "127.0.0.1 127.0.0.2 {\"cpu\":\"4\"} {\"cpu\":\"8\"}");
	check("{.users[?(@.name==\"e2e\")].user.password}", true, "secret");
	check("{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}", true,
	      "[127.0.0.1, {\"cpu\":\"4\"}] [127.0.0.2, {\"cpu\":\"8\"}] ");
	check("{.items[*].status.addresses[?(@.type==\"LegacyHostIP\")].address}", true,
	      "127.0.0.1 127.0.0.2");
	check("{.users[-1:].name}", true, "e2e");
	check("{.users[?(@.user.username)].name}", true, "e2e");
}

static void
test_paths_and_values(void **state)
{
	check("{.replicas}", true, "3");
	check("{$.replicas}", true, "3");
	check("{.users[1]}", true,
	      "{\"name\":\"e2e\",\"user\":{\"password\":\"secret\",\"username\":\"admin\"}}");
	check("{.nums}", true, "[1,2.5,1000000,0.0001,0.00001,true,null]");
	check("{.nums[*]}", true, "1 2.5 1e+06 0.0001 1e-05 true ");
	check("{.nums[0:2]}", true, "1 2.5");
	check("{.nums[::3]}", true, "1 0.0001 ");
	check("{.items[0].metadata.labels['kubernetes.io/hostname']}", true, "a");
	check("{.items[0].metadata.labels.kubernetes\\.io/hostname}", true, "a");
	check("{.items[*].status.capacity.*}", true, "4 8");
	check("{range .users[*]}{.name}{\"\\n\"}{end}", true, "myself\ne2e\n");
	check("{range .items[*]}{range .status.addresses[*]}{.address};{end}{end}", true,
	      "127.0.0.1;127.0.0.2;127.0.0.3;");
	check("{.items[?(@.status.capacity.cpu>\"5\")].metadata.name}", true, "127.0.0.2");
	check("{.nums[?(@ > 2)]}", true, "2.5 1e+06");
	check("plain text", true, "plain text");
}

static void
test_missing_keys(void **state)
{
	check("{.metadata.nothere}", true, "");
	check("x{.users[5].name}y", true, "xy");
	json_t *root = json_loads(input, 0, NULL);
	struct jsonpath *jp = NULL;
	korch_error *err = NULL;
	assert_int_equal(jsonpath_parse("{.spec.replicas}", &jp, NULL), 0);
	struct strbuf out = STRBUF_INIT;
	assert_int_equal(jsonpath_execute(jp, root, false, &out, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "spec is not found");
	korch_error_free(err);
	err = NULL;
	jsonpath_free(jp);
	assert_int_equal(jsonpath_parse("{.users[5]}", &jp, NULL), 0);
	assert_int_equal(jsonpath_execute(jp, root, false, &out, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "array index out of bounds: index 5, length 2");
	korch_error_free(err);
	jsonpath_free(jp);
	strbuf_free(&out);
	json_decref(root);
}

static void
test_parse_errors(void **state)
{
	static const struct {
		const char *tmpl;
		const char *msg;
	} cases[] = {
		{ "{.items[", "error parsing jsonpath {.items[, invalid array index" },
		{ "{.items[0}", "error parsing jsonpath {.items[0}, unclosed array expect ]" },
		{ "{.kind", "error parsing jsonpath {.kind, unclosed action" },
		{ "{end}", "error parsing jsonpath {end}, not in range, nothing to end" },
		{ "{range .items[*]}{.x}",
		  "error parsing jsonpath {range .items[*]}{.x}, unclosed range: {end} is missing" },
		{ "{\"abc}", "error parsing jsonpath {\"abc}, unterminated quoted string" },
		{ "{.a[?(@.b == )]}",
		  "error parsing jsonpath {.a[?(@.b == )]}, unrecognized filter operand" },
		{ "{.a[1:2:0]}", "error parsing jsonpath {.a[1:2:0]}, step cannot be 0" },
		{ "{%}", "error parsing jsonpath {%}, unrecognized character in action" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jsonpath *jp = NULL;
		korch_error *err = NULL;
		assert_int_equal(jsonpath_parse(cases[i].tmpl, &jp, &err), KORCH_EINVALID);
		assert_null(jp);
		assert_string_equal(korch_error_message(err), cases[i].msg);
		korch_error_free(err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_examples),
		cmocka_unit_test(test_paths_and_values),
		cmocka_unit_test(test_missing_keys),
		cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
