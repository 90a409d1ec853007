/*
 * table.c - the columns kube-apiserver's printers give each kind (what `kubectl get` shows) as
 * meta.k8s.io/v1 Tables, and their text rendering as kubectl's tabwriter prints them.
 *
 * The server always fills the wide cells; kubectl hides priority-1 columns unless -o wide.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/table-internal.h"
#include "api/table.h"
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"

typedef void (*printer_fn)(struct row_ctx *c);

struct printer {
	const char *kind;             /* Kind name */
	const struct column *columns; /* NULL-name terminated */
	printer_fn print;             /* fills cells */
};

/* ---- the column tables ---- */

#define COL_NAME                                                               \
	{                                                                      \
		"Name", "string", 0, "Name must be unique within a namespace." \
	}
#define COL_AGE                                                          \
	{                                                                \
		"Age", "string", 0, "Time since the object was created." \
	}
#define COL_CONTAINERS                                                                \
	{                                                                             \
		"Containers", "string", 1, "Names of each container in the template." \
	}
#define COL_IMAGES                                                                            \
	{                                                                                     \
		"Images", "string", 1, "Images referenced by each container in the template." \
	}
#define COL_SELECTOR                                                         \
	{                                                                    \
		"Selector", "string", 1, "The label selector of the object." \
	}
#define COL_END                     \
	{                           \
		NULL, NULL, 0, NULL \
	}

static const struct column pod_cols[] = {
	COL_NAME,
	{ "Ready", "string", 0,
	  "The aggregate readiness state of this pod for accepting traffic." },
	{ "Status", "string", 0, "The aggregate status of the containers in this pod." },
	{ "Restarts", "string", 0,
	  "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted." },
	COL_AGE,
	{ "IP", "string", 1, "The IP address of the pod." },
	{ "Node", "string", 1, "The node the pod is bound to." },
	{ "Nominated Node", "string", 1, "The node the scheduler nominated for this pod." },
	{ "Readiness Gates", "string", 1, "Readiness gates that are true, out of all." },
	COL_END,
};

static const struct column deployment_cols[] = {
	COL_NAME,
	{ "Ready", "string", 0, "Number of ready replicas out of desired." },
	{ "Up-to-date", "integer", 0, "Replicas running the newest template." },
	{ "Available", "integer", 0, "Replicas available for at least minReadySeconds." },
	COL_AGE,
	COL_CONTAINERS,
	COL_IMAGES,
	COL_SELECTOR,
	COL_END,
};

static const struct column replicaset_cols[] = {
	COL_NAME,
	{ "Desired", "integer", 0, "Replicas desired." },
	{ "Current", "integer", 0, "Replicas observed." },
	{ "Ready", "integer", 0, "Replicas ready." },
	COL_AGE,
	COL_CONTAINERS,
	COL_IMAGES,
	COL_SELECTOR,
	COL_END,
};

static const struct column statefulset_cols[] = {
	COL_NAME,   { "Ready", "string", 0, "Number of ready replicas out of desired." },
	COL_AGE,    COL_CONTAINERS,
	COL_IMAGES, COL_END,
};

static const struct column daemonset_cols[] = {
	COL_NAME,
	{ "Desired", "integer", 0, "Nodes that should run the daemon pod." },
	{ "Current", "integer", 0, "Nodes running at least one daemon pod." },
	{ "Ready", "integer", 0, "Nodes with a ready daemon pod." },
	{ "Up-to-date", "integer", 0, "Nodes running the newest template." },
	{ "Available", "integer", 0, "Nodes with an available daemon pod." },
	{ "Node Selector", "string", 0, "The pod template's node selector." },
	COL_AGE,
	COL_CONTAINERS,
	COL_IMAGES,
	COL_SELECTOR,
	COL_END,
};

static const struct column job_cols[] = {
	COL_NAME,
	{ "Status", "string", 0, "Status of the job." },
	{ "Completions", "string", 0, "The completion status of the job." },
	{ "Duration", "string", 0, "Time the job took to complete, or has been running." },
	COL_AGE,
	COL_CONTAINERS,
	COL_IMAGES,
	COL_SELECTOR,
	COL_END,
};

