/*
 * korch/resource.h - the kinds korch serves, as `kubectl api-resources` lists them, and the
 * names users give them.
 */
#ifndef KORCH_RESOURCE_H
#define KORCH_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <korch/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One resource (kind); static data, never freed. */
typedef struct korch_resource korch_resource;

/** Number of resources korch serves. */
KORCH_EXPORT size_t korch_resource_count(void);

/** Resource i (0 .. count-1) in a stable order; NULL past the end. */
KORCH_EXPORT const korch_resource *korch_resource_at(size_t i);

/**
 * The resource a user means by name: a plural, singular, short name or kind, optionally with its
 * group ("deploy", "deployments.apps", "Deployment"), case-insensitive; NULL when none.
 */
KORCH_EXPORT const korch_resource *korch_resource_lookup(const char *name);

/** The resource of an apiVersion and kind ("apps/v1", "Deployment"); NULL when none. */
KORCH_EXPORT const korch_resource *korch_resource_for_kind(const char *api_version,
							   const char *kind);

/** Its API group ("" for the core group), version, kind, plural and singular names. */
KORCH_EXPORT const char *korch_resource_group(const korch_resource *r);
KORCH_EXPORT const char *korch_resource_version(const korch_resource *r);
KORCH_EXPORT const char *korch_resource_kind(const korch_resource *r);
KORCH_EXPORT const char *korch_resource_plural(const korch_resource *r);
KORCH_EXPORT const char *korch_resource_singular(const korch_resource *r);

/** Short name i ("deploy"), NULL past the last. */
KORCH_EXPORT const char *korch_resource_short_name(const korch_resource *r, size_t i);

/** Whether objects of the resource live in a namespace. */
KORCH_EXPORT bool korch_resource_namespaced(const korch_resource *r);

#ifdef __cplusplus
}
#endif

#endif
