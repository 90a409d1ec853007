/*
 * token.h - ServiceAccount tokens: JWTs signed with ES256 (ECDSA P-256, SHA-256) as
 * kube-apiserver issues them through TokenRequest and mounts them into pods, and their
 * verification when they come back as bearer tokens.
 *
 * A token's claims follow kube-apiserver's: iss, sub "system:serviceaccount:NS:NAME", aud,
 * iat, nbf, exp, jti, and "kubernetes.io" with namespace, serviceaccount {name, uid} and, for a
 * token bound to a pod, pod {name, uid}. The header carries kid: the base64url SHA-256 of the
 * public key's DER form.
 */
#ifndef KORCH_CLIENT_TOKEN_H
#define KORCH_CLIENT_TOKEN_H

#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/macro.h"

struct token_signer;

/* What a token says about its holder. Strings are owned (token_claims_clear). */
struct token_claims {
	char *ns;          /* the ServiceAccount's namespace */
	char *sa_name;     /* its name */
	char *sa_uid;      /* its uid */
	char *pod_name;    /* the pod the token is bound to, or NULL */
	char *pod_uid;     /* its uid, or NULL */
	json_t *audiences; /* a JSON array of strings */
	int64_t issued_s;  /* iat and nbf, seconds since the epoch */
	int64_t expires_s; /* exp */
};

void token_claims_clear(struct token_claims *c);

/*
 * A signer over an EC P-256 private key in PEM (PKCS#8 or SEC1); issuer is the iss claim and the
 * default audience. KORCH_EINVALID when the key is not a P-256 key.
 */
int token_signer_new(const char *key_pem, const char *issuer, struct token_signer **ret,
		     korch_error **err);
void token_signer_free(struct token_signer *s);
const char *token_signer_issuer(const struct token_signer *s);

/* Signs claims (audiences NULL: the issuer) into a compact JWS; *ret_jwt is the caller's. */
int token_sign(struct token_signer *s, const struct token_claims *claims, char **ret_jwt,
	       korch_error **err);

/*
 * Verifies a token signed by this signer at now_s: the signature, the issuer, exp and nbf (one
 * minute of leeway), and that the audience includes the issuer. KORCH_EUNAUTHORIZED naming the
 * problem otherwise. *ret is filled only on success.
 */
int token_verify(struct token_signer *s, const char *jwt, int64_t now_s, struct token_claims *ret,
		 korch_error **err);

DEFINE_CLEANUP_FUNC(token_signer_free, struct token_signer, token_signer_free)

#endif
