/*
 * Go's text forms, checked against what Go prints: strconv.Quote, strconv.FormatFloat's shortest
 * forms, and JSON as json-iterator / encoding/json write it for Kubernetes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <korch/common.h>
#include "base/quote.h"

static void
check(const char *in, size_t len, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(strbuf_put_go_quoted(&sb, in, len), 0);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_free(&sb);
}

static void
test_quote_ascii(void **state)
{
	check("", strlen(""), "\"\"");
	check("my-name", strlen("my-name"), "\"my-name\"");
	check("a b", strlen("a b"), "\"a b\"");
	check("say \"hi\"\\", strlen("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
	check("\a\b\f\n\r\t\v", strlen("\a\b\f\n\r\t\v"), "\"\\a\\b\\f\\n\\r\\t\\v\"");
	check("\x01\x1f\x7f", strlen("\x01\x1f\x7f"), "\"\\x01\\x1f\\x7f\"");
	check("a\0b", 3, "\"a\\x00b\"");
	check("'`~!@#$%^&*()", strlen("'`~!@#$%^&*()"), "\"'`~!@#$%^&*()\"");
}

static void
test_quote_utf8(void **state)
{
	check("caf\xc3\xa9", strlen("caf\xc3\xa9"), "\"caf\xc3\xa9\"");    /* é stays */
	check("\xe2\x82\xac", strlen("\xe2\x82\xac"), "\"\xe2\x82\xac\""); /* € stays */
	check("\xf0\x9f\x98\x80", strlen("\xf0\x9f\x98\x80"),
	      "\"\xf0\x9f\x98\x80\"");                                /* emoji stays */
	check("\xc2\xa0", strlen("\xc2\xa0"), "\"\\u00a0\"");         /* no-break space */
	check("\xc2\x85", strlen("\xc2\x85"), "\"\\u0085\"");         /* C1 control */
	check("\xe2\x80\x8b", strlen("\xe2\x80\x8b"), "\"\\u200b\""); /* zero-width space */
	check("\xef\xbb\xbf", strlen("\xef\xbb\xbf"), "\"\\ufeff\""); /* BOM */
	check("\xf3\xb0\x80\x80", strlen("\xf3\xb0\x80\x80"), "\"\\U000f0000\""); /* private use */
	check("\xff", strlen("\xff"), "\"\\xff\"");                               /* invalid byte */
	check("\xc3", strlen("\xc3"), "\"\\xc3\"");                               /* truncated */
	check("\xc0\xaf", strlen("\xc0\xaf"), "\"\\xc0\\xaf\"");                  /* overlong */
	check("\xed\xa0\x80", strlen("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");     /* surrogate */
	check("\xf4\x90\x80\x80", strlen("\xf4\x90\x80\x80"),
	      "\"\\xf4\\x90\\x80\\x80\""); /* past U+10FFFF */
}

static void
test_go_quote(void **state)
{
	char *q = go_quote("x y");
	assert_string_equal(q, "\"x y\"");
	free(q);
}

static void
check_float(double v, char fmt, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(strbuf_put_go_float(&sb, v, fmt), 0);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_free(&sb);
}

/* Each expectation is what Go 1.23 prints for strconv.FormatFloat(v, fmt, -1, 64). */
static void
test_go_float(void **state)
{
	check_float(1e6, 'g', "1e+06");
	check_float(100000, 'g', "100000");
	check_float(123456789, 'g', "1.23456789e+08");
	check_float(0.0001, 'g', "0.0001");
	check_float(0.00001, 'g', "1e-05");
	check_float(0.1, 'g', "0.1");
	check_float(1.5, 'g', "1.5");
	check_float(-2.25, 'g', "-2.25");
	check_float(0, 'g', "0");
	check_float(-0.0, 'g', "-0");
	check_float(0.3, 'e', "3e-01");
	check_float(0, 'e', "0e+00");
	check_float(123.456, 'e', "1.23456e+02");
	check_float(1e21, 'f', "1000000000000000000000");
	check_float(0.000123, 'f', "0.000123");
	check_float(5e-324, 'e', "5e-324");
	check_float(1.7976931348623157e308, 'e', "1.7976931348623157e+308");
	check_float(0.1 + 0.2, 'g', "0.30000000000000004");
	check_float(INFINITY, 'g', "+Inf");
	check_float(-INFINITY, 'f', "-Inf");
	check_float(NAN, 'e', "NaN");
}

static void
check_json_string(const char *in, size_t len, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(strbuf_put_go_json_string(&sb, in, len), 0);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_free(&sb);
}

static void
test_go_json_string(void **state)
{
	check_json_string("web", 3, "\"web\"");
	check_json_string("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	check_json_string("\n\r\t", 3, "\"\\n\\r\\t\"");
	/* json-iterator writes \b and \f as \u escapes, like every other control */
	check_json_string("\b\f\x01\x1f", 4, "\"\\u0008\\u000c\\u0001\\u001f\"");
	check_json_string("a\0b", 3, "\"a\\u0000b\"");
	/* HTML-safe */
	check_json_string("<a&b>", 5, "\"\\u003ca\\u0026b\\u003e\"");
	check_json_string("\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\"");
	/* other UTF-8 as it is, DEL too; invalid bytes become U+FFFD */
	check_json_string("caf\xc3\xa9\x7f", 6, "\"caf\xc3\xa9\x7f\"");
	check_json_string("a\xff"
			  "b\xc3",
			  4, "\"a\\ufffdb\\ufffd\"");
}

static void
check_json(const char *in, const char *want)
{
	json_error_t e;
	json_t *v = json_loads(in, JSON_DECODE_ANY, &e);
	assert_non_null(v);
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(strbuf_put_go_json(&sb, v), 0);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_free(&sb);
	json_decref(v);
}

static void
test_go_json(void **state)
{
	check_json("{\"name\":\"web\"}", "{\"name\":\"web\"}");
	/* Go maps: keys sorted bytewise */
	check_json("{\"protocol\":\"TCP\",\"containerPort\":80}",
		   "{\"containerPort\":80,\"protocol\":\"TCP\"}");
	check_json("{\"b\":[1,true,null,{\"z\":1,\"a\":false}],\"B\":-7}",
		   "{\"B\":-7,\"b\":[1,true,null,{\"a\":false,\"z\":1}]}");
	check_json("\"<x>\"", "\"\\u003cx\\u003e\"");
	check_json("2.0", "2");
	check_json("1.5", "1.5");
	check_json("1e-7", "1e-7");
	check_json("1.5e-10", "1.5e-10");
	check_json("1e21", "1e+21");
	check_json("1e20", "100000000000000000000");
	check_json("0.000001", "0.000001");
	check_json("-9223372036854775808", "-9223372036854775808");
	check_json("[]", "[]");
	check_json("{}", "{}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_ascii),    cmocka_unit_test(test_quote_utf8),
		cmocka_unit_test(test_go_quote),       cmocka_unit_test(test_go_float),
		cmocka_unit_test(test_go_json_string), cmocka_unit_test(test_go_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
