/*
 * apply.h - server-side apply and field ownership (metadata.managedFields), as kube-apiserver's
 * field manager (k8s.io/apimachinery/pkg/util/managedfields) does them on top of
 * structured-merge-diff: merging an applied configuration, conflicts between field managers,
 * removal of the fields a manager stops applying, and the ownership every create, update and
 * patch records.
 *
 * Both functions are pure: they work on jansson trees and the field schema, never on a store.
 * The write path calls them after decoding and defaulting, and validates and stores what they
 * return.
 *
 * What Kubernetes does around them and korch does the same way:
 * - managedFields holds one entry per manager identity: (manager, operation Apply) for appliers,
 *   whatever the apiVersion; (manager, operation Update, apiVersion, subresource) for the rest.
 *   An empty manager name is "unknown". Entries are sorted by operation (Apply first), time,
 *   manager, apiVersion and subresource; each has apiVersion, time (RFC 3339, seconds),
 *   fieldsType "FieldsV1" and fieldsV1, and subresource when there is one.
 * - apiVersion, kind and server-owned metadata are never owned: metadata.name, namespace,
 *   uid, resourceVersion, generation, creationTimestamp, selfLink, managedFields, clusterName
 *   (stripped as Kubernetes' field manager strips them), and deletionTimestamp and
 *   deletionGracePeriodSeconds (which Kubernetes sets outside the field manager).
 * - Fields the write path resets are not owned (Kubernetes' reset fields): .status when an
 *   object whose schema has a status is written through the main resource, .spec when it is
 *   written through the status subresource.
 * - An object that has no managedFields when it is applied to first gets them: what it holds is
 *   recorded for the manager "before-first-apply" (operation Update), so the apply conflicts
 *   with it as it would with any other owner.
 * - At most 10 Update entries are kept; the oldest are merged into "ancient-changes" entries,
 *   one per apiVersion.
 * - The manager "kubectl" (kubectl apply --server-side) applying to an object that carries
 *   kubectl.kubernetes.io/last-applied-configuration is not in conflict on the fields that
 *   annotation sets with the values they still have (the switch from client-side apply), and
 *   the annotation is rewritten to the applied configuration when the apply succeeds.
 *
 * korch has one version per kind: the sets of entries written at another apiVersion are used
 * as they are (Kubernetes would convert the objects to that version to compare them).
 */
#ifndef KORCH_API_APPLY_H
#define KORCH_API_APPLY_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/schema.h"

/* The cause type of each conflicting field in a KORCH_ECONFLICT error of apply_object(). */
#define APPLY_REASON_CONFLICT "FieldManagerConflict"

/* The manager name kubectl apply --server-side uses by default. */
#define APPLY_MANAGER_KUBECTL "kubectl"

/* The annotation client-side apply keeps (kubectl.kubernetes.io/last-applied-configuration). */
#define APPLY_LAST_APPLIED_ANNOTATION "kubectl.kubernetes.io/last-applied-configuration"

/*
 * Applies the configuration applied (an object: apiVersion, kind, metadata.name, the fields the
 * manager sets) for manager to live_or_null, the stored object (NULL: it does not exist yet and
 * the apply creates it), under the kind's root schema, at api_version ("apps/v1"), at wall clock
 * now_wall_ns.
 *
 * The configuration is merged into the live object (associative lists by key, sets by value,
 * atomic lists and maps and scalars replaced; field and item order kept, new ones appended).
 * The manager then owns exactly the fields the configuration sets; fields it owned before and no
 * longer sets are removed from the object unless another manager owns them too (list items
 * included). A field the configuration changes (a new value, or a value it adds where there was
 * none) that another manager owns is a conflict: without force the apply fails with
 * KORCH_ECONFLICT, Kubernetes' message (`Apply failed with 1 conflict: conflict with
 * "kubectl-client-side-apply" using apps/v1: .spec.replicas`, or the multi-conflict form
 * grouped by manager) and one cause per field (reason APPLY_REASON_CONFLICT, field
 * ".spec.replicas", message `conflict with "..." using apps/v1`); with force the fields move to
 * this manager. Fields whose value the apply leaves as it was are shared, not taken. Fields the
 * apply removes are taken from every manager.
 *
 * *ret gets the new object with metadata.managedFields updated: the manager's Apply entry holds
 * its fields, at api_version, with time now (kept as it was when the apply changed nothing),
 * fields taken from other managers are gone from their entries, and entries left empty are
 * dropped. Nulls the merge leaves (an explicit null applied, a map or list the removal empties)
 * are removed as kube-apiserver's decoding removes them. The inputs are not modified.
 *
 * Refused with KORCH_EINVALID: applied not an object, with metadata.managedFields set
 * ("metadata.managedFields must be nil"), or with another apiVersion ("Incorrect version
 * specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"); values
 * that do not fit the schema, fields it does not declare, or list items that repeat a key in the
 * configuration ("failed to create typed patch object (default/web; apps/v1, Kind=Deployment):
 * .spec.template.spec.containers: duplicate entries for key [name=\"web\"]"; the same for
 * the live object, where repeated keys are allowed); live managedFields that do not decode
 * ("failed to decode managed fields: ..."). Also KORCH_ENOMEM. Nothing is written on failure.
 */
int apply_object(const json_t *live_or_null, const json_t *applied, const struct schema_type *root,
		 const char *manager, const char *api_version, bool force, int64_t now_wall_ns,
		 json_t **ret, korch_error **err);

/*
 * Records in new_obj's metadata.managedFields what a create (old_or_null NULL), update or patch
 * by manager changed from old_or_null to new_obj, written at api_version through subresource
 * ("status", "scale", ...) or through the main resource (subresource_or_null NULL or ""): every
 * field whose value changed, or that appeared, becomes owned by the manager's Update entry (with
 * "subresource" when there is one, its time now when it gained fields), and is taken from every
 * other manager; fields that disappeared are taken from every manager; entries left empty are
 * dropped.
 *
 * managedFields in new_obj are handled as Kubernetes handles those of a request: through a
 * subresource they are ignored (old's are used); an empty list (or a list of one empty entry)
 * resets them: the object then has none, and an update of an object that has none records
 * nothing (Kubernetes starts tracking an existing object at its first apply); a list that decodes
 * and is not empty is taken as given; anything else (absent, or entries that do not decode) is
 * replaced by old's entries (old's entries that do not decode count as none).
 *
 * new_obj is modified in place (managedFields set, or removed when none remain); old_or_null is
 * not. Refused with KORCH_EINVALID: new_obj not an object, values that do not fit the schema
 * or fields it does not declare, in new_obj ("failed to convert new object (default/web;
 * apps/v1, Kind=Deployment) to smd typed: .spec.foo: field not declared in schema") or in
 * old_or_null ("failed to convert live object ..."), when there are managedFields to track.
 * Also KORCH_ENOMEM. new_obj is left as it was on failure (kube-apiserver 1.32 then writes the
 * object without managedFields; later releases keep the live object's).
 */
int apply_record_update(const json_t *old_or_null, json_t *new_obj, const struct schema_type *root,
			const char *manager, const char *api_version,
			const char *subresource_or_null, int64_t now_wall_ns, korch_error **err);

#endif
