/*
 * selector.c - label selectors as k8s.io/apimachinery/pkg/labels parses, prints and matches
 * them, and metav1.LabelSelector objects as ValidateLabelSelector and LabelSelectorAsSelector
 * read them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/names.h"
#include "api/selector.h"
#include "base/error.h"
#include "base/quote.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"

struct label_selector {
	struct label_requirement *reqs; /* n requirements, sorted by key (stable) */
	size_t n;                       /* requirements in reqs */
	size_t cap;                     /* allocated entries of reqs */
};

static void
requirement_clear(struct label_requirement *r)
{
	free(r->key);
	for (size_t i = 0; i < r->n_values; i++)
		free(r->values[i]);
	free(r->values);
}

void
label_selector_free(struct label_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		requirement_clear(&sel->reqs[i]);
	free(sel->reqs);
	free(sel);
}

DEFINE_CLEANUP_FUNC(label_selector_free, struct label_selector, label_selector_free)

/* Appends a requirement taking ownership of key and values (freed here on failure). */
static int
selector_add(struct label_selector *sel, char *key, enum label_op op, char **values,
	     size_t n_values)
{
	struct label_requirement *r = key ? VEC_PUSH(sel->reqs, sel->n, sel->cap) : NULL;
	if (!r) {
		free(key);
		for (size_t i = 0; i < n_values; i++)
			free(values[i]);
		free(values);
		return KORCH_ENOMEM;
	}
	*r = (struct label_requirement){ key, op, values, n_values };
	return 0;
}

