/*
 * YAML encoding: the look of `kubectl get -o yaml` (two-space indent, sequences under a key at
 * the key's indentation, {} and [], literal blocks, quoting only where needed), exact texts, and
 * round trips of tricky values.
 */
#include "test_codec.h"

static json_t *
json_from(const char *text)
{
	json_t *v = NULL;
	korch_error *err = NULL;
	if (codec_json_decode(text, strlen(text), &v, &err) < 0)
		print_error("%s\n", korch_error_message(err));
	assert_non_null(v);
	return v;
}

static void
test_emit_kubectl_look(void **state)
{
	/* Keys in the order kubectl prints them (Go sorts them; we keep insertion order). */
	json_t *v = json_from(
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":"
		"{\"deployment.kubernetes.io/revision\":\"1\"},\"creationTimestamp\":"
		"\"2024-01-01T00:00:00Z\",\"generation\":1,\"labels\":{\"app\":\"web\"},\"name\":"
		"\"web\",\"namespace\":\"default\"},\"spec\":{\"replicas\":3,\"selector\":"
		"{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"creationTimestamp\""
		":null,\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"args\":"
		"[\"--port=80\"],\"command\":[\"/bin/sh\",\"-c\",\"echo hello\\nexec nginx\\n\"],"
		"\"env\":[{\"name\":\"EMPTY\",\"value\":\"\"},{\"name\":\"ENABLED\",\"value\":\"true\"}"
		",{\"name\":\"PORT\",\"value\":\"8080\"}],\"image\":\"nginx:1.25\",\"name\":\"web\","
		"\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],\"resources\":{}}],"
		"\"tolerations\":[]}}},\"status\":{}}");
	yaml_encodes_to(v, "apiVersion: apps/v1\n"
			   "kind: Deployment\n"
			   "metadata:\n"
			   "  annotations:\n"
			   "    deployment.kubernetes.io/revision: \"1\"\n"
			   "  creationTimestamp: \"2024-01-01T00:00:00Z\"\n"
			   "  generation: 1\n"
			   "  labels:\n"
			   "    app: web\n"
			   "  name: web\n"
			   "  namespace: default\n"
			   "spec:\n"
			   "  replicas: 3\n"
			   "  selector:\n"
			   "    matchLabels:\n"
			   "      app: web\n"
			   "  template:\n"
			   "    metadata:\n"
			   "      creationTimestamp: null\n"
			   "      labels:\n"
			   "        app: web\n"
			   "    spec:\n"
			   "      containers:\n"
			   "      - args:\n"
			   "        - --port=80\n"
			   "        command:\n"
			   "        - /bin/sh\n"
			   "        - -c\n"
			   "        - |\n"
			   "          echo hello\n"
			   "          exec nginx\n"
			   "        env:\n"
			   "        - name: EMPTY\n"
			   "          value: \"\"\n"
			   "        - name: ENABLED\n"
			   "          value: \"true\"\n"
			   "        - name: PORT\n"
			   "          value: \"8080\"\n"
			   "        image: nginx:1.25\n"
			   "        name: web\n"
			   "        ports:\n"
			   "        - containerPort: 80\n"
			   "          protocol: TCP\n"
			   "        resources: {}\n"
			   "      tolerations: []\n"
			   "status: {}\n");
	assert_yaml_round_trip(v);
	json_decref(v);

	v = json_from("{\"a\":[[1,2],{\"b\":[]}],\"c\":[{\"d\":1,\"e\":{\"f\":2}}]}");
	yaml_encodes_to(v, "a:\n- - 1\n  - 2\n- b: []\nc:\n- d: 1\n  e:\n    f: 2\n");
	json_decref(v);
}

/* Encodes {"v": s} and compares the text after "v: " with want. */
static void
string_emits(const char *s, const char *want)
{
	json_t *v = json_pack("{s:s}", "v", s);
	assert_non_null(v);
	char expect[512];
	snprintf(expect, sizeof(expect), "v: %s\n", want);
	yaml_encodes_to(v, expect);
	assert_yaml_round_trip(v);
	json_decref(v);
}

