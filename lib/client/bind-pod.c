/*
 * bind-pod.c - the pods/binding subresource: a pod is assigned to a node the way Kubernetes'
 * BindingREST does it (pkg/registry/core/pod/storage), which an ordinary update may not (pod
 * update validation forbids changing spec.nodeName). spec.nodeName is set only if it is unset,
 * only on a pod that is not being deleted and has no scheduling gates, the binding's annotations
 * are merged, and the PodScheduled condition becomes True. The pod's spec is otherwise untouched
 * and not re-validated, and no managedFields entry is recorded (the binding writes storage
 * directly in Kubernetes too). One plan (client_plan_bind) serves the single binding, the
 * Binding object and the scheduler's transactions of many bindings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "client/client-internal.h"

static const char *
meta_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* Conflict errors as assignPod reports them: a 409 on pods/binding with the reason. */
static int _printf_(3, 4)
	binding_conflict(korch_error **err, const char *name, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return error_set(err, KORCH_ECONFLICT,
			 "Operation cannot be fulfilled on pods/binding \"%s\": %s", name, reason);
}

/*
 * podutil.UpdatePodCondition for PodScheduled=True: the transition time moves only when the
 * status changes; reason and message of an earlier False condition go.
 */
static int
set_scheduled(json_t *pod, int64_t wall_ns, korch_error **err)
{
	json_t *status = json_object_get(pod, "status");
	if (!json_is_object(status)) {
		status = json_object();
		if (!status || json_object_set_new(pod, "status", status) < 0)
			return error_oom(err);
	}
	json_t *conditions = json_object_get(status, "conditions");
	if (!json_is_array(conditions)) {
		conditions = json_array();
		if (!conditions || json_object_set_new(status, "conditions", conditions) < 0)
			return error_oom(err);
	}
	char now[32];
	format_rfc3339(wall_ns - wall_ns % NSEC_PER_SEC, false, now);
	json_t *cond = json_pack("{s:s, s:s, s:n, s:s}", "type", "PodScheduled", "status", "True",
				 "lastProbeTime", "lastTransitionTime", now);
	if (!cond)
		return error_oom(err);
	size_t i;
	json_t *old;
	json_array_foreach (conditions, i, old) {
		if (!streq(json_string_value(json_object_get(old, "type")), "PodScheduled"))
			continue;
		json_t *ltt = json_object_get(old, "lastTransitionTime");
		if (streq(json_string_value(json_object_get(old, "status")), "True") && ltt)
			json_object_set(cond, "lastTransitionTime", ltt);
		return json_array_set_new(conditions, i, cond) < 0 ? error_oom(err) : 0;
	}
	return json_array_append_new(conditions, cond) < 0 ? error_oom(err) : 0;
}

/*
 * A copy of pod that assign() may change: the objects on the path of every change (the pod,
 * its metadata, annotations, spec, status and conditions) are new, everything else is shared
 * with pod, which stays untouched (the store writes metadata.resourceVersion into the copy's
 * own metadata). Much cheaper than a deep copy of the whole pod, for a scheduler's batches.
 */
static json_t *
copy_for_binding(const json_t *pod)
{
	json_t *copy = json_copy((json_t *)pod);
	if (!copy)
		return NULL;
	static const char *const parts[] = { "metadata", "spec", "status" };
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		json_t *v = json_object_get(copy, parts[i]);
		if (!json_is_object(v))
			continue;
		json_t *c = json_copy(v);
		if (!c || json_object_set_new(copy, parts[i], c) < 0)
			goto oom;
	}
	json_t *meta = json_object_get(copy, "metadata");
	json_t *ann = json_object_get(meta, "annotations");
	if (json_is_object(ann)) {
		json_t *c = json_copy(ann);
		if (!c || json_object_set_new(meta, "annotations", c) < 0)
			goto oom;
	}
	json_t *status = json_object_get(copy, "status");
	json_t *conds = json_object_get(status, "conditions");
	if (json_is_array(conds)) {
		json_t *c = json_copy(conds);
		if (!c || json_object_set_new(status, "conditions", c) < 0)
			goto oom;
	}
	return copy;
