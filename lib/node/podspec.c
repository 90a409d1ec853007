/*
 * podspec.c - decoding a Pod's spec into the typed structs of podspec.h.
 */
#include <stdlib.h>
#include <string.h>

#include "api/podutil.h"
#include "api/quantity.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/util.h"
#include "node/podspec.h"

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static int64_t
int_or(const json_t *obj, const char *key, int64_t fallback)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : fallback;
}

/* A boolean member: 1, 0, or -1 when absent. */
static int
tristate(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : -1;
}

int64_t
podspec_quantity(const json_t *obj, const char *key, bool milli)
{
	const json_t *v = json_object_get(obj, key);
	struct quantity q;
	if (!v || quantity_from_json(v, &q, NULL) < 0)
		return -1;
	return milli ? quantity_milli_value(&q) : quantity_value(&q);
}

/* Resolves a probe's port: a number, or the name of one of the container's ports. */
static void
resolve_port(const json_t *port, const json_t *container, struct handler_spec *h)
{
	if (json_is_integer(port)) {
		h->port = (int)json_integer_value(port);
		return;
	}
	const char *name = json_string_value(port);
	h->port_name = name;
	if (!name)
		return;
	/* A string of digits is a number too (IntOrString written as "8080"). */
	int64_t n;
	if (parse_int64(name, &n) == 0 && n > 0 && n < 65536) {
		h->port = (int)n;
		h->port_name = NULL;
		return;
	}
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(container, "ports"), i, p)
		if (streq(str(p, "name"), name)) {
			h->port = (int)int_or(p, "containerPort", 0);
			return;
		}
}

static int
decode_handler(const json_t *obj, const json_t *container, const char *where,
	       struct handler_spec *h, korch_error **err)
{
	*h = (struct handler_spec){ .type = HANDLER_NONE };
	const json_t *v;
	if ((v = json_object_get(obj, "exec"))) {
		h->type = HANDLER_EXEC;
		if (strv_from_json(json_object_get(v, "command"), &h->command) < 0)
			return error_set(err, KORCH_EINVALID, "%s.exec.command: must be strings",
					 where);
		if (!h->command || !h->command[0]) {
			strv_free(h->command);
			h->command = NULL;
			return error_set(err, KORCH_EINVALID, "%s.exec.command: Required value",
					 where);
		}
	} else if ((v = json_object_get(obj, "httpGet"))) {
		h->type = HANDLER_HTTP;
		h->http_path = str(v, "path") ?: "/";
		h->http_scheme = str(v, "scheme") ?: "HTTP";
		h->host = str(v, "host");
		if (h->host && !*h->host)
			h->host = NULL;
		h->headers = json_object_get(v, "httpHeaders");
		resolve_port(json_object_get(v, "port"), container, h);
	} else if ((v = json_object_get(obj, "tcpSocket"))) {
		h->type = HANDLER_TCP;
		h->host = str(v, "host");
		if (h->host && !*h->host)
			h->host = NULL;
		resolve_port(json_object_get(v, "port"), container, h);
	} else if ((v = json_object_get(obj, "sleep"))) {
		h->type = HANDLER_SLEEP;
		h->sleep_s = int_or(v, "seconds", 0);
	} else if (json_object_get(obj, "grpc")) {
		return error_set(err, KORCH_EUNSUPPORTED,
				 "%s.grpc: gRPC probes are not implemented", where);
	}
	return 0;
}

static void
handler_clear(struct handler_spec *h)
{
	if (h)
		strv_free(h->command);
}

