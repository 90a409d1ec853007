/*
 * GitRepository (gitops.korch.io/v1): its schema (known fields, types), defaults, validation
 * rules with their exact field errors, and its kubectl columns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/schema.h"
#include "api/table.h"
#include "api/validate.h"
#include "base/util.h"
#include "test_validate.h"

static const char repo[] = "{\"apiVersion\":\"gitops.korch.io/v1\",\"kind\":\"GitRepository\","
			   "\"metadata\":{\"name\":\"apps\",\"namespace\":\"default\"},"
			   "\"spec\":{\"url\":\"https://git.example.com/team/apps.git\","
			   "\"ref\":{\"branch\":\"main\"},\"path\":\"deploy/\"}}";

static void
test_registry(void **state)
{
	(void)state;
	const struct kind_info *k = K("gitops.korch.io/v1", "GitRepository");
	assert_string_equal(k->plural, "gitrepositories");
	assert_string_equal(k->singular, "gitrepository");
	assert_string_equal(k->short_names[0], "gitrepo");
	assert_null(k->short_names[1]);
	assert_true(k->namespaced);
	assert_int_equal(k->subresources, KIND_SUB_STATUS);
	assert_ptr_equal(kind_lookup_resource("gitrepo"), k);
	assert_ptr_equal(kind_lookup_resource("gitrepositories.gitops.korch.io"), k);
	assert_ptr_equal(kind_lookup_plural("gitops.korch.io", "gitrepositories"), k);
	assert_ptr_equal(schema_type_by_name("io.korch.gitops.v1.GitRepository"), k->schema);
	assert_ptr_equal(
		schema_type_by_name("io.korch.gitops.v1.InventoryEntry"),
		schema_field(schema_field(k->schema, "status")->type, "inventory")->type->elem);
	assert_null(schema_type_by_name("io.korch.gitops.v1.Nothing"));
}

/* Every hand-written object type has its fields sorted, as schema_field()'s bsearch needs. */
static void
test_schema_sorted(void **state)
{
	(void)state;
	for (size_t i = 0; i < schema_n_handwritten_types; i++) {
		const struct schema_type *t = schema_handwritten_types[i];
		assert_int_equal(t->kind, SCHEMA_OBJECT);
		for (size_t f = 1; f < t->n_fields; f++)
			assert_true(strcmp(t->fields[f - 1].name, t->fields[f].name) < 0);
		for (size_t f = 0; f < t->n_fields; f++)
			assert_ptr_equal(schema_field(t, t->fields[f].name), &t->fields[f]);
	}
}

static void
check_schema(const char *text, const char *message)
{
	json_t *obj = J(text);
	korch_error *err = NULL;
	int r = schema_check(obj, K("gitops.korch.io/v1", "GitRepository")->schema,
			     FIELD_VALIDATION_STRICT, NULL, &err);
	if (!message) {
		assert_int_equal(r, 0);
	} else {
		assert_int_equal(r, KORCH_EINVALID);
		assert_string_equal(korch_error_message(err), message);
	}
	korch_error_free(err);
	json_decref(obj);
}

static void
test_schema_check(void **state)
{
	(void)state;
	check_schema(repo, NULL);
	check_schema("{\"spec\":{\"url\":\"/srv/git\",\"branch\":\"main\"}}",
		     "strict decoding error: unknown field \"spec.branch\"");
	check_schema("{\"spec\":{\"url\":\"/srv/git\",\"prune\":\"yes\"}}",
		     "spec.prune: Invalid value: \"yes\": expected boolean, got string");
	check_schema("{\"status\":{\"inventory\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		     "\"namespace\":\"default\",\"name\":\"a\",\"uid\":\"x\"}],"
		     "\"observedGeneration\":2,\"lastAppliedCommit\":\"abc\","
		     "\"lastAppliedTime\":\"2025-01-01T00:00:00Z\",\"conditions\":[{\"type\":"
		     "\"Ready\",\"status\":\"True\",\"reason\":\"Succeeded\",\"message\":\"\","
		     "\"lastTransitionTime\":\"2025-01-01T00:00:00Z\"}]}}",
		     "strict decoding error: unknown field \"status.inventory[0].uid\"");
}

