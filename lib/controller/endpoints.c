/*
 * endpoints.c - the Endpoints and EndpointSlice controllers (Kubernetes'
 * pkg/controller/endpoint and endpointslice): for every Service with a selector, the pods it
 * selects that have an IP, each service port resolved against the pod (a named targetPort by the
 * container port of that name and protocol), ready pods as addresses and the others apart
 * (Endpoints' notReadyAddresses; EndpointSlice conditions ready/serving/terminating), and the
 * pod's hostname when its subdomain is the Service. Written only when they change. The proxy and
 * DNS are programmed from these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "controller/controllers.h"

/* Endpoints per EndpointSlice (--max-endpoints-per-slice's default). */
#define MAX_ENDPOINTS_PER_SLICE 100
#define MANAGED_BY "endpointslice-controller.k8s.io"

struct ep_ctrl {
	bool slices;           /* the EndpointSlice controller (else Endpoints) */
	struct informer *svcs; /* Services: the primary kind */
	struct informer *pods; /* Pods */
	struct informer *objs; /* Endpoints, or EndpointSlices */
};

static struct ep_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

/* ---- which Services select a pod ---- */

struct svc_match {
	struct ctrl *ctl;
	const json_t *pod;
};

static void
enqueue_if_selects(const json_t *svc, void *userdata)
{
	struct svc_match *m = userdata;
	const json_t *sel = jp_get(svc, "spec.selector");
	if (!json_object_size(sel))
		return;
	struct label_selector *ls = NULL;
	if (label_selector_from_map(sel, &ls, NULL) < 0)
		return;
	if (label_selector_matches(ls, jp_get(m->pod, "metadata.labels")))
		ctrl_enqueue(m->ctl, svc);
	label_selector_free(ls);
}

static void
pod_changed(struct ctrl *ctl, const json_t *pod)
{
	struct svc_match m = { ctl, pod };
	cm_foreach_in_ns(ctl->cm, state(ctl)->svcs, jp_str(pod, "metadata.namespace"),
			 enqueue_if_selects, &m);
}

static void
pod_added(const json_t *pod, void *userdata)
{
	pod_changed(userdata, pod);
}

/* What of a pod the endpoints show; a change of anything else is no news. */
static bool
endpoint_relevant_change(const json_t *old, const json_t *pod)
{
	static const char *const paths[] = { "metadata.labels", "metadata.deletionTimestamp",
					     "status.podIP",    "spec.nodeName",
					     "status.phase",    "spec.hostname",
					     "spec.subdomain",  "spec.containers" };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		const json_t *a = jp_get(old, paths[i]), *b = jp_get(pod, paths[i]);
		if (!(a == b || (a && b && json_equal(a, b))))
			return true;
	}
	return pod_ready(old) != pod_ready(pod);
}

static void
pod_updated(const json_t *old, const json_t *pod, void *userdata)
{
	if (!endpoint_relevant_change(old, pod))
		return;
	pod_changed(userdata, pod);
	const json_t *a = jp_get(old, "metadata.labels"), *b = jp_get(pod, "metadata.labels");
	if (!(a == b || (a && b && json_equal(a, b))))
		pod_changed(userdata, old);
}

static void
pod_deleted(const json_t *pod, void *userdata)
{
	pod_changed(userdata, pod);
}

/* An Endpoints object or slice of a Service changed by someone else: put it back. */
static void
obj_changed(struct ctrl *ctl, const json_t *obj)
{
	struct ep_ctrl *s = state(ctl);
	const char *svc = jp_str(obj, "metadata.name");
	if (s->slices) {
		const json_t *labels = jp_get(obj, "metadata.labels");
		if (!streq(json_string_value(json_object_get(
				   labels, "endpointslice.kubernetes.io/managed-by")),
			   MANAGED_BY))
			return;
		svc = json_string_value(json_object_get(labels, "kubernetes.io/service-name"));
	}
	if (!svc)
		return;
	char *key = NULL;
	if (asprintf(&key, "%s/%s", jp_str0(obj, "metadata.namespace"), svc) >= 0)
		ctrl_enqueue_key(ctl, key);
	free(key);
}

