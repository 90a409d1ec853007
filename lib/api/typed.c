/*
 * typed.c - values walked under the field schema as structured-merge-diff's typed package walks
 * them: list item keys, validation, ToFieldSet, Merge, Compare and RemoveItems.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "api/typed.h"
#include "base/error.h"
#include "base/json.h"
#include "base/quote.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"

/* ---- the schema's view of values ------------------------------------------------------- */

enum typed_shape
typed_shape_of(const struct schema_type *t)
{
	if (!t)
		return TYPED_LEAF;
	switch (t->kind) {
	case SCHEMA_OBJECT:
	case SCHEMA_MAP: return t->map_atomic ? TYPED_LEAF : TYPED_MAP;
	case SCHEMA_ARRAY: return t->list_type == SCHEMA_LIST_ATOMIC ? TYPED_LEAF : TYPED_LIST;
	default: return TYPED_LEAF;
	}
}

const struct schema_type *
typed_child(const struct schema_type *t, const char *k)
{
	if (!t)
		return NULL;
	if (t->kind == SCHEMA_MAP)
		return t->elem;
	const struct schema_field *f = t->kind == SCHEMA_OBJECT ? schema_field(t, k) : NULL;
	return f ? f->type : NULL;
}

bool
typed_is_declared_field(const struct schema_type *t, const char *k)
{
	return t && t->kind == SCHEMA_OBJECT && schema_field(t, k);
}

/* Whether v has the JSON shape that typed_shape_of(t) walks into (an object, an array). */
static bool
shape_fits(const json_t *v, enum typed_shape shape)
{
	return shape == TYPED_MAP    ? json_is_object(v)
	       : shape == TYPED_LIST ? json_is_array(v)
				     : true;
}

/* An absent value, null, or an empty object or array: what SMD merges and compares as a leaf. */
static bool
empty_container(const json_t *v)
{
	return !v || json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0) ||
	       (json_is_array(v) && json_array_size(v) == 0);
}

static int
key_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Defaults of list-map key fields, which structured-merge-diff takes from the schema when an
 * item omits the key. Kubernetes 1.32 declares two (+default="TCP" on ContainerPort.protocol
 * and ServicePort.protocol, in its OpenAPI v3 documents); the generated tables drop defaults,
 * so the ones that take part in keys are listed here.
 */
static const struct {
	const char *type;  /* the item type's OpenAPI name */
	const char *key;   /* the key field */
	const char *value; /* its default */
} key_defaults[] = {
	{ "io.k8s.api.core.v1.ContainerPort", "protocol", "TCP" },
	{ "io.k8s.api.core.v1.ServicePort", "protocol", "TCP" },
};

static const char *
key_default(const struct schema_type *item_type, const char *key)
{
	if (!item_type || !item_type->name)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(key_defaults); i++)
		if (streq(key_defaults[i].type, item_type->name) && streq(key_defaults[i].key, key))
			return key_defaults[i].value;
	return NULL;
}

/*
 * The path element of item in a list of type map or set t: k: with the key fields in name order
 * (with their defaults), or v: with the value. On failure *ret_msg gets SMD's reason
 * (static text, or allocated into msg) and KORCH_EINVALID is returned.
 */
static int
item_element(const json_t *item, const struct schema_type *t, struct path_element *ret,
	     struct strbuf *msg)
{
	if (t->list_type == SCHEMA_LIST_MAP) {
		if (json_is_null(item))
			return strbuf_puts(msg, "associative list with keys may not have a null "
						"element") < 0
				       ? KORCH_ENOMEM
				       : KORCH_EINVALID;
		if (!json_is_object(item))
			return strbuf_puts(msg, "associative list with keys may not have non-map "
						"elements") < 0
				       ? KORCH_ENOMEM
				       : KORCH_EINVALID;
		const char *names[8];
		size_t nk = 0;
		for (const char *const *k = t->list_map_keys; k && *k && nk < ARRAY_SIZE(names);
		     k++)
			names[nk++] = *k;
		qsort(names, nk, sizeof(names[0]), key_name_cmp);
		_cleanup_json_ json_t *key = json_object();
		if (!key)
			return KORCH_ENOMEM;
		for (size_t i = 0; i < nk; i++) {
			json_t *v = json_object_get(item, names[i]);
			if (v) {
				json_incref(v);
			} else {
				const char *def = key_default(t->elem, names[i]);
				if (!def) {
					strbuf_puts(msg,
						    "associative list with keys has an element "
						    "that omits key field ");
					strbuf_put_go_quoted(msg, names[i], strlen(names[i]));
					strbuf_puts(msg, " (and doesn't have default value)");
					return msg->oom ? KORCH_ENOMEM : KORCH_EINVALID;
				}
				v = json_string(def);
			}
			if (json_object_set_new(key, names[i], v) < 0)
				return KORCH_ENOMEM;
		}
		*ret = (struct path_element){ .type = PATH_KEY, .value = steal_pointer(&key) };
		return 0;
	}
	const char *bad = NULL;
	if (json_is_object(item))
		bad = "associative list without keys has an element that's a map type";
	else if (json_is_array(item))
		bad = "not supported: associative list with lists as elements";
	else if (json_is_null(item))
		bad = "associative list without keys has an element that's an explicit null";
	if (bad)
		return strbuf_puts(msg, bad) < 0 ? KORCH_ENOMEM : KORCH_EINVALID;
	*ret = (struct path_element){ .type = PATH_VALUE, .value = json_incref((json_t *)item) };
	return 0;
}

