/*
 * fuzz_json.c - libFuzzer target for the JSON decoder: decode, free; what decoded must encode
 * to compact JSON that decodes to the same text again. The fast decoder and encoder are checked
 * against jansson on every input: codec_json_decode() accepts exactly what the input checks plus
 * json_loadb() accept and builds the same tree, codec_json_decode_stored() matches
 * json_loadb(..., 0), and codec_json_encode() writes json_dumps()'s text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec-internal.h"
#include "base/error.h"

static void
same_tree(json_t *want, json_t *got, const char *what)
{
	if (!want != !got) {
		fprintf(stderr, "%s: jansson %s, codec %s\n", what, want ? "accepts" : "refuses",
			got ? "accepts" : "refuses");
		abort();
	}
	if (!want)
		return;
	char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
	char *g = codec_json_encode(got);
	if (!w || !g || strcmp(w, g) != 0 || !json_equal(want, got)) {
		fprintf(stderr, "%s: trees differ:\n%s\n%s\n", what, w ? w : "(null)",
			g ? g : "(null)");
		abort();
	}
	free(w);
	free(g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text_in = (const char *)data;
	json_t *stored = NULL;
	json_t *stored_want = json_loadb(text_in, size, 0, NULL);
	if (codec_json_decode_stored(text_in, size, &stored, NULL) < 0)
		stored = NULL;
	same_tree(stored_want, stored, "stored");
	json_decref(stored);
	json_decref(stored_want);

	json_t *want = NULL;
	if (codec_check_input(text_in, size, NULL, true, NULL) == 0)
		want = json_loadb(text_in, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	json_t *doc = NULL;
	korch_error *err = NULL;
	if (codec_json_decode(text_in, size, &doc, &err) < 0) {
		if (!err || !korch_error_message(err)[0])
			abort();
		korch_error_free(err);
		same_tree(want, NULL, "decode");
		return 0;
	}
	same_tree(want, doc, "decode");
	json_decref(want);
	char *text = codec_json_encode(doc);
	json_t *again = NULL;
	if (!text || codec_json_decode(text, strlen(text), &again, &err) < 0) {
		fprintf(stderr, "re-decoding failed: %s\n%s\n", err ? korch_error_message(err) : "",
			text ? text : "(null)");
		abort();
	}
	char *text2 = codec_json_encode(again);
	if (!text2 || strcmp(text, text2) != 0) {
		fprintf(stderr, "round trip differs:\n%s\n%s\n", text, text2 ? text2 : "(null)");
		abort();
	}
	free(text);
	free(text2);
	json_decref(again);
	json_decref(doc);
	return 0;
}
