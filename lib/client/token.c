/*
 * token.c - ServiceAccount JWTs (ES256) signed and verified with GnuTLS; base64url from nettle.
 */
#include <stdlib.h>
#include <string.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/base64.h>
#include <nettle/sha2.h>
#include <uuid/uuid.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "client/token.h"

/* Clock skew accepted on exp and nbf, as kube-apiserver's validator allows. */
#define LEEWAY_S 60

struct token_signer {
	gnutls_privkey_t key; /* signs */
	gnutls_pubkey_t pub;  /* verifies */
	char *issuer;         /* iss and default audience */
	char kid[64];         /* base64url SHA-256 of the public key's DER */
};

void
token_claims_clear(struct token_claims *c)
{
	free(c->ns);
	free(c->sa_name);
	free(c->sa_uid);
	free(c->pod_name);
	free(c->pod_uid);
	json_decref(c->audiences);
	*c = (struct token_claims){ 0 };
}

static void
b64url(struct strbuf *out, const void *data, size_t len)
{
	size_t need = BASE64_ENCODE_LENGTH(len) + BASE64_ENCODE_FINAL_LENGTH;
	if (strbuf_reserve(out, need + 1) < 0)
		return;
	struct base64_encode_ctx ctx;
	base64url_encode_init(&ctx);
	char *p = out->buf + out->len;
	size_t n = base64_encode_update(&ctx, p, len, data);
	n += base64_encode_final(&ctx, p + n);
	/* JWS drops the padding. */
	while (n && p[n - 1] == '=')
		n--;
	out->len += n;
	out->buf[out->len] = '\0';
}

/* Decodes unpadded base64url; *ret_len bytes in a new buffer. */
static int
b64url_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len)
{
	uint8_t *buf = malloc(BASE64_DECODE_LENGTH(len) + 3);
	if (!buf)
		return KORCH_ENOMEM;
	struct base64_decode_ctx ctx;
	base64url_decode_init(&ctx);
	size_t n = BASE64_DECODE_LENGTH(len) + 3;
	char pad[3] = "==";
	size_t n2 = 0;
	if (!base64_decode_update(&ctx, &n, buf, len, in)) {
		free(buf);
		return KORCH_EINVALID;
	}
	/* Feed the padding the encoder dropped, so that decode_final accepts the tail. */
	size_t padlen = (4 - len % 4) % 4;
	if (padlen == 3) {
		free(buf);
		return KORCH_EINVALID;
	}
	if (padlen) {
		n2 = BASE64_DECODE_LENGTH(len) + 3 - n;
		if (!base64_decode_update(&ctx, &n2, buf + n, padlen, pad)) {
			free(buf);
			return KORCH_EINVALID;
		}
	}
	if (!base64_decode_final(&ctx)) {
		free(buf);
		return KORCH_EINVALID;
	}
	*ret = buf;
	*ret_len = n + n2;
	return 0;
}