/* sort.Sort(ByKey): Go's insertion sort for the usual small counts, kept stable here. */
static void
selector_sort(struct label_selector *sel)
{
	for (size_t i = 1; i < sel->n; i++) {
		struct label_requirement r = sel->reqs[i];
		size_t j = i;
		for (; j > 0 && strcmp(sel->reqs[j - 1].key, r.key) > 0; j--)
			sel->reqs[j] = sel->reqs[j - 1];
		sel->reqs[j] = r;
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Go's %#v of a []string: `[]string{"a", "b"}`, as field.Invalid prints a values list.
 */
static void
put_go_string_slice(struct strbuf *sb, char *const *values, size_t n)
{
	strbuf_puts(sb, "[]string{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_puts(sb, ", ");
		strbuf_put_go_quoted(sb, values[i], strlen(values[i]));
	}
	strbuf_puts(sb, "}");
}

/* The texts of a field.ErrorList on its way to ToAggregate(): repeated texts dropped. */
struct errlist {
	char **texts; /* n texts */
	size_t n;     /* texts kept */
	size_t cap;   /* allocated entries */
	bool oom;     /* an addition failed */
};

static void
errlist_add(struct errlist *l, const char *text)
{
	for (size_t i = 0; i < l->n; i++)
		if (streq(l->texts[i], text))
			return;
	char **slot = VEC_PUSH(l->texts, l->n, l->cap);
	if (!slot || !(*slot = strdup(text))) {
		if (slot)
			l->n--;
		l->oom = true;
	}
}

/* The aggregate's message, freeing l: one error alone, several as "[a, b]". NULL: none. */
static char *
errlist_finish(struct errlist *l)
{
	struct strbuf sb = STRBUF_INIT;
	if (l->n > 1)
		strbuf_putc(&sb, '[');
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			strbuf_puts(&sb, ", ");
		strbuf_puts(&sb, l->texts[i]);
		free(l->texts[i]);
	}
	if (l->n > 1)
		strbuf_putc(&sb, ']');
	size_t n = l->n;
	free(l->texts);
	*l = (struct errlist){ 0 };
	if (n == 0 || sb.oom) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

/* field.Invalid(path, value, joined messages).Error() for a string value. */
static void
put_invalid(struct strbuf *sb, const char *path, const char *value, const char *detail)
{
	strbuf_printf(sb, "%s: Invalid value: ", path);
	strbuf_put_go_quoted(sb, value, strlen(value));
	strbuf_printf(sb, ": %s", detail);
}

/* validateLabelKey: NULL when key is a qualified name, else the error text at path. */
static char *
label_key_error(const char *key, const char *path)
{
	struct name_problems p = { 0 };
	check_qualified_name(key, &p);
	if (p.n == 0)
		return NULL;
	char *joined = name_problems_join(&p, "; ");
	struct strbuf sb = STRBUF_INIT;
	put_invalid(&sb, path, key, joined ? joined : "");
	free(joined);
	return strbuf_steal(&sb);
}

/*
 * NewRequirement's checks. Returns NULL when the requirement is valid, else the aggregate's
 * message (caller frees). The text parser checked the key already (check_key false).
 */
static char *
requirement_errors(const char *key, enum label_op op, char *const *values, size_t n, bool check_key)
{
	struct errlist list = { 0 };
	struct strbuf one = STRBUF_INIT;
	if (check_key) {
		char *e = label_key_error(key, "key");
		if (e)
			errlist_add(&list, e);
		free(e);
	}
	const char *detail = NULL;
	switch (op) {
	case LABEL_OP_IN:
	case LABEL_OP_NOT_IN:
		if (n == 0)
			detail = "for 'in', 'notin' operators, values set can't be empty";
		break;
	case LABEL_OP_EQUALS:
	case LABEL_OP_DOUBLE_EQUALS:
	case LABEL_OP_NOT_EQUALS:
		if (n != 1)
			detail = "exact-match compatibility requires one single value";
		break;
	case LABEL_OP_EXISTS:
	case LABEL_OP_DOES_NOT_EXIST:
		if (n != 0)
			detail = "values set must be empty for exists and does not exist";
		break;
	case LABEL_OP_GREATER_THAN:
	case LABEL_OP_LESS_THAN:
		if (n != 1)
			detail = "for 'Gt', 'Lt' operators, exactly one value is required";
		break;
	}
	if (detail) {
		strbuf_puts(&one, "values: Invalid value: ");
		put_go_string_slice(&one, values, n);
		strbuf_printf(&one, ": %s", detail);
		errlist_add(&list, strbuf_str(&one));
		strbuf_truncate(&one, 0);
	}
	if (op == LABEL_OP_GREATER_THAN || op == LABEL_OP_LESS_THAN) {
		for (size_t i = 0; i < n; i++) {
			int64_t v;
			if (parse_int64(values[i], &v) == 0)
				continue;
			char path[32];
			snprintf(path, sizeof(path), "values[%zu]", i);
			put_invalid(&one, path, values[i],
				    "for 'Gt', 'Lt' operators, the value must be an integer");
			errlist_add(&list, strbuf_str(&one));
			strbuf_truncate(&one, 0);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct name_problems p = { 0 };
		check_label_value(values[i], &p);
		if (p.n == 0)
			continue;
		char *joined = name_problems_join(&p, "; ");
		strbuf_printf(&one, "values[%zu][%s]", i, key);
		char *path = strbuf_steal(&one);
		put_invalid(&one, path ? path : "", values[i], joined ? joined : "");
		free(path);
		free(joined);
		errlist_add(&list, strbuf_str(&one));
		strbuf_truncate(&one, 0);
	}
	strbuf_free(&one);
	return errlist_finish(&list);
}

/* --- the text parser (labels.Parse) --- */

enum token {
	TOK_ERROR,
	TOK_END,
	TOK_CLOSE_PAR,
	TOK_COMMA,
	TOK_NOT,
	TOK_DOUBLE_EQUALS,
	TOK_EQUALS,
	TOK_GREATER,
	TOK_IDENT,
	TOK_IN,
	TOK_LESS,
	TOK_NOT_EQUALS,
	TOK_NOT_IN,
	TOK_OPEN_PAR,
};

struct item {
	enum token tok; /* the token */
	char *lit;      /* its text; "" at the end */
};

struct parser {
	struct item *items; /* every token up to and including TOK_END */
	size_t n, cap;      /* tokens scanned, allocated */
	size_t pos;         /* the next token */
};

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_special(char c)
{
	return strchr("=!(),><", c) != NULL && c != '\0';
}

/* Lexer.Lex over the whole input; false when out of memory. */
static bool
scan(const char *s, struct parser *p)
{
	size_t i = 0;
	for (;;) {
		while (is_ws(s[i]))
			i++;
		struct item *it = VEC_PUSH(p->items, p->n, p->cap);
		if (!it)
			return false;
		size_t start = i;
		if (!s[i]) {
			it->tok = TOK_END;
		} else if (is_special(s[i])) {
			/* the longest operator: "==" and "!=" are the only two-byte ones */
			if ((s[i] == '=' || s[i] == '!') && s[i + 1] == '=') {
				it->tok = s[i] == '=' ? TOK_DOUBLE_EQUALS : TOK_NOT_EQUALS;
				i += 2;
			} else {
				switch (s[i]) {
				case '=': it->tok = TOK_EQUALS; break;
				case '!': it->tok = TOK_NOT; break;
				case '(': it->tok = TOK_OPEN_PAR; break;
				case ')': it->tok = TOK_CLOSE_PAR; break;
				case ',': it->tok = TOK_COMMA; break;
				case '>': it->tok = TOK_GREATER; break;
				default: it->tok = TOK_LESS; break;
				}
				i++;
			}
		} else {
			while (s[i] && !is_special(s[i]) && !is_ws(s[i]))
				i++;
			it->tok = TOK_IDENT;
		}
		it->lit = strndup(s + start, i - start);
		if (!it->lit)
			return false;
		if (it->tok == TOK_IDENT && streq(it->lit, "in"))
			it->tok = TOK_IN;
		else if (it->tok == TOK_IDENT && streq(it->lit, "notin"))
			it->tok = TOK_NOT_IN;
		if (it->tok == TOK_END)
			return true;
	}
}

/* In the values context "in" and "notin" are identifiers. */
static enum token
as_values(enum token t)
{
	return t == TOK_IN || t == TOK_NOT_IN ? TOK_IDENT : t;
}

static const struct item *
lookahead(struct parser *p)
{
	return &p->items[p->pos];
}

static const struct item *
consume(struct parser *p)
{
	const struct item *it = &p->items[p->pos];
	if (it->tok != TOK_END)
		p->pos++;
	return it;
}

static char *fmt_error(const char *fmt, ...) _printf_(1, 2);

/* What fmt_error() returns when it cannot allocate: a message not to be freed. */
static char oom_message[] = "out of memory";

/* A parser error message (caller frees with free_message()); oom_message when out of memory. */
static char *
fmt_error(const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&m, fmt, ap);
	va_end(ap);
	return r < 0 ? oom_message : m;
}

static void
free_message(char *m)
{
	if (m != oom_message)
		free(m);
}

/* A sorted set of strings (sets.String) for the values of one requirement. */
struct strset {
	char **v;      /* n strings */
	size_t n, cap; /* used, allocated */
	bool oom;      /* an insertion failed */
};

static void
strset_insert(struct strset *s, const char *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i], v))
			return;
	char **slot = VEC_PUSH(s->v, s->n, s->cap);
	if (!slot || !(*slot = strdup(v))) {
		if (slot)
			s->n--;
		s->oom = true;
	}
}

