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

/*
 * Parses the text form ("app=web,tier!=db,env in (prod,qa),!canary,release"); "" selects
 * everything. Errors name the position and the rule, as Kubernetes' parser does.
 */
int label_selector_parse(const char *text, struct label_selector **ret, korch_error **err);

/*
 * From a metav1.LabelSelector JSON object (matchLabels, matchExpressions with In, NotIn, Exists,
 * DoesNotExist). NULL or {} selects everything (callers that want "nothing" check first).
 */
int label_selector_from_json(const json_t *selector, struct label_selector **ret,
			     korch_error **err);

/* From a plain map of labels that must all be equal (Service and ReplicationController). */
int label_selector_from_map(const json_t *map, struct label_selector **ret, korch_error **err);

/* Whether labels (a JSON object of strings, or NULL for none) match. */
bool label_selector_matches(const struct label_selector *sel, const json_t *labels);

/* Whether it selects everything. */
bool label_selector_is_empty(const struct label_selector *sel);

/* The canonical text form, as Kubernetes' String() prints it; caller frees. */
char *label_selector_string(const struct label_selector *sel);

void label_selector_free(struct label_selector *sel);

struct field_selector;

/*
 * Parses a field selector ("metadata.name=web,status.phase!=Running") for kind: only the
 * fields Kubernetes supports for that kind (metadata.name and metadata.namespace everywhere,
 * spec.nodeName, status.phase, ... for pods, involvedObject.* for events, ...) are accepted;
 * others get "field label not supported: FIELD".
 */
int field_selector_parse(const char *text, const struct kind_info *kind,
			 struct field_selector **ret, korch_error **err);

bool field_selector_matches(const struct field_selector *sel, const json_t *obj);

bool field_selector_is_empty(const struct field_selector *sel);

void field_selector_free(struct field_selector *sel);

#endif
