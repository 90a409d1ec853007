/*
 * volume.c - the PersistentVolume binder and the protection controllers (Kubernetes'
 * pkg/controller/volume/persistentvolume and pkg/controller/volume/{pvc,pv}protection).
 *
 * Binder: an unbound claim is bound to the volume pre-bound to it (spec.claimRef), or to the
 * smallest Available volume of its storageClassName whose access modes include the claim's
 * (volumes with fewer extra modes first), whose volumeMode matches and whose labels its
 * selector selects; a claim naming spec.volumeName binds to that volume when it satisfies the
 * claim ("VolumeMismatch" otherwise). A claim of a WaitForFirstConsumer class waits
 * ("WaitForFirstConsumer") until a pod using it is bound to a node: the binder then annotates
 * it volume.kubernetes.io/selected-node (the scheduler's part in Kubernetes, which korch's
 * scheduler leaves out) and binds it to an Available volume whose node affinity admits that
 * node, or has it provisioned there; a claim with a class and no volume asks
 * the class's provisioner (volume.kubernetes.io/storage-provisioner, "ExternalProvisioning");
 * a claim without a class and without a volume waits ("FailedBinding"). A claim created
 * without storageClassName gets the default class once one exists (retroactive default).
 * Binding writes the volume's claimRef and phase Bound, then the claim's volumeName, its
 * pv.kubernetes.io/bind-completed (and bound-by-controller) annotations and status (Bound,
 * accessModes, capacity). Phases: volumes Pending, Available, Bound, Released (their claim
 * gone), Failed; claims Pending, Bound, Lost. A Released volume is kept (Retain), deleted by its
 * provisioner (Delete, provisioned), or Failed (Delete without a provisioner, Recycle).
 *
 * Protection: a claim being deleted loses kubernetes.io/pvc-protection once no running pod uses
 * it; a volume being deleted loses kubernetes.io/pv-protection once it is not Bound.
 *
 * Work queue keys: "NS/NAME" for claims, "pv:NAME" for volumes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/nodematch.h"
#include "api/quantity.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"
#include "controller/volume.h"

/* --pvclaimbinder-sync-period: unbound claims and volumes are looked at again this often. */
#define BINDER_PERIOD (15 * NSEC_PER_SEC)
#define PV_PREFIX "pv:"

#define ANN_BIND_COMPLETED "pv.kubernetes.io/bind-completed"
#define ANN_BOUND_BY_CONTROLLER "pv.kubernetes.io/bound-by-controller"
#define ANN_STORAGE_PROVISIONER "volume.kubernetes.io/storage-provisioner"
#define ANN_BETA_STORAGE_PROVISIONER "volume.beta.kubernetes.io/storage-provisioner"
#define ANN_SELECTED_NODE "volume.kubernetes.io/selected-node"
#define ANN_PROVISIONED_BY "pv.kubernetes.io/provisioned-by"
#define ANN_DEFAULT_CLASS "storageclass.kubernetes.io/is-default-class"

struct binder {
	struct informer *pvs;     /* PersistentVolumes */
	struct informer *pvcs;    /* PersistentVolumeClaims */
	struct informer *classes; /* StorageClasses */
	struct informer *pods;    /* Pods: the first consumers of WaitForFirstConsumer claims */
	struct informer *nodes;   /* Nodes: volumes' node affinity */
};

static struct binder *
state(struct ctrl *ctl)
{
	return ctl->data;
}

/* ---- shared helpers (volume.h) ---- */

int64_t
storage_bytes(const json_t *list)
{
	struct quantity q;
	const json_t *v = json_object_get(list, "storage");
	if (!v || quantity_from_json(v, &q, NULL) < 0)
		return 0;
	return quantity_value(&q);
}

const char *
claim_class(const json_t *claim)
{
	const json_t *ann = jp_get(claim, "metadata.annotations");
	const char *b =
		json_string_value(json_object_get(ann, "volume.beta.kubernetes.io/storage-class"));
	if (b)
		return b;
	return jp_str0(claim, "spec.storageClassName");
}

const char *
volume_class(const json_t *pv)
{
	const json_t *ann = jp_get(pv, "metadata.annotations");
	const char *b =
		json_string_value(json_object_get(ann, "volume.beta.kubernetes.io/storage-class"));
	if (b)
		return b;
	return jp_str0(pv, "spec.storageClassName");
}

bool
has_mode(const json_t *modes, const char *mode)
{
	size_t i;
	json_t *m;
	json_array_foreach (modes, i, m)
		if (streq(json_string_value(m), mode))
			return true;
	return false;
}

/* CheckAccessModes: every mode the claim asks for is one the volume has. */
static bool
modes_cover(const json_t *pv, const json_t *claim)
{
	size_t i;
	json_t *m;
	json_array_foreach (jp_get(claim, "spec.accessModes"), i, m)
		if (!has_mode(jp_get(pv, "spec.accessModes"), json_string_value(m)))
			return false;
	return true;
}

