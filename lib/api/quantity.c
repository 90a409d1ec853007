/*
 * quantity.c - resource quantities as k8s.io/apimachinery/pkg/api/resource parses, rounds,
 * compares and prints them, held as a count of nano units in 128 bits.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api/quantity.h"
#include "base/error.h"
#include "base/util.h"

#define MSG_FORMAT                                      \
	"quantities must match the regular expression " \
	"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define MSG_NUMERIC "unable to parse numeric part of quantity"
#define MSG_SUFFIX "unable to parse quantity's suffix"

#define NANO_PER_UNIT 1000000000LL

/* 10^38: the first magnitude korch refuses, in nano units. */
static __int128
nano_limit(void)
{
	__int128 v = 1;
	for (int i = 0; i < QUANTITY_MAX_DIGITS_NANO; i++)
		v *= 10;
	return v;
}

/* 2^63-1 units, the clamp Kubernetes applies to binary-suffixed values, in nano units. */
static __int128
binary_max_nano(void)
{
	return (__int128)INT64_MAX * NANO_PER_UNIT;
}

/* The pieces parseQuantityString finds; pointers into the input. */
struct qparts {
	bool positive;
	const char *num;    /* integer digits after leading zeros; "0" when there are none */
	size_t num_len;     /* bytes of num */
	const char *denom;  /* fraction digits */
	size_t denom_len;   /* bytes of denom */
	bool any_digit;     /* the number part holds a digit at all (inf.Dec needs one) */
	const char *suffix; /* the suffix: letters, an optional sign and digits */
	size_t suffix_len;  /* bytes of suffix */
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The grammar of parseQuantityString, with its leniency ("", "+", "." are numbers there). */
static bool
split_quantity(const char *str, struct qparts *p)
{
	size_t end = strlen(str), pos = 0;
	*p = (struct qparts){ .positive = true, .num = "0", .num_len = 1, .suffix = "" };
	if (pos < end && (str[0] == '-' || str[0] == '+')) {
		p->positive = str[0] == '+';
		pos++;
	}
	while (pos < end && str[pos] == '0') {
		pos++;
		p->any_digit = true;
	}
	if (pos >= end)
		return true;
	size_t start = pos;
	while (pos < end && is_digit(str[pos]))
		pos++;
	if (pos >= end) {
		p->num = str + start, p->num_len = end - start;
		p->any_digit = true;
		return true;
	}
	if (pos > start) {
		p->num = str + start, p->num_len = pos - start;
		p->any_digit = true;
	}
	if (str[pos] == '.') {
		start = ++pos;
		while (pos < end && is_digit(str[pos]))
			pos++;
		p->denom = str + start, p->denom_len = pos - start;
		if (pos > start)
			p->any_digit = true;
		if (pos >= end)
			return true;
	}
	size_t suffix_start = pos;
	while (pos < end && strchr("eEinumkKMGTP", str[pos]))
		pos++;
	if (pos < end && (str[pos] == '-' || str[pos] == '+'))
		pos++;
	while (pos < end && is_digit(str[pos]))
		pos++;
	if (pos < end)
		return false;
	p->suffix = str + suffix_start, p->suffix_len = end - suffix_start;
	return true;
}

/* strconv.ParseInt(s, 10, 64) over s[0..n): optional sign, digits, no overflow. */
static bool
parse_go_int64(const char *s, size_t n, int64_t *ret)
{
	size_t i = 0;
	bool neg = false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i >= n)
		return false;
	unsigned __int128 v = 0;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > (unsigned __int128)INT64_MAX + 1)
			return false;
	}
	if (!neg && v > INT64_MAX)
		return false;
	*ret = neg ? (int64_t)(-(__int128)v) : (int64_t)v;
	return true;
}

