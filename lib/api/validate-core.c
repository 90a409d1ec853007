/*
 * validate-core.c - the core/v1 kinds besides Service and storage, as Kubernetes 1.32
 * validates them: Pod (create and update), ReplicationController, Namespace, ConfigMap,
 * Secret, ServiceAccount, Endpoints, Node and Event.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-internal.h"
#include "base/error.h"
#include "base/util.h"

#define UPDATABLE_POD_FIELDS                                                                      \
	"`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`," \
	"`spec.tolerations` (only additions to existing tolerations),"                            \
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "     \
	"negative)"
#define MAX_SECRET_SIZE (1024 * 1024)
#define APPARMOR_PREFIX "container.apparmor.security.beta.kubernetes.io/"

/* --- Pod ----------------------------------------------------------------------------------- */

/* validatePodMetadataAndSpec */
static void
pod_metadata_and_spec(struct vctx *c, const json_t *pod)
{
	const json_t *meta = jobj(pod, "metadata"), *spec = jobj(pod, "spec");
	validate_object_meta(c, pod, true, NAME_SUBDOMAIN);
	size_t len = vp_field(c, "metadata");
	vp_field(c, "annotations");
	validate_pod_annotations(c, jobj(meta, "annotations"), spec);
	vp_pop(c, len);
	vp_field(c, "spec");
	struct pod_opts o = { .is_pod = true, .pod_meta = meta };
	validate_pod_spec(c, spec, &o);
	if (!*jstr0(spec, "serviceAccountName")) {
		size_t i;
		json_t *vol;
		json_array_foreach (jarr(spec, "volumes"), i, vol) {
			size_t k;
			json_t *src;
			json_array_foreach (jarr(jobj(vol, "projected"), "sources"), k, src) {
				if (!jobj(src, "serviceAccountToken"))
					continue;
				size_t l2 = vp_field(c, "volumes");
				vp_index(c, i);
				vp_field(c, "projected.sources");
				vp_index(c, k);
				v_forbidden(
					c, "serviceAccountToken",
					"must not be specified when serviceAccountName is not set");
				vp_pop(c, l2);
			}
		}
	}
	static const char *const lists[] = { "containers", "initContainers" };
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *ctr;
		json_array_foreach (jarr(spec, lists[l]), i, ctr) {
			const char *image = jstr0(ctr, "image");
			size_t n = strlen(image);
			if (n && (strchr(" \t\n\v\f\r", image[0]) ||
				  strchr(" \t\n\v\f\r", image[n - 1]))) {
				size_t l2 = vp_field(c, lists[l]);
				vp_index(c, i);
				v_invalid_str(c, "image", image,
					      "must not have leading or trailing whitespace");
				vp_pop(c, l2);
			}
		}
	}
	vp_pop(c, len);
}

/* ValidateContainerUpdates; returns true when validation must stop (a container added or gone). */
static bool
container_updates(struct vctx *c, const char *list, const json_t *nc, const json_t *oc)
{
	size_t len = vp_field(c, list);
	if (jlen(nc) != jlen(oc)) {
		v_forbidden(c, NULL, "pod updates may not add or remove containers");
		vp_pop(c, len);
		return true;
	}
	size_t i;
	json_t *ctr;
	json_array_foreach ((json_t *)nc, i, ctr) {
		size_t l2 = vp_index(c, i);
		const char *image = jstr0(ctr, "image");
		size_t n = strlen(image);
		if (!n)
			v_required(c, "image", "");
		if (n && (strchr(" \t\n\v\f\r", image[0]) || strchr(" \t\n\v\f\r", image[n - 1])))
			v_invalid_str(c, "image", image,
				      "must not have leading or trailing whitespace");
		vp_pop(c, l2);
	}
	vp_pop(c, len);
	return false;
}

static void
pod_annotation_updates(struct vctx *c, const json_t *new_ann, const json_t *old_ann)
{
	const char *key;
	json_t *ov;
	json_object_foreach ((json_t *)old_ann, key, ov) {
		json_t *nv = json_object_get(new_ann, key);
		if (nv && json_equal(nv, ov))
			continue;
		if (startswith(key, APPARMOR_PREFIX)) {
			size_t len = vp_key(c, key);
			v_forbidden(c, NULL, "may not remove or update AppArmor annotations");
			vp_pop(c, len);
		}
		if (streq(key, "kubernetes.io/config.mirror")) {
			size_t len = vp_key(c, key);
			v_forbidden(c, NULL, "may not remove or update mirror pod annotation");
			vp_pop(c, len);
		}
	}
	json_t *nv;
	json_object_foreach ((json_t *)new_ann, key, nv) {
		if (json_object_get(old_ann, key))
			continue;
		if (startswith(key, APPARMOR_PREFIX)) {
			size_t len = vp_key(c, key);
			v_forbidden(c, NULL, "may not add AppArmor annotations");
			vp_pop(c, len);
		}
		if (streq(key, "kubernetes.io/config.mirror")) {
			size_t len = vp_key(c, key);
			v_forbidden(c, NULL, "may not add mirror pod annotation");
			vp_pop(c, len);
		}
	}
}

