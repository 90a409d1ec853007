/*
 * field_selector.c - field selectors as k8s.io/apimachinery/pkg/fields parses and prints them,
 * with the field labels kube-apiserver accepts per kind (its field label conversion functions)
 * and the values its GetAttrs functions give each object.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "base/error.h"
#include "base/json.h"
#include "base/quote.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"

struct field_def;

struct field_term {
	char *field;                 /* the field label, "status.phase" */
	char *value;                 /* the unescaped value */
	bool not_equal;              /* "!=" rather than "=" or "==" */
	const struct field_def *def; /* how to read it; NULL: a string at the label's path */
};

struct field_selector {
	struct field_term *terms; /* n terms, in the sorted order of their text */
	size_t n;                 /* terms in use */
	size_t cap;               /* allocated entries */
};

/* How a field's value is read from the object. */
enum field_kind {
	FIELD_STRING,       /* the string at path, "" when missing */
	FIELD_BOOL,         /* "true" or "false", "false" when missing */
	FIELD_INT,          /* the integer in decimal, "0" when missing */
	FIELD_POD_IP,       /* status.podIPs[0].ip, else status.podIP (the internal PodIPs[0]) */
	FIELD_EVENT_SOURCE, /* source.component, else reportingComponent */
	FIELD_NONE,         /* accepted, but not among the object's fields: always "" */
};

struct field_def {
	const char *label; /* the selector's field name */
	const char *path;  /* dotted JSON path read for it */
	enum field_kind kind;
};

/* How a kind refuses a field label, to the letter of its conversion function. */
enum refusal {
	REFUSE_DEFAULT, /* runtime.DefaultMetaV1FieldSelectorConversion */
	REFUSE_CORE,    /* "field label not supported: %s" */
	REFUSE_JOB,     /* "field label %q not supported for batchv1.Job" */
};

struct kind_fields {
	const char *group;              /* API group, "" for core */
	const char *kind;               /* the kind */
	enum refusal refusal;           /* the message for other labels */
	const struct field_def *fields; /* accepted labels, NULL-terminated */
};

#define META_NAME                                              \
	{                                                      \
		"metadata.name", "metadata.name", FIELD_STRING \
	}
#define META_NAMESPACE                                                   \
	{                                                                \
		"metadata.namespace", "metadata.namespace", FIELD_STRING \
	}
#define END                              \
	{                                \
		NULL, NULL, FIELD_STRING \
	}

static const struct field_def pod_fields[] = {
	META_NAME,
	META_NAMESPACE,
	{ "spec.nodeName", "spec.nodeName", FIELD_STRING },
	{ "spec.restartPolicy", "spec.restartPolicy", FIELD_STRING },
	{ "spec.schedulerName", "spec.schedulerName", FIELD_STRING },
	{ "spec.serviceAccountName", "spec.serviceAccountName", FIELD_STRING },
	{ "spec.hostNetwork", "spec.hostNetwork", FIELD_BOOL },
	{ "status.phase", "status.phase", FIELD_STRING },
	{ "status.podIP", NULL, FIELD_POD_IP },
	{ "status.podIPs", NULL, FIELD_NONE },
	{ "status.nominatedNodeName", "status.nominatedNodeName", FIELD_STRING },
	/* old v1 clients send spec.host; the conversion renames it */
	{ "spec.host", "spec.nodeName", FIELD_STRING },
	END,
};

static const struct field_def node_fields[] = {
	META_NAME,
	{ "spec.unschedulable", "spec.unschedulable", FIELD_BOOL },
	END,
};

static const struct field_def replicas_fields[] = {
	META_NAME,
	META_NAMESPACE,
	{ "status.replicas", "status.replicas", FIELD_INT },
	END,
};

