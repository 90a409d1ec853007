/*
 * json-patch.c - JSON patch (RFC 6902) over JSON pointers (RFC 6901), with the error texts of
 * the library Kubernetes applies JSON patches with (gopkg.in/evanphx/json-patch.v4), which the
 * API server returns to clients, and its limits (10000 operations, 3 MiB copied in total).
 *
 * Where that library departs from the RFCs, korch follows the RFCs and reuses the library's
 * wording: array indexes with leading zeros or a '+' are refused, an invalid '~' escape is
 * refused, "replace", "copy" and "test" of a missing object member fail instead of adding a
 * member or passing, "add" and "replace" at the root ("") replace the document, and numbers
 * compare by value in "test". Negative array indexes (-1 is the last element) are accepted, as
 * Kubernetes accepts them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api/patch.h"
#include "api/patch-internal.h"
#include "base/error.h"
#include "base/util.h"

/* Kubernetes' JSONPatchMaxCopyBytes: the bytes all "copy" operations of one patch may add. */
#define JSON_PATCH_MAX_COPY_BYTES (3 * 1024 * 1024)
/* Kubernetes' maxJSONPatchOperations. */
#define JSON_PATCH_MAX_OPERATIONS 10000

/* A parsed JSON pointer: the decoded reference tokens. */
struct pointer {
	char **tokens; /* n decoded tokens ("~1" is "/", "~0" is "~") */
	size_t n;      /* 0 for the root ("") */
};

/* One patch being applied. */
struct apply {
	json_t *doc;       /* the document so far (ours) */
	size_t copy_bytes; /* bytes added by "copy" operations so far */
};

/* Why an array index token was refused. */
enum index_fail {
	INDEX_OK,
	INDEX_SYNTAX,  /* Go's strconv.Atoi refuses it: not an integer */
	INDEX_RANGE,   /* Go's strconv.Atoi refuses it: does not fit 64 bits */
	INDEX_INVALID, /* an integer, but not a valid index (leading zero, '+', out of bounds) */
};

static void
pointer_free(struct pointer *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->tokens[i]);
	free(p->tokens);
	*p = (struct pointer){ 0 };
}

/*
 * Decodes one reference token of length len. Returns 0, KORCH_EINVALID for a '~' not followed
 * by '0' or '1', or KORCH_ENOMEM.
 */
static int
decode_token(const char *s, size_t len, char **ret)
{
	char *t = malloc(len + 1);
	if (!t)
		return KORCH_ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '~') {
			t[o++] = s[i];
			continue;
		}
		if (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')) {
			free(t);
			return KORCH_EINVALID;
		}
		t[o++] = s[i + 1] == '0' ? '~' : '/';
		i++;
	}
	t[o] = '\0';
	*ret = t;
	return 0;
}

/*
 * Parses a JSON pointer. On KORCH_EINVALID *ret_why says what is wrong with it (static text).
 */
static int
pointer_parse(const char *path, struct pointer *ret, const char **ret_why)
{
	struct pointer p = { 0 };
	if (*path == '\0') {
		*ret = p;
		return 0;
	}
	if (*path != '/') {
		*ret_why = "a JSON pointer must be empty or start with '/'";
		return KORCH_EINVALID;
	}
	const char *s = path + 1;
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t len = slash ? (size_t)(slash - s) : strlen(s);
		char **tokens = realloc(p.tokens, (p.n + 1) * sizeof(char *));
		if (!tokens) {
			pointer_free(&p);
			return KORCH_ENOMEM;
		}
		p.tokens = tokens;
		int r = decode_token(s, len, &p.tokens[p.n]);
		if (r < 0) {
			pointer_free(&p);
			*ret_why = "'~' must be followed by '0' or '1'";
			return r;
		}
		p.n++;
		if (!slash)
			break;
		s = slash + 1;
	}
	*ret = p;
	return 0;
}

/*
 * Parses an array index as Go's strconv.Atoi does, then applies RFC 6901's stricter rules (no
 * '+', no leading zeros, no "-0"); negative indexes stay allowed (Kubernetes' extension).
 */
