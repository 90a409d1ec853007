/*
 * The helpers of the validation and defaulting tests (test_validate.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "api/validate.h"
#include "base/util.h"
#include "test_validate.h"

json_t *
J(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	if (!v)
		fail_msg("bad JSON literal (%s at %d): %s", je.text, je.position, text);
	return v;
}

const struct kind_info *
K(const char *api_version, const char *kind)
{
	const struct kind_info *k = kind_lookup(api_version, kind);
	if (!k)
		fail_msg("unknown kind %s %s", api_version, kind);
	return k;
}

/* One step of a path: a member name, an index or a bracketed key. */
struct step {
	char name[256];
	long index; /* >= 0 for [N] */
};

static const char *
next_step(const char *p, struct step *s)
{
	s->index = -1;
	s->name[0] = 0;
	if (*p == '.')
		p++;
	if (*p == '[') {
		p++;
		const char *close = strchr(p, ']');
		assert_non_null(close);
		size_t n = (size_t)(close - p);
		assert_true(n < sizeof(s->name));
		memcpy(s->name, p, n);
		s->name[n] = 0;
		char *end;
		long i = strtol(s->name, &end, 10);
		if (n && !*end)
			s->index = i;
		return close + 1;
	}
	size_t n = strcspn(p, ".[");
	assert_true(n < sizeof(s->name));
	memcpy(s->name, p, n);
	s->name[n] = 0;
	return p + n;
}

static json_t *
child(json_t *v, const struct step *s, bool create, const char *rest)
{
	if (s->index >= 0 && json_is_array(v)) {
		json_t *c = json_array_get(v, (size_t)s->index);
		if (!c && create && (size_t)s->index == json_array_size(v)) {
			json_array_append_new(v, *rest == '[' && rest[1] >= '0' && rest[1] <= '9'
							 ? json_array()
							 : json_object());
			c = json_array_get(v, (size_t)s->index);
		}
		return c;
	}
	if (!json_is_object(v))
		return NULL;
	json_t *c = json_object_get(v, s->name);
	if ((!c || json_is_null(c)) && create) {
		bool list = rest[0] == '[' && rest[1] >= '0' && rest[1] <= '9';
		json_object_set_new(v, s->name, list ? json_array() : json_object());
		c = json_object_get(v, s->name);
	}
	return c;
}

json_t *
at(json_t *obj, const char *path)
{
	json_t *v = obj;
	const char *p = path;
	while (*p && v) {
		struct step s;
		p = next_step(p, &s);
		v = child(v, &s, false, p);
	}
	return v;
}

void
mutate(json_t *obj, const char *path, const char *value)
{
	json_t *v = obj;
	const char *p = path;
	struct step s;
	for (;;) {
		p = next_step(p, &s);
		if (!*p)
			break;
		v = child(v, &s, true, p);
		if (!v)
			fail_msg("mutate: no container for %s", path);
	}
	if (s.index >= 0 && json_is_array(v)) {
		if (!value) {
			json_array_remove(v, (size_t)s.index);
		} else if ((size_t)s.index == json_array_size(v)) {
			json_array_append_new(v, J(value));
		} else {
			json_array_set_new(v, (size_t)s.index, J(value));
		}
		return;
	}
	if (!json_is_object(v))
		fail_msg("mutate: %s is not in an object", path);
	if (!value)
		json_object_del(v, s.name);
	else
		json_object_set_new(v, s.name, J(value));
}

char *
causes_text(const korch_error *err)
{
	size_t size = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &size);
	assert_non_null(f);
	for (size_t i = 0; i < korch_error_cause_count(err); i++) {
		const char *reason = korch_error_cause_reason(err, i);
		if (startswith(reason, "FieldValue"))
			reason += strlen("FieldValue");
		fprintf(f, "%s[%s] %s: %s", i ? "\n" : "", reason,
			korch_error_cause_field(err, i) ? korch_error_cause_field(err, i) : "",
			korch_error_cause_message(err, i));
	}
	fclose(f);
	return buf;
}

void
run_cases(const char *base, const char *old, const struct vcase *cases, size_t n)
{
	json_t *b = J(base);
	const struct kind_info *k = K(json_string_value(json_object_get(b, "apiVersion")),
				      json_string_value(json_object_get(b, "kind")));
	object_set_defaults(b, k);
	json_t *o = NULL;
	if (old) {
		o = J(old);
		object_set_defaults(o, k);
	}
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		const struct vcase *c = &cases[i];
		json_t *obj = json_deep_copy(b);
		for (size_t j = 0; j < ARRAY_SIZE(c->set) && c->set[j]; j += 2)
			mutate(obj, c->set[j], c->set[j + 1]);
		korch_error *err = NULL;
		int rc = object_validate(obj, o, k, &err);
		char *got = err ? causes_text(err) : NULL;
		bool ok = c->want ? (rc == KORCH_EINVALID && got && streq(got, c->want))
				  : (rc == 0 && !err);
		if (!ok) {
			print_error("case \"%s\": rc %d\n  want: %s\n  got:  %s\n  message: %s\n",
				    c->name, rc, c->want ? c->want : "(valid)",
				    got ? got : "(valid)", err ? korch_error_message(err) : "");
			failures++;
		}
		free(got);
		korch_error_free(err);
		json_decref(obj);
	}
	json_decref(b);
	json_decref(o);
	if (failures)
		fail_msg("%d of %zu cases failed", failures, n);
}

void
check_defaults(const char *manifest, const char *expected)
{
	json_t *obj = J(manifest), *want = J(expected);
	const struct kind_info *k = K(json_string_value(json_object_get(obj, "apiVersion")),
				      json_string_value(json_object_get(obj, "kind")));
	object_set_defaults(obj, k);
	if (!json_equal(obj, want)) {
		char *g = json_dumps(obj, JSON_SORT_KEYS | JSON_INDENT(1));
		char *w = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
		print_error("defaults of %s:\nwant %s\ngot  %s\n", k->kind, w, g);
		free(g);
		free(w);
		fail();
	}
	json_t *again = json_deep_copy(obj);
	object_set_defaults(again, k);
	if (!json_equal(obj, again))
		fail_msg("defaulting %s twice changed it", k->kind);
	json_decref(again);
	json_decref(obj);
	json_decref(want);
}