/* validateOnlyAddedTolerations at the current path (spec.tolerations). */
static void
only_added_tolerations(struct vctx *c, const json_t *nt, const json_t *ot)
{
	size_t i;
	json_t *old;
	json_array_foreach ((json_t *)ot, i, old) {
		bool found = false;
		size_t k;
		json_t *t;
		json_array_foreach ((json_t *)nt, k, t) {
			json_t *clone = json_deep_copy(old);
			json_t *secs = json_object_get(t, "tolerationSeconds");
			if (secs)
				json_object_set(clone, "tolerationSeconds", secs);
			else
				json_object_del(clone, "tolerationSeconds");
			found |= json_equal(clone, t);
			json_decref(clone);
		}
		if (!found) {
			v_forbidden(
				c, NULL,
				"existing toleration can not be modified except its tolerationSeconds");
			return;
		}
	}
	validate_tolerations(c, nt);
}

static void
pod_update(struct vctx *c, const json_t *pod, const json_t *old)
{
	const json_t *spec = jobj(pod, "spec"), *ospec = jobj(old, "spec");
	validate_object_meta_update(c, pod, old);
	pod_metadata_and_spec(c, pod);
	size_t len = vp_field(c, "metadata");
	vp_field(c, "annotations");
	const json_t *na = jobj(jobj(pod, "metadata"), "annotations");
	pod_annotation_updates(c, na, jobj(jobj(old, "metadata"), "annotations"));
	validate_pod_annotations(c, na, spec);
	vp_pop(c, len);

	vp_field(c, "spec");
	if (container_updates(c, "containers", jarr(spec, "containers"),
			      jarr(ospec, "containers")) ||
	    container_updates(c, "initContainers", jarr(spec, "initContainers"),
			      jarr(ospec, "initContainers"))) {
		vp_pop(c, len);
		return;
	}
	int64_t nads, oads;
	bool has_n = jint(spec, "activeDeadlineSeconds", &nads),
	     has_o = jint(ospec, "activeDeadlineSeconds", &oads);
	if (has_n) {
		if (nads < 0 || nads > INT32_MAX) {
			v_invalid_int(c, "activeDeadlineSeconds", nads,
				      "must be between 0 and 2147483647, inclusive");
			vp_pop(c, len);
			return;
		}
		if (has_o && oads < nads) {
			v_invalid_int(c, "activeDeadlineSeconds", nads,
				      "must be less than or equal to previous value");
			vp_pop(c, len);
			return;
		}
	} else if (has_o) {
		v_invalid_val(c, "activeDeadlineSeconds", "null",
			      "must not update from a positive integer to nil value");
	}
	size_t l2 = vp_field(c, "tolerations");
	only_added_tolerations(c, jarr(spec, "tolerations"), jarr(ospec, "tolerations"));
	vp_pop(c, l2);
	const json_t *ng = jarr(spec, "schedulingGates"), *og = jarr(ospec, "schedulingGates");
	size_t i;
	json_t *g;
	json_array_foreach ((json_t *)ng, i, g) {
		bool existed = false;
		size_t k;
		json_t *o;
		json_array_foreach ((json_t *)og, k, o)
			existed |= streq(jstr0(o, "name"), jstr0(g, "name"));
		if (!existed) {
			size_t l3 = vp_field(c, "schedulingGates");
			vp_index(c, i);
			char msg[600];
			snprintf(msg, sizeof(msg),
				 "only deletion is allowed, but found new scheduling gate '%s'",
				 jstr0(g, "name"));
			v_forbidden(c, "name", msg);
			vp_pop(c, l3);
		}
	}
	if (!json_equal((json_t *)spec, (json_t *)ospec)) {
		json_t *munged = json_deep_copy(spec);
		static const char *const lists[] = { "containers", "initContainers" };
		for (size_t l = 0; l < 2; l++) {
			json_t *ctr;
			json_array_foreach (jarr(munged, lists[l]), i, ctr) {
				json_t *oi =
					jget(json_array_get(jarr(ospec, lists[l]), i), "image");
				if (oi)
					json_object_set(ctr, "image", oi);
				else
					json_object_del(ctr, "image");
			}
		}
		static const char *const keep_old[] = { "activeDeadlineSeconds", "schedulingGates",
							"tolerations" };
		for (size_t k = 0; k < 3; k++) {
			json_t *ov = json_object_get(ospec, keep_old[k]);
			if (ov)
				json_object_set(munged, keep_old[k], ov);
			else
				json_object_del(munged, keep_old[k]);
		}
		int64_t otg, ntg;
		if (jint(ospec, "terminationGracePeriodSeconds", &otg) && otg < 0 &&
		    jint(munged, "terminationGracePeriodSeconds", &ntg) && ntg == 1)
			json_object_set(munged, "terminationGracePeriodSeconds",
					json_object_get(ospec, "terminationGracePeriodSeconds"));
		if (!json_equal(munged, (json_t *)ospec)) {
			_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
			strbuf_puts(
				&msg,
				"pod updates may not change fields other than " UPDATABLE_POD_FIELDS);
			put_json_diff(&msg, "spec", ospec, munged);
			if (msg.oom)
				c->oom = true;
			else
				v_forbidden(c, NULL, strbuf_str(&msg));
		}
		json_decref(munged);
	}
	vp_pop(c, len);
}