static const char *
volume_mode(const json_t *obj)
{
	const char *m = jp_str(obj, "spec.volumeMode");
	return m ? m : "Filesystem";
}

/* IsVolumeBoundToClaim. */
static bool
bound_to(const json_t *pv, const json_t *claim)
{
	const json_t *ref = jp_get(pv, "spec.claimRef");
	if (!ref || !streq(jp_str(ref, "name"), jp_str(claim, "metadata.name")) ||
	    !streq(jp_str(ref, "namespace"), jp_str(claim, "metadata.namespace")))
		return false;
	const char *uid = jp_str0(ref, "uid");
	return !*uid || streq(uid, jp_str(claim, "metadata.uid"));
}

static bool
has_annotation(const json_t *obj, const char *key)
{
	return json_object_get(jp_get(obj, "metadata.annotations"), key) != NULL;
}

static void
set_annotation(json_t *obj, const char *key, const char *value)
{
	json_object_set_new(jp_obj(jp_obj(obj, "metadata"), "annotations"), key,
			    json_string(value));
}

/* The claim a pod volume uses ("" for none): a claim, or a generic ephemeral volume's. */
const char *
pod_volume_claim(const json_t *pod, const json_t *vol, char buf[static 600])
{
	const char *claim = jp_str(vol, "persistentVolumeClaim.claimName");
	if (claim)
		return claim;
	if (jp_get(vol, "ephemeral")) {
		snprintf(buf, 600, "%s-%s", jp_str0(pod, "metadata.name"), jp_str0(vol, "name"));
		return buf;
	}
	return "";
}

void
find_consumer(const json_t *pod, void *userdata)
{
	struct consumer *c = userdata;
	const char *node = jp_str0(pod, "spec.nodeName");
	const char *phase = jp_str0(pod, "status.phase");
	if (c->node || !*node || streq(phase, "Succeeded") || streq(phase, "Failed"))
		return;
	size_t i;
	json_t *vol;
	json_array_foreach (jp_get(pod, "spec.volumes"), i, vol) {
		char buf[600];
		if (streq(pod_volume_claim(pod, vol, buf), c->claim)) {
			c->node = node;
			return;
		}
	}
}

/* ---- handlers ---- */

static void
enqueue_pv(struct ctrl *ctl, const char *name)
{
	char key[300];
	snprintf(key, sizeof(key), PV_PREFIX "%s", name);
	ctrl_enqueue_key(ctl, key);
}

static void
enqueue_claim_of(struct ctrl *ctl, const json_t *pv)
{
	const json_t *ref = jp_get(pv, "spec.claimRef");
	if (!ref)
		return;
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", jp_str0(ref, "namespace"), jp_str0(ref, "name"));
	ctrl_enqueue_key(ctl, key);
}

static void enqueue_unbound(const json_t *claim, void *userdata);

static void
pv_event(const json_t *pv, void *userdata)
{
	enqueue_pv(userdata, jp_str0(pv, "metadata.name"));
	enqueue_claim_of(userdata, pv);
}

/* A volume that became Available may be what pending claims wait for. */
static void
pv_updated(const json_t *old, const json_t *pv, void *userdata)
{
	struct ctrl *ctl = userdata;
	pv_event(pv, userdata);
	if (streq(jp_str(pv, "status.phase"), "Available") &&
	    !streq(jp_str(old, "status.phase"), "Available"))
		informer_foreach(state(ctl)->pvcs, enqueue_unbound, ctl);
}

static void
pvc_event(const json_t *claim, void *userdata)
{
	ctrl_enqueue(userdata, claim);
	const char *volume = jp_str0(claim, "spec.volumeName");
	if (*volume)
		enqueue_pv(userdata, volume);
}

static void
pvc_updated(const json_t *old, const json_t *claim, void *userdata)
{
	pvc_event(claim, userdata);
}

static void
enqueue_unbound(const json_t *claim, void *userdata)
{
	if (!streq(jp_str(claim, "status.phase"), "Bound"))
		ctrl_enqueue(userdata, claim);
}

static void
class_event(const json_t *sc, void *userdata)
{
	struct ctrl *ctl = userdata;
	informer_foreach(state(ctl)->pvcs, enqueue_unbound, ctl);
}

static void
class_updated(const json_t *old, const json_t *sc, void *userdata)
{
	class_event(sc, userdata);
}