static const struct column cronjob_cols[] = {
	COL_NAME,
	{ "Schedule", "string", 0, "The schedule in Cron format." },
	{ "Timezone", "string", 0, "The time zone of the schedule." },
	{ "Suspend", "boolean", 0, "Whether later runs are suspended." },
	{ "Active", "integer", 0, "Running jobs." },
	{ "Last Schedule", "string", 0, "When a job was last scheduled." },
	COL_AGE,
	COL_CONTAINERS,
	COL_IMAGES,
	COL_SELECTOR,
	COL_END,
};

static const struct column controllerrevision_cols[] = {
	COL_NAME,
	{ "Controller", "string", 0, "The controller that owns the revision." },
	{ "Revision", "integer", 0, "The revision number." },
	COL_AGE,
	COL_END,
};

static const struct column service_cols[] = {
	COL_NAME,
	{ "Type", "string", 0, "How the service is exposed." },
	{ "Cluster-IP", "string", 0, "The virtual IP of the service." },
	{ "External-IP", "string", 0, "External addresses of the service." },
	{ "Port(s)", "string", 0, "Ports the service exposes." },
	COL_AGE,
	{ "Selector", "string", 1, "Labels of the pods the service routes to." },
	COL_END,
};

static const struct column endpoints_cols[] = {
	COL_NAME,
	{ "Endpoints", "string", 0, "Addresses of the endpoints." },
	COL_AGE,
	COL_END,
};

static const struct column endpointslice_cols[] = {
	COL_NAME,
	{ "AddressType", "string", 0, "The type of address the slice carries." },
	{ "Ports", "string", 0, "The ports of the slice." },
	{ "Endpoints", "string", 0, "Addresses of the endpoints." },
	COL_AGE,
	COL_END,
};

static const struct column node_cols[] = {
	COL_NAME,
	{ "Status", "string", 0, "The status of the node." },
	{ "Roles", "string", 0, "The roles of the node." },
	COL_AGE,
	{ "Version", "string", 0, "The version of the node agent." },
	{ "Internal-IP", "string", 1, "The node's internal address." },
	{ "External-IP", "string", 1, "The node's external address." },
	{ "OS-Image", "string", 1, "The node's operating system." },
	{ "Kernel-Version", "string", 1, "The node's kernel." },
	{ "Container-Runtime", "string", 1, "The node's container runtime." },
	COL_END,
};

static const struct column namespace_cols[] = {
	COL_NAME,
	{ "Status", "string", 0, "The status of the namespace." },
	COL_AGE,
	COL_END,
};

static const struct column event_cols[] = {
	{ "Last Seen", "string", 0, "Time since the event was last seen." },
	{ "Type", "string", 0, "Normal or Warning." },
	{ "Reason", "string", 0, "Why the event happened." },
	{ "Object", "string", 0, "The object the event is about." },
	{ "Subobject", "string", 1, "The part of the object the event is about." },
	{ "Source", "string", 1, "What reported the event." },
	{ "Message", "string", 0, "What happened." },
	{ "First Seen", "string", 1, "Time since the event was first seen." },
	{ "Count", "integer", 1, "How often the event happened." },
	{ "Name", "string", 1, "The name of the event." },
	COL_END,
};

static const struct column secret_cols[] = {
	COL_NAME,
	{ "Type", "string", 0, "The type of the secret." },
	{ "Data", "integer", 0, "Number of keys." },
	COL_AGE,
	COL_END,
};

static const struct column configmap_cols[] = {
	COL_NAME,
	{ "Data", "integer", 0, "Number of keys." },
	COL_AGE,
	COL_END,
};

static const struct column serviceaccount_cols[] = {
	COL_NAME,
	{ "Secrets", "integer", 0, "Number of secrets listed." },
	COL_AGE,
	COL_END,
};

