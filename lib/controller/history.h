/*
 * history.h - ControllerRevisions for StatefulSets and DaemonSets (Kubernetes'
 * pkg/controller/history): each distinct pod template the controller has run is a revision named
 * OWNER-HASH holding {"spec":{"template":{..., "$patch":"replace"}}}, numbered in the order they
 * were the update revision; rolling back to an earlier template reuses its revision with a new
 * number.
 */
#ifndef KORCH_CONTROLLER_HISTORY_H
#define KORCH_CONTROLLER_HISTORY_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "controller/manager.h"

/* The revisions owner controls (claimed: matching orphans adopted), sorted by revision. */
int history_list(struct ctrl *ctl, struct informer *revisions, const json_t *owner,
		 const struct kind_info *owner_kind, json_t **ret, korch_error **err);

/*
 * The update revision for owner's current template: the newest revision with the same data
 * (an older one is renumbered to max+1 and written), else a new one created (bumping
 * status.collisionCount in *collision_count on a name collision). *ret is a new reference.
 */
int history_update_revision(struct ctrl *ctl, const json_t *owner,
			    const struct kind_info *owner_kind, json_t *revisions,
			    int64_t *collision_count, json_t **ret, korch_error **err);

/* The revision's template (its data's spec.template without "$patch"). New reference. */
json_t *history_template(const json_t *revision);

/*
 * Deletes the oldest revisions beyond limit that are not live (not named in live, a JSON array
 * of revision names).
 */
int history_truncate(struct ctrl *ctl, const json_t *revisions, const json_t *live, int64_t limit,
		     korch_error **err);

/* The label carrying a pod's revision name. */
#define REVISION_HASH_LABEL "controller-revision-hash"

#endif