static void
pod_kind(struct vctx *c, const json_t *pod, const json_t *old)
{
	c->is_pod = true;
	if (old) {
		pod_update(c, pod, old);
		return;
	}
	pod_metadata_and_spec(c, pod);
	const json_t *spec = jobj(pod, "spec");
	size_t len = vp_field(c, "spec");
	if (jlen(jarr(spec, "ephemeralContainers")))
		v_forbidden(c, "ephemeralContainers", "cannot be set on create");
	if (*jstr0(spec, "nodeName") && jlen(jarr(spec, "schedulingGates")))
		v_forbidden(c, "nodeName",
			    "cannot be set until all schedulingGates have been cleared");
	validate_seccomp_annotations_match(c, jobj(pod, "metadata"), spec);
	vp_pop(c, len);
}

void
validate_pod(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(pod_kind, obj, old, err);
}

/* --- ReplicationController ----------------------------------------------------------------- */

static void
rc_spec(struct vctx *c, const json_t *spec)
{
	size_t len = vp_field(c, "spec");
	v_nonneg(c, spec, "minReadySeconds");
	const json_t *sel = jobj(spec, "selector");
	if (!jlen(sel))
		v_required(c, "selector", "");
	v_nonneg(c, spec, "replicas");
	const json_t *tmpl = jobj(spec, "template");
	if (!tmpl) {
		v_required(c, "template", "");
	} else {
		size_t l2 = vp_field(c, "template");
		const json_t *labels = jobj(jobj(tmpl, "metadata"), "labels");
		if (jlen(sel)) {
			bool match = true;
			const char *k;
			json_t *v;
			json_object_foreach ((json_t *)sel, k, v) {
				json_t *lv = json_object_get(labels, k);
				if (!lv || !json_equal(lv, v))
					match = false;
			}
			if (!match)
				v_invalid_go(c, "metadata.labels", go_put_str_map, labels,
					     "`selector` does not match template `labels`");
		}
		validate_pod_template_spec(c, tmpl);
		const char *rp = jstr0(jobj(tmpl, "spec"), "restartPolicy");
		if (!streq(rp, "Always"))
			v_not_supported_str(c, "spec.restartPolicy", rp, STRS("Always"));
		if (jhas(jobj(tmpl, "spec"), "activeDeadlineSeconds"))
			v_forbidden(
				c, "spec.activeDeadlineSeconds",
				"activeDeadlineSeconds in ReplicationController is not Supported");
		vp_pop(c, l2);
	}
	vp_pop(c, len);
}

static void
rc_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old)
		validate_object_meta_update(c, obj, old);
	else
		validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	rc_spec(c, jobj(obj, "spec"));
}

void
validate_replication_controller(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(rc_kind, obj, old, err);
}

/* --- Namespace ----------------------------------------------------------------------------- */

static void
namespace_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old) {
		validate_object_meta_update(c, obj, old);
		return;
	}
	validate_object_meta(c, obj, false, NAME_LABEL);
	size_t i;
	json_t *f;
	json_array_foreach (jarr(jobj(obj, "spec"), "finalizers"), i, f) {
		const char *name = json_is_string(f) ? json_string_value(f) : "";
		struct name_problems p = { 0 };
		check_qualified_name(name, &p);
		v_problems(c, "spec.finalizers", name, &p);
		validate_finalizer_name(c, "spec.finalizers", name);
	}
}

void
validate_namespace(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(namespace_kind, obj, old, err);
}

/* --- ConfigMap and Secret ------------------------------------------------------------------ */

/* The length of what a base64 string decodes to (the schema check refused invalid text). */
static size_t
base64_len(const char *s)
{
	size_t n = 0, pad = 0;
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n')
			continue;
		if (*s == '=')
			pad++;
		else
			n++;
	}
	(void)pad;
	return n * 3 / 4;
}

static void
config_key(struct vctx *c, const char *field, const char *key)
{
	struct name_problems p = { 0 };
	check_config_map_key(key, &p);
	if (!p.n)
		return;
	size_t len = vp_field(c, field);
	vp_key(c, key);
	v_problems(c, NULL, key, &p);
	vp_pop(c, len);
}

static void
immutable_data(struct vctx *c, const json_t *obj, const json_t *old, const char *const *fields)
{
	if (!jbool(old, "immutable"))
		return;
	if (!jbool(obj, "immutable"))
		v_forbidden(c, "immutable", "field is immutable when `immutable` is set");
	for (size_t i = 0; fields[i]; i++) {
		const json_t *n = jobj(obj, fields[i]), *o = jobj(old, fields[i]);
		bool same =
			(!jlen(n) && !jlen(o)) || (n && o && json_equal((json_t *)n, (json_t *)o));
		if (!same)
			v_forbidden(c, fields[i], "field is immutable when `immutable` is set");
	}
}