static const struct column pv_cols[] = {
	COL_NAME,
	{ "Capacity", "string", 0, "The volume's size." },
	{ "Access Modes", "string", 0, "How the volume can be mounted." },
	{ "Reclaim Policy", "string", 0, "What happens to the volume when released." },
	{ "Status", "string", 0, "The phase of the volume." },
	{ "Claim", "string", 0, "The claim bound to the volume." },
	{ "StorageClass", "string", 0, "The storage class of the volume." },
	{ "VolumeAttributesClass", "string", 0, "The volume attributes class." },
	{ "Reason", "string", 0, "Why the volume is in its phase." },
	COL_AGE,
	{ "VolumeMode", "string", 1, "Filesystem or Block." },
	COL_END,
};

static const struct column pvc_cols[] = {
	COL_NAME,
	{ "Status", "string", 0, "The phase of the claim." },
	{ "Volume", "string", 0, "The volume bound to the claim." },
	{ "Capacity", "string", 0, "The bound volume's size." },
	{ "Access Modes", "string", 0, "How the volume can be mounted." },
	{ "StorageClass", "string", 0, "The storage class of the claim." },
	{ "VolumeAttributesClass", "string", 0, "The volume attributes class." },
	COL_AGE,
	{ "VolumeMode", "string", 1, "Filesystem or Block." },
	COL_END,
};

static const struct column storageclass_cols[] = {
	COL_NAME,
	{ "Provisioner", "string", 0, "What provisions volumes of this class." },
	{ "ReclaimPolicy", "string", 0, "What happens to released volumes." },
	{ "VolumeBindingMode", "string", 0, "When volumes get bound." },
	{ "AllowVolumeExpansion", "boolean", 0, "Whether volumes can grow." },
	COL_AGE,
	COL_END,
};

static const struct column hpa_cols[] = {
	COL_NAME,
	{ "Reference", "string", 0, "The scaled object." },
	{ "Targets", "string", 0, "Current and target utilisation." },
	{ "MinPods", "string", 0, "Lower replica bound." },
	{ "MaxPods", "integer", 0, "Upper replica bound." },
	{ "Replicas", "integer", 0, "Current replicas." },
	COL_AGE,
	COL_END,
};

static const struct column lease_cols[] = {
	COL_NAME,
	{ "Holder", "string", 0, "The holder of the lease." },
	COL_AGE,
	COL_END,
};

static const struct column priorityclass_cols[] = {
	COL_NAME,
	{ "Value", "integer", 0, "The priority." },
	{ "Global-Default", "boolean", 0, "Whether pods without a class get this one." },
	COL_AGE,
	{ "PreemptionPolicy", "string", 0, "Whether pods of this class preempt others." },
	COL_END,
};

static const struct column gitrepository_cols[] = {
	COL_NAME,
	{ "URL", "string", 0, "The repository's URL." },
	{ "Ready", "string", 0, "Whether the last sync applied the commit and it is healthy." },
	{ "Status", "string", 0, "The Ready condition's message." },
	COL_AGE,
	{ "Commit", "string", 1, "The last commit applied." },
	COL_END,
};

static const struct column created_at_cols[] = {
	COL_NAME,
	{ "Created At", "date", 0, "When the object was created." },
	COL_END,
};

static const struct column rolebinding_cols[] = {
	COL_NAME,
	{ "Role", "string", 0, "The role bound." },
	COL_AGE,
	{ "Users", "string", 1, "Users bound." },
	{ "Groups", "string", 1, "Groups bound." },
	{ "ServiceAccounts", "string", 1, "Service accounts bound." },
	COL_END,
};

