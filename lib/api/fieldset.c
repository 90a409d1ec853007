/*
 * fieldset.c - sets of field paths (structured-merge-diff's fieldpath.Set): path elements and
 * their order, set algebra, iteration, and the FieldsV1 encoding of managedFields.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "api/fieldset.h"
#include "api/typed.h"
#include "base/error.h"
#include "base/json.h"
#include "base/quote.h"
#include "base/util.h"
#include "base/vec.h"

/* A path element below which something is owned, and what. */
struct set_node {
	struct path_element pe; /* owned copy */
	struct fieldset *set;   /* what is owned below pe; never empty */
};

struct fieldset {
	struct path_element *members; /* owned copies, sorted by path_element_compare() */
	size_t n_members;             /* entries in members */
	size_t cap_members;           /* allocated entries */
	struct set_node *children;    /* sorted by pe */
	size_t n_children;            /* entries in children */
	size_t cap_children;          /* allocated entries */
};

/* ---- values ---------------------------------------------------------------------------- */

static bool
is_number(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

static double
number_of(const json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static int
sign_of(int c)
{
	return c < 0 ? -1 : c > 0;
}

bool
value_equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	if (json_is_real(a) || json_is_real(b)) {
		if (!is_number(a) || !is_number(b))
			return false;
		return number_of(a) == number_of(b);
	}
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_INTEGER: return json_integer_value(a) == json_integer_value(b);
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) ==
			       0;
	case JSON_ARRAY: {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!value_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	case JSON_OBJECT: {
		if (json_object_size(a) != json_object_size(b))
			return false;
		const char *k;
		json_t *v;
		json_object_foreach ((json_t *)a, k, v) {
			const json_t *w = json_object_get(b, k);
			if (!w || !value_equal(v, w))
				return false;
		}
		return true;
	}
	default: return true; /* true, false, null: the type says it all */
	}
}

/* The rank of a value's type in structured-merge-diff's order. */
static int
value_rank(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_REAL:
	case JSON_INTEGER: return 0;
	case JSON_STRING: return 1;
	case JSON_TRUE:
	case JSON_FALSE: return 2;
	case JSON_ARRAY: return 3;
	case JSON_OBJECT: return 4;
	default: return 5;
	}
}

static int
key_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Objects compared key by key in name order (value.MapCompare). */
static int
object_compare(const json_t *a, const json_t *b)
{
	size_t na = json_object_size(a), nb = json_object_size(b), n = 0;
	if (na == 0 && nb == 0)
		return 0;
	const char **keys = malloc((na + nb) * sizeof(*keys));
	if (!keys) /* no order to give without memory; fall back on sizes */
		return na < nb ? -1 : na > nb;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)a, k, v)
		keys[n++] = k;
	json_object_foreach ((json_t *)b, k, v)
		if (!json_object_get(a, k))
			keys[n++] = k;
	qsort(keys, n, sizeof(*keys), key_name_cmp);
	int c = 0;
	for (size_t i = 0; i < n && c == 0; i++) {
		const json_t *l = json_object_get(a, keys[i]), *r = json_object_get(b, keys[i]);
		if (i == na)
			c = -1;
		else if (i == nb)
			c = 1;
		else if (!l)
			c = 1;
		else if (!r)
			c = -1;
		else
			c = value_compare(l, r);
	}
	free(keys);
	return c;
}

