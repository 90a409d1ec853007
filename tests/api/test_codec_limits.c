/*
 * Input limits (reliability scenarios 31 and 32): the "billion laughs" ConfigMap of
 * CVE-2019-11253 refused quickly with little memory, the node budget at its boundary, nesting
 * depth (100 accepted, 101 and 10,000 refused in JSON and YAML), the 3 MiB size limit, and
 * 1 MiB strings accepted.
 */
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "test_codec.h"

static const char billion_laughs[] =
	"apiVersion: v1\n"
	"data:\n"
	"  a: &a [\"web\",\"web\",\"web\",\"web\",\"web\",\"web\",\"web\",\"web\",\"web\"]\n"
	"  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	"  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	"  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	"  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	"  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	"  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	"  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	"  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
	"kind: ConfigMap\n"
	"metadata:\n"
	"  name: yaml-bomb\n"
	"  namespace: default\n";

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
	       (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

/* Resets the peak RSS to the current RSS (Linux clear_refs "5"), so that growth is measured. */
static void
reset_peak_rss(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		assert_int_equal(write(fd, "5", 1), 1);
		close(fd);
	}
}

static void
test_billion_laughs(void **state)
{
	reset_peak_rss();
	struct rusage before, after;
	getrusage(RUSAGE_SELF, &before);
	double t0 = now_s();

	yaml_fails(billion_laughs, KORCH_ETOOLARGE,
		   "line 9 column 10: alias *f expands the stream past 1000000 nodes");
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	assert_int_equal(codec_decode_manifests(billion_laughs, strlen(billion_laughs), "bomb.yaml",
						&docs, &err),
			 KORCH_ETOOLARGE);
	assert_string_equal(korch_error_message(err),
			    "bomb.yaml:9:10: alias *f expands the stream past 1000000 nodes");
	korch_error_free(err);

	double elapsed = now_s() - t0;
	getrusage(RUSAGE_SELF, &after);
	long growth_kb = after.ru_maxrss - before.ru_maxrss;
	print_message("# billion laughs: %.4f s wall, %.4f s cpu, peak RSS +%ld KiB\n", elapsed,
		      cpu_s(&after) - cpu_s(&before), growth_kb);
	assert_true(elapsed < 1.0);
	assert_true(cpu_s(&after) - cpu_s(&before) < 1.0);
	assert_true(growth_kb < 64 * 1024);
}

static void
test_alias_bombs(void **state)
{
	/* The same through merge keys, and in block style. */
	yaml_fails("a: &a {k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7, k8: 8, k9: 9}\n"
		   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		   "g: {<<: [*a], x: [*e, *e, *e, *e, *e]}\n",
		   KORCH_ETOOLARGE,
		   "line 6 column 31: alias *e expands the stream past 1000000 nodes");
	yaml_fails("a: &a\n- x\n- x\n- x\n- x\nb: &b\n- *a\n- *a\n- *a\n- *a\n"
		   "c: &c\n- *b\n- *b\n- *b\n- *b\nd: &d\n- *c\n- *c\n- *c\n- *c\n"
		   "e: &e\n- *d\n- *d\n- *d\n- *d\nf: &f\n- *e\n- *e\n- *e\n- *e\n"
		   "g: &g\n- *f\n- *f\n- *f\n- *f\nh: &h\n- *g\n- *g\n- *g\n- *g\n"
		   "i: &i\n- *h\n- *h\n- *h\n- *h\nj: &j\n- *i\n- *i\n- *i\n- *i\n"
		   "k: &k\n- *j\n- *j\n- *j\n- *j\n",
		   KORCH_ETOOLARGE,
		   "line 48 column 3: alias *i expands the stream past 1000000 nodes");
}

/* "a: &a [1, 1, ... n] \nb: [*a, ... k]" */
static char *
budget_doc(size_t n, size_t k)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, "a: &a [");
	for (size_t i = 0; i < n; i++)
		strbuf_puts(&sb, i ? ",1" : "1");
	strbuf_puts(&sb, "]\nb: [");
	for (size_t i = 0; i < k; i++)
		strbuf_puts(&sb, i ? ",*a" : "*a");
	strbuf_puts(&sb, "]\n");
	assert_false(sb.oom);
	return strbuf_steal(&sb);
}