/* quantitySuffixer.interpret: base, exponent and format of a suffix. */
static bool
interpret_suffix(const char *s, size_t n, int *base, int32_t *exponent,
		 enum quantity_format *format)
{
	static const struct {
		const char *s;
		int base;
		int32_t exp;
	} table[] = {
		{ "", 10, 0 },   { "n", 10, -9 }, { "u", 10, -6 }, { "m", 10, -3 },
		{ "k", 10, 3 },  { "M", 10, 6 },  { "G", 10, 9 },  { "T", 10, 12 },
		{ "P", 10, 15 }, { "E", 10, 18 }, { "Ki", 2, 10 }, { "Mi", 2, 20 },
		{ "Gi", 2, 30 }, { "Ti", 2, 40 }, { "Pi", 2, 50 }, { "Ei", 2, 60 },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strlen(table[i].s) == n && memcmp(table[i].s, s, n) == 0) {
			*base = table[i].base;
			*exponent = table[i].exp;
			*format = table[i].base == 2 ? QUANTITY_BINARY_SI : QUANTITY_DECIMAL_SI;
			return true;
		}
	}
	if (n > 1 && (s[0] == 'e' || s[0] == 'E')) {
		int64_t parsed;
		if (!parse_go_int64(s + 1, n - 1, &parsed))
			return false;
		*base = 10;
		*exponent = (int32_t)(uint32_t)(uint64_t)parsed; /* Go's int32() wraps */
		*format = QUANTITY_DECIMAL_EXPONENT;
		return true;
	}
	return false;
}

/* A decimal digit string being multiplied, for the exact (inf.Dec) path. */
struct digits {
	char *d;    /* most significant first, no leading zeros unless it is "0" */
	size_t len; /* digits in d */
};

/* Multiplies by 2^shift (shift <= 60) in place; d must have room for 19 more digits. */
static void
digits_shift_left(struct digits *x, int shift)
{
	unsigned __int128 carry = 0;
	for (size_t i = x->len; i-- > 0;) {
		unsigned __int128 v = ((unsigned __int128)(x->d[i] - '0') << shift) + carry;
		x->d[i] = (char)('0' + (int)(v % 10));
		carry = v / 10;
	}
	char head[40];
	size_t n = 0;
	while (carry) {
		head[n++] = (char)('0' + (int)(carry % 10));
		carry /= 10;
	}
	if (n) {
		memmove(x->d + n, x->d, x->len);
		for (size_t i = 0; i < n; i++)
			x->d[i] = head[n - 1 - i];
		x->len += n;
	}
}

/* Reads the first n digits into *ret; false past 10^38 (ret is then unusable). */
static bool
digits_value(const char *d, size_t n, __int128 *ret)
{
	__int128 v = 0, limit = nano_limit();
	for (size_t i = 0; i < n; i++) {
		if (v >= limit / 10)
			return false; /* v * 10 would reach 10^38 (and could overflow) */
		v = v * 10 + (d[i] - '0');
	}
	*ret = v;
	return true;
}

/*
 * The inf.Dec path of ParseQuantity: the exact value of the digits times 10^exp10 (and 2^exp2),
 * rounded up to nano units. Sets *overflow when it reaches 10^38 nano.
 */
static int
exact_nano(const struct qparts *p, int64_t exp10, int exp2, __int128 *ret, bool *overflow)
{
	size_t cap = p->num_len + p->denom_len + 24;
	char *buf = malloc(cap);
	if (!buf)
		return KORCH_ENOMEM;
	struct digits x = { buf, 0 };
	/* num has no leading zeros (or is "0"); the fraction may start with zeros. */
	for (size_t i = 0; i < p->num_len + p->denom_len; i++) {
		char c = i < p->num_len ? p->num[i] : p->denom[i - p->num_len];
		if (x.len == 0 && c == '0')
			continue;
		x.d[x.len++] = c;
	}
	*overflow = false;
	if (x.len == 0) {
		free(buf);
		*ret = 0;
		return 0;
	}
	if (exp2)
		digits_shift_left(&x, exp2);
	int64_t e = exp10 + 9; /* the value in nano units is x * 10^e */
	__int128 v = 0;
	if (e >= 0) {
		if (e > QUANTITY_MAX_DIGITS_NANO || !digits_value(x.d, x.len, &v)) {
			*overflow = true;
		} else {
			for (int64_t i = 0; i < e && !*overflow; i++) {
				if (v >= nano_limit() / 10)
					*overflow = true;
				else
					v *= 10;
			}
		}
	} else if ((uint64_t)-e >= x.len) {
		v = 1; /* below one nano unit and not zero: rounds up to one */
	} else {
		size_t keep = x.len - (size_t)-e;
		if (!digits_value(x.d, keep, &v)) {
			*overflow = true;
		} else {
			for (size_t i = keep; i < x.len; i++) {
				if (x.d[i] != '0') {
					v += 1;
					break;
				}
			}
		}
	}
	free(buf);
	*ret = v;
	return 0;
}

