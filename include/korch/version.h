/*
 * korch/version.h - the library's version, at build time and at run time.
 */
#ifndef KORCH_VERSION_H
#define KORCH_VERSION_H

#include <korch/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KORCH_VERSION_MAJOR 0
#define KORCH_VERSION_MINOR 1
#define KORCH_VERSION_PATCH 0

/** The version of the library loaded at run time, "MAJOR.MINOR.PATCH"; static storage. */
KORCH_EXPORT const char *korch_version(void);

#ifdef __cplusplus
}
#endif

#endif
