/*
 * util.c - object helpers shared by the controllers (see util.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "base/error.h"
#include "base/json.h"
#include "base/macro.h"
#include "base/util.h"
#include "controller/util.h"

const json_t *
jp_get(const json_t *o, const char *path)
{
	const char *p = path;
	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char key[128];
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		p += n + (dot ? 1 : 0);
	}
	return o;
}

const char *
jp_str(const json_t *o, const char *path)
{
	return json_string_value(jp_get(o, path));
}

const char *
jp_str0(const json_t *o, const char *path)
{
	const char *s = jp_str(o, path);
	return s ? s : "";
}

int64_t
jp_int(const json_t *o, const char *path, int64_t dflt)
{
	const json_t *v = jp_get(o, path);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

bool
jp_true(const json_t *o, const char *path)
{
	return json_is_true(jp_get(o, path));
}

json_t *
jp_obj(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_object(v))
		return v;
	v = json_object();
	if (!v || json_object_set_new(o, key, v) < 0)
		return NULL;
	return v;
}

bool
jp_set(json_t *o, const char *key, json_t *value_new)
{
	json_t *cur = json_object_get(o, key);
	if (cur && value_new && json_equal(cur, value_new)) {
		json_decref(value_new);
		return false;
	}
	json_object_set_new(o, key, value_new);
	return true;
}

const char *
time_text(int64_t wall_ns, char buf[static 32])
{
	return format_rfc3339(wall_ns - wall_ns % NSEC_PER_SEC, false, buf);
}

const char *
micro_time_text(int64_t wall_ns, char buf[static 32])
{
	return format_rfc3339(wall_ns - wall_ns % NSEC_PER_USEC, true, buf);
}

int64_t
jp_time(const json_t *o, const char *path, int64_t dflt)
{
	const char *s = jp_str(o, path);
	int64_t t;
	if (!s || parse_rfc3339(s, &t) < 0)
		return dflt;
	return t;
}

/* ---- owners ---- */

json_t *
controller_ref_new(const json_t *owner, const struct kind_info *k)
{
	char api_version[64];
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion",
			 kind_api_version(k, api_version), "kind", k->kind, "name",
			 jp_str0(owner, "metadata.name"), "uid", jp_str0(owner, "metadata.uid"),
			 "controller", 1, "blockOwnerDeletion", 1);
}

const json_t *
controller_ref(const json_t *obj)
{
	size_t i;
	json_t *ref;
	json_array_foreach (jp_get(obj, "metadata.ownerReferences"), i, ref)
		if (json_is_true(json_object_get(ref, "controller")))
			return ref;
	return NULL;
}

bool
controlled_by(const json_t *obj, const char *uid)
{
	const json_t *ref = controller_ref(obj);
	return ref && streq(json_string_value(json_object_get(ref, "uid")), uid);
}

/* ---- pods ---- */

const char *
pod_phase(const json_t *pod)
{
	return jp_str0(pod, "status.phase");
}

bool
pod_assigned(const json_t *pod)
{
	return *jp_str0(pod, "spec.nodeName") != '\0';
}

bool
pod_active(const json_t *pod)
{
	const char *phase = pod_phase(pod);
	return !streq(phase, "Succeeded") && !streq(phase, "Failed") &&
	       !jp_get(pod, "metadata.deletionTimestamp");
}

bool
pod_ready(const json_t *pod)
{
	const json_t *c = condition_get(pod, "Ready");
	return c && streq(jp_str(c, "status"), "True");
}

bool
pod_available(const json_t *pod, int64_t min_ready_s, int64_t now_ns, int64_t *ret_wait_ns)
{
	if (ret_wait_ns)
		*ret_wait_ns = 0;
	const json_t *c = condition_get(pod, "Ready");
	if (!c || !streq(jp_str(c, "status"), "True"))
		return false;
	if (min_ready_s <= 0)
		return true;
	int64_t since = jp_time(c, "lastTransitionTime", 0);
	int64_t due = since + min_ready_s * NSEC_PER_SEC;
	if (since && due <= now_ns)
		return true;
	if (ret_wait_ns)
		*ret_wait_ns = since ? due - now_ns : min_ready_s * NSEC_PER_SEC;
	return false;
}

