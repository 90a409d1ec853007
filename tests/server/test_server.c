/*
 * lib/server over its unix socket: the REST verbs through the public client (which speaks HTTP
 * to it), Status errors with their exact reasons and codes, bad input leaving nothing stored,
 * Tables, discovery, watches (replay, selectors, shared fan-out, 410), authentication and RBAC with tokens,
 * and the limits (body size, in-flight requests, header timeout).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/codec.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "harness.h"
#include "server/pki.h"

#define ADMIN_TOKEN "admintoken0123456789"
#define BOB_TOKEN "bobtoken0123456789"
#define NODE_TOKEN "nodetoken0123456789"
#define TOKENS                                                                             \
	ADMIN_TOKEN ",admin,admin,\"system:masters\"\n" BOB_TOKEN ",bob,1001\n" NODE_TOKEN \
		    ",system:node:n1,n1,\"system:nodes\"\ncaroltoken0123456789,carol,1002\n"

static korch_object *
parse(const char *yaml)
{
	korch_object *list = NULL;
	korch_error *err = NULL;
	if (korch_object_parse(yaml, strlen(yaml), NULL, &list, &err) < 0)
		fail_msg("parse: %s", korch_error_message(err));
	korch_object *obj = korch_object_ref(korch_object_at(list, 0));
	korch_object_free(list);
	return obj;
}

static int
setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	harness_start(h, TOKENS);
	*state = h;
	return 0;
}

static int
teardown(void **state)
{
	struct harness *h = *state;
	harness_stop(h);
	free(h);
	return 0;
}

static const char cm_yaml[] = "apiVersion: v1\n"
			      "kind: ConfigMap\n"
			      "metadata: {name: cfg, labels: {app: web}}\n"
			      "data: {a: '1'}\n";

/* ---- RBAC as a table (reliability-security scenario 29) ---- */

struct rbac_res {
	const char *prefix; /* "/api/v1" or "/apis/GROUP/VERSION" */
	const char *plural; /* the resource */
	const char *group;  /* its API group, as the 403 message names it */
	bool namespaced;    /* namespaced resource */
};

static const struct rbac_res rbac_resources[] = {
	{ "/api/v1", "pods", "", true },
	{ "/api/v1", "services", "", true },
	{ "/api/v1", "configmaps", "", true },
	{ "/api/v1", "secrets", "", true },
	{ "/apis/apps/v1", "deployments", "apps", true },
	{ "/apis/batch/v1", "jobs", "batch", true },
	{ "/apis/rbac.authorization.k8s.io/v1", "roles", "rbac.authorization.k8s.io", true },
	{ "/apis/coordination.k8s.io/v1", "leases", "coordination.k8s.io", true },
	{ "/api/v1", "nodes", "", false },
	{ "/api/v1", "namespaces", "", false },
};
static const char *const rbac_verbs[] = { "get",    "list",  "watch",  "create",
					  "update", "patch", "delete", "deletecollection" };
static const char *const rbac_namespaces[] = { "default", "kube-system", "team" };

/* The HTTP status of verb on res in ns (object "cfg") as the user of token. */
static int
rbac_try(struct harness *h, const char *token, const char *verb, const struct rbac_res *res,
	 const char *ns, char **ret_body)
{
	static const struct {
		const char *verb, *method, *suffix;
		bool named;
	} how[] = {
		{ "get", "GET", "", true },
		{ "list", "GET", "", false },
		{ "watch", "GET", "?watch=1&timeoutSeconds=1", false },
		{ "create", "POST", "", false },
		{ "update", "PUT", "", true },
		{ "patch", "PATCH", "", true },
		{ "delete", "DELETE", "", true },
		{ "deletecollection", "DELETE", "", false },
	};
	size_t i = 0;
	while (i + 1 < ARRAY_SIZE(how) && strcmp(how[i].verb, verb) != 0)
		i++;
	char head[768], path[400];
	if (res->namespaced)
		snprintf(path, sizeof(path), "%s/namespaces/%s/%s%s%s", res->prefix, ns,
			 res->plural, how[i].named ? "/" : "", how[i].named ? "cfg" : "");
	else
		snprintf(path, sizeof(path), "%s/%s%s%s", res->prefix, res->plural,
			 how[i].named ? "/" : "", how[i].named ? "cfg" : "");
	const char *method = how[i].method ?: "GET", *suffix = how[i].suffix ?: "";
	snprintf(head, sizeof(head),
		 "%s %s%s HTTP/1.1\r\nAuthorization: Bearer %s\r\nContent-Type: %s", method, path,
		 suffix, token ?: "",
		 streq(how[i].method, "PATCH") ? "application/merge-patch+json"
					       : "application/json");
	const char *body =
		streq(how[i].method, "GET") || streq(how[i].method, "DELETE") ? NULL : "{}";
	struct http_reply r;
	assert_int_equal(http_raw(h, head, body, body ? 2 : 0, &r), 0);
	int status = r.status;
	if (ret_body)
		*ret_body = strndup(r.body ? r.body : "", r.body_len);
	http_reply_free(&r);
	return status;
}

/* Whether carol's grants below allow the tuple. */
static bool
carol_may(const char *verb, const struct rbac_res *res, const char *ns)
{
	/* Role in team: get, list, watch configmaps; update configmap cfg only. */
	if (streq(ns, "team") && streq(res->plural, "configmaps") &&
	    (streq(verb, "get") || streq(verb, "list") || streq(verb, "watch") ||
	     streq(verb, "update")))
		return true;
	/* ClusterRole by ClusterRoleBinding: list nodes. */
	return streq(res->plural, "nodes") && streq(verb, "list");
}

