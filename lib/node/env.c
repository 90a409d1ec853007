/*
 * env.c - a container's environment as the kubelet makes it (makeEnvironmentVariables):
 * envFrom ConfigMaps and Secrets, then env in order (literals with $(VAR) expansion over what
 * is defined so far and the Service variables, valueFrom fieldRef, resourceFieldRef,
 * configMapKeyRef, secretKeyRef), then the Service link variables ({SVC}_SERVICE_HOST...) not
 * already defined. Also the downward API's field and resource values, which volumes share.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#include "api/quantity.h"
#include "base/error.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/quote.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/util.h"
#include "base/vec.h"
#include "node/node-internal.h"

/* Ordered name=value pairs with replacement in place. */
struct envmap {
	struct ptrvec names;  /* char *, in first-defined order */
	struct hashmap index; /* name -> (uintptr_t) position + 1 */
	struct ptrvec values; /* char *, parallel to names */
};

static void
envmap_free(struct envmap *m)
{
	ptrvec_free(&m->names, free);
	ptrvec_free(&m->values, free);
	hashmap_free(&m->index, NULL);
}

static const char *
envmap_get(const struct envmap *m, const char *name)
{
	uintptr_t pos = (uintptr_t)hashmap_get(&m->index, name);
	return pos ? m->values.items[pos - 1] : NULL;
}

static int
envmap_set(struct envmap *m, const char *name, const char *value)
{
	char *v = strdup(value);
	if (!v)
		return KORCH_ENOMEM;
	uintptr_t pos = (uintptr_t)hashmap_get(&m->index, name);
	if (pos) {
		free(m->values.items[pos - 1]);
		m->values.items[pos - 1] = v;
		return 0;
	}
	char *n = strdup(name);
	if (!n || ptrvec_push(&m->names, n) < 0) {
		free(n);
		free(v);
		return KORCH_ENOMEM;
	}
	if (ptrvec_push(&m->values, v) < 0) {
		free(v);
		return KORCH_ENOMEM;
	}
	return hashmap_put(&m->index, name, (void *)(uintptr_t)m->names.n, NULL);
}

/* Kubernetes' expansion: $(NAME) defined in one of the maps, $$ for $, anything else kept. */
static char *
expand(const char *s, const struct envmap *a, const struct envmap *b, char *const *env)
{
	struct strbuf out = STRBUF_INIT;
	strbuf_puts(&out, "");
	for (const char *c = s; *c;) {
		if (c[0] != '$') {
			strbuf_putc(&out, *c++);
			continue;
		}
		if (c[1] == '$') {
			strbuf_putc(&out, '$');
			c += 2;
			continue;
		}
		if (c[1] != '(') {
			strbuf_putc(&out, *c++);
			continue;
		}
		const char *close = strchr(c + 2, ')');
		if (!close) {
			strbuf_puts(&out, c);
			break;
		}
		size_t len = (size_t)(close - (c + 2));
		char name[256];
		const char *val = NULL;
		if (len < sizeof(name)) {
			memcpy(name, c + 2, len);
			name[len] = '\0';
			if (a)
				val = envmap_get(a, name);
			if (!val && b)
				val = envmap_get(b, name);
			for (char *const *e = env; !val && e && *e; e++)
				if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
					val = *e + len + 1;
		}
		if (val)
			strbuf_puts(&out, val);
		else
			strbuf_append(&out, c, (size_t)(close + 1 - c));
		c = close + 1;
	}
	if (out.oom) {
		strbuf_free(&out);
		return NULL;
	}
	return strbuf_steal(&out);
}

char *
env_expand(const char *s, char *const *env)
{
	return expand(s, NULL, NULL, env);
}

/* makeEnvVariableName: upper case, '-' to '_'. */
static void
env_name(const char *in, char *out, size_t size)
{
	size_t i = 0;
	for (; in[i] && i + 1 < size; i++)
		out[i] = in[i] == '-' ? '_' : (char)toupper((unsigned char)in[i]);
	out[i] = '\0';
}

