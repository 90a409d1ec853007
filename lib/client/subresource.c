/*
 * subresource.c - TokenRequest: ServiceAccount tokens minted for the serviceaccounts/token
 * subresource (kubectl create token, the projected volume of pods).
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "client/client-internal.h"
#include "client/token.h"

/* kube-apiserver's bounds on expirationSeconds. */
#define TOKEN_MIN_SECONDS 600
#define TOKEN_MAX_SECONDS (1LL << 32)
#define TOKEN_DEFAULT_SECONDS 3600

void
client_set_token_signer(struct client *c, struct token_signer *signer)
{
	c->signer = signer;
}

struct token_signer *
client_token_signer(struct client *c)
{
	return c->signer;
}

static const char *
meta_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

int
client_token_request(struct client *c, const char *ns, const char *name, const json_t *request,
		     json_t **ret, korch_error **err)
{
	if (!c->signer)
		return error_set(
			err, KORCH_EUNSUPPORTED,
			"ServiceAccount tokens need a signing key, and this client has none");
	const json_t *spec = json_object_get(request, "spec");
	if (request && !json_is_object(request))
		return error_set(err, KORCH_EINVALID, "a TokenRequest must be a JSON object");
	json_t *exp = json_object_get(spec, "expirationSeconds");
	int64_t seconds = TOKEN_DEFAULT_SECONDS;
	if (exp && !json_is_null(exp)) {
		if (!json_is_integer(exp))
			return error_add_cause(err, "FieldValueTypeInvalid",
					       "spec.expirationSeconds", "expected an integer");
		seconds = json_integer_value(exp);
		const char *why = seconds < TOKEN_MIN_SECONDS
					  ? "may not specify a duration less than 10 minutes"
				  : seconds > TOKEN_MAX_SECONDS
					  ? "may not specify a duration larger than 2^32 seconds"
					  : NULL;
		if (why) {
			korch_error *e = NULL;
			error_add_cause(&e, "FieldValueInvalid", "spec.expirationSeconds", "%s",
					why);
			if (e)
				error_set_message(
					e,
					"TokenRequest.authentication.k8s.io \"%s\" is "
					"invalid: spec.expirationSeconds: Invalid value: %lld: "
					"%s",
					name, (long long)seconds, why);
			return error_propagate(err, &e, KORCH_EINVALID);
		}
	}
	const struct kind_info *sak = kind_lookup("v1", "ServiceAccount");
	_cleanup_json_ json_t *sa = NULL;
	int r = client_get(c, sak, ns, name, &sa, err);
	if (r < 0)
		return r;
	struct token_claims claims = {
		.ns = (char *)ns,
		.sa_name = (char *)name,
		.sa_uid = (char *)meta_str(sa, "uid"),
	};
	_cleanup_json_ json_t *pod = NULL;
	const json_t *ref = json_object_get(spec, "boundObjectRef");
	if (ref && !json_is_null(ref)) {
		const char *kind = json_string_value(json_object_get(ref, "kind"));
		const char *pname = json_string_value(json_object_get(ref, "name"));
		const char *puid = json_string_value(json_object_get(ref, "uid"));
		if (!streq(kind, "Pod") || !pname)
			return error_set(err, KORCH_EINVALID,
					 "spec.boundObjectRef: korch binds tokens to Pods only");
		if ((r = client_get(c, kind_lookup("v1", "Pod"), ns, pname, &pod, err)) < 0)
			return r;
		if (puid && *puid && !streq(puid, meta_str(pod, "uid")))
			return error_set(
				err, KORCH_ECONFLICT,
				"the UID in the bound object reference (%s) does not match "
				"the UID in record. The object might have been deleted and "
				"then recreated",
				puid);
		claims.pod_name = (char *)pname;
		claims.pod_uid = (char *)meta_str(pod, "uid");
	}
	json_t *audiences = json_object_get(spec, "audiences");
	if (json_is_array(audiences) && json_array_size(audiences))
		claims.audiences = audiences;
	int64_t now = korch_clock_wall_ns(c->clock) / NSEC_PER_SEC;
	claims.issued_s = now;
	claims.expires_s = now + seconds;
	_cleanup_free_ char *jwt = NULL;
	if ((r = token_sign(c->signer, &claims, &jwt, err)) < 0)
		return r;
	char expiry[32];
	format_rfc3339(claims.expires_s * NSEC_PER_SEC, false, expiry);
	json_t *aud = claims.audiences ? json_incref(claims.audiences)
				       : json_pack("[s]", token_signer_issuer(c->signer));
	json_t *out_spec = json_pack("{s:o, s:I, s:O?}", "audiences", aud, "expirationSeconds",
				     (json_int_t)seconds, "boundObjectRef", ref);
	json_t *out =
		json_pack("{s:s, s:s, s:{s:s, s:s, s:n}, s:o, s:{s:s, s:s}}", "kind",
			  "TokenRequest", "apiVersion", "authentication.k8s.io/v1", "metadata",
			  "name", name, "namespace", ns, "creationTimestamp", "spec", out_spec,
			  "status", "token", jwt, "expirationTimestamp", expiry);
	if (!out)
		return error_oom(err);
	*ret = out;
	return 0;
}
