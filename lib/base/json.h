/*
 * json.h - jansson helpers: a cleanup attribute for json_t references (jansson 2.14 provides
 * json_decrefp itself), and values by dotted path.
 */
#ifndef KORCH_BASE_JSON_H
#define KORCH_BASE_JSON_H

#include <jansson.h>
#include "base/macro.h"

/* Drops the reference when the variable goes out of scope. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/*
 * The value at a dotted path ("status.nodeInfo.kubeletVersion"; a number indexes an array:
 * "spec.containers.0.name"), borrowed from v, or NULL when a step is missing. NULL or "" is v.
 */
json_t *json_at_path(const json_t *v, const char *path);

#endif
