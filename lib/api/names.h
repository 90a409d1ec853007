/*
 * names.h - the name and label rules of k8s.io/apimachinery/pkg/util/validation and of
 * apimachinery's object-meta validation, with Kubernetes' messages to the letter.
 *
 * Three layers, all for NUL-terminated byte strings (lengths are in bytes, as Go counts them):
 *  - is_*(): a bool for hot paths;
 *  - check_*(): the list of broken rules, each message exactly as Kubernetes words it, in the
 *    order Kubernetes reports them (for callers that join them, as the selector parser does);
 *  - validate_*(): adds one cause per broken rule to *err, as Kubernetes adds one field error
 *    per message: reason "FieldValueInvalid", the field path given, and the message
 *    `Invalid value: "VALUE": MESSAGE` (the value quoted as Go's %q quotes it). They return 0 or
 *    KORCH_EINVALID, and leave *err untouched when nothing is wrong.
 */
#ifndef KORCH_API_NAMES_H
#define KORCH_API_NAMES_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>

#define DNS1123_LABEL_MAX_LENGTH 63
#define DNS1123_SUBDOMAIN_MAX_LENGTH 253
#define DNS1035_LABEL_MAX_LENGTH 63
#define QUALIFIED_NAME_MAX_LENGTH 63
#define LABEL_VALUE_MAX_LENGTH 63
#define PORT_NAME_MAX_LENGTH 15
#define TOTAL_ANNOTATION_SIZE_LIMIT_BYTES (256 * 1024)

/* What a value breaks: each message is prefix followed by text (both static strings). */
struct name_problems {
	size_t n; /* entries used in item */
	struct {
		const char *prefix; /* "", "prefix part " or "name part " */
		const char *text;   /* the rule, as Kubernetes words it */
	} item[6];
};

/* The messages joined with sep ("; " as the label selector parser joins them); caller frees. */
char *name_problems_join(const struct name_problems *p, const char *sep);

/* DNS-1123 label (63): namespaces, most names of things inside a pod. */
bool is_dns1123_label(const char *value);
void check_dns1123_label(const char *value, struct name_problems *p);
int validate_dns1123_label(const char *value, const char *field_path, korch_error **err);

/* DNS-1123 subdomain (253): the names of most objects. */
bool is_dns1123_subdomain(const char *value);
void check_dns1123_subdomain(const char *value, struct name_problems *p);
int validate_dns1123_subdomain(const char *value, const char *field_path, korch_error **err);

/* DNS-1035 label (63): Service names. */
bool is_dns1035_label(const char *value);
void check_dns1035_label(const char *value, struct name_problems *p);
int validate_dns1035_label(const char *value, const char *field_path, korch_error **err);

/* Qualified name: label keys and (lower-cased) annotation keys, "[prefix/]name". */
bool is_qualified_name(const char *value);
void check_qualified_name(const char *value, struct name_problems *p);
int validate_qualified_name(const char *value, const char *field_path, korch_error **err);

/* Label values: empty, or a qualified name part of at most 63 characters. */
bool is_label_value(const char *value);
void check_label_value(const char *value, struct name_problems *p);
int validate_label_value(const char *value, const char *field_path, korch_error **err);

/*
 * metadata.labels as ValidateLabels checks them: every key a qualified name, every value a label
 * value, each broken rule a cause at field_path naming the key or value. labels NULL or {} is
 * fine; anything but an object of strings is refused (FieldValueTypeInvalid).
 */
int validate_labels(const json_t *labels, const char *field_path, korch_error **err);

/*
 * metadata.annotations as ValidateAnnotations checks them: every key, lower-cased, a qualified
 * name (the cause shows the key as written), and the keys and values together at most 256 KiB
 * (a "FieldValueTooLong" cause: "Too long: may not be more than 262144 bytes").
 */
int validate_annotations(const json_t *annotations, const char *field_path, korch_error **err);

/*
 * Names that appear as one segment of a REST path: not "." or "..", no "/" or "%". With
 * prefix (a generateName), only the characters are checked.
 */
bool is_path_segment_name(const char *value, bool prefix);
void check_path_segment_name(const char *value, bool prefix, struct name_problems *p);
int validate_path_segment_name(const char *value, bool prefix, const char *field_path,
			       korch_error **err);

/*
 * Environment variable names as Kubernetes 1.32 checks them: RelaxedEnvironmentVariableValidation
 * is beta and on by default there, so any printable ASCII except '=' (IsRelaxedEnvVarName; the
 * empty name is reported too, though ValidateEnv reports it as "Required value" before asking).
 */
bool is_env_var_name(const char *value);
void check_env_var_name(const char *value, struct name_problems *p);
int validate_env_var_name(const char *value, const char *field_path, korch_error **err);

/* The strict rule of the feature gate's off position (IsEnvVarName), for configmap-like keys. */
void check_env_var_name_strict(const char *value, struct name_problems *p);
int validate_env_var_name_strict(const char *value, const char *field_path, korch_error **err);

/* IANA service names (container and Service port names): 15 characters, [-a-z0-9], a letter. */
bool is_port_name(const char *value);
void check_port_name(const char *value, struct name_problems *p);
int validate_port_name(const char *value, const char *field_path, korch_error **err);

/* Port numbers 1-65535; the cause shows the number unquoted ("Invalid value: 0: ..."). */
bool is_port_number(int64_t port);
int validate_port_number(int64_t port, const char *field_path, korch_error **err);

/*
 * Adds one FieldValueInvalid cause per problem, `Invalid value: "VALUE": MESSAGE`; returns 0
 * when p is empty, KORCH_EINVALID otherwise. For rules callers check themselves.
 */
int add_name_problems(const struct name_problems *p, const char *value, const char *field_path,
		      korch_error **err);

#endif
