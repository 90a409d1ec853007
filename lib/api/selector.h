/*
 * selector.h - label selectors (equality- and set-based, and metav1.LabelSelector with
 * matchLabels/matchExpressions) and field selectors, parsed and evaluated as Kubernetes does.
 */
#ifndef KORCH_API_SELECTOR_H
#define KORCH_API_SELECTOR_H

#include <stdbool.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/kinds.h"

struct label_selector;

/* The operators of k8s.io/apimachinery/pkg/selection, as labels.Requirement holds them. */
enum label_op {
	LABEL_OP_IN,             /* "key in (a,b)", matchExpressions In */
	LABEL_OP_NOT_IN,         /* "key notin (a,b)", NotIn */
	LABEL_OP_EQUALS,         /* "key=a", matchLabels */
	LABEL_OP_DOUBLE_EQUALS,  /* "key==a" */
	LABEL_OP_NOT_EQUALS,     /* "key!=a" */
	LABEL_OP_EXISTS,         /* "key", Exists */
	LABEL_OP_DOES_NOT_EXIST, /* "!key", DoesNotExist */
	LABEL_OP_GREATER_THAN,   /* "key>3" */
	LABEL_OP_LESS_THAN,      /* "key<3" */
};

/* One requirement; a selector is the AND of its requirements, sorted by key. */
struct label_requirement {
	char *key;        /* a qualified name */
	enum label_op op; /* the operator */
	char **values;    /* n_values values: sorted and unique from text, as given from JSON */
	size_t n_values;  /* 0 for EXISTS and DOES_NOT_EXIST, 1 for the equality operators */
};

/*
 * Parses the text form ("app=web,tier!=db,env in (prod,qa),!canary,release"); "" selects
 * everything. KORCH_EINVALID with the message Kubernetes' parser gives ("unable to parse
 * requirement: <nil>: Invalid value: \"-x\": name part must consist of ...", "found ',',
 * expected: !, identifier, or 'end of string'", ...).
 */
int label_selector_parse(const char *text, struct label_selector **ret, korch_error **err);

/*
 * From a metav1.LabelSelector JSON object (matchLabels, matchExpressions with In, NotIn, Exists,
 * DoesNotExist). NULL or {} selects everything (callers that want "nothing" check first).
 * Invalid input: KORCH_EINVALID with the causes label_selector_validate_json() gives (paths
 * relative to the selector: "matchExpressions[0].values") and a message listing them as
 * Kubernetes prints a field error list.
 */
int label_selector_from_json(const json_t *selector, struct label_selector **ret,
			     korch_error **err);

/*
 * Checks a metav1.LabelSelector object as ValidateLabelSelector does, adding causes under
 * field_path ("spec.selector"; NULL or "" for none): label keys and values, "Required value:
 * must be specified when `operator` is 'In' or 'NotIn'", "Forbidden: may not be specified when
 * `operator` is 'Exists' or 'DoesNotExist'", "Invalid value: \"Foo\": not a valid selector
 * operator", and FieldValueTypeInvalid for JSON of the wrong shape. 0 or KORCH_EINVALID.
 */
int label_selector_validate_json(const json_t *selector, const char *field_path, korch_error **err);

/*
 * From a plain map of labels that must all be equal (Service and ReplicationController), as
 * ValidatedSelectorFromSet: KORCH_EINVALID with NewRequirement's message for a bad key or value
 * ("key: Invalid value: ...", "values[0][app]: Invalid value: ...").
 */
int label_selector_from_map(const json_t *map, struct label_selector **ret, korch_error **err);

/* Whether labels (a JSON object of strings, or NULL for none) match. */
bool label_selector_matches(const struct label_selector *sel, const json_t *labels);

/* Whether it selects everything. */
bool label_selector_is_empty(const struct label_selector *sel);

/* The canonical text form, as Kubernetes' String() prints it; caller frees (NULL: no memory). */
char *label_selector_string(const struct label_selector *sel);

/* The requirements, in order (by key): count, and each borrowed from sel. */
size_t label_selector_count(const struct label_selector *sel);
const struct label_requirement *label_selector_requirement(const struct label_selector *sel,
							   size_t i);

/*
 * RequiresExactMatch: when the selector's requirement on key (the first one) is =, == or an
 * "in" of one value, that value (borrowed), else NULL. For answering from a label index.
 */
const char *label_selector_exact_value(const struct label_selector *sel, const char *key);

void label_selector_free(struct label_selector *sel);

struct field_selector;

/*
 * Parses a field selector ("metadata.name=web,status.phase!=Running") for kind: only the
 * fields Kubernetes supports for that kind (metadata.name and metadata.namespace everywhere,
 * spec.nodeName, status.phase, ... for pods, involvedObject.* for events, ...) are accepted;
 * others get Kubernetes' message for that kind: "field label not supported: FIELD" for the
 * core kinds with their own fields, "field label \"FIELD\" not supported for batchv1.Job",
 * and "\"FIELD\" is not a known field selector: only \"metadata.name\",
 * \"metadata.namespace\"" for kinds with none. Values are unescaped as fields.UnescapeValue
 * does. kind may be NULL: any field is accepted. Uses only kind->group and kind->kind.
 */
int field_selector_parse(const char *text, const struct kind_info *kind,
			 struct field_selector **ret, korch_error **err);

/*
 * Whether obj has the selected field values; a field is read as Kubernetes' GetAttrs renders
 * it: a missing string is "", booleans "true"/"false" (missing: "false"), counts in decimal
 * (missing: "0").
 */
bool field_selector_matches(const struct field_selector *sel, const json_t *obj);

bool field_selector_is_empty(const struct field_selector *sel);

/* The text form as fields.Selector's String() prints it (values escaped); caller frees. */
char *field_selector_string(const struct field_selector *sel);

/* RequiresExactMatch: the value an "=" term requires of field (borrowed), or NULL. */
const char *field_selector_exact_value(const struct field_selector *sel, const char *field);

void field_selector_free(struct field_selector *sel);

#endif
