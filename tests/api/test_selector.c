/*
 * Label and field selectors: parsing, canonical strings, matching and errors, checked to the
 * letter against k8s.io/apimachinery/pkg/labels and pkg/fields (cases modelled on their
 * selector_test.go) and kube-apiserver's field label conversions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include <korch/common.h>
#include "api/selector.h"

#define QNAME_RE                                                                                    \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
	"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "      \
	"validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define VALUE_RE                                                                                    \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or " \
	"'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "          \
	"'my_value',  or '12345', regex used for validation is "                                    \
	"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

static json_t *
js(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", text, e.text);
	return v;
}

static void
test_label_parse_string(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "x=a,y=b,z=c", "x=a,y=b,z=c" },
		{ "z=c,y=b,x=a", "x=a,y=b,z=c" },
		{ "x==a", "x==a" },
		{ "x!=a", "x!=a" },
		{ "x in (a,b,c)", "x in (a,b,c)" },
		{ "x in (c,b,a,a)", "x in (a,b,c)" },
		{ "x notin (a)", "x notin (a)" },
		{ "x", "x" },
		{ "!x", "!x" },
		{ " x = a , y ", "x=a,y" },
		{ "\tx\n==\ra", "x==a" },
		{ "x=", "x=" },
		{ "x=,y", "x=,y" },
		{ "x in ()", "x in ()" },
		{ "x in (,a)", "x in (,a)" },
		{ "x in (a,)", "x in (,a)" },
		{ "x in (a,,b)", "x in (,a,b)" },
		{ "x in (,)", "x in ()" },
		{ "x>1", "x>1" },
		{ "x<10", "x<10" },
		{ "in in (in,notin)", "in in (in,notin)" },
		{ "notin notin (in)", "notin notin (in)" },
		{ "example.com/app=web,app.kubernetes.io/name in (db)",
		  "app.kubernetes.io/name in (db),example.com/app=web" },
		{ "x=b,x=a", "x=b,x=a" },
		{ "b,!a,c=1", "!a,b,c=1" },
		{ "x in(a)", "x in (a)" },
		{ "x=a,!y,z notin (b,a)", "x=a,!y,z notin (a,b)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct label_selector *sel = NULL;
		korch_error *err = NULL;
		if (label_selector_parse(cases[i].in, &sel, &err) != 0)
			fail_msg("%s: %s", cases[i].in, korch_error_message(err));
		char *s = label_selector_string(sel);
		if (strcmp(s, cases[i].out) != 0)
			fail_msg("%s: printed %s, want %s", cases[i].in, s, cases[i].out);
		/* and the printed form parses back to the same */
		struct label_selector *again = NULL;
		assert_int_equal(label_selector_parse(s, &again, NULL), 0);
		char *s2 = label_selector_string(again);
		assert_string_equal(s2, s);
		assert_int_equal(label_selector_is_empty(sel), cases[i].out[0] == '\0');
		free(s);
		free(s2);
		label_selector_free(sel);
		label_selector_free(again);
	}
}

