/*
 * merge-patch.c - JSON merge patch (RFC 7386): objects merge member by member, null removes a
 * member, anything else replaces the target.
 */
#include <jansson.h>

#include "api/patch.h"
#include "api/patch-internal.h"
#include "base/error.h"

/*
 * Merges patch into target, which is ours to change (a deep copy of the caller's). Values taken
 * from patch are deep-copied so that the result shares nothing with the caller's patch.
 * *ret receives a new reference; on failure target may be half-merged (the caller drops it).
 */
static int
merge_value(json_t *target, const json_t *patch, json_t **ret, korch_error **err)
{
	if (!json_is_object(patch)) {
		json_t *copy = json_deep_copy(patch);
		if (!copy)
			return error_oom(err);
		*ret = copy;
		return 0;
	}
	_cleanup_json_ json_t *result = NULL;
	if (json_is_object(target))
		result = json_incref(target);
	else if (!(result = json_object()))
		return error_oom(err);

	const char *key;
	json_t *value;
	json_object_foreach ((json_t *)patch, key, value) {
		if (json_is_null(value)) {
			json_object_del(result, key);
			continue;
		}
		json_t *merged = NULL;
		int r = merge_value(json_object_get(result, key), value, &merged, err);
		if (r < 0)
			return r;
		if (json_object_set_new(result, key, merged) < 0)
			return error_oom(err);
	}
	*ret = steal_pointer(&result);
	return 0;
}

int
patch_json_merge(const json_t *target, const json_t *patch, json_t **ret, korch_error **err)
{
	if (!patch)
		return error_set(err, KORCH_EINVALID, "merge patch: no patch document");
	_cleanup_json_ json_t *copy = NULL;
	if (target && !(copy = json_deep_copy(target)))
		return error_oom(err);
	json_t *result = NULL;
	int r = merge_value(copy, patch, &result, err);
	if (r < 0)
		return r;
	*ret = result;
	return 0;
}
