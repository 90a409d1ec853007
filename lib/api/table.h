/*
 * table.h - kubectl's columns: the meta.k8s.io/v1 Table that kube-apiserver's printers build
 * for each kind (`kubectl get` asks for it), and its text rendering as kubectl prints it.
 */
#ifndef KORCH_API_TABLE_H
#define KORCH_API_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/strbuf.h"

enum table_include {
	TABLE_INCLUDE_METADATA, /* rows[].object is a PartialObjectMetadata (the default) */
	TABLE_INCLUDE_OBJECT,   /* rows[].object is the whole object */
	TABLE_INCLUDE_NONE,     /* no rows[].object */
};

/*
 * Builds a Table for objects of kind (a Kind name, "Pod"): the column definitions of that kind
 * (wide ones with priority 1; a kind without a printer gets NAME and CREATED AT as
 * kube-apiserver's default) and one row per object. Ages are relative to now_wall_ns.
 * objects is a JSON array; the result is the caller's.
 */
int table_build(const char *kind, const json_t *objects, int64_t now_wall_ns,
		enum table_include include, json_t **ret_table, korch_error **err);

/* Only the column definitions of kind (a JSON array). */
json_t *table_columns(const char *kind);

/* How to print a Table as text. */
struct table_print_options {
	bool wide;               /* show priority > 0 columns (-o wide) */
	bool no_headers;         /* --no-headers */
	bool with_namespace;     /* a NAMESPACE column first (-A) */
	bool show_labels;        /* a LABELS column last (--show-labels) */
	bool with_kind;          /* names as kind.group/name (kubectl get of several kinds) */
	const char *kind_prefix; /* "deployment.apps" when with_kind */
};

/*
 * Appends the table's rows the way kubectl prints them: upper-case headers, columns padded to
 * their widest cell plus three spaces, the last column unpadded.
 */
int table_print(const json_t *table, const struct table_print_options *opts, struct strbuf *out,
		korch_error **err);

/* Kubernetes' human durations: "45s", "3m20s", "5h", "3d4h", "2y" (duration.HumanDuration). */
void human_duration(int64_t ns, char buf[static 32]);

#endif