static void
config_map_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old) {
		validate_object_meta_update(c, obj, old);
		immutable_data(c, obj, old, STRS("data", "binaryData"));
	}
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	const json_t *data = jobj(obj, "data"), *bin = jobj(obj, "binaryData");
	size_t total = 0;
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)data, key, v) {
		config_key(c, "data", key);
		if (json_object_get(bin, key)) {
			size_t len = vp_field(c, "data");
			vp_key(c, key);
			v_invalid_str(c, NULL, key, "duplicate of key present in binaryData");
			vp_pop(c, len);
		}
		total += json_is_string(v) ? json_string_length(v) : 0;
	}
	json_object_foreach ((json_t *)bin, key, v) {
		config_key(c, "binaryData", key);
		total += json_is_string(v) ? base64_len(json_string_value(v)) : 0;
	}
	if (total > MAX_SECRET_SIZE)
		v_too_long(c, NULL, MAX_SECRET_SIZE);
}

void
validate_config_map(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(config_map_kind, obj, old, err);
}

static bool
secret_has(const json_t *obj, const char *key)
{
	return jhas(jobj(obj, "data"), key) || jhas(jobj(obj, "stringData"), key);
}

/* A secret value decoded (data is base64, stringData plain); caller frees. */
static char *
secret_value(const json_t *obj, const char *key, size_t *ret_len)
{
	const char *s = jstr(jobj(obj, "stringData"), key);
	if (s) {
		*ret_len = strlen(s);
		return strdup(s);
	}
	s = jstr(jobj(obj, "data"), key);
	if (!s)
		return NULL;
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(strlen(s) + 1);
	if (!out)
		return NULL;
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *s; s++) {
		const char *p = strchr(alphabet, *s);
		if (!p || !*s)
			continue;
		acc = (acc << 6) | (unsigned)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)((acc >> bits) & 0xFF);
		}
	}
	out[n] = '\0';
	*ret_len = n;
	return out;
}

/*
 * encoding/json's syntax check (checkValid) with its error texts: "unexpected end of JSON input",
 * "invalid character 'x' looking for beginning of value", ...
 */
struct go_json {
	const unsigned char *s;
	size_t n, i;
	char msg[160];
	bool failed;
};

static bool
gj_eof(struct go_json *g)
{
	snprintf(g->msg, sizeof(g->msg), "unexpected end of JSON input");
	g->failed = true;
	return false;
}