static enum index_fail
index_parse(const char *tok, long long *ret)
{
	const char *digits = tok + (*tok == '+' || *tok == '-');
	if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits))
		return INDEX_SYNTAX;
	errno = 0;
	long long v = strtoll(tok, NULL, 10);
	if (errno == ERANGE)
		return INDEX_RANGE;
	if (*tok == '+' || (digits[0] == '0' && (digits[1] != '\0' || *tok == '-')))
		return INDEX_INVALID;
	*ret = v;
	return INDEX_OK;
}

/*
 * Resolves an index token against an array of n elements. for_add allows the position after
 * the last element. Returns the failure kind; *ret is the position when INDEX_OK.
 */
static enum index_fail
index_resolve(const char *tok, size_t n, bool for_add, size_t *ret)
{
	long long idx;
	enum index_fail f = index_parse(tok, &idx);
	if (f != INDEX_OK)
		return f;
	long long size = (long long)n + (for_add ? 1 : 0);
	if (idx >= size || idx < -size)
		return INDEX_INVALID;
	*ret = (size_t)(idx < 0 ? idx + size : idx);
	return INDEX_OK;
}

/*
 * The text evanphx/json-patch gives for a refused index; "add" words a non-integer its own way.
 * Returns a new string, NULL when out of memory.
 */
static char *
index_why(const char *tok, enum index_fail f, bool for_add)
{
	char *s = NULL;
	int r;
	const char *atoi_why = f == INDEX_RANGE ? "value out of range" : "invalid syntax";
	if (f == INDEX_INVALID)
		r = asprintf(&s, "Unable to access invalid index: %s: invalid index referenced",
			     tok);
	else if (for_add)
		r = asprintf(
			&s,
			"value was not a proper array index: '%s': strconv.Atoi: parsing \"%s\": %s",
			tok, tok, atoi_why);
	else
		r = asprintf(&s, "strconv.Atoi: parsing \"%s\": %s", tok, atoi_why);
	return r >= 0 ? s : NULL;
}

/*
 * Walks all tokens but the last. *ret_container is the object or array that holds (or is to
 * hold) the target, NULL when a step is missing or is not a container (evanphx's "doc is
 * missing path"). Array steps follow the rules of a get.
 */
static json_t *
walk_parent(json_t *doc, const struct pointer *p)
{
	json_t *cur = doc;
	for (size_t i = 0; i + 1 < p->n; i++) {
		const char *tok = p->tokens[i];
		json_t *next = NULL;
		size_t idx;
		if (json_is_object(cur))
			next = json_object_get(cur, tok);
		else if (json_is_array(cur) &&
			 index_resolve(tok, json_array_size(cur), false, &idx) == INDEX_OK)
			next = json_array_get(cur, idx);
		if (!json_is_object(next) && !json_is_array(next))
			return NULL;
		cur = next;
	}
	return json_is_object(cur) || json_is_array(cur) ? cur : NULL;
}

/*
 * Reads the member or element key of container into *ret (borrowed; NULL for a missing object
 * member). For a bad array index returns KORCH_EINVALID with *ret_why (freed by the caller).
 */
static int
container_get(json_t *container, const char *key, json_t **ret, char **ret_why)
{
	if (json_is_object(container)) {
		*ret = json_object_get(container, key);
		return 0;
	}
	size_t idx;
	enum index_fail f = index_resolve(key, json_array_size(container), false, &idx);
	if (f != INDEX_OK) {
		*ret_why = index_why(key, f, false);
		return *ret_why ? KORCH_EINVALID : KORCH_ENOMEM;
	}
	*ret = json_array_get(container, idx);
	return 0;
}

/* Adds value (stolen) as member key, or inserts it at index key ("-" appends). */
static int
container_add(json_t *container, const char *key, json_t *value, char **ret_why)
{
	if (json_is_object(container))
		return json_object_set_new(container, key, value) < 0 ? KORCH_ENOMEM : 0;
	size_t n = json_array_size(container), idx = n;
	if (!streq(key, "-")) {
		enum index_fail f = index_resolve(key, n, true, &idx);
		if (f != INDEX_OK) {
			json_decref(value);
			*ret_why = index_why(key, f, true);
			return *ret_why ? KORCH_EINVALID : KORCH_ENOMEM;
		}
	}
	return json_array_insert_new(container, idx, value) < 0 ? KORCH_ENOMEM : 0;
}