static void
test_rbac_matrix(void **state)
{
	struct harness *h = *state;
	size_t tuples = 0;
	/* bob has no bindings: 403 everywhere, in kube-apiserver's words. */
	for (size_t v = 0; v < ARRAY_SIZE(rbac_verbs); v++)
		for (size_t r = 0; r < ARRAY_SIZE(rbac_resources); r++)
			for (size_t n = 0; n < ARRAY_SIZE(rbac_namespaces); n++) {
				const struct rbac_res *res = &rbac_resources[r];
				char *body = NULL;
				assert_int_equal(rbac_try(h, BOB_TOKEN, rbac_verbs[v], res,
							  rbac_namespaces[n], &body),
						 403);
				char want[512];
				char scope[128] = " at the cluster scope";
				if (res->namespaced)
					snprintf(scope, sizeof(scope), " in the namespace \"%s\"",
						 rbac_namespaces[n]);
				bool named = streq(rbac_verbs[v], "get") ||
					     streq(rbac_verbs[v], "update") ||
					     streq(rbac_verbs[v], "patch") ||
					     streq(rbac_verbs[v], "delete");
				/* A namespace's own name is its namespace (RequestInfo's rule). */
				if (named && streq(res->plural, "namespaces"))
					snprintf(scope, sizeof(scope), " in the namespace \"cfg\"");
				snprintf(want, sizeof(want),
					 "%s%s%s%s is forbidden: User \"bob\" cannot %s resource "
					 "\"%s\" in API group \"%s\"%s",
					 res->plural, *res->group ? "." : "", res->group,
					 named ? " \"cfg\"" : "", rbac_verbs[v], res->plural,
					 res->group, scope);
				_cleanup_json_ json_t *st = NULL;
				assert_int_equal(codec_json_decode(body, strlen(body), &st, NULL),
						 0);
				assert_string_equal(
					json_string_value(json_object_get(st, "message")), want);
				assert_string_equal(
					json_string_value(json_object_get(st, "reason")),
					"Forbidden");
				free(body);
				tuples++;
			}
	assert_int_equal(tuples, 240);
	/* carol's grants allow exactly what they list (resourceNames included). */
	korch_client *admin = harness_client(h, ADMIN_TOKEN);
	static const char *const grants[] = {
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
		"metadata: {name: cm-read, namespace: team}\n"
		"rules:\n- {apiGroups: [''], resources: [configmaps], verbs: [get, list, watch]}\n"
		"- {apiGroups: [''], resources: [configmaps], resourceNames: [cfg], verbs: [update]}\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
		"metadata: {name: carol, namespace: team}\n"
		"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-read}\n"
		"subjects: [{kind: User, name: carol, apiGroup: rbac.authorization.k8s.io}]\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
		"metadata: {name: node-list}\n"
		"rules: [{apiGroups: [''], resources: [nodes], verbs: [list]}]\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
		"metadata: {name: carol-nodes}\n"
		"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-list}\n"
		"subjects: [{kind: User, name: carol, apiGroup: rbac.authorization.k8s.io}]\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(grants); i++) {
		korch_object *o = parse(grants[i]);
		assert_int_equal(korch_client_create(admin, o, NULL, NULL, NULL), 0);
		korch_object_free(o);
	}
	korch_client_free(admin);
	/* The authorizer's informers see the bindings a moment later. */
	int tries = 0;
	while (rbac_try(h, "caroltoken0123456789", "list", &rbac_resources[8], "default", NULL) ==
		       403 &&
	       tries++ < 100)
		usleep(10000);
	assert_true(tries < 100);
	size_t allowed = 0;
	for (size_t v = 0; v < ARRAY_SIZE(rbac_verbs); v++)
		for (size_t r = 0; r < ARRAY_SIZE(rbac_resources); r++)
			for (size_t n = 0; n < ARRAY_SIZE(rbac_namespaces); n++) {
				const struct rbac_res *res = &rbac_resources[r];
				int st = rbac_try(h, "caroltoken0123456789", rbac_verbs[v], res,
						  rbac_namespaces[n], NULL);
				bool may = carol_may(rbac_verbs[v], res, rbac_namespaces[n]);
				if (may != (st != 403))
					fail_msg("carol %s %s in %s: %d", rbac_verbs[v],
						 res->plural, rbac_namespaces[n], st);
				allowed += may;
			}
	/* 4 configmap verbs in team, list nodes from each of the 3 namespaces' rows. */
	assert_int_equal(allowed, 7);
}

