/*
 * test-util.h - helpers every unit test may use (linked into each one).
 */
#ifndef KORCH_TESTS_TEST_UTIL_H
#define KORCH_TESTS_TEST_UTIL_H

#include "base/json.h"

/* The first document of a YAML text (a new reference); fails the test when it does not decode. */
json_t *test_yaml(const char *text);

#endif
