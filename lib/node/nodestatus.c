/*
 * nodestatus.c - the Node object as the kubelet registers and reports it (capacity,
 * allocatable, conditions, addresses, nodeInfo, the standard labels), written when it changes
 * only, and the Lease in kube-node-lease renewed as the heartbeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "api/quantity.h"
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "node/node-internal.h"

#include <korch/version.h>

void
node_allocatable(const struct node_agent *a, int64_t *ret_cpu_milli, int64_t *ret_memory,
		 int64_t *ret_ephemeral)
{
	*ret_cpu_milli = a->info.cpu_milli;
	int64_t reserve = a->eviction_threshold > 0 ? a->eviction_threshold : 0;
	*ret_memory = MAX(a->info.memory_bytes - reserve, 0);
	/* The kubelet keeps the nodefs.available threshold out of allocatable. */
	*ret_ephemeral = MAX(a->info.ephemeral_storage_bytes - MAX(a->disk_threshold, 0), 0);
}

static json_t *
bytes_json(int64_t bytes)
{
	struct quantity q = { .nano = (__int128)bytes * 1000000000, .format = QUANTITY_BINARY_SI };
	char buf[64];
	quantity_format(&q, buf);
	return json_string(buf);
}

static json_t *
cpu_json(int64_t milli)
{
	char buf[32];
	if (milli % 1000 == 0)
		snprintf(buf, sizeof(buf), "%lld", (long long)(milli / 1000));
	else
		snprintf(buf, sizeof(buf), "%lldm", (long long)milli);
	return json_string(buf);
}

static json_t *
resources_json(struct node_agent *a, bool allocatable)
{
	int64_t cpu = a->info.cpu_milli, mem = a->info.memory_bytes,
		eph = a->info.ephemeral_storage_bytes;
	if (allocatable)
		node_allocatable(a, &cpu, &mem, &eph);
	json_t *r = json_object();
	json_object_set_new(r, "cpu", cpu_json(cpu));
	if (allocatable) {
		/* What the kubelet computes is a plain byte count. */
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)eph);
		json_object_set_new(r, "ephemeral-storage", json_string(buf));
	} else {
		json_object_set_new(r, "ephemeral-storage", bytes_json(eph));
	}
	json_object_set_new(r, "hugepages-1Gi", json_string("0"));
	json_object_set_new(r, "hugepages-2Mi", json_string("0"));
	json_object_set_new(r, "memory", bytes_json(mem));
	char pods[16];
	snprintf(pods, sizeof(pods), "%d", a->max_pods);
	json_object_set_new(r, "pods", json_string(pods));
	return r;
}

/* A condition; both times kept from what was written while it holds. */
static json_t *
node_condition(struct node_agent *a, const char *type, bool status, const char *reason,
	       const char *message)
{
	const char *st = status ? "True" : "False";
	json_t *hb = NULL, *tr = NULL;
	size_t i;
	json_t *old;
	json_array_foreach (json_object_get(a->node_status_written, "conditions"), i, old)
		if (streq(json_string_value(json_object_get(old, "type")), type) &&
		    streq(json_string_value(json_object_get(old, "status")), st)) {
			hb = json_object_get(old, "lastHeartbeatTime");
			tr = json_object_get(old, "lastTransitionTime");
		}
	char now[32];
	format_rfc3339(agent_wall(a), false, now);
	json_t *c = json_object();
	json_object_set_new(c, "type", json_string(type));
	json_object_set_new(c, "status", json_string(st));
	json_object_set_new(c, "lastHeartbeatTime", hb ? json_incref(hb) : json_string(now));
	json_object_set_new(c, "lastTransitionTime", tr ? json_incref(tr) : json_string(now));
	json_object_set_new(c, "reason", json_string(reason));
	json_object_set_new(c, "message", json_string(message));
	return c;
}

