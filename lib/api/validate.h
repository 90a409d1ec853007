/*
 * validate.h - Kubernetes 1.32's defaulting and validation of the kinds korch knows, and the
 * policy that refuses the fields whose behaviour korch does not provide.
 *
 * The write path runs them in this order on a decoded, schema-checked object: set_defaults,
 * object_validate, object_check_supported. Each works on the JSON object (apiVersion, kind,
 * metadata, spec, status) as the API serves it (the v1 shape, not Kubernetes' internal types).
 *
 * What is left to the write path, as kube-apiserver leaves it to its REST strategies and
 * admission plugins rather than to defaulting and validation: clearing metadata.namespace of
 * cluster-scoped objects, name generation (before validation: a name is required), uid (before
 * validation for a Job, whose generated selector is checked once it has one), resourceVersion,
 * generation and timestamps (on update copied from the stored object before validation),
 * Job selector and template label generation, status resets on create and update, a
 * Namespace's "kubernetes" finalizer, merging a Secret's stringData into data, allocating
 * Service cluster IPs and node ports (copied from the stored Service on update), and the
 * admission defaults (service account and its token volume, priority, default tolerations).
 */
#ifndef KORCH_API_VALIDATE_H
#define KORCH_API_VALIDATE_H

#include <jansson.h>
#include <korch/common.h>
#include "api/kinds.h"

/*
 * Fills in Kubernetes' defaults for kind k in place, as kube-apiserver's defaulting does when
 * it decodes a request (core/v1, apps/v1, batch/v1, ... defaults.go and their generated
 * defaulters), plus what the Service REST storage fills in on create that validation depends
 * on (clusterIPs from clusterIP, ipFamilyPolicy, ipFamilies for an IPv4 cluster). Idempotent,
 * and applied to status too (phases), so it may run again on objects read back. Values of the
 * wrong JSON type are left alone for validation to report. Quantities in resource lists are
 * rounded up to milli units and written back as Kubernetes prints them ("0.5" -> "500m").
 * An allocation failure leaves some defaults unset (never a half-written value).
 */
void object_set_defaults(json_t *obj, const struct kind_info *k);

/*
 * Validates obj (already defaulted) as kube-apiserver validates a create (old NULL) or an
 * update (old the stored object): metadata, the kind's rules, the update rules (immutable
 * fields), and the generic metadata rules every registry applies (on create only once the
 * kind's rules passed, on update before them). All broken rules are collected, each a cause
 * naming the field path, its Kubernetes reason and message; a cause Kubernetes would list
 * twice (its strategies validate some objects twice on update) is listed once.
 *
 * On failure returns KORCH_EINVALID and sets *err with the causes and Kubernetes' message:
 * `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or
 * equal to 0` for one cause, the causes joined by ", " in brackets for several (identical
 * texts once). KORCH_ENOMEM when out of memory. Returns 0 and leaves *err alone otherwise.
 */
int object_validate(const json_t *obj, const json_t *old_or_null, const struct kind_info *k,
		    korch_error **err);

/*
 * The Invalid error Kubernetes returns for causes found outside validation (the write path's
 * allocations): `Service "web" is invalid: spec.clusterIPs: Invalid value: ...`, one cause alone,
 * several in brackets, with the causes copied. Returns KORCH_EINVALID (KORCH_ENOMEM).
 */
int object_invalid(const json_t *obj, const struct kind_info *k, const korch_error *causes,
		   korch_error **err);

/*
 * Refuses the fields Kubernetes knows and korch does not implement (the table in
 * unsupported.c), wherever they occur in obj: a Pod's spec, every workload's pod template, a
 * CronJob's job template. KORCH_EUNSUPPORTED with one cause per field (reason
 * "FieldValueForbidden", message "not supported by korch (WHY)") and a message listing them as
 * `spec.runtimeClassName: not supported by korch (...)`, in brackets when several.
 * Returns 0 when obj uses none; KORCH_ENOMEM when out of memory.
 */
int object_check_supported(const json_t *obj, const struct kind_info *k, korch_error **err);

/* One line of the refusal table, for documentation (korch-manifests(5) is generated from it). */
struct unsupported_field {
	const char *where; /* "pod spec", "pod metadata", or the kind ("Service") */
	const char *path;  /* "containers[].resizePolicy" */
	const char *when;  /* "set", "= Local", "!= Default", "starts with HugePages", ... */
	const char *why;   /* the reason given in the error */
};

/* Entry i of the table (false past its end); ret->when is valid until the next call. */
bool unsupported_field_at(size_t i, struct unsupported_field *ret);

#endif
