/*
 * tolerations.c - the DefaultTolerationSeconds admission plugin of the write path
 * (plugin/pkg/admission/defaulttolerationseconds): a new pod that does not tolerate the
 * node.kubernetes.io/not-ready and node.kubernetes.io/unreachable NoExecute taints gets
 * tolerations for them with tolerationSeconds 300, so that the taint eviction controller
 * evicts it five minutes after its node is lost.
 */
#include <string.h>

#include "base/util.h"
#include "client/client-internal.h"

/* --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds. */
#define DEFAULT_TOLERATION_SECONDS 300

static bool
tolerates(const json_t *tolerations, const char *taint_key)
{
	size_t i;
	json_t *t;
	json_array_foreach (tolerations, i, t) {
		const char *key = json_string_value(json_object_get(t, "key"));
		const char *effect = json_string_value(json_object_get(t, "effect"));
		if ((!key || !*key || streq(key, taint_key)) &&
		    (!effect || !*effect || streq(effect, "NoExecute")))
			return true;
	}
	return false;
}

void
client_admit_default_tolerations(json_t *pod)
{
	static const char *const keys[] = { "node.kubernetes.io/not-ready",
					    "node.kubernetes.io/unreachable" };
	json_t *spec = json_object_get(pod, "spec");
	if (!json_is_object(spec))
		return;
	json_t *tolerations = json_object_get(spec, "tolerations");
	bool missing[2];
	for (size_t i = 0; i < 2; i++)
		missing[i] = !tolerates(tolerations, keys[i]);
	for (size_t i = 0; i < 2; i++) {
		if (!missing[i])
			continue;
		if (!json_is_array(tolerations)) {
			tolerations = json_array();
			json_object_set_new(spec, "tolerations", tolerations);
		}
		json_array_append_new(
			tolerations, json_pack("{s:s, s:s, s:s, s:I}", "key", keys[i], "operator",
					       "Exists", "effect", "NoExecute", "tolerationSeconds",
					       (json_int_t)DEFAULT_TOLERATION_SECONDS));
	}
}