/* A pod bound to a node: its claims may be waiting for their first consumer. */
static void
pod_updated(const json_t *old, const json_t *pod, void *userdata)
{
	if (!*jp_str0(pod, "spec.nodeName") || (old && *jp_str0(old, "spec.nodeName")))
		return;
	size_t i;
	json_t *vol;
	json_array_foreach (jp_get(pod, "spec.volumes"), i, vol) {
		char buf[600], key[900];
		const char *claim = pod_volume_claim(pod, vol, buf);
		if (!*claim)
			continue;
		snprintf(key, sizeof(key), "%s/%s", jp_str0(pod, "metadata.namespace"), claim);
		ctrl_enqueue_key(userdata, key);
	}
}

static void
pod_added(const json_t *pod, void *userdata)
{
	pod_updated(NULL, pod, userdata);
}

static int
binder_init(struct ctrl *ctl, korch_error **err)
{
	struct binder *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->pvs = cm_informer(ctl->cm, "v1", "PersistentVolume");
	s->pvcs = cm_informer(ctl->cm, "v1", "PersistentVolumeClaim");
	s->classes = cm_informer(ctl->cm, "storage.k8s.io/v1", "StorageClass");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	s->nodes = cm_informer(ctl->cm, "v1", "Node");
	if (!s->pvs || !s->pvcs || !s->classes || !s->pods || !s->nodes)
		return error_oom(err);
	struct informer_handlers vh = { pv_event, pv_updated, pv_event, ctl };
	struct informer_handlers ch = { pvc_event, pvc_updated, pvc_event, ctl };
	struct informer_handlers sh = { class_event, class_updated, NULL, ctl };
	struct informer_handlers ph = { pod_added, pod_updated, NULL, ctl };
	int hr;
	if ((hr = informer_add_handlers(s->pvs, &vh, err)) < 0 ||
	    (hr = informer_add_handlers(s->pvcs, &ch, err)) < 0 ||
	    (hr = informer_add_handlers(s->classes, &sh, err)) < 0 ||
	    (hr = informer_add_handlers(s->pods, &ph, err)) < 0)
		return hr;
	return 0;
}

static void
binder_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

/* ---- phases ---- */

static int
volume_phase(struct ctrl *ctl, const json_t *pv, const char *phase, const char *message,
	     json_t **ret)
{
	if (ret)
		*ret = NULL;
	if (streq(jp_str(pv, "status.phase"), phase) &&
	    streq(jp_str0(pv, "status.message"), message ? message : ""))
		return 0;
	_cleanup_json_ json_t *copy = json_deep_copy(pv);
	json_t *status = jp_obj(copy, "status");
	json_object_set_new(status, "phase", json_string(phase));
	if (message && *message)
		json_object_set_new(status, "message", json_string(message));
	else
		json_object_del(status, "message");
	char now[32];
	json_object_set_new(status, "lastPhaseTransitionTime",
			    json_string(time_text(cm_wall(ctl->cm), now)));
	korch_error *e = NULL;
	int r = cm_update(ctl, copy, "status", ret, &e);
	if (r < 0)
		return ctrl_fail(ctl, jp_str0(pv, "metadata.name"), r, e);
	return 0;
}

/* updateClaimStatus: the phase, and for Bound the volume's access modes and capacity. */
static int
claim_phase(struct ctrl *ctl, const json_t *claim, const char *phase, const json_t *pv)
{
	_cleanup_json_ json_t *copy = json_deep_copy(claim);
	json_t *status = jp_obj(copy, "status");
	bool changed = jp_set(status, "phase", json_string(phase));
	if (pv) {
		const json_t *modes = jp_get(pv, "spec.accessModes");
		const json_t *cap = jp_get(pv, "spec.capacity");
		changed |=
			jp_set(status, "accessModes", modes ? json_deep_copy(modes) : json_array());
		changed |= jp_set(status, "capacity", cap ? json_deep_copy(cap) : json_object());
	} else if (streq(phase, "Pending")) {
		changed |= json_object_del(status, "accessModes") == 0;
		changed |= json_object_del(status, "capacity") == 0;
	}
	if (!changed)
		return 0;
	korch_error *e = NULL;
	int r = cm_update(ctl, copy, "status", NULL, &e);
	if (r < 0)
		return ctrl_fail(ctl, jp_str0(claim, "metadata.name"), r, e);
	return 0;
}

/* ---- binding ---- */

/*
 * bind(): the volume's claimRef (and phase Bound), then the claim's volumeName, annotations
 * and status; each step only when it is not done yet.
 */
