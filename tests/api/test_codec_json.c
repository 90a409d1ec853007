/*
 * JSON decoding and encoding: accepted shapes, every category of JSONTestSuite's n_* cases
 * (our own inputs) refused with their exact message, duplicate keys, numbers out of range.
 */
#include "test_codec.h"

static void
test_json_accepts(void **state)
{
	json_is("{\"b\":1,\"a\":{\"z\":[1,2.5,\"x\",true,false,null],\"y\":{}}}",
		"{\"b\":1,\"a\":{\"z\":[1,2.5,\"x\",true,false,null],\"y\":{}}}");
	/* Field order is the input's, not sorted. */
	json_is("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{}}",
		"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{}}");
	json_is("  [ ]\n", "[]");
	json_is("\"\\u00e9\\ud83c\\udf00\"", "\"\303\251\360\237\214\200\"");
	json_is("\"caf\303\251\"", "\"caf\303\251\"");
	/* -0 is the integer 0; -0.0 stays a real; 1e-999 underflows to 0.0. */
	json_is("[-0]", "[0]");
	json_is("[-0.0]", "[-0.0]");
	json_is("[1e-999]", "[0.0]");
	json_is("[1E22, 1.0, -9223372036854775808, 9223372036854775807]",
		"[1e22,1.0,-9223372036854775808,9223372036854775807]");
	json_is("42", "42");
}

