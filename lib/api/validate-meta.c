/*
 * validate-meta.c - ObjectMeta as Kubernetes validates it on create and update
 * (k8s.io/apimachinery/pkg/api/validation/objectmeta.go plus core's finalizer rules), and the
 * generic metadata pass the REST registry runs after a kind's own validation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/validate-internal.h"
#include "base/util.h"

#define FIELD_MANAGER_MAX_LENGTH 128
#define MAX_SUBRESOURCE_NAME_LENGTH 256

void
validate_label_map(struct vctx *c, const char *child, const json_t *labels)
{
	size_t len = child ? vp_field(c, child) : c->path.len;
	validate_labels(labels, strbuf_str(&c->path), &c->err);
	c->n_causes = korch_error_cause_count(c->err);
	vp_pop(c, len);
}

void
validate_annotation_map(struct vctx *c, const char *child, const json_t *annotations)
{
	size_t len = child ? vp_field(c, child) : c->path.len;
	validate_annotations(annotations, strbuf_str(&c->path), &c->err);
	c->n_causes = korch_error_cause_count(c->err);
	vp_pop(c, len);
}

/* schema.FromAPIVersionAndKind: the version part of an apiVersion ("" when it does not parse). */
static const char *
api_version_version(const char *api_version, char group[static 256])
{
	group[0] = '\0';
	const char *slash = strchr(api_version, '/');
	if (!slash)
		return api_version;
	if (strchr(slash + 1, '/'))
		return "";
	size_t n = (size_t)(slash - api_version);
	if (n < 256) {
		memcpy(group, api_version, n);
		group[n] = '\0';
	}
	return slash + 1;
}

/*
 * v1.OwnerReference as %#v prints it. Go shows the *bool fields as addresses; korch, which has
 * none to show, prints (*bool)(nil) or the value: (*bool)(true).
 */
static void
put_bool_ptr(struct strbuf *sb, const json_t *v)
{
	if (json_is_boolean(v))
		strbuf_printf(sb, "(*bool)(%s)", json_is_true(v) ? "true" : "false");
	else
		strbuf_puts(sb, "(*bool)(nil)");
}

static void
put_owner_ref(struct strbuf *sb, const json_t *ref)
{
	static const char *const fields[][2] = {
		{ "APIVersion", "apiVersion" },
		{ "Kind", "kind" },
		{ "Name", "name" },
		{ "UID", "uid" },
	};
	strbuf_puts(sb, "v1.OwnerReference{");
	for (size_t i = 0; i < 4; i++) {
		strbuf_printf(sb, "%s%s:", i ? ", " : "", fields[i][0]);
		const char *v = jstr0(ref, fields[i][1]);
		strbuf_put_go_quoted(sb, v, strlen(v));
	}
	strbuf_puts(sb, ", Controller:");
	put_bool_ptr(sb, jget(ref, "controller"));
	strbuf_puts(sb, ", BlockOwnerDeletion:");
	put_bool_ptr(sb, jget(ref, "blockOwnerDeletion"));
	strbuf_putc(sb, '}');
}

static void
put_owner_refs(struct strbuf *sb, const json_t *refs)
{
	strbuf_puts(sb, "[]v1.OwnerReference{");
	size_t i;
	json_t *ref;
	json_array_foreach ((json_t *)refs, i, ref) {
		if (i)
			strbuf_puts(sb, ", ");
		put_owner_ref(sb, ref);
	}
	strbuf_putc(sb, '}');
}

