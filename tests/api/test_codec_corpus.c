/*
 * The manifest corpus (tests/api/manifests: real-world shapes written for korch): every file
 * decodes to its documents, every document survives YAML and JSON round trips with its field
 * order, and every prefix of every file either decodes or fails with a positioned error (run
 * under valgrind and ASan, this is the "truncation at every byte" case of reliability scenario
 * 31).
 */
#include <dirent.h>

#include "test_codec.h"
#include "base/fs.h"
#include "base/util.h"

static const struct {
	const char *file; /* name under tests/api/manifests */
	size_t docs;      /* documents it holds */
} corpus[] = {
	{ "anchors-merge.yaml", 1 },
	{ "bom-unicode.yaml", 1 },
	{ "configmap-multiline.yaml", 1 },
	{ "crd.yaml", 1 },
	{ "crlf-service.yaml", 1 },
	{ "cronjob-backup.yaml", 1 },
	{ "custom-resource.yaml", 1 },
	{ "daemonset-logs.yaml", 1 },
	{ "deployment-web.yaml", 1 },
	{ "deployment.json", 1 },
	{ "endpoints.yaml", 2 },
	{ "flow-style.yaml", 1 },
	{ "helm-rendered.yaml", 4 },
	{ "hpa.yaml", 1 },
	{ "ingress.yaml", 1 },
	{ "job-pi.yaml", 1 },
	{ "kubectl-output.yaml", 1 },
	{ "kustomization.yaml", 1 },
	{ "lease-event.yaml", 2 },
	{ "list.yaml", 1 },
	{ "multi-doc-markers.yaml", 3 },
	{ "networkpolicy.yaml", 1 },
	{ "node-status.yaml", 1 },
	{ "pdb-priority.yaml", 2 },
	{ "pod-full.yaml", 1 },
	{ "pod.json", 1 },
	{ "rbac.yaml", 5 },
	{ "registry-secret.yaml", 4 },
	{ "replicasets.yaml", 3 },
	{ "secret-stringdata.yaml", 1 },
	{ "service-clusterip.yaml", 1 },
	{ "service-nodeport.yaml", 1 },
	{ "services-more.yaml", 3 },
	{ "statefulset-postgres.yaml", 1 },
	{ "storage.yaml", 3 },
	{ "tags-and-types.yaml", 2 },
};

static char *
corpus_path(const char *file)
{
	const char *root = getenv("KORCH_SOURCE_ROOT");
	assert_non_null(root);
	char *path = NULL;
	assert_true(asprintf(&path, "%s/tests/api/manifests/%s", root, file) > 0);
	return path;
}

static char *
read_corpus(const char *file, size_t *len)
{
	char *path = corpus_path(file);
	char *data = NULL;
	korch_error *err = NULL;
	if (read_file(path, CODEC_MAX_DOCUMENT_BYTES, &data, len, &err) < 0)
		print_error("%s\n", korch_error_message(err));
	assert_non_null(data);
	free(path);
	return data;
}

static void
test_corpus_is_listed(void **state)
{
	/* Every file in the directory is in the table above, so none goes untested. */
	char *dir = corpus_path("");
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t seen = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		bool listed = false;
		for (size_t i = 0; i < ARRAY_SIZE(corpus); i++)
			listed = listed || streq(corpus[i].file, e->d_name);
		if (!listed)
			print_error("%s is not in the corpus table\n", e->d_name);
		assert_true(listed);
		seen++;
	}
	closedir(d);
	free(dir);
	assert_int_equal(seen, ARRAY_SIZE(corpus));
	size_t docs = 0;
	for (size_t i = 0; i < ARRAY_SIZE(corpus); i++)
		docs += corpus[i].docs;
	assert_true(docs >= 50);
}

