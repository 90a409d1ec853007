/*
 * validate-common.c - the collector of field errors with Kubernetes' texts (field.Error's
 * ErrorBody), paths, JSON accessors, Go %#v renderings of values, IP parsing and the small
 * rules every kind's validation shares.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "api/selector.h"
#include "api/validate-internal.h"
#include "base/error.h"
#include "base/quote.h"
#include "base/util.h"

void
vctx_init(struct vctx *c)
{
	*c = (struct vctx){ .path = STRBUF_INIT };
}

void
vctx_free(struct vctx *c)
{
	korch_error_free(c->err);
	c->err = NULL;
	strbuf_free(&c->path);
}

void
run_validation(void (*fn)(struct vctx *, const json_t *, const json_t *), const json_t *obj,
	       const json_t *old, korch_error **err)
{
	struct vctx c;
	vctx_init(&c);
	c.update = old != NULL;
	fn(&c, obj, old);
	if (c.oom || c.path.oom) {
		vctx_free(&c);
		/* out of memory wins over the causes found so far */
		if (err && *err) {
			korch_error_free(*err);
			*err = NULL;
		}
		error_oom(err);
		return;
	}
	if (c.err) {
		if (err && !*err)
			*err = steal_pointer(&c.err);
		else if (err && *err && korch_error_code(*err) == KORCH_EINVALID) {
			/* Append our causes to the caller's. */
			for (size_t i = 0; i < korch_error_cause_count(c.err); i++)
				error_add_cause(err, korch_error_cause_reason(c.err, i),
						korch_error_cause_field(c.err, i), "%s",
						korch_error_cause_message(c.err, i));
		}
	}
	vctx_free(&c);
}

/* --- paths --------------------------------------------------------------------------------- */

size_t
vp_field(struct vctx *c, const char *name)
{
	size_t len = c->path.len;
	if (len)
		strbuf_putc(&c->path, '.');
	strbuf_puts(&c->path, name);
	return len;
}

void
put_index(struct strbuf *sb, size_t i)
{
	char buf[24];
	size_t n = sizeof(buf);
	buf[--n] = ']';
	do {
		buf[--n] = (char)('0' + i % 10);
		i /= 10;
	} while (i);
	buf[--n] = '[';
	strbuf_append(sb, buf + n, sizeof(buf) - n);
}

size_t
vp_index(struct vctx *c, size_t i)
{
	size_t len = c->path.len;
	put_index(&c->path, i);
	return len;
}

size_t
vp_key(struct vctx *c, const char *key)
{
	size_t len = c->path.len;
	strbuf_putc(&c->path, '[');
	strbuf_puts(&c->path, key);
	strbuf_putc(&c->path, ']');
	return len;
}

void
vp_pop(struct vctx *c, size_t len)
{
	strbuf_truncate(&c->path, len);
}

char *
vp_detach(struct vctx *c, size_t len)
{
	char *rest = strdup(c->path.len > len ? c->path.buf + len : "");
	if (!rest)
		c->oom = true;
	vp_pop(c, len);
	return rest;
}

void
vp_attach(struct vctx *c, char *rest)
{
	if (rest)
		strbuf_puts(&c->path, rest);
	free(rest);
}

/* --- adding causes ------------------------------------------------------------------------- */

/* The full path of current + child into sb. */
static void
put_path(struct vctx *c, struct strbuf *sb, const char *child)
{
	strbuf_append(sb, c->path.buf ? c->path.buf : "", c->path.len);
	if (child && *child) {
		if (sb->len && child[0] != '[')
			strbuf_putc(sb, '.');
		strbuf_puts(sb, child);
	}
}

static void
v_add(struct vctx *c, const char *reason, const char *child, struct strbuf *body)
{
	_cleanup_strbuf_ struct strbuf p = STRBUF_INIT;
	put_path(c, &p, child);
	if (p.oom || body->oom) {
		c->oom = true;
		return;
	}
	error_add_cause(&c->err, reason, strbuf_str(&p), "%s", strbuf_str(body));
	if (korch_error_cause_count(c->err) != c->n_causes + 1) {
		c->oom = true;
		return;
	}
	c->n_causes++;
}

static void put_detail(struct strbuf *sb, const char *fmt, va_list ap) _printf_(2, 0);