/*
 * The items of an associative list with their path elements, sorted by element (items with equal
 * elements next to each other, in list order), and for each item where its run of equal elements
 * starts and how long it is.
 */
struct items {
	const json_t *list;      /* the list (borrowed) */
	struct path_element *pe; /* n elements, one per item */
	size_t *sorted;          /* item positions sorted by (pe, position) */
	size_t *run;             /* per item: where in sorted its run of equal elements starts */
	size_t *count;           /* per item: the length of that run */
	size_t n;                /* items */
};

#define NO_ITEM SIZE_MAX

static void
items_free(struct items *it)
{
	for (size_t i = 0; it->pe && i < it->n; i++)
		path_element_clear(&it->pe[i]);
	free(it->pe);
	free(it->sorted);
	free(it->run);
	free(it->count);
	*it = (struct items){ 0 };
}

static int
sorted_cmp(const void *a, const void *b, void *userdata)
{
	const struct path_element *pe = userdata;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = path_element_compare(&pe[i], &pe[j]);
	return c ? c : i < j ? -1 : i > j;
}

/* Whether item i has no element (a lenient build met an item without a valid key). */
static bool
item_invalid(const struct items *it, size_t i)
{
	return it->pe[i].type == PATH_INDEX;
}

/* The position of the first item (in list order) with the element of item i. */
static size_t
items_first(const struct items *it, size_t i)
{
	return it->sorted[it->run[i]];
}

/*
 * Builds the items of list (NULL or not an array: none) for type t. On a bad item, returns
 * KORCH_EINVALID with "element I: REASON" in *msg, unless lenient: the item then gets the
 * element i:-1, which no item of an associative list has otherwise (see item_invalid()).
 * Lenient walks are those structured-merge-diff makes ignoring such errors (ToFieldSet and
 * RemoveItems of the intermediate values of a prune, where removal can leave an item null).
 */
static int
items_build(const json_t *list, const struct schema_type *t, bool lenient, struct items *ret,
	    struct strbuf *msg)
{
	struct items it = { .list = list };
	size_t n = json_is_array(list) ? json_array_size(list) : 0;
	it.pe = calloc(n ? n : 1, sizeof(*it.pe));
	it.sorted = calloc(n ? n : 1, sizeof(*it.sorted));
	it.run = calloc(n ? n : 1, sizeof(*it.run));
	it.count = calloc(n ? n : 1, sizeof(*it.count));
	if (!it.pe || !it.sorted || !it.run || !it.count) {
		items_free(&it);
		return KORCH_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int r = item_element(json_array_get(list, i), t, &it.pe[i], msg);
		if (r == KORCH_EINVALID && lenient) {
			strbuf_truncate(msg, 0);
			it.pe[i] = (struct path_element){ .type = PATH_INDEX, .index = -1 };
			r = 0;
		}
		if (r < 0) {
			/* "element I: REASON" */
			_cleanup_strbuf_ struct strbuf full = STRBUF_INIT;
			if (r == KORCH_EINVALID) {
				strbuf_printf(&full, "element %zu: %s", i, strbuf_str(msg));
				strbuf_truncate(msg, 0);
				strbuf_append(msg, full.buf, full.len);
				if (full.oom || msg->oom)
					r = KORCH_ENOMEM;
			}
			it.n = i;
			items_free(&it);
			return r;
		}
		it.n = i + 1;
		it.sorted[i] = i;
	}
	qsort_r(it.sorted, n, sizeof(*it.sorted), sorted_cmp, it.pe);
	for (size_t start = 0, end; start < n; start = end) {
		for (end = start + 1; end < n && path_element_compare(&it.pe[it.sorted[start]],
								      &it.pe[it.sorted[end]]) == 0;
		     end++)
			;
		for (size_t k = start; k < end; k++) {
			it.run[it.sorted[k]] = start;
			it.count[it.sorted[k]] = end - start;
		}
	}
	*ret = it;
	return 0;
}

/*
 * Matches the items of l and r by element (a merge of the sorted orders): l_to_r[i] is the first
 * item of r with the element of item i of l, NO_ITEM when r has none; r_to_l the same the other
 * way. Both arrays are allocated here; KORCH_ENOMEM when that fails.
 */