static const struct printer printers[] = {
	{ "Pod", pod_cols, table_row_pod },
	{ "Deployment", deployment_cols, table_row_deployment },
	{ "ReplicaSet", replicaset_cols, table_row_replicaset },
	{ "ReplicationController", replicaset_cols, table_row_replicaset },
	{ "StatefulSet", statefulset_cols, table_row_statefulset },
	{ "DaemonSet", daemonset_cols, table_row_daemonset },
	{ "Job", job_cols, table_row_job },
	{ "CronJob", cronjob_cols, table_row_cronjob },
	{ "ControllerRevision", controllerrevision_cols, table_row_controllerrevision },
	{ "Service", service_cols, table_row_service },
	{ "Endpoints", endpoints_cols, table_row_endpoints },
	{ "EndpointSlice", endpointslice_cols, table_row_endpointslice },
	{ "Node", node_cols, table_row_node },
	{ "Namespace", namespace_cols, table_row_namespace },
	{ "Event", event_cols, table_row_event },
	{ "Secret", secret_cols, table_row_secret },
	{ "ConfigMap", configmap_cols, table_row_configmap },
	{ "ServiceAccount", serviceaccount_cols, table_row_serviceaccount },
	{ "PersistentVolume", pv_cols, table_row_pv },
	{ "PersistentVolumeClaim", pvc_cols, table_row_pvc },
	{ "StorageClass", storageclass_cols, table_row_storageclass },
	{ "HorizontalPodAutoscaler", hpa_cols, table_row_hpa },
	{ "Lease", lease_cols, table_row_lease },
	{ "PriorityClass", priorityclass_cols, table_row_priorityclass },
	{ "Role", created_at_cols, table_row_created_at },
	{ "ClusterRole", created_at_cols, table_row_created_at },
	{ "RoleBinding", rolebinding_cols, table_row_rolebinding },
	{ "ClusterRoleBinding", rolebinding_cols, table_row_rolebinding },
	{ "GitRepository", gitrepository_cols, table_row_gitrepository },
};

static const struct printer default_printer = { NULL, created_at_cols, table_row_created_at };

static const struct printer *
printer_for(const char *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(printers); i++)
		if (streq(printers[i].kind, kind))
			return &printers[i];
	return &default_printer;
}

json_t *
table_columns(const char *kind)
{
	const struct printer *p = printer_for(kind);
	json_t *cols = json_array();
	for (const struct column *col = p->columns; cols && col->name; col++) {
		json_t *def =
			json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", col->name, "type", col->type,
				  "format", strcmp(col->name, "Name") == 0 ? "name" : "",
				  "description", col->description, "priority", col->priority);
		if (!def || json_array_append_new(cols, def) < 0) {
			json_decref(cols);
			return NULL;
		}
	}
	return cols;
}

static json_t *
row_object(const json_t *obj, enum table_include include)
{
	if (include == TABLE_INCLUDE_OBJECT)
		return json_deep_copy(obj);
	json_t *meta = json_deep_copy(json_object_get(obj, "metadata"));
	return json_pack("{s:s, s:s, s:o}", "kind", "PartialObjectMetadata", "apiVersion",
			 "meta.k8s.io/v1", "metadata", meta ? meta : json_object());
}

int
table_build(const char *kind, const json_t *objects, int64_t now_wall_ns,
	    enum table_include include, json_t **ret_table, korch_error **err)
{
	const struct printer *p = printer_for(kind);
	json_t *rows = json_array();
	json_t *table = json_pack("{s:s, s:s, s:{}, s:o, s:o}", "kind", "Table", "apiVersion",
				  "meta.k8s.io/v1", "metadata", "columnDefinitions",
				  table_columns(kind), "rows", rows);
	if (!table)
		return error_oom(err);
	size_t i;
	json_t *obj;
	json_array_foreach (objects, i, obj) {
		struct row_ctx c = { .obj = obj, .now_ns = now_wall_ns, .cells = json_array() };
		json_t *row = json_pack("{s:o}", "cells", c.cells);
		if (!row) {
			json_decref(table);
			return error_oom(err);
		}
		p->print(&c);
		if (include != TABLE_INCLUDE_NONE)
			json_object_set_new(row, "object", row_object(obj, include));
		json_array_append_new(rows, row);
	}
	*ret_table = table;
	return 0;
}

/* ---- text rendering ---- */

