/* Go-style quoting, checked against what Go's strconv.Quote prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_ascii),
		cmocka_unit_test(test_quote_utf8),
		cmocka_unit_test(test_go_quote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
