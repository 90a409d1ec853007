/*
 * strv.h - NULL-terminated vectors of strings (argv, envp): copy, append, length, from a JSON
 * array, free.
 */
#ifndef KORCH_BASE_STRV_H
#define KORCH_BASE_STRV_H

#include <stddef.h>
#include <jansson.h>
#include "base/macro.h"

/* Entries before the NULL; 0 for NULL. */
size_t strv_length(char *const *v);

/* A deep copy; NULL for NULL (and when out of memory: check v before calling). */
char **strv_copy(char *const *v);

/*
 * Appends a copy of s to *v (which may be NULL: a new vector). 0 or KORCH_ENOMEM, with *v
 * unchanged on failure.
 */
int strv_push(char ***v, const char *s);

/*
 * Appends a string made by printf to *v. 0 or KORCH_ENOMEM, with *v unchanged on failure.
 */
int strv_pushf(char ***v, const char *fmt, ...) _printf_(2, 3);

/*
 * A vector of the strings of a JSON array. KORCH_EINVALID when arr is not an array or holds
 * something other than a string; *ret is NULL for a JSON null or a missing value (arr NULL).
 */
int strv_from_json(const json_t *arr, char ***ret);

/* Frees every entry and the vector; takes NULL. */
void strv_free(char **v);

DEFINE_CLEANUP_FUNC(strv_free, char *, strv_free)
#define _cleanup_strv_ _cleanup_(strv_freep)

#endif