static bool
gj_fail(struct go_json *g, const char *context)
{
	unsigned char c = g->s[g->i];
	char q[16];
	if (c == '\'')
		snprintf(q, sizeof(q), "'\\''");
	else if (c == '"')
		snprintf(q, sizeof(q), "'\"'");
	else if (c == '\\')
		snprintf(q, sizeof(q), "'\\\\'");
	else if (c >= 0x20 && c < 0x7f)
		snprintf(q, sizeof(q), "'%c'", c);
	else if (c == '\n')
		snprintf(q, sizeof(q), "'\\n'");
	else if (c == '\r')
		snprintf(q, sizeof(q), "'\\r'");
	else if (c == '\t')
		snprintf(q, sizeof(q), "'\\t'");
	else if (c < 0x20 || c == 0x7f)
		snprintf(q, sizeof(q), "'\\x%02x'", c);
	else /* Go quotes the rune U+00XX */
		snprintf(q, sizeof(q), "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
	snprintf(g->msg, sizeof(g->msg), "invalid character %s %s", q, context);
	g->failed = true;
	return false;
}

static void
gj_space(struct go_json *g)
{
	while (g->i < g->n && strchr(" \t\r\n", g->s[g->i]) && g->s[g->i])
		g->i++;
}

static bool gj_value(struct go_json *g, int depth);

static bool
gj_string(struct go_json *g)
{
	g->i++;
	for (;;) {
		if (g->i >= g->n)
			return gj_eof(g);
		unsigned char c = g->s[g->i];
		if (c == '"') {
			g->i++;
			return true;
		}
		if (c < 0x20)
			return gj_fail(g, "in string literal");
		if (c != '\\') {
			g->i++;
			continue;
		}
		if (++g->i >= g->n)
			return gj_eof(g);
		c = g->s[g->i];
		if (c == 'u') {
			for (int k = 0; k < 4; k++) {
				if (++g->i >= g->n)
					return gj_eof(g);
				if (!isxdigit(g->s[g->i]))
					return gj_fail(g, "in \\u hexadecimal character escape");
			}
		} else if (!strchr("\"\\/bfnrt", c) || !c) {
			return gj_fail(g, "in string escape code");
		}
		g->i++;
	}
}

static bool
gj_digits(struct go_json *g)
{
	while (g->i < g->n && isdigit(g->s[g->i]))
		g->i++;
	return true;
}

static bool
gj_number(struct go_json *g)
{
	if (g->s[g->i] == '-') {
		if (++g->i >= g->n)
			return gj_eof(g);
		if (!isdigit(g->s[g->i]))
			return gj_fail(g, "in numeric literal");
	}
	if (g->s[g->i] == '0')
		g->i++;
	else
		gj_digits(g);
	if (g->i < g->n && g->s[g->i] == '.') {
		if (++g->i >= g->n)
			return gj_eof(g);
		if (!isdigit(g->s[g->i]))
			return gj_fail(g, "after decimal point in numeric literal");
		gj_digits(g);
	}
	if (g->i < g->n && (g->s[g->i] == 'e' || g->s[g->i] == 'E')) {
		if (++g->i >= g->n)
			return gj_eof(g);
		if (g->s[g->i] == '+' || g->s[g->i] == '-') {
			if (++g->i >= g->n)
				return gj_eof(g);
		}
		if (!isdigit(g->s[g->i]))
			return gj_fail(g, "in exponent of numeric literal");
		gj_digits(g);
	}
	return true;
}

static bool
gj_literal(struct go_json *g, const char *word)
{
	for (size_t k = 1; word[k]; k++) {
		if (++g->i >= g->n)
			return gj_eof(g);
		if (g->s[g->i] != (unsigned char)word[k]) {
			char ctx[48];
			snprintf(ctx, sizeof(ctx), "in literal %s (expecting '%c')", word, word[k]);
			return gj_fail(g, ctx);
		}
	}
	g->i++;
	return true;
}

static bool
gj_value(struct go_json *g, int depth)
{
	gj_space(g);
	if (g->i >= g->n)
		return gj_eof(g);
	if (depth > 10000) {
		snprintf(g->msg, sizeof(g->msg), "exceeded max depth");
		g->failed = true;
		return false;
	}
	unsigned char c = g->s[g->i];
	if (c == '"')
		return gj_string(g);
	if (c == '-' || isdigit(c))
		return gj_number(g);
	if (c == 't')
		return gj_literal(g, "true");
	if (c == 'f')
		return gj_literal(g, "false");
	if (c == 'n')
		return gj_literal(g, "null");
	if (c == '[') {
		g->i++;
		gj_space(g);
		if (g->i >= g->n)
			return gj_eof(g);
		if (g->s[g->i] == ']') {
			g->i++;
			return true;
		}
		for (;;) {
			if (!gj_value(g, depth + 1))
				return false;
			gj_space(g);
			if (g->i >= g->n)
				return gj_eof(g);
			if (g->s[g->i] == ']') {
				g->i++;
				return true;
			}
			if (g->s[g->i] != ',')
				return gj_fail(g, "after array element");
			g->i++;
		}
	}
	if (c == '{') {
		g->i++;
		gj_space(g);
		if (g->i >= g->n)
			return gj_eof(g);
		if (g->s[g->i] == '}') {
			g->i++;
			return true;
		}
		for (;;) {
			if (g->s[g->i] != '"')
				return gj_fail(g, "looking for beginning of object key string");
			if (!gj_string(g))
				return false;
			gj_space(g);
			if (g->i >= g->n)
				return gj_eof(g);
			if (g->s[g->i] != ':')
				return gj_fail(g, "after object key");
			g->i++;
			if (!gj_value(g, depth + 1))
				return false;
			gj_space(g);
			if (g->i >= g->n)
				return gj_eof(g);
			if (g->s[g->i] == '}') {
				g->i++;
				return true;
			}
			if (g->s[g->i] != ',')
				return gj_fail(g, "after object key:value pair");
			g->i++;
			gj_space(g);
			if (g->i >= g->n)
				return gj_eof(g);
		}
	}
	return gj_fail(g, "looking for beginning of value");
}

/* What json.Unmarshal into a map[string]interface{} says of data; true when it takes it. */
static bool
go_json_object(const char *data, size_t n, char *msg, size_t size)
{
	struct go_json g = { .s = (const unsigned char *)data, .n = n };
	if (gj_value(&g, 0)) {
		gj_space(&g);
		if (g.i < g.n)
			gj_fail(&g, "after top-level value");
	}
	if (g.failed) {
		snprintf(msg, size, "%s", g.msg);
		return false;
	}
	g.i = 0;
	gj_space(&g);
	const char *type = NULL;
	switch (g.s[g.i]) {
	case '[': type = "array"; break;
	case '"': type = "string"; break;
	case 't':
	case 'f': type = "bool"; break;
	case '{':
	case 'n': return true; /* an object, or null (a nil map) */
	default: type = "number";
	}
	snprintf(msg, size,
		 "json: cannot unmarshal %s into Go value of type map[string]interface {}", type);
	return false;
}

static void
secret_json_key(struct vctx *c, const json_t *obj, const char *key)
{
	if (!secret_has(obj, key)) {
		size_t len = vp_field(c, "data");
		vp_key(c, key);
		v_required(c, NULL, "");
		vp_pop(c, len);
		return;
	}
	size_t n = 0;
	_cleanup_free_ char *v = secret_value(obj, key, &n);
	char msg[200];
	if (!go_json_object(v ? v : "", v ? n : 0, msg, sizeof(msg))) {
		size_t len = vp_field(c, "data");
		vp_key(c, key);
		v_invalid_str(c, NULL, "<secret contents redacted>", "%s", msg);
		vp_pop(c, len);
	}
}

/*
 * ValidateSecret. Kubernetes validates after merging stringData into data; korch validates the
 * merge without doing it (the write path does): stringData keys are checked as data keys.
 */
static void
secret_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old) {
		validate_object_meta_update(c, obj, old);
		const char *nt = jstr0(obj, "type"), *ot = jstr0(old, "type");
		if (!streq(nt, ot))
			v_invalid_str(c, "type", nt, MSG_IMMUTABLE);
		immutable_data(c, obj, old, STRS("data"));
	}
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	const json_t *data = jobj(obj, "data"), *sdata = jobj(obj, "stringData");
	size_t total = 0;
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)data, key, v) {
		if (jhas(sdata, key))
			continue;
		config_key(c, "data", key);
		total += json_is_string(v) ? base64_len(json_string_value(v)) : 0;
	}
	json_object_foreach ((json_t *)sdata, key, v) {
		config_key(c, "data", key);
		total += json_is_string(v) ? json_string_length(v) : 0;
	}
	if (total > MAX_SECRET_SIZE)
		v_too_long(c, "data", MAX_SECRET_SIZE);
	const char *type = jstr0(obj, "type");
	if (streq(type, "kubernetes.io/service-account-token")) {
		if (!*jstr0(jobj(jobj(obj, "metadata"), "annotations"),
			    "kubernetes.io/service-account.name"))
			v_required(c, "metadata.annotations[kubernetes.io/service-account.name]",
				   "");
	} else if (streq(type, "kubernetes.io/dockercfg")) {
		secret_json_key(c, obj, ".dockercfg");
	} else if (streq(type, "kubernetes.io/dockerconfigjson")) {
		secret_json_key(c, obj, ".dockerconfigjson");
	} else if (streq(type, "kubernetes.io/basic-auth")) {
		if (!secret_has(obj, "username") && !secret_has(obj, "password")) {
			v_required(c, "data[username]", "");
			v_required(c, "data[password]", "");
		}
	} else if (streq(type, "kubernetes.io/ssh-auth")) {
		size_t n = 0;
		free(secret_value(obj, "ssh-privatekey", &n));
		if (n == 0)
			v_required(c, "data[ssh-privatekey]", "");
	} else if (streq(type, "kubernetes.io/tls")) {
		if (!secret_has(obj, "tls.crt"))
			v_required(c, "data[tls.crt]", "");
		if (!secret_has(obj, "tls.key"))
			v_required(c, "data[tls.key]", "");
	}
}

