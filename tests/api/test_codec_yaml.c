/*
 * YAML decoding: scalars resolved as Kubernetes' YAML path resolves them (go-yaml v2's table),
 * keys turned into strings as sigs.k8s.io/yaml does, duplicate keys, merge keys, anchors and
 * aliases, multi-document streams with their start lines, and bad input with exact messages.
 */
#include "test_codec.h"

/* Decodes "v: TEXT" and compares the value's compact JSON with want. */
static void
value_is(const char *text, const char *want)
{
	char in[256], out[256];
	snprintf(in, sizeof(in), "v: %s\n", text);
	snprintf(out, sizeof(out), "{\"v\":%s}", want);
	yaml_is(in, out);
}

static void
test_yaml_bools_and_nulls(void **state)
{
	static const char *const yes[] = { "y",    "Y",    "yes", "Yes", "YES", "true",
					   "True", "TRUE", "on",  "On",  "ON" };
	static const char *const no[] = { "n",     "N",     "no",  "No",  "NO", "false",
					  "False", "FALSE", "off", "Off", "OFF" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		value_is(yes[i], "true");
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		value_is(no[i], "false");
	static const char *const nulls[] = { "~", "null", "Null", "NULL", "" };
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		value_is(nulls[i], "null");
	/* Only those spellings. */
	value_is("yEs", "\"yEs\"");
	value_is("tRUE", "\"tRUE\"");
	value_is("nULL", "\"nULL\"");
	value_is("none", "\"none\"");
	value_is("onn", "\"onn\"");
	value_is("Y2", "\"Y2\"");
}

static void
test_yaml_integers(void **state)
{
	static const struct {
		const char *text, *json;
	} cases[] = {
		{ "0", "0" },
		{ "-0", "0" },
		{ "+12", "12" },
		{ "-12", "-12" },
		{ "0644", "420" }, /* leading 0: octal, as file modes in volumes are written */
		{ "-012", "-10" },
		{ "00", "0" },
		{ "0o644", "420" },
		{ "0O17", "15" },
		{ "0x1F", "31" },
		{ "0X1f", "31" },
		{ "-0x1F", "-31" },
		{ "+0x10", "16" },
		{ "0b101", "5" },
		{ "-0b101", "-5" },
		{ "1_000", "1000" },
		{ "0x_FF", "255" },
		{ "1__2", "12" },
		{ "-_1", "-1" },
		{ "9223372036854775807", "9223372036854775807" },
		{ "-9223372036854775808", "-9223372036854775808" },
		{ "0x7FFFFFFFFFFFFFFF", "9223372036854775807" },
		/* Not octal: 8 and 9 make it a float, which is integral. */
		{ "08", "8" },
		{ "0128", "128" },
		/* Not numbers at all. */
		{ "0x", "\"0x\"" },
		{ "0b2", "\"0b2\"" },
		{ "0o8", "\"0o8\"" },
		{ "+-1", "\"+-1\"" },
		{ "12abc", "\"12abc\"" },
		{ "1,000", "\"1,000\"" },
		{ "1:20", "\"1:20\"" }, /* base 60 is not resolved */
		{ "+", "\"+\"" },
		{ "[-]", "[\"-\"]" },
		{ "_1", "\"_1\"" },
		{ "0x1p3", "\"0x1p3\"" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		value_is(cases[i].text, cases[i].json);
}

static void
test_yaml_floats(void **state)
{
	static const struct {
		const char *text, *json;
	} cases[] = {
		{ "1.5", "1.5" },
		{ ".5", "0.5" },
		{ "-.5", "-0.5" },
		{ "+.5", "0.5" },
		{ "0.1", "0.10000000000000001" }, /* jansson prints 17 digits */
		{ "1.5e-3", "0.0015" },
		{ "-2.5E+2", "-250" },
		/* Integral floats become integers: Kubernetes sees them through Go's JSON. */
		{ "1.", "1" },
		{ "1.0", "1" },
		{ "1e3", "1000" },
		{ "1E3", "1000" },
		{ "-0.0", "0" },
		{ "1e-999", "0" },
		/* Past int64 they stay reals. */
		{ "6.02e23", "6.02e23" },
		{ "1_000.5", "1000.5" },
		/* Out of double's range Go keeps the text: so do we. */
		{ "1e999", "\"1e999\"" },
		{ "-1e999", "\"-1e999\"" },
		{ ".5e999", "\".5e999\"" },
		/* Not floats. */
		{ ".", "\".\"" },
		{ "._5", "\"._5\"" },
		{ ".5_0", "\".5_0\"" },
		{ "1.5.2", "\"1.5.2\"" },
		{ "1e", "\"1e\"" },
		{ "e3", "\"e3\"" },
		{ ".iNf", "\".iNf\"" },
		{ "inf", "\"inf\"" },
		{ "NaN", "\"NaN\"" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		value_is(cases[i].text, cases[i].json);

	static const char *const infnan[] = { ".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
					      "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN" };
	for (size_t i = 0; i < ARRAY_SIZE(infnan); i++) {
		char in[64], msg[128];
		snprintf(in, sizeof(in), "v: %s\n", infnan[i]);
		snprintf(msg, sizeof(msg),
			 "line 1 column 4: %s: infinity and NaN cannot be represented in JSON",
			 infnan[i]);
		yaml_fails(in, KORCH_EINVALID, msg);
	}
	yaml_fails("v: 9223372036854775808\n", KORCH_EINVALID,
		   "line 1 column 4: 9223372036854775808: integer out of range");
	yaml_fails("a: 1\nv: -9223372036854775809\n", KORCH_EINVALID,
		   "line 2 column 4: -9223372036854775809: integer out of range");
	yaml_fails("v: 0x8000000000000000\n", KORCH_EINVALID,
		   "line 1 column 4: 0x8000000000000000: integer out of range");
}

static void
test_yaml_strings_and_tags(void **state)
{
	static const struct {
		const char *text, *json;
	} cases[] = {
		/* Timestamps stay strings. */
		{ "2001-12-14", "\"2001-12-14\"" },
		{ "2001-12-14t21:59:43.10-05:00", "\"2001-12-14t21:59:43.10-05:00\"" },
		{ "2026-11-26T15:27:40Z", "\"2026-11-26T15:27:40Z\"" },
		/* Quoted and block scalars are strings whatever they look like. */
		{ "\"true\"", "\"true\"" },
		{ "'123'", "\"123\"" },
		{ "\"\"", "\"\"" },
		{ "'~'", "\"~\"" },
		{ "\"0644\"", "\"0644\"" },
		{ "\"a\\tb\\u00e9\"", "\"a\\tb\303\251\"" },
		{ "'it''s'", "\"it's\"" },
		{ "|\n  12\n", "\"12\\n\"" },
		/* Tags. */
		{ "!!str 123", "\"123\"" },
		{ "!!str true", "\"true\"" },
		{ "! 123", "\"123\"" },
		{ "!custom 123", "\"123\"" },
		{ "!!int \"12\"", "12" },
		{ "!!int 0x10", "16" },
		{ "!!float 1", "1" },
		{ "!!float \"1.5\"", "1.5" },
		{ "!!bool \"yes\"", "true" },
		{ "!!null \"\"", "null" },
		{ "!!timestamp 2001-12-14", "\"2001-12-14\"" },
		{ "!!map x", "\"x\"" },
		{ "!<tag:yaml.org,2002:int> 7", "7" },
		/* Plain text. */
		{ "hello world", "\"hello world\"" },
		{ "nginx:1.25", "\"nginx:1.25\"" },
		{ "a #not a comment? no: it is", "\"a\"" },
		{ "http://x/y?z=1#frag", "\"http://x/y?z=1#frag\"" },
		{ "caf\303\251", "\"caf\303\251\"" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		value_is(cases[i].text, cases[i].json);

	yaml_is("a: plain\n  continued\n", "{\"a\":\"plain continued\"}");
	yaml_is("a: |\n  one\n  two\nb: |-\n  x\nc: |+\n  y\n\nd: >\n  folded\n  text\n",
		"{\"a\":\"one\\ntwo\\n\",\"b\":\"x\",\"c\":\"y\\n\\n\",\"d\":\"folded text\\n\"}");

	yaml_fails("v: !!int abc\n", KORCH_EINVALID,
		   "line 1 column 4: cannot decode !!str `abc` as a !!int");
	yaml_fails("v: !!int 1.5\n", KORCH_EINVALID,
		   "line 1 column 4: cannot decode !!float `1.5` as a !!int");
	yaml_fails("v: !!bool 1\n", KORCH_EINVALID,
		   "line 1 column 4: cannot decode !!int `1` as a !!bool");
	yaml_fails("v: !!null x\n", KORCH_EINVALID,
		   "line 1 column 4: cannot decode !!str `x` as a !!null");
	yaml_fails("v: !!timestamp 12\n", KORCH_EINVALID,
		   "line 1 column 4: cannot decode !!int `12` as a !!timestamp");
	yaml_fails("v: !!int 2001-12-14\n", KORCH_EINVALID,
		   "line 1 column 4: cannot decode !!str `2001-12-14` as a !!int");
	yaml_fails("v: !!float .inf\n", KORCH_EINVALID,
		   "line 1 column 4: .inf: infinity and NaN cannot be represented in JSON");
	yaml_fails("v: !!binary aGVsbG8=\n", KORCH_EINVALID,
		   "line 1 column 4: !!binary is not supported: write the base64 text as a plain "
		   "string");
}

static void
test_yaml_keys(void **state)
{
	/* Numbers: integers in decimal, floats as Go formats a float32 ('g', shortest). */
	yaml_is("1: a\n0x10: b\n1.5: c\n0.1: d\n1e6: e\n3.14159265358979: f\n2.0: g\n",
		"{\"1\":\"a\",\"16\":\"b\",\"1.5\":\"c\",\"0.1\":\"d\",\"1e+06\":\"e\","
		"\"3.1415927\":\"f\",\"2\":\"g\"}");
	yaml_is("0.0001: a\n0.00001: b\n123456: c\n1234567.0: d\n",
		"{\"0.0001\":\"a\",\"1e-05\":\"b\",\"123456\":\"c\",\"1.234567e+06\":\"d\"}");
	yaml_is("y: a\nno: c\n2001-12-14: d\n.inf: e\n-.inf: f\n.nan: g\n-1: h\n",
		"{\"true\":\"a\",\"false\":\"c\",\"2001-12-14\":\"d\",\".inf\":\"e\","
		"\"-.inf\":\"f\",\".nan\":\"g\",\"-1\":\"h\"}");
	yaml_is("\"<<\": 1\n'1': 2\n!!str 3: 4\n", "{\"<<\":1,\"1\":2,\"3\":4}");

	yaml_fails("~: 1\n", KORCH_EINVALID, "line 1 column 1: unsupported map key: null");
	yaml_fails("a: 1\n? \n: 2\n", KORCH_EINVALID, "line 2 column 2: unsupported map key: null");
	yaml_fails("99999999999999999999: 1\n", KORCH_EINVALID,
		   "line 1 column 1: integer out of range");
	yaml_fails("? [a]\n: b\n", KORCH_EINVALID,
		   "line 1 column 3: invalid map key: a sequence cannot be a key");
	yaml_fails("{a: 1}: b\n", KORCH_EINVALID,
		   "line 1 column 1: invalid map key: a mapping cannot be a key");
}

static void
test_yaml_duplicates(void **state)
{
	yaml_fails("a: 1\nb: 2\na: 3\n", KORCH_EINVALID,
		   "line 3 column 1: mapping key \"a\" already defined at line 1");
	yaml_fails("spec:\n  x: 1\n  y:\n    z: 1\n  x: 2\n", KORCH_EINVALID,
		   "line 5 column 3: mapping key \"x\" already defined at line 2");
	yaml_fails("{a: 1, b: 2, a: 3}\n", KORCH_EINVALID,
		   "line 1 column 14: mapping key \"a\" already defined at line 1");
	/* Keys are compared after they became strings. */
	yaml_fails("1: a\n\"1\": b\n", KORCH_EINVALID,
		   "line 2 column 1: mapping key \"1\" already defined at line 1");
	yaml_fails("yes: a\ntrue: b\n", KORCH_EINVALID,
		   "line 2 column 1: mapping key \"true\" already defined at line 1");
	yaml_fails("\"a\\\"b\\n\": 1\n\"a\\\"b\\n\": 2\n", KORCH_EINVALID,
		   "line 2 column 1: mapping key \"a\\\"b\\n\" already defined at line 1");
	/* The same key in different mappings is fine. */
	yaml_is("- a: 1\n- a: 2\n", "[{\"a\":1},{\"a\":2}]");
}

static void
test_yaml_merge_keys(void **state)
{
	const char *base = "base: &base\n"
			   "  a: 1\n"
			   "  b: 2\n";
	char in[512];
	snprintf(in, sizeof(in), "%sx:\n  <<: *base\n  b: 3\n  c: 4\n", base);
	yaml_is(in, "{\"base\":{\"a\":1,\"b\":2},\"x\":{\"a\":1,\"b\":3,\"c\":4}}");
	/* Explicit keys win wherever they are; merged keys sit where << is. */
	snprintf(in, sizeof(in), "%sx:\n  c: 0\n  b: 9\n  <<: *base\n  d: 5\n", base);
	yaml_is(in, "{\"base\":{\"a\":1,\"b\":2},\"x\":{\"c\":0,\"b\":9,\"a\":1,\"d\":5}}");
	/* In a list, earlier mappings win. */
	yaml_is("b1: &b1 {a: 1}\nb2: &b2 {a: 2, d: 5}\nx:\n  c: 0\n  <<: [*b1, *b2]\n",
		"{\"b1\":{\"a\":1},\"b2\":{\"a\":2,\"d\":5},\"x\":{\"c\":0,\"a\":1,\"d\":5}}");
	yaml_is("x: {<<: {a: 1, b: 2}, b: 3}\n", "{\"x\":{\"a\":1,\"b\":3}}");
	yaml_is("x: {!!merge <<: {a: 1}}\n", "{\"x\":{\"a\":1}}");
	yaml_is("x: {<<: []}\n", "{\"x\":{}}");

	snprintf(in, sizeof(in), "%sx:\n  <<: *base\n  b: 3\n  b: 4\n", base);
	yaml_fails(in, KORCH_EINVALID,
		   "line 7 column 3: mapping key \"b\" already defined at line 6");
	snprintf(in, sizeof(in), "%sx:\n  a: 0\n  <<: *base\n  a: 4\n", base);
	yaml_fails(in, KORCH_EINVALID,
		   "line 7 column 3: mapping key \"a\" already defined at line 5");
	yaml_fails("x:\n  <<: {a: 1}\n  <<: {b: 1}\n", KORCH_EINVALID,
		   "line 3 column 3: mapping key \"<<\" already defined at line 2");
	yaml_fails("x:\n  <<: 1\n", KORCH_EINVALID,
		   "line 2 column 7: map merge requires map or sequence of maps as the value");
	yaml_fails("x:\n  <<: [{a: 1}, 2]\n", KORCH_EINVALID,
		   "line 2 column 7: map merge requires map or sequence of maps as the value");
	yaml_fails("s: &s [1]\nx:\n  <<: *s\n", KORCH_EINVALID,
		   "line 3 column 7: map merge requires map or sequence of maps as the value");
}

static void
test_yaml_anchors(void **state)
{
	json_t *doc = yaml_one("a: &x {k: [1, 2]}\nb: *x\nc: &s str\nd: *s\n");
	assert_json_text(doc,
			 "{\"a\":{\"k\":[1,2]},\"b\":{\"k\":[1,2]},\"c\":\"str\",\"d\":\"str\"}");
	/* Each alias is a copy of its own: changing one leaves the other alone. */
	json_t *ka = json_object_get(json_object_get(doc, "a"), "k");
	json_t *kb = json_object_get(json_object_get(doc, "b"), "k");
	assert_ptr_not_equal(ka, kb);
	assert_int_equal(ka->refcount, 1);
	assert_int_equal(kb->refcount, 1);
	json_array_append_new(kb, json_integer(3));
	assert_json_text(doc,
			 "{\"a\":{\"k\":[1,2]},\"b\":{\"k\":[1,2,3]},\"c\":\"str\",\"d\":\"str\"}");
	json_decref(doc);

	/* Merged values and aliases inside aliases are copies too. */
	doc = yaml_one("a: &a {k: [1]}\nb: {<<: *a}\nc: &c [*a, *a]\nd: [*c, *c]\n");
	assert_json_text(doc,
			 "{\"a\":{\"k\":[1]},\"b\":{\"k\":[1]},\"c\":[{\"k\":[1]},{\"k\":[1]}],"
			 "\"d\":[[{\"k\":[1]},{\"k\":[1]}],[{\"k\":[1]},{\"k\":[1]}]]}");
	json_t *seen[8];
	size_t n_seen = 0;
	seen[n_seen++] = json_object_get(json_object_get(doc, "a"), "k");
	seen[n_seen++] = json_object_get(json_object_get(doc, "b"), "k");
	for (size_t i = 0; i < 2; i++)
		seen[n_seen++] = json_object_get(json_array_get(json_object_get(doc, "c"), i), "k");
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < 2; j++)
			seen[n_seen++] = json_object_get(
				json_array_get(json_array_get(json_object_get(doc, "d"), i), j),
				"k");
	for (size_t i = 0; i < n_seen; i++) {
		assert_int_equal(seen[i]->refcount, 1);
		for (size_t j = 0; j < i; j++)
			assert_ptr_not_equal(seen[i], seen[j]);
	}
	json_decref(doc);

	/* An alias as a key; a redefined anchor; an anchor on an empty value. */
	yaml_is("a: &k name\n*k : v\n", "{\"a\":\"name\",\"name\":\"v\"}");
	yaml_is("a: &x 1\nb: &x 2\nc: *x\n", "{\"a\":1,\"b\":2,\"c\":2}");
	yaml_is("a: &x\nb: *x\n", "{\"a\":null,\"b\":null}");
	yaml_is("a: &k 1.5\n*k : v\n", "{\"a\":1.5,\"1.5\":\"v\"}");

	yaml_fails("a: *x\n", KORCH_EINVALID, "line 1 column 4: unknown anchor 'x' referenced");
	/* An anchor is known only once its node is complete, and only in its document. */
	yaml_fails("a: &x [1, *x]\n", KORCH_EINVALID,
		   "line 1 column 11: unknown anchor 'x' referenced");
	yaml_fails("a: &x 1\n---\nb: *x\n", KORCH_EINVALID,
		   "line 3 column 4: unknown anchor 'x' referenced");
	yaml_fails("a: &m {k: 1}\n*m : v\n", KORCH_EINVALID,
		   "line 2 column 1: invalid map key: a mapping cannot be a key");
	yaml_fails("a: &n ~\n*n : v\n", KORCH_EINVALID,
		   "line 2 column 1: unsupported map key: null");
	/* An anchored .inf can be a key but not a value. */
	yaml_is("&i .inf : a\n", "{\".inf\":\"a\"}");
	yaml_fails("&i .inf : a\nb: *i\n", KORCH_EINVALID,
		   "line 2 column 4: alias *i: infinity and NaN cannot be represented in JSON");
}

static void
test_yaml_streams(void **state)
{
	const char *text = "# leading comment\n" /* 1 */
			   "---\n"               /* 2 */
			   "---\n"               /* 3 */
			   "a: 1\n"              /* 4 */
			   "...\n"               /* 5 */
			   "---\n"               /* 6 */
			   "# only a comment\n"  /* 7 */
			   "---\n"               /* 8 */
			   "\n"                  /* 9 */
			   "b: 2\n"              /* 10 */
			   "--- ~\n"             /* 11 */
			   "--- # comment\n"     /* 12 */
			   "c: [3]\n"            /* 13 */
			   "...\n"               /* 14 */
			   "--- \"\"\n"          /* 15 */
			   "--- |\n  text\n"     /* 16, 17 */
			   "---\n"               /* 18 */
			   "- x\n";              /* 19 */
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	assert_int_equal(codec_yaml_decode(text, strlen(text), &docs, &err), 0);
	assert_int_equal(docs.n, 7);
	static const char *const want[] = { "{\"a\":1}", "{\"b\":2}",   "null",   "{\"c\":[3]}",
					    "\"\"",      "\"text\\n\"", "[\"x\"]" };
	static const unsigned lines[] = { 4, 10, 11, 13, 15, 16, 19 };
	for (size_t i = 0; i < docs.n; i++) {
		assert_json_text(docs.docs[i], want[i]);
		assert_int_equal(docs.lines[i], lines[i]);
	}
	codec_docs_free(&docs);

	static const char *const empty[] = { "",
					     "\n\n",
					     "# nothing\n",
					     "---\n",
					     "---\n...\n",
					     "--- \n---\n---\n",
					     "%YAML 1.1\n---\n" };
	for (size_t i = 0; i < ARRAY_SIZE(empty); i++) {
		assert_int_equal(codec_yaml_decode(empty[i], strlen(empty[i]), &docs, &err), 0);
		assert_int_equal(docs.n, 0);
		codec_docs_free(&docs);
	}

	/* CRLF line ends, a byte-order mark, a directive, JSON read as YAML. */
	yaml_is("a: 1\r\nb: |\r\n  x\r\n  y\r\n", "{\"a\":1,\"b\":\"x\\ny\\n\"}");
	yaml_is("\357\273\277a: 1\n", "{\"a\":1}");
	yaml_is("%YAML 1.1\n---\na: 1\n", "{\"a\":1}");
	yaml_is("{\"kind\": \"Pod\", \"spec\": {\"x\": [1, 2.5, true, null]}}",
		"{\"kind\":\"Pod\",\"spec\":{\"x\":[1,2.5,true,null]}}");
}

static void
test_yaml_bad_input(void **state)
{
	yaml_fails("a: [1, 2\n", KORCH_EINVALID,
		   "line 2 column 1: did not find expected ',' or ']' (while parsing a flow "
		   "sequence at line 1)");
	yaml_fails("a: 1\n b: 2\n", KORCH_EINVALID,
		   "line 2 column 3: mapping values are not allowed in this context");
	yaml_fails("a:\n\tb: 1\n", KORCH_EINVALID,
		   "line 2 column 1: found character that cannot start any token (while scanning "
		   "for the next token at line 2)");
	yaml_fails("a: \"abc\n", KORCH_EINVALID,
		   "line 2 column 1: found unexpected end of stream (while scanning a quoted "
		   "scalar at line 1)");
	yaml_fails("- a\nb: 1\n", KORCH_EINVALID,
		   "line 2 column 1: did not find expected '-' indicator (while parsing a block "
		   "collection at line 1)");
	yaml_fails("a: \"\\uD800\"\n", KORCH_EINVALID,
		   "line 1 column 7: found invalid Unicode character escape code (while parsing "
		   "a quoted scalar at line 1)");
	/* Bytes that are not text. */
	yaml_fails_n("a: b\0c\n", 7, KORCH_EINVALID, "line 1 column 5: NUL byte");
	yaml_fails("a: b\nc: \303\050\n", KORCH_EINVALID,
		   "line 2 column 4: invalid UTF-8 (byte 0xc3)");
	yaml_fails("a: \300\257\n", KORCH_EINVALID, "line 1 column 4: invalid UTF-8 (byte 0xc0)");
	yaml_fails("a: \355\240\200\n", KORCH_EINVALID,
		   "line 1 column 4: invalid UTF-8 (byte 0xed)");
	yaml_fails("a: \364\220\200\200\n", KORCH_EINVALID,
		   "line 1 column 4: invalid UTF-8 (byte 0xf4)");
	yaml_fails("\303\251: \342\202\254\001\n", KORCH_EINVALID,
		   "line 1 column 5: control characters are not allowed (0x01)");
	yaml_fails("a: \"x\\0y\"\n", KORCH_EINVALID, "line 1 column 4: NUL character in a string");
	yaml_fails("\"\\x00\": 1\n", KORCH_EINVALID, "line 1 column 1: NUL character in a string");
	/* UTF-16 is not taken for UTF-8. */
	yaml_fails_n("\377\376a\0:\0", 6, KORCH_EINVALID,
		     "line 1 column 1: invalid UTF-8 (byte 0xff)");
}

static void
test_yaml_manifests_source(void **state)
{
	const char *text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n";
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	assert_int_equal(codec_decode_manifests(text, strlen(text), "pod.yaml", &docs, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "pod.yaml:5:3: mapping key \"name\" already defined at line 4");
	korch_error_free(err);
	err = NULL;

	/* A leading comment makes it YAML, even when JSON follows. */
	text = "# generated\n{\"kind\": \"Pod\"}\n---\nkind: Service\n";
	assert_int_equal(codec_decode_manifests(text, strlen(text), "all.yaml", &docs, &err), 0);
	assert_int_equal(docs.n, 2);
	assert_json_text(docs.docs[0], "{\"kind\":\"Pod\"}");
	assert_json_text(docs.docs[1], "{\"kind\":\"Service\"}");
	assert_int_equal(docs.lines[0], 2);
	assert_int_equal(docs.lines[1], 4);
	codec_docs_free(&docs);

	/* Without a source name errors say "line N". */
	text = "a: 1\na: 2\n";
	assert_int_equal(codec_decode_manifests(text, strlen(text), NULL, &docs, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "line 2 column 1: mapping key \"a\" already defined at line 1");
	korch_error_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_bools_and_nulls),
		cmocka_unit_test(test_yaml_integers),
		cmocka_unit_test(test_yaml_floats),
		cmocka_unit_test(test_yaml_strings_and_tags),
		cmocka_unit_test(test_yaml_keys),
		cmocka_unit_test(test_yaml_duplicates),
		cmocka_unit_test(test_yaml_merge_keys),
		cmocka_unit_test(test_yaml_anchors),
		cmocka_unit_test(test_yaml_streams),
		cmocka_unit_test(test_yaml_bad_input),
		cmocka_unit_test(test_yaml_manifests_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