static void
test_defaults(void **state)
{
	(void)state;
	check_defaults("{\"apiVersion\":\"gitops.korch.io/v1\",\"kind\":\"GitRepository\","
		       "\"metadata\":{\"name\":\"a\"},\"spec\":{\"url\":\"/srv/git\"}}",
		       "{\"apiVersion\":\"gitops.korch.io/v1\",\"kind\":\"GitRepository\","
		       "\"metadata\":{\"name\":\"a\"},\"spec\":{\"url\":\"/srv/git\","
		       "\"ref\":{\"branch\":\"main\"},\"interval\":\"1m\",\"prune\":true}}");
	/* What is set stays: a tag is not joined by the default branch, prune false stays. */
	check_defaults("{\"apiVersion\":\"gitops.korch.io/v1\",\"kind\":\"GitRepository\","
		       "\"metadata\":{\"name\":\"a\"},\"spec\":{\"url\":\"/srv/git\","
		       "\"ref\":{\"tag\":\"v1\"},\"interval\":\"10s\",\"prune\":false}}",
		       "{\"apiVersion\":\"gitops.korch.io/v1\",\"kind\":\"GitRepository\","
		       "\"metadata\":{\"name\":\"a\"},\"spec\":{\"url\":\"/srv/git\","
		       "\"ref\":{\"tag\":\"v1\"},\"interval\":\"10s\",\"prune\":false}}");
}

#define LABEL_RULE                                                                               \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " \
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', " \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"

static const struct vcase create_cases[] = {
	{ "the base repository", { NULL }, NULL },
	{ "a local path", { "spec.url", "\"/media/usb/apps.git\"" }, NULL },
	{ "file://", { "spec.url", "\"file:///srv/git/apps\"" }, NULL },
	{ "ssh://", { "spec.url", "\"ssh://git@git.example.com/team/apps.git\"" }, NULL },
	{ "scp-like", { "spec.url", "\"git@git.example.com:team/apps.git\"" }, NULL },
	{ "a tag", { "spec.ref", "{\"tag\":\"v1.2.3\"}" }, NULL },
	{ "a commit",
	  { "spec.ref", "{\"commit\":\"0123456789abcdef0123456789abcdef01234567\"}" },
	  NULL },
	{ "all options",
	  { "spec.interval", "\"90s\"", "spec.prune", "false", "spec.suspend", "true",
	    "spec.secretRef", "{\"name\":\"git-token\"}", "spec.targetNamespace", "\"apps\"" },
	  NULL },
	{ "url missing", { "spec.url", DEL }, "[Required] spec.url: Required value" },
	{ "relative path",
	  { "spec.url", "\"apps.git\"" },
	  "[Invalid] spec.url: Invalid value: \"apps.git\": must be an absolute path, a file://, "
	  "http://, https://, ssh:// or git:// URL, or user@host:path" },
	{ "unknown scheme",
	  { "spec.url", "\"ftp://example.com/apps.git\"" },
	  "[Invalid] spec.url: Invalid value: \"ftp://example.com/apps.git\": must be an absolute "
	  "path, a file://, http://, https://, ssh:// or git:// URL, or user@host:path" },
	{ "credentials in the URL",
	  { "spec.url", "\"https://bot:hunter2@git.example.com/apps.git\"" },
	  "[Invalid] spec.url: Invalid value: \"https://bot:hunter2@git.example.com/apps.git\": "
	  "must not hold a user name or password: put credentials in the Secret named by "
	  "spec.secretRef" },
	{ "branch and tag",
	  { "spec.ref", "{\"branch\":\"main\",\"tag\":\"v1\"}" },
	  "[Invalid] spec.ref: Invalid value: only one of branch, tag and commit may be set" },
	{ "bad branch",
	  { "spec.ref.branch", "\"feature..x\"" },
	  "[Invalid] spec.ref.branch: Invalid value: \"feature..x\": must be a valid git branch "
	  "name" },
	{ "bad tag",
	  { "spec.ref", "{\"tag\":\"v1.lock\"}" },
	  "[Invalid] spec.ref.tag: Invalid value: \"v1.lock\": must be a valid git tag name" },
	{ "short commit",
	  { "spec.ref", "{\"commit\":\"0123abc\"}" },
	  "[Invalid] spec.ref.commit: Invalid value: \"0123abc\": must be a full commit SHA (40 "
	  "hexadecimal digits)" },
	{ "path with ..",
	  { "spec.path", "\"deploy/../../etc\"" },
	  "[Invalid] spec.path: Invalid value: \"deploy/../../etc\": must not contain '..'" },
	{ "interval not a duration",
	  { "spec.interval", "\"5 minutes\"" },
	  "[Invalid] spec.interval: Invalid value: \"5 minutes\": must be a duration such as 30s, "
	  "5m or 1h (Go's time.Duration)" },
	{ "interval too short",
	  { "spec.interval", "\"100ms\"" },
	  "[Invalid] spec.interval: Invalid value: \"100ms\": must be at least 1s" },
	{ "secretRef without a name",
	  { "spec.secretRef", "{}" },
	  "[Required] spec.secretRef.name: Required value" },
	{ "target namespace not a label",
	  { "spec.targetNamespace", "\"Apps\"" },
	  "[Invalid] spec.targetNamespace: Invalid value: \"Apps\": " LABEL_RULE },
	{ "name not a label",
	  { "metadata.name", "\"apps.example\"" },
	  "[Invalid] metadata.name: Invalid value: \"apps.example\": must not contain dots" },
};

