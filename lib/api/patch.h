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

/*
 * RFC 7386: *ret receives the merged document (any JSON value; a non-object patch replaces the
 * target). target may be NULL (no document yet). Fails only without memory or without patch.
 */
int patch_json_merge(const json_t *target, const json_t *patch, json_t **ret, korch_error **err);

/*
 * Applies the operations in order; a failing "test" or a bad path is KORCH_EINVALID naming the
 * operation's index and path. Copies are bounded (Kubernetes' JSONPatchMaxCopyBytes, 3 MiB).
 *
 * The message is "operation N: TEXT" where TEXT is what the Kubernetes API server returns for
 * it (gopkg.in/evanphx/json-patch.v4's wording); TEXT is also the error's one cause (no field,
 * no reason), which is where Kubernetes' Status puts it. More than 10000 operations is
 * KORCH_ETOOLARGE. A null ops applies nothing, as in Kubernetes.
 */
int patch_json_patch(const json_t *target, const json_t *ops, json_t **ret, korch_error **err);

/*
 * schema is the root type of target's kind; fields it does not describe merge as maps and
 * replace as lists (Kubernetes' behaviour for unknown fields). schema may be NULL (nothing is
 * known). target and patch must be objects (JSON null counts as {}); errors carry the texts
 * the Kubernetes API server returns for the same patch.
 */
int patch_strategic_merge(const json_t *target, const json_t *patch,
			  const struct schema_type *schema, json_t **ret, korch_error **err);

#endif
