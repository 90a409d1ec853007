/*
 * Name, label and annotation rules: each case's causes checked to the letter against the
 * messages of k8s.io/apimachinery/pkg/util/validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <korch/common.h>
#include "api/names.h"
#include "base/error.h"
#include "base/quote.h"

#define LABEL_RE                                                                                 \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " \
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', " \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define SUBDOMAIN_RE                                                                                \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "   \
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex " \
	"used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define DNS1035_RE                                                                                \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with " \
	"an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "   \
	"'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define QNAME_RE                                                                                    \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
	"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "      \
	"validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define VALUE_RE                                                                                    \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or " \
	"'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "          \
	"'my_value',  or '12345', regex used for validation is "                                    \
	"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define ENV_STRICT_RE                                                                               \
	"a valid environment variable name must consist of alphabetic characters, digits, '_', "    \
	"'-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or " \
	"'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
#define ENV_RELAXED                                                                                \
	"a valid environment variable name must consist only of printable ASCII characters other " \
	"than '='"

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* One case: the value, and the messages expected (NULL-terminated; none: valid). */
struct name_case {
	const char *value;
	const char *msgs[6];
};

typedef int (*validate_fn)(const char *, const char *, korch_error **);
typedef bool (*is_fn)(const char *);

/* Checks validate() and is() on every case, causes by reason, path and full message. */
static void
run_cases(const struct name_case *cases, size_t n, validate_fn validate, is_fn is)
{
	for (size_t i = 0; i < n; i++) {
		korch_error *err = NULL;
		int r = validate(cases[i].value, "metadata.name", &err);
		size_t want = 0;
		while (cases[i].msgs[want])
			want++;
		if (want == 0) {
			if (r != 0)
				fail_msg("%s: unexpected %s", cases[i].value,
					 korch_error_cause_message(err, 0));
			assert_null(err);
			if (is)
				assert_true(is(cases[i].value));
			continue;
		}
		assert_int_equal(r, KORCH_EINVALID);
		assert_non_null(err);
		assert_int_equal(korch_error_code(err), KORCH_EINVALID);
		if (korch_error_cause_count(err) != want)
			fail_msg("%s: %zu causes, want %zu (first: %s)", cases[i].value,
				 korch_error_cause_count(err), want,
				 korch_error_cause_message(err, 0));
		for (size_t j = 0; j < want; j++) {
			char expect[2048];
			char *quoted = go_quote(cases[i].value);
			snprintf(expect, sizeof(expect), "Invalid value: %s: %s", quoted,
				 cases[i].msgs[j]);
			free(quoted);
			assert_string_equal(korch_error_cause_message(err, j), expect);
			assert_string_equal(korch_error_cause_field(err, j), "metadata.name");
			assert_string_equal(korch_error_cause_reason(err, j), "FieldValueInvalid");
		}
		if (is)
			assert_false(is(cases[i].value));
		korch_error_free(err);
	}
}

static void
test_dns1123_label(void **state)
{
	char *max = repeat('a', 63), *over = repeat('a', 64);
	const struct name_case cases[] = {
		{ "a", { NULL } },
		{ "ab-c", { NULL } },
		{ "a-1", { NULL } },
		{ "1-a", { NULL } },
		{ "0", { NULL } },
		{ "a--1--2--b", { NULL } },
		{ max, { NULL } },
		{ "", { LABEL_RE } },
		{ "A", { LABEL_RE } },
		{ "ABC", { LABEL_RE } },
		{ "aBc", { LABEL_RE } },
		{ "-a", { LABEL_RE } },
		{ "a-", { LABEL_RE } },
		{ "a_b", { LABEL_RE } },
		{ "a b", { LABEL_RE } },
		{ "a@b", { LABEL_RE } },
		{ "a.b", { "must not contain dots" } },
		{ "my.name.example", { "must not contain dots" } },
		{ ".a", { LABEL_RE } },
		{ over, { "must be no more than 63 characters", NULL } },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]), validate_dns1123_label,
		  is_dns1123_label);
	free(max);
	free(over);
}