static void
obj_updated(const json_t *old, const json_t *obj, void *userdata)
{
	obj_changed(userdata, obj);
}

static void
obj_deleted(const json_t *obj, void *userdata)
{
	obj_changed(userdata, obj);
}

static int
init_common(struct ctrl *ctl, bool slices, korch_error **err)
{
	struct ep_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->slices = slices;
	s->svcs = ctrl_watch_primary(ctl, "v1", "Service");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	s->objs = slices ? cm_informer(ctl->cm, "discovery.k8s.io/v1", "EndpointSlice")
			 : cm_informer(ctl->cm, "v1", "Endpoints");
	if (!s->svcs || !s->pods || !s->objs)
		return error_oom(err);
	struct informer_handlers ph = { pod_added, pod_updated, pod_deleted, ctl };
	struct informer_handlers oh = { NULL, obj_updated, obj_deleted, ctl };
	int hr;
	if ((hr = informer_add_handlers(s->pods, &ph, err)) < 0 ||
	    (hr = informer_add_handlers(s->objs, &oh, err)) < 0)
		return hr;
	return 0;
}

static int
ep_init(struct ctrl *ctl, korch_error **err)
{
	return init_common(ctl, false, err);
}

static int
slice_init(struct ctrl *ctl, korch_error **err)
{
	return init_common(ctl, true, err);
}

static void
ep_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

/* ---- pods as endpoints ---- */

/* ShouldPodBeInEndpoints: an IP, not finished; terminating ones only when included. */
static bool
pod_in_endpoints(const json_t *pod, bool include_terminating)
{
	const char *phase = pod_phase(pod);
	const char *restart = jp_str0(pod, "spec.restartPolicy");
	if ((streq(phase, "Failed") || streq(phase, "Succeeded")) && !streq(restart, "Always"))
		return false;
	if (!*jp_str0(pod, "status.podIP"))
		return false;
	if (!include_terminating && jp_get(pod, "metadata.deletionTimestamp"))
		return false;
	return true;
}

/* FindPort: the port number a service port reaches on pod, or 0. */
static int64_t
find_port(const json_t *pod, const json_t *svc_port)
{
	const json_t *target = json_object_get(svc_port, "targetPort");
	if (json_is_integer(target))
		return json_integer_value(target);
	const char *name = json_string_value(target);
	if (!name)
		return jp_int(svc_port, "port", 0);
	const char *proto = jp_str(svc_port, "protocol");
	static const char *const lists[] = { "spec.containers", "spec.initContainers" };
	for (size_t l = 0; l < 2; l++) {
		size_t i, j;
		json_t *c, *p;
		json_array_foreach (jp_get(pod, lists[l]), i, c) {
			/* Init containers count when they are sidecars (restartPolicy Always). */
			if (l == 1 && !streq(jp_str(c, "restartPolicy"), "Always"))
				continue;
			json_array_foreach (json_object_get(c, "ports"), j, p)
				if (streq(jp_str(p, "name"), name) &&
				    streq(jp_str(p, "protocol") ? jp_str(p, "protocol") : "TCP",
					  proto ? proto : "TCP"))
					return jp_int(p, "containerPort", 0);
		}
	}
	return 0;
}

static json_t *
target_ref(const json_t *pod)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "kind", "Pod", "namespace",
			 jp_str0(pod, "metadata.namespace"), "name", jp_str0(pod, "metadata.name"),
			 "uid", jp_str0(pod, "metadata.uid"));
}

/* The pod's hostname in the Service's DNS, when its subdomain is the Service. */
static const char *
pod_hostname(const json_t *pod, const json_t *svc)
{
	const char *host = jp_str(pod, "spec.hostname");
	if (host && *host && streq(jp_str(pod, "spec.subdomain"), jp_str(svc, "metadata.name")) &&
	    streq(jp_str(pod, "metadata.namespace"), jp_str(svc, "metadata.namespace")))
		return host;
	return NULL;
}

