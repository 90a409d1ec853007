/*
 * podutil.h - facts derived from a pod that several subsystems need (the write path, the node
 * agent's eviction, the scheduler).
 */
#ifndef KORCH_API_PODUTIL_H
#define KORCH_API_PODUTIL_H

#include <jansson.h>

/*
 * The pod's QoS class as Kubernetes computes it (GetPodQOS) from its containers' and init
 * containers' cpu and memory requests and limits: "Guaranteed" when every container has equal
 * limits and requests for both, "BestEffort" when none has any, "Burstable" otherwise.
 * Returns a static string.
 */
const char *pod_qos_class(const json_t *pod);

#endif