static int
bind(struct ctrl *ctl, const json_t *pv_in, const json_t *claim_in)
{
	korch_error *e = NULL;
	int r;
	_cleanup_json_ json_t *pv = json_deep_copy(pv_in);
	const json_t *ref = jp_get(pv, "spec.claimRef");
	const char *uid = jp_str0(claim_in, "metadata.uid");
	if (!ref || !streq(jp_str(ref, "uid"), uid) ||
	    !streq(jp_str(ref, "name"), jp_str(claim_in, "metadata.name")) ||
	    !streq(jp_str(ref, "namespace"), jp_str(claim_in, "metadata.namespace"))) {
		if (!ref)
			set_annotation(pv, ANN_BOUND_BY_CONTROLLER, "yes");
		json_object_set_new(jp_obj(pv, "spec"), "claimRef",
				    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind",
					      "PersistentVolumeClaim", "namespace",
					      jp_str0(claim_in, "metadata.namespace"), "name",
					      jp_str0(claim_in, "metadata.name"), "uid", uid,
					      "apiVersion", "v1", "resourceVersion",
					      jp_str0(claim_in, "metadata.resourceVersion")));
		json_t *stored = NULL;
		if ((r = cm_update(ctl, pv, NULL, &stored, &e)) < 0)
			return ctrl_fail(ctl, jp_str0(pv, "metadata.name"), r, e);
		json_decref(pv);
		pv = stored;
	}
	json_t *stored = NULL;
	if ((r = volume_phase(ctl, pv, "Bound", NULL, &stored)) < 0)
		return r;
	if (stored) {
		json_decref(pv);
		pv = stored;
	}
	_cleanup_json_ json_t *claim = json_deep_copy(claim_in);
	const char *name = jp_str0(pv, "metadata.name");
	bool changed = false;
	if (!streq(jp_str0(claim, "spec.volumeName"), name)) {
		json_object_set_new(jp_obj(claim, "spec"), "volumeName", json_string(name));
		set_annotation(claim, ANN_BOUND_BY_CONTROLLER, "yes");
		changed = true;
	}
	if (!streq(json_string_value(json_object_get(jp_get(claim, "metadata.annotations"),
						     ANN_BIND_COMPLETED)),
		   "yes")) {
		set_annotation(claim, ANN_BIND_COMPLETED, "yes");
		changed = true;
	}
	if (changed) {
		json_t *st = NULL;
		if ((r = cm_update(ctl, claim, NULL, &st, &e)) < 0)
			return ctrl_fail(ctl, jp_str0(claim, "metadata.name"), r, e);
		json_decref(claim);
		claim = st;
	}
	return claim_phase(ctl, claim, "Bound", pv);
}

struct candidates {
	const json_t *claim;
	bool delay;
	const json_t *prebound;     /* a volume bound to the claim */
	const json_t *best;         /* the smallest match so far */
	size_t best_modes;          /* its number of access modes */
	int64_t best_bytes;         /* its capacity */
	struct label_selector *sel; /* the claim's selector, or NULL */
	int64_t request;            /* bytes asked for */
	const json_t *node;         /* the selected node of a delayed claim, or NULL */
};

/* findBestMatchForClaim over one volume. */
static void
consider(const json_t *pv, void *userdata)
{
	struct candidates *c = userdata;
	if (c->prebound)
		return;
	const json_t *claim = c->claim;
	if (jp_get(pv, "spec.claimRef") && !bound_to(pv, claim))
		return;
	int64_t bytes = storage_bytes(jp_get(pv, "spec.capacity"));
	if (bytes < c->request)
		return;
	if (!streq(volume_mode(pv), volume_mode(claim)))
		return;
	if (jp_get(pv, "metadata.deletionTimestamp"))
		return;
	if (!modes_cover(pv, claim))
		return;
	const json_t *affinity = jp_get(pv, "spec.nodeAffinity.required");
	bool node_ok = !c->node || !affinity || node_selector_matches(affinity, c->node);
	if (bound_to(pv, claim)) {
		if (node_ok)
			c->prebound = pv;
		return;
	}
	if (c->delay && !c->node)
		return;
	if (!node_ok)
		return;
	if (!streq(jp_str(pv, "status.phase"), "Available"))
		return;
	if (c->sel && !selects(c->sel, pv))
		return;
	if (!streq(volume_class(pv), claim_class(claim)))
		return;
	size_t modes = json_array_size(jp_get(pv, "spec.accessModes"));
	if (c->best &&
	    (modes > c->best_modes || (modes == c->best_modes && bytes >= c->best_bytes)))
		return;
	c->best = pv;
	c->best_modes = modes;
	c->best_bytes = bytes;
}

/* checkVolumeSatisfyClaim: NULL, or why not. */
static const char *
unsatisfied(const json_t *pv, const json_t *claim)
{
	if (storage_bytes(jp_get(claim, "spec.resources.requests")) >
	    storage_bytes(jp_get(pv, "spec.capacity")))
		return "requested PV is too small";
	if (!streq(volume_class(pv), claim_class(claim)))
		return "storageClassName does not match";
	if (!streq(volume_mode(pv), volume_mode(claim)))
		return "incompatible volumeMode";
	if (!modes_cover(pv, claim))
		return "incompatible accessMode";
	return NULL;
}

