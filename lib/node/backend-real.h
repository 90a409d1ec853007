/*
 * backend-real.h - the node agent's real runtime backend (internal): containers run by
 * korch-monitor from the image store's layers, pod sandboxes as namespaces pinned under the
 * run directory (no pause process), the machine described from /proc.
 */
#ifndef KORCH_NODE_BACKEND_REAL_H
#define KORCH_NODE_BACKEND_REAL_H

#include <korch/loop.h>
#include "node/backend.h"

struct real_backend_options {
	const char *run_dir;       /* required: RUNDIR (monitor.sock, sandboxes/, node/) */
	const char *image_dir;     /* required: the image store (DATA_DIR/images) */
	const char *data_dir;      /* required: ephemeral storage is this filesystem's */
	const char *monitor_path;  /* korch-monitor; NULL: $KORCH_MONITOR or LIBEXECDIR's */
	const char *instance;      /* the cgroup parent is korch-INSTANCE; NULL: "korch" */
	const char *cgroup_parent; /* --cgroup-parent, or NULL */
};

/*
 * Connects to the run directory's korch-monitor (starting it when none runs), subscribes to
 * its exit events and lists what it runs for the agent to adopt. Operations complete on loop.
 */
int real_backend_new(korch_loop *loop, const struct real_backend_options *o,
		     struct node_backend **ret, korch_error **err);

#endif
