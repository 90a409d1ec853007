/*
 * controllers.c - the controllers the manager runs, by name.
 */
#include <stddef.h>

#include "controller/controllers.h"

const struct ctrl_ops *const controller_table[] = {
	&bootstrap_ops,      &namespace_ops,
	&serviceaccount_ops, &garbagecollector_ops,
	&replicaset_ops,     &replicationcontroller_ops,
	&deployment_ops,     NULL,
};