static const struct field_def event_fields[] = {
	{ "involvedObject.kind", "involvedObject.kind", FIELD_STRING },
	{ "involvedObject.namespace", "involvedObject.namespace", FIELD_STRING },
	{ "involvedObject.name", "involvedObject.name", FIELD_STRING },
	{ "involvedObject.uid", "involvedObject.uid", FIELD_STRING },
	{ "involvedObject.apiVersion", "involvedObject.apiVersion", FIELD_STRING },
	{ "involvedObject.resourceVersion", "involvedObject.resourceVersion", FIELD_STRING },
	{ "involvedObject.fieldPath", "involvedObject.fieldPath", FIELD_STRING },
	{ "reason", "reason", FIELD_STRING },
	{ "reportingComponent", "reportingComponent", FIELD_STRING },
	{ "source", NULL, FIELD_EVENT_SOURCE },
	{ "type", "type", FIELD_STRING },
	META_NAMESPACE,
	META_NAME,
	END,
};

static const struct field_def namespace_fields[] = {
	{ "status.phase", "status.phase", FIELD_STRING },
	META_NAME,
	END,
};

static const struct field_def secret_fields[] = {
	{ "type", "type", FIELD_STRING },
	META_NAMESPACE,
	META_NAME,
	END,
};

static const struct field_def service_fields[] = {
	META_NAMESPACE,
	META_NAME,
	{ "spec.clusterIP", "spec.clusterIP", FIELD_STRING },
	{ "spec.type", "spec.type", FIELD_STRING },
	END,
};

static const struct field_def job_fields[] = {
	META_NAME,
	META_NAMESPACE,
	/* JobToSelectableFields: the count of succeeded pods */
	{ "status.successful", "status.succeeded", FIELD_INT },
	END,
};

static const struct field_def default_fields[] = {
	META_NAME,
	META_NAMESPACE,
	END,
};

static const struct kind_fields kinds[] = {
	{ "", "Pod", REFUSE_CORE, pod_fields },
	{ "", "Node", REFUSE_CORE, node_fields },
	{ "", "ReplicationController", REFUSE_CORE, replicas_fields },
	{ "", "Event", REFUSE_CORE, event_fields },
	{ "", "Namespace", REFUSE_CORE, namespace_fields },
	{ "", "Secret", REFUSE_CORE, secret_fields },
	{ "", "Service", REFUSE_CORE, service_fields },
	{ "apps", "ReplicaSet", REFUSE_CORE, replicas_fields },
	{ "batch", "Job", REFUSE_JOB, job_fields },
};

static const struct kind_fields *
kind_fields_for(const struct kind_info *kind)
{
	static const struct kind_fields other = { NULL, NULL, REFUSE_DEFAULT, default_fields };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (streq(kinds[i].group, kind->group ? kind->group : "") &&
		    streq(kinds[i].kind, kind->kind))
			return &kinds[i];
	return &other;
}

void
field_selector_free(struct field_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->terms[i].field);
		free(sel->terms[i].value);
	}
	free(sel->terms);
	free(sel);
}

DEFINE_CLEANUP_FUNC(field_selector_free, struct field_selector, field_selector_free)

/* The refusal of the conversion function for a label. */
static int
refuse(const struct kind_fields *kf, const char *label, korch_error **err)
{
	_cleanup_free_ char *q = go_quote(label);
	if (!q)
		return error_oom(err);
	switch (kf->refusal) {
	case REFUSE_CORE:
		return error_set(err, KORCH_EINVALID, "field label not supported: %s", label);
	case REFUSE_JOB:
		return error_set(err, KORCH_EINVALID,
				 "field label %s not supported for batchv1.Job", q);
	case REFUSE_DEFAULT: break;
	}
	return error_set(err, KORCH_EINVALID,
			 "%s is not a known field selector: only \"metadata.name\", "
			 "\"metadata.namespace\"",
			 q);
}

/* Decodes one UTF-8 sequence as Go's range loop does (invalid: one byte, U+FFFD). */
static size_t
rune_len(const char *s, bool *valid)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = p[0] < 0x80             ? 1
		   : (p[0] & 0xE0) == 0xC0 ? 2
		   : (p[0] & 0xF0) == 0xE0 ? 3
		   : (p[0] & 0xF8) == 0xF0 ? 4
					   : 0;
	*valid = n > 0;
	for (size_t i = 1; i < n && *valid; i++)
		if ((p[i] & 0xC0) != 0x80)
			*valid = false;
	if (*valid && n == 2 && p[0] < 0xC2)
		*valid = false;
	if (*valid && n == 3) {
		unsigned v = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6);
		if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))
			*valid = false;
	}
	if (*valid && n == 4) {
		unsigned v = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12);
		if (v < 0x10000 || v > 0x10FFFF)
			*valid = false;
	}
	return *valid ? n : 1;
}