int
value_compare(const json_t *a, const json_t *b)
{
	int ra = value_rank(a), rb = value_rank(b);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	switch (json_typeof(a)) {
	case JSON_REAL:
	case JSON_INTEGER:
		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t x = json_integer_value(a), y = json_integer_value(b);
			return x < y ? -1 : x > y;
		}
		if (json_is_real(a) != json_is_real(b) || json_is_real(a)) {
			double x = number_of(a), y = number_of(b);
			return x < y ? -1 : x > y;
		}
		return 0;
	case JSON_STRING: {
		size_t la = json_string_length(a), lb = json_string_length(b);
		int c = memcmp(json_string_value(a), json_string_value(b), MIN(la, lb));
		if (c)
			return sign_of(c);
		return la < lb ? -1 : la > lb;
	}
	case JSON_TRUE:
	case JSON_FALSE: return json_is_true(a) == json_is_true(b) ? 0 : json_is_true(a) ? 1 : -1;
	case JSON_ARRAY:
		for (size_t i = 0;; i++) {
			bool ea = i >= json_array_size(a), eb = i >= json_array_size(b);
			if (ea || eb)
				return ea && eb ? 0 : ea ? -1 : 1;
			int c = value_compare(json_array_get(a, i), json_array_get(b, i));
			if (c)
				return c;
		}
	case JSON_OBJECT: return object_compare(a, b);
	default: return 0;
	}
}

/* fmt's %v of a number as structured-merge-diff prints it. */
static int
number_to_string(const json_t *v, struct strbuf *out)
{
	if (json_is_integer(v))
		return strbuf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return strbuf_put_go_float(out, json_real_value(v), 'g');
}

int
value_to_string(const json_t *v, struct strbuf *out)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return strbuf_put_go_quoted(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
	case JSON_REAL: return number_to_string(v, out);
	case JSON_TRUE: return strbuf_puts(out, "true");
	case JSON_FALSE: return strbuf_puts(out, "false");
	case JSON_NULL: return strbuf_puts(out, "null");
	case JSON_ARRAY:
		strbuf_putc(out, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				strbuf_putc(out, ',');
			value_to_string(json_array_get(v, i), out);
		}
		return strbuf_putc(out, ']');
	case JSON_OBJECT: {
		/* value.ToString joins k=v pairs with nothing between them */
		size_t n = json_object_size(v), i = 0;
		const char **keys = malloc((n ? n : 1) * sizeof(*keys));
		if (!keys)
			return KORCH_ENOMEM;
		const char *k;
		json_t *child;
		json_object_foreach ((json_t *)v, k, child)
			keys[i++] = k;
		qsort(keys, n, sizeof(*keys), key_name_cmp);
		for (i = 0; i < n; i++) {
			strbuf_printf(out, "%s=", keys[i]);
			value_to_string(json_object_get(v, keys[i]), out);
		}
		free(keys);
		return out->oom ? KORCH_ENOMEM : 0;
	}
	}
	return 0;
}

/* ---- path elements --------------------------------------------------------------------- */

/* Key fields compared as structured-merge-diff's FieldList: name, then value, field by field. */
static int
key_compare(const json_t *a, const json_t *b)
{
	void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
	for (;;) {
		if (!ia || !ib)
			return !ia && !ib ? 0 : !ia ? -1 : 1;
		int c = strcmp(json_object_iter_key(ia), json_object_iter_key(ib));
		if (c)
			return sign_of(c);
		c = value_compare(json_object_iter_value(ia), json_object_iter_value(ib));
		if (c)
			return c;
		ia = json_object_iter_next((json_t *)a, ia);
		ib = json_object_iter_next((json_t *)b, ib);
	}
}

int
path_element_compare(const struct path_element *a, const struct path_element *b)
{
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	switch (a->type) {
	case PATH_FIELD: return sign_of(strcmp(a->field, b->field));
	case PATH_KEY: return key_compare(a->value, b->value);
	case PATH_VALUE: return value_compare(a->value, b->value);
	case PATH_INDEX: return a->index < b->index ? -1 : a->index > b->index;
	}
	return 0;
}

void
path_element_clear(struct path_element *pe)
{
	if (pe->type == PATH_FIELD)
		free((char *)pe->field);
	json_decref(pe->value);
	*pe = (struct path_element){ 0 };
}

/*
 * An owned copy: the name duplicated, a reference taken on the value. Values in path elements
 * are never modified, so sets share them with one another and with the trees they came from.
 */
static int
path_element_copy(const struct path_element *src, struct path_element *dst)
{
	struct path_element pe = { .type = src->type, .index = src->index };
	if (src->type == PATH_FIELD) {
		if (!(pe.field = strdup(src->field)))
			return KORCH_ENOMEM;
	} else {
		pe.value = json_incref(src->value);
	}
	*dst = pe;
	return 0;
}

