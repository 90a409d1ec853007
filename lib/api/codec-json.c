/*
 * codec-json.c - JSON text to jansson trees, with the input limits checked before jansson builds
 * anything; plain valid input takes the fast path of codec-json-fast.c first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec-internal.h"
#include "base/error.h"

/*
 * jansson quotes the text near an error byte by byte, which can cut a UTF-8 sequence or carry a
 * control character; messages must stay printable UTF-8 (they end up in JSON Status bodies).
 */
static void
printable(const char *text, char *buf, size_t size)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text), o = 0;
	for (size_t i = 0; i < len && o + 5 < size;) {
		size_t n = codec_utf8_char(s + i, len - i);
		if (n == 0 || s[i] < 0x20 || s[i] == 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", s[i]);
			i++;
		} else {
			if (o + n >= size)
				break;
			memcpy(buf + o, s + i, n);
			o += n;
			i += n;
		}
	}
	buf[o] = '\0';
}

int
codec_json_decode_source(const char *data, size_t len, const char *source, json_t **ret,
			 korch_error **err)
{
	json_t *fast = codec_json_decode_fast(data, len);
	if (fast) {
		*ret = fast;
		return 0;
	}
	int r = codec_check_input(data, len, source, true, err);
	if (r < 0)
		return r;

	/*
	 * Duplicate keys are refused (Go's decoder would keep the last one silently; Kubernetes'
	 * strict field validation refuses them). NUL in strings ("\u0000") stays refused: the
	 * rest of korch handles strings as C strings.
	 */
	json_error_t jerr;
	json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!doc) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return error_oom(err);
		unsigned line = jerr.line > 0 ? (unsigned)jerr.line : 0;
		unsigned column = jerr.column > 0 ? (unsigned)jerr.column : 0;
		if (line == 0 && jerr.position >= 0)
			codec_position(data, len, (size_t)jerr.position, &line, &column);
		/* jansson names its own flag here; say what is wrong instead. */
		char text[4 * JSON_ERROR_TEXT_LENGTH + 8];
		if (json_error_code(&jerr) == json_error_null_character)
			snprintf(text, sizeof(text), "\\u0000 (NUL) is not allowed in strings");
		else
			printable(jerr.text, text, sizeof(text));
		return codec_fail(err, KORCH_EINVALID, source, line, column, "%s", text);
	}
	*ret = doc;
	return 0;
}