static void
validate_owner_references(struct vctx *c, const json_t *refs)
{
	if (!json_is_array(refs))
		return;
	size_t len = vp_field(c, "ownerReferences");
	char first[600] = "";
	size_t i;
	json_t *ref;
	json_array_foreach ((json_t *)refs, i, ref) {
		const char *api_version = jstr0(ref, "apiVersion"), *kind = jstr0(ref, "kind");
		char group[256];
		const char *version = api_version_version(api_version, group);
		if (!*version)
			v_invalid_str(c, "apiVersion", api_version, "version must not be empty");
		if (!*kind)
			v_invalid_str(c, "kind", kind, "kind must not be empty");
		if (!*jstr0(ref, "name"))
			v_invalid_str(c, "name", "", "name must not be empty");
		if (!*jstr0(ref, "uid"))
			v_invalid_str(c, "uid", "", "uid must not be empty");
		if (!*group && streq(version, "v1") && streq(kind, "Event")) {
			_cleanup_free_ char *r = render(c, put_owner_ref, ref);
			v_invalid_val(c, NULL, r ? r : "",
				      "/v1, Kind=Event is disallowed from being an owner");
		}
		if (jbool(ref, "controller")) {
			char cur[600];
			snprintf(cur, sizeof(cur), "%s/%s", kind, jstr0(ref, "name"));
			if (*first) {
				_cleanup_free_ char *r = render(c, put_owner_refs, refs);
				v_invalid_val(
					c, NULL, r ? r : "",
					"Only one reference can have Controller set to true. Found \"true\" in references for %s and %s",
					first, cur);
			} else {
				snprintf(first, sizeof(first), "%s", cur);
			}
		}
	}
	vp_pop(c, len);
}

/* ValidateFinalizers: qualified names at metadata.finalizers, and orphan vs foreground. */
static void
validate_finalizers(struct vctx *c, const json_t *finalizers)
{
	if (!json_is_array(finalizers))
		return;
	size_t len = vp_field(c, "finalizers");
	bool orphan = false, foreground = false;
	size_t i;
	json_t *f;
	json_array_foreach ((json_t *)finalizers, i, f) {
		const char *name = json_is_string(f) ? json_string_value(f) : "";
		struct name_problems p = { 0 };
		check_qualified_name(name, &p);
		v_problems(c, NULL, name, &p);
		orphan |= streq(name, "orphan");
		foreground |= streq(name, "foregroundDeletion");
	}
	if (orphan && foreground) {
		_cleanup_free_ char *r = render(c, go_put_str_slice, finalizers);
		v_invalid_val(c, NULL, r ? r : "",
			      "finalizer orphan and foregroundDeletion cannot be both set");
	}
	vp_pop(c, len);
}

/* validateKubeFinalizerName: a name without '/' must be one of Kubernetes' own. */
void
validate_finalizer_name(struct vctx *c, const char *child, const char *name)
{
	if (strchr(name, '/'))
		return;
	if (!str_in(name, STRS("kubernetes", "orphan", "foregroundDeletion")))
		v_invalid_str(
			c, child, name,
			"name is neither a standard finalizer name nor is it fully qualified");
}

static void
validate_kube_finalizers(struct vctx *c, const json_t *finalizers)
{
	if (!json_is_array(finalizers))
		return;
	size_t i;
	json_t *f;
	json_array_foreach ((json_t *)finalizers, i, f) {
		size_t len = vp_field(c, "finalizers");
		vp_index(c, i);
		validate_finalizer_name(c, NULL, json_is_string(f) ? json_string_value(f) : "");
		vp_pop(c, len);
	}
}

/*
 * ValidateFieldManager: at most 128 bytes, and every rune printable (korch knows the control
 * characters as not printable; positions are byte offsets, as Go's range gives them).
 */
static void
validate_field_manager(struct vctx *c, const char *manager)
{
	size_t n = strlen(manager);
	if (n > FIELD_MANAGER_MAX_LENGTH)
		v_too_long(c, "manager", FIELD_MANAGER_MAX_LENGTH);
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)manager[i];
		unsigned cp = ch;
		size_t len = 1;
		if (ch >= 0xC2 && ch < 0xE0 && i + 1 < n &&
		    ((unsigned char)manager[i + 1] & 0xC0) == 0x80) {
			cp = ((ch & 0x1Fu) << 6) | ((unsigned char)manager[i + 1] & 0x3Fu);
			len = 2;
		} else if (ch >= 0x80) {
			cp = 0xFFFD; /* RuneError is printable; longer sequences are too */
			while (i + len < n && ((unsigned char)manager[i + len] & 0xC0) == 0x80)
				len++;
		}
		if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
			v_invalid_str(c, "manager", manager,
				      "invalid character U+%04X (at position %zu)", cp, i);
		i += len;
	}
}