static void
test_dns1123_subdomain(void **state)
{
	char *max = repeat('a', 253), *over = repeat('a', 254);
	/* Labels longer than 63 inside a subdomain are fine: the regex sets no label length. */
	char *long_label = repeat('b', 100);
	char *over_dots = repeat('a', 254);
	over_dots[10] = '.';
	const struct name_case cases[] = {
		{ "a", { NULL } },
		{ "ab", { NULL } },
		{ "a.b.c", { NULL } },
		{ "example.com", { NULL } },
		{ "1.2.3", { NULL } },
		{ "a-1.b-2", { NULL } },
		{ "11.22.33.44", { NULL } },
		{ max, { NULL } },
		{ long_label, { NULL } },
		{ "", { SUBDOMAIN_RE } },
		{ "A.b", { SUBDOMAIN_RE } },
		{ "a..b", { SUBDOMAIN_RE } },
		{ ".a", { SUBDOMAIN_RE } },
		{ "a.", { SUBDOMAIN_RE } },
		{ "a.-b", { SUBDOMAIN_RE } },
		{ "a-.b", { SUBDOMAIN_RE } },
		{ "a_b", { SUBDOMAIN_RE } },
		{ "My-Pod", { SUBDOMAIN_RE } },
		{ "a/b", { SUBDOMAIN_RE } },
		{ over, { "must be no more than 253 characters", NULL } },
		{ over_dots, { "must be no more than 253 characters", NULL } },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]), validate_dns1123_subdomain,
		  is_dns1123_subdomain);
	/* Both messages at once, in Kubernetes' order. */
	over[0] = '-';
	const struct name_case both[] = {
		{ over, { "must be no more than 253 characters", SUBDOMAIN_RE } },
	};
	run_cases(both, 1, validate_dns1123_subdomain, is_dns1123_subdomain);
	free(max);
	free(over);
	free(long_label);
	free(over_dots);
}

static void
test_dns1035_label(void **state)
{
	char *over = repeat('a', 64);
	const struct name_case cases[] = {
		{ "a", { NULL } },
		{ "web", { NULL } },
		{ "my-svc-1", { NULL } },
		{ "1a", { DNS1035_RE } },
		{ "123", { DNS1035_RE } },
		{ "-a", { DNS1035_RE } },
		{ "a-", { DNS1035_RE } },
		{ "a.b", { DNS1035_RE } },
		{ "A", { DNS1035_RE } },
		{ "", { DNS1035_RE } },
		{ over, { "must be no more than 63 characters" } },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]), validate_dns1035_label,
		  is_dns1035_label);
	free(over);
}

static void
test_qualified_name(void **state)
{
	char *name63 = repeat('a', 63), *name64 = repeat('a', 64);
	char prefixed63[128], prefixed64[128], long_prefix[300];
	snprintf(prefixed63, sizeof(prefixed63), "example.com/%s", name63);
	snprintf(prefixed64, sizeof(prefixed64), "example.com/%s", name64);
	char *p254 = repeat('a', 254);
	snprintf(long_prefix, sizeof(long_prefix), "%s/a", p254);
	const struct name_case cases[] = {
		{ "simple", { NULL } },
		{ "now-with-dashes", { NULL } },
		{ "1-starts-with-num", { NULL } },
		{ "1234", { NULL } },
		{ "simple/simple", { NULL } },
		{ "now-with-dashes/simple", { NULL } },
		{ "now-with-dashes/now-with-dashes", { NULL } },
		{ "now.with.dots/simple", { NULL } },
		{ "now-with.dashes-and.dots/simple", { NULL } },
		{ "1-num.2-num/3-num", { NULL } },
		{ "1234/5678", { NULL } },
		{ "1.2.3.4/5678", { NULL } },
		{ "Uppercase_Is_OK_123", { NULL } },
		{ "example.com/Uppercase_Is_OK_123", { NULL } },
		{ "requests.storage-foo", { NULL } },
		{ "app.kubernetes.io/name", { NULL } },
		{ name63, { NULL } },
		{ prefixed63, { NULL } },
		{ "", { "name part must be non-empty", "name part " QNAME_RE } },
		{ "nospecialchars%^=@", { "name part " QNAME_RE } },
		{ "cantendwithadash-", { "name part " QNAME_RE } },
		{ "-cantstartwithadash-", { "name part " QNAME_RE } },
		{ "only/one/slash",
		  { "a qualified name " QNAME_RE
		    " with an optional DNS subdomain prefix and '/' (e.g. "
		    "'example.com/MyName')" } },
		{ "Example.com/abc", { "prefix part " SUBDOMAIN_RE } },
		{ "example_com/abc", { "prefix part " SUBDOMAIN_RE } },
		{ "example.com/", { "name part must be non-empty", "name part " QNAME_RE } },
		{ "/simple", { "prefix part must be non-empty" } },
		{ "/",
		  { "prefix part must be non-empty", "name part must be non-empty",
		    "name part " QNAME_RE } },
		{ name64, { "name part must be no more than 63 characters" } },
		{ prefixed64, { "name part must be no more than 63 characters" } },
		{ long_prefix, { "prefix part must be no more than 253 characters" } },
		{ "a b", { "name part " QNAME_RE } },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]), validate_qualified_name,
		  is_qualified_name);
	/* The joined form the selector parser uses. */
	struct name_problems p = { 0 };
	check_qualified_name("/", &p);
	char *joined = name_problems_join(&p, "; ");
	assert_string_equal(joined, "prefix part must be non-empty; name part must be non-empty; "
				    "name part " QNAME_RE);
	free(joined);
	free(name63);
	free(name64);
	free(p254);
}

