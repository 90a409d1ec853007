/* CRI log files: the line format, F and P tags at the 16 KiB limit, the end of a stream, and
 * size rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "runtime/monitor-log.h"

/* 2026-11-26T15:27:40.123456789Z */
#define T0 (1795706860LL * NSEC_PER_SEC + 123456789)

static int
setup(void **state)
{
	char *dir = strdup("/tmp/korch-test-log-XXXXXX");
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
slurp(const char *dir, const char *name)
{
	char path[512], *data = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (read_file(path, 1 << 20, &data, NULL, NULL) < 0)
		return NULL;
	return data;
}

static void
test_time_format(void **state)
{
	char buf[40];
	assert_string_equal(format_time_nano(T0, buf), "2026-11-26T15:27:40.123456789Z");
	assert_string_equal(format_time_nano(0, buf), "1970-01-01T00:00:00.000000000Z");
	assert_string_equal(format_time_nano(5 * NSEC_PER_SEC + 7, buf),
			    "1970-01-01T00:00:05.000000007Z");
}

static void
test_lines(void **state)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/sub/c.log", (char *)*state);
	struct log_writer *w = NULL;
	assert_int_equal(log_writer_open(path, 0, 1, &w, NULL), 0);
	struct log_stream out = { .name = "stdout" }, err = { .name = "stderr" };
	assert_int_equal(log_stream_feed(&out, w, T0, "hello\nwor", 9, NULL), 0);
	assert_int_equal(log_stream_feed(&err, w, T0, "oops\n", 5, NULL), 0);
	assert_int_equal(log_stream_feed(&out, w, T0 + 1, "ld\n\nlast", 8, NULL), 0);
	assert_int_equal(log_stream_flush(&out, w, T0 + 2, NULL), 0);
	assert_int_equal(log_stream_flush(&err, w, T0 + 2, NULL), 0);
	char *text = slurp(*state, "sub/c.log");
	assert_string_equal(text, "2026-11-26T15:27:40.123456789Z stdout F hello\n"
				  "2026-11-26T15:27:40.123456789Z stderr F oops\n"
				  "2026-11-26T15:27:40.123456790Z stdout F world\n"
				  "2026-11-26T15:27:40.123456790Z stdout F \n"
				  "2026-11-26T15:27:40.123456791Z stdout F last\n");
	free(text);
	log_stream_clear(&out);
	log_stream_clear(&err);
	log_writer_free(w);
}

/* A line longer than 16 KiB goes out as P parts of exactly 16 KiB, then F. */
static void
test_partial(void **state)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/p.log", (char *)*state);
	struct log_writer *w = NULL;
	assert_int_equal(log_writer_open(path, 0, 1, &w, NULL), 0);
	struct log_stream out = { .name = "stdout" };
	size_t n = 40000;
	char *big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\n';
	/* Fed in uneven pieces, as a pipe delivers it. */
	size_t pieces[] = { 1000, 20000, 15000, 4001 };
	size_t off = 0;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(log_stream_feed(&out, w, T0, big + off, pieces[i], NULL), 0);
		off += pieces[i];
	}
	assert_int_equal(off, n + 1);
	/* Exactly 16 KiB without a newline is a P part; so is 16 KiB more. */
	memset(big, 'y', LOG_LINE_MAX);
	assert_int_equal(log_stream_feed(&out, w, T0, big, LOG_LINE_MAX, NULL), 0);
	assert_int_equal(log_stream_feed(&out, w, T0, "\n", 1, NULL), 0);
	/* And exactly 16 KiB with its newline is one F line. */
	big[LOG_LINE_MAX] = '\n';
	assert_int_equal(log_stream_feed(&out, w, T0, big, LOG_LINE_MAX + 1, NULL), 0);
	free(big);
	log_stream_clear(&out);
	log_writer_free(w);

	char *text = slurp(*state, "p.log");
	const char *prefix = "2026-11-26T15:27:40.123456789Z stdout ";
	size_t plen = strlen(prefix);
	char *line = text;
	const struct {
		char tag;
		size_t len;
		char c;
	} want[] = { { 'P', 16384, 'x' }, { 'P', 16384, 'x' }, { 'F', 7232, 'x' },
		     { 'P', 16384, 'y' }, { 'F', 0, 'y' },     { 'F', 16384, 'y' } };
	for (size_t i = 0; i < 6; i++) {
		assert_memory_equal(line, prefix, plen);
		assert_int_equal(line[plen], want[i].tag);
		char *end = strchr(line, '\n');
		assert_non_null(end);
		size_t len = (size_t)(end - line) - plen - 2;
		assert_int_equal(len, want[i].len);
		for (size_t k = 0; k < len; k++)
			assert_int_equal(line[plen + 2 + k], want[i].c);
		line = end + 1;
	}
	assert_string_equal(line, "");
	free(text);
}