static json_t *
build_status(struct node_agent *a)
{
	json_t *st = json_object();
	json_object_set_new(st, "capacity", resources_json(a, false));
	json_object_set_new(st, "allocatable", resources_json(a, true));
	json_t *conds = json_array();
	bool mem = a->memory_pressure;
	json_array_append_new(
		conds,
		node_condition(a, "MemoryPressure", mem,
			       mem ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory",
			       mem ? "kubelet has insufficient memory available"
				   : "kubelet has sufficient memory available"));
	bool disk = node_disk_pressure(a);
	json_array_append_new(
		conds, node_condition(a, "DiskPressure", disk,
				      disk ? "KubeletHasDiskPressure" : "KubeletHasNoDiskPressure",
				      disk ? "kubelet has disk pressure"
					   : "kubelet has no disk pressure"));
	json_array_append_new(conds,
			      node_condition(a, "PIDPressure", false, "KubeletHasSufficientPID",
					     "kubelet has sufficient PID available"));
	bool ready = !a->runtime_down;
	json_array_append_new(conds, node_condition(a, "Ready", ready,
						    ready ? "KubeletReady" : "KubeletNotReady",
						    ready ? "kubelet is posting ready status"
							  : "container runtime is down"));
	json_object_set_new(st, "conditions", conds);
	json_t *addrs = json_array();
	if (a->node_ip)
		json_array_append_new(addrs, json_pack("{s:s, s:s}", "type", "InternalIP",
						       "address", a->node_ip));
	json_array_append_new(addrs,
			      json_pack("{s:s, s:s}", "type", "Hostname", "address", a->node_name));
	json_object_set_new(st, "addresses", addrs);
	json_object_set_new(st, "daemonEndpoints",
			    json_pack("{s:{s:i}}", "kubeletEndpoint", "Port", 10250));
	char kubelet[64];
	snprintf(kubelet, sizeof(kubelet), "v1.32.0+korch.%s", korch_version());
	json_object_set_new(
		st, "nodeInfo",
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "machineID",
			  a->info.machine_id, "systemUUID", a->info.machine_id, "bootID",
			  a->info.boot_id, "kernelVersion", a->info.kernel_version, "osImage",
			  a->info.os_image, "containerRuntimeVersion", a->info.runtime_version,
			  "kubeletVersion", kubelet, "kubeProxyVersion", "", "operatingSystem",
			  "linux", "architecture", a->info.architecture));
	return st;
}

static json_t *
node_labels(struct node_agent *a)
{
	json_t *l = json_object();
	json_object_set_new(l, "beta.kubernetes.io/arch", json_string(a->info.architecture));
	json_object_set_new(l, "beta.kubernetes.io/os", json_string("linux"));
	json_object_set_new(l, "kubernetes.io/arch", json_string(a->info.architecture));
	json_object_set_new(l, "kubernetes.io/hostname", json_string(a->node_name));
	json_object_set_new(l, "kubernetes.io/os", json_string("linux"));
	for (char **kv = a->node_labels; kv && *kv; kv++) {
		char *eq = strchr(*kv, '=');
		_cleanup_free_ char *k = strndup(*kv, (size_t)(eq - *kv));
		if (k)
			json_object_set_new(l, k, json_string(eq + 1));
	}
	return l;
}

static int
remember(struct node_agent *a, const json_t *node, korch_error **err)
{
	const char *uid =
		json_string_value(json_object_get(json_object_get(node, "metadata"), "uid"));
	free(a->node_uid);
	if (!uid || !(a->node_uid = strdup(uid)))
		return error_oom(err);
	return 0;
}

int
node_register(struct node_agent *a, korch_error **err)
{
	const struct kind_info *k = kind_lookup("v1", "Node");
	struct client_write_opts o = { .field_manager = FIELD_MANAGER };
	_cleanup_json_ json_t *node = NULL;
	_cleanup_error_ korch_error *gerr = NULL;
	int r = client_get(a->client, k, NULL, a->node_name, &node, &gerr);
	if (r == KORCH_ENOTFOUND) {
		_cleanup_json_ json_t *obj = json_pack(
			"{s:s, s:s, s:{s:s, s:o, s:{s:s, s:s}}, s:{}}", "apiVersion", "v1", "kind",
			"Node", "metadata", "name", a->node_name, "labels", node_labels(a),
			"annotations", "node.alpha.kubernetes.io/ttl", "0",
			"volumes.kubernetes.io/controller-managed-attach-detach", "true", "spec");
		if (!obj)
			return error_oom(err);
		if (a->pod_cidr) {
			json_t *spec = json_object_get(obj, "spec");
			json_object_set_new(spec, "podCIDR", json_string(a->pod_cidr));
			json_object_set_new(spec, "podCIDRs", json_pack("[s]", a->pod_cidr));
		}
		json_t *st = build_status(a);
		json_object_set(obj, "status", st);
		r = client_create(a->client, obj, &o, &node, err);
		if (r < 0) {
			json_decref(st);
			return r;
		}
		json_decref(a->node_status_written);
		a->node_status_written = st;
		return remember(a, node, err);
	}
	if (r < 0)
		return error_propagate(err, &gerr, r);
	/* The node existed (the agent restarted): its labels and pod CIDR are brought up to date,
	 * its status is written only if it differs. */
	json_t *meta = json_object_get(node, "metadata");
	json_t *labels = json_object_get(meta, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(meta, "labels", labels);
	}
	_cleanup_json_ json_t *want = node_labels(a);
	bool changed = false;
	const char *key;
	json_t *v;
	json_object_foreach (want, key, v)
		if (!json_equal(json_object_get(labels, key), v)) {
			json_object_set(labels, key, v);
			changed = true;
		}
	if (a->pod_cidr &&
	    !streq(json_string_value(json_object_get(json_object_get(node, "spec"), "podCIDR")),
		   a->pod_cidr)) {
		json_object_set_new(json_object_get(node, "spec"), "podCIDR",
				    json_string(a->pod_cidr));
		json_object_set_new(json_object_get(node, "spec"), "podCIDRs",
				    json_pack("[s]", a->pod_cidr));
		changed = true;
	}
	if (changed) {
		json_t *updated = NULL;
		if ((r = client_update(a->client, node, NULL, &o, &updated, err)) < 0)
			return r;
		json_decref(node);
		node = updated;
	}
	json_decref(a->node_status_written);
	a->node_status_written = json_incref(json_object_get(node, "status"));
	if ((r = remember(a, node, err)) < 0)
		return r;
	return node_status_update(a, err);
}

