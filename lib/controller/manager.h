/*
 * manager.h - what the controllers share inside lib/controller: the manager's informers and
 * indexes, each controller's work queue, event recording and counted writes.
 *
 * A controller is a struct ctrl_ops: init() creates what it needs (informers through
 * cm_informer(), handlers that queue keys), sync() reconciles one key, fini() frees. The
 * manager builds every enabled controller when it becomes leader and frees them all when it
 * stops leading.
 */
#ifndef KORCH_CONTROLLER_MANAGER_H
#define KORCH_CONTROLLER_MANAGER_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "api/selector.h"
#include "base/hashmap.h"
#include "base/workqueue.h"
#include "client/informer.h"
#include "controller/controller.h"
#include "controller/index.h"
#include "controller/util.h"

struct ctrl;

struct ctrl_ops {
	const char *name;      /* "replicaset": how options and logs name it */
	const char *component; /* the Events' source.component: "replicaset-controller" */
	/* Creates informers, handlers and state (ctl->data); ctl->queue exists already. */
	int (*init)(struct ctrl *ctl, korch_error **err);
	/* Reconciles one key: 0 when done, negative to be retried with back-off. */
	int (*sync)(struct ctrl *ctl, const char *key);
	/* Frees ctl->data (informers are the manager's). May be NULL. */
	void (*fini)(struct ctrl *ctl);
};

struct ctrl {
	const struct ctrl_ops *ops;    /* what it is */
	struct controller_manager *cm; /* owner */
	struct workqueue *queue;       /* its keys */
	struct informer *primary;      /* its own kind: resync queues every key of it; or NULL */
	void *data;                    /* the controller's state */
};

/* ---- informers and indexes (shared by every controller, built on first use) ---- */

/* The informer of a kind ("apps/v1", "ReplicaSet"), all namespaces; NULL when out of memory. */
struct informer *cm_informer(struct controller_manager *cm, const char *api_version,
			     const char *kind);

/* Calls fn for the cached objects of inf in namespace ns. */
void cm_foreach_in_ns(struct controller_manager *cm, struct informer *inf, const char *ns,
		      index_fn fn, void *userdata);
/* Calls fn for the cached objects of inf with an ownerReference to uid. */
void cm_foreach_owned(struct controller_manager *cm, struct informer *inf, const char *uid,
		      index_fn fn, void *userdata);
/* Calls fn for the cached objects of inf in ns that sel selects (a label index narrows it). */
void cm_foreach_selected(struct controller_manager *cm, struct informer *inf, const char *ns,
			 const struct label_selector *sel, index_fn fn, void *userdata);

/*
 * Calls fn, once each, for what an owner may claim (ClaimObjects' candidates): the objects with
 * an ownerReference to uid, and the objects in ns that sel selects. Through the owner and label
 * indexes, without a scan of the namespace.
 */
void cm_foreach_claimable(struct controller_manager *cm, struct informer *inf, const char *ns,
			  const char *uid, const struct label_selector *sel, index_fn fn,
			  void *userdata);

/* ---- the manager ---- */

korch_clock *cm_clock(const struct controller_manager *cm);
korch_loop *cm_loop(const struct controller_manager *cm);
struct client *cm_client(const struct controller_manager *cm);
const struct controller_manager_options *cm_options(const struct controller_manager *cm);
int64_t cm_now(const struct controller_manager *cm);  /* monotonic ns */
int64_t cm_wall(const struct controller_manager *cm); /* wall ns */
/* Another controller of the same manager by name, or NULL (not enabled). */
struct ctrl *cm_ctrl(struct controller_manager *cm, const char *name);

/*
 * For tests: runs controller name's sync on key now, outside the loop (as if the informers were
 * slow to show what it wrote). Returns its result; KORCH_ENOTFOUND when not running.
 */
int cm_sync_now(struct controller_manager *cm, const char *name, const char *key);

/* ---- queues ---- */