static const struct {
	const char *name;    /* what the case is about */
	const char *text;    /* the input */
	size_t len;          /* its length (it may hold NUL bytes) */
	const char *message; /* the exact error */
} n_cases[] = {
	{ "array_1_true_without_comma", "[1 true]", 8,
	  "line 1 column 7: ']' expected near 'true'" },
	{ "array_a_invalid_utf8", "[a\345]", 4, "line 1 column 3: invalid UTF-8 (byte 0xe5)" },
	{ "array_colon_instead_of_comma", "[\"\": 1]", 7,
	  "line 1 column 4: ']' expected near ':'" },
	{ "array_comma_after_close", "[\"\"],", 5,
	  "line 1 column 5: end of file expected near ','" },
	{ "array_comma_and_number", "[,1]", 4, "line 1 column 2: unexpected token near ','" },
	{ "array_double_comma", "[1,,2]", 6, "line 1 column 4: unexpected token near ','" },
	{ "array_extra_close", "[\"x\"]]", 6, "line 1 column 6: end of file expected near ']'" },
	{ "array_extra_comma", "[\"\",]", 5, "line 1 column 5: unexpected token near ']'" },
	{ "array_incomplete", "[\"x\"", 4, "line 1 column 4: ']' expected near end of file" },
	{ "array_inner_array_no_comma", "[3[4]]", 6, "line 1 column 3: ']' expected near '['" },
	{ "array_items_separated_by_semicolon", "[1:2]", 5,
	  "line 1 column 3: ']' expected near ':'" },
	{ "array_just_minus", "[-]", 3, "line 1 column 2: invalid token near '-'" },
	{ "array_newlines_unclosed", "[\"a\",\0124\012,1,", 11,
	  "line 3 column 3: ']' expected near end of file" },
	{ "array_spaces_vertical_tab_formfeed", "[\"\013a\"\014]", 7,
	  "line 1 column 2: control character 0xb near '\"'" },
	{ "array_star_inside", "[*]", 3, "line 1 column 2: invalid token near '*'" },
	{ "array_unclosed_with_object_inside", "[{}", 3,
	  "line 1 column 3: ']' expected near end of file" },
	{ "incomplete_false", "[fals]", 6, "line 1 column 5: invalid token near 'fals'" },
	{ "incomplete_null", "[nul]", 5, "line 1 column 4: invalid token near 'nul'" },
	{ "incomplete_true", "[tru]", 5, "line 1 column 4: invalid token near 'tru'" },
	{ "number_plus_plus", "[++1234]", 8, "line 1 column 2: invalid token near '+'" },
	{ "number_plus_one", "[+1]", 4, "line 1 column 2: invalid token near '+'" },
	{ "number_plus_inf", "[+Inf]", 6, "line 1 column 2: invalid token near '+'" },
	{ "number_minus_01", "[-01]", 5, "line 1 column 3: invalid token near '-0'" },
	{ "number_minus_1_0_dot", "[-1.0.]", 7, "line 1 column 6: ']' expected near '.'" },
	{ "number_minus_2_dot", "[-2.]", 5, "line 1 column 4: invalid token near '-2.'" },
	{ "number_minus_nan", "[-NaN]", 6, "line 1 column 2: invalid token near '-'" },
	{ "number_dot_minus_1", "[.-1]", 5, "line 1 column 2: invalid token near '.'" },
	{ "number_dot_2e_minus_3", "[.2e-3]", 7, "line 1 column 2: invalid token near '.'" },
	{ "number_0_1_2", "[0.1.2]", 7, "line 1 column 5: ']' expected near '.'" },
	{ "number_0_3e_plus", "[0.3e+]", 7, "line 1 column 6: invalid token near '0.3e+'" },
	{ "number_0_e1", "[0.e1]", 6, "line 1 column 3: invalid token near '0.'" },
	{ "number_0E", "[0E]", 4, "line 1 column 3: invalid token near '0E'" },
	{ "number_1_000", "[1 000.0]", 9, "line 1 column 4: ']' expected near '0'" },
	{ "number_1eE2", "[1eE2]", 6, "line 1 column 3: invalid token near '1e'" },
	{ "number_Inf", "[Inf]", 5, "line 1 column 4: invalid token near 'Inf'" },
	{ "number_NaN", "[NaN]", 5, "line 1 column 4: invalid token near 'NaN'" },
	{ "number_fullwidth_one", "[\357\274\221]", 5,
	  "line 1 column 2: invalid token near '\357\274\221'" },
	{ "number_expression", "[1+2]", 5, "line 1 column 3: ']' expected near '+'" },
	{ "number_hex", "[0x42]", 6, "line 1 column 3: ']' expected near 'x'" },
	{ "number_Infinity", "[Infinity]", 10, "line 1 column 9: invalid token near 'Infinity'" },
	{ "number_0e_plus_minus_1", "[0e+-1]", 7, "line 1 column 4: invalid token near '0e+'" },
	{ "number_trailing_garbage", "[-123.123foo]", 13,
	  "line 1 column 12: ']' expected near 'foo'" },
	{ "number_invalid_utf8_after", "[123\345]", 6,
	  "line 1 column 5: invalid UTF-8 (byte 0xe5)" },
	{ "number_minus_space_1", "[- 1]", 5, "line 1 column 2: invalid token near '-'" },
	{ "number_neg_leading_zero", "[-012]", 6, "line 1 column 3: invalid token near '-0'" },
	{ "number_neg_dot", "[-.123]", 7, "line 1 column 2: invalid token near '-'" },
	{ "number_1ea", "[1ea]", 5, "line 1 column 3: invalid token near '1e'" },
	{ "number_1_dot", "[1.]", 4, "line 1 column 3: invalid token near '1.'" },
	{ "number_dot_123", "[.123]", 6, "line 1 column 2: invalid token near '.'" },
	{ "number_real_garbage", "[1.8011670033376514H-308]", 25,
	  "line 1 column 20: ']' expected near 'H'" },
	{ "number_leading_zero", "[012]", 5, "line 1 column 2: invalid token near '0'" },
	{ "number_huge_exp", "[1e999]", 7, "line 1 column 6: real number overflow near '1e999'" },
	{ "number_huge_neg_exp_real", "[-1e999]", 8,
	  "line 1 column 7: real number overflow near '-1e999'" },
	{ "number_huge_int", "[100000000000000000000]", 23, "line 1 column 22: too big integer" },
	{ "number_huge_neg_int", "[-9223372036854775809]", 22,
	  "line 1 column 21: too big negative integer near '-9223372036854775809'" },
	{ "object_bad_value", "[\"x\", truth]", 12,
	  "line 1 column 11: invalid token near 'truth'" },
	{ "object_bracket_key", "{[: \"x\"}", 8,
	  "line 1 column 2: string or '}' expected near '['" },
	{ "object_comma_instead_of_colon", "{\"x\", null}", 11,
	  "line 1 column 5: ':' expected near ','" },
	{ "object_double_colon", "{\"x\"::\"b\"}", 10,
	  "line 1 column 6: unexpected token near ':'" },
	{ "object_emoji", "{\360\237\207\250\360\237\207\255}", 10,
	  "line 1 column 2: string or '}' expected near '\360\237\207\250'" },
	{ "object_garbage_at_end", "{\"a\":\"a\" 123}", 13,
	  "line 1 column 12: '}' expected near '123'" },
	{ "object_key_with_single_quotes", "{key: 'value'}", 14,
	  "line 1 column 4: string or '}' expected near 'key'" },
	{ "object_lone_continuation_byte_in_key", "{\"\271\":\"0\",}", 10,
	  "line 1 column 3: invalid UTF-8 (byte 0xb9)" },
	{ "object_missing_colon", "{\"a\" b}", 7, "line 1 column 6: ':' expected near 'b'" },
	{ "object_missing_key", "{:\"b\"}", 6, "line 1 column 2: string or '}' expected near ':'" },
	{ "object_missing_value", "{\"a\":", 5,
	  "line 1 column 5: unexpected token near end of file" },
	{ "object_non_string_key", "{1:1}", 5, "line 1 column 2: string or '}' expected near '1'" },
	{ "object_huge_number_key", "{9999E9999:1}", 13,
	  "line 1 column 10: real number overflow near '9999E9999'" },
	{ "object_repeated_null_null", "{null:null,null:null}", 21,
	  "line 1 column 5: string or '}' expected near 'null'" },
	{ "object_several_trailing_commas", "{\"id\":0,,,,,}", 13,
	  "line 1 column 9: string or '}' expected near ','" },
	{ "object_single_quote", "{'a':0}", 7, "line 1 column 2: string or '}' expected near '''" },
	{ "object_trailing_comma", "{\"id\":0,}", 9,
	  "line 1 column 9: string or '}' expected near '}'" },
	{ "object_trailing_comment", "{\"a\":\"b\"}/**/", 13,
	  "line 1 column 10: end of file expected near '/'" },
	{ "object_two_commas_in_a_row", "{\"a\":\"b\",,\"c\":\"d\"}", 18,
	  "line 1 column 10: string or '}' expected near ','" },
	{ "object_unterminated_value", "{\"a\":\"a", 7,
	  "line 1 column 7: premature end of input near '\"a'" },
	{ "object_with_single_string", "{ \"foo\" : \"bar\", \"a\" }", 22,
	  "line 1 column 22: ':' expected near '}'" },
	{ "object_with_trailing_garbage", "{\"a\":\"b\"}#", 10,
	  "line 1 column 10: end of file expected near '#'" },
	{ "object_duplicate_key", "{\"a\":1,\"a\":2}", 13,
	  "line 1 column 10: duplicate object key near '\"a\"'" },
	{ "single_space", " ", 1, "line 1 column 1: unexpected token near end of file" },
	{ "structure_angle_bracket_dot", "<.>", 3, "line 1 column 1: invalid token near '<'" },
	{ "structure_array_trailing_garbage", "[1]x", 4,
	  "line 1 column 4: end of file expected near 'x'" },
	{ "structure_array_with_unclosed_string", "[\"asd]", 6,
	  "line 1 column 6: premature end of input near '\"asd]'" },
	{ "structure_capitalized_True", "[True]", 6, "line 1 column 5: invalid token near 'True'" },
	{ "structure_close_unopened_array", "1]", 2,
	  "line 1 column 2: end of file expected near ']'" },
	{ "structure_double_array", "[][]", 4, "line 1 column 3: end of file expected near '['" },
	{ "structure_end_array", "]", 1, "line 1 column 1: unexpected token near ']'" },
	{ "structure_incomplete_UTF8_BOM", "\357\273{}", 4,
	  "line 1 column 1: invalid UTF-8 (byte 0xef)" },
	{ "structure_UTF8_BOM", "\357\273\277{}", 5,
	  "line 1 column 1: invalid token near '\357\273\277'" },
	{ "structure_lone_invalid_utf8", "\345", 1, "line 1 column 1: invalid UTF-8 (byte 0xe5)" },
	{ "structure_lone_open_bracket", "[", 1, "line 1 column 1: ']' expected near end of file" },
	{ "structure_no_data", "", 0, "line 1: unexpected token near end of file" },
	{ "structure_number_with_trailing_garbage", "2@", 2,
	  "line 1 column 2: end of file expected near '@'" },
	{ "structure_object_followed_by_closing_object", "{}}", 3,
	  "line 1 column 3: end of file expected near '}'" },
	{ "structure_object_with_comment", "{\"a\":/*comment*/\"b\"}", 20,
	  "line 1 column 6: invalid token near '/'" },
	{ "structure_object_with_trailing_garbage", "{\"a\": true} \"x\"", 15,
	  "line 1 column 15: end of file expected near '\"x\"'" },
	{ "structure_open_object_close_array", "{]", 2,
	  "line 1 column 2: string or '}' expected near ']'" },
	{ "structure_trailing_hash", "{\"a\":\"b\"}#{}", 12,
	  "line 1 column 10: end of file expected near '#'" },
	{ "structure_uescaped_LF_before_string", "[\\u000A\"\"]", 10,
	  "line 1 column 2: invalid token near '\\'" },
	{ "structure_unicode_identifier", "\303\245", 2,
	  "line 1 column 1: invalid token near '\303\245'" },
	{ "structure_whitespace_word_joiner", "[\342\201\240]", 5,
	  "line 1 column 2: invalid token near '\342\201\240'" },
	{ "structure_whitespace_formfeed", "[\014]", 3,
	  "line 1 column 2: invalid token near '\\x0c'" },
	{ "structure_null_byte_outside_string", "[\000]", 3, "line 1 column 2: NUL byte" },
	{ "string_1_surrogate_then_escape", "[\"\\uD800\\\"]", 11,
	  "line 1 column 11: premature end of input near '\"\\uD800\\\"]'" },
	{ "string_1_surrogate_then_escape_u1x", "[\"\\uD800\\u1x\"]", 14,
	  "line 1 column 12: invalid escape near '\"\\uD800\\u1x'" },
	{ "string_lone_surrogate", "[\"\\uDd1e\"]", 10,
	  "line 1 column 9: invalid Unicode '\\uDD1E' near '\"\\uDd1e\"'" },
	{ "string_accentuated_char_no_quotes", "[\303\251]", 4,
	  "line 1 column 2: invalid token near '\303\251'" },
	{ "string_backslash_00", "[\"\\\000\"]", 6, "line 1 column 4: NUL byte" },
	{ "string_escape_x", "[\"\\x00\"]", 8, "line 1 column 4: invalid escape near '\"\\x'" },
	{ "string_escaped_backslash_bad", "[\"\\\\\\\"]", 7,
	  "line 1 column 7: premature end of input near '\"\\\\\\\"]'" },
	{ "string_escaped_ctrl_char_tab", "[\"\\\011\"]", 6,
	  "line 1 column 4: invalid escape near '\"\\\\x09'" },
	{ "string_escaped_emoji", "[\"\\\360\237\214\200\"]", 9,
	  "line 1 column 4: invalid escape near '\"\\\\xf0'" },
	{ "string_incomplete_escaped_character", "[\"\\u00A\"]", 9,
	  "line 1 column 8: invalid escape near '\"\\u00A\"'" },
	{ "string_incomplete_surrogate", "[\"\\uD834\\uDd\"]", 14,
	  "line 1 column 13: invalid escape near '\"\\uD834\\uDd\"'" },
	{ "string_invalid_backslash_esc", "[\"\\a\"]", 6,
	  "line 1 column 4: invalid escape near '\"\\a'" },
	{ "string_invalid_unicode_escape", "[\"\\uqqqq\"]", 10,
	  "line 1 column 5: invalid escape near '\"\\uq'" },
	{ "string_invalid_utf8_after_escape", "[\"\\\345\"]", 6,
	  "line 1 column 4: invalid UTF-8 (byte 0xe5)" },
	{ "string_single_doublequote", "\"", 1,
	  "line 1 column 1: premature end of input near '\"'" },
	{ "string_single_quote", "['single quote']", 16,
	  "line 1 column 2: invalid token near '''" },
	{ "string_no_double_quotes", "abc", 3, "line 1 column 3: invalid token near 'abc'" },
	{ "string_start_escape_unclosed", "[\"\\", 3,
	  "line 1 column 3: invalid escape near '\"\\'" },
	{ "string_unescaped_ctrl_char", "[\"a\001a\"]", 7,
	  "line 1 column 3: control character 0x1 near '\"a'" },
	{ "string_unescaped_newline", "[\"new\012line\"]", 12,
	  "line 1 column 5: unexpected newline near '\"new'" },
	{ "string_unescaped_tab", "[\"\011\"]", 5,
	  "line 1 column 2: control character 0x9 near '\"'" },
	{ "string_unicode_CapitalU", "\"\\UA66D\"", 8,
	  "line 1 column 3: invalid escape near '\"\\U'" },
	{ "string_with_trailing_garbage", "\"\"x", 3,
	  "line 1 column 3: end of file expected near 'x'" },
	{ "string_escaped_nul", "[\"\\u0000\"]", 10,
	  "line 1 column 9: \\u0000 (NUL) is not allowed in strings" },
	{ "string_overlong_utf8", "[\"\300\257\"]", 6,
	  "line 1 column 3: invalid UTF-8 (byte 0xc0)" },
	{ "string_utf16_surrogate_bytes", "[\"\355\240\200\"]", 7,
	  "line 1 column 3: invalid UTF-8 (byte 0xed)" },
	{ "string_above_max_codepoint", "[\"\364\220\200\200\"]", 8,
	  "line 1 column 3: invalid UTF-8 (byte 0xf4)" },
	{ "multidigit_number_then_00", "123\000", 4, "line 1 column 4: NUL byte" },
};

