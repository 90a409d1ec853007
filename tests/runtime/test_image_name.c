/* Image references normalised as containerd does, and refused with docker's reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/image.h"
#include "runtime/image_internal.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
test_normalize_table(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		/* familiar names get docker.io, library/ and :latest */
		{ "busybox", "docker.io/library/busybox:latest" },
		{ "busybox:1.36", "docker.io/library/busybox:1.36" },
		{ "busybox:Latest_1.x-y", "docker.io/library/busybox:Latest_1.x-y" },
		{ "library/busybox", "docker.io/library/busybox:latest" },
		{ "docker.io/busybox", "docker.io/library/busybox:latest" },
		{ "docker.io/library/busybox:latest", "docker.io/library/busybox:latest" },
		{ "user/app", "docker.io/user/app:latest" },
		{ "user/team/app:v1", "docker.io/user/team/app:v1" },
		/* the legacy index domain is docker.io */
		{ "index.docker.io/busybox", "docker.io/library/busybox:latest" },
		{ "index.docker.io/user/app:2", "docker.io/user/app:2" },
		/* a first component with '.', ':', upper case, or localhost is a domain */
		{ "localhost/app", "localhost/app:latest" },
		{ "localhost:5000/app:dev", "localhost:5000/app:dev" },
		{ "registry.example.com/team/app:1.0", "registry.example.com/team/app:1.0" },
		{ "registry.example.com:5000/app", "registry.example.com:5000/app:latest" },
		{ "127.0.0.1:5000/app", "127.0.0.1:5000/app:latest" },
		{ "[::1]:5000/app:x", "[::1]:5000/app:x" },
		{ "[2001:db8::1]/app", "[2001:db8::1]/app:latest" },
		{ "Example.COM/app", "Example.COM/app:latest" },
		{ "Upper/app", "Upper/app:latest" },
		{ "quay.io/coreos/etcd", "quay.io/coreos/etcd:latest" },
		{ "korch.test/busybox:1", "korch.test/busybox:1" },
		/* a lone "localhost" or "host:port" is a familiar name with a tag */
		{ "localhost", "docker.io/library/localhost:latest" },
		{ "localhost:5000", "docker.io/library/localhost:5000" },
		/* separators inside components */
		{ "my_app/x-y__z.w", "docker.io/my_app/x-y__z.w:latest" },
		{ "a--b/c", "docker.io/a--b/c:latest" },
		/* digests are kept and win over a tag (ParseDockerRef) */
		{ "busybox@sha256:" HEX64, "docker.io/library/busybox@sha256:" HEX64 },
		{ "busybox:1.36@sha256:" HEX64, "docker.io/library/busybox@sha256:" HEX64 },
		{ "ghcr.io/a/b:tag@sha256:" HEX64, "ghcr.io/a/b@sha256:" HEX64 },
		/* "sha256:HEX" alone parses as repository "sha256" with a tag */
		{ "sha256:" HEX64, "docker.io/library/sha256:" HEX64 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		korch_error *err = NULL;
		int r = image_normalize_name(cases[i].in, &out, &err);
		if (r != 0)
			fail_msg("%s: %s", cases[i].in, korch_error_message(err));
		assert_string_equal(out, cases[i].out);
		free(out);
	}
}

static void
test_invalid_table(void **state)
{
	char long_path[300];
	memset(long_path, 'a', 250);
	long_path[250] = '\0';
	char long_tag[200] = "busybox:";
	memset(long_tag + 8, 't', 129);
	long_tag[8 + 129] = '\0';
	char msg_long_tag[300];
	snprintf(msg_long_tag, sizeof(msg_long_tag),
		 "invalid image reference \"%s\": invalid reference format", long_tag);
	char msg_long_path[400];
	snprintf(
		msg_long_path, sizeof(msg_long_path),
		"invalid image reference \"%s\": repository name must not be more than 255 characters",
		long_path);
	const struct {
		const char *in;
		const char *message;
	} cases[] = {
		{ "",
		  "invalid image reference \"\": repository name must have at least one component" },
		{ HEX64, "invalid image reference \"" HEX64
			 "\": cannot specify 64-byte hexadecimal strings" },
		{ "Busybox",
		  "invalid image reference \"Busybox\": repository name (library/Busybox) must be lowercase" },
		{ "docker.io/User/app",
		  "invalid image reference \"docker.io/User/app\": repository name (User/app) must be lowercase" },
		{ "busybox:", "invalid image reference \"busybox:\": invalid reference format" },
		{ "busybox:-x",
		  "invalid image reference \"busybox:-x\": invalid reference format" },
		{ ":tag", "invalid image reference \":tag\": invalid reference format" },
		{ "bad host/app",
		  "invalid image reference \"bad host/app\": invalid reference format" },
		{ "a//b", "invalid image reference \"a//b\": invalid reference format" },
		{ "-app", "invalid image reference \"-app\": invalid reference format" },
		{ "app-", "invalid image reference \"app-\": invalid reference format" },
		{ "a..b", "invalid image reference \"a..b\": invalid reference format" },
		{ "a___b", "invalid image reference \"a___b\": invalid reference format" },
		{ "host:port:x/app",
		  "invalid image reference \"host:port:x/app\": invalid reference format" },
		{ "[zz]:5000/app",
		  "invalid image reference \"[zz]:5000/app\": invalid reference format" },
		{ "ex_ample.com/app",
		  "invalid image reference \"ex_ample.com/app\": invalid reference format" },
		{ "app@sha256:abc",
		  "invalid image reference \"app@sha256:abc\": invalid reference format" },
		{ "app@sha256:" HEX64 "0", "invalid image reference \"app@sha256:" HEX64
					   "0\": invalid checksum digest length" },
		{ "app@md5:0123456789abcdef0123456789abcdef",
		  "invalid image reference \"app@md5:0123456789abcdef0123456789abcdef\": unsupported digest algorithm" },
		{ "app@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		  "invalid image reference \"app@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\": invalid checksum digest format" },
		{ long_tag, msg_long_tag },
		{ long_path, msg_long_path },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		korch_error *err = NULL;
		int r = image_normalize_name(cases[i].in, &out, &err);
		if (r != KORCH_EINVALID)
			fail_msg("%s: got %d (%s)", cases[i].in, r, out ? out : "");
		assert_null(out);
		assert_string_equal(korch_error_message(err), cases[i].message);
		korch_error_free(err);
	}
}

static void
test_parse_parts(void **state)
{
	struct image_ref r;
	assert_int_equal(image_ref_parse("localhost:5000/team/app", &r, NULL), 0);
	assert_string_equal(r.domain, "localhost:5000");
	assert_string_equal(r.path, "team/app");
	assert_null(r.tag);
	assert_null(r.digest);
	image_ref_clear(&r);

	assert_int_equal(image_ref_parse("app:2@sha256:" HEX64, &r, NULL), 0);
	assert_string_equal(r.domain, "docker.io");
	assert_string_equal(r.path, "library/app");
	assert_string_equal(r.tag, "2");
	assert_string_equal(r.digest, "sha256:" HEX64);
	char *s = image_ref_string(&r);
	assert_string_equal(s, "docker.io/library/app@sha256:" HEX64);
	free(s);
	image_ref_clear(&r);

	assert_true(image_tag_valid("v1.0-rc_1"));
	assert_true(image_tag_valid("_x"));
	assert_false(image_tag_valid(".x"));
	assert_false(image_tag_valid("a:b"));
	assert_false(image_tag_valid(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_invalid_table),
		cmocka_unit_test(test_parse_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