static void
test_crud(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	assert_true(korch_client_is_remote(c));
	korch_object *cm = parse(cm_yaml), *out = NULL;
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_manager = "test";
	korch_error *err = NULL;
	assert_int_equal(korch_client_create(c, cm, &wo, &out, NULL), 0);
	assert_string_equal(korch_object_namespace(out), "default");
	const char *rv = korch_object_get_string(out, "metadata.resourceVersion");
	assert_non_null(rv);
	char first_rv[32];
	snprintf(first_rv, sizeof(first_rv), "%s", rv);
	korch_object_free(out);
	/* Again: AlreadyExists, kube-apiserver's words. */
	assert_int_equal(korch_client_create(c, cm, &wo, NULL, &err), KORCH_EEXISTS);
	assert_string_equal(korch_error_message(err), "configmaps \"cfg\" already exists");
	korch_error_free(steal_pointer(&err));
	/* Get, list with a selector. */
	assert_int_equal(korch_client_get(c, "cm", "default", "cfg", &out, NULL), 0);
	assert_string_equal(korch_object_get_string(out, "data.a"), "1");
	korch_object_free(out);
	korch_list_options lo = KORCH_LIST_OPTIONS_INIT;
	lo.label_selector = "app=web";
	assert_int_equal(korch_client_list(c, "configmaps", "default", &lo, &out, NULL), 0);
	assert_int_equal(korch_object_count(out), 1);
	assert_string_equal(korch_object_kind(out), "ConfigMapList");
	korch_object_free(out);
	lo.label_selector = "app=db";
	assert_int_equal(korch_client_list(c, "configmaps", NULL, &lo, &out, NULL), 0);
	assert_int_equal(korch_object_count(out), 0);
	korch_object_free(out);
	/* A stale resourceVersion on update: Conflict. */
	korch_object *upd =
		parse("apiVersion: v1\nkind: ConfigMap\n"
		      "metadata: {name: cfg, namespace: default, resourceVersion: '1'}\n"
		      "data: {a: '2'}\n");
	assert_int_equal(korch_client_update(c, upd, NULL, &wo, NULL, &err), KORCH_ECONFLICT);
	assert_string_equal(
		korch_error_message(err),
		"Operation cannot be fulfilled on configmaps \"cfg\": the object has "
		"been modified; please apply your changes to the latest version and try "
		"again");
	korch_error_free(steal_pointer(&err));
	korch_object_set_string(upd, "metadata.resourceVersion", first_rv, NULL);
	assert_int_equal(korch_client_update(c, upd, NULL, &wo, &out, NULL), 0);
	assert_string_equal(korch_object_get_string(out, "data.a"), "2");
	korch_object_free(out);
	korch_object_free(upd);
	/* The four patch types. */
	struct {
		int type;
		const char *patch;
		const char *key;
	} patches[] = {
		{ KORCH_PATCH_MERGE, "{\"data\":{\"m\":\"1\"}}", "data.m" },
		{ KORCH_PATCH_JSON, "[{\"op\":\"add\",\"path\":\"/data/j\",\"value\":\"1\"}]",
		  "data.j" },
		{ KORCH_PATCH_STRATEGIC, "{\"data\":{\"s\":\"1\"}}", "data.s" },
		{ KORCH_PATCH_APPLY,
		  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\"},"
		  "\"data\":{\"p\":\"1\"}}",
		  "data.p" },
	};
	for (size_t i = 0; i < 4; i++) {
		korch_object *p = NULL;
		assert_int_equal(korch_object_parse_json(patches[i].patch, strlen(patches[i].patch),
							 &p, NULL),
				 0);
		assert_int_equal(korch_client_patch(c, "configmaps", "default", "cfg",
						    patches[i].type, p, &wo, &out, NULL),
				 0);
		assert_string_equal(korch_object_get_string(out, patches[i].key), "1");
		korch_object_free(out);
		korch_object_free(p);
	}
	/* Server-side apply of a field another manager owns: Conflict with the field. */
	korch_object *steal = parse("apiVersion: v1\nkind: ConfigMap\n"
				    "metadata: {name: cfg, namespace: default}\n"
				    "data: {p: '2'}\n");
	korch_write_options other = KORCH_WRITE_OPTIONS_INIT;
	other.field_manager = "other";
	assert_int_equal(korch_client_apply(c, steal, &other, NULL, NULL, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err),
			    "Apply failed with 1 conflict: conflict with \"test\": .data.p");
	assert_int_equal(korch_error_cause_count(err), 1);
	assert_string_equal(korch_error_cause_field(err, 0), ".data.p");
	korch_error_free(steal_pointer(&err));
	other.force = true;
	int result = -1;
	assert_int_equal(korch_client_apply(c, steal, &other, NULL, &result, NULL), 0);
	assert_int_equal(result, KORCH_WRITE_CONFIGURED);
	assert_int_equal(korch_client_apply(c, steal, &other, NULL, &result, NULL), 0);
	assert_int_equal(result, KORCH_WRITE_UNCHANGED);
	korch_object_free(steal);
	/* Dry run stores nothing. */
	korch_object *dry = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry}\n");
	wo.dry_run = true;
	assert_int_equal(korch_client_create(c, dry, &wo, &out, NULL), 0);
	assert_string_equal(korch_object_name(out), "dry");
	korch_object_free(out);
	assert_int_equal(korch_client_get(c, "cm", "default", "dry", &out, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "configmaps \"dry\" not found");
	korch_error_free(steal_pointer(&err));
	korch_object_free(dry);
	/* Delete: the object back, then NotFound. */
	assert_int_equal(korch_client_delete(c, "cm", "default", "cfg", NULL, &out, NULL), 0);
	assert_string_equal(korch_object_get_string(out, "data.p"), "2");
	korch_object_free(out);
	assert_int_equal(korch_client_delete(c, "cm", "default", "cfg", NULL, NULL, &err),
			 KORCH_ENOTFOUND);
	korch_error_free(err);
	korch_object_free(cm);
	korch_client_free(c);
}

static void
test_delete_collection_and_scale(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	const char *names[] = { "d1", "d2", "keep" };
	for (int i = 0; i < 3; i++) {
		char y[160];
		snprintf(y, sizeof(y),
			 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, "
			 "labels: {drop: '%s'}}\n",
			 names[i], i < 2 ? "yes" : "no");
		korch_object *o = parse(y);
		assert_int_equal(korch_client_create(c, o, NULL, NULL, NULL), 0);
		korch_object_free(o);
	}
	struct http_reply r;
	assert_int_equal(http_raw(h,
				  "DELETE /api/v1/namespaces/default/configmaps?labelSelector="
				  "drop%3Dyes HTTP/1.1",
				  NULL, 0, &r),
			 0);
	assert_int_equal(r.status, 200);
	_cleanup_json_ json_t *gone = NULL;
	assert_int_equal(codec_json_decode(r.body, r.body_len, &gone, NULL), 0);
	assert_int_equal(json_array_size(json_object_get(gone, "items")), 2);
	http_reply_free(&r);
	korch_object *list = NULL;
	assert_int_equal(korch_client_list(c, "cm", "default", NULL, &list, NULL), 0);
	assert_int_equal(korch_object_count(list), 1);
	assert_string_equal(korch_object_name(korch_object_at(list, 0)), "keep");
	korch_object_free(list);
	/* The scale subresource of a Deployment: an autoscaling/v1 Scale, patched by merge. */
	korch_object *d = parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
				"spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n"
				"  template:\n    metadata: {labels: {app: web}}\n"
				"    spec: {containers: [{name: c, image: busybox}]}\n");
	assert_int_equal(korch_client_create(c, d, NULL, NULL, NULL), 0);
	korch_object_free(d);
	const char *patch = "{\"spec\":{\"replicas\":4}}";
	assert_int_equal(http_raw(h,
				  "PATCH /apis/apps/v1/namespaces/default/deployments/web/scale "
				  "HTTP/1.1\r\nContent-Type: application/merge-patch+json",
				  patch, strlen(patch), &r),
			 0);
	assert_int_equal(r.status, 200);
	_cleanup_json_ json_t *scale = NULL;
	assert_int_equal(codec_json_decode(r.body, r.body_len, &scale, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(scale, "kind")), "Scale");
	assert_string_equal(json_string_value(json_object_get(scale, "apiVersion")),
			    "autoscaling/v1");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(scale, "spec"), "replicas")), 4);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(scale, "status"), "selector")),
		"app=web");
	http_reply_free(&r);
	korch_object *got = NULL;
	assert_int_equal(korch_client_get(c, "deploy", "default", "web", &got, NULL), 0);
	assert_int_equal(korch_object_get_int(got, "spec.replicas", 0), 4);
	assert_int_equal(korch_object_get_int(got, "metadata.generation", 0), 2);
	korch_object_free(got);
	korch_client_free(c);
}