static int
service_vars(const json_t *svc, struct envmap *m)
{
	const json_t *spec = json_object_get(svc, "spec");
	const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
	const json_t *ports = json_object_get(spec, "ports");
	if (!ip || !*ip || streq(ip, "None") || json_array_size(ports) == 0)
		return 0;
	char prefix[256], name[1024], val[300];
	env_name(json_string_value(json_object_get(json_object_get(svc, "metadata"), "name")) ?: "",
		 prefix, sizeof(prefix));
	int r = 0;
	snprintf(name, sizeof(name), "%s_SERVICE_HOST", prefix);
	r |= envmap_set(m, name, ip);
	long long first = json_integer_value(json_object_get(json_array_get(ports, 0), "port"));
	snprintf(name, sizeof(name), "%s_SERVICE_PORT", prefix);
	snprintf(val, sizeof(val), "%lld", first);
	r |= envmap_set(m, name, val);
	size_t i;
	json_t *sp;
	json_array_foreach (ports, i, sp) {
		const char *pn = json_string_value(json_object_get(sp, "name"));
		if (pn && *pn) {
			char up[256];
			env_name(pn, up, sizeof(up));
			snprintf(name, sizeof(name), "%s_SERVICE_PORT_%s", prefix, up);
			snprintf(val, sizeof(val), "%lld",
				 (long long)json_integer_value(json_object_get(sp, "port")));
			r |= envmap_set(m, name, val);
		}
	}
	/* Docker link variables. */
	json_array_foreach (ports, i, sp) {
		const char *proto = json_string_value(json_object_get(sp, "protocol")) ?: "TCP";
		long long port = json_integer_value(json_object_get(sp, "port"));
		char lower[16] = "", upper[16] = "";
		env_name(proto, upper, sizeof(upper));
		for (size_t k = 0; k < sizeof(lower) && upper[k]; k++)
			lower[k] = (char)tolower((unsigned char)upper[k]);
		char url[300];
		snprintf(url, sizeof(url), "%s://%s:%lld", lower, ip, port);
		if (i == 0) {
			snprintf(name, sizeof(name), "%s_PORT", prefix);
			r |= envmap_set(m, name, url);
		}
		snprintf(name, sizeof(name), "%s_PORT_%lld_%s", prefix, port, upper);
		r |= envmap_set(m, name, url);
		size_t n = strlen(name);
		snprintf(name + n, sizeof(name) - n, "_PROTO");
		r |= envmap_set(m, name, lower);
		snprintf(name + n, sizeof(name) - n, "_PORT");
		snprintf(val, sizeof(val), "%lld", port);
		r |= envmap_set(m, name, val);
		snprintf(name + n, sizeof(name) - n, "_ADDR");
		r |= envmap_set(m, name, ip);
	}
	return r ? KORCH_ENOMEM : 0;
}

struct svc_scan {
	const char *ns;         /* the pod's namespace */
	bool links;             /* enableServiceLinks */
	struct ptrvec selected; /* const json_t *: services whose variables apply */
};

