/*
 * image_name.c - image references parsed and normalised as containerd does (the grammar and
 * rules of distribution/reference: ParseNormalizedNamed, then ParseDockerRef).
 *
 *   reference := name [":" tag] ["@" digest]
 *   name      := [domain "/"] path        domain: host[:port], host a DNS-like name or [IPv6]
 *   path      := component ["/" component]*   component: [a-z0-9]+ joined by ".", "_", "__"
 *                                              or runs of "-"
 *
 * A first component is a domain when it is "localhost" or holds '.', ':' or an upper-case
 * letter; otherwise the domain is docker.io, and a one-component path on docker.io gets
 * "library/" in front. "index.docker.io" is docker.io.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "runtime/image_internal.h"

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_PREFIX "library/"
#define PATH_MAX_LEN 255

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* One path component: [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)* */
static bool
component_valid(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		if (i >= n || !is_lower_alnum(s[i]))
			return false;
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return false;
	}
}

static bool
path_valid(const char *s)
{
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (!component_valid(s, n))
			return false;
		if (!slash)
			return true;
		s = slash + 1;
	}
}

/* [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool
domain_component_valid(const char *s, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool
port_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* host [":" port], host a dotted name or "[" IPv6 "]". */
static bool
domain_valid(const char *s)
{
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end == s + 1)
			return false;
		for (const char *p = s + 1; p < end; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':')
				return false;
		return end[1] == '\0' || (end[1] == ':' && port_valid(end + 2));
	}
	const char *colon = strchr(s, ':');
	size_t host_len = colon ? (size_t)(colon - s) : strlen(s);
	if (colon && !port_valid(colon + 1))
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= host_len; i++) {
		if (i == host_len || s[i] == '.') {
			if (!domain_component_valid(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool
image_tag_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || !is_word(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* The reference grammar's digest: [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,} */
static bool
digest_grammar_valid(const char *s)
{
	const char *colon = strchr(s, ':');
	if (!colon)
		return false;
	const char *p = s;
	for (;;) {
		if (p >= colon || !isalpha((unsigned char)*p))
			return false;
		while (p < colon && isalnum((unsigned char)*p))
			p++;
		if (p == colon)
			break;
		if (!strchr("-_+.", *p))
			return false;
		p++;
	}
	size_t n = 0;
	for (p = colon + 1; *p; p++, n++)
		if (!isxdigit((unsigned char)*p))
			return false;
	return n >= 32;
}

/* go-digest's Validate: a known algorithm, the right length, lowercase hex. */
static const char *
digest_problem(const char *s)
{
	static const struct {
		const char *algorithm;
		size_t hex_len;
	} known[] = { { "sha256", 64 }, { "sha384", 96 }, { "sha512", 128 } };
	const char *colon = strchr(s, ':');
	size_t alg_len = (size_t)(colon - s);
	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		if (strlen(known[i].algorithm) != alg_len ||
		    strncmp(s, known[i].algorithm, alg_len) != 0)
			continue;
		const char *hex = colon + 1;
		if (strlen(hex) != known[i].hex_len)
			return "invalid checksum digest length";
		for (; *hex; hex++)
			if (!is_lower_alnum(*hex) || *hex > 'f')
				return "invalid checksum digest format";
		return NULL;
	}
	return "unsupported digest algorithm";
}

static bool
has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)s[i]))
			return true;
	return false;
}

static bool
is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!is_lower_alnum(*s) || *s > 'f')
			return false;
	return true;
}

void
image_ref_clear(struct image_ref *ref)
{
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	*ref = (struct image_ref){ 0 };
}

