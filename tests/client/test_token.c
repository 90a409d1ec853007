/*
 * ServiceAccount tokens: ES256 JWTs signed and verified, TokenRequest through the client (the
 * ServiceAccount and the bound pod must exist), and the raw change watch with the
 * previous state that the API server's watch cache reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "client-env.h"
#include "client/client.h"
#include "client/token.h"
#include "test-util.h"

/* 2026-11-26T15:41:00Z */
#define T0_S 1795707660LL
#define T0 (T0_S * NSEC_PER_SEC)
#define ISSUER "https://kubernetes.default.svc.cluster.local"

static char *
new_key_pem(int curve_bits)
{
	gnutls_x509_privkey_t key;
	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	assert_int_equal(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, curve_bits, 0), 0);
	gnutls_datum_t d;
	assert_int_equal(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
							   GNUTLS_PKCS_PLAIN, &d),
			 0);
	char *pem = strndup((const char *)d.data, d.size);
	gnutls_free(d.data);
	gnutls_x509_privkey_deinit(key);
	return pem;
}

static struct token_signer *
signer(void)
{
	char *pem = new_key_pem(GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
	struct token_signer *s = NULL;
	assert_int_equal(token_signer_new(pem, ISSUER, &s, NULL), 0);
	free(pem);
	return s;
}

static struct token_claims
claims(void)
{
	return (struct token_claims){ .ns = "default",
				      .sa_name = "app",
				      .sa_uid = "0b8d6d44-47e0-4a39-9b55-7a6fb0a1e6c5",
				      .issued_s = T0_S,
				      .expires_s = T0_S + 3600 };
}

static void
test_sign_and_verify(void **state)
{
	struct token_signer *s = signer();
	struct token_claims c = claims();
	c.pod_name = "web-1";
	c.pod_uid = "9d3c1d2e-aaaa-4bbb-8ccc-0123456789ab";
	char *jwt = NULL;
	assert_int_equal(token_sign(s, &c, &jwt, NULL), 0);
	/* Three base64url parts, no padding. */
	assert_null(strchr(jwt, '='));
	char *dot1 = strchr(jwt, '.');
	assert_non_null(dot1);
	assert_non_null(strchr(dot1 + 1, '.'));
	struct token_claims got;
	assert_int_equal(token_verify(s, jwt, T0_S + 10, &got, NULL), 0);
	assert_string_equal(got.ns, "default");
	assert_string_equal(got.sa_name, "app");
	assert_string_equal(got.sa_uid, c.sa_uid);
	assert_string_equal(got.pod_name, "web-1");
	assert_string_equal(got.pod_uid, c.pod_uid);
	assert_int_equal(got.expires_s, T0_S + 3600);
	assert_string_equal(json_string_value(json_array_get(got.audiences, 0)), ISSUER);
	token_claims_clear(&got);
	free(jwt);
	token_signer_free(s);
}

static void
test_verify_refuses(void **state)
{
	struct token_signer *s = signer(), *other = signer();
	struct token_claims c = claims();
	char *jwt = NULL;
	assert_int_equal(token_sign(s, &c, &jwt, NULL), 0);
	struct token_claims got;
	korch_error *err = NULL;
	/* Expired: past exp plus the one minute of leeway. */
	assert_int_equal(token_verify(s, jwt, T0_S + 3600 + 61, &got, &err), KORCH_EUNAUTHORIZED);
	assert_string_equal(korch_error_message(err), "token has expired");
	korch_error_free(steal_pointer(&err));
	assert_int_equal(token_verify(s, jwt, T0_S + 3600 + 59, &got, NULL), 0);
	token_claims_clear(&got);
	/* Not valid before nbf. */
	assert_int_equal(token_verify(s, jwt, T0_S - 120, &got, &err), KORCH_EUNAUTHORIZED);
	assert_string_equal(korch_error_message(err), "token is not valid yet");
	korch_error_free(steal_pointer(&err));
	/* Another key's signature. */
	assert_int_equal(token_verify(other, jwt, T0_S, &got, &err), KORCH_EUNAUTHORIZED);
	assert_string_equal(korch_error_message(err), "invalid token signature");
	korch_error_free(steal_pointer(&err));
	/* One character of the payload changed. */
	char *dot = strchr(jwt, '.');
	dot[5] = dot[5] == 'A' ? 'B' : 'A';
	assert_int_equal(token_verify(s, jwt, T0_S, &got, &err), KORCH_EUNAUTHORIZED);
	korch_error_free(steal_pointer(&err));
	/* Not a JWT at all. */
	assert_int_equal(token_verify(s, "abc.def", T0_S, &got, &err), KORCH_EUNAUTHORIZED);
	assert_string_equal(korch_error_message(err), "not a JWT");
	korch_error_free(steal_pointer(&err));
	/* Another audience. */
	free(jwt);
	c.audiences = json_pack("[s]", "vault");
	assert_int_equal(token_sign(s, &c, &jwt, NULL), 0);
	json_decref(c.audiences);
	assert_int_equal(token_verify(s, jwt, T0_S, &got, &err), KORCH_EUNAUTHORIZED);
	assert_string_equal(korch_error_message(err), "token audience does not include " ISSUER);
	korch_error_free(err);
	free(jwt);
	token_signer_free(s);
	token_signer_free(other);
}

static void
test_signer_key_kind(void **state)
{
	char *pem = new_key_pem(GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1));
	struct token_signer *s = NULL;
	korch_error *err = NULL;
	assert_int_equal(token_signer_new(pem, ISSUER, &s, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "the signing key is not an ECDSA P-256 key");
	korch_error_free(err);
	free(pem);
	err = NULL;
	assert_int_equal(token_signer_new("not a key", ISSUER, &s, &err), KORCH_EINVALID);
	korch_error_free(err);
}

/* ---- through the client ---- */

static json_t *
create(struct env *e, const char *text)
{
	_cleanup_json_ json_t *obj = test_yaml(text);
	json_t *out = NULL;
	korch_error *err = NULL;
	struct client_write_opts o = { .field_manager = "test" };
	if (client_create(e->client, obj, &o, &out, &err) < 0)
		fail_msg("create: %s", korch_error_message(err));
	return out;
}

static void
signer_free(void *p)
{
	token_signer_free(p);
}

static int
setup(void **state)
{
	if (env_setup(state, "token") < 0)
		return -1;
	struct env *e = *state;
	e->data = signer();
	e->fini = signer_free;
	json_decref(create(e, "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n"));
	return 0;
}

static const char pod_yaml[] = "apiVersion: v1\n"
			       "kind: Pod\n"
			       "metadata: {name: web, namespace: default}\n"
			       "spec:\n"
			       "  containers: [{name: main, image: busybox}]\n";

static void
test_token_request(void **state)
{
	struct env *e = *state;
	json_t *out = NULL;
	korch_error *err = NULL;
	_cleanup_json_ json_t *req = test_yaml("apiVersion: authentication.k8s.io/v1\n"
					       "kind: TokenRequest\n"
					       "spec: {expirationSeconds: 1200}\n");
	/* No signer: not available. */
	assert_int_equal(client_token_request(e->client, "default", "app", req, &out, &err),
			 KORCH_EUNSUPPORTED);
	korch_error_free(steal_pointer(&err));
	client_set_token_signer(e->client, e->data);
	/* No such ServiceAccount. */
	assert_int_equal(client_token_request(e->client, "default", "app", req, &out, &err),
			 KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "serviceaccounts \"app\" not found");
	korch_error_free(steal_pointer(&err));
	_cleanup_json_ json_t *sa =
		create(e, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, "
			  "namespace: default}\n");
	assert_int_equal(client_token_request(e->client, "default", "app", req, &out, &err), 0);
	const char *jwt =
		json_string_value(json_object_get(json_object_get(out, "status"), "token"));
	assert_non_null(jwt);
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "status"),
							      "expirationTimestamp")),
			    "2026-11-26T16:01:00Z");
	struct token_claims c;
	assert_int_equal(token_verify(e->data, jwt, T0_S, &c, NULL), 0);
	assert_string_equal(c.sa_uid, json_string_value(json_object_get(
					      json_object_get(sa, "metadata"), "uid")));
	assert_null(c.pod_name);
	assert_int_equal(c.expires_s, T0_S + 1200);
	token_claims_clear(&c);
	json_decref(out);
	/* Too short a lifetime. */
	_cleanup_json_ json_t *short_req = test_yaml("spec: {expirationSeconds: 60}\n");
	assert_int_equal(client_token_request(e->client, "default", "app", short_req, &out, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "TokenRequest.authentication.k8s.io \"app\" is invalid: "
			    "spec.expirationSeconds: Invalid value: 60: may not specify a duration "
			    "less than 10 minutes");
	assert_string_equal(korch_error_cause_field(err, 0), "spec.expirationSeconds");
	korch_error_free(steal_pointer(&err));
	/* Bound to a pod: the pod must exist with that uid. */
	_cleanup_json_ json_t *bound =
		test_yaml("spec:\n  boundObjectRef: {kind: Pod, apiVersion: v1, "
			  "name: web}\n");
	assert_int_equal(client_token_request(e->client, "default", "app", bound, &out, &err),
			 KORCH_ENOTFOUND);
	korch_error_free(steal_pointer(&err));
	_cleanup_json_ json_t *pod = create(e, pod_yaml);
	assert_int_equal(client_token_request(e->client, "default", "app", bound, &out, &err), 0);
	jwt = json_string_value(json_object_get(json_object_get(out, "status"), "token"));
	assert_int_equal(token_verify(e->data, jwt, T0_S, &c, NULL), 0);
	assert_string_equal(c.pod_name, "web");
	assert_string_equal(c.pod_uid, json_string_value(json_object_get(
					       json_object_get(pod, "metadata"), "uid")));
	assert_int_equal(c.expires_s, T0_S + 3600);
	token_claims_clear(&c);
	json_decref(out);
	client_set_token_signer(e->client, NULL);
}