static void
test_invalid_object_and_fields(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	korch_error *err = NULL;
	/* An invalid name: 422 Invalid with its cause. */
	korch_object *bad = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n");
	assert_int_equal(korch_client_create(c, bad, NULL, NULL, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: "
			    "\"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower "
			    "case alphanumeric characters, '-' or '.', and must start and end with "
			    "an alphanumeric character (e.g. 'example.com', regex used for "
			    "validation is "
			    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
	assert_int_equal(korch_error_cause_count(err), 1);
	assert_string_equal(korch_error_cause_field(err, 0), "metadata.name");
	assert_string_equal(korch_error_cause_reason(err, 0), "FieldValueInvalid");
	korch_error_free(steal_pointer(&err));
	korch_object_free(bad);
	/* An unknown field under strict validation: 400, nothing stored. */
	korch_object *unknown = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: u}\n"
				      "spec: {x: 1}\n");
	assert_int_equal(korch_client_create(c, unknown, NULL, NULL, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict "
			    "decoding error: unknown field \"spec\"");
	korch_error_free(steal_pointer(&err));
	korch_object *out = NULL;
	assert_int_equal(korch_client_get(c, "cm", "default", "u", &out, NULL), KORCH_ENOTFOUND);
	/* Ignore: the field is dropped and the object stored. */
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_validation = KORCH_FIELD_VALIDATION_IGNORE;
	assert_int_equal(korch_client_create(c, unknown, &wo, &out, NULL), 0);
	assert_null(korch_object_get(out, "spec"));
	korch_object_free(out);
	korch_object_free(unknown);
	/* An unknown kind. */
	korch_object *foo = parse("apiVersion: example.com/v1\nkind: Foo\nmetadata: {name: f}\n");
	assert_int_equal(korch_client_create(c, foo, NULL, NULL, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err),
			    "no matches for kind \"Foo\" in version \"example.com/v1\"");
	korch_error_free(err);
	korch_object_free(foo);
	korch_client_free(c);
}

/* A request to the raw API; returns the Status's reason and checks the HTTP code. */
static void
expect_status(struct harness *h, const char *head, const char *body, size_t len, int want_http,
	      const char *want_reason, const char *want_message)
{
	struct http_reply r;
	assert_int_equal(http_raw(h, head, body, len, &r), 0);
	assert_int_equal(r.status, want_http);
	_cleanup_json_ json_t *st = NULL;
	assert_int_equal(codec_json_decode(r.body, r.body_len, &st, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(st, "kind")), "Status");
	assert_int_equal(json_integer_value(json_object_get(st, "code")), want_http);
	assert_string_equal(json_string_value(json_object_get(st, "reason")), want_reason);
	if (want_message)
		assert_string_equal(json_string_value(json_object_get(st, "message")),
				    want_message);
	http_reply_free(&r);
}

static void
test_bad_input(void **state)
{
	struct harness *h = *state;
	const char *post = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\n"
			   "Content-Type: application/json";
	expect_status(h, post, "{\"apiVersion\":", 14, 400, "BadRequest",
		      "the request body is not valid JSON: line 1 column 14: unexpected token near "
		      "end of file");
	const char *yaml = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\n"
			   "Content-Type: application/yaml";
	expect_status(h, yaml, "a: [1\n", 6, 400, "BadRequest", NULL);
	const char *text = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\n"
			   "Content-Type: text/plain";
	expect_status(h, text, "{}", 2, 415, "UnsupportedMediaType",
		      "the body of the request was in an unknown format - accepted media types "
		      "include: application/json, application/yaml, "
		      "application/vnd.kubernetes.protobuf");
	const char *patch = "PATCH /api/v1/namespaces/default/configmaps/x HTTP/1.1\r\n"
			    "Content-Type: application/json";
	expect_status(h, patch, "{}", 2, 415, "UnsupportedMediaType", NULL);
	/* 4 MiB: refused before it is read, and nothing stored. */
	size_t big = 4 * 1024 * 1024;
	char *body = malloc(big);
	memset(body, ' ', big);
	memcpy(body,
	       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"big\"}}",
	       64);
	expect_status(
		h, post, body, big, 413, "RequestEntityTooLarge",
		"the request body of 4194304 bytes is larger than the limit of 3145728 bytes");
	free(body);
	struct http_reply r;
	assert_int_equal(
		http_raw(h, "GET /api/v1/namespaces/default/configmaps/big HTTP/1.1", NULL, 0, &r),
		0);
	assert_int_equal(r.status, 404);
	http_reply_free(&r);
	/* Paths and methods. */
	expect_status(h, "GET /api/v1/foos HTTP/1.1", NULL, 0, 404, "NotFound",
		      "the server could not find the requested resource");
	expect_status(h, "PUT /api/v1/namespaces/default/configmaps HTTP/1.1", NULL, 0, 405,
		      "MethodNotAllowed", NULL);
	/* A body whose kind is not the path's. */
	const char *svc =
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"}}";
	expect_status(
		h, post, svc, strlen(svc), 400, "BadRequest",
		"the kind in the data (Service) does not match the expected kind (ConfigMap)");
	/* Warn: the unknown field is dropped and named in a Warning header. */
	const char *warn = "POST /api/v1/namespaces/default/configmaps?fieldValidation=Warn "
			   "HTTP/1.1\r\nContent-Type: application/json";
	const char *extra = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
			    "\"w\"},\"bogus\":1}";
	assert_int_equal(http_raw(h, warn, extra, strlen(extra), &r), 0);
	assert_int_equal(r.status, 201);
	char *w = http_header(&r, "Warning");
	assert_string_equal(w, "299 - \"unknown field \\\"bogus\\\"\"");
	free(w);
	http_reply_free(&r);
	/* Pods need the node agent for logs and exec. */
	const char *pod = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
			  "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\","
			  "\"image\":\"busybox\"}]}}";
	assert_int_equal(http_raw(h,
				  "POST /api/v1/namespaces/default/pods HTTP/1.1\r\n"
				  "Content-Type: application/json",
				  pod, strlen(pod), &r),
			 0);
	assert_int_equal(r.status, 201);
	http_reply_free(&r);
	expect_status(h, "GET /api/v1/namespaces/default/pods/p/log HTTP/1.1", NULL, 0, 503,
		      "ServiceUnavailable",
		      "pods \"p\": logs are not available: this korchd runs no node agent");
	expect_status(h, "GET /apis/metrics.k8s.io/v1beta1/pods HTTP/1.1", NULL, 0, 503,
		      "ServiceUnavailable",
		      "the metrics API is not available: this korchd runs no node agent");
	expect_status(h, "GET /api/v1/namespaces/default/pods/p/log?container=x HTTP/1.1", NULL, 0,
		      400, "BadRequest", "container x is not valid for pod p");
}

static void
test_discovery_and_tables(void **state)
{
	struct harness *h = *state;
	struct http_reply r;
	assert_int_equal(http_raw(h, "GET /version HTTP/1.1", NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	_cleanup_json_ json_t *v = NULL;
	assert_int_equal(codec_json_decode(r.body, r.body_len, &v, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(v, "major")), "1");
	assert_string_equal(json_string_value(json_object_get(v, "minor")), "32");
	http_reply_free(&r);
	/* Aggregated discovery answers with its own content type. */
	assert_int_equal(http_raw(h,
				  "GET /apis HTTP/1.1\r\nAccept: application/json;g=apidiscovery."
				  "k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
				  NULL, 0, &r),
			 0);
	char *ct = http_header(&r, "Content-Type");
	assert_string_equal(ct,
			    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
	free(ct);
	assert_non_null(strstr(r.body, "\"resource\":\"deployments\""));
	http_reply_free(&r);
	assert_int_equal(http_raw(h, "GET /apis/apps/v1 HTTP/1.1", NULL, 0, &r), 0);
	assert_non_null(strstr(r.body, "{\"name\":\"deployments/scale\",\"singularName\":\"\","
				       "\"namespaced\":true,\"kind\":\"Scale\",\"verbs\":[\"get\","
				       "\"patch\",\"update\"],\"group\":\"autoscaling\","
				       "\"version\":\"v1\"}"));
	http_reply_free(&r);
	/* A Table with kubectl's columns and PartialObjectMetadata rows. */
	assert_int_equal(http_raw(h,
				  "GET /api/v1/namespaces HTTP/1.1\r\nAccept: application/json;"
				  "as=Table;v=v1;g=meta.k8s.io,application/json",
				  NULL, 0, &r),
			 0);
	_cleanup_json_ json_t *t = NULL;
	assert_int_equal(codec_json_decode(r.body, r.body_len, &t, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(t, "kind")), "Table");
	json_t *cols = json_object_get(t, "columnDefinitions");
	assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "name")),
			    "Status");
	json_t *row = json_array_get(json_object_get(t, "rows"), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(row, "cells"), 0)),
			    "default");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(row, "object"), "kind")),
		"PartialObjectMetadata");
	http_reply_free(&r);
	/* OpenAPI v3: the root, and a document kubectl explain walks. */
	assert_int_equal(http_raw(h, "GET /openapi/v3 HTTP/1.1", NULL, 0, &r), 0);
	assert_non_null(strstr(r.body, "\"apis/apps/v1\":{\"serverRelativeURL\":\"/openapi/v3/"
				       "apis/apps/v1?hash="));
	http_reply_free(&r);
	assert_int_equal(http_raw(h, "GET /openapi/v3/apis/apps/v1 HTTP/1.1", NULL, 0, &r), 0);
	_cleanup_json_ json_t *doc = NULL;
	assert_int_equal(codec_json_decode(r.body, r.body_len, &doc, NULL), 0);
	json_t *dep =
		json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
				"io.k8s.api.apps.v1.Deployment");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(dep, "x-kubernetes-group-version-kind"), 0),
			"kind")),
		"Deployment");
	json_t *op = json_object_get(
		json_object_get(json_object_get(doc, "paths"),
				"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"),
		"patch");
	char *params = json_dumps(json_object_get(op, "parameters"), JSON_COMPACT);
	assert_non_null(params);
	assert_non_null(strstr(params, "\"fieldValidation\""));
	free(params);
	assert_null(json_object_get(op, "requestBody"));
	http_reply_free(&r);
}