static void
put_detail(struct strbuf *sb, const char *fmt, va_list ap)
{
	size_t before = sb->len;
	strbuf_puts(sb, ": ");
	size_t mid = sb->len;
	strbuf_vprintf(sb, fmt, ap);
	if (sb->len == mid) /* an empty detail adds nothing */
		strbuf_truncate(sb, before);
}

void
v_required(struct vctx *c, const char *child, const char *detail)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_puts(&b, "Required value");
	if (detail && *detail)
		strbuf_printf(&b, ": %s", detail);
	v_add(c, R_REQUIRED, child, &b);
}

void
v_forbidden(struct vctx *c, const char *child, const char *detail)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_puts(&b, "Forbidden");
	if (detail && *detail)
		strbuf_printf(&b, ": %s", detail);
	v_add(c, R_FORBIDDEN, child, &b);
}

void
v_invalid_str(struct vctx *c, const char *child, const char *value, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_puts(&b, "Invalid value: ");
	strbuf_put_go_quoted(&b, value, strlen(value));
	va_list ap;
	va_start(ap, fmt);
	put_detail(&b, fmt, ap);
	va_end(ap);
	v_add(c, R_INVALID, child, &b);
}

void
v_invalid_int(struct vctx *c, const char *child, int64_t value, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_printf(&b, "Invalid value: %lld", (long long)value);
	va_list ap;
	va_start(ap, fmt);
	put_detail(&b, fmt, ap);
	va_end(ap);
	v_add(c, R_INVALID, child, &b);
}

void
v_invalid_val(struct vctx *c, const char *child, const char *rendered, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_printf(&b, "Invalid value: %s", rendered);
	va_list ap;
	va_start(ap, fmt);
	put_detail(&b, fmt, ap);
	va_end(ap);
	v_add(c, R_INVALID, child, &b);
}

void
v_invalid_omit(struct vctx *c, const char *child, const char *detail)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_printf(&b, "Invalid value: %s", detail);
	v_add(c, R_INVALID, child, &b);
}

void
v_duplicate_str(struct vctx *c, const char *child, const char *value)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_puts(&b, "Duplicate value: ");
	strbuf_put_go_quoted(&b, value, strlen(value));
	v_add(c, R_DUPLICATE, child, &b);
}

void
v_duplicate_val(struct vctx *c, const char *child, const char *rendered, const char *detail)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_printf(&b, "Duplicate value: %s", rendered);
	if (detail && *detail)
		strbuf_printf(&b, ": %s", detail);
	v_add(c, R_DUPLICATE, child, &b);
}

void
v_not_found_str(struct vctx *c, const char *child, const char *value, const char *detail)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_puts(&b, "Not found: ");
	strbuf_put_go_quoted(&b, value, strlen(value));
	if (detail && *detail)
		strbuf_printf(&b, ": %s", detail);
	v_add(c, R_NOT_FOUND, child, &b);
}

void
v_not_supported_val(struct vctx *c, const char *child, const char *rendered,
		    const char *const *valid)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_printf(&b, "Unsupported value: %s", rendered);
	if (valid && valid[0]) {
		strbuf_puts(&b, ": supported values: ");
		for (size_t i = 0; valid[i]; i++) {
			if (i)
				strbuf_puts(&b, ", ");
			strbuf_put_go_quoted(&b, valid[i], strlen(valid[i]));
		}
	}
	v_add(c, R_NOT_SUPPORTED, child, &b);
}

void
v_not_supported_str(struct vctx *c, const char *child, const char *value, const char *const *valid)
{
	_cleanup_strbuf_ struct strbuf q = STRBUF_INIT;
	strbuf_put_go_quoted(&q, value, strlen(value));
	v_not_supported_val(c, child, strbuf_str(&q), valid);
}

void
v_too_long(struct vctx *c, const char *child, long max)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_printf(&b, "Too long: may not be more than %ld bytes", max);
	v_add(c, R_TOO_LONG, child, &b);
}

void
v_too_many(struct vctx *c, const char *child, long actual, long max)
{
	_cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
	strbuf_printf(&b, "Too many: %ld: must have at most %ld items", actual, max);
	v_add(c, R_TOO_MANY, child, &b);
}

void
v_problems(struct vctx *c, const char *child, const char *value, const struct name_problems *p)
{
	for (size_t i = 0; i < p->n; i++)
		v_invalid_str(c, child, value, "%s%s", p->item[i].prefix, p->item[i].text);
}

