/*
 * localpath.c - korch's built-in local-path provisioner (as k3s's local-path-provisioner):
 * the StorageClass "local-path" (provisioner korch.io/local-path, the default class,
 * WaitForFirstConsumer, reclaimPolicy Delete) is installed at start when the manager has a
 * volume_dir; a claim handed to the provisioner (volume.kubernetes.io/storage-provisioner) gets
 * a directory VOLUME_DIR/pvc-UID_NS_NAME and a hostPath PersistentVolume "pvc-UID" of the
 * claim's size and access modes, pre-bound to the claim, with a node affinity to the node that
 * consumes it (the claim's volume.kubernetes.io/selected-node, which the binder sets from the
 * pod korch's scheduler bound, else such a pod's node). Released volumes of the Delete policy
 * lose their directory and are deleted. Local volumes live on one node: ReadWriteOnce and ReadWriteOncePod only.
 *
 * Events as sig-storage-lib-external-provisioner records them: Provisioning,
 * ProvisioningSucceeded, ProvisioningFailed. Work queue keys: "NS/NAME" claims, "pv:NAME" volumes, "class" the class.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"
#include "controller/volume.h"

#define PV_PREFIX "pv:"
#define CLASS_KEY "class"
#define ANN_STORAGE_PROVISIONER "volume.kubernetes.io/storage-provisioner"
#define ANN_SELECTED_NODE "volume.kubernetes.io/selected-node"
#define ANN_PROVISIONED_BY "pv.kubernetes.io/provisioned-by"

struct localpath {
	const char *dir;          /* volume_dir */
	struct informer *pvcs;    /* PersistentVolumeClaims */
	struct informer *pvs;     /* PersistentVolumes */
	struct informer *classes; /* StorageClasses */
	struct informer *pods;    /* Pods */
};

static struct localpath *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static bool
ours(const json_t *claim)
{
	return streq(json_string_value(json_object_get(jp_get(claim, "metadata.annotations"),
						       ANN_STORAGE_PROVISIONER)),
		     LOCAL_PATH_PROVISIONER);
}

static void
claim_event(const json_t *claim, void *userdata)
{
	if (ours(claim))
		ctrl_enqueue(userdata, claim);
}

static void
claim_updated(const json_t *old, const json_t *claim, void *userdata)
{
	claim_event(claim, userdata);
}

static void
pv_event(const json_t *pv, void *userdata)
{
	if (!streq(json_string_value(
			   json_object_get(jp_get(pv, "metadata.annotations"), ANN_PROVISIONED_BY)),
		   LOCAL_PATH_PROVISIONER))
		return;
	char key[300];
	snprintf(key, sizeof(key), PV_PREFIX "%s", jp_str0(pv, "metadata.name"));
	ctrl_enqueue_key(userdata, key);
}

static void
pv_updated(const json_t *old, const json_t *pv, void *userdata)
{
	pv_event(pv, userdata);
}

static int
lp_init(struct ctrl *ctl, korch_error **err)
{
	struct localpath *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->dir = cm_options(ctl->cm)->volume_dir;
	if (!s->dir)
		return 0;
	s->pvcs = cm_informer(ctl->cm, "v1", "PersistentVolumeClaim");
	s->pvs = cm_informer(ctl->cm, "v1", "PersistentVolume");
	s->classes = cm_informer(ctl->cm, "storage.k8s.io/v1", "StorageClass");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	if (!s->pvcs || !s->pvs || !s->classes || !s->pods)
		return error_oom(err);
	struct informer_handlers ch = { claim_event, claim_updated, NULL, ctl };
	struct informer_handlers vh = { pv_event, pv_updated, NULL, ctl };
	int hr;
	if ((hr = informer_add_handlers(s->pvcs, &ch, err)) < 0 ||
	    (hr = informer_add_handlers(s->pvs, &vh, err)) < 0)
		return hr;
	ctrl_enqueue_key(ctl, CLASS_KEY);
	return 0;
}

static void
lp_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

