/*
 * pods.h - what the workload controllers do with pods (and other owned objects): build them
 * from a template, create and delete them with Kubernetes' events, claim them (adopt orphans
 * that match, release owned ones that stop matching, as ControllerRefManager does), and rank
 * them for scale-down.
 */
#ifndef KORCH_CONTROLLER_PODS_H
#define KORCH_CONTROLLER_PODS_H

#include <stdbool.h>
#include <jansson.h>
#include "controller/manager.h"

/*
 * GetPodFromTemplate: a new pod with the template's labels, annotations, finalizers and spec,
 * the controller reference to parent (of kind pk), in parent's namespace, named by
 * generateName (name_prefix, or the parent's name and "-"). NULL when out of memory.
 */
json_t *pod_from_template(const json_t *tmpl, const json_t *parent, const struct kind_info *pk,
			  const char *name_prefix);

/*
 * Creates pod for parent; records SuccessfulCreate "Created pod: NAME" or FailedCreate
 * "Error creating: MESSAGE" (not when the namespace is terminating). *ret (may be NULL) gets
 * the stored pod.
 */
int pod_create(struct ctrl *ctl, const json_t *parent, const json_t *pod, json_t **ret,
	       korch_error **err);

/* Deletes pod for parent; SuccessfulDelete "Deleted pod: NAME" or FailedDelete. A pod already
 * gone is success without an event. */
int pod_delete(struct ctrl *ctl, const json_t *parent, const json_t *pod, korch_error **err);

/*
 * ClaimObjects: of candidates (an array of objects in the owner's namespace), keeps those owner
 * controls and sel matches, adopts orphans sel matches (adding the controller reference, after
 * re-reading the owner to check it still exists and is not being deleted), releases the ones it
 * controls that sel no longer matches (when it is not being deleted itself). *ret_claimed gets a
 * new array of the objects it now controls (adopted ones as patched). Objects being deleted are
 * never adopted. k is the kind of the candidates.
 */
int claim_objects(struct ctrl *ctl, const json_t *owner, const struct kind_info *owner_kind,
		  const struct kind_info *k, const struct label_selector *sel,
		  const json_t *candidates, json_t **ret_claimed, korch_error **err);

/*
 * Sorts pods so that the first are the best to delete (ActivePodsWithRanks, with
 * LogarithmicScaleDown): unassigned, then pending before unknown before running, not ready,
 * lower pod-deletion-cost, more of related_pods (may be NULL) on the same node, ready for less
 * time, more restarts, newer. now_ns is wall time.
 */
void pods_rank_for_deletion(json_t *pods, const json_t *related_pods, int64_t now_ns);

/* Sorts pods by name (for stable output). */
void pods_sort_by_name(json_t *pods);

#endif