int
token_signer_new(const char *key_pem, const char *issuer, struct token_signer **ret,
		 korch_error **err)
{
	struct token_signer *s = calloc(1, sizeof(*s));
	if (!s || !(s->issuer = strdup(issuer))) {
		free(s);
		return error_oom(err);
	}
	_cleanup_(token_signer_freep) struct token_signer *guard = s;
	gnutls_datum_t d = { (unsigned char *)key_pem, (unsigned)strlen(key_pem) };
	int g;
	if ((g = gnutls_privkey_init(&s->key)) < 0 ||
	    (g = gnutls_privkey_import_x509_raw(s->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
		return error_set(err, KORCH_EINVALID, "read the signing key: %s",
				 gnutls_strerror(g));
	unsigned bits = 0;
	if (gnutls_privkey_get_pk_algorithm(s->key, &bits) != GNUTLS_PK_ECDSA || bits != 256)
		return error_set(err, KORCH_EINVALID, "the signing key is not an ECDSA P-256 key");
	if ((g = gnutls_pubkey_init(&s->pub)) < 0 ||
	    (g = gnutls_pubkey_import_privkey(s->pub, s->key, 0, 0)) < 0)
		return error_set(err, KORCH_EINVALID, "the signing key's public key: %s",
				 gnutls_strerror(g));
	gnutls_datum_t der = { 0 };
	if ((g = gnutls_pubkey_export2(s->pub, GNUTLS_X509_FMT_DER, &der)) < 0)
		return error_set(err, KORCH_EINVALID, "export the public key: %s",
				 gnutls_strerror(g));
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx sha;
	sha256_init(&sha);
	sha256_update(&sha, der.size, der.data);
	sha256_digest(&sha, sizeof(digest), digest);
	gnutls_free(der.data);
	_cleanup_strbuf_ struct strbuf kid = STRBUF_INIT;
	b64url(&kid, digest, sizeof(digest));
	if (kid.oom || kid.len >= sizeof(s->kid))
		return error_oom(err);
	memcpy(s->kid, kid.buf, kid.len + 1);
	*ret = steal_pointer(&guard);
	return 0;
}

void
token_signer_free(struct token_signer *s)
{
	if (!s)
		return;
	if (s->key)
		gnutls_privkey_deinit(s->key);
	if (s->pub)
		gnutls_pubkey_deinit(s->pub);
	free(s->issuer);
	free(s);
}

const char *
token_signer_issuer(const struct token_signer *s)
{
	return s->issuer;
}

/* An unsigned big-endian integer, left-padded (or stripped of leading zeros) to 32 bytes. */
static void
put_fixed32(struct strbuf *sb, const gnutls_datum_t *v)
{
	unsigned char out[32] = { 0 };
	size_t n = v->size;
	const unsigned char *p = v->data;
	while (n > 32 && *p == 0) {
		p++;
		n--;
	}
	if (n <= 32)
		memcpy(out + 32 - n, p, n);
	strbuf_append(sb, (const char *)out, sizeof(out));
}

int
token_sign(struct token_signer *s, const struct token_claims *c, char **ret_jwt, korch_error **err)
{
	uuid_t u;
	char jti[37];
	uuid_generate_random(u);
	uuid_unparse_lower(u, jti);
	char sub[512];
	snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", c->ns, c->sa_name);
	_cleanup_json_ json_t *k8s =
		json_pack("{s:s, s:{s:s, s:s}}", "namespace", c->ns, "serviceaccount", "name",
			  c->sa_name, "uid", c->sa_uid ? c->sa_uid : "");
	if (k8s && c->pod_name)
		json_object_set_new(k8s, "pod",
				    json_pack("{s:s, s:s}", "name", c->pod_name, "uid",
					      c->pod_uid ? c->pod_uid : ""));
	json_t *aud = c->audiences ? json_incref(c->audiences) : json_pack("[s]", s->issuer);
	_cleanup_json_ json_t *payload =
		k8s ? json_pack("{s:o, s:I, s:I, s:s, s:s, s:O, s:I, s:s}", "aud", aud, "exp",
				(json_int_t)c->expires_s, "iat", (json_int_t)c->issued_s, "iss",
				s->issuer, "jti", jti, "kubernetes.io", k8s, "nbf",
				(json_int_t)c->issued_s, "sub", sub)
		    : NULL;
	_cleanup_json_ json_t *header = json_pack("{s:s, s:s}", "alg", "ES256", "kid", s->kid);
	_cleanup_free_ char *ptext = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	_cleanup_free_ char *htext = header ? json_dumps(header, JSON_COMPACT) : NULL;
	if (!ptext || !htext)
		return error_oom(err);
	_cleanup_strbuf_ struct strbuf jwt = STRBUF_INIT;
	b64url(&jwt, htext, strlen(htext));
	strbuf_putc(&jwt, '.');
	b64url(&jwt, ptext, strlen(ptext));
	if (jwt.oom)
		return error_oom(err);
	gnutls_datum_t data = { (unsigned char *)jwt.buf, (unsigned)jwt.len };
	gnutls_datum_t der = { 0 }, r = { 0 }, sv = { 0 };
	int g = gnutls_privkey_sign_data2(s->key, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der);
	if (g < 0)
		return error_set(err, KORCH_ESYSTEM, "sign the token: %s", gnutls_strerror(g));
	g = gnutls_decode_rs_value(&der, &r, &sv);
	gnutls_free(der.data);
	if (g < 0)
		return error_set(err, KORCH_ESYSTEM, "sign the token: %s", gnutls_strerror(g));
	_cleanup_strbuf_ struct strbuf raw = STRBUF_INIT;
	put_fixed32(&raw, &r);
	put_fixed32(&raw, &sv);
	gnutls_free(r.data);
	gnutls_free(sv.data);
	strbuf_putc(&jwt, '.');
	b64url(&jwt, raw.buf, raw.len);
	if (jwt.oom || raw.oom)
		return error_oom(err);
	*ret_jwt = strbuf_steal(&jwt);
	return 0;
}

static char *
dup_str(const json_t *v)
{
	const char *s = json_string_value(v);
	return s ? strdup(s) : NULL;
}

static bool
audience_ok(const json_t *aud, const char *issuer)
{
	if (json_is_string(aud))
		return streq(json_string_value(aud), issuer);
	size_t i;
	json_t *a;
	json_array_foreach (aud, i, a)
		if (streq(json_string_value(a), issuer))
			return true;
	return false;
}

int
token_verify(struct token_signer *s, const char *jwt, int64_t now_s, struct token_claims *ret,
	     korch_error **err)
{
	const char *dot1 = strchr(jwt, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot1 || !dot2 || strchr(dot2 + 1, '.'))
		return error_set(err, KORCH_EUNAUTHORIZED, "not a JWT");
	_cleanup_free_ uint8_t *htext = NULL, *ptext = NULL, *sig = NULL;
	size_t hlen, plen, slen;
	if (b64url_decode(jwt, (size_t)(dot1 - jwt), &htext, &hlen) < 0 ||
	    b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &ptext, &plen) < 0 ||
	    b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig, &slen) < 0)
		return error_set(err, KORCH_EUNAUTHORIZED, "malformed JWT encoding");
	_cleanup_json_ json_t *header = NULL, *payload = NULL;
	if (codec_json_decode((const char *)htext, hlen, &header, NULL) < 0 ||
	    codec_json_decode((const char *)ptext, plen, &payload, NULL) < 0 ||
	    !json_is_object(header) || !json_is_object(payload))
		return error_set(err, KORCH_EUNAUTHORIZED, "malformed JWT");
	if (!streq(json_string_value(json_object_get(header, "alg")), "ES256") || slen != 64)
		return error_set(err, KORCH_EUNAUTHORIZED, "unsupported JWT algorithm");
	gnutls_datum_t r = { sig, 32 }, sv = { sig + 32, 32 }, der = { 0 };
	if (gnutls_encode_rs_value(&der, &r, &sv) < 0)
		return error_set(err, KORCH_EUNAUTHORIZED, "bad signature encoding");
	gnutls_datum_t data = { (unsigned char *)jwt, (unsigned)(dot2 - jwt) };
	int g = gnutls_pubkey_verify_data2(s->pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der);
	gnutls_free(der.data);
	if (g < 0)
		return error_set(err, KORCH_EUNAUTHORIZED, "invalid token signature");
	if (!streq(json_string_value(json_object_get(payload, "iss")), s->issuer))
		return error_set(err, KORCH_EUNAUTHORIZED, "token issuer is not %s", s->issuer);
	json_t *exp = json_object_get(payload, "exp");
	json_t *nbf = json_object_get(payload, "nbf");
	if (!json_is_integer(exp) || json_integer_value(exp) + LEEWAY_S < now_s)
		return error_set(err, KORCH_EUNAUTHORIZED, "token has expired");
	if (json_is_integer(nbf) && json_integer_value(nbf) - LEEWAY_S > now_s)
		return error_set(err, KORCH_EUNAUTHORIZED, "token is not valid yet");
	json_t *aud = json_object_get(payload, "aud");
	if (!audience_ok(aud, s->issuer))
		return error_set(err, KORCH_EUNAUTHORIZED, "token audience does not include %s",
				 s->issuer);
	json_t *k8s = json_object_get(payload, "kubernetes.io");
	json_t *sa = json_object_get(k8s, "serviceaccount");
	json_t *pod = json_object_get(k8s, "pod");
	struct token_claims c = {
		.ns = dup_str(json_object_get(k8s, "namespace")),
		.sa_name = dup_str(json_object_get(sa, "name")),
		.sa_uid = dup_str(json_object_get(sa, "uid")),
		.pod_name = dup_str(json_object_get(pod, "name")),
		.pod_uid = dup_str(json_object_get(pod, "uid")),
		.audiences = json_is_array(aud) ? json_incref(aud) : json_pack("[O]", aud),
		.issued_s = json_integer_value(json_object_get(payload, "iat")),
		.expires_s = json_integer_value(exp),
	};
	if (!c.ns || !c.sa_name) {
		token_claims_clear(&c);
		return error_set(err, KORCH_EUNAUTHORIZED, "token names no ServiceAccount");
	}
	*ret = c;
	return 0;
}