int
path_stack_push(struct path_stack *p, const struct path_element *pe)
{
	struct path_element *slot = VEC_PUSH(p->elems, p->n, p->cap);
	if (!slot)
		return KORCH_ENOMEM;
	*slot = *pe;
	return 0;
}

void
path_stack_pop(struct path_stack *p)
{
	if (p->n)
		p->n--;
}

void
path_stack_free(struct path_stack *p)
{
	free(p->elems);
	*p = (struct path_stack)PATH_STACK_INIT;
}

int
path_to_string(const struct path_element *path, size_t n, struct strbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct path_element *pe = &path[i];
		switch (pe->type) {
		case PATH_FIELD:
			strbuf_putc(out, '.');
			strbuf_puts(out, pe->field);
			break;
		case PATH_KEY: {
			strbuf_putc(out, '[');
			const char *k;
			json_t *v;
			bool first = true;
			json_object_foreach (pe->value, k, v) {
				if (!first)
					strbuf_putc(out, ',');
				first = false;
				strbuf_printf(out, "%s=", k);
				value_to_string(v, out);
			}
			strbuf_putc(out, ']');
			break;
		}
		case PATH_VALUE:
			strbuf_puts(out, "[=");
			value_to_string(pe->value, out);
			strbuf_putc(out, ']');
			break;
		case PATH_INDEX: strbuf_printf(out, "[%" PRId64 "]", pe->index); break;
		}
	}
	return out->oom ? KORCH_ENOMEM : 0;
}

/* ---- sets ------------------------------------------------------------------------------ */

struct fieldset *
fieldset_new(void)
{
	return calloc(1, sizeof(struct fieldset));
}

void
fieldset_free(struct fieldset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_members; i++)
		path_element_clear(&s->members[i]);
	for (size_t i = 0; i < s->n_children; i++) {
		path_element_clear(&s->children[i].pe);
		fieldset_free(s->children[i].set);
	}
	free(s->members);
	free(s->children);
	free(s);
}