static void
strset_clear(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strset){ 0 };
}

/* parseValues and parseIdentifiersList: "(a,b,,c)". Returns an error message or NULL. */
static char *
parse_values(struct parser *p, struct strset *set)
{
	const struct item *it = consume(p);
	if (as_values(it->tok) != TOK_OPEN_PAR)
		return fmt_error("found '%s' expected: '('", it->lit);
	it = lookahead(p);
	enum token t = as_values(it->tok);
	if (t == TOK_CLOSE_PAR) {
		consume(p);
		strset_insert(set, "");
		return NULL;
	}
	if (t != TOK_IDENT && t != TOK_COMMA)
		return fmt_error("found '%s', expected: ',', ')' or identifier", it->lit);
	for (;;) {
		it = consume(p);
		t = as_values(it->tok);
		if (t == TOK_IDENT) {
			strset_insert(set, it->lit);
			const struct item *next = lookahead(p);
			enum token t2 = as_values(next->tok);
			if (t2 == TOK_COMMA)
				continue;
			if (t2 == TOK_CLOSE_PAR)
				break;
			return fmt_error("found '%s', expected: ',' or ')'", next->lit);
		} else if (t == TOK_COMMA) {
			if (set->n == 0)
				strset_insert(set, "");
			enum token t2 = as_values(lookahead(p)->tok);
			if (t2 == TOK_CLOSE_PAR) {
				strset_insert(set, "");
				break;
			}
			if (t2 == TOK_COMMA) {
				consume(p);
				strset_insert(set, "");
			}
		} else {
			return fmt_error("found '%s', expected: ',', or identifier", it->lit);
		}
	}
	consume(p); /* the ')' just looked at */
	return NULL;
}