void
validate_secret(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(secret_kind, obj, old, err);
}

/* --- ServiceAccount ------------------------------------------------------------------------ */

static void
service_account_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old)
		validate_object_meta_update(c, obj, old);
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
}

void
validate_service_account(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(service_account_kind, obj, old, err);
}

/* --- Endpoints ----------------------------------------------------------------------------- */

static void
endpoint_address(struct vctx *c, const json_t *a)
{
	const char *ip = jstr0(a, "ip");
	v_valid_ip(c, "ip", ip);
	const char *host = jstr0(a, "hostname");
	if (*host) {
		struct name_problems p = { 0 };
		check_dns1123_label(host, &p);
		v_problems(c, "hostname", host, &p);
	}
	const char *node = jstr(a, "nodeName");
	if (node) {
		struct name_problems p = { 0 };
		check_dns1123_subdomain(node, &p);
		v_problems(c, "nodeName", node, &p);
	}
	v_non_special_ip(c, "ip", ip);
}

static void
endpoints_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old)
		validate_object_meta_update(c, obj, old);
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	size_t i;
	json_t *ss;
	json_array_foreach (jarr(obj, "subsets"), i, ss) {
		size_t len = vp_field(c, "subsets");
		vp_index(c, i);
		const json_t *addrs = jarr(ss, "addresses"), *nr = jarr(ss, "notReadyAddresses");
		if (!jlen(addrs) && !jlen(nr))
			v_required(c, NULL, "must specify `addresses` or `notReadyAddresses`");
		static const char *const lists[] = { "addresses", "notReadyAddresses" };
		for (size_t l = 0; l < 2; l++) {
			size_t k;
			json_t *a;
			json_array_foreach (jarr(ss, lists[l]), k, a) {
				size_t l2 = vp_field(c, lists[l]);
				vp_index(c, k);
				endpoint_address(c, a);
				vp_pop(c, l2);
			}
		}
		const json_t *ports = jarr(ss, "ports");
		size_t k;
		json_t *p;
		json_array_foreach ((json_t *)ports, k, p) {
			size_t l2 = vp_field(c, "ports");
			vp_index(c, k);
			const char *name = jstr0(p, "name");
			if (jlen(ports) > 1 && !*name) {
				v_required(c, "name", "");
			} else if (*name) {
				struct name_problems np = { 0 };
				check_dns1123_label(name, &np);
				v_problems(c, "name", name, &np);
			}
			int64_t port = jint0(p, "port");
			if (!is_port_number(port))
				v_invalid_int(c, "port", port,
					      "must be between 1 and 65535, inclusive");
			const char *proto = jstr0(p, "protocol");
			if (!*proto)
				v_required(c, "protocol", "");
			else if (!str_in(proto, STRS("SCTP", "TCP", "UDP")))
				v_not_supported_str(c, "protocol", proto,
						    STRS("SCTP", "TCP", "UDP"));
			const char *app = jstr(p, "appProtocol");
			if (app) {
				struct name_problems np = { 0 };
				check_qualified_name(app, &np);
				v_problems(c, "appProtocol", app, &np);
			}
			vp_pop(c, l2);
		}
		vp_pop(c, len);
	}
}

