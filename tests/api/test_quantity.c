/*
 * Quantities: parsing, rounding, comparison, Value()/MilliValue() and String() checked against
 * what k8s.io/apimachinery/pkg/api/resource gives for the same input (cases modelled on its
 * quantity_test.go: TestQuantityParse, TestQuantityString, TestQuantityParseEmit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include <korch/common.h>
#include "api/quantity.h"

#define MSG_FORMAT                                      \
	"quantities must match the regular expression " \
	"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define MSG_NUMERIC "unable to parse numeric part of quantity"
#define MSG_SUFFIX "unable to parse quantity's suffix"

#define DSI QUANTITY_DECIMAL_SI
#define BSI QUANTITY_BINARY_SI
#define DEX QUANTITY_DECIMAL_EXPONENT

/* Parses s, expecting success. */
static struct quantity
parse_ok(const char *s)
{
	struct quantity q;
	korch_error *err = NULL;
	int r = quantity_parse(s, &q, &err);
	if (r != 0)
		fail_msg("%s: %s", s, korch_error_message(err));
	return q;
}

/* The nano count as a decimal string, for exact comparisons. */
static const char *
nano_str(__int128 v, char buf[64])
{
	char tmp[64];
	int n = 0;
	unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	do {
		tmp[n++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u);
	int len = 0;
	if (v < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = tmp[--n];
	buf[len] = '\0';
	return buf;
}

/* What Kubernetes gives for an input: its value in nano units, format and String(). */
struct parse_case {
	const char *in;
	const char *nano;
	enum quantity_format format;
	const char *str;
};

static const struct parse_case parse_cases[] = {
	{ "0", "0", DSI, "0" },
	{ "0n", "0", DSI, "0" },
	{ "0u", "0", DSI, "0" },
	{ "0m", "0", DSI, "0" },
	{ "0Ki", "0", BSI, "0" },
	{ "0k", "0", DSI, "0" },
	{ "0Mi", "0", BSI, "0" },
	{ "0M", "0", DSI, "0" },
	{ "0Gi", "0", BSI, "0" },
	{ "0G", "0", DSI, "0" },
	{ "0Ti", "0", BSI, "0" },
	{ "0T", "0", DSI, "0" },
	{ "1", "1000000000", DSI, "1" },
	/* binary suffixes */
	{ "1Ki", "1024000000000", BSI, "1Ki" },
	{ "8Ki", "8192000000000", BSI, "8Ki" },
	{ "7Mi", "7340032000000000", BSI, "7Mi" },
	{ "6Gi", "6442450944000000000", BSI, "6Gi" },
	{ "5Ti", "5497558138880000000000", BSI, "5Ti" },
	{ "4Pi", "4503599627370496000000000", BSI, "4Pi" },
	{ "3Ei", "3458764513820540928000000000", BSI, "3Ei" },
	{ "10Ti", "10995116277760000000000", BSI, "10Ti" },
	{ "100Ti", "109951162777600000000000", BSI, "100Ti" },
	{ "1024Ki", "1048576000000000", BSI, "1Mi" },
	{ "2048Ki", "2097152000000000", BSI, "2Mi" },
	{ "1025Ki", "1049600000000000", BSI, "1025Ki" },
	{ "1000Ki", "1024000000000000", BSI, "1000Ki" },
	/* decimal suffixes */
	{ "5n", "5", DSI, "5n" },
	{ "4u", "4000", DSI, "4u" },
	{ "3m", "3000000", DSI, "3m" },
	{ "9", "9000000000", DSI, "9" },
	{ "8k", "8000000000000", DSI, "8k" },
	{ "50k", "50000000000000", DSI, "50k" },
	{ "7M", "7000000000000000", DSI, "7M" },
	{ "6G", "6000000000000000000", DSI, "6G" },
	{ "5T", "5000000000000000000000", DSI, "5T" },
	{ "40T", "40000000000000000000000", DSI, "40T" },
	{ "300T", "300000000000000000000000", DSI, "300T" },
	{ "2P", "2000000000000000000000000", DSI, "2P" },
	{ "1E", "1000000000000000000000000000", DSI, "1E" },
	{ "1000", "1000000000000", DSI, "1k" },
	{ "1000m", "1000000000", DSI, "1" },
	{ "1000M", "1000000000000000000", DSI, "1G" },
	/* decimal exponents */
	{ "1E-3", "1000000", DEX, "1E-3" },
	{ "1e3", "1000000000000", DEX, "1e3" },
	{ "1E6", "1000000000000000", DEX, "1E6" },
	{ "1e9", "1000000000000000000", DEX, "1e9" },
	{ "1E12", "1000000000000000000000", DEX, "1E12" },
	{ "1e15", "1000000000000000000000000", DEX, "1e15" },
	{ "1E18", "1000000000000000000000000000", DEX, "1E18" },
	{ "1e14", "100000000000000000000000", DEX, "100e12" },
	{ "1e13", "10000000000000000000000", DEX, "10e12" },
	{ "2e3", "2000000000000", DEX, "2e3" },
	{ "1000e0", "1000000000000", DEX, "1e3" },
	{ "100.035k", "100035000000000", DSI, "100.035k" },
	/* things that look like floating point */
	{ "0.001", "1000000", DSI, "1m" },
	{ "0.0005k", "500000000", DSI, "500m" },
	{ "0.005", "5000000", DSI, "5m" },
	{ "0.05", "50000000", DSI, "50m" },
	{ "0.5", "500000000", DSI, "500m" },
	{ "1.5", "1500000000", DSI, "1500m" },
	{ "0.00050k", "500000000", DSI, "500m" },
	{ "0.00500", "5000000", DSI, "5m" },
	{ "0.05000", "50000000", DSI, "50m" },
	{ "0.50000", "500000000", DSI, "500m" },
	{ "0.5e0", "500000000", DEX, "500e-3" },
	{ "0.5e-1", "50000000", DEX, "50e-3" },
	{ "0.5e-2", "5000000", DEX, "5e-3" },
	{ "10.035M", "10035000000000000", DSI, "10.035M" },
	{ "1.2e3", "1200000000000", DEX, "1200" },
	{ "1.3E+6", "1300000000000000", DEX, "1300e3" },
	{ "1.40e9", "1400000000000000000", DEX, "1400e6" },
	{ "1.53E12", "1530000000000000000000", DEX, "1530e9" },
	{ "1.6e15", "1600000000000000000000000", DEX, "1600e12" },
	{ "1.7E18", "1700000000000000000000000000", DEX, "1700e15" },
	{ "9.01", "9010000000", DSI, "9010m" },
	{ "8.1k", "8100000000000", DSI, "8100" },
	{ "7.123456M", "7123456000000000", DSI, "7.123456M" },
	{ "6.987654321G", "6987654321000000000", DSI, "6.987654321G" },
	{ "5.444T", "5444000000000000000000", DSI, "5.444T" },
	{ "40.1T", "40100000000000000000000", DSI, "40100G" },
	{ "300.2T", "300200000000000000000000", DSI, "300200G" },
	{ "2.5P", "2500000000000000000000000", DSI, "2500T" },
	{ "1.01E", "1010000000000000000000000000", DSI, "1010P" },
	{ "1.500", "1500000000", DSI, "1.500" },
	/* things that round up to nano units, and binary values that clamp */
	{ "3.001n", "4", DSI, "4n" },
	{ "1.1E-9", "2", DEX, "2e-9" },
	{ "0.0000000001", "1", DSI, "1n" },
	{ "0.0000000005", "1", DSI, "1n" },
	{ "0.00000000050", "1", DSI, "1n" },
	{ "0.5e-9", "1", DEX, "1e-9" },
	{ "0.9n", "1", DSI, "1n" },
	{ "0.00000012345", "124", DSI, "124n" },
	{ "0.00000012354", "124", DSI, "124n" },
	{ "9Ei", "9223372036854775807000000000", BSI, "9223372036854775807" },
	{ "9223372036854775807Ki", "9223372036854775807000000000", BSI, "9223372036854775807" },
	{ "99999999999999999999999999999999999999999999Ei", "9223372036854775807000000000", BSI,
	  "9223372036854775807" },
	{ "12E", "12000000000000000000000000000", DSI, "12E" },
	/* fractional binary values */
	{ "100.035Ki", "102435840000000", BSI, "102435840m" },
	{ "0.5Mi", "524288000000000", BSI, "512Ki" },
	{ "0.5Gi", "536870912000000000", BSI, "512Mi" },
	{ "0.05Gi", "53687091200000000", BSI, "53687091200m" },
	{ "0.025Ti", "27487790694400000000", BSI, "27487790694400m" },
	{ "1.5Ki", "1536000000000", BSI, "1536" },
	{ ".001Ki", "1024000000", BSI, "1024m" },
	{ ".000001Ki", "1024000", DSI, "1024u" },
	{ ".000000001Ki", "1024", DSI, "1024n" },
	{ "0.000000000001Ki", "2", DSI, "2n" },
	/* things written by trolls */
	{ ".001", "1000000", DSI, "1m" },
	{ ".0001k", "100000000", DSI, "100m" },
	{ "1.", "1000000000", DSI, "1." },
	{ "1.G", "1000000000000000000", DSI, "1.G" },
	{ "01", "1000000000", DSI, "01" },
	{ "+1", "1000000000", DSI, "+1" },
	{ "+", "0", DSI, "0" },
	{ "-", "0", DSI, "0" },
	{ ".", "0", DSI, "0" },
	{ "M", "0", DSI, "0" },
	{ "Ki", "0", BSI, "0" },
	{ "e3", "0", DEX, "0" },
	/* signs */
	{ "-1", "-1000000000", DSI, "-1" },
	{ "-0", "0", DSI, "0" },
	{ "-1.5", "-1500000000", DSI, "-1500m" },
	{ "-1024Ki", "-1048576000000000", BSI, "-1Mi" },
	{ "-0.5Gi", "-536870912000000000", BSI, "-512Mi" },
	{ "-0.0000000001", "-1", DSI, "-1n" },
	{ "-1000E", "-1000000000000000000000000000000", DSI, "-1" },
	/* large decimal values: past E Kubernetes prints the mantissa alone */
	{ "1000E", "1000000000000000000000000000000", DSI, "1" },
	{ "1e21", "1000000000000000000000000000000", DEX, "1e21" },
	{ "1e20", "100000000000000000000000000000", DEX, "100e18" },
	{ "99999999999999999999999999999", "99999999999999999999999999999000000000", DSI,
	  "99999999999999999999999999999" },
	/* exponents with signs and zeros */
	{ "1e+3", "1000000000000", DEX, "1e+3" },
	{ "1e-003", "1000000", DEX, "1e-003" },
	{ "5e-10", "1", DEX, "1e-9" },
	{ "1e-40", "1", DEX, "1e-9" },
	/* Go's int32() wraps the exponent: -1000 * 2^32 becomes 0 */
	{ "1e-4294967296000", "1000000000", DEX, "1e-4294967296000" },
};

static void
test_parse_table(void **state)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct quantity q = parse_ok(c->in);
		char nano[64], out[64];
		if (strcmp(nano_str(q.nano, nano), c->nano) != 0)
			fail_msg("%s: nano %s, want %s", c->in, nano, c->nano);
		if (q.format != c->format)
			fail_msg("%s: format %d, want %d", c->in, q.format, c->format);
		int n = quantity_format(&q, out);
		if (strcmp(out, c->str) != 0)
			fail_msg("%s: printed %s, want %s", c->in, out, c->str);
		assert_int_equal(n, (int)strlen(out));
	}
}