/* parseRequirement: on success appends to sel; returns an error message or NULL. */
static char *
parse_requirement(struct parser *p, struct label_selector *sel, int *oom)
{
	const struct item *it = consume(p);
	bool negated = false;
	if (as_values(it->tok) == TOK_NOT) {
		negated = true;
		it = consume(p);
	}
	if (as_values(it->tok) != TOK_IDENT)
		return fmt_error("found '%s', expected: identifier", it->lit);
	const char *key = it->lit;
	char *e = label_key_error(key, "<nil>");
	if (e)
		return e;
	enum token next = as_values(lookahead(p)->tok);
	enum label_op op;
	struct strset set = { 0 };
	if (negated || next == TOK_END || next == TOK_COMMA) {
		op = negated ? LABEL_OP_DOES_NOT_EXIST : LABEL_OP_EXISTS;
	} else {
		it = consume(p);
		switch (it->tok) { /* the key-and-operator context: "in" is an operator */
		case TOK_IN: op = LABEL_OP_IN; break;
		case TOK_EQUALS: op = LABEL_OP_EQUALS; break;
		case TOK_DOUBLE_EQUALS: op = LABEL_OP_DOUBLE_EQUALS; break;
		case TOK_GREATER: op = LABEL_OP_GREATER_THAN; break;
		case TOK_LESS: op = LABEL_OP_LESS_THAN; break;
		case TOK_NOT_IN: op = LABEL_OP_NOT_IN; break;
		case TOK_NOT_EQUALS: op = LABEL_OP_NOT_EQUALS; break;
		default:
			return fmt_error("found '%s', expected: in, notin, =, ==, !=, gt, lt",
					 it->lit);
		}
		if (op == LABEL_OP_IN || op == LABEL_OP_NOT_IN) {
			e = parse_values(p, &set);
		} else {
			enum token t = as_values(lookahead(p)->tok);
			if (t == TOK_END || t == TOK_COMMA) {
				strset_insert(&set, "");
			} else {
				it = consume(p);
				if (as_values(it->tok) == TOK_IDENT)
					strset_insert(&set, it->lit);
				else
					e = fmt_error("found '%s', expected: identifier", it->lit);
			}
		}
		if (e) {
			strset_clear(&set);
			return e;
		}
	}
	if (set.oom) {
		strset_clear(&set);
		*oom = 1;
		return NULL;
	}
	if (set.n) /* sets.String.List() */
		qsort(set.v, set.n, sizeof(char *), cmp_str);
	e = requirement_errors(key, op, set.v, set.n, false);
	if (e) {
		strset_clear(&set);
		return e;
	}
	if (selector_add(sel, strdup(key), op, set.v, set.n) < 0)
		*oom = 1;
	return NULL;
}