void
validate_endpoints(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(endpoints_kind, obj, old, err);
}

/* --- Node ---------------------------------------------------------------------------------- */

static void
node_taints(struct vctx *c, const json_t *taints)
{
	json_t *seen = json_object();
	size_t i;
	json_t *t;
	json_array_foreach ((json_t *)taints, i, t) {
		size_t len = vp_field(c, "taints");
		vp_index(c, i);
		const char *key = jstr0(t, "key"), *value = jstr0(t, "value"),
			   *effect = jstr0(t, "effect");
		struct name_problems p = { 0 };
		check_qualified_name(key, &p);
		v_problems(c, "key", key, &p);
		p.n = 0;
		check_label_value(value, &p);
		if (p.n) {
			_cleanup_free_ char *joined = name_problems_join(&p, ";");
			v_invalid_str(c, "value", value, "%s", joined ? joined : "");
		}
		if (!*effect)
			v_required(c, "effect", "");
		else if (!str_in(effect, STRS("NoSchedule", "PreferNoSchedule", "NoExecute")))
			v_not_supported_str(c, "effect", effect,
					    STRS("NoSchedule", "PreferNoSchedule", "NoExecute"));
		char k[600];
		snprintf(k, sizeof(k), "%s\n%s", effect, key);
		if (json_object_get(seen, k)) {
			_cleanup_strbuf_ struct strbuf r = STRBUF_INIT;
			strbuf_puts(&r, "core.Taint{Key:");
			strbuf_put_go_quoted(&r, key, strlen(key));
			strbuf_puts(&r, ", Value:");
			strbuf_put_go_quoted(&r, value, strlen(value));
			strbuf_puts(&r, ", Effect:");
			strbuf_put_go_quoted(&r, effect, strlen(effect));
			strbuf_puts(&r, ", TimeAdded:<nil>}");
			v_duplicate_val(c, NULL, strbuf_str(&r),
					"taints must be unique by key and effect pair");
		} else {
			json_object_set_new(seen, k, json_true());
		}
		vp_pop(c, len);
	}
	json_decref(seen);
}

static void
node_resources(struct vctx *c, const json_t *obj)
{
	static const char *const lists[] = { "capacity", "allocatable" };
	for (size_t l = 0; l < 2; l++) {
		const char *key;
		json_t *q;
		json_object_foreach (jobj(jobj(obj, "status"), lists[l]), key, q) {
			size_t len = vp_field(c, "status");
			vp_field(c, lists[l]);
			vp_field(c, key);
			validate_resource_quantity_value(c, key, q);
			vp_pop(c, len);
		}
	}
}