/* ---- conditions ---- */

const json_t *
condition_get(const json_t *obj, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (jp_get(obj, "status.conditions"), i, c)
		if (streq(jp_str(c, "type"), type))
			return c;
	return NULL;
}

bool
condition_set(json_t *obj, const char *type, const char *status, const char *reason,
	      const char *message, int64_t now_wall_ns, bool with_update_time)
{
	json_t *st = jp_obj(obj, "status");
	json_t *conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	char now[32];
	time_text(now_wall_ns, now);
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c) {
		if (!streq(jp_str(c, "type"), type))
			continue;
		bool same_status = streq(jp_str(c, "status"), status);
		if (same_status && streq_null(jp_str(c, "reason"), reason) &&
		    streq_null(jp_str(c, "message"), message))
			return false;
		json_object_set_new(c, "status", json_string(status));
		if (reason)
			json_object_set_new(c, "reason", json_string(reason));
		if (message)
			json_object_set_new(c, "message", json_string(message));
		if (!same_status)
			json_object_set_new(c, "lastTransitionTime", json_string(now));
		if (with_update_time)
			json_object_set_new(c, "lastUpdateTime", json_string(now));
		return true;
	}
	c = json_pack("{s:s, s:s}", "type", type, "status", status);
	if (with_update_time)
		json_object_set_new(c, "lastUpdateTime", json_string(now));
	json_object_set_new(c, "lastTransitionTime", json_string(now));
	if (reason)
		json_object_set_new(c, "reason", json_string(reason));
	if (message)
		json_object_set_new(c, "message", json_string(message));
	json_array_append_new(conds, c);
	return true;
}

bool
condition_remove(json_t *obj, const char *type)
{
	json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c)
		if (streq(jp_str(c, "type"), type)) {
			json_array_remove(conds, i);
			return true;
		}
	return false;
}

/* ---- values ---- */

int
int_or_percent(const json_t *v, int64_t total, bool round_up, int64_t *ret, korch_error **err)
{
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return 0;
	}
	const char *s = json_string_value(v);
	if (s) {
		size_t n = strlen(s);
		int64_t pct;
		char num[32];
		if (n >= 2 && n < sizeof(num) && s[n - 1] == '%') {
			memcpy(num, s, n - 1);
			num[n - 1] = '\0';
			if (parse_int64(num, &pct) == 0) {
				/* math.Ceil / math.Floor of float64(pct*total)/100 */
				int64_t prod = pct * total;
				int64_t q = prod / 100, rem = prod % 100;
				if (rem != 0 && round_up && prod > 0)
					q++;
				if (rem != 0 && !round_up && prod < 0)
					q--;
				*ret = q;
				return 0;
			}
		}
		/* A plain number in a string is an error too (GetScaledValueFromIntOrPercent). */
		return error_set(err, KORCH_EINVALID,
				 "invalid value for IntOrString: invalid value %s", s);
	}
	return error_set(err, KORCH_EINVALID, "invalid value for IntOrString: invalid type");
}

/* ---- templates ---- */

/*
 * The semantic form of a JSON value: null, {} and [] dropped (Go's nil and empty are equal to
 * Semantic.DeepEqual), quantities canonical, the pod-template-hash label gone. Returns NULL for
 * a value that is dropped.
 */
