/*
 * jsonpath.c - kubectl's JSONPath templates: a parser into a list of nodes (text, paths, range,
 * end) and an evaluator over jansson trees that prints as kubectl does.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/jsonpath.h"
#include "base/error.h"
#include "base/quote.h"
#include "base/vec.h"

enum step_type {
	STEP_FIELD,     /* .name or ['name'] */
	STEP_WILDCARD,  /* .* : every value of an object, every element of an array */
	STEP_RECURSIVE, /* .. : the value and all its descendants */
	STEP_INDEX,     /* [n] or [start:end:step] or [*] */
	STEP_FILTER,    /* [?(@.a == "x")] */
	STEP_UNION,     /* [a,b]: several paths from the same values */
};

enum operand_kind { OPND_PATH, OPND_STRING, OPND_NUMBER, OPND_BOOL, OPND_NULL };

struct path;

struct operand {
	enum operand_kind kind; /* what it holds */
	struct path *path;      /* OPND_PATH: evaluated against the element */
	char *str;              /* OPND_STRING */
	double num;             /* OPND_NUMBER */
	bool boolean;           /* OPND_BOOL */
};

struct step {
	enum step_type type;
	char *name;                 /* FIELD */
	bool slice;                 /* INDEX: a slice rather than one index */
	bool has_start, has_end;    /* INDEX: bounds given */
	long start, end, stride;    /* INDEX: bounds and step (stride 0 means 1) */
	struct operand left, right; /* FILTER: right.kind OPND_NULL + !has_op means "exists" */
	char op[3];                 /* FILTER: "==", "!=", "<", "<=", ">", ">=" or "" */
	struct path **paths;        /* UNION members */
	size_t n_paths;             /* UNION: entries in paths */
};

struct path {
	bool from_root;     /* started with $ */
	struct step *steps; /* applied in order */
	size_t n_steps;     /* entries in steps */
	size_t cap_steps;   /* allocated entries */
};

enum node_type { NODE_TEXT, NODE_PATH, NODE_RANGE, NODE_END };

struct node {
	enum node_type type;
	char *text;        /* TEXT: printed as is */
	struct path *path; /* PATH and RANGE */
	size_t end_index;  /* RANGE: index of its END node */
};

struct jsonpath {
	struct node *nodes; /* in template order */
	size_t n_nodes;     /* entries in nodes */
	size_t cap_nodes;   /* allocated entries */
};

struct parser {
	const char *template_text; /* the whole template, for messages */
	const char *p;             /* current position */
	korch_error **err;
};

static void path_free(struct path *path);

static void
operand_free(struct operand *o)
{
	path_free(o->path);
	free(o->str);
}

static void
path_free(struct path *path)
{
	if (!path)
		return;
	for (size_t i = 0; i < path->n_steps; i++) {
		struct step *s = &path->steps[i];
		free(s->name);
		operand_free(&s->left);
		operand_free(&s->right);
		for (size_t j = 0; j < s->n_paths; j++)
			path_free(s->paths[j]);
		free(s->paths);
	}
	free(path->steps);
	free(path);
}

void
jsonpath_free(struct jsonpath *jp)
{
	if (!jp)
		return;
	for (size_t i = 0; i < jp->n_nodes; i++) {
		free(jp->nodes[i].text);
		path_free(jp->nodes[i].path);
	}
	free(jp->nodes);
	free(jp);
}

static int
parse_error(struct parser *ps, const char *reason)
{
	return error_set(ps->err, KORCH_EINVALID, "error parsing jsonpath %s, %s",
			 ps->template_text, reason);
}

static void
skip_spaces(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t')
		ps->p++;
}