static void
validate_managed_fields(struct vctx *c, const json_t *fields)
{
	if (!json_is_array(fields))
		return;
	size_t i;
	json_t *f;
	json_array_foreach ((json_t *)fields, i, f) {
		size_t len = vp_field(c, "managedFields");
		vp_index(c, i);
		const char *op = jstr0(f, "operation");
		if (!streq(op, "Apply") && !streq(op, "Update"))
			v_invalid_str(c, "operation", op, "must be `Apply` or `Update`");
		const char *ft = jstr0(f, "fieldsType");
		if (*ft && !streq(ft, "FieldsV1"))
			v_invalid_str(c, "fieldsType", ft, "must be `FieldsV1`");
		validate_field_manager(c, jstr0(f, "manager"));
		if (strlen(jstr0(f, "subresource")) > MAX_SUBRESOURCE_NAME_LENGTH)
			v_too_long(c, "subresource", MAX_SUBRESOURCE_NAME_LENGTH);
		vp_pop(c, len);
	}
}

/*
 * ValidateObjectMetaAccessor at the current path (normally "metadata"): generateName, name,
 * namespace, generation, labels, annotations, ownerReferences, finalizers, managedFields.
 */
static void
object_meta_accessor(struct vctx *c, const json_t *meta, bool namespaced, enum name_rule rule)
{
	struct name_problems p = { 0 };
	const char *gen = jstr0(meta, "generateName"), *name = jstr0(meta, "name");
	if (*gen) {
		name_rule_check(rule, gen, true, &p);
		v_problems(c, "generateName", gen, &p);
	}
	if (!*name) {
		v_required(c, "name", "name or generateName is required");
	} else {
		p.n = 0;
		name_rule_check(rule, name, false, &p);
		v_problems(c, "name", name, &p);
	}
	const char *ns = jstr0(meta, "namespace");
	if (namespaced) {
		if (!*ns) {
			v_required(c, "namespace", "");
		} else {
			p.n = 0;
			check_dns1123_label(ns, &p);
			v_problems(c, "namespace", ns, &p);
		}
	} else if (*ns) {
		v_forbidden(c, "namespace", "not allowed on this type");
	}
	v_nonneg(c, meta, "generation");
	validate_label_map(c, "labels", jget(meta, "labels"));
	validate_annotation_map(c, "annotations", jget(meta, "annotations"));
	validate_owner_references(c, jget(meta, "ownerReferences"));
	validate_finalizers(c, jget(meta, "finalizers"));
	validate_managed_fields(c, jget(meta, "managedFields"));
}

void
validate_object_meta(struct vctx *c, const json_t *obj, bool namespaced, enum name_rule rule)
{
	const json_t *meta = jobj(obj, "metadata");
	size_t len = vp_field(c, "metadata");
	object_meta_accessor(c, meta, namespaced, rule);
	validate_kube_finalizers(c, jget(meta, "finalizers"));
	vp_pop(c, len);
}

/* metav1.Time as Kubernetes prints it in "field is immutable" (time.Time's String()). */
static void
put_time(struct strbuf *sb, const json_t *v)
{
	int64_t ns;
	if (!json_is_string(v) || parse_rfc3339(json_string_value(v), &ns) < 0) {
		go_put_scalar(sb, v);
		return;
	}
	time_t secs = (time_t)(ns / NSEC_PER_SEC);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
	strbuf_puts(sb, buf);
}