/* ---- watch ---- */

struct seen {
	int n;             /* events */
	char what[16][64]; /* "TYPE name" */
	int stop_after;    /* stop after this many (0: never) */
};

static int
on_event(int event, korch_object *obj, void *userdata)
{
	struct seen *s = userdata;
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK" };
	if (s->n < 16)
		snprintf(s->what[s->n], sizeof(s->what[0]), "%s %s", names[event],
			 korch_object_name(obj) ? korch_object_name(obj) : "");
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

/* The configmaps' current resourceVersion: a watch from it sees only what follows. */
static void
current_rv(korch_client *c, char *rv, size_t size)
{
	korch_object *list = NULL;
	assert_int_equal(korch_client_list(c, "configmaps", "default", NULL, &list, NULL), 0);
	snprintf(rv, size, "%s", korch_object_get_string(list, "metadata.resourceVersion"));
	korch_object_free(list);
}

static void
test_watch(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	char rv[32];
	current_rv(c, rv, sizeof(rv));
	/* Changes after rv, replayed; a selector turns a label change into ADDED and DELETED. */
	const char *names[] = { "a", "b", "c" };
	for (int i = 0; i < 3; i++) {
		char y[160];
		snprintf(
			y, sizeof(y),
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, labels: {w: '1'}}\n",
			names[i]);
		korch_object *o = parse(y);
		assert_int_equal(korch_client_create(c, o, NULL, NULL, NULL), 0);
		korch_object_free(o);
	}
	korch_object *p = NULL;
	const char *relabel = "{\"metadata\":{\"labels\":{\"w\":\"2\"}}}";
	assert_int_equal(korch_object_parse_json(relabel, strlen(relabel), &p, NULL), 0);
	assert_int_equal(
		korch_client_patch(c, "cm", "default", "b", KORCH_PATCH_MERGE, p, NULL, NULL, NULL),
		0);
	korch_object_free(p);
	assert_int_equal(korch_client_delete(c, "cm", "default", "c", NULL, NULL, NULL), 0);
	korch_watch_options wo = KORCH_WATCH_OPTIONS_INIT;
	wo.resource_version = rv;
	wo.label_selector = "w=1";
	wo.timeout_s = 1;
	struct seen s = { 0 };
	assert_int_equal(korch_client_watch(c, "configmaps", "default", &wo, on_event, &s, NULL),
			 0);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.what[0], "ADDED a");
	assert_string_equal(s.what[1], "ADDED b");
	assert_string_equal(s.what[2], "ADDED c");
	assert_string_equal(s.what[3], "DELETED b");
	assert_string_equal(s.what[4], "DELETED c");
	/* From now (no version): the current objects as ADDED, stopped by the callback. */
	struct seen now = { .stop_after = 2 };
	wo = (korch_watch_options)KORCH_WATCH_OPTIONS_INIT;
	assert_int_equal(korch_client_watch(c, "configmaps", "default", &wo, on_event, &now, NULL),
			 0);
	assert_int_equal(now.n, 2);
	assert_string_equal(now.what[0], "ADDED a");
	assert_string_equal(now.what[1], "ADDED b");
	korch_client_free(c);
}

