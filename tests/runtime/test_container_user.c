/* User and group resolution against passwd and group text, and the executable's path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "runtime/process.h"

static const char passwd[] = "# comment\n"
			     "root:x:0:0:root:/root:/bin/sh\n"
			     "\n"
			     "broken line\n"
			     "web:x:33:33:www:/var/www:/bin/false\n"
			     "user:x:1000:1000::/home/user:/bin/sh\n"
			     "nohome:x:1001:1001:::/bin/sh";
static const char group[] = "root:x:0:\n"
			    "wheel:x:10:root,user\n"
			    "users:x:100:user,web\n"
			    "www-data:x:33:\n"
			    "staff:x:50:\n";

/* "uid gid g1,g2 home" for a resolution that must succeed. */
static char *
resolve(const char *user, char **extra, const char *pw, const char *gr)
{
	struct resolved_user u;
	korch_error *err = NULL;
	if (user_resolve(user, extra, pw, gr, &u, &err) < 0)
		fail_msg("%s: %s", user ? user : "(root)", korch_error_message(err));
	char *s = NULL;
	char groups[256] = "";
	for (size_t i = 0; i < u.n_groups; i++)
		snprintf(groups + strlen(groups), sizeof(groups) - strlen(groups), "%s%u",
			 i ? "," : "", (unsigned)u.groups[i]);
	assert_true(asprintf(&s, "%u %u %s %s", (unsigned)u.uid, (unsigned)u.gid, groups, u.home) >
		    0);
	resolved_user_clear(&u);
	return s;
}

static void
expect(const char *user, char **extra, const char *want)
{
	char *got = resolve(user, extra, passwd, group);
	assert_string_equal(got, want);
	free(got);
}

static void
test_resolve(void **state)
{
	expect(NULL, NULL, "0 0 10 /root");
	expect("root", NULL, "0 0 10 /root");
	expect("web", NULL, "33 33 100 /var/www");
	expect("user", NULL, "1000 1000 10,100 /home/user");
	expect("1000", NULL, "1000 1000 10,100 /home/user");
	expect("user:staff", NULL, "1000 50 10,100 /home/user");
	expect("user:7", NULL, "1000 7 10,100 /home/user");
	/* A uid with no entry runs with gid 0, no groups and / as home (Docker's rule). */
	expect("5000", NULL, "5000 0  /");
	expect("5000:5001", NULL, "5000 5001  /");
	/* An entry with an empty home field gets /. */
	expect("nohome", NULL, "1001 1001  /");
	char *extra[] = { "staff", "4000", "wheel", NULL };
	expect("web", extra, "33 33 100,50,4000,10 /var/www");
	/* No files at all: numeric ids still work. */
	char *got = resolve("12:34", NULL, NULL, NULL);
	assert_string_equal(got, "12 34  /");
	free(got);
}

static void
test_resolve_errors(void **state)
{
	static const struct {
		const char *user;
		const char *extra;
		const char *message;
	} cases[] = {
		{ "nobody", NULL, "user \"nobody\": no such user in /etc/passwd" },
		{ "user:nogroup", NULL,
		  "user \"user:nogroup\": group \"nogroup\": no such group in /etc/group" },
		{ "user", "ghosts", "additional group \"ghosts\": no such group in /etc/group" },
		{ "-1", NULL, "user \"-1\": no such user in /etc/passwd" },
		{ "4294967295", NULL, "user \"4294967295\": no such user in /etc/passwd" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *extra[] = { (char *)cases[i].extra, NULL };
		struct resolved_user u;
		korch_error *err = NULL;
		assert_int_equal(user_resolve(cases[i].user, cases[i].extra ? extra : NULL, passwd,
					      group, &u, &err),
				 KORCH_EINVALID);
		assert_string_equal(korch_error_message(err), cases[i].message);
		korch_error_free(err);
	}
	struct resolved_user u;
	korch_error *err = NULL;
	assert_int_equal(user_resolve("web", NULL, NULL, NULL, &u, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "user \"web\": no such user in /etc/passwd");
	korch_error_free(err);
}

static void
test_exec_path(void **state)
{
	char dir[] = "/tmp/korch-test-exec-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char bin[256], tool[512], data[512];
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	assert_int_equal(mkdir(bin, 0755), 0);
	snprintf(tool, sizeof(tool), "%s/tool", bin);
	snprintf(data, sizeof(data), "%s/data", bin);
	assert_int_equal(write_file_replace(tool, "x", 1, 0755, NULL), 0);
	assert_int_equal(write_file_replace(data, "x", 1, 0644, NULL), 0);
	char path_env[512];
	snprintf(path_env, sizeof(path_env), "PATH=/nonexistent:%s", bin);
	char *env[] = { path_env, NULL };
	char *got = NULL;
	assert_int_equal(exec_path_resolve("tool", "/", env, &got, NULL), 0);
	assert_string_equal(got, tool);
	free(got);
	assert_int_equal(exec_path_resolve(tool, "/", env, &got, NULL), 0);
	assert_string_equal(got, tool);
	free(got);
	assert_int_equal(exec_path_resolve("./tool", bin, env, &got, NULL), 0);
	snprintf(path_env, sizeof(path_env), "%s/./tool", bin);
	assert_string_equal(got, path_env);
	free(got);

	korch_error *err = NULL;
	assert_int_equal(exec_path_resolve("data", "/", env, &got, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err),
			    "exec \"data\": executable file not found in $PATH");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(exec_path_resolve(data, "/", env, &got, &err), KORCH_EINVALID);
	char want[600];
	snprintf(want, sizeof(want), "exec \"%s\": Permission denied", data);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	err = NULL;
	assert_int_equal(exec_path_resolve("/bin/nosuch-korch", "/", env, &got, &err),
			 KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err),
			    "exec \"/bin/nosuch-korch\": No such file or directory");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(exec_path_resolve(bin, "/", env, &got, &err), KORCH_EINVALID);
	korch_error_free(err);
	rm_rf(dir, NULL);

	char *base[] = { "A=1", NULL };
	char **with = env_with_home(base, "/home/x");
	assert_string_equal(with[0], "A=1");
	assert_string_equal(with[1], "HOME=/home/x");
	assert_null(with[2]);
	free(with[1]);
	free(with);
	char *has[] = { "HOME=/mine", NULL };
	with = env_with_home(has, "/home/x");
	assert_string_equal(with[0], "HOME=/mine");
	assert_null(with[1]);
	free(with);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_resolve_errors),
		cmocka_unit_test(test_exec_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