static void
object_meta_accessor_update(struct vctx *c, const json_t *meta, const json_t *old)
{
	if (jhas(old, "deletionTimestamp")) {
		/* ValidateNoNewFinalizers */
		const json_t *nf = jarr(meta, "finalizers"), *of = jarr(old, "finalizers");
		json_t *extra = json_array();
		size_t i;
		json_t *f;
		json_array_foreach ((json_t *)nf, i, f) {
			bool found = false;
			size_t j;
			json_t *g;
			json_array_foreach ((json_t *)of, j, g)
				found |= json_equal(f, g);
			bool dup = false;
			json_array_foreach (extra, j, g)
				dup |= json_equal(f, g);
			if (!found && !dup)
				json_array_append(extra, f);
		}
		if (json_array_size(extra)) {
			_cleanup_free_ char *r = render(c, go_put_str_slice, extra);
			char msg[4096];
			snprintf(
				msg, sizeof(msg),
				"no new finalizers can be added if the object is being deleted, found new finalizers %s",
				r ? r : "");
			v_forbidden(c, "finalizers", msg);
		}
		json_decref(extra);
	}
	int64_t ng = jint0(meta, "generation"), og = jint0(old, "generation");
	if (ng < og)
		v_invalid_int(c, "generation", ng, "must not be decremented");
	static const char *const immutable[] = { "name", "namespace", "uid", NULL };
	for (size_t i = 0; immutable[i]; i++) {
		const char *n = jstr0(meta, immutable[i]), *o = jstr0(old, immutable[i]);
		if (!streq(n, o))
			v_invalid_str(c, immutable[i], n, MSG_IMMUTABLE);
	}
	/* An unset metav1.Time is the zero time, which prints as 0001-01-01 00:00:00 +0000 UTC. */
	const json_t *nc = jget(meta, "creationTimestamp"), *oc = jget(old, "creationTimestamp");
	if (!(nc ? oc && json_equal((json_t *)nc, (json_t *)oc) : !oc)) {
		if (nc) {
			v_invalid_go(c, "creationTimestamp", put_time, nc, MSG_IMMUTABLE);
		} else {
			v_invalid_val(c, "creationTimestamp", "0001-01-01 00:00:00 +0000 UTC",
				      MSG_IMMUTABLE);
		}
	}
	v_immutable(c, "deletionTimestamp", jget(meta, "deletionTimestamp"),
		    jget(old, "deletionTimestamp"), put_time);
	v_immutable(c, "deletionGracePeriodSeconds", jget(meta, "deletionGracePeriodSeconds"),
		    jget(old, "deletionGracePeriodSeconds"), NULL);
	validate_label_map(c, "labels", jget(meta, "labels"));
	validate_annotation_map(c, "annotations", jget(meta, "annotations"));
	validate_owner_references(c, jget(meta, "ownerReferences"));
	validate_managed_fields(c, jget(meta, "managedFields"));
}

void
validate_object_meta_update(struct vctx *c, const json_t *obj, const json_t *old)
{
	const json_t *meta = jobj(obj, "metadata");
	size_t len = vp_field(c, "metadata");
	object_meta_accessor_update(c, meta, jobj(old, "metadata"));
	validate_kube_finalizers(c, jget(meta, "finalizers"));
	vp_pop(c, len);
}

/*
 * The metadata rules every registry applies whatever the kind (apimachinery's, with
 * path-segment names): rest.BeforeCreate runs them after the kind's own, rest.BeforeUpdate
 * (validateCommonFields) before the kind's, with the update rules.
 */
void
validate_generic_meta(struct vctx *c, const json_t *obj, const json_t *old, bool namespaced)
{
	size_t len = vp_field(c, "metadata");
	object_meta_accessor(c, jobj(obj, "metadata"), namespaced, NAME_PATH_SEGMENT);
	if (old)
		object_meta_accessor_update(c, jobj(obj, "metadata"), jobj(old, "metadata"));
	vp_pop(c, len);
}