bool
str_in(const char *value, const char *const *list)
{
	for (size_t i = 0; value && list[i]; i++)
		if (streq(value, list[i]))
			return true;
	return false;
}

/*
 * maskTrailingDash replaces the last two characters by "a" (sic: name[:len-2] + "a"), so that
 * "abc-" is checked as "aba"; Kubernetes' quirk is kept.
 */
void
name_rule_check(enum name_rule r, const char *name, bool prefix, struct name_problems *p)
{
	char buf[512];
	const char *v = name;
	size_t n = strlen(name);
	if (prefix && r != NAME_PATH_SEGMENT && n > 1 && name[n - 1] == '-' && n < sizeof(buf)) {
		memcpy(buf, name, n - 2);
		buf[n - 2] = 'a';
		buf[n - 1] = '\0';
		v = buf;
	}
	switch (r) {
	case NAME_SUBDOMAIN: check_dns1123_subdomain(v, p); break;
	case NAME_LABEL: check_dns1123_label(v, p); break;
	case NAME_DNS1035: check_dns1035_label(v, p); break;
	case NAME_PATH_SEGMENT: check_path_segment_name(v, prefix, p); break;
	}
}

/* --- JSON accessors ------------------------------------------------------------------------ */

json_t *
jget(const json_t *o, const char *key)
{
	if (!json_is_object(o))
		return NULL;
	json_t *v = json_object_get(o, key);
	return json_is_null(v) ? NULL : v;
}

json_t *
jobj(const json_t *o, const char *key)
{
	json_t *v = jget(o, key);
	return json_is_object(v) ? v : NULL;
}

json_t *
jarr(const json_t *o, const char *key)
{
	json_t *v = jget(o, key);
	return json_is_array(v) ? v : NULL;
}

