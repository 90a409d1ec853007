/*
 * creds.c - credentials for a fetch, from the Secret named by spec.secretRef: HTTP basic
 * (username + password, or a token), an HTTP bearer token, an SSH key, and the SSH host keys to
 * accept (known_hosts, checked against the key the server shows, hashed entries included).
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <nettle/base64.h>
#include <nettle/hmac.h>

#include "base/error.h"
#include "base/util.h"
#include "gitops/gitops.h"

void
gitops_creds_clear(struct gitops_creds *c)
{
	char **fields[] = { &c->username,       &c->password,       &c->bearer_token, &c->ssh_key,
			    &c->ssh_public_key, &c->ssh_passphrase, &c->known_hosts };
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		if (*fields[i]) {
			/* Secrets do not linger in freed memory. */
			explicit_bzero(*fields[i], strlen(*fields[i]));
			free(*fields[i]);
		}
		*fields[i] = NULL;
	}
	c->from_secret = false;
}

/* Decodes standard base64 (with padding) into a NUL-terminated buffer. */
static int
base64_text(const char *in, char **ret, size_t *ret_len)
{
	size_t len = strlen(in);
	char *out = malloc(BASE64_DECODE_LENGTH(len) + 1);
	if (!out)
		return KORCH_ENOMEM;
	struct base64_decode_ctx ctx;
	base64_decode_init(&ctx);
	size_t n = BASE64_DECODE_LENGTH(len);
	if (!base64_decode_update(&ctx, &n, (uint8_t *)out, len, in) ||
	    !base64_decode_final(&ctx)) {
		free(out);
		return KORCH_EINVALID;
	}
	out[n] = '\0';
	*ret = out;
	if (ret_len)
		*ret_len = n;
	return 0;
}

/* data[key] decoded, or NULL when absent; text only (no NUL bytes). */
static int
secret_value(const json_t *data, const json_t *secret, const char *key, char **ret,
	     korch_error **err)
{
	const char *b64 = json_string_value(json_object_get(data, key));
	if (!b64) {
		*ret = NULL;
		return 0;
	}
	char *text = NULL;
	size_t n = 0;
	int r = base64_text(b64, &text, &n);
	if (r == KORCH_ENOMEM)
		return error_oom(err);
	const char *name =
		json_string_value(json_object_get(json_object_get(secret, "metadata"), "name"));
	if (r < 0)
		return error_set(err, KORCH_EINVALID, "secret %s: data.%s is not base64",
				 name ? name : "", key);
	if (strlen(text) != n) {
		free(text);
		return error_set(err, KORCH_EINVALID, "secret %s: data.%s is not text",
				 name ? name : "", key);
	}
	*ret = text;
	return 0;
}

int
gitops_creds_from_secret(const json_t *secret, struct gitops_creds *ret, korch_error **err)
{
	const json_t *data = json_object_get(secret, "data");
	struct gitops_creds c = { 0 };
	_cleanup_free_ char *token = NULL;
	int r;
	if ((r = secret_value(data, secret, "username", &c.username, err)) < 0 ||
	    (r = secret_value(data, secret, "password", &c.password, err)) < 0 ||
	    (r = secret_value(data, secret, "token", &token, err)) < 0 ||
	    (r = secret_value(data, secret, "bearerToken", &c.bearer_token, err)) < 0 ||
	    (r = secret_value(data, secret, "identity", &c.ssh_key, err)) < 0 ||
	    (r = secret_value(data, secret, "identity.pub", &c.ssh_public_key, err)) < 0 ||
	    (r = secret_value(data, secret, "passphrase", &c.ssh_passphrase, err)) < 0 ||
	    (r = secret_value(data, secret, "known_hosts", &c.known_hosts, err)) < 0) {
		gitops_creds_clear(&c);
		return r;
	}
	/* A token is a password (GitHub, GitLab and Gitea take any user name with it). */
	if (token && !c.password)
		c.password = steal_pointer(&token);
	c.from_secret = true;
	*ret = c;
	return 0;
}