static void
test_label_value(void **state)
{
	char *max = repeat('a', 63), *over = repeat('a', 64);
	const struct name_case cases[] = {
		{ "", { NULL } },
		{ "simple", { NULL } },
		{ "now-with-dashes", { NULL } },
		{ "1-starts-with-num", { NULL } },
		{ "end-with-num-1", { NULL } },
		{ "1234", { NULL } },
		{ "Uppercase_Is_OK_123", { NULL } },
		{ "a.b_c-d", { NULL } },
		{ max, { NULL } },
		{ "nospecialchars%^=@", { VALUE_RE } },
		{ "Tama-nui-te-rā.is.Māori.sun", { VALUE_RE } },
		{ "\\backslashes\\are\\bad", { VALUE_RE } },
		{ "-starts-with-dash", { VALUE_RE } },
		{ "ends-with-dash-", { VALUE_RE } },
		{ ".starts.with.dot", { VALUE_RE } },
		{ "ends.with.dot.", { VALUE_RE } },
		{ "a/b", { VALUE_RE } },
		{ over, { "must be no more than 63 characters" } },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]), validate_label_value, is_label_value);
	free(max);
	free(over);
}

static void
test_quoting_in_causes(void **state)
{
	korch_error *err = NULL;
	assert_int_equal(validate_label_value("a\"b\n", "metadata.labels", &err), KORCH_EINVALID);
	assert_string_equal(korch_error_cause_message(err, 0),
			    "Invalid value: \"a\\\"b\\n\": " VALUE_RE);
	korch_error_free(err);
}