static void
collect(const json_t *obj, void *userdata)
{
	json_array_append((json_t *)userdata, (json_t *)obj);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(jp_str0(*(json_t *const *)a, "metadata.name"),
		      jp_str0(*(json_t *const *)b, "metadata.name"));
}

/* The pods the Service selects, by name. */
static json_t *
selected_pods(struct ctrl *ctl, const json_t *svc)
{
	json_t *out = json_array();
	struct label_selector *ls = NULL;
	if (label_selector_from_map(jp_get(svc, "spec.selector"), &ls, NULL) < 0)
		return out;
	_cleanup_json_ json_t *all = json_array();
	cm_foreach_selected(ctl->cm, state(ctl)->pods, jp_str(svc, "metadata.namespace"), ls,
			    collect, all);
	label_selector_free(ls);
	size_t n = json_array_size(all);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return out;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(all, i);
	qsort(v, n, sizeof(*v), by_name);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

/* The ports of svc on pod, as EndpointPorts (name, port, protocol, appProtocol), in order. */
static json_t *
pod_ports(const json_t *pod, const json_t *svc)
{
	json_t *out = json_array();
	size_t i;
	json_t *sp;
	json_array_foreach (jp_get(svc, "spec.ports"), i, sp) {
		int64_t port = find_port(pod, sp);
		if (port <= 0)
			continue;
		json_t *p = json_object();
		if (jp_str(sp, "name"))
			json_object_set(p, "name", json_object_get(sp, "name"));
		json_object_set_new(p, "port", json_integer(port));
		json_object_set_new(
			p, "protocol",
			json_string(jp_str(sp, "protocol") ? jp_str(sp, "protocol") : "TCP"));
		if (jp_str(sp, "appProtocol"))
			json_object_set(p, "appProtocol", json_object_get(sp, "appProtocol"));
		json_array_append_new(out, p);
	}
	return out;
}

static bool
headless(const json_t *svc)
{
	return streq(jp_str(svc, "spec.clusterIP"), "None");
}

/* The labels of a Service's Endpoints (and slices): its own, and the headless marker. */
static json_t *
endpoint_labels(const json_t *svc)
{
	const json_t *l = jp_get(svc, "metadata.labels");
	json_t *labels = json_is_object(l) ? json_deep_copy(l) : json_object();
	json_object_del(labels, "service.kubernetes.io/headless");
	if (headless(svc))
		json_object_set_new(labels, "service.kubernetes.io/headless", json_string(""));
	return labels;
}

/* ---- Endpoints ---- */

static int
ip_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(jp_str0(x, "ip"), jp_str0(y, "ip"));
	return c ? c : strcmp(jp_str0(x, "targetRef.uid"), jp_str0(y, "targetRef.uid"));
}

static void
sort_addresses(json_t *list)
{
	size_t n = json_array_size(list);
	if (n < 2)
		return;
	json_t **v = calloc(n, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(list, i));
	qsort(v, n, sizeof(*v), ip_cmp);
	json_array_clear(list);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, v[i]);
	free(v);
}

/* Adds an address to the subset whose ports are ports (RepackSubsets' grouping). */
static void
add_address(json_t *subsets, json_t *ports, json_t *addr, bool ready)
{
	json_t *subset = NULL;
	size_t i;
	json_t *s;
	json_array_foreach (subsets, i, s) {
		const json_t *p = json_object_get(s, "ports");
		if ((json_array_size(ports) == 0 && !p) || (p && json_equal(p, ports))) {
			subset = s;
			break;
		}
	}
	if (!subset) {
		subset = json_object();
		if (json_array_size(ports))
			json_object_set(subset, "ports", ports);
		json_array_append_new(subsets, subset);
	}
	const char *field = ready ? "addresses" : "notReadyAddresses";
	json_t *list = json_object_get(subset, field);
	if (!list) {
		list = json_array();
		json_object_set_new(subset, field, list);
	}
	json_array_append_new(list, addr);
}

