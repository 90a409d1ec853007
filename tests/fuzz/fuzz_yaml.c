/*
 * fuzz_yaml.c - libFuzzer target for the YAML decoder: decode, free; for every document that
 * decoded, encode it as YAML and decode that again, which must give the same tree (field order
 * and number types included): the encoder and the decoder agree on what every scalar means.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/strbuf.h"

/*
 * Round trips of documents this big (aliases can expand 64 KiB of input to a million nodes)
 * would only measure the machine against libFuzzer's 1 s limit: they are skipped.
 */
#define ROUND_TRIP_MAX_NODES 50000

static size_t
count_nodes(const json_t *v, size_t limit)
{
	size_t n = 1;
	if (json_is_object(v)) {
		for (void *it = json_object_iter((json_t *)v); it && n <= limit;
		     it = json_object_iter_next((json_t *)v, it))
			n += 1 + count_nodes(json_object_iter_value(it), limit);
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && n <= limit; i++)
			n += count_nodes(json_array_get(v, i), limit);
	}
	return n;
}

static void
round_trip(const json_t *doc)
{
	if (count_nodes(doc, ROUND_TRIP_MAX_NODES) > ROUND_TRIP_MAX_NODES)
		return;
	struct strbuf yaml = STRBUF_INIT;
	korch_error *err = NULL;
	if (codec_yaml_encode(doc, &yaml, &err) < 0) {
		fprintf(stderr, "encode failed: %s\n", korch_error_message(err));
		abort();
	}
	struct codec_docs again = { 0 };
	if (codec_yaml_decode(yaml.buf, yaml.len, &again, &err) < 0) {
		fprintf(stderr, "decoding the encoded document failed: %s\n--- yaml:\n%s\n",
			korch_error_message(err), yaml.buf);
		abort();
	}
	char *want = codec_json_encode(doc);
	char *got = again.n == 1 ? codec_json_encode(again.docs[0]) : NULL;
	if (!want || !got || strcmp(want, got) != 0) {
		fprintf(stderr,
			"round trip differs (%zu documents)\n--- yaml:\n%s\n--- want: %s\n"
			"--- got:  %s\n",
			again.n, yaml.buf, want ? want : "(null)", got ? got : "(null)");
		abort();
	}
	free(want);
	free(got);
	codec_docs_free(&again);
	strbuf_free(&yaml);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	if (codec_yaml_decode((const char *)data, size, &docs, &err) < 0) {
		if (!err || !korch_error_message(err)[0])
			abort();
		korch_error_free(err);
		return 0;
	}
	for (size_t i = 0; i < docs.n; i++)
		round_trip(docs.docs[i]);
	codec_docs_free(&docs);
	return 0;
}
