/*
 * yaml-resolve.c - what a plain YAML scalar means, by the rules Kubernetes' YAML path uses
 * (sigs.k8s.io/yaml over go-yaml v2: its resolve table, strconv's number syntax and
 * time.Parse's timestamp layouts), and Go's float formatting for the way back.
 *
 * The decoder and the encoder both go through yaml_resolve_plain(), so a string the encoder
 * writes plain always reads back as that string.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec-internal.h"
#include "base/util.h"

/* Numbers are read and written in the C locale whatever the embedding program set. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void
c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t
get_c_locale(void)
{
	pthread_once(&c_locale_once, c_locale_init);
	return c_locale;
}

/* go-yaml v2's resolve map: the exact spellings, nothing case-insensitive beyond these. */
static const struct {
	const char *text;
	enum yaml_type type;
	bool b;
	double f;
} resolve_words[] = {
	{ "y", YAML_T_BOOL, true, 0 },
	{ "Y", YAML_T_BOOL, true, 0 },
	{ "yes", YAML_T_BOOL, true, 0 },
	{ "Yes", YAML_T_BOOL, true, 0 },
	{ "YES", YAML_T_BOOL, true, 0 },
	{ "true", YAML_T_BOOL, true, 0 },
	{ "True", YAML_T_BOOL, true, 0 },
	{ "TRUE", YAML_T_BOOL, true, 0 },
	{ "on", YAML_T_BOOL, true, 0 },
	{ "On", YAML_T_BOOL, true, 0 },
	{ "ON", YAML_T_BOOL, true, 0 },
	{ "n", YAML_T_BOOL, false, 0 },
	{ "N", YAML_T_BOOL, false, 0 },
	{ "no", YAML_T_BOOL, false, 0 },
	{ "No", YAML_T_BOOL, false, 0 },
	{ "NO", YAML_T_BOOL, false, 0 },
	{ "false", YAML_T_BOOL, false, 0 },
	{ "False", YAML_T_BOOL, false, 0 },
	{ "FALSE", YAML_T_BOOL, false, 0 },
	{ "off", YAML_T_BOOL, false, 0 },
	{ "Off", YAML_T_BOOL, false, 0 },
	{ "OFF", YAML_T_BOOL, false, 0 },
	{ "~", YAML_T_NULL, false, 0 },
	{ "null", YAML_T_NULL, false, 0 },
	{ "Null", YAML_T_NULL, false, 0 },
	{ "NULL", YAML_T_NULL, false, 0 },
	{ ".nan", YAML_T_INFNAN, false, NAN },
	{ ".NaN", YAML_T_INFNAN, false, NAN },
	{ ".NAN", YAML_T_INFNAN, false, NAN },
	{ ".inf", YAML_T_INFNAN, false, INFINITY },
	{ ".Inf", YAML_T_INFNAN, false, INFINITY },
	{ ".INF", YAML_T_INFNAN, false, INFINITY },
	{ "+.inf", YAML_T_INFNAN, false, INFINITY },
	{ "+.Inf", YAML_T_INFNAN, false, INFINITY },
	{ "+.INF", YAML_T_INFNAN, false, INFINITY },
	{ "-.inf", YAML_T_INFNAN, false, -INFINITY },
	{ "-.Inf", YAML_T_INFNAN, false, -INFINITY },
	{ "-.INF", YAML_T_INFNAN, false, -INFINITY },
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$, go-yaml's yamlStyleFloat. */
static bool
match_yaml_float(const char *s, size_t len)
{
	size_t i = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i < len && s[i] == '.') {
		i++;
		size_t start = i;
		while (i < len && is_digit(s[i]))
			i++;
		if (i == start)
			return false;
	} else {
		size_t start = i;
		while (i < len && is_digit(s[i]))
			i++;
		if (i == start)
			return false;
		if (i < len && s[i] == '.') {
			i++;
			while (i < len && is_digit(s[i]))
				i++;
		}
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		size_t start = i;
		while (i < len && is_digit(s[i]))
			i++;
		if (i == start)
			return false;
	}
	return i == len;
}

/* ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$, go-yaml v2's base60float. */
static bool
match_base60(const char *s, size_t len)
{
	size_t i = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i == len || !is_digit(s[i]))
		return false;
	while (i < len && (is_digit(s[i]) || s[i] == '_'))
		i++;
	size_t groups = 0;
	while (i < len && s[i] == ':') {
		i++;
		/* [0-5]?[0-9]: one digit, or two with the first at most 5. */
		if (i + 1 < len && s[i] >= '0' && s[i] <= '5' && is_digit(s[i + 1]))
			i += 2;
		else if (i < len && is_digit(s[i]))
			i++;
		else
			return false;
		groups++;
	}
	if (groups == 0)
		return false;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && (is_digit(s[i]) || s[i] == '_'))
			i++;
	}
	return i == len;
}