static json_t *
desired_subsets(struct ctrl *ctl, const json_t *svc)
{
	bool publish = jp_true(svc, "spec.publishNotReadyAddresses");
	_cleanup_json_ json_t *pods = selected_pods(ctl, svc);
	json_t *subsets = json_array();
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		if (!pod_in_endpoints(pod, publish))
			continue;
		json_t *addr = json_pack("{s:s}", "ip", jp_str0(pod, "status.podIP"));
		const char *host = pod_hostname(pod, svc);
		if (host)
			json_object_set_new(addr, "hostname", json_string(host));
		if (*jp_str0(pod, "spec.nodeName"))
			json_object_set_new(addr, "nodeName",
					    json_string(jp_str(pod, "spec.nodeName")));
		json_object_set_new(addr, "targetRef", target_ref(pod));
		bool ready = publish || pod_ready(pod);
		_cleanup_json_ json_t *ports = pod_ports(pod, svc);
		if (!json_array_size(jp_get(svc, "spec.ports"))) {
			if (headless(svc))
				add_address(subsets, ports, addr, ready);
			else
				json_decref(addr);
			continue;
		}
		if (!json_array_size(ports)) {
			json_decref(addr);
			continue; /* no port of the Service reaches this pod */
		}
		add_address(subsets, ports, addr, ready);
	}
	json_array_foreach (subsets, i, pod) {
		sort_addresses(json_object_get(pod, "addresses"));
		sort_addresses(json_object_get(pod, "notReadyAddresses"));
	}
	return subsets;
}

static int
ep_sync(struct ctrl *ctl, const char *key)
{
	struct ep_ctrl *s = state(ctl);
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *svc = informer_get(s->svcs, ns, name);
	const json_t *cur = informer_get(s->objs, ns, name);
	korch_error *e = NULL;
	int r = 0;
	if (!svc) {
		/* The Service is gone: so is its Endpoints object. */
		if (cur && (r = cm_delete(ctl, K_EP, ns, name, NULL, &e)) == KORCH_ENOTFOUND) {
			korch_error_free(e);
			return 0;
		}
		return r < 0 ? ctrl_fail(ctl, key, r, e) : 0;
	}
	if (!json_is_object(jp_get(svc, "spec.selector")) ||
	    !json_object_size(jp_get(svc, "spec.selector")))
		return 0; /* without a selector the Endpoints are the user's */
	_cleanup_json_ json_t *subsets = desired_subsets(ctl, svc);
	_cleanup_json_ json_t *labels = endpoint_labels(svc);
	if (cur) {
		const json_t *cs = jp_get(cur, "subsets");
		const json_t *cl = jp_get(cur, "metadata.labels");
		bool same_subsets = json_array_size(subsets) == 0 ? json_array_size(cs) == 0
								  : cs && json_equal(cs, subsets);
		bool same_labels = json_object_size(labels) == 0 ? json_object_size(cl) == 0
								 : cl && json_equal(cl, labels);
		if (same_subsets && same_labels)
			return 0;
		_cleanup_json_ json_t *next = json_deep_copy(cur);
		if (json_array_size(subsets))
			json_object_set(next, "subsets", subsets);
		else
			json_object_del(next, "subsets");
		json_t *meta = json_object_get(next, "metadata");
		if (json_object_size(labels))
			json_object_set(meta, "labels", labels);
		else
			json_object_del(meta, "labels");
		r = cm_update(ctl, next, NULL, NULL, &e);
	} else {
		_cleanup_json_ json_t *obj =
			json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind",
				  "Endpoints", "metadata", "name", name, "namespace", ns);
		if (json_object_size(labels))
			json_object_set(json_object_get(obj, "metadata"), "labels", labels);
		if (json_array_size(subsets))
			json_object_set(obj, "subsets", subsets);
		r = cm_create(ctl, obj, NULL, &e);
		if (r == KORCH_EEXISTS || r == KORCH_EFORBIDDEN) {
			korch_error_free(e);
			return 0;
		}
	}
	if (r < 0) {
		cm_event(ctl, svc, "Warning", "FailedToUpdateEndpoint",
			 "Failed to update endpoint %s/%s: %s", ns, name, korch_error_message(e));
		return ctrl_fail(ctl, key, r, e);
	}
	return 0;
}