static const json_t *
class_of(struct binder *s, const json_t *claim)
{
	const char *name = claim_class(claim);
	return *name ? informer_get(s->classes, NULL, name) : NULL;
}

/* The default StorageClass of the cache (newest, then by name), or NULL. */
struct default_class {
	const json_t *best;
};

static void
pick_default(const json_t *sc, void *userdata)
{
	struct default_class *d = userdata;
	const json_t *ann = jp_get(sc, "metadata.annotations");
	if (!streq(json_string_value(json_object_get(ann, ANN_DEFAULT_CLASS)), "true") &&
	    !streq(json_string_value(json_object_get(
			   ann, "storageclass.beta.kubernetes.io/is-default-class")),
		   "true"))
		return;
	if (d->best) {
		int t = strcmp(jp_str0(sc, "metadata.creationTimestamp"),
			       jp_str0(d->best, "metadata.creationTimestamp"));
		if (t < 0 || (t == 0 && strcmp(jp_str0(sc, "metadata.name"),
					       jp_str0(d->best, "metadata.name")) > 0))
			return;
	}
	d->best = sc;
}

static int
sync_unbound(struct ctrl *ctl, const char *key, const json_t *claim)
{
	struct binder *s = state(ctl);
	korch_error *e = NULL;
	int r;
	const char *volume_name = jp_str0(claim, "spec.volumeName");
	if (!*volume_name) {
		/* Retroactive default class for a claim created before there was one. */
		const json_t *scn = jp_get(claim, "spec.storageClassName");
		if ((!scn || json_is_null(scn)) &&
		    !has_annotation(claim, "volume.beta.kubernetes.io/storage-class")) {
			struct default_class d = { NULL };
			informer_foreach(s->classes, pick_default, &d);
			if (d.best) {
				_cleanup_json_ json_t *copy = json_deep_copy(claim);
				json_object_set_new(jp_obj(copy, "spec"), "storageClassName",
						    json_string(jp_str0(d.best, "metadata.name")));
				if ((r = cm_update(ctl, copy, NULL, NULL, &e)) < 0)
					return ctrl_fail(ctl, key, r, e);
				return 0;
			}
		}
		const json_t *cls = class_of(s, claim);
		bool delay = cls && streq(jp_str(cls, "volumeBindingMode"), "WaitForFirstConsumer");
		const char *selected = json_string_value(
			json_object_get(jp_get(claim, "metadata.annotations"), ANN_SELECTED_NODE));
		if (delay && !selected) {
			/*
			 * korch's scheduler binds a pod with a delayed claim without annotating
			 * the claim: its node is what the scheduler would have selected.
			 */
			struct consumer u = { jp_str0(claim, "metadata.name"), NULL };
			cm_foreach_in_ns(ctl->cm, s->pods, jp_str(claim, "metadata.namespace"),
					 find_consumer, &u);
			if (u.node) {
				_cleanup_json_ json_t *copy = json_deep_copy(claim);
				set_annotation(copy, ANN_SELECTED_NODE, u.node);
				if ((r = cm_update(ctl, copy, NULL, NULL, &e)) < 0)
					return ctrl_fail(ctl, key, r, e);
				return 0;
			}
		}
		struct candidates c = { .claim = claim, .delay = delay };
		if (delay && selected)
			c.node = informer_get(s->nodes, NULL, selected);
		c.request = storage_bytes(jp_get(claim, "spec.resources.requests"));
		if (jp_get(claim, "spec.selector") &&
		    workload_selector(claim, false, &c.sel, NULL) < 0)
			c.sel = NULL;
		informer_foreach(s->pvs, consider, &c);
		label_selector_free(c.sel);
		const json_t *pv = c.prebound ? c.prebound : c.best;
		if (pv)
			return bind(ctl, pv, claim);
		if (delay && !has_annotation(claim, ANN_SELECTED_NODE) &&
		    !has_annotation(claim, ANN_STORAGE_PROVISIONER)) {
			cm_event(ctl, claim, "Normal", "WaitForFirstConsumer",
				 "waiting for first consumer to be created before binding");
		} else if (*claim_class(claim)) {
			/* provisionClaim: hand it to the class's provisioner. */
			if (!cls) {
				cm_event(ctl, claim, "Warning", "ProvisioningFailed",
					 "storageclass.storage.k8s.io \"%s\" not found",
					 claim_class(claim));
			} else {
				const char *prov = jp_str0(cls, "provisioner");
				if (!streq(json_string_value(json_object_get(
						   jp_get(claim, "metadata.annotations"),
						   ANN_STORAGE_PROVISIONER)),
					   prov)) {
					_cleanup_json_ json_t *copy = json_deep_copy(claim);
					set_annotation(copy, ANN_STORAGE_PROVISIONER, prov);
					set_annotation(copy, ANN_BETA_STORAGE_PROVISIONER, prov);
					if ((r = cm_update(ctl, copy, NULL, NULL, &e)) < 0)
						return ctrl_fail(ctl, key, r, e);
				}
				cm_event(
					ctl, claim, "Normal", "ExternalProvisioning",
					"Waiting for a volume to be created either by the external "
					"provisioner '%s' or manually by the system administrator. "
					"If volume creation is delayed, please verify that the "
					"provisioner is running and correctly registered.",
					prov);
			}
		} else {
			cm_event(ctl, claim, "Normal", "FailedBinding",
				 "no persistent volumes available for this claim and no storage "
				 "class is set");
		}
		ctrl_enqueue_after(ctl, key, BINDER_PERIOD);
		return claim_phase(ctl, claim, "Pending", NULL);
	}
	/* The user asked for a volume by name. */
	const json_t *pv = informer_get(s->pvs, NULL, volume_name);
	if (!pv) {
		ctrl_enqueue_after(ctl, key, BINDER_PERIOD);
		return claim_phase(ctl, claim, "Pending", NULL);
	}
	if (!jp_get(pv, "spec.claimRef")) {
		const char *why = unsatisfied(pv, claim);
		if (why) {
			cm_event(ctl, claim, "Warning", "VolumeMismatch",
				 "Cannot bind to requested volume \"%s\": %s", volume_name, why);
			ctrl_enqueue_after(ctl, key, BINDER_PERIOD);
			return claim_phase(ctl, claim, "Pending", NULL);
		}
		return bind(ctl, pv, claim);
	}
	if (bound_to(pv, claim))
		return bind(ctl, pv, claim);
	ctrl_enqueue_after(ctl, key, BINDER_PERIOD);
	return claim_phase(ctl, claim, "Pending", NULL);
}

