/*
 * json.h - jansson ownership helpers: a cleanup attribute for json_t references (jansson 2.14
 * provides json_decrefp itself).
 */
#ifndef KORCH_BASE_JSON_H
#define KORCH_BASE_JSON_H

#include <jansson.h>
#include "base/macro.h"

/* Drops the reference when the variable goes out of scope. */
#define _cleanup_json_ _cleanup_(json_decrefp)

#endif
