/*
 * test_codec.h - helpers shared by the codec tests: decode expecting success or an exact error,
 * and compare trees by their compact JSON text (which keeps field order and number types).
 */
#ifndef KORCH_TEST_CODEC_H
#define KORCH_TEST_CODEC_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <korch/common.h>
#include "api/codec.h"
#include "base/error.h"
#include "base/strbuf.h"

/* Asserts that value's compact JSON is exactly want. Does not consume value. */
static inline void
assert_json_text(const json_t *value, const char *want)
{
	char *got = codec_json_encode(value);
	assert_non_null(got);
	if (strcmp(got, want) != 0)
		print_error("want %s\n got %s\n", want, got);
	assert_string_equal(got, want);
	free(got);
}

/* Decodes a YAML stream of exactly one document and returns it (the caller's reference). */
static inline json_t *
yaml_one(const char *text)
{
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	int r = codec_yaml_decode(text, strlen(text), &docs, &err);
	if (r < 0)
		print_error("decode: %s\n", korch_error_message(err));
	assert_int_equal(r, 0);
	assert_int_equal(docs.n, 1);
	json_t *doc = json_incref(docs.docs[0]);
	codec_docs_free(&docs);
	return doc;
}

/* Decodes YAML text of one document and compares its compact JSON with want. */
static inline void
yaml_is(const char *text, const char *want)
{
	json_t *doc = yaml_one(text);
	assert_json_text(doc, want);
	json_decref(doc);
}

/* Asserts that decoding YAML (len bytes) fails with code and exactly message; ret untouched. */
static inline void
yaml_fails_n(const char *text, size_t len, int code, const char *message)
{
	struct codec_docs docs = { (json_t **)0x1, NULL, 7, 0 };
	korch_error *err = NULL;
	int r = codec_yaml_decode(text, len, &docs, &err);
	assert_non_null(err);
	if (strcmp(korch_error_message(err), message) != 0)
		print_error("want %s\n got %s\n", message, korch_error_message(err));
	assert_string_equal(korch_error_message(err), message);
	assert_int_equal(r, code);
	assert_int_equal(korch_error_code(err), code);
	assert_ptr_equal(docs.docs, (json_t **)0x1);
	assert_int_equal(docs.n, 7);
	korch_error_free(err);
}

static inline void
yaml_fails(const char *text, int code, const char *message)
{
	yaml_fails_n(text, strlen(text), code, message);
}

/* Asserts that decoding JSON (len bytes) fails with code and exactly message. */
static inline void
json_fails_n(const char *text, size_t len, int code, const char *message)
{
	json_t *doc = (json_t *)0x1;
	korch_error *err = NULL;
	int r = codec_json_decode(text, len, &doc, &err);
	assert_non_null(err);
	if (strcmp(korch_error_message(err), message) != 0)
		print_error("want %s\n got %s\n", message, korch_error_message(err));
	assert_string_equal(korch_error_message(err), message);
	assert_int_equal(r, code);
	assert_int_equal(korch_error_code(err), code);
	assert_ptr_equal(doc, (json_t *)0x1);
	korch_error_free(err);
}

static inline void
json_fails(const char *text, int code, const char *message)
{
	json_fails_n(text, strlen(text), code, message);
}

/* Decodes JSON text and compares its compact JSON with want. */
static inline void
json_is(const char *text, const char *want)
{
	json_t *doc = NULL;
	korch_error *err = NULL;
	int r = codec_json_decode(text, strlen(text), &doc, &err);
	if (r < 0)
		print_error("decode: %s\n", korch_error_message(err));
	assert_int_equal(r, 0);
	assert_json_text(doc, want);
	json_decref(doc);
}

/* Encodes value as YAML and compares the text with want. */
static inline void
yaml_encodes_to(const json_t *value, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	korch_error *err = NULL;
	int r = codec_yaml_encode(value, &sb, &err);
	if (r < 0)
		print_error("encode: %s\n", korch_error_message(err));
	assert_int_equal(r, 0);
	if (strcmp(strbuf_str(&sb), want) != 0)
		print_error("want:\n%s\ngot:\n%s\n", want, strbuf_str(&sb));
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_free(&sb);
}

/*
 * Encodes value as YAML, decodes the text again, and asserts that the result is the same tree
 * with the same field order and number types.
 */
static inline void
assert_yaml_round_trip(const json_t *value)
{
	struct strbuf sb = STRBUF_INIT;
	korch_error *err = NULL;
	assert_int_equal(codec_yaml_encode(value, &sb, &err), 0);
	struct codec_docs docs = { 0 };
	int r = codec_yaml_decode(strbuf_str(&sb), sb.len, &docs, &err);
	if (r < 0)
		print_error("re-decode: %s\nof:\n%s\n", korch_error_message(err), strbuf_str(&sb));
	assert_int_equal(r, 0);
	assert_int_equal(docs.n, 1);
	char *want = codec_json_encode(value);
	char *got = codec_json_encode(docs.docs[0]);
	if (strcmp(want, got) != 0)
		print_error("yaml:\n%s\nwant %s\n got %s\n", strbuf_str(&sb), want, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
	codec_docs_free(&docs);
	strbuf_free(&sb);
}

#endif