oom:
	json_decref(copy);
	return NULL;
}

/* setPodNodeAndMetadata's update function, applied to pod (a copy the caller owns). */
static int
assign(json_t *pod, const struct client_binding *b, int64_t wall_ns, korch_error **err)
{
	const char *name = meta_str(pod, "name") ?: "";
	json_t *meta = json_object_get(pod, "metadata");
	json_t *spec = json_object_get(pod, "spec");
	if (!json_is_object(meta) || !json_is_object(spec))
		return error_set(err, KORCH_EINVALID, "pod \"%s\" has no metadata or spec", name);
	if (b->uid && *b->uid && !streq(b->uid, meta_str(pod, "uid")))
		return error_set(
			err, KORCH_ECONFLICT,
			"Operation cannot be fulfilled on pods \"%s\": Precondition failed: "
			"UID in precondition: %s, UID in object meta: %s",
			name, b->uid, meta_str(pod, "uid") ?: "");
	if (b->resource_version && *b->resource_version &&
	    !streq(b->resource_version, meta_str(pod, "resourceVersion")))
		return error_set(
			err, KORCH_ECONFLICT,
			"Operation cannot be fulfilled on pods \"%s\": Precondition failed: "
			"ResourceVersion in precondition: %s, ResourceVersion in object meta: "
			"%s",
			name, b->resource_version, meta_str(pod, "resourceVersion") ?: "");
	if (json_object_get(meta, "deletionTimestamp"))
		return binding_conflict(
			err, name, "pod %s is being deleted, cannot be assigned to a host", name);
	const char *assigned = json_string_value(json_object_get(spec, "nodeName"));
	if (assigned && *assigned)
		return binding_conflict(err, name, "pod %s is already assigned to node \"%s\"",
					name, assigned);
	if (json_array_size(json_object_get(spec, "schedulingGates")) > 0)
		return binding_conflict(err, name, "pod %s has non-empty .spec.schedulingGates",
					name);
	if (json_object_set_new(spec, "nodeName", json_string(b->node)) < 0)
		return error_oom(err);
	if (json_object_size(b->annotations) > 0) {
		json_t *ann = json_object_get(meta, "annotations");
		if (!json_is_object(ann)) {
			ann = json_object();
			if (!ann || json_object_set_new(meta, "annotations", ann) < 0)
				return error_oom(err);
		}
		const char *k;
		json_t *v;
		json_object_foreach ((json_t *)b->annotations, k, v)
			if (json_object_set(ann, k, v) < 0)
				return error_oom(err);
	}
	return set_scheduled(pod, wall_ns, err);
}