int
node_status_update(struct node_agent *a, korch_error **err)
{
	bool down = !a->backend->ops->healthy(a->backend->data);
	a->runtime_down = down;
	_cleanup_json_ json_t *st = build_status(a);
	if (a->node_status_written && json_equal(st, a->node_status_written))
		return 0;
	/* Something changed: every condition's heartbeat is this write. */
	char now[32];
	format_rfc3339(agent_wall(a), false, now);
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(st, "conditions"), i, c)
		json_object_set_new(c, "lastHeartbeatTime", json_string(now));
	const struct kind_info *k = kind_lookup("v1", "Node");
	_cleanup_json_ json_t *node = NULL;
	_cleanup_error_ korch_error *gerr = NULL;
	int r = client_get(a->client, k, NULL, a->node_name, &node, &gerr);
	if (r == KORCH_ENOTFOUND) {
		/* Deleted behind the agent's back: register again, as the kubelet does. */
		json_decref(a->node_status_written);
		a->node_status_written = NULL;
		return node_register(a, err);
	}
	if (r < 0)
		return error_propagate(err, &gerr, r);
	json_object_set(node, "status", st);
	struct client_write_opts o = { .field_manager = FIELD_MANAGER };
	if ((r = client_update(a->client, node, "status", &o, NULL, err)) < 0)
		return r;
	json_decref(a->node_status_written);
	a->node_status_written = json_incref(st);
	return 0;
}

int
node_lease_renew(struct node_agent *a, korch_error **err)
{
	const struct kind_info *k = kind_lookup("coordination.k8s.io/v1", "Lease");
	char now[32];
	format_rfc3339(agent_wall(a), true, now);
	struct client_write_opts o = { .field_manager = FIELD_MANAGER };
	_cleanup_json_ json_t *lease = NULL;
	_cleanup_error_ korch_error *gerr = NULL;
	int r = client_get(a->client, k, "kube-node-lease", a->node_name, &lease, &gerr);
	if (r == KORCH_ENOTFOUND) {
		_cleanup_json_ json_t *obj = json_pack(
			"{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}, s:{s:s, s:i, s:s}}",
			"apiVersion", "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
			a->node_name, "namespace", "kube-node-lease", "ownerReferences",
			"apiVersion", "v1", "kind", "Node", "name", a->node_name, "uid",
			a->node_uid ? a->node_uid : "", "spec", "holderIdentity", a->node_name,
			"leaseDurationSeconds", a->lease_duration_s, "renewTime", now);
		if (!obj)
			return error_oom(err);
		return client_create(a->client, obj, &o, NULL, err);
	}
	if (r < 0)
		return error_propagate(err, &gerr, r);
	json_t *spec = json_object_get(lease, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(lease, "spec", spec);
	}
	json_object_set_new(spec, "holderIdentity", json_string(a->node_name));
	json_object_set_new(spec, "leaseDurationSeconds", json_integer(a->lease_duration_s));
	json_object_set_new(spec, "renewTime", json_string(now));
	return client_update(a->client, lease, NULL, &o, NULL, err);
}