/* Parses a quoted string ('...' or "...") with Go-style escapes; ps->p is at the quote. */
static int
parse_quoted(struct parser *ps, char **ret)
{
	char quote = *ps->p++;
	struct strbuf sb = STRBUF_INIT;
	for (;;) {
		char c = *ps->p;
		if (!c) {
			strbuf_free(&sb);
			return parse_error(ps, "unterminated quoted string");
		}
		ps->p++;
		if (c == quote)
			break;
		if (c == '\\' && *ps->p) {
			char e = *ps->p++;
			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			default: c = e; break;
			}
		}
		strbuf_putc(&sb, c);
	}
	char *s = strbuf_steal(&sb);
	if (!s)
		return error_oom(ps->err);
	*ret = s;
	return 0;
}

static struct step *
path_add(struct path *path)
{
	return VEC_PUSH(path->steps, path->n_steps, path->cap_steps);
}

/* A field name after '.': runs to '.', '[', a space or the end; "\." keeps a dot. */
static int
parse_field_name(struct parser *ps, char **ret)
{
	struct strbuf sb = STRBUF_INIT;
	while (*ps->p && !strchr(".[ \t})=!<>,", *ps->p)) {
		if (*ps->p == '\\' && ps->p[1])
			ps->p++;
		strbuf_putc(&sb, *ps->p++);
	}
	if (sb.len == 0) {
		strbuf_free(&sb);
		return parse_error(ps, "empty field name");
	}
	char *s = strbuf_steal(&sb);
	if (!s)
		return error_oom(ps->err);
	*ret = s;
	return 0;
}

static int parse_path(struct parser *ps, const char *stop, struct path **ret);

static bool
parse_long(const char **p, long *ret)
{
	char *end;
	errno = 0;
	long v = strtol(*p, &end, 10);
	if (end == *p || errno)
		return false;
	*p = end;
	*ret = v;
	return true;
}

/* [n], [a:b:c], [*] — ps->p just past '['. */
static int
parse_index(struct parser *ps, struct step *s)
{
	s->type = STEP_INDEX;
	skip_spaces(ps);
	if (*ps->p == '*') {
		ps->p++;
		s->slice = true;
	} else {
		long v;
		if (parse_long(&ps->p, &v)) {
			s->start = v;
			s->has_start = true;
		}
		skip_spaces(ps);
		if (*ps->p == ':') {
			s->slice = true;
			ps->p++;
			skip_spaces(ps);
			if (parse_long(&ps->p, &v)) {
				s->end = v;
				s->has_end = true;
			}
			skip_spaces(ps);
			if (*ps->p == ':') {
				ps->p++;
				skip_spaces(ps);
				if (parse_long(&ps->p, &v)) {
					if (v == 0)
						return parse_error(ps, "step cannot be 0");
					s->stride = v;
				}
			}
		} else if (!s->has_start) {
			return parse_error(ps, "invalid array index");
		}
	}
	skip_spaces(ps);
	if (*ps->p != ']')
		return parse_error(ps, "unclosed array expect ]");
	ps->p++;
	return 0;
}

static int
parse_operand(struct parser *ps, struct operand *o)
{
	skip_spaces(ps);
	const char *p = ps->p;
	if (*p == '@' || *p == '$') {
		o->kind = OPND_PATH;
		return parse_path(ps, " \t)=!<>", &o->path);
	}
	if (*p == '"' || *p == '\'') {
		o->kind = OPND_STRING;
		return parse_quoted(ps, &o->str);
	}
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
		o->kind = OPND_BOOL;
		o->boolean = *p == 't';
		ps->p += o->boolean ? 4 : 5;
		return 0;
	}
	if (strncmp(p, "nil", 3) == 0 || strncmp(p, "null", 4) == 0) {
		o->kind = OPND_NULL;
		ps->p += p[2] == 'l' && p[3] == 'l' ? 4 : 3;
		return 0;
	}
	char *end;
	errno = 0;
	double v = strtod(p, &end);
	if (end == p || errno)
		return parse_error(ps, "unrecognized filter operand");
	o->kind = OPND_NUMBER;
	o->num = v;
	ps->p = end;
	return 0;
}

