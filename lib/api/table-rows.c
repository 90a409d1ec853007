/*
 * table-rows.c - the cells of each kind's row in a Table, as kube-apiserver's printers
 * (pkg/printers/internalversion) fill them: pods' status and restarts, workloads' replicas,
 * Services' ports, nodes' roles and versions, and the rest; table.c holds the columns.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "api/table-internal.h"
#include "api/table.h"
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"

/* ---- small accessors ---- */

static const char *
str_at(const json_t *obj, const char *path, const char *fallback)
{
	const json_t *v = json_at_path(obj, path);
	return json_is_string(v) ? json_string_value(v) : fallback;
}

static json_int_t
int_at(const json_t *obj, const char *path, json_int_t fallback)
{
	const json_t *v = json_at_path(obj, path);
	return json_is_integer(v) ? json_integer_value(v) : fallback;
}

static void
cell_str(struct row_ctx *c, const char *s)
{
	json_array_append_new(c->cells, json_string(s ? s : ""));
}

static void
cell_int(struct row_ctx *c, json_int_t v)
{
	json_array_append_new(c->cells, json_integer(v));
}

static void cell_fmt(struct row_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
cell_fmt(struct row_ctx *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cell_str(c, buf);
}

void
human_duration(int64_t ns, char buf[static 32])
{
	int64_t seconds = ns / NSEC_PER_SEC;
	if (seconds < -1) {
		snprintf(buf, 32, "<invalid>");
		return;
	}
	if (seconds < 0)
		seconds = 0;
	int64_t minutes = seconds / 60, hours = seconds / 3600, days = hours / 24;
	if (seconds < 120)
		snprintf(buf, 32, "%llds", (long long)seconds);
	else if (minutes < 10 && seconds % 60)
		snprintf(buf, 32, "%lldm%llds", (long long)minutes, (long long)(seconds % 60));
	else if (minutes < 180)
		snprintf(buf, 32, "%lldm", (long long)minutes);
	else if (hours < 8 && minutes % 60)
		snprintf(buf, 32, "%lldh%lldm", (long long)hours, (long long)(minutes % 60));
	else if (hours < 48)
		snprintf(buf, 32, "%lldh", (long long)hours);
	else if (hours < 24 * 8 && hours % 24)
		snprintf(buf, 32, "%lldd%lldh", (long long)days, (long long)(hours % 24));
	else if (hours < 24 * 365 * 2)
		snprintf(buf, 32, "%lldd", (long long)days);
	else if (hours < 24 * 365 * 8 && days % 365)
		snprintf(buf, 32, "%lldy%lldd", (long long)(days / 365), (long long)(days % 365));
	else
		snprintf(buf, 32, "%lldy", (long long)(days / 365));
}

/* translateTimestampSince: "<unknown>" for a missing time. */
static void
cell_since(struct row_ctx *c, const char *path)
{
	int64_t t;
	const char *s = str_at(c->obj, path, NULL);
	if (!s || parse_rfc3339(s, &t) < 0) {
		cell_str(c, "<unknown>");
		return;
	}
	char buf[32];
	human_duration(c->now_ns - t, buf);
	cell_str(c, buf);
}

static void
cell_age(struct row_ctx *c)
{
	cell_since(c, "metadata.creationTimestamp");
}

static void
cell_name(struct row_ctx *c)
{
	cell_str(c, str_at(c->obj, "metadata.name", ""));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* labels.FormatLabels: "k=v,k2=v2" sorted by key, "<none>" when empty. */
void
table_cell_labels(struct row_ctx *c, const json_t *map)
{
	size_t n = json_is_object(map) ? json_object_size(map) : 0;
	if (n == 0) {
		cell_str(c, "<none>");
		return;
	}
	const char **keys = calloc(n, sizeof(*keys));
	if (!keys) {
		cell_str(c, "");
		return;
	}
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)map, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	struct strbuf sb = STRBUF_INIT;
	for (i = 0; i < n; i++)
		strbuf_printf(&sb, "%s%s=%s", i ? "," : "", keys[i],
			      json_string_value(json_object_get(map, keys[i])) ?: "");
	cell_str(c, strbuf_str(&sb));
	strbuf_free(&sb);
	free(keys);
}

/* metav1.FormatLabelSelector: the selector's text form, "<none>" when empty or absent. */
static void
cell_label_selector(struct row_ctx *c, const json_t *sel, bool none_when_empty)
{
	struct label_selector *ls = NULL;
	char *text = NULL;
	if (sel && label_selector_from_json(sel, &ls, NULL) == 0)
		text = label_selector_string(ls);
	label_selector_free(ls);
	if (!text || !*text)
		cell_str(c, none_when_empty ? "<none>" : "");
	else
		cell_str(c, text);
	free(text);
}

/* layoutContainerCells: names and images of a pod template, comma-joined. */
static void
cells_containers(struct row_ctx *c, const char *containers_path)
{
	const json_t *containers = json_at_path(c->obj, containers_path);
	struct strbuf names = STRBUF_INIT, images = STRBUF_INIT;
	size_t i;
	json_t *ct;
	json_array_foreach (containers, i, ct) {
		strbuf_printf(&names, "%s%s", i ? "," : "", str_at(ct, "name", ""));
		strbuf_printf(&images, "%s%s", i ? "," : "", str_at(ct, "image", ""));
	}
	cell_str(c, strbuf_str(&names));
	cell_str(c, strbuf_str(&images));
	strbuf_free(&names);
	strbuf_free(&images);
}

static bool
has_true_condition(const json_t *obj, const char *type)
{
	size_t i;
	json_t *cond;
	json_array_foreach (json_at_path(obj, "status.conditions"), i, cond)
		if (streq(str_at(cond, "type", NULL), type) &&
		    streq(str_at(cond, "status", NULL), "True"))
			return true;
	return false;
}

/* ---- pods ---- */

static bool
is_restartable_init(const json_t *pod, const char *name)
{
	size_t i;
	json_t *ic;
	json_array_foreach (json_at_path(pod, "spec.initContainers"), i, ic)
		if (streq(str_at(ic, "name", NULL), name))
			return streq(str_at(ic, "restartPolicy", NULL), "Always");
	return false;
}

static void
later_of(int64_t *latest, const json_t *status)
{
	int64_t t;
	const char *s = str_at(status, "lastState.terminated.finishedAt", NULL);
	if (s && parse_rfc3339(s, &t) == 0 && t > *latest)
		*latest = t;
}

/* The reason printPod shows for a terminated container without one. */
static void
exit_reason(char *buf, size_t len, const char *prefix, const json_t *term)
{
	json_int_t sig = int_at(term, "signal", 0);
	if (sig)
		snprintf(buf, len, "%sSignal:%lld", prefix, (long long)sig);
	else
		snprintf(buf, len, "%sExitCode:%lld", prefix,
			 (long long)int_at(term, "exitCode", 0));
}

/* Init containers: sets reason and returns true while the pod is still initializing. */
static bool
pod_init_state(const json_t *pod, char *reason, size_t len, int *ready, json_int_t *restarts,
	       int64_t *last_restart, json_int_t *sidecar_restarts, int64_t *sidecar_last)
{
	size_t i, n_init = json_array_size(json_at_path(pod, "spec.initContainers"));
	json_t *st;
	json_array_foreach (json_at_path(pod, "status.initContainerStatuses"), i, st) {
		const char *name = str_at(st, "name", "");
		bool sidecar = is_restartable_init(pod, name);
		*restarts += int_at(st, "restartCount", 0);
		later_of(last_restart, st);
		if (sidecar) {
			*sidecar_restarts += int_at(st, "restartCount", 0);
			later_of(sidecar_last, st);
		}
		const json_t *term = json_at_path(st, "state.terminated");
		const char *waiting = str_at(st, "state.waiting.reason", "");
		if (term && int_at(term, "exitCode", 0) == 0)
			continue;
		if (sidecar && json_is_true(json_at_path(st, "started"))) {
			if (json_is_true(json_at_path(st, "ready")))
				(*ready)++;
			continue;
		}
		if (term) {
			const char *r = str_at(term, "reason", "");
			if (*r)
				snprintf(reason, len, "Init:%s", r);
			else
				exit_reason(reason, len, "Init:", term);
		} else if (*waiting && strcmp(waiting, "PodInitializing") != 0) {
			snprintf(reason, len, "Init:%s", waiting);
		} else {
			snprintf(reason, len, "Init:%zu/%zu", i, n_init);
		}
		return true;
	}
	return false;
}

void
table_row_pod(struct row_ctx *c)
{
	const json_t *pod = c->obj;
	char reason[256];
	snprintf(reason, sizeof(reason), "%s", str_at(pod, "status.phase", ""));
	const char *status_reason = str_at(pod, "status.reason", "");
	if (*status_reason)
		snprintf(reason, sizeof(reason), "%s", status_reason);
	size_t i;
	json_t *cond;
	json_array_foreach (json_at_path(pod, "status.conditions"), i, cond)
		if (streq(str_at(cond, "type", NULL), "PodScheduled") &&
		    streq(str_at(cond, "reason", NULL), "SchedulingGated"))
			snprintf(reason, sizeof(reason), "SchedulingGated");

	int total = (int)json_array_size(json_at_path(pod, "spec.containers"));
	json_t *ic;
	json_array_foreach (json_at_path(pod, "spec.initContainers"), i, ic)
		if (streq(str_at(ic, "restartPolicy", NULL), "Always"))
			total++;
	int ready = 0;
	json_int_t restarts = 0, sidecar_restarts = 0;
	int64_t last_restart = 0, sidecar_last = 0;
	bool initializing = pod_init_state(pod, reason, sizeof(reason), &ready, &restarts,
					   &last_restart, &sidecar_restarts, &sidecar_last);
	if (!initializing || has_true_condition(pod, "Initialized")) {
		restarts = sidecar_restarts;
		last_restart = sidecar_last;
		bool has_running = false;
		const json_t *statuses = json_at_path(pod, "status.containerStatuses");
		for (size_t k = json_array_size(statuses); k-- > 0;) {
			const json_t *st = json_array_get(statuses, k);
			restarts += int_at(st, "restartCount", 0);
			later_of(&last_restart, st);
			const char *waiting = str_at(st, "state.waiting.reason", "");
			const json_t *term = json_at_path(st, "state.terminated");
			if (*waiting)
				snprintf(reason, sizeof(reason), "%s", waiting);
			else if (term && *str_at(term, "reason", ""))
				snprintf(reason, sizeof(reason), "%s", str_at(term, "reason", ""));
			else if (term)
				exit_reason(reason, sizeof(reason), "", term);
			else if (json_is_true(json_at_path(st, "ready")) &&
				 json_at_path(st, "state.running")) {
				has_running = true;
				ready++;
			}
		}
		if (strcmp(reason, "Completed") == 0 && has_running)
			snprintf(reason, sizeof(reason), "%s",
				 has_true_condition(pod, "Ready") ? "Running" : "NotReady");
	}
	const char *phase = str_at(pod, "status.phase", "");
	if (json_at_path(pod, "metadata.deletionTimestamp")) {
		if (strcmp(status_reason, "NodeLost") == 0)
			snprintf(reason, sizeof(reason), "Unknown");
		else if (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0)
			snprintf(reason, sizeof(reason), "Terminating");
	}

	cell_name(c);
	cell_fmt(c, "%d/%d", ready, total);
	cell_str(c, reason);
	if (restarts && last_restart) {
		char ago[32];
		human_duration(c->now_ns - last_restart, ago);
		cell_fmt(c, "%lld (%s ago)", (long long)restarts, ago);
	} else {
		cell_fmt(c, "%lld", (long long)restarts);
	}
	cell_age(c);
	const char *ip = str_at(json_array_get(json_at_path(pod, "status.podIPs"), 0), "ip", "");
	cell_str(c, *ip ? ip : "<none>");
	const char *node = str_at(pod, "spec.nodeName", "");
	cell_str(c, *node ? node : "<none>");
	const char *nominated = str_at(pod, "status.nominatedNodeName", "");
	cell_str(c, *nominated ? nominated : "<none>");
	const json_t *gates = json_at_path(pod, "spec.readinessGates");
	if (json_array_size(gates) == 0) {
		cell_str(c, "<none>");
	} else {
		int true_gates = 0;
		json_t *g;
		json_array_foreach (gates, i, g)
			if (has_true_condition(pod, str_at(g, "conditionType", "")))
				true_gates++;
		cell_fmt(c, "%d/%zu", true_gates, json_array_size(gates));
	}
}

/* ---- workloads ---- */

void
table_row_deployment(struct row_ctx *c)
{
	cell_name(c);
	cell_fmt(c, "%lld/%lld", (long long)int_at(c->obj, "status.readyReplicas", 0),
		 (long long)int_at(c->obj, "spec.replicas", 0));
	cell_int(c, int_at(c->obj, "status.updatedReplicas", 0));
	cell_int(c, int_at(c->obj, "status.availableReplicas", 0));
	cell_age(c);
	cells_containers(c, "spec.template.spec.containers");
	cell_label_selector(c, json_at_path(c->obj, "spec.selector"), false);
}

void
table_row_replicaset(struct row_ctx *c)
{
	cell_name(c);
	cell_int(c, int_at(c->obj, "spec.replicas", 0));
	cell_int(c, int_at(c->obj, "status.replicas", 0));
	cell_int(c, int_at(c->obj, "status.readyReplicas", 0));
	cell_age(c);
	cells_containers(c, "spec.template.spec.containers");
	if (strcmp(str_at(c->obj, "kind", ""), "ReplicationController") == 0)
		table_cell_labels(c, json_at_path(c->obj, "spec.selector"));
	else
		cell_label_selector(c, json_at_path(c->obj, "spec.selector"), true);
}

void
table_row_statefulset(struct row_ctx *c)
{
	cell_name(c);
	cell_fmt(c, "%lld/%lld", (long long)int_at(c->obj, "status.readyReplicas", 0),
		 (long long)int_at(c->obj, "spec.replicas", 0));
	cell_age(c);
	cells_containers(c, "spec.template.spec.containers");
}

void
table_row_daemonset(struct row_ctx *c)
{
	cell_name(c);
	cell_int(c, int_at(c->obj, "status.desiredNumberScheduled", 0));
	cell_int(c, int_at(c->obj, "status.currentNumberScheduled", 0));
	cell_int(c, int_at(c->obj, "status.numberReady", 0));
	cell_int(c, int_at(c->obj, "status.updatedNumberScheduled", 0));
	cell_int(c, int_at(c->obj, "status.numberAvailable", 0));
	table_cell_labels(c, json_at_path(c->obj, "spec.template.spec.nodeSelector"));
	cell_age(c);
	cells_containers(c, "spec.template.spec.containers");
	cell_label_selector(c, json_at_path(c->obj, "spec.selector"), true);
}

void
table_row_job(struct row_ctx *c)
{
	const json_t *job = c->obj;
	const char *status = "Running";
	if (has_true_condition(job, "Complete"))
		status = "Complete";
	else if (has_true_condition(job, "Failed"))
		status = "Failed";
	else if (json_at_path(job, "metadata.deletionTimestamp"))
		status = "Terminating";
	else if (has_true_condition(job, "Suspended"))
		status = "Suspended";
	else if (has_true_condition(job, "FailureTarget"))
		status = "FailureTarget";
	else if (has_true_condition(job, "SuccessCriteriaMet"))
		status = "SuccessCriteriaMet";
	cell_name(c);
	cell_str(c, status);
	long long succeeded = (long long)int_at(job, "status.succeeded", 0);
	const json_t *completions = json_at_path(job, "spec.completions");
	json_int_t parallelism = int_at(job, "spec.parallelism", 0);
	if (json_is_integer(completions))
		cell_fmt(c, "%lld/%lld", succeeded, (long long)json_integer_value(completions));
	else if (parallelism > 1)
		cell_fmt(c, "%lld/1 of %lld", succeeded, (long long)parallelism);
	else
		cell_fmt(c, "%lld/1", succeeded);
	int64_t start, end;
	char buf[32] = "";
	if (parse_rfc3339(str_at(job, "status.startTime", ""), &start) == 0) {
		if (parse_rfc3339(str_at(job, "status.completionTime", ""), &end) < 0)
			end = c->now_ns;
		human_duration(end - start, buf);
	}
	cell_str(c, buf);
	cell_age(c);
	cells_containers(c, "spec.template.spec.containers");
	cell_label_selector(c, json_at_path(job, "spec.selector"), true);
}

void
table_row_cronjob(struct row_ctx *c)
{
	const json_t *cj = c->obj;
	cell_name(c);
	cell_str(c, str_at(cj, "spec.schedule", ""));
	cell_str(c, str_at(cj, "spec.timeZone", "<none>"));
	const json_t *suspend = json_at_path(cj, "spec.suspend");
	cell_str(c,
		 json_is_boolean(suspend) ? (json_is_true(suspend) ? "True" : "False") : "<unset>");
	cell_int(c, (json_int_t)json_array_size(json_at_path(cj, "status.active")));
	if (json_at_path(cj, "status.lastScheduleTime"))
		cell_since(c, "status.lastScheduleTime");
	else
		cell_str(c, "<none>");
	cell_age(c);
	cells_containers(c, "spec.jobTemplate.spec.template.spec.containers");
	cell_label_selector(c, json_at_path(cj, "spec.jobTemplate.spec.selector"), true);
}

void
table_row_controllerrevision(struct row_ctx *c)
{
	cell_name(c);
	const json_t *owner = NULL, *ref;
	size_t i;
	json_array_foreach (json_at_path(c->obj, "metadata.ownerReferences"), i, ref)
		if (json_is_true(json_at_path(ref, "controller")))
			owner = ref;
	if (!owner) {
		cell_str(c, "<none>");
	} else {
		char kind[64];
		snprintf(kind, sizeof(kind), "%s", str_at(owner, "kind", ""));
		for (char *p = kind; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		const char *api_version = str_at(owner, "apiVersion", "");
		const char *slash = strchr(api_version, '/');
		cell_fmt(c, "%s.%.*s/%s", kind, slash ? (int)(slash - api_version) : 0, api_version,
			 str_at(owner, "name", ""));
	}
	cell_int(c, int_at(c->obj, "revision", 0));
	cell_age(c);
}

/* ---- services and endpoints ---- */

void
table_row_service(struct row_ctx *c)
{
	const json_t *svc = c->obj;
	const char *type = str_at(svc, "spec.type", "");
	cell_name(c);
	cell_str(c, type);
	const json_t *first_ip = json_array_get(json_at_path(svc, "spec.clusterIPs"), 0);
	cell_str(c, json_is_string(first_ip) ? json_string_value(first_ip)
					     : str_at(svc, "spec.clusterIP", "<none>"));
	struct strbuf ext = STRBUF_INIT;
	size_t i;
	json_t *v;
	if (strcmp(type, "ExternalName") == 0) {
		strbuf_puts(&ext, str_at(svc, "spec.externalName", ""));
	} else {
		if (strcmp(type, "LoadBalancer") == 0)
			json_array_foreach (json_at_path(svc, "status.loadBalancer.ingress"), i, v)
				strbuf_printf(&ext, "%s%s", ext.len ? "," : "",
					      str_at(v, "ip", str_at(v, "hostname", "")));
		json_array_foreach (json_at_path(svc, "spec.externalIPs"), i, v)
			strbuf_printf(&ext, "%s%s", ext.len ? "," : "", json_string_value(v) ?: "");
		if (!ext.len)
			strbuf_puts(&ext,
				    strcmp(type, "LoadBalancer") == 0 ? "<pending>" : "<none>");
	}
	cell_str(c, strbuf_str(&ext));
	strbuf_free(&ext);
	struct strbuf ports = STRBUF_INIT;
	json_array_foreach (json_at_path(svc, "spec.ports"), i, v) {
		json_int_t node_port = int_at(v, "nodePort", 0);
		strbuf_printf(&ports, "%s%lld", i ? "," : "", (long long)int_at(v, "port", 0));
		if (node_port)
			strbuf_printf(&ports, ":%lld", (long long)node_port);
		strbuf_printf(&ports, "/%s", str_at(v, "protocol", "TCP"));
	}
	cell_str(c, ports.len ? strbuf_str(&ports) : "<none>");
	strbuf_free(&ports);
	cell_age(c);
	table_cell_labels(c, json_at_path(svc, "spec.selector"));
}

/* formatEndpoints: up to three ip:port, then " + N more...". */
void
table_row_endpoints(struct row_ctx *c)
{
	cell_name(c);
	const json_t *subsets = json_at_path(c->obj, "subsets");
	struct strbuf sb = STRBUF_INIT;
	int shown = 0, count = 0;
	size_t i, j, k;
	json_t *ss, *addr, *port;
	json_array_foreach (subsets, i, ss) {
		const json_t *ports = json_at_path(ss, "ports"),
			     *addrs = json_at_path(ss, "addresses");
		if (json_array_size(ports) == 0) {
			count += (int)json_array_size(addrs);
			json_array_foreach (addrs, j, addr)
				if (shown < 3)
					strbuf_printf(&sb, "%s%s", shown++ ? "," : "",
						      str_at(addr, "ip", ""));
			continue;
		}
		json_array_foreach (ports, k, port) {
			count += (int)json_array_size(addrs);
			json_array_foreach (addrs, j, addr) {
				if (shown >= 3)
					continue;
				const char *ip = str_at(addr, "ip", "");
				strbuf_printf(&sb, strchr(ip, ':') ? "%s[%s]:%lld" : "%s%s:%lld",
					      shown++ ? "," : "", ip,
					      (long long)int_at(port, "port", 0));
			}
		}
	}
	if (json_array_size(subsets) == 0)
		strbuf_puts(&sb, "<none>");
	else if (count > 3)
		strbuf_printf(&sb, " + %d more...", count - 3);
	cell_str(c, strbuf_str(&sb));
	strbuf_free(&sb);
	cell_age(c);
}

void
table_row_endpointslice(struct row_ctx *c)
{
	cell_name(c);
	cell_str(c, str_at(c->obj, "addressType", ""));
	struct strbuf sb = STRBUF_INIT;
	size_t i, j;
	json_t *v, *a;
	json_array_foreach (json_at_path(c->obj, "ports"), i, v)
		strbuf_printf(&sb, "%s%lld", i ? "," : "", (long long)int_at(v, "port", 0));
	cell_str(c, sb.len ? strbuf_str(&sb) : "<unset>");
	strbuf_truncate(&sb, 0);
	int count = 0;
	json_array_foreach (json_at_path(c->obj, "endpoints"), i, v)
		json_array_foreach (json_at_path(v, "addresses"), j, a)
			if (count++ < 3)
				strbuf_printf(&sb, "%s%s", count > 1 ? "," : "",
					      json_string_value(a) ?: "");
	if (count > 3)
		strbuf_printf(&sb, " + %d more...", count - 3);
	cell_str(c, count ? strbuf_str(&sb) : "<unset>");
	strbuf_free(&sb);
	cell_age(c);
}

/* ---- cluster objects ---- */

void
table_row_node(struct row_ctx *c)
{
	const json_t *node = c->obj;
	struct strbuf status = STRBUF_INIT;
	size_t i;
	json_t *v;
	json_array_foreach (json_at_path(node, "status.conditions"), i, v)
		if (streq(str_at(v, "type", NULL), "Ready"))
			strbuf_puts(&status, streq(str_at(v, "status", NULL), "True") ? "Ready"
										      : "NotReady");
	if (!status.len)
		strbuf_puts(&status, "Unknown");
	if (json_is_true(json_at_path(node, "spec.unschedulable")))
		strbuf_puts(&status, ",SchedulingDisabled");
	/* Roles from node-role.kubernetes.io/ROLE and kubernetes.io/role labels, sorted. */
	const json_t *labels = json_at_path(node, "metadata.labels");
	const char *roles[64];
	size_t n_roles = 0;
	const char *key;
	json_object_foreach ((json_t *)labels, key, v) {
		const char *role = startswith(key, "node-role.kubernetes.io/");
		if (role && *role && n_roles < 64)
			roles[n_roles++] = role;
		else if (strcmp(key, "kubernetes.io/role") == 0 && json_string_value(v) &&
			 *json_string_value(v) && n_roles < 64)
			roles[n_roles++] = json_string_value(v);
	}
	qsort(roles, n_roles, sizeof(*roles), cmp_str);
	struct strbuf role_text = STRBUF_INIT;
	for (i = 0; i < n_roles; i++)
		if (i == 0 || strcmp(roles[i], roles[i - 1]) != 0)
			strbuf_printf(&role_text, "%s%s", role_text.len ? "," : "", roles[i]);
	cell_name(c);
	cell_str(c, strbuf_str(&status));
	cell_str(c, role_text.len ? strbuf_str(&role_text) : "<none>");
	cell_age(c);
	cell_str(c, str_at(node, "status.nodeInfo.kubeletVersion", ""));
	const char *internal = "<none>", *external = "<none>";
	json_array_foreach (json_at_path(node, "status.addresses"), i, v) {
		if (streq(str_at(v, "type", NULL), "InternalIP") && strcmp(internal, "<none>") == 0)
			internal = str_at(v, "address", "<none>");
		if (streq(str_at(v, "type", NULL), "ExternalIP") && strcmp(external, "<none>") == 0)
			external = str_at(v, "address", "<none>");
	}
	cell_str(c, internal);
	cell_str(c, external);
	static const char *const info[] = { "osImage", "kernelVersion", "containerRuntimeVersion" };
	for (i = 0; i < ARRAY_SIZE(info); i++) {
		char path[64];
		snprintf(path, sizeof(path), "status.nodeInfo.%s", info[i]);
		const char *s = str_at(node, path, "");
		cell_str(c, *s ? s : "<unknown>");
	}
	strbuf_free(&status);
	strbuf_free(&role_text);
}

void
table_row_namespace(struct row_ctx *c)
{
	cell_name(c);
	cell_str(c, str_at(c->obj, "status.phase", ""));
	cell_age(c);
}

void
table_row_event(struct row_ctx *c)
{
	const json_t *ev = c->obj;
	char first[32], last[32];
	int64_t t;
	const char *first_s = str_at(ev, "firstTimestamp", NULL);
	if (!first_s || !*first_s)
		first_s = str_at(ev, "eventTime", NULL);
	if (first_s && parse_rfc3339(first_s, &t) == 0)
		human_duration(c->now_ns - t, first);
	else
		snprintf(first, sizeof(first), "<unknown>");
	const char *last_s = str_at(ev, "lastTimestamp", NULL);
	if (last_s && parse_rfc3339(last_s, &t) == 0)
		human_duration(c->now_ns - t, last);
	else
		snprintf(last, sizeof(last), "%s", first);
	json_int_t count = int_at(ev, "count", 0);
	if (json_at_path(ev, "series")) {
		if (parse_rfc3339(str_at(ev, "series.lastObservedTime", ""), &t) == 0)
			human_duration(c->now_ns - t, last);
		count = int_at(ev, "series.count", 0);
	} else if (count == 0) {
		count = 1;
	}
	char kind[128];
	snprintf(kind, sizeof(kind), "%s", str_at(ev, "involvedObject.kind", ""));
	for (char *p = kind; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *obj_name = str_at(ev, "involvedObject.name", "");
	cell_str(c, last);
	cell_str(c, str_at(ev, "type", ""));
	cell_str(c, str_at(ev, "reason", ""));
	if (*obj_name)
		cell_fmt(c, "%s/%s", kind, obj_name);
	else
		cell_str(c, kind);
	cell_str(c, str_at(ev, "involvedObject.fieldPath", ""));
	const char *component = str_at(ev, "source.component", "");
	if (!*component)
		component = str_at(ev, "reportingComponent", "");
	const char *host = str_at(ev, "source.host", "");
	if (!*host)
		host = str_at(ev, "reportingInstance", "");
	if (*host)
		cell_fmt(c, "%s, %s", component, host);
	else
		cell_str(c, component);
	/* strings.TrimSpace of the message */
	const char *msg = str_at(ev, "message", "");
	while (isspace((unsigned char)*msg))
		msg++;
	size_t len = strlen(msg);
	while (len && isspace((unsigned char)msg[len - 1]))
		len--;
	cell_fmt(c, "%.*s", (int)len, msg);
	cell_str(c, first);
	cell_int(c, count);
	cell_name(c);
}

void
table_row_secret(struct row_ctx *c)
{
	cell_name(c);
	cell_str(c, str_at(c->obj, "type", ""));
	cell_int(c, (json_int_t)json_object_size(json_at_path(c->obj, "data")));
	cell_age(c);
}

void
table_row_configmap(struct row_ctx *c)
{
	cell_name(c);
	cell_int(c, (json_int_t)(json_object_size(json_at_path(c->obj, "data")) +
				 json_object_size(json_at_path(c->obj, "binaryData"))));
	cell_age(c);
}

void
table_row_serviceaccount(struct row_ctx *c)
{
	cell_name(c);
	cell_int(c, (json_int_t)json_array_size(json_at_path(c->obj, "secrets")));
	cell_age(c);
}

/* GetAccessModesAsString: the modes present, in Kubernetes' fixed order. */
static void
cell_access_modes(struct row_ctx *c, const json_t *modes)
{
	static const struct {
		const char *mode, *abbrev;
	} order[] = { { "ReadWriteOnce", "RWO" },
		      { "ReadOnlyMany", "ROX" },
		      { "ReadWriteMany", "RWX" },
		      { "ReadWriteOncePod", "RWOP" } };
	struct strbuf sb = STRBUF_INIT;
	for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
		size_t i;
		json_t *m;
		json_array_foreach (modes, i, m)
			if (streq(json_string_value(m), order[k].mode)) {
				strbuf_printf(&sb, "%s%s", sb.len ? "," : "", order[k].abbrev);
				break;
			}
	}
	cell_str(c, strbuf_str(&sb));
	strbuf_free(&sb);
}

static const char *
storage_class_of(const json_t *obj)
{
	const char *sc = str_at(obj, "spec.storageClassName", NULL);
	if (sc)
		return sc;
	const json_t *ann = json_at_path(obj, "metadata.annotations");
	const json_t *beta =
		json_is_object(ann)
			? json_object_get(ann, "volume.beta.kubernetes.io/storage-class")
			: NULL;
	return json_is_string(beta) ? json_string_value(beta) : "";
}

void
table_row_pv(struct row_ctx *c)
{
	const json_t *pv = c->obj;
	cell_name(c);
	cell_str(c, str_at(pv, "spec.capacity.storage", "0"));
	cell_access_modes(c, json_at_path(pv, "spec.accessModes"));
	cell_str(c, str_at(pv, "spec.persistentVolumeReclaimPolicy", ""));
	cell_str(c, json_at_path(pv, "metadata.deletionTimestamp")
			    ? "Terminating"
			    : str_at(pv, "status.phase", ""));
	if (json_at_path(pv, "spec.claimRef"))
		cell_fmt(c, "%s/%s", str_at(pv, "spec.claimRef.namespace", ""),
			 str_at(pv, "spec.claimRef.name", ""));
	else
		cell_str(c, "");
	cell_str(c, storage_class_of(pv));
	cell_str(c, str_at(pv, "spec.volumeAttributesClassName", "<unset>"));
	cell_str(c, str_at(pv, "status.reason", ""));
	cell_age(c);
	cell_str(c, str_at(pv, "spec.volumeMode", "<unset>"));
}

void
table_row_pvc(struct row_ctx *c)
{
	const json_t *pvc = c->obj;
	const char *volume = str_at(pvc, "spec.volumeName", "");
	cell_name(c);
	cell_str(c, json_at_path(pvc, "metadata.deletionTimestamp")
			    ? "Terminating"
			    : str_at(pvc, "status.phase", ""));
	cell_str(c, volume);
	if (*volume) {
		cell_str(c, str_at(pvc, "status.capacity.storage", "0"));
		cell_access_modes(c, json_at_path(pvc, "status.accessModes"));
	} else {
		cell_str(c, "");
		cell_str(c, "");
	}
	cell_str(c, storage_class_of(pvc));
	cell_str(c, str_at(pvc, "spec.volumeAttributesClassName", "<unset>"));
	cell_age(c);
	cell_str(c, str_at(pvc, "spec.volumeMode", "<unset>"));
}

void
table_row_storageclass(struct row_ctx *c)
{
	const json_t *sc = c->obj;
	const json_t *ann = json_at_path(sc, "metadata.annotations");
	const json_t *def =
		json_is_object(ann)
			? json_object_get(ann, "storageclass.kubernetes.io/is-default-class")
			: NULL;
	if (streq(json_string_value(def), "true"))
		cell_fmt(c, "%s (default)", str_at(sc, "metadata.name", ""));
	else
		cell_name(c);
	cell_str(c, str_at(sc, "provisioner", ""));
	cell_str(c, str_at(sc, "reclaimPolicy", "Delete"));
	cell_str(c, str_at(sc, "volumeBindingMode", "Immediate"));
	json_array_append_new(c->cells,
			      json_boolean(json_is_true(json_at_path(sc, "allowVolumeExpansion"))));
	cell_age(c);
}

/* formatHPAMetrics for the metric kinds korch computes (Resource utilisation). */
void
table_row_hpa(struct row_ctx *c)
{
	const json_t *hpa = c->obj;
	cell_name(c);
	cell_fmt(c, "%s/%s", str_at(hpa, "spec.scaleTargetRef.kind", ""),
		 str_at(hpa, "spec.scaleTargetRef.name", ""));
	const json_t *metrics = json_at_path(hpa, "spec.metrics"),
		     *current = json_at_path(hpa, "status.currentMetrics");
	struct strbuf sb = STRBUF_INIT;
	size_t i, shown = 0;
	json_t *m;
	json_array_foreach (metrics, i, m) {
		if (shown == 2)
			break;
		const char *name = str_at(m, "resource.name", NULL);
		const json_t *target = json_at_path(m, "resource.target.averageUtilization");
		if (!streq(str_at(m, "type", NULL), "Resource") || !name ||
		    !json_is_integer(target))
			continue;
		const json_t *cur = json_array_get(current, i);
		const json_t *cur_util = json_at_path(cur, "resource.current.averageUtilization");
		char cur_text[32] = "<unknown>";
		if (json_is_integer(cur_util))
			snprintf(cur_text, sizeof(cur_text), "%lld%%",
				 (long long)json_integer_value(cur_util));
		strbuf_printf(&sb, "%s%s: %s/%lld%%", shown++ ? ", " : "", name, cur_text,
			      (long long)json_integer_value(target));
	}
	if (json_array_size(metrics) > shown && shown)
		strbuf_printf(&sb, " + %zu more...", json_array_size(metrics) - shown);
	cell_str(c, sb.len ? strbuf_str(&sb) : "<none>");
	strbuf_free(&sb);
	const json_t *min = json_at_path(hpa, "spec.minReplicas");
	if (json_is_integer(min))
		cell_fmt(c, "%lld", (long long)json_integer_value(min));
	else
		cell_str(c, "<unset>");
	cell_int(c, int_at(hpa, "spec.maxReplicas", 0));
	cell_int(c, int_at(hpa, "status.currentReplicas", 0));
	cell_age(c);
}

void
table_row_lease(struct row_ctx *c)
{
	cell_name(c);
	cell_str(c, str_at(c->obj, "spec.holderIdentity", ""));
	cell_age(c);
}

void
table_row_priorityclass(struct row_ctx *c)
{
	cell_name(c);
	cell_int(c, int_at(c->obj, "value", 0));
	json_array_append_new(c->cells,
			      json_boolean(json_is_true(json_at_path(c->obj, "globalDefault"))));
	cell_age(c);
	cell_str(c, str_at(c->obj, "preemptionPolicy", "PreemptLowerPriority"));
}

/* korch's GitRepository: Flux's columns (the URL, the Ready condition and its message). */
void
table_row_gitrepository(struct row_ctx *c)
{
	cell_name(c);
	cell_str(c, str_at(c->obj, "spec.url", ""));
	const json_t *ready = NULL;
	size_t i;
	json_t *cond;
	json_array_foreach (json_at_path(c->obj, "status.conditions"), i, cond)
		if (streq(str_at(cond, "type", ""), "Ready"))
			ready = cond;
	cell_str(c, str_at(ready, "status", ""));
	cell_str(c, str_at(ready, "message", ""));
	cell_age(c);
	cell_str(c, str_at(c->obj, "status.lastAppliedCommit", ""));
}

void
table_row_created_at(struct row_ctx *c)
{
	cell_name(c);
	cell_str(c, str_at(c->obj, "metadata.creationTimestamp", ""));
}

void
table_row_rolebinding(struct row_ctx *c)
{
	cell_name(c);
	cell_fmt(c, "%s/%s", str_at(c->obj, "roleRef.kind", ""),
		 str_at(c->obj, "roleRef.name", ""));
	cell_age(c);
	struct strbuf users = STRBUF_INIT, groups = STRBUF_INIT, sas = STRBUF_INIT;
	size_t i;
	json_t *s;
	json_array_foreach (json_at_path(c->obj, "subjects"), i, s) {
		const char *kind = str_at(s, "kind", ""), *name = str_at(s, "name", "");
		if (strcmp(kind, "User") == 0)
			strbuf_printf(&users, "%s%s", users.len ? ", " : "", name);
		else if (strcmp(kind, "Group") == 0)
			strbuf_printf(&groups, "%s%s", groups.len ? ", " : "", name);
		else if (strcmp(kind, "ServiceAccount") == 0)
			strbuf_printf(&sas, "%s%s/%s", sas.len ? ", " : "",
				      str_at(s, "namespace", ""), name);
	}
	cell_str(c, strbuf_str(&users));
	cell_str(c, strbuf_str(&groups));
	cell_str(c, strbuf_str(&sas));
	strbuf_free(&users);
	strbuf_free(&groups);
	strbuf_free(&sas);
}
