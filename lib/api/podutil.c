/*
 * podutil.c - facts derived from pods.
 */
#include <string.h>

#include "api/podutil.h"
#include "api/quantity.h"

/* Reads resources.(requests|limits).NAME of a container; false when absent or unparsable. */
static bool
resource(const json_t *container, const char *which, const char *name, struct quantity *ret)
{
	const json_t *v = json_object_get(
		json_object_get(json_object_get(container, "resources"), which), name);
	return v && quantity_from_json(v, ret, NULL) == 0;
}

const char *
pod_qos_class(const json_t *pod)
{
	static const char *const names[] = { "cpu", "memory" };
	static const char *const lists[] = { "containers", "initContainers" };
	const json_t *spec = json_object_get(pod, "spec");
	bool any = false, guaranteed = true;
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *ct;
		json_array_foreach (json_object_get(spec, lists[l]), i, ct) {
			for (size_t n = 0; n < 2; n++) {
				struct quantity req, lim;
				bool has_req = resource(ct, "requests", names[n], &req);
				bool has_lim = resource(ct, "limits", names[n], &lim);
				/* Zero quantities count as unset, as Kubernetes ignores them. */
				struct quantity zero = { 0 };
				if (has_req && quantity_cmp(&req, &zero) == 0)
					has_req = false;
				if (has_lim && quantity_cmp(&lim, &zero) == 0)
					has_lim = false;
				if (has_req || has_lim)
					any = true;
				if (!has_lim || (has_req && quantity_cmp(&req, &lim) != 0))
					guaranteed = false;
			}
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}