static int
decode_probe(const json_t *obj, const json_t *container, const char *where, struct probe_spec **ret,
	     korch_error **err)
{
	*ret = NULL;
	if (!json_is_object(obj))
		return 0;
	struct probe_spec *p = calloc(1, sizeof(*p));
	if (!p)
		return error_oom(err);
	int r = decode_handler(obj, container, where, &p->handler, err);
	if (r < 0) {
		free(p);
		return r;
	}
	p->initial_delay_s = (int32_t)int_or(obj, "initialDelaySeconds", 0);
	p->timeout_s = (int32_t)MAX(int_or(obj, "timeoutSeconds", 1), 1);
	p->period_s = (int32_t)MAX(int_or(obj, "periodSeconds", 10), 1);
	p->success_threshold = (int32_t)MAX(int_or(obj, "successThreshold", 1), 1);
	p->failure_threshold = (int32_t)MAX(int_or(obj, "failureThreshold", 3), 1);
	p->termination_grace_s = int_or(obj, "terminationGracePeriodSeconds", -1);
	*ret = p;
	return 0;
}

static int
decode_hook(const json_t *lifecycle, const char *key, const json_t *container, const char *where,
	    struct handler_spec **ret, korch_error **err)
{
	*ret = NULL;
	const json_t *obj = json_object_get(lifecycle, key);
	if (!json_is_object(obj))
		return 0;
	struct handler_spec *h = calloc(1, sizeof(*h));
	if (!h)
		return error_oom(err);
	int r = decode_handler(obj, container, where, h, err);
	if (r < 0) {
		free(h);
		return r;
	}
	*ret = h;
	return 0;
}

static void
decode_resources(const json_t *container, struct ctr_resources *res)
{
	const json_t *r = json_object_get(container, "resources");
	const json_t *req = json_object_get(r, "requests");
	const json_t *lim = json_object_get(r, "limits");
	res->cpu_request_milli = podspec_quantity(req, "cpu", true);
	res->cpu_limit_milli = podspec_quantity(lim, "cpu", true);
	res->memory_request = podspec_quantity(req, "memory", false);
	res->memory_limit = podspec_quantity(lim, "memory", false);
	res->ephemeral_request = podspec_quantity(req, "ephemeral-storage", false);
	res->ephemeral_limit = podspec_quantity(lim, "ephemeral-storage", false);
	/* A limit without a request requests the limit (the API's default does that too). */
	if (res->cpu_request_milli < 0)
		res->cpu_request_milli = res->cpu_limit_milli;
	if (res->memory_request < 0)
		res->memory_request = res->memory_limit;
}

/* The container's securityContext over the pod's, field by field, as the kubelet merges them. */
static void
decode_security(const json_t *pod_sc, const json_t *container, struct ctr_spec *c)
{
	const json_t *sc = json_object_get(container, "securityContext");
	c->privileged = json_is_true(json_object_get(sc, "privileged"));
	c->read_only_rootfs = json_is_true(json_object_get(sc, "readOnlyRootFilesystem"));
	c->allow_privilege_escalation = tristate(sc, "allowPrivilegeEscalation");
	c->run_as_user = int_or(sc, "runAsUser", int_or(pod_sc, "runAsUser", -1));
	c->run_as_group = int_or(sc, "runAsGroup", int_or(pod_sc, "runAsGroup", -1));
	int nonroot = tristate(sc, "runAsNonRoot");
	if (nonroot < 0)
		nonroot = tristate(pod_sc, "runAsNonRoot");
	c->run_as_non_root = nonroot == 1;
	const json_t *caps = json_object_get(sc, "capabilities");
	c->cap_add = json_object_get(caps, "add");
	c->cap_drop = json_object_get(caps, "drop");
	const json_t *prof = json_object_get(sc, "seccompProfile");
	if (!prof)
		prof = json_object_get(pod_sc, "seccompProfile");
	c->seccomp_type = str(prof, "type");
	c->seccomp_localhost = str(prof, "localhostProfile");
}

