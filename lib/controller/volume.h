/*
 * volume.h - what the PersistentVolume binder (volume.c) and the local-path provisioner
 * (localpath.c) share.
 */
#ifndef KORCH_CONTROLLER_VOLUME_H
#define KORCH_CONTROLLER_VOLUME_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

/* The provisioner name of korch's built-in local-path StorageClass. */
#define LOCAL_PATH_PROVISIONER "korch.io/local-path"
/* That class's name. */
#define LOCAL_PATH_CLASS "local-path"

/* The bytes of a resource list's "storage" (0 when absent or malformed). */
int64_t storage_bytes(const json_t *list);
/* A claim's class: the beta annotation, else spec.storageClassName, else "". */
const char *claim_class(const json_t *claim);
/* A volume's class, the same way. */
const char *volume_class(const json_t *pv);
/* Whether an access mode list has mode. */
bool has_mode(const json_t *modes, const char *mode);

/* The claim a pod volume uses, "" for none: persistentVolumeClaim, or ephemeral (POD-VOLUME). */
const char *pod_volume_claim(const json_t *pod, const json_t *vol, char buf[static 600]);

/* Looks for a pod bound to a node, not terminated, that uses claim (informer_foreach fn). */
struct consumer {
	const char *claim; /* the claim's name (pods of its namespace are given) */
	const char *node;  /* out: the first such pod's node, or NULL */
};
void find_consumer(const json_t *pod, void *userdata);

#endif