/* Replaces the existing member or element key with value (stolen); key was checked. */
static int
container_set(json_t *container, const char *key, json_t *value)
{
	if (json_is_object(container))
		return json_object_set_new(container, key, value) < 0 ? KORCH_ENOMEM : 0;
	size_t idx = 0;
	index_resolve(key, json_array_size(container), false, &idx);
	return json_array_set_new(container, idx, value) < 0 ? KORCH_ENOMEM : 0;
}

/* Removes member or element key. */
static int
container_remove(json_t *container, const char *key, char **ret_why)
{
	if (json_is_object(container)) {
		if (json_object_del(container, key) == 0)
			return 0;
		if (asprintf(ret_why, "Unable to remove nonexistent key: %s: missing value", key) <
		    0)
			return KORCH_ENOMEM;
		return KORCH_EINVALID;
	}
	size_t idx;
	enum index_fail f = index_resolve(key, json_array_size(container), false, &idx);
	if (f != INDEX_OK) {
		*ret_why = index_why(key, f, false);
		return *ret_why ? KORCH_EINVALID : KORCH_ENOMEM;
	}
	return json_array_remove(container, idx) < 0 ? KORCH_ENOMEM : 0;
}

/* Where an operation's "path" or "from" points. */
struct target {
	const char *path;   /* the pointer as written */
	struct pointer ptr; /* parsed */
	json_t *container;  /* holder of the last token; NULL: missing (or the root) */
	const char *key;    /* the last token; NULL for the root */
};

static void
target_free(struct target *t)
{
	pointer_free(&t->ptr);
}

/*
 * Reads member name ("path" or "from") of op as a string. Returns 0; 1 when it is absent or
 * null; 2 when it is not a string (then *ret is the value's kind name); 3 when it holds a NUL.
 */
static int
op_string(const json_t *op, const char *name, const char **ret)
{
	json_t *v = json_object_get(op, name);
	if (!v || json_is_null(v))
		return 1;
	if (!json_is_string(v)) {
		*ret = go_json_kind(v);
		return 2;
	}
	*ret = json_string_value(v);
	return strlen(*ret) != json_string_length(v) ? 3 : 0;
}

/*
 * Decodes member name of op and resolves its parent container in doc. The wording of a
 * missing or non-string member follows evanphx/json-patch, which words it differently per
 * operation: detailed says whether this operation reports the underlying Go error
 * ("operation missing path field: missing value") or just "missing value".
 */
static int
target_find(json_t *doc, const json_t *op, const char *kind, const char *name, bool detailed,
	    struct target *t, korch_error **err)
{
	const char *s = NULL;
	int r = op_string(op, name, &s);
	if (r == 1 && detailed)
		return error_set(err, KORCH_EINVALID,
				 "%s operation failed to decode %s: operation%s missing %s field: "
				 "missing value",
				 kind, name, streq(name, "from") ? "," : "", name);
	if (r == 2 && detailed)
		return error_set(
			err, KORCH_EINVALID,
			"%s operation failed to decode %s: json: cannot unmarshal %s into Go "
			"value of type string",
			kind, name, s);
	if (r == 3)
		return error_set(
			err, KORCH_EINVALID,
			"%s operation failed to decode %s: invalid JSON pointer: it holds a "
			"NUL byte",
			kind, name);
	if (r != 0)
		return error_set(err, KORCH_EINVALID,
				 "%s operation failed to decode %s: missing value", kind, name);
	const char *why = NULL;
	t->path = s;
	r = pointer_parse(s, &t->ptr, &why);
	if (r == KORCH_ENOMEM)
		return error_oom(err);
	if (r < 0)
		return error_set(
			err, KORCH_EINVALID,
			"%s operation failed to decode %s: invalid JSON pointer \"%s\": %s", kind,
			name, s, why);
	if (t->ptr.n > 0) {
		t->container = walk_parent(doc, &t->ptr);
		t->key = t->ptr.tokens[t->ptr.n - 1];
	}
	return 0;
}