/* Every case, re-parsed from what it printed, has the same value (but "1000E"). */
static void
test_round_trip(void **state)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		struct quantity q = parse_ok(parse_cases[i].in), back;
		char out[64];
		quantity_format(&q, out);
		if (strstr(parse_cases[i].in, "1000E"))
			continue;
		assert_int_equal(quantity_parse(out, &back, NULL), 0);
		if (quantity_cmp(&q, &back) != 0)
			fail_msg("%s -> %s changed value", parse_cases[i].in, out);
	}
}

static void
test_invalid(void **state)
{
	static const struct {
		const char *in;
		const char *msg;
	} cases[] = {
		{ "", MSG_FORMAT },        { "1.1.M", MSG_FORMAT },
		{ "1+1.0M", MSG_FORMAT },  { "0.1mi", MSG_SUFFIX },
		{ "0.1am", MSG_FORMAT },   { "aoeu", MSG_FORMAT },
		{ ".5i", MSG_SUFFIX },     { "1i", MSG_SUFFIX },
		{ "-3.01i", MSG_SUFFIX },  { "-3.01e-", MSG_SUFFIX },
		{ " 1", MSG_FORMAT },      { "1 ", MSG_FORMAT },
		{ "1e", MSG_SUFFIX },      { "1ee3", MSG_SUFFIX },
		{ "1Mi3", MSG_SUFFIX },    { "1m3", MSG_SUFFIX },
		{ "+-1", MSG_SUFFIX },     { "1e99999999999999999999", MSG_SUFFIX },
		{ "100mx", MSG_FORMAT },   { "1,5", MSG_FORMAT },
		{ "0x10", MSG_FORMAT },    { "Ei", MSG_NUMERIC },
		{ ".Pi", MSG_NUMERIC },    { ".e-10", MSG_NUMERIC },
		{ "-.e-10", MSG_NUMERIC },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quantity q = { .nano = 42 };
		korch_error *err = NULL;
		int r = quantity_parse(cases[i].in, &q, &err);
		if (r != KORCH_EINVALID)
			fail_msg("%s: got %d", cases[i].in, r);
		assert_string_equal(korch_error_message(err), cases[i].msg);
		assert_true(q.nano == 42); /* untouched on failure */
		korch_error_free(err);
	}
}