/* fields.UnescapeValue: \\ \, \= are escapes; a lone ',' or '=' or another escape is refused. */
static int
unescape_value(const char *s, size_t len, char **ret, korch_error **err)
{
	char *out = malloc(len + 1);
	if (!out)
		return error_oom(err);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		bool valid;
		size_t n = rune_len(s + i, &valid);
		if (i + n > len)
			n = 1, valid = false;
		char c = s[i];
		if (c == '\\') {
			if (i + 1 >= len) {
				free(out);
				return error_set(
					err, KORCH_EINVALID,
					"invalid field selector: invalid escape sequence: \\");
			}
			char next = s[i + 1];
			if (next == '\\' || next == ',' || next == '=') {
				out[o++] = next;
				i += 2;
				continue;
			}
			size_t m = rune_len(s + i + 1, &valid);
			if (i + 1 + m > len)
				m = 1, valid = false;
			free(out);
			/* Go prints the rune after the backslash; an invalid byte is U+FFFD */
			return error_set(err, KORCH_EINVALID,
					 "invalid field selector: invalid escape sequence: \\%.*s",
					 valid ? (int)m : 3, valid ? s + i + 1 : "\xef\xbf\xbd");
		}
		if (c == ',' || c == '=') {
			free(out);
			return error_set(err, KORCH_EINVALID,
					 "invalid field selector: unescaped character in value: %d",
					 c);
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*ret = out;
	return 0;
}

/* fields.EscapeValue. */
static void
put_escaped(struct strbuf *sb, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == ',' || *v == '=')
			strbuf_putc(sb, '\\');
		strbuf_putc(sb, *v);
	}
}