static void
test_json_n_cases(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(n_cases); i++) {
		json_fails_n(n_cases[i].text, n_cases[i].len, KORCH_EINVALID, n_cases[i].message);
	}
}

static void
test_json_manifests_source(void **state)
{
	/* codec_decode_manifests takes JSON when the first non-blank byte is { or [. */
	const char *text = "\n\n  {\"kind\": \"Pod\",\n\"kind\": 1}";
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	assert_int_equal(codec_decode_manifests(text, strlen(text), "pod.json", &docs, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "pod.json:4:6: duplicate object key near '\"kind\"'");
	korch_error_free(err);
	err = NULL;

	text = "\n\n  {\"kind\": \"Pod\"}\n";
	assert_int_equal(codec_decode_manifests(text, strlen(text), "pod.json", &docs, &err), 0);
	assert_int_equal(docs.n, 1);
	assert_int_equal(docs.lines[0], 3);
	assert_json_text(docs.docs[0], "{\"kind\":\"Pod\"}");
	codec_docs_free(&docs);
	assert_null(docs.docs);
	assert_int_equal(docs.n, 0);
	codec_docs_free(NULL);
}

static void
test_json_encode(void **state)
{
	json_t *v = json_pack("{s:s, s:[i, f, b, n], s:{}}", "z", "line\n\"q\"\t\303\251", "a", 1,
			      0.5, 1, "m");
	assert_non_null(v);
	char *s = codec_json_encode(v);
	assert_string_equal(s, "{\"z\":\"line\\n\\\"q\\\"\\t\303\251\",\"a\":[1,0.5,true,null],"
			       "\"m\":{}}");
	free(s);
	json_decref(v);
	assert_null(codec_json_encode(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_accepts),
		cmocka_unit_test(test_json_n_cases),
		cmocka_unit_test(test_json_manifests_source),
		cmocka_unit_test(test_json_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