const struct ctrl_ops endpoints_ops = {
	.name = "endpoint",
	.component = "endpoint-controller",
	.init = ep_init,
	.sync = ep_sync,
	.fini = ep_fini,
};

/* ---- EndpointSlices ---- */

static json_t *
slice_endpoint(const json_t *pod, const json_t *svc)
{
	bool terminating = jp_get(pod, "metadata.deletionTimestamp") != NULL;
	bool serving = jp_true(svc, "spec.publishNotReadyAddresses") || pod_ready(pod);
	json_t *ep =
		json_pack("{s:[s], s:{s:b, s:b, s:b}}", "addresses", jp_str0(pod, "status.podIP"),
			  "conditions", "ready", serving && !terminating, "serving", serving,
			  "terminating", terminating);
	const char *host = pod_hostname(pod, svc);
	if (host)
		json_object_set_new(ep, "hostname", json_string(host));
	json_object_set_new(ep, "targetRef", target_ref(pod));
	if (*jp_str0(pod, "spec.nodeName"))
		json_object_set_new(ep, "nodeName", json_string(jp_str(pod, "spec.nodeName")));
	return ep;
}

/* Groups of endpoints sharing one port list: [{ports, endpoints}], each up to 100. */
static json_t *
desired_slices(struct ctrl *ctl, const json_t *svc)
{
	_cleanup_json_ json_t *pods = selected_pods(ctl, svc);
	json_t *groups = json_array();
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		if (!pod_in_endpoints(pod, true))
			continue;
		_cleanup_json_ json_t *ports = pod_ports(pod, svc);
		if (json_array_size(jp_get(svc, "spec.ports")) && !json_array_size(ports))
			continue;
		json_t *group = NULL;
		size_t j;
		json_t *g;
		json_array_foreach (groups, j, g)
			if (json_equal(json_object_get(g, "ports"), ports) &&
			    json_array_size(json_object_get(g, "endpoints")) <
				    MAX_ENDPOINTS_PER_SLICE)
				group = g;
		if (!group) {
			group = json_pack("{s:O, s:[]}", "ports", ports, "endpoints");
			json_array_append_new(groups, group);
		}
		json_array_append_new(json_object_get(group, "endpoints"),
				      slice_endpoint(pod, svc));
	}
	return groups;
}

struct owned_ctx {
	const char *svc_name;
	json_t *out;
};

static void
collect_owned_slice(const json_t *slice, void *userdata)
{
	struct owned_ctx *o = userdata;
	const json_t *labels = jp_get(slice, "metadata.labels");
	if (streq(json_string_value(json_object_get(labels, "kubernetes.io/service-name")),
		  o->svc_name) &&
	    streq(json_string_value(
			  json_object_get(labels, "endpointslice.kubernetes.io/managed-by")),
		  MANAGED_BY))
		json_array_append(o->out, (json_t *)slice);
}

static json_t *
slice_labels(const json_t *svc)
{
	json_t *labels = endpoint_labels(svc);
	json_object_set_new(labels, "kubernetes.io/service-name",
			    json_string(jp_str0(svc, "metadata.name")));
	json_object_set_new(labels, "endpointslice.kubernetes.io/managed-by",
			    json_string(MANAGED_BY));
	return labels;
}

