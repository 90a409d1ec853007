/*
 * bind-pod.c - pods/binding: the scheduler's assignment of a pod to a node, which an ordinary
 * update may not make (pod update validation forbids changing spec.nodeName).
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

/* Sets condition type to status on a pod's status (UpdatePodCondition). */
static void
set_pod_condition(json_t *pod, const char *type, const char *status, int64_t wall_ns)
{
	json_t *st = json_object_get(pod, "status");
	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(pod, "status", st);
	}
	json_t *conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	char buf[32];
	format_rfc3339(wall_ns - wall_ns % NSEC_PER_SEC, false, buf);
	size_t i;
	json_t *cond;
	json_array_foreach (conds, i, cond) {
		if (!streq(json_string_value(json_object_get(cond, "type")), type))
			continue;
		if (!streq(json_string_value(json_object_get(cond, "status")), status)) {
			json_object_set_new(cond, "status", json_string(status));
			json_object_set_new(cond, "lastTransitionTime", json_string(buf));
		}
		return;
	}
	json_array_append_new(conds, json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status",
					       status, "lastProbeTime", "lastTransitionTime", buf));
}

int
client_bind_pod(struct client *c, const char *ns, const char *name, const char *uid,
		const char *node, korch_error **err)
{
	const struct kind_info *k = kind_lookup("v1", "Pod");
	if (!node || !*node)
		return error_set(err, KORCH_EINVALID,
				 "Binding.core \"%s\" is invalid: target.name: Required value",
				 name);
	for (int attempt = 0;; attempt++) {
		struct store_key key;
		client_key(k, ns, name, &key);
		_cleanup_json_ json_t *pod = NULL;
		struct store_object_meta m;
		int r = store_get(c->store, &key, &pod, &m, err);
		if (r < 0)
			return r;
		const char *why = NULL;
		char msg[600];
		const char *cur = json_string_value(
			json_object_get(json_object_get(pod, "spec"), "nodeName"));
		if (uid && *uid && !streq(uid, meta_str(pod, "uid"))) {
			snprintf(
				msg, sizeof(msg),
				"Precondition failed: UID in precondition: %s, UID in object meta: "
				"%s",
				uid, meta_str(pod, "uid") ?: "");
			why = msg;
		} else if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp")) {
			snprintf(msg, sizeof(msg),
				 "pod %s is being deleted, cannot be assigned to a host", name);
			why = msg;
		} else if (cur && *cur) {
			snprintf(msg, sizeof(msg), "pod %s is already assigned to node \"%s\"",
				 name, cur);
			why = msg;
		} else if (json_array_size(json_object_get(json_object_get(pod, "spec"),
							   "schedulingGates"))) {
			snprintf(msg, sizeof(msg), "pod %s has non-empty .spec.schedulingGates",
				 name);
			why = msg;
		}
		if (why)
			return error_set(err, KORCH_ECONFLICT,
					 "Operation cannot be fulfilled on pods/binding \"%s\": %s",
					 name, why);
		json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string(node));
		set_pod_condition(pod, "PodScheduled", "True", korch_clock_wall_ns(c->clock));
		struct store_op op = {
			.type = STORE_OP_UPDATE,
			.key = key,
			.obj = pod,
			.expected_revision = m.mod_revision,
		};
		korch_error *e = NULL;
		r = store_commit(c->store, &op, 1, NULL, &e);
		if (r != KORCH_ECONFLICT || attempt == 4)
			return error_propagate(err, &e, r);
		korch_error_free(e);
	}
}
