/*
 * fuzz_quantity: the quantity parser. Whatever parses must print in under 64 bytes and parse
 * back to the same value, except where Kubernetes itself prints a decimal value of 10^21 or
 * more without its suffix; a number read as JSON must parse too. Anything else aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api/quantity.h"

static bool
past_suffixes(const struct quantity *q)
{
	__int128 limit = 1;
	for (int i = 0; i < 30; i++)
		limit *= 10; /* 10^21 units in nano units */
	__int128 v = q->nano < 0 ? -q->nano : q->nano;
	return q->format == QUANTITY_DECIMAL_SI && !q->text[0] && v >= limit;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct quantity q, back;
	korch_error *err = NULL;
	int r = quantity_parse(text, &q, &err);
	if (r < 0) {
		if (r != KORCH_EINVALID && r != KORCH_ETOOLARGE)
			abort();
		if (!*korch_error_message(err))
			abort();
		korch_error_free(err);
	} else {
		char out[64];
		int n = quantity_format(&q, out);
		if (n < 1 || n > 63 || (size_t)n != strlen(out))
			abort();
		if (quantity_parse(out, &back, NULL) != 0 ||
		    (quantity_cmp(&q, &back) != 0 && !past_suffixes(&q))) {
			fprintf(stderr, "quantity %s printed as %s\n", text, out);
			abort();
		}
		(void)quantity_value(&q);
		(void)quantity_milli_value(&q);
	}
	/* Numbers as JSON reals: the text written for them must parse. */
	char *end;
	double d = strtod(text, &end);
	if (size && *end == '\0' && isfinite(d)) {
		json_t *v = json_real(d);
		r = quantity_from_json(v, &q, NULL);
		if (r != 0 && r != KORCH_ETOOLARGE) {
			fprintf(stderr, "JSON number %.17g refused\n", d);
			abort();
		}
		json_decref(v);
	}
	free(text);
	return 0;
}
