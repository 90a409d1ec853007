/*
 * test-util.c - helpers every unit test may use (test-util.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "test-util.h"

json_t *
test_yaml(const char *text)
{
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	if (codec_yaml_decode(text, strlen(text), &docs, &err) < 0)
		fail_msg("yaml: %s", korch_error_message(err));
	json_t *obj = json_incref(docs.docs[0]);
	codec_docs_free(&docs);
	return obj;
}