/* Writes group into slice (an existing one, or a new one when slice is NULL). */
static int
write_slice(struct ctrl *ctl, const json_t *svc, const json_t *slice, const json_t *group,
	    korch_error **err)
{
	_cleanup_json_ json_t *labels = slice_labels(svc);
	const json_t *ports = json_object_get(group, "ports");
	const json_t *eps = json_object_get(group, "endpoints");
	if (slice) {
		const json_t *cp = json_object_get(slice, "ports");
		const json_t *ce = json_object_get(slice, "endpoints");
		bool same_ports = json_array_size(ports) ? cp && json_equal(cp, ports)
							 : json_array_size(cp) == 0;
		bool same_eps =
			json_array_size(eps) ? ce && json_equal(ce, eps) : json_array_size(ce) == 0;
		const json_t *cl = jp_get(slice, "metadata.labels");
		if (same_ports && same_eps && cl && json_equal(cl, labels))
			return 0;
		_cleanup_json_ json_t *next = json_deep_copy(slice);
		json_object_set(next, "ports", (json_t *)ports);
		json_object_set(next, "endpoints", (json_t *)eps);
		json_object_set(json_object_get(next, "metadata"), "labels", labels);
		return cm_update(ctl, next, NULL, NULL, err);
	}
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "%.58s-", jp_str0(svc, "metadata.name"));
	json_t *ref = controller_ref_new(svc, K_SVC);
	_cleanup_json_ json_t *obj = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:O, s:[o]}, s:s, s:O, s:O}", "apiVersion",
		"discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "generateName", prefix,
		"namespace", jp_str0(svc, "metadata.namespace"), "labels", labels,
		"ownerReferences", ref, "addressType", "IPv4", "endpoints", eps, "ports", ports);
	korch_error *e = NULL;
	int r = cm_create(ctl, obj, NULL, &e);
	if (r == KORCH_EFORBIDDEN) {
		korch_error_free(e);
		return 0;
	}
	return error_propagate(err, &e, r);
}

static int
slice_sync(struct ctrl *ctl, const char *key)
{
	struct ep_ctrl *s = state(ctl);
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *svc = informer_get(s->svcs, ns, name);
	_cleanup_json_ json_t *owned = json_array();
	struct owned_ctx o = { name, owned };
	cm_foreach_in_ns(ctl->cm, s->objs, ns, collect_owned_slice, &o);
	korch_error *e = NULL;
	int r = 0;
	size_t i;
	json_t *slice;
	if (!svc || !json_object_size(jp_get(svc, "spec.selector"))) {
		/* Gone, or selector-less: the slices go (the garbage collector would too). */
		json_array_foreach (owned, i, slice) {
			r = cm_delete(ctl, K_EPS, ns, jp_str0(slice, "metadata.name"), NULL, &e);
			if (r < 0 && r != KORCH_ENOTFOUND)
				return ctrl_fail(ctl, key, r, e);
			korch_error_free(e);
			e = NULL;
		}
		return 0;
	}
	_cleanup_json_ json_t *groups = desired_slices(ctl, svc);
	/* A Service with no endpoints keeps one empty (placeholder) slice. */
	if (json_array_size(groups) == 0)
		json_array_append_new(groups, json_pack("{s:[], s:[]}", "ports", "endpoints"));
	/* Slices are reused in name order: their names stay stable across changes. */
	size_t n = json_array_size(owned);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return KORCH_ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = json_array_get(owned, i);
	qsort(v, n, sizeof(*v), by_name);
	size_t k = 0;
	json_t *group;
	json_array_foreach (groups, i, group) {
		if ((r = write_slice(ctl, svc, k < n ? v[k] : NULL, group, &e)) < 0)
			break;
		k++;
	}
	for (; r == 0 && k < n; k++) {
		r = cm_delete(ctl, K_EPS, ns, jp_str0(v[k], "metadata.name"), NULL, &e);
		if (r == KORCH_ENOTFOUND) {
			korch_error_free(e);
			e = NULL;
			r = 0;
		}
	}
	free(v);
	return r < 0 ? ctrl_fail(ctl, key, r, e) : 0;
}

const struct ctrl_ops endpointslice_ops = {
	.name = "endpointslice",
	.component = "endpoint-slice-controller",
	.init = slice_init,
	.sync = slice_sync,
	.fini = ep_fini,
};