static void
test_label_parse_errors(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "x=a,", "found '', expected: identifier after ','" },
		{ ",", "found ',', expected: !, identifier, or 'end of string'" },
		{ "=a", "found '=', expected: !, identifier, or 'end of string'" },
		{ "x in (a", "unable to parse requirement: found '', expected: ',' or ')'" },
		{ "x in a", "unable to parse requirement: found 'a' expected: '('" },
		{ "x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'" },
		{ "x in (=)",
		  "unable to parse requirement: found '=', expected: ',', ')' or identifier" },
		{ "x in (a,=)",
		  "unable to parse requirement: found '=', expected: ',', or identifier" },
		{ "x foo",
		  "unable to parse requirement: found 'foo', expected: in, notin, =, ==, !=, "
		  "gt, lt" },
		{ "x ! y",
		  "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, "
		  "lt" },
		{ "!x=a", "found '=', expected: ',' or 'end of string'" },
		{ "x=a b", "found 'b', expected: ',' or 'end of string'" },
		{ "x=a=b", "found '=', expected: ',' or 'end of string'" },
		{ "x=(a)", "unable to parse requirement: found '(', expected: identifier" },
		{ "!", "unable to parse requirement: found '', expected: identifier" },
		{ "!!x", "unable to parse requirement: found '!', expected: identifier" },
		{ "-x=a",
		  "unable to parse requirement: <nil>: Invalid value: \"-x\": name part " QNAME_RE },
		{ "a/b/c",
		  "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name " QNAME_RE
		  " with an optional DNS subdomain prefix and '/' (e.g. "
		  "'example.com/MyName')" },
		{ "/x",
		  "unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be "
		  "non-empty" },
		{ "x=-a",
		  "unable to parse requirement: values[0][x]: Invalid value: \"-a\": " VALUE_RE },
		{ "x in (-a,-b)",
		  "unable to parse requirement: [values[0][x]: Invalid value: \"-a\": " VALUE_RE
		  ", values[1][x]: Invalid value: \"-b\": " VALUE_RE "]" },
		{ "x>a",
		  "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
		  "operators, the value must be an integer" },
		{ "x>-1",
		  "unable to parse requirement: values[0][x]: Invalid value: \"-1\": " VALUE_RE },
		{ "x>-a",
		  "unable to parse requirement: [values[0]: Invalid value: \"-a\": for 'Gt', "
		  "'Lt' operators, the value must be an integer, values[0][x]: Invalid value: "
		  "\"-a\": " VALUE_RE "]" },
		{ "x=\"a\"",
		  "unable to parse requirement: values[0][x]: Invalid value: \"\\\"a\\\"\": " VALUE_RE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct label_selector *sel = (struct label_selector *)0x1;
		korch_error *err = NULL;
		int r = label_selector_parse(cases[i].in, &sel, &err);
		if (r != KORCH_EINVALID)
			fail_msg("%s: got %d", cases[i].in, r);
		if (strcmp(korch_error_message(err), cases[i].msg) != 0)
			fail_msg("%s:\n got  %s\n want %s", cases[i].in, korch_error_message(err),
				 cases[i].msg);
		assert_ptr_equal(sel, (struct label_selector *)0x1);
		korch_error_free(err);
	}
}