/* One watch on a thread of its own, with a client of its own. */
struct watch_thread {
	struct harness *h;    /* the server */
	const char *rv;       /* from this version */
	const char *selector; /* label selector, or NULL */
	struct seen seen;     /* what it received */
	int rc;               /* korch_client_watch's result */
	pthread_t thread;     /* runs it */
};

static void *
watch_thread_run(void *arg)
{
	struct watch_thread *t = arg;
	korch_client *c = harness_client(t->h, NULL);
	korch_watch_options wo = KORCH_WATCH_OPTIONS_INIT;
	wo.resource_version = t->rv;
	wo.label_selector = t->selector;
	wo.timeout_s = 2;
	t->rc = korch_client_watch(c, "configmaps", "default", &wo, on_event, &t->seen, NULL);
	korch_client_free(c);
	return NULL;
}

/*
 * Watchers connected together share their filter when their selectors are the same and each
 * event line is encoded once per change and type: every stream still gets exactly its own
 * events, in order, whether it shares a filter (w=1 twice), has one of its own (w=2) or none.
 */
static void
test_watch_shared(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	char rv[32];
	current_rv(c, rv, sizeof(rv));
	struct watch_thread ts[4] = {
		{ .h = h, .rv = rv, .selector = "w=1" },
		{ .h = h, .rv = rv, .selector = "w=1" },
		{ .h = h, .rv = rv, .selector = "w=2" },
		{ .h = h, .rv = rv, .selector = NULL },
	};
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&ts[i].thread, NULL, watch_thread_run, &ts[i]), 0);
	/* Let them connect, so that the changes reach them live rather than replayed. */
	usleep(300 * 1000);
	const char *names[] = { "a", "b" };
	for (int i = 0; i < 2; i++) {
		char y[160];
		snprintf(
			y, sizeof(y),
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, labels: {w: '1'}}\n",
			names[i]);
		korch_object *o = parse(y);
		assert_int_equal(korch_client_create(c, o, NULL, NULL, NULL), 0);
		korch_object_free(o);
	}
	korch_object *p = NULL;
	const char *relabel = "{\"metadata\":{\"labels\":{\"w\":\"2\"}}}";
	assert_int_equal(korch_object_parse_json(relabel, strlen(relabel), &p, NULL), 0);
	assert_int_equal(
		korch_client_patch(c, "cm", "default", "b", KORCH_PATCH_MERGE, p, NULL, NULL, NULL),
		0);
	korch_object_free(p);
	assert_int_equal(korch_client_delete(c, "cm", "default", "a", NULL, NULL, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(ts[i].thread, NULL), 0);
		assert_int_equal(ts[i].rc, 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ts[i].seen.n, 4);
		assert_string_equal(ts[i].seen.what[0], "ADDED a");
		assert_string_equal(ts[i].seen.what[1], "ADDED b");
		assert_string_equal(ts[i].seen.what[2], "DELETED b");
		assert_string_equal(ts[i].seen.what[3], "DELETED a");
	}
	assert_int_equal(ts[2].seen.n, 1);
	assert_string_equal(ts[2].seen.what[0], "ADDED b");
	assert_int_equal(ts[3].seen.n, 4);
	assert_string_equal(ts[3].seen.what[0], "ADDED a");
	assert_string_equal(ts[3].seen.what[1], "ADDED b");
	assert_string_equal(ts[3].seen.what[2], "MODIFIED b");
	assert_string_equal(ts[3].seen.what[3], "DELETED a");
	korch_client_free(c);
}

static int
setup_compacting(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	h->compact_keep = 5;
	harness_start(h, TOKENS);
	*state = h;
	return 0;
}

static void
test_watch_expired(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	for (int i = 0; i < 30; i++) {
		char y[128];
		snprintf(y, sizeof(y), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d}\n",
			 i);
		korch_object *o = parse(y);
		assert_int_equal(korch_client_create(c, o, NULL, NULL, NULL), 0);
		korch_object_free(o);
	}
	/* Compaction runs every 50 ms and keeps 5 revisions. */
	usleep(400 * 1000);
	korch_watch_options wo = KORCH_WATCH_OPTIONS_INIT;
	wo.resource_version = "2";
	wo.timeout_s = 2;
	struct seen s = { 0 };
	korch_error *err = NULL;
	assert_int_equal(korch_client_watch(c, "configmaps", "default", &wo, on_event, &s, &err),
			 KORCH_EGONE);
	assert_non_null(strstr(korch_error_message(err), "too old resource version: 2 ("));
	assert_int_equal(s.n, 0);
	korch_error_free(err);
	korch_client_free(c);
}