/* Splits "name[:tag]" (no digest) into domain and path the way splitDockerDomain does. */
static int
split_domain(const char *repo, char **ret_domain, char **ret_path)
{
	const char *slash = strchr(repo, '/');
	char *domain = NULL, *path = NULL;
	if (!slash) {
		domain = strdup(DEFAULT_DOMAIN);
		path = strdup(repo);
	} else {
		size_t n = (size_t)(slash - repo);
		bool is_domain = (n == 9 && strncmp(repo, "localhost", 9) == 0) ||
				 memchr(repo, '.', n) || memchr(repo, ':', n) || has_upper(repo, n);
		if (is_domain) {
			domain = strndup(repo, n);
			path = strdup(slash + 1);
			if (domain && streq(domain, LEGACY_DEFAULT_DOMAIN)) {
				free(domain);
				domain = strdup(DEFAULT_DOMAIN);
			}
		} else {
			domain = strdup(DEFAULT_DOMAIN);
			path = strdup(repo);
		}
	}
	if (domain && path && streq(domain, DEFAULT_DOMAIN) && !strchr(path, '/')) {
		char *prefixed = NULL;
		if (asprintf(&prefixed, OFFICIAL_PREFIX "%s", path) < 0)
			prefixed = NULL;
		free(path);
		path = prefixed;
	}
	if (!domain || !path) {
		free(domain);
		free(path);
		return KORCH_ENOMEM;
	}
	*ret_domain = domain;
	*ret_path = path;
	return 0;
}

int
image_ref_parse(const char *ref, struct image_ref *ret, korch_error **err)
{
	if (!ref || !*ref)
		return error_set(
			err, KORCH_EINVALID,
			"invalid image reference \"\": repository name must have at least one component");
	if (is_hex64(ref))
		return error_set(
			err, KORCH_EINVALID,
			"invalid image reference \"%s\": cannot specify 64-byte hexadecimal strings",
			ref);
	_cleanup_free_ char *name = strdup(ref);
	if (!name)
		return error_oom(err);
	char *digest = strchr(name, '@');
	if (digest) {
		*digest++ = '\0';
		if (!digest_grammar_valid(digest))
			return error_set(err, KORCH_EINVALID,
					 "invalid image reference \"%s\": invalid reference format",
					 ref);
	}
	char *tag = NULL;
	char *last_slash = strrchr(name, '/');
	char *colon = strrchr(last_slash ? last_slash : name, ':');
	if (colon) {
		*colon = '\0';
		tag = colon + 1;
		if (!image_tag_valid(tag))
			return error_set(err, KORCH_EINVALID,
					 "invalid image reference \"%s\": invalid reference format",
					 ref);
	}
	struct image_ref r = { 0 };
	if (split_domain(name, &r.domain, &r.path) < 0)
		return error_oom(err);
	int rc = 0;
	if (has_upper(r.path, strlen(r.path)))
		rc = error_set(
			err, KORCH_EINVALID,
			"invalid image reference \"%s\": repository name (%s) must be lowercase",
			ref, r.path);
	else if (!domain_valid(r.domain) || !path_valid(r.path))
		rc = error_set(err, KORCH_EINVALID,
			       "invalid image reference \"%s\": invalid reference format", ref);
	else if (strlen(r.path) > PATH_MAX_LEN)
		rc = error_set(
			err, KORCH_EINVALID,
			"invalid image reference \"%s\": repository name must not be more than %d characters",
			ref, PATH_MAX_LEN);
	else if (digest && digest_problem(digest))
		rc = error_set(err, KORCH_EINVALID, "invalid image reference \"%s\": %s", ref,
			       digest_problem(digest));
	if (rc < 0) {
		image_ref_clear(&r);
		return rc;
	}
	if ((tag && !(r.tag = strdup(tag))) || (digest && !(r.digest = strdup(digest)))) {
		image_ref_clear(&r);
		return error_oom(err);
	}
	*ret = r;
	return 0;
}

char *
image_ref_string(const struct image_ref *ref)
{
	char *s = NULL;
	int n;
	if (ref->digest)
		n = asprintf(&s, "%s/%s@%s", ref->domain, ref->path, ref->digest);
	else
		n = asprintf(&s, "%s/%s:%s", ref->domain, ref->path,
			     ref->tag ? ref->tag : "latest");
	return n < 0 ? NULL : s;
}

int
image_normalize_name(const char *ref, char **ret, korch_error **err)
{
	struct image_ref r;
	int rc = image_ref_parse(ref, &r, err);
	if (rc < 0)
		return rc;
	char *s = image_ref_string(&r);
	image_ref_clear(&r);
	if (!s)
		return error_oom(err);
	*ret = s;
	return 0;
}
