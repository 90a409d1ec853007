/*
 * nodematch.h - whether a pod may run on a node as Kubernetes' component-helpers decide it:
 * tolerations against taints (ToleratesTaint) and required node affinity with the nodeSelector
 * (GetRequiredNodeAffinity(pod).Match(node)). For the DaemonSet and node lifecycle controllers.
 */
#ifndef KORCH_API_NODEMATCH_H
#define KORCH_API_NODEMATCH_H

#include <stdbool.h>
#include <jansson.h>

/*
 * Whether toleration tolerates taint: the effects match (an empty effect tolerates every
 * effect), the keys match (an empty key matches every key: validation allows it with Exists
 * only), and the value matches (operator Exists, or Equal with the same value; an empty operator
 * is Equal). Exactly v1.Toleration.ToleratesTaint.
 */
bool toleration_tolerates(const json_t *toleration, const json_t *taint);

/*
 * The first taint of taints (an array, may be NULL) that filter accepts (NULL: every taint) and
 * no toleration of tolerations tolerates, or NULL.
 */
const json_t *untolerated_taint(const json_t *taints, const json_t *tolerations,
				bool (*filter)(const json_t *taint));

/*
 * Whether node matches a NodeSelector ({"nodeSelectorTerms": [...]}): any term whose
 * matchExpressions (on labels: In, NotIn, Exists, DoesNotExist, Gt, Lt) and matchFields (on
 * metadata.name: In, NotIn) all hold. A selector without terms matches nothing.
 */
bool node_selector_matches(const json_t *selector, const json_t *node);

/*
 * Whether node satisfies the pod's spec.nodeSelector and its required node affinity
 * (requiredDuringSchedulingIgnoredDuringExecution).
 */
bool pod_node_affinity_matches(const json_t *pod, const json_t *node);

#endif
