/*
 * bootstrap.c - what kube-apiserver's bootstrap controllers keep in place, run here by the
 * leading controller manager: the system namespaces (default, kube-system, kube-public,
 * kube-node-lease) and the `kubernetes` Service in default at the first service IP
 * (10.96.0.1), port 443 to the API server's port, with its Endpoints and EndpointSlice naming
 * the API server's address when the manager knows it. Anything deleted comes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"

#define BOOTSTRAP_KEY "bootstrap"
/* The system namespaces controller looks every minute. */
#define BOOTSTRAP_PERIOD (60 * NSEC_PER_SEC)

static const char *const system_namespaces[] = { "default", "kube-system", "kube-public",
						 "kube-node-lease" };

struct boot {
	struct informer *nss, *svcs, *eps, *slices; /* what it keeps */
};

static void
any_deleted(const json_t *obj, void *userdata)
{
	ctrl_enqueue_key(userdata, BOOTSTRAP_KEY);
}

static int
boot_init(struct ctrl *ctl, korch_error **err)
{
	struct boot *b = calloc(1, sizeof(*b));
	if (!b)
		return error_oom(err);
	ctl->data = b;
	b->nss = cm_informer(ctl->cm, "v1", "Namespace");
	b->svcs = cm_informer(ctl->cm, "v1", "Service");
	b->eps = cm_informer(ctl->cm, "v1", "Endpoints");
	b->slices = cm_informer(ctl->cm, "discovery.k8s.io/v1", "EndpointSlice");
	if (!b->nss || !b->svcs || !b->eps || !b->slices)
		return error_oom(err);
	struct informer_handlers h = { NULL, NULL, any_deleted, ctl };
	struct informer *all[] = { b->nss, b->svcs, b->eps, b->slices };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		int hr = informer_add_handlers(all[i], &h, err);
		if (hr < 0)
			return hr;
	}
	ctrl_enqueue_key(ctl, BOOTSTRAP_KEY);
	return 0;
}

static void
boot_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

/* Creates obj unless it exists; a create that meets an existing object is fine. */
static int
ensure(struct ctrl *ctl, json_t *obj, korch_error **err)
{
	korch_error *e = NULL;
	int r = cm_create(ctl, obj, NULL, &e);
	json_decref(obj);
	if (r == KORCH_EEXISTS) {
		korch_error_free(e);
		return 0;
	}
	return error_propagate(err, &e, r);
}

/* Writes obj over what is cached when they differ in the fields given. */
static int
keep(struct ctrl *ctl, const json_t *cached, json_t *want, const char *const *fields,
     korch_error **err)
{
	bool same = true;
	for (const char *const *f = fields; *f && same; f++) {
		const json_t *a = json_object_get(cached, *f), *b = json_object_get(want, *f);
		same = (!a && !b) || (a && b && json_equal(a, b));
	}
	if (same) {
		json_decref(want);
		return 0;
	}
	_cleanup_json_ json_t *copy = json_deep_copy(cached);
	for (const char *const *f = fields; *f; f++)
		json_object_set(copy, *f, json_object_get(want, *f));
	json_decref(want);
	return cm_update(ctl, copy, NULL, NULL, err);
}

static int
boot_sync(struct ctrl *ctl, const char *key)
{
	struct boot *b = ctl->data;
	const struct controller_manager_options *o = cm_options(ctl->cm);
	korch_error *e = NULL;
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(system_namespaces) && r == 0; i++)
		if (!informer_get(b->nss, NULL, system_namespaces[i]))
			r = ensure(ctl,
				   json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
					     "Namespace", "metadata", "name", system_namespaces[i]),
				   &e);
	const json_t *ns = informer_get(b->nss, NULL, "default");
	bool default_ok = ns && !jp_get(ns, "metadata.deletionTimestamp");
	if (r == 0 && default_ok && !informer_get(b->svcs, "default", "kubernetes"))
		r = ensure(ctl,
			   json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s, s:s, s:[{s:s, "
				     "s:i, s:s, s:i}]}}",
				     "apiVersion", "v1", "kind", "Service", "metadata", "name",
				     "kubernetes", "namespace", "default", "labels", "component",
				     "apiserver", "provider", "kubernetes", "spec", "type",
				     "ClusterIP", "sessionAffinity", "None", "ports", "name",
				     "https", "port", 443, "protocol", "TCP", "targetPort",
				     o->api_port),
			   &e);
	if (r == 0 && default_ok && o->api_host) {
		json_t *subsets = json_pack("[{s:[{s:s}], s:[{s:s, s:i, s:s}]}]", "addresses", "ip",
					    o->api_host, "ports", "name", "https", "port",
					    o->api_port, "protocol", "TCP");
		const json_t *ep = informer_get(b->eps, "default", "kubernetes");
		json_t *want = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:o}", "apiVersion",
					 "v1", "kind", "Endpoints", "metadata", "name",
					 "kubernetes", "namespace", "default", "labels",
					 "endpointslice.kubernetes.io/skip-mirror", "true",
					 "subsets", subsets);
		static const char *const ep_fields[] = { "subsets", NULL };
		r = ep ? keep(ctl, ep, want, ep_fields, &e) : ensure(ctl, want, &e);
	}
	if (r == 0 && default_ok && o->api_host) {
		const json_t *slice = informer_get(b->slices, "default", "kubernetes");
		json_t *want = json_pack(
			"{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:[{s:[s], s:{s:b}}], s:[{s:s, s:i, "
			"s:s}]}",
			"apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata",
			"name", "kubernetes", "namespace", "default", "labels",
			"kubernetes.io/service-name", "kubernetes", "addressType", "IPv4",
			"endpoints", "addresses", o->api_host, "conditions", "ready", 1, "ports",
			"name", "https", "port", o->api_port, "protocol", "TCP");
		static const char *const slice_fields[] = { "endpoints", "ports", NULL };
		r = slice ? keep(ctl, slice, want, slice_fields, &e) : ensure(ctl, want, &e);
	}
	ctrl_enqueue_after(ctl, BOOTSTRAP_KEY, BOOTSTRAP_PERIOD);
	return r < 0 ? ctrl_fail(ctl, key, r, e) : 0;
}

const struct ctrl_ops bootstrap_ops = {
	.name = "bootstrap",
	.component = "kube-apiserver",
	.init = boot_init,
	.sync = boot_sync,
	.fini = boot_fini,
};
