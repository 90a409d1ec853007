/* read_file with a cap, atomic writes, mkdir_p and rm_rf on a temporary tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"

static int
setup(void **state)
{
	char *dir = strdup("/tmp/korch-test-fs-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int
teardown(void **state)
{
	rm_rf(*state, NULL);
	free(*state);
	return 0;
}

static char *
join(const char *dir, const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static void
test_write_read(void **state)
{
	_cleanup_free_ char *path = join(*state, "state.json");
	assert_int_equal(write_file_atomic(path, "{\"a\":1}", 7, 0600, NULL), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	assert_int_equal(read_file(path, 1024, &data, &len, NULL), 0);
	assert_int_equal(len, 7);
	assert_string_equal(data, "{\"a\":1}");

	/* Replacing leaves no temporary file behind. */
	assert_int_equal(write_file_atomic(path, "x", 1, 0644, NULL), 0);
	_cleanup_free_ char *tmp = NULL;
	assert_true(asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) > 0);
	assert_int_equal(access(tmp, F_OK), -1);
}

static void
test_write_replace(void **state)
{
	_cleanup_free_ char *path = join(*state, "run-state");
	assert_int_equal(write_file_replace(path, "one", 3, 0600, NULL), 0);
	assert_int_equal(write_file_replace(path, "second", 6, 0640, NULL), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	_cleanup_free_ char *data = NULL;
	assert_int_equal(read_file(path, 64, &data, NULL, NULL), 0);
	assert_string_equal(data, "second");
	_cleanup_free_ char *tmp = NULL;
	assert_true(asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) > 0);
	assert_int_equal(access(tmp, F_OK), -1);

	/* A directory that does not exist: an error naming the temporary file, nothing left. */
	_cleanup_free_ char *bad = join(*state, "missing/file");
	korch_error *err = NULL;
	assert_int_equal(write_file_replace(bad, "x", 1, 0600, &err), KORCH_ESYSTEM);
	assert_int_equal(korch_error_errno(err), ENOENT);
	assert_non_null(strstr(korch_error_message(err), "missing/file.tmp."));
	korch_error_free(err);
}

static void
test_read_limits(void **state)
{
	_cleanup_free_ char *path = join(*state, "big");
	char buf[10000];
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(write_file_atomic(path, buf, sizeof(buf), 0644, NULL), 0);
	korch_error *err = NULL;
	char *data = NULL;
	assert_int_equal(read_file(path, 9999, &data, NULL, &err), KORCH_ETOOLARGE);
	assert_null(data);
	assert_non_null(strstr(korch_error_message(err), "larger than 9999 bytes"));
	korch_error_free(err);
	err = NULL;
	assert_int_equal(read_file(path, 10000, &data, NULL, NULL), 0);
	free(data);
	_cleanup_free_ char *missing = join(*state, "missing");
	assert_int_equal(read_file(missing, 10, &data, NULL, &err), KORCH_ESYSTEM);
	assert_int_equal(korch_error_errno(err), ENOENT);
	korch_error_free(err);
}

static void
test_mkdir_rm(void **state)
{
	_cleanup_free_ char *deep = join(*state, "a/b/c/d");
	assert_int_equal(mkdir_p(deep, 0755, NULL), 0);
	assert_int_equal(mkdir_p(deep, 0755, NULL), 0);
	_cleanup_free_ char *file = join(*state, "a/b/file");
	assert_int_equal(write_file_atomic(file, "x", 1, 0644, NULL), 0);
	_cleanup_free_ char *link = join(*state, "a/link");
	/* rm_rf must remove the link, never what it points at. */
	_cleanup_free_ char *outside = join(*state, "outside");
	assert_int_equal(mkdir_p(outside, 0755, NULL), 0);
	_cleanup_free_ char *keep = join(*state, "outside/keep");
	assert_int_equal(write_file_atomic(keep, "k", 1, 0644, NULL), 0);
	assert_int_equal(symlink(outside, link), 0);
	korch_error *err = NULL;
	assert_int_equal(mkdir_p(file, 0755, &err), KORCH_EEXISTS);
	korch_error_free(err);
	_cleanup_free_ char *a = join(*state, "a");
	assert_int_equal(rm_rf(a, NULL), 0);
	assert_int_equal(access(a, F_OK), -1);
	assert_int_equal(access(keep, F_OK), 0);
	assert_int_equal(rm_rf(a, NULL), 0);
}

/* rm_rf_contents empties a directory, keeps it, and never follows a link out of it. */
static void
test_rm_contents(void **state)
{
	_cleanup_free_ char *dir = join(*state, "vol");
	_cleanup_free_ char *deep = join(*state, "vol/a/b");
	assert_int_equal(mkdir_p(deep, 0755, NULL), 0);
	_cleanup_free_ char *file = join(*state, "vol/a/b/f");
	assert_int_equal(write_file_atomic(file, "x", 1, 0644, NULL), 0);
	_cleanup_free_ char *top = join(*state, "vol/top");
	assert_int_equal(write_file_atomic(top, "y", 1, 0644, NULL), 0);
	_cleanup_free_ char *outside = join(*state, "outside");
	assert_int_equal(write_file_atomic(outside, "k", 1, 0644, NULL), 0);
	_cleanup_free_ char *link = join(*state, "vol/link");
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(rm_rf_contents(dir, NULL), 0);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int entries = 0;
	for (struct dirent *de; (de = readdir(d));)
		entries += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 0);
	assert_int_equal(access(outside, F_OK), 0);
	korch_error *err = NULL;
	assert_int_equal(rm_rf_contents(deep, &err), KORCH_ESYSTEM);
	assert_int_equal(korch_error_errno(err), ENOENT);
	_cleanup_free_ char *want = NULL;
	assert_true(asprintf(&want, "open %s: No such file or directory", deep) > 0);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
}

static void
test_path_dirname(void **state)
{
	static const char *const cases[][2] = {
		{ "/a/b/state.db", "/a/b" },
		{ "state.db", "." },
		{ "/state.db", "/" },
		{ "/", "/" },
		{ "a/b/", "a" },
		{ "", "." },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = path_dirname(cases[i][0]);
		assert_string_equal(d, cases[i][1]);
		free(d);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_rm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_contents, setup, teardown),
		cmocka_unit_test(test_path_dirname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