/* [?(left op right)] or [?(left)] — ps->p at '?'. */
static int
parse_filter(struct parser *ps, struct step *s)
{
	s->type = STEP_FILTER;
	ps->p++;
	if (*ps->p != '(')
		return parse_error(ps, "unclosed filter expect (");
	ps->p++;
	int r = parse_operand(ps, &s->left);
	if (r < 0)
		return r;
	skip_spaces(ps);
	static const char *const ops[] = { "==", "!=", "<=", ">=", "<", ">" };
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		size_t n = strlen(ops[i]);
		if (strncmp(ps->p, ops[i], n) == 0) {
			memcpy(s->op, ops[i], n + 1);
			ps->p += n;
			break;
		}
	}
	if (s->op[0]) {
		r = parse_operand(ps, &s->right);
		if (r < 0)
			return r;
		skip_spaces(ps);
	}
	if (*ps->p != ')')
		return parse_error(ps, "unclosed filter expect )");
	ps->p++;
	skip_spaces(ps);
	if (*ps->p != ']')
		return parse_error(ps, "unclosed filter expect ]");
	ps->p++;
	return 0;
}

/*
 * Adds one field step per dot-separated part of name ("metadata.name"; "\." keeps a dot), as
 * kubectl reads the members of a union. A name without dots is one step.
 */
static int
add_dotted_fields(struct parser *ps, struct path *path, const char *name)
{
	struct strbuf part = STRBUF_INIT;
	for (const char *p = name;; p++) {
		if (*p == '\\' && p[1] == '.') {
			strbuf_putc(&part, *++p);
			continue;
		}
		if (*p && *p != '.') {
			strbuf_putc(&part, *p);
			continue;
		}
		struct step *s = path_add(path);
		if (!s || !(s->name = strbuf_steal(&part))) {
			strbuf_free(&part);
			return error_oom(ps->err);
		}
		s->type = STEP_FIELD;
		if (!*p)
			return 0;
	}
}

/*
 * ['a'], ['a','b'], [a,b] — ps->p just past '['. One name is a literal key (dots and all:
 * ['kubernetes.io/name']); several make a union whose members are dotted paths.
 */
static int
parse_bracket_names(struct parser *ps, struct step *s)
{
	struct ptrvec names = PTRVEC_INIT;
	int r = 0;
	for (;;) {
		skip_spaces(ps);
		char *name = NULL;
		if (*ps->p == '\'' || *ps->p == '"')
			r = parse_quoted(ps, &name);
		else
			r = parse_field_name(ps, &name);
		if (r < 0)
			break;
		if (ptrvec_push(&names, name) < 0) {
			free(name);
			r = error_oom(ps->err);
			break;
		}
		skip_spaces(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p != ']')
			r = parse_error(ps, "unclosed array expect ]");
		else
			ps->p++;
		break;
	}
	if (r == 0 && names.n == 1) {
		s->type = STEP_FIELD;
		s->name = names.items[0];
		names.n = 0;
	} else if (r == 0) {
		s->type = STEP_UNION;
		s->paths = calloc(names.n, sizeof(*s->paths));
		if (!s->paths)
			r = error_oom(ps->err);
		for (size_t i = 0; i < names.n && r == 0; i++) {
			s->paths[i] = calloc(1, sizeof(struct path));
			if (!s->paths[i]) {
				r = error_oom(ps->err);
				break;
			}
			s->n_paths++;
			r = add_dotted_fields(ps, s->paths[i], names.items[i]);
		}
	}
	ptrvec_free(&names, free);
	return r;
}

static int
parse_bracket(struct parser *ps, struct step *s)
{
	ps->p++; /* '[' */
	skip_spaces(ps);
	if (*ps->p == '?')
		return parse_filter(ps, s);
	if (*ps->p == '\'' || *ps->p == '"' || (isalpha((unsigned char)*ps->p) && *ps->p != '*'))
		return parse_bracket_names(ps, s);
	return parse_index(ps, s);
}

