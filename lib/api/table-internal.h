/*
 * table-internal.h - what table.c (the column tables, Table building, text rendering) and
 * table-rows.c (each kind's cells, as kube-apiserver's printers fill them) share.
 */
#ifndef KORCH_API_TABLE_INTERNAL_H
#define KORCH_API_TABLE_INTERNAL_H

#include <stdint.h>

#include "base/json.h"

struct column {
	const char *name;        /* "Ready" */
	const char *type;        /* "string", "integer", "boolean", "date" */
	int priority;            /* 1: wide only */
	const char *description; /* what the column holds */
};

struct row_ctx {
	const json_t *obj; /* the object of the row */
	int64_t now_ns;    /* wall clock for ages */
	json_t *cells;     /* the row's cells, appended in column order */
};

/* labels.FormatLabels: "k=v,k2=v2" sorted by key, "<none>" when empty, as one cell. */
void table_cell_labels(struct row_ctx *c, const json_t *map);

/* Each fills c->cells with one cell per column of its kind's table, in order. */
void table_row_configmap(struct row_ctx *c);
void table_row_controllerrevision(struct row_ctx *c);
void table_row_created_at(struct row_ctx *c);
void table_row_cronjob(struct row_ctx *c);
void table_row_daemonset(struct row_ctx *c);
void table_row_deployment(struct row_ctx *c);
void table_row_endpoints(struct row_ctx *c);
void table_row_endpointslice(struct row_ctx *c);
void table_row_event(struct row_ctx *c);
void table_row_gitrepository(struct row_ctx *c);
void table_row_hpa(struct row_ctx *c);
void table_row_job(struct row_ctx *c);
void table_row_lease(struct row_ctx *c);
void table_row_namespace(struct row_ctx *c);
void table_row_node(struct row_ctx *c);
void table_row_pod(struct row_ctx *c);
void table_row_priorityclass(struct row_ctx *c);
void table_row_pv(struct row_ctx *c);
void table_row_pvc(struct row_ctx *c);
void table_row_replicaset(struct row_ctx *c);
void table_row_rolebinding(struct row_ctx *c);
void table_row_secret(struct row_ctx *c);
void table_row_service(struct row_ctx *c);
void table_row_serviceaccount(struct row_ctx *c);
void table_row_statefulset(struct row_ctx *c);
void table_row_storageclass(struct row_ctx *c);

#endif