/* Whether s ends with "000" (the fast path's test for a non-canonical mantissa). */
static bool
ends_with_000(const struct qparts *p)
{
	char tail[3];
	size_t n = 0;
	for (size_t i = p->denom_len; i-- > 0 && n < 3;)
		tail[n++] = p->denom[i];
	for (size_t i = p->num_len; i-- > 0 && n < 3;)
		tail[n++] = p->num[i];
	return n == 3 && tail[0] == '0' && tail[1] == '0' && tail[2] == '0';
}

/* 10^n for 0 <= n <= 38. */
static __int128
pow10_128(int n)
{
	__int128 v = 1;
	while (n-- > 0)
		v *= 10;
	return v;
}

static int
too_large(const char *s, korch_error **err)
{
	return error_set(err, KORCH_ETOOLARGE,
			 "quantity \"%s\" is too large: korch holds magnitudes below 1e29", s);
}

/*
 * ParseQuantity. The int64 fast path decides whether Kubernetes keeps the text, and the inf.Dec
 * path whether it rounds, clamps binary values to 2^63-1 and turns a binary value below 1 into
 * a decimal one; both paths give the same exact value, which korch holds in nano units.
 */
int
quantity_parse(const char *s, struct quantity *ret, korch_error **err)
{
	if (!*s)
		return error_set(err, KORCH_EINVALID, MSG_FORMAT);
	struct quantity q = { .format = QUANTITY_DECIMAL_SI };
	if (streq(s, "0")) {
		strcpy(q.text, "0");
		*ret = q;
		return 0;
	}
	struct qparts p;
	if (!split_quantity(s, &p))
		return error_set(err, KORCH_EINVALID, MSG_FORMAT);
	int base;
	int32_t exponent;
	if (!interpret_suffix(p.suffix, p.suffix_len, &base, &exponent, &q.format))
		return error_set(err, KORCH_EINVALID, MSG_SUFFIX);

	int64_t precision = 0;
	int32_t scale = 0;
	int mantissa_shift = 0;
	if (q.format == QUANTITY_BINARY_SI) {
		if (exponent >= 0 && p.denom_len == 0) {
			mantissa_shift = exponent;
			precision = 15 - (int64_t)p.num_len - exponent * 3 / 10 - 1;
		} else {
			precision = -1;
		}
	} else {
		scale = exponent;
		precision = 18 - (int64_t)(p.num_len + p.denom_len);
	}
	if (precision >= 0) {
		scale = (int32_t)((uint32_t)scale - (uint32_t)p.denom_len); /* int32 wraps */
		if (scale >= -9) {
			/* shifted = num + denom, at most 18 digits here */
			int64_t value = 0;
			for (size_t i = 0; i < p.num_len + p.denom_len; i++)
				value = value * 10 +
					((i < p.num_len ? p.num[i] : p.denom[i - p.num_len]) - '0');
			__int128 result = (__int128)value << mantissa_shift;
			if (result <= INT64_MAX) {
				if (value == 0) {
					q.nano = 0;
				} else {
					if ((int64_t)scale + 9 >= QUANTITY_MAX_DIGITS_NANO)
						return too_large(s, err);
					__int128 p10 = pow10_128(scale + 9);
					if (result > (nano_limit() - 1) / p10)
						return too_large(s, err);
					__int128 nano = result * p10;
					q.nano = p.positive ? nano : -nano;
				}
				bool keep;
				if (q.format == QUANTITY_BINARY_SI)
					keep = exponent % 10 == 0 && (value & 7) != 0;
				else
					keep = scale % 3 == 0 && !ends_with_000(&p) &&
					       p.num[0] != '0';
				if (keep && strlen(s) < sizeof(q.text))
					strcpy(q.text, s);
				*ret = q;
				return 0;
			}
		}
	}

	if (!p.any_digit)
		return error_set(err, KORCH_EINVALID, MSG_NUMERIC);
	int64_t exp10 = -(int64_t)p.denom_len;
	int exp2 = 0;
	if (base == 10)
		exp10 += exponent;
	else
		exp2 = exponent;
	__int128 nano;
	bool overflow;
	if (exact_nano(&p, exp10, exp2, &nano, &overflow) < 0)
		return error_oom(err);
	if (q.format == QUANTITY_BINARY_SI && (overflow || nano > binary_max_nano())) {
		nano = binary_max_nano();
		overflow = false;
	}
	if (overflow)
		return too_large(s, err);
	if (q.format == QUANTITY_BINARY_SI && nano > 0 && nano < NANO_PER_UNIT)
		q.format = QUANTITY_DECIMAL_SI;
	q.nano = p.positive ? nano : -nano;
	*ret = q;
	return 0;
}