void ctrl_enqueue(struct ctrl *ctl, const json_t *obj);
void ctrl_enqueue_key(struct ctrl *ctl, const char *key);
void ctrl_enqueue_after(struct ctrl *ctl, const char *key, int64_t delay_ns);
/* Queues the key of obj's controller when it is of kind (namespace/ownerName). */
void ctrl_enqueue_controller_of(struct ctrl *ctl, const json_t *obj, const char *kind);
/*
 * Makes kind the controller's primary kind: every add, update and delete of one queues its
 * key, and resync queues every key. Returns the informer (NULL when out of memory).
 */
struct informer *ctrl_watch_primary(struct ctrl *ctl, const char *api_version, const char *kind);

/* ---- writes (counted; field manager "kube-controller-manager") ---- */

int cm_create(struct ctrl *ctl, const json_t *obj, json_t **ret, korch_error **err);
int cm_update(struct ctrl *ctl, const json_t *obj, const char *subresource, json_t **ret,
	      korch_error **err);
int cm_patch(struct ctrl *ctl, const struct kind_info *k, const char *ns, const char *name,
	     enum client_patch_type type, const json_t *patch, const char *subresource,
	     json_t **ret, korch_error **err);
int cm_delete(struct ctrl *ctl, const struct kind_info *k, const char *ns, const char *name,
	      const struct client_delete_opts *o, korch_error **err);
int cm_update_scale(struct ctrl *ctl, const struct kind_info *k, const json_t *scale, json_t **ret,
		    korch_error **err);

/*
 * Records a core/v1 Event about obj (type "Normal" or "Warning", Kubernetes' reason and
 * message), with the controller as source. A repeat of the same event (same object, type,
 * reason, message) increments the existing Event's count instead of making a new one, as
 * client-go's EventCorrelator does. Failures are only logged: events never fail a reconcile.
 */
void cm_event(struct ctrl *ctl, const json_t *obj, const char *type, const char *reason,
	      const char *fmt, ...) _printf_(5, 6);

/* Logs a reconcile failure of key with its error (and frees the error). Returns r. */
int ctrl_fail(struct ctrl *ctl, const char *key, int r, korch_error *e);

/*
 * The end of a sync that returned r with error e: KORCH_ENOTFOUND (the object went away
 * meanwhile) is done, other failures go to ctrl_fail (and are retried). Frees e.
 */
int ctrl_sync_end(struct ctrl *ctl, const char *key, int r, korch_error *e);

/* The kinds, looked up once. */
const struct kind_info *kind_of(const char *api_version, const char *kind);
#define K_POD kind_of("v1", "Pod")
#define K_RS kind_of("apps/v1", "ReplicaSet")
#define K_RC kind_of("v1", "ReplicationController")
#define K_DEPLOY kind_of("apps/v1", "Deployment")
#define K_STS kind_of("apps/v1", "StatefulSet")
#define K_DS kind_of("apps/v1", "DaemonSet")
#define K_CREV kind_of("apps/v1", "ControllerRevision")
#define K_JOB kind_of("batch/v1", "Job")
#define K_CRON kind_of("batch/v1", "CronJob")
#define K_SVC kind_of("v1", "Service")
#define K_EP kind_of("v1", "Endpoints")
#define K_EPS kind_of("discovery.k8s.io/v1", "EndpointSlice")
#define K_PV kind_of("v1", "PersistentVolume")
#define K_PVC kind_of("v1", "PersistentVolumeClaim")
#define K_SC kind_of("storage.k8s.io/v1", "StorageClass")
#define K_NODE kind_of("v1", "Node")
#define K_NS kind_of("v1", "Namespace")
#define K_SA kind_of("v1", "ServiceAccount")
#define K_LEASE kind_of("coordination.k8s.io/v1", "Lease")
#define K_HPA kind_of("autoscaling/v2", "HorizontalPodAutoscaler")
#define K_EVENT kind_of("v1", "Event")

/* The field manager controllers write as. */
#define CM_FIELD_MANAGER "kube-controller-manager"

#endif