static json_t *
semantic(const json_t *v, const char *parent_key, int depth)
{
	if (!v || json_is_null(v) || depth > 64)
		return NULL;
	if (json_is_object(v)) {
		json_t *out = json_object();
		const char *k;
		json_t *child;
		json_object_foreach ((json_t *)v, k, child) {
			if (streq(parent_key, "labels") && streq(k, "pod-template-hash"))
				continue;
			json_t *c = semantic(child, k, depth + 1);
			if (c)
				json_object_set_new(out, k, c);
		}
		if (json_object_size(out) == 0) {
			json_decref(out);
			return NULL;
		}
		return out;
	}
	if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			return NULL;
		json_t *out = json_array();
		size_t i;
		json_t *child;
		json_array_foreach (v, i, child) {
			json_t *c = semantic(child, NULL, depth + 1);
			/* An element keeps its place even when empty ({} stays a zero struct). */
			json_array_append_new(out, c ? c : json_object());
		}
		return out;
	}
	/* Quantities under resources compare by value: "0.5" and "500m" are equal. */
	if (json_is_string(v) && parent_key &&
	    (streq(parent_key, "cpu") || streq(parent_key, "memory") ||
	     streq(parent_key, "ephemeral-storage") || strchr(parent_key, '/'))) {
		struct quantity q;
		char buf[64];
		if (quantity_parse(json_string_value(v), &q, NULL) == 0) {
			q.text[0] = '\0';
			quantity_format(&q, buf);
			return json_string(buf);
		}
	}
	return json_deep_copy(v);
}

bool
templates_equal_ignore_hash(const json_t *a, const json_t *b)
{
	_cleanup_json_ json_t *x = semantic(a, NULL, 0);
	_cleanup_json_ json_t *y = semantic(b, NULL, 0);
	if (!x || !y)
		return !x && !y;
	return json_equal(x, y);
}

/* FNV-1a, 32 bits (hash/fnv New32a). */
static uint32_t
fnv32a(uint32_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

/*
 * Kubernetes feeds FNV-32a with go-spew's dump of the Go struct; korch feeds it the template's
 * semantic form as compact JSON with sorted keys: the same template always gives the same hash,
 * a template equal to it semantically (a rollback's) too, and any change of meaning another.
 * The collision count bytes and SafeEncodeString are Kubernetes' own.
 */
void
pod_template_hash(const json_t *tmpl, int64_t collision_count, char buf[static 16])
{
	_cleanup_json_ json_t *norm = semantic(tmpl, NULL, 0);
	_cleanup_free_ char *text =
		norm ? json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	uint32_t h = 2166136261u;
	if (text)
		h = fnv32a(h, text, strlen(text));
	if (collision_count >= 0) {
		unsigned char cc[8] = { 0 };
		uint32_t v = (uint32_t)collision_count;
		for (int i = 0; i < 4; i++)
			cc[i] = (unsigned char)(v >> (8 * i));
		h = fnv32a(h, cc, sizeof(cc));
	}
	static const char alphanums[] = "bcdfghjklmnpqrstvwxz2456789";
	char dec[16];
	int n = snprintf(dec, sizeof(dec), "%u", h);
	for (int i = 0; i < n; i++)
		buf[i] = alphanums[(unsigned char)dec[i] % (sizeof(alphanums) - 1)];
	buf[n] = '\0';
}

/* ---- selectors ---- */

int
workload_selector(const json_t *obj, bool rc_map, struct label_selector **ret, korch_error **err)
{
	const json_t *sel = jp_get(obj, "spec.selector");
	if (rc_map)
		return label_selector_from_map(sel, ret, err);
	return label_selector_from_json(sel, ret, err);
}

bool
selects(const struct label_selector *sel, const json_t *obj)
{
	if (!sel || label_selector_is_empty(sel))
		return false;
	return label_selector_matches(sel, jp_get(obj, "metadata.labels"));
}

char *
object_key(const json_t *obj)
{
	const char *ns = jp_str(obj, "metadata.namespace");
	const char *name = jp_str0(obj, "metadata.name");
	char *key = NULL;
	if (asprintf(&key, "%s%s%s", ns && *ns ? ns : "", ns && *ns ? "/" : "", name) < 0)
		return NULL;
	return key;
}
