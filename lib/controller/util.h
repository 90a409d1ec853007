/*
 * util.h - what the controllers share about objects: JSON paths, owner references, pod
 * readiness and availability, conditions, int-or-percent values, semantic template equality,
 * label selectors of workloads, and the pod-template-hash.
 */
#ifndef KORCH_CONTROLLER_UTIL_H
#define KORCH_CONTROLLER_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/kinds.h"
#include "api/selector.h"

/* ---- JSON by dotted path ("spec.template.metadata"); NULL/absent-safe ---- */

const json_t *jp_get(const json_t *o, const char *path);
/* The string at path, or NULL when absent or not a string. */
const char *jp_str(const json_t *o, const char *path);
/* The string at path, or "" when absent. */
const char *jp_str0(const json_t *o, const char *path);
/* The integer at path, or dflt when absent or not an integer. */
int64_t jp_int(const json_t *o, const char *path, int64_t dflt);
/* true only for JSON true. */
bool jp_true(const json_t *o, const char *path);
/* The object child key of o, created when missing (or not an object). NULL when out of memory. */
json_t *jp_obj(json_t *o, const char *key);
/* Sets o[key] to a new reference, replacing; returns whether the value changed. */
bool jp_set(json_t *o, const char *key, json_t *value_new);

/* ---- time ---- */

/* metav1.Time of a wall time in nanoseconds ("2026-11-26T15:41:00Z"); buf holds 32 bytes. */
const char *time_text(int64_t wall_ns, char buf[static 32]);
/* metav1.MicroTime ("2026-11-26T15:41:00.123456Z"). */
const char *micro_time_text(int64_t wall_ns, char buf[static 32]);
/* The wall time at path in nanoseconds, or dflt when absent or malformed. */
int64_t jp_time(const json_t *o, const char *path, int64_t dflt);

/* ---- owners ---- */

/*
 * The ownerReference a controller puts on what it creates: apiVersion, kind, name, uid,
 * controller: true, blockOwnerDeletion: true (metav1.NewControllerRef).
 */
json_t *controller_ref_new(const json_t *owner, const struct kind_info *k);
/* The ownerReference with controller: true, or NULL. */
const json_t *controller_ref(const json_t *obj);
/* Whether obj's controller is the object with this uid. */
bool controlled_by(const json_t *obj, const char *uid);

/* ---- pods ---- */

/* Not Succeeded, not Failed, not being deleted (IsPodActive). */
bool pod_active(const json_t *pod);
/* The Ready condition is True. */
bool pod_ready(const json_t *pod);
/* Ready for at least min_ready_s at now_ns (IsPodAvailable); *ret_wait_ns (may be NULL) gets how
 * long until it will be when it is ready but not yet available, else 0. */
bool pod_available(const json_t *pod, int64_t min_ready_s, int64_t now_ns, int64_t *ret_wait_ns);
/* The pod's phase, "" when unset. */
const char *pod_phase(const json_t *pod);
/* Whether the pod was scheduled to a node. */
bool pod_assigned(const json_t *pod);

/* ---- conditions ---- */

/* The condition of type in status.conditions, or NULL. */
const json_t *condition_get(const json_t *obj, const char *type);
/*
 * Sets a condition in obj's status.conditions: status, reason and message; lastTransitionTime
 * moves only when status changes, lastUpdateTime (when with_update_time, as Deployments keep
 * it) whenever anything changes. Returns whether obj changed.
 */
bool condition_set(json_t *obj, const char *type, const char *status, const char *reason,
		   const char *message, int64_t now_wall_ns, bool with_update_time);
/* Removes a condition; returns whether it was there. */
bool condition_remove(json_t *obj, const char *type);

/* ---- values ---- */

/*
 * GetScaledValueFromIntOrPercent: an integer as it is, "25%" of total rounded up or down.
 * KORCH_EINVALID for anything else ("invalid value for IntOrString: invalid value "x"").
 */
int int_or_percent(const json_t *v, int64_t total, bool round_up, int64_t *ret, korch_error **err);

/* ---- templates ---- */

/*
 * Whether two pod templates are semantically equal, as apiequality.Semantic.DeepEqual on the
 * templates with their pod-template-hash labels removed (EqualIgnoreHash): absent, null, empty
 * maps and empty lists are the same, and so are equal quantities written differently. What
 * `kubectl rollout undo` sends back (creationTimestamp: null, resources: {}) equals the template
 * it came from.
 */
bool templates_equal_ignore_hash(const json_t *a, const json_t *b);

/*
 * The pod-template-hash label value of a template and collision count (collision_count < 0:
 * none), as Kubernetes' ComputeHash computes it: FNV-32a over the template, with the collision
 * count appended, printed in decimal and mapped through SafeEncodeString. See util.c for how
 * the template is serialised.
 */
void pod_template_hash(const json_t *tmpl, int64_t collision_count, char buf[static 16]);

/* ---- selectors ---- */

/*
 * The selector of a workload: spec.selector as a metav1.LabelSelector, or a plain map for
 * ReplicationControllers (rc_map). An empty selector selects nothing here (controllers never
 * adopt everything). KORCH_EINVALID for a malformed one.
 */
int workload_selector(const json_t *obj, bool rc_map, struct label_selector **ret,
		      korch_error **err);
/* Whether sel (may be NULL: nothing) selects obj by its labels. */
bool selects(const struct label_selector *sel, const json_t *obj);

/* ---- names ---- */

/* "ns/name" or "name": the work queue key of an object; caller frees. */
char *object_key(const json_t *obj);

#endif