static void
test_too_large(void **state)
{
	static const char *const cases[] = { "1e29",
					     "1e30",
					     "100000000000000000000000000000",
					     "6666666666666666666666666666666666666",
					     "5555555555555556e20",
					     "99999999999999999999999999999999999999999",
					     "999999999999999999E",
					     "1e2147483647",
					     /* Go's int32() wraps the exponent to 2147483647 (fuzzed) */
					     "1E7678923544780079103" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quantity q;
		korch_error *err = NULL;
		assert_int_equal(quantity_parse(cases[i], &q, &err), KORCH_ETOOLARGE);
		char want[128];
		snprintf(want, sizeof(want),
			 "quantity \"%s\" is too large: korch holds magnitudes below 1e29",
			 cases[i]);
		assert_string_equal(korch_error_message(err), want);
		korch_error_free(err);
	}
}

static void
test_cmp(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
		{ "1Gi", "1G", 1 },  { "1000m", "1", 0 },         { "0.5", "501m", -1 },
		{ "-1", "0", -1 },   { "1Ki", "1024", 0 },        { "1e3", "1k", 0 },
		{ "1n", "0", 1 },    { "128Mi", "134217728", 0 }, { "100m", "0.1", 0 },
		{ "2", "1999m", 1 }, { "1E", "1e18", 0 },         { "9Ei", "8Ei", 0 },
		{ "8Ei", "7Ei", 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quantity a = parse_ok(cases[i].a), b = parse_ok(cases[i].b);
		assert_int_equal(quantity_cmp(&a, &b), cases[i].want);
		assert_int_equal(quantity_cmp(&b, &a), -cases[i].want);
	}
}

