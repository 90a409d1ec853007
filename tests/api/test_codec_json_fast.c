/*
 * The fast JSON encoder and decoder against jansson, their reference: codec_json_encode() gives
 * json_dumps()'s text byte for byte, codec_json_decode() accepts and refuses what the checked
 * path (input checks, then json_loadb()) does and builds the same tree, and
 * codec_json_decode_stored() builds what json_loadb(..., 0) builds. Hand-picked edge cases plus
 * random trees from a fixed seed.
 */
#include "api/codec-internal.h"
#include "test_codec.h"

/* json_dumps() as codec_json_encode() promises to match it; NULL where jansson refuses. */
static char *
jansson_text(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static void
assert_encodes_like_jansson(const json_t *v)
{
	char *want = jansson_text(v);
	char *got = codec_json_encode(v);
	if (!want || !got) {
		if (want || got)
			print_error("want %s\n got %s\n", want ? want : "(refused)",
				    got ? got : "(refused)");
		assert_null(want);
		assert_null(got);
		return;
	}
	if (strcmp(want, got) != 0)
		print_error("want %s\n got %s\n", want, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

/* What codec_json_decode() gave before the fast path: the input checks, then jansson. */
static json_t *
checked_decode(const char *text, size_t len)
{
	if (codec_check_input(text, len, NULL, true, NULL) < 0)
		return NULL;
	return json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
}

static void
assert_same_tree(json_t *want, json_t *got, const char *input)
{
	if (!want || !got) {
		if (want || got)
			print_error("input %s: want %s, got %s\n", input,
				    want ? "a tree" : "refusal", got ? "a tree" : "refusal");
		assert_true(!want && !got);
		return;
	}
	char *w = jansson_text(want), *g = jansson_text(got);
	if (strcmp(w, g) != 0)
		print_error("input %s:\nwant %s\n got %s\n", input, w, g);
	assert_string_equal(g, w);
	/* Same text, same types: an integer never comes back as a real of the same value. */
	assert_true(json_equal(want, got));
	free(w);
	free(g);
}

static void
assert_decodes_like_jansson(const char *text, size_t len)
{
	json_t *want = checked_decode(text, len);
	json_t *got = NULL;
	korch_error *err = NULL;
	int r = codec_json_decode(text, len, &got, &err);
	assert_int_equal(r == 0, want != NULL);
	if (r < 0)
		assert_non_null(err);
	assert_same_tree(want, r == 0 ? got : NULL, text);
	json_decref(want);
	json_decref(got);
	korch_error_free(err);

	want = json_loadb(text, len, 0, NULL);
	got = NULL;
	err = NULL;
	r = codec_json_decode_stored(text, len, &got, &err);
	assert_int_equal(r == 0, want != NULL);
	assert_same_tree(want, r == 0 ? got : NULL, text);
	json_decref(want);
	json_decref(got);
	korch_error_free(err);
}

static void
decodes_like_jansson(const char *text)
{
	assert_decodes_like_jansson(text, strlen(text));
}

static void
test_encode_edge_cases(void **state)
{
	/* Every byte that needs an escape, and the ones that do not. */
	char all[0x80];
	for (int i = 0; i < 0x80; i++)
		all[i] = (char)(i + 1 == 0x80 ? 0x7f : i + 1);
	json_t *v = json_pack("{s:s#, s:s, s:s, s:[I, I, I, i], s:[f, f, f, f, f], s:[b, b, n]}",
			      "ascii", all, (int)sizeof(all), "utf8",
			      "caf\303\251 \360\237\214\200 \342\202\254", "", "", "ints",
			      (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, (json_int_t)-1, 0,
			      "reals", 0.1, -0.0, 1e300, 1.0, 123456789.125, "lits", 1, 0);
	assert_non_null(v);
	/* A string with NUL in it, and keys that need escapes. */
	json_object_set_new(v, "nul", json_stringn("a\0b", 3));
	json_object_setn_new(v, "k\0y", 3, json_true());
	json_object_set_new(v, "quote\"back\\slash\ttab", json_array());
	json_object_set_new(v, "empty", json_object());
	assert_encodes_like_jansson(v);
	assert_encodes_like_jansson(json_object_get(v, "ascii"));
	assert_encodes_like_jansson(json_object_get(v, "reals"));
	json_decref(v);

	/* Scalars alone. */
	json_t *scalars[] = { json_integer(7), json_real(2.5), json_string("x"),
			      json_null(),     json_true(),    json_false() };
	for (size_t i = 0; i < ARRAY_SIZE(scalars); i++) {
		assert_encodes_like_jansson(scalars[i]);
		json_decref(scalars[i]);
	}

	/* Deeper than the fast path goes: jansson's text all the same. */
	json_t *deep = json_array();
	for (int i = 0; i < 1000; i++) {
		json_t *outer = json_pack("{s:o}", "a", deep);
		assert_non_null(outer);
		deep = outer;
	}
	assert_encodes_like_jansson(deep);
	json_decref(deep);
}

/*
 * Long strings with one byte that needs attention at every offset: the fast paths check 8
 * bytes at a time past the first 16, so each position of a word is covered.
 */
static void
test_long_strings(void **state)
{
	static const char *const specials[] = {
		"\"", "\\", "\n", "\001", "\177", "\303\251", "\342\202\254", "\360\237\214\200",
		"/"
	};
	for (size_t k = 0; k < ARRAY_SIZE(specials); k++) {
		for (size_t at = 0; at < 48; at++) {
			char text[128];
			size_t n = strlen(specials[k]);
			memset(text, 'a', sizeof(text));
			memcpy(text + at, specials[k], n);
			text[100] = '\0';
			json_t *v = json_pack("{s:s, s:[s]}", text, text, "k", text);
			assert_non_null(v);
			assert_encodes_like_jansson(v);
			char *json = jansson_text(v);
			assert_decodes_like_jansson(json, strlen(json));
			free(json);
			json_decref(v);
		}
	}
	/* A string that is not UTF-8 far into a long string. */
	char bad[200];
	memset(bad, 'b', sizeof(bad));
	bad[150] = (char)0xff;
	json_t *v = json_stringn_nocheck(bad, sizeof(bad));
	assert_null(codec_json_encode(v));
	json_decref(v);
	char quoted[210];
	snprintf(quoted, sizeof(quoted), "\"%.*s\"", (int)sizeof(bad), bad);
	assert_decodes_like_jansson(quoted, strlen(quoted));
}

static void
test_encode_refusals(void **state)
{
	assert_null(codec_json_encode(NULL));
	/* Not UTF-8 (only the unchecked constructors can make one), as a value and as a key. */
	json_t *bad = json_pack("{s:o}", "x", json_stringn_nocheck("\377", 1));
	assert_null(codec_json_encode(bad));
	assert_null(jansson_text(bad));
	json_decref(bad);
	bad = json_object();
	json_object_set_new_nocheck(bad, "\300\200", json_null());
	assert_null(codec_json_encode(bad));
	/* (json_dumps() writes a broken text here: it ignores the key's error.) */
	char *broken = jansson_text(bad);
	assert_string_equal(broken, "{\":null}");
	free(broken);
	json_decref(bad);
	/* A cycle. */
	json_t *a = json_array(), *o = json_object();
	json_array_append(a, o);
	json_object_set(o, "loop", a);
	assert_null(codec_json_encode(a));
	json_object_del(o, "loop");
	json_decref(o);
	json_decref(a);
}

static void
test_encode_append(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, "prefix:");
	json_t *v = json_pack("{s:i}", "a", 1);
	assert_int_equal(codec_json_encode_append(v, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "prefix:{\"a\":1}");
	json_decref(v);
	/* A refusal leaves the buffer as it was. */
	json_t *bad = json_pack("[s, o]", "long enough to be partly written",
				json_stringn_nocheck("\377", 1));
	assert_int_equal(codec_json_encode_append(bad, &sb), KORCH_EINVALID);
	assert_string_equal(strbuf_str(&sb), "prefix:{\"a\":1}");
	assert_int_equal(sb.len, strlen("prefix:{\"a\":1}"));
	assert_false(sb.oom);
	assert_int_equal(codec_json_encode_append(NULL, &sb), KORCH_EINVALID);
	assert_int_equal(sb.len, strlen("prefix:{\"a\":1}"));
	json_decref(bad);
	strbuf_free(&sb);
}

static void
test_decode_edge_cases(void **state)
{
	static const char *const inputs[] = {
		"{}",
		"[]",
		" \t\r\n{ \"a\" : [ 1 , 2 ] }\n ",
		"0",
		"-0",
		"-0.0",
		"1.5",
		"1e5",
		"1E+5",
		"1e-5",
		"-1.25e-3",
		"1e400",
		"-1e400",
		"1e-400",
		"9223372036854775807",
		"9223372036854775808",
		"-9223372036854775808",
		"-9223372036854775809",
		"18446744073709551616",
		"123456789012345678901234567890",
		"01",
		"-01",
		"1.",
		".5",
		"-",
		"+1",
		"1e",
		"1e+",
		"0x10",
		"[1,]",
		"[,]",
		"{\"a\":1,}",
		"{\"a\" 1}",
		"{a:1}",
		"{\"a\":1 \"b\":2}",
		"[1 2]",
		"true",
		"false",
		"null",
		"truex",
		"nul",
		"[true,false,null]",
		"[truefalse]",
		"\"\"",
		"\"abc",
		"\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
		"\"\\u00e9\\u20ac\\ud83c\\udf00\"",
		"\"\\u0041\\u004a\"",
		"\"\\u0000\"",
		"\"\\ud800\"",
		"\"\\udc00\"",
		"\"\\ud800\\u0041\"",
		"\"\\ud800x\"",
		"\"\\u12\"",
		"\"\\u12g4\"",
		"\"\\x\"",
		"\"\\",
		"\"tab\there\"",
		"\"line\nbreak\"",
		"\"del\177\"",
		"\"caf\303\251\"",
		"\"\303\"",
		"\"\355\240\200\"",
		"\"\364\220\200\200\"",
		"\"\300\257\"",
		"{\"a\":1,\"a\":2}",
		"{\"a\":{\"b\":1,\"b\":{}}}",
		"{\"\\u0061\":1,\"a\":2}",
		"{\"\":1}",
		"{\"k\\u00e9y\":\"v\"}",
		"{\"\\u0000\":1}",
		"[1]x",
		"[1] [2]",
		"{}{}",
		"{\"a\":[{\"b\":[{\"c\":[]}]}]}",
		"\357\273\277{}",
		"[1.0, 2.50, 3e0, -4E-2]",
		"[\"\\/\"]",
		"\"\\U0041\"",
		"[-]",
		"[--1]",
		"[1-2]",
		"[Infinity]",
		"[NaN]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(inputs); i++)
		decodes_like_jansson(inputs[i]);
	/* NUL bytes inside and after the text. */
	assert_decodes_like_jansson("[\"a\0b\"]", 7);
	assert_decodes_like_jansson("[1]\0", 4);

	/* An escaped key longer than the fast path keeps on its stack. */
	struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, "{\"\\u00e9");
	for (int i = 0; i < 300; i++)
		strbuf_putc(&sb, 'k');
	strbuf_puts(&sb, "\":{\"\\u00e9\":\"\\u00e9\"}}");
	decodes_like_jansson(strbuf_str(&sb));
	strbuf_free(&sb);

	/* Nesting at and past the codec's limit (the stored decoder has jansson's). */
	for (int depth = CODEC_MAX_DEPTH - 1; depth <= CODEC_MAX_DEPTH + 1; depth++) {
		strbuf_truncate(&sb, 0);
		for (int i = 0; i < depth; i++)
			strbuf_putc(&sb, '[');
		for (int i = 0; i < depth; i++)
			strbuf_putc(&sb, ']');
		decodes_like_jansson(strbuf_str(&sb));
	}
	strbuf_free(&sb);
}

static void
test_decode_stored(void **state)
{
	json_t *v = NULL;
	korch_error *err = NULL;
	/* A key twice keeps the last value, in the first one's place, as jansson does. */
	assert_int_equal(codec_json_decode_stored("{\"a\":1,\"b\":2,\"a\":3}", 19, &v, NULL), 0);
	assert_json_text(v, "{\"a\":3,\"b\":2}");
	json_decref(v);
	/* Deeper than the codec's input limit. */
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 150; i++)
		strbuf_putc(&sb, '[');
	for (int i = 0; i < 150; i++)
		strbuf_putc(&sb, ']');
	assert_int_equal(codec_json_decode_stored(sb.buf, sb.len, &v, NULL), 0);
	json_decref(v);
	strbuf_free(&sb);
	/* Errors say what jansson says. */
	v = (json_t *)0x1;
	assert_int_equal(codec_json_decode_stored("42", 2, &v, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "line 1 column 2: '[' or '{' expected near '42'");
	assert_ptr_equal(v, (json_t *)0x1);
	korch_error_free(err);
	err = NULL;
	assert_int_equal(codec_json_decode_stored("{\"a\":", 5, &v, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "line 1 column 5: unexpected token near end of file");
	korch_error_free(err);
}

/* ---- random trees ---- */

static unsigned rand_state = 12345;

static unsigned
next_rand(void)
{
	rand_state = rand_state * 1103515245u + 12345u;
	return (rand_state >> 16) & 0x7fff;
}

/* Strings drawn from pieces that exercise every path: plain runs, escapes, UTF-8. */
static json_t *
random_string(bool key)
{
	static const char *const pieces[] = { "a",
					      "metadata",
					      " ",
					      "\"",
					      "\\",
					      "/",
					      "\n",
					      "\t",
					      "\001",
					      "\037",
					      "\177",
					      "\303\251",
					      "\342\202\254",
					      "\360\237\214\200",
					      "0",
					      "-",
					      "<>&" };
	char buf[256];
	size_t n = 0, parts = next_rand() % (key ? 4 : 8);
	for (size_t i = 0; i < parts; i++) {
		const char *p = pieces[next_rand() % ARRAY_SIZE(pieces)];
		size_t len = strlen(p);
		if (n + len >= sizeof(buf))
			break;
		memcpy(buf + n, p, len);
		n += len;
	}
	return json_stringn(buf, n);
}

static json_t *
random_value(int depth)
{
	unsigned kind = next_rand() % (depth > 5 ? 6 : 9);
	switch (kind) {
	case 0: return json_null();
	case 1: return json_boolean(next_rand() % 2);
	case 2: {
		json_int_t i = (json_int_t)next_rand() << 48 ^ (json_int_t)next_rand() << 24 ^
			       (json_int_t)next_rand();
		return json_integer(next_rand() % 2 ? -i : i % 1000);
	}
	case 3: return json_real((double)(int)next_rand() / ((int)next_rand() % 100 + 1));
	case 4:
	case 5: return random_string(false);
	case 6:
	case 7: {
		json_t *o = json_object();
		for (unsigned i = next_rand() % 6; i > 0; i--) {
			json_t *k = random_string(true);
			json_object_setn_new(o, json_string_value(k), json_string_length(k),
					     random_value(depth + 1));
			json_decref(k);
		}
		return o;
	}
	default: {
		json_t *a = json_array();
		for (unsigned i = next_rand() % 5; i > 0; i--)
			json_array_append_new(a, random_value(depth + 1));
		return a;
	}
	}
}

static void
test_random_trees(void **state)
{
	for (int i = 0; i < 3000; i++) {
		json_t *v = random_value(0);
		assert_non_null(v);
		assert_encodes_like_jansson(v);
		char *text = jansson_text(v);
		assert_decodes_like_jansson(text, strlen(text));
		/* The same text indented: whitespace between every token. */
		char *pretty = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
		assert_decodes_like_jansson(pretty, strlen(pretty));
		/* Cut short: every prefix is refused alike. */
		size_t cut = strlen(text) * (size_t)(next_rand() % 100) / 100;
		assert_decodes_like_jansson(text, cut);
		free(pretty);
		free(text);
		json_decref(v);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_edge_cases), cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_encode_refusals),   cmocka_unit_test(test_encode_append),
		cmocka_unit_test(test_decode_edge_cases), cmocka_unit_test(test_decode_stored),
		cmocka_unit_test(test_random_trees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