static void
test_node_budget_boundary(void **state)
{
	/*
	 * Nodes: the root mapping, key a, the sequence and its 1000 items (1003), key b and its
	 * sequence (2), and 1001 per alias: 997 aliases make 999,002 nodes, 998 make 1,000,003.
	 */
	char *text = budget_doc(1000, 998);
	char msg[128];
	snprintf(msg, sizeof(msg),
		 "line 2 column %u: alias *a expands the stream past 1000000 nodes", 5 + 3 * 997);
	yaml_fails(text, KORCH_ETOOLARGE, msg);
	free(text);

	text = budget_doc(1000, 997);
	json_t *doc = yaml_one(text);
	json_t *b = json_object_get(doc, "b");
	assert_int_equal(json_array_size(b), 997);
	assert_int_equal(json_array_size(json_array_get(b, 996)), 1000);
	/* Copies, not shared references. */
	assert_ptr_not_equal(json_array_get(b, 0), json_array_get(b, 1));
	assert_ptr_not_equal(json_array_get(b, 0), json_object_get(doc, "a"));
	json_decref(doc);
	free(text);
}

static void
test_node_budget_plain(void **state)
{
	/* Without aliases too: a flow sequence of a million and one items. */
	struct strbuf sb = STRBUF_INIT;
	strbuf_putc(&sb, '[');
	for (size_t i = 0; i < 1000001; i++)
		strbuf_puts(&sb, i ? ",1" : "1");
	strbuf_putc(&sb, ']');
	assert_false(sb.oom);
	/* The sequence is node 1, item 1,000,000 is node 1,000,001. */
	yaml_fails(strbuf_str(&sb), KORCH_ETOOLARGE,
		   "line 1 column 2000000: more than 1000000 nodes");
	strbuf_free(&sb);
}

static char *
repeat(const char *a, size_t n, const char *mid, const char *b, size_t m)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		strbuf_puts(&sb, a);
	strbuf_puts(&sb, mid);
	for (size_t i = 0; i < m; i++)
		strbuf_puts(&sb, b);
	assert_false(sb.oom);
	return strbuf_steal(&sb);
}

static void
test_depth(void **state)
{
	/* JSON: 100 levels accepted, 101 and 10,000 refused before jansson builds anything. */
	char *text = repeat("[", 100, "", "]", 100);
	json_t *doc = NULL;
	korch_error *err = NULL;
	assert_int_equal(codec_json_decode(text, strlen(text), &doc, &err), 0);
	json_decref(doc);
	free(text);
	text = repeat("{\"a\":", 100, "1", "}", 100);
	assert_int_equal(codec_json_decode(text, strlen(text), &doc, &err), 0);
	json_decref(doc);
	free(text);
	text = repeat("[", 101, "", "]", 101);
	json_fails(text, KORCH_ETOOLARGE, "line 1 column 101: nesting deeper than 100");
	free(text);
	double t0 = now_s();
	text = repeat("[", 10000, "", "]", 10000);
	json_fails(text, KORCH_ETOOLARGE, "line 1 column 101: nesting deeper than 100");
	free(text);
	text = repeat("{\"a\":", 10000, "1", "}", 10000);
	json_fails(text, KORCH_ETOOLARGE, "line 1 column 501: nesting deeper than 100");
	free(text);
	/* Brackets inside strings do not count. */
	text = repeat("\"[[[[[[[[[[", 1,
		      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[",
		      "\"", 1);
	json_t *s = NULL;
	assert_int_equal(codec_json_decode(text, strlen(text), &s, &err), 0);
	json_decref(s);
	free(text);

	/* YAML, flow and block. */
	text = repeat("[", 100, "", "]", 100);
	doc = yaml_one(text);
	json_decref(doc);
	free(text);
	text = repeat("[", 101, "", "]", 101);
	yaml_fails(text, KORCH_ETOOLARGE, "line 1 column 101: nesting deeper than 100");
	free(text);
	text = repeat("[", 10000, "", "]", 10000);
	yaml_fails(text, KORCH_ETOOLARGE, "line 1 column 101: nesting deeper than 100");
	free(text);
	text = repeat("- ", 10000, "x\n", "", 0);
	yaml_fails(text, KORCH_ETOOLARGE, "line 1 column 201: nesting deeper than 100");
	free(text);
	text = repeat("{a: ", 10000, "1", "}", 10000);
	yaml_fails(text, KORCH_ETOOLARGE, "line 1 column 401: nesting deeper than 100");
	free(text);
	/* Block mappings by indentation: 101 levels. */
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 101; i++) {
		for (int k = 0; k < i; k++)
			strbuf_putc(&sb, ' ');
		strbuf_puts(&sb, i == 100 ? "a: 1\n" : "a:\n");
	}
	yaml_fails(strbuf_str(&sb), KORCH_ETOOLARGE,
		   "line 101 column 101: nesting deeper than 100");
	strbuf_free(&sb);
	double elapsed = now_s() - t0;
	print_message("# depth 10,000 refusals: %.4f s\n", elapsed);
	assert_true(elapsed < 1.0);

	/* An alias counts the depth of what it expands to. */
	text = repeat("[", 60, "", "]", 60);
	char in[512];
	char *deep = repeat("{b: ", 40, "*a", "}", 40);
	snprintf(in, sizeof(in), "a: &a %s\nc: %s\n", text, deep);
	yaml_fails(in, KORCH_ETOOLARGE, "line 2 column 164: nesting deeper than 100");
	free(deep);
	deep = repeat("{b: ", 39, "*a", "}", 39);
	snprintf(in, sizeof(in), "a: &a %s\nc: %s\n", text, deep);
	doc = yaml_one(in);
	json_decref(doc);
	free(deep);
	free(text);
}

