/*
 * image_digest.c - sha256 digests (nettle) and their text form, and sizes for people.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "runtime/image_internal.h"

void
sha256_finish_hex(struct sha256_ctx *ctx, char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t raw[SHA256_DIGEST_SIZE];
	sha256_digest(ctx, sizeof(raw), raw);
	for (size_t i = 0; i < sizeof(raw); i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 0xf];
	}
	hex[SHA256_HEX_LEN] = '\0';
}

void
sha256_digest_of(const void *data, size_t len, char out[DIGEST_STR_LEN + 1])
{
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	memcpy(out, "sha256:", 7);
	sha256_finish_hex(&ctx, out + 7);
}

static bool
is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

bool
is_sha256_hex(const char *s)
{
	return strlen(s) == SHA256_HEX_LEN && is_lower_hex(s, SHA256_HEX_LEN);
}

int
digest_check(const char *digest, const char *what, const char **ret_hex, korch_error **err)
{
	if (!digest)
		return error_set(err, KORCH_EINVALID, "%s: no digest", what);
	const char *hex = startswith(digest, "sha256:");
	if (hex) {
		if (!is_sha256_hex(hex))
			return error_set(err, KORCH_EINVALID, "%s: invalid digest \"%s\"", what,
					 digest);
		*ret_hex = hex;
		return 0;
	}
	if (startswith(digest, "sha384:") || startswith(digest, "sha512:"))
		return error_set(err, KORCH_EUNSUPPORTED,
				 "%s: digest \"%s\": only sha256 digests are supported", what,
				 digest);
	return error_set(err, KORCH_EINVALID, "%s: invalid digest \"%s\"", what, digest);
}

void
format_size(uint64_t bytes, char buf[static 32])
{
	if (bytes < 1000)
		snprintf(buf, 32, "%" PRIu64 " B", bytes);
	else if (bytes < 1000 * 1000)
		snprintf(buf, 32, "%.1f kB", (double)bytes / 1e3);
	else if (bytes < 1000 * 1000 * 1000)
		snprintf(buf, 32, "%.1f MB", (double)bytes / 1e6);
	else
		snprintf(buf, 32, "%.1f GB", (double)bytes / 1e9);
}
