/*
 * controllers.c - the controllers the manager runs, by name, in start order.
 */
#include <stddef.h>

#include "controller/controllers.h"

/* clang-format off */
const struct ctrl_ops *const controller_table[] = {
	&bootstrap_ops,
	&namespace_ops,
	&serviceaccount_ops,
	&rootca_ops,
	&garbagecollector_ops,
	&replicaset_ops,
	&replicationcontroller_ops,
	&deployment_ops,
	&endpoints_ops,
	&endpointslice_ops,
	&job_ops,
	&cronjob_ops,
	&statefulset_ops,
	&daemonset_ops,
	&nodeipam_ops,
	&nodelifecycle_ops,
	&tainteviction_ops,
	&podgc_ops,
	&pvbinder_ops,
	&volumeprotection_ops,
	&localpath_ops,
	&hpa_ops,
	NULL,
};
/* clang-format on */