static void
test_size_limit(void **state)
{
	size_t n = CODEC_MAX_DOCUMENT_BYTES;
	char *text = malloc(n + 2);
	assert_non_null(text);
	/* Exactly 3 MiB: a JSON string, and a YAML document of one plain scalar. */
	text[0] = '"';
	memset(text + 1, 'x', n - 2);
	text[n - 1] = '"';
	text[n] = '\0';
	json_t *doc = NULL;
	korch_error *err = NULL;
	assert_int_equal(codec_json_decode(text, n, &doc, &err), 0);
	assert_int_equal(json_string_length(doc), n - 2);
	json_decref(doc);
	struct codec_docs docs = { 0 };
	assert_int_equal(codec_yaml_decode(text + 1, n - 1, &docs, &err), 0);
	codec_docs_free(&docs);

	/* One byte more. */
	text[n] = ' ';
	text[n + 1] = '\0';
	json_fails_n(text, n + 1, KORCH_ETOOLARGE,
		     "input of 3145729 bytes is over the limit of 3145728 bytes");
	yaml_fails_n(text, n + 1, KORCH_ETOOLARGE,
		     "input of 3145729 bytes is over the limit of 3145728 bytes");
	assert_int_equal(codec_decode_manifests(text, n + 1, "big.yaml", &docs, &err),
			 KORCH_ETOOLARGE);
	assert_string_equal(korch_error_message(err),
			    "big.yaml: input of 3145729 bytes is over the limit of 3145728 bytes");
	korch_error_free(err);
	free(text);
}

static void
test_large_strings(void **state)
{
	size_t n = 1024 * 1024;
	char *big = malloc(n + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	struct strbuf sb = STRBUF_INIT;

	/* JSON. */
	strbuf_printf(&sb, "{\"data\":{\"blob\":\"%s\"}}", big);
	json_t *doc = NULL;
	korch_error *err = NULL;
	assert_int_equal(codec_json_decode(sb.buf, sb.len, &doc, &err), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(doc, "data"), "blob")), big);
	assert_yaml_round_trip(doc);
	json_decref(doc);

	/* YAML: plain, double-quoted, literal block, and as a key (explicit: simple keys stop at
	 * 1024 characters). */
	static const char *const forms[][2] = {
		{ "v: ", "\n" }, { "v: \"", "\"\n" }, { "v: |-\n  ", "\n" }, { "? ", "\n: v\n" }
	};
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		strbuf_truncate(&sb, 0);
		strbuf_puts(&sb, forms[i][0]);
		strbuf_puts(&sb, big);
		strbuf_puts(&sb, forms[i][1]);
		doc = yaml_one(sb.buf);
		const char *k = i == 3 ? big : "v";
		const char *v = i == 3 ? "v" : big;
		assert_string_equal(json_string_value(json_object_get(doc, k)), v);
		json_decref(doc);
	}
	strbuf_free(&sb);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* First, while the process is small. */
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_alias_bombs),
		cmocka_unit_test(test_node_budget_boundary),
		cmocka_unit_test(test_node_budget_plain),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_large_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