struct seen {
	int n;
	enum client_event_type types[8];
	char prev_image[8][32];
};

static void
on_change(struct client_watch *w, enum client_event_type type, const json_t *obj,
	  const json_t *prev, void *userdata)
{
	struct seen *s = userdata;
	if (s->n == 8)
		return;
	s->types[s->n] = type;
	const json_t *c =
		json_array_get(json_object_get(json_object_get(prev, "spec"), "containers"), 0);
	snprintf(s->prev_image[s->n], sizeof(s->prev_image[0]), "%s",
		 prev ? json_string_value(json_object_get(c, "image")) : "-");
	s->n++;
}

static void
test_watch_changes(void **state)
{
	struct env *e = *state;
	int64_t rev = 0;
	assert_int_equal(store_revision(e->store, &rev, NULL, NULL), 0);
	struct seen s = { 0 };
	struct client_watch *w = NULL;
	assert_int_equal(client_watch_changes(e->client, kind_lookup("v1", "Pod"), rev, on_change,
					      &s, &w, NULL),
			 0);
	json_decref(create(e, pod_yaml));
	_cleanup_json_ json_t *patch =
		test_yaml("spec: {containers: [{name: main, image: nginx}]}\n");
	assert_int_equal(client_patch(e->client, kind_lookup("v1", "Pod"), "default", "web",
				      CLIENT_PATCH_STRATEGIC, patch, NULL, NULL, NULL, NULL),
			 0);
	assert_int_equal(client_delete(e->client, kind_lookup("v1", "Pod"), "default", "web", NULL,
				       NULL, NULL),
			 0);
	korch_loop_dispatch(e->loop, 0, NULL);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.types[0], CLIENT_EVENT_ADDED);
	assert_string_equal(s.prev_image[0], "-");
	assert_int_equal(s.types[1], CLIENT_EVENT_MODIFIED);
	assert_string_equal(s.prev_image[1], "busybox");
	assert_int_equal(s.types[2], CLIENT_EVENT_DELETED);
	assert_string_equal(s.prev_image[2], "nginx");
	client_watch_free(w);
}

