/*
 * strv.c - NULL-terminated string vectors.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <korch/common.h>
#include "base/strv.h"

size_t
strv_length(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void
strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

char **
strv_copy(char *const *v)
{
	if (!v)
		return NULL;
	size_t n = strv_length(v);
	char **c = calloc(n + 1, sizeof(*c));
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(c[i] = strdup(v[i]))) {
			strv_free(c);
			return NULL;
		}
	return c;
}

/* Appends s, which becomes the vector's. */
static int
push_owned(char ***v, char *s)
{
	size_t n = strv_length(*v);
	char **nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv) {
		free(s);
		return KORCH_ENOMEM;
	}
	nv[n] = s;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

int
strv_push(char ***v, const char *s)
{
	char *c = strdup(s);
	if (!c)
		return KORCH_ENOMEM;
	return push_owned(v, c);
}

int
strv_pushf(char ***v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return KORCH_ENOMEM;
	return push_owned(v, s);
}

int
strv_from_json(const json_t *arr, char ***ret)
{
	if (!arr || json_is_null(arr)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_array(arr))
		return KORCH_EINVALID;
	size_t n = json_array_size(arr);
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return KORCH_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (!s) {
			strv_free(v);
			return KORCH_EINVALID;
		}
		if (!(v[i] = strdup(s))) {
			strv_free(v);
			return KORCH_ENOMEM;
		}
	}
	*ret = v;
	return 0;
}