/*
 * Go's encoding/json text for a float64: the shortest digits that read back the same, in plain
 * notation unless the magnitude is below 1e-6 or from 1e21 on, where it uses an exponent
 * without leading zeros ("1e-07" becomes "1e-7").
 */
static void
format_go_json_float(double v, char buf[static 64])
{
	char e[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	/* e is "[-]D[.DDD]e[+-]XX" */
	const char *p = e;
	char digits[24];
	size_t nd = 0;
	bool neg = *p == '-';
	if (neg)
		p++;
	for (; *p && *p != 'e'; p++)
		if (is_digit(*p))
			digits[nd++] = *p;
	int exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	double a = fabs(v);
	char *o = buf;
	if (neg)
		*o++ = '-';
	if (a != 0 && (a < 1e-6 || a >= 1e21)) {
		*o++ = digits[0];
		if (nd > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, nd - 1);
			o += nd - 1;
		}
		sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
		/* Go trims the exponent's leading zero for one-digit negative exponents. */
		char *x = strchr(buf, 'e');
		if (x[1] == '-' && x[2] == '0' && x[3])
			memmove(x + 2, x + 3, strlen(x + 3) + 1);
		return;
	}
	if (exp10 < 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = -1; i > exp10; i--)
			*o++ = '0';
		memcpy(o, digits, nd);
		o += nd;
	} else {
		for (int i = 0; i <= exp10 || (size_t)i < nd; i++) {
			if (i == exp10 + 1)
				*o++ = '.';
			*o++ = (size_t)i < nd ? digits[i] : '0';
		}
	}
	*o = '\0';
}

int
quantity_from_json(const struct json_t *v, struct quantity *ret, korch_error **err)
{
	char buf[64];
	if (!v || json_is_null(v)) {
		*ret = (struct quantity){ .format = QUANTITY_DECIMAL_SI };
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (strlen(s) != n) /* a NUL inside */
			return error_set(err, KORCH_EINVALID, MSG_FORMAT);
		while (n && strchr(" \t\n\v\f\r", s[n - 1]))
			n--;
		while (n && strchr(" \t\n\v\f\r", *s))
			s++, n--;
		char *trimmed = strndup(s, n);
		if (!trimmed)
			return error_oom(err);
		int r = quantity_parse(trimmed, ret, err);
		free(trimmed);
		return r;
	}
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return quantity_parse(buf, ret, err);
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (!isfinite(d))
			return error_set(err, KORCH_EINVALID, MSG_FORMAT);
		format_go_json_float(d, buf);
		return quantity_parse(buf, ret, err);
	}
	/* Objects, arrays and booleans reach ParseQuantity as their JSON text, and fail there. */
	return error_set(err, KORCH_EINVALID, MSG_FORMAT);
}