/* A path: [$|@] then steps, until a character in stop (not consumed) or the end. */
static int
parse_path(struct parser *ps, const char *stop, struct path **ret)
{
	struct path *path = calloc(1, sizeof(*path));
	if (!path)
		return error_oom(ps->err);
	int r = 0;
	if (*ps->p == '$') {
		path->from_root = true;
		ps->p++;
	} else if (*ps->p == '@') {
		ps->p++;
	}
	while (*ps->p && !strchr(stop, *ps->p)) {
		struct step *s = path_add(path);
		if (!s) {
			r = error_oom(ps->err);
			break;
		}
		if (ps->p[0] == '.' && ps->p[1] == '.') {
			s->type = STEP_RECURSIVE;
			ps->p += 2;
			if (*ps->p == '[' || *ps->p == '*')
				continue;
			struct step *f = path_add(path);
			if (!f) {
				r = error_oom(ps->err);
				break;
			}
			f->type = STEP_FIELD;
			if ((r = parse_field_name(ps, &f->name)) < 0)
				break;
		} else if (ps->p[0] == '.' && ps->p[1] == '*') {
			s->type = STEP_WILDCARD;
			ps->p += 2;
		} else if (*ps->p == '.') {
			ps->p++;
			if (!*ps->p || strchr(stop, *ps->p)) {
				/* A lone "." is the current object. */
				path->n_steps--;
				break;
			}
			s->type = STEP_FIELD;
			if ((r = parse_field_name(ps, &s->name)) < 0)
				break;
		} else if (*ps->p == '[') {
			if ((r = parse_bracket(ps, s)) < 0)
				break;
		} else if (*ps->p == '*') {
			s->type = STEP_WILDCARD;
			ps->p++;
		} else if (isalpha((unsigned char)*ps->p) || *ps->p == '_') {
			/* A leading field without a dot: {metadata.name} as kubectl accepts it. */
			s->type = STEP_FIELD;
			if ((r = parse_field_name(ps, &s->name)) < 0)
				break;
		} else {
			r = parse_error(ps, "unrecognized character in action");
			break;
		}
	}
	if (r < 0) {
		path_free(path);
		return r;
	}
	*ret = path;
	return 0;
}

static struct node *
add_node(struct jsonpath *jp, enum node_type type)
{
	struct node *n = VEC_PUSH(jp->nodes, jp->n_nodes, jp->cap_nodes);
	if (n)
		n->type = type;
	return n;
}

/* The inside of one {...}; ps->p just past '{'. */
static int
parse_action(struct parser *ps, struct jsonpath *jp, struct ptrvec *open_ranges)
{
	skip_spaces(ps);
	int r;
	if (*ps->p == '"' || *ps->p == '\'') {
		struct node *n = add_node(jp, NODE_TEXT);
		if (!n)
			return error_oom(ps->err);
		if ((r = parse_quoted(ps, &n->text)) < 0)
			return r;
	} else if (strncmp(ps->p, "range", 5) == 0 && !isalnum((unsigned char)ps->p[5])) {
		ps->p += 5;
		skip_spaces(ps);
		struct node *n = add_node(jp, NODE_RANGE);
		if (!n)
			return error_oom(ps->err);
		if ((r = parse_path(ps, "} \t", &n->path)) < 0)
			return r;
		if (ptrvec_push(open_ranges, (void *)(jp->n_nodes - 1)) < 0)
			return error_oom(ps->err);
	} else if (strncmp(ps->p, "end", 3) == 0 && !isalnum((unsigned char)ps->p[3])) {
		ps->p += 3;
		if (open_ranges->n == 0)
			return parse_error(ps, "not in range, nothing to end");
		struct node *n = add_node(jp, NODE_END);
		if (!n)
			return error_oom(ps->err);
		size_t range_index = (size_t)open_ranges->items[--open_ranges->n];
		jp->nodes[range_index].end_index = jp->n_nodes - 1;
	} else {
		struct node *n = add_node(jp, NODE_PATH);
		if (!n)
			return error_oom(ps->err);
		if ((r = parse_path(ps, "} \t", &n->path)) < 0)
			return r;
	}
	skip_spaces(ps);
	if (*ps->p != '}')
		return parse_error(ps, "unclosed action");
	ps->p++;
	return 0;
}

