/*
 * sandbox.h - pod sandboxes of the real runtime (internal): the namespaces a pod's containers
 * share, made once per pod and pinned by bind mounts under RUNDIR/sandboxes/UID, with no
 * process kept for them.
 */
#ifndef KORCH_NODE_SANDBOX_H
#define KORCH_NODE_SANDBOX_H

#include <stdbool.h>
#include <jansson.h>
#include <korch/common.h>

enum sandbox_ns {
	SANDBOX_NET,
	SANDBOX_IPC,
	SANDBOX_UTS,
	SANDBOX_NS_COUNT,
};

struct sandbox_config {
	const char *id;       /* the pod uid */
	const char *hostname; /* set in the UTS namespace */
	bool host_network;    /* no network (nor UTS) namespace of its own */
	bool host_ipc;        /* no IPC namespace of its own */
	bool host_pid;        /* the host's pids */
	bool share_pid;       /* one pid namespace for the pod's containers */
	json_t *labels;       /* kept in RUNDIR/sandboxes/UID/labels.json (borrowed) */
};

/*
 * Makes the sandbox: the namespaces are created and pinned, the hostname set, loopback up.
 * Nothing is left behind on failure.
 */
int sandbox_create(const char *run_dir, const struct sandbox_config *cfg, korch_error **err);

/*
 * Whether the pod shares one pid namespace (shareProcessNamespace). No process pins it: the
 * pod's first running container is its init and the others join it, so that when that
 * container ends, the others end with it and all restart under the pod's policy (a pause
 * process would outlive them; korch keeps none).
 */
bool sandbox_shares_pid(const char *run_dir, const char *id);

/* Whether the pod's containers see the host's pids (hostPID). */
bool sandbox_host_pid(const char *run_dir, const char *id);

/* Unmounts the namespaces and removes the directory; a missing sandbox is success. */
int sandbox_remove(const char *run_dir, const char *id, korch_error **err);

bool sandbox_exists(const char *run_dir, const char *id);

/* RUNDIR/sandboxes/ID and the path of one of its namespaces; caller frees. */
char *sandbox_dir(const char *run_dir, const char *id);
char *sandbox_ns_path(const char *run_dir, const char *id, enum sandbox_ns ns);

/* The labels kept with a sandbox; KORCH_ENOTFOUND without. */
int sandbox_labels(const char *run_dir, const char *id, json_t **ret);

/* The ids of every sandbox, NULL-terminated (a strv); caller frees. */
int sandbox_list(const char *run_dir, char ***ret, korch_error **err);

/*
 * Moves the calling thread into the sandbox's network namespace; *ret_saved is the thread's own
 * for sandbox_leave_net(). Between the two, sockets made belong to the sandbox.
 */
int sandbox_enter_net(const char *run_dir, const char *id, int *ret_saved, korch_error **err);
int sandbox_leave_net(int saved);

#endif
