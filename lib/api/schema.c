/*
 * schema.c - looking fields and types up in the generated schema tables, and schema_check():
 * unknown fields and JSON types checked the way kube-apiserver's decoder checks them.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/schema.h"
#include "base/error.h"
#include "base/quote.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"

static int
field_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct schema_field *)elem)->name);
}

const struct schema_field *
schema_field(const struct schema_type *type, const char *name)
{
	if (!type || !name || type->kind != SCHEMA_OBJECT || !type->fields)
		return NULL;
	return bsearch(name, type->fields, type->n_fields, sizeof(type->fields[0]), field_cmp);
}

static int
named_type_cmp(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct schema_type *const *)elem)->name);
}

const struct schema_type *
schema_type_by_name(const char *name)
{
	if (!name)
		return NULL;
	const struct schema_type *const *t = bsearch(name, schema_named_types, schema_n_named_types,
						     sizeof(schema_named_types[0]), named_type_cmp);
	if (t)
		return *t;
	for (size_t i = 0; i < schema_n_handwritten_types; i++)
		if (strcmp(schema_handwritten_types[i]->name, name) == 0)
			return schema_handwritten_types[i];
	return NULL;
}

/* A change schema_check() makes once it knows the object passed: delete a field, or put a
 * zero value where a null list item or map value was. */
struct pending_change {
	json_t *container; /* the object or array changed (borrowed) */
	char *key;         /* object: the field to delete, or the map key to set; NULL for arrays */
	size_t index;      /* array: the item to set */
	json_t *value;     /* the value to set (owned), NULL to delete key */
};

struct check {
	enum field_validation mode;     /* what unknown fields get */
	struct strbuf path;             /* the field path of the value being looked at */
	korch_error *err;               /* the causes found so far */
	size_t n_causes;                /* causes added (at most SCHEMA_CHECK_MAX_CAUSES) */
	size_t n_unknown;               /* of which unknown fields */
	struct pending_change *changes; /* applied only when the whole object passed */
	size_t n_changes;               /* entries in changes */
	size_t cap_changes;             /* allocated entries */
	char **warnings;                /* `unknown field "..."` texts for WARN */
	size_t n_warnings;              /* entries in warnings */
	size_t cap_warnings;            /* allocated entries */
	bool oom;                       /* an allocation failed: the result is KORCH_ENOMEM */
};