static void
test_label_matches(void **state)
{
	json_t *labels = js("{\"app\":\"web\",\"tier\":\"db\",\"n\":\"5\",\"empty\":\"\"}");
	static const struct {
		const char *sel;
		bool with, without;
	} cases[] = {
		{ "", true, true },
		{ "app=web", true, false },
		{ "app==web", true, false },
		{ "app=api", false, false },
		{ "app!=api", true, true },
		{ "app!=web", false, true },
		{ "missing!=x", true, true },
		{ "app in (web,api)", true, false },
		{ "app in (api)", false, false },
		{ "app notin (web)", false, true },
		{ "missing notin (a)", true, true },
		{ "app", true, false },
		{ "!app", false, true },
		{ "!missing", true, true },
		{ "n>3", true, false },
		{ "n>5", false, false },
		{ "n<6", true, false },
		{ "n<3", false, false },
		{ "app>3", false, false },
		{ "empty=", true, false },
		{ "empty", true, false },
		{ "empty in ()", true, false },
		{ "app=web,tier=db", true, false },
		{ "app=web,tier=cache", false, false },
		{ "app=web,!tier", false, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct label_selector *sel = NULL;
		assert_int_equal(label_selector_parse(cases[i].sel, &sel, NULL), 0);
		if (label_selector_matches(sel, labels) != cases[i].with)
			fail_msg("%s: matches labels %d", cases[i].sel, !cases[i].with);
		if (label_selector_matches(sel, NULL) != cases[i].without)
			fail_msg("%s: matches no labels %d", cases[i].sel, !cases[i].without);
		label_selector_free(sel);
	}
	json_decref(labels);
}

static void
test_label_requirements(void **state)
{
	struct label_selector *sel = NULL;
	assert_int_equal(label_selector_parse("b=1,a in (y,x),!c,d in (z)", &sel, NULL), 0);
	assert_int_equal(label_selector_count(sel), 4);
	const struct label_requirement *r = label_selector_requirement(sel, 0);
	assert_string_equal(r->key, "a");
	assert_int_equal(r->op, LABEL_OP_IN);
	assert_int_equal(r->n_values, 2);
	assert_string_equal(r->values[0], "x");
	assert_string_equal(r->values[1], "y");
	r = label_selector_requirement(sel, 1);
	assert_string_equal(r->key, "b");
	assert_int_equal(r->op, LABEL_OP_EQUALS);
	r = label_selector_requirement(sel, 2);
	assert_string_equal(r->key, "c");
	assert_int_equal(r->op, LABEL_OP_DOES_NOT_EXIST);
	assert_int_equal(r->n_values, 0);
	assert_null(label_selector_requirement(sel, 4));
	assert_string_equal(label_selector_exact_value(sel, "b"), "1");
	assert_string_equal(label_selector_exact_value(sel, "d"), "z");
	assert_null(label_selector_exact_value(sel, "a"));
	assert_null(label_selector_exact_value(sel, "c"));
	assert_null(label_selector_exact_value(sel, "e"));
	label_selector_free(sel);
}

static void
test_label_from_json(void **state)
{
	static const struct {
		const char *json, *str;
	} cases[] = {
		{ "{}", "" },
		{ "null", "" },
		{ "{\"matchLabels\":{\"app\":\"web\"}}", "app=web" },
		{ "{\"matchLabels\":{\"z\":\"1\",\"a\":\"2\"}}", "a=2,z=1" },
		{ "{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\","
		  "\"operator\":\"In\",\"values\":[\"db\",\"cache\"]}]}",
		  "app=web,tier in (cache,db)" },
		{ "{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Exists\"},{\"key\":\"j\","
		  "\"operator\":\"DoesNotExist\",\"values\":[]},{\"key\":\"i\",\"operator\":"
		  "\"NotIn\",\"values\":[\"a\"]}]}",
		  "i notin (a),!j,k" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = js(cases[i].json);
		struct label_selector *sel = NULL;
		korch_error *err = NULL;
		if (label_selector_from_json(json_is_null(v) ? NULL : v, &sel, &err) != 0)
			fail_msg("%s: %s", cases[i].json, korch_error_message(err));
		char *s = label_selector_string(sel);
		assert_string_equal(s, cases[i].str);
		free(s);
		label_selector_free(sel);
		json_decref(v);
	}

	/* matching through matchExpressions: values kept as given, matched as a set */
	json_t *v = js("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":"
		       "[\"db\",\"cache\"]}]}");
	json_t *l1 = js("{\"tier\":\"cache\"}"), *l2 = js("{\"tier\":\"web\"}");
	struct label_selector *sel = NULL;
	assert_int_equal(label_selector_from_json(v, &sel, NULL), 0);
	assert_true(label_selector_matches(sel, l1));
	assert_false(label_selector_matches(sel, l2));
	assert_string_equal(label_selector_requirement(sel, 0)->values[0], "db");
	label_selector_free(sel);
	json_decref(v);
	json_decref(l1);
	json_decref(l2);
}

static void
test_label_from_json_errors(void **state)
{
	static const struct {
		const char *json, *msg;
		const char *fields[3], *reasons[3];
	} cases[] = {
		{ "{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"In\"}]}",
		  "matchExpressions[0].values: Required value: must be specified when `operator` is "
		  "'In' or 'NotIn'",
		  { "matchExpressions[0].values" },
		  { "FieldValueRequired" } },
		{ "{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"NotIn\",\"values\":[]}]}",
		  "matchExpressions[0].values: Required value: must be specified when `operator` is "
		  "'In' or 'NotIn'",
		  { "matchExpressions[0].values" },
		  { "FieldValueRequired" } },
		{ "{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Exists\",\"values\":[\"a\"]}]}",
		  "matchExpressions[0].values: Forbidden: may not be specified when `operator` is "
		  "'Exists' or 'DoesNotExist'",
		  { "matchExpressions[0].values" },
		  { "FieldValueForbidden" } },
		{ "{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Foo\"}]}",
		  "matchExpressions[0].operator: Invalid value: \"Foo\": not a valid selector operator",
		  { "matchExpressions[0].operator" },
		  { "FieldValueInvalid" } },
		{ "{\"matchLabels\":{\"-a\":\"b\"},\"matchExpressions\":[{\"key\":\"k\",\"operator\":"
		  "\"In\",\"values\":[\"a b\"]}]}",
		  "[matchLabels: Invalid value: \"-a\": name part " QNAME_RE
		  ", matchExpressions[0].values[0]: Invalid value: \"a b\": " VALUE_RE "]",
		  { "matchLabels", "matchExpressions[0].values[0]" },
		  { "FieldValueInvalid", "FieldValueInvalid" } },
		{ "{\"matchExpressions\":{}}",
		  "matchExpressions: Invalid value: \"object\": expected an array",
		  { "matchExpressions" },
		  { "FieldValueTypeInvalid" } },
		{ "[]",
		  "<nil>: Invalid value: \"array\": expected an object",
		  { NULL },
		  { "FieldValueTypeInvalid" } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = js(cases[i].json);
		struct label_selector *sel = NULL;
		korch_error *err = NULL;
		assert_int_equal(label_selector_from_json(v, &sel, &err), KORCH_EINVALID);
		assert_null(sel);
		if (strcmp(korch_error_message(err), cases[i].msg) != 0)
			fail_msg("%s:\n got  %s\n want %s", cases[i].json, korch_error_message(err),
				 cases[i].msg);
		size_t n = 0;
		while (n < 3 && cases[i].reasons[n])
			n++;
		assert_int_equal(korch_error_cause_count(err), n);
		for (size_t j = 0; j < n; j++) {
			if (cases[i].fields[j])
				assert_string_equal(korch_error_cause_field(err, j),
						    cases[i].fields[j]);
			else
				assert_null(korch_error_cause_field(err, j));
			assert_string_equal(korch_error_cause_reason(err, j), cases[i].reasons[j]);
		}
		korch_error_free(err);
		json_decref(v);
	}

	/* With a field path, as an object validator calls it. */
	json_t *v = js("{\"matchLabels\":{\"app\":\"-web\"}}");
	korch_error *err = NULL;
	assert_int_equal(label_selector_validate_json(v, "spec.selector", &err), KORCH_EINVALID);
	assert_int_equal(korch_error_cause_count(err), 1);
	assert_string_equal(korch_error_cause_field(err, 0), "spec.selector.matchLabels");
	assert_string_equal(korch_error_cause_message(err, 0),
			    "Invalid value: \"-web\": " VALUE_RE);
	korch_error_free(err);
	json_decref(v);
	v = js("{\"matchLabels\":{\"app\":\"web\"}}");
	assert_int_equal(label_selector_validate_json(v, "spec.selector", NULL), 0);
	json_decref(v);
}

static void
test_label_from_map(void **state)
{
	json_t *v = js("{\"tier\":\"db\",\"app\":\"web\"}");
	struct label_selector *sel = NULL;
	assert_int_equal(label_selector_from_map(v, &sel, NULL), 0);
	char *s = label_selector_string(sel);
	assert_string_equal(s, "app=web,tier=db");
	free(s);
	json_t *l = js("{\"app\":\"web\",\"tier\":\"db\",\"x\":\"y\"}");
	assert_true(label_selector_matches(sel, l));
	json_object_set_new(l, "tier", json_string("cache"));
	assert_false(label_selector_matches(sel, l));
	json_decref(l);
	label_selector_free(sel);
	json_decref(v);

	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "{\"-a\":\"b\"}", "key: Invalid value: \"-a\": name part " QNAME_RE },
		{ "{\"app\":\"a b\"}", "values[0][app]: Invalid value: \"a b\": " VALUE_RE },
		{ "{\"app\":1}", "label selector map: the value of app is a number, not a string" },
		{ "[]", "label selector map: expected an object, not array" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = js(bad[i].json);
		korch_error *err = NULL;
		sel = NULL;
		assert_int_equal(label_selector_from_map(v, &sel, &err), KORCH_EINVALID);
		assert_null(sel);
		assert_string_equal(korch_error_message(err), bad[i].msg);
		korch_error_free(err);
		json_decref(v);
	}
}

static const struct kind_info pod_kind = { .group = "", .kind = "Pod", .plural = "pods" };
static const struct kind_info node_kind = { .group = "", .kind = "Node", .plural = "nodes" };
static const struct kind_info event_kind = { .group = "", .kind = "Event", .plural = "events" };
static const struct kind_info cm_kind = { .group = "",
					  .kind = "ConfigMap",
					  .plural = "configmaps" };
static const struct kind_info job_kind = { .group = "batch", .kind = "Job", .plural = "jobs" };
static const struct kind_info rs_kind = { .group = "apps",
					  .kind = "ReplicaSet",
					  .plural = "replicasets" };
static const struct kind_info secret_kind = { .group = "", .kind = "Secret", .plural = "secrets" };
static const struct kind_info ns_kind = { .group = "",
					  .kind = "Namespace",
					  .plural = "namespaces" };

static void
test_field_parse(void **state)
{
	static const struct {
		const char *in;
		const struct kind_info *kind;
		const char *out;
	} cases[] = {
		{ "", &pod_kind, "" },
		{ ",,", &pod_kind, "" },
		{ "metadata.name=web", &pod_kind, "metadata.name=web" },
		{ "status.phase!=Running,metadata.name=web", &pod_kind,
		  "metadata.name=web,status.phase!=Running" },
		{ "spec.nodeName==n1", &pod_kind, "spec.nodeName=n1" },
		{ "spec.host=n1", &pod_kind, "spec.nodeName=n1" },
		{ "metadata.name=a\\,b", &pod_kind, "metadata.name=a\\,b" },
		{ "metadata.name=a\\=b\\\\c", &pod_kind, "metadata.name=a\\=b\\\\c" },
		{ "metadata.name=", &pod_kind, "metadata.name=" },
		{ "spec.hostNetwork=true,spec.restartPolicy=Always,spec.schedulerName=s,"
		  "spec.serviceAccountName=sa,status.podIP=1.2.3.4,status.podIPs=x,"
		  "status.nominatedNodeName=n",
		  &pod_kind,
		  "spec.hostNetwork=true,spec.restartPolicy=Always,spec.schedulerName=s,"
		  "spec.serviceAccountName=sa,status.nominatedNodeName=n,status.podIP=1.2.3.4,"
		  "status.podIPs=x" },
		{ "involvedObject.kind=Pod,involvedObject.name=web,involvedObject.namespace=d,"
		  "involvedObject.uid=u,involvedObject.apiVersion=v1,involvedObject.resourceVersion=1,"
		  "involvedObject.fieldPath=f,reason=r,reportingComponent=c,source=s,type=Normal",
		  &event_kind,
		  "involvedObject.apiVersion=v1,involvedObject.fieldPath=f,involvedObject.kind=Pod,"
		  "involvedObject.name=web,involvedObject.namespace=d,involvedObject.resourceVersion=1,"
		  "involvedObject.uid=u,reason=r,reportingComponent=c,source=s,type=Normal" },
		{ "spec.unschedulable=false,metadata.name=n", &node_kind,
		  "metadata.name=n,spec.unschedulable=false" },
		{ "status.replicas=0", &rs_kind, "status.replicas=0" },
		{ "status.successful=1", &job_kind, "status.successful=1" },
		{ "type=Opaque", &secret_kind, "type=Opaque" },
		{ "status.phase=Active", &ns_kind, "status.phase=Active" },
		{ "metadata.namespace=default", &cm_kind, "metadata.namespace=default" },
		{ "anything.at.all=x", NULL, "anything.at.all=x" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct field_selector *sel = NULL;
		korch_error *err = NULL;
		if (field_selector_parse(cases[i].in, cases[i].kind, &sel, &err) != 0)
			fail_msg("%s: %s", cases[i].in, korch_error_message(err));
		char *s = field_selector_string(sel);
		if (strcmp(s, cases[i].out) != 0)
			fail_msg("%s: printed %s, want %s", cases[i].in, s, cases[i].out);
		assert_int_equal(field_selector_is_empty(sel), cases[i].out[0] == '\0');
		free(s);
		field_selector_free(sel);
	}
}

static void
test_field_parse_errors(void **state)
{
	static const struct {
		const char *in;
		const struct kind_info *kind;
		const char *msg;
	} cases[] = {
		{ "spec.foo=x", &pod_kind, "field label not supported: spec.foo" },
		{ "metadata.name=a,spec.foo=x", &pod_kind, "field label not supported: spec.foo" },
		{ "metadata.namespace=x", &node_kind,
		  "field label not supported: metadata.namespace" },
		{ "data.x=1", &cm_kind,
		  "\"data.x\" is not a known field selector: only "
		  "\"metadata.name\", \"metadata.namespace\"" },
		{ "status.active=1", &job_kind,
		  "field label \"status.active\" not supported for "
		  "batchv1.Job" },
		{ "spec.replicas=1", &rs_kind, "field label not supported: spec.replicas" },
		{ "=x", &pod_kind, "field label not supported: " },
		{ "foo", &pod_kind, "invalid selector: 'foo'; can't understand 'foo'" },
		{ "a=b,foo", NULL, "invalid selector: 'a=b,foo'; can't understand 'foo'" },
		{ "a=b=c", NULL, "invalid field selector: unescaped character in value: 61" },
		{ "a=b\\", NULL, "invalid field selector: invalid escape sequence: \\" },
		{ "a=\\x", NULL, "invalid field selector: invalid escape sequence: \\x" },
		{ "a=\\\xc3\xa9", NULL,
		  "invalid field selector: invalid escape sequence: \\\xc3\xa9" },
		{ "a=\\\xff", NULL,
		  "invalid field selector: invalid escape sequence: \\\xef\xbf\xbd" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct field_selector *sel = NULL;
		korch_error *err = NULL;
		assert_int_equal(field_selector_parse(cases[i].in, cases[i].kind, &sel, &err),
				 KORCH_EINVALID);
		assert_null(sel);
		if (strcmp(korch_error_message(err), cases[i].msg) != 0)
			fail_msg("%s:\n got  %s\n want %s", cases[i].in, korch_error_message(err),
				 cases[i].msg);
		korch_error_free(err);
	}
}

static bool
field_match(const char *sel_text, const struct kind_info *kind, const json_t *obj)
{
	struct field_selector *sel = NULL;
	korch_error *err = NULL;
	if (field_selector_parse(sel_text, kind, &sel, &err) != 0)
		fail_msg("%s: %s", sel_text, korch_error_message(err));
	bool r = field_selector_matches(sel, obj);
	field_selector_free(sel);
	return r;
}

static void
test_field_matches(void **state)
{
	json_t *pod = js("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":"
			 "{\"nodeName\":\"n1\",\"restartPolicy\":\"Always\"},\"status\":{\"phase\":"
			 "\"Running\",\"podIP\":\"10.0.0.9\",\"podIPs\":[{\"ip\":\"10.0.0.5\"}]}}");
	assert_true(field_match("", &pod_kind, pod));
	assert_true(field_match("spec.nodeName=n1", &pod_kind, pod));
	assert_true(field_match("spec.host=n1", &pod_kind, pod));
	assert_false(field_match("spec.nodeName=", &pod_kind, pod));
	assert_true(field_match("spec.nodeName!=", &pod_kind, pod));
	assert_true(field_match("spec.hostNetwork=false", &pod_kind, pod));
	assert_false(field_match("spec.hostNetwork=true", &pod_kind, pod));
	assert_true(field_match("status.podIP=10.0.0.5", &pod_kind, pod));
	assert_false(field_match("status.phase!=Running", &pod_kind, pod));
	assert_true(field_match("spec.schedulerName=", &pod_kind, pod));
	assert_true(field_match("status.podIPs=", &pod_kind, pod));
	assert_true(field_match("metadata.namespace=default,metadata.name=web", &pod_kind, pod));
	assert_false(field_match("metadata.namespace=default,metadata.name=api", &pod_kind, pod));
	json_object_set_new(json_object_get(pod, "spec"), "hostNetwork", json_true());
	assert_true(field_match("spec.hostNetwork=true", &pod_kind, pod));
	json_object_del(json_object_get(pod, "status"), "podIPs");
	assert_true(field_match("status.podIP=10.0.0.9", &pod_kind, pod));
	json_decref(pod);

	json_t *node = js("{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"unschedulable\":true}}");
	assert_true(field_match("spec.unschedulable=true", &node_kind, node));
	json_object_del(json_object_get(node, "spec"), "unschedulable");
	assert_true(field_match("spec.unschedulable=false", &node_kind, node));
	json_decref(node);

	json_t *rs = js("{\"status\":{\"replicas\":3}}");
	assert_true(field_match("status.replicas=3", &rs_kind, rs));
	assert_true(field_match("status.replicas!=0", &rs_kind, rs));
	json_object_del(json_object_get(rs, "status"), "replicas");
	assert_true(field_match("status.replicas=0", &rs_kind, rs));
	json_decref(rs);

	json_t *job = js("{\"status\":{\"succeeded\":2}}");
	assert_true(field_match("status.successful=2", &job_kind, job));
	json_decref(job);

	json_t *ev = js("{\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web\"},\"source\":"
			"{\"component\":\"kubelet\"},\"reportingComponent\":\"ctrl\",\"type\":"
			"\"Warning\"}");
	assert_true(field_match("source=kubelet,involvedObject.kind=Pod,type=Warning", &event_kind,
				ev));
	assert_true(field_match("reportingComponent=ctrl", &event_kind, ev));
	json_object_del(ev, "source");
	assert_true(field_match("source=ctrl", &event_kind, ev));
	json_decref(ev);

	json_t *cm = js("{\"metadata\":{\"name\":\"a,b\"}}");
	assert_true(field_match("metadata.name=a\\,b", &cm_kind, cm));
	assert_true(field_match("metadata.namespace=", &cm_kind, cm));
	json_decref(cm);
}

static void
test_field_exact(void **state)
{
	struct field_selector *sel = NULL;
	assert_int_equal(field_selector_parse("metadata.name=web,metadata.namespace!=kube-system",
					      &pod_kind, &sel, NULL),
			 0);
	assert_string_equal(field_selector_exact_value(sel, "metadata.name"), "web");
	assert_null(field_selector_exact_value(sel, "metadata.namespace"));
	assert_null(field_selector_exact_value(sel, "spec.nodeName"));
	field_selector_free(sel);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_parse_string),
		cmocka_unit_test(test_label_parse_errors),
		cmocka_unit_test(test_label_matches),
		cmocka_unit_test(test_label_requirements),
		cmocka_unit_test(test_label_from_json),
		cmocka_unit_test(test_label_from_json_errors),
		cmocka_unit_test(test_label_from_map),
		cmocka_unit_test(test_field_parse),
		cmocka_unit_test(test_field_parse_errors),
		cmocka_unit_test(test_field_matches),
		cmocka_unit_test(test_field_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