static struct label_selector *
selector_new(void)
{
	return calloc(1, sizeof(struct label_selector));
}

int
label_selector_parse(const char *text, struct label_selector **ret, korch_error **err)
{
	_cleanup_(label_selector_freep) struct label_selector *sel = selector_new();
	struct parser p = { 0 };
	int r = 0;
	char *msg = NULL;
	if (!sel || !scan(text, &p)) {
		r = error_oom(err);
		goto out;
	}
	for (;;) {
		const struct item *it = lookahead(&p);
		enum token t = as_values(it->tok);
		if (t == TOK_END)
			break;
		if (t != TOK_IDENT && t != TOK_NOT) {
			msg = fmt_error("found '%s', expected: !, identifier, or 'end of string'",
					it->lit);
			break;
		}
		int oom = 0;
		char *e = parse_requirement(&p, sel, &oom);
		if (oom) {
			r = error_oom(err);
			goto out;
		}
		if (e) {
			msg = e == oom_message ? e
					       : fmt_error("unable to parse requirement: %s", e);
			free_message(e);
			break;
		}
		it = consume(&p);
		t = as_values(it->tok);
		if (t == TOK_END)
			break;
		if (t != TOK_COMMA) {
			msg = fmt_error("found '%s', expected: ',' or 'end of string'", it->lit);
			break;
		}
		it = lookahead(&p);
		t = as_values(it->tok);
		if (t != TOK_IDENT && t != TOK_NOT) {
			msg = fmt_error("found '%s', expected: identifier after ','", it->lit);
			break;
		}
	}
	if (msg == oom_message) {
		r = error_oom(err);
	} else if (msg) {
		r = error_set(err, KORCH_EINVALID, "%s", msg);
	} else {
		selector_sort(sel);
		*ret = steal_pointer(&sel);
	}
out:
	free_message(msg);
	for (size_t i = 0; i < p.n; i++)
		free(p.items[i].lit);
	free(p.items);
	return r;
}

/* --- metav1.LabelSelector objects --- */

/* "PARENT.child", or "child" without a parent. */
static char *
child_path(const char *parent, const char *child)
{
	char *s = NULL;
	if (asprintf(&s, "%s%s%s", parent ? parent : "", parent && *parent ? "." : "", child) < 0)
		return NULL;
	return s;
}

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "value";
}

static int
type_cause(korch_error **err, const char *path, const json_t *v, const char *want)
{
	return error_add_cause(err, "FieldValueTypeInvalid", path,
			       "Invalid value: \"%s\": expected %s", json_kind(v), want);
}