const char *
jstr(const json_t *o, const char *key)
{
	json_t *v = jget(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *
jstr0(const json_t *o, const char *key)
{
	const char *s = jstr(o, key);
	return s ? s : "";
}

bool
jint(const json_t *o, const char *key, int64_t *ret)
{
	json_t *v = jget(o, key);
	if (!json_is_integer(v))
		return false;
	*ret = json_integer_value(v);
	return true;
}

int64_t
jint0(const json_t *o, const char *key)
{
	int64_t v = 0;
	jint(o, key, &v);
	return v;
}

bool
jbool(const json_t *o, const char *key)
{
	return json_is_true(jget(o, key));
}

size_t
jlen(const json_t *v)
{
	if (json_is_array(v))
		return json_array_size(v);
	if (json_is_object(v))
		return json_object_size(v);
	return 0;
}

bool
jhas(const json_t *o, const char *key)
{
	return jget(o, key) != NULL;
}

/* --- Go renderings ------------------------------------------------------------------------- */

static void
put_quoted(struct strbuf *sb, const char *s)
{
	strbuf_put_go_quoted(sb, s, strlen(s));
}

/* The shortest text that reads back as the same double, as Go's %v prints a float64. */
static void
put_float(struct strbuf *sb, double d)
{
	char buf[64];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	strbuf_puts(sb, buf);
}

void
go_put_scalar(struct strbuf *sb, const json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING: put_quoted(sb, json_string_value(v)); break;
	case JSON_INTEGER: strbuf_printf(sb, "%lld", (long long)json_integer_value(v)); break;
	case JSON_REAL: put_float(sb, json_real_value(v)); break;
	case JSON_TRUE: strbuf_puts(sb, "true"); break;
	case JSON_FALSE: strbuf_puts(sb, "false"); break;
	case JSON_NULL: strbuf_puts(sb, "null"); break;
	default: go_put_json(sb, v);
	}
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void
go_put_str_map(struct strbuf *sb, const json_t *m)
{
	if (!json_is_object(m)) {
		strbuf_puts(sb, "map[string]string(nil)");
		return;
	}
	size_t n = json_object_size(m), i = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys) {
		sb->oom = true;
		return;
	}
	const char *key;
	json_t *value;
	json_object_foreach ((json_t *)m, key, value)
		keys[i++] = key;
	qsort(keys, n, sizeof(*keys), key_cmp);
	strbuf_puts(sb, "map[string]string{");
	for (i = 0; i < n; i++) {
		if (i)
			strbuf_puts(sb, ", ");
		put_quoted(sb, keys[i]);
		strbuf_putc(sb, ':');
		go_put_scalar(sb, json_object_get(m, keys[i]));
	}
	strbuf_putc(sb, '}');
	free(keys);
}

void
go_put_str_slice(struct strbuf *sb, const json_t *a)
{
	if (!json_is_array(a)) {
		strbuf_puts(sb, "[]string(nil)");
		return;
	}
	strbuf_puts(sb, "[]string{");
	size_t i;
	json_t *v;
	json_array_foreach ((json_t *)a, i, v) {
		if (i)
			strbuf_puts(sb, ", ");
		go_put_scalar(sb, v);
	}
	strbuf_putc(sb, '}');
}

void
go_put_int_slice(struct strbuf *sb, const json_t *a, const char *type)
{
	if (!json_is_array(a)) {
		strbuf_printf(sb, "[]%s(nil)", type);
		return;
	}
	strbuf_printf(sb, "[]%s{", type);
	size_t i;
	json_t *v;
	json_array_foreach ((json_t *)a, i, v) {
		if (i)
			strbuf_puts(sb, ", ");
		go_put_scalar(sb, v);
	}
	strbuf_putc(sb, '}');
}

void
go_put_intstr(struct strbuf *sb, const json_t *v)
{
	if (json_is_string(v)) {
		strbuf_puts(sb, "intstr.IntOrString{Type:1, IntVal:0, StrVal:");
		put_quoted(sb, json_string_value(v));
		strbuf_putc(sb, '}');
	} else {
		strbuf_printf(sb, "intstr.IntOrString{Type:0, IntVal:%lld, StrVal:\"\"}",
			      json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
	}
}

void
go_put_label_selector(struct strbuf *sb, const json_t *sel)
{
	strbuf_puts(sb, "v1.LabelSelector{MatchLabels:");
	go_put_str_map(sb, jobj(sel, "matchLabels"));
	strbuf_puts(sb, ", MatchExpressions:");
	const json_t *exprs = jarr(sel, "matchExpressions");
	if (!exprs) {
		strbuf_puts(sb, "[]v1.LabelSelectorRequirement(nil)}");
		return;
	}
	strbuf_puts(sb, "[]v1.LabelSelectorRequirement{");
	size_t i;
	json_t *e;
	json_array_foreach ((json_t *)exprs, i, e) {
		if (i)
			strbuf_puts(sb, ", ");
		strbuf_puts(sb, "v1.LabelSelectorRequirement{Key:");
		put_quoted(sb, jstr0(e, "key"));
		strbuf_puts(sb, ", Operator:");
		put_quoted(sb, jstr0(e, "operator"));
		strbuf_puts(sb, ", Values:");
		go_put_str_slice(sb, jarr(e, "values"));
		strbuf_putc(sb, '}');
	}
	strbuf_puts(sb, "}}");
}

/*
 * resource.Quantity has only a pointer String(), so Kubernetes prints a Quantity value with
 * %#v. korch renders the int64Amount from the exact value with the largest scale that keeps
 * the mantissa integral (Kubernetes keeps the mantissa as written: "1.50" is 150 at scale -2
 * there, 15 at -1 here).
 */
void
go_put_quantity(struct strbuf *sb, const json_t *v)
{
	struct quantity q;
	if (quantity_from_json(v, &q, NULL) < 0) {
		go_put_scalar(sb, v);
		return;
	}
	__int128 m = q.nano;
	int scale = -9;
	while (m != 0 && m % 10 == 0 && scale < 18) {
		m /= 10;
		scale++;
	}
	if (m == 0)
		scale = 0;
	static const char *const formats[] = { "DecimalSI", "BinarySI", "DecimalExponent" };
	strbuf_printf(sb,
		      "resource.Quantity{i:resource.int64Amount{value:%lld, scale:%d}, "
		      "d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:",
		      (long long)m, scale);
	put_quoted(sb, q.text);
	strbuf_printf(sb, ", Format:\"%s\"}", formats[q.format]);
}

void
go_put_json(struct strbuf *sb, const json_t *v)
{
	if (!v) {
		strbuf_puts(sb, "null");
		return;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s) {
		sb->oom = true;
		return;
	}
	strbuf_puts(sb, s);
	free(s);
}

static void
json_diff(struct strbuf *sb, struct strbuf *path, const json_t *a, const json_t *b, int *lines)
{
	if (*lines >= 20 || (a && b && json_equal((json_t *)a, (json_t *)b)) || (!a && !b))
		return;
	if (json_is_object(a) && json_is_object(b)) {
		const char *key;
		json_t *v;
		json_object_foreach ((json_t *)a, key, v) {
			size_t len = path->len;
			strbuf_printf(path, ".%s", key);
			json_diff(sb, path, v, json_object_get(b, key), lines);
			strbuf_truncate(path, len);
		}
		json_object_foreach ((json_t *)b, key, v) {
			if (json_object_get(a, key))
				continue;
			size_t len = path->len;
			strbuf_printf(path, ".%s", key);
			json_diff(sb, path, NULL, v, lines);
			strbuf_truncate(path, len);
		}
		return;
	}
	if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
		for (size_t i = 0; i < json_array_size(a); i++) {
			size_t len = path->len;
			strbuf_printf(path, "[%zu]", i);
			json_diff(sb, path, json_array_get(a, i), json_array_get(b, i), lines);
			strbuf_truncate(path, len);
		}
		return;
	}
	strbuf_printf(sb, "\n- %s: ", strbuf_str(path));
	go_put_json(sb, a);
	strbuf_printf(sb, "\n+ %s: ", strbuf_str(path));
	go_put_json(sb, b);
	(*lines)++;
}

void
put_json_diff(struct strbuf *sb, const char *root, const json_t *old, const json_t *new_value)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_puts(&path, root);
	int lines = 0;
	json_diff(sb, &path, old, new_value, &lines);
	if (path.oom)
		sb->oom = true;
	strbuf_free(&path);
}