static void
test_path_segment(void **state)
{
	struct {
		const char *value;
		bool prefix;
		const char *msgs[3];
	} cases[] = {
		{ "web", false, { NULL } },
		{ "a.b", false, { NULL } },
		{ "...", false, { NULL } },
		{ ".", false, { "may not be '.'" } },
		{ "..", false, { "may not be '..'" } },
		{ ".", true, { NULL } },
		{ "..", true, { NULL } },
		{ "a/b", false, { "may not contain '/'" } },
		{ "a%b", false, { "may not contain '%'" } },
		{ "a/%", false, { "may not contain '/'", "may not contain '%'" } },
		{ "a/%", true, { "may not contain '/'", "may not contain '%'" } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		korch_error *err = NULL;
		int r = validate_path_segment_name(cases[i].value, cases[i].prefix, "metadata.name",
						   &err);
		size_t want = 0;
		while (cases[i].msgs[want])
			want++;
		assert_int_equal(r, want ? KORCH_EINVALID : 0);
		assert_int_equal(is_path_segment_name(cases[i].value, cases[i].prefix), want == 0);
		assert_int_equal(korch_error_cause_count(err), want);
		for (size_t j = 0; j < want; j++) {
			char expect[256];
			snprintf(expect, sizeof(expect), "Invalid value: \"%s\": %s",
				 cases[i].value, cases[i].msgs[j]);
			assert_string_equal(korch_error_cause_message(err, j), expect);
		}
		korch_error_free(err);
	}
}

static void
test_env_var_name(void **state)
{
	const struct name_case relaxed[] = {
		{ "A", { NULL } },
		{ "ABC", { NULL } },
		{ "AbC_123", { NULL } },
		{ "abc", { NULL } },
		{ "a.b", { NULL } },
		{ "1ABC", { NULL } },
		{ "my env", { NULL } },
		{ "~!@#$%^&*()", { NULL } },
		{ "..", { NULL } },
		{ "", { "environment variable name must be non-empty" } },
		{ "a=b", { ENV_RELAXED } },
		{ "a\tb", { ENV_RELAXED } },
		{ "caf\xc3\xa9", { ENV_RELAXED } },
		{ "a\x7f", { ENV_RELAXED } },
	};
	for (size_t i = 0; i < sizeof(relaxed) / sizeof(relaxed[0]); i++) {
		korch_error *err = NULL;
		int r = validate_env_var_name(relaxed[i].value, "spec.containers[0].env[0].name",
					      &err);
		if (!relaxed[i].msgs[0]) {
			assert_int_equal(r, 0);
			assert_true(is_env_var_name(relaxed[i].value));
			continue;
		}
		assert_int_equal(r, KORCH_EINVALID);
		assert_false(is_env_var_name(relaxed[i].value));
		assert_int_equal(korch_error_cause_count(err), 1);
		assert_string_equal(korch_error_cause_field(err, 0),
				    "spec.containers[0].env[0].name");
		const char *m = korch_error_cause_message(err, 0);
		assert_non_null(strstr(m, relaxed[i].msgs[0]));
		assert_true(strncmp(m, "Invalid value: \"", 16) == 0);
		korch_error_free(err);
	}
	const struct name_case strict[] = {
		{ "A", { NULL } },
		{ "AbC_123", { NULL } },
		{ "_", { NULL } },
		{ "a.b", { NULL } },
		{ "a-b", { NULL } },
		{ ".a", { NULL } },
		{ "1ABC", { ENV_STRICT_RE } },
		{ "my env", { ENV_STRICT_RE } },
		{ "", { ENV_STRICT_RE } },
		{ ".", { "must not be '.'" } },
		{ "..", { "must not be '..'" } },
		{ "..a", { "must not start with '..'" } },
		{ "..=", { ENV_STRICT_RE, "must not start with '..'" } },
	};
	run_cases(strict, sizeof(strict) / sizeof(strict[0]), validate_env_var_name_strict, NULL);
}

static void
test_port_name(void **state)
{
	const struct name_case cases[] = {
		{ "telnet", { NULL } },
		{ "re-mail-ck", { NULL } },
		{ "pop3", { NULL } },
		{ "a", { NULL } },
		{ "a-1-b", { NULL } },
		{ "1-a", { NULL } },
		{ "123456789-a-cde", { NULL } },
		{ "1234567890abcdef", { "must be no more than 15 characters" } },
		{ "",
		  { "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
		    "must contain at least one letter (a-z)" } },
		{ "-http", { "must not begin or end with a hyphen" } },
		{ "http-", { "must not begin or end with a hyphen" } },
		{ "ht--tp", { "must not contain consecutive hyphens" } },
		{ "1234", { "must contain at least one letter (a-z)" } },
		{ "Http",
		  { "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)" } },
		{ "a_b",
		  { "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)" } },
		{ "--",
		  { "must contain at least one letter (a-z)",
		    "must not contain consecutive hyphens",
		    "must not begin or end with a hyphen" } },
		{ "-ABCDEFGHIJKLMN--",
		  { "must be no more than 15 characters",
		    "must contain only alpha-numeric characters (a-z, 0-9), "
		    "and hyphens (-)",
		    "must contain at least one letter (a-z)",
		    "must not contain consecutive hyphens",
		    "must not begin or end with a hyphen" } },
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]), validate_port_name, is_port_name);
}

static void
test_port_number(void **state)
{
	const int64_t good[] = { 1, 80, 8080, 65535 };
	const int64_t bad[] = { 0, -1, 65536, 2147483648LL };
	for (size_t i = 0; i < 4; i++) {
		assert_true(is_port_number(good[i]));
		assert_int_equal(validate_port_number(good[i], "spec.ports[0].port", NULL), 0);
	}
	for (size_t i = 0; i < 4; i++) {
		korch_error *err = NULL;
		assert_false(is_port_number(bad[i]));
		assert_int_equal(validate_port_number(bad[i], "spec.ports[0].port", &err),
				 KORCH_EINVALID);
		char expect[128];
		snprintf(expect, sizeof(expect),
			 "Invalid value: %lld: must be between 1 and 65535, inclusive",
			 (long long)bad[i]);
		assert_string_equal(korch_error_cause_message(err, 0), expect);
		assert_string_equal(korch_error_cause_field(err, 0), "spec.ports[0].port");
		korch_error_free(err);
	}
}

