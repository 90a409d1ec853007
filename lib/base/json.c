/*
 * json.c - jansson helpers korch's layers share.
 */
#include <string.h>

#include "base/json.h"
#include "base/util.h"

json_t *
json_at_path(const json_t *v, const char *path)
{
	char part[256];
	while (v && path && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		if (json_is_array(v)) {
			int64_t idx;
			v = parse_int64(part, &idx) == 0 && idx >= 0
				    ? json_array_get(v, (size_t)idx)
				    : NULL;
		} else {
			v = json_object_get(v, part);
		}
		path = dot ? dot + 1 : NULL;
	}
	return (json_t *)v;
}