static int
items_match(const struct items *l, const struct items *r, size_t **ret_l_to_r, size_t **ret_r_to_l)
{
	size_t *l_to_r = malloc((l->n ? l->n : 1) * sizeof(*l_to_r));
	size_t *r_to_l = malloc((r->n ? r->n : 1) * sizeof(*r_to_l));
	if (!l_to_r || !r_to_l) {
		free(l_to_r);
		free(r_to_l);
		return KORCH_ENOMEM;
	}
	for (size_t i = 0; i < l->n; i++)
		l_to_r[i] = NO_ITEM;
	for (size_t j = 0; j < r->n; j++)
		r_to_l[j] = NO_ITEM;
	size_t i = 0, j = 0;
	while (i < l->n && j < r->n) {
		size_t li = l->sorted[i], rj = r->sorted[j];
		int c = path_element_compare(&l->pe[li], &r->pe[rj]);
		if (c < 0) {
			i += l->count[li];
		} else if (c > 0) {
			j += r->count[rj];
		} else {
			for (size_t k = 0; k < l->count[li]; k++)
				l_to_r[l->sorted[i + k]] = rj;
			for (size_t k = 0; k < r->count[rj]; k++)
				r_to_l[r->sorted[j + k]] = li;
			i += l->count[li];
			j += r->count[rj];
		}
	}
	*ret_l_to_r = l_to_r;
	*ret_r_to_l = r_to_l;
	return 0;
}

/* ---- errors with paths ----------------------------------------------------------------- */

/* Validation errors collected as SMD collects them ("PATH: MESSAGE" each). */
struct errlist {
	struct ptrvec msgs; /* char *, one per error */
	bool oom;           /* an error could not be recorded */
};

static void _printf_(4, 5) errlist_add(struct errlist *e, const struct path_element *path, size_t n,
				       const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	path_to_string(path, n, &sb);
	if (n)
		strbuf_puts(&sb, ": ");
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(&sb, fmt, ap);
	va_end(ap);
	char *s = sb.oom ? NULL : strbuf_steal(&sb);
	strbuf_free(&sb);
	if (!s || ptrvec_push(&e->msgs, s) < 0) {
		free(s);
		e->oom = true;
	}
}

/* Turns the collected errors into *err (ValidationErrors.Error()); returns the code. */
static int
errlist_finish(struct errlist *e, korch_error **err)
{
	int r = 0;
	if (e->oom) {
		r = error_oom(err);
	} else if (e->msgs.n == 1) {
		r = error_set(err, KORCH_EINVALID, "%s", (const char *)e->msgs.items[0]);
	} else if (e->msgs.n > 1) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_puts(&sb, "errors:");
		for (size_t i = 0; i < e->msgs.n; i++) {
			strbuf_puts(&sb, "\n  ");
			strbuf_puts(&sb, e->msgs.items[i]);
		}
		r = sb.oom ? error_oom(err) : error_set(err, KORCH_EINVALID, "%s", strbuf_str(&sb));
		strbuf_free(&sb);
	}
	ptrvec_free(&e->msgs, free);
	return r;
}

/* "PATH: MESSAGE" for a single failure outside validation; returns KORCH_EINVALID. */
static int
path_error(korch_error **err, const struct path_stack *path, const struct strbuf *msg)
{
	struct errlist e = { PTRVEC_INIT, false };
	errlist_add(&e, path->elems, path->n, "%s", strbuf_str(msg));
	return errlist_finish(&e, err);
}

/* ---- validation ------------------------------------------------------------------------ */

struct validate_walk {
	struct path_stack path; /* where the walk is */
	bool allow_duplicates;  /* stored objects may repeat a list key */
	struct errlist errors;  /* what was found */
};

static const char *
json_word(const json_t *v)
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

static void validate_value(struct validate_walk *w, const json_t *v, const struct schema_type *t);

/* Descends into one child at pe; false when out of memory (recorded). */
static bool
validate_child(struct validate_walk *w, const struct path_element *pe, const json_t *v,
	       const struct schema_type *t)
{
	if (path_stack_push(&w->path, pe) < 0) {
		w->errors.oom = true;
		return false;
	}
	validate_value(w, v, t);
	path_stack_pop(&w->path);
	return true;
}

static void
validate_map(struct validate_walk *w, const json_t *v, const struct schema_type *t)
{
	const char *k;
	json_t *child;
	json_object_foreach ((json_t *)v, k, child) {
		struct path_element pe = { .type = PATH_FIELD, .field = k };
		const struct schema_type *ct = typed_child(t, k);
		if (!ct) {
			/* as SMD, the first undeclared field ends the walk of this object */
			if (path_stack_push(&w->path, &pe) < 0) {
				w->errors.oom = true;
				return;
			}
			errlist_add(&w->errors, w->path.elems, w->path.n,
				    "field not declared in schema");
			path_stack_pop(&w->path);
			return;
		}
		if (!validate_child(w, &pe, child, ct))
			return;
	}
}