static int
claim_lost(struct ctrl *ctl, const json_t *claim, const char *type, const char *reason,
	   const char *message)
{
	if (streq(jp_str(claim, "status.phase"), "Lost"))
		return 0;
	cm_event(ctl, claim, type, reason, "%s", message);
	return claim_phase(ctl, claim, "Lost", NULL);
}

static int
sync_bound(struct ctrl *ctl, const json_t *claim)
{
	struct binder *s = state(ctl);
	const char *volume_name = jp_str0(claim, "spec.volumeName");
	if (!*volume_name)
		return claim_lost(ctl, claim, "Warning", "ClaimLost",
				  "Bound claim has lost reference to PersistentVolume. Data on the "
				  "volume is lost!");
	const json_t *pv = informer_get(s->pvs, NULL, volume_name);
	if (!pv)
		return claim_lost(
			ctl, claim, "Warning", "ClaimLost",
			"Bound claim has lost its PersistentVolume. Data on the volume is "
			"lost!");
	if (!jp_get(pv, "spec.claimRef") ||
	    streq(jp_str(pv, "spec.claimRef.uid"), jp_str(claim, "metadata.uid")))
		return bind(ctl, pv, claim);
	return claim_lost(ctl, claim, "Warning", "ClaimMisbound",
			  "Two claims are bound to the same volume, this one is bound incorrectly");
}

static int
sync_claim(struct ctrl *ctl, const char *key)
{
	char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return 0;
	const json_t *claim = informer_get(state(ctl)->pvcs, ns, name);
	free(ns);
	free(name);
	if (!claim)
		return 0;
	if (!has_annotation(claim, ANN_BIND_COMPLETED))
		return sync_unbound(ctl, key, claim);
	return sync_bound(ctl, claim);
}

/* reclaimVolume for a Released volume. */
static int
reclaim(struct ctrl *ctl, const json_t *pv)
{
	const char *policy = jp_str0(pv, "spec.persistentVolumeReclaimPolicy");
	const char *name = jp_str0(pv, "metadata.name");
	if (streq(policy, "Retain") || !*policy)
		return 0;
	if (streq(policy, "Delete")) {
		const char *by = json_string_value(
			json_object_get(jp_get(pv, "metadata.annotations"), ANN_PROVISIONED_BY));
		if (by && streq(by, LOCAL_PATH_PROVISIONER))
			return 0; /* the provisioner deletes what it made */
		char msg[600];
		snprintf(msg, sizeof(msg),
			 "error getting deleter volume plugin for volume \"%s\": no deletable "
			 "volume plugin matched",
			 name);
		if (!streq(jp_str(pv, "status.phase"), "Failed"))
			cm_event(ctl, pv, "Warning", "VolumeFailedDelete", "%s", msg);
		return volume_phase(ctl, pv, "Failed", msg, NULL);
	}
	const char *msg = "No recycler plugin found for the volume!";
	if (!streq(jp_str(pv, "status.phase"), "Failed"))
		cm_event(ctl, pv, "Warning", "VolumeFailedRecycle", "%s", msg);
	return volume_phase(ctl, pv, "Failed", msg, NULL);
}