int
quantity_cmp(const struct quantity *a, const struct quantity *b)
{
	return a->nano < b->nano ? -1 : a->nano > b->nano ? 1 : 0;
}

/* nano / divisor rounded away from zero, saturated to int64. */
static int64_t
scaled_away(__int128 nano, int64_t divisor)
{
	__int128 v = nano / divisor;
	if (nano % divisor != 0)
		v += nano > 0 ? 1 : -1;
	if (v > INT64_MAX)
		return INT64_MAX;
	if (v < INT64_MIN)
		return INT64_MIN;
	return (int64_t)v;
}

int64_t
quantity_value(const struct quantity *q)
{
	return scaled_away(q->nano, NANO_PER_UNIT);
}

int64_t
quantity_milli_value(const struct quantity *q)
{
	return scaled_away(q->nano, 1000000);
}

/* Writes the decimal digits of v (any sign) at o; returns the byte count. */
static int
put_int128(char *o, __int128 v)
{
	char tmp[48];
	int n = 0;
	unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	do {
		tmp[n++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u);
	int len = 0;
	if (v < 0)
		o[len++] = '-';
	while (n)
		o[len++] = tmp[--n];
	o[len] = '\0';
	return len;
}

/* CanonicalizeBytes for decimal formats: mantissa without trailing zeros, exponent floored
 * to a multiple of three. */
static int
format_decimal(__int128 nano, enum quantity_format format, char *buf)
{
	__int128 m = nano;
	int e = -9;
	while (m % 10 == 0) {
		m /= 10;
		e++;
	}
	while (((e % 3) + 3) % 3 != 0) {
		m *= 10;
		e--;
	}
	int len = put_int128(buf, m);
	if (format == QUANTITY_DECIMAL_EXPONENT) {
		if (e != 0)
			len += sprintf(buf + len, "e%d", e);
		return len;
	}
	static const char *const si[] = { "n", "u", "m", "", "k", "M", "G", "T", "P", "E" };
	int idx = (e + 9) / 3;
	/* Past E Kubernetes finds no suffix and prints the mantissa alone ("1000E" -> "1"). */
	if (idx >= 0 && idx < (int)(sizeof(si) / sizeof(si[0])))
		len += sprintf(buf + len, "%s", si[idx]);
	return len;
}

int
quantity_format(const struct quantity *q, char buf[static 64])
{
	if (q->text[0]) {
		size_t n = strnlen(q->text, sizeof(q->text) - 1);
		memcpy(buf, q->text, n);
		buf[n] = '\0';
		return (int)n;
	}
	if (q->nano == 0) {
		strcpy(buf, "0");
		return 1;
	}
	enum quantity_format format = q->format;
	if (format == QUANTITY_BINARY_SI) {
		__int128 unit = (__int128)1024 * NANO_PER_UNIT;
		if ((q->nano > -unit && q->nano < unit) || q->nano % NANO_PER_UNIT != 0)
			format = QUANTITY_DECIMAL_SI;
	}
	if (format != QUANTITY_BINARY_SI)
		return format_decimal(q->nano, format, buf);
	static const char *const bin[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
	__int128 v = q->nano / NANO_PER_UNIT;
	int times = 0;
	while ((v >= 1024 || v <= -1024) && v % 1024 == 0) {
		v /= 1024;
		times++;
	}
	int len = put_int128(buf, v);
	if (times < (int)(sizeof(bin) / sizeof(bin[0])))
		len += sprintf(buf + len, "%s", bin[times]);
	return len;
}
