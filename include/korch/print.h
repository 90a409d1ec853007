/*
 * korch/print.h - printing objects the way kubectl does: its tables (the columns of
 * `kubectl get` for each kind) and its JSONPath templates.
 */
#ifndef KORCH_PRINT_H
#define KORCH_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/common.h>
#include <korch/object.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options for korch_print_table(); initialise with KORCH_PRINT_OPTIONS_INIT. */
typedef struct korch_print_options {
	unsigned int version;    /**< KORCH_PRINT_OPTIONS_VERSION */
	bool wide;               /**< the -o wide columns */
	bool no_headers;         /**< no header line */
	bool with_namespace;     /**< a NAMESPACE column first (kubectl -A) */
	bool show_labels;        /**< a LABELS column last */
	const char *name_prefix; /**< "deployment.apps": names printed as PREFIX/NAME, or NULL */
	int64_t now_wall_ns;     /**< the time ages are counted to; 0: now */
} korch_print_options;

#define KORCH_PRINT_OPTIONS_VERSION 1
#define KORCH_PRINT_OPTIONS_INIT                                                 \
	{                                                                        \
		KORCH_PRINT_OPTIONS_VERSION, false, false, false, false, NULL, 0 \
	}

/**
 * The table kubectl prints for obj (one object, or a list whose items share a kind), with that
 * kind's columns. *ret_text (caller frees with free()) ends with a newline; an empty list gives
 * an empty string.
 */
KORCH_EXPORT int korch_print_table(const korch_object *obj, const korch_print_options *opts,
				   char **ret_text, korch_error **err);

/**
 * Runs a kubectl JSONPath template ("{.items[*].metadata.name}") over obj. With allow_missing
 * (kubectl's default) a missing key prints nothing, otherwise it is an error.
 */
KORCH_EXPORT int korch_jsonpath(const char *template_text, const korch_object *obj,
				bool allow_missing, char **ret_text, korch_error **err);

#ifdef __cplusplus
}
#endif

#endif