static void
test_labels_map(void **state)
{
	json_t *ok =
		json_pack("{s:s, s:s, s:s}", "app", "web", "example.com/tier", "", "a.b", "C_1");
	assert_int_equal(validate_labels(ok, "metadata.labels", NULL), 0);
	assert_int_equal(validate_labels(NULL, "metadata.labels", NULL), 0);
	json_decref(ok);

	json_t *bad = json_pack("{s:s, s:s, s:i}", "-app", "ok", "tier", "a b", "n", 1);
	korch_error *err = NULL;
	assert_int_equal(validate_labels(bad, "metadata.labels", &err), KORCH_EINVALID);
	assert_int_equal(korch_error_cause_count(err), 3);
	assert_string_equal(korch_error_cause_message(err, 0),
			    "Invalid value: \"-app\": name part " QNAME_RE);
	assert_string_equal(korch_error_cause_message(err, 1), "Invalid value: \"a b\": " VALUE_RE);
	assert_string_equal(korch_error_cause_reason(err, 2), "FieldValueTypeInvalid");
	assert_string_equal(korch_error_cause_message(err, 2),
			    "Invalid value: \"number\": expected a map of strings");
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(korch_error_cause_field(err, i), "metadata.labels");
	korch_error_free(err);
	json_decref(bad);

	json_t *arr = json_array();
	err = NULL;
	assert_int_equal(validate_labels(arr, "metadata.labels", &err), KORCH_EINVALID);
	assert_string_equal(korch_error_cause_message(err, 0),
			    "Invalid value: \"array\": expected a map of strings");
	korch_error_free(err);
	json_decref(arr);
}

static void
test_annotations(void **state)
{
	/* Keys are checked lower-cased; values may be anything. */
	json_t *ok = json_pack("{s:s, s:s}", "Example.COM/Key", "any value: with spaces / and %",
			       "kubectl.kubernetes.io/last-applied-configuration", "{}");
	assert_int_equal(validate_annotations(ok, "metadata.annotations", NULL), 0);
	json_decref(ok);

	korch_error *err = NULL;
	json_t *bad = json_pack("{s:s}", "Bad Key", "v");
	assert_int_equal(validate_annotations(bad, "metadata.annotations", &err), KORCH_EINVALID);
	assert_int_equal(korch_error_cause_count(err), 1);
	assert_string_equal(korch_error_cause_message(err, 0),
			    "Invalid value: \"Bad Key\": name part " QNAME_RE);
	korch_error_free(err);
	json_decref(bad);

	/* The total of keys and values: exactly 256 KiB passes, one byte more does not. */
	char *big = repeat('x', TOTAL_ANNOTATION_SIZE_LIMIT_BYTES - 1);
	json_t *limit = json_pack("{s:s}", "k", big);
	assert_int_equal(validate_annotations(limit, "metadata.annotations", NULL), 0);
	json_object_set_new(limit, "a", json_string(""));
	err = NULL;
	assert_int_equal(validate_annotations(limit, "metadata.annotations", &err), KORCH_EINVALID);
	assert_int_equal(korch_error_cause_count(err), 1);
	assert_string_equal(korch_error_cause_reason(err, 0), "FieldValueTooLong");
	assert_string_equal(korch_error_cause_field(err, 0), "metadata.annotations");
	assert_string_equal(korch_error_cause_message(err, 0),
			    "Too long: may not be more than 262144 bytes");
	korch_error_free(err);
	json_decref(limit);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns1123_label), cmocka_unit_test(test_dns1123_subdomain),
		cmocka_unit_test(test_dns1035_label), cmocka_unit_test(test_qualified_name),
		cmocka_unit_test(test_label_value),   cmocka_unit_test(test_quoting_in_causes),
		cmocka_unit_test(test_path_segment),  cmocka_unit_test(test_env_var_name),
		cmocka_unit_test(test_port_name),     cmocka_unit_test(test_port_number),
		cmocka_unit_test(test_labels_map),    cmocka_unit_test(test_annotations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