static int
sync_volume(struct ctrl *ctl, const char *name)
{
	struct binder *s = state(ctl);
	const json_t *pv = informer_get(s->pvs, NULL, name);
	if (!pv)
		return 0;
	const json_t *ref = jp_get(pv, "spec.claimRef");
	if (!ref || !*jp_str0(ref, "uid"))
		return volume_phase(ctl, pv, "Available", NULL, NULL);
	const json_t *claim = informer_get(s->pvcs, jp_str(ref, "namespace"), jp_str(ref, "name"));
	if (claim && !streq(jp_str(claim, "metadata.uid"), jp_str(ref, "uid")))
		claim = NULL;
	if (!claim) {
		/* Not in the cache: the store has the last word before a volume is released. */
		_cleanup_json_ json_t *live = NULL;
		korch_error *e = NULL;
		int r = client_get(cm_client(ctl->cm), K_PVC, jp_str(ref, "namespace"),
				   jp_str(ref, "name"), &live, &e);
		korch_error_free(e);
		if (r == 0 && streq(jp_str(live, "metadata.uid"), jp_str(ref, "uid")))
			return 0; /* the cache is late */
		if (r < 0 && r != KORCH_ENOTFOUND)
			return r;
		json_t *stored = NULL;
		if (!streq(jp_str(pv, "status.phase"), "Released") &&
		    !streq(jp_str(pv, "status.phase"), "Failed")) {
			if ((r = volume_phase(ctl, pv, "Released", NULL, &stored)) < 0)
				return r;
		}
		r = reclaim(ctl, stored ? stored : pv);
		json_decref(stored);
		return r;
	}
	const char *claim_volume = jp_str0(claim, "spec.volumeName");
	if (!*claim_volume) {
		_cleanup_free_ char *key = object_key(claim);
		ctrl_enqueue_key(ctl, key);
		return 0;
	}
	if (streq(claim_volume, name))
		return volume_phase(ctl, pv, "Bound", NULL, NULL);
	/* The claim is bound to another volume. */
	if (has_annotation(pv, ANN_PROVISIONED_BY) &&
	    streq(jp_str(pv, "spec.persistentVolumeReclaimPolicy"), "Delete")) {
		json_t *stored = NULL;
		int r = 0;
		if (!streq(jp_str(pv, "status.phase"), "Released") &&
		    !streq(jp_str(pv, "status.phase"), "Failed") &&
		    (r = volume_phase(ctl, pv, "Released", NULL, &stored)) < 0)
			return r;
		r = reclaim(ctl, stored ? stored : pv);
		json_decref(stored);
		return r;
	}
	if (has_annotation(pv, ANN_BOUND_BY_CONTROLLER)) {
		/* unbindVolume: we bound it; the claim went elsewhere. */
		_cleanup_json_ json_t *copy = json_deep_copy(pv);
		json_object_del(jp_obj(copy, "spec"), "claimRef");
		json_object_del(jp_obj(jp_obj(copy, "metadata"), "annotations"),
				ANN_BOUND_BY_CONTROLLER);
		korch_error *e = NULL;
		json_t *stored = NULL;
		int r = cm_update(ctl, copy, NULL, &stored, &e);
		if (r < 0)
			return ctrl_fail(ctl, name, r, e);
		r = volume_phase(ctl, stored, "Available", NULL, NULL);
		json_decref(stored);
		return r;
	}
	return 0;
}

static int
binder_sync(struct ctrl *ctl, const char *key)
{
	if (strncmp(key, PV_PREFIX, strlen(PV_PREFIX)) == 0)
		return sync_volume(ctl, key + strlen(PV_PREFIX));
	return sync_claim(ctl, key);
}

const struct ctrl_ops pvbinder_ops = {
	.name = "persistentvolume-binder",
	.component = "persistentvolume-controller",
	.init = binder_init,
	.sync = binder_sync,
	.fini = binder_fini,
};

/* ---- protection ---- */

#define PVC_PROTECTION "kubernetes.io/pvc-protection"
#define PV_PROTECTION "kubernetes.io/pv-protection"

struct protection {
	struct informer *pvcs; /* PersistentVolumeClaims */
	struct informer *pvs;  /* PersistentVolumes */
	struct informer *pods; /* Pods */
};

static bool
has_finalizer(const json_t *obj, const char *name)
{
	return has_mode(jp_get(obj, "metadata.finalizers"), name);
}

