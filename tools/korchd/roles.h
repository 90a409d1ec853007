/*
 * roles.h - the roles of a korch instance started on one loop and one client: the control plane
 * (API server, controller manager, scheduler, GitOps controller) and a node agent on the real
 * runtime with the pod network. The one
 * place that wires them together: korchd runs it; the embedding handle (include/korch.h) is
 * meant to take it over.
 */
#ifndef KORCHD_ROLES_H
#define KORCHD_ROLES_H

#include <stdbool.h>
#include <korch/common.h>
#include <korch/loop.h>
#include "client/client.h"
#include "server/server.h"

struct korchd_roles;

struct korchd_roles_options {
	korch_loop *loop;       /* borrowed: the store's */
	struct client *client;  /* borrowed: shared by every role */
	const char *state_path; /* the state file (stream threads open it again) */
	const char *data_dir;   /* DATA_DIR: images/, pods/, logs/, volumes/ */
	const char *run_dir;    /* RUNDIR: korch-monitor's socket, sandboxes */
	bool control_plane;     /* run the API server, the controllers and the scheduler */
	bool node;              /* run a node agent for this machine */
	/* control plane */
	const struct server_options *server; /* the API server's (node calls are filled here) */
	const char *cluster_cidr;            /* pods' CIDR (also the network's), or NULL */
	const char *root_ca_pem;             /* published as kube-root-ca.crt, or NULL */
	const char *api_host;                /* the kubernetes Endpoints' address, or NULL */
	int api_port;                        /* and port */
	/* node */
	const char *node_name;     /* required with node */
	const char *node_ip;       /* InternalIP, or NULL: the default route's address */
	const char *pod_cidr;      /* spec.podCIDR, or NULL */
	bool pod_network;          /* run the pod network (bridge, proxy, DNS) for the agent */
	const char *instance;      /* cgroup parent korch-INSTANCE */
	const char *cgroup_parent; /* or this, when set */
	const char *eviction_hard; /* kubelet-style thresholds, or NULL: the defaults */
};

/*
 * Starts the roles asked for: the system namespaces, then the pod network and the node agent
 * (its Node and Lease), the API server (with the agent's logs, exec and metrics), the controller
 * manager, the scheduler and the GitOps controller. On failure nothing stays started.
 */
int korchd_roles_start(const struct korchd_roles_options *o, struct korchd_roles **ret,
		       korch_error **err);

/* The API server, or NULL without the control plane. */
struct server *korchd_roles_server(struct korchd_roles *r);

/* Stops everything in the reverse order (containers keep running). Takes NULL. */
void korchd_roles_free(struct korchd_roles *r);

#endif