/* ValidateLabelSelectorRequirement for matchExpressions[i] at path. */
static int
validate_expression(const json_t *expr, const char *path, korch_error **err)
{
	if (!json_is_object(expr))
		return type_cause(err, path, expr, "an object");
	int r = 0;
	_cleanup_free_ char *key_path = child_path(path, "key");
	_cleanup_free_ char *op_path = child_path(path, "operator");
	_cleanup_free_ char *values_path = child_path(path, "values");
	if (!key_path || !op_path || !values_path)
		return error_oom(err);
	const json_t *key = json_object_get(expr, "key");
	const json_t *op = json_object_get(expr, "operator");
	const json_t *values = json_object_get(expr, "values");
	size_t n_values = 0;
	if (values && !json_is_null(values)) {
		if (!json_is_array(values))
			r = type_cause(err, values_path, values, "an array of strings");
		else
			n_values = json_array_size(values);
	}
	const char *ops = "";
	if (op && !json_is_null(op)) {
		if (json_is_string(op))
			ops = json_string_value(op);
		else
			r = type_cause(err, op_path, op, "a string");
	}
	if (streq(ops, "In") || streq(ops, "NotIn")) {
		if (n_values == 0)
			r = error_add_cause(err, "FieldValueRequired", values_path,
					    "Required value: must be specified when `operator` is "
					    "'In' or 'NotIn'");
	} else if (streq(ops, "Exists") || streq(ops, "DoesNotExist")) {
		if (n_values > 0)
			r = error_add_cause(err, "FieldValueForbidden", values_path,
					    "Forbidden: may not be specified when `operator` is "
					    "'Exists' or 'DoesNotExist'");
	} else {
		_cleanup_free_ char *q = go_quote(ops);
		r = error_add_cause(err, "FieldValueInvalid", op_path,
				    "Invalid value: %s: not a valid selector operator", q ? q : "");
	}
	const char *keys = "";
	if (key && !json_is_null(key)) {
		if (json_is_string(key))
			keys = json_string_value(key);
		else
			r = type_cause(err, key_path, key, "a string");
	}
	if (validate_qualified_name(keys, key_path, err) < 0)
		r = KORCH_EINVALID;
	for (size_t i = 0; json_is_array(values) && i < n_values; i++) {
		const json_t *v = json_array_get(values, i);
		char idx[32];
		snprintf(idx, sizeof(idx), "[%zu]", i);
		_cleanup_free_ char *vpath = NULL;
		if (asprintf(&vpath, "%s%s", values_path, idx) < 0)
			return error_oom(err);
		if (!json_is_string(v))
			r = type_cause(err, vpath, v, "a string");
		else if (validate_label_value(json_string_value(v), vpath, err) < 0)
			r = KORCH_EINVALID;
	}
	return r;
}

int
label_selector_validate_json(const json_t *selector, const char *field_path, korch_error **err)
{
	if (!selector || json_is_null(selector))
		return 0;
	if (!json_is_object(selector))
		return type_cause(err, field_path && *field_path ? field_path : NULL, selector,
				  "an object");
	int r = 0;
	_cleanup_free_ char *labels_path = child_path(field_path, "matchLabels");
	_cleanup_free_ char *exprs_path = child_path(field_path, "matchExpressions");
	if (!labels_path || !exprs_path)
		return error_oom(err);
	if (validate_labels(json_object_get(selector, "matchLabels"), labels_path, err) < 0)
		r = KORCH_EINVALID;
	const json_t *exprs = json_object_get(selector, "matchExpressions");
	if (exprs && !json_is_null(exprs) && !json_is_array(exprs))
		return type_cause(err, exprs_path, exprs, "an array");
	for (size_t i = 0; json_is_array(exprs) && i < json_array_size(exprs); i++) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s[%zu]", exprs_path, i) < 0)
			return error_oom(err);
		if (validate_expression(json_array_get(exprs, i), path, err) < 0)
			r = KORCH_EINVALID;
	}
	return r;
}

/* Sets the message of a cause-carrying error to the list of its causes, as an ErrorList
 * aggregate prints: "path: message", several in brackets. */
static void
summarize_causes(korch_error *e)
{
	struct errlist list = { 0 };
	for (size_t i = 0; i < korch_error_cause_count(e); i++) {
		struct strbuf one = STRBUF_INIT;
		const char *field = korch_error_cause_field(e, i);
		strbuf_printf(&one, "%s: %s", field ? field : "<nil>",
			      korch_error_cause_message(e, i));
		errlist_add(&list, strbuf_str(&one));
		strbuf_free(&one);
	}
	char *m = errlist_finish(&list);
	if (m)
		error_set_message(e, "%s", m);
	free(m);
}

static char **
strv_dup(const json_t *values, size_t *ret_n)
{
	size_t n = json_is_array(values) ? json_array_size(values) : 0;
	char **v = calloc(n ? n : 1, sizeof(char *));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] = strdup(json_string_value(json_array_get(values, i))))) {
			while (i--)
				free(v[i]);
			free(v);
			return NULL;
		}
	}
	*ret_n = n;
	return v;
}

