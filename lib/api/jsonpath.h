/*
 * jsonpath.h - kubectl's JSONPath templates (`-o jsonpath=...`, k8s.io/client-go/util/jsonpath):
 * text with {actions}: .field, ['key'], [n], [start:end:step], [*], .., [?(@.a == "x")],
 * unions [a,b], quoted strings {"\n"}, and {range ...}...{end}.
 */
#ifndef KORCH_API_JSONPATH_H
#define KORCH_API_JSONPATH_H

#include <stdbool.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/strbuf.h"

struct jsonpath;

/* Parses a template; errors read `error parsing jsonpath TEMPLATE: REASON`. */
int jsonpath_parse(const char *template_text, struct jsonpath **ret, korch_error **err);

/*
 * Appends the template's output for root to out, as kubectl prints it: several results of one
 * action separated by a space, strings as they are, numbers and booleans as Go prints them,
 * objects and arrays as compact JSON. With allow_missing (kubectl's default), a missing key
 * prints nothing; otherwise it is KORCH_ENOTFOUND (`KEY is not found`).
 */
int jsonpath_execute(const struct jsonpath *jp, const json_t *root, bool allow_missing,
		     struct strbuf *out, korch_error **err);

void jsonpath_free(struct jsonpath *jp);

#endif