/* Where pe is in the sorted members, or where it would go; *found says which. */
static size_t
member_position(const struct fieldset *s, const struct path_element *pe, bool *found)
{
	size_t lo = 0, hi = s->n_members;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = path_element_compare(&s->members[mid], pe);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static size_t
child_position(const struct fieldset *s, const struct path_element *pe, bool *found)
{
	size_t lo = 0, hi = s->n_children;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = path_element_compare(&s->children[mid].pe, pe);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static bool
has_member(const struct fieldset *s, const struct path_element *pe)
{
	bool found;
	member_position(s, pe, &found);
	return found;
}

const struct fieldset *
fieldset_child(const struct fieldset *s, const struct path_element *pe)
{
	bool found;
	size_t i = child_position(s, pe, &found);
	return found ? s->children[i].set : NULL;
}

/* Appends a copy of pe to the members; the caller keeps them sorted. */
static int
append_member(struct fieldset *s, const struct path_element *pe)
{
	struct path_element copy;
	if (path_element_copy(pe, &copy) < 0)
		return KORCH_ENOMEM;
	struct path_element *slot = VEC_PUSH(s->members, s->n_members, s->cap_members);
	if (!slot) {
		path_element_clear(&copy);
		return KORCH_ENOMEM;
	}
	*slot = copy;
	return 0;
}

/* Appends a node of pe (copied) and set (taken, freed on failure). */
static int
append_child(struct fieldset *s, const struct path_element *pe, struct fieldset *set)
{
	struct path_element copy;
	if (path_element_copy(pe, &copy) < 0) {
		fieldset_free(set);
		return KORCH_ENOMEM;
	}
	struct set_node *slot = VEC_PUSH(s->children, s->n_children, s->cap_children);
	if (!slot) {
		path_element_clear(&copy);
		fieldset_free(set);
		return KORCH_ENOMEM;
	}
	slot->pe = copy;
	slot->set = set;
	return 0;
}

static int
insert_member(struct fieldset *s, const struct path_element *pe)
{
	bool found;
	size_t at = member_position(s, pe, &found);
	if (found)
		return 0;
	if (append_member(s, pe) < 0)
		return KORCH_ENOMEM;
	struct path_element last = s->members[s->n_members - 1];
	memmove(&s->members[at + 1], &s->members[at], (s->n_members - 1 - at) * sizeof(last));
	s->members[at] = last;
	return 0;
}

int
fieldset_insert(struct fieldset *s, const struct path_element *path, size_t n)
{
	if (n == 0)
		return 0;
	if (n == 1)
		return insert_member(s, &path[0]);
	bool found;
	size_t at = child_position(s, &path[0], &found);
	if (found)
		return fieldset_insert(s->children[at].set, path + 1, n - 1);
	struct fieldset *sub = fieldset_new();
	if (!sub || fieldset_insert(sub, path + 1, n - 1) < 0) {
		fieldset_free(sub);
		return KORCH_ENOMEM;
	}
	if (append_child(s, &path[0], sub) < 0)
		return KORCH_ENOMEM;
	struct set_node last = s->children[s->n_children - 1];
	memmove(&s->children[at + 1], &s->children[at], (s->n_children - 1 - at) * sizeof(last));
	s->children[at] = last;
	return 0;
}

bool
fieldset_has(const struct fieldset *s, const struct path_element *path, size_t n)
{
	for (; s && n > 1; path++, n--)
		s = fieldset_child(s, path);
	return s && n == 1 && has_member(s, path);
}

bool
fieldset_empty(const struct fieldset *s)
{
	return !s || (s->n_members == 0 && s->n_children == 0);
}

size_t
fieldset_size(const struct fieldset *s)
{
	size_t n = s->n_members;
	for (size_t i = 0; i < s->n_children; i++)
		n += fieldset_size(s->children[i].set);
	return n;
}

bool
fieldset_equal(const struct fieldset *a, const struct fieldset *b)
{
	if (a->n_members != b->n_members || a->n_children != b->n_children)
		return false;
	for (size_t i = 0; i < a->n_members; i++)
		if (path_element_compare(&a->members[i], &b->members[i]) != 0)
			return false;
	for (size_t i = 0; i < a->n_children; i++)
		if (path_element_compare(&a->children[i].pe, &b->children[i].pe) != 0 ||
		    !fieldset_equal(a->children[i].set, b->children[i].set))
			return false;
	return true;
}

struct fieldset *
fieldset_copy(const struct fieldset *s)
{
	struct fieldset *r = NULL;
	struct fieldset empty = { 0 };
	return fieldset_union(s, &empty, &r) < 0 ? NULL : r;
}

/* ---- set algebra ----------------------------------------------------------------------- */

enum set_op {
	OP_UNION,
	OP_INTERSECTION,
	OP_DIFFERENCE,
	OP_RECURSIVE_DIFFERENCE,
};

static int set_combine(const struct fieldset *a, const struct fieldset *b, enum set_op op,
		       struct fieldset **ret);

/* Merges two sorted member lists by op. */
static int
combine_members(const struct fieldset *a, const struct fieldset *b, enum set_op op,
		struct fieldset *out)
{
	size_t i = 0, j = 0;
	while (i < a->n_members || j < b->n_members) {
		int c = i == a->n_members   ? 1
			: j == b->n_members ? -1
					    : path_element_compare(&a->members[i], &b->members[j]);
		const struct path_element *take = NULL;
		if (c < 0) {
			if (op != OP_INTERSECTION)
				take = &a->members[i];
			i++;
		} else if (c > 0) {
			if (op == OP_UNION)
				take = &b->members[j];
			j++;
		} else {
			if (op == OP_UNION || op == OP_INTERSECTION)
				take = &a->members[i];
			i++;
			j++;
		}
		if (take && append_member(out, take) < 0)
			return KORCH_ENOMEM;
	}
	return 0;
}

/* Keeps the node when its set is not empty (sets never hold empty children). */
static int
keep_child(struct fieldset *out, const struct path_element *pe, struct fieldset *set)
{
	if (fieldset_empty(set)) {
		fieldset_free(set);
		return 0;
	}
	return append_child(out, pe, set);
}

static int
combine_children(const struct fieldset *a, const struct fieldset *b, enum set_op op,
		 struct fieldset *out)
{
	static const struct fieldset empty = { 0 };
	size_t i = 0, j = 0;
	while (i < a->n_children || j < b->n_children) {
		int c = i == a->n_children ? 1
			: j == b->n_children
				? -1
				: path_element_compare(&a->children[i].pe, &b->children[j].pe);
		const struct path_element *pe = c <= 0 ? &a->children[i].pe : &b->children[j].pe;
		const struct fieldset *sa = c <= 0 ? a->children[i].set : NULL;
		const struct fieldset *sb = c >= 0 ? b->children[j].set : NULL;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		struct fieldset *sub = NULL;
		switch (op) {
		case OP_UNION:
			if (set_combine(sa ? sa : &empty, sb ? sb : &empty, op, &sub) < 0)
				return KORCH_ENOMEM;
			break;
		case OP_INTERSECTION:
			if (!sa || !sb)
				continue;
			if (set_combine(sa, sb, op, &sub) < 0)
				return KORCH_ENOMEM;
			break;
		case OP_DIFFERENCE:
		case OP_RECURSIVE_DIFFERENCE:
			if (!sa)
				continue;
			/* below a member of b, everything goes */
			if (op == OP_RECURSIVE_DIFFERENCE && has_member(b, pe))
				continue;
			if (set_combine(sa, sb ? sb : &empty, op, &sub) < 0)
				return KORCH_ENOMEM;
			break;
		}
		if (keep_child(out, pe, sub) < 0)
			return KORCH_ENOMEM;
	}
	return 0;
}

static int
set_combine(const struct fieldset *a, const struct fieldset *b, enum set_op op,
	    struct fieldset **ret)
{
	_cleanup_fieldset_ struct fieldset *out = fieldset_new();
	if (!out || combine_members(a, b, op, out) < 0 || combine_children(a, b, op, out) < 0)
		return KORCH_ENOMEM;
	*ret = steal_pointer(&out);
	return 0;
}

int
fieldset_union(const struct fieldset *a, const struct fieldset *b, struct fieldset **ret)
{
	return set_combine(a, b, OP_UNION, ret);
}

int
fieldset_intersection(const struct fieldset *a, const struct fieldset *b, struct fieldset **ret)
{
	return set_combine(a, b, OP_INTERSECTION, ret);
}

int
fieldset_difference(const struct fieldset *a, const struct fieldset *b, struct fieldset **ret)
{
	return set_combine(a, b, OP_DIFFERENCE, ret);
}

int
fieldset_recursive_difference(const struct fieldset *a, const struct fieldset *b,
			      struct fieldset **ret)
{
	return set_combine(a, b, OP_RECURSIVE_DIFFERENCE, ret);
}

int
fieldset_leaves(const struct fieldset *a, struct fieldset **ret)
{
	_cleanup_fieldset_ struct fieldset *out = fieldset_new();
	if (!out)
		return KORCH_ENOMEM;
	for (size_t i = 0; i < a->n_members; i++) {
		bool below;
		child_position(a, &a->members[i], &below);
		if (!below && append_member(out, &a->members[i]) < 0)
			return KORCH_ENOMEM;
	}
	for (size_t i = 0; i < a->n_children; i++) {
		struct fieldset *sub = NULL;
		if (fieldset_leaves(a->children[i].set, &sub) < 0 ||
		    keep_child(out, &a->children[i].pe, sub) < 0)
			return KORCH_ENOMEM;
	}
	*ret = steal_pointer(&out);
	return 0;
}

int
fieldset_ensure_named_fields(const struct fieldset *s, const struct schema_type *type,
			     struct fieldset **ret)
{
	_cleanup_fieldset_ struct fieldset *out = fieldset_new();
	if (!out)
		return KORCH_ENOMEM;
	for (size_t i = 0; i < s->n_members; i++)
		if (append_member(out, &s->members[i]) < 0)
			return KORCH_ENOMEM;
	for (size_t i = 0; i < s->n_children; i++) {
		const struct path_element *pe = &s->children[i].pe;
		if (pe->type == PATH_FIELD && typed_is_declared_field(type, pe->field) &&
		    insert_member(out, pe) < 0)
			return KORCH_ENOMEM;
		const struct schema_type *sub_type = NULL;
		if (pe->type == PATH_FIELD)
			sub_type = typed_child(type, pe->field);
		else if (pe->type == PATH_KEY && type && type->kind == SCHEMA_ARRAY)
			sub_type = type->elem;
		struct fieldset *sub = NULL;
		if (fieldset_ensure_named_fields(s->children[i].set, sub_type, &sub) < 0 ||
		    append_child(out, pe, sub) < 0) /* children stay in s's order */
			return KORCH_ENOMEM;
	}
	*ret = steal_pointer(&out);
	return 0;
}

static int
iterate_prefix(const struct fieldset *s, struct path_stack *path, fieldset_visit_fn fn,
	       void *userdata)
{
	int r;
	for (size_t i = 0; i < s->n_members; i++) {
		if ((r = path_stack_push(path, &s->members[i])) < 0)
			return r;
		r = fn(path->elems, path->n, userdata);
		path_stack_pop(path);
		if (r)
			return r;
	}
	for (size_t i = 0; i < s->n_children; i++) {
		if ((r = path_stack_push(path, &s->children[i].pe)) < 0)
			return r;
		r = iterate_prefix(s->children[i].set, path, fn, userdata);
		path_stack_pop(path);
		if (r)
			return r;
	}
	return 0;
}

int
fieldset_iterate(const struct fieldset *s, fieldset_visit_fn fn, void *userdata)
{
	struct path_stack path = PATH_STACK_INIT;
	int r = iterate_prefix(s, &path, fn, userdata);
	path_stack_free(&path);
	return r;
}

static int
fieldset_add_child(struct fieldset *s, const struct path_element *pe, struct fieldset *sub)
{
	bool found;
	size_t at = child_position(s, pe, &found);
	if (found) {
		struct fieldset *merged = NULL;
		int r = fieldset_union(s->children[at].set, sub, &merged);
		fieldset_free(sub);
		if (r < 0)
			return r;
		fieldset_free(s->children[at].set);
		s->children[at].set = merged;
		return 0;
	}
	if (fieldset_empty(sub)) {
		fieldset_free(sub);
		return 0;
	}
	if (append_child(s, pe, sub) < 0)
		return KORCH_ENOMEM;
	struct set_node last = s->children[s->n_children - 1];
	memmove(&s->children[at + 1], &s->children[at], (s->n_children - 1 - at) * sizeof(last));
	s->children[at] = last;
	return 0;
}

static int
fieldset_add_member(struct fieldset *s, const struct path_element *pe)
{
	return insert_member(s, pe);
}

/* What a FieldsV1 node holds instead of an object, for messages. */
static const char *
json_shape_word(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "map";
	case JSON_ARRAY: return "list";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

/* ---- FieldsV1 ---------------------------------------------------------------------------- */

int
path_element_to_key(const struct path_element *pe, struct strbuf *out)
{
	switch (pe->type) {
	case PATH_FIELD:
		strbuf_puts(out, "f:");
		strbuf_puts(out, pe->field);
		break;
	case PATH_KEY: {
		strbuf_puts(out, "k:{");
		const char *k;
		json_t *v;
		bool first = true;
		json_object_foreach (pe->value, k, v) {
			if (!first)
				strbuf_putc(out, ',');
			first = false;
			strbuf_put_go_json_string(out, k, strlen(k));
			strbuf_putc(out, ':');
			strbuf_put_go_json(out, v);
		}
		strbuf_putc(out, '}');
		break;
	}
	case PATH_VALUE:
		strbuf_puts(out, "v:");
		strbuf_put_go_json(out, pe->value);
		break;
	case PATH_INDEX: strbuf_printf(out, "i:%" PRId64, pe->index); break;
	}
	return out->oom ? KORCH_ENOMEM : 0;
}

/* Adds key: {} (a member) or key: {...} (a child, with "." when it is a member too) to out. */
static int v1_emit(const struct fieldset *s, bool include_self, json_t *out);

static int
v1_emit_one(const struct path_element *pe, const struct fieldset *sub, bool member, json_t *out)
{
	_cleanup_strbuf_ struct strbuf key = STRBUF_INIT;
	_cleanup_json_ json_t *value = json_object();
	if (!value || path_element_to_key(pe, &key) < 0)
		return KORCH_ENOMEM;
	if (sub && v1_emit(sub, member, value) < 0)
		return KORCH_ENOMEM;
	if (json_object_set(out, strbuf_str(&key), value) < 0)
		return KORCH_ENOMEM;
	return 0;
}

static int
v1_emit(const struct fieldset *s, bool include_self, json_t *out)
{
	if (include_self && !fieldset_empty(s) && json_object_set_new(out, ".", json_object()) < 0)
		return KORCH_ENOMEM;
	size_t i = 0, j = 0;
	while (i < s->n_members || j < s->n_children) {
		int c = i == s->n_members ? 1
			: j == s->n_children
				? -1
				: path_element_compare(&s->members[i], &s->children[j].pe);
		int r;
		if (c < 0)
			r = v1_emit_one(&s->members[i++], NULL, true, out);
		else if (c > 0)
			r = v1_emit_one(&s->children[j].pe, s->children[j].set, false, out), j++;
		else
			r = v1_emit_one(&s->children[j].pe, s->children[j].set, true, out), i++,
			j++;
		if (r < 0)
			return r;
	}
	return 0;
}

int
fieldset_to_fields_v1(const struct fieldset *s, json_t **ret, korch_error **err)
{
	_cleanup_json_ json_t *out = json_object();
	if (!out || v1_emit(s, false, out) < 0)
		return error_oom(err);
	*ret = steal_pointer(&out);
	return 0;
}

/* "fieldsV1: .spec.containers: MESSAGE" (no path at the root); returns KORCH_EINVALID. */
static int _printf_(3, 4)
	v1_error(korch_error **err, const struct path_stack *path, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, "fieldsV1: ");
	if (path->n) {
		path_to_string(path->elems, path->n, &sb);
		strbuf_puts(&sb, ": ");
	}
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(&sb, fmt, ap);
	va_end(ap);
	if (sb.oom)
		return error_oom(err);
	return error_set(err, KORCH_EINVALID, "%s", strbuf_str(&sb));
}

/* The key fields of a k: element in name order. */
static json_t *
sorted_key(const json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **names = malloc((n ? n : 1) * sizeof(*names));
	json_t *out = json_object();
	if (!names || !out)
		goto fail;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)obj, k, v)
		names[i++] = k;
	qsort(names, n, sizeof(*names), key_name_cmp);
	for (i = 0; i < n; i++)
		if (json_object_set(out, names[i], json_object_get(obj, names[i])) < 0)
			goto fail;
	free(names);
	return out;
fail:
	free(names);
	json_decref(out);
	return NULL;
}

