/*
 * nodematch.c - tolerations, taints and node affinity (see nodematch.h).
 */
#include <stdlib.h>
#include <string.h>

#include "api/nodematch.h"
#include "base/util.h"

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

bool
toleration_tolerates(const json_t *tol, const json_t *taint)
{
	const char *effect = str(tol, "effect");
	if (*effect && !streq(effect, str(taint, "effect")))
		return false;
	const char *key = str(tol, "key");
	const char *op = str(tol, "operator");
	if (*key && !streq(key, str(taint, "key")))
		return false;
	if (streq(op, "Exists"))
		return true;
	if (*op && !streq(op, "Equal"))
		return false;
	return streq(str(tol, "value"), str(taint, "value"));
}

const json_t *
untolerated_taint(const json_t *taints, const json_t *tolerations,
		  bool (*filter)(const json_t *taint))
{
	size_t i, j;
	json_t *taint, *tol;
	json_array_foreach (taints, i, taint) {
		if (filter && !filter(taint))
			continue;
		bool ok = false;
		json_array_foreach (tolerations, j, tol)
			if (toleration_tolerates(tol, taint)) {
				ok = true;
				break;
			}
		if (!ok)
			return taint;
	}
	return NULL;
}

static bool
has_value(const json_t *values, const char *v)
{
	size_t i;
	json_t *x;
	json_array_foreach (values, i, x)
		if (streq(json_string_value(x), v))
			return true;
	return false;
}

/* One requirement against a value (present or not). */
static bool
requirement_holds(const json_t *req, const char *value)
{
	const char *op = str(req, "operator");
	const json_t *values = json_object_get(req, "values");
	if (streq(op, "In"))
		return value && has_value(values, value);
	if (streq(op, "NotIn"))
		return !value || !has_value(values, value);
	if (streq(op, "Exists"))
		return value != NULL;
	if (streq(op, "DoesNotExist"))
		return value == NULL;
	if (streq(op, "Gt") || streq(op, "Lt")) {
		int64_t have, want;
		if (!value || json_array_size(values) != 1 || parse_int64(value, &have) < 0 ||
		    parse_int64(json_string_value(json_array_get(values, 0)), &want) < 0)
			return false;
		return streq(op, "Gt") ? have > want : have < want;
	}
	return false;
}

static bool
term_matches(const json_t *term, const json_t *node)
{
	const json_t *exprs = json_object_get(term, "matchExpressions");
	const json_t *fields = json_object_get(term, "matchFields");
	/* An empty term matches nothing (NodeSelectorTerm semantics). */
	if (!json_array_size(exprs) && !json_array_size(fields))
		return false;
	const json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
	size_t i;
	json_t *req;
	json_array_foreach (exprs, i, req)
		if (!requirement_holds(req,
				       json_string_value(json_object_get(labels, str(req, "key")))))
			return false;
	json_array_foreach (fields, i, req) {
		if (!streq(str(req, "key"), "metadata.name"))
			return false;
		const char *name = str(json_object_get(node, "metadata"), "name");
		if (!requirement_holds(req, name))
			return false;
	}
	return true;
}

bool
node_selector_matches(const json_t *selector, const json_t *node)
{
	size_t i;
	json_t *term;
	json_array_foreach (json_object_get(selector, "nodeSelectorTerms"), i, term)
		if (term_matches(term, node))
			return true;
	return false;
}

bool
pod_node_affinity_matches(const json_t *pod, const json_t *node)
{
	const json_t *spec = json_object_get(pod, "spec");
	const json_t *sel = json_object_get(spec, "nodeSelector");
	const json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)sel, k, v)
		if (!streq(json_string_value(json_object_get(labels, k)), json_string_value(v)))
			return false;
	const json_t *req =
		json_object_get(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"),
				"requiredDuringSchedulingIgnoredDuringExecution");
	if (req && !node_selector_matches(req, node))
		return false;
	return true;
}