static void
test_emit_quoting(void **state)
{
	static const struct {
		const char *s, *yaml;
	} cases[] = {
		{ "hello", "hello" },
		{ "hello world", "hello world" },
		{ "nginx:1.25", "nginx:1.25" },
		{ "it's", "it's" },
		{ "caf\303\251", "caf\303\251" },
		{ "x,y", "x,y" },
		{ "x]", "x]" },
		{ "?x", "?x" },
		{ "-c", "-c" },
		/* Reads back as a string in Go too: the float is out of range. */
		{ "1e999", "1e999" },
		/* Would resolve to another type when plain. */
		{ "", "\"\"" },
		{ "true", "\"true\"" },
		{ "yes", "\"yes\"" },
		{ "y", "\"y\"" },
		{ "N", "\"N\"" },
		{ "on", "\"on\"" },
		{ "null", "\"null\"" },
		{ "~", "\"~\"" },
		{ "123", "\"123\"" },
		{ "0644", "\"0644\"" },
		{ "0x1F", "\"0x1F\"" },
		{ "1_000", "\"1_000\"" },
		{ "1.5", "\"1.5\"" },
		{ "1e3", "\"1e3\"" },
		{ ".5", "\".5\"" },
		{ ".inf", "\".inf\"" },
		{ "9223372036854775808", "\"9223372036854775808\"" },
		{ "2001-12-14", "\"2001-12-14\"" },
		{ "2024-01-01T00:00:00Z", "\"2024-01-01T00:00:00Z\"" },
		{ "1:20", "\"1:20\"" },
		{ "<<", "\"<<\"" },
		/* Plain style cannot hold them: libyaml's emitter picks single quotes. */
		{ " lead", "' lead'" },
		{ "trail ", "'trail '" },
		{ "a: b", "'a: b'" },
		{ "x:", "'x:'" },
		{ "#x", "'#x'" },
		{ "a #b", "'a #b'" },
		{ "- x", "'- x'" },
		{ "-", "'-'" },
		{ "*/5 * * * *", "'*/5 * * * *'" },
		{ "@x", "'@x'" },
		{ "`x", "'`x'" },
		{ "%x", "'%x'" },
		{ "!x", "'!x'" },
		{ "&x", "'&x'" },
		{ "|x", "'|x'" },
		{ ">x", "'>x'" },
		{ "[x", "'[x'" },
		{ "{x", "'{x'" },
		{ ",x", "',x'" },
		{ "? x", "'? x'" },
		{ "'q'", "'''q'''" },
		{ "\"q\"", "'\"q\"'" },
		/* Characters only double quotes can hold. */
		{ "a\tb", "\"a\\tb\"" },
		{ "bell\a", "\"bell\\a\"" },
		{ "\357\273\277x", "\"\\uFEFFx\"" },
		/* Newlines: literal blocks with the right chomping, or double quotes. */
		{ "line1\nline2", "|-\n  line1\n  line2" },
		{ "line1\nline2\n", "|\n  line1\n  line2" },
		{ "x\n\n", "|+\n  x\n" },
		{ "  indented\nx", "|2-\n    indented\n  x" },
		{ "\nlead", "|2-\n\n  lead" },
		{ "trailing \nx", "\"trailing \\nx\"" },
		{ "tab\t\nx", "\"tab\\t\\nx\"" },
		{ "cr\r\nx", "\"cr\\r\\nx\"" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		string_emits(cases[i].s, cases[i].yaml);

	/* Keys follow the same rules. */
	json_t *v = json_from("{\"y\":1,\"n\":2,\"on\":3,\"null\":4,\"1\":5,\"a b\":6,\"<<\":7}");
	yaml_encodes_to(
		v, "\"y\": 1\n\"n\": 2\n\"on\": 3\n\"null\": 4\n\"1\": 5\na b: 6\n\"<<\": 7\n");
	assert_yaml_round_trip(v);
	json_decref(v);
}

static void
test_emit_long_lines(void **state)
{
	/*
	 * Scalars fold at the first space past column 80 (a line may run over), as go-yaml v2's
	 * emitter does; they read back as they were.
	 */
	json_t *v =
		json_from("{\"message\":\"0/3 nodes are available: 3 Insufficient cpu. "
			  "preemption: 0/3 nodes are available: 3 No preemption victims "
			  "found for incoming pod.\",\"word\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}");
	yaml_encodes_to(
		v, "message: '0/3 nodes are available: 3 Insufficient cpu. preemption: "
		   "0/3 nodes are available:\n"
		   "  3 No preemption victims found for incoming pod.'\n"
		   "word: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		   "aaaaaaaaaaaaaaaa\n");
	assert_yaml_round_trip(v);
	json_decref(v);

	v = json_from("{\"description\":\"This is a very long description that goes well "
		      "past the eighty column limit of the emitter\"}");
	yaml_encodes_to(v, "description: This is a very long description that goes well past the "
			   "eighty column\n"
			   "  limit of the emitter\n");
	assert_yaml_round_trip(v);
	json_decref(v);
}

static void
test_emit_scalars(void **state)
{
	json_t *v = json_pack("[i, I, I, f, f, f, f, f, f, f, f, b, b, n, s]", 5,
			      (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, 0.5, 1.0, -0.0, 1e22,
			      1e-7, 123456.7, 0.1, 2.5e300, 1, 0, "x");
	assert_non_null(v);
	yaml_encodes_to(v, "- 5\n- -9223372036854775808\n- 9223372036854775807\n- 0.5\n- 1\n- 0\n"
			   "- 1e+22\n- 1e-07\n- 123456.7\n- 0.1\n- 2.5e+300\n- true\n- false\n"
			   "- null\n- x\n");
	json_decref(v);

	/* Documents that are not mappings. */
	v = json_string("x");
	yaml_encodes_to(v, "x\n");
	json_decref(v);
	v = json_object();
	yaml_encodes_to(v, "{}\n");
	json_decref(v);
	v = json_array();
	yaml_encodes_to(v, "[]\n");
	json_decref(v);
	v = json_null();
	yaml_encodes_to(v, "null\n");
	/* go-yaml drops libyaml's "..." after a keep-chomped block at the end. */
	v = json_string("x\n\n");
	yaml_encodes_to(v, "|+\n  x\n\n");
	assert_yaml_round_trip(v);
	json_decref(v);
}

static void
test_emit_errors(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	korch_error *err = NULL;
	strbuf_puts(&sb, "kept\n");

	json_t *v = json_pack("{s:s#}", "v", "a\0b", (size_t)3);
	assert_non_null(v);
	assert_int_equal(codec_yaml_encode(v, &sb, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "a string holds a NUL byte");
	assert_string_equal(strbuf_str(&sb), "kept\n");
	korch_error_free(err);
	err = NULL;
	json_decref(v);

	/* 100 levels are fine, 101 deeper than the decoders accept. */
	v = json_array();
	json_t *inner = v;
	for (int i = 1; i < CODEC_MAX_DEPTH; i++) {
		json_t *next = json_array();
		json_array_append_new(inner, next);
		inner = next;
	}
	assert_int_equal(codec_yaml_encode(v, &sb, &err), 0);
	assert_yaml_round_trip(v);
	strbuf_truncate(&sb, 5);
	json_array_append_new(inner, json_array());
	assert_int_equal(codec_yaml_encode(v, &sb, &err), KORCH_ETOOLARGE);
	assert_string_equal(korch_error_message(err), "nesting deeper than 100");
	assert_string_equal(strbuf_str(&sb), "kept\n");
	korch_error_free(err);
	err = NULL;
	json_decref(v);

	assert_int_equal(codec_yaml_encode(NULL, &sb, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "no value to encode");
	korch_error_free(err);
	strbuf_free(&sb);
}

static void
test_emit_round_trips(void **state)
{
	static const char *const strings[] = {
		"\342\200\250x\ny",
		"x\302\205y",
		"\302\240x",
		"x\302\240",
		"a\\b",
		"#",
		"- ",
		"---",
		"...",
		"--- x",
		"... x",
		"key: value\nother: x",
		" \n ",
		"\n",
		"\n\n",
		"x\n ",
		"\t",
		"\"",
		"'",
		":",
		"::",
		"a:b",
		"a :b",
		"http://x:80/#y",
		"0.",
		"+1",
		"-1",
		"1e",
		"._5",
		"0o8",
		"0b2",
		"2001-13-01",
		"2001-02-29",
		"2000-02-29",
		"\360\237\214\200 emoji",
		"\343\201\202\343\201\204",
		"=",
		"<",
		"<<<",
		"?",
		"? ",
		"!",
		"&",
		"*",
		"|",
		">",
		"%",
		"@",
		"`",
		"{}",
		"[]",
		"{a: 1}",
		"[1]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(strings); i++) {
		json_t *v = json_pack("{s:s, s:[s]}", strings[i], strings[i], "list", strings[i]);
		assert_non_null(v);
		assert_yaml_round_trip(v);
		json_decref(v);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emit_kubectl_look), cmocka_unit_test(test_emit_quoting),
		cmocka_unit_test(test_emit_long_lines),   cmocka_unit_test(test_emit_scalars),
		cmocka_unit_test(test_emit_errors),       cmocka_unit_test(test_emit_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