/*
 * Parses one FieldsV1 key. *ret_known is false for a type letter this version does not know
 * (skipped, as Kubernetes skips them).
 */
/* "fieldsV1: PATH: bad path element "KEY": WHY"; returns KORCH_EINVALID. */
static int
bad_element(korch_error **err, const struct path_stack *path, const char *key, const char *why)
{
	_cleanup_free_ char *quoted = go_quote(key);
	if (!quoted)
		return error_oom(err);
	return v1_error(err, path, "bad path element %s: %s", quoted, why);
}

static int
v1_parse_element(const char *key, const struct path_stack *path, struct path_element *ret,
		 bool *ret_known, korch_error **err)
{
	_cleanup_free_ char *quoted = go_quote(key);
	if (!quoted)
		return error_oom(err);
	if (strlen(key) < 2)
		return v1_error(err, path, "bad path element %s: shorter than 2 characters",
				quoted);
	if (key[1] != ':')
		return v1_error(err, path, "bad path element %s: no colon after the type letter",
				quoted);
	const char *rest = key + 2;
	*ret_known = true;
	json_error_t jerr;
	switch (key[0]) {
	case 'f': {
		char *name = strdup(rest);
		if (!name)
			return error_oom(err);
		*ret = (struct path_element){ .type = PATH_FIELD, .field = name };
		return 0;
	}
	case 'k': {
		_cleanup_json_ json_t *obj = json_loads(rest, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(obj) || json_object_size(obj) == 0)
			return v1_error(
				err, path,
				"bad path element %s: the key is not a JSON object of at least "
				"one field",
				quoted);
		json_t *sorted = sorted_key(obj);
		if (!sorted)
			return error_oom(err);
		*ret = (struct path_element){ .type = PATH_KEY, .value = sorted };
		return 0;
	}
	case 'v': {
		json_t *v = json_loads(rest, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
		if (!v)
			return bad_element(err, path, key, "the value is not one JSON value");
		*ret = (struct path_element){ .type = PATH_VALUE, .value = v };
		return 0;
	}
	case 'i': {
		int64_t index;
		if (parse_int64(rest, &index) < 0)
			return v1_error(err, path,
					"bad path element %s: the index is not an integer", quoted);
		*ret = (struct path_element){ .type = PATH_INDEX, .index = index };
		return 0;
	}
	default: *ret_known = false; return 0;
	}
}

/*
 * Reads the FieldsV1 object v (what is below the path read so far): *ret_children gets what is
 * below (NULL when nothing), *ret_member whether the path itself is owned: it is when "." says
 * so, and when nothing is below it ({}), as structured-merge-diff reads it.
 */
static int
v1_read(const json_t *v, struct path_stack *path, struct fieldset **ret_children, bool *ret_member,
	korch_error **err)
{
	if (!json_is_object(v) && !json_is_null(v))
		return v1_error(err, path, "expected an object, got %s", json_shape_word(v));
	_cleanup_fieldset_ struct fieldset *children = NULL;
	bool member = false;
	const char *k;
	json_t *sub;
	json_object_foreach ((json_t *)v, k, sub) {
		if (streq(k, ".")) {
			member = true;
			continue;
		}
		struct path_element pe = { 0 };
		bool known = false;
		int r = v1_parse_element(k, path, &pe, &known, err);
		if (r < 0)
			return r;
		if (!known)
			continue;
		struct fieldset *grandchildren = NULL;
		bool child_member = false;
		if (path_stack_push(path, &pe) < 0)
			r = error_oom(err);
		else {
			r = v1_read(sub, path, &grandchildren, &child_member, err);
			path_stack_pop(path);
		}
		if (r == 0 && (child_member || grandchildren) && !children &&
		    !(children = fieldset_new()))
			r = error_oom(err);
		if (r == 0 && child_member && fieldset_add_member(children, &pe) < 0)
			r = error_oom(err);
		if (r == 0 && grandchildren) {
			r = fieldset_add_child(children, &pe, grandchildren) < 0 ? error_oom(err)
										 : 0;
			grandchildren = NULL;
		}
		fieldset_free(grandchildren);
		path_element_clear(&pe);
		if (r < 0)
			return r;
	}
	*ret_member = member || !children;
	*ret_children = steal_pointer(&children);
	return 0;
}

int
fieldset_from_fields_v1(const json_t *fields_v1, struct fieldset **ret, korch_error **err)
{
	if (!fields_v1)
		return error_set(err, KORCH_EINVALID, "fieldsV1: no value");
	struct path_stack path = PATH_STACK_INIT;
	struct fieldset *children = NULL;
	bool member;
	int r = v1_read(fields_v1, &path, &children, &member, err);
	path_stack_free(&path);
	if (r < 0)
		return r;
	if (!children && !(children = fieldset_new()))
		return error_oom(err);
	*ret = children;
	return 0;
}