static int
digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/*
 * strconv.ParseInt(s, 0, 64) on text without underscores: an optional sign, then 0x / 0o / 0b
 * prefixes or a leading 0 for octal. Returns 0 with the value, 1 when the syntax is that of an
 * integer but the value does not fit int64, -1 when it is not an integer.
 */
static int
parse_go_int(const char *s, size_t len, int64_t *ret)
{
	size_t i = 0;
	bool neg = false;
	if (len == 0)
		return -1;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i++;
	}
	if (i == len)
		return -1;
	unsigned base = 10;
	if (s[i] == '0') {
		char p = (char)(i + 1 < len ? s[i + 1] | 0x20 : 0);
		if (len - i >= 3 && (p == 'b' || p == 'o' || p == 'x')) {
			base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
			i += 2;
		} else {
			base = 8;
			i += 1;
		}
	}
	uint64_t n = 0;
	bool overflow = false;
	for (; i < len; i++) {
		int d = digit_value(s[i]);
		if (d >= (int)base)
			return -1;
		if (n > (UINT64_MAX - (uint64_t)d) / base)
			overflow = true;
		else
			n = n * base + (uint64_t)d;
	}
	if (overflow)
		return 1;
	if (neg) {
		if (n > (uint64_t)INT64_MAX + 1)
			return 1;
		*ret = n == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)n;
	} else {
		if (n > (uint64_t)INT64_MAX)
			return 1;
		*ret = (int64_t)n;
	}
	return 0;
}

/*
 * Reads a float that matched match_yaml_float(). Returns 0, 1 when it overflows double (Go's
 * ErrRange, after which go-yaml keeps the text as a string), or KORCH_ENOMEM.
 */
static int
parse_float(const char *s, size_t len, double *ret)
{
	char small[64];
	char *buf = len < sizeof(small) ? small : malloc(len + 1);
	if (!buf)
		return KORCH_ENOMEM;
	memcpy(buf, s, len);
	buf[len] = '\0';
	locale_t c = get_c_locale();
	/* Without a C locale object (out of memory at first use) the process's locale is used. */
	double v = c ? strtod_l(buf, NULL, c) : strtod(buf, NULL);
	if (buf != small)
		free(buf);
	if (isinf(v))
		return 1;
	*ret = v;
	return 0;
}

/* Go's time getnum(value, false): one or two digits. Returns the digits used, 0 on failure. */
static size_t
get_num(const char *s, size_t len, int *ret)
{
	if (len == 0 || !is_digit(s[0]))
		return 0;
	if (len >= 2 && is_digit(s[1])) {
		*ret = (s[0] - '0') * 10 + (s[1] - '0');
		return 2;
	}
	*ret = s[0] - '0';
	return 1;
}

static int
days_in(int month, int year)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
		return 29;
	return days[month - 1];
}

/* The clock part "15:4:5.999999999" of go-yaml's layouts; returns bytes used or 0. */
static size_t
parse_clock(const char *s, size_t len)
{
	size_t i = 0, n;
	int hour, minute, second;
	if (!(n = get_num(s, len, &hour)) || hour > 23)
		return 0;
	i += n;
	if (i >= len || s[i] != ':')
		return 0;
	i++;
	if (!(n = get_num(s + i, len - i, &minute)) || minute > 59)
		return 0;
	i += n;
	if (i >= len || s[i] != ':')
		return 0;
	i++;
	if (!(n = get_num(s + i, len - i, &second)) || second > 59)
		return 0;
	i += n;
	if (i + 1 < len && (s[i] == '.' || s[i] == ',') && is_digit(s[i + 1])) {
		i++;
		while (i < len && is_digit(s[i]))
			i++;
	}
	return i;
}

bool
yaml_is_timestamp(const char *s, size_t len)
{
	/* "2006-1-2T15:4:5.999999999Z07:00", the same with "t", "2006-1-2 15:4:5.999999999",
	 * "2006-1-2". */
	if (len < 8)
		return false;
	for (size_t k = 0; k < 4; k++)
		if (!is_digit(s[k]))
			return false;
	if (s[4] != '-')
		return false;
	int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	size_t i = 5, n;
	int month, day;
	if (!(n = get_num(s + i, len - i, &month)) || month < 1 || month > 12)
		return false;
	i += n;
	if (i >= len || s[i] != '-')
		return false;
	i++;
	if (!(n = get_num(s + i, len - i, &day)) || day < 1 || day > days_in(month, year))
		return false;
	i += n;
	if (i == len)
		return true;
	char sep = s[i++];
	if (sep != 'T' && sep != 't' && sep != ' ')
		return false;
	if (!(n = parse_clock(s + i, len - i)))
		return false;
	i += n;
	if (sep == ' ')
		return i == len;
	if (i < len && s[i] == 'Z')
		return i + 1 == len;
	/* ±hh:mm */
	if (len - i != 6 || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':')
		return false;
	if (!is_digit(s[i + 1]) || !is_digit(s[i + 2]) || !is_digit(s[i + 4]) ||
	    !is_digit(s[i + 5]))
		return false;
	int hh = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	int mm = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
	return hh <= 24 && mm <= 60;
}