/* The operation's "value", or an error when it has none. */
static int
op_value(const json_t *op, const char *kind, json_t **ret, korch_error **err)
{
	json_t *v = json_object_get(op, "value");
	if (!v)
		return error_set(
			err, KORCH_EINVALID,
			"%s operation failed to decode value: operation, missing value field: "
			"missing value",
			kind);
	*ret = json_deep_copy(v);
	return *ret ? 0 : error_oom(err);
}

/* Turns a container_* failure into the operation's error text: "PREFIX: why". */
static int why_error(korch_error **err, int r, char *why, const char *fmt, ...) _printf_(4, 5);

static int
why_error(korch_error **err, int r, char *why, const char *fmt, ...)
{
	_cleanup_free_ char *reason = why;
	_cleanup_free_ char *prefix = NULL;
	if (r == KORCH_ENOMEM || !reason)
		return error_oom(err);
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (n < 0)
		return error_oom(err);
	return error_set(err, KORCH_EINVALID, "%s: %s", prefix, reason);
}

static int
op_add(struct apply *a, const json_t *op, korch_error **err)
{
	_cleanup_(target_free) struct target t = { 0 };
	int r = target_find(a->doc, op, "add", "path", false, &t, err);
	if (r < 0)
		return r;
	json_t *value = NULL;
	if ((r = op_value(op, "add", &value, err)) < 0)
		return r;
	if (t.ptr.n == 0) {
		json_decref(a->doc);
		a->doc = value;
		return 0;
	}
	if (!t.container) {
		json_decref(value);
		return error_set(
			err, KORCH_EINVALID,
			"add operation does not apply: doc is missing path: \"%s\": missing "
			"value",
			t.path);
	}
	char *why = NULL;
	r = container_add(t.container, t.key, value, &why);
	return r < 0 ? why_error(err, r, why, "error in add for path: '%s'", t.path) : 0;
}

static int
op_remove(struct apply *a, const json_t *op, korch_error **err)
{
	_cleanup_(target_free) struct target t = { 0 };
	int r = target_find(a->doc, op, "remove", "path", false, &t, err);
	if (r < 0)
		return r;
	if (!t.container)
		return error_set(err, KORCH_EINVALID,
				 "remove operation does not apply: doc is missing path: \"%s\": "
				 "missing value",
				 t.path);
	char *why = NULL;
	r = container_remove(t.container, t.key, &why);
	return r < 0 ? why_error(err, r, why, "error in remove for path: '%s'", t.path) : 0;
}

