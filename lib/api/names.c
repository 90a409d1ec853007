/*
 * names.c - Kubernetes' name, label and annotation rules (k8s.io/apimachinery/pkg/util/validation,
 * api/validation/objectmeta.go and path/name.go), each regular expression checked by hand.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/names.h"
#include "base/error.h"
#include "base/quote.h"
#include "base/strbuf.h"

/* The rules as Kubernetes words them: RegexError() puts "'EXAMPLE', " before each " or ". */
#define MSG_MAXLEN_63 "must be no more than 63 characters"
#define MSG_MAXLEN_253 "must be no more than 253 characters"
#define MSG_MAXLEN_15 "must be no more than 15 characters"
#define MSG_EMPTY "must be non-empty"
#define MSG_DNS1123_LABEL                                                                        \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " \
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', " \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define MSG_DNS1123_SUBDOMAIN                                                                       \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "   \
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex " \
	"used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define MSG_DNS1035_LABEL                                                                         \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with " \
	"an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "   \
	"'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define MSG_QUALIFIED_NAME_RULE                                                                     \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
	"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "      \
	"validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define MSG_QUALIFIED_NAME_WHOLE                    \
	"a qualified name " MSG_QUALIFIED_NAME_RULE \
	" with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
#define MSG_LABEL_VALUE                                                                             \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or " \
	"'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "          \
	"'my_value',  or '12345', regex used for validation is "                                    \
	"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define MSG_ENV_RELAXED                                                                            \
	"a valid environment variable name must consist only of printable ASCII characters other " \
	"than '='"
#define MSG_ENV_STRICT                                                                              \
	"a valid environment variable name must consist of alphabetic characters, digits, '_', "    \
	"'-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or " \
	"'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"

static void
add(struct name_problems *p, const char *prefix, const char *text)
{
	if (p->n < sizeof(p->item) / sizeof(p->item[0])) {
		p->item[p->n].prefix = prefix;
		p->item[p->n].text = text;
		p->n++;
	}
}

char *
name_problems_join(const struct name_problems *p, const char *sep)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < p->n; i++) {
		if (i)
			strbuf_puts(&sb, sep);
		strbuf_puts(&sb, p->item[i].prefix);
		strbuf_puts(&sb, p->item[i].text);
	}
	if (sb.oom) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* '[a-z0-9]([-a-z0-9]*[a-z0-9])?' over s[0..n). */