int
label_selector_from_json(const json_t *selector, struct label_selector **ret, korch_error **err)
{
	korch_error *local = NULL;
	if (label_selector_validate_json(selector, NULL, &local) < 0) {
		if (korch_error_code(local) == KORCH_EINVALID)
			summarize_causes(local);
		int code = korch_error_code(local);
		return error_propagate(err, &local, code);
	}
	_cleanup_(label_selector_freep) struct label_selector *sel = selector_new();
	if (!sel)
		return error_oom(err);
	const json_t *labels = selector ? json_object_get(selector, "matchLabels") : NULL;
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)labels, key, value)
	{
		char **v = malloc(sizeof(char *));
		if (!v || !(v[0] = strdup(json_string_value(value)))) {
			free(v);
			return error_oom(err);
		}
		if (selector_add(sel, strdup(key), LABEL_OP_EQUALS, v, 1) < 0)
			return error_oom(err);
	}
	const json_t *exprs = selector ? json_object_get(selector, "matchExpressions") : NULL;
	for (size_t i = 0; json_is_array(exprs) && i < json_array_size(exprs); i++) {
		const json_t *expr = json_array_get(exprs, i);
		const char *ops = json_string_value(json_object_get(expr, "operator"));
		enum label_op op = streq(ops, "In")       ? LABEL_OP_IN
				   : streq(ops, "NotIn")  ? LABEL_OP_NOT_IN
				   : streq(ops, "Exists") ? LABEL_OP_EXISTS
							  : LABEL_OP_DOES_NOT_EXIST;
		size_t n = 0;
		char **v = strv_dup(json_object_get(expr, "values"), &n);
		if (!v)
			return error_oom(err);
		const char *k = json_string_value(json_object_get(expr, "key"));
		if (selector_add(sel, strdup(k ? k : ""), op, v, n) < 0)
			return error_oom(err);
	}
	selector_sort(sel);
	*ret = steal_pointer(&sel);
	return 0;
}

int
label_selector_from_map(const json_t *map, struct label_selector **ret, korch_error **err)
{
	if (map && !json_is_null(map) && !json_is_object(map))
		return error_set(err, KORCH_EINVALID,
				 "label selector map: expected an object, not %s", json_kind(map));
	_cleanup_(label_selector_freep) struct label_selector *sel = selector_new();
	if (!sel)
		return error_oom(err);
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)map, key, value)
	{
		if (!json_is_string(value))
			return error_set(
				err, KORCH_EINVALID,
				"label selector map: the value of %s is a %s, not a string", key,
				json_kind(value));
		char *v0 = (char *)json_string_value(value);
		char *e = requirement_errors(key, LABEL_OP_EQUALS, &v0, 1, true);
		if (e) {
			int r = error_set(err, KORCH_EINVALID, "%s", e);
			free(e);
			return r;
		}
		char **v = malloc(sizeof(char *));
		if (!v || !(v[0] = strdup(v0))) {
			free(v);
			return error_oom(err);
		}
		if (selector_add(sel, strdup(key), LABEL_OP_EQUALS, v, 1) < 0)
			return error_oom(err);
	}
	selector_sort(sel);
	*ret = steal_pointer(&sel);
	return 0;
}

/* --- evaluation and printing --- */

static bool
has_value(const struct label_requirement *r, const char *v)
{
	for (size_t i = 0; i < r->n_values; i++)
		if (streq(r->values[i], v))
			return true;
	return false;
}

