/*
 * fuzz_json.c - libFuzzer target for the JSON decoder: decode, free; what decoded must encode
 * to compact JSON that decodes to the same text again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = NULL;
	korch_error *err = NULL;
	if (codec_json_decode((const char *)data, size, &doc, &err) < 0) {
		if (!err || !korch_error_message(err)[0])
			abort();
		korch_error_free(err);
		return 0;
	}
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