static const char *
json_type_word(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

static const char *
expected_word(const struct schema_type *t)
{
	switch (t->kind) {
	case SCHEMA_STRING:
	case SCHEMA_TIME:
	case SCHEMA_BYTES: return "string";
	case SCHEMA_INTEGER: return "integer";
	case SCHEMA_NUMBER: return "number";
	case SCHEMA_BOOLEAN: return "boolean";
	case SCHEMA_OBJECT:
	case SCHEMA_MAP: return "object";
	case SCHEMA_ARRAY: return "array";
	case SCHEMA_INT_OR_STRING: return "integer or string";
	case SCHEMA_QUANTITY: return "string or number";
	case SCHEMA_ANY: return "any value";
	}
	return "unknown";
}

/* The shortest text that reads back as the same double. */
static void
put_real(struct strbuf *sb, double d)
{
	char buf[64];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	strbuf_puts(sb, buf);
}

/* "Invalid value: V: " for a scalar, "Invalid value: " for an object or array (not shown). */
static void
put_invalid_value(struct strbuf *sb, const json_t *v)
{
	strbuf_puts(sb, "Invalid value: ");
	switch (json_typeof(v)) {
	case JSON_STRING:
		strbuf_put_go_quoted(sb, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER: strbuf_printf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
	case JSON_REAL: put_real(sb, json_real_value(v)); break;
	case JSON_TRUE: strbuf_puts(sb, "true"); break;
	case JSON_FALSE: strbuf_puts(sb, "false"); break;
	case JSON_NULL: strbuf_puts(sb, "null"); break;
	default: return;
	}
	strbuf_puts(sb, ": ");
}

static void
add_cause(struct check *c, const char *reason, const char *message)
{
	if (c->n_causes >= SCHEMA_CHECK_MAX_CAUSES)
		return;
	const char *field = c->path.len ? strbuf_str(&c->path) : NULL;
	error_add_cause(&c->err, reason, field, "%s", message);
	if (korch_error_cause_count(c->err) != c->n_causes + 1) {
		c->oom = true;
		return;
	}
	c->n_causes++;
}

/* A cause for value v at the current path: "Invalid value: V: DETAIL" (value omitted when
 * show_value is false or v is an object or array). */
static void invalid(struct check *c, const char *reason, const json_t *v, bool show_value,
		    const char *fmt, ...) _printf_(5, 6);

static void
invalid(struct check *c, const char *reason, const json_t *v, bool show_value, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
	if (show_value)
		put_invalid_value(&msg, v);
	else
		strbuf_puts(&msg, "Invalid value: ");
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (msg.oom) {
		c->oom = true;
		return;
	}
	add_cause(c, reason, strbuf_str(&msg));
}

static void
type_mismatch(struct check *c, const json_t *v, const struct schema_type *t)
{
	invalid(c, "FieldValueTypeInvalid", v, true, "expected %s, got %s", expected_word(t),
		json_type_word(v));
}

static struct pending_change *
add_change(struct check *c, json_t *container, const char *key, size_t index, json_t *value)
{
	struct pending_change *p = VEC_PUSH(c->changes, c->n_changes, c->cap_changes);
	if (!p) {
		json_decref(value);
		c->oom = true;
		return NULL;
	}
	p->container = container;
	p->index = index;
	p->value = value;
	if (key && !(p->key = strdup(key))) {
		json_decref(value);
		c->n_changes--;
		c->oom = true;
		return NULL;
	}
	return p;
}

static void
unknown_field(struct check *c, json_t *obj, const char *key)
{
	if (c->mode == FIELD_VALIDATION_STRICT) {
		size_t before = c->n_causes;
		add_cause(c, SCHEMA_REASON_UNKNOWN_FIELD, "unknown field");
		c->n_unknown += c->n_causes - before;
		return;
	}
	if (!add_change(c, obj, key, 0, NULL))
		return;
	if (c->mode != FIELD_VALIDATION_WARN || c->n_warnings >= SCHEMA_CHECK_MAX_CAUSES)
		return;
	_cleanup_strbuf_ struct strbuf w = STRBUF_INIT;
	strbuf_puts(&w, "unknown field ");
	strbuf_put_go_quoted(&w, c->path.buf, c->path.len);
	char **slot = VEC_PUSH(c->warnings, c->n_warnings, c->cap_warnings);
	if (w.oom || !slot) {
		if (slot)
			c->n_warnings--;
		c->oom = true;
		return;
	}
	*slot = strbuf_steal(&w);
}

/* Appends ".name" (or "name" at the root) to the path; returns the length to cut back to. */
static size_t
path_push_field(struct check *c, const char *name)
{
	size_t len = c->path.len;
	if (len)
		strbuf_putc(&c->path, '.');
	strbuf_puts(&c->path, name);
	if (c->path.oom)
		c->oom = true;
	return len;
}

static size_t
path_push_key(struct check *c, const char *key)
{
	size_t len = c->path.len;
	strbuf_printf(&c->path, "[%s]", key);
	if (c->path.oom)
		c->oom = true;
	return len;
}

static size_t
path_push_index(struct check *c, size_t i)
{
	size_t len = c->path.len;
	strbuf_printf(&c->path, "[%zu]", i);
	if (c->path.oom)
		c->oom = true;
	return len;
}

/*
 * Puts, once the check passed, what Kubernetes' decoder leaves where a list item or map value
 * is null: the Go zero value of the element type as it encodes back to JSON. Where that is null
 * again (times, bytes, lists, maps, free-form values) the null stays.
 */
static void
null_item(struct check *c, json_t *container, const char *key, size_t index,
	  const struct schema_type *elem)
{
	json_t *zero;
	switch (elem->kind) {
	case SCHEMA_STRING: zero = json_string(""); break;
	case SCHEMA_INTEGER:
	case SCHEMA_NUMBER:
	case SCHEMA_INT_OR_STRING: zero = json_integer(0); break;
	case SCHEMA_BOOLEAN: zero = json_false(); break;
	case SCHEMA_OBJECT: zero = json_object(); break;
	case SCHEMA_QUANTITY: zero = json_string("0"); break;
	default: return;
	}
	if (!zero) {
		c->oom = true;
		return;
	}
	add_change(c, container, key, index, zero);
}

/* Go's base64.StdEncoding as encoding/json uses it for []byte: padded, \r and \n skipped.
 * Returns -1 when s is valid, else the offset Go's CorruptInputError names. */
static long
base64_error_offset(const char *s, size_t len)
{
	size_t quantum = 0, quantum_start = 0;
	bool padded = false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '\r' || ch == '\n')
			continue;
		if (padded)
			return (long)i;
		if (quantum == 0)
			quantum_start = i;
		if (ch == '=') {
			if (quantum < 2)
				return (long)i;
			if (quantum == 2) {
				/* "xx==": the next significant byte must be '=' too */
				size_t j = i + 1;
				while (j < len && (s[j] == '\r' || s[j] == '\n'))
					j++;
				if (j >= len || s[j] != '=')
					return (long)(j >= len ? len : j);
				i = j;
			}
			padded = true;
			quantum = 0;
			continue;
		}
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			  (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
		if (!ok)
			return (long)i;
		quantum = (quantum + 1) % 4;
	}
	if (quantum != 0)
		return (long)quantum_start;
	return -1;
}

static void check_object(struct check *c, json_t *obj, const struct schema_type *t);

static void
check_int32_range(struct check *c, const json_t *v)
{
	json_int_t n = json_integer_value(v);
	if (n < INT32_MIN || n > INT32_MAX)
		invalid(c, "FieldValueInvalid", v, true, "must be between %d and %d, inclusive",
			INT32_MIN, INT32_MAX);
}

/* Checks a non-null value against t, descending into objects, maps and arrays. */
static void
check_value(struct check *c, json_t *v, const struct schema_type *t)
{
	if (c->oom)
		return;
	switch (t->kind) {
	case SCHEMA_ANY: return;
	case SCHEMA_OBJECT:
		if (!json_is_object(v)) {
			type_mismatch(c, v, t);
			return;
		}
		check_object(c, v, t);
		return;
	case SCHEMA_MAP: {
		if (!json_is_object(v)) {
			type_mismatch(c, v, t);
			return;
		}
		const char *key;
		json_t *item;
		json_object_foreach (v, key, item) {
			size_t len = path_push_key(c, key);
			if (json_is_null(item))
				null_item(c, v, key, 0, t->elem);
			else
				check_value(c, item, t->elem);
			strbuf_truncate(&c->path, len);
		}
		return;
	}
	case SCHEMA_ARRAY: {
		if (!json_is_array(v)) {
			type_mismatch(c, v, t);
			return;
		}
		size_t i;
		json_t *item;
		json_array_foreach (v, i, item) {
			size_t len = path_push_index(c, i);
			if (json_is_null(item))
				null_item(c, v, NULL, i, t->elem);
			else
				check_value(c, item, t->elem);
			strbuf_truncate(&c->path, len);
		}
		return;
	}
	case SCHEMA_STRING:
		if (!json_is_string(v))
			type_mismatch(c, v, t);
		return;
	case SCHEMA_INTEGER:
		if (!json_is_integer(v))
			type_mismatch(c, v, t);
		else if (streq(t->format, "int32"))
			check_int32_range(c, v);
		return;
	case SCHEMA_NUMBER:
		if (!json_is_number(v))
			type_mismatch(c, v, t);
		return;
	case SCHEMA_BOOLEAN:
		if (!json_is_boolean(v))
			type_mismatch(c, v, t);
		return;
	case SCHEMA_INT_OR_STRING:
		if (json_is_integer(v))
			check_int32_range(c, v);
		else if (!json_is_string(v))
			type_mismatch(c, v, t);
		return;
	case SCHEMA_QUANTITY:
		if (!json_is_string(v) && !json_is_number(v))
			type_mismatch(c, v, t);
		return;
	case SCHEMA_TIME: {
		int64_t ns;
		if (!json_is_string(v))
			type_mismatch(c, v, t);
		else if (parse_rfc3339(json_string_value(v), &ns) < 0)
			invalid(c, "FieldValueInvalid", v, true,
				"expected an RFC 3339 date-time such as \"2006-01-02T15:04:05Z\"");
		return;
	}
	case SCHEMA_BYTES: {
		if (!json_is_string(v)) {
			type_mismatch(c, v, t);
			return;
		}
		long off = base64_error_offset(json_string_value(v), json_string_length(v));
		if (off >= 0)
			invalid(c, "FieldValueInvalid", v, false,
				"illegal base64 data at input byte %ld", off);
		return;
	}
	}
}

static void
check_object(struct check *c, json_t *obj, const struct schema_type *t)
{
	const char *key;
	json_t *value;
	json_object_foreach (obj, key, value) {
		if (c->oom)
			return;
		size_t len = path_push_field(c, key);
		const struct schema_field *f = schema_field(t, key);
		if (!f)
			unknown_field(c, obj, key);
		else if (json_is_null(value))
			add_change(c, obj, key, 0, NULL);
		else
			check_value(c, value, f->type);
		strbuf_truncate(&c->path, len);
	}
}

/* The error's message from its causes; see schema_check() in schema.h for the form. */
static void
set_message(struct check *c)
{
	_cleanup_strbuf_ struct strbuf invalid_part = STRBUF_INIT;
	_cleanup_strbuf_ struct strbuf strict_part = STRBUF_INIT;
	size_t n = korch_error_cause_count(c->err), n_invalid = n - c->n_unknown;
	for (size_t i = 0; i < n; i++) {
		const char *field = korch_error_cause_field(c->err, i);
		if (streq(korch_error_cause_reason(c->err, i), SCHEMA_REASON_UNKNOWN_FIELD)) {
			strbuf_puts(&strict_part,
				    strict_part.len ? ", unknown field "
						    : "strict decoding error: unknown field ");
			strbuf_put_go_quoted(&strict_part, field, strlen(field));
			continue;
		}
		if (invalid_part.len)
			strbuf_puts(&invalid_part, ", ");
		if (field)
			strbuf_printf(&invalid_part, "%s: ", field);
		strbuf_puts(&invalid_part, korch_error_cause_message(c->err, i));
	}
	if (strict_part.oom || invalid_part.oom)
		return; /* the message stays empty; the causes are there */
	if (n_invalid > 1)
		error_set_message(c->err, "[%s]%s%s", strbuf_str(&invalid_part),
				  strict_part.len ? "; " : "", strbuf_str(&strict_part));
	else
		error_set_message(c->err, "%s%s%s", strbuf_str(&invalid_part),
				  invalid_part.len && strict_part.len ? "; " : "",
				  strbuf_str(&strict_part));
}

static void
check_free(struct check *c)
{
	for (size_t i = 0; i < c->n_changes; i++) {
		free(c->changes[i].key);
		json_decref(c->changes[i].value);
	}
	free(c->changes);
	for (size_t i = 0; i < c->n_warnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	strbuf_free(&c->path);
	korch_error_free(c->err);
}

DEFINE_CLEANUP_FUNC(check_free, struct check, check_free)

int
schema_check(json_t *obj, const struct schema_type *root, enum field_validation mode,
	     json_t *warnings, korch_error **err)
{
	if (!root || root->kind != SCHEMA_OBJECT)
		return error_set(err, KORCH_EINVALID,
				 "schema check: no object schema to check against");
	if (warnings && !json_is_array(warnings))
		return error_set(err, KORCH_EINVALID, "schema check: warnings is not a JSON array");
	if (mode != FIELD_VALIDATION_STRICT && mode != FIELD_VALIDATION_WARN &&
	    mode != FIELD_VALIDATION_IGNORE)
		return error_set(err, KORCH_EINVALID,
				 "schema check: unknown field validation mode %d", (int)mode);
	if (!json_is_object(obj))
		return error_set(err, KORCH_EINVALID, "expected a JSON object, got %s",
				 obj ? json_type_word(obj) : "nothing");

	struct check check = { .mode = mode, .path = STRBUF_INIT };
	_cleanup_(check_freep) struct check *c = &check;
	check_object(c, obj, root);
	if (c->oom)
		return error_oom(err);
	if (c->err) {
		set_message(c);
		return error_propagate(err, &c->err, KORCH_EINVALID);
	}

	/* Passed: warnings first (the only step that allocates), then the changes. */
	size_t n_before = warnings ? json_array_size(warnings) : 0;
	for (size_t i = 0; warnings && i < c->n_warnings; i++) {
		if (json_array_append_new(warnings, json_string(c->warnings[i])) < 0) {
			while (json_array_size(warnings) > n_before)
				json_array_remove(warnings, json_array_size(warnings) - 1);
			return error_oom(err);
		}
	}
	for (size_t i = 0; i < c->n_changes; i++) {
		struct pending_change *p = &c->changes[i];
		if (!p->value)
			json_object_del(p->container, p->key);
		else if (p->key)
			json_object_set_new(p->container, p->key, steal_pointer(&p->value));
		else
			json_array_set_new(p->container, p->index, steal_pointer(&p->value));
	}
	return 0;
}