static json_t *
create_err(struct env *e, const char *text, korch_error **err)
{
	_cleanup_json_ json_t *obj = test_yaml(text);
	json_t *out = NULL;
	struct client_write_opts o = { .field_manager = "test" };
	if (client_create(e->client, obj, &o, &out, err) < 0)
		return NULL;
	return out;
}

static void
test_service_account_admission(void **state)
{
	struct env *e = *state;
	/* Without a token issuer: the name defaulted, no volume, a missing named account is fine. */
	_cleanup_json_ json_t *plain = create(e, "apiVersion: v1\nkind: Pod\n"
						 "metadata: {name: plain, namespace: default}\n"
						 "spec:\n  serviceAccountName: ghost\n"
						 "  containers: [{name: a, image: busybox}]\n");
	assert_string_equal(json_string_value(json_object_get(json_object_get(plain, "spec"),
							      "serviceAccountName")),
			    "ghost");
	assert_null(json_object_get(json_object_get(plain, "spec"), "volumes"));
	client_set_token_signer(e->client, e->data);
	/* The default account needs not exist yet; the token volume is mounted everywhere. */
	_cleanup_json_ json_t *pod = create(e, "apiVersion: v1\n"
					       "kind: Pod\n"
					       "metadata: {name: web, namespace: default}\n"
					       "spec:\n"
					       "  initContainers: [{name: init, image: busybox}]\n"
					       "  containers:\n"
					       "  - {name: a, image: busybox}\n"
					       "  - name: b\n"
					       "    image: busybox\n"
					       "    volumeMounts:\n"
					       "    - {name: own, mountPath: "
					       "/var/run/secrets/kubernetes.io/serviceaccount}\n"
					       "  volumes: [{name: own, emptyDir: {}}]\n");
	json_t *spec = json_object_get(pod, "spec");
	assert_string_equal(json_string_value(json_object_get(spec, "serviceAccountName")),
			    "default");
	json_t *vol = json_array_get(json_object_get(spec, "volumes"), 1);
	const char *vname = json_string_value(json_object_get(vol, "name"));
	assert_int_equal(strlen(vname), strlen("kube-api-access-xxxxx"));
	assert_true(strncmp(vname, "kube-api-access-", 16) == 0);
	json_t *sources = json_object_get(json_object_get(vol, "projected"), "sources");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(sources, 0), "serviceAccountToken"),
				 "expirationSeconds")),
			 3607);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(sources, 1), "configMap"), "name")),
		"kube-root-ca.crt");
	/* a and init got the mount; b keeps its own volume at that path. */
	json_t *a = json_array_get(json_object_get(spec, "containers"), 0);
	json_t *b = json_array_get(json_object_get(spec, "containers"), 1);
	json_t *init = json_array_get(json_object_get(spec, "initContainers"), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(a, "volumeMounts"), 0), "name")),
			    vname);
	assert_true(json_is_true(json_object_get(
		json_array_get(json_object_get(a, "volumeMounts"), 0), "readOnly")));
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(init, "volumeMounts"), 0), "name")),
		vname);
	assert_int_equal(json_array_size(json_object_get(b, "volumeMounts")), 1);
	/* automountServiceAccountToken: false on the pod: nothing mounted. */
	_cleanup_json_ json_t *off = create(e, "apiVersion: v1\nkind: Pod\n"
					       "metadata: {name: noauto, namespace: default}\n"
					       "spec:\n  automountServiceAccountToken: false\n"
					       "  containers: [{name: a, image: busybox}]\n");
	assert_null(json_object_get(json_object_get(off, "spec"), "volumes"));
	/* A named account must exist. */
	korch_error *err = NULL;
	assert_null(create_err(e,
			       "apiVersion: v1\nkind: Pod\n"
			       "metadata: {name: named, namespace: default}\n"
			       "spec:\n  serviceAccountName: robot\n"
			       "  containers: [{name: a, image: busybox}]\n",
			       &err));
	assert_int_equal(korch_error_code(err), KORCH_EFORBIDDEN);
	assert_string_equal(korch_error_message(err),
			    "pods \"named\" is forbidden: error looking up service account "
			    "default/robot: serviceaccount \"robot\" not found");
	korch_error_free(err);
	/* An account that turns automounting off. */
	json_decref(create(e, "apiVersion: v1\nkind: ServiceAccount\n"
			      "metadata: {name: robot, namespace: default}\n"
			      "automountServiceAccountToken: false\n"));
	_cleanup_json_ json_t *quiet = create(e, "apiVersion: v1\nkind: Pod\n"
						 "metadata: {name: quiet, namespace: default}\n"
						 "spec:\n  serviceAccountName: robot\n"
						 "  containers: [{name: a, image: busybox}]\n");
	assert_null(json_object_get(json_object_get(quiet, "spec"), "volumes"));
	client_set_token_signer(e->client, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_and_verify),
		cmocka_unit_test(test_verify_refuses),
		cmocka_unit_test(test_signer_key_kind),
		cmocka_unit_test_setup_teardown(test_token_request, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_watch_changes, setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_service_account_admission, setup,
						env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
