/*
 * GitOps credentials: what a Secret's data gives a fetch (HTTP basic, a token, a bearer token,
 * an SSH key), its errors, and SSH host keys checked against known_hosts (plain, hashed,
 * wildcard, negated and bracketed entries, changed keys).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nettle/base64.h>
#include <nettle/hmac.h>

#include "base/json.h"
#include "gitops/gitops.h"

static char *
b64(const void *data, size_t len)
{
	char *out = calloc(1, BASE64_ENCODE_RAW_LENGTH(len) + 1);
	assert_non_null(out);
	base64_encode_raw(out, len, data);
	return out;
}

static json_t *
secret(const char *const *kv)
{
	json_t *data = json_object();
	for (; kv[0]; kv += 2) {
		char *v = b64(kv[1], strlen(kv[1]));
		json_object_set_new(data, kv[0], json_string(v));
		free(v);
	}
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "v1", "kind", "Secret",
			 "metadata", "name", "creds", "namespace", "default", "data", data);
}

static void
test_secret_values(void **state)
{
	(void)state;
	static const char *const basic[] = { "username", "bot", "password", "hunter2", NULL };
	_cleanup_json_ json_t *s1 = secret(basic);
	struct gitops_creds c = { 0 };
	assert_int_equal(gitops_creds_from_secret(s1, &c, NULL), 0);
	assert_string_equal(c.username, "bot");
	assert_string_equal(c.password, "hunter2");
	assert_null(c.bearer_token);
	assert_null(c.ssh_key);
	gitops_creds_clear(&c);
	assert_null(c.username);

	/* A token is the password of HTTP basic; an explicit password wins. */
	static const char *const token[] = { "token", "ghp_abc", "bearerToken", "eyJ", NULL };
	_cleanup_json_ json_t *s2 = secret(token);
	assert_int_equal(gitops_creds_from_secret(s2, &c, NULL), 0);
	assert_null(c.username);
	assert_string_equal(c.password, "ghp_abc");
	assert_string_equal(c.bearer_token, "eyJ");
	gitops_creds_clear(&c);

	static const char *const ssh[] = { "identity",
					   "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n",
					   "identity.pub",
					   "ssh-ed25519 AAAA",
					   "passphrase",
					   "p",
					   "known_hosts",
					   "git.example.com ssh-ed25519 AAAA\n",
					   NULL };
	_cleanup_json_ json_t *s3 = secret(ssh);
	assert_int_equal(gitops_creds_from_secret(s3, &c, NULL), 0);
	assert_string_equal(c.ssh_key, "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n");
	assert_string_equal(c.ssh_public_key, "ssh-ed25519 AAAA");
	assert_string_equal(c.ssh_passphrase, "p");
	assert_string_equal(c.known_hosts, "git.example.com ssh-ed25519 AAAA\n");
	gitops_creds_clear(&c);
}

static void
test_secret_errors(void **state)
{
	(void)state;
	_cleanup_json_ json_t *bad = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "name", "creds",
					       "data", "password", "not base64!");
	struct gitops_creds c = { 0 };
	korch_error *err = NULL;
	assert_int_equal(gitops_creds_from_secret(bad, &c, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "secret creds: data.password is not base64");
	korch_error_free(err);
	/* "a\0b" */
	_cleanup_json_ json_t *binary = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "name", "creds",
						  "data", "username", "YQBi");
	err = NULL;
	assert_int_equal(gitops_creds_from_secret(binary, &c, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "secret creds: data.username is not text");
	korch_error_free(err);
	assert_null(c.username);
}

/* The SSH wire form of an ed25519 public key with 32 bytes of fill. */
static size_t
ed25519_blob(unsigned char fill, unsigned char *out)
{
	static const unsigned char head[] = { 0,   0,   0,   11,  's', 's', 'h', '-', 'e', 'd',
					      '2', '5', '5', '1', '9', 0,   0,   0,   32 };
	memcpy(out, head, sizeof(head));
	memset(out + sizeof(head), fill, 32);
	return sizeof(head) + 32;
}

static void
test_known_hosts(void **state)
{
	(void)state;
	unsigned char key[64], other[64];
	size_t n = ed25519_blob(0x11, key);
	ed25519_blob(0x22, other);
	char *key64 = b64(key, n), *other64 = b64(other, n);

	/* |1|SALT|HMAC-SHA1(salt, "hashed.example.com") */
	static const unsigned char salt[20] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
						11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	struct hmac_sha1_ctx ctx;
	hmac_sha1_set_key(&ctx, sizeof(salt), salt);
	hmac_sha1_update(&ctx, strlen("hashed.example.com"), (const uint8_t *)"hashed.example.com");
	uint8_t digest[SHA1_DIGEST_SIZE];
	hmac_sha1_digest(&ctx, sizeof(digest), digest);
	char *salt64 = b64(salt, sizeof(salt)), *hash64 = b64(digest, sizeof(digest));

	char kh[4096];
	snprintf(kh, sizeof(kh),
		 "# comment\n"
		 "@revoked revoked.example.com ssh-ed25519 %s\n"
		 "git.example.com,10.0.0.7 ssh-ed25519 %s\n"
		 "changed.example.com ssh-ed25519 %s\n"
		 "|1|%s|%s ssh-ed25519 %s\n"
		 "!bad.example.com,*.wild.example.com ssh-ed25519 %s comment here\n"
		 "[port.example.com]:2222 ssh-ed25519 %s\r\n",
		 key64, key64, other64, salt64, hash64, key64, key64, key64);
	assert_int_equal(gitops_known_host(kh, "git.example.com", key, n), 0);
	assert_int_equal(gitops_known_host(kh, "GIT.example.com", key, n), 0);
	assert_int_equal(gitops_known_host(kh, "10.0.0.7", key, n), 0);
	assert_int_equal(gitops_known_host(kh, "changed.example.com", key, n), KORCH_ECONFLICT);
	assert_int_equal(gitops_known_host(kh, "hashed.example.com", key, n), 0);
	assert_int_equal(gitops_known_host(kh, "other.example.com", key, n), KORCH_ENOTFOUND);
	assert_int_equal(gitops_known_host(kh, "a.wild.example.com", key, n), 0);
	assert_int_equal(gitops_known_host(kh, "port.example.com", key, n), 0);
	assert_int_equal(gitops_known_host(kh, "bad.example.com", key, n), KORCH_ENOTFOUND);
	assert_int_equal(gitops_known_host(kh, "revoked.example.com", key, n), KORCH_ENOTFOUND);
	assert_int_equal(gitops_known_host(kh, "git.example.com", other, n), KORCH_ECONFLICT);
	assert_int_equal(gitops_known_host(NULL, "git.example.com", key, n), KORCH_ENOTFOUND);
	free(key64);
	free(other64);
	free(salt64);
	free(hash64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_values),
		cmocka_unit_test(test_secret_errors),
		cmocka_unit_test(test_known_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