/* Installs the class when it is not there (a class the user changed or made is kept). */
static int
ensure_class(struct ctrl *ctl)
{
	if (informer_get(state(ctl)->classes, NULL, LOCAL_PATH_CLASS))
		return 0;
	_cleanup_json_ json_t *sc = json_pack(
		"{s:s, s:s, s:{s:s, s:{s:s}}, s:s, s:s, s:s}", "apiVersion", "storage.k8s.io/v1",
		"kind", "StorageClass", "metadata", "name", LOCAL_PATH_CLASS, "annotations",
		"storageclass.kubernetes.io/is-default-class", "true", "provisioner",
		LOCAL_PATH_PROVISIONER, "volumeBindingMode", "WaitForFirstConsumer",
		"reclaimPolicy", "Delete");
	korch_error *e = NULL;
	int r = cm_create(ctl, sc, NULL, &e);
	if (r == KORCH_EEXISTS) {
		korch_error_free(e);
		return 0;
	}
	return r < 0 ? ctrl_fail(ctl, CLASS_KEY, r, e) : 0;
}

static int
provision(struct ctrl *ctl, const char *key, const json_t *claim)
{
	struct localpath *s = state(ctl);
	const char *class_name = claim_class(claim);
	const json_t *cls = informer_get(s->classes, NULL, class_name);
	if (!cls || !streq(jp_str(cls, "provisioner"), LOCAL_PATH_PROVISIONER))
		return 0;
	char pv_name[300];
	snprintf(pv_name, sizeof(pv_name), "pvc-%s", jp_str0(claim, "metadata.uid"));
	if (informer_get(s->pvs, NULL, pv_name))
		return 0;
	const char *node = json_string_value(
		json_object_get(jp_get(claim, "metadata.annotations"), ANN_SELECTED_NODE));
	if (!node && streq(jp_str(cls, "volumeBindingMode"), "WaitForFirstConsumer")) {
		struct consumer c = { jp_str0(claim, "metadata.name"), NULL };
		cm_foreach_in_ns(ctl->cm, s->pods, jp_str(claim, "metadata.namespace"),
				 find_consumer, &c);
		if (!c.node)
			return 0; /* no consumer on a node yet */
		node = c.node;
	}
	const json_t *modes = jp_get(claim, "spec.accessModes");
	size_t i;
	json_t *m;
	json_array_foreach (modes, i, m)
		if (!streq(json_string_value(m), "ReadWriteOnce") &&
		    !streq(json_string_value(m), "ReadWriteOncePod")) {
			cm_event(
				ctl, claim, "Warning", "ProvisioningFailed",
				"failed to provision volume with StorageClass \"%s\": local-path "
				"volumes support only ReadWriteOnce and ReadWriteOncePod access modes",
				class_name);
			return 0;
		}
	if (jp_get(claim, "spec.selector")) {
		cm_event(ctl, claim, "Warning", "ProvisioningFailed",
			 "failed to provision volume with StorageClass \"%s\": claim.Spec.Selector "
			 "is not supported",
			 class_name);
		return 0;
	}
	const char *ns = jp_str0(claim, "metadata.namespace");
	const char *name = jp_str0(claim, "metadata.name");
	cm_event(ctl, claim, "Normal", "Provisioning",
		 "External provisioner is provisioning volume for claim \"%s/%s\"", ns, name);
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s_%s_%s", s->dir, pv_name, ns, name);
	korch_error *e = NULL;
	int r = mkdir_p(path, 0777, &e);
	if (r < 0) {
		cm_event(ctl, claim, "Warning", "ProvisioningFailed",
			 "failed to provision volume with StorageClass \"%s\": %s", class_name,
			 korch_error_message(e));
		return ctrl_fail(ctl, key, r, e);
	}
	const json_t *request = jp_get(claim, "spec.resources.requests.storage");
	const char *policy = jp_str(cls, "reclaimPolicy");
	_cleanup_json_ json_t *pv = json_pack(
		"{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:{s:o}, s:o, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, "
		"s:s, s:s}, s:{s:s, s:s}}}",
		"apiVersion", "v1", "kind", "PersistentVolume", "metadata", "name", pv_name,
		"annotations", ANN_PROVISIONED_BY, LOCAL_PATH_PROVISIONER, "spec", "capacity",
		"storage", request ? json_deep_copy(request) : json_string("0"), "accessModes",
		json_deep_copy(modes), "storageClassName", class_name,
		"persistentVolumeReclaimPolicy", policy ? policy : "Delete", "volumeMode",
		jp_str(claim, "spec.volumeMode") ? jp_str(claim, "spec.volumeMode") : "Filesystem",
		"claimRef", "apiVersion", "v1", "kind", "PersistentVolumeClaim", "namespace", ns,
		"name", name, "uid", jp_str0(claim, "metadata.uid"), "resourceVersion",
		jp_str0(claim, "metadata.resourceVersion"), "hostPath", "path", path, "type",
		"DirectoryOrCreate");
	if (!pv)
		return KORCH_ENOMEM;
	if (node)
		json_object_set_new(json_object_get(pv, "spec"), "nodeAffinity",
				    json_pack("{s:{s:[{s:[{s:s, s:s, s:[s]}]}]}}", "required",
					      "nodeSelectorTerms", "matchExpressions", "key",
					      "kubernetes.io/hostname", "operator", "In", "values",
					      node));
	r = cm_create(ctl, pv, NULL, &e);
	if (r == KORCH_EEXISTS) {
		korch_error_free(e);
		return 0;
	}
	if (r < 0) {
		cm_event(ctl, claim, "Warning", "ProvisioningFailed",
			 "failed to provision volume with StorageClass \"%s\": %s", class_name,
			 korch_error_message(e));
		return ctrl_fail(ctl, key, r, e);
	}
	cm_event(ctl, claim, "Normal", "ProvisioningSucceeded",
		 "Successfully provisioned volume %s", pv_name);
	return 0;
}