static size_t
text_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static char *
cell_text(const json_t *cell)
{
	char *s = NULL;
	switch (json_typeof(cell)) {
	case JSON_STRING: return strdup(json_string_value(cell));
	case JSON_INTEGER:
		if (asprintf(&s, "%lld", (long long)json_integer_value(cell)) < 0)
			return NULL;
		return s;
	case JSON_REAL:
		if (asprintf(&s, "%g", json_real_value(cell)) < 0)
			return NULL;
		return s;
	case JSON_TRUE: return strdup("true");
	case JSON_FALSE: return strdup("false");
	case JSON_NULL: return strdup("<none>");
	default: return json_dumps(cell, JSON_COMPACT | JSON_SORT_KEYS);
	}
}

/* The lines of one row (or the header) as cells, before alignment. */
static int
add_line(json_t *lines, json_t *cells)
{
	return json_array_append_new(lines, cells);
}

int
table_print(const json_t *table, const struct table_print_options *opts, struct strbuf *out,
	    korch_error **err)
{
	const json_t *cols = json_object_get(table, "columnDefinitions");
	const json_t *rows = json_object_get(table, "rows");
	_cleanup_json_ json_t *lines = json_array();
	if (!lines)
		return error_oom(err);
	size_t i, j;
	json_t *col, *row;
	if (!opts->no_headers) {
		json_t *header = json_array();
		if (opts->with_namespace)
			json_array_append_new(header, json_string("NAMESPACE"));
		json_array_foreach (cols, i, col) {
			if (json_integer_value(json_object_get(col, "priority")) > 0 && !opts->wide)
				continue;
			char name[128];
			snprintf(name, sizeof(name), "%s",
				 json_string_value(json_object_get(col, "name")) ?: "");
			for (char *p = name; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			json_array_append_new(header, json_string(name));
		}
		if (opts->show_labels)
			json_array_append_new(header, json_string("LABELS"));
		add_line(lines, header);
	}
	json_array_foreach (rows, i, row) {
		json_t *line = json_array();
		const json_t *meta = json_object_get(json_object_get(row, "object"), "metadata");
		if (opts->with_namespace)
			json_array_append_new(
				line,
				json_string(json_string_value(json_object_get(meta, "namespace"))
						    ?: ""));
		json_array_foreach (json_object_get(row, "cells"), j, col) {
			const json_t *def = json_array_get(cols, j);
			if (json_integer_value(json_object_get(def, "priority")) > 0 && !opts->wide)
				continue;
			char *text = cell_text(col);
			if (j == 0 && opts->with_kind && opts->kind_prefix) {
				char *prefixed = NULL;
				if (asprintf(&prefixed, "%s/%s", opts->kind_prefix,
					     text ? text : "") >= 0) {
					free(text);
					text = prefixed;
				}
			}
			json_array_append_new(line, json_string(text ? text : ""));
			free(text);
		}
		if (opts->show_labels) {
			struct row_ctx c = { .cells = line };
			table_cell_labels(&c, json_object_get(meta, "labels"));
		}
		add_line(lines, line);
	}
	/* kubectl's tabwriter: minwidth 6, padding 3; the last cell of a line is not padded. */
	size_t n_cols = 0;
	json_array_foreach (lines, i, row)
		n_cols = MAX(n_cols, json_array_size(row));
	size_t *widths = calloc(n_cols ? n_cols : 1, sizeof(size_t));
	if (!widths)
		return error_oom(err);
	json_array_foreach (lines, i, row)
		json_array_foreach (row, j, col)
			if (j + 1 < json_array_size(row))
				widths[j] = MAX(widths[j],
						MAX(text_width(json_string_value(col)) + 3, 6));
	json_array_foreach (lines, i, row) {
		size_t n = json_array_size(row);
		json_array_foreach (row, j, col) {
			const char *s = json_string_value(col);
			strbuf_puts(out, s);
			if (j + 1 < n)
				for (size_t pad = text_width(s); pad < widths[j]; pad++)
					strbuf_putc(out, ' ');
		}
		strbuf_putc(out, '\n');
	}
	free(widths);
	return out->oom ? error_oom(err) : 0;
}