static int
op_replace(struct apply *a, const json_t *op, korch_error **err)
{
	_cleanup_(target_free) struct target t = { 0 };
	int r = target_find(a->doc, op, "replace", "path", true, &t, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *value = NULL;
	if ((r = op_value(op, "replace", &value, err)) < 0)
		return r;
	if (t.ptr.n == 0) {
		json_decref(a->doc);
		a->doc = steal_pointer(&value);
		return 0;
	}
	if (!t.container)
		return error_set(
			err, KORCH_EINVALID,
			"replace operation does not apply: doc is missing path: %s: missing "
			"value",
			t.path);
	json_t *old = NULL;
	char *why = NULL;
	r = container_get(t.container, t.key, &old, &why);
	free(why);
	if (r == KORCH_ENOMEM)
		return error_oom(err);
	/*
	 * Kubernetes' json-patch (evanphx v4) replaces a missing object member by adding it, and
	 * kubectl relies on it (rollout undo replaces /metadata/annotations); a missing array
	 * element stays an error.
	 */
	if (r < 0 || (!old && !json_is_object(t.container)))
		return error_set(
			err, KORCH_EINVALID,
			"replace operation does not apply: doc is missing key: %s: missing "
			"value",
			t.path);
	return container_set(t.container, t.key, steal_pointer(&value)) < 0 ? error_oom(err) : 0;
}

/*
 * Takes the value at from out of the document for "move": *ret receives it (a new
 * reference). Errors name the last token, as evanphx/json-patch does.
 */
static int
move_take(struct apply *a, const json_t *op, json_t **ret, korch_error **err)
{
	_cleanup_(target_free) struct target t = { 0 };
	int r = target_find(a->doc, op, "move", "from", true, &t, err);
	if (r < 0)
		return r;
	if (!t.container)
		return error_set(
			err, KORCH_EINVALID,
			"move operation does not apply: doc is missing from path: %s: missing "
			"value",
			t.path);
	json_t *v = NULL;
	char *why = NULL;
	r = container_get(t.container, t.key, &v, &why);
	if (r < 0)
		return why_error(err, r, why, "error in move for path: '%s'", t.key);
	json_incref(v);
	r = container_remove(t.container, t.key, &why);
	if (r < 0) {
		json_decref(v);
		return why_error(err, r, why, "error in move for path: '%s'", t.key);
	}
	*ret = v;
	return 0;
}

static int
op_move(struct apply *a, const json_t *op, korch_error **err)
{
	json_t *value = NULL;
	int r = move_take(a, op, &value, err);
	if (r < 0)
		return r;
	_cleanup_(target_free) struct target t = { 0 };
	r = target_find(a->doc, op, "move", "path", true, &t, err);
	if (r < 0 || !t.container) {
		json_decref(value);
		if (r < 0)
			return r;
		return error_set(
			err, KORCH_EINVALID,
			"move operation does not apply: doc is missing destination path: %s: "
			"missing value",
			t.path);
	}
	char *why = NULL;
	r = container_add(t.container, t.key, value, &why);
	return r < 0 ? why_error(err, r, why, "error in move for path: '%s'", t.path) : 0;
}

/* Compares two numbers by value, whether each is an integer or a real. */
static bool
number_equal(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (json_is_real(a) && json_is_real(b))
		return json_real_value(a) == json_real_value(b);
	const json_t *i = json_is_integer(a) ? a : b, *d = json_is_integer(a) ? b : a;
	double r = json_real_value(d);
	if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0))
		return false;
	return (json_int_t)r == json_integer_value(i) && (double)(json_int_t)r == r;
}

/* RFC 6902's equality for "test": numbers by value, objects regardless of member order. */
static bool
value_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return number_equal(a, b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_string(a))
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) ==
			       0;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!value_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return false;
		const char *k;
		json_t *v;
		json_object_foreach ((json_t *)a, k, v) {
			json_t *o = json_object_get(b, k);
			if (!o || !value_equal(v, o))
				return false;
		}
		return true;
	}
	return true; /* true, false, null */
}

static int
op_test(struct apply *a, const json_t *op, korch_error **err)
{
	_cleanup_(target_free) struct target t = { 0 };
	int r = target_find(a->doc, op, "test", "path", true, &t, err);
	if (r < 0)
		return r;
	json_t *want = json_object_get(op, "value");
	if (!want)
		return error_set(err, KORCH_EINVALID,
				 "test operation failed to decode value: operation, missing value "
				 "field: missing value");
	json_t *have = a->doc;
	if (t.ptr.n > 0) {
		if (!t.container)
			return error_set(
				err, KORCH_EINVALID,
				"test operation does not apply: is missing path: %s: missing "
				"value",
				t.path);
		char *why = NULL;
		r = container_get(t.container, t.key, &have, &why);
		if (r < 0)
			return why_error(err, r, why, "error in test for path: '%s'", t.path);
	}
	if (!have || !value_equal(have, want))
		return error_set(err, KORCH_EINVALID, "testing value %s failed: test failed",
				 t.path);
	return 0;
}

/* Reads the value at from for "copy" (borrowed); a missing member is an error (RFC 6902). */
static int
copy_source(struct apply *a, const json_t *op, json_t **ret, korch_error **err)
{
	_cleanup_(target_free) struct target t = { 0 };
	int r = target_find(a->doc, op, "copy", "from", true, &t, err);
	if (r < 0)
		return r;
	json_t *v = NULL;
	char *why = NULL;
	if (t.container && (r = container_get(t.container, t.key, &v, &why)) < 0)
		return why_error(err, r, why, "error in copy for from: '%s'", t.path);
	if (!v)
		return error_set(
			err, KORCH_EINVALID,
			"copy operation does not apply: doc is missing from path: %s: missing "
			"value",
			t.path);
	*ret = v;
	return 0;
}