int
jsonpath_parse(const char *template_text, struct jsonpath **ret, korch_error **err)
{
	struct jsonpath *jp = calloc(1, sizeof(*jp));
	if (!jp)
		return error_oom(err);
	struct parser ps = { .template_text = template_text, .p = template_text, .err = err };
	struct ptrvec open_ranges = PTRVEC_INIT;
	int r = 0;
	while (*ps.p && r == 0) {
		if (*ps.p == '{') {
			ps.p++;
			r = parse_action(&ps, jp, &open_ranges);
			continue;
		}
		const char *start = ps.p;
		while (*ps.p && *ps.p != '{')
			ps.p++;
		struct node *n = add_node(jp, NODE_TEXT);
		if (!n || !(n->text = strndup(start, (size_t)(ps.p - start))))
			r = error_oom(err);
	}
	if (r == 0 && open_ranges.n)
		r = parse_error(&ps, "unclosed range: {end} is missing");
	ptrvec_free(&open_ranges, NULL);
	if (r < 0) {
		jsonpath_free(jp);
		return r;
	}
	*ret = jp;
	return 0;
}

/* ---- evaluation ---- */

struct eval {
	const json_t *root; /* the whole input, for $ */
	bool allow_missing; /* missing keys print nothing instead of failing */
	korch_error **err;
};

static int eval_path(struct eval *ev, const struct path *path, struct ptrvec *in,
		     struct ptrvec *out);

static int
push(struct eval *ev, struct ptrvec *v, const json_t *value)
{
	return ptrvec_push(v, (void *)value) < 0 ? error_oom(ev->err) : 0;
}

static int
missing(struct eval *ev, const char *what)
{
	if (ev->allow_missing)
		return 0;
	return error_set(ev->err, KORCH_ENOTFOUND, "%s is not found", what);
}

static int
eval_field(struct eval *ev, const struct step *s, const json_t *v, struct ptrvec *out)
{
	const json_t *child = json_is_object(v) ? json_object_get(v, s->name) : NULL;
	if (!child)
		return missing(ev, s->name);
	return push(ev, out, child);
}

static int
eval_wildcard(struct eval *ev, const json_t *v, struct ptrvec *out)
{
	const char *key;
	json_t *child;
	size_t i;
	int r = 0;
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, key, child)
			if ((r = push(ev, out, child)) < 0)
				return r;
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, child)
			if ((r = push(ev, out, child)) < 0)
				return r;
	}
	return r;
}

static int
eval_recursive(struct eval *ev, const json_t *v, struct ptrvec *out)
{
	int r = push(ev, out, v);
	const char *key;
	json_t *child;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, key, child)
			if (r == 0)
				r = eval_recursive(ev, child, out);
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, child)
			if (r == 0)
				r = eval_recursive(ev, child, out);
	}
	return r;
}

static int
eval_index(struct eval *ev, const struct step *s, const json_t *v, struct ptrvec *out)
{
	if (!json_is_array(v))
		return ev->allow_missing ? 0 : error_set(ev->err, KORCH_EINVALID, "not an array");
	long len = (long)json_array_size(v);
	if (!s->slice) {
		long i = s->start < 0 ? s->start + len : s->start;
		if (i < 0 || i >= len) {
			if (ev->allow_missing)
				return 0;
			return error_set(ev->err, KORCH_EINVALID,
					 "array index out of bounds: index %ld, length %ld",
					 s->start, len);
		}
		return push(ev, out, json_array_get(v, (size_t)i));
	}
	long start = s->has_start ? s->start : 0, end = s->has_end ? s->end : len;
	long stride = s->stride ? s->stride : 1;
	if (start < 0)
		start += len;
	if (end < 0)
		end += len;
	start = start < 0 ? 0 : start > len ? len : start;
	end = end < 0 ? 0 : end > len ? len : end;
	int r = 0;
	if (stride > 0) {
		for (long i = start; i < end && r == 0; i += stride)
			r = push(ev, out, json_array_get(v, (size_t)i));
	} else {
		for (long i = end - 1; i >= start && r == 0; i += stride)
			r = push(ev, out, json_array_get(v, (size_t)i));
	}
	return r;
}