char *
render(struct vctx *c, void (*fn)(struct strbuf *, const json_t *), const json_t *v)
{
	struct strbuf sb = STRBUF_INIT;
	fn(&sb, v);
	if (sb.oom) {
		strbuf_free(&sb);
		c->oom = true;
		return strdup("");
	}
	return strbuf_steal(&sb);
}

void
v_invalid_go(struct vctx *c, const char *child, void (*fn)(struct strbuf *, const json_t *),
	     const json_t *v, const char *detail)
{
	_cleanup_free_ char *r = render(c, fn, v);
	if (!r) {
		c->oom = true;
		return;
	}
	v_invalid_val(c, child, r, "%s", detail);
}

void
v_immutable(struct vctx *c, const char *child, const json_t *new_value, const json_t *old_value,
	    void (*fn)(struct strbuf *, const json_t *))
{
	if (json_is_null(new_value))
		new_value = NULL;
	if (json_is_null(old_value))
		old_value = NULL;
	if (!new_value && !old_value)
		return;
	if (new_value && old_value && json_equal((json_t *)new_value, (json_t *)old_value))
		return;
	v_invalid_go(c, child, fn ? fn : go_put_scalar, new_value, MSG_IMMUTABLE);
}

void
v_nonneg(struct vctx *c, const json_t *o, const char *key)
{
	int64_t v;
	if (jint(o, key, &v) && v < 0)
		v_invalid_int(c, key, v, MSG_NEGATIVE);
}

/* --- IP addresses -------------------------------------------------------------------------- */

/* Go 1.16's parseIPv4 (k8s.io/utils/net keeps it): four decimal fields, leading zeros allowed. */
static bool
parse_ipv4(const char *s, unsigned char out[4])
{
	for (int i = 0; i < 4; i++) {
		if (i > 0) {
			if (*s != '.')
				return false;
			s++;
		}
		if (*s < '0' || *s > '9')
			return false;
		unsigned v = 0;
		int digits = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned)(*s - '0');
			if (++digits > 8 || v > 0xFFFFFF)
				return false;
			s++;
		}
		if (v > 255)
			return false;
		out[i] = (unsigned char)v;
	}
	return *s == '\0';
}

bool
ip_parse(const char *s, unsigned char ret[16], bool *is_v4)
{
	unsigned char buf[16] = { 0 };
	if (!s || !*s)
		return false;
	if (strchr(s, ':')) {
		if (strchr(s, '%') || inet_pton(AF_INET6, s, buf) != 1)
			return false;
		*is_v4 = false;
		static const unsigned char mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
		};
		if (memcmp(buf, mapped, 12) == 0)
			*is_v4 = true;
	} else {
		if (!parse_ipv4(s, buf + 12))
			return false;
		buf[10] = buf[11] = 0xff;
		*is_v4 = true;
	}
	memcpy(ret, buf, 16);
	return true;
}