/* A Released volume of the Delete policy: its directory, then the object. */
static int
delete_volume(struct ctrl *ctl, const char *key, const json_t *pv)
{
	struct localpath *s = state(ctl);
	if (!streq(jp_str(pv, "status.phase"), "Released") ||
	    !streq(jp_str(pv, "spec.persistentVolumeReclaimPolicy"), "Delete") ||
	    jp_get(pv, "metadata.deletionTimestamp"))
		return 0;
	const char *path = jp_str0(pv, "spec.hostPath.path");
	size_t n = strlen(s->dir);
	korch_error *e = NULL;
	int r;
	/* Only what it made: a directory right under volume_dir. */
	if (strncmp(path, s->dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/') &&
	    strcmp(path + n + 1, "..") != 0 && path[n + 1] && (r = rm_rf(path, &e)) < 0) {
		cm_event(ctl, pv, "Warning", "VolumeFailedDelete", "%s", korch_error_message(e));
		return ctrl_fail(ctl, key, r, e);
	}
	r = cm_delete(ctl, K_PV, NULL, jp_str(pv, "metadata.name"), NULL, &e);
	if (r < 0 && r != KORCH_ENOTFOUND)
		return ctrl_fail(ctl, key, r, e);
	korch_error_free(e);
	return 0;
}

static int
lp_sync(struct ctrl *ctl, const char *key)
{
	struct localpath *s = state(ctl);
	if (!s->dir)
		return 0;
	if (streq(key, CLASS_KEY))
		return ensure_class(ctl);
	if (strncmp(key, PV_PREFIX, strlen(PV_PREFIX)) == 0) {
		const json_t *pv = informer_get(s->pvs, NULL, key + strlen(PV_PREFIX));
		return pv ? delete_volume(ctl, key, pv) : 0;
	}
	char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return 0;
	const json_t *claim = informer_get(s->pvcs, ns, name);
	free(ns);
	free(name);
	if (!claim || !ours(claim) || jp_get(claim, "metadata.deletionTimestamp") ||
	    *jp_str0(claim, "spec.volumeName"))
		return 0;
	return provision(ctl, key, claim);
}

const struct ctrl_ops localpath_ops = {
	.name = "local-path-provisioner",
	.component = LOCAL_PATH_PROVISIONER,
	.init = lp_init,
	.sync = lp_sync,
	.fini = lp_fini,
};
