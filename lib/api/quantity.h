/*
 * quantity.h - Kubernetes resource quantities ("100m", "0.5", "128Mi", "1G", "2e3"), parsed
 * and compared exactly as k8s.io/apimachinery/pkg/api/resource does.
 */
#ifndef KORCH_API_QUANTITY_H
#define KORCH_API_QUANTITY_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/common.h>

enum quantity_format {
	QUANTITY_DECIMAL_SI,       /* m, k, M, G, T, P, E or none */
	QUANTITY_BINARY_SI,        /* Ki, Mi, Gi, Ti, Pi, Ei */
	QUANTITY_DECIMAL_EXPONENT, /* e3, E6 */
};

struct quantity {
	__int128 nano;               /* the value in units of 10^-9, rounded up as Kubernetes does */
	enum quantity_format format; /* the suffix family it was written in */
};

/*
 * Parses a quantity string. KORCH_EINVALID with Kubernetes' messages ("quantities must match
 * the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'") for anything else.
 */
int quantity_parse(const char *s, struct quantity *ret, korch_error **err);

/* Parses a JSON value holding a quantity: a string or a number. */
struct json_t;
int quantity_from_json(const struct json_t *v, struct quantity *ret, korch_error **err);

/* -1, 0 or 1. */
int quantity_cmp(const struct quantity *a, const struct quantity *b);

/* The value rounded up to an integer (Quantity.Value()), saturating at INT64_MAX. */
int64_t quantity_value(const struct quantity *q);
/* The value in thousandths rounded up (Quantity.MilliValue()), saturating. */
int64_t quantity_milli_value(const struct quantity *q);

/* Kubernetes' canonical form ("1500m" -> "1500m", "1.5" -> "1500m", "1024Ki" -> "1Mi"). */
int quantity_format(const struct quantity *q, char buf[static 64]);

#endif
