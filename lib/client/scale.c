/*
 * scale.c - the /scale subresource: an autoscaling/v1 Scale view of spec.replicas of the
 * workloads that have one, for kubectl scale and the HorizontalPodAutoscaler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "client/client-internal.h"

static const char *
meta_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* "deployments.apps \"web\"" as kube-apiserver names a resource in messages. */
static void
resource_title(const struct kind_info *k, const char *suffix, const char *name, char *buf,
	       size_t size)
{
	snprintf(buf, size, "%s%s%s%s \"%s\"", k->plural, suffix, *k->group ? "." : "", k->group,
		 name);
}

/* The Scale's status.selector: the workload's selector as text (RC: its map). */
static int
scale_selector(const struct kind_info *k, const json_t *obj, char **ret, korch_error **err)
{
	const json_t *sel = json_object_get(json_object_get(obj, "spec"), "selector");
	struct label_selector *ls = NULL;
	int r = strcmp(k->kind, "ReplicationController") == 0
			? label_selector_from_map(sel, &ls, err)
			: label_selector_from_json(sel, &ls, err);
	if (r < 0)
		return r;
	char *text = label_selector_string(ls);
	label_selector_free(ls);
	if (!text)
		return error_oom(err);
	*ret = text;
	return 0;
}

static int
scale_of(const struct kind_info *k, const json_t *obj, json_t **ret, korch_error **err)
{
	_cleanup_free_ char *selector = NULL;
	int r = scale_selector(k, obj, &selector, err);
	if (r < 0)
		return r;
	const json_t *meta = json_object_get(obj, "metadata");
	json_t *smeta = json_object();
	static const char *const copied[] = { "name", "namespace", "uid", "resourceVersion",
					      "creationTimestamp" };
	for (size_t i = 0; i < ARRAY_SIZE(copied); i++) {
		json_t *v = json_object_get(meta, copied[i]);
		if (v)
			json_object_set(smeta, copied[i], v);
	}
	json_int_t want =
		json_integer_value(json_object_get(json_object_get(obj, "spec"), "replicas"));
	json_int_t have =
		json_integer_value(json_object_get(json_object_get(obj, "status"), "replicas"));
	json_t *scale =
		json_pack("{s:s, s:s, s:o, s:{s:I}, s:{s:I, s:s}}", "kind", "Scale", "apiVersion",
			  "autoscaling/v1", "metadata", smeta, "spec", "replicas", want, "status",
			  "replicas", have, "selector", selector);
	if (!scale)
		return error_oom(err);
	*ret = scale;
	return 0;
}

static int
check_scalable(const struct kind_info *k, korch_error **err)
{
	if (!(k->subresources & KIND_SUB_SCALE))
		return error_set(err, KORCH_ENOTFOUND,
				 "the server could not find the requested resource (%s has no "
				 "scale subresource)",
				 k->plural);
	return 0;
}

int
client_get_scale(struct client *c, const struct kind_info *k, const char *ns, const char *name,
		 json_t **ret, korch_error **err)
{
	int r = check_scalable(k, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *obj = NULL;
	if ((r = client_get(c, k, ns, name, &obj, err)) < 0)
		return r;
	return scale_of(k, obj, ret, err);
}

int
client_update_scale(struct client *c, const struct kind_info *k, const json_t *scale,
		    const struct client_write_opts *o, json_t **ret, korch_error **err)
{
	int r = check_scalable(k, err);
	if (r < 0)
		return r;
	const char *name = meta_str(scale, "name");
	const char *ns = meta_str(scale, "namespace");
	const json_t *replicas = json_object_get(json_object_get(scale, "spec"), "replicas");
	if (!name || !*name)
		return error_set(err, KORCH_EINVALID, "Scale: metadata.name is required");
	/* ValidateScale: the Scale's own rules come first. */
	if (replicas && (!json_is_integer(replicas) || json_integer_value(replicas) < 0)) {
		korch_error *causes = NULL;
		if (json_is_integer(replicas))
			error_add_cause(&causes, "FieldValueInvalid", "spec.replicas",
					"Invalid value: %lld: must be greater than or equal to 0",
					(long long)json_integer_value(replicas));
		else
			error_add_cause(&causes, "FieldValueTypeInvalid", "spec.replicas",
					"Invalid value: expected integer");
		int rc = error_set(
			err, KORCH_EINVALID, "Scale.autoscaling \"%s\" is invalid: %s: %s", name,
			korch_error_cause_field(causes, 0), korch_error_cause_message(causes, 0));
		if (err && *err)
			error_add_cause(err, korch_error_cause_reason(causes, 0),
					korch_error_cause_field(causes, 0), "%s",
					korch_error_cause_message(causes, 0));
		korch_error_free(causes);
		return rc;
	}
	const char *want_rv = meta_str(scale, "resourceVersion");
	for (int attempt = 0;; attempt++) {
		_cleanup_json_ json_t *obj = NULL;
		if ((r = client_get(c, k, ns, name, &obj, err)) < 0)
			return r;
		if (want_rv && *want_rv && !streq(want_rv, meta_str(obj, "resourceVersion"))) {
			char title[320];
			resource_title(k, "", name, title, sizeof(title));
			return error_set(
				err, KORCH_ECONFLICT,
				"Operation cannot be fulfilled on %s: the object has been "
				"modified; please apply your changes to the latest version "
				"and try again",
				title);
		}
		json_t *spec = json_object_get(obj, "spec");
		if (!json_is_object(spec)) {
			spec = json_object();
			json_object_set_new(obj, "spec", spec);
		}
		json_object_set_new(spec, "replicas", json_integer(json_integer_value(replicas)));
		/* Conditional on the version just read: it never undoes another write. */
		_cleanup_json_ json_t *stored = NULL;
		korch_error *e = NULL;
		r = client_update(c, obj, "scale", o, &stored, &e);
		if (r == KORCH_ECONFLICT && !(want_rv && *want_rv) && attempt < 4) {
			korch_error_free(e);
			continue; /* without a precondition, read again and retry */
		}
		if (r < 0)
			return error_propagate(err, &e, r);
		return ret ? scale_of(k, stored, ret, err) : 0;
	}
}