static void
scan_service(const json_t *svc, void *userdata)
{
	struct svc_scan *s = userdata;
	const json_t *meta = json_object_get(svc, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	/* The API's own Service from default always; the pod's namespace with links. */
	if ((streq(ns, "default") && streq(name, "kubernetes")) || (s->links && streq(ns, s->ns)))
		ptrvec_push(&s->selected, (void *)svc);
}

static int
cmp_service(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	const json_t *mx = json_object_get(x, "metadata"), *my = json_object_get(y, "metadata");
	int c = strcmp(json_string_value(json_object_get(mx, "name")) ?: "",
		       json_string_value(json_object_get(my, "name")) ?: "");
	if (c)
		return c;
	/* default/kubernetes loses to the pod's own namespace's service of that name */
	return strcmp(json_string_value(json_object_get(mx, "namespace")) ?: "",
		      json_string_value(json_object_get(my, "namespace")) ?: "");
}

static int
services_env(struct apod *p, struct envmap *m)
{
	struct svc_scan s = { .ns = p->ns, .links = p->spec->enable_service_links };
	informer_foreach(p->agent->services, scan_service, &s);
	/* Sorted by name for a stable order (the kubelet's comes from a Go map). */
	if (s.selected.n)
		qsort(s.selected.items, s.selected.n, sizeof(void *), cmp_service);
	int r = 0;
	for (size_t i = 0; i < s.selected.n && r == 0; i++) {
		const json_t *svc = s.selected.items[i];
		const char *name = json_string_value(
			json_object_get(json_object_get(svc, "metadata"), "name"));
		/* A same-named service of the pod's namespace replaces default/kubernetes. */
		if (i + 1 < s.selected.n &&
		    streq(name,
			  json_string_value(json_object_get(
				  json_object_get(s.selected.items[i + 1], "metadata"), "name"))) &&
		    streq(p->ns, json_string_value(json_object_get(
					 json_object_get(s.selected.items[i + 1], "metadata"),
					 "namespace"))))
			continue;
		r = service_vars(svc, m);
	}
	ptrvec_free(&s.selected, NULL);
	return r;
}

/* A Secret's data value, base64-decoded. Caller frees; NULL on bad data. */
static char *
decode_secret(const char *b64, size_t *ret_len)
{
	size_t in = strlen(b64);
	char *out = malloc(BASE64_DECODE_LENGTH(in) + 1);
	if (!out)
		return NULL;
	struct base64_decode_ctx ctx;
	base64_decode_init(&ctx);
	size_t len = BASE64_DECODE_LENGTH(in);
	if (!base64_decode_update(&ctx, &len, (uint8_t *)out, in, b64) ||
	    !base64_decode_final(&ctx)) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return out;
}

/* An env var name Kubernetes accepts: [-._a-zA-Z][-._a-zA-Z0-9]*. */
static bool
valid_env_name(const char *k)
{
	if (!*k || isdigit((unsigned char)*k))
		return false;
	for (const char *c = k; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_')
			return false;
	return true;
}

static int
not_found(const char *what, const char *name, korch_error **err)
{
	return error_set(err, KORCH_ENOTFOUND, "%s \"%s\" not found", what, name);
}

static int
env_from(struct apod *p, const json_t *src, struct envmap *m, korch_error **err)
{
	struct node_agent *a = p->agent;
	const char *prefix = json_string_value(json_object_get(src, "prefix")) ?: "";
	const json_t *ref = json_object_get(src, "configMapRef");
	bool secret = false;
	if (!ref) {
		ref = json_object_get(src, "secretRef");
		secret = true;
	}
	if (!ref)
		return 0;
	const char *name = json_string_value(json_object_get(ref, "name")) ?: "";
	bool optional = json_is_true(json_object_get(ref, "optional"));
	const json_t *obj = informer_get(secret ? a->secrets : a->configmaps, p->ns, name);
	if (!obj)
		return optional ? 0 : not_found(secret ? "secret" : "configmap", name, err);
	const char *k;
	json_t *v;
	json_object_foreach (json_object_get(obj, "data"), k, v) {
		char full[512];
		snprintf(full, sizeof(full), "%s%s", prefix, k);
		if (!valid_env_name(full) || !json_string_value(v))
			continue;
		_cleanup_free_ char *val = secret ? decode_secret(json_string_value(v), NULL)
						  : strdup(json_string_value(v));
		if (!val)
			continue;
		if (envmap_set(m, full, val) < 0)
			return error_oom(err);
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* FormatMap: sorted key="value" lines (Go %q), without the last newline. */
static char *
format_map(const json_t *map)
{
	struct ptrvec keys = PTRVEC_INIT;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)map, k, v)
		ptrvec_push(&keys, (void *)k);
	if (keys.n)
		qsort(keys.items, keys.n, sizeof(void *), cmp_str);
	struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, "");
	for (size_t i = 0; i < keys.n; i++) {
		_cleanup_free_ char *q =
			go_quote(json_string_value(json_object_get(map, keys.items[i])) ?: "");
		strbuf_printf(&sb, "%s%s=%s", i ? "\n" : "", (const char *)keys.items[i],
			      q ? q : "\"\"");
	}
	ptrvec_free(&keys, NULL);
	return strbuf_steal(&sb);
}

/* 'key' in metadata.labels['key']. */
static bool
subscript(const char *path, const char *prefix, char *out, size_t size)
{
	const char *rest = startswith(path, prefix);
	if (!rest || rest[0] != '[' || rest[1] != '\'')
		return false;
	const char *end = strstr(rest + 2, "']");
	if (!end || end[2] != '\0' || (size_t)(end - rest - 2) >= size)
		return false;
	memcpy(out, rest + 2, (size_t)(end - rest - 2));
	out[end - rest - 2] = '\0';
	return true;
}

int
pod_field_value(struct apod *p, const char *path, char **ret, korch_error **err)
{
	struct node_agent *a = p->agent;
	/* Labels and annotations change without a new spec: read the latest object. */
	const json_t *meta = json_object_get(p->obj, "metadata");
	const char *v = NULL;
	char key[256];
	if (streq(path, "metadata.name"))
		v = p->name;
	else if (streq(path, "metadata.namespace"))
		v = p->ns;
	else if (streq(path, "metadata.uid"))
		v = p->uid;
	else if (streq(path, "spec.nodeName"))
		v = a->node_name;
	else if (streq(path, "spec.serviceAccountName"))
		v = p->spec->service_account ?: "";
	else if (streq(path, "status.hostIP") || streq(path, "status.hostIPs"))
		v = a->node_ip ?: "";
	else if (streq(path, "status.podIP") || streq(path, "status.podIPs"))
		v = (p->spec->host_network ? a->node_ip : p->pod_ip) ?: "";
	else if (streq(path, "metadata.labels") || streq(path, "metadata.annotations")) {
		const json_t *map = json_object_get(meta, path + strlen("metadata."));
		char *s = format_map(map);
		if (!s)
			return error_oom(err);
		*ret = s;
		return 0;
	} else if (subscript(path, "metadata.labels", key, sizeof(key)))
		v = json_string_value(json_object_get(json_object_get(meta, "labels"), key)) ?: "";
	else if (subscript(path, "metadata.annotations", key, sizeof(key)))
		v = json_string_value(json_object_get(json_object_get(meta, "annotations"), key))
			    ?: "";
	else
		return error_set(err, KORCH_EINVALID, "unsupported fieldRef path \"%s\"", path);
	if (!(*ret = strdup(v)))
		return error_oom(err);
	return 0;
}

int
ctr_resource_value(struct apod *p, const char *container, const char *resource,
		   const json_t *divisor, char **ret, korch_error **err)
{
	const struct ctr_spec *c = podspec_find(p->spec, container);
	if (!c)
		return error_set(err, KORCH_EINVALID,
				 "resourceFieldRef: container \"%s\" not found", container);
	int64_t cpu_alloc, mem_alloc, eph_alloc;
	node_allocatable(p->agent, &cpu_alloc, &mem_alloc, &eph_alloc);
	struct quantity div = { 0 };
	struct quantity zero = { 0 };
	if (!divisor || quantity_from_json(divisor, &div, NULL) < 0 ||
	    quantity_cmp(&div, &zero) == 0)
		quantity_parse("1", &div, NULL);
	bool cpu = false;
	int64_t value; /* milli for cpu, units otherwise */
	if (streq(resource, "limits.cpu")) {
		cpu = true;
		value = c->res.cpu_limit_milli >= 0 ? c->res.cpu_limit_milli : cpu_alloc;
	} else if (streq(resource, "requests.cpu")) {
		cpu = true;
		value = MAX(c->res.cpu_request_milli, 0);
	} else if (streq(resource, "limits.memory")) {
		value = c->res.memory_limit >= 0 ? c->res.memory_limit : mem_alloc;
	} else if (streq(resource, "requests.memory")) {
		value = MAX(c->res.memory_request, 0);
	} else if (streq(resource, "limits.ephemeral-storage")) {
		value = c->res.ephemeral_limit >= 0 ? c->res.ephemeral_limit : eph_alloc;
	} else if (streq(resource, "requests.ephemeral-storage")) {
		value = MAX(c->res.ephemeral_request, 0);
	} else {
		return error_set(err, KORCH_EINVALID, "unsupported resourceFieldRef \"%s\"",
				 resource);
	}
	double d = cpu ? (double)quantity_milli_value(&div) : (double)quantity_value(&div);
	if (d <= 0)
		d = 1;
	long long out = (long long)ceil((double)value / d);
	if (asprintf(ret, "%lld", out) < 0)
		return error_oom(err);
	return 0;
}

static int
value_from(struct apod *p, const struct ctr_spec *c, const json_t *vf, char **ret, bool *ret_skip,
	   korch_error **err)
{
	struct node_agent *a = p->agent;
	const json_t *ref;
	*ret_skip = false;
	if ((ref = json_object_get(vf, "fieldRef")))
		return pod_field_value(
			p, json_string_value(json_object_get(ref, "fieldPath")) ?: "", ret, err);
	if ((ref = json_object_get(vf, "resourceFieldRef"))) {
		const char *cn = json_string_value(json_object_get(ref, "containerName"));
		return ctr_resource_value(p, cn && *cn ? cn : c->name,
					  json_string_value(json_object_get(ref, "resource")) ?: "",
					  json_object_get(ref, "divisor"), ret, err);
	}
	bool secret = false;
	if (!(ref = json_object_get(vf, "configMapKeyRef"))) {
		ref = json_object_get(vf, "secretKeyRef");
		secret = true;
	}
	if (!ref)
		return error_set(err, KORCH_EINVALID, "valueFrom: no source");
	const char *name = json_string_value(json_object_get(ref, "name")) ?: "";
	const char *key = json_string_value(json_object_get(ref, "key")) ?: "";
	bool optional = json_is_true(json_object_get(ref, "optional"));
	const json_t *obj = informer_get(secret ? a->secrets : a->configmaps, p->ns, name);
	if (!obj) {
		if (optional) {
			*ret_skip = true;
			return 0;
		}
		return not_found(secret ? "secret" : "configmap", name, err);
	}
	const char *v = json_string_value(json_object_get(json_object_get(obj, "data"), key));
	if (!v) {
		if (optional) {
			*ret_skip = true;
			return 0;
		}
		return error_set(err, KORCH_ENOTFOUND, "couldn't find key %s in %s %s/%s", key,
				 secret ? "Secret" : "ConfigMap", p->ns, name);
	}
	char *out = secret ? decode_secret(v, NULL) : strdup(v);
	if (!out)
		return secret ? error_set(err, KORCH_EINVALID, "secret %s/%s: key %s is not base64",
					  p->ns, name, key)
			      : error_oom(err);
	*ret = out;
	return 0;
}

int
env_build(struct apod *p, const struct ctr_spec *c, char ***ret, korch_error **err)
{
	struct envmap svc = { PTRVEC_INIT, HASHMAP_INIT, PTRVEC_INIT };
	struct envmap env = { PTRVEC_INIT, HASHMAP_INIT, PTRVEC_INIT };
	int r = services_env(p, &svc);
	if (r < 0) {
		r = error_oom(err);
		goto out;
	}
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(c->json, "envFrom"), i, e)
		if ((r = env_from(p, e, &env, err)) < 0)
			goto out;
	json_array_foreach (json_object_get(c->json, "env"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *value = json_string_value(json_object_get(e, "value"));
		const json_t *vf = json_object_get(e, "valueFrom");
		if (!name)
			continue;
		_cleanup_free_ char *val = NULL;
		if (value && *value) {
			val = expand(value, &env, &svc, NULL);
		} else if (vf) {
			bool skip = false;
			if ((r = value_from(p, c, vf, &val, &skip, err)) < 0)
				goto out;
			if (skip)
				continue;
		} else {
			val = strdup("");
		}
		if (!val || envmap_set(&env, name, val) < 0) {
			r = error_oom(err);
			goto out;
		}
	}
	char **out = NULL;
	for (size_t k = 0; k < env.names.n; k++)
		if (strv_pushf(&out, "%s=%s", (char *)env.names.items[k],
			       (char *)env.values.items[k]) < 0) {
			strv_free(out);
			r = error_oom(err);
			goto out;
		}
	for (size_t k = 0; k < svc.names.n; k++)
		if (!envmap_get(&env, svc.names.items[k]) &&
		    strv_pushf(&out, "%s=%s", (char *)svc.names.items[k],
			       (char *)svc.values.items[k]) < 0) {
			strv_free(out);
			r = error_oom(err);
			goto out;
		}
	*ret = out;
	r = 0;
out:
	envmap_free(&svc);
	envmap_free(&env);
	return r;
}