/* An operand's value for one element: a borrowed node, a new one, or NULL when absent. */
static json_t *
operand_value(struct eval *ev, const struct operand *o, const json_t *elem)
{
	switch (o->kind) {
	case OPND_STRING: return json_string(o->str);
	case OPND_NUMBER: return json_real(o->num);
	case OPND_BOOL: return json_boolean(o->boolean);
	case OPND_NULL: return json_null();
	case OPND_PATH: break;
	}
	struct ptrvec in = PTRVEC_INIT, out = PTRVEC_INIT;
	struct eval quiet = { ev->root, true, NULL };
	json_t *result = NULL;
	if (ptrvec_push(&in, (void *)(o->path->from_root ? ev->root : elem)) == 0 &&
	    eval_path(&quiet, o->path, &in, &out) == 0 && out.n > 0)
		result = json_incref(out.items[0]);
	ptrvec_free(&in, NULL);
	ptrvec_free(&out, NULL);
	return result;
}

/* -2 when the two cannot be ordered, else -1, 0 or 1. */
static int
compare(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		return x < y ? -1 : x > y ? 1 : 0;
	}
	if (json_is_string(a) && json_is_string(b)) {
		int c = strcmp(json_string_value(a), json_string_value(b));
		return c < 0 ? -1 : c > 0 ? 1 : 0;
	}
	if (json_is_boolean(a) && json_is_boolean(b))
		return json_is_true(a) == json_is_true(b) ? 0 : -2;
	if (json_is_null(a) && json_is_null(b))
		return 0;
	return -2;
}

static bool
filter_matches(struct eval *ev, const struct step *s, const json_t *elem)
{
	json_t *left = operand_value(ev, &s->left, elem);
	if (!s->op[0]) {
		bool exists = left != NULL;
		json_decref(left);
		return exists;
	}
	json_t *right = operand_value(ev, &s->right, elem);
	bool match = false;
	if (left && right) {
		int c = compare(left, right);
		if (strcmp(s->op, "==") == 0)
			match = c == 0;
		else if (strcmp(s->op, "!=") == 0)
			match = c != 0;
		else if (c != -2)
			match = (strcmp(s->op, "<") == 0 && c < 0) ||
				(strcmp(s->op, "<=") == 0 && c <= 0) ||
				(strcmp(s->op, ">") == 0 && c > 0) ||
				(strcmp(s->op, ">=") == 0 && c >= 0);
	}
	json_decref(left);
	json_decref(right);
	return match;
}

static int
eval_step(struct eval *ev, const struct step *s, const json_t *v, struct ptrvec *out)
{
	switch (s->type) {
	case STEP_FIELD: return eval_field(ev, s, v, out);
	case STEP_WILDCARD: return eval_wildcard(ev, v, out);
	case STEP_RECURSIVE: return eval_recursive(ev, v, out);
	case STEP_INDEX: return eval_index(ev, s, v, out);
	case STEP_FILTER: {
		size_t i;
		json_t *elem;
		if (!json_is_array(v))
			return 0;
		json_array_foreach (v, i, elem)
			if (filter_matches(ev, s, elem) && push(ev, out, elem) < 0)
				return KORCH_ENOMEM;
		return 0;
	}
	case STEP_UNION: break; /* eval_path runs unions over all current values at once */
	}
	return 0;
}

