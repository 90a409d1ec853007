/*
 * patch-test.h - helpers for the patch tests: JSON written with single quotes for
 * readability, exact comparison of results, and a check that inputs were left untouched.
 */
#ifndef KORCH_TESTS_PATCH_TEST_H
#define KORCH_TESTS_PATCH_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

/* Parses JSON written with ' for " (test texts hold no apostrophes). */
static inline json_t *
tjson(const char *text)
{
	char *s = strdup(text);
	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_error_t e;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", s, e.text);
	free(s);
	return v;
}

/* Compact text of v, keys in insertion order. */
static inline char *
tdump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(s);
	return s;
}

/* got must equal want (object members in any order, list items in order). */
static inline void
assert_json_equal(const json_t *got, const char *want_text)
{
	json_t *want = tjson(want_text);
	if (!json_equal(got, want)) {
		char *g = tdump(got), *w = tdump(want);
		fail_msg("got %s\nwant %s", g, w);
	}
	json_decref(want);
}

/* got must print exactly as want (member order included). */
static inline void
assert_json_text(const json_t *got, const char *want_text)
{
	json_t *want = tjson(want_text);
	char *g = tdump(got), *w = tdump(want);
	if (strcmp(g, w) != 0)
		fail_msg("got %s\nwant %s", g, w);
	free(g);
	free(w);
	json_decref(want);
}

/* A snapshot of an input, to check that a patch function did not change it. */
struct tsnap {
	const json_t *value; /* the input */
	char *text;          /* its text before the call */
};

static inline struct tsnap
tsnap_take(const json_t *v)
{
	return (struct tsnap){ v, v ? tdump(v) : NULL };
}

static inline void
tsnap_check(struct tsnap *s)
{
	if (s->value) {
		char *now = tdump(s->value);
		if (strcmp(now, s->text) != 0)
			fail_msg("input changed: was %s, now %s", s->text, now);
		free(now);
	}
	free(s->text);
}

#endif
