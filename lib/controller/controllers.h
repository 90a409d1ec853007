/*
 * controllers.h - the table of controllers the manager runs, in start order.
 */
#ifndef KORCH_CONTROLLER_CONTROLLERS_H
#define KORCH_CONTROLLER_CONTROLLERS_H

#include "controller/manager.h"

extern const struct ctrl_ops replicaset_ops;
extern const struct ctrl_ops replicationcontroller_ops;
extern const struct ctrl_ops deployment_ops;
extern const struct ctrl_ops garbagecollector_ops;
extern const struct ctrl_ops namespace_ops;
extern const struct ctrl_ops serviceaccount_ops;
extern const struct ctrl_ops rootca_ops;
extern const struct ctrl_ops bootstrap_ops;
extern const struct ctrl_ops endpoints_ops;
extern const struct ctrl_ops endpointslice_ops;
extern const struct ctrl_ops job_ops;
extern const struct ctrl_ops cronjob_ops;
extern const struct ctrl_ops statefulset_ops;
extern const struct ctrl_ops daemonset_ops;
extern const struct ctrl_ops nodeipam_ops;
extern const struct ctrl_ops nodelifecycle_ops;
extern const struct ctrl_ops tainteviction_ops;
extern const struct ctrl_ops podgc_ops;
extern const struct ctrl_ops pvbinder_ops;
extern const struct ctrl_ops volumeprotection_ops;
extern const struct ctrl_ops localpath_ops;
extern const struct ctrl_ops hpa_ops;

/* NULL-terminated. */
extern const struct ctrl_ops *const controller_table[];

#endif