static int
op_copy(struct apply *a, const json_t *op, korch_error **err)
{
	json_t *source = NULL;
	int r = copy_source(a, op, &source, err);
	if (r < 0)
		return r;
	_cleanup_(target_free) struct target t = { 0 };
	if ((r = target_find(a->doc, op, "copy", "path", false, &t, err)) < 0)
		return r;
	if (!t.container)
		return error_set(
			err, KORCH_EINVALID,
			"copy operation does not apply: doc is missing destination path: %s: "
			"missing value",
			t.path);
	/* The size of the copy as compact JSON, as the Go library counts it. */
	a->copy_bytes += json_dumpb(source, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	if (a->copy_bytes > JSON_PATCH_MAX_COPY_BYTES)
		return error_set(
			err, KORCH_EINVALID,
			"Unable to complete the copy, the accumulated size increase of copy is "
			"%zu, exceeding the limit %d",
			a->copy_bytes, JSON_PATCH_MAX_COPY_BYTES);
	json_t *value = json_deep_copy(source);
	if (!value)
		return error_oom(err);
	char *why = NULL;
	r = container_add(t.container, t.key, value, &why);
	return r < 0 ? why_error(err, r, why, "error while adding value during copy") : 0;
}

/* The operation's "op", or "unknown" when it has none or it is not a string (as evanphx). */
static const char *
op_kind(const json_t *op)
{
	const char *kind = json_string_value(json_object_get(op, "op"));
	return kind ? kind : "unknown";
}

static int
apply_one(struct apply *a, const json_t *op, korch_error **err)
{
	static const struct {
		const char *name;
		int (*fn)(struct apply *a, const json_t *op, korch_error **err);
	} ops[] = {
		{ "add", op_add },   { "remove", op_remove }, { "replace", op_replace },
		{ "move", op_move }, { "copy", op_copy },     { "test", op_test },
	};
	if (!json_is_object(op) && !json_is_null(op))
		return error_set(
			err, KORCH_EINVALID,
			"json: cannot unmarshal %s into Go value of type jsonpatch.Operation",
			go_json_kind(op));
	const char *kind = op_kind(op);
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (streq(kind, ops[i].name))
			return ops[i].fn(a, op, err);
	return error_set(err, KORCH_EINVALID, "Unexpected kind: %s", kind);
}

/* Gives a failed operation's error its index: "operation N: TEXT", TEXT kept as a cause. */
static int
name_operation(korch_error **err, int r, size_t index)
{
	if (r != KORCH_EINVALID || !err || !*err)
		return r;
	_cleanup_free_ char *text = strdup(korch_error_message(*err));
	if (!text)
		return r;
	korch_error_prefix(err, r, "operation %zu", index);
	error_add_cause(err, NULL, NULL, "%s", text);
	return r;
}

int
patch_json_patch(const json_t *target, const json_t *ops, json_t **ret, korch_error **err)
{
	if (!target || !ops)
		return error_set(err, KORCH_EINVALID, "json patch: no %s document",
				 target ? "patch" : "target");
	if (!json_is_array(ops) && !json_is_null(ops))
		return error_set(err, KORCH_EINVALID,
				 "json: cannot unmarshal %s into Go value of type jsonpatch.Patch",
				 go_json_kind(ops));
	size_t n = json_array_size(ops);
	if (n > JSON_PATCH_MAX_OPERATIONS)
		return error_set(err, KORCH_ETOOLARGE,
				 "The allowed maximum operations in a JSON patch is %d, got %zu",
				 JSON_PATCH_MAX_OPERATIONS, n);
	struct apply a = { .doc = json_deep_copy(target) };
	if (!a.doc)
		return error_oom(err);
	for (size_t i = 0; i < n; i++) {
		int r = apply_one(&a, json_array_get(ops, i), err);
		if (r < 0) {
			json_decref(a.doc);
			return name_operation(err, r, i);
		}
	}
	*ret = a.doc;
	return 0;
}