static int
eval_path(struct eval *ev, const struct path *path, struct ptrvec *in, struct ptrvec *out)
{
	struct ptrvec cur = PTRVEC_INIT;
	int r = 0;
	for (size_t i = 0; i < in->n && r == 0; i++)
		r = push(ev, &cur, path->from_root ? ev->root : in->items[i]);
	for (size_t k = 0; k < path->n_steps && r == 0; k++) {
		const struct step *s = &path->steps[k];
		/* After "..", a missing field at some depth is normal: never an error. */
		bool after_recursive = k > 0 && path->steps[k - 1].type == STEP_RECURSIVE;
		struct eval sub = *ev;
		if (after_recursive)
			sub.allow_missing = true;
		struct ptrvec next = PTRVEC_INIT;
		if (s->type == STEP_UNION) {
			/* Each member over every value, member by member, as kubectl orders them. */
			for (size_t m = 0; m < s->n_paths && r == 0; m++)
				r = eval_path(&sub, s->paths[m], &cur, &next);
		}
		for (size_t i = 0; i < cur.n && r == 0 && s->type != STEP_UNION; i++)
			r = eval_step(&sub, s, cur.items[i], &next);
		ptrvec_free(&cur, NULL);
		cur = next;
	}
	for (size_t i = 0; i < cur.n && r == 0; i++)
		r = push(ev, out, cur.items[i]);
	ptrvec_free(&cur, NULL);
	return r;
}

static int
print_value(const json_t *v, struct strbuf *out)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return strbuf_append(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return strbuf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL: return strbuf_put_go_float(out, json_real_value(v), 'g');
	case JSON_TRUE: return strbuf_puts(out, "true");
	case JSON_FALSE: return strbuf_puts(out, "false");
	case JSON_NULL: return 0;
	case JSON_OBJECT:
	case JSON_ARRAY:
		/* As Go's json.Marshal writes a decoded value: map keys sorted. */
		return strbuf_put_go_json(out, v);
	}
	return 0;
}

static int
execute_nodes(struct eval *ev, const struct jsonpath *jp, size_t from, size_t to,
	      const json_t *current, struct strbuf *out)
{
	for (size_t i = from; i < to; i++) {
		const struct node *n = &jp->nodes[i];
		if (n->type == NODE_TEXT) {
			strbuf_puts(out, n->text);
			continue;
		}
		if (n->type == NODE_END)
			continue;
		struct ptrvec in = PTRVEC_INIT, results = PTRVEC_INIT;
		int r = push(ev, &in, current);
		if (r == 0)
			r = eval_path(ev, n->path, &in, &results);
		if (r == 0 && n->type == NODE_PATH) {
			for (size_t k = 0; k < results.n; k++) {
				if (k > 0)
					strbuf_putc(out, ' ');
				print_value(results.items[k], out);
			}
		} else if (r == 0) {
			/* range: each result, or each element of a single array result. */
			const json_t *first = results.n == 1 ? results.items[0] : NULL;
			const json_t *items = json_is_array(first) ? first : NULL;
			size_t count = items ? json_array_size(items) : results.n;
			for (size_t k = 0; k < count && r == 0; k++) {
				const json_t *item =
					items ? json_array_get(items, k) : results.items[k];
				r = execute_nodes(ev, jp, i + 1, n->end_index, item, out);
			}
			i = n->end_index;
		}
		ptrvec_free(&in, NULL);
		ptrvec_free(&results, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

int
jsonpath_execute(const struct jsonpath *jp, const json_t *root, bool allow_missing,
		 struct strbuf *out, korch_error **err)
{
	struct eval ev = { .root = root, .allow_missing = allow_missing, .err = err };
	int r = execute_nodes(&ev, jp, 0, jp->n_nodes, root, out);
	if (r == 0 && out->oom)
		r = error_oom(err);
	return r;
}
