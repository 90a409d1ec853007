/*
 * patch.h - the three patch types of the Kubernetes API: JSON merge patch (RFC 7386), JSON
 * patch (RFC 6902) and strategic merge patch (merge keys and strategies from the field schema,
 * with the directives $patch, $setElementOrder, $deleteFromPrimitiveList and $retainKeys).
 *
 * None of them changes its inputs: the result is a new tree.
 */
#ifndef KORCH_API_PATCH_H
#define KORCH_API_PATCH_H

#include <jansson.h>
#include <korch/common.h>
#include "api/schema.h"

int patch_json_merge(const json_t *target, const json_t *patch, json_t **ret, korch_error **err);

/*
 * Applies the operations in order; a failing "test" or a bad path is KORCH_EINVALID naming the
 * operation's index and path. Copies are bounded (Kubernetes' JSONPatchMaxCopyBytes, 3 MiB).
 */
int patch_json_patch(const json_t *target, const json_t *ops, json_t **ret, korch_error **err);

/*
 * schema is the root type of target's kind; fields it does not describe merge as maps and
 * replace as lists (Kubernetes' behaviour for unknown fields).
 */
int patch_strategic_merge(const json_t *target, const json_t *patch,
			  const struct schema_type *schema, json_t **ret, korch_error **err);

#endif