static void
validate_list(struct validate_walk *w, const json_t *v, const struct schema_type *t)
{
	size_t n = json_array_size(v);
	if (typed_shape_of(t) != TYPED_LIST) {
		/* atomic lists are checked item by item too, by position */
		for (size_t i = 0; i < n; i++) {
			struct path_element pe = { .type = PATH_INDEX, .index = (int64_t)i };
			if (!validate_child(w, &pe, json_array_get(v, i), t->elem))
				return;
		}
		return;
	}
	struct items it = { 0 };
	struct strbuf msg = STRBUF_INIT;
	int r = items_build(v, t, false, &it, &msg);
	if (r < 0) {
		if (r == KORCH_ENOMEM || msg.oom)
			w->errors.oom = true;
		else
			errlist_add(&w->errors, w->path.elems, w->path.n, "%s", strbuf_str(&msg));
		strbuf_free(&msg);
		return;
	}
	strbuf_free(&msg);
	for (size_t i = 0; i < n; i++) {
		if (!w->allow_duplicates && items_first(&it, i) != i) {
			struct strbuf key = STRBUF_INIT;
			path_to_string(&it.pe[i], 1, &key);
			if (key.oom)
				w->errors.oom = true;
			else
				errlist_add(&w->errors, w->path.elems, w->path.n,
					    "duplicate entries for key %s", strbuf_str(&key));
			strbuf_free(&key);
		}
		if (!validate_child(w, &it.pe[i], json_array_get(v, i), t->elem))
			break;
	}
	items_free(&it);
}

static void
validate_value(struct validate_walk *w, const json_t *v, const struct schema_type *t)
{
	if (!t || t->kind == SCHEMA_ANY || json_is_null(v))
		return;
	switch (t->kind) {
	case SCHEMA_OBJECT:
	case SCHEMA_MAP:
		if (!json_is_object(v))
			errlist_add(&w->errors, w->path.elems, w->path.n, "expected map, got %s",
				    json_word(v));
		else
			validate_map(w, v, t);
		return;
	case SCHEMA_ARRAY:
		if (!json_is_array(v))
			errlist_add(&w->errors, w->path.elems, w->path.n, "expected list, got %s",
				    json_word(v));
		else
			validate_list(w, v, t);
		return;
	default:
		if (json_is_object(v) || json_is_array(v))
			errlist_add(&w->errors, w->path.elems, w->path.n,
				    "expected a scalar, got %s", json_word(v));
		return;
	}
}

int
typed_validate(const json_t *v, const struct schema_type *root, bool allow_duplicates,
	       korch_error **err)
{
	if (!v || !root)
		return error_set(err, KORCH_EINVALID, "no value or schema to validate");
	struct validate_walk w = {
		.path = PATH_STACK_INIT,
		.allow_duplicates = allow_duplicates,
		.errors = { PTRVEC_INIT, false },
	};
	validate_value(&w, v, root);
	path_stack_free(&w.path);
	return errlist_finish(&w.errors, err);
}

/* ---- ToFieldSet ------------------------------------------------------------------------ */

struct to_set {
	struct path_stack path; /* where the walk is */
	struct fieldset *set;   /* what it found */
	bool lenient;           /* items without a valid key are skipped, not refused */
	korch_error **err;      /* where failures go */
};

static int
to_set_insert(struct to_set *w)
{
	if (fieldset_insert(w->set, w->path.elems, w->path.n) < 0)
		return error_oom(w->err);
	return 0;
}

static int to_set_walk(struct to_set *w, const json_t *v, const struct schema_type *t);

