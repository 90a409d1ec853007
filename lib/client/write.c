/*
 * write.c - the write path: every create, update, patch, apply and delete is worked out here
 * into a plan (the object to store, against which revision), then committed to the store.
 *
 * Steps for an object, in Kubernetes' order: kind, unknown fields and JSON types (schema_check),
 * fields korch refuses, defaults, validation (create or update rules), admission (the namespace
 * exists and is not terminating), server-owned metadata (uid, timestamps, generation, status on
 * create), managedFields, and a no-op check so that an update changing nothing writes nothing.
 * Admission: the Priority plugin (admission.c) before validation, the namespace after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nettle/base64.h>
#include <uuid/uuid.h>

#include "api/apply.h"
#include "api/patch.h"
#include "api/podutil.h"
#include "api/validate.h"
#include "base/error.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/util.h"
#include "client/client-internal.h"

/* Kubernetes retries a patch this often when another writer got in between. */
#define PATCH_RETRIES 5

static const char *
meta_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static json_t *
meta_of(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	return meta;
}

void
client_plan_clear(struct client_plan *p)
{
	json_decref(p->obj);
	free(p->ns);
	free(p->name);
	for (size_t i = 0; i < p->n_allocs; i++) {
		free(p->allocs[i].name);
		json_decref(p->allocs[i].obj);
	}
	free(p->allocs);
	*p = (struct client_plan){ 0 };
}

int
client_plan_ops(const struct client_plan *p, struct store_op **ret, size_t *ret_n,
		korch_error **err)
{
	struct store_op *ops = calloc(1 + p->n_allocs, sizeof(*ops));
	if (!ops)
		return error_oom(err);
	ops[0] = (struct store_op){
		.type = p->op,
		.key = { p->kind->group, p->kind->plural, p->ns, p->name },
		.obj = p->op == STORE_OP_CREATE || p->op == STORE_OP_UPDATE ? p->obj : NULL,
		.expected_revision = p->expected_revision,
		.lease = p->lease,
	};
	for (size_t i = 0; i < p->n_allocs; i++)
		ops[1 + i] = (struct store_op){
			.type = p->allocs[i].op,
			.key = { client_alloc_group, p->allocs[i].resource, "", p->allocs[i].name },
			.obj = p->allocs[i].obj,
			.expected_revision = p->allocs[i].expected_revision,
		};
	*ret = ops;
	*ret_n = 1 + p->n_allocs;
	return 0;
}

static const char *
manager_of(const struct client_write_opts *o)
{
	return o && o->field_manager && *o->field_manager ? o->field_manager : "unknown";
}

/* The kinds whose strategies count spec changes in metadata.generation. */
static bool
tracks_generation(const struct kind_info *k)
{
	static const char *const kinds[] = {
		"Deployment", "ReplicaSet", "ReplicationController",   "StatefulSet",  "DaemonSet",
		"Job",        "CronJob",    "HorizontalPodAutoscaler", "GitRepository"
	};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (strcmp(k->kind, kinds[i]) == 0)
			return true;
	return false;
}

/* Which part of an update counts as "spec" for generation (Deployment adds annotations). */
static bool
spec_changed(const struct kind_info *k, const json_t *obj, const json_t *old)
{
	if (!json_equal(json_object_get(obj, "spec"), json_object_get(old, "spec")))
		return true;
	if (strcmp(k->kind, "Deployment") == 0) {
		const json_t *a = json_object_get(json_object_get(obj, "metadata"), "annotations");
		const json_t *b = json_object_get(json_object_get(old, "metadata"), "annotations");
		if (!(a == b || (a && b && json_equal(a, b))))
			return true;
	}
	return false;
}

static int
set_uid(struct client *c, json_t *meta, korch_error **err)
{
	uuid_t u;
	char text[37];
	/* A version 4 uuid, as uuid_generate_random() makes, from the client's randomness. */
	client_random(c, u, sizeof(u));
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	uuid_unparse_lower(u, text);
	return json_object_set_new(meta, "uid", json_string(text)) < 0 ? error_oom(err) : 0;
}

static void
set_time(json_t *meta, const char *field, int64_t wall_ns)
{
	char buf[32];
	/* metav1.Time has second precision. */
	json_object_set_new(
		meta, field,
		json_string(format_rfc3339(wall_ns - wall_ns % NSEC_PER_SEC, false, buf)));
}