static void
test_value(void **state)
{
	static const struct {
		const char *in;
		int64_t value, milli;
	} cases[] = {
		{ "1.5", 2, 1500 },
		{ "100m", 1, 100 },
		{ "0.1m", 1, 1 },
		{ "1n", 1, 1 },
		{ "1Ki", 1024, 1024000 },
		{ "128Mi", 134217728, 134217728000 },
		{ "0", 0, 0 },
		{ "-1.5", -2, -1500 },
		{ "-1n", -1, -1 },
		{ "1e3", 1000, 1000000 },
		{ "9Ei", INT64_MAX, INT64_MAX },
		{ "1E", 1000000000000000000, INT64_MAX },
		{ "-1000E", INT64_MIN, INT64_MIN },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quantity q = parse_ok(cases[i].in);
		if (quantity_value(&q) != cases[i].value)
			fail_msg("%s: value %lld", cases[i].in, (long long)quantity_value(&q));
		if (quantity_milli_value(&q) != cases[i].milli)
			fail_msg("%s: milli %lld", cases[i].in,
				 (long long)quantity_milli_value(&q));
	}
}

/* Quantities built by hand print canonically (TestQuantityString's table). */
static void
test_format_built(void **state)
{
	static const struct {
		long long nano_units; /* value in units of 10^-9 */
		long long times;      /* further factor */
		enum quantity_format format;
		const char *want;
	} cases[] = {
		{ 1000000000LL, 1024LL * 1024 * 1024, BSI, "1Gi" },
		{ 1000000000LL, 300LL * 1024 * 1024, BSI, "300Mi" },
		{ 1000000000LL, 6 * 1024, BSI, "6Ki" },
		{ 1000000000LL, 1001LL * 1024 * 1024 * 1024, BSI, "1001Gi" },
		{ 1000000000LL, 1024LL * 1024 * 1024 * 1024, BSI, "1Ti" },
		{ 1000000000LL, 5, BSI, "5" },
		{ 1000000LL, 500, BSI, "500m" },
		{ 1000000000LL, 1000000000LL, DSI, "1G" },
		{ 1000000LL, 1, DSI, "1m" },
		{ 1000000LL, 80, DSI, "80m" },
		{ 1000000LL, 1080, DSI, "1080m" },
		{ 1000000000LL, 300000000LL, DSI, "300M" },
		{ 1000000000LL, 1000000000000LL, DSI, "1T" },
		{ 1000000000LL, 1234567000000LL, DSI, "1234567M" },
		{ 1000000LL, 1234567, BSI, "1234567m" },
		{ 1000000000LL, 3000, DSI, "3k" },
		{ 1000000000LL, 1025, BSI, "1025" },
		{ 0, 0, DSI, "0" },
		{ 0, 0, BSI, "0" },
		{ 0, 0, DEX, "0" },
		{ 1000000000LL, 1000000000LL, DEX, "1e9" },
		{ 1000000LL, 1, DEX, "1e-3" },
		{ 1, 1, DEX, "1e-9" },
		{ 1000000LL, 80, DEX, "80e-3" },
		{ 1000000000LL, 300000000LL, DEX, "300e6" },
		{ 1000000000LL, 1000000000000LL, DEX, "1e12" },
		{ 1000000000LL, 1000, DEX, "1e3" },
		{ 1000000000LL, 3000, DEX, "3e3" },
		{ 1, 1, DSI, "1n" },
		{ 1, 80, DSI, "80n" },
		{ 1, 1080, DSI, "1080n" },
		{ 1000, 1, DSI, "1u" },
		{ 1000, 80, DSI, "80u" },
		{ 1000, 1080, DSI, "1080u" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quantity q = { .nano = (__int128)cases[i].nano_units * cases[i].times,
				      .format = cases[i].format };
		char out[64];
		quantity_format(&q, out);
		assert_string_equal(out, cases[i].want);
		/* and the negative, never "-0" */
		q.nano = -q.nano;
		quantity_format(&q, out);
		if (cases[i].times == 0) {
			assert_string_equal(out, "0");
		} else {
			char want[64];
			snprintf(want, sizeof(want), "-%s", cases[i].want);
			assert_string_equal(out, want);
		}
	}
}

static void
test_from_json(void **state)
{
	static const struct {
		const char *json;
		const char *str;
		enum quantity_format format;
	} cases[] = {
		{ "\"100m\"", "100m", DSI },
		{ "\" 100m \"", "100m", DSI },
		{ "2", "2", DSI },
		{ "0.5", "500m", DSI },
		{ "1.5", "1500m", DSI },
		{ "1000", "1k", DSI },
		{ "-3", "-3", DSI },
		{ "1e21", "1e+21", DEX },
		{ "1e-7", "100e-9", DEX },
		{ "0.1", "100m", DSI },
		{ "1.0", "1", DSI },
		{ "null", "0", DSI },
		{ "\"128Mi\"", "128Mi", BSI },
		{ "123456.25", "123456250m", DSI },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		struct quantity q;
		korch_error *err = NULL;
		if (quantity_from_json(v, &q, &err) != 0)
			fail_msg("%s: %s", cases[i].json, korch_error_message(err));
		char out[64];
		quantity_format(&q, out);
		if (strcmp(out, cases[i].str) != 0)
			fail_msg("%s: printed %s, want %s", cases[i].json, out, cases[i].str);
		assert_int_equal(q.format, cases[i].format);
		json_decref(v);
	}
	static const char *const bad[] = { "true", "{}", "[]", "\"\"", "\"1 2\"", "\"abc\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		struct quantity q;
		korch_error *err = NULL;
		assert_int_equal(quantity_from_json(v, &q, &err), KORCH_EINVALID);
		assert_string_equal(korch_error_message(err), MSG_FORMAT);
		korch_error_free(err);
		json_decref(v);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),  cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_invalid),      cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_cmp),          cmocka_unit_test(test_value),
		cmocka_unit_test(test_format_built), cmocka_unit_test(test_from_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