static void
pod_claims_changed(const json_t *pod, void *userdata)
{
	struct ctrl *ctl = userdata;
	size_t i;
	json_t *vol;
	json_array_foreach (jp_get(pod, "spec.volumes"), i, vol) {
		char buf[600];
		const char *claim = pod_volume_claim(pod, vol, buf);
		if (!*claim)
			continue;
		char key[900];
		snprintf(key, sizeof(key), "%s/%s", jp_str0(pod, "metadata.namespace"), claim);
		ctrl_enqueue_key(ctl, key);
	}
}

static void
protection_pod_updated(const json_t *old, const json_t *pod, void *userdata)
{
	if (!streq(jp_str(old, "status.phase"), jp_str(pod, "status.phase")))
		pod_claims_changed(pod, userdata);
}

static void
protected_event(const json_t *obj, void *userdata)
{
	if (jp_get(obj, "metadata.deletionTimestamp"))
		ctrl_enqueue(userdata, obj);
}

static void
protected_updated(const json_t *old, const json_t *obj, void *userdata)
{
	protected_event(obj, userdata);
}

static void
pv_protected_event(const json_t *pv, void *userdata)
{
	if (jp_get(pv, "metadata.deletionTimestamp"))
		enqueue_pv(userdata, jp_str0(pv, "metadata.name"));
}

static void
pv_protected_updated(const json_t *old, const json_t *pv, void *userdata)
{
	pv_protected_event(pv, userdata);
}

static int
protection_init(struct ctrl *ctl, korch_error **err)
{
	struct protection *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->pvcs = cm_informer(ctl->cm, "v1", "PersistentVolumeClaim");
	s->pvs = cm_informer(ctl->cm, "v1", "PersistentVolume");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	if (!s->pvcs || !s->pvs || !s->pods)
		return error_oom(err);
	struct informer_handlers ch = { protected_event, protected_updated, NULL, ctl };
	struct informer_handlers vh = { pv_protected_event, pv_protected_updated, NULL, ctl };
	struct informer_handlers ph = { NULL, protection_pod_updated, pod_claims_changed, ctl };
	int hr;
	if ((hr = informer_add_handlers(s->pvcs, &ch, err)) < 0 ||
	    (hr = informer_add_handlers(s->pvs, &vh, err)) < 0 ||
	    (hr = informer_add_handlers(s->pods, &ph, err)) < 0)
		return hr;
	return 0;
}

static void
protection_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

struct in_use {
	const char *claim;
	bool used;
};

/* podUsesPVC for a pod that is not terminated. */
static void
check_use(const json_t *pod, void *userdata)
{
	struct in_use *u = userdata;
	const char *phase = jp_str0(pod, "status.phase");
	if (u->used || streq(phase, "Succeeded") || streq(phase, "Failed"))
		return;
	size_t i;
	json_t *vol;
	json_array_foreach (jp_get(pod, "spec.volumes"), i, vol) {
		char buf[600];
		if (streq(pod_volume_claim(pod, vol, buf), u->claim)) {
			u->used = true;
			return;
		}
	}
}

static int
drop_finalizer(struct ctrl *ctl, const json_t *obj, const char *finalizer, const char *key)
{
	_cleanup_json_ json_t *copy = json_deep_copy(obj);
	json_t *list = json_object_get(json_object_get(copy, "metadata"), "finalizers");
	size_t i;
	json_t *f;
	json_array_foreach (list, i, f)
		if (streq(json_string_value(f), finalizer)) {
			json_array_remove(list, i);
			break;
		}
	korch_error *e = NULL;
	int r = cm_update(ctl, copy, NULL, NULL, &e);
	return ctrl_sync_end(ctl, key, r, e);
}

static int
protection_sync(struct ctrl *ctl, const char *key)
{
	struct protection *s = ctl->data;
	if (strncmp(key, PV_PREFIX, strlen(PV_PREFIX)) == 0) {
		const json_t *pv = informer_get(s->pvs, NULL, key + strlen(PV_PREFIX));
		if (!pv || !jp_get(pv, "metadata.deletionTimestamp") ||
		    !has_finalizer(pv, PV_PROTECTION) || streq(jp_str(pv, "status.phase"), "Bound"))
			return 0;
		return drop_finalizer(ctl, pv, PV_PROTECTION, key);
	}
	char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return 0;
	const json_t *claim = informer_get(s->pvcs, ns, name);
	int r = 0;
	if (claim && jp_get(claim, "metadata.deletionTimestamp") &&
	    has_finalizer(claim, PVC_PROTECTION)) {
		struct in_use u = { name, false };
		cm_foreach_in_ns(ctl->cm, s->pods, ns, check_use, &u);
		if (!u.used)
			r = drop_finalizer(ctl, claim, PVC_PROTECTION, key);
	}
	free(ns);
	free(name);
	return r;
}

const struct ctrl_ops volumeprotection_ops = {
	.name = "volume-protection",
	.component = "pvc-protection-controller",
	.init = protection_init,
	.sync = protection_sync,
	.fini = protection_fini,
};
