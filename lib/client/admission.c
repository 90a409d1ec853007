/*
 * admission.c - the Priority admission plugin of the write path (plugin/pkg/admission/priority):
 * a pod's spec.priority and spec.preemptionPolicy are resolved from its PriorityClass (or the
 * globalDefault class) when it is created and kept on update; at most one PriorityClass may be
 * marked globalDefault.
 */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "client/client-internal.h"

/* Priority of a pod when no PriorityClass is marked globalDefault (scheduling.k8s.io). */
#define DEFAULT_PRIORITY_NO_CLASS 0

/*
 * The system classes kube-apiserver creates at start-up; a store that has not got them (korch
 * creates no PriorityClass on its own) still resolves their names, to the values Kubernetes
 * fixes for them (validation refuses any other value for these names).
 */
static const struct {
	const char *name;
	int64_t value;
} system_classes[] = {
	{ "system-node-critical", 2000001000 },
	{ "system-cluster-critical", 2000000000 },
};

struct priority {
	const char *name;   /* the class's name, or NULL for none */
	int64_t value;      /* spec.priority it gives */
	const char *policy; /* its preemptionPolicy, or NULL */
};

static const char *
meta_name(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

/* Lists every PriorityClass (a handful: read from the store each time, as a lister would). */
static int
list_classes(struct client *c, json_t **ret, korch_error **err)
{
	return client_list(c, kind_lookup("scheduling.k8s.io/v1", "PriorityClass"), NULL, NULL, ret,
			   err);
}

/* The globalDefault class with the lowest value (more than one can exist after a race). */
static const json_t *
default_class(const json_t *list)
{
	const json_t *best = NULL;
	size_t i;
	json_t *pc;
	json_array_foreach (json_object_get(list, "items"), i, pc) {
		if (!json_is_true(json_object_get(pc, "globalDefault")))
			continue;
		if (!best || json_integer_value(json_object_get(best, "value")) >
				     json_integer_value(json_object_get(pc, "value")))
			best = pc;
	}
	return best;
}

static const json_t *
find_class(const json_t *list, const char *name)
{
	size_t i;
	json_t *pc;
	json_array_foreach (json_object_get(list, "items"), i, pc)
		if (streq(meta_name(pc), name))
			return pc;
	return NULL;
}

static struct priority
class_priority(const json_t *pc)
{
	return (struct priority){
		.name = meta_name(pc),
		.value = json_integer_value(json_object_get(pc, "value")),
		.policy = json_string_value(json_object_get(pc, "preemptionPolicy")),
	};
}

/*
 * What a new pod gets: its class's priority, or the default class's, or 0. The strings of *ret
 * are borrowed from list.
 */
static int
resolve(const json_t *list, const char *class_name, const json_t *pod, struct priority *ret,
	korch_error **err)
{
	if (!class_name || !*class_name) {
		const json_t *pc = default_class(list);
		*ret = pc ? class_priority(pc)
			  : (struct priority){ .value = DEFAULT_PRIORITY_NO_CLASS,
					       .policy = "PreemptLowerPriority" };
		return 0;
	}
	const json_t *pc = find_class(list, class_name);
	if (pc) {
		*ret = class_priority(pc);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(system_classes); i++)
		if (streq(class_name, system_classes[i].name)) {
			*ret = (struct priority){ .name = system_classes[i].name,
						  .value = system_classes[i].value,
						  .policy = "PreemptLowerPriority" };
			return 0;
		}
	return error_set(err, KORCH_EFORBIDDEN,
			 "pods \"%s\" is forbidden: no PriorityClass with name %s was found",
			 meta_name(pod) ?: "", class_name);
}

static int
admit_pod(struct client *c, json_t *pod, const json_t *old, korch_error **err)
{
	json_t *spec = json_object_get(pod, "spec");
	if (!json_is_object(spec))
		return 0; /* validation reports it */
	if (old) {
		/* Priority is set on create and kept: an update that omits it keeps the old one. */
		const json_t *ospec = json_object_get(old, "spec");
		static const char *const kept[] = { "priority", "preemptionPolicy" };
		for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
			json_t *v = json_object_get(ospec, kept[i]);
			if (!json_object_get(spec, kept[i]) && v &&
			    json_object_set(spec, kept[i], v) < 0)
				return error_oom(err);
		}
		return 0;
	}
	const char *class_name = json_string_value(json_object_get(spec, "priorityClassName"));
	_cleanup_json_ json_t *list = NULL;
	int r = list_classes(c, &list, err);
	if (r < 0)
		return r;
	struct priority p = { 0 };
	r = resolve(list, class_name, pod, &p, err);
	if (r < 0)
		return r;
	const json_t *given = json_object_get(spec, "priority");
	if (json_is_integer(given) && json_integer_value(given) != p.value)
		return error_set(
			err, KORCH_EFORBIDDEN,
			"pods \"%s\" is forbidden: the integer value of priority (%lld) must "
			"not be provided in pod spec; priority admission controller computed "
			"%lld from the given PriorityClass name",
			meta_name(pod) ?: "", (long long)json_integer_value(given),
			(long long)p.value);
	const char *given_policy = json_string_value(json_object_get(spec, "preemptionPolicy"));
	if (p.policy && given_policy && !streq(given_policy, p.policy))
		return error_set(
			err, KORCH_EFORBIDDEN,
			"pods \"%s\" is forbidden: the string value of PreemptionPolicy (%s) "
			"must not be provided in pod spec; priority admission controller "
			"computed %s from the given PriorityClass name",
			meta_name(pod) ?: "", given_policy, p.policy);
	if ((!class_name || !*class_name) && p.name &&
	    json_object_set_new(spec, "priorityClassName", json_string(p.name)) < 0)
		return error_oom(err);
	if (json_object_set_new(spec, "priority", json_integer(p.value)) < 0)
		return error_oom(err);
	if (p.policy && json_object_set_new(spec, "preemptionPolicy", json_string(p.policy)) < 0)
		return error_oom(err);
	return 0;
}

/* A second globalDefault class is refused, on create and when an update marks another one. */
static int
admit_priority_class(struct client *c, const json_t *pc, bool creating, korch_error **err)
{
	if (!json_is_true(json_object_get(pc, "globalDefault")))
		return 0;
	_cleanup_json_ json_t *list = NULL;
	int r = list_classes(c, &list, err);
	if (r < 0)
		return r;
	const json_t *dpc = default_class(list);
	if (dpc && (creating || !streq(meta_name(dpc), meta_name(pc))))
		return error_set(
			err, KORCH_EFORBIDDEN,
			"priorityclasses.scheduling.k8s.io \"%s\" is forbidden: PriorityClass "
			"%s is already marked as default. Only one default can exist",
			meta_name(pc) ?: "", meta_name(dpc) ?: "");
	return 0;
}

int
client_admit_priority(struct client *c, const struct kind_info *k, json_t *obj, const json_t *old,
		      const char *subresource, korch_error **err)
{
	if (subresource && *subresource)
		return 0; /* status and binding writes leave the spec alone */
	if (strcmp(k->kind, "Pod") == 0 && !*k->group)
		return admit_pod(c, obj, old, err);
	if (strcmp(k->kind, "PriorityClass") == 0)
		return admit_priority_class(c, obj, !old, err);
	return 0;
}
