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

/*
 * The largest magnitude korch holds: |nano| < 10^38, so values below 10^29. Kubernetes' own
 * limit is its memory (binary-suffixed values are clamped to 2^63-1 there, and here too).
 */
#define QUANTITY_MAX_DIGITS_NANO 38

struct quantity {
	__int128 nano; /* the value in units of 10^-9, rounded up as Kubernetes does */
	enum quantity_format format; /* the suffix family it was written in */
	/*
	 * The text as written, when Kubernetes keeps it and prints it back verbatim (its
	 * Quantity.s: "+1", "1.500", "1E3", "100m"); "" otherwise, and for quantities built by
	 * hand, which then print in the canonical form.
	 */
	char text[48];
};

/*
 * Parses a quantity string. KORCH_EINVALID with Kubernetes' messages: "quantities must match
 * the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", "unable to parse
 * numeric part of quantity", "unable to parse quantity's suffix". KORCH_ETOOLARGE for a value
 * Kubernetes accepts but korch cannot hold (10^29 or more, or an exponent past int32).
 * Kubernetes' quirks are kept: "+", "-" and "." are 0, "Ki" and "M" are 0, "e3" is 0.
 */
int quantity_parse(const char *s, struct quantity *ret, korch_error **err);

/*
 * Parses a JSON value holding a quantity, as Quantity.UnmarshalJSON does: a string (surrounding
 * ASCII whitespace trimmed), a number, or null (zero). A JSON number is read as the text Go's
 * encoding/json writes for it (0.5 -> "0.5", 1e21 -> "1e+21"), since jansson keeps no number
 * text: a number written with an exponent in JSON (not YAML) may come back as DecimalSI where
 * Kubernetes keeps DecimalExponent; the value is the same.
 */
struct json_t;
int quantity_from_json(const struct json_t *v, struct quantity *ret, korch_error **err);

/* -1, 0 or 1. */
int quantity_cmp(const struct quantity *a, const struct quantity *b);

/*
 * The value rounded up (away from zero) to an integer (Quantity.Value()), saturating at
 * INT64_MAX / INT64_MIN where Kubernetes would wrap around.
 */
int64_t quantity_value(const struct quantity *q);
/* The value in thousandths rounded up (Quantity.MilliValue()), saturating. */
int64_t quantity_milli_value(const struct quantity *q);

/*
 * Kubernetes' String(): the kept text when there is one, else the canonical form
 * (CanonicalizeBytes): "1.5" -> "1500m", "1024Ki" -> "1Mi", "0.5Gi" -> "512Mi", "1000" -> "1k",
 * "1e3" -> "1e3". Kept as in Kubernetes: a decimal value of 10^21 or more prints its mantissa
 * without a suffix ("1000E" -> "1"). Writes a NUL-terminated string into buf; returns its
 * length.
 */
int quantity_format(const struct quantity *q, char buf[static 64]);

#endif