int
client_plan_bind(struct client *c, const struct client_binding *b, struct client_plan *ret,
		 korch_error **err)
{
	const struct kind_info *k = kind_lookup("v1", "Pod");
	if (!b->ns || !*b->ns || !b->name || !*b->name)
		return error_set(err, KORCH_EINVALID,
				 "a binding needs the pod's namespace and name");
	if (!b->node || !*b->node)
		return error_set(err, KORCH_EINVALID,
				 "Binding \"%s\" is invalid: target.name: Required value", b->name);
	json_t *pod = NULL;
	int64_t revision = 0;
	if (b->current) {
		/* The caller's copy stands for the stored one: the commit checks its version. */
		const char *rv = meta_str(b->current, "resourceVersion");
		if (!rv || parse_int64(rv, &revision) < 0 || revision <= 0)
			return error_set(err, KORCH_EINVALID,
					 "the pod given for binding %s/%s has no resourceVersion",
					 b->ns, b->name);
		if (!streq(meta_str(b->current, "name"), b->name) ||
		    !streq(meta_str(b->current, "namespace"), b->ns))
			return error_set(err, KORCH_EINVALID,
					 "the pod given for binding %s/%s is another pod", b->ns,
					 b->name);
		if (!(pod = copy_for_binding(b->current)))
			return error_oom(err);
	} else {
		struct store_key key;
		client_key(k, b->ns, b->name, &key);
		struct store_object_meta m;
		int r = store_get(c->store, &key, &pod, &m, err);
		if (r < 0)
			return r;
		revision = m.mod_revision;
		client_set_type(pod, k);
	}
	int r = assign(pod, b, korch_clock_wall_ns(c->clock), err);
	if (r < 0) {
		json_decref(pod);
		return r;
	}
	struct client_plan p = {
		.op = STORE_OP_UPDATE, .kind = k, .obj = pod, .expected_revision = revision
	};
	p.ns = strdup(b->ns);
	p.name = strdup(b->name);
	if (!p.ns || !p.name) {
		client_plan_clear(&p);
		return error_oom(err);
	}
	*ret = p;
	return 0;
}

/* Binding attempts when the pod changes between the read and the write (GuaranteedUpdate). */
#define BIND_RETRIES 5

/* One binding read, worked out and committed; retried on a conflict of the commit. */
static int
bind_commit(struct client *c, const struct client_binding *b, json_t **ret, korch_error **err)
{
	struct client_binding one = *b;
	one.current = NULL; /* a single binding reads the pod, as the REST call does */
	for (int attempt = 0;; attempt++) {
		struct client_plan p;
		int r = client_plan_bind(c, &one, &p, err);
		if (r < 0)
			return r;
		struct store_op op = {
			.type = STORE_OP_UPDATE,
			.key = { p.kind->group, p.kind->plural, p.ns, p.name },
			.obj = p.obj,
			.expected_revision = p.expected_revision,
		};
		korch_error *e = NULL;
		r = store_commit(c->store, &op, 1, NULL, &e);
		if (r == 0 && ret)
			*ret = json_incref(p.obj);
		client_plan_clear(&p);
		if (r != KORCH_ECONFLICT || attempt + 1 == BIND_RETRIES)
			return error_propagate(err, &e, r);
		korch_error_free(e);
	}
}

int
client_bind_pod(struct client *c, const char *ns, const char *name, const char *uid,
		const char *node, korch_error **err)
{
	struct client_binding b = { .ns = ns, .name = name, .node = node, .uid = uid };
	return bind_commit(c, &b, NULL, err);
}

int
client_bind_object(struct client *c, const char *ns, const char *name, const json_t *binding,
		   json_t **ret, korch_error **err)
{
	if (!json_is_object(binding))
		return error_set(err, KORCH_EINVALID, "a Binding must be a JSON object");
	const json_t *meta = json_object_get(binding, "metadata");
	const char *bname = json_string_value(json_object_get(meta, "name"));
	if (name && bname && !streq(name, bname))
		return error_set(err, KORCH_EINVALID,
				 "name in URL does not match name in Binding object");
	if (!name)
		name = bname;
	const json_t *target = json_object_get(binding, "target");
	const char *kind = json_string_value(json_object_get(target, "kind"));
	if (kind && *kind && strcmp(kind, "Node") != 0)
		return error_set(err, KORCH_EINVALID,
				 "Binding \"%s\" is invalid: target.kind: Unsupported value: "
				 "\"%s\": supported values: \"Node\", \"<empty>\"",
				 name ?: "", kind);
	struct client_binding b = {
		.ns = ns,
		.name = name,
		.node = json_string_value(json_object_get(target, "name")),
		.uid = json_string_value(json_object_get(meta, "uid")),
		.resource_version = json_string_value(json_object_get(meta, "resourceVersion")),
		.annotations = json_object_get(meta, "annotations"),
	};
	return bind_commit(c, &b, ret, err);
}