static void
test_corpus_round_trips(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(corpus); i++) {
		size_t len = 0;
		char *data = read_corpus(corpus[i].file, &len);
		struct codec_docs docs = { 0 };
		korch_error *err = NULL;
		int r = codec_decode_manifests(data, len, corpus[i].file, &docs, &err);
		if (r < 0)
			print_error("%s\n", korch_error_message(err));
		assert_int_equal(r, 0);
		assert_int_equal(docs.n, corpus[i].docs);
		for (size_t k = 0; k < docs.n; k++) {
			assert_true(json_is_object(docs.docs[k]));
			assert_non_null(json_object_get(docs.docs[k], "kind"));
			assert_true(docs.lines[k] >= 1);
			/* decode(encode(decode(x))) == decode(x), field order included. */
			assert_yaml_round_trip(docs.docs[k]);
			char *text = codec_json_encode(docs.docs[k]);
			json_t *again = NULL;
			assert_int_equal(codec_json_decode(text, strlen(text), &again, &err), 0);
			assert_json_text(again, text);
			json_decref(again);
			free(text);
		}
		codec_docs_free(&docs);
		free(data);
	}
}

static void
test_corpus_spot_checks(void **state)
{
	size_t len = 0;
	char *data = read_corpus("helm-rendered.yaml", &len);
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	assert_int_equal(codec_decode_manifests(data, len, "helm-rendered.yaml", &docs, &err), 0);
	/* Each document starts at its first line of content, after the "# Source" comment. */
	static const unsigned lines[] = { 3, 15, 33, 71 };
	for (size_t k = 0; k < docs.n; k++)
		assert_int_equal(docs.lines[k], lines[k]);
	/* The selector came through an alias. */
	assert_json_text(json_object_get(json_object_get(docs.docs[1], "spec"), "selector"),
			 "{\"helm.sh/chart\":\"shop-0.4.2\",\"app.kubernetes.io/name\":\"shop\","
			 "\"app.kubernetes.io/instance\":\"release\"}");
	codec_docs_free(&docs);
	free(data);

	data = read_corpus("tags-and-types.yaml", &len);
	assert_int_equal(codec_decode_manifests(data, len, "tags-and-types.yaml", &docs, &err), 0);
	assert_json_text(
		docs.docs[1],
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"typed\"},"
		"\"spec\":{\"terminationGracePeriodSeconds\":45,\"activeDeadlineSeconds\":600,"
		"\"containers\":[{\"name\":\"c\",\"image\":\"busybox\",\"ports\":"
		"[{\"containerPort\":4096},{\"containerPort\":8080}],\"resources\":{\"limits\""
		":{\"cpu\":0.5,\"memory\":1000000000}},\"env\":[{\"name\":\"FLAG\",\"value\":"
		"\"yes\"},{\"name\":\"NUMBER\",\"value\":\"42\"}]}],\"securityContext\":"
		"{\"runAsUser\":1000,\"runAsGroup\":1000}}}");
	codec_docs_free(&docs);
	free(data);
}

/* Every prefix decodes or fails with "FILE:LINE..." and nothing else. */
static void
truncate_everywhere(const char *file, const char *data, size_t len)
{
	size_t file_len = strlen(file);
	unsigned lines = 1;
	for (size_t cut = 0; cut < len; cut++) {
		if (cut > 0 && data[cut - 1] == '\n')
			lines++;
		struct codec_docs docs = { 0 };
		korch_error *err = NULL;
		int r = codec_decode_manifests(data, cut, file, &docs, &err);
		if (r == 0) {
			for (size_t k = 0; k < docs.n; k++)
				assert_non_null(docs.docs[k]);
			codec_docs_free(&docs);
			continue;
		}
		assert_int_equal(r, KORCH_EINVALID);
		assert_null(docs.docs);
		const char *msg = korch_error_message(err);
		unsigned line = 0;
		if (strncmp(msg, file, file_len) != 0 || msg[file_len] != ':' ||
		    sscanf(msg + file_len + 1, "%u", &line) != 1 || line == 0 || line > lines + 1)
			print_error("%s cut at %zu: %s\n", file, cut, msg);
		assert_memory_equal(msg, file, file_len);
		assert_true(line >= 1 && line <= lines + 1);
		korch_error_free(err);
	}
}

static void
test_corpus_truncated(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(corpus); i++) {
		size_t len = 0;
		char *data = read_corpus(corpus[i].file, &len);
		truncate_everywhere(corpus[i].file, data, len);
		free(data);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_is_listed),
		cmocka_unit_test(test_corpus_round_trips),
		cmocka_unit_test(test_corpus_spot_checks),
		cmocka_unit_test(test_corpus_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
