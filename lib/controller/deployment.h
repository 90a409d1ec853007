/*
 * deployment.h - what the Deployment controller's files share (deployment.c: the controller,
 * its ReplicaSets, revisions, status and conditions; deployment-rollout.c: rolling update,
 * recreate, proportional scaling and cleanup), and the rollout-status check kubectl runs.
 */
#ifndef KORCH_CONTROLLER_DEPLOYMENT_H
#define KORCH_CONTROLLER_DEPLOYMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "controller/manager.h"

#define REVISION_ANNOTATION "deployment.kubernetes.io/revision"
#define REVISION_HISTORY_ANNOTATION "deployment.kubernetes.io/revision-history"
#define DESIRED_REPLICAS_ANNOTATION "deployment.kubernetes.io/desired-replicas"
#define MAX_REPLICAS_ANNOTATION "deployment.kubernetes.io/max-replicas"
#define POD_TEMPLATE_HASH_LABEL "pod-template-hash"

/* One reconcile of a Deployment. */
struct dsync {
	struct ctrl *ctl; /* the controller */
	const char *key;  /* ns/name */
	json_t *d;        /* the Deployment, a working copy: status writes update it */
	json_t *rss;      /* the ReplicaSets it controls (working copies, updated in place) */
	json_t *new_rs;   /* the element of rss whose template is the Deployment's, or NULL */
	json_t *pods;     /* its pods (by selector, controlled by one of rss), for Recreate */
	int64_t wall;     /* wall time of this reconcile */
};

/* ---- numbers (deployment_util) ---- */

int64_t dep_replicas(const json_t *d);
int64_t rs_replicas(const json_t *rs);
bool dep_rolling(const json_t *d);
int64_t dep_max_surge(const json_t *d);
int64_t dep_max_unavailable(const json_t *d);
/* Sums of spec.replicas, status.replicas, status.readyReplicas, status.availableReplicas. */
int64_t rs_sum(const json_t *rss, const char *path, int64_t dflt);
/* The ReplicaSets of rss other than skip (may be NULL), as a new array. */
json_t *rs_others(const json_t *rss, const json_t *skip);
/* Those with spec.replicas > 0 (FilterActiveReplicaSets), as a new array. */
json_t *rs_active(const json_t *rss);
/* Sorts by creation time, then name (ReplicaSetsByCreationTimestamp); reverse: newest first. */
void rs_sort_by_creation(json_t *rss, bool reverse);

/* ---- writes ---- */

/* scaleReplicaSetAndRecordEvent: sets rs's size (and replica annotations). Updates *rs in rss. */
int dep_scale_rs(struct dsync *s, json_t *rs, int64_t size, bool *ret_scaled, korch_error **err);
/* Like dep_scale_rs with an explicit operation word for the event ("up", "down", ""). */
int dep_scale_rs_op(struct dsync *s, json_t *rs, int64_t size, const char *op, bool *ret_scaled,
		    korch_error **err);
/* getAllReplicaSetsAndSyncRevision: finds (or creates) the new ReplicaSet, syncs revisions. */
int dep_sync_revision(struct dsync *s, bool create, korch_error **err);
/* syncRolloutStatus: status with progress estimation. */
int dep_sync_rollout_status(struct dsync *s, korch_error **err);
/* syncDeploymentStatus: status without progress estimation. */
int dep_sync_status(struct dsync *s, korch_error **err);
/* cleanupDeployment: deletes old ReplicaSets beyond revisionHistoryLimit. */
int dep_cleanup(struct dsync *s, korch_error **err);
/* DeploymentComplete on the Deployment's own status. */
bool dep_complete(const json_t *d, const json_t *status);

/* ---- strategies (deployment-rollout.c) ---- */

int dep_rollout_rolling(struct dsync *s, korch_error **err);
int dep_rollout_recreate(struct dsync *s, korch_error **err);
/* sync(): scaling events and paused Deployments. */
int dep_sync_scale(struct dsync *s, korch_error **err);
/* isScalingEvent. */
int dep_is_scaling_event(struct dsync *s, bool *ret, korch_error **err);

/*
 * kubectl rollout status's verdict on a Deployment (DeploymentStatusViewer): 1 done, 0 not yet,
 * KORCH_ETIMEOUT when the progress deadline was exceeded; *ret_message (may be NULL) gets
 * kubectl's line ("deployment \"web\" successfully rolled out"); caller frees.
 */
int deployment_rollout_status(const json_t *d, char **ret_message);

#endif
