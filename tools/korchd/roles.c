/*
 * roles.c - the roles of a korch instance on one loop and one client (roles.h): node agent,
 * pod network, API server, controller manager, scheduler and GitOps controller, started and
 * stopped in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "config.h"
#include "controller/controller.h"
#include "gitops/controller.h"
#include "node/agent.h"
#include "node/backend-real.h"
#include "node/network.h"
#include "roles.h"
#include "scheduler/scheduler.h"

struct korchd_roles {
	struct node_backend *backend;     /* the real runtime */
	struct node_network *network;     /* bridge, Service proxy, DNS; NULL without */
	struct node_agent *agent;         /* this machine's node */
	struct server_node_ops *node_ops; /* the agent's calls for the API server */
	struct server *server;            /* the API */
	struct controller_manager *cm;    /* the controllers */
	struct scheduler *scheduler;      /* pods to nodes */
	struct gitops_controller *gitops; /* GitRepositories */
};

/* The HorizontalPodAutoscaler's usage: the agent's latest sample of the pod. */
static int
pod_usage(void *userdata, const char *ns, const char *name, struct pod_usage *ret,
	  korch_error **err)
{
	struct korchd_roles *r = userdata;
	_cleanup_json_ json_t *s = NULL;
	int rc = node_agent_pod_samples(r->agent, ns, name, &s, err);
	return rc < 0 ? rc : pod_usage_from_samples(s, ns, name, ret, err);
}

static int
start_node(struct korchd_roles *r, const struct korchd_roles_options *o, korch_error **err)
{
	char images[600], logs[600];
	snprintf(images, sizeof(images), "%s/images", o->data_dir);
	snprintf(logs, sizeof(logs), "%s/logs", o->data_dir);
	struct real_backend_options bo = {
		.run_dir = o->run_dir,
		.image_dir = images,
		.data_dir = o->data_dir,
		.instance = o->instance,
		.cgroup_parent = o->cgroup_parent,
	};
	int rc = real_backend_new(o->loop, &bo, &r->backend, err);
	if (rc < 0)
		return korch_error_prefix(err, rc, "the container runtime");
	if (o->pod_network) {
		struct node_network_options no = {
			.client = o->client,
			.node_name = o->node_name,
			.node_ip = o->node_ip,
			.instance = o->instance,
			.pod_cidr = o->pod_cidr,
			.cluster_cidr = o->cluster_cidr,
			.api_host = o->api_host,
			.api_port = o->api_port,
		};
		if ((rc = node_network_start(&no, &r->network, err)) < 0)
			return korch_error_prefix(err, rc, "pod network");
	}
	struct node_agent_options ao = {
		.node_name = o->node_name,
		.client = o->client,
		.backend = r->backend,
		.root_dir = o->data_dir,
		.log_dir = logs,
		.node_ip = o->node_ip,
		.pod_cidr = o->pod_cidr,
		.protect_from_oom = true,
		.network = r->network ? &node_network_pod_ops : NULL,
		.network_data = r->network,
		.cluster_dns = r->network ? node_network_cluster_dns(r->network) : NULL,
	};
	if (o->eviction_hard && (rc = node_eviction_hard_parse(o->eviction_hard, &ao, err)) < 0)
		return korch_error_prefix(err, rc, "--eviction-hard");
	if ((rc = node_agent_new(&ao, &r->agent, err)) < 0 ||
	    (rc = node_agent_start(r->agent, err)) < 0)
		return korch_error_prefix(err, rc, "node %s", o->node_name);
	return 0;
}

static int
start_control_plane(struct korchd_roles *r, const struct korchd_roles_options *o, korch_error **err)
{
	struct server_options so = *o->server;
	int rc;
	if (r->agent && (rc = server_agent_ops_new(r->agent, o->client, o->loop, o->state_path,
						   o->data_dir, o->run_dir, &r->node_ops, err)) < 0)
		return rc;
	so.node = r->node_ops;
	if ((rc = server_new(o->client, o->loop, &so, &r->server, err)) < 0)
		return korch_error_prefix(err, rc, "API server");
	char volumes[600];
	snprintf(volumes, sizeof(volumes), "%s/volumes", o->data_dir);
	struct controller_manager_options co = {
		.cluster_cidr = o->cluster_cidr,
		.volume_dir = volumes,
		.api_host = o->api_host,
		.api_port = o->api_port,
		.root_ca_pem = o->root_ca_pem,
		.pod_usage = r->agent ? pod_usage : NULL,
		.pod_usage_userdata = r,
	};
	if ((rc = controller_manager_new(o->client, o->loop, &co, &r->cm, err)) < 0 ||
	    (rc = controller_manager_start(r->cm, err)) < 0)
		return korch_error_prefix(err, rc, "controller manager");
	if ((rc = scheduler_new(o->client, o->loop, NULL, &r->scheduler, err)) < 0 ||
	    (rc = scheduler_start(r->scheduler, err)) < 0)
		return korch_error_prefix(err, rc, "scheduler");
	if ((rc = gitops_controller_run(o->client, o->loop, o->data_dir, &r->gitops, err)) < 0)
		return korch_error_prefix(err, rc, "GitOps controller");
	return 0;
}

int
korchd_roles_start(const struct korchd_roles_options *o, struct korchd_roles **ret,
		   korch_error **err)
{
	if (o->node && !o->node_name)
		return error_set(err, KORCH_EINVALID, "a node needs a name");
	if (o->control_plane && !o->server)
		return error_set(err, KORCH_EINVALID, "a control plane needs server options");
	struct korchd_roles *r = calloc(1, sizeof(*r));
	if (!r)
		return error_oom(err);
	int rc = client_ensure_system_namespaces(o->client, err);
	if (rc == 0 && o->node)
		rc = start_node(r, o, err);
	if (rc == 0 && o->control_plane)
		rc = start_control_plane(r, o, err);
	if (rc < 0) {
		korchd_roles_free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

struct server *
korchd_roles_server(struct korchd_roles *r)
{
	return r ? r->server : NULL;
}

void
korchd_roles_free(struct korchd_roles *r)
{
	if (!r)
		return;
	gitops_controller_free(r->gitops);
	scheduler_free(r->scheduler);
	controller_manager_free(r->cm);
	server_free(r->server);
	server_agent_ops_free(r->node_ops);
	node_agent_free(r->agent);
	node_network_free(r->network);
	node_backend_free(r->backend);
	free(r);
}