static const struct vcase update_cases[] = {
	{ "another branch", { "spec.ref.branch", "\"release\"" }, NULL },
	{ "suspended", { "spec.suspend", "true" }, NULL },
	{ "url removed", { "spec.url", "\"\"" }, "[Required] spec.url: Required value" },
};

static void
test_validation(void **state)
{
	(void)state;
	run_cases(repo, NULL, create_cases, ARRAY_SIZE(create_cases));
	run_cases(repo, repo, update_cases, ARRAY_SIZE(update_cases));
}

static void
test_whole_message(void **state)
{
	(void)state;
	json_t *obj = J(repo);
	mutate(obj, "spec.ref", "{\"branch\":\"main\",\"commit\":\"abc\"}");
	const struct kind_info *k = K("gitops.korch.io/v1", "GitRepository");
	object_set_defaults(obj, k);
	korch_error *err = NULL;
	assert_int_equal(object_validate(obj, NULL, k, &err), KORCH_EINVALID);
	assert_string_equal(
		korch_error_message(err),
		"GitRepository.gitops.korch.io \"apps\" is invalid: [spec.ref: Invalid "
		"value: only one of branch, tag and commit may be set, spec.ref.commit: "
		"Invalid value: \"abc\": must be a full commit SHA (40 hexadecimal "
		"digits)]");
	korch_error_free(err);
	json_decref(obj);
}

static void
test_table(void **state)
{
	(void)state;
	json_t *objects = json_array();
	json_t *a = J(repo);
	mutate(a, "metadata.creationTimestamp", "\"2025-01-01T00:00:00Z\"");
	mutate(a, "status",
	       "{\"lastAppliedCommit\":\"0123456789abcdef0123456789abcdef01234567\","
	       "\"conditions\":[{\"type\":\"Reconciling\",\"status\":\"False\",\"reason\":\"x\","
	       "\"message\":\"\",\"lastTransitionTime\":\"2025-01-01T00:00:00Z\"},"
	       "{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Succeeded\",\"message\":"
	       "\"Applied revision main@sha1:0123456789abcdef0123456789abcdef01234567\","
	       "\"lastTransitionTime\":\"2025-01-01T00:00:00Z\"}]}");
	json_array_append_new(objects, a);
	json_t *b = J(repo);
	mutate(b, "metadata.name", "\"new\"");
	mutate(b, "metadata.creationTimestamp", "\"2025-01-01T00:00:50Z\"");
	json_array_append_new(objects, b);
	json_t *table = NULL;
	int64_t now;
	assert_int_equal(parse_rfc3339("2025-01-01T00:01:00Z", &now), 0);
	assert_int_equal(
		table_build("GitRepository", objects, now, TABLE_INCLUDE_NONE, &table, NULL), 0);
	struct strbuf out = STRBUF_INIT;
	struct table_print_options po = { .wide = false };
	assert_int_equal(table_print(table, &po, &out, NULL), 0);
	assert_string_equal(
		strbuf_str(&out),
		"NAME   URL                                     READY   STATUS                        "
		"                                        AGE\n"
		"apps   https://git.example.com/team/apps.git   True    Applied revision "
		"main@sha1:0123456789abcdef0123456789abcdef01234567   60s\n"
		"new    https://git.example.com/team/apps.git                                         "
		"                                        10s\n");
	strbuf_truncate(&out, 0);
	po.wide = true;
	assert_int_equal(table_print(table, &po, &out, NULL), 0);
	assert_non_null(
		strstr(strbuf_str(&out), "   60s   0123456789abcdef0123456789abcdef01234567\n"));
	strbuf_free(&out);
	json_decref(table);
	json_decref(objects);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),     cmocka_unit_test(test_schema_sorted),
		cmocka_unit_test(test_schema_check), cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_validation),   cmocka_unit_test(test_whole_message),
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