static int
decode_container(const json_t *pod_sc, const json_t *ct, bool init, const char *where,
		 struct ctr_spec *c, korch_error **err)
{
	c->json = ct;
	c->init = init;
	c->name = str(ct, "name");
	c->image = str(ct, "image");
	if (!c->name || !c->image)
		return error_set(err, KORCH_EINVALID, "%s: name and image are required", where);
	c->pull_policy = str(ct, "imagePullPolicy") ?: "IfNotPresent";
	c->sidecar = init && streq(str(ct, "restartPolicy"), "Always");
	c->working_dir = str(ct, "workingDir");
	if (c->working_dir && !*c->working_dir)
		c->working_dir = NULL;
	c->termination_message_path = str(ct, "terminationMessagePath") ?: "/dev/termination-log";
	c->termination_fallback_to_logs =
		streq(str(ct, "terminationMessagePolicy"), "FallbackToLogsOnError");
	decode_resources(ct, &c->res);
	decode_security(pod_sc, ct, c);
	char path[160];
	int r;
	snprintf(path, sizeof(path), "%s.livenessProbe", where);
	if ((r = decode_probe(json_object_get(ct, "livenessProbe"), ct, path, &c->liveness, err)) <
	    0)
		return r;
	snprintf(path, sizeof(path), "%s.readinessProbe", where);
	if ((r = decode_probe(json_object_get(ct, "readinessProbe"), ct, path, &c->readiness,
			      err)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s.startupProbe", where);
	if ((r = decode_probe(json_object_get(ct, "startupProbe"), ct, path, &c->startup, err)) < 0)
		return r;
	const json_t *lc = json_object_get(ct, "lifecycle");
	snprintf(path, sizeof(path), "%s.lifecycle.postStart", where);
	if ((r = decode_hook(lc, "postStart", ct, path, &c->post_start, err)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s.lifecycle.preStop", where);
	return decode_hook(lc, "preStop", ct, path, &c->pre_stop, err);
}

static void
ctr_clear(struct ctr_spec *c)
{
	if (c->liveness)
		handler_clear(&c->liveness->handler);
	if (c->readiness)
		handler_clear(&c->readiness->handler);
	if (c->startup)
		handler_clear(&c->startup->handler);
	free(c->liveness);
	free(c->readiness);
	free(c->startup);
	handler_clear(c->post_start);
	handler_clear(c->pre_stop);
	free(c->post_start);
	free(c->pre_stop);
}

void
podspec_free(struct podspec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_ctrs; i++)
		ctr_clear(&s->ctrs[i]);
	free(s->ctrs);
	json_decref(s->spec_json);
	free(s);
}

/* Adds a container's request or limit to a pod total; -1 (unset) makes a limit total unset. */
static void
add_limit(int64_t *total, int64_t v)
{
	if (*total < 0 || v < 0)
		*total = -1;
	else
		*total += v;
}

static void
pod_totals(struct podspec *s)
{
	int64_t cpu = 0, mem = 0, cpu_lim = 0, mem_lim = 0;
	int64_t init_cpu = 0, init_mem = 0, init_cpu_lim = 0, init_mem_lim = 0;
	for (size_t i = 0; i < s->n_ctrs; i++) {
		const struct ctr_resources *r = &s->ctrs[i].res;
		if (s->ctrs[i].init) {
			init_cpu = MAX(init_cpu, r->cpu_request_milli);
			init_mem = MAX(init_mem, r->memory_request);
			init_cpu_lim = r->cpu_limit_milli < 0 || init_cpu_lim < 0
					       ? -1
					       : MAX(init_cpu_lim, r->cpu_limit_milli);
			init_mem_lim = r->memory_limit < 0 || init_mem_lim < 0
					       ? -1
					       : MAX(init_mem_lim, r->memory_limit);
			continue;
		}
		cpu += MAX(r->cpu_request_milli, 0);
		mem += MAX(r->memory_request, 0);
		add_limit(&cpu_lim, r->cpu_limit_milli);
		add_limit(&mem_lim, r->memory_limit);
	}
	s->cpu_request_milli = MAX(cpu, init_cpu);
	s->memory_request = MAX(mem, init_mem);
	s->cpu_limit_milli = cpu_lim < 0 || init_cpu_lim < 0 ? -1 : MAX(cpu_lim, init_cpu_lim);
	s->memory_limit = mem_lim < 0 || init_mem_lim < 0 ? -1 : MAX(mem_lim, init_mem_lim);
}

int
podspec_decode(json_t *pod, struct podspec **ret, korch_error **err)
{
	const json_t *spec = json_object_get(pod, "spec");
	if (!json_is_object(spec))
		return error_set(err, KORCH_EINVALID, "spec: Required value");
	_cleanup_(podspec_freep) struct podspec *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	s->spec_json = json_incref((json_t *)spec);
	const char *rp = str(spec, "restartPolicy");
	s->restart = streq(rp, "Never")       ? RESTART_NEVER
		     : streq(rp, "OnFailure") ? RESTART_ON_FAILURE
					      : RESTART_ALWAYS;
	s->grace_s = MAX(int_or(spec, "terminationGracePeriodSeconds", 30), 0);
	s->active_deadline_s = int_or(spec, "activeDeadlineSeconds", -1);
	s->host_network = json_is_true(json_object_get(spec, "hostNetwork"));
	s->host_pid = json_is_true(json_object_get(spec, "hostPID"));
	s->host_ipc = json_is_true(json_object_get(spec, "hostIPC"));
	s->share_pid = json_is_true(json_object_get(spec, "shareProcessNamespace"));
	s->enable_service_links = !json_is_false(json_object_get(spec, "enableServiceLinks"));
	s->hostname = str(spec, "hostname");
	if (s->hostname && !*s->hostname)
		s->hostname = NULL;
	s->subdomain = str(spec, "subdomain");
	if (s->subdomain && !*s->subdomain)
		s->subdomain = NULL;
	s->service_account = str(spec, "serviceAccountName");
	s->dns_policy = str(spec, "dnsPolicy") ?: "ClusterFirst";
	s->priority = (int32_t)int_or(spec, "priority", 0);
	s->qos = pod_qos_class(pod);
	const json_t *pod_sc = json_object_get(spec, "securityContext");
	s->fs_group = int_or(pod_sc, "fsGroup", -1);
	s->supplemental_groups = json_object_get(pod_sc, "supplementalGroups");
	s->volumes = json_object_get(spec, "volumes");
	const json_t *inits = json_object_get(spec, "initContainers");
	const json_t *apps = json_object_get(spec, "containers");
	s->n_init = json_array_size(inits);
	size_t n = s->n_init + json_array_size(apps);
	if (json_array_size(apps) == 0)
		return error_set(err, KORCH_EINVALID, "spec.containers: Required value");
	if (!(s->ctrs = calloc(n, sizeof(*s->ctrs))))
		return error_oom(err);
	for (size_t i = 0; i < n; i++) {
		bool init = i < s->n_init;
		size_t idx = init ? i : i - s->n_init;
		char where[64];
		snprintf(where, sizeof(where), "spec.%s[%zu]",
			 init ? "initContainers" : "containers", idx);
		s->n_ctrs = i + 1;
		int r = decode_container(pod_sc, json_array_get(init ? inits : apps, idx), init,
					 where, &s->ctrs[i], err);
		if (r < 0)
			return r;
	}
	pod_totals(s);
	*ret = steal_pointer(&s);
	return 0;
}

char *
podspec_mutable_key(const json_t *pod)
{
	const json_t *spec = json_object_get(pod, "spec");
	struct strbuf sb = STRBUF_INIT;
	strbuf_printf(&sb, "%lld/%lld", (long long)int_or(spec, "activeDeadlineSeconds", -1),
		      (long long)int_or(spec, "terminationGracePeriodSeconds", -1));
	static const char *const lists[] = { "initContainers", "containers" };
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(spec, lists[l]), i, c)
			strbuf_printf(&sb, "|%s", str(c, "image") ?: "");
	}
	if (sb.oom) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

const struct ctr_spec *
podspec_find(const struct podspec *s, const char *name)
{
	for (size_t i = 0; i < s->n_ctrs; i++)
		if (streq(s->ctrs[i].name, name))
			return &s->ctrs[i];
	return NULL;
}