bool
is_cidr(const char *s)
{
	const char *slash = strrchr(s, '/');
	if (!slash)
		return false;
	char addr[64];
	size_t n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	unsigned char ip[16];
	bool v4;
	if (!ip_parse(addr, ip, &v4))
		return false;
	const char *m = slash + 1;
	if (!*m)
		return false;
	unsigned bits = 0;
	for (; *m; m++) {
		if (*m < '0' || *m > '9')
			return false;
		bits = bits * 10 + (unsigned)(*m - '0');
		if (bits > 1000)
			return false;
	}
	/* Go: a dotted IPv4 address has a 32-bit mask, anything with ':' 128. */
	return bits <= (strchr(addr, ':') ? 128u : 32u);
}

void
v_valid_ip(struct vctx *c, const char *child, const char *ip)
{
	unsigned char buf[16];
	bool v4;
	if (!ip_parse(ip, buf, &v4))
		v_invalid_str(c, child, ip,
			      "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
}

void
v_non_special_ip(struct vctx *c, const char *child, const char *ip)
{
	unsigned char b[16];
	bool v4;
	if (!ip_parse(ip, b, &v4)) {
		v_invalid_str(c, child, ip, "must be a valid IP address");
		return;
	}
	static const unsigned char zero[16] = { 0 };
	bool unspecified = v4 ? (b[12] | b[13] | b[14] | b[15]) == 0 : memcmp(b, zero, 16) == 0;
	bool loopback = v4 ? b[12] == 127 : (memcmp(b, zero, 15) == 0 && b[15] == 1);
	bool ll_unicast =
		v4 ? (b[12] == 169 && b[13] == 254) : (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
	bool ll_multicast = v4 ? (b[12] == 224 && b[13] == 0 && b[14] == 0)
			       : (b[0] == 0xff && (b[1] & 0x0f) == 0x02);
	if (unspecified)
		v_invalid_str(c, child, ip, "may not be unspecified (%s)", ip);
	if (loopback)
		v_invalid_str(c, child, ip,
			      "may not be in the loopback range (127.0.0.0/8, ::1/128)");
	if (ll_unicast)
		v_invalid_str(c, child, ip,
			      "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
	if (ll_multicast)
		v_invalid_str(
			c, child, ip,
			"may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
}

/* --- selectors ----------------------------------------------------------------------------- */

void
v_label_selector(struct vctx *c, const char *child, const json_t *sel)
{
	if (!sel)
		return;
	_cleanup_strbuf_ struct strbuf p = STRBUF_INIT;
	put_path(c, &p, child);
	if (p.oom) {
		c->oom = true;
		return;
	}
	label_selector_validate_json(sel, strbuf_str(&p), &c->err);
	c->n_causes = korch_error_cause_count(c->err);
}

/*
 * metav1.LabelSelectorAsSelector then Matches: NULL is labels.Nothing() (matches nothing), {}
 * is Everything. *ret_ok is false when the selector does not convert (an invalid selector).
 */
bool
selector_matches(const json_t *sel, const json_t *labels, bool *ret_ok)
{
	*ret_ok = true;
	if (!sel)
		return false;
	struct label_selector *s = NULL;
	if (label_selector_from_json(sel, &s, NULL) < 0) {
		*ret_ok = false;
		return false;
	}
	bool m = label_selector_matches(s, json_is_object(labels) ? labels : NULL);
	label_selector_free(s);
	return m;
}

/* --- config keys --------------------------------------------------------------------------- */

void
check_config_map_key(const char *key, struct name_problems *p)
{
	size_t n = strlen(key);
	if (n > DNS1123_SUBDOMAIN_MAX_LENGTH && p->n < 6) {
		p->item[p->n].prefix = "";
		p->item[p->n++].text = "must be no more than 253 characters";
	}
	bool ok = n > 0;
	for (size_t i = 0; i < n; i++) {
		char ch = key[i];
		ok &= (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
	}
	if (!ok && p->n < 6) {
		p->item[p->n].prefix = "";
		p->item[p->n++].text =
			"a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
			"(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
			"'[-._a-zA-Z0-9]+')";
	}
	const char *chdir = NULL;
	if (streq(key, "."))
		chdir = "must not be '.'";
	else if (streq(key, ".."))
		chdir = "must not be '..'";
	else if (startswith(key, ".."))
		chdir = "must not start with '..'";
	if (chdir && p->n < 6) {
		p->item[p->n].prefix = "";
		p->item[p->n++].text = chdir;
	}
}