static bool
match_dns1123_label(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* The label pattern, then ('.' label)*. */
static bool
match_dns1123_subdomain(const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!match_dns1123_label(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]' over s[0..n). */
static bool
match_qualified_name(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

void
check_dns1123_label(const char *value, struct name_problems *p)
{
	size_t n = strlen(value);
	if (n > DNS1123_LABEL_MAX_LENGTH)
		add(p, "", MSG_MAXLEN_63);
	if (!match_dns1123_label(value, n)) {
		/* A valid subdomain that is no label, at a length already checked: it has dots. */
		if (match_dns1123_subdomain(value, n))
			add(p, "", "must not contain dots");
		else
			add(p, "", MSG_DNS1123_LABEL);
	}
}

bool
is_dns1123_label(const char *value)
{
	size_t n = strlen(value);
	return n <= DNS1123_LABEL_MAX_LENGTH && match_dns1123_label(value, n);
}

static void
check_dns1123_subdomain_n(const char *value, size_t n, struct name_problems *p, const char *prefix)
{
	if (n > DNS1123_SUBDOMAIN_MAX_LENGTH)
		add(p, prefix, MSG_MAXLEN_253);
	if (!match_dns1123_subdomain(value, n))
		add(p, prefix, MSG_DNS1123_SUBDOMAIN);
}

void
check_dns1123_subdomain(const char *value, struct name_problems *p)
{
	check_dns1123_subdomain_n(value, strlen(value), p, "");
}

bool
is_dns1123_subdomain(const char *value)
{
	size_t n = strlen(value);
	return n <= DNS1123_SUBDOMAIN_MAX_LENGTH && match_dns1123_subdomain(value, n);
}

/* '[a-z]([-a-z0-9]*[a-z0-9])?' */
static bool
match_dns1035_label(const char *s, size_t n)
{
	return n > 0 && s[0] >= 'a' && s[0] <= 'z' && match_dns1123_label(s, n);
}

void
check_dns1035_label(const char *value, struct name_problems *p)
{
	size_t n = strlen(value);
	if (n > DNS1035_LABEL_MAX_LENGTH)
		add(p, "", MSG_MAXLEN_63);
	if (!match_dns1035_label(value, n))
		add(p, "", MSG_DNS1035_LABEL);
}

bool
is_dns1035_label(const char *value)
{
	size_t n = strlen(value);
	return n <= DNS1035_LABEL_MAX_LENGTH && match_dns1035_label(value, n);
}

/*
 * IsQualifiedName: split at every '/'; one part is the name, two are prefix and name, more get
 * the one message about the whole. The name part's regex is checked even after a length error,
 * so an empty name gets both "must be non-empty" and the regex message, as in Kubernetes.
 */
void
check_qualified_name(const char *value, struct name_problems *p)
{
	const char *slash = strchr(value, '/');
	const char *name = value;
	if (slash) {
		if (strchr(slash + 1, '/')) {
			add(p, "", MSG_QUALIFIED_NAME_WHOLE);
			return;
		}
		size_t prefix_len = (size_t)(slash - value);
		if (prefix_len == 0)
			add(p, "prefix part ", MSG_EMPTY);
		else
			check_dns1123_subdomain_n(value, prefix_len, p, "prefix part ");
		name = slash + 1;
	}
	size_t n = strlen(name);
	if (n == 0)
		add(p, "name part ", MSG_EMPTY);
	else if (n > QUALIFIED_NAME_MAX_LENGTH)
		add(p, "name part ", MSG_MAXLEN_63);
	if (!match_qualified_name(name, n))
		add(p, "name part ", MSG_QUALIFIED_NAME_RULE);
}

bool
is_qualified_name(const char *value)
{
	struct name_problems p = { 0 };
	check_qualified_name(value, &p);
	return p.n == 0;
}

void
check_label_value(const char *value, struct name_problems *p)
{
	size_t n = strlen(value);
	if (n > LABEL_VALUE_MAX_LENGTH)
		add(p, "", MSG_MAXLEN_63);
	if (n > 0 && !match_qualified_name(value, n))
		add(p, "", MSG_LABEL_VALUE);
}

bool
is_label_value(const char *value)
{
	size_t n = strlen(value);
	return n <= LABEL_VALUE_MAX_LENGTH && (n == 0 || match_qualified_name(value, n));
}

void
check_path_segment_name(const char *value, bool prefix, struct name_problems *p)
{
	if (!prefix) {
		if (strcmp(value, ".") == 0) {
			add(p, "", "may not be '.'");
			return;
		}
		if (strcmp(value, "..") == 0) {
			add(p, "", "may not be '..'");
			return;
		}
	}
	if (strchr(value, '/'))
		add(p, "", "may not contain '/'");
	if (strchr(value, '%'))
		add(p, "", "may not contain '%'");
}

bool
is_path_segment_name(const char *value, bool prefix)
{
	struct name_problems p = { 0 };
	check_path_segment_name(value, prefix, &p);
	return p.n == 0;
}

/* Go ranges over runes: any byte past ASCII belongs to a non-ASCII rune, valid or not. */
void
check_env_var_name(const char *value, struct name_problems *p)
{
	if (!*value)
		add(p, "environment variable name ", MSG_EMPTY);
	for (const char *c = value; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (u < 0x20 || u >= 0x7F || u == '=') {
			add(p, "", MSG_ENV_RELAXED);
			break;
		}
	}
}

bool
is_env_var_name(const char *value)
{
	struct name_problems p = { 0 };
	check_env_var_name(value, &p);
	return p.n == 0;
}

void
check_env_var_name_strict(const char *value, struct name_problems *p)
{
	bool ok = *value && !isdigit((unsigned char)value[0]);
	for (const char *c = value; ok && *c; c++)
		ok = is_alnum(*c) || *c == '-' || *c == '.' || *c == '_';
	if (!ok)
		add(p, "", MSG_ENV_STRICT);
	if (strcmp(value, ".") == 0)
		add(p, "", "must not be '.'");
	else if (strcmp(value, "..") == 0)
		add(p, "", "must not be '..'");
	else if (strncmp(value, "..", 2) == 0)
		add(p, "", "must not start with '..'");
}

void
check_port_name(const char *value, struct name_problems *p)
{
	size_t n = strlen(value);
	if (n > PORT_NAME_MAX_LENGTH)
		add(p, "", MSG_MAXLEN_15);
	bool charset = n > 0, letter = false;
	for (size_t i = 0; i < n; i++) {
		char c = value[i];
		if (c >= 'a' && c <= 'z')
			letter = true;
		else if (!(c >= '0' && c <= '9') && c != '-')
			charset = false;
	}
	if (!charset)
		add(p, "",
		    "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
	if (!letter)
		add(p, "", "must contain at least one letter (a-z)");
	if (strstr(value, "--"))
		add(p, "", "must not contain consecutive hyphens");
	if (n > 0 && (value[0] == '-' || value[n - 1] == '-'))
		add(p, "", "must not begin or end with a hyphen");
}

bool
is_port_name(const char *value)
{
	struct name_problems p = { 0 };
	check_port_name(value, &p);
	return p.n == 0;
}

bool
is_port_number(int64_t port)
{
	return port >= 1 && port <= 65535;
}

int
add_name_problems(const struct name_problems *p, const char *value, const char *field_path,
		  korch_error **err)
{
	if (p->n == 0)
		return 0;
	char *quoted = go_quote(value);
	if (!quoted)
		return error_oom(err);
	for (size_t i = 0; i < p->n; i++)
		error_add_cause(err, "FieldValueInvalid", field_path, "Invalid value: %s: %s%s",
				quoted, p->item[i].prefix, p->item[i].text);
	free(quoted);
	return KORCH_EINVALID;
}

/* Runs one check_*() and turns its findings into causes. */
#define DEFINE_VALIDATE(name)                                                             \
	int validate_##name(const char *value, const char *field_path, korch_error **err) \
	{                                                                                 \
		struct name_problems p = { 0 };                                           \
		check_##name(value, &p);                                                  \
		return add_name_problems(&p, value, field_path, err);                     \
	}

DEFINE_VALIDATE(dns1123_label)
DEFINE_VALIDATE(dns1123_subdomain)
DEFINE_VALIDATE(dns1035_label)
DEFINE_VALIDATE(qualified_name)
DEFINE_VALIDATE(label_value)
DEFINE_VALIDATE(env_var_name)
DEFINE_VALIDATE(env_var_name_strict)
DEFINE_VALIDATE(port_name)

int
validate_path_segment_name(const char *value, bool prefix, const char *field_path,
			   korch_error **err)
{
	struct name_problems p = { 0 };
	check_path_segment_name(value, prefix, &p);
	return add_name_problems(&p, value, field_path, err);
}

int
validate_port_number(int64_t port, const char *field_path, korch_error **err)
{
	if (is_port_number(port))
		return 0;
	return error_add_cause(err, "FieldValueInvalid", field_path,
			       "Invalid value: %lld: must be between 1 and 65535, inclusive",
			       (long long)port);
}

/* A map field that is not an object of strings, as the JSON decoder would refuse it. */
static int
type_invalid(const char *field_path, const char *what, korch_error **err)
{
	return error_add_cause(err, "FieldValueTypeInvalid", field_path,
			       "Invalid value: \"%s\": expected a map of strings", what);
}

static const char *
json_type_name(const json_t *v)
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

int
validate_labels(const json_t *labels, const char *field_path, korch_error **err)
{
	if (!labels || json_is_null(labels))
		return 0;
	if (!json_is_object(labels))
		return type_invalid(field_path, json_type_name(labels), err);
	int r = 0;
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)labels, key, value)
	{
		struct name_problems p = { 0 };
		check_qualified_name(key, &p);
		if (add_name_problems(&p, key, field_path, err) < 0)
			r = KORCH_EINVALID;
		if (!json_is_string(value)) {
			r = type_invalid(field_path, json_type_name(value), err);
			continue;
		}
		p.n = 0;
		check_label_value(json_string_value(value), &p);
		if (add_name_problems(&p, json_string_value(value), field_path, err) < 0)
			r = KORCH_EINVALID;
	}
	return r;
}

int
validate_annotations(const json_t *annotations, const char *field_path, korch_error **err)
{
	if (!annotations || json_is_null(annotations))
		return 0;
	if (!json_is_object(annotations))
		return type_invalid(field_path, json_type_name(annotations), err);
	int r = 0;
	size_t total = 0;
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)annotations, key, value)
	{
		size_t n = strlen(key);
		char *lower = malloc(n + 1);
		if (!lower)
			return error_oom(err);
		for (size_t i = 0; i <= n; i++)
			lower[i] = (char)tolower((unsigned char)key[i]);
		struct name_problems p = { 0 };
		check_qualified_name(lower, &p);
		free(lower);
		if (add_name_problems(&p, key, field_path, err) < 0)
			r = KORCH_EINVALID;
		if (!json_is_string(value)) {
			r = type_invalid(field_path, json_type_name(value), err);
			continue;
		}
		total += n + json_string_length(value);
	}
	if (total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES)
		r = error_add_cause(err, "FieldValueTooLong", field_path,
				    "Too long: may not be more than %d bytes",
				    TOTAL_ANNOTATION_SIZE_LIMIT_BYTES);
	return r;
}