/* generateName: the prefix plus five random characters, as names.SimpleNameGenerator does. */
static void
generate_name(struct client *c, json_t *meta)
{
	const char *prefix = json_string_value(json_object_get(meta, "generateName"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	if ((name && *name) || !prefix || !*prefix)
		return;
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char u[5];
	client_random(c, u, sizeof(u));
	char suffix[6];
	for (int i = 0; i < 5; i++)
		suffix[i] = alphabet[u[i] % (sizeof(alphabet) - 1)];
	suffix[5] = '\0';
	char buf[320];
	/* Kubernetes trims the prefix to leave room for the suffix within 63 characters. */
	snprintf(buf, sizeof(buf), "%.*s%s", (int)MIN(strlen(prefix), 58), prefix, suffix);
	json_object_set_new(meta, "name", json_string(buf));
}

/*
 * Admission: a namespaced object needs its namespace to exist and not be terminating, or to be
 * created by an earlier write of the same transaction.
 */
static int
admit_namespace(struct client *c, const struct kind_info *k, const json_t *obj, bool creating,
		const struct client_write_opts *o, korch_error **err)
{
	if (!k->namespaced)
		return 0;
	const char *ns = meta_str(obj, "namespace");
	if (o && o->txn_namespaces && ns && hashmap_contains(o->txn_namespaces, ns))
		return 0;
	const struct kind_info *nsk = kind_lookup("v1", "Namespace");
	struct store_key key;
	client_key(nsk, NULL, ns, &key);
	_cleanup_json_ json_t *nsobj = NULL;
	int r = store_get(c->store, &key, &nsobj, NULL, err);
	if (r < 0)
		return r;
	if (creating && json_object_get(json_object_get(nsobj, "metadata"), "deletionTimestamp"))
		return error_set(
			err, KORCH_EFORBIDDEN,
			"%s \"%s\" is forbidden: unable to create new content in namespace %s "
			"because it is being terminated",
			k->plural, meta_str(obj, "name") ?: "", ns);
	return 0;
}

/* The status a new object starts with, as the kinds' PrepareForCreate set it. */
static void
status_on_create(const struct kind_info *k, json_t *obj)
{
	if (!(k->subresources & KIND_SUB_STATUS) || strcmp(k->kind, "Node") == 0)
		return;
	json_object_set_new(obj, "status", json_object());
	if (strcmp(k->kind, "Pod") == 0)
		json_object_set_new(json_object_get(obj, "status"), "phase",
				    json_string("Pending"));
	if (strcmp(k->kind, "Namespace") == 0)
		json_object_set_new(json_object_get(obj, "status"), "phase", json_string("Active"));
}

/*
 * A new Namespace always carries the "kubernetes" finalizer in spec.finalizers (the namespace
 * strategy adds it): the namespace controller removes it, through /finalize, once the
 * namespace is empty.
 */
static int
namespace_finalizer(const struct kind_info *k, json_t *obj, korch_error **err)
{
	if (strcmp(k->kind, "Namespace") != 0)
		return 0;
	json_t *spec = json_object_get(obj, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		if (json_object_set_new(obj, "spec", spec) < 0)
			return error_oom(err);
	}
	json_t *list = json_object_get(spec, "finalizers");
	if (!json_is_array(list)) {
		list = json_array();
		if (json_object_set_new(spec, "finalizers", list) < 0)
			return error_oom(err);
	}
	size_t i;
	json_t *f;
	json_array_foreach (list, i, f)
		if (streq(json_string_value(f), "kubernetes"))
			return 0;
	return json_array_append_new(list, json_string("kubernetes")) < 0 ? error_oom(err) : 0;
}

/*
 * obj without metadata.resourceVersion and the managedFields entries' times, for comparing.
 * Only the containers on the way to those fields are copied, the rest shared with obj: a
 * status write of a large object (a GitRepository's inventory) compares without copying it.
 */
static json_t *
comparable_form(const json_t *obj)
{
	_cleanup_json_ json_t *copy = json_copy((json_t *)obj);
	const json_t *meta_in = json_object_get(obj, "metadata");
	if (!copy || !json_is_object(meta_in))
		return steal_pointer(&copy);
	json_t *meta = json_copy((json_t *)meta_in);
	if (!meta || json_object_set_new(copy, "metadata", meta) < 0)
		return NULL;
	json_object_del(meta, "resourceVersion");
	const json_t *fields_in = json_object_get(meta_in, "managedFields");
	if (!json_is_array(fields_in))
		return steal_pointer(&copy);
	json_t *fields = json_array();
	if (!fields || json_object_set_new(meta, "managedFields", fields) < 0)
		return NULL;
	size_t i;
	json_t *entry;
	json_array_foreach (fields_in, i, entry) {
		json_t *e = json_is_object(entry) ? json_copy(entry) : json_incref(entry);
		if (!e || json_array_append_new(fields, e) < 0)
			return NULL;
		json_object_del(e, "time");
	}
	return steal_pointer(&copy);
}

/* Equality of two stored forms, ignoring the write times of managedFields entries. */
static bool
same_object(const json_t *a, const json_t *b)
{
	_cleanup_json_ json_t *x = comparable_form(a), *y = comparable_form(b);
	return x && y && json_equal(x, y);
}

/* A Secret's stringData goes into data, base64-encoded, as Kubernetes' conversion does. */
static int
merge_string_data(const struct kind_info *k, json_t *obj, korch_error **err)
{
	json_t *string_data = json_object_get(obj, "stringData");
	if (strcmp(k->kind, "Secret") != 0 || !string_data)
		return 0;
	if (!json_is_object(string_data))
		return 0; /* schema_check reported its type already */
	json_t *data = json_object_get(obj, "data");
	if (!json_is_object(data)) {
		data = json_object();
		if (json_object_set_new(obj, "data", data) < 0)
			return error_oom(err);
	}
	const char *key;
	json_t *v;
	json_object_foreach (string_data, key, v) {
		const char *text = json_string_value(v);
		size_t len = text ? strlen(text) : 0;
		char *encoded = malloc(BASE64_ENCODE_RAW_LENGTH(len) + 1);
		if (!encoded)
			return error_oom(err);
		base64_encode_raw(encoded, len, (const uint8_t *)(text ? text : ""));
		encoded[BASE64_ENCODE_RAW_LENGTH(len)] = '\0';
		int r = json_object_set_new(data, key, json_string(encoded));
		free(encoded);
		if (r < 0)
			return error_oom(err);
	}
	json_object_del(obj, "stringData");
	return 0;
}

/*
 * A Job without manualSelector gets the selector and pod labels Kubernetes generates from its
 * uid (both the batch.kubernetes.io/ forms and the legacy ones), so that `kubectl logs job/NAME`
 * and `kubectl wait` find its pods.
 */
static int
job_selector(json_t *job, korch_error **err)
{
	json_t *spec = json_object_get(job, "spec");
	if (!json_is_object(spec) || json_is_true(json_object_get(spec, "manualSelector")))
		return 0;
	const char *uid = meta_str(job, "uid");
	const char *name = meta_str(job, "name");
	json_t *tmpl = json_object_get(spec, "template");
	if (!uid || !name || !json_is_object(tmpl))
		return 0;
	json_t *tmeta = meta_of(tmpl);
	json_t *labels = json_object_get(tmeta, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		if (json_object_set_new(tmeta, "labels", labels) < 0)
			return error_oom(err);
	}
	/* Labels the user set stay; a conflict is validation's to report (generateSelector). */
	static const char *const name_labels[] = { "job-name", "batch.kubernetes.io/job-name" };
	static const char *const uid_labels[] = { "controller-uid",
						  "batch.kubernetes.io/controller-uid" };
	for (size_t i = 0; i < 2; i++) {
		if (!json_object_get(labels, name_labels[i]) &&
		    json_object_set_new(labels, name_labels[i], json_string(name)) < 0)
			return error_oom(err);
		if (!json_object_get(labels, uid_labels[i]) &&
		    json_object_set_new(labels, uid_labels[i], json_string(uid)) < 0)
			return error_oom(err);
	}
	json_t *selector = json_object_get(spec, "selector");
	if (!json_is_object(selector)) {
		selector = json_object();
		if (json_object_set_new(spec, "selector", selector) < 0)
			return error_oom(err);
	}
	json_t *match = json_object_get(selector, "matchLabels");
	if (!json_is_object(match)) {
		match = json_object();
		if (json_object_set_new(selector, "matchLabels", match) < 0)
			return error_oom(err);
	}
	if (!json_object_get(match, "batch.kubernetes.io/controller-uid") &&
	    json_object_set_new(match, "batch.kubernetes.io/controller-uid", json_string(uid)) < 0)
		return error_oom(err);
	return 0;
}

/*
 * The schema check of a body, with kube-apiserver's words around its decoder errors:
 * `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: ...`
 * (the API server answers those 400 Bad Request, not 422 Invalid).
 */
static int
decode_check(json_t *obj, const struct kind_info *k, enum field_validation fv, json_t *warnings,
	     korch_error **err)
{
	int r = schema_check(obj, k->schema, fv, warnings, err);
	if (r == KORCH_EINVALID)
		korch_error_prefix(err, r, "%s in version \"%s\" cannot be handled as a %s",
				   k->kind, k->version, k->kind);
	return r;
}

#define SA_MOUNT_PATH "/var/run/secrets/kubernetes.io/serviceaccount"

/* Adds the token volume's mount to every container of list that has none at its path. */
static int
mount_token(json_t *spec, const char *list, const char *volume, korch_error **err)
{
	size_t i;
	json_t *ctr;
	json_array_foreach (json_object_get(spec, list), i, ctr) {
		json_t *mounts = json_object_get(ctr, "volumeMounts");
		if (!json_is_array(mounts)) {
			mounts = json_array();
			if (json_object_set_new(ctr, "volumeMounts", mounts) < 0)
				return error_oom(err);
		}
		bool taken = false;
		size_t j;
		json_t *m;
		json_array_foreach (mounts, j, m)
			taken |= streq(json_string_value(json_object_get(m, "mountPath")),
				       SA_MOUNT_PATH);
		if (taken)
			continue;
		if (json_array_append_new(mounts,
					  json_pack("{s:s, s:b, s:s}", "name", volume, "readOnly",
						    1, "mountPath", SA_MOUNT_PATH)) < 0)
			return error_oom(err);
	}
	return 0;
}

/*
 * The ServiceAccount admission of kube-apiserver for a new pod: serviceAccountName defaults to
 * "default", a ServiceAccount named explicitly must exist, and unless automounting is turned
 * off (by the pod, or by the ServiceAccount when the pod does not say), the pod gets the
 * kube-api-access-XXXXX projected volume (a bound token, the cluster CA from the
 * kube-root-ca.crt ConfigMap, the namespace) mounted read-only in every container at
 * /var/run/secrets/kubernetes.io/serviceaccount. The node agent fills the volume; it also sets
 * KUBERNETES_SERVICE_HOST and _PORT, as the kubelet does. The default ServiceAccount may not
 * exist yet (the serviceaccount controller makes it), so only an explicit one is required.
 * Beyond the default name, all this happens only when the client has a token signer
 * (client_set_token_signer): without one no token could fill the volume.
 */
static int
admit_service_account(struct client *c, json_t *pod, korch_error **err)
{
	json_t *meta = json_object_get(pod, "metadata");
	json_t *spec = json_object_get(pod, "spec");
	if (!json_is_object(spec) ||
	    json_object_get(json_object_get(meta, "annotations"), "kubernetes.io/config.mirror"))
		return 0;
	const char *sa = json_string_value(json_object_get(spec, "serviceAccountName"));
	bool named = sa && *sa;
	if (!named) {
		sa = "default";
		if (json_object_set_new(spec, "serviceAccountName", json_string(sa)) < 0 ||
		    json_object_set_new(spec, "serviceAccount", json_string(sa)) < 0)
			return error_oom(err);
	}
	/* No token issuer (a store used without korchd's API server): no token to mount. */
	if (!c->signer)
		return 0;
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	_cleanup_json_ json_t *account = NULL;
	struct store_key key;
	client_key(kind_lookup("v1", "ServiceAccount"), ns, sa, &key);
	korch_error *e = NULL;
	int r = store_get(c->store, &key, &account, NULL, &e);
	if (r < 0 && r != KORCH_ENOTFOUND)
		return error_propagate(err, &e, r);
	korch_error_free(e);
	if (r == KORCH_ENOTFOUND && named)
		return error_set(
			err, KORCH_EFORBIDDEN,
			"pods \"%s\" is forbidden: error looking up service account %s/%s: "
			"serviceaccount \"%s\" not found",
			json_string_value(json_object_get(meta, "name")) ?: "", ns ? ns : "", sa,
			sa);
	json_t *pod_auto = json_object_get(spec, "automountServiceAccountToken");
	json_t *sa_auto = json_object_get(account, "automountServiceAccountToken");
	if (json_is_false(pod_auto) || (!json_is_true(pod_auto) && json_is_false(sa_auto)))
		return 0;
	/* A volume mounted at the token's path already: the user's choice. */
	size_t i;
	json_t *ctr;
	static const char *const lists[] = { "containers", "initContainers" };
	bool all_mounted = true;
	for (size_t l = 0; l < 2; l++)
		json_array_foreach (json_object_get(spec, lists[l]), i, ctr) {
			bool has = false;
			size_t j;
			json_t *m;
			json_array_foreach (json_object_get(ctr, "volumeMounts"), j, m)
				has |= streq(json_string_value(json_object_get(m, "mountPath")),
					     SA_MOUNT_PATH);
			all_mounted &= has;
		}
	if (all_mounted)
		return 0;
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	uuid_t u;
	uuid_generate_random(u);
	char volume[32] = "kube-api-access-";
	for (int k = 0; k < 5; k++)
		volume[16 + k] = alphabet[u[k] % (sizeof(alphabet) - 1)];
	volume[21] = '\0';
	json_t *vol = json_pack(
		"{s:s, s:{s:i, s:[{s:{s:i, s:s}}, {s:{s:s, s:[{s:s, s:s}]}}, {s:{s:[{s:{s:s, "
		"s:s}, s:s}]}}]}}",
		"name", volume, "projected", "defaultMode", 420, "sources", "serviceAccountToken",
		"expirationSeconds", 3607, "path", "token", "configMap", "name", "kube-root-ca.crt",
		"items", "key", "ca.crt", "path", "ca.crt", "downwardAPI", "items", "fieldRef",
		"apiVersion", "v1", "fieldPath", "metadata.namespace", "path", "namespace");
	json_t *volumes = json_object_get(spec, "volumes");
	if (!json_is_array(volumes)) {
		volumes = json_array();
		if (json_object_set_new(spec, "volumes", volumes) < 0) {
			json_decref(vol);
			return error_oom(err);
		}
	}
	if (!vol || json_array_append_new(volumes, vol) < 0)
		return error_oom(err);
	if ((r = mount_token(spec, "containers", volume, err)) < 0 ||
	    (r = mount_token(spec, "initContainers", volume, err)) < 0)
		return r;
	return 0;
}

/*
 * Everything but the store: obj (owned by the caller, changed in place) becomes what is
 * stored, given old (the current object, NULL for a create).
 */
static int
prepare(struct client *c, const struct kind_info *k, json_t *obj, const json_t *old,
	const char *subresource, const struct client_write_opts *o, bool fields_recorded,
	struct client_plan *p, korch_error **err)
{
	enum field_validation fv = o ? o->validation : FIELD_VALIDATION_STRICT;
	json_t *warnings = o ? o->warnings : NULL;
	int r = decode_check(obj, k, fv, warnings, err);
	if (r < 0)
		return r;
	if ((r = object_check_supported(obj, k, err)) < 0)
		return r;
	json_t *meta = meta_of(obj);
	int64_t now = korch_clock_wall_ns(c->clock);
	if (!old) {
		generate_name(c, meta);
		static const char *const server_owned[] = { "uid",
							    "creationTimestamp",
							    "deletionTimestamp",
							    "deletionGracePeriodSeconds",
							    "generation",
							    "selfLink" };
		if (meta_str(obj, "resourceVersion"))
			return error_set(
				err, KORCH_EINVALID,
				"resourceVersion should not be set on objects to be created");
		for (size_t i = 0; i < ARRAY_SIZE(server_owned); i++)
			json_object_del(meta, server_owned[i]);
		status_on_create(k, obj);
		if ((r = namespace_finalizer(k, obj, err)) < 0)
			return r;
	} else {
		const json_t *old_meta = json_object_get(old, "metadata");
		const char *uid = meta_str(obj, "uid");
		if (uid && *uid && !streq(uid, meta_str(old, "uid")))
			return error_set(
				err, KORCH_ECONFLICT,
				"Precondition failed: UID in precondition: %s, UID in object meta: %s",
				uid, meta_str(old, "uid") ?: "");
		static const char *const kept[] = { "uid", "creationTimestamp", "deletionTimestamp",
						    "deletionGracePeriodSeconds", "generation" };
		for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
			json_t *v = json_object_get(old_meta, kept[i]);
			if (v)
				json_object_set(meta, kept[i], v);
			else
				json_object_del(meta, kept[i]);
		}
		if (strcmp(k->kind, "Namespace") == 0 && !streq(subresource, "finalize")) {
			/* A Namespace's spec (its finalizers) changes only through /finalize. */
			json_t *spec = json_object_get(old, "spec");
			if (spec)
				json_object_set(obj, "spec", spec);
		}
		if (streq(subresource, "status")) {
			/*
			 * A status write changes the status only (ResetObjectMetaForStatus); a
			 * Deployment's keeps only its spec and labels (deploymentStatusStrategy), so
			 * that its controller records the revision annotation with the status.
			 */
			static const char *const meta_kept[] = { "labels", "annotations",
								 "finalizers", "ownerReferences" };
			bool deployment = strcmp(k->kind, "Deployment") == 0;
			for (size_t i = 0; i < (deployment ? 1 : ARRAY_SIZE(meta_kept)); i++) {
				json_t *v = json_object_get(old_meta, meta_kept[i]);
				if (v)
					json_object_set(meta, meta_kept[i], v);
				else
					json_object_del(meta, meta_kept[i]);
			}
			json_t *spec = json_object_get(old, "spec");
			if (spec)
				json_object_set(obj, "spec", spec);
			else
				json_object_del(obj, "spec");
		} else if (k->subresources & KIND_SUB_STATUS) {
			/* The main resource cannot change the status of kinds that have /status. */
			json_t *status = json_object_get(old, "status");
			if (status)
				json_object_set(obj, "status", status);
			else
				json_object_del(obj, "status");
		}
	}
	if (!old && (r = set_uid(c, meta, err)) < 0)
		return r;
	if ((r = merge_string_data(k, obj, err)) < 0)
		return r;
	if (!old && strcmp(k->kind, "Job") == 0 && (r = job_selector(obj, err)) < 0)
		return r;
	object_set_defaults(obj, k);
	if (strcmp(k->kind, "Service") == 0 && !streq(subresource, "status")) {
		/* Allocation comes before validation, as kube-apiserver's BeginCreate/Update. */
		if (old)
			client_service_patch_update(obj, old);
		if ((r = client_service_allocate(c, obj, old, p, err)) < 0)
			return r;
	}
	if (!old && strcmp(k->kind, "Pod") == 0) {
		json_object_set_new(json_object_get(obj, "status"), "qosClass",
				    json_string(pod_qos_class(obj)));
		client_admit_default_tolerations(obj);
		if ((r = admit_service_account(c, obj, err)) < 0)
			return r;
		/* The volume it adds gets its defaults too. */
		object_set_defaults(obj, k);
	}
	if (!old && (r = client_admit_storage(c, k, obj, err)) < 0)
		return r;
	/* Mutating admission comes before validation, as in kube-apiserver. */
	if ((r = client_admit_priority(c, k, obj, old, subresource, err)) < 0)
		return r;
	if ((r = object_validate(obj, old, k, err)) < 0)
		return r;
	if ((r = admit_namespace(c, k, obj, !old, o, err)) < 0)
		return r;
	if (!old) {
		set_time(meta, "creationTimestamp", now);
		if (tracks_generation(k))
			json_object_set_new(meta, "generation", json_integer(1));
	} else if (tracks_generation(k) && !streq(subresource, "status") &&
		   spec_changed(k, obj, old)) {
		json_int_t g = json_integer_value(
			json_object_get(json_object_get(old, "metadata"), "generation"));
		json_object_set_new(meta, "generation", json_integer(g + 1));
	}
	if (!fields_recorded) {
		char api_version[64];
		r = apply_record_update(old, obj, k->schema, manager_of(o),
					kind_api_version(k, api_version), subresource, now, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The lease an Event attaches to: one per wall-clock minute, living an hour past it. Within its
 * minute the lease is reused as it is: granted for an hour and a minute, it outlives every
 * Event of that minute by an hour, and renewing it would cost a store commit (an fsync) per
 * Event.
 */
static int
event_lease(struct client *c, int64_t *ret, korch_error **err)
{
	int64_t minute = korch_clock_wall_ns(c->clock) / (60 * NSEC_PER_SEC);
	if (c->event_lease && c->event_lease_minute == minute) {
		*ret = c->event_lease;
		return 0;
	}
	int r = store_lease_grant(c->store, 3600 + 60, &c->event_lease, err);
	if (r < 0)
		return r;
	c->event_lease_minute = minute;
	*ret = c->event_lease;
	return 0;
}

/* Fills the key of a plan from its object. */
static int
plan_key(struct client_plan *p, korch_error **err)
{
	const char *ns = p->kind->namespaced ? meta_str(p->obj, "namespace") : "";
	const char *name = meta_str(p->obj, "name");
	p->ns = strdup(ns ? ns : "");
	p->name = strdup(name ? name : "");
	return p->ns && p->name ? 0 : error_oom(err);
}

static int
plan_create(struct client *c, const struct kind_info *k, json_t *obj,
	    const struct client_write_opts *o, bool fields_recorded, struct client_plan *ret,
	    korch_error **err)
{
	struct client_plan p = { .op = STORE_OP_CREATE, .kind = k, .obj = obj };
	int r = prepare(c, k, obj, NULL, NULL, o, fields_recorded, &p, err);
	if (r == 0)
		r = plan_key(&p, err);
	if (r == 0 && strcmp(k->kind, "Event") == 0 && !(o && o->dry_run))
		r = event_lease(c, &p.lease, err);
	if (r < 0) {
		p.obj = NULL; /* the caller still owns obj */
		client_plan_clear(&p);
		return r;
	}
	*ret = p;
	return 0;
}

/*
 * An object marked for deletion goes once its finalizers are gone, unless it still has a grace
 * period running (a pod whose node agent has not confirmed yet).
 */
static bool
deletion_done(const struct kind_info *k, const json_t *obj)
{
	const json_t *meta = json_object_get(obj, "metadata");
	return json_object_get(meta, "deletionTimestamp") &&
	       json_array_size(json_object_get(meta, "finalizers")) == 0 &&
	       json_array_size(json_object_get(json_object_get(obj, "spec"), "finalizers")) == 0 &&
	       json_integer_value(json_object_get(meta, "deletionGracePeriodSeconds")) == 0;
}

static int
plan_update(struct client *c, const struct kind_info *k, json_t *obj, const json_t *old,
	    int64_t old_revision, const char *subresource, const struct client_write_opts *o,
	    bool fields_recorded, struct client_plan *ret, korch_error **err)
{
	struct client_plan p = {
		.op = STORE_OP_UPDATE, .kind = k, .obj = obj, .expected_revision = old_revision
	};
	int r = prepare(c, k, obj, old, subresource, o, fields_recorded, &p, err);
	if (r == 0)
		r = plan_key(&p, err);
	if (r < 0) {
		p.obj = NULL;
		client_plan_clear(&p);
		return r;
	}
	if (same_object(obj, old)) {
		/* Nothing changed: nothing is written and the object keeps its version. */
		p.op = STORE_OP_CHECK;
		json_decref(p.obj);
		p.obj = json_deep_copy(old);
	} else if (deletion_done(k, obj)) {
		p.op = STORE_OP_DELETE;
		if (strcmp(k->kind, "Service") == 0 &&
		    (r = client_service_release(c, old, &p, err)) < 0) {
			client_plan_clear(&p);
			return r;
		}
	}
	*ret = p;
	return 0;
}

/* Reads the current object and its revision; KORCH_ENOTFOUND passes through. */
static int
get_current(struct client *c, const struct kind_info *k, const char *ns, const char *name,
	    json_t **ret, int64_t *ret_revision, korch_error **err)
{
	struct store_key key;
	client_key(k, ns, name, &key);
	struct store_object_meta m;
	int r = store_get(c->store, &key, ret, &m, err);
	if (r == 0) {
		client_set_type(*ret, k);
		*ret_revision = m.mod_revision;
	}
	return r;
}

/* Sends a plan to the store (unless dry-run) and hands its object out. */
static int
execute(struct client *c, struct client_plan *p, const struct client_write_opts *o, json_t **ret,
	korch_error **err)
{
	int r = 0;
	if (!(o && o->dry_run)) {
		struct store_op *ops = NULL;
		size_t n = 0;
		if ((r = client_plan_ops(p, &ops, &n, err)) < 0)
			return r;
		r = store_commit(c->store, ops, n, NULL, err);
		free(ops);
	}
	if (r == 0 && ret)
		*ret = json_incref(p->obj);
	return r;
}

/* Whether the object a plan creates exists already (so an EEXISTS was not an allocation's). */
static bool
object_exists(struct client *c, const struct client_plan *p)
{
	struct store_key key = { p->kind->group, p->kind->plural, p->ns, p->name };
	_cleanup_json_ json_t *cur = NULL;
	return store_get(c->store, &key, &cur, NULL, NULL) == 0;
}

static int
resolve(const json_t *obj, const struct kind_info **ret, korch_error **err)
{
	if (!json_is_object(obj))
		return error_set(err, KORCH_EINVALID, "the object must be a JSON object");
	return kind_resolve_object(obj, ret, err);
}

int
client_plan_create(struct client *c, const json_t *obj_in, const struct client_write_opts *o,
		   struct client_plan *ret, korch_error **err)
{
	const struct kind_info *k = NULL;
	int r = resolve(obj_in, &k, err);
	if (r < 0)
		return r;
	json_t *obj = json_deep_copy(obj_in);
	if (!obj)
		return error_oom(err);
	if ((r = plan_create(c, k, obj, o, false, ret, err)) < 0)
		json_decref(obj);
	return r;
}

int
client_create(struct client *c, const json_t *obj_in, const struct client_write_opts *o,
	      json_t **ret, korch_error **err)
{
	for (int attempt = 0;; attempt++) {
		struct client_plan p;
		int r = client_plan_create(c, obj_in, o, &p, err);
		if (r < 0)
			return r;
		korch_error *e = NULL;
		r = execute(c, &p, o, ret, &e);
		bool raced = r == KORCH_EEXISTS && p.n_allocs > 0 && !object_exists(c, &p);
		client_plan_clear(&p);
		/* Another writer took an IP or port this create picked: pick again. */
		if (!raced || attempt + 1 == PATCH_RETRIES)
			return error_propagate(err, &e, r);
		korch_error_free(e);
	}
}

int
client_plan_update(struct client *c, const json_t *obj_in, const char *subresource,
		   const struct client_write_opts *o, struct client_plan *ret, korch_error **err)
{
	const struct kind_info *k = NULL;
	int r = resolve(obj_in, &k, err);
	if (r < 0)
		return r;
	const char *rv = meta_str(obj_in, "resourceVersion");
	int64_t wanted = 0;
	if (rv && *rv && (parse_int64(rv, &wanted) < 0 || wanted <= 0))
		return error_set(err, KORCH_EINVALID, "invalid resourceVersion: %s", rv);
	_cleanup_json_ json_t *old = NULL;
	int64_t revision = 0;
	r = get_current(c, k, meta_str(obj_in, "namespace"), meta_str(obj_in, "name"), &old,
			&revision, err);
	if (r < 0)
		return r;
	if (wanted && wanted != revision) {
		char title[300];
		snprintf(title, sizeof(title), "%s%s%s \"%s\"", k->plural, *k->group ? "." : "",
			 k->group, meta_str(obj_in, "name"));
		return error_set(
			err, KORCH_ECONFLICT,
			"Operation cannot be fulfilled on %s: the object has been modified; "
			"please apply your changes to the latest version and try again",
			title);
	}
	json_t *obj = json_deep_copy(obj_in);
	if (!obj)
		return error_oom(err);
	if ((r = plan_update(c, k, obj, old, revision, subresource, o, false, ret, err)) < 0)
		json_decref(obj);
	return r;
}

int
client_update(struct client *c, const json_t *obj_in, const char *subresource,
	      const struct client_write_opts *o, json_t **ret, korch_error **err)
{
	struct client_plan p;
	int r = client_plan_update(c, obj_in, subresource, o, &p, err);
	if (r < 0)
		return r;
	r = execute(c, &p, o, ret, err);
	client_plan_clear(&p);
	return r;
}

static int
patched(enum client_patch_type type, const struct kind_info *k, const json_t *old,
	const json_t *patch, json_t **ret, korch_error **err)
{
	switch (type) {
	case CLIENT_PATCH_MERGE: return patch_json_merge(old, patch, ret, err);
	case CLIENT_PATCH_JSON: return patch_json_patch(old, patch, ret, err);
	case CLIENT_PATCH_STRATEGIC: return patch_strategic_merge(old, patch, k->schema, ret, err);
	case CLIENT_PATCH_APPLY: break;
	}
	return error_set(err, KORCH_EINVALID, "unknown patch type");
}

int
client_apply(struct client *c, const json_t *obj, const struct client_write_opts *o, json_t **ret,
	     korch_error **err)
{
	struct client_plan p;
	int r = KORCH_ECONFLICT;
	for (int attempt = 0; attempt < PATCH_RETRIES && r == KORCH_ECONFLICT; attempt++) {
		korch_error *e = NULL;
		r = client_plan_apply(c, obj, o, &p, &e);
		if (r == 0) {
			r = execute(c, &p, o, ret, &e);
			client_plan_clear(&p);
		}
		/* A conflict of field ownership (it names fields) is the user's; a race is retried. */
		bool race = r == KORCH_ECONFLICT && korch_error_cause_count(e) == 0;
		if (!race || attempt + 1 == PATCH_RETRIES)
			return error_propagate(err, &e, r);
		korch_error_free(e);
	}
	return r;
}

int
client_plan_apply(struct client *c, const json_t *applied_in, const struct client_write_opts *o,
		  struct client_plan *ret, korch_error **err)
{
	const struct kind_info *k = NULL;
	int r = resolve(applied_in, &k, err);
	if (r < 0)
		return r;
	/* The configuration itself is checked first: unknown fields name the user's own paths. */
	_cleanup_json_ json_t *applied = json_deep_copy(applied_in);
	if (!applied)
		return error_oom(err);
	enum field_validation fv = o ? o->validation : FIELD_VALIDATION_STRICT;
	if ((r = decode_check(applied, k, fv, o ? o->warnings : NULL, err)) < 0)
		return r;
	_cleanup_json_ json_t *old = NULL;
	int64_t revision = 0;
	korch_error *e = NULL;
	r = get_current(c, k, meta_str(applied, "namespace"), meta_str(applied, "name"), &old,
			&revision, &e);
	if (r == KORCH_ENOTFOUND) {
		/* Apply creates what is missing. */
		korch_error_free(steal_pointer(&e));
		old = NULL;
	} else if (r < 0) {
		return error_propagate(err, &e, r);
	}
	char api_version[64];
	json_t *merged = NULL;
	r = apply_object(old, applied, k->schema, manager_of(o), kind_api_version(k, api_version),
			 o && o->force, korch_clock_wall_ns(c->clock), &merged, &e);
	if (r < 0)
		return error_propagate(err, &e, r);
	if (!old)
		r = plan_create(c, k, merged, o, true, ret, err);
	else
		r = plan_update(c, k, merged, old, revision, NULL, o, true, ret, err);
	if (r < 0)
		json_decref(merged);
	return r;
}

int
client_plan_patch(struct client *c, const struct kind_info *k, const char *ns, const char *name,
		  enum client_patch_type type, const json_t *patch, const char *subresource,
		  const struct client_write_opts *o, struct client_plan *ret, korch_error **err)
{
	if (type == CLIENT_PATCH_APPLY)
		return error_set(err, KORCH_EINVALID, "an apply patch is planned as an apply");
	_cleanup_json_ json_t *old = NULL;
	int64_t revision = 0;
	int r = get_current(c, k, ns, name, &old, &revision, err);
	if (r < 0)
		return r;
	json_t *obj = NULL;
	if ((r = patched(type, k, old, patch, &obj, err)) < 0)
		return r;
	if ((r = plan_update(c, k, obj, old, revision, subresource, o, false, ret, err)) < 0)
		json_decref(obj);
	return r;
}

int
client_patch(struct client *c, const struct kind_info *k, const char *ns, const char *name,
	     enum client_patch_type type, const json_t *patch, const char *subresource,
	     const struct client_write_opts *o, json_t **ret, korch_error **err)
{
	if (type == CLIENT_PATCH_APPLY) {
		_cleanup_json_ json_t *cfg = json_deep_copy(patch);
		if (!json_is_object(cfg))
			return error_set(err, KORCH_EINVALID,
					 "an apply patch must be a JSON object");
		json_t *meta = meta_of(cfg);
		if (!json_object_get(meta, "name"))
			json_object_set_new(meta, "name", json_string(name));
		if (k->namespaced && ns && !json_object_get(meta, "namespace"))
			json_object_set_new(meta, "namespace", json_string(ns));
		client_set_type(cfg, k);
		return client_apply(c, cfg, o, ret, err);
	}
	for (int attempt = 0;; attempt++) {
		struct client_plan p;
		korch_error *e = NULL;
		int r = client_plan_patch(c, k, ns, name, type, patch, subresource, o, &p, &e);
		if (r < 0)
			return error_propagate(err, &e, r);
		r = execute(c, &p, o, ret, &e);
		client_plan_clear(&p);
		if (r != KORCH_ECONFLICT || attempt + 1 == PATCH_RETRIES)
			return error_propagate(err, &e, r);
		korch_error_free(e);
	}
}

/* ---- delete ---- */

static int
add_finalizer(json_t *meta, const char *name)
{
	json_t *list = json_object_get(meta, "finalizers");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(meta, "finalizers", list);
	}
	size_t i;
	json_t *f;
	json_array_foreach (list, i, f)
		if (streq(json_string_value(f), name))
			return 0;
	return json_array_append_new(list, json_string(name));
}

int
client_plan_delete(struct client *c, const struct kind_info *k, const char *ns, const char *name,
		   const struct client_delete_opts *o, struct client_plan *ret, korch_error **err)
{
	static const struct client_delete_opts none = { .grace_period_s = -1 };
	if (!o)
		o = &none;
	json_t *old = NULL;
	int64_t revision = 0;
	int r = get_current(c, k, ns, name, &old, &revision, err);
	if (r < 0)
		return r;
	struct client_plan p = {
		.op = STORE_OP_DELETE, .kind = k, .obj = old, .expected_revision = revision
	};
	if ((r = plan_key(&p, err)) < 0)
		goto fail;
	if (o->precondition_uid && !streq(o->precondition_uid, meta_str(old, "uid"))) {
		r = error_set(
			err, KORCH_ECONFLICT,
			"Precondition failed: UID in precondition: %s, UID in object meta: %s",
			o->precondition_uid, meta_str(old, "uid") ?: "");
		goto fail;
	}
	if (o->precondition_rv && !streq(o->precondition_rv, meta_str(old, "resourceVersion"))) {
		r = error_set(err, KORCH_ECONFLICT,
			      "Precondition failed: ResourceVersion in precondition: %s, "
			      "ResourceVersion in object meta: %s",
			      o->precondition_rv, meta_str(old, "resourceVersion") ?: "");
		goto fail;
	}
	json_t *meta = meta_of(old);
	bool marked = json_object_get(meta, "deletionTimestamp") != NULL;
	/* Pods on a node end gracefully: the node agent stops them, then deletes with grace 0. */
	int64_t grace = 0;
	if (strcmp(k->kind, "Pod") == 0 &&
	    json_object_get(json_object_get(old, "spec"), "nodeName")) {
		grace = o->grace_period_s >= 0 ? o->grace_period_s
					       : json_integer_value(json_object_get(
							 json_object_get(old, "spec"),
							 "terminationGracePeriodSeconds"));
		const json_t *phase = json_object_get(json_object_get(old, "status"), "phase");
		if (streq(json_string_value(phase), "Succeeded") ||
		    streq(json_string_value(phase), "Failed"))
			grace = 0;
	}
	bool changed = false;
	if (o->propagation == CLIENT_PROPAGATION_FOREGROUND && !marked)
		changed |= add_finalizer(meta, "foregroundDeletion") == 0;
	if (o->propagation == CLIENT_PROPAGATION_ORPHAN && !marked)
		changed |= add_finalizer(meta, "orphan") == 0;
	int64_t now = korch_clock_wall_ns(c->clock);
	/*
	 * A Namespace with spec.finalizers (the "kubernetes" one the namespace controller clears
	 * once the namespace is empty) turns Terminating instead of going at once.
	 */
	bool ns_finalizers =
		strcmp(k->kind, "Namespace") == 0 &&
		json_array_size(json_object_get(json_object_get(old, "spec"), "finalizers")) > 0;
	if (ns_finalizers && !marked) {
		json_t *status = json_object_get(old, "status");
		if (!json_is_object(status)) {
			status = json_object();
			json_object_set_new(old, "status", status);
		}
		json_object_set_new(status, "phase", json_string("Terminating"));
	}
	bool has_finalizers =
		json_array_size(json_object_get(meta, "finalizers")) > 0 || ns_finalizers;
	if (!has_finalizers && (grace == 0 || (marked && o->grace_period_s == 0))) {
		/* immediate removal */
		if (strcmp(k->kind, "Service") == 0 &&
		    (r = client_service_release(c, old, &p, err)) < 0)
			goto fail;
		*ret = p;
		return 0;
	}
	if (!marked) {
		set_time(meta, "deletionTimestamp", now + grace * NSEC_PER_SEC);
		json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(grace));
		changed = true;
	} else if (o->grace_period_s >= 0 &&
		   o->grace_period_s < json_integer_value(json_object_get(
					       meta, "deletionGracePeriodSeconds"))) {
		/* A shorter grace period may replace a longer one, never the reverse. */
		set_time(meta, "deletionTimestamp", now + o->grace_period_s * NSEC_PER_SEC);
		json_object_set_new(meta, "deletionGracePeriodSeconds",
				    json_integer(o->grace_period_s));
		changed = true;
	}
	p.op = changed ? STORE_OP_UPDATE : STORE_OP_CHECK;
	*ret = p;
	return 0;
fail:
	client_plan_clear(&p);
	return r;
}

int
client_delete(struct client *c, const struct kind_info *k, const char *ns, const char *name,
	      const struct client_delete_opts *o, json_t **ret, korch_error **err)
{
	struct client_plan p;
	int r = client_plan_delete(c, k, ns, name, o, &p, err);
	if (r < 0)
		return r;
	struct client_write_opts wo = { .dry_run = o && o->dry_run };
	r = execute(c, &p, &wo, ret, err);
	client_plan_clear(&p);
	return r;
}
