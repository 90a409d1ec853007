/*
 * test_validate.h - what the validation and defaulting tests share: JSON literals, mutating an
 * object at a field path, and running tables of cases that each assert the exact causes.
 */
#ifndef KORCH_TEST_VALIDATE_H
#define KORCH_TEST_VALIDATE_H

#include <stdbool.h>
#include <jansson.h>
#include "api/kinds.h"
#include "base/macro.h"

/* Parses a JSON literal (fails the test when it does not parse). */
json_t *J(const char *text);

/* The kind for apiVersion/kind (fails the test when unknown). */
const struct kind_info *K(const char *api_version, const char *kind);

/*
 * Sets the member at path to value (a JSON literal), or removes it when value is NULL. path:
 * "spec.containers[0].ports[1].name", keys with dots in brackets: "metadata.labels[a.b/c]".
 * Missing objects on the way are created; an index one past the end appends.
 */
void mutate(json_t *obj, const char *path, const char *value);

/* A value in obj at path (borrowed), or NULL. */
json_t *at(json_t *obj, const char *path);

#define DEL NULL

/*
 * One case: up to six mutations (path, value pairs; a NULL value removes) applied to a copy
 * of the base object, and the causes expected, one per line as "[REASON] field: message"
 * where REASON is the part of the cause type after "FieldValue" (NULL: the object is valid).
 */
struct vcase {
	const char *name;
	const char *set[12];
	const char *want;
};

/*
 * Defaults base (a manifest), then runs every case: a create when old is NULL, else an update
 * of old (defaulted too) to the mutated copy of base. Fails with every mismatch listed.
 */
void run_cases(const char *base, const char *old, const struct vcase *cases, size_t n);

/* The causes of err in the "[Reason] field: message" form, one per line (caller frees). */
char *causes_text(const korch_error *err);

/* Defaults manifest and compares with the expected JSON, then checks idempotence. */
void check_defaults(const char *manifest, const char *expected);

#endif