/* The 'D' and 'S' branch of go-yaml's resolve: timestamp, integer, float, or string. */
static int
resolve_number(const char *s, size_t len, struct yaml_scalar *ret)
{
	if (yaml_is_timestamp(s, len)) {
		ret->type = YAML_T_TIMESTAMP;
		return 0;
	}
	/* Underscores are dropped before the number is read. */
	char small[64];
	char *plain = len < sizeof(small) ? small : malloc(len + 1);
	if (!plain)
		return KORCH_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] != '_')
			plain[n++] = s[i];
	plain[n] = '\0';

	int64_t v;
	int r = 0;
	int syntax = parse_go_int(plain, n, &v);
	if (syntax == 0) {
		ret->type = YAML_T_INT;
		ret->i = v;
	} else if (syntax > 0) {
		ret->type = YAML_T_RANGE;
	} else if (match_yaml_float(plain, n)) {
		r = parse_float(plain, n, &ret->f);
		if (r == 0)
			ret->type = YAML_T_FLOAT;
	}
	if (plain != small)
		free(plain);
	return r < 0 ? r : 0;
}

int
yaml_resolve_plain(const char *s, size_t len, struct yaml_scalar *ret)
{
	*ret = (struct yaml_scalar){ .type = YAML_T_STR };
	if (len == 0) {
		ret->type = YAML_T_NULL;
		return 0;
	}
	char c = s[0];
	bool sign_or_digit = c == '+' || c == '-' || is_digit(c);
	if (!sign_or_digit && c != '.' && !strchr("yYnNtTfFoO~", c))
		return 0;
	for (size_t k = 0; k < ARRAY_SIZE(resolve_words); k++) {
		if (strlen(resolve_words[k].text) == len &&
		    memcmp(resolve_words[k].text, s, len) == 0) {
			ret->type = resolve_words[k].type;
			ret->b = resolve_words[k].b;
			ret->f = resolve_words[k].f;
			return 0;
		}
	}
	if (c == '.' && match_yaml_float(s, len)) {
		int r = parse_float(s, len, &ret->f);
		if (r < 0)
			return r;
		if (r == 0)
			ret->type = YAML_T_FLOAT;
	} else if (sign_or_digit) {
		return resolve_number(s, len, ret);
	}
	return 0;
}

bool
yaml_plain_is_string(const char *s, size_t len)
{
	struct yaml_scalar sc;
	if (yaml_resolve_plain(s, len, &sc) < 0 || sc.type != YAML_T_STR)
		return false;
	if (len == 2 && s[0] == '<' && s[1] == '<')
		return false;
	return !match_base60(s, len);
}

void
yaml_format_float(double v, int bits, char buf[static 40])
{
	if (bits == 32)
		v = (float)v;
	if (isnan(v)) {
		strcpy(buf, ".nan");
		return;
	}
	if (isinf(v)) {
		strcpy(buf, v > 0 ? ".inf" : "-.inf");
		return;
	}
	if (v == 0) {
		strcpy(buf, signbit(v) ? "-0" : "0");
		return;
	}
	locale_t c = get_c_locale();
	locale_t old = c ? uselocale(c) : (locale_t)0;
	/* The fewest significant digits that read back as the same value. */
	int digits;
	for (digits = 1; digits < 17; digits++) {
		snprintf(buf, 40, "%.*e", digits - 1, v);
		if (bits == 32 ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
			break;
	}
	snprintf(buf, 40, "%.*e", digits - 1, v);
	const char *e = strchr(buf, 'e');
	int exp = e ? atoi(e + 1) : 0;
	/* Go's %g with the shortest precision: exponent form below 1e-4 and from 1e6 on. */
	if (exp >= -4 && exp < 6) {
		int decimals = digits - (exp + 1);
		snprintf(buf, 40, "%.*f", decimals > 0 ? decimals : 0, v);
	}
	if (c)
		uselocale(old);
}

json_t *
yaml_scalar_json(const struct yaml_scalar *sc, const char *text, size_t len)
{
	switch (sc->type) {
	case YAML_T_NULL: return json_null();
	case YAML_T_BOOL: return json_boolean(sc->b);
	case YAML_T_INT: return json_integer(sc->i);
	case YAML_T_FLOAT:
		/*
		 * Kubernetes sees this float through Go's JSON encoder, which writes an integral
		 * value without a fraction ("1e3" becomes 1000), and reads it back as an integer.
		 */
		if (sc->f == trunc(sc->f) && sc->f >= -9223372036854775808.0 &&
		    sc->f < 9223372036854775808.0)
			return json_integer((json_int_t)sc->f);
		return json_real(sc->f);
	case YAML_T_STR:
	case YAML_T_TIMESTAMP: return json_stringn(text, len);
	case YAML_T_INFNAN:
	case YAML_T_RANGE: break;
	}
	return NULL;
}