/* Requirement.Matches. */
static bool
requirement_matches(const struct label_requirement *r, const json_t *labels)
{
	const json_t *jv = labels ? json_object_get(labels, r->key) : NULL;
	const char *v = json_is_string(jv) ? json_string_value(jv) : NULL;
	switch (r->op) {
	case LABEL_OP_IN:
	case LABEL_OP_EQUALS:
	case LABEL_OP_DOUBLE_EQUALS: return v && has_value(r, v);
	case LABEL_OP_NOT_IN:
	case LABEL_OP_NOT_EQUALS: return !v || !has_value(r, v);
	case LABEL_OP_EXISTS: return v != NULL;
	case LABEL_OP_DOES_NOT_EXIST: return v == NULL;
	case LABEL_OP_GREATER_THAN:
	case LABEL_OP_LESS_THAN: {
		int64_t have, want;
		if (!v || r->n_values != 1 || parse_int64(v, &have) < 0 ||
		    parse_int64(r->values[0], &want) < 0)
			return false;
		return r->op == LABEL_OP_GREATER_THAN ? have > want : have < want;
	}
	}
	return false;
}

bool
label_selector_matches(const struct label_selector *sel, const json_t *labels)
{
	if (labels && !json_is_object(labels))
		labels = NULL;
	for (size_t i = 0; i < sel->n; i++)
		if (!requirement_matches(&sel->reqs[i], labels))
			return false;
	return true;
}

bool
label_selector_is_empty(const struct label_selector *sel)
{
	return !sel || sel->n == 0;
}

/* Requirement.String(): values sorted on output without changing the requirement. */
static void
put_requirement(struct strbuf *sb, const struct label_requirement *r)
{
	if (r->op == LABEL_OP_DOES_NOT_EXIST)
		strbuf_putc(sb, '!');
	strbuf_puts(sb, r->key);
	switch (r->op) {
	case LABEL_OP_EXISTS:
	case LABEL_OP_DOES_NOT_EXIST: return;
	case LABEL_OP_EQUALS: strbuf_puts(sb, "="); break;
	case LABEL_OP_DOUBLE_EQUALS: strbuf_puts(sb, "=="); break;
	case LABEL_OP_NOT_EQUALS: strbuf_puts(sb, "!="); break;
	case LABEL_OP_IN: strbuf_puts(sb, " in ("); break;
	case LABEL_OP_NOT_IN: strbuf_puts(sb, " notin ("); break;
	case LABEL_OP_GREATER_THAN: strbuf_puts(sb, ">"); break;
	case LABEL_OP_LESS_THAN: strbuf_puts(sb, "<"); break;
	}
	char **sorted = malloc((r->n_values ? r->n_values : 1) * sizeof(char *));
	if (!sorted) {
		sb->oom = true;
		return;
	}
	if (r->n_values) {
		memcpy(sorted, r->values, r->n_values * sizeof(char *));
		qsort(sorted, r->n_values, sizeof(char *), cmp_str);
	}
	for (size_t i = 0; i < r->n_values; i++) {
		if (i)
			strbuf_putc(sb, ',');
		strbuf_puts(sb, sorted[i]);
	}
	free(sorted);
	if (r->op == LABEL_OP_IN || r->op == LABEL_OP_NOT_IN)
		strbuf_putc(sb, ')');
}

char *
label_selector_string(const struct label_selector *sel)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; sel && i < sel->n; i++) {
		if (i)
			strbuf_putc(&sb, ',');
		put_requirement(&sb, &sel->reqs[i]);
	}
	if (sb.oom) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

size_t
label_selector_count(const struct label_selector *sel)
{
	return sel ? sel->n : 0;
}

const struct label_requirement *
label_selector_requirement(const struct label_selector *sel, size_t i)
{
	return sel && i < sel->n ? &sel->reqs[i] : NULL;
}

const char *
label_selector_exact_value(const struct label_selector *sel, const char *key)
{
	for (size_t i = 0; sel && i < sel->n; i++) {
		const struct label_requirement *r = &sel->reqs[i];
		if (!streq(r->key, key))
			continue;
		if ((r->op == LABEL_OP_EQUALS || r->op == LABEL_OP_DOUBLE_EQUALS ||
		     r->op == LABEL_OP_IN) &&
		    r->n_values == 1)
			return r->values[0];
		return NULL;
	}
	return NULL;
}