static void
node_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	const json_t *spec = jobj(obj, "spec");
	if (!old) {
		validate_object_meta(c, obj, false, NAME_SUBDOMAIN);
	} else {
		validate_object_meta_update(c, obj, old);
	}
	/* Taints from the node annotations are long gone (scheduler.alpha annotation); the taints
	 * of the spec are reported under metadata, as Kubernetes' path has it. */
	if (!old) {
		if (jlen(jarr(spec, "taints"))) {
			size_t len = vp_field(c, "metadata");
			node_taints(c, jarr(spec, "taints"));
			vp_pop(c, len);
		}
		node_resources(c, obj);
		const json_t *cidrs = jarr(spec, "podCIDRs");
		size_t i;
		json_t *v;
		json_array_foreach ((json_t *)cidrs, i, v) {
			const char *s = json_is_string(v) ? json_string_value(v) : "";
			if (!is_cidr(s)) {
				size_t len = vp_field(c, "spec.podCIDRs");
				vp_index(c, i);
				v_invalid_str(
					c, NULL, s,
					"must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
				vp_pop(c, len);
			}
		}
		if (jlen(cidrs) > 1) {
			int v4 = 0, v6 = 0;
			json_array_foreach ((json_t *)cidrs, i, v) {
				const char *s = json_is_string(v) ? json_string_value(v) : "";
				if (strchr(s, ':'))
					v6++;
				else
					v4++;
			}
			if (!(v4 && v6) || jlen(cidrs) > 2)
				v_invalid_go(
					c, "spec.podCIDRs", go_put_str_slice, cidrs,
					"may specify no more than one CIDR for each IP family");
			json_t *seen = json_object();
			json_array_foreach ((json_t *)cidrs, i, v) {
				const char *s = json_is_string(v) ? json_string_value(v) : "";
				if (json_object_get(seen, s)) {
					size_t len = vp_field(c, "spec.podCIDRs");
					vp_index(c, i);
					v_duplicate_str(c, NULL, s);
					vp_pop(c, len);
				}
				json_object_set_new(seen, s, json_true());
			}
			json_decref(seen);
		}
		return;
	}
	const json_t *ospec = jobj(old, "spec");
	node_resources(c, obj);
	json_t *seen = json_object();
	size_t i;
	json_t *a;
	json_array_foreach (jarr(jobj(obj, "status"), "addresses"), i, a) {
		char *k = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
		if (k && json_object_get(seen, k)) {
			size_t len = vp_field(c, "status.addresses");
			vp_index(c, i);
			_cleanup_strbuf_ struct strbuf r = STRBUF_INIT;
			strbuf_puts(&r, "core.NodeAddress{Type:");
			strbuf_put_go_quoted(&r, jstr0(a, "type"), strlen(jstr0(a, "type")));
			strbuf_puts(&r, ", Address:");
			strbuf_put_go_quoted(&r, jstr0(a, "address"), strlen(jstr0(a, "address")));
			strbuf_putc(&r, '}');
			v_duplicate_val(c, NULL, strbuf_str(&r), NULL);
			vp_pop(c, len);
		} else if (k) {
			json_object_set_new(seen, k, json_true());
		}
		free(k);
	}
	json_decref(seen);
	const json_t *oc = jarr(ospec, "podCIDRs"), *nc = jarr(spec, "podCIDRs");
	if (jlen(oc)) {
		if (jlen(oc) != jlen(nc)) {
			v_forbidden(
				c, "spec.podCIDRs",
				"node updates may not change podCIDR except from \"\" to valid");
		} else {
			for (i = 0; i < jlen(oc); i++)
				if (!json_equal(json_array_get(oc, i), json_array_get(nc, i)))
					v_forbidden(
						c, "spec.podCIDRs",
						"node updates may not change podCIDR except from \"\" to valid");
		}
	}
	const char *opid = jstr0(ospec, "providerID");
	if (*opid && !streq(opid, jstr0(spec, "providerID")))
		v_forbidden(c, "spec.providerID",
			    "node updates may not change providerID except from \"\" to valid");
	if (jlen(jarr(spec, "taints"))) {
		size_t len = vp_field(c, "metadata");
		node_taints(c, jarr(spec, "taints"));
		vp_pop(c, len);
	}
	if (!streq(jstr0(spec, "externalID"), jstr0(ospec, "externalID")))
		v_forbidden(c, "spec.externalID", "may not be updated");
}

void
validate_node(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(node_kind, obj, old, err);
}

/* --- Event --------------------------------------------------------------------------------- */

/*
 * legacyValidateEvent: all that core/v1 Events get (events.k8s.io/v1 is stricter); the
 * generic metadata pass runs afterwards (object_validate).
 */
static void
event_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	const json_t *io = jobj(obj, "involvedObject");
	const char *ns = jstr0(jobj(obj, "metadata"), "namespace"), *ins = jstr0(io, "namespace");
	if (!jhas(obj, "eventTime")) {
		if (!*ins) {
			if (*ns && !streq(ns, "default"))
				v_invalid_str(c, "involvedObject.namespace", ins,
					      "does not match event.namespace");
		} else if (!streq(ns, ins)) {
			v_invalid_str(c, "involvedObject.namespace", ins,
				      "does not match event.namespace");
		}
	} else {
		if (!*ins && !streq(ns, "default") && !streq(ns, "kube-system"))
			v_invalid_str(c, "involvedObject.namespace", ins,
				      "does not match event.namespace");
		const char *rc = jstr0(obj, "reportingComponent");
		if (!*rc)
			v_required(c, "reportingController", "");
		struct name_problems p = { 0 };
		check_qualified_name(rc, &p);
		v_problems(c, "reportingController", rc, &p);
		const char *ri = jstr0(obj, "reportingInstance");
		if (!*ri)
			v_required(c, "reportingInstance", "");
		if (strlen(ri) > 128)
			v_invalid_str(c, "reportingInstance", "",
				      "can have at most 128 characters");
		const char *action = jstr0(obj, "action"), *reason = jstr0(obj, "reason");
		if (!*action)
			v_required(c, "action", "");
		if (strlen(action) > 128)
			v_invalid_str(c, "action", "", "can have at most 128 characters");
		if (!*reason)
			v_required(c, "reason", "");
		if (strlen(reason) > 128)
			v_invalid_str(c, "reason", "", "can have at most 128 characters");
		if (strlen(jstr0(obj, "message")) > 1024)
			v_invalid_str(c, "message", "", "can have at most 1024 characters");
	}
	struct name_problems p = { 0 };
	check_dns1123_subdomain(ns, &p);
	v_problems(c, "namespace", ns, &p);
	(void)old;
}

void
validate_event(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(event_kind, obj, old, err);
}