static int
to_set_map(struct to_set *w, const json_t *v, const struct schema_type *t)
{
	const char *k;
	json_t *child;
	json_object_foreach ((json_t *)v, k, child) {
		struct path_element pe = { .type = PATH_FIELD, .field = k };
		if (path_stack_push(&w->path, &pe) < 0)
			return error_oom(w->err);
		int r = to_set_walk(w, child, typed_child(t, k));
		/* a null or empty field is owned itself, and so is every map key */
		if (r == 0 && (json_is_null(child) ||
			       (json_is_object(child) && json_object_size(child) == 0) ||
			       !typed_is_declared_field(t, k)))
			r = to_set_insert(w);
		path_stack_pop(&w->path);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
to_set_list(struct to_set *w, const json_t *v, const struct schema_type *t)
{
	struct items it = { 0 };
	_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
	int r = items_build(v, t, w->lenient, &it, &msg);
	if (r == KORCH_ENOMEM)
		return error_oom(w->err);
	if (r < 0)
		return path_error(w->err, &w->path, &msg);
	for (size_t i = 0; i < it.n && r == 0; i++) {
		if (item_invalid(&it, i))
			continue; /* SMD's ToFieldSet gives it no path anything matches */
		if (path_stack_push(&w->path, &it.pe[i]) < 0) {
			r = error_oom(w->err);
			break;
		}
		/* repeated items are owned as one leaf; the others with what they set */
		if (it.count[i] == 1)
			r = to_set_walk(w, json_array_get(v, i), t->elem);
		if (r == 0)
			r = to_set_insert(w);
		path_stack_pop(&w->path);
	}
	items_free(&it);
	return r;
}

static int
to_set_walk(struct to_set *w, const json_t *v, const struct schema_type *t)
{
	enum typed_shape shape = typed_shape_of(t);
	if (shape == TYPED_LEAF || !shape_fits(v, shape)) {
		/* a null granular map or list sets nothing below it; its parent owns it */
		if (shape != TYPED_LEAF && json_is_null(v))
			return 0;
		return w->path.n ? to_set_insert(w) : 0;
	}
	return shape == TYPED_MAP ? to_set_map(w, v, t) : to_set_list(w, v, t);
}

int
typed_to_fieldset_validated(const json_t *v, const struct schema_type *root, struct fieldset **ret,
			    korch_error **err)
{
	if (!v || !root)
		return error_set(err, KORCH_EINVALID, "no value or schema to take fields from");
	struct to_set w = {
		.path = PATH_STACK_INIT,
		.set = fieldset_new(),
		.lenient = true,
		.err = err,
	};
	if (!w.set)
		return error_oom(err);
	int r = to_set_walk(&w, v, root);
	path_stack_free(&w.path);
	if (r < 0) {
		fieldset_free(w.set);
		return r;
	}
	*ret = w.set;
	return 0;
}

int
typed_to_fieldset(const json_t *v, const struct schema_type *root, struct fieldset **ret,
		  korch_error **err)
{
	if (!v || !root)
		return error_set(err, KORCH_EINVALID, "no value or schema to take fields from");
	int r = typed_validate(v, root, true, err);
	return r < 0 ? r : typed_to_fieldset_validated(v, root, ret, err);
}

/* ---- Merge ----------------------------------------------------------------------------- */

static int merge_value(const json_t *lhs, const json_t *rhs, const struct schema_type *t,
		       json_t **ret);

/* A leaf: rhs's value when rhs has one (null included), lhs's otherwise; copied. */
static int
merge_leaf(const json_t *lhs, const json_t *rhs, json_t **ret)
{
	json_t *v = json_deep_copy(rhs ? rhs : lhs);
	if (!v)
		return KORCH_ENOMEM;
	*ret = v;
	return 0;
}

static int
merge_map(const json_t *lm, const json_t *rm, const struct schema_type *t, json_t **ret)
{
	_cleanup_json_ json_t *out = json_object();
	if (!out)
		return KORCH_ENOMEM;
	const char *k;
	json_t *lv, *rv;
	json_object_foreach ((json_t *)lm, k, lv) {
		json_t *child = NULL;
		int r = merge_value(lv, json_object_get(rm, k), typed_child(t, k), &child);
		if (r < 0)
			return r;
		if (child && json_object_set_new(out, k, child) < 0)
			return KORCH_ENOMEM;
	}
	json_object_foreach ((json_t *)rm, k, rv) {
		if (json_object_get(lm, k))
			continue;
		json_t *child = NULL;
		int r = merge_value(NULL, rv, typed_child(t, k), &child);
		if (r < 0)
			return r;
		if (child && json_object_set_new(out, k, child) < 0)
			return KORCH_ENOMEM;
	}
	*ret = json_object_size(out) ? steal_pointer(&out) : NULL;
	return 0;
}

/* Appends the merge of one item to out. */
static int
merge_item(const json_t *lhs, const json_t *rhs, const struct schema_type *elem, json_t *out)
{
	json_t *child = NULL;
	int r = merge_value(lhs, rhs, elem, &child);
	if (r < 0)
		return r;
	if (child && json_array_append_new(out, child) < 0)
		return KORCH_ENOMEM;
	return 0;
}

/*
 * Item i of lhs as SMD's merge sees it: a null when lhs repeats its element (repeated items are
 * not merged with the applied one, they are replaced); NO_ITEM gives NULL (lhs has none).
 */
static const json_t *
merge_lhs_item(const struct items *l, size_t i)
{
	if (i == NO_ITEM)
		return NULL;
	if (l->count[i] > 1)
		return json_null();
	return json_array_get(l->list, i);
}

/*
 * The item order of an associative list after the merge (SMD's mergingWalker.visitListItems):
 * rhs's items in rhs's order, lhs's other items kept in place, and lhs's items that rhs also
 * has moved to where rhs puts them, with the items rhs places before them. rhs repeats no
 * element (typed_validate() refuses that in an applied configuration).
 */
static int
merge_list(const json_t *ll, const json_t *rl, const struct schema_type *t, json_t **ret)
{
	struct items l = { 0 }, r = { 0 };
	_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
	_cleanup_json_ json_t *out = json_array();
	_cleanup_free_ bool *merged = NULL;
	_cleanup_free_ size_t *shared = NULL, *l_to_r = NULL, *r_to_l = NULL;
	int res = KORCH_ENOMEM;
	if (!out)
		goto done;
	if ((res = items_build(rl, t, false, &r, &msg)) < 0 ||
	    (res = items_build(ll, t, false, &l, &msg)) < 0)
		goto done;
	res = KORCH_ENOMEM;
	merged = calloc(r.n ? r.n : 1, sizeof(*merged));
	shared = calloc(r.n ? r.n : 1, sizeof(*shared));
	if (!merged || !shared || items_match(&l, &r, &l_to_r, &r_to_l) < 0)
		goto done;
	/* the items of rhs that lhs has too, in rhs's order */
	size_t n_shared = 0, next = 0;
	for (size_t i = 0; i < r.n; i++)
		if (r_to_l[i] != NO_ITEM)
			shared[n_shared++] = i;
	size_t next_shared = n_shared ? shared[next++] : NO_ITEM;
	size_t li = 0, ri = 0;
	while (li < l.n || ri < r.n) {
		if (li < l.n && ri < r.n) {
			if (l_to_r[li] == ri) {
				merged[ri] = true;
				if ((res = merge_item(merge_lhs_item(&l, li),
						      json_array_get(rl, ri), t->elem, out)) < 0)
					goto done;
				li++, ri++;
				next_shared = next < n_shared ? shared[next++] : NO_ITEM;
				continue;
			}
			if (l_to_r[li] != NO_ITEM && next_shared != NO_ITEM &&
			    l_to_r[li] != next_shared) {
				/* shared, but not the one wanted in this round */
				li++;
				continue;
			}
		}
		if (li < l.n) {
			if (l_to_r[li] == NO_ITEM) {
				if ((res = merge_item(json_array_get(ll, li), NULL, t->elem, out)) <
				    0)
					goto done;
				li++;
				continue;
			}
			if (merged[l_to_r[li]])
				li++;
		}
		if (ri < r.n) {
			merged[ri] = true;
			if ((res = merge_item(merge_lhs_item(&l, r_to_l[ri]),
					      json_array_get(rl, ri), t->elem, out)) < 0)
				goto done;
			if (next_shared == ri)
				next_shared = next < n_shared ? shared[next++] : NO_ITEM;
			ri++;
		}
	}
	*ret = json_array_size(out) ? steal_pointer(&out) : NULL;
	res = 0;
done:
	items_free(&l);
	items_free(&r);
	return res;
}

static int
merge_value(const json_t *lhs, const json_t *rhs, const struct schema_type *t, json_t **ret)
{
	enum typed_shape shape = typed_shape_of(t);
	/* values of another JSON shape than the schema's cannot pass validation; leaves here */
	bool fits = (!lhs || json_is_null(lhs) || shape_fits(lhs, shape)) &&
		    (!rhs || json_is_null(rhs) || shape_fits(rhs, shape));
	if (shape == TYPED_LEAF || !fits || (empty_container(lhs) && empty_container(rhs)))
		return merge_leaf(lhs, rhs, ret);
	const json_t *l = json_is_null(lhs) ? NULL : lhs, *r = json_is_null(rhs) ? NULL : rhs;
	return shape == TYPED_MAP ? merge_map(l, r, t, ret) : merge_list(l, r, t, ret);
}

int
typed_merge(const json_t *lhs, const json_t *rhs, const struct schema_type *root, json_t **ret,
	    korch_error **err)
{
	if (!lhs || !rhs || !root)
		return error_set(err, KORCH_EINVALID, "no values or schema to merge");
	json_t *out = NULL;
	int r = merge_value(lhs, rhs, root, &out);
	if (r == KORCH_EINVALID)
		return error_set(err, r, "merge: an associative list item has no valid key");
	if (r < 0)
		return error_oom(err);
	if (!out && !(out = json_null()))
		return error_oom(err);
	*ret = out;
	return 0;
}

/* ---- Compare --------------------------------------------------------------------------- */

struct compare_walk {
	struct path_stack path;     /* where the walk is */
	struct typed_comparison *c; /* what it found */
};

/* Adds the current path to set (the root path adds nothing, as in SMD). */
static int
compare_note(struct compare_walk *w, struct fieldset *set)
{
	return fieldset_insert(set, w->path.elems, w->path.n) < 0 ? KORCH_ENOMEM : 0;
}

static int compare_value(struct compare_walk *w, const json_t *lhs, const json_t *rhs,
			 const struct schema_type *t);

static int
compare_child(struct compare_walk *w, const struct path_element *pe, const json_t *lhs,
	      const json_t *rhs, const struct schema_type *t)
{
	if (path_stack_push(&w->path, pe) < 0)
		return KORCH_ENOMEM;
	int r = compare_value(w, lhs, rhs, t);
	path_stack_pop(&w->path);
	return r;
}

static int
compare_map(struct compare_walk *w, const json_t *lm, const json_t *rm, const struct schema_type *t)
{
	const char *k;
	json_t *v;
	int r;
	json_object_foreach ((json_t *)lm, k, v) {
		struct path_element pe = { .type = PATH_FIELD, .field = k };
		if ((r = compare_child(w, &pe, v, json_object_get(rm, k), typed_child(t, k))) < 0)
			return r;
	}
	json_object_foreach ((json_t *)rm, k, v) {
		if (json_object_get(lm, k))
			continue;
		struct path_element pe = { .type = PATH_FIELD, .field = k };
		if ((r = compare_child(w, &pe, NULL, v, typed_child(t, k))) < 0)
			return r;
	}
	return 0;
}

/* Whether the items of l and r at sorted positions [la, la+n) and [ra, ra+n) are equal. */
static bool
items_equal(const struct items *l, size_t la, const struct items *r, size_t ra, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!value_equal(json_array_get(l->list, l->sorted[la + i]),
				 json_array_get(r->list, r->sorted[ra + i])))
			return false;
	return true;
}

/*
 * One element of an associative list, held by ln items of l from sorted position la and rn
 * items of r from ra: the item compared, or SMD's rules for repeated keys.
 */
static int
compare_element(struct compare_walk *w, const struct path_element *pe, const struct items *l,
		size_t la, size_t ln, const struct items *r, size_t ra, size_t rn,
		const struct schema_type *t)
{
	const json_t *lv = ln ? json_array_get(l->list, l->sorted[la]) : NULL;
	const json_t *rv = rn ? json_array_get(r->list, r->sorted[ra]) : NULL;
	int res = 0;
	if (ln <= 1 && rn <= 1)
		return compare_child(w, pe, lv, rv, t->elem);
	if (ln >= 2 && rn >= 2) {
		/* repeated before and after: compared as one atomic value */
		if (ln == rn && items_equal(l, la, r, ra, ln))
			return 0;
		if (path_stack_push(&w->path, pe) < 0)
			return KORCH_ENOMEM;
		res = compare_note(w, w->c->modified);
	} else if (ln >= 2) {
		/* no longer repeated: the new item is added, the repeated marker removed */
		if (rn && (res = compare_child(w, pe, NULL, rv, t->elem)) < 0)
			return res;
		if (path_stack_push(&w->path, pe) < 0)
			return KORCH_ENOMEM;
		res = compare_note(w, w->c->removed);
	} else {
		/* newly repeated: the old item is removed, the repeated marker added */
		if (ln && (res = compare_child(w, pe, lv, NULL, t->elem)) < 0)
			return res;
		if (path_stack_push(&w->path, pe) < 0)
			return KORCH_ENOMEM;
		res = compare_note(w, w->c->added);
	}
	path_stack_pop(&w->path);
	return res;
}

/* Every element of either list once, walking both sorted orders together. */
static int
compare_list(struct compare_walk *w, const json_t *ll, const json_t *rl,
	     const struct schema_type *t)
{
	struct items l = { 0 }, r = { 0 };
	_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
	int res = items_build(ll, t, false, &l, &msg);
	if (res == 0)
		res = items_build(rl, t, false, &r, &msg);
	size_t i = 0, j = 0;
	while (res == 0 && (i < l.n || j < r.n)) {
		size_t li = i < l.n ? l.sorted[i] : NO_ITEM, rj = j < r.n ? r.sorted[j] : NO_ITEM;
		int c = li == NO_ITEM   ? 1
			: rj == NO_ITEM ? -1
					: path_element_compare(&l.pe[li], &r.pe[rj]);
		size_t ln = c <= 0 ? l.count[li] : 0, rn = c >= 0 ? r.count[rj] : 0;
		res = compare_element(w, c <= 0 ? &l.pe[li] : &r.pe[rj], &l, i, ln, &r, j, rn, t);
		i += ln;
		j += rn;
	}
	items_free(&l);
	items_free(&r);
	return res;
}

static int
compare_value(struct compare_walk *w, const json_t *lhs, const json_t *rhs,
	      const struct schema_type *t)
{
	enum typed_shape shape = typed_shape_of(t);
	bool fits = (!lhs || json_is_null(lhs) || shape_fits(lhs, shape)) &&
		    (!rhs || json_is_null(rhs) || shape_fits(rhs, shape));
	if (shape == TYPED_LEAF || !fits || (empty_container(lhs) && empty_container(rhs))) {
		if (!lhs)
			return compare_note(w, w->c->added);
		if (!rhs)
			return compare_note(w, w->c->removed);
		return value_equal(lhs, rhs) ? 0 : compare_note(w, w->c->modified);
	}
	const json_t *l = json_is_null(lhs) ? NULL : lhs, *r = json_is_null(rhs) ? NULL : rhs;
	int res = shape == TYPED_MAP ? compare_map(w, l, r, t) : compare_list(w, l, r, t);
	if (res < 0)
		return res;
	if (!lhs)
		return compare_note(w, w->c->added);
	if (!rhs)
		return compare_note(w, w->c->removed);
	return 0;
}

void
typed_comparison_clear(struct typed_comparison *c)
{
	fieldset_free(c->removed);
	fieldset_free(c->modified);
	fieldset_free(c->added);
	*c = (struct typed_comparison){ 0 };
}

int
typed_compare(const json_t *lhs, const json_t *rhs, const struct schema_type *root,
	      struct typed_comparison *ret, korch_error **err)
{
	if (!lhs || !rhs || !root)
		return error_set(err, KORCH_EINVALID, "no values or schema to compare");
	struct typed_comparison c = {
		.removed = fieldset_new(),
		.modified = fieldset_new(),
		.added = fieldset_new(),
	};
	struct compare_walk w = { .path = PATH_STACK_INIT, .c = &c };
	int r = c.removed && c.modified && c.added ? compare_value(&w, lhs, rhs, root)
						   : KORCH_ENOMEM;
	path_stack_free(&w.path);
	if (r < 0) {
		typed_comparison_clear(&c);
		return r == KORCH_ENOMEM ? error_oom(err)
					 : error_set(err, r,
						     "compare: an associative list item has "
						     "no valid key");
	}
	*ret = c;
	return 0;
}

/* ---- RemoveItems ----------------------------------------------------------------------- */

static int remove_value(const json_t *v, const struct fieldset *items, const struct schema_type *t,
			json_t **ret);

/* Stores what remains of v below pe (items: what to remove there, may be NULL) in *ret. */
static int
remove_below(const json_t *v, const struct fieldset *items, const struct path_element *pe,
	     const struct schema_type *t, json_t **ret)
{
	const struct fieldset *sub = fieldset_child(items, pe);
	if (fieldset_empty(sub)) {
		*ret = json_deep_copy(v);
		return *ret ? 0 : KORCH_ENOMEM;
	}
	json_t *out = NULL;
	int r = remove_value(v, sub, t, &out);
	if (r < 0)
		return r;
	*ret = out ? out : json_null();
	return 0;
}

static int
remove_map(const json_t *v, const struct fieldset *items, const struct schema_type *t, json_t **ret)
{
	_cleanup_json_ json_t *out = json_object();
	if (!out)
		return KORCH_ENOMEM;
	const char *k;
	json_t *child;
	json_object_foreach ((json_t *)v, k, child) {
		struct path_element pe = { .type = PATH_FIELD, .field = k };
		if (fieldset_has(items, &pe, 1))
			continue;
		json_t *kept = NULL;
		int r = remove_below(child, items, &pe, typed_child(t, k), &kept);
		if (r < 0)
			return r;
		if (json_object_set_new(out, k, kept) < 0)
			return KORCH_ENOMEM;
	}
	*ret = json_object_size(out) ? steal_pointer(&out) : NULL;
	return 0;
}

static int
remove_list(const json_t *v, const struct fieldset *items, const struct schema_type *t,
	    json_t **ret)
{
	struct items it = { 0 };
	_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
	_cleanup_json_ json_t *out = json_array();
	int r = out ? items_build(v, t, true, &it, &msg) : KORCH_ENOMEM;
	for (size_t i = 0; r == 0 && i < it.n; i++) {
		if (!item_invalid(&it, i) && fieldset_has(items, &it.pe[i], 1))
			continue;
		json_t *kept = NULL;
		r = remove_below(json_array_get(v, i), items, &it.pe[i], t->elem, &kept);
		if (r == 0 && json_array_append_new(out, kept) < 0)
			r = KORCH_ENOMEM;
	}
	items_free(&it);
	if (r < 0)
		return r;
	*ret = json_array_size(out) ? steal_pointer(&out) : NULL;
	return 0;
}

/* What remains of v without items (non-empty); NULL in *ret means nothing (null). */
static int
remove_value(const json_t *v, const struct fieldset *items, const struct schema_type *t,
	     json_t **ret)
{
	enum typed_shape shape = typed_shape_of(t);
	if (json_is_object(v) || json_is_array(v)) {
		/* atomic containers and emptied ones go whole; so do those of the wrong shape */
		if (shape == TYPED_LEAF || !shape_fits(v, shape) || empty_container(v)) {
			*ret = NULL;
			return 0;
		}
		return shape == TYPED_MAP ? remove_map(v, items, t, ret)
					  : remove_list(v, items, t, ret);
	}
	/* a scalar (or null) is kept: nothing is below it */
	*ret = json_deep_copy(v);
	return *ret ? 0 : KORCH_ENOMEM;
}

int
typed_remove_items(const json_t *v, const struct fieldset *items, const struct schema_type *root,
		   json_t **ret, korch_error **err)
{
	if (!v || !items || !root)
		return error_set(err, KORCH_EINVALID, "no value, fields or schema to remove from");
	json_t *out = NULL;
	int r = fieldset_empty(items) ? ((out = json_deep_copy(v)) ? 0 : KORCH_ENOMEM)
				      : remove_value(v, items, root, &out);
	if (r == KORCH_EINVALID)
		return error_set(err, r, "remove: an associative list item has no valid key");
	if (r < 0)
		return error_oom(err);
	if (!out && !(out = json_null()))
		return error_oom(err);
	*ret = out;
	return 0;
}
