/*
 * json.h - jansson ownership helpers: cleanup attributes and steal for json_t references.
 */
#ifndef KORCH_BASE_JSON_H
#define KORCH_BASE_JSON_H

#include <jansson.h>
#include "base/macro.h"

static inline void
json_decrefp(json_t **p)
{
	json_decref(*p);
}

/* Drops the reference when the variable goes out of scope. */
#define _cleanup_json_ _cleanup_(json_decrefp)

#endif