static void
create_configmap(korch_client *c, const char *name, size_t data_bytes)
{
	char *y = malloc(data_bytes + 200);
	assert_non_null(y);
	int n = snprintf(
		y, 200, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {d: '", name);
	memset(y + n, 'x', data_bytes);
	strcpy(y + n + data_bytes, "'}\n");
	korch_object *o = parse(y);
	assert_int_equal(korch_client_create(c, o, NULL, NULL, NULL), 0);
	korch_object_free(o);
	free(y);
}

/*
 * Forty watchers at once: waiting streams are parked and each change is written to all of them
 * by the fan-out threads; every one gets every event, once, in order.
 */
static void
test_watch_fanout(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	char rv[32];
	current_rv(c, rv, sizeof(rv));
	enum { WATCHERS = 40, CHANGES = 12 };
	struct watch_thread *ts = calloc(WATCHERS, sizeof(*ts));
	for (int i = 0; i < WATCHERS; i++) {
		ts[i] = (struct watch_thread){ .h = h, .rv = rv };
		assert_int_equal(pthread_create(&ts[i].thread, NULL, watch_thread_run, &ts[i]), 0);
	}
	usleep(500 * 1000);
	for (int i = 0; i < CHANGES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%02d", i);
		create_configmap(c, name, 10);
		usleep(10 * 1000);
	}
	for (int i = 0; i < WATCHERS; i++) {
		assert_int_equal(pthread_join(ts[i].thread, NULL), 0);
		assert_int_equal(ts[i].rc, 0);
		assert_int_equal(ts[i].seen.n, CHANGES);
		for (int k = 0; k < CHANGES; k++) {
			char want[32];
			snprintf(want, sizeof(want), "ADDED f%02d", k);
			assert_string_equal(ts[i].seen.what[k], want);
		}
	}
	free(ts);
	korch_client_free(c);
}

static double
mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A watcher that does not read while megabytes of events are written to it: its socket fills
 * up, the rest waits, and its timeout passes meanwhile. As the client reads, the rest is
 * written and the stream ends with the chunked body's last chunk: every event arrived, once,
 * in order, well framed.
 */
static void
test_watch_slow_reader(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	char rv[32], head[256];
	current_rv(c, rv, sizeof(rv));
	snprintf(head, sizeof(head),
		 "GET /api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%s"
		 "&timeoutSeconds=3 HTTP/1.1",
		 rv);
	double t0 = mono_s();
	int fd = http_send(h, head, NULL, 0);
	assert_true(fd >= 0);
	usleep(200 * 1000);
	/* As many 64 KiB objects as 1.5 s allow (slow under valgrind), 40 at most: far more than
	 * the server's socket buffer (about 200 KiB) holds. */
	int big = 0;
	while (big < 40 && (big < 8 || mono_s() - t0 < 1.5)) {
		char name[16];
		snprintf(name, sizeof(name), "big%03d", big++);
		create_configmap(c, name, 64 * 1024);
	}
	/* The timeout passes while the server waits for room. */
	double left = 3.5 - (mono_s() - t0);
	if (left > 0)
		usleep((useconds_t)(left * 1e6));
	/* A stream that stalls fails the test instead of hanging it. */
	struct timeval tv = { .tv_sec = 20 };
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	struct http_reply r;
	assert_int_equal(http_read(fd, &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(r.chunked_complete);
	const char *p = r.body;
	for (int i = 0; i < big; i++) {
		assert_true(startswith(p, "{\"type\":\"ADDED\",\"object\":{"));
		char name[40];
		snprintf(name, sizeof(name), "\"name\":\"big%03d\"", i);
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		char *line = strndup(p, (size_t)(nl - p));
		assert_non_null(strstr(line, name));
		free(line);
		p = nl + 1;
	}
	assert_string_equal(p, "");
	http_reply_free(&r);
	korch_client_free(c);
}

/* Watchers that hang up while parked, before and while events come: the others go on. */
static void
test_watch_client_gone(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	char rv[32], head[256];
	current_rv(c, rv, sizeof(rv));
	snprintf(head, sizeof(head),
		 "GET /api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%s"
		 "&timeoutSeconds=2 HTTP/1.1",
		 rv);
	int fds[4];
	for (int i = 0; i < 4; i++)
		assert_true((fds[i] = http_send(h, head, NULL, 0)) >= 0);
	usleep(200 * 1000);
	close(fds[0]);
	create_configmap(c, "gone1", 10);
	close(fds[1]);
	create_configmap(c, "gone2", 100 * 1024);
	/* One more closes after events were written and not read. */
	close(fds[2]);
	create_configmap(c, "gone3", 10);
	struct http_reply r;
	assert_int_equal(http_read(fds[3], &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(r.chunked_complete);
	assert_non_null(strstr(r.body, "\"name\":\"gone1\""));
	assert_non_null(strstr(r.body, "\"name\":\"gone2\""));
	assert_non_null(strstr(r.body, "\"name\":\"gone3\""));
	http_reply_free(&r);
	korch_object *got = NULL;
	assert_int_equal(korch_client_get(c, "configmaps", "default", "gone3", &got, NULL), 0);
	korch_object_free(got);
	korch_client_free(c);
}

/* ---- authentication and authorization ---- */

static void
test_auth(void **state)
{
	struct harness *h = *state;
	/* A wrong token: 401, whatever the peer. */
	expect_status(h, "GET /api/v1/pods HTTP/1.1\r\nAuthorization: Bearer nope", NULL, 0, 401,
		      "Unauthorized", "Unauthorized");
	/* Health needs no credentials; bob has no bindings: 403, kube-apiserver's words. */
	korch_client *bob = harness_client(h, BOB_TOKEN);
	korch_object *out = NULL;
	korch_error *err = NULL;
	assert_int_equal(korch_client_list(bob, "pods", "default", NULL, &out, &err),
			 KORCH_EFORBIDDEN);
	assert_string_equal(korch_error_message(err),
			    "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API "
			    "group \"\" in the namespace \"default\"");
	korch_error_free(steal_pointer(&err));
	assert_int_equal(korch_client_get(bob, "nodes", NULL, "n1", &out, &err), KORCH_EFORBIDDEN);
	assert_string_equal(korch_error_message(err),
			    "nodes \"n1\" is forbidden: User \"bob\" cannot get resource \"nodes\" "
			    "in API group \"\" at the cluster scope");
	korch_error_free(steal_pointer(&err));
	/* Impersonation needs the right to impersonate. */
	expect_status(h,
		      "GET /api/v1/pods HTTP/1.1\r\nAuthorization: Bearer " BOB_TOKEN
		      "\r\nImpersonate-User: admin",
		      NULL, 0, 403, "Forbidden",
		      "users \"admin\" is forbidden: User \"bob\" cannot impersonate resource "
		      "\"users\" in API group \"\" at the cluster scope");
	/* A RoleBinding to view grants reads in its namespace only, not secrets. */
	korch_client *admin = harness_client(h, ADMIN_TOKEN);
	korch_object *rb =
		parse("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
		      "metadata: {name: bob-view, namespace: default}\n"
		      "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, "
		      "name: view}\n"
		      "subjects: [{kind: User, name: bob, apiGroup: "
		      "rbac.authorization.k8s.io}]\n");
	assert_int_equal(korch_client_create(admin, rb, NULL, NULL, NULL), 0);
	korch_object_free(rb);
	/* The informer sees the binding when the loop dispatches: a moment later. */
	int tries = 0;
	while (korch_client_list(bob, "pods", "default", NULL, &out, NULL) < 0 && tries++ < 100)
		usleep(10000);
	assert_true(tries < 100);
	korch_object_free(out);
	assert_int_equal(korch_client_list(bob, "pods", "kube-system", NULL, &out, &err),
			 KORCH_EFORBIDDEN);
	korch_error_free(steal_pointer(&err));
	assert_int_equal(korch_client_list(bob, "secrets", "default", NULL, &out, &err),
			 KORCH_EFORBIDDEN);
	korch_error_free(steal_pointer(&err));
	korch_object *cm = parse(cm_yaml);
	assert_int_equal(korch_client_create(bob, cm, NULL, NULL, &err), KORCH_EFORBIDDEN);
	assert_string_equal(korch_error_message(err),
			    "configmaps is forbidden: User \"bob\" cannot create resource "
			    "\"configmaps\" in API group \"\" in the namespace \"default\"");
	korch_error_free(steal_pointer(&err));
	korch_object_free(cm);
	/* A node identity touches its own Node and the pods bound to it only. */
	korch_client *node = harness_client(h, NODE_TOKEN);
	korch_object *n1 = parse("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n");
	korch_object *n2 = parse("apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n");
	assert_int_equal(korch_client_create(node, n1, NULL, NULL, NULL), 0);
	assert_int_equal(korch_client_create(admin, n2, NULL, NULL, NULL), 0);
	korch_object *lbl = NULL;
	const char *label = "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}";
	assert_int_equal(korch_object_parse_json(label, strlen(label), &lbl, NULL), 0);
	assert_int_equal(korch_client_patch(node, "nodes", NULL, "n1", KORCH_PATCH_MERGE, lbl, NULL,
					    NULL, NULL),
			 0);
	assert_int_equal(korch_client_patch(node, "nodes", NULL, "n2", KORCH_PATCH_MERGE, lbl, NULL,
					    NULL, &err),
			 KORCH_EFORBIDDEN);
	assert_string_equal(korch_error_message(err),
			    "nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node "
			    "\"n2\"");
	korch_error_free(steal_pointer(&err));
	korch_object *pod =
		parse("apiVersion: v1\nkind: Pod\nmetadata: {name: other}\n"
		      "spec: {nodeName: n2, containers: [{name: c, image: busybox}]}\n");
	assert_int_equal(korch_client_create(admin, pod, NULL, NULL, NULL), 0);
	assert_int_equal(korch_client_delete(node, "pods", "default", "other", NULL, NULL, &err),
			 KORCH_EFORBIDDEN);
	assert_string_equal(
		korch_error_message(err),
		"pods \"other\" is forbidden: node \"n1\" can only delete pods bound to "
		"it");
	korch_error_free(err);
	korch_object_free(pod);
	korch_object_free(lbl);
	korch_object_free(n1);
	korch_object_free(n2);
	korch_client_free(node);
	korch_client_free(admin);
	korch_client_free(bob);
}

static void
test_token_file_reload(void **state)
{
	struct harness *h = *state;
	korch_client *bob = harness_client(h, BOB_TOKEN);
	korch_object *out = NULL;
	korch_error *err = NULL;
	assert_int_equal(korch_client_list(bob, "pods", "default", NULL, &out, &err),
			 KORCH_EFORBIDDEN);
	korch_error_free(steal_pointer(&err));
	/* bob's token revoked: refused within the quarter second the file is checked in. */
	const char *only_admin = ADMIN_TOKEN ",admin,admin,\"system:masters\"\n";
	assert_int_equal(write_file_atomic(h->tokens, only_admin, strlen(only_admin), 0600, NULL),
			 0);
	usleep(300 * 1000);
	assert_int_equal(korch_client_list(bob, "pods", "default", NULL, &out, &err),
			 KORCH_EUNAUTHORIZED);
	assert_string_equal(korch_error_message(err), "Unauthorized");
	korch_error_free(err);
	korch_client_free(bob);
}

/* ---- limits ---- */

static int
setup_limits(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	h->opts.max_read_inflight = 1;
	h->opts.header_timeout_s = 1;
	harness_start(h, TOKENS);
	*state = h;
	return 0;
}

static int
connect_raw(struct harness *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, h->socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
test_limits(void **state)
{
	struct harness *h = *state;
	korch_client *c = harness_client(h, NULL);
	/* A list too big for the socket buffers, requested and not read: it stays in flight. */
	char *data = malloc(8192);
	memset(data, 'x', 8191);
	data[8191] = '\0';
	for (int i = 0; i < 200; i++) {
		char name[32];
		snprintf(name, sizeof(name), "big%d", i);
		korch_object *o = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
		korch_object_set_string(o, "metadata.name", name, NULL);
		korch_object_set_string(o, "data.blob", data, NULL);
		assert_int_equal(korch_client_create(c, o, NULL, NULL, NULL), 0);
		korch_object_free(o);
	}
	free(data);
	int slow = connect_raw(h);
	const char *get = "GET /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(write_all(slow, get, strlen(get)), 0);
	usleep(200 * 1000);
	/* The next read-only request: 429 with Retry-After, at once. */
	struct http_reply r;
	assert_int_equal(
		http_raw(h, "GET /api/v1/namespaces/default/configmaps/big1 HTTP/1.1", NULL, 0, &r),
		0);
	assert_int_equal(r.status, 429);
	char *ra = http_header(&r, "Retry-After");
	assert_string_equal(ra, "1");
	free(ra);
	http_reply_free(&r);
	/* Health is not counted. */
	assert_int_equal(http_raw(h, "GET /healthz HTTP/1.1", NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	http_reply_free(&r);
	close(slow);
	/* A client that never finishes its headers is cut off after the header timeout. */
	int lazy = connect_raw(h);
	assert_int_equal(write_all(lazy, "GET /api", 8), 0);
	struct pollfd pfd = { .fd = lazy, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 4000), 1);
	char buf[16];
	assert_int_equal(read(lazy, buf, sizeof(buf)), 0);
	close(lazy);
	korch_client_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rbac_matrix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_collection_and_scale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_object_and_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery_and_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_expired, setup_compacting, teardown),
		cmocka_unit_test_setup_teardown(test_watch_fanout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_client_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_file_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup_limits, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