/* ---- known_hosts ---- */

/* "|1|SALT|HASH": HMAC-SHA1 of the host name keyed with the salt (OpenSSH's HashKnownHosts). */
static bool
hashed_host_matches(const char *pattern, const char *host)
{
	const char *salt_b64 = pattern + 3;
	const char *bar = strchr(salt_b64, '|');
	if (!bar)
		return false;
	_cleanup_free_ char *salt_text = strndup(salt_b64, (size_t)(bar - salt_b64));
	_cleanup_free_ char *salt = NULL, *hash = NULL;
	size_t salt_len = 0, hash_len = 0;
	if (!salt_text || base64_text(salt_text, &salt, &salt_len) < 0 ||
	    base64_text(bar + 1, &hash, &hash_len) < 0 || hash_len != SHA1_DIGEST_SIZE)
		return false;
	struct hmac_sha1_ctx ctx;
	hmac_sha1_set_key(&ctx, salt_len, (const uint8_t *)salt);
	hmac_sha1_update(&ctx, strlen(host), (const uint8_t *)host);
	uint8_t digest[SHA1_DIGEST_SIZE];
	hmac_sha1_digest(&ctx, sizeof(digest), digest);
	return memcmp(digest, hash, sizeof(digest)) == 0;
}

/* One pattern of a known_hosts line: a name, "[name]:port", a wildcard or a hashed name. */
static bool
host_pattern_matches(const char *pattern, const char *host)
{
	if (startswith(pattern, "|1|"))
		return hashed_host_matches(pattern, host);
	char name[256];
	if (pattern[0] == '[') {
		const char *close = strchr(pattern, ']');
		if (!close || (size_t)(close - pattern - 1) >= sizeof(name))
			return false;
		memcpy(name, pattern + 1, (size_t)(close - pattern - 1));
		name[close - pattern - 1] = '\0';
	} else {
		if (strlen(pattern) >= sizeof(name))
			return false;
		strcpy(name, pattern);
	}
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	char lower[256];
	if (strlen(host) >= sizeof(lower))
		return false;
	for (size_t i = 0;; i++) {
		lower[i] = (char)tolower((unsigned char)host[i]);
		if (!host[i])
			break;
	}
	return fnmatch(name, lower, 0) == 0;
}

/* Whether the comma-separated host patterns match host (a negated match wins). */
static bool
host_patterns_match(char *patterns, const char *host)
{
	bool matched = false;
	char *save = NULL;
	for (char *p = strtok_r(patterns, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		bool negated = p[0] == '!';
		if (host_pattern_matches(negated ? p + 1 : p, host)) {
			if (negated)
				return false;
			matched = true;
		}
	}
	return matched;
}

int
gitops_known_host(const char *known_hosts, const char *host, const unsigned char *key,
		  size_t key_len)
{
	if (!known_hosts)
		return KORCH_ENOTFOUND;
	_cleanup_free_ char *copy = strdup(known_hosts);
	if (!copy)
		return KORCH_ENOMEM;
	bool host_known = false;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		/* Comments, and @cert-authority and @revoked lines, which need more than a key. */
		if (*line == '#' || *line == '@' || *line == '\0' || *line == '\r')
			continue;
		char *fields_save = NULL;
		char *patterns = strtok_r(line, " \t", &fields_save);
		char *type = strtok_r(NULL, " \t", &fields_save);
		char *b64 = strtok_r(NULL, " \t\r", &fields_save);
		if (!patterns || !type || !b64 || !host_patterns_match(patterns, host))
			continue;
		host_known = true;
		_cleanup_free_ char *blob = NULL;
		size_t blob_len = 0;
		if (base64_text(b64, &blob, &blob_len) < 0)
			continue;
		if (blob_len == key_len && memcmp(blob, key, key_len) == 0)
			return 0;
	}
	return host_known ? KORCH_ECONFLICT : KORCH_ENOTFOUND;
}