static int
cmp_term_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* splitTerms: cut at commas that no backslash escapes. */
static int
split_terms(const char *text, char ***ret, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0, cap = 0, start = 0;
	bool in_slash = false;
	size_t len = strlen(text);
	for (size_t i = 0; i <= len; i++) {
		if (i < len) {
			if (in_slash) {
				in_slash = false;
				continue;
			}
			if (text[i] == '\\') {
				in_slash = true;
				continue;
			}
			if (text[i] != ',')
				continue;
		}
		char **slot = VEC_PUSH(v, n, cap);
		if (!slot || !(*slot = strndup(text + start, i - start))) {
			if (slot)
				n--;
			for (size_t j = 0; j < n; j++)
				free(v[j]);
			free(v);
			return KORCH_ENOMEM;
		}
		start = i + 1;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* splitTerm: the first position where "!=", "==" or "=" starts. */
static bool
split_term(const char *term, size_t *lhs_len, size_t *op_len, bool *not_equal)
{
	for (size_t i = 0; term[i]; i++) {
		if (term[i] == '!' && term[i + 1] == '=') {
			*lhs_len = i, *op_len = 2, *not_equal = true;
			return true;
		}
		if (term[i] == '=') {
			*lhs_len = i, *op_len = term[i + 1] == '=' ? 2 : 1, *not_equal = false;
			return true;
		}
	}
	return false;
}

static int
parse_terms(const char *text, char **parts, size_t n_parts, const struct kind_info *kind,
	    struct field_selector *sel, korch_error **err)
{
	const struct kind_fields *kf = kind ? kind_fields_for(kind) : NULL;
	for (size_t i = 0; i < n_parts; i++) {
		const char *part = parts[i];
		if (!*part)
			continue;
		size_t lhs_len, op_len;
		bool not_equal;
		if (!split_term(part, &lhs_len, &op_len, &not_equal))
			return error_set(err, KORCH_EINVALID,
					 "invalid selector: '%s'; can't understand '%s'", text,
					 part);
		char *value = NULL;
		const char *rhs = part + lhs_len + op_len;
		int r = unescape_value(rhs, strlen(rhs), &value, err);
		if (r < 0)
			return r;
		struct field_term *t = VEC_PUSH(sel->terms, sel->n, sel->cap);
		if (!t) {
			free(value);
			return error_oom(err);
		}
		*t = (struct field_term){ strndup(part, lhs_len), value, not_equal, NULL };
		if (!t->field)
			return error_oom(err);
	}
	/* Transform with the kind's conversion function, in the same (sorted) order. */
	for (size_t i = 0; kf && i < sel->n; i++) {
		struct field_term *t = &sel->terms[i];
		const struct field_def *d = kf->fields;
		while (d->label && !streq(d->label, t->field))
			d++;
		if (!d->label)
			return refuse(kf, t->field, err);
		t->def = d;
		if (streq(t->field, "spec.host") && kf->fields == pod_fields) {
			char *renamed = strdup("spec.nodeName");
			if (!renamed)
				return error_oom(err);
			free(t->field);
			t->field = renamed;
		}
	}
	return 0;
}

int
field_selector_parse(const char *text, const struct kind_info *kind, struct field_selector **ret,
		     korch_error **err)
{
	_cleanup_(field_selector_freep) struct field_selector *sel = calloc(1, sizeof(*sel));
	if (!sel)
		return error_oom(err);
	char **parts = NULL;
	size_t n_parts = 0;
	if (*text && split_terms(text, &parts, &n_parts) < 0)
		return error_oom(err);
	if (n_parts)
		qsort(parts, n_parts, sizeof(char *), cmp_term_text);
	int r = parse_terms(text, parts, n_parts, kind, sel, err);
	for (size_t i = 0; i < n_parts; i++)
		free(parts[i]);
	free(parts);
	if (r < 0)
		return r;
	*ret = steal_pointer(&sel);
	return 0;
}

static const char *
json_str_or_empty(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

/* The value GetAttrs gives the field, into buf when it has to be formatted. */
static const char *
field_value(const json_t *obj, const struct field_def *d, char buf[static 32])
{
	const json_t *v;
	switch (d->kind) {
	case FIELD_STRING: return json_str_or_empty(json_at_path(obj, d->path));
	case FIELD_BOOL: return json_is_true(json_at_path(obj, d->path)) ? "true" : "false";
	case FIELD_INT:
		v = json_at_path(obj, d->path);
		snprintf(buf, 32, "%" JSON_INTEGER_FORMAT,
			 json_is_integer(v) ? json_integer_value(v)
			 : json_is_real(v)  ? (json_int_t)json_real_value(v)
					    : 0);
		return buf;
	case FIELD_POD_IP:
		v = json_at_path(obj, "status.podIPs");
		if (json_is_array(v) && json_array_size(v) > 0)
			return json_str_or_empty(json_object_get(json_array_get(v, 0), "ip"));
		return json_str_or_empty(json_at_path(obj, "status.podIP"));
	case FIELD_EVENT_SOURCE: {
		const char *s = json_str_or_empty(json_at_path(obj, "source.component"));
		return *s ? s : json_str_or_empty(json_at_path(obj, "reportingComponent"));
	}
	case FIELD_NONE: return "";
	}
	return "";
}

bool
field_selector_matches(const struct field_selector *sel, const json_t *obj)
{
	for (size_t i = 0; sel && i < sel->n; i++) {
		const struct field_term *t = &sel->terms[i];
		struct field_def plain = { t->field, t->field, FIELD_STRING };
		const struct field_def *d = t->def ? t->def : &plain;
		char buf[32];
		bool equal = streq(field_value(obj, d, buf), t->value);
		if (equal == t->not_equal)
			return false;
	}
	return true;
}

bool
field_selector_is_empty(const struct field_selector *sel)
{
	return !sel || sel->n == 0;
}

char *
field_selector_string(const struct field_selector *sel)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; sel && i < sel->n; i++) {
		if (i)
			strbuf_putc(&sb, ',');
		strbuf_puts(&sb, sel->terms[i].field);
		strbuf_puts(&sb, sel->terms[i].not_equal ? "!=" : "=");
		put_escaped(&sb, sel->terms[i].value);
	}
	if (sb.oom) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

const char *
field_selector_exact_value(const struct field_selector *sel, const char *field)
{
	for (size_t i = 0; sel && i < sel->n; i++)
		if (!sel->terms[i].not_equal && streq(sel->terms[i].field, field))
			return sel->terms[i].value;
	return NULL;
}