static void
test_rotation(void **state)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/r.log", (char *)*state);
	struct log_writer *w = NULL;
	/* Each line is 30 (time) + 1 + 6 + 3 + 9 + 1 = 50 bytes: three fit in 150. */
	assert_int_equal(log_writer_open(path, 150, 3, &w, NULL), 0);
	for (int i = 1; i <= 10; i++) {
		char text[16];
		snprintf(text, sizeof(text), "line %04d", i);
		assert_int_equal(log_writer_line(w, T0, "stdout", 'F', text, strlen(text), NULL),
				 0);
	}
	log_writer_free(w);
	char *cur = slurp(*state, "r.log"), *one = slurp(*state, "r.log.1"),
	     *two = slurp(*state, "r.log.2"), *three = slurp(*state, "r.log.3");
	/* Lines 1-3, 4-6, 7-9, 10: the oldest file is gone, three are kept. */
	assert_non_null(strstr(cur, "line 0010"));
	assert_int_equal(strlen(cur), 50);
	assert_non_null(strstr(one, "line 0007"));
	assert_non_null(strstr(one, "line 0009"));
	assert_int_equal(strlen(one), 150);
	assert_non_null(strstr(two, "line 0004"));
	assert_null(three);
	free(cur);
	free(one);
	free(two);

	/* Reopened, the writer knows the current size and goes on from there. */
	assert_int_equal(log_writer_open(path, 150, 3, &w, NULL), 0);
	assert_int_equal(log_writer_line(w, T0, "stdout", 'F', "line 0011", 9, NULL), 0);
	assert_int_equal(log_writer_line(w, T0, "stdout", 'F', "line 0012", 9, NULL), 0);
	assert_int_equal(log_writer_line(w, T0, "stdout", 'F', "line 0013", 9, NULL), 0);
	log_writer_free(w);
	cur = slurp(*state, "r.log");
	one = slurp(*state, "r.log.1");
	assert_non_null(strstr(cur, "line 0013"));
	assert_int_equal(strlen(cur), 50);
	assert_non_null(strstr(one, "line 0010"));
	assert_non_null(strstr(one, "line 0012"));
	free(cur);
	free(one);

	/* One file: truncated in place. */
	snprintf(path, sizeof(path), "%s/one.log", (char *)*state);
	assert_int_equal(log_writer_open(path, 100, 1, &w, NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(log_writer_line(w, T0, "stderr", 'F', "abcdefghi", 9, NULL), 0);
	log_writer_free(w);
	cur = slurp(*state, "one.log");
	assert_int_equal(strlen(cur), 50);
	free(cur);
	assert_null(slurp(*state, "one.log.1"));
}

static void
test_open_error(void **state)
{
	struct log_writer *w = NULL;
	korch_error *err = NULL;
	char path[512];
	snprintf(path, sizeof(path), "%s/file", (char *)*state);
	assert_int_equal(write_file_replace(path, "x", 1, 0644, NULL), 0);
	snprintf(path, sizeof(path), "%s/file/c.log", (char *)*state);
	assert_true(log_writer_open(path, 0, 1, &w, &err) < 0);
	assert_null(w);
	assert_non_null(strstr(korch_error_message(err), "log directory: "));
	korch_error_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_format),
		cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_error, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
